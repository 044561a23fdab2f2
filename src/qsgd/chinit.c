/* The channel initiator: start/stop, fencing, reconciliation of the shared
 * channel status table with the instances running here, and peer recovery
 * (see chinit.h and docs/channels.md). */
#include <stdlib.h>
#include <string.h>

#include "chinit_int.h"
#include "lease.h"

#define TICK_MS 1000

const char *chinit_member_name(struct chinit *ci, uint32_t id, char *buf, size_t len)
{
	struct fsm_member m;
	if (id != 0 && fsm_member_get(ci->d->fsm, id, &m) == QSG_OK)
		snprintf(buf, len, "%s", m.name);
	else
		snprintf(buf, len, "member %u", id);
	return buf;
}

static bool active_state(uint8_t st)
{
	return st == FSM_CHS_STARTING || st == FSM_CHS_RUNNING || st == FSM_CHS_RETRYING ||
	       st == FSM_CHS_RECOVERING;
}

void chinit_log_change(struct chinit *ci, const char *name, const char *rqmname,
		       const struct fsm_chimage *before, const struct fsm_chimage *after,
		       const char *reason)
{
	char a[FSM_NAME_MAX + 16], b[FSM_NAME_MAX + 16];
	const char *key = rqmname[0] != '\0' ? rqmname : "";
	if (!after->exists) {
		QLOG_INFO_(ci->d->log, "QSG5003I",
			   "channel %s%s%s status removed (was %s on %s): %s", name,
			   key[0] ? " from " : "", key, fsm_chstate_name(before->state),
			   chinit_member_name(ci, before->owner, a, sizeof a), reason);
	} else if (!before->exists || before->owner != after->owner) {
		QLOG_INFO_(ci->d->log, "QSG5001I",
			   "channel %s owner %s -> %s, %s -> %s, epoch %llu: %s", name,
			   before->exists ? chinit_member_name(ci, before->owner, a, sizeof a)
					  : "(none)",
			   chinit_member_name(ci, after->owner, b, sizeof b),
			   fsm_chstate_name(before->state), fsm_chstate_name(after->state),
			   (unsigned long long)after->epoch, reason);
	} else {
		QLOG_INFO_(ci->d->log, "QSG5002I", "channel %s on %s: %s -> %s, epoch %llu: %s",
			   name, chinit_member_name(ci, after->owner, a, sizeof a),
			   fsm_chstate_name(before->state), fsm_chstate_name(after->state),
			   (unsigned long long)after->epoch, reason);
	}
}

/* ---- owner choice (pure) ---- */

struct pick_ctx {
	struct fsm *f;
	uint32_t exclude;
	uint32_t best;
	uint32_t best_rank[3]; /* excluded, leader, load */
};

struct load_ctx {
	uint32_t member;
	uint32_t n;
};

static int count_load(void *arg, const struct fsm_chstatus *s)
{
	struct load_ctx *l = arg;
	if (s->chltype == FSM_CHL_SDR && s->img.owner == l->member && active_state(s->img.state))
		l->n++;
	return 0;
}

/* Rank: avoid `exclude`, then avoid the Raft leader (as last reported in its
 * lease renewal: a channel owner that is also the leader costs an election
 * on top of the takeover when it fails), then the lowest load, then the
 * lowest id (members are visited in id order). */
static int pick_member(void *arg, const struct fsm_member *m)
{
	struct pick_ctx *p = arg;
	if (m->state != FSM_MEMBER_ACTIVE || !m->chinit)
		return 0;
	struct load_ctx l = {.member = m->id};
	fsm_chstatus_foreach(p->f, count_load, &l);
	uint32_t rank[3] = {m->id == p->exclude, m->stats.role == 3, l.n};
	bool better = p->best == 0;
	for (int i = 0; i < 3 && !better; i++) {
		if (rank[i] != p->best_rank[i]) {
			better = rank[i] < p->best_rank[i];
			break;
		}
	}
	if (better) {
		p->best = m->id;
		memcpy(p->best_rank, rank, sizeof rank);
	}
	return 0;
}

