/* Channels in the replicated state machine: remote queues and transmission
 * queues, channel definitions (group objects), the group's queue-manager
 * attributes (dead-letter queue), the shared channel status table (changed
 * only by compare-and-swap) and the shared synchronisation queue (SYNCQ).
 * Included by fsm.h; see docs/channels.md for the rules.
 *
 * Two ends of a channel, both run by some member's channel initiator:
 *
 *  - Sender (SDR): one status entry keyed by the channel name. Its owner is
 *    the member running the instance; its epoch grows by exactly one each
 *    time a new instance is made (a transition into STARTING, or a STARTING
 *    entry given to another owner or restarted). CH_GETBATCH
 *    takes messages from the xmitq and locks them to the channel (not to a
 *    member or session) with channel sequence numbers curseq+1, curseq+2...
 *    CH_SETTLE commits locked messages up to a sequence number and may back
 *    out the rest. A member failure therefore leaves the in-flight batch
 *    locked and in doubt; the next instance resolves it from the receiver's
 *    SYNCQ during the start handshake. Only the owner with the current epoch
 *    may get or settle (the xmitq lock).
 *
 *  - Receiver (RCVR): CH_RECV_START and CH_RECV_BATCH. The SYNCQ record
 *    keyed by (channel, sending queue manager) holds the newest sender epoch
 *    seen and the last committed message sequence number. A batch's puts and
 *    its SYNCQ update are one command. Batches are idempotent: a batch whose
 *    last sequence number is <= the SYNCQ's is acknowledged as a duplicate
 *    and changes nothing.
 *    One receiver instance at a time (docs/channels.md "One inbound
 *    instance"): a CH_RECV_START with FSM_CHF_TAKEOVER makes a new receiver
 *    instance, numbered by the SYNCQ record's rinst (+1 each time); it takes
 *    the status entry from any other instance, RUNNING or not, and a
 *    CH_RECV_BATCH that carries an older rinst (or comes from a member that
 *    is not the entry's owner) is refused with QSG_RC_CHANNEL_FENCED. The
 *    old member's channel initiator ends its local instance when it sees
 *    the entry taken. Commands without the flag / rinst keep the old rule
 *    (sender epoch only), so old log entries replay as they applied.
 */
#ifndef QSG_FSM_CHAN_H
#define QSG_FSM_CHAN_H

#include <stdint.h>

#include "../common/codec.h"
#include "../common/msg.h" /* FSM_CHNAME_MAX, FSM_MAX_CHBATCH, FSM_CH_MAX_PIPELINE,
			      * enum fsm_compmsg: the channel protocol checks them */
#include "fsm_attrs.h"

#define FSM_CONNAME_MAX 264 /* comma-separated host:port list */
#define FSM_REASON_MAX 64 /* text of the last status change */

/* --- queue types (fsm_qattrs.qtype / usage) ------------------------------ */
enum fsm_qtype { FSM_QT_LOCAL = 1, FSM_QT_REMOTE = 2, FSM_QT_ALIAS = 3 };
enum fsm_usage { FSM_USAGE_NORMAL = 0, FSM_USAGE_XMITQ = 1 };

/* --- the group's queue-manager object ------------------------------------ */
#define FSM_QM_DEADQ 0x0001
#define FSM_QM_DESCR 0x0002
#define FSM_QM_ALL 0x0003
struct fsm_qmgr_attrs {
	uint32_t set; /* FSM_QM_* (QMGR_ALTER changes only these) */
	char deadq[FSM_NAME_MAX + 1]; /* "" = no dead-letter queue */
	char descr[FSM_DESCR_MAX + 1];
};

/* --- channel definitions ------------------------------------------------- */
enum fsm_chltype { FSM_CHL_SDR = 1, FSM_CHL_RCVR = 3 }; /* MQ's MQCHT_* values */

/* Bits of fsm_chattrs.set: FSM_CA_CHLTYPE, FSM_CA_CONNAME ... one per A(...)
 * row of FSM_CHATTRS (fsm_attrs.h), which gives its value. */
enum { FSM_CHATTRS(FSM_ATTR_NONE, FSM_ATTR_CA_BIT) };
#define FSM_CA_ALL 0x0ffff
/* Not an attribute: `set` has it when the channel's disposition part
 * (FSM_CHATTRS_DISP: disp, scope) follows in the encoding. A private
 * channel (QSGDISP(QMGR), docs/channels.md "Private channels") has it, with
 * disp FSM_DISP_QMGR and scope its member; a shared channel never has it
 * (disp 0, scope 0: QSGDISP(GROUP)). CHDEFINE with it defines a private
 * channel; CHALTER with it names the disposition it expects (it cannot
 * change one: MQ cannot either). Command level 3. */
