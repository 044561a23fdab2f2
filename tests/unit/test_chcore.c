/* Unit tests of the channel cores (src/chan/chcore.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chan/chcore.h"
#include "chan/chproto.h"

/* ---- owner choice ---- */

static struct chcore_cand cand(uint32_t id, uint32_t load)
{
	struct chcore_cand c = {.id = id, .active = true, .chinit = true, .load = load};
	return c;
}

static void test_pick_least_loaded(void **state)
{
	(void)state;
	struct chcore_cand c[3] = {cand(1, 2), cand(2, 0), cand(3, 1)};
	assert_int_equal(chcore_pick_owner(c, 3, 0), 2);
	c[1].load = 5;
	assert_int_equal(chcore_pick_owner(c, 3, 0), 3);
}

static void test_pick_needs_active_chinit(void **state)
{
	(void)state;
	struct chcore_cand c[3] = {cand(1, 0), cand(2, 1), cand(3, 2)};
	c[0].chinit = false; /* initiator stopped */
	assert_int_equal(chcore_pick_owner(c, 3, 0), 2);
	c[1].active = false; /* failed */
	assert_int_equal(chcore_pick_owner(c, 3, 0), 3);
	c[2].chinit = false;
	assert_int_equal(chcore_pick_owner(c, 3, 0), 0); /* no candidate */
	assert_int_equal(chcore_pick_owner(c, 0, 0), 0);
}

static void test_pick_avoids_leader(void **state)
{
	(void)state;
	struct chcore_cand c[3] = {cand(1, 0), cand(2, 3), cand(3, 4)};
	c[0].leader = true; /* least loaded, but the leader */
	assert_int_equal(chcore_pick_owner(c, 3, 0), 2);
	/* the leader only when no follower qualifies */
	c[1].active = false;
	c[2].chinit = false;
	assert_int_equal(chcore_pick_owner(c, 3, 0), 1);
}

static void test_pick_exclude(void **state)
{
	(void)state;
	struct chcore_cand c[3] = {cand(1, 0), cand(2, 3), cand(3, 4)};
	assert_int_equal(chcore_pick_owner(c, 3, 1), 2);
	/* exclusion outranks the leader: an excluded follower loses to the
	 * leader */
	c[1].leader = true;
	c[2].active = false;
	assert_int_equal(chcore_pick_owner(c, 3, 1), 2);
	/* the excluded member only when nobody else qualifies */
	c[1].active = false;
	assert_int_equal(chcore_pick_owner(c, 3, 1), 1);
}

static void test_pick_ties(void **state)
{
	(void)state;
	struct chcore_cand c[3] = {cand(3, 1), cand(1, 1), cand(2, 1)};
	/* equal rank: the lowest id, whatever the order of the table */
	assert_int_equal(chcore_pick_owner(c, 3, 0), 1);
	struct chcore_cand d[3] = {cand(1, 1), cand(2, 1), cand(3, 1)};
	assert_int_equal(chcore_pick_owner(d, 3, 0), 1);
	assert_int_equal(chcore_pick_owner(d, 3, 1), 2);
}

/* ---- recovery ---- */

static struct chcore_cand members3[3];

static struct chcore_rec_in rec_in(uint8_t state, uint32_t owner, uint64_t epoch)
{
	members3[0] = cand(1, 1);
	members3[1] = cand(2, 0);
	members3[2] = cand(3, 2);
	struct chcore_rec_in in = {.chltype = FSM_CHL_SDR,
				   .img = {1, owner, state, epoch},
				   .self = 1,
				   .running = true,
				   .have_book = true,
				   .members = members3,
				   .nmembers = 3};
	return in;
}

static void test_rec_stopped_stays(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	struct chcore_rec_in in = rec_in(FSM_CHS_STOPPED, 2, 4);
	in.owner_failed = true;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	in = rec_in(FSM_CHS_STOPPED, 1, 4);
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
}

static void test_rec_start_local(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	struct chcore_rec_in in = rec_in(FSM_CHS_STARTING, 1, 5);
	in.started_epoch = 4;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_START_LOCAL);
	/* running here already with that epoch */
	in.have_inst = true;
	in.inst_epoch = 5;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	/* an older instance still here: wait for it to end */
	in.inst_epoch = 4;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	/* no bookkeeping (out of memory): nothing */
	in = rec_in(FSM_CHS_STARTING, 1, 5);
	in.have_book = false;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
}

static void test_rec_restart_ended(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	struct chcore_rec_in in = rec_in(FSM_CHS_STARTING, 1, 5);
	in.started_epoch = 5; /* an instance of epoch 5 ran here and ended */
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RESTART_ENDED);
	assert_int_equal(out.after.owner, 1);
	assert_int_equal(out.after.state, FSM_CHS_STARTING);
	assert_int_equal(out.after.epoch, 6);
}

