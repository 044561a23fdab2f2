/* Unit tests for alias queues (QALIAS) in src/fsm: definition rules, one-level
 * resolution for OPEN/PUT/GET/BROWSE/CLOSE, inhibits at both levels, remote
 * targets, units of work, snapshots and decoding. */
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

/* ------------------------------------------------------------------------ */

static int alias_def(struct ctx *x, const char *name, const char *target, uint32_t set,
		     const struct fsm_qattrs *a, uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE, .flags = flags};
	if (a != NULL)
		c.attrs = *a;
	strcpy(c.attrs.name, name);
	c.attrs.qtype = FSM_QT_ALIAS;
	c.attrs.set = set;
	if (target != NULL) {
		strcpy(c.attrs.target, target);
		c.attrs.set |= FSM_QA_TARGET;
	}
	return exec(x, &c);
}

static int alias_alter(struct ctx *x, const char *name, uint8_t qtype, uint32_t set,
		       const struct fsm_qattrs *a)
{
	struct fsm_cmd c = {.op = FSM_OP_QALTER};
	if (a != NULL)
		c.attrs = *a;
	strcpy(c.attrs.name, name);
	c.attrs.qtype = qtype;
	c.attrs.set = set;
	return exec(x, &c);
}

static int browse(struct ctx *x, const char *q)
{
	struct fsm_cmd c = {.op = FSM_OP_BROWSE};
	strcpy(c.queue, q);
	return exec(x, &c);
}

static int remote_def(struct ctx *x, const char *name, const char *rname, const char *rqm,
		      const char *xmitq)
{
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.qtype = FSM_QT_REMOTE;
	strcpy(a.rname, rname);
	strcpy(a.rqmname, rqm);
	strcpy(a.xmitq, xmitq);
	return qdefine(x, name, FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ, &a, 0);
}

