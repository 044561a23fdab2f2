/* MQSC items of SET CHLAUTH and DISPLAY CHLAUTH (docs/security.md "Channel
 * authentication (CHLAUTH)", docs/admin.md): TYPE(BLOCKADDR | ADDRESSMAP |
 * SSLPEERMAP | USERMAP), ADDRLIST(p, ...), ADDRESS(p), SSLPEER(dn),
 * CLNTUSER(u), USERSRC(MAP | NOACCESS | CHANNEL), MCAUSER(u), WARN(YES |
 * NO), DESCR(text), ACTION(ADD | REPLACE | REMOVE | REMOVEALL); DISPLAY:
 * TYPE, MATCH(RUNCHECK | EXACT | GENERIC) with ADDRESS, CLNTUSER and SSLPEER
 * for RUNCHECK. A pattern that is not well formed is refused with the
 * reason, and so is an attribute that would mean nothing for the rule
 * (MCAUSER without USERSRC(MAP), WARN(YES) on a rule that never refuses):
 * a rule is never stored to match nothing. User names are folded to upper
 * case as USER's are. See mqsc.h. */
#include <stdio.h>
#include <string.h>

#include "common/qsg_err.h"
#include "fsm/chlmatch.h"
#include "mqsc_int.h"

static void fold(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

static int bad(const struct mqsc_cmd *cmd, const struct mqsc_attr *a, const char *why, char *errmsg)
{
	return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "%s CHLAUTH: %s %s (column %u)",
			mqsc_verb_name(cmd->verb), a->keyword, why, a->column);
}

static int need(const struct mqsc_cmd *cmd, const char *what, char *errmsg)
{
	return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "%s CHLAUTH(%s) %s", mqsc_verb_name(cmd->verb),
			cmd->name, what);
}

/* value (folded) among names[1..n-1]: its index; 0 when none. */
static unsigned word(const struct mqsc_attr *a, const char *const *names, unsigned n)
{
	char v[MQSC_VALUE_MAX + 1];
	mqsc_copy_str(v, sizeof v, a->value);
	fold(v);
	for (unsigned i = 1; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return 0;
}

static int user_value(const struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *out,
		      char *errmsg)
{
	char u[MQSC_VALUE_MAX + 1];
	mqsc_copy_str(u, sizeof u, a->value);
	fold(u);
	if (strlen(u) > FSM_NAME_MAX || !fsm_user_name_valid(u))
		return bad(cmd, a, "is not a user name (1-48 of A-Z 0-9 . _ / %)", errmsg);
	memcpy(out, u, strlen(u) + 1);
	return QSG_OK;
}

struct items {
	const struct mqsc_attr *type, *addrlist, *address, *sslpeer, *clntuser, *usersrc, *mcauser,
	    *warn, *descr, *action, *match;
};

static int collect(struct mqsc_cmd *cmd, struct items *it, char *errmsg)
{
	static const struct {
		const char *name;
		size_t off;
		bool set_only;
	} known[] = {
	    {"TYPE", offsetof(struct items, type), false},
	    {"ADDRLIST", offsetof(struct items, addrlist), true},
	    {"ADDRESS", offsetof(struct items, address), false},
	    {"SSLPEER", offsetof(struct items, sslpeer), false},
	    {"CLNTUSER", offsetof(struct items, clntuser), false},
	    {"USERSRC", offsetof(struct items, usersrc), true},
	    {"MCAUSER", offsetof(struct items, mcauser), true},
	    {"WARN", offsetof(struct items, warn), true},
	    {"DESCR", offsetof(struct items, descr), true},
	    {"ACTION", offsetof(struct items, action), true},
	    {"MATCH", offsetof(struct items, match), false},
	};
	memset(it, 0, sizeof *it);
	for (size_t i = 0; i < cmd->nattrs; i++) {
		const struct mqsc_attr *a = &cmd->attrs[i];
		size_t k = 0;
		while (k < sizeof known / sizeof known[0] && strcmp(known[k].name, a->keyword) != 0)
			k++;
		if (k == sizeof known / sizeof known[0] || !a->has_value ||
		    (known[k].set_only && cmd->verb != MQSC_SET) ||
		    (k == 10 && cmd->verb != MQSC_DISPLAY))
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"%s CHLAUTH: unknown attribute %s, or it needs a value "
					"(column %u)",
					mqsc_verb_name(cmd->verb), a->keyword, a->column);
		*(const struct mqsc_attr **)((char *)it + known[k].off) = a;
	}
	return QSG_OK;
}

