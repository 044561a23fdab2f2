/* Unit tests for src/fsm: commands, apply rules, snapshots, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm.h"

#include "fsm_harness.h"

/* ------------------------------------------------------------------------ */

static void queue_define_alter_delete(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a = {.maxdepth = 7};
	assert_int_equal(qdefine(x, "Q.A", FSM_QA_MAXDEPTH, &a, 0), QSG_OK);
	struct fsm_qinfo i = qi(x, "Q.A");
	assert_int_equal(i.attrs.maxdepth, 7);
	assert_int_equal(i.attrs.maxmsgl, FSM_DEFAULT_MAXMSGL);
	assert_int_equal(i.attrs.maxumsgs, FSM_DEFAULT_MAXUMSGS);
	assert_int_equal(qdefine(x, "Q.A", 0, NULL, 0), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(qdefine(x, "", 0, NULL, 0), QSG_RC_BAD_ATTR);
	assert_int_equal(qdefine(x, "BAD NAME", 0, NULL, 0), QSG_RC_BAD_ATTR);
	assert_int_equal(qdefine(x, "A/b%c_d.9", 0, NULL, 0), QSG_OK);

	/* REPLACE keeps messages, resets unset attributes to defaults. */
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 0, "Q.A", 0, 0, "m1", 1), QSG_OK);
	assert_int_equal(qdefine(x, "Q.A", 0, NULL, FSM_F_REPLACE), QSG_OK);
	i = qi(x, "Q.A");
	assert_int_equal(i.attrs.maxdepth, FSM_DEFAULT_MAXDEPTH);
	assert_int_equal(i.curdepth, 1);

	/* ALTER changes only the attributes whose bit is set. */
	struct fsm_cmd c = {.op = FSM_OP_QALTER};
	strcpy(c.attrs.name, "Q.A");
	c.attrs.set = FSM_QA_DESCR;
	c.attrs.maxdepth = 1;
	strcpy(c.attrs.descr, "hello");
	assert_int_equal(exec(x, &c), QSG_OK);
	i = qi(x, "Q.A");
	assert_string_equal(i.attrs.descr, "hello");
	assert_int_equal(i.attrs.maxdepth, FSM_DEFAULT_MAXDEPTH);
	/* MAXDEPTH below the depth is allowed. */
	c.attrs.set = FSM_QA_MAXDEPTH;
	c.attrs.maxdepth = 0;
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(qi(x, "Q.A").attrs.maxdepth, 0);
	assert_int_equal(put(x, 1, ep, 0, "Q.A", 0, 0, "m2", 2), QSG_RC_Q_FULL);
	strcpy(c.attrs.name, "NOPE");
	assert_int_equal(exec(x, &c), QSG_RC_UNKNOWN_OBJECT);

	/* DELETE: not empty, in use when open, purge. */
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "Q.A", 0), QSG_RC_Q_NOT_EMPTY);
	assert_int_equal(sess(x, FSM_OP_OPEN, 1, ep, 0, "Q.A"), QSG_OK);
	assert_int_equal(qi(x, "Q.A").opens, 1);
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "Q.A", FSM_F_PURGE), QSG_RC_OBJECT_IN_USE);
	assert_int_equal(sess(x, FSM_OP_CLOSE, 1, ep, 0, "Q.A"), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_CLOSE, 1, ep, 0, "Q.A"), QSG_RC_INVALID);
	assert_int_equal(qi(x, "Q.A").opens, 0);
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "Q.A", FSM_F_PURGE), QSG_OK);
	struct fsm_qinfo dummy;
	assert_int_equal(fsm_queue_info(x->f, 0, "Q.A", &dummy), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "Q.A", 0), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "A/b%c_d.9", 0), QSG_OK);
}

static void queue_clear(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "a", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "Q", FSM_F_SYNCPOINT, 0, "b", 2), QSG_OK);
	assert_int_equal(qsimple(x, FSM_OP_QCLEAR, "Q", 0), QSG_RC_OBJECT_IN_USE);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(qsimple(x, FSM_OP_QCLEAR, "Q", 0), QSG_OK);
	assert_int_equal(qi(x, "Q").curdepth, 0);
	assert_int_equal(qsimple(x, FSM_OP_QCLEAR, "NOPE", 0), QSG_RC_UNKNOWN_OBJECT);
}

static void priority_then_fifo(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 1, "Q", 0, 0, "p0-a", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 2, "Q", 0, 5, "p5-a", 2), QSG_OK);
	assert_int_equal(put(x, 1, ep, 3, "Q", 0, 0, "p0-b", 3), QSG_OK);
	assert_int_equal(put(x, 1, ep, 4, "Q", 0, 9, "p9", 4), QSG_OK);
	assert_int_equal(put(x, 1, ep, 5, "Q", 0, 5, "p5-b", 5), QSG_OK);
	assert_int_equal(qi(x, "Q").curdepth, 5);
	assert_int_equal(fsm_available(x->f, 0, "Q"), 5);
	const char *order[] = {"p9", "p5-a", "p5-b", "p0-a", "p0-b"};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
		assert_body(x, order[i]);
	}
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_RC_NO_MSG_AVAILABLE);
	struct fsm_qinfo i = qi(x, "Q");
	assert_int_equal(i.curdepth, 0);
	assert_int_equal(i.puts_total, 5);
	assert_int_equal(i.gets_total, 5);
	assert_int_equal(get(x, 1, ep, "NOPE", 0, 0), QSG_RC_UNKNOWN_OBJECT);
}

static void put_result_fields(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", FSM_QA_DEFPSIST, &(struct fsm_qattrs){.defpsist = 1}, 0),
			 QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	x->notified = 0;
	assert_int_equal(put(x, 1, ep, 0, "Q", FSM_F_GEN_MSGID | FSM_F_PERSIST_DEFAULT, 3, "x", 7),
			 QSG_OK);
	assert_int_equal(x->notified, 1);
	assert_string_equal(x->last_queue, "Q");
	uint64_t seqno = x->r.msg.seqno;
	assert_true(seqno > 0);
	uint8_t id[FSM_ID_LEN];
	memcpy(id, x->r.msg.msgid, FSM_ID_LEN);
	assert_memory_equal(id, "QSG\x01", 4);
	assert_int_equal(id[4], (uint8_t)seqno);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_memory_equal(x->r.msg.msgid, id, FSM_ID_LEN);
	assert_int_equal(x->r.msg.persistent, 1);
	assert_int_equal(x->r.msg.priority, 3);
	assert_int_equal(x->r.msg.put_time_ms, x->now);
	assert_int_equal(x->r.msg.seqno, seqno);
	assert_int_equal(x->r.msg.expiry_ms, 0);
	/* Explicit persistence and a caller msgid. */
	assert_int_equal(put(x, 1, ep, 0, "Q", FSM_F_PERSISTENT, 0, "y", 9), QSG_OK);
	assert_int_equal(x->r.msg.msgid[0], 9);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "z", 10), QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_int_equal(x->r.msg.persistent, 1);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_int_equal(x->r.msg.persistent, 0);
}

