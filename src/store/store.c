/* The message store (see store.h and docs/storage.md): segment files in one
 * directory, the active segment last; per-segment accounting of live and dead
 * bytes with the set of dead record offsets (what compaction skips); the
 * recovery index built by the scan at open; sync jobs; reclaim; compaction. */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct rent {
	uint64_t key;
	uint32_t part; /* high bit: claimed */
	uint32_t seg;
	uint32_t off;
	uint32_t len;
	uint32_t crc; /* payload crc32c (from the record header) */
	uint8_t type;
};
#define RENT_CLAIMED 0x80000000u

struct store_rindex {
	struct rent *v;
	size_t n, cap;
};

void store_config_default(struct store_config *c)
{
	memset(c, 0, sizeof *c);
	c->segment_size = STORE_DEFAULT_SEGMENT_SIZE;
	c->cache_bytes = STORE_DEFAULT_CACHE_BYTES;
	c->cache_max_item = STORE_DEFAULT_CACHE_MAX_ITEM;
	c->offload[0] = (struct store_offload_tier){70, 32 * 1024};
	c->offload[1] = (struct store_offload_tier){80, 4 * 1024};
	c->offload[2] = (struct store_offload_tier){90, 0};
	c->compact_ratio = STORE_DEFAULT_COMPACT_RATIO;
	c->bytes_per_sync = 8u << 20;
}

/* ---- dead-offset sets ---- */

static size_t ds_slot(uint32_t off, size_t cap)
{
	return (size_t)((off * 0x9e3779b1u) >> 7) & (cap - 1);
}

static bool ds_has(const struct store_seg *g, uint32_t off)
{
	size_t i;

	if (g->capdead == 0) {
		return false;
	}
	for (i = ds_slot(off, g->capdead);; i = (i + 1) & (g->capdead - 1)) {
		if (g->dead[i] == off) {
			return true;
		}
		if (g->dead[i] == 0) {
			return false;
		}
	}
}

/* 1 added, 0 already there, -1 out of memory. */
static int ds_add(struct store_seg *g, uint32_t off)
{
	size_t i;

	if (ds_has(g, off)) {
		return 0;
	}
	if ((g->ndead + 1) * 2 > g->capdead) {
		size_t ncap = g->capdead ? g->capdead * 2 : 64, j;
		uint32_t *nv = calloc(ncap, sizeof *nv);
		if (nv == NULL) {
			return -1;
		}
		for (j = 0; j < g->capdead; j++) {
			if (g->dead[j] != 0) {
				for (i = ds_slot(g->dead[j], ncap); nv[i] != 0;
				     i = (i + 1) & (ncap - 1))
					;
				nv[i] = g->dead[j];
			}
		}
		free(g->dead);
		g->dead = nv;
		g->capdead = ncap;
	}
	for (i = ds_slot(off, g->capdead); g->dead[i] != 0; i = (i + 1) & (g->capdead - 1))
		;
	g->dead[i] = off;
	g->ndead++;
	return 1;
}

/* ---- segments table ---- */

static void seg_path(const struct store *s, uint32_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/seg-%010u.qss", s->dir, id);
}

static int seg_push(struct store *s, struct store_seg *g)
{
	if (s->nsegs == s->capsegs) {
		size_t ncap = s->capsegs ? s->capsegs * 2 : 16;
		struct store_seg **nv = realloc(s->segs, ncap * sizeof *nv);
		if (nv == NULL) {
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		}
		s->segs = nv;
		s->capsegs = ncap;
	}
	s->segs[s->nsegs++] = g;
	return QSG_OK;
}

void store_seg_free(struct store_seg *g)
{
	if (g->fd >= 0) {
		close(g->fd);
	}
	free(g->dead);
	free(g);
}

static int add_fault(struct store *s, uint32_t seg, uint32_t off, uint32_t len, int reason)
{
	if (s->nfaults == s->capfaults) {
		size_t ncap = s->capfaults ? s->capfaults * 2 : 8;
		struct store_fault *nv = realloc(s->faults, ncap * sizeof *nv);
		if (nv == NULL) {
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		}
		s->faults = nv;
		s->capfaults = ncap;
	}
	s->faults[s->nfaults++] = (struct store_fault){seg, off, len, reason};
	return QSG_OK;
}

const struct store_fault *store_faults(const struct store *s, size_t *n)
{
	*n = s->nfaults;
	return s->faults;
}

#define STORE_MAX_IOV 5 /* header + up to 4 payload pieces */

