/* The fsm adapter's fork-mode snapshot (raft_fsm version 3), driven through
 * its raft_fsm callbacks as libraft calls them (src/replication.c,
 * takeSnapshot): snapshot on the "loop", entries applied meanwhile,
 * snapshot_async, restore into a fresh state machine, snapshot_finalize.
 *
 * Checked: the restored state has the digest of the state at capture time,
 * not of the live state that moved on; a child that dies mid-stream, sends
 * a bad checksum, stalls or is aborted is reported as an error, its bytes
 * are never handed out, and the child is reaped; after a failure the
 * adapter backs off, then captures again. Inline mode keeps version 2.
 *
 * QSG_FORK_BENCH=1 also prints the fork() (loop) time at several resident
 * sizes (docs/performance.md). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <raft.h>

#include "raft-glue/fsm_adapter.h"
#include "src/fsm/fsm.h"

#define QUEUE "Q.SNAPFORK"
#define CLIENT 7

struct node {
	struct fsm *f;
	struct glue_sm sm;
	struct raft_fsm rf;
	struct glue_adapter a;
	uint64_t epoch;
	uint64_t seq;
	int64_t now;
};

static int sm_apply(void *data, const void *buf, size_t len, struct qsg_wbuf *results)
{
	char errmsg[QSG_ERRMSG_SIZE];

	return fsm_apply(data, buf, len, results, errmsg);
}

static int sm_snapshot(void *data, struct qsg_wbuf *out)
{
	return fsm_snapshot(data, out);
}

static int sm_restore(void *data, const void *buf, size_t len)
{
	char errmsg[QSG_ERRMSG_SIZE];

	return fsm_restore(data, buf, len, errmsg);
}

/* One entry with one command through the adapter's apply (the envelope
 * libraft stores). Returns the decoded result. */
static void node_apply(struct node *n, struct fsm_cmd *c, struct fsm_result *res)
{
	struct qsg_wbuf entry, w;
	struct raft_buffer buf;
	void *result = NULL;
	char errmsg[QSG_ERRMSG_SIZE];

	qsg_wbuf_init(&entry);
	qsg_wbuf_init(&w);
	fsm_entry_begin(&entry, n->now++);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	fsm_entry_add(&entry, w.data, w.len);
	assert_int_equal(entry.err, QSG_OK);
	assert_int_equal(glue_entry_wrap(entry.data, entry.len, &buf), 0);
	assert_int_equal(n->rf.apply(&n->rf, &buf, &result), 0);
	raft_free(buf.base);
	qsg_wbuf_close(&entry);
	qsg_wbuf_close(&w);
	if (res != NULL) {
		const struct qsg_wbuf *r = result;
		struct qsg_rbuf rb;

		assert_non_null(r);
		qsg_rbuf_init(&rb, r->data, r->len);
		uint32_t len = qsg_get_u32(&rb);
		struct qsg_slice p = qsg_get_raw(&rb, len);
		assert_int_equal(rb.err, QSG_OK);
		assert_int_equal(fsm_result_decode(c->op, p.p, p.len, res, errmsg), QSG_OK);
	}
}

/* The fewest bytes of one message in a format-6 snapshot (docs/protocol.md):
 * flags, priority, seqno and put time deltas, lengths (a byte each at
 * least), crc. */
#define SNAP_DESC_BYTES (1 + 1 + 1 + 1 + 1 + 1 + 4)

static void node_init(struct node *n, int mode)
{
	char errmsg[QSG_ERRMSG_SIZE];

	memset(n, 0, sizeof *n);
	assert_int_equal(fsm_init(&n->f, errmsg), QSG_OK);
	n->sm = (struct glue_sm){n->f, sm_apply, sm_snapshot, sm_restore};
	glue_adapter_setup(&n->rf, &n->a, &n->sm, NULL, mode);
	n->now = 1000;
}

static void node_close(struct node *n)
{
	glue_adapter_teardown(&n->a);
	fsm_close(n->f);
}

static void node_define_attach(struct node *n)
{
	struct fsm_cmd c;
	struct fsm_result res;

	memset(&c, 0, sizeof c);
	c.op = FSM_OP_QDEFINE;
	c.client_id = CLIENT;
	snprintf(c.queue, sizeof c.queue, "%s", QUEUE);
	snprintf(c.attrs.name, sizeof c.attrs.name, "%s", QUEUE);
	c.attrs.set = FSM_QA_MAXDEPTH;
	c.attrs.maxdepth = 1000000;
	node_apply(n, &c, &res);
	assert_int_equal(res.rc, QSG_OK);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_ATTACH;
	c.client_id = CLIENT;
	c.member_id = 1;
	node_apply(n, &c, &res);
	assert_int_equal(res.rc, QSG_OK);
	n->epoch = res.epoch;
}

