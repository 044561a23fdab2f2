/* libqsg: the C client library of a qsg queue-sharing group.
 *
 * A qsg_conn is a connection to the group: libqsg talks to one member at a
 * time and moves to another one (round-robin over the connection list) when
 * the member fails, stops, loses its lease or the group changes leader. Puts
 * outside syncpoint are exactly-once across such reconnects (idempotent
 * producer); see docs/client.md for the exact rules.
 *
 * Return values: every function returning int returns QSG_OK (0) or a reason
 * code from qsg_err.h (MQ numbers where MQ has one). After a failure,
 * qsg_last_error() has a readable explanation.
 *
 * Thread-safety: a qsg_conn may be used from several threads; a mutex inside
 * serialises the calls. The synchronous calls (qsg_put, qsg_get, ...) send
 * one request and wait for its reply; the asynchronous ones (qsg_put_async,
 * qsg_consume, below) keep many requests in flight on one connection.
 * qsg_disconnect must not race with other calls on the same connection.
 *
 * Threading model of the asynchronous calls: libqsg has no thread of its
 * own. Everything happens on the caller's thread, inside libqsg calls on
 * the connection: replies are read, lost connections re-established and
 * the window re-sent, and callbacks run, in qsg_dispatch, qsg_flush,
 * qsg_stat, qsg_put_async (when it waits for room in the window, and for
 * the replies already there when it writes puts held back for 1 ms or
 * 64 KiB) and before qsg_commit / qsg_backout / a synchronous put.
 * Callbacks run with the connection's (recursive) mutex
 * held, one at a time, never nested: a callback may call any qsg_* function
 * on the connection except qsg_disconnect (callbacks that become due
 * meanwhile run after it returns). For an event loop, ask for qsg_fd(c)
 * before each poll (it also writes the requests libqsg holds back, see
 * qsg_put_async), poll it for input and call qsg_dispatch(c, 0) when it is
 * readable and every few hundred milliseconds (timeouts, reconnects); the
 * descriptor changes after a reconnect.
 *
 * Memory: every pointer argument is borrowed for the duration of the call
 * only, unless stated otherwise. */
#ifndef QSG_QSG_H
#define QSG_QSG_H

#include <stddef.h>
#include <stdint.h>

#include "qsg_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QSG_ID_LEN 24 /* MsgId / CorrelId length */
#define QSG_Q_NAME_MAX 48

typedef struct qsg_conn qsg_conn;

/* Priority: 0..9, or "as the queue's DEFPRTY". */
#define QSG_PRI_AS_Q_DEF (-1)

/* Persistence of a put message. */
enum qsg_persistence {
	QSG_PERSISTENCE_AS_Q_DEF = -1, /* the queue's DEFPSIST */
	QSG_NOT_PERSISTENT = 0,
	QSG_PERSISTENT = 1,
};

/* Message descriptor. Initialise with QSG_MD_DEFAULT (or qsg_md_init). */
struct qsg_md {
	/* put: in (unless QSG_PMO_NEW_MSG_ID), out: the message's id (all
	 *      zero when a put was resolved after a reconnect without a reply,
	 *      see docs/client.md);
	 * get: in with QSG_GMO_MATCH_MSGID; out: the message's id. */
	uint8_t msgid[QSG_ID_LEN];
	/* put: in; get: in with QSG_GMO_MATCH_CORRELID; out. */
	uint8_t correlid[QSG_ID_LEN];
	int priority; /* put: 0..9 or QSG_PRI_AS_Q_DEF; get: out */
	int persistence; /* put: enum qsg_persistence; get: out (0/1) */
	int64_t expiry_ms; /* put: time to live in ms, 0 = unlimited;
			    * get: out, absolute expiry (ms since the epoch), 0 = never */
	int64_t put_time_ms; /* get: out, ms since the epoch */
	uint32_t backout_count; /* get: out */
	uint64_t seqno; /* get: out, group-wide message number */
};

#define QSG_MD_DEFAULT                                                                             \
	{                                                                                          \
		.priority = QSG_PRI_AS_Q_DEF, .persistence = QSG_PERSISTENCE_AS_Q_DEF              \
	}
void qsg_md_init(struct qsg_md *md);

/* Put options. */
#define QSG_PMO_SYNCPOINT 0x0001 /* put inside the connection's unit of work */
#define QSG_PMO_NEW_MSG_ID 0x0002 /* the group generates the msgid */

