/* store_bench: throughput of the message store (src/store) on this machine.
 *
 *   store_bench -d DIR [-n COUNT] [-s SIZE] [-N SYNC_EVERY] [-S SEGMENT_MB]
 *               [-b BUDGET_KB] [-R]
 *
 * Phases, each timed: append COUNT records of SIZE bytes with store_sync
 * every SYNC_EVERY records; reopen (the scan a restart does); read every
 * record back, verified, after dropping the segments from the page cache
 * (posix_fadvise DONTNEED; no cache in the store); release 3 records in 4;
 * compact with a budget per step until idle and reclaim. Prints MB/s (10^6
 * bytes of payload per second) and the longest compaction step. DIR must not
 * exist or be empty; it is left in place (delete it afterwards).
 *
 * -R (restart): after the append, time store_init with the segment index
 * files (written by the sync jobs during the append), then without them
 * (deleted: the full scan), then the index jobs that write them again, and
 * stop there. Nothing is dropped from the page cache in this mode. */
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, err);
	exit(1);
}

static void drop_page_cache(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[4200];

	if (d == NULL) {
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "seg-", 4) != 0) {
			continue;
		}
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		int fd = open(p, O_RDONLY);
		if (fd >= 0) {
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			close(fd);
		}
	}
	closedir(d);
}

/* Delete the index files; returns their total size. */
static uint64_t rm_index_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[4200];
	uint64_t bytes = 0;

	if (d == NULL) {
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (strncmp(de->d_name, "seg-", 4) != 0 || l < 4 ||
		    strcmp(de->d_name + l - 4, ".qsx") != 0) {
			continue;
		}
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0) {
			bytes += (uint64_t)st.st_size;
		}
		unlink(p);
	}
	closedir(d);
	return bytes;
}

/* Time one store_init (+ the claims a restart makes); closes the store. */
static void time_open(const struct store_config *cfg, const struct store_loc *loc, uint64_t n,
		      const char *what)
{
	struct store s;
	struct store_stats st;
	char err[QSG_ERRMSG_SIZE];
	double t0 = now_s();

	if (store_init(&s, cfg, err) != QSG_OK) {
		die("reopen", err);
	}
	double t1 = now_s();
	store_get_stats(&s, &st);
	for (uint64_t i = 1; i <= n; i++) {
		struct store_loc l;
		if (store_claim(&s, i, 0, &l) != QSG_OK || memcmp(&l, &loc[i], sizeof l) != 0) {
			die("claim", "record missing after reopen");
		}
	}
	printf("restart %s: store_init %.3f s (%u segments: %u from their index, %u scanned, "
	       "%zu records, %zu faults)\n",
	       what, t1 - t0, st.segments, st.index_loaded, st.index_scanned,
	       store_recovery_count(&s), st.faults);
	store_close(&s);
}

static void restart_mode(const struct store_config *cfg, const struct store_loc *loc, uint64_t n)
{
	struct store s;
	struct store_stats st;
	char err[QSG_ERRMSG_SIZE];

	/* Sync jobs index at most STORE_INDEX_PER_SYNC segments each: finish
	 * what the append left (the last sealed segments). */
	if (store_init(&s, cfg, err) != QSG_OK) {
		die("reopen", err);
	}
	store_recovery_end(&s);
	while (store_index_pending(&s) > 0) {
		if (store_sync(&s, err) != QSG_OK) {
			die("sync", err);
		}
	}
	store_close(&s);
	time_open(cfg, loc, n, "with index files");
	uint64_t idx_bytes = rm_index_files(cfg->dir);
	printf("index files: %.1f MB\n", (double)idx_bytes / 1e6);
	time_open(cfg, loc, n, "without index files (full scan)");
	/* What writing them costs (the pool's work, not the loop's). */
	if (store_init(&s, cfg, err) != QSG_OK) {
		die("reopen", err);
	}
	store_recovery_end(&s);
	uint32_t segs = store_index_pending(&s);
	double t0 = now_s(), worst = 0;
	while (store_index_pending(&s) > 0) {
		struct store_index_job job;
		double a = now_s();
		if (store_index_prepare(&s, 1, &job, err) != QSG_OK) {
			die("index", err);
		}
		double b = now_s();
		store_index_run(&job);
		double c = now_s();
		if (store_index_done(&s, &job, err) != QSG_OK) {
			die("index", err);
		}
		if ((now_s() - c) + (b - a) > worst) {
			worst = (now_s() - c) + (b - a);
		}
	}
	double t1 = now_s();
	store_get_stats(&s, &st);
	printf("index jobs: %u segments in %.2f s (%.1f ms per segment, in the pool; "
	       "prepare+done on the loop at most %.3f ms), %llu written, %llu failed\n",
	       segs, t1 - t0, segs ? (t1 - t0) * 1e3 / segs : 0.0, worst * 1e3,
	       (unsigned long long)st.index_written, (unsigned long long)st.index_failed);
	store_close(&s);
	time_open(cfg, loc, n, "with index files");
}

