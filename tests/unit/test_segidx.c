/* Unit tests of the segment index files of the message store
 * (src/store/segidx.c): written for sealed segments (roll-over, compaction,
 * scanned at open), an open with indexes gives exactly what a full scan
 * gives (records, faults, live and dead accounting), every kind of bad index
 * falls back to the scan, deletion and orphans, and a payload corrupted
 * under a valid index is refused at read. Every test works in its own
 * temporary directory and removes it. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

#define SEGSZ 4096
#define NBODY 40
#define NCHUNKED 5 /* keys NBODY+1 .. NBODY+NCHUNKED, NPARTS parts each */
#define NPARTS 3
#define NKEYS (NBODY + NCHUNKED)

#define TEST_TMP_NAME "segidx"
#include "tmpdir.h"

/* Remove every index file; returns how many there were. */
static int rm_idx(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".qsx") == 0) {
			snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
			assert_int_equal(unlink(p), 0);
			n++;
		}
	}
	closedir(d);
	return n;
}

static void seg_file(const char *dir, uint32_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/seg-%010u.qss", dir, id);
}

static void idx_file(const char *dir, uint32_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/seg-%010u.qsx", dir, id);
}

static off_t file_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		return -1;
	}
	return st.st_size;
}

static uint8_t *read_file(const char *path, size_t *n)
{
	off_t sz = file_size(path);
	uint8_t *p = malloc(sz > 0 ? (size_t)sz : 1);
	int fd = open(path, O_RDONLY);
	assert_true(sz > 0 && p != NULL && fd >= 0);
	assert_int_equal(read(fd, p, (size_t)sz), sz);
	close(fd);
	*n = (size_t)sz;
	return p;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void flip(const char *path, size_t off, uint8_t mask)
{
	size_t n;
	uint8_t *p = read_file(path, &n);
	assert_true(off < n);
	p[off] ^= mask;
	write_file(path, p, n);
	free(p);
}

static void fill(uint8_t *p, size_t n, uint64_t key, uint32_t part)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)(key * 31 + part * 11 + i * 7);
	}
}

static size_t body_len(uint64_t key)
{
	return 100 + (size_t)key * 3;
}

static void open_store(struct store *s, const char *dir)
{
	struct store_config c;
	char err[QSG_ERRMSG_SIZE];

	store_config_default(&c);
	c.dir = dir;
	c.segment_size = SEGSZ;
	c.cache_bytes = 0; /* every read goes to the file */
	assert_int_equal(store_init(s, &c, err), QSG_OK);
}

static void put(struct store *s, uint8_t type, uint64_t key, uint32_t part, size_t len,
		struct store_loc *loc)
{
	uint8_t buf[4096];
	char err[QSG_ERRMSG_SIZE];

	fill(buf, len, key, part);
	assert_int_equal(store_append(s, type, key, part, buf, len, false, loc, err), QSG_OK);
}

static void check_read(struct store *s, const struct store_loc *loc, uint64_t key, uint32_t part,
		       size_t len)
{
	uint8_t want[4096];
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];

	fill(want, len, key, part);
	qsg_wbuf_init(&w);
	assert_int_equal(store_read(s, loc, key, part, &w, err), QSG_OK);
	assert_int_equal(w.len, len);
	assert_memory_equal(w.data, want, len);
	qsg_wbuf_close(&w);
}

/* Index every sealed segment (sync jobs carry the index jobs). */
static void index_all(struct store *s)
{
	int guard = 0;
	while (store_index_pending(s) > 0) {
		assert_int_equal(store_sync(s, NULL), QSG_OK);
		assert_true(++guard < 1000);
	}
}

/* The store of most tests: bodies of keys 1..NBODY, a second (newer) copy
 * of key 5 (the older is superseded at open), chunked keys with NPARTS
 * parts, over several segments of SEGSZ bytes; the last one not full.
 * Returns the number of segments. */
