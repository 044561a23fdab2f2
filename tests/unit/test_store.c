/* Unit tests of the message store (src/store): round trips across roll-over,
 * reopen, torn tails at every truncation point, corruption in the middle,
 * release and deletion, compaction with relocations, the body cache, the
 * descriptor codec and the sync job. Every test works in its own temporary
 * directory and removes it. */
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

#include "common/slab.h"
#include "store/store.h"

#define TEST_TMP_NAME "store"
#include "tmpdir.h"

static void seg_file(const char *dir, uint32_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/seg-%010u.qss", dir, id);
}

static off_t file_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		return -1;
	}
	return st.st_size;
}

static void fill(uint8_t *p, size_t n, uint64_t key)
{
	size_t i;
	for (i = 0; i < n; i++) {
		p[i] = (uint8_t)(key * 31 + i * 7);
	}
}

static void open_store(struct store *s, const char *dir, uint64_t segsize, size_t cache)
{
	struct store_config c;
	char err[QSG_ERRMSG_SIZE];

	store_config_default(&c);
	c.dir = dir;
	c.segment_size = segsize;
	c.cache_bytes = cache;
	assert_int_equal(store_init(s, &c, err), QSG_OK);
}

static void append_key(struct store *s, uint64_t key, size_t len, struct store_loc *loc)
{
	uint8_t buf[8192];
	char err[QSG_ERRMSG_SIZE];

	assert_true(len <= sizeof buf);
	fill(buf, len, key);
	assert_int_equal(store_append(s, STORE_REC_BODY, key, 0, buf, len, false, loc, err),
			 QSG_OK);
}

static void check_read(struct store *s, const struct store_loc *loc, uint64_t key, size_t len)
{
	uint8_t want[8192];
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];

	fill(want, len, key);
	qsg_wbuf_init(&w);
	assert_int_equal(store_read(s, loc, key, 0, &w, err), QSG_OK);
	assert_int_equal(w.len, len);
	if (len > 0) {
		assert_memory_equal(w.data, want, len);
	}
	qsg_wbuf_close(&w);
}

static size_t count_faults(const struct store *s, int reason)
{
	size_t n, i, k = 0;
	const struct store_fault *f = store_faults(s, &n);
	for (i = 0; i < n; i++) {
		k += f[i].reason == reason;
	}
	return k;
}

static void test_crc32c(void **state)
{
	(void)state;
	assert_int_equal(qsg_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(qsg_crc32c(0, "", 0), 0);
	/* Incremental = one shot, at every split point and alignment. */
	uint8_t buf[100];
	fill(buf, sizeof buf, 3);
	uint32_t whole = qsg_crc32c(0, buf, sizeof buf);
	for (size_t i = 0; i <= sizeof buf; i++) {
		assert_int_equal(qsg_crc32c(qsg_crc32c(0, buf, i), buf + i, sizeof buf - i), whole);
	}
}

static void test_roundtrip_rollover(void **state)
{
	char dir[64];
	struct store s;
	struct store_loc loc[301];
	struct store_stats st;
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 4096, 0);
	for (k = 1; k <= 300; k++) {
		append_key(&s, k, (size_t)(k * 13 % 301), &loc[k]);
	}
	store_get_stats(&s, &st);
	assert_true(st.segments > 5);
	assert_int_equal(st.live_records, 300);
	for (k = 1; k <= 300; k++) {
		assert_true(loc[k].seg >= 1);
		check_read(&s, &loc[k], k, (size_t)(k * 13 % 301));
	}
	/* A record larger than a segment gets a segment of its own. */
	struct store_loc big;
	append_key(&s, 1000, 6000, &big);
	assert_true(big.seg > loc[300].seg);
	assert_int_equal(big.off, STORE_SEG_HDR_SIZE);
	check_read(&s, &big, 1000, 6000);
	/* Reading with the wrong key or length is refused, not served. */
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(store_read(&s, &loc[5], 6, 0, &w, NULL), QSG_RC_IO);
	struct store_loc bad = loc[5];
	bad.len += 1;
	assert_int_equal(store_read(&s, &bad, 5, 0, &w, NULL), QSG_RC_IO);
	assert_int_equal(w.len, 0);
	assert_int_equal(count_faults(&s, STORE_FAULT_MISMATCH), 2);
	qsg_wbuf_close(&w);
	store_close(&s);
	rm_tmp(dir);
}

static void test_reopen(void **state)
{
	char dir[64];
	struct store s;
	struct store_loc loc[101], got;
	struct store_stats st;
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 8192, 0);
	store_recovery_end(&s);
	for (k = 1; k <= 100; k++) {
		append_key(&s, k, 100 + (size_t)k, &loc[k]);
	}
	assert_int_equal(store_sync(&s, NULL), QSG_OK);
	store_close(&s);

	open_store(&s, dir, 8192, 0);
	store_get_stats(&s, &st);
	assert_int_equal(st.faults, 0);
	assert_int_equal(st.live_records, 100);
	for (k = 1; k <= 100; k++) {
		if (k == 50) {
			continue; /* not claimed: dead at recovery end */
		}
		assert_int_equal(store_claim(&s, k, 0, &got), QSG_OK);
		assert_memory_equal(&got, &loc[k], sizeof got);
		check_read(&s, &got, k, 100 + (size_t)k);
	}
	assert_int_equal(store_claim(&s, 999, 0, &got), QSG_RC_NO_MSG_AVAILABLE);
	assert_int_equal(store_claim(&s, 1, 1, &got), QSG_RC_NO_MSG_AVAILABLE);
	/* Compaction waits for the end of recovery. */
	struct store_compact_result res;
	assert_int_equal(store_compact_step(&s, 1 << 20, NULL, NULL, &res, NULL), QSG_RC_BUSY);
	store_recovery_end(&s);
	store_get_stats(&s, &st);
	assert_int_equal(st.live_records, 99);
	assert_int_equal(st.dead_bytes, STORE_REC_HDR_SIZE + 150);
	/* Appending after reopen continues in the last segment. */
	struct store_loc n;
	append_key(&s, 101, 10, &n);
	assert_true(n.seg == loc[100].seg || n.off == STORE_SEG_HDR_SIZE);
	check_read(&s, &n, 101, 10);
	store_close(&s);
	rm_tmp(dir);
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static uint8_t *read_file(const char *path, size_t *n)
{
	off_t sz = file_size(path);
	uint8_t *p = malloc((size_t)sz);
	int fd = open(path, O_RDONLY);
	assert_true(sz > 0 && p != NULL && fd >= 0);
	assert_int_equal(read(fd, p, (size_t)sz), sz);
	close(fd);
	*n = (size_t)sz;
	return p;
}

