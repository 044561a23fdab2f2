/* Large messages in the state machine (docs/storage.md, "Large messages"):
 * PUT_CHUNK puts a message part by part inside the session's unit of work
 * (visible when the last part is in outside syncpoint, at COMMIT under
 * syncpoint); a backout, a COMMIT of an incomplete put or a re-attach
 * releases its parts; GET with FSM_F_CHUNKS returns part 0 and the part
 * table, the parts are read with fsm_read_part, and a get outside
 * syncpoint stays locked until GET_DONE (a detach puts it back); GET
 * without the flag gets the whole message; snapshots (format 4) carry the
 * part tables and restore to identical states, format 3 still restores;
 * the decoder refuses parts of the wrong size. Links libqsgfsm_checked.la
 * with the built-in provider (membodies, which holds parts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "fsm/fsm_int.h"
#include "fsm/membodies.h"
#include "fsm_harness.h"

#define Q "BIG.Q"
#define BIG (2u * FSM_CHUNK_MAX + FSM_CHUNK_MAX / 2) /* 3 parts */
#define CL 7

static uint8_t *content(uint32_t len, uint8_t seed)
{
	uint8_t *p = malloc(len);
	assert_non_null(p);
	uint32_t x = 2463534242u + seed;
	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

static void define_q(struct ctx *x)
{
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.maxmsgl = FSM_MAX_MSGL;
	a.maxdepth = 100;
	assert_int_equal(qdefine(x, Q, FSM_QA_MAXMSGL | FSM_QA_MAXDEPTH, &a, 0), QSG_OK);
}

static int chunk(struct ctx *x, uint64_t epoch, uint64_t seq, uint32_t flags, uint64_t seqno,
		 uint32_t part, const uint8_t *body, uint32_t total, const char *props)
{
	struct fsm_cmd c = {.op = FSM_OP_PUT_CHUNK,
			    .client_id = CL,
			    .epoch = epoch,
			    .seq = part == 0 ? seq : 0,
			    .flags = flags,
			    .part = part,
			    .total = total};
	strcpy(c.queue, Q);
	c.msg.seqno = seqno;
	c.msg.msgid[0] = 0x42;
	c.msg.body.p = body + (size_t)part * FSM_CHUNK_MAX;
	c.msg.body.len = fsm_part_len(0, total, part);
	if (props != NULL && part == 0) {
		c.msg.props.p = (const uint8_t *)props;
		c.msg.props.len = strlen(props);
	}
	return exec(x, &c);
}

/* Put body in parts; returns its seqno. stop_after: parts to send. */
static uint64_t put_parts(struct ctx *x, uint64_t epoch, uint64_t seq, uint32_t flags,
			  const uint8_t *body, uint32_t total, uint32_t stop_after)
{
	assert_int_equal(chunk(x, epoch, seq, flags, 0, 0, body, total, "p=1"), QSG_OK);
	assert_int_equal(x->r.duplicate, 0);
	uint64_t seqno = x->r.msg.seqno;
	assert_true(seqno > 0);
	for (uint32_t i = 1; i < stop_after; i++)
		assert_int_equal(chunk(x, epoch, 0, flags, seqno, i, body, total, NULL), QSG_OK);
	return seqno;
}

static uint32_t avail(struct ctx *x)
{
	return fsm_available(x->f, 1, Q);
}

/* GET with FSM_F_CHUNKS, then the parts; checks the content. */
static uint64_t get_parts(struct ctx *x, uint64_t epoch, uint32_t flags, const uint8_t *want,
			  uint32_t total)
{
	struct fsm_cmd c = {
	    .op = FSM_OP_GET, .client_id = CL, .epoch = epoch, .flags = flags | FSM_F_CHUNKS};
	strcpy(c.queue, Q);
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(x->r.nparts, fsm_nparts(total));
	assert_int_equal(x->r.body_len, total);
	assert_int_equal(x->r.msg.props.len, 3);
	assert_memory_equal(x->r.msg.props.p, "p=1", 3);
	assert_int_equal(x->r.msg.body.len, FSM_CHUNK_MAX);
	assert_memory_equal(x->r.msg.body.p, want, FSM_CHUNK_MAX);
	uint64_t seqno = x->r.msg.seqno;
	uint32_t n = x->r.nparts, crc[FSM_MAX_PARTS] = {0};
	for (uint32_t i = 0; i < n; i++)
		crc[i] = fsm_result_part_crc(&x->r, i);
	assert_int_equal(crc[0], qsg_crc32c(qsg_crc32c(0, "p=1", 3), want, FSM_CHUNK_MAX));
	for (uint32_t i = 1; i < n; i++) {
		struct qsg_wbuf w;
		qsg_wbuf_init(&w);
		uint32_t len = fsm_part_len(0, total, i);
		assert_int_equal(fsm_read_part(x->f, seqno, i, len, crc[i] ^ 1, &w),
				 QSG_RC_NO_MSG_AVAILABLE);
		assert_int_equal(fsm_read_part(x->f, seqno, i, len, crc[i], &w), QSG_OK);
		assert_int_equal(w.len, len);
		assert_memory_equal(w.data, want + (size_t)i * FSM_CHUNK_MAX, len);
		qsg_wbuf_close(&w);
	}
	return seqno;
}

static int get_done(struct ctx *x, uint64_t epoch, uint64_t seqno)
{
	struct fsm_cmd c = {.op = FSM_OP_GET_DONE, .client_id = CL, .epoch = epoch};
	c.msg.seqno = seqno;
	return exec(x, &c);
}

static void put_outside_syncpoint_visible_at_last_part(void **state)
{
	struct ctx *x = *state;
	define_q(x);
	uint64_t ep = attach(x, CL, 1);
	uint8_t *b = content(BIG, 1);
	uint64_t seqno = put_parts(x, ep, 1, 0, b, BIG, 2);
	struct fsm_qinfo i = qi(x, Q);
	assert_int_equal(i.curdepth, 1);
	assert_int_equal(i.uncommitted, 1);
	assert_int_equal(avail(x), 0);
	/* Producer seq taken only at the end; a retried part is a duplicate,
	 * a part ahead is a gap, a part of the wrong size does not decode. */
	assert_int_equal(chunk(x, ep, 0, 0, seqno, 1, b, BIG, NULL), QSG_OK);
	assert_int_equal(x->r.duplicate, 1);
	struct fsm_cmd bad = {.op = FSM_OP_PUT_CHUNK, .client_id = CL, .epoch = ep, .part = 2};
	strcpy(bad.queue, Q);
	bad.total = BIG;
	bad.msg.seqno = seqno;
	bad.msg.body.p = b;
	bad.msg.body.len = 100;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&bad, &w), QSG_OK);
	struct fsm_cmd dec;
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &dec, NULL), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
	uint32_t notified = x->notified;
	assert_int_equal(chunk(x, ep, 0, 0, seqno, 2, b, BIG, NULL), QSG_OK);
	assert_int_equal(avail(x), 1);
	assert_int_equal(x->notified, notified + 1);
	i = qi(x, Q);
	assert_int_equal(i.uncommitted, 0);
	assert_int_equal(i.puts_total, 1);
	/* The session's put_seq is 1 now: a re-attach reports it. */
	assert_int_equal(attach(x, CL, 1), ep + 1);
	assert_int_equal(x->r.put_seq, 1);
	ep++;
	/* The part 0 of seq 1 again: a duplicate (complete). */
	assert_int_equal(chunk(x, ep, 1, 0, 0, 0, b, BIG, "p=1"), QSG_OK);
	assert_int_equal(x->r.duplicate, 1);
	/* Get it part by part outside syncpoint: locked until GET_DONE. */
	uint64_t s2 = get_parts(x, ep, 0, b, BIG);
	assert_int_equal(s2, seqno);
	assert_int_equal(qi(x, Q).curdepth, 1);
	assert_int_equal(avail(x), 0);
	assert_int_equal(get_done(x, ep, seqno), QSG_OK);
	assert_int_equal(get_done(x, ep, seqno), QSG_RC_NO_MSG_AVAILABLE);
	i = qi(x, Q);
	assert_int_equal(i.curdepth, 0);
	assert_int_equal(i.gets_total, 1);
	assert_int_equal(membodies_count(x->f->mem), 0);
	free(b);
}

