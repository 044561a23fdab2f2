/* The shared raft_fixture harness (fixture.h). */
#include "fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "raft-glue/fsm_adapter.h"
#include "raft-glue/glue.h"

void fix_fail(struct fix *fx, const char *fmt, ...)
{
	va_list ap;

	if (fx->failed)
		return;
	fx->failed = true;
	va_start(ap, fmt);
	vsnprintf(fx->why, sizeof fx->why, fmt, ap);
	va_end(ap);
}

/* ---- the state machine behind each server ---- */

static int sm_apply(void *data, const void *buf, size_t len, struct qsg_wbuf *results)
{
	struct fix_srv *sv = data;
	struct fix *fx = sv->fx;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	raft_index index = raft_fixture_get(&fx->f, sv->i)->last_applied + 1;
	size_t off = results != NULL ? results->len : 0;
	int rc = fsm_apply(fx->fsm[sv->i], buf, len, results, errmsg);

	if (fx->hooks != NULL && fx->hooks->applied != NULL)
		fx->hooks->applied(fx->arg, sv->i, index, buf, len, rc, errmsg, results, off);
	return rc;
}

static int sm_snapshot(void *data, struct qsg_wbuf *out)
{
	struct fix_srv *sv = data;
	struct fix *fx = sv->fx;
	int rc = fsm_snapshot(fx->fsm[sv->i], out);

	if (fx->hooks != NULL && fx->hooks->snapshotted != NULL)
		fx->hooks->snapshotted(fx->arg, sv->i, rc);
	return rc;
}

static int sm_restore(void *data, const void *buf, size_t len)
{
	struct fix_srv *sv = data;
	struct fix *fx = sv->fx;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	int rc = fsm_restore(fx->fsm[sv->i], buf, len, errmsg);

	if (fx->hooks != NULL && fx->hooks->restored != NULL)
		fx->hooks->restored(fx->arg, sv->i, rc, errmsg);
	return rc;
}

int fix_init(struct fix *fx, const struct fix_config *cfg, const struct fix_hooks *hooks, void *arg)
{
	struct raft_configuration conf;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	unsigned i;
	int rv;

	memset(fx, 0, sizeof *fx);
	if (cfg->n == 0 || cfg->n > FIX_MAX_N) {
		fix_fail(fx, "fix_init: %u servers", cfg->n);
		return -1;
	}
	fx->cfg = *cfg;
	fx->n = cfg->n;
	fx->seed = cfg->seed;
	fx->rng = prng_seed(cfg->seed);
	fx->hooks = hooks;
	fx->arg = arg;
	if (raft_fixture_initialize(&fx->f) != 0) {
		fix_fail(fx, "raft_fixture_initialize failed");
		return -1;
	}
	for (i = 0; i < fx->n; i++) {
		struct glue_sm sm = {0};
		struct raft *r;

		if (fsm_init(&fx->fsm[i], errmsg) != QSG_OK) {
			fix_fail(fx, "fsm_init: %s", errmsg);
			return -1;
		}
		fx->srv[i].fx = fx;
		fx->srv[i].i = i;
		sm.data = &fx->srv[i];
		sm.apply = sm_apply;
		sm.snapshot = sm_snapshot;
		sm.restore = sm_restore;
		if (glue_fsm_adapter_init(&fx->rfsm[i], &sm) != QSG_OK ||
		    raft_fixture_grow(&fx->f, &fx->rfsm[i]) != 0) {
			fix_fail(fx, "cannot add server %u", i + 1);
			return -1;
		}
		r = raft_fixture_get(&fx->f, i);
		raft_set_snapshot_threshold(r, cfg->snapshot_threshold);
		raft_set_snapshot_trailing(r, cfg->snapshot_trailing);
		raft_set_pre_vote(r, true);
	}
	/* The members' body providers form one ring: a member that installs a
	 * snapshot fetches the content it lacks from its peers, as a member
	 * catching up would (fsm_bodies_mem_peer). */
	for (i = 1; i < fx->n; i++)
		fsm_bodies_mem_peer(fx->fsm[i], fx->fsm[0]);
	if (cfg->zero_disk_latency)
		for (i = 0; i < fx->n; i++)
			raft_fixture_set_disk_latency(&fx->f, i, 0);
	raft_configuration_init(&conf);
	rv = raft_fixture_configuration(&fx->f, fx->n, &conf);
	if (rv == 0)
		rv = raft_fixture_bootstrap(&fx->f, &conf);
	raft_configuration_close(&conf);
	if (rv == 0)
		rv = raft_fixture_start(&fx->f);
	if (rv != 0) {
		fix_fail(fx, "cannot start the fixture: %s", raft_strerror(rv));
		return -1;
	}
	return 0;
}

