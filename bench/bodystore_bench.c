/* bodystore_bench: the body provider (src/store/bodystore.c) at depth on
 * this machine.
 *
 *   bodystore_bench -d DIR [-n COUNT] [-s SIZE] [-N SYNC_EVERY] [-c CACHE_MB]
 *
 * Phases, each timed: put COUNT messages of SIZE bytes (16 bytes of
 * properties included) with a sync job every SYNC_EVERY puts; the memory
 * of the map (bytes per message) and the peak RSS; read every message back
 * in order, verified (segments dropped from the page cache first); close
 * and reopen (the restart scan, every record into the map); claim every
 * message and restored() (a snapshot restore); release every message; a
 * sync, stable, and housekeeping until every segment is reclaimed; then the
 * same again (put all, release all) with the unlinks in reclaim jobs. DIR must
 * not exist or be empty; it is left in place (delete it afterwards). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "store/bodystore.h"

#define PROPS 16

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bodystore_bench: %s: %s\n", what, err);
	exit(1);
}

static double rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
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

static void sync_all(struct bodystore *b)
{
	struct store_sync_job job;
	char err[QSG_ERRMSG_SIZE];

	if (bodystore_sync_prepare(b, &job, err) != QSG_OK) {
		die("sync prepare", err);
	}
	bodystore_sync_run(&job);
	if (bodystore_sync_done(b, &job, err) != QSG_OK) {
		die("sync", err);
	}
}

/* Content of message k: the first 8 bytes of the body carry k. */
static void make(uint8_t *buf, size_t size, uint64_t k)
{
	memcpy(buf + PROPS, &k, sizeof k);
	(void)size;
}

/* Second run of the release + reclaim phases with the unlinks in a job, as
 * the daemon does them in the pool: the loop's share (prepare + done) and
 * the unlink's. */
