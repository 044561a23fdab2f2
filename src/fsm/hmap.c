#include "hmap.h"

#include <stdlib.h>

#include "../common/qsg_err.h"

#define HMAP_MIN_BUCKETS 16

void hmap_init(struct hmap *m)
{
	m->buckets = NULL;
	m->nbuckets = 0;
	m->count = 0;
}

void hmap_close(struct hmap *m)
{
	free(m->buckets);
	hmap_init(m);
}

struct hmap_node *hmap_bucket(const struct hmap *m, uint64_t hash)
{
	if (m->nbuckets == 0)
		return NULL;
	return m->buckets[hash & (m->nbuckets - 1)];
}

static void rehash(struct hmap *m, size_t nbuckets)
{
	struct hmap_node **b = calloc(nbuckets, sizeof *b);
	if (b == NULL)
		return; /* keep the old array: longer chains, still correct */
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hmap_node *n = m->buckets[i];
		while (n != NULL) {
			struct hmap_node *next = n->next;
			size_t j = n->hash & (nbuckets - 1);
			n->next = b[j];
			b[j] = n;
			n = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nbuckets;
}

int hmap_insert(struct hmap *m, struct hmap_node *n, uint64_t hash)
{
	if (m->nbuckets == 0) {
		rehash(m, HMAP_MIN_BUCKETS);
		if (m->nbuckets == 0)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
	} else if (m->count >= m->nbuckets && m->nbuckets < SIZE_MAX / 4 / sizeof n) {
		rehash(m, m->nbuckets * 2);
	}
	size_t j = hash & (m->nbuckets - 1);
	n->hash = hash;
	n->next = m->buckets[j];
	m->buckets[j] = n;
	m->count++;
	return QSG_OK;
}

void hmap_remove(struct hmap *m, struct hmap_node *n)
{
	if (m->nbuckets == 0)
		return;
	struct hmap_node **pp = &m->buckets[n->hash & (m->nbuckets - 1)];
	while (*pp != NULL) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			m->count--;
			return;
		}
		pp = &(*pp)->next;
	}
}

struct hmap_node *hmap_next(const struct hmap *m, const struct hmap_node *n)
{
	size_t i = 0;
	if (n != NULL) {
		if (n->next != NULL)
			return n->next;
		i = (n->hash & (m->nbuckets - 1)) + 1;
	}
	for (; i < m->nbuckets; i++)
		if (m->buckets[i] != NULL)
			return m->buckets[i];
	return NULL;
}

bool hmap_drain(struct hmap *m, size_t *cursor, size_t *budget,
		void (*free_node)(struct hmap_node *n))
{
	while (*budget > 0 && *cursor < m->nbuckets) {
		struct hmap_node *n = m->buckets[*cursor];
		(*budget)--;
		if (n == NULL) {
			(*cursor)++;
			continue;
		}
		m->buckets[*cursor] = n->next;
		m->count--;
		free_node(n);
	}
	if (*cursor < m->nbuckets)
		return false;
	hmap_close(m);
	return true;
}
