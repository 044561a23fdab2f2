/* The state machine's garbage collector on the member's loop (issue 10: no
 * loop iteration over ~20 ms at any queue depth). CLEAR QLOCAL and DELETE
 * QLOCAL PURGE take every message of a queue out of the state in one O(1)
 * apply; the descriptors, index entries and stored bodies are freed after
 * the apply by fsm_reap (fsm.h), which this module calls in time-bounded
 * slices: one slice per loop iteration (a uv_check handle, after the poll
 * phase where entries are applied), at most slice_us of work, and while
 * garbage is left a uv_idle handle keeps the next poll from blocking so the
 * slices follow one another at the loop's pace. With nothing to free a slice
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

#define REAPER_SLICE_US 2000 /* default work per iteration */
#define REAPER_STEP 256 /* objects per fsm_reap call inside a slice */

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
	uv_idle_t idle;
	bool open;
	bool idling;
	struct reaper_stats st;
};

/* Start reaping f's garbage on loop, slice_us (0: REAPER_SLICE_US) per
 * iteration. The handles are unreferenced while idle: they do not keep the
 * loop alive. r must stay valid until the loop has run the close callbacks
 * after reaper_close. QSG_OK or QSG_RC_UNEXPECTED_ERROR (errmsg). */
int reaper_init(struct reaper *r, uv_loop_t *loop, struct fsm *f, unsigned slice_us, char *errmsg);
/* Stop and close the handles (idempotent). Garbage left is freed by
 * fsm_close. */
void reaper_close(struct reaper *r);
void reaper_read(const struct reaper *r, struct reaper_stats *out);

#endif
