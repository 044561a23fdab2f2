/* Channel cores: pure decisions (see chcore.h). */
#include "chcore.h"

#include <string.h>

bool chcore_active(uint8_t st)
{
	return st == FSM_CHS_STARTING || st == FSM_CHS_RUNNING || st == FSM_CHS_RETRYING ||
	       st == FSM_CHS_RECOVERING;
}

/* ---- owner choice ---- */

/* Rank: avoid `exclude`, then avoid the Raft leader (a channel owner that is
 * also the leader costs an election on top of the takeover when it fails),
 * then the lowest load, then the lowest id. */
uint32_t chcore_pick_owner(const struct chcore_cand *c, size_t n, uint32_t exclude)
{
	uint32_t best = 0;
	uint32_t best_rank[4] = {0};
	for (size_t k = 0; k < n; k++) {
		const struct chcore_cand *m = &c[k];
		if (!m->active || !m->chinit || m->id == 0)
			continue;
		uint32_t rank[4] = {m->id == exclude, m->leader, m->load, m->id};
		bool better = best == 0;
		for (int i = 0; i < 4 && !better; i++) {
			if (rank[i] != best_rank[i]) {
				better = rank[i] < best_rank[i];
				break;
			}
		}
		if (better) {
			best = m->id;
			memcpy(best_rank, rank, sizeof rank);
		}
	}
	return best;
}

/* ---- recovery ---- */

static void cas_to(struct chcore_rec_out *out, enum chcore_rec_why why,
		   const struct fsm_chimage *after)
{
	out->act = CHREC_CAS;
	out->why = why;
	out->after = *after;
}

static void reconcile_rcvr(const struct chcore_rec_in *in, struct chcore_rec_out *out)
{
	/* Inbound entries of a failed member are removed so the partner can
	 * reconnect anywhere; our own stale ones too. A private receiver's
	 * entry is left to its member (the partner can reconnect only there). */
	struct fsm_chimage gone;
	memset(&gone, 0, sizeof gone);
	if (in->img.owner == in->self && !in->rcv_here)
		cas_to(out, CHREC_W_RCV_GONE, &gone);
	else if (in->owner_failed && in->scope == 0)
		cas_to(out, CHREC_W_RCV_PEER, &gone);
}

/* A sender entry owned here, shared or private (priv): the instance
 * running here, a STARTING entry to start here (never a second instance
 * with an epoch that already ran), a RETRYING entry waiting here or due
 * (restarted on the member chosen by load; a private one on itself). True
 * when that decided; false: no instance for it here, the caller decides. */
static bool own_entry(const struct chcore_rec_in *in, struct chcore_rec_out *out, bool priv)
{
	const struct fsm_chimage *img = &in->img;
	struct fsm_chimage after;

	if (in->have_inst && in->inst_epoch == img->epoch)
		return true; /* ours and running here */
	if (priv && in->owner_failed)
		return true; /* our own rejoin is not applied yet */
	if (img->state == FSM_CHS_STARTING && in->running && !in->closing) {
		if (in->have_inst || !in->have_book)
			return true;
		if (in->started_epoch >= img->epoch) {
			/* An instance of this epoch already ran here and
			 * ended: never a second one with the same epoch. */
			after = *img;
			after.epoch = img->epoch + 1;
			cas_to(out, CHREC_W_RESTART_ENDED, &after);
			return true;
		}
		out->act = CHREC_START_LOCAL;
		return true;
	}
	if (img->state == FSM_CHS_RETRYING && in->have_inst)
		return true;
	if (img->state == FSM_CHS_RETRYING && in->retry_at_ms != 0 && in->running && !in->closing) {
		/* No instance waits for it here (we restarted, or took it
		 * over while it waited): the wait is in the entry. */
		if (in->now_ms < in->retry_at_ms)
			return true;
		after = *img;
		if (!priv)
			after.owner = chcore_retry_target(in->members, in->nmembers, in->self);
		after.state = FSM_CHS_STARTING;
		after.epoch = img->epoch + 1;
		cas_to(out, CHREC_W_RETRY, &after);
		return true;
	}
	return false;
}

/* A private sender (in->scope != 0): only its member acts, and it runs the
 * channel on itself. Another member leaves the entry as it is, whatever
 * its state and owner (a failed member's RUNNING entry stays RUNNING until
 * that member is back: the channel is simply not running meanwhile). */
