/* Client protocol (version 1): between applications (libqsg, tools) and a
 * member, and between members (a follower forwarding commands to the leader).
 *
 * Every frame, request or response:
 *   u32 len       bytes that follow this field (8 .. PROTO_MAX_FRAME)
 *   u8  version   PROTO_VERSION
 *   u8  op        enum proto_op; a response has PROTO_RESP set
 *   u16 flags     0 (reserved)
 *   u32 reqid     chosen by the requester, echoed in the response
 *   ...body
 * A response body always starts with: u32 rc; str text (the reason on failure;
 * optional information on success, e.g. an ADMIN message);
 * the op-specific fields follow only when rc == QSG_OK.
 * Responses may come in any order; match them by reqid.
 * See docs/protocol.md for every body. */
#ifndef QSG_PROTO_H
#define QSG_PROTO_H

#include <stdint.h>

#include "../common/codec.h"
#include "../common/qsg_err.h"
#include "../common/msg.h"

#define PROTO_VERSION 1
/* BACKOUT flags: leave BackoutCount alone (an AMQP released outcome;
 * FSM_OP_BACKOUT_UNCOUNTED once the group is at command level 5). */
#define PROTO_BACKOUT_UNCOUNTED 0x1u
#define PROTO_HDR_SIZE 12 /* including the length field */
#define PROTO_MAX_FRAME (FSM_MAX_MSGL + FSM_MAX_PROPS + 4096)
#define PROTO_MAX_TEXT 65535
#define PROTO_RESP 0x80
#define PROTO_MAX_APP 256 /* HELLO application name */
/* HELLO credentials (optional, docs/security.md "Authentication"). */
#define PROTO_MAX_USER 64
#define PROTO_MAX_PASSWORD 256

enum proto_op {
	PROTO_HELLO = 1,
	PROTO_PUT = 2,
	PROTO_GET = 3,
	PROTO_BROWSE = 4,
	PROTO_COMMIT = 5,
	PROTO_BACKOUT = 6,
	PROTO_OPEN = 7,
	PROTO_CLOSE = 8,
	PROTO_ADMIN = 9,
	PROTO_PING = 10,
	PROTO_FORWARD = 20, /* member -> leader: encoded fsm commands */
	PROTO_FETCH = 21, /* member -> member: message bodies by seqno (catch-up) */
	PROTO_FETCH_BASE = 22, /* member -> member: a chunk of a base file (delta snapshots) */
	/* Large messages (docs/protocol.md, "Large messages"). */
	PROTO_PUT_CHUNK = 30, /* one part of a chunked put */
	PROTO_GETX = 31, /* GET whose reply may be part 0 of a chunked message */
	PROTO_BROWSEX = 32, /* BROWSE, likewise */
	PROTO_GET_PART = 33, /* one part of a chunked message, from the member's store */
	PROTO_GET_DONE = 34, /* the parts of a message got outside syncpoint are in */
};

/* Largest data blob of PUT_CHUNK / GET_PART: one part's body bytes
 * (FSM_CHUNK_MAX) and, for part 0, the properties. */
#define PROTO_PART_MAX (FSM_CHUNK_MAX + FSM_MAX_PROPS)

/* FETCH: a request names 1..PROTO_FETCH_MAX seqnos, strictly ascending; a
 * response answers a prefix of them, in order, and stops adding bodies
 * before its content would pass PROTO_FETCH_CONTENT (its first body is
 * always included). */
#define PROTO_FETCH_MAX 4096
#define PROTO_FETCH_CONTENT (1u << 20)
#define PROTO_FETCH_MAX_LEN (FSM_MAX_MSGL + FSM_MAX_PROPS) /* one content */

/* FETCH_BASE: at most PROTO_BASE_CHUNK bytes of a base file per answer. */
#define PROTO_BASE_CHUNK (1u << 20)

enum proto_peer_kind { PROTO_KIND_CLIENT = 1, PROTO_KIND_MEMBER = 2 };

/* One admin reply object: DISPLAY output is a list of objects, each a list
 * of attribute/value pairs (MQSC names, e.g. "QUEUE", "CURDEPTH"). */
struct proto_attr {
	struct qsg_slice name;
	struct qsg_slice value;
};

