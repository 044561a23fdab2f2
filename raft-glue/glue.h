/* raft-glue: everything that calls libraft lives here, behind this API.
 *
 * A `struct glue` is one Raft server of one structure, driven by the caller's
 * libuv loop (libraft's uv backend: O_DIRECT + kernel AIO segments, LZ4
 * snapshots). The state machine is passed in as `struct glue_sm`; the glue
 * adapts it to libraft's raft_fsm.
 *
 * Threading: every function must be called from the loop thread. */
#ifndef QSG_GLUE_H
#define QSG_GLUE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../src/common/codec.h"
#include "../src/common/qsg_err.h"

/* The state machine as the glue sees it. */
struct glue_sm {
	void *data;
	/* Apply one entry. results == NULL when nobody waits for them. Must be
	 * deterministic. A non-zero return is a fatal state-machine error. */
	int (*apply)(void *data, const void *buf, size_t len, struct qsg_wbuf *results);
	/* Canonical encoding of the whole state. In GLUE_SNAPSHOT_FORK mode
	 * it runs in a forked child of the member (raft-glue/snapfork.c): it
	 * must stay pure (no I/O, no locks but malloc's, no threads, no
	 * libuv). */
	int (*snapshot)(void *data, struct qsg_wbuf *out);
	int (*restore)(void *data, const void *buf, size_t len);
	/* Optional hooks for a state machine whose content lives outside it
	 * (the message store, docs/storage.md); NULL in tests.
	 * applying: the entry handed to the next apply has Raft index `index`.
	 * snap_prepare (loop): a snapshot of the state at `index` is being
	 *   captured; return the work that makes the side data durable up to
	 *   it (a sync job), or NULL when there is none. May not fail: a
	 *   failure to prepare is reported by snap_sync.
	 * snap_sync (thread pool in FORK mode, loop in INLINE mode): do that
	 *   work. Runs before libraft receives the snapshot; non-zero fails
	 *   the snapshot (libraft retries later).
	 * snap_done (loop): the snapshot was finalized; ok when its capture
	 *   and sync succeeded (libraft 0.15 does not tell whether it was then
	 *   persisted). Always called once for each snap_prepare. */
	void (*applying)(void *data, uint64_t index);
	void *(*snap_prepare)(void *data, uint64_t index);
	int (*snap_sync)(void *job);
	void (*snap_done)(void *data, void *job, uint64_t index, bool ok);
	/* Optional (needs snap_prepare): the snapshot's bytes, after
	 * snap_sync succeeded and before libraft receives them (thread pool
	 * in FORK mode, loop in INLINE mode); non-zero fails the snapshot.
	 * qsgd writes a delta snapshot's base file here (docs/storage.md "A
	 * base and deltas"). */
	int (*snap_payload)(void *data, const void *buf, size_t len);
	/* Optional, all four or none: a snapshot received from the leader is
	 * restored off the loop (raft-glue/arestore.c, docs/storage.md
	 * "Restore off the loop"); FORK mode only, and not at glue_start
	 * (libraft restores the local snapshot before the loop runs).
	 * restore_decode (thread pool): decode buf (valid during the call)
	 *   into an image; must not touch the live state. NULL with *rc and
	 *   errmsg set on failure (then fatal: the snapshot was accepted),
	 *   except *rc = QSG_RC_BUSY: not yet (qsgd: a delta snapshot's base
	 *   file is being fetched), asked again 200 ms later with the same
	 *   buffer, entries queued meanwhile.
	 * restore_install (loop): make the image the state, quickly; the
	 *   previous state comes back in *old (or NULL). Non-zero is fatal.
	 * restore_step (loop): the rest of the install, a slice per call;
	 *   true when done. Nothing is applied until it is.
	 * restore_discard (any thread): free an image or an old state. */
	void *(*restore_decode)(void *data, const void *buf, size_t len, int *rc, char *errmsg);
	int (*restore_install)(void *data, void *image, void **old, char *errmsg);
	bool (*restore_step)(void *data);
	void (*restore_discard)(void *data, void *image);
};

struct glue_server {
	uint64_t id;
	char address[128]; /* Raft address host:port */
};

#define GLUE_MAX_SERVERS 9

/* How a snapshot captures the state (docs/storage.md, "fork capture").
 * FORK: the loop only forks; a child encodes a copy-on-write image and the
 * thread pool collects it (raft_fsm version 3). INLINE: the loop encodes the
 * whole state (raft_fsm version 2; the raft_fixture adapter always does). */
enum glue_snapshot_mode { GLUE_SNAPSHOT_FORK = 0, GLUE_SNAPSHOT_INLINE = 1 };

