/* The body provider of the state machine over the message store: message
 * content by seqno. It owns one struct store (segments, cache, compaction)
 * and a map seqno -> (location, length, crc) that is this member's business
 * (never replicated). Its put/read/release/claim/restored functions have the
 * signatures of struct fsm_bodies (src/fsm/fsm.h) with arg = struct
 * bodystore *, so the daemon wires them without this module including the
 * state machine's header. Design: docs/storage.md.
 *
 * Callers: the daemon (src/qsgd: apply path, snapshot hooks, housekeeping,
 * catch-up) and tests. Single-threaded (the loop), except
 * bodystore_sync_run and bodystore_reclaim_run, which touch only their job
 * and run in the pool.
 *
 * Records: one STORE_REC_BODY record per message, key = seqno, part 0,
 * payload = props || body, so the record's payload CRC32C is the
 * message's crc; a chunked (large) message has one STORE_REC_CHUNK record
 * per part (key = seqno, part i), whose payload CRC32C is the part's.
 *
 * Errors: qsg_err.h codes plus errmsg: QSG_RC_IO (disk, verification,
 * content not held), QSG_RC_INVALID, QSG_RC_STORAGE_NOT_AVAILABLE. */
#ifndef QSG_STORE_BODYSTORE_H
#define QSG_STORE_BODYSTORE_H

#include "store.h"

struct bodystore_map; /* bodystore.c */
struct bodystore_aliases; /* bsrename.c */

struct bodystore {
	struct store st;
	struct bodystore_map *map; /* seqno -> entry */
	struct bodystore_aliases *al; /* renamed seqno -> the records' key */
	uint64_t index; /* Raft index of the entry being applied (release gate) */
	uint32_t gen; /* restores completed (bodystore_restored calls) */
	uint64_t nmissing; /* claimed but not held: to fetch from a peer */
	char errmsg[QSG_ERRMSG_SIZE]; /* the last failure of a callback */
	uint64_t puts, put_dups, reads, read_misses, releases, fills;
	uint64_t put_replaced; /* put of a held seqno with another content */
	uint64_t restore_releases; /* held, unclaimed, <= last at restored() */
	uint64_t claim_failures; /* claims lost to memory exhaustion */
	uint64_t compact_moves, segs_reclaimed;
	uint64_t renames; /* bodystore_rename calls that renamed */
	int init_err; /* bodystore_init internal */
	/* Set by the caller: housekeeping never deletes segments itself; the
	 * caller runs bodystore_reclaim_* (unlinks in the pool) when
	 * bodystore_reclaim_pending() says so. */
	bool defer_reclaim;
};

/* BLOCKS (store_init scans every segment). Every valid record found becomes
 * an entry of the map (held, not yet claimed). */
int bodystore_init(struct bodystore *b, const struct store_config *cfg, char *errmsg);
void bodystore_close(struct bodystore *b);

/* ---- struct fsm_bodies callbacks (arg = struct bodystore *) ----
 * put: a held seqno with the same length and crc is not written again
 * (log replay; put_dups); with another content the new one is written and
 * the old released (put_replaced); a missing one is written and no longer
 * missing. The content is checked against crc before it is written.
 * Failures: QSG_RC_IO with errmsg set.
 * read: verified (record checksums on disk, then crc32c of the content
 * against crc, also for cached copies); QSG_RC_IO when not held (missing:
 * "message N body not held on this member (catching up)") or on any
 * mismatch; nothing is appended to out on failure.
 * release: the record dies with the index of bodystore_set_index.
 * claim / restored: claim marks the seqno claimed (held with the same
 * length and crc), or records it missing (not held, or held with another
 * content). restored(last) then releases every held entry not claimed with
 * seqno <= last, forgets every missing entry not claimed, keeps unclaimed
 * held entries above last (the log puts them again) and clears the claimed
 * marks. */
int bodystore_put(void *arg, uint64_t seqno, const void *props, uint32_t props_len,
		  const void *body, uint32_t body_len, uint32_t crc);
int bodystore_read(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len, uint32_t crc,
		   struct qsg_wbuf *out);
void bodystore_release(void *arg, uint64_t seqno);
void bodystore_claim(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len,
		     uint32_t crc);
void bodystore_restored(void *arg, uint64_t last_seqno);
/* Large messages: the parts of a chunked message, one STORE_REC_CHUNK
 * record each (key = seqno, part), with the semantics of put/read/claim
 * above; release(seqno) releases every part. seqno must be below 2^48
 * and part below 2^16 (QSG_RC_IO otherwise). The map, the missing set and
 * bodystore_missing/fill/get name part p > 0 by the key seqno | p << 48
 * (part 0 by the seqno), so catch-up fetches parts like whole messages. */
int bodystore_put_part(void *arg, uint64_t seqno, uint32_t part, const void *props,
		       uint32_t props_len, const void *body, uint32_t body_len, uint32_t crc);
int bodystore_read_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc,
			struct qsg_wbuf *out);
void bodystore_claim_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc);

