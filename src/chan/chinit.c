/* The channel initiator: start/stop, fencing, reconciliation of the shared
 * channel status table with the instances running here, and peer recovery
 * (see chinit.h and docs/channels.md). The decisions are chcore_reconcile's. */
#include "chinit.h"

#include <stdlib.h>
#include <string.h>

#include "chcore.h"
#include "chhost.h"
#include "chrcv.h"
#include "chsdr.h"
#include "chtrig.h"

#define TICK_MS 1000
#define CH_MAX_PENDING 64 /* CAS commands in flight from reconciliation */

/* A CAS (or another channel command) the initiator has in flight for one
 * status entry: reconciliation does not act on that entry meanwhile. */
struct chpend {
	bool used;
	char name[FSM_CHNAME_MAX + 1];
	char rqmname[FSM_NAME_MAX + 1];
};

struct chinit {
	struct qsgd *d;
	struct chhost host; /* what the instances see (running, fenced, refs) */
	bool begun;
	bool closing;
	/* Its own state (docs/channels.md, "Channel initiator failure"):
	 * host.running = started && !failed. */
	bool started; /* the operator's intent: autostart or START CHINIT */
	bool failed; /* failed on its own; `restart` brings it back */
	bool fail_pending; /* chhost_fail called; handled on the next turn */
	char fail_why[128]; /* the last failure */
	uint64_t failures; /* since the daemon started */
	unsigned restart_delay; /* ms, the delay used last */
	uint64_t up_since; /* uv_now of the last start or restart */
	uint64_t restart_at; /* uv_now at which a failed initiator restarts */
	uv_timer_t restart; /* 0 ms: handle a failure; then: restart */
	bool published; /* fsm member.chinit matches `running` */
	bool publish_inflight;
	uint64_t gen_seen;
	uv_check_t check;
	uv_timer_t tick;
	unsigned nclosed; /* handles closed (check, tick, set) */
	struct stream_set set; /* outbound channel connections */
	struct chpend pend[CH_MAX_PENDING];
	struct chcore_cand *members; /* owner choice: the member table */
	size_t members_cap;
	bool trig_dirty; /* leader: a put landed; evaluate triggers this turn */
};

/* ---- refs ---- */

static void maybe_free(struct chinit *ci)
{
	if (ci->closing && ci->nclosed == 4 && ci->host.refs == 0) {
		chhost_retry_free(&ci->host);
		chhost_tls_free(&ci->host);
		free(ci->members);
		free(ci);
	}
}

static void host_released(void *arg)
{
	maybe_free(arg);
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
	/* A trigger's start (chtrig.h): the xmitq, and whether TRIGGER is
	 * turned off once it is made (TRIGTYPE(DEPTH)). */
	bool trig;
	bool trigger_off;
	uint32_t trigdpth; /* evaluated with (chtrig_view_off_due) */
	uint32_t scope; /* the xmitq's (a private channel's member, else 0) */
	char xmitq[FSM_NAME_MAX + 1];
	char trig_text[256]; /* QSG5070I */
};

static void trigger_off(struct chinit *ci, const struct cas_req *r);

static void cas_done(void *arg, int status, const void *result, size_t len)
{
	struct cas_req *r = arg;
	struct chinit *ci = r->ci;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	r->pend->used = false;
	if (status == QSG_OK &&
	    fsm_result_decode(FSM_OP_CHST_CAS, result, len, &res, errmsg) == QSG_OK) {
		if (res.rc == QSG_OK) {
			chhost_log_change(&ci->host, r->name, r->rqmname, &r->before, &r->after,
					  r->reason);
			if (r->trig)
				QLOG_INFO_(ci->d->log, "QSG5070I", "channel %s: %s", r->name,
					   r->trig_text);
			if (r->trigger_off &&
			    chtrig_view_off_due_in(ci->d->fsm, r->scope, r->xmitq, r->trigdpth))
				trigger_off(ci, r);
			else if (r->trigger_off)
				QLOG_INFO_(ci->d->log, "QSG5073I",
					   "queue %s: TRIGGER left as it is after its "
					   "TRIGTYPE(DEPTH) trigger: its trigger attributes "
					   "were altered meanwhile",
					   r->xmitq);
		} else if (res.rc != QSG_RC_CAS_FAILED)
			QLOG_WARNING(ci->d->log, "QSG5010W",
				     "channel %s: status change refused: %s", r->name,
				     qsg_rc_name(res.rc));
		/* CAS_FAILED: another member got there first; nothing to do. */
	} else if (status != QSG_OK) {
		QLOG_DBG(ci->d->log, "QSG5011D", "channel %s: status change not made (%s)", r->name,
			 qsg_rc_name(status));
	}
	free(r);
	chhost_unref(&ci->host);
}