static void put_refusals(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a = {.maxdepth = 2, .maxmsgl = 4, .maxumsgs = 1};
	assert_int_equal(qdefine(x, "Q", FSM_QA_MAXDEPTH | FSM_QA_MAXMSGL | FSM_QA_MAXUMSGS, &a, 0),
			 QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 0, "NOPE", 0, 0, "a", 1), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "12345", 1), QSG_RC_MSG_TOO_BIG);
	assert_int_equal(put(x, 1, ep, 0, "Q", FSM_F_SYNCPOINT, 0, "a", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "Q", FSM_F_SYNCPOINT, 0, "b", 1), QSG_RC_SYNCPOINT_LIMIT);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "c", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "d", 1), QSG_RC_Q_FULL);
	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = 1, .epoch = ep};
	strcpy(c.queue, "Q");
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, ep, 1, NULL), QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	c.msg.expiry_ms = -1;
	assert_int_equal(exec(x, &c), QSG_RC_EXPIRY_ERROR);
	/* Inhibited. */
	struct fsm_cmd alt = {.op = FSM_OP_QALTER};
	strcpy(alt.attrs.name, "Q");
	alt.attrs.set = FSM_QA_PUT | FSM_QA_GET;
	alt.attrs.put_inhibited = 1;
	alt.attrs.get_inhibited = 1;
	assert_int_equal(exec(x, &alt), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "e", 1), QSG_RC_PUT_INHIBITED);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_RC_GET_INHIBITED);
	struct fsm_cmd br = {.op = FSM_OP_BROWSE};
	strcpy(br.queue, "Q");
	assert_int_equal(exec(x, &br), QSG_RC_GET_INHIBITED);
}

static void syncpoint_put_invisible_until_commit(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", 0, NULL, 0), QSG_OK);
	uint64_t e1 = attach(x, 1, 1);
	uint64_t e2 = attach(x, 2, 1);
	assert_int_equal(put(x, 1, e1, 0, "Q", FSM_F_SYNCPOINT, 0, "held", 1), QSG_OK);
	x->notified = 0;
	assert_int_equal(put(x, 1, e1, 0, "Q", FSM_F_SYNCPOINT, 0, "held2", 2), QSG_OK);
	assert_int_equal(x->notified, 0);
	struct fsm_qinfo i = qi(x, "Q");
	assert_int_equal(i.curdepth, 2);
	assert_int_equal(i.uncommitted, 2);
	assert_int_equal(fsm_available(x->f, 0, "Q"), 0);
	assert_int_equal(get(x, 2, e2, "Q", 0, 0), QSG_RC_NO_MSG_AVAILABLE);
	struct fsm_cmd br = {.op = FSM_OP_BROWSE};
	strcpy(br.queue, "Q");
	assert_int_equal(exec(x, &br), QSG_RC_NO_MSG_AVAILABLE);
	/* A committed put after the held ones is visible at once. */
	assert_int_equal(put(x, 2, e2, 0, "Q", 0, 0, "direct", 3), QSG_OK);
	/* Wrong uow number, then commit. */
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, e1, 2, NULL), QSG_RC_INVALID);
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, e1, 1, NULL), QSG_OK);
	assert_int_equal(x->notified, 3);
	i = qi(x, "Q");
	assert_int_equal(i.uncommitted, 0);
	assert_int_equal(i.curdepth, 3);
	/* Position by seqno: the held puts were put before "direct". */
	assert_int_equal(get(x, 2, e2, "Q", 0, 0), QSG_OK);
	assert_body(x, "held");
	assert_int_equal(get(x, 2, e2, "Q", 0, 0), QSG_OK);
	assert_body(x, "held2");
	assert_int_equal(get(x, 2, e2, "Q", 0, 0), QSG_OK);
	assert_body(x, "direct");
	/* Commit is idempotent; an empty commit counts. */
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, e1, 1, NULL), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, e1, 2, NULL), QSG_OK);
	assert_int_equal(attach(x, 1, 1), e1 + 1);
	assert_int_equal(x->r.uows_done, 2);
	/* Backout discards held puts. */
	e1 = x->r.epoch;
	assert_int_equal(put(x, 1, e1, 0, "Q", FSM_F_SYNCPOINT, 0, "gone", 4), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, e1, 0, NULL), QSG_OK);
	i = qi(x, "Q");
	assert_int_equal(i.curdepth, 0);
	assert_int_equal(i.uncommitted, 0);
}

static void syncpoint_get_backout_restores_position(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 4, "first", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 4, "second", 2), QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_body(x, "first");
	struct fsm_qinfo i = qi(x, "Q");
	assert_int_equal(i.curdepth, 2);
	assert_int_equal(i.uncommitted, 1);
	assert_int_equal(fsm_available(x->f, 0, "Q"), 1);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 4, "third", 3), QSG_OK);
	x->notified = 0;
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(x->notified, 1);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_body(x, "first");
	assert_int_equal(x->r.msg.backout_count, 1);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_body(x, "second");
	assert_int_equal(x->r.msg.backout_count, 0);
	/* Commit removes a locked message for good. */
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_body(x, "third");
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, ep, 1, NULL), QSG_OK);
	i = qi(x, "Q");
	assert_int_equal(i.curdepth, 0);
	assert_int_equal(i.gets_total, 3);
	/* DETACH backs out too. */
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "d", 4), QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_DETACH, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(fsm_available(x->f, 0, "Q"), 1);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_RC_SESSION_FENCED);
}