static int pwrite_all(int fd, const struct iovec *iov, int n, uint64_t off)
{
	struct iovec v[STORE_MAX_IOV];
	int i;

	if (n > STORE_MAX_IOV) {
		errno = EINVAL;
		return -1;
	}
	memcpy(v, iov, (size_t)n * sizeof *v);
	i = 0;
	while (i < n) {
		ssize_t w = pwritev(fd, v + i, n - i, (off_t)off);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		off += (uint64_t)w;
		while (i < n && (size_t)w >= v[i].iov_len) {
			w -= (ssize_t)v[i].iov_len;
			i++;
		}
		if (i < n) {
			v[i].iov_base = (uint8_t *)v[i].iov_base + w;
			v[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			return -1;
		}
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int iobuf_reserve(struct store *s, size_t n)
{
	if (n <= s->iobuf_cap) {
		return QSG_OK;
	}
	uint8_t *nb = realloc(s->iobuf, n);
	if (nb == NULL) {
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	s->iobuf = nb;
	s->iobuf_cap = n;
	return QSG_OK;
}

static int seg_create(struct store *s, char *errmsg)
{
	char path[4200];
	uint8_t hdr[STORE_SEG_HDR_SIZE];
	struct iovec v = {hdr, sizeof hdr};
	struct store_seg *g;
	int rc;

	/* The active segment is sealed complete: its buffered tail first. */
	if ((rc = store_flush(s, errmsg)) != QSG_OK) {
		return rc;
	}
	uint32_t id = s->next_id++;

	g = calloc(1, sizeof *g);
	if (g == NULL) {
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "store: out of memory");
	}
	seg_path(s, id, path, sizeof path);
	g->id = id;
	g->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (g->fd < 0) {
		int e = errno;
		free(g);
		return qsg_errf(errmsg, QSG_RC_IO, "store: create %s: %s", path, strerror(e));
	}
	store_seg_header(hdr, id);
	if (pwrite_all(g->fd, &v, 1, 0) != 0) {
		int e = errno;
		store_seg_free(g);
		unlink(path);
		return qsg_errf(errmsg, QSG_RC_IO, "store: write %s: %s", path, strerror(e));
	}
	g->size = STORE_SEG_HDR_SIZE;
	if (seg_push(s, g) != QSG_OK) {
		store_seg_free(g);
		unlink(path);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "store: out of memory");
	}
	s->dir_dirty = true;
	return QSG_OK;
}

/* Mark the record at (g, off, len) dead. Returns false if it already was. */
static bool mark_dead(struct store *s, struct store_seg *g, uint32_t off, uint32_t len,
		      uint64_t index)
{
	uint64_t rl = STORE_REC_HDR_SIZE + (uint64_t)len;

	if (ds_add(g, off) <= 0) {
		/* Out of memory: account anyway (compaction then copies the
		 * record needlessly; nothing is lost). */
		if (ds_has(g, off)) {
			return false;
		}
	}
	g->live_bytes = g->live_bytes >= rl ? g->live_bytes - rl : 0;
	g->dead_bytes += rl;
	if (g->live_recs > 0) {
		g->live_recs--;
	}
	if (index > g->last_release) {
		g->last_release = index;
	}
	if (g->live_recs == 0) {
		s->reclaim_hint = true;
	}
	return true;
}

/* ---- open: scan and recovery index ---- */

struct scan_ctx {
	struct store *s;
	struct store_seg *g;
	const uint8_t *img; /* the segment image being scanned */
	int err;
};

/* One valid record (from the scan or from an index) into the recovery index
 * and the segment's live accounting. */
static void rindex_add(struct scan_ctx *c, uint8_t type, uint64_t key, uint32_t part, uint32_t off,
		       uint32_t len, uint32_t crc)
{
	struct store_rindex *ri = c->s->rindex;

	if (ri->n == ri->cap) {
		size_t ncap = ri->cap ? ri->cap * 2 : 1024;
		struct rent *nv = realloc(ri->v, ncap * sizeof *nv);
		if (nv == NULL) {
			c->err = QSG_RC_STORAGE_NOT_AVAILABLE;
			return;
		}
		ri->v = nv;
		ri->cap = ncap;
	}
	ri->v[ri->n++] = (struct rent){key, part & ~RENT_CLAIMED, c->g->id, off, len, crc, type};
	c->g->live_bytes += STORE_REC_HDR_SIZE + (uint64_t)len;
	c->g->live_recs++;
}

static void scan_rec(void *arg, uint8_t type, uint64_t key, uint32_t part, uint32_t off,
		     uint32_t len)
{
	struct scan_ctx *c = arg;

	/* The scanner verified the record: its header's payload crc (bytes
	 * 20..24) is the crc of the payload. */
	rindex_add(c, type, key, part, off, len, qsg_le32(c->img + off + 20));
}

static void scan_fault(void *arg, uint32_t off, uint32_t len, int reason)
{
	struct scan_ctx *c = arg;

	if (add_fault(c->s, c->g->id, off, len, reason) != QSG_OK) {
		c->err = QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	if (reason != STORE_FAULT_TORN_TAIL) {
		c->g->dead_bytes += len; /* never served; reclaimed with the segment */
	}
}

static int rent_cmp(const void *a, const void *b)
{
	const struct rent *x = a, *y = b;

	if (x->key != y->key) {
		return x->key < y->key ? -1 : 1;
	}
	if (x->part != y->part) {
		return x->part < y->part ? -1 : 1;
	}
	if (x->seg != y->seg) {
		return x->seg < y->seg ? -1 : 1;
	}
	return x->off < y->off ? -1 : x->off > y->off;
}

/* A sealed segment with a valid segment header and a valid index file
 * covering its whole size: its records, faults and accounting from the
 * index, its payloads unread (store_read verifies them). false: scan it. */
static bool load_indexed(struct store *s, struct store_seg *g, uint64_t size, int *err)
{
	uint8_t hdr[STORE_SEG_HDR_SIZE], *buf;
	uint32_t hid = 0, n, i;

	if (pread_all(g->fd, hdr, sizeof hdr, 0) != 0 ||
	    store_seg_header_check(hdr, sizeof hdr, &hid) != QSG_OK || hid != g->id ||
	    store_idx_load(s->dir, g->id, size, &buf, &n) != QSG_OK) {
		return false;
	}
	struct scan_ctx c = {s, g, NULL, QSG_OK};
	for (i = 0; i < n && c.err == QSG_OK; i++) {
		struct store_idx_ent e;
		store_idx_get(buf, i, &e);
		if (e.kind & STORE_IDX_FAULT) {
			scan_fault(&c, e.off, e.len, e.kind & ~STORE_IDX_FAULT);
		} else {
			rindex_add(&c, e.kind, e.key, e.part, e.off, e.len, e.crc);
		}
	}
	free(buf);
	*err = c.err;
	return true;
}

/* Open and scan one segment file (or load its index, when sealed); appends
 * it to s->segs unless unusable. */
static int open_segment(struct store *s, uint32_t id, bool last, char *errmsg)
{
	char path[4200];
	struct stat st;
	struct store_seg *g;
	uint32_t hid = 0;
	int rc;

	seg_path(s, id, path, sizeof path);
	g = calloc(1, sizeof *g);
	if (g == NULL) {
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "store: out of memory");
	}
	g->id = id;
	g->fd = open(path, O_RDWR | O_CLOEXEC);
	if (g->fd < 0 || fstat(g->fd, &st) != 0) {
		int e = errno;
		store_seg_free(g);
		return qsg_errf(errmsg, QSG_RC_IO, "store: open %s: %s", path, strerror(e));
	}
	if (st.st_size < STORE_SEG_HDR_SIZE && last) {
		/* Torn at creation: start the segment again. */
		uint8_t hdr[STORE_SEG_HDR_SIZE];
		struct iovec v = {hdr, sizeof hdr};
		add_fault(s, id, 0, (uint32_t)st.st_size, STORE_FAULT_TORN_TAIL);
		store_seg_header(hdr, id);
		if (ftruncate(g->fd, 0) != 0 || pwrite_all(g->fd, &v, 1, 0) != 0) {
			int e = errno;
			store_seg_free(g);
			return qsg_errf(errmsg, QSG_RC_IO, "store: rewrite %s: %s", path,
					strerror(e));
		}
		g->size = STORE_SEG_HDR_SIZE;
		s->dir_dirty = true;
		return seg_push(s, g) == QSG_OK ? QSG_OK : QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	if (!last && st.st_size >= STORE_SEG_HDR_SIZE &&
	    load_indexed(s, g, (uint64_t)st.st_size, &rc)) {
		if (rc != QSG_OK || seg_push(s, g) != QSG_OK) {
			store_seg_free(g);
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
					"store: out of memory loading the index of %s", path);
		}
		g->size = g->synced = (uint64_t)st.st_size;
		g->idx = SEG_IDX_DONE;
		s->idx_loaded++;
		return QSG_OK;
	}
	s->idx_scanned += !last; /* a sealed segment: its index is written again */
	uint8_t *img = NULL;
	if (st.st_size >= STORE_SEG_HDR_SIZE) {
		img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, g->fd, 0);
		if (img == MAP_FAILED) {
			int e = errno;
			store_seg_free(g);
			return qsg_errf(errmsg, QSG_RC_IO, "store: map %s: %s", path, strerror(e));
		}
	}
	rc = img ? store_seg_header_check(img, (size_t)st.st_size, &hid) : STORE_FAULT_SEG_HEADER;
	if (rc == QSG_OK && hid != id) {
		rc = STORE_FAULT_SEG_HEADER;
	}
	if (rc != QSG_OK) {
		/* Not served and left on disk for the operator. */
		if (img) {
			munmap(img, (size_t)st.st_size);
		}
		store_seg_free(g);
		return add_fault(s, id, 0,
				 (uint32_t)(st.st_size > UINT32_MAX ? UINT32_MAX : st.st_size), rc);
	}
	struct scan_ctx c = {s, g, img, QSG_OK};
	struct store_scan_cb cb = {scan_rec, scan_fault, &c};
	size_t end = store_scan_image(img, (size_t)st.st_size, &cb);
	munmap(img, (size_t)st.st_size);
	if (c.err != QSG_OK) {
		store_seg_free(g);
		return qsg_errf(errmsg, c.err, "store: out of memory scanning %s", path);
	}
	if (end < (size_t)st.st_size) {
		if (ftruncate(g->fd, (off_t)end) != 0) {
			int e = errno;
			store_seg_free(g);
			return qsg_errf(errmsg, QSG_RC_IO, "store: truncate %s: %s", path,
					strerror(e));
		}
	}
	g->size = end;
	g->synced = end;
	if (seg_push(s, g) != QSG_OK) {
		store_seg_free(g);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "store: out of memory");
	}
	return QSG_OK;
}

