/* The group's time (src/qsgd/gtime.c): never back, never frozen after a
 * leader whose clock ran ahead, back to real time in the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qsgd/gtime.h"

#define DAY 86400000LL

/* Clocks in step: the group's time is the wall clock. */
static void follows_wall(void **state)
{
	(void)state;
	struct gtime g;
	gtime_init(&g);
	int64_t wall = 1700000000000LL;
	for (uint64_t mono = 1000; mono < 5000; mono += 7, wall += 7)
		assert_int_equal(gtime_now(&g, wall, wall - 3, mono), wall);
}

/* The log's last time is a day ahead (an earlier leader's clock): the
 * group's time runs on from it at 19/20 of real time, never back, never
 * frozen; a lease of 1000 ms then ends within 1053 ms of real time. */
static void runs_on_after_leader_ahead(void **state)
{
	(void)state;
	struct gtime g;
	gtime_init(&g);
	int64_t wall = 1700000000000LL, last = wall + DAY;
	uint64_t mono = 5000;
	int64_t prev = gtime_now(&g, wall, last, mono);
	assert_int_equal(prev, last);
	for (int i = 0; i < 2000; i++) {
		mono += 1;
		wall += 1;
		int64_t t = gtime_now(&g, wall, last, mono);
		assert_true(t >= prev);
		prev = t;
		last = t; /* the entry stamped with it applies */
	}
	/* 2000 ms of real time: 1900 ms of the group's. */
	assert_int_equal(prev, wall - 2000 + DAY + 1900);
	int64_t expiry = prev + 1000;
	uint64_t start = mono;
	while (gtime_now(&g, wall, last, mono) <= expiry) {
		mono++;
		wall++;
	}
	assert_true(mono - start <= 1053);
	assert_true(mono - start >= 1000);
}

/* 30 s ahead: back to the wall clock after 600 s, then in step. */
static void comes_back(void **state)
{
	(void)state;
	struct gtime g;
	gtime_init(&g);
	int64_t wall = 1700000000000LL;
	uint64_t mono = 0;
	int64_t t = gtime_now(&g, wall, wall + 30000, mono);
	assert_int_equal(t, wall + 30000);
	for (int s = 0; s < 599; s++) {
		mono += 1000;
		wall += 1000;
		t = gtime_now(&g, wall, t, mono);
	}
	assert_true(t > wall);
	mono += 2000;
	wall += 2000;
	assert_int_equal(gtime_now(&g, wall, t, mono), wall);
	mono += 10;
	wall += 10;
	assert_int_equal(gtime_now(&g, wall, wall, mono), wall);
}

/* A member's wall clock that steps back (NTP) does not take the group's
 * time back. */
static void never_back(void **state)
{
	(void)state;
	struct gtime g;
	gtime_init(&g);
	int64_t wall = 1700000000000LL;
	int64_t t = gtime_now(&g, wall, 0, 100);
	assert_int_equal(t, wall);
	int64_t t2 = gtime_now(&g, wall - 5000, 0, 150);
	assert_true(t2 >= t + 47);
	assert_true(t2 <= t + 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(follows_wall),
	    cmocka_unit_test(runs_on_after_leader_ahead),
	    cmocka_unit_test(comes_back),
	    cmocka_unit_test(never_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
