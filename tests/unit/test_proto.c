/* Unit tests for src/proto: round trips, framing, hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "proto/proto.h"

#define SL(s) ((struct qsg_slice){(const uint8_t *)(s), sizeof(s) - 1})

static const uint8_t req_ops[] = {PROTO_HELLO,	PROTO_PUT,     PROTO_GET,     PROTO_BROWSE,
				  PROTO_COMMIT, PROTO_BACKOUT, PROTO_OPEN,    PROTO_CLOSE,
				  PROTO_ADMIN,	PROTO_PING,    PROTO_FORWARD, PROTO_FETCH};
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
	case PROTO_FETCH: {
		static const uint64_t keys[] = {1, 7, 8, 0x0102030405060708ULL};
		q->u.fetch.count = 4;
		q->u.fetch.seqnos = keys;
		break;
	}
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
	case PROTO_FETCH:
		assert_int_equal(a->u.fetch.count, b->u.fetch.count);
		for (uint32_t i = 0; i < a->u.fetch.count; i++)
			assert_true(a->u.fetch.seqnos[i] == proto_fetch_seqno(b, i));
		break;
	default:
		break;
	}
}

/* The sample FETCH answers (built once, freed by main). */
static struct proto_fetch_writer sample_fw;

static void sample_fetch(struct proto_resp *s)
{
	if (sample_fw.count == 0) {
		struct proto_fetch_item it = {.seqno = 3, .found = 1, .crc = 0xdeadbeef};
		it.content = SL("propsbody");
		assert_int_equal(proto_fetch_add(&sample_fw, &it), QSG_OK);
		memset(&it, 0, sizeof it);
		it.seqno = 9; /* not held */
		assert_int_equal(proto_fetch_add(&sample_fw, &it), QSG_OK);
		it.seqno = 10;
		it.found = 1; /* empty content */
		it.crc = 0;
		assert_int_equal(proto_fetch_add(&sample_fw, &it), QSG_OK);
	}
	proto_fetch_to_resp(&sample_fw, s);
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
	case PROTO_FETCH:
		sample_fetch(s);
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
	case PROTO_FETCH:
		assert_int_equal(a->u.fetch.count, b->u.fetch.count);
		assert_slice_equal(a->u.fetch.items, b->u.fetch.items);
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

/* HELLO's optional credentials (docs/security.md "Authentication"): a
 * HELLO without them is the old HELLO, byte for byte; with them they round
 * trip; every bad length is refused. */
/* BACKOUT's optional flags: absent (the old frame) is 0; UNCOUNTED round
 * trips; an unknown bit is refused. */
static void backout_flags(void **state)
{
	(void)state;
	struct proto_req q, d;
	struct qsg_wbuf w, old;
	char msg[QSG_ERRMSG_SIZE];
	sample_req(PROTO_BACKOUT, &q);
	qsg_wbuf_init(&old);
	assert_int_equal(proto_req_encode(&q, &old), QSG_OK);
	assert_int_equal(proto_req_decode(old.data, old.len, &d, msg), QSG_OK);
	assert_int_equal(d.u.backout.flags, 0);
	q.u.backout.flags = PROTO_BACKOUT_UNCOUNTED;
	qsg_wbuf_init(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(w.len, old.len + 4);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_OK);
	assert_int_equal(d.u.backout.flags, PROTO_BACKOUT_UNCOUNTED);
	qsg_wbuf_reset(&w);
	q.u.backout.flags = 0x2;
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
	assert_non_null(strstr(msg, "flags"));
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&old);
}

