#include "conn_opts.h"

#include <stdio.h>
#include <string.h>

qsg_conn *tool_connect(const char *prog, const char *conn)
{
	char err[QSG_ERRMSG_SIZE] = "";
	qsg_conn *c = NULL;
	int rc = qsg_connect(conn, prog, &c, err);
	if (rc != QSG_OK) {
		fprintf(stderr, "%s: %s: %s\n", prog, qsg_reason_name(rc),
			err[0] ? err : qsg_reason_text(rc));
		return NULL;
	}
	return c;
}

int tool_fail(const char *prog, qsg_conn *c, int rc)
{
	const char *e = c ? qsg_last_error(c) : "";
	const char *name = qsg_reason_name(rc);
	if (strncmp(e, name, strlen(name)) == 0) {
		fprintf(stderr, "%s: %s\n", prog, e);
		return 1;
	}
	fprintf(stderr, "%s: %s: %s\n", prog, qsg_reason_name(rc), e[0] ? e : qsg_reason_text(rc));
	return 1;
}
