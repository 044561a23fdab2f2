/* Unit tests of the body provider over the message store
 * (src/store/bodystore.c): put/read/release, duplicate puts of a log
 * replay, reopen, claims and restored(), the missing set and fills,
 * corruption on disk, compaction and reclaim through housekeeping, and the
 * map at 1M entries. Real files in a temporary directory, removed at the
 * end of each test. */
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

#include "store/bodystore.h"

#define TEST_TMP_NAME "bodystore"
#include "tmpdir.h"

static off_t file_size(const char *dir, uint32_t seg)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof path, "%s/seg-%010u.qss", dir, seg);
	if (stat(path, &st) != 0) {
		return -1;
	}
	return st.st_size;
}

static void open_bs(struct bodystore *b, const char *dir, uint64_t segsize, size_t cache)
{
	struct store_config c;
	char err[QSG_ERRMSG_SIZE];

	store_config_default(&c);
	c.dir = dir;
	c.segment_size = segsize;
	c.cache_bytes = cache;
	assert_int_equal(bodystore_init(b, &c, err), QSG_OK);
}

/* Message k: props of k % 7 bytes, body of blen bytes. */
#define PL(k) ((uint32_t)((k) % 7))
static void content(uint64_t k, uint8_t *p, size_t n, uint8_t salt)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)(k * 131 + i * 7 + salt);
	}
}

static uint32_t put_msg(struct bodystore *b, uint64_t k, uint32_t blen, uint8_t salt)
{
	uint8_t buf[4096];
	uint32_t pl = PL(k), crc;

	assert_true(pl + blen <= sizeof buf);
	content(k, buf, pl + blen, salt);
	crc = qsg_crc32c(0, buf, pl + blen);
	assert_int_equal(bodystore_put(b, k, buf, pl, buf + pl, blen, crc), QSG_OK);
	return crc;
}

static uint32_t msg_crc(uint64_t k, uint32_t blen, uint8_t salt)
{
	uint8_t buf[4096];

	content(k, buf, PL(k) + blen, salt);
	return qsg_crc32c(0, buf, PL(k) + blen);
}

static void check_msg(struct bodystore *b, uint64_t k, uint32_t blen, uint8_t salt)
{
	uint8_t want[4096];
	struct qsg_wbuf w;
	uint32_t pl = PL(k);

	content(k, want, pl + blen, salt);
	qsg_wbuf_init(&w);
	qsg_put_u8(&w, 0xee); /* reads append */
	assert_int_equal(bodystore_read(b, k, pl, blen, qsg_crc32c(0, want, pl + blen), &w),
			 QSG_OK);
	assert_int_equal(w.len, 1 + pl + blen);
	assert_memory_equal(w.data + 1, want, pl + blen);
	qsg_wbuf_close(&w);
}

static void check_read_fails(struct bodystore *b, uint64_t k, uint32_t blen, uint32_t crc)
{
	struct qsg_wbuf w;

	qsg_wbuf_init(&w);
	qsg_put_u8(&w, 0xee);
	assert_int_equal(bodystore_read(b, k, PL(k), blen, crc, &w), QSG_RC_IO);
	assert_int_equal(w.len, 1); /* nothing appended */
	qsg_wbuf_close(&w);
}

static void test_roundtrip(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st;
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 1 << 20, 1 << 20);
	for (k = 1; k <= 50; k++) {
		put_msg(&b, k, (uint32_t)(k * 10), 0);
	}
	for (k = 1; k <= 50; k++) {
		check_msg(&b, k, (uint32_t)(k * 10), 0);
	}
	/* Wrong crc or length asked: refused. */
	check_read_fails(&b, 3, 30, msg_crc(3, 30, 0) ^ 1);
	check_read_fails(&b, 3, 31, msg_crc(3, 30, 0));
#ifdef QSG_CHECKED
	/* A put whose content does not match its crc is refused (checked
	 * builds only: the crc comes from the state machine, computed from
	 * the same bytes, and is not recomputed in production). */
	uint8_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	assert_int_equal(bodystore_put(&b, 99, NULL, 0, x, 8, 12345), QSG_RC_IO);
	assert_true(strlen(b.errmsg) > 0);
#endif
	/* Empty content is a message too. */
	assert_int_equal(bodystore_put(&b, 98, NULL, 0, NULL, 0, 0), QSG_OK);
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_read(&b, 98, 0, 0, 0, &w), QSG_OK);
	assert_int_equal(w.len, 0);
	qsg_wbuf_close(&w);
	bodystore_set_index(&b, 7);
	for (k = 1; k <= 50; k += 2) {
		bodystore_release(&b, k);
	}
	bodystore_release(&b, 1); /* twice: ignored */
	bodystore_release(&b, 1000); /* never held: ignored */
	check_read_fails(&b, 1, 10, msg_crc(1, 10, 0));
	check_msg(&b, 2, 20, 0);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.messages, 26);
	assert_int_equal(st.puts, 51);
	assert_int_equal(st.releases, 25);
	assert_int_equal(st.read_misses, 1);
	assert_int_equal(st.st.live_records, 26);
	bodystore_close(&b);
	rm_tmp(dir);
}

static void test_dup_put(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 1 << 20, 0);
	put_msg(&b, 5, 100, 0);
	put_msg(&b, 5, 100, 0); /* log replay: no second copy */
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.puts, 1);
	assert_int_equal(st.put_dups, 1);
	assert_int_equal(st.st.live_records, 1);
	/* Another content under the same seqno replaces the old one. */
	put_msg(&b, 5, 100, 9);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.put_replaced, 1);
	assert_int_equal(st.st.live_records, 1);
	assert_int_equal(st.messages, 1);
	check_msg(&b, 5, 100, 9);
	check_read_fails(&b, 5, 100, msg_crc(5, 100, 0));
	bodystore_close(&b);
	rm_tmp(dir);
}

