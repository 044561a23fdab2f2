/* Applies bounded at any queue depth (issue 10, docs/storage.md "Leases that
 * do not lie").
 * CLEAR and DELETE PURGE of deep queues: the messages leave the state in
 * one O(1) step and fsm_reap frees them (content released) in slices after
 * the apply. Two fsms are fed the same log; one reaps in small slices, the
 * other at other times or not at all: their snapshots stay byte-identical,
 * and a snapshot taken while garbage is pending does not contain it.
 * The backout of a failed member's units of work (MEMBER_FAIL_BOUNDED, then
 * BACKOUT_PENDING): each apply backs out at most FSM_BACKOUT_BUDGET units,
 * the rest stays invisible, a snapshot in between restores with its pending
 * backouts, and the end state is byte-identical to that of the one-apply
 * MEMBER_FAIL. The same for a restarted member (MEMBER_JOIN_BOUNDED) and
 * a forgotten one (MEMBER_REMOVE_BOUNDED, which waits for the backout of
 * its sessions before it drops the member's queues). Links
 * libqsgfsm_checked.la: the invariant checks walk the garbage and the
 * pending backouts too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fsm/fsm_int.h"
#include "fsm/membodies.h"

#define DEEP 200000u
#define BATCH 4096u /* commands per entry */

/* Replicas fed the same entries (the first `n`, 2 unless a test says
 * otherwise); results come from the first. */
#define NREP 4
struct pair {
	struct fsm *f[NREP];
	int n;
	int expect; /* the rc every command must have (QSG_OK) */
	int64_t now;
	struct qsg_wbuf res;
	struct fsm_result r;
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof *p);
	assert_non_null(p);
	for (int i = 0; i < NREP; i++)
		assert_int_equal(fsm_init(&p->f[i], NULL), QSG_OK);
	p->n = 2;
	qsg_wbuf_init(&p->res);
	p->now = 1000000;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;
	for (int i = 0; i < NREP; i++)
		fsm_close(p->f[i]); /* garbage may be pending: freed, no leak */
	qsg_wbuf_close(&p->res);
	free(p);
	return 0;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* One entry of n commands applied to replicas from..to-1; every command
 * must succeed. Returns the apply time on the first one in ms. */
static double apply_to(struct pair *p, int from, int to, const struct fsm_cmd *c, size_t n)
{
	struct qsg_wbuf e, w;
	char errmsg[QSG_ERRMSG_SIZE];
	double ms = 0;
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&w);
	fsm_entry_begin(&e, p->now);
	for (size_t i = 0; i < n; i++) {
		qsg_wbuf_reset(&w);
		assert_int_equal(fsm_cmd_encode(&c[i], &w), QSG_OK);
		fsm_entry_add(&e, w.data, w.len);
	}
	assert_int_equal(e.err, QSG_OK);
	for (int k = from; k < to; k++) {
		struct timespec t0;
		qsg_wbuf_reset(&p->res);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(fsm_apply(p->f[k], e.data, e.len, &p->res, errmsg), QSG_OK);
		if (k == from)
			ms = ms_since(&t0);
		size_t off = 0;
		for (size_t i = 0; i < n; i++) {
			assert_true(off + 8 <= p->res.len);
			uint32_t len = qsg_le32(p->res.data + off);
			assert_int_equal(
			    fsm_result_decode(c[i].op, p->res.data + off + 4, len, &p->r, NULL),
			    QSG_OK);
			assert_int_equal(p->r.rc, p->expect);
			off += 4 + len;
		}
	}
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&w);
	return ms;
}

static double apply_both(struct pair *p, const struct fsm_cmd *c, size_t n)
{
	return apply_to(p, 0, p->n, c, n);
}

static double one(struct pair *p, const struct fsm_cmd *c)
{
	return apply_both(p, c, 1);
}

static void define(struct pair *p, const char *name, uint8_t indx, uint32_t scope)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	strcpy(c.attrs.name, name);
	c.attrs.set = FSM_QA_MAXDEPTH | FSM_QA_INDXTYPE;
	c.attrs.maxdepth = 999999999;
	c.attrs.indxtype = indx;
	if (scope != 0) {
		c.attrs.disp = FSM_DISP_QMGR;
		c.attrs.scope = scope;
	}
	one(p, &c);
}

static uint64_t attach(struct pair *p, uint64_t client, uint32_t member)
{
	struct fsm_cmd c = {.op = FSM_OP_ATTACH, .client_id = client, .member_id = member};
	one(p, &c);
	return p->r.epoch;
}

static void id_of(uint8_t *id, uint32_t i)
{
	memset(id, 0, FSM_ID_LEN);
	for (int k = 0; k < 4; k++)
		id[k] = (uint8_t)(i >> (8 * k));
	id[4] = 0x5a;
}