static void node_put(struct node *n, unsigned count, size_t body_len)
{
	static uint8_t body[4096];
	struct fsm_cmd c;
	struct fsm_result res;

	for (unsigned i = 0; i < count; i++) {
		memset(&c, 0, sizeof c);
		c.op = FSM_OP_PUT;
		c.client_id = CLIENT;
		c.epoch = n->epoch;
		c.seq = ++n->seq;
		snprintf(c.queue, sizeof c.queue, "%s", QUEUE);
		memset(body, (int)(n->seq & 0xff), body_len);
		memcpy(body, &n->seq, sizeof n->seq);
		c.msg.body.p = body;
		c.msg.body.len = body_len;
		node_apply(n, &c, &res);
		assert_int_equal(res.rc, QSG_OK);
	}
}

static void node_get(struct node *n, unsigned count)
{
	struct fsm_cmd c;
	struct fsm_result res;

	for (unsigned i = 0; i < count; i++) {
		memset(&c, 0, sizeof c);
		c.op = FSM_OP_GET;
		c.client_id = CLIENT;
		c.epoch = n->epoch;
		snprintf(c.queue, sizeof c.queue, "%s", QUEUE);
		node_apply(n, &c, &res);
		assert_int_equal(res.rc, QSG_OK);
	}
}

/* Restores bufs into a fresh fsm and returns its digest. The fresh fsm
 * fetches message content from `peer` (the snapshot holds descriptors), as
 * a member installing a snapshot would. */
static uint64_t restore_digest(const struct raft_buffer *b, struct node *peer)
{
	struct node fresh;
	struct raft_buffer copy;
	uint64_t d;

	node_init(&fresh, GLUE_SNAPSHOT_INLINE);
	fsm_bodies_mem_peer(fresh.f, peer->f);
	/* restore() takes ownership of a raft_malloc'd buffer on success. */
	copy.len = b->len;
	copy.base = raft_malloc(b->len);
	assert_non_null(copy.base);
	memcpy(copy.base, b->base, b->len);
	assert_int_equal(fresh.rf.restore(&fresh.rf, &copy), 0);
	d = fsm_digest(fresh.f);
	node_close(&fresh);
	return d;
}

static bool alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno != ESRCH;
}

/* The capture is the state at snapshot(), whatever is applied afterwards. */
static void test_fork_capture_is_immutable(void **state)
{
	struct node n;
	struct raft_buffer *bufs = NULL;
	unsigned n_bufs = 99;
	uint64_t d0, d1;

	(void)state;
	node_init(&n, GLUE_SNAPSHOT_FORK);
	assert_int_equal(n.rf.version, 3);
	assert_non_null(n.rf.snapshot_async);
	node_define_attach(&n);
	node_put(&n, 3000, 1024);
	node_get(&n, 100);
	d0 = fsm_digest(n.f);

	assert_int_equal(n.rf.snapshot(&n.rf, &bufs, &n_bufs), 0);
	assert_null(bufs);
	assert_int_equal(n_bufs, 0);
	assert_true(n.a.sf.pid > 0);

	/* libraft keeps applying while the pool collects. */
	node_put(&n, 500, 700);
	node_get(&n, 1200);
	d1 = fsm_digest(n.f);
	assert_true(d1 != d0);

	assert_int_equal(n.rf.snapshot_async(&n.rf, &bufs, &n_bufs), 0);
	assert_non_null(bufs);
	assert_int_equal(n_bufs, 1);
	/* 2900 live messages; the snapshot holds their descriptors (at least
	 * 10 bytes each in format 6), not their content. */
	assert_true(bufs[0].len > 2900 * SNAP_DESC_BYTES);
	assert_int_equal(n.a.sf.pid, 0); /* reaped */
	assert_true(restore_digest(&bufs[0], &n) == d0);

	assert_int_equal(n.rf.snapshot_finalize(&n.rf, &bufs, &n_bufs), 0);
	assert_null(bufs);
	assert_int_equal(n.a.snapshots, 1);
	assert_int_equal(n.a.snapshot_failures, 0);
	assert_true(n.a.snapshot_last_bytes > 2900 * SNAP_DESC_BYTES);
	assert_true(n.a.snapshot_last_us > 0);

	/* A second capture sees the moved-on state. */
	assert_int_equal(n.rf.snapshot(&n.rf, &bufs, &n_bufs), 0);
	assert_int_equal(n.rf.snapshot_async(&n.rf, &bufs, &n_bufs), 0);
	assert_true(restore_digest(&bufs[0], &n) == d1);
	assert_int_equal(n.rf.snapshot_finalize(&n.rf, &bufs, &n_bufs), 0);
	assert_int_equal(n.a.snapshots, 2);
	node_close(&n);
}