static uint32_t build(const char *dir, struct store_loc *loc, struct store_loc (*cloc)[NPARTS])
{
	struct store s;
	struct store_stats st;
	struct store_loc dummy;
	uint64_t k;

	open_store(&s, dir);
	store_recovery_end(&s);
	for (k = 1; k <= NBODY; k++) {
		put(&s, STORE_REC_BODY, k, 0, body_len(k), &loc[k]);
		if (k == 30) {
			put(&s, STORE_REC_BODY, 5, 0, body_len(5), &loc[5]);
		}
	}
	for (k = NBODY + 1; k <= NKEYS; k++) {
		for (uint32_t p = 0; p < NPARTS; p++) {
			put(&s, STORE_REC_CHUNK, k, p, 700, cloc ? &cloc[k][p] : &dummy);
		}
	}
	store_get_stats(&s, &st);
	assert_true(st.segments >= 5);
	store_close(&s);
	return st.segments;
}

struct rec {
	uint8_t type;
	uint64_t key;
	uint32_t part;
	struct store_loc loc;
	uint32_t crc;
};

struct snap {
	struct rec v[256];
	size_t n;
	struct store_fault f[16];
	size_t nf;
	struct store_stats st, end; /* at open, after recovery end */
};

static bool collect(void *arg, uint8_t type, uint64_t key, uint32_t part,
		    const struct store_loc *loc, uint32_t crc)
{
	struct snap *sn = arg;
	assert_true(sn->n < 256);
	sn->v[sn->n++] = (struct rec){type, key, part, *loc, crc};
	return false; /* not claimed */
}

/* Open, record what recovery sees, claim every even key (all parts), end
 * recovery, record the accounting, close. */
static void take(const char *dir, struct snap *sn)
{
	struct store s;
	const struct store_fault *f;
	struct store_loc loc;

	memset(sn, 0, sizeof *sn);
	open_store(&s, dir);
	store_recovery_foreach(&s, collect, sn);
	f = store_faults(&s, &sn->nf);
	assert_true(sn->nf <= 16);
	if (sn->nf > 0) {
		memcpy(sn->f, f, sn->nf * sizeof *f);
	}
	store_get_stats(&s, &sn->st);
	for (uint64_t k = 2; k <= NKEYS; k += 2) {
		for (uint32_t p = 0; p < (k > NBODY ? NPARTS : 1); p++) {
			if (store_claim(&s, k, p, &loc) == QSG_OK) {
				check_read(&s, &loc, k, p, k > NBODY ? 700 : body_len(k));
			}
		}
	}
	store_recovery_end(&s);
	store_get_stats(&s, &sn->end);
	store_close(&s);
}

static void same_stats(const struct store_stats *a, const struct store_stats *b)
{
	assert_int_equal(a->segments, b->segments);
	assert_int_equal(a->disk_bytes, b->disk_bytes);
	assert_int_equal(a->live_bytes, b->live_bytes);
	assert_int_equal(a->dead_bytes, b->dead_bytes);
	assert_int_equal(a->live_records, b->live_records);
	assert_int_equal(a->faults, b->faults);
}

static void same(const struct snap *a, const struct snap *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->v[i].type, b->v[i].type);
		assert_int_equal(a->v[i].key, b->v[i].key);
		assert_int_equal(a->v[i].part, b->v[i].part);
		assert_int_equal(a->v[i].loc.seg, b->v[i].loc.seg);
		assert_int_equal(a->v[i].loc.off, b->v[i].loc.off);
		assert_int_equal(a->v[i].loc.len, b->v[i].loc.len);
		assert_int_equal(a->v[i].crc, b->v[i].crc);
	}
	assert_int_equal(a->nf, b->nf);
	for (size_t i = 0; i < a->nf; i++) {
		assert_int_equal(a->f[i].seg, b->f[i].seg);
		assert_int_equal(a->f[i].off, b->f[i].off);
		assert_int_equal(a->f[i].len, b->f[i].len);
		assert_int_equal(a->f[i].reason, b->f[i].reason);
	}
	same_stats(&a->st, &b->st);
	same_stats(&a->end, &b->end);
}

/* Roll-over seals a segment; a sync job writes its index; the active
 * segment never has one; the next open loads them and reads nothing else. */
