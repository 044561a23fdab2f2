/* The member's message store: the bodystore (src/store/bodystore.h) of the
 * structure opened in <data dir>/store, wired to the state machine as its
 * body provider, to the glue's snapshot hooks (the store is synced up to a
 * snapshot before libraft persists it; segments are deleted only past the
 * previous snapshot) and to a housekeeping timer that compacts and reclaims
 * in slices of at most [store] slice_ms per loop iteration. Design:
 * docs/storage.md. Caller: main.c (one per member, loop thread only, except
 * msgstore_snap_sync which runs in the thread pool). */
#ifndef QSGD_MSGSTORE_H
#define QSGD_MSGSTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "fsm/fsm.h"
#include "log.h"
#include "store/bodystore.h"

struct looplag;

struct msgstore {
	struct bodystore bs;
	bool open;
	uv_loop_t *loop;
	struct qlog *log;
	uv_timer_t timer; /* housekeeping */
	bool timer_inited;
	uv_prepare_t flush; /* the write-behind buffer, once per iteration */
	bool flush_inited;
	unsigned slice_ms;
	bool stopping;
	/* A housekeeping failure is fatal for the member (fail-stop). */
	void (*fatal)(void *arg, const char *msg);
	void *fatal_arg;
	/* snapshots: the previous snapshot's index becomes the stable index
	 * when the next one is finalized (docs/storage.md, "stable index") */
	uint64_t prev_snapshot;
	uint64_t syncs, sync_failures;
	/* deletion of dead segments: the unlinks run in the thread pool */
	uv_work_t reclaim_req;
	struct store_reclaim_job reclaim_job;
	bool reclaiming;
	uint64_t reclaim_failures;
	/* housekeeping */
	uint64_t slices;
	uint64_t slice_max_us; /* longest slice since the last scrape */
	struct looplag *looplag; /* charged with the slices; may be NULL */
};

/* BLOCKS (scans the store). Opens <cfg->dir>/store. */
int msgstore_init(struct msgstore *ms, uv_loop_t *loop, struct qlog *log,
		  const struct qsgd_config *cfg, char *errmsg);
/* The state machine's body provider over this store. */
void msgstore_bodies(struct msgstore *ms, struct fsm_bodies *out);
/* Start housekeeping; fatal is called (once) if it fails. */
void msgstore_start(struct msgstore *ms, void (*fatal)(void *arg, const char *msg), void *arg);
/* Stop the timer (loop still running; the handle closes with the loop). */
void msgstore_stop(struct msgstore *ms);
/* After the loop ended: sync and close. */
void msgstore_close(struct msgstore *ms);

/* Glue hooks (glue_sm.applying / snap_prepare / snap_sync / snap_done). */
void msgstore_applying(struct msgstore *ms, uint64_t index);
void *msgstore_snap_prepare(struct msgstore *ms, uint64_t index);
int msgstore_snap_sync(void *job); /* thread pool */
void msgstore_snap_done(struct msgstore *ms, void *job, uint64_t index, bool ok);

struct msgstore_stats {
	struct bodystore_stats b;
	uint64_t syncs, sync_failures;
	uint64_t slices, slice_max_us;
	uint64_t stable;
};
/* reset_window: the longest-slice gauge starts again (a scrape). */
void msgstore_get_stats(struct msgstore *ms, struct msgstore_stats *out, bool reset_window);

#endif