static void test_rec_ours_no_instance(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	/* RUNNING, ours, no instance here (we restarted): new instance on the
	 * least loaded member, epoch + 1 */
	struct chcore_rec_in in = rec_in(FSM_CHS_RUNNING, 1, 7);
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RESTARTED);
	assert_int_equal(out.after.exists, 1);
	assert_int_equal(out.after.owner, 2);
	assert_int_equal(out.after.state, FSM_CHS_STARTING);
	assert_int_equal(out.after.epoch, 8);
	/* RETRYING with its instance here (waiting to retry): nothing */
	in = rec_in(FSM_CHS_RETRYING, 1, 7);
	in.have_inst = true;
	in.inst_epoch = 6;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	/* our initiator stopped: moved elsewhere, never to us */
	in = rec_in(FSM_CHS_RUNNING, 1, 7);
	in.running = false;
	members3[1].load = 9;
	members3[2].load = 9;
	members3[0].load = 0;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_CHINIT_STOPPED);
	assert_int_equal(out.after.owner, 2);
	assert_int_equal(out.after.epoch, 8);
}

static void test_rec_recovering(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	/* ours, initiator stopped, nobody else has one: RECOVERING, same epoch */
	struct chcore_rec_in in = rec_in(FSM_CHS_RUNNING, 1, 7);
	in.running = false;
	members3[1].chinit = false;
	members3[2].chinit = false;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RECOVERING);
	assert_int_equal(out.after.owner, 1);
	assert_int_equal(out.after.state, FSM_CHS_RECOVERING);
	assert_int_equal(out.after.epoch, 7);
	/* already RECOVERING: nothing */
	in.img.state = FSM_CHS_RECOVERING;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	/* RECOVERING and an initiator runs again (ours): restart, epoch + 1 */
	in = rec_in(FSM_CHS_RECOVERING, 1, 7);
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.after.state, FSM_CHS_STARTING);
	assert_int_equal(out.after.epoch, 8);
}

static void test_rec_peer(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	/* owned by member 3, which FAILED: STARTING on a member by load
	 * (never 3 when another qualifies), epoch + 1 */
	struct chcore_rec_in in = rec_in(FSM_CHS_RUNNING, 3, 4);
	in.owner_failed = true;
	members3[2].active = false;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_PEER);
	assert_int_equal(out.after.owner, 2);
	assert_int_equal(out.after.state, FSM_CHS_STARTING);
	assert_int_equal(out.after.epoch, 5);
	/* no initiator anywhere: the winner keeps it RECOVERING, same epoch */
	in = rec_in(FSM_CHS_RETRYING, 3, 4);
	in.owner_failed = true;
	for (int i = 0; i < 3; i++)
		members3[i].chinit = false;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.after.owner, 1);
	assert_int_equal(out.after.state, FSM_CHS_RECOVERING);
	assert_int_equal(out.after.epoch, 4);
	/* owner alive and not us: nothing */
	in = rec_in(FSM_CHS_RUNNING, 3, 4);
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
}

static void test_rec_inbound(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	struct chcore_rec_in in = rec_in(FSM_CHS_RUNNING, 1, 3);
	in.chltype = FSM_CHL_RCVR;
	in.rcv_here = true;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	/* ours, the connection is gone: removed */
	in.rcv_here = false;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RCV_GONE);
	assert_int_equal(out.after.exists, 0);
	/* a failed member's: removed */
	in = rec_in(FSM_CHS_RUNNING, 2, 3);
	in.chltype = FSM_CHL_RCVR;
	in.owner_failed = true;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RCV_PEER);
	assert_int_equal(out.after.exists, 0);
	/* a live member's: left alone */
	in.owner_failed = false;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
}

/* A private channel (docs/channels.md "Private channels"): no other member
 * ever starts, takes over or recovers it, whatever its state; its member
 * restarts it on itself. */
