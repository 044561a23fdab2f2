/* Unit tests for src/proto: round trips, framing, hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto.h"

#define SL(s) ((struct qsg_slice){(const uint8_t *)(s), sizeof(s) - 1})

static const uint8_t req_ops[] = {PROTO_HELLO,	PROTO_PUT,     PROTO_GET,    PROTO_BROWSE,
				  PROTO_COMMIT, PROTO_BACKOUT, PROTO_OPEN,   PROTO_CLOSE,
				  PROTO_ADMIN,	PROTO_PING,    PROTO_FORWARD};
#define NOPS (sizeof req_ops / sizeof req_ops[0])

static void fill_id(uint8_t *id, uint8_t seed)
{
	for (int i = 0; i < FSM_ID_LEN; i++)
		id[i] = (uint8_t)(seed + i);
}

static void sample_req(uint8_t op, struct proto_req *q)
{
	memset(q, 0, sizeof *q);
	q->op = op;
	q->reqid = 0x01020304u + op;
	switch (op) {
	case PROTO_HELLO:
		q->u.hello.kind = PROTO_KIND_CLIENT;
		q->u.hello.client_id = 0xfedcba9876543210ULL;
		q->u.hello.member_id = 3;
		q->u.hello.app = SL("test-app");
		break;
	case PROTO_PUT:
		strcpy(q->u.put.queue, "APP.QUEUE.1");
		q->u.put.seq = 42;
		q->u.put.flags = FSM_F_PERSISTENT | FSM_F_SYNCPOINT;
		fill_id(q->u.put.msg.msgid, 1);
		fill_id(q->u.put.msg.correlid, 100);
		q->u.put.msg.priority = 7;
		q->u.put.msg.expiry_ms = 60000;
		q->u.put.msg.props = SL("k=v");
		q->u.put.msg.body = SL("hello world");
		break;
	case PROTO_GET:
	case PROTO_BROWSE:
		strcpy(q->u.get.queue, "Q");
		q->u.get.flags = FSM_F_MATCH_CORRELID;
		q->u.get.wait_ms = op == PROTO_GET ? -1 : 0;
		fill_id(q->u.get.match.msgid, 5);
		fill_id(q->u.get.match.correlid, 9);
		q->u.get.match.priority = 4;
		q->u.get.match.seqno = 123456789;
		break;
	case PROTO_COMMIT:
		q->u.commit.uow = 77;
		break;
	case PROTO_OPEN:
	case PROTO_CLOSE:
		strcpy(q->u.open.queue, "SYSTEM.DEFAULT.LOCAL.QUEUE");
		break;
	case PROTO_ADMIN:
		q->u.admin.text = SL("DISPLAY QLOCAL(*)");
		break;
	case PROTO_FORWARD:
		q->u.forward.member_id = 2;
		q->u.forward.cmd = SL("\x14\x01\x02\x03");
		break;
	default:
		break;
	}
}

static void assert_slice_equal(struct qsg_slice a, struct qsg_slice b)
{
	assert_int_equal(a.len, b.len);
	if (a.len > 0)
		assert_memory_equal(a.p, b.p, a.len);
}

static void assert_req_equal(const struct proto_req *a, const struct proto_req *b)
{
	assert_int_equal(a->op, b->op);
	assert_int_equal(a->reqid, b->reqid);
	switch (a->op) {
	case PROTO_HELLO:
		assert_int_equal(a->u.hello.kind, b->u.hello.kind);
		assert_true(a->u.hello.client_id == b->u.hello.client_id);
		assert_int_equal(a->u.hello.member_id, b->u.hello.member_id);
		assert_slice_equal(a->u.hello.app, b->u.hello.app);
		break;
	case PROTO_PUT:
		assert_string_equal(a->u.put.queue, b->u.put.queue);
		assert_true(a->u.put.seq == b->u.put.seq);
		assert_int_equal(a->u.put.flags, b->u.put.flags);
		assert_memory_equal(a->u.put.msg.msgid, b->u.put.msg.msgid, FSM_ID_LEN);
		assert_memory_equal(a->u.put.msg.correlid, b->u.put.msg.correlid, FSM_ID_LEN);
		assert_int_equal(a->u.put.msg.priority, b->u.put.msg.priority);
		assert_true(a->u.put.msg.expiry_ms == b->u.put.msg.expiry_ms);
		assert_slice_equal(a->u.put.msg.props, b->u.put.msg.props);
		assert_slice_equal(a->u.put.msg.body, b->u.put.msg.body);
		break;
	case PROTO_GET:
	case PROTO_BROWSE:
		assert_string_equal(a->u.get.queue, b->u.get.queue);
		assert_int_equal(a->u.get.flags, b->u.get.flags);
		assert_int_equal(a->u.get.wait_ms, b->u.get.wait_ms);
		assert_memory_equal(a->u.get.match.msgid, b->u.get.match.msgid, FSM_ID_LEN);
		assert_memory_equal(a->u.get.match.correlid, b->u.get.match.correlid, FSM_ID_LEN);
		assert_int_equal(a->u.get.match.priority, b->u.get.match.priority);
		assert_true(a->u.get.match.seqno == b->u.get.match.seqno);
		break;
	case PROTO_COMMIT:
		assert_true(a->u.commit.uow == b->u.commit.uow);
		break;
	case PROTO_OPEN:
	case PROTO_CLOSE:
		assert_string_equal(a->u.open.queue, b->u.open.queue);
		break;
	case PROTO_ADMIN:
		assert_slice_equal(a->u.admin.text, b->u.admin.text);
		break;
	case PROTO_FORWARD:
		assert_int_equal(a->u.forward.member_id, b->u.forward.member_id);
		assert_slice_equal(a->u.forward.cmd, b->u.forward.cmd);
		break;
	default:
		break;
	}
}

/* The admin writer's buffer must outlive the encoded sample response. */
static void sample_resp(uint8_t op, struct proto_resp *s, struct proto_admin_writer *aw)
{
	memset(s, 0, sizeof *s);
	s->op = op;
	s->reqid = 0xa0b0c0d0u + op;
	switch (op) {
	case PROTO_HELLO:
		s->u.hello.epoch = 5;
		s->u.hello.put_seq = 1000;
		s->u.hello.uows_done = 17;
		s->u.hello.member_id = 2;
		s->u.hello.qmgr = SL("QM2");
		s->u.hello.group = SL("QSG1");
		break;
	case PROTO_PUT:
		s->u.put.duplicate = 1;
		fill_id(s->u.put.msgid, 33);
		break;
	case PROTO_GET:
	case PROTO_BROWSE: {
		struct fsm_msg *m = &s->u.get.msg;
		fill_id(m->msgid, 3);
		fill_id(m->correlid, 4);
		m->priority = 9;
		m->persistent = 1;
		m->expiry_ms = 1700000000000LL;
		m->put_time_ms = 1690000000000LL;
		m->backout_count = 2;
		m->seqno = 99;
		m->props = SL("");
		m->body = SL("payload");
		break;
	}
	case PROTO_ADMIN:
		proto_admin_begin(aw);
		proto_admin_attr(aw, "QUEUE", "A");
		proto_admin_attr(aw, "CURDEPTH", "3");
		proto_admin_begin(aw);
		proto_admin_attr(aw, "QUEUE", "B");
		proto_admin_begin(aw); /* an object without attributes */
		proto_admin_to_resp(aw, s);
		break;
	case PROTO_FORWARD:
		s->u.forward.result = SL("\0\0\0\0");
		break;
	default:
		break;
	}
}

