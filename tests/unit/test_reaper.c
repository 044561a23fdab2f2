/* The garbage collector on the loop (src/qsgd/reaper.c) with a real state
 * machine: after a CLEAR of a deep queue it frees every message in several
 * time-bounded slices, one per loop iteration, the loop keeps turning (a
 * timer fires between slices), the handles do not keep the loop alive, and
 * with no garbage a slice does nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm.h"
#include "qsgd/reaper.h"

#define N 100000u
#define BATCH 4096u

static void apply(struct fsm *f, const struct fsm_cmd *c, size_t n)
{
	struct qsg_wbuf e, w, res;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&res);
	fsm_entry_begin(&e, 1000000);
	for (size_t i = 0; i < n; i++) {
		qsg_wbuf_reset(&w);
		assert_int_equal(fsm_cmd_encode(&c[i], &w), QSG_OK);
		fsm_entry_add(&e, w.data, w.len);
	}
	assert_int_equal(fsm_apply(f, e.data, e.len, &res, errmsg), QSG_OK);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&res);
}

/* Queue Q with N messages, then CLEAR. */
static void deep_then_clear(struct fsm *f)
{
	struct fsm_cmd *c = calloc(BATCH, sizeof *c);
	assert_non_null(c);
	c[0].op = FSM_OP_QDEFINE;
	strcpy(c[0].attrs.name, "Q");
	c[0].attrs.set = FSM_QA_MAXDEPTH | FSM_QA_INDXTYPE;
	c[0].attrs.maxdepth = 999999999;
	c[0].attrs.indxtype = FSM_INDX_MSGID;
	c[1].op = FSM_OP_ATTACH;
	c[1].client_id = 1;
	c[1].member_id = 1;
	apply(f, c, 2);
	uint64_t seq = 0;
	for (uint32_t left = N; left > 0;) {
		uint32_t k = left < BATCH ? left : BATCH;
		for (uint32_t i = 0; i < k; i++) {
			memset(&c[i], 0, sizeof c[i]);
			c[i].op = FSM_OP_PUT;
			c[i].client_id = 1;
			c[i].epoch = 1;
			c[i].seq = ++seq;
			strcpy(c[i].queue, "Q");
			memcpy(c[i].msg.msgid, &seq, sizeof seq);
			c[i].msg.body.p = (const uint8_t *)"body";
			c[i].msg.body.len = 4;
		}
		apply(f, c, k);
		left -= k;
	}
	memset(&c[0], 0, sizeof c[0]);
	c[0].op = FSM_OP_QCLEAR;
	strcpy(c[0].queue, "Q");
	apply(f, c, 1);
	free(c);
	assert_int_equal(fsm_reap_pending(f), N);
}

struct watch {
	struct reaper *r;
	struct fsm *f;
	unsigned ticks; /* timer callbacks while garbage was left */
	unsigned done_at_tick;
};

static void on_tick(uv_timer_t *t)
{
	struct watch *w = t->data;
	if (fsm_reap(w->f, 0)) {
		w->ticks++;
		return;
	}
	w->done_at_tick = w->ticks;
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, NULL);
}

static void reaps_in_slices(void **state)
{
	(void)state;
	struct fsm *f;
	uv_loop_t loop;
	struct reaper r;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&f, NULL), QSG_OK);
	deep_then_clear(f);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(reaper_init(&r, &loop, f, 300, errmsg), QSG_OK);
	struct watch w = {.r = &r, .f = f};
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	t.data = &w;
	uv_timer_start(&t, on_tick, 1, 1);
	/* The timer (ref'd) keeps the loop running until the garbage is gone. */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	struct reaper_stats st;
	reaper_read(&r, &st);
	assert_int_equal(fsm_reap_pending(f), 0);
	assert_false(fsm_reap(f, 0));
	assert_int_equal(st.freed, N);
	/* Several slices, each bounded (300 us of work and one step more,
	 * with room for a slow machine), and the timer ran in between. */
	assert_true(st.slices >= 2);
	assert_true(w.done_at_tick >= 1);
	print_message("reaper: %u messages in %llu slices, longest %.3f ms, %u timer ticks\n", N,
		      (unsigned long long)st.slices, (double)st.slice_max_ns / 1e6, w.done_at_tick);
	/* Nothing to free: iterations cost nothing and count no slice; the
	 * unreferenced handles let the loop end. */
	assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
	reaper_read(&r, &st);
	uint64_t slices = st.slices;
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	reaper_read(&r, &st);
	assert_int_equal(st.slices, slices);
	reaper_close(&r);
	reaper_close(&r); /* idempotent */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	fsm_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reaps_in_slices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
