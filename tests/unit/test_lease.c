/* Unit tests of src/qsgd/lease.c on a real libuv loop with short timings
 * (renew 10 ms, lease 100 ms): join and renewal scheduling, fencing when
 * renewals cannot commit, the leader's failure detection of another
 * member after expiry + grace, and its continuation of bounded backouts
 * (after a failure, a join, a removal, from a new leader's first tick),
 * the fallback to MEMBER_JOIN/REMOVE when an older leader refuses the
 * bounded forms (a rolling upgrade), the report of its command level.
 * Submissions, raft-glue and the
 * listeners are faked (qsgd_fake.h); the state machine is real. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qsgd/lease.h"
#include "qsgd_fake.h"

#define RENEW 10
#define LEASE 100

static void start(struct fake *fk, struct lease **l, uint8_t role)
{
	char errmsg[QSG_ERRMSG_SIZE];
	fake_init(fk, 3, 1, 0);
	fk->cfg.renew_ms = RENEW;
	fk->cfg.lease_ms = LEASE;
	fk->cfg.expire_interval_ms = 100000;
	fk->info.role = role;
	fk->info.leader_id = role == GLUE_LEADER ? 1 : 2;
	fk->leader = role == GLUE_LEADER;
	for (unsigned i = 0; i < 3; i++) {
		fk->voters[i].id = i + 1;
		fk->voters[i].role = GLUE_VOTER;
	}
	fk->nvoters = 3;
	assert_int_equal(lease_init(l, &fk->d, errmsg), QSG_OK);
}

static void stop(struct fake *fk, struct lease *l)
{
	lease_close(l);
	fake_close(fk);
}

static size_t count_op(const struct fake *fk, uint8_t op)
{
	size_t n = 0;
	for (size_t i = 0; i < fk->ncmds; i++)
		if (fk->cmds[i].cmd.op == op)
			n++;
	return n;
}

/* The index of the first command submitted with op (there must be one). */
static size_t first_op(const struct fake *fk, uint8_t op)
{
	for (size_t i = 0; i < fk->ncmds; i++)
		if (fk->cmds[i].cmd.op == op)
			return i;
	fail_msg("no command with op %u", op);
	return 0;
}

/* Apply every command still unanswered (as the group would). */
static void answer_all(struct fake *fk)
{
	for (size_t i = 0; i < fk->ncmds; i++)
		if (!fk->cmds[i].done)
			fake_cmd_apply(fk, i);
}

/* Apply the unanswered commands of op submitted so far (not those their
 * answers submit). */
static void answer_op(struct fake *fk, uint8_t op)
{
	size_t n = fk->ncmds;
	for (size_t i = 0; i < n; i++)
		if (!fk->cmds[i].done && fk->cmds[i].cmd.op == op)
			fake_cmd_apply(fk, i);
}

/* Run n renewal periods, applying every command at each tick. */
static void answer_rounds(struct fake *fk, int n)
{
	for (int k = 0; k < n; k++) {
		fake_run_ms(fk, RENEW);
		answer_all(fk);
	}
}

/* The replica's row of member id (it must have one). */
static struct fsm_member member_of(struct fake *fk, uint32_t id)
{
	struct fsm_member m;
	assert_int_equal(fsm_member_get(fk->d.fsm, id, &m), QSG_OK);
	return m;
}

static void join_then_renew(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_FOLLOWER);
	assert_true(lease_fenced(l)); /* until the first acknowledgement */
	lease_start(l);
	assert_int_equal(fk.fenced, 1); /* clients only: channels untouched */
	assert_false(fk.fence_channels);
	fake_run_ms(&fk, 3 * RENEW);
	/* one MEMBER_JOIN_BOUNDED in flight, not repeated while it is */
	assert_int_equal(fk.ncmds, 1);
	assert_int_equal(fk.cmds[0].cmd.op, FSM_OP_MEMBER_JOIN_BOUNDED);
	assert_int_equal(fk.cmds[0].cmd.member_id, 1);
	assert_int_equal(fk.cmds[0].cmd.seq, LEASE);
	assert_string_equal(fk.cmds[0].cmd.name, "QM1");
	assert_string_equal(fk.cmds[0].cmd.client_addr, fk.cfg.listen);
	fake_cmd_apply(&fk, 0);
	assert_false(lease_fenced(l));
	assert_int_equal(fk.fenced, 0);
	assert_true(fk.fence_channels);
	/* then a renewal every renew_ms, with this member's Raft statistics */
	fk.info.term = 7;
	fk.info.commit_index = 42;
	answer_rounds(&fk, 10);
	size_t renewals = count_op(&fk, FSM_OP_LEASE_RENEW);
	assert_true(renewals >= 5 && renewals <= 12);
	struct fake_cmd *last = &fk.cmds[fk.ncmds - 1];
	assert_int_equal(last->cmd.op, FSM_OP_LEASE_RENEW);
	assert_int_equal(last->cmd.member_id, 1);
	assert_int_equal(last->cmd.stats.term, 7);
	assert_int_equal(last->cmd.stats.commit_index, 42);
	assert_int_equal(last->cmd.stats.role, GLUE_FOLLOWER);
	assert_false(lease_fenced(l));
	assert_int_equal(fk.fence_calls, 2);
	assert_int_equal(member_of(&fk, 1).state, FSM_MEMBER_ACTIVE);
	stop(&fk, l);
}

/* No leader known: nothing is submitted. */
static void no_leader_no_renewal(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_FOLLOWER);
	fk.info.leader_id = 0;
	lease_start(l);
	fake_run_ms(&fk, 5 * RENEW);
	assert_int_equal(fk.ncmds, 0);
	assert_true(lease_fenced(l));
	stop(&fk, l);
}

