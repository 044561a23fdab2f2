/* State machine, channel authentication rules (docs/security.md "Channel
 * authentication (CHLAUTH)"): the table (sorted by key), CHLAUTH_SET with
 * its actions, its command body and the rules in snapshots (format 11).
 * Pure: apply only copies strings. Which rule applies to a connection is
 * chlmatch.c's.
 *
 * Command body (after the generic fields): u8 action, then the rule: str
 * profile, u8 type, str address, str sslpeer, str clntuser, u8 usersrc,
 * u8 warn, str mcauser, str descr, str addrlist. */
#include <stdlib.h>
#include <string.h>

#include "chlmatch.h"
#include "fsm_int.h"
#include "sorted.h"

static int cmp_key(const void *key, const void *elem)
{
	const struct fsm_chlauth *a = key, *b = elem;
	int c = strcmp(a->profile, b->profile);
	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if ((c = strcmp(a->address, b->address)) != 0)
		return c;
	if ((c = strcmp(a->sslpeer, b->sslpeer)) != 0)
		return c;
	return strcmp(a->clntuser, b->clntuser);
}

static struct fsm_chlauth *rule_find(const struct fsm *f, const struct fsm_chlauth *key,
				     size_t *pos)
{
	bool found;
	size_t i =
	    sorted_find(f->chlauths, f->nchlauths, sizeof *f->chlauths, key, cmp_key, &found);
	if (pos != NULL)
		*pos = i;
	return found ? &f->chlauths[i] : NULL;
}

/* --- codec ---------------------------------------------------------------- */

static void put_rule(struct qsg_wbuf *w, const struct fsm_chlauth *a)
{
	qsg_put_str(w, a->profile);
	qsg_put_u8(w, a->type);
	qsg_put_str(w, a->address);
	qsg_put_str(w, a->sslpeer);
	qsg_put_str(w, a->clntuser);
	qsg_put_u8(w, a->usersrc);
	qsg_put_u8(w, a->warn);
	qsg_put_str(w, a->mcauser);
	qsg_put_str(w, a->descr);
	qsg_put_str(w, a->addrlist);
}

static void get_rule(struct qsg_rbuf *r, struct fsm_chlauth *a)
{
	qsg_get_str(r, a->profile, sizeof a->profile);
	a->type = qsg_get_u8(r);
	qsg_get_str(r, a->address, sizeof a->address);
	qsg_get_str(r, a->sslpeer, sizeof a->sslpeer);
	qsg_get_str(r, a->clntuser, sizeof a->clntuser);
	a->usersrc = qsg_get_u8(r);
	a->warn = qsg_get_u8(r);
	qsg_get_str(r, a->mcauser, sizeof a->mcauser);
	qsg_get_str(r, a->descr, sizeof a->descr);
	qsg_get_str(r, a->addrlist, sizeof a->addrlist);
}

#define BAD(...) qsg_errf(errmsg, QSG_RC_BAD_FRAME, __VA_ARGS__)

/* A rule's fields; keys_only: REMOVE / REMOVEALL (the rest must be empty
 * but for BLOCKADDR's list, which REMOVE takes addresses off). */
static int rule_check(const struct fsm_chlauth *a, uint8_t action, char *errmsg)
{
	bool rmall = action == FSM_CHL_REMOVEALL, rm = action == FSM_CHL_REMOVE;
	if (a->type < FSM_CHL_BLOCKADDR || a->type > FSM_CHL_USERMAP)
		return BAD("channel authentication rule type %u", a->type);
	if (chlmatch_profile_why(a->profile) != NULL)
		return BAD("channel authentication rule: bad profile");
	if (a->warn > 1 || (a->descr[0] != '\0' && (rm || rmall)))
		return BAD("channel authentication rule: bad WARN or DESCR");
	if (a->type == FSM_CHL_BLOCKADDR) {
		if (strcmp(a->profile, "*") != 0 || a->address[0] != '\0' ||
		    a->sslpeer[0] != '\0' || a->clntuser[0] != '\0' || a->usersrc != 0 ||
		    a->mcauser[0] != '\0')
			return BAD("BLOCKADDR rule: profile not * or a map's field given");
		if (rmall ? a->addrlist[0] != '\0' : chlmatch_addrlist_why(a->addrlist) != NULL)
			return BAD("BLOCKADDR rule: bad ADDRLIST");
		return QSG_OK;
	}
	if (a->addrlist[0] != '\0')
		return BAD("channel authentication map with an ADDRLIST");
	if (rmall)
		return a->address[0] == '\0' && a->sslpeer[0] == '\0' && a->clntuser[0] == '\0' &&
			       a->usersrc == 0 && a->mcauser[0] == '\0' && a->warn == 0
			   ? QSG_OK
			   : BAD("REMOVEALL of channel authentication maps with key fields");
	if (chlmatch_addr_why(a->address) != NULL)
		return BAD("channel authentication map: bad ADDRESS");
	if ((a->type == FSM_CHL_SSLPEERMAP) != (a->sslpeer[0] != '\0') ||
	    (a->sslpeer[0] != '\0' && chlmatch_peer_why(a->sslpeer) != NULL))
		return BAD("channel authentication map: bad SSLPEER");
	if ((a->type == FSM_CHL_USERMAP) != (a->clntuser[0] != '\0') ||
	    (a->clntuser[0] != '\0' && !fsm_user_name_valid(a->clntuser)))
		return BAD("channel authentication map: bad CLNTUSER");
	if (rm)
		return a->usersrc == 0 && a->mcauser[0] == '\0' && a->warn == 0
			   ? QSG_OK
			   : BAD("REMOVE of a channel authentication map with its values");
	if (a->usersrc < FSM_CHL_MAP || a->usersrc > FSM_CHL_CHANNEL)
		return BAD("channel authentication map: USERSRC %u", a->usersrc);
	if ((a->usersrc == FSM_CHL_MAP) != (a->mcauser[0] != '\0') ||
	    (a->mcauser[0] != '\0' && !fsm_user_name_valid(a->mcauser)))
		return BAD("channel authentication map: bad MCAUSER");
	return QSG_OK;
}

