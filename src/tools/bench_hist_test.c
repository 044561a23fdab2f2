/* Unit tests of qsgbench's latency histogram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bench_hist.h"

static void test_exact_small_values(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < BENCH_HIST_SUB; v++) {
		assert_int_equal(bench_hist_index(v), v);
		assert_int_equal(bench_hist_bucket_low((unsigned)v), v);
		assert_int_equal(bench_hist_bucket_high((unsigned)v), v);
	}
}

/* Every value lies inside its bucket, buckets tile the range without gaps
 * and a bucket is never wider than 1/128 of its low bound. */
static void test_buckets_tile(void **state)
{
	(void)state;
	for (unsigned i = 0; i + 1 < BENCH_HIST_BUCKETS; i++) {
		uint64_t lo = bench_hist_bucket_low(i), hi = bench_hist_bucket_high(i);
		assert_true(lo <= hi);
		assert_int_equal(bench_hist_bucket_low(i + 1), hi + 1);
		assert_int_equal(bench_hist_index(lo), i);
		assert_int_equal(bench_hist_index(hi), i);
		if (i >= BENCH_HIST_SUB)
			assert_true((hi - lo + 1) * BENCH_HIST_HALF <= lo);
	}
	assert_int_equal(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
	assert_int_equal(bench_hist_bucket_high(BENCH_HIST_BUCKETS - 1), UINT64_MAX);
}

static void test_percentiles_uniform(void **state)
{
	(void)state;
	struct bench_hist *h = malloc(sizeof *h);
	assert_non_null(h);
	bench_hist_init(h);
	assert_int_equal(bench_hist_percentile(h, 50), 0);
	for (uint64_t v = 1; v <= 100000; v++)
		bench_hist_record(h, v * 1000); /* 1 us .. 100 ms in ns */
	assert_int_equal(h->count, 100000);
	assert_int_equal(h->min, 1000);
	assert_int_equal(h->max, 100000000);
	const double ps[] = {50, 90, 99, 99.9};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
		double exact = ps[i] * 1000.0 * 1000.0; /* rank p% of 100000, in ns */
		double got = (double)bench_hist_percentile(h, ps[i]);
		assert_true(got >= exact);
		assert_true(got <= exact * (1.0 + 1.0 / BENCH_HIST_HALF));
	}
	assert_int_equal(bench_hist_percentile(h, 100), 100000000);
	double mean = bench_hist_mean(h);
	assert_true(mean > 50000400.0 && mean < 50000600.0);
	free(h);
}

static void test_merge_and_clamp(void **state)
{
	(void)state;
	struct bench_hist *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	assert_non_null(a);
	assert_non_null(b);
	bench_hist_init(a);
	bench_hist_init(b);
	bench_hist_record(a, 1000003);
	bench_hist_merge(a, b); /* empty: no change */
	assert_int_equal(a->count, 1);
	assert_int_equal(a->min, 1000003);
	/* A single value is reported exactly (clamped to min/max). */
	assert_int_equal(bench_hist_percentile(a, 50), 1000003);
	bench_hist_record(b, 7);
	bench_hist_record(b, 5000000000ull);
	bench_hist_merge(a, b);
	assert_int_equal(a->count, 3);
	assert_int_equal(a->min, 7);
	assert_int_equal(a->max, 5000000000ull);
	assert_int_equal(bench_hist_percentile(a, 1), 7);
	assert_int_equal(bench_hist_percentile(a, 99.9), 5000000000ull);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_small_values),
	    cmocka_unit_test(test_buckets_tile),
	    cmocka_unit_test(test_percentiles_uniform),
	    cmocka_unit_test(test_merge_and_clamp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
