/* MQSC administration: DISPLAY (queues, queue status, group, queue manager,
 * channels, channel status, channel initiator, QMSTATUS). Reads the
 * member's own replica and answers at once. See admin.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* ------------------------------------------------------------------------
 * DISPLAY
 * ------------------------------------------------------------------------ */

#define DISP_MAX_ATTRS 32

/* DISPLAY builds each object in `names`/`values` with every attribute, then
 * obj_end applies WHERE and writes the attributes the command wants. */
struct display_ctx {
	const struct admin_env *env;
	const struct mqsc_cmd *mc;
	struct proto_admin_writer *aw;
	uint32_t count; /* objects written */
	size_t n;
	const char *names[DISP_MAX_ATTRS];
	char values[DISP_MAX_ATTRS][MQSC_VALUE_MAX + 1];
};

static void obj_begin(struct display_ctx *d)
{
	d->n = 0;
}

static void attr_str(struct display_ctx *d, const char *name, const char *value)
{
	if (d->n == DISP_MAX_ATTRS)
		return;
	d->names[d->n] = name;
	snprintf(d->values[d->n], sizeof d->values[d->n], "%s", value);
	d->n++;
}

/* Returns true when the object passed WHERE and was written. */
static bool obj_end(struct display_ctx *d)
{
	const char *values[DISP_MAX_ATTRS];
	for (size_t i = 0; i < d->n; i++)
		values[i] = d->values[i];
	if (!mqsc_where_matches(d->mc, d->n, d->names, values))
		return false;
	proto_admin_begin(d->aw);
	for (size_t i = 0; i < d->n; i++)
		if (mqsc_display_wants(d->mc, d->names[i]))
			proto_admin_attr(d->aw, d->names[i], values[i]);
	proto_admin_end(d->aw);
	d->count++;
	return true;
}

static void attr_u64(struct display_ctx *d, const char *name, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	attr_str(d, name, buf);
}

static void attr_i64(struct display_ctx *d, const char *name, int64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%" PRId64, v);
	attr_str(d, name, buf);
}

static const char *role_name(uint8_t role)
{
	switch (role) {
	case 1:
		return "FOLLOWER";
	case 2:
		return "CANDIDATE";
	case 3:
		return "LEADER";
	default:
		return "UNAVAILABLE";
	}
}

/* One attribute of the fsm_attrs.h tables as DISPLAY shows it: numbers in
 * decimal, enumerations by name, strings as stored. */
static void attr_table(struct display_ctx *d, const struct fsm_attr *t, const void *obj)
{
	if (t->names != NULL)
		attr_str(d, t->keyword, fsm_attr_enum_name(t->names, fsm_attr_num(t, obj)));
	else if (t->type == FSM_ATTR_U8 || t->type == FSM_ATTR_U32)
		attr_u64(d, t->keyword, fsm_attr_num(t, obj));
	else
		attr_str(d, t->keyword, fsm_attr_str(t, obj));
}

/* A local, remote or alias queue (t): QUEUE, TYPE, QSGDISP, the attributes
 * of its type in the table's DISPLAY order (an alias's TARGTYPE(QUEUE)
 * follows TARGET), then CURDEPTH for a local queue. */
static void display_q_one(struct display_ctx *d, const struct fsm_qinfo *q, uint8_t t)
{
	const struct fsm_qattrs *a = &q->attrs;
	const struct fsm_attr *x;

	obj_begin(d);
	attr_str(d, "QUEUE", a->name);
	attr_str(d, "TYPE", admin_qtype_name(t));
	attr_str(d, "QSGDISP", fsm_disp_name(a->disp));
	for (unsigned pos = 1; (x = fsm_qattr_at(t, pos)) != NULL; pos++) {
		attr_table(d, x, a);
		if (x->bit == FSM_QA_TARGET)
			attr_str(d, "TARGTYPE", "QUEUE");
	}
	if (t == FSM_QT_LOCAL)
		attr_u64(d, "CURDEPTH", q->curdepth);
	obj_end(d);
}

