/* The message and the names: what the wire protocols (client protocol in
 * src/proto, channel protocol in src/chan) share with the state machine
 * (src/fsm). The limits on names and messages, the PUT/GET/BROWSE flags a
 * client sends, the message layout (struct fsm_msg) with its codec, and the
 * object-name check. Callers: src/fsm, src/proto, src/chan, src/libqsg,
 * src/qsgd and the tools; it includes only codec.h and qsg_err.h, so the
 * client library is built without the state machine's header.
 *
 * Why the names keep their fsm_/FSM_ prefix: these identifiers were born in
 * fsm.h and are used all over the tree (the daemon, the tools, the tests,
 * the branches being merged). Only their home moved; fsm.h includes this
 * header, so every user of fsm.h still sees them, and renaming them would
 * touch hundreds of lines for no change of meaning. The layout is the state
 * machine's message as results, client replies and channel lists carry it. */
#ifndef QSG_COMMON_MSG_H
#define QSG_COMMON_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "qsg_err.h"

/* --- names and sizes ----------------------------------------------------- */
#define FSM_NAME_MAX 48 /* MQ object names: 48 characters */
#define FSM_ID_LEN 24 /* MQ MsgId / CorrelId length */
#define FSM_MAX_MSGL (100u * 1024 * 1024) /* hard cap for MAXMSGL */
#define FSM_MAX_PROPS (64u * 1024)

/* Large messages: a body over FSM_CHUNK_MAX bytes may be put in parts
 * (PUT_CHUNK). Part i holds body bytes [i * FSM_CHUNK_MAX, (i + 1) *
 * FSM_CHUNK_MAX); part 0 also carries the properties, first. Every part but
 * the last is exactly FSM_CHUNK_MAX bytes of body (= STORE_CHUNK_MAX). The split is the same in the
 * state machine (PUT_CHUNK), the client protocol and libqsg. */
#define FSM_CHUNK_MAX (1024u * 1024)
#define FSM_MAX_PARTS ((FSM_MAX_MSGL + FSM_CHUNK_MAX - 1) / FSM_CHUNK_MAX)
/* Parts of a body of body_len bytes (>= 1), and the content length of part
 * i (props included for part 0). */
uint32_t fsm_nparts(uint32_t body_len);
uint32_t fsm_part_len(uint32_t props_len, uint32_t body_len, uint32_t part);

/* --- channel limits the channel protocol checks (fsm_chan.h) -------------- */
#define FSM_CHNAME_MAX 20 /* MQ channel names: 20 characters */
#define FSM_MAX_CHBATCH 9999 /* BATCHSZ upper bound */
#define FSM_CH_MAX_PIPELINE 64 /* batches in flight */
enum fsm_compmsg { FSM_COMP_NONE = 0, FSM_COMP_LZ4 = 1 };

/* --- PUT/GET/BROWSE flags (client requests and state-machine commands) ---
 * The other FSM_F_* bits (definitions) are in fsm.h. */
#define FSM_F_SYNCPOINT 0x0001 /* PUT/GET inside the session's uow */
#define FSM_F_PERSISTENT 0x0002 /* PUT: persistent message */
#define FSM_F_PERSIST_DEFAULT 0x0004 /* PUT: take persistence from DEFPSIST */
#define FSM_F_MATCH_MSGID 0x0008 /* GET/BROWSE: match msg.msgid */
#define FSM_F_MATCH_CORRELID 0x0010 /* GET/BROWSE: match msg.correlid */
#define FSM_F_GEN_MSGID 0x0020 /* PUT: the state machine generates msgid */

/* --- the message --------------------------------------------------------- */

/* A message. In commands and results body/props point into the entry or the
 * result buffer (not owned). */
struct fsm_msg {
	uint8_t msgid[FSM_ID_LEN];
	uint8_t correlid[FSM_ID_LEN];
	uint8_t priority; /* 0..9 */
	uint8_t persistent; /* 0/1 */
	int64_t expiry_ms; /* PUT: relative TTL, 0 = never; results: absolute time, 0 = never */
	int64_t put_time_ms; /* results: time of the PUT's entry */
	uint32_t backout_count;
	uint64_t seqno; /* group-wide message number assigned at PUT apply */
	struct qsg_slice props;
	struct qsg_slice body;
};

/* The message layout used in results and client replies (shared codec):
 * ids, priority, persistent, expiry, put time, backout count, seqno, props,
 * body. decode validates priority <= 9 and persistent <= 1. */
void fsm_msg_encode(struct qsg_wbuf *w, const struct fsm_msg *m);
void fsm_msg_decode(struct qsg_rbuf *r, struct fsm_msg *m);

/* --- names ---------------------------------------------------------------
 * An MQ object or channel name: 1..max characters of [A-Za-z0-9._/%]; the
 * empty string only when empty_ok. The one check of the tree: the state
 * machine's fsm_name_valid and the channel protocol use it. */
bool qsg_name_ok(const char *s, size_t max, bool empty_ok);

#endif