/* Submit the CAS of r (filled but for ci and pend); frees r when it is
 * not submitted. */
static void submit_req(struct chinit *ci, struct cas_req *r, uint8_t chltype)
{
	if (pend_find(ci, r->name, r->rqmname) != NULL) {
		free(r);
		return;
	}
	struct chpend *p = pend_add(ci, r->name, r->rqmname);
	if (p == NULL) {
		free(r);
		return;
	}
	r->ci = ci;
	r->pend = p;

	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_CHST_CAS;
	snprintf(cmd.ch.name, sizeof cmd.ch.name, "%s", r->name);
	snprintf(cmd.ch.rqmname, sizeof cmd.ch.rqmname, "%s", r->rqmname);
	cmd.ch.chltype = chltype;
	cmd.ch.before = r->before;
	cmd.ch.after = r->after;
	snprintf(cmd.ch.reason, sizeof cmd.ch.reason, "%s", r->reason);
	chhost_ref(&ci->host);
	if (qsgd_submit(ci->d, &cmd, cas_done, r) != QSG_OK) {
		p->used = false;
		free(r);
		chhost_unref(&ci->host);
	}
}

static void submit_cas(struct chinit *ci, const struct fsm_chstatus *st,
		       const struct fsm_chimage *after, const char *reason)
{
	if (pend_find(ci, st->name, st->rqmname) != NULL)
		return;
	struct cas_req *r = calloc(1, sizeof *r);
	if (r == NULL)
		return;
	snprintf(r->name, sizeof r->name, "%s", st->name);
	snprintf(r->rqmname, sizeof r->rqmname, "%s", st->rqmname);
	r->before = st->img;
	r->after = *after;
	snprintf(r->reason, sizeof r->reason, "%s", reason);
	submit_req(ci, r, st->chltype);
}

/* ---- triggering (chtrig.h; docs/channels.md "Triggering") ---- */

struct trigoff_req {
	struct chinit *ci;
	char xmitq[FSM_NAME_MAX + 1];
};

static void trigoff_done(void *arg, int status, const void *result, size_t len)
{
	struct trigoff_req *t = arg;
	struct chinit *ci = t->ci;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	int rc = status;
	if (status == QSG_OK &&
	    (rc = fsm_result_decode(FSM_OP_QALTER, result, len, &res, errmsg)) == QSG_OK)
		rc = res.rc;
	if (rc == QSG_OK)
		QLOG_INFO_(ci->d->log, "QSG5071I",
			   "queue %s: TRIGGER turned off after its TRIGTYPE(DEPTH) trigger "
			   "(ALTER QLOCAL(%s) TRIGGER arms it again)",
			   t->xmitq, t->xmitq);
	else
		QLOG_WARNING(ci->d->log, "QSG5072W",
			     "queue %s: TRIGGER not turned off after its TRIGTYPE(DEPTH) "
			     "trigger: %s; it fires again when the channel is inactive",
			     t->xmitq, qsg_rc_name(rc));
	free(t);
	chhost_unref(&ci->host);
}

/* After a DEPTH trigger fired, as MQ: ALTER QLOCAL(xmitq) NOTRIGGER. */
static void trigger_off(struct chinit *ci, const struct cas_req *r)
{
	struct trigoff_req *t = calloc(1, sizeof *t);
	if (t == NULL)
		return;
	t->ci = ci;
	snprintf(t->xmitq, sizeof t->xmitq, "%s", r->xmitq);
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_QALTER;
	snprintf(cmd.queue, sizeof cmd.queue, "%s", r->xmitq);
	snprintf(cmd.attrs.name, sizeof cmd.attrs.name, "%s", r->xmitq);
	cmd.attrs.qtype = FSM_QT_LOCAL;
	/* The group's queue (scope 0), or a private channel's member's. */
	cmd.attrs.disp = r->scope != 0 ? FSM_DISP_QMGR : FSM_DISP_DEFAULT;
	cmd.attrs.scope = r->scope;
	cmd.attrs.trigger = 0;
	cmd.attrs.set = FSM_QA_TRIGGER;
	chhost_ref(&ci->host);
	if (qsgd_submit(ci->d, &cmd, trigoff_done, t) != QSG_OK) {
		free(t);
		chhost_unref(&ci->host);
	}
}