/* TLS on Raft traffic (raft-glue/rtls.c, docs/security.md "TLS on Raft
 * traffic"): mutual TLS between members, the peer's certificate CN checked
 * against the member name of its Raft id. Both ends must have it. */
#define GLUE_TLS_NAME_SIZE 64
struct glue_tls {
	const char *key_file; /* this member's key and certificate (PEM) */
	const char *cert_file; /* CN = this member's name */
	const char *ca_file; /* the members' certificates chain to it (required) */
	const char *crl_file; /* PEM CRLs checked on every link (NULL: none) */
	int crl_check; /* enum tls_crl_check: 0 leaf, 1 chain */
	unsigned handshake_ms; /* TLS handshake and preamble; 0 = 10000 */
	/* The member name of a Raft id, which the certificate of the server
	 * with that id must have as its CN; false when the id is no member
	 * (then its connections are refused). Called on the loop for every
	 * connection made or accepted. */
	bool (*member_name)(void *arg, uint64_t id, char *name, size_t size);
	/* A Raft connection refused or failed (one line of text, for the
	 * daemon's log); may be NULL. */
	void (*refused)(void *arg, const char *text);
	/* The same for a peer refused because a CRL lists its certificate;
	 * NULL: refused is called. */
	void (*revoked)(void *arg, const char *text);
	void *arg;
};

struct glue_config {
	uint64_t id; /* this server's Raft id (>0) */
	const char *address; /* this server's Raft address host:port */
	const char *dir; /* data directory (exists, locked by caller) */
	unsigned n_servers; /* initial configuration for bootstrap */
	struct glue_server servers[GLUE_MAX_SERVERS];
	unsigned election_timeout_ms; /* default 1000 */
	unsigned heartbeat_ms; /* default 100 */
	unsigned snapshot_threshold; /* entries between snapshots; default 8192 */
	unsigned snapshot_trailing; /* entries kept after a snapshot; default 2048 */
	bool snapshot_compress; /* LZ4; default true */
	int snapshot_mode; /* enum glue_snapshot_mode; default (0) FORK */
	/* Join mode: never bootstrap. The server starts with no configuration
	 * (n_servers may be 0 and servers[] is ignored) and waits for the
	 * leader of an existing group to add it (glue_add on the leader); it
	 * then receives the configuration, and the state as a snapshot or as
	 * log entries. A directory that already holds Raft state starts from
	 * that state either way. */
	bool join;
	/* A log append that has not completed after this long is a storage
	 * fault (fail-stop); 0 = the default, 5000 ms. */
	unsigned append_timeout_ms;
	/* A follower's state machine applies at most this long per loop
	 * iteration; the rest of what libraft commits at once waits in a queue
	 * and is applied in 5 ms slices (fsm_adapter.h). 0 = off. Needs the
	 * asynchronous restore hooks (glue_sm.restore_decode...), whose queue
	 * it uses. */
	unsigned apply_budget_ms;
	/* NULL: Raft traffic in plaintext (libraft's TCP transport). Else
	 * TLS (copied at glue_init; the callbacks must outlive the glue). */
	const struct glue_tls *tls;
};

enum glue_role {
	GLUE_UNAVAILABLE = 0,
	GLUE_FOLLOWER = 1,
	GLUE_CANDIDATE = 2,
	GLUE_LEADER = 3,
};

struct glue_info {
	uint8_t role; /* enum glue_role */
	uint64_t term;
	uint64_t commit_index;
	uint64_t applied_index;
	uint64_t last_index;
	uint64_t leader_id; /* 0 when unknown */
	char leader_address[128];
	/* Snapshots taken by this server since it started. */
	uint64_t snapshots;
	uint64_t snapshot_last_bytes; /* encoded state of the last one */
	uint64_t snapshot_last_us; /* time to encode the last one */
	/* Time the loop thread spent capturing the last one: the fork() in
	 * FORK mode, the whole encode in INLINE mode. */
	uint64_t snapshot_last_loop_us;
	uint64_t snapshot_failures; /* captures that failed (FORK mode) */
	/* libraft's io_destroy calls moved off the loop (aiodefer.h) */
	uint64_t aio_destroy_deferred;
	uint64_t aio_destroy_max_us; /* the longest of them, in the thread */
	uint64_t apply_deferrals; /* a follower's apply budget ran out */
	/* libraft's frees made by raft-glue's background thread (rheap.h). */
	uint64_t raft_frees_deferred;
	uint64_t raft_frees_max_queued; /* the most waiting at once */
	uint64_t raft_frees_max_batch_us; /* the longest batch, in the thread */
	/* Snapshots from the leader restored off the loop (arestore.c): how
	 * many, the last one's time from receipt to the end of its install,
	 * and whether one is in progress now (its decode, install steps or
	 * the committed entries queued meanwhile). */
	uint64_t restores_async;
	uint64_t restore_last_us;
	bool restoring;
	uint64_t restore_queued_max; /* entries queued during one restore */
};

