/* Shared by the unit-of-work test tools (uowhold.c, uow2q.c): connect, and
 * get one message under syncpoint, ending the process on failure. */
#ifndef QSG_TESTS_UOWTOOL_H
#define QSG_TESTS_UOWTOOL_H

#include <stdio.h>
#include <stdlib.h>

#include "libqsg/qsg.h"

static qsg_conn *uowtool_connect(const char *conn, const char *app)
{
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_conn *c;
	if (qsg_connect(conn, app, &c, errmsg) != QSG_OK) {
		fprintf(stderr, "connect: %s\n", errmsg);
		exit(1);
	}
	return c;
}

/* The body (the caller frees it with qsg_free) of the next message. */
static void *uowtool_get(qsg_conn *c, const char *queue, size_t *len)
{
	struct qsg_md md;
	void *body = NULL;
	qsg_md_init(&md);
	int rc = qsg_get(c, queue, &md, QSG_GMO_SYNCPOINT, 5000, &body, len);
	if (rc != QSG_OK) {
		fprintf(stderr, "get: %s: %s\n", qsg_reason_name(rc), qsg_last_error(c));
		exit(1);
	}
	return body;
}

#endif
