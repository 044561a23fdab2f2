/* A sending channel instance (chsdr_int.h): CH_GETBATCH and building
 * batches. Messages are written as they are got, except the last of each
 * get, which is held back so that it can carry the commit request when the
 * batch closes (BATCHSZ reached, BATCHINT expired, or at once when BATCHINT
 * is 0). Up to PIPELINE batches are unconfirmed at a time. A STOP drains:
 * the open batch closes, the instance ends once everything is settled; so
 * chsdr_entry_changed (chsdr.h), which sees the STOP, is here. */
#include <stdlib.h>
#include <string.h>

#include "chsdr_int.h"

#include "chclock.h"

static void close_batch(struct chsdr *s);
static void getbatch_done(void *arg, int status, const void *result, size_t len);

void chsdr_maybe_finish_stop(struct chsdr *s)
{
	if (s->stopping && s->open && !s->get_inflight)
		close_batch(s);
	if (s->stopping && s->pipe.n == 0 && !s->get_inflight && !s->settle_inflight && !s->open &&
	    s->pipe.settled >= s->pipe.confirmed)
		chsdr_graceful_end(s, "stopped by operator");
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
	if (s->pipe.n == 0 && !s->hb_outstanding)
		s->wait_from = s->last_send;
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
		chsdr_pump(s);
		chsdr_maybe_finish_stop(s);
	}
}

