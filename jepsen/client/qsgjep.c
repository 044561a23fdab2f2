/* qsgjep: the jepsen harness's client process. One long-lived libqsg
 * connection per logical process; reads one command per stdin line and
 * prints one JSON line per outcome on stdout:
 *
 *   put QUEUE VALUE        put outside syncpoint (persistent)
 *   sput QUEUE VALUE       put under syncpoint, then commit
 *   get QUEUE WAIT_MS      get outside syncpoint
 *   sget QUEUE WAIT_MS     get under syncpoint, then commit
 *   ping                   PING QMGR
 *
 * Output: {"type":"ok|fail|info","value":"...","rc":N,"reason":"...",
 *          "member":"QM1","stage":"put|get|commit"}
 * type "info" means the outcome is unknown (never guessed): the operation
 * may or may not have taken effect.
 *
 * Built by jepsen/run against the build directory's libqsg:
 *   cc -std=c11 -O2 -I SRC/src/libqsg -I SRC/src/common qsgjep.c -L BIN/.libs -lqsg
 * Usage: qsgjep CONN_LIST [RECONNECT_TIMEOUT_MS] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qsg.h"

static void json_str(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch > 0x7e)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void emit(qsg_conn *c, const char *type, const char *stage, const char *value, size_t vlen,
		 int rc)
{
	const char *m = c ? qsg_qmgr_name(c) : NULL;
	printf("{\"type\":\"%s\",\"stage\":\"%s\",\"rc\":%d,\"reason\":\"%s\",\"member\":", type,
	       stage, rc, qsg_reason_name(rc));
	if (m)
		json_str(m, strlen(m));
	else
		printf("null");
	printf(",\"value\":");
	if (value)
		json_str(value, vlen);
	else
		printf("null");
	printf("}\n");
	fflush(stdout);
}

/* Failures that are deterministic: the operation was certainly not applied. */
static int definite_put_failure(int rc)
{
	switch (rc) {
	case QSG_RC_Q_FULL:
	case QSG_RC_UNKNOWN_OBJECT:
	case QSG_RC_MSG_TOO_BIG:
	case QSG_RC_PUT_INHIBITED:
	case QSG_RC_BACKED_OUT:
	case QSG_RC_PRIORITY_ERROR:
	case QSG_RC_OPTIONS_ERROR:
	case QSG_RC_SYNCPOINT_LIMIT:
		return 1;
	default:
		return 0;
	}
}

static int do_connect(const char *conn_list, int timeout_ms, qsg_conn **c)
{
	char errmsg[QSG_ERRMSG_SIZE];
	int rc = qsg_connect(conn_list, "qsgjep", c, errmsg);
	if (rc != QSG_OK) {
		*c = NULL;
		return rc;
	}
	qsg_set_reconnect_timeout(*c, timeout_ms);
	return QSG_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: qsgjep CONN_LIST [RECONNECT_TIMEOUT_MS]\n");
		return 2;
	}
	const char *conn_list = argv[1];
	int timeout_ms = argc > 2 ? atoi(argv[2]) : 10000;
	qsg_conn *c = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		char *save = NULL;
		char *verb = strtok_r(line, " ", &save);
		char *queue = strtok_r(NULL, " ", &save);
		char *arg = strtok_r(NULL, " ", &save);
		if (!verb)
			continue;
		if (!c) {
			int rc = do_connect(conn_list, timeout_ms, &c);
			if (rc != QSG_OK) {
				/* Nothing was sent: a definite failure. */
				emit(NULL, "fail", "connect", arg, arg ? strlen(arg) : 0, rc);
				continue;
			}
		}
		if (strcmp(verb, "ping") == 0) {
			int rc = qsg_admin(c, "PING QMGR", NULL, NULL, NULL, 0);
			emit(c, rc == QSG_OK ? "ok" : "fail", "ping", NULL, 0, rc);
			continue;
		}
		if (!queue || !arg) {
			fprintf(stderr, "qsgjep: bad command\n");
			emit(c, "fail", "parse", NULL, 0, QSG_RC_INVALID);
			continue;
		}
		if (strcmp(verb, "put") == 0 || strcmp(verb, "sput") == 0) {
			int sync = verb[0] == 's';
			struct qsg_md md = QSG_MD_DEFAULT;
			md.persistence = QSG_PERSISTENT;
			int rc = qsg_put(c, queue, &md, arg, strlen(arg),
					 QSG_PMO_NEW_MSG_ID | (sync ? QSG_PMO_SYNCPOINT : 0));
			if (rc != QSG_OK) {
				if (sync)
					(void)qsg_backout(c);
				/* Under syncpoint an uncommitted put is never applied. */
				emit(c, sync || definite_put_failure(rc) ? "fail" : "info", "put",
				     arg, strlen(arg), rc);
				continue;
			}
			if (!sync) {
				emit(c, "ok", "put", arg, strlen(arg), rc);
				continue;
			}
			rc = qsg_commit(c);
			emit(c,
			     rc == QSG_OK	       ? "ok"
			     : rc == QSG_RC_BACKED_OUT ? "fail"
						       : "info",
			     "commit", arg, strlen(arg), rc);
		} else if (strcmp(verb, "get") == 0 || strcmp(verb, "sget") == 0) {
			int sync = verb[0] == 's';
			void *body = NULL;
			size_t len = 0;
			struct qsg_md md = QSG_MD_DEFAULT;
			int rc = qsg_get(c, queue, &md, sync ? QSG_GMO_SYNCPOINT : 0, atoi(arg),
					 &body, &len);
			if (rc != QSG_OK) {
				if (sync)
					(void)qsg_backout(c);
				/* A get outside syncpoint whose reply was lost may have
				 * consumed a message: unknown. Under syncpoint an
				 * uncommitted get is backed out: nothing consumed. */
				int definite = sync || rc == QSG_RC_NO_MSG_AVAILABLE ||
					       rc == QSG_RC_UNKNOWN_OBJECT ||
					       rc == QSG_RC_GET_INHIBITED;
				emit(c, definite ? "fail" : "info", "get", NULL, 0, rc);
				continue;
			}
			if (!sync) {
				emit(c, "ok", "get", body, len, rc);
				qsg_free(body);
				continue;
			}
			rc = qsg_commit(c);
			emit(c,
			     rc == QSG_OK	       ? "ok"
			     : rc == QSG_RC_BACKED_OUT ? "fail"
						       : "info",
			     "commit", body, len, rc);
			qsg_free(body);
		} else {
			fprintf(stderr, "qsgjep: unknown verb %s\n", verb);
			emit(c, "fail", "parse", NULL, 0, QSG_RC_INVALID);
		}
	}
	free(line);
	qsg_disconnect(c);
	return 0;
}
