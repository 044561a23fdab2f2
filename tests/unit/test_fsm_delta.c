/* Delta snapshots (format 12, src/fsm/fsm_delta.c, docs/storage.md "A base
 * and deltas"): after every entry of seeded random runs (puts with and
 * without syncpoint, priorities and expiries, gets, commits, backouts that
 * move messages to a backout queue, EXPIRE, CLEAR, DELETE PURGE and a new
 * queue of the same name, a member's failure that backs out its sessions,
 * chunked messages, the reaper in slices), the state restored from the
 * base (a full snapshot taken at a random earlier entry) plus the delta
 * snapshots to exactly the live state's bytes and digest. A hook left out
 * of the tracking makes this fail (docs/storage.md says which). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm_int.h"

struct t {
	struct fsm *f;
	int64_t now;
	uint64_t rng;
	uint64_t ep[3]; /* sessions 1 and 2 (member 1), 3 (member 2) */
	uint64_t seq[3], uows[3];
	struct fsm_result r;
	struct qsg_wbuf base; /* the full snapshot at the base */
	uint64_t base_index, entries;
	uint64_t checks, rebases, removed_max, touched_max, base_max_count;
	uint8_t *big; /* a chunked message's body */
};

#define BIG (FSM_CHUNK_MAX + 100)

static uint32_t rnd(struct t *t, uint32_t n)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return (uint32_t)(t->rng % n);
}

static void rebase(struct t *t)
{
	qsg_wbuf_reset(&t->base);
	assert_int_equal(fsm_snapshot(t->f, &t->base), QSG_OK);
	fsm_delta_rebase(t->f);
	t->base_index = t->entries;
	t->rebases++;
}

/* The check: base + delta restores to the live state. */
static void check(struct t *t)
{
	struct qsg_wbuf full, d, again;
	qsg_wbuf_init(&full);
	qsg_wbuf_init(&d);
	qsg_wbuf_init(&again);
	assert_int_equal(fsm_snapshot(t->f, &full), QSG_OK);
	struct fsm_baseref ref = {.index = t->base_index, .size = t->base.len, .crc = 7};
	assert_true(fsm_delta_valid(t->f));
	assert_int_equal(fsm_snapshot_delta(t->f, &ref, &d), QSG_OK);
	struct fsm_baseref got;
	assert_int_equal(fsm_snapshot_baseref(d.data, d.len, &got), QSG_OK);
	assert_true(got.index == ref.index && got.size == ref.size && got.crc == ref.crc);
	/* A delta alone is refused. */
	struct fsm_image *img, *old;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	assert_int_equal(fsm_restore_decode(d.data, d.len, &img, NULL), QSG_RC_BAD_VERSION);
	int rc = fsm_restore_decode_delta(t->base.data, t->base.len, d.data, d.len, &img, errmsg);
	if (rc != QSG_OK)
		fail_msg("entry %llu (base at %llu): delta restore: %s",
			 (unsigned long long)t->entries, (unsigned long long)t->base_index, errmsg);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, t->f);
	assert_int_equal(fsm_restore_install(g, img, &old, errmsg), QSG_OK);
	fsm_image_free(old);
	assert_true(fsm_restore_claims(g, SIZE_MAX));
	assert_int_equal(fsm_snapshot(g, &again), QSG_OK);
	if (again.len != full.len || memcmp(again.data, full.data, full.len) != 0)
		fail_msg("entry %llu (base at %llu): base + delta restores to a different "
			 "state (%zu bytes, live %zu)",
			 (unsigned long long)t->entries, (unsigned long long)t->base_index,
			 again.len, full.len);
	assert_true(fsm_digest(g) == fsm_digest(t->f));
	assert_false(fsm_delta_valid(g)); /* a restored state has no base */
	fsm_close(g);
	t->checks++;
	if (t->f->dt.nremoved > t->removed_max)
		t->removed_max = t->f->dt.nremoved;
	if (t->f->dt.ntouched > t->touched_max)
		t->touched_max = t->f->dt.ntouched;
	if (t->f->dt.base_count > t->base_max_count)
		t->base_max_count = t->f->dt.base_count;
	qsg_wbuf_close(&full);
	qsg_wbuf_close(&d);
	qsg_wbuf_close(&again);
}