static void assert_resp_equal(const struct proto_resp *a, const struct proto_resp *b)
{
	assert_int_equal(a->op, b->op);
	assert_int_equal(a->reqid, b->reqid);
	assert_int_equal(a->rc, b->rc);
	assert_slice_equal(a->text, b->text);
	if (a->rc != QSG_OK)
		return;
	switch (a->op) {
	case PROTO_HELLO:
		assert_true(a->u.hello.epoch == b->u.hello.epoch);
		assert_true(a->u.hello.put_seq == b->u.hello.put_seq);
		assert_true(a->u.hello.uows_done == b->u.hello.uows_done);
		assert_int_equal(a->u.hello.member_id, b->u.hello.member_id);
		assert_slice_equal(a->u.hello.qmgr, b->u.hello.qmgr);
		assert_slice_equal(a->u.hello.group, b->u.hello.group);
		break;
	case PROTO_PUT:
		assert_int_equal(a->u.put.duplicate, b->u.put.duplicate);
		assert_memory_equal(a->u.put.msgid, b->u.put.msgid, FSM_ID_LEN);
		break;
	case PROTO_GET:
	case PROTO_BROWSE: {
		const struct fsm_msg *x = &a->u.get.msg, *y = &b->u.get.msg;
		assert_memory_equal(x->msgid, y->msgid, FSM_ID_LEN);
		assert_memory_equal(x->correlid, y->correlid, FSM_ID_LEN);
		assert_int_equal(x->priority, y->priority);
		assert_int_equal(x->persistent, y->persistent);
		assert_true(x->expiry_ms == y->expiry_ms);
		assert_true(x->put_time_ms == y->put_time_ms);
		assert_int_equal(x->backout_count, y->backout_count);
		assert_true(x->seqno == y->seqno);
		assert_slice_equal(x->props, y->props);
		assert_slice_equal(x->body, y->body);
		break;
	}
	case PROTO_ADMIN:
		assert_int_equal(a->u.admin.nobjects, b->u.admin.nobjects);
		assert_slice_equal(a->u.admin.objects, b->u.admin.objects);
		break;
	case PROTO_FORWARD:
		assert_slice_equal(a->u.forward.result, b->u.forward.result);
		break;
	default:
		break;
	}
}

