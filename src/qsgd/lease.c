#include "lease.h"

#include <stdlib.h>
#include <string.h>

#include "raft-glue/glue.h"

#define MAX_RENEW_INFLIGHT 4
#define LEASE_SENT_RING 64 /* renewals remembered for join_seen (about 13 s at 200 ms) */
#define LEVEL_RETRY_MS 10000 /* MEMBER_LEVEL again after an older leader refused it */

enum lease_op_kind {
	OP_JOIN = 1,
	OP_RENEW = 2,
	OP_FAIL = 3,
	OP_EXPIRE = 4,
	OP_REMOVE = 5,
	OP_BACKOUT = 6,
	OP_LEVEL = 7,
	OP_KINDS
};

struct lease {
	struct qsgd *d;
	uv_timer_t tick; /* every renew_ms */
	uv_timer_t fence; /* last acknowledged send + lease_ms - renew_ms */
	uv_timer_t expire; /* every expire_interval_ms */
	unsigned nclosed;
	/* Submissions not yet completed, by kind (a join, a backout and an
	 * expiry go one at a time; renewals up to MAX_RENEW_INFLIGHT).
	 * submit counts before it submits and op_done uncounts first: a
	 * submit may complete before it returns (forward_send out of memory). */
	unsigned busy[OP_KINDS];
	bool closing;
	bool joined; /* a MEMBER_JOIN was acknowledged (and not FAILED since) */
	/* This member's replica has shown it ACTIVE since the last acknowledged
	 * MEMBER_JOIN. Until it has, a FAILED state in the replica is an old one
	 * (the join was applied by the leader, not here yet: a member catching
	 * up, or whose applies are deferred) and must not start another join,
	 * which would detach its sessions again (a join storm). ACTIVE counts
	 * only with one of this process's renewals sent after that join was
	 * acknowledged (the replica's stats of the member are those of a renewal
	 * in sent[]): a replica replaying the log from before a restart shows
	 * the member ACTIVE from before its failure, then FAILED, and only then
	 * the new join. No clock is compared: entry times are the leaders'
	 * (monotonic, held back after a leader whose clock ran ahead), this
	 * member's wall clock may be skewed (docs/storage.md, "Leases that do
	 * not lie"). */
	bool join_seen;
	struct fsm_member_stats sent[LEASE_SENT_RING];
	unsigned nsent; /* renewals recorded in sent[] since the join's ack */
	bool fenced;
	bool have_ack;
	uint64_t last_ack_send; /* uv_now() when the last acknowledged renewal was sent */
	bool is_leader;
	uint64_t leader_since;
	uint32_t failing[QSGD_MAX_MEMBERS]; /* MEMBER_FAIL/REMOVE in flight for these ids */
	uint64_t fenced_since; /* uv_now when this member was last fenced */
	/* A MEMBER_JOIN_BOUNDED or MEMBER_REMOVE_BOUNDED was answered
	 * QSG_RC_UNKNOWN_OP or QSG_RC_BAD_FRAME: an older build leads (a
	 * rolling upgrade, docs/lifecycle.md). From then on this member sends
	 * MEMBER_JOIN and MEMBER_REMOVE, which every build knows, for the rest
	 * of the process's life (a restart clears it). */
	bool legacy_ops;
	/* MEMBER_LEVEL (the command level of this build, fsm.h): sent when the
	 * replica shows this member active with another level (after every
	 * join); not before level_retry_at (uv_now) after an older leader
	 * refused it. */
	uint64_t level_retry_at;
	bool level_refused_logged;
};

struct lease_op {
	struct lease *l;
	int kind;
	uint8_t cmd_op; /* the command's enum fsm_op: its result's layout */
	uint64_t sent;
	uint32_t member_id;
	int64_t expiry;
	char name[FSM_NAME_MAX + 1];
};

static void maybe_free(struct lease *l)
{
	unsigned inflight = 0;
	for (unsigned k = 0; k < OP_KINDS; k++)
		inflight += l->busy[k];
	if (l->closing && l->nclosed == 3 && inflight == 0)
		free(l);
}

