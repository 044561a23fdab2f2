/* State machine, the queue table and the message lists: the message
 * helpers, the lists' fences (a place in a deep list in O(log n)), the
 * msgid/correlid index, the priority lists, the queue table,
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

/* --- fences ------------------------------------------------------------- */

/* The first live entry of fc whose key is not below key. */
static uint32_t fence_lower(const struct fence *fc, uint64_t key)
{
	uint32_t lo = fc->off, hi = fc->off + fc->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (fc->e[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The last anchor of fc before m in get order, or NULL. */
static struct qmsg *fence_pred(const struct fence *fc, const struct qmsg *m)
{
	if (fc == NULL || fc->n == 0 || m->seqno >= FENCE_SEQ_LIMIT)
		return NULL;
	uint64_t key = fence_key(m);
	const struct fent *last = &fc->e[fc->off + fc->n - 1];
	if (last->key < key)
		return last->m; /* the usual case near the tail: no search */
	uint32_t i = fence_lower(fc, key);
	return i > fc->off ? fc->e[i - 1].m : NULL;
}

/* Room for one more entry at the back; false: out of memory. */
static bool fence_room(struct fence *fc)
{
	if (fc->off + fc->n < fc->cap)
		return true;
	if (fc->off > fc->cap / 4) { /* compact instead of growing */
		memmove(fc->e, fc->e + fc->off, (size_t)fc->n * sizeof *fc->e);
		fc->off = 0;
		return true;
	}
	/* From 2: most index keys' fences hold one or two anchors (keys of a
	 * few messages), and a deep queue can have 100k of them. */
	uint32_t cap = fc->cap < 2 ? 2 : fc->cap * 2;
	if (cap < fc->cap)
		return false;
	struct fent *e = realloc(fc->e, (size_t)cap * sizeof *e);
	if (e == NULL)
		return false;
	fc->e = e;
	fc->cap = cap;
	return true;
}

/* m (an anchor, linked) joins fc; false (fc unchanged) when out of
 * memory. */
static bool fence_add(struct fence *fc, struct qmsg *m)
{
	uint64_t key = fence_key(m);
	uint32_t i = fc->n == 0 || fc->e[fc->off + fc->n - 1].key < key ? fc->off + fc->n
									: fence_lower(fc, key);
	if (i - fc->off < fc->n / 2 && fc->off > 0) {
		/* Nearer the front: the entries before i move down one. */
		memmove(&fc->e[fc->off - 1], &fc->e[fc->off],
			(size_t)(i - fc->off) * sizeof *fc->e);
		fc->off--;
		i--;
	} else {
		uint32_t rel = i - fc->off;
		if (!fence_room(fc))
			return false;
		i = fc->off + rel; /* fence_room may have compacted */
		memmove(&fc->e[i + 1], &fc->e[i], (size_t)(fc->off + fc->n - i) * sizeof *fc->e);
	}
	fc->e[i].key = key;
	fc->e[i].m = m;
	fc->n++;
	return true;
}

/* m leaves fc (nothing if it is not there); true when fc is empty. */
static bool fence_del(struct fence *fc, const struct qmsg *m)
{
	uint32_t i = fence_lower(fc, fence_key(m));
	if (i < fc->off + fc->n && fc->e[i].m == m) {
		if (i - fc->off < fc->n / 2) {
			memmove(&fc->e[fc->off + 1], &fc->e[fc->off],
				(size_t)(i - fc->off) * sizeof *fc->e);
			fc->off++;
		} else {
			memmove(&fc->e[i], &fc->e[i + 1],
				(size_t)(fc->off + fc->n - i - 1) * sizeof *fc->e);
		}
		fc->n--;
	}
	if (fc->n == 0)
		fc->off = 0;
	else if (fc->cap > 64 && fc->n < fc->cap / 8) {
		/* A drained list gives its memory back (halving: a list that
		 * hovers around a size does not reallocate at every anchor). */
		memmove(fc->e, fc->e + fc->off, (size_t)fc->n * sizeof *fc->e);
		fc->off = 0;
		struct fent *e = realloc(fc->e, (size_t)(fc->cap / 2) * sizeof *e);
		if (e != NULL) {
			fc->e = e;
			fc->cap /= 2;
		}
	}
	return fc->n == 0;
}

static void fence_free(struct fence *fc)
{
	if (fc != NULL)
		free(fc->e);
	free(fc);
}

static void list_fence_add(struct queue *q, struct qmsg *m)
{
	if (!fence_anchor(m))
		return;
	struct fence **pf = &q->pf[m->priority];
	if (*pf == NULL && (*pf = calloc(1, sizeof **pf)) == NULL)
		return;
	if (!fence_add(*pf, m) && (*pf)->n == 0) {
		fence_free(*pf); /* no empty fence is left behind */
		*pf = NULL;
	}
}

static void list_fence_del(struct queue *q, const struct qmsg *m)
{
	struct fence **pf = &q->pf[m->priority];
	if (fence_anchor(m) && *pf != NULL && fence_del(*pf, m)) {
		fence_free(*pf);
		*pf = NULL;
	}
}

static uint64_t ptr_hash(const void *p)
{
	return id_hash((uint64_t)(uintptr_t)p);
}

static struct fence *chain_fence(const struct queue *q, const struct ikey *k)
{
	if (q->chf.count == 0)
		return NULL;
	uint64_t h = ptr_hash(k);
	for (struct hmap_node *n = hmap_bucket(&q->chf, h); n != NULL; n = n->next)
		if (n->hash == h && ((struct fence *)n)->k == k)
			return (struct fence *)n;
	return NULL;
}

static void chain_fence_drop(struct queue *q, struct fence *fc)
{
	hmap_remove(&q->chf, &fc->node);
	fence_free(fc);
	if (q->chf.count == 0)
		hmap_close(&q->chf); /* a drained queue keeps no buckets */
}

/* m (linked in k's list) joins k's fence if it is an anchor and not the
 * list's only message (keys of one message, the usual case of unique
 * correlids, never get a fence). */
static void chain_fence_add(struct queue *q, const struct ikey *k, struct qmsg *m)
{
	if (!fence_anchor(m) || k->head == k->tail)
		return;
	struct fence *fc = chain_fence(q, k);
	if (fc == NULL) {
		if ((fc = calloc(1, sizeof *fc)) == NULL)
			return;
		fc->k = k;
		if (hmap_insert(&q->chf, &fc->node, ptr_hash(k)) != QSG_OK) {
			free(fc);
			return;
		}
	}
	if (!fence_add(fc, m) && fc->n == 0)
		chain_fence_drop(q, fc); /* no empty fence is left behind */
}

/* m leaves k's fence; the fence goes with its last entry, or with k. */
static void chain_fence_del(struct queue *q, const struct ikey *k, const struct qmsg *m)
{
	struct fence *fc = chain_fence(q, k);
	if (fc == NULL)
		return;
	if ((fence_anchor(m) && fence_del(fc, m)) || k->head == NULL)
		chain_fence_drop(q, fc);
}

static void chain_fences_drop(struct queue *q)
{
	struct hmap_node *n = hmap_next(&q->chf, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&q->chf, n);
		fence_free((struct fence *)n);
		n = next;
	}
	hmap_close(&q->chf);
}

void fences_drop(struct queue *q)
{
	for (int p = 0; p < NPRIO; p++) {
		fence_free(q->pf[p]);
		q->pf[p] = NULL;
	}
	chain_fences_drop(q);
}

/* --- places in lists in get order ---------------------------------------- */

/* The lists are a priority list (prev/next) or an index key's list
 * (x->iprev/x->inext). */
static struct qmsg *lnext(const struct qmsg *m, bool chain)
{
	return chain ? m->x->inext : m->next;
}

static struct qmsg *lprev(const struct qmsg *m, bool chain)
{
	return chain ? m->x->iprev : m->prev;
}

#define WALK_NEAR 8 /* steps tried from the expected end first */

/* Where m goes in the list head..tail: *after is the message it follows
 * (NULL: first). Returns true when that was found at an end or within
 * WALK_NEAR steps of the end expected (from_tail), false when m goes
 * further inside: then *after is a message before it to search on from. */
static bool place_near(struct fsm *f, struct qmsg *head, struct qmsg *tail, const struct qmsg *m,
		       bool chain, bool from_tail, struct qmsg **after)
{
	*after = tail;
	if (tail == NULL || msg_get_before(tail, m))
		return true;
	*after = NULL;
	if (msg_get_before(m, head))
		return true;
	/* head before m before tail: both walks below stop inside. */
	struct qmsg *a = from_tail ? tail : head;
	for (int i = 0; i < WALK_NEAR; i++) {
		if (from_tail) {
			a = lprev(a, chain);
			f->walk_steps++;
			if (msg_get_before(a, m)) {
				*after = a;
				return true;
			}
		} else {
			struct qmsg *n = lnext(a, chain);
			if (!msg_get_before(n, m)) {
				*after = a;
				return true;
			}
			a = n;
			f->walk_steps++;
		}
	}
	*after = head;
	return false;
}

/* From `a` (before m), or from the fence's last anchor before m if that is
 * further on, forward to m's place. */
static struct qmsg *place_far(struct fsm *f, struct qmsg *a, const struct fence *fc,
			      const struct qmsg *m, bool chain)
{
	struct qmsg *anchor = fence_pred(fc, m);
	if (anchor != NULL)
		a = anchor;
	for (struct qmsg *n = lnext(a, chain); n != NULL && msg_get_before(n, m);
	     n = lnext(n, chain)) {
		a = n;
		f->walk_steps++;
	}
	return a;
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
	chain_fences_drop(q);
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

static void index_add(struct fsm *f, struct queue *q, struct qmsg *m, bool from_tail)
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
	struct qmsg *after;
	if (!place_near(f, k->head, k->tail, m, true, from_tail, &after))
		after = place_far(f, after, chain_fence(q, k), m, true);
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
	chain_fence_add(q, k, m);
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
	if (fence_anchor(m) || k->head == NULL)
		chain_fence_del(q, k, m);
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
			index_add(f, q, m, true);
}

/* --- priority lists ------------------------------------------------------ */

/* Insert a committed message by seqno: near the end from_tail says (a new
 * commit: usually the highest seqno; a backout: usually near the head),
 * else from the fence's anchor before it. */
void make_visible(struct fsm *f, struct queue *q, struct qmsg *m, bool from_tail)
{
	unsigned p = m->priority;
	struct qmsg *after;
	if (!place_near(f, q->head[p], q->tail[p], m, false, from_tail, &after))
		after = place_far(f, after, q->pf[p], m, false);
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
	list_fence_add(q, m);
	m->state = MS_VISIBLE;
	m->flags &= (uint8_t)~QM_XFER; /* meaningful in a uow only */
	m->q = q;
	q->nvisible++;
	delta_linked(f, q, m);
	/* Out of memory fails the apply (the member stops); m stays visible. */
	if (qmsg_expiry(m) != 0 && xheap_add(q, m) != QSG_OK)
		f->alloc_failed = true;
	index_add(f, q, m, from_tail);
}

void take_visible(struct fsm *f, struct queue *q, struct qmsg *m)
{
	unsigned p = m->priority;
	delta_unlinked(f, q, m);
	index_del(q, m);
	list_fence_del(q, m);
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
	take_visible(f, q, m);
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
	delta_queue_free(q);
	index_drop(q); /* first: it touches the messages */
	fences_drop(q);
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

/* A transmission queue: a local queue with USAGE(XMITQ), SHARED (for the
 * shared channels) or a member's own QMGR queue (for its private channels,
 * docs/channels.md "Private channels"; found only as that member sees the
 * name). A COPY of a GROUP queue is no transmission queue: no channel
 * sends from it. */
bool xmitq_ok(const struct queue *x)
{
	return x->attrs.qtype == FSM_QT_LOCAL && x->attrs.usage == FSM_USAGE_XMITQ &&
	       (x->attrs.disp == FSM_DISP_SHARED || x->attrs.disp == FSM_DISP_QMGR);
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
