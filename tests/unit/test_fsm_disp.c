/* Queue dispositions in the state machine (enum fsm_qdisp): QMGR objects
 * private to a member, GROUP definitions with a COPY on every member
 * (including members that join later), SHARED queues, name resolution per
 * member, refresh and deletion of copies, snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm_harness.h"

static int join(struct ctx *x, uint32_t id)
{
	struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN, .member_id = id};
	snprintf(c.name, sizeof c.name, "QM%u", (unsigned)id);
	return exec(x, &c);
}

static int def(struct ctx *x, const char *name, uint8_t disp, uint32_t scope, uint32_t set,
	       uint32_t maxdepth, uint32_t flags)
{
	struct fsm_qattrs a = {.disp = disp, .scope = scope, .maxdepth = maxdepth};
	return qdefine(x, name, set, &a, flags);
}

static int alter_depth(struct ctx *x, const char *name, uint8_t disp, uint32_t scope,
		       uint32_t maxdepth)
{
	struct fsm_cmd c = {.op = FSM_OP_QALTER};
	strcpy(c.attrs.name, name);
	c.attrs.disp = disp;
	c.attrs.scope = scope;
	c.attrs.set = FSM_QA_MAXDEPTH;
	c.attrs.maxdepth = maxdepth;
	return exec(x, &c);
}

static int del(struct ctx *x, const char *name, uint8_t disp, uint32_t scope, uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_QDELETE, .flags = flags};
	strcpy(c.queue, name);
	c.attrs.disp = disp;
	c.attrs.scope = scope;
	return exec(x, &c);
}

/* (scope, name): its disposition, or 0 when it does not exist. */
static uint8_t disp_of(struct ctx *x, uint32_t scope, const char *name, struct fsm_qinfo *out)
{
	struct fsm_qinfo i;
	if (fsm_queue_info(x->f, scope, name, &i) != QSG_OK)
		return 0;
	if (out != NULL)
		*out = i;
	return i.attrs.disp;
}

/* QMGR objects: one member's own, the same name on two members is two
 * queues; members see only their own; no private object beside a shared
 * queue of the same name. */
