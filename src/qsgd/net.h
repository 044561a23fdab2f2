/* Address helpers. */
#ifndef QSGD_NET_H
#define QSGD_NET_H

#include <sys/socket.h>

/* "host:port" with a numeric IPv4/IPv6 host (IPv6 may be in brackets) or
 * "localhost" into a sockaddr. Returns QSG_OK or QSG_RC_CONFIG. */
int net_resolve(const char *hostport, struct sockaddr_storage *out);

#endif
