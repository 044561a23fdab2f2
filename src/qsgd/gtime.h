/* The group's time: what a leader stamps in each entry it appends (the
 * state machine's only clock, fsm.h) and compares lease expiries with.
 *
 * Entry times never go back: a leader stamps at least the last applied
 * entry's time. With that rule alone, after a leader whose clock ran ahead
 * (by a day, say) every later leader stamped the same frozen time until its
 * own clock caught up: for a day no lease expired and no message expired.
 * gtime_now therefore lets the group's time run on from the highest time
 * seen, by the member's monotonic clock, slowed by 1/20 while it is ahead of
 * the wall clock so that it comes back to real time (30 s ahead: 10 min;
 * a day ahead: 20 days). Leases measured in it last at most 5% longer in
 * real time meanwhile. docs/architecture.md "The group's time". */
#ifndef QSGD_GTIME_H
#define QSGD_GTIME_H

#include <stdbool.h>
#include <stdint.h>

struct gtime {
	bool set;
	int64_t base; /* the group's time at base_mono */
	uint64_t base_mono;
};

void gtime_init(struct gtime *g);
/* The group's time now: at least wall (this member's clock, ms since the
 * epoch) and last (the last applied entry's time); mono is a monotonic
 * clock in ms (uv_now). Never less than a previous result. */
int64_t gtime_now(struct gtime *g, int64_t wall, int64_t last, uint64_t mono);

#endif
