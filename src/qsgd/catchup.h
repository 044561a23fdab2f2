/* Catch-up of message bodies (docs/catchup.md). A member that installed a
 * snapshot (wiped, new, far behind) holds descriptors whose bodies it does
 * not have: its bodystore lists them as missing. This module fetches them
 * from a peer by seqno (PROTO_FETCH on a member connection to the peer's
 * client listener, one request of up to CATCHUP_BATCH seqnos in flight) and
 * fills them into the bodystore; and it serves such requests from the local
 * bodystore (catchup_serve, called by server.c).
 *
 * The peer: the leader when this member is a follower; otherwise, or after
 * a pass over the missing set that fetched nothing, the next member in turn
 * (static member list, then the replicated member records). Failures and
 * passes without progress back off 1 s, doubling up to 10 s.
 *
 * Callers: main.c (init, kick after a restore, stats for /metrics, close)
 * and server.c (catchup_serve). Loop thread only; nothing here blocks
 * beyond one bounded reply (at most about PROTO_FETCH_CONTENT of reads or
 * writes to the message store). */
#ifndef QSGD_CATCHUP_H
#define QSGD_CATCHUP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/codec.h"
#include "daemon.h"

struct catchup;
struct proto_req;

#define CATCHUP_BATCH 1024 /* seqnos per FETCH request */
#define CATCHUP_TICK_MS 200 /* poll of the missing count */
#define CATCHUP_BACKOFF_MIN_MS 1000
#define CATCHUP_BACKOFF_MAX_MS 10000
#define CATCHUP_REQUEST_TIMEOUT_MS 30000

struct catchup_stats {
	uint64_t missing; /* bodies claimed but not held, now */
	uint64_t fetched; /* bodies filled from peers since start */
	uint64_t bytes; /* their content bytes */
	uint64_t requests; /* FETCH requests answered */
	uint64_t failures; /* connections or answers that failed */
	uint32_t peer; /* member asked now (0: none) */
	uint64_t base_bytes; /* base file bytes fetched since start */
	bool active; /* missing bodies are being fetched */
};

/* Starts the poll timer. d->bodies is read at every tick (the daemon may
 * set it after init; NULL: nothing to do). */
int catchup_init(struct catchup **out, struct qsgd *d, char *errmsg);
/* Close the connection and the timer; memory freed once libuv released
 * the handles. */
void catchup_close(struct catchup *cu);
/* Look at the missing set now, without back-off (after a restore). */
void catchup_kick(struct catchup *cu);
void catchup_stats(const struct catchup *cu, struct catchup_stats *out);

/* Server side: answer a decoded FETCH request from d->bodies (found = 0 for
 * every seqno when it is NULL) by appending the whole response frame to out.
 * Answers a prefix of the request: it stops before the content would pass
 * PROTO_FETCH_CONTENT. */
void catchup_serve(struct qsgd *d, const struct proto_req *req, struct qsg_wbuf *out);

/* Base files of delta snapshots (docs/catchup.md "Base files"). A snapshot
 * installed from the leader may be a delta against a base file this member
 * lacks (snapdelta_decode answers QSG_RC_UNKNOWN_OBJECT): catchup_want_base
 * (any thread: the restore's decode runs in the pool) asks for it; the
 * poll fetches it from a peer with FETCH_BASE in PROTO_BASE_CHUNK chunks,
 * each checked by its CRC32C, appended to DIR/base-<index>.qsb.part: an
 * interrupted fetch resumes at the part file's size. The restore's decode,
 * retried, finds the part file complete, checks and installs it
 * (snapdelta_decode). catchup_serve_base answers a FETCH_BASE from this
 * member's base files (QSG_RC_UNKNOWN_OBJECT: not that base). */
void catchup_want_base(struct catchup *cu, const struct fsm_baseref *ref);
void catchup_serve_base(struct qsgd *d, const struct proto_req *req, struct qsg_wbuf *out);

#endif