static void put_under_syncpoint_visible_at_commit(void **state)
{
	struct ctx *x = *state;
	define_q(x);
	uint64_t ep = attach(x, CL, 1);
	uint8_t *b = content(BIG, 2);
	put_parts(x, ep, 1, FSM_F_SYNCPOINT, b, BIG, 3);
	assert_int_equal(avail(x), 0);
	assert_int_equal(sess(x, FSM_OP_COMMIT, CL, ep, 1, NULL), QSG_OK);
	assert_int_equal(avail(x), 1);
	/* GET without FSM_F_CHUNKS: the whole message. */
	assert_int_equal(get(x, CL, ep, Q, 0, 0), QSG_OK);
	assert_int_equal(x->r.nparts, 0);
	assert_int_equal(x->r.msg.body.len, BIG);
	assert_memory_equal(x->r.msg.body.p, b, BIG);
	assert_int_equal(membodies_count(x->f->mem), 0);
	free(b);
}

static void backout_releases_parts(void **state)
{
	struct ctx *x = *state;
	define_q(x);
	uint64_t ep = attach(x, CL, 1);
	uint8_t *b = content(BIG, 3);
	/* Incomplete outside syncpoint, then BACKOUT. */
	uint64_t seqno = put_parts(x, ep, 1, 0, b, BIG, 2);
	assert_int_equal(membodies_count(x->f->mem), 2);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, CL, ep, 0, NULL), QSG_OK);
	assert_int_equal(membodies_count(x->f->mem), 0);
	assert_int_equal(qi(x, Q).curdepth, 0);
	assert_int_equal(chunk(x, ep, 0, 0, seqno, 2, b, BIG, NULL), QSG_RC_BACKED_OUT);
	/* A put backed out before its last part did not take its seq. */
	/* Complete under syncpoint, then BACKOUT. */
	put_parts(x, ep, 1, FSM_F_SYNCPOINT, b, BIG, 3);
	assert_int_equal(membodies_count(x->f->mem), 3);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, CL, ep, 0, NULL), QSG_OK);
	assert_int_equal(membodies_count(x->f->mem), 0);
	/* Incomplete under syncpoint, then COMMIT: dropped. */
	put_parts(x, ep, 2, FSM_F_SYNCPOINT, b, BIG, 1);
	assert_int_equal(sess(x, FSM_OP_COMMIT, CL, ep, 1, NULL), QSG_OK);
	assert_int_equal(qi(x, Q).curdepth, 0);
	assert_int_equal(membodies_count(x->f->mem), 0);
	/* Incomplete, then the client re-attaches (a new session): seq 2 was
	 * never taken (its put did not complete). */
	put_parts(x, ep, 2, 0, b, BIG, 2);
	ep = attach(x, CL, 1);
	assert_int_equal(x->r.put_seq, 1);
	assert_int_equal(qi(x, Q).curdepth, 0);
	assert_int_equal(membodies_count(x->f->mem), 0);
	/* Too big for MAXMSGL. */
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.maxmsgl = BIG - 1;
	strcpy(a.name, Q);
	struct fsm_cmd alt = {.op = FSM_OP_QALTER, .attrs = a};
	alt.attrs.set = FSM_QA_MAXMSGL;
	assert_int_equal(exec(x, &alt), QSG_OK);
	assert_int_equal(chunk(x, ep, 2, 0, 0, 0, b, BIG, NULL), QSG_RC_MSG_TOO_BIG);
	assert_int_equal(attach(x, CL, 1), ep + 1);
	assert_int_equal(x->r.put_seq, 2); /* a refused put takes its seq */
	free(b);
}

