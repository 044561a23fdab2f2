/* Bounded LRU body cache of the message store (see store.h): a chained hash
 * table on (key, part) plus a doubly linked recency list. Each entry holds a
 * copy of the bytes; its charge is the memory it takes (store_cache_charge).
 *
 * Entries of up to QSG_SLAB_MAX_ITEM bytes come from slab pools, one per
 * size class (about 1.5x apart), not from malloc: a CLEAR of 1M small
 * messages releases 1M entries in a burst, and glibc sorts the chunks so
 * freed into its bins inside whichever small calloc comes next on the loop
 * (docs/storage.md, What is left 6(g)). A slab free is a few instructions
 * and an emptied block goes back to the system at once. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "common/nofork.h"
#include "common/slab.h"

/* Entry sizes (header + data) of the slab classes. */
static const uint16_t cache_class[STORE_CACHE_NCLASS] = {64,  96,   128,  192,	256,  384, 512,
							 768, 1024, 1536, 2048, 3072, 4096};

struct store_cache_ent {
	struct store_cache_ent *hnext; /* hash chain */
	struct store_cache_ent *prev, *next; /* recency list */
	uint64_t key;
	uint32_t part;
	uint8_t cls; /* 0: malloc'd; k + 1: from slab class k */
	size_t len;
	uint8_t data[];
};

static size_t bucket_of(const struct store_cache *c, uint64_t key, uint32_t part)
{
	uint64_t h = (key ^ ((uint64_t)part << 40)) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20) & (c->nbuckets - 1);
}

int store_cache_init(struct store_cache *c, size_t max_bytes, size_t max_item)
{
	static const struct store_offload_tier def[STORE_OFFLOAD_TIERS] = {
	    {70, 32 * 1024}, {80, 4 * 1024}, {90, 0}};

	memset(c, 0, sizeof *c);
	c->max_bytes = max_bytes;
	c->max_item = max_item;
	memcpy(c->offload, def, sizeof def);
	/* Sized up front for the most entries the cache can ever hold
	 * (max_bytes / STORE_CACHE_ENT_OVERHEAD, at load <= 2), so the table
	 * never grows: a rehash walks every entry in one call, and at 524k
	 * entries of 64 bytes that held every member's loop 0.4-2.3 s at the
	 * same moment (tests/integration/test_deep_clear.sh fenced the whole
	 * group); at 130k entries of 1 KiB it was 0.5-1.2 s
	 * (test_deep_snapshot.sh). 256 MiB: 2M buckets, 16 MB of zero pages
	 * that are touched only as entries arrive (6% of the cache's bytes),
	 * mapped apart so that a snapshot's fork does not copy them
	 * (src/common/nofork.h). */
	c->nbuckets = 1024;
	while (c->nbuckets < max_bytes / STORE_CACHE_ENT_OVERHEAD / 2 &&
	       c->nbuckets < ((size_t)1 << 26))
		c->nbuckets *= 2;
	c->buckets = qsg_nofork_alloc(c->nbuckets * sizeof *c->buckets);
	return c->buckets != NULL ? QSG_OK : QSG_RC_STORAGE_NOT_AVAILABLE;
}

/* The slab class for an entry of len bytes of data, or STORE_CACHE_NCLASS
 * when it is larger than every class. */
static unsigned class_of(size_t len)
{
	size_t size = sizeof(struct store_cache_ent) + len;
	unsigned k;

	for (k = 0; k < STORE_CACHE_NCLASS && cache_class[k] < size; k++) {
	}
	return k;
}

/* The charge of an entry of len bytes in class k (class_of). */
static size_t charge_of(size_t len, unsigned k)
{
	return k < STORE_CACHE_NCLASS ? cache_class[k] : len + STORE_CACHE_ENT_OVERHEAD;
}

size_t store_cache_charge(size_t len)
{
	return charge_of(len, class_of(len));
}

/* The charge of e as allocated (a slab class may have fallen back to
 * malloc, which costs less: never more than store_cache_charge). */
static size_t ent_charge(const struct store_cache_ent *e)
{
	return e->cls != 0 ? cache_class[e->cls - 1] : e->len + STORE_CACHE_ENT_OVERHEAD;
}

static void unlink_ent(struct store_cache *c, struct store_cache_ent *e)
{
	struct store_cache_ent **pp = &c->buckets[bucket_of(c, e->key, e->part)];

	while (*pp != e) {
		pp = &(*pp)->hnext;
	}
	*pp = e->hnext;
	if (e->prev != NULL) {
		e->prev->next = e->next;
	} else {
		c->head = e->next;
	}
	if (e->next != NULL) {
		e->next->prev = e->prev;
	} else {
		c->tail = e->prev;
	}
	c->bytes -= ent_charge(e);
	c->count--;
	if (e->cls != 0) {
		qsg_slab_free(e);
	} else {
		free(e);
	}
}

