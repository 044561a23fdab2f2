/* A sending channel instance (MCA): one per (channel, epoch) owned by this
 * member. See docs/channels.md for the protocol.
 *
 *   connect (CONNAME list in turn) -> CHP_START -> resolve the in-doubt
 *   batch from the receiver's last sequence number (CH_SETTLE) -> CAS
 *   STARTING->RUNNING -> run: CH_GETBATCH, send the batch (the last message
 *   asks for commit and confirmation), up to PIPELINE batches unconfirmed;
 *   each confirmation -> CH_SETTLE (commit the gets).
 *
 * A communications failure: CAS ->RETRYING, wait SHORTTMR (LONGTMR after
 * SHORTRTY attempts), then CAS ->STARTING with epoch+1 on a member chosen
 * by load; this instance ends there. A batch the receiver refuses in part:
 * the refused messages go to the dead-letter queue (USEDLQ and a DEADQ) or
 * are held back and retried alone later; the rest is sent again. */
#include "chsdr.h"

#include <stdlib.h>
#include <string.h>

#include "chcore.h"
#include "qsgd/net.h"

#define CONNECT_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 10000
#define TICK_MS 250
#define MAX_CONN 8
#define BATCH_MAX_BYTES (8u * 1024 * 1024)
#define HOLD_MS 5000
#define RETRY_SOON_MS 200

enum phase {
	P_CONNECT = 1,
	P_HANDSHAKE,
	P_RESOLVE,
	P_BIND,
	P_RUN,
	P_WAIT_RETRY,
	P_DEAD,
};

struct chsdr;

struct sconn {
	struct stream st;
	uv_connect_t creq;
	struct chsdr *s;
};

struct chsdr {
	struct chhost *h;
	struct chsdr *next;
	char name[FSM_CHNAME_MAX + 1];
	uint64_t epoch;
	struct fsm_chattrs def;
	int phase;
	unsigned refs; /* 1 while alive + submissions in flight + open handles */
	/* connection: a new sconn per attempt (a closing one frees itself) */
	struct sconn *conn_cur;
	struct stream *st; /* &conn_cur->st while st_open */
	bool st_open;
	uv_timer_t timer;
	bool timer_open;
	char conn[MAX_CONN][FSM_ADDR_MAX + 1];
	unsigned nconn, conn_idx;
	uint64_t phase_start; /* uv_now */
	/* negotiated */
	uint32_t batchsz, pipeline, hbint_s, maxmsgl;
	int comp;
	/* running: batches in flight, confirmed and settled (chcore) */
	struct chcore_pipe pipe;
	bool get_inflight;
	bool idle; /* last GETBATCH found nothing */
	bool settle_inflight;
	uint64_t luwid;
	struct qsg_wbuf disp; /* dispositions of the refused messages */
	uint32_t ndisp;
	bool stopping;
	uint64_t last_send, last_recv, idle_since;
	bool idle_disc; /* ended by DISCINT: restart when messages arrive */
	bool hb_outstanding;
	bool retry_inflight;
	uint64_t settle_retry_at;
	uint64_t get_retry_at; /* no leader: get again at this time */
	/* The batch being built. Its messages are written as they are got,
	 * except the last of each get, which is held back (one copy per get)
	 * so that it can carry the commit request if the batch closes there
	 * (BATCHSZ reached, BATCHINT expired, or at once when BATCHINT is 0).
	 * The receiver collects frames until the commit request. */
	bool open;
	uint64_t open_first;
	uint32_t open_n;
	uint64_t open_since;
	bool has_held;
	struct chp_msg held;
	struct qsg_wbuf held_data;
	uv_timer_t btimer;
	bool btimer_open;
};

static void fail(struct chsdr *s, const char *why);
static void pump(struct chsdr *s);
static void close_batch(struct chsdr *s);
static void settle_pump(struct chsdr *s);
static void getbatch_done(void *arg, int status, const void *result, size_t len);
static void sdr_bind(struct chsdr *s);

const char *chsdr_name(const struct chsdr *s)
{
	return s->name;
}

uint64_t chsdr_epoch(const struct chsdr *s)
{
	return s->epoch;
}

struct chsdr *chsdr_next(const struct chsdr *s)
{
	return s->next;
}

static uint64_t now_ms(struct chsdr *s)
{
	return uv_now(s->h->d->loop);
}

static void release(struct chsdr *s)
{
	if (--s->refs > 0)
		return;
	struct chhost *h = s->h;
	qsg_wbuf_close(&s->disp);
	qsg_wbuf_close(&s->held_data);
	free(s);
	chhost_unref(h);
}