/* Runs one capture with a fault; it must fail, hand out nothing, reap. */
static void expect_failure(struct node *n, int fault, const char *why)
{
	struct raft_buffer *bufs = NULL;
	unsigned n_bufs = 0;
	uint64_t failures = n->a.snapshot_failures;
	pid_t pid;

	n->a.retry_after_ns = 0;
	n->a.sf.fault = fault;
	assert_int_equal(n->rf.snapshot(&n->rf, &bufs, &n_bufs), 0);
	pid = n->a.sf.pid;
	assert_true(pid > 0);
	assert_int_not_equal(n->rf.snapshot_async(&n->rf, &bufs, &n_bufs), 0);
	assert_null(bufs);
	assert_int_equal(n_bufs, 0);
	assert_int_equal(n->a.sf.pid, 0);
	assert_false(alive(pid));
	assert_non_null(strstr(n->a.sf.errmsg, why));
	assert_int_equal(n->rf.snapshot_finalize(&n->rf, &bufs, &n_bufs), 0);
	assert_int_equal(n->a.snapshot_failures, failures + 1);
	assert_non_null(strstr(n->a.snapshot_errmsg, why));
	n->a.sf.fault = SNAPFORK_FAULT_NONE;
}

static void test_fork_truncated_and_corrupt(void **state)
{
	struct node n;
	struct raft_buffer *bufs = NULL;
	unsigned n_bufs = 0;
	uint64_t d;

	(void)state;
	node_init(&n, GLUE_SNAPSHOT_FORK);
	node_define_attach(&n);
	node_put(&n, 2000, 512);
	d = fsm_digest(n.f);

	expect_failure(&n, SNAPFORK_FAULT_HALF, "truncated in the payload");
	/* Back-off: libraft's retry right after the failure is refused. */
	assert_int_equal(n.rf.snapshot(&n.rf, &bufs, &n_bufs), RAFT_BUSY);
	expect_failure(&n, SNAPFORK_FAULT_CHECKSUM, "checksum mismatch");
	assert_int_equal(n.a.snapshots, 0);

	/* And a healthy capture afterwards. */
	n.a.retry_after_ns = 0;
	assert_int_equal(n.rf.snapshot(&n.rf, &bufs, &n_bufs), 0);
	assert_int_equal(n.rf.snapshot_async(&n.rf, &bufs, &n_bufs), 0);
	assert_true(restore_digest(&bufs[0], &n) == d);
	assert_int_equal(n.rf.snapshot_finalize(&n.rf, &bufs, &n_bufs), 0);
	assert_int_equal(n.a.snapshots, 1);
	node_close(&n);
}

/* A state machine whose encoder never finishes (in the child). */
static int slow_snapshot(void *data, struct qsg_wbuf *out)
{
	(void)data;
	(void)out;
	sleep(30);
	return QSG_RC_UNEXPECTED_ERROR;
}