static void test_written_on_rollover(void **state)
{
	char dir[64], path[128];
	struct store s;
	struct store_loc loc[NKEYS + 1], got;
	struct store_stats st;
	uint32_t nseg, id;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	nseg = build(dir, loc, NULL);
	open_store(&s, dir);
	store_get_stats(&s, &st);
	assert_int_equal(st.index_loaded, 0);
	assert_int_equal(st.index_scanned, nseg - 1); /* none written yet */
	assert_int_equal(store_index_pending(&s), nseg - 1);
	store_recovery_end(&s);
	/* One sync job indexes STORE_INDEX_PER_SYNC segments. */
	assert_int_equal(store_sync(&s, NULL), QSG_OK);
	assert_int_equal(store_index_pending(&s), nseg - 1 - STORE_INDEX_PER_SYNC);
	index_all(&s);
	store_get_stats(&s, &st);
	assert_int_equal(st.index_written, nseg - 1);
	assert_int_equal(st.index_failed, 0);
	for (id = 1; id < nseg; id++) {
		idx_file(dir, id, path, sizeof path);
		assert_true(file_size(path) > STORE_IDX_HDR_SIZE);
	}
	idx_file(dir, nseg, path, sizeof path);
	assert_int_equal(file_size(path), -1);
	/* A roll-over while open seals the active segment: pending, then
	 * indexed by the next sync job. */
	uint64_t k = 1000;
	while (store_index_pending(&s) == 0) {
		put(&s, STORE_REC_BODY, k++, 0, 500, &got);
	}
	assert_int_equal(store_index_pending(&s), 1);
	idx_file(dir, nseg, path, sizeof path);
	assert_int_equal(file_size(path), -1);
	assert_int_equal(store_sync(&s, NULL), QSG_OK);
	assert_true(file_size(path) > STORE_IDX_HDR_SIZE);
	assert_int_equal(store_index_pending(&s), 0);
	store_close(&s);

	open_store(&s, dir);
	store_get_stats(&s, &st);
	assert_int_equal(st.index_loaded, nseg);
	assert_int_equal(st.index_scanned, 0);
	assert_int_equal(st.faults, 0);
	for (k = 1; k <= NBODY; k++) {
		assert_int_equal(store_claim(&s, k, 0, &got), QSG_OK);
		assert_memory_equal(&got, &loc[k], sizeof got);
		check_read(&s, &got, k, 0, body_len(k));
	}
	store_close(&s);
	rm_tmp(dir);
}

/* Corrupt records in sealed segments before they are indexed: the indexes
 * carry the faults, and an open with indexes equals an open with a full
 * scan record by record, fault by fault, byte by byte of accounting. */
static void test_same_as_scan(void **state)
{
	char dir[64], path[128];
	struct store s;
	struct store_loc loc[NKEYS + 1];
	struct store_loc cloc[NKEYS + 1][NPARTS];
	struct snap *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	struct store_stats st;
	uint32_t nseg;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	mkdir_tmp(dir, sizeof dir);
	nseg = build(dir, loc, cloc);
	/* a payload byte of key 3, a header byte (its length) of key 20, a
	 * payload byte of a chunk: all in sealed segments */
	assert_true(loc[3].seg < nseg && loc[20].seg < nseg && cloc[NBODY + 1][1].seg < nseg);
	seg_file(dir, loc[3].seg, path, sizeof path);
	flip(path, loc[3].off + STORE_REC_HDR_SIZE + 9, 0x10);
	seg_file(dir, loc[20].seg, path, sizeof path);
	flip(path, loc[20].off + 5, 0x02);
	seg_file(dir, cloc[NBODY + 1][1].seg, path, sizeof path);
	flip(path, cloc[NBODY + 1][1].off + STORE_REC_HDR_SIZE + 1, 0x01);

	open_store(&s, dir); /* scans; indexes from the corrupted files */
	store_get_stats(&s, &st);
	assert_int_equal(st.faults, 3);
	store_recovery_end(&s);
	index_all(&s);
	store_close(&s);

	take(dir, a);
	assert_int_equal(a->st.index_loaded, nseg - 1);
	assert_int_equal(a->st.index_scanned, 0);
	assert_int_equal(a->nf, 3);
	assert_int_equal(rm_idx(dir), nseg - 1);
	take(dir, b);
	assert_int_equal(b->st.index_loaded, 0);
	assert_int_equal(b->st.index_scanned, nseg - 1);
	same(a, b);
	/* what recovery sees: every record but the three bad ones, key 5 once
	 * (its newer copy) */
	assert_int_equal(a->n, NBODY + NCHUNKED * NPARTS - 3);
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].key == 5) {
			assert_memory_equal(&a->v[i].loc, &loc[5], sizeof loc[5]);
		}
	}
	assert_true(a->st.dead_bytes > 0); /* the superseded copy and the faults */
	free(a);
	free(b);
	rm_tmp(dir);
}