static int id_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int list_segments(struct store *s, uint32_t **ids, size_t *n, char *errmsg)
{
	DIR *d = opendir(s->dir);
	struct dirent *de;
	size_t cap = 0;

	*ids = NULL;
	*n = 0;
	if (d == NULL) {
		return qsg_errf(errmsg, QSG_RC_IO, "store: opendir %s: %s", s->dir,
				strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		unsigned id;
		char tail[8];
		if (strlen(de->d_name) != 18 || sscanf(de->d_name, "seg-%10u%7s", &id, tail) != 2 ||
		    strcmp(tail, ".qss") != 0 || id == 0) {
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			uint32_t *nv = realloc(*ids, cap * sizeof *nv);
			if (nv == NULL) {
				closedir(d);
				free(*ids);
				*ids = NULL;
				return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
						"store: out of memory");
			}
			*ids = nv;
		}
		(*ids)[(*n)++] = id;
	}
	closedir(d);
	if (*n > 1) {
		qsort(*ids, *n, sizeof **ids, id_cmp);
	}
	return QSG_OK;
}

int store_init(struct store *s, const struct store_config *cfg, char *errmsg)
{
	uint32_t *ids = NULL;
	size_t nids = 0, i;
	int rc;

	memset(s, 0, sizeof *s);
	if (cfg == NULL || cfg->dir == NULL || strlen(cfg->dir) >= sizeof s->dir - 32 ||
	    cfg->segment_size < 4096 || cfg->segment_size > (1ull << 31) ||
	    cfg->compact_ratio > 100) {
		return qsg_errf(errmsg, QSG_RC_INVALID, "store: bad configuration");
	}
	s->cfg = *cfg;
	strcpy(s->dir, cfg->dir);
	s->cfg.dir = s->dir;
	s->next_id = 1;
	if (mkdir(s->dir, 0755) != 0 && errno != EEXIST) {
		return qsg_errf(errmsg, QSG_RC_IO, "store: mkdir %s: %s", s->dir, strerror(errno));
	}
	rc = store_cache_init(&s->cache, cfg->cache_bytes, cfg->cache_max_item);
	if (rc != QSG_OK) {
		return qsg_errf(errmsg, rc, "store: out of memory");
	}
	memcpy(s->cache.offload, cfg->offload, sizeof s->cache.offload);
	s->rindex = calloc(1, sizeof *s->rindex);
	if (s->rindex == NULL) {
		rc = qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "store: out of memory");
		goto fail;
	}
	rc = list_segments(s, &ids, &nids, errmsg);
	if (rc != QSG_OK) {
		goto fail;
	}
	for (i = 0; i < nids; i++) {
		rc = open_segment(s, ids[i], i + 1 == nids, errmsg);
		if (rc != QSG_OK) {
			goto fail;
		}
		s->next_id = ids[i] + 1;
	}
	store_idx_clean(s, ids, nids);
	free(ids);
	ids = NULL;
	/* Newest copy of each (key, part) wins; older copies (left by a
	 * compaction interrupted before it deleted its source) are dead. */
	struct store_rindex *ri = s->rindex;
	if (ri->n > 1) {
		qsort(ri->v, ri->n, sizeof *ri->v, rent_cmp);
	}
	size_t w = 0;
	for (i = 0; i < ri->n; i++) {
		if (w > 0 && ri->v[w - 1].key == ri->v[i].key &&
		    ri->v[w - 1].part == ri->v[i].part) {
			struct rent *old = &ri->v[w - 1];
			mark_dead(s, store_seg_find(s, old->seg), old->off, old->len, 0);
			ri->v[w - 1] = ri->v[i];
			continue;
		}
		ri->v[w++] = ri->v[i];
	}
	ri->n = w;
	struct store_seg *a = store_active(s);
	if (a == NULL || a->size >= s->cfg.segment_size) {
		rc = seg_create(s, errmsg);
		if (rc != QSG_OK) {
			goto fail;
		}
	}
	return QSG_OK;
