/* qsgd configuration: an INI file (inih) overridden by command-line flags.
 * See docs/operations.md for every key. */
#ifndef QSGD_CONFIG_H
#define QSGD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/qsg_err.h"
#include "fsm/fsm.h"

#define QSGD_MAX_MEMBERS 9
#define QSGD_PATH_MAX 1024
/* [raft] snapshot_mode (docs/operations.md, docs/storage.md). */
#define QSGD_SNAPSHOT_FORK 0
#define QSGD_SNAPSHOT_INLINE 1
/* [tls] verify and mode (docs/security.md). */
#define QSGD_TLS_VERIFY_REQUIRED 0 /* = TLS_VERIFY_REQUIRED of src/tls/tls.h */
#define QSGD_TLS_VERIFY_OPTIONAL 1
#define QSGD_TLS_VERIFY_NONE 2
#define QSGD_TLS_MODE_REQUIRED 0 /* the client listener accepts TLS only */
#define QSGD_TLS_MODE_OPTIONAL 1 /* TLS or plaintext, told by the first byte */
#define QSGD_TLS_CRL_LEAF 0 /* = TLS_CRL_LEAF: the peer's certificate */
#define QSGD_TLS_CRL_CHAIN 1 /* = TLS_CRL_CHAIN: and every CA of its chain */
/* [security] authentication (docs/security.md "Authentication"). */
#define QSGD_AUTH_NONE 0 /* no checks: the insecure demo mode (said in the log) */
#define QSGD_AUTH_OPTIONAL 1 /* credentials, when presented, must pass */
#define QSGD_AUTH_REQUIRED 2 /* every client and admin connection authenticates */
#define QSGD_HASH_TEXT_MAX 160 /* = PWHASH_TEXT_MAX */

struct qsgd_member_cfg {
	char name[FSM_NAME_MAX + 1];
	uint32_t id;
	char raft[FSM_ADDR_MAX + 1]; /* host:port */
	char listen[FSM_ADDR_MAX + 1]; /* host:port */
};

struct qsgd_config {
	/* [qmgr] */
	char name[FSM_NAME_MAX + 1];
	char group[FSM_NAME_MAX + 1];
	char dir[QSGD_PATH_MAX];
	int log_level; /* enum qlog_level */
	unsigned loop_warn_ms; /* QSG4008W above this iteration time; 0 = off (looplag.h) */
	/* [raft] */
	uint32_t id;
	char raft[FSM_ADDR_MAX + 1];
	unsigned election_timeout_ms;
	unsigned append_timeout_ms; /* [raft] a log write stalled this long: fail-stop */
	unsigned apply_budget_ms; /* [raft] a follower's apply per loop iteration (0: off) */
	unsigned heartbeat_ms;
	unsigned snapshot_threshold;
	unsigned snapshot_trailing;
	int snapshot_mode; /* [raft] snapshot_mode: QSGD_SNAPSHOT_FORK or _INLINE */
	bool snapshot_delta; /* [raft] snapshot_delta: base files and deltas */
	/* [listener] */
	char listen[FSM_ADDR_MAX + 1];
	/* [lease] */
	unsigned lease_ms;
	unsigned renew_ms;
	unsigned session_expiry_s;
	/* [http] "" = no HTTP listener (/metrics, /healthz, /readyz) */
	char http[FSM_ADDR_MAX + 1];
	/* [stomp] (docs/protocols.md): "" = no STOMP listener; max_prefetch
	 * bounds a subscription's prefetch-count (default 256). */
	char stomp[FSM_ADDR_MAX + 1];
	unsigned stomp_max_prefetch;
	/* [log] */
	int log_format; /* enum qlog_format */
	int join; /* [raft] join / --join: never bootstrap; wait to be added
		   * (docs/lifecycle.md) */
	/* [chinit] */
	int chinit_autostart; /* start the channel initiator with the member */
	/* [store] the message store (docs/storage.md) */
	unsigned store_cache_mb; /* body cache; default 256, 0 = none */
	unsigned store_segment_mb; /* segment file size; default 64 */
	unsigned store_compact_ratio; /* compact sealed segments below this % live; 50 */
	unsigned store_slice_ms; /* housekeeping time per loop iteration; 5 */
	unsigned store_write_buffer_kb; /* write-behind per loop iteration; 1024, 0 = off */
	unsigned store_bytes_per_sync_kb; /* start writeback every N KiB; 8192, 0 = off */
	/* [batch] */
	unsigned max_entry_bytes;
	unsigned max_inflight;
	/* not configurable in the file; fixed by the design */
	unsigned leader_wait_ms;
	unsigned expire_interval_ms;
	/* [tls] (docs/security.md): tls_enabled when the section is present.
	 * Member-to-member links (forwarding, catch-up) then use TLS too. */
	int tls_enabled;
	char tls_key[QSGD_PATH_MAX];
	char tls_cert[QSGD_PATH_MAX];
	char tls_ca[QSGD_PATH_MAX];
	int tls_verify; /* QSGD_TLS_VERIFY_* */
	int tls_mode; /* QSGD_TLS_MODE_* */
	unsigned tls_handshake_ms; /* a handshake taking longer is closed; 10000 */
	/* [tls] raft: Raft traffic in mutual TLS, peers checked against the
	 * member list (default yes; no: plaintext Raft). */
	int tls_raft;
	/* [tls] crl: PEM file of CRLs checked by every context ("" none);
	 * crl_check: QSGD_TLS_CRL_LEAF (default) or QSGD_TLS_CRL_CHAIN. */
	char tls_crl[QSGD_PATH_MAX];
	int tls_crl_check;
	/* [security] (docs/security.md "Authentication"): security_section
	 * when the section is present. */
	int security_section;
	int auth_mode; /* QSGD_AUTH_* */
	unsigned pbkdf2_iterations; /* hashes of DEFINE/ALTER USER; 100000 */
	unsigned fail_delay_ms; /* FAILDLAY: a refused authentication waits; 1000 */
	char admin_user[FSM_NAME_MAX + 1]; /* break-glass user, upper case; QSGADMIN */
	/* members of this group have every authority (docs/security.md
	 * "Authority records"); upper case; QSGADMIN */
	char admin_group[FSM_NAME_MAX + 1];
	char admin_password_hash[QSGD_HASH_TEXT_MAX]; /* "" = no break-glass password */
	/* [amqp] (docs/protocols.md "AMQP 1.0"): "" = no AMQP listener;
	 * idle_timeout_ms: the idle time-out the listener advertises (peers
	 * heart-beat at half of it; 0 none; default 60000). */
	char amqp[FSM_ADDR_MAX + 1];
	unsigned amqp_idle_ms;
	/* [member NAME] sections or --member flags (this member included). */
	unsigned n_members;
	struct qsgd_member_cfg members[QSGD_MAX_MEMBERS];
};

/* Defaults for every field. */
void qsgd_config_defaults(struct qsgd_config *c);

/* Load `-f FILE` (if given), apply the flags on top, validate. Returns QSG_OK,
 * QSG_RC_CONFIG (errmsg says why) or QSG_RC_INVALID with errmsg "help" when
 * --help was asked for. */
int qsgd_config_load(struct qsgd_config *c, int argc, char **argv, char *errmsg);

/* Parse an INI file into c (no validation). */
int qsgd_config_load_file(struct qsgd_config *c, const char *path, char *errmsg);

/* Check the whole configuration; fills in a group of one if no members. */
int qsgd_config_validate(struct qsgd_config *c, char *errmsg);

const struct qsgd_member_cfg *qsgd_config_member(const struct qsgd_config *c, uint32_t id);

void qsgd_usage(FILE *out);

#endif