static void hello_credentials(void **state)
{
	(void)state;
	struct proto_req q, d;
	struct qsg_wbuf w, old;
	char msg[QSG_ERRMSG_SIZE];
	sample_req(PROTO_HELLO, &q);
	qsg_wbuf_init(&old);
	assert_int_equal(proto_req_encode(&q, &old), QSG_OK);
	assert_int_equal(proto_req_decode(old.data, old.len, &d, msg), QSG_OK);
	assert_int_equal(d.u.hello.user.len, 0);
	assert_int_equal(d.u.hello.password.len, 0);
	/* With credentials: the old body, then str user, str password. */
	q.u.hello.user = SL("alice");
	q.u.hello.password = SL("pa$$ w0rd");
	qsg_wbuf_init(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(w.len, old.len + 2 + 5 + 2 + 9);
	assert_memory_equal(w.data + 4, old.data + 4, old.len - 4); /* a prefix, length aside */
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_OK);
	assert_slice_equal(d.u.hello.user, q.u.hello.user);
	assert_slice_equal(d.u.hello.password, q.u.hello.password);
	assert_slice_equal(d.u.hello.app, q.u.hello.app);
	/* An empty password is carried (the server refuses it). */
	q.u.hello.password = SL("");
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_OK);
	assert_int_equal(d.u.hello.user.len, 5);
	assert_int_equal(d.u.hello.password.len, 0);
	/* Every truncation of the credentials is refused. */
	q.u.hello.password = SL("secret");
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	for (size_t n = old.len + 1; n < w.len; n++) {
		struct qsg_wbuf t;
		qsg_wbuf_init(&t);
		qsg_put_bytes(&t, w.data, n);
		qsg_patch_u32(&t, 0, (uint32_t)(n - 4));
		assert_int_equal(proto_req_decode(t.data, t.len, &d, msg), QSG_RC_BAD_FRAME);
		qsg_wbuf_close(&t);
	}
	/* A trailing byte after them. */
	qsg_put_u8(&w, 0);
	qsg_patch_u32(&w, 0, (uint32_t)(w.len - 4));
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
	/* An empty user with a password, by hand: refused. */
	qsg_wbuf_reset(&w);
	qsg_put_bytes(&w, old.data, old.len);
	qsg_put_u16(&w, 0);
	qsg_put_u16(&w, 1);
	qsg_put_u8(&w, 'x');
	qsg_patch_u32(&w, 0, (uint32_t)(w.len - 4));
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
	/* Too long: the encoder refuses, and so does the decoder. */
	char big[PROTO_MAX_PASSWORD + 2];
	memset(big, 'p', sizeof big);
	q.u.hello.password.p = (const uint8_t *)big;
	q.u.hello.password.len = PROTO_MAX_PASSWORD + 1;
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_RC_DATA_LENGTH_ERROR);
	qsg_wbuf_reset(&w);
	qsg_put_bytes(&w, old.data, old.len);
	qsg_put_strn(&w, "u", 1);
	qsg_put_strn(&w, big, PROTO_MAX_PASSWORD + 1);
	qsg_patch_u32(&w, 0, (uint32_t)(w.len - 4));
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_reset(&w);
	qsg_put_bytes(&w, old.data, old.len);
	qsg_put_strn(&w, big, PROTO_MAX_USER + 1);
	qsg_put_strn(&w, "p", 1);
	qsg_patch_u32(&w, 0, (uint32_t)(w.len - 4));
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);
	q.u.hello.password = SL("x");
	q.u.hello.user.len = 0; /* a password without a user */
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_RC_DATA_LENGTH_ERROR);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&old);
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

/* A FETCH request frame by hand: count, then the given seqnos. */
static void fetch_req_frame(struct qsg_wbuf *h, uint32_t count, const uint64_t *keys, size_t n)
{
	qsg_wbuf_init(h);
	size_t off = proto_frame_begin(h, PROTO_FETCH, 11);
	qsg_put_u32(h, count);
	for (size_t i = 0; i < n; i++)
		qsg_put_u64(h, keys[i]);
	assert_int_equal(proto_frame_patch(h, off), QSG_OK);
}

