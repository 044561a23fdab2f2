/* State machine, the queue table and the message lists: the message
 * helpers, the msgid/correlid index, the priority lists, the queue table,
 * alias and transmission queue resolution. The lowest layer of the queue
 * and unit-of-work files: fsm_queue.c (PUT/GET/BROWSE), fsm_uow.c
 * (sessions, units of work) and the others call it; it calls no other file
 * of src/fsm but hmap.c and fsm_body.c (msg_free, the one destructor).
 * Internal to src/fsm (fsm_int.h). */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"

/* --- helpers ------------------------------------------------------------ */

int64_t sat_add_i64(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static uint64_t name_hash(const char *s)
{
	return qsg_hash64(s, strlen(s), QSG_HASH_SEED);
}

uint64_t id_hash(uint64_t v)
{
	uint8_t b[8];
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return qsg_hash64(b, sizeof b, QSG_HASH_SEED);
}

void queue_notify(struct fsm *f, struct queue *q, uint32_t n)
{
	if (f->notify != NULL && n > 0)
		f->notify(f->notify_arg, q->attrs.scope, q->attrs.name, n);
}

bool msg_expired(const struct qmsg *m, int64_t now)
{
	int64_t e = qmsg_expiry(m);
	return e != 0 && e <= now;
}

/* a comes before b in get order: higher priority first, then FIFO. */
bool msg_get_before(const struct qmsg *a, const struct qmsg *b)
{
	return a->priority > b->priority || (a->priority == b->priority && a->seqno < b->seqno);
}

/* --- index -------------------------------------------------------------- */

bool index_active(const struct queue *q)
{
	return q->attrs.indxtype != FSM_INDX_NONE && q->index_ok;
}

/* The key m is indexed under in q; buf as qmsg_msgid's. */
static const uint8_t *index_key_of(const struct queue *q, const struct qmsg *m, uint8_t *buf)
{
	return qmsg_key(m, q->attrs.indxtype, buf);
}

struct ikey *index_find(const struct queue *q, const uint8_t *key)
{
	uint64_t h = qsg_hash64(key, FSM_ID_LEN, QSG_HASH_SEED);
	for (struct hmap_node *n = hmap_bucket(&q->index, h); n != NULL; n = n->next) {
		struct ikey *k = (struct ikey *)n;
		if (n->hash == h && memcmp(k->key, key, FSM_ID_LEN) == 0)
			return k;
	}
	return NULL;
}

/* m leaves the index: links cleared, QM_INDEXED cleared, its extension
 * freed if nothing else needs it. */
static void unindexed(struct qmsg *m)
{
	m->x->iprev = m->x->inext = NULL;
	m->flags &= (uint8_t)~QM_INDEXED;
	qmsg_ext_trim(m);
}

static void index_drop(struct queue *q)
{
	struct hmap_node *n = hmap_next(&q->index, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&q->index, n);
		struct ikey *k = (struct ikey *)n;
		struct qmsg *m = k->head;
		while (m != NULL) {
			struct qmsg *mn = m->x->inext;
			unindexed(m);
			m = mn;
		}
		free(k);
		n = next;
	}
	hmap_close(&q->index);
}

/* The index is derived data: when an allocation fails it is dropped and
 * gets fall back to the scan, which selects the same messages. */
static void index_fail(struct queue *q)
{
	index_drop(q);
	q->index_ok = false;
}

static void index_add(struct fsm *f, struct queue *q, struct qmsg *m)
{
	if (!index_active(q))
		return;
	struct qmsg_ext *mx = qmsg_ext(f, m); /* the links live there */
	if (mx == NULL) {
		index_fail(q);
		return;
	}
	uint8_t buf[FSM_ID_LEN];
	const uint8_t *key = index_key_of(q, m, buf);
	struct ikey *k = index_find(q, key);
	if (k == NULL) {
		k = calloc(1, sizeof *k);
		if (k == NULL ||
		    hmap_insert(&q->index, &k->node, qsg_hash64(key, FSM_ID_LEN, QSG_HASH_SEED)) !=
			QSG_OK) {
			free(k);
			qmsg_ext_trim(m); /* not linked yet */
			index_fail(q);
			return;
		}
		memcpy(k->key, key, FSM_ID_LEN);
	}
	struct qmsg *after = k->tail;
	while (after != NULL && msg_get_before(m, after))
		after = after->x->iprev;
	mx->iprev = after;
	mx->inext = after ? after->x->inext : k->head;
	if (mx->inext != NULL)
		mx->inext->x->iprev = m;
	else
		k->tail = m;
	if (after != NULL)
		after->x->inext = m;
	else
		k->head = m;
	m->flags |= QM_INDEXED;
}

