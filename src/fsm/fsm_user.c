/* State machine, users (docs/security.md "Authentication"): the user table
 * (sorted by name), USER_DEFINE / USER_ALTER / USER_DELETE, their command
 * bodies and the table in snapshots (format 9). The credential arrives
 * hashed: apply never sees a password and never hashes (salt and PBKDF2
 * are computed by the member that took the command, before it submits).
 *
 * Command body (after the generic fields): str name, then for DEFINE and
 * ALTER u32 set (FSM_UA_*), then only the parts set says, in this order:
 * groups (u8 n <= 16, n x str), str descr, credential (u8 scheme, u32
 * iterations, 16 bytes salt, 32 bytes hash). DEFINE needs FSM_UA_CRED;
 * ALTER needs a set that is not 0. */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"
#include "sorted.h"

bool fsm_user_name_valid(const char *s)
{
	if (!qsg_name_ok(s, FSM_NAME_MAX, false))
		return false;
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			return false;
	return true;
}

static int cmp_user(const void *key, const void *elem)
{
	return strcmp((const char *)key, ((const struct fsm_user *)elem)->name);
}

static struct fsm_user *user_find(const struct fsm *f, const char *name, size_t *pos)
{
	bool found;
	size_t i = sorted_find(f->users, f->nusers, sizeof *f->users, name, cmp_user, &found);
	if (pos != NULL)
		*pos = i;
	return found ? &f->users[i] : NULL;
}

/* --- codec ---------------------------------------------------------------- */

static void put_groups(struct qsg_wbuf *w, const struct fsm_user *u)
{
	qsg_put_u8(w, u->ngroups);
	for (unsigned i = 0; i < u->ngroups && i < FSM_USER_GROUPS_MAX; i++)
		qsg_put_str(w, u->groups[i]);
}

static void put_cred(struct qsg_wbuf *w, const struct fsm_user *u)
{
	qsg_put_u8(w, u->scheme);
	qsg_put_u32(w, u->iterations);
	qsg_put_bytes(w, u->salt, FSM_USER_SALT_LEN);
	qsg_put_bytes(w, u->hash, FSM_USER_HASH_LEN);
}

static void get_groups(struct qsg_rbuf *r, struct fsm_user *u)
{
	u->ngroups = qsg_get_u8(r);
	if (r->err == QSG_OK && u->ngroups > FSM_USER_GROUPS_MAX) {
		r->err = QSG_RC_BAD_FRAME;
		return;
	}
	for (unsigned i = 0; i < u->ngroups && r->err == QSG_OK; i++)
		qsg_get_str(r, u->groups[i], sizeof u->groups[i]);
}

static void get_cred(struct qsg_rbuf *r, struct fsm_user *u)
{
	u->scheme = qsg_get_u8(r);
	u->iterations = qsg_get_u32(r);
	qsg_get_bytes(r, u->salt, FSM_USER_SALT_LEN);
	qsg_get_bytes(r, u->hash, FSM_USER_HASH_LEN);
}

/* Names, groups (valid, no repeats), scheme and iterations of a decoded
 * record; what is not in `parts` is not looked at. */
static int user_check(const struct fsm_user *u, uint32_t parts, char *errmsg)
{
	if (!fsm_user_name_valid(u->name))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad user name");
	for (unsigned i = 0; (parts & FSM_UA_GROUPS) && i < u->ngroups; i++) {
		if (!fsm_user_name_valid(u->groups[i]))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad group name");
		for (unsigned j = 0; j < i; j++)
			if (strcmp(u->groups[i], u->groups[j]) == 0)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "group %s listed twice",
						u->groups[i]);
	}
	if ((parts & FSM_UA_CRED) &&
	    (u->scheme != FSM_CRED_PBKDF2_SHA256 || u->iterations < FSM_USER_ITER_MIN ||
	     u->iterations > FSM_USER_ITER_MAX))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "credential scheme %u iterations %u",
				u->scheme, u->iterations);
	return QSG_OK;
}

void user_encode(uint8_t op, const struct fsm_user *u, struct qsg_wbuf *w)
{
	qsg_put_str(w, u->name);
	if (op == FSM_OP_USER_DELETE)
		return;
	qsg_put_u32(w, u->set);
	if (u->set & FSM_UA_GROUPS)
		put_groups(w, u);
	if (u->set & FSM_UA_DESCR)
		qsg_put_str(w, u->descr);
	if (u->set & FSM_UA_CRED)
		put_cred(w, u);
}

int user_decode(uint8_t op, struct qsg_rbuf *r, struct fsm_user *u, char *errmsg)
{
	memset(u, 0, sizeof *u);
	qsg_get_str(r, u->name, sizeof u->name);
	if (op != FSM_OP_USER_DELETE) {
		u->set = qsg_get_u32(r);
		if (r->err == QSG_OK && (u->set & ~(uint32_t)FSM_UA_ALL) != 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "unknown user bits 0x%x", u->set);
		if (u->set & FSM_UA_GROUPS)
			get_groups(r, u);
		if (u->set & FSM_UA_DESCR)
			qsg_get_str(r, u->descr, sizeof u->descr);
		if (u->set & FSM_UA_CRED)
			get_cred(r, u);
	}
	if (r->err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "user command truncated or too long");
	if (op == FSM_OP_USER_DEFINE && !(u->set & FSM_UA_CRED))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "USER_DEFINE without a credential");
	if (op == FSM_OP_USER_ALTER && u->set == 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "USER_ALTER changes nothing");
	return user_check(u, u->set, errmsg);
}

