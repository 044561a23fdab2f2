#include "net.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "common/hostport.h"
#include "common/qsg_err.h"
#include "config.h"

int net_resolve(const char *hostport, struct sockaddr_storage *out)
{
	char host[FSM_ADDR_MAX + 1];
	int port;
	if (qsg_hostport_split(hostport, strlen(hostport), host, sizeof host, &port) != QSG_OK)
		return QSG_RC_CONFIG;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	memset(out, 0, sizeof *out);
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0)
		return QSG_OK;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0)
		return QSG_OK;
	return QSG_RC_CONFIG;
}

void net_peer_name(uv_tcp_t *tcp, char *buf, size_t size)
{
	struct sockaddr_storage sa;
	int len = sizeof sa;
	snprintf(buf, size, "?");
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &len) != 0)
		return;
	char host[64];
	if (sa.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
		uv_ip4_name(in, host, sizeof host);
		snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(in->sin_port));
	} else if (sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
		uv_ip6_name(in6, host, sizeof host);
		snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
	}
}
