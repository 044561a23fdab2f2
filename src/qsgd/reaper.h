/* The state machine's garbage collector on the member's loop (issue 10: no
 * loop iteration over ~20 ms at any queue depth). CLEAR QLOCAL and DELETE
 * QLOCAL PURGE take every message of a queue out of the state in one O(1)
 * apply; the descriptors, index entries and stored bodies are freed after
 * the apply by fsm_reap (fsm.h), which this module calls in time-bounded
 * slices: at most one slice per loop iteration (a uv_check handle, after
 * the poll phase where entries are applied), slice_us of work checked every
 * REAPER_STEP objects, and while garbage is left a REAPER_GAP_MS timer wakes
 * the loop for the next one. The gap leaves the CPU to the rest (3 members
 * reaping flat out on 2 cores were preempted for 4-8 ms scheduler ticks
 * inside their slices: loop iterations of 20-30 ms); with other work the
 * loop turns anyway and reaps on each turn. With nothing to free a slice
 * costs one O(1) call. Loop thread only; main.c owns one.
 *
 * Wiring (main.c): reaper_init after the fsm and its body provider are set
 * up, reaper_close with the other handles when the member stops. */
#ifndef QSGD_REAPER_H
#define QSGD_REAPER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "fsm/fsm.h"
#include "looplag.h"

#define REAPER_SLICE_US 2000 /* default work per iteration */
#define REAPER_STEP 32 /* objects per fsm_reap call inside a slice */
#define REAPER_GAP_MS 1 /* wake-up after a slice that left garbage */

struct reaper_stats {
	uint64_t slices; /* slices that freed something */
	uint64_t freed; /* messages freed */
	uint64_t slice_max_ns; /* longest slice */
};

struct reaper {
	uv_loop_t *loop;
	struct fsm *fsm;
	uint64_t slice_ns;
	uv_check_t check;
	uv_timer_t wake;
	bool open;
	struct reaper_stats st;
	struct looplag *lag; /* NULL, or where slices are charged (LOOPLAG_REAP) */
};

/* Start reaping f's garbage on loop, slice_us (0: REAPER_SLICE_US) per
 * iteration. The handles are unreferenced: they do not keep the
 * loop alive. r must stay valid until the loop has run the close callbacks
 * after reaper_close. QSG_OK or QSG_RC_UNEXPECTED_ERROR (errmsg). */
int reaper_init(struct reaper *r, uv_loop_t *loop, struct fsm *f, unsigned slice_us, char *errmsg);
/* Stop and close the handles (idempotent). Garbage left is freed by
 * fsm_close. */
void reaper_close(struct reaper *r);
void reaper_read(const struct reaper *r, struct reaper_stats *out);

#endif