/* n committed puts of distinct msgids (i from *seq + 1), priorities 0..9. */
static void fill(struct pair *p, const char *queue, uint64_t client, uint64_t ep, uint64_t *seq,
		 uint32_t n)
{
	struct fsm_cmd *c = calloc(BATCH, sizeof *c);
	assert_non_null(c);
	static const char body[] = "0123456789abcdef";
	while (n > 0) {
		uint32_t k = n < BATCH ? n : BATCH;
		for (uint32_t i = 0; i < k; i++) {
			memset(&c[i], 0, sizeof c[i]);
			c[i].op = FSM_OP_PUT;
			c[i].client_id = client;
			c[i].epoch = ep;
			c[i].seq = ++*seq;
			strcpy(c[i].queue, queue);
			c[i].msg.priority = (uint8_t)(*seq % 10);
			id_of(c[i].msg.msgid, (uint32_t)*seq);
			c[i].msg.body.p = (const uint8_t *)body;
			c[i].msg.body.len = sizeof body - 1;
		}
		apply_both(p, c, k);
		n -= k;
	}
	free(c);
}

static bool exists(struct fsm *f, const char *name, uint32_t scope)
{
	struct fsm_qinfo info;
	return fsm_queue_info(f, scope, name, &info) == QSG_OK;
}

static uint32_t depth(struct fsm *f, const char *name, uint32_t scope)
{
	struct fsm_qinfo info;
	assert_int_equal(fsm_queue_info(f, scope, name, &info), QSG_OK);
	return info.curdepth;
}

static void snap(struct fsm *f, struct qsg_wbuf *out)
{
	qsg_wbuf_reset(out);
	assert_int_equal(fsm_snapshot(f, out), QSG_OK);
}