static void encode_req(uint8_t op, struct proto_req *q, struct qsg_wbuf *w)
{
	sample_req(op, q);
	qsg_wbuf_init(w);
	assert_int_equal(proto_req_encode(q, w), QSG_OK);
	size_t flen;
	assert_int_equal(proto_frame_check(w->data, w->len, &flen), QSG_OK);
	assert_int_equal(flen, w->len);
}

static void req_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NOPS; i++) {
		struct proto_req q, d;
		struct qsg_wbuf w;
		char msg[QSG_ERRMSG_SIZE] = "";
		encode_req(req_ops[i], &q, &w);
		assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_OK);
		assert_req_equal(&q, &d);
		/* A request is not a response. */
		struct proto_resp r;
		assert_int_equal(proto_resp_decode(w.data, w.len, &r, msg), QSG_RC_BAD_FRAME);
		qsg_wbuf_close(&w);
	}
}

static void resp_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NOPS; i++) {
		struct proto_admin_writer aw;
		struct proto_resp s, d;
		struct qsg_wbuf w;
		char msg[QSG_ERRMSG_SIZE] = "";
		proto_admin_init(&aw);
		sample_resp(req_ops[i], &s, &aw);
		qsg_wbuf_init(&w);
		assert_int_equal(proto_resp_encode(&s, &w), QSG_OK);
		assert_int_equal(proto_resp_decode(w.data, w.len, &d, msg), QSG_OK);
		assert_resp_equal(&s, &d);
		struct proto_req q;
		assert_int_equal(proto_req_decode(w.data, w.len, &q, msg), QSG_RC_BAD_FRAME);
		qsg_wbuf_close(&w);

		/* The error form of every response. */
		s.rc = QSG_RC_Q_FULL;
		s.text = SL("queue Q is full");
		assert_int_equal(proto_resp_encode(&s, &w), QSG_OK);
		assert_int_equal(proto_resp_decode(w.data, w.len, &d, msg), QSG_OK);
		assert_resp_equal(&s, &d);
		qsg_wbuf_close(&w);
		proto_admin_close(&aw);
	}
}

/* Every proper prefix of a valid frame, presented as a whole frame (length
 * field patched to match), must be rejected without reading past it. */
static void check_truncations(const uint8_t *frame, size_t len, bool resp)
{
	char msg[QSG_ERRMSG_SIZE];
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, frame, n);
		if (n >= 4) {
			uint32_t l = (uint32_t)(n - 4);
			for (int i = 0; i < 4; i++)
				copy[i] = (uint8_t)(l >> (8 * i));
		}
		int rc;
		if (resp) {
			struct proto_resp r;
			rc = proto_resp_decode(copy, n, &r, msg);
		} else {
			struct proto_req q;
			rc = proto_req_decode(copy, n, &q, msg);
		}
		assert_int_not_equal(rc, QSG_OK);
		size_t flen;
		int frc = proto_frame_check(frame, n, &flen);
		assert_int_equal(frc, QSG_OK);
		assert_int_equal(flen, 0); /* incomplete */
		free(copy);
	}
}

static void truncation_and_trailing(void **state)
{
	(void)state;
	char msg[QSG_ERRMSG_SIZE];
	for (size_t i = 0; i < NOPS; i++) {
		struct proto_req q;
		struct qsg_wbuf w;
		encode_req(req_ops[i], &q, &w);
		check_truncations(w.data, w.len, false);
		/* One trailing byte, length field adjusted. */
		qsg_put_u8(&w, 0);
		qsg_patch_u32(&w, 0, (uint32_t)(w.len - 4));
		struct proto_req d;
		assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
		assert_int_equal(d.op, req_ops[i]);
		assert_int_equal(d.reqid, q.reqid);
		assert_non_null(strstr(msg, "trailing"));
		qsg_wbuf_close(&w);

		struct proto_admin_writer aw;
		struct proto_resp s, r;
		proto_admin_init(&aw);
		sample_resp(req_ops[i], &s, &aw);
		qsg_wbuf_init(&w);
		assert_int_equal(proto_resp_encode(&s, &w), QSG_OK);
		check_truncations(w.data, w.len, true);
		qsg_put_u8(&w, 0);
		qsg_patch_u32(&w, 0, (uint32_t)(w.len - 4));
		assert_int_equal(proto_resp_decode(w.data, w.len, &r, msg), QSG_RC_BAD_FRAME);
		qsg_wbuf_close(&w);
		proto_admin_close(&aw);
	}
}

