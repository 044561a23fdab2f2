/* Unit tests for src/chan/chproto: round trips of every frame, LZ4 on/off,
 * truncation at every byte, bad headers, hostile values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chan/chproto.h"

#define SL(s) ((struct qsg_slice){(const uint8_t *)(s), sizeof(s) - 1})
#define MAXMSGL (1u << 20)

/* ---- samples ---- */

static void sample_start(struct chp_start *s)
{
	memset(s, 0, sizeof *s);
	s->chver = CHP_VERSION;
	strcpy(s->channel, "QSG1.TO.QM2");
	strcpy(s->sender_qmgr, "QSG1");
	strcpy(s->receiver_qmgr, "QM2");
	s->epoch = 7;
	s->lstseq = 100;
	s->indoubt_first = 101;
	s->indoubt_last = 150;
	s->reset_seq = 0;
	s->batchsz = 50;
	s->maxmsgl = 4u << 20;
	s->hbint = 300;
	s->compmsg = FSM_COMP_LZ4;
	s->pipeline = 4;
}

static void sample_start_resp(struct chp_start_resp *r)
{
	memset(r, 0, sizeof *r);
	r->rc = QSG_OK;
	strcpy(r->text, "welcome");
	strcpy(r->receiver_qmgr, "QM2");
	r->member_id = 3;
	r->lstseq = 120;
	r->luwid = 0x1122334455667788ULL;
	r->batchsz = 20;
	r->maxmsgl = 1u << 20;
	r->hbint = 60;
	r->compmsg = FSM_COMP_NONE;
	r->pipeline = 2;
}

static void fill_id(uint8_t *id, uint8_t seed)
{
	for (int i = 0; i < FSM_ID_LEN; i++)
		id[i] = (uint8_t)(seed + i);
}

static void sample_msg(struct chp_msg *m, int last, struct qsg_slice body)
{
	memset(m, 0, sizeof *m);
	m->seq = 101;
	m->mflags = last ? CHP_M_LAST : 0;
	m->luwid = last ? 0xabcdef0123ULL : 0;
	strcpy(m->rqmname, "QM2");
	strcpy(m->rname, "APP.IN");
	fill_id(m->msg.msgid, 1);
	fill_id(m->msg.correlid, 50);
	m->msg.priority = 6;
	m->msg.persistent = 1;
	m->msg.expiry_ms = 59000;
	m->msg.props = SL("k=v;x=y");
	m->msg.body = body;
}

static uint8_t *repetitive(size_t n)
{
	uint8_t *b = malloc(n);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)("ABCDEFGH"[i % 8]);
	return b;
}

static uint8_t *random_bytes(size_t n, uint32_t seed)
{
	uint8_t *b = malloc(n);
	assert_non_null(b);
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)(x >> 24);
	}
	return b;
}

static void assert_msg_equal(const struct chp_msg *a, const struct chp_msg *b)
{
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->mflags & CHP_M_LAST, b->mflags & CHP_M_LAST);
	assert_int_equal(a->luwid, b->luwid);
	assert_string_equal(a->rqmname, b->rqmname);
	assert_string_equal(a->rname, b->rname);
	assert_memory_equal(a->msg.msgid, b->msg.msgid, FSM_ID_LEN);
	assert_memory_equal(a->msg.correlid, b->msg.correlid, FSM_ID_LEN);
	assert_int_equal(a->msg.priority, b->msg.priority);
	assert_int_equal(a->msg.persistent, b->msg.persistent);
	assert_int_equal(a->msg.expiry_ms, b->msg.expiry_ms);
	assert_int_equal(a->msg.props.len, b->msg.props.len);
	if (a->msg.props.len)
		assert_memory_equal(a->msg.props.p, b->msg.props.p, a->msg.props.len);
	assert_int_equal(a->msg.body.len, b->msg.body.len);
	if (a->msg.body.len)
		assert_memory_equal(a->msg.body.p, b->msg.body.p, a->msg.body.len);
}

/* Patch the frame's length field after editing its size. */
static void fix_len(struct qsg_wbuf *w)
{
	qsg_patch_u32(w, 0, (uint32_t)(w->len - 4));
}

/* Offset of the message part (msgid) in an encoded CHP_MSG. */
static size_t msg_part_off(const struct chp_msg *m)
{
	return PROTO_HDR_SIZE + 8 + 1 + ((m->mflags & CHP_M_LAST) ? 8 : 0) + 2 +
	       strlen(m->rqmname) + 2 + strlen(m->rname);
}

/* Offset of the body blob's u32 length in an encoded CHP_MSG. */
static size_t body_off(const struct chp_msg *m)
{
	return msg_part_off(m) + 2 * FSM_ID_LEN + 1 + 1 + 8 + 4 + m->msg.props.len;
}

/* ---- round trips ---- */

static void start_round_trip(void **state)
{
	(void)state;
	struct chp_start s, d;
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	uint32_t reqid = 0;
	sample_start(&s);
	qsg_wbuf_init(&w);
	chp_start_encode(&w, 0x55aa, &s);
	assert_int_equal(w.err, QSG_OK);
	size_t flen = 0;
	assert_int_equal(proto_frame_check(w.data, w.len, &flen), QSG_OK);
	assert_int_equal(flen, w.len);
	assert_int_equal(chp_frame_op(w.data, w.len, &reqid), CHP_START);
	assert_int_equal(reqid, 0x55aa);
	assert_int_equal(chp_start_decode(w.data, w.len, &d, err), QSG_OK);
	assert_memory_equal(&s, &d, sizeof s);
	/* receiver "" (any) and no in-doubt range are legal. */
	memset(s.receiver_qmgr, 0, sizeof s.receiver_qmgr);
	s.indoubt_first = s.indoubt_last = 0;
	qsg_wbuf_reset(&w);
	chp_start_encode(&w, 1, &s);
	assert_int_equal(chp_start_decode(w.data, w.len, &d, err), QSG_OK);
	assert_memory_equal(&s, &d, sizeof s);
	qsg_wbuf_close(&w);
}

