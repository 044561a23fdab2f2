/* Restore off the loop (docs/storage.md, "Restore off the loop").
 *
 * libraft 0.15 calls fsm->restore on the loop when a follower installs a
 * snapshot from the leader and, once it returns, sets last_applied to the
 * snapshot's index and goes on applying the entries committed after it.
 * Decoding a deep state takes seconds (0.37 us per message), so here
 * restore only takes the buffer and starts a decode in the thread pool,
 * and returns success. Until the state machine has caught up:
 *
 *  - every entry libraft hands to apply is copied into a queue, in order,
 *    with its index (its submitter, if this server leads, learns "outcome
 *    unknown": the result cannot be built now);
 *  - snapshots are refused (RAFT_BUSY: the state is not at last_applied),
 *    and glue.c refuses submissions and hands leadership over;
 *  - when the decode is done, a timer installs the image (restore_install,
 *    quick), runs restore_step until it says done, then applies the queue,
 *    each in slices of GLUE_AR_SLICE_NS of the loop.
 *
 * A second restore while one is in progress supersedes it: the queue is
 * dropped (libraft applies again from the new snapshot's index), a decode
 * in flight is discarded when it ends, a decoded image not installed yet
 * is discarded. An install whose steps have begun is finished first (the
 * provider's claims must not be left half done), then the new image is
 * installed. A decode or install that fails is fatal for the server: the
 * snapshot was already accepted (glue.c reports it through the fatal
 * callback, the member fail-stops and its restart restores again).
 *
 * Threads: decode and discard run in the pool and touch only their job;
 * everything else runs on the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm_adapter.h"

#define GLUE_AR_SLICE_NS (5ull * 1000 * 1000)
/* A decode answered QSG_RC_BUSY (the state machine waits for something,
 * e.g. a delta snapshot's base file being fetched): asked again after. */
#define GLUE_AR_RETRY_MS 200

struct glue_aentry {
	struct glue_aentry *next;
	uint64_t index;
	size_t len;
	uint8_t data[];
};

struct glue_ajob {
	uv_work_t work;
	struct glue_adapter *a;
	void *buf; /* libraft's buffer, raft_free'd when done (decode) */
	size_t len;
	void *image; /* decoded (decode) or to free (discard) */
	int rc;
	bool superseded;
	char errmsg[QSG_ERRMSG_SIZE];
};

static void timer_cb(uv_timer_t *t);

static void arm(struct glue_adapter *a)
{
	if (!a->ar.closing && a->ar.timer_init && !a->ar.timer_closed)
		uv_timer_start(&a->ar.timer, timer_cb, 0, 0);
}

static void fatal(struct glue_adapter *a, int rc, const char *what, const char *errmsg)
{
	if (a->failed)
		return;
	a->failed = rc != 0 ? rc : QSG_RC_UNEXPECTED_ERROR;
	int n = snprintf(a->errmsg, sizeof a->errmsg, "snapshot restore failed (%s): ", what);
	if (n > 0 && (size_t)n < sizeof a->errmsg)
		snprintf(a->errmsg + n, sizeof a->errmsg - (size_t)n, "%.*s",
			 (int)(sizeof a->errmsg - (size_t)n - 1),
			 errmsg != NULL && errmsg[0] ? errmsg : qsg_rc_name(rc));
}

static void maybe_idle(struct glue_adapter *a)
{
	if (a->ar.closing && a->ar.jobs == 0 && (!a->ar.timer_init || a->ar.timer_closed) &&
	    a->ar.on_idle != NULL) {
		void (*cb)(void *) = a->ar.on_idle;
		a->ar.on_idle = NULL;
		cb(a->ar.on_idle_arg);
	}
}

static void drop_queue(struct glue_adapter *a)
{
	while (a->ar.qhead != NULL) {
		struct glue_aentry *e = a->ar.qhead;
		a->ar.qhead = e->next;
		free(e);
	}
	a->ar.qtail = NULL;
	a->ar.qn = 0;
}

/* A decode waiting to be asked again: dropped (superseded, closing). */
static void drop_wait(struct glue_adapter *a)
{
	struct glue_ajob *j = a->ar.wait;
	if (j == NULL)
		return;
	a->ar.wait = NULL;
	if (a->ar.job == j)
		a->ar.job = NULL;
	raft_free(j->buf);
	free(j);
}

/* --- discard (pool) ------------------------------------------------------ */