static void backout_threshold_moves_to_boq(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a = {.bothresh = 2};
	strcpy(a.boqname, "BOQ");
	assert_int_equal(qdefine(x, "Q", FSM_QA_BOTHRESH | FSM_QA_BOQNAME, &a, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "poison", 1), QSG_OK);
	/* BOQ does not exist yet: the message stays. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
		assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	}
	assert_int_equal(qi(x, "Q").curdepth, 1);
	/* BOQ full: stays. */
	assert_int_equal(qdefine(x, "BOQ", FSM_QA_MAXDEPTH, &(struct fsm_qattrs){.maxdepth = 0}, 0),
			 QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(qi(x, "Q").curdepth, 1);
	/* BOQ with room: moves. */
	assert_int_equal(qdefine(x, "BOQ", 0, NULL, FSM_F_REPLACE), QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(x->r.msg.backout_count, 3);
	x->notified = 0;
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(x->notified, 1);
	assert_string_equal(x->last_queue, "BOQ");
	assert_int_equal(qi(x, "Q").curdepth, 0);
	assert_int_equal(qi(x, "BOQ").curdepth, 1);
	assert_int_equal(get(x, 1, ep, "BOQ", 0, 0), QSG_OK);
	assert_body(x, "poison");
	assert_int_equal(x->r.msg.backout_count, 4);
}

/* BACKOUT_UNCOUNTED (level 5, an AMQP released outcome): the message goes
 * back to its place with BackoutCount as it was, so BOTHRESH never moves
 * it; a counted BACKOUT after it counts from there. */
static void backout_uncounted_leaves_count(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a = {.bothresh = 1};
	strcpy(a.boqname, "BOQ");
	assert_int_equal(qdefine(x, "Q", FSM_QA_BOTHRESH | FSM_QA_BOQNAME, &a, 0), QSG_OK);
	assert_int_equal(qdefine(x, "BOQ", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "first", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "second", 2), QSG_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
		assert_body(x, "first");
		assert_int_equal(x->r.msg.backout_count, 0);
		x->notified = 0;
		assert_int_equal(sess(x, FSM_OP_BACKOUT_UNCOUNTED, 1, ep, 0, NULL), QSG_OK);
		assert_int_equal(x->notified, 1);
		struct fsm_qinfo i1 = qi(x, "Q");
		assert_int_equal(i1.curdepth, 2);
		assert_int_equal(i1.uncommitted, 0);
		assert_int_equal(qi(x, "BOQ").curdepth, 0);
	}
	/* A counted backout: BackoutCount 1 reaches BOTHRESH(1): to BOQ. */
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_body(x, "first");
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(qi(x, "BOQ").curdepth, 1);
	assert_int_equal(get(x, 1, ep, "BOQ", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_body(x, "first");
	assert_int_equal(x->r.msg.backout_count, 1);
	/* Uncounted again: stays on BOQ (BOQ has no threshold) at count 1. */
	assert_int_equal(sess(x, FSM_OP_BACKOUT_UNCOUNTED, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(get(x, 1, ep, "BOQ", 0, 0), QSG_OK);
	assert_int_equal(x->r.msg.backout_count, 1);
	/* A fenced session is refused, as for BACKOUT. */
	assert_int_equal(sess(x, FSM_OP_BACKOUT_UNCOUNTED, 1, ep + 1, 0, NULL),
			 QSG_RC_SESSION_FENCED);
}

static void producer_dedup(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", FSM_QA_MAXDEPTH, &(struct fsm_qattrs){.maxdepth = 2}, 0),
			 QSG_OK);
	uint64_t ep = attach(x, 7, 1);
	assert_int_equal(x->r.put_seq, 0);
	assert_int_equal(put(x, 7, ep, 1, "Q", 0, 0, "a", 1), QSG_OK);
	assert_int_equal(x->r.duplicate, 0);
	assert_int_equal(put(x, 7, ep, 1, "Q", 0, 0, "a", 1), QSG_OK);
	assert_int_equal(x->r.duplicate, 1);
	assert_int_equal(qi(x, "Q").curdepth, 1);
	/* Gap: nothing changes. */
	uint64_t before = fsm_digest(x->f);
	assert_int_equal(put(x, 7, ep, 3, "Q", 0, 0, "c", 3), QSG_RC_SEQUENCE_GAP);
	assert_true(fsm_digest(x->f) == before); /* same entry time: same state */
	assert_int_equal(qi(x, "Q").curdepth, 1);
	/* A refused put consumes its seq. */
	assert_int_equal(put(x, 7, ep, 2, "NOPE", 0, 0, "b", 2), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(put(x, 7, ep, 2, "Q", 0, 0, "b", 2), QSG_OK);
	assert_int_equal(x->r.duplicate, 1);
	assert_int_equal(put(x, 7, ep, 3, "Q", 0, 0, "c", 3), QSG_OK);
	assert_int_equal(x->r.duplicate, 0);
	assert_int_equal(put(x, 7, ep, 4, "Q", 0, 0, "d", 4), QSG_RC_Q_FULL);
	/* seq 0 never dedups. */
	assert_int_equal(get(x, 7, ep, "Q", 0, 0), QSG_OK);
	assert_int_equal(put(x, 7, ep, 0, "Q", 0, 0, "e", 5), QSG_OK);
	assert_int_equal(x->r.duplicate, 0);
	/* put_seq survives re-attach. */
	attach(x, 7, 2);
	assert_int_equal(x->r.put_seq, 4);
}

static void fencing_by_epoch(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", 0, NULL, 0), QSG_OK);
	assert_int_equal(put(x, 5, 1, 0, "Q", 0, 0, "a", 1), QSG_RC_NOT_ATTACHED);
	uint64_t e1 = attach(x, 5, 1);
	assert_int_equal(sess(x, FSM_OP_OPEN, 5, e1, 0, "Q"), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_OPEN, 5, e1, 0, "NOPE"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(put(x, 5, e1, 0, "Q", FSM_F_SYNCPOINT, 0, "a", 1), QSG_OK);
	assert_int_equal(qi(x, "Q").opens, 1);
	uint64_t e2 = attach(x, 5, 2);
	assert_int_equal(e2, e1 + 1);
	/* The re-attach backed out the uow and dropped the opens. */
	struct fsm_qinfo i = qi(x, "Q");
	assert_int_equal(i.curdepth, 0);
	assert_int_equal(i.opens, 0);
	assert_int_equal(put(x, 5, e1, 0, "Q", 0, 0, "b", 2), QSG_RC_SESSION_FENCED);
	assert_int_equal(get(x, 5, e1, "Q", 0, 0), QSG_RC_SESSION_FENCED);
	assert_int_equal(sess(x, FSM_OP_COMMIT, 5, e1, 1, NULL), QSG_RC_SESSION_FENCED);
	assert_int_equal(sess(x, FSM_OP_DETACH, 5, e1, 0, NULL), QSG_RC_SESSION_FENCED);
	assert_int_equal(put(x, 5, e2, 0, "Q", 0, 0, "c", 3), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_DETACH, 5, e2, 0, NULL), QSG_OK);
	assert_int_equal(put(x, 5, e2, 0, "Q", 0, 0, "d", 4), QSG_RC_SESSION_FENCED);
}

static int member_join(struct ctx *x, uint32_t id, uint64_t lease)
{
	struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN, .member_id = id, .seq = lease};
	strcpy(c.name, "QM1");
	strcpy(c.raft_addr, "127.0.0.1:9001");
	strcpy(c.client_addr, "127.0.0.1:1414");
	return exec(x, &c);
}

static void members_and_leases(void **state)
{
	struct ctx *x = *state;
	struct fsm_member m;
	assert_int_equal(qdefine(x, "Q", 0, NULL, 0), QSG_OK);
	assert_int_equal(member_join(x, 1, 0), QSG_OK);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	assert_int_equal(m.state, FSM_MEMBER_ACTIVE);
	assert_int_equal(m.lease_expiry_ms, x->now + FSM_DEFAULT_LEASE_MS);
	assert_string_equal(m.client_addr, "127.0.0.1:1414");
	assert_int_equal(member_join(x, 2, 0), QSG_OK);

	uint64_t e1 = attach(x, 11, 1);
	uint64_t e2 = attach(x, 12, 2);
	assert_int_equal(put(x, 11, e1, 0, "Q", 0, 0, "m", 1), QSG_OK);
	assert_int_equal(get(x, 11, e1, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(put(x, 11, e1, 0, "Q", FSM_F_SYNCPOINT, 0, "held", 2), QSG_OK);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	assert_int_equal(m.sessions, 1);

	/* Renewal. */
	x->now += 100;
	struct fsm_cmd r = {.op = FSM_OP_LEASE_RENEW, .member_id = 1, .seq = 2000};
	r.stats.role = 3;
	r.stats.term = 9;
	assert_int_equal(exec(x, &r), QSG_OK);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	assert_int_equal(m.lease_expiry_ms, x->now + 2000);
	assert_int_equal(m.last_renew_ms, x->now);
	assert_int_equal(m.stats.term, 9);
	r.member_id = 99;
	assert_int_equal(exec(x, &r), QSG_RC_UNKNOWN_OBJECT);

	/* MEMBER_FAIL with a stale expiry loses the race. */
	int64_t expiry = m.lease_expiry_ms;
	struct fsm_cmd fl = {.op = FSM_OP_MEMBER_FAIL, .member_id = 1, .seq = (uint64_t)expiry - 1};
	uint64_t before = fsm_digest(x->f);
	assert_int_equal(exec(x, &fl), QSG_RC_INVALID);
	assert_true(fsm_digest(x->f) == before);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	assert_int_equal(m.state, FSM_MEMBER_ACTIVE);
	fl.seq = (uint64_t)expiry;
	assert_int_equal(exec(x, &fl), QSG_OK);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	assert_int_equal(m.state, FSM_MEMBER_FAILED);
	assert_int_equal(m.sessions, 0);
	/* Its session's uow was backed out: the message is back. */
	struct fsm_qinfo i = qi(x, "Q");
	assert_int_equal(i.curdepth, 1);
	assert_int_equal(i.uncommitted, 0);
	assert_int_equal(get(x, 12, e2, "Q", 0, 0), QSG_OK);
	assert_int_equal(x->r.msg.backout_count, 1);
	assert_int_equal(put(x, 11, e1, 0, "Q", 0, 0, "x", 3), QSG_RC_SESSION_FENCED);
	/* A second fail is refused (not ACTIVE). */
	assert_int_equal(exec(x, &fl), QSG_RC_INVALID);
	fl.member_id = 77;
	assert_int_equal(exec(x, &fl), QSG_RC_INVALID);

	/* MEMBER_JOIN of a restarted member detaches its sessions. */
	assert_int_equal(put(x, 12, e2, 0, "Q", FSM_F_SYNCPOINT, 0, "h", 4), QSG_OK);
	assert_int_equal(member_join(x, 2, 500), QSG_OK);
	assert_int_equal(qi(x, "Q").curdepth, 0);
	assert_int_equal(put(x, 12, e2, 0, "Q", 0, 0, "y", 5), QSG_RC_SESSION_FENCED);
	assert_int_equal(fsm_member_get(x->f, 2, &m), QSG_OK);
	assert_int_equal(m.lease_expiry_ms, x->now + 500);
	assert_int_equal(fsm_member_get(x->f, 3, &m), QSG_RC_UNKNOWN_OBJECT);
	/* A renewal revives a failed member. */
	r.member_id = 1;
	assert_int_equal(exec(x, &r), QSG_OK);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	assert_int_equal(m.state, FSM_MEMBER_ACTIVE);

	/* MEMBER_REMOVE forgets a FAILED member, and only a FAILED one. */
	struct fsm_cmd rm = {.op = FSM_OP_MEMBER_REMOVE, .member_id = 1};
	assert_int_equal(exec(x, &rm), QSG_RC_INVALID);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	fl.member_id = 1;
	fl.seq = (uint64_t)m.lease_expiry_ms;
	assert_int_equal(exec(x, &fl), QSG_OK);
	assert_int_equal(exec(x, &rm), QSG_OK);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(fsm_member_get(x->f, 2, &m), QSG_OK);
	assert_int_equal(exec(x, &rm), QSG_RC_UNKNOWN_OBJECT);
	/* A forgotten member's renewal is refused: it has to join again. */
	assert_int_equal(exec(x, &r), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(member_join(x, 1, 500), QSG_OK);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	assert_int_equal(m.state, FSM_MEMBER_ACTIVE);
}

static int count_cb(void *arg, const struct fsm_member *m)
{
	(void)m;
	(*(int *)arg)++;
	return 0;
}

static int qname_cb(void *arg, const struct fsm_qinfo *q)
{
	char *s = arg;
	strcat(s, q->attrs.name);
	strcat(s, ",");
	return 0;
}

static void foreach_in_order(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "C", 0, NULL, 0), QSG_OK);
	assert_int_equal(qdefine(x, "A", 0, NULL, 0), QSG_OK);
	assert_int_equal(qdefine(x, "B", 0, NULL, 0), QSG_OK);
	char names[64] = "";
	fsm_queue_foreach(x->f, qname_cb, names);
	assert_string_equal(names, "A,B,C,");
	assert_int_equal(member_join(x, 3, 0), QSG_OK);
	assert_int_equal(member_join(x, 1, 0), QSG_OK);
	int n = 0;
	fsm_member_foreach(x->f, count_cb, &n);
	assert_int_equal(n, 2);
	assert_int_equal(fsm_entries_applied(x->f), 5);
	assert_int_equal(fsm_last_time(x->f), x->now);
}

static void expiry(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = 1, .epoch = ep};
	strcpy(c.queue, "Q");
	c.msg.expiry_ms = 100;
	c.msg.body.p = (const uint8_t *)"old";
	c.msg.body.len = 3;
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "forever", 1), QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(x->r.msg.expiry_ms, x->now + 100);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	x->now += 100;
	/* Both expired messages are removed on the way. */
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_OK);
	assert_body(x, "forever");
	assert_int_equal(qi(x, "Q").curdepth, 0);
	assert_int_equal(get(x, 1, ep, "Q", 0, 0), QSG_RC_NO_MSG_AVAILABLE);

	/* EXPIRE: expired messages and old detached sessions. */
	assert_int_equal(exec(x, &c), QSG_OK);
	uint64_t e2 = attach(x, 2, 1);
	assert_int_equal(sess(x, FSM_OP_DETACH, 2, e2, 0, NULL), QSG_OK);
	x->now += 50;
	struct fsm_cmd ex = {.op = FSM_OP_EXPIRE, .seq = 100};
	assert_int_equal(exec(x, &ex), QSG_OK);
	assert_int_equal(qi(x, "Q").curdepth, 1); /* not yet expired */
	x->now += 50;
	assert_int_equal(exec(x, &ex), QSG_OK);
	assert_int_equal(qi(x, "Q").curdepth, 0);
	/* The detached session is gone: a fresh one starts at put_seq 0. */
	assert_int_equal(sess(x, FSM_OP_DETACH, 2, e2, 0, NULL), QSG_RC_NOT_ATTACHED);
	assert_int_equal(attach(x, 2, 1), 1);
	/* The attached session 1 survives. */
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 0, "still", 1), QSG_OK);
}

static void indexed_get(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(
	    qdefine(x, "IQ", FSM_QA_INDXTYPE, &(struct fsm_qattrs){.indxtype = FSM_INDX_MSGID}, 0),
	    QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	uint64_t e2 = attach(x, 2, 1);
	assert_int_equal(put(x, 1, ep, 0, "IQ", FSM_F_SYNCPOINT, 0, "uncommitted", 5), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "IQ", 0, 0, "other", 6), QSG_OK);
	assert_int_equal(get(x, 2, e2, "IQ", FSM_F_MATCH_MSGID, 5), QSG_RC_NO_MSG_AVAILABLE);
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, ep, 1, NULL), QSG_OK);
	/* Two messages with the same msgid, different priorities. */
	assert_int_equal(put(x, 1, ep, 0, "IQ", 0, 8, "hi", 5), QSG_OK);
	assert_int_equal(get(x, 2, e2, "IQ", FSM_F_MATCH_MSGID | FSM_F_SYNCPOINT, 5), QSG_OK);
	assert_body(x, "hi");
	/* Locked: not in the index any more. */
	assert_int_equal(get(x, 1, ep, "IQ", FSM_F_MATCH_MSGID, 5), QSG_OK);
	assert_body(x, "uncommitted");
	assert_int_equal(get(x, 1, ep, "IQ", FSM_F_MATCH_MSGID, 5), QSG_RC_NO_MSG_AVAILABLE);
	/* Backout puts it back in the index. */
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 2, e2, 0, NULL), QSG_OK);
	assert_int_equal(get(x, 1, ep, "IQ", FSM_F_MATCH_MSGID | FSM_F_MATCH_CORRELID, 5), QSG_OK);
	assert_body(x, "hi");
	/* Match on both with a correlid that differs. */
	assert_int_equal(put(x, 1, ep, 0, "IQ", 0, 0, "c", 7), QSG_OK);
	struct fsm_cmd g = {.op = FSM_OP_GET,
			    .client_id = 1,
			    .epoch = ep,
			    .flags = FSM_F_MATCH_MSGID | FSM_F_MATCH_CORRELID};
	strcpy(g.queue, "IQ");
	g.msg.msgid[0] = 7;
	assert_int_equal(exec(x, &g), QSG_RC_NO_MSG_AVAILABLE);
	/* Alter to CORRELID index: rebuilt. */
	struct fsm_cmd alt = {.op = FSM_OP_QALTER};
	strcpy(alt.attrs.name, "IQ");
	alt.attrs.set = FSM_QA_INDXTYPE;
	alt.attrs.indxtype = FSM_INDX_CORRELID;
	assert_int_equal(exec(x, &alt), QSG_OK);
	assert_int_equal(get(x, 1, ep, "IQ", FSM_F_MATCH_CORRELID, 7), QSG_OK);
	assert_body(x, "c");
	assert_int_equal(get(x, 1, ep, "IQ", FSM_F_MATCH_CORRELID, 6), QSG_OK);
	assert_body(x, "other");
	/* Clear empties the index. */
	assert_int_equal(put(x, 1, ep, 0, "IQ", 0, 0, "z", 9), QSG_OK);
	assert_int_equal(qsimple(x, FSM_OP_QCLEAR, "IQ", 0), QSG_OK);
	assert_int_equal(get(x, 1, ep, "IQ", FSM_F_MATCH_CORRELID, 9), QSG_RC_NO_MSG_AVAILABLE);
	/* Unindexed match scans. */
	assert_int_equal(qdefine(x, "PLAIN", 0, NULL, 0), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "PLAIN", 0, 0, "a", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "PLAIN", 0, 0, "b", 2), QSG_OK);
	assert_int_equal(get(x, 1, ep, "PLAIN", FSM_F_MATCH_MSGID, 2), QSG_OK);
	assert_body(x, "b");
}