void fix_close(struct fix *fx)
{
	raft_fixture_close(&fx->f);
	for (unsigned i = 0; i < fx->n; i++) {
		glue_fsm_adapter_close(&fx->rfsm[i]);
		fsm_close(fx->fsm[i]);
	}
}

int fix_leader(struct fix *fx)
{
	unsigned i;

	if (fx->f.leader_id == 0)
		return -1;
	i = (unsigned)fx->f.leader_id - 1;
	if (!raft_fixture_alive(&fx->f, i) ||
	    raft_state(raft_fixture_get(&fx->f, i)) != RAFT_LEADER)
		return -1;
	return (int)i;
}

int fix_submit(struct fix *fx, unsigned l, struct raft_apply *req, const struct qsg_wbuf *entry,
	       raft_apply_cb cb, bool may_fault)
{
	struct raft_buffer buf;
	bool fault = may_fault && fx->io_fault_pending;
	int rv;

	if (entry->err != QSG_OK || glue_entry_wrap(entry->data, entry->len, &buf) != 0) {
		fix_fail(fx, "cannot wrap an entry of %zu bytes", entry->len);
		return RAFT_NOMEM;
	}
	if (fault) {
		/* Spent by raft_apply's own io->append (fixture.h). */
		fx->io_fault_pending = false;
		raft_fixture_io_fault(&fx->f, l, 0, 1);
	}
	rv = raft_apply(raft_fixture_get(&fx->f, l), req, &buf, 1, cb);
	if (fault)
		raft_fixture_io_fault(&fx->f, l, -1, 0);
	if (rv != 0) {
		/* Not submitted: the buffer is still ours (libraft 0.15). */
		raft_free(buf.base);
		if (fault && rv == RAFT_IOERR)
			fx->n_io_faults++;
		return rv;
	}
	if (fault)
		fix_fail(fx, "injected append fault did not fire in raft_apply");
	return 0;
}

/* ---- faults ---- */

static void faulted(struct fix *fx, enum fix_fault kind, unsigned i, unsigned j)
{
	if (fx->hooks != NULL && fx->hooks->faulted != NULL)
		fx->hooks->faulted(fx->arg, kind, i, j);
}

static void link_down(struct fix *fx, unsigned i, unsigned j)
{
	raft_fixture_disconnect(&fx->f, i, j);
	if (fx->cfg.bidir)
		raft_fixture_disconnect(&fx->f, j, i);
}

static void link_up(struct fix *fx, unsigned i, unsigned j)
{
	raft_fixture_reconnect(&fx->f, i, j);
	if (fx->cfg.bidir) {
		raft_fixture_reconnect(&fx->f, j, i);
		raft_fixture_desaturate(&fx->f, i, j);
		raft_fixture_desaturate(&fx->f, j, i);
	}
}

static void leader_fault(struct fix *fx, int l)
{
	if (prng_pick(&fx->rng, 2) == 0) {
		bool may = fx->hooks == NULL || fx->hooks->may_io_fault == NULL ||
			   fx->hooks->may_io_fault(fx->arg);

		fx->io_fault_pending = may;
		if (may)
			faulted(fx, FIX_LEADER, (unsigned)(l >= 0 ? l : 0), 0);
		return;
	}
	if (l < 0 || fx->failed)
		return;
	bool healthy = true;

	for (unsigned k = 0; k < fx->n; k++)
		healthy = healthy && !fx->killed[k];
	if (fx->cfg.relink_if_healthy && !healthy)
		return;
	/* raft_fixture_depose() asserts that the leader steps down: relink
	 * the leader first, and only depose with nobody dead. */
	for (unsigned k = 0; k < fx->n; k++) {
		if (k == (unsigned)l)
			continue;
		raft_fixture_reconnect(&fx->f, (unsigned)l, k);
		raft_fixture_desaturate(&fx->f, (unsigned)l, k);
		if (fx->cfg.bidir) {
			raft_fixture_reconnect(&fx->f, k, (unsigned)l);
			raft_fixture_desaturate(&fx->f, k, (unsigned)l);
		}
	}
	if (healthy) {
		faulted(fx, FIX_LEADER, (unsigned)l, 1);
		raft_fixture_depose(&fx->f);
	}
}