static bool trig_skip(void *arg, const char *channel)
{
	return pend_find(arg, channel, "") != NULL;
}

static void trig_start(void *arg, const struct chtrig_start *s)
{
	struct chinit *ci = arg;
	char nm[FSM_NAME_MAX + 16];
	struct cas_req *r = calloc(1, sizeof *r);
	if (r == NULL)
		return;
	snprintf(r->name, sizeof r->name, "%s", s->channel);
	r->before = s->before;
	r->after = s->after;
	r->trig = true;
	r->trigger_off = s->trigger_off;
	r->trigdpth = s->trigdpth;
	r->scope = s->scope;
	snprintf(r->xmitq, sizeof r->xmitq, "%s", s->xmitq);
	const char *type = fsm_attr_enum_name(fsm_attr_trigtype, s->trigtype);
	snprintf(r->reason, sizeof r->reason, "triggered: TRIGTYPE(%s), depth %u", type, s->depth);
	snprintf(r->trig_text, sizeof r->trig_text,
		 "started by the trigger of its transmission queue %s (TRIGTYPE(%s), %u "
		 "message%s) on %s",
		 s->xmitq, type, s->depth, s->depth == 1 ? "" : "s",
		 chhost_member_name(&ci->host, s->after.owner, nm, sizeof nm));
	submit_req(ci, r, FSM_CHL_SDR);
}

static bool is_leader(struct chinit *ci)
{
	return ci->d->ops != NULL && ci->d->ops->is_leader != NULL && ci->d->ops->is_leader(ci->d);
}

/* The leader evaluates every armed transmission queue from its replica. A
 * start that loses its CAS (someone started the channel meanwhile) changes
 * nothing. */
static void trig_eval(struct chinit *ci)
{
	ci->trig_dirty = false;
	if (!ci->begun || ci->closing || ci->host.fenced || !is_leader(ci))
		return;
	chtrig_view_eval(ci->d->fsm, &ci->members, &ci->members_cap, trig_skip, trig_start, ci);
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
	chhost_unref(&ci->host);
}

static void publish(struct chinit *ci)
{
	struct fsm_member m;
	if (ci->publish_inflight || ci->host.fenced || ci->closing)
		return;
	if (fsm_member_get(ci->d->fsm, ci->d->cfg->id, &m) != QSG_OK ||
	    m.state != FSM_MEMBER_ACTIVE)
		return; /* not joined yet */
	if ((m.chinit != 0) == ci->host.running)
		return;
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_CHINIT_STATE;
	cmd.ch.member_id = ci->d->cfg->id;
	cmd.ch.chinit = ci->host.running ? 1 : 0;
	chhost_ref(&ci->host);
	ci->publish_inflight = true;
	if (qsgd_submit(ci->d, &cmd, publish_done, ci) != QSG_OK) {
		ci->publish_inflight = false;
		chhost_unref(&ci->host);
	}
}

/* ---- reconciliation ---- */

static struct chsdr *find_sdr(struct chinit *ci, const char *name)
{
	for (struct chsdr *s = ci->host.sdrs; s != NULL; s = chsdr_next(s))
		if (strcmp(chsdr_name(s), name) == 0)
			return s;
	return NULL;
}

struct rec_ctx {
	struct chinit *ci;
	uint32_t self;
	size_t nmembers;
};

