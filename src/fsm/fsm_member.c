/* State machine, members and leases: the member table (sorted by id) and
 * the apply functions of MEMBER_JOIN, LEASE_RENEW, MEMBER_FAIL and
 * MEMBER_REMOVE, and of their bounded forms (the backout of the member's
 * sessions' units of work bounded, the rest pending: fsm.h), and of
 * MEMBER_REMOVE_QMGR (its private channels go too). Internal to src/fsm
 * (fsm_int.h). */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"
#include "sorted.h"

/* --- members ------------------------------------------------------------- */

static int member_cmp(const void *key, const void *elem)
{
	uint32_t id = *(const uint32_t *)key, e = ((const struct fsm_member *)elem)->id;
	return id < e ? -1 : id > e;
}

struct fsm_member *member_find(const struct fsm *f, uint32_t id)
{
	bool found;
	size_t i =
	    sorted_find(f->members, f->nmembers, sizeof *f->members, &id, member_cmp, &found);
	return found ? &f->members[i] : NULL;
}

struct fsm_member *member_add(struct fsm *f, uint32_t id)
{
	if (sorted_grow((void **)&f->members, &f->capmembers, f->nmembers, sizeof *f->members) !=
	    QSG_OK)
		return NULL;
	bool found;
	size_t i =
	    sorted_find(f->members, f->nmembers, sizeof *f->members, &id, member_cmp, &found);
	memmove(&f->members[i + 1], &f->members[i], (f->nmembers - i) * sizeof *f->members);
	f->nmembers++;
	memset(&f->members[i], 0, sizeof f->members[i]);
	f->members[i].id = id;
	return &f->members[i];
}

/* --- apply: members ------------------------------------------------------ */

static int64_t lease_of(const struct fsm_cmd *c)
{
	return c->seq == 0 ? FSM_DEFAULT_LEASE_MS : (int64_t)c->seq;
}

static int member_join(struct fsm *f, const struct fsm_cmd *c, int64_t now, uint64_t budget)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL && (m = member_add(f, c->member_id)) == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	int rc = detach_owned(f, c->member_id, now, &budget);
	if (rc != QSG_OK)
		return rc;
	memcpy(m->name, c->name, sizeof m->name);
	memcpy(m->raft_addr, c->raft_addr, sizeof m->raft_addr);
	memcpy(m->client_addr, c->client_addr, sizeof m->client_addr);
	m->state = FSM_MEMBER_ACTIVE;
	m->lease_expiry_ms = sat_add_i64(now, lease_of(c));
	m->last_renew_ms = now;
	m->chinit = 0;
	m->cmdlevel = 0; /* unknown until it reports (MEMBER_LEVEL): a build
			  * older than command levels never will */
	f->chan_gen++; /* channel recovery watches member states */
	return c->member_id != 0 ? copies_for_member(f, c->member_id) : QSG_OK;
}

int op_member_join(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	return member_join(f, c, now, UINT64_MAX);
}

/* The same, the backout of the restarted member's sessions bounded
 * (fsm_backout_pending, fsm.h). */
int op_member_join_bounded(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	return member_join(f, c, now, FSM_BACKOUT_BUDGET);
}

/* The command level the member's build applies (fsm.h). Only an active
 * member reports, after its join; a level outside what this build knows is
 * recorded as it is: the group's level is the lowest anyway. */
int op_member_level(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL || m->state != FSM_MEMBER_ACTIVE)
		return QSG_RC_INVALID;
	m->cmdlevel = (uint16_t)c->seq;
	return QSG_OK;
}

int op_lease_renew(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (m->state != FSM_MEMBER_ACTIVE)
		f->chan_gen++; /* a failed member renewing: a member state change */
	m->state = FSM_MEMBER_ACTIVE;
	m->lease_expiry_ms = sat_add_i64(now, lease_of(c));
	m->last_renew_ms = now;
	m->stats = c->stats;
	return QSG_OK;
}

static int member_fail(struct fsm *f, const struct fsm_cmd *c, int64_t now, uint64_t budget)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL || m->state != FSM_MEMBER_ACTIVE || (uint64_t)m->lease_expiry_ms != c->seq)
		return QSG_RC_INVALID;
	int rc = detach_owned(f, c->member_id, now, &budget);
	if (rc != QSG_OK)
		return rc;
	m->state = FSM_MEMBER_FAILED;
	m->chinit = 0;
	f->chan_gen++;
	return QSG_OK;
}

int op_member_fail(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	return member_fail(f, c, now, UINT64_MAX);
}

/* The same, the backout bounded (fsm_backout_pending, fsm.h). */
int op_member_fail_bounded(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	return member_fail(f, c, now, FSM_BACKOUT_BUDGET);
}

/* --- MEMBER_REMOVE_QMGR: the member's private channels ------------------ */

/* Whether d is a private channel of member id. */
static bool chdef_of(const struct fsm_chattrs *d, uint32_t id)
{
	return FSM_CH_PRIVATE(d) && d->scope == id;
}

/* Whether status entry e belongs to a private channel of member id (the
 * tables are few objects: linear; fsm_chan.c's lookups would make a cycle
 * between the two files). */