static void display_qstatus_one(struct display_ctx *d, const struct fsm_qinfo *q)
{
	obj_begin(d);
	attr_str(d, "QUEUE", q->attrs.name);
	attr_str(d, "TYPE", "QUEUE");
	attr_str(d, "QSGDISP", fsm_disp_name(q->attrs.disp));
	attr_u64(d, "CURDEPTH", q->curdepth);
	attr_u64(d, "UNCOM", q->uncommitted);
	attr_u64(d, "OPENS", q->opens);
	if (q->oldest_put_ms == 0) {
		attr_str(d, "MSGAGE", "");
	} else {
		int64_t age = (fsm_last_time(d->env->fsm) - q->oldest_put_ms) / 1000;
		attr_i64(d, "MSGAGE", age < 0 ? 0 : age);
	}
	attr_u64(d, "PUTS", q->puts_total);
	attr_u64(d, "GETS", q->gets_total);
	obj_end(d);
}

static int display_queue_cb(void *arg, const struct fsm_qinfo *q)
{
	struct display_ctx *d = arg;
	const struct mqsc_cmd *mc = d->mc;
	uint8_t t = admin_qtype_of(&q->attrs);
	if (!mqsc_name_matches(mc, q->attrs.name) ||
	    !admin_may_see(d->env, mc, FSM_AUTHOBJ_QUEUE, q->attrs.name))
		return 0;
	if (mc->obj == MQSC_OBJ_QUEUE	  ? false
	    : mc->obj == MQSC_OBJ_QSTATUS ? t != FSM_QT_LOCAL
					  : t != admin_obj_qtype(mc->obj))
		return 0;
	/* A member shows the group's objects and its own, never another
	 * member's; QSGDISP selects among them (default LIVE). DISPLAY
	 * QSTATUS is about messages: a GROUP local queue holds none (its
	 * copies do). */
	uint8_t mask = mc->disp_mask != 0 ? mc->disp_mask : MQSC_DISP_LIVE;
	if (mc->obj == MQSC_OBJ_QSTATUS)
		mask &= (uint8_t) ~(1u << FSM_DISP_GROUP);
	if ((mc->type_filter != 0 && t != mc->type_filter) ||
	    (mc->alias_filter && t != FSM_QT_ALIAS) ||
	    (q->attrs.scope != 0 && q->attrs.scope != d->env->member_id) ||
	    !(mask & (1u << q->attrs.disp)))
		return 0;
	if (mc->obj == MQSC_OBJ_QSTATUS)
		display_qstatus_one(d, q);
	else
		display_q_one(d, q, t);
	return 0;
}

static void display_member(struct display_ctx *d, const struct fsm_member *m, bool self)
{
	struct admin_raft_info ri;
	int64_t now = fsm_last_time(d->env->fsm);

	memset(&ri, 0, sizeof ri);
	ri.role = m->stats.role;
	ri.term = m->stats.term;
	ri.commit_index = m->stats.commit_index;
	ri.applied_index = m->stats.applied_index;
	if (m->state == FSM_MEMBER_FAILED)
		ri.role = 0;
	if (self && d->env->raft_info != NULL)
		d->env->raft_info(d->env->arg, &ri);

	obj_begin(d);
	attr_str(d, "QMNAME", m->name);
	attr_u64(d, "RAFTID", m->id);
	attr_str(d, "ROLE", role_name(ri.role));
	attr_u64(d, "TERM", ri.term);
	attr_u64(d, "COMMIT", ri.commit_index);
	attr_u64(d, "APPLIED", ri.applied_index);
	if (m->state == FSM_MEMBER_ACTIVE) {
		attr_str(d, "LEASE", "ACTIVE");
		attr_i64(d, "LEASEEXP", m->lease_expiry_ms - now);
	} else if (m->state == FSM_MEMBER_FAILED) {
		attr_str(d, "LEASE", "FAILED");
		attr_i64(d, "LEASEEXP", m->lease_expiry_ms - now);
	} else {
		attr_str(d, "LEASE", "NONE");
		attr_str(d, "LEASEEXP", "");
	}
	attr_u64(d, "CONNS", m->sessions);
	attr_str(d, "CONNAME", m->client_addr);
	/* The level it reported since its last join; until then (or for a
	 * build older than command levels) the lowest. */
	attr_u64(d, "CMDLEVEL", m->cmdlevel < FSM_CMDLEVEL_MIN ? FSM_CMDLEVEL_MIN : m->cmdlevel);
	obj_end(d);
}

