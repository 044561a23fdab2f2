/* Client listener: accepts connections from applications and from other
 * members, decodes requests, keeps each connection's session (HELLO ->
 * ATTACH, epoch), turns requests into fsm commands on the submission path,
 * parks GETs that wait, runs MQSC admin (environment: adminsrv.h), hands
 * inbound channels to the channel initiator, installs the fsm notification
 * fan-out (notify.h), and writes the replies. */
#ifndef QSGD_SERVER_H
#define QSGD_SERVER_H

#include "daemon.h"

#define SERVER_MAX_INFLIGHT 1024 /* per client connection */
#define SERVER_MAX_INFLIGHT_MEMBER 65536 /* per member (forwarding) connection */

int server_init(struct server **out, struct qsgd *d, char *errmsg);
/* Bind and listen on cfg->listen. */
int server_listen(struct server *s, char *errmsg);
/* Stop accepting, close every connection; memory freed once all requests
 * in flight have completed and the handles are closed. */
void server_close(struct server *s);
/* Member fencing: when fenced, client connections are closed and new
 * HELLOs answered QSG_RC_MEMBER_FENCED. */
void server_set_fenced(struct server *s, bool fenced);
size_t server_connections(const struct server *s);

/* Virtual connections: an in-process client of this member (the STOMP
 * gateway, src/gw). It speaks the client protocol (proto.h) as a libqsg
 * connection does and gets the same treatment: HELLO with credentials
 * checked by auth.c and the CONNECT authority, sessions and epochs, PUT
 * sequence numbers, GET with wait, syncpoint and commit, forwarding to the
 * leader; closing it detaches the session (its unit of work is backed
 * out). Requests go in whole encoded frames; replies come out the same way,
 * possibly before server_vconn_request returns. */
struct conn;
struct server_vconn_ops {
	/* One encoded response frame; p is valid during the call only. */
	void (*on_reply)(void *arg, const uint8_t *p, size_t len);
	/* The member ends the connection (refused HELLO, fenced session,
	 * member fenced or stopping): no reply follows; the owner calls
	 * server_vconn_close (now or later; not required from on_close). */
	void (*on_close)(void *arg);
};
/* Who is behind it, for auth.c, CHLAUTH and the log. */
struct server_vconn_peer {
	const char *peer; /* the client's address, "10.0.0.1:4711" */
	const char *cert_cn; /* CN of its verified TLS certificate, or "" / NULL */
	const char *cert_dn; /* its certificate's subject DN (CHLAUTH SSLPEERMAP), or "" / NULL */
	bool tls;
	/* Another virtual connection of the same client whose HELLO was
	 * accepted, or NULL: this one's HELLO takes that identity instead of
	 * checking the credentials again (one password check per client, not
	 * one per gateway session); CHLAUTH and the CONNECT authority are
	 * checked again. */
	const struct conn *same_client;
};
/* NULL when out of memory or the server is closing. */
struct conn *server_vconn_open(struct server *s, const struct server_vconn_ops *ops, void *arg,
			       const struct server_vconn_peer *peer);
/* One whole request frame (proto_req_encode's output). */
void server_vconn_request(struct conn *c, const uint8_t *p, size_t len);
/* As if the socket closed: the session is detached; no callback after
 * this. c must not be used again. */
void server_vconn_close(struct conn *c);

#endif
