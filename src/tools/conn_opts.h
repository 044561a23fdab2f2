/* Shared helpers of the qsg command-line tools. */
#ifndef QSG_TOOLS_CONN_OPTS_H
#define QSG_TOOLS_CONN_OPTS_H

#include "libqsg/qsg.h"

/* Connect to conn (NULL: QSG_CONN); on failure print "prog: NAME: text" to
 * stderr and return NULL. */
qsg_conn *tool_connect(const char *prog, const char *conn);

/* Print "prog: NAME: text" for a failed call and return 1 (the exit code). */
int tool_fail(const char *prog, qsg_conn *c, int rc);

#endif
