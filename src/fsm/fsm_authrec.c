/* State machine, authority records (docs/security.md "Authority records"):
 * the table (sorted by key), AUTHREC_SET / AUTHREC_DELETE, their command
 * bodies, the records in snapshots (format 10) and the evaluation
 * (fsm_authority). Pure: apply only copies and combines bits.
 *
 * Command body (after the generic fields): str profile, u8 objtype, u8
 * enttype, str entity, u32 scope, then for SET u32 auth (to add) and u32 rmv
 * (to remove; disjoint from auth). */
#include <stdlib.h>
#include <string.h>

#include "authmatch.h"
#include "fsm_int.h"
#include "sorted.h"

uint32_t fsm_auth_valid(uint8_t objtype)
{
	switch (objtype) {
	case FSM_AUTHOBJ_QUEUE:
		return FSM_AUTH_BROWSE | FSM_AUTH_GET | FSM_AUTH_INQ | FSM_AUTH_PUT | FSM_AUTH_SET |
		       FSM_AUTH_CHG | FSM_AUTH_CLR | FSM_AUTH_CRT | FSM_AUTH_DLT | FSM_AUTH_DSP;
	case FSM_AUTHOBJ_CHANNEL:
		return FSM_AUTH_CHG | FSM_AUTH_CRT | FSM_AUTH_CTRL | FSM_AUTH_DLT | FSM_AUTH_DSP;
	case FSM_AUTHOBJ_QMGR:
		return FSM_AUTH_CONNECT | FSM_AUTH_INQ | FSM_AUTH_SET | FSM_AUTH_CHG |
		       FSM_AUTH_CTRL | FSM_AUTH_DSP;
	default:
		return 0;
	}
}

static int cmp_key(const void *key, const void *elem)
{
	const struct fsm_authrec *a = key, *b = elem;
	int c = strcmp(a->profile, b->profile);
	if (c != 0)
		return c;
	if (a->objtype != b->objtype)
		return a->objtype < b->objtype ? -1 : 1;
	if (a->enttype != b->enttype)
		return a->enttype < b->enttype ? -1 : 1;
	if ((c = strcmp(a->entity, b->entity)) != 0)
		return c;
	if (a->scope != b->scope)
		return a->scope < b->scope ? -1 : 1;
	return 0;
}

static struct fsm_authrec *rec_find(const struct fsm *f, const struct fsm_authrec *key, size_t *pos)
{
	bool found;
	size_t i =
	    sorted_find(f->authrecs, f->nauthrecs, sizeof *f->authrecs, key, cmp_key, &found);
	if (pos != NULL)
		*pos = i;
	return found ? &f->authrecs[i] : NULL;
}

/* --- codec ---------------------------------------------------------------- */

static void put_key(struct qsg_wbuf *w, const struct fsm_authrec *a)
{
	qsg_put_str(w, a->profile);
	qsg_put_u8(w, a->objtype);
	qsg_put_u8(w, a->enttype);
	qsg_put_str(w, a->entity);
	qsg_put_u32(w, a->scope);
}

static void get_key(struct qsg_rbuf *r, struct fsm_authrec *a)
{
	qsg_get_str(r, a->profile, sizeof a->profile);
	a->objtype = qsg_get_u8(r);
	a->enttype = qsg_get_u8(r);
	qsg_get_str(r, a->entity, sizeof a->entity);
	a->scope = qsg_get_u32(r);
}

/* The key's fields and the bits (auth and rmv) of a decoded record. */
static int rec_check(const struct fsm_authrec *a, char *errmsg)
{
	uint32_t valid = fsm_auth_valid(a->objtype);
	if (valid == 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "authority record object type %u",
				a->objtype);
	if (a->enttype != FSM_AUTHENT_PRINCIPAL && a->enttype != FSM_AUTHENT_GROUP)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "authority record entity type %u",
				a->enttype);
	if (!fsm_user_name_valid(a->entity))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "authority record: bad entity name");
	if (a->objtype == FSM_AUTHOBJ_QMGR ? strcmp(a->profile, "**") != 0
					   : !authmatch_valid(a->profile))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "authority record: bad profile");
	if ((a->auth & ~valid) != 0 || (a->rmv & ~valid) != 0 || (a->auth & a->rmv) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"authority record: bits 0x%x/0x%x for object type %u", a->auth,
				a->rmv, a->objtype);
	return QSG_OK;
}

void authrec_encode(uint8_t op, const struct fsm_authrec *a, struct qsg_wbuf *w)
{
	put_key(w, a);
	if (op != FSM_OP_AUTHREC_SET)
		return;
	qsg_put_u32(w, a->auth);
	qsg_put_u32(w, a->rmv);
}

int authrec_decode(uint8_t op, struct qsg_rbuf *r, struct fsm_authrec *a, char *errmsg)
{
	memset(a, 0, sizeof *a);
	get_key(r, a);
	if (op == FSM_OP_AUTHREC_SET) {
		a->auth = qsg_get_u32(r);
		a->rmv = qsg_get_u32(r);
	}
	if (r->err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "authrec command truncated or too long");
	return rec_check(a, errmsg);
}

/* --- apply ---------------------------------------------------------------- */