static void test_torn_tail_every_point(void **state)
{
	char dir[64], path[128];
	struct store s;
	struct store_loc loc[4], got;
	size_t n, k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 1 << 20, 0);
	append_key(&s, 1, 40, &loc[1]);
	append_key(&s, 2, 50, &loc[2]);
	append_key(&s, 3, 100, &loc[3]);
	store_close(&s);
	seg_file(dir, 1, path, sizeof path);
	uint8_t *orig = read_file(path, &n);
	size_t base = loc[3].off; /* where the last record starts */
	assert_int_equal(n, base + STORE_REC_HDR_SIZE + 100);

	for (k = 1; k < STORE_REC_HDR_SIZE + 100; k++) {
		write_file(path, orig, base + k);
		open_store(&s, dir, 1 << 20, 0);
		assert_int_equal(count_faults(&s, STORE_FAULT_TORN_TAIL), 1);
		size_t nf;
		const struct store_fault *f = store_faults(&s, &nf);
		assert_int_equal(nf, 1);
		assert_int_equal(f[0].off, base);
		assert_int_equal(f[0].len, k);
		assert_int_equal(file_size(path), (off_t)base); /* cut */
		assert_int_equal(store_claim(&s, 1, 0, &got), QSG_OK);
		check_read(&s, &got, 1, 40);
		assert_int_equal(store_claim(&s, 2, 0, &got), QSG_OK);
		check_read(&s, &got, 2, 50);
		assert_int_equal(store_claim(&s, 3, 0, &got), QSG_RC_NO_MSG_AVAILABLE);
		store_recovery_end(&s);
		/* The store keeps working where the valid data ended. */
		append_key(&s, 4, 30, &got);
		assert_int_equal(got.off, base);
		check_read(&s, &got, 4, 30);
		store_close(&s);
	}
	/* Full length but the payload never reached the disk (zeros). */
	memset(orig + base + STORE_REC_HDR_SIZE, 0, 100);
	write_file(path, orig, n);
	open_store(&s, dir, 1 << 20, 0);
	assert_int_equal(count_faults(&s, STORE_FAULT_TORN_TAIL), 1);
	assert_int_equal(file_size(path), (off_t)base);
	assert_int_equal(store_claim(&s, 3, 0, &got), QSG_RC_NO_MSG_AVAILABLE);
	store_close(&s);
	/* A segment torn at creation (shorter than its header) is restarted. */
	write_file(path, orig, 10);
	open_store(&s, dir, 1 << 20, 0);
	assert_int_equal(count_faults(&s, STORE_FAULT_TORN_TAIL), 1);
	assert_int_equal(store_claim(&s, 1, 0, &got), QSG_RC_NO_MSG_AVAILABLE);
	store_recovery_end(&s);
	append_key(&s, 5, 20, &got);
	check_read(&s, &got, 5, 20);
	store_close(&s);
	free(orig);
	rm_tmp(dir);
}

static void flip_bit(const char *path, size_t off, int bit)
{
	size_t n;
	uint8_t *p = read_file(path, &n);
	assert_true(off < n);
	p[off] ^= (uint8_t)(1u << bit);
	write_file(path, p, n);
	free(p);
}

static void test_bitflip_middle(void **state)
{
	char dir[64], path[128];
	struct store s;
	struct store_loc loc[11], got;
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 1 << 20, 0);
	for (k = 1; k <= 10; k++) {
		append_key(&s, k, 64, &loc[k]);
	}
	store_close(&s);
	seg_file(dir, 1, path, sizeof path);
	off_t size0 = file_size(path);

	/* A payload bit of record 4: only record 4 is lost. */
	flip_bit(path, loc[4].off + STORE_REC_HDR_SIZE + 17, 3);
	open_store(&s, dir, 1 << 20, 0);
	assert_int_equal(count_faults(&s, STORE_FAULT_PAYLOAD_CRC), 1);
	assert_int_equal(count_faults(&s, STORE_FAULT_TORN_TAIL), 0);
	size_t nf;
	const struct store_fault *f = store_faults(&s, &nf);
	assert_int_equal(f[0].off, loc[4].off);
	assert_int_equal(file_size(path), size0); /* not cut: data follows */
	for (k = 1; k <= 10; k++) {
		if (k == 4) {
			assert_int_equal(store_claim(&s, k, 0, &got), QSG_RC_NO_MSG_AVAILABLE);
		} else {
			assert_int_equal(store_claim(&s, k, 0, &got), QSG_OK);
			check_read(&s, &got, k, 64);
		}
	}
	/* Reading the bad record through a stale locator: refused. */
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(store_read(&s, &loc[4], 4, 0, &w, NULL), QSG_RC_IO);
	assert_int_equal(w.len, 0);
	store_close(&s);
	flip_bit(path, loc[4].off + STORE_REC_HDR_SIZE + 17, 3); /* repair */

	/* A header bit of record 6 (its length field): the scanner
	 * resynchronises on record 7. */
	flip_bit(path, loc[6].off + 5, 1);
	open_store(&s, dir, 1 << 20, 0);
	assert_int_equal(count_faults(&s, STORE_FAULT_HDR_CRC), 1);
	f = store_faults(&s, &nf);
	assert_int_equal(f[0].off, loc[6].off);
	assert_int_equal(f[0].len, loc[7].off - loc[6].off);
	for (k = 1; k <= 10; k++) {
		int rc = store_claim(&s, k, 0, &got);
		assert_int_equal(rc, k == 6 ? QSG_RC_NO_MSG_AVAILABLE : QSG_OK);
		if (rc == QSG_OK) {
			check_read(&s, &got, k, 64);
		}
	}
	store_close(&s);
	flip_bit(path, loc[6].off + 5, 1);

	/* Corruption while the store is open: the read verifies. */
	open_store(&s, dir, 1 << 20, 0);
	store_faults(&s, &nf);
	assert_int_equal(nf, 0);
	flip_bit(path, loc[9].off + STORE_REC_HDR_SIZE, 0);
	assert_int_equal(store_read(&s, &loc[9], 9, 0, &w, NULL), QSG_RC_IO);
	assert_int_equal(w.len, 0);
	assert_int_equal(count_faults(&s, STORE_FAULT_PAYLOAD_CRC), 1);
	check_read(&s, &loc[8], 8, 64);
	qsg_wbuf_close(&w);
	store_close(&s);
	rm_tmp(dir);
}