static void test_fork_stall_and_abort(void **state)
{
	struct node n;
	struct raft_buffer *bufs = NULL;
	unsigned n_bufs = 0;
	pid_t pid;

	(void)state;
	node_init(&n, GLUE_SNAPSHOT_FORK);
	n.a.sm.snapshot = slow_snapshot;

	/* Stall: nothing for stall_ms -> killed. */
	n.a.sf.stall_ms = 400;
	assert_int_equal(n.rf.snapshot(&n.rf, &bufs, &n_bufs), 0);
	pid = n.a.sf.pid;
	assert_int_not_equal(n.rf.snapshot_async(&n.rf, &bufs, &n_bufs), 0);
	assert_false(alive(pid));
	assert_non_null(strstr(n.a.sf.errmsg, "sent nothing"));
	assert_int_equal(n.rf.snapshot_finalize(&n.rf, &bufs, &n_bufs), 0);

	/* Abort (glue_close): the collect fails at once, no new capture. */
	n.a.sf.stall_ms = 60000;
	n.a.retry_after_ns = 0;
	assert_int_equal(n.rf.snapshot(&n.rf, &bufs, &n_bufs), 0);
	pid = n.a.sf.pid;
	glue_adapter_abort(&n.a);
	assert_int_not_equal(n.rf.snapshot_async(&n.rf, &bufs, &n_bufs), 0);
	assert_false(alive(pid));
	assert_non_null(strstr(n.a.sf.errmsg, "aborted"));
	assert_int_equal(n.rf.snapshot_finalize(&n.rf, &bufs, &n_bufs), 0);
	assert_int_equal(n.rf.snapshot(&n.rf, &bufs, &n_bufs), RAFT_BUSY);
	assert_int_equal(n.a.snapshot_failures, 2);
	node_close(&n);
}

static void test_inline_mode(void **state)
{
	struct node n;
	struct raft_buffer *bufs = NULL;
	unsigned n_bufs = 0;
	uint64_t d;

	(void)state;
	node_init(&n, GLUE_SNAPSHOT_INLINE);
	assert_int_equal(n.rf.version, 2);
	assert_null(n.rf.snapshot_async);
	node_define_attach(&n);
	node_put(&n, 100, 100);
	d = fsm_digest(n.f);
	assert_int_equal(n.rf.snapshot(&n.rf, &bufs, &n_bufs), 0);
	assert_int_equal(n_bufs, 1);
	assert_true(restore_digest(&bufs[0], &n) == d);
	assert_int_equal(n.rf.snapshot_finalize(&n.rf, &bufs, &n_bufs), 0);
	assert_int_equal(n.a.snapshots, 1);
	assert_int_equal(n.a.snapshot_last_loop_us, n.a.snapshot_last_us);
	node_close(&n);
}

/* QSG_FORK_BENCH=1: fork() time at several resident sizes. */
static int tiny_snapshot(void *data, struct qsg_wbuf *out)
{
	(void)data;
	qsg_put_u32(out, 42);
	return QSG_OK;
}

static void test_fork_bench(void **state)
{
	static const unsigned mib[] = {0, 256, 1024, 2048, 4096};
	struct node n;
	uint8_t *mem[sizeof mib / sizeof mib[0]] = {NULL};
	size_t have = 0;

	(void)state;
	if (getenv("QSG_FORK_BENCH") == NULL) {
		skip();
	}
	node_init(&n, GLUE_SNAPSHOT_FORK);
	n.a.sm.snapshot = tiny_snapshot;
	for (size_t i = 0; i < sizeof mib / sizeof mib[0]; i++) {
		size_t want = (size_t)mib[i] << 20;
		uint64_t best = UINT64_MAX, sum = 0;
		struct raft_buffer *bufs = NULL;
		unsigned n_bufs = 0;

		if (want > have) {
			/* Kept resident until the end of the test. */
			mem[i] = malloc(want - have);
			assert_non_null(mem[i]);
			memset(mem[i], 1, want - have);
			have = want;
		}
		for (int k = 0; k < 5; k++) {
			n.a.retry_after_ns = 0;
			assert_int_equal(n.rf.snapshot(&n.rf, &bufs, &n_bufs), 0);
			assert_int_equal(n.rf.snapshot_async(&n.rf, &bufs, &n_bufs), 0);
			assert_int_equal(n.rf.snapshot_finalize(&n.rf, &bufs, &n_bufs), 0);
			sum += n.a.snapshot_last_loop_us;
			if (n.a.snapshot_last_loop_us < best) {
				best = n.a.snapshot_last_loop_us;
			}
		}
		printf("fork-bench rss_extra_mib=%u fork_us_min=%llu fork_us_avg=%llu\n", mib[i],
		       (unsigned long long)best, (unsigned long long)(sum / 5));
	}
	for (size_t i = 0; i < sizeof mib / sizeof mib[0]; i++) {
		free(mem[i]);
	}
	node_close(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fork_capture_is_immutable),
	    cmocka_unit_test(test_fork_truncated_and_corrupt),
	    cmocka_unit_test(test_fork_stall_and_abort),
	    cmocka_unit_test(test_inline_mode),
	    cmocka_unit_test(test_fork_bench),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
