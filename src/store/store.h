/* The message store of one structure on one member: message bodies (and
 * properties) in append-only, checksummed segment files, a bounded LRU body
 * cache, per-segment live/dead accounting, deletion of dead segments and an
 * incremental compaction step. Also the descriptor codec (struct store_desc,
 * the "proxy in the queue" that the state machine keeps per message).
 * Design and reasons: docs/storage.md.
 *
 * Callers: the daemon's apply path and its housekeeping (wired by a later
 * session), tests and bench/store_bench. The state machine must never call
 * the file functions (it is pure); it may use the descriptor codec.
 *
 * Threads: a struct store is single-threaded: every call on one store must be
 * made by one thread at a time. The exceptions are store_sync_run(),
 * store_reclaim_run() and store_index_run(), which touch nothing but the job
 * they are given and may run in libuv's thread pool while the loop keeps
 * appending (see store_sync_prepare).
 *
 * Blocking: the core is synchronous file I/O. Calls marked BLOCKS below may
 * wait for the disk (pwrite/pread/fdatasync/unlink/ftruncate); the caller
 * decides whether to run them on the loop (bounded, page-cache work) or in
 * the thread pool. Calls not marked touch memory only.
 *
 * Errors: int codes from qsg_err.h (QSG_RC_IO for I/O errors and for records
 * that fail verification, QSG_RC_INVALID for bad arguments,
 * QSG_RC_STORAGE_NOT_AVAILABLE for memory) plus errmsg (may be NULL). A
 * record that fails verification is never returned as data; the fault is also
 * recorded with a store_fault reason (store_faults()).
 *
 * Segment file format (version 1, little-endian), file name
 * "seg-%010u.qss" (the segment id) in the store directory:
 *   header (32 bytes): u32 magic "QSGS", u16 version (1), u16 header size
 *     (32), u32 segment id, u32 flags (0), u64 created (caller's value, 0),
 *     u32 reserved (0), u32 crc32c of bytes 0..28
 *   records, back to back, each a 32-byte header then `len` payload bytes:
 *     u8 version (1), u8 type (STORE_REC_*), u16 flags (0), u32 len,
 *     u64 key, u32 part, u32 crc32c of the payload, u32 reserved (0),
 *     u32 crc32c of header bytes 0..28 */
#ifndef QSG_STORE_H
#define QSG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../common/codec.h"
#include "../common/crc32c.h"
#include "../common/qsg_err.h"

#define STORE_FORMAT_VERSION 1
#define STORE_SEG_MAGIC 0x53475351u /* "QSGS" little-endian */
#define STORE_SEG_HDR_SIZE 32
#define STORE_REC_HDR_SIZE 32
#define STORE_MAX_PAYLOAD (16u * 1024 * 1024) /* sanity bound for one record */
#define STORE_CHUNK_MAX (1024u * 1024) /* largest body chunk per Raft entry */
#define STORE_DEFAULT_SEGMENT_SIZE (64u * 1024 * 1024)
#define STORE_DEFAULT_CACHE_BYTES ((size_t)256 * 1024 * 1024)
#define STORE_DEFAULT_CACHE_MAX_ITEM ((size_t)1024 * 1024)
#define STORE_DEFAULT_COMPACT_RATIO 50 /* compact sealed segments below 50% live */
#define STORE_OFFLOAD_TIERS 3

/* Record types. */
enum store_rec_type {
	STORE_REC_BODY = 1, /* a whole message: properties and body (part 0) */
	STORE_REC_CHUNK = 2, /* one chunk (part 0..n-1) of a large message */
	/* A rename (bodystore: a message moved to a backout queue under a new
	 * seqno): key = the new seqno, part = STORE_RENAME_PART, payload = u64
	 * (LE) the key of the message's records. */
	STORE_REC_RENAME = 3,
};
#define STORE_REC_TYPE_OK(t) ((t) >= STORE_REC_BODY && (t) <= STORE_REC_RENAME)
#define STORE_RENAME_PART 0x10000u /* above every body part (< 2^16) */
#define STORE_RENAME_LEN 8

/* Where one record sits on this member's disk. Member-local: never
 * replicated, never in snapshot bytes. seg 0 = nowhere. len is the payload
 * length (the record takes STORE_REC_HDR_SIZE + len bytes at off). */
