/* Kernel AIO context teardown off the event loop (issue 10, "no loop
 * iteration over ~20 ms").
 *
 * libraft 0.15's disk writer (uv_writer.c) owns a kernel AIO context per
 * open segment and destroys it with io_destroy(2) from a close callback on
 * the loop thread, every time a segment is finished. io_destroy waits for an
 * RCU grace period: measured with strace on this machine kind, 28-50 ms per
 * call, about once a second under load, on every member. That was the whole
 * of the 40-60 ms loop stalls that bench/deep.sh showed as "other".
 *
 * libraft issues the call through glibc's syscall(2). raft-glue defines
 * syscall() in the daemon's executable, which the dynamic linker binds
 * libraft's reference to; every number but __NR_io_destroy is passed to the
 * C library unchanged. io_destroy is queued to one background thread, which
 * makes the real call, and returns 0 at once. That is safe because libraft
 * has completed or cancelled every request of the context before it
 * destroys it and never names the context again (a new segment gets a new
 * io_setup); the kernel frees the context when the thread's call returns, or
 * at process exit.
 *
 * Process-wide by nature (there is one syscall symbol): the one piece of
 * global state in raft-glue, owned here. Off until aiodefer_enable() (glue
 * calls it in glue_init); then for the life of the process. */
#ifndef GLUE_AIODEFER_H
#define GLUE_AIODEFER_H

#include <stdint.h>

struct aiodefer_stats {
	uint64_t deferred; /* io_destroy calls taken off the caller's thread */
	uint64_t done; /* of them, completed by the background thread */
	uint64_t failed; /* of them, the kernel refused (logged nowhere: counted) */
	uint64_t inline_calls; /* made on the caller's thread (disabled, or no
				* thread could be started) */
	uint64_t max_us; /* the longest io_destroy the thread made */
};

/* Start deferring io_destroy (idempotent; thread-safe). */
void aiodefer_enable(void);
/* Stop deferring new calls and wait until the queued ones are done. For
 * tests and an orderly exit; safe to call when never enabled. */
void aiodefer_drain(void);
void aiodefer_get_stats(struct aiodefer_stats *out);

#endif
