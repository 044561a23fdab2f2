/* Segment index files of the message store (see store.h, "segment index
 * files", and docs/storage.md, "Segment index files"): the format (pure
 * build and check), loading at open, orphan removal, and the index jobs that
 * write them in the thread pool.
 *
 * An index is the scan of a sealed segment written down: store_idx_build
 * runs the same scanner as store_init (store_scan_image) over the whole
 * file, so an index says exactly what a scan at open would find, faults
 * included, as long as the segment's bytes do not change afterwards (sealed
 * segments are never written again; a later change of their payloads is
 * caught by the checksum verification of every read). */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)qsg_le32(p) | (uint64_t)qsg_le32(p + 4) << 32;
}

static void set32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void store_idx_path(const char *dir, uint32_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/seg-%010u.qsx", dir, id);
}

/* ---- format ---- */

struct build_ctx {
	struct qsg_wbuf *w;
	const uint8_t *img;
	uint32_t n;
	bool torn;
};

static void put_ent(struct qsg_wbuf *w, uint8_t kind, uint32_t off, uint32_t len, uint64_t key,
		    uint32_t part, uint32_t crc)
{
	qsg_put_u8(w, kind);
	qsg_put_u8(w, 0);
	qsg_put_u16(w, 0);
	qsg_put_u32(w, off);
	qsg_put_u32(w, len);
	qsg_put_u64(w, key);
	qsg_put_u32(w, part);
	qsg_put_u32(w, crc);
	qsg_put_u32(w, 0);
}

static void build_rec(void *arg, uint8_t type, uint64_t key, uint32_t part, uint32_t off,
		      uint32_t len)
{
	struct build_ctx *c = arg;
	/* verified by the scanner: the header's payload crc (bytes 20..24) */
	put_ent(c->w, type, off, len, key, part, qsg_le32(c->img + off + 20));
	c->n++;
}

static void build_fault(void *arg, uint32_t off, uint32_t len, int reason)
{
	struct build_ctx *c = arg;

	if (reason == STORE_FAULT_TORN_TAIL) {
		c->torn = true; /* store_init would cut the file: no index */
		return;
	}
	put_ent(c->w, (uint8_t)(STORE_IDX_FAULT | reason), off, len, 0, 0, 0);
	c->n++;
}

