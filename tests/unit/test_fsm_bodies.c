/* The state machine and its body provider (struct fsm_bodies, fsm.h;
 * docs/storage.md): a recording fake provider set with fsm_set_bodies sees
 * one put per message that enters the state, one release per message that
 * leaves it (GET, COMMIT of a get, backout of a put, CLEAR, expiry, queue
 * delete, a move to the backout queue), reads only when results are built,
 * and nothing but claims and restored on restore; the fsm keeps no content;
 * providers that behave differently give equal digests; a failing put or
 * read makes fsm_apply return QSG_RC_IO; a format-2 snapshot (content
 * inside) still restores. Links libqsgfsm_checked.la (tests/unit/fsm.mk). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "fsm/fsm_int.h"
#include "fsm_harness.h"

#define REC_MAX 256

/* The recording fake: every call logged; content kept in a small map when
 * `store` (else reads fail). */
struct rec {
	bool store;
	bool fail_put, fail_read;
	uint64_t put[REC_MAX], rel[REC_MAX], rd[REC_MAX], claim[REC_MAX];
	uint32_t put_crc[REC_MAX];
	uint64_t ren_from[REC_MAX], ren_to[REC_MAX];
	size_t nput, nrel, nrd, nclaim, nrestored, nren;
	uint64_t restored_last;
	struct {
		uint64_t seqno;
		uint32_t pl, bl, crc;
		uint8_t *data;
	} held[REC_MAX];
	size_t nheld;
};

static int held_find(const struct rec *r, uint64_t seqno)
{
	for (size_t i = 0; i < r->nheld; i++)
		if (r->held[i].seqno == seqno)
			return (int)i;
	return -1;
}

static int rec_put(void *arg, uint64_t seqno, const void *props, uint32_t pl, const void *body,
		   uint32_t bl, uint32_t crc)
{
	struct rec *r = arg;
	assert_true(r->nput < REC_MAX);
	r->put_crc[r->nput] = crc;
	r->put[r->nput++] = seqno;
	if (r->fail_put)
		return QSG_RC_IO;
	uint32_t c = qsg_crc32c(0, props, pl);
	assert_int_equal(qsg_crc32c(c, body, bl), crc);
	if (!r->store)
		return QSG_OK;
	int i = held_find(r, seqno);
	if (i < 0) {
		assert_true(r->nheld < REC_MAX);
		i = (int)r->nheld++;
	} else {
		free(r->held[i].data);
	}
	r->held[i].seqno = seqno;
	r->held[i].pl = pl;
	r->held[i].bl = bl;
	r->held[i].crc = crc;
	r->held[i].data = malloc((size_t)pl + bl + 1);
	assert_non_null(r->held[i].data);
	if (pl > 0)
		memcpy(r->held[i].data, props, pl);
	if (bl > 0)
		memcpy(r->held[i].data + pl, body, bl);
	return QSG_OK;
}

static int rec_read(void *arg, uint64_t seqno, uint32_t pl, uint32_t bl, uint32_t crc,
		    struct qsg_wbuf *out)
{
	struct rec *r = arg;
	assert_true(r->nrd < REC_MAX);
	r->rd[r->nrd++] = seqno;
	int i = held_find(r, seqno);
	if (r->fail_read || i < 0)
		return QSG_RC_IO;
	assert_int_equal(r->held[i].pl, pl);
	assert_int_equal(r->held[i].bl, bl);
	assert_int_equal(r->held[i].crc, crc);
	qsg_put_bytes(out, r->held[i].data, (size_t)pl + bl);
	return QSG_OK;
}

static void rec_release(void *arg, uint64_t seqno)
{
	struct rec *r = arg;
	assert_true(r->nrel < REC_MAX);
	r->rel[r->nrel++] = seqno;
	int i = held_find(r, seqno);
	if (i >= 0) {
		free(r->held[i].data);
		r->held[i] = r->held[--r->nheld];
	}
}

static void rec_claim(void *arg, uint64_t seqno, uint32_t pl, uint32_t bl, uint32_t crc)
{
	struct rec *r = arg;
	(void)pl;
	(void)bl;
	(void)crc;
	assert_true(r->nclaim < REC_MAX);
	r->claim[r->nclaim++] = seqno;
}

static void rec_restored(void *arg, uint64_t last_seqno)
{
	struct rec *r = arg;
	r->nrestored++;
	r->restored_last = last_seqno;
}

/* rename: the held content moves to the new seqno; applied again (the
 * old one gone, the new one held) a no-op. */
