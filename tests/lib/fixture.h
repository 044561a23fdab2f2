/* The shared raft_fixture harness of the deterministic cluster tests
 * (tests/cluster/test_cluster.c, tests/cluster/test_chan_cluster.c) and the
 * simulator (tests/sim/sim.c): N servers, each the real state machine (src/fsm) behind
 * the raft-glue fsm adapter on libraft's raft_fixture (in-memory disk and
 * network, simulated time); the seeded PRNG (prng.h); submission of entries
 * in the daemon's envelope with an optional injected I/O fault; seeded fault
 * injection chosen by the caller; heal; convergence; the leader.
 *
 * libraft 0.15 restrictions this harness respects (details in the header
 * comment of tests/cluster/test_cluster.c):
 *  - an I/O fault is only ever armed on the leader just before raft_apply()
 *    and disarmed right after, so it fires in the leader's own append (a
 *    follower's failing send double-frees inside libraft);
 *  - on a raft_apply() error the entry buffer is still the caller's (freed
 *    here);
 *  - raft_fixture_depose() only on a group with no server killed (it asserts
 *    that the leader steps down).
 * Not a library for anything but tests. */
#ifndef QSG_TEST_FIXTURE_H
#define QSG_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <raft/fixture.h>

#include "prng.h"
#include "src/common/codec.h"
#include "src/fsm/fsm.h"

#define FIX_MAX_N 5

/* Fault kinds. fix_inject() draws a server i, a different server j and one
 * slot of the caller's table (struct fix_config.faults), then: */
enum fix_fault {
	FIX_NONE = 0, /* nothing (a kind the caller switched off) */
	FIX_PARTITION, /* disconnect i->j (and j->i with bidir) */
	FIX_HEAL_LINK, /* reconnect i->j (bidir: both ways, and desaturate) */
	FIX_KILL, /* kill i unless it is dead */
	FIX_REVIVE, /* revive i if it is dead */
	FIX_REVIVE_ANY, /* revive the first dead server, if any */
	FIX_SATURATE, /* drop messages i->j */
	FIX_DESATURATE, /* stop dropping i->j */
	FIX_LEADER, /* a coin: arm an I/O fault for the next fix_submit() (if
		     * may_io_fault allows), or relink the leader and depose it
		     * (when no server is dead; see relink_if_healthy) */
	FIX_ISOLATE_LEADER, /* disconnect the leader from everyone, both ways */
	FIX_HEAL_NETWORK, /* reconnect and desaturate every link (no revive) */
	FIX_CUSTOM, /* the caller's hooks->custom_fault(slot) */
};

struct fix;

/* Test-specific reactions. Every member may be NULL. */
struct fix_hooks {
	/* After server i applied the entry at index (rc from fsm_apply;
	 * results from offset off on are this entry's). */
	void (*applied)(void *arg, unsigned i, raft_index index, const void *buf, size_t len,
			int rc, const char *errmsg, struct qsg_wbuf *results, size_t off);
	void (*snapshotted)(void *arg, unsigned i, int rc);
	void (*restored)(void *arg, unsigned i, int rc, const char *errmsg);
	/* A fault was injected (kind, and the servers it acted on). */
	void (*faulted)(void *arg, enum fix_fault kind, unsigned i, unsigned j);
	/* FIX_CUSTOM slot drawn; the hook may draw from fx->rng. */
	void (*custom_fault)(void *arg, unsigned slot, unsigned i, unsigned j);
	/* FIX_LEADER drew "I/O fault": may it be armed? (default yes) */
	bool (*may_io_fault)(void *arg);
};

struct fix_config {
	unsigned n; /* servers, 1..FIX_MAX_N */
	uint64_t seed;
	unsigned snapshot_threshold;
	unsigned snapshot_trailing;
	bool zero_disk_latency; /* disk writes complete before any message */
	/* The fault table: one kind per slot, drawn uniformly. */
	const enum fix_fault *faults;
	unsigned nfaults;
	bool bidir; /* partitions and link heals act in both directions */
	/* FIX_LEADER/depose: relink the leader only when it will be deposed
	 * (otherwise always). */
	bool relink_if_healthy;
};

struct fix_srv {
	struct fix *fx;
	unsigned i;
};

struct fix {
	struct raft_fixture f;
	unsigned n;
	struct fsm *fsm[FIX_MAX_N];
	struct raft_fsm rfsm[FIX_MAX_N];
	struct fix_srv srv[FIX_MAX_N];
	uint64_t seed;
	uint64_t rng; /* prng.h state: every random choice of the test */
	bool killed[FIX_MAX_N];
	bool unavailable[FIX_MAX_N]; /* caller-set: left out of fix_converged */
	bool io_fault_pending; /* fail the leader's next append (fix_submit) */
	unsigned n_io_faults; /* appends failed by injection */
	unsigned n_faults; /* faults injected (FIX_NONE not counted) */
	bool failed; /* fix_fail() was called */
	char why[512]; /* room for the simulator's stall report */
	struct fix_config cfg;
	const struct fix_hooks *hooks;
	void *arg;
};

/* Bootstrap and start cfg->n servers. Returns 0, or -1 with fx->why. */
int fix_init(struct fix *fx, const struct fix_config *cfg, const struct fix_hooks *hooks,
	     void *arg);
/* Close the fixture (outstanding requests fail through their callbacks)
 * and the state machines. */
void fix_close(struct fix *fx);

/* Record the first violated property (later ones are ignored). */
void fix_fail(struct fix *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The leader's index, or -1: a live server in RAFT_LEADER state. */
int fix_leader(struct fix *fx);
static inline raft_time fix_time(struct fix *fx)
{
	return raft_fixture_time(&fx->f);
}

/* Submit an encoded entry (fsm_entry_begin/add) to server l in the daemon's
 * envelope (glue_entry_wrap). With may_fault, a pending injected I/O fault
 * is spent on it. Returns 0 (cb will be called), or the raft error
 * (the buffer is freed; cb is not called): RAFT_IOERR when the injected
 * fault fired (counted in n_io_faults), RAFT_NOTLEADER, or another error. */
int fix_submit(struct fix *fx, unsigned l, struct raft_apply *req, const struct qsg_wbuf *entry,
	       raft_apply_cb cb, bool may_fault);

/* Draw and inject one fault from the configured table. */
void fix_inject(struct fix *fx);
/* Reconnect and desaturate every link and revive every dead server (the
 * pending I/O fault, if any, stays armed). */
void fix_heal(struct fix *fx);
/* Every available server applied the leader's last index. */
bool fix_converged(struct fix *fx);
/* Step until converged or `ms` of simulated time passed. */
bool fix_step_until_converged(struct fix *fx, unsigned ms);

/* Visit each command of an applied entry with its result (the results as
 * fsm_apply wrote them, from results->data + off), in order, until cb
 * returns false. Returns false when a command or a result does not decode. */
typedef bool (*fix_entry_cb)(void *arg, const struct fsm_cmd *c, const struct fsm_result *res);
bool fix_entry_foreach(const void *entry, size_t len, const struct qsg_wbuf *results, size_t off,
		       fix_entry_cb cb, void *arg);
/* The first available server whose fsm_digest differs from the first
 * available server's, or -1 when they all agree. */
int fix_digest_mismatch(struct fix *fx);

#endif
