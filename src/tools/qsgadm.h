/* Internal interface of qsgadm (src/tools/qsgadm*.c): the reply of an MQSC
 * command, the program's context and the helpers (qsgadm_util.c) that
 * `qsgadm check` (qsgadm_check.c) shares with the MQSC shell and `qsgadm
 * status` (qsgadm.c). qsgadm.c calls qsgadm_check.c; both call
 * qsgadm_util.c, which calls neither. Not for use outside qsgadm. */
#ifndef QSG_QSGADM_H
#define QSG_QSGADM_H

#include <stdbool.h>
#include <stddef.h>

#include "libqsg/qsg.h"

#define TEXT_SIZE 4096

/* Growable string. */
struct strbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

/* --- qsgadm_util.c --------------------------------------------------------- */

/* Append n bytes of s, a C string, printf output; empty b; its contents
 * ("" when empty). After an allocation failure b->oom is set and nothing
 * more is appended. */
void sb_add(struct strbuf *b, const char *s, size_t n);
void sb_adds(struct strbuf *b, const char *s);
void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_reset(struct strbuf *b);
const char *sb_str(const struct strbuf *b);
/* Append s as a JSON string literal (quotes included, non-ASCII escaped). */
void sb_json_str(struct strbuf *b, const char *s);

/* A reply: objects of name/value pairs. */
struct robj {
	size_t n;
	char **names;
	char **values;
};

struct reply {
	int rc;
	char text[TEXT_SIZE];
	size_t nobj;
	struct robj *obj;
	bool oom;
};

void reply_clear(struct reply *r);
/* Value of attribute name in o, NULL when absent. */
const char *obj_get(const struct robj *o, const char *name);
/* Send one MQSC command on c and collect its reply into r. */
int do_admin(qsg_conn *c, const char *cmd, struct reply *r);
/* The QMSTATUS summary object of r (the one with QUORUM), NULL if none. */
const struct robj *summary_of(const struct reply *r);
/* Connect to the first reachable address of list within timeout_s. */
int connect_timeout(const char *list, double timeout_s, qsg_conn **c, char *errmsg);

/* qsgadm_auth.c: credentials for libqsg (-u, --password-file, QSG_PASSWORD
 * or a prompt on the terminal: 0, or 2 for a usage error), --hash-password
 * (exit status), and a copy of an MQSC command with PASSWORD(...) replaced
 * by PASSWORD(********) (malloc'd; NULL: out of memory). */
int qsgadm_credentials(const char *user, const char *password_file);
int qsgadm_hash_password(void);
char *qsgadm_redact(const char *cmd);

struct member {
	char name[64];
	char conname[160];
};

struct ctx {
	bool json;
	bool interactive;
	const char *conn_list;
	qsg_conn *conn; /* the MQSC session's connection */
	double member_timeout; /* seconds, for direct connections to one member */
	unsigned nread, nsyntax, nfailed;
	bool fatal;
	struct strbuf line;
};

/* --- qsgadm_check.c -------------------------------------------------------- */

/* qsgadm check NAME [ARG] (qsgadm_check.c): 0 passed, 1 failed, 2 usage. */
int cmd_check(struct ctx *x, const char *name, const char *arg);

#endif