struct store_loc {
	uint32_t seg;
	uint32_t off;
	uint32_t len;
};

/* Why a region of a segment is not served. */
enum store_fault_reason {
	STORE_FAULT_TORN_TAIL = 1, /* incomplete last record(s): cut at open */
	STORE_FAULT_HDR_CRC = 2, /* record header checksum mismatch */
	STORE_FAULT_PAYLOAD_CRC = 3, /* payload checksum mismatch */
	STORE_FAULT_BAD_VERSION = 4, /* record or segment of an unknown version/type */
	STORE_FAULT_SEG_HEADER = 5, /* segment header unreadable: segment skipped */
	STORE_FAULT_MISMATCH = 6, /* read: record key/part/length differ from the locator's */
};
const char *store_fault_name(int reason);

struct store_fault {
	uint32_t seg;
	uint32_t off; /* first byte of the bad region */
	uint32_t len; /* bytes in the region (to the next good record or EOF) */
	int reason; /* enum store_fault_reason */
};

/* Thresholds in the spirit of IBM MQ's OFFLD1SZ/OFFLD1TH .. OFFLD3: when
 * the cache is at least th_pct full, a body offered at put time is cached
 * only if it is at most max_size bytes. Defaults 70%/32 KiB, 80%/4 KiB,
 * 90%/0 (MQ's defaults). Bodies read back from disk are cached if at most
 * cache_max_item (LRU eviction makes room). */
struct store_offload_tier {
	uint32_t th_pct;
	size_t max_size;
};

struct store_config {
	const char *dir; /* created if missing (one level) */
	uint64_t segment_size; /* roll over past this size (>= 4096) */
	size_t cache_bytes; /* body cache bound, 0 = no cache */
	size_t cache_max_item;
	struct store_offload_tier offload[STORE_OFFLOAD_TIERS];
	uint32_t compact_ratio; /* percent live below which a sealed segment is compacted */
	/* Write-behind buffer of the active segment, bytes (0: every append
	 * is its own pwrite). Appends are copied into it and written with one
	 * pwrite by store_flush (the daemon calls it once per loop iteration),
	 * when it is full, at roll-over, before a sync job and at close. A
	 * record still in it is read from it. Durability is unchanged: nothing
	 * is synced before a sync job either, and a sync job flushes first. */
	size_t write_buffer;
	/* Start the kernel's writeback (sync_file_range WRITE, which does
	 * not wait) each time this many bytes were written to a segment since
	 * the last start, as RocksDB's bytes_per_sync: the dirty pages then
	 * never pile up until a snapshot's sync, whose fdatasync of 100+ MB
	 * held up the Raft log's own syncs on the same file system for over
	 * 800 ms at 7M messages and fenced every member. 0 = off. */
	size_t bytes_per_sync;
};
void store_config_default(struct store_config *c); /* dir = NULL */

/* ---- body cache (cache.c): bounded LRU keyed by (key, part) ---- */
struct store_cache_ent;
#define STORE_CACHE_NCLASS 13 /* slab size classes of entries (cache.c) */
struct qsg_slab;
struct store_cache {
	size_t max_bytes; /* bound on the entries' charges (store_cache_charge) */
	size_t max_item;
	size_t bytes;
	size_t count;
	struct store_offload_tier offload[STORE_OFFLOAD_TIERS];
	struct store_cache_ent **buckets;
	size_t nbuckets;
	struct store_cache_ent *head, *tail; /* head = most recently used */
	uint64_t hits, misses, evictions, refused;
	struct qsg_slab *slab[STORE_CACHE_NCLASS]; /* entries by size class */
};
#define STORE_CACHE_ENT_OVERHEAD 64 /* bytes charged per entry besides data */
/* What an entry of len bytes is charged: the memory it takes, its slab
 * class's slot (up to a third more than header + data), or len +
 * STORE_CACHE_ENT_OVERHEAD when larger than every class. So max_bytes
 * bounds the cache's real memory, not only its data. */
size_t store_cache_charge(size_t len);
int store_cache_init(struct store_cache *c, size_t max_bytes, size_t max_item);
void store_cache_close(struct store_cache *c);
/* Look up; on a hit *p and *len point into the cache (valid until the next
 * call that changes the cache) and the entry becomes most recent. */
