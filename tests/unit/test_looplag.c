/* Unit tests of the loop-stall monitor (src/qsgd/looplag.c): on a real libuv
 * loop, an iteration blocked for ~60 ms is recorded (maximum, bucket, count
 * over 20 ms, QSG4008W) and a quiet loop records no stall; with chosen values,
 * the histogram, maxima, window and warning rate limit; the [qmgr]
 * loop_warn_ms key; the qsg_loop_* series of /metrics. These check the
 * monitor's arithmetic, not timing goals of the product. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "fsm/fsm.h"
#include "qsgd/config.h"
#include "qsgd/log.h"
#include "qsgd/looplag.h"
#include "qsgd/metrics.h"

#define MS 1000000ull

/* ---- a log captured in memory ---- */

struct cap {
	char *buf;
	size_t len;
	FILE *f;
	struct qlog log;
};

static void cap_open(struct cap *c)
{
	memset(c, 0, sizeof *c);
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
	qlog_init(&c->log, c->f, "QM1", QLOG_WARN);
}

static const char *cap_text(struct cap *c)
{
	fflush(c->f);
	return c->buf;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void cap_close(struct cap *c)
{
	fclose(c->f);
	free(c->buf);
}

/* ---- a real loop ---- */

struct run {
	uv_loop_t loop;
	struct looplag lag;
	uv_timer_t work; /* blocks the loop once, or ticks quietly */
	uv_timer_t end;
	unsigned block_ms; /* 0: a quiet loop */
	unsigned sleep_ms; /* the fourth tick sleeps (wall time, no CPU) */
	unsigned ticks;
};

static void busy(unsigned ms)
{
	uint64_t until = uv_hrtime() + ms * MS;
	while (uv_hrtime() < until)
		;
}

static void on_work(uv_timer_t *t)
{
	struct run *r = t->data;
	(void)t;
	if (++r->ticks == 4 && r->block_ms > 0)
		busy(r->block_ms);
	if (r->ticks == 4 && r->sleep_ms > 0) {
		struct timespec ts = {0, (long)r->sleep_ms * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static void on_end(uv_timer_t *t)
{
	struct run *r = t->data;
	looplag_close(&r->lag);
	uv_close((uv_handle_t *)&r->work, NULL);
	uv_close((uv_handle_t *)&r->end, NULL);
}

/* Run a loop for run_ms with the monitor and a timer that ticks every 5 ms,
 * doing nothing, except that with block_ms > 0 its fourth tick blocks the
 * loop for block_ms. */
static void run_loop(struct run *r, const struct qlog *log, unsigned warn_ms, unsigned block_ms,
		     unsigned run_ms)
{
	char errmsg[QSG_ERRMSG_SIZE] = "";
	unsigned sleep_ms = r->sleep_ms;
	memset(r, 0, sizeof *r);
	r->sleep_ms = sleep_ms;
	assert_int_equal(uv_loop_init(&r->loop), 0);
	assert_int_equal(looplag_init(&r->lag, &r->loop, log, warn_ms, errmsg), QSG_OK);
	r->block_ms = block_ms;
	uv_timer_init(&r->loop, &r->work);
	uv_timer_init(&r->loop, &r->end);
	r->work.data = r->end.data = r;
	uv_timer_start(&r->work, on_work, 5, 5);
	uv_timer_start(&r->end, on_end, run_ms, 0);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r->loop), 0);
}

static int bucket_of(uint64_t ns)
{
	static const uint32_t b[LOOPLAG_BUCKETS] = LOOPLAG_BOUNDS_MS;
	for (int i = 0; i < LOOPLAG_BUCKETS; i++)
		if (ns <= b[i] * MS)
			return i;
	return LOOPLAG_BUCKETS;
}

static void test_blocked_iteration(void **state)
{
	(void)state;
	struct cap c;
	struct run *r = calloc(1, sizeof *r);
	struct looplag_stats s;
	assert_non_null(r);
	cap_open(&c);
	run_loop(r, &c.log, 30, 60, 200);
	looplag_read(&r->lag, &s, false);
	print_message("iterations %llu, max %.1f ms, over 20 ms %llu, timer lag %llu ms\n",
		      (unsigned long long)s.iterations, (double)s.max_ns / 1e6,
		      (unsigned long long)s.over_stall, (unsigned long long)s.timer_lag_max_ms);

	assert_true(r->ticks >= 10);
	assert_true(s.max_ns >= 50 * MS);
	assert_true(s.window_max_ns == s.max_ns);
	assert_true(s.over_stall >= 1);
	/* the blocked iteration sits in the bucket of its length (<= 100 ms
	 * unless the machine preempted the test for 40 ms more) */
	int b = bucket_of(s.max_ns);
	if (b < LOOPLAG_BUCKETS)
		assert_true(s.bucket[b] >= 1);
	if (s.max_ns <= 100 * MS)
		assert_true(s.bucket[3] >= 1);
	/* the other iterations did next to nothing */
	assert_true(s.iterations >= 10);
	assert_true(s.bucket[0] >= 1);
	uint64_t total = 0;
	for (int i = 0; i < LOOPLAG_BUCKETS; i++)
		total += s.bucket[i];
	assert_true(total <= s.iterations);
	assert_true(s.sum_ns >= s.max_ns);
	/* the 100 ms tick, if it was due during the block, saw it late; it
	 * can never be later than the block itself plus a little */
	assert_true(s.timer_lag_max_ms <= s.max_ns / MS + 20);
	/* one warning over loop_warn_ms 30 */
	assert_int_equal(s.warnings, 1);
	const char *t = cap_text(&c);
	assert_int_equal(count_of(t, "QSG4008W"), 1);
	assert_non_null(strstr(t, "event loop blocked for "));
	assert_non_null(strstr(t, "loop_warn_ms 30"));
	/* a read with reset starts a new window */
	looplag_read(&r->lag, &s, true);
	looplag_read(&r->lag, &s, false);
	assert_true(s.window_max_ns == 0);
	assert_true(s.max_ns >= 50 * MS);
	cap_close(&c);
	free(r);
}

/* CPU time per iteration: a busy iteration uses CPU, a sleeping one only
 * wall time (what waiting for a CPU looks like to the monitor). */
static void test_cpu_time(void **state)
{
	(void)state;
	struct cap c;
	struct run *r = calloc(1, sizeof *r);
	struct looplag_stats s;
	assert_non_null(r);
	cap_open(&c);
	run_loop(r, &c.log, 30, 60, 200);
	looplag_read(&r->lag, &s, true);
	assert_true(s.max_ns >= 50 * MS);
	assert_true(s.cpu_max_ns >= 10 * MS); /* less only if preempted for 50 ms */
	assert_true(s.cpu_max_ns <= s.max_ns + 5 * MS);
	assert_true(s.cpu_window_max_ns == s.cpu_max_ns);
	assert_non_null(strstr(cap_text(&c), "; on CPU "));
	looplag_read(&r->lag, &s, false);
	assert_true(s.cpu_window_max_ns == 0);
	cap_close(&c);
	memset(r, 0, sizeof *r);
	r->sleep_ms = 60;
	cap_open(&c);
	run_loop(r, &c.log, 30, 0, 200);
	looplag_read(&r->lag, &s, false);
	assert_true(s.max_ns >= 50 * MS);
	assert_true(s.cpu_max_ns < 20 * MS);
	cap_close(&c);
	free(r);
}

static void test_quiet_loop(void **state)
{
	(void)state;
	struct cap c;
	struct run *r = calloc(1, sizeof *r);
	struct looplag_stats s;
	assert_non_null(r);
	cap_open(&c);
	run_loop(r, &c.log, 200, 0, 200);
	looplag_read(&r->lag, &s, false);
	assert_true(r->ticks >= 10);
	assert_true(s.iterations >= 10);
	assert_true(s.over_stall == 0);
	assert_true(s.max_ns <= 20 * MS);
	assert_true(s.bucket[3] == 0 && s.bucket[4] == 0);
	/* waiting is not work: 200 ms of mostly idle loop */
	assert_true(s.sum_ns < 100 * MS);
	assert_int_equal(s.warnings, 0);
	assert_int_equal(count_of(cap_text(&c), "QSG4008W"), 0);
	cap_close(&c);
	free(r);
}

/* ---- the arithmetic with chosen values ---- */

static void test_buckets_and_maxima(void **state)
{
	(void)state;
	struct cap c;
	struct looplag l;
	struct looplag_stats s;
	cap_open(&c);
	memset(&l, 0, sizeof l);
	l.log = &c.log;
	l.warn_ms = 0; /* off */
	static const uint64_t v[] = {0,		MS / 2,	       MS,	    MS + 1,
				     5 * MS,	20 * MS,       20 * MS + 1, 100 * MS,
				     1000 * MS, 1000 * MS + 1, 5000 * MS};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		looplag_account(&l, v[i], (i + 1) * 10 * MS);
	looplag_read(&l, &s, true);
	assert_int_equal(s.iterations, 11);
	assert_int_equal(s.bucket[0], 3); /* 0, 0.5, 1 */
	assert_int_equal(s.bucket[1], 2); /* 1+, 5 */
	assert_int_equal(s.bucket[2], 1); /* 20 */
	assert_int_equal(s.bucket[3], 2); /* 20+, 100 */
	assert_int_equal(s.bucket[4], 1); /* 1000 */
	assert_int_equal(s.over_stall, 5); /* 20+, 100, 1000, 1000+, 5000 */
	assert_true(s.max_ns == 5000 * MS);
	assert_true(s.window_max_ns == 5000 * MS);
	assert_int_equal(s.warnings, 0);
	/* the new window holds only what comes after the read */
	looplag_account(&l, 3 * MS, 200 * MS);
	looplag_read(&l, &s, false);
	assert_true(s.window_max_ns == 3 * MS);
	assert_true(s.max_ns == 5000 * MS);
	assert_int_equal(count_of(cap_text(&c), "QSG4008W"), 0);
	cap_close(&c);
}

/* Charged phases: the warning names them, the window keeps the breakdown
 * of its worst iteration, and the charges do not leak into the next one. */
static void test_phases(void **state)
{
	(void)state;
	struct cap c;
	struct looplag l;
	struct looplag_stats s;
	cap_open(&c);
	memset(&l, 0, sizeof l);
	l.log = &c.log;
	l.warn_ms = 20;
	l.open = true; /* charges count only on an open monitor */
	looplag_charge(&l, LOOPLAG_APPLY, 30 * MS);
	looplag_charge(&l, LOOPLAG_STORE, 2 * MS);
	looplag_charge(&l, LOOPLAG_STORE, 3 * MS);
	looplag_account(&l, 50 * MS, 1000 * MS);
	const char *t = cap_text(&c);
	assert_int_equal(count_of(t, "QSG4008W"), 1);
	assert_non_null(strstr(t, "apply 30 ms, store 5 ms, other 15 ms"));
	assert_null(strstr(t, "snapshot"));
	looplag_read(&l, &s, false);
	assert_true(s.phase_ns[LOOPLAG_APPLY] == 30 * MS);
	assert_true(s.phase_ns[LOOPLAG_STORE] == 5 * MS);
	assert_true(s.window_worst_phase_ns[LOOPLAG_APPLY] == 30 * MS);
	/* a shorter iteration with other charges: totals grow, the window's
	 * worst keeps the 50 ms iteration's breakdown */
	looplag_charge(&l, LOOPLAG_SNAPSHOT, 4 * MS);
	looplag_account(&l, 10 * MS, 1100 * MS);
	looplag_read(&l, &s, true);
	assert_true(s.phase_ns[LOOPLAG_SNAPSHOT] == 4 * MS);
	assert_true(s.window_worst_phase_ns[LOOPLAG_SNAPSHOT] == 0);
	assert_true(s.window_worst_phase_ns[LOOPLAG_APPLY] == 30 * MS);
	/* nothing charged since: the next iteration is all "other" */
	looplag_account(&l, 7 * MS, 1200 * MS);
	looplag_read(&l, &s, false);
	assert_true(s.window_max_ns == 7 * MS);
	for (int i = 0; i < LOOPLAG_NPHASES; i++)
		assert_true(s.window_worst_phase_ns[i] == 0);
	assert_true(s.phase_ns[LOOPLAG_APPLY] == 30 * MS);
	/* a closed or NULL monitor ignores charges */
	looplag_charge(NULL, LOOPLAG_APPLY, MS);
	l.open = false;
	looplag_charge(&l, LOOPLAG_APPLY, MS);
	assert_true(l.cur_ns[LOOPLAG_APPLY] == 0);
	cap_close(&c);
}

static void test_warning_rate_limit(void **state)
{
	(void)state;
	struct cap c;
	struct looplag l;
	struct looplag_stats s;
	const uint64_t sec = 1000 * MS;
	cap_open(&c);
	memset(&l, 0, sizeof l);
	l.log = &c.log;
	l.warn_ms = 200;

	looplag_account(&l, 150 * MS, 1 * sec); /* under the threshold */
	looplag_account(&l, 200 * MS, 1 * sec); /* at it: no warning */
	assert_int_equal(count_of(cap_text(&c), "QSG4008W"), 0);
	looplag_account(&l, 250 * MS, 1 * sec); /* the first line */
	assert_int_equal(count_of(cap_text(&c), "QSG4008W"), 1);
	assert_non_null(strstr(cap_text(&c), "blocked for 250 ms in one iteration"));
	looplag_account(&l, 300 * MS, 1 * sec + 500 * MS); /* held */
	looplag_account(&l, 400 * MS, 1 * sec + 700 * MS); /* held, the worst */
	looplag_flush(&l, 1 * sec + 900 * MS); /* not a second yet */
	assert_int_equal(count_of(cap_text(&c), "QSG4008W"), 1);
	looplag_flush(&l, 2 * sec); /* a second later: the held ones */
	assert_int_equal(count_of(cap_text(&c), "QSG4008W"), 2);
	assert_non_null(strstr(cap_text(&c), "in 2 more iteration(s)"));
	assert_non_null(strstr(cap_text(&c), "the worst for 400 ms"));
	looplag_flush(&l, 5 * sec); /* nothing held: nothing */
	assert_int_equal(count_of(cap_text(&c), "QSG4008W"), 2);
	looplag_account(&l, 210 * MS, 2 * sec + 100 * MS); /* held */
	looplag_account(&l, 220 * MS, 3 * sec + 100 * MS); /* a line, with the held one */
	assert_int_equal(count_of(cap_text(&c), "QSG4008W"), 3);
	assert_non_null(strstr(
	    cap_text(&c), "blocked for 220 ms in one iteration (loop_warn_ms 200: other 220 ms); 1 "
			  "more since the last warning, the worst for 210 ms"));
	looplag_read(&l, &s, false);
	assert_int_equal(s.warnings, 3);
	assert_int_equal(s.iterations, 7);
	assert_int_equal(s.over_stall, 7);
	cap_close(&c);
}

/* ---- configuration ---- */

static int load_ini(struct qsgd_config *cfg, const char *text, char *errmsg)
{
	char path[] = "/tmp/test_looplag_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	qsgd_config_defaults(cfg);
	int rc = qsgd_config_load_file(cfg, path, errmsg);
	unlink(path);
	return rc;
}

static void test_config_key(void **state)
{
	(void)state;
	struct qsgd_config *cfg = calloc(1, sizeof *cfg);
	char errmsg[QSG_ERRMSG_SIZE] = "";
	assert_non_null(cfg);
	qsgd_config_defaults(cfg);
	assert_int_equal(cfg->loop_warn_ms, 200);
	assert_int_equal(load_ini(cfg, "[qmgr]\nloop_warn_ms = 0\n", errmsg), QSG_OK);
	assert_int_equal(cfg->loop_warn_ms, 0);
	assert_int_equal(load_ini(cfg, "[qmgr]\nloop_warn_ms = 50\n", errmsg), QSG_OK);
	assert_int_equal(cfg->loop_warn_ms, 50);
	assert_int_equal(load_ini(cfg, "[qmgr]\nloop_warn_ms = 600001\n", errmsg), QSG_RC_CONFIG);
	assert_non_null(strstr(errmsg, "loop_warn_ms"));
	assert_int_equal(load_ini(cfg, "[qmgr]\nloop_warn_ms = -1\n", errmsg), QSG_RC_CONFIG);
	free(cfg);
}

/* ---- /metrics ---- */

static void test_metrics_series(void **state)
{
	(void)state;
	struct fsm *f;
	struct glue_info gi;
	struct qsgd_stats st;
	struct qsg_wbuf w;
	struct looplag_stats ls;
	assert_int_equal(fsm_init(&f, NULL), QSG_OK);
	memset(&gi, 0, sizeof gi);
	qsgd_stats_init(&st);
	memset(&ls, 0, sizeof ls);
	ls.iterations = 10;
	ls.bucket[0] = 5;
	ls.bucket[1] = 1;
	ls.bucket[2] = 1;
	ls.bucket[3] = 1;
	ls.bucket[4] = 1; /* and one above 1 s */
	ls.over_stall = 3;
	ls.sum_ns = 2500 * MS;
	ls.max_ns = 1500 * MS;
	ls.window_max_ns = 60 * MS;
	ls.timer_lag_max_ms = 42;
	ls.phase_ns[LOOPLAG_APPLY] = 250 * MS;
	ls.window_worst_phase_ns[LOOPLAG_APPLY] = 40 * MS;
	ls.cpu_max_ns = 900 * MS;
	ls.cpu_window_max_ns = 30 * MS;
	ls.phase_ns[LOOPLAG_REAP] = 7 * MS;
	struct metrics_reaper rp = {
	    .pending = 12, .freed = 34, .slices = 5, .slice_max_ns = 2 * MS};
	struct metrics_input in = {
	    .fsm = f, .raft = &gi, .member_id = 1, .stats = &st, .loop = &ls, .reaper = &rp};

	qsg_wbuf_init(&w);
	assert_int_equal(metrics_render(&in, &w), QSG_OK);
	qsg_put_u8(&w, 0);
	const char *t = (const char *)w.data;
	static const char *const want[] = {
	    "# TYPE qsg_loop_iteration_seconds histogram\n",
	    "qsg_loop_iteration_seconds_bucket{le=\"0.001\"} 5\n",
	    "qsg_loop_iteration_seconds_bucket{le=\"0.005\"} 6\n",
	    "qsg_loop_iteration_seconds_bucket{le=\"0.02\"} 7\n",
	    "qsg_loop_iteration_seconds_bucket{le=\"0.1\"} 8\n",
	    "qsg_loop_iteration_seconds_bucket{le=\"1\"} 9\n",
	    "qsg_loop_iteration_seconds_bucket{le=\"+Inf\"} 10\n",
	    "qsg_loop_iteration_seconds_sum 2.500000\n",
	    "qsg_loop_iteration_seconds_count 10\n",
	    "# TYPE qsg_loop_iteration_max_seconds gauge\n",
	    "qsg_loop_iteration_max_seconds 1.500000\n",
	    "# TYPE qsg_loop_iteration_window_max_seconds gauge\n",
	    "qsg_loop_iteration_window_max_seconds 0.060000\n",
	    "qsg_loop_phase_seconds_total{phase=\"apply\"} 0.250000\n",
	    "qsg_loop_phase_seconds_total{phase=\"client\"} 0.000000\n",
	    "qsg_loop_window_worst_phase_seconds{phase=\"apply\"} 0.040000\n",
	    "# TYPE qsg_loop_stalls_total counter\n",
	    "qsg_loop_stalls_total 3\n",
	    "# TYPE qsg_loop_timer_lag_max_seconds gauge\n",
	    "qsg_loop_timer_lag_max_seconds 0.042000\n",
	    "# TYPE qsg_loop_iteration_cpu_max_seconds gauge\n",
	    "qsg_loop_iteration_cpu_max_seconds 0.900000\n",
	    "qsg_loop_iteration_cpu_window_max_seconds 0.030000\n",
	    "qsg_loop_phase_seconds_total{phase=\"reap\"} 0.007000\n",
	    "# TYPE qsg_reaper_pending_messages gauge\n",
	    "qsg_reaper_pending_messages 12\n",
	    "qsg_reaper_freed_messages_total 34\n",
	    "qsg_reaper_slices_total 5\n",
	    "qsg_reaper_slice_max_seconds 0.002000\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (strstr(t, want[i]) == NULL)
			fail_msg("missing: %s", want[i]);
	}
	/* without a monitor, no loop series */
	in.loop = NULL;
	qsg_wbuf_reset(&w);
	assert_int_equal(metrics_render(&in, &w), QSG_OK);
	qsg_put_u8(&w, 0);
	assert_null(strstr((const char *)w.data, "qsg_loop_"));
	qsg_wbuf_close(&w);
	fsm_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocked_iteration),
	    cmocka_unit_test(test_quiet_loop),
	    cmocka_unit_test(test_cpu_time),
	    cmocka_unit_test(test_buckets_and_maxima),
	    cmocka_unit_test(test_phases),
	    cmocka_unit_test(test_warning_rate_limit),
	    cmocka_unit_test(test_config_key),
	    cmocka_unit_test(test_metrics_series),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
