/* Client protocol, large-message ops (docs/protocol.md, "Large messages"):
 * PUT_CHUNK, GETX/BROWSEX, GET_PART and GET_DONE round trips; the decoder
 * refuses a part whose size does not fit the split (fsm_part_len), part 0
 * with a seqno, a later part with properties, an inconsistent part table,
 * seqno 0, and every truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto.h"

static uint8_t body[3 * 1024 * 1024];

static void no_prefix_decodes(const struct qsg_wbuf *w, bool resp)
{
	/* Every shorter frame (length field patched) fails. */
	for (size_t n = PROTO_HDR_SIZE; n < w->len; n += (n < 200 ? 1 : 4093)) {
		uint8_t *p = malloc(n);
		memcpy(p, w->data, n);
		uint32_t l = (uint32_t)(n - 4);
		memcpy(p, &l, 4);
		struct proto_req q;
		struct proto_resp r;
		int rc =
		    resp ? proto_resp_decode(p, n, &r, NULL) : proto_req_decode(p, n, &q, NULL);
		assert_int_not_equal(rc, QSG_OK);
		free(p);
	}
}

static void put_chunk(void **state)
{
	(void)state;
	uint32_t total = 2 * FSM_CHUNK_MAX + 5;
	struct proto_req q = {.op = PROTO_PUT_CHUNK, .reqid = 9}, d;
	strcpy(q.u.put.queue, "Q");
	q.u.put.seq = 4;
	q.u.put.total = total;
	q.u.put.msg.props.p = (const uint8_t *)"pp";
	q.u.put.msg.props.len = 2;
	q.u.put.msg.body.p = body;
	q.u.put.msg.body.len = FSM_CHUNK_MAX;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.op, PROTO_PUT_CHUNK);
	assert_int_equal(d.u.put.total, total);
	assert_int_equal(d.u.put.part, 0);
	assert_int_equal(d.u.put.seq, 4);
	assert_int_equal(d.u.put.msg.body.len, FSM_CHUNK_MAX);
	assert_int_equal(d.u.put.msg.props.len, 2);
	no_prefix_decodes(&w, false);
	/* The last part: 5 bytes, with the seqno. */
	q.u.put.part = 2;
	q.u.put.seqno = 77;
	q.u.put.msg.props.len = 0;
	q.u.put.msg.body.len = 5;
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.u.put.seqno, 77);
	assert_int_equal(d.u.put.part, 2);
	/* Refused: wrong size, a part past the end, part 0 with a seqno, a
	 * later part with properties, a part over FSM_CHUNK_MAX. */
	struct {
		uint32_t part, len, plen;
		uint64_t seqno;
	} bad[] = {
	    {2, 6, 0, 77}, {3, 0, 0, 77}, {0, FSM_CHUNK_MAX, 0, 5}, {1, FSM_CHUNK_MAX, 2, 77}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		q.u.put.part = bad[i].part;
		q.u.put.msg.body.len = bad[i].len;
		q.u.put.msg.props.len = bad[i].plen;
		q.u.put.seqno = bad[i].seqno;
		qsg_wbuf_reset(&w);
		assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
		assert_int_equal(proto_req_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	}
	q.u.put.msg.body.len = FSM_CHUNK_MAX + 1;
	qsg_wbuf_reset(&w);
	assert_int_not_equal(proto_req_encode(&q, &w), QSG_OK);
	/* Response: duplicate, msgid, seqno. */
	struct proto_resp r = {.op = PROTO_PUT_CHUNK, .reqid = 9}, rd;
	r.u.put.seqno = 123;
	r.u.put.msgid[3] = 7;
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_resp_encode(&r, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &rd, NULL), QSG_OK);
	assert_int_equal(rd.u.put.seqno, 123);
	assert_int_equal(rd.u.put.msgid[3], 7);
	no_prefix_decodes(&w, true);
	qsg_wbuf_close(&w);
}

static void getx_reply(void **state)
{
	(void)state;
	uint8_t crcs[12] = {1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0};
	struct proto_resp r = {.op = PROTO_GETX, .reqid = 3}, d;
	r.u.get.msg.seqno = 42;
	r.u.get.msg.body.p = body;
	r.u.get.msg.body.len = FSM_CHUNK_MAX;
	r.u.get.nparts = 3;
	r.u.get.body_len = 2 * FSM_CHUNK_MAX + 1;
	r.u.get.part_crc.p = crcs;
	r.u.get.part_crc.len = 12;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(proto_resp_encode(&r, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.u.get.nparts, 3);
	assert_int_equal(d.u.get.body_len, 2 * FSM_CHUNK_MAX + 1);
	assert_int_equal(d.u.get.part_crc.len, 12);
	assert_memory_equal(d.u.get.part_crc.p, crcs, 12);
	no_prefix_decodes(&w, true);
	/* A whole message: nparts 0. */
	r.op = PROTO_BROWSEX;
	r.u.get.nparts = 0;
	r.u.get.part_crc.len = 0;
	r.u.get.msg.body.len = 10;
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_resp_encode(&r, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.u.get.nparts, 0);
	assert_int_equal(d.u.get.msg.body.len, 10);
	/* A table that does not fit the body length is refused. */
	r.op = PROTO_GETX;
	r.u.get.nparts = 3;
	r.u.get.part_crc.len = 12;
	r.u.get.body_len = 4 * FSM_CHUNK_MAX; /* 4 parts */
	r.u.get.msg.body.len = FSM_CHUNK_MAX;
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_resp_encode(&r, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	/* The old GET op never carries a table. */
	r.op = PROTO_GET;
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_resp_encode(&r, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.u.get.nparts, 0);
	qsg_wbuf_close(&w);
}

static void get_part_and_done(void **state)
{
	(void)state;
	struct proto_req q = {.op = PROTO_GET_PART, .reqid = 5}, d;
	q.u.part.seqno = 8;
	q.u.part.part = 2;
	q.u.part.len = 1000;
	q.u.part.crc = 0xabcdef;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.u.part.seqno, 8);
	assert_int_equal(d.u.part.part, 2);
	assert_int_equal(d.u.part.len, 1000);
	assert_int_equal(d.u.part.crc, 0xabcdef);
	no_prefix_decodes(&w, false);
	q.u.part.seqno = 0;
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	q.op = PROTO_GET_DONE;
	q.u.part.seqno = 9;
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_req_encode(&q, &w), QSG_OK);
	assert_int_equal(proto_req_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.op, PROTO_GET_DONE);
	assert_int_equal(d.u.part.seqno, 9);
	struct proto_resp r = {.op = PROTO_GET_PART, .reqid = 5}, rd;
	r.u.part.data.p = body;
	r.u.part.data.len = PROTO_PART_MAX;
	qsg_wbuf_reset(&w);
	assert_int_equal(proto_resp_encode(&r, &w), QSG_OK);
	assert_int_equal(proto_resp_decode(w.data, w.len, &rd, NULL), QSG_OK);
	assert_int_equal(rd.u.part.data.len, PROTO_PART_MAX);
	r.u.part.data.len = PROTO_PART_MAX + 1;
	qsg_wbuf_reset(&w);
	assert_int_not_equal(proto_resp_encode(&r, &w), QSG_OK);
	qsg_wbuf_close(&w);
}

int main(void)
{
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (uint8_t)(i * 31);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(put_chunk),
	    cmocka_unit_test(getx_reply),
	    cmocka_unit_test(get_part_and_done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
