/* State machine, channels (fsm_chan.h): the sorted tables of channel
 * definitions, status entries and SYNCQ records; the apply functions of
 * QMGR_ALTER, CHDEFINE, CHALTER, CHDELETE, CHINIT_STATE and CHST_CAS; and the
 * channel queries. Message transfer is in fsm_chmsg.c. Internal to src/fsm
 * except for the fsm_chan.h queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"
#include "sorted.h"

/* --- apply: channels (fsm_chan.h) ---------------------------------------- */

void chan_changed(struct fsm *f)
{
	f->chan_gen++;
}

static bool state_active(uint8_t st)
{
	return st == FSM_CHS_STARTING || st == FSM_CHS_RUNNING || st == FSM_CHS_RETRYING ||
	       st == FSM_CHS_RECOVERING;
}

int chkey_cmp(const char *n1, const char *r1, const char *n2, const char *r2)
{
	int c = strcmp(n1, n2);
	return c != 0 ? c : strcmp(r1, r2);
}

/* Definitions. */
static int chdef_cmp(const void *key, const void *elem)
{
	return strcmp((const char *)key, ((const struct fsm_chattrs *)elem)->name);
}

static size_t chdef_pos(const struct fsm *f, const char *name, bool *found)
{
	return sorted_find(f->chdefs, f->nchdefs, sizeof *f->chdefs, name, chdef_cmp, found);
}

struct fsm_chattrs *chdef_find(const struct fsm *f, const char *name)
{
	bool found;
	size_t i = chdef_pos(f, name, &found);
	return found ? &f->chdefs[i] : NULL;
}

/* The member whose QMGR queue is the xmitq of sender definition d: its
 * scope for a private channel, 0 (the SHARED queue) otherwise. */
uint32_t chdef_scope(const struct fsm_chattrs *d)
{
	return d != NULL && FSM_CH_PRIVATE(d) ? d->scope : 0;
}

/* Status entries. */
/* Key of the status and SYNCQ tables. */
struct chkey {
	const char *name, *rqm;
};

static int chst_cmp(const void *key, const void *elem)
{
	const struct chkey *k = key;
	const struct chst *e = *(struct chst *const *)elem;
	return chkey_cmp(k->name, k->rqm, e->s.name, e->s.rqmname);
}

static size_t chst_pos(const struct fsm *f, const char *name, const char *rqm, bool *found)
{
	struct chkey k = {name, rqm};
	return sorted_find(f->chsts, f->nchsts, sizeof *f->chsts, &k, chst_cmp, found);
}

struct chst *chst_find(const struct fsm *f, const char *name, const char *rqm)
{
	bool found;
	size_t i = chst_pos(f, name, rqm, &found);
	return found ? f->chsts[i] : NULL;
}

/* A new, empty entry for a key that is not in the table (NULL: no memory). */
struct chst *chst_insert(struct fsm *f, const char *name, const char *rqm, uint8_t type)
{
	bool found;
	size_t i = chst_pos(f, name, rqm, &found);
	if (sorted_grow((void **)&f->chsts, &f->capchsts, f->nchsts, sizeof *f->chsts) != QSG_OK)
		return NULL;
	struct chst *e = calloc(1, sizeof *e);
	if (e == NULL)
		return NULL;
	snprintf(e->s.name, sizeof e->s.name, "%s", name);
	snprintf(e->s.rqmname, sizeof e->s.rqmname, "%s", rqm);
	e->s.chltype = type;
	e->s.img.exists = 1;
	memmove(&f->chsts[i + 1], &f->chsts[i], (f->nchsts - i) * sizeof *f->chsts);
	f->chsts[i] = e;
	f->nchsts++;
	return e;
}

/* Remove and free an entry without locked messages. */
static void chst_remove(struct fsm *f, struct chst *e)
{
	bool found;
	size_t i = chst_pos(f, e->s.name, e->s.rqmname, &found);
	if (!found)
		return;
	memmove(&f->chsts[i], &f->chsts[i + 1], (f->nchsts - i - 1) * sizeof *f->chsts);
	f->nchsts--;
	park_free_all(e); /* empty (chst_cas) */
	free(e);
}

/* Whether messages of listed destinations are parked with the entry: it
 * is not removed then (they would be lost to their xmitq). */
static bool chst_parked(const struct chst *e)
{
	for (uint32_t i = 0; i < FSM_CH_BLK_MAX; i++)
		if (e->pk[i] != NULL && e->pk[i]->l.nvisible > 0)
			return true;
	return false;
}