void chlauth_encode(const struct fsm_chlauth *a, struct qsg_wbuf *w)
{
	qsg_put_u8(w, a->action);
	put_rule(w, a);
}

int chlauth_decode(struct qsg_rbuf *r, struct fsm_chlauth *a, char *errmsg)
{
	memset(a, 0, sizeof *a);
	a->action = qsg_get_u8(r);
	get_rule(r, a);
	if (r->err != QSG_OK)
		return BAD("chlauth command truncated or a field too long");
	if (a->action < FSM_CHL_ADD || a->action > FSM_CHL_REMOVEALL)
		return BAD("chlauth action %u", a->action);
	return rule_check(a, a->action, errmsg);
}

/* --- apply ---------------------------------------------------------------- */

static void rule_remove(struct fsm *f, size_t pos)
{
	memmove(&f->chlauths[pos], &f->chlauths[pos + 1],
		(f->nchlauths - pos - 1) * sizeof *f->chlauths);
	f->nchlauths--;
}

static int rule_insert(struct fsm *f, size_t pos, const struct fsm_chlauth *k)
{
	if (sorted_grow((void **)&f->chlauths, &f->capchlauths, f->nchlauths,
			sizeof *f->chlauths) != QSG_OK)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	memmove(&f->chlauths[pos + 1], &f->chlauths[pos],
		(f->nchlauths - pos) * sizeof *f->chlauths);
	f->nchlauths++;
	f->chlauths[pos] = *k;
	f->chlauths[pos].action = 0;
	return QSG_OK;
}

static bool list_has(const char *list, const char *item)
{
	size_t n = strlen(item);
	for (const char *p = list; *p != '\0';) {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == n && memcmp(p, item, n) == 0)
			return true;
		p += len + (e != NULL);
	}
	return false;
}

/* BLOCKADDR's list: out = base with the items of `items` added (add) or
 * taken off; QSG_RC_BAD_ATTR when the result does not fit. */
static int list_edit(const char *base, const char *items, bool add, char *out)
{
	char tmp[FSM_CHL_ADDRLIST_MAX + 1];
	size_t n = 0;
	const char *src[2] = {base, add ? items : NULL};
	for (int s = 0; s < 2 && src[s] != NULL; s++) {
		for (const char *p = src[s]; *p != '\0';) {
			const char *e = strchr(p, ',');
			size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
			char item[FSM_CHL_ADDR_MAX + 1];
			if (len > 0 && len <= FSM_CHL_ADDR_MAX) {
				memcpy(item, p, len);
				item[len] = '\0';
				tmp[n] = '\0';
				bool keep = add ? !list_has(tmp, item) : !list_has(items, item);
				if (keep) {
					if (n + (n > 0) + len > FSM_CHL_ADDRLIST_MAX)
						return QSG_RC_BAD_ATTR;
					if (n > 0)
						tmp[n++] = ',';
					memcpy(tmp + n, item, len);
					n += len;
				}
			}
			p += len + (e != NULL);
		}
	}
	tmp[n] = '\0';
	memcpy(out, tmp, n + 1);
	return QSG_OK;
}