static int run(struct t *t, const struct fsm_cmd *c)
{
	struct qsg_wbuf w, e, res;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&res);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	fsm_entry_begin(&e, t->now);
	fsm_entry_add(&e, w.data, w.len);
	int arc = fsm_apply(t->f, e.data, e.len, &res, errmsg);
	if (arc != QSG_OK)
		fail_msg("op %u: apply: %s", c->op, errmsg);
	uint32_t len = qsg_le32(res.data);
	assert_int_equal(fsm_result_decode(c->op, res.data + 4, len, &t->r, NULL), QSG_OK);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&res);
	t->entries++;
	state_check(t->f);
	if (t->base.len > 0)
		check(t);
	return t->r.rc;
}

static void define(struct t *t, const char *name, const char *boq, uint8_t indx)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	strcpy(c.attrs.name, name);
	c.attrs.maxdepth = 1000000;
	c.attrs.maxmsgl = 4 * FSM_CHUNK_MAX;
	c.attrs.set = FSM_QA_MAXDEPTH | FSM_QA_MAXMSGL;
	if (boq != NULL) {
		strcpy(c.attrs.boqname, boq);
		c.attrs.bothresh = 2;
		c.attrs.set |= FSM_QA_BOQNAME | FSM_QA_BOTHRESH;
	}
	if (indx != 0) {
		c.attrs.indxtype = indx;
		c.attrs.set |= FSM_QA_INDXTYPE;
	}
	assert_int_equal(run(t, &c), QSG_OK);
}

static uint64_t attach(struct t *t, uint64_t client, uint32_t member)
{
	struct fsm_cmd c = {.op = FSM_OP_ATTACH, .client_id = client, .member_id = member};
	assert_int_equal(run(t, &c), QSG_OK);
	return t->r.epoch;
}

static void join(struct t *t, uint32_t id)
{
	struct fsm_cmd j = {.op = FSM_OP_MEMBER_JOIN, .member_id = id};
	snprintf(j.name, sizeof j.name, "QM%u", id);
	(void)run(t, &j);
}

static int put(struct t *t, unsigned s, const char *q, uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = s + 1, .epoch = t->ep[s]};
	c.seq = ++t->seq[s];
	c.flags = flags;
	strcpy(c.queue, q);
	c.msg.expiry_ms = rnd(t, 4) == 0 ? t->now + 1 + rnd(t, 400) : 0;
	c.msg.priority = (uint8_t)rnd(t, 10);
	c.msg.persistent = (uint8_t)rnd(t, 2);
	if (rnd(t, 3) == 0)
		c.msg.correlid[0] = (uint8_t)(1 + rnd(t, 4));
	if (rnd(t, 5) == 0)
		c.msg.msgid[0] = (uint8_t)(1 + rnd(t, 200));
	c.msg.body.p = (const uint8_t *)"body";
	c.msg.body.len = 1 + rnd(t, 4);
	return run(t, &c);
}

/* A two-part message, both parts in a row (it becomes visible with the
 * last part, or at the commit under syncpoint). */
static void put_big(struct t *t, unsigned s, const char *q, uint32_t flags)
{
	uint64_t seqno = 0;
	for (uint32_t part = 0; part < 2; part++) {
		struct fsm_cmd c = {.op = FSM_OP_PUT_CHUNK,
				    .client_id = s + 1,
				    .epoch = t->ep[s],
				    .seq = part == 0 ? ++t->seq[s] : 0,
				    .flags = flags,
				    .part = part,
				    .total = BIG};
		strcpy(c.queue, q);
		c.msg.priority = (uint8_t)rnd(t, 10);
		c.msg.seqno = seqno;
		c.msg.body.p = t->big + (size_t)part * FSM_CHUNK_MAX;
		c.msg.body.len = fsm_part_len(0, BIG, part);
		if (run(t, &c) != QSG_OK || t->r.duplicate)
			return;
		seqno = t->r.msg.seqno;
	}
}

static int sess(struct t *t, unsigned s, uint8_t op, uint32_t flags, const char *q)
{
	struct fsm_cmd c = {.op = op, .client_id = s + 1, .epoch = t->ep[s], .flags = flags};
	if (op == FSM_OP_COMMIT)
		c.seq = ++t->uows[s];
	if (q != NULL)
		strcpy(c.queue, q);
	return run(t, &c);
}

static void fail_member2(struct t *t)
{
	struct fsm_member m;
	assert_int_equal(fsm_member_get(t->f, 2, &m), QSG_OK);
	if (m.state != FSM_MEMBER_ACTIVE)
		return;
	struct fsm_cmd c = {.op = FSM_OP_MEMBER_FAIL, .member_id = 2};
	c.seq = (uint64_t)m.lease_expiry_ms;
	if (t->now <= m.lease_expiry_ms)
		t->now = m.lease_expiry_ms + 1;
	(void)run(t, &c);
	join(t, 2); /* back, with a new session */
	t->ep[2] = attach(t, 3, 2);
	t->uows[2] = t->r.uows_done;
	t->seq[2] = t->r.put_seq;
}

