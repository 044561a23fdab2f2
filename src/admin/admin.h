/* MQSC administration inside a member: parse one MQSC command, execute it
 * against the group (changes go through the log as fsm commands; DISPLAY
 * reads the member's own replica) and build the reply objects.
 *
 * The daemon provides a struct admin_env; the admin module never calls
 * libraft or the network itself. All calls on the loop thread. Callers:
 * qsgd's admin adapter and tests/unit/test_mqsc. Internals: admin_int.h
 * (admin.c dispatches; admin_queue.c, admin_chan.c, admin_display.c and
 * admin_member.c execute; admin_submit.c submits, admin_util.c replies),
 * the parser in mqsc.h. */
#ifndef QSG_ADMIN_H
#define QSG_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "fsm/fsm.h"
#include "proto/proto.h"

/* Completion of a command submitted to the group. status is the transport
 * outcome (QSG_OK, QSG_RC_OUTCOME_UNKNOWN, QSG_RC_NO_LEADER ...); when it is
 * QSG_OK, result/len is the encoded fsm result (see fsm_result_decode). */
typedef void (*admin_submit_cb)(void *cbarg, int status, const void *result, size_t len);

/* This member's own Raft view, for DISPLAY GROUP / QMSTATUS. */
struct admin_raft_info {
	uint8_t role; /* 0 unavailable, 1 follower, 2 candidate, 3 leader */
	uint64_t term;
	uint64_t commit_index;
	uint64_t applied_index;
	uint64_t last_index;
	uint64_t leader_id;
};

struct admin_raft_server {
	uint64_t id;
	char address[FSM_ADDR_MAX + 1]; /* Raft address */
	int voter; /* 1 voter, 0 standby/spare */
};

enum admin_lifecycle_op {
	ADMIN_LC_ADD = 1, /* add member `id` (name, raft, listen) as a voter */
	ADMIN_LC_REMOVE = 2, /* remove member `id` from the Raft configuration */
	ADMIN_LC_TRANSFER = 3, /* leadership to `id` (0: the best follower) */
	ADMIN_LC_STOP = 4, /* controlled stop of this member; refused when it
			    * would cost the group its quorum, unless force */
};

struct admin_lifecycle {
	int op; /* enum admin_lifecycle_op */
	uint32_t id;
	char name[FSM_NAME_MAX + 1];
	char raft[FSM_ADDR_MAX + 1];
	char listen[FSM_ADDR_MAX + 1];
	int force;
};

/* A member's channel initiator as DISPLAY CHINIT shows it. */
struct admin_chinit_info {
	const char *status; /* RUNNING, STOPPED, FAILED (restarts by itself), FENCED */
	uint64_t failures; /* failures of its own since the daemon started */
	uint64_t restart_in_ms; /* FAILED: time left before it restarts */
	char reason[128]; /* the last failure ("" = none) */
};

struct admin_env {
	void *arg;
	struct fsm *fsm; /* local replica (read-only use) */
	const char *qmgr_name;
	const char *group_name;
	uint32_t member_id;
	/* Submit one fsm command through the group (leader batcher or forward
	 * to the leader). Returns QSG_OK when cb will be called exactly once,
	 * or a reason code (cb not called). */
	int (*submit)(void *arg, const struct fsm_cmd *cmd, admin_submit_cb cb, void *cbarg);
	void (*raft_info)(void *arg, struct admin_raft_info *out);
	/* This member's channel initiator (START/STOP/DISPLAY CHINIT).
	 * start/stop are synchronous: QSG_OK or a reason code with errmsg. */
	int (*chinit_start)(void *arg, char *errmsg);
	int (*chinit_stop)(void *arg, char *errmsg);
	int (*chinit_running)(void *arg); /* 1 running, 0 not */
	/* Its state for DISPLAY CHINIT (NULL: RUNNING/STOPPED from
	 * chinit_running). */
	void (*chinit_info)(void *arg, struct admin_chinit_info *out);
	/* The member that should run a new channel instance, chosen by load
	 * among active members whose channel initiator runs, avoiding
	 * `exclude` when another is available; 0 = none available. */
	uint32_t (*pick_owner)(void *arg, uint32_t exclude);
	/* Group lifecycle (issue 5). raft_config: the Raft configuration as
	 * this member knows it (count returned, up to max filled). lifecycle:
	 * ADD/REMOVE MEMBER, TRANSFER LEADER, STOP QMGR; done is called exactly
	 * once (possibly before lifecycle returns) unless it returns non-OK. */
	size_t (*raft_config)(void *arg, struct admin_raft_server *out, size_t max);
	int (*lifecycle)(void *arg, const struct admin_lifecycle *req,
			 void (*done)(void *cbarg, int rc, const char *text), void *cbarg);
	/* DEFINE/ALTER USER PASSWORD (docs/security.md "Authentication"): a
	 * new random salt and the PBKDF2 hash of password (len bytes) with
	 * this member's iteration count, computed off the loop. done is
	 * called exactly once, later, with rc and the credential (scheme,
	 * iterations, salt, hash of *cred), unless it returns non-OK. The
	 * password is copied. NULL: passwords cannot be set through this
	 * member (DEFINE/ALTER USER PASSWORD answer FUNCTION_NOT_SUPPORTED). */
	int (*hash_password)(void *arg, const char *password, size_t len,
			     void (*done)(void *cbarg, int rc, const struct fsm_user *cred),
			     void *cbarg);
	/* REFRESH SECURITY TYPE(SSL) (docs/security.md "TLS on channels"):
	 * re-read this member's TLS key, certificate and CA into every
	 * context it has (client listener, member links, channels, Raft).
	 * QSG_OK or the first failure; text (size bytes) says what was
	 * reloaded or why not, per part. NULL: not supported here. */
	int (*refresh_tls)(void *arg, char *text, size_t size);
	/* Authority checks of the command's identity (docs/security.md
	 * "Authority records"); NULL: nothing is checked (authentication =
	 * none, the break-glass identity, tests). Set per command by the
	 * caller, in its own copy of the env. */
	const struct admin_authz *authz;
};

/* Who runs a command, as the admin module checks it. */
struct admin_authz {
	void *arg;
	/* The authorities (FSM_AUTH_*) the identity has on object `name` of
	 * objtype (FSM_AUTHOBJ_*; QMGR: name is the member's name). */
	uint32_t (*authority)(void *arg, uint8_t objtype, const char *name);
	/* A refusal, for the log (need: the authority missing). */
	void (*denied)(void *arg, uint32_t need, uint8_t objtype, const char *name,
		       const char *command);
	const char *user; /* for the reply's text */
};

/* Completion of admin_exec: rc is QSG_OK or the reason code of the failure;
 * text is a one-line message (never NULL; for MQSC-style output, e.g.
 * "QSG0008I: Queue QA defined." or the error); objects holds DISPLAY output
 * (zero objects for other commands). Both valid only during the call. */
typedef void (*admin_done_cb)(void *arg, int rc, const char *text,
			      struct proto_admin_writer *objects);

/* Execute one MQSC command (text need not be NUL-terminated). done is called
 * exactly once, possibly before admin_exec returns. */
void admin_exec(const struct admin_env *env, const char *text, size_t len, admin_done_cb done,
		void *arg);

#endif
