/* Unit tests of channel triggering (src/chan/chtrig.h, docs/channels.md
 * "Triggering"): the decision as a pure function, and its evaluation on a
 * real state machine built command by command (fsm_harness): which sender
 * channel an armed transmission queue starts, when, with which compare-and-
 * swap, on which member; that STOPPED, active and retrying channels and
 * NOTRIGGER queues are left alone; that the trigger attributes survive a
 * snapshot. */
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

static struct fsm_chimage img(uint32_t owner, uint8_t st, uint64_t epoch)
{
	struct fsm_chimage i = {.exists = 1, .owner = owner, .state = st, .epoch = epoch};
	return i;
}

/* Field by field (the struct has padding). */
static void assert_img(const struct fsm_chimage *a, const struct fsm_chimage *b)
{
	assert_int_equal(a->exists, b->exists);
	assert_int_equal(a->owner, b->owner);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->epoch, b->epoch);
}

/* ---- the decision ---- */

static void decide(void **state)
{
	(void)state;
	struct chtrig_in in;
	struct chtrig_out out;
	struct fsm_chimage none = {0};

	memset(&in, 0, sizeof in);
	in.trigger = 1;
	in.trigtype = FSM_TRIG_FIRST;
	in.trigdpth = 1;
	in.depth = 1;
	in.owner = 2;
	/* Never started: created STARTING with epoch 1 on the chosen owner. */
	chtrig_decide(&in, &out);
	assert_int_equal(out.act, CHTRIG_START);
	assert_img(&out.before, &none);
	struct fsm_chimage want = img(2, FSM_CHS_STARTING, 1);
	assert_img(&out.after, &want);
	assert_false(out.trigger_off);
	/* EVERY is FIRST for a channel (one instance serves every message). */
	in.trigtype = FSM_TRIG_EVERY;
	chtrig_decide(&in, &out);
	assert_int_equal(out.act, CHTRIG_START);

	/* Ended by DISCINT (RETRYING without a retry time): epoch + 1. */
	in.img = img(3, FSM_CHS_RETRYING, 7);
	chtrig_decide(&in, &out);
	assert_int_equal(out.act, CHTRIG_START);
	assert_img(&out.before, &in.img);
	want = img(2, FSM_CHS_STARTING, 8);
	assert_img(&out.after, &want);

	/* Waiting to retry after a failure: the group's retry decides. */
	in.retry_at_ms = 123;
	chtrig_decide(&in, &out);
	assert_int_equal(out.act, CHTRIG_NONE);
	assert_int_equal(out.why, CHTRIG_W_ACTIVE);
	in.retry_at_ms = 0;

	/* Active or STOPPED: nothing. */
	static const uint8_t active[] = {FSM_CHS_STARTING, FSM_CHS_RUNNING, FSM_CHS_RECOVERING};
	for (size_t i = 0; i < sizeof active; i++) {
		in.img = img(1, active[i], 4);
		chtrig_decide(&in, &out);
		assert_int_equal(out.act, CHTRIG_NONE);
		assert_int_equal(out.why, CHTRIG_W_ACTIVE);
	}
	in.img = img(1, FSM_CHS_STOPPED, 4);
	chtrig_decide(&in, &out);
	assert_int_equal(out.act, CHTRIG_NONE);
	assert_int_equal(out.why, CHTRIG_W_STOPPED);
	in.img = none;

	/* NOTRIGGER, TRIGTYPE(NONE), empty queue, nobody to run it. */
	in.trigger = 0;
	chtrig_decide(&in, &out);
	assert_int_equal(out.why, CHTRIG_W_NOT_ARMED);
	in.trigger = 1;
	in.trigtype = FSM_TRIG_NONE;
	chtrig_decide(&in, &out);
	assert_int_equal(out.why, CHTRIG_W_NOT_ARMED);
	in.trigtype = FSM_TRIG_FIRST;
	in.depth = 0;
	chtrig_decide(&in, &out);
	assert_int_equal(out.why, CHTRIG_W_SHALLOW);
	in.depth = 1;
	in.owner = 0;
	chtrig_decide(&in, &out);
	assert_int_equal(out.act, CHTRIG_NONE);
	assert_int_equal(out.why, CHTRIG_W_NO_OWNER);
	in.owner = 2;

	/* DEPTH: at TRIGDPTH, not before; then TRIGGER goes off. */
	in.trigtype = FSM_TRIG_DEPTH;
	in.trigdpth = 5;
	in.depth = 4;
	chtrig_decide(&in, &out);
	assert_int_equal(out.why, CHTRIG_W_SHALLOW);
	in.depth = 5;
	chtrig_decide(&in, &out);
	assert_int_equal(out.act, CHTRIG_START);
	assert_true(out.trigger_off);
	in.depth = 6;
	chtrig_decide(&in, &out);
	assert_int_equal(out.act, CHTRIG_START);
	assert_int_equal(chtrig_threshold(FSM_TRIG_DEPTH, 0), 1);
	assert_int_equal(chtrig_threshold(FSM_TRIG_FIRST, 9), 1);
	assert_false(chtrig_armed(1, FSM_TRIG_NONE));
	assert_true(chtrig_armed(1, FSM_TRIG_DEPTH));
}

