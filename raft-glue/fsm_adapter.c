/* struct raft_fsm over struct glue_sm.
 *
 * Apply results and their lifetime. In libraft 0.15 (src/replication.c,
 * applyCommand) a committed RAFT_COMMAND entry is applied with
 *
 *	rv = r->fsm->apply(r->fsm, buf, &result);
 *	req = getRequest(r, index, RAFT_COMMAND);
 *	if (req != NULL && req->cb != NULL)
 *		req->cb(req, 0, result);
 *
 * i.e. the raft_apply callback of the submitting server runs synchronously,
 * right after fsm->apply and before the next entry is applied. Every other
 * server (followers, or a leader applying an entry it did not submit) gets a
 * result that nobody ever sees and nobody frees. So the adapter does not
 * allocate a result per entry: it owns one qsg_wbuf, resets it at the start
 * of each apply and hands out a pointer to it. The leader's callback reads it
 * during the callback (the contract in glue.h: "owned by the glue, valid
 * during the call"); followers never leak anything; the buffer's memory is
 * reused from entry to entry and released by glue_adapter_teardown().
 *
 * Snapshots. Inline mode uses raft_fsm version 2: `snapshot` encodes the
 * whole state on the loop. Fork mode uses version 3 (libraft 0.15,
 * src/replication.c, takeSnapshot): `snapshot` runs on the loop right after
 * the last applied entry and forks the encoder (snapfork.c), returning no
 * buffers; libraft then calls `snapshot_async` in the thread pool
 * (io->async_work), which collects the child's bytes into the buffers, and
 * after the put (or any failure) `snapshot_finalize` on the loop. libraft
 * keeps applying entries meanwhile; the child's copy-on-write image does not
 * see them. A failure after `snapshot` succeeded makes libraft skip that
 * snapshot (takeSnapshotDoneCb); a failing `snapshot` returns RAFT_BUSY,
 * which libraft ignores and retries after the next apply, so failures back
 * off for a second. In both modes, with snapshot_finalize set, libraft takes
 * no ownership of the snapshot buffers (takeSnapshotClose), so they are
 * plain malloc() memory released in snapshot_finalize. Restore: on success
 * the fsm owns buf->base (libraft frees only the bufs array), so it is
 * released with raft_free(); on failure libraft frees it. */
#include "fsm_adapter.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/common/bgfree.h"

int glue_entry_wrap(const void *payload, size_t len, struct raft_buffer *out)
{
	size_t total;
	uint8_t *p;

	if (len > UINT32_MAX - 16) {
		return RAFT_TOOBIG;
	}
	total = (GLUE_ENVELOPE_HDR + len + 7) & ~(size_t)7;
	p = raft_malloc(total);
	if (p == NULL) {
		return RAFT_NOMEM;
	}
	memset(p, 0, total);
	p[0] = (uint8_t)len;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)(len >> 16);
	p[3] = (uint8_t)(len >> 24);
	p[4] = GLUE_ENVELOPE_VERSION;
	if (len > 0) {
		memcpy(p + GLUE_ENVELOPE_HDR, payload, len);
	}
	out->base = p;
	out->len = total;
	return 0;
}

int glue_entry_unwrap(const struct raft_buffer *buf, const void **payload, size_t *len)
{
	const uint8_t *p = buf->base;
	size_t n;

	if (p == NULL || buf->len < GLUE_ENVELOPE_HDR || buf->len % 8 != 0) {
		return -1;
	}
	n = qsg_le32(p);
	if (p[4] != GLUE_ENVELOPE_VERSION || p[5] != 0 || p[6] != 0 || p[7] != 0 ||
	    n > buf->len - GLUE_ENVELOPE_HDR || buf->len - GLUE_ENVELOPE_HDR - n >= 8) {
		return -1;
	}
	*payload = p + GLUE_ENVELOPE_HDR;
	*len = n;
	return 0;
}

static int apply_payload(struct glue_adapter *a, uint64_t index, const void *payload, size_t len,
			 struct qsg_wbuf *out)
{
	int rc;

	if (a->raft != NULL && a->sm.applying != NULL) {
		a->sm.applying(a->sm.data, index);
	}
	rc = a->sm.apply(a->sm.data, payload, len, out);
	if (rc != QSG_OK) {
		a->failed = rc;
		snprintf(a->errmsg, sizeof a->errmsg, "state machine apply failed: %s (%d)",
			 qsg_rc_name(rc), rc);
		return rc == QSG_RC_STORAGE_NOT_AVAILABLE ? RAFT_NOMEM : RAFT_INVALID;
	}
	return 0;
}

