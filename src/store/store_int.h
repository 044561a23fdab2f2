/* Internals of the message store shared by its source files (store.c,
 * sync.c). Callers outside src/store use store.h only. */
#ifndef QSG_STORE_INT_H
#define QSG_STORE_INT_H

#include "store.h"

struct store_seg {
	uint32_t id;
	int fd;
	uint64_t size; /* bytes in the file = next append offset */
	uint64_t synced; /* bytes known durable */
	uint64_t live_bytes, dead_bytes, live_recs;
	uint64_t last_release; /* highest release index of a record in it */
	bool no_compact; /* a record failed verification during compaction */
	/* Compaction copied records out of it: it may be deleted only after
	 * the sync job with this sequence number (or a later one) completed
	 * (store->sync_completed). 0 = no copies. */
	uint64_t copies_seq;
	/* Offsets of dead records: open addressing, 0 = empty slot. */
	uint32_t *dead;
	size_t ndead, capdead;
};

/* The segment with this id, or NULL (binary search; segs are sorted).
 * Inline here so that store.c and sync.c (which store.c calls) share it
 * without depending on each other. */
static inline struct store_seg *store_seg_find(const struct store *s, uint32_t id)
{
	size_t lo = 0, hi = s->nsegs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->segs[mid]->id < id) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo < s->nsegs && s->segs[lo]->id == id ? s->segs[lo] : NULL;
}

#endif