fail:
	free(ids);
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	size_t i;

	(void)store_flush(s, NULL); /* best effort: the log replays the rest */
	for (i = 0; i < s->nsegs; i++) {
		store_seg_free(s->segs[i]);
	}
	free(s->segs);
	if (s->rindex) {
		free(s->rindex->v);
		free(s->rindex);
	}
	free(s->faults);
	free(s->iobuf);
	free(s->cwin);
	free(s->wb);
	store_cache_close(&s->cache);
	memset(s, 0, sizeof *s);
}

int store_claim(struct store *s, uint64_t key, uint32_t part, struct store_loc *loc)
{
	struct store_rindex *ri = s->rindex;
	size_t lo = 0, hi;

	if (ri == NULL) {
		return QSG_RC_INVALID;
	}
	hi = ri->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct rent *e = &ri->v[mid];
		uint32_t ep = e->part & ~RENT_CLAIMED;
		if (e->key < key || (e->key == key && ep < part)) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo == ri->n || ri->v[lo].key != key || (ri->v[lo].part & ~RENT_CLAIMED) != part) {
		return QSG_RC_NO_MSG_AVAILABLE;
	}
	ri->v[lo].part |= RENT_CLAIMED;
	*loc = (struct store_loc){ri->v[lo].seg, ri->v[lo].off, ri->v[lo].len};
	return QSG_OK;
}

