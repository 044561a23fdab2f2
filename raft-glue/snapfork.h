/* raft-glue private: capture the state machine for a snapshot in a forked
 * child (the Redis BGSAVE technique), so the loop only pays for fork().
 *
 * snapfork_start (loop thread) forks; the child holds a copy-on-write image
 * of the state exactly as it was at the call, encodes it with the state
 * machine's own canonical encoder (glue_sm.snapshot), writes the bytes to a
 * pipe and _exit()s. snapfork_collect (one thread-pool thread) reads the
 * whole stream into one malloc() buffer, verifies its framing and checksum
 * and reaps the child. snapfork_abort (any thread) asks a collect in
 * progress to kill the child and fail. Only fsm_adapter.c calls this module;
 * at most one capture is in progress per struct snapfork.
 *
 * Stream, child to parent (little endian):
 *   "QSGSNAP1" | u64 payload length | payload |
 *   u64 CRC32C of the payload (crc32c.h) | u64 encode time in us | "QSGSEND1"
 * then EOF, and the child exits with status 0. Anything else (short stream,
 * bad magic, bad checksum, trailing bytes, non-zero exit, a signal) is an
 * error and the bytes are discarded. */
#ifndef QSG_GLUE_SNAPFORK_H
#define QSG_GLUE_SNAPFORK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "glue.h"

/* Test hooks (tests/cluster/test_snapshot_fork.c). */
enum snapfork_fault {
	SNAPFORK_FAULT_NONE = 0,
	SNAPFORK_FAULT_HALF = 1, /* child writes half the payload, _exit(0) */
	SNAPFORK_FAULT_CHECKSUM = 2, /* child sends a wrong checksum */
};

struct snapfork {
	pid_t pid; /* child, 0 when none */
	int fd; /* read end of the pipe, -1 when none */
	atomic_int abort; /* set by snapfork_abort */
	int fault; /* enum snapfork_fault, for tests */
	unsigned stall_ms; /* no byte for this long: kill (default 60000) */
	/* Results of the last capture. */
	uint64_t fork_us; /* loop time spent in snapfork_start */
	uint64_t encode_us; /* encode time measured in the child */
	void *buf; /* payload (malloc), owned by the caller after collect */
	size_t len;
	char errmsg[QSG_ERRMSG_SIZE];
};

void snapfork_init(struct snapfork *s);
/* Loop thread. Forks the encoder; returns QSG_OK or an error (no child). */
int snapfork_start(struct snapfork *s, const struct glue_sm *sm);
/* Thread pool (blocking). Reads, verifies and reaps. On QSG_OK s->buf and
 * s->len hold the payload (ownership passes to the caller); on error nothing
 * is kept, s->errmsg says why, and the child is reaped either way. */
int snapfork_collect(struct snapfork *s);
/* Any thread: make a collect in progress kill the child and fail soon. */
void snapfork_abort(struct snapfork *s);
/* Loop thread, no capture in progress: release whatever is left. */
void snapfork_close(struct snapfork *s);

#endif