static void set_fenced(struct lease *l, bool fenced, const char *why)
{
	struct qsgd *d = l->d;
	if (l->fenced == fenced)
		return;
	l->fenced = fenced;
	l->fenced_since = uv_now(d->loop);
	if (fenced)
		QLOG_WARNING(d->log, "QSG4002W", "member %s fenced: %s; closing client connections",
			     d->cfg->name, why);
	else
		QLOG_INFO_(d->log, "QSG4001I", "member %s active: lease renewed", d->cfg->name);
	d->ops->set_fenced(d, fenced, true);
}

static void fence_cb(uv_timer_t *t)
{
	struct lease *l = t->data;
	char why[128];
	snprintf(why, sizeof why, "no lease renewal acknowledged for %u ms",
		 l->d->cfg->lease_ms - l->d->cfg->renew_ms);
	set_fenced(l, true, why);
}

static void acked(struct lease *l, uint64_t sent)
{
	const struct qsgd_config *cfg = l->d->cfg;
	if (l->have_ack && sent <= l->last_ack_send)
		return;
	l->have_ack = true;
	l->last_ack_send = sent;
	uint64_t deadline = sent + cfg->lease_ms - cfg->renew_ms;
	uint64_t now = uv_now(l->d->loop);
	if (deadline <= now)
		return; /* too old to extend the lease; the fence timer decides */
	uv_timer_start(&l->fence, fence_cb, deadline - now, 0);
	set_fenced(l, false, NULL);
}

static void unmark_failing(struct lease *l, uint32_t id)
{
	for (unsigned i = 0; i < QSGD_MAX_MEMBERS; i++)
		if (l->failing[i] == id)
			l->failing[i] = 0;
}

static void backout_kick(struct lease *l);
static void expire_kick(struct lease *l);

/* The answer to a bounded JOIN or REMOVE says the leader cannot decode it:
 * it runs a build older than ops 49 and 56. Fall back to ops 40 and 45;
 * true if this answer was such a refusal. */
static bool legacy_fallback(struct lease *l, const struct lease_op *op, int rc)
{
	if (rc != QSG_RC_UNKNOWN_OP && rc != QSG_RC_BAD_FRAME)
		return false;
	if (op->cmd_op != FSM_OP_MEMBER_JOIN_BOUNDED && op->cmd_op != FSM_OP_MEMBER_REMOVE_BOUNDED)
		return false;
	if (!l->legacy_ops)
		QLOG_WARNING(l->d->log, "QSG4009W",
			     "the leader refused %s (%s): it runs an older build; member %s sends "
			     "MEMBER_JOIN and MEMBER_REMOVE (op 40, 45) until it restarts",
			     op->cmd_op == FSM_OP_MEMBER_JOIN_BOUNDED ? "MEMBER_JOIN_BOUNDED"
								      : "MEMBER_REMOVE_BOUNDED",
			     qsg_rc_name(rc), l->d->cfg->name);
	l->legacy_ops = true;
	return true;
}