static void reconcile_private(const struct chcore_rec_in *in, struct chcore_rec_out *out)
{
	const struct fsm_chimage *img = &in->img;
	struct fsm_chimage after;

	if (in->scope != in->self || !chcore_active(img->state))
		return;
	if (img->owner == in->self && own_entry(in, out, true))
		return;
	/* Ours but no instance here (we restarted), or an entry of ours
	 * another owner had (never made by the state machine, which keeps a
	 * private channel on its member; handled for safety). */
	if (!in->running || in->closing) {
		if (img->state == FSM_CHS_RECOVERING && img->owner == in->self)
			return;
		after = *img;
		after.owner = in->self;
		after.state = FSM_CHS_RECOVERING;
		cas_to(out, CHREC_W_RECOVERING, &after);
		return;
	}
	if (img->state == FSM_CHS_RETRYING && in->retry_at_ms != 0 &&
	    in->now_ms < in->retry_at_ms) {
		if (img->owner == in->self)
			return;
		after = *img;
		after.owner = in->self;
		cas_to(out, CHREC_W_RETRY_MOVED, &after);
		return;
	}
	after = *img;
	after.owner = in->self;
	after.state = FSM_CHS_STARTING;
	after.epoch = img->epoch + 1;
	cas_to(out, CHREC_W_RESTARTED, &after);
}

/* A RETRYING entry that moves to another owner before its retry time keeps
 * waiting there (same epoch): the retry time is the group's, whoever owns
 * the entry. */
static bool keep_waiting(const struct chcore_rec_in *in)
{
	return in->img.state == FSM_CHS_RETRYING && in->retry_at_ms != 0 &&
	       in->now_ms < in->retry_at_ms;
}

void chcore_reconcile(const struct chcore_rec_in *in, struct chcore_rec_out *out)
{
	const struct fsm_chimage *img = &in->img;
	struct fsm_chimage after;

	memset(out, 0, sizeof *out);
	if (in->chltype == FSM_CHL_RCVR) {
		reconcile_rcvr(in, out);
		return;
	}
	if (in->scope != 0) {
		reconcile_private(in, out);
		return;
	}
	if (!chcore_active(img->state))
		return; /* STOPPED stays stopped */

	if (img->owner == in->self) {
		if (own_entry(in, out, false))
			return;
		/* Active, ours, but no instance for it here: we restarted, or
		 * our channel initiator is stopped. Restart it on a member
		 * chosen by load (ourselves only if our initiator runs). */
		uint32_t target =
		    chcore_pick_owner(in->members, in->nmembers, in->running ? 0 : in->self);
		if (target == 0 || (target == in->self && !in->running)) {
			if (img->state == FSM_CHS_RECOVERING)
				return;
			after = *img;
			after.state = FSM_CHS_RECOVERING;
			cas_to(out, CHREC_W_RECOVERING, &after);
			return;
		}
		if (keep_waiting(in)) {
			after = *img;
			after.owner = target;
			cas_to(out, CHREC_W_RETRY_MOVED, &after);
			return;
		}
		after.exists = 1;
		after.owner = target;
		after.state = FSM_CHS_STARTING;
		after.epoch = img->epoch + 1;
		cas_to(out, in->running ? CHREC_W_RESTARTED : CHREC_W_CHINIT_STOPPED, &after);
		return;
	}
	if (in->owner_failed) {
		/* Peer recovery: every surviving member races; the CAS lets one
		 * win. */
		uint32_t target = chcore_pick_owner(in->members, in->nmembers, img->owner);
		after.exists = 1;
		if (target != 0 && keep_waiting(in)) {
			after = *img;
			after.owner = target;
			cas_to(out, CHREC_W_RETRY_MOVED, &after);
			return;
		}
		if (target == 0) {
			after.owner = in->self;
			after.state = FSM_CHS_RECOVERING;
			after.epoch = img->epoch;
		} else {
			after.owner = target;
			after.state = FSM_CHS_STARTING;
			after.epoch = img->epoch + 1;
		}
		cas_to(out, CHREC_W_PEER, &after);
	}
}

/* ---- the sender ---- */

enum chcore_start_act chcore_sdr_start(uint64_t lstseq, uint64_t curseq, uint64_t L)
{
	if (curseq == lstseq && L == lstseq)
		return CHSTART_BIND;
	if (L < lstseq || L > curseq)
		return CHSTART_OUT_OF_STEP;
	return CHSTART_RESOLVE;
}

void chcore_pipe_begin(struct chcore_pipe *p, uint64_t lstseq)
{
	memset(p, 0, sizeof *p);
	p->confirmed = p->settled = lstseq;
}

void chcore_pipe_drop(struct chcore_pipe *p)
{
	p->head = 0;
	p->n = 0;
}