size_t store_recovery_count(const struct store *s)
{
	return s->rindex != NULL ? s->rindex->n : 0;
}

void store_recovery_foreach(struct store *s, store_recovery_cb cb, void *arg)
{
	struct store_rindex *ri = s->rindex;
	size_t i;

	if (ri == NULL) {
		return;
	}
	for (i = 0; i < ri->n; i++) {
		struct rent *e = &ri->v[i];
		struct store_loc loc = {e->seg, e->off, e->len};
		if (!(e->part & RENT_CLAIMED) &&
		    cb(arg, e->type, e->key, e->part & ~RENT_CLAIMED, &loc, e->crc)) {
			e->part |= RENT_CLAIMED;
		}
	}
}

void store_recovery_end(struct store *s)
{
	struct store_rindex *ri = s->rindex;
	size_t i;

	if (ri == NULL) {
		return;
	}
	for (i = 0; i < ri->n; i++) {
		if (!(ri->v[i].part & RENT_CLAIMED)) {
			struct store_seg *g = store_seg_find(s, ri->v[i].seg);
			if (g != NULL) {
				mark_dead(s, g, ri->v[i].off, ri->v[i].len, 0);
			}
		}
	}
	free(ri->v);
	free(ri);
	s->rindex = NULL;
}

/* ---- append, read, release ---- */

/* bytes_per_sync (store.h): start writeback of [wb_started, end). Advisory:
 * a failure shows at the next sync job, which syncs everything anyway. */
static void writeback(struct store *s, struct store_seg *g, uint64_t end)
{
	if (s->cfg.bytes_per_sync == 0 || end < g->wb_started + s->cfg.bytes_per_sync) {
		return;
	}
	(void)sync_file_range(g->fd, (off_t)g->wb_started, (off_t)(end - g->wb_started),
			      SYNC_FILE_RANGE_WRITE);
	g->wb_started = end;
	s->writebacks++;
}

int store_flush(struct store *s, char *errmsg)
{
	if (s->wb_err != 0) {
		return qsg_errf(errmsg, QSG_RC_IO, "store: an earlier write failed: %s",
				strerror(s->wb_err));
	}
	if (s->wb_len == 0) {
		return QSG_OK;
	}
	struct store_seg *g = store_seg_find(s, s->wb_seg);
	struct iovec v = {s->wb, s->wb_len};
	if (g == NULL || pwrite_all(g->fd, &v, 1, s->wb_off) != 0) {
		s->wb_err = g == NULL ? EBADF : errno;
		return qsg_errf(errmsg, QSG_RC_IO, "store: write segment %u: %s", s->wb_seg,
				strerror(s->wb_err));
	}
	writeback(s, g, s->wb_off + s->wb_len);
	s->wb_len = 0;
	s->flushes++;
	return QSG_OK;
}

/* Append header + payload pieces (payload crc given) at the end of the
 * active segment: into the write-behind buffer when it is on and the record
 * fits it, else with one pwritev. *cached receives a pointer to the payload
 * in the buffer (contiguous) or NULL. */
static int append_rec(struct store *s, uint8_t type, uint64_t key, uint32_t part,
		      const struct iovec *iov, int n, size_t len, uint32_t crc,
		      struct store_loc *loc, const uint8_t **inbuf, char *errmsg)
{
	uint8_t hdr[STORE_REC_HDR_SIZE];
	struct store_seg *g = store_active(s);
	uint64_t rl = STORE_REC_HDR_SIZE + (uint64_t)len;
	int rc;