static void start_resp_round_trip(void **state)
{
	(void)state;
	struct chp_start_resp r, d;
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	uint32_t reqid;
	sample_start_resp(&r);
	qsg_wbuf_init(&w);
	chp_start_resp_encode(&w, 9, &r);
	assert_int_equal(chp_frame_op(w.data, w.len, &reqid), CHP_START | PROTO_RESP);
	assert_int_equal(reqid, 9);
	assert_int_equal(chp_start_resp_decode(w.data, w.len, &d, err), QSG_OK);
	assert_memory_equal(&r, &d, sizeof r);
	/* Refusal: rc and text only. */
	size_t ok_len = w.len;
	memset(&r, 0, sizeof r);
	r.rc = QSG_RC_CHANNEL_FENCED;
	strcpy(r.text, "old epoch");
	qsg_wbuf_reset(&w);
	chp_start_resp_encode(&w, 10, &r);
	assert_true(w.len < ok_len);
	assert_int_equal(w.len, PROTO_HDR_SIZE + 4 + 2 + strlen("old epoch"));
	assert_int_equal(chp_start_resp_decode(w.data, w.len, &d, err), QSG_OK);
	assert_int_equal(d.rc, QSG_RC_CHANNEL_FENCED);
	assert_string_equal(d.text, "old epoch");
	assert_string_equal(d.receiver_qmgr, "");
	qsg_wbuf_close(&w);
}

static void msg_round_trip_plain(void **state)
{
	(void)state;
	struct chp_msg m, d;
	struct qsg_wbuf w, scratch;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&scratch);
	for (int last = 0; last <= 1; last++) {
		sample_msg(&m, last, SL("hello channel"));
		qsg_wbuf_reset(&w);
		chp_msg_encode(&w, &m, 1); /* too short to compress */
		assert_int_equal(w.err, QSG_OK);
		assert_int_equal(chp_frame_op(w.data, w.len, NULL), CHP_MSG);
		assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, MAXMSGL, err), QSG_OK);
		assert_int_equal(d.mflags & CHP_M_LZ4, 0);
		assert_msg_equal(&m, &d);
		/* The plain body points into the frame. */
		assert_ptr_equal(d.msg.body.p, w.data + body_off(&m) + 4);
	}
	/* Empty body and props. */
	sample_msg(&m, 1, (struct qsg_slice){NULL, 0});
	m.msg.props = (struct qsg_slice){NULL, 0};
	m.msg.expiry_ms = 0;
	qsg_wbuf_reset(&w);
	chp_msg_encode(&w, &m, 1);
	assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, MAXMSGL, err), QSG_OK);
	assert_msg_equal(&m, &d);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&scratch);
}

static void msg_compressed(void **state)
{
	(void)state;
	struct chp_msg m, d;
	struct qsg_wbuf w, plain, scratch;
	char err[QSG_ERRMSG_SIZE];
	size_t n = 64 * 1024;
	uint8_t *body = repetitive(n);
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&plain);
	qsg_wbuf_init(&scratch);
	sample_msg(&m, 1, (struct qsg_slice){body, n});
	chp_msg_encode(&w, &m, 1);
	chp_msg_encode(&plain, &m, 0);
	assert_int_equal(w.err, QSG_OK);
	assert_true(w.len < plain.len / 10);
	assert_int_equal(w.data[PROTO_HDR_SIZE + 8], CHP_M_LAST | CHP_M_LZ4);
	assert_int_equal(plain.data[PROTO_HDR_SIZE + 8], CHP_M_LAST);
	assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, MAXMSGL, err), QSG_OK);
	assert_int_equal(d.mflags, CHP_M_LAST | CHP_M_LZ4);
	assert_ptr_equal(d.msg.body.p, scratch.data);
	assert_msg_equal(&m, &d);
	assert_int_equal(chp_msg_decode(plain.data, plain.len, &d, &scratch, MAXMSGL, err), QSG_OK);
	assert_int_equal(scratch.len, 0); /* reset by the call */
	assert_msg_equal(&m, &d);
	/* The smallest compressible body (64 bytes) compresses; 63 does not. */
	for (size_t k = 63; k <= 64; k++) {
		sample_msg(&m, 0, (struct qsg_slice){body, k});
		qsg_wbuf_reset(&w);
		chp_msg_encode(&w, &m, 1);
		assert_int_equal(w.data[PROTO_HDR_SIZE + 8] & CHP_M_LZ4, k == 64 ? CHP_M_LZ4 : 0);
		assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, MAXMSGL, err), QSG_OK);
		assert_msg_equal(&m, &d);
	}
	/* Appending after other frames: both delimit and decode. */
	sample_msg(&m, 0, (struct qsg_slice){body, n});
	qsg_wbuf_reset(&w);
	chp_hb_encode(&w, 0);
	size_t first = w.len;
	chp_msg_encode(&w, &m, 1);
	size_t flen;
	assert_int_equal(proto_frame_check(w.data + first, w.len - first, &flen), QSG_OK);
	assert_int_equal(flen, w.len - first);
	assert_int_equal(chp_msg_decode(w.data + first, flen, &d, &scratch, MAXMSGL, err), QSG_OK);
	assert_msg_equal(&m, &d);
	free(body);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&plain);
	qsg_wbuf_close(&scratch);
}