static int rec_rename(void *arg, uint64_t seqno, uint64_t new_seqno)
{
	struct rec *r = arg;
	assert_true(r->nren < REC_MAX);
	r->ren_from[r->nren] = seqno;
	r->ren_to[r->nren++] = new_seqno;
	int i = held_find(r, seqno);
	if (i < 0)
		return held_find(r, new_seqno) >= 0 ? QSG_OK : QSG_RC_IO;
	r->held[i].seqno = new_seqno;
	return QSG_OK;
}

static void rec_install(struct fsm *f, struct rec *r, bool store)
{
	memset(r, 0, sizeof *r);
	r->store = store;
	struct fsm_bodies b = {r, rec_put, rec_read, rec_release, rec_claim, rec_restored};
	fsm_set_bodies(f, &b);
}

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->nheld; i++)
		free(r->held[i].data);
	r->nheld = 0;
}

static void rec_reset_log(struct rec *r)
{
	r->nput = r->nrel = r->nrd = r->nclaim = r->nrestored = 0;
}

/* Whether seqno is among v[0..n). */
static bool has(const uint64_t *v, size_t n, uint64_t seqno)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == seqno)
			return true;
	return false;
}

/* A fixture with the recording provider on x->f. */
static int setup_rec(void **state)
{
	setup(state);
	struct ctx *x = *state;
	struct rec *r = calloc(1, sizeof *r);
	assert_non_null(r);
	rec_install(x->f, r, true);
	/* The rec rides along in a second allocation freed by teardown_rec. */
	void **pair = calloc(2, sizeof *pair);
	assert_non_null(pair);
	pair[0] = x;
	pair[1] = r;
	*state = pair;
	return 0;
}

static int teardown_rec(void **state)
{
	void **pair = *state;
	struct rec *r = pair[1];
	*state = pair[0];
	teardown(state);
	rec_free(r);
	free(r);
	free(pair);
	return 0;
}

#define CTX(st) ((struct ctx *)((void **)*(st))[0])
#define REC(st) ((struct rec *)((void **)*(st))[1])

/* Apply one command with results NULL (nobody waits); returns fsm_apply's
 * rc. */
static int exec_noresult(struct ctx *x, const struct fsm_cmd *c)
{
	struct qsg_wbuf e;
	qsg_wbuf_init(&e);
	build(x, c, &e);
	int rc = fsm_apply(x->f, e.data, e.len, NULL, NULL);
	qsg_wbuf_close(&e);
	return rc;
}

/* Apply one command with results; returns fsm_apply's rc (no asserts). */
static int exec_raw(struct ctx *x, const struct fsm_cmd *c)
{
	struct qsg_wbuf e;
	qsg_wbuf_init(&e);
	build(x, c, &e);
	qsg_wbuf_reset(&x->res);
	int rc = fsm_apply(x->f, e.data, e.len, &x->res, NULL);
	qsg_wbuf_close(&e);
	return rc;
}

static void put_read_release(void **state)
{
	struct ctx *x = CTX(state);
	struct rec *r = REC(state);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "Q", 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 1, "Q", 0, 0, "hello", 1), QSG_OK);
	uint64_t s1 = x->r.msg.seqno;
	assert_int_equal(r->nput, 1);
	assert_int_equal(r->put[0], s1);
	assert_int_equal(r->put_crc[0], qsg_crc32c(0, "hello", 5));
	assert_int_equal(r->nrd, 0);
	/* The fsm keeps no content: the bytes a GET returns are the
	 * provider's. */
	int i = held_find(r, s1);
	assert_true(i >= 0);
	memcpy(r->held[i].data, "HELLO", 5);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_body(x, "HELLO");
	assert_int_equal(r->nrd, 1);
	assert_int_equal(r->rd[0], s1);
	assert_int_equal(r->nrel, 1);
	assert_int_equal(r->rel[0], s1);
	assert_int_equal(r->nheld, 0);

	/* No results, no read; the release still happens. */
	assert_int_equal(put(x, 1, ep, 2, "Q", 0, 0, "two", 2), QSG_OK);
	uint64_t s2 = x->r.msg.seqno;
	struct fsm_cmd c = {.op = FSM_OP_GET, .client_id = 1, .epoch = ep};
	strcpy(c.queue, "Q");
	assert_int_equal(exec_noresult(x, &c), QSG_OK);
	assert_int_equal(r->nrd, 1);
	assert_int_equal(r->nrel, 2);
	assert_int_equal(r->rel[1], s2);
	/* BROWSE reads without releasing. */
	assert_int_equal(put(x, 1, ep, 3, "Q", 0, 0, "three", 3), QSG_OK);
	struct fsm_cmd b = {.op = FSM_OP_BROWSE};
	strcpy(b.queue, "Q");
	assert_int_equal(exec(x, &b), QSG_OK);
	assert_body(x, "three");
	assert_int_equal(r->nrd, 2);
	assert_int_equal(r->nrel, 2);
}