/* Get options. */
#define QSG_GMO_SYNCPOINT 0x0001 /* get inside the unit of work */
#define QSG_GMO_MATCH_MSGID 0x0008 /* only a message with md->msgid */
#define QSG_GMO_MATCH_CORRELID 0x0010 /* only a message with md->correlid */

/* Wait values for qsg_get. */
#define QSG_WAIT_NONE 0
#define QSG_WAIT_FOREVER (-1)

/* Connect to the group. conn_list: "host:port[,host:port...]"; NULL means
 * the QSG_CONN environment variable. app_name (may be NULL) is informational.
 * Tries the members in turn; on success *conn is a new connection (free it
 * with qsg_disconnect). errmsg (may be NULL) gets QSG_ERRMSG_SIZE bytes of
 * explanation on failure. The reconnect timeout (default 30 s) comes from
 * QSG_RECONNECT_TIMEOUT (seconds) when set. */
int qsg_connect(const char *conn_list, const char *app_name, qsg_conn **conn, char *errmsg);

/* qsg_connect with credentials (docs/client.md "Credentials"): user and
 * password are sent in the HELLO of this connection and of every
 * reconnection. user NULL: from the environment, QSG_USER with
 * QSG_PASSWORD or QSG_PASSWORD_FILE (a file of mode 0600 or stricter owned
 * by this user; one trailing newline is dropped); no QSG_USER: none
 * (anonymous, or the identity of the client certificate). qsg_connect is
 * qsg_connect_as(conn_list, app_name, NULL, NULL, ...). A refusal is
 * QSG_RC_NOT_AUTHORIZED (2035). */
int qsg_connect_as(const char *conn_list, const char *app_name, const char *user,
		   const char *password, qsg_conn **conn, char *errmsg);

/* Read a password file as QSG_PASSWORD_FILE does (refused unless it is a
 * regular file owned by this user with no group or other permission; at
 * most size - 1 bytes, one trailing newline dropped). QSG_OK or
 * QSG_RC_INVALID with errmsg. */
int qsg_read_password_file(const char *path, char *buf, size_t size, char *errmsg);

/* Close the connection (an open unit of work is backed out by the group)
 * and free it. NULL is allowed. */
void qsg_disconnect(qsg_conn *c);

/* How long an operation keeps trying other members before it gives up
 * (milliseconds, >= 0). */
int qsg_set_reconnect_timeout(qsg_conn *c, int timeout_ms);

/* Open / close a queue handle (kept across reconnects by libqsg). Opening
 * is optional for put/get; it fails with QSG_RC_UNKNOWN_OBJECT early. */
int qsg_open(qsg_conn *c, const char *queue);
int qsg_close(qsg_conn *c, const char *queue);

/* Put one message of len bytes (len <= the queue's MAXMSGL). md may be NULL
 * (defaults); md->msgid is updated. options: QSG_PMO_*. */
int qsg_put(qsg_conn *c, const char *queue, struct qsg_md *md, const void *body, size_t len,
	    int options);

/* Get (destructively) one message. md: in (match ids) and out, may be NULL
 * when no match option is set. wait_ms: QSG_WAIT_NONE, a time in ms, or
 * QSG_WAIT_FOREVER. On success *body is a malloc'd buffer of *len bytes
 * owned by the caller (free it with qsg_free; NULL when len is 0).
 * QSG_RC_NO_MSG_AVAILABLE when nothing matched within the wait.
 * A get outside syncpoint whose reply is lost returns
 * QSG_RC_OUTCOME_UNKNOWN: use QSG_GMO_SYNCPOINT for exactly-once. */
int qsg_get(qsg_conn *c, const char *queue, struct qsg_md *md, int options, int wait_ms,
	    void **body, size_t *len);

/* Browse cursor: zero-initialise to start from the first message; each
 * successful qsg_browse moves it past the message returned. */
struct qsg_browse_cursor {
	uint8_t priority;
	uint64_t seqno;
};

/* Browse (non-destructively) the next message after the cursor, in get
 * order (priority, then arrival). options: QSG_GMO_MATCH_*. Body as qsg_get.
 * QSG_RC_NO_MSG_AVAILABLE at the end. */
