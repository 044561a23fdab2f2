/* Unit tests of triggering a private channel (docs/channels.md "Private
 * channels", "Triggering"): an armed QMGR transmission queue of member 2
 * starts member 2's private channel on member 2 only, never on the member
 * owner choice would pick for a shared channel, and not at all while member
 * 2's channel initiator is not running; a shared queue of the same name on
 * another member is a different queue; the DISCINT check and the DEPTH
 * trigger-off read member 2's queue. Real state machine, built command by
 * command (fsm_harness). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chan/chtrig.h"
#include "fsm/fsm.h"
#include "fsm_harness.h"

#define XQ "PXQ"
#define OWNER 2

static void chinit(struct ctx *x, uint32_t id, uint8_t on)
{
	struct fsm_cmd s = {.op = FSM_OP_CHINIT_STATE};
	s.ch.member_id = id;
	s.ch.chinit = on;
	assert_int_equal(exec(x, &s), QSG_OK);
}

/* Members 1..3 with running initiators, QM3 the leader; member 2's QMGR
 * xmitq PXQ armed with `trigtype` (TRIGDPTH 3) and its private sender P. */
static uint64_t group(struct ctx *x, uint8_t trigtype)
{
	for (uint32_t id = 1; id <= 3; id++) {
		struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN, .member_id = id};
		snprintf(c.name, sizeof c.name, "QM%u", id);
		assert_int_equal(exec(x, &c), QSG_OK);
		chinit(x, id, 1);
	}
	struct fsm_cmd l = {.op = FSM_OP_LEASE_RENEW, .member_id = 3};
	l.stats.role = 3;
	assert_int_equal(exec(x, &l), QSG_OK);
	struct fsm_cmd q = {.op = FSM_OP_QDEFINE};
	strcpy(q.queue, XQ);
	strcpy(q.attrs.name, XQ);
	q.attrs.qtype = FSM_QT_LOCAL;
	q.attrs.usage = FSM_USAGE_XMITQ;
	q.attrs.trigger = 1;
	q.attrs.trigtype = trigtype;
	q.attrs.trigdpth = 3;
	q.attrs.set = FSM_QA_USAGE | FSM_QA_TRIGGER | FSM_QA_TRIGTYPE | FSM_QA_TRIGDPTH;
	q.attrs.disp = FSM_DISP_QMGR;
	q.attrs.scope = OWNER;
	assert_int_equal(exec(x, &q), QSG_OK);
	struct fsm_cmd d = {.op = FSM_OP_CHDEFINE};
	strcpy(d.ch.attrs.name, "P");
	d.ch.attrs.set = FSM_CA_CHLTYPE | FSM_CA_CONNAME | FSM_CA_XMITQ | FSM_CA_QSGDISP;
	d.ch.attrs.chltype = FSM_CHL_SDR;
	strcpy(d.ch.attrs.conname, "127.0.0.1:9");
	strcpy(d.ch.attrs.xmitq, XQ);
	d.ch.attrs.disp = FSM_DISP_QMGR;
	d.ch.attrs.scope = OWNER;
	assert_int_equal(exec(x, &d), QSG_OK);
	return attach(x, 77, OWNER);
}

struct found {
	size_t n;
	struct chtrig_start s[4];
};

static void on_start(void *arg, const struct chtrig_start *s)
{
	struct found *f = arg;
	assert_true(f->n < 4);
	f->s[f->n++] = *s;
}

static struct found eval(struct ctx *x)
{
	struct found f = {0};
	struct chcore_cand *c = NULL;
	size_t cap = 0;
	chtrig_view_eval(x->f, &c, &cap, NULL, on_start, &f);
	free(c);
	return f;
}

static void starts_on_its_member(void **state)
{
	struct ctx *x = *state;
	uint64_t ep = group(x, FSM_TRIG_FIRST);
	/* Nothing on the queue: nothing. */
	assert_int_equal(eval(x).n, 0);
	assert_int_equal(put(x, 77, ep, 1, "PXQ", 0, 0, "m", 1), QSG_OK);
	assert_int_equal(fsm_available(x->f, OWNER, XQ), 1);
	/* Member 1 is the least loaded non-leader owner choice would pick
	 * for a shared channel; the private one starts on member 2. */
	struct found f = eval(x);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.s[0].channel, "P");
	assert_int_equal(f.s[0].after.owner, OWNER);
	assert_int_equal(f.s[0].after.state, FSM_CHS_STARTING);
	assert_int_equal(f.s[0].after.epoch, 1);
	assert_int_equal(f.s[0].scope, OWNER);
	assert_int_equal(f.s[0].depth, 1);
	/* Its DISCINT check reads member 2's queue. */
	assert_true(chtrig_view_starts(x->f, "P", XQ));
	/* Member 2's initiator stopped: nobody else starts it. */
	chinit(x, OWNER, 0);
	assert_int_equal(eval(x).n, 0);
	chinit(x, OWNER, 1);
	assert_int_equal(eval(x).n, 1);
}

/* DEPTH: the trigger-off check reads member 2's queue, not a shared one. */
static void depth_off_reads_its_queue(void **state)
{
	struct ctx *x = *state;
	uint64_t ep = group(x, FSM_TRIG_DEPTH);
	for (uint64_t i = 1; i <= 2; i++)
		assert_int_equal(put(x, 77, ep, i, "PXQ", 0, 0, "m", (uint8_t)i), QSG_OK);
	assert_int_equal(eval(x).n, 0);
	assert_int_equal(put(x, 77, ep, 3, "PXQ", 0, 0, "m", 3), QSG_OK);
	struct found f = eval(x);
	assert_int_equal(f.n, 1);
	assert_true(f.s[0].trigger_off);
	assert_int_equal(f.s[0].after.owner, OWNER);
	assert_true(chtrig_view_off_due_in(x->f, OWNER, XQ, 3));
	assert_false(chtrig_view_off_due(x->f, XQ, 3)); /* no shared PXQ */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(starts_on_its_member, setup, teardown),
	    cmocka_unit_test_setup_teardown(depth_off_reads_its_queue, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