struct proto_req {
	uint8_t op;
	uint32_t reqid;
	union {
		struct { /* HELLO */
			uint8_t kind; /* enum proto_peer_kind */
			uint64_t client_id; /* client: stable across reconnects; never 0 */
			uint32_t member_id; /* member: the forwarding member's Raft id */
			struct qsg_slice app; /* application name (informational) */
			/* Optional credentials, appended after app: present
			 * when user.len > 0 (1..PROTO_MAX_USER bytes, the
			 * password 0..PROTO_MAX_PASSWORD). A HELLO without
			 * them is the HELLO of older clients. */
			struct qsg_slice user;
			struct qsg_slice password;
		} hello;
		struct { /* PUT, PUT_CHUNK */
			char queue[FSM_NAME_MAX + 1];
			uint64_t seq; /* producer sequence, 1, 2, 3 ... per client_id */
			uint32_t flags; /* FSM_F_SYNCPOINT|PERSISTENT|PERSIST_DEFAULT|GEN_MSGID */
			struct fsm_msg msg; /* msgid, correlid, priority, expiry_ms (TTL),
					     * props, body (PUT_CHUNK: this part's
					     * body bytes) */
			/* PUT_CHUNK: seqno (0 for part 0, else the one the
			 * part 0 reply gave), part, total body length */
			uint64_t seqno;
			uint32_t part;
			uint32_t total;
		} put;
		struct { /* GET and BROWSE */
			char queue[FSM_NAME_MAX + 1];
			uint32_t flags; /* FSM_F_SYNCPOINT|MATCH_MSGID|MATCH_CORRELID */
			int32_t wait_ms; /* GET: 0 = no wait, -1 = forever */
			struct fsm_msg match; /* msgid, correlid; BROWSE cursor in
					       * priority/seqno */
		} get;
		struct { /* COMMIT */
			uint64_t uow; /* uow number: uows_done + 1 at HELLO, +1 per commit */
		} commit;
		struct { /* BACKOUT: an optional u32 of PROTO_BACKOUT_* flags
			  * (absent: 0; a frame without it is what every
			  * client before sends) */
			uint32_t flags;
		} backout;
		struct { /* OPEN / CLOSE */
			char queue[FSM_NAME_MAX + 1];
		} open;
		struct { /* ADMIN */
			struct qsg_slice text; /* one MQSC command */
		} admin;
		struct { /* FORWARD */
			uint32_t member_id;
			struct qsg_slice cmd; /* one encoded fsm command */
		} forward;
		struct { /* GET_PART (all), GET_DONE (seqno) */
			uint64_t seqno;
			uint32_t part; /* 1 .. nparts - 1 (0 is allowed) */
			uint32_t len; /* the part's content length */
			uint32_t crc; /* its CRC32C, from the GETX reply */
		} part;
		struct { /* FETCH_BASE: the base file (index, size, crc: its
			  * struct fsm_baseref), from offset, at most max bytes */
			uint64_t index, size, offset;
			uint32_t crc, max; /* max 1..PROTO_BASE_CHUNK */
		} base;
		struct { /* FETCH */
			uint32_t count; /* 1..PROTO_FETCH_MAX */
			/* Encoding: count seqnos, strictly ascending; when NULL,
			 * raw is encoded instead. */
			const uint64_t *seqnos;
			/* Decoding: count x u64 little-endian, checked; read
			 * them with proto_fetch_seqno. */
			struct qsg_slice raw;
		} fetch;
	} u;
};

struct proto_resp {
	uint8_t op; /* request op (without PROTO_RESP) */
	uint32_t reqid;
	int rc;
	struct qsg_slice text; /* reason text; on success optional information */
	union {
		struct { /* HELLO */
			uint64_t epoch;
			uint64_t put_seq;
			uint64_t uows_done;
			uint32_t member_id;
			struct qsg_slice qmgr; /* queue manager name of the member */
			struct qsg_slice group; /* queue-sharing group name */
		} hello;
		struct { /* PUT, PUT_CHUNK (+ seqno) */
			uint8_t duplicate;
			uint8_t msgid[FSM_ID_LEN];
			uint64_t seqno;
		} put;
		struct { /* GET / BROWSE, GETX / BROWSEX */
			struct fsm_msg msg;
			/* GETX/BROWSEX: nparts > 1 when the message is chunked:
			 * msg.body is part 0's body bytes, body_len the whole
			 * body's length, part_crc nparts u32 LE crcs. */
			uint32_t nparts;
			uint32_t body_len;
			struct qsg_slice part_crc;
		} get;
		struct { /* GET_PART */
			struct qsg_slice data;
		} part;
		struct { /* ADMIN: n objects, each n attrs; decoded lazily */
			uint32_t nobjects;
			struct qsg_slice objects; /* raw encoding, see proto_admin_next */
		} admin;
		struct { /* FORWARD */
			struct qsg_slice result; /* one encoded fsm result */
		} forward;
		struct { /* FETCH_BASE: the bytes at offset and their CRC32C
			  * (checked at decode) */
			uint64_t offset;
			uint32_t crc;
			struct qsg_slice data;
		} base;
		struct { /* FETCH: count answers; walk them with proto_fetch_next */
			uint32_t count;
			struct qsg_slice items; /* raw encoding, checked at decode */
		} fetch;
	} u;
};

/* Framing. Given `avail` bytes at p, returns QSG_OK and sets *frame_len to
 * the whole frame's size (header included) when a complete frame is there;
 * QSG_OK with *frame_len = 0 when more bytes are needed; QSG_RC_FRAME_TOO_LARGE
 * or QSG_RC_BAD_FRAME when the length field is out of range. */
int proto_frame_check(const void *p, size_t avail, size_t *frame_len);

