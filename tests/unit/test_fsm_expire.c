/* Unit tests of src/fsm/fsm_expire.c: each queue's expiry heap under random
 * puts, gets, backouts (to a backout queue too), CLEARs and EXPIREs with the
 * state's invariants checked after every command (state_check: heap order,
 * positions, exactly the visible messages with an expiry); EXPIRE removes
 * exactly the due messages; EXPIRE_BOUNDED at most FSM_EXPIRE_BUDGET, the
 * earliest (expiry, seqno) first, queues in name order, and says when more
 * are due; a replica restored from a snapshot mid-way (heap rebuilt) and a
 * replica that replayed the whole log end equal. */
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
	struct fsm_result r;
	uint64_t ep;
	uint64_t seq;
	uint64_t uows; /* commits sent: a COMMIT carries the next */
	/* every entry applied, for replays */
	uint8_t **log;
	size_t *loglen;
	size_t nlog, caplog;
	uint64_t rng;
};

static uint32_t rnd(struct t *t, uint32_t n)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return (uint32_t)(t->rng % n);
}

static int run(struct t *t, const struct fsm_cmd *c)
{
	struct qsg_wbuf w, e, res;
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&res);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	fsm_entry_begin(&e, t->now);
	fsm_entry_add(&e, w.data, w.len);
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_apply(t->f, e.data, e.len, &res, errmsg), QSG_OK);
	if (t->nlog == t->caplog) {
		t->caplog = t->caplog ? 2 * t->caplog : 256;
		t->log = realloc(t->log, t->caplog * sizeof *t->log);
		t->loglen = realloc(t->loglen, t->caplog * sizeof *t->loglen);
		assert_non_null(t->log);
		assert_non_null(t->loglen);
	}
	t->log[t->nlog] = malloc(e.len);
	assert_non_null(t->log[t->nlog]);
	memcpy(t->log[t->nlog], e.data, e.len);
	t->loglen[t->nlog++] = e.len;
	uint32_t len = qsg_le32(res.data);
	assert_int_equal(fsm_result_decode(c->op, res.data + 4, len, &t->r, NULL), QSG_OK);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&res);
	state_check(t->f);
	return t->r.rc;
}

static void define(struct t *t, const char *name, const char *boq)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	strcpy(c.attrs.name, name);
	c.attrs.maxdepth = 1000000;
	c.attrs.set = FSM_QA_MAXDEPTH;
	if (boq != NULL) {
		strcpy(c.attrs.boqname, boq);
		c.attrs.bothresh = 2;
		c.attrs.set |= FSM_QA_BOQNAME | FSM_QA_BOTHRESH;
	}
	assert_int_equal(run(t, &c), QSG_OK);
}

static void start(struct t *t, uint64_t seed)
{
	memset(t, 0, sizeof *t);
	t->rng = seed;
	t->now = 1000000;
	assert_int_equal(fsm_init(&t->f, NULL), QSG_OK);
	struct fsm_cmd c = {.op = FSM_OP_ATTACH, .client_id = 1, .member_id = 1};
	assert_int_equal(run(t, &c), QSG_OK);
	t->ep = t->r.epoch;
}

static void stop(struct t *t)
{
	fsm_close(t->f);
	for (size_t i = 0; i < t->nlog; i++)
		free(t->log[i]);
	free(t->log);
	free(t->loglen);
}

static int put(struct t *t, const char *q, int64_t expiry, uint8_t prio, uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = 1, .epoch = t->ep};
	c.seq = ++t->seq;
	c.flags = flags;
	strcpy(c.queue, q);
	c.msg.expiry_ms = expiry;
	c.msg.priority = prio;
	c.msg.body.p = (const uint8_t *)"body";
	c.msg.body.len = 4;
	return run(t, &c);
}

static int sess(struct t *t, uint8_t op, uint32_t flags, const char *q)
{
	struct fsm_cmd c = {.op = op, .client_id = 1, .epoch = t->ep, .flags = flags};
	if (op == FSM_OP_COMMIT)
		c.seq = ++t->uows;
	if (q != NULL)
		strcpy(c.queue, q);
	return run(t, &c);
}

/* The visible messages of q due at now, and all with an expiry. */
static void count(struct t *t, const char *name, int64_t now, uint32_t *due, uint32_t *exp)
{
	struct queue *q = queue_find(t->f, 0, name);
	assert_non_null(q);
	*due = *exp = 0;
	for (int p = 0; p < NPRIO; p++)
		for (struct qmsg *m = q->head[p]; m != NULL; m = m->next) {
			*exp += qmsg_expiry(m) != 0;
			*due += msg_expired(m, now);
		}
}

/* Random commands on two queues (one the other's backout queue), checked
 * after each; EXPIRE removes exactly what is due. */
