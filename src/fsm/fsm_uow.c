/* State machine, sessions and units of work: the session table, uow lists
 * and backout, and the apply functions of ATTACH, DETACH, OPEN, CLOSE,
 * COMMIT and BACKOUT, and the pending backouts of failed, restarted or
 * forgotten members' sessions (MEMBER_FAIL_BOUNDED, MEMBER_JOIN_BOUNDED,
 * MEMBER_REMOVE_BOUNDED, BACKOUT_PENDING; fsm.h). Internal to src/fsm
 * (fsm_int.h). */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"
#include "sorted.h"

/* --- sessions ------------------------------------------------------------ */

static struct session *session_find(const struct fsm *f, uint64_t id)
{
	uint64_t h = id_hash(id);
	for (struct hmap_node *n = hmap_bucket(&f->sessions, h); n != NULL; n = n->next) {
		struct session *s = (struct session *)n;
		if (n->hash == h && s->client_id == id)
			return s;
	}
	return NULL;
}

void uow_append(struct session *s, struct qmsg *m)
{
	m->uow_next = NULL;
	if (s->uow_tail != NULL)
		s->uow_tail->uow_next = m;
	else
		s->uow_head = m;
	s->uow_tail = m;
	s->uow_count++;
}

/* Back out one message taken off a uow; returns its cost in backout
 * budget units (fsm.h, FSM_BACKOUT_BUDGET). counted: BackoutCount + 1,
 * and BOTHRESH/BOQNAME apply; else (BACKOUT_UNCOUNTED) the message goes
 * back where it was, its count as it was. */
static uint64_t backout_one(struct fsm *f, struct qmsg *m, bool counted)
{
	struct queue *q = m->q;
	m->uow_next = NULL;
	q->uncommitted--;
	if (m->state == MS_HELD) {
		q->curdepth--;
		msg_free(f, m);
		return 1;
	}
	if (!counted) {
		make_visible(f, q, m, false);
		queue_notify(f, q, 1);
		return 1;
	}
	/* Its first backout gives it an extension: out of memory fails the
	 * apply (f->alloc_failed), the message is backed out all the same. */
	uint32_t bc = qmsg_backout(m);
	if (bc < UINT32_MAX)
		qmsg_set_backout(f, m, bc + 1);
	struct queue *boq = NULL;
	if (q->attrs.bothresh > 0 && qmsg_backout(m) >= q->attrs.bothresh &&
	    q->attrs.boqname[0] != '\0')
		boq = queue_lookup(f, q->attrs.scope, q->attrs.boqname);
	/* Moved as a new arrival: end of its priority on BOQNAME, under a new
	 * seqno (its content moves with it: renamed by the provider in O(1),
	 * or read and put again by one without rename). The cost still counts
	 * the content's bytes: the budget decides what one apply backs out,
	 * which must not depend on a member's provider. A provider failure
	 * (fatal, f->body_failed) leaves it where it was. */
	if (boq != NULL && boq != q && boq->attrs.qtype == FSM_QT_LOCAL &&
	    boq->curdepth < boq->attrs.maxdepth &&
	    msg_renumber(f, m, f->last_seqno + 1) == QSG_OK) {
		f->last_seqno++;
		q->curdepth--;
		boq->curdepth++;
		make_visible(f, boq, m, true);
		queue_notify(f, boq, 1);
		return 1 + ((uint64_t)m->props_len + m->body_len) / FSM_BACKOUT_UNIT_BYTES;
	}
	make_visible(f, q, m, false);
	queue_notify(f, q, 1);
	return 1;
}

/* Back out s's uow from its head while *budget > 0 (each message takes
 * its cost, at least one unit); true when the uow is empty. */
static bool uow_backout_as(struct fsm *f, struct session *s, uint64_t *budget, bool counted)
{
	while (s->uow_head != NULL && *budget > 0) {
		struct qmsg *m = s->uow_head;
		s->uow_head = m->uow_next;
		if (s->uow_head == NULL)
			s->uow_tail = NULL;
		s->uow_count--;
		uint64_t cost = backout_one(f, m, counted);
		*budget -= cost < *budget ? cost : *budget;
	}
	return s->uow_head == NULL;
}

static bool uow_backout_some(struct fsm *f, struct session *s, uint64_t *budget)
{
	return uow_backout_as(f, s, budget, true);
}

void uow_remove(struct session *s, struct qmsg *m)
{
	struct qmsg **pp = &s->uow_head, *prev = NULL;
	while (*pp != NULL && *pp != m) {
		prev = *pp;
		pp = &(*pp)->uow_next;
	}
	if (*pp == NULL)
		return;
	*pp = m->uow_next;
	if (s->uow_tail == m)
		s->uow_tail = prev;
	m->uow_next = NULL;
	s->uow_count--;
}

static void uow_backout(struct fsm *f, struct session *s)
{
	uint64_t all = UINT64_MAX;
	uow_backout_some(f, s, &all);
}