static void test_reopen_claims(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st;
	char err[QSG_ERRMSG_SIZE];
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 8192, 1 << 20);
	for (k = 1; k <= 40; k++) {
		put_msg(&b, k, 100, 0);
	}
	assert_int_equal(store_sync(&b.st, err), QSG_OK);
	bodystore_close(&b);

	open_bs(&b, dir, 8192, 1 << 20);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.messages, 40);
	assert_int_equal(st.missing, 0);
	for (k = 1; k <= 40; k++) {
		check_msg(&b, k, 100, 0);
	}
	/* Log replay after the restart: duplicates, nothing written. */
	put_msg(&b, 40, 100, 0);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.put_dups, 1);
	assert_int_equal(st.puts, 0);
	/* A snapshot whose last seqno is 30 holds 2, 4, .., 30 and 45, 47
	 * (never written here: missing). */
	bodystore_set_index(&b, 100);
	for (k = 2; k <= 30; k += 2) {
		bodystore_claim(&b, k, PL(k), 100, msg_crc(k, 100, 0));
	}
	bodystore_claim(&b, 47, PL(47), 100, msg_crc(47, 100, 0));
	bodystore_claim(&b, 45, PL(45), 100, msg_crc(45, 100, 0));
	bodystore_restored(&b, 30);
	bodystore_get_stats(&b, &st);
	/* Kept: 15 claimed + 31..40 above the snapshot. */
	assert_int_equal(st.messages, 25);
	assert_int_equal(st.missing, 2);
	assert_int_equal(b.nmissing, 2);
	assert_int_equal(st.restore_releases, 15);
	assert_int_equal(st.st.live_records, 25);
	for (k = 1; k <= 40; k++) {
		if (k <= 30 && k % 2 == 1) {
			check_read_fails(&b, k, 100, msg_crc(k, 100, 0));
		} else {
			check_msg(&b, k, 100, 0);
		}
	}
	/* Missing: listed in order, read fails with the catching-up message. */
	uint64_t keys[4];
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 2);
	assert_int_equal(keys[0], 45);
	assert_int_equal(keys[1], 47);
	assert_int_equal(bodystore_missing(&b, 45, keys, 4), 1);
	assert_int_equal(keys[0], 47);
	assert_int_equal(bodystore_missing(&b, 0, keys, 1), 1);
	assert_int_equal(keys[0], 45);
	check_read_fails(&b, 45, 100, msg_crc(45, 100, 0));
	assert_non_null(strstr(b.errmsg, "not held on this member"));
	struct qsg_wbuf w;
	uint32_t crc;
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_get(&b, 45, &w, &crc, err), QSG_RC_NO_MSG_AVAILABLE);
	/* Fill: wrong content refused, right content accepted. */
	uint8_t buf[200];
	content(45, buf, PL(45) + 100, 0);
	assert_int_equal(bodystore_fill(&b, 45, buf, PL(45) + 100, msg_crc(45, 100, 1), err),
			 QSG_RC_IO);
	buf[3] ^= 1;
	assert_int_equal(bodystore_fill(&b, 45, buf, PL(45) + 100, msg_crc(45, 100, 0), err),
			 QSG_RC_IO);
	buf[3] ^= 1;
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 2);
	assert_int_equal(bodystore_fill(&b, 45, buf, PL(45) + 100, msg_crc(45, 100, 0), err),
			 QSG_OK);
	assert_int_equal(bodystore_fill(&b, 45, buf, PL(45) + 100, msg_crc(45, 100, 0), err),
			 QSG_OK); /* twice: ignored */
	check_msg(&b, 45, 100, 0);
	assert_int_equal(bodystore_get(&b, 45, &w, &crc, err), QSG_OK);
	assert_int_equal(crc, msg_crc(45, 100, 0));
	assert_int_equal(w.len, PL(45) + 100);
	assert_memory_equal(w.data, buf, w.len);
	qsg_wbuf_close(&w);
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 1);
	assert_int_equal(keys[0], 47);
	/* Released while missing: leaves the list, a late fill is ignored. */
	bodystore_release(&b, 47);
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 0);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.missing, 0);
	content(47, buf, PL(47) + 100, 0);
	assert_int_equal(bodystore_fill(&b, 47, buf, PL(47) + 100, msg_crc(47, 100, 0), err),
			 QSG_OK);
	check_read_fails(&b, 47, 100, msg_crc(47, 100, 0));
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.fills, 1);
	assert_int_equal(st.messages, 26);

	/* A second restore: 32 claimed with another content (missing), the
	 * rest of 31..40 unclaimed above last = 35 survives from 36. */
	bodystore_claim(&b, 32, PL(32), 100, msg_crc(32, 100, 5));
	for (k = 33; k <= 40; k++) {
		bodystore_claim(&b, k, PL(k), 100, msg_crc(k, 100, 0));
	}
	bodystore_restored(&b, 35);
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 1);
	assert_int_equal(keys[0], 32);
	for (k = 33; k <= 40; k++) {
		check_msg(&b, k, 100, 0);
	}
	check_read_fails(&b, 2, 100, msg_crc(2, 100, 0));
	check_read_fails(&b, 32, 100, msg_crc(32, 100, 5));
	/* The log puts 32 again: no longer missing. */
	put_msg(&b, 32, 100, 5);
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 0);
	check_msg(&b, 32, 100, 5);
	/* 45 (held, unclaimed, above 35) stays: the log would put it again. */
	check_msg(&b, 45, 100, 0);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.messages, 10);
	assert_int_equal(st.st.live_records, 10);
	bodystore_close(&b);
	rm_tmp(dir);
}

static void test_corrupt_on_disk(void **state)
{
	char dir[64], path[256];
	struct bodystore b;
	char err[QSG_ERRMSG_SIZE];
	struct qsg_wbuf w;
	uint32_t crc;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 1 << 20, 0); /* no cache: reads go to disk */
	put_msg(&b, 1, 300, 0);
	put_msg(&b, 2, 300, 0);
	assert_int_equal(store_sync(&b.st, err), QSG_OK);
	/* Flip a payload byte of message 1 (segment 1, first record). */
	snprintf(path, sizeof path, "%s/seg-%010u.qss", dir, 1u);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t c;
	off_t at = STORE_SEG_HDR_SIZE + STORE_REC_HDR_SIZE + 100;
	assert_int_equal(pread(fd, &c, 1, at), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, at), 1);
	close(fd);
	check_read_fails(&b, 1, 300, msg_crc(1, 300, 0));
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_get(&b, 1, &w, &crc, err), QSG_RC_IO);
	assert_int_equal(w.len, 0);
	qsg_wbuf_close(&w);
	check_msg(&b, 2, 300, 0);
	bodystore_close(&b);
	rm_tmp(dir);
}