static void alias_define_alter_delete(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);

	/* TARGET is required; it need not exist. */
	assert_int_equal(alias_def(x, "AL", NULL, 0, NULL, 0), QSG_RC_BAD_ATTR);
	assert_int_equal(alias_def(x, "AL", "TQ", 0, NULL, 0), QSG_OK);
	struct fsm_qinfo i = qi(x, "AL");
	assert_int_equal(i.attrs.qtype, FSM_QT_ALIAS);
	assert_string_equal(i.attrs.target, "TQ");
	assert_int_equal(i.attrs.maxdepth, 0);
	assert_int_equal(i.attrs.maxmsgl, 0);
	assert_int_equal(i.attrs.maxumsgs, 0);
	assert_int_equal(i.curdepth, 0);
	/* Attributes an alias does not have are refused. */
	a.maxdepth = 10;
	assert_int_equal(alias_def(x, "AL2", "TQ", FSM_QA_MAXDEPTH, &a, 0), QSG_RC_BAD_ATTR);
	strcpy(a.boqname, "BQ");
	assert_int_equal(alias_def(x, "AL2", "TQ", FSM_QA_BOQNAME, &a, 0), QSG_RC_BAD_ATTR);
	strcpy(a.rname, "R");
	assert_int_equal(alias_def(x, "AL2", "TQ", FSM_QA_RNAME, &a, 0), QSG_RC_BAD_ATTR);
	/* Only aliases have a TARGET. */
	memset(&a, 0, sizeof a);
	strcpy(a.target, "TQ");
	assert_int_equal(qdefine(x, "L1", FSM_QA_TARGET, &a, 0), QSG_RC_BAD_ATTR);
	/* DEFPSIST, DEFPRTY, GET, PUT, DESCR. */
	a.defpsist = 1;
	a.defprty = 7;
	a.get_inhibited = 1;
	a.put_inhibited = 1;
	strcpy(a.descr, "alias two");
	assert_int_equal(
	    alias_def(x, "AL2", "TQ",
		      FSM_QA_DEFPSIST | FSM_QA_DEFPRTY | FSM_QA_GET | FSM_QA_PUT | FSM_QA_DESCR, &a,
		      0),
	    QSG_OK);
	i = qi(x, "AL2");
	assert_int_equal(i.attrs.defpsist, 1);
	assert_int_equal(i.attrs.defprty, 7);
	assert_int_equal(i.attrs.get_inhibited, 1);
	assert_int_equal(i.attrs.put_inhibited, 1);
	assert_string_equal(i.attrs.descr, "alias two");

	/* One name space: an alias and a local queue cannot share a name. */
	assert_int_equal(qdefine(x, "TQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(alias_def(x, "TQ", "AL", 0, NULL, 0), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(alias_def(x, "TQ", "AL", 0, NULL, FSM_F_REPLACE), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(qdefine(x, "AL", 0, NULL, FSM_F_REPLACE), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(alias_def(x, "AL", "TQ", 0, NULL, 0), QSG_RC_OBJECT_EXISTS);
	/* REPLACE of an alias: unset attributes back to defaults. */
	assert_int_equal(alias_def(x, "AL2", "TQ2", 0, NULL, FSM_F_REPLACE), QSG_OK);
	i = qi(x, "AL2");
	assert_string_equal(i.attrs.target, "TQ2");
	assert_int_equal(i.attrs.put_inhibited, 0);
	assert_string_equal(i.attrs.descr, "");

	/* ALTER: only set attributes; qtype cannot change. */
	memset(&a, 0, sizeof a);
	strcpy(a.target, "TQ3");
	assert_int_equal(alias_alter(x, "AL2", FSM_QT_ALIAS, FSM_QA_TARGET, &a), QSG_OK);
	assert_string_equal(qi(x, "AL2").attrs.target, "TQ3");
	assert_int_equal(alias_alter(x, "AL2", FSM_QT_LOCAL, 0, NULL), QSG_RC_BAD_ATTR);
	assert_int_equal(alias_alter(x, "AL2", 0, 0, NULL), QSG_RC_BAD_ATTR);
	assert_int_equal(alias_alter(x, "TQ", FSM_QT_ALIAS, FSM_QA_TARGET, &a), QSG_RC_BAD_ATTR);
	a.maxdepth = 3;
	assert_int_equal(alias_alter(x, "AL2", FSM_QT_ALIAS, FSM_QA_MAXDEPTH, &a), QSG_RC_BAD_ATTR);
	a.target[0] = '\0';
	assert_int_equal(alias_alter(x, "AL2", FSM_QT_ALIAS, FSM_QA_TARGET, &a), QSG_RC_BAD_ATTR);
	assert_string_equal(qi(x, "AL2").attrs.target, "TQ3");
	strcpy(a.descr, "changed");
	assert_int_equal(alias_alter(x, "AL2", FSM_QT_ALIAS, FSM_QA_DESCR, &a), QSG_OK);
	assert_string_equal(qi(x, "AL2").attrs.descr, "changed");
	assert_string_equal(qi(x, "AL2").attrs.target, "TQ3");
	assert_int_equal(alias_alter(x, "NOPE", FSM_QT_ALIAS, FSM_QA_DESCR, &a),
			 QSG_RC_UNKNOWN_OBJECT);

	/* DELETE of an alias never touches the target, even with messages
	 * and opens on it. */
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 1, "AL", 0, 4, "m1", 1), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_OPEN, 1, ep, 0, "AL"), QSG_OK);
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "AL", 0), QSG_OK);
	struct fsm_qinfo info;
	assert_int_equal(fsm_queue_info(x->f, 0, "AL", &info), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(qi(x, "TQ").curdepth, 1);
	assert_int_equal(qi(x, "TQ").opens, 1);
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "AL", 0), QSG_RC_UNKNOWN_OBJECT);
	/* CLEAR of an alias changes nothing (CLEAR QLOCAL is refused by admin). */
	assert_int_equal(qsimple(x, FSM_OP_QCLEAR, "AL2", 0), QSG_OK);
}