/* ---- evaluation on a replica ---- */

#define XQ "XQ"

static uint64_t client_epoch, put_seq;

/* Members 1..3 with running initiators, QM3 the leader; XQ a transmission
 * queue; the sender channels named (XMITQ XQ). */
static void group(struct ctx *x, const char *const *channels, size_t n)
{
	for (uint32_t id = 1; id <= 3; id++) {
		struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN, .member_id = id};
		snprintf(c.name, sizeof c.name, "QM%u", id);
		assert_int_equal(exec(x, &c), QSG_OK);
		struct fsm_cmd s = {.op = FSM_OP_CHINIT_STATE};
		s.ch.member_id = id;
		s.ch.chinit = 1;
		assert_int_equal(exec(x, &s), QSG_OK);
	}
	struct fsm_cmd l = {.op = FSM_OP_LEASE_RENEW, .member_id = 3};
	l.stats.role = 3;
	assert_int_equal(exec(x, &l), QSG_OK);
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.usage = FSM_USAGE_XMITQ;
	assert_int_equal(qdefine(x, XQ, FSM_QA_USAGE, &a, 0), QSG_OK);
	for (size_t i = 0; i < n; i++) {
		struct fsm_cmd d = {.op = FSM_OP_CHDEFINE};
		snprintf(d.ch.attrs.name, sizeof d.ch.attrs.name, "%s", channels[i]);
		d.ch.attrs.set = FSM_CA_CHLTYPE | FSM_CA_CONNAME | FSM_CA_XMITQ;
		d.ch.attrs.chltype = FSM_CHL_SDR;
		strcpy(d.ch.attrs.conname, "127.0.0.1:9");
		strcpy(d.ch.attrs.xmitq, XQ);
		assert_int_equal(exec(x, &d), QSG_OK);
	}
	client_epoch = attach(x, 77, 1);
	put_seq = 0;
}

/* ALTER QLOCAL(XQ) with the trigger attributes in set. */
static void alter(struct ctx *x, uint32_t set, uint8_t trigger, uint8_t trigtype, uint32_t dpth,
		  const char *data)
{
	struct fsm_cmd c = {.op = FSM_OP_QALTER};
	strcpy(c.attrs.name, XQ);
	strcpy(c.queue, XQ);
	c.attrs.set = set;
	c.attrs.trigger = trigger;
	c.attrs.trigtype = trigtype;
	c.attrs.trigdpth = dpth;
	snprintf(c.attrs.trigdata, sizeof c.attrs.trigdata, "%s", data);
	assert_int_equal(exec(x, &c), QSG_OK);
}

static void put_n(struct ctx *x, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		put_seq++;
		assert_int_equal(put(x, 77, client_epoch, put_seq, XQ, 0, 0, "m", (uint8_t)put_seq),
				 QSG_OK);
	}
}

static int cas(struct ctx *x, const char *ch, struct fsm_chimage before, struct fsm_chimage after,
	       uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_CHST_CAS};
	snprintf(c.ch.name, sizeof c.ch.name, "%s", ch);
	c.ch.chltype = FSM_CHL_SDR;
	c.ch.before = before;
	c.ch.after = after;
	c.ch.flags = flags;
	strcpy(c.ch.reason, "test");
	return exec(x, &c);
}

struct found {
	size_t n;
	struct chtrig_start s[4];
	const char *skip;
};

static void on_start(void *arg, const struct chtrig_start *s)
{
	struct found *f = arg;
	assert_true(f->n < 4);
	f->s[f->n++] = *s;
}

static bool on_skip(void *arg, const char *channel)
{
	struct found *f = arg;
	return f->skip != NULL && strcmp(f->skip, channel) == 0;
}

/* chtrig_view_eval on x's replica, with the member table as chinit reads
 * it. */
static struct found eval(struct ctx *x, const char *skip)
{
	struct found f = {.skip = skip};
	struct chcore_cand *c = NULL;
	size_t cap = 0;
	chtrig_view_eval(x->f, &c, &cap, on_skip, on_start, &f);
	free(c);
	return f;
}