static void test_housekeep(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st0, st1;
	char err[QSG_ERRMSG_SIZE];
	bool more, live[201];
	uint64_t k;
	int slices = 0;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 8192, 0);
	for (k = 1; k <= 200; k++) {
		put_msg(&b, k, 200, 0);
		live[k] = true;
	}
	bodystore_get_stats(&b, &st0);
	assert_true(st0.st.segments >= 5);
	/* Release 3 in 4 at index 10. */
	bodystore_set_index(&b, 10);
	for (k = 1; k <= 200; k++) {
		if (k % 4 != 0) {
			bodystore_release(&b, k);
			live[k] = false;
		}
	}
	do {
		assert_int_equal(bodystore_housekeep(&b, 2000, &more, err), QSG_OK);
		assert_true(++slices < 1000);
	} while (more);
	bodystore_get_stats(&b, &st1);
	assert_true(st1.compact_moves > 0);
	assert_true(slices > 3);
	assert_int_equal(st1.reloc_mismatch, 0);
	/* Nothing deleted yet: no sync since the copies, and the releases are
	 * above the stable index. Segment 1 is still on disk. */
	assert_int_equal(st1.segs_reclaimed, 0);
	assert_true(file_size(dir, 1) > 0);
	for (k = 1; k <= 200; k++) {
		if (live[k]) {
			check_msg(&b, k, 200, 0);
		} else {
			check_read_fails(&b, k, 200, msg_crc(k, 200, 0));
		}
	}
	/* A snapshot sync completes, but stable is still below 10: kept. */
	struct store_sync_job job;
	assert_int_equal(bodystore_sync_prepare(&b, &job, err), QSG_OK);
	assert_int_equal(bodystore_sync_run(&job), QSG_OK);
	assert_int_equal(bodystore_sync_done(&b, &job, err), QSG_OK);
	bodystore_set_stable(&b, 9);
	assert_int_equal(bodystore_housekeep(&b, 2000, &more, err), QSG_OK);
	bodystore_get_stats(&b, &st1);
	assert_int_equal(st1.segs_reclaimed, 0);
	assert_true(file_size(dir, 1) > 0);
	/* Stable reaches 10: the compacted sources go. */
	bodystore_set_stable(&b, 10);
	slices = 0;
	do {
		/* One deletion per slice. */
		uint64_t before = b.segs_reclaimed;
		assert_int_equal(bodystore_housekeep(&b, 2000, &more, err), QSG_OK);
		assert_true(b.segs_reclaimed - before <= 1);
		slices++;
	} while (more);
	assert_true(slices >= 3);
	bodystore_get_stats(&b, &st1);
	assert_true(st1.segs_reclaimed >= 3);
	assert_int_equal(file_size(dir, 1), -1);
	assert_true(st1.st.disk_bytes < st0.st.disk_bytes);
	assert_int_equal(st1.messages, 50);
	assert_int_equal(st1.st.live_records, 50);
	for (k = 4; k <= 200; k += 4) {
		check_msg(&b, k, 200, 0);
	}
	/* After a restart the relocated records are found. */
	assert_int_equal(store_sync(&b.st, err), QSG_OK);
	bodystore_close(&b);
	open_bs(&b, dir, 8192, 0);
	/* Released records outside the compacted segments are still on disk:
	 * the snapshot's claims and restored() drop them. */
	for (k = 4; k <= 200; k += 4) {
		bodystore_claim(&b, k, PL(k), 200, msg_crc(k, 200, 0));
	}
	bodystore_restored(&b, 200);
	bodystore_get_stats(&b, &st1);
	assert_int_equal(st1.messages, 50);
	assert_int_equal(st1.missing, 0);
	for (k = 4; k <= 200; k += 4) {
		check_msg(&b, k, 200, 0);
	}
	bodystore_close(&b);
	rm_tmp(dir);
}

static void test_reclaim_after_stable(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st;
	char err[QSG_ERRMSG_SIZE];
	bool more;
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 4096, 0);
	for (k = 1; k <= 60; k++) {
		put_msg(&b, k, 200, 0);
	}
	/* Everything of segment 1 (the first ~15 messages) released at 5. */
	bodystore_set_index(&b, 5);
	for (k = 1; k <= 20; k++) {
		bodystore_release(&b, k);
	}
	assert_int_equal(bodystore_housekeep(&b, 1 << 20, &more, err), QSG_OK);
	bodystore_get_stats(&b, &st);
	assert_true(file_size(dir, 1) > 0);
	bodystore_set_stable(&b, 5);
	/* With the unlinks deferred to a pool job: housekeeping leaves the
	 * file, the job deletes it. */
	b.defer_reclaim = true;
	assert_int_equal(bodystore_housekeep(&b, 1 << 20, &more, err), QSG_OK);
	assert_true(file_size(dir, 1) > 0);
	assert_true(bodystore_reclaim_pending(&b));
	struct store_reclaim_job job;
	assert_int_equal(bodystore_reclaim_prepare(&b, 1, &job, err), QSG_OK);
	assert_int_equal(job.n, 1);
	assert_int_equal(job.ids[0], 1);
	assert_true(file_size(dir, 1) > 0); /* prepare is memory only */
	assert_int_equal(bodystore_reclaim_run(&job), QSG_OK);
	assert_int_equal(bodystore_reclaim_done(&b, &job, err), QSG_OK);
	bodystore_get_stats(&b, &st);
	assert_true(st.segs_reclaimed >= 1);
	assert_int_equal(file_size(dir, 1), -1);
	/* The directory entry becomes durable with the next sync job. */
	assert_int_equal(store_sync(&b.st, err), QSG_OK);
	for (k = 21; k <= 60; k++) {
		check_msg(&b, k, 200, 0);
	}
	bodystore_close(&b);
	rm_tmp(dir);
}

/* The map alone (claims insert missing entries, no disk): 1M entries,
 * several rehashes, half of them removed by backward shift. */