static void got_message_backs_out_whole(void **state)
{
	struct ctx *x = *state;
	define_q(x);
	uint64_t ep = attach(x, CL, 1);
	uint8_t *b = content(BIG, 4);
	uint64_t seqno = put_parts(x, ep, 1, 0, b, BIG, 3);
	/* Under syncpoint, backed out: back on the queue, backout count 1. */
	get_parts(x, ep, FSM_F_SYNCPOINT, b, BIG);
	assert_int_equal(get_done(x, ep, seqno), QSG_RC_NO_MSG_AVAILABLE); /* not xfer */
	assert_int_equal(sess(x, FSM_OP_BACKOUT, CL, ep, 0, NULL), QSG_OK);
	assert_int_equal(avail(x), 1);
	/* Outside syncpoint, then the session detaches mid-transfer. */
	get_parts(x, ep, 0, b, BIG);
	assert_int_equal(x->r.msg.backout_count, 1);
	assert_int_equal(sess(x, FSM_OP_DETACH, CL, ep, 0, NULL), QSG_OK);
	assert_int_equal(avail(x), 1);
	ep = attach(x, CL, 1);
	get_parts(x, ep, FSM_F_SYNCPOINT, b, BIG);
	assert_int_equal(x->r.msg.backout_count, 2);
	assert_int_equal(sess(x, FSM_OP_COMMIT, CL, ep, 1, NULL), QSG_OK);
	assert_int_equal(qi(x, Q).curdepth, 0);
	assert_int_equal(membodies_count(x->f->mem), 0);
	free(b);
}