bool store_cache_get(struct store_cache *c, uint64_t key, uint32_t part, const uint8_t **p,
		     size_t *len);
/* Insert (replacing an entry with the same key), evicting least recently
 * used entries to stay within max_bytes. on_put applies the offload tiers.
 * Returns true if cached. */
bool store_cache_put(struct store_cache *c, uint64_t key, uint32_t part, const void *p, size_t len,
		     bool on_put);
void store_cache_drop(struct store_cache *c, uint64_t key, uint32_t part);

/* ---- the store ---- */
struct store_seg; /* store_int.h */
struct store_rindex; /* store.c: recovery index */

struct store {
	struct store_config cfg;
	char dir[4096];
	struct store_seg **segs; /* by increasing id; last = active */
	size_t nsegs, capsegs;
	uint32_t next_id;
	struct store_cache cache;
	struct store_fault *faults;
	size_t nfaults, capfaults;
	struct store_rindex *rindex; /* non-NULL between init and store_recovery_end */
	/* compaction in progress */
	uint32_t compact_seg; /* 0 = none */
	uint32_t compact_off;
	uint8_t *iobuf; /* scratch for scans, reads and compaction */
	size_t iobuf_cap;
	/* compaction's read window: [cwin_off, cwin_off + cwin_len) of
	 * segment cwin_seg (0: none), read with one pread */
	uint8_t *cwin;
	size_t cwin_cap, cwin_len;
	uint32_t cwin_seg;
	uint64_t cwin_off;
	/* write-behind: wb_len bytes for segment wb_seg from file offset
	 * wb_off (see store_config.write_buffer) */
	uint8_t *wb;
	size_t wb_len;
	uint32_t wb_seg;
	uint64_t wb_off;
	uint64_t flushes; /* pwrites of the buffer */
	uint64_t writebacks; /* writeback starts (bytes_per_sync) */
	int wb_err; /* a failed flush: the store takes no more appends */
	uint64_t appended_bytes, compacted_bytes, reclaimed_bytes;
	bool dir_dirty; /* segments created or deleted since the last sync */
	uint64_t stable; /* see store_set_stable */
	/* Sync jobs are numbered at prepare; sync_completed is the highest
	 * number whose job completed successfully (store_sync_done). */
	uint64_t sync_prepared, sync_completed;
	/* Something may have become deletable (a segment emptied, the stable
	 * index or a completed sync advanced, a compaction source finished)
	 * since the last store_reclaim: a hint for the caller's housekeeping. */
	bool reclaim_hint;
	/* segment index files (segidx.c), see store_stats */
	uint32_t idx_loaded, idx_scanned;
	uint64_t idx_written, idx_failed;
};

struct store_stats {
	uint32_t segments;
	uint64_t disk_bytes; /* sum of segment file sizes */
	uint64_t live_bytes; /* record bytes (headers included) still live */
	uint64_t dead_bytes; /* released, superseded or corrupt bytes */
	uint64_t live_records;
	size_t cache_bytes, cache_entries;
	uint64_t cache_hits, cache_misses, cache_evictions;
	size_t faults;
	uint64_t appended_bytes, compacted_bytes, reclaimed_bytes;
	/* Segment index files. At open: sealed segments whose recovery
	 * entries came from their index (payloads unread), and sealed
	 * segments scanned in full for want of a valid index (missing, torn,
	 * mismatching, unknown version). Since open: index files written,
	 * and segments whose index could not be written (not retried). */
	uint32_t index_loaded, index_scanned;
	uint64_t index_written, index_failed;
	uint64_t writebacks; /* writeback started (bytes_per_sync) */
};

/* BLOCKS. Open or create the store in cfg->dir: scan every segment, verify
 * every record, cut a torn tail, record corrupt regions as faults (their
 * bytes count as dead, they are never served) and build the recovery index
 * (key, part) -> newest valid record. A sealed segment (every one but the
 * last) with a valid index file (see "segment index files" below) is not
 * scanned: its records and faults come from the index, and its payloads
 * are verified when read (store_read), never at open. Orphan index files
 * are removed. Returns QSG_OK even when faults were
 * found: the caller inspects store_faults() and decides (fail-stop, or
 * repair from a peer). Errors: QSG_RC_IO (directory or files unusable),
 * QSG_RC_INVALID (bad config), QSG_RC_STORAGE_NOT_AVAILABLE. On error the
 * store needs no store_close. */
