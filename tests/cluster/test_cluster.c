/* Deterministic cluster tests: the real state machine (src/fsm) replicated by
 * libraft's raft_fixture (in-memory I/O and network, simulated time) through
 * the raft-glue fsm adapter.
 *
 * Testing. For each seed a 3- or 5-server group is bootstrapped and one
 * idempotent producer (client_id 42) puts messages 1..N with producer
 * sequence numbers, batching 1-3 puts per log entry, while faults chosen by a
 * xorshift PRNG seeded from the seed are injected: disconnect/reconnect of a
 * pair, kill/revive, saturate/desaturate, leader depose, and disk write
 * failures of the leader (see "I/O faults" below). A submission acknowledged by the
 * leader (apply callback status 0) is committed; any other completion
 * (RAFT_LEADERSHIPLOST, shutdown, or no completion within 3 s of simulated
 * time) is an unknown outcome, resolved like libqsg does: re-ATTACH and
 * compare put_seq, then resend with the SAME sequence numbers if needed, so
 * dedup makes every put exactly-once. After the fault phase the group is
 * healed, the remaining puts finish, and the queue is drained through the log
 * with GETs. Checked: every put 1..N is received exactly once (nothing
 * acknowledged lost, nothing duplicated), no SEQUENCE_GAP is ever returned,
 * every live server has applied the same index and has the same fsm_digest.
 * A second test lowers the snapshot threshold, keeps a follower down while
 * the log is compacted and checks it catches up by snapshot install and
 * converges.
 *
 * I/O faults. raft_fixture_io_fault(f, i, delay, repeat) makes the
 * (delay+1)-th I/O request of server i (set_term, set_vote, append, truncate,
 * send) fail with RAFT_IOERR. Armed at random, it crashes libraft 0.15 itself
 * whenever the failing request is a follower's: src/recv_append_entries.c,
 * recvAppendEntries(), "reply:" frees the received entries (raft_free of
 * args->entries[0].batch and of args->entries) and then returns the error of
 * r->io->send() for the AppendEntries result; src/recv.c, recvCb(), on that
 * non-zero return calls entryBatchesDestroy(message->append_entries.entries,
 * ...) and frees the same batch again (ASan: double free of the batch that
 * the fixture's ioFlushSend() -> io_stub__copy_entries() allocated). No qsg
 * code is involved.
 * So the test only injects a fault whose firing point it controls: at the
 * next submission it arms the leader with delay 0 and repeat 1 and calls
 * raft_apply() at once; the first I/O request raft_apply() makes is the
 * leader's own io->append (replicationTrigger -> appendLeader), so the fault
 * fires synchronously there and raft_apply() returns RAFT_IOERR before any
 * message is delivered. The fault is disarmed right after (delay -1) whatever
 * happened, so it can never reach the buggy follower paths. On any raft_apply()
 * error the entry buffer is still the caller's in libraft 0.15 (the entry is
 * discarded from the in-memory log without releasing its buffer; verified
 * under ASan: freeing it is clean, not freeing it leaks), so the test frees it.
 *
 * QSG_CLUSTER_VERBOSE=1 prints per-seed statistics.
 *
 * Seeds: 20 per group size by default; QSG_CLUSTER_SEEDS=n runs n seeds;
 * QSG_CLUSTER_SEED=s runs only seed s (both sizes) to replay a failure. A
 * failing run prints "seed=S servers=N". The fixture is deterministic (no
 * wall clock, no rand()), so a seed replays identically.
 *
 * The servers, the PRNG, submission with an injected fault, fault injection,
 * heal and convergence are the shared harness in tests/lib/fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#include "src/fsm/fsm.h"
#include "tests/lib/fixture.h"

#define CLIENT 42
#define QUEUE "Q.CLUSTER"
#define REQ_TIMEOUT_MS 3000

enum phase { PH_DEFINE, PH_ATTACH, PH_PUT, PH_DRAIN, PH_DONE };

struct sim;

struct req {
	struct raft_apply ra; /* first */
	struct sim *sim;
	uint64_t gen;
	uint8_t ops[4];
	unsigned nops;
};

struct sim {
	struct fix fx; /* servers, PRNG, faults (tests/lib/fixture.h) */
	unsigned n;
	bool healed; /* drain only once the faults are over */