/* The queue's drain (arestore.c): nobody waits for these results. */
static int apply_queued(struct glue_adapter *a, uint64_t index, const void *payload, size_t len)
{
	return apply_payload(a, index, payload, len, NULL);
}

/* A follower has used its apply budget in this loop iteration: the entry
 * must wait in the queue (the first of a burst always applies). Never on
 * a leader, whose submitters wait for results now, and only where the
 * queue can drain (arestore enabled: qsgd, not raft_fixture tests). */
static bool over_budget(struct glue_adapter *a)
{
	if (a->apply_budget_ns == 0 || !a->ar.enabled || a->ar.closing || glue_ar_busy(a) ||
	    a->raft == NULL || raft_state(a->raft) == RAFT_LEADER)
		return false;
	uint64_t now = uv_now(a->ar.loop); /* fixed during one iteration's I/O */
	uint64_t t = uv_hrtime();
	if (now != a->burst_now) {
		a->burst_now = now;
		a->burst_t0 = t;
		return false;
	}
	return t - a->burst_t0 > a->apply_budget_ns;
}

static int adapter_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct glue_adapter *a = fsm->data;
	struct qsg_wbuf *out = NULL;
	int rc;

	*result = NULL;
	if (a->failed) {
		return RAFT_INVALID;
	}
	const void *payload;
	size_t len;
	bool ours = glue_entry_unwrap(buf, &payload, &len) == 0;
	/* libraft 0.15 (replicationApply) advances last_applied after the
	 * apply returns. */
	uint64_t index = a->raft != NULL ? raft_last_applied(a->raft) + 1 : 0;
	if (ours && over_budget(a)) {
		if (glue_ar_enqueue(a, index, payload, len) != QSG_OK) {
			a->failed = QSG_RC_STORAGE_NOT_AVAILABLE;
			snprintf(a->errmsg, sizeof a->errmsg, "out of memory queueing an entry");
			return RAFT_NOMEM;
		}
		a->deferrals++;
		return 0;
	}
	if (glue_ar_busy(a)) {
		/* A restore is in progress: the entry waits its turn (its
		 * submitter, if any, learns "outcome unknown"). */
		if (ours && glue_ar_enqueue(a, index, payload, len) != QSG_OK) {
			a->failed = QSG_RC_STORAGE_NOT_AVAILABLE;
			snprintf(a->errmsg, sizeof a->errmsg,
				 "out of memory queueing an entry during a restore");
			return RAFT_NOMEM;
		}
		return 0;
	}
	qsg_wbuf_reset(&a->results);
	if (a->waiters == NULL || *a->waiters > 0) {
		out = &a->results;
	}
	if (!ours) {
		/* Not one of ours (or damaged): every member skips it alike,
		 * so the state stays identical; the waiter gets no results. */
		*result = out;
		return 0;
	}
	rc = apply_payload(a, index, payload, len, out);
	if (rc != 0) {
		return rc;
	}
	/* If the results could not be built (out->err set: out of memory),
	 * the entry is applied but its waiter cannot learn the outcome: the
	 * consumer of the result checks out->err. */
	*result = out;
	return 0;
}

/* Loop: the side data (message store) of a snapshot being captured now, at
 * the last applied index (libraft 0.15 takeSnapshot). */
static void snap_begin(struct glue_adapter *a)
{
	a->snap_active = false;
	a->snap_job = NULL;
	a->snap_rc = 0;
	if (a->raft == NULL || a->sm.snap_prepare == NULL) {
		return;
	}
	a->snap_index = raft_last_applied(a->raft);
	a->snap_job = a->sm.snap_prepare(a->sm.data, a->snap_index);
	a->snap_active = true;
}

/* Pool (FORK) or loop (INLINE): make the side data durable, then hand the
 * bytes to snap_payload. */
static int snap_sync(struct glue_adapter *a, const void *buf, size_t len)
{
	if (a->snap_active && a->sm.snap_sync != NULL) {
		a->snap_rc = a->sm.snap_sync(a->snap_job);
	}
	if (a->snap_active && a->snap_rc == 0 && a->sm.snap_payload != NULL) {
		a->snap_rc = a->sm.snap_payload(a->sm.data, buf, len);
	}
	return a->snap_rc;
}