static void test_map_1m(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st;
	const uint64_t n = 1000000;
	uint64_t k, *keys;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 1 << 20, 0);
	for (k = 1; k <= n; k++) {
		bodystore_claim(&b, k * 3, 0, (uint32_t)(k % 1000), (uint32_t)k);
	}
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.missing, n);
	assert_int_equal(st.messages, 0);
	/* 24-byte slots at a load between 0.53 and 0.8, plus the missing
	 * vector (8 bytes per seqno, doubled on growth). */
	assert_true(st.map_slots >= n * 1000 / 800);
	assert_true(st.map_slots * 24 / n <= 46);
	keys = malloc(n * sizeof *keys);
	assert_non_null(keys);
	/* Restored: every claim kept, marks cleared. */
	bodystore_restored(&b, 3 * n);
	assert_int_equal(bodystore_missing(&b, 0, keys, n), n);
	for (k = 0; k < n; k++) {
		assert_int_equal(keys[k], (k + 1) * 3);
	}
	/* Remove the even ones. */
	for (k = 2; k <= n; k += 2) {
		bodystore_release(&b, k * 3);
	}
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.missing, n / 2);
	assert_int_equal(bodystore_missing(&b, 0, keys, n), n / 2);
	for (k = 0; k < n / 2; k++) {
		assert_int_equal(keys[k], (2 * k + 1) * 3);
	}
	/* A restore that claims none of them forgets all (missing, not in
	 * the state). */
	bodystore_restored(&b, 0);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.missing, 0);
	assert_int_equal(bodystore_missing(&b, 0, keys, n), 0);
	free(keys);
	bodystore_close(&b);
	rm_tmp(dir);
}

/* The map grows incrementally (old and new tables side by side while the
 * entries move): puts, releases and reads interleaved across several
 * growths give exactly the reference set; a read of an entry still in the
 * old table, a release of one, and a re-put after a release all work. */
static void test_map_grow_incremental(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st;
	const uint64_t n = 60000;
	uint8_t *live = calloc(n + 1, 1);
	uint64_t k, x = 88172645463325252ull;

	(void)state;
	assert_non_null(live);
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 1 << 20, 0);
	bodystore_get_stats(&b, &st);
	size_t slots0 = st.map_slots;
	for (k = 1; k <= n; k++) {
		put_msg(&b, k, 8, 1);
		live[k] = 1;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t r = 1 + x % k;
		if (x % 3 == 0 && live[r]) { /* release a random earlier one */
			bodystore_release(&b, r);
			live[r] = 0;
		} else if (live[r]) {
			check_msg(&b, r, 8, 1);
		} else {
			check_read_fails(&b, r, 8, msg_crc(r, 8, 1));
			if (x % 5 == 0) { /* and put again */
				put_msg(&b, r, 8, 1);
				live[r] = 1;
			}
		}
	}
	bodystore_get_stats(&b, &st);
	assert_true(st.map_slots >= slots0 * 9); /* grew several times */
	uint64_t held = 0;
	for (k = 1; k <= n; k++) {
		if (live[k]) {
			check_msg(&b, k, 8, 1);
			held++;
		} else {
			check_read_fails(&b, k, 8, msg_crc(k, 8, 1));
		}
	}
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.messages, held);
	/* Drained down to every 50th: the table shrinks (incrementally, by
	 * releases alone) and what is left is still found. */
	size_t slots_full = st.map_slots;
	held = 0;
	for (k = 1; k <= n; k++) {
		if (live[k] && k % 50 != 0) {
			bodystore_release(&b, k);
			live[k] = 0;
		}
		if (k % 997 == 0) {
			for (uint64_t j = 50; j <= n; j += 50 * 7) {
				if (live[j]) {
					check_msg(&b, j, 8, 1);
				}
			}
		}
	}
	for (k = 1; k <= n; k++) {
		if (live[k]) {
			check_msg(&b, k, 8, 1);
			held++;
		} else if (k % 11 == 0) {
			check_read_fails(&b, k, 8, msg_crc(k, 8, 1));
		}
	}
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.messages, held);
	assert_true(st.map_slots * 4 <= slots_full);
	/* A restore walks the whole table (settled first): everything held
	 * and above seqno 0 stays. */
	bodystore_restored(&b, 0);
	for (k = 1; k <= n; k += 97) {
		if (live[k]) {
			check_msg(&b, k, 8, 1);
		}
	}
	bodystore_close(&b);
	rm_tmp(dir);
	free(live);
}

/* A catch-up pass over claims made out of order: bodystore_missing lists
 * exactly the keys still missing after the cursor while bodies are filled
 * and released between calls (stale keys in its vector are skipped). */
static void test_missing_pass(void **state)
{
	char dir[64], err[QSG_ERRMSG_SIZE];
	struct bodystore b;
	const uint64_t n = 20000;
	uint8_t *state_of = calloc(n + 1, 1); /* 0 missing, 1 filled, 2 released */
	uint64_t keys[64], k, cursor = 0, x = 0x9e3779b97f4a7c15ull;
	uint8_t body[16];

	(void)state;
	assert_non_null(state_of);
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 1 << 20, 0);
	for (k = 0; k < n; k++) { /* claims in a scrambled order */
		uint64_t key = 1 + (k * 7919) % n;
		content(key, body, sizeof body, 3);
		bodystore_claim(&b, key, 0, sizeof body, qsg_crc32c(0, body, sizeof body));
	}
	bodystore_restored(&b, n);
	for (;;) {
		size_t got = bodystore_missing(&b, cursor, keys, 64);
		/* exactly the next missing keys after the cursor */
		size_t want = 0;
		for (k = cursor + 1; k <= n && want < 64; k++) {
			if (state_of[k] == 0) {
				assert_true(want < got);
				assert_int_equal(keys[want], k);
				want++;
			}
		}
		assert_int_equal(got, want);
		if (got == 0) {
			break;
		}
		for (size_t i = 0; i < got; i++) {
			content(keys[i], body, sizeof body, 3);
			assert_int_equal(bodystore_fill(&b, keys[i], body, sizeof body,
							qsg_crc32c(0, body, sizeof body), err),
					 QSG_OK);
			state_of[keys[i]] = 1;
		}
		cursor = keys[got - 1];
		for (int j = 0; j < 40; j++) { /* the log consumes some ahead */
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			uint64_t r = 1 + x % n;
			if (state_of[r] != 2) {
				bodystore_release(&b, r);
				state_of[r] = 2;
			}
		}
	}
	for (k = 1; k <= n; k++) {
		if (state_of[k] == 1) {
			content(k, body, sizeof body, 3);
			struct qsg_wbuf w;
			qsg_wbuf_init(&w);
			assert_int_equal(bodystore_read(&b, k, 0, sizeof body,
							qsg_crc32c(0, body, sizeof body), &w),
					 QSG_OK);
			assert_memory_equal(w.data, body, sizeof body);
			qsg_wbuf_close(&w);
		}
	}
	bodystore_close(&b);
	rm_tmp(dir);
	free(state_of);
}