	/* client */
	enum phase phase;
	uint64_t n_puts;
	uint64_t epoch;
	uint64_t next_seq; /* first sequence not yet acknowledged */
	unsigned batch; /* puts in the in-flight entry */
	bool inflight;
	uint64_t gen;
	raft_time sent_at;
	unsigned *received; /* [n_puts + 1] times each body was got */
	uint64_t acked;
	uint64_t unknown;
	uint64_t gaps;
	uint64_t drain_unknown;
};

#define sim_fail(s, ...) fix_fail(&(s)->fx, __VA_ARGS__)

/* The faults of this test, drawn uniformly (the order of the slots fixes
 * what a seed does). */
static const enum fix_fault faults[] = {
    FIX_PARTITION, FIX_PARTITION, FIX_HEAL_LINK,  FIX_HEAL_LINK, FIX_KILL,
    FIX_REVIVE,	   FIX_SATURATE,  FIX_DESATURATE, FIX_LEADER,
};

static void sim_init(struct sim *s, unsigned n, uint64_t seed, uint64_t n_puts, unsigned threshold)
{
	struct fix_config cfg = {
	    .n = n,
	    .seed = seed,
	    .snapshot_threshold = threshold,
	    .snapshot_trailing = threshold / 2,
	    .faults = faults,
	    .nfaults = sizeof faults / sizeof faults[0],
	};

	memset(s, 0, sizeof *s);
	s->n = n;
	s->n_puts = n_puts;
	s->next_seq = 1;
	s->received = calloc(n_puts + 1, sizeof *s->received);
	assert_non_null(s->received);
	if (fix_init(&s->fx, &cfg, NULL, NULL) != 0)
		fail_msg("%s", s->fx.why);
}

static void sim_close(struct sim *s)
{
	/* Closing the fixture fails the outstanding requests (freed in cb). */
	fix_close(&s->fx);
	free(s->received);
}

static void add_cmd(struct qsg_wbuf *entry, struct fsm_cmd *c)
{
	struct qsg_wbuf w;

	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	fsm_entry_add(entry, w.data, w.len);
	qsg_wbuf_close(&w);
}

static void on_result(struct sim *s, struct req *r, const struct qsg_wbuf *results);

static void apply_cb(struct raft_apply *ra, int status, void *result)
{
	struct req *r = (struct req *)ra;
	struct sim *s = r->sim;

	if (r->gen == s->gen && s->inflight) {
		s->inflight = false;
		if (status == 0 && result != NULL) {
			on_result(s, r, result);
		} else {
			/* Unknown outcome: resolve through ATTACH. */
			s->unknown++;
			if (s->phase == PH_PUT) {
				s->phase = PH_ATTACH;
			} else if (s->phase == PH_DRAIN) {
				s->drain_unknown++;
			}
		}
	}
	free(r);
}

