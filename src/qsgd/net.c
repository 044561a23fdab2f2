#include "net.h"

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