static void snapshot_holds_no_content(void **state)
{
	struct ctx *x = CTX(state);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "Q", 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	struct qsg_wbuf s0, s1;
	qsg_wbuf_init(&s0);
	qsg_wbuf_init(&s1);
	assert_int_equal(fsm_snapshot(x->f, &s0), QSG_OK);
	static char big[65537];
	memset(big, 'b', sizeof big - 1);
	assert_int_equal(put(x, 1, ep, 1, "Q", 0, 0, big, 1), QSG_OK);
	assert_int_equal(fsm_snapshot(x->f, &s1), QSG_OK);
	assert_true(s1.len - s0.len < 200); /* one descriptor */
	qsg_wbuf_close(&s0);
	qsg_wbuf_close(&s1);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_body(x, big);
}

/* A workload whose messages leave in every way; with `log` the seqnos
 * expected to be released, in order of departure. */
static void leave_workload(struct ctx *x, struct rec *r)
{
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "Q", 0), QSG_OK);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "BOQ", 0), QSG_OK);
	a.bothresh = 1;
	strcpy(a.boqname, "BOQ");
	assert_int_equal(qdefine(x, "QB", FSM_QA_BOTHRESH | FSM_QA_BOQNAME, &a, 0), QSG_OK);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "QD", 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	uint64_t seq = 0;

	/* GET under syncpoint: released at COMMIT, not at the GET. */
	assert_int_equal(put(x, 1, ep, ++seq, "Q", 0, 0, "g1", 1), QSG_OK);
	uint64_t g1 = x->r.msg.seqno;
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(r->nrel, 0);
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, ep, 1, NULL), QSG_OK);
	assert_int_equal(r->nrel, 1);
	assert_int_equal(r->rel[0], g1);

	/* BACKOUT of a get: not released; of a put: released. */
	assert_int_equal(put(x, 1, ep, ++seq, "Q", 0, 0, "b1", 2), QSG_OK);
	uint64_t b1 = x->r.msg.seqno;
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(put(x, 1, ep, ++seq, "Q", FSM_F_SYNCPOINT, 0, "held", 3), QSG_OK);
	uint64_t h1 = x->r.msg.seqno;
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(r->nrel, 2);
	assert_int_equal(r->rel[1], h1);
	assert_int_equal(qi(x, "Q").curdepth, 1); /* b1 back */

	/* CLEAR: every visible message. */
	assert_int_equal(put(x, 1, ep, ++seq, "Q", 0, 0, "c2", 4), QSG_OK);
	uint64_t c2 = x->r.msg.seqno;
	assert_int_equal(qsimple(x, FSM_OP_QCLEAR, "Q", 0), QSG_OK);
	/* Gone from the state at once, released by fsm_reap later, a slice
	 * at a time. */
	assert_int_equal(qi(x, "Q").curdepth, 0);
	assert_int_equal(r->nrel, 2);
	assert_int_equal(fsm_reap_pending(x->f), 2);
	assert_true(fsm_reap(x->f, 1));
	assert_int_equal(r->nrel, 3);
	assert_false(fsm_reap(x->f, 100));
	assert_int_equal(fsm_reap_pending(x->f), 0);
	assert_int_equal(r->nrel, 4);
	assert_true(has(r->rel, r->nrel, b1) && has(r->rel, r->nrel, c2));

	/* Expiry (EXPIRE housekeeping). */
	struct fsm_cmd p = {.op = FSM_OP_PUT, .client_id = 1, .epoch = ep, .seq = ++seq};
	strcpy(p.queue, "Q");
	p.msg.expiry_ms = 10;
	p.msg.body.p = (const uint8_t *)"exp";
	p.msg.body.len = 3;
	assert_int_equal(exec(x, &p), QSG_OK);
	uint64_t e1 = x->r.msg.seqno;
	x->now += 100;
	struct fsm_cmd ex = {.op = FSM_OP_EXPIRE, .seq = 1000000};
	assert_int_equal(exec(x, &ex), QSG_OK);
	/* Into the garbage, as a CLEAR's: released when reaped. */
	assert_int_equal(r->nrel, 4);
	assert_int_equal(fsm_reap_pending(x->f), 1);
	assert_false(fsm_reap(x->f, 100));
	assert_int_equal(r->nrel, 5);
	assert_int_equal(r->rel[4], e1);

	/* Moved to the backout queue: content put under the new seqno, the
	 * old one released. */
	assert_int_equal(put(x, 1, ep, ++seq, "QB", 0, 0, "bo", 5), QSG_OK);
	uint64_t o1 = x->r.msg.seqno;
	size_t nput = r->nput;
	assert_int_equal(get(x, 1, ep, "QB", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(qi(x, "BOQ").curdepth, 1);
	assert_int_equal(r->nput, nput + 1);
	uint64_t o2 = r->put[nput];
	assert_true(o2 > o1);
	assert_int_equal(r->nrel, 6);
	assert_int_equal(r->rel[5], o1);
	assert_int_equal(get(x, 1, ep, "BOQ", 0, 0), QSG_OK);
	assert_body(x, "bo");
	assert_int_equal(x->r.msg.seqno, o2);
	assert_int_equal(r->nrel, 7);
	assert_int_equal(r->rel[6], o2);

	/* Queue delete with PURGE. */
	assert_int_equal(put(x, 1, ep, ++seq, "QD", 0, 0, "d1", 6), QSG_OK);
	uint64_t d1 = x->r.msg.seqno;
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "QD", FSM_F_PURGE), QSG_OK);
	assert_int_equal(r->nrel, 7);
	assert_int_equal(fsm_reap_pending(x->f), 1);
	assert_false(fsm_reap(x->f, 100));
	assert_int_equal(r->nrel, 8);
	assert_int_equal(r->rel[7], d1);
}