static void getbatch_done_body(void *arg, int status, const void *result, size_t len)
{
	struct ssub *x = arg;
	struct chsdr *s = x->s;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	bool alone = x->alone;
	bool stale = s->get_stale;
	s->get_inflight = false;
	s->get_stale = false;
	if (s->phase != P_RUN) {
		chsdr_ssub_free(x);
		return;
	}
	if (stale && status == QSG_OK) {
		/* Backed out by the settle of a refusal that came meanwhile:
		 * get again once that settle is done (chsdr_pump waits for
		 * it). */
		chsdr_ssub_free(x);
		chsdr_pump(s);
		return;
	}
	if (status == QSG_RC_NO_LEADER || status == QSG_RC_NOT_LEADER) {
		/* Not applied: the status table (and the xmitq with it) is out of
		 * reach for now. Keep the connection (heartbeats go on) and ask
		 * again; the lease fences this member if it lasts. */
		s->get_retry_at = now_ms(s) + RETRY_SOON_MS;
		chsdr_ssub_free(x);
		return;
	}
	if (status != QSG_OK) {
		/* Outcome unknown: some messages may now be locked to us with
		 * sequence numbers we do not know. Reconnect: the handshake
		 * resolves them from the receiver's state. */
		if (status == QSG_RC_OUTCOME_UNKNOWN)
			chsdr_fail(s, "status table: outcome of a get unknown");
		else
			chsdr_fail(s, "status table unreachable");
		chsdr_ssub_free(x);
		return;
	}
	int rc = fsm_result_decode(FSM_OP_CH_GETBATCH, result, len, &res, errmsg);
	if (rc == QSG_OK)
		rc = res.rc;
	if (rc == QSG_RC_CHANNEL_FENCED || rc == QSG_RC_CHANNEL_STOPPED) {
		struct fsm_chstatus st;
		bool mine = chsdr_entry(s, &st);
		chsdr_entry_changed(s, mine ? &st : NULL, mine);
		chsdr_ssub_free(x);
		return;
	}
	if (rc != QSG_OK) {
		chsdr_fail(s, qsg_rc_text(rc));
		chsdr_ssub_free(x);
		return;
	}
	if (res.ch.count == 0 && alone) {
		/* No listed destination due after all (leader time): look
		 * again in a tick; ordinary batches go on meanwhile. */
		s->alone_next = now_ms(s) + TICK_MS;
		chsdr_ssub_free(x);
		chsdr_pump(s);
		return;
	}
	if (res.ch.count == 0 && s->get_notified) {
		/* Something came (or is left to do) meanwhile: ask again. */
		chsdr_ssub_free(x);
		chsdr_pump(s);
		return;
	}
	if (res.ch.count == 0) {
		if (s->open && now_ms(s) - s->open_since >= s->def.batchint)
			close_batch(s);
		s->idle = true;
		if (s->idle_since == 0)
			s->idle_since = now_ms(s);
		chsdr_ssub_free(x);
		chsdr_maybe_finish_stop(s);
		return;
	}
	s->idle = false;
	s->idle_since = 0;
	struct fsm_chiter it;
	fsm_chiter_result(&it, &res.ch);
	uint32_t n = 0;
	/* An injected fault (chinit_inject_fault, test builds) takes the same
	 * path as a real undecodable batch. */
	bool injected = s->h->fault_armed;
	s->h->fault_armed = false;
	for (;;) {
		uint64_t seq;
		struct fsm_msg m;
		int done = 0;
		if (injected || fsm_chiter_batch(&it, &seq, &m, &done) != QSG_OK) {
			/* Not the channel's failure (no retry is counted): the
			 * initiator is declared failed, ends this instance with
			 * the others, and peers recover the channel. */
			chsdr_ssub_free(x);
			chhost_fail(s->h, injected ? "undecodable batch from the state machine "
						     "(fault injected)"
						   : "undecodable batch from the state machine");
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
			cm.msg.expiry_ms = chclock_expiry_left(s->h->d, m.expiry_ms);
		add_to_batch(s, &cm, n + 1 == res.ch.count);
		n++;
	}
	chsdr_ssub_free(x);
	if (n == 0 || n != res.ch.count) {
		chhost_fail(s->h, "batch count mismatch from the state machine");
		return;
	}
	stream_mark(s->st);
	uint64_t now = now_ms(s);
	if (alone || s->def.batchint == 0 || s->open_n >= s->batchsz ||
	    now - s->open_since >= s->def.batchint)
		close_batch(s);
	else if (s->btimer_open && !uv_is_active((uv_handle_t *)&s->btimer))
		uv_timer_start(&s->btimer, on_btimer, s->open_since + s->def.batchint - now, 0);
	chsdr_pump(s);
}

/* Whether to get a message of a listed destination alone now: no batch
 * open, and the entry's list has one due (the group's time, as this member
 * sees it, chclock.h: a get alone that finds none due waits a tick). */
static bool alone_due(struct chsdr *s)
{
	if (s->open || now_ms(s) < s->alone_next || fsm_group_cmdlevel(s->h->d->fsm) < 2)
		return false;
	struct fsm_chstatus st;
	return chsdr_entry(s, &st) && chclock_blk_due(s->h->d, &st);
}

void chsdr_pump(struct chsdr *s)
{
	if (s->phase != P_RUN || s->get_inflight || s->pipe.refusing || s->stopping || !s->st_open)
		return;
	if (s->pipe.n >= s->pipeline)
		return;
	if (s->get_retry_at != 0 && now_ms(s) < s->get_retry_at)
		return;
	s->get_retry_at = 0;
	struct ssub *x = chsdr_ssub_new(s);
	if (x == NULL)
		return;
	struct fsm_cmd cmd;
	chsdr_base_cmd(s, &cmd, FSM_OP_CH_GETBATCH);
	cmd.ch.max_msgs = s->batchsz - s->open_n;
	cmd.ch.max_bytes = BATCH_MAX_BYTES;
	if (alone_due(s)) {
		/* Destination black list: a batch of one message of a listed
		 * destination (the state machine picks which). */
		x->alone = true;
		cmd.ch.flags = FSM_CHF_ALONE;
		cmd.ch.max_msgs = 1;
	}
	s->get_inflight = true;
	s->get_notified = false;
	if (chsdr_submit(s, &cmd, getbatch_done, x) != QSG_OK)
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
	chsdr_release(s);
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
	if (st->img.state == FSM_CHS_STOPPED && s->phase == P_WAIT_RETRY) {
		if (s->fail_inflight)
			return; /* our failure stopped it: its result says so */
		/* Stopped while waiting to retry: nothing is in flight. */
		char why[FSM_REASON_MAX + 16];
		snprintf(why, sizeof why, "stopped: %s", st->reason);
		chsdr_abort(s, why);
		return;
	}
	if (st->img.state == FSM_CHS_STOPPED && !s->stopping) {
		s->stopping = true;
		s->phase_start = now_ms(s);
		if (s->phase != P_RUN) {
			chsdr_graceful_end(s, "stopped by operator");
			return;
		}
		chsdr_maybe_finish_stop(s);
	}
}
