/* Channel cores: the I/O-free decisions of shared channels (docs/channels.md).
 *
 * Pure functions of their inputs: no libuv, no clocks (time is passed in), no
 * I/O, no state-machine pointer. The channel runtime of qsgd (chinit.c,
 * chsdr.c, chrcv.c) drives them, and so do the deterministic simulator
 * (tests/sim) and the fixture tests (tests/cluster/test_chan_cluster.c), so
 * those tests exercise the same decisions as the daemon:
 *   - owner choice (which member runs a new instance);
 *   - recovery (chinit's reconciliation of one status entry);
 *   - the sender: the in-doubt batch from the receiver's START reply, the
 *     pipeline of unconfirmed batches and what to settle, the retry policy;
 *   - the receiver: whether to accept a START, the sequence checks of the
 *     messages of a batch.
 * chcore_view.c fills the inputs from a replica (read only). Anyone may call
 * these; they have no state of their own. */
#ifndef QSG_CHCORE_H
#define QSG_CHCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../fsm/fsm.h"

/* STARTING, RUNNING, RETRYING or RECOVERING. */
bool chcore_active(uint8_t state);

/* ---- owner choice ---- */

/* A member as owner choice sees it. */
struct chcore_cand {
	uint32_t id;
	bool active; /* FSM_MEMBER_ACTIVE */
	bool chinit; /* its channel initiator runs */
	bool leader; /* the Raft leader, as last reported in its lease renewal */
	uint32_t load; /* active sender entries it owns */
};

/* The member that should run a new instance: active members whose channel
 * initiator runs; `exclude` only when nobody else qualifies, the Raft leader
 * only when no follower qualifies, then fewest active sender channels, then
 * lowest id. 0 = none. */
uint32_t chcore_pick_owner(const struct chcore_cand *c, size_t n, uint32_t exclude);

/* ---- recovery (reconciliation of one status entry) ---- */

enum chcore_rec_act {
	CHREC_NONE = 0,
	CHREC_START_LOCAL, /* start an instance of img.epoch here */
	CHREC_CAS, /* compare-and-swap the entry to `after` */
};

/* Why a CAS is made (the reason text is the caller's). */
enum chcore_rec_why {
	CHREC_W_NONE = 0,
	CHREC_W_RESTART_ENDED, /* STARTING, its instance of that epoch ended here */
	CHREC_W_RECOVERING, /* ours, active, no channel initiator available */
	CHREC_W_RESTARTED, /* ours, active, no instance here: new owner by load */
	CHREC_W_CHINIT_STOPPED, /* ours, our initiator stopped: moved */
	CHREC_W_PEER, /* owner FAILED: peer recovery */
	CHREC_W_RCV_GONE, /* inbound entry of ours, connection no longer here */
	CHREC_W_RCV_PEER, /* inbound entry of a FAILED member */
	CHREC_W_RETRY, /* ours, RETRYING, its retry time reached: STARTING on a
			* member chosen by load (avoiding us), epoch+1 */
	CHREC_W_RETRY_MOVED, /* RETRYING and waiting, but its owner failed or
			      * cannot run it: the wait goes on at another
			      * member (same epoch, same retry time) */
};

struct chcore_rec_in {
	uint8_t chltype; /* FSM_CHL_SDR or FSM_CHL_RCVR */
	struct fsm_chimage img; /* the entry */
	uint32_t self;
	/* A private channel (QSGDISP(QMGR), docs/channels.md "Private
	 * channels"): its member; 0 = a shared channel. Only that member
	 * acts on a private channel's entry: any other never starts, takes
	 * over or recovers it, and its member restarts it on itself. */
	uint32_t scope;
	bool owner_failed; /* its owner is FAILED or unknown */
	bool running; /* our channel initiator runs */
	bool closing; /* this member is stopping */
	/* SDR: the local instance of this channel, if any (after it was told
	 * of the entry), and the bookkeeping of the instances started here. */
	bool have_inst;
	uint64_t inst_epoch;
	bool have_book; /* bookkeeping available (not out of memory) */
	uint64_t started_epoch; /* newest epoch an instance was started for here */
	/* SDR RETRYING: the entry's next retry (leader time, 0 = none: waiting
	 * for messages after DISCINT) and the leader time now (the replica's
	 * newest entry). */
	int64_t retry_at_ms;
	int64_t now_ms;
	/* RCVR: a local inbound connection matches (name, rqmname, epoch and
	 * receiver instance), or its START is on the way. */
	bool rcv_here;
	/* the member table, in id order */
	const struct chcore_cand *members;
	size_t nmembers;
};

