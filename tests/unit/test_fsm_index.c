/* A get by correlid on a deep queue with INDXTYPE(CORRELID) uses the index
 * (issue 11, item 8): the messages a get looks at (f->match_steps, not
 * state) stay a handful at 100,000 messages, where the same get on a queue
 * without the index scans all of them (which shows the count would catch a
 * get that bypassed the index). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm_int.h"
#include "fsm_harness.h"

#define N 100000

static void set_id(uint8_t *id, uint32_t i)
{
	memset(id, 0, FSM_ID_LEN);
	memcpy(id, "CID", 3);
	for (int k = 0; k < 4; k++)
		id[4 + k] = (uint8_t)(i >> (8 * k));
}

/* N puts (no producer sequence) with correlids 0..N-1, FSM_MAX_BATCH commands per entry applied
 * directly (the harness logs every entry it applies, up to MAX_LOG). */
static void fill(struct ctx *x, uint64_t ep, const char *q)
{
	struct qsg_wbuf e, w, res;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&res);
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&w);
	for (uint32_t i = 0; i < N;) {
		qsg_wbuf_reset(&e);
		fsm_entry_begin(&e, x->now);
		for (uint32_t k = 0; k < FSM_MAX_BATCH && i < N; k++, i++) {
			struct fsm_cmd c = {
			    .op = FSM_OP_PUT, .client_id = 1, .epoch = ep, .seq = 0};
			strcpy(c.queue, q);
			set_id(c.msg.correlid, i);
			c.msg.body.p = (const uint8_t *)&i;
			c.msg.body.len = sizeof i;
			qsg_wbuf_reset(&w);
			assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
			fsm_entry_add(&e, w.data, w.len);
		}
		assert_int_equal(e.err, QSG_OK);
		qsg_wbuf_reset(&res);
		assert_int_equal(fsm_apply(x->f, e.data, e.len, &res, errmsg), QSG_OK);
		/* every put applied: each result is {u32 len, u32 rc, ...} */
		for (size_t off = 0; off + 8 <= res.len; off += 4 + qsg_le32(res.data + off))
			assert_int_equal(qsg_le32(res.data + off + 4), QSG_OK);
	}
	qsg_wbuf_close(&res);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&w);
}

/* Steps a get by correlid i took; the message got must be i. */
static uint64_t get_by_correlid(struct ctx *x, uint64_t ep, const char *q, uint32_t i)
{
	struct fsm_cmd c = {
	    .op = FSM_OP_GET, .client_id = 1, .epoch = ep, .flags = FSM_F_MATCH_CORRELID};
	strcpy(c.queue, q);
	set_id(c.msg.correlid, i);
	uint64_t before = x->f->match_steps;
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(x->r.msg.body.len, sizeof i);
	assert_memory_equal(x->r.msg.body.p, &i, sizeof i);
	return x->f->match_steps - before;
}

static void deep_correlid_uses_index(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a = {.indxtype = FSM_INDX_CORRELID, .maxdepth = 2 * N};
	assert_int_equal(qdefine(x, "IQ", FSM_QA_INDXTYPE | FSM_QA_MAXDEPTH, &a, 0), QSG_OK);
	assert_int_equal(qdefine(x, "PQ", FSM_QA_MAXDEPTH, &a, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	fill(x, ep, "IQ");
	fill(x, ep, "PQ");
	/* Indexed: the last, the first, the middle, each in one step. */
	assert_true(get_by_correlid(x, ep, "IQ", N - 1) <= 2);
	assert_true(get_by_correlid(x, ep, "IQ", 0) <= 2);
	assert_true(get_by_correlid(x, ep, "IQ", N / 2) <= 2);
	/* Not indexed: the last is found after a scan of the queue. */
	assert_true(get_by_correlid(x, ep, "PQ", N - 1) >= N - 1);
	assert_int_equal(qi(x, "IQ").curdepth, N - 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(deep_correlid_uses_index, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