static void release_when_leaving(void **state)
{
	struct ctx *x = CTX(state);
	struct rec *r = REC(state);
	leave_workload(x, r);
	/* Nothing is left with the provider. */
	assert_int_equal(r->nheld, 0);
	/* Every release is of a message put before, each released once. */
	for (size_t i = 0; i < r->nrel; i++) {
		assert_true(has(r->put, r->nput, r->rel[i]));
		for (size_t j = i + 1; j < r->nrel; j++)
			assert_true(r->rel[i] != r->rel[j]);
	}
}

static void restore_claims_the_state(void **state)
{
	struct ctx *x = CTX(state);
	struct rec *r = REC(state);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "Q", 0), QSG_OK);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "Q2", 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	uint64_t want[8];
	size_t nwant = 0;
	assert_int_equal(put(x, 1, ep, 1, "Q", 0, 3, "v1", 1), QSG_OK);
	want[nwant++] = x->r.msg.seqno;
	assert_int_equal(put(x, 1, ep, 2, "Q", 0, 0, "v2", 2), QSG_OK);
	want[nwant++] = x->r.msg.seqno;
	assert_int_equal(put(x, 1, ep, 3, "Q2", 0, 0, "gone", 3), QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q2", 0, 0), QSG_OK);
	assert_int_equal(put(x, 1, ep, 4, "Q2", FSM_F_SYNCPOINT, 0, "held", 4), QSG_OK);
	want[nwant++] = x->r.msg.seqno;
	assert_int_equal(put(x, 1, ep, 5, "Q2", 0, 0, "locked", 5), QSG_OK);
	want[nwant++] = x->r.msg.seqno;
	assert_int_equal(get(x, 1, ep, "Q2", FSM_F_SYNCPOINT, 5), QSG_OK);

	struct qsg_wbuf s;
	qsg_wbuf_init(&s);
	assert_int_equal(fsm_snapshot(x->f, &s), QSG_OK);
	uint64_t d = fsm_digest(x->f);
	rec_reset_log(r);
	size_t nheld = r->nheld;
	/* Into itself: claims only, no put, no release. */
	assert_int_equal(fsm_restore(x->f, s.data, s.len, NULL), QSG_OK);
	assert_int_equal(fsm_digest(x->f), d);
	assert_int_equal(r->nput, 0);
	assert_int_equal(r->nrel, 0);
	assert_int_equal(r->nrd, 0);
	assert_int_equal(r->nheld, nheld);
	assert_int_equal(r->nclaim, nwant);
	for (size_t i = 0; i < nwant; i++)
		assert_true(has(r->claim, r->nclaim, want[i]));
	assert_int_equal(r->nrestored, 1);
	assert_int_equal(r->restored_last, x->f->last_seqno);

	/* Into another fsm with its own recording provider. */
	struct fsm *g;
	struct rec rg;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	rec_install(g, &rg, true);
	assert_int_equal(fsm_restore(g, s.data, s.len, NULL), QSG_OK);
	assert_int_equal(fsm_digest(g), d);
	assert_int_equal(rg.nclaim, nwant);
	for (size_t i = 0; i < nwant; i++)
		assert_true(has(rg.claim, rg.nclaim, want[i]));
	assert_int_equal(rg.nrestored, 1);
	assert_int_equal(rg.nput + rg.nrel + rg.nrd, 0);
	/* A failed restore calls nothing. */
	assert_int_not_equal(fsm_restore(g, s.data, s.len - 1, NULL), QSG_OK);
	assert_int_equal(rg.nclaim, nwant);
	assert_int_equal(rg.nrestored, 1);
	fsm_close(g);
	rec_free(&rg);
	/* Closing the fsm releases nothing either. */
	qsg_wbuf_close(&s);
}

