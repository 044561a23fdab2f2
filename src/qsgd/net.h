/* Address helpers. */
#ifndef QSGD_NET_H
#define QSGD_NET_H

#include <sys/socket.h>
#include <uv.h>

/* "host:port" with a numeric IPv4/IPv6 host (IPv6 may be in brackets) or
 * "localhost" into a sockaddr. Returns QSG_OK or QSG_RC_CONFIG. */
int net_resolve(const char *hostport, struct sockaddr_storage *out);
/* "host:port" ("[v6]:port") of a connected socket's peer, "?" when unknown. */
void net_peer_name(uv_tcp_t *tcp, char *buf, size_t size);

#endif