/* Same snapshot bytes on both replicas. Returns the length. */
static size_t assert_same_state(struct pair *p)
{
	struct qsg_wbuf a, b;
	qsg_wbuf_init(&a);
	qsg_wbuf_init(&b);
	snap(p->f[0], &a);
	snap(p->f[1], &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	size_t n = a.len;
	qsg_wbuf_close(&a);
	qsg_wbuf_close(&b);
	return n;
}

/* The built-in provider holds the state's messages and the garbage's. */
static void assert_held(struct fsm *f, uint64_t in_state)
{
	assert_int_equal(membodies_count(f->mem), in_state + fsm_reap_pending(f));
}

/* Reap f in slices of `budget`: each slice frees exactly
 * min(budget, pending) messages; returns the number of calls. */
static unsigned reap_slices(struct fsm *f, unsigned budget, double *max_ms)
{
	unsigned calls = 0;
	bool more = true;
	*max_ms = 0;
	while (more) {
		uint64_t before = fsm_reap_pending(f);
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		more = fsm_reap(f, budget);
		double ms = ms_since(&t0);
		if (ms > *max_ms)
			*max_ms = ms;
		uint64_t want = before < budget ? 0 : before - budget;
		assert_int_equal(fsm_reap_pending(f), want);
		calls++;
		assert_true(calls < 1000000);
	}
	return calls;
}

static void get_by_id(struct pair *p, uint64_t client, uint64_t ep, const char *queue, uint32_t i)
{
	struct fsm_cmd c = {
	    .op = FSM_OP_GET, .client_id = client, .epoch = ep, .flags = FSM_F_MATCH_MSGID};
	strcpy(c.queue, queue);
	id_of(c.msg.msgid, i);
	one(p, &c);
	assert_int_equal(p->r.msg.msgid[0], (uint8_t)i);
	assert_int_equal(p->r.msg.body.len, 16);
}

static void clear_deep_queue(void **state)
{
	struct pair *p = *state;
	uint64_t seq = 0;
	define(p, "Q", FSM_INDX_MSGID, 0);
	uint64_t ep = attach(p, 1, 1);
	fill(p, "Q", 1, ep, &seq, DEEP);
	assert_int_equal(depth(p->f[0], "Q", 0), DEEP);
	size_t full = assert_same_state(p);

	struct fsm_cmd c = {.op = FSM_OP_QCLEAR};
	strcpy(c.queue, "Q");
	double clear_ms = one(p, &c);
	/* Depth 0 at once; every message is garbage, none released yet. */
	for (int k = 0; k < 2; k++) {
		assert_int_equal(depth(p->f[k], "Q", 0), 0);
		assert_int_equal(fsm_available(p->f[k], 1, "Q"), 0);
		assert_int_equal(fsm_reap_pending(p->f[k]), DEEP);
		assert_held(p->f[k], 0);
	}
	/* The snapshot does not contain the garbage. */
	size_t cleared = assert_same_state(p);
	assert_true(cleared < 4096 && full > 30u * DEEP);

	/* The queue works at once: puts, a get by msgid (the new index), a
	 * get in priority order, and the two replicas stay equal. */
	fill(p, "Q", 1, ep, &seq, 10);
	get_by_id(p, 1, ep, "Q", (uint32_t)seq - 3);
	struct fsm_cmd g = {.op = FSM_OP_GET, .client_id = 1, .epoch = ep};
	strcpy(g.queue, "Q");
	one(p, &g);
	assert_int_equal(p->r.msg.priority, 9);
	assert_int_equal(depth(p->f[0], "Q", 0), 8);
	assert_same_state(p);

	/* Replica 1 reaps half in one go, replica 0 in slices of 1000. */
	assert_true(fsm_reap(p->f[1], DEEP / 2));
	assert_int_equal(fsm_reap_pending(p->f[1]), DEEP / 2);
	assert_held(p->f[1], 8);
	assert_same_state(p);
	double max_ms;
	unsigned calls = reap_slices(p->f[0], 1000, &max_ms);
	/* 200 slices of messages, then the index entries (200k keys in
	 * 262144 buckets: about 460 slices). */
	assert_true(calls > DEEP / 1000);
	assert_true(calls < DEEP / 1000 + 600);
	assert_int_equal(fsm_reap_pending(p->f[0]), 0);
	assert_held(p->f[0], 8);
	assert_same_state(p);
	print_message("CLEAR of %u messages: apply %.3f ms; reap in %u slices of 1000, "
		      "longest %.3f ms\n",
		      DEEP, clear_ms, calls, max_ms);

	/* Another CLEAR while replica 1 still has garbage: both lists join. */
	c.op = FSM_OP_QCLEAR;
	one(p, &c);
	assert_int_equal(fsm_reap_pending(p->f[1]), DEEP / 2 + 8);
	assert_int_equal(fsm_reap_pending(p->f[0]), 8);
	assert_same_state(p);
	for (int k = 0; k < 2; k++) {
		while (fsm_reap(p->f[k], 4096))
			;
		assert_held(p->f[k], 0);
		assert_int_equal(fsm_reap_pending(p->f[k]), 0);
	}
	assert_same_state(p);
}

static void delete_purge_deep_queue(void **state)
{
	struct pair *p = *state;
	uint64_t seq = 0;
	define(p, "QD", FSM_INDX_NONE, 0);
	define(p, "OTHER", FSM_INDX_NONE, 0);
	uint64_t ep = attach(p, 1, 1);
	fill(p, "QD", 1, ep, &seq, DEEP / 4);
	fill(p, "OTHER", 1, ep, &seq, 5);

	struct fsm_cmd c = {.op = FSM_OP_QDELETE, .flags = FSM_F_PURGE};
	strcpy(c.queue, "QD");
	one(p, &c);
	for (int k = 0; k < 2; k++) {
		assert_false(exists(p->f[k], "QD", 0));
		assert_int_equal(fsm_reap_pending(p->f[k]), DEEP / 4);
		assert_held(p->f[k], 5);
	}
	assert_same_state(p);

	/* Redefined under the same name while the old messages are garbage. */
	define(p, "QD", FSM_INDX_MSGID, 0);
	assert_int_equal(depth(p->f[0], "QD", 0), 0);
	fill(p, "QD", 1, ep, &seq, 3);
	get_by_id(p, 1, ep, "QD", (uint32_t)seq - 1);
	assert_int_equal(depth(p->f[0], "QD", 0), 2);
	assert_same_state(p);

	double max_ms;
	unsigned calls = reap_slices(p->f[0], 500, &max_ms);
	assert_true(calls >= DEEP / 4 / 500);
	assert_held(p->f[0], 7);
	assert_same_state(p);
	/* Replica 1 is closed by teardown with its garbage pending. */
	assert_int_equal(fsm_reap_pending(p->f[1]), DEEP / 4);
}

/* fsm_restore replaces the state: the garbage is freed without release
 * (the provider's `restored` drops what the new state does not claim). */
static void restore_with_garbage(void **state)
{
	struct pair *p = *state;
	uint64_t seq = 0;
	define(p, "Q", FSM_INDX_CORRELID, 0);
	uint64_t ep = attach(p, 1, 1);
	fill(p, "Q", 1, ep, &seq, 5000);
	struct fsm_cmd c = {.op = FSM_OP_QCLEAR};
	strcpy(c.queue, "Q");
	one(p, &c);
	fill(p, "Q", 1, ep, &seq, 7);
	assert_int_equal(fsm_reap_pending(p->f[0]), 5000);

	struct qsg_wbuf s;
	qsg_wbuf_init(&s);
	snap(p->f[1], &s);
	assert_int_equal(fsm_restore(p->f[0], s.data, s.len, NULL), QSG_OK);
	assert_int_equal(fsm_reap_pending(p->f[0]), 0);
	assert_false(fsm_reap(p->f[0], 1));
	assert_int_equal(membodies_count(p->f[0]->mem), 7);
	assert_int_equal(depth(p->f[0], "Q", 0), 7);
	assert_same_state(p);
	qsg_wbuf_close(&s);
}

/* MEMBER_REMOVE drops the member's QMGR queues: their messages go to the
 * garbage too. */
static void member_remove_drops_queue(void **state)
{
	struct pair *p = *state;
	uint64_t seq = 0;
	struct fsm_cmd j = {.op = FSM_OP_MEMBER_JOIN, .member_id = 2};
	strcpy(j.name, "QM2");
	one(p, &j);
	define(p, "PRIV", FSM_INDX_MSGID, 2);
	uint64_t ep = attach(p, 1, 2);
	fill(p, "PRIV", 1, ep, &seq, 3000);
	assert_int_equal(depth(p->f[0], "PRIV", 2), 3000);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(p->f[0], 2, &m), QSG_OK);
	struct fsm_cmd f = {.op = FSM_OP_MEMBER_FAIL, .member_id = 2};
	f.seq = (uint64_t)m.lease_expiry_ms;
	p->now = m.lease_expiry_ms + 1;
	one(p, &f);
	struct fsm_cmd r = {.op = FSM_OP_MEMBER_REMOVE, .member_id = 2};
	one(p, &r);
	for (int k = 0; k < 2; k++) {
		assert_false(exists(p->f[k], "PRIV", 2));
		assert_int_equal(fsm_reap_pending(p->f[k]), 3000);
	}
	assert_same_state(p);
	double max_ms;
	reap_slices(p->f[0], 128, &max_ms);
	assert_held(p->f[0], 0);
	assert_same_state(p);
}