/* Renewals that do not commit: at most 4 in flight, and the member fences
 * itself lease_ms - renew_ms after the send of the last acknowledged one;
 * a renewal acknowledged later lifts the fence. */
static void fence_when_renewals_stall(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_FOLLOWER);
	lease_start(l);
	fake_run_ms(&fk, 1);
	assert_int_equal(fk.ncmds, 1);
	uint64_t acked_send = uv_now(&fk.loop);
	fake_cmd_apply(&fk, 0);
	assert_false(lease_fenced(l));
	/* stall: nothing is answered */
	fake_run_ms(&fk, (LEASE - RENEW) / 2);
	assert_false(lease_fenced(l));
	fake_run_ms(&fk, LEASE);
	assert_true(lease_fenced(l));
	assert_true(uv_now(&fk.loop) - acked_send >= LEASE - RENEW);
	assert_int_equal(fk.fenced, 1);
	assert_true(fk.fence_channels); /* the channel initiator stops too */
	assert_int_equal(count_op(&fk, FSM_OP_LEASE_RENEW), 4);
	/* The stalled renewals commit late: too old to extend the lease. */
	answer_all(&fk);
	assert_true(lease_fenced(l));
	/* A fresh renewal commits promptly: active again. */
	fake_run_ms(&fk, 2 * RENEW);
	answer_all(&fk);
	assert_false(lease_fenced(l));
	assert_int_equal(fk.fenced, 0);
	stop(&fk, l);
}

/* A member that sees in its replica that it was declared failed, after the
 * replica showed one of its renewals sent since its join, joins again. A
 * FAILED seen before that may be replayed history: its renewal in flight
 * revives it instead. */
static void refused_renewal_rejoins(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_FOLLOWER);
	lease_start(l);
	fake_run_ms(&fk, 1);
	fake_cmd_apply(&fk, 0); /* joined */
	fake_run_ms(&fk, RENEW + 2);
	assert_int_equal(fk.cmds[fk.ncmds - 1].cmd.op, FSM_OP_LEASE_RENEW);
	/* the leader declares us failed before the renewal applies */
	struct fsm_member m = member_of(&fk, 1);
	struct fsm_cmd fail;
	memset(&fail, 0, sizeof fail);
	fail.op = FSM_OP_MEMBER_FAIL;
	fail.member_id = 1;
	fail.seq = (uint64_t)m.lease_expiry_ms;
	fk.now = m.lease_expiry_ms + 1; /* leader time past the expiry */
	assert_int_equal(fake_apply(&fk, &fail), QSG_OK);
	assert_int_equal(member_of(&fk, 1).state, FSM_MEMBER_FAILED);
	/* Before any renewal sent after the join shows in the replica, a
	 * FAILED may be an old one (replayed): no join. The renewal then
	 * applies and makes the member ACTIVE again. */
	size_t before = count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), before);
	for (size_t i = 0; i < fk.ncmds; i++)
		if (!fk.cmds[i].done)
			fake_cmd_apply(&fk, i);
	assert_int_equal(member_of(&fk, 1).state, FSM_MEMBER_ACTIVE);
	fake_run_ms(&fk, RENEW);
	/* A failure now is a real one: rejoin. */
	m = member_of(&fk, 1);
	fail.seq = (uint64_t)m.lease_expiry_ms;
	fk.now = m.lease_expiry_ms + 1;
	assert_int_equal(fake_apply(&fk, &fail), QSG_OK);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), before + 1);
	stop(&fk, l);
}

/* Answer command i as the group would while this member's replica lags:
 * applied on `other` (the leader's replica), not on fk's. */
static void answer_elsewhere(struct fake *fk, struct fsm *other, size_t i)
{
	struct fake_cmd *c = &fk->cmds[i];
	struct qsg_wbuf e, res;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&res);
	fsm_entry_begin(&e, fsm_last_time(other) + 1);
	fsm_entry_add(&e, c->enc, c->len);
	assert_int_equal(fsm_apply(other, e.data, e.len, &res, errmsg), QSG_OK);
	assert_true(res.len >= 4);
	c->done = true;
	c->cb(c->arg, QSG_OK, res.data + 4, res.len - 4);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&res);
}

static void declare_failed_here(struct fake *fk)
{
	struct fsm_member m;
	assert_int_equal(fsm_member_get(fk->d.fsm, 1, &m), QSG_OK);
	struct fsm_cmd fail;
	memset(&fail, 0, sizeof fail);
	fail.op = FSM_OP_MEMBER_FAIL;
	fail.member_id = 1;
	fail.seq = (uint64_t)m.lease_expiry_ms;
	fk->now = m.lease_expiry_ms + 1;
	assert_int_equal(fake_apply(fk, &fail), QSG_OK);
}

/* The replica applies this member's latest renewal (sent by the lease, in
 * an entry stamped `at`, which the state machine holds at or after the
 * last entry's time). */
static void renewal_applied_here(struct fake *fk, int64_t at)
{
	size_t i = fk->ncmds;
	while (i > 0 && fk->cmds[i - 1].cmd.op != FSM_OP_LEASE_RENEW)
		i--;
	assert_true(i > 0);
	fk->now = at;
	assert_int_equal(fake_apply(fk, &fk->cmds[i - 1].cmd), QSG_OK);
}

/* A member whose replica lags (catching up after a restart, or deferring
 * applies) still shows itself FAILED after its new MEMBER_JOIN was applied
 * by the group: it must not join again on every tick (each join detaches
 * its sessions: a join storm). Once its replica shows it ACTIVE, a later
 * failure makes it rejoin as before. */