int store_idx_build(const uint8_t *img, size_t len, uint32_t id, struct qsg_wbuf *out)
{
	uint32_t hid = 0;
	size_t base = out->len;

	if (len > UINT32_MAX || store_seg_header_check(img, len, &hid) != QSG_OK || hid != id) {
		return QSG_RC_INVALID;
	}
	struct build_ctx c = {out, img, 0, false};
	struct store_scan_cb cb = {build_rec, build_fault, &c};
	uint8_t zero[STORE_IDX_HDR_SIZE] = {0};
	qsg_put_bytes(out, zero, sizeof zero);
	size_t end = store_scan_image(img, len, &cb);
	if (out->err != QSG_OK) {
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	if (c.torn || end != len) {
		out->len = base;
		return QSG_RC_INVALID;
	}
	qsg_put_u32(out, qsg_crc32c(0, out->data + base + STORE_IDX_HDR_SIZE,
				    (size_t)c.n * STORE_IDX_ENT_SIZE));
	if (out->err != QSG_OK) {
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	uint8_t *h = out->data + base;
	set32(h, STORE_IDX_MAGIC);
	h[4] = STORE_IDX_VERSION;
	h[5] = 0;
	h[6] = STORE_IDX_HDR_SIZE;
	h[7] = 0;
	set32(h + 8, id);
	set32(h + 12, 0);
	set32(h + 16, (uint32_t)len);
	set32(h + 20, (uint32_t)((uint64_t)len >> 32));
	set32(h + 24, c.n);
	set32(h + 28, STORE_IDX_ENT_SIZE);
	set32(h + 32, 0);
	set32(h + 36, qsg_crc32c(0, h, 36));
	return QSG_OK;
}

void store_idx_get(const uint8_t *p, uint32_t i, struct store_idx_ent *e)
{
	const uint8_t *q = p + STORE_IDX_HDR_SIZE + (size_t)i * STORE_IDX_ENT_SIZE;

	e->kind = q[0];
	e->off = qsg_le32(q + 4);
	e->len = qsg_le32(q + 8);
	e->key = get64(q + 12);
	e->part = qsg_le32(q + 20);
	e->crc = qsg_le32(q + 24);
}

/* An entry's reserved fields and kind; a fault carries no key/part/crc. */
static bool ent_ok(const uint8_t *q, const struct store_idx_ent *e)
{
	if (q[1] != 0 || get16(q + 2) != 0 || qsg_le32(q + 28) != 0) {
		return false;
	}
	if (STORE_REC_TYPE_OK(e->kind)) {
		return e->len <= STORE_MAX_PAYLOAD;
	}
	if (!(e->kind & STORE_IDX_FAULT) || e->key != 0 || e->part != 0 || e->crc != 0 ||
	    e->len == 0) {
		return false;
	}
	int r = e->kind & ~STORE_IDX_FAULT;
	/* the faults the scanner reports in the middle of a segment */
	return r == STORE_FAULT_HDR_CRC || r == STORE_FAULT_PAYLOAD_CRC ||
	       r == STORE_FAULT_BAD_VERSION;
}

int store_idx_check(const uint8_t *p, size_t len, uint32_t id, uint64_t seg_size, uint32_t *count)
{
	uint32_t n, i;

	if (len < STORE_IDX_HDR_SIZE + 4 || qsg_le32(p) != STORE_IDX_MAGIC ||
	    qsg_le32(p + 36) != qsg_crc32c(0, p, 36)) {
		return QSG_RC_BAD_FRAME;
	}
	if (get16(p + 4) != STORE_IDX_VERSION || get16(p + 6) != STORE_IDX_HDR_SIZE ||
	    qsg_le32(p + 12) != 0 || qsg_le32(p + 28) != STORE_IDX_ENT_SIZE ||
	    qsg_le32(p + 32) != 0) {
		return QSG_RC_BAD_VERSION;
	}
	n = qsg_le32(p + 24);
	if (qsg_le32(p + 8) != id || get64(p + 16) != seg_size || seg_size > UINT32_MAX ||
	    seg_size < STORE_SEG_HDR_SIZE ||
	    (uint64_t)len != STORE_IDX_HDR_SIZE + (uint64_t)n * STORE_IDX_ENT_SIZE + 4) {
		return QSG_RC_BAD_FRAME;
	}
	size_t elen = (size_t)n * STORE_IDX_ENT_SIZE;
	if (qsg_le32(p + STORE_IDX_HDR_SIZE + elen) !=
	    qsg_crc32c(0, p + STORE_IDX_HDR_SIZE, elen)) {
		return QSG_RC_BAD_FRAME;
	}
	/* The entries tile the segment exactly, as the scanner's results do
	 * (a record, or a bad region, then the next at its end). */
	uint64_t pos = STORE_SEG_HDR_SIZE;
	for (i = 0; i < n; i++) {
		struct store_idx_ent e;
		store_idx_get(p, i, &e);
		if (!ent_ok(p + STORE_IDX_HDR_SIZE + (size_t)i * STORE_IDX_ENT_SIZE, &e) ||
		    e.off != pos) {
			return QSG_RC_BAD_FRAME;
		}
		pos += e.kind & STORE_IDX_FAULT ? e.len : STORE_REC_HDR_SIZE + (uint64_t)e.len;
		if (pos > seg_size) {
			return QSG_RC_BAD_FRAME;
		}
	}
	if (pos != seg_size) {
		return QSG_RC_BAD_FRAME;
	}
	*count = n;
	return QSG_OK;
}

/* ---- open ---- */

int store_idx_load(const char *dir, uint32_t id, uint64_t seg_size, uint8_t **buf, uint32_t *count)
{
	char path[4200];
	struct stat st;
	uint8_t *p;
	int fd, rc;

	*buf = NULL;
	store_idx_path(dir, id, path, sizeof path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return QSG_RC_IO;
	}
	/* An entry covers at least one byte of the segment: a larger file is
	 * not an index of it (and is not read into memory). */
	if (fstat(fd, &st) != 0 || st.st_size < STORE_IDX_HDR_SIZE + 4 ||
	    (uint64_t)st.st_size > STORE_IDX_HDR_SIZE + 4 + seg_size * STORE_IDX_ENT_SIZE ||
	    (p = malloc((size_t)st.st_size)) == NULL) {
		close(fd);
		return QSG_RC_BAD_FRAME;
	}
	size_t got = 0, want = (size_t)st.st_size;
	while (got < want) {
		ssize_t r = pread(fd, p + got, want - got, (off_t)got);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	rc = got == want ? store_idx_check(p, want, id, seg_size, count) : QSG_RC_IO;
	if (rc != QSG_OK) {
		free(p);
		return rc;
	}
	*buf = p;
	return QSG_OK;
}

static bool has_id(const uint32_t *ids, size_t n, uint32_t id)
{
	size_t lo = 0, hi = n; /* ids are sorted */

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ids[mid] < id) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo < n && ids[lo] == id;
}

void store_idx_clean(struct store *s, const uint32_t *ids, size_t n)
{
	DIR *d = opendir(s->dir);
	struct dirent *de;
	char path[4200];

	if (d == NULL) {
		return; /* best effort: a leftover index is checked before use */
	}
	while ((de = readdir(d)) != NULL) {
		unsigned id;
		char tail[12];
		size_t l = strlen(de->d_name);
		if ((l != 18 && l != 22) || sscanf(de->d_name, "seg-%10u%11s", &id, tail) != 2) {
			continue;
		}
		bool tmp = strcmp(tail, ".qsx.tmp") == 0;
		if (!tmp && strcmp(tail, ".qsx") != 0) {
			continue;
		}
		if (tmp || !has_id(ids, n, id) || (n > 0 && id == ids[n - 1])) {
			/* the canonical name only */
			store_idx_path(s->dir, id, path, sizeof path - 4);
			if (tmp) {
				strcat(path, ".tmp");
			}
			if (unlink(path) == 0) {
				s->dir_dirty = true;
			}
		}
	}
	closedir(d);
}

/* ---- index jobs ---- */

uint32_t store_index_pending(const struct store *s)
{
	uint32_t n = 0;
	size_t i;

	for (i = 0; i + 1 < s->nsegs; i++) {
		n += s->segs[i]->idx == SEG_IDX_NONE;
	}
	return n;
}

int store_index_prepare(struct store *s, uint32_t max, struct store_index_job *job, char *errmsg)
{
	size_t i;

	memset(job, 0, sizeof *job);
	if (max > STORE_INDEX_JOB_MAX) {
		max = STORE_INDEX_JOB_MAX;
	}
	/* sealed segments only: the active one (last) still grows */
	for (i = 0; i + 1 < s->nsegs && job->n < max; i++) {
		struct store_seg *g = s->segs[i];
		if (g->idx != SEG_IDX_NONE) {
			continue;
		}
		if (job->dir == NULL && (job->dir = strdup(s->dir)) == NULL) {
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
					"store: out of memory");
		}
		int fd = dup(g->fd);
		if (fd < 0) {
			if (job->n > 0) {
				break; /* index those */
			}
			free(job->dir);
			job->dir = NULL;
			return qsg_errf(errmsg, QSG_RC_IO, "store: dup: %s", strerror(errno));
		}
		job->ids[job->n] = g->id;
		job->fds[job->n] = fd;
		job->sizes[job->n] = g->size;
		job->n++;
		g->idx = SEG_IDX_BUSY;
	}
	return QSG_OK;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Index one segment: QSG_OK, QSG_RC_INVALID (not indexable), or an I/O
 * error (message in job->errmsg). */
static int index_one(struct store_index_job *job, uint32_t i, struct qsg_wbuf *w)
{
	char path[4200], tmp[4208];
	size_t len = (size_t)job->sizes[i];
	int rc;

	/* The index may only promise what is durable in the segment. */
	if (fdatasync(job->fds[i]) != 0) {
		return qsg_errf(job->errmsg, QSG_RC_IO, "store: fdatasync segment %u: %s",
				job->ids[i], strerror(errno));
	}
	if (len < STORE_SEG_HDR_SIZE) {
		return QSG_RC_INVALID;
	}
	uint8_t *img = mmap(NULL, len, PROT_READ, MAP_PRIVATE, job->fds[i], 0);
	if (img == MAP_FAILED) {
		return qsg_errf(job->errmsg, QSG_RC_IO, "store: map segment %u: %s", job->ids[i],
				strerror(errno));
	}
	qsg_wbuf_reset(w);
	rc = store_idx_build(img, len, job->ids[i], w);
	munmap(img, len);
	if (rc != QSG_OK) {
		return rc == QSG_RC_INVALID
			   ? rc
			   : qsg_errf(job->errmsg, rc, "store: index segment %u: out of memory",
				      job->ids[i]);
	}
	store_idx_path(job->dir, job->ids[i], path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		return qsg_errf(job->errmsg, QSG_RC_IO, "store: create %s: %s", tmp,
				strerror(errno));
	}
	if (write_all(fd, w->data, w->len) != 0 || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return qsg_errf(job->errmsg, QSG_RC_IO, "store: write %s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return qsg_errf(job->errmsg, QSG_RC_IO, "store: rename %s: %s", tmp, strerror(e));
	}
	return QSG_OK;
}

int store_index_run(struct store_index_job *job)
{
	struct qsg_wbuf w;
	bool renamed = false;
	uint32_t i;

	job->ran = true;
	qsg_wbuf_init(&w);
	for (i = 0; i < job->n; i++) {
		int rc = index_one(job, i, &w);
		job->ok[i] = rc == QSG_OK;
		renamed |= rc == QSG_OK;
		if (rc != QSG_OK && rc != QSG_RC_INVALID && job->rc == QSG_OK) {
			job->rc = rc;
		}
	}
	qsg_wbuf_close(&w);
	if (renamed) {
		int dfd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) != 0) {
			/* the renames may be lost in a crash: the next open
			 * scans those segments (nothing wrong is ever read) */
			if (job->rc == QSG_OK) {
				job->rc = qsg_errf(job->errmsg, QSG_RC_IO,
						   "store: fsync directory: %s", strerror(errno));
			}
		}
		if (dfd >= 0) {
			close(dfd);
		}
	}
	return job->rc;
}

int store_index_done(struct store *s, struct store_index_job *job, char *errmsg)
{
	int rc = job->rc;
	uint32_t i;

	for (i = 0; i < job->n; i++) {
		struct store_seg *g = store_seg_find(s, job->ids[i]);
		close(job->fds[i]);
		if (!job->ran) {
			if (g != NULL) {
				g->idx = SEG_IDX_NONE; /* a later job takes it */
			}
			continue;
		}
		if (g != NULL) {
			g->idx = job->ok[i] ? SEG_IDX_DONE : SEG_IDX_FAILED;
		}
		if (job->ok[i]) {
			s->idx_written++;
		} else {
			s->idx_failed++;
		}
	}
	if (job->n > 0) {
		s->reclaim_hint = true; /* deletion waits for BUSY segments */
	}
	if (rc != QSG_OK && errmsg != NULL) {
		snprintf(errmsg, QSG_ERRMSG_SIZE, "%s", job->errmsg);
	}
	free(job->dir);
	memset(job, 0, sizeof *job);
	return rc;
}
