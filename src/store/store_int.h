/* Internals of the message store shared by its source files (store.c,
 * sync.c, segidx.c). Callers outside src/store use store.h only. */
#ifndef QSG_STORE_INT_H
#define QSG_STORE_INT_H

#include "store.h"

struct store_seg {
	uint32_t id;
	int fd;
	uint64_t size; /* bytes in the file = next append offset */
	uint64_t synced; /* bytes known durable */
	uint64_t wb_started; /* writeback started up to here (bytes_per_sync) */
	uint64_t live_bytes, dead_bytes, live_recs;
	uint64_t last_release; /* highest release index of a record in it */
	bool no_compact; /* a record failed verification during compaction */
	/* Compaction copied records out of it: it may be deleted only after
	 * the sync job with this sequence number (or a later one) completed
	 * (store->sync_completed). 0 = no copies. */
	uint64_t copies_seq;
	uint8_t idx; /* enum seg_idx_state: its index file (segidx.c) */
	/* Offsets of dead records: open addressing, 0 = empty slot. */
	uint32_t *dead;
	size_t ndead, capdead;
};

/* Index file of a segment. NONE: none written by this process (the segment
 * is active, or was scanned at open); BUSY: an index job is writing it
 * (the segment is not deleted meanwhile); DONE: on disk (loaded at open or
 * written); FAILED: could not be written (not retried by this process). */
enum seg_idx_state { SEG_IDX_NONE = 0, SEG_IDX_BUSY, SEG_IDX_DONE, SEG_IDX_FAILED };

/* store.c */
void store_seg_free(struct store_seg *g);

static inline struct store_seg *store_active(const struct store *s)
{
	return s->nsegs ? s->segs[s->nsegs - 1] : NULL;
}

/* segidx.c: "dir/seg-%010u.qsx". */
void store_idx_path(const char *dir, uint32_t id, char *out, size_t n);
/* Read and check the index file of segment id whose file has seg_size
 * bytes: QSG_OK and *buf (free() it), *count entries, or an error (no
 * file, torn, mismatching, unknown version). BLOCKS. */
int store_idx_load(const char *dir, uint32_t id, uint64_t seg_size, uint8_t **buf, uint32_t *count);
/* At open: remove index files without a segment among ids[0..n) (orphans),
 * temporary files of interrupted writes, and the index of the last segment
 * (it is active again: always scanned, and it grows). BLOCKS. */
void store_idx_clean(struct store *s, const uint32_t *ids, size_t n);

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
