/* raft-glue on the real libuv backend: three servers of one group on one
 * loop, talking TCP over loopback, data under a mkdtemp() directory that the
 * test removes. The state machine is a counter: each entry is a u64 that is
 * added to `sum`; the result is the entry count after the apply.
 *
 * Ports: QSG_TEST_PORT_BASE (+1, +2, +3), default 25000 + (pid % 300) * 10: below the
 * ephemeral range (32768+), where a busy box's outgoing connections take ports.
 * The loop is run until a predicate holds; a generous deadline only guards
 * against hangs (no timing assertions). */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "raft-glue/glue.h"

#define N 3 /* servers bootstrapped together */
#define NMAX 4 /* with a fourth that joins */
#define DEADLINE_MS 10000

struct counter {
	uint64_t count;
	uint64_t sum;
	unsigned restores; /* not part of the state */
	unsigned async_installs, steps; /* the asynchronous restore's */
	uv_sem_t *gate; /* when set, a decode waits for it (test_async_restore) */
	unsigned spin_us; /* each apply takes this long (test_apply_budget) */
};

static int counter_apply(void *data, const void *buf, size_t len, struct qsg_wbuf *results)
{
	struct counter *c = data;
	struct qsg_rbuf r;
	uint64_t v;

	qsg_rbuf_init(&r, buf, len);
	v = qsg_get_u64(&r);
	if (r.err != QSG_OK || qsg_rbuf_left(&r) != 0) {
		return QSG_RC_BAD_FRAME;
	}
	if (c->spin_us > 0) {
		uint64_t until = uv_hrtime() + (uint64_t)c->spin_us * 1000u;
		while (uv_hrtime() < until)
			;
	}
	c->count++;
	c->sum += v;
	if (results != NULL) {
		qsg_put_u64(results, c->count);
	}
	return QSG_OK;
}

static int counter_snapshot(void *data, struct qsg_wbuf *out)
{
	struct counter *c = data;

	qsg_put_u64(out, c->count);
	qsg_put_u64(out, c->sum);
	return out->err;
}

static int counter_restore(void *data, const void *buf, size_t len)
{
	struct counter *c = data;
	struct qsg_rbuf r;
	struct counter n;

	qsg_rbuf_init(&r, buf, len);
	n.count = qsg_get_u64(&r);
	n.sum = qsg_get_u64(&r);
	if (r.err != QSG_OK || qsg_rbuf_left(&r) != 0) {
		return QSG_RC_BAD_FRAME;
	}
	c->count = n.count;
	c->sum = n.sum;
	c->restores++;
	return QSG_OK;
}

/* The asynchronous restore's hooks (raft-glue/arestore.c). */
static void *counter_decode(void *data, const void *buf, size_t len, int *rc, char *errmsg)
{
	const struct counter *c = data; /* only its gate: set before start */
	struct counter *n = calloc(1, sizeof *n);
	struct qsg_rbuf r;

	if (c->gate != NULL) {
		uv_sem_wait(c->gate);
	}
	if (n == NULL) {
		*rc = QSG_RC_STORAGE_NOT_AVAILABLE;
		return NULL;
	}
	qsg_rbuf_init(&r, buf, len);
	n->count = qsg_get_u64(&r);
	n->sum = qsg_get_u64(&r);
	if (r.err != QSG_OK || qsg_rbuf_left(&r) != 0) {
		*rc = QSG_RC_BAD_FRAME;
		snprintf(errmsg, QSG_ERRMSG_SIZE, "bad counter snapshot");
		free(n);
		return NULL;
	}
	return n;
}

static int counter_install(void *data, void *image, void **old, char *errmsg)
{
	struct counter *c = data;
	const struct counter *n = image;

	(void)errmsg;
	c->count = n->count;
	c->sum = n->sum;
	c->restores++;
	c->async_installs++;
	c->steps = 0;
	*old = image; /* freed by restore_discard, in the pool */
	return QSG_OK;
}

static bool counter_step(void *data)
{
	struct counter *c = data;

	return ++c->steps >= 3; /* three slices */
}

static void counter_discard(void *data, void *image)
{
	(void)data;
	free(image);
}

struct server {
	struct glue *g;
	struct counter sm;
	int role_changes;
	int role;
	int fatal;
	bool closed;
	bool gone; /* removed from the group and closed: not in predicates */
};