static int reconcile_entry(void *arg, const struct fsm_chstatus *st)
{
	struct rec_ctx *x = arg;
	struct chinit *ci = x->ci;
	char why[256], nm[FSM_NAME_MAX + 16];

	if (pend_find(ci, st->name, st->rqmname) != NULL)
		return 0;
	struct chcore_rec_in in = {
	    .chltype = st->chltype,
	    .img = st->img,
	    .self = x->self,
	    .owner_failed = chcore_view_member_failed(ci->d->fsm, st->img.owner),
	    .running = ci->host.running,
	    .closing = ci->closing,
	    .members = ci->members,
	    .nmembers = x->nmembers,
	    .retry_at_ms = st->img.state == FSM_CHS_RETRYING ? st->retry_at_ms : 0,
	    .now_ms = fsm_last_time(ci->d->fsm),
	};
	struct fsm_chattrs def;
	if (fsm_channel_get(ci->d->fsm, st->name, &def) == QSG_OK && FSM_CH_PRIVATE(&def))
		in.scope = def.scope; /* docs/channels.md "Private channels" */
	struct chretry *book = NULL;
	struct chsdr *s = NULL;
	if (st->chltype == FSM_CHL_RCVR) {
		struct fsm_syncq sq;
		uint64_t rinst =
		    fsm_syncq_get(ci->d->fsm, st->name, st->rqmname, &sq) == QSG_OK ? sq.rinst : 0;
		for (struct chrcv *r = ci->host.rcvs; r != NULL && !in.rcv_here; r = chrcv_next(r))
			in.rcv_here = chrcv_matches(r, st->name, st->rqmname, st->img.epoch, rinst);
	} else {
		s = find_sdr(ci, st->name);
		if (s != NULL) {
			chsdr_entry_changed(s, st, true);
			s = find_sdr(ci, st->name);
		}
		in.have_inst = s != NULL;
		in.inst_epoch = s != NULL ? chsdr_epoch(s) : 0;
		/* The bookkeeping is made when a start is possible (as before:
		 * STARTING, ours, initiator running, no instance). */
		if (chcore_active(st->img.state) && st->img.owner == x->self &&
		    !(s != NULL && in.inst_epoch == st->img.epoch) &&
		    st->img.state == FSM_CHS_STARTING && in.running && !in.closing && s == NULL)
			book = chhost_retry(&ci->host, st->name);
		in.have_book = book != NULL;
		in.started_epoch = book != NULL ? book->started_epoch : 0;
	}

	struct chcore_rec_out out;
	chcore_reconcile(&in, &out);
	switch (out.act) {
	case CHREC_NONE:
		return 0;
	case CHREC_START_LOCAL:
		book->started_epoch = st->img.epoch;
		chsdr_start(&ci->host, st);
		return 0;
	case CHREC_CAS:
		break;
	}
	switch (out.why) {
	case CHREC_W_RCV_GONE:
		snprintf(why, sizeof why, "inbound connection no longer here");
		break;
	case CHREC_W_RCV_PEER:
		snprintf(why, sizeof why, "peer recovery: %s failed",
			 chhost_member_name(&ci->host, st->img.owner, nm, sizeof nm));
		break;
	case CHREC_W_RESTART_ENDED:
		snprintf(why, sizeof why, "restart: instance of epoch %llu ended",
			 (unsigned long long)st->img.epoch);
		break;
	case CHREC_W_RECOVERING:
		snprintf(why, sizeof why, "recovering: no channel initiator available");
		break;
	case CHREC_W_RESTARTED:
	case CHREC_W_CHINIT_STOPPED:
		snprintf(why, sizeof why, "%s by %s",
			 out.why == CHREC_W_RESTARTED ? "restarted"
						      : "channel initiator stopped: moved",
			 ci->d->cfg->name);
		break;
	case CHREC_W_RETRY:
		snprintf(why, sizeof why, "retry %u on %s", st->retries,
			 chhost_member_name(&ci->host, out.after.owner, nm, sizeof nm));
		break;
	case CHREC_W_RETRY_MOVED:
		snprintf(why, sizeof why, "waiting to retry: moved from %s",
			 chhost_member_name(&ci->host, st->img.owner, nm, sizeof nm));
		break;
	case CHREC_W_PEER:
		snprintf(why, sizeof why, "peer recovery: %s failed, recovered by %s",
			 chhost_member_name(&ci->host, st->img.owner, nm, sizeof nm),
			 ci->d->cfg->name);
		break;
	default:
		why[0] = '\0';
		break;
	}
	submit_cas(ci, st, &out.after, why);
	return 0;
}

static void reconcile(struct chinit *ci)
{
	struct fsm_member me;
	if (!ci->begun || ci->closing || ci->host.fenced)
		return;
	if (fsm_member_get(ci->d->fsm, ci->d->cfg->id, &me) != QSG_OK ||
	    me.state != FSM_MEMBER_ACTIVE)
		return;
	publish(ci);
	/* Inbound instances fenced by a newer one (here or elsewhere): end
	 * them at once, so that one instance of a channel runs at a time. */
	for (struct chrcv *r = ci->host.rcvs, *n; r != NULL; r = n) {
		n = chrcv_next(r);
		chrcv_check_fenced(r);
	}
	/* Instances whose entry is gone. */
	for (struct chsdr *s = ci->host.sdrs, *n; s != NULL; s = n) {
		n = chsdr_next(s);
		struct fsm_chstatus st;
		if (fsm_chstatus_get(ci->d->fsm, chsdr_name(s), "", &st) != QSG_OK)
			chsdr_entry_changed(s, NULL, false);
	}
	struct rec_ctx x = {.ci = ci, .self = ci->d->cfg->id};
	x.nmembers = chcore_view_table(ci->d->fsm, &ci->members, &ci->members_cap);
	fsm_chstatus_foreach(ci->d->fsm, reconcile_entry, &x);
	trig_eval(ci);
}