static void one_run(uint64_t seed, int steps)
{
	struct t t;
	memset(&t, 0, sizeof t);
	t.rng = seed * 0x9e3779b97f4a7c15ull;
	t.now = 1000000;
	t.big = calloc(1, BIG);
	assert_non_null(t.big);
	for (size_t i = 0; i < BIG; i += 4096)
		t.big[i] = (uint8_t)i;
	qsg_wbuf_init(&t.base);
	assert_int_equal(fsm_init(&t.f, NULL), QSG_OK);
	rebase(&t); /* at depth 0 */
	join(&t, 1);
	join(&t, 2);
	t.ep[0] = attach(&t, 1, 1);
	t.ep[1] = attach(&t, 2, 1);
	t.ep[2] = attach(&t, 3, 2);
	define(&t, "BOQ", NULL, 0);
	define(&t, "Q", "BOQ", 0);
	define(&t, "IQ", "BOQ", FSM_INDX_CORRELID);
	const char *names[] = {"Q", "BOQ", "IQ"};
	for (int i = 0; i < steps; i++) {
		uint32_t k = rnd(&t, 1000);
		unsigned s = rnd(&t, 3);
		const char *q = names[rnd(&t, 3)];
		if (k < 350 || (k < 450 && (i / 300) % 2 == 0)) {
			(void)put(&t, s, q, rnd(&t, 3) == 0 ? FSM_F_SYNCPOINT : 0);
		} else if (k < 360) {
			put_big(&t, s, q, rnd(&t, 2) ? FSM_F_SYNCPOINT : 0);
		} else if (k < 480) {
			(void)sess(&t, s, FSM_OP_GET, 0, q);
		} else if (k < 640) {
			(void)sess(&t, s, FSM_OP_GET, FSM_F_SYNCPOINT, q);
		} else if (k < 740) {
			(void)sess(&t, s, FSM_OP_BACKOUT, 0, NULL);
		} else if (k < 800) {
			(void)sess(&t, s, FSM_OP_COMMIT, 0, NULL);
		} else if (k < 808) {
			struct fsm_cmd c = {.op = FSM_OP_QCLEAR};
			strcpy(c.queue, q);
			(void)run(&t, &c); /* refused while uncommitted */
		} else if (k < 812) {
			struct fsm_cmd c = {.op = FSM_OP_QDELETE, .flags = FSM_F_PURGE};
			strcpy(c.queue, "IQ");
			if (run(&t, &c) == QSG_OK)
				define(&t, "IQ", "BOQ", FSM_INDX_CORRELID);
		} else if (k < 817) {
			fail_member2(&t);
		} else if (k < 900) {
			t.now += rnd(&t, 60);
		} else if (k < 940) {
			struct fsm_cmd c = {.op =
						rnd(&t, 2) ? FSM_OP_EXPIRE : FSM_OP_EXPIRE_BOUNDED};
			(void)run(&t, &c);
		} else if (k < 970) {
			fsm_reap(t.f, 1 + rnd(&t, 8));
		} else if (k < 973) {
			rebase(&t);
		} else {
			/* A long stretch of change against one base. */
			continue;
		}
	}
	for (int k = 0; k < 3; k++)
		(void)sess(&t, (unsigned)k, FSM_OP_BACKOUT, 0, NULL);
	print_message("seed %llu: %llu entries checked, %llu rebases, up to %llu removed, %llu "
		      "touched, %llu messages in a base\n",
		      (unsigned long long)seed, (unsigned long long)t.checks,
		      (unsigned long long)t.rebases, (unsigned long long)t.removed_max,
		      (unsigned long long)t.touched_max, (unsigned long long)t.base_max_count);
	assert_true(t.checks > (uint64_t)steps / 2);
	/* Not vacuous. */
	assert_true(t.removed_max >= 10 && t.touched_max >= 3 && t.base_max_count >= 20);
	fsm_close(t.f);
	qsg_wbuf_close(&t.base);
	free(t.big);
}