static void msg_incompressible(void **state)
{
	(void)state;
	struct chp_msg m, d;
	struct qsg_wbuf w, scratch;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&scratch);
	size_t sizes[] = {64, 100, 4096, 300000};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint8_t *body = random_bytes(sizes[i], (uint32_t)i + 1);
		sample_msg(&m, 1, (struct qsg_slice){body, sizes[i]});
		qsg_wbuf_reset(&w);
		chp_msg_encode(&w, &m, 1);
		assert_int_equal(w.err, QSG_OK);
		assert_int_equal(w.data[PROTO_HDR_SIZE + 8], CHP_M_LAST); /* sent plain */
		assert_int_equal(w.len, body_off(&m) + 4 + sizes[i]);
		assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, MAXMSGL, err), QSG_OK);
		assert_msg_equal(&m, &d);
		free(body);
	}
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&scratch);
}

static void confirm_round_trip(void **state)
{
	(void)state;
	struct chp_confirm c;
	struct chp_reject rj[3] = {
	    {103, QSG_RC_UNKNOWN_OBJECT}, {104, QSG_RC_Q_FULL}, {110, QSG_RC_PUT_INHIBITED}};
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	chp_confirm_encode(&w, 101, 150, QSG_OK, NULL, NULL, 0);
	assert_int_equal(chp_frame_op(w.data, w.len, NULL), CHP_CONFIRM);
	assert_int_equal(chp_confirm_decode(w.data, w.len, &c, err), QSG_OK);
	assert_int_equal(c.first, 101);
	assert_int_equal(c.last, 150);
	assert_int_equal(c.rc, QSG_OK);
	assert_string_equal(c.text, "");
	assert_int_equal(c.nreject, 0);
	size_t cur = 0;
	struct chp_reject r;
	assert_int_equal(chp_reject_next(&c, &cur, &r), 0);

	qsg_wbuf_reset(&w);
	chp_confirm_encode(&w, 101, 110, QSG_RC_BATCH_REJECTED, "3 destinations refused", rj, 3);
	assert_int_equal(chp_confirm_decode(w.data, w.len, &c, err), QSG_OK);
	assert_int_equal(c.rc, QSG_RC_BATCH_REJECTED);
	assert_string_equal(c.text, "3 destinations refused");
	assert_int_equal(c.nreject, 3);
	cur = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(chp_reject_next(&c, &cur, &r), 1);
		assert_int_equal(r.seq, rj[i].seq);
		assert_int_equal(r.reason, rj[i].reason);
	}
	assert_int_equal(chp_reject_next(&c, &cur, &r), 0);
	assert_int_equal(chp_reject_next(&c, &cur, &r), 0);

	/* A fatal rc with no batch range. */
	qsg_wbuf_reset(&w);
	chp_confirm_encode(&w, 0, 0, QSG_RC_SEQ_MISMATCH, "gap", NULL, 0);
	assert_int_equal(chp_confirm_decode(w.data, w.len, &c, err), QSG_OK);
	assert_int_equal(c.rc, QSG_RC_SEQ_MISMATCH);
	qsg_wbuf_close(&w);
}

static void hb_and_end_round_trip(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	struct chp_end e;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	chp_hb_encode(&w, 0);
	assert_int_equal(w.len, PROTO_HDR_SIZE);
	assert_int_equal(chp_frame_op(w.data, w.len, NULL), CHP_HB);
	qsg_wbuf_reset(&w);
	chp_hb_encode(&w, 1);
	assert_int_equal(chp_frame_op(w.data, w.len, NULL), CHP_HB | PROTO_RESP);
	/* A heartbeat with a body is malformed. */
	qsg_put_u8(&w, 0);
	fix_len(&w);
	assert_int_equal(chp_frame_op(w.data, w.len, NULL), -QSG_RC_BAD_FRAME);

	qsg_wbuf_reset(&w);
	chp_end_encode(&w, QSG_RC_Q_MGR_STOPPING, "member shutting down");
	assert_int_equal(chp_frame_op(w.data, w.len, NULL), CHP_END);
	assert_int_equal(chp_end_decode(w.data, w.len, &e, err), QSG_OK);
	assert_int_equal(e.rc, QSG_RC_Q_MGR_STOPPING);
	assert_string_equal(e.text, "member shutting down");
	qsg_wbuf_reset(&w);
	chp_end_encode(&w, QSG_OK, NULL);
	assert_int_equal(chp_end_decode(w.data, w.len, &e, err), QSG_OK);
	assert_int_equal(e.rc, QSG_OK);
	assert_string_equal(e.text, "");
	qsg_wbuf_close(&w);
}

static void long_text_truncated(void **state)
{
	(void)state;
	char text[600];
	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	struct qsg_wbuf w;
	struct chp_end e;
	struct chp_confirm c;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	chp_end_encode(&w, QSG_RC_REMOTE_ERROR, text);
	assert_int_equal(chp_end_decode(w.data, w.len, &e, err), QSG_OK);
	assert_int_equal(strlen(e.text), QSG_ERRMSG_SIZE - 1);
	qsg_wbuf_reset(&w);
	chp_confirm_encode(&w, 1, 1, QSG_OK, text, NULL, 0);
	assert_int_equal(chp_confirm_decode(w.data, w.len, &c, err), QSG_OK);
	assert_int_equal(strlen(c.text), QSG_ERRMSG_SIZE - 1);
	qsg_wbuf_close(&w);
}

