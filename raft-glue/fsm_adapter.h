/* raft-glue private: the struct raft_fsm adapter over a struct glue_sm.
 * Shared by glue.c (daemon path) and glue_fsm_adapter_init() (raft_fixture
 * tests). Not part of the public contract in glue.h. */
#ifndef QSG_GLUE_FSM_ADAPTER_H
#define QSG_GLUE_FSM_ADAPTER_H

#include <raft.h>
#include <uv.h>

#include "glue.h"
#include "snapfork.h"

/* Asynchronous restore (arestore.c): a snapshot from the leader is decoded
 * in the thread pool while the entries libraft commits meanwhile wait in a
 * queue, then installed and the queue applied, in slices of the loop. */
struct glue_adapter;
struct glue_ajob;
struct glue_aentry;
struct glue_arestore {
	bool enabled; /* hooks present, FORK mode, glue started */
	bool closing;
	bool timer_init, timer_closed;
	uv_loop_t *loop;
	uv_timer_t timer; /* drives install steps and the queue */
	struct glue_ajob *job; /* the decode in flight that counts */
	struct glue_ajob *wait; /* job, waiting to decode again (QSG_RC_BUSY) */
	unsigned jobs; /* pool works in flight (decodes, discards) */
	void *image; /* decoded, waiting for install */
	bool stepping; /* restore_step not done yet */
	struct glue_aentry *qhead, *qtail;
	size_t qn;
	uint64_t started_ns; /* uv_hrtime() at the restore */
	uint64_t restores, last_us, queued_max;
	uint64_t waits; /* decodes asked again (QSG_RC_BUSY) */
	/* The adapter's apply of one entry (set by glue_adapter_setup), for
	 * the queue's drain; non-zero: the adapter has failed. */
	int (*apply)(struct glue_adapter *a, uint64_t index, const void *payload, size_t len);
	/* Called when closing and no pool work is left (glue.c). */
	void (*on_idle)(void *arg);
	void *on_idle_arg;
};

struct glue_adapter {
	struct glue_sm sm;
	/* Results of the most recent apply, reused by the next one. */
	struct qsg_wbuf results;
	/* When non-NULL and *waiters == 0, nobody on this server waits for
	 * results, so the state machine is called with results == NULL. When
	 * NULL, results are always collected (raft_fixture users). */
	const unsigned *waiters;
	/* Sticky: the state machine returned non-zero (fatal). */
	int failed;
	char errmsg[QSG_ERRMSG_SIZE];
	/* enum glue_snapshot_mode: GLUE_SNAPSHOT_INLINE is raft_fsm version 2
	 * (encode on the loop); GLUE_SNAPSHOT_FORK is version 3 (fork on the
	 * loop, encode in the child, collect in the thread pool). */
	int mode;
	struct snapfork sf;
	/* Fork mode: no capture is attempted before this uv_hrtime() (ns),
	 * set after a failure, since libraft retries after every apply. */
	uint64_t retry_after_ns;
	/* Snapshot statistics: snapshots taken, the size of the last encoded
	 * state, the time the encoder took (in the child in fork mode), the
	 * time the loop thread spent (fork() in fork mode, the encode inline)
	 * and failed captures (fork mode). */
	uint64_t snapshots;
	uint64_t snapshot_last_bytes;
	uint64_t snapshot_last_us;
	uint64_t snapshot_last_loop_us;
	uint64_t snapshot_failures;
	char snapshot_errmsg[QSG_ERRMSG_SIZE]; /* the last failure */
	/* The server (set by glue.c; NULL for raft_fixture adapters): the
	 * applying and snapshot hooks need raft_last_applied(). */
	struct raft *raft;
	/* The side-data job of the snapshot in progress (glue_sm.snap_*). */
	void *snap_job;
	uint64_t snap_index;
	bool snap_active;
	int snap_rc; /* snap_sync's result */
	struct glue_arestore ar;
	/* Bounded follower applies (docs/storage.md, "Bounded follower
	 * applies"): libraft 0.15 applies everything committed in one call;
	 * on a follower, once apply_budget_ns of one loop iteration is used,
	 * the rest waits in the restore's queue and is applied in slices.
	 * 0: off. burst_now/burst_t0: the loop time (uv_now) of the iteration
	 * being measured and uv_hrtime() at its first apply. */
	uint64_t apply_budget_ns;
	uint64_t burst_now, burst_t0;
	uint64_t deferrals; /* times the budget ran out (the queue's depth:
			     * ar.queued_max) */
};

/* Entry envelope. libraft's disk format requires every entry buffer to be a
 * multiple of 8 bytes (uvSegmentBufferAppend asserts it; Debian's release
 * build compiles the assert out and then writes a data checksum that does not
 * cover the padding the reader checks, so recovery truncates the log). Every
 * entry is therefore wrapped as:
 *   u32 payload length, u8 envelope version (1), u8[3] zero, payload,
 *   zero padding to a multiple of 8.
 * glue_entry_wrap allocates the buffer with raft_malloc (libraft frees it). */
#define GLUE_ENVELOPE_VERSION 1
#define GLUE_ENVELOPE_HDR 8
int glue_entry_wrap(const void *payload, size_t len, struct raft_buffer *out);
/* Validates the envelope; returns 0 and the payload, or -1 when malformed. */
int glue_entry_unwrap(const struct raft_buffer *buf, const void **payload, size_t *len);

void glue_adapter_setup(struct raft_fsm *fsm, struct glue_adapter *a, const struct glue_sm *sm,
			const unsigned *waiters, int mode);
/* arestore.c. init: once, with the loop (the timer). busy: a restore is
 * in progress (nothing may be applied directly, no snapshot taken, no
 * entry submitted). restore: libraft's restore, when enabled. enqueue: an
 * entry committed while busy. close: stop; on_idle is called once no pool
 * work is in flight and the timer is closed (returns false when that is
 * already so and on_idle will not be called). applied: the index of the
 * last entry applied to the state machine while busy (0: unknown). */
void glue_ar_init(struct glue_adapter *a, uv_loop_t *loop);
bool glue_ar_busy(const struct glue_adapter *a);
int glue_ar_restore(struct glue_adapter *a, struct raft_buffer *buf);
int glue_ar_enqueue(struct glue_adapter *a, uint64_t index, const void *payload, size_t len);
bool glue_ar_close(struct glue_adapter *a);
uint64_t glue_ar_applied(const struct glue_adapter *a, uint64_t raft_applied);

/* Shutdown: a fork-mode capture in progress is killed and fails. */
void glue_adapter_abort(struct glue_adapter *a);
void glue_adapter_teardown(struct glue_adapter *a);

#endif
