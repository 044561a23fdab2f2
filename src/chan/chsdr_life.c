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
	s->get_stale = false;
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
	uint32_t flags;
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
	memset(&res, 0, sizeof res);
	if (status == QSG_OK) {
		rc = fsm_result_decode(FSM_OP_CHST_CAS, result, len, &res, errmsg);
		if (rc == QSG_OK)
			rc = res.rc;
	}
	s->cas_res = res.ch;
	if (rc == QSG_OK) /* the entry as recorded (a failure may have stopped it) */
		chhost_log_change(s->h, s->name, "", &c->before,
				  c->flags != 0 ? &res.ch.current : &c->after, c->reason);
	if (c->then != NULL && s->phase != P_DEAD)
		c->then(s, rc);
	free(c);
	chsdr_release(s);
}

void chsdr_cas(struct chsdr *s, const struct fsm_chimage *before, const struct fsm_chimage *after,
	       const char *reason, void (*then)(struct chsdr *s, int rc))
{
	chsdr_cas_flags(s, before, after, reason, 0, then);
}

void chsdr_cas_flags(struct chsdr *s, const struct fsm_chimage *before,
		     const struct fsm_chimage *after, const char *reason, uint32_t flags,
		     void (*then)(struct chsdr *s, int rc))
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
	c->flags = flags;
	snprintf(c->reason, sizeof c->reason, "%s", reason);
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_CHST_CAS;
	snprintf(cmd.ch.name, sizeof cmd.ch.name, "%s", s->name);
	cmd.ch.chltype = FSM_CHL_SDR;
	cmd.ch.before = *before;
	cmd.ch.after = *after;
	cmd.ch.flags = flags;
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

/* The failure's CAS outcome: wait until the group's retry time, or end. */
static void fail_recorded(struct chsdr *s, int rc)
{
	s->fail_inflight = false;
	if (rc == QSG_RC_CAS_FAILED || rc == QSG_RC_CHANNEL_FENCED || rc == QSG_RC_INVALID ||
	    rc == QSG_RC_CHANNEL_NOT_FOUND) {
		chsdr_abort(s, "status changed by someone else");
		return;
	}
	uint64_t now = now_ms(s);
	if (rc != QSG_OK) { /* not recorded (no quorum?): record it again */
		s->fail_unrecorded = true;
		s->phase_start = now + FAIL_RECORD_AGAIN_MS;
		return;
	}
	const struct fsm_chresult *r = &s->cas_res;
	if (r->current.state == FSM_CHS_STOPPED) {
		QLOG_WARNING(s->h->d->log, "QSG5031W",
			     "channel %s: retries exhausted (%u failed attempts across the "
			     "group); the channel is STOPPED: %s",
			     s->name, r->retries, s->fail_why);
		die(s);
		return;
	}
	uint64_t wait = r->retry_at_ms > r->time_ms ? (uint64_t)(r->retry_at_ms - r->time_ms) : 0;
	QLOG_WARNING(s->h->d->log, "QSG5032W",
		     "channel %s (epoch %llu): %s; attempt %u failed (SHORTRTY %u, LONGRTY %u); "
		     "retry in %llu.%01llu s",
		     s->name, (unsigned long long)s->epoch, s->fail_why, r->retries,
		     s->def.shortrty, s->def.longrty, (unsigned long long)(wait / 1000),
		     (unsigned long long)(wait % 1000 / 100));
	s->phase_start = now + wait;
}

static void fail_record(struct chsdr *s, const struct fsm_chstatus *st)
{
	struct fsm_chimage after = st->img;
	after.state = FSM_CHS_RETRYING;
	s->fail_inflight = true;
	s->fail_unrecorded = false;
	s->phase_start = UINT64_MAX; /* until the retry time is known */
	chsdr_cas_flags(s, &st->img, &after, s->fail_why, FSM_CHF_RETRY, fail_recorded);
}

void chsdr_fail_again(struct chsdr *s)
{
	struct fsm_chstatus st;
	if (s->fail_inflight)
		return;
	if (!chsdr_entry(s, &st) || st.img.state == FSM_CHS_STOPPED) {
		chsdr_abort(s, "status changed while recording a failure");
		return;
	}
	if (st.img.state == FSM_CHS_RETRYING && st.retry_at_ms != 0) {
		/* It was recorded after all (the answer was lost). */
		int64_t now = fsm_last_time(s->h->d->fsm);
		s->fail_unrecorded = false;
		s->phase_start =
		    now_ms(s) + (st.retry_at_ms > now ? (uint64_t)(st.retry_at_ms - now) : 0);
		return;
	}
	fail_record(s, &st);
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
	if (r != NULL && s->ran) /* begin the next attempt past this entry */
		r->conn_pref = chcore_attempt_pref(s->nconn, s->att.idx, true);
	s->phase = P_WAIT_RETRY;
	snprintf(s->fail_why, sizeof s->fail_why, "%s", why);
	fail_record(s, &st);
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