static void on_check(uv_check_t *h)
{
	struct chinit *ci = h->data;
	uint64_t g = fsm_chan_generation(ci->d->fsm);
	if (g != ci->gen_seen) {
		ci->gen_seen = g;
		reconcile(ci);
	}
	if (ci->trig_dirty)
		trig_eval(ci);
}

static void on_tick(uv_timer_t *t)
{
	reconcile(t->data);
}

/* ---- failure of the initiator itself ---- */

static void end_all(struct chinit *ci, const char *why);

/* The restart timer: first (0 ms) the failure chhost_fail reported, then,
 * after the delay, the restart. */
static void on_restart(uv_timer_t *t)
{
	struct chinit *ci = t->data;
	if (ci->closing)
		return;
	uint64_t now = uv_now(ci->d->loop);
	if (ci->fail_pending) {
		ci->fail_pending = false;
		ci->failed = true;
		ci->failures++;
		ci->restart_delay =
		    chcore_chinit_restart_delay(ci->restart_delay, now - ci->up_since);
		ci->restart_at = now + ci->restart_delay;
		QLOG_ERR(ci->d->log, "QSG5022E",
			 "channel initiator %s failed: %s; its queue manager keeps running, its "
			 "channels are restarted on other members; restart in %u ms",
			 ci->d->cfg->name, ci->fail_why, ci->restart_delay);
		end_all(ci, "channel initiator failed");
		reconcile(ci); /* publishes CHINIT_STATE(0), moves its channels */
		uv_timer_start(&ci->restart, on_restart, ci->restart_delay, 0);
		return;
	}
	if (!ci->failed)
		return;
	ci->failed = false;
	ci->host.running = ci->started;
	ci->up_since = now;
	QLOG_INFO_(ci->d->log, "QSG5023I",
		   "channel initiator %s restarted after a failure (%llu so far)", ci->d->cfg->name,
		   (unsigned long long)ci->failures);
	reconcile(ci); /* publishes CHINIT_STATE(1): it takes channels again */
}

/* chhost_fail: an internal error in the channel code. The initiator stops
 * taking work at once; the rest is done on the next loop turn, outside the
 * instance that reported it. */
static void host_failed(void *arg, const char *why)
{
	struct chinit *ci = arg;
	if (ci->closing || !ci->host.running || ci->fail_pending)
		return;
	ci->fail_pending = true;
	ci->host.running = false;
	snprintf(ci->fail_why, sizeof ci->fail_why, "%s", why);
	uv_timer_start(&ci->restart, on_restart, 0, 0);
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
	uv_timer_init(d->loop, &ci->restart);
	ci->restart.data = ci;
	stream_set_init(&ci->set, d->loop);
	ci->set.data = ci;
	ci->host.d = d;
	ci->host.set = &ci->set;
	ci->host.arg = ci;
	ci->host.released = host_released;
	ci->host.failed = host_failed;
	*out = ci;
	return QSG_OK;
}

void chinit_begin(struct chinit *ci, bool autostart)
{
	ci->begun = true;
	ci->started = autostart;
	ci->host.running = autostart;
	ci->up_since = uv_now(ci->d->loop);
	if (autostart)
		QLOG_INFO_(ci->d->log, "QSG5020I", "channel initiator %s started",
			   ci->d->cfg->name);
	uv_check_start(&ci->check, on_check);
	uv_timer_start(&ci->tick, on_tick, TICK_MS, TICK_MS);
}

