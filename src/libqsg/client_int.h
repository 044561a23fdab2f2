/* libqsg internals shared by client.c and large.c (not installed): the
 * connection and the request helpers large messages reuse. */
#ifndef QSG_LIBQSG_CLIENT_INT_H
#define QSG_LIBQSG_CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/proto.h"
#include "qsg.h"

#define HOST_MAX 255
#define BACKOFF_MIN_MS 20
#define BACKOFF_MAX_MS 1000

struct addr {
	char host[HOST_MAX + 1];
	char port[8];
};

struct defprty {
	char queue[FSM_NAME_MAX + 1];
	uint8_t priority;
};

struct qsga; /* async.c: puts in flight and the consumer */
struct tls_ctx;
struct tls_conn;

struct qsg_conn {
	pthread_mutex_t mu; /* recursive: callbacks may call the API */
	struct addr *addrs;
	size_t naddrs;
	size_t next; /* next address to try */
	char app[PROTO_MAX_APP + 1];
	int reconnect_ms;
	int reply_ms;

	int fd; /* -1: not connected */
	struct tls_ctx *tls; /* NULL: plaintext (tlsio.c, from QSG_TLS_*) */
	struct tls_conn *tlsc; /* with tls: the connection's TLS state */
	char tls_peer[256]; /* QSG_TLS_PEER: the member certificate's CN or DN */
	/* Credentials sent in every HELLO (cred.c): QSG_USER and QSG_PASSWORD
	 * or QSG_PASSWORD_FILE, or qsg_connect_as; user "" = none. */
	char user[PROTO_MAX_USER + 1];
	char password[PROTO_MAX_PASSWORD + 1];
	uint64_t client_id; /* random, non-zero, kept across reconnects */
	uint64_t epoch;
	uint64_t last_seq; /* producer sequence of the last put */
	uint64_t uows_done; /* units of work committed (from HELLO, +1 per commit) */
	bool uow_open; /* a syncpoint op succeeded since the last commit/backout */
	bool uow_lost; /* the connection broke while uow_open */
	uint32_t reqid;
	uint32_t member_id;
	char qmgr[FSM_NAME_MAX + 1];

	char (*opened)[FSM_NAME_MAX + 1]; /* queues to reopen after reconnect */
	size_t nopened;
	struct defprty *prty; /* DEFPRTY of queues, for QSG_PRI_AS_Q_DEF */
	size_t nprty;

	struct qsg_wbuf out; /* encoded requests not yet written (qsgi_queue) */
	uint8_t *in; /* receive buffer: bytes inoff..inlen are not parsed yet */
	size_t inoff, inlen, incap;
	size_t consumed; /* bytes of the last returned frame, dropped on next read */
	bool in_short; /* the last read did not fill the buffer */
	char err[QSG_ERRMSG_SIZE];
	struct qsga *as; /* NULL until the first asynchronous call */
	const struct qsgi_async_ops *aops; /* set with as (async.c) */
};

/* cred.c: the credentials of qsg_connect_as, else of the environment
 * (docs/client.md "Credentials"); wiped by qsgi_cred_wipe. */
int qsgi_cred_setup(qsg_conn *c, const char *user, const char *password, char *errmsg);
void qsgi_cred_wipe(qsg_conn *c);

/* tlsio.c: TLS on the member connection (docs/client.md). */
int qsgi_tls_setup(qsg_conn *c, char *errmsg); /* from the environment */
void qsgi_tls_free(qsg_conn *c);
void qsgi_tls_drop(qsg_conn *c); /* the connection's TLS state */
int qsgi_tls_handshake(qsg_conn *c, int64_t deadline);
int qsgi_tls_send(qsg_conn *c, const uint8_t *p, size_t n, int64_t deadline);
ssize_t qsgi_tls_recv(qsg_conn *c, uint8_t *buf, size_t space);

/* conn.c */
int64_t qsgi_now_ms(void);
int64_t qsgi_now_us(void);
int qsgi_left_ms(int64_t deadline);
/* Send n bytes on fd (blocking with poll until deadline); QSG_OK or
 * QSG_RC_CONNECTION_BROKEN with the reason in err (QSG_ERRMSG_SIZE). */
int qsgi_fd_send_all(int fd, const uint8_t *p, size_t n, int64_t deadline, char *err);
void qsgi_sleep_ms(int ms);
/* Replies after which libqsg moves to a fresh connection; replies that say
 * the request was certainly not applied. */
bool qsgi_retryable(int rc);
bool qsgi_not_applied(int rc);
void qsgi_drop_conn(qsg_conn *c);
/* (Re)connect and HELLO until deadline (c->last_seq, uows_done refreshed). */
int qsgi_attach(qsg_conn *c, int64_t deadline, bool initial);
/* One exchange, connecting first if needed; *sent: the request may have
 * reached a member. */
