/* Unit tests of src/qsgd/waiters.c on a real libuv loop: notify wakes the
 * oldest waiters of the right queue, deadlines expire, cancel and release. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/qsg_err.h"
#include "qsgd/waiters.h"

struct rec {
	struct waiter w;
	int id;
	int woken;
	int expired;
	int released;
	int *order; /* where to append id on wake/expire */
	int *norder;
};

static void on_wake(struct waiter *w)
{
	struct rec *r = w->data;
	r->woken++;
	if (r->order != NULL)
		r->order[(*r->norder)++] = r->id;
}

static void on_expire(struct waiter *w)
{
	struct rec *r = w->data;
	r->expired++;
	if (r->order != NULL)
		r->order[(*r->norder)++] = r->id;
}

static void on_released(struct waiter *w)
{
	struct rec *r = w->data;
	r->released++;
}

static void rec_init(struct rec *r, int id, int *order, int *norder)
{
	memset(r, 0, sizeof *r);
	r->id = id;
	r->w.wake = on_wake;
	r->w.expire = on_expire;
	r->w.data = r;
	r->order = order;
	r->norder = norder;
}

static void release_all(uv_loop_t *loop, struct rec *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		waiters_release(&r[i].w, on_released);
	uv_run(loop, UV_RUN_DEFAULT);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].released, 1);
}