static void put_hdr_crc(uint8_t *p)
{
	uint32_t c = qsg_crc32c(0, p, 36);
	p[36] = (uint8_t)c;
	p[37] = (uint8_t)(c >> 8);
	p[38] = (uint8_t)(c >> 16);
	p[39] = (uint8_t)(c >> 24);
}

/* Every kind of bad index file: the segment is scanned, and the result is
 * the same as with no index at all. */
static void test_bad_index_falls_back(void **state)
{
	char dir[64], path[128], path2[128];
	struct store s;
	struct store_loc loc[NKEYS + 1];
	struct snap *base = calloc(1, sizeof *base), *x = calloc(1, sizeof *x);
	uint32_t nseg;
	size_t n, n2;
	int v;

	(void)state;
	assert_non_null(base);
	assert_non_null(x);
	mkdir_tmp(dir, sizeof dir);
	nseg = build(dir, loc, NULL);
	take(dir, base); /* full scan */
	assert_int_equal(base->st.index_scanned, nseg - 1);
	open_store(&s, dir);
	store_recovery_end(&s);
	index_all(&s);
	store_close(&s);
	idx_file(dir, 2, path, sizeof path);
	idx_file(dir, 3, path2, sizeof path2);
	uint8_t *good = read_file(path, &n);
	uint8_t *other = read_file(path2, &n2);
	assert_true(n > STORE_IDX_HDR_SIZE + 2 * STORE_IDX_ENT_SIZE + 4);

	for (v = 0; v < 13; v++) {
		uint8_t *p = malloc(n + 64);
		size_t len = n;
		assert_non_null(p);
		memcpy(p, good, n);
		switch (v) {
		case 0: /* a header byte */
			p[10] ^= 0x40;
			break;
		case 1: /* an entry byte */
			p[STORE_IDX_HDR_SIZE + STORE_IDX_ENT_SIZE + 5] ^= 0x01;
			break;
		case 2: /* the trailer */
			p[n - 1] ^= 0x80;
			break;
		case 3: /* torn */
			len = n - 1;
			break;
		case 4: /* torn in the header */
			len = 20;
			break;
		case 5: /* empty */
			len = 0;
			break;
		case 6: /* covers another segment size */
			p[16] ^= 0x04;
			put_hdr_crc(p);
			break;
		case 7: /* unknown version */
			p[4] = 2;
			put_hdr_crc(p);
			break;
		case 8: /* another segment's index */
			free(p);
			p = malloc(n2);
			assert_non_null(p);
			memcpy(p, other, n2);
			len = n2;
			break;
		case 9: { /* checksums right, an entry's length wrong: the
			   * entries no longer tile the segment */
			uint8_t *e = p + STORE_IDX_HDR_SIZE + 4 + 4; /* entry 0 len */
			e[0] ^= 0x08;
			uint32_t c =
			    qsg_crc32c(0, p + STORE_IDX_HDR_SIZE, n - STORE_IDX_HDR_SIZE - 4);
			p[n - 4] = (uint8_t)c;
			p[n - 3] = (uint8_t)(c >> 8);
			p[n - 2] = (uint8_t)(c >> 16);
			p[n - 1] = (uint8_t)(c >> 24);
			break;
		}
		case 10: /* a longer file (garbage appended) */
			memset(p + n, 0, 64);
			len = n + 64;
			break;
		case 11: /* unknown entry kind, checksums right */
			p[STORE_IDX_HDR_SIZE] = 7;
			{
				uint32_t c = qsg_crc32c(0, p + STORE_IDX_HDR_SIZE,
							n - STORE_IDX_HDR_SIZE - 4);
				p[n - 4] = (uint8_t)c;
				p[n - 3] = (uint8_t)(c >> 8);
				p[n - 2] = (uint8_t)(c >> 16);
				p[n - 1] = (uint8_t)(c >> 24);
			}
			break;
		}
		if (v == 12) { /* the last entry left out, checksums right */
			uint32_t cnt = qsg_le32(p + 24) - 1, c;
			p[24] = (uint8_t)cnt;
			p[25] = (uint8_t)(cnt >> 8);
			put_hdr_crc(p);
			len = STORE_IDX_HDR_SIZE + (size_t)cnt * STORE_IDX_ENT_SIZE;
			c = qsg_crc32c(0, p + STORE_IDX_HDR_SIZE, len - STORE_IDX_HDR_SIZE);
			p[len] = (uint8_t)c;
			p[len + 1] = (uint8_t)(c >> 8);
			p[len + 2] = (uint8_t)(c >> 16);
			p[len + 3] = (uint8_t)(c >> 24);
			len += 4;
		}
		write_file(path, p, len);
		free(p);
		take(dir, x);
		assert_int_equal(x->st.index_scanned, 1);
		assert_int_equal(x->st.index_loaded, nseg - 2);
		same(base, x);
		write_file(path, good, n); /* repair: loaded again */
		take(dir, x);
		assert_int_equal(x->st.index_scanned, 0);
		same(base, x);
	}
	/* A segment file that grew past what its index covers. */
	seg_file(dir, 2, path, sizeof path);
	size_t sn;
	uint8_t *seg = read_file(path, &sn);
	uint8_t *big = calloc(1, sn + 16);
	assert_non_null(big);
	memcpy(big, seg, sn);
	write_file(path, big, sn + 16);
	open_store(&s, dir);
	struct store_stats st;
	store_get_stats(&s, &st);
	assert_int_equal(st.index_scanned, 1);
	store_close(&s);
	free(big);
	free(seg);
	free(good);
	free(other);
	free(base);
	free(x);
	rm_tmp(dir);
}