static int blockaddr_set(struct fsm *f, const struct fsm_chlauth *k)
{
	size_t pos;
	struct fsm_chlauth *a = rule_find(f, k, &pos);
	char list[FSM_CHL_ADDRLIST_MAX + 1];
	int rc;
	switch (k->action) {
	case FSM_CHL_REMOVEALL:
		if (a != NULL)
			rule_remove(f, pos);
		return QSG_OK;
	case FSM_CHL_REMOVE:
		if (a == NULL)
			return QSG_RC_UNKNOWN_OBJECT;
		if ((rc = list_edit(a->addrlist, k->addrlist, false, list)) != QSG_OK)
			return rc;
		if (list[0] == '\0')
			rule_remove(f, pos);
		else
			memcpy(a->addrlist, list, sizeof list);
		return QSG_OK;
	case FSM_CHL_ADD:
		if (a != NULL) {
			if ((rc = list_edit(a->addrlist, k->addrlist, true, list)) != QSG_OK)
				return rc;
			memcpy(a->addrlist, list, sizeof list);
			a->warn = k->warn;
			if (k->descr[0] != '\0')
				memcpy(a->descr, k->descr, sizeof a->descr);
			return QSG_OK;
		}
		return rule_insert(f, pos, k);
	default: /* REPLACE */
		if (a == NULL)
			return rule_insert(f, pos, k);
		*a = *k;
		a->action = 0;
		return QSG_OK;
	}
}

static int map_set(struct fsm *f, const struct fsm_chlauth *k)
{
	size_t pos;
	struct fsm_chlauth *a = rule_find(f, k, &pos);
	switch (k->action) {
	case FSM_CHL_REMOVEALL:
		for (size_t i = f->nchlauths; i-- > 0;)
			if (f->chlauths[i].type == k->type &&
			    strcmp(f->chlauths[i].profile, k->profile) == 0)
				rule_remove(f, i);
		return QSG_OK;
	case FSM_CHL_REMOVE:
		if (a == NULL)
			return QSG_RC_UNKNOWN_OBJECT;
		rule_remove(f, pos);
		return QSG_OK;
	case FSM_CHL_ADD:
		if (a != NULL)
			return QSG_RC_OBJECT_EXISTS;
		return rule_insert(f, pos, k);
	default: /* REPLACE */
		if (a == NULL)
			return rule_insert(f, pos, k);
		*a = *k;
		a->action = 0;
		return QSG_OK;
	}
}

int op_chlauth_set(struct fsm *f, const struct fsm_cmd *c)
{
	const struct fsm_chlauth *k = &c->chlauth;
	int rc = k->type == FSM_CHL_BLOCKADDR ? blockaddr_set(f, k) : map_set(f, k);
	if (rc == QSG_OK)
		f->auth_gen++;
	return rc;
}

/* --- queries -------------------------------------------------------------- */

const struct fsm_chlauth *fsm_chlauth_rules(struct fsm *f, size_t *n)
{
	*n = f->nchlauths;
	return f->chlauths;
}

void fsm_chlauth_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_chlauth *r),
			 void *arg)
{
	for (size_t i = 0; i < f->nchlauths; i++)
		if (cb(arg, &f->chlauths[i]) != 0)
			return;
}

/* --- snapshot (format 11) ------------------------------------------------- */

/* u32 n, then n rules (put_rule) in key order. */
void chlauths_snap(const struct fsm *f, struct qsg_wbuf *out)
{
	qsg_put_u32(out, (uint32_t)f->nchlauths);
	for (size_t i = 0; i < f->nchlauths; i++)
		put_rule(out, &f->chlauths[i]);
}

int chlauths_restore(struct fsm *g, struct qsg_rbuf *r, char *errmsg)
{
	uint32_t n = qsg_get_u32(r);
	/* Each rule takes at least 10 bytes: no allocation past the data. */
	if (r->err != QSG_OK || n > qsg_rbuf_left(r) / 10)
		return BAD("snapshot: bad channel authentication rule count");
	if (n > 0 && (g->chlauths = calloc(n, sizeof *g->chlauths)) == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	g->capchlauths = n;
	for (uint32_t i = 0; i < n; i++) {
		struct fsm_chlauth *a = &g->chlauths[i];
		get_rule(r, a);
		if (r->err != QSG_OK)
			return BAD("snapshot: channel authentication rule %u truncated", i);
		int rc = rule_check(a, FSM_CHL_REPLACE, errmsg);
		if (rc != QSG_OK)
			return rc;
		if (i > 0 && cmp_key(&g->chlauths[i - 1], a) >= 0)
			return BAD("snapshot: channel authentication rules out of order");
		g->nchlauths = i + 1;
	}
	return QSG_OK;
}
