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
#include "log.h"

struct glue;
struct server;
struct batcher;
struct forward;
struct lease;
struct waiters;
struct chinit;
struct lifecycle;
struct qsgd_stats;

/* Completion of a submitted command. status: QSG_OK (applied; result/len is
 * the encoded fsm result, valid during the call only), QSG_RC_OUTCOME_UNKNOWN
 * (may or may not have been applied) or a code meaning "not applied"
 * (QSG_RC_NO_LEADER, QSG_RC_NOT_LEADER, QSG_RC_Q_MGR_STOPPING ...). */
typedef void (*qsgd_done_cb)(void *arg, int status, const void *result, size_t len);

/* One command on its way into the log. Owned by whichever module holds it;
 * qsgd_sub_complete() calls the callback and frees it. */
struct qsgd_sub {
	struct qsgd_sub *next; /* list link (pending, held, entry) */
	struct qsgd_sub *hnext; /* forward: reqid hash chain */
	uint8_t *cmd; /* encoded fsm command (owned) */
	size_t len;
	qsgd_done_cb cb;
	void *arg;
	uint64_t hold_deadline; /* uv_now() deadline while waiting for a leader; 0 = unset */
	uint32_t reqid; /* forward: reqid on the forwarding connection */
	bool leader_only; /* forwarded to us: never re-forward, answer NOT_LEADER */
	/* Commit latency (metrics.h): when submitted and where to record it
	 * (NULL: not recorded, e.g. commands forwarded to us). */
	uint64_t submit_ns; /* uv_hrtime() */
	struct qsgd_stats *stats;
};

/* A singly linked FIFO of subs. */
struct qsgd_subq {
	struct qsgd_sub *head;
	struct qsgd_sub *tail;
	size_t n;
};
void qsgd_subq_push(struct qsgd_subq *q, struct qsgd_sub *s);
struct qsgd_sub *qsgd_subq_pop(struct qsgd_subq *q);

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
};

void qsgd_core_init(struct qsgd *d, uv_loop_t *loop, const struct qsgd_config *cfg,
		    struct qlog *log);
/* Answer every held command QSG_RC_Q_MGR_STOPPING and close the hold timer. */
void qsgd_core_close(struct qsgd *d);

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

void qsgd_sub_complete(struct qsgd_sub *s, int status, const void *result, size_t len);

/* Wall-clock milliseconds (CLOCK_REALTIME). */
int64_t qsgd_wall_ms(void);

#endif