static int display_member_cb(void *arg, const struct fsm_member *m)
{
	struct display_ctx *d = arg;
	display_member(d, m, m->id == d->env->member_id);
	return 0;
}

static void display_qmgr(struct display_ctx *d)
{
	struct admin_raft_info ri;
	struct fsm_member leader;
	char buf[FSM_NAME_MAX + 1];

	memset(&ri, 0, sizeof ri);
	if (d->env->raft_info != NULL)
		d->env->raft_info(d->env->arg, &ri);
	buf[0] = '\0';
	if (ri.leader_id != 0 && ri.leader_id <= UINT32_MAX &&
	    fsm_member_get(d->env->fsm, (uint32_t)ri.leader_id, &leader) == QSG_OK)
		snprintf(buf, sizeof buf, "%s", leader.name);
	else if (ri.leader_id == d->env->member_id && ri.leader_id != 0)
		snprintf(buf, sizeof buf, "%s", d->env->qmgr_name ? d->env->qmgr_name : "");

	obj_begin(d);
	attr_str(d, "QMNAME", d->env->qmgr_name ? d->env->qmgr_name : "");
	attr_str(d, "QSGNAME", d->env->group_name ? d->env->group_name : "");
	attr_u64(d, "RAFTID", d->env->member_id);
	attr_str(d, "ROLE", role_name(ri.role));
	attr_str(d, "LEADER", buf);
	struct fsm_qmgr_attrs qm;
	memset(&qm, 0, sizeof qm);
	(void)fsm_qmgr_get(d->env->fsm, &qm);
	attr_str(d, "DEADQ", qm.deadq);
	attr_str(d, "DESCR", qm.descr);
	/* This member's build, and the group's: the lowest of its members'
	 * (docs/lifecycle.md, "Command levels"). */
	attr_u64(d, "CMDLEVEL", FSM_CMDLEVEL);
	attr_u64(d, "GRPLEVEL", fsm_group_cmdlevel(d->env->fsm));
	obj_end(d);
}

static int display_channel_cb(void *arg, const struct fsm_chattrs *c)
{
	struct display_ctx *d = arg;

	bool priv = FSM_CH_PRIVATE(c);
	uint8_t disp = priv ? FSM_DISP_QMGR : FSM_DISP_GROUP;
	if (!mqsc_name_matches(d->mc, c->name) ||
	    !admin_may_see(d->env, d->mc, FSM_AUTHOBJ_CHANNEL, c->name) ||
	    (d->mc->chltype != 0 && c->chltype != d->mc->chltype) ||
	    (d->mc->disp_mask != 0 && !(d->mc->disp_mask & (1u << disp))))
		return 0;
	obj_begin(d);
	attr_str(d, "CHANNEL", c->name);
	/* The table's attributes in order; QSGDISP follows CHLTYPE, and a
	 * private channel (shown by every member: channel names are one
	 * name space) names its member in QMNAME. */
	for (size_t i = 0; i < fsm_chattr_count; i++) {
		attr_table(d, &fsm_chattr_table[i], c);
		if (fsm_chattr_table[i].bit == FSM_CA_CHLTYPE) {
			attr_str(d, "QSGDISP", priv ? "QMGR" : "GROUP");
			if (priv) {
				char nm[FSM_NAME_MAX + 16];
				admin_member_name(d->env, c->scope, nm, sizeof nm);
				attr_str(d, "QMNAME", nm);
			}
		}
	}
	obj_end(d);
	return 0;
}

