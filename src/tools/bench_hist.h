/* Log-linear latency histogram in the style of HdrHistogram: exact below
 * 2^BENCH_HIST_SUB_BITS, then 2^(BENCH_HIST_SUB_BITS - 1) linear sub-buckets per
 * power of two, so a reported value is within 1/128 (0.8 %) of the recorded
 * one. Fixed size, no allocation; values are unsigned 64-bit (qsgbench
 * records nanoseconds). */
#ifndef QSG_TOOLS_BENCH_HIST_H
#define QSG_TOOLS_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 8
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_HALF (BENCH_HIST_SUB / 2)
/* Exact buckets, then one half-range per shift 1 .. 64 - BENCH_HIST_SUB_BITS. */
#define BENCH_HIST_BUCKETS (BENCH_HIST_SUB + (64 - BENCH_HIST_SUB_BITS) * BENCH_HIST_HALF)

struct bench_hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	long double sum;
	uint64_t buckets[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_record(struct bench_hist *h, uint64_t v);
/* Add every value of src to dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* Value at percentile p (0 < p <= 100): the highest value equivalent to the
 * bucket holding the ceil(p/100 * count)-th smallest value, clamped to
 * [min, max]. 0 when the histogram is empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);
double bench_hist_mean(const struct bench_hist *h);

/* Bucket arithmetic, exposed for tests. */
unsigned bench_hist_index(uint64_t v);
uint64_t bench_hist_bucket_low(unsigned idx);
uint64_t bench_hist_bucket_high(unsigned idx);

#endif