static void test_rec_private_peer_never(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	static const uint8_t states[] = {FSM_CHS_STARTING, FSM_CHS_RUNNING, FSM_CHS_RETRYING,
					 FSM_CHS_RECOVERING, FSM_CHS_STOPPED};
	for (size_t i = 0; i < sizeof states; i++) {
		/* Member 3's private channel; 3 FAILED; we are 1 (and 2). */
		for (uint32_t self = 1; self <= 2; self++) {
			struct chcore_rec_in in = rec_in(states[i], 3, 4);
			in.self = self;
			in.scope = 3;
			in.owner_failed = true;
			members3[2].active = false;
			chcore_reconcile(&in, &out);
			assert_int_equal(out.act, CHREC_NONE);
			/* Not even when no initiator runs anywhere else. */
			for (int k = 0; k < 3; k++)
				members3[k].chinit = false;
			chcore_reconcile(&in, &out);
			assert_int_equal(out.act, CHREC_NONE);
			/* Nor when its member is alive but has no instance. */
			in = rec_in(states[i], 3, 4);
			in.self = self;
			in.scope = 3;
			chcore_reconcile(&in, &out);
			assert_int_equal(out.act, CHREC_NONE);
		}
	}
	/* The same entry as a shared channel is recovered (the control). */
	struct chcore_rec_in in = rec_in(FSM_CHS_RUNNING, 3, 4);
	in.owner_failed = true;
	members3[2].active = false;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_PEER);
	/* A private receiver's entry is not removed by a peer either. */
	in = rec_in(FSM_CHS_RUNNING, 3, 4);
	in.chltype = FSM_CHL_RCVR;
	in.owner_failed = true;
	in.scope = 3;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
}

static void test_rec_private_own_member(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	/* Ours, RUNNING, no instance here (we restarted): STARTING on us,
	 * epoch + 1, even though member 2 is less loaded. */
	struct chcore_rec_in in = rec_in(FSM_CHS_RUNNING, 1, 7);
	in.scope = 1;
	members3[0].load = 9;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RESTARTED);
	assert_int_equal(out.after.owner, 1);
	assert_int_equal(out.after.state, FSM_CHS_STARTING);
	assert_int_equal(out.after.epoch, 8);
	/* STARTING on us: start it here (as a shared one). */
	in = rec_in(FSM_CHS_STARTING, 1, 8);
	in.scope = 1;
	in.started_epoch = 7;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_START_LOCAL);
	/* Our replica still shows us FAILED (the rejoin is not applied): wait. */
	in = rec_in(FSM_CHS_RUNNING, 1, 7);
	in.scope = 1;
	in.owner_failed = true;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	/* Our initiator stopped: RECOVERING on us, never moved to 2. */
	in = rec_in(FSM_CHS_RUNNING, 1, 7);
	in.scope = 1;
	in.running = false;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RECOVERING);
	assert_int_equal(out.after.owner, 1);
	assert_int_equal(out.after.state, FSM_CHS_RECOVERING);
	assert_int_equal(out.after.epoch, 7);
	in.img.state = FSM_CHS_RECOVERING;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	/* ... and started again when it runs. */
	in.running = true;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.after.owner, 1);
	assert_int_equal(out.after.state, FSM_CHS_STARTING);
	assert_int_equal(out.after.epoch, 8);
	/* RETRYING: waits for its time, then retries on us (not by load). */
	in = rec_in(FSM_CHS_RETRYING, 1, 7);
	in.scope = 1;
	in.retry_at_ms = 5000;
	in.now_ms = 4000;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	in.now_ms = 5000;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RETRY);
	assert_int_equal(out.after.owner, 1);
	assert_int_equal(out.after.epoch, 8);
}

/* ---- the sender ---- */

static void test_sdr_start(void **state)
{
	(void)state;
	assert_int_equal(chcore_sdr_start(10, 10, 10), CHSTART_BIND);
	assert_int_equal(chcore_sdr_start(10, 15, 10), CHSTART_RESOLVE);
	assert_int_equal(chcore_sdr_start(10, 15, 12), CHSTART_RESOLVE);
	assert_int_equal(chcore_sdr_start(10, 15, 15), CHSTART_RESOLVE);
	assert_int_equal(chcore_sdr_start(10, 15, 9), CHSTART_OUT_OF_STEP);
	assert_int_equal(chcore_sdr_start(10, 15, 16), CHSTART_OUT_OF_STEP);
	assert_int_equal(chcore_sdr_start(10, 10, 11), CHSTART_OUT_OF_STEP);
}

static void test_pipe_resolve(void **state)
{
	(void)state;
	struct chcore_pipe p;
	struct chcore_settle x;
	chcore_pipe_begin(&p, 10);
	chcore_pipe_resolve(&p, 12, &x);
	assert_int_equal(x.kind, CHSETTLE_RESOLVE);
	assert_int_equal(x.upto, 12);
	assert_int_equal(x.flags, FSM_CHF_BACKOUT_REST);
	assert_int_equal(chcore_pipe_settled(&p, &x, QSG_RC_CHANNEL_FENCED), CHSETTLED_ABORT);
	assert_int_equal(chcore_pipe_settled(&p, &x, QSG_RC_NO_LEADER), CHSETTLED_FAIL);
	assert_int_equal(p.settled, 10);
	assert_int_equal(chcore_pipe_settled(&p, &x, QSG_OK), CHSETTLED_BIND);
	assert_int_equal(p.settled, 12);
	assert_false(chcore_pipe_settle_next(&p, &x)); /* nothing more */
}