static void on_result(struct sim *s, struct req *r, const struct qsg_wbuf *results)
{
	struct qsg_rbuf rb;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE];
	unsigned k;
	bool fenced = false;

	qsg_rbuf_init(&rb, results->data, results->len);
	for (k = 0; k < r->nops; k++) {
		uint32_t len = qsg_get_u32(&rb);
		struct qsg_slice p = qsg_get_raw(&rb, len);

		if (rb.err != QSG_OK ||
		    fsm_result_decode(r->ops[k], p.p, p.len, &res, errmsg) != QSG_OK) {
			sim_fail(s, "undecodable result %u of %u", k, r->nops);
			return;
		}
		switch (r->ops[k]) {
		case FSM_OP_QDEFINE:
			if (res.rc != QSG_OK && res.rc != QSG_RC_OBJECT_EXISTS) {
				sim_fail(s, "QDEFINE rc %d", res.rc);
			}
			s->phase = PH_ATTACH;
			break;
		case FSM_OP_ATTACH:
			if (res.rc != QSG_OK) {
				sim_fail(s, "ATTACH rc %d", res.rc);
				return;
			}
			s->epoch = res.epoch;
			if (res.put_seq >= s->next_seq + s->batch - 1 && s->batch > 0) {
				/* The unknown batch was applied. */
				s->acked += s->batch;
				s->next_seq += s->batch;
			} else if (res.put_seq >= s->next_seq) {
				sim_fail(s, "put_seq %llu inside batch %llu+%u",
					 (unsigned long long)res.put_seq,
					 (unsigned long long)s->next_seq, s->batch);
				return;
			} else if (res.put_seq + 1 != s->next_seq) {
				sim_fail(s, "acknowledged put lost: put_seq %llu next %llu",
					 (unsigned long long)res.put_seq,
					 (unsigned long long)s->next_seq);
				return;
			}
			s->batch = 0;
			s->phase = s->next_seq > s->n_puts ? PH_DRAIN : PH_PUT;
			break;
		case FSM_OP_PUT:
			if (res.rc == QSG_RC_SESSION_FENCED) {
				fenced = true; /* a late ATTACH landed: re-attach */
			} else if (res.rc == QSG_RC_SEQUENCE_GAP) {
				s->gaps++;
				sim_fail(s, "SEQUENCE_GAP on put");
			} else if (res.rc != QSG_OK) {
				sim_fail(s, "PUT rc %d", res.rc);
			}
			break;
		case FSM_OP_GET:
			if (res.rc == QSG_RC_NO_MSG_AVAILABLE) {
				s->phase = PH_DONE;
			} else if (res.rc == QSG_OK) {
				struct qsg_rbuf body;
				uint64_t v;

				qsg_rbuf_init(&body, res.msg.body.p, res.msg.body.len);
				v = qsg_get_u64(&body);
				if (body.err != QSG_OK || v == 0 || v > s->n_puts) {
					sim_fail(s, "unexpected message body");
				} else {
					s->received[v]++;
				}
			} else {
				sim_fail(s, "GET rc %d", res.rc);
			}
			break;
		default:
			break;
		}
	}
	if (r->ops[0] == FSM_OP_PUT) {
		if (fenced) {
			s->phase = PH_ATTACH;
		} else {
			s->acked += s->batch;
			s->next_seq += s->batch;
			s->batch = 0;
			if (s->next_seq > s->n_puts) {
				s->phase = PH_DRAIN;
			}
		}
	}
}

/* Submit the client's next entry on the leader, if idle. */
static void client_step(struct sim *s)
{
	struct qsg_wbuf entry;
	struct fsm_cmd c;
	struct req *r;
	uint8_t body[8];
	unsigned k;
	int l;
	int rv;

	if (s->inflight) {
		if (fix_time(&s->fx) - s->sent_at > REQ_TIMEOUT_MS) {
			/* Gave up waiting (e.g. the leader was killed): the
			 * outcome is unknown; a late completion is ignored. */
			s->inflight = false;
			s->gen++;
			s->unknown++;
			if (s->phase == PH_PUT) {
				s->phase = PH_ATTACH;
			} else if (s->phase == PH_DRAIN) {
				s->drain_unknown++;
			}
		}
		return;
	}
	if (s->phase == PH_DONE || s->fx.failed || (s->phase == PH_DRAIN && !s->healed) ||
	    (l = fix_leader(&s->fx)) < 0) {
		return;
	}
	r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->sim = s;
	r->gen = ++s->gen;
	qsg_wbuf_init(&entry);
	fsm_entry_begin(&entry, (int64_t)fix_time(&s->fx));
	memset(&c, 0, sizeof c);
	c.client_id = CLIENT;
	c.epoch = s->epoch;
	snprintf(c.queue, sizeof c.queue, "%s", QUEUE);
	switch (s->phase) {
	case PH_DEFINE:
		c.op = FSM_OP_QDEFINE;
		snprintf(c.attrs.name, sizeof c.attrs.name, "%s", QUEUE);
		c.attrs.set = FSM_QA_MAXDEPTH;
		c.attrs.maxdepth = 100000;
		r->ops[r->nops++] = c.op;
		add_cmd(&entry, &c);
		break;
	case PH_ATTACH:
		c.op = FSM_OP_ATTACH;
		c.member_id = (uint32_t)l + 1;
		r->ops[r->nops++] = c.op;
		add_cmd(&entry, &c);
		break;
	case PH_PUT:
		if (s->batch == 0) {
			s->batch = 1 + prng_pick(&s->fx.rng, 3);
			if (s->next_seq + s->batch - 1 > s->n_puts) {
				s->batch = (unsigned)(s->n_puts - s->next_seq + 1);
			}
		}
		for (k = 0; k < s->batch; k++) {
			uint64_t v = s->next_seq + k;
			unsigned b;

			for (b = 0; b < 8; b++) {
				body[b] = (uint8_t)(v >> (8 * b));
			}
			c.op = FSM_OP_PUT;
			c.seq = v;
			c.msg.priority = 0;
			c.msg.body.p = body;
			c.msg.body.len = sizeof body;
			r->ops[r->nops++] = c.op;
			add_cmd(&entry, &c);
		}
		break;
	case PH_DRAIN:
		c.op = FSM_OP_GET;
		r->ops[r->nops++] = c.op;
		add_cmd(&entry, &c);
		break;
	default:
		break;
	}
	assert_int_equal(entry.err, QSG_OK);
	/* The same envelope as the daemon's path (8-byte aligned entries); a
	 * pending injected I/O fault is spent here (see the header). */
	rv = fix_submit(&s->fx, (unsigned)l, &r->ra, &entry, apply_cb, true);
	qsg_wbuf_close(&entry);
	if (rv != 0) {
		/* Not submitted (transfer in progress, or the injected
		 * append fault): retry later with the same sequence numbers. */
		if (rv != RAFT_IOERR && rv != RAFT_NOTLEADER) {
			sim_fail(s, "raft_apply failed: %s (%d)", raft_strerror(rv), rv);
		}
		free(r);
		return;
	}
	s->inflight = true;
	s->sent_at = fix_time(&s->fx);
}