#define FSM_CA_QSGDISP 0x10000
/* Whether definition a is a private channel (of member a->scope). */
#define FSM_CH_PRIVATE(a) (((a)->set & FSM_CA_QSGDISP) != 0 && (a)->disp == FSM_DISP_QMGR)

/* Defaults (MQ's, except the timers, which are in seconds as in MQ). */
#define FSM_CH_DEFAULT_BATCHSZ 50
#define FSM_CH_DEFAULT_HBINT 300
#define FSM_CH_DEFAULT_DISCINT 6000
#define FSM_CH_DEFAULT_SHORTRTY 10
#define FSM_CH_DEFAULT_SHORTTMR 60
#define FSM_CH_DEFAULT_LONGRTY 999999999
#define FSM_CH_DEFAULT_LONGTMR 1200
#define FSM_CH_DEFAULT_PIPELINE 4 /* batches in flight (qsg's own) */

/* Channel attributes: the fields of FSM_CHATTRS (fsm_attrs.h) in table
 * order. set: CHALTER changes only these; CHDEFINE takes defaults for the
 * others. chltype is required by CHDEFINE; a sender requires conname and
 * xmitq. batchsz 1..FSM_MAX_CHBATCH; batchint in ms; hbint and discint in
 * seconds (0 = none / never); shortrty, shorttmr, longrty, longtmr: counts
 * and seconds; usedlq default 1; pipeline 1..FSM_CH_MAX_PIPELINE batches in
 * flight. */
struct fsm_chattrs {
	FSM_CHATTRS(FSM_ATTR_FIELD, FSM_ATTR_FIELD)
};

/* --- shared channel status table ----------------------------------------- */
enum fsm_chstate {
	FSM_CHS_INACTIVE = 0, /* only in a "does not exist" before-image */
	FSM_CHS_STOPPED = 1, /* stopped by an operator or after retries: stays */
	FSM_CHS_STARTING = 2, /* the owner is to start a new instance */
	FSM_CHS_RUNNING = 3,
	FSM_CHS_RETRYING = 4, /* communications failure, waiting to retry */
	FSM_CHS_RECOVERING = 5, /* taken over by a recovering member */
};
#define FSM_CHS_MAX FSM_CHS_RECOVERING

/* The compared part of an entry: a CAS succeeds only when the entry is
 * exactly this (or does not exist and exists == 0). */
struct fsm_chimage {
	uint8_t exists;
	uint32_t owner; /* member id, 0 = none */
	uint8_t state; /* enum fsm_chstate */
	uint64_t epoch;
};

/* The destination black list of a sender (docs/channels.md "Destination
 * black list"): a destination (remote queue manager and queue, from the
 * messages' XQH) whose message the receiver refused. CH_GETBATCH skips the
 * messages of listed destinations; CH_GETBATCH with FSM_CHF_ALONE takes the
 * oldest message of one due destination, alone; committing that message
 * removes the destination from the list. At most FSM_CH_BLK_MAX entries: a
 * refusal for another destination while the list is full is held instead
 * (FSM_DISP_HOLD, the behaviour before the list). */
#define FSM_CH_BLK_MAX 8
struct fsm_chblk {
	char rqmname[FSM_NAME_MAX + 1];
	char rname[FSM_NAME_MAX + 1];
	uint32_t reason; /* the receiver's reason code of the last refusal */
	uint32_t refusals; /* messages of it refused so far */
	int64_t since_ms; /* leader time it was listed */
	int64_t retry_at_ms; /* leader time from which a message of it may be
			      * got alone again */
	uint64_t retry_seq; /* chseq of its message out alone (0 = none) */
	/* Left the list (its message sent alone was accepted): its parked
	 * messages are going back to the xmitq in bounded steps
	 * (FSM_CH_BLK_DRAIN per CH_GETBATCH); the entry goes with the last. */
	uint8_t leaving;
};

/* The bounds of one CH_GETBATCH of a sender with a black list
 * (docs/channels.md "Destination black list"): the walk of the xmitq in
 * get order examines at most FSM_CH_BLK_STEPS messages and reads the XQH
 * of at most FSM_CH_BLK_READS (a message of a listed destination moves to
 * the destination's park as it is met), and at most FSM_CH_BLK_DRAIN
 * parked messages of destinations that left the list go back to the xmitq. */
#define FSM_CH_BLK_STEPS 4096
#define FSM_CH_BLK_READS 512
#define FSM_CH_BLK_DRAIN 1024