static void discard_work(uv_work_t *w)
{
	struct glue_ajob *j = w->data;
	j->a->sm.restore_discard(j->a->sm.data, j->image);
}

static void discard_done(uv_work_t *w, int status)
{
	struct glue_ajob *j = w->data;
	struct glue_adapter *a = j->a;
	(void)status; /* UV_ECANCELED: never queued work we cancel */
	a->ar.jobs--;
	free(j);
	maybe_idle(a);
}

/* Free an image or an old state off the loop (freeing 10M descriptors
 * walks them all); on the loop if no job can be allocated or queued. */
static void discard(struct glue_adapter *a, void *image)
{
	if (image == NULL)
		return;
	struct glue_ajob *j = calloc(1, sizeof *j);
	if (j != NULL) {
		j->a = a;
		j->image = image;
		j->work.data = j;
		if (uv_queue_work(a->ar.loop, &j->work, discard_work, discard_done) == 0) {
			a->ar.jobs++;
			return;
		}
		free(j);
	}
	a->sm.restore_discard(a->sm.data, image);
}

/* --- decode (pool) ------------------------------------------------------- */

static void decode_work(uv_work_t *w)
{
	struct glue_ajob *j = w->data;
	j->rc = QSG_OK;
	j->image = j->a->sm.restore_decode(j->a->sm.data, j->buf, j->len, &j->rc, j->errmsg);
	if (j->image == NULL && j->rc == QSG_OK)
		j->rc = QSG_RC_UNEXPECTED_ERROR;
}

static void decode_done(uv_work_t *w, int status)
{
	struct glue_ajob *j = w->data;
	struct glue_adapter *a = j->a;
	a->ar.jobs--;
	if (!j->superseded && !a->ar.closing && status == 0 && j->rc == QSG_RC_BUSY &&
	    j->image == NULL && a->ar.timer_init && !a->ar.timer_closed) {
		/* Not yet: keep the buffer, decode again later (timer_cb). */
		a->ar.wait = j;
		a->ar.waits++;
		uv_timer_start(&a->ar.timer, timer_cb, GLUE_AR_RETRY_MS, 0);
		return;
	}
	raft_free(j->buf);
	j->buf = NULL;
	if (a->ar.job == j)
		a->ar.job = NULL;
	if (j->superseded || a->ar.closing || status != 0) {
		if (a->ar.closing)
			a->sm.restore_discard(a->sm.data, j->image); /* stopping anyway */
		else
			discard(a, j->image);
		free(j);
		maybe_idle(a);
		return;
	}
	if (j->rc != QSG_OK) {
		fatal(a, j->rc, "decode", j->errmsg);
		free(j);
		return;
	}
	a->ar.image = j->image;
	free(j);
	arm(a);
}

/* --- the loop's slices --------------------------------------------------- */

static bool over(uint64_t t0)
{
	return uv_hrtime() - t0 >= GLUE_AR_SLICE_NS;
}

static void timer_cb(uv_timer_t *t)
{
	struct glue_adapter *a = t->data;
	uint64_t t0 = uv_hrtime();

	if (a->ar.closing || a->failed)
		return;
	if (a->ar.wait != NULL) {
		struct glue_ajob *j = a->ar.wait;
		a->ar.wait = NULL;
		j->rc = QSG_OK;
		j->errmsg[0] = '\0';
		if (uv_queue_work(a->ar.loop, &j->work, decode_work, decode_done) != 0) {
			raft_free(j->buf);
			free(j);
			a->ar.job = NULL;
			fatal(a, QSG_RC_STORAGE_NOT_AVAILABLE, "decode", "cannot queue the decode");
			return;
		}
		a->ar.jobs++;
		return;
	}
	if (a->ar.stepping) {
		while (!a->sm.restore_step(a->sm.data)) {
			if (over(t0)) {
				arm(a);
				return;
			}
		}
		a->ar.stepping = false;
	}
	if (a->ar.image != NULL) {
		void *old = NULL;
		char errmsg[QSG_ERRMSG_SIZE] = "";
		void *img = a->ar.image;
		a->ar.image = NULL;
		int rc = a->sm.restore_install(a->sm.data, img, &old, errmsg);
		if (rc != QSG_OK) {
			fatal(a, rc, "install", errmsg);
			return;
		}
		discard(a, old);
		a->ar.stepping = true;
		arm(a);
		return;
	}
	if (a->ar.job != NULL)
		return; /* a newer decode is in flight: its end arms the timer */
	while (a->ar.qhead != NULL) {
		struct glue_aentry *e = a->ar.qhead;
		int rc = a->ar.apply(a, e->index, e->data, e->len);
		a->ar.qhead = e->next;
		if (a->ar.qhead == NULL)
			a->ar.qtail = NULL;
		a->ar.qn--;
		free(e);
		if (rc != 0)
			return; /* a->failed is set: glue.c reports it */
		if (a->ar.qhead != NULL && over(t0)) {
			arm(a);
			return;
		}
	}
	a->ar.last_us = (uv_hrtime() - a->ar.started_ns) / 1000;
}

