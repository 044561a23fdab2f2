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
 * serialises the calls (one request at a time per connection: use one
 * connection per thread for parallelism). qsg_disconnect must not race with
 * other calls on the same connection.
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
