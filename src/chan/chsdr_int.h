/* The inside of a sending channel instance (chsdr.h), shared by its parts
 * and included by them only (chsdr*.c). The parts depend on each other one
 * way only, each on those below it:
 *
 *   chsdr.c         the public entry points (start, queue notifications,
 *                   the list accessors), the tick timer (connect and
 *                   START timeouts per CONNAME entry, retry, heartbeats and
 *                   the unresponsive-partner probe, STOP timeout),
 *                   the disconnect interval
 *   chsdr_conn.c    the connection: the CONNAME list (each attempt goes
 *                   through every entry, chcore_attempt), connect, the START
 *                   handshake, the frames from the partner
 *   chsdr_settle.c  CH_SETTLE and its outcomes, the confirmations that lead
 *                   to them, binding (STARTING -> RUNNING)
 *   chsdr_batch.c   CH_GETBATCH and building batches (the open batch, the
 *                   held message, BATCHINT), draining on STOP (and so
 *                   chsdr_entry_changed)
 *   chsdr_life.c    lifetime and references, submissions, status changes
 *                   (CAS), ending the connection, failure and retry (and so
 *                   chsdr_abort)
 *
 * and all of them on chhost.h and chcore.h. Loop thread only. */
#ifndef QSG_CHSDR_INT_H
#define QSG_CHSDR_INT_H

#include "chsdr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chcore.h"

#define STOP_TIMEOUT_MS 10000
#define TICK_MS 250
#define MAX_CONN 8
#define BATCH_MAX_BYTES (8u * 1024 * 1024)
#define HOLD_MS                                                                                    \
	5000 /* a listed destination is retried alone this long after                              \
	      * its last refusal (docs/channels.md) */
#define RETRY_SOON_MS 200
#define FAIL_RECORD_AGAIN_MS 1000 /* a failure not recorded: record it again */

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
	unsigned nconn;
	struct chcore_attempt att; /* the CONNAME entry in use (att.idx) */
	bool ran; /* reached RUNNING (a later failure may retry at once) */
	uint64_t phase_start; /* uv_now */
	/* negotiated */
	uint32_t batchsz, pipeline, hbint_s, maxmsgl;
	int comp;
	char partner[FSM_NAME_MAX + 1]; /* the partner's name (START reply), "" before */
	/* running: batches in flight, confirmed and settled (chcore) */
	struct chcore_pipe pipe;
	bool get_inflight;
	/* The xmitq was notified while a get was in flight: a get that finds
	 * nothing asks again instead of idling (a put it did not see, or a
	 * bounded get of a black list with more to do: docs/channels.md). */
	bool get_notified;
	/* A refusal arrived while a CH_GETBATCH was in flight: that get was
	 * applied before the refusal's settle, which backs its messages out,
	 * so its result must not be sent (its sequence numbers are given out
	 * again after the settle). */
	bool get_stale;
	bool idle; /* last GETBATCH found nothing */
	bool settle_inflight;
	uint64_t luwid;
	struct qsg_wbuf disp; /* dispositions of the refused messages */
	uint32_t ndisp;
	bool stopping;
	uint64_t last_send, last_recv, idle_since;
	bool idle_disc; /* ended by DISCINT: restart when messages arrive */
	bool hb_outstanding;
	uint64_t wait_from; /* waiting for the partner since (batch or probe sent) */
	bool retry_inflight;
	/* A communications failure: recorded by CHST_CAS with FSM_CHF_RETRY
	 * (the group counts it); phase_start is the retry time once known. */
	bool fail_inflight;
	bool fail_unrecorded; /* not recorded (no quorum?): again at phase_start */
	char fail_why[FSM_REASON_MAX + 1];
	struct fsm_chresult cas_res; /* the result of the last CAS (cas_done) */
	uint64_t settle_retry_at;
	uint64_t get_retry_at; /* no leader: get again at this time */
	uint64_t alone_next; /* destination black list: no get alone before */
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

/* A CH_GETBATCH or CH_SETTLE in flight (settle: which kind, up to where). */
struct ssub {
	struct chsdr *s;
	struct chcore_settle settle;
	bool alone; /* CH_GETBATCH with FSM_CHF_ALONE */
};