/* --- backout of a failed member ----------------------------------------- */

#define NSESS 5
#define LOCKED 1500 /* gets under syncpoint per session */
#define HELD 400 /* puts under syncpoint per session */
#define BIG 8192 /* bodies of the messages moved to the backout queue */

/* k commands of session (client, ep) of the same kind, in entries. */
static void sess_batch(struct pair *p, uint8_t op, uint64_t client, uint64_t ep, uint64_t *seq,
		       const char *queue, uint32_t flags, const void *body, size_t blen, uint32_t k)
{
	struct fsm_cmd *c = calloc(BATCH, sizeof *c);
	assert_non_null(c);
	while (k > 0) {
		uint32_t n = k < BATCH ? k : BATCH;
		for (uint32_t i = 0; i < n; i++) {
			memset(&c[i], 0, sizeof c[i]);
			c[i].op = op;
			c[i].client_id = client;
			c[i].epoch = ep;
			c[i].flags = flags;
			strcpy(c[i].queue, queue);
			if (op == FSM_OP_PUT) {
				c[i].seq = ++*seq;
				c[i].msg.priority = (uint8_t)(*seq % 10);
				id_of(c[i].msg.msgid, (uint32_t)*seq);
				c[i].msg.body.p = body;
				c[i].msg.body.len = blen;
			}
		}
		apply_both(p, c, n);
		k -= n;
	}
	free(c);
}

/* Queue `name` (disposition disp, scope) whose messages go to BOQ at
 * their first backout. */
static void define_boq(struct pair *p, const char *name, uint8_t disp, uint32_t scope)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	strcpy(c.attrs.name, name);
	c.attrs.set = FSM_QA_BOTHRESH | FSM_QA_BOQNAME | FSM_QA_MAXDEPTH;
	c.attrs.maxdepth = 999999999;
	c.attrs.bothresh = 1;
	strcpy(c.attrs.boqname, "BOQ");
	c.attrs.disp = disp;
	c.attrs.scope = scope;
	one(p, &c);
}

static uint64_t pending(struct fsm *f)
{
	return fsm_backout_pending(f);
}

/* Member 2 joins every replica (p->n of them): its MEMBER_JOIN. */
static struct fsm_cmd join2(struct pair *p, unsigned n)
{
	p->n = n;
	struct fsm_cmd j = {.op = FSM_OP_MEMBER_JOIN, .member_id = 2};
	strcpy(j.name, "QM2");
	one(p, &j);
	return j;
}

/* The MEMBER_FAIL_BOUNDED the leader would send for member 2 once its
 * lease ran out, with the clock moved past it. */
static struct fsm_cmd fail2_bounded(struct pair *p)
{
	struct fsm_member m;
	assert_int_equal(fsm_member_get(p->f[0], 2, &m), QSG_OK);
	p->now = m.lease_expiry_ms + 1;
	struct fsm_cmd fb = {.op = FSM_OP_MEMBER_FAIL_BOUNDED, .member_id = 2};
	fb.seq = (uint64_t)m.lease_expiry_ms;
	return fb;
}

/* Queues Q (indexed by msgid) and BOQ, and QB whose backouts go to BOQ:
 * member 1's session 1 fills Q with NSESS x LOCKED + 1000 messages and QB
 * with 300 of BIG bytes. Then sessions 10.. of member 2 (attached now,
 * whatever member 2's state) hold under syncpoint LOCKED gets and HELD puts
 * on Q each, and the last one 300 gets from QB (their backout moves them
 * to BOQ, content copied). With `priv`, member 2 also has a QMGR queue PRIV
 * whose backouts go to the shared BOQ: its session 30 fills it with PRIVN
 * committed messages and session 13 gets them all under syncpoint. Returns
 * the number of messages in member 2's units of work. */
