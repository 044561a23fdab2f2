/* Who is connecting (docs/security.md "Authentication"): a client or admin
 * connection's HELLO credentials (user id and password) or its verified TLS
 * client certificate, checked against this member's replica of the user
 * table ([security] authentication = required | optional | none) or the
 * member's break-glass identity ([security] admin_user and
 * admin_password_hash). PBKDF2 runs in libuv's thread pool, never on the
 * loop; a refusal is answered after [security] fail_delay_ms (a uv timer)
 * with QSG_RC_NOT_AUTHORIZED and the same text whether the user is unknown
 * or the password wrong, and logged (QSG8010W: user and peer address, never
 * the password). The identity (user and groups) is what the authority
 * records are checked against (auth_authority, docs/security.md "Authority
 * records"). Loop thread only. */
#ifndef QSGD_AUTH_H
#define QSGD_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/codec.h"
#include "common/pwhash.h"
#include "fsm/fsm.h"

struct qlog;
struct qsgd_config;

enum auth_how {
	AUTH_ANONYMOUS = 0, /* no credentials, and none required */
	AUTH_PASSWORD = 1, /* a user of the group, by password */
	AUTH_CERT = 2, /* a user of the group named by the certificate's CN */
	AUTH_BREAKGLASS = 3, /* this member's [security] admin_user */
	AUTH_OFF = 4, /* authentication = none: not checked */
	AUTH_MAPPED = 5, /* a CHLAUTH rule's MCAUSER (authchl.h) */
};

/* The identity a connection keeps for its life. */
struct auth_id {
	uint8_t how; /* enum auth_how */
	char user[FSM_NAME_MAX + 1]; /* "" when anonymous */
	uint8_t ngroups;
	char groups[FSM_USER_GROUPS_MAX][FSM_NAME_MAX + 1];
	/* The user of the group that authenticated (password or certificate;
	 * kept when a CHLAUTH rule maps the connection to another user): ""
	 * otherwise. Deleting it ends the connection (authchl_refresh). */
	char authuser[FSM_NAME_MAX + 1];
	uint64_t gen; /* fsm_authrec_generation when user and groups were read */
};

/* Refusals remembered per source address (FAILDLAY per address): an
 * address whose last refusal is less than fail_delay_ms old has its next
 * checks started when that delay ends, and each refusal pushes its end
 * fail_delay_ms further, so reconnecting does not skip the delay. */
#define AUTH_FAIL_SLOTS 64
struct auth_fail {
	char host[64];
	uint64_t until; /* uv_now ms */
};

/* Log lines of channel authentication (authchl.c) in the current second. */
struct auth_loglimit {
	uint64_t window_ms;
	unsigned logged, dropped;
};

struct auth {
	uv_loop_t *loop;
	const struct qsgd_config *cfg;
	struct fsm *fsm; /* the replica's user table */
	struct qlog *log;
	bool breakglass; /* admin_password_hash given */
	struct pwhash admin_hash;
	struct pwhash dummy; /* an unknown user costs one PBKDF2 too */
	unsigned inflight;
	/* Refusals logged (QSG8015W) in the current second, and those not
	 * logged: at most AUTH_DENY_LOG_MAX lines a second. */
	uint64_t deny_window_ms;
	unsigned deny_logged, deny_dropped;
	struct auth_fail fail[AUTH_FAIL_SLOTS];
	unsigned fail_next;
	struct auth_loglimit chl_log;
};

#define AUTH_DENY_LOG_MAX 10

/* Parses the break-glass hash; logs the mode (QSG8012W for none). */
int auth_init(struct auth *a, uv_loop_t *loop, const struct qsgd_config *cfg, struct fsm *fsm,
	      struct qlog *log, char *errmsg);

/* What a HELLO brings. user/password: the HELLO's credentials (user.len 0:
 * none); cert_cn: the CN of the peer's verified certificate ("" none); tls:
 * the connection is TLS; peer: its address, for the log. */
struct auth_hello {
	struct qsg_slice user;
	struct qsg_slice password;
	const char *cert_cn;
	bool tls;
	const char *peer;
};

/* rc QSG_OK with the identity, or QSG_RC_NOT_AUTHORIZED (after the delay)
 * with the reply text. */
typedef void (*auth_done_cb)(void *arg, int rc, const struct auth_id *id, const char *text);

/* Check a HELLO; done is called exactly once, possibly before this
 * returns (nothing to hash), else from the loop later. The password is
 * copied (and wiped once hashed): h may go away when this returns. */
void auth_hello(struct auth *a, const struct auth_hello *h, auth_done_cb done, void *arg);

/* What id may do on object `name` of objtype (FSM_AUTHOBJ_*; QMGR: this
 * member's name) through this member (docs/security.md "Authority
 * records"): everything for AUTH_OFF (authentication = none), the
 * break-glass identity and members of [security] admin_group; otherwise
 * the replica's authority records (fsm_authority), an anonymous
 * connection as PRINCIPAL(ANONYMOUS) without groups. */
uint32_t auth_authority(struct auth *a, const struct auth_id *id, uint8_t objtype,
			const char *name);
/* The identity bypasses the records (see auth_authority). */
bool auth_bypass(const struct auth *a, const struct auth_id *id);
/* The user name the records know the identity by ("ANONYMOUS" for an
 * anonymous connection). */
const char *auth_principal(const struct auth_id *id);

/* A connection's cache of auth_authority answers, valid while the
 * records' generation (fsm_authrec_generation) is the same. */
#define AUTH_CACHE_SLOTS 4
struct auth_cache {
	uint64_t gen;
	unsigned next;
	struct {
		uint8_t objtype; /* 0: empty */
		uint32_t mask;
		char name[FSM_NAME_MAX + 1];
	} slot[AUTH_CACHE_SLOTS];
};
uint32_t auth_authority_cached(struct auth *a, struct auth_cache *c, const struct auth_id *id,
			       uint8_t objtype, const char *name);

/* Log a refusal: QSG8015W with the user, the peer, the authority missing
 * and the object, at most AUTH_DENY_LOG_MAX lines a second (the next line
 * says how many were not logged). */
void auth_denied(struct auth *a, const struct auth_id *id, const char *peer, uint32_t need,
		 uint8_t objtype, const char *name, const char *what);

/* The host part of a peer address as conn_peer writes it ("10.1.2.3:5000",
 * "[::1]:5000") into out[size]. */
void auth_peer_host(const char *peer, char *out, size_t size);

/* Fold a user name to the canonical form (upper case); false when it is
 * not 1..48 of the MQ name characters. out has FSM_NAME_MAX + 1 bytes. */
bool auth_user_fold(const char *s, size_t n, char *out);

#endif