int op_authrec_set(struct fsm *f, const struct fsm_cmd *c)
{
	size_t pos;
	const struct fsm_authrec *k = &c->authrec;
	struct fsm_authrec *a = rec_find(f, k, &pos);
	if (a == NULL) {
		if (sorted_grow((void **)&f->authrecs, &f->capauthrecs, f->nauthrecs,
				sizeof *f->authrecs) != QSG_OK)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		memmove(&f->authrecs[pos + 1], &f->authrecs[pos],
			(f->nauthrecs - pos) * sizeof *f->authrecs);
		f->nauthrecs++;
		a = &f->authrecs[pos];
		*a = *k;
		a->auth = 0;
	}
	a->auth = (a->auth & ~k->rmv) | k->auth;
	a->rmv = 0;
	f->auth_gen++;
	return QSG_OK;
}

int op_authrec_delete(struct fsm *f, const struct fsm_cmd *c)
{
	size_t pos;
	if (rec_find(f, &c->authrec, &pos) == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	memmove(&f->authrecs[pos], &f->authrecs[pos + 1],
		(f->nauthrecs - pos - 1) * sizeof *f->authrecs);
	f->nauthrecs--;
	f->auth_gen++;
	return QSG_OK;
}

/* --- queries -------------------------------------------------------------- */

void fsm_authrec_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_authrec *r),
			 void *arg)
{
	for (size_t i = 0; i < f->nauthrecs; i++)
		if (cb(arg, &f->authrecs[i]) != 0)
			return;
}

int fsm_authrec_get(struct fsm *f, const struct fsm_authrec *key, struct fsm_authrec *out)
{
	const struct fsm_authrec *a = rec_find(f, key, NULL);
	if (a == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	*out = *a;
	return QSG_OK;
}

uint64_t fsm_authrec_generation(struct fsm *f)
{
	return f->auth_gen;
}

/* One entity: the most specific matching profile of scope `scope`; -1 when
 * no record of that scope matches. */
static int64_t entity_auth(const struct fsm *f, uint32_t scope, uint8_t enttype, const char *entity,
			   uint8_t objtype, const char *name)
{
	const struct fsm_authrec *best = NULL;
	for (size_t i = 0; i < f->nauthrecs; i++) {
		const struct fsm_authrec *a = &f->authrecs[i];
		if (a->objtype != objtype || a->enttype != enttype || a->scope != scope ||
		    strcmp(a->entity, entity) != 0 || !authmatch(a->profile, name))
			continue;
		if (best == NULL || authmatch_cmp(a->profile, best->profile) < 0)
			best = a;
	}
	return best != NULL ? (int64_t)best->auth : -1;
}

static uint32_t entity_eval(const struct fsm *f, uint32_t member_id, uint8_t enttype,
			    const char *entity, uint8_t objtype, const char *name)
{
	int64_t m = member_id != 0 ? entity_auth(f, member_id, enttype, entity, objtype, name) : -1;
	if (m < 0)
		m = entity_auth(f, 0, enttype, entity, objtype, name);
	return m < 0 ? 0 : (uint32_t)m;
}

uint32_t fsm_authority(struct fsm *f, uint32_t member_id, const char *user,
		       const char (*groups)[FSM_NAME_MAX + 1], unsigned ngroups, uint8_t objtype,
		       const char *name)
{
	uint32_t mask = 0;
	if (user != NULL && user[0] != '\0')
		mask |= entity_eval(f, member_id, FSM_AUTHENT_PRINCIPAL, user, objtype, name);
	for (unsigned i = 0; i < ngroups; i++)
		mask |= entity_eval(f, member_id, FSM_AUTHENT_GROUP, groups[i], objtype, name);
	return mask;
}

/* --- snapshot (format 10) ------------------------------------------------- */

/* u32 n, then n x {key, u32 auth}, in key order. */
void authrecs_snap(const struct fsm *f, struct qsg_wbuf *out)
{
	qsg_put_u32(out, (uint32_t)f->nauthrecs);
	for (size_t i = 0; i < f->nauthrecs; i++) {
		put_key(out, &f->authrecs[i]);
		qsg_put_u32(out, f->authrecs[i].auth);
	}
}

int authrecs_restore(struct fsm *g, struct qsg_rbuf *r, char *errmsg)
{
	uint32_t n = qsg_get_u32(r);
	/* Each record takes at least 16 bytes: no allocation past the data. */
	if (r->err != QSG_OK || n > qsg_rbuf_left(r) / 16)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot: bad authority record count");
	if (n > 0 && (g->authrecs = calloc(n, sizeof *g->authrecs)) == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	g->capauthrecs = n;
	for (uint32_t i = 0; i < n; i++) {
		struct fsm_authrec *a = &g->authrecs[i];
		get_key(r, a);
		a->auth = qsg_get_u32(r);
		if (r->err != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot: authority record %u truncated", i);
		int rc = rec_check(a, errmsg);
		if (rc != QSG_OK)
			return rc;
		if (i > 0 && cmp_key(&g->authrecs[i - 1], a) >= 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot: authority records out of order");
		g->nauthrecs = i + 1;
	}
	return QSG_OK;
}
