/* Channel protocol (version 1): between a sending channel instance (in some
 * member's channel initiator) and the receiving queue manager's group port.
 *
 * Frames use the client protocol's 12-byte header (proto.h: u32 len, u8
 * version, u8 op, u16 flags, u32 reqid), so one listener serves clients and
 * channels: a connection whose first frame is CHP_START is a channel.
 * proto_frame_check delimits frames. Bodies (little-endian, str = u16 len +
 * bytes, blob = u32 len + bytes):
 *
 *  CHP_START (sender -> receiver), reqid any:
 *    u8 chver(=1) str channel str sender_qmgr str receiver_qmgr ("" = any)
 *    u64 epoch u64 lstseq u64 indoubt_first u64 indoubt_last (0,0 = none)
 *    u64 reset_seq (0 = none) u32 batchsz u32 maxmsgl u32 hbint (s)
 *    u8 compmsg u32 pipeline
 *  CHP_START|RESP: u32 rc str text, and when rc == 0:
 *    str receiver_qmgr u32 member_id u64 lstseq u64 luwid u32 batchsz
 *    u32 maxmsgl u32 hbint u8 compmsg u32 pipeline  (negotiated values)
 *  CHP_MSG (sender -> receiver), one per message, no response:
 *    u64 seq u8 mflags (CHP_M_LAST: commit request and confirm;
 *    CHP_M_LZ4: body compressed) u64 luwid (with LAST) str rqmname str rname
 *    message: id[24] correlid[24] u8 priority u8 persistent
 *    i64 expiry (remaining ms, 0 = never) blob props
 *    blob body  (CHP_M_LZ4: u32 original length + LZ4 block)
 *  CHP_CONFIRM (receiver -> sender), one per batch, in batch order:
 *    u64 first u64 last u32 rc str text u32 n, n x { u64 seq u32 reason }
 *    rc 0: committed; QSG_RC_BATCH_REJECTED: nothing committed, the listed
 *    messages cannot be put; anything else: the receiver ends the channel.
 *  CHP_HB (either way) empty; CHP_HB|RESP empty.
 *  CHP_END (either way): u32 rc str text, then the sender of it closes.
 *
 * Decoders check every length and value and never trust input. */
#ifndef QSG_CHPROTO_H
#define QSG_CHPROTO_H

#include <stdint.h>

#include "../common/codec.h"
#include "../common/msg.h"
#include "../proto/proto.h"

#define CHP_VERSION 1

enum chp_op {
	CHP_START = 40,
	CHP_MSG = 41,
	CHP_CONFIRM = 42,
	CHP_HB = 43,
	CHP_END = 44,
};

#define CHP_M_LAST 0x01
#define CHP_M_LZ4 0x02

struct chp_start {
	uint8_t chver;
	char channel[FSM_CHNAME_MAX + 1];
	char sender_qmgr[FSM_NAME_MAX + 1];
	char receiver_qmgr[FSM_NAME_MAX + 1];
	uint64_t epoch;
	uint64_t lstseq;
	uint64_t indoubt_first, indoubt_last;
	uint64_t reset_seq;
	uint32_t batchsz;
	uint32_t maxmsgl;
	uint32_t hbint;
	uint8_t compmsg;
	uint32_t pipeline;
};

struct chp_start_resp {
	int rc;
	char text[QSG_ERRMSG_SIZE];
	char receiver_qmgr[FSM_NAME_MAX + 1];
	uint32_t member_id;
	uint64_t lstseq;
	uint64_t luwid;
	uint32_t batchsz;
	uint32_t maxmsgl;
	uint32_t hbint;
	uint8_t compmsg;
	uint32_t pipeline;
};

struct chp_msg {
	uint64_t seq;
	uint8_t mflags;
	uint64_t luwid;
	char rqmname[FSM_NAME_MAX + 1];
	char rname[FSM_NAME_MAX + 1];
	struct fsm_msg msg; /* expiry_ms: remaining ms, 0 = never. On decode the
			     * body is the decompressed body (in scratch) */
};

struct chp_reject {
	uint64_t seq;
	uint32_t reason;
};

struct chp_confirm {
	uint64_t first, last;
	int rc;
	char text[QSG_ERRMSG_SIZE];
	uint32_t nreject;
	struct qsg_slice rejects; /* raw; walk with chp_reject_next */
};

struct chp_end {
	int rc;
	char text[QSG_ERRMSG_SIZE];
};

/* Encoders append one whole frame (header included) to w; reqid is free for
 * the caller (echoed in responses). compress: CHP_MSG body with LZ4 when it
 * makes the body smaller (sets CHP_M_LZ4). */
void chp_start_encode(struct qsg_wbuf *w, uint32_t reqid, const struct chp_start *s);
void chp_start_resp_encode(struct qsg_wbuf *w, uint32_t reqid, const struct chp_start_resp *r);
void chp_msg_encode(struct qsg_wbuf *w, const struct chp_msg *m, int compress);
/* Confirm: rejects may be NULL when n == 0. */
void chp_confirm_encode(struct qsg_wbuf *w, uint64_t first, uint64_t last, int rc, const char *text,
			const struct chp_reject *rejects, uint32_t n);
void chp_hb_encode(struct qsg_wbuf *w, int response);
void chp_end_encode(struct qsg_wbuf *w, int rc, const char *text);

/* Decoders take one whole frame as delimited by proto_frame_check.
 * chp_frame_op returns the op byte (with PROTO_RESP if a response) and
 * checks the header version; <0 (a negated reason code) on a bad header. */
int chp_frame_op(const void *p, size_t len, uint32_t *reqid);
int chp_start_decode(const void *p, size_t len, struct chp_start *s, char *errmsg);
int chp_start_resp_decode(const void *p, size_t len, struct chp_start_resp *r, char *errmsg);
/* scratch receives the decompressed body (reset by the call); maxmsgl caps
 * the decompressed size. */
int chp_msg_decode(const void *p, size_t len, struct chp_msg *m, struct qsg_wbuf *scratch,
		   uint32_t maxmsgl, char *errmsg);
int chp_confirm_decode(const void *p, size_t len, struct chp_confirm *c, char *errmsg);
/* Returns 1 and fills *r, 0 at the end, <0 on malformed data. */
int chp_reject_next(const struct chp_confirm *c, size_t *cursor, struct chp_reject *r);
int chp_end_decode(const void *p, size_t len, struct chp_end *e, char *errmsg);

/* Whether a frame (delimited by proto_frame_check) is a channel START: the
 * client listener's test for "this connection is an inbound channel". Looks
 * at the op byte of the header only. */
bool chp_is_start(const uint8_t *p, size_t len);

#endif