static void chst_image(const struct chst *e, struct fsm_chimage *out)
{
	memset(out, 0, sizeof *out);
	if (e != NULL)
		*out = e->s.img;
}

void lk_append(struct chst *e, struct qmsg *m)
{
	m->uow_next = NULL;
	if (e->lk_tail != NULL)
		e->lk_tail->uow_next = m;
	else
		e->lk_head = m;
	e->lk_tail = m;
	e->s.indoubt++;
}

/* SYNCQ records. */
static int syncq_cmp(const void *key, const void *elem)
{
	const struct chkey *k = key;
	const struct fsm_syncq *q = elem;
	return chkey_cmp(k->name, k->rqm, q->name, q->rqmname);
}

size_t syncq_pos(const struct fsm *f, const char *name, const char *rqm, bool *found)
{
	struct chkey k = {name, rqm};
	return sorted_find(f->syncqs, f->nsyncqs, sizeof *f->syncqs, &k, syncq_cmp, found);
}

struct fsm_syncq *syncq_find(const struct fsm *f, const char *name, const char *rqm)
{
	bool found;
	size_t i = syncq_pos(f, name, rqm, &found);
	return found ? &f->syncqs[i] : NULL;
}

/* --- QMGR_ALTER, CHDEFINE, CHALTER, CHDELETE, CHINIT_STATE --- */

int op_qmgr_alter(struct fsm *f, const struct fsm_cmd *c)
{
	const struct fsm_qmgr_attrs *a = &c->ch.qm;
	if ((a->set & FSM_QM_DEADQ) && a->deadq[0] != '\0' && !fsm_name_valid(a->deadq))
		return QSG_RC_BAD_ATTR;
	if (a->set & FSM_QM_DEADQ)
		memcpy(f->qmgr.deadq, a->deadq, sizeof f->qmgr.deadq);
	if (a->set & FSM_QM_DESCR)
		memcpy(f->qmgr.descr, a->descr, sizeof f->qmgr.descr);
	f->qmgr.set = FSM_QM_ALL;
	return QSG_OK;
}

bool chattrs_ok(const struct fsm_chattrs *a)
{
	if (!fsm_chname_valid(a->name))
		return false;
	if (a->chltype != FSM_CHL_SDR && a->chltype != FSM_CHL_RCVR)
		return false;
	if (a->chltype == FSM_CHL_SDR && (a->conname[0] == '\0' || a->xmitq[0] == '\0'))
		return false;
	if (a->xmitq[0] != '\0' && !fsm_name_valid(a->xmitq))
		return false;
	if (a->batchsz < 1 || a->batchsz > FSM_MAX_CHBATCH || a->pipeline < 1 ||
	    a->pipeline > FSM_CH_MAX_PIPELINE || a->compmsg > FSM_COMP_LZ4 || a->usedlq > 1 ||
	    a->maxmsgl > FSM_MAX_MSGL)
		return false;
	return true;
}

int op_chdefine(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_chattrs a;
	fsm_chattrs_defaults(&a);
	memcpy(a.name, c->ch.attrs.name, sizeof a.name);
	if (!(c->ch.attrs.set & FSM_CA_CHLTYPE))
		return QSG_RC_BAD_ATTR;
	fsm_chattrs_merge(&a, &c->ch.attrs, c->ch.attrs.set);
	if (c->ch.attrs.set & FSM_CA_QSGDISP) {
		/* A private channel of member scope (docs/channels.md "Private
		 * channels"). */
		if (!FSM_CH_PRIVATE(&c->ch.attrs) || member_find(f, c->ch.attrs.scope) == NULL)
			return QSG_RC_BAD_ATTR;
		a.set |= FSM_CA_QSGDISP;
		a.disp = FSM_DISP_QMGR;
		a.scope = c->ch.attrs.scope;
	}
	if (!chattrs_ok(&a))
		return QSG_RC_BAD_ATTR;
	bool found;
	size_t i = chdef_pos(f, a.name, &found);
	if (found) {
		/* One name space for shared and private channels: REPLACE
		 * only of the same type, disposition and member. */
		const struct fsm_chattrs *o = &f->chdefs[i];
		if (!(c->flags & FSM_F_REPLACE) || o->chltype != a.chltype ||
		    FSM_CH_PRIVATE(o) != FSM_CH_PRIVATE(&a) || o->scope != a.scope)
			return QSG_RC_OBJECT_EXISTS;
		f->chdefs[i] = a;
		chan_changed(f);
		return QSG_OK;
	}
	if (sorted_grow((void **)&f->chdefs, &f->capchdefs, f->nchdefs, sizeof *f->chdefs) !=
	    QSG_OK)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	memmove(&f->chdefs[i + 1], &f->chdefs[i], (f->nchdefs - i) * sizeof *f->chdefs);
	f->chdefs[i] = a;
	f->nchdefs++;
	chan_changed(f);
	return QSG_OK;
}

