/* The deterministic PRNG of the fixture tests and the simulator: xorshift64
 * on a caller-held state, so that a seed replays exactly. Header only; any
 * test may include it. */
#ifndef QSG_TEST_PRNG_H
#define QSG_TEST_PRNG_H

#include <stdint.h>

/* The state for a seed (never 0). */
static inline uint64_t prng_seed(uint64_t seed)
{
	return seed * 0x9e3779b97f4a7c15ULL + 1;
}

static inline uint64_t prng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Uniform-ish in 0..n-1 (0 when n is 0). */
static inline unsigned prng_pick(uint64_t *s, unsigned n)
{
	return n == 0 ? 0 : (unsigned)(prng_next(s) % n);
}

#endif