/* Compaction moves records into the active segment; when it rolls over,
 * the output is indexed like any segment; reopen with indexes equals the
 * full scan and serves the moved records. */
struct relocs {
	struct store_loc loc[NKEYS + 1];
};

static void on_reloc(void *arg, uint64_t key, uint32_t part, const struct store_loc *from,
		     const struct store_loc *to)
{
	struct relocs *r = arg;
	(void)from;
	if (key <= NBODY && part == 0) {
		r->loc[key] = *to;
	}
}

static void test_after_compaction(void **state)
{
	char dir[64], path[128];
	struct store s;
	struct relocs r;
	struct store_loc got;
	struct store_compact_result res;
	struct store_stats st;
	struct snap *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	uint32_t deleted;
	uint64_t k;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	mkdir_tmp(dir, sizeof dir);
	build(dir, r.loc, NULL);
	open_store(&s, dir);
	/* keep one body in four and the chunks: the body segments fall
	 * below the compaction ratio */
	for (k = 4; k <= NBODY; k += 4) {
		assert_int_equal(store_claim(&s, k, 0, &got), QSG_OK);
	}
	for (k = NBODY + 1; k <= NKEYS; k++) {
		for (uint32_t p = 0; p < NPARTS; p++) {
			assert_int_equal(store_claim(&s, k, p, &got), QSG_OK);
		}
	}
	store_recovery_end(&s);
	int guard = 0;
	do {
		assert_int_equal(store_compact_step(&s, 1 << 20, on_reloc, &r, &res, NULL), QSG_OK);
		assert_true(++guard < 100);
	} while (!res.idle);
	/* seal the output: fill the active segment until it rolls over */
	k = 5000;
	store_get_stats(&s, &st);
	uint32_t segs = st.segments;
	while (st.segments == segs) {
		put(&s, STORE_REC_BODY, k++, 0, 900, &got);
		store_get_stats(&s, &st);
	}
	index_all(&s);
	store_set_stable(&s, 1);
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_true(deleted > 0);
	store_get_stats(&s, &st);
	assert_true(st.index_written > 0);
	store_close(&s);
	/* every sealed segment has its index, the compaction output included;
	 * deleted segments took theirs with them; the active one has none */
	uint32_t id, act = 0;
	char sp[128];
	for (id = 1; id < 200; id++) {
		seg_file(dir, id, sp, sizeof sp);
		if (file_size(sp) >= 0) {
			act = id;
		}
	}
	assert_true(act > 0);
	for (id = 1; id <= act; id++) {
		seg_file(dir, id, sp, sizeof sp);
		idx_file(dir, id, path, sizeof path);
		if (file_size(sp) < 0 || id == act) {
			assert_int_equal(file_size(path), -1);
		} else {
			assert_true(file_size(path) > 0);
		}
	}

	take(dir, a);
	assert_int_equal(a->st.index_scanned, 0);
	assert_true(a->st.index_loaded > 0);
	rm_idx(dir);
	take(dir, b);
	same(a, b);
	/* the moved records are served from their new place */
	open_store(&s, dir);
	for (k = 4; k <= NBODY; k += 4) {
		assert_int_equal(store_claim(&s, k, 0, &got), QSG_OK);
		assert_memory_equal(&got, &r.loc[k], sizeof got);
		check_read(&s, &got, k, 0, body_len(k));
	}
	store_close(&s);
	free(a);
	free(b);
	rm_tmp(dir);
}