int op_chalter(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_chattrs *d = chdef_find(f, c->ch.attrs.name);
	if (d == NULL)
		return QSG_RC_CHANNEL_NOT_FOUND;
	/* The disposition the command names (none: shared) must be the
	 * channel's: ALTER cannot change it, and a private channel is altered
	 * through its own member (the admin fills in its disposition). */
	bool priv = (c->ch.attrs.set & FSM_CA_QSGDISP) != 0;
	if (priv != FSM_CH_PRIVATE(d) || (priv && c->ch.attrs.scope != d->scope))
		return QSG_RC_CHANNEL_NOT_FOUND;
	if ((c->ch.attrs.set & FSM_CA_CHLTYPE) && c->ch.attrs.chltype != d->chltype)
		return QSG_RC_BAD_ATTR;
	struct fsm_chattrs a = *d;
	fsm_chattrs_merge(&a, &c->ch.attrs, c->ch.attrs.set);
	if (!chattrs_ok(&a))
		return QSG_RC_BAD_ATTR;
	*d = a;
	chan_changed(f);
	return QSG_OK;
}

int op_chdelete(struct fsm *f, const struct fsm_cmd *c)
{
	bool found;
	size_t i = chdef_pos(f, c->ch.name, &found);
	if (!found)
		return QSG_RC_CHANNEL_NOT_FOUND;
	const struct chst *sdr = chst_find(f, c->ch.name, "");
	if (sdr != NULL && sdr->s.chltype == FSM_CHL_SDR && state_active(sdr->s.img.state))
		return QSG_RC_CHANNEL_ACTIVE;
	for (size_t j = 0; j < f->nchsts; j++)
		if (strcmp(f->chsts[j]->s.name, c->ch.name) == 0 && f->chsts[j]->s.indoubt > 0)
			return QSG_RC_CHANNEL_INDOUBT;
	memmove(&f->chdefs[i], &f->chdefs[i + 1], (f->nchdefs - i - 1) * sizeof *f->chdefs);
	f->nchdefs--;
	size_t k = 0;
	for (size_t j = 0; j < f->nchsts; j++) {
		if (strcmp(f->chsts[j]->s.name, c->ch.name) == 0)
			free(f->chsts[j]);
		else
			f->chsts[k++] = f->chsts[j];
	}
	f->nchsts = k;
	chan_changed(f);
	return QSG_OK;
}

int op_chinit_state(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_member *m = member_find(f, c->ch.member_id);
	if (m == NULL)
		return QSG_RC_INVALID;
	m->chinit = c->ch.chinit;
	chan_changed(f);
	return QSG_OK;
}

/* --- CHST_CAS --- */

/* Group-wide retry (docs/channels.md "Retry across the group"). */
struct chretry_out {
	uint32_t retries;
	int64_t retry_at_ms;
	int64_t soon_ms;
	bool stop; /* SHORTRTY + LONGRTY retries used up: STOPPED */
};

/* One failed attempt of an instance, at leader time `now`: attempt n (the
 * first failure in a row is 1) is followed by retry n, SHORTTMR later for
 * n <= SHORTRTY, LONGTMR later up to SHORTRTY + LONGRTY; after that the
 * channel stops. A RUNNING instance that failed gets its first retry at
 * once (FSM_CH_RETRY_SOON_MS), at most once per SHORTTMR. */
static void chretry_count(struct chretry_out *rt, const struct fsm_chattrs *def, bool was_running,
			  int64_t now)
{
	uint64_t n = (uint64_t)rt->retries + 1;
	rt->retries = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	rt->retry_at_ms = 0;
	if (n > (uint64_t)def->shortrty + def->longrty) {
		rt->stop = true;
		return;
	}
	uint64_t delay = (uint64_t)(n <= def->shortrty ? def->shorttmr : def->longtmr) * 1000;
	uint64_t gap = (uint64_t)def->shorttmr * 1000;
	if (was_running &&
	    (rt->soon_ms == 0 || now < rt->soon_ms || (uint64_t)(now - rt->soon_ms) >= gap)) {
		delay = FSM_CH_RETRY_SOON_MS;
		rt->soon_ms = now;
	}
	rt->retry_at_ms = sat_add_i64(now, (int64_t)delay);
}

