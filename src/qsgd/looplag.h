/* Loop-stall monitor: how long each iteration of the member's one libuv loop
 * spends running callbacks (issue 10: "no loop iteration may take more than
 * about 20 ms at any queue depth"). main.c creates one per member; /metrics
 * reads it (metrics.h, struct looplag_stats); tests drive it on their own
 * loop. Loop thread only.
 *
 * How it measures. A uv_prepare handle runs once per iteration, just before
 * the loop polls for I/O. Between two prepare callbacks the loop either
 * waited in the kernel (idle) or ran callbacks (work): timers, I/O callbacks
 * (which libuv runs *inside* its poll phase, so a prepare/check pair alone
 * would miss them), check and close callbacks. The loop is configured with
 * UV_METRICS_IDLE_TIME, so libuv counts the time spent waiting; one iteration's
 * work is the wall time between two prepare callbacks minus the idle time
 * accrued in between. Cost per iteration: one uv_hrtime() and one
 * uv_metrics_idle_time() here, plus the two clock reads libuv makes around
 * epoll_wait, and one read of the thread's CPU clock (a system call: about
 * 2 us on a paravirtualised machine). The CPU time of an iteration is what
 * the work cost; the wall time adds waiting for a CPU, which on a machine
 * running more members than it has cores can be most of it.
 *
 * A second view: a periodic uv_timer (LOOPLAG_TICK_MS) records how late it
 * fires, the latency a timer-driven duty such as a lease renewal sees. The
 * tick also reports warnings that the rate limit held back.
 *
 * Warnings: an iteration whose work exceeds warn_ms ([qmgr] loop_warn_ms,
 * default 200, 0 = off) logs QSG4008W, at most one line per second; the lines
 * held back are counted and reported in the next one. */
#ifndef QSGD_LOOPLAG_H
#define QSGD_LOOPLAG_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "log.h"

/* Histogram upper bounds in ms: <=1, <=5, <=20, <=100, <=1000, and above
 * (an initialiser, so that metrics.c needs no symbol from this module). */
#define LOOPLAG_BUCKETS 5
#define LOOPLAG_BOUNDS_MS                                                                          \
	{                                                                                          \
		1, 5, 20, 100, 1000                                                                \
	}
#define LOOPLAG_STALL_MS 20 /* the budget of one iteration (issue 10) */

/* Where an iteration's time went. The modules that do the heavy work charge
 * their callbacks (looplag_charge); the rest of an iteration is "other"
 * (libraft's own processing, network reads and writes, timers). A warning
 * and the worst iteration of a window carry the breakdown, so a stall names
 * its cause. */
enum looplag_phase {
	LOOPLAG_APPLY, /* state machine apply of committed entries */
	LOOPLAG_SNAPSHOT, /* snapshot capture on the loop (fork, or inline encode) */
	LOOPLAG_STORE, /* message store housekeeping and completions */
	LOOPLAG_CLIENT, /* client and member requests: decode, submit, replies */
	LOOPLAG_REAP, /* the state machine's garbage collector (reaper.h) */
	LOOPLAG_NPHASES
};
#define LOOPLAG_PHASE_NAMES                                                                        \
	{                                                                                          \
		"apply", "snapshot", "store", "client", "reap"                                     \
	}
#define LOOPLAG_TICK_MS 100 /* the lateness timer's period */
#define LOOPLAG_WARN_INTERVAL_NS 1000000000ull /* at most one warning a second */

/* What /metrics shows: a plain copy (looplag_read). */
struct looplag_stats {
	uint64_t iterations; /* iterations measured */
	uint64_t sum_ns; /* their work, summed */
	uint64_t bucket[LOOPLAG_BUCKETS]; /* per bucket, not cumulative; above
					   * the last bound: only in iterations */
	uint64_t over_stall; /* iterations over LOOPLAG_STALL_MS */
	uint64_t max_ns; /* longest iteration since start */
	uint64_t window_max_ns; /* longest since the last looplag_read(reset) */
	/* The same on CPU (the loop thread's CPU time in the iteration): the
	 * cost of the work itself, without the time the thread waited for a
	 * CPU or in a page fault's I/O. 0 where the clock is not available. */
	uint64_t cpu_max_ns;
	uint64_t cpu_window_max_ns;
	uint64_t timer_lag_max_ms; /* latest the tick has fired since start */
	uint64_t warnings; /* QSG4008W lines written */
	uint64_t phase_ns[LOOPLAG_NPHASES]; /* time charged per phase, summed */
	/* the longest iteration of the window: its charged phases (the rest
	 * of window_max_ns was "other") */
	uint64_t window_worst_phase_ns[LOOPLAG_NPHASES];
};

struct looplag {
	uv_loop_t *loop;
	const struct qlog *log;
	unsigned warn_ms; /* 0: no warnings */
	uv_prepare_t prepare;
	uv_timer_t tick;
	bool primed; /* a first prepare callback has set last_ns */
	bool open;
	uint64_t last_ns; /* uv_hrtime() at the previous prepare callback */
	uint64_t last_idle_ns; /* uv_metrics_idle_time() then */
	uint64_t last_cpu_ns; /* the thread's CPU clock then (0: unknown) */
	uint64_t cur_cpu_ns; /* CPU time of the iteration being accounted */
	uint64_t tick_due_ms; /* loop time the tick is due at */
	/* rate limit of QSG4008W */
	uint64_t last_warn_ns; /* 0: never */
	uint64_t held; /* over the threshold since the last line, not logged */
	uint64_t held_worst_ns;
	uint64_t cur_ns[LOOPLAG_NPHASES]; /* charged in the current iteration */
	struct looplag_stats st;
};

/* Configure loop for idle-time metrics and start measuring. The handles are
 * unreferenced: they do not keep the loop alive. l must stay valid until the
 * loop has run the close callbacks after looplag_close. Returns QSG_OK or
 * QSG_RC_UNEXPECTED_ERROR (libuv refused; errmsg says why). */
int looplag_init(struct looplag *l, uv_loop_t *loop, const struct qlog *log, unsigned warn_ms,
		 char *errmsg);
/* Stop measuring and close the handles (idempotent). */
void looplag_close(struct looplag *l);

/* Copy the counters into out; with reset_window, start a new window
 * (window_max_ns = 0 afterwards). */
void looplag_read(struct looplag *l, struct looplag_stats *out, bool reset_window);

/* Charge ns of the current iteration's work to phase (loop thread). A
 * closed or NULL monitor ignores it. */
void looplag_charge(struct looplag *l, enum looplag_phase phase, uint64_t ns);

/* Account one iteration that did work_ns of work, at time now_ns (uv_hrtime
 * clock): histogram, maxima, the warning and its rate limit, with the phases
 * charged since the previous call (which it then clears). The prepare
 * callback calls it; exposed so that tests can check the arithmetic with
 * chosen values. */
void looplag_account(struct looplag *l, uint64_t work_ns, uint64_t now_ns);

/* Report the warnings held back by the rate limit if a second has passed
 * since the last line (the tick calls it). */
void looplag_flush(struct looplag *l, uint64_t now_ns);

#endif