static void fetch_request_limits(void **state)
{
	(void)state;
	char msg[QSG_ERRMSG_SIZE];
	struct proto_req q, d;
	struct qsg_wbuf w;
	uint64_t *keys = malloc((PROTO_FETCH_MAX + 1) * sizeof *keys);
	assert_non_null(keys);
	for (uint32_t i = 0; i <= PROTO_FETCH_MAX; i++)
		keys[i] = 100 + 2 * (uint64_t)i;

	/* Encoder: 1 and PROTO_FETCH_MAX fine; 0, MAX + 1, not ascending
	 * refused, nothing left in w. */
	memset(&q, 0, sizeof q);
	q.op = PROTO_FETCH;
	q.u.fetch.seqnos = keys;
	qsg_wbuf_init(&w);
	q.u.fetch.count = PROTO_FETCH_MAX;
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_OK);
	assert_int_equal(d.u.fetch.count, PROTO_FETCH_MAX);
	assert_true(proto_fetch_seqno(&d, PROTO_FETCH_MAX - 1) == keys[PROTO_FETCH_MAX - 1]);
	/* Re-encoding a decoded request (raw seqnos) gives the same bytes. */
	struct qsg_wbuf w2;
	qsg_wbuf_init(&w2);
	assert_int_equal(proto_req_encode(&d, &w2), QSG_OK);
	assert_int_equal(w2.len, w.len);
	assert_memory_equal(w2.data, w.data, w.len);
	qsg_wbuf_close(&w2);
	qsg_wbuf_reset(&w);
	q.u.fetch.count = 1;
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	qsg_wbuf_reset(&w);
	q.u.fetch.count = 0;
	assert_int_equal(proto_req_encode(&q, &w), QSG_RC_DATA_LENGTH_ERROR);
	assert_int_equal(w.len, 0);
	q.u.fetch.count = PROTO_FETCH_MAX + 1;
	assert_int_equal(proto_req_encode(&q, &w), QSG_RC_DATA_LENGTH_ERROR);
	assert_int_equal(w.len, 0);
	uint64_t down[] = {5, 5};
	q.u.fetch.seqnos = down;
	q.u.fetch.count = 2;
	assert_int_equal(proto_req_encode(&q, &w), QSG_RC_INVALID);
	assert_int_equal(w.len, 0);
	q.u.fetch.seqnos = NULL; /* raw of the wrong size */
	q.u.fetch.raw = SL("1234567");
	q.u.fetch.count = 1;
	assert_int_equal(proto_req_encode(&q, &w), QSG_RC_DATA_LENGTH_ERROR);
	assert_int_equal(w.len, 0);
	qsg_wbuf_close(&w);

	/* Decoder. */
	struct qsg_wbuf h;
	fetch_req_frame(&h, 0, NULL, 0);
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_BAD_FRAME);
	assert_int_equal(d.op, PROTO_FETCH);
	assert_int_equal(d.reqid, 11);
	qsg_wbuf_close(&h);
	fetch_req_frame(&h, PROTO_FETCH_MAX + 1, keys, PROTO_FETCH_MAX + 1);
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_BAD_FRAME);
	assert_non_null(strstr(msg, "seqnos"));
	qsg_wbuf_close(&h);
	fetch_req_frame(&h, 3, keys, 2); /* count over the data */
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&h);
	fetch_req_frame(&h, 2, keys, 3); /* data over the count */
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&h);
	fetch_req_frame(&h, 0xffffffffu, keys, 1); /* absurd count */
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&h);
	uint64_t dup[] = {1, 4, 4};
	fetch_req_frame(&h, 3, dup, 3);
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_BAD_FRAME);
	assert_non_null(strstr(msg, "not above"));
	qsg_wbuf_close(&h);
	uint64_t desc[] = {9, 2};
	fetch_req_frame(&h, 2, desc, 2);
	assert_int_equal(proto_req_decode(h.data, h.len, &d, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&h);
	free(keys);
}