/* --- apply ---------------------------------------------------------------- */

/* Copy the parts of c->user that `parts` names into u. */
static void user_assign(struct fsm_user *u, const struct fsm_user *src, uint32_t parts, int64_t now)
{
	if (parts & FSM_UA_GROUPS) {
		memset(u->groups, 0, sizeof u->groups);
		u->ngroups = src->ngroups;
		memcpy(u->groups, src->groups, sizeof u->groups[0] * src->ngroups);
	}
	if (parts & FSM_UA_DESCR)
		memcpy(u->descr, src->descr, sizeof u->descr);
	if (parts & FSM_UA_CRED) {
		u->scheme = src->scheme;
		u->iterations = src->iterations;
		memcpy(u->salt, src->salt, sizeof u->salt);
		memcpy(u->hash, src->hash, sizeof u->hash);
	}
	u->set = 0;
	u->alt_ms = now;
}

int op_user_define(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	size_t pos;
	struct fsm_user *u = user_find(f, c->user.name, &pos);
	if (u != NULL && !(c->flags & FSM_F_REPLACE))
		return QSG_RC_OBJECT_EXISTS;
	if (u == NULL) {
		if (sorted_grow((void **)&f->users, &f->capusers, f->nusers, sizeof *f->users) !=
		    QSG_OK)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		memmove(&f->users[pos + 1], &f->users[pos], (f->nusers - pos) * sizeof *f->users);
		f->nusers++;
		u = &f->users[pos];
	}
	memset(u, 0, sizeof *u);
	memcpy(u->name, c->user.name, sizeof u->name);
	/* DEFINE sets every field: what was not given is empty. */
	user_assign(u, &c->user, FSM_UA_ALL, now);
	f->auth_gen++; /* connections of that user refresh their identity */
	return QSG_OK;
}

int op_user_alter(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	struct fsm_user *u = user_find(f, c->user.name, NULL);
	if (u == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	user_assign(u, &c->user, c->user.set, now);
	f->auth_gen++;
	return QSG_OK;
}

int op_user_delete(struct fsm *f, const struct fsm_cmd *c)
{
	size_t pos;
	if (user_find(f, c->user.name, &pos) == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	memmove(&f->users[pos], &f->users[pos + 1], (f->nusers - pos - 1) * sizeof *f->users);
	f->nusers--;
	f->auth_gen++;
	return QSG_OK;
}

/* --- queries -------------------------------------------------------------- */

int fsm_user_get(struct fsm *f, const char *name, struct fsm_user *out)
{
	const struct fsm_user *u = user_find(f, name, NULL);
	if (u == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	*out = *u;
	return QSG_OK;
}

void fsm_user_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_user *u), void *arg)
{
	for (size_t i = 0; i < f->nusers; i++)
		if (cb(arg, &f->users[i]) != 0)
			return;
}

/* --- snapshot (format 9) -------------------------------------------------- */

/* u32 n, then n x {str name, groups, str descr, credential, i64 alt_ms}, in
 * name order. */
void users_snap(const struct fsm *f, struct qsg_wbuf *out)
{
	qsg_put_u32(out, (uint32_t)f->nusers);
	for (size_t i = 0; i < f->nusers; i++) {
		const struct fsm_user *u = &f->users[i];
		qsg_put_str(out, u->name);
		put_groups(out, u);
		qsg_put_str(out, u->descr);
		put_cred(out, u);
		qsg_put_i64(out, u->alt_ms);
	}
}

int users_restore(struct fsm *g, struct qsg_rbuf *r, char *errmsg)
{
	uint32_t n = qsg_get_u32(r);
	/* Each record takes at least 61 bytes: no allocation past the data. */
	if (r->err != QSG_OK || n > qsg_rbuf_left(r) / 61)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot: bad user count");
	if (n > 0 && (g->users = calloc(n, sizeof *g->users)) == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	g->capusers = n;
	for (uint32_t i = 0; i < n; i++) {
		struct fsm_user *u = &g->users[i];
		qsg_get_str(r, u->name, sizeof u->name);
		get_groups(r, u);
		qsg_get_str(r, u->descr, sizeof u->descr);
		get_cred(r, u);
		u->alt_ms = qsg_get_i64(r);
		if (r->err != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot: user %u truncated", i);
		int rc = user_check(u, FSM_UA_ALL, errmsg);
		if (rc != QSG_OK)
			return rc;
		if (i > 0 && strcmp(g->users[i - 1].name, u->name) >= 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot: users out of order");
		g->nusers = i + 1;
	}
	return QSG_OK;
}