static void test_release_delete(void **state)
{
	char dir[64], path[128];
	struct store s;
	struct store_loc loc[61];
	struct store_stats st;
	uint32_t deleted;
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 4096, 0);
	store_recovery_end(&s);
	for (k = 1; k <= 60; k++) {
		append_key(&s, k, 200, &loc[k]);
	}
	assert_true(loc[60].seg >= 3);
	/* Release every record of segment 1 at index 5. */
	for (k = 1; k <= 60; k++) {
		if (loc[k].seg == 1) {
			assert_int_equal(store_release(&s, &loc[k], k, 0, 5), QSG_OK);
		}
	}
	assert_int_equal(store_release(&s, &loc[1], 1, 0, 5), QSG_RC_INVALID); /* twice */
	store_get_stats(&s, &st);
	uint64_t nrel = 0;
	for (k = 1; k <= 60; k++) {
		nrel += loc[k].seg == 1;
	}
	assert_true(nrel > 10);
	assert_int_equal(st.dead_bytes, nrel * (STORE_REC_HDR_SIZE + 200));
	assert_int_equal(st.live_records, 60 - nrel);
	/* Not yet: the last durable snapshot (stable 0) may need them. */
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_int_equal(deleted, 0);
	seg_file(dir, 1, path, sizeof path);
	assert_true(file_size(path) > 0);
	store_set_stable(&s, 5);
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(file_size(path), -1);
	store_get_stats(&s, &st);
	assert_true(st.reclaimed_bytes > 3000);
	/* The others are intact. */
	for (k = 1; k <= 60; k++) {
		if (loc[k].seg != 1) {
			check_read(&s, &loc[k], k, 200);
		}
	}
	/* The active segment is never deleted, even when dead. */
	for (k = 1; k <= 60; k++) {
		if (loc[k].seg == loc[60].seg) {
			assert_int_equal(store_release(&s, &loc[k], k, 0, 5), QSG_OK);
		}
	}
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_int_equal(deleted, 0);
	store_close(&s);
	rm_tmp(dir);
}

struct relocs {
	struct store_loc *loc; /* by key */
	uint32_t n;
	int bad;
};

static void on_reloc(void *arg, uint64_t key, uint32_t part, const struct store_loc *from,
		     const struct store_loc *to)
{
	struct relocs *r = arg;
	if (part != 0 || memcmp(&r->loc[key], from, sizeof *from) != 0 || to->len != from->len) {
		r->bad++;
	}
	r->loc[key] = *to;
	r->n++;
}

static void test_compaction(void **state)
{
	char dir[64], path[128];
	struct store s;
	struct store_loc loc[201], old[201], got;
	struct store_stats st0, st1;
	struct store_compact_result res;
	bool live[201];
	uint64_t k;
	int steps = 0;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 8192, 0);
	store_recovery_end(&s);
	for (k = 1; k <= 200; k++) {
		append_key(&s, k, 200, &loc[k]);
		live[k] = true;
	}
	/* Segments 1..3: keep every fourth record (75% dead). Segment 4:
	 * keep all (stays). */
	for (k = 1; k <= 200; k++) {
		if (loc[k].seg <= 3 && k % 4 != 0) {
			assert_int_equal(store_release(&s, &loc[k], k, 0, 0), QSG_OK);
			live[k] = false;
		}
	}
	memcpy(old, loc, sizeof old);
	store_get_stats(&s, &st0);
	struct relocs r = {loc, 0, 0};
	uint32_t done[8], ndone = 0;
	for (;;) {
		assert_int_equal(store_compact_step(&s, 1000, on_reloc, &r, &res, NULL), QSG_OK);
		if (res.idle) {
			break;
		}
		/* Bounded: 1000 bytes of work at 2 x 232 per moved record. */
		assert_true(res.moved <= 3);
		if (res.seg_done) {
			done[ndone++] = res.seg_done;
		}
		assert_true(++steps < 1000);
	}
	assert_int_equal(r.bad, 0);
	assert_int_equal(ndone, 3);
	assert_true(steps > 3);
	/* The steps never sync: the finished sources stay until a sync job
	 * has made the copies durable, then store_reclaim deletes them. */
	uint32_t deleted;
	for (uint32_t i = 0; i < ndone; i++) {
		seg_file(dir, done[i], path, sizeof path);
		assert_true(file_size(path) > 0);
	}
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_int_equal(deleted, 0);
	assert_int_equal(store_sync(&s, NULL), QSG_OK);
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_int_equal(deleted, 3);
	for (uint32_t i = 0; i < ndone; i++) {
		assert_true(done[i] <= 3);
		seg_file(dir, done[i], path, sizeof path);
		assert_int_equal(file_size(path), -1);
	}
	store_get_stats(&s, &st1);
	assert_true(st1.disk_bytes < st0.disk_bytes);
	assert_int_equal(st1.live_records, st0.live_records);
	uint32_t moved = 0;
	for (k = 1; k <= 200; k++) {
		if (!live[k]) {
			continue;
		}
		if (old[k].seg <= 3) {
			assert_true(loc[k].seg > 3);
			moved++;
		} else {
			assert_memory_equal(&loc[k], &old[k], sizeof loc[k]);
		}
		check_read(&s, &loc[k], k, 200);
	}
	assert_int_equal(moved, r.n);
	/* Nothing left that is worth compacting: idle. */
	assert_int_equal(store_compact_step(&s, 1000, on_reloc, &r, &res, NULL), QSG_OK);
	assert_true(res.idle);
	store_close(&s);
	/* After a restart the newest copies are found. */
	open_store(&s, dir, 8192, 0);
	for (k = 1; k <= 200; k++) {
		if (live[k]) {
			assert_int_equal(store_claim(&s, k, 0, &got), QSG_OK);
			assert_memory_equal(&got, &loc[k], sizeof got);
		}
	}
	store_close(&s);
	rm_tmp(dir);
}

