/* qsgadm: the helpers the MQSC shell and `qsgadm status` (qsgadm.c) share
 * with `qsgadm check` (qsgadm_check.c): growable strings, MQSC replies
 * (sending one command and collecting its objects), connections to one
 * member. A leaf: calls libqsg only. See qsgadm.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libqsg/qsg.h"
#include "qsgadm.h"

/* ------------------------------------------------------------------------
 * Growable strings
 * ------------------------------------------------------------------------ */

void sb_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sb_adds(struct strbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void sb_reset(struct strbuf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

const char *sb_str(const struct strbuf *b)
{
	return b->p != NULL ? b->p : "";
}

/* JSON string literal (quotes included). Non-ASCII bytes are escaped as
 * \u00XX so the output is always valid ASCII JSON. */
void sb_json_str(struct strbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"':
			sb_add(b, "\\\"", 2);
			break;
		case '\\':
			sb_add(b, "\\\\", 2);
			break;
		case '\n':
			sb_add(b, "\\n", 2);
			break;
		case '\r':
			sb_add(b, "\\r", 2);
			break;
		case '\t':
			sb_add(b, "\\t", 2);
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				sb_printf(b, "\\u%04x", (unsigned)c);
			else
				sb_add(b, (const char *)&c, 1);
		}
	}
	sb_add(b, "\"", 1);
}

/* ------------------------------------------------------------------------
 * Replies: collected objects
 * ------------------------------------------------------------------------ */

static char *xstrdup(const char *s, bool *oom)
{
	char *p = strdup(s);
	if (p == NULL)
		*oom = true;
	return p;
}

static int collect_cb(void *arg, size_t nattrs, const char *const *names, const char *const *values)
{
	struct reply *r = arg;
	struct robj *v = realloc(r->obj, (r->nobj + 1) * sizeof *v);
	if (v == NULL) {
		r->oom = true;
		return 1;
	}
	r->obj = v;
	struct robj *o = &v[r->nobj];
	o->n = 0;
	o->names = calloc(nattrs ? nattrs : 1, sizeof *o->names);
	o->values = calloc(nattrs ? nattrs : 1, sizeof *o->values);
	r->nobj++;
	if (o->names == NULL || o->values == NULL) {
		r->oom = true;
		return 1;
	}
	for (size_t i = 0; i < nattrs; i++) {
		o->names[i] = xstrdup(names[i], &r->oom);
		o->values[i] = xstrdup(values[i], &r->oom);
		o->n++;
		if (r->oom)
			return 1;
	}
	return 0;
}

void reply_clear(struct reply *r)
{
	for (size_t i = 0; i < r->nobj; i++) {
		for (size_t k = 0; k < r->obj[i].n; k++) {
			free(r->obj[i].names[k]);
			free(r->obj[i].values[k]);
		}
		free(r->obj[i].names);
		free(r->obj[i].values);
	}
	free(r->obj);
	r->obj = NULL;
	r->nobj = 0;
	r->rc = QSG_OK;
	r->text[0] = '\0';
	r->oom = false;
}

/* Value of attribute name in o; NULL when absent. */
const char *obj_get(const struct robj *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->names[i] != NULL && strcmp(o->names[i], name) == 0)
			return o->values[i];
	return NULL;
}

/* Run one command; r is cleared first. Returns r->rc. */
int do_admin(qsg_conn *c, const char *cmd, struct reply *r)
{
	reply_clear(r);
	r->rc = qsg_admin(c, cmd, collect_cb, r, r->text, sizeof r->text);
	if (r->oom) {
		r->rc = QSG_RC_STORAGE_NOT_AVAILABLE;
		snprintf(r->text, sizeof r->text, "qsgadm: out of memory");
	}
	if (r->text[0] == '\0' && r->rc != QSG_OK)
		snprintf(r->text, sizeof r->text, "%s (%d): %s", qsg_reason_name(r->rc), r->rc,
			 qsg_reason_text(r->rc));
	return r->rc;
}

/* ------------------------------------------------------------------------
 * Connections to one member
 * ------------------------------------------------------------------------ */

/* Connect with a bounded reconnect timeout (libqsg reads it from the
 * environment at connect time). */
int connect_timeout(const char *list, double timeout_s, qsg_conn **c, char *errmsg)
{
	char buf[32];
	const char *old = getenv("QSG_RECONNECT_TIMEOUT");
	char *saved = old != NULL ? strdup(old) : NULL;
	snprintf(buf, sizeof buf, "%.3f", timeout_s);
	setenv("QSG_RECONNECT_TIMEOUT", buf, 1);
	int rc = qsg_connect(list, "qsgadm", c, errmsg);
	if (saved != NULL) {
		setenv("QSG_RECONNECT_TIMEOUT", saved, 1);
		free(saved);
	} else {
		unsetenv("QSG_RECONNECT_TIMEOUT");
	}
	if (rc == QSG_OK)
		qsg_set_reconnect_timeout(*c, (int)(timeout_s * 1000));
	return rc;
}

/* ------------------------------------------------------------------------
 * qsgadm status and check: the QMSTATUS summary
 * ------------------------------------------------------------------------ */

const struct robj *summary_of(const struct reply *r)
{
	for (size_t i = 0; i < r->nobj; i++)
		if (obj_get(&r->obj[i], "QUORUM") != NULL)
			return &r->obj[i];
	return NULL;
}