static void reclaim_jobs(struct bodystore *b, uint64_t n)
{
	struct store_reclaim_job job;
	char err[QSG_ERRMSG_SIZE];
	double worst_loop = 0, worst_unlink = 0, t0, t1;
	uint64_t k, jobs = 0;

	bodystore_set_index(b, 2);
	for (k = 1; k <= n; k++) {
		bodystore_release(b, k);
	}
	sync_all(b);
	bodystore_set_stable(b, 2);
	b->defer_reclaim = true;
	t0 = now_s();
	while (bodystore_reclaim_pending(b)) {
		double a = now_s();
		if (bodystore_reclaim_prepare(b, 1, &job, err) != QSG_OK) {
			die("reclaim prepare", err);
		}
		double m = now_s();
		if (job.n == 0) {
			bodystore_reclaim_done(b, &job, err);
			break;
		}
		bodystore_reclaim_run(&job);
		double r = now_s();
		if (bodystore_reclaim_done(b, &job, err) != QSG_OK) {
			die("reclaim", err);
		}
		double e = now_s();
		worst_loop = (m - a) + (e - r) > worst_loop ? (m - a) + (e - r) : worst_loop;
		worst_unlink = r - m > worst_unlink ? r - m : worst_unlink;
		jobs++;
	}
	t1 = now_s();
	printf("reclaim jobs: %.2f s, %llu jobs of one segment, loop share longest %.3f ms, "
	       "unlink (pool) longest %.1f ms\n",
	       t1 - t0, (unsigned long long)jobs, worst_loop * 1e3, worst_unlink * 1e3);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	uint64_t n = 1000000, k, sync_every = 10000;
	size_t size = 128, cache_mb = 0;
	struct store_config cfg;
	struct bodystore b;
	struct bodystore_stats st;
	char err[QSG_ERRMSG_SIZE];
	int opt;

	while ((opt = getopt(argc, argv, "d:n:s:N:c:")) != -1) {
		switch (opt) {
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
		case 'c':
			cache_mb = strtoull(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bodystore_bench -d DIR [-n COUNT] [-s SIZE] "
					"[-N SYNC_EVERY] [-c CACHE_MB]\n");
			return 2;
		}
	}
	if (dir == NULL || n == 0 || size < PROPS + 8 || size > STORE_CHUNK_MAX ||
	    sync_every == 0) {
		fprintf(stderr, "bodystore_bench: -d DIR required; COUNT, SYNC_EVERY > 0; "
				"24 <= SIZE <= 1 MiB\n");
		return 2;
	}
	uint8_t *buf = malloc(size);
	uint32_t *crcs = malloc(n * sizeof *crcs);
	if (buf == NULL || crcs == NULL) {
		die("memory", "out of memory");
	}
	for (size_t i = 0; i < size; i++) {
		buf[i] = (uint8_t)(i * 7 + 1);
	}
	store_config_default(&cfg);
	cfg.dir = dir;
	cfg.cache_bytes = cache_mb * 1024 * 1024;
	printf("bodystore_bench: %llu messages x %zu bytes, sync every %llu, cache %zu MiB\n",
	       (unsigned long long)n, size, (unsigned long long)sync_every, cache_mb);
	double rss0 = rss_mb();
	if (bodystore_init(&b, &cfg, err) != QSG_OK) {
		die("init", err);
	}

	double t0 = now_s();
	for (k = 1; k <= n; k++) {
		make(buf, size, k);
		uint32_t crc = qsg_crc32c(0, buf, size);
		crcs[k - 1] = crc;
		if (bodystore_put(&b, k, buf, PROPS, buf + PROPS, (uint32_t)(size - PROPS), crc) !=
		    QSG_OK) {
			die("put", b.errmsg);
		}
		if (k % sync_every == 0) {
			sync_all(&b);
		}
	}
	sync_all(&b);
	double t1 = now_s();
	bodystore_get_stats(&b, &st);
	printf("put: %.2f s, %.0f puts/s, %.1f MB/s, %u segments, %.0f MB on disk\n", t1 - t0,
	       (double)n / (t1 - t0), (double)n * (double)size / 1e6 / (t1 - t0), st.st.segments,
	       (double)st.st.disk_bytes / 1e6);
	printf("map: %zu slots, %.0f MB, %.1f bytes per message (load %.2f); peak RSS %.0f MB "
	       "(%.0f MB at start)\n",
	       st.map_slots, (double)st.map_bytes / 1e6, (double)st.map_bytes / (double)n,
	       (double)n / (double)st.map_slots, rss_mb(), rss0);

	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	drop_page_cache(dir);
	t0 = now_s();
	for (k = 1; k <= n; k++) {
		qsg_wbuf_reset(&w);
		if (bodystore_read(&b, k, PROPS, (uint32_t)(size - PROPS), crcs[k - 1], &w) !=
		    QSG_OK) {
			die("read", b.errmsg);
		}
	}
	t1 = now_s();
	qsg_wbuf_close(&w);
	printf("read (in order, verified, segments dropped from the page cache first): %.2f s, "
	       "%.0f reads/s\n",
	       t1 - t0, (double)n / (t1 - t0));

	bodystore_close(&b);
	t0 = now_s();
	if (bodystore_init(&b, &cfg, err) != QSG_OK) {
		die("reopen", err);
	}
	t1 = now_s();
	bodystore_get_stats(&b, &st);
	printf("reopen (scan + map): %.2f s, %llu messages, peak RSS %.0f MB\n", t1 - t0,
	       (unsigned long long)st.messages, rss_mb());

	t0 = now_s();
	for (k = 1; k <= n; k++) {
		bodystore_claim(&b, k, PROPS, (uint32_t)(size - PROPS), crcs[k - 1]);
	}
	bodystore_restored(&b, n);
	t1 = now_s();
	bodystore_get_stats(&b, &st);
	printf("claim all + restored: %.2f s, %.0f claims/s, %llu missing\n", t1 - t0,
	       (double)n / (t1 - t0), (unsigned long long)st.missing);

	bodystore_set_index(&b, 1);
	t0 = now_s();
	for (k = 1; k <= n; k++) {
		bodystore_release(&b, k);
	}
	t1 = now_s();
	printf("release: %.2f s, %.0f releases/s\n", t1 - t0, (double)n / (t1 - t0));

	sync_all(&b);
	bodystore_set_stable(&b, 1);
	bool more;
	double worst = 0;
	uint64_t slices = 0;
	t0 = now_s();
	do {
		double a = now_s();
		if (bodystore_housekeep(&b, 1024 * 1024, &more, err) != QSG_OK) {
			die("housekeep", err);
		}
		double d = now_s() - a;
		worst = d > worst ? d : worst;
		slices++;
	} while (more);
	t1 = now_s();
	bodystore_get_stats(&b, &st);
	printf("reclaim inline (housekeep, one unlink per slice): %.2f s in %llu slices (longest "
	       "%.1f ms), %llu segments deleted, %u left, %.0f MB on disk\n",
	       t1 - t0, (unsigned long long)slices, worst * 1e3,
	       (unsigned long long)st.segs_reclaimed, st.st.segments,
	       (double)st.st.disk_bytes / 1e6);
	/* Again with the unlinks in jobs: put the messages again, seal them. */
	for (k = 1; k <= n; k++) {
		make(buf, size, k);
		if (bodystore_put(&b, k, buf, PROPS, buf + PROPS, (uint32_t)(size - PROPS),
				  crcs[k - 1]) != QSG_OK) {
			die("put", b.errmsg);
		}
	}
	reclaim_jobs(&b, n);
	bodystore_close(&b);
	free(buf);
	free(crcs);
	return 0;
}
