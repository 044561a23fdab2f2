/* Durability of the message store (sync jobs, see store.h), reclaim jobs
 * (deleting dead segments and their index files) and statistics. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- durability ---- */

int store_sync_prepare(struct store *s, struct store_sync_job *job, char *errmsg)
{
	size_t i, n = 0;

	memset(job, 0, sizeof *job);
	job->dirfd = -1;
	/* What the sync covers must be in the files first. */
	if (store_flush(s, job->errmsg) != QSG_OK) {
		job->seq = s->sync_prepared;
		job->rc = QSG_RC_IO;
		if (errmsg != NULL) {
			snprintf(errmsg, QSG_ERRMSG_SIZE, "%s", job->errmsg);
		}
		return QSG_RC_IO;
	}
	job->seq = ++s->sync_prepared;
	for (i = 0; i < s->nsegs; i++) {
		n += s->segs[i]->size > s->segs[i]->synced;
	}
	if (n > 0) {
		job->fds = calloc(n, sizeof *job->fds);
		job->ids = calloc(n, sizeof *job->ids);
		job->sizes = calloc(n, sizeof *job->sizes);
		if (job->fds == NULL || job->ids == NULL || job->sizes == NULL) {
			free(job->fds);
			free(job->ids);
			free(job->sizes);
			memset(job, 0, sizeof *job);
			job->dirfd = -1;
			job->seq = s->sync_prepared;
			job->rc = QSG_RC_STORAGE_NOT_AVAILABLE;
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
					"store: out of memory");
		}
	}
	for (i = 0; i < s->nsegs; i++) {
		struct store_seg *g = s->segs[i];
		if (g->size <= g->synced) {
			continue;
		}
		int fd = dup(g->fd);
		if (fd < 0) {
			job->rc =
			    qsg_errf(job->errmsg, QSG_RC_IO, "store: dup: %s", strerror(errno));
			break;
		}
		job->fds[job->nfds] = fd;
		job->ids[job->nfds] = g->id;
		job->sizes[job->nfds] = g->size;
		job->nfds++;
	}
	if (s->dir_dirty && job->rc == QSG_OK) {
		job->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (job->dirfd < 0) {
			job->rc = qsg_errf(job->errmsg, QSG_RC_IO, "store: open %s: %s", s->dir,
					   strerror(errno));
		} else {
			s->dir_dirty = false;
		}
	}
	if (job->rc == QSG_OK) {
		/* sealed segments without an index: written after the syncs
		 * (a failure here leaves them to be scanned at the next open) */
		(void)store_index_prepare(s, STORE_INDEX_PER_SYNC, &job->idx, NULL);
	}
	return QSG_OK;
}

int store_sync_run(struct store_sync_job *job)
{
	int i;

	for (i = 0; i < job->nfds && job->rc == QSG_OK; i++) {
		if (fdatasync(job->fds[i]) != 0) {
			job->rc =
			    qsg_errf(job->errmsg, QSG_RC_IO, "store: fdatasync segment %u: %s",
				     job->ids[i], strerror(errno));
		}
	}
	if (job->dirfd >= 0 && job->rc == QSG_OK && fsync(job->dirfd) != 0) {
		job->rc =
		    qsg_errf(job->errmsg, QSG_RC_IO, "store: fsync directory: %s", strerror(errno));
	}
	if (job->rc == QSG_OK) {
		(void)store_index_run(&job->idx); /* its outcome: store_index_done */
	}
	return job->rc;
}

int store_sync_done(struct store *s, struct store_sync_job *job, char *errmsg)
{
	int i, rc = job->rc;

	for (i = 0; i < job->nfds; i++) {
		struct store_seg *g = store_seg_find(s, job->ids[i]);
		if (rc == QSG_OK && g != NULL && job->sizes[i] > g->synced) {
			g->synced = job->sizes[i];
		}
		close(job->fds[i]);
	}
	if (job->dirfd >= 0) {
		close(job->dirfd);
		if (rc != QSG_OK) {
			s->dir_dirty = true;
		}
	}
	if (rc == QSG_OK && job->seq > s->sync_completed) {
		s->sync_completed = job->seq;
		s->reclaim_hint = true; /* compacted sources may now go */
	}
	if (rc != QSG_OK && errmsg != NULL) {
		snprintf(errmsg, QSG_ERRMSG_SIZE, "%s", job->errmsg);
	}
	/* Not run (the sync failed first): a later job takes them. */
	(void)store_index_done(s, &job->idx, NULL);
	free(job->fds);
	free(job->ids);
	free(job->sizes);
	memset(job, 0, sizeof *job);
	job->dirfd = -1;
	return rc;
}

int store_sync(struct store *s, char *errmsg)
{
	struct store_sync_job job;
	int rc = store_sync_prepare(s, &job, errmsg);

	if (rc != QSG_OK) {
		return rc;
	}
	store_sync_run(&job);
	return store_sync_done(s, &job, errmsg);
}

/* ---- reclaim ---- */

/* Empty, past the stable gate, every copy compaction made of its records
 * is durable (a sync job prepared after the last copy completed), and no
 * index job is writing its index file (which would then outlive it). */
static bool deletable(const struct store *s, const struct store_seg *g)
{
	return g != store_active(s) && g->live_recs == 0 && g->last_release <= s->stable &&
	       g->copies_seq <= s->sync_completed && g->idx != SEG_IDX_BUSY;
}

