/* State machine, invariants (QSG_CHECKED builds; see common/qsg_assert.h).
 * The checks walk the whole state: every queue's priority lists and index,
 * every session's unit of work, every channel's locked list and the sorted
 * tables. Pointer values order a scratch table here and nothing else: the
 * checks never change the state. Internal to src/fsm (fsm_int.h). */
#include <stdlib.h>
#include <string.h>

#include "../common/qsg_assert.h"
#include "fsm_int.h"
#include "seqset.h"
#include "sorted.h"

#ifdef QSG_CHECKED

/* Messages of one queue outside its priority lists. */
struct qcount {
	const struct queue *q;
	uint32_t held, locked, chlocked;
	uint32_t parked, pexp; /* in parks, and of those with an expiry */
};

static int qcount_cmp(const void *a, const void *b)
{
	const struct queue *x = ((const struct qcount *)a)->q, *y = ((const struct qcount *)b)->q;
	return x < y ? -1 : x > y;
}

static int qcount_key(const void *key, const void *elem)
{
	const struct queue *x = key, *y = ((const struct qcount *)elem)->q;
	return x < y ? -1 : x > y;
}

static struct qcount *qcount_of(struct qcount *v, size_t n, const struct queue *q)
{
	bool found;
	size_t i = sorted_find(v, n, sizeof *v, q, qcount_key, &found);
	QSG_ASSERT(found); /* every message points at a queue of the table */
	return &v[i];
}

/* The descriptor's canonical form (fsm_desc.c): QM_GENID iff the msgid is
 * the generated one of (seqno, put time), and then not stored; an
 * extension iff one of its fields is not at its default; index links iff
 * QM_INDEXED; no CH_SETTLE mark outside an apply; QM_XFER in a uow only. */
static void check_desc(const struct qmsg *m)
{
	uint8_t gen[FSM_ID_LEN], zero[FSM_ID_LEN] = {0};
	msgid_gen(gen, m->seqno, m->put_time_ms);
	const struct qmsg_ext *x = m->x;
	QSG_ASSERT((m->flags & QM_MARK) == 0);
	QSG_ASSERT((m->flags & QM_XFER) == 0 || m->state == MS_HELD || m->state == MS_LOCKED);
	QSG_ASSERT(m->state != MS_VISIBLE || m->priority < NPRIO);
	if (x == NULL) {
		QSG_ASSERT((m->flags & QM_INDEXED) == 0);
		return;
	}
	if (m->flags & QM_GENID)
		QSG_ASSERT(memcmp(x->msgid, zero, FSM_ID_LEN) == 0);
	else
		QSG_ASSERT(memcmp(x->msgid, gen, FSM_ID_LEN) != 0);
	if (!(m->flags & QM_INDEXED))
		QSG_ASSERT(x->iprev == NULL && x->inext == NULL);
	QSG_ASSERT((m->flags & QM_INDEXED) || x->expiry_ms != 0 || x->hold_until != 0 ||
		   x->backout_count != 0 || memcmp(x->msgid, zero, FSM_ID_LEN) != 0 ||
		   memcmp(x->correlid, zero, FSM_ID_LEN) != 0);
}

/* Priority lists: linked both ways, each message visible, of its list's
 * priority and queue, sorted by seqno; returns the count. */
static uint32_t check_lists(const struct queue *q, const struct qcount *qc)
{
	uint32_t n = 0, nexp = 0;
	for (int p = 0; p < NPRIO; p++) {
		const struct qmsg *prev = NULL;
		for (const struct qmsg *m = q->head[p]; m != NULL; m = m->next) {
			QSG_ASSERT(m->prev == prev);
			QSG_ASSERT(m->q == q);
			QSG_ASSERT(m->state == MS_VISIBLE);
			QSG_ASSERT(m->priority == p);
			QSG_ASSERT(prev == NULL || prev->seqno < m->seqno);
			QSG_ASSERT(!(m->flags & QM_INDEXED) || index_active(q));
			check_desc(m);
			prev = m;
			n++;
			nexp += qmsg_expiry(m) != 0;
		}
		QSG_ASSERT(q->tail[p] == prev);
	}
	QSG_ASSERT(q->nexpiring == nexp + qc->pexp);
	/* The expiry heap: exactly those messages and its parked ones, each
	 * knowing its place, none due before its parent. */
	QSG_ASSERT(q->nexpiring <= q->xcap);
	for (uint32_t i = 0; i < q->nexpiring; i++) {
		const struct xent *e = &q->xheap[i];
		const struct qmsg *m = e->m;
		QSG_ASSERT(m->q == q && (m->state == MS_VISIBLE || m->state == MS_PARKED));
		QSG_ASSERT(m->x != NULL && m->x->xpos == i && m->x->expiry_ms != 0);
		QSG_ASSERT(e->expiry == m->x->expiry_ms && e->seqno == m->seqno);
		if (i > 0) {
			const struct xent *up = &q->xheap[(i - 1) / 4]; /* 4-ary */
			QSG_ASSERT(up->expiry < e->expiry ||
				   (up->expiry == e->expiry && up->seqno < e->seqno));
		}
	}
	return n;
}