/* The same log on fsms whose providers behave differently (the recording
 * store with results built, the built-in map with results, another
 * recording store without results, so it is read only where every member
 * reads): equal digests. */
static void providers_do_not_change_the_state(void **state)
{
	struct ctx *x = CTX(state);
	struct rec *r = REC(state);
	leave_workload(x, r);
	uint64_t ep = attach(x, 2, 1);
	assert_int_equal(put(x, 2, ep, 1, "Q", 0, 0, "left", 1), QSG_OK);
	assert_int_equal(put(x, 2, ep, 2, "Q", FSM_F_SYNCPOINT, 0, "uow", 2), QSG_OK);
	uint64_t d = fsm_digest(x->f);

	struct fsm *m, *n;
	struct rec rn;
	assert_int_equal(fsm_init(&m, NULL), QSG_OK); /* built-in */
	assert_int_equal(fsm_init(&n, NULL), QSG_OK);
	rec_install(n, &rn, true);
	struct qsg_wbuf res;
	qsg_wbuf_init(&res);
	for (size_t i = 0; i < x->nlog; i++) {
		qsg_wbuf_reset(&res);
		assert_int_equal(fsm_apply(m, x->log[i], x->loglen[i], &res, NULL), QSG_OK);
		assert_int_equal(fsm_apply(n, x->log[i], x->loglen[i], NULL, NULL), QSG_OK);
		/* leave_workload reaped the garbage after each CLEAR and
		 * DELETE: the same releases in the same order. */
		while (fsm_reap(n, 1))
			;
	}
	qsg_wbuf_close(&res);
	assert_int_equal(fsm_digest(m), d);
	assert_int_equal(fsm_digest(n), d);
	/* Same puts and releases, fewer reads: only the move to the backout
	 * queue reads without a waiter. */
	assert_int_equal(rn.nput, r->nput);
	assert_int_equal(rn.nrel, r->nrel);
	assert_memory_equal(rn.rel, r->rel, r->nrel * sizeof *r->rel);
	assert_int_equal(rn.nrd, 1);
	assert_true(r->nrd > rn.nrd);
	fsm_close(m);
	fsm_close(n);
	rec_free(&rn);
}

static void failing_provider_is_fatal(void **state)
{
	struct ctx *x = CTX(state);
	struct rec *r = REC(state);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "Q", 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 1, "Q", 0, 0, "m1", 1), QSG_OK);

	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = 1, .epoch = ep, .seq = 2};
	strcpy(c.queue, "Q");
	c.msg.body.p = (const uint8_t *)"m2";
	c.msg.body.len = 2;
	r->fail_put = true;
	assert_int_equal(exec_raw(x, &c), QSG_RC_IO);
	r->fail_put = false;

	struct fsm_cmd g = {.op = FSM_OP_GET, .client_id = 1, .epoch = ep};
	strcpy(g.queue, "Q");
	struct fsm_cmd b = {.op = FSM_OP_BROWSE};
	strcpy(b.queue, "Q");
	r->fail_read = true;
	assert_int_equal(exec_raw(x, &b), QSG_RC_IO);
	assert_int_equal(exec_noresult(x, &b), QSG_OK); /* no results: no read */
	assert_int_equal(exec_raw(x, &g), QSG_RC_IO);
	r->fail_read = false;
}