static void heal(struct sim *s)
{
	fix_heal(&s->fx);
	s->healed = true;
}

/* Run one seed; returns false (with s->fx.why) on a violated property. */
static bool run_seed(unsigned n, uint64_t seed, uint64_t n_puts, unsigned threshold, bool faults)
{
	struct sim s;
	unsigned step;
	unsigned i;
	bool ok;

	sim_init(&s, n, seed, n_puts, threshold);
	ok = raft_fixture_step_until_has_leader(&s.fx.f, 10000);
	if (!ok) {
		sim_fail(&s, "no initial leader");
	}
	/* Fault phase. */
	for (step = 0; faults && step < 4000 && !s.fx.failed; step++) {
		if (prng_pick(&s.fx.rng, 40) == 0) {
			fix_inject(&s.fx);
		}
		client_step(&s);
		raft_fixture_step(&s.fx.f);
	}
	heal(&s);
	/* Finish the puts and drain (bounded by simulated time). */
	while (!s.fx.failed && s.phase != PH_DONE) {
		if (raft_fixture_time(&s.fx.f) > 600000) {
			sim_fail(&s, "no progress after healing (phase %d)", (int)s.phase);
			break;
		}
		client_step(&s);
		raft_fixture_step(&s.fx.f);
	}
	if (!s.fx.failed) {
		uint64_t missing = 0;

		/* Every put was acknowledged (directly or through put_seq after
		 * re-ATTACH): each must come out exactly once. A GET whose
		 * outcome is unknown may have taken a message we never saw. */
		for (uint64_t v = 1; v <= n_puts; v++) {
			if (s.received[v] > 1) {
				sim_fail(&s, "put %llu received %u times", (unsigned long long)v,
					 s.received[v]);
				break;
			}
			missing += s.received[v] == 0;
		}
		if (!s.fx.failed && missing > s.drain_unknown) {
			sim_fail(&s, "%llu acknowledged puts lost (%llu unknown gets)",
				 (unsigned long long)missing, (unsigned long long)s.drain_unknown);
		}
	}
	if (!s.fx.failed && !fix_step_until_converged(&s.fx, 60000)) {
		sim_fail(&s, "servers did not converge");
	}
	if (!s.fx.failed && (i = (unsigned)fix_digest_mismatch(&s.fx)) != (unsigned)-1) {
		sim_fail(&s, "digest of server %u differs", i);
	}
	if (!s.fx.failed && threshold <= 16) {
		/* With a low threshold a snapshot must have been taken. */
		int l = fix_leader(&s.fx);

		if (l < 0 || raft_fixture_get(&s.fx.f, (unsigned)l)->log.snapshot.last_index == 0) {
			sim_fail(&s, "no snapshot taken");
		}
	}
	if (getenv("QSG_CLUSTER_VERBOSE") != NULL) {
		fprintf(stderr,
			"seed=%llu servers=%u: acked %llu unknown %llu (drain %llu) io faults %u "
			"time %llu ms snapshot %llu %s\n",
			(unsigned long long)seed, n, (unsigned long long)s.acked,
			(unsigned long long)s.unknown, (unsigned long long)s.drain_unknown,
			s.fx.n_io_faults, (unsigned long long)raft_fixture_time(&s.fx.f),
			(unsigned long long)raft_fixture_get(&s.fx.f, 0)->log.snapshot.last_index,
			s.fx.failed ? s.fx.why : "ok");
	}
	if (s.fx.failed) {
		fprintf(stderr,
			"FAILED seed=%llu servers=%u: %s (acked %llu unknown %llu io faults %u)\n",
			(unsigned long long)seed, n, s.fx.why, (unsigned long long)s.acked,
			(unsigned long long)s.unknown, s.fx.n_io_faults);
	}
	ok = !s.fx.failed;
	sim_close(&s);
	return ok;
}