#define PRIVN 600
static uint64_t member2_uows(struct pair *p, uint64_t ep[NSESS], bool priv)
{
	static uint8_t big[BIG];
	memset(big, 'b', sizeof big);
	uint64_t seq = 0;
	define(p, "Q", FSM_INDX_MSGID, 0);
	define(p, "BOQ", FSM_INDX_NONE, 0);
	define_boq(p, "QB", 0, 0);
	uint64_t ep1 = attach(p, 1, 1);
	fill(p, "Q", 1, ep1, &seq, NSESS * LOCKED + 1000);
	sess_batch(p, FSM_OP_PUT, 1, ep1, &seq, "QB", 0, big, sizeof big, 300);
	uint64_t total = 0;
	for (int i = 0; i < NSESS; i++) {
		uint64_t cl = 10 + (uint64_t)i, s2 = 0;
		ep[i] = attach(p, cl, 2);
		sess_batch(p, FSM_OP_GET, cl, ep[i], NULL, "Q", FSM_F_SYNCPOINT, NULL, 0, LOCKED);
		sess_batch(p, FSM_OP_PUT, cl, ep[i], &s2, "Q", FSM_F_SYNCPOINT, "held", 4, HELD);
		total += LOCKED + HELD;
	}
	sess_batch(p, FSM_OP_GET, 14, ep[4], NULL, "QB", FSM_F_SYNCPOINT, NULL, 0, 300);
	total += 300;
	if (priv) {
		define_boq(p, "PRIV", FSM_DISP_QMGR, 2);
		uint64_t ep30 = attach(p, 30, 2), s30 = 0;
		fill(p, "PRIV", 30, ep30, &s30, PRIVN);
		sess_batch(p, FSM_OP_GET, 13, ep[3], NULL, "PRIV", FSM_F_SYNCPOINT, NULL, 0, PRIVN);
		total += PRIVN;
	}
	assert_int_equal(depth(p->f[0], "Q", 0), NSESS * (LOCKED + HELD) + 1000);
	assert_same_state(p);
	return total;
}

