/* Intrusive chained hash map used by the state machine (queues, sessions,
 * index keys). The caller embeds a struct hmap_node, computes the hash and
 * compares keys itself while walking a bucket. Iteration order depends on the
 * insertion history, so nothing that changes state may depend on it: callers
 * sort when order matters. */
#ifndef QSG_FSM_HMAP_H
#define QSG_FSM_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap_node {
	struct hmap_node *next;
	uint64_t hash;
};

struct hmap {
	struct hmap_node **buckets;
	size_t nbuckets; /* power of two, or 0 before the first insert */
	size_t count;
	/* Growth is incremental (a rehash of 500k entries in one call held
	 * every member's loop for a second): while `old` is set, old buckets
	 * below `mig` have moved to `buckets`, the others are still in `old`;
	 * each insert moves HMAP_MIGRATE_STEP more. */
	struct hmap_node **old;
	size_t nold, mig;
};

void hmap_init(struct hmap *m);
/* Frees the bucket array only; nodes belong to the caller. */
void hmap_close(struct hmap *m);
/* First node of the bucket for `hash` (check node->hash and the key). */
struct hmap_node *hmap_bucket(const struct hmap *m, uint64_t hash);
/* Fails (QSG_RC_STORAGE_NOT_AVAILABLE) only when the very first bucket array
 * cannot be allocated; a failed growth keeps the old array. */
int hmap_insert(struct hmap *m, struct hmap_node *n, uint64_t hash);
void hmap_remove(struct hmap *m, struct hmap_node *n);
/* Walk every node: start with hmap_next(m, NULL). */
struct hmap_node *hmap_next(const struct hmap *m, const struct hmap_node *n);
/* Take a map no longer used apart a slice at a time: unlinks nodes bucket
 * by bucket from *cursor (0 at first) and hands each to free_node, while
 * *budget > 0 (each node, and each empty bucket passed, takes one). Returns
 * true when the map is empty, its bucket array freed (hmap_close). */
bool hmap_drain(struct hmap *m, size_t *cursor, size_t *budget,
		void (*free_node)(struct hmap_node *n));

#endif