	*inbuf = NULL;
	if (!STORE_REC_TYPE_OK(type) || len > STORE_MAX_PAYLOAD || n < 0 || n > STORE_MAX_IOV - 1 ||
	    part & RENT_CLAIMED) {
		return qsg_errf(errmsg, QSG_RC_INVALID, "store: bad record");
	}
	if (s->wb_err != 0) {
		return qsg_errf(errmsg, QSG_RC_IO, "store: an earlier write failed: %s",
				strerror(s->wb_err));
	}
	if (g == NULL || (g->size + rl > s->cfg.segment_size && g->size > STORE_SEG_HDR_SIZE)) {
		rc = seg_create(s, errmsg);
		if (rc != QSG_OK) {
			return rc;
		}
		g = store_active(s);
	}
	store_rec_header_crc(hdr, type, key, part, (uint32_t)len, crc);
	size_t cap = s->cfg.write_buffer;
	if (cap > 0 && rl <= cap) {
		if (s->wb_len > 0 && (s->wb_seg != g->id || s->wb_len + rl > cap)) {
			if ((rc = store_flush(s, errmsg)) != QSG_OK) {
				return rc;
			}
		}
		if (s->wb == NULL && (s->wb = malloc(cap)) == NULL) {
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
					"store: out of memory");
		}
		if (s->wb_len == 0) {
			s->wb_seg = g->id;
			s->wb_off = g->size;
		}
		uint8_t *p = s->wb + s->wb_len;
		memcpy(p, hdr, sizeof hdr);
		size_t at = sizeof hdr;
		for (int i = 0; i < n; i++) {
			if (iov[i].iov_len > 0) {
				memcpy(p + at, iov[i].iov_base, iov[i].iov_len);
			}
			at += iov[i].iov_len;
		}
		s->wb_len += rl;
		*inbuf = p + sizeof hdr;
	} else {
		struct iovec v[STORE_MAX_IOV];
		int nv = 0;
		if ((rc = store_flush(s, errmsg)) != QSG_OK) {
			return rc;
		}
		v[nv++] = (struct iovec){hdr, sizeof hdr};
		for (int i = 0; i < n; i++) {
			if (iov[i].iov_len > 0) {
				v[nv++] = iov[i];
			}
		}
		if (pwrite_all(g->fd, v, nv, g->size) != 0) {
			s->wb_err = errno;
			return qsg_errf(errmsg, QSG_RC_IO, "store: write segment %u: %s", g->id,
					strerror(errno));
		}
	}
	*loc = (struct store_loc){g->id, (uint32_t)g->size, (uint32_t)len};
	g->size += rl;
	if (*inbuf == NULL) {
		writeback(s, g, g->size);
	}
	g->live_bytes += rl;
	g->live_recs++;
	return QSG_OK;
}

int store_appendv(struct store *s, uint8_t type, uint64_t key, uint32_t part,
		  const struct iovec *iov, int n, uint32_t crc, bool cache_body,
		  struct store_loc *loc, char *errmsg)
{
	const uint8_t *inbuf;
	size_t len = 0;
	for (int i = 0; i < n && i < STORE_MAX_IOV; i++) {
		len += iov[i].iov_len;
	}
#ifdef QSG_CHECKED
	{
		uint32_t c = 0;
		for (int i = 0; i < n && i < STORE_MAX_IOV; i++) {
			c = qsg_crc32c(c, iov[i].iov_base, iov[i].iov_len);
		}
		if (c != crc) {
			return qsg_errf(errmsg, QSG_RC_INVALID, "store: payload crc mismatch");
		}
	}
#endif
	int rc = append_rec(s, type, key, part, iov, n, len, crc, loc, &inbuf, errmsg);
	if (rc != QSG_OK) {
		return rc;
	}
	s->appended_bytes += STORE_REC_HDR_SIZE + len;
	if (cache_body) {
		if (inbuf != NULL) {
			store_cache_put(&s->cache, key, part, inbuf, len, true);
		} else if (n == 1) {
			store_cache_put(&s->cache, key, part, iov[0].iov_base, len, true);
		}
		/* a large record in pieces is not cached on put (the offload
		 * tiers would refuse most of them anyway) */
	}
	return QSG_OK;
}

int store_append(struct store *s, uint8_t type, uint64_t key, uint32_t part, const void *p,
		 size_t len, bool cache_body, struct store_loc *loc, char *errmsg)
{
	struct iovec v = {(void *)p, len};
	if (len > 0 && p == NULL) {
		return qsg_errf(errmsg, QSG_RC_INVALID, "store: bad record");
	}
	return store_appendv(s, type, key, part, &v, len > 0 ? 1 : 0,
			     len > 0 ? qsg_crc32c(0, p, len) : qsg_crc32c(0, "", 0), cache_body,
			     loc, errmsg);
}

int store_read(struct store *s, const struct store_loc *loc, uint64_t key, uint32_t part,
	       struct qsg_wbuf *out, char *errmsg)
{
	struct store_seg *g;
	const uint8_t *cp;
	size_t clen;
	uint8_t type;
	uint64_t rkey;
	uint32_t rpart, rlen;
	int r;