static void failed_member_backout_bounded(void **state)
{
	struct pair *p = *state;
	join2(p, 3); /* replica 2 gets the one-apply MEMBER_FAIL instead */
	uint64_t ep[NSESS];
	uint64_t total = member2_uows(p, ep, false);

	struct fsm_cmd fb = fail2_bounded(p);
	struct fsm_member m;
	apply_to(p, 0, 2, &fb, 1);
	struct fsm_cmd fl = fb;
	fl.op = FSM_OP_MEMBER_FAIL;
	apply_to(p, 2, 3, &fl, 1);
	p->n = 2;
	assert_int_equal(pending(p->f[2]), 0);

	/* The declaration: member FAILED, sessions fenced, FSM_BACKOUT_BUDGET
	 * messages backed out (all of session 10's first ones), the rest
	 * pending and invisible. */
	assert_int_equal(fsm_member_get(p->f[0], 2, &m), QSG_OK);
	assert_int_equal(m.state, FSM_MEMBER_FAILED);
	assert_int_equal(pending(p->f[0]), total - FSM_BACKOUT_BUDGET);
	assert_int_equal(pending(p->f[1]), total - FSM_BACKOUT_BUDGET);
	struct fsm_qinfo qi;
	assert_int_equal(fsm_queue_info(p->f[0], 0, "Q", &qi), QSG_OK);
	assert_int_equal(qi.curdepth - qi.uncommitted, 1000 + FSM_BACKOUT_BUDGET);
	struct fsm_cmd late = {.op = FSM_OP_COMMIT, .client_id = 11, .epoch = ep[1], .seq = 1};
	p->expect = QSG_RC_SESSION_FENCED; /* its uow is no longer its own */
	one(p, &late);
	p->expect = QSG_OK;
	assert_same_state(p);

	/* EXPIRE does not drop a session whose backout is pending. */
	struct fsm_cmd ex = {.op = FSM_OP_EXPIRE, .seq = 0};
	p->now += 1000;
	one(p, &ex);
	assert_int_equal(pending(p->f[0]), total - FSM_BACKOUT_BUDGET);

	/* Follow-ups, each bounded; halfway, replica 1 restarts from a
	 * snapshot of replica 0 (its pending backouts come back with it). */
	struct fsm_cmd bp = {.op = FSM_OP_BACKOUT_PENDING};
	unsigned steps = 0;
	double max_ms = 0;
	bool restored = false;
	while (pending(p->f[0]) > 0) {
		uint64_t before = pending(p->f[0]);
		double ms = one(p, &bp);
		if (ms > max_ms)
			max_ms = ms;
		uint64_t after = pending(p->f[0]);
		assert_true(after < before);
		assert_true(before - after <= FSM_BACKOUT_BUDGET);
		assert_int_equal(pending(p->f[1]), after);
		steps++;
		if (!restored && after < total / 2) {
			struct qsg_wbuf s;
			qsg_wbuf_init(&s);
			snap(p->f[0], &s);
			assert_int_equal(fsm_restore(p->f[1], s.data, s.len, NULL), QSG_OK);
			qsg_wbuf_close(&s);
			assert_int_equal(pending(p->f[1]), after);
			restored = true;
		}
		assert_same_state(p);
	}
	assert_true(restored);
	/* 300 moves to BOQ cost 3 units each (8 KiB of content copied). */
	uint64_t units = total - 300 + 300 * (1 + BIG / FSM_BACKOUT_UNIT_BYTES);
	assert_true(steps + 1 >= units / FSM_BACKOUT_BUDGET);
	assert_true(steps <= units / FSM_BACKOUT_BUDGET + 2);
	print_message("backout of %llu messages: %u BACKOUT_PENDING steps, longest %.3f ms\n",
		      (unsigned long long)total, steps, max_ms);
	/* Nothing left: a further step changes nothing. */
	one(p, &bp);
	assert_int_equal(depth(p->f[0], "Q", 0), NSESS * LOCKED + 1000);
	assert_int_equal(depth(p->f[0], "BOQ", 0), 300);

	/* The end state is the one-apply MEMBER_FAIL's, byte for byte (same
	 * order of backout, same backout queue seqnos, same times). */
	struct qsg_wbuf a, b;
	qsg_wbuf_init(&a);
	qsg_wbuf_init(&b);
	snap(p->f[0], &a);
	/* Replica 2 applied neither the EXPIRE nor the steps: last_time
	 * differs; give it the same last entry. */
	apply_to(p, 2, 3, &bp, 1);
	snap(p->f[2], &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	qsg_wbuf_close(&a);
	qsg_wbuf_close(&b);
}

/* ATTACH of a session whose backout is pending backs out the rest at once. */
static void attach_finishes_pending(void **state)
{
	struct pair *p = *state;
	uint64_t seq = 0;
	define(p, "Q", FSM_INDX_NONE, 0);
	struct fsm_cmd j = {.op = FSM_OP_MEMBER_JOIN, .member_id = 2};
	strcpy(j.name, "QM2");
	one(p, &j);
	uint64_t ep1 = attach(p, 1, 1);
	fill(p, "Q", 1, ep1, &seq, 3000);
	uint64_t a = attach(p, 20, 2), b = attach(p, 21, 2);
	sess_batch(p, FSM_OP_GET, 20, a, NULL, "Q", FSM_F_SYNCPOINT, NULL, 0, 1500);
	sess_batch(p, FSM_OP_GET, 21, b, NULL, "Q", FSM_F_SYNCPOINT, NULL, 0, 1500);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(p->f[0], 2, &m), QSG_OK);
	p->now = m.lease_expiry_ms + 1;
	struct fsm_cmd fb = {.op = FSM_OP_MEMBER_FAIL_BOUNDED, .member_id = 2};
	fb.seq = (uint64_t)m.lease_expiry_ms;
	one(p, &fb);
	assert_int_equal(pending(p->f[0]), 3000 - FSM_BACKOUT_BUDGET);
	/* Client 21 reconnects through member 1 before any follow-up. */
	uint64_t b2 = attach(p, 21, 1);
	assert_true(b2 > b);
	assert_int_equal(pending(p->f[0]), 1500 - FSM_BACKOUT_BUDGET);
	assert_int_equal(pending(p->f[1]), 1500 - FSM_BACKOUT_BUDGET);
	assert_same_state(p);
	struct fsm_cmd bp = {.op = FSM_OP_BACKOUT_PENDING, .seq = 100};
	one(p, &bp);
	assert_int_equal(pending(p->f[0]), 1500 - FSM_BACKOUT_BUDGET - 100);
	bp.seq = 0;
	one(p, &bp);
	assert_int_equal(pending(p->f[0]), 0);
	assert_int_equal(fsm_available(p->f[0], 1, "Q"), 3000);
	assert_same_state(p);
}

/* --- backout of a restarted or forgotten member ------------------------ */

/* BACKOUT_PENDING on the replicas until nothing is pending: each step backs
 * out at least one message and at most the budget, and they stay equal.
 * Returns the number of steps. */
static unsigned backout_steps(struct pair *p)
{
	struct fsm_cmd bp = {.op = FSM_OP_BACKOUT_PENDING};
	unsigned steps = 0;
	while (pending(p->f[0]) > 0) {
		uint64_t before = pending(p->f[0]);
		one(p, &bp);
		uint64_t after = pending(p->f[0]);
		assert_true(after < before);
		assert_true(before - after <= FSM_BACKOUT_BUDGET);
		assert_int_equal(pending(p->f[1]), after);
		steps++;
		assert_true(steps < 1000);
	}
	assert_same_state(p);
	return steps;
}