static void end_all(struct chinit *ci, const char *why)
{
	for (struct chsdr *s = ci->host.sdrs, *n; s != NULL; s = n) {
		n = chsdr_next(s);
		chsdr_abort(s, why);
	}
	for (struct chrcv *r = ci->host.rcvs, *n; r != NULL; r = n) {
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
	uv_close((uv_handle_t *)&ci->restart, handle_closed);
	stream_set_close(&ci->set, set_closed);
}

int chinit_start(struct chinit *ci, char *errmsg)
{
	if (ci->host.running)
		return qsg_errf(errmsg, QSG_RC_CHANNEL_ACTIVE,
				"channel initiator %s is already running", ci->d->cfg->name);
	/* A failed initiator is started at once (its restart is cancelled). */
	uv_timer_stop(&ci->restart);
	ci->failed = false;
	ci->fail_pending = false;
	ci->started = true;
	ci->host.running = true;
	ci->up_since = uv_now(ci->d->loop);
	QLOG_INFO_(ci->d->log, "QSG5020I", "channel initiator %s started", ci->d->cfg->name);
	reconcile(ci);
	return QSG_OK;
}

int chinit_stop(struct chinit *ci, char *errmsg)
{
	if (!ci->started)
		return qsg_errf(errmsg, QSG_RC_CHINIT_NOT_RUNNING,
				"channel initiator %s is not running", ci->d->cfg->name);
	/* Stopping a failed initiator cancels its restart. */
	uv_timer_stop(&ci->restart);
	ci->failed = false;
	ci->fail_pending = false;
	ci->started = false;
	ci->host.running = false;
	QLOG_INFO_(ci->d->log, "QSG5021I",
		   "channel initiator %s stopped; its channels are restarted on other members",
		   ci->d->cfg->name);
	end_all(ci, "channel initiator stopped");
	reconcile(ci);
	return QSG_OK;
}

bool chinit_running(const struct chinit *ci)
{
	return ci->host.running && !ci->host.fenced;
}

void chinit_set_fenced(struct chinit *ci, bool fenced)
{
	if (ci->host.fenced == fenced)
		return;
	ci->host.fenced = fenced;
	if (fenced) {
		if (ci->host.running)
			QLOG_WARNING(ci->d->log, "QSG5024W",
				     "channel initiator %s fenced with its member (lease lost): "
				     "its channel instances end; peers recover its channels once "
				     "the member is declared failed",
				     ci->d->cfg->name);
		end_all(ci, "member fenced (lease lost)");
	} else {
		if (ci->host.running)
			QLOG_INFO_(ci->d->log, "QSG5025I",
				   "channel initiator %s no longer fenced: running again",
				   ci->d->cfg->name);
		reconcile(ci);
	}
}

void chinit_info(const struct chinit *ci, struct chinit_info *out)
{
	memset(out, 0, sizeof *out);
	out->status =
	    chcore_chinit_status(ci->started, ci->failed || ci->fail_pending, ci->host.fenced);
	out->failures = ci->failures;
	uint64_t now = uv_now(ci->d->loop);
	if (ci->failed)
		out->restart_in_ms = ci->restart_at > now ? ci->restart_at - now : 0;
	snprintf(out->reason, sizeof out->reason, "%s", ci->fail_why);
}

int chinit_inject_fault(struct chinit *ci, char *errmsg)
{
	if (!chinit_running(ci))
		return qsg_errf(errmsg, QSG_RC_CHINIT_NOT_RUNNING,
				"channel initiator %s is not running", ci->d->cfg->name);
	if (ci->host.sdrs != NULL) {
		/* The real path: the next batch taken is "undecodable". */
		ci->host.fault_armed = true;
		QLOG_WARNING(ci->d->log, "QSG5026W",
			     "channel initiator %s: fault injected: the next batch a sender "
			     "takes is treated as undecodable",
			     ci->d->cfg->name);
	} else {
		QLOG_WARNING(ci->d->log, "QSG5026W",
			     "channel initiator %s: fault injected (no sender instance runs)",
			     ci->d->cfg->name);
		host_failed(ci, "fault injected");
	}
	return QSG_OK;
}

void chinit_notify_queue(struct chinit *ci, const char *queue)
{
	for (struct chsdr *s = ci->host.sdrs; s != NULL; s = chsdr_next(s))
		chsdr_notify_queue(s, queue);
	/* An armed transmission queue: the leader looks at the triggers once
	 * this loop turn (on_check). */
	if (!ci->trig_dirty && is_leader(ci) && chtrig_xmitq_triggered(ci->d->fsm, queue))
		ci->trig_dirty = true;
}

struct chrcv *chinit_accept(struct chinit *ci, struct stream *st)
{
	return chrcv_new(&ci->host, st);
}

int chinit_tls_reload(struct chinit *ci, unsigned *n, char *errmsg)
{
	*n = 0;
	for (struct chtlsctx *t = ci->host.tls; t != NULL; t = t->next)
		(*n)++;
	return chhost_tls_reload(&ci->host, errmsg);
}