static void unlink_sdr(struct chsdr *s)
{
	for (struct chsdr **pp = &s->h->sdrs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

static void st_closed(struct stream *st)
{
	struct sconn *c = (struct sconn *)st;
	struct chsdr *s = c->s;
	if (s->conn_cur == c)
		s->conn_cur = NULL;
	free(c);
	release(s);
}

static void timer_closed(uv_handle_t *h)
{
	release(h->data);
}

static void drop_open(struct chsdr *s)
{
	s->open = false;
	s->open_n = 0;
	s->has_held = false;
	if (s->btimer_open)
		uv_timer_stop(&s->btimer);
}

static void close_conn(struct chsdr *s)
{
	drop_open(s);
	if (s->st_open) {
		s->st_open = false;
		stream_close(s->st);
	}
	chcore_pipe_drop(&s->pipe);
	s->get_inflight = false;
	s->hb_outstanding = false;
}

static void die(struct chsdr *s)
{
	if (s->phase == P_DEAD)
		return;
	s->phase = P_DEAD;
	unlink_sdr(s);
	close_conn(s);
	if (s->timer_open) {
		s->timer_open = false;
		uv_close((uv_handle_t *)&s->timer, timer_closed);
	}
	if (s->btimer_open) {
		s->btimer_open = false;
		uv_close((uv_handle_t *)&s->btimer, timer_closed);
	}
	release(s);
}

void chsdr_abort(struct chsdr *s, const char *why)
{
	if (s->phase == P_DEAD)
		return;
	QLOG_INFO_(s->h->d->log, "QSG5030I", "channel %s (epoch %llu) ended: %s", s->name,
		   (unsigned long long)s->epoch, why);
	die(s);
}

/* Our entry, if it still names this instance. */
static bool entry(struct chsdr *s, struct fsm_chstatus *st)
{
	if (fsm_chstatus_get(s->h->d->fsm, s->name, "", st) != QSG_OK)
		return false;
	return st->img.exists && st->img.owner == s->h->d->cfg->id && st->img.epoch == s->epoch;
}

/* ---- submissions ---- */

/* A CH_GETBATCH or CH_SETTLE in flight (settle: which kind, up to where). */
struct ssub {
	struct chsdr *s;
	struct chcore_settle settle;
};

static struct ssub *ssub_new(struct chsdr *s)
{
	struct ssub *x = calloc(1, sizeof *x);
	if (x == NULL)
		return NULL;
	x->s = s;
	s->refs++;
	return x;
}

static void ssub_free(struct ssub *x)
{
	struct chsdr *s = x->s;
	free(x);
	release(s);
}

static int submit(struct chsdr *s, const struct fsm_cmd *cmd, qsgd_done_cb cb, struct ssub *x)
{
	int rc = qsgd_submit(s->h->d, cmd, cb, x);
	if (rc != QSG_OK)
		ssub_free(x);
	return rc;
}

static void base_cmd(struct chsdr *s, struct fsm_cmd *cmd, uint8_t op)
{
	memset(cmd, 0, sizeof *cmd);
	cmd->op = op;
	snprintf(cmd->ch.name, sizeof cmd->ch.name, "%s", s->name);
	cmd->ch.member_id = s->h->d->cfg->id;
	cmd->ch.epoch = s->epoch;
}

/* ---- status changes made by the instance ---- */

struct cas_sub {
	struct chsdr *s;
	struct fsm_chimage before, after;
	char reason[FSM_REASON_MAX + 1];
	void (*then)(struct chsdr *s, int rc);
};

static void cas_done(void *arg, int status, const void *result, size_t len)
{
	struct cas_sub *c = arg;
	struct chsdr *s = c->s;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE];
	int rc = status;
	if (status == QSG_OK) {
		rc = fsm_result_decode(FSM_OP_CHST_CAS, result, len, &res, errmsg);
		if (rc == QSG_OK)
			rc = res.rc;
	}
	if (rc == QSG_OK)
		chhost_log_change(s->h, s->name, "", &c->before, &c->after, c->reason);
	if (c->then != NULL && s->phase != P_DEAD)
		c->then(s, rc);
	free(c);
	release(s);
}

static void cas(struct chsdr *s, const struct fsm_chimage *before, const struct fsm_chimage *after,
		const char *reason, void (*then)(struct chsdr *s, int rc))
{
	struct cas_sub *c = calloc(1, sizeof *c);
	if (c == NULL) {
		if (then != NULL)
			then(s, QSG_RC_STORAGE_NOT_AVAILABLE);
		return;
	}
	c->s = s;
	c->before = *before;
	c->after = *after;
	c->then = then;
	snprintf(c->reason, sizeof c->reason, "%s", reason);
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_CHST_CAS;
	snprintf(cmd.ch.name, sizeof cmd.ch.name, "%s", s->name);
	cmd.ch.chltype = FSM_CHL_SDR;
	cmd.ch.before = *before;
	cmd.ch.after = *after;
	snprintf(cmd.ch.reason, sizeof cmd.ch.reason, "%s", reason);
	if (s->conn_idx < s->nconn)
		snprintf(cmd.ch.conname, sizeof cmd.ch.conname, "%s", s->conn[s->conn_idx]);
	s->refs++;
	int rc = qsgd_submit(s->h->d, &cmd, cas_done, c);
	if (rc != QSG_OK) {
		free(c);
		s->refs--;
		if (then != NULL)
			then(s, rc);
	}
}

/* ---- retry ---- */

static void retry_moved(struct chsdr *s, int rc)
{
	(void)rc; /* whatever happened, reconciliation takes it from here */
	die(s);
}

static void retry_fire(struct chsdr *s)
{
	struct fsm_chstatus st;
	if (s->retry_inflight)
		return;
	if (!entry(s, &st) || st.img.state != FSM_CHS_RETRYING) {
		chsdr_abort(s, "status changed while waiting to retry");
		return;
	}
	uint32_t target = chcore_view_retry_target(s->h->d->fsm, s->h->d->cfg->id);
	struct fsm_chimage after = st.img;
	after.owner = target;
	after.state = FSM_CHS_STARTING;
	after.epoch = st.img.epoch + 1;
	char why[256], nm[FSM_NAME_MAX + 16];
	snprintf(why, sizeof why, "%s on %s", s->idle_disc ? "messages arrived: restart" : "retry",
		 chhost_member_name(s->h, target, nm, sizeof nm));
	s->retry_inflight = true;
	cas(s, &st.img, &after, why, retry_moved);
}

static void retrying_set(struct chsdr *s, int rc)
{
	if (rc == QSG_RC_CAS_FAILED || rc == QSG_RC_CHANNEL_FENCED) {
		chsdr_abort(s, "status changed by someone else");
		return;
	}
	/* Not recorded (no quorum?): the timer tries again. */
}

static void fail(struct chsdr *s, const char *why)
{
	if (s->phase == P_DEAD || s->phase == P_WAIT_RETRY)
		return;
	close_conn(s);
	struct fsm_chstatus st;
	if (!entry(s, &st)) {
		chsdr_abort(s, why);
		return;
	}
	if (st.img.state == FSM_CHS_STOPPED) {
		chsdr_abort(s, "stopped");
		return;
	}
	struct chretry *r = chhost_retry(s->h, s->name);
	unsigned count = r != NULL ? ++r->count : 1;
	uint64_t delay_s;
	if (!chcore_retry_delay(count, &s->def, &delay_s)) {
		QLOG_WARNING(s->h->d->log, "QSG5031W",
			     "channel %s: retries exhausted (%u); stopping it: %s", s->name,
			     count - 1, why);
		struct fsm_chimage after = st.img;
		after.state = FSM_CHS_STOPPED;
		cas(s, &st.img, &after, "retries exhausted", retry_moved);
		s->phase = P_WAIT_RETRY;
		return;
	}
	QLOG_WARNING(s->h->d->log, "QSG5032W", "channel %s (epoch %llu): %s; retry %u in %llu s",
		     s->name, (unsigned long long)s->epoch, why, count,
		     (unsigned long long)delay_s);
	s->phase = P_WAIT_RETRY;
	s->phase_start = now_ms(s) + delay_s * 1000;
	if (st.img.state != FSM_CHS_RETRYING) {
		struct fsm_chimage after = st.img;
		after.state = FSM_CHS_RETRYING;
		char reason[FSM_REASON_MAX + 1];
		snprintf(reason, sizeof reason, "%s", why);
		cas(s, &st.img, &after, reason, retrying_set);
	}
}

/* ---- sending ---- */

static void send_end(struct chsdr *s, int rc, const char *text)
{
	if (!s->st_open)
		return;
	chp_end_encode(&s->st->out, rc, text);
	stream_mark(s->st);
}

static void graceful_end(struct chsdr *s, const char *why)
{
	if (s->st_open) {
		send_end(s, QSG_OK, why);
		s->st_open = false;
		stream_close_after_write(s->st);
	}
	chsdr_abort(s, why);
}

static void maybe_finish_stop(struct chsdr *s)
{
	if (s->stopping && s->open && !s->get_inflight)
		close_batch(s);
	if (s->stopping && s->pipe.n == 0 && !s->get_inflight && !s->settle_inflight && !s->open &&
	    s->pipe.settled >= s->pipe.confirmed)
		graceful_end(s, "stopped by operator");
}

/* Add one message to the open batch. A held message goes out first; the
 * last message of a get is held (copied), the others are written at once. */
static void add_to_batch(struct chsdr *s, const struct chp_msg *cm, bool last_of_get)
{
	if (s->has_held) {
		chp_msg_encode(&s->st->out, &s->held, s->comp);
		s->has_held = false;
	}
	if (!s->open) {
		s->open = true;
		s->open_first = cm->seq;
		s->open_n = 0;
		s->open_since = now_ms(s);
		s->luwid++;
	}
	s->open_n++;
	if (!last_of_get) {
		chp_msg_encode(&s->st->out, cm, s->comp);
		return;
	}
	qsg_wbuf_reset(&s->held_data);
	qsg_put_bytes(&s->held_data, cm->msg.props.p, cm->msg.props.len);
	qsg_put_bytes(&s->held_data, cm->msg.body.p, cm->msg.body.len);
	s->held = *cm;
	s->held.msg.props.p = s->held_data.data;
	s->held.msg.body.p = s->held_data.data + cm->msg.props.len;
	s->has_held = true;
}

/* Close the open batch: the held message carries the commit request. */
static void close_batch(struct chsdr *s)
{
	if (!s->open || !s->has_held || !s->st_open)
		return;
	s->held.mflags = CHP_M_LAST;
	s->held.luwid = (s->epoch << 32) | (s->luwid & 0xffffffffu);
	chp_msg_encode(&s->st->out, &s->held, s->comp);
	stream_mark(s->st);
	s->last_send = now_ms(s);
	chcore_pipe_push(&s->pipe, s->open_first, s->held.seq);
	s->open = false;
	s->open_n = 0;
	s->has_held = false;
	if (s->btimer_open)
		uv_timer_stop(&s->btimer);
}

static void on_btimer(uv_timer_t *t)
{
	struct chsdr *s = t->data;
	if (s->phase == P_RUN && s->open) {
		close_batch(s);
		pump(s);
		maybe_finish_stop(s);
	}
}

static void getbatch_done_body(void *arg, int status, const void *result, size_t len)
{
	struct ssub *x = arg;
	struct chsdr *s = x->s;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	s->get_inflight = false;
	if (s->phase != P_RUN) {
		ssub_free(x);
		return;
	}
	if (status == QSG_RC_NO_LEADER || status == QSG_RC_NOT_LEADER) {
		/* Not applied: the status table (and the xmitq with it) is out of
		 * reach for now. Keep the connection (heartbeats go on) and ask
		 * again; the lease fences this member if it lasts. */
		s->get_retry_at = now_ms(s) + RETRY_SOON_MS;
		ssub_free(x);
		return;
	}
	if (status != QSG_OK) {
		/* Outcome unknown: some messages may now be locked to us with
		 * sequence numbers we do not know. Reconnect: the handshake
		 * resolves them from the receiver's state. */
		if (status == QSG_RC_OUTCOME_UNKNOWN)
			fail(s, "status table: outcome of a get unknown");
		else
			fail(s, "status table unreachable");
		ssub_free(x);
		return;
	}
	int rc = fsm_result_decode(FSM_OP_CH_GETBATCH, result, len, &res, errmsg);
	if (rc == QSG_OK)
		rc = res.rc;
	if (rc == QSG_RC_CHANNEL_FENCED || rc == QSG_RC_CHANNEL_STOPPED) {
		struct fsm_chstatus st;
		bool mine = entry(s, &st);
		chsdr_entry_changed(s, mine ? &st : NULL, mine);
		ssub_free(x);
		return;
	}
	if (rc != QSG_OK) {
		fail(s, qsg_rc_text(rc));
		ssub_free(x);
		return;
	}
	if (res.ch.count == 0) {
		if (s->open && now_ms(s) - s->open_since >= s->def.batchint)
			close_batch(s);
		s->idle = true;
		if (s->idle_since == 0)
			s->idle_since = now_ms(s);
		ssub_free(x);
		maybe_finish_stop(s);
		return;
	}
	s->idle = false;
	s->idle_since = 0;
	struct fsm_chiter it;
	fsm_chiter_result(&it, &res.ch);
	int64_t wall = qsgd_wall_ms();
	uint32_t n = 0;
	for (;;) {
		uint64_t seq;
		struct fsm_msg m;
		int done = 0;
		if (fsm_chiter_batch(&it, &seq, &m, &done) != QSG_OK) {
			fail(s, "undecodable batch from the state machine");
			ssub_free(x);
			return;
		}
		if (done)
			break;
		struct chp_msg cm;
		memset(&cm, 0, sizeof cm);
		cm.seq = seq;
		cm.luwid = (s->epoch << 32) | (s->luwid & 0xffffffffu);
		struct fsm_xqh h;
		size_t hl = 0;
		cm.msg = m;
		if (fsm_xqh_decode(m.body.p, m.body.len, &h, &hl) == QSG_OK) {
			snprintf(cm.rqmname, sizeof cm.rqmname, "%s", h.rqmname);
			snprintf(cm.rname, sizeof cm.rname, "%s", h.rname);
			cm.msg.body.p = (const uint8_t *)m.body.p + hl;
			cm.msg.body.len = m.body.len - hl;
		}
		if (m.expiry_ms != 0)
			cm.msg.expiry_ms = m.expiry_ms > wall ? m.expiry_ms - wall : 1;
		add_to_batch(s, &cm, n + 1 == res.ch.count);
		n++;
	}
	ssub_free(x);
	if (n == 0 || n != res.ch.count) {
		fail(s, "batch count mismatch");
		return;
	}
	stream_mark(s->st);
	uint64_t now = now_ms(s);
	if (s->def.batchint == 0 || s->open_n >= s->batchsz ||
	    now - s->open_since >= s->def.batchint)
		close_batch(s);
	else if (s->btimer_open && !uv_is_active((uv_handle_t *)&s->btimer))
		uv_timer_start(&s->btimer, on_btimer, s->open_since + s->def.batchint - now, 0);
	pump(s);
}

static void pump(struct chsdr *s)
{
	if (s->phase != P_RUN || s->get_inflight || s->pipe.refusing || s->stopping || !s->st_open)
		return;
	if (s->pipe.n >= s->pipeline)
		return;
	if (s->get_retry_at != 0 && now_ms(s) < s->get_retry_at)
		return;
	s->get_retry_at = 0;
	struct ssub *x = ssub_new(s);
	if (x == NULL)
		return;
	struct fsm_cmd cmd;
	base_cmd(s, &cmd, FSM_OP_CH_GETBATCH);
	cmd.ch.max_msgs = s->batchsz - s->open_n;
	cmd.ch.max_bytes = BATCH_MAX_BYTES;
	s->get_inflight = true;
	if (submit(s, &cmd, getbatch_done, x) != QSG_OK)
		s->get_inflight = false;
}

/* The submission's reference (ssub) is dropped part way through these
 * completions; an extra reference keeps the sender alive until they return
 * (a settle completing after the sender ended read freed memory: ASan). */
static void getbatch_done(void *arg, int status, const void *result, size_t len)
{
	struct chsdr *s = ((struct ssub *)arg)->s;
	s->refs++;
	getbatch_done_body(arg, status, result, len);
	release(s);
}

/* ---- settling ---- */

static void settle_done_body(void *arg, int status, const void *result, size_t len)
{
	struct ssub *x = arg;
	struct chsdr *s = x->s;
	struct chcore_settle k = x->settle;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	s->settle_inflight = false;
	ssub_free(x);
	if (s->phase == P_DEAD)
		return;
	int rc = status;
	if (status == QSG_OK) {
		rc = fsm_result_decode(FSM_OP_CH_SETTLE, result, len, &res, errmsg);
		if (rc == QSG_OK)
			rc = res.rc;
	}
	if (k.kind == CHSETTLE_RESOLVE && s->phase != P_RESOLVE)
		k.kind = CHSETTLE_CONFIRMED; /* the instance moved on meanwhile */
	switch (chcore_pipe_settled(&s->pipe, &k, rc)) {
	case CHSETTLED_ABORT:
		chsdr_abort(s, "superseded by a newer instance");
		return;
	case CHSETTLED_FAIL:
		fail(s, "cannot resolve the in-doubt batch");
		return;
	case CHSETTLED_BIND:
		sdr_bind(s);
		return;
	case CHSETTLED_RETRY:
		/* Not applied or unknown: settling is idempotent; try again. */
		s->settle_retry_at = now_ms(s) + RETRY_SOON_MS;
		return;
	case CHSETTLED_DONE:
		break;
	}
	if (k.kind == CHSETTLE_REFUSED) {
		if (res.ch.disposed > 0)
			QLOG_WARNING(s->h->d->log, "QSG5033W",
				     "channel %s: %u message(s) refused by the receiver were %s",
				     s->name, res.ch.disposed,
				     "moved to the dead-letter queue or held for a later retry");
		qsg_wbuf_reset(&s->disp);
		s->ndisp = 0;
	}
	settle_pump(s);
	pump(s);
	maybe_finish_stop(s);
}

static void settle_done(void *arg, int status, const void *result, size_t len)
{
	struct chsdr *s = ((struct ssub *)arg)->s;
	s->refs++;
	settle_done_body(arg, status, result, len);
	release(s);
}

static void settle_pump(struct chsdr *s)
{
	if (s->settle_inflight || s->phase == P_DEAD)
		return;
	if (s->settle_retry_at != 0 && now_ms(s) < s->settle_retry_at)
		return;
	s->settle_retry_at = 0;
	/* After a refused batch: settle it (every earlier confirmation was
	 * settled first, in order) before anything else. */
	struct chcore_settle k;
	if (!chcore_pipe_settle_next(&s->pipe, &k))
		return;
	struct ssub *x = ssub_new(s);
	if (x == NULL)
		return;
	x->settle = k;
	struct fsm_cmd cmd;
	base_cmd(s, &cmd, FSM_OP_CH_SETTLE);
	cmd.ch.seq = k.upto;
	cmd.ch.flags = k.flags;
	if (k.kind == CHSETTLE_REFUSED) {
		cmd.ch.count = s->ndisp;
		cmd.ch.list.p = s->disp.data;
		cmd.ch.list.len = s->disp.len;
	}
	s->settle_inflight = true;
	if (submit(s, &cmd, settle_done, x) != QSG_OK) {
		s->settle_inflight = false;
		s->settle_retry_at = now_ms(s) + RETRY_SOON_MS;
	}
}

/* ---- confirmations ---- */

static void on_confirm(struct chsdr *s, const uint8_t *p, size_t len)
{
	struct chp_confirm c;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	char why[QSG_ERRMSG_SIZE + 64];
	if (chp_confirm_decode(p, len, &c, errmsg) != QSG_OK) {
		snprintf(why, sizeof why, "bad confirmation: %s", errmsg);
		fail(s, why);
		return;
	}
	switch (chcore_pipe_confirm(&s->pipe, c.first, c.last, c.rc)) {
	case CHCONF_NOT_IN_FLIGHT:
		fail(s, "confirmation for a batch not in flight");
		return;
	case CHCONF_SETTLE:
		settle_pump(s);
		pump(s);
		return;
	case CHCONF_ENDED:
		snprintf(why, sizeof why, "receiver ended the channel: %s %s", qsg_rc_name(c.rc),
			 c.text);
		send_end(s, c.rc, "receiver error");
		fail(s, why);
		return;
	case CHCONF_REFUSED:
		break;
	}
	/* Destination black list: dispose of the refused messages, send the
	 * rest again. Later batches in flight are dropped by the receiver. */
	struct fsm_qmgr_attrs qm;
	bool dlq = s->def.usedlq && fsm_qmgr_get(s->h->d->fsm, &qm) == QSG_OK && qm.deadq[0];
	size_t cursor = 0;
	struct chp_reject r;
	qsg_wbuf_reset(&s->disp);
	s->ndisp = 0;
	int k;
	while ((k = chp_reject_next(&c, &cursor, &r)) == 1) {
		if (r.seq < c.first || r.seq > c.last)
			continue;
		struct fsm_chdisp d = {.seq = r.seq,
				       .action = dlq ? FSM_DISP_DLQ : FSM_DISP_HOLD,
				       .reason = r.reason,
				       .hold_ms = HOLD_MS};
		fsm_chlist_put_disp(&s->disp, &d);
		s->ndisp++;
		QLOG_WARNING(s->h->d->log, "QSG5034W",
			     "channel %s: message %llu refused by the receiver: %s", s->name,
			     (unsigned long long)r.seq, qsg_rc_name((int)r.reason));
	}
	if (k < 0 || s->ndisp == 0) {
		s->pipe.refusing = false;
		fail(s, "bad refusal list");
		return;
	}
	drop_open(s);
	settle_pump(s);
}

/* ---- handshake ---- */

static void bind_done(struct chsdr *s, int rc)
{
	if (rc == QSG_OK) {
		s->phase = P_RUN;
		s->last_recv = s->last_send = now_ms(s);
		chhost_retry_clear(s->h, s->name);
		QLOG_INFO_(s->h->d->log, "QSG5035I",
			   "channel %s (epoch %llu) running to %s, batch size %u, pipeline %u%s",
			   s->name, (unsigned long long)s->epoch, s->conn[s->conn_idx], s->batchsz,
			   s->pipeline, s->comp ? ", LZ4" : "");
		pump(s);
		return;
	}
	if (rc == QSG_RC_CAS_FAILED) {
		chsdr_abort(s, "status changed during start");
		return;
	}
	fail(s, "cannot record RUNNING in the status table");
}

static void sdr_bind(struct chsdr *s)
{
	struct fsm_chstatus st;
	if (!entry(s, &st)) {
		chsdr_abort(s, "superseded during start");
		return;
	}
	if (st.img.state != FSM_CHS_STARTING) {
		chsdr_entry_changed(s, &st, true);
		return;
	}
	s->phase = P_BIND;
	struct fsm_chimage after = st.img;
	after.state = FSM_CHS_RUNNING;
	char why[256];
	snprintf(why, sizeof why, "connected to %s", s->conn[s->conn_idx]);
	cas(s, &st.img, &after, why, bind_done);
}

static void on_start_resp(struct chsdr *s, const uint8_t *p, size_t len)
{
	struct chp_start_resp r;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	char why[2 * QSG_ERRMSG_SIZE];
	if (chp_start_resp_decode(p, len, &r, errmsg) != QSG_OK) {
		snprintf(why, sizeof why, "bad start response: %s", errmsg);
		fail(s, why);
		return;
	}
	if (r.rc != QSG_OK) {
		snprintf(why, sizeof why, "partner refused the start: %s %s", qsg_rc_name(r.rc),
			 r.text);
		fail(s, why);
		return;
	}
	s->batchsz = r.batchsz < s->def.batchsz && r.batchsz > 0 ? r.batchsz : s->def.batchsz;
	s->pipeline = r.pipeline > 0 && r.pipeline < s->def.pipeline ? r.pipeline : s->def.pipeline;
	if (s->pipeline > FSM_CH_MAX_PIPELINE)
		s->pipeline = FSM_CH_MAX_PIPELINE;
	s->hbint_s = r.hbint;
	s->comp = r.compmsg == FSM_COMP_LZ4 && s->def.compmsg == FSM_COMP_LZ4;
	s->maxmsgl = r.maxmsgl;

	struct fsm_chstatus st;
	if (!entry(s, &st)) {
		chsdr_abort(s, "superseded during start");
		return;
	}
	uint64_t L = r.lstseq;
	chcore_pipe_begin(&s->pipe, st.lstseq);
	enum chcore_start_act act = chcore_sdr_start(st.lstseq, st.curseq, L);
	if (act == CHSTART_BIND) {
		sdr_bind(s);
		return;
	}
	if (act == CHSTART_OUT_OF_STEP) {
		snprintf(why, sizeof why,
			 "message sequence numbers out of step: this end %llu (in doubt to %llu), "
			 "receiver %llu; use RESET CHANNEL",
			 (unsigned long long)st.lstseq, (unsigned long long)st.curseq,
			 (unsigned long long)L);
		QLOG_ERR(s->h->d->log, "QSG5036E", "channel %s: %s", s->name, why);
		send_end(s, QSG_RC_SEQ_MISMATCH, why);
		struct fsm_chimage after = st.img;
		after.state = FSM_CHS_STOPPED;
		close_conn(s);
		s->phase = P_WAIT_RETRY;
		cas(s, &st.img, &after, "sequence number mismatch", retry_moved);
		return;
	}
	/* In doubt: the receiver committed up to L; commit our gets to there
	 * and put the rest back. */
	QLOG_INFO_(s->h->d->log, "QSG5037I",
		   "channel %s: in-doubt batch resolved from the partner: commit to %llu, back "
		   "out %llu..%llu",
		   s->name, (unsigned long long)L, (unsigned long long)L + 1,
		   (unsigned long long)st.curseq);
	s->phase = P_RESOLVE;
	struct ssub *x = ssub_new(s);
	if (x == NULL) {
		fail(s, "out of memory");
		return;
	}
	chcore_pipe_resolve(&s->pipe, L, &x->settle);
	struct fsm_cmd cmd;
	base_cmd(s, &cmd, FSM_OP_CH_SETTLE);
	cmd.ch.seq = x->settle.upto;
	cmd.ch.flags = x->settle.flags;
	s->settle_inflight = true;
	if (submit(s, &cmd, settle_done, x) != QSG_OK) {
		s->settle_inflight = false;
		fail(s, "cannot resolve the in-doubt batch");
	}
}

/* ---- connection ---- */

static void on_frame(struct stream *st, const uint8_t *p, size_t len)
{
	struct chsdr *s = st->data;
	uint32_t reqid;
	if (s->phase == P_DEAD || !s->st_open)
		return;
	s->last_recv = now_ms(s);
	s->hb_outstanding = false;
	int op = chp_frame_op(p, len, &reqid);
	switch (op) {
	case CHP_START | PROTO_RESP:
		if (s->phase != P_HANDSHAKE) {
			fail(s, "unexpected start response");
			return;
		}
		on_start_resp(s, p, len);
		return;
	case CHP_CONFIRM:
		if (s->phase != P_RUN) {
			fail(s, "confirmation before the channel runs");
			return;
		}
		on_confirm(s, p, len);
		return;
	case CHP_HB:
		chp_hb_encode(&s->st->out, 1);
		stream_mark(s->st);
		return;
	case CHP_HB | PROTO_RESP:
		return;
	case CHP_END: {
		struct chp_end e;
		char errmsg[QSG_ERRMSG_SIZE], why[2 * QSG_ERRMSG_SIZE];
		if (chp_end_decode(p, len, &e, errmsg) != QSG_OK)
			snprintf(why, sizeof why, "partner ended the channel");
		else
			snprintf(why, sizeof why, "partner ended the channel: %s %s",
				 qsg_rc_name(e.rc), e.text);
		fail(s, why);
		return;
	}
	default:
		fail(s, "unexpected frame from the partner");
		return;
	}
}

static void on_error(struct stream *st, int rc, uint32_t reqid)
{
	struct chsdr *s = st->data;
	(void)reqid;
	(void)rc;
	if (s->phase != P_DEAD && s->st_open)
		fail(s, "connection lost");
}

static const struct stream_ops sdr_ops = {
    .on_frame = on_frame,
    .on_error = on_error,
    .on_closed = st_closed,
};

static void try_connect(struct chsdr *s);

static void connect_cb(uv_connect_t *req, int status)
{
	struct sconn *c = req->data;
	struct chsdr *s = c->s;
	if (s->phase != P_CONNECT || !s->st_open || s->conn_cur != c)
		return;
	if (status != 0) {
		QLOG_DBG(s->h->d->log, "QSG5038D", "channel %s: connect to %s: %s", s->name,
			 s->conn[s->conn_idx], uv_strerror(status));
		close_conn(s);
		s->conn_idx++;
		try_connect(s);
		return;
	}
	if (stream_start(s->st) != QSG_OK) {
		fail(s, "cannot read from the connection");
		return;
	}
	struct fsm_chstatus st;
	if (!entry(s, &st)) {
		chsdr_abort(s, "superseded during connect");
		return;
	}
	struct chp_start m;
	memset(&m, 0, sizeof m);
	m.chver = CHP_VERSION;
	snprintf(m.channel, sizeof m.channel, "%s", s->name);
	snprintf(m.sender_qmgr, sizeof m.sender_qmgr, "%s", s->h->d->cfg->group);
	m.epoch = s->epoch;
	m.lstseq = st.lstseq;
	if (st.curseq > st.lstseq) {
		m.indoubt_first = st.lstseq + 1;
		m.indoubt_last = st.curseq;
	}
	m.reset_seq = st.reset_seq;
	m.batchsz = s->def.batchsz;
	m.maxmsgl = s->def.maxmsgl;
	m.hbint = s->def.hbint;
	m.compmsg = s->def.compmsg;
	m.pipeline = s->def.pipeline;
	chp_start_encode(&s->st->out, 1, &m);
	stream_mark(s->st);
	s->phase = P_HANDSHAKE;
	s->phase_start = now_ms(s);
}

static void try_connect(struct chsdr *s)
{
	struct sockaddr_storage sa;
	while (s->conn_idx < s->nconn && net_resolve(s->conn[s->conn_idx], &sa) != QSG_OK) {
		QLOG_WARNING(s->h->d->log, "QSG5039W",
			     "channel %s: CONNAME entry %s is not a numeric host:port", s->name,
			     s->conn[s->conn_idx]);
		s->conn_idx++;
	}
	if (s->conn_idx >= s->nconn) {
		s->conn_idx = 0;
		fail(s, "cannot connect to any CONNAME entry");
		return;
	}
	struct sconn *c = calloc(1, sizeof *c);
	if (c == NULL) {
		fail(s, "out of memory");
		return;
	}
	c->s = s;
	s->phase = P_CONNECT;
	s->phase_start = now_ms(s);
	uv_tcp_init(s->h->d->loop, &c->st.tcp);
	stream_init(&c->st, s->h->set, &sdr_ops, s);
	s->conn_cur = c;
	s->st = &c->st;
	s->st_open = true;
	s->refs++; /* released in st_closed */
	uv_tcp_nodelay(&c->st.tcp, 1);
	c->creq.data = c;
	int rv = uv_tcp_connect(&c->creq, &c->st.tcp, (const struct sockaddr *)&sa, connect_cb);
	if (rv != 0) {
		close_conn(s);
		s->conn_idx++;
		try_connect(s);
	}
}

/* ---- disconnect interval ---- */

static void idle_set(struct chsdr *s, int rc)
{
	if (rc == QSG_RC_CAS_FAILED)
		chsdr_abort(s, "status changed by someone else");
}

/* DISCINT: end the connection, keep the channel ours in RETRYING and start
 * a new instance as soon as messages arrive on the xmitq. */
static void idle_disconnect(struct chsdr *s)
{
	struct fsm_chstatus st;
	if (!entry(s, &st)) {
		chsdr_abort(s, "superseded");
		return;
	}
	QLOG_INFO_(s->h->d->log, "QSG5041I",
		   "channel %s: idle for DISCINT (%u s); disconnecting until messages arrive",
		   s->name, s->def.discint);
	send_end(s, QSG_OK, "disconnect interval");
	if (s->st_open) {
		s->st_open = false;
		stream_close_after_write(s->st);
	}
	close_conn(s);
	s->phase = P_WAIT_RETRY;
	s->idle_disc = true;
	struct fsm_chimage after = st.img;
	after.state = FSM_CHS_RETRYING;
	cas(s, &st.img, &after, "idle: disconnected after DISCINT", idle_set);
}

/* ---- timer ---- */

static void on_timer(uv_timer_t *t)
{
	struct chsdr *s = t->data;
	uint64_t now = now_ms(s);
	switch (s->phase) {
	case P_CONNECT:
	case P_HANDSHAKE:
		if (now - s->phase_start > CONNECT_TIMEOUT_MS) {
			if (s->phase == P_CONNECT) {
				close_conn(s);
				s->conn_idx++;
				try_connect(s);
			} else {
				fail(s, "no start response from the partner");
			}
		}
		return;
	case P_WAIT_RETRY:
		if (s->idle_disc) {
			if (fsm_available(s->h->d->fsm, 0, s->def.xmitq) > 0)
				retry_fire(s);
			return;
		}
		if (now >= s->phase_start)
			retry_fire(s);
		return;
	case P_RUN:
		settle_pump(s);
		if ((s->idle && s->pipe.n == 0 && !s->get_inflight) || s->get_retry_at != 0)
			pump(s); /* a missed notification, or a get to retry */
		if (s->stopping && now - s->phase_start > STOP_TIMEOUT_MS) {
			graceful_end(s, "stopped by operator (confirmations not received)");
			return;
		}
		if (s->hbint_s > 0) {
			uint64_t hb = (uint64_t)s->hbint_s * 1000;
			if (now - s->last_recv > hb * CH_HB_MISS) {
				fail(s, "heartbeat timeout: partner not responding");
				return;
			}
			if (now - s->last_send >= hb && s->pipe.n == 0 && !s->hb_outstanding) {
				chp_hb_encode(&s->st->out, 0);
				stream_mark(s->st);
				s->last_send = now;
				s->hb_outstanding = true;
			}
		}
		if (s->def.discint > 0 && s->idle && s->pipe.n == 0 && s->idle_since != 0 &&
		    now - s->idle_since > (uint64_t)s->def.discint * 1000 &&
		    s->pipe.settled >= s->pipe.confirmed) {
			idle_disconnect(s);
			return;
		}
		return;
	default:
		return;
	}
}

/* ---- public ---- */

struct chsdr *chsdr_start(struct chhost *h, const struct fsm_chstatus *st)
{
	struct chsdr *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->h = h;
	snprintf(s->name, sizeof s->name, "%s", st->name);
	s->epoch = st->img.epoch;
	if (fsm_channel_get(h->d->fsm, st->name, &s->def) != QSG_OK ||
	    s->def.chltype != FSM_CHL_SDR) {
		free(s);
		return NULL;
	}
	s->nconn = chcore_conname_split(s->def.conname, s->conn, MAX_CONN);
	qsg_wbuf_init(&s->disp);
	qsg_wbuf_init(&s->held_data);
	s->refs = 1;
	chhost_ref(h);
	s->next = h->sdrs;
	h->sdrs = s;
	uv_timer_init(h->d->loop, &s->timer);
	s->timer.data = s;
	s->timer_open = true;
	s->refs++; /* released in timer_closed */
	uv_timer_start(&s->timer, on_timer, TICK_MS, TICK_MS);
	uv_timer_init(h->d->loop, &s->btimer);
	s->btimer.data = s;
	s->btimer_open = true;
	s->refs++; /* released in timer_closed */
	QLOG_INFO_(h->d->log, "QSG5040I", "channel %s: starting instance epoch %llu", s->name,
		   (unsigned long long)s->epoch);
	try_connect(s);
	return s;
}

void chsdr_entry_changed(struct chsdr *s, const struct fsm_chstatus *st, bool exists)
{
	if (s->phase == P_DEAD)
		return;
	if (!exists || st == NULL || !st->img.exists || st->img.owner != s->h->d->cfg->id ||
	    st->img.epoch != s->epoch) {
		chsdr_abort(s, "superseded: the status entry names another instance");
		return;
	}
	if (st->img.state == FSM_CHS_STOPPED && !s->stopping) {
		s->stopping = true;
		s->phase_start = now_ms(s);
		if (s->phase != P_RUN) {
			graceful_end(s, "stopped by operator");
			return;
		}
		maybe_finish_stop(s);
	}
}

void chsdr_notify_queue(struct chsdr *s, const char *queue)
{
	if (strcmp(queue, s->def.xmitq) != 0)
		return;
	if (s->phase == P_RUN && s->idle) {
		s->idle = false;
		s->idle_since = 0;
		pump(s);
	} else if (s->phase == P_WAIT_RETRY && s->idle_disc) {
		retry_fire(s);
	}
}