static void frame_check(void **state)
{
	(void)state;
	uint8_t b[16] = {0};
	size_t flen = 99;
	/* Partial length field: need more. */
	for (size_t n = 0; n < 4; n++) {
		assert_int_equal(proto_frame_check(b, n, &flen), QSG_OK);
		assert_int_equal(flen, 0);
	}
	/* len < 8 */
	for (uint8_t l = 0; l < 8; l++) {
		b[0] = l;
		assert_int_equal(proto_frame_check(b, sizeof b, &flen), QSG_RC_BAD_FRAME);
	}
	/* len == 8: header-only frame of 12 bytes */
	b[0] = 8;
	assert_int_equal(proto_frame_check(b, 11, &flen), QSG_OK);
	assert_int_equal(flen, 0);
	assert_int_equal(proto_frame_check(b, 16, &flen), QSG_OK);
	assert_int_equal(flen, 12);
	/* len > max */
	uint32_t big = PROTO_MAX_FRAME + 1;
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(big >> (8 * i));
	assert_int_equal(proto_frame_check(b, 4, &flen), QSG_RC_FRAME_TOO_LARGE);
	b[0] = b[1] = b[2] = b[3] = 0xff;
	assert_int_equal(proto_frame_check(b, 4, &flen), QSG_RC_FRAME_TOO_LARGE);
}

static void bad_version_and_op(void **state)
{
	(void)state;
	char msg[QSG_ERRMSG_SIZE];
	struct proto_req q, d;
	struct qsg_wbuf w;
	encode_req(PROTO_PING, &q, &w);
	w.data[4] = 2; /* version */
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_VERSION);
	assert_int_equal(d.op, PROTO_PING);
	assert_int_equal(d.reqid, q.reqid);
	w.data[4] = PROTO_VERSION;
	w.data[5] = 99; /* op */
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_UNKNOWN_OP);
	assert_int_equal(d.op, 99);
	assert_int_equal(d.reqid, q.reqid);
	/* Length field disagreeing with the frame size. */
	w.data[5] = PROTO_PING;
	assert_int_equal(proto_req_decode(w.data, w.len - 1, &d, msg), QSG_RC_BAD_FRAME);
	/* Shorter than a header. */
	assert_int_equal(proto_req_decode(w.data, 5, &d, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);

	/* Unknown op refused by the encoders too. */
	struct proto_req x = {.op = 99};
	qsg_wbuf_init(&w);
	assert_int_equal(proto_req_encode(&x, &w), QSG_RC_UNKNOWN_OP);
	assert_int_equal(w.len, 0);
	qsg_wbuf_close(&w);
}