static void index_del(struct queue *q, struct qmsg *m)
{
	if (!(m->flags & QM_INDEXED))
		return;
	uint8_t buf[FSM_ID_LEN];
	struct ikey *k = index_find(q, index_key_of(q, m, buf));
	struct qmsg_ext *mx = m->x;
	if (mx->iprev != NULL)
		mx->iprev->x->inext = mx->inext;
	else
		k->head = mx->inext;
	if (mx->inext != NULL)
		mx->inext->x->iprev = mx->iprev;
	else
		k->tail = mx->iprev;
	unindexed(m);
	if (k->head == NULL) {
		hmap_remove(&q->index, &k->node);
		free(k);
	}
}

void index_build(struct fsm *f, struct queue *q)
{
	index_drop(q);
	q->index_ok = true;
	for (int p = NPRIO - 1; p >= 0; p--)
		for (struct qmsg *m = q->head[p]; m != NULL && index_active(q); m = m->next)
			index_add(f, q, m);
}

/* --- priority lists ------------------------------------------------------ */

/* Insert a committed message by seqno. from_tail: a new commit (usually the
 * highest seqno); otherwise a backout (usually near the head). */
void make_visible(struct fsm *f, struct queue *q, struct qmsg *m, bool from_tail)
{
	unsigned p = m->priority;
	struct qmsg *after;
	if (from_tail) {
		after = q->tail[p];
		while (after != NULL && after->seqno > m->seqno)
			after = after->prev;
	} else {
		after = NULL;
		for (struct qmsg *x = q->head[p]; x != NULL && x->seqno < m->seqno; x = x->next)
			after = x;
	}
	m->prev = after;
	m->next = after ? after->next : q->head[p];
	if (m->next != NULL)
		m->next->prev = m;
	else
		q->tail[p] = m;
	if (after != NULL)
		after->next = m;
	else
		q->head[p] = m;
	m->state = MS_VISIBLE;
	m->flags &= (uint8_t)~QM_XFER; /* meaningful in a uow only */
	m->q = q;
	q->nvisible++;
	/* Out of memory fails the apply (the member stops); m stays visible. */
	if (qmsg_expiry(m) != 0 && xheap_add(q, m) != QSG_OK)
		f->alloc_failed = true;
	index_add(f, q, m);
}

void take_visible(struct queue *q, struct qmsg *m)
{
	unsigned p = m->priority;
	index_del(q, m);
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		q->head[p] = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	else
		q->tail[p] = m->prev;
	m->prev = m->next = NULL;
	q->nvisible--;
	if (qmsg_expiry(m) != 0)
		xheap_del(q, m);
}

void remove_visible(struct fsm *f, struct queue *q, struct qmsg *m)
{
	take_visible(q, m);
	q->curdepth--;
	msg_free(f, m);
}

/* --- queues -------------------------------------------------------------- */

uint64_t queue_hash(uint32_t scope, const char *name)
{
	return name_hash(name) ^ ((uint64_t)scope * 0x9e3779b97f4a7c15ull);
}

/* The object (scope, name) exactly. */
struct queue *queue_find(const struct fsm *f, uint32_t scope, const char *name)
{
	uint64_t h = queue_hash(scope, name);
	for (struct hmap_node *n = hmap_bucket(&f->queues, h); n != NULL; n = n->next) {
		struct queue *q = (struct queue *)n;
		if (n->hash == h && q->attrs.scope == scope && strcmp(q->attrs.name, name) == 0)
			return q;
	}
	return NULL;
}

/* `name` as member `member` sees it (enum fsm_qdisp): its own QMGR object
 * or COPY, else a SHARED queue or a GROUP remote queue or alias. A GROUP
 * local queue is reached only through a COPY. */