/* Seconds from `then` to the replica's last applied entry time; "" when
 * then is 0 (never). */
static void attr_age(struct display_ctx *d, const char *name, int64_t then)
{
	if (then == 0) {
		attr_str(d, name, "");
		return;
	}
	int64_t age = (fsm_last_time(d->env->fsm) - then) / 1000;
	attr_i64(d, name, age < 0 ? 0 : age);
}

/* A sender's group-wide retry (docs/channels.md "Retry across the group"):
 * RETRIES, failed attempts in a row; SHORTRTS and LONGRTS, the short and
 * long retries left (as MQ's; the retry being waited for counts as used);
 * NXTRETRY, seconds until the next attempt ("" when none is timed). Blank
 * for inbound entries. */
static void attr_retry(struct display_ctx *d, const struct fsm_chstatus *s)
{
	struct fsm_chattrs def;
	if (s->chltype != FSM_CHL_SDR || fsm_channel_get(d->env->fsm, s->name, &def) != QSG_OK) {
		attr_str(d, "RETRIES", "");
		attr_str(d, "SHORTRTS", "");
		attr_str(d, "LONGRTS", "");
		attr_str(d, "NXTRETRY", "");
		return;
	}
	uint64_t n = s->retries;
	uint64_t sused = n < def.shortrty ? n : def.shortrty;
	uint64_t lused = n - sused < def.longrty ? n - sused : def.longrty;
	attr_u64(d, "RETRIES", n);
	attr_u64(d, "SHORTRTS", def.shortrty - sused);
	attr_u64(d, "LONGRTS", def.longrty - lused);
	if (s->img.state != FSM_CHS_RETRYING || s->retry_at_ms == 0) {
		attr_str(d, "NXTRETRY", "");
		return;
	}
	int64_t left = s->retry_at_ms - fsm_last_time(d->env->fsm);
	attr_i64(d, "NXTRETRY", left <= 0 ? 0 : (left + 999) / 1000);
}

/* A sender's destination black list (docs/channels.md "Destination black
 * list"): BLKCOUNT, the destinations listed; BLKLIST, each as
 * rqmname/rname:reason, space-separated, in the order they were listed
 * (cut at the value length; BLKCOUNT is whole). Blank for inbound
 * entries. */
static void attr_blklist(struct display_ctx *d, const struct fsm_chstatus *s)
{
	if (s->chltype != FSM_CHL_SDR) {
		attr_str(d, "BLKCOUNT", "");
		attr_str(d, "BLKLIST", "");
		return;
	}
	char list[MQSC_VALUE_MAX + 1] = "";
	size_t len = 0;
	for (uint32_t i = 0; i < s->nblk && i < FSM_CH_BLK_MAX && len < sizeof list - 1; i++) {
		const struct fsm_chblk *b = &s->blk[i];
		int w = snprintf(list + len, sizeof list - len, "%s%s/%s:%u", i > 0 ? " " : "",
				 b->rqmname, b->rname, (unsigned)b->reason);
		if (w < 0)
			break;
		len += (size_t)w < sizeof list - len ? (size_t)w : sizeof list - 1 - len;
	}
	attr_u64(d, "BLKCOUNT", s->nblk);
	attr_str(d, "BLKLIST", list);
}