/* Compaction reads its source through a window (one pread per 128 KiB):
 * records larger than the window, small ones around them, dead and live
 * mixed; every live record is moved intact, the bounded budget holds. */
static void test_compaction_window(void **state)
{
	char dir[64];
	struct store s;
	enum { N = 40 };
	struct store_loc loc[N + 1];
	struct store_compact_result res;
	bool live[N + 1];
	static uint8_t buf[300 * 1024];
	char err[QSG_ERRMSG_SIZE];
	int steps = 0;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 1024 * 1024, 0);
	store_recovery_end(&s);
	for (uint64_t k = 1; k <= N; k++) {
		size_t len = k % 5 == 0 ? 200 * 1024 + k : 3000 + k; /* 200 KiB > window */
		fill(buf, len, k);
		assert_int_equal(
		    store_append(&s, STORE_REC_BODY, k, 0, buf, len, false, &loc[k], err), QSG_OK);
		live[k] = true;
	}
	/* everything but the last segment: keep every third record */
	uint32_t last = loc[N].seg;
	for (uint64_t k = 1; k <= N; k++) {
		if (loc[k].seg < last && k % 3 != 0) {
			assert_int_equal(store_release(&s, &loc[k], k, 0, 0), QSG_OK);
			live[k] = false;
		}
	}
	struct relocs r = {loc, 0, 0};
	for (;;) {
		assert_int_equal(store_compact_step(&s, 256 * 1024, on_reloc, &r, &res, NULL),
				 QSG_OK);
		if (res.idle) {
			break;
		}
		/* one record over the budget at most (a 200 KiB one) */
		assert_true(res.bytes_moved <= 256 * 1024 + 201 * 1024);
		assert_true(++steps < 1000);
	}
	assert_int_equal(r.bad, 0);
	assert_true(r.n > 0);
	for (uint64_t k = 1; k <= N; k++) {
		if (!live[k]) {
			continue;
		}
		size_t len = k % 5 == 0 ? 200 * 1024 + k : 3000 + k;
		struct qsg_wbuf w;
		qsg_wbuf_init(&w);
		assert_int_equal(store_read(&s, &loc[k], k, 0, &w, err), QSG_OK);
		assert_int_equal(w.len, len);
		fill(buf, len, k);
		assert_memory_equal(w.data, buf, len);
		qsg_wbuf_close(&w);
	}
	store_close(&s);
	rm_tmp(dir);
}

/* The write-behind buffer: appends reach the file only at a flush, a
 * roll-over, a sync or close; reads are served from the buffer meanwhile;
 * a record larger than the buffer goes straight through, in order; a write
 * error is sticky. */
/* bytes_per_sync: writeback is started each time that many bytes were
 * written to a segment (buffered or not), and never with 0. */
static void test_bytes_per_sync(void **state)
{
	char dir[64], err[QSG_ERRMSG_SIZE];
	struct store s;
	struct store_config c;
	struct store_stats st;
	struct store_loc loc;

	(void)state;
	for (int buffered = 0; buffered < 2; buffered++) {
		for (int on = 0; on < 2; on++) {
			mkdir_tmp(dir, sizeof dir);
			store_config_default(&c);
			c.dir = dir;
			c.segment_size = 1 << 20;
			c.cache_bytes = 0;
			c.write_buffer = buffered ? 16 * 1024 : 0;
			c.bytes_per_sync = on ? 64 * 1024 : 0;
			assert_int_equal(store_init(&s, &c, err), QSG_OK);
			store_recovery_end(&s);
			/* 200 x (1000 + header) bytes: about 3.3 x 64 KiB */
			for (uint64_t k = 1; k <= 200; k++) {
				append_key(&s, k, 1000, &loc);
			}
			assert_int_equal(store_flush(&s, err), QSG_OK);
			store_get_stats(&s, &st);
			if (on) {
				/* 3.2 x 64 KiB written: 3 starts, or 2 when they
				 * fall on 16 KiB buffer flushes */
				assert_in_range(st.writebacks, buffered ? 2 : 3, 3);
			} else {
				assert_int_equal(st.writebacks, 0);
			}
			store_close(&s);
			rm_tmp(dir);
		}
	}
}

