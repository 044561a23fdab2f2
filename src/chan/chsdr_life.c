/* A sending channel instance (chsdr_int.h): its lifetime and references,
 * submissions, the status changes it makes (compare-and-swap), ending the
 * connection, and a communications failure (RETRYING, wait SHORTTMR or
 * LONGTMR, then STARTING with epoch+1 on a member chosen by load; STOPPED
 * once the retries are used up). chsdr_abort (chsdr.h) is here, as every part
 * ends the instance. The lowest part: it calls no other part. */
#include <stdlib.h>
#include <string.h>

#include "chsdr_int.h"

void chsdr_release(struct chsdr *s)
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
static void timer_closed(uv_handle_t *h)
{
	chsdr_release(h->data);
}

void chsdr_drop_open(struct chsdr *s)
{
	s->open = false;
	s->open_n = 0;
	s->has_held = false;
	if (s->btimer_open)
		uv_timer_stop(&s->btimer);
}

void chsdr_close_conn(struct chsdr *s)
{
	chsdr_drop_open(s);
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
	chsdr_close_conn(s);
	if (s->timer_open) {
		s->timer_open = false;
		uv_close((uv_handle_t *)&s->timer, timer_closed);
	}
	if (s->btimer_open) {
		s->btimer_open = false;
		uv_close((uv_handle_t *)&s->btimer, timer_closed);
	}
	chsdr_release(s);
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
bool chsdr_entry(struct chsdr *s, struct fsm_chstatus *st)
{
	if (fsm_chstatus_get(s->h->d->fsm, s->name, "", st) != QSG_OK)
		return false;
	return st->img.exists && st->img.owner == s->h->d->cfg->id && st->img.epoch == s->epoch;
}

struct ssub *chsdr_ssub_new(struct chsdr *s)
{
	struct ssub *x = calloc(1, sizeof *x);
	if (x == NULL)
		return NULL;
	x->s = s;
	s->refs++;
	return x;
}

void chsdr_ssub_free(struct ssub *x)
{
	struct chsdr *s = x->s;
	free(x);
	chsdr_release(s);
}

int chsdr_submit(struct chsdr *s, const struct fsm_cmd *cmd, qsgd_done_cb cb, struct ssub *x)
{
	int rc = qsgd_submit(s->h->d, cmd, cb, x);
	if (rc != QSG_OK)
		chsdr_ssub_free(x);
	return rc;
}

void chsdr_base_cmd(struct chsdr *s, struct fsm_cmd *cmd, uint8_t op)
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
	chsdr_release(s);
}

void chsdr_cas(struct chsdr *s, const struct fsm_chimage *before, const struct fsm_chimage *after,
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
	if (s->att.idx < s->nconn)
		snprintf(cmd.ch.conname, sizeof cmd.ch.conname, "%s", s->conn[s->att.idx]);
	/* RQMNAME, once the partner answered (recorded by the state machine). */
	snprintf(cmd.ch.partner, sizeof cmd.ch.partner, "%s", s->partner);
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

void chsdr_retry_moved(struct chsdr *s, int rc)
{
	(void)rc; /* whatever happened, reconciliation takes it from here */
	die(s);
}

void chsdr_retry_fire(struct chsdr *s)
{
	struct fsm_chstatus st;
	if (s->retry_inflight)
		return;
	if (!chsdr_entry(s, &st) || st.img.state != FSM_CHS_RETRYING) {
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
	chsdr_cas(s, &st.img, &after, why, chsdr_retry_moved);
}

static void retrying_set(struct chsdr *s, int rc)
{
	if (rc == QSG_RC_CAS_FAILED || rc == QSG_RC_CHANNEL_FENCED) {
		chsdr_abort(s, "status changed by someone else");
		return;
	}
	/* Not recorded (no quorum?): the timer tries again. */
}

void chsdr_fail(struct chsdr *s, const char *why)
{
	if (s->phase == P_DEAD || s->phase == P_WAIT_RETRY)
		return;
	chsdr_close_conn(s);
	struct fsm_chstatus st;
	if (!chsdr_entry(s, &st)) {
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
	if (r != NULL && s->ran) /* begin the next attempt past this entry */
		r->conn_pref = chcore_attempt_pref(s->nconn, s->att.idx, true);
	if (!chcore_retry_delay(count, &s->def, &delay_s)) {
		QLOG_WARNING(s->h->d->log, "QSG5031W",
			     "channel %s: retries exhausted (%u); stopping it: %s", s->name,
			     count - 1, why);
		struct fsm_chimage after = st.img;
		after.state = FSM_CHS_STOPPED;
		chsdr_cas(s, &st.img, &after, "retries exhausted", chsdr_retry_moved);
		s->phase = P_WAIT_RETRY;
		return;
	}
	uint64_t delay_ms = delay_s * 1000;
	uint64_t now = now_ms(s);
	if (r != NULL && chcore_retry_soon(s->ran, count, now, r->last_soon_ms, s->def.shorttmr)) {
		r->last_soon_ms = now;
		delay_ms = RETRY_SOON_MS;
	}
	QLOG_WARNING(
	    s->h->d->log, "QSG5032W", "channel %s (epoch %llu): %s; retry %u in %llu.%01llu s",
	    s->name, (unsigned long long)s->epoch, why, count,
	    (unsigned long long)(delay_ms / 1000), (unsigned long long)(delay_ms % 1000 / 100));
	s->phase = P_WAIT_RETRY;
	s->phase_start = now + delay_ms;
	if (st.img.state != FSM_CHS_RETRYING) {
		struct fsm_chimage after = st.img;
		after.state = FSM_CHS_RETRYING;
		char reason[FSM_REASON_MAX + 1];
		snprintf(reason, sizeof reason, "%s", why);
		chsdr_cas(s, &st.img, &after, reason, retrying_set);
	}
}

/* ---- sending ---- */

void chsdr_send_end(struct chsdr *s, int rc, const char *text)
{
	if (!s->st_open)
		return;
	chp_end_encode(&s->st->out, rc, text);
	stream_mark(s->st);
}

void chsdr_graceful_end(struct chsdr *s, const char *why)
{
	if (s->st_open) {
		chsdr_send_end(s, QSG_OK, why);
		s->st_open = false;
		stream_close_after_write(s->st);
	}
	chsdr_abort(s, why);
}
