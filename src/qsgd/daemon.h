/* The member daemon: the pieces wired together by main.c, and the one
 * submission path every command takes on its way into the log.
 *
 *   client/admin/lease --> qsgd_submit --> leader?   batcher (group commit)
 *                                      --> follower? forward (to the leader)
 *                                      --> neither?  held up to leader_wait_ms,
 *                                                    then QSG_RC_NO_LEADER
 *
 * Everything runs on the one loop thread. */
#ifndef QSGD_DAEMON_H
#define QSGD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/codec.h"
#include "common/qsg_err.h"
#include "config.h"
#include "fsm/fsm.h"
#include "gtime.h"
#include "log.h"
#include "submission.h"

struct glue;
struct server;
struct batcher;
struct forward;
struct lease;
struct waiters;
struct chinit;
struct lifecycle;
struct qsgd_stats;
struct bodystore;
struct looplag;

/* What the batcher, forwarding and leases need from the rest of the daemon:
 * the submission path (submit.c), raft-glue and the listeners. They call
 * through this table instead of by name, so that they neither form an import
 * circle with submit.c nor need raft or the listeners in their unit tests.
 * main.c sets d->ops = &qsgd_live_ops (wiring.c); tests set fakes. */
struct qsgd;
struct glue_info;
struct glue_member;
struct qsgd_ops {
	/* The submission path: qsgd_route, qsgd_hold, qsgd_hold_retry,
	 * qsgd_submit. */
	void (*route)(struct qsgd *d, struct qsgd_sub *s);
	void (*hold)(struct qsgd *d, struct qsgd_sub *s);
	void (*hold_retry)(struct qsgd *d);
	int (*submit)(struct qsgd *d, const struct fsm_cmd *cmd, qsgd_done_cb cb, void *arg);
	/* raft-glue: glue_is_leader, glue_submit, glue_get_info,
	 * glue_get_config. */
	bool (*is_leader)(struct qsgd *d);
	int (*append)(struct qsgd *d, const void *buf, size_t len,
		      void (*cb)(void *arg, int status, const struct qsg_wbuf *results), void *arg);
	void (*info)(struct qsgd *d, struct glue_info *info);
	size_t (*config)(struct qsgd *d, struct glue_member *out, size_t max);
	/* This member stops (or resumes) serving: the client listener and,
	 * when channels is true, the channel initiator (server_set_fenced,
	 * chinit_set_fenced). */
	void (*set_fenced)(struct qsgd *d, bool fenced, bool channels);
};
extern const struct qsgd_ops qsgd_live_ops;

struct qsgd {
	uv_loop_t *loop;
	const struct qsgd_config *cfg;
	struct qlog *log;
	struct fsm *fsm;
	struct glue *glue;
	struct server *server;
	struct batcher *batcher;
	struct forward *forward;
	struct lease *lease;
	struct waiters *waiters;
	struct chinit *chinit; /* channel initiator */
	/* Commands waiting for a leader. */
	struct qsgd_subq held;
	uv_timer_t hold_timer;
	bool stopping;
	uint64_t notify_gen; /* bumped by every fsm notification */
	/* Group lifecycle (lifecycle.h): controlled stop, leadership transfer,
	 * membership changes. request_stop is the daemon's orderly stop (main.c
	 * sets it; lifecycle calls it for STOP QMGR once leadership has moved);
	 * NULL: STOP QMGR is refused. */
	struct lifecycle *lifecycle;
	void (*request_stop)(struct qsgd *d, const char *why);
	/* Fail-stop at once (exit 70), as after a Raft I/O fault. */
	void (*fatal)(struct qsgd *d, const char *why);
	struct qsgd_stats *stats; /* counters for /metrics (metrics.h); may be NULL */
	/* This member's message store (src/store/bodystore.h), set by main.c;
	 * NULL: none (catch-up answers found = 0 and fetches nothing). */
	struct bodystore *bodies;
	/* The loop-stall monitor (looplag.h), set by main.c; may be NULL.
	 * Modules charge their heavy callbacks to it. */
	struct looplag *looplag;
	const struct qsgd_ops *ops; /* see struct qsgd_ops */
	/* [tls] (tlsstream.h), set by main.c; NULL: no TLS anywhere. */
	struct tlsstream_cfg *tls;
	/* The command level this member reports (MEMBER_LEVEL, lease.c):
	 * FSM_CMDLEVEL; main.c takes QSG_TEST_CMDLEVEL from the environment
	 * in tests, to stand for a member of an older build. */
	unsigned cmdlevel;
	/* The group's time as this member stamps entries and judges leases
	 * when it leads (gtime.h): qsgd_group_ms. */
	struct gtime gtime;
};

/* The group's time now (gtime.h): at least this member's wall clock and the
 * last applied entry's time, running on from the highest time seen. */
int64_t qsgd_group_ms(struct qsgd *d);

void qsgd_core_init(struct qsgd *d, uv_loop_t *loop, const struct qsgd_config *cfg,
		    struct qlog *log);
/* Answer every held command QSG_RC_Q_MGR_STOPPING and close the hold timer. */
void qsgd_core_close(struct qsgd *d);

/* QSG_RC_FUNCTION_NOT_SUPPORTED when cmd needs a higher command level than
 * the group's, as this member's replica knows it (fsm_cmd_level,
 * fsm_group_cmdlevel); QSG_OK otherwise. MEMBER_LEVEL, which raises the
 * level, always passes. qsgd_submit checks it; the leader checks every
 * command forwarded to it again. */
int qsgd_level_check(struct qsgd *d, const struct fsm_cmd *cmd);
/* Encode and submit one command. Returns QSG_OK when cb will be called
 * exactly once (possibly later), or a reason code (cb not called). */
int qsgd_submit(struct qsgd *d, const struct fsm_cmd *cmd, qsgd_done_cb cb, void *arg);
/* Submit an already encoded command (copied). */
int qsgd_submit_raw(struct qsgd *d, const void *cmd, size_t len, bool leader_only, qsgd_done_cb cb,
		    void *arg);

/* The submission path for a sub that is not (or no longer) queued anywhere. */
void qsgd_route(struct qsgd *d, struct qsgd_sub *s);
/* Park a sub until a leader is reachable (keeps its first deadline). */
void qsgd_hold(struct qsgd *d, struct qsgd_sub *s);
/* A leader may have become reachable: re-route held commands now. */
void qsgd_hold_retry(struct qsgd *d);

#endif