int store_init(struct store *s, const struct store_config *cfg, char *errmsg);
/* Closes files and frees memory; does not sync (call store_sync first). */
void store_close(struct store *s);

/* Faults found so far (scan at open, reads, compaction). */
const struct store_fault *store_faults(const struct store *s, size_t *n);

/* Recovery. After store_init, the caller restores its descriptors (snapshot,
 * then log replay) and claims the record of every message it holds:
 * store_claim returns the location of the newest valid record for
 * (key, part), QSG_RC_NO_MSG_AVAILABLE if there is none (the body must be
 * fetched from a peer or re-written from the log). store_recovery_end marks
 * every record that was not claimed as dead and frees the index. Compaction
 * refuses to run (QSG_RC_BUSY) before store_recovery_end. Memory only. */
int store_claim(struct store *s, uint64_t key, uint32_t part, struct store_loc *loc);
void store_recovery_end(struct store *s);
/* Visit every record of the recovery index not claimed yet, in (key, part)
 * order, with its type, location and payload crc32c (from its verified
 * header). A record for which cb returns true is claimed (kept by
 * store_recovery_end). Memory only; no-op after store_recovery_end. */
typedef bool (*store_recovery_cb)(void *arg, uint8_t type, uint64_t key, uint32_t part,
				  const struct store_loc *loc, uint32_t crc);
void store_recovery_foreach(struct store *s, store_recovery_cb cb, void *arg);
/* Records in the recovery index (0 after store_recovery_end). */
size_t store_recovery_count(const struct store *s);

/* BLOCKS (pwrite, and file creation on roll-over; no fsync). Append one
 * record; *loc receives its location. Rolls over to a new segment first if
 * the record would take the active segment past segment_size (a record
 * larger than a segment gets a segment of its own). len <=
 * STORE_MAX_PAYLOAD. If cache_body, the payload is also offered to the
 * cache (on_put tiers). */
int store_append(struct store *s, uint8_t type, uint64_t key, uint32_t part, const void *p,
		 size_t len, bool cache_body, struct store_loc *loc, char *errmsg);
/* As store_append, for a payload in n pieces (n <= 4) whose crc32c the
 * caller has computed already (the state machine's message crc): the
 * payload is not checksummed again (verified in QSG_CHECKED builds). */
int store_appendv(struct store *s, uint8_t type, uint64_t key, uint32_t part,
		  const struct iovec *iov, int n, uint32_t crc, bool cache_body,
		  struct store_loc *loc, char *errmsg);
/* BLOCKS (pwrite). Write the write-behind buffer (if any). QSG_RC_IO on a
 * write error, after which every append fails too (fail-stop). */
int store_flush(struct store *s, char *errmsg);

/* BLOCKS (pread) unless cached. Read the record at loc into out (appended),
 * verifying the header checksum, version, key, part, length and payload
 * checksum; QSG_RC_IO (and a fault) on any mismatch, nothing appended. A
 * record read from disk is offered to the cache. */
int store_read(struct store *s, const struct store_loc *loc, uint64_t key, uint32_t part,
	       struct qsg_wbuf *out, char *errmsg);

/* Memory only. The record at loc is no longer needed (message consumed,
 * expired, cleared): its bytes become dead in its segment and it leaves the
 * cache. `index` is the Raft index of the entry that released it. Releasing
 * twice is detected and ignored (QSG_RC_INVALID).
 *
 * Snapshot gate: the last durable snapshot (index S) may still need a body
 * that was released after S (a restart restores S and replays the log). So
 * a segment is deleted only when it has no live record AND every release in
 * it has index <= the stable index set here (the index of the last durable
 * snapshot). store_init starts at 0 (nothing released with index > 0 is
 * deleted until the caller says so). Memory only. */
int store_release(struct store *s, const struct store_loc *loc, uint64_t key, uint32_t part,
		  uint64_t index);
void store_set_stable(struct store *s, uint64_t index);