static void fetch_writer_limits(void **state)
{
	(void)state;
	struct proto_fetch_writer fw;
	struct proto_fetch_item it;
	size_t big = PROTO_FETCH_CONTENT + 10;
	uint8_t *content = calloc(1, big);
	assert_non_null(content);

	/* The first body is always taken, even over the content limit; the
	 * next one is refused and the response ends there. */
	proto_fetch_writer_init(&fw);
	memset(&it, 0, sizeof it);
	it.seqno = 1;
	it.found = 1;
	it.content.p = content;
	it.content.len = big;
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_OK);
	it.seqno = 2;
	it.content.len = 1;
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_RC_DATA_LENGTH_ERROR);
	assert_int_equal(fw.count, 1);
	/* A not-found answer costs no content. */
	it.found = 0;
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_OK);
	proto_fetch_writer_close(&fw);

	/* Content exactly at the limit fits, one byte more does not. */
	proto_fetch_writer_init(&fw);
	it.seqno = 1;
	it.found = 1;
	it.content.len = PROTO_FETCH_CONTENT / 2;
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_OK);
	it.seqno = 2;
	it.content.len = PROTO_FETCH_CONTENT - PROTO_FETCH_CONTENT / 2;
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_OK);
	it.seqno = 3;
	it.content.len = 1;
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_RC_DATA_LENGTH_ERROR);
	it.content.len = 0;
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_OK);
	/* Not ascending, bad found flag: refused. */
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_RC_INVALID);
	it.seqno = 4;
	it.found = 2;
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_RC_INVALID);
	assert_int_equal(fw.count, 3);
	proto_fetch_writer_close(&fw);

	/* At most PROTO_FETCH_MAX answers. */
	proto_fetch_writer_init(&fw);
	memset(&it, 0, sizeof it);
	for (uint32_t i = 0; i < PROTO_FETCH_MAX; i++) {
		it.seqno = i + 1;
		assert_int_equal(proto_fetch_add(&fw, &it), QSG_OK);
	}
	it.seqno = PROTO_FETCH_MAX + 1;
	assert_int_equal(proto_fetch_add(&fw, &it), QSG_RC_DATA_LENGTH_ERROR);

	/* Round trip of the full response and the walk. */
	struct proto_resp s, d;
	struct qsg_wbuf w;
	char msg[QSG_ERRMSG_SIZE];
	memset(&s, 0, sizeof s);
	s.op = PROTO_FETCH;
	s.reqid = 5;
	proto_fetch_to_resp(&fw, &s);
	qsg_wbuf_init(&w);
	assert_int_equal(proto_resp_encode(&s, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, msg), QSG_OK);
	assert_int_equal(d.u.fetch.count, PROTO_FETCH_MAX);
	size_t cur = 0;
	uint32_t n = 0;
	while (proto_fetch_next(&d, &cur, &it) == 1) {
		assert_true(it.seqno == (uint64_t)n + 1);
		assert_int_equal(it.found, 0);
		n++;
	}
	assert_int_equal(n, PROTO_FETCH_MAX);
	/* The encoder refuses a count over the limit. */
	qsg_wbuf_reset(&w);
	s.u.fetch.count = PROTO_FETCH_MAX + 1;
	assert_int_equal(proto_resp_encode(&s, &w), QSG_RC_DATA_LENGTH_ERROR);
	assert_int_equal(w.len, 0);
	qsg_wbuf_close(&w);
	proto_fetch_writer_close(&fw);
	free(content);
}

/* A FETCH response frame by hand: rc 0, no text, count, then raw items. */
static void fetch_resp_frame(struct qsg_wbuf *h, uint32_t count, const struct qsg_wbuf *items)
{
	qsg_wbuf_init(h);
	size_t off = proto_frame_begin(h, PROTO_FETCH | PROTO_RESP, 12);
	qsg_put_u32(h, 0);
	qsg_put_u16(h, 0);
	qsg_put_u32(h, count);
	qsg_put_bytes(h, items->data, items->len);
	assert_int_equal(proto_frame_patch(h, off), QSG_OK);
}

static int decode_fetch_resp(uint32_t count, const struct qsg_wbuf *items, char *msg)
{
	struct qsg_wbuf h;
	struct proto_resp d;
	fetch_resp_frame(&h, count, items);
	int rc = proto_resp_decode(h.data, h.len, &d, msg);
	qsg_wbuf_close(&h);
	return rc;
}

static void fetch_response_hostile(void **state)
{
	(void)state;
	char msg[QSG_ERRMSG_SIZE];
	struct qsg_wbuf it;

	/* A good pair of answers. */
	qsg_wbuf_init(&it);
	qsg_put_u64(&it, 5);
	qsg_put_u8(&it, 1);
	qsg_put_u32(&it, 0x1234);
	qsg_put_u32(&it, 3);
	qsg_put_bytes(&it, "abc", 3);
	qsg_put_u64(&it, 6);
	qsg_put_u8(&it, 0);
	assert_int_equal(decode_fetch_resp(2, &it, msg), QSG_OK);
	/* Count over or under what follows. */
	assert_int_equal(decode_fetch_resp(3, &it, msg), QSG_RC_BAD_FRAME);
	assert_int_equal(decode_fetch_resp(1, &it, msg), QSG_RC_BAD_FRAME);
	assert_int_equal(decode_fetch_resp(PROTO_FETCH_MAX + 1, &it, msg), QSG_RC_BAD_FRAME);
	/* found = 2. */
	it.data[8] = 2;
	assert_int_equal(decode_fetch_resp(2, &it, msg), QSG_RC_BAD_FRAME);
	assert_non_null(strstr(msg, "found"));
	it.data[8] = 1;
	/* Content length past the frame, and over any message. */
	it.data[13] = 200;
	assert_int_equal(decode_fetch_resp(2, &it, msg), QSG_RC_BAD_FRAME);
	it.data[13] = 0xff;
	it.data[14] = it.data[15] = it.data[16] = 0xff;
	assert_int_equal(decode_fetch_resp(2, &it, msg), QSG_RC_BAD_FRAME);
	it.data[13] = 3;
	it.data[14] = it.data[15] = it.data[16] = 0;
	assert_int_equal(decode_fetch_resp(2, &it, msg), QSG_OK);
	/* Seqnos not ascending. */
	it.data[20] = 5; /* second seqno 6 -> 5 */
	assert_int_equal(decode_fetch_resp(2, &it, msg), QSG_RC_BAD_FRAME);
	assert_non_null(strstr(msg, "not above"));
	qsg_wbuf_close(&it);

	/* The walk checks hand-made responses too. */
	uint8_t junk[] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9, 0, 0, 0};
	struct proto_resp h = {.op = PROTO_FETCH};
	struct proto_fetch_item x;
	h.u.fetch.count = 1;
	h.u.fetch.items.p = junk;
	h.u.fetch.items.len = sizeof junk;
	size_t cur = 0;
	assert_int_equal(proto_fetch_next(&h, &cur, &x), -QSG_RC_BAD_FRAME);
}