int qsg_browse(qsg_conn *c, const char *queue, struct qsg_browse_cursor *cursor, struct qsg_md *md,
	       int options, void **body, size_t *len);

/* Commit / back out the connection's unit of work. */
int qsg_commit(qsg_conn *c);
int qsg_backout(qsg_conn *c);

/* MQSC administration: send one MQSC command (e.g. "DISPLAY QLOCAL(*)").
 * cb (may be NULL) is called once per reply object with nattrs NUL-terminated
 * name/value pairs, valid during the call only; a non-zero return stops the
 * walk. The reply's text (may be empty) is copied into text (textlen bytes,
 * NUL-terminated; text may be NULL). Returns the reply's reason code. Admin
 * commands are not deduplicated: if the connection is lost while one is in
 * flight, libqsg reconnects and returns QSG_RC_OUTCOME_UNKNOWN. */
typedef int (*qsg_admin_obj_cb)(void *arg, size_t nattrs, const char *const *names,
				const char *const *values);
int qsg_admin(qsg_conn *c, const char *command, qsg_admin_obj_cb cb, void *arg, char *text,
	      size_t textlen);

/* ---- Asynchronous put (docs/client.md, "Asynchronous put and consume") ----
 *
 * qsg_put_async checks and copies the message, sends it and returns
 * without waiting for the reply; at most `window` puts are unanswered per
 * connection (qsg_put_async waits for room). Every put keeps the
 * exactly-once guarantee of qsg_put: after a lost connection libqsg
 * reconnects, learns from HELLO which puts were applied and sends the
 * others again, in order, with the same producer sequence discipline.
 * Outcomes are reported in put order: to the callback (if set) and in the
 * counters of qsg_stat. An outcome is QSG_OK (md->msgid all zeros when the
 * reply was lost and HELLO told the put was applied), a reason code, or
 * QSG_RC_OUTCOME_UNKNOWN when no member could be reached within the
 * reconnect timeout after the put was sent. Syncpoint puts may be
 * asynchronous: qsg_commit waits for all of them and, when one of them
 * failed (or the unit of work was lost with the connection), backs the
 * whole unit out and returns QSG_RC_BACKED_OUT. A synchronous qsg_put
 * waits for the asynchronous ones before it. */
typedef void (*qsg_put_cb)(void *arg, void *put_ctx, int rc, const struct qsg_md *md);

/* Window (1..1000; 0 = default 128) and callback (may be NULL: use
 * qsg_stat) for the asynchronous puts of c. md in the callback: the put's
 * descriptor with msgid set, valid during the call. */
int qsg_set_put_async(qsg_conn *c, unsigned window, qsg_put_cb cb, void *arg);

/* As qsg_put, asynchronously. md is read, not updated (the msgid comes to
 * the callback); put_ctx is given back to the callback. Returns QSG_OK
 * once the put is queued (copied, with its producer seq), or an error of
 * the arguments (nothing sent). Puts made in quick succession are written
 * together (docs/client.md, "Coalescing"): a put is written before the call
 * returns when nothing else is on the wire and the caller did not just wait
 * for room in the window; otherwise when the window is full, when 64 KiB
 * are queued, at the next qsg_put_async 1 ms after the oldest queued one,
 * and in every other call on the connection (qsg_dispatch, qsg_flush,
 * qsg_stat, qsg_fd, qsg_commit, synchronous calls, qsg_disconnect). */
int qsg_put_async(qsg_conn *c, const char *queue, const struct qsg_md *md, const void *body,
		  size_t len, int options, void *put_ctx);

/* Wait until every asynchronous put is answered and its callback has run.
 * Returns QSG_OK, or the first failure among the puts answered since the
 * last qsg_stat. */
int qsg_flush(qsg_conn *c);

/* MQSTAT-like: outcomes of the asynchronous puts answered since the last
 * qsg_stat (the counters restart), without waiting. */
struct qsg_stat {
	uint64_t puts_ok;
	uint64_t puts_failed; /* a reason code other than OUTCOME_UNKNOWN */
	uint64_t puts_unknown; /* QSG_RC_OUTCOME_UNKNOWN */
	int first_rc; /* the first failure (QSG_OK: none) */
	void *first_ctx; /* ... and its put_ctx */
	unsigned puts_in_flight; /* now */
	uint64_t msgs_delivered; /* consumer callbacks with a message */
};
int qsg_stat(qsg_conn *c, struct qsg_stat *st);