/* ---- hostile input ---- */

enum kind { K_START, K_START_RESP, K_START_REFUSED, K_MSG, K_MSG_LZ4, K_CONFIRM, K_END, K_NKIND };

static uint8_t *g_body; /* compressible body for K_MSG_LZ4 */

static void encode_kind(enum kind k, struct qsg_wbuf *w)
{
	struct chp_start s;
	struct chp_start_resp r;
	struct chp_msg m;
	struct chp_reject rj[2] = {{5, QSG_RC_Q_FULL}, {7, QSG_RC_MSG_TOO_BIG}};
	switch (k) {
	case K_START:
		sample_start(&s);
		chp_start_encode(w, 1, &s);
		break;
	case K_START_RESP:
		sample_start_resp(&r);
		chp_start_resp_encode(w, 1, &r);
		break;
	case K_START_REFUSED:
		memset(&r, 0, sizeof r);
		r.rc = QSG_RC_CHANNEL_NOT_FOUND;
		strcpy(r.text, "no RCVR");
		chp_start_resp_encode(w, 1, &r);
		break;
	case K_MSG:
		sample_msg(&m, 1, SL("body"));
		chp_msg_encode(w, &m, 0);
		break;
	case K_MSG_LZ4:
		sample_msg(&m, 0, (struct qsg_slice){g_body, 4096});
		chp_msg_encode(w, &m, 1);
		break;
	case K_CONFIRM:
		chp_confirm_encode(w, 1, 9, QSG_RC_BATCH_REJECTED, "no", rj, 2);
		break;
	case K_END:
		chp_end_encode(w, QSG_RC_CHANNEL_STOPPED, "stopped");
		break;
	default:
		fail();
	}
	assert_int_equal(w->err, QSG_OK);
}

static int decode_kind(enum kind k, const void *p, size_t len, struct qsg_wbuf *scratch, char *err)
{
	struct chp_start s;
	struct chp_start_resp r;
	struct chp_msg m;
	struct chp_confirm c;
	struct chp_end e;
	switch (k) {
	case K_START:
		return chp_start_decode(p, len, &s, err);
	case K_START_RESP:
	case K_START_REFUSED:
		return chp_start_resp_decode(p, len, &r, err);
	case K_MSG:
	case K_MSG_LZ4:
		return chp_msg_decode(p, len, &m, scratch, MAXMSGL, err);
	case K_CONFIRM:
		return chp_confirm_decode(p, len, &c, err);
	case K_END:
		return chp_end_decode(p, len, &e, err);
	default:
		fail();
	}
	return -1;
}

static void truncation_every_offset(void **state)
{
	(void)state;
	struct qsg_wbuf w, t, scratch;
	char err[QSG_ERRMSG_SIZE];
	g_body = repetitive(4096);
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&t);
	qsg_wbuf_init(&scratch);
	for (int k = 0; k < K_NKIND; k++) {
		qsg_wbuf_reset(&w);
		encode_kind((enum kind)k, &w);
		assert_int_equal(decode_kind((enum kind)k, w.data, w.len, &scratch, err), QSG_OK);
		for (size_t cut = 0; cut < w.len; cut++) {
			/* As delivered (length field now wrong)... */
			uint8_t *copy = malloc(cut ? cut : 1);
			assert_non_null(copy);
			memcpy(copy, w.data, cut);
			assert_int_not_equal(decode_kind((enum kind)k, copy, cut, &scratch, err),
					     QSG_OK);
			free(copy);
			/* ...and with a consistent length field: the body itself is short. */
			if (cut >= PROTO_HDR_SIZE) {
				qsg_wbuf_reset(&t);
				qsg_put_bytes(&t, w.data, cut);
				fix_len(&t);
				assert_int_not_equal(
				    decode_kind((enum kind)k, t.data, t.len, &scratch, err),
				    QSG_OK);
			}
		}
		/* Trailing bytes. */
		qsg_wbuf_reset(&t);
		qsg_put_bytes(&t, w.data, w.len);
		qsg_put_u8(&t, 0);
		fix_len(&t);
		assert_int_equal(decode_kind((enum kind)k, t.data, t.len, &scratch, err),
				 QSG_RC_BAD_FRAME);
	}
	free(g_body);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&t);
	qsg_wbuf_close(&scratch);
}