struct cluster {
	uv_loop_t loop;
	char dir[64];
	int port_base;
	unsigned n; /* servers in use (s[0..n-1]) */
	struct server s[NMAX];
	/* submissions */
	unsigned acked;
	unsigned unknown;
	uint64_t last_result;
	bool results_ordered;
};

static void role_cb(void *arg, int old_role, int new_role)
{
	struct server *s = arg;

	(void)old_role;
	s->role = new_role;
	s->role_changes++;
}

static void fatal_cb(void *arg, const char *msg)
{
	struct server *s = arg;

	fprintf(stderr, "fatal: %s\n", msg);
	s->fatal++;
}

static unsigned budget_ms; /* glue_config.apply_budget_ms of new servers */

static void server_init_mode(struct cluster *c, unsigned i, unsigned threshold, bool join)
{
	struct glue_config cfg;
	struct glue_sm sm = {
	    .data = &c->s[i].sm,
	    .apply = counter_apply,
	    .snapshot = counter_snapshot,
	    .restore = counter_restore,
	    .restore_decode = counter_decode,
	    .restore_install = counter_install,
	    .restore_step = counter_step,
	    .restore_discard = counter_discard,
	};
	char dir[128];
	char address[64];
	char errmsg[QSG_ERRMSG_SIZE];
	unsigned j;
	int rc;

	memset(&cfg, 0, sizeof cfg);
	snprintf(dir, sizeof dir, "%s/s%u", c->dir, i + 1);
	mkdir(dir, 0700);
	snprintf(address, sizeof address, "127.0.0.1:%d", c->port_base + (int)i + 1);
	cfg.id = i + 1;
	cfg.address = address;
	cfg.dir = dir;
	cfg.n_servers = N;
	for (j = 0; j < N; j++) {
		cfg.servers[j].id = j + 1;
		snprintf(cfg.servers[j].address, sizeof cfg.servers[j].address, "127.0.0.1:%d",
			 c->port_base + (int)j + 1);
	}
	cfg.election_timeout_ms = 300;
	cfg.heartbeat_ms = 50;
	cfg.snapshot_threshold = threshold;
	cfg.snapshot_trailing = 2;
	cfg.snapshot_compress = true;
	cfg.join = join;
	cfg.apply_budget_ms = budget_ms;
	if (join) {
		cfg.n_servers = 0; /* ignored in join mode */
	}

	memset(&c->s[i], 0, sizeof c->s[i]);
	rc = glue_init(&c->s[i].g, &c->loop, &cfg, &sm, errmsg);
	if (rc != QSG_OK) {
		fail_msg("glue_init %u: %s", i, errmsg);
	}
	glue_set_role_cb(c->s[i].g, role_cb, &c->s[i]);
	glue_set_fatal_cb(c->s[i].g, fatal_cb, &c->s[i]);
	rc = glue_start(c->s[i].g, errmsg);
	if (rc != QSG_OK) {
		fail_msg("glue_start %u: %s", i, errmsg);
	}
}

static void server_init(struct cluster *c, unsigned i, unsigned threshold)
{
	server_init_mode(c, i, threshold, false);
}