/* Format 2: the content inside the snapshot. Built by hand for the state
 * of x (one queue with two messages, no session, no member). */
static void format2_restore(void **state)
{
	struct ctx *x = CTX(state);
	struct rec *r = REC(state);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "Q", 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	const char *bodies[2] = {"first", "second"};
	assert_int_equal(put(x, 1, ep, 1, "Q", 0, 4, bodies[0], 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 2, "Q", 0, 4, bodies[1], 2), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_DETACH, 1, ep, 0, NULL), QSG_OK);
	struct fsm_cmd ex = {.op = FSM_OP_EXPIRE, .seq = 0};
	assert_int_equal(exec(x, &ex), QSG_OK); /* forgets the session */
	uint64_t d = fsm_digest(x->f);
	assert_int_equal(x->f->nmembers, 0);
	assert_int_equal(x->f->sessions.count, 0);

	struct queue *q = queue_find(x->f, 0, "Q");
	assert_non_null(q);
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	qsg_put_u8(&w, 2);
	qsg_put_u64(&w, x->f->last_seqno);
	qsg_put_i64(&w, x->f->last_time);
	qsg_put_u32(&w, 1);
	fsm_qattrs_encode(&w, &q->attrs);
	qsg_put_u64(&w, q->puts_total);
	qsg_put_u64(&w, q->gets_total);
	qsg_put_u32(&w, q->nvisible);
	int k = 0;
	for (int p = NPRIO - 1; p >= 0; p--)
		for (const struct qmsg *m = q->head[p]; m != NULL; m = m->next, k++) {
			struct fsm_msg v;
			msg_view(m, &v);
			v.body.p = (const uint8_t *)bodies[k];
			v.body.len = strlen(bodies[k]);
			fsm_msg_encode(&w, &v);
			qsg_put_i64(&w, qmsg_hold_until(m));
		}
	assert_int_equal(k, 2);
	qsg_put_u32(&w, 0); /* sessions */
	qsg_put_u32(&w, 0); /* members */
	qsg_put_u32(&w, x->f->qmgr.set);
	qsg_put_str(&w, x->f->qmgr.deadq);
	qsg_put_str(&w, x->f->qmgr.descr);
	qsg_put_u64(&w, x->f->chan_gen);
	qsg_put_u32(&w, 0); /* channel definitions */
	qsg_put_u32(&w, 0); /* channel status */
	qsg_put_u32(&w, 0); /* SYNCQ */
	assert_int_equal(w.err, QSG_OK);

	/* Into a fresh fsm with the recording provider: the content is put,
	 * then claimed. */
	struct fsm *g;
	struct rec rg;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	rec_install(g, &rg, true);
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_restore(g, w.data, w.len, errmsg), QSG_OK);
	assert_int_equal(fsm_digest(g), d);
	assert_int_equal(rg.nput, 2);
	assert_int_equal(rg.nclaim, 2);
	assert_int_equal(rg.nrestored, 1);
	assert_int_equal(rg.put_crc[0], qsg_crc32c(0, bodies[0], strlen(bodies[0])));
	/* Truncated: nothing is put. */
	struct rec rh;
	struct fsm *h;
	assert_int_equal(fsm_init(&h, NULL), QSG_OK);
	rec_install(h, &rh, true);
	for (size_t n = 0; n < w.len; n += 5)
		assert_int_not_equal(fsm_restore(h, w.data, n, NULL), QSG_OK);
	assert_int_equal(rh.nput + rh.nclaim + rh.nrestored, 0);
	/* A failing put: QSG_RC_IO, state unchanged. */
	rh.fail_put = true;
	uint64_t dh = fsm_digest(h);
	assert_int_equal(fsm_restore(h, w.data, w.len, NULL), QSG_RC_IO);
	assert_int_equal(fsm_digest(h), dh);
	assert_int_equal(rh.nclaim, 0);
	fsm_close(h);
	rec_free(&rh);

	/* The restored fsm serves the content; so does one with the built-in
	 * provider. */
	struct ctx y = *x;
	y.f = g;
	y.nlog = 0;
	ep = attach(&y, 7, 1);
	assert_int_equal(get(&y, 7, ep, "Q", 0, 0), QSG_OK);
	assert_body(&y, "first");
	struct fsm *b;
	assert_int_equal(fsm_init(&b, NULL), QSG_OK);
	assert_int_equal(fsm_restore(b, w.data, w.len, NULL), QSG_OK);
	assert_int_equal(fsm_digest(b), d);
	y.f = b;
	ep = attach(&y, 7, 1);
	assert_int_equal(get(&y, 7, ep, "Q", 0, 0), QSG_OK);
	assert_body(&y, "first");
	assert_int_equal(get(&y, 7, ep, "Q", 0, 0), QSG_OK);
	assert_body(&y, "second");
	for (size_t i = 0; i < y.nlog; i++)
		free(y.log[i]);
	fsm_close(b);
	fsm_close(g);
	rec_free(&rg);
	qsg_wbuf_close(&w);
	(void)r;
}