int qsgi_exchange(qsg_conn *c, struct proto_req *req, struct proto_resp *resp, int timeout_ms,
		  bool *sent);
bool qsgi_retry_wait(qsg_conn *c, int64_t *deadline, int *backoff);
int qsgi_syncpoint_lost(qsg_conn *c);
void qsgi_set_reply_error(qsg_conn *c, const struct proto_resp *resp);

/* Read one frame within timeout_ms (0: only what is there, -1: forever):
 * QSG_OK with resp filled, QSG_RC_NO_MSG_AVAILABLE when none came in time,
 * or a transport error after which the connection is dropped. */
int qsgi_read(qsg_conn *c, struct proto_resp *resp, int timeout_ms);
/* After qsgi_read: the next frame already received, else what the socket
 * has now, unless the last read drained it (then NO_MSG_AVAILABLE without
 * a system call). */
int qsgi_read_next(qsg_conn *c, struct proto_resp *resp);
/* Send one encoded request (blocking), after the queued ones; assigns
 * req->reqid. A transport error drops the connection. */
int qsgi_send(qsg_conn *c, struct proto_req *req);
/* Encode a request behind the queued ones without writing it (assigns
 * req->reqid); qsgi_push writes everything queued with one send (blocking;
 * a transport error drops the connection, which discards the queue).
 * Requests are written in the order they were queued; a synchronous
 * exchange pushes the queue ahead of its own request. */
int qsgi_queue(qsg_conn *c, struct proto_req *req);
int qsgi_push(qsg_conn *c);

/* client.c: check a put's arguments and fill req (PROTO_PUT, no seq). */
int qsgi_fill_put(qsg_conn *c, struct proto_req *req, const char *queue, const struct qsg_md *md,
		  const void *body, size_t len, int options);
bool qsgi_take_uow_lost(qsg_conn *c);

/* async.c, called by conn.c and client.c:
 * on_reply: a reply that no synchronous call waits for (resp valid during
 * the call); attached: after every successful HELLO (reconciles and
 * re-sends the put window); quiesce: before a synchronous put, commit or
 * backout, wait until no asynchronous put is in flight (rc of the wait);
 * sync_allowed: QSG_OK unless a consumer outside syncpoint owns the uow;
 * uow_end: a commit/backout ended the unit of work; free: at disconnect. */
/* The asynchronous layer (async.c) as client.c and conn.c reach it: a table
 * that async.c sets with c->as, so that the layering stays one-way (async.c
 * uses client.c and conn.c, never the other way round). Each wrapper below
 * does what the layer would do with no asynchronous state (c->as NULL). */
struct qsgi_async_ops {
	void (*on_reply)(qsg_conn *c, const struct proto_resp *resp);
	void (*attached)(qsg_conn *c);
	int (*quiesce)(qsg_conn *c);
	int (*sync_allowed)(qsg_conn *c);
	int (*commit_check)(qsg_conn *c, bool *backout);
	void (*uow_end)(qsg_conn *c);
	void (*free)(qsg_conn *c);
};

/* large.c: messages over FSM_CHUNK_MAX (docs/client.md, "Large messages").
 * put: the PUT_CHUNK sequence of one message (req is the PUT request,
 * filled); returns the put's reason code, md->msgid set. parts: after a
 * GETX/BROWSEX reply with nparts > 1, pull the other parts (GET_PART) and,
 * for a destructive get outside syncpoint, confirm with GET_DONE; *body
 * and *len get the whole body. */
int qsgl_put(qsg_conn *c, struct proto_req *req, const void *body, size_t len, bool sync,
	     struct qsg_md *md);
int qsgl_parts(qsg_conn *c, const struct proto_resp *resp, bool destructive, bool sync, void **body,
	       size_t *len);

static inline void qsgi_a_on_reply(qsg_conn *c, const struct proto_resp *resp)
{
	if (c->aops != NULL)
		c->aops->on_reply(c, resp);
}
static inline void qsgi_a_attached(qsg_conn *c)
{
	if (c->aops != NULL)
		c->aops->attached(c);
}
static inline int qsgi_a_quiesce(qsg_conn *c)
{
	return c->aops != NULL ? c->aops->quiesce(c) : QSG_OK;
}
static inline int qsgi_a_sync_allowed(qsg_conn *c)
{
	return c->aops != NULL ? c->aops->sync_allowed(c) : QSG_OK;
}
static inline int qsgi_a_commit_check(qsg_conn *c, bool *backout)
{
	*backout = false;
	return c->aops != NULL ? c->aops->commit_check(c, backout) : QSG_OK;
}
static inline void qsgi_a_uow_end(qsg_conn *c)
{
	if (c->aops != NULL)
		c->aops->uow_end(c);
}
static inline void qsgi_a_free(qsg_conn *c)
{
	if (c->aops != NULL)
		c->aops->free(c);
}

#endif