static bool chst_of(const struct fsm *f, const struct chst *e, uint32_t id)
{
	for (size_t i = 0; i < f->nchdefs; i++)
		if (strcmp(f->chdefs[i].name, e->s.name) == 0)
			return chdef_of(&f->chdefs[i], id);
	return false;
}

/* Its in-doubt batches: the messages locked to the entries of its private
 * channels leave the state (they are messages of its own transmission
 * queues, which leave in the same apply). At most a batch window each. */
static void chan_drop_locked(struct fsm *f, uint32_t id)
{
	for (size_t j = 0; j < f->nchsts; j++) {
		struct chst *e = f->chsts[j];
		if (e->lk_head == NULL || !chst_of(f, e, id))
			continue;
		struct qmsg *m = e->lk_head;
		while (m != NULL) {
			struct qmsg *next = m->uow_next;
			m->q->uncommitted--;
			m->q->curdepth--;
			m->uow_next = NULL;
			msg_free(f, m);
			m = next;
		}
		e->lk_head = e->lk_tail = NULL;
		e->s.indoubt = 0;
	}
}

static bool chst_parked_any(const struct chst *e)
{
	for (uint32_t i = 0; i < FSM_CH_BLK_MAX; i++)
		if (e->pk[i] != NULL && e->pk[i]->l.nvisible > 0)
			return true;
	return false;
}

/* Its private channels' status entries and definitions, after its queues
 * went (their parks with them: reap_queue). An entry that still parks
 * messages (of a queue that could not go) keeps its channel. SYNCQ records
 * stay, as after DELETE CHANNEL. */
static void chan_drop_private(struct fsm *f, uint32_t id)
{
	size_t k = 0;
	for (size_t j = 0; j < f->nchsts; j++) {
		struct chst *e = f->chsts[j];
		if (chst_of(f, e, id) && e->s.indoubt == 0 && !chst_parked_any(e)) {
			park_free_all(e); /* empty */
			free(e);
		} else {
			f->chsts[k++] = e;
		}
	}
	f->nchsts = k;
	k = 0;
	for (size_t i = 0; i < f->nchdefs; i++) {
		bool keep = !chdef_of(&f->chdefs[i], id);
		for (size_t j = 0; !keep && j < f->nchsts; j++)
			keep = strcmp(f->chsts[j]->s.name, f->chdefs[i].name) == 0;
		if (keep)
			f->chdefs[k++] = f->chdefs[i];
	}
	f->nchdefs = k;
}

/* MEMBER_REMOVE (bounded false: every backout in this apply),
 * MEMBER_REMOVE_BOUNDED and MEMBER_REMOVE_QMGR (chans: its private
 * channels go too). */
static int member_remove(struct fsm *f, const struct fsm_cmd *c, int64_t now, bool bounded,
			 bool chans)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (m->state != FSM_MEMBER_FAILED)
		return QSG_RC_INVALID; /* it came back: not to be forgotten */
	uint64_t budget = bounded ? FSM_BACKOUT_BUDGET : UINT64_MAX;
	int rc = detach_owned(f, c->member_id, now, &budget);
	if (rc != QSG_OK)
		return rc;
	/* A unit of work of one of its sessions still to back out holds
	 * messages of its queues (uncommitted: they could not be deleted) and
	 * may move some to a backout queue elsewhere: the member stays until
	 * BACKOUT_PENDING is done with them, then the leader sends this again.
	 * (MEMBER_REMOVE, kept for old logs, does not wait: a queue with
	 * pending messages, from an earlier MEMBER_FAIL_BOUNDED, stayed.) */
	if (bounded && fsm_backout_pending_owned(f, c->member_id) > 0)
		return QSG_OK;
	/* Its QMGR objects and COPYs go with it, messages included (in MQ
	 * they live on that queue manager's own page sets). Its sessions are
	 * detached, and no other member's session can reach them. */
	struct queue **v;
	size_t n;
	if ((rc = queues_sorted(f, &v, &n)) != QSG_OK)
		return rc;
	/* MEMBER_REMOVE_QMGR: its private channels too (docs/channels.md
	 * "Private channels"): their in-doubt messages first, so that their
	 * transmission queues can go. */
	if (chans)
		chan_drop_locked(f, c->member_id);
	for (size_t k = 0; k < n; k++)
		if (v[k]->attrs.scope == c->member_id && v[k]->opens == 0 && v[k]->uncommitted == 0)
			queue_destroy(f, v[k]);
	free(v);
	if (chans)
		chan_drop_private(f, c->member_id);
	size_t i = (size_t)(m - f->members);
	memmove(&f->members[i], &f->members[i + 1], (f->nmembers - i - 1) * sizeof *f->members);
	f->nmembers--;
	f->chan_gen++;
	return QSG_OK;
}

int op_member_remove(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	return member_remove(f, c, now, false, false);
}

int op_member_remove_bounded(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	return member_remove(f, c, now, true, false);
}

int op_member_remove_qmgr(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	return member_remove(f, c, now, true, true);
}