static void test_write_buffer(void **state)
{
	char dir[64], path[128], err[QSG_ERRMSG_SIZE];
	struct store s;
	struct store_config c;
	struct store_loc loc[40], big;
	static uint8_t buf[100 * 1024];
	struct store_loc got;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	store_config_default(&c);
	c.dir = dir;
	c.segment_size = 64 * 1024;
	c.cache_bytes = 0; /* reads must come from the buffer or the file */
	c.write_buffer = 16 * 1024;
	assert_int_equal(store_init(&s, &c, err), QSG_OK);
	store_recovery_end(&s);
	for (uint64_t k = 1; k <= 5; k++) {
		append_key(&s, k, 1000, &loc[k]);
	}
	seg_file(dir, loc[1].seg, path, sizeof path);
	assert_int_equal(file_size(path), STORE_SEG_HDR_SIZE); /* all buffered */
	for (uint64_t k = 1; k <= 5; k++) {
		check_read(&s, &loc[k], k, 1000); /* from the buffer */
	}
	assert_int_equal(store_flush(&s, err), QSG_OK);
	assert_int_equal(file_size(path), STORE_SEG_HDR_SIZE + 5 * (STORE_REC_HDR_SIZE + 1000));
	for (uint64_t k = 1; k <= 5; k++) {
		check_read(&s, &loc[k], k, 1000); /* from the file */
	}
	/* The buffer fills: flushed before the record that does not fit. */
	for (uint64_t k = 6; k <= 20; k++) {
		append_key(&s, k, 1500, &loc[k]);
	}
	assert_true(file_size(path) > STORE_SEG_HDR_SIZE + 5 * (STORE_REC_HDR_SIZE + 1000));
	/* A record larger than the buffer: the buffer first, then it. */
	fill(buf, 20000, 21);
	assert_int_equal(store_append(&s, STORE_REC_BODY, 21, 0, buf, 20000, false, &big, err),
			 QSG_OK);
	assert_int_equal(file_size(path), (off_t)big.off + STORE_REC_HDR_SIZE + 20000);
	/* Roll-over seals the old segment complete. */
	for (uint64_t k = 22; k <= 39; k++) {
		append_key(&s, k, 2000, &loc[k]);
	}
	assert_true(loc[39].seg > loc[1].seg);
	char path2[128];
	seg_file(dir, loc[22].seg, path2, sizeof path2);
	for (uint64_t k = 22; k < 39; k++) {
		if (loc[k].seg != loc[39].seg) {
			seg_file(dir, loc[k].seg, path2, sizeof path2);
			assert_true(file_size(path2) >=
				    (off_t)loc[k].off + STORE_REC_HDR_SIZE + 2000);
		}
	}
	/* A sync flushes first. */
	seg_file(dir, loc[39].seg, path2, sizeof path2);
	assert_true(file_size(path2) < (off_t)loc[39].off + STORE_REC_HDR_SIZE + 2000);
	assert_int_equal(store_sync(&s, err), QSG_OK);
	assert_int_equal(file_size(path2), (off_t)loc[39].off + STORE_REC_HDR_SIZE + 2000);
	/* Close flushes; after a reopen everything is there. */
	append_key(&s, 40 - 1 + 1000, 500, &got);
	store_close(&s);
	assert_int_equal(store_init(&s, &c, err), QSG_OK);
	for (uint64_t k = 1; k <= 20; k++) {
		struct store_loc l;
		assert_int_equal(store_claim(&s, k, 0, &l), QSG_OK);
	}
	assert_int_equal(store_claim(&s, 1039, 0, &got), QSG_OK);
	store_recovery_end(&s);
	check_read(&s, &got, 1039, 500);
	/* A write error is sticky. */
	append_key(&s, 2000, 100, &got);
	int ro = open("/dev/null", O_RDONLY);
	assert_true(ro >= 0);
	int fd = -1;
	{
		/* the active segment's descriptor: the highest open fd that
		 * names the segment file */
		char want[128], link[256], lp[64];
		seg_file(dir, got.seg, want, sizeof want);
		for (int i = 3; i < 1024; i++) {
			snprintf(lp, sizeof lp, "/proc/self/fd/%d", i);
			ssize_t n = readlink(lp, link, sizeof link - 1);
			if (n > 0) {
				link[n] = '\0';
				if (strstr(link, strrchr(want, '/')) != NULL) {
					fd = i;
				}
			}
		}
	}
	assert_true(fd >= 0);
	assert_true(dup2(ro, fd) == fd); /* writes now fail with EBADF */
	close(ro);
	assert_int_equal(store_flush(&s, err), QSG_RC_IO);
	fill(buf, 10, 1);
	assert_int_equal(store_append(&s, STORE_REC_BODY, 2001, 0, buf, 10, false, &got, err),
			 QSG_RC_IO);
	assert_int_equal(store_flush(&s, err), QSG_RC_IO);
	store_close(&s);
	rm_tmp(dir);
}

static void test_compaction_gate(void **state)
{
	char dir[64];
	struct store s;
	struct store_loc loc[41];
	struct store_compact_result res;
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 4096, 0);
	store_recovery_end(&s);
	for (k = 1; k <= 40; k++) {
		append_key(&s, k, 200, &loc[k]);
	}
	for (k = 1; k <= 40; k++) {
		if (loc[k].seg == 1 && k != 2) {
			store_release(&s, &loc[k], k, 0, 9);
		}
	}
	struct relocs r = {loc, 0, 0};
	uint32_t done = 0;
	do {
		assert_int_equal(store_compact_step(&s, 1 << 20, on_reloc, &r, &res, NULL), QSG_OK);
		if (res.seg_done) {
			done = res.seg_done;
		}
	} while (!res.idle);
	assert_int_equal(r.n, 1);
	assert_int_equal(done, 1);
	uint32_t deleted;
	/* Copies durable, but released after the stable index: kept. */
	assert_int_equal(store_sync(&s, NULL), QSG_OK);
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_int_equal(deleted, 0);
	store_set_stable(&s, 9);
	assert_int_equal(store_reclaim(&s, &deleted, NULL), QSG_OK);
	assert_int_equal(deleted, 1);
	check_read(&s, &loc[2], 2, 200);
	store_close(&s);
	rm_tmp(dir);
}

