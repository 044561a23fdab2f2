/* Triggering of sender channels (docs/channels.md "Triggering"; a private
 * channel, on its member's QMGR xmitq, starts on that member only).
 *
 * A transmission queue with TRIGGER starts its sender channel when messages
 * are on it: TRIGTYPE FIRST or EVERY at a depth of at least 1, DEPTH at a
 * depth of at least TRIGDPTH. The channel is the one TRIGDATA names, or,
 * with TRIGDATA blank, the one sender channel whose XMITQ is the queue. The
 * decision is level-wise, from the replicated state alone: a channel is
 * started when the condition holds and it has no status entry (never
 * started) or its entry waits for messages after DISCINT (RETRYING without
 * a retry time). STOPPED channels are never started; a channel that is
 * starting, running, recovering or waiting to retry is left to its
 * instance and to the group's retry count (which throttles a channel that
 * fails at once). The start is the compare-and-swap START CHANNEL makes
 * (STARTING, epoch+1) on the member chcore_pick_owner chooses. After a
 * DEPTH trigger, TRIGGER is turned off, as MQ does.
 *
 * chtrig_decide is pure (no I/O, no state-machine pointer): the fixture
 * tests may drive it. chtrig_view_* read a replica (read only). The Raft
 * leader's channel initiator (chinit.c) calls chtrig_view_eval and submits
 * what it returns; the sender (chsdr.c) asks chtrig_view_starts whether a
 * channel ended by DISCINT is left to the trigger. */
#ifndef QSG_CHTRIG_H
#define QSG_CHTRIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chcore.h"

/* Whether a queue's trigger attributes trigger at all: TRIGGER set and a
 * TRIGTYPE other than NONE. */
bool chtrig_armed(uint8_t trigger, uint8_t trigtype);

/* The depth at which the queue triggers (FIRST, EVERY: 1; DEPTH: TRIGDPTH,
 * at least 1). */
uint32_t chtrig_threshold(uint8_t trigtype, uint32_t trigdpth);

struct chtrig_in {
	/* The transmission queue. */
	uint8_t trigger, trigtype;
	uint32_t trigdpth;
	uint32_t depth; /* committed messages available on it */
	/* The channel's status entry (exists = 0: none, never started). */
	struct fsm_chimage img;
	int64_t retry_at_ms; /* the entry's retry time (RETRYING), 0 = none */
	uint32_t owner; /* the member chcore_pick_owner chooses, 0 = none */
};

enum chtrig_act {
	CHTRIG_NONE = 0,
	CHTRIG_START, /* CAS before -> after (STARTING, epoch+1, owner) */
};

/* Why nothing is done (for tests and logs). */
enum chtrig_why {
	CHTRIG_W_START = 0,
	CHTRIG_W_NOT_ARMED, /* NOTRIGGER or TRIGTYPE(NONE) */
	CHTRIG_W_SHALLOW, /* depth below the threshold */
	CHTRIG_W_STOPPED, /* STOPPED: only START CHANNEL starts it */
	CHTRIG_W_ACTIVE, /* starting, running, recovering or waiting to retry */
	CHTRIG_W_NO_OWNER, /* no channel initiator runs anywhere */
};

struct chtrig_out {
	enum chtrig_act act;
	enum chtrig_why why;
	struct fsm_chimage before, after;
	bool trigger_off; /* a DEPTH trigger: turn TRIGGER off afterwards */
};

void chtrig_decide(const struct chtrig_in *in, struct chtrig_out *out);

/* ---- reading a replica ---- */

/* Whether the shared queue `xmitq` is armed (chtrig_armed). A private
 * channel's xmitq (a member's QMGR queue) is not looked at here: its
 * trigger is found by the leader's next evaluation (each channel status
 * change, at the latest its 1 s tick). */
bool chtrig_xmitq_triggered(struct fsm *f, const char *xmitq);

/* Whether the armed trigger of `xmitq` starts sender `channel`: TRIGDATA
 * (blanks around it ignored) is its name, or TRIGDATA is blank and it is
 * the only sender on xmitq. What a DISCINT instance should ask before
 * leaving its channel to the trigger (chtrig_xmitq_triggered alone leaves
 * a channel the trigger never starts waiting for ever). Cost: a hash
 * lookup, and with blank TRIGDATA a pass over the channel definitions. */
bool chtrig_view_starts(struct fsm *f, const char *channel, const char *xmitq);

/* A start chtrig_view_eval found. */
struct chtrig_start {
	char channel[FSM_CHNAME_MAX + 1];
	char xmitq[FSM_NAME_MAX + 1];
	uint8_t trigtype;
	uint32_t trigdpth; /* as evaluated (chtrig_view_off_due) */
	uint32_t depth;
	struct fsm_chimage before, after;
	bool trigger_off;
	uint32_t scope; /* the xmitq's: a private channel's member, else 0 */
};

/* Evaluate every sender channel of the replica whose transmission queue is
 * armed, and call cb for each one to start now. The member table (as
 * owner choice sees it) is read into *members (room for *cap, grown with
 * realloc; the caller frees it) only when a start is found; the load of a
 * chosen member is raised in it, so that the channels triggered in one
 * evaluation spread. Channels whose name `skip` accepts (a start already
 * in flight) are left out; skip may be NULL. Cost: one pass over the
 * channel definitions, a hash lookup of each one's queue; the status entry
 * and depth only for an armed queue; the member table and the sender count
 * of a queue only for a start. */
void chtrig_view_eval(struct fsm *f, struct chcore_cand **members, size_t *cap,
		      bool (*skip)(void *arg, const char *channel),
		      void (*cb)(void *arg, const struct chtrig_start *s), void *arg);

/* After a DEPTH trigger's start was made: whether TRIGGER is still to be
 * turned off, i.e. the queue is still armed with TRIGTYPE(DEPTH) and the
 * TRIGDPTH the start was evaluated with. An operator who changed the
 * trigger since the evaluation (another TRIGTYPE or TRIGDPTH, NOTRIGGER)
 * keeps what they set: the NOTRIGGER chinit would submit is unconditional
 * (an ordinary QALTER), so it is not sent then. */
bool chtrig_off_due(uint8_t trigger, uint8_t trigtype, uint32_t trigdpth, uint32_t evaluated);
bool chtrig_view_off_due(struct fsm *f, const char *xmitq, uint32_t evaluated);
/* The same for the queue (scope, xmitq): a private channel's member's. */
bool chtrig_view_off_due_in(struct fsm *f, uint32_t scope, const char *xmitq, uint32_t evaluated);

#endif