/* One server of the Raft configuration as this server knows it. */
enum glue_member_role { GLUE_STANDBY = 0, GLUE_VOTER = 1, GLUE_SPARE = 2 };
struct glue_member {
	uint64_t id;
	char address[128];
	int role; /* enum glue_member_role */
};

/* Completion of glue_submit. status: QSG_OK (committed and applied; results
 * holds one result per command, owned by the glue, valid during the call),
 * QSG_RC_OUTCOME_UNKNOWN (leadership lost or shutdown after submission: the
 * entry may or may not have committed), or another code (not submitted:
 * QSG_RC_NOT_LEADER, QSG_RC_STORAGE_NOT_AVAILABLE ...). */
typedef void (*glue_apply_cb)(void *arg, int status, const struct qsg_wbuf *results);

/* Role changes and fatal errors. */
typedef void (*glue_role_cb)(void *arg, int old_role, int new_role);
typedef void (*glue_fatal_cb)(void *arg, const char *msg);

struct glue; /* opaque */

int glue_init(struct glue **out, uv_loop_t *loop, const struct glue_config *cfg,
	      const struct glue_sm *sm, char *errmsg);
/* Bootstrap (when the directory holds no Raft state) and start. */
int glue_start(struct glue *g, char *errmsg);
void glue_set_role_cb(struct glue *g, glue_role_cb cb, void *arg);
/* Called once if the server becomes RAFT_UNAVAILABLE (I/O fault): the daemon
 * must fail-stop (exit non-zero). */
void glue_set_fatal_cb(struct glue *g, glue_fatal_cb cb, void *arg);

/* Leader only: replicate one entry (buf is copied). On a non-leader returns
 * QSG_RC_NOT_LEADER without calling cb. Otherwise cb is called exactly once. */
int glue_submit(struct glue *g, const void *buf, size_t len, glue_apply_cb cb, void *arg);

bool glue_is_leader(struct glue *g);
void glue_get_info(struct glue *g, struct glue_info *info);
/* Leadership transfer to `to` (0: pick the most up-to-date follower). */
int glue_transfer(struct glue *g, uint64_t to, char *errmsg);

/* The current Raft configuration: fills up to max, returns the count. */
size_t glue_get_config(struct glue *g, struct glue_member *out, size_t max);

/* Membership changes, leader only (else QSG_RC_NOT_LEADER, cb not called).
 * glue_add adds `id` at `address` and makes it a voter once it has caught
 * up; glue_remove removes it. cb is called exactly once with QSG_OK, a
 * reason code, or QSG_RC_OUTCOME_UNKNOWN (leadership lost meanwhile). */
typedef void (*glue_change_cb)(void *arg, int status, const char *text);
int glue_add(struct glue *g, uint64_t id, const char *address, glue_change_cb cb, void *arg);
/* TLS on Raft: `id` is the member `name` (its certificate's CN), for a
 * member being added online whose replicated record does not exist yet
 * (call before glue_add). Nothing without TLS. */
void glue_tls_member(struct glue *g, uint64_t id, const char *name);
int glue_remove(struct glue *g, uint64_t id, glue_change_cb cb, void *arg);
/* TLS on Raft: re-read the key, certificate and CA (rtls_reload; REFRESH
 * SECURITY TYPE(SSL)). QSG_OK and *on false when Raft is not TLS. */
int glue_tls_reload(struct glue *g, bool *on, char *errmsg);

/* Stop: in-flight submissions complete with QSG_RC_OUTCOME_UNKNOWN; cb runs
 * when libraft has released everything, then the glue memory is freed. */
void glue_close(struct glue *g, void (*cb)(void *arg), void *arg);

/* Adapter for tests and the simulator: wrap a glue_sm into a libraft
 * struct raft_fsm (for raft_fixture). Results of an apply are handed to the
 * raft_apply callback as a struct qsg_wbuf * (owned by the adapter, valid
 * during the callback). */
struct raft_fsm;
int glue_fsm_adapter_init(struct raft_fsm *fsm, const struct glue_sm *sm);
void glue_fsm_adapter_close(struct raft_fsm *fsm);

#endif
