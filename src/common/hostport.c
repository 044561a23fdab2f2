#include "hostport.h"

#include <string.h>

#include "qsg_err.h"

int qsg_hostport_split(const char *s, size_t n, char *host, size_t hostsize, int *port)
{
	size_t colon = n;
	while (colon > 0 && s[colon - 1] != ':')
		colon--;
	if (colon == 0)
		return QSG_RC_INVALID;
	colon--; /* index of the last ':' */
	size_t plen = n - colon - 1;
	if (plen == 0 || plen > 5)
		return QSG_RC_INVALID;
	long p = 0;
	for (size_t i = colon + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return QSG_RC_INVALID;
		p = p * 10 + (s[i] - '0');
	}
	if (p < 1 || p > 65535)
		return QSG_RC_INVALID;
	const char *h = s;
	size_t hl = colon;
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hostsize || memchr(h, '\0', hl) != NULL)
		return QSG_RC_INVALID;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return QSG_OK;
}
