/* State machine, garbage: what CLEAR and DELETE PURGE take out of the state
 * in one O(NPRIO) step (reap_queue) and fsm_reap frees in slices, outside
 * apply, so that no apply is O(queue depth) (docs/storage.md, "Leases that
 * do not lie"). The garbage is not state: nothing in it is reachable from a
 * queue, a session or a channel, snapshots do not see it, and members free
 * it at different times. Internal to src/fsm (fsm_int.h); fsm_reap and
 * fsm_reap_pending are in fsm.h. */
#include <stdlib.h>

#include "fsm_int.h"

/* A msgid/correlid index whose queue was cleared: its entries (struct ikey)
 * still point at messages of the garbage, which nothing dereferences; so do
 * its keys' fences (struct fence, fsm_qtable.c: up to one per 64 messages,
 * 100k at 10M, which took 30-40 ms to free at 3M inside the apply). */
struct reap_index {
	struct reap_index *next;
	struct hmap index;
	struct hmap chf; /* the keys' fences, drained first */
	size_t cursor, fcursor; /* hmap_drain's */
};

static void free_ikey(struct hmap_node *n)
{
	free(n); /* struct ikey, node first */
}

static void free_fence(struct hmap_node *n)
{
	struct fence *fc = (struct fence *)n; /* node first */
	free(fc->e);
	free(fc);
}

static void reap_parks(struct fsm *f, struct queue *q);

void reap_queue(struct fsm *f, struct queue *q)
{
	delta_cleared(f, q); /* by reference: not one by one */
	for (int p = 0; p < NPRIO; p++) {
		if (q->head[p] == NULL)
			continue;
		if (f->reap_tail != NULL)
			f->reap_tail->next = q->head[p];
		else
			f->reap_head = q->head[p];
		f->reap_tail = q->tail[p];
		q->head[p] = q->tail[p] = NULL;
	}
	f->reap_msgs += q->nvisible;
	q->curdepth -= q->nvisible;
	q->nvisible = 0;
	xheap_drop(q);
	/* The fences point at the messages that leave: the lists' (NPRIO)
	 * freed now, the index keys' with the index, in slices. */
	struct hmap chf = q->chf;
	hmap_init(&q->chf);
	fences_drop(q);
	if (q->index.nbuckets > 0 || chf.nbuckets > 0) {
		struct reap_index *r = malloc(sizeof *r);
		if (r != NULL) {
			r->index = q->index;
			r->chf = chf;
			r->cursor = r->fcursor = 0;
			r->next = f->reap_idx;
			f->reap_idx = r;
		} else {
			/* No memory for the record: free the index now. */
			size_t cursor = 0, budget = SIZE_MAX;
			hmap_drain(&chf, &cursor, &budget, free_fence);
			cursor = 0;
			budget = SIZE_MAX;
			hmap_drain(&q->index, &cursor, &budget, free_ikey);
		}
		hmap_init(&q->index);
	}
	/* An empty queue's (empty) index is complete. */
	q->index_ok = true;
	reap_parks(f, q); /* the messages of listed destinations too */
}

/* The parks of q (fsm_park.c: a sender's messages of listed destinations,
 * still q's) go with q's lists: each park's lists in O(NPRIO), the park
 * freed (none of q's is left: a later get makes a new one). */
static void reap_parks(struct fsm *f, struct queue *q)
{
	for (size_t c = 0; c < f->nchsts; c++) {
		struct chst *e = f->chsts[c];
		for (uint32_t i = 0; i < FSM_CH_BLK_MAX; i++) {
			struct park *pk = e->pk[i];
			if (pk == NULL || pk->xq != q)
				continue;
			q->curdepth -= pk->l.nvisible;
			reap_queue(f, &pk->l); /* no park is of &pk->l: no deeper */
			park_free(pk);
			e->pk[i] = NULL;
		}
	}
}

void reap_msg(struct fsm *f, struct queue *q, struct qmsg *m)
{
	if (m->state == MS_PARKED)
		park_take(f, m); /* of a listed destination (expired) */
	else
		take_visible(f, q, m);
	q->curdepth--;
	if (f->reap_tail != NULL)
		f->reap_tail->next = m;
	else
		f->reap_head = m;
	f->reap_tail = m; /* take_visible left m->next NULL */
	f->reap_msgs++;
}

static bool reap_step(struct fsm *f, size_t budget, bool release)
{
	while (budget > 0 && f->reap_head != NULL) {
		struct qmsg *m = f->reap_head;
		f->reap_head = m->next;
		if (f->reap_head == NULL)
			f->reap_tail = NULL;
		f->reap_msgs--;
		budget--;
		if (release)
			msg_free(f, m); /* content released */
		else
			msg_destroy(m);
	}
	while (budget > 0 && f->reap_idx != NULL) {
		struct reap_index *r = f->reap_idx;
		if (!hmap_drain(&r->chf, &r->fcursor, &budget, free_fence) ||
		    !hmap_drain(&r->index, &r->cursor, &budget, free_ikey))
			break;
		f->reap_idx = r->next;
		free(r);
	}
	return f->reap_head != NULL || f->reap_idx != NULL;
}

bool fsm_reap(struct fsm *f, unsigned budget)
{
	return reap_step(f, budget, true);
}

uint64_t fsm_reap_pending(const struct fsm *f)
{
	return f->reap_msgs;
}

void reap_free_all(struct fsm *f)
{
	reap_step(f, SIZE_MAX, false);
}