static const char *const types[] = {"", "BLOCKADDR", "ADDRESSMAP", "SSLPEERMAP", "USERMAP"};
static const char *const usersrcs[] = {"", "MAP", "NOACCESS", "CHANNEL"};
static const char *const actions[] = {"", "ADD", "REPLACE", "REMOVE", "REMOVEALL"};
static const char *const matches[] = {"", "RUNCHECK", "EXACT", "GENERIC"};

static int display_items(struct mqsc_cmd *cmd, const struct items *it, char *errmsg)
{
	struct fsm_chlauth *r = &cmd->chlauth;
	cmd->chl_match = MQSC_CHL_GENERIC;
	if (it->match != NULL && (cmd->chl_match = (uint8_t)word(it->match, matches, 4)) == 0)
		return bad(cmd, it->match, "must be RUNCHECK, EXACT or GENERIC", errmsg);
	bool run = cmd->chl_match == MQSC_CHL_RUNCHECK;
	if (!run && (it->address != NULL || it->sslpeer != NULL || it->clntuser != NULL))
		return need(cmd, "takes ADDRESS, CLNTUSER and SSLPEER with MATCH(RUNCHECK) only",
			    errmsg);
	if (!run)
		return QSG_OK;
	if (strchr(cmd->name, '*') != NULL)
		return need(cmd, "MATCH(RUNCHECK) needs a channel name, not a profile", errmsg);
	if (it->type != NULL)
		return bad(cmd, it->type, "is not given with MATCH(RUNCHECK)", errmsg);
	if (it->address == NULL)
		return need(cmd, "MATCH(RUNCHECK) needs ADDRESS(the connection's address)", errmsg);
	mqsc_copy_str(r->address, sizeof r->address, it->address->value);
	if (it->sslpeer != NULL) {
		if (strlen(it->sslpeer->value) > FSM_CHL_PEER_MAX)
			return bad(cmd, it->sslpeer, "is too long", errmsg);
		mqsc_copy_str(r->sslpeer, sizeof r->sslpeer, it->sslpeer->value);
	}
	if (it->clntuser != NULL)
		return user_value(cmd, it->clntuser, r->clntuser, errmsg);
	return QSG_OK;
}

/* The fields the rule's type (and action) cannot take. */
static int refuse_others(const struct mqsc_cmd *cmd, const struct items *it, char *errmsg)
{
	const struct fsm_chlauth *r = &cmd->chlauth;
	bool block = r->type == FSM_CHL_BLOCKADDR, rmall = r->action == FSM_CHL_REMOVEALL;
	bool rm = r->action == FSM_CHL_REMOVE;
	const struct mqsc_attr *no[] = {
	    block || rmall ? it->address : NULL,
	    r->type != FSM_CHL_SSLPEERMAP || rmall ? it->sslpeer : NULL,
	    r->type != FSM_CHL_USERMAP || rmall ? it->clntuser : NULL,
	    !block || rmall ? it->addrlist : NULL,
	    block || rm || rmall ? it->usersrc : NULL,
	    block || rm || rmall ? it->mcauser : NULL,
	    rm || rmall ? it->warn : NULL,
	    rm || rmall ? it->descr : NULL,
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (no[i] != NULL)
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"SET CHLAUTH: %s is not given with TYPE(%s) ACTION(%s) "
					"(column %u)",
					no[i]->keyword, types[r->type], actions[r->action],
					no[i]->column);
	return QSG_OK;
}