/* A status entry as the table holds it. Key: (name, rqmname); for SDR
 * entries rqmname is "". */
struct fsm_chstatus {
	char name[FSM_CHNAME_MAX + 1];
	char rqmname[FSM_NAME_MAX + 1]; /* RCVR: sending queue manager */
	uint8_t chltype;
	char xmitq[FSM_NAME_MAX + 1]; /* SDR: from the definition */
	struct fsm_chimage img;
	char conname[FSM_ADDR_MAX + 1]; /* connection in use */
	char reason[FSM_REASON_MAX + 1]; /* why the last change was made */
	uint32_t prev_owner; /* owner before the last change of owner */
	int64_t last_change_ms; /* leader time of the last change */
	uint64_t msgs; /* messages committed (sent or received) */
	uint64_t batches;
	uint64_t curseq; /* SDR: highest sequence number assigned; RCVR: = lstseq */
	uint64_t lstseq; /* last committed sequence number */
	uint32_t indoubt; /* SDR: messages locked (sent, not settled) */
	int64_t last_msg_ms; /* leader time of the last committed batch */
	uint64_t reset_seq; /* SDR: RESET CHANNEL SEQNUM pending (0 = none);
			     * the next start sends it to the receiver */
	char partner[FSM_NAME_MAX + 1]; /* SDR: the receiving queue manager's
					 * name from its START reply ("" =
					 * never connected); DISPLAY CHSTATUS
					 * RQMNAME. Kept across instances:
					 * a later partner must answer with
					 * the same name (docs/channels.md) */
	/* SDR, group-wide retry (docs/channels.md "Retry across the group";
	 * counted by the state machine from CHST_CAS with FSM_CHF_RETRY): */
	uint32_t retries; /* failed attempts in a row (0 after RUNNING or a
			   * START from STOPPED); SHORTRTY + LONGRTY of them
			   * are retried, the next one makes the entry STOPPED */
	int64_t retry_at_ms; /* RETRYING: leader time of the next attempt
			      * (0 = none: DISCINT, waiting for messages) */
	int64_t soon_ms; /* leader time of the last immediate retry (0 = none) */
	/* SDR: the destination black list (docs/channels.md "Destination
	 * black list"), in the order the destinations were listed. */
	uint32_t nblk;
	struct fsm_chblk blk[FSM_CH_BLK_MAX];
};

/* SYNCQ record (receiver side). Key: (channel, sending queue manager). */
struct fsm_syncq {
	char name[FSM_CHNAME_MAX + 1];
	char rqmname[FSM_NAME_MAX + 1];
	uint64_t epoch; /* newest sender epoch seen */
	uint64_t lstseq; /* last committed message sequence number */
	uint64_t luwid; /* sender's id of that batch */
	int64_t last_ms; /* leader time of the last batch */
	uint64_t rinst; /* receiver instance: +1 by every CH_RECV_START with
			 * FSM_CHF_TAKEOVER; batches must carry it (0 = none yet) */
};

/* --- commands -------------------------------------------------------------
 * All are struct fsm_cmd with op set and `ch` filled (fsm_cmd.ch). */

/* Settle dispositions (CH_SETTLE.disp). */
/* DLQ: to the dead-letter queue (held if it cannot be). HOLD: back on the
 * xmitq, not got before now + hold_ms. LIST (destination black list): its
 * destination is listed (reason; retried alone from now + hold_ms) and the
 * message goes back on the xmitq at its place; LIST_DLQ: the same, but the
 * message goes to the dead-letter queue, and then the destination's next
 * message may be retried alone at once. With a full list, LIST and
 * LIST_DLQ act as HOLD and DLQ. */
enum fsm_disp { FSM_DISP_DLQ = 1, FSM_DISP_HOLD = 2, FSM_DISP_LIST = 3, FSM_DISP_LIST_DLQ = 4 };
struct fsm_chdisp {
	uint64_t seq; /* channel sequence number of a locked message */
	uint8_t action; /* enum fsm_disp */
	uint32_t reason; /* reason code for the dead-letter header / the list */
	uint32_t hold_ms; /* HOLD, LIST: not got again before now + hold_ms */
};

#define FSM_CHF_BACKOUT_REST 0x01 /* CH_SETTLE: back out locked > upto */
#define FSM_CHF_OPERATOR                                                                           \
	0x02 /* CH_SETTLE (RESOLVE): any epoch, channel must                                       \
	      * not be RUNNING/STARTING */