static int browse(struct ctx *x, const char *q, uint8_t prio, uint64_t seqno)
{
	struct fsm_cmd c = {.op = FSM_OP_BROWSE};
	strcpy(c.queue, q);
	c.msg.priority = prio;
	c.msg.seqno = seqno;
	return exec(x, &c);
}

static void browse_cursor(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 1, "low", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 6, "high1", 2), QSG_OK);
	assert_int_equal(put(x, 1, ep, 0, "Q", 0, 6, "high2", 3), QSG_OK);
	uint64_t before = fsm_digest(x->f);
	const char *order[] = {"high1", "high2", "low"};
	uint8_t prio = 0;
	uint64_t seqno = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(browse(x, "Q", prio, seqno), QSG_OK);
		assert_body(x, order[i]);
		prio = x->r.msg.priority;
		seqno = x->r.msg.seqno;
	}
	assert_int_equal(browse(x, "Q", prio, seqno), QSG_RC_NO_MSG_AVAILABLE);
	assert_int_equal(browse(x, "NOPE", 0, 0), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(qi(x, "Q").curdepth, 3);
	assert_true(fsm_digest(x->f) == before); /* browse changes nothing */
}

/* --- determinism and snapshots ------------------------------------------ */

static void workload(struct ctx *x)
{
	struct fsm_qattrs a = {.bothresh = 1, .indxtype = FSM_INDX_CORRELID};
	strcpy(a.boqname, "DLQ");
	assert_int_equal(qdefine(x, "DLQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(
	    qdefine(x, "Q1", FSM_QA_BOTHRESH | FSM_QA_BOQNAME | FSM_QA_INDXTYPE, &a, 0), QSG_OK);
	assert_int_equal(qdefine(x, "Q0", 0, NULL, 0), QSG_OK);
	assert_int_equal(member_join(x, 1, 0), QSG_OK);
	assert_int_equal(member_join(x, 2, 0), QSG_OK);
	uint64_t e[4];
	for (uint64_t c = 1; c < 4; c++) {
		e[c] = attach(x, c * 1000, (uint32_t)(c % 2 + 1));
		assert_int_equal(sess(x, FSM_OP_OPEN, c * 1000, e[c], 0, "Q1"), QSG_OK);
		assert_int_equal(sess(x, FSM_OP_OPEN, c * 1000, e[c], 0, "Q0"), QSG_OK);
	}
	for (int i = 0; i < 30; i++) {
		uint64_t c = (uint64_t)(i % 3 + 1);
		x->now += 7;
		char body[16];
		snprintf(body, sizeof body, "b%d", i);
		uint32_t flags = (i % 4 == 0) ? FSM_F_SYNCPOINT : 0;
		assert_int_equal(put(x, c * 1000, e[c], 0, i % 2 ? "Q1" : "Q0",
				     flags | FSM_F_GEN_MSGID, (uint8_t)(i % 10), body, (uint8_t)i),
				 QSG_OK);
		if (i % 5 == 0)
			get(x, c * 1000, e[c], "Q1", FSM_F_SYNCPOINT, 0);
	}
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 2000, e[2], 0, NULL), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_COMMIT, 3000, e[3], 1, NULL), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_DETACH, 3000, e[3], 0, NULL), QSG_OK);
	/* Session 1000 keeps an open uow for the snapshot. */
	struct fsm_cmd r = {.op = FSM_OP_LEASE_RENEW, .member_id = 2};
	r.stats.role = 1;
	assert_int_equal(exec(x, &r), QSG_OK);
}

