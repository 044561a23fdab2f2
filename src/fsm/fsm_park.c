/* State machine, parks: the messages of a destination on a sender's black
 * list, off their transmission queue's priority lists (struct park,
 * fsm_int.h; docs/channels.md "Destination black list"). A park's lists
 * are a struct queue's, used for their lists and fences only; its
 * messages stay messages of their queue (m->q, its depth, its expiry
 * heap). Used by fsm_chmsg.c (which moves messages in and out), fsm_reap.c
 * (CLEAR, EXPIRE), fsm_chan.c and fsm_snapshot.c; uses fsm_qtable.c and
 * fsm_xheap.c only. Internal to src/fsm. */
#include <stdlib.h>

#include "fsm_int.h"

struct park *park_new(struct queue *xq)
{
	struct park *pk = calloc(1, sizeof *pk);
	if (pk == NULL)
		return NULL;
	pk->l.index_ok = true; /* indxtype NONE: never indexed */
	pk->l.park = true; /* delta tracking leaves parks alone (small state) */
	hmap_init(&pk->l.index);
	pk->xq = xq;
	return pk;
}

/* Freed with its messages, not released (empty, or the state's teardown). */
void park_free(struct park *pk)
{
	if (pk != NULL)
		queue_free(&pk->l); /* frees pk: l is its first member */
}

void park_free_all(struct chst *e)
{
	for (uint32_t i = 0; i < FSM_CH_BLK_MAX; i++) {
		park_free(e->pk[i]);
		e->pk[i] = NULL;
	}
}

void park_insert(struct fsm *f, struct park *pk, struct qmsg *m, bool from_tail)
{
	make_visible(f, &pk->l, m, from_tail);
	if (qmsg_expiry(m) != 0) {
		/* Its expiry stays with its queue: EXPIRE finds it there. */
		xheap_del(&pk->l, m);
		if (xheap_add(pk->xq, m) != QSG_OK)
			f->alloc_failed = true;
	}
	m->q = pk->xq;
	m->state = MS_PARKED;
	m->park = pk;
	pk->l.curdepth++;
}

void park_take(struct fsm *f, struct qmsg *m)
{
	(void)f;
	struct park *pk = m->park;
	if (qmsg_expiry(m) != 0)
		xheap_del(pk->xq, m); /* then take_visible finds it in no heap */
	take_visible(f, &pk->l, m);
	pk->l.curdepth--;
	m->q = pk->xq;
	m->park = NULL;
}