struct relocs {
	struct store_loc *loc;
};

static void on_reloc(void *arg, uint64_t key, uint32_t part, const struct store_loc *from,
		     const struct store_loc *to)
{
	struct relocs *r = arg;
	(void)part;
	(void)from;
	r->loc[key] = *to;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	uint64_t n = 1000000, i;
	size_t size = 1024, budget = 4096 * 1024;
	uint64_t sync_every = 1000, segmb = 64;
	struct store_config cfg;
	struct store s;
	char err[QSG_ERRMSG_SIZE];
	int opt;
	bool restart = false;

	while ((opt = getopt(argc, argv, "d:n:s:N:S:b:R")) != -1) {
		switch (opt) {
		case 'R':
			restart = true;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 's':
			size = strtoull(optarg, NULL, 10);
			break;
		case 'N':
			sync_every = strtoull(optarg, NULL, 10);
			break;
		case 'S':
			segmb = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			budget = strtoull(optarg, NULL, 10) * 1024;
			break;
		default:
			fprintf(stderr, "usage: store_bench -d DIR [-n COUNT] [-s SIZE] "
					"[-N SYNC_EVERY] [-S SEGMENT_MB] [-b BUDGET_KB] [-R]\n");
			return 2;
		}
	}
	if (dir == NULL || n == 0 || size > STORE_MAX_PAYLOAD || sync_every == 0) {
		fprintf(stderr, "store_bench: -d DIR required; COUNT, SYNC_EVERY > 0\n");
		return 2;
	}
	struct store_loc *loc = calloc(n + 1, sizeof *loc);
	uint8_t *body = malloc(size + 1);
	if (loc == NULL || body == NULL) {
		die("memory", "out of memory");
	}
	for (i = 0; i < size; i++) {
		body[i] = (uint8_t)(i * 7 + 1);
	}
	store_config_default(&cfg);
	cfg.dir = dir;
	cfg.segment_size = segmb * 1024 * 1024;
	cfg.cache_bytes = 0;
	double mb = (double)n * (double)size / 1e6;
	printf("store_bench: %llu records x %zu bytes (%.0f MB), sync every %llu, segments %llu "
	       "MiB, compaction budget %zu KiB\n",
	       (unsigned long long)n, size, mb, (unsigned long long)sync_every,
	       (unsigned long long)segmb, budget / 1024);

	/* Append. */
	if (store_init(&s, &cfg, err) != QSG_OK) {
		die("init", err);
	}
	store_recovery_end(&s);
	double t0 = now_s();
	for (i = 1; i <= n; i++) {
		memcpy(body, &i, sizeof i < size ? sizeof i : size);
		if (store_append(&s, STORE_REC_BODY, i, 0, body, size, false, &loc[i], err) !=
		    QSG_OK) {
			die("append", err);
		}
		if (i % sync_every == 0 && store_sync(&s, err) != QSG_OK) {
			die("sync", err);
		}
	}
	if (store_sync(&s, err) != QSG_OK) {
		die("sync", err);
	}
	double t1 = now_s();
	printf("append+sync: %.2f s, %.1f MB/s, %.0f records/s, %.0f syncs/s\n", t1 - t0,
	       mb / (t1 - t0), (double)n / (t1 - t0), (double)n / (double)sync_every / (t1 - t0));
	store_close(&s);
	if (restart) {
		restart_mode(&cfg, loc, n);
		free(loc);
		free(body);
		return 0;
	}

	/* Reopen: a restart (from the page cache, then cold). Sealed segments
	 * indexed by the syncs above are not scanned. */
	for (int cold = 0; cold < 2; cold++) {
		if (cold) {
			drop_page_cache(dir);
		}
		t0 = now_s();
		if (store_init(&s, &cfg, err) != QSG_OK) {
			die("reopen", err);
		}
		t1 = now_s();
		size_t nf;
		store_faults(&s, &nf);
		printf("reopen scan (%s): %.2f s, %.1f MB/s, %zu faults\n",
		       cold ? "cold" : "page cache", t1 - t0, mb / (t1 - t0), nf);
		if (cold) {
			break;
		}
		store_close(&s);
	}
	for (i = 1; i <= n; i++) {
		struct store_loc l;
		if (store_claim(&s, i, 0, &l) != QSG_OK || memcmp(&l, &loc[i], sizeof l) != 0) {
			die("claim", "record missing after reopen");
		}
	}
	store_recovery_end(&s);

	/* Read back, verified, cold. */
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	drop_page_cache(dir);
	t0 = now_s();
	for (i = 1; i <= n; i++) {
		qsg_wbuf_reset(&w);
		if (store_read(&s, &loc[i], i, 0, &w, err) != QSG_OK || w.len != size) {
			die("read", err);
		}
	}
	t1 = now_s();
	printf("read (cold, in order, verified): %.2f s, %.1f MB/s\n", t1 - t0, mb / (t1 - t0));
	qsg_wbuf_close(&w);

	/* Release 3 in 4, then compact until idle. */
	struct store_stats st0, st1;
	for (i = 1; i <= n; i++) {
		if (i % 4 != 0) {
			store_release(&s, &loc[i], i, 0, 0);
		}
	}
	store_get_stats(&s, &st0);
	struct relocs r = {loc};
	struct store_compact_result res;
	uint64_t moved = 0, steps = 0, segs_done = 0;
	double worst = 0;
	t0 = now_s();
	for (;;) {
		double a = now_s();
		if (store_compact_step(&s, budget, on_reloc, &r, &res, err) != QSG_OK) {
			die("compact", err);
		}
		double b = now_s();
		if (res.idle) {
			break;
		}
		if (b - a > worst) {
			worst = b - a;
		}
		moved += res.bytes_moved;
		steps++;
		segs_done += res.seg_done != 0;
	}
	uint32_t deleted = 0;
	/* The steps never sync; sources go after a completed sync job. */
	if (store_sync(&s, err) != QSG_OK) {
		die("sync", err);
	}
	if (store_reclaim(&s, &deleted, err) != QSG_OK) {
		die("reclaim", err);
	}
	t1 = now_s();
	store_get_stats(&s, &st1);
	printf("compaction: %.2f s, %.1f MB/s moved (%.0f MB in %llu steps, longest step %.1f ms), "
	       "%llu segments compacted, disk %.0f -> %.0f MB\n",
	       t1 - t0, (double)moved / 1e6 / (t1 - t0), (double)moved / 1e6,
	       (unsigned long long)steps, worst * 1e3, (unsigned long long)segs_done,
	       (double)st0.disk_bytes / 1e6, (double)st1.disk_bytes / 1e6);
	for (i = 4; i <= n; i += 4) {
		qsg_wbuf_init(&w);
		if (store_read(&s, &loc[i], i, 0, &w, err) != QSG_OK) {
			die("read after compaction", err);
		}
		qsg_wbuf_close(&w);
	}
	store_close(&s);
	free(loc);
	free(body);
	return 0;
}