static void first_discint_stopped(void **state)
{
	struct ctx *x = *state;
	static const char *const chs[] = {"S1"};
	group(x, chs, 1);

	/* Not armed: NOTRIGGER, the default. */
	put_n(x, 1);
	assert_int_equal(eval(x, NULL).n, 0);
	assert_false(chtrig_xmitq_triggered(x->f, XQ));

	/* TRIGGER TRIGTYPE(FIRST): S1, never started, starts on QM1 (a
	 * follower with the fewest channels), created with epoch 1. */
	alter(x, FSM_QA_TRIGGER, 1, 0, 0, "");
	assert_true(chtrig_xmitq_triggered(x->f, XQ));
	struct found f = eval(x, NULL);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.s[0].channel, "S1");
	assert_string_equal(f.s[0].xmitq, XQ);
	assert_int_equal(f.s[0].depth, 1);
	assert_int_equal(f.s[0].trigtype, FSM_TRIG_FIRST);
	assert_int_equal(f.s[0].before.exists, 0);
	struct fsm_chimage want = img(1, FSM_CHS_STARTING, 1);
	assert_img(&f.s[0].after, &want);
	assert_false(f.s[0].trigger_off);
	/* A start already in flight is skipped. */
	assert_int_equal(eval(x, "S1").n, 0);
	/* The CAS a START CHANNEL makes; a second, stale one fails. */
	assert_int_equal(cas(x, "S1", f.s[0].before, f.s[0].after, 0), QSG_OK);
	assert_int_equal(cas(x, "S1", f.s[0].before, f.s[0].after, 0), QSG_RC_CAS_FAILED);
	/* Starting, then running: nothing more. */
	assert_int_equal(eval(x, NULL).n, 0);
	assert_int_equal(cas(x, "S1", want, img(1, FSM_CHS_RUNNING, 1), 0), QSG_OK);
	put_n(x, 3);
	assert_int_equal(eval(x, NULL).n, 0);

	/* DISCINT: RETRYING without a retry time; a put restarts it, on the
	 * follower with the fewest channels (QM1 owns the RETRYING entry). */
	assert_int_equal(cas(x, "S1", img(1, FSM_CHS_RUNNING, 1), img(1, FSM_CHS_RETRYING, 1), 0),
			 QSG_OK);
	f = eval(x, NULL);
	assert_int_equal(f.n, 1);
	struct fsm_chimage idle = img(1, FSM_CHS_RETRYING, 1);
	assert_img(&f.s[0].before, &idle);
	assert_int_equal(f.s[0].after.state, FSM_CHS_STARTING);
	assert_int_equal(f.s[0].after.epoch, 2);
	assert_int_equal(f.s[0].after.owner, 2);
	assert_int_equal(cas(x, "S1", f.s[0].before, f.s[0].after, 0), QSG_OK);

	/* A failed attempt waits for the group's retry time: no trigger. */
	assert_int_equal(cas(x, "S1", f.s[0].after, img(2, FSM_CHS_RETRYING, 2), FSM_CHF_RETRY),
			 QSG_OK);
	struct fsm_chstatus st;
	assert_int_equal(fsm_chstatus_get(x->f, "S1", "", &st), QSG_OK);
	assert_true(st.retry_at_ms != 0);
	assert_int_equal(eval(x, NULL).n, 0);

	/* STOPPED: never started by a trigger. */
	assert_int_equal(cas(x, "S1", img(2, FSM_CHS_RETRYING, 2), img(2, FSM_CHS_STOPPED, 2), 0),
			 QSG_OK);
	put_n(x, 5);
	assert_int_equal(eval(x, NULL).n, 0);

	/* NOTRIGGER again, and the channel inactive: nothing. */
	assert_int_equal(cas(x, "S1", img(2, FSM_CHS_STOPPED, 2), img(2, FSM_CHS_STARTING, 3), 0),
			 QSG_OK);
	assert_int_equal(cas(x, "S1", img(2, FSM_CHS_STARTING, 3), img(2, FSM_CHS_RETRYING, 3), 0),
			 QSG_OK);
	assert_int_equal(eval(x, NULL).n, 1);
	alter(x, FSM_QA_TRIGGER, 0, 0, 0, "");
	assert_int_equal(eval(x, NULL).n, 0);
	/* TRIGTYPE(NONE) does not arm it either. */
	alter(x, FSM_QA_TRIGGER | FSM_QA_TRIGTYPE, 1, FSM_TRIG_NONE, 0, "");
	assert_int_equal(eval(x, NULL).n, 0);
	assert_false(chtrig_xmitq_triggered(x->f, XQ));
}