static void lagging_replica_no_join_storm(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	struct fsm *leader;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&leader, errmsg), QSG_OK);
	start(&fk, &l, GLUE_FOLLOWER);
	lease_start(l);
	fake_run_ms(&fk, 1);
	assert_int_equal(fk.cmds[0].cmd.op, FSM_OP_MEMBER_JOIN_BOUNDED);
	answer_elsewhere(&fk, leader, 0);
	struct fsm_cmd join = fk.cmds[0].cmd;
	fk.now = qsgd_wall_ms() + 1; /* the join's entry: after it was sent */
	assert_int_equal(fake_apply(&fk, &join), QSG_OK); /* the replica applies it too */
	fake_run_ms(&fk, 2 * RENEW);
	renewal_applied_here(&fk, qsgd_wall_ms());
	fake_run_ms(&fk, 2 * RENEW);
	/* failed here after the join was seen: rejoin once */
	declare_failed_here(&fk);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 2);
	for (size_t i = 0; i < fk.ncmds; i++)
		if (!fk.cmds[i].done)
			answer_elsewhere(&fk, leader, i); /* the join is acknowledged */
	for (int k = 0; k < 10; k++) {
		fake_run_ms(&fk, RENEW);
		for (size_t i = 0; i < fk.ncmds; i++)
			if (!fk.cmds[i].done)
				answer_elsewhere(&fk, leader, i);
	}
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 2);
	assert_true(count_op(&fk, FSM_OP_LEASE_RENEW) >= 5);
	assert_false(lease_fenced(l));
	/* The replica catches up with the join: ACTIVE. A failure after that
	 * is a real one: rejoin. */
	join = fk.cmds[0].cmd;
	fk.now = qsgd_wall_ms() + 1;
	assert_int_equal(fake_apply(&fk, &join), QSG_OK);
	renewal_applied_here(&fk, qsgd_wall_ms());
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 2);
	declare_failed_here(&fk);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 3);
	stop(&fk, l);
	fsm_close(leader);
}

/* A restarted member replays the log from before its failure: its replica
 * shows it ACTIVE (an old renewal), then FAILED (the old MEMBER_FAIL), and
 * only then its new join. The old ACTIVE must not arm the rejoin, or the
 * old FAILED after it makes the member join again and detach its new
 * sessions (found by test_large under ASan: a consumer got a message twice).
 * `skew`: the group's entry times minus this member's wall clock. No clock
 * may decide: after a leader whose clock ran a day ahead, every entry is
 * stamped a day ahead (the leaders keep entry times monotonic); a member
 * whose clock runs ahead sees every renewal stamped before its join. */
static void replay_old_active(int64_t skew)
{
	struct fake fk;
	struct lease *l;
	struct fsm *leader;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&leader, errmsg), QSG_OK);
	start(&fk, &l, GLUE_FOLLOWER);
	/* The replica, restored from before the restart: this member ACTIVE
	 * with a renewal from before its failure. */
	struct fsm_cmd old = {.op = FSM_OP_MEMBER_JOIN, .member_id = 1, .seq = LEASE};
	snprintf(old.name, sizeof old.name, "QM1");
	fk.now = qsgd_wall_ms() + skew - 5000;
	assert_int_equal(fake_apply(&fk, &old), QSG_OK);
	struct fsm_cmd renew = {.op = FSM_OP_LEASE_RENEW, .member_id = 1, .seq = LEASE};
	renew.stats.role = 1;
	renew.stats.term = 2;
	assert_int_equal(fake_apply(&fk, &renew), QSG_OK); /* the old process's */
	lease_start(l);
	fake_run_ms(&fk, 1);
	assert_int_equal(fk.cmds[0].cmd.op, FSM_OP_MEMBER_JOIN_BOUNDED);
	answer_elsewhere(&fk, leader, 0); /* joined; the replica still lags */
	fake_run_ms(&fk, 2 * RENEW); /* it sees the old ACTIVE */
	declare_failed_here(&fk); /* the old MEMBER_FAIL is replayed */
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 1);
	/* Then the new join and a renewal sent after it: ACTIVE. A failure
	 * after that is a real one: rejoin. */
	struct fsm_cmd join = fk.cmds[0].cmd;
	fk.now = qsgd_wall_ms() + skew;
	assert_int_equal(fake_apply(&fk, &join), QSG_OK);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 1);
	renewal_applied_here(&fk, qsgd_wall_ms() + skew);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 1);
	declare_failed_here(&fk);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 2);
	stop(&fk, l);
	fsm_close(leader);
}

static void replayed_old_active_no_rejoin(void **state)
{
	(void)state;
	replay_old_active(0);
}

/* The group's time a day ahead of this member's clock (jepsen clock-skew of
 * the leader: the old ACTIVE's renewal looked newer than the join). */
static void replayed_old_active_leader_ahead(void **state)
{
	(void)state;
	replay_old_active(86400000);
}

/* This member's clock 30 s ahead of the group's (jepsen clock-skew of a
 * follower: no renewal looked newer than its join, so a real failure never
 * made it rejoin). */
static void replayed_old_active_member_ahead(void **state)
{
	(void)state;
	replay_old_active(-30000);
}

static void join_member(struct fake *fk, uint32_t id, int64_t at)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_JOIN;
	c.member_id = id;
	c.seq = LEASE;
	snprintf(c.name, sizeof c.name, "QM%u", id);
	snprintf(c.raft_addr, sizeof c.raft_addr, "127.0.0.1:%u", 7000 + id);
	snprintf(c.client_addr, sizeof c.client_addr, "127.0.0.1:%u", 1400 + id);
	fk->now = at;
	assert_int_equal(fake_apply(fk, &c), QSG_OK);
}

