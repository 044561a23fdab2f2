/* Durability of the message store (sync jobs, see store.h) and its
 * statistics. */
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
}
