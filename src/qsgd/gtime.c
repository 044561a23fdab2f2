/* The group's time (gtime.h). */
#include "gtime.h"
#include "daemon.h"

void gtime_init(struct gtime *g)
{
	g->set = false;
	g->base = 0;
	g->base_mono = 0;
}

int64_t gtime_now(struct gtime *g, int64_t wall, int64_t last, uint64_t mono)
{
	int64_t floor = wall > last ? wall : last;
	if (g->set) {
		int64_t run = g->base;
		if (mono > g->base_mono) {
			/* Running ahead of the wall clock: 19/20 of real time.
			 * The base stays put while it runs ahead, so the slowing
			 * accumulates even when calls come every millisecond. */
			uint64_t el = mono - g->base_mono;
			run += (int64_t)(el - el / 20);
		}
		if (run >= floor)
			return run;
	}
	g->set = true;
	g->base = floor;
	g->base_mono = mono;
	return floor;
}

int64_t qsgd_group_ms(struct qsgd *d)
{
	return gtime_now(&d->gtime, qsgd_wall_ms(), fsm_last_time(d->fsm), uv_now(d->loop));
}
