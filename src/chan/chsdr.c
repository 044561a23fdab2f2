/* A sending channel instance (MCA): one per (channel, epoch) owned by this
 * member. See docs/channels.md for the protocol.
 *
 *   connect (CONNAME list in turn) -> CHP_START -> resolve the in-doubt
 *   batch from the receiver's last sequence number (CH_SETTLE) -> CAS
 *   STARTING->RUNNING -> run: CH_GETBATCH, send the batch (the last message
 *   asks for commit and confirmation), up to PIPELINE batches unconfirmed;
 *   each confirmation -> CH_SETTLE (commit the gets).
 *
 * A communications failure: CAS ->RETRYING with FSM_CHF_RETRY (the state
 * machine counts it for the group and sets the retry time: SHORTTMR, LONGTMR
 * after SHORTRTY attempts, STOPPED after SHORTRTY + LONGRTY), wait, then CAS
 * ->STARTING with epoch+1 on a member chosen by load; this instance ends
 * there. A batch the receiver refuses in part: the destinations of the
 * refused messages go on the channel's black list (in its status entry),
 * the refused messages to the dead-letter queue (USEDLQ and a DEADQ) or
 * back on the xmitq; the rest is sent again. Later batches skip the
 * messages of listed destinations, which are retried alone, one at a
 * time, until the destination accepts one (chsdr_batch.c).
 *
 * This file: the public entry points, the tick timer and the disconnect
 * interval; the parts are listed in chsdr_int.h. */
#include <stdlib.h>
#include <string.h>

#include "chsdr_int.h"
#include "chtrig.h"

/* ---- disconnect interval ---- */

static void idle_set(struct chsdr *s, int rc)
{
	if (rc == QSG_RC_CAS_FAILED)
		chsdr_abort(s, "status changed by someone else");
}

/* DISCINT: end the connection, keep the channel ours in RETRYING and start
 * a new instance as soon as messages arrive on the xmitq. Not while a
 * destination is on the black list: its messages are on the xmitq, and
 * their retries alone need the connection (docs/channels.md). */
static void idle_disconnect(struct chsdr *s)
{
	struct fsm_chstatus st;
	if (!chsdr_entry(s, &st)) {
		chsdr_abort(s, "superseded");
		return;
	}
	if (st.nblk > 0) {
		s->idle_since = now_ms(s);
		return;
	}
	QLOG_INFO_(s->h->d->log, "QSG5041I",
		   "channel %s: idle for DISCINT (%u s); disconnecting until messages arrive",
		   s->name, s->def.discint);
	chsdr_send_end(s, QSG_OK, "disconnect interval");
	if (s->st_open) {
		s->st_open = false;
		stream_close_after_write(s->st);
	}
	chsdr_close_conn(s);
	s->phase = P_WAIT_RETRY;
	s->idle_disc = true;
	struct fsm_chimage after = st.img;
	after.state = FSM_CHS_RETRYING;
	chsdr_cas(s, &st.img, &after, "idle: disconnected after DISCINT", idle_set);
}

/* ---- timer ---- */

static void on_timer(uv_timer_t *t)
{
	struct chsdr *s = t->data;
	uint64_t now = now_ms(s);
	switch (s->phase) {
	case P_CONNECT:
		if (now - s->phase_start > CH_CONNECT_TIMEOUT_MS)
			chsdr_addr_failed(s, CHADDR_CONNECT_TIMEOUT, 0, "no connection within 3 s");
		return;
	case P_HANDSHAKE:
		if (now - s->phase_start > CH_START_TIMEOUT_MS)
			chsdr_addr_failed(s, CHADDR_START_TIMEOUT, 0,
					  "no start reply within 5 s (partner not responding)");
		return;
	case P_WAIT_RETRY:
		if (s->idle_disc) {
			/* The trigger of the xmitq starts this channel: the
			 * leader restarts it. Otherwise (NOTRIGGER, or a
			 * trigger that starts another sender) it restarts
			 * itself. */
			uint32_t scope = FSM_CH_PRIVATE(&s->def) ? s->def.scope : 0;
			if (fsm_available(s->h->d->fsm, scope, s->def.xmitq) > 0 &&
			    !chtrig_view_starts(s->h->d->fsm, s->def.name, s->def.xmitq))
				chsdr_retry_fire(s);
			return;
		}
		if (s->fail_unrecorded && now >= s->phase_start)
			chsdr_fail_again(s);
		else if (!s->fail_inflight && !s->fail_unrecorded && now >= s->phase_start)
			chsdr_retry_fire(s);
		return;
	case P_RUN:
		chsdr_settle_pump(s);
		if ((s->idle && s->pipe.n == 0 && !s->get_inflight) || s->get_retry_at != 0)
			chsdr_pump(s); /* a missed notification, or a get to retry */
		if (s->stopping && now - s->phase_start > STOP_TIMEOUT_MS) {
			chsdr_graceful_end(s, "stopped by operator (confirmations not received)");
			return;
		}
		if (s->pipe.n > 0 || s->hb_outstanding) {
			/* Waiting for the partner: probe it, and give up on a
			 * partner that answers nothing (paused), whatever HBINT. */
			uint64_t since = s->last_recv > s->wait_from ? s->last_recv : s->wait_from;
			if (now - since > CH_PARTNER_TIMEOUT_MS) {
				chsdr_fail(s,
					   "partner not responding: no confirmation or heartbeat "
					   "for 10 s");
				return;
			}
			if (s->pipe.n > 0 && !s->hb_outstanding && now - since >= CH_PROBE_MS) {
				chp_hb_encode(&s->st->out, 0);
				stream_mark(s->st);
				s->last_send = now;
				s->hb_outstanding = true;
			}
		}
		if (s->hbint_s > 0) {
			uint64_t hb = (uint64_t)s->hbint_s * 1000;
			if (now - s->last_recv > hb * CH_HB_MISS) {
				chsdr_fail(s, "heartbeat timeout: partner not responding");
				return;
			}
			if (now - s->last_send >= hb && s->pipe.n == 0 && !s->hb_outstanding) {
				s->wait_from = now;
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
	struct chretry *book = chhost_retry(h, s->name);
	chcore_attempt_begin(&s->att, s->nconn, book != NULL ? book->conn_pref : 0);
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
	chsdr_try_connect(s);
	return s;
}

void chsdr_notify_queue(struct chsdr *s, const char *queue)
{
	if (strcmp(queue, s->def.xmitq) != 0)
		return;
	if (s->phase == P_RUN && s->get_inflight)
		s->get_notified = true;
	if (s->phase == P_RUN && s->idle) {
		s->idle = false;
		s->idle_since = 0;
		chsdr_pump(s);
	} else if (s->phase == P_WAIT_RETRY && s->idle_disc &&
		   !chtrig_view_starts(s->h->d->fsm, s->def.name, s->def.xmitq)) {
		chsdr_retry_fire(s);
	}
}