static void invalid_fields(void **state)
{
	(void)state;
	char msg[QSG_ERRMSG_SIZE];
	struct proto_req q, d;
	struct qsg_wbuf w;

	/* Encoder refuses bad queue names and priorities, leaving w empty. */
	sample_req(PROTO_PUT, &q);
	q.u.put.queue[0] = '\0';
	qsg_wbuf_init(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_RC_INVALID);
	assert_int_equal(w.len, 0);
	sample_req(PROTO_PUT, &q);
	q.u.put.msg.priority = 10;
	assert_int_equal(proto_req_encode(&q, &w), QSG_RC_PRIORITY_ERROR);
	assert_int_equal(w.len, 0);
	sample_req(PROTO_PUT, &q);
	memset(q.u.put.queue, 'A', FSM_NAME_MAX);
	q.u.put.queue[FSM_NAME_MAX] = '\0';
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK); /* 48 is fine */
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_OK);
	qsg_wbuf_close(&w);

	/* Decoder: priority 10, 49-character name, client_id 0, bad kind. */
	struct qsg_wbuf h;
	qsg_wbuf_init(&h);
	qsg_put_u32(&h, 0);
	qsg_put_u8(&h, PROTO_VERSION);
	qsg_put_u8(&h, PROTO_PUT);
	qsg_put_u16(&h, 0);
	qsg_put_u32(&h, 7);
	size_t hdr = h.len;
	char name[FSM_NAME_MAX + 2];
	memset(name, 'Q', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	qsg_put_str(&h, name);
	qsg_put_u64(&h, 1);
	qsg_put_u32(&h, 0);
	uint8_t id[FSM_ID_LEN] = {0};
	qsg_put_bytes(&h, id, FSM_ID_LEN);
	qsg_put_bytes(&h, id, FSM_ID_LEN);
	qsg_put_u8(&h, 1);
	qsg_put_i64(&h, 0);
	qsg_put_blob(&h, NULL, 0);
	qsg_put_blob(&h, "x", 1);
	qsg_patch_u32(&h, 0, (uint32_t)(h.len - 4));
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_BAD_FRAME);
	assert_int_equal(d.reqid, 7);

	/* Same with a valid name but priority 10. */
	h.len = hdr;
	qsg_put_str(&h, "Q");
	qsg_put_u64(&h, 1);
	qsg_put_u32(&h, 0);
	qsg_put_bytes(&h, id, FSM_ID_LEN);
	qsg_put_bytes(&h, id, FSM_ID_LEN);
	qsg_put_u8(&h, 10);
	qsg_put_i64(&h, 0);
	qsg_put_blob(&h, NULL, 0);
	qsg_put_blob(&h, "x", 1);
	qsg_patch_u32(&h, 0, (uint32_t)(h.len - 4));
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_PRIORITY_ERROR);

	/* A body length larger than the frame. */
	h.len -= 5;
	qsg_put_u32(&h, 1000);
	qsg_put_u8(&h, 'x');
	qsg_patch_u32(&h, 0, (uint32_t)(h.len - 4));
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&h);

	sample_req(PROTO_HELLO, &q);
	q.u.hello.client_id = 0;
	qsg_wbuf_init(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_reset(&w);
	q.u.hello.client_id = 1;
	q.u.hello.kind = 9;
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
}

static void admin_walk(void **state)
{
	(void)state;
	struct proto_admin_writer aw;
	struct proto_resp s, d;
	struct qsg_wbuf w;
	char msg[QSG_ERRMSG_SIZE];
	proto_admin_init(&aw);
	sample_resp(PROTO_ADMIN, &s, &aw);
	qsg_wbuf_init(&w);
	assert_int_equal(proto_resp_encode(&s, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, msg), QSG_OK);
	assert_int_equal(d.u.admin.nobjects, 3);

	struct proto_attr at[1];
	size_t cur = 0, n;
	assert_int_equal(proto_admin_next(&d, &cur, at, 1, &n), 1);
	assert_int_equal(n, 2); /* more than max: the extra skipped */
	assert_int_equal(at[0].name.len, 5);
	assert_memory_equal(at[0].name.p, "QUEUE", 5);
	assert_memory_equal(at[0].value.p, "A", 1);
	assert_int_equal(proto_admin_next(&d, &cur, at, 1, &n), 1);
	assert_int_equal(n, 1);
	assert_memory_equal(at[0].value.p, "B", 1);
	assert_int_equal(proto_admin_next(&d, &cur, at, 1, &n), 1);
	assert_int_equal(n, 0);
	assert_int_equal(proto_admin_next(&d, &cur, at, 1, &n), 0);

	/* Malformed object data: nobjects larger than the data, an attribute
	 * count larger than the data, an empty attribute name. */
	w.data[PROTO_HDR_SIZE + 6] = 4; /* nobjects (after rc, text) */
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
	w.data[PROTO_HDR_SIZE + 6] = 3;
	w.data[PROTO_HDR_SIZE + 10] = 200; /* first object's nattrs */
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
	w.data[PROTO_HDR_SIZE + 10] = 2;
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, msg), QSG_OK);
	w.data[PROTO_HDR_SIZE + 14] = 0; /* first name's length: 5 -> 0 */
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);

	/* The iterator checks hand-made responses too. */
	uint8_t junk[] = {5, 0, 0, 0, 1, 0};
	struct proto_resp h = {.op = PROTO_ADMIN};
	h.u.admin.nobjects = 1;
	h.u.admin.objects.p = junk;
	h.u.admin.objects.len = sizeof junk;
	cur = 0;
	assert_int_equal(proto_admin_next(&h, &cur, at, 1, &n), -QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
	proto_admin_close(&aw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(req_roundtrip),
	    cmocka_unit_test(resp_roundtrip),
	    cmocka_unit_test(truncation_and_trailing),
	    cmocka_unit_test(frame_check),
	    cmocka_unit_test(bad_version_and_op),
	    cmocka_unit_test(invalid_fields),
	    cmocka_unit_test(admin_walk),
	};
	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