/* ---- Asynchronous consume ----
 *
 * qsg_consume registers the connection's consumer (one per connection) of
 * queue: libqsg gets messages in batches of up to read_ahead GETs in flight
 * and calls cb for each message, in the order the group gave them.
 *
 * Without QSG_GMO_SYNCPOINT: libqsg gets under a unit of work of its own
 * and commits each batch after its callbacks returned. A message is never
 * lost: read-ahead messages the callback has not seen go back to the queue
 * when the connection breaks (the member backs the unit out). A message is
 * delivered twice only when the connection broke after its callback ran
 * and before the batch's commit; the second delivery has a backout_count
 * one higher. The connection's unit of work belongs to the consumer then:
 * syncpoint puts/gets and qsg_backout on it fail with QSG_RC_OPTIONS_ERROR.
 *
 * With QSG_GMO_SYNCPOINT: the messages are got in the connection's unit of
 * work. After the last message of a batch the callback gets
 * QSG_CB_BATCH_END; the application then calls qsg_commit or qsg_backout
 * (in that callback or later); no more GETs are sent until it does, so a
 * commit never includes a message the callback has not seen. A commit
 * while read-ahead messages are still undelivered returns QSG_RC_INVALID.
 * If the connection breaks, the undelivered messages go back to the queue
 * and QSG_CB_BATCH_END comes with rc QSG_RC_BACKED_OUT (commit then returns
 * BACKED_OUT; the delivered ones are redelivered).
 *
 * Events: QSG_CB_MSG (md, body, len valid during the call; rc QSG_OK);
 * QSG_CB_BATCH_END (syncpoint only); QSG_CB_NO_MSG (nothing came for
 * wait_ms; the consumer keeps going); QSG_CB_ERROR (rc: a get was refused,
 * e.g. QSG_RC_UNKNOWN_OBJECT, or no member could be reached; the consumer
 * has ended). */
#define QSG_CB_MSG 1
#define QSG_CB_BATCH_END 2
#define QSG_CB_NO_MSG 3
#define QSG_CB_ERROR 4
typedef void (*qsg_msg_cb)(void *arg, qsg_conn *c, int event, int rc, const struct qsg_md *md,
			   const void *body, size_t len);

struct qsg_consume_opts {
	int options; /* 0 or QSG_GMO_SYNCPOINT */
	unsigned read_ahead; /* GETs in flight (batch size), 1..512; 0 = 64 */
	int wait_ms; /* QSG_CB_NO_MSG after this long without a message
		      * (QSG_WAIT_FOREVER: never) */
	uint64_t max_msgs; /* the consumer ends after this many (0 = no limit) */
};
int qsg_consume(qsg_conn *c, const char *queue, const struct qsg_consume_opts *opts, qsg_msg_cb cb,
		void *arg);

/* End the consumer after its current batch (whose messages are still
 * delivered, and committed without syncpoint). */
int qsg_consume_stop(qsg_conn *c);

/* Run the connection for up to timeout_ms (-1: as long as there is work):
 * read replies, reconnect, run callbacks. Returns early when no work is
 * left: no asynchronous put unanswered and no consumer (or a syncpoint
 * consumer waiting for qsg_commit / qsg_backout). Returns QSG_OK, or the
 * reason no member could be reached (the puts then report their outcomes
 * and the consumer QSG_CB_ERROR). */
int qsg_dispatch(qsg_conn *c, int timeout_ms);

/* The connection's socket, to poll for input (-1 when not connected).
 * Writes the requests libqsg holds back first, so that their replies wake
 * the poller. */
int qsg_fd(qsg_conn *c);

/* Free a body returned by qsg_get / qsg_browse. */
void qsg_free(void *p);

/* "QSG_RC_Q_FULL"-style name and one-line text of a reason code (static
 * strings). */
const char *qsg_reason_name(int rc);
const char *qsg_reason_text(int rc);

/* The explanation of the last failure on this connection (valid until the
 * next call on it; empty after a success). */
const char *qsg_last_error(qsg_conn *c);

/* The member currently serving the connection: queue manager name (valid
 * until the next call) and Raft id; NULL/0 when not connected. */
const char *qsg_qmgr_name(qsg_conn *c);
uint32_t qsg_member_id(qsg_conn *c);

#ifdef __cplusplus
}
#endif

#endif
