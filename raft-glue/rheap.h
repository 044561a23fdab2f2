/* libraft's frees off the event loop (issue 10, "no loop iteration over
 * ~20 ms").
 *
 * When libraft takes a snapshot it drops the log prefix the snapshot
 * covers: thousands of entries (snapshot_threshold, 8192 by default) freed
 * in one call on the loop thread. Right after a fork-mode snapshot every
 * page of the daemon is write-protected (copy on write), so each free()
 * that writes malloc's chunk headers takes a page fault. On a
 * paravirtualised machine that was 200-700 ms of one loop iteration, on
 * every member at the same moment (they snapshot at the same index), which
 * fenced the whole group while tests/integration/test_deep_clear.sh filled
 * a queue (perf: _int_free under libraft under uv_run, "other" in
 * QSG4008W).
 *
 * raft-glue installs a raft_heap (raft_heap_set) whose free() queues the
 * pointer for one background thread that makes the real free() calls;
 * malloc, calloc, realloc and aligned_alloc are the C library's. The queue
 * is bounded (RHEAP_MAX_QUEUED pointers): beyond it, or when the thread
 * cannot start, frees are made inline. Memory libraft freed is never named
 * by libraft again, so freeing it later on another thread is safe.
 *
 * Process-wide by nature (raft_heap_set is): like aiodefer, owned here,
 * enabled by glue_init for the life of the process. */
#ifndef GLUE_RHEAP_H
#define GLUE_RHEAP_H

#include <stdint.h>

#define RHEAP_MAX_QUEUED ((size_t)1 << 22) /* pointers waiting: 32 MiB of queue */

struct rheap_stats {
	uint64_t deferred; /* frees queued for the thread */
	uint64_t done; /* of them, made by the thread */
	uint64_t inline_frees; /* made on the caller's thread (disabled, full) */
	uint64_t max_queued; /* the longest the queue has been */
	uint64_t max_batch_us; /* the longest batch of frees the thread made */
};

/* Install the heap and start the thread (idempotent; thread-safe). */
void rheap_enable(void);
/* Stop deferring new frees and wait until the queued ones are made. For
 * tests and an orderly exit; safe to call when never enabled. */
void rheap_drain(void);
void rheap_get_stats(struct rheap_stats *out);

#endif
