/* The submission record: one command on its way into the log, its FIFO
 * queue, and its completion. A leaf: it calls nothing else in the daemon
 * (only metrics.h to record commit latency), so the submission path
 * (submit.c), the batcher and forwarding can all hold and complete
 * submissions without calling each other. Callers: submit.c, batcher.c,
 * forward.c (and, through daemon.h, anyone who names a struct qsgd_sub). */
#ifndef QSGD_SUBMISSION_H
#define QSGD_SUBMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* Put s at the head (it is popped next). */
void qsgd_subq_push_front(struct qsgd_subq *q, struct qsgd_sub *s);
struct qsgd_sub *qsgd_subq_pop(struct qsgd_subq *q);

/* Call s's callback (recording the commit latency on success) and free s. */
void qsgd_sub_complete(struct qsgd_sub *s, int status, const void *result, size_t len);

/* Wall-clock milliseconds (CLOCK_REALTIME). */
int64_t qsgd_wall_ms(void);

#endif