static void alias_resolution_each_op(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "TQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(alias_def(x, "AL", "TQ", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	char t[FSM_NAME_MAX + 1];
	assert_int_equal(fsm_queue_resolve(x->f, 0, "AL", t), QSG_OK);
	assert_string_equal(t, "TQ");
	assert_int_equal(fsm_queue_resolve(x->f, 0, "TQ", t), QSG_OK);
	assert_string_equal(t, "TQ");
	assert_int_equal(fsm_queue_resolve(x->f, 0, "NOPE", t), QSG_RC_UNKNOWN_OBJECT);
	assert_string_equal(t, "");

	/* OPEN/CLOSE count on the target. */
	assert_int_equal(sess(x, FSM_OP_OPEN, 1, ep, 0, "AL"), QSG_OK);
	assert_int_equal(qi(x, "TQ").opens, 1);
	assert_int_equal(qi(x, "AL").opens, 0);
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "TQ", 0), QSG_RC_OBJECT_IN_USE);
	assert_int_equal(sess(x, FSM_OP_CLOSE, 1, ep, 0, "TQ"), QSG_OK); /* same handle */
	assert_int_equal(qi(x, "TQ").opens, 0);
	assert_int_equal(sess(x, FSM_OP_CLOSE, 1, ep, 0, "AL"), QSG_RC_INVALID);

	/* PUT through the alias lands on the target; the notify names it. */
	x->notified = 0;
	x->last_queue[0] = '\0';
	assert_int_equal(put(x, 1, ep, 1, "AL", 0, 5, "one", 1), QSG_OK);
	assert_int_equal(x->r.duplicate, 0);
	assert_int_equal(x->notified, 1);
	assert_string_equal(x->last_queue, "TQ");
	assert_int_equal(qi(x, "TQ").curdepth, 1);
	assert_int_equal(qi(x, "TQ").puts_total, 1);
	assert_int_equal(qi(x, "AL").curdepth, 0);
	assert_int_equal(fsm_available(x->f, 0, "AL"), 1);
	assert_int_equal(fsm_available(x->f, 0, "TQ"), 1);
	assert_int_equal(put(x, 1, ep, 2, "TQ", 0, 5, "two", 2), QSG_OK);

	/* BROWSE and GET through the alias read the target. */
	assert_int_equal(browse(x, "AL"), QSG_OK);
	assert_body(x, "one");
	assert_int_equal(get(x, 1, ep, "AL", 0, 0), QSG_OK);
	assert_body(x, "one");
	assert_int_equal(get(x, 1, ep, "AL", FSM_F_MATCH_MSGID, 2), QSG_OK);
	assert_body(x, "two");
	assert_int_equal(get(x, 1, ep, "AL", 0, 0), QSG_RC_NO_MSG_AVAILABLE);
	assert_int_equal(browse(x, "AL"), QSG_RC_NO_MSG_AVAILABLE);
	assert_int_equal(qi(x, "TQ").gets_total, 2);
	assert_int_equal(fsm_available(x->f, 0, "AL"), 0);

	/* A new target takes effect at once. */
	assert_int_equal(qdefine(x, "TQ2", 0, NULL, 0), QSG_OK);
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	strcpy(a.target, "TQ2");
	assert_int_equal(alias_alter(x, "AL", FSM_QT_ALIAS, FSM_QA_TARGET, &a), QSG_OK);
	assert_int_equal(put(x, 1, ep, 3, "AL", 0, 5, "three", 3), QSG_OK);
	assert_int_equal(qi(x, "TQ2").curdepth, 1);
	assert_int_equal(qi(x, "TQ").curdepth, 0);
}