/* An entry for len bytes of data: from slab class k (class_of), else
 * (larger, or no block could be mapped) from malloc. */
static struct store_cache_ent *ent_alloc(struct store_cache *c, size_t len, unsigned k)
{
	size_t size = sizeof(struct store_cache_ent) + len;
	struct store_cache_ent *e;

	if (k < STORE_CACHE_NCLASS) {
		if (c->slab[k] == NULL) {
			/* NULL if not. NOFORK: a snapshot's child never
			 * reads bodies, so fork() need not copy 256 MiB of
			 * page tables' worth of them. */
			(void)qsg_slab_init_flags(&c->slab[k], cache_class[k], QSG_SLAB_NOFORK);
		}
		e = c->slab[k] != NULL ? qsg_slab_alloc(c->slab[k]) : NULL;
		if (e != NULL) {
			e->cls = (uint8_t)(k + 1);
			return e;
		}
	}
	e = malloc(size);
	if (e != NULL) {
		e->cls = 0;
	}
	return e;
}

void store_cache_close(struct store_cache *c)
{
	while (c->head != NULL) {
		unlink_ent(c, c->head);
	}
	qsg_nofork_free(c->buckets, c->nbuckets * sizeof *c->buckets);
	c->buckets = NULL;
	for (unsigned k = 0; k < STORE_CACHE_NCLASS; k++) {
		qsg_slab_close(c->slab[k]);
		c->slab[k] = NULL;
	}
}

static struct store_cache_ent *find(const struct store_cache *c, uint64_t key, uint32_t part)
{
	struct store_cache_ent *e;

	if (c->buckets == NULL) {
		return NULL;
	}
	for (e = c->buckets[bucket_of(c, key, part)]; e != NULL; e = e->hnext) {
		if (e->key == key && e->part == part) {
			return e;
		}
	}
	return NULL;
}

static void to_front(struct store_cache *c, struct store_cache_ent *e)
{
	if (c->head == e) {
		return;
	}
	e->prev->next = e->next;
	if (e->next != NULL) {
		e->next->prev = e->prev;
	} else {
		c->tail = e->prev;
	}
	e->prev = NULL;
	e->next = c->head;
	c->head->prev = e;
	c->head = e;
}

bool store_cache_get(struct store_cache *c, uint64_t key, uint32_t part, const uint8_t **p,
		     size_t *len)
{
	struct store_cache_ent *e = find(c, key, part);

	if (e == NULL) {
		c->misses++;
		return false;
	}
	c->hits++;
	to_front(c, e);
	*p = e->data;
	*len = e->len;
	return true;
}

bool store_cache_put(struct store_cache *c, uint64_t key, uint32_t part, const void *p, size_t len,
		     bool on_put)
{
	unsigned k = class_of(len);
	size_t charge = charge_of(len, k);
	struct store_cache_ent *e;
	int i;

	if (c->buckets == NULL || len > c->max_item || charge > c->max_bytes) {
		c->refused++;
		return false;
	}
	if (on_put) {
		/* Offload tiers: the fuller the cache, the smaller the bodies a
		 * put may place in it (the rest are read back from disk). */
		uint64_t pct = c->max_bytes ? (uint64_t)c->bytes * 100 / c->max_bytes : 100;
		for (i = 0; i < STORE_OFFLOAD_TIERS; i++) {
			if (c->offload[i].th_pct > 0 && pct >= c->offload[i].th_pct &&
			    len > c->offload[i].max_size) {
				c->refused++;
				return false;
			}
		}
	}
	e = find(c, key, part);
	if (e != NULL) {
		unlink_ent(c, e);
	}
	while (c->bytes + charge > c->max_bytes && c->tail != NULL) {
		unlink_ent(c, c->tail);
		c->evictions++;
	}
	e = ent_alloc(c, len, k);
	if (e == NULL) {
		c->refused++;
		return false;
	}
	e->key = key;
	e->part = part;
	e->len = len;
	if (len > 0) {
		memcpy(e->data, p, len);
	}
	size_t b = bucket_of(c, key, part);
	e->hnext = c->buckets[b];
	c->buckets[b] = e;
	e->prev = NULL;
	e->next = c->head;
	if (c->head != NULL) {
		c->head->prev = e;
	} else {
		c->tail = e;
	}
	c->head = e;
	c->bytes += ent_charge(e);
	c->count++;
	return true;
}

void store_cache_drop(struct store_cache *c, uint64_t key, uint32_t part)
{
	struct store_cache_ent *e = find(c, key, part);

	if (e != NULL) {
		unlink_ent(c, e);
	}
}