	if (store_cache_get(&s->cache, key, part, &cp, &clen)) {
		if (clen == loc->len) {
			qsg_put_bytes(out, cp, clen);
			return out->err;
		}
		store_cache_drop(&s->cache, key, part);
	}
	g = store_seg_find(s, loc->seg);
	if (g == NULL || loc->off < STORE_SEG_HDR_SIZE || loc->len > STORE_MAX_PAYLOAD ||
	    (uint64_t)loc->off + STORE_REC_HDR_SIZE + loc->len > g->size) {
		add_fault(s, loc->seg, loc->off, loc->len, STORE_FAULT_MISMATCH);
		return qsg_errf(errmsg, QSG_RC_IO, "store: no record at %u:%u", loc->seg, loc->off);
	}
	size_t rl = STORE_REC_HDR_SIZE + (size_t)loc->len;
	const uint8_t *rec;
	if (s->wb_len > 0 && loc->seg == s->wb_seg && loc->off >= s->wb_off) {
		/* still in the write-behind buffer (the range check above
		 * bounds it by g->size, the buffer's end) */
		rec = s->wb + (loc->off - s->wb_off);
	} else {
		if (iobuf_reserve(s, rl) != QSG_OK) {
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
					"store: out of memory");
		}
		if (pread_all(g->fd, s->iobuf, rl, loc->off) != 0) {
			return qsg_errf(errmsg, QSG_RC_IO, "store: read segment %u: %s", g->id,
					strerror(errno));
		}
		rec = s->iobuf;
	}
	r = store_rec_check(rec, rl, &type, &rkey, &rpart, &rlen);
	if (r == QSG_OK && (rkey != key || rpart != part || rlen != loc->len)) {
		r = STORE_FAULT_MISMATCH;
	}
	if (r != QSG_OK) {
		add_fault(s, loc->seg, loc->off, (uint32_t)rl, r);
		return qsg_errf(errmsg, QSG_RC_IO, "store: record %u:%u: %s", loc->seg, loc->off,
				store_fault_name(r));
	}
	qsg_put_bytes(out, rec + STORE_REC_HDR_SIZE, rlen);
	store_cache_put(&s->cache, key, part, rec + STORE_REC_HDR_SIZE, rlen, false);
	return out->err;
}

int store_release(struct store *s, const struct store_loc *loc, uint64_t key, uint32_t part,
		  uint64_t index)
{
	struct store_seg *g = store_seg_find(s, loc->seg);

	store_cache_drop(&s->cache, key, part);
	if (g == NULL || loc->off < STORE_SEG_HDR_SIZE || loc->off >= g->size) {
		return QSG_RC_INVALID;
	}
	return mark_dead(s, g, loc->off, loc->len, index) ? QSG_OK : QSG_RC_INVALID;
}

void store_set_stable(struct store *s, uint64_t index)
{
	if (index > s->stable) {
		s->reclaim_hint = true;
	}
	s->stable = index;
}

/* ---- compaction ---- */

static struct store_seg *pick_source(struct store *s)
{
	struct store_seg *best = NULL;
	uint64_t best_pct = 101;
	size_t i;

	for (i = 0; i + 1 < s->nsegs; i++) {
		struct store_seg *g = s->segs[i];
		uint64_t body = g->size - STORE_SEG_HDR_SIZE;
		if (g->no_compact || g->live_recs == 0 || body == 0) {
			continue;
		}
		uint64_t pct = g->live_bytes * 100 / body;
		if (pct < s->cfg.compact_ratio && pct < best_pct) {
			best = g;
			best_pct = pct;
		}
	}
	return best;
}

/* Length of a known fault region starting at off in seg, or 0. */
static uint32_t fault_at(const struct store *s, uint32_t seg, uint32_t off)
{
	size_t i;

	for (i = 0; i < s->nfaults; i++) {
		if (s->faults[i].seg == seg && s->faults[i].off == off && s->faults[i].len > 0) {
			return s->faults[i].len;
		}
	}
	return 0;
}

/* Compaction reads a sealed source in windows of this size: one pread per
 * window, not two per record (a step over thousands of dead 1 KiB records
 * made thousands of syscalls on the loop). */
#define COMPACT_WINDOW (128u * 1024)

/* [off, off + len) of sealed segment g, from the read window (refilled from
 * off when it does not hold the range). NULL with errno on a read error. The
 * caller checks that the range lies within g. */