#define FSM_CHF_RESET 0x04 /* CH_RECV_START: set lstseq = seq - 1 */
#define FSM_CHF_TAKEOVER                                                                           \
	0x08 /* CH_RECV_START: a new receiver instance (rinst + 1) that fences                     \
	      * any other instance of the channel */
#define FSM_CHF_RETRY                                                                              \
	0x10 /* CHST_CAS (command format 3): a communications failure of the                       \
	      * instance (after: RETRYING, same owner and epoch). The state                        \
	      * machine counts it (retries + 1) and sets retry_at_ms from the                      \
	      * definition's SHORTTMR/LONGTMR, or makes the entry STOPPED when                     \
	      * SHORTRTY + LONGRTY retries are used up */
#define FSM_CHF_ALONE                                                                              \
	0x20 /* CH_GETBATCH (an optional trailing field): one message alone,                       \
	      * the oldest of the first listed destination that is due and                         \
	      * has none out (docs/channels.md "Destination black list") */
/* The immediate first retry after a RUNNING instance failed (at most once
 * per SHORTTMR; docs/channels.md). */
#define FSM_CH_RETRY_SOON_MS 200

struct fsm_chcmd {
	/* CHDEFINE/CHALTER */
	struct fsm_chattrs attrs;
	/* CHDELETE, CHST_CAS, CH_*: the key */
	char name[FSM_CHNAME_MAX + 1];
	char rqmname[FSM_NAME_MAX + 1]; /* RCVR entries and SYNCQ */
	uint8_t chltype; /* CHST_CAS: type of the entry (create) */
	/* QMGR_ALTER */
	struct fsm_qmgr_attrs qm;
	/* CHST_CAS */
	struct fsm_chimage before, after;
	char conname[FSM_ADDR_MAX + 1]; /* after: connection in use */
	char reason[FSM_REASON_MAX + 1];
	char partner[FSM_NAME_MAX + 1]; /* SDR, optional ("" = unchanged): the
					 * partner's queue manager name */
	/* CH_GETBATCH / CH_SETTLE / CH_RECV_*: the instance */
	uint32_t member_id;
	uint64_t epoch;
	uint32_t max_msgs; /* GETBATCH (1 with FSM_CHF_ALONE) */
	uint32_t max_bytes; /* GETBATCH, 0 = no limit */
	uint64_t seq; /* SETTLE: upto; RESET: new seq; RECV_START: reset seq;
		       * RECV_BATCH: first */
	uint64_t last; /* RECV_BATCH: last seq */
	uint64_t luwid; /* RECV_BATCH */
	uint64_t rinst; /* RECV_BATCH, optional (0 = none, old rule): the
			 * receiver instance from its CH_RECV_START */
	uint32_t flags; /* FSM_CHF_*; CHST_CAS: FSM_CHF_RETRY or 0;
			 * GETBATCH: FSM_CHF_ALONE or 0 */
	char local_qmgr[FSM_NAME_MAX + 1]; /* RECV_BATCH: the receiving group's
					    * name: messages for it are local */
	uint32_t count; /* SETTLE: dispositions; RECV_BATCH: messages */
	struct qsg_slice list; /* encoded dispositions or messages (below) */
	/* CHINIT_STATE */
	uint8_t chinit; /* 0 stopped, 1 running */
};

/* Encoded lists inside fsm_chcmd.list:
 *  dispositions: count x { u64 seq; u8 action; u32 reason; u32 hold_ms }
 *  messages:     count x { str rqmname; str rname; message (fsm_msg_encode,
 *                with expiry_ms relative: 0 = never) }
 * Iterate with these (return QSG_OK, or QSG_RC_BAD_FRAME at bad input; *done
 * set true after the last): each call yields one item with *done = 0; the
 * call after the last item yields none, sets *done = 1 and returns
 * QSG_RC_BAD_FRAME if bytes are left over (count and list disagree):
 *   for (;;) { if (fsm_chiter_msg(&it, &m, &done) != QSG_OK) bad;
 *              if (done) break; use(&m); } */
struct fsm_chiter {
	struct qsg_rbuf r;
	uint32_t left;
};
void fsm_chiter_init(struct fsm_chiter *it, const struct fsm_chcmd *ch);
int fsm_chiter_disp(struct fsm_chiter *it, struct fsm_chdisp *d, int *done);
struct fsm_chmsg {
	char rqmname[FSM_NAME_MAX + 1];
	char rname[FSM_NAME_MAX + 1];
	struct fsm_msg msg; /* slices point into the list */
};
int fsm_chiter_msg(struct fsm_chiter *it, struct fsm_chmsg *m, int *done);
void fsm_chlist_put_disp(struct qsg_wbuf *w, const struct fsm_chdisp *d);
void fsm_chlist_put_msg(struct qsg_wbuf *w, const struct fsm_chmsg *m);