/* The index holds exactly the visible messages, each under its key, each
 * key's list in get order. */
static uint32_t check_index(const struct queue *q)
{
	if (q->attrs.indxtype == FSM_INDX_NONE || !q->index_ok)
		return 0;
	uint32_t n = 0;
	for (const struct hmap_node *h = hmap_next(&q->index, NULL); h != NULL;
	     h = hmap_next(&q->index, h)) {
		const struct ikey *k = (const struct ikey *)h;
		const struct qmsg *prev = NULL;
		for (const struct qmsg *m = k->head; m != NULL; m = m->x->inext) {
			uint8_t buf[FSM_ID_LEN];
			const uint8_t *key = qmsg_key(m, q->attrs.indxtype, buf);
			QSG_ASSERT(m->flags & QM_INDEXED);
			QSG_ASSERT(m->x->iprev == prev);
			QSG_ASSERT(m->state == MS_VISIBLE);
			QSG_ASSERT(memcmp(key, k->key, FSM_ID_LEN) == 0);
			QSG_ASSERT(prev == NULL || msg_get_before(prev, m));
			prev = m;
			n++;
		}
		QSG_ASSERT(k->tail == prev);
		QSG_ASSERT(k->head != NULL);
	}
	QSG_ASSERT(n == q->nvisible);
	return n;
}

/* A fence: not empty, sorted, each entry an anchor with its key.
 * (Whether each is still linked in its list is checked by the callers.) */
static void check_fence(const struct fence *fc)
{
	QSG_ASSERT(fc->n > 0 && fc->off + fc->n <= fc->cap);
	for (uint32_t i = fc->off; i < fc->off + fc->n; i++) {
		const struct fent *e = &fc->e[i];
		QSG_ASSERT(fence_anchor(e->m) && e->key == fence_key(e->m));
		QSG_ASSERT(i == fc->off || fc->e[i - 1].key < e->key);
	}
}

/* The fences of q: each entry a visible message of q in the list the fence
 * is for (the lists were checked: a visible message of q is linked). */
static void check_fences(const struct queue *q)
{
	for (int p = 0; p < NPRIO; p++) {
		const struct fence *fc = q->pf[p];
		if (fc == NULL)
			continue;
		check_fence(fc);
		for (uint32_t i = fc->off; i < fc->off + fc->n; i++) {
			const struct qmsg *m = fc->e[i].m;
			QSG_ASSERT(m->q == q && m->state == MS_VISIBLE && m->priority == p);
		}
	}
	for (const struct hmap_node *h = hmap_next(&q->chf, NULL); h != NULL;
	     h = hmap_next(&q->chf, h)) {
		const struct fence *fc = (const struct fence *)h;
		QSG_ASSERT(index_active(q));
		check_fence(fc);
		for (uint32_t i = fc->off; i < fc->off + fc->n; i++) {
			const struct qmsg *m = fc->e[i].m;
			uint8_t buf[FSM_ID_LEN];
			QSG_ASSERT(m->q == q && m->state == MS_VISIBLE && (m->flags & QM_INDEXED));
			QSG_ASSERT(memcmp(qmsg_key(m, q->attrs.indxtype, buf), fc->k->key,
					  FSM_ID_LEN) == 0);
		}
	}
}

static size_t check_queues(const struct fsm *f, struct qcount *v, size_t nq)
{
	size_t walked = 0;
	for (size_t i = 0; i < nq; i++) {
		const struct queue *q = v[i].q;
		uint32_t nvis = check_lists(q, &v[i]);
		walked += nvis + check_index(q);
		check_fences(q);
		QSG_ASSERT(q->nvisible == nvis);
		QSG_ASSERT(q->uncommitted == v[i].held + v[i].locked + v[i].chlocked);
		QSG_ASSERT(q->curdepth == nvis + q->uncommitted + v[i].parked);
		QSG_ASSERT(q->pending == 0);
		QSG_ASSERT(queue_find(f, q->attrs.scope, q->attrs.name) == q);
	}
	return walked + nq;
}

static int id_key(const void *key, const void *elem)
{
	uint64_t a = *(const uint64_t *)key, b = *(const uint64_t *)elem;
	return a < b ? -1 : a > b;
}

/* Units of work: the count is the list's length; held puts and locked gets
 * only, of known queues. */