/* Parts of chunked messages: records per (seqno, part), read by part,
 * released together, found again at reopen, claimed, fetched by the
 * catch-up key seqno | part << 48, and moved by compaction. */
#define PART_LEN 300
static uint32_t part_crc(uint64_t k, uint32_t part)
{
	uint8_t buf[PART_LEN];
	content(k * 1000 + part, buf, PART_LEN, 9);
	return qsg_crc32c(0, buf, PART_LEN);
}

static void put_part(struct bodystore *b, uint64_t k, uint32_t part)
{
	uint8_t buf[PART_LEN];
	content(k * 1000 + part, buf, PART_LEN, 9);
	assert_int_equal(bodystore_put_part(b, k, part, buf, 10, buf + 10, PART_LEN - 10,
					    qsg_crc32c(0, buf, PART_LEN)),
			 QSG_OK);
}

static void check_part(struct bodystore *b, uint64_t k, uint32_t part, int want_rc)
{
	uint8_t want[PART_LEN];
	struct qsg_wbuf w;
	content(k * 1000 + part, want, PART_LEN, 9);
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_read_part(b, k, part, PART_LEN, part_crc(k, part), &w), want_rc);
	if (want_rc == QSG_OK) {
		assert_int_equal(w.len, PART_LEN);
		assert_memory_equal(w.data, want, PART_LEN);
	} else {
		assert_int_equal(w.len, 0);
	}
	qsg_wbuf_close(&w);
}

static void test_parts(void **state)
{
	char dir[64], dir2[64];
	struct bodystore b, b2;
	struct bodystore_stats st;
	char err[QSG_ERRMSG_SIZE];
	uint64_t k, keys[8];
	bool more;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 8192, 1 << 20);
	for (uint32_t p = 0; p < 3; p++) {
		put_part(&b, 5, p);
	}
	put_msg(&b, 6, 100, 0);
	for (uint32_t p = 0; p < 3; p++) {
		check_part(&b, 5, p, QSG_OK);
	}
	check_part(&b, 5, 3, QSG_RC_IO);
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_read_part(&b, 5, 1, PART_LEN, part_crc(5, 1) ^ 1, &w),
			 QSG_RC_IO);
	qsg_wbuf_close(&w);
	/* Log replay: the same part again is a duplicate. */
	put_part(&b, 5, 1);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.put_dups, 1);
	assert_int_equal(st.messages, 4);

	/* Reopen: the parts are found by the scan; the state claims them. */
	bodystore_close(&b);
	open_bs(&b, dir, 8192, 1 << 20);
	for (uint32_t p = 0; p < 3; p++) {
		bodystore_claim_part(&b, 5, p, PART_LEN, part_crc(5, p));
	}
	bodystore_claim(&b, 6, PL(6), 100, msg_crc(6, 100, 0));
	bodystore_claim_part(&b, 7, 0, PART_LEN, part_crc(7, 0)); /* not held */
	bodystore_claim_part(&b, 7, 1, PART_LEN, part_crc(7, 1));
	bodystore_restored(&b, 10);
	check_part(&b, 5, 2, QSG_OK);
	check_msg(&b, 6, 100, 0);
	assert_int_equal(bodystore_missing(&b, 0, keys, 8), 2);
	assert_int_equal(keys[0], 7);
	assert_int_equal(keys[1], 7 | (1ull << 48));

	/* Catch-up: a peer serves the parts by key. */
	mkdir_tmp(dir2, sizeof dir2);
	open_bs(&b2, dir2, 8192, 0);
	put_part(&b2, 7, 0);
	put_part(&b2, 7, 1);
	for (int i = 0; i < 2; i++) {
		uint32_t crc;
		qsg_wbuf_init(&w);
		assert_int_equal(bodystore_get(&b2, keys[i], &w, &crc, err), QSG_OK);
		assert_int_equal(crc, part_crc(7, (uint32_t)i));
		assert_int_equal(bodystore_fill(&b, keys[i], w.data, (uint32_t)w.len, crc, err),
				 QSG_OK);
		qsg_wbuf_close(&w);
	}
	bodystore_close(&b2);
	rm_tmp(dir2);
	assert_int_equal(bodystore_missing(&b, 0, keys, 8), 0);
	check_part(&b, 7, 0, QSG_OK);
	check_part(&b, 7, 1, QSG_OK);

	/* Release: every part of the seqno goes, nothing else. */
	bodystore_set_index(&b, 3);
	bodystore_release(&b, 5);
	for (uint32_t p = 0; p < 3; p++) {
		check_part(&b, 5, p, QSG_RC_IO);
	}
	check_part(&b, 7, 1, QSG_OK);
	check_msg(&b, 6, 100, 0);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.messages, 3);

	/* Compaction moves parts (relocations keyed by (seqno, part)). */
	for (k = 100; k < 160; k++) {
		for (uint32_t p = 0; p < 4; p++) {
			put_part(&b, k, p);
		}
	}
	bodystore_set_index(&b, 5);
	for (k = 100; k < 160; k += 2) {
		bodystore_release(&b, k);
	}
	int slices = 0;
	do {
		assert_int_equal(bodystore_housekeep(&b, 4000, &more, err), QSG_OK);
		assert_true(++slices < 1000);
	} while (more);
	bodystore_get_stats(&b, &st);
	assert_true(st.compact_moves > 0);
	assert_int_equal(st.reloc_mismatch, 0);
	for (k = 100; k < 160; k++) {
		for (uint32_t p = 0; p < 4; p++) {
			check_part(&b, k, p, k % 2 == 0 ? QSG_RC_IO : QSG_OK);
		}
	}
	bodystore_close(&b);
	rm_tmp(dir);
}

/* ---- renames (a move to a backout queue) ---- */