static void op_done(void *arg, int status, const void *result, size_t len)
{
	struct lease_op *op = arg;
	struct lease *l = op->l;
	struct qsgd *d = l->d;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE];
	int rc = status;

	l->busy[op->kind]--;
	if (rc == QSG_OK)
		rc = fsm_result_decode(op->cmd_op, result, len, &res, errmsg);
	if (rc == QSG_OK)
		rc = res.rc;
	switch (op->kind) {
	case OP_JOIN:
		if (rc == QSG_OK && !l->closing) {
			if (!l->joined)
				QLOG_INFO_(d->log, "QSG4004I", "member %s (id %u) joined group %s",
					   d->cfg->name, d->cfg->id, d->cfg->group);
			l->joined = true;
			l->join_seen = false;
			l->nsent = 0;
			acked(l, op->sent);
			backout_kick(l); /* leading: its old sessions' backout */
		} else if (rc != QSG_OK && !legacy_fallback(l, op, rc)) {
			QLOG_DBG(d->log, "QSG4010D", "MEMBER_JOIN: %s", qsg_rc_name(rc));
		}
		break;
	case OP_RENEW:
		if (l->closing)
			break;
		if (rc == QSG_OK)
			acked(l, op->sent);
		else if (status == QSG_OK && l->joined) {
			/* Applied but refused: the group no longer knows us as active. */
			QLOG_WARNING(d->log, "QSG4005W", "lease renewal refused (%s): rejoining",
				     qsg_rc_name(rc));
			l->joined = false;
		}
		break;
	case OP_FAIL:
		unmark_failing(l, op->member_id);
		if (rc == QSG_OK)
			QLOG_WARNING(d->log, "QSG4003W",
				     "member %s (id %u) declared failed: lease expired at %lld",
				     op->name, op->member_id, (long long)op->expiry);
		else
			QLOG_DBG(d->log, "QSG4011D", "MEMBER_FAIL %s: %s", op->name,
				 qsg_rc_name(rc));
		backout_kick(l);
		break;
	case OP_BACKOUT:
		if (rc != QSG_OK)
			QLOG_DBG(d->log, "QSG4014D", "BACKOUT_PENDING: %s", qsg_rc_name(rc));
		else
			backout_kick(l);
		break;
	case OP_REMOVE: {
		unmark_failing(l, op->member_id);
		struct fsm_member m;
		if (rc == QSG_OK && fsm_member_get(d->fsm, op->member_id, &m) == QSG_OK)
			/* Its sessions' backout is pending: the tick sends it
			 * again once that is done. */
			QLOG_DBG(d->log, "QSG4013D", "MEMBER_REMOVE %s: waits for its backout",
				 op->name);
		else if (rc == QSG_OK)
			QLOG_INFO_(d->log, "QSG4007I",
				   "member %s (id %u) forgotten: it failed and is no longer in the "
				   "Raft configuration",
				   op->name, op->member_id);
		else if (!legacy_fallback(l, op, rc))
			QLOG_DBG(d->log, "QSG4013D", "MEMBER_REMOVE %s: %s", op->name,
				 qsg_rc_name(rc));
		backout_kick(l);
		break;
	}
	case OP_LEVEL:
		if (rc == QSG_RC_UNKNOWN_OP || rc == QSG_RC_BAD_FRAME) {
			/* An older build leads: it cannot record levels, and the
			 * group's level stays the lowest. Ask again later. */
			if (!l->level_refused_logged)
				QLOG_WARNING(d->log, "QSG4015W",
					     "the leader refused MEMBER_LEVEL (%s): it runs an "
					     "older build; the group stays at command level %u",
					     qsg_rc_name(rc), FSM_CMDLEVEL_MIN);
			l->level_refused_logged = true;
			l->level_retry_at = uv_now(d->loop) + LEVEL_RETRY_MS;
		} else if (rc == QSG_OK) {
			/* Not the group's level: this replica may not have
			 * applied the report yet (DISPLAY QMGR GRPLEVEL). */
			QLOG_INFO_(d->log, "QSG4016I", "member %s reported command level %u",
				   d->cfg->name, d->cmdlevel);
			l->level_refused_logged = false;
		} else {
			QLOG_DBG(d->log, "QSG4017D", "MEMBER_LEVEL: %s", qsg_rc_name(rc));
		}
		break;
	case OP_EXPIRE:
		if (rc != QSG_OK)
			QLOG_DBG(d->log, "QSG4012D", "EXPIRE: %s", qsg_rc_name(rc));
		else if (!l->closing && fsm_expire_more(d->fsm))
			expire_kick(l); /* more are due: the next budget at once */
		break;
	default:
		break;
	}
	free(op);
	maybe_free(l);
}

/* Submit cmd as an op of `kind` about the member in `about` (NULL: none).
 * Everything op_done reads or undoes is in place before the submit, which
 * may complete before it returns. */