uint32_t chinit_pick_owner(struct fsm *f, uint32_t exclude)
{
	struct pick_ctx p = {.f = f, .exclude = exclude};
	fsm_member_foreach(f, pick_member, &p);
	return p.best;
}

/* ---- refs and bookkeeping ---- */

static void maybe_free(struct chinit *ci)
{
	if (ci->closing && ci->nclosed == 3 && ci->refs == 0) {
		struct chretry *r = ci->retries;
		while (r != NULL) {
			struct chretry *n = r->next;
			free(r);
			r = n;
		}
		free(ci);
	}
}

void chinit_ref(struct chinit *ci)
{
	ci->refs++;
}

void chinit_unref(struct chinit *ci)
{
	ci->refs--;
	maybe_free(ci);
}

struct chretry *chinit_retry(struct chinit *ci, const char *name)
{
	for (struct chretry *r = ci->retries; r != NULL; r = r->next)
		if (strcmp(r->name, name) == 0)
			return r;
	struct chretry *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	snprintf(r->name, sizeof r->name, "%s", name);
	r->next = ci->retries;
	ci->retries = r;
	return r;
}

void chinit_retry_clear(struct chinit *ci, const char *name)
{
	for (struct chretry *r = ci->retries; r != NULL; r = r->next)
		if (strcmp(r->name, name) == 0)
			r->count = 0;
}

static struct chpend *pend_find(struct chinit *ci, const char *name, const char *rqmname)
{
	for (unsigned i = 0; i < CH_MAX_PENDING; i++)
		if (ci->pend[i].used && strcmp(ci->pend[i].name, name) == 0 &&
		    strcmp(ci->pend[i].rqmname, rqmname) == 0)
			return &ci->pend[i];
	return NULL;
}

static struct chpend *pend_add(struct chinit *ci, const char *name, const char *rqmname)
{
	for (unsigned i = 0; i < CH_MAX_PENDING; i++) {
		if (!ci->pend[i].used) {
			ci->pend[i].used = true;
			snprintf(ci->pend[i].name, sizeof ci->pend[i].name, "%s", name);
			snprintf(ci->pend[i].rqmname, sizeof ci->pend[i].rqmname, "%s", rqmname);
			return &ci->pend[i];
		}
	}
	return NULL;
}

/* ---- CAS submitted by reconciliation ---- */

struct cas_req {
	struct chinit *ci;
	struct chpend *pend;
	char name[FSM_CHNAME_MAX + 1];
	char rqmname[FSM_NAME_MAX + 1];
	struct fsm_chimage before, after;
	char reason[FSM_REASON_MAX + 1];
};

static void cas_done(void *arg, int status, const void *result, size_t len)
{
	struct cas_req *r = arg;
	struct chinit *ci = r->ci;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	r->pend->used = false;
	if (status == QSG_OK &&
	    fsm_result_decode(FSM_OP_CHST_CAS, result, len, &res, errmsg) == QSG_OK) {
		if (res.rc == QSG_OK)
			chinit_log_change(ci, r->name, r->rqmname, &r->before, &r->after,
					  r->reason);
		else if (res.rc != QSG_RC_CAS_FAILED)
			QLOG_WARNING(ci->d->log, "QSG5010W",
				     "channel %s: status change refused: %s", r->name,
				     qsg_rc_name(res.rc));
		/* CAS_FAILED: another member got there first; nothing to do. */
	} else if (status != QSG_OK) {
		QLOG_DBG(ci->d->log, "QSG5011D", "channel %s: status change not made (%s)", r->name,
			 qsg_rc_name(status));
	}
	free(r);
	chinit_unref(ci);
}