/* The content of message k (blen bytes of body) read under `name`. */
static void check_as(struct bodystore *b, uint64_t name, uint64_t k, uint32_t blen)
{
	uint8_t want[4096];
	struct qsg_wbuf w;
	uint32_t pl = PL(k);

	content(k, want, pl + blen, 0);
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_read(b, name, pl, blen, qsg_crc32c(0, want, pl + blen), &w),
			 QSG_OK);
	assert_int_equal(w.len, pl + blen);
	assert_memory_equal(w.data, want, pl + blen);
	qsg_wbuf_close(&w);
}

static void check_as_fails(struct bodystore *b, uint64_t name, uint64_t k, uint32_t blen)
{
	check_read_fails(b, name, blen, msg_crc(k, blen, 0));
}

static void test_rename(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st0, st;
	char err[QSG_ERRMSG_SIZE];
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 8192, 0); /* no cache: every read from disk */
	for (k = 1; k <= 20; k++) {
		put_msg(&b, k, 100, 0);
	}
	bodystore_get_stats(&b, &st0);
	/* 3 -> 101 and 7 -> 102: no body written, one small record each. */
	bodystore_set_index(&b, 5);
	assert_int_equal(bodystore_rename(&b, 3, 101), QSG_OK);
	assert_int_equal(bodystore_rename(&b, 7, 102), QSG_OK);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.puts, st0.puts);
	assert_int_equal(st.renames, 2);
	assert_int_equal(st.aliases, 2);
	assert_int_equal(st.st.disk_bytes - st0.st.disk_bytes,
			 2 * (STORE_REC_HDR_SIZE + STORE_RENAME_LEN));
	check_as(&b, 101, 3, 100);
	check_as(&b, 102, 7, 100);
	/* A peer asking for the new seqno is served. */
	struct qsg_wbuf w;
	uint32_t crc;
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_get(&b, 101, &w, &crc, err), QSG_OK);
	assert_int_equal(crc, msg_crc(3, 100, 0));
	qsg_wbuf_close(&w);
	/* Moved again (a backout queue with a backout queue): 101 -> 103. */
	assert_int_equal(bodystore_rename(&b, 101, 103), QSG_OK);
	check_as(&b, 103, 3, 100);
	check_as_fails(&b, 101, 3, 100);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 2);
	/* The log applied again: no-ops. */
	assert_int_equal(bodystore_rename(&b, 3, 103), QSG_OK);
	assert_int_equal(bodystore_rename(&b, 7, 102), QSG_OK);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.renames, 3);
	/* Not held: refused. */
	assert_int_equal(bodystore_rename(&b, 99, 104), QSG_RC_IO);
	assert_int_equal(bodystore_rename(&b, 101, 104), QSG_RC_IO);
	/* Missing (claimed, to fetch): the missing entry takes the new name
	 * and is fetched under it. */
	bodystore_claim(&b, 45, PL(45), 100, msg_crc(45, 100, 0));
	assert_int_equal(bodystore_rename(&b, 45, 105), QSG_OK);
	uint64_t keys[4];
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 1);
	assert_int_equal(keys[0], 105);
	uint8_t buf[200];
	content(45, buf, PL(45) + 100, 0);
	assert_int_equal(bodystore_fill(&b, 105, buf, PL(45) + 100, msg_crc(45, 100, 0), err),
			 QSG_OK);
	check_as(&b, 105, 45, 100);
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 0);
	bodystore_release(&b, 105);

	/* Restart: the renames are read back. */
	assert_int_equal(store_sync(&b.st, err), QSG_OK);
	bodystore_close(&b);
	open_bs(&b, dir, 8192, 0);
	check_as(&b, 103, 3, 100);
	check_as(&b, 102, 7, 100);
	assert_int_equal(bodystore_rename(&b, 101, 103), QSG_OK); /* replay */
	/* A snapshot at 105 naming 102, 103 and the others but 3, 7: claims
	 * through the names; the stale alias 101 (its record released before
	 * the restart, still on disk) goes. */
	bodystore_set_index(&b, 20);
	for (k = 1; k <= 20; k++) {
		if (k != 3 && k != 7) {
			bodystore_claim(&b, k, PL(k), 100, msg_crc(k, 100, 0));
		}
	}
	bodystore_claim(&b, 102, PL(7), 100, msg_crc(7, 100, 0));
	bodystore_claim(&b, 103, PL(3), 100, msg_crc(3, 100, 0));
	bodystore_restored(&b, 105);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.missing, 0);
	assert_int_equal(st.aliases, 2);
	assert_int_equal(st.messages, 20); /* 3 and 7 held under their records' key */
	check_as(&b, 103, 3, 100);
	check_as(&b, 102, 7, 100);
	check_as_fails(&b, 101, 3, 100);

	/* Release through the name: the records and the alias go. */
	bodystore_set_index(&b, 30);
	bodystore_release(&b, 103);
	check_as_fails(&b, 103, 3, 100);
	check_as_fails(&b, 3, 3, 100);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 1);
	assert_int_equal(st.messages, 19);

	/* Compaction relocates the rename record and the body it names. */
	for (k = 200; k < 400; k++) {
		put_msg(&b, k, 200, 0);
	}
	bodystore_set_index(&b, 40);
	for (k = 1; k <= 20; k++) {
		if (k != 7 && k != 3) {
			bodystore_release(&b, k);
		}
	}
	for (k = 200; k < 400; k += 2) {
		bodystore_release(&b, k);
	}
	bool more;
	int slices = 0;
	do {
		assert_int_equal(bodystore_housekeep(&b, 4000, &more, err), QSG_OK);
		assert_true(++slices < 1000);
	} while (more);
	bodystore_get_stats(&b, &st);
	assert_true(st.compact_moves > 0);
	assert_int_equal(st.reloc_mismatch, 0);
	check_as(&b, 102, 7, 100);
	/* And a restart after it finds them where they went. */
	assert_int_equal(store_sync(&b.st, err), QSG_OK);
	bodystore_close(&b);
	open_bs(&b, dir, 8192, 0);
	check_as(&b, 102, 7, 100);
	/* Released records not yet reclaimed are found again, renames too,
	 * until a restore's claims say what is live (as for bodies). */
	bodystore_get_stats(&b, &st);
	assert_true(st.aliases >= 1);
	for (k = 201; k < 400; k += 2) {
		bodystore_claim(&b, k, PL(k), 200, msg_crc(k, 200, 0));
	}
	bodystore_claim(&b, 102, PL(7), 100, msg_crc(7, 100, 0));
	bodystore_restored(&b, 400);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 1);
	assert_int_equal(st.messages, 101);
	assert_int_equal(st.missing, 0);
	check_as(&b, 102, 7, 100);
	check_as_fails(&b, 103, 3, 100);
	bodystore_close(&b);
	rm_tmp(dir);
}