void chcore_pipe_push(struct chcore_pipe *p, uint64_t first, uint64_t last)
{
	unsigned slot = (p->head + p->n) % FSM_CH_MAX_PIPELINE;
	p->first[slot] = first;
	p->last[slot] = last;
	p->n++;
}

enum chcore_confirm_act chcore_pipe_confirm(struct chcore_pipe *p, uint64_t first, uint64_t last,
					    int rc)
{
	if (p->n == 0 || p->first[p->head] != first || p->last[p->head] != last)
		return CHCONF_NOT_IN_FLIGHT;
	if (rc == QSG_OK) {
		p->head = (p->head + 1) % FSM_CH_MAX_PIPELINE;
		p->n--;
		p->confirmed = last;
		return CHCONF_SETTLE;
	}
	if (rc != QSG_RC_BATCH_REJECTED)
		return CHCONF_ENDED;
	/* Later batches in flight are dropped by the receiver; confirmed
	 * covers up to first-1 already (confirmations are in order). */
	p->refusing = true;
	p->refused_upto = first - 1;
	p->head = 0;
	p->n = 0;
	return CHCONF_REFUSED;
}

bool chcore_pipe_settle_next(const struct chcore_pipe *p, struct chcore_settle *out)
{
	if (p->refusing) {
		out->kind = CHSETTLE_REFUSED;
		out->upto = p->refused_upto;
		out->flags = FSM_CHF_BACKOUT_REST;
		return true;
	}
	if (p->confirmed <= p->settled)
		return false;
	out->kind = CHSETTLE_CONFIRMED;
	out->upto = p->confirmed;
	out->flags = 0;
	return true;
}

void chcore_pipe_resolve(struct chcore_pipe *p, uint64_t L, struct chcore_settle *out)
{
	out->kind = CHSETTLE_RESOLVE;
	out->upto = L;
	out->flags = FSM_CHF_BACKOUT_REST;
	p->confirmed = L;
}

enum chcore_settled_act chcore_pipe_settled(struct chcore_pipe *p, const struct chcore_settle *x,
					    int rc)
{
	if (rc == QSG_RC_CHANNEL_FENCED)
		return CHSETTLED_ABORT;
	if (x->kind == CHSETTLE_RESOLVE) {
		if (rc != QSG_OK)
			return CHSETTLED_FAIL;
		p->settled = x->upto;
		return CHSETTLED_BIND;
	}
	if (rc != QSG_OK)
		return CHSETTLED_RETRY;
	if (x->kind == CHSETTLE_REFUSED)
		p->refusing = false;
	if (x->upto > p->settled)
		p->settled = x->upto;
	return CHSETTLED_DONE;
}

uint8_t chcore_refusal_action(bool dlq, bool listing)
{
	if (!listing)
		return dlq ? FSM_DISP_DLQ : FSM_DISP_HOLD;
	return dlq ? FSM_DISP_LIST_DLQ : FSM_DISP_LIST;
}

bool chcore_blk_due(const struct fsm_chstatus *st, int64_t now_ms)
{
	for (uint32_t i = 0; i < st->nblk && i < FSM_CH_BLK_MAX; i++)
		if (st->blk[i].retry_seq == 0 && st->blk[i].retry_at_ms <= now_ms)
			return true;
	return false;
}

uint32_t chcore_retry_target(const struct chcore_cand *c, size_t n, uint32_t self)
{
	uint32_t target = chcore_pick_owner(c, n, self);
	return target != 0 ? target : self;
}

unsigned chcore_conname_split(const char *conname, char (*out)[FSM_ADDR_MAX + 1], unsigned max)
{
	unsigned k = 0;
	const char *p = conname;
	while (*p != '\0' && k < max) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ",");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0 && n <= FSM_ADDR_MAX) {
			memcpy(out[k], p, n);
			out[k][n] = '\0';
			k++;
		}
		p += strcspn(p, ",");
	}
	return k;
}

/* ---- the sender's connection attempt ---- */

void chcore_attempt_begin(struct chcore_attempt *a, unsigned n, unsigned first)
{
	a->n = n;
	a->idx = n > 0 ? first % n : 0;
	a->tried = n > 0 ? 1 : 0;
}

enum chcore_addr_act chcore_attempt_failed(struct chcore_attempt *a, enum chcore_addr_why why,
					   int rc)
{
	if (why == CHADDR_REFUSED && rc == QSG_RC_CHANNEL_FENCED)
		return CHADDR_END;
	if (a->tried >= a->n)
		return CHADDR_FAIL;
	a->idx = (a->idx + 1) % a->n;
	a->tried++;
	return CHADDR_NEXT;
}