static void bad_header(void **state)
{
	(void)state;
	struct qsg_wbuf w, scratch;
	char err[QSG_ERRMSG_SIZE];
	g_body = repetitive(4096);
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&scratch);
	for (int k = 0; k < K_NKIND; k++) {
		qsg_wbuf_reset(&w);
		encode_kind((enum kind)k, &w);
		w.data[4] = PROTO_VERSION + 1;
		assert_int_equal(decode_kind((enum kind)k, w.data, w.len, &scratch, err),
				 QSG_RC_BAD_VERSION);
		assert_int_equal(chp_frame_op(w.data, w.len, NULL), -QSG_RC_BAD_VERSION);
		w.data[4] = 0;
		assert_int_equal(decode_kind((enum kind)k, w.data, w.len, &scratch, err),
				 QSG_RC_BAD_VERSION);
		w.data[4] = PROTO_VERSION;
		/* Length field larger than the frame. */
		qsg_patch_u32(&w, 0, (uint32_t)w.len);
		assert_int_equal(decode_kind((enum kind)k, w.data, w.len, &scratch, err),
				 QSG_RC_BAD_FRAME);
		fix_len(&w);
		/* Every op byte other than this decoder's is refused. */
		uint8_t own = w.data[5];
		for (int op = 0; op < 256; op++) {
			if (op == own)
				continue;
			w.data[5] = (uint8_t)op;
			assert_int_not_equal(
			    decode_kind((enum kind)k, w.data, w.len, &scratch, err), QSG_OK);
		}
		w.data[5] = own;
		assert_int_equal(decode_kind((enum kind)k, w.data, w.len, &scratch, err), QSG_OK);
	}
	/* chp_frame_op: client ops, responses to one-way frames. */
	qsg_wbuf_reset(&w);
	chp_end_encode(&w, 0, "");
	uint8_t bad_ops[] = {0,
			     PROTO_HELLO,
			     PROTO_PUT,
			     PROTO_FORWARD,
			     CHP_MSG | PROTO_RESP,
			     CHP_CONFIRM | PROTO_RESP,
			     CHP_END | PROTO_RESP,
			     45,
			     39,
			     0xff};
	for (size_t i = 0; i < sizeof bad_ops; i++) {
		w.data[5] = bad_ops[i];
		assert_int_equal(chp_frame_op(w.data, w.len, NULL), -QSG_RC_UNKNOWN_OP);
	}
	assert_int_equal(chp_frame_op(w.data, 3, NULL), -QSG_RC_BAD_FRAME);
	assert_int_equal(chp_frame_op(NULL, 0, NULL), -QSG_RC_BAD_FRAME);
	free(g_body);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&scratch);
}

static void start_bad_values(void **state)
{
	(void)state;
	struct chp_start s, d;
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	/* Each case: one field wrong. */
	for (int i = 0; i < 14; i++) {
		sample_start(&s);
		int want = QSG_RC_BAD_FRAME;
		switch (i) {
		case 0:
			s.chver = 2;
			want = QSG_RC_BAD_VERSION;
			break;
		case 1:
			s.channel[0] = '\0';
			break;
		case 2:
			strcpy(s.channel, "TWENTY.ONE.CHARS.XXX1"); /* 21 */
			break;
		case 3:
			strcpy(s.channel, "BAD NAME");
			break;
		case 4:
			s.sender_qmgr[0] = '\0';
			break;
		case 5:
			strcpy(s.receiver_qmgr, "QM-2");
			break;
		case 6:
			s.indoubt_first = 0;
			break;
		case 7:
			s.indoubt_first = 200; /* > last */
			break;
		case 8:
			s.batchsz = 0;
			break;
		case 9:
			s.batchsz = FSM_MAX_CHBATCH + 1;
			break;
		case 10:
			s.maxmsgl = FSM_MAX_MSGL + 1;
			break;
		case 11:
			s.compmsg = 2;
			break;
		case 12:
			s.pipeline = 0;
			break;
		case 13:
			s.pipeline = FSM_CH_MAX_PIPELINE + 1;
			break;
		}
		qsg_wbuf_reset(&w);
		chp_start_encode(&w, 1, &s);
		assert_int_equal(w.err, QSG_OK);
		assert_int_equal(chp_start_decode(w.data, w.len, &d, err), want);
	}
	/* Boundary values that are legal. */
	sample_start(&s);
	strcpy(s.channel, "TWENTY.CHARS.XXXX/%_");
	memset(s.sender_qmgr, 'Q', FSM_NAME_MAX);
	s.sender_qmgr[FSM_NAME_MAX] = '\0';
	s.batchsz = FSM_MAX_CHBATCH;
	s.pipeline = FSM_CH_MAX_PIPELINE;
	s.maxmsgl = FSM_MAX_MSGL;
	qsg_wbuf_reset(&w);
	chp_start_encode(&w, 1, &s);
	assert_int_equal(chp_start_decode(w.data, w.len, &d, err), QSG_OK);
	assert_memory_equal(&s, &d, sizeof s);
	/* A 49-character qmgr name cannot even be read into the struct. */
	struct qsg_wbuf t;
	qsg_wbuf_init(&t);
	qsg_put_bytes(&t, w.data, PROTO_HDR_SIZE + 1 + 2 + strlen(s.channel));
	qsg_put_strn(&t, "QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", 49);
	qsg_put_bytes(&t, w.data + PROTO_HDR_SIZE + 1 + 2 + strlen(s.channel) + 2 + FSM_NAME_MAX,
		      w.len - (PROTO_HDR_SIZE + 1 + 2 + strlen(s.channel) + 2 + FSM_NAME_MAX));
	fix_len(&t);
	assert_int_equal(chp_start_decode(t.data, t.len, &d, err), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&t);
	qsg_wbuf_close(&w);
}