static void backout_queue_moves_parts(void **state)
{
	struct ctx *x = *state;
	define_q(x);
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.maxmsgl = FSM_MAX_MSGL;
	assert_int_equal(qdefine(x, "BO.Q", FSM_QA_MAXMSGL, &a, 0), QSG_OK);
	memset(&a, 0, sizeof a);
	strcpy(a.name, Q);
	a.bothresh = 1;
	strcpy(a.boqname, "BO.Q");
	struct fsm_cmd alt = {.op = FSM_OP_QALTER, .attrs = a};
	alt.attrs.set = FSM_QA_BOTHRESH | FSM_QA_BOQNAME;
	assert_int_equal(exec(x, &alt), QSG_OK);
	uint64_t ep = attach(x, CL, 1);
	uint8_t *b = content(BIG, 5);
	uint64_t seqno = put_parts(x, ep, 1, 0, b, BIG, 3);
	get_parts(x, ep, FSM_F_SYNCPOINT, b, BIG);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, CL, ep, 0, NULL), QSG_OK);
	assert_int_equal(qi(x, Q).curdepth, 0);
	assert_int_equal(fsm_available(x->f, 1, "BO.Q"), 1);
	struct fsm_cmd c = {.op = FSM_OP_GET, .client_id = CL, .epoch = ep, .flags = FSM_F_CHUNKS};
	strcpy(c.queue, "BO.Q");
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_true(x->r.msg.seqno > seqno);
	assert_int_equal(x->r.nparts, 3);
	uint64_t s2 = x->r.msg.seqno;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(
	    fsm_read_part(x->f, s2, 2, BIG - 2 * FSM_CHUNK_MAX, fsm_result_part_crc(&x->r, 2), &w),
	    QSG_OK);
	assert_memory_equal(w.data, b + 2 * FSM_CHUNK_MAX, BIG - 2 * FSM_CHUNK_MAX);
	qsg_wbuf_close(&w);
	assert_int_equal(get_done(x, ep, s2), QSG_OK);
	assert_int_equal(membodies_count(x->f->mem), 0);
	free(b);
}

/* Snapshots mid-transfer restore to the same bytes, and the restored state
 * goes on like the original. */
static void snapshot_carries_part_tables(void **state)
{
	struct ctx *x = *state;
	define_q(x);
	uint64_t ep = attach(x, CL, 1);
	uint8_t *b = content(BIG, 6);
	put_parts(x, ep, 1, 0, b, BIG, 3); /* visible */
	uint64_t ep2 = attach(x, CL + 1, 1);
	get_parts(x, ep2, 0, b, BIG); /* locked for the transfer */
	uint64_t partial = put_parts(x, ep, 2, 0, b, BIG, 2); /* still receiving */
	put_parts(x, ep, 0, FSM_F_SYNCPOINT, b, BIG, 3); /* held (no producer seq) */
	struct fsm *g = snapshot_restored(x);
	fsm_bodies_mem_peer(g, x->f);
	/* The same next commands on both give the same states. */
	struct fsm_cmd c = {.op = FSM_OP_PUT_CHUNK, .client_id = CL, .epoch = ep, .part = 2};
	strcpy(c.queue, Q);
	c.total = BIG;
	c.msg.seqno = partial;
	c.msg.body.p = b + 2 * FSM_CHUNK_MAX;
	c.msg.body.len = BIG - 2 * FSM_CHUNK_MAX;
	struct qsg_wbuf e;
	qsg_wbuf_init(&e);
	build(x, &c, &e);
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_apply(g, e.data, e.len, NULL, errmsg), QSG_OK);
	apply_entry(x, &e);
	qsg_wbuf_close(&e);
	assert_int_equal(fsm_digest(g), fsm_digest(x->f));
	assert_int_equal(fsm_available(g, 1, Q), 1);
	fsm_close(g);
	free(b);
}

/* A format 3 snapshot (no part tables) still restores. */
static void format3_restores(void **state)
{
	struct ctx *x = *state;
	define_q(x);
	uint64_t ep = attach(x, CL, 1);
	assert_int_equal(put(x, CL, ep, 1, Q, 0, 0, "small", 0x33), QSG_OK);
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 5), QSG_OK);
	/* Without channel state, format 5 is format 4 but for its version. */
	assert_int_equal(w.data[0], 5);
	/* The one smessage starts with its msgid; format 4 adds u32 nparts
	 * (0) after its 98 bytes. */
	uint8_t id[FSM_ID_LEN] = {0x33};
	size_t at = 0;
	while (at + FSM_ID_LEN <= w.len && memcmp(w.data + at, id, FSM_ID_LEN) != 0)
		at++;
	assert_true(at + 102 <= w.len);
	assert_int_equal(qsg_le32(w.data + at + 98), 0);
	memmove(w.data + at + 98, w.data + at + 102, w.len - at - 102);
	w.len -= 4;
	w.data[0] = 3;
	struct fsm *g;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, x->f);
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_restore(g, w.data, w.len, errmsg), QSG_OK);
	assert_int_equal(fsm_digest(g), fsm_digest(x->f));
	w.data[0] = FSM_SNAPSHOT_VERSION + 1;
	assert_int_equal(fsm_restore(g, w.data, w.len, errmsg), QSG_RC_BAD_VERSION);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 4), QSG_RC_BAD_VERSION);
	qsg_wbuf_close(&w);
	fsm_close(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(put_outside_syncpoint_visible_at_last_part, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(put_under_syncpoint_visible_at_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(backout_releases_parts, setup, teardown),
	    cmocka_unit_test_setup_teardown(got_message_backs_out_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(backout_queue_moves_parts, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_carries_part_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(format3_restores, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