static void random_runs(void **state)
{
	(void)state;
	/* QSG_DELTA_SEEDS: more seeds (default 4), for a longer search. */
	const char *env = getenv("QSG_DELTA_SEEDS");
	uint64_t n = env != NULL && atoi(env) > 0 ? (uint64_t)atoi(env) : 4;
	for (uint64_t seed = 1; seed <= n; seed++)
		one_run(seed, 2500);
}

/* A base message whose queue is cleared then gets one of its locked
 * messages back (a backout): the CLEAR drops the base's copies by
 * reference, the backout's copy comes from the delta. */
static void clear_then_backout(void **state)
{
	(void)state;
	struct t t;
	memset(&t, 0, sizeof t);
	t.rng = 5;
	t.now = 1000000;
	qsg_wbuf_init(&t.base);
	assert_int_equal(fsm_init(&t.f, NULL), QSG_OK);
	rebase(&t);
	join(&t, 1);
	t.ep[0] = attach(&t, 1, 1);
	t.ep[1] = attach(&t, 2, 1);
	define(&t, "Q", NULL, 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(put(&t, 0, "Q", 0), QSG_OK);
	rebase(&t);
	assert_int_equal(sess(&t, 1, FSM_OP_GET, FSM_F_SYNCPOINT, "Q"), QSG_OK);
	struct fsm_cmd c = {.op = FSM_OP_QCLEAR};
	strcpy(c.queue, "Q");
	assert_int_equal(run(&t, &c), QSG_RC_OBJECT_IN_USE);
	assert_int_equal(sess(&t, 1, FSM_OP_BACKOUT, 0, NULL), QSG_OK);
	assert_int_equal(sess(&t, 1, FSM_OP_GET, FSM_F_SYNCPOINT, "Q"), QSG_OK);
	assert_int_equal(sess(&t, 1, FSM_OP_COMMIT, 0, NULL), QSG_OK);
	assert_int_equal(run(&t, &c), QSG_OK);
	assert_int_equal(put(&t, 0, "Q", 0), QSG_OK);
	assert_int_equal(t.f->dt.ncleared, 1);
	/* A cleared queue's base messages are removed by reference. */
	struct qsg_wbuf d;
	qsg_wbuf_init(&d);
	struct fsm_baseref ref = {0};
	assert_int_equal(fsm_snapshot_delta(t.f, &ref, &d), QSG_OK);
	assert_true(t.f->dt.nremoved <= 2); /* not the 19 cleared one by one */
	qsg_wbuf_close(&d);
	fsm_close(t.f);
	qsg_wbuf_close(&t.base);
}

/* A corrupt delta is refused: a removed seqno above the base, a base of
 * another format, cut short anywhere. */
static void refused(void **state)
{
	(void)state;
	struct t t;
	memset(&t, 0, sizeof t);
	t.rng = 9;
	t.now = 1000000;
	qsg_wbuf_init(&t.base);
	assert_int_equal(fsm_init(&t.f, NULL), QSG_OK);
	join(&t, 1);
	t.ep[0] = attach(&t, 1, 1);
	rebase(&t);
	define(&t, "Q", NULL, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(put(&t, 0, "Q", 0), QSG_OK);
	rebase(&t);
	assert_int_equal(sess(&t, 0, FSM_OP_GET, 0, "Q"), QSG_OK);
	assert_int_equal(put(&t, 0, "Q", 0), QSG_OK);
	struct qsg_wbuf d;
	qsg_wbuf_init(&d);
	struct fsm_baseref ref = {.index = 1};
	assert_int_equal(fsm_snapshot_delta(t.f, &ref, &d), QSG_OK);
	struct fsm_image *img;
	for (size_t cut = 0; cut < d.len; cut++)
		assert_int_not_equal(
		    fsm_restore_decode_delta(t.base.data, t.base.len, d.data, cut, &img, NULL),
		    QSG_OK);
	for (size_t cut = 0; cut < 30; cut++)
		assert_int_not_equal(
		    fsm_restore_decode_delta(t.base.data, cut, d.data, d.len, &img, NULL), QSG_OK);
	/* A full snapshot is not a base for format 12 restore as a delta. */
	assert_int_not_equal(
	    fsm_restore_decode_delta(t.base.data, t.base.len, t.base.data, t.base.len, &img, NULL),
	    QSG_OK);
	fsm_delta_stop(t.f);
	assert_int_equal(fsm_snapshot_delta(t.f, &ref, &d), QSG_RC_INVALID);
	qsg_wbuf_close(&d);
	fsm_close(t.f);
	qsg_wbuf_close(&t.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(random_runs),
	    cmocka_unit_test(clear_then_backout),
	    cmocka_unit_test(refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
