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

#endif