static int display_chstatus_cb(void *arg, const struct fsm_chstatus *s)
{
	struct display_ctx *d = arg;
	char owner[FSM_NAME_MAX + 16];

	if (!mqsc_name_matches(d->mc, s->name) ||
	    !admin_may_see(d->env, d->mc, FSM_AUTHOBJ_CHANNEL, s->name) ||
	    (d->mc->chltype != 0 && s->chltype != d->mc->chltype))
		return 0;
	obj_begin(d);
	attr_str(d, "CHANNEL", s->name);
	attr_str(d, "CHLTYPE", admin_chltype_name(s->chltype));
	/* RQMNAME: the partner queue manager (RCVR: the key; SDR: from the
	 * partner's START reply). */
	attr_str(d, "RQMNAME", s->chltype == FSM_CHL_SDR ? s->partner : s->rqmname);
	attr_str(d, "XMITQ", s->xmitq);
	attr_str(d, "STATUS", fsm_chstate_name(s->img.state));
	admin_member_name(d->env, s->img.owner, owner, sizeof owner);
	attr_str(d, "OWNER", owner);
	attr_u64(d, "EPOCH", s->img.epoch);
	attr_str(d, "CONNAME", s->conname);
	attr_u64(d, "MSGS", s->msgs);
	attr_u64(d, "BATCHES", s->batches);
	attr_u64(d, "CURSEQNO", s->curseq);
	attr_u64(d, "LSTSEQNO", s->lstseq);
	attr_str(d, "INDOUBT", s->indoubt > 0 ? "YES" : "NO");
	attr_u64(d, "INDOUBTMSGS", s->indoubt);
	attr_age(d, "LSTMSGTI", s->last_msg_ms);
	attr_age(d, "CHSTATI", s->last_change_ms);
	attr_str(d, "REASON", s->reason);
	admin_member_name(d->env, s->prev_owner, owner, sizeof owner);
	attr_str(d, "PREVOWNER", owner);
	attr_retry(d, s);
	attr_blklist(d, s);
	obj_end(d);
	return 0;
}

/* Counts the active sender channels this member owns. */
static int count_owned_cb(void *arg, const struct fsm_chstatus *s)
{
	struct display_ctx *d = arg;
	if (s->chltype == FSM_CHL_SDR && s->img.exists && admin_chs_active(s->img.state) &&
	    s->img.owner == d->env->member_id)
		d->count++;
	return 0;
}

/* STATUS is this member's own view (RUNNING, STOPPED, FAILED: failed on
 * its own and restarts by itself after RESTART seconds, FENCED: its member
 * lost its lease); GROUP is what the replicated member table says, which
 * owner choice and peer recovery go by (RUNNING or STOPPED). */
static void display_chinit(struct display_ctx *d)
{
	struct admin_chinit_info ci;
	memset(&ci, 0, sizeof ci);
	if (d->env->chinit_info != NULL) {
		d->env->chinit_info(d->env->arg, &ci);
	} else {
		bool running =
		    d->env->chinit_running != NULL && d->env->chinit_running(d->env->arg) == 1;
		ci.status = running ? "RUNNING" : "STOPPED";
	}
	struct fsm_member me;
	bool published = fsm_member_get(d->env->fsm, d->env->member_id, &me) == QSG_OK &&
			 me.state == FSM_MEMBER_ACTIVE && me.chinit != 0;

	d->count = 0;
	fsm_chstatus_foreach(d->env->fsm, count_owned_cb, d);
	uint32_t owned = d->count;
	d->count = 0;
	obj_begin(d);
	attr_str(d, "QMNAME", d->env->qmgr_name ? d->env->qmgr_name : "");
	attr_str(d, "STATUS", ci.status != NULL ? ci.status : "STOPPED");
	attr_str(d, "GROUP", published ? "RUNNING" : "STOPPED");
	attr_u64(d, "CHANNELS", owned);
	attr_u64(d, "FAILURES", ci.failures);
	if (ci.status != NULL && strcmp(ci.status, "FAILED") == 0)
		attr_u64(d, "RESTART", (ci.restart_in_ms + 999) / 1000);
	if (ci.reason[0] != '\0')
		attr_str(d, "REASON", ci.reason);
	obj_end(d);
}

/* ------------------------------------------------------------------------
 * DISPLAY QMSTATUS TYPE(RAFT)
 * ------------------------------------------------------------------------ */

#define QMS_MAX_SERVERS 64
#define QMS_INSYNC_LAG 100 /* entries */

