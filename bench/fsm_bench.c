/* bench/fsm_bench: what a deep queue costs the state machine itself, with a
 * body provider that keeps nothing (the message store is measured by
 * store_bench and bodystore_bench): memory per message, the time to encode a
 * snapshot in format 5 and in format 6 and its size, the time to restore it
 * into an empty state (what a wiped member's loop does when it installs a
 * snapshot), and the time to free a state of that depth.
 *
 *   bench/fsm_bench [-n messages] [-s body bytes]
 *
 * Figures are recorded in docs/performance.md with the command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/fsm/fsm.h"
#include "../src/fsm/membodies.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;
	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

#define BATCH 4096u

static void apply(struct fsm *f, struct fsm_cmd *c, size_t n, int64_t t)
{
	struct qsg_wbuf e, w;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&w);
	fsm_entry_begin(&e, t);
	for (size_t i = 0; i < n; i++) {
		qsg_wbuf_reset(&w);
		if (fsm_cmd_encode(&c[i], &w) != QSG_OK)
			abort();
		fsm_entry_add(&e, w.data, w.len);
	}
	if (e.err != QSG_OK || fsm_apply(f, e.data, e.len, NULL, errmsg) != QSG_OK) {
		fprintf(stderr, "apply: %s\n", errmsg);
		exit(1);
	}
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&w);
}

int main(int argc, char **argv)
{
	unsigned long n = 1000000, size = 1024;
	int opt;
	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (opt == 's')
			size = strtoul(optarg, NULL, 10);
		else {
			fprintf(stderr, "usage: %s [-n messages] [-s body bytes]\n", argv[0]);
			return 2;
		}
	}
	uint8_t *body = calloc(1, size + 1);
	struct fsm_cmd *c = calloc(BATCH, sizeof *c);
	struct fsm *f;
	if (body == NULL || c == NULL || fsm_init(&f, NULL) != QSG_OK)
		return 1;
	struct fsm_bodies nb;
	membodies_null_provider(&nb);
	fsm_set_bodies(f, &nb);
	c[0].op = FSM_OP_QDEFINE;
	strcpy(c[0].attrs.name, "Q");
	c[0].attrs.set = FSM_QA_MAXDEPTH;
	c[0].attrs.maxdepth = 999999999;
	c[1].op = FSM_OP_ATTACH;
	c[1].client_id = 1;
	c[1].member_id = 1;
	int64_t t = 1700000000000;
	apply(f, c, 2, t);
	long rss0 = rss_kb();
	double t0 = now_s();
	for (unsigned long done = 0; done < n;) {
		unsigned long b = n - done < BATCH ? n - done : BATCH;
		for (unsigned long i = 0; i < b; i++) {
			memset(&c[i], 0, sizeof c[i]);
			c[i].op = FSM_OP_PUT;
			c[i].client_id = 1;
			c[i].epoch = 1;
			c[i].flags = FSM_F_GEN_MSGID | FSM_F_PERSISTENT;
			strcpy(c[i].queue, "Q");
			c[i].msg.priority = 4;
			c[i].msg.body.p = body;
			c[i].msg.body.len = size;
		}
		apply(f, c, b, t += 3);
		done += b;
	}
	double t1 = now_s();
	long rss1 = rss_kb();
	printf("messages %lu, body %lu B: apply %.0f puts/s, RSS %.1f B/message\n", n, size,
	       (double)n / (t1 - t0), (double)(rss1 - rss0) * 1024 / (double)n);

	struct qsg_wbuf w5, w6;
	qsg_wbuf_init(&w5);
	qsg_wbuf_init(&w6);
	t0 = now_s();
	if (fsm_snapshot_format(f, &w5, 5) != QSG_OK)
		return 1;
	t1 = now_s();
	if (fsm_snapshot(f, &w6) != QSG_OK)
		return 1;
	double t2 = now_s();
	printf("snapshot format 5: %.1f MB, %.3f s (%.1f B/message)\n", (double)w5.len / 1e6,
	       t1 - t0, (double)w5.len / (double)n);
	printf("snapshot format 6: %.1f MB, %.3f s (%.1f B/message)\n", (double)w6.len / 1e6,
	       t2 - t1, (double)w6.len / (double)n);
	uint64_t d = fsm_digest(f);

	const struct qsg_wbuf *ws[2] = {&w5, &w6};
	for (int i = 0; i < 2; i++) {
		struct fsm *g;
		char errmsg[QSG_ERRMSG_SIZE];
		if (fsm_init(&g, NULL) != QSG_OK)
			return 1;
		fsm_set_bodies(g, &nb);
		t0 = now_s();
		if (fsm_restore(g, ws[i]->data, ws[i]->len, errmsg) != QSG_OK) {
			fprintf(stderr, "restore: %s\n", errmsg);
			return 1;
		}
		t1 = now_s();
		if (fsm_digest(g) != d) {
			fprintf(stderr, "restored state differs\n");
			return 1;
		}
		t2 = now_s();
		fsm_close(g);
		double t3 = now_s();
		printf("restore format %d: %.3f s (%.0f ns/message); free of the state %.3f s\n",
		       i == 0 ? 5 : 6, t1 - t0, (t1 - t0) * 1e9 / (double)n, t3 - t2);
	}
	qsg_wbuf_close(&w5);
	qsg_wbuf_close(&w6);
	fsm_close(f);
	free(c);
	free(body);
	return 0;
}