/* After a leader whose clock ran a day ahead, every entry time is a day
 * ahead (leaders never stamp back). A member that stops renewing must still
 * be declared failed about a lease later (gtime.h: the group's time runs
 * on from the log's last time); with entry times taken as max(wall, last)
 * the expiry never came. */
static void detects_failure_after_leader_ahead(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	int64_t ahead = qsgd_wall_ms() + 86400000;
	join_member(&fk, 2, ahead); /* the last entry: a day ahead */
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	lease_start(l);
	fake_run_ms(&fk, LEASE / 2);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 0);
	fake_run_ms(&fk, 2 * LEASE);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 1);
	size_t i = first_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED);
	assert_int_equal(fk.cmds[i].cmd.member_id, 2);
	stop(&fk, l);
}

/* The leader declares a member whose lease expired failed
 * (MEMBER_FAIL_BOUNDED with the expiry it saw), not during the first lease_ms of its leadership,
 * once while in flight; live members are left alone. */
static void leader_detects_failure(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	int64_t now = qsgd_wall_ms();
	join_member(&fk, 2, now - 10000); /* expired long ago */
	join_member(&fk, 3, now + 100000); /* far in the future */
	struct fsm_member m2;
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m2), QSG_OK);
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	uint64_t leader_since = uv_now(&fk.loop);
	lease_start(l);
	fake_run_ms(&fk, LEASE / 2);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 0); /* grace */
	fake_run_ms(&fk, LEASE);
	assert_true(uv_now(&fk.loop) - leader_since >= LEASE);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 1); /* once */
	size_t i;
	i = first_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED);
	assert_int_equal(fk.cmds[i].cmd.member_id, 2);
	assert_int_equal(fk.cmds[i].cmd.seq, (uint64_t)m2.lease_expiry_ms);
	fk.now = qsgd_wall_ms();
	fake_cmd_apply(&fk, i);
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m2), QSG_OK);
	assert_int_equal(m2.state, FSM_MEMBER_FAILED);
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 1);
	/* a failed member that left the Raft configuration is forgotten */
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 0);
	fk.voters[1] = fk.voters[2];
	fk.nvoters = 2;
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE), 0);
	i = first_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED);
	assert_int_equal(fk.cmds[i].cmd.member_id, 2);
	fake_cmd_apply(&fk, i);
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m2), QSG_RC_UNKNOWN_OBJECT);
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 1);
	stop(&fk, l);
}

/* Once every member in the table applies level 4, a forgotten member is
 * removed with MEMBER_REMOVE_QMGR (op 58: its private channels go too,
 * docs/channels.md "Private channels"); below, MEMBER_REMOVE_BOUNDED (the
 * test above). */
static void remove_at_level_4(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	int64_t now = qsgd_wall_ms();
	join_member(&fk, 2, now + 100000);
	join_member(&fk, 3, now + 100000);
	for (uint32_t id = 2; id <= 3; id++) {
		struct fsm_cmd c = {.op = FSM_OP_MEMBER_LEVEL, .member_id = id, .seq = 4};
		assert_int_equal(fake_apply(&fk, &c), QSG_OK);
	}
	assert_int_equal(fsm_group_cmdlevel(fk.d.fsm), 4);
	struct fsm_member m2;
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m2), QSG_OK);
	struct fsm_cmd f = {
	    .op = FSM_OP_MEMBER_FAIL, .member_id = 2, .seq = (uint64_t)m2.lease_expiry_ms};
	assert_int_equal(fake_apply(&fk, &f), QSG_OK);
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	lease_start(l);
	fk.voters[1] = fk.voters[2]; /* 2 left the Raft configuration */
	fk.nvoters = 2;
	fake_run_ms(&fk, LEASE + 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_QMGR), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 0);
	size_t i = first_op(&fk, FSM_OP_MEMBER_REMOVE_QMGR);
	assert_int_equal(fk.cmds[i].cmd.member_id, 2);
	fake_cmd_apply(&fk, i);
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m2), QSG_RC_UNKNOWN_OBJECT);
	stop(&fk, l);
}

/* Define queue `name` (maxdepth 0: the default) and attach a session of
 * client `client` on member `member`. */
static void define_attach(struct fake *fk, const char *name, uint32_t maxdepth, uint64_t client,
			  uint32_t member)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_QDEFINE;
	strcpy(c.attrs.name, name);
	if (maxdepth != 0) {
		c.attrs.maxdepth = maxdepth;
		c.attrs.set = FSM_QA_MAXDEPTH;
	}
	assert_int_equal(fake_apply(fk, &c), QSG_OK);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_ATTACH;
	c.client_id = client;
	c.member_id = member;
	assert_int_equal(fake_apply(fk, &c), QSG_OK);
}

/* The leader continues the backout of a failed member's units of work with
 * BACKOUT_PENDING, one in flight at a time, until nothing is pending. */
static void leader_continues_backout(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	int64_t now = qsgd_wall_ms();
	join_member(&fk, 2, now - 10000); /* expired long ago */
	struct fsm_cmd c;
	define_attach(&fk, "Q", 0, 77, 2);
	const unsigned n = FSM_BACKOUT_BUDGET * 2 + 10;
	for (unsigned i = 0; i < n; i++) {
		memset(&c, 0, sizeof c);
		c.op = FSM_OP_PUT;
		c.client_id = 77;
		c.epoch = 1;
		c.seq = i + 1;
		c.flags = FSM_F_SYNCPOINT;
		strcpy(c.queue, "Q");
		c.msg.body.p = (const uint8_t *)"x";
		c.msg.body.len = 1;
		assert_int_equal(fake_apply(&fk, &c), QSG_OK);
	}
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	lease_start(l);
	fake_run_ms(&fk, LEASE + 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 1);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 0);
	fk.now = qsgd_wall_ms();
	answer_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED);
	assert_int_equal(fsm_backout_pending(fk.d.fsm), n - FSM_BACKOUT_BUDGET);
	/* The answer to MEMBER_FAIL_BOUNDED sent the first follow-up; each
	 * answer sends the next one, never two at once (not on a tick). */
	for (unsigned k = 1; k <= 2; k++) {
		assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), k);
		fake_run_ms(&fk, 2 * RENEW);
		assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), k);
		answer_op(&fk, FSM_OP_BACKOUT_PENDING);
	}
	assert_int_equal(fsm_backout_pending(fk.d.fsm), 0);
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 2);
	stop(&fk, l);
}