/* Replicas a and b: byte-identical snapshots, equal digests. */
static void assert_replicas_equal(struct pair *p, int a, int b)
{
	struct qsg_wbuf x, y;
	qsg_wbuf_init(&x);
	qsg_wbuf_init(&y);
	snap(p->f[a], &x);
	snap(p->f[b], &y);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.data, y.data, x.len);
	assert_true(fsm_digest(p->f[a]) == fsm_digest(p->f[b]));
	qsg_wbuf_close(&x);
	qsg_wbuf_close(&y);
}

/* MEMBER_JOIN_BOUNDED of a member that restarted (before its lease ran
 * out: its sessions are still attached, their units of work full): the
 * apply backs out at most FSM_BACKOUT_BUDGET units, the rest is pending
 * and invisible, BACKOUT_PENDING finishes it, and the end state is the
 * one-apply MEMBER_JOIN's byte for byte. */
static void restarted_member_join_bounded(void **state)
{
	struct pair *p = *state;
	struct fsm_cmd j = join2(p, 3); /* replica 2: the one-apply MEMBER_JOIN */
	uint64_t ep[NSESS];
	uint64_t total = member2_uows(p, ep, false);
	assert_true(total > FSM_BACKOUT_BUDGET);

	p->now += 100; /* within its lease */
	struct fsm_cmd jb = j;
	jb.op = FSM_OP_MEMBER_JOIN_BOUNDED;
	strcpy(jb.client_addr, "127.0.0.1:1415"); /* a new incarnation */
	apply_to(p, 0, 2, &jb, 1);
	struct fsm_cmd ju = jb;
	ju.op = FSM_OP_MEMBER_JOIN;
	apply_to(p, 2, 3, &ju, 1);
	p->n = 2;
	assert_int_equal(pending(p->f[2]), 0);
	assert_int_equal(depth(p->f[2], "Q", 0), NSESS * LOCKED + 1000);

	/* The join took effect at once; at most the budget was backed out
	 * (session 10's first gets), the rest is pending and invisible. */
	struct fsm_member m;
	for (int k = 0; k < 2; k++) {
		assert_int_equal(fsm_member_get(p->f[k], 2, &m), QSG_OK);
		assert_int_equal(m.state, FSM_MEMBER_ACTIVE);
		assert_int_equal(m.lease_expiry_ms, p->now + FSM_DEFAULT_LEASE_MS);
		assert_string_equal(m.client_addr, "127.0.0.1:1415");
		assert_int_equal(m.sessions, 0);
		assert_int_equal(pending(p->f[k]), total - FSM_BACKOUT_BUDGET);
	}
	struct fsm_qinfo qi;
	assert_int_equal(fsm_queue_info(p->f[0], 0, "Q", &qi), QSG_OK);
	assert_int_equal(qi.curdepth - qi.uncommitted, 1000 + FSM_BACKOUT_BUDGET);
	assert_int_equal(fsm_available(p->f[0], 1, "Q"), 1000 + FSM_BACKOUT_BUDGET);
	/* The old incarnation's sessions are fenced. */
	struct fsm_cmd late = {.op = FSM_OP_COMMIT, .client_id = 12, .epoch = ep[2], .seq = 1};
	p->expect = QSG_RC_SESSION_FENCED;
	apply_to(p, 0, 3, &late, 1);
	p->expect = QSG_OK;
	assert_same_state(p);

	unsigned steps = backout_steps(p);
	uint64_t units = total - 300 + 300 * (1 + BIG / FSM_BACKOUT_UNIT_BYTES);
	assert_true(steps + 1 >= units / FSM_BACKOUT_BUDGET);
	assert_true(steps <= units / FSM_BACKOUT_BUDGET + 2);
	assert_int_equal(depth(p->f[0], "Q", 0), NSESS * LOCKED + 1000);
	assert_int_equal(depth(p->f[0], "BOQ", 0), 300);
	assert_int_equal(fsm_available(p->f[0], 1, "Q"), NSESS * LOCKED + 1000);
	assert_replicas_equal(p, 0, 2);
}

/* MEMBER_REMOVE_BOUNDED of a FAILED member that still has attached
 * sessions (an ATTACH that raced the failure) with full units of work,
 * some on its own queue PRIV whose backouts go to the shared BOQ: the
 * apply backs out at most the budget and leaves the member and PRIV in
 * place (PRIV holds pending messages, which move to BOQ when backed out);
 * after BACKOUT_PENDING has finished, a second MEMBER_REMOVE_BOUNDED
 * forgets the member and drops PRIV, and the end state is the one-apply
 * MEMBER_REMOVE's. */