static const uint8_t *cwin_get(struct store *s, struct store_seg *g, uint64_t off, size_t len)
{
	if (s->cwin_seg == g->id && off >= s->cwin_off && off + len <= s->cwin_off + s->cwin_len) {
		return s->cwin + (off - s->cwin_off);
	}
	size_t want = len > COMPACT_WINDOW ? len : COMPACT_WINDOW;
	if (off + want > g->size) {
		want = (size_t)(g->size - off);
	}
	if (want > s->cwin_cap) {
		uint8_t *nb = realloc(s->cwin, want);
		if (nb == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		s->cwin = nb;
		s->cwin_cap = want;
	}
	s->cwin_seg = 0;
	if (pread_all(g->fd, s->cwin, want, off) != 0) {
		return NULL;
	}
	s->cwin_seg = g->id;
	s->cwin_off = off;
	s->cwin_len = want;
	return s->cwin;
}

int store_compact_step(struct store *s, size_t budget, store_reloc_cb cb, void *arg,
		       struct store_compact_result *res, char *errmsg)
{
	struct store_seg *g;
	size_t work = 0;
	int rc;

	memset(res, 0, sizeof *res);
	if (s->rindex != NULL) {
		return qsg_errf(errmsg, QSG_RC_BUSY, "store: recovery not ended");
	}
	g = s->compact_seg ? store_seg_find(s, s->compact_seg) : NULL;
	if (g == NULL) {
		g = pick_source(s);
		if (g == NULL) {
			res->idle = true;
			return QSG_OK;
		}
		s->compact_seg = g->id;
		s->compact_off = STORE_SEG_HDR_SIZE;
		s->cwin_seg = 0;
	}
	while (work < budget && s->compact_off < g->size && g->live_recs > 0) {
		uint32_t off = s->compact_off, skip = fault_at(s, g->id, off);
		uint8_t type;
		uint64_t key;
		uint32_t part, plen;
		if (skip > 0) {
			s->compact_off += skip;
			continue;
		}
		const uint8_t *h = off + (uint64_t)STORE_REC_HDR_SIZE <= g->size
				       ? cwin_get(s, g, off, STORE_REC_HDR_SIZE)
				       : NULL;
		if (h == NULL && off + (uint64_t)STORE_REC_HDR_SIZE <= g->size) {
			return qsg_errf(errmsg,
					errno == ENOMEM ? QSG_RC_STORAGE_NOT_AVAILABLE : QSG_RC_IO,
					"store: read segment %u: %s", g->id, strerror(errno));
		}
		/* Header fields (checked below with the payload when live). */
		plen = h != NULL ? qsg_le32(h + 4) : 0;
		if (h == NULL || qsg_le32(h + 28) != qsg_crc32c(0, h, 28) ||
		    plen > STORE_MAX_PAYLOAD ||
		    off + STORE_REC_HDR_SIZE + (uint64_t)plen > g->size) {
			add_fault(s, g->id, off, 0, STORE_FAULT_HDR_CRC);
			g->no_compact = true;
			s->compact_seg = 0;
			return qsg_errf(errmsg, QSG_RC_IO,
					"store: compaction: segment %u offset %u: %s", g->id, off,
					store_fault_name(STORE_FAULT_HDR_CRC));
		}
		size_t rl = STORE_REC_HDR_SIZE + (size_t)plen;
		if (ds_has(g, off)) {
			/* skipped, but its bytes were read: they count */
			s->compact_off += (uint32_t)rl;
			work += rl;
			continue;
		}
		const uint8_t *rec = cwin_get(s, g, off, rl);
		if (rec == NULL) {
			return qsg_errf(errmsg,
					errno == ENOMEM ? QSG_RC_STORAGE_NOT_AVAILABLE : QSG_RC_IO,
					"store: read segment %u: %s", g->id, strerror(errno));
		}
		int r = store_rec_check(rec, rl, &type, &key, &part, &plen);
		if (r != QSG_OK) {
			add_fault(s, g->id, off, (uint32_t)rl, r);
			g->no_compact = true;
			s->compact_seg = 0;
			return qsg_errf(errmsg, QSG_RC_IO,
					"store: compaction: segment %u offset %u: %s", g->id, off,
					store_fault_name(r));
		}
		struct store_loc from = {g->id, off, plen}, to;
		/* The payload stays in the window: append_rec does not touch it. */
		{
			struct iovec pv = {(void *)(rec + STORE_REC_HDR_SIZE), plen};
			const uint8_t *inbuf;
			/* the record's crc was verified by store_rec_check */
			rc = append_rec(s, type, key, part, &pv, plen > 0 ? 1 : 0, plen,
					qsg_le32(rec + 20), &to, &inbuf, errmsg);
		}
		if (rc != QSG_OK) {
			return rc;
		}
		mark_dead(s, g, off, plen, 0);
		/* g may be deleted only once this copy is durable. */
		g->copies_seq = s->sync_prepared + 1;
		if (cb != NULL) {
			cb(arg, key, part, &from, &to);
		}
		res->moved++;
		res->bytes_moved += rl;
		s->compacted_bytes += rl;
		s->compact_off += (uint32_t)rl;
		work += 2 * rl;
	}
	if (s->compact_off >= g->size || g->live_recs == 0) {
		/* Finished. Never synced or deleted here (this step runs in loop
		 * slices): store_reclaim deletes the source after the next
		 * completed sync job made the copies durable. */
		s->compact_seg = 0;
		res->seg_done = g->id;
		s->reclaim_hint = true;
	}
	return QSG_OK;
}