/* Reclaim deletes a segment's index with it; an index job in flight holds
 * the deletion back; open removes orphans, temporary files and the index
 * of the last segment, and keeps the others. */
static void test_delete_and_orphans(void **state)
{
	char dir[64], path[128], sp[128];
	struct store s;
	struct store_loc loc[NKEYS + 1];
	struct store_stats st;
	uint32_t nseg, deleted;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	nseg = build(dir, loc, NULL);
	open_store(&s, dir);
	store_recovery_end(&s); /* nothing claimed: every record dead */
	store_set_stable(&s, 1);
	/* An index job prepared (not run) for segment 1: it is not deleted. */
	struct store_index_job job;
	assert_int_equal(store_index_prepare(&s, 1, &job, NULL), QSG_OK);
	assert_int_equal(job.n, 1);
	assert_int_equal(job.ids[0], 1);
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_int_equal(deleted, nseg - 2); /* all sealed but segment 1 */
	seg_file(dir, 1, sp, sizeof sp);
	assert_true(file_size(sp) > 0);
	assert_int_equal(store_index_run(&job), QSG_OK);
	assert_int_equal(store_index_done(&s, &job, NULL), QSG_OK);
	idx_file(dir, 1, path, sizeof path);
	assert_true(file_size(path) > 0);
	assert_true(s.reclaim_hint);
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(file_size(sp), -1);
	assert_int_equal(file_size(path), -1); /* the index went with it */
	store_close(&s);
	rm_tmp(dir);

	/* orphans */
	mkdir_tmp(dir, sizeof dir);
	nseg = build(dir, loc, NULL);
	open_store(&s, dir);
	store_recovery_end(&s);
	index_all(&s);
	store_close(&s);
	size_t n;
	idx_file(dir, 2, path, sizeof path);
	uint8_t *idx2 = read_file(path, &n);
	char orphan[128], tmp[160], lastidx[128], other[128];
	idx_file(dir, nseg + 7, orphan, sizeof orphan);
	write_file(orphan, idx2, n);
	snprintf(tmp, sizeof tmp, "%s/seg-%010u.qsx.tmp", dir, 3u);
	write_file(tmp, idx2, 10);
	idx_file(dir, nseg, lastidx, sizeof lastidx); /* of the active segment */
	write_file(lastidx, idx2, n);
	snprintf(other, sizeof other, "%s/notes.txt", dir);
	write_file(other, idx2, 4);
	open_store(&s, dir);
	store_get_stats(&s, &st);
	assert_int_equal(st.index_loaded, nseg - 1);
	assert_int_equal(file_size(orphan), -1);
	assert_int_equal(file_size(tmp), -1);
	assert_int_equal(file_size(lastidx), -1);
	assert_int_equal(file_size(other), 4); /* not ours: left alone */
	for (uint32_t id = 1; id < nseg; id++) {
		idx_file(dir, id, path, sizeof path);
		assert_true(file_size(path) > 0);
	}
	store_close(&s);
	free(idx2);
	rm_tmp(dir);
}

/* A payload (or record header) corrupted after its segment was indexed:
 * open trusts the index and reads nothing, so the record is claimable, but
 * its read fails verification and nothing is served. */