struct chcore_rec_out {
	enum chcore_rec_act act;
	enum chcore_rec_why why;
	struct fsm_chimage after; /* CHREC_CAS */
};

void chcore_reconcile(const struct chcore_rec_in *in, struct chcore_rec_out *out);

/* ---- the sender ---- */

/* What the receiver's START reply (its last committed number L) means for
 * the sender's entry (lstseq settled, curseq sent). */
enum chcore_start_act {
	CHSTART_BIND = 1, /* nothing in doubt: CAS STARTING -> RUNNING */
	CHSTART_RESOLVE, /* CH_SETTLE(upto L, BACKOUT_REST), then bind */
	CHSTART_OUT_OF_STEP, /* L outside [lstseq, curseq]: STOPPED, RESET CHANNEL */
};
enum chcore_start_act chcore_sdr_start(uint64_t lstseq, uint64_t curseq, uint64_t L);

/* The kinds of CH_SETTLE a sender submits. */
enum chcore_settle_kind {
	CHSETTLE_REFUSED = 1, /* after a batch refused in part: dispose, back out the rest */
	CHSETTLE_CONFIRMED, /* commit up to the last confirmation */
	CHSETTLE_RESOLVE, /* the in-doubt batch at START */
};

/* The batches sent and not yet confirmed, and what is settled. */
struct chcore_pipe {
	uint64_t first[FSM_CH_MAX_PIPELINE], last[FSM_CH_MAX_PIPELINE];
	unsigned head, n;
	uint64_t confirmed; /* highest confirmed (or resolved) sequence number */
	uint64_t settled; /* highest settled */
	bool refusing; /* a batch was refused in part: settle that first */
	uint64_t refused_upto; /* ... with upto = its first - 1 */
};

/* Start of an instance: lstseq of the entry. */
void chcore_pipe_begin(struct chcore_pipe *p, uint64_t lstseq);
/* The connection is gone: nothing is in flight any more. */
void chcore_pipe_drop(struct chcore_pipe *p);
/* A batch was sent. */
void chcore_pipe_push(struct chcore_pipe *p, uint64_t first, uint64_t last);

enum chcore_confirm_act {
	CHCONF_SETTLE = 1, /* committed: confirmed moved to `last`, settle */
	CHCONF_NOT_IN_FLIGHT, /* not the oldest batch in flight: communications failure */
	CHCONF_REFUSED, /* refused in part: dispose of the listed messages, send again */
	CHCONF_ENDED, /* the receiver ended the channel: communications failure */
};
/* A confirmation {first, last, rc}. CHCONF_REFUSED empties the pipeline and
 * sets refusing/refused_upto. */
enum chcore_confirm_act chcore_pipe_confirm(struct chcore_pipe *p, uint64_t first, uint64_t last,
					    int rc);

/* The next CH_SETTLE to submit (when none is in flight): false if nothing
 * to settle. flags: FSM_CHF_BACKOUT_REST or 0. */
struct chcore_settle {
	enum chcore_settle_kind kind;
	uint64_t upto;
	uint32_t flags;
};
bool chcore_pipe_settle_next(const struct chcore_pipe *p, struct chcore_settle *out);
/* The resolve settle at START (CHSTART_RESOLVE with L). */
void chcore_pipe_resolve(struct chcore_pipe *p, uint64_t L, struct chcore_settle *out);

enum chcore_settled_act {
	CHSETTLED_ABORT = 1, /* fenced: a newer instance exists; end now */
	CHSETTLED_FAIL, /* the in-doubt batch could not be resolved */
	CHSETTLED_BIND, /* resolved: CAS STARTING -> RUNNING */
	CHSETTLED_RETRY, /* not applied or unknown: settle again soon (idempotent) */
	CHSETTLED_DONE, /* recorded; `settled` moved */
};
/* The outcome (rc: the transport status, or the command's rc) of a settle. */
enum chcore_settled_act chcore_pipe_settled(struct chcore_pipe *p, const struct chcore_settle *x,
					    int rc);

/* The destination black list (docs/channels.md): the disposition of a
 * message the receiver refused (FSM_DISP_LIST_DLQ with USEDLQ and a
 * DEADQ, else FSM_DISP_LIST; without `listing`, when the group's command
 * level is below the black list's, FSM_DISP_DLQ or FSM_DISP_HOLD as before
 * it), and whether a listed destination of the
 * sender's entry `st` is due for a retry alone at leader time `now_ms`
 * (its retry time reached, no message of it out alone). */
uint8_t chcore_refusal_action(bool dlq, bool listing);
bool chcore_blk_due(const struct fsm_chstatus *st, int64_t now_ms);