static int set_items(struct mqsc_cmd *cmd, const struct items *it, char *errmsg)
{
	struct fsm_chlauth *r = &cmd->chlauth;
	const char *why;
	int rc;
	if (it->type == NULL)
		return need(cmd, "needs TYPE(BLOCKADDR | ADDRESSMAP | SSLPEERMAP | USERMAP)",
			    errmsg);
	if ((r->type = (uint8_t)word(it->type, types, 5)) == 0)
		return bad(cmd, it->type, "must be BLOCKADDR, ADDRESSMAP, SSLPEERMAP or USERMAP",
			   errmsg);
	r->action = FSM_CHL_ADD;
	if (it->action != NULL && (r->action = (uint8_t)word(it->action, actions, 5)) == 0)
		return bad(cmd, it->action, "must be ADD, REPLACE, REMOVE or REMOVEALL", errmsg);
	if ((rc = refuse_others(cmd, it, errmsg)) != QSG_OK)
		return rc;
	bool rmall = r->action == FSM_CHL_REMOVEALL, rm = r->action == FSM_CHL_REMOVE;
	if (r->type == FSM_CHL_BLOCKADDR) {
		if (strcmp(cmd->name, "*") != 0)
			return need(cmd, "TYPE(BLOCKADDR) is for every channel: give CHLAUTH('*')",
				    errmsg);
		if (it->addrlist == NULL && !rmall)
			return need(cmd, "TYPE(BLOCKADDR) needs ADDRLIST('address', ...)", errmsg);
		if (it->addrlist != NULL) {
			if ((why = chlmatch_addrlist_why(it->addrlist->value)) != NULL)
				return bad(cmd, it->addrlist, why, errmsg);
			mqsc_copy_str(r->addrlist, sizeof r->addrlist, it->addrlist->value);
		}
	} else if (!rmall) {
		if (it->address == NULL && r->type == FSM_CHL_ADDRESSMAP)
			return need(cmd, "TYPE(ADDRESSMAP) needs ADDRESS('pattern')", errmsg);
		mqsc_copy_str(r->address, sizeof r->address,
			      it->address != NULL ? it->address->value : "*");
		if ((why = chlmatch_addr_why(r->address)) != NULL)
			return bad(cmd, it->address, why, errmsg);
		if (r->type == FSM_CHL_SSLPEERMAP) {
			if (it->sslpeer == NULL)
				return need(cmd, "TYPE(SSLPEERMAP) needs SSLPEER('CN=...')",
					    errmsg);
			if ((why = chlmatch_peer_why(it->sslpeer->value)) != NULL)
				return bad(cmd, it->sslpeer, why, errmsg);
			mqsc_copy_str(r->sslpeer, sizeof r->sslpeer, it->sslpeer->value);
		}
		if (r->type == FSM_CHL_USERMAP) {
			if (it->clntuser == NULL)
				return need(cmd, "TYPE(USERMAP) needs CLNTUSER(user)", errmsg);
			if ((rc = user_value(cmd, it->clntuser, r->clntuser, errmsg)) != QSG_OK)
				return rc;
		}
		if (!rm) {
			r->usersrc = FSM_CHL_MAP;
			if (it->usersrc != NULL &&
			    (r->usersrc = (uint8_t)word(it->usersrc, usersrcs, 4)) == 0)
				return bad(cmd, it->usersrc, "must be MAP, NOACCESS or CHANNEL",
					   errmsg);
			if (r->usersrc == FSM_CHL_MAP && it->mcauser == NULL)
				return need(cmd, "USERSRC(MAP) needs MCAUSER(user)", errmsg);
			if (r->usersrc != FSM_CHL_MAP && it->mcauser != NULL)
				return bad(cmd, it->mcauser, "is only given with USERSRC(MAP)",
					   errmsg);
			if (it->mcauser != NULL &&
			    (rc = user_value(cmd, it->mcauser, r->mcauser, errmsg)) != QSG_OK)
				return rc;
		}
	}
	if (it->warn != NULL) {
		static const char *const yn[] = {"", "NO", "YES"};
		unsigned w = word(it->warn, yn, 3);
		if (w == 0)
			return bad(cmd, it->warn, "must be YES or NO", errmsg);
		r->warn = w == 2;
		if (r->warn && r->type != FSM_CHL_BLOCKADDR && r->usersrc != FSM_CHL_NOACCESS)
			return bad(cmd, it->warn,
				   "(YES) means something only with TYPE(BLOCKADDR) or "
				   "USERSRC(NOACCESS), the rules that refuse",
				   errmsg);
	}
	if (it->descr != NULL) {
		if (strlen(it->descr->value) > FSM_DESCR_MAX)
			return bad(cmd, it->descr, "is longer than 64 characters", errmsg);
		mqsc_copy_str(r->descr, sizeof r->descr, it->descr->value);
	}
	return QSG_OK;
}

int mqsc_check_chlauth_items(struct mqsc_cmd *cmd, char *errmsg)
{
	struct items it;
	int rc;
	memset(&cmd->chlauth, 0, sizeof cmd->chlauth);
	const char *why = chlmatch_profile_why(cmd->name);
	if (why != NULL)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "%s CHLAUTH: the channel profile %s",
				mqsc_verb_name(cmd->verb), why);
	mqsc_copy_str(cmd->chlauth.profile, sizeof cmd->chlauth.profile, cmd->name);
	if ((rc = collect(cmd, &it, errmsg)) != QSG_OK)
		return rc;
	if (cmd->verb == MQSC_SET)
		return set_items(cmd, &it, errmsg);
	if (it.type != NULL && (cmd->chlauth.type = (uint8_t)word(it.type, types, 5)) == 0)
		return bad(cmd, it.type, "must be BLOCKADDR, ADDRESSMAP, SSLPEERMAP or USERMAP",
			   errmsg);
	return display_items(cmd, &it, errmsg);
}