/* Take g out of the store (memory only): its fd and id go to the job,
 * which unlinks and closes them. */
static void seg_detach(struct store *s, struct store_seg *g, struct store_reclaim_job *job)
{
	size_t i;

	job->fds[job->n] = g->fd;
	job->ids[job->n] = g->id;
	job->n++;
	g->fd = -1;
	s->reclaimed_bytes += g->size;
	for (i = 0; i < s->nsegs && s->segs[i] != g; i++)
		;
	memmove(s->segs + i, s->segs + i + 1, (s->nsegs - i - 1) * sizeof *s->segs);
	s->nsegs--;
	if (s->compact_seg == g->id) {
		s->compact_seg = 0;
	}
	store_seg_free(g);
	s->dir_dirty = true;
}

int store_reclaim(struct store *s, uint32_t *deleted, char *errmsg)
{
	return store_reclaim_max(s, UINT32_MAX, deleted, errmsg);
}

int store_reclaim_max(struct store *s, uint32_t max, uint32_t *deleted, char *errmsg)
{
	struct store_reclaim_job job;
	int rc = store_reclaim_prepare(s, max, &job, errmsg);

	if (deleted) {
		*deleted = job.n;
	}
	if (rc != QSG_OK) {
		return rc;
	}
	store_reclaim_run(&job);
	return store_reclaim_done(&job, errmsg);
}

int store_reclaim_prepare(struct store *s, uint32_t max, struct store_reclaim_job *job,
			  char *errmsg)
{
	size_t i;
	uint32_t n = 0;

	memset(job, 0, sizeof *job);
	if (s->rindex != NULL) {
		return qsg_errf(errmsg, QSG_RC_BUSY, "store: recovery not ended");
	}
	s->reclaim_hint = false;
	for (i = 0; i < s->nsegs; i++) {
		n += deletable(s, s->segs[i]);
	}
	if (n > max) {
		n = max;
		s->reclaim_hint = true; /* more next time */
	}
	if (n == 0) {
		return QSG_OK;
	}
	job->fds = calloc(n, sizeof *job->fds);
	job->ids = calloc(n, sizeof *job->ids);
	job->dir = strdup(s->dir);
	if (job->fds == NULL || job->ids == NULL || job->dir == NULL) {
		free(job->fds);
		free(job->ids);
		free(job->dir);
		memset(job, 0, sizeof *job);
		s->reclaim_hint = true;
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "store: out of memory");
	}
	/* No sync here: copies made by compaction gate deletion through
	 * deletable() (a completed sync job), and the directory entries
	 * removed by the job become durable with the next sync job
	 * (dir_dirty). A deletion lost in a crash brings back a segment whose
	 * records the restart finds unclaimed or superseded: dead again. */
	for (i = 0; i < s->nsegs && job->n < n;) {
		if (deletable(s, s->segs[i])) {
			seg_detach(s, s->segs[i], job);
		} else {
			i++;
		}
	}
	return QSG_OK;
}

int store_reclaim_run(struct store_reclaim_job *job)
{
	char path[4200];
	uint32_t i;

	for (i = 0; i < job->n; i++) {
		/* The index first: an index without its segment is an orphan
		 * that the next store_init removes. */
		store_idx_path(job->dir, job->ids[i], path, sizeof path);
		if (unlink(path) != 0 && errno != ENOENT && job->rc == QSG_OK) {
			job->rc = qsg_errf(job->errmsg, QSG_RC_IO, "store: unlink %s: %s", path,
					   strerror(errno));
		}
		snprintf(path, sizeof path, "%s/seg-%010u.qss", job->dir, job->ids[i]);
		if (unlink(path) != 0 && errno != ENOENT && job->rc == QSG_OK) {
			job->rc = qsg_errf(job->errmsg, QSG_RC_IO, "store: unlink %s: %s", path,
					   strerror(errno));
		}
		close(job->fds[i]); /* the last reference: the inode is freed here */
	}
	return job->rc;
}

int store_reclaim_done(struct store_reclaim_job *job, char *errmsg)
{
	int rc = job->rc;

	if (rc != QSG_OK && errmsg != NULL) {
		snprintf(errmsg, QSG_ERRMSG_SIZE, "%s", job->errmsg);
	}
	free(job->fds);
	free(job->ids);
	free(job->dir);
	memset(job, 0, sizeof *job);
	return rc;
}

void store_get_stats(const struct store *s, struct store_stats *out)
{
	size_t i;

	memset(out, 0, sizeof *out);
	out->segments = (uint32_t)s->nsegs;
	for (i = 0; i < s->nsegs; i++) {
		const struct store_seg *g = s->segs[i];
		out->disk_bytes += g->size;
		out->live_bytes += g->live_bytes;
		out->dead_bytes += g->dead_bytes;
		out->live_records += g->live_recs;
	}
	out->cache_bytes = s->cache.bytes;
	out->cache_entries = s->cache.count;
	out->cache_hits = s->cache.hits;
	out->cache_misses = s->cache.misses;
	out->cache_evictions = s->cache.evictions;
	out->faults = s->nfaults;
	out->appended_bytes = s->appended_bytes;
	out->compacted_bytes = s->compacted_bytes;
	out->reclaimed_bytes = s->reclaimed_bytes;
	out->index_loaded = s->idx_loaded;
	out->index_scanned = s->idx_scanned;
	out->index_written = s->idx_written;
	out->index_failed = s->idx_failed;
	out->writebacks = s->writebacks;
}