static void snapshot_roundtrip(void **state)
{
	struct ctx *x = *state;
	workload(x);
	struct qsg_wbuf s1, s2;
	qsg_wbuf_init(&s1);
	qsg_wbuf_init(&s2);
	assert_int_equal(fsm_snapshot(x->f, &s1), QSG_OK);
	assert_int_equal(s1.data[0], FSM_SNAPSHOT_VERSION);
	struct fsm *g;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, x->f); /* g fetches content as a catching-up member */
	assert_int_equal(fsm_restore(g, s1.data, s1.len, errmsg), QSG_OK);
	assert_int_equal(fsm_snapshot(g, &s2), QSG_OK);
	assert_int_equal(s1.len, s2.len);
	assert_memory_equal(s1.data, s2.data, s1.len);
	assert_true(fsm_digest(g) == fsm_digest(x->f));
	struct fsm_qinfo a, b;
	assert_int_equal(fsm_queue_info(g, 0, "Q1", &a), QSG_OK);
	b = qi(x, "Q1");
	assert_int_equal(a.curdepth, b.curdepth);
	assert_int_equal(a.uncommitted, b.uncommitted);
	assert_int_equal(a.opens, b.opens);
	assert_int_equal(fsm_available(g, 0, "Q1"), fsm_available(x->f, 0, "Q1"));

	/* The restored state keeps working identically: same command on both. */
	struct fsm *orig = x->f;
	struct fsm_cmd c = {.op = FSM_OP_BACKOUT, .client_id = 1000};
	c.epoch = 1;
	struct qsg_wbuf e;
	qsg_wbuf_init(&e);
	build(x, &c, &e);
	assert_int_equal(fsm_apply(orig, e.data, e.len, NULL, NULL), QSG_OK);
	assert_int_equal(fsm_apply(g, e.data, e.len, NULL, NULL), QSG_OK);
	assert_true(fsm_digest(g) == fsm_digest(orig));
	qsg_wbuf_close(&e);

	/* Every truncation of the snapshot is refused; state unchanged. */
	uint64_t d = fsm_digest(g);
	for (size_t n = 0; n < s1.len; n++)
		assert_int_not_equal(fsm_restore(g, s1.data, n, errmsg), QSG_OK);
	assert_true(fsm_digest(g) == d);
	/* Trailing byte, wrong version. */
	qsg_put_u8(&s1, 0);
	assert_int_equal(fsm_restore(g, s1.data, s1.len, errmsg), QSG_RC_BAD_FRAME);
	s1.data[0] = 99;
	assert_int_equal(fsm_restore(g, s1.data, s1.len - 1, errmsg), QSG_RC_BAD_VERSION);
	assert_true(fsm_digest(g) == d);
	fsm_close(g);
	qsg_wbuf_close(&s1);
	qsg_wbuf_close(&s2);
}

