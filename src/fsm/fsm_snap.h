/* State machine, snapshots: the message codec shared by the full snapshot
 * (fsm_snapshot.c) and the delta snapshot (fsm_delta.c): a descriptor in
 * formats 2 to 6 and its decoder. Internal to src/fsm. */
#ifndef QSG_FSM_SNAP_H
#define QSG_FSM_SNAP_H

#include "fsm_int.h"

/* The encoder's state: the format being written and, for format 6, the
 * seqno and put time of the message written last (deltas). */
struct snapw {
	struct qsg_wbuf *out;
	uint8_t version; /* 5 or 6 */
	uint64_t seqno;
	int64_t time;
};

/* Format 6 message flags (u8). */
#define SM_PERSISTENT 0x01
#define SM_MSGID 0x02 /* msgid follows (absent: msgid_gen(seqno, put time)) */
#define SM_CORRELID 0x04 /* correlid follows (absent: zero) */
#define SM_EXPIRY 0x08 /* svar expiry follows (absent: 0) */
#define SM_BACKOUT 0x10 /* uvar backout count follows (absent: 0) */
#define SM_HOLD 0x20 /* svar hold_until follows (absent: 0) */
#define SM_PARTS 0x40 /* part table follows (absent: not chunked) */
#define SM_KNOWN 0x7f
#define SM_MAX_FIXED (2 + 4 * QSG_UVAR_MAX + 4 + 2 * FSM_ID_LEN + 3 * QSG_UVAR_MAX)

/* Restore: the messages of the new state in decode order (the snapshot is
 * canonical, so the order is deterministic), with their content when the
 * snapshot has it (format 2). */
struct rmsg {
	struct qsg_slice props, body;
};

/* The part table of a format 4 message (nparts 0: not chunked). */
struct rchunk {
	uint32_t nparts, nrecv;
	uint64_t pseq;
	uint32_t crc[FSM_MAX_PARTS];
};

struct rctx {
	uint8_t version; /* 2 to 6 */
	uint64_t seqno; /* format 6: of the message decoded last */
	int64_t time;
	struct rchunk ck; /* of the message decoded last */
	struct qmsg **m; /* every message, in decode order */
	struct rmsg *v; /* format 2 only: their content */
	size_t n, cap;
};

extern const uint8_t snap_zero_id[FSM_ID_LEN];

/* m in the format sw->version (3 to 6) to sw->out. */
void snap_msg(const struct fsm *f, struct snapw *sw, const struct qmsg *m);
/* One message: a format 6 message, a format 3-5 descriptor, or a format 2
 * message with its content (crc computed); then hold_until. Sets r->err on
 * bad values. x->ck gets its part table. */
void snap_msg_decode(struct qsg_rbuf *r, struct rctx *x, struct fsm_msg *v, uint32_t *crc,
		     int64_t *hold);
/* msg_new for a decoded message, with x->ck's part table. A part table
 * still receiving parts is allowed only where `partial_ok` (a held put). */
struct qmsg *snap_msg_new(struct fsm *g, const struct rctx *x, const struct fsm_msg *v,
			  uint32_t crc, int64_t hold, bool partial_ok, char *errmsg);
/* The next message of a run kept in get order (snap_run_msg in
 * fsm_snapmsg.c). */
int snap_run_msg(struct fsm *g, struct qsg_rbuf *r, struct rctx *x, const struct qmsg *last,
		 const char *kind, const char *name, const char *bad, const char *order,
		 struct fsm_msg *v, struct qmsg **mp, char *errmsg);
/* Remember m (linked into the new state) for the provider calls. */
int rctx_add(struct rctx *x, struct qmsg *m, const struct fsm_msg *v, char *errmsg);

/* Delta snapshots (fsm_delta.c). */
int delta_write_head(struct fsm *f, struct qsg_wbuf *out, const struct fsm_baseref *ref);
int delta_write_queue(struct fsm *f, struct snapw *sw, const struct queue *q);
/* The reader of a base (a full snapshot, format 8 or later) during the
 * restore of a delta against it: its queues' messages in step with the
 * delta's queues, what the delta removed filtered out. */
struct basecur {
	struct qsg_rbuf r;
	struct rctx x; /* the base's message decoding state */
	uint64_t last_seqno; /* the base's */
	uint32_t nq, qi; /* queues in the base, read so far */
	bool have_q; /* a's header read, its messages not all read */
	struct fsm_qattrs a;
	uint32_t left; /* messages of a not read yet */
	struct fsm_msg v; /* the message read last */
	uint32_t crc;
	int64_t hold;
	/* From the delta's head. */
	struct fsm_baseref ref;
	uint64_t base_max;
	uint64_t *removed; /* sorted */
	size_t nremoved;
	struct dtcleared *cleared; /* sorted */
	size_t ncleared;
};
int basecur_open(struct basecur *bc, const void *base, size_t blen, char *errmsg);
void basecur_close(struct basecur *bc);
int delta_read_head(struct qsg_rbuf *r, struct basecur *bc, uint64_t last_seqno, char *errmsg);
/* Queue q's messages: nm of the delta's merged with the base's. */
int delta_restore_queue(struct fsm *g, struct qsg_rbuf *r, struct rctx *x, struct basecur *bc,
			struct queue *q, uint32_t nm, char *errmsg);

#endif