struct qms_ctx {
	struct display_ctx *d;
	struct admin_raft_info self;
	bool have_config;
	size_t nservers;
	struct admin_raft_server servers[QMS_MAX_SERVERS];
	bool seen[QMS_MAX_SERVERS]; /* server listed as a member */
	uint64_t leader_commit;
	unsigned voters, insync;
};

static int qms_commit_cb(void *arg, const struct fsm_member *m)
{
	struct qms_ctx *q = arg;
	if (m->stats.commit_index > q->leader_commit)
		q->leader_commit = m->stats.commit_index;
	return 0;
}

/* Is `id` a voter: from the Raft configuration when the daemon gives it
 * (not in it: no), else every member is taken as a voter (the bootstrap
 * configuration). */
static bool qms_voter(struct qms_ctx *q, uint64_t id)
{
	if (!q->have_config)
		return true;
	for (size_t i = 0; i < q->nservers; i++)
		if (q->servers[i].id == id) {
			q->seen[i] = true;
			return q->servers[i].voter != 0;
		}
	return false;
}

static void qms_member(struct qms_ctx *q, const struct fsm_member *m, bool self)
{
	struct display_ctx *d = q->d;
	int64_t now = fsm_last_time(d->env->fsm);
	uint8_t role = m->state == FSM_MEMBER_FAILED ? 0 : m->stats.role;
	uint64_t term = m->stats.term, commit = m->stats.commit_index;
	uint64_t applied = m->stats.applied_index;

	if (self) {
		role = q->self.role;
		term = q->self.term;
		commit = q->self.commit_index;
		applied = q->self.applied_index;
	}
	uint64_t lag = q->leader_commit > applied ? q->leader_commit - applied : 0;
	bool active = m->state == FSM_MEMBER_ACTIVE && m->lease_expiry_ms >= now;
	bool insync = active && lag <= QMS_INSYNC_LAG;
	bool voter = qms_voter(q, m->id);

	if (voter) {
		q->voters++;
		if (insync)
			q->insync++;
	}
	obj_begin(d);
	attr_str(d, "QMNAME", m->name);
	attr_u64(d, "RAFTID", m->id);
	attr_str(d, "ROLE", role_name(role));
	attr_u64(d, "TERM", term);
	attr_u64(d, "COMMIT", commit);
	attr_u64(d, "APPLIED", applied);
	attr_u64(d, "LAG", lag);
	attr_str(d, "INSYNC", insync ? "YES" : "NO");
	attr_str(d, "VOTER", voter ? "YES" : "NO");
	attr_str(d, "LEASE",
		 m->state == FSM_MEMBER_ACTIVE	 ? (active ? "ACTIVE" : "EXPIRED")
		 : m->state == FSM_MEMBER_FAILED ? "FAILED"
						 : "NONE");
	obj_end(d);
}

static int qms_member_cb(void *arg, const struct fsm_member *m)
{
	struct qms_ctx *q = arg;
	qms_member(q, m, m->id == q->d->env->member_id);
	return 0;
}