static void replay_gives_equal_digests(void **state)
{
	struct ctx *x = *state;
	workload(x);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	for (size_t i = 0; i < x->nlog; i++)
		assert_int_equal(fsm_apply(g, x->log[i], x->loglen[i], NULL, NULL), QSG_OK);
	assert_true(fsm_digest(g) == fsm_digest(x->f));
	assert_true(fsm_digest(g) != 0);
	fsm_close(g);

	/* One batched entry with all the commands gives the same queues. */
	struct fsm *h;
	assert_int_equal(fsm_init(&h, NULL), QSG_OK);
	struct qsg_wbuf big;
	qsg_wbuf_init(&big);
	fsm_entry_begin(&big, 5);
	for (size_t i = 0; i < x->nlog; i++) {
		const uint8_t *p = x->log[i] + FSM_ENTRY_HEADER_SIZE;
		fsm_entry_add(&big, p + 4, qsg_le32(p));
	}
	assert_int_equal(fsm_entry_count(&big), x->nlog);
	struct qsg_wbuf res;
	qsg_wbuf_init(&res);
	assert_int_equal(fsm_apply(h, big.data, big.len, &res, NULL), QSG_OK);
	/* One result per command. */
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, res.data, res.len);
	for (size_t i = 0; i < x->nlog; i++) {
		struct qsg_slice s = qsg_get_blob(&r, res.len);
		assert_int_equal(r.err, QSG_OK);
		assert_true(s.len >= 4);
	}
	assert_int_equal(qsg_rbuf_left(&r), 0);
	struct fsm_qinfo a;
	assert_int_equal(fsm_queue_info(h, 0, "Q0", &a), QSG_OK);
	assert_int_equal(a.curdepth, qi(x, "Q0").curdepth);
	fsm_close(h);
	qsg_wbuf_close(&big);
	qsg_wbuf_close(&res);
}

/* --- malformed input ------------------------------------------------------ */

static void reject(struct ctx *x, const void *p, size_t len)
{
	uint64_t d = fsm_digest(x->f);
	uint64_t n = fsm_entries_applied(x->f);
	char errmsg[QSG_ERRMSG_SIZE] = "";
	struct qsg_wbuf res;
	qsg_wbuf_init(&res);
	int rc = fsm_apply(x->f, p, len, &res, errmsg);
	assert_true(rc == QSG_RC_BAD_FRAME || rc == QSG_RC_BAD_VERSION);
	assert_true(errmsg[0] != '\0');
	assert_int_equal(res.len, 0);
	assert_true(fsm_digest(x->f) == d);
	assert_int_equal(fsm_entries_applied(x->f), n);
	qsg_wbuf_close(&res);
}

static void malformed_entries(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "Q", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	/* A valid two-command entry: a PUT then a define. */
	struct fsm_cmd p = {.op = FSM_OP_PUT, .client_id = 1, .epoch = ep, .seq = 1};
	strcpy(p.queue, "Q");
	p.msg.body.p = (const uint8_t *)"hello";
	p.msg.body.len = 5;
	p.msg.props.p = (const uint8_t *)"k=v";
	p.msg.props.len = 3;
	struct fsm_cmd d = {.op = FSM_OP_QDEFINE};
	strcpy(d.attrs.name, "NEW");
	struct qsg_wbuf c1, c2, e;
	qsg_wbuf_init(&c1);
	qsg_wbuf_init(&c2);
	qsg_wbuf_init(&e);
	assert_int_equal(fsm_cmd_encode(&p, &c1), QSG_OK);
	assert_int_equal(fsm_cmd_encode(&d, &c2), QSG_OK);
	fsm_entry_begin(&e, x->now);
	fsm_entry_add(&e, c1.data, c1.len);
	fsm_entry_add(&e, c2.data, c2.len);
	/* Truncated at every offset. */
	for (size_t n = 0; n < e.len; n++)
		reject(x, e.data, n);
	/* Trailing byte. */
	uint8_t *buf = malloc(e.len + 1);
	assert_non_null(buf);
	memcpy(buf, e.data, e.len);
	buf[e.len] = 0;
	reject(x, buf, e.len + 1);
	/* Version, type, reserved. */
	buf[0] = 2;
	reject(x, buf, e.len);
	buf[0] = 1;
	buf[1] = 2;
	reject(x, buf, e.len);
	buf[1] = 1;
	buf[2] = 1;
	reject(x, buf, e.len);
	buf[2] = 0;
	/* Count mismatch: 1, 3, 0, huge. */
	uint32_t counts[] = {1, 3, 0, FSM_MAX_BATCH + 1, UINT32_MAX};
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		for (int b = 0; b < 4; b++)
			buf[12 + b] = (uint8_t)(counts[i] >> (8 * b));
		reject(x, buf, e.len);
	}
	buf[12] = 2;
	buf[13] = buf[14] = buf[15] = 0;
	/* Huge command length. */
	buf[16] = buf[17] = buf[18] = buf[19] = 0xff;
	reject(x, buf, e.len);
	memcpy(buf, e.data, e.len);
	/* Command format version, unknown op. */
	buf[21] = FSM_CMD_VERSION + 1;
	reject(x, buf, e.len);
	buf[21] = FSM_CMD_VERSION;
	buf[20] = 99;
	reject(x, buf, e.len);
	buf[20] = FSM_OP_PUT;
	/* Every single-byte corruption in the PUT body either decodes (and is
	 * then valid) or is rejected with the state unchanged; corrupting the
	 * blob length high byte must be rejected. */
	size_t body_len_off = 20 + c1.len - 5 - 4 + 3;
	buf[body_len_off] = 0x7f;
	reject(x, buf, e.len);
	memcpy(buf, e.data, e.len);
	/* The intact entry applies; both commands take effect. */
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_apply(x->f, buf, e.len, NULL, errmsg), QSG_OK);
	assert_int_equal(qi(x, "Q").curdepth, 1);
	assert_int_equal(qi(x, "NEW").curdepth, 0);
	free(buf);
	qsg_wbuf_close(&c1);
	qsg_wbuf_close(&c2);
	qsg_wbuf_close(&e);
	/* NULL entry. */
	reject(x, NULL, 0);
}