/* ---- segment index files (segidx.c) ----
 *
 * When a segment is sealed (it stops being the active segment: roll-over,
 * including roll-overs during compaction, or a full last segment at open),
 * or when store_init had to scan a sealed segment, an index job writes
 * "seg-%010u.qsx" beside it: the result of the scan (store_scan_image) of
 * the whole segment, so that the next store_init need not read it. Format
 * (version 1, little-endian):
 *   header (40 bytes): u32 magic "QSGX", u16 version (1), u16 header size
 *     (40), u32 segment id, u32 flags (0), u64 covered size (the segment's
 *     file size), u32 entry count, u32 entry size (32), u32 reserved (0),
 *     u32 crc32c of bytes 0..36
 *   entries (32 bytes each), in offset order, tiling [32, covered size):
 *     u8 kind (STORE_REC_BODY, STORE_REC_CHUNK, STORE_REC_RENAME, or STORE_IDX_FAULT | a
 *     store_fault_reason), u8 0, u16 0, u32 offset, u32 length (payload
 *     bytes of a record; bytes of a fault region), u64 key, u32 part,
 *     u32 payload crc32c (0 for a fault), u32 reserved (0)
 *   trailer: u32 crc32c of the entry bytes
 * A segment with a torn tail or a bad segment header gets no index. */
#define STORE_IDX_MAGIC 0x58475351u /* "QSGX" little-endian */
#define STORE_IDX_VERSION 1
#define STORE_IDX_HDR_SIZE 40
#define STORE_IDX_ENT_SIZE 32
#define STORE_IDX_FAULT 0x80
#define STORE_INDEX_JOB_MAX 4 /* segments per index job */
#define STORE_INDEX_PER_SYNC 2 /* segments indexed by each sync job */

struct store_idx_ent {
	uint8_t kind;
	uint32_t off, len;
	uint64_t key;
	uint32_t part, crc;
};
/* Pure. Scan the segment image (the whole file) and encode its index into
 * out. QSG_RC_INVALID if the segment cannot be indexed (bad segment header
 * or id, torn tail), QSG_RC_STORAGE_NOT_AVAILABLE. */
int store_idx_build(const uint8_t *img, size_t len, uint32_t id, struct qsg_wbuf *out);
/* Pure. Check an index file image for segment id whose file has seg_size
 * bytes: header (magic, checksum, version, sizes, id, covered size), file
 * length, trailer checksum, and every entry (kind, reserved fields, bounds,
 * entries tiling the segment). QSG_OK and *count, QSG_RC_BAD_VERSION or
 * QSG_RC_BAD_FRAME. */
int store_idx_check(const uint8_t *p, size_t len, uint32_t id, uint64_t seg_size, uint32_t *count);
/* Entry i of a checked image. */
void store_idx_get(const uint8_t *p, uint32_t i, struct store_idx_ent *e);

/* Index jobs: store_index_prepare (memory + dup) takes at most max sealed
 * segments without an index; store_index_run (BLOCKS; thread-safe: touches
 * only the job) fdatasyncs each segment, maps and scans it, writes the index
 * to a temporary file, fsyncs it, renames it and fsyncs the directory;
 * store_index_done (memory) records the outcome. A segment whose index
 * could not be written is not retried (the next store_init scans it and
 * schedules it again). Every sync job also carries an index job of at most
 * STORE_INDEX_PER_SYNC segments, run after its fdatasyncs; its failures do
 * not fail the sync. */
struct store_index_job {
	uint32_t n;
	uint32_t ids[STORE_INDEX_JOB_MAX];
	int fds[STORE_INDEX_JOB_MAX];
	uint64_t sizes[STORE_INDEX_JOB_MAX];
	bool ok[STORE_INDEX_JOB_MAX];
	bool ran; /* store_index_run was called (else done puts them back) */
	char *dir;
	int rc;
	char errmsg[QSG_ERRMSG_SIZE];
};
int store_index_prepare(struct store *s, uint32_t max, struct store_index_job *job, char *errmsg);
int store_index_run(struct store_index_job *job);
int store_index_done(struct store *s, struct store_index_job *job, char *errmsg);
/* Sealed segments waiting for an index job (memory only). */
uint32_t store_index_pending(const struct store *s);