/* --- pending backouts ---------------------------------------------------- */

static int pend_cmp(const void *key, const void *elem)
{
	uint64_t a = *(const uint64_t *)key, b = *(const uint64_t *)elem;
	return a < b ? -1 : a > b;
}

static int pend_add(struct fsm *f, uint64_t id)
{
	bool found;
	size_t i = sorted_find(f->pend, f->npend, sizeof *f->pend, &id, pend_cmp, &found);
	if (found)
		return QSG_OK;
	if (sorted_grow((void **)&f->pend, &f->cappend, f->npend, sizeof *f->pend) != QSG_OK)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	memmove(&f->pend[i + 1], &f->pend[i], (f->npend - i) * sizeof *f->pend);
	f->pend[i] = id;
	f->npend++;
	return QSG_OK;
}

static void pend_del_at(struct fsm *f, size_t i)
{
	memmove(&f->pend[i], &f->pend[i + 1], (f->npend - i - 1) * sizeof *f->pend);
	f->npend--;
}

static void pend_del(struct fsm *f, uint64_t id)
{
	bool found;
	size_t i = sorted_find(f->pend, f->npend, sizeof *f->pend, &id, pend_cmp, &found);
	if (found)
		pend_del_at(f, i);
}

int pend_rebuild(struct fsm *f)
{
	f->npend = 0;
	for (struct hmap_node *n = hmap_next(&f->sessions, NULL); n != NULL;
	     n = hmap_next(&f->sessions, n)) {
		const struct session *s = (const struct session *)n;
		if (!s->attached && s->uow_count > 0 && pend_add(f, s->client_id) != QSG_OK)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	return QSG_OK;
}

uint64_t fsm_backout_pending(struct fsm *f)
{
	uint64_t n = 0;
	for (size_t i = 0; i < f->npend; i++)
		n += session_find(f, f->pend[i])->uow_count;
	return n;
}

uint64_t fsm_backout_pending_owned(struct fsm *f, uint32_t member_id)
{
	uint64_t n = 0;
	for (size_t i = 0; i < f->npend; i++) {
		const struct session *s = session_find(f, f->pend[i]);
		if (s->owner == member_id)
			n += s->uow_count;
	}
	return n;
}

int op_backout_pending(struct fsm *f, const struct fsm_cmd *c)
{
	uint64_t budget = c->seq == 0 ? FSM_BACKOUT_BUDGET : c->seq;
	if (budget > FSM_BACKOUT_BUDGET_MAX)
		budget = FSM_BACKOUT_BUDGET_MAX;
	while (f->npend > 0 && budget > 0) {
		struct session *s = session_find(f, f->pend[0]);
		if (!uow_backout_some(f, s, &budget))
			break;
		pend_del_at(f, 0);
	}
	return QSG_OK;
}

static void drop_opens(struct session *s)
{
	struct sopen *o = s->opens;
	while (o != NULL) {
		struct sopen *next = o->next;
		o->q->opens -= o->count;
		free(o);
		o = next;
	}
	s->opens = NULL;
}

/* Back out s's uow while *budget lasts, drop its opens, detach it; a uow
 * left over makes its backout pending. */
static int session_detach(struct fsm *f, struct session *s, int64_t now, uint64_t *budget)
{
	bool done = uow_backout_some(f, s, budget);
	drop_opens(s);
	s->attached = 0;
	s->detached_at = now;
	return done ? QSG_OK : pend_add(f, s->client_id);
}

void session_free(struct session *s)
{
	/* Only for teardown: messages of the uow are freed with it, their
	 * content not released (the state is replaced, not consumed). */
	struct qmsg *m = s->uow_head;
	while (m != NULL) {
		struct qmsg *next = m->uow_next;
		msg_destroy(m);
		m = next;
	}
	struct sopen *o = s->opens;
	while (o != NULL) {
		struct sopen *next = o->next;
		free(o);
		o = next;
	}
	free(s);
}

static int cmp_session(const void *a, const void *b)
{
	const struct session *x = *(struct session *const *)a;
	const struct session *y = *(struct session *const *)b;
	return x->client_id < y->client_id ? -1 : x->client_id > y->client_id;
}

/* Sessions in client_id order, optionally only the attached ones of
 * `owner`. */
int sessions_sorted(const struct fsm *f, bool only_owner, uint32_t owner, struct session ***out,
		    size_t *n)
{
	*out = NULL;
	*n = 0;
	if (f->sessions.count == 0)
		return QSG_OK;
	struct session **v = malloc(f->sessions.count * sizeof *v);
	if (v == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	size_t i = 0;
	for (struct hmap_node *x = hmap_next(&f->sessions, NULL); x != NULL;
	     x = hmap_next(&f->sessions, x)) {
		struct session *s = (struct session *)x;
		if (!only_owner || (s->attached && s->owner == owner))
			v[i++] = s;
	}
	qsort(v, i, sizeof *v, cmp_session);
	*out = v;
	*n = i;
	return QSG_OK;
}

int detach_owned(struct fsm *f, uint32_t owner, int64_t now, uint64_t *budget)
{
	struct session **v;
	size_t n;
	int rc = sessions_sorted(f, true, owner, &v, &n);
	if (rc != QSG_OK)
		return rc;
	for (size_t i = 0; i < n && rc == QSG_OK; i++)
		rc = session_detach(f, v[i], now, budget);
	free(v);
	return rc;
}

/* --- apply: sessions ----------------------------------------------------- */

int session_check(struct fsm *f, const struct fsm_cmd *c, struct session **out)
{
	struct session *s = session_find(f, c->client_id);
	*out = s;
	if (s == NULL)
		return QSG_RC_NOT_ATTACHED;
	if (!s->attached || s->epoch != c->epoch)
		return QSG_RC_SESSION_FENCED;
	return QSG_OK;
}

int op_attach(struct fsm *f, const struct fsm_cmd *c, struct qsg_wbuf *out)
{
	if (c->client_id == 0)
		return QSG_RC_INVALID;
	struct session *s = session_find(f, c->client_id);
	if (s == NULL) {
		s = calloc(1, sizeof *s);
		if (s == NULL)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		s->client_id = c->client_id;
		if (hmap_insert(&f->sessions, &s->node, id_hash(s->client_id)) != QSG_OK) {
			free(s);
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		}
	} else {
		if (!s->attached && s->uow_count > 0)
			pend_del(f, s->client_id); /* its pending backout: done now */
		uow_backout(f, s);
		drop_opens(s);
	}
	s->epoch++;
	s->owner = c->member_id;
	s->attached = 1;
	s->detached_at = 0;
	if (out != NULL) {
		qsg_put_u64(out, s->epoch);
		qsg_put_u64(out, s->put_seq);
		qsg_put_u64(out, s->uows_done);
	}
	return QSG_OK;
}

int op_detach(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	uint64_t all = UINT64_MAX;
	return session_detach(f, s, now, &all);
}

int op_open(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	struct queue *q;
	if ((rc = queue_resolve(f, s->owner, c->queue, &q, NULL)) != QSG_OK)
		return rc;
	struct sopen *o = s->opens;
	while (o != NULL && o->q != q)
		o = o->next;
	if (o == NULL) {
		o = calloc(1, sizeof *o);
		if (o == NULL)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		o->q = q;
		o->next = s->opens;
		s->opens = o;
	}
	o->count++;
	q->opens++;
	return QSG_OK;
}

static struct sopen **open_find(struct session *s, const struct queue *q)
{
	struct sopen **pp = &s->opens;
	while (*pp != NULL && (*pp)->q != q)
		pp = &(*pp)->next;
	return pp;
}

int op_close(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	struct queue *q;
	if ((rc = queue_resolve(f, s->owner, c->queue, &q, NULL)) != QSG_OK)
		return rc;
	struct sopen **pp = open_find(s, q);
	/* The name may resolve elsewhere than at OPEN time (a COPY or QMGR
	 * object of that name was made or deleted since): close the session's
	 * open of that name in its own scope, else in the group's. */
	for (uint32_t k = 0; *pp == NULL && k < 2; k++) {
		struct queue *alt = queue_find(f, k == 0 ? s->owner : 0, q->attrs.name);
		if (alt != NULL && alt != q) {
			q = alt;
			pp = open_find(s, q);
		}
	}
	if (*pp == NULL)
		return QSG_RC_INVALID;
	struct sopen *o = *pp;
	o->count--;
	q->opens--;
	if (o->count == 0) {
		*pp = o->next;
		free(o);
	}
	return QSG_OK;
}

int op_commit(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	if (c->seq <= s->uows_done)
		return QSG_OK;
	if (c->seq != s->uows_done + 1)
		return QSG_RC_INVALID;
	struct qmsg *m = s->uow_head;
	s->uow_head = s->uow_tail = NULL;
	s->uow_count = 0;
	while (m != NULL) {
		struct qmsg *next = m->uow_next;
		struct queue *q = m->q;
		m->uow_next = NULL;
		q->uncommitted--;
		if (m->state == MS_HELD && msg_complete(f, m)) {
			make_visible(f, q, m, true);
			q->puts_total++;
			queue_notify(f, q, 1);
		} else {
			/* A get; or a chunked put still missing parts: dropped. */
			q->curdepth--;
			q->gets_total += m->state == MS_HELD ? 0 : 1;
			msg_free(f, m);
		}
		m = next;
	}
	s->uows_done++;
	return QSG_OK;
}

/* BACKOUT and BACKOUT_UNCOUNTED (level 5: BackoutCount left alone). */
int op_backout(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	uint64_t all = UINT64_MAX;
	uow_backout_as(f, s, &all, c->op != FSM_OP_BACKOUT_UNCOUNTED);
	return QSG_OK;
}