static unsigned n_seeds(void)
{
	const char *e = getenv("QSG_CLUSTER_SEEDS");
	long v = e != NULL ? strtol(e, NULL, 10) : 0;

	return v > 0 ? (unsigned)v : 20;
}

static void run_sizes(unsigned n)
{
	const char *one = getenv("QSG_CLUSTER_SEED");
	unsigned failures = 0;
	unsigned k;

	if (one != NULL) {
		uint64_t seed = strtoull(one, NULL, 10);

		assert_true(run_seed(n, seed, 200, 16 + (unsigned)(seed % 64), true));
		return;
	}
	for (k = 1; k <= n_seeds(); k++) {
		uint64_t seed = k * 7919 + n;

		if (!run_seed(n, seed, 200, 16 + (unsigned)(seed % 64), true)) {
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_faults_3(void **state)
{
	(void)state;
	run_sizes(3);
}

static void test_faults_5(void **state)
{
	(void)state;
	run_sizes(5);
}

/* No faults: a low snapshot threshold compacts the log; a follower that was
 * down meanwhile catches up by snapshot install and all members converge. */
static void test_snapshot_install(void **state)
{
	struct sim s;
	unsigned i;
	uint64_t d0;

	(void)state;
	sim_init(&s, 3, 1, 200, 4);
	s.healed = true;
	assert_true(raft_fixture_step_until_has_leader(&s.fx.f, 10000));
	i = ((unsigned)fix_leader(&s.fx) + 1) % 3;
	raft_fixture_kill(&s.fx.f, i);
	while (!s.fx.failed && s.phase != PH_DRAIN) {
		client_step(&s);
		raft_fixture_step(&s.fx.f);
		assert_true(raft_fixture_time(&s.fx.f) < 600000);
	}
	assert_false(s.fx.failed);
	assert_true(
	    raft_fixture_get(&s.fx.f, (unsigned)fix_leader(&s.fx))->log.snapshot.last_index > 0);
	raft_fixture_revive(&s.fx.f, i);
	while (!s.fx.failed && s.phase != PH_DONE) {
		client_step(&s);
		raft_fixture_step(&s.fx.f);
		assert_true(raft_fixture_time(&s.fx.f) < 1200000);
	}
	assert_false(s.fx.failed);
	assert_true(fix_step_until_converged(&s.fx, 60000));
	/* The revived follower restored from a snapshot (its log starts after
	 * the leader's first compaction). */
	assert_true(raft_fixture_get(&s.fx.f, i)->log.snapshot.last_index > 0);
	d0 = fsm_digest(s.fx.fsm[0]);
	assert_int_equal(fsm_digest(s.fx.fsm[1]), d0);
	assert_int_equal(fsm_digest(s.fx.fsm[2]), d0);
	for (uint64_t v = 1; v <= 200; v++) {
		assert_int_equal(s.received[v], 1);
	}
	sim_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_snapshot_install),
	    cmocka_unit_test(test_faults_3),
	    cmocka_unit_test(test_faults_5),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