struct queue *queue_lookup(const struct fsm *f, uint32_t member, const char *name)
{
	struct queue *q = member != 0 ? queue_find(f, member, name) : NULL;
	if (q != NULL)
		return q;
	q = queue_find(f, 0, name);
	if (q == NULL)
		return NULL;
	if (q->attrs.disp == FSM_DISP_SHARED ||
	    (q->attrs.disp == FSM_DISP_GROUP && q->attrs.qtype != FSM_QT_LOCAL))
		return q;
	return NULL;
}

void queue_free(struct queue *q)
{
	index_drop(q); /* first: it touches the messages */
	xheap_drop(q);
	for (int p = 0; p < NPRIO; p++) {
		struct qmsg *m = q->head[p];
		while (m != NULL) {
			struct qmsg *next = m->next;
			msg_destroy(m);
			m = next;
		}
		q->head[p] = q->tail[p] = NULL;
	}
	free(q);
}

int cmp_queue(const void *a, const void *b)
{
	const struct queue *x = *(struct queue *const *)a;
	const struct queue *y = *(struct queue *const *)b;
	int c = strcmp(x->attrs.name, y->attrs.name);
	if (c != 0)
		return c;
	return x->attrs.scope < y->attrs.scope ? -1 : x->attrs.scope > y->attrs.scope;
}

/* Queues in name order; *out is malloc'd (NULL with n = 0 when empty). */
int queues_sorted(const struct fsm *f, struct queue ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (f->queues.count == 0)
		return QSG_OK;
	struct queue **v = malloc(f->queues.count * sizeof *v);
	if (v == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	size_t i = 0;
	for (struct hmap_node *x = hmap_next(&f->queues, NULL); x != NULL;
	     x = hmap_next(&f->queues, x))
		v[i++] = (struct queue *)x;
	qsort(v, i, sizeof *v, cmp_queue);
	*out = v;
	*n = i;
	return QSG_OK;
}

/* --- alias resolution ---------------------------------------------------- */

/* The queue `name` stands for: itself, or an alias's target (one level).
 * *alias is the alias (NULL if name is not one). A missing target or a
 * target that is itself an alias -> QSG_RC_UNKNOWN_ALIAS_BASE_Q. */
int queue_resolve(const struct fsm *f, uint32_t member, const char *name, struct queue **out,
		  struct queue **alias)
{
	struct queue *q = queue_lookup(f, member, name);
	*out = NULL;
	if (alias != NULL)
		*alias = NULL;
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (q->attrs.qtype != FSM_QT_ALIAS) {
		*out = q;
		return QSG_OK;
	}
	if (alias != NULL)
		*alias = q;
	struct queue *t = queue_lookup(f, member, q->attrs.target);
	if (t == NULL || t->attrs.qtype == FSM_QT_ALIAS)
		return QSG_RC_UNKNOWN_ALIAS_BASE_Q;
	*out = t;
	return QSG_OK;
}

/* --- transmission queues ------------------------------------------------ */

/* A transmission queue: a SHARED local queue with USAGE(XMITQ). Channels
 * are shared channels and take messages from shared queues only: a member's
 * own queue with USAGE(XMITQ) would hold messages no channel sends. */
bool xmitq_ok(const struct queue *x)
{
	return x->attrs.qtype == FSM_QT_LOCAL && x->attrs.usage == FSM_USAGE_XMITQ &&
	       x->attrs.disp == FSM_DISP_SHARED;
}

/* The transmission queue of remote queue rq: XMITQ, or the queue named
 * RQMNAME (xmitq_ok), as `member` sees the name. */
int resolve_xmitq(const struct fsm *f, uint32_t member, const struct queue *rq, struct queue **out)
{
	const char *name = rq->attrs.xmitq[0] != '\0' ? rq->attrs.xmitq : rq->attrs.rqmname;
	struct queue *x = queue_lookup(f, member, name);
	if (x == NULL)
		return QSG_RC_UNKNOWN_REMOTE_Q_MGR;
	if (!xmitq_ok(x))
		return QSG_RC_XMIT_Q_USAGE_ERROR;
	*out = x;
	return QSG_OK;
}