static int chst_cas(struct fsm *f, const struct fsm_chcmd *ch, int64_t now)
{
	struct chst *e = chst_find(f, ch->name, ch->rqmname);
	struct fsm_chimage cur;
	chst_image(e, &cur);
	const struct fsm_chimage *b = &ch->before, *a = &ch->after;
	if (b->exists != cur.exists ||
	    (cur.exists &&
	     (b->owner != cur.owner || b->state != cur.state || b->epoch != cur.epoch)))
		return QSG_RC_CAS_FAILED;
	if (!a->exists) {
		if (e == NULL)
			return QSG_OK;
		if (e->s.indoubt > 0 || chst_parked(e))
			return QSG_RC_CHANNEL_INDOUBT;
		chst_remove(f, e);
		chan_changed(f);
		return QSG_OK;
	}
	uint8_t type = e != NULL ? e->s.chltype : ch->chltype;
	if (type == 0 || (ch->chltype != 0 && ch->chltype != type))
		return QSG_RC_INVALID;
	if (type == FSM_CHL_SDR && ch->rqmname[0] != '\0')
		return QSG_RC_INVALID;
	if (type != FSM_CHL_SDR && ch->partner[0] != '\0')
		return QSG_RC_INVALID; /* RCVR entries are keyed by the partner */
	const struct fsm_chattrs *def = NULL;
	if (type == FSM_CHL_SDR) {
		def = chdef_find(f, ch->name);
		if (def == NULL || def->chltype != FSM_CHL_SDR)
			return QSG_RC_CHANNEL_NOT_FOUND;
	}
	if (a->state < FSM_CHS_STOPPED || a->state > FSM_CHS_MAX)
		return QSG_RC_INVALID;
	if ((ch->flags & FSM_CHF_RETRY) &&
	    (type != FSM_CHL_SDR || e == NULL || a->state != FSM_CHS_RETRYING ||
	     a->owner != cur.owner || !state_active(cur.state)))
		return QSG_RC_INVALID;
	if (state_active(a->state)) {
		const struct fsm_member *m = member_find(f, a->owner);
		if (m == NULL || m->state == FSM_MEMBER_FAILED)
			return QSG_RC_INVALID;
		/* A private channel runs on its member only: no other member
		 * starts, recovers or takes it over (docs/channels.md). */
		if (def != NULL && FSM_CH_PRIVATE(def) && a->owner != def->scope)
			return QSG_RC_INVALID;
	}
	/* A new instance: STARTING from anything else, or STARTING on another
	 * owner or as a restart (epoch moves) of a STARTING entry. Only an
	 * unchanged STARTING image keeps its epoch. */
	bool into_starting =
	    a->state == FSM_CHS_STARTING && (!cur.exists || cur.state != FSM_CHS_STARTING ||
					     cur.owner != a->owner || a->epoch != cur.epoch);
	if (into_starting ? (cur.epoch == UINT64_MAX || a->epoch != cur.epoch + 1)
			  : a->epoch != cur.epoch)
		return QSG_RC_INVALID;
	struct fsm_chimage after = *a;
	struct chretry_out rt = {0};
	if (e != NULL) {
		rt.retries = e->s.retries;
		rt.soon_ms = e->s.soon_ms;
		if (cur.state == FSM_CHS_RETRYING && a->state == FSM_CHS_RETRYING)
			rt.retry_at_ms = e->s.retry_at_ms; /* still waiting */
	}
	if (ch->flags & FSM_CHF_RETRY)
		chretry_count(&rt, def, cur.state == FSM_CHS_RUNNING, now);
	else if ((a->state == FSM_CHS_RUNNING && cur.state != FSM_CHS_RUNNING) ||
		 (into_starting && (!cur.exists || cur.state == FSM_CHS_STOPPED)))
		rt.retries = 0; /* connected, or started by an operator */
	if (rt.stop)
		after.state = FSM_CHS_STOPPED;
	a = &after;
	if (def != NULL && state_active(a->state)) {
		/* The xmitq is (scope, name): a private channel's is its
		 * member's QMGR queue, a shared channel's the SHARED one. */
		for (size_t i = 0; i < f->nchsts; i++) {
			const struct chst *o = f->chsts[i];
			if (o == e || o->s.chltype != FSM_CHL_SDR ||
			    !state_active(o->s.img.state) || strcmp(o->s.xmitq, def->xmitq) != 0)
				continue;
			const struct fsm_chattrs *od = chdef_find(f, o->s.name);
			if (chdef_scope(od) == chdef_scope(def))
				return QSG_RC_XMITQ_IN_USE;
		}
	}
	if (e == NULL && (e = chst_insert(f, ch->name, ch->rqmname, type)) == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	if (def != NULL)
		memcpy(e->s.xmitq, def->xmitq, sizeof e->s.xmitq);
	if (cur.exists && a->owner != cur.owner)
		e->s.prev_owner = cur.owner;
	bool into_running =
	    a->state == FSM_CHS_RUNNING && (!cur.exists || cur.state != FSM_CHS_RUNNING);
	e->s.img = *a;
	memcpy(e->s.conname, ch->conname, sizeof e->s.conname);
	if (rt.stop)
		snprintf(e->s.reason, sizeof e->s.reason, "retries exhausted after %u attempts",
			 rt.retries);
	else
		memcpy(e->s.reason, ch->reason, sizeof e->s.reason);
	if (type == FSM_CHL_SDR) {
		e->s.retries = rt.retries;
		e->s.retry_at_ms = rt.retry_at_ms;
		e->s.soon_ms = rt.soon_ms;
	}
	if (ch->partner[0] != '\0')
		memcpy(e->s.partner, ch->partner, sizeof e->s.partner);
	e->s.last_change_ms = now;
	if (into_running)
		e->s.reset_seq = 0;
	chan_changed(f);
	return QSG_OK;
}

int op_chst_cas(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	int rc = chst_cas(f, &c->ch, now);
	if (out != NULL) {
		struct fsm_chimage cur;
		const struct chst *e = chst_find(f, c->ch.name, c->ch.rqmname);
		chst_image(e, &cur);
		fsm_chimage_encode(out, &cur);
		if (rc == QSG_OK && (c->ch.flags & FSM_CHF_RETRY) && e != NULL) {
			qsg_put_u32(out, e->s.retries);
			qsg_put_i64(out, e->s.retry_at_ms);
			qsg_put_i64(out, now);
		}
	}
	return rc;
}

/* --- channel queries ----------------------------------------------------- */

int fsm_qmgr_get(struct fsm *f, struct fsm_qmgr_attrs *out)
{
	*out = f->qmgr;
	out->set = FSM_QM_ALL;
	return QSG_OK;
}

int fsm_channel_get(struct fsm *f, const char *name, struct fsm_chattrs *out)
{
	const struct fsm_chattrs *a = chdef_find(f, name);
	if (a == NULL)
		return QSG_RC_CHANNEL_NOT_FOUND;
	*out = *a;
	return QSG_OK;
}

void fsm_channel_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_chattrs *c),
			 void *arg)
{
	for (size_t i = 0; i < f->nchdefs; i++)
		if (cb(arg, &f->chdefs[i]) != 0)
			break;
}

int fsm_chstatus_get(struct fsm *f, const char *name, const char *rqmname, struct fsm_chstatus *out)
{
	const struct chst *e = chst_find(f, name, rqmname != NULL ? rqmname : "");
	if (e == NULL)
		return QSG_RC_CHANNEL_NOT_FOUND;
	*out = e->s;
	return QSG_OK;
}

void fsm_chstatus_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_chstatus *s),
			  void *arg)
{
	for (size_t i = 0; i < f->nchsts; i++)
		if (cb(arg, &f->chsts[i]->s) != 0)
			break;
}

int fsm_syncq_get(struct fsm *f, const char *name, const char *rqmname, struct fsm_syncq *out)
{
	const struct fsm_syncq *q = syncq_find(f, name, rqmname != NULL ? rqmname : "");
	if (q == NULL)
		return QSG_RC_CHANNEL_NOT_FOUND;
	*out = *q;
	return QSG_OK;
}

void fsm_syncq_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_syncq *s), void *arg)
{
	for (size_t i = 0; i < f->nsyncqs; i++)
		if (cb(arg, &f->syncqs[i]) != 0)
			break;
}

uint64_t fsm_chan_generation(struct fsm *f)
{
	return f->chan_gen;
}