/* Frame-header helpers, one implementation for the client protocol and the
 * channel protocol (src/chan), whose frames use the same 12-byte header.
 * begin appends a header with a zero length and returns its offset; patch
 * writes the length of the frame begun at off and returns QSG_OK, or
 * QSG_RC_FRAME_TOO_LARGE (nothing written) when the frame is over
 * PROTO_MAX_FRAME. */
size_t proto_frame_begin(struct qsg_wbuf *w, uint8_t op, uint32_t reqid);
int proto_frame_patch(struct qsg_wbuf *w, size_t off);
/* Read and check the header of one whole frame of len bytes at p: length
 * field, PROTO_MAX_FRAME and version (not the op: each protocol checks its
 * own). h is filled (op raw, PROTO_RESP included) whenever the header could
 * be read, else zeroed. `what` names the frame in the error message
 * ("frame", "channel frame"). */
struct proto_hdr {
	uint32_t len;
	uint8_t version;
	uint8_t op;
	uint32_t reqid;
};
int proto_frame_header(const void *p, size_t len, const char *what, struct proto_hdr *h,
		       char *errmsg);
/* End of a body named opname: the reader must have no error and nothing
 * left over. */
int proto_body_end(const struct qsg_rbuf *r, const char *opname, char *errmsg);

/* Encode a whole frame (header included) by appending to w. */
int proto_req_encode(const struct proto_req *req, struct qsg_wbuf *w);
int proto_resp_encode(const struct proto_resp *resp, struct qsg_wbuf *w);

/* Decode one whole frame (as delimited by proto_frame_check). Slices point
 * into p. Errors: QSG_RC_BAD_FRAME, QSG_RC_BAD_VERSION, QSG_RC_UNKNOWN_OP,
 * with a message. On error req->op and req->reqid are set when the header
 * could be read, so the server can answer with the reason. */
int proto_req_decode(const void *p, size_t len, struct proto_req *req, char *errmsg);
int proto_resp_decode(const void *p, size_t len, struct proto_resp *resp, char *errmsg);

/* Admin reply objects. The server builds with begin/attr/end (any number of
 * objects); a client walks them with proto_admin_next. */
struct proto_admin_writer {
	struct qsg_wbuf buf;
	uint32_t nobjects;
	size_t obj_off; /* offset of the current object's attr count */
	uint32_t nattrs;
};
void proto_admin_init(struct proto_admin_writer *aw);
void proto_admin_close(struct proto_admin_writer *aw);
void proto_admin_begin(struct proto_admin_writer *aw);
void proto_admin_attr(struct proto_admin_writer *aw, const char *name, const char *value);
void proto_admin_end(struct proto_admin_writer *aw);
/* Attach the writer's objects to a response (resp keeps pointers into aw). */
void proto_admin_to_resp(struct proto_admin_writer *aw, struct proto_resp *resp);

/* Iterate objects of an admin response: returns 1 and fills up to max attrs
 * (*nattrs = count in the object, may exceed max: the extra are skipped),
 * 0 at the end, negative reason code on malformed data. *cursor starts at 0. */
int proto_admin_next(const struct proto_resp *resp, size_t *cursor, struct proto_attr *attrs,
		     size_t max, size_t *nattrs);

/* ---- FETCH ---- */

/* The i-th seqno of a decoded FETCH request (i < count). */
uint64_t proto_fetch_seqno(const struct proto_req *req, uint32_t i);

/* One answer of a FETCH response: content = props || body, crc its CRC32C
 * (as the message store keeps it); crc and content only when found. */
struct proto_fetch_item {
	uint64_t seqno;
	uint8_t found; /* 0 or 1 */
	uint32_t crc;
	struct qsg_slice content;
};

/* The server builds a response with add (answers in request order); the
 * writer enforces the limits. */
struct proto_fetch_writer {
	struct qsg_wbuf buf;
	uint32_t count;
	uint64_t content; /* bytes of content so far */
	uint64_t last; /* seqno of the last answer */
};
void proto_fetch_writer_init(struct proto_fetch_writer *fw);
void proto_fetch_writer_close(struct proto_fetch_writer *fw);
/* Append one answer. QSG_OK; QSG_RC_DATA_LENGTH_ERROR when the response is
 * full (PROTO_FETCH_MAX answers, or this content would take the total
 * past PROTO_FETCH_CONTENT and is not the first answer), nothing appended:
 * the response ends there; QSG_RC_INVALID for a seqno not above the
 * previous one, found not 0/1 or content over PROTO_FETCH_MAX_LEN;
 * QSG_RC_STORAGE_NOT_AVAILABLE out of memory. */
int proto_fetch_add(struct proto_fetch_writer *fw, const struct proto_fetch_item *it);
/* Attach the writer's answers to a response (resp keeps pointers into fw). */
void proto_fetch_to_resp(struct proto_fetch_writer *fw, struct proto_resp *resp);
/* Walk the answers of a FETCH response: returns 1 and fills *it, 0 at the
 * end, -QSG_RC_BAD_FRAME on malformed data. *cursor starts at 0. */
int proto_fetch_next(const struct proto_resp *resp, size_t *cursor, struct proto_fetch_item *it);

#endif