/* Loop: finalize. */
static void snap_end(struct glue_adapter *a, bool ok)
{
	if (!a->snap_active) {
		return;
	}
	a->snap_active = false;
	if (a->sm.snap_done != NULL) {
		a->sm.snap_done(a->sm.data, a->snap_job, a->snap_index, ok && a->snap_rc == 0);
	}
	a->snap_job = NULL;
}

static int adapter_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct glue_adapter *a = fsm->data;
	struct qsg_wbuf w;
	struct raft_buffer *b;
	size_t len;
	uint64_t t0, t1;
	int rc;

	if (a->failed) {
		return RAFT_INVALID;
	}
	b = malloc(sizeof *b);
	if (b == NULL) {
		return RAFT_NOMEM;
	}
	qsg_wbuf_init(&w);
	t0 = uv_hrtime();
	rc = a->sm.snapshot(a->sm.data, &w);
	t1 = uv_hrtime();
	if (rc == QSG_OK && w.err != QSG_OK) {
		rc = w.err;
	}
	if (rc != QSG_OK) {
		qsg_wbuf_close(&w);
		free(b);
		/* Transient for libraft (it retries at the next threshold). */
		return rc == QSG_RC_STORAGE_NOT_AVAILABLE ? RAFT_NOMEM : RAFT_BUSY;
	}
	b->base = qsg_wbuf_take(&w, &len);
	b->len = len;
	if (b->base == NULL) {
		/* An empty snapshot is not supported by the state
		 * machine contract: skip it, libraft retries later. */
		free(b);
		return RAFT_BUSY;
	}
	/* Inline mode: the store's sync runs on the loop too (the fallback
	 * mode; FORK runs it in the pool). */
	snap_begin(a);
	if (snap_sync(a, b->base, b->len) != 0) {
		snap_end(a, false);
		free(b->base);
		free(b);
		return RAFT_BUSY;
	}
	a->snapshots++;
	a->snapshot_last_bytes = len;
	a->snapshot_last_us = (t1 - t0) / 1000;
	a->snapshot_last_loop_us = a->snapshot_last_us;
	*bufs = b;
	*n_bufs = 1;
	return 0;
}

#define FORK_RETRY_NS (1000ull * 1000 * 1000)

static void fork_failed(struct glue_adapter *a)
{
	a->snapshot_failures++;
	snprintf(a->snapshot_errmsg, sizeof a->snapshot_errmsg, "%s", a->sf.errmsg);
	a->retry_after_ns = uv_hrtime() + FORK_RETRY_NS;
}

/* Loop thread: fork the encoder. No buffers yet (see snapshot_async). */
static int adapter_snapshot_fork(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct glue_adapter *a = fsm->data;

	if (a->failed) {
		return RAFT_INVALID;
	}
	if (uv_hrtime() < a->retry_after_ns || glue_ar_busy(a)) {
		/* A restore in progress: the state is not at last_applied. */
		return RAFT_BUSY;
	}
	if (snapfork_start(&a->sf, &a->sm) != QSG_OK) {
		fork_failed(a);
		return RAFT_BUSY;
	}
	a->snapshot_last_loop_us = a->sf.fork_us;
	snap_begin(a);
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

/* Thread pool: read the child's stream. Touches only a->sf (the loop does
 * not use it until snapshot_finalize). */
static int adapter_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[],
				  unsigned *n_bufs)
{
	struct glue_adapter *a = fsm->data;
	struct raft_buffer *b;

	b = malloc(sizeof *b);
	if (b == NULL) {
		snapfork_abort(&a->sf);
	}
	if (snapfork_collect(&a->sf) != QSG_OK) {
		free(b);
		return RAFT_IOERR;
	}
	if (b != NULL && snap_sync(a, a->sf.buf, a->sf.len) != 0) {
		/* The store could not be made durable up to the snapshot: the
		 * snapshot must not be persisted (docs/storage.md). */
		snprintf(a->sf.errmsg, sizeof a->sf.errmsg, "message store sync failed");
		free(a->sf.buf);
		a->sf.buf = NULL;
		free(b);
		return RAFT_IOERR;
	}
	if (b == NULL) {
		free(a->sf.buf);
		a->sf.buf = NULL;
		return RAFT_NOMEM;
	}
	b->base = a->sf.buf;
	b->len = a->sf.len;
	a->sf.buf = NULL;
	*bufs = b;
	*n_bufs = 1;
	return 0;
}

