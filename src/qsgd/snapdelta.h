/* Delta snapshots in qsgd (docs/storage.md "A base and deltas"): which
 * snapshot is a rebase (a full snapshot, written as the member's base
 * file too) and which a delta against the current base (format 12), and
 * the restore of either. [raft] snapshot_delta turns deltas on. */
#ifndef QSG_QSGD_SNAPDELTA_H
#define QSG_QSGD_SNAPDELTA_H

#include <stdbool.h>
#include <stdint.h>

#include "common/qsg_err.h"
#include "fsm/fsm.h"

/* A rebase when the delta would hold more than a quarter of the base's
 * messages, or more than SNAPDELTA_MAX_RECORDS records (about 64 MiB). */
#define SNAPDELTA_MAX_RECORDS (4u << 20)

struct snapdelta {
	const char *dir; /* the data directory (base files) */
	bool enabled;
	/* The base the next deltas name (have: written and fsync'ed). */
	struct fsm_baseref base;
	bool have;
	uint64_t prev; /* the base before it, kept (0: none) */
	/* The snapshot being taken (one at a time): set on the loop by
	 * snapdelta_prepare, used by snapdelta_payload in the pool, read
	 * back by snapdelta_done on the loop. */
	bool rebase;
	uint64_t index;
	int rc;
	struct fsm_baseref newbase;
	char errmsg[QSG_ERRMSG_SIZE];
	uint64_t rebases, deltas; /* statistics */
};

void snapdelta_init(struct snapdelta *d, const char *dir, bool enabled);
/* Whether the snapshot of f now is a rebase: a function of f and d only, so
 * the forked child (snapdelta_snapshot) and the loop right after the fork
 * (snapdelta_prepare) agree. */
bool snapdelta_rebase_due(const struct snapdelta *d, const struct fsm *f);
/* The snapshot of f (the forked child, or inline): full, or a delta. */
int snapdelta_snapshot(const struct snapdelta *d, struct fsm *f, struct qsg_wbuf *out);
/* Loop, right after the capture at index: a rebase starts the tracking. */
void snapdelta_prepare(struct snapdelta *d, struct fsm *f, uint64_t index);
/* Pool (or loop inline): the snapshot's bytes; a rebase writes them as the
 * base file. Non-zero fails the snapshot. */
int snapdelta_payload(struct snapdelta *d, const void *buf, size_t len);
/* Loop: the snapshot finished (ok or not). A new base replaces the old
 * (the two newest are kept); a failed rebase stops the tracking (the next
 * snapshot is a rebase again). */
void snapdelta_done(struct snapdelta *d, struct fsm *f, bool ok);
/* Decode a snapshot of any format into an image (fsm_restore_decode): a
 * delta with the base file of dir it names; a complete part file fetched
 * from a peer (DIR/base-<index>.qsb.part, catchup.c) is made durable,
 * checked and installed first. QSG_RC_UNKNOWN_OBJECT: this member lacks
 * that base (*want names it; a corrupt one fetched was deleted). Blocking
 * I/O: pool or startup. */
int snapdelta_decode(const char *dir, const void *buf, size_t len, struct fsm_image **img,
		     struct fsm_baseref *want, char *errmsg);

#endif