/* n puts under syncpoint by session (client, epoch 1) on queue q. */
static void held_puts(struct fake *fk, const char *q, uint64_t client, unsigned n)
{
	struct fsm_cmd c;
	for (unsigned i = 0; i < n; i++) {
		memset(&c, 0, sizeof c);
		c.op = FSM_OP_PUT;
		c.client_id = client;
		c.epoch = 1;
		c.seq = i + 1;
		c.flags = FSM_F_SYNCPOINT;
		snprintf(c.queue, sizeof c.queue, "%s", q);
		c.msg.body.p = (const uint8_t *)"x";
		c.msg.body.len = 1;
		assert_int_equal(fake_apply(fk, &c), QSG_OK);
	}
}

/* A restarted member joins with MEMBER_JOIN_BOUNDED: its old sessions'
 * backout goes on in BACKOUT_PENDING commands. When the leader itself
 * joined, the answer to its join sends the first at once (no grace); after
 * another member's join, the leader's tick does. */
static void leader_continues_join_backout(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	const unsigned n = FSM_BACKOUT_BUDGET + 10;
	define_attach(&fk, "Q", 0, 77, 1); /* this member's, before its restart */
	held_puts(&fk, "Q", 77, n);
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	lease_start(l);
	fake_run_ms(&fk, 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN), 0);
	fk.now = qsgd_wall_ms();
	answer_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED);
	assert_int_equal(fsm_backout_pending(fk.d.fsm), n - FSM_BACKOUT_BUDGET);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 1);
	answer_op(&fk, FSM_OP_BACKOUT_PENDING);
	assert_int_equal(fsm_backout_pending(fk.d.fsm), 0);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 1);

	/* Member 2 restarted and joined (its join went through another
	 * member's submission): the leader's next tick. */
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_ATTACH;
	c.client_id = 78;
	c.member_id = 2;
	assert_int_equal(fake_apply(&fk, &c), QSG_OK);
	held_puts(&fk, "Q", 78, n);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_JOIN_BOUNDED;
	c.member_id = 2;
	c.seq = 100000; /* its lease does not run out here */
	assert_int_equal(fake_apply(&fk, &c), QSG_OK);
	assert_int_equal(fsm_backout_pending(fk.d.fsm), n - FSM_BACKOUT_BUDGET);
	fake_run_ms(&fk, LEASE + 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 2);
	answer_op(&fk, FSM_OP_BACKOUT_PENDING);
	assert_int_equal(fsm_backout_pending(fk.d.fsm), 0);
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 2);
	stop(&fk, l);
}

/* MEMBER_REMOVE_BOUNDED of a member whose sessions hold more than the
 * budget (attached after it was declared failed) backs out one budget and
 * waits: the leader continues with BACKOUT_PENDING at once, sends no
 * REMOVE while a backout is pending, and the next tick after it is done
 * forgets the member. */
static void leader_remove_waits_for_backout(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	int64_t now = qsgd_wall_ms();
	join_member(&fk, 2, now - 10000); /* expired long ago */
	struct fsm_member m2;
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m2), QSG_OK);
	struct fsm_cmd fail;
	memset(&fail, 0, sizeof fail);
	fail.op = FSM_OP_MEMBER_FAIL;
	fail.member_id = 2;
	fail.seq = (uint64_t)m2.lease_expiry_ms;
	fk.now = now;
	assert_int_equal(fake_apply(&fk, &fail), QSG_OK);
	const unsigned n = 2 * FSM_BACKOUT_BUDGET + 10;
	define_attach(&fk, "Q", 0, 77, 2);
	held_puts(&fk, "Q", 77, n);
	fk.voters[1] = fk.voters[2]; /* REMOVE MEMBER took it out */
	fk.nvoters = 2;
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	lease_start(l);
	fake_run_ms(&fk, LEASE + 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 0);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 1);
	answer_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED);
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m2), QSG_OK); /* waits */
	assert_int_equal(fsm_backout_pending(fk.d.fsm), n - FSM_BACKOUT_BUDGET);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 1); /* at once */
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 1);
	answer_op(&fk, FSM_OP_BACKOUT_PENDING);
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 2);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 1);
	answer_op(&fk, FSM_OP_BACKOUT_PENDING);
	assert_int_equal(fsm_backout_pending(fk.d.fsm), 0);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 2);
	answer_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED);
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m2), QSG_RC_UNKNOWN_OBJECT);
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 2);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE), 0);
	stop(&fk, l);
}

/* A rolling upgrade (docs/lifecycle.md): an upgraded follower forwards its
 * MEMBER_JOIN_BOUNDED to a leader of the older build, which cannot decode
 * op 49 (QSG_RC_UNKNOWN_OP, or QSG_RC_BAD_FRAME). The member sends
 * MEMBER_JOIN (op 40) from then on, and joins. Another failure (no leader,
 * outcome unknown) does not make it fall back. */