static void test_pipe_confirm(void **state)
{
	(void)state;
	struct chcore_pipe p;
	struct chcore_settle x;
	chcore_pipe_begin(&p, 0);
	chcore_pipe_push(&p, 1, 3);
	chcore_pipe_push(&p, 4, 6);
	assert_int_equal(p.n, 2);
	/* not the oldest batch */
	assert_int_equal(chcore_pipe_confirm(&p, 4, 6, QSG_OK), CHCONF_NOT_IN_FLIGHT);
	assert_int_equal(chcore_pipe_confirm(&p, 1, 2, QSG_OK), CHCONF_NOT_IN_FLIGHT);
	assert_int_equal(chcore_pipe_confirm(&p, 1, 3, QSG_OK), CHCONF_SETTLE);
	assert_int_equal(p.confirmed, 3);
	assert_int_equal(p.n, 1);
	assert_true(chcore_pipe_settle_next(&p, &x));
	assert_int_equal(x.kind, CHSETTLE_CONFIRMED);
	assert_int_equal(x.upto, 3);
	assert_int_equal(x.flags, 0);
	/* a settle not applied: again; applied: settled moves */
	assert_int_equal(chcore_pipe_settled(&p, &x, QSG_RC_OUTCOME_UNKNOWN), CHSETTLED_RETRY);
	assert_int_equal(p.settled, 0);
	assert_int_equal(chcore_pipe_settled(&p, &x, QSG_OK), CHSETTLED_DONE);
	assert_int_equal(p.settled, 3);
	assert_false(chcore_pipe_settle_next(&p, &x));
	/* the receiver ends the channel */
	assert_int_equal(chcore_pipe_confirm(&p, 4, 6, QSG_RC_SEQ_MISMATCH), CHCONF_ENDED);
	/* empty pipeline */
	chcore_pipe_drop(&p);
	assert_int_equal(chcore_pipe_confirm(&p, 4, 6, QSG_OK), CHCONF_NOT_IN_FLIGHT);
}

static void test_pipe_refused(void **state)
{
	(void)state;
	struct chcore_pipe p;
	struct chcore_settle x;
	chcore_pipe_begin(&p, 0);
	chcore_pipe_push(&p, 1, 3);
	chcore_pipe_push(&p, 4, 6);
	chcore_pipe_push(&p, 7, 9);
	assert_int_equal(chcore_pipe_confirm(&p, 1, 3, QSG_OK), CHCONF_SETTLE);
	assert_int_equal(chcore_pipe_confirm(&p, 4, 6, QSG_RC_BATCH_REJECTED), CHCONF_REFUSED);
	assert_int_equal(p.n, 0); /* later batches dropped */
	assert_true(p.refusing);
	/* the refused settle comes first, up to the batch before it */
	assert_true(chcore_pipe_settle_next(&p, &x));
	assert_int_equal(x.kind, CHSETTLE_REFUSED);
	assert_int_equal(x.upto, 3);
	assert_int_equal(x.flags, FSM_CHF_BACKOUT_REST);
	assert_int_equal(chcore_pipe_settled(&p, &x, QSG_RC_NOT_LEADER), CHSETTLED_RETRY);
	assert_true(p.refusing);
	assert_int_equal(chcore_pipe_settled(&p, &x, QSG_OK), CHSETTLED_DONE);
	assert_false(p.refusing);
	assert_int_equal(p.settled, 3);
	assert_false(chcore_pipe_settle_next(&p, &x));
}

/* Group-wide retry: the wait is in the entry (retry_at_ms, leader time),
 * so a RETRYING entry without a waiting instance is retried by its owner at
 * that time, and one that moves keeps waiting at its new owner. */