/* notify(q, n) wakes the n oldest waiters of q, in order, and nobody else. */
static void notify_wakes_oldest(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct waiters *ws;
	struct rec r[5];
	int order[8], norder = 0;

	uv_loop_init(&loop);
	assert_int_equal(waiters_init(&ws, &loop), QSG_OK);
	for (int i = 0; i < 5; i++)
		rec_init(&r[i], i, order, &norder);
	for (int i = 0; i < 4; i++)
		assert_int_equal(waiters_park(ws, &r[i].w, "Q1", -1), QSG_OK);
	assert_int_equal(waiters_park(ws, &r[4].w, "Q2", -1), QSG_OK);
	assert_int_equal(waiters_count(ws), 5);

	waiters_notify(ws, "Q3", 10); /* nobody waits there */
	waiters_notify(ws, "Q1", 2);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(r[2].woken, 0);
	assert_int_equal(r[4].woken, 0);
	assert_int_equal(waiters_count(ws), 3);
	assert_null(r[0].w.q); /* no longer parked */

	waiters_notify(ws, "Q1", 100); /* more than wait: all of them */
	assert_int_equal(norder, 4);
	assert_int_equal(order[2], 2);
	assert_int_equal(order[3], 3);
	assert_int_equal(waiters_count(ws), 1);
	waiters_notify(ws, "Q2", 1);
	assert_int_equal(r[4].woken, 1);
	assert_int_equal(waiters_count(ws), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(r[i].expired, 0);
	release_all(&loop, r, 5);
	waiters_close(ws);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A wake callback that parks again (a resubmitted GET found nothing). */
static void repark(struct waiter *w)
{
	struct rec *r = w->data;
	r->woken++;
	if (r->woken == 1)
		assert_int_equal(waiters_park(w->ws, w, "Q1", -1), QSG_OK);
}

static void wake_may_repark(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct waiters *ws;
	struct rec r[2];

	uv_loop_init(&loop);
	assert_int_equal(waiters_init(&ws, &loop), QSG_OK);
	rec_init(&r[0], 0, NULL, NULL);
	rec_init(&r[1], 1, NULL, NULL);
	r[0].w.wake = repark;
	assert_int_equal(waiters_park(ws, &r[0].w, "Q1", -1), QSG_OK);
	assert_int_equal(waiters_park(ws, &r[1].w, "Q1", -1), QSG_OK);
	waiters_notify(ws, "Q1", 1);
	assert_int_equal(r[0].woken, 1);
	assert_int_equal(waiters_count(ws), 2); /* parked again, behind r[1] */
	waiters_notify(ws, "Q1", 1);
	assert_int_equal(r[1].woken, 1);
	assert_int_equal(r[0].woken, 1);
	waiters_notify(ws, "Q1", 1);
	assert_int_equal(r[0].woken, 2);
	assert_int_equal(waiters_count(ws), 0);
	release_all(&loop, r, 2);
	waiters_close(ws);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Deadlines: expire is called once the timeout passes, earliest first; a
 * waiter without a timeout stays. */
static void timeouts(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct waiters *ws;
	struct rec r[3];
	int order[4], norder = 0;

	uv_loop_init(&loop);
	assert_int_equal(waiters_init(&ws, &loop), QSG_OK);
	for (int i = 0; i < 3; i++)
		rec_init(&r[i], i, order, &norder);
	uint64_t t0 = uv_now(&loop);
	assert_int_equal(waiters_park(ws, &r[0].w, "Q1", 40), QSG_OK);
	assert_int_equal(waiters_park(ws, &r[1].w, "Q1", 10), QSG_OK);
	assert_int_equal(waiters_park(ws, &r[2].w, "Q1", -1), QSG_OK);
	uv_run(&loop, UV_RUN_DEFAULT); /* runs until both timers fired */
	assert_true(uv_now(&loop) - t0 >= 40);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 0);
	assert_int_equal(r[0].expired, 1);
	assert_int_equal(r[1].expired, 1);
	assert_int_equal(r[2].expired, 0);
	assert_int_equal(waiters_count(ws), 1);
	/* the expired ones are not woken any more */
	waiters_notify(ws, "Q1", 10);
	assert_int_equal(r[0].woken + r[1].woken, 0);
	assert_int_equal(r[2].woken, 1);
	release_all(&loop, r, 3);
	waiters_close(ws);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A woken waiter's timer is stopped: it never expires afterwards. */
static void wake_stops_timer(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct waiters *ws;
	struct rec r;

	uv_loop_init(&loop);
	assert_int_equal(waiters_init(&ws, &loop), QSG_OK);
	rec_init(&r, 0, NULL, NULL);
	assert_int_equal(waiters_park(ws, &r.w, "Q1", 5), QSG_OK);
	waiters_notify(ws, "Q1", 1);
	uv_run(&loop, UV_RUN_DEFAULT); /* nothing active: returns at once */
	assert_int_equal(r.woken, 1);
	assert_int_equal(r.expired, 0);
	release_all(&loop, &r, 1);
	waiters_close(ws);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* cancel unparks without a callback (from the middle, twice, never parked). */
static void cancel(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct waiters *ws;
	struct rec r[4];
	int order[4], norder = 0;

	uv_loop_init(&loop);
	assert_int_equal(waiters_init(&ws, &loop), QSG_OK);
	for (int i = 0; i < 4; i++)
		rec_init(&r[i], i, order, &norder);
	for (int i = 0; i < 3; i++)
		assert_int_equal(waiters_park(ws, &r[i].w, "Q1", 20), QSG_OK);
	waiters_cancel(&r[1].w);
	waiters_cancel(&r[1].w);
	waiters_cancel(&r[3].w); /* never parked */
	assert_int_equal(waiters_count(ws), 2);
	waiters_notify(ws, "Q1", 2);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 2);
	assert_int_equal(r[1].woken, 0);
	/* cancelled before its deadline: never expires */
	assert_int_equal(waiters_park(ws, &r[3].w, "Q1", 5), QSG_OK);
	waiters_cancel(&r[3].w);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r[1].expired + r[3].expired, 0);
	assert_int_equal(waiters_count(ws), 0);
	/* the queue's record went with its last waiter: parking again works */
	assert_int_equal(waiters_park(ws, &r[1].w, "Q1", -1), QSG_OK);
	assert_int_equal(waiters_count(ws), 1);
	release_all(&loop, r, 4); /* release cancels a parked waiter */
	assert_int_equal(waiters_count(ws), 0);
	assert_int_equal(r[1].woken, 0);
	waiters_close(ws);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void bad_queue_name(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct waiters *ws;
	struct rec r;
	char name[FSM_NAME_MAX + 2];

	uv_loop_init(&loop);
	assert_int_equal(waiters_init(&ws, &loop), QSG_OK);
	rec_init(&r, 0, NULL, NULL);
	memset(name, 'Q', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	assert_int_equal(waiters_park(ws, &r.w, name, -1), QSG_RC_INVALID);
	assert_int_equal(waiters_count(ws), 0);
	release_all(&loop, &r, 1);
	waiters_close(ws);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(notify_wakes_oldest),
	    cmocka_unit_test(wake_may_repark),
	    cmocka_unit_test(timeouts),
	    cmocka_unit_test(wake_stops_timer),
	    cmocka_unit_test(cancel),
	    cmocka_unit_test(bad_queue_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