static void join_refused(int refusal)
{
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_FOLLOWER);
	lease_start(l);
	fake_run_ms(&fk, 1);
	assert_int_equal(fk.ncmds, 1);
	assert_int_equal(fk.cmds[0].cmd.op, FSM_OP_MEMBER_JOIN_BOUNDED);
	fake_cmd_fail(&fk, 0, QSG_RC_OUTCOME_UNKNOWN);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(fk.ncmds, 2);
	assert_int_equal(fk.cmds[1].cmd.op, FSM_OP_MEMBER_JOIN_BOUNDED);
	fake_cmd_fail(&fk, 1, refusal); /* the old leader's answer */
	assert_true(lease_fenced(l));
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(fk.ncmds, 3);
	assert_int_equal(fk.cmds[2].cmd.op, FSM_OP_MEMBER_JOIN);
	assert_int_equal(fk.cmds[2].cmd.member_id, 1);
	assert_int_equal(fk.cmds[2].cmd.seq, LEASE);
	assert_string_equal(fk.cmds[2].cmd.name, "QM1");
	assert_string_equal(fk.cmds[2].cmd.client_addr, fk.cfg.listen);
	fake_cmd_apply(&fk, 2);
	assert_false(lease_fenced(l));
	assert_int_equal(member_of(&fk, 1).state, FSM_MEMBER_ACTIVE);
	answer_rounds(&fk, 5);
	assert_true(count_op(&fk, FSM_OP_LEASE_RENEW) >= 2);
	/* Declared failed later: it rejoins with op 40 again (the flag lasts
	 * for the process's life). */
	declare_failed_here(&fk);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN), 2);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 2);
	stop(&fk, l);
}

/* Command levels (docs/lifecycle.md): once the replica shows the member
 * active after its join, it reports its build's level with MEMBER_LEVEL,
 * once (one in flight, not again while the replica shows it); a join
 * (restart, or declared failed) makes it report again. */
static void reports_level(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_FOLLOWER);
	lease_start(l);
	fake_run_ms(&fk, 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_LEVEL), 0); /* not before the join */
	answer_all(&fk);
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_LEVEL), 1); /* one in flight */
	size_t i = first_op(&fk, FSM_OP_MEMBER_LEVEL);
	assert_int_equal(fk.cmds[i].cmd.member_id, 1);
	assert_int_equal(fk.cmds[i].cmd.seq, FSM_CMDLEVEL);
	answer_rounds(&fk, 5);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_LEVEL), 1); /* recorded: not again */
	assert_int_equal(member_of(&fk, 1).cmdlevel, FSM_CMDLEVEL);
	declare_failed_here(&fk);
	answer_rounds(&fk, 5);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_LEVEL), 2); /* after the rejoin */
	assert_int_equal(member_of(&fk, 1).cmdlevel, FSM_CMDLEVEL);
	stop(&fk, l);
}

/* A leader of an older build refuses MEMBER_LEVEL: asked again only after
 * LEVEL_RETRY_MS (10 s), not at every tick. */
static void level_refused_waits(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_FOLLOWER);
	lease_start(l);
	fake_run_ms(&fk, 1);
	answer_all(&fk);
	fake_run_ms(&fk, 2 * RENEW);
	size_t i = first_op(&fk, FSM_OP_MEMBER_LEVEL);
	fake_cmd_fail(&fk, i, QSG_RC_UNKNOWN_OP);
	for (int k = 0; k < 20; k++) {
		fake_run_ms(&fk, RENEW);
		answer_op(&fk, FSM_OP_LEASE_RENEW);
	}
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_LEVEL), 1);
	assert_false(lease_fenced(l)); /* the rest goes on */
	stop(&fk, l);
}

static void old_leader_join_unknown_op(void **state)
{
	(void)state;
	join_refused(QSG_RC_UNKNOWN_OP);
}

static void old_leader_join_bad_frame(void **state)
{
	(void)state;
	join_refused(QSG_RC_BAD_FRAME);
}

/* The leader of the group fails member 2 (its lease ran out long ago) with
 * MEMBER_FAIL; then 2 leaves the Raft configuration. */
static void failed_and_removed(struct fake *fk, int64_t now)
{
	join_member(fk, 2, now - 10000);
	struct fsm_member m2;
	assert_int_equal(fsm_member_get(fk->d.fsm, 2, &m2), QSG_OK);
	struct fsm_cmd fail;
	memset(&fail, 0, sizeof fail);
	fail.op = FSM_OP_MEMBER_FAIL;
	fail.member_id = 2;
	fail.seq = (uint64_t)m2.lease_expiry_ms;
	fk->now = now;
	assert_int_equal(fake_apply(fk, &fail), QSG_OK);
	fk->voters[1] = fk->voters[2]; /* REMOVE MEMBER took it out */
	fk->nvoters = 2;
}

/* Run for n renewal periods, answering this member's join and renewals
 * at the leader's time of each tick (its own lease stays valid). */
static void run_renewing(struct fake *fk, int n)
{
	for (int k = 0; k < n; k++) {
		fake_run_ms(fk, RENEW);
		fk->now = qsgd_wall_ms();
		answer_op(fk, FSM_OP_MEMBER_JOIN_BOUNDED);
		answer_op(fk, FSM_OP_MEMBER_JOIN);
		answer_op(fk, FSM_OP_LEASE_RENEW);
	}
}

/* The same for the leader's MEMBER_REMOVE_BOUNDED (op 56), refused by an
 * older leader (this one lost the leadership while submitting): it sends
 * MEMBER_REMOVE (op 45), which forgets the member, and its own next JOIN
 * is op 40. */
