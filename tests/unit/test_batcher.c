/* Unit tests of src/qsgd/batcher.c (group commit) on a real libuv loop, with
 * raft-glue and the submission path faked (qsgd_fake.h) and the real state
 * machine applying the entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qsgd/batcher.h"
#include "qsgd_fake.h"

static struct qsgd_sub *attach_sub(uint64_t client, struct done_rec *out)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_ATTACH;
	c.client_id = client;
	c.member_id = 1;
	return fake_sub(&c, out);
}

static struct qsgd_sub *op_sub(uint8_t op, struct done_rec *out)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = op;
	c.member_id = 2;
	snprintf(c.name, sizeof c.name, "QM2");
	snprintf(c.raft_addr, sizeof c.raft_addr, "127.0.0.1:1");
	snprintf(c.client_addr, sizeof c.client_addr, "127.0.0.1:2");
	c.seq = op == FSM_OP_LEASE_RENEW ? 1000 : 0;
	return fake_sub(&c, out);
}

static uint64_t epoch_of(const struct done_rec *d)
{
	struct fsm_result r;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(d->status, QSG_OK);
	assert_int_equal(fsm_result_decode(FSM_OP_ATTACH, d->result, d->len, &r, errmsg), QSG_OK);
	assert_int_equal(r.rc, QSG_OK);
	return r.epoch;
}

static void start(struct fake *fk, struct batcher **b)
{
	char errmsg[QSG_ERRMSG_SIZE];
	fake_init(fk, 1, 1, 0);
	fk->leader = true;
	assert_int_equal(batcher_init(b, &fk->d, errmsg), QSG_OK);
}

static void stop(struct fake *fk, struct batcher *b)
{
	batcher_close(b);
	fake_close(fk);
}

/* Commands added during one loop iteration become one entry; each result
 * goes back to its own submitter. */
static void group_commit(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[5];
	memset(d, 0, sizeof d);
	start(&fk, &b);

	/* client 7 attaches three times (epochs 1, 2, 3), client 9 twice */
	uint64_t clients[5] = {7, 9, 7, 7, 9};
	for (int i = 0; i < 5; i++)
		batcher_add(b, attach_sub(clients[i], &d[i]));
	assert_int_equal(fk.nentries, 0); /* never synchronously */
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 1);
	assert_int_equal(fake_entry_count(&fk, 0), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(d[i].calls, 0);

	fake_commit(&fk, 0);
	uint64_t want[5] = {1, 1, 2, 3, 2};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(d[i].calls, 1);
		assert_int_equal(epoch_of(&d[i]), want[i]);
	}
	/* a later iteration: a new entry */
	struct done_rec d2;
	memset(&d2, 0, sizeof d2);
	batcher_add(b, attach_sub(9, &d2));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 2);
	fake_commit(&fk, 1);
	assert_int_equal(epoch_of(&d2), 3);
	stop(&fk, b);
}

/* A refused command gets its own reason code; its neighbours are applied. */
static void refusal_stays_with_its_command(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[3];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	struct fsm_cmd del;
	memset(&del, 0, sizeof del);
	del.op = FSM_OP_QDELETE;
	snprintf(del.queue, sizeof del.queue, "NO.SUCH.QUEUE");
	batcher_add(b, attach_sub(1, &d[0]));
	batcher_add(b, fake_sub(&del, &d[1]));
	batcher_add(b, attach_sub(2, &d[2]));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 1);
	fake_commit(&fk, 0);
	assert_int_equal(epoch_of(&d[0]), 1);
	assert_int_equal(epoch_of(&d[2]), 1);
	struct fsm_result r;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(d[1].status, QSG_OK);
	assert_int_equal(fsm_result_decode(FSM_OP_QDELETE, d[1].result, d[1].len, &r, errmsg),
			 QSG_OK);
	assert_int_equal(r.rc, QSG_RC_UNKNOWN_OBJECT);
	stop(&fk, b);
}

/* An entry holds at most max_entry_bytes (but at least one command), in
 * submission order. */