static void forgotten_member_remove_bounded(void **state)
{
	struct pair *p = *state;
	join2(p, 3); /* replica 2 gets the one-apply MEMBER_REMOVE instead */
	struct fsm_member m;
	struct fsm_cmd fl = fail2_bounded(p);
	fl.op = FSM_OP_MEMBER_FAIL;
	one(p, &fl);
	uint64_t ep[NSESS];
	uint64_t total = member2_uows(p, ep, true);

	struct fsm_cmd rb = {.op = FSM_OP_MEMBER_REMOVE_BOUNDED, .member_id = 2};
	apply_to(p, 0, 2, &rb, 1);
	struct fsm_cmd ru = {.op = FSM_OP_MEMBER_REMOVE, .member_id = 2};
	apply_to(p, 2, 3, &ru, 1);
	p->n = 2;
	assert_int_equal(pending(p->f[2]), 0);
	assert_int_equal(fsm_member_get(p->f[2], 2, &m), QSG_RC_UNKNOWN_OBJECT);
	assert_false(exists(p->f[2], "PRIV", 2));
	assert_int_equal(depth(p->f[2], "BOQ", 0), 300 + PRIVN);

	for (int k = 0; k < 2; k++) {
		assert_int_equal(pending(p->f[k]), total - FSM_BACKOUT_BUDGET);
		assert_int_equal(fsm_member_get(p->f[k], 2, &m), QSG_OK);
		assert_int_equal(m.state, FSM_MEMBER_FAILED);
		assert_int_equal(m.sessions, 0);
		assert_int_equal(depth(p->f[k], "PRIV", 2), PRIVN);
	}
	assert_same_state(p);
	/* Sent again before the backout is done: it waits, nothing changes. */
	uint64_t d0 = fsm_digest(p->f[0]);
	one(p, &rb);
	assert_true(fsm_digest(p->f[0]) == d0);
	assert_int_equal(fsm_member_get(p->f[0], 2, &m), QSG_OK);

	backout_steps(p);
	assert_int_equal(fsm_member_get(p->f[0], 2, &m), QSG_OK); /* not yet */
	assert_int_equal(depth(p->f[0], "PRIV", 2), 0);
	assert_int_equal(depth(p->f[0], "BOQ", 0), 300 + PRIVN);
	one(p, &rb);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(fsm_member_get(p->f[k], 2, &m), QSG_RC_UNKNOWN_OBJECT);
		assert_false(exists(p->f[k], "PRIV", 2));
	}
	assert_same_state(p);
	assert_replicas_equal(p, 0, 2);
	/* Once it is gone, a further one is refused. */
	p->expect = QSG_RC_UNKNOWN_OBJECT;
	one(p, &rb);
}

/* The usual order: MEMBER_FAIL_BOUNDED leaves a backout pending, REMOVE
 * MEMBER takes the member out of the configuration before it is done.
 * MEMBER_REMOVE_BOUNDED waits for it and ends as MEMBER_FAIL + MEMBER_REMOVE
 * in one apply each; MEMBER_REMOVE (kept for old logs, replica 3) did not
 * wait and left PRIV behind, with no member to own it. */
static void remove_waits_for_fail_backout(void **state)
{
	struct pair *p = *state;
	join2(p, 4);
	uint64_t ep[NSESS];
	uint64_t total = member2_uows(p, ep, true);
	struct fsm_cmd fb = fail2_bounded(p);
	struct fsm_member m;
	struct fsm_cmd fl = fb;
	fl.op = FSM_OP_MEMBER_FAIL;
	apply_to(p, 0, 2, &fb, 1);
	apply_to(p, 3, 4, &fb, 1);
	apply_to(p, 2, 3, &fl, 1);
	assert_int_equal(pending(p->f[0]), total - FSM_BACKOUT_BUDGET);

	struct fsm_cmd rb = {.op = FSM_OP_MEMBER_REMOVE_BOUNDED, .member_id = 2};
	struct fsm_cmd ru = {.op = FSM_OP_MEMBER_REMOVE, .member_id = 2};
	uint64_t d0 = fsm_digest(p->f[0]);
	apply_to(p, 0, 2, &rb, 1);
	apply_to(p, 2, 4, &ru, 1);
	assert_true(fsm_digest(p->f[0]) == d0); /* waits */
	assert_int_equal(fsm_member_get(p->f[0], 2, &m), QSG_OK);
	assert_int_equal(fsm_member_get(p->f[3], 2, &m), QSG_RC_UNKNOWN_OBJECT);
	assert_true(exists(p->f[3], "PRIV", 2)); /* uncommitted: not deleted */
	assert_int_equal(pending(p->f[3]), total - FSM_BACKOUT_BUDGET);

	p->n = 2;
	struct fsm_cmd bp = {.op = FSM_OP_BACKOUT_PENDING};
	while (pending(p->f[3]) > 0)
		apply_to(p, 3, 4, &bp, 1);
	backout_steps(p);
	one(p, &rb);
	assert_int_equal(fsm_member_get(p->f[0], 2, &m), QSG_RC_UNKNOWN_OBJECT);
	assert_false(exists(p->f[0], "PRIV", 2));
	assert_replicas_equal(p, 0, 2);
	assert_true(exists(p->f[3], "PRIV", 2));
	assert_true(fsm_digest(p->f[3]) != fsm_digest(p->f[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(clear_deep_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(delete_purge_deep_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(restore_with_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(member_remove_drops_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(failed_member_backout_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(attach_finishes_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(restarted_member_join_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(forgotten_member_remove_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(remove_waits_for_fail_backout, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