static void start_resp_bad_values(void **state)
{
	(void)state;
	struct chp_start_resp r, d;
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	for (int i = 0; i < 6; i++) {
		sample_start_resp(&r);
		switch (i) {
		case 0:
			r.receiver_qmgr[0] = '\0';
			break;
		case 1:
			r.batchsz = 0;
			break;
		case 2:
			r.compmsg = 9;
			break;
		case 3:
			r.pipeline = 65;
			break;
		case 4:
			r.rc = 12345; /* not a reason code */
			break;
		case 5:
			r.rc = -1;
			break;
		}
		qsg_wbuf_reset(&w);
		chp_start_resp_encode(&w, 1, &r);
		assert_int_equal(chp_start_resp_decode(w.data, w.len, &d, err), QSG_RC_BAD_FRAME);
	}
	/* A refusal that carries the success fields has trailing bytes. */
	sample_start_resp(&r);
	qsg_wbuf_reset(&w);
	chp_start_resp_encode(&w, 1, &r);
	qsg_patch_u32(&w, PROTO_HDR_SIZE, QSG_RC_CHANNEL_STOPPED);
	assert_int_equal(chp_start_resp_decode(w.data, w.len, &d, err), QSG_RC_BAD_FRAME);
	/* A START request is not a response, and vice versa. */
	struct chp_start s, ds;
	sample_start(&s);
	qsg_wbuf_reset(&w);
	chp_start_encode(&w, 1, &s);
	assert_int_equal(chp_start_resp_decode(w.data, w.len, &d, err), QSG_RC_UNKNOWN_OP);
	qsg_wbuf_reset(&w);
	chp_start_resp_encode(&w, 1, &r);
	assert_int_equal(chp_start_decode(w.data, w.len, &ds, err), QSG_RC_UNKNOWN_OP);
	qsg_wbuf_close(&w);
}

static void msg_bad_values(void **state)
{
	(void)state;
	struct chp_msg m, d;
	struct qsg_wbuf w, scratch;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&scratch);
	for (int i = 0; i < 9; i++) {
		sample_msg(&m, 1, SL("payload"));
		int patch_flags = -1;
		switch (i) {
		case 0:
			m.msg.priority = 10;
			break;
		case 1:
			m.msg.persistent = 2;
			break;
		case 2:
			m.msg.expiry_ms = -1;
			break;
		case 3:
			m.rqmname[0] = '\0';
			break;
		case 4:
			m.rname[0] = '\0';
			break;
		case 5:
			strcpy(m.rname, "A*B");
			break;
		case 6:
			m.seq = 0;
			break;
		case 7:
			patch_flags = CHP_M_LAST | 0x04;
			break;
		case 8:
			patch_flags = CHP_M_LAST | 0x80;
			break;
		}
		qsg_wbuf_reset(&w);
		chp_msg_encode(&w, &m, 0);
		assert_int_equal(w.err, QSG_OK);
		if (patch_flags >= 0)
			w.data[PROTO_HDR_SIZE + 8] = (uint8_t)patch_flags;
		assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, MAXMSGL, err),
				 QSG_RC_BAD_FRAME);
	}
	/* LAST flag cleared: the luwid becomes part of the names -> garbage. */
	sample_msg(&m, 1, SL("payload"));
	qsg_wbuf_reset(&w);
	chp_msg_encode(&w, &m, 0);
	w.data[PROTO_HDR_SIZE + 8] = 0;
	assert_int_not_equal(chp_msg_decode(w.data, w.len, &d, &scratch, MAXMSGL, err), QSG_OK);
	/* Plain body over maxmsgl. */
	w.data[PROTO_HDR_SIZE + 8] = CHP_M_LAST;
	assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, 7, err), QSG_OK);
	assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, 6, err), QSG_RC_BAD_FRAME);
	/* Props over FSM_MAX_PROPS. */
	uint8_t *big = repetitive(FSM_MAX_PROPS + 1);
	sample_msg(&m, 0, SL("x"));
	m.msg.props = (struct qsg_slice){big, FSM_MAX_PROPS + 1};
	qsg_wbuf_reset(&w);
	chp_msg_encode(&w, &m, 0);
	assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, MAXMSGL, err),
			 QSG_RC_BAD_FRAME);
	m.msg.props.len = FSM_MAX_PROPS;
	qsg_wbuf_reset(&w);
	chp_msg_encode(&w, &m, 0);
	assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, MAXMSGL, err), QSG_OK);
	free(big);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&scratch);
}