static void test_rec_retry_wait(void **state)
{
	(void)state;
	struct chcore_rec_out out;
	/* ours, no instance here (we restarted), retry time not reached */
	struct chcore_rec_in in = rec_in(FSM_CHS_RETRYING, 1, 7);
	in.retry_at_ms = 50000;
	in.now_ms = 49999;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	/* reached: STARTING on a member by load avoiding us, epoch + 1 */
	in.now_ms = 50000;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RETRY);
	assert_int_equal(out.after.owner, 2);
	assert_int_equal(out.after.state, FSM_CHS_STARTING);
	assert_int_equal(out.after.epoch, 8);
	/* an instance here waits for it: nothing */
	in.have_inst = true;
	in.inst_epoch = 7;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_NONE);
	/* owner FAILED while waiting: the wait moves to another member, same
	 * epoch, still RETRYING */
	in = rec_in(FSM_CHS_RETRYING, 3, 7);
	in.owner_failed = true;
	in.retry_at_ms = 50000;
	in.now_ms = 40000;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.act, CHREC_CAS);
	assert_int_equal(out.why, CHREC_W_RETRY_MOVED);
	assert_int_equal(out.after.owner, 2);
	assert_int_equal(out.after.state, FSM_CHS_RETRYING);
	assert_int_equal(out.after.epoch, 7);
	/* ... and past its retry time: STARTING there at once, epoch + 1 */
	in.now_ms = 60000;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.why, CHREC_W_PEER);
	assert_int_equal(out.after.state, FSM_CHS_STARTING);
	assert_int_equal(out.after.epoch, 8);
	/* our initiator stopped while waiting: the wait moves, never to us */
	in = rec_in(FSM_CHS_RETRYING, 1, 7);
	in.running = false;
	in.retry_at_ms = 50000;
	in.now_ms = 40000;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.why, CHREC_W_RETRY_MOVED);
	assert_int_not_equal(out.after.owner, 1);
	assert_int_equal(out.after.state, FSM_CHS_RETRYING);
	assert_int_equal(out.after.epoch, 7);
	/* RETRYING without a retry time (DISCINT, waiting for messages) and no
	 * instance: restarted at once as before */
	in = rec_in(FSM_CHS_RETRYING, 1, 7);
	in.now_ms = 40000;
	chcore_reconcile(&in, &out);
	assert_int_equal(out.why, CHREC_W_RESTARTED);
	assert_int_equal(out.after.state, FSM_CHS_STARTING);
}

static void test_retry_target(void **state)
{
	(void)state;
	struct chcore_cand c[3] = {cand(1, 0), cand(2, 4), cand(3, 1)};
	assert_int_equal(chcore_retry_target(c, 3, 1), 3); /* avoids itself */
	c[1].active = false;
	c[2].chinit = false;
	assert_int_equal(chcore_retry_target(c, 3, 1), 1); /* only itself */
	c[0].chinit = false;
	assert_int_equal(chcore_retry_target(c, 3, 1), 1); /* nobody: itself */
}

static void test_conname_split(void **state)
{
	(void)state;
	char out[4][FSM_ADDR_MAX + 1];
	assert_int_equal(chcore_conname_split(" 10.0.0.1:1414 ,, 10.0.0.2:1414,", out, 4), 2);
	assert_string_equal(out[0], "10.0.0.1:1414");
	assert_string_equal(out[1], "10.0.0.2:1414");
	assert_int_equal(chcore_conname_split("a:1,b:2,c:3", out, 2), 2);
	assert_string_equal(out[1], "b:2");
	assert_int_equal(chcore_conname_split("", out, 4), 0);
}

/* ---- the sender's connection attempt ---- */

/* Three members listed; the first is paused (no START reply), the second
 * fenced, the third accepts: one attempt reaches the third without counting
 * a retry. */
static void test_attempt_rotates(void **state)
{
	(void)state;
	struct chcore_attempt a;
	chcore_attempt_begin(&a, 3, 0);
	assert_int_equal(a.idx, 0);
	assert_int_equal(chcore_attempt_failed(&a, CHADDR_START_TIMEOUT, 0), CHADDR_NEXT);
	assert_int_equal(a.idx, 1);
	assert_int_equal(chcore_attempt_failed(&a, CHADDR_REFUSED, QSG_RC_MEMBER_FENCED),
			 CHADDR_NEXT);
	assert_int_equal(a.idx, 2);
	/* the third fails too: every entry was tried, one retry */
	assert_int_equal(chcore_attempt_failed(&a, CHADDR_CONNECT_FAILED, 0), CHADDR_FAIL);
}

/* Every reason a member cannot serve moves on; a killed member (refused
 * connection), a partitioned one (connect timeout), a connection lost. */
static void test_attempt_reasons_move_on(void **state)
{
	(void)state;
	static const int rcs[] = {QSG_RC_MEMBER_FENCED,	 QSG_RC_NOT_LEADER,
				  QSG_RC_NO_LEADER,	 QSG_RC_CHINIT_NOT_RUNNING,
				  QSG_RC_Q_MGR_STOPPING, QSG_RC_CHANNEL_NOT_FOUND,
				  QSG_RC_BAD_FRAME,	 QSG_RC_UNKNOWN_REMOTE_Q_MGR};
	for (size_t i = 0; i < sizeof rcs / sizeof rcs[0]; i++) {
		struct chcore_attempt a;
		chcore_attempt_begin(&a, 2, 0);
		assert_int_equal(chcore_attempt_failed(&a, CHADDR_REFUSED, rcs[i]), CHADDR_NEXT);
		assert_int_equal(a.idx, 1);
	}
	static const enum chcore_addr_why whys[] = {CHADDR_CONNECT_FAILED, CHADDR_CONNECT_TIMEOUT,
						    CHADDR_START_TIMEOUT, CHADDR_LOST};
	for (size_t i = 0; i < sizeof whys / sizeof whys[0]; i++) {
		struct chcore_attempt a;
		chcore_attempt_begin(&a, 2, 0);
		assert_int_equal(chcore_attempt_failed(&a, whys[i], 0), CHADDR_NEXT);
		assert_int_equal(a.idx, 1);
	}
	/* superseded (a newer epoch was seen): the same at every member */
	struct chcore_attempt a;
	chcore_attempt_begin(&a, 3, 0);
	assert_int_equal(chcore_attempt_failed(&a, CHADDR_REFUSED, QSG_RC_CHANNEL_FENCED),
			 CHADDR_END);
}

