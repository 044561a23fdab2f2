/* Metrics: the member's own counters (struct qsgd_stats) and the Prometheus
 * text exposition of /metrics, built from the local replica (fsm queries),
 * the Raft state (glue_info) and the counters. The catalogue is in
 * docs/observability.md.
 *
 * metrics_render() and metrics_ready() are pure functions of their input so
 * that they can be tested against a real struct fsm without a daemon. */
#ifndef QSGD_METRICS_H
#define QSGD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"
#include "raft-glue/glue.h"

struct fsm;
struct looplag_stats;

/* Commit latency histogram: upper bounds in microseconds (0.0005 s .. 2 s),
 * plus +Inf. */
#define QSGD_LAT_BUCKETS 12
extern const uint32_t qsgd_lat_bounds_us[QSGD_LAT_BUCKETS];

struct qsgd_stats {
	uint64_t commits_total; /* COMMIT requests answered OK by this member */
	uint64_t backouts_total; /* BACKOUT requests answered OK by this member */
	/* Submission to completion of every command this member submitted for
	 * its own clients and modules (not commands forwarded to it). */
	uint64_t lat_count;
	uint64_t lat_sum_us;
	uint64_t lat_bucket[QSGD_LAT_BUCKETS]; /* per bucket, not cumulative */
};

void qsgd_stats_init(struct qsgd_stats *s);
/* Hooks for the request handlers: a COMMIT / BACKOUT answered with QSG_OK. */
void qsgd_stats_commit(struct qsgd_stats *s);
void qsgd_stats_backout(struct qsgd_stats *s);
/* One command applied, us microseconds after it was submitted. */
void qsgd_stats_latency(struct qsgd_stats *s, uint64_t us);

/* The message store (src/qsgd/msgstore.h), as plain numbers. */
struct metrics_store {
	uint64_t segments, disk_bytes, live_bytes, dead_bytes, messages, missing;
	uint64_t cache_bytes, cache_hits, cache_misses;
	uint64_t appended_bytes, compacted_bytes, reclaimed_bytes;
	uint64_t faults, syncs, sync_failures;
	uint64_t slice_max_us; /* longest housekeeping slice since the last scrape */
	uint64_t fetched, fetched_bytes; /* catch-up from peers */
	/* segment index files (docs/storage.md, "Segment index files") */
	uint64_t index_loaded, index_scanned, index_written, index_failed;
};

/* The state machine's garbage collector (reaper.h). */
struct metrics_reaper {
	uint64_t pending; /* messages still to free (fsm_reap_pending) */
	uint64_t freed; /* messages freed since start */
	uint64_t slices; /* slices that freed something */
	uint64_t slice_max_ns; /* the longest slice */
};

struct metrics_input {
	struct fsm *fsm; /* the local replica */
	const struct glue_info *raft;
	uint32_t member_id; /* this member's Raft id */
	bool fenced; /* lease_fenced() */
	size_t connections; /* server_connections() */
	const struct qsgd_stats *stats;
	/* the loop-stall monitor (looplag.h); NULL: no qsg_loop_* series */
	const struct looplag_stats *loop;
	/* the message store; NULL: no qsg_store_* series */
	const struct metrics_store *store;
	/* the garbage collector; NULL: no qsg_reaper_* series */
	const struct metrics_reaper *reaper;
	/* this member's channel initiator as DISPLAY CHINIT shows it
	 * ("RUNNING", "STOPPED", "FAILED", "FENCED"); NULL: no qsg_chinit_*
	 * series */
	const char *chinit_status;
	uint64_t chinit_failures;
	/* Delta snapshots (snapdelta.h): snapshots written as a new base
	 * and as a delta, the base's raft index (0: none). */
	uint64_t snapshot_rebases, snapshot_deltas, snapshot_base_index;
};

/* Append the exposition (text format 0.0.4) to out. Returns QSG_OK or
 * QSG_RC_STORAGE_NOT_AVAILABLE. */
int metrics_render(const struct metrics_input *in, struct qsg_wbuf *out);

/* Readiness: a leader is known, this member is not fenced, and its applied
 * index is within METRICS_READY_LAG of the commit index. Returns true when
 * ready; otherwise false with the reason in reason (size bytes). */
#define METRICS_READY_LAG 100
bool metrics_ready(const struct glue_info *gi, bool fenced, char *reason, size_t size);

/* Prometheus label value escaping (\\, \" and \n) into dst; always
 * NUL-terminated, never cuts an escape. */
void metrics_label_escape(char *dst, size_t size, const char *src);

#endif
