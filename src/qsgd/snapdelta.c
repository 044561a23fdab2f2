/* Delta snapshots in qsgd (snapdelta.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basefile.h"
#include "snapdelta.h"

void snapdelta_init(struct snapdelta *d, const char *dir, bool enabled)
{
	memset(d, 0, sizeof *d);
	d->dir = dir;
	d->enabled = enabled;
}

bool snapdelta_rebase_due(const struct snapdelta *d, const struct fsm *f)
{
	if (!d->have || !fsm_delta_valid(f))
		return true;
	uint64_t n = fsm_delta_size(f);
	return n > fsm_delta_base_count(f) / 4 || n > SNAPDELTA_MAX_RECORDS;
}

int snapdelta_snapshot(const struct snapdelta *d, struct fsm *f, struct qsg_wbuf *out)
{
	if (!d->enabled || snapdelta_rebase_due(d, f))
		return fsm_snapshot(f, out);
	return fsm_snapshot_delta(f, &d->base, out);
}

void snapdelta_prepare(struct snapdelta *d, struct fsm *f, uint64_t index)
{
	d->rc = QSG_OK;
	d->errmsg[0] = '\0';
	d->index = index;
	d->rebase = d->enabled && snapdelta_rebase_due(d, f);
	if (d->rebase)
		fsm_delta_rebase(f); /* the state at index: what the child encodes */
}

int snapdelta_payload(struct snapdelta *d, const void *buf, size_t len)
{
	if (!d->rebase)
		return QSG_OK;
	if (len == 0 || ((const uint8_t *)buf)[0] == FSM_SNAPSHOT_DELTA) {
		d->rc = qsg_errf(d->errmsg, QSG_RC_INVALID, "a rebase produced no full snapshot");
		return d->rc;
	}
	d->rc = basefile_write(d->dir, d->index, buf, len, &d->newbase, d->errmsg);
	return d->rc;
}

void snapdelta_done(struct snapdelta *d, struct fsm *f, bool ok)
{
	if (!d->enabled)
		return;
	if (!d->rebase) {
		if (ok)
			d->deltas++;
		return;
	}
	d->rebase = false;
	if (!ok || d->rc != QSG_OK) {
		fsm_delta_stop(f); /* its base is not on disk */
		return;
	}
	if (d->have && d->base.index != d->newbase.index)
		d->prev = d->base.index;
	d->base = d->newbase;
	d->have = true;
	d->rebases++;
	/* A snapshot libraft still keeps names the previous base at most. */
	basefile_prune(d->dir, d->base.index, d->prev);
}

/* A part file fetched whole: fdatasync, rename to the base file, fsync the
 * directory. QSG_RC_UNKNOWN_OBJECT: none, or not complete yet. */
static int install_part(const char *dir, const struct fsm_baseref *ref, char *errmsg)
{
	char path[4096], part[4200];
	basefile_path(path, sizeof path, dir, ref->index);
	snprintf(part, sizeof part, "%s.part", path);
	int fd = open(part, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return qsg_errf(errmsg, QSG_RC_UNKNOWN_OBJECT, "base file %" PRIu64 " missing",
				ref->index);
	struct stat st;
	int rc = QSG_OK;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != ref->size)
		rc = qsg_errf(errmsg, QSG_RC_UNKNOWN_OBJECT,
			      "base file %" PRIu64 " is being fetched", ref->index);
	else if (fdatasync(fd) != 0)
		rc = qsg_errf(errmsg, QSG_RC_IO, "base file %s: fdatasync: %s", part,
			      strerror(errno));
	close(fd);
	if (rc == QSG_OK && rename(part, path) != 0)
		rc = qsg_errf(errmsg, QSG_RC_IO, "base file %s: rename: %s", path, strerror(errno));
	if (rc == QSG_OK) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) != 0)
			rc = qsg_errf(errmsg, QSG_RC_IO, "fsync of %s: %s", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
	}
	return rc;
}

int snapdelta_decode(const char *dir, const void *buf, size_t len, struct fsm_image **img,
		     struct fsm_baseref *want, char *errmsg)
{
	struct fsm_baseref ref;
	*img = NULL;
	if (len == 0 || ((const uint8_t *)buf)[0] != FSM_SNAPSHOT_DELTA)
		return fsm_restore_decode(buf, len, img, errmsg);
	if (fsm_snapshot_baseref(buf, len, &ref) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"delta snapshot without a base reference");
	void *file;
	const void *payload;
	size_t plen;
	*want = ref;
	int rc = basefile_read(dir, &ref, &file, &payload, &plen, errmsg);
	if (rc == QSG_RC_UNKNOWN_OBJECT && (rc = install_part(dir, &ref, errmsg)) == QSG_OK)
		rc = basefile_read(dir, &ref, &file, &payload, &plen, errmsg);
	if (rc == QSG_RC_BAD_FRAME) {
		/* Not the base the delta names, or corrupt: fetch it again. */
		char path[4096];
		basefile_path(path, sizeof path, dir, ref.index);
		(void)unlink(path);
		rc = QSG_RC_UNKNOWN_OBJECT;
	}
	if (rc != QSG_OK)
		return rc;
	rc = fsm_restore_decode_delta(payload, plen, buf, len, img, errmsg);
	free(file);
	return rc;
}