static void old_leader_remove_unknown_op(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	failed_and_removed(&fk, qsgd_wall_ms());
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	lease_start(l);
	run_renewing(&fk, LEASE / RENEW + 2); /* this build leads: JOIN_BOUNDED */
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE), 0);
	size_t i;
	i = first_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED);
	fake_cmd_fail(&fk, i, QSG_RC_UNKNOWN_OP);
	run_renewing(&fk, 2);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE), 1);
	i = first_op(&fk, FSM_OP_MEMBER_REMOVE);
	assert_int_equal(fk.cmds[i].cmd.member_id, 2);
	answer_op(&fk, FSM_OP_MEMBER_REMOVE);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m), QSG_RC_UNKNOWN_OBJECT);
	run_renewing(&fk, 3);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 0);
	/* Declared failed: it rejoins with MEMBER_JOIN. */
	declare_failed_here(&fk);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN_BOUNDED), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_JOIN), 1);
	stop(&fk, l);
}

/* Member 3 was declared failed with MEMBER_FAIL_BOUNDED; `extra` messages
 * of its session 79's unit of work are still to back out. */
static void pending_backout_of_3(struct fake *fk, int64_t now, unsigned extra)
{
	join_member(fk, 3, now - 10000);
	define_attach(fk, "Q3", 100000, 79, 3);
	held_puts(fk, "Q3", 79, FSM_BACKOUT_BUDGET + extra);
	struct fsm_cmd c;
	struct fsm_member m3;
	assert_int_equal(fsm_member_get(fk->d.fsm, 3, &m3), QSG_OK);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_FAIL_BOUNDED;
	c.member_id = 3;
	c.seq = (uint64_t)m3.lease_expiry_ms;
	fk->now = now;
	assert_int_equal(fake_apply(fk, &c), QSG_OK);
	assert_int_equal(fsm_backout_pending(fk->d.fsm), extra);
	assert_int_equal(fsm_backout_pending_owned(fk->d.fsm, 3), extra);
}

/* The REMOVE of member 2 waits for 2's pending backouts only: member 3's,
 * still pending (its BACKOUT_PENDING unanswered), does not hold it. */
static void remove_not_held_by_other_backout(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	int64_t now = qsgd_wall_ms();
	pending_backout_of_3(&fk, now, 100);
	failed_and_removed(&fk, now); /* voters 1 and 3: 3 stays known */
	assert_int_equal(fsm_backout_pending_owned(fk.d.fsm, 2), 0);
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	lease_start(l);
	fake_run_ms(&fk, LEASE + 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 1); /* unanswered */
	assert_int_equal(fsm_backout_pending(fk.d.fsm), 100);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 1);
	size_t i;
	i = first_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED);
	assert_int_equal(fk.cmds[i].cmd.member_id, 2);
	fk.now = qsgd_wall_ms();
	fake_cmd_apply(&fk, i);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(fk.d.fsm, 2, &m), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(fsm_member_get(fk.d.fsm, 3, &m), QSG_OK);
	assert_int_equal(fsm_backout_pending(fk.d.fsm), 100);
	answer_op(&fk, FSM_OP_BACKOUT_PENDING);
	assert_int_equal(fsm_backout_pending(fk.d.fsm), 0);
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_REMOVE_BOUNDED), 1);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 1);
	stop(&fk, l);
}

/* A new leader takes over a pending backout at its first tick, inside the
 * grace in which it declares nobody failed. */
static void new_leader_kicks_backout_in_grace(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	int64_t now = qsgd_wall_ms();
	pending_backout_of_3(&fk, now, 100);
	join_member(&fk, 2, now - 10000); /* expired: not declared in the grace */
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	uint64_t leader_since = uv_now(&fk.loop);
	lease_start(l);
	fake_run_ms(&fk, 1);
	assert_true(uv_now(&fk.loop) - leader_since < LEASE);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 0);
	fake_run_ms(&fk, 2 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_BACKOUT_PENDING), 1); /* one at a time */
	fk.now = qsgd_wall_ms();
	answer_op(&fk, FSM_OP_BACKOUT_PENDING);
	assert_int_equal(fsm_backout_pending(fk.d.fsm), 0);
	assert_true(uv_now(&fk.loop) - leader_since < LEASE);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 0);
	stop(&fk, l);
}

/* A submit that completes before it returns (out of memory while
 * forwarding) leaves nothing behind that believes it is in flight: the
 * next interval sends the EXPIRE_BOUNDED and the next tick the
 * MEMBER_FAIL_BOUNDED again. */
static void survives_instant_completion(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	fk.cfg.expire_interval_ms = 20;
	join_member(&fk, 2, qsgd_wall_ms() - 10000); /* expired long ago */
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	fk.submit_now_rc = QSG_RC_STORAGE_NOT_AVAILABLE;
	lease_start(l);
	fake_run_ms(&fk, 2 * LEASE);
	assert_int_equal(count_op(&fk, FSM_OP_EXPIRE_BOUNDED), 0);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 0);
	fk.submit_now_rc = QSG_OK;
	fake_run_ms(&fk, 3 * RENEW);
	assert_int_equal(count_op(&fk, FSM_OP_EXPIRE_BOUNDED), 1);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 1);
	stop(&fk, l);
}

/* A follower never declares anyone failed. */
static void follower_does_not_detect(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_FOLLOWER);
	join_member(&fk, 2, qsgd_wall_ms() - 10000);
	lease_start(l);
	fake_run_ms(&fk, 2 * LEASE);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL), 0);
	assert_int_equal(count_op(&fk, FSM_OP_MEMBER_FAIL_BOUNDED), 0);
	stop(&fk, l);
}

/* The leader runs the periodic EXPIRE_BOUNDED with the session expiry, one
 * in flight at a time; while messages are still due after one (more than
 * FSM_EXPIRE_BUDGET expired at once) it sends the next at once. */
