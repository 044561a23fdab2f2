#include "msgstore.h"

#include "looplag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUSEKEEP_PERIOD_MS 50 /* idle period between slices */
#define HOUSEKEEP_BUDGET (256u * 1024) /* bytes per compaction step */

int msgstore_init(struct msgstore *ms, uv_loop_t *loop, struct qlog *log,
		  const struct qsgd_config *cfg, char *errmsg)
{
	struct store_config sc;
	char dir[QSGD_PATH_MAX + 16];

	memset(ms, 0, sizeof *ms);
	ms->loop = loop;
	ms->log = log;
	ms->slice_ms = cfg->store_slice_ms;
	store_config_default(&sc);
	snprintf(dir, sizeof dir, "%s/store", cfg->dir);
	sc.dir = dir;
	sc.cache_bytes = (size_t)cfg->store_cache_mb * 1024 * 1024;
	sc.segment_size = (uint64_t)cfg->store_segment_mb * 1024 * 1024;
	sc.compact_ratio = cfg->store_compact_ratio;
	sc.write_buffer = (size_t)cfg->store_write_buffer_kb * 1024;
	sc.bytes_per_sync = (size_t)cfg->store_bytes_per_sync_kb * 1024;
	int rc = bodystore_init(&ms->bs, &sc, errmsg);
	if (rc != QSG_OK)
		return rc;
	ms->open = true;
	ms->bs.defer_reclaim = true; /* unlinks go to the pool (reclaim_start) */
	size_t nf = 0;
	const struct store_fault *f = store_faults(&ms->bs.st, &nf);
	for (size_t i = 0; i < nf; i++)
		QLOG_WARNING(log, "QSG7001W",
			     "message store: segment %u offset %u: %u bytes not served (%s)",
			     f[i].seg, f[i].off, f[i].len, store_fault_name(f[i].reason));
	struct bodystore_stats st;
	bodystore_get_stats(&ms->bs, &st);
	QLOG_INFO_(log, "QSG7002I",
		   "message store %s open: %u segment(s), %llu bytes, %llu message bodies", dir,
		   st.st.segments, (unsigned long long)st.st.disk_bytes,
		   (unsigned long long)st.messages);
	return QSG_OK;
}

void msgstore_bodies(struct msgstore *ms, struct fsm_bodies *out)
{
	memset(out, 0, sizeof *out);
	out->arg = &ms->bs;
	out->put = bodystore_put;
	out->read = bodystore_read;
	out->release = bodystore_release;
	out->claim = bodystore_claim;
	out->restored = bodystore_restored;
	out->put_part = bodystore_put_part;
	out->read_part = bodystore_read_part;
	out->claim_part = bodystore_claim_part;
	out->rename = bodystore_rename;
}

#define RECLAIM_MAX 4 /* segments per pool job */

static void reclaim_work(uv_work_t *req)
{
	struct msgstore *ms = req->data;
	bodystore_reclaim_run(&ms->reclaim_job);
}

static void reclaim_after(uv_work_t *req, int status)
{
	struct msgstore *ms = req->data;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	(void)status;
	ms->reclaiming = false;
	if (bodystore_reclaim_done(&ms->bs, &ms->reclaim_job, errmsg) != QSG_OK) {
		/* A segment that could not be unlinked stays on disk (dead
		 * bytes); not fatal, the data is intact. */
		ms->reclaim_failures++;
		QLOG_WARNING(ms->log, "QSG7005W", "message store: deleting a segment: %s", errmsg);
	}
}

/* Loop: take dead segments out of the store and unlink them in the pool. */
static void reclaim_start(struct msgstore *ms)
{
	char errmsg[QSG_ERRMSG_SIZE] = "";
	if (ms->reclaiming || !bodystore_reclaim_pending(&ms->bs))
		return;
	memset(&ms->reclaim_job, 0, sizeof ms->reclaim_job);
	if (bodystore_reclaim_prepare(&ms->bs, RECLAIM_MAX, &ms->reclaim_job, errmsg) != QSG_OK) {
		ms->reclaim_failures++;
		return;
	}
	if (ms->reclaim_job.n == 0) {
		bodystore_reclaim_done(&ms->bs, &ms->reclaim_job, errmsg);
		return;
	}
	ms->reclaim_req.data = ms;
	if (uv_queue_work(ms->loop, &ms->reclaim_req, reclaim_work, reclaim_after) != 0) {
		/* cannot queue (never with libuv's pool): unlink here */
		bodystore_reclaim_run(&ms->reclaim_job);
		bodystore_reclaim_done(&ms->bs, &ms->reclaim_job, errmsg);
		return;
	}
	ms->reclaiming = true;
}

static void housekeep_tick(uv_timer_t *t)
{
	struct msgstore *ms = t->data;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	bool more = false;

	if (ms->stopping || !ms->open)
		return;
	uint64_t t0 = uv_hrtime();
	uint64_t limit = t0 + (uint64_t)ms->slice_ms * 1000000u;
	do {
		int rc = bodystore_housekeep(&ms->bs, HOUSEKEEP_BUDGET, &more, errmsg);
		if (rc != QSG_OK) {
			ms->stopping = true;
			uv_timer_stop(&ms->timer);
			char msg[QSG_ERRMSG_SIZE + 64];
			snprintf(msg, sizeof msg, "message store housekeeping failed: %s", errmsg);
			if (ms->fatal != NULL)
				ms->fatal(ms->fatal_arg, msg);
			return;
		}
	} while (more && uv_hrtime() < limit);
	reclaim_start(ms);
	uint64_t ns = uv_hrtime() - t0;
	uint64_t us = ns / 1000;
	looplag_charge(ms->looplag, LOOPLAG_STORE, ns);
	ms->slices++;
	if (us > ms->slice_max_us)
		ms->slice_max_us = us;
	/* More to do: come back at once (after the loop polled for I/O). */
	if (more)
		uv_timer_start(&ms->timer, housekeep_tick, 1, HOUSEKEEP_PERIOD_MS);
}