/* The retry policy (SHORTRTY attempts SHORTTMR apart, then LONGRTY LONGTMR
 * apart, then STOPPED; the immediate first retry after a RUNNING instance
 * failed) is the state machine's: CHST_CAS with FSM_CHF_RETRY counts the
 * failure in the shared status entry and sets its retry time (fsm_chan.h),
 * so that the count holds across the group and survives restarts. */

/* Where a retry (or a DISCINT restart) starts the next instance: a member
 * chosen by load avoiding `self`, else `self`. */
uint32_t chcore_retry_target(const struct chcore_cand *c, size_t n, uint32_t self);

/* CONNAME: comma-separated host:port entries (blanks around them ignored;
 * empty or too long entries skipped); at most `max`. Returns the count. */
unsigned chcore_conname_split(const char *conname, char (*out)[FSM_ADDR_MAX + 1], unsigned max);

/* ---- the sender's connection attempt (the CONNAME list) ---- */

/* One attempt to start goes through the CONNAME entries in turn, from
 * `first`, and moves to the next entry at once when one fails: no TCP
 * connection (refused, unreachable, CH_CONNECT_TIMEOUT_MS), no START reply
 * within CH_START_TIMEOUT_MS (a paused partner: the kernel accepts the
 * connection, nobody answers), the connection lost before the reply, or a
 * START refused by a member that cannot serve (fenced, no leader or quorum,
 * channel initiator stopped, stopping, ...). Only when every entry failed
 * is the attempt a communications failure, counted once against
 * SHORTRTY/LONGRTY (as MQ counts a CONNAME list). */
#define CH_CONNECT_TIMEOUT_MS 3000
#define CH_START_TIMEOUT_MS 5000

enum chcore_addr_why {
	CHADDR_CONNECT_FAILED = 1, /* refused, unreachable, not numeric */
	CHADDR_CONNECT_TIMEOUT, /* no TCP connection in time */
	CHADDR_START_TIMEOUT, /* connected, no START reply in time */
	CHADDR_LOST, /* connection lost or ended before the START reply */
	CHADDR_REFUSED, /* START reply with an error (rc) */
};

struct chcore_attempt {
	unsigned n; /* CONNAME entries */
	unsigned idx; /* the entry being tried */
	unsigned tried; /* entries tried in this attempt, the current one included */
};

/* Begin an attempt at entry `first` (taken modulo n). */
void chcore_attempt_begin(struct chcore_attempt *a, unsigned n, unsigned first);

enum chcore_addr_act {
	CHADDR_NEXT = 1, /* a->idx moved to the next entry: try it now */
	CHADDR_FAIL, /* every entry failed: a communications failure (one retry) */
	CHADDR_END, /* the refusal holds for every entry: fail now */
};
/* The entry a->idx failed (rc: the START reply's rc for CHADDR_REFUSED). A
 * refusal that concerns the instance rather than the member (a newer epoch
 * was seen: QSG_RC_CHANNEL_FENCED) ends the attempt; anything else moves
 * on. */
enum chcore_addr_act chcore_attempt_failed(struct chcore_attempt *a, enum chcore_addr_why why,
					   int rc);

/* Where the next attempt of this channel on this member begins: at the entry
 * that accepted the last START (idx), or past it (idx + 1) when that
 * connection was later lost, so that a member that failed while running is
 * not the first one asked again. */
unsigned chcore_attempt_pref(unsigned n, unsigned idx, bool lost);

/* While batches await confirmation and nothing has been received for
 * CH_PROBE_MS, the sender sends a heartbeat (the receiver answers it from
 * its loop, even while its batch waits for a commit); nothing received for
 * CH_PARTNER_TIMEOUT_MS: the partner is not responding (a paused member),
 * whatever HBINT is. */
#define CH_PROBE_MS 2000
#define CH_PARTNER_TIMEOUT_MS 10000

/* ---- the receiver ---- */

/* Whether this member may take an inbound START addressed to
 * `receiver_qmgr` ("" = any). QSG_OK or the refusal (errmsg set). */
int chcore_rcv_accept(const char *receiver_qmgr, const char *group, const char *member,
		      bool chinit_running, bool fenced, char *errmsg);
/* Whether this member can serve an inbound channel now: it must know a Raft
 * leader (a member without quorum would accept the START and then stall on
 * its first command). QSG_OK or QSG_RC_NO_LEADER (errmsg set), so that the
 * partner moves to its next CONNAME entry at once. */
int chcore_rcv_serve(const char *member, bool leader_known, char *errmsg);