static int adapter_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
				     unsigned *n_bufs)
{
	struct glue_adapter *a = fsm->data;
	unsigned i;

	snap_end(a, *bufs != NULL && *n_bufs >= 1);
	if (a->mode == GLUE_SNAPSHOT_FORK) {
		/* The pool work is over: its results are the loop's now. */
		if (*bufs != NULL && *n_bufs == 1) {
			a->snapshots++;
			a->snapshot_last_bytes = (*bufs)[0].len;
			a->snapshot_last_us = a->sf.encode_us;
		} else {
			fork_failed(a);
		}
		snapfork_close(&a->sf);
	}
	if (*bufs != NULL) {
		for (i = 0; i < *n_bufs; i++) {
			/* The whole encoded state (700 MB at 10M messages):
			 * its munmap would take ~25 ms of the loop. */
			qsg_free_large((*bufs)[i].base, (*bufs)[i].len);
		}
		free(*bufs);
	}
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int adapter_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct glue_adapter *a = fsm->data;
	int rc;

	if (a->failed) {
		return RAFT_INVALID;
	}
	if (a->ar.enabled) {
		return glue_ar_restore(a, buf);
	}
	rc = a->sm.restore(a->sm.data, buf->base, buf->len);
	if (rc != QSG_OK) {
		snprintf(a->errmsg, sizeof a->errmsg, "snapshot restore failed: %s (%d)",
			 qsg_rc_name(rc), rc);
		return rc == QSG_RC_STORAGE_NOT_AVAILABLE ? RAFT_NOMEM : RAFT_MALFORMED;
	}
	raft_free(buf->base);
	return 0;
}

void glue_adapter_setup(struct raft_fsm *fsm, struct glue_adapter *a, const struct glue_sm *sm,
			const unsigned *waiters, int mode)
{
	a->sm = *sm;
	qsg_wbuf_init(&a->results);
	a->waiters = waiters;
	a->failed = 0;
	a->errmsg[0] = '\0';
	a->snapshots = 0;
	a->snapshot_last_bytes = 0;
	a->snapshot_last_us = 0;
	a->snapshot_last_loop_us = 0;
	a->snapshot_failures = 0;
	a->snapshot_errmsg[0] = '\0';
	a->retry_after_ns = 0;
	a->raft = NULL;
	a->snap_job = NULL;
	a->snap_index = 0;
	a->snap_active = false;
	a->snap_rc = 0;
	a->mode = mode == GLUE_SNAPSHOT_FORK ? GLUE_SNAPSHOT_FORK : GLUE_SNAPSHOT_INLINE;
	snapfork_init(&a->sf);
	memset(&a->ar, 0, sizeof a->ar);
	a->ar.apply = apply_queued;

	fsm->data = a;
	fsm->apply = adapter_apply;
	fsm->restore = adapter_restore;
	fsm->snapshot_finalize = adapter_snapshot_finalize;
	if (a->mode == GLUE_SNAPSHOT_FORK) {
		fsm->version = 3;
		fsm->snapshot = adapter_snapshot_fork;
		fsm->snapshot_async = adapter_snapshot_async;
	} else {
		fsm->version = 2;
		fsm->snapshot = adapter_snapshot;
		fsm->snapshot_async = NULL;
	}
}

void glue_adapter_abort(struct glue_adapter *a)
{
	a->retry_after_ns = UINT64_MAX; /* no new capture either */
	snapfork_abort(&a->sf);
}

void glue_adapter_teardown(struct glue_adapter *a)
{
	snap_end(a, false);
	snapfork_close(&a->sf);
	qsg_wbuf_close(&a->results);
}

int glue_fsm_adapter_init(struct raft_fsm *fsm, const struct glue_sm *sm)
{
	struct glue_adapter *a;

	if (fsm == NULL || sm == NULL || sm->apply == NULL || sm->snapshot == NULL ||
	    sm->restore == NULL) {
		return QSG_RC_INVALID;
	}
	a = malloc(sizeof *a);
	if (a == NULL) {
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	glue_adapter_setup(fsm, a, sm, NULL, GLUE_SNAPSHOT_INLINE);
	return QSG_OK;
}

void glue_fsm_adapter_close(struct raft_fsm *fsm)
{
	struct glue_adapter *a;

	if (fsm == NULL || fsm->data == NULL) {
		return;
	}
	a = fsm->data;
	glue_adapter_teardown(a);
	free(a);
	fsm->data = NULL;
}