unsigned chcore_attempt_pref(unsigned n, unsigned idx, bool lost)
{
	if (n == 0)
		return 0;
	return (idx + (lost ? 1 : 0)) % n;
}

/* ---- the receiver ---- */

int chcore_rcv_accept(const char *receiver_qmgr, const char *group, const char *member,
		      bool chinit_running, bool fenced, char *errmsg)
{
	if (receiver_qmgr[0] != '\0' && strcmp(receiver_qmgr, group) != 0 &&
	    strcmp(receiver_qmgr, member) != 0)
		return qsg_errf(errmsg, QSG_RC_UNKNOWN_REMOTE_Q_MGR,
				"this is %s (member %s), not %s", group, member, receiver_qmgr);
	if (!chinit_running)
		return qsg_errf(errmsg, QSG_RC_CHINIT_NOT_RUNNING,
				"the channel initiator of %s is not running", member);
	if (fenced)
		return qsg_errf(errmsg, QSG_RC_MEMBER_FENCED, "member %s is fenced", member);
	return QSG_OK;
}

int chcore_rcv_serve(const char *member, bool leader_known, char *errmsg)
{
	if (!leader_known)
		return qsg_errf(errmsg, QSG_RC_NO_LEADER,
				"member %s knows no leader (no quorum); try another member",
				member);
	return QSG_OK;
}

enum chcore_rcv_fence chcore_rcv_fenced(uint32_t self, uint64_t rinst, const struct fsm_syncq *sq,
					const struct fsm_chstatus *st)
{
	/* The replica may not have applied this instance's own START yet (the
	 * result of a forwarded command can come before the local apply):
	 * nothing to judge until it has. */
	if (rinst == 0 || sq == NULL || sq->rinst < rinst)
		return CHFENCE_NONE;
	if (st == NULL)
		return CHFENCE_REMOVED;
	if (st->img.owner != self)
		return CHFENCE_TAKEN;
	if (sq->rinst != rinst)
		return CHFENCE_NEWER_HERE;
	return CHFENCE_NONE;
}

int chcore_sdr_partner(const char *channel, const char *recorded, const char *answered,
		       uint64_t reset_seq, char *errmsg)
{
	if (recorded[0] == '\0' || reset_seq != 0 || strcmp(recorded, answered) == 0)
		return QSG_OK;
	return qsg_errf(errmsg, QSG_RC_Q_MGR_NAME_ERROR,
			"channel %s: the partner is queue manager %s, but the channel's partner "
			"is %s (RESET CHANNEL to accept a new partner)",
			channel, answered, recorded);
}

void chcore_rcv_started(struct chcore_rcvseq *q, uint64_t lstseq)
{
	q->expect = lstseq + 1;
	q->skip = false;
}

enum chcore_seq_act chcore_rcv_msg(struct chcore_rcvseq *q, uint64_t seq)
{
	if (q->skip) {
		if (seq != q->expect)
			return CHSEQ_IGNORE;
		q->skip = false;
	}
	if (seq != q->expect)
		return CHSEQ_MISMATCH;
	q->expect = seq + 1;
	return CHSEQ_ACCEPT;
}

void chcore_rcv_refused(struct chcore_rcvseq *q, uint64_t first)
{
	q->skip = true;
	q->expect = first;
}

/* ---- the channel initiator's own state ---- */

enum chcore_chinit_st chcore_chinit_status(bool started, bool failed, bool fenced)
{
	if (!started)
		return CHINIT_ST_STOPPED;
	if (failed)
		return CHINIT_ST_FAILED;
	if (fenced)
		return CHINIT_ST_FENCED;
	return CHINIT_ST_RUNNING;
}

const char *chcore_chinit_status_name(enum chcore_chinit_st st)
{
	switch (st) {
	case CHINIT_ST_RUNNING:
		return "RUNNING";
	case CHINIT_ST_STOPPED:
		return "STOPPED";
	case CHINIT_ST_FAILED:
		return "FAILED";
	case CHINIT_ST_FENCED:
		return "FENCED";
	}
	return "UNKNOWN";
}

unsigned chcore_chinit_restart_delay(unsigned prev_ms, uint64_t up_ms)
{
	if (prev_ms == 0 || up_ms >= CHINIT_STABLE_MS)
		return CHINIT_RESTART_MS;
	uint64_t d = (uint64_t)prev_ms * 2;
	return d > CHINIT_RESTART_MAX_MS ? CHINIT_RESTART_MAX_MS : (unsigned)d;
}