static inline uint64_t now_ms(struct chsdr *s)
{
	return uv_now(s->h->d->loop);
}

/* ---- chsdr_life.c ---- */

/* Drop a reference; the last one frees the instance. */
void chsdr_release(struct chsdr *s);
/* Forget the open batch (nothing of it was committed). */
void chsdr_drop_open(struct chsdr *s);
/* Close the connection; nothing is in flight any more. */
void chsdr_close_conn(struct chsdr *s);
/* Our entry, if it still names this instance. */
bool chsdr_entry(struct chsdr *s, struct fsm_chstatus *st);
/* Submissions: an ssub holds a reference; chsdr_submit frees it if the
 * command cannot be submitted. */
struct ssub *chsdr_ssub_new(struct chsdr *s);
void chsdr_ssub_free(struct ssub *x);
int chsdr_submit(struct chsdr *s, const struct fsm_cmd *cmd, qsgd_done_cb cb, struct ssub *x);
void chsdr_base_cmd(struct chsdr *s, struct fsm_cmd *cmd, uint8_t op);
/* A status change (FSM_OP_CHST_CAS), logged when recorded; `then` (if
 * any) gets the outcome unless the instance ended meanwhile. */
void chsdr_cas(struct chsdr *s, const struct fsm_chimage *before, const struct fsm_chimage *after,
	       const char *reason, void (*then)(struct chsdr *s, int rc));
/* The same with CHST_CAS flags (FSM_CHF_RETRY); s->cas_res holds the
 * result when `then` runs. */
void chsdr_cas_flags(struct chsdr *s, const struct fsm_chimage *before,
		     const struct fsm_chimage *after, const char *reason, uint32_t flags,
		     void (*then)(struct chsdr *s, int rc));
/* P_WAIT_RETRY while a failure is not recorded yet: record it again. */
void chsdr_fail_again(struct chsdr *s);
/* A CAS outcome after which the instance ends (reconciliation goes on). */
void chsdr_retry_moved(struct chsdr *s, int rc);
/* Waiting in RETRYING is over: CAS -> STARTING, epoch+1, on a member
 * chosen by load. */
void chsdr_retry_fire(struct chsdr *s);
/* A communications failure: recorded in the status entry, which counts it
 * for the group (CHST_CAS with FSM_CHF_RETRY): RETRYING and wait until the
 * entry's retry time, or STOPPED when the retries are used up. */
void chsdr_fail(struct chsdr *s, const char *why);
void chsdr_send_end(struct chsdr *s, int rc, const char *text);
/* END to the partner, close after writing, and end. */
void chsdr_graceful_end(struct chsdr *s, const char *why);

/* ---- chsdr_batch.c ---- */

/* Get more messages (CH_GETBATCH) if the pipeline has room. */
void chsdr_pump(struct chsdr *s);
/* STOP: close the open batch, end once everything is settled. */
void chsdr_maybe_finish_stop(struct chsdr *s);

/* ---- chsdr_settle.c ---- */

/* Submit the next CH_SETTLE, if any and none in flight. */
void chsdr_settle_pump(struct chsdr *s);
/* Completion of a CH_SETTLE (arg: its ssub). */
void chsdr_settle_done(void *arg, int status, const void *result, size_t len);
/* A CHP_CONFIRM frame. */
void chsdr_on_confirm(struct chsdr *s, const uint8_t *p, size_t len);
/* Nothing (more) in doubt: CAS STARTING -> RUNNING, then run. */
void chsdr_bind(struct chsdr *s);

/* ---- chsdr_conn.c ---- */

/* Connect to the CONNAME entry att.idx. */
void chsdr_try_connect(struct chsdr *s);
/* The entry att.idx failed before the START was accepted (why, rc: see
 * chcore_attempt_failed; detail for the log): try the next entry at once,
 * or fail the attempt once every entry has failed. */
void chsdr_addr_failed(struct chsdr *s, enum chcore_addr_why why, int rc, const char *detail);

#endif