/* FETCH_BASE: round trips; a request past the file or over 1 MiB, an
 * answer whose CRC32C does not match its bytes or that is empty are
 * refused. */
static void fetch_base(void **state)
{
	(void)state;
	char msg[QSG_ERRMSG_SIZE];
	struct proto_req q, d;
	struct qsg_wbuf w;
	memset(&q, 0, sizeof q);
	q.op = PROTO_FETCH_BASE;
	q.reqid = 9;
	q.u.base.index = 193;
	q.u.base.size = 3u << 20;
	q.u.base.crc = 0xdeadbeef;
	q.u.base.offset = 1u << 20;
	q.u.base.max = PROTO_BASE_CHUNK;
	qsg_wbuf_init(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_OK);
	assert_true(d.u.base.index == 193 && d.u.base.size == (3u << 20) &&
		    d.u.base.crc == 0xdeadbeef && d.u.base.offset == (1u << 20) &&
		    d.u.base.max == PROTO_BASE_CHUNK);
	qsg_wbuf_reset(&w);
	q.u.base.max = PROTO_BASE_CHUNK + 1;
	assert_int_equal(proto_req_encode(&q, &w), QSG_RC_DATA_LENGTH_ERROR);
	qsg_wbuf_reset(&w);
	q.u.base.max = 100;
	q.u.base.offset = q.u.base.size; /* past the file */
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, msg), QSG_RC_BAD_FRAME);

	struct proto_resp r, e;
	uint8_t data[5000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7);
	memset(&r, 0, sizeof r);
	r.op = PROTO_FETCH_BASE;
	r.reqid = 9;
	r.u.base.offset = 4096;
	r.u.base.data.p = data;
	r.u.base.data.len = sizeof data;
	r.u.base.crc = qsg_crc32c(0, data, sizeof data);
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_resp_encode(&r, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &e, msg), QSG_OK);
	assert_true(e.u.base.offset == 4096 && e.u.base.data.len == sizeof data &&
		    memcmp(e.u.base.data.p, data, sizeof data) == 0);
	/* A byte changed in transit: refused at decode. */
	w.data[w.len - 100] ^= 1;
	assert_int_equal(proto_resp_decode(w.data, w.len, &e, msg), QSG_RC_BAD_FRAME);
	r.u.base.data.len = 0;
	r.u.base.crc = qsg_crc32c(0, data, 0);
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_resp_encode(&r, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &e, msg), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(req_roundtrip),
	    cmocka_unit_test(resp_roundtrip),
	    cmocka_unit_test(truncation_and_trailing),
	    cmocka_unit_test(frame_check),
	    cmocka_unit_test(backout_flags),
	    cmocka_unit_test(hello_credentials),
	    cmocka_unit_test(bad_version_and_op),
	    cmocka_unit_test(invalid_fields),
	    cmocka_unit_test(admin_walk),
	    cmocka_unit_test(fetch_request_limits),
	    cmocka_unit_test(fetch_writer_limits),
	    cmocka_unit_test(fetch_response_hostile),
	    cmocka_unit_test(fetch_base),
	};
	proto_fetch_writer_init(&sample_fw);
	int rc = cmocka_run_group_tests_name("proto", tests, NULL, NULL);
	proto_fetch_writer_close(&sample_fw);
	return rc;
}
