/* qsgbench --lib (qsgbench_lib.h). */
#include "qsgbench_lib.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_hist.h"
#include "libqsg/qsg.h"

struct worker {
	const struct bench_lib_opts *o;
	pthread_t thread;
	qsg_conn *c;
	uint8_t *payload;
	uint64_t budget;
	uint64_t ok, errors;
	int first_rc;
	uint64_t t_end; /* ns; 0 = none */
	struct bench_hist hist; /* put latency, ns */
	uint64_t *t_put; /* ring: when put i was handed over (ctx = i % nring) */
	size_t nring;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_put(void *arg, void *ctx, int rc, const struct qsg_md *md)
{
	struct worker *w = arg;
	(void)md;
	if (rc != QSG_OK) {
		if (w->errors++ == 0)
			w->first_rc = rc;
		return;
	}
	w->ok++;
	bench_hist_record(&w->hist, now_ns() - w->t_put[(uintptr_t)ctx]);
}

static void put_loop(struct worker *w)
{
	const struct bench_lib_opts *o = w->o;
	struct qsg_md md = QSG_MD_DEFAULT;
	md.priority = 0;
	md.persistence = o->persistent ? QSG_PERSISTENT : QSG_NOT_PERSISTENT;
	md.expiry_ms = (int64_t)o->expiry_ms;
	/* As raw mode: the group generates the msgid. */
	int opts = QSG_PMO_NEW_MSG_ID | (o->syncpoint > 0 ? QSG_PMO_SYNCPOINT : 0);
	/* Latency from the return of qsg_put_async (as raw mode measures from
	 * the send), not from the call, which may first wait for room. More
	 * entries than the window: a put's entry is not reused before its
	 * callback (its own call's start time if it came in that call). */
	w->nring = (size_t)o->inflight * 2 + 2;
	w->t_put = calloc(w->nring, sizeof *w->t_put);
	if (w->t_put == NULL || qsg_set_put_async(w->c, o->inflight, on_put, w) != QSG_OK)
		return;
	for (uint64_t i = 0; i < w->budget && (w->t_end == 0 || now_ns() < w->t_end); i++) {
		size_t slot = (size_t)(i % w->nring);
		w->t_put[slot] = now_ns();
		int rc = qsg_put_async(w->c, o->queue, &md, w->payload, o->size, opts,
				       (void *)(uintptr_t)slot);
		w->t_put[slot] = now_ns();
		if (rc == QSG_OK && o->syncpoint > 0 && (i + 1) % o->syncpoint == 0)
			rc = qsg_commit(w->c);
		if (rc != QSG_OK && w->errors++ == 0)
			w->first_rc = rc;
	}
	if (o->syncpoint > 0)
		(void)qsg_commit(w->c);
	(void)qsg_flush(w->c);
}

static void on_msg(void *arg, qsg_conn *c, int event, int rc, const struct qsg_md *md,
		   const void *body, size_t len)
{
	struct worker *w = arg;
	(void)md;
	(void)body;
	(void)len;
	if (event == QSG_CB_MSG) {
		w->ok++;
		if (w->t_end != 0 && now_ns() >= w->t_end)
			qsg_consume_stop(c);
	} else if (event == QSG_CB_BATCH_END) {
		rc = rc == QSG_OK ? qsg_commit(c) : qsg_backout(c);
		if (rc != QSG_OK && w->errors++ == 0)
			w->first_rc = rc;
	} else if (event == QSG_CB_NO_MSG) {
		qsg_consume_stop(c); /* the queue is empty */
	} else if (event == QSG_CB_ERROR) {
		if (w->errors++ == 0)
			w->first_rc = rc;
	}
}

static void get_loop(struct worker *w)
{
	const struct bench_lib_opts *o = w->o;
	struct qsg_consume_opts co = {
	    .options = o->syncpoint > 0 ? QSG_GMO_SYNCPOINT : 0,
	    .read_ahead = o->inflight > 512 ? 512 : o->inflight,
	    .wait_ms = 0,
	    .max_msgs = w->budget == UINT64_MAX ? 0 : w->budget,
	};
	int rc = qsg_consume(w->c, o->queue, &co, on_msg, w);
	if (rc == QSG_OK)
		rc = qsg_dispatch(w->c, -1);
	if (rc != QSG_OK && w->errors++ == 0)
		w->first_rc = rc;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	if (w->o->get)
		get_loop(w);
	else
		put_loop(w);
	return NULL;
}

int bench_lib_run(const struct bench_lib_opts *o)
{
	struct worker *ws = calloc(o->conns, sizeof *ws);
	uint8_t *payload = malloc(o->size ? o->size : 1);
	if (ws == NULL || payload == NULL) {
		fprintf(stderr, "qsgbench: out of memory\n");
		free(ws);
		free(payload);
		return 1;
	}
	for (size_t i = 0; i < o->size; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	int status = 0;
	unsigned n = 0;
	for (; n < o->conns; n++) {
		char err[QSG_ERRMSG_SIZE];
		struct worker *w = &ws[n];
		w->o = o;
		w->payload = payload;
		bench_hist_init(&w->hist);
		w->budget = o->messages ? o->messages / o->conns + (n < o->messages % o->conns)
					: UINT64_MAX;
		if (qsg_connect(o->conn, "qsgbench", &w->c, err) != QSG_OK) {
			fprintf(stderr, "qsgbench: %s\n", err);
			status = 1;
			break;
		}
	}
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < n && status == 0; i++) {
		ws[i].t_end = o->seconds > 0 ? t0 + (uint64_t)(o->seconds * 1e9) : 0;
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
			fprintf(stderr, "qsgbench: pthread_create failed\n");
			status = 1;
			n = i;
		}
	}
	struct bench_hist h;
	bench_hist_init(&h);
	uint64_t ok = 0, errors = 0;
	int first_rc = 0;
	for (unsigned i = 0; i < n; i++) {
		if (status == 0 || ws[i].thread != 0)
			pthread_join(ws[i].thread, NULL);
		ok += ws[i].ok;
		errors += ws[i].errors;
		if (first_rc == 0)
			first_rc = ws[i].first_rc;
		bench_hist_merge(&h, &ws[i].hist);
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	for (unsigned i = 0; i < o->conns; i++) {
		qsg_disconnect(ws[i].c);
		free(ws[i].t_put);
	}
	const char *mode = o->get ? "get" : "put";
	printf("qsgbench: lib=1 mode=%s conns=%u inflight=%u size=%zu persistent=%d syncpoint=%u "
	       "queue=%s\n",
	       mode, o->conns, o->inflight, o->size, o->persistent, o->syncpoint, o->queue);
	printf("%s: %" PRIu64 " ok in %.3f s: %.1f msgs/s\n", mode, ok, secs,
	       secs > 0 ? (double)ok / secs : 0.0);
	printf("errors: %" PRIu64 "%s%s\n", errors, errors ? " first=" : "",
	       errors ? qsg_reason_name(first_rc) : "");
	printf("RESULT lib=1 mode=%s conns=%u inflight=%u size=%zu persistent=%d syncpoint=%u "
	       "ops=%" PRIu64 " secs=%.3f rate=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f "
	       "p999_us=%.0f errors=%" PRIu64 "\n",
	       mode, o->conns, o->inflight, o->size, o->persistent, o->syncpoint, ok, secs,
	       secs > 0 ? (double)ok / secs : 0.0, (double)bench_hist_percentile(&h, 50) / 1e3,
	       (double)bench_hist_percentile(&h, 90) / 1e3,
	       (double)bench_hist_percentile(&h, 99) / 1e3,
	       (double)bench_hist_percentile(&h, 99.9) / 1e3, errors);
	fflush(stdout);
	free(ws);
	free(payload);
	if (status == 0 && (errors > 0 || ok == 0))
		status = 1;
	return status;
}