static void depth_trigger(void **state)
{
	struct ctx *x = *state;
	static const char *const chs[] = {"S1"};
	group(x, chs, 1);
	alter(x, FSM_QA_TRIGGER | FSM_QA_TRIGTYPE | FSM_QA_TRIGDPTH, 1, FSM_TRIG_DEPTH, 5, "");
	for (unsigned i = 1; i <= 4; i++) {
		put_n(x, 1);
		assert_int_equal(eval(x, NULL).n, 0);
	}
	put_n(x, 1);
	struct found f = eval(x, NULL);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.s[0].depth, 5);
	assert_int_equal(f.s[0].trigtype, FSM_TRIG_DEPTH);
	assert_true(f.s[0].trigger_off);
	/* What chinit does then: the start, and NOTRIGGER. */
	assert_int_equal(cas(x, "S1", f.s[0].before, f.s[0].after, 0), QSG_OK);
	alter(x, FSM_QA_TRIGGER, 0, 0, 0, "");
	struct fsm_qinfo q = qi(x, XQ);
	assert_int_equal(q.attrs.trigger, 0);
	assert_int_equal(q.attrs.trigtype, FSM_TRIG_DEPTH);
	assert_int_equal(q.attrs.trigdpth, 5);
}

/* The operator alters the trigger between the evaluation of a DEPTH
 * trigger and its start: the NOTRIGGER that would follow (an unconditional
 * QALTER) is not due, and what the operator set stays. */
static void depth_off_race(void **state)
{
	struct ctx *x = *state;
	static const char *const chs[] = {"S1"};
	group(x, chs, 1);
	alter(x, FSM_QA_TRIGGER | FSM_QA_TRIGTYPE | FSM_QA_TRIGDPTH, 1, FSM_TRIG_DEPTH, 3, "");
	put_n(x, 3);
	struct found f = eval(x, NULL);
	assert_int_equal(f.n, 1);
	assert_true(f.s[0].trigger_off);
	assert_int_equal(f.s[0].trigdpth, 3);
	assert_true(chtrig_view_off_due(x->f, XQ, f.s[0].trigdpth));
	/* Another TRIGDPTH, another TRIGTYPE, NOTRIGGER: not due. */
	alter(x, FSM_QA_TRIGDPTH, 0, 0, 10, "");
	assert_false(chtrig_view_off_due(x->f, XQ, f.s[0].trigdpth));
	alter(x, FSM_QA_TRIGDPTH | FSM_QA_TRIGTYPE, 0, FSM_TRIG_FIRST, 3, "");
	assert_int_equal(cas(x, "S1", f.s[0].before, f.s[0].after, 0), QSG_OK);
	assert_false(chtrig_view_off_due(x->f, XQ, f.s[0].trigdpth));
	struct fsm_qinfo q = qi(x, XQ);
	assert_int_equal(q.attrs.trigger, 1);
	assert_int_equal(q.attrs.trigtype, FSM_TRIG_FIRST);
	alter(x, FSM_QA_TRIGGER | FSM_QA_TRIGTYPE, 0, FSM_TRIG_DEPTH, 0, "");
	assert_false(chtrig_view_off_due(x->f, XQ, 3));
	alter(x, FSM_QA_TRIGGER, 1, 0, 0, "");
	assert_true(chtrig_view_off_due(x->f, XQ, 3));
	assert_false(chtrig_view_off_due(x->f, "NO.SUCH.Q", 3));
	/* The pure rule. */
	assert_true(chtrig_off_due(1, FSM_TRIG_DEPTH, 0, 1)); /* 0 counts as 1 */
	assert_false(chtrig_off_due(1, FSM_TRIG_EVERY, 3, 3));
	assert_false(chtrig_off_due(0, FSM_TRIG_DEPTH, 3, 3));
}

/* TRIGDATA names the channel; blank: the one sender on the queue. The load
 * of a chosen member counts for the next channel of the same evaluation. */