/* --- the transmission and dead-letter headers ----------------------------
 * A message on a transmission queue has body = XQH + the original body; the
 * message's other fields (ids, priority, persistence, expiry, properties)
 * are the original's. A message on the dead-letter queue has body = DLH +
 * the original body (the XQH removed).
 *  XQH: "XQH " u8 version=1 str rqmname str rname str srcqmgr i64 put_ms
 *  DLH: "DLH " u8 version=1 u32 reason str destq str destqmgr i64 put_ms
 *       str channel
 * decode returns QSG_OK and the offset of the original body in *hdr_len. */
struct fsm_xqh {
	char rqmname[FSM_NAME_MAX + 1];
	char rname[FSM_NAME_MAX + 1];
	char srcqmgr[FSM_NAME_MAX + 1];
	int64_t put_ms;
};
struct fsm_dlh {
	uint32_t reason;
	char destq[FSM_NAME_MAX + 1];
	char destqmgr[FSM_NAME_MAX + 1];
	int64_t put_ms;
	char channel[FSM_CHNAME_MAX + 1];
};
void fsm_xqh_encode(struct qsg_wbuf *w, const struct fsm_xqh *h);
int fsm_xqh_decode(const void *body, size_t len, struct fsm_xqh *h, size_t *hdr_len);
void fsm_dlh_encode(struct qsg_wbuf *w, const struct fsm_dlh *h);
int fsm_dlh_decode(const void *body, size_t len, struct fsm_dlh *h, size_t *hdr_len);

/* --- results (fsm_result.ch) ---------------------------------------------- */
struct fsm_chresult {
	/* CHST_CAS with QSG_RC_CAS_FAILED: the entry's current image (rc is the
	 * failure; this is filled by fsm_result_decode from the result bytes,
	 * which carry the image also on failure). */
	struct fsm_chimage current;
	/* CH_GETBATCH: count messages in list, each { u64 seq; message with
	 * absolute expiry_ms }; iterate with fsm_chiter_batch. */
	uint32_t count;
	struct qsg_slice list;
	/* CH_RECV_START: SYNCQ state after the command */
	uint64_t epoch;
	uint64_t lstseq;
	uint64_t luwid;
	uint64_t rinst; /* with FSM_CHF_TAKEOVER: the new receiver instance */
	/* CH_RECV_BATCH: duplicate (already committed); with
	 * QSG_RC_BATCH_REJECTED: count x { u32 index; u32 reason } in list
	 * (iterate with fsm_chiter_reject) */
	uint8_t duplicate;
	/* CH_SETTLE: messages committed, backed out, disposed */
	uint32_t committed, backed_out, disposed;
	/* CHST_CAS with FSM_CHF_RETRY, recorded: the entry's retries and
	 * retry_at_ms after it, and the leader time of the entry that applied
	 * it (retry_at_ms - time_ms is the wait; 0 when STOPPED) */
	uint32_t retries;
	int64_t retry_at_ms;
	int64_t time_ms;
};
int fsm_chiter_batch(struct fsm_chiter *it, uint64_t *seq, struct fsm_msg *m, int *done);
int fsm_chiter_reject(struct fsm_chiter *it, uint32_t *index, uint32_t *reason, int *done);
void fsm_chiter_result(struct fsm_chiter *it, const struct fsm_chresult *res);

/* "STOPPED", "STARTING", ... ("INACTIVE" for 0 and unknown values), as
 * DISPLAY CHSTATUS and the logs show them. */
const char *fsm_chstate_name(uint8_t st);

/* --- queries (local replica) ---------------------------------------------- */
struct fsm;
int fsm_qmgr_get(struct fsm *f, struct fsm_qmgr_attrs *out);
int fsm_channel_get(struct fsm *f, const char *name, struct fsm_chattrs *out);
void fsm_channel_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_chattrs *c),
			 void *arg);
/* rqmname "" for SDR entries. */
int fsm_chstatus_get(struct fsm *f, const char *name, const char *rqmname,
		     struct fsm_chstatus *out);
/* In (name, rqmname) order. */
void fsm_chstatus_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_chstatus *s),
			  void *arg);
int fsm_syncq_get(struct fsm *f, const char *name, const char *rqmname, struct fsm_syncq *out);
void fsm_syncq_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_syncq *s), void *arg);
/* Grows by one with every change of a channel definition, status entry,
 * SYNCQ record, member state or channel-initiator state. */
uint64_t fsm_chan_generation(struct fsm *f);

#endif