/* --- the adapter's side -------------------------------------------------- */

void glue_ar_init(struct glue_adapter *a, uv_loop_t *loop)
{
	a->ar.loop = loop;
	if (uv_timer_init(loop, &a->ar.timer) == 0) {
		a->ar.timer.data = a;
		a->ar.timer_init = true;
	}
}

bool glue_ar_busy(const struct glue_adapter *a)
{
	return a->ar.job != NULL || a->ar.image != NULL || a->ar.stepping || a->ar.qhead != NULL;
}

int glue_ar_restore(struct glue_adapter *a, struct raft_buffer *buf)
{
	struct glue_ajob *j = calloc(1, sizeof *j);
	if (j == NULL)
		return RAFT_NOMEM; /* libraft keeps the buffer and fails the install */
	/* Everything queued so far is covered by this snapshot (libraft
	 * applies again from its index); older work is superseded. */
	drop_queue(a);
	drop_wait(a);
	if (a->ar.job != NULL)
		a->ar.job->superseded = true;
	a->ar.job = NULL;
	if (a->ar.image != NULL) {
		discard(a, a->ar.image);
		a->ar.image = NULL;
	}
	j->a = a;
	j->buf = buf->base;
	j->len = buf->len;
	j->work.data = j;
	if (uv_queue_work(a->ar.loop, &j->work, decode_work, decode_done) != 0) {
		free(j);
		return RAFT_NOMEM;
	}
	/* The fsm owns buf->base from here on (libraft frees only the
	 * array on success), released by decode_done. */
	a->ar.jobs++;
	a->ar.job = j;
	a->ar.restores++;
	a->ar.started_ns = uv_hrtime();
	return 0;
}

int glue_ar_enqueue(struct glue_adapter *a, uint64_t index, const void *payload, size_t len)
{
	struct glue_aentry *e = malloc(sizeof *e + len);
	if (e == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	e->next = NULL;
	e->index = index;
	e->len = len;
	memcpy(e->data, payload, len);
	if (a->ar.qtail != NULL)
		a->ar.qtail->next = e;
	else
		a->ar.qhead = e;
	a->ar.qtail = e;
	a->ar.qn++;
	if (a->ar.qn > a->ar.queued_max)
		a->ar.queued_max = a->ar.qn;
	if (a->ar.job == NULL && a->ar.image == NULL && !a->ar.stepping)
		arm(a); /* draining already */
	return QSG_OK;
}

uint64_t glue_ar_applied(const struct glue_adapter *a, uint64_t raft_applied)
{
	if (a->ar.job != NULL || a->ar.image != NULL || a->ar.stepping)
		return 0; /* the state is not the snapshot's yet */
	if (a->ar.qhead != NULL)
		return a->ar.qhead->index - 1;
	return raft_applied;
}

static void timer_closed_cb(uv_handle_t *h)
{
	struct glue_adapter *a = h->data;
	a->ar.timer_closed = true;
	maybe_idle(a);
}

bool glue_ar_close(struct glue_adapter *a)
{
	a->ar.closing = true;
	drop_queue(a);
	drop_wait(a);
	if (a->ar.image != NULL) {
		a->sm.restore_discard(a->sm.data, a->ar.image);
		a->ar.image = NULL;
	}
	a->ar.stepping = false;
	if (a->ar.job != NULL)
		a->ar.job->superseded = true;
	a->ar.job = NULL;
	if (a->ar.timer_init && !a->ar.timer_closed && !uv_is_closing((uv_handle_t *)&a->ar.timer))
		uv_close((uv_handle_t *)&a->ar.timer, timer_closed_cb);
	return a->ar.jobs > 0 || (a->ar.timer_init && !a->ar.timer_closed);
}
