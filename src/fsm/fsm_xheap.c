/* State machine, expiry heap: each queue's visible messages with an expiry
 * in a min-heap by (expiry, seqno), so that EXPIRE (fsm_expire.c)
 * finds what is due from the top in O(due x log n) instead of walking the
 * queue (docs/storage.md, "Expiry"). make_visible adds, take_visible removes
 * (fsm_qtable.c), queue_free and reaping drop the heap; restore rebuilds it
 * through make_visible, and snapshots do not see it: derived state. Its own
 * file so that fsm_qtable.c does not depend on the EXPIRE commands.
 * Internal to src/fsm. */
#include <stdlib.h>

#include "fsm_int.h"

/* A 4-ary heap whose slots hold the key itself: a sift compares slots in
 * one array (four children share one or two cache lines) and touches a
 * message only to record its new place; depth log4(n), half a binary
 * heap's. At 250k messages the binary heap of pointers spent its time in
 * cache misses (xheap_del was the first symbol of the apply profile). */
#define XARITY 4

/* a expires before b (ties: the older message first). */
static bool x_before(const struct xent *a, const struct xent *b)
{
	return a->expiry < b->expiry || (a->expiry == b->expiry && a->seqno < b->seqno);
}

static void x_set(struct queue *q, uint32_t i, const struct xent *e)
{
	q->xheap[i] = *e;
	e->m->x->xpos = i;
}

static void x_up(struct queue *q, uint32_t i)
{
	struct xent e = q->xheap[i];
	while (i > 0) {
		uint32_t p = (i - 1) / XARITY;
		if (!x_before(&e, &q->xheap[p]))
			break;
		x_set(q, i, &q->xheap[p]);
		i = p;
	}
	x_set(q, i, &e);
}

static void x_down(struct queue *q, uint32_t i)
{
	struct xent e = q->xheap[i];
	uint32_t n = q->nexpiring;
	for (;;) {
		uint32_t c = XARITY * i + 1;
		if (c >= n)
			break;
		uint32_t best = c, end = c + XARITY < n ? c + XARITY : n;
		for (uint32_t k = c + 1; k < end; k++)
			if (x_before(&q->xheap[k], &q->xheap[best]))
				best = k;
		if (!x_before(&q->xheap[best], &e))
			break;
		x_set(q, i, &q->xheap[best]);
		i = best;
	}
	x_set(q, i, &e);
}

int xheap_add(struct queue *q, struct qmsg *m)
{
	if (q->nexpiring == q->xcap) {
		uint32_t cap = q->xcap > 0 ? q->xcap * 2 : 16;
		struct xent *v = cap > q->xcap ? realloc(q->xheap, (size_t)cap * sizeof *v) : NULL;
		if (v == NULL) {
			m->x->xpos = XPOS_NONE;
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		}
		q->xheap = v;
		q->xcap = cap;
	}
	uint32_t i = q->nexpiring++;
	struct xent e = {m->x->expiry_ms, m->seqno, m};
	x_set(q, i, &e);
	x_up(q, i);
	return QSG_OK;
}

void xheap_del(struct queue *q, struct qmsg *m)
{
	uint32_t i = m->x->xpos;
	if (i == XPOS_NONE || i >= q->nexpiring || q->xheap[i].m != m)
		return; /* left out by an allocation failure */
	m->x->xpos = XPOS_NONE;
	uint32_t last = --q->nexpiring;
	if (i != last) {
		struct xent mv = q->xheap[last];
		x_set(q, i, &mv);
		if (i > 0 && x_before(&mv, &q->xheap[(i - 1) / XARITY]))
			x_up(q, i);
		else
			x_down(q, i);
	}
	/* Give memory back after a drain (a failed shrink keeps the old). */
	if (q->xcap > 64 && q->nexpiring < q->xcap / 4) {
		struct xent *v = realloc(q->xheap, (size_t)(q->xcap / 2) * sizeof *v);
		if (v != NULL) {
			q->xheap = v;
			q->xcap /= 2;
		}
	}
}

void xheap_drop(struct queue *q)
{
	free(q->xheap);
	q->xheap = NULL;
	q->nexpiring = q->xcap = 0;
}