static void random_ops(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct t t;
		start(&t, seed * 0x9e3779b97f4a7c15ull);
		define(&t, "BOQ", NULL);
		define(&t, "Q", "BOQ");
		uint32_t expired = 0; /* by EXPIRE, so the test is not vacuous */
		for (int i = 0; i < 3000; i++) {
			uint32_t k = rnd(&t, 100);
			const char *q = rnd(&t, 4) == 0 ? "BOQ" : "Q";
			if (k < 45) {
				int64_t e = rnd(&t, 3) == 0 ? 0 : 1 + rnd(&t, 500);
				uint32_t fl = rnd(&t, 5) == 0 ? FSM_F_SYNCPOINT : 0;
				assert_int_equal(put(&t, q, e, (uint8_t)rnd(&t, 10), fl), QSG_OK);
			} else if (k < 60) {
				(void)sess(&t, FSM_OP_GET, 0, q);
			} else if (k < 75) {
				(void)sess(&t, FSM_OP_GET, FSM_F_SYNCPOINT, q);
			} else if (k < 82) {
				assert_int_equal(sess(&t, FSM_OP_BACKOUT, 0, NULL), QSG_OK);
			} else if (k < 86) {
				assert_int_equal(sess(&t, FSM_OP_COMMIT, 0, NULL), QSG_OK);
			} else if (k < 87) {
				struct fsm_cmd c = {.op = FSM_OP_QCLEAR};
				strcpy(c.queue, q);
				(void)run(&t, &c); /* refused while uncommitted */
			} else if (k < 95) {
				t.now += rnd(&t, 60);
			} else {
				uint32_t d1, e1, d2, e2, x1, x2;
				count(&t, "Q", t.now, &d1, &e1);
				count(&t, "BOQ", t.now, &d2, &e2);
				struct fsm_cmd c = {.op = FSM_OP_EXPIRE};
				if (rnd(&t, 2))
					c.op = FSM_OP_EXPIRE_BOUNDED; /* under its budget here */
				assert_int_equal(run(&t, &c), QSG_OK);
				count(&t, "Q", t.now, &x1, &e1);
				count(&t, "BOQ", t.now, &x2, &e2);
				assert_int_equal(x1 + x2, 0);
				expired += d1 + d2;
				assert_int_equal(queue_find(t.f, 0, "Q")->nexpiring, e1);
				assert_int_equal(queue_find(t.f, 0, "BOQ")->nexpiring, e2);
				assert_false(fsm_expire_more(t.f));
			}
		}
		assert_true(expired > 50);
		/* A replay of the log gives the same state. */
		struct fsm *g;
		assert_int_equal(fsm_init(&g, NULL), QSG_OK);
		for (size_t i = 0; i < t.nlog; i++)
			assert_int_equal(fsm_apply(g, t.log[i], t.loglen[i], NULL, NULL), QSG_OK);
		assert_true(fsm_digest(g) == fsm_digest(t.f));
		state_check(g);
		fsm_close(g);
		stop(&t);
	}
}

/* EXPIRE_BOUNDED: the budget, earliest first, queues in name order, the
 * `more` hint; a replica restored from a snapshot (its heaps rebuilt) does
 * the same. */
