/* AMQP 1.0 messages and outcomes as the group knows them (docs/protocols.md,
 * "AMQP 1.0"): the pure part of the AMQP endpoint, no I/O, no libuv.
 *
 * - amqp_msg_from_wire: an encoded AMQP message (the bytes of a transfer)
 *   -> a struct fsm_msg: header -> persistence, priority, expiry;
 *   properties' message-id/correlation-id -> MsgId/CorrelId (amqp_id_map);
 *   the message-annotations, properties and application-properties
 *   sections, kept verbatim, -> the properties area (after the "AMQ1"
 *   magic and the body kind); one data section -> the body bytes, an
 *   amqp-value string -> its UTF-8 bytes, an amqp-value binary -> its
 *   bytes, any other body -> its sections verbatim.
 * - amqp_msg_to_wire: the reverse for a delivery: a header (durable,
 *   priority, delivery-count = BackoutCount), the kept sections (or, for a
 *   message put by libqsg, a properties section with MsgId/CorrelId as
 *   binary ids), the body.
 * - amqp_outcome_action: a receiver's outcome -> what the group does.
 *
 * Every length is checked; a malformed message is refused with an AMQP
 * error condition name and text (errmsg). Callers: amqpconn.c, tests,
 * the fuzz target. Uses proton's codec (pn_data_t) only. */
#ifndef QSG_AMQP_AMQPMSG_H
#define QSG_AMQP_AMQPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

#define AMQP_PROPS_MAGIC "AMQ1"
#define AMQP_PROPS_HDR 5 /* magic + body kind */

enum amqp_body_kind {
	AMQP_BODY_DATA = 0, /* one data section: the body is its bytes */
	AMQP_BODY_STRING = 1, /* an amqp-value string: the body is its UTF-8 */
	AMQP_BODY_RAW = 2, /* anything else: the body sections verbatim */
	AMQP_BODY_BINARY = 3, /* an amqp-value binary: the body is its bytes */
};

/* Section descriptor codes (AMQP 1.0 part 3). */
#define AMQP_SEC_HEADER 0x70
#define AMQP_SEC_DELIVERY_ANN 0x71
#define AMQP_SEC_MESSAGE_ANN 0x72
#define AMQP_SEC_PROPERTIES 0x73
#define AMQP_SEC_APP_PROPS 0x74
#define AMQP_SEC_DATA 0x75
#define AMQP_SEC_SEQUENCE 0x76
#define AMQP_SEC_VALUE 0x77
#define AMQP_SEC_FOOTER 0x78

/* An incoming message. m.props and m.body point into buf (owned). */
struct amqp_in {
	struct fsm_msg m;
	bool has_msgid; /* the message carried a message-id */
	bool has_correlid;
	uint8_t *buf;
};

/* errcond: the AMQP error condition for a refusal ("amqp:decode-error",
 * "amqp:message-size-exceeded"); errmsg: QSG_ERRMSG_MAX text. Returns
 * QSG_OK or QSG_RC_BAD_FRAME / QSG_RC_MSG_TOO_BIG_FOR_Q. */
int amqp_msg_from_wire(const uint8_t *p, size_t n, struct amqp_in *out, const char **errcond,
		       char *errmsg);
void amqp_in_close(struct amqp_in *in);

/* Encode m for a delivery; *out is malloc'd (free it). QSG_OK or
 * QSG_RC_STORAGE_NOT_AVAILABLE (memory). */
int amqp_msg_to_wire(const struct fsm_msg *m, uint8_t **out, size_t *outlen);

/* Named properties of a message that has no AMQP sections (the gateway
 * property format of STOMP, src/gw/gwprops.h) -> a properties area for
 * amqp_msg_to_wire: "AMQ1", body kind data, a properties section with
 * MsgId/CorrelId as binary ids, and an application-properties map of the
 * names to their values (string when valid UTF-8, else binary). *out is
 * malloc'd. QSG_OK, QSG_RC_MSG_TOO_BIG (over FSM_MAX_PROPS) or
 * QSG_RC_STORAGE_NOT_AVAILABLE. */
struct amqp_prop {
	struct qsg_slice name, value;
};
int amqp_props_from_pairs(const struct fsm_msg *m, const struct amqp_prop *p, size_t n,
			  uint8_t **out, size_t *outlen);