void fix_inject(struct fix *fx)
{
	unsigned i = prng_pick(&fx->rng, fx->n);
	unsigned j = (i + 1 + prng_pick(&fx->rng, fx->n - 1)) % fx->n;
	unsigned slot = prng_pick(&fx->rng, fx->cfg.nfaults);
	enum fix_fault kind = fx->cfg.nfaults > 0 ? fx->cfg.faults[slot] : FIX_NONE;
	int l = fix_leader(fx);

	if (kind != FIX_NONE)
		fx->n_faults++;
	switch (kind) {
	case FIX_NONE:
		break;
	case FIX_PARTITION:
		link_down(fx, i, j);
		faulted(fx, kind, i, j);
		break;
	case FIX_HEAL_LINK:
		link_up(fx, i, j);
		faulted(fx, kind, i, j);
		break;
	case FIX_KILL:
		if (!fx->killed[i]) {
			raft_fixture_kill(&fx->f, i);
			fx->killed[i] = true;
			faulted(fx, kind, i, j);
		}
		break;
	case FIX_REVIVE:
		if (fx->killed[i]) {
			raft_fixture_revive(&fx->f, i);
			fx->killed[i] = false;
			faulted(fx, kind, i, j);
		}
		break;
	case FIX_REVIVE_ANY:
		for (i = 0; i < fx->n; i++)
			if (fx->killed[i]) {
				raft_fixture_revive(&fx->f, i);
				fx->killed[i] = false;
				faulted(fx, kind, i, j);
				break;
			}
		break;
	case FIX_SATURATE:
		raft_fixture_saturate(&fx->f, i, j);
		faulted(fx, kind, i, j);
		break;
	case FIX_DESATURATE:
		raft_fixture_desaturate(&fx->f, i, j);
		faulted(fx, kind, i, j);
		break;
	case FIX_LEADER:
		leader_fault(fx, l);
		break;
	case FIX_ISOLATE_LEADER:
		if (l >= 0) {
			for (unsigned k = 0; k < fx->n; k++)
				if (k != (unsigned)l) {
					raft_fixture_disconnect(&fx->f, (unsigned)l, k);
					raft_fixture_disconnect(&fx->f, k, (unsigned)l);
				}
			faulted(fx, kind, (unsigned)l, 0);
		}
		break;
	case FIX_HEAL_NETWORK:
		for (unsigned a = 0; a < fx->n; a++)
			for (unsigned b = 0; b < fx->n; b++)
				if (a != b) {
					raft_fixture_reconnect(&fx->f, a, b);
					raft_fixture_desaturate(&fx->f, a, b);
				}
		faulted(fx, kind, i, j);
		break;
	case FIX_CUSTOM:
		if (fx->hooks != NULL && fx->hooks->custom_fault != NULL)
			fx->hooks->custom_fault(fx->arg, slot, i, j);
		break;
	}
}

void fix_heal(struct fix *fx)
{
	for (unsigned i = 0; i < fx->n; i++) {
		for (unsigned j = 0; j < fx->n; j++)
			if (i != j) {
				raft_fixture_reconnect(&fx->f, i, j);
				raft_fixture_desaturate(&fx->f, i, j);
			}
		if (fx->killed[i]) {
			raft_fixture_revive(&fx->f, i);
			fx->killed[i] = false;
		}
	}
}

bool fix_converged(struct fix *fx)
{
	int l = fix_leader(fx);
	raft_index last;

	if (l < 0)
		return false;
	last = raft_last_index(raft_fixture_get(&fx->f, (unsigned)l));
	for (unsigned i = 0; i < fx->n; i++)
		if (!fx->unavailable[i] && raft_last_applied(raft_fixture_get(&fx->f, i)) != last)
			return false;
	return true;
}

static bool converged_cb(struct raft_fixture *f, void *arg)
{
	(void)f;
	return fix_converged(arg);
}

bool fix_step_until_converged(struct fix *fx, unsigned ms)
{
	return raft_fixture_step_until(&fx->f, converged_cb, fx, ms);
}

int fix_digest_mismatch(struct fix *fx)
{
	bool first = true;
	uint64_t digest = 0;

	for (unsigned i = 0; i < fx->n; i++) {
		if (fx->unavailable[i])
			continue;
		uint64_t d = fsm_digest(fx->fsm[i]);
		if (first) {
			digest = d;
			first = false;
		} else if (d != digest) {
			return (int)i;
		}
	}
	return -1;
}

bool fix_entry_foreach(const void *entry, size_t len, const struct qsg_wbuf *results, size_t off,
		       fix_entry_cb cb, void *arg)
{
	struct fsm_entry_reader er;
	struct qsg_rbuf rr;

	if (fsm_entry_read_begin(&er, entry, len, NULL) != QSG_OK)
		return false;
	qsg_rbuf_init(&rr, results->data + off, results->len - off);
	for (uint32_t k = 0; k < er.count; k++) {
		struct qsg_slice cp;
		struct fsm_cmd c;
		struct fsm_result out;

		if (fsm_entry_read_next(&er, &cp, NULL) != QSG_OK)
			return false;
		uint32_t rl = qsg_get_u32(&rr);
		struct qsg_slice rp = qsg_get_raw(&rr, rl);
		if (rr.err != QSG_OK || fsm_cmd_decode(cp.p, cp.len, &c, NULL) != QSG_OK ||
		    fsm_result_decode(c.op, rp.p, rp.len, &out, NULL) != QSG_OK)
			return false;
		if (!cb(arg, &c, &out))
			break;
	}
	return true;
}