static void bounded(void **state)
{
	(void)state;
	struct t t;
	start(&t, 42);
	define(&t, "B.Q", NULL);
	define(&t, "A.Q", NULL);
	const uint32_t nA = FSM_EXPIRE_BUDGET / 2, nB = FSM_EXPIRE_BUDGET * 3 / 2;
	uint32_t neverA = 0;
	for (uint32_t i = 0; i < nB; i++) {
		/* expiries in a scrambled order (7919 is prime to both counts) */
		if (i < nA) {
			int64_t e = 1 + (int64_t)((i * 7919u) % nA);
			neverA += i % 10 == 0;
			assert_int_equal(put(&t, "A.Q", i % 10 == 0 ? 0 : e, (uint8_t)(i % 10), 0),
					 QSG_OK);
		}
		int64_t e = 1 + (int64_t)((i * 7919u) % nB);
		assert_int_equal(put(&t, "B.Q", e, (uint8_t)(i % 3), 0), QSG_OK);
	}
	uint32_t da, ea, db, eb;
	count(&t, "A.Q", t.now + 2 * nB, &da, &ea);
	count(&t, "B.Q", t.now + 2 * nB, &db, &eb);
	assert_int_equal(da, nA - neverA);
	assert_int_equal(db, nB);
	/* A few due: under one budget. */
	t.now += nA / 4;
	uint32_t dueA, dueB;
	count(&t, "A.Q", t.now, &dueA, &ea);
	count(&t, "B.Q", t.now, &dueB, &eb);
	assert_int_equal(dueB, nA / 4);
	assert_true(dueA > 0 && dueA + dueB < FSM_EXPIRE_BUDGET);
	struct fsm_cmd ex = {.op = FSM_OP_EXPIRE_BOUNDED};
	assert_int_equal(run(&t, &ex), QSG_OK);
	assert_false(fsm_expire_more(t.f));
	assert_int_equal(queue_find(t.f, 0, "A.Q")->nvisible, nA - dueA);
	assert_int_equal(queue_find(t.f, 0, "B.Q")->nvisible, nB - dueB);
	/* Out of the state into the garbage, freed later outside apply. */
	assert_int_equal(fsm_reap_pending(t.f), dueA + dueB);
	assert_int_equal(queue_find(t.f, 0, "B.Q")->curdepth, nB - dueB);
	while (fsm_reap(t.f, 100))
		;
	assert_int_equal(fsm_reap_pending(t.f), 0);

	/* Snapshot here; the replica continues from it. */
	struct qsg_wbuf s;
	qsg_wbuf_init(&s);
	assert_int_equal(fsm_snapshot(t.f, &s), QSG_OK);
	struct fsm *g;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, t.f);
	assert_int_equal(fsm_restore(g, s.data, s.len, errmsg), QSG_OK);
	size_t from = t.nlog;

	/* Everything due: more than one budget. A.Q (first by name) is
	 * emptied of its due messages first, then B.Q up to the budget. */
	t.now += 2 * nB;
	uint32_t leftA = queue_find(t.f, 0, "A.Q")->nexpiring;
	uint32_t leftB = queue_find(t.f, 0, "B.Q")->nexpiring;
	assert_true(leftA < FSM_EXPIRE_BUDGET && leftA + leftB > FSM_EXPIRE_BUDGET);
	assert_true(leftB - (FSM_EXPIRE_BUDGET - leftA) < FSM_EXPIRE_BUDGET);
	/* The earliest of B.Q's due ones are the ones to go. */
	struct queue *qb = queue_find(t.f, 0, "B.Q");
	uint32_t takeB = FSM_EXPIRE_BUDGET - leftA;
	int64_t *keys = calloc(qb->nvisible, sizeof *keys);
	assert_non_null(keys);
	uint32_t nk = 0;
	for (int p = 0; p < NPRIO; p++)
		for (struct qmsg *m = qb->head[p]; m != NULL; m = m->next)
			keys[nk++] = qmsg_expiry(m) * 1000000 + (int64_t)m->seqno;
	assert_int_equal(run(&t, &ex), QSG_OK);
	assert_true(fsm_expire_more(t.f));
	assert_int_equal(queue_find(t.f, 0, "A.Q")->nexpiring, 0);
	assert_int_equal(qb->nexpiring, leftB - takeB);
	/* Every message left in B.Q sorts after every one removed. */
	int64_t min_left = INT64_MAX;
	for (int p = 0; p < NPRIO; p++)
		for (struct qmsg *m = qb->head[p]; m != NULL; m = m->next) {
			int64_t key = qmsg_expiry(m) * 1000000 + (int64_t)m->seqno;
			if (key < min_left)
				min_left = key;
		}
	uint32_t below = 0;
	for (uint32_t i = 0; i < nk; i++)
		below += keys[i] < min_left;
	assert_int_equal(below, takeB);
	free(keys);
	assert_int_equal(run(&t, &ex), QSG_OK);
	assert_false(fsm_expire_more(t.f));
	assert_int_equal(qb->nexpiring, 0);
	assert_int_equal(queue_find(t.f, 0, "A.Q")->nvisible, neverA);

	/* The restored replica applies the same entries: equal states. */
	for (size_t i = from; i < t.nlog; i++)
		assert_int_equal(fsm_apply(g, t.log[i], t.loglen[i], NULL, NULL), QSG_OK);
	state_check(g);
	assert_true(fsm_digest(g) == fsm_digest(t.f));
	fsm_close(g);
	qsg_wbuf_close(&s);
	stop(&t);
}

/* A deep queue where only one message can expire: EXPIRE looks at the
 * heap's top, not at the million others (checked structurally: the heap
 * holds one message), and removes it when due. */
static void deep_queue_one_expiring(void **state)
{
	(void)state;
	struct t t;
	start(&t, 7);
	define(&t, "DEEP", NULL);
	for (uint32_t i = 0; i < 20000; i++)
		assert_int_equal(put(&t, "DEEP", i == 10000 ? 5 : 0, 0, 0), QSG_OK);
	struct queue *q = queue_find(t.f, 0, "DEEP");
	assert_int_equal(q->nexpiring, 1);
	struct fsm_cmd ex = {.op = FSM_OP_EXPIRE_BOUNDED};
	assert_int_equal(run(&t, &ex), QSG_OK);
	assert_int_equal(q->nvisible, 20000);
	t.now += 5;
	assert_int_equal(run(&t, &ex), QSG_OK);
	assert_int_equal(q->nvisible, 19999);
	assert_int_equal(q->nexpiring, 0);
	/* The heap gives its memory back after a drain. */
	for (uint32_t i = 0; i < 5000; i++)
		assert_int_equal(put(&t, "DEEP", 10, 0, 0), QSG_OK);
	assert_true(q->xcap >= 5000);
	t.now += 10;
	int applies = 0;
	do {
		assert_int_equal(run(&t, &ex), QSG_OK);
		applies++;
	} while (fsm_expire_more(t.f));
	assert_int_equal(applies, (5000 + FSM_EXPIRE_BUDGET - 1) / FSM_EXPIRE_BUDGET);
	assert_int_equal(q->nexpiring, 0);
	assert_true(q->xcap <= 128);
	stop(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(random_ops),
	    cmocka_unit_test(bounded),
	    cmocka_unit_test(deep_queue_one_expiring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