/* An attempt that begins in the middle wraps around and tries each entry
 * exactly once. */
static void test_attempt_wraps(void **state)
{
	(void)state;
	struct chcore_attempt a;
	unsigned seen[4] = {0};
	chcore_attempt_begin(&a, 4, 6); /* 6 mod 4 */
	assert_int_equal(a.idx, 2);
	seen[a.idx]++;
	while (chcore_attempt_failed(&a, CHADDR_START_TIMEOUT, 0) == CHADDR_NEXT)
		seen[a.idx]++;
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(seen[i], 1);
	/* one entry: fails at once; none: fails at once */
	chcore_attempt_begin(&a, 1, 0);
	assert_int_equal(chcore_attempt_failed(&a, CHADDR_START_TIMEOUT, 0), CHADDR_FAIL);
	chcore_attempt_begin(&a, 0, 0);
	assert_int_equal(a.tried, 0);
	assert_int_equal(chcore_attempt_failed(&a, CHADDR_CONNECT_FAILED, 0), CHADDR_FAIL);
}

static void test_attempt_pref(void **state)
{
	(void)state;
	assert_int_equal(chcore_attempt_pref(3, 1, false), 1); /* where it worked */
	assert_int_equal(chcore_attempt_pref(3, 1, true), 2); /* lost there: past it */
	assert_int_equal(chcore_attempt_pref(3, 2, true), 0); /* wraps */
	assert_int_equal(chcore_attempt_pref(0, 5, true), 0);
}

/* ---- the receiver ---- */

static void test_rcv_accept(void **state)
{
	(void)state;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(chcore_rcv_accept("", "QSG1", "QM1", true, false, err), QSG_OK);
	assert_int_equal(chcore_rcv_accept("QSG1", "QSG1", "QM1", true, false, err), QSG_OK);
	assert_int_equal(chcore_rcv_accept("QM1", "QSG1", "QM1", true, false, err), QSG_OK);
	assert_int_equal(chcore_rcv_accept("QMX", "QSG1", "QM1", true, false, err),
			 QSG_RC_UNKNOWN_REMOTE_Q_MGR);
	assert_int_equal(chcore_rcv_accept("", "QSG1", "QM1", false, false, err),
			 QSG_RC_CHINIT_NOT_RUNNING);
	assert_int_equal(chcore_rcv_accept("", "QSG1", "QM1", true, true, err),
			 QSG_RC_MEMBER_FENCED);
	/* the name is checked first */
	assert_int_equal(chcore_rcv_accept("QMX", "QSG1", "QM1", false, true, err),
			 QSG_RC_UNKNOWN_REMOTE_Q_MGR);
	/* no leader known (no quorum): refused at once, with the reason */
	assert_int_equal(chcore_rcv_serve("QM1", true, err), QSG_OK);
	assert_int_equal(chcore_rcv_serve("QM1", false, err), QSG_RC_NO_LEADER);
	assert_non_null(strstr(err, "no leader"));
}

/* One inbound instance at a time: the old owner's channel initiator ends its
 * local instance when the replica shows another (chinit reconciliation). */