static void display_qmstatus(struct display_ctx *d)
{
	const struct admin_env *env = d->env;
	struct qms_ctx *q = calloc(1, sizeof *q);
	struct fsm_member m;
	char buf[32];

	if (q == NULL) {
		d->aw->buf.err = QSG_RC_STORAGE_NOT_AVAILABLE;
		return;
	}
	q->d = d;
	if (env->raft_info != NULL)
		env->raft_info(env->arg, &q->self);
	if (env->raft_config != NULL) {
		size_t n = env->raft_config(env->arg, q->servers, QMS_MAX_SERVERS);
		q->have_config = true;
		q->nservers = n < QMS_MAX_SERVERS ? n : QMS_MAX_SERVERS;
	}
	/* The leader's commit index: live when the serving member leads, else
	 * as the leader reported it in its last renewal; without a known
	 * leader the highest commit index any member reported. */
	q->leader_commit = q->self.commit_index;
	if (q->self.leader_id == env->member_id) {
		/* live */
	} else if (q->self.leader_id != 0 && q->self.leader_id <= UINT32_MAX &&
		   fsm_member_get(env->fsm, (uint32_t)q->self.leader_id, &m) == QSG_OK) {
		q->leader_commit = m.stats.commit_index;
	} else {
		fsm_member_foreach(env->fsm, qms_commit_cb, q);
	}

	bool self_known = fsm_member_get(env->fsm, env->member_id, &m) == QSG_OK;
	fsm_member_foreach(env->fsm, qms_member_cb, q);
	if (!self_known) {
		memset(&m, 0, sizeof m);
		m.id = env->member_id;
		snprintf(m.name, sizeof m.name, "%s", env->qmgr_name ? env->qmgr_name : "");
		qms_member(q, &m, true);
	}
	/* Servers of the Raft configuration that never joined the group. */
	for (size_t i = 0; i < q->nservers; i++) {
		if (q->seen[i] || q->servers[i].id == env->member_id)
			continue;
		memset(&m, 0, sizeof m);
		m.id = (uint32_t)q->servers[i].id;
		qms_member(q, &m, false);
	}

	/* Summary: not subject to WHERE or attribute selection. */
	char leader[FSM_NAME_MAX + 16] = "";
	if (q->self.leader_id != 0 && q->self.leader_id <= UINT32_MAX)
		admin_member_name(env, (uint32_t)q->self.leader_id, leader, sizeof leader);
	if (q->self.leader_id == env->member_id && env->qmgr_name != NULL)
		snprintf(leader, sizeof leader, "%s", env->qmgr_name);
	proto_admin_begin(d->aw);
	proto_admin_attr(d->aw, "QSGNAME", env->group_name ? env->group_name : "");
	proto_admin_attr(d->aw, "LEADER", leader);
	snprintf(buf, sizeof buf, "%u/%u", q->insync, q->voters);
	proto_admin_attr(d->aw, "QUORUM", buf);
	snprintf(buf, sizeof buf, "%u", q->voters / 2 + 1);
	proto_admin_attr(d->aw, "MAJORITY", buf);
	snprintf(buf, sizeof buf, "%s",
		 q->voters > 0 && q->insync >= q->voters / 2 + 1 ? "YES" : "NO");
	proto_admin_attr(d->aw, "HAVEQUORUM", buf);
	proto_admin_end(d->aw);
	free(q);
}