static void submit_cas(struct chinit *ci, const struct fsm_chstatus *st,
		       const struct fsm_chimage *after, const char *reason)
{
	if (pend_find(ci, st->name, st->rqmname) != NULL)
		return;
	struct chpend *p = pend_add(ci, st->name, st->rqmname);
	struct cas_req *r = calloc(1, sizeof *r);
	if (p == NULL || r == NULL) {
		if (p != NULL)
			p->used = false;
		free(r);
		return;
	}
	r->ci = ci;
	r->pend = p;
	snprintf(r->name, sizeof r->name, "%s", st->name);
	snprintf(r->rqmname, sizeof r->rqmname, "%s", st->rqmname);
	r->before = st->img;
	r->after = *after;
	snprintf(r->reason, sizeof r->reason, "%s", reason);

	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_CHST_CAS;
	snprintf(cmd.ch.name, sizeof cmd.ch.name, "%s", st->name);
	snprintf(cmd.ch.rqmname, sizeof cmd.ch.rqmname, "%s", st->rqmname);
	cmd.ch.chltype = st->chltype;
	cmd.ch.before = st->img;
	cmd.ch.after = *after;
	snprintf(cmd.ch.reason, sizeof cmd.ch.reason, "%s", reason);
	chinit_ref(ci);
	if (qsgd_submit(ci->d, &cmd, cas_done, r) != QSG_OK) {
		p->used = false;
		free(r);
		chinit_unref(ci);
	}
}

/* ---- publishing our channel initiator state ---- */

static void publish_done(void *arg, int status, const void *result, size_t len)
{
	struct chinit *ci = arg;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE];
	ci->publish_inflight = false;
	(void)(status == QSG_OK &&
	       fsm_result_decode(FSM_OP_CHINIT_STATE, result, len, &res, errmsg) == QSG_OK);
	chinit_unref(ci);
}

static void publish(struct chinit *ci)
{
	struct fsm_member m;
	if (ci->publish_inflight || ci->fenced || ci->closing)
		return;
	if (fsm_member_get(ci->d->fsm, ci->d->cfg->id, &m) != QSG_OK ||
	    m.state != FSM_MEMBER_ACTIVE)
		return; /* not joined yet */
	if ((m.chinit != 0) == ci->running)
		return;
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_CHINIT_STATE;
	cmd.ch.member_id = ci->d->cfg->id;
	cmd.ch.chinit = ci->running ? 1 : 0;
	chinit_ref(ci);
	ci->publish_inflight = true;
	if (qsgd_submit(ci->d, &cmd, publish_done, ci) != QSG_OK) {
		ci->publish_inflight = false;
		chinit_unref(ci);
	}
}

/* ---- reconciliation ---- */

static struct chsdr *find_sdr(struct chinit *ci, const char *name)
{
	for (struct chsdr *s = ci->sdrs; s != NULL; s = chsdr_next(s))
		if (strcmp(chsdr_name(s), name) == 0)
			return s;
	return NULL;
}

struct rec_ctx {
	struct chinit *ci;
	uint32_t self;
};