static size_t check_sessions(const struct fsm *f, struct qcount *v, size_t nq)
{
	size_t walked = 0;
	for (const struct hmap_node *h = hmap_next(&f->sessions, NULL); h != NULL;
	     h = hmap_next(&f->sessions, h)) {
		const struct session *s = (const struct session *)h;
		uint32_t n = 0;
		const struct qmsg *last = NULL;
		for (const struct qmsg *m = s->uow_head; m != NULL; m = m->uow_next) {
			struct qcount *c = qcount_of(v, nq, m->q);
			QSG_ASSERT(m->state == MS_HELD || m->state == MS_LOCKED);
			QSG_ASSERT(!(m->flags & QM_INDEXED));
			check_desc(m);
			if (m->state == MS_HELD)
				c->held++;
			else
				c->locked++;
			last = m;
			n++;
		}
		QSG_ASSERT(s->uow_count == n);
		QSG_ASSERT(s->uow_tail == last);
		/* Pending backouts: exactly the detached sessions with a uow. */
		bool pending;
		sorted_find(f->pend, f->npend, sizeof *f->pend, &s->client_id, id_key, &pending);
		QSG_ASSERT(pending == (!s->attached && n > 0));
		if (!s->attached)
			QSG_ASSERT(s->opens == NULL);
		for (const struct sopen *o = s->opens; o != NULL; o = o->next)
			QSG_ASSERT(o->count > 0);
		walked += n + 1;
	}
	for (size_t i = 1; i < f->npend; i++)
		QSG_ASSERT(f->pend[i - 1] < f->pend[i]);
	return walked + f->npend;
}

/* The parks of a sender's black list: one per listed entry at most (none
 * past nblk); each one's lists linked both ways, sorted by seqno, of
 * parked messages of its queue that know their park, counted by
 * l.nvisible and l.curdepth, with no expiry heap of its own (theirs is
 * their queue's) and a fence of its own messages. A leaving entry has no
 * message out alone. */
static size_t check_parks(const struct chst *e, struct qcount *v, size_t nq)
{
	size_t walked = 0;
	for (uint32_t j = 0; j < FSM_CH_BLK_MAX; j++) {
		const struct park *pk = e->pk[j];
		if (j >= e->s.nblk) {
			QSG_ASSERT(pk == NULL);
			continue;
		}
		QSG_ASSERT(e->s.blk[j].leaving <= 1);
		QSG_ASSERT(!e->s.blk[j].leaving || e->s.blk[j].retry_seq == 0);
		if (pk == NULL)
			continue;
		QSG_ASSERT(e->s.chltype == FSM_CHL_SDR);
		struct qcount *c = qcount_of(v, nq, pk->xq);
		uint32_t n = 0;
		for (int p = 0; p < NPRIO; p++) {
			const struct qmsg *prev = NULL;
			for (const struct qmsg *m = pk->l.head[p]; m != NULL; m = m->next) {
				QSG_ASSERT(m->prev == prev);
				QSG_ASSERT(m->state == MS_PARKED && m->park == pk &&
					   m->q == pk->xq);
				QSG_ASSERT(m->priority == p);
				QSG_ASSERT(prev == NULL || prev->seqno < m->seqno);
				QSG_ASSERT(!(m->flags & QM_INDEXED));
				check_desc(m);
				c->pexp += qmsg_expiry(m) != 0;
				prev = m;
				n++;
			}
			QSG_ASSERT(pk->l.tail[p] == prev);
			const struct fence *fc = pk->l.pf[p];
			if (fc == NULL)
				continue;
			check_fence(fc);
			for (uint32_t i = fc->off; i < fc->off + fc->n; i++)
				QSG_ASSERT(fc->e[i].m->park == pk && fc->e[i].m->priority == p);
		}
		QSG_ASSERT(pk->l.nvisible == n && pk->l.curdepth == n);
		QSG_ASSERT(pk->l.nexpiring == 0 && pk->l.uncommitted == 0);
		QSG_ASSERT(pk->l.index.count == 0);
		c->parked += n;
		walked += n + 1;
	}
	return walked;
}

/* Channels: locked lists in chseq order with indoubt their length, the
 * parks of their black lists; every sorted table strictly sorted. */
