#include "hmap.h"

#include <stdlib.h>

#include "../common/bgfree.h"
#include "../common/qsg_err.h"

#define HMAP_MIN_BUCKETS 16

#define HMAP_MIGRATE_STEP 8 /* old buckets moved per insert */

/* A table this sparse (count < nbuckets / HMAP_SHRINK_AT) moves to a
 * quarter of its size at the next insert, incrementally like a growth; an
 * empty table is released at once. A queue drained from 10M unique
 * correlids kept 128 MB of buckets until CLEAR (docs/storage.md). */
#define HMAP_SHRINK_AT 16

void hmap_init(struct hmap *m)
{
	m->buckets = NULL;
	m->nbuckets = 0;
	m->count = 0;
	m->old = NULL;
	m->nold = 0;
	m->mig = 0;
}

/* A bucket array of a million entries is 8 MB; at 10M keys 128 MB, whose
 * free() is a munmap of tens of ms: off the caller's thread. */
static void free_array(struct hmap_node **a, size_t n)
{
	qsg_free_large(a, n * sizeof *a);
}

void hmap_close(struct hmap *m)
{
	free_array(m->buckets, m->nbuckets);
	if (m->old != NULL)
		free_array(m->old, m->nold);
	hmap_init(m);
}

/* The chain that holds (or would hold) hash: in the old table if its old
 * bucket has not moved yet, else in the new one. */
static struct hmap_node **slot(const struct hmap *m, uint64_t hash)
{
	if (m->old != NULL) {
		size_t i = hash & (m->nold - 1);
		if (i >= m->mig)
			return &m->old[i];
	}
	return &m->buckets[hash & (m->nbuckets - 1)];
}

struct hmap_node *hmap_bucket(const struct hmap *m, uint64_t hash)
{
	if (m->nbuckets == 0)
		return NULL;
	return *slot(m, hash);
}

/* Move up to k old buckets into the new table. */
static void migrate(struct hmap *m, size_t k)
{
	while (m->old != NULL && k-- > 0) {
		struct hmap_node *n = m->old[m->mig];
		while (n != NULL) {
			struct hmap_node *next = n->next;
			size_t j = n->hash & (m->nbuckets - 1);
			n->next = m->buckets[j];
			m->buckets[j] = n;
			n = next;
		}
		m->old[m->mig] = NULL;
		if (++m->mig == m->nold) {
			free_array(m->old, m->nold);
			m->old = NULL;
			m->nold = m->mig = 0;
		}
	}
}

/* Start moving to a table of n buckets (bigger or smaller): the current
 * one becomes `old`, emptied HMAP_MIGRATE_STEP buckets per insert. */
static void resize(struct hmap *m, size_t n)
{
	struct hmap_node **b = calloc(n, sizeof *b);
	if (b == NULL)
		return;
	m->old = m->buckets;
	m->nold = m->nbuckets;
	m->mig = 0;
	m->buckets = b;
	m->nbuckets = n;
	migrate(m, HMAP_MIGRATE_STEP);
}

int hmap_insert(struct hmap *m, struct hmap_node *n, uint64_t hash)
{
	if (m->nbuckets == 0) {
		m->buckets = calloc(HMAP_MIN_BUCKETS, sizeof *m->buckets);
		if (m->buckets == NULL)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		m->nbuckets = HMAP_MIN_BUCKETS;
	} else if (m->old != NULL) {
		migrate(m, HMAP_MIGRATE_STEP);
	} else if (m->count >= m->nbuckets && m->nbuckets < SIZE_MAX / 4 / sizeof n) {
		resize(m, m->nbuckets * 2); /* fails: longer chains, still correct */
	} else if (m->nbuckets > HMAP_MIN_BUCKETS && m->count < m->nbuckets / HMAP_SHRINK_AT) {
		size_t to = m->nbuckets / 4;
		resize(m, to < HMAP_MIN_BUCKETS ? HMAP_MIN_BUCKETS : to);
	}
	struct hmap_node **b = slot(m, hash);
	n->hash = hash;
	n->next = *b;
	*b = n;
	m->count++;
	return QSG_OK;
}

/* No migration here: callers remove while they iterate (taking the next
 * node first). The last node's removal releases the arrays: there is no
 * next node then. */
void hmap_remove(struct hmap *m, struct hmap_node *n)
{
	if (m->nbuckets == 0)
		return;
	struct hmap_node **pp = slot(m, n->hash);
	while (*pp != NULL) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			if (--m->count == 0 && (m->nbuckets > HMAP_MIN_BUCKETS || m->old != NULL))
				hmap_close(m);
			return;
		}
		pp = &(*pp)->next;
	}
}

/* Order: the old table's unmoved buckets, then the new table. */
struct hmap_node *hmap_next(const struct hmap *m, const struct hmap_node *n)
{
	bool in_old;
	size_t i;
	if (n != NULL && n->next != NULL)
		return n->next;
	if (n == NULL) {
		in_old = m->old != NULL;
		i = in_old ? m->mig : 0;
	} else if (m->old != NULL && (n->hash & (m->nold - 1)) >= m->mig) {
		in_old = true;
		i = (n->hash & (m->nold - 1)) + 1;
	} else {
		in_old = false;
		i = (n->hash & (m->nbuckets - 1)) + 1;
	}
	if (in_old) {
		for (; i < m->nold; i++)
			if (m->old[i] != NULL)
				return m->old[i];
		i = 0;
	}
	for (; i < m->nbuckets; i++)
		if (m->buckets[i] != NULL)
			return m->buckets[i];
	return NULL;
}

/* The cursor runs over the old table's unmoved buckets, then the new
 * table (nothing is inserted into a map being drained). */
bool hmap_drain(struct hmap *m, size_t *cursor, size_t *budget,
		void (*free_node)(struct hmap_node *n))
{
	size_t nold = m->old != NULL ? m->nold - m->mig : 0;
	while (*budget > 0 && *cursor < nold + m->nbuckets) {
		struct hmap_node **b =
		    *cursor < nold ? &m->old[m->mig + *cursor] : &m->buckets[*cursor - nold];
		struct hmap_node *n = *b;
		(*budget)--;
		if (n == NULL) {
			(*cursor)++;
			continue;
		}
		*b = n->next;
		m->count--;
		free_node(n);
	}
	if (*cursor < nold + m->nbuckets)
		return false;
	hmap_close(m);
	return true;
}
