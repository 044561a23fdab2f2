/* "host:port" and "[ipv6]:port" addresses, as used in configuration files,
 * connection lists (QSG_CONN) and tool options. One parser for all of them. */
#ifndef QSG_HOSTPORT_H
#define QSG_HOSTPORT_H

#include <stddef.h>

/* Split the n bytes at s into host (brackets of an IPv6 literal removed,
 * NUL-terminated, must fit hostsize) and port (1..65535). Returns QSG_OK or
 * QSG_RC_INVALID. */
int qsg_hostport_split(const char *s, size_t n, char *host, size_t hostsize, int *port);

#endif
