/* Log-linear latency histogram; see bench_hist.h. */
#include "bench_hist.h"

#include <math.h>
#include <string.h>

void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

unsigned bench_hist_index(uint64_t v)
{
	if (v < BENCH_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
	unsigned shift = msb - (BENCH_HIST_SUB_BITS - 1); /* >= 1 */
	unsigned top = (unsigned)(v >> shift); /* HALF .. SUB - 1 */
	return BENCH_HIST_SUB + (shift - 1) * BENCH_HIST_HALF + (top - BENCH_HIST_HALF);
}

uint64_t bench_hist_bucket_low(unsigned idx)
{
	if (idx < BENCH_HIST_SUB)
		return idx;
	unsigned rel = idx - BENCH_HIST_SUB;
	unsigned shift = rel / BENCH_HIST_HALF + 1;
	uint64_t top = rel % BENCH_HIST_HALF + BENCH_HIST_HALF;
	return top << shift;
}

uint64_t bench_hist_bucket_high(unsigned idx)
{
	if (idx < BENCH_HIST_SUB)
		return idx;
	unsigned rel = idx - BENCH_HIST_SUB;
	unsigned shift = rel / BENCH_HIST_HALF + 1;
	return bench_hist_bucket_low(idx) + ((uint64_t)1 << shift) - 1;
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
	h->buckets[bench_hist_index(v)]++;
	h->count++;
	h->sum += (long double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	if (src->count == 0)
		return;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
	if (h->count == 0)
		return 0;
	if (p > 100.0)
		p = 100.0;
	uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t v = bench_hist_bucket_high(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
	return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}