static void alias_inhibits_both_levels(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	assert_int_equal(qdefine(x, "TQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(alias_def(x, "AL", "TQ", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 1, "TQ", 0, 0, "m", 1), QSG_OK);

	/* The alias's own PUT(DISABLED)/GET(DISABLED). */
	a.put_inhibited = 1;
	a.get_inhibited = 1;
	assert_int_equal(alias_alter(x, "AL", FSM_QT_ALIAS, FSM_QA_PUT | FSM_QA_GET, &a), QSG_OK);
	assert_int_equal(put(x, 1, ep, 2, "AL", 0, 0, "m", 2), QSG_RC_PUT_INHIBITED);
	assert_int_equal(get(x, 1, ep, "AL", 0, 0), QSG_RC_GET_INHIBITED);
	assert_int_equal(browse(x, "AL"), QSG_RC_GET_INHIBITED);
	/* The target itself is still usable. */
	assert_int_equal(put(x, 1, ep, 3, "TQ", 0, 0, "m", 3), QSG_OK);
	assert_int_equal(browse(x, "TQ"), QSG_OK);
	/* The alias's inhibit is checked before the target exists. */
	assert_int_equal(alias_def(x, "AL3", "MISSING", FSM_QA_PUT | FSM_QA_GET, &a, 0), QSG_OK);

	/* The target's inhibits apply through an enabled alias. */
	a.put_inhibited = 0;
	a.get_inhibited = 0;
	assert_int_equal(alias_alter(x, "AL", FSM_QT_ALIAS, FSM_QA_PUT | FSM_QA_GET, &a), QSG_OK);
	a.put_inhibited = 1;
	a.get_inhibited = 1;
	assert_int_equal(alias_alter(x, "TQ", FSM_QT_LOCAL, FSM_QA_PUT | FSM_QA_GET, &a), QSG_OK);
	assert_int_equal(put(x, 1, ep, 4, "AL", 0, 0, "m", 4), QSG_RC_PUT_INHIBITED);
	assert_int_equal(get(x, 1, ep, "AL", 0, 0), QSG_RC_GET_INHIBITED);
	assert_int_equal(browse(x, "AL"), QSG_RC_GET_INHIBITED);
	/* A refused put consumed its sequence number (as for any queue). */
	assert_int_equal(put(x, 1, ep, 4, "AL", 0, 0, "m", 4), QSG_OK);
	assert_int_equal(x->r.duplicate, 1);
	/* Both enabled again. */
	a.put_inhibited = 0;
	a.get_inhibited = 0;
	assert_int_equal(alias_alter(x, "TQ", FSM_QT_LOCAL, FSM_QA_PUT | FSM_QA_GET, &a), QSG_OK);
	assert_int_equal(put(x, 1, ep, 5, "AL", 0, 0, "m5", 5), QSG_OK);
	assert_int_equal(qi(x, "TQ").curdepth, 3);
}

static void alias_bad_targets(void **state)
{
	struct ctx *x = *state;
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(alias_def(x, "AL", "MISSING", 0, NULL, 0), QSG_OK);
	assert_int_equal(qdefine(x, "TQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(alias_def(x, "AL1", "TQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(alias_def(x, "AL2", "AL1", 0, NULL, 0), QSG_OK); /* alias -> alias */
	assert_int_equal(alias_def(x, "SELF", "SELF", 0, NULL, 0), QSG_OK);
	const char *bad[] = {"AL", "AL2", "SELF"};
	for (size_t i = 0; i < 3; i++) {
		uint64_t d = fsm_digest(x->f);
		assert_int_equal(sess(x, FSM_OP_OPEN, 1, ep, 0, bad[i]),
				 QSG_RC_UNKNOWN_ALIAS_BASE_Q);
		assert_int_equal(sess(x, FSM_OP_CLOSE, 1, ep, 0, bad[i]),
				 QSG_RC_UNKNOWN_ALIAS_BASE_Q);
		assert_int_equal(get(x, 1, ep, bad[i], 0, 0), QSG_RC_UNKNOWN_ALIAS_BASE_Q);
		assert_int_equal(browse(x, bad[i]), QSG_RC_UNKNOWN_ALIAS_BASE_Q);
		assert_true(fsm_digest(x->f) == d);
		assert_int_equal(put(x, 1, ep, i + 1, bad[i], 0, 0, "m", 1),
				 QSG_RC_UNKNOWN_ALIAS_BASE_Q);
		assert_int_equal(fsm_available(x->f, 0, bad[i]), 0);
	}
	assert_int_equal(qi(x, "TQ").curdepth, 0);
	char t[FSM_NAME_MAX + 1];
	assert_int_equal(fsm_queue_resolve(x->f, 0, "AL", t), QSG_RC_UNKNOWN_ALIAS_BASE_Q);
	assert_string_equal(t, "MISSING");
	assert_int_equal(fsm_queue_resolve(x->f, 0, "AL2", t), QSG_RC_UNKNOWN_ALIAS_BASE_Q);
	assert_string_equal(t, "AL1");
	/* Defining the target later makes the alias work. */
	assert_int_equal(qdefine(x, "MISSING", 0, NULL, 0), QSG_OK);
	assert_int_equal(put(x, 1, ep, 4, "AL", 0, 0, "late", 1), QSG_OK);
	assert_int_equal(qi(x, "MISSING").curdepth, 1);
	/* Deleting the target breaks it again; the alias stays. */
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "MISSING", FSM_F_PURGE), QSG_OK);
	assert_int_equal(get(x, 1, ep, "AL", 0, 0), QSG_RC_UNKNOWN_ALIAS_BASE_Q);
	assert_int_equal(qi(x, "AL").attrs.qtype, FSM_QT_ALIAS);
}

static void alias_remote_target(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.usage = FSM_USAGE_XMITQ;
	assert_int_equal(qdefine(x, "XQ", FSM_QA_USAGE, &a, 0), QSG_OK);
	assert_int_equal(remote_def(x, "RQ", "THEIR.Q", "QMR", "XQ"), QSG_OK);
	memset(&a, 0, sizeof a);
	a.defpsist = 1; /* the alias says persistent, the remote queue not */
	assert_int_equal(alias_def(x, "AR", "RQ", FSM_QA_DEFPSIST, &a, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	x->last_queue[0] = '\0';
	assert_int_equal(put(x, 1, ep, 1, "AR", FSM_F_PERSIST_DEFAULT, 3, "hello", 1), QSG_OK);
	assert_string_equal(x->last_queue, "XQ");
	assert_int_equal(qi(x, "XQ").curdepth, 1);
	/* The message on the xmitq: XQH with the remote queue's destination. */
	assert_int_equal(browse(x, "XQ"), QSG_OK);
	assert_int_equal(x->r.msg.persistent, 1);
	struct fsm_xqh h;
	size_t hl;
	assert_int_equal(fsm_xqh_decode(x->r.msg.body.p, x->r.msg.body.len, &h, &hl), QSG_OK);
	assert_string_equal(h.rname, "THEIR.Q");
	assert_string_equal(h.rqmname, "QMR");
	assert_int_equal(x->r.msg.body.len - hl, 5);
	assert_memory_equal(x->r.msg.body.p + hl, "hello", 5);
	/* Directly to the remote queue: its own DEFPSIST (NO). */
	assert_int_equal(put(x, 1, ep, 2, "RQ", FSM_F_PERSIST_DEFAULT, 3, "direct", 2), QSG_OK);
	struct fsm_cmd g = {.op = FSM_OP_GET, .client_id = 1, .epoch = ep};
	strcpy(g.queue, "XQ");
	assert_int_equal(exec(x, &g), QSG_OK);
	assert_int_equal(x->r.msg.persistent, 1);
	assert_int_equal(exec(x, &g), QSG_OK);
	assert_int_equal(x->r.msg.persistent, 0);
	/* GET/BROWSE through an alias of a remote queue. */
	assert_int_equal(get(x, 1, ep, "AR", 0, 0), QSG_RC_NOT_OPEN_FOR_INPUT);
	assert_int_equal(browse(x, "AR"), QSG_RC_NOT_OPEN_FOR_INPUT);
	/* OPEN works (counts on the remote queue). */
	assert_int_equal(sess(x, FSM_OP_OPEN, 1, ep, 0, "AR"), QSG_OK);
	assert_int_equal(qi(x, "RQ").opens, 1);
	/* An alias cannot be a transmission queue nor a remote queue's xmitq. */
	assert_int_equal(alias_def(x, "AX", "XQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(remote_def(x, "RQ2", "THEIR.Q", "QMR", "AX"), QSG_OK);
	assert_int_equal(put(x, 1, ep, 3, "RQ2", 0, 0, "m", 3), QSG_RC_XMIT_Q_USAGE_ERROR);
}

static void alias_defpsist_first_queue(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.defpsist = 1;
	assert_int_equal(qdefine(x, "TQ", FSM_QA_DEFPSIST, &a, 0), QSG_OK);
	a.defpsist = 0;
	assert_int_equal(alias_def(x, "ANP", "TQ", FSM_QA_DEFPSIST, &a, 0), QSG_OK);
	a.defpsist = 1;
	assert_int_equal(alias_def(x, "AP", "TQ", FSM_QA_DEFPSIST, &a, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 1, "ANP", FSM_F_PERSIST_DEFAULT, 0, "a", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 2, "AP", FSM_F_PERSIST_DEFAULT, 0, "b", 2), QSG_OK);
	assert_int_equal(put(x, 1, ep, 3, "TQ", FSM_F_PERSIST_DEFAULT, 0, "c", 3), QSG_OK);
	assert_int_equal(put(x, 1, ep, 4, "AP", 0, 0, "d", 4), QSG_OK); /* explicit NO */
	const uint8_t want[] = {0, 1, 1, 0};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(get(x, 1, ep, "AP", 0, 0), QSG_OK);
		assert_int_equal(x->r.msg.persistent, want[i]);
	}
}

static void alias_units_of_work_and_dedup(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qdefine(x, "TQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(alias_def(x, "AL", "TQ", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	/* Syncpoint put through the alias: held on the target until commit. */
	x->notified = 0;
	assert_int_equal(put(x, 1, ep, 1, "AL", FSM_F_SYNCPOINT, 0, "u1", 1), QSG_OK);
	assert_int_equal(qi(x, "TQ").curdepth, 1);
	assert_int_equal(qi(x, "TQ").uncommitted, 1);
	assert_int_equal(fsm_available(x->f, 0, "AL"), 0);
	assert_int_equal(x->notified, 0);
	/* A retry of the same producer seq through the alias is a duplicate. */
	assert_int_equal(put(x, 1, ep, 1, "AL", FSM_F_SYNCPOINT, 0, "u1", 1), QSG_OK);
	assert_int_equal(x->r.duplicate, 1);
	assert_int_equal(put(x, 1, ep, 3, "AL", 0, 0, "gap", 1), QSG_RC_SEQUENCE_GAP);
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, ep, 1, NULL), QSG_OK);
	assert_int_equal(x->notified, 1);
	assert_string_equal(x->last_queue, "TQ");
	assert_int_equal(qi(x, "TQ").uncommitted, 0);
	assert_int_equal(fsm_available(x->f, 0, "AL"), 1);
	/* Syncpoint get through the alias, backed out: back on the target. */
	assert_int_equal(get(x, 1, ep, "AL", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_body(x, "u1");
	assert_int_equal(qi(x, "TQ").uncommitted, 1);
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "TQ", FSM_F_PURGE), QSG_RC_OBJECT_IN_USE);
	/* Deleting the alias is fine while the target has uow activity. */
	assert_int_equal(alias_def(x, "AL2", "TQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(qsimple(x, FSM_OP_QDELETE, "AL2", 0), QSG_OK);
	x->notified = 0;
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(x->notified, 1);
	assert_string_equal(x->last_queue, "TQ");
	assert_int_equal(get(x, 1, ep, "AL", 0, 0), QSG_OK);
	assert_int_equal(x->r.msg.backout_count, 1);
	/* Committed gets through the alias, uow numbers as usual. */
	assert_int_equal(put(x, 1, ep, 2, "AL", 0, 0, "u2", 2), QSG_OK);
	assert_int_equal(get(x, 1, ep, "AL", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_COMMIT, 1, ep, 2, NULL), QSG_OK);
	assert_int_equal(qi(x, "TQ").curdepth, 0);
	assert_int_equal(qi(x, "TQ").gets_total, 2);
}

static void alias_never_holds_messages(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	assert_int_equal(qdefine(x, "TQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(alias_def(x, "ABQ", "TQ", 0, NULL, 0), QSG_OK);
	/* A backout queue that is an alias is not used: the message stays. */
	a.bothresh = 1;
	strcpy(a.boqname, "ABQ");
	assert_int_equal(qdefine(x, "Q", FSM_QA_BOTHRESH | FSM_QA_BOQNAME, &a, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(put(x, 1, ep, 1, "Q", 0, 0, "b", 1), QSG_OK);
	assert_int_equal(get(x, 1, ep, "Q", FSM_F_SYNCPOINT, 0), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_BACKOUT, 1, ep, 0, NULL), QSG_OK);
	assert_int_equal(qi(x, "Q").curdepth, 1);
	assert_int_equal(qi(x, "ABQ").curdepth, 0);
	assert_int_equal(qi(x, "TQ").curdepth, 0);
	/* EXPIRE walks every queue, aliases included, harmlessly. */
	struct fsm_cmd e = {.op = FSM_OP_EXPIRE, .seq = 1000};
	assert_int_equal(exec(x, &e), QSG_OK);
	assert_int_equal(qi(x, "Q").curdepth, 1);
}

/* A receiver channel's message for an alias goes to its target. */
static void alias_inbound_channel(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	assert_int_equal(qdefine(x, "TQ", 0, NULL, 0), QSG_OK);
	assert_int_equal(alias_def(x, "AL", "TQ", 0, NULL, 0), QSG_OK);
	a.put_inhibited = 1;
	assert_int_equal(alias_def(x, "APX", "TQ", FSM_QA_PUT, &a, 0), QSG_OK);
	assert_int_equal(alias_def(x, "ABAD", "NOPE", 0, NULL, 0), QSG_OK);
	struct fsm_cmd d = {.op = FSM_OP_CHDEFINE};
	strcpy(d.ch.attrs.name, "TO.QSG");
	d.ch.attrs.set = FSM_CA_CHLTYPE;
	d.ch.attrs.chltype = FSM_CHL_RCVR;
	assert_int_equal(exec(x, &d), QSG_OK);
	struct fsm_cmd s = {.op = FSM_OP_CH_RECV_START};
	strcpy(s.ch.name, "TO.QSG");
	strcpy(s.ch.rqmname, "QMR");
	s.ch.member_id = 2;
	s.ch.epoch = 1;
	assert_int_equal(exec(x, &s), QSG_OK);

	const char *dest[] = {"AL", "APX", "ABAD"};
	const int want[] = {QSG_OK, QSG_RC_PUT_INHIBITED, QSG_RC_UNKNOWN_ALIAS_BASE_Q};
	for (uint64_t i = 0; i < 3; i++) {
		struct qsg_wbuf l;
		qsg_wbuf_init(&l);
		struct fsm_chmsg m;
		memset(&m, 0, sizeof m);
		strcpy(m.rname, dest[i]);
		m.msg.body.p = (const uint8_t *)"in";
		m.msg.body.len = 2;
		fsm_chlist_put_msg(&l, &m);
		struct fsm_cmd b = {.op = FSM_OP_CH_RECV_BATCH};
		strcpy(b.ch.name, "TO.QSG");
		strcpy(b.ch.rqmname, "QMR");
		strcpy(b.ch.local_qmgr, "QSG1");
		b.ch.member_id = 2;
		b.ch.epoch = 1;
		b.ch.seq = b.ch.last = 1;
		b.ch.count = 1;
		b.ch.list.p = l.data;
		b.ch.list.len = l.len;
		x->last_queue[0] = '\0';
		int rc = exec(x, &b);
		qsg_wbuf_close(&l);
		if (want[i] == QSG_OK) {
			assert_int_equal(rc, QSG_OK);
			assert_string_equal(x->last_queue, "TQ");
			assert_int_equal(qi(x, "TQ").curdepth, 1);
			/* Later batches must continue the sequence: reset it. */
			struct fsm_cmd r = s;
			r.ch.flags = FSM_CHF_RESET;
			r.ch.seq = 1;
			assert_int_equal(exec(x, &r), QSG_OK);
			continue;
		}
		assert_int_equal(rc, QSG_RC_BATCH_REJECTED);
		struct fsm_chiter it;
		uint32_t idx, reason;
		int done = 0;
		fsm_chiter_result(&it, &x->r.ch);
		assert_int_equal(fsm_chiter_reject(&it, &idx, &reason, &done), QSG_OK);
		assert_int_equal(done, 0);
		assert_int_equal(idx, 0);
		assert_int_equal(reason, (uint32_t)want[i]);
	}
	assert_int_equal(qi(x, "TQ").curdepth, 1);
}

/* Aliases in snapshots: equal bytes after restore, equal digests on replay,
 * and the restored state resolves the same way. */
static void alias_snapshot_restore_digest(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	assert_int_equal(qdefine(x, "TQ", 0, NULL, 0), QSG_OK);
	a.defpsist = 1;
	a.defprty = 6;
	a.put_inhibited = 1;
	strcpy(a.descr, "snap alias");
	assert_int_equal(
	    alias_def(x, "AL", "TQ", FSM_QA_DEFPSIST | FSM_QA_DEFPRTY | FSM_QA_DESCR, &a, 0),
	    QSG_OK);
	assert_int_equal(alias_def(x, "APUT", "TQ", FSM_QA_PUT, &a, 0), QSG_OK);
	assert_int_equal(alias_def(x, "ZZ.ORPHAN", "ZZTARGET", 0, NULL, 0), QSG_OK);
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(sess(x, FSM_OP_OPEN, 1, ep, 0, "AL"), QSG_OK);
	assert_int_equal(put(x, 1, ep, 1, "AL", FSM_F_PERSIST_DEFAULT, 0, "s1", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 2, "AL", FSM_F_SYNCPOINT, 0, "s2", 2), QSG_OK);

	struct qsg_wbuf s1, s2;
	qsg_wbuf_init(&s1);
	qsg_wbuf_init(&s2);
	assert_int_equal(fsm_snapshot(x->f, &s1), QSG_OK);
	struct fsm *g;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, x->f); /* g fetches content as a catching-up member */
	assert_int_equal(fsm_restore(g, s1.data, s1.len, errmsg), QSG_OK);
	assert_int_equal(fsm_snapshot(g, &s2), QSG_OK);
	assert_int_equal(s1.len, s2.len);
	assert_memory_equal(s1.data, s2.data, s1.len);
	assert_true(fsm_digest(g) == fsm_digest(x->f));
	struct fsm_qinfo i;
	assert_int_equal(fsm_queue_info(g, 0, "AL", &i), QSG_OK);
	assert_int_equal(i.attrs.qtype, FSM_QT_ALIAS);
	assert_string_equal(i.attrs.target, "TQ");
	assert_int_equal(i.attrs.defprty, 6);
	assert_string_equal(i.attrs.descr, "snap alias");
	assert_int_equal(fsm_queue_info(g, 0, "TQ", &i), QSG_OK);
	assert_int_equal(i.opens, 1);
	assert_int_equal(i.curdepth, 2);
	char t[FSM_NAME_MAX + 1];
	assert_int_equal(fsm_queue_resolve(g, 0, "AL", t), QSG_OK);
	assert_string_equal(t, "TQ");
	assert_int_equal(fsm_available(g, 0, "AL"), 1);

	/* The same commands on both give the same states. */
	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = 1, .epoch = ep, .seq = 3};
	strcpy(c.queue, "AL");
	c.flags = FSM_F_PERSIST_DEFAULT;
	struct qsg_wbuf e;
	qsg_wbuf_init(&e);
	build(x, &c, &e);
	assert_int_equal(fsm_apply(x->f, e.data, e.len, NULL, NULL), QSG_OK);
	assert_int_equal(fsm_apply(g, e.data, e.len, NULL, NULL), QSG_OK);
	assert_true(fsm_digest(g) == fsm_digest(x->f));
	qsg_wbuf_close(&e);

	/* Replaying the log on a fresh machine gives the same digest. */
	struct fsm *h;
	assert_int_equal(fsm_init(&h, NULL), QSG_OK);
	for (size_t k = 0; k < x->nlog; k++)
		assert_int_equal(fsm_apply(h, x->log[k], x->loglen[k], NULL, NULL), QSG_OK);
	assert_int_not_equal(fsm_digest(h), fsm_digest(x->f)); /* minus the last command */
	qsg_wbuf_init(&e);
	build(x, &c, &e);
	assert_int_equal(fsm_apply(h, e.data, e.len, NULL, NULL), QSG_OK);
	assert_true(fsm_digest(h) == fsm_digest(x->f));
	qsg_wbuf_close(&e);
	fsm_close(h);

	/* A corrupt alias in the snapshot is refused and changes nothing:
	 * the target with a bad character, or emptied. */
	uint64_t d = fsm_digest(g);
	uint8_t *p = memmem(s1.data, s1.len, "ZZTARGET", 8);
	assert_non_null(p);
	assert_null(memmem(p + 1, s1.len - (size_t)(p + 1 - s1.data), "ZZTARGET", 8));
	p[0] = '!';
	assert_int_equal(fsm_restore(g, s1.data, s1.len, errmsg), QSG_RC_BAD_FRAME);
	assert_true(fsm_digest(g) == d);
	p[0] = 'Z';
	/* Length prefix 8 -> 0 and the 8 bytes removed: valid framing, but
	 * an alias without a target. */
	assert_int_equal(p[-2], 8);
	assert_int_equal(p[-1], 0);
	p[-2] = 0;
	memmove(p, p + 8, s1.len - (size_t)(p + 8 - s1.data));
	assert_int_equal(fsm_restore(g, s1.data, s1.len - 8, errmsg), QSG_RC_BAD_FRAME);
	assert_non_null(strstr(errmsg, "ZZ.ORPHAN"));
	assert_true(fsm_digest(g) == d);
	fsm_close(g);
	qsg_wbuf_close(&s1);
	qsg_wbuf_close(&s2);
}

/* Decoding of alias attributes in commands. */
static void alias_attr_decode(void **state)
{
	(void)state;
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	struct fsm_cmd out;
	struct qsg_wbuf w;
	char errmsg[QSG_ERRMSG_SIZE];
	strcpy(c.attrs.name, "AL");
	c.attrs.qtype = FSM_QT_ALIAS;
	c.attrs.set = FSM_QA_TARGET;
	strcpy(c.attrs.target, "T.Q");
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &out, errmsg), QSG_OK);
	assert_int_equal(out.attrs.qtype, FSM_QT_ALIAS);
	assert_string_equal(out.attrs.target, "T.Q");
	assert_int_equal(out.attrs.set, FSM_QA_TARGET);
	/* Every truncation fails. */
	for (size_t n = 0; n < w.len; n++)
		assert_int_not_equal(fsm_cmd_decode(w.data, n, &out, errmsg), QSG_OK);
	/* Trailing byte. */
	qsg_put_u8(&w, 0);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &out, errmsg), QSG_RC_BAD_FRAME);
	/* qtype 4, a bad target name, an overlong target. */
	const struct {
		uint8_t qtype;
		const char *target;
	} bad[] = {{4, "T.Q"}, {255, ""}, {FSM_QT_ALIAS, "bad name"}, {FSM_QT_ALIAS, "a,b"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c.attrs.qtype = bad[i].qtype;
		strcpy(c.attrs.target, bad[i].target);
		qsg_wbuf_reset(&w);
		assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
		errmsg[0] = '\0';
		assert_int_equal(fsm_cmd_decode(w.data, w.len, &out, errmsg), QSG_RC_BAD_FRAME);
		assert_true(errmsg[0] != '\0');
	}
	/* Target of 49 characters: the length prefix says 49, over the field. */
	c.attrs.qtype = FSM_QT_ALIAS;
	strcpy(c.attrs.target, "T");
	qsg_wbuf_reset(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	struct qsg_wbuf big;
	qsg_wbuf_init(&big);
	qsg_put_bytes(&big, w.data, w.len - 3); /* up to the target's str */
	char name49[50];
	memset(name49, 'A', 49);
	name49[49] = '\0';
	qsg_put_str(&big, name49);
	assert_int_equal(big.err, QSG_OK);
	assert_int_equal(fsm_cmd_decode(big.data, big.len, &out, errmsg), QSG_RC_BAD_FRAME);
	/* QA_TARGET is a known bit; the next one is not. FSM_QA_ALL includes
	 * TRIGDPTH, which must then be 1..999999999. */
	c.attrs.set = FSM_QA_ALL;
	c.attrs.trigdpth = 1;
	qsg_wbuf_reset(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &out, errmsg), QSG_OK);
	c.attrs.set = FSM_QA_ALL + 1;
	qsg_wbuf_reset(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &out, errmsg), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&big);
	qsg_wbuf_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(alias_define_alter_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(alias_resolution_each_op, setup, teardown),
	    cmocka_unit_test_setup_teardown(alias_inhibits_both_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(alias_bad_targets, setup, teardown),
	    cmocka_unit_test_setup_teardown(alias_remote_target, setup, teardown),
	    cmocka_unit_test_setup_teardown(alias_defpsist_first_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(alias_units_of_work_and_dedup, setup, teardown),
	    cmocka_unit_test_setup_teardown(alias_never_holds_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(alias_inbound_channel, setup, teardown),
	    cmocka_unit_test_setup_teardown(alias_snapshot_restore_digest, setup, teardown),
	    cmocka_unit_test(alias_attr_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