/* Entries held in the cache's slab classes, and their blocks. */
static size_t cache_slab_items(const struct store_cache *c, size_t *blocks)
{
	struct qsg_slab_stats ss;
	size_t items = 0;

	*blocks = 0;
	for (unsigned i = 0; i < STORE_CACHE_NCLASS; i++) {
		qsg_slab_stats(c->slab[i], &ss); /* zeros for NULL */
		items += ss.items;
		*blocks += ss.blocks;
	}
	return items;
}

static void test_cache(void **state)
{
	struct store_cache c;
	uint8_t buf[64 * 1024];
	const uint8_t *p;
	size_t len;
	uint64_t k;

	(void)state;
	fill(buf, sizeof buf, 1);
	/* The charge is the slot an entry takes: a 100-byte entry is in the
	 * 192-byte class (48 bytes of header), more than 100 + the overhead. */
	assert_int_equal(store_cache_charge(100), 192);
	assert_int_equal(store_cache_charge(1024), 1536);
	assert_int_equal(store_cache_charge(8000), 8000 + STORE_CACHE_ENT_OVERHEAD);
	assert_int_equal(store_cache_init(&c, 10 * store_cache_charge(100), 1000), QSG_OK);
	for (k = 0; k < 20; k++) {
		assert_true(store_cache_put(&c, k, 0, buf, 100, false));
		assert_true(c.bytes <= c.max_bytes);
	}
	assert_int_equal(c.count, 10);
	assert_int_equal(c.evictions, 10);
	assert_false(store_cache_get(&c, 0, 0, &p, &len));
	assert_true(store_cache_get(&c, 19, 0, &p, &len));
	assert_int_equal(len, 100);
	assert_memory_equal(p, buf, 100);
	/* LRU: touching 10 keeps it; 11 is now the oldest. */
	assert_true(store_cache_get(&c, 10, 0, &p, &len));
	assert_true(store_cache_put(&c, 100, 0, buf, 100, false));
	assert_true(store_cache_get(&c, 10, 0, &p, &len));
	assert_false(store_cache_get(&c, 11, 0, &p, &len));
	/* Same key, other part: distinct entries. */
	assert_false(store_cache_get(&c, 19, 1, &p, &len));
	/* Too big for one item. */
	assert_false(store_cache_put(&c, 200, 0, buf, 1001, false));
	store_cache_drop(&c, 10, 0);
	assert_false(store_cache_get(&c, 10, 0, &p, &len));
	assert_int_equal(c.count, 9);
	store_cache_close(&c);

	/* Offload tiers apply to puts only. */
	assert_int_equal(store_cache_init(&c, 1 << 20, 1 << 20), QSG_OK);
	for (k = 0; c.bytes < (1 << 20) * 75 / 100; k++) {
		assert_true(store_cache_put(&c, k, 0, buf, 1000, true));
	}
	assert_false(store_cache_put(&c, 5000, 0, buf, 40 * 1024, true)); /* > 32 KiB at 70% */
	assert_true(store_cache_put(&c, 5001, 0, buf, 20 * 1024, true));
	assert_true(store_cache_put(&c, 5002, 0, buf, 40 * 1024, false)); /* read-back */
	while (c.bytes < (1 << 20) * 92 / 100) {
		assert_true(store_cache_put(&c, k++, 0, buf, 1000, false));
	}
	assert_false(store_cache_put(&c, 6000, 0, buf, 1, true)); /* 90%: nothing on put */
	store_cache_close(&c);

	/* Entries up to QSG_SLAB_MAX_ITEM come from the slab classes (a mass
	 * release never reaches malloc's bins), larger ones from malloc; a
	 * drop returns the slab's block once it is empty. */
	assert_int_equal(store_cache_init(&c, 64 << 20, 64 << 10), QSG_OK);
	for (k = 0; k < 20000; k++) {
		assert_true(store_cache_put(&c, k, 0, buf, 64, false));
	}
	assert_true(store_cache_put(&c, 90000, 0, buf, 8000, false));
	size_t blocks;
	assert_int_equal(cache_slab_items(&c, &blocks), 20000);
	assert_true(store_cache_get(&c, 90000, 0, &p, &len));
	assert_int_equal(len, 8000);
	assert_memory_equal(p, buf, 8000);
	assert_true(store_cache_get(&c, 12345, 0, &p, &len));
	assert_int_equal(len, 64);
	assert_memory_equal(p, buf, 64);
	for (k = 0; k < 20000; k++) {
		store_cache_drop(&c, k, 0);
	}
	assert_int_equal(cache_slab_items(&c, &blocks), 0);
	assert_true(blocks <= 1); /* the spare */
	assert_int_equal(c.count, 1);
	store_cache_close(&c);

	/* Through the store: disk reads fill the cache, releases empty it. */
	char dir[64];
	struct store s;
	struct store_loc loc;
	struct store_stats st;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 1 << 20, 4096);
	store_recovery_end(&s);
	append_key(&s, 1, 500, &loc);
	check_read(&s, &loc, 1, 500); /* miss, from disk */
	check_read(&s, &loc, 1, 500); /* hit */
	store_get_stats(&s, &st);
	assert_int_equal(st.cache_hits, 1);
	assert_int_equal(st.cache_entries, 1);
	for (k = 2; k < 40; k++) {
		struct store_loc l2;
		append_key(&s, k, 500, &l2);
		check_read(&s, &l2, k, 500);
		store_get_stats(&s, &st);
		assert_true(st.cache_bytes <= 4096);
	}
	assert_true(st.cache_evictions > 0);
	store_release(&s, &loc, 1, 0, 0);
	store_close(&s);
	rm_tmp(dir);
}

static void sample_desc(struct store_desc *d)
{
	memset(d, 0, sizeof *d);
	d->seqno = 0x0102030405060708ull;
	for (int i = 0; i < STORE_ID_LEN; i++) {
		d->msgid[i] = (uint8_t)i;
		d->correlid[i] = (uint8_t)(0xff - i);
	}
	d->priority = 7;
	d->flags = STORE_DF_PERSISTENT | STORE_DF_CHUNKED;
	d->expiry_ms = 123456789;
	d->put_time_ms = 987654321;
	d->backout_count = 3;
	d->props_len = 100;
	d->body_len = 5 * STORE_CHUNK_MAX + 1;
	d->nparts = 6;
	d->crc = 0xdeadbeef;
	d->loc = (struct store_loc){9, 99, 999};
}