void admin_exec_display(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg)
{
	struct proto_admin_writer aw;
	struct display_ctx d = {.env = env, .mc = mc, .aw = &aw};
	char text[ADMIN_TEXT_SIZE];
	int rc = QSG_OK;

	proto_admin_init(&aw);
	switch (mc->obj) {
	case MQSC_OBJ_QLOCAL:
	case MQSC_OBJ_QUEUE:
	case MQSC_OBJ_QREMOTE:
	case MQSC_OBJ_QALIAS:
	case MQSC_OBJ_QSTATUS:
		if (mc->generic) {
			fsm_queue_foreach(env->fsm, display_queue_cb, &d);
		} else {
			/* The member's own object of that name and the group's. */
			struct fsm_qinfo qi;
			if (env->member_id != 0 &&
			    fsm_queue_info(env->fsm, env->member_id, mc->name, &qi) == QSG_OK)
				display_queue_cb(&d, &qi);
			if (fsm_queue_info(env->fsm, 0, mc->name, &qi) == QSG_OK)
				display_queue_cb(&d, &qi);
		}
		if (d.count == 0 && !mc->generic) {
			rc = QSG_RC_UNKNOWN_OBJECT;
			snprintf(text, sizeof text, "QSG0003E: %s(%s) not found: %s (%d).",
				 mqsc_obj_name(mc->obj), mc->name, qsg_rc_name(rc), rc);
		} else if (d.count == 0) {
			snprintf(text, sizeof text, "QSG0013I: No queues match %s(%s).",
				 mqsc_obj_name(mc->obj), mc->name);
		} else {
			snprintf(text, sizeof text, "QSG0012I: Display %s details.",
				 mc->obj == MQSC_OBJ_QSTATUS ? "queue status" : "queue");
		}
		break;
	case MQSC_OBJ_GROUP: {
		struct fsm_member self;
		bool self_known = fsm_member_get(env->fsm, env->member_id, &self) == QSG_OK;
		fsm_member_foreach(env->fsm, display_member_cb, &d);
		if (!self_known) {
			/* Not joined yet: still show our own live view. */
			memset(&self, 0, sizeof self);
			self.id = env->member_id;
			snprintf(self.name, sizeof self.name, "%s",
				 env->qmgr_name ? env->qmgr_name : "");
			display_member(&d, &self, true);
		}
		snprintf(text, sizeof text, "QSG0014I: Display group details (members: %u).",
			 (unsigned)d.count);
		break;
	}
	case MQSC_OBJ_QMGR:
		display_qmgr(&d);
		snprintf(text, sizeof text, "QSG0015I: Display queue manager details.");
		break;
	case MQSC_OBJ_CHANNEL:
		if (mc->generic) {
			fsm_channel_foreach(env->fsm, display_channel_cb, &d);
		} else {
			struct fsm_chattrs ca;
			if (fsm_channel_get(env->fsm, mc->name, &ca) == QSG_OK)
				display_channel_cb(&d, &ca);
		}
		if (d.count == 0 && !mc->generic) {
			rc = QSG_RC_CHANNEL_NOT_FOUND;
			snprintf(text, sizeof text, "QSG0003E: CHANNEL(%s) not found: %s (%d).",
				 mc->name, qsg_rc_name(rc), rc);
		} else if (d.count == 0) {
			snprintf(text, sizeof text, "QSG0017I: No channels match CHANNEL(%s).",
				 mc->name);
		} else {
			snprintf(text, sizeof text, "QSG0016I: Display channel details.");
		}
		break;
	case MQSC_OBJ_CHSTATUS:
		fsm_chstatus_foreach(env->fsm, display_chstatus_cb, &d);
		if (d.count == 0 && !mc->generic) {
			rc = QSG_RC_CHANNEL_NOT_FOUND;
			snprintf(text, sizeof text, "QSG0019E: no status for channel %s: %s (%d).",
				 mc->name, qsg_rc_name(rc), rc);
		} else if (d.count == 0) {
			snprintf(text, sizeof text,
				 "QSG0017I: No channel status matches CHSTATUS(%s).", mc->name);
		} else {
			snprintf(text, sizeof text, "QSG0018I: Display channel status details.");
		}
		break;
	case MQSC_OBJ_CHINIT:
		display_chinit(&d);
		snprintf(text, sizeof text, "QSG0030I: Display channel initiator details.");
		break;
	case MQSC_OBJ_QMSTATUS:
		display_qmstatus(&d);
		snprintf(text, sizeof text,
			 "QSG0037I: Display queue manager status details (members: %u).",
			 (unsigned)d.count);
		break;
	case MQSC_OBJ_MEMBER:
	case MQSC_OBJ_LEADER:
	case MQSC_OBJ_SECURITY:
	case MQSC_OBJ_AUTHREC: /* admin_authrec.c */
	case MQSC_OBJ_ENTAUTH:
	case MQSC_OBJ_CHLAUTH: /* admin_chlauth.c */
	case MQSC_OBJ_USER: /* admin_user.c */
		rc = QSG_RC_MQSC_SYNTAX;
		snprintf(text, sizeof text, "QSG0001E: DISPLAY %s is not supported: %s (%d).",
			 mqsc_obj_name(mc->obj), qsg_rc_name(rc), rc);
		break;
	}
	admin_display_done(&aw, mqsc_obj_name(mc->obj), rc, text, done, arg);
}

/* START/STOP CHINIT: this member's channel initiator, synchronously. */