/* rename: the content held under seqno is from now on the content of
 * new_seqno (a message moved to a backout queue, fsm_bodies.rename), in
 * O(1) and without body I/O: the records keep their key (the old seqno) on
 * disk, the map keeps their entry under it, and an alias new_seqno -> old
 * is kept in memory and persisted by one small STORE_REC_RENAME record
 * (key new_seqno, part STORE_RENAME_PART, payload the old key), which
 * bodystore_init reads back. Every callback resolves an alias first, so
 * new_seqno is read, released, claimed and served to peers as any seqno;
 * a release drops the alias with its record. Applied again (log replay
 * after a restart: the alias is already there) it changes nothing. Every
 * part of a chunked message follows. QSG_RC_IO when seqno is not held
 * (missing, or unknown: as the read the move did before). */
int bodystore_rename(void *arg, uint64_t seqno, uint64_t new_seqno);

/* The Raft index of the entry about to be applied: releases made while
 * applying it carry this index (the snapshot gate of store_release). */
void bodystore_set_index(struct bodystore *b, uint64_t index);

/* ---- snapshots: the store's bytes as of a snapshot must be durable before
 * the snapshot is persisted (docs/storage.md, "fsync policy") ---- */
int bodystore_sync_prepare(struct bodystore *b, struct store_sync_job *job, char *errmsg);
/* Write the store's write-behind buffer (store_flush). */
int bodystore_flush(struct bodystore *b, char *errmsg);
int bodystore_sync_run(struct store_sync_job *job); /* pool */
int bodystore_sync_done(struct bodystore *b, struct store_sync_job *job, char *errmsg);
/* A snapshot at `index` is durable: segments whose releases are all at or
 * below it may be deleted. */
void bodystore_set_stable(struct bodystore *b, uint64_t index);

/* BLOCKS (pread/pwrite/unlink, never fsync), bounded by budget (bytes
 * read + written) and by one segment deletion. One slice of housekeeping:
 * a compaction step (relocations update the map) and, when something may
 * have become reclaimable (store reclaim_hint), the deletion of at most one
 * dead segment. A compacted source is deleted only after a sync job
 * prepared after its last copy completed (bodystore_sync_*, i.e. the next
 * snapshot) and once the stable index allows. *more = true when another
 * slice has work to do now. */
int bodystore_housekeep(struct bodystore *b, size_t budget, bool *more, char *errmsg);

/* Deletion of dead segments with the unlinks in the thread pool (an unlink
 * of a 64 MiB segment takes 20-40 ms here, docs/performance.md):
 * pending (memory) says whether something may be deletable; prepare (loop,
 * memory) takes at most max segments out of the store; run (pool, touches
 * only the job) unlinks them; done (loop) frees the job and counts. */
bool bodystore_reclaim_pending(const struct bodystore *b);
int bodystore_reclaim_prepare(struct bodystore *b, uint32_t max, struct store_reclaim_job *job,
			      char *errmsg);
int bodystore_reclaim_run(struct store_reclaim_job *job); /* pool */
int bodystore_reclaim_done(struct bodystore *b, struct store_reclaim_job *job, char *errmsg);

/* ---- catch-up ---- */
/* Up to max missing seqnos greater than `after`, ascending. Returns the
 * number written to keys. */
size_t bodystore_missing(struct bodystore *b, uint64_t after, uint64_t *keys, size_t max);
/* Content of seqno fetched from a peer: verified against the crc claimed
 * for it (QSG_RC_IO on mismatch, nothing stored), written, no longer
 * missing. A seqno that is not missing any more (released meanwhile, or
 * filled twice) is ignored (QSG_OK). */
int bodystore_fill(struct bodystore *b, uint64_t seqno, const void *content, uint32_t len,
		   uint32_t crc, char *errmsg);
/* The keys under which peers are asked for missing keys[0..n) (keys of
 * bodystore_missing): when a rename names a key's records (a move to a
 * backout queue of a message whose parts are partly held here: its missing
 * parts stay under the records' key), the same part under the current
 * name, the one every member's state uses (a peer that got the content
 * under that name holds nothing under the old one; bodystore_get resolves
 * the name on a peer that holds the records under the old key); else the
 * key itself. O(n) without renames, O((a + n) log a) with a live. */
void bodystore_fetch_names(const struct bodystore *b, const uint64_t *keys, uint64_t *names,
			   size_t n);
/* Serve a peer: append the content of seqno to out and give its crc.
 * QSG_RC_NO_MSG_AVAILABLE when not held (released, or missing here too). */
int bodystore_get(struct bodystore *b, uint64_t seqno, struct qsg_wbuf *out, uint32_t *crc,
		  char *errmsg);

struct bodystore_stats {
	struct store_stats st;
	uint64_t messages; /* entries held */
	uint64_t missing;
	uint64_t puts, put_dups, reads, read_misses, releases, fills;
	uint64_t put_replaced, restore_releases, compact_moves, segs_reclaimed, reloc_mismatch;
	uint64_t renames, aliases; /* renames done; aliases live */
	size_t map_bytes; /* memory of the map and the missing set */
	size_t map_slots;
};
void bodystore_get_stats(const struct bodystore *b, struct bodystore_stats *out);
/* Memory of the map (table and missing set), for the bytes-per-message
 * figure. */
size_t bodystore_map_bytes(const struct bodystore *b);

#endif