/* Once per loop iteration, before the loop polls: the records appended by
 * this iteration's applies reach the file with one pwrite. */
static void flush_prepare(uv_prepare_t *h)
{
	struct msgstore *ms = h->data;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	if (ms->stopping || !ms->open)
		return;
	uint64_t t0 = uv_hrtime();
	int rc = bodystore_flush(&ms->bs, errmsg);
	looplag_charge(ms->looplag, LOOPLAG_STORE, uv_hrtime() - t0);
	if (rc != QSG_OK) {
		ms->stopping = true;
		uv_prepare_stop(&ms->flush);
		char msg[QSG_ERRMSG_SIZE + 64];
		snprintf(msg, sizeof msg, "message store write failed: %s", errmsg);
		if (ms->fatal != NULL)
			ms->fatal(ms->fatal_arg, msg);
	}
}

void msgstore_start(struct msgstore *ms, void (*fatal)(void *arg, const char *msg), void *arg)
{
	ms->fatal = fatal;
	ms->fatal_arg = arg;
	uv_timer_init(ms->loop, &ms->timer);
	ms->timer.data = ms;
	ms->timer_inited = true;
	uv_timer_start(&ms->timer, housekeep_tick, HOUSEKEEP_PERIOD_MS, HOUSEKEEP_PERIOD_MS);
	uv_prepare_init(ms->loop, &ms->flush);
	ms->flush.data = ms;
	ms->flush_inited = true;
	uv_prepare_start(&ms->flush, flush_prepare);
	uv_unref((uv_handle_t *)&ms->flush); /* does not keep the loop alive */
}

void msgstore_stop(struct msgstore *ms)
{
	ms->stopping = true;
	if (ms->timer_inited) {
		uv_timer_stop(&ms->timer);
		uv_close((uv_handle_t *)&ms->timer, NULL);
		ms->timer_inited = false;
	}
	if (ms->flush_inited) {
		uv_prepare_stop(&ms->flush);
		uv_close((uv_handle_t *)&ms->flush, NULL);
		ms->flush_inited = false;
	}
}

void msgstore_close(struct msgstore *ms)
{
	char errmsg[QSG_ERRMSG_SIZE] = "";
	if (!ms->open)
		return;
	struct store_sync_job job;
	if (bodystore_sync_prepare(&ms->bs, &job, errmsg) == QSG_OK) {
		bodystore_sync_run(&job);
		if (bodystore_sync_done(&ms->bs, &job, errmsg) != QSG_OK)
			QLOG_WARNING(ms->log, "QSG7003W", "message store sync at stop: %s", errmsg);
	}
	bodystore_close(&ms->bs);
	ms->open = false;
}

void msgstore_applying(struct msgstore *ms, uint64_t index)
{
	if (ms->open)
		bodystore_set_index(&ms->bs, index);
}

struct snapjob {
	struct store_sync_job job;
	int prep_rc;
	char errmsg[QSG_ERRMSG_SIZE];
};

void *msgstore_snap_prepare(struct msgstore *ms, uint64_t index)
{
	(void)index;
	if (!ms->open)
		return NULL;
	struct snapjob *j = calloc(1, sizeof *j);
	if (j == NULL)
		return NULL; /* snap_sync fails the snapshot */
	j->prep_rc = bodystore_sync_prepare(&ms->bs, &j->job, j->errmsg);
	return j;
}

int msgstore_snap_sync(void *job)
{
	struct snapjob *j = job;
	if (j == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	if (j->prep_rc != QSG_OK)
		return j->prep_rc;
	return bodystore_sync_run(&j->job);
}

void msgstore_snap_done(struct msgstore *ms, void *job, uint64_t index, bool ok)
{
	struct snapjob *j = job;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	if (j == NULL) {
		ms->sync_failures++;
		return;
	}
	if (j->prep_rc == QSG_OK) {
		if (bodystore_sync_done(&ms->bs, &j->job, errmsg) != QSG_OK) {
			ok = false;
			QLOG_WARNING(ms->log, "QSG7003W", "message store sync: %s", errmsg);
		}
	} else {
		ok = false;
		QLOG_WARNING(ms->log, "QSG7003W", "message store sync: %s", j->errmsg);
	}
	free(j);
	if (!ok) {
		ms->sync_failures++;
		return;
	}
	ms->syncs++;
	/* libraft 0.15 does not say whether this snapshot was persisted;
	 * the previous one was, so it is the stable point (docs/storage.md). */
	if (ms->prev_snapshot != 0)
		bodystore_set_stable(&ms->bs, ms->prev_snapshot);
	ms->prev_snapshot = index;
}

void msgstore_get_stats(struct msgstore *ms, struct msgstore_stats *out, bool reset_window)
{
	memset(out, 0, sizeof *out);
	if (ms->open)
		bodystore_get_stats(&ms->bs, &out->b);
	out->syncs = ms->syncs;
	out->sync_failures = ms->sync_failures;
	out->slices = ms->slices;
	out->slice_max_us = ms->slice_max_us;
	out->stable = ms->open ? ms->bs.st.stable : 0;
	if (reset_window)
		ms->slice_max_us = 0;
}