/* The built-in provider's peers: a restored fsm fetches content it lacks
 * from its ring, also content the peer has released since. */
static void builtin_peers(void **state)
{
	(void)state;
	struct ctx *x;
	void *st;
	setup(&st);
	x = st;
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "Q", 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 1, "Q", 0, 0, "a", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 2, "Q", 0, 0, "b", 2), QSG_OK);
	struct qsg_wbuf s;
	qsg_wbuf_init(&s);
	assert_int_equal(fsm_snapshot(x->f, &s), QSG_OK);
	/* Without a peer the content is missing: a read fails. */
	struct fsm *lone, *g;
	assert_int_equal(fsm_init(&lone, NULL), QSG_OK);
	assert_int_equal(fsm_restore(lone, s.data, s.len, NULL), QSG_OK);
	struct fsm_cmd b = {.op = FSM_OP_BROWSE};
	strcpy(b.queue, "Q");
	struct qsg_wbuf e, res;
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&res);
	build(x, &b, &e);
	assert_int_equal(fsm_apply(lone, e.data, e.len, &res, NULL), QSG_RC_IO);
	/* Linked afterwards: the read asks the peers again. */
	fsm_bodies_mem_peer(lone, x->f);
	qsg_wbuf_reset(&res);
	assert_int_equal(fsm_apply(lone, e.data, e.len, &res, NULL), QSG_OK);
	/* The peer consumes both; a member restoring the older snapshot
	 * still gets them (released content stays for peers). */
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, lone);
	fsm_close(lone); /* unlinks itself */
	fsm_bodies_mem_peer(g, x->f);
	assert_int_equal(fsm_restore(g, s.data, s.len, NULL), QSG_OK);
	struct ctx y = *x;
	y.f = g;
	y.nlog = 0;
	ep = attach(&y, 1, 1);
	assert_int_equal(get(&y, 1, ep, "Q", 0, 0), QSG_OK);
	assert_body(&y, "a");
	assert_int_equal(get(&y, 1, ep, "Q", 0, 0), QSG_OK);
	assert_body(&y, "b");
	for (size_t i = 0; i < y.nlog; i++)
		free(y.log[i]);
	fsm_close(g);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&res);
	qsg_wbuf_close(&s);
	teardown(&st);
}

/* A provider with rename: a move to the backout queue renames the content
 * (no read, no put, no release) and gives the same state as a provider
 * without it (read, put, release); the built-in provider renames too, and
 * a replica restored from a snapshot taken before the move and replaying
 * it (a restart) ends equal, its content moved. */