/* Durability. store_sync_prepare (memory + dup) captures what must be
 * fdatasync'ed (every segment written since the last completed sync, and
 * the directory if segments were created or deleted); store_sync_run
 * (BLOCKS; thread-safe: touches only the job) does the work; store_sync_done
 * (memory) records the outcome and releases the job. Appends may continue
 * between prepare and done; they are covered by the next sync.
 * store_sync = the three in a row. */
struct store_sync_job {
	int *fds; /* dup()ed descriptors, closed by store_sync_done */
	uint32_t *ids;
	uint64_t *sizes; /* size of each segment at prepare time */
	int nfds;
	int dirfd; /* -1 if the directory need not be synced */
	uint64_t seq; /* number of this job (store->sync_prepared) */
	int rc;
	char errmsg[QSG_ERRMSG_SIZE];
	struct store_index_job idx; /* run after the syncs; never fails the job */
};
int store_sync_prepare(struct store *s, struct store_sync_job *job, char *errmsg);
int store_sync_run(struct store_sync_job *job);
int store_sync_done(struct store *s, struct store_sync_job *job, char *errmsg);
int store_sync(struct store *s, char *errmsg); /* BLOCKS */

/* BLOCKS (unlink; never fsyncs). Delete every sealed segment with no live
 * record whose releases are all at or below the stable index and whose
 * records moved by compaction are durable in their new place (a sync job
 * prepared after the last copy has completed). The deletions reach the
 * disk's directory with the next sync job. *deleted (may be NULL) receives
 * the count. The active segment is never deleted. Clears reclaim_hint. */
int store_reclaim(struct store *s, uint32_t *deleted, char *errmsg);
/* The same, deleting at most max segments (an unlink of a 64 MiB segment
 * costs ~18 ms here: docs/performance.md); reclaim_hint stays set when more
 * are deletable. */
int store_reclaim_max(struct store *s, uint32_t max, uint32_t *deleted, char *errmsg);
/* The same in three parts, so that the unlinks (the costly part: the
 * kernel frees the file's pages and extents) run in the thread pool:
 * store_reclaim_prepare (memory only) takes at most max deletable segments
 * out of the store into the job; store_reclaim_run (BLOCKS; thread-safe:
 * touches only the job) unlinks and closes them; store_reclaim_done frees
 * the job (any thread). A failed unlink leaves a file that the next
 * store_init scans again (its records are dead or superseded); it is
 * reported, not retried. */
struct store_reclaim_job {
	int *fds;
	uint32_t *ids;
	uint32_t n; /* segments taken */
	char *dir;
	int rc;
	char errmsg[QSG_ERRMSG_SIZE];
};
int store_reclaim_prepare(struct store *s, uint32_t max, struct store_reclaim_job *job,
			  char *errmsg);
int store_reclaim_run(struct store_reclaim_job *job);
int store_reclaim_done(struct store_reclaim_job *job, char *errmsg);

/* BLOCKS (pread/pwrite, never fsync), bounded by budget. One incremental
 * compaction step: pick (or continue with) the sealed segment with the
 * lowest live ratio under compact_ratio, and copy its live records forward
 * into the active segment until about `budget` bytes were read. Every moved
 * record is reported to cb (which must update the caller's descriptor: old
 * -> new location); the old record becomes dead. When the source has no
 * live record left, res->seg_done names it; it is deleted by store_reclaim
 * once a sync job prepared after the copies has completed (and the stable
 * gate allows), never by the step itself. */
typedef void (*store_reloc_cb)(void *arg, uint64_t key, uint32_t part, const struct store_loc *from,
			       const struct store_loc *to);
struct store_compact_result {
	uint32_t moved; /* records moved in this step */
	uint64_t bytes_moved;
	uint32_t seg_done; /* id of a source finished (to be reclaimed), or 0 */
	bool idle; /* nothing to compact */
};
int store_compact_step(struct store *s, size_t budget, store_reloc_cb cb, void *arg,
		       struct store_compact_result *res, char *errmsg);

void store_get_stats(const struct store *s, struct store_stats *out);

/* ---- segment level (segment.c): formats and the scanner ---- */