static void test_desc_codec(void **state)
{
	struct store_desc d, e;
	struct qsg_wbuf w, w2;
	size_t n;

	(void)state;
	sample_desc(&d);
	qsg_wbuf_init(&w);
	store_desc_encode(&w, &d);
	assert_int_equal(w.len, STORE_DESC_SIZE);
	assert_int_equal(store_desc_decode(w.data, w.len, &e, NULL), QSG_OK);
	assert_int_equal(e.seqno, d.seqno);
	assert_memory_equal(e.msgid, d.msgid, STORE_ID_LEN);
	assert_memory_equal(e.correlid, d.correlid, STORE_ID_LEN);
	assert_int_equal(e.priority, 7);
	assert_int_equal(e.flags, d.flags);
	assert_int_equal(e.expiry_ms, d.expiry_ms);
	assert_int_equal(e.put_time_ms, d.put_time_ms);
	assert_int_equal(e.backout_count, 3);
	assert_int_equal(e.props_len, 100);
	assert_int_equal(e.body_len, d.body_len);
	assert_int_equal(e.nparts, 6);
	assert_int_equal(e.crc, d.crc);
	assert_int_equal(e.loc.seg, 0); /* the location is never encoded */
	/* The location does not change the bytes. */
	qsg_wbuf_init(&w2);
	d.loc = (struct store_loc){1, 2, 3};
	store_desc_encode(&w2, &d);
	assert_memory_equal(w.data, w2.data, w.len);

	/* Every truncated length, and a trailing byte, are rejected. */
	for (n = 0; n < STORE_DESC_SIZE; n++) {
		assert_int_not_equal(store_desc_decode(w.data, n, &e, NULL), QSG_OK);
	}
	uint8_t longer[STORE_DESC_SIZE + 1];
	memcpy(longer, w.data, STORE_DESC_SIZE);
	longer[STORE_DESC_SIZE] = 0;
	assert_int_equal(store_desc_decode(longer, sizeof longer, &e, NULL), QSG_RC_BAD_FRAME);

	/* Field checks. */
	uint8_t b[STORE_DESC_SIZE];
#define MUT(off, val, rc)                                                                          \
	do {                                                                                       \
		memcpy(b, w.data, sizeof b);                                                       \
		b[off] = (val);                                                                    \
		assert_int_equal(store_desc_decode(b, sizeof b, &e, NULL), rc);                    \
	} while (0)
	MUT(0, 2, QSG_RC_BAD_VERSION);
	MUT(1, 10, QSG_RC_BAD_FRAME); /* priority */
	MUT(2, 0x07, QSG_RC_BAD_FRAME); /* unknown flag */
	MUT(96, 1, QSG_RC_BAD_FRAME); /* reserved */
	MUT(92, 0xee, QSG_OK); /* crc is data */
	MUT(88, 5, QSG_RC_BAD_FRAME); /* nparts 5 for 6 chunks */
	MUT(2, STORE_DF_PERSISTENT, QSG_RC_BAD_FRAME); /* unchunked needs nparts 1 */
	MUT(67, 0x80, QSG_RC_BAD_FRAME); /* expiry negative (top byte of the i64 at 60) */
	memcpy(b, w.data, sizeof b);
	memset(b + 4, 0, 8); /* seqno 0 */
	assert_int_equal(store_desc_decode(b, sizeof b, &e, NULL), QSG_RC_BAD_FRAME);

	/* Fuzz-ish: random bytes either fail or decode to something that
	 * encodes back to the same bytes (the encoding is canonical). */
	unsigned seed = 12345;
	int accepted = 0;
	for (int it = 0; it < 20000; it++) {
		memcpy(b, w.data, sizeof b);
		int flips = 1 + (int)(rand_r(&seed) % 4);
		for (int j = 0; j < flips; j++) {
			b[rand_r(&seed) % sizeof b] = (uint8_t)rand_r(&seed);
		}
		size_t len = (rand_r(&seed) % 8 == 0) ? rand_r(&seed) % sizeof b : sizeof b;
		if (store_desc_decode(b, len, &e, NULL) == QSG_OK) {
			assert_int_equal(len, STORE_DESC_SIZE);
			qsg_wbuf_reset(&w2);
			store_desc_encode(&w2, &e);
			assert_memory_equal(w2.data, b, sizeof b);
			accepted++;
		}
	}
	assert_true(accepted > 0);
	assert_int_equal(store_desc_parts(0), 1);
	assert_int_equal(store_desc_parts(STORE_CHUNK_MAX), 1);
	assert_int_equal(store_desc_parts(STORE_CHUNK_MAX + 1), 2);
	assert_int_equal(store_desc_parts(100u * 1024 * 1024), 100);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&w2);
}

static void test_sync_job(void **state)
{
	char dir[64];
	struct store s;
	struct store_loc loc;
	struct store_sync_job job;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 4096, 0);
	store_recovery_end(&s);
	append_key(&s, 1, 3000, &loc);
	append_key(&s, 2, 3000, &loc); /* rolls over: two dirty segments */
	assert_int_equal(store_sync_prepare(&s, &job, NULL), QSG_OK);
	assert_int_equal(job.nfds, 2);
	assert_true(job.dirfd >= 0);
	append_key(&s, 3, 10, &loc); /* while the job runs */
	assert_int_equal(store_sync_run(&job), QSG_OK);
	assert_int_equal(store_sync_done(&s, &job, NULL), QSG_OK);
	/* Only the append made after prepare remains. */
	assert_int_equal(store_sync_prepare(&s, &job, NULL), QSG_OK);
	assert_int_equal(job.nfds, 1);
	assert_int_equal(job.dirfd, -1);
	store_sync_run(&job);
	assert_int_equal(store_sync_done(&s, &job, NULL), QSG_OK);
	assert_int_equal(store_sync_prepare(&s, &job, NULL), QSG_OK);
	assert_int_equal(job.nfds, 0);
	store_sync_done(&s, &job, NULL);
	store_close(&s);
	rm_tmp(dir);
}