static void test_rcv_fenced(void **state)
{
	(void)state;
	struct fsm_syncq sq;
	struct fsm_chstatus st;
	memset(&sq, 0, sizeof sq);
	memset(&st, 0, sizeof st);
	sq.rinst = 4;
	st.img.exists = 1;
	st.img.owner = 1;
	st.img.state = FSM_CHS_RUNNING;
	/* the current instance, here */
	assert_int_equal(chcore_rcv_fenced(1, 4, &sq, &st), CHFENCE_NONE);
	/* an instance without a number (old form): never ended this way */
	assert_int_equal(chcore_rcv_fenced(1, 0, &sq, &st), CHFENCE_NONE);
	assert_int_equal(chcore_rcv_fenced(1, 0, NULL, NULL), CHFENCE_NONE);
	/* a newer instance on another member took the channel */
	st.img.owner = 2;
	sq.rinst = 5;
	assert_int_equal(chcore_rcv_fenced(1, 4, &sq, &st), CHFENCE_TAKEN);
	/* the entry moved even without a new number (an old-form START) */
	sq.rinst = 4;
	assert_int_equal(chcore_rcv_fenced(1, 4, &sq, &st), CHFENCE_TAKEN);
	/* a newer instance here */
	st.img.owner = 1;
	sq.rinst = 5;
	assert_int_equal(chcore_rcv_fenced(1, 4, &sq, &st), CHFENCE_NEWER_HERE);
	/* the entry is gone */
	sq.rinst = 4;
	assert_int_equal(chcore_rcv_fenced(1, 4, &sq, NULL), CHFENCE_REMOVED);
	/* the replica has not applied this instance's START yet (a forwarded
	 * command's result came first): it still shows the old owner, or no
	 * SYNCQ at all; nothing is decided */
	st.img.owner = 2;
	sq.rinst = 3;
	assert_int_equal(chcore_rcv_fenced(1, 4, &sq, &st), CHFENCE_NONE);
	assert_int_equal(chcore_rcv_fenced(1, 4, &sq, NULL), CHFENCE_NONE);
	assert_int_equal(chcore_rcv_fenced(1, 4, NULL, NULL), CHFENCE_NONE);
}

/* RQMNAME: the partner that answers must be the one recorded. */
static void test_sdr_partner(void **state)
{
	(void)state;
	char err[QSG_ERRMSG_SIZE] = "";
	assert_int_equal(chcore_sdr_partner("TO.B", "", "QMB", 0, err), QSG_OK);
	assert_int_equal(chcore_sdr_partner("TO.B", "QMB", "QMB", 0, err), QSG_OK);
	assert_int_equal(chcore_sdr_partner("TO.B", "QMB", "QMC", 0, err), QSG_RC_Q_MGR_NAME_ERROR);
	assert_non_null(strstr(err, "QMC"));
	assert_non_null(strstr(err, "QMB"));
	assert_non_null(strstr(err, "TO.B"));
	/* RESET CHANNEL pending: any partner */
	assert_int_equal(chcore_sdr_partner("TO.B", "QMB", "QMC", 7, err), QSG_OK);
}

static void test_rcv_seq(void **state)
{
	(void)state;
	struct chcore_rcvseq q;
	memset(&q, 0, sizeof q);
	chcore_rcv_started(&q, 10);
	assert_int_equal(q.expect, 11);
	assert_int_equal(chcore_rcv_msg(&q, 11), CHSEQ_ACCEPT);
	assert_int_equal(chcore_rcv_msg(&q, 12), CHSEQ_ACCEPT);
	assert_int_equal(chcore_rcv_msg(&q, 14), CHSEQ_MISMATCH);
	assert_int_equal(q.expect, 13);
	/* refused batch 13..15: later frames ignored until 13 comes again */
	chcore_rcv_refused(&q, 13);
	assert_int_equal(chcore_rcv_msg(&q, 16), CHSEQ_IGNORE);
	assert_int_equal(chcore_rcv_msg(&q, 17), CHSEQ_IGNORE);
	assert_int_equal(chcore_rcv_msg(&q, 13), CHSEQ_ACCEPT);
	assert_false(q.skip);
	assert_int_equal(chcore_rcv_msg(&q, 15), CHSEQ_MISMATCH);
}

static void test_chp_is_start(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	struct chp_start m;
	qsg_wbuf_init(&w);
	memset(&m, 0, sizeof m);
	m.chver = CHP_VERSION;
	snprintf(m.channel, sizeof m.channel, "CH");
	snprintf(m.sender_qmgr, sizeof m.sender_qmgr, "QM");
	chp_start_encode(&w, 1, &m);
	assert_true(chp_is_start(w.data, w.len));
	assert_false(chp_is_start(w.data, 5));
	qsg_wbuf_reset(&w);
	chp_hb_encode(&w, 0);
	assert_false(chp_is_start(w.data, w.len));
	qsg_wbuf_close(&w);
}

/* The initiator's own state: STOP wins over a failure, a failure over
 * fencing; only RUNNING runs instances. */
static void test_chinit_status(void **state)
{
	(void)state;
	assert_int_equal(chcore_chinit_status(true, false, false), CHINIT_ST_RUNNING);
	assert_int_equal(chcore_chinit_status(false, false, false), CHINIT_ST_STOPPED);
	assert_int_equal(chcore_chinit_status(false, true, true), CHINIT_ST_STOPPED);
	assert_int_equal(chcore_chinit_status(true, true, false), CHINIT_ST_FAILED);
	assert_int_equal(chcore_chinit_status(true, true, true), CHINIT_ST_FAILED);
	assert_int_equal(chcore_chinit_status(true, false, true), CHINIT_ST_FENCED);
	assert_string_equal(chcore_chinit_status_name(CHINIT_ST_FAILED), "FAILED");
	assert_string_equal(chcore_chinit_status_name(CHINIT_ST_FENCED), "FENCED");
	assert_string_equal(chcore_chinit_status_name(CHINIT_ST_RUNNING), "RUNNING");
	assert_string_equal(chcore_chinit_status_name(CHINIT_ST_STOPPED), "STOPPED");
}