/* Encode a record header for payload p/len into hdr. */
void store_rec_header(uint8_t hdr[STORE_REC_HDR_SIZE], uint8_t type, uint64_t key, uint32_t part,
		      const void *p, uint32_t len);
/* The same with the payload's crc32c given. */
void store_rec_header_crc(uint8_t hdr[STORE_REC_HDR_SIZE], uint8_t type, uint64_t key,
			  uint32_t part, uint32_t len, uint32_t crc);
void store_seg_header(uint8_t hdr[STORE_SEG_HDR_SIZE], uint32_t id);
/* Check a segment header; QSG_OK and *id, or a store_fault reason. */
int store_seg_header_check(const uint8_t *p, size_t len, uint32_t *id);

/* Scan the records of a segment image (buf = the whole file, header
 * included). For every valid record, rec(arg, type, key, part, off, len) is
 * called; for every bad region, fault(arg, off, len, reason). The result is
 * the offset where the valid data ends (the file should be cut there: what
 * follows is a torn tail, reported as STORE_FAULT_TORN_TAIL when non-empty).
 * Bad regions followed by valid records are corruption in the middle: the
 * scanner resynchronises on the next valid record header. Pure function of
 * the bytes (fuzzed by tests/fuzz/fuzz_store.c). */
struct store_scan_cb {
	void (*rec)(void *arg, uint8_t type, uint64_t key, uint32_t part, uint32_t off,
		    uint32_t len);
	void (*fault)(void *arg, uint32_t off, uint32_t len, int reason);
	void *arg;
};
size_t store_scan_image(const uint8_t *buf, size_t len, const struct store_scan_cb *cb);

/* Verify one record at the start of p (hdr + payload available in len
 * bytes). QSG_OK and the fields, or a store_fault reason. */
int store_rec_check(const uint8_t *p, size_t len, uint8_t *type, uint64_t *key, uint32_t *part,
		    uint32_t *plen);

/* ---- descriptors (desc.c) ---- */

/* The compact descriptor the state machine keeps per message. Everything
 * except `loc` is replicated and deterministic (same log, same descriptor on
 * every member) and goes into the encoding; `loc` is this member's business
 * and is never encoded. */
#define STORE_DESC_VERSION 1
#define STORE_DESC_SIZE 100 /* encoded size, version 1 */
#define STORE_ID_LEN 24
#define STORE_DF_PERSISTENT 0x0001
#define STORE_DF_CHUNKED 0x0002 /* body in nparts STORE_REC_CHUNK records */
#define STORE_DF_ALL 0x0003
struct store_desc {
	uint64_t seqno; /* group-wide message number: the store key */
	uint8_t msgid[STORE_ID_LEN];
	uint8_t correlid[STORE_ID_LEN];
	uint8_t priority; /* 0..9 */
	uint16_t flags; /* STORE_DF_* */
	int64_t expiry_ms; /* absolute, 0 = never */
	int64_t put_time_ms;
	uint32_t backout_count;
	uint32_t props_len;
	uint32_t body_len;
	uint32_t nparts; /* 1 unless STORE_DF_CHUNKED */
	uint32_t crc; /* crc32c of props then body: every member can verify */
	struct store_loc loc; /* member-local, not encoded */
};
/* Append the canonical encoding (STORE_DESC_SIZE bytes):
 *   u8 version, u8 priority, u16 flags, u64 seqno, id msgid, id correlid,
 *   i64 expiry_ms, i64 put_time_ms, u32 backout_count, u32 props_len,
 *   u32 body_len, u32 nparts, u32 crc, u32 reserved (0) */
void store_desc_encode(struct qsg_wbuf *w, const struct store_desc *d);
/* Decode exactly len bytes. QSG_RC_BAD_VERSION for an unknown version,
 * QSG_RC_BAD_FRAME for a wrong length or a value out of range (priority > 9,
 * unknown flags, reserved != 0, seqno 0, props > 64 KiB, body > 100 MiB,
 * nparts inconsistent with body_len and STORE_DF_CHUNKED). loc is zeroed. */
int store_desc_decode(const void *p, size_t len, struct store_desc *d, char *errmsg);
/* Number of chunks a body of body_len bytes takes (>= 1). */
uint32_t store_desc_parts(uint32_t body_len);

#endif
