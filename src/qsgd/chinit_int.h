/* Internals shared by chinit.c (initiator, reconciliation, recovery),
 * chsdr.c (sending channel instances) and chrcv.c (receiving ones). */
#ifndef QSGD_CHINIT_INT_H
#define QSGD_CHINIT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "chan/chproto.h"
#include "chinit.h"
#include "stream.h"

#define CH_MAX_PENDING 64 /* CAS commands in flight from reconciliation */
#define CH_HB_MISS 3 /* heartbeat intervals without a reply: connection dead */

struct chsdr;

/* A CAS (or another channel command) the initiator has in flight for one
 * status entry: reconciliation does not act on that entry meanwhile. */
struct chpend {
	bool used;
	char name[FSM_CHNAME_MAX + 1];
	char rqmname[FSM_NAME_MAX + 1];
};

/* Bookkeeping per sending channel on this member: retries, and the newest
 * epoch an instance was started for here (never two instances with the same
 * epoch: a lagging replica may still show an epoch whose instance ended). */
struct chretry {
	struct chretry *next;
	char name[FSM_CHNAME_MAX + 1];
	unsigned count;
	uint64_t started_epoch;
};

struct chinit {
	struct qsgd *d;
	bool running; /* START/STOP CHINIT */
	bool fenced;
	bool begun;
	bool closing;
	bool published; /* fsm member.chinit matches `running` */
	bool publish_inflight;
	uint64_t gen_seen;
	uv_check_t check;
	uv_timer_t tick;
	unsigned nclosed; /* handles closed (check, tick, set) */
	unsigned refs; /* submissions in flight + instances alive */
	struct stream_set set; /* outbound channel connections */
	struct chsdr *sdrs;
	struct chrcv *rcvs;
	struct chretry *retries;
	struct chpend pend[CH_MAX_PENDING];
};

/* chinit.c */
void chinit_ref(struct chinit *ci);
void chinit_unref(struct chinit *ci);
struct chretry *chinit_retry(struct chinit *ci, const char *name);
void chinit_retry_clear(struct chinit *ci, const char *name);
/* Log a status change made by this member (owner changes at INFO). */
void chinit_log_change(struct chinit *ci, const char *name, const char *rqmname,
		       const struct fsm_chimage *before, const struct fsm_chimage *after,
		       const char *reason);
const char *chinit_member_name(struct chinit *ci, uint32_t id, char *buf, size_t len);

/* chsdr.c: one sending instance for (name, epoch) owned by this member. */
struct chsdr *chsdr_start(struct chinit *ci, const struct fsm_chstatus *st);
/* End now: fenced/stopped elsewhere/initiator stopped (no more commands). */
void chsdr_abort(struct chsdr *s, const char *why);
/* The status entry changed: the instance checks whether it still owns it. */
void chsdr_entry_changed(struct chsdr *s, const struct fsm_chstatus *st, bool exists);
void chsdr_notify_queue(struct chsdr *s, const char *queue);
const char *chsdr_name(const struct chsdr *s);
uint64_t chsdr_epoch(const struct chsdr *s);
struct chsdr *chsdr_next(const struct chsdr *s);

/* chrcv.c */
void chrcv_abort(struct chrcv *r, int rc, const char *why);
struct chrcv *chrcv_next(const struct chrcv *r);
bool chrcv_matches(const struct chrcv *r, const char *name, const char *rqmname, uint64_t epoch);

#endif