/* Whether an inbound instance running here (receiver instance `rinst`,
 * from its CH_RECV_START; 0 = an instance without one) must end now, from
 * the local replica: the channel's SYNCQ record `sq` and status entry `st`
 * (NULL: none). A replica that has not applied the instance's own START
 * (sq NULL or sq->rinst < rinst) decides nothing yet. One instance of an inbound channel at a time:
 * a newer START, here or on another member, fenced it (its batches would be refused), or its entry
 * was removed (peer recovery). */
enum chcore_rcv_fence {
	CHFENCE_NONE = 0, /* it is the current instance */
	CHFENCE_TAKEN, /* another member's instance has the channel */
	CHFENCE_NEWER_HERE, /* a newer instance on this member has it */
	CHFENCE_REMOVED, /* the status entry is gone */
};
enum chcore_rcv_fence chcore_rcv_fenced(uint32_t self, uint64_t rinst, const struct fsm_syncq *sq,
					const struct fsm_chstatus *st);

/* The sender's check of the partner's name from its START reply
 * (`answered`) against the name recorded by earlier instances
 * (`recorded`, "" = none yet). A different partner is refused
 * (QSG_RC_Q_MGR_NAME_ERROR, errmsg set): the channel's sequence numbers and
 * any in-doubt batch belong to the recorded one. A pending RESET CHANNEL
 * (`reset_seq` != 0) accepts any partner. */
int chcore_sdr_partner(const char *channel, const char *recorded, const char *answered,
		       uint64_t reset_seq, char *errmsg);

/* Sequence numbers on an inbound connection. */
struct chcore_rcvseq {
	uint64_t expect; /* next message sequence number */
	bool skip; /* after a refused batch: ignore until `expect` comes again */
};
enum chcore_seq_act {
	CHSEQ_ACCEPT = 1, /* in order: take it (expect moves on) */
	CHSEQ_IGNORE, /* part of a batch sent before a refusal */
	CHSEQ_MISMATCH, /* out of order: end the channel */
};
/* START accepted with the SYNCQ's last committed number. */
void chcore_rcv_started(struct chcore_rcvseq *q, uint64_t lstseq);
enum chcore_seq_act chcore_rcv_msg(struct chcore_rcvseq *q, uint64_t seq);
/* Batch first..last was refused in part: it comes again from `first`. */
void chcore_rcv_refused(struct chcore_rcvseq *q, uint64_t first);

/* ---- the channel initiator's own state ---- */

/* What DISPLAY CHINIT and the metrics show for this member's initiator, from
 * the operator's intent (`started`: START CHINIT or autostart, not STOP
 * CHINIT), a failure of its own awaiting restart (`failed`) and member
 * fencing (`fenced`). An operator's STOP wins over a failure, a failure over
 * fencing. Only CHINIT_ST_RUNNING may run channel instances. */
enum chcore_chinit_st {
	CHINIT_ST_RUNNING = 0,
	CHINIT_ST_STOPPED, /* STOP CHINIT, or not started */
	CHINIT_ST_FAILED, /* failed on its own; restarts by itself */
	CHINIT_ST_FENCED, /* member fenced (lease lost): nothing may run */
};
enum chcore_chinit_st chcore_chinit_status(bool started, bool failed, bool fenced);
const char *chcore_chinit_status_name(enum chcore_chinit_st st);

/* The delay before a failed initiator restarts: CHINIT_RESTART_MS after a
 * first failure; doubled (up to CHINIT_RESTART_MAX_MS) when it fails again
 * within CHINIT_STABLE_MS of its last restart, so that an initiator that
 * fails at once on every restart does not churn the group's channels.
 * `prev_ms`: the delay used last (0 = none yet); `up_ms`: how long it ran
 * since its last restart. */
#define CHINIT_RESTART_MS 5000
#define CHINIT_RESTART_MAX_MS 60000
#define CHINIT_STABLE_MS 60000
unsigned chcore_chinit_restart_delay(unsigned prev_ms, uint64_t up_ms);

/* ---- reading a replica (chcore_view.c) ---- */

/* The member table as owner choice sees it, in id order: fills at most
 * `cap` entries and returns the number of members (more than `cap`: call
 * again with room for all). */
size_t chcore_view_members(struct fsm *f, struct chcore_cand *c, size_t cap);
/* The same into a growable array (*c with room for *cap; the caller frees
 * *c). Returns the number filled. */
size_t chcore_view_table(struct fsm *f, struct chcore_cand **c, size_t *cap);
/* chcore_pick_owner and chcore_retry_target on a replica. */
uint32_t chcore_view_pick_owner(struct fsm *f, uint32_t exclude);
uint32_t chcore_view_retry_target(struct fsm *f, uint32_t self);
/* Whether member `id` is FAILED (or unknown) in the replica; 0 = no owner. */
bool chcore_view_member_failed(struct fsm *f, uint32_t id);

#endif