static void lz4_oversize_and_corrupt(void **state)
{
	(void)state;
	struct chp_msg m, d;
	struct qsg_wbuf w, t, scratch;
	char err[QSG_ERRMSG_SIZE];
	size_t n = 10000;
	uint8_t *body = repetitive(n);
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&t);
	qsg_wbuf_init(&scratch);
	sample_msg(&m, 1, (struct qsg_slice){body, n});
	chp_msg_encode(&w, &m, 1);
	assert_int_equal(w.data[PROTO_HDR_SIZE + 8], CHP_M_LAST | CHP_M_LZ4);
	size_t bo = body_off(&m);
	uint32_t blob = qsg_le32(w.data + bo);
	assert_int_equal(bo + 4 + blob, w.len);
	assert_int_equal(qsg_le32(w.data + bo + 4), n);
	/* Decompressed size over maxmsgl: refused before decompressing. */
	assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, (uint32_t)n, err), QSG_OK);
	assert_int_equal(chp_msg_decode(w.data, w.len, &d, &scratch, (uint32_t)n - 1, err),
			 QSG_RC_BAD_FRAME);
	/* Announced length differs from the real one (both ways). */
	uint32_t lies[] = {(uint32_t)n - 1, (uint32_t)n + 1, 1, 0, MAXMSGL, 0xffffffffu};
	for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
		qsg_wbuf_reset(&t);
		qsg_put_bytes(&t, w.data, w.len);
		qsg_patch_u32(&t, bo + 4, lies[i]);
		assert_int_equal(chp_msg_decode(t.data, t.len, &d, &scratch, MAXMSGL, err),
				 QSG_RC_BAD_FRAME);
	}
	/* A block announcing far more than LZ4 can expand to (no allocation). */
	qsg_wbuf_reset(&t);
	qsg_put_bytes(&t, w.data, bo);
	qsg_put_u32(&t, 4 + 8);
	qsg_put_u32(&t, MAXMSGL);
	qsg_put_bytes(&t, "\xf0\x00\x00\x00\x00\x00\x00\x00", 8);
	fix_len(&t);
	assert_int_equal(chp_msg_decode(t.data, t.len, &d, &scratch, MAXMSGL, err),
			 QSG_RC_BAD_FRAME);
	/* LZ4 flag with a blob shorter than the 4-byte length. */
	qsg_wbuf_reset(&t);
	qsg_put_bytes(&t, w.data, bo);
	qsg_put_u32(&t, 3);
	qsg_put_bytes(&t, "abc", 3);
	fix_len(&t);
	assert_int_equal(chp_msg_decode(t.data, t.len, &d, &scratch, MAXMSGL, err),
			 QSG_RC_BAD_FRAME);
	/* Corrupt every byte of the block in turn: an error or (rarely) some
	 * other body of the announced size, never a crash. */
	for (size_t i = bo + 8; i < w.len; i++) {
		qsg_wbuf_reset(&t);
		qsg_put_bytes(&t, w.data, w.len);
		t.data[i] ^= 0x5a;
		int rc = chp_msg_decode(t.data, t.len, &d, &scratch, MAXMSGL, err);
		if (rc == QSG_OK)
			assert_int_equal(d.msg.body.len, n);
		else
			assert_int_equal(rc, QSG_RC_BAD_FRAME);
	}
	/* A plain body with the LZ4 flag set is garbage to LZ4. */
	sample_msg(&m, 0, SL("this is not an lz4 block at all, no no"));
	qsg_wbuf_reset(&t);
	chp_msg_encode(&t, &m, 0);
	t.data[PROTO_HDR_SIZE + 8] = CHP_M_LZ4;
	assert_int_equal(chp_msg_decode(t.data, t.len, &d, &scratch, MAXMSGL, err),
			 QSG_RC_BAD_FRAME);
	/* Without scratch an LZ4 body cannot be decoded. */
	assert_int_not_equal(chp_msg_decode(w.data, w.len, &d, NULL, MAXMSGL, err), QSG_OK);
	free(body);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&t);
	qsg_wbuf_close(&scratch);
}

static void confirm_bad_values(void **state)
{
	(void)state;
	struct chp_confirm c;
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	struct chp_reject ok2[2] = {{3, QSG_RC_Q_FULL}, {4, QSG_RC_Q_FULL}};
	struct chp_reject outside[1] = {{11, QSG_RC_Q_FULL}};
	struct chp_reject below[1] = {{0, QSG_RC_Q_FULL}};
	struct chp_reject zero_reason[1] = {{3, 0}};
	struct chp_reject bad_reason[1] = {{3, 4242}};
	struct chp_reject unordered[2] = {{4, QSG_RC_Q_FULL}, {3, QSG_RC_Q_FULL}};
	struct chp_reject dup[2] = {{4, QSG_RC_Q_FULL}, {4, QSG_RC_Q_FULL}};
	struct chp_reject many[3] = {{1, QSG_RC_Q_FULL}, {2, QSG_RC_Q_FULL}, {3, QSG_RC_Q_FULL}};
	struct {
		uint64_t first, last;
		int rc;
		const struct chp_reject *rj;
		uint32_t n;
	} cases[] = {
	    {5, 4, QSG_OK, NULL, 0},
	    {0, 0, QSG_OK, NULL, 0},
	    {0, 3, QSG_OK, NULL, 0},
	    {1, 10, QSG_OK, ok2, 2}, /* rejects with rc 0 */
	    {1, 10, QSG_RC_BATCH_REJECTED, NULL, 0}, /* rejected, none listed */
	    {1, 10, QSG_RC_BATCH_REJECTED, outside, 1},
	    {1, 10, QSG_RC_BATCH_REJECTED, below, 1},
	    {1, 10, QSG_RC_BATCH_REJECTED, zero_reason, 1},
	    {1, 10, QSG_RC_BATCH_REJECTED, bad_reason, 1},
	    {1, 10, QSG_RC_BATCH_REJECTED, unordered, 2},
	    {1, 10, QSG_RC_BATCH_REJECTED, dup, 2},
	    {1, 2, QSG_RC_BATCH_REJECTED, many, 3}, /* more rejects than messages */
	    {1, 2, 7777, NULL, 0}, /* not a reason code */
	    {1, 2, QSG_RC_SEQ_MISMATCH, ok2, 2}, /* rejects with a fatal rc */
	};
	qsg_wbuf_init(&w);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		qsg_wbuf_reset(&w);
		chp_confirm_encode(&w, cases[i].first, cases[i].last, cases[i].rc, "t", cases[i].rj,
				   cases[i].n);
		assert_int_equal(w.err, QSG_OK);
		if (chp_confirm_decode(w.data, w.len, &c, err) != QSG_RC_BAD_FRAME)
			fail_msg("confirm case %zu accepted", i);
	}
	/* A count that promises more entries than the frame holds. */
	qsg_wbuf_reset(&w);
	chp_confirm_encode(&w, 1, 10, QSG_RC_BATCH_REJECTED, "", ok2, 2);
	qsg_patch_u32(&w, PROTO_HDR_SIZE + 8 + 8 + 4 + 2, 3);
	assert_int_equal(chp_confirm_decode(w.data, w.len, &c, err), QSG_RC_BAD_FRAME);
	qsg_patch_u32(&w, PROTO_HDR_SIZE + 8 + 8 + 4 + 2, 0xffffffffu);
	assert_int_equal(chp_confirm_decode(w.data, w.len, &c, err), QSG_RC_BAD_FRAME);
	qsg_patch_u32(&w, PROTO_HDR_SIZE + 8 + 8 + 4 + 2, 1); /* fewer: trailing bytes */
	assert_int_equal(chp_confirm_decode(w.data, w.len, &c, err), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
}

