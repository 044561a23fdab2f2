/* Internal to the body provider: the map and its missing set (bsmap.c),
 * the renames (bsrename.c) and the callbacks over them (bodystore.c, which
 * calls both; bsrename.c calls bsmap.c). Not for other modules: they use
 * bodystore.h. */
#ifndef QSG_STORE_BSINT_H
#define QSG_STORE_BSINT_H

#include "bodystore.h"

/* One slot: 24 bytes, no per-entry allocation. key 0 = empty (seqno 0 is
 * never assigned). seg 0 = missing (claimed, content to fetch from a peer).
 * The top bit of lenf is the claimed bit of the current restore; the low 31
 * bits are the content length (props + body, at most STORE_MAX_PAYLOAD). */
struct bent {
	uint64_t key;
	uint32_t seg;
	uint32_t off;
	uint32_t lenf;
	uint32_t crc;
};
#define BENT_CLAIMED 0x80000000u
#define BENT_LEN(e) ((e)->lenf & ~BENT_CLAIMED)

/* Map keys: part 0 (a whole message, or the first part of a chunked one)
 * is the seqno itself; part p > 0 of a chunked message is seqno | p << 48.
 * Seqnos of chunked messages stay below 2^48 (bodystore_put_part refuses
 * others), parts below 2^16. The catch-up set and FETCH carry these keys,
 * so the parts of a chunked message are fetched like whole messages. */
#define KEY_PART_SHIFT 48
#define KEY_SEQ_MASK ((1ull << KEY_PART_SHIFT) - 1)
#define KSEQ(k) ((k)&KEY_SEQ_MASK)
#define KPART(k) ((uint32_t)((k) >> KEY_PART_SHIFT))
static inline uint64_t mkey(uint64_t seqno, uint32_t part)
{
	return part == 0 ? seqno : (seqno | (uint64_t)part << KEY_PART_SHIFT);
}

/* Largest load before growing (n / cap, in 1/1000). Linear probing stays
 * short below 0.8; growing by 1.5 keeps the load between 0.53 and 0.8. */
#define BSMAP_MAX_LOAD 800
#define BSMAP_MIN_CAP 1024

struct bodystore_map {
	struct bent *v;
	size_t cap; /* any size >= BSMAP_MIN_CAP: slots are chosen by fastrange */
	/* The old table while a growth is in progress (NULL otherwise): slots
	 * below ocur have moved; see "incremental growth". */
	struct bent *ov;
	size_t ocap, ocur;
	size_t n; /* entries, held and missing */
	/* Missing seqnos: appended unsorted, removed lazily (an entry is
	 * really missing iff the map says so); sorted, deduplicated and
	 * filtered on demand by bodystore_missing. */
	uint64_t *miss;
	size_t nmiss, capmiss;
	/* Sorted ascending (duplicates and keys no longer missing may remain:
	 * bodystore_missing skips them). Appends keep it sorted unless a key
	 * is smaller than the last; only then is it sorted again, once. */
	bool miss_sorted;
	uint64_t reloc_mismatch;
};

/* Slots of the old table moved per insert or release while the table
 * grows or shrinks (bsmap.c, "incremental growth"). */
#define BSMAP_MIGRATE 16

/* bsmap.c: the map (seqno -> entry) and the missing set. */
/* The entry of key (NULL: none), always in the new table. */
struct bent *bsmap_find(struct bodystore_map *m, uint64_t key);
/* Insert a new key (not present); NULL when out of memory. */
struct bent *bsmap_insert(struct bodystore_map *m, const struct bent *e);
/* Remove the entry at p (entries of its cluster may move: pointers into
 * the map are stale after). */
void bsmap_remove(struct bodystore_map *m, struct bent *p);
/* Move up to `slots` old slots of a growth in progress. */
void bsmap_migrate(struct bodystore_map *m, size_t slots);
/* Finish any growth in progress (before a walk of the whole table). */
void bsmap_settle(struct bodystore_map *m);
/* Start an incremental growth (or shrink) to ncap slots. */
int bsmap_grow_start(struct bodystore_map *m, size_t ncap);
/* After a drain: move to a smaller table below load 0.1. */
void bsmap_maybe_shrink(struct bodystore_map *m);
/* key is missing (counted, listed for the catch-up). */
int bsmiss_add(struct bodystore *b, uint64_t key);
/* A missing entry stops being missing. */
void bsmiss_gone(struct bodystore *b);
/* Sort the missing vector, dropping duplicates and keys no longer missing. */
void bsmiss_sort(struct bodystore *b);
/* e's record (if held) is released at b->index. */
void bsmap_release_entry(struct bodystore *b, struct bent *e);
/* Every part of map key seqno leaves the map, its records released. */
void bsmap_release_all(struct bodystore *b, uint64_t seqno);

/* bsrename.c: aliases new seqno -> the key of the records (renames, a
 * move to a backout queue; docs/storage.md "Moves to a backout queue:
 * rename"). Every function is O(1) or O(log aliases) when there is no
 * alias. */
/* The map key content under key k is held by (k itself unless renamed). */
uint64_t bsalias_resolve(const struct bodystore *b, uint64_t k);
/* The scan at open found a STORE_REC_RENAME record: true if it is kept
 * (its target is read by bsalias_load); b->init_err on out of memory. */
bool bsalias_take_record(struct bodystore *b, uint64_t key, uint32_t part,
			 const struct store_loc *loc);
/* After the scan: read the targets of the rename records found. */
void bsalias_load(struct bodystore *b);
/* A put of map key k (len, crc): true when k names renamed records with
 * that very content (a replay: nothing to write); an alias of k naming
 * another content is dropped (the put wins). */
bool bsalias_put(struct bodystore *b, uint64_t k, uint64_t len, uint32_t crc);
/* A restore's claim of map key k: true when claimed through an alias (its
 * target held, or missing: fetched under the records' key); an alias
 * naming another content is dropped (k is then claimed as any). */
bool bsalias_claim(struct bodystore *b, uint64_t k, uint64_t len, uint32_t crc);
/* A release of seqno: the key of its records (seqno unless renamed; the
 * alias and its record go, released at b->index). */
uint64_t bsalias_release(struct bodystore *b, uint64_t seqno);
/* End of a restore: aliases kept if claimed or above last_seqno, and only
 * while their records are here (held or missing). */
void bsalias_restored(struct bodystore *b, uint64_t last_seqno);
/* Compaction moved the rename record of key from `from` to `to`: false
 * when no live alias has its record there. */
bool bsalias_reloc(struct bodystore *b, uint64_t key, const struct store_loc *from,
		   const struct store_loc *to);
size_t bsalias_bytes(const struct bodystore *b);
uint64_t bsalias_live(const struct bodystore *b);
void bsalias_free(struct bodystore *b);

#endif