static void leader_expires_sessions(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	fk.cfg.expire_interval_ms = 20;
	fk.cfg.session_expiry_s = 60;
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	lease_start(l);
	fake_run_ms(&fk, 50);
	assert_int_equal(count_op(&fk, FSM_OP_EXPIRE_BOUNDED), 1); /* not answered yet */
	assert_int_equal(count_op(&fk, FSM_OP_EXPIRE), 0);
	for (size_t i = 0; i < fk.ncmds; i++)
		if (fk.cmds[i].cmd.op == FSM_OP_EXPIRE_BOUNDED)
			assert_int_equal(fk.cmds[i].cmd.seq, 60000);
	answer_op(&fk, FSM_OP_EXPIRE_BOUNDED);
	assert_int_equal(count_op(&fk, FSM_OP_EXPIRE_BOUNDED), 1); /* nothing due */
	fake_run_ms(&fk, 25);
	assert_int_equal(count_op(&fk, FSM_OP_EXPIRE_BOUNDED), 2);
	answer_op(&fk, FSM_OP_EXPIRE_BOUNDED);

	/* 1.5 budgets of messages expire at once. */
	struct fsm_cmd c;
	define_attach(&fk, "XQ", 100000, 88, 1);
	const unsigned n = FSM_EXPIRE_BUDGET + FSM_EXPIRE_BUDGET / 2;
	fk.now = fsm_last_time(fk.d.fsm);
	for (unsigned i = 0; i < n; i++) {
		memset(&c, 0, sizeof c);
		c.op = FSM_OP_PUT;
		c.client_id = 88;
		c.epoch = 1;
		c.seq = i + 1;
		strcpy(c.queue, "XQ");
		c.msg.expiry_ms = 1000;
		c.msg.body.p = (const uint8_t *)"x";
		c.msg.body.len = 1;
		assert_int_equal(fake_apply(&fk, &c), QSG_OK);
	}
	struct fsm_qinfo qi;
	assert_int_equal(fsm_queue_info(fk.d.fsm, 0, "XQ", &qi), QSG_OK);
	assert_int_equal(qi.curdepth, n);
	fk.now += 2000;
	fake_run_ms(&fk, 25);
	assert_int_equal(count_op(&fk, FSM_OP_EXPIRE_BOUNDED), 3);
	answer_op(&fk, FSM_OP_EXPIRE_BOUNDED); /* one budget: more due */
	assert_int_equal(fsm_queue_info(fk.d.fsm, 0, "XQ", &qi), QSG_OK);
	assert_int_equal(qi.curdepth, n - FSM_EXPIRE_BUDGET);
	assert_true(fsm_expire_more(fk.d.fsm));
	assert_int_equal(count_op(&fk, FSM_OP_EXPIRE_BOUNDED), 4); /* sent at once */
	answer_op(&fk, FSM_OP_EXPIRE_BOUNDED);
	assert_int_equal(fsm_queue_info(fk.d.fsm, 0, "XQ", &qi), QSG_OK);
	assert_int_equal(qi.curdepth, 0);
	assert_false(fsm_expire_more(fk.d.fsm));
	assert_int_equal(count_op(&fk, FSM_OP_EXPIRE_BOUNDED), 4);
	stop(&fk, l);
}

static int fatal_calls;
static void on_fatal(struct qsgd *d, const char *why)
{
	(void)d;
	(void)why;
	fatal_calls++;
}

/* A leader that commits nothing for three leases fail-stops. */
static void stalled_leader_fail_stops(void **state)
{
	(void)state;
	struct fake fk;
	struct lease *l;
	start(&fk, &l, GLUE_LEADER);
	fk.d.fatal = on_fatal;
	fk.log.level = -1; /* QSG4006E is expected */
	fatal_calls = 0;
	lease_on_role(l, GLUE_FOLLOWER, GLUE_LEADER);
	lease_start(l);
	fake_run_ms(&fk, 2 * LEASE);
	assert_int_equal(fatal_calls, 0);
	fake_run_ms(&fk, 2 * LEASE + 20);
	assert_true(fatal_calls >= 1);
	stop(&fk, l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(join_then_renew),
	    cmocka_unit_test(no_leader_no_renewal),
	    cmocka_unit_test(fence_when_renewals_stall),
	    cmocka_unit_test(refused_renewal_rejoins),
	    cmocka_unit_test(leader_detects_failure),
	    cmocka_unit_test(leader_continues_backout),
	    cmocka_unit_test(leader_continues_join_backout),
	    cmocka_unit_test(leader_remove_waits_for_backout),
	    cmocka_unit_test(follower_does_not_detect),
	    cmocka_unit_test(leader_expires_sessions),
	    cmocka_unit_test(survives_instant_completion),
	    cmocka_unit_test(stalled_leader_fail_stops),
	    cmocka_unit_test(lagging_replica_no_join_storm),
	    cmocka_unit_test(replayed_old_active_no_rejoin),
	    cmocka_unit_test(replayed_old_active_leader_ahead),
	    cmocka_unit_test(replayed_old_active_member_ahead),
	    cmocka_unit_test(detects_failure_after_leader_ahead),
	    cmocka_unit_test(remove_at_level_4),
	    cmocka_unit_test(reports_level),
	    cmocka_unit_test(level_refused_waits),
	    cmocka_unit_test(old_leader_join_unknown_op),
	    cmocka_unit_test(old_leader_join_bad_frame),
	    cmocka_unit_test(old_leader_remove_unknown_op),
	    cmocka_unit_test(remove_not_held_by_other_backout),
	    cmocka_unit_test(new_leader_kicks_backout_in_grace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