static void test_corrupt_payload_under_index(void **state)
{
	char dir[64], path[128];
	struct store s;
	struct store_loc loc[NKEYS + 1], got;
	struct store_stats st;
	struct qsg_wbuf w;
	size_t nf;
	uint32_t nseg;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	nseg = build(dir, loc, NULL);
	open_store(&s, dir);
	store_recovery_end(&s);
	index_all(&s);
	store_close(&s);
	assert_true(loc[7].seg < nseg && loc[12].seg < nseg);
	seg_file(dir, loc[7].seg, path, sizeof path);
	flip(path, loc[7].off + STORE_REC_HDR_SIZE + body_len(7) - 1, 0x20);
	seg_file(dir, loc[12].seg, path, sizeof path);
	flip(path, loc[12].off + 9, 0x01); /* its key */

	open_store(&s, dir);
	store_get_stats(&s, &st);
	assert_int_equal(st.index_loaded, nseg - 1);
	store_faults(&s, &nf);
	assert_int_equal(nf, 0); /* not read at open */
	qsg_wbuf_init(&w);
	assert_int_equal(store_claim(&s, 7, 0, &got), QSG_OK);
	assert_int_equal(store_read(&s, &got, 7, 0, &w, NULL), QSG_RC_IO);
	assert_int_equal(w.len, 0);
	assert_int_equal(store_claim(&s, 12, 0, &got), QSG_OK);
	assert_int_equal(store_read(&s, &got, 12, 0, &w, NULL), QSG_RC_IO);
	assert_int_equal(w.len, 0);
	const struct store_fault *f = store_faults(&s, &nf);
	assert_int_equal(nf, 2);
	assert_int_equal(f[0].reason, STORE_FAULT_PAYLOAD_CRC);
	assert_int_equal(f[1].reason, STORE_FAULT_HDR_CRC);
	assert_int_equal(store_claim(&s, 8, 0, &got), QSG_OK);
	check_read(&s, &got, 8, 0, body_len(8));
	qsg_wbuf_close(&w);
	store_close(&s);
	rm_tmp(dir);
}

/* The pure format: build then check round trip; every single-bit flip of a
 * valid index is rejected; a torn or foreign segment is not indexed. */
static void test_format(void **state)
{
	char dir[64], path[128];
	struct store_loc loc[NKEYS + 1];
	struct qsg_wbuf w;
	size_t n;
	uint32_t count;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	build(dir, loc, NULL);
	seg_file(dir, 1, path, sizeof path);
	uint8_t *img = read_file(path, &n);
	qsg_wbuf_init(&w);
	assert_int_equal(store_idx_build(img, n, 1, &w), QSG_OK);
	assert_int_equal(store_idx_check(w.data, w.len, 1, n, &count), QSG_OK);
	assert_int_equal(w.len, STORE_IDX_HDR_SIZE + (size_t)count * STORE_IDX_ENT_SIZE + 4);
	for (uint32_t i = 0; i < count; i++) {
		struct store_idx_ent e;
		uint8_t type;
		uint64_t key;
		uint32_t part, plen;
		store_idx_get(w.data, i, &e);
		assert_int_equal(store_rec_check(img + e.off, n - e.off, &type, &key, &part, &plen),
				 QSG_OK);
		assert_int_equal(e.kind, type);
		assert_int_equal(e.key, key);
		assert_int_equal(e.part, part);
		assert_int_equal(e.len, plen);
		assert_int_equal(e.crc, qsg_crc32c(0, img + e.off + STORE_REC_HDR_SIZE, plen));
	}
	assert_int_not_equal(store_idx_check(w.data, w.len, 2, n, &count), QSG_OK);
	assert_int_not_equal(store_idx_check(w.data, w.len, 1, n + 1, &count), QSG_OK);
	for (size_t i = 0; i < w.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			w.data[i] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(store_idx_check(w.data, w.len, 1, n, &count), QSG_OK);
			w.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	qsg_wbuf_reset(&w);
	assert_int_equal(store_idx_build(img, n - 3, 1, &w), QSG_RC_INVALID); /* torn */
	assert_int_equal(store_idx_build(img, n, 9, &w), QSG_RC_INVALID); /* other id */
	qsg_wbuf_close(&w);
	free(img);
	rm_tmp(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_written_on_rollover),
	    cmocka_unit_test(test_same_as_scan),
	    cmocka_unit_test(test_bad_index_falls_back),
	    cmocka_unit_test(test_after_compaction),
	    cmocka_unit_test(test_delete_and_orphans),
	    cmocka_unit_test(test_corrupt_payload_under_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
