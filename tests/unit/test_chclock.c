/* Unit tests of the sending channel's clock (src/chan/chclock.h): the due
 * times of a sender's black list and the expiries of messages are the
 * group's time (entry times), compared with the group's time as this
 * member sees it, not with its wall clock. A real struct qsgd (qsgd_fake)
 * whose state machine applied an entry stamped a day ahead of the wall
 * clock (a group after a leader whose clock ran ahead, docs/architecture.md
 * "The group's time"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chan/chclock.h"
#include "qsgd/submission.h"
#include "qsgd_fake.h"

#define DAY_MS 86400000

/* An entry stamped `at` applied: the state machine's last time. */
static void entry_at(struct fake *fk, int64_t at)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_JOIN;
	c.member_id = 2;
	c.seq = 1000;
	snprintf(c.name, sizeof c.name, "QM2");
	fk->now = at;
	assert_int_equal(fake_apply(fk, &c), QSG_OK);
	assert_int_equal(fsm_last_time(fk->d.fsm), at);
}

/* A destination listed at group time `at` with hold_ms: due at at + hold. */
static void listed(struct fsm_chstatus *st, int64_t due)
{
	memset(st, 0, sizeof *st);
	st->nblk = 1;
	st->blk[0].retry_seq = 0;
	st->blk[0].retry_at_ms = due;
}

/* The group's time a day ahead of the wall clock: a destination due by the
 * group's time is due (by the wall clock it would wait a day), and one due
 * 5 s from now in the group's time is not. */
static void blk_due_in_group_time(void **state)
{
	(void)state;
	struct fake fk;
	fake_init(&fk, 3, 1, 0);
	int64_t ahead = qsgd_wall_ms() + DAY_MS;
	entry_at(&fk, ahead);
	struct fsm_chstatus st;
	listed(&st, ahead - 1);
	assert_true(chclock_blk_due(&fk.d, &st));
	listed(&st, ahead + 5000);
	assert_false(chclock_blk_due(&fk.d, &st));
	/* Not due while it waits for its message alone (retry_seq). */
	listed(&st, ahead - 1);
	st.blk[0].retry_seq = 7;
	assert_false(chclock_blk_due(&fk.d, &st));
	fake_close(&fk);
}

/* A message put a day ahead (entry time) with a 60 s expiry has about 60 s
 * left, not a day and 60 s; one already past its expiry in the group's time
 * has 1 ms (the partner expires it), though the wall clock is a day before. */
static void expiry_left_in_group_time(void **state)
{
	(void)state;
	struct fake fk;
	fake_init(&fk, 3, 1, 0);
	int64_t ahead = qsgd_wall_ms() + DAY_MS;
	entry_at(&fk, ahead);
	int64_t left = chclock_expiry_left(&fk.d, ahead + 60000);
	assert_true(left <= 60000);
	assert_true(left > 50000);
	assert_int_equal(chclock_expiry_left(&fk.d, ahead - 1000), 1);
	fake_close(&fk);
}

/* With the group's time at the wall clock (no skew), the same rules. */
static void no_skew(void **state)
{
	(void)state;
	struct fake fk;
	fake_init(&fk, 3, 1, 0);
	int64_t now = qsgd_wall_ms();
	entry_at(&fk, now);
	struct fsm_chstatus st;
	listed(&st, now - 1);
	assert_true(chclock_blk_due(&fk.d, &st));
	listed(&st, now + 60000);
	assert_false(chclock_blk_due(&fk.d, &st));
	int64_t left = chclock_expiry_left(&fk.d, now + 60000);
	assert_true(left <= 60000 && left > 50000);
	fake_close(&fk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(blk_due_in_group_time),
	    cmocka_unit_test(expiry_left_in_group_time),
	    cmocka_unit_test(no_skew),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