static void deadline_cb(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Run the loop until pred(c) holds; false if the deadline passed. */
static bool run_until(struct cluster *c, bool (*pred)(struct cluster *c))
{
	uv_timer_t timer;
	bool expired = false;

	uv_timer_init(&c->loop, &timer);
	timer.data = &expired;
	uv_timer_start(&timer, deadline_cb, DEADLINE_MS, 0);
	while (!pred(c) && !expired) {
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(&c->loop, UV_RUN_NOWAIT);
	return pred(c);
}

static int leader_of(struct cluster *c)
{
	unsigned i;

	for (i = 0; i < c->n; i++) {
		if (!c->s[i].gone && c->s[i].g != NULL && glue_is_leader(c->s[i].g)) {
			return (int)i;
		}
	}
	return -1;
}

static bool has_leader(struct cluster *c)
{
	int l = leader_of(c);
	struct glue_info info;
	unsigned i;

	if (l < 0) {
		return false;
	}
	/* Everybody knows the leader. */
	for (i = 0; i < c->n; i++) {
		if (c->s[i].gone) {
			continue;
		}
		glue_get_info(c->s[i].g, &info);
		if (info.leader_id != (uint64_t)l + 1) {
			return false;
		}
	}
	return true;
}

static void closed_cb(void *arg)
{
	struct server *s = arg;

	s->closed = true;
	s->g = NULL;
}

static bool all_closed(struct cluster *c)
{
	unsigned i;

	for (i = 0; i < c->n; i++) {
		if (!c->s[i].gone && !c->s[i].closed) {
			return false;
		}
	}
	return true;
}

static void close_all(struct cluster *c)
{
	unsigned i;

	for (i = 0; i < c->n; i++) {
		if (c->s[i].gone) {
			continue;
		}
		c->s[i].closed = false;
		glue_close(c->s[i].g, closed_cb, &c->s[i]);
	}
	assert_true(run_until(c, all_closed));
}

static void apply_cb(void *arg, int status, const struct qsg_wbuf *results)
{
	struct cluster *c = arg;
	struct qsg_rbuf r;
	uint64_t n;

	if (status == QSG_RC_OUTCOME_UNKNOWN) {
		assert_null(results);
		c->unknown++;
		return;
	}
	assert_int_equal(status, QSG_OK);
	assert_non_null(results);
	qsg_rbuf_init(&r, results->data, results->len);
	n = qsg_get_u64(&r);
	assert_int_equal(r.err, QSG_OK);
	if (n != c->last_result + 1) {
		c->results_ordered = false;
	}
	c->last_result = n;
	c->acked++;
}

static unsigned target;

static unsigned want;

static bool all_done(struct cluster *c)
{
	return c->acked + c->unknown >= want;
}

static bool all_applied(struct cluster *c)
{
	unsigned i;

	for (i = 0; i < c->n; i++) {
		if (!c->s[i].gone && c->s[i].sm.count != target) {
			return false;
		}
	}
	return true;
}

/* Every live server finished a snapshot (fork mode completes it after the
 * apply that triggered it, in the thread pool). */
static bool all_snapshotted(struct cluster *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		struct glue_info info;
		if (c->s[i].gone)
			continue;
		glue_get_info(c->s[i].g, &info);
		if (info.snapshots == 0)
			return false;
	}
	return true;
}

static int submit(struct cluster *c, unsigned i, uint64_t v)
{
	struct qsg_wbuf w;
	int rc;

	qsg_wbuf_init(&w);
	qsg_put_u64(&w, v);
	rc = glue_submit(c->s[i].g, w.data, w.len, apply_cb, c);
	qsg_wbuf_close(&w);
	return rc;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int has_snapshot_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	return strncmp(path + ftw->base, "snapshot-", 9) == 0 ? 1 : 0;
}

static int setup(void **state)
{
	struct cluster *c = calloc(1, sizeof *c);
	const char *base = getenv("QSG_TEST_PORT_BASE");

	assert_non_null(c);
	assert_int_equal(uv_loop_init(&c->loop), 0);
	snprintf(c->dir, sizeof c->dir, "/tmp/qsg-glue-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	c->port_base = base != NULL ? atoi(base) : 25000 + (int)(getpid() % 300) * 10;
	c->results_ordered = true;
	c->n = N;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct cluster *c = *state;

	uv_run(&c->loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	nftw(c->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(c);
	return 0;
}

/* Bootstrap, election, submit on the leader, NOT_LEADER on followers, all
 * replicas apply, restart from disk (snapshot + log), close without leaks. */
static void test_group_lifecycle(void **state)
{
	struct cluster *c = *state;
	struct glue_info info;
	unsigned i;
	int l;

	for (i = 0; i < N; i++) {
		server_init(c, i, 8);
	}
	assert_true(run_until(c, has_leader));
	l = leader_of(c);
	assert_true(l >= 0);

	for (i = 0; i < N; i++) {
		if ((int)i != l) {
			assert_int_equal(submit(c, i, 1), QSG_RC_NOT_LEADER);
		}
	}
	target = 20;
	want = 20;
	for (i = 0; i < target; i++) {
		assert_int_equal(submit(c, (unsigned)l, i + 1), QSG_OK);
	}
	assert_true(run_until(c, all_done));
	/* No fault injected: every submission committed, results in order. */
	assert_int_equal(c->acked, target);
	assert_true(c->results_ordered);
	assert_true(run_until(c, all_applied));
	for (i = 0; i < N; i++) {
		assert_int_equal(c->s[i].sm.sum, 20 * 21 / 2);
		assert_int_equal(c->s[i].fatal, 0);
	}
	/* The role callback saw the leader. */
	assert_int_equal(c->s[l].role, GLUE_LEADER);
	glue_get_info(c->s[l].g, &info);
	assert_int_equal(info.role, GLUE_LEADER);
	assert_true(info.term >= 1);
	assert_true(info.commit_index >= 21);
	assert_true(info.applied_index >= 21);
	assert_true(info.last_index >= info.commit_index);
	assert_int_equal(info.leader_id, (uint64_t)l + 1);
	assert_true(strstr(info.leader_address, "127.0.0.1:") != NULL);
	/* A snapshot is taken (threshold 8, 21+ entries); under load (a
	 * sanitizer build on a busy box) it may finish after the applies. */
	assert_true(run_until(c, all_snapshotted));

	close_all(c);
	/* A snapshot was taken (threshold 8, 21+ entries). */
	assert_int_equal(nftw(c->dir, has_snapshot_cb, 16, FTW_PHYS), 1);

	/* Restart on the same directories with empty state machines. */
	for (i = 0; i < N; i++) {
		server_init(c, i, 8);
	}
	assert_true(run_until(c, has_leader));
	target = 21;
	want = 1;
	l = leader_of(c);
	c->acked = 0;
	c->unknown = 0;
	c->last_result = 20;
	assert_int_equal(submit(c, (unsigned)l, 1000), QSG_OK);
	assert_true(run_until(c, all_done));
	assert_int_equal(c->acked, 1);
	assert_int_equal(c->last_result, 21);
	assert_true(run_until(c, all_applied));
	for (i = 0; i < N; i++) {
		assert_int_equal(c->s[i].sm.sum, 20 * 21 / 2 + 1000);
	}
	close_all(c);
}

/* Closing with submissions in flight completes each exactly once, with
 * QSG_OK or QSG_RC_OUTCOME_UNKNOWN. */
static void test_close_inflight(void **state)
{
	struct cluster *c = *state;
	unsigned i;
	int l;

	for (i = 0; i < N; i++) {
		server_init(c, i, 1024);
	}
	assert_true(run_until(c, has_leader));
	l = leader_of(c);
	want = 10;
	for (i = 0; i < 10; i++) {
		assert_int_equal(submit(c, (unsigned)l, 1), QSG_OK);
	}
	close_all(c);
	assert_int_equal(c->acked + c->unknown, 10);
}

static void test_bad_config(void **state)
{
	struct cluster *c = *state;
	struct glue *g = NULL;
	struct glue_config cfg;
	struct counter cnt = {0, 0};
	struct glue_sm sm = {&cnt, counter_apply, counter_snapshot, counter_restore};
	char errmsg[QSG_ERRMSG_SIZE];

	memset(&cfg, 0, sizeof cfg);
	cfg.id = 0;
	cfg.address = "127.0.0.1:1";
	cfg.dir = c->dir;
	cfg.n_servers = 1;
	assert_int_equal(glue_init(&g, &c->loop, &cfg, &sm, errmsg), QSG_RC_CONFIG);
	assert_null(g);
	cfg.id = 1;
	cfg.n_servers = 0;
	assert_int_equal(glue_init(&g, &c->loop, &cfg, &sm, errmsg), QSG_RC_CONFIG);
	cfg.n_servers = 1;
	cfg.heartbeat_ms = 500;
	cfg.election_timeout_ms = 100;
	assert_int_equal(glue_init(&g, &c->loop, &cfg, &sm, errmsg), QSG_RC_CONFIG);
	assert_non_null(strstr(errmsg, "heartbeat"));
	cfg.heartbeat_ms = 0;
	cfg.election_timeout_ms = 0;
	cfg.dir = "/nonexistent/qsg/dir";
	assert_int_not_equal(glue_init(&g, &c->loop, &cfg, &sm, errmsg), QSG_OK);
	assert_null(g);
	assert_true(errmsg[0] != '\0');
}

/* Init then close without start: nothing leaks. */
static void test_close_unstarted(void **state)
{
	struct cluster *c = *state;
	struct glue_config cfg;
	struct counter cnt = {0, 0};
	struct glue_sm sm = {&cnt, counter_apply, counter_snapshot, counter_restore};
	char errmsg[QSG_ERRMSG_SIZE];
	char address[32];

	memset(&cfg, 0, sizeof cfg);
	snprintf(address, sizeof address, "127.0.0.1:%d", c->port_base + 9);
	cfg.id = 1;
	cfg.address = address;
	cfg.dir = c->dir;
	cfg.n_servers = 1;
	cfg.servers[0].id = 1;
	snprintf(cfg.servers[0].address, sizeof cfg.servers[0].address, "%s", address);
	memset(&c->s[0], 0, sizeof c->s[0]);
	assert_int_equal(glue_init(&c->s[0].g, &c->loop, &cfg, &sm, errmsg), QSG_OK);
	assert_false(glue_is_leader(c->s[0].g));
	assert_int_equal(submit(c, 0, 1), QSG_RC_NOT_LEADER);
	glue_close(c->s[0].g, closed_cb, &c->s[0]);
	while (!c->s[0].closed) {
		uv_run(&c->loop, UV_RUN_ONCE);
	}
}

/* ---- membership (issue 5) ---- */

struct change_res {
	int calls;
	int status;
	char text[QSG_ERRMSG_SIZE];
};

static void change_cb(void *arg, int status, const char *text)
{
	struct change_res *r = arg;

	assert_non_null(text);
	r->calls++;
	r->status = status;
	snprintf(r->text, sizeof r->text, "%s", text);
}

static struct change_res *watched;

static bool change_done(struct cluster *c)
{
	(void)c;
	return watched->calls > 0;
}

static int run_change(struct cluster *c, struct change_res *r)
{
	watched = r;
	assert_true(run_until(c, change_done));
	/* Exactly once: nothing more arrives later. */
	uv_run(&c->loop, UV_RUN_NOWAIT);
	assert_int_equal(r->calls, 1);
	return r->status;
}

static unsigned count_voters(const struct glue_member *m, size_t n)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		v += m[i].role == GLUE_VOTER;
	}
	return v;
}

static uint64_t want_leader;

static bool leader_is_wanted(struct cluster *c)
{
	return has_leader(c) && (uint64_t)leader_of(c) + 1 == want_leader;
}

static unsigned want_voters;

/* Every server in use knows a configuration of want_voters voters. */
static bool config_converged(struct cluster *c)
{
	struct glue_member m[GLUE_MAX_SERVERS];
	unsigned i;
	size_t n;

	for (i = 0; i < c->n; i++) {
		if (c->s[i].gone) {
			continue;
		}
		n = glue_get_config(c->s[i].g, m, GLUE_MAX_SERVERS);
		if (n != want_voters || count_voters(m, n) != want_voters) {
			return false;
		}
	}
	return true;
}

static void submit_n(struct cluster *c, unsigned count, uint64_t v)
{
	int l = leader_of(c);
	unsigned i;

	assert_true(l >= 0);
	c->acked = c->unknown = 0;
	c->last_result = c->s[l].sm.count;
	want = count;
	for (i = 0; i < count; i++) {
		assert_int_equal(submit(c, (unsigned)l, v), QSG_OK);
	}
	assert_true(run_until(c, all_done));
	assert_int_equal(c->acked, count);
	target = (unsigned)c->s[l].sm.count;
}

/* The configuration as every server sees it, and leadership transfer: to a
 * named follower, then to "the best one" (0); refused on a follower and for
 * an unknown id. */
static void test_config_transfer(void **state)
{
	struct cluster *c = *state;
	struct glue_member m[GLUE_MAX_SERVERS];
	char errmsg[QSG_ERRMSG_SIZE];
	unsigned i;
	size_t n;
	int l, f;

	for (i = 0; i < N; i++) {
		server_init(c, i, 1024);
	}
	assert_true(run_until(c, has_leader));
	for (i = 0; i < N; i++) {
		n = glue_get_config(c->s[i].g, m, GLUE_MAX_SERVERS);
		assert_int_equal(n, N);
		assert_int_equal(count_voters(m, n), N);
		assert_int_equal(m[i].id, i + 1);
		assert_non_null(strstr(m[i].address, "127.0.0.1:"));
	}
	/* max is honoured */
	assert_int_equal(glue_get_config(c->s[0].g, m, 2), 2);

	l = leader_of(c);
	f = (l + 1) % N;
	assert_int_equal(glue_transfer(c->s[f].g, (uint64_t)l + 1, errmsg), QSG_RC_NOT_LEADER);
	assert_int_equal(glue_transfer(c->s[l].g, 77, errmsg), QSG_RC_INVALID);
	assert_int_equal(glue_transfer(c->s[l].g, (uint64_t)f + 1, errmsg), QSG_OK);
	want_leader = (uint64_t)f + 1;
	assert_true(run_until(c, leader_is_wanted));
	submit_n(c, 5, 1);
	assert_true(run_until(c, all_applied));

	/* 0: libraft picks a voting follower. */
	l = leader_of(c);
	assert_int_equal(glue_transfer(c->s[l].g, 0, errmsg), QSG_OK);
	want_leader = 0;
	for (i = 0; i < 100 && (leader_of(c) < 0 || leader_of(c) == l); i++) {
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	assert_true(run_until(c, has_leader));
	assert_int_not_equal(leader_of(c), l);
	close_all(c);
}

/* The leader has completed a snapshot. In fork mode (the default) the
 * capture finishes in the thread pool after the apply that triggered it. */
static bool leader_snapshotted(struct cluster *c)
{
	struct glue_info info;
	int l = leader_of(c);

	if (l < 0) {
		return false;
	}
	glue_get_info(c->s[l].g, &info);
	return info.snapshots >= 1;
}

/* A fourth server joins a running group (join mode: no bootstrap), catches
 * up from a snapshot, becomes a voter and applies new entries; adding it
 * again is a no-op; a follower cannot change the configuration; then a
 * founding server is removed and the remaining three go on. */
static void test_add_remove(void **state)
{
	struct cluster *c = *state;
	struct change_res r;
	struct glue_info info;
	char address[64];
	unsigned i;
	int l, f, victim;

	for (i = 0; i < N; i++) {
		server_init(c, i, 8);
	}
	assert_true(run_until(c, has_leader));
	/* Enough entries for a snapshot and log truncation (trailing 2). */
	submit_n(c, 40, 2);
	assert_true(run_until(c, all_applied));
	(void)run_until(c, leader_snapshotted);
	l = leader_of(c);
	glue_get_info(c->s[l].g, &info);
	assert_true(info.snapshots >= 1);
	assert_true(info.snapshot_last_bytes == 16); /* count + sum */

	/* The joiner starts without a configuration. */
	c->n = NMAX;
	server_init_mode(c, 3, 8, true);
	snprintf(address, sizeof address, "127.0.0.1:%d", c->port_base + 4);

	f = (l + 1) % N;
	memset(&r, 0, sizeof r);
	assert_int_equal(glue_add(c->s[f].g, 4, address, change_cb, &r), QSG_RC_NOT_LEADER);
	assert_int_equal(glue_remove(c->s[f].g, 1, change_cb, &r), QSG_RC_NOT_LEADER);
	assert_int_equal(glue_add(c->s[l].g, 0, address, change_cb, &r), QSG_RC_INVALID);
	assert_int_equal(glue_add(c->s[l].g, 4, address, change_cb, &r), QSG_OK);
	/* One change at a time. */
	assert_int_equal(glue_remove(c->s[l].g, 1, change_cb, &r), QSG_RC_BUSY);
	assert_int_equal(r.calls, 0); /* never from inside the call */
	assert_int_equal(run_change(c, &r), QSG_OK);
	assert_non_null(strstr(r.text, "voter"));

	want_voters = NMAX;
	assert_true(run_until(c, config_converged));
	/* Caught up from the snapshot (the log before it was truncated). */
	target = (unsigned)c->s[l].sm.count;
	assert_true(run_until(c, all_applied));
	assert_true(c->s[3].sm.restores >= 1);
	assert_int_equal(c->s[3].sm.sum, c->s[l].sm.sum);
	assert_true(run_until(c, has_leader));
	submit_n(c, 10, 3);
	assert_true(run_until(c, all_applied));
	assert_int_equal(c->s[3].sm.sum, c->s[leader_of(c)].sm.sum);

	/* Adding it again: nothing to do; with another address: refused. */
	l = leader_of(c);
	memset(&r, 0, sizeof r);
	assert_int_equal(glue_add(c->s[l].g, 4, address, change_cb, &r), QSG_OK);
	assert_int_equal(r.calls, 0);
	assert_int_equal(run_change(c, &r), QSG_OK);
	assert_non_null(strstr(r.text, "already"));
	memset(&r, 0, sizeof r);
	assert_int_equal(glue_add(c->s[l].g, 4, "127.0.0.1:1", change_cb, &r), QSG_RC_CONFIG);
	assert_int_equal(glue_remove(c->s[l].g, 9, change_cb, &r), QSG_RC_INVALID);

	/* Remove a founding follower; close it; the other three go on. */
	victim = (l + 1) % N;
	memset(&r, 0, sizeof r);
	assert_int_equal(glue_remove(c->s[l].g, (uint64_t)victim + 1, change_cb, &r), QSG_OK);
	assert_int_equal(run_change(c, &r), QSG_OK);
	c->s[victim].closed = false;
	glue_close(c->s[victim].g, closed_cb, &c->s[victim]);
	c->s[victim].gone = true;
	while (!c->s[victim].closed) {
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	want_voters = N;
	assert_true(run_until(c, config_converged));
	submit_n(c, 10, 4);
	assert_true(run_until(c, all_applied));
	for (i = 0; i < c->n; i++) {
		assert_int_equal(c->s[i].fatal, 0);
	}
	close_all(c);
}

/* The leader removes itself: it stays leader until the change commits,
 * then steps down, and the two others elect a leader among themselves. */
static void test_remove_leader(void **state)
{
	struct cluster *c = *state;
	struct change_res r;
	unsigned i;
	int l;

	for (i = 0; i < N; i++) {
		server_init(c, i, 1024);
	}
	assert_true(run_until(c, has_leader));
	submit_n(c, 5, 1);
	l = leader_of(c);
	memset(&r, 0, sizeof r);
	assert_int_equal(glue_remove(c->s[l].g, (uint64_t)l + 1, change_cb, &r), QSG_OK);
	assert_int_equal(run_change(c, &r), QSG_OK);
	c->s[l].closed = false;
	glue_close(c->s[l].g, closed_cb, &c->s[l]);
	c->s[l].gone = true;
	while (!c->s[l].closed) {
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	want_voters = N - 1;
	assert_true(run_until(c, config_converged));
	assert_true(run_until(c, has_leader));
	assert_int_not_equal(leader_of(c), l);
	submit_n(c, 5, 1);
	assert_true(run_until(c, all_applied));
	close_all(c);
}

static unsigned async_f; /* the follower of test_async_restore */

static bool f_restoring(struct cluster *c)
{
	struct glue_info info;

	glue_get_info(c->s[async_f].g, &info);
	return info.restoring && info.restores_async >= 1;
}

static bool f_queued(struct cluster *c)
{
	struct glue_info info;

	glue_get_info(c->s[async_f].g, &info);
	return info.restore_queued_max >= 1;
}

/* A follower that must install a snapshot from the leader decodes it in
 * the thread pool while the loop goes on: the decode waits on a semaphore
 * that only this loop posts, after it saw the restore in progress and an
 * entry committed meanwhile queued at the follower (a decode on the loop
 * would never return). Then the image is installed in slices, the queue
 * applied in order, and every replica holds the same state. */
static void test_async_restore(void **state)
{
	struct cluster *c = *state;
	uv_sem_t gate;
	struct glue_info info;
	unsigned i, n;
	int l;

	assert_int_equal(uv_sem_init(&gate, 0), 0);
	for (i = 0; i < N; i++) {
		server_init(c, i, 8);
	}
	assert_true(run_until(c, has_leader));
	l = leader_of(c);
	async_f = (unsigned)(l + 1) % N;
	/* The follower stops; 40 entries make the leader compact its log
	 * (threshold 8, trailing 2) past what the follower holds. */
	c->s[async_f].closed = false;
	glue_close(c->s[async_f].g, closed_cb, &c->s[async_f]);
	while (!c->s[async_f].closed) {
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	c->s[async_f].gone = true;
	target = 40;
	want = 40;
	for (i = 0; i < 40; i++) {
		assert_int_equal(submit(c, (unsigned)l, i + 1), QSG_OK);
	}
	assert_true(run_until(c, all_done));
	assert_true(run_until(c, all_applied));
	assert_true(run_until(c, all_snapshotted));

	/* Back, with its decode gated: the snapshot arrives and the restore
	 * starts; entries committed meanwhile wait in its queue. */
	server_init(c, async_f, 8);
	c->s[async_f].sm.gate = &gate;
	assert_true(run_until(c, f_restoring));
	l = leader_of(c);
	assert_true(l >= 0 && (unsigned)l != async_f);
	glue_get_info(c->s[async_f].g, &info);
	assert_int_equal(info.applied_index, 0); /* not the snapshot's state yet */
	/* Three entries (the leader snapshots every 8 and keeps 2: more could
	 * make the follower need yet another snapshot); the follower gets them
	 * at the leader's next heartbeat and queues them. */
	for (n = 40; n < 43; n++) {
		want = n + 1;
		assert_int_equal(submit(c, (unsigned)l, n + 1), QSG_OK);
		assert_true(run_until(c, all_done));
	}
	if (!run_until(c, f_queued)) {
		uv_sem_post(&gate); /* else the pool thread holds the exit */
		fail_msg("no entry queued during the restore");
	}
	glue_get_info(c->s[async_f].g, &info);
	assert_true(info.restoring);
	assert_int_equal(c->s[async_f].sm.async_installs, 0);

	for (i = 0; i < 8; i++) {
		uv_sem_post(&gate); /* every decode started (a later snapshot
				     * supersedes an earlier one) */
	}
	target = n; /* entries 1 .. n */
	assert_true(run_until(c, all_applied));
	for (i = 0; i < N; i++) {
		assert_int_equal(c->s[i].sm.sum, (uint64_t)n * (n + 1) / 2);
		assert_int_equal(c->s[i].fatal, 0);
	}
	assert_true(c->s[async_f].sm.async_installs >= 1);
	assert_int_equal(c->s[async_f].sm.steps, 3);
	glue_get_info(c->s[async_f].g, &info);
	assert_false(info.restoring);
	assert_true(info.restores_async >= 1);
	assert_true(info.applied_index >= n);
	close_all(c);
	uv_sem_destroy(&gate);
}

/* Bounded follower applies: with applies of 1 ms and a budget of 3 ms,
 * a follower handed dozens of committed entries at once applies a few,
 * queues the rest and applies them in later slices; every replica ends
 * with the same state, the leader's submitters all get results in order,
 * and no server fails. */
static void test_apply_budget(void **state)
{
	struct cluster *c = *state;
	struct glue_info info;
	uint64_t deferrals = 0, qmax = 0;
	unsigned i;
	int l;

	budget_ms = 3;
	for (i = 0; i < N; i++) {
		server_init(c, i, 4096);
	}
	budget_ms = 0;
	assert_true(run_until(c, has_leader));
	for (i = 0; i < N; i++)
		c->s[i].sm.spin_us = 1000;
	l = leader_of(c);
	c->acked = c->unknown = 0;
	c->last_result = c->s[l].sm.count;
	c->results_ordered = true;
	want = 200;
	for (i = 0; i < 200; i++)
		assert_int_equal(submit(c, (unsigned)l, i + 1), QSG_OK);
	assert_true(run_until(c, all_done));
	assert_int_equal(c->acked, 200);
	assert_true(c->results_ordered);
	target = (unsigned)c->s[l].sm.count;
	assert_true(run_until(c, all_applied));
	for (i = 0; i < N; i++) {
		assert_int_equal(c->s[i].sm.sum, (uint64_t)200 * 201 / 2);
		assert_int_equal(c->s[i].fatal, 0);
		glue_get_info(c->s[i].g, &info);
		if ((int)i == l) {
			assert_int_equal(info.apply_deferrals, 0); /* never on a leader */
		}
		deferrals += info.apply_deferrals;
		if (info.restore_queued_max > qmax)
			qmax = info.restore_queued_max;
		assert_false(info.restoring);
		assert_true(info.applied_index >= 200);
	}
	assert_true(deferrals >= 1);
	assert_true(qmax >= 1);
	close_all(c);
}

int main(void)
{
	/* As qsgd does (main.c): a peer that closed while a server writes to
	 * it (test_async_restore stops one) must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	/* Three servers share one process and libuv's thread pool (4 threads
	 * by default), which libraft needs for its segments and snapshot
	 * writes; test_async_restore holds decodes on a semaphore. */
	setenv("UV_THREADPOOL_SIZE", "16", 1);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_group_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_inflight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_unstarted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_transfer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_leader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_async_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_apply_budget, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