static void which_channel(void **state)
{
	struct ctx *x = *state;
	static const char *const chs[] = {"S1", "S2"};
	group(x, chs, 2);
	put_n(x, 2);
	alter(x, FSM_QA_TRIGGER, 1, 0, 0, "");
	/* Two senders on XQ and no TRIGDATA: which one is not known. */
	assert_int_equal(eval(x, NULL).n, 0);
	alter(x, FSM_QA_TRIGDATA, 0, 0, 0, "S2");
	struct found f = eval(x, NULL);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.s[0].channel, "S2");
	alter(x, FSM_QA_TRIGDATA, 0, 0, 0, "NOT.HERE");
	assert_int_equal(eval(x, NULL).n, 0);
	/* What a DISCINT instance asks (chtrig_view_starts): the trigger
	 * starts S2 only, not S1, which it never starts. */
	alter(x, FSM_QA_TRIGDATA, 0, 0, 0, "S2");
	assert_true(chtrig_view_starts(x->f, "S2", XQ));
	assert_false(chtrig_view_starts(x->f, "S1", XQ));
	alter(x, FSM_QA_TRIGDATA, 0, 0, 0, "");
	assert_false(chtrig_view_starts(x->f, "S1", XQ)); /* two senders, blank */
	assert_false(chtrig_view_starts(x->f, "S2", XQ));
	/* Blanks around the name are not part of it: " S2 " names S2, and
	 * " NOT.HERE" is not blank (it names no sender on XQ). */
	alter(x, FSM_QA_TRIGDATA, 0, 0, 0, " S2 ");
	f = eval(x, NULL);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.s[0].channel, "S2");
	alter(x, FSM_QA_TRIGDATA, 0, 0, 0, " NOT.HERE");
	assert_int_equal(eval(x, NULL).n, 0);

	/* Two queues, one channel each: spread over QM1 and QM2. */
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.usage = FSM_USAGE_XMITQ;
	a.trigger = 1;
	a.trigtype = FSM_TRIG_FIRST;
	assert_int_equal(qdefine(x, "XQ2", FSM_QA_USAGE | FSM_QA_TRIGGER, &a, 0), QSG_OK);
	struct fsm_cmd c = {.op = FSM_OP_CHALTER};
	strcpy(c.ch.attrs.name, "S2");
	c.ch.attrs.set = FSM_CA_XMITQ;
	strcpy(c.ch.attrs.xmitq, "XQ2");
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(put(x, 77, client_epoch, ++put_seq, "XQ2", 0, 0, "m", 1), QSG_OK);
	alter(x, FSM_QA_TRIGDATA, 0, 0, 0, " ");
	assert_true(chtrig_view_starts(x->f, "S1", XQ)); /* the only one now */
	assert_true(chtrig_view_starts(x->f, "S2", "XQ2"));
	assert_false(chtrig_view_starts(x->f, "S2", XQ));
	alter(x, FSM_QA_TRIGGER, 0, 0, 0, "");
	assert_false(chtrig_view_starts(x->f, "S1", XQ)); /* NOTRIGGER */
	alter(x, FSM_QA_TRIGGER, 1, 0, 0, "");
	f = eval(x, NULL);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.s[0].channel, "S1");
	assert_string_equal(f.s[1].channel, "S2");
	assert_int_equal(f.s[0].after.owner, 1);
	assert_int_equal(f.s[1].after.owner, 2);
}

/* A stored queue carries its trigger attributes through a snapshot (and
 * the restored state snapshots to the same bytes); one that never had any
 * snapshots as before. */
static void snapshot_keeps(void **state)
{
	struct ctx *x = *state;
	static const char *const chs[] = {"S1"};
	group(x, chs, 1);
	assert_int_equal(qdefine(x, "PLAIN", 0, NULL, 0), QSG_OK);
	assert_int_equal(qi(x, "PLAIN").attrs.set & FSM_QA_TRIG_MASK, 0);
	alter(x, FSM_QA_TRIGGER | FSM_QA_TRIGTYPE | FSM_QA_TRIGDPTH | FSM_QA_TRIGDATA, 1,
	      FSM_TRIG_DEPTH, 12, "S1");
	struct fsm *g = snapshot_restored(x);
	struct fsm_qinfo q;
	assert_int_equal(fsm_queue_info(g, 0, XQ, &q), QSG_OK);
	assert_int_equal(q.attrs.trigger, 1);
	assert_int_equal(q.attrs.trigtype, FSM_TRIG_DEPTH);
	assert_int_equal(q.attrs.trigdpth, 12);
	assert_string_equal(q.attrs.trigdata, "S1");
	assert_int_equal(fsm_queue_info(g, 0, "PLAIN", &q), QSG_OK);
	assert_int_equal(q.attrs.trigger, 0);
	assert_int_equal(q.attrs.trigtype, FSM_TRIG_FIRST);
	assert_int_equal(q.attrs.trigdpth, 1);
	assert_true(chtrig_xmitq_triggered(g, XQ));
	fsm_close(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(decide),
	    cmocka_unit_test_setup_teardown(first_discint_stopped, setup, teardown),
	    cmocka_unit_test_setup_teardown(depth_trigger, setup, teardown),
	    cmocka_unit_test_setup_teardown(depth_off_race, setup, teardown),
	    cmocka_unit_test_setup_teardown(which_channel, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_keeps, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