/* A crash between the rename and its record reaching the disk: the
 * restart does not know the new name; the log applies the rename again. */
static void test_rename_crash(void **state)
{
	char dir[64], path[256];
	struct bodystore b;
	struct bodystore_stats st;
	char err[QSG_ERRMSG_SIZE];
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 1 << 20, 0);
	for (k = 1; k <= 5; k++) {
		put_msg(&b, k, 100, 0);
	}
	assert_int_equal(store_sync(&b.st, err), QSG_OK);
	off_t before = file_size(dir, 1);
	assert_int_equal(bodystore_rename(&b, 2, 10), QSG_OK);
	bodystore_close(&b);
	assert_int_equal(file_size(dir, 1), before + STORE_REC_HDR_SIZE + STORE_RENAME_LEN);
	/* The record lost (torn away) ... */
	snprintf(path, sizeof path, "%s/seg-%010u.qss", dir, 1);
	assert_int_equal(truncate(path, before), 0);
	open_bs(&b, dir, 1 << 20, 0);
	check_as_fails(&b, 10, 2, 100);
	check_as(&b, 2, 2, 100);
	/* ... the log renames again. */
	assert_int_equal(bodystore_rename(&b, 2, 10), QSG_OK);
	check_as(&b, 10, 2, 100);
	/* Half a record (a torn write): cut at open, the same. */
	bodystore_close(&b);
	assert_int_equal(truncate(path, before + STORE_REC_HDR_SIZE + 3), 0);
	open_bs(&b, dir, 1 << 20, 0);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 0);
	assert_int_equal(bodystore_rename(&b, 2, 10), QSG_OK);
	check_as(&b, 10, 2, 100);
	/* A snapshot taken after the rename names 10: once the record is
	 * durable (a snapshot syncs the store first), the restart claims it. */
	assert_int_equal(store_sync(&b.st, err), QSG_OK);
	bodystore_close(&b);
	open_bs(&b, dir, 1 << 20, 0);
	for (k = 1; k <= 5; k++) {
		if (k != 2) {
			bodystore_claim(&b, k, PL(k), 100, msg_crc(k, 100, 0));
		}
	}
	bodystore_claim(&b, 10, PL(2), 100, msg_crc(2, 100, 0));
	bodystore_restored(&b, 10);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.missing, 0);
	assert_int_equal(st.messages, 5);
	check_as(&b, 10, 2, 100);
	/* A snapshot from before the rename names 2; the restart keeps the
	 * alias (above the snapshot: the log renames again, a no-op). */
	bodystore_close(&b);
	open_bs(&b, dir, 1 << 20, 0);
	for (k = 1; k <= 5; k++) {
		bodystore_claim(&b, k, PL(k), 100, msg_crc(k, 100, 0));
	}
	bodystore_restored(&b, 5);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 1);
	assert_int_equal(bodystore_rename(&b, 2, 10), QSG_OK);
	check_as(&b, 10, 2, 100);
	bodystore_close(&b);
	rm_tmp(dir);
}

/* A chunked message: every part follows its seqno. */
static void test_rename_parts(void **state)
{
	char dir[64];
	struct bodystore b;
	char err[QSG_ERRMSG_SIZE];

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 8192, 0);
	for (uint32_t p = 0; p < 3; p++) {
		put_part(&b, 5, p);
	}
	assert_int_equal(bodystore_rename(&b, 5, 50), QSG_OK);
	/* check_part reads seqno k; the content is that of 5's parts. */
	for (uint32_t p = 0; p < 3; p++) {
		uint8_t want[PART_LEN];
		struct qsg_wbuf w;
		content(5 * 1000 + p, want, PART_LEN, 9);
		qsg_wbuf_init(&w);
		assert_int_equal(bodystore_read_part(&b, 50, p, PART_LEN, part_crc(5, p), &w),
				 QSG_OK);
		assert_memory_equal(w.data, want, PART_LEN);
		qsg_wbuf_close(&w);
		bodystore_claim_part(&b, 50, p, PART_LEN, part_crc(5, p));
	}
	assert_int_equal(store_sync(&b.st, err), QSG_OK);
	bodystore_restored(&b, 50);
	bodystore_release(&b, 50);
	for (uint32_t p = 0; p < 3; p++) {
		check_part(&b, 5, p, QSG_RC_IO);
	}
	struct bodystore_stats st;
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.aliases, 0);
	bodystore_close(&b);
	rm_tmp(dir);
}

/* Part p of chunked message k read under the name `name`. */
static void check_part_as(struct bodystore *b, uint64_t name, uint64_t k, uint32_t part)
{
	uint8_t want[PART_LEN];
	struct qsg_wbuf w;
	content(k * 1000 + part, want, PART_LEN, 9);
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_read_part(b, name, part, PART_LEN, part_crc(k, part), &w),
			 QSG_OK);
	assert_int_equal(w.len, PART_LEN);
	assert_memory_equal(w.data, want, PART_LEN);
	qsg_wbuf_close(&w);
}

/* A chunked message renamed while one of its parts is still missing here
 * (a member catching up: parts 0 and 1 fetched, part 2 not yet), then a
 * restore naming it by its new seqno: every part is claimed through the
 * alias (the missing one stays missing under the records' key and is
 * fetched under it). Before, the missing part dropped the alias in the
 * middle of the claims: parts 0 and 1 stayed claimed under the old key,
 * which nothing named any more, and a read of the new seqno failed (the
 * member would stop). */