/* Restart delay: 5 s, doubled while it keeps failing soon after restarting,
 * capped at 60 s, back to 5 s after a stable minute. */
/* Destination black list: the disposition of a refused message, and when
 * a listed destination is due for a retry alone. */
static void test_blk_due(void **state)
{
	(void)state;
	assert_int_equal(chcore_refusal_action(true, true), FSM_DISP_LIST_DLQ);
	assert_int_equal(chcore_refusal_action(false, true), FSM_DISP_LIST);
	/* Below the black list's command level: as before the list. */
	assert_int_equal(chcore_refusal_action(true, false), FSM_DISP_DLQ);
	assert_int_equal(chcore_refusal_action(false, false), FSM_DISP_HOLD);
	struct fsm_chstatus st;
	memset(&st, 0, sizeof st);
	assert_false(chcore_blk_due(&st, 1000));
	st.nblk = 2;
	st.blk[0].retry_at_ms = 500;
	st.blk[0].retry_seq = 7; /* out alone: not due */
	st.blk[1].retry_at_ms = 1001;
	assert_false(chcore_blk_due(&st, 1000));
	assert_true(chcore_blk_due(&st, 1001));
	st.blk[0].retry_seq = 0;
	assert_true(chcore_blk_due(&st, 1000));
	assert_false(chcore_blk_due(&st, 499));
	/* A count beyond the array is not trusted. */
	st.nblk = 1000;
	assert_true(chcore_blk_due(&st, 1000));
}

static void test_chinit_restart_delay(void **state)
{
	(void)state;
	assert_int_equal(chcore_chinit_restart_delay(0, 0), CHINIT_RESTART_MS);
	assert_int_equal(chcore_chinit_restart_delay(0, 999999), CHINIT_RESTART_MS);
	unsigned d = CHINIT_RESTART_MS;
	d = chcore_chinit_restart_delay(d, 1000);
	assert_int_equal(d, 2 * CHINIT_RESTART_MS);
	for (int i = 0; i < 10; i++)
		d = chcore_chinit_restart_delay(d, 1000);
	assert_int_equal(d, CHINIT_RESTART_MAX_MS);
	assert_int_equal(chcore_chinit_restart_delay(d, CHINIT_STABLE_MS), CHINIT_RESTART_MS);
	assert_int_equal(chcore_chinit_restart_delay(d, CHINIT_STABLE_MS - 1),
			 CHINIT_RESTART_MAX_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pick_least_loaded),
	    cmocka_unit_test(test_pick_needs_active_chinit),
	    cmocka_unit_test(test_pick_avoids_leader),
	    cmocka_unit_test(test_pick_exclude),
	    cmocka_unit_test(test_pick_ties),
	    cmocka_unit_test(test_rec_stopped_stays),
	    cmocka_unit_test(test_rec_start_local),
	    cmocka_unit_test(test_rec_restart_ended),
	    cmocka_unit_test(test_rec_ours_no_instance),
	    cmocka_unit_test(test_rec_recovering),
	    cmocka_unit_test(test_rec_peer),
	    cmocka_unit_test(test_rec_inbound),
	    cmocka_unit_test(test_rec_private_peer_never),
	    cmocka_unit_test(test_rec_private_own_member),
	    cmocka_unit_test(test_sdr_start),
	    cmocka_unit_test(test_pipe_resolve),
	    cmocka_unit_test(test_pipe_confirm),
	    cmocka_unit_test(test_pipe_refused),
	    cmocka_unit_test(test_rec_retry_wait),
	    cmocka_unit_test(test_retry_target),
	    cmocka_unit_test(test_conname_split),
	    cmocka_unit_test(test_attempt_rotates),
	    cmocka_unit_test(test_attempt_reasons_move_on),
	    cmocka_unit_test(test_attempt_wraps),
	    cmocka_unit_test(test_attempt_pref),
	    cmocka_unit_test(test_rcv_accept),
	    cmocka_unit_test(test_rcv_fenced),
	    cmocka_unit_test(test_sdr_partner),
	    cmocka_unit_test(test_rcv_seq),
	    cmocka_unit_test(test_chp_is_start),
	    cmocka_unit_test(test_chinit_status),
	    cmocka_unit_test(test_chinit_restart_delay),
	    cmocka_unit_test(test_blk_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