static void nop_rec(void *arg, uint8_t type, uint64_t key, uint32_t part, uint32_t off,
		    uint32_t len)
{
	size_t *lim = arg;
	(void)type;
	(void)key;
	(void)part;
	assert_true((size_t)off + STORE_REC_HDR_SIZE + len <= *lim);
}

static void test_scan_random(void **state)
{
	uint8_t img[4096];
	unsigned seed = 7;
	uint8_t hdr[STORE_SEG_HDR_SIZE];

	(void)state;
	store_seg_header(hdr, 1);
	for (int it = 0; it < 2000; it++) {
		size_t len = rand_r(&seed) % sizeof img;
		for (size_t i = 0; i < len; i++) {
			img[i] = (uint8_t)rand_r(&seed);
		}
		memcpy(img, hdr, len < sizeof hdr ? len : sizeof hdr);
		struct store_scan_cb cb = {nop_rec, NULL, &len};
		size_t end = store_scan_image(img, len, &cb);
		assert_true(end <= len);
	}
}

/* Rename records (STORE_REC_RENAME, bodystore's aliases): written, read,
 * found by the scan at open and through the segment indexes, with their
 * type; an unknown type is refused. */
struct ren_seen {
	size_t bodies, renames;
	uint64_t keysum;
};

static bool ren_take(void *arg, uint8_t type, uint64_t key, uint32_t part,
		     const struct store_loc *loc, uint32_t crc)
{
	struct ren_seen *r = arg;
	(void)crc;
	if (type == STORE_REC_RENAME) {
		assert_int_equal(part, STORE_RENAME_PART);
		assert_int_equal(loc->len, STORE_RENAME_LEN);
		r->renames++;
		r->keysum += key;
	} else {
		assert_int_equal(type, STORE_REC_BODY);
		r->bodies++;
	}
	return true;
}

static void test_rename_records(void **state)
{
	char dir[64], err[QSG_ERRMSG_SIZE];
	struct store s;
	struct store_loc loc, rl[41];
	uint8_t pl[STORE_RENAME_LEN];
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_store(&s, dir, 4096, 0);
	store_recovery_end(&s);
	for (k = 1; k <= 40; k++) {
		append_key(&s, k, 300, &loc);
		memset(pl, 0, sizeof pl);
		pl[0] = (uint8_t)k;
		assert_int_equal(store_append(&s, STORE_REC_RENAME, 1000 + k, STORE_RENAME_PART, pl,
					      sizeof pl, false, &rl[k], err),
				 QSG_OK);
	}
	assert_int_equal(
	    store_append(&s, STORE_REC_RENAME + 1, 2000, 0, pl, sizeof pl, false, &loc, err),
	    QSG_RC_INVALID);
	/* Index every sealed segment, then reopen twice: through the indexes
	 * and by a scan (indexes removed). */
	int guard = 0;
	while (store_index_pending(&s) > 0) {
		assert_int_equal(store_sync(&s, NULL), QSG_OK);
		assert_true(++guard < 1000);
	}
	assert_int_equal(store_sync(&s, NULL), QSG_OK);
	store_close(&s);
	for (int pass = 0; pass < 2; pass++) {
		struct ren_seen r = {0, 0, 0};
		struct store_stats st;
		open_store(&s, dir, 4096, 0);
		store_get_stats(&s, &st);
		assert_int_equal(st.faults, 0);
		if (pass == 0) {
			assert_true(st.index_loaded > 0); /* the kind came from an index */
		} else {
			assert_int_equal(st.index_loaded, 0);
		}
		store_recovery_foreach(&s, ren_take, &r);
		assert_int_equal(r.bodies, 40);
		assert_int_equal(r.renames, 40);
		assert_int_equal(r.keysum, 40 * 1000 + 40 * 41 / 2);
		store_recovery_end(&s);
		struct qsg_wbuf w;
		qsg_wbuf_init(&w);
		assert_int_equal(store_read(&s, &rl[17], 1017, STORE_RENAME_PART, &w, err), QSG_OK);
		assert_int_equal(w.len, STORE_RENAME_LEN);
		assert_int_equal(w.data[0], 17);
		qsg_wbuf_close(&w);
		store_close(&s);
		/* Second pass: no index files, a scan. */
		char path[512];
		DIR *d = opendir(dir);
		struct dirent *de;
		size_t nidx = 0;
		assert_non_null(d);
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			if (l > 4 && strcmp(de->d_name + l - 4, ".qsx") == 0) {
				snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
				assert_int_equal(unlink(path), 0);
				nidx++;
			}
		}
		closedir(d);
		if (pass == 0) {
			assert_true(nidx > 0);
		}
	}
	rm_tmp(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c),	    cmocka_unit_test(test_roundtrip_rollover),
	    cmocka_unit_test(test_reopen),	    cmocka_unit_test(test_torn_tail_every_point),
	    cmocka_unit_test(test_bitflip_middle),  cmocka_unit_test(test_release_delete),
	    cmocka_unit_test(test_compaction),	    cmocka_unit_test(test_compaction_window),
	    cmocka_unit_test(test_write_buffer),    cmocka_unit_test(test_bytes_per_sync),
	    cmocka_unit_test(test_compaction_gate), cmocka_unit_test(test_cache),
	    cmocka_unit_test(test_desc_codec),	    cmocka_unit_test(test_sync_job),
	    cmocka_unit_test(test_scan_random),	    cmocka_unit_test(test_rename_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