static void test_rename_parts_missing(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st;
	char err[QSG_ERRMSG_SIZE];

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 8192, 0);
	put_part(&b, 5, 0);
	put_part(&b, 5, 1);
	bodystore_claim_part(&b, 5, 2, PART_LEN, part_crc(5, 2)); /* to fetch */
	assert_int_equal(bodystore_rename(&b, 5, 50), QSG_OK);
	/* A snapshot (at 50) names the message by its new seqno. */
	for (uint32_t p = 0; p < 3; p++) {
		bodystore_claim_part(&b, 50, p, PART_LEN, part_crc(5, p));
	}
	bodystore_restored(&b, 50);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 1);
	assert_int_equal(st.missing, 1);
	check_part_as(&b, 50, 5, 0);
	check_part_as(&b, 50, 5, 1);
	/* The missing part is fetched (by the key the catch-up lists), then
	 * read under the new name. */
	uint64_t keys[4];
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 1);
	uint8_t buf[PART_LEN];
	content(5 * 1000 + 2, buf, PART_LEN, 9);
	assert_int_equal(bodystore_fill(&b, keys[0], buf, PART_LEN, part_crc(5, 2), err), QSG_OK);
	check_part_as(&b, 50, 5, 2);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.missing, 0);
	/* Released by its name: every part and the alias go. */
	bodystore_release(&b, 50);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.aliases, 0);
	bodystore_close(&b);
	rm_tmp(dir);
}

/* The same with part 0 the missing one (parts 1 and 2 held): the rename
 * is an alias too (before: "not held on this member", a fail-stop of the
 * member, and the replay failed the same way); part 0 is listed under the
 * records' key, asked for under the new name (bodystore_fetch_names), and
 * read whole under it once filled. A message with no part held still moves
 * its missing entries to the new name. */
static void test_rename_first_part_missing(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st;
	char err[QSG_ERRMSG_SIZE];

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 8192, 0);
	bodystore_claim_part(&b, 6, 0, PART_LEN, part_crc(6, 0)); /* to fetch */
	put_part(&b, 6, 1);
	put_part(&b, 6, 2);
	bodystore_claim_part(&b, 7, 0, PART_LEN, part_crc(7, 0)); /* all missing */
	bodystore_claim_part(&b, 7, 1, PART_LEN, part_crc(7, 1));
	assert_int_equal(bodystore_rename(&b, 6, 60), QSG_OK);
	assert_int_equal(bodystore_rename(&b, 7, 70), QSG_OK);
	assert_int_equal(bodystore_rename(&b, 6, 60), QSG_OK); /* replayed */
	for (uint32_t p = 0; p < 3; p++) {
		bodystore_claim_part(&b, 60, p, PART_LEN, part_crc(6, p));
	}
	bodystore_claim_part(&b, 70, 0, PART_LEN, part_crc(7, 0));
	bodystore_claim_part(&b, 70, 1, PART_LEN, part_crc(7, 1));
	bodystore_restored(&b, 70);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 1);
	assert_int_equal(st.missing, 3);
	uint64_t keys[4], names[4];
	assert_int_equal(bodystore_missing(&b, 0, keys, 4), 3);
	bodystore_fetch_names(&b, keys, names, 3);
	/* 6 (part 0 of the records' key) is asked as 60; 70's parts were
	 * moved to the new name already. */
	assert_int_equal(keys[0], 6);
	assert_int_equal(names[0], 60);
	assert_int_equal(keys[1], 70);
	assert_int_equal(names[1], 70);
	assert_int_equal(names[2], 70 | (uint64_t)1 << 48);
	uint8_t buf[PART_LEN];
	content(6 * 1000 + 0, buf, PART_LEN, 9);
	assert_int_equal(bodystore_fill(&b, keys[0], buf, PART_LEN, part_crc(6, 0), err), QSG_OK);
	for (uint32_t p = 0; p < 3; p++) {
		check_part_as(&b, 60, 6, p);
	}
	bodystore_release(&b, 60);
	bodystore_release(&b, 70);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.aliases, 0);
	assert_int_equal(st.missing, 0);
	bodystore_close(&b);
	rm_tmp(dir);
}

/* The aliases' memory follows the renamed messages that are live: halved
 * as they go, freed with the last one (a storm of moves to a backout queue,
 * then its drain, must not keep its high-water mark). */
static void test_rename_memory(void **state)
{
	char dir[64];
	struct bodystore b;
	struct bodystore_stats st;
	uint64_t k;

	(void)state;
	mkdir_tmp(dir, sizeof dir);
	open_bs(&b, dir, 1 << 20, 0);
	for (k = 1; k <= 1000; k++) {
		put_msg(&b, k, 10, 0);
	}
	size_t base = bodystore_map_bytes(&b);
	bodystore_set_index(&b, 5);
	for (k = 1; k <= 1000; k++) {
		assert_int_equal(bodystore_rename(&b, k, 10000 + k), QSG_OK);
	}
	size_t peak = bodystore_map_bytes(&b);
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 1000);
	assert_true(peak >= base + 1000 * 2 * sizeof(uint64_t));
	bodystore_set_index(&b, 6);
	for (k = 1; k <= 900; k++) {
		bodystore_release(&b, 10000 + k);
	}
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 100);
	size_t part = bodystore_map_bytes(&b);
	printf("# aliases: %zu bytes for 1000, %zu for 100 left\n", peak - base, part - base);
	assert_true(part - base <= (peak - base) / 2);
	for (k = 901; k <= 1000; k++) {
		check_as(&b, 10000 + k, k, 10);
	}
	for (k = 901; k <= 1000; k++) {
		bodystore_release(&b, 10000 + k);
	}
	bodystore_get_stats(&b, &st);
	assert_int_equal(st.aliases, 0);
	assert_int_equal(st.messages, 0);
	assert_int_equal(bodystore_map_bytes(&b), base);
	/* And a rename after it starts again from nothing. */
	put_msg(&b, 20001, 10, 0);
	assert_int_equal(bodystore_rename(&b, 20001, 20002), QSG_OK);
	check_as(&b, 20002, 20001, 10);
	bodystore_close(&b);
	rm_tmp(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_dup_put),
	    cmocka_unit_test(test_reopen_claims),
	    cmocka_unit_test(test_corrupt_on_disk),
	    cmocka_unit_test(test_housekeep),
	    cmocka_unit_test(test_reclaim_after_stable),
	    cmocka_unit_test(test_map_1m),
	    cmocka_unit_test(test_map_grow_incremental),
	    cmocka_unit_test(test_missing_pass),
	    cmocka_unit_test(test_parts),
	    cmocka_unit_test(test_rename),
	    cmocka_unit_test(test_rename_crash),
	    cmocka_unit_test(test_rename_parts),
	    cmocka_unit_test(test_rename_memory),
	    cmocka_unit_test(test_rename_parts_missing),
	    cmocka_unit_test(test_rename_first_part_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