static void size_limit(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	enum { N = 40 };
	struct done_rec d[N];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	struct qsgd_sub *probe = attach_sub(1, &d[0]);
	size_t cmdlen = probe->len;
	qsgd_sub_complete(probe, QSG_RC_Q_MGR_STOPPING, NULL, 0);
	memset(d, 0, sizeof d);
	/* room for the 16-byte header and three length-prefixed commands */
	fk.cfg.max_entry_bytes = (unsigned)(16 + 3 * (4 + cmdlen));
	for (int i = 0; i < N; i++)
		batcher_add(b, attach_sub(100 + (uint64_t)i, &d[i]));
	fake_spin(&fk);
	/* max_inflight (16) entries now, the rest once some complete */
	assert_int_equal(fk.nentries, 14); /* ceil(40 / 3) */
	size_t total = 0;
	for (size_t e = 0; e < fk.nentries; e++) {
		assert_true(fk.entries[e].len <= fk.cfg.max_entry_bytes);
		total += fake_entry_count(&fk, e);
		fake_commit(&fk, e);
	}
	assert_int_equal(total, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(epoch_of(&d[i]), 1);

	/* a command larger than the limit still goes, alone */
	fk.cfg.max_entry_bytes = 8;
	struct done_rec big[2];
	memset(big, 0, sizeof big);
	batcher_add(b, attach_sub(1, &big[0]));
	batcher_add(b, attach_sub(2, &big[1]));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 16);
	assert_int_equal(fake_entry_count(&fk, 14), 1);
	assert_int_equal(fake_entry_count(&fk, 15), 1);
	stop(&fk, b);
}

/* At most FSM_MAX_BATCH commands per entry. */
static void count_limit(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	const size_t n = FSM_MAX_BATCH + 2;
	struct done_rec *d = calloc(n, sizeof *d);
	start(&fk, &b);
	for (size_t i = 0; i < n; i++)
		batcher_add(b, attach_sub(1 + i, &d[i]));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 2);
	assert_int_equal(fake_entry_count(&fk, 0), FSM_MAX_BATCH);
	assert_int_equal(fake_entry_count(&fk, 1), 2);
	fake_commit(&fk, 0);
	fake_commit(&fk, 1);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(d[i].calls, 1);
	assert_int_equal(epoch_of(&d[n - 1]), 1);
	free(d);
	stop(&fk, b);
}

/* No more than max_inflight entries in flight; completion lets the next go. */
static void inflight_limit(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[5];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	fk.cfg.max_inflight = 2;
	fk.cfg.max_entry_bytes = 1; /* one command per entry */
	for (int i = 0; i < 5; i++)
		batcher_add(b, attach_sub(1 + (uint64_t)i, &d[i]));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 2);
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 2);
	fake_commit(&fk, 0);
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 3);
	fake_commit(&fk, 1);
	fake_commit(&fk, 2);
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 5);
	fake_commit(&fk, 3);
	fake_commit(&fk, 4);
	for (int i = 0; i < 5; i++)
		assert_int_equal(d[i].calls, 1);
	stop(&fk, b);
}

/* Lease renewals, joins and failure declarations jump the queue. */
static void priority_commands(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[7];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	batcher_add(b, attach_sub(1, &d[0]));
	batcher_add(b, attach_sub(2, &d[1]));
	batcher_add(b, op_sub(FSM_OP_MEMBER_JOIN, &d[2]));
	batcher_add(b, attach_sub(3, &d[3]));
	batcher_add(b, op_sub(FSM_OP_LEASE_RENEW, &d[4]));
	batcher_add(b, op_sub(FSM_OP_MEMBER_FAIL, &d[5]));
	batcher_add(b, op_sub(FSM_OP_MEMBER_JOIN_BOUNDED, &d[6])); /* what lease.c sends */
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 1);
	assert_int_equal(fake_entry_count(&fk, 0), 7);
	uint8_t want[7] = {FSM_OP_MEMBER_JOIN_BOUNDED,
			   FSM_OP_MEMBER_FAIL,
			   FSM_OP_LEASE_RENEW,
			   FSM_OP_MEMBER_JOIN,
			   FSM_OP_ATTACH,
			   FSM_OP_ATTACH,
			   FSM_OP_ATTACH};
	for (uint32_t k = 0; k < 7; k++)
		assert_int_equal(fake_entry_op(&fk, 0, k), want[k]);
	/* with a size limit the priority command is in the first entry */
	fake_commit(&fk, 0);
	for (int i = 0; i < 7; i++)
		assert_int_equal(d[i].calls, 1);
	assert_int_equal(epoch_of(&d[3]), 1);
	stop(&fk, b);
}