static void reject_iteration_hostile(void **state)
{
	(void)state;
	/* chp_reject_next on a hand-built (not decoded) confirm: it checks too. */
	uint8_t raw[3 * 12];
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	qsg_put_u64(&w, 5);
	qsg_put_u32(&w, QSG_RC_Q_FULL);
	qsg_put_u64(&w, 99); /* out of range */
	qsg_put_u32(&w, QSG_RC_Q_FULL);
	qsg_put_u64(&w, 6);
	qsg_put_u32(&w, QSG_RC_Q_FULL);
	memcpy(raw, w.data, sizeof raw);
	struct chp_confirm c;
	memset(&c, 0, sizeof c);
	c.first = 1;
	c.last = 10;
	c.rc = QSG_RC_BATCH_REJECTED;
	c.nreject = 3;
	c.rejects = (struct qsg_slice){raw, sizeof raw};
	struct chp_reject r;
	size_t cur = 0;
	assert_int_equal(chp_reject_next(&c, &cur, &r), 1);
	assert_int_equal(r.seq, 5);
	assert_int_equal(chp_reject_next(&c, &cur, &r), -QSG_RC_BAD_FRAME);
	assert_int_equal(cur, 12); /* does not advance past a bad entry */
	/* A length that is not a multiple of the entry size. */
	c.rejects.len = 13;
	cur = 12;
	assert_int_equal(chp_reject_next(&c, &cur, &r), -QSG_RC_BAD_FRAME);
	/* A cursor past the end. */
	cur = 40;
	assert_int_equal(chp_reject_next(&c, &cur, &r), -QSG_RC_BAD_FRAME);
	/* Empty list. */
	c.rejects = (struct qsg_slice){NULL, 0};
	cur = 0;
	assert_int_equal(chp_reject_next(&c, &cur, &r), 0);
	qsg_wbuf_close(&w);
}

static void end_bad_values(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	struct chp_end e;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	chp_end_encode(&w, 31337, "x");
	assert_int_equal(chp_end_decode(w.data, w.len, &e, err), QSG_RC_BAD_FRAME);
	/* A NUL inside the text. */
	qsg_wbuf_reset(&w);
	chp_end_encode(&w, QSG_OK, "abc");
	w.data[w.len - 2] = '\0';
	assert_int_equal(chp_end_decode(w.data, w.len, &e, err), QSG_RC_BAD_FRAME);
	/* A text longer than QSG_ERRMSG_SIZE - 1 on the wire. */
	qsg_wbuf_reset(&w);
	{
		size_t off = w.len;
		qsg_put_u32(&w, 0);
		qsg_put_u8(&w, PROTO_VERSION);
		qsg_put_u8(&w, CHP_END);
		qsg_put_u16(&w, 0);
		qsg_put_u32(&w, 0);
		qsg_put_u32(&w, QSG_OK);
		char text[QSG_ERRMSG_SIZE + 1];
		memset(text, 'y', sizeof text - 1);
		text[sizeof text - 1] = '\0';
		qsg_put_str(&w, text);
		qsg_patch_u32(&w, off, (uint32_t)(w.len - 4));
	}
	assert_int_equal(chp_end_decode(w.data, w.len, &e, err), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
}

/* Random garbage and random bit flips of valid frames: never crash. */
static void garbage(void **state)
{
	(void)state;
	struct qsg_wbuf w, t, scratch;
	char err[QSG_ERRMSG_SIZE];
	g_body = repetitive(4096);
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&t);
	qsg_wbuf_init(&scratch);
	uint64_t x = 88172645463325252ULL;
	for (int iter = 0; iter < 20000; iter++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		enum kind k = (enum kind)(x % K_NKIND);
		qsg_wbuf_reset(&w);
		encode_kind(k, &w);
		qsg_wbuf_reset(&t);
		qsg_put_bytes(&t, w.data, w.len);
		int flips = 1 + (int)((x >> 8) % 4);
		for (int f = 0; f < flips; f++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			size_t pos = (size_t)(x % t.len);
			t.data[pos] ^= (uint8_t)(1u << ((x >> 32) % 8));
		}
		for (int d = 0; d < K_NKIND; d++)
			(void)decode_kind((enum kind)d, t.data, t.len, &scratch, err);
		(void)chp_frame_op(t.data, t.len, NULL);
	}
	free(g_body);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&t);
	qsg_wbuf_close(&scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(start_round_trip),	       cmocka_unit_test(start_resp_round_trip),
	    cmocka_unit_test(msg_round_trip_plain),    cmocka_unit_test(msg_compressed),
	    cmocka_unit_test(msg_incompressible),      cmocka_unit_test(confirm_round_trip),
	    cmocka_unit_test(hb_and_end_round_trip),   cmocka_unit_test(long_text_truncated),
	    cmocka_unit_test(truncation_every_offset), cmocka_unit_test(bad_header),
	    cmocka_unit_test(start_bad_values),	       cmocka_unit_test(start_resp_bad_values),
	    cmocka_unit_test(msg_bad_values),	       cmocka_unit_test(lz4_oversize_and_corrupt),
	    cmocka_unit_test(confirm_bad_values),      cmocka_unit_test(reject_iteration_hostile),
	    cmocka_unit_test(end_bad_values),	       cmocka_unit_test(garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