static void expect_decode_fail(const struct fsm_cmd *c)
{
	struct qsg_wbuf w;
	struct fsm_cmd out;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	qsg_wbuf_init(&w);
	fsm_cmd_encode(c, &w);
	assert_int_equal(w.err, QSG_OK);
	assert_int_not_equal(fsm_cmd_decode(w.data, w.len, &out, errmsg), QSG_OK);
	assert_true(errmsg[0] != '\0');
	qsg_wbuf_close(&w);
}

static void command_decode_rules(void **state)
{
	(void)state;
	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = 1, .epoch = 1, .seq = 1};
	strcpy(c.queue, "Q");
	c.msg.priority = 10;
	expect_decode_fail(&c);
	c.msg.priority = 0;
	c.flags = 0x10000;
	expect_decode_fail(&c);
	c.flags = 0;
	c.client_id = 0;
	expect_decode_fail(&c);
	struct fsm_cmd d = {.op = FSM_OP_QDEFINE};
	strcpy(d.attrs.name, "Q");
	d.attrs.indxtype = 3;
	expect_decode_fail(&d);
	d.attrs.indxtype = 0;
	d.attrs.defprty = 10;
	expect_decode_fail(&d);
	d.attrs.defprty = 0;
	d.attrs.maxmsgl = FSM_MAX_MSGL + 1;
	expect_decode_fail(&d);
	d.attrs.maxmsgl = 0;
	d.attrs.set = FSM_QA_ALL + 1; /* first bit after FSM_QA_ALL */
	expect_decode_fail(&d);
	d.attrs.set = 0;
	d.attrs.defpsist = 2;
	expect_decode_fail(&d);
	struct fsm_cmd j = {.op = FSM_OP_MEMBER_JOIN, .member_id = 0};
	expect_decode_fail(&j);
	j.member_id = 1;
	j.seq = (uint64_t)FSM_MAX_LEASE_MS + 1;
	expect_decode_fail(&j);
	j.op = FSM_OP_MEMBER_JOIN_BOUNDED; /* the same rules */
	expect_decode_fail(&j);
	j.seq = 0;
	j.member_id = 0;
	expect_decode_fail(&j);
	struct fsm_cmd rmb = {.op = FSM_OP_MEMBER_REMOVE_BOUNDED, .member_id = 0};
	expect_decode_fail(&rmb);
	struct fsm_cmd l = {.op = FSM_OP_LEASE_RENEW, .member_id = 1};
	l.stats.role = 4;
	expect_decode_fail(&l);
	struct fsm_cmd bad = {.op = 77};
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&bad, &w), QSG_RC_UNKNOWN_OP);
	qsg_wbuf_close(&w);

	/* Over-long props and body blobs are refused by the decoder. */
	uint8_t raw[64];
	struct qsg_wbuf h;
	qsg_wbuf_init(&h);
	qsg_put_u8(&h, FSM_OP_PUT);
	qsg_put_u8(&h, FSM_CMD_VERSION);
	qsg_put_u64(&h, 1);
	qsg_put_u64(&h, 1);
	qsg_put_u64(&h, 1);
	qsg_put_u32(&h, 0);
	qsg_put_str(&h, "Q");
	memset(raw, 0, sizeof raw);
	qsg_put_bytes(&h, raw, 2 * FSM_ID_LEN);
	qsg_put_u8(&h, 0);
	qsg_put_i64(&h, 0);
	qsg_put_u32(&h, FSM_MAX_PROPS + 1);
	struct fsm_cmd out;
	assert_int_equal(fsm_cmd_decode(h.data, h.len, &out, NULL), QSG_RC_BAD_FRAME);
	/* Over-long queue name. */
	qsg_wbuf_reset(&h);
	qsg_put_u8(&h, FSM_OP_QDELETE);
	qsg_put_u8(&h, FSM_CMD_VERSION);
	qsg_put_u32(&h, 0);
	qsg_put_strn(&h, (const char *)memset(raw, 'A', sizeof raw), FSM_NAME_MAX + 1);
	assert_int_equal(fsm_cmd_decode(h.data, h.len, &out, NULL), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&h);
}