/* MEMBER_LEVEL jumps the queue and travels alone in its entry (a member of
 * an older build rejects that entry as a whole and must lose nothing else):
 * the commands before and after it go in other entries. */
static void level_alone(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[5];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	batcher_add(b, attach_sub(1, &d[0]));
	batcher_add(b, attach_sub(2, &d[1]));
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_LEVEL;
	c.member_id = 1;
	c.seq = FSM_CMDLEVEL;
	batcher_add(b, fake_sub(&c, &d[2]));
	batcher_add(b, op_sub(FSM_OP_LEASE_RENEW, &d[3]));
	batcher_add(b, attach_sub(3, &d[4]));
	fake_spin(&fk);
	/* Membership commands first: the renewal (added last, so first), then
	 * the level alone, then the rest. */
	assert_int_equal(fk.nentries, 3);
	assert_int_equal(fake_entry_count(&fk, 0), 1);
	assert_int_equal(fake_entry_op(&fk, 0, 0), FSM_OP_LEASE_RENEW);
	assert_int_equal(fake_entry_count(&fk, 1), 1);
	assert_int_equal(fake_entry_op(&fk, 1, 0), FSM_OP_MEMBER_LEVEL);
	assert_int_equal(fake_entry_count(&fk, 2), 3);
	assert_int_equal(fake_entry_op(&fk, 2, 0), FSM_OP_ATTACH);
	for (size_t e = 0; e < fk.nentries; e++)
		fake_commit(&fk, e);
	for (int i = 0; i < 5; i++)
		assert_int_equal(d[i].calls, 1);
	stop(&fk, b);
}

/* An entry that fails (or whose outcome is unknown) fails exactly its own
 * commands with that status; another entry's commands are unaffected. */
static void entry_failure(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[4];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	fk.cfg.max_entry_bytes = 1; /* one command per entry */
	for (int i = 0; i < 4; i++)
		batcher_add(b, attach_sub(1 + (uint64_t)i, &d[i]));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 4);
	fake_fail_entry(&fk, 1, QSG_RC_OUTCOME_UNKNOWN);
	assert_int_equal(d[1].calls, 1);
	assert_int_equal(d[1].status, QSG_RC_OUTCOME_UNKNOWN);
	assert_int_equal(d[0].calls + d[2].calls + d[3].calls, 0);
	fake_fail_entry(&fk, 2, QSG_OK); /* "applied" without results */
	assert_int_equal(d[2].status, QSG_RC_UNEXPECTED_ERROR);
	fake_commit(&fk, 0);
	fake_commit(&fk, 3);
	assert_int_equal(epoch_of(&d[0]), 1);
	assert_int_equal(epoch_of(&d[3]), 1);
	stop(&fk, b);
}

/* Results that end early (the state machine rejected the entry): the
 * commands without a result get UNEXPECTED_ERROR. */
static void short_results(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[2];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	batcher_add(b, attach_sub(1, &d[0]));
	batcher_add(b, attach_sub(2, &d[1]));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 1);
	struct qsg_wbuf res;
	qsg_wbuf_init(&res);
	qsg_put_u32(&res, 4);
	qsg_put_u32(&res, QSG_OK); /* one result for two commands */
	fk.entries[0].done = true;
	fk.entries[0].cb(fk.entries[0].arg, QSG_OK, &res);
	qsg_wbuf_close(&res);
	assert_int_equal(d[0].status, QSG_OK);
	assert_int_equal(d[0].len, 4);
	assert_int_equal(d[1].status, QSG_RC_UNEXPECTED_ERROR);
	stop(&fk, b);
}