static void boq_move_renames(void **state)
{
	struct ctx *x = CTX(state);
	struct rec *r = REC(state);
	struct fsm_bodies rb = {r,    rec_put, rec_read, rec_release, rec_claim, rec_restored,
				NULL, NULL,    NULL,	 rec_rename};
	fsm_set_bodies(x->f, &rb);
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "BOQ", 0), QSG_OK);
	a.bothresh = 1;
	strcpy(a.boqname, "BOQ");
	assert_int_equal(qdefine(x, "QB", FSM_QA_BOTHRESH | FSM_QA_BOQNAME, &a, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 1, "QB", 0, 0, "bo", 5), QSG_OK);
	uint64_t o1 = x->r.msg.seqno;
	assert_int_equal(put(x, 1, ep, 2, "QB", 0, 0, "b2", 6), QSG_OK);
	size_t nlog = x->nlog; /* a replica is restored as of now, below */
	assert_int_equal(get(x, 1, ep, "QB", FSM_F_SYNCPOINT, 0), QSG_OK);
	rec_reset_log(r);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(qi(x, "BOQ").curdepth, 1);
	assert_int_equal(r->nren, 1);
	assert_int_equal(r->ren_from[0], o1);
	uint64_t o2 = r->ren_to[0];
	assert_true(o2 > o1);
	assert_int_equal(r->nput, 0);
	assert_int_equal(r->nrd, 0);
	assert_int_equal(r->nrel, 0);
	assert_int_equal(get(x, 1, ep, "BOQ", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_body(x, "bo");
	assert_int_equal(x->r.msg.seqno, o2);
	assert_int_equal(x->r.msg.msgid[0], 5);
	assert_int_equal(x->r.msg.backout_count, 1);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	uint64_t d = fsm_digest(x->f);

	/* The same log on a provider without rename and on the built-in one. */
	struct fsm *n, *m;
	struct rec rn;
	assert_int_equal(fsm_init(&n, NULL), QSG_OK);
	assert_int_equal(fsm_init(&m, NULL), QSG_OK);
	rec_install(n, &rn, true);
	struct qsg_wbuf res;
	qsg_wbuf_init(&res);
	for (size_t i = 0; i < x->nlog; i++) {
		qsg_wbuf_reset(&res);
		assert_int_equal(fsm_apply(n, x->log[i], x->loglen[i], NULL, NULL), QSG_OK);
		assert_int_equal(fsm_apply(m, x->log[i], x->loglen[i], &res, NULL), QSG_OK);
	}
	assert_int_equal(fsm_digest(n), d);
	assert_int_equal(fsm_digest(m), d);
	assert_true(has(rn.put, rn.nput, o2)); /* read and put again */
	assert_true(has(rn.rel, rn.nrel, o1));
	/* A replica restored from a snapshot taken before the move (its
	 * built-in provider fetches the content from a peer's, as a restarted
	 * or catching-up member) replays it: its provider renames. */
	struct fsm *peer, *before;
	struct qsg_wbuf snap;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&peer, NULL), QSG_OK);
	assert_int_equal(fsm_init(&before, NULL), QSG_OK);
	for (size_t i = 0; i < nlog; i++)
		assert_int_equal(fsm_apply(peer, x->log[i], x->loglen[i], NULL, NULL), QSG_OK);
	qsg_wbuf_init(&snap);
	assert_int_equal(fsm_snapshot(peer, &snap), QSG_OK);
	fsm_bodies_mem_peer(before, peer);
	assert_int_equal(fsm_restore(before, snap.data, snap.len, errmsg), QSG_OK);
	qsg_wbuf_close(&snap);
	for (size_t i = nlog; i < x->nlog; i++) {
		assert_int_equal(fsm_apply(before, x->log[i], x->loglen[i], NULL, NULL), QSG_OK);
	}
	assert_int_equal(fsm_digest(before), d);
	struct fsm_cmd g = {.op = FSM_OP_BROWSE};
	strcpy(g.queue, "BOQ");
	struct fsm_result br;
	qsg_wbuf_reset(&res);
	struct qsg_wbuf e;
	qsg_wbuf_init(&e);
	build(x, &g, &e);
	struct fsm *reps[2] = {before, m};
	for (int k = 0; k < 2; k++) {
		qsg_wbuf_reset(&res);
		assert_int_equal(fsm_apply(reps[k], e.data, e.len, &res, NULL), QSG_OK);
		assert_int_equal(
		    fsm_result_decode(FSM_OP_BROWSE, res.data + 4, qsg_le32(res.data), &br, NULL),
		    QSG_OK);
		assert_int_equal(br.rc, QSG_OK);
		assert_int_equal(br.msg.seqno, o2);
		assert_int_equal(br.msg.body.len, 2);
		assert_memory_equal(br.msg.body.p, "bo", 2);
	}
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&res);
	fsm_close(before);
	fsm_close(peer);
	fsm_close(n);
	fsm_close(m);
	rec_free(&rn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(put_read_release, setup_rec, teardown_rec),
	    cmocka_unit_test_setup_teardown(snapshot_holds_no_content, setup_rec, teardown_rec),
	    cmocka_unit_test_setup_teardown(release_when_leaving, setup_rec, teardown_rec),
	    cmocka_unit_test_setup_teardown(restore_claims_the_state, setup_rec, teardown_rec),
	    cmocka_unit_test_setup_teardown(providers_do_not_change_the_state, setup_rec,
					    teardown_rec),
	    cmocka_unit_test_setup_teardown(failing_provider_is_fatal, setup_rec, teardown_rec),
	    cmocka_unit_test_setup_teardown(format2_restore, setup_rec, teardown_rec),
	    cmocka_unit_test(builtin_peers),
	    cmocka_unit_test_setup_teardown(boq_move_renames, setup_rec, teardown_rec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