static size_t check_chan(const struct fsm *f, struct qcount *v, size_t nq)
{
	size_t walked = 0;
	for (size_t i = 0; i < f->nchsts; i++) {
		const struct chst *e = f->chsts[i];
		uint32_t n = 0;
		const struct qmsg *last = NULL;
		for (const struct qmsg *m = e->lk_head; m != NULL; m = m->uow_next) {
			QSG_ASSERT(m->state == MS_CHLOCKED);
			QSG_ASSERT(!(m->flags & QM_INDEXED));
			check_desc(m);
			QSG_ASSERT(last == NULL || last->chseq < m->chseq);
			qcount_of(v, nq, m->q)->chlocked++;
			last = m;
			n++;
		}
		QSG_ASSERT(e->s.indoubt == n);
		QSG_ASSERT(e->lk_tail == last);
		walked += check_parks(e, v, nq);
		if (i > 0)
			QSG_ASSERT(chkey_cmp(f->chsts[i - 1]->s.name, f->chsts[i - 1]->s.rqmname,
					     e->s.name, e->s.rqmname) < 0);
		walked += n + 1;
	}
	for (size_t i = 1; i < f->nchdefs; i++)
		QSG_ASSERT(strcmp(f->chdefs[i - 1].name, f->chdefs[i].name) < 0);
	for (size_t i = 1; i < f->nsyncqs; i++)
		QSG_ASSERT(chkey_cmp(f->syncqs[i - 1].name, f->syncqs[i - 1].rqmname,
				     f->syncqs[i].name, f->syncqs[i].rqmname) < 0);
	for (size_t i = 1; i < f->nmembers; i++)
		QSG_ASSERT(f->members[i - 1].id < f->members[i].id);
	return walked + f->nchdefs + f->nsyncqs + f->nmembers;
}

/* The garbage list has reap_msgs messages, none of them visible through a
 * queue (reap_queue emptied their lists). */
static size_t check_reap(const struct fsm *f)
{
	uint64_t n = 0;
	const struct qmsg *last = NULL;
	for (const struct qmsg *m = f->reap_head; m != NULL; m = m->next) {
		last = m;
		n++;
	}
	QSG_ASSERT(f->reap_tail == last);
	QSG_ASSERT(n == f->reap_msgs);
	return (size_t)n;
}

/* Every message of the state (queues, parks, units of work, channels'
 * locked lists) has its own seqno (seqset.h; restore refuses a snapshot
 * where two share one). */
struct mvec {
	struct qmsg **m;
	size_t n, cap;
	bool failed;
};

static void mvec_add_list(struct mvec *v, struct qmsg *head, bool uow)
{
	for (struct qmsg *m = head; m != NULL && !v->failed; m = uow ? m->uow_next : m->next) {
		if (v->n == v->cap) {
			size_t cap = v->cap ? 2 * v->cap : 1024;
			struct qmsg **nm = realloc(v->m, cap * sizeof *nm);
			if (nm == NULL) {
				v->failed = true; /* no memory for the check: skip it */
				return;
			}
			v->m = nm;
			v->cap = cap;
		}
		v->m[v->n++] = m;
	}
}

static void check_seqnos(const struct fsm *f)
{
	struct mvec v = {0};
	for (const struct hmap_node *h = hmap_next(&f->queues, NULL); h != NULL;
	     h = hmap_next(&f->queues, h))
		for (int p = 0; p < NPRIO; p++)
			mvec_add_list(&v, ((const struct queue *)h)->head[p], false);
	for (const struct hmap_node *h = hmap_next(&f->sessions, NULL); h != NULL;
	     h = hmap_next(&f->sessions, h))
		mvec_add_list(&v, ((const struct session *)h)->uow_head, true);
	for (size_t i = 0; i < f->nchsts; i++) {
		const struct chst *e = f->chsts[i];
		mvec_add_list(&v, e->lk_head, true);
		for (uint32_t k = 0; k < FSM_CH_BLK_MAX; k++)
			for (int p = 0; e->pk[k] != NULL && p < NPRIO; p++)
				mvec_add_list(&v, e->pk[k]->l.head[p], false);
	}
	uint64_t dup = 0;
	if (!v.failed)
		QSG_ASSERT(seqnos_unique(v.m, v.n, &dup) != QSG_RC_BAD_FRAME);
	free(v.m);
}

size_t state_check(const struct fsm *f)
{
	size_t nq = f->queues.count;
	struct qcount *v = calloc(nq ? nq : 1, sizeof *v);
	if (v == NULL)
		return 0; /* no memory for the check: skip it */
	size_t i = 0;
	for (const struct hmap_node *h = hmap_next(&f->queues, NULL); h != NULL;
	     h = hmap_next(&f->queues, h))
		v[i++].q = (const struct queue *)h;
	QSG_ASSERT(i == nq);
	qsort(v, nq, sizeof *v, qcount_cmp);
	/* Counts first (sessions, channels), then the queues against them. */
	size_t walked = check_sessions(f, v, nq);
	walked += check_chan(f, v, nq);
	walked += check_queues(f, v, nq);
	walked += check_reap(f);
	check_seqnos(f);
	free(v);
	return walked;
}

void state_check_amortised(struct fsm *f)
{
	if (++f->check_skip < f->check_every)
		return;
	f->check_skip = 0;
	f->check_every = 1 + state_check(f) / 64;
}

#else

size_t state_check(const struct fsm *f)
{
	(void)f;
	return 0;
}

void state_check_amortised(struct fsm *f)
{
	(void)f;
}

#endif