/* glue refuses the entry: NOT_LEADER holds its commands for the submission
 * path (not applied), another code answers them with it. */
static void submit_refused(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[4];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	fk.append_rc = QSG_RC_NOT_LEADER;
	batcher_add(b, attach_sub(1, &d[0]));
	batcher_add(b, attach_sub(2, &d[1]));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 0);
	assert_int_equal(fk.held.n, 2);
	assert_int_equal(d[0].calls + d[1].calls, 0);
	assert_ptr_equal(fk.held.head->arg, &d[0]);

	fk.append_rc = QSG_RC_STORAGE_NOT_AVAILABLE;
	batcher_add(b, attach_sub(3, &d[2]));
	batcher_add(b, attach_sub(4, &d[3]));
	fake_spin(&fk);
	assert_int_equal(d[2].calls, 1);
	assert_int_equal(d[2].status, QSG_RC_STORAGE_NOT_AVAILABLE);
	assert_int_equal(d[3].status, QSG_RC_STORAGE_NOT_AVAILABLE);
	assert_int_equal(fk.held.n, 2);
	stop(&fk, b);
}

/* Not (or no longer) the leader: pending commands are re-routed through the
 * submission path, in order; entries in flight stay. */
static void role_change(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[4];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	batcher_add(b, attach_sub(1, &d[0]));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 1);
	batcher_add(b, attach_sub(2, &d[1]));
	batcher_add(b, attach_sub(3, &d[2]));
	batcher_on_role(b, GLUE_LEADER); /* nothing happens */
	assert_int_equal(fk.routed.n, 0);
	batcher_on_role(b, GLUE_FOLLOWER);
	assert_int_equal(fk.routed.n, 2);
	assert_ptr_equal(fk.routed.head->arg, &d[1]);
	assert_ptr_equal(fk.routed.tail->arg, &d[2]);
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 1);
	/* the flush itself notices a lost leadership */
	fk.leader = false;
	batcher_add(b, attach_sub(4, &d[3]));
	fake_spin(&fk);
	assert_int_equal(fk.nentries, 1);
	assert_int_equal(fk.routed.n, 3);
	assert_ptr_equal(fk.routed.tail->arg, &d[3]);
	fake_commit(&fk, 0);
	assert_int_equal(epoch_of(&d[0]), 1);
	stop(&fk, b);
}

/* Close: pending commands are answered Q_MGR_STOPPING; an entry in flight
 * completes later through the glue and the batcher is freed after it. */
static void close_with_work(void **state)
{
	(void)state;
	struct fake fk;
	struct batcher *b;
	struct done_rec d[2];
	memset(d, 0, sizeof d);
	start(&fk, &b);
	batcher_add(b, attach_sub(1, &d[0]));
	fake_spin(&fk);
	batcher_add(b, attach_sub(2, &d[1]));
	batcher_close(b);
	assert_int_equal(d[1].calls, 1);
	assert_int_equal(d[1].status, QSG_RC_Q_MGR_STOPPING);
	uv_run(&fk.loop, UV_RUN_NOWAIT);
	fake_fail_entry(&fk, 0, QSG_RC_OUTCOME_UNKNOWN);
	assert_int_equal(d[0].status, QSG_RC_OUTCOME_UNKNOWN);
	fake_close(&fk); /* ASan: the batcher was freed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(group_commit),   cmocka_unit_test(refusal_stays_with_its_command),
	    cmocka_unit_test(size_limit),     cmocka_unit_test(count_limit),
	    cmocka_unit_test(inflight_limit), cmocka_unit_test(priority_commands),
	    cmocka_unit_test(level_alone),    cmocka_unit_test(entry_failure),
	    cmocka_unit_test(short_results),  cmocka_unit_test(submit_refused),
	    cmocka_unit_test(role_change),    cmocka_unit_test(close_with_work),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
