/* State machine, delta tracking (docs/storage.md "A base and deltas"): the
 * hooks the priority lists call when a message is linked or unlinked, and
 * the base's bookkeeping. The bottom layer: it calls nothing of src/fsm but
 * hmap; fsm_delta.c writes and reads what it tracks (the model is there).
 * Internal to src/fsm; fsm_delta_rebase and its siblings are in fsm.h. */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"

static uint64_t dt_hash(uint64_t seqno)
{
	uint64_t h = seqno * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static void dt_lost(struct fsm *f)
{
	/* Nothing lost is ever written: the next snapshot is a full one. */
	f->dt.on = false;
}

void delta_linked(struct fsm *f, struct queue *q, struct qmsg *m)
{
	if (!f->dt.on || q->park || m->seqno > f->dt.base_max || (m->flags & QM_TOUCHED))
		return;
	struct dtnode *n = malloc(sizeof *n);
	if (n == NULL || hmap_insert(&q->dtouched, &n->node, dt_hash(m->seqno)) != QSG_OK) {
		free(n);
		dt_lost(f);
		return;
	}
	n->m = m;
	m->flags |= QM_TOUCHED;
	f->dt.ntouched++;
}

static struct dtnode *dt_find(const struct queue *q, const struct qmsg *m)
{
	uint64_t h = dt_hash(m->seqno);
	for (struct hmap_node *n = hmap_bucket(&q->dtouched, h); n != NULL; n = n->next)
		if (n->hash == h && ((struct dtnode *)n)->m == m)
			return (struct dtnode *)n;
	return NULL;
}

void delta_unlinked(struct fsm *f, struct queue *q, struct qmsg *m)
{
	if (q->park)
		return;
	if (m->flags & QM_TOUCHED) {
		/* Touched since the base: the base's copy, if it had one, is in
		 * `removed` already. */
		struct dtnode *n = dt_find(q, m);
		m->flags &= (uint8_t)~QM_TOUCHED;
		if (n != NULL) {
			hmap_remove(&q->dtouched, &n->node);
			free(n);
			f->dt.ntouched--;
		}
		return;
	}
	if (!f->dt.on || m->seqno > f->dt.base_max)
		return;
	struct dtrack *d = &f->dt;
	if (d->nremoved == d->capremoved) {
		size_t cap = d->capremoved == 0 ? 1024 : d->capremoved * 2;
		uint64_t *v = realloc(d->removed, cap * sizeof *v);
		if (v == NULL) {
			dt_lost(f);
			return;
		}
		d->removed = v;
		d->capremoved = cap;
	}
	d->removed[d->nremoved++] = m->seqno;
}

void delta_touched(struct fsm *f, struct qmsg *m)
{
	/* A field of a message in a priority list: as if it left and came
	 * back. (The apply paths change fields off the lists today.) */
	if (m->state != MS_VISIBLE || m->q == NULL || (m->flags & QM_TOUCHED))
		return;
	delta_unlinked(f, m->q, m);
	delta_linked(f, m->q, m);
}

static void dt_drop_touched(struct queue *q, bool unflag)
{
	size_t cursor = 0, budget = SIZE_MAX;
	struct hmap_node *n;
	if (unflag)
		for (n = hmap_next(&q->dtouched, NULL); n != NULL; n = hmap_next(&q->dtouched, n))
			((struct dtnode *)n)->m->flags &= (uint8_t)~QM_TOUCHED;
	hmap_drain(&q->dtouched, &cursor, &budget, (void (*)(struct hmap_node *))free);
	hmap_init(&q->dtouched);
}

void delta_cleared(struct fsm *f, struct queue *q)
{
	if (q->park)
		return;
	/* The lists leave whole: their touched messages with them (into the
	 * garbage, where nothing looks at QM_TOUCHED again). */
	f->dt.ntouched -= q->dtouched.count;
	dt_drop_touched(q, false);
	if (!f->dt.on)
		return;
	struct dtrack *d = &f->dt;
	for (size_t i = 0; i < d->ncleared; i++)
		if (d->cleared[i].scope == q->attrs.scope &&
		    strcmp(d->cleared[i].name, q->attrs.name) == 0)
			return;
	if (d->ncleared == d->capcleared) {
		size_t cap = d->capcleared == 0 ? 8 : d->capcleared * 2;
		struct dtcleared *v = realloc(d->cleared, cap * sizeof *v);
		if (v == NULL) {
			dt_lost(f);
			return;
		}
		d->cleared = v;
		d->capcleared = cap;
	}
	struct dtcleared *c = &d->cleared[d->ncleared++];
	memcpy(c->name, q->attrs.name, sizeof c->name);
	c->scope = q->attrs.scope;
}

void delta_queue_free(struct queue *q)
{
	dt_drop_touched(q, false);
}

void delta_free(struct fsm *f)
{
	free(f->dt.removed);
	free(f->dt.cleared);
	memset(&f->dt, 0, sizeof f->dt);
}

void fsm_delta_rebase(struct fsm *f)
{
	struct dtrack *d = &f->dt;
	uint64_t count = 0;
	for (struct hmap_node *n = hmap_next(&f->queues, NULL); n != NULL;
	     n = hmap_next(&f->queues, n)) {
		struct queue *q = (struct queue *)n;
		dt_drop_touched(q, true);
		count += q->nvisible;
	}
	d->ntouched = 0;
	d->nremoved = 0;
	d->ncleared = 0;
	d->base_max = f->last_seqno;
	d->base_count = count;
	d->on = true;
}

void fsm_delta_stop(struct fsm *f)
{
	for (struct hmap_node *n = hmap_next(&f->queues, NULL); n != NULL;
	     n = hmap_next(&f->queues, n))
		dt_drop_touched((struct queue *)n, true);
	f->dt.ntouched = 0;
	f->dt.nremoved = f->dt.ncleared = 0;
	f->dt.on = false;
}

bool fsm_delta_valid(const struct fsm *f)
{
	return f->dt.on;
}

uint64_t fsm_delta_size(const struct fsm *f)
{
	return f->dt.nremoved + f->dt.ntouched + f->dt.ncleared + (f->last_seqno - f->dt.base_max);
}

uint64_t fsm_delta_base_count(const struct fsm *f)
{
	return f->dt.base_count;
}
