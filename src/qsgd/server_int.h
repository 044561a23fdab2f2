/* The client listener's internals, shared by its three files:
 * server_conn.c (connections, virtual connections, replies, the life of a
 * request), server_req.c (authority checks, ADMIN, GET_PART) and server.c
 * (HELLO, dispatch, command completion, GET with wait, the listener).
 * Dependencies go one way: server.c -> server_req.c -> server_conn.c. */
#ifndef QSGD_SERVER_INT_H
#define QSGD_SERVER_INT_H

#include "admin/admin.h"
#include "auth.h"
#include "proto/proto.h"
#include "server.h"
#include "stream.h"
#include "waiters.h"

#define LISTEN_BACKLOG 511

#define CONN_XSEQ 8 /* struct conn xseq */

enum conn_kind { CONN_NEW = 0, CONN_CLIENT = 1, CONN_MEMBER = 2, CONN_CHANNEL = 3 };
enum sess_state { SESS_NONE = 0, SESS_ATTACHING = 1, SESS_ATTACHED = 2 };

struct conn {
	struct stream stream; /* unused by a virtual connection */
	struct server *srv;
	struct conn *next; /* open connections */
	struct conn *prev;
	unsigned refs; /* 1 while the socket is open + 1 per request in flight */
	bool closed; /* socket gone: replies are dropped */
	int kind; /* enum conn_kind */
	int sess; /* enum sess_state */
	uint64_t client_id;
	uint64_t epoch;
	uint32_t member_id; /* member connections: the peer's id */
	unsigned inflight;
	struct sreq *parked; /* GETs waiting for messages */
	struct chrcv *chan; /* CONN_CHANNEL: the receiving channel instance */
	bool authing; /* the HELLO's credentials are being checked (auth.h) */
	struct auth_id id; /* who is connected (client connections) */
	struct auth_cache acache; /* its authorities (auth_authority_cached) */
	/* The chunked messages GETX/BROWSEX gave this connection last (their
	 * seqnos): GET_PART reads parts of those only, unless the identity
	 * bypasses the authority records (docs/security.md). */
	uint64_t xseq[CONN_XSEQ];
	unsigned xseq_next;
	/* A virtual connection (server.h server_vconn_open): no socket; the
	 * replies go to vops->on_reply. vshut: the member ended it (on_close
	 * was called). */
	const struct server_vconn_ops *vops;
	void *varg;
	bool vshut;
	bool vtls;
	bool vpreauth; /* id holds the identity a same_client HELLO proved */
	char vpeer[80];
	char vcn[FSM_NAME_MAX + 1];
	char vdn[256]; /* the certificate's subject DN (CHLAUTH SSLPEERMAP) */
};

/* One request in flight. */
struct sreq {
	struct conn *c;
	uint32_t reqid;
	uint8_t op; /* enum proto_op */
	/* GET with wait */
	struct waiter w;
	struct sreq *pnext; /* conn->parked list */
	struct sreq *pprev;
	bool parked;
	int32_t wait_ms;
	uint64_t deadline; /* uv_now */
	uint64_t gen; /* d->notify_gen when last submitted */
	char queue[FSM_NAME_MAX + 1];
	uint8_t *cmd; /* encoded GET, for resubmission */
	size_t cmd_len;
	/* ADMIN */
	char *admin_text;
};

struct server {
	struct qsgd *d;
	uv_tcp_t listener;
	bool listening;
	struct stream_set set;
	struct conn *conns;
	size_t nconns; /* open */
	size_t nlive; /* not yet freed */
	unsigned nclosed; /* of listener + set (3 handles) */
	bool closing;
	bool fenced;
	struct admin_env admin;
	struct auth auth;
};

/* ---- server_conn.c ---- */

void server_maybe_free(struct server *s);
void conn_unref(struct conn *c);
/* Encode and send (or hand to a virtual connection's owner). */
void reply(struct conn *c, const struct proto_resp *resp);
void reply_rc(struct conn *c, uint8_t op, uint32_t reqid, int rc, const char *text);
struct sreq *req_new(struct conn *c, uint8_t op, uint32_t reqid);
void unpark(struct sreq *r);
/* The request is finished (replied or dropped). */
void req_done(struct sreq *r);
/* The connection is gone (socket closed, or server_vconn_close): drop
 * parked GETs, detach the session, drop the open reference. */
void conn_gone(struct conn *c);
/* The peer's address, for the log. */
void conn_peer(struct conn *c, char *buf, size_t size);
/* The CN of the peer's verified certificate ("" none); whether TLS. */
const char *conn_cert_cn(struct conn *c);
bool conn_tls(const struct conn *c);
/* Close now / after what is pending is written (reply-then-close). */
void conn_close(struct conn *c);
void conn_close_after_write(struct conn *c);
/* Close every connection (server_close, fencing); members too if all. */
void conn_close_all(struct server *s, bool members);
/* Link a new connection (refs 1). */
void conn_link(struct server *s, struct conn *c);

/* ---- server_req.c ---- */

/* A client request's authority; true when allowed, else answered 2035. */
bool req_authorized(struct conn *c, const struct proto_req *req, const char *queue);
void on_admin(struct conn *c, const struct proto_req *req);
void on_get_part(struct conn *c, const struct proto_req *req);

#endif