static int reconcile_entry(void *arg, const struct fsm_chstatus *st)
{
	struct rec_ctx *x = arg;
	struct chinit *ci = x->ci;
	struct fsm *f = ci->d->fsm;
	char why[256], nm[FSM_NAME_MAX + 16];
	struct fsm_chimage after;

	if (pend_find(ci, st->name, st->rqmname) != NULL)
		return 0;
	uint32_t owner = st->img.owner;
	struct fsm_member om;
	bool owner_failed = owner != 0 && (fsm_member_get(f, owner, &om) != QSG_OK ||
					   om.state == FSM_MEMBER_FAILED);

	if (st->chltype == FSM_CHL_RCVR) {
		/* Inbound entries of a failed member are removed so the partner
		 * can reconnect anywhere; our own stale ones too. */
		bool ours_stale = owner == x->self;
		for (struct chrcv *r = ci->rcvs; r != NULL && ours_stale; r = chrcv_next(r))
			if (chrcv_matches(r, st->name, st->rqmname, st->img.epoch))
				ours_stale = false;
		if (ours_stale) {
			memset(&after, 0, sizeof after);
			submit_cas(ci, st, &after, "inbound connection no longer here");
		} else if (owner_failed) {
			memset(&after, 0, sizeof after);
			snprintf(why, sizeof why, "peer recovery: %s failed",
				 chinit_member_name(ci, owner, nm, sizeof nm));
			submit_cas(ci, st, &after, why);
		}
		return 0;
	}

	/* Sender entries. */
	struct chsdr *s = find_sdr(ci, st->name);
	if (s != NULL) {
		chsdr_entry_changed(s, st, true);
		s = find_sdr(ci, st->name);
	}
	if (!active_state(st->img.state))
		return 0; /* STOPPED stays stopped */

	if (owner == x->self) {
		if (s != NULL && chsdr_epoch(s) == st->img.epoch)
			return 0; /* ours and running here */
		if (st->img.state == FSM_CHS_STARTING && ci->running && !ci->closing) {
			struct chretry *r = chinit_retry(ci, st->name);
			if (s != NULL || r == NULL)
				return 0;
			if (r->started_epoch >= st->img.epoch) {
				/* An instance of this epoch already ran here and
				 * ended: never a second one with the same epoch. */
				after = st->img;
				after.epoch = st->img.epoch + 1;
				snprintf(why, sizeof why, "restart: instance of epoch %llu ended",
					 (unsigned long long)st->img.epoch);
				submit_cas(ci, st, &after, why);
				return 0;
			}
			r->started_epoch = st->img.epoch;
			chsdr_start(ci, st);
			return 0;
		}
		if (st->img.state == FSM_CHS_RETRYING && s != NULL)
			return 0;
		/* Active, ours, but no instance for it here: we restarted, or our
		 * channel initiator is stopped. Restart it on a member chosen by
		 * load (ourselves only if our initiator runs). */
		uint32_t target = chinit_pick_owner(f, ci->running ? 0 : x->self);
		if (target == 0 || (target == x->self && !ci->running)) {
			if (st->img.state == FSM_CHS_RECOVERING)
				return 0;
			after = st->img;
			after.state = FSM_CHS_RECOVERING;
			submit_cas(ci, st, &after, "recovering: no channel initiator available");
			return 0;
		}
		after.exists = 1;
		after.owner = target;
		after.state = FSM_CHS_STARTING;
		after.epoch = st->img.epoch + 1;
		snprintf(why, sizeof why, "%s by %s",
			 ci->running ? "restarted" : "channel initiator stopped: moved",
			 ci->d->cfg->name);
		submit_cas(ci, st, &after, why);
		return 0;
	}
	if (owner_failed) {
		/* Peer recovery: every surviving member races; the CAS lets one
		 * win. */
		uint32_t target = chinit_pick_owner(f, owner);
		after.exists = 1;
		if (target == 0) {
			after.owner = x->self;
			after.state = FSM_CHS_RECOVERING;
			after.epoch = st->img.epoch;
		} else {
			after.owner = target;
			after.state = FSM_CHS_STARTING;
			after.epoch = st->img.epoch + 1;
		}
		snprintf(why, sizeof why, "peer recovery: %s failed, recovered by %s",
			 chinit_member_name(ci, owner, nm, sizeof nm), ci->d->cfg->name);
		submit_cas(ci, st, &after, why);
	}
	return 0;
}

static void reconcile(struct chinit *ci)
{
	struct fsm_member me;
	if (!ci->begun || ci->closing || ci->fenced)
		return;
	if (fsm_member_get(ci->d->fsm, ci->d->cfg->id, &me) != QSG_OK ||
	    me.state != FSM_MEMBER_ACTIVE)
		return;
	publish(ci);
	/* Instances whose entry is gone. */
	for (struct chsdr *s = ci->sdrs, *n; s != NULL; s = n) {
		n = chsdr_next(s);
		struct fsm_chstatus st;
		if (fsm_chstatus_get(ci->d->fsm, chsdr_name(s), "", &st) != QSG_OK)
			chsdr_entry_changed(s, NULL, false);
	}
	struct rec_ctx x = {.ci = ci, .self = ci->d->cfg->id};
	fsm_chstatus_foreach(ci->d->fsm, reconcile_entry, &x);
}

