/* A sending channel instance (chsdr_int.h): settling. Each confirmation
 * from the receiver leads to a CH_SETTLE (the gets commit), in order; a
 * batch refused in part (destination black list) is settled with the
 * dispositions of the refused messages (their destinations listed; the
 * messages to the dead-letter queue or back on the xmitq, retried alone)
 * and the rest backed out to be sent again. At START the in-doubt batch is
 * resolved by a settle too, and then the entry is bound (STARTING ->
 * RUNNING). */
#include <stdlib.h>
#include <string.h>

#include "chsdr_int.h"

/* ---- settling ---- */

static void settle_done_body(void *arg, int status, const void *result, size_t len)
{
	struct ssub *x = arg;
	struct chsdr *s = x->s;
	struct chcore_settle k = x->settle;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	s->settle_inflight = false;
	chsdr_ssub_free(x);
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
		chsdr_fail(s, "cannot resolve the in-doubt batch");
		return;
	case CHSETTLED_BIND:
		chsdr_bind(s);
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
				     "channel %s: %u message(s) refused by the receiver: their "
				     "destinations are on the black list (the messages %s)",
				     s->name, res.ch.disposed,
				     "moved to the dead-letter queue or retried alone later");
		qsg_wbuf_reset(&s->disp);
		s->ndisp = 0;
	}
	chsdr_settle_pump(s);
	chsdr_pump(s);
	chsdr_maybe_finish_stop(s);
}

void chsdr_settle_done(void *arg, int status, const void *result, size_t len)
{
	struct chsdr *s = ((struct ssub *)arg)->s;
	s->refs++;
	settle_done_body(arg, status, result, len);
	chsdr_release(s);
}

void chsdr_settle_pump(struct chsdr *s)
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
	struct ssub *x = chsdr_ssub_new(s);
	if (x == NULL)
		return;
	x->settle = k;
	struct fsm_cmd cmd;
	chsdr_base_cmd(s, &cmd, FSM_OP_CH_SETTLE);
	cmd.ch.seq = k.upto;
	cmd.ch.flags = k.flags;
	if (k.kind == CHSETTLE_REFUSED) {
		cmd.ch.count = s->ndisp;
		cmd.ch.list.p = s->disp.data;
		cmd.ch.list.len = s->disp.len;
	}
	s->settle_inflight = true;
	if (chsdr_submit(s, &cmd, chsdr_settle_done, x) != QSG_OK) {
		s->settle_inflight = false;
		s->settle_retry_at = now_ms(s) + RETRY_SOON_MS;
	}
}

/* ---- confirmations ---- */

void chsdr_on_confirm(struct chsdr *s, const uint8_t *p, size_t len)
{
	struct chp_confirm c;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	char why[QSG_ERRMSG_SIZE + 64];
	if (chp_confirm_decode(p, len, &c, errmsg) != QSG_OK) {
		snprintf(why, sizeof why, "bad confirmation: %s", errmsg);
		chsdr_fail(s, why);
		return;
	}
	switch (chcore_pipe_confirm(&s->pipe, c.first, c.last, c.rc)) {
	case CHCONF_NOT_IN_FLIGHT:
		chsdr_fail(s, "confirmation for a batch not in flight");
		return;
	case CHCONF_SETTLE:
		chsdr_settle_pump(s);
		chsdr_pump(s);
		return;
	case CHCONF_ENDED:
		snprintf(why, sizeof why, "receiver ended the channel: %s %s", qsg_rc_name(c.rc),
			 c.text);
		chsdr_send_end(s, c.rc, "receiver error");
		chsdr_fail(s, why);
		return;
	case CHCONF_REFUSED:
		if (s->get_inflight)
			s->get_stale = true;
		break;
	}
	/* Destination black list: list the destinations of the refused
	 * messages (which go to the dead-letter queue, or back on the xmitq
	 * to be retried alone), send the rest again. Later batches in flight
	 * are dropped by the receiver. */
	struct fsm_qmgr_attrs qm;
	bool dlq = s->def.usedlq && fsm_qmgr_get(s->h->d->fsm, &qm) == QSG_OK && qm.deadq[0];
	/* A member of an older build could not apply a listing disposition. */
	bool listing = fsm_group_cmdlevel(s->h->d->fsm) >= 2;
	size_t cursor = 0;
	struct chp_reject r;
	qsg_wbuf_reset(&s->disp);
	s->ndisp = 0;
	int k;
	while ((k = chp_reject_next(&c, &cursor, &r)) == 1) {
		if (r.seq < c.first || r.seq > c.last)
			continue;
		struct fsm_chdisp d = {.seq = r.seq,
				       .action = chcore_refusal_action(dlq, listing),
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
		chsdr_fail(s, "bad refusal list");
		return;
	}
	chsdr_drop_open(s);
	chsdr_settle_pump(s);
}

/* ---- handshake ---- */

static void bind_done(struct chsdr *s, int rc)
{
	if (rc == QSG_OK) {
		s->phase = P_RUN;
		s->last_recv = s->last_send = now_ms(s);
		s->ran = true;
		struct chretry *book = chhost_retry(s->h, s->name);
		if (book != NULL)
			book->conn_pref = chcore_attempt_pref(s->nconn, s->att.idx, false);
		QLOG_INFO_(s->h->d->log, "QSG5035I",
			   "channel %s (epoch %llu) running to %s, batch size %u, pipeline %u%s",
			   s->name, (unsigned long long)s->epoch, s->conn[s->att.idx], s->batchsz,
			   s->pipeline, s->comp ? ", LZ4" : "");
		chsdr_pump(s);
		return;
	}
	if (rc == QSG_RC_CAS_FAILED) {
		chsdr_abort(s, "status changed during start");
		return;
	}
	chsdr_fail(s, "cannot record RUNNING in the status table");
}

void chsdr_bind(struct chsdr *s)
{
	struct fsm_chstatus st;
	if (!chsdr_entry(s, &st)) {
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
	snprintf(why, sizeof why, "connected to %s", s->conn[s->att.idx]);
	chsdr_cas(s, &st.img, &after, why, bind_done);
}