static void qmgr_objects_are_private(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(join(x, 1), QSG_OK);
	assert_int_equal(join(x, 2), QSG_OK);
	uint64_t e1 = attach(x, 1, 1);
	uint64_t e2 = attach(x, 2, 2);

	assert_int_equal(def(x, "P", FSM_DISP_QMGR, 1, 0, 0, 0), QSG_OK);
	/* QMGR needs a member scope. */
	assert_int_equal(def(x, "P0", FSM_DISP_QMGR, 0, 0, 0, 0), QSG_RC_BAD_ATTR);
	assert_int_equal(put(x, 1, e1, 0, "P", 0, 0, "one", 1), QSG_OK);
	assert_int_equal(x->last_scope, 1);
	assert_int_equal(put(x, 2, e2, 0, "P", 0, 0, "two", 2), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(fsm_available(x->f, 1, "P"), 1);
	assert_int_equal(fsm_available(x->f, 2, "P"), 0);
	assert_int_equal(fsm_available(x->f, 0, "P"), 0);

	assert_int_equal(def(x, "P", FSM_DISP_QMGR, 2, FSM_QA_MAXDEPTH, 7, 0), QSG_OK);
	assert_int_equal(put(x, 2, e2, 0, "P", 0, 0, "two", 2), QSG_OK);
	struct fsm_qinfo i1, i2;
	assert_int_equal(disp_of(x, 1, "P", &i1), FSM_DISP_QMGR);
	assert_int_equal(disp_of(x, 2, "P", &i2), FSM_DISP_QMGR);
	assert_int_equal(i1.curdepth, 1);
	assert_int_equal(i2.curdepth, 1);
	assert_int_equal(i1.attrs.maxdepth, FSM_DEFAULT_MAXDEPTH);
	assert_int_equal(i2.attrs.maxdepth, 7);
	assert_int_equal(get(x, 2, e2, "P", 0, 0), QSG_OK);
	assert_body(x, "two");
	assert_int_equal(get(x, 2, e2, "P", 0, 0), QSG_RC_NO_MSG_AVAILABLE);

	/* Defined twice: exists; REPLACE changes it. */
	assert_int_equal(def(x, "P", FSM_DISP_QMGR, 1, 0, 0, 0), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(def(x, "P", FSM_DISP_QMGR, 1, FSM_QA_MAXDEPTH, 3, FSM_F_REPLACE), QSG_OK);
	assert_int_equal(disp_of(x, 1, "P", &i1), FSM_DISP_QMGR);
	assert_int_equal(i1.attrs.maxdepth, 3);
	/* ALTER without QSGDISP on member 1 finds its QMGR object. */
	assert_int_equal(alter_depth(x, "P", FSM_DISP_DEFAULT, 1, 4), QSG_OK);
	assert_int_equal(disp_of(x, 1, "P", &i1), FSM_DISP_QMGR);
	assert_int_equal(i1.attrs.maxdepth, 4);
	assert_int_equal(alter_depth(x, "P", FSM_DISP_DEFAULT, 3, 4), QSG_RC_UNKNOWN_OBJECT);

	/* A shared queue and a private one of the same name: refused both
	 * ways. */
	assert_int_equal(def(x, "P", FSM_DISP_SHARED, 0, 0, 0, 0), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(def(x, "S", FSM_DISP_DEFAULT, 0, 0, 0, 0), QSG_OK);
	assert_int_equal(disp_of(x, 0, "S", NULL), FSM_DISP_SHARED);
	assert_int_equal(def(x, "S", FSM_DISP_QMGR, 1, 0, 0, 0), QSG_RC_OBJECT_EXISTS);
	/* SHARED is for local queues. */
	struct fsm_qattrs r = {.disp = FSM_DISP_SHARED, .qtype = FSM_QT_REMOTE};
	strcpy(r.rname, "X");
	strcpy(r.rqmname, "QM9");
	assert_int_equal(qdefine(x, "R", FSM_QA_RNAME | FSM_QA_RQMNAME, &r, 0), QSG_RC_BAD_ATTR);

	/* Delete: only the object meant. */
	assert_int_equal(del(x, "P", FSM_DISP_QMGR, 2, 0), QSG_OK);
	assert_int_equal(disp_of(x, 2, "P", NULL), 0);
	assert_int_equal(del(x, "P", FSM_DISP_DEFAULT, 1, 0), QSG_RC_Q_NOT_EMPTY);
	assert_int_equal(del(x, "P", FSM_DISP_DEFAULT, 1, FSM_F_PURGE), QSG_OK);
	assert_int_equal(disp_of(x, 1, "P", NULL), 0);
}

/* GROUP local queue: every member, also one that joins later, gets a COPY
 * holding its own messages; the group object holds none; changes to the
 * group object refresh the copies (keeping their messages); a COPY can be
 * altered or deleted alone; deleting the group object deletes its copies,
 * all or nothing. */
static void group_objects_have_copies(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(join(x, 1), QSG_OK);
	assert_int_equal(join(x, 2), QSG_OK);
	uint64_t e1 = attach(x, 1, 1);
	uint64_t e2 = attach(x, 2, 2);

	assert_int_equal(def(x, "G", FSM_DISP_GROUP, 0, FSM_QA_MAXDEPTH, 50, 0), QSG_OK);
	struct fsm_qinfo g, c1, c2, c3;
	assert_int_equal(disp_of(x, 0, "G", &g), FSM_DISP_GROUP);
	assert_int_equal(disp_of(x, 1, "G", &c1), FSM_DISP_COPY);
	assert_int_equal(disp_of(x, 2, "G", &c2), FSM_DISP_COPY);
	assert_int_equal(c1.attrs.maxdepth, 50);
	assert_int_equal(disp_of(x, 3, "G", NULL), 0);

	assert_int_equal(put(x, 1, e1, 0, "G", 0, 0, "m1", 1), QSG_OK);
	assert_int_equal(put(x, 1, e1, 0, "G", 0, 0, "m2", 2), QSG_OK);
	assert_int_equal(disp_of(x, 1, "G", &c1), FSM_DISP_COPY);
	assert_int_equal(disp_of(x, 2, "G", &c2), FSM_DISP_COPY);
	assert_int_equal(disp_of(x, 0, "G", &g), FSM_DISP_GROUP);
	assert_int_equal(c1.curdepth, 2);
	assert_int_equal(c2.curdepth, 0);
	assert_int_equal(g.curdepth, 0);
	assert_int_equal(get(x, 2, e2, "G", 0, 0), QSG_RC_NO_MSG_AVAILABLE);
	/* Member 0's view (no member): a GROUP local queue is not a queue. */
	assert_int_equal(fsm_queue_lookup(x->f, 0, "G", &g), QSG_RC_UNKNOWN_OBJECT);

	/* A member that joins later gets its copy. */
	assert_int_equal(join(x, 3), QSG_OK);
	assert_int_equal(disp_of(x, 3, "G", &c3), FSM_DISP_COPY);
	assert_int_equal(c3.attrs.maxdepth, 50);

	/* ALTER of a COPY: that member only, until the group object changes. */
	assert_int_equal(alter_depth(x, "G", FSM_DISP_COPY, 2, 5), QSG_OK);
	assert_int_equal(disp_of(x, 2, "G", &c2), FSM_DISP_COPY);
	assert_int_equal(c2.attrs.maxdepth, 5);
	assert_int_equal(disp_of(x, 1, "G", &c1), FSM_DISP_COPY);
	assert_int_equal(c1.attrs.maxdepth, 50);
	/* ALTER without QSGDISP means the group object: copies refreshed,
	 * messages kept. */
	assert_int_equal(alter_depth(x, "G", FSM_DISP_DEFAULT, 1, 60), QSG_OK);
	for (uint32_t m = 1; m <= 3; m++) {
		struct fsm_qinfo c;
		assert_int_equal(disp_of(x, m, "G", &c), FSM_DISP_COPY);
		assert_int_equal(c.attrs.maxdepth, 60);
		assert_int_equal(c.curdepth, m == 1 ? 2 : 0);
	}

	/* DEFINE QSGDISP(COPY) needs the group object; REPLACE refreshes. */
	assert_int_equal(def(x, "NOGROUP", FSM_DISP_COPY, 1, 0, 0, 0), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(def(x, "G", FSM_DISP_COPY, 2, 0, 0, 0), QSG_RC_OBJECT_EXISTS);

	/* DELETE of a COPY: gone from that member alone; a restart (JOIN)
	 * brings it back, as MQ refreshes copies when a queue manager starts. */
	assert_int_equal(del(x, "G", FSM_DISP_COPY, 2, 0), QSG_OK);
	assert_int_equal(disp_of(x, 2, "G", NULL), 0);
	assert_int_equal(put(x, 2, e2, 0, "G", 0, 0, "x", 3), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(def(x, "G", FSM_DISP_COPY, 2, FSM_QA_MAXDEPTH, 9, 0), QSG_OK);
	assert_int_equal(disp_of(x, 2, "G", &c2), FSM_DISP_COPY);
	assert_int_equal(c2.attrs.maxdepth, 9);
	assert_int_equal(del(x, "G", FSM_DISP_COPY, 2, 0), QSG_OK);
	e2 = attach(x, 2, 2);
	assert_int_equal(join(x, 2), QSG_OK);
	assert_int_equal(disp_of(x, 2, "G", &c2), FSM_DISP_COPY);
	assert_int_equal(c2.attrs.maxdepth, 60);

	/* A QMGR object keeps a member from having a copy. */
	assert_int_equal(join(x, 4), QSG_OK);
	assert_int_equal(del(x, "G", FSM_DISP_COPY, 4, 0), QSG_OK);
	assert_int_equal(def(x, "G", FSM_DISP_QMGR, 4, FSM_QA_MAXDEPTH, 1, 0), QSG_OK);
	assert_int_equal(alter_depth(x, "G", FSM_DISP_GROUP, 0, 70), QSG_OK);
	struct fsm_qinfo q4;
	assert_int_equal(disp_of(x, 4, "G", &q4), FSM_DISP_QMGR);
	assert_int_equal(q4.attrs.maxdepth, 1);

	/* DELETE of the group object: refused while a copy holds messages,
	 * then with PURGE the group object and every copy go; the QMGR
	 * object of member 4 stays. */
	assert_int_equal(del(x, "G", FSM_DISP_GROUP, 0, 0), QSG_RC_Q_NOT_EMPTY);
	assert_int_equal(disp_of(x, 0, "G", NULL), FSM_DISP_GROUP);
	assert_int_equal(disp_of(x, 3, "G", NULL), FSM_DISP_COPY);
	assert_int_equal(del(x, "G", FSM_DISP_GROUP, 0, FSM_F_PURGE), QSG_OK);
	for (uint32_t m = 0; m <= 3; m++)
		assert_int_equal(disp_of(x, m, "G", NULL), 0);
	assert_int_equal(disp_of(x, 4, "G", NULL), FSM_DISP_QMGR);
}

/* GROUP remote queues and aliases: copies too; a member without a copy
 * (never joined) uses the group object as it is. An alias resolves its
 * target in the member's view. */
static void group_remote_and_alias_resolution(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(join(x, 1), QSG_OK);
	struct fsm_qattrs xq = {.usage = FSM_USAGE_XMITQ};
	assert_int_equal(qdefine(x, "QM9", FSM_QA_USAGE, &xq, 0), QSG_OK);
	struct fsm_qattrs r = {.qtype = FSM_QT_REMOTE};
	strcpy(r.rname, "APP");
	strcpy(r.rqmname, "QM9");
	assert_int_equal(qdefine(x, "R", FSM_QA_RNAME | FSM_QA_RQMNAME, &r, 0), QSG_OK);
	assert_int_equal(disp_of(x, 0, "R", NULL), FSM_DISP_GROUP);
	assert_int_equal(disp_of(x, 1, "R", NULL), FSM_DISP_COPY);
	uint64_t e1 = attach(x, 1, 1);
	uint64_t e5 = attach(x, 5, 5); /* member 5 never joined: no copies */
	assert_int_equal(put(x, 1, e1, 0, "R", 0, 0, "a", 1), QSG_OK);
	assert_int_equal(put(x, 5, e5, 0, "R", 0, 0, "b", 2), QSG_OK);
	assert_int_equal(qi(x, "QM9").curdepth, 2);

	/* Alias to a private queue: each member reaches its own. */
	assert_int_equal(def(x, "T", FSM_DISP_QMGR, 1, 0, 0, 0), QSG_OK);
	struct fsm_qattrs al = {.qtype = FSM_QT_ALIAS};
	strcpy(al.target, "T");
	assert_int_equal(qdefine(x, "AL", FSM_QA_TARGET, &al, 0), QSG_OK);
	assert_int_equal(put(x, 1, e1, 0, "AL", 0, 0, "c", 3), QSG_OK);
	assert_int_equal(put(x, 5, e5, 0, "AL", 0, 0, "d", 4), QSG_RC_UNKNOWN_ALIAS_BASE_Q);
	char t[FSM_NAME_MAX + 1];
	assert_int_equal(fsm_queue_resolve(x->f, 1, "AL", t), QSG_OK);
	assert_string_equal(t, "T");
	struct fsm_qinfo ti;
	assert_int_equal(disp_of(x, 1, "T", &ti), FSM_DISP_QMGR);
	assert_int_equal(ti.curdepth, 1);
}

/* Snapshots keep scopes and dispositions: same bytes after restore, same
 * digest, and the same answers per member. */
static void dispositions_in_snapshots(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(join(x, 1), QSG_OK);
	assert_int_equal(join(x, 2), QSG_OK);
	uint64_t e1 = attach(x, 1, 1);
	assert_int_equal(def(x, "G", FSM_DISP_GROUP, 0, 0, 0, 0), QSG_OK);
	assert_int_equal(def(x, "P", FSM_DISP_QMGR, 2, 0, 0, 0), QSG_OK);
	assert_int_equal(def(x, "A", FSM_DISP_DEFAULT, 0, 0, 0, 0), QSG_OK);
	assert_int_equal(put(x, 1, e1, 0, "G", 0, 0, "g", 1), QSG_OK);
	assert_int_equal(put(x, 1, e1, 0, "G", FSM_F_SYNCPOINT, 0, "u", 2), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_OPEN, 1, e1, 0, "G"), QSG_OK);

	struct fsm *g = snapshot_restored(x);
	struct fsm_qinfo i;
	assert_int_equal(fsm_queue_info(g, 1, "G", &i), QSG_OK);
	assert_int_equal(i.attrs.disp, FSM_DISP_COPY);
	assert_int_equal(i.curdepth, 2);
	assert_int_equal(i.uncommitted, 1);
	assert_int_equal(i.opens, 1);
	assert_int_equal(fsm_queue_info(g, 2, "P", &i), QSG_OK);
	assert_int_equal(i.attrs.disp, FSM_DISP_QMGR);
	assert_int_equal(fsm_queue_info(g, 0, "P", &i), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(fsm_available(g, 1, "G"), 1);
	assert_int_equal(fsm_available(g, 2, "G"), 0);
	fsm_close(g);
}

/* Transmission queues must be SHARED (channels take messages from shared
 * queues only); MEMBER_REMOVE takes the member's own objects with it; a
 * member's altered COPY keeps its alteration across a rejoin; a CLOSE finds
 * the OPEN although the name now resolves to a new COPY. */
static void xmitq_remove_rejoin_close(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(join(x, 1), QSG_OK);
	assert_int_equal(join(x, 2), QSG_OK);
	uint64_t e1 = attach(x, 1, 1);

	struct fsm_qattrs xq = {.usage = FSM_USAGE_XMITQ, .disp = FSM_DISP_GROUP};
	assert_int_equal(qdefine(x, "XG", FSM_QA_USAGE, &xq, 0), QSG_OK);
	struct fsm_qattrs r = {.qtype = FSM_QT_REMOTE};
	strcpy(r.rname, "APP");
	strcpy(r.rqmname, "QM9");
	strcpy(r.xmitq, "XG");
	assert_int_equal(qdefine(x, "R", FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ, &r, 0),
			 QSG_OK);
	assert_int_equal(put(x, 1, e1, 0, "R", 0, 0, "a", 1), QSG_RC_XMIT_Q_USAGE_ERROR);
	struct fsm_qinfo c1;
	assert_int_equal(disp_of(x, 1, "XG", &c1), FSM_DISP_COPY);
	assert_int_equal(c1.curdepth, 0);

	/* Rejoin keeps an altered COPY; a missing one is made again. */
	assert_int_equal(alter_depth(x, "XG", FSM_DISP_COPY, 2, 5), QSG_OK);
	assert_int_equal(join(x, 2), QSG_OK);
	struct fsm_qinfo c2;
	assert_int_equal(disp_of(x, 2, "XG", &c2), FSM_DISP_COPY);
	assert_int_equal(c2.attrs.maxdepth, 5);

	/* CLOSE after the name moved: member 1 has no copy of R, opens the
	 * group object; a refresh then gives it a copy; CLOSE still finds the
	 * open (else the group object would stay open for ever). */
	assert_int_equal(del(x, "R", FSM_DISP_COPY, 1, 0), QSG_OK);
	assert_int_equal(sess(x, FSM_OP_OPEN, 1, e1, 0, "R"), QSG_OK);
	assert_int_equal(qi(x, "R").opens, 1);
	struct fsm_cmd alt = {.op = FSM_OP_QALTER};
	strcpy(alt.attrs.name, "R");
	alt.attrs.qtype = FSM_QT_REMOTE;
	alt.attrs.set = FSM_QA_DESCR;
	strcpy(alt.attrs.descr, "refresh");
	assert_int_equal(exec(x, &alt), QSG_OK);
	assert_int_equal(disp_of(x, 1, "R", NULL), FSM_DISP_COPY);
	assert_int_equal(sess(x, FSM_OP_CLOSE, 1, e1, 0, "R"), QSG_OK);
	assert_int_equal(qi(x, "R").opens, 0);
	assert_int_equal(sess(x, FSM_OP_CLOSE, 1, e1, 0, "R"), QSG_RC_INVALID);

	/* MEMBER_REMOVE: member 2's QMGR object and copies go with it. */
	assert_int_equal(def(x, "P2", FSM_DISP_QMGR, 2, 0, 0, 0), QSG_OK);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(x->f, 2, &m), QSG_OK);
	struct fsm_cmd fl = {.op = FSM_OP_MEMBER_FAIL, .member_id = 2};
	fl.seq = (uint64_t)m.lease_expiry_ms;
	assert_int_equal(exec(x, &fl), QSG_OK);
	struct fsm_cmd rm = {.op = FSM_OP_MEMBER_REMOVE, .member_id = 2};
	assert_int_equal(exec(x, &rm), QSG_OK);
	assert_int_equal(disp_of(x, 2, "P2", NULL), 0);
	assert_int_equal(disp_of(x, 2, "XG", NULL), 0);
	assert_int_equal(disp_of(x, 2, "R", NULL), 0);
	assert_int_equal(disp_of(x, 1, "XG", NULL), FSM_DISP_COPY);
	/* The name is free for a shared queue now. */
	assert_int_equal(def(x, "P2", FSM_DISP_SHARED, 0, 0, 0, 0), QSG_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(qmgr_objects_are_private, setup, teardown),
	    cmocka_unit_test_setup_teardown(group_objects_have_copies, setup, teardown),
	    cmocka_unit_test_setup_teardown(group_remote_and_alias_resolution, setup, teardown),
	    cmocka_unit_test_setup_teardown(dispositions_in_snapshots, setup, teardown),
	    cmocka_unit_test_setup_teardown(xmitq_remove_rejoin_close, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