static void command_roundtrip_all_ops(void **state)
{
	(void)state;
	const uint8_t ops[] = {FSM_OP_QDEFINE,
			       FSM_OP_QALTER,
			       FSM_OP_QDELETE,
			       FSM_OP_QCLEAR,
			       FSM_OP_ATTACH,
			       FSM_OP_DETACH,
			       FSM_OP_OPEN,
			       FSM_OP_CLOSE,
			       FSM_OP_PUT,
			       FSM_OP_GET,
			       FSM_OP_BROWSE,
			       FSM_OP_COMMIT,
			       FSM_OP_BACKOUT,
			       FSM_OP_MEMBER_JOIN,
			       FSM_OP_LEASE_RENEW,
			       FSM_OP_MEMBER_FAIL,
			       FSM_OP_EXPIRE,
			       FSM_OP_MEMBER_REMOVE,
			       FSM_OP_MEMBER_FAIL_BOUNDED,
			       FSM_OP_BACKOUT_PENDING,
			       FSM_OP_EXPIRE_BOUNDED,
			       FSM_OP_MEMBER_JOIN_BOUNDED,
			       FSM_OP_MEMBER_REMOVE_BOUNDED};
	for (size_t i = 0; i < sizeof ops; i++) {
		struct fsm_cmd c = {.op = ops[i],
				    .client_id = 3,
				    .epoch = 4,
				    .member_id = 5,
				    .seq = 6,
				    .flags = FSM_F_SYNCPOINT};
		strcpy(c.queue, "QQ");
		strcpy(c.attrs.name, "QQ");
		c.attrs.set = FSM_QA_DESCR;
		strcpy(c.attrs.descr, "d");
		c.msg.priority = 2;
		c.msg.seqno = 8;
		c.msg.msgid[3] = 1;
		c.msg.body.p = (const uint8_t *)"body";
		c.msg.body.len = 4;
		strcpy(c.name, "N");
		c.stats.term = 12;
		struct qsg_wbuf w;
		qsg_wbuf_init(&w);
		assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
		struct fsm_cmd d;
		assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
		assert_int_equal(d.op, c.op);
		assert_int_equal(w.data[1], FSM_CMD_VERSION);
		if (c.op == FSM_OP_PUT) {
			assert_int_equal(d.seq, 6);
			assert_int_equal(d.epoch, 4);
			assert_int_equal(d.msg.body.len, 4);
			assert_int_equal(d.msg.msgid[3], 1);
			assert_string_equal(d.queue, "QQ");
		}
		if (c.op == FSM_OP_QALTER)
			assert_string_equal(d.attrs.descr, "d");
		if (c.op == FSM_OP_BROWSE)
			assert_int_equal(d.msg.seqno, 8);
		if (c.op == FSM_OP_LEASE_RENEW)
			assert_int_equal(d.stats.term, 12);
		if (c.op == FSM_OP_MEMBER_JOIN || c.op == FSM_OP_MEMBER_JOIN_BOUNDED) {
			assert_string_equal(d.name, "N");
			assert_int_equal(d.seq, 6);
		}
		if (c.op == FSM_OP_MEMBER_JOIN_BOUNDED || c.op == FSM_OP_MEMBER_REMOVE_BOUNDED) {
			/* The bounded forms are their old ops' layouts. */
			struct fsm_cmd o = c;
			o.op = c.op == FSM_OP_MEMBER_JOIN_BOUNDED ? FSM_OP_MEMBER_JOIN
								  : FSM_OP_MEMBER_REMOVE;
			struct qsg_wbuf v;
			qsg_wbuf_init(&v);
			assert_int_equal(fsm_cmd_encode(&o, &v), QSG_OK);
			assert_int_equal(v.len, w.len);
			assert_memory_equal(v.data + 1, w.data + 1, w.len - 1);
			qsg_wbuf_close(&v);
			assert_int_equal(d.member_id, 5);
			/* Only the op, the member, and for a join the lease and
			 * the addresses travel. */
			assert_int_equal(d.client_id, 0);
			if (c.op == FSM_OP_MEMBER_REMOVE_BOUNDED)
				assert_int_equal(d.seq, 0);
		}
		/* Trailing bytes and every truncation are refused. */
		qsg_put_u8(&w, 0);
		assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
		for (size_t n = 0; n + 1 < w.len; n++)
			assert_int_not_equal(fsm_cmd_decode(w.data, n, &d, NULL), QSG_OK);
		qsg_wbuf_close(&w);
	}
}

static void result_decode_rules(void **state)
{
	(void)state;
	struct fsm_result r;
	uint8_t b[8] = {0};
	assert_int_equal(fsm_result_decode(FSM_OP_QDEFINE, b, 4, &r, NULL), QSG_OK);
	assert_int_equal(fsm_result_decode(FSM_OP_QDEFINE, b, 5, &r, NULL), QSG_RC_BAD_FRAME);
	assert_int_equal(fsm_result_decode(FSM_OP_QDEFINE, b, 3, &r, NULL), QSG_RC_BAD_FRAME);
	assert_int_equal(fsm_result_decode(FSM_OP_ATTACH, b, 4, &r, NULL), QSG_RC_BAD_FRAME);
	assert_int_equal(fsm_result_decode(FSM_OP_MEMBER_JOIN_BOUNDED, b, 4, &r, NULL), QSG_OK);
	assert_int_equal(fsm_result_decode(FSM_OP_MEMBER_REMOVE_BOUNDED, b, 4, &r, NULL), QSG_OK);
	assert_int_equal(fsm_result_decode(FSM_OP_MEMBER_REMOVE_BOUNDED, b, 5, &r, NULL),
			 QSG_RC_BAD_FRAME);
	assert_int_equal(fsm_result_decode(FSM_OP_MEMBER_LEVEL, b, 4, &r, NULL), QSG_OK);
	assert_int_equal(fsm_result_decode(FSM_OP_MEMBER_REMOVE_QMGR, b, 4, &r, NULL), QSG_OK);
	assert_int_equal(fsm_result_decode(59, b, 4, &r, NULL), QSG_RC_UNKNOWN_OP);
	b[0] = 0x33; /* 2099: not a reason code */
	b[1] = 0x08;
	assert_int_equal(fsm_result_decode(FSM_OP_GET, b, 4, &r, NULL), QSG_RC_BAD_FRAME);
	b[0] = 0xf1; /* 2033 */
	b[1] = 0x07;
	assert_int_equal(fsm_result_decode(FSM_OP_GET, b, 4, &r, NULL), QSG_OK);
	assert_int_equal(r.rc, QSG_RC_NO_MSG_AVAILABLE);
}

static void attach_result_and_notify_free_apply(void **state)
{
	struct ctx *x = *state;
	/* results == NULL is allowed. */
	struct fsm_cmd c = {.op = FSM_OP_ATTACH, .client_id = 9, .member_id = 1};
	struct qsg_wbuf e;
	qsg_wbuf_init(&e);
	build(x, &c, &e);
	assert_int_equal(fsm_apply(x->f, e.data, e.len, NULL, NULL), QSG_OK);
	assert_int_equal(attach(x, 9, 1), 2);
	assert_int_equal(x->r.put_seq, 0);
	assert_int_equal(x->r.uows_done, 0);
	qsg_wbuf_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(queue_define_alter_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(queue_clear, setup, teardown),
	    cmocka_unit_test_setup_teardown(priority_then_fifo, setup, teardown),
	    cmocka_unit_test_setup_teardown(put_result_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(put_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(syncpoint_put_invisible_until_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(syncpoint_get_backout_restores_position, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(backout_threshold_moves_to_boq, setup, teardown),
	    cmocka_unit_test_setup_teardown(backout_uncounted_leaves_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(producer_dedup, setup, teardown),
	    cmocka_unit_test_setup_teardown(fencing_by_epoch, setup, teardown),
	    cmocka_unit_test_setup_teardown(members_and_leases, setup, teardown),
	    cmocka_unit_test_setup_teardown(foreach_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(indexed_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(browse_cursor, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(replay_gives_equal_digests, setup, teardown),
	    cmocka_unit_test_setup_teardown(malformed_entries, setup, teardown),
	    cmocka_unit_test(command_decode_rules),
	    cmocka_unit_test(command_roundtrip_all_ops),
	    cmocka_unit_test(result_decode_rules),
	    cmocka_unit_test_setup_teardown(attach_result_and_notify_free_apply, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