static int submit(struct lease *l, const struct fsm_cmd *cmd, enum lease_op_kind kind,
		  const struct lease_op *about)
{
	struct lease_op *op = calloc(1, sizeof *op);
	if (op == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	if (about != NULL)
		*op = *about;
	op->l = l;
	op->kind = kind;
	op->cmd_op = cmd->op;
	op->sent = uv_now(l->d->loop);
	l->busy[kind]++;
	int rc = l->d->ops->submit(l->d, cmd, op_done, op);
	if (rc != QSG_OK) {
		l->busy[kind]--;
		free(op);
	}
	return rc;
}

/* Leader: continue the backout of failed, restarted or forgotten members'
 * units of work (MEMBER_FAIL_BOUNDED, MEMBER_JOIN_BOUNDED,
 * MEMBER_REMOVE_BOUNDED), one bounded BACKOUT_PENDING at a time
 * (fsm_backout_pending, fsm.h): the next goes when the previous one is
 * applied, so the backout advances at the log's pace without filling it.
 * Kicked by the answers to those commands when this member sent them, and
 * by every lease tick while this member leads, from its first (a JOIN
 * another member sent, a new leader: no grace, as it declares nobody
 * failed). */
static void backout_kick(struct lease *l)
{
	if (l->closing || !l->is_leader || l->busy[OP_BACKOUT] > 0 ||
	    fsm_backout_pending(l->d->fsm) == 0)
		return;
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_BACKOUT_PENDING;
	submit(l, &cmd, OP_BACKOUT, NULL);
}

struct scan {
	struct lease *l;
	int64_t now;
	struct glue_member cfg[GLUE_MAX_SERVERS];
	size_t ncfg;
};

static bool in_config(const struct scan *sc, uint32_t id)
{
	for (size_t i = 0; i < sc->ncfg; i++)
		if (sc->cfg[i].id == id)
			return true;
	return false;
}

/* The op that forgets a member: MEMBER_REMOVE_QMGR (its private channels
 * leave with it, docs/channels.md "Private channels") once every member in
 * the table applies level 4, MEMBER_REMOVE_BOUNDED before (an older build
 * could not decode it). */
static uint8_t remove_op(struct fsm *f)
{
	return fsm_group_cmdlevel(f) >= 4 ? FSM_OP_MEMBER_REMOVE_QMGR
					  : FSM_OP_MEMBER_REMOVE_BOUNDED;
}

static int scan_member(void *arg, const struct fsm_member *m)
{
	struct scan *sc = arg;
	struct lease *l = sc->l;
	unsigned free_slot = QSGD_MAX_MEMBERS;

	/* An ACTIVE member whose lease expired is declared FAILED; a FAILED
	 * member that REMOVE MEMBER took out of the Raft configuration is
	 * forgotten (DISPLAY GROUP no longer lists it). */
	bool expired = m->state == FSM_MEMBER_ACTIVE && m->lease_expiry_ms < sc->now;
	bool removed = m->state == FSM_MEMBER_FAILED && sc->ncfg > 0 && !in_config(sc, m->id);
	if (!expired && !removed)
		return 0;
	/* A MEMBER_REMOVE_BOUNDED would wait for the backout of its sessions
	 * anyway (other members' pending backouts do not hold it). */
	if (!expired && fsm_backout_pending_owned(l->d->fsm, m->id) > 0)
		return 0;
	for (unsigned i = 0; i < QSGD_MAX_MEMBERS; i++) {
		if (l->failing[i] == m->id)
			return 0; /* already in flight */
		if (l->failing[i] == 0 && free_slot == QSGD_MAX_MEMBERS)
			free_slot = i;
	}
	if (free_slot == QSGD_MAX_MEMBERS)
		return 0;
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	/* The bounded forms: the backout of its units of work continues in
	 * BACKOUT_PENDING commands (backout_kick), no apply is O(messages).
	 * MEMBER_REMOVE after an older leader refused op 56 (legacy_ops);
	 * MEMBER_REMOVE_QMGR once the group is at level 4 (remove_op). */
	if (expired)
		cmd.op = FSM_OP_MEMBER_FAIL_BOUNDED;
	else if (l->legacy_ops)
		cmd.op = FSM_OP_MEMBER_REMOVE;
	else
		cmd.op = remove_op(l->d->fsm);
	cmd.member_id = m->id;
	if (expired)
		cmd.seq = (uint64_t)m->lease_expiry_ms;
	struct lease_op about = {.member_id = m->id, .expiry = m->lease_expiry_ms};
	snprintf(about.name, sizeof about.name, "%s", m->name);
	l->failing[free_slot] = m->id;
	if (submit(l, &cmd, expired ? OP_FAIL : OP_REMOVE, &about) != QSG_OK)
		l->failing[free_slot] = 0;
	return 0;
}

/* Record this build's command level in the member table once the replica
 * shows the member active with another one (a join resets it). */
static void level_report(struct lease *l, const struct fsm_member *m)
{
	struct qsgd *d = l->d;
	if (m->cmdlevel == d->cmdlevel || l->busy[OP_LEVEL] > 0 ||
	    uv_now(d->loop) < l->level_retry_at)
		return;
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_MEMBER_LEVEL;
	cmd.member_id = d->cfg->id;
	cmd.seq = d->cmdlevel;
	submit(l, &cmd, OP_LEVEL, NULL);
}

/* One of the last LEASE_SENT_RING renewals sent since the join's ack
 * reported these stats (join_seen). */
static bool sent_since_join(const struct lease *l, const struct fsm_member_stats *s)
{
	unsigned n = l->nsent < LEASE_SENT_RING ? l->nsent : LEASE_SENT_RING;
	for (unsigned i = 0; i < n; i++) {
		const struct fsm_member_stats *e = &l->sent[i];
		if (e->role == s->role && e->term == s->term &&
		    e->commit_index == s->commit_index && e->applied_index == s->applied_index &&
		    e->last_index == s->last_index)
			return true;
	}
	return false;
}

static void tick_cb(uv_timer_t *t)
{
	struct lease *l = t->data;
	struct qsgd *d = l->d;
	struct glue_info info;
	struct fsm_cmd cmd;

	d->ops->info(d, &info);
	/* Role callbacks may not report the initial role: track it here too. */
	lease_on_role(l, 0, info.role);
	if (info.role != GLUE_LEADER && info.leader_id == 0)
		return; /* nobody to renew with; the fence timer runs on */
	if (l->joined) {
		struct fsm_member m;
		if (fsm_member_get(d->fsm, d->cfg->id, &m) != QSG_OK) {
			/* not applied here yet */
		} else if (m.state == FSM_MEMBER_ACTIVE) {
			if (sent_since_join(l, &m.stats))
				l->join_seen = true;
			level_report(l, &m);
		} else if (m.state == FSM_MEMBER_FAILED && l->join_seen) {
			QLOG_WARNING(d->log, "QSG4005W", "member %s was declared failed: rejoining",
				     d->cfg->name);
			l->joined = false;
		}
	}
	memset(&cmd, 0, sizeof cmd);
	cmd.member_id = d->cfg->id;
	cmd.seq = d->cfg->lease_ms;
	if (!l->joined) {
		if (l->busy[OP_JOIN] == 0) {
			/* MEMBER_JOIN once an older leader refused op 49. */
			cmd.op = l->legacy_ops ? FSM_OP_MEMBER_JOIN : FSM_OP_MEMBER_JOIN_BOUNDED;
			snprintf(cmd.name, sizeof cmd.name, "%s", d->cfg->name);
			snprintf(cmd.raft_addr, sizeof cmd.raft_addr, "%s", d->cfg->raft);
			snprintf(cmd.client_addr, sizeof cmd.client_addr, "%s", d->cfg->listen);
			submit(l, &cmd, OP_JOIN, NULL);
		}
	} else if (l->busy[OP_RENEW] < MAX_RENEW_INFLIGHT) {
		cmd.op = FSM_OP_LEASE_RENEW;
		cmd.stats.role = info.role;
		cmd.stats.term = info.term;
		cmd.stats.commit_index = info.commit_index;
		cmd.stats.applied_index = info.applied_index;
		cmd.stats.last_index = info.last_index;
		l->sent[l->nsent++ % LEASE_SENT_RING] = cmd.stats;
		submit(l, &cmd, OP_RENEW, NULL);
	}
	/* A leader that cannot get even its own renewal committed for three
	 * leases while libraft keeps it leader (so it still reaches a
	 * majority) has a stalled log write -- libraft 0.15 can leave an
	 * append that failed with EIO pending for ever. It fail-stops so that
	 * another member can lead; the supervisor restarts it. */
	if (l->is_leader && l->fenced && d->fatal != NULL &&
	    uv_now(d->loop) - l->fenced_since > 3ull * d->cfg->lease_ms &&
	    uv_now(d->loop) - l->leader_since > 3ull * d->cfg->lease_ms) {
		QLOG_ERR(d->log, "QSG4006E",
			 "leader %s has committed nothing for %u ms (stalled log write?): "
			 "stopping so that another member can lead",
			 d->cfg->name, 3 * d->cfg->lease_ms);
		d->fatal(d, "leader cannot commit");
		return;
	}
	/* Leader: declare members whose lease expired, after the grace. */
	if (l->is_leader && uv_now(d->loop) - l->leader_since >= d->cfg->lease_ms) {
		struct scan sc = {.l = l, .now = qsgd_group_ms(d)};
		sc.ncfg = d->ops->config(d, sc.cfg, GLUE_MAX_SERVERS);
		fsm_member_foreach(d->fsm, scan_member, &sc);
	}
	/* Leader: a pending backout goes on from the first tick (a new leader
	 * takes it over at once: BACKOUT_PENDING needs no grace). */
	backout_kick(l);
}

/* Leader: one EXPIRE_BOUNDED (expired messages, old detached sessions) at
 * a time; every expire_interval_ms, and again as soon as one applied with
 * messages still due (fsm_expire_more). */
static void expire_kick(struct lease *l)
{
	if (l->closing || !l->is_leader || l->busy[OP_EXPIRE] > 0)
		return;
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_EXPIRE_BOUNDED;
	cmd.seq = (uint64_t)l->d->cfg->session_expiry_s * 1000;
	submit(l, &cmd, OP_EXPIRE, NULL);
}

static void expire_cb(uv_timer_t *t)
{
	expire_kick(t->data);
}

int lease_init(struct lease **out, struct qsgd *d, char *errmsg)
{
	struct lease *l = calloc(1, sizeof *l);
	if (l == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	l->d = d;
	l->fenced = true; /* until the first renewal is acknowledged */
	l->fenced_since = uv_now(d->loop);
	uv_timer_init(d->loop, &l->tick);
	uv_timer_init(d->loop, &l->fence);
	uv_timer_init(d->loop, &l->expire);
	l->tick.data = l->fence.data = l->expire.data = l;
	*out = l;
	return QSG_OK;
}

void lease_start(struct lease *l)
{
	const struct qsgd_config *cfg = l->d->cfg;
	l->d->ops->set_fenced(l->d, true, false); /* clients only */
	uv_timer_start(&l->tick, tick_cb, 0, cfg->renew_ms);
	uv_timer_start(&l->expire, expire_cb, cfg->expire_interval_ms, cfg->expire_interval_ms);
}

static void timer_closed(uv_handle_t *h)
{
	struct lease *l = h->data;
	l->nclosed++;
	maybe_free(l);
}

void lease_close(struct lease *l)
{
	l->closing = true;
	uv_close((uv_handle_t *)&l->tick, timer_closed);
	uv_close((uv_handle_t *)&l->fence, timer_closed);
	uv_close((uv_handle_t *)&l->expire, timer_closed);
}

void lease_on_role(struct lease *l, int old_role, int new_role)
{
	(void)old_role;
	bool leader = new_role == GLUE_LEADER;
	if (leader && !l->is_leader)
		l->leader_since = uv_now(l->d->loop);
	l->is_leader = leader;
}

bool lease_fenced(const struct lease *l)
{
	return l->fenced;
}