static void on_check(uv_check_t *h)
{
	struct chinit *ci = h->data;
	uint64_t g = fsm_chan_generation(ci->d->fsm);
	if (g != ci->gen_seen) {
		ci->gen_seen = g;
		reconcile(ci);
	}
}

static void on_tick(uv_timer_t *t)
{
	reconcile(t->data);
}

/* ---- public ---- */

int chinit_init(struct chinit **out, struct qsgd *d, char *errmsg)
{
	struct chinit *ci = calloc(1, sizeof *ci);
	if (ci == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	ci->d = d;
	uv_check_init(d->loop, &ci->check);
	ci->check.data = ci;
	uv_timer_init(d->loop, &ci->tick);
	ci->tick.data = ci;
	stream_set_init(&ci->set, d->loop);
	ci->set.data = ci;
	*out = ci;
	return QSG_OK;
}

void chinit_begin(struct chinit *ci, bool autostart)
{
	ci->begun = true;
	ci->running = autostart;
	if (autostart)
		QLOG_INFO_(ci->d->log, "QSG5020I", "channel initiator %s started",
			   ci->d->cfg->name);
	uv_check_start(&ci->check, on_check);
	uv_timer_start(&ci->tick, on_tick, TICK_MS, TICK_MS);
}

static void end_all(struct chinit *ci, const char *why)
{
	for (struct chsdr *s = ci->sdrs, *n; s != NULL; s = n) {
		n = chsdr_next(s);
		chsdr_abort(s, why);
	}
	for (struct chrcv *r = ci->rcvs, *n; r != NULL; r = n) {
		n = chrcv_next(r);
		chrcv_abort(r, QSG_RC_Q_MGR_STOPPING, why);
	}
}

static void handle_closed(uv_handle_t *h)
{
	struct chinit *ci = h->data;
	ci->nclosed++;
	maybe_free(ci);
}

static void set_closed(struct stream_set *set)
{
	struct chinit *ci = set->data;
	ci->nclosed++;
	maybe_free(ci);
}

void chinit_close(struct chinit *ci)
{
	if (ci->closing)
		return;
	ci->closing = true;
	end_all(ci, "queue manager stopping");
	uv_close((uv_handle_t *)&ci->check, handle_closed);
	uv_close((uv_handle_t *)&ci->tick, handle_closed);
	stream_set_close(&ci->set, set_closed);
}

int chinit_start(struct chinit *ci, char *errmsg)
{
	if (ci->running)
		return qsg_errf(errmsg, QSG_RC_CHANNEL_ACTIVE,
				"channel initiator %s is already running", ci->d->cfg->name);
	ci->running = true;
	QLOG_INFO_(ci->d->log, "QSG5020I", "channel initiator %s started", ci->d->cfg->name);
	reconcile(ci);
	return QSG_OK;
}

int chinit_stop(struct chinit *ci, char *errmsg)
{
	if (!ci->running)
		return qsg_errf(errmsg, QSG_RC_CHINIT_NOT_RUNNING,
				"channel initiator %s is not running", ci->d->cfg->name);
	ci->running = false;
	QLOG_INFO_(ci->d->log, "QSG5021I",
		   "channel initiator %s stopped; its channels are restarted on other members",
		   ci->d->cfg->name);
	end_all(ci, "channel initiator stopped");
	reconcile(ci);
	return QSG_OK;
}

bool chinit_running(const struct chinit *ci)
{
	return ci->running;
}

void chinit_set_fenced(struct chinit *ci, bool fenced)
{
	if (ci->fenced == fenced)
		return;
	ci->fenced = fenced;
	if (fenced)
		end_all(ci, "member fenced (lease lost)");
	else
		reconcile(ci);
}

void chinit_notify_queue(struct chinit *ci, const char *queue)
{
	for (struct chsdr *s = ci->sdrs; s != NULL; s = chsdr_next(s))
		chsdr_notify_queue(s, queue);
}