/* An AMQP message-id or correlation-id (the bytes of a ulong big-endian, a
 * uuid, a binary or a string) -> 24 bytes: up to 24 bytes are copied and
 * padded with zeros; longer ids become the first 24 bytes of their
 * SHA-256, so that selection by a long correlation id still uses the
 * index (the same mapping is applied to the selector). */
void amqp_id_map(const uint8_t *p, size_t n, uint8_t out[FSM_ID_LEN]);

/* What a receiver's outcome does to an unsettled delivery. */
enum amqp_act {
	AMQP_ACT_NONE = 0, /* not terminal (received), or unknown */
	AMQP_ACT_CONSUME = 1, /* accepted: consumed (commit) */
	AMQP_ACT_RELEASE = 2, /* released, modified without delivery-failed:
			       * back on the queue, BackoutCount unchanged */
	AMQP_ACT_BACKOUT = 3, /* modified(delivery-failed): backed out,
			       * BackoutCount + 1 (BOTHRESH/BOQNAME apply) */
	AMQP_ACT_DEADLETTER = 4, /* rejected: to the dead-letter queue */
};
/* outcome: PN_ACCEPTED ... PN_MODIFIED (the disposition type codes
 * 0x24..0x27), delivery_failed: modified's flag. */
enum amqp_act amqp_outcome_action(uint64_t outcome, bool delivery_failed);
const char *amqp_act_name(enum amqp_act a);

/* Transactions (AMQP 1.0 part 4): the coordinator's controls, the
 * declared and transactional states. */
#define AMQP_CTRL_DECLARE 0x31
#define AMQP_CTRL_DISCHARGE 0x32
#define AMQP_STATE_DECLARED 0x33
#define AMQP_STATE_TXN 0x34
/* What amqp_be_ops.txn is asked to do (amqpconn.h). */
enum amqp_txn_op { AMQP_TXN_DECLARE = 1, AMQP_TXN_COMMIT = 2, AMQP_TXN_ABORT = 3 };
/* A control message on the coordinator link (the encoded message): its
 * amqp-value's declare or discharge (with the transaction and fail flag:
 * COMMIT or ABORT), by ulong or symbol descriptor; 0 when it is neither.
 * *txn: the discharged transaction (UINT64_MAX: not an 8-byte id). */
enum amqp_txn_op amqp_ctrl_parse(const uint8_t *p, size_t n, uint64_t *txn);
/* Transaction ids are 8-byte binaries (big-endian). */
struct pn_data_t;
void amqp_put_txn_id(struct pn_data_t *d, uint64_t id);
/* The transaction of a transactional-state on a delivery's remote side
 * (0: not transactional; UINT64_MAX: malformed); *outcome: its outcome's
 * type (0 none), *failed: modified's delivery-failed. */
struct pn_delivery_t;
uint64_t amqp_txn_state(struct pn_delivery_t *d, uint64_t *outcome, bool *failed);

/* The dead-letter reason of a message a consumer rejected
 * (docs/protocols.md "Dead-letter reason"): MQ's MQFB_APPL_FIRST, the
 * first feedback code an application may set. */
#define AMQP_DLQ_REASON_REJECTED 65536
#define AMQP_DLQ_REASON "x-opt-qsg-dlq-reason" /* int */
#define AMQP_DLQ_TEXT "x-opt-qsg-dlq-text" /* string */
#define AMQP_DLQ_QUEUE "x-opt-qsg-dlq-queue" /* string: where it was rejected */
/* A properties area put through AMQP ("AMQ1") with the dead-letter
 * reason in its message-annotations: those three keys (replaced when
 * there), the other entries kept byte for byte; a message-annotations
 * section is added when it has none. *out is malloc'd. QSG_OK,
 * QSG_RC_BAD_FRAME (not AMQ1, or a section that does not decode),
 * QSG_RC_MSG_TOO_BIG (over FSM_MAX_PROPS) or
 * QSG_RC_STORAGE_NOT_AVAILABLE. */
int amqp_props_dlq(const uint8_t *props, size_t plen, int32_t reason, const char *text,
		   const char *queue, uint8_t **out, size_t *outlen);

/* The AMQP error condition for a reason code ("amqp:not-found" ...). */
const char *amqp_rc_condition(int rc);

#endif
