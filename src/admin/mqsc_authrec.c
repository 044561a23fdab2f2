/* MQSC items of SET, DELETE and DISPLAY AUTHREC and DISPLAY ENTAUTH
 * (docs/security.md "Authority records"): PROFILE(p), OBJTYPE(QUEUE |
 * CHANNEL | QMGR), PRINCIPAL(u) or GROUP(g), AUTHADD(list), AUTHRMV(list),
 * QSGDISP(GROUP | QMGR), OBJNAME(n) (ENTAUTH). Entity names are user and
 * group names, folded to upper case as USER's are; profiles are object
 * names (case kept when quoted) with MQ's wildcards, and one that is not
 * well formed is refused with the reason (never stored to match nothing).
 * See mqsc.h. */
#include <stdio.h>
#include <string.h>

#include "common/qsg_err.h"
#include "fsm/authmatch.h"
#include "mqsc_int.h"

static const struct {
	const char *name;
	uint32_t bits;
} auth_names[] = {
    {"CONNECT", FSM_AUTH_CONNECT}, {"BROWSE", FSM_AUTH_BROWSE}, {"GET", FSM_AUTH_GET},
    {"INQ", FSM_AUTH_INQ},	   {"PUT", FSM_AUTH_PUT},	{"SET", FSM_AUTH_SET},
    {"CHG", FSM_AUTH_CHG},	   {"CLR", FSM_AUTH_CLR},	{"CTRL", FSM_AUTH_CTRL},
    {"CRT", FSM_AUTH_CRT},	   {"DLT", FSM_AUTH_DLT},	{"DSP", FSM_AUTH_DSP},
};
#define NAUTH (sizeof auth_names / sizeof auth_names[0])

const char *mqsc_auth_name(uint32_t bit)
{
	for (size_t i = 0; i < NAUTH; i++)
		if (auth_names[i].bits == bit)
			return auth_names[i].name;
	return "?";
}

void mqsc_auth_list(uint32_t mask, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < NAUTH; i++)
		if (mask & auth_names[i].bits)
			n += (size_t)snprintf(buf + (n < size ? n : size), n < size ? size - n : 0,
					      "%s%s", n > 0 ? "," : "", auth_names[i].name);
	if (mask == 0)
		snprintf(buf, size, "NONE");
}

const char *mqsc_authobj_name(uint8_t objtype)
{
	switch (objtype) {
	case FSM_AUTHOBJ_QUEUE:
		return "QUEUE";
	case FSM_AUTHOBJ_CHANNEL:
		return "CHANNEL";
	case FSM_AUTHOBJ_QMGR:
		return "QMGR";
	default:
		return "?";
	}
}

const char *mqsc_authent_name(uint8_t enttype)
{
	return enttype == FSM_AUTHENT_PRINCIPAL ? "PRINCIPAL"
	       : enttype == FSM_AUTHENT_GROUP	? "GROUP"
						: "?";
}

static void fold(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

static int bad(const struct mqsc_cmd *cmd, const struct mqsc_attr *a, const char *why, char *errmsg)
{
	return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "%s %s: %s %s (column %u)",
			mqsc_verb_name(cmd->verb), mqsc_obj_name(cmd->obj), a->keyword, why,
			a->column);
}

/* AUTHADD/AUTHRMV(a, b, ...): the authorities, ALL/ALLMQI/ALLADM as the
 * ones valid for the object type, NONE alone. */
static int auth_list(const struct mqsc_cmd *cmd, const struct mqsc_attr *a, uint8_t objtype,
		     uint32_t *out, char *errmsg)
{
	char list[MQSC_VALUE_MAX + 1];
	uint32_t valid = fsm_auth_valid(objtype), mask = 0;
	bool none = false;
	unsigned count = 0;
	mqsc_copy_str(list, sizeof list, a->value);
	fold(list);
	char *save = NULL;
	for (char *w = strtok_r(list, ", ", &save); w != NULL; w = strtok_r(NULL, ", ", &save)) {
		uint32_t bits = 0;
		count++;
		if (strcmp(w, "NONE") == 0) {
			none = true;
			continue;
		}
		if (strcmp(w, "ALL") == 0)
			bits = FSM_AUTH_ALL & valid;
		else if (strcmp(w, "ALLMQI") == 0)
			bits = FSM_AUTH_ALLMQI & valid;
		else if (strcmp(w, "ALLADM") == 0)
			bits = FSM_AUTH_ALLADM & valid;
		for (size_t i = 0; bits == 0 && i < NAUTH; i++)
			if (strcmp(w, auth_names[i].name) == 0)
				bits = auth_names[i].bits;
		if (bits == 0)
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"%s AUTHREC: %s: unknown authority %s (column %u)",
					mqsc_verb_name(cmd->verb), a->keyword, w, a->column);
		if ((bits & ~valid) != 0)
			return qsg_errf(
			    errmsg, QSG_RC_BAD_ATTR,
			    "%s AUTHREC: %s: %s means nothing on OBJTYPE(%s) (column %u)",
			    mqsc_verb_name(cmd->verb), a->keyword, w, mqsc_authobj_name(objtype),
			    a->column);
		mask |= bits;
	}
	if (none && count > 1)
		return bad(cmd, a, "lists NONE with other authorities", errmsg);
	if (count == 0)
		return bad(cmd, a, "needs a list of authorities", errmsg);
	*out = mask;
	return QSG_OK;
}

static int set_entity(struct mqsc_cmd *cmd, const struct mqsc_attr *a, uint8_t type, char *errmsg)
{
	if (cmd->authrec.enttype != 0)
		return bad(cmd, a, "and PRINCIPAL or GROUP: give one of them", errmsg);
	if (!a->has_value)
		return bad(cmd, a, "needs a value", errmsg);
	char e[MQSC_VALUE_MAX + 1];
	mqsc_copy_str(e, sizeof e, a->value);
	fold(e);
	if (strlen(e) > FSM_NAME_MAX || !fsm_user_name_valid(e))
		return bad(cmd, a, "is not a user or group name (1-48 of A-Z 0-9 . _ / %)", errmsg);
	cmd->authrec.enttype = type;
	mqsc_copy_str(cmd->authrec.entity, sizeof cmd->authrec.entity, e);
	return QSG_OK;
}

static int set_objtype(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	char v[MQSC_VALUE_MAX + 1];
	if (!a->has_value)
		return bad(cmd, a, "needs a value: QUEUE, CHANNEL or QMGR", errmsg);
	mqsc_copy_str(v, sizeof v, a->value);
	fold(v);
	if (strcmp(v, "QUEUE") == 0 || strcmp(v, "Q") == 0)
		cmd->authrec.objtype = FSM_AUTHOBJ_QUEUE;
	else if (strcmp(v, "CHANNEL") == 0 || strcmp(v, "CHL") == 0)
		cmd->authrec.objtype = FSM_AUTHOBJ_CHANNEL;
	else if (strcmp(v, "QMGR") == 0)
		cmd->authrec.objtype = FSM_AUTHOBJ_QMGR;
	else
		return bad(cmd, a, "must be QUEUE, CHANNEL or QMGR", errmsg);
	return QSG_OK;
}

int mqsc_check_authrec_items(struct mqsc_cmd *cmd, char *errmsg)
{
	struct fsm_authrec *r = &cmd->authrec;
	const struct mqsc_attr *profile = NULL, *add = NULL, *rmv = NULL, *objname = NULL;
	bool entauth = cmd->obj == MQSC_OBJ_ENTAUTH;
	enum mqsc_verb v = cmd->verb;
	int rc;
	memset(r, 0, sizeof *r);
	/* OBJTYPE first: the authority lists depend on it. */
	for (size_t i = 0; i < cmd->nattrs; i++) {
		const struct mqsc_attr *a = &cmd->attrs[i];
		const char *k = a->keyword;
		if (strcmp(k, "OBJTYPE") == 0) {
			if ((rc = set_objtype(cmd, a, errmsg)) != QSG_OK)
				return rc;
		} else if (strcmp(k, "PRINCIPAL") == 0) {
			if ((rc = set_entity(cmd, a, FSM_AUTHENT_PRINCIPAL, errmsg)) != QSG_OK)
				return rc;
		} else if (strcmp(k, "GROUP") == 0) {
			if ((rc = set_entity(cmd, a, FSM_AUTHENT_GROUP, errmsg)) != QSG_OK)
				return rc;
		} else if (!entauth && strcmp(k, "PROFILE") == 0 && a->has_value) {
			profile = a;
		} else if (entauth && strcmp(k, "OBJNAME") == 0 && a->has_value) {
			objname = a;
		} else if (v == MQSC_SET && strcmp(k, "AUTHADD") == 0 && a->has_value) {
			add = a;
		} else if (v == MQSC_SET && strcmp(k, "AUTHRMV") == 0 && a->has_value) {
			rmv = a;
		} else if (!entauth && strcmp(k, "QSGDISP") == 0 && a->has_value) {
			char d[MQSC_VALUE_MAX + 1];
			mqsc_copy_str(d, sizeof d, a->value);
			fold(d);
			if (strcmp(d, "GROUP") == 0)
				cmd->qsgdisp = FSM_DISP_GROUP;
			else if (strcmp(d, "QMGR") == 0)
				cmd->qsgdisp = FSM_DISP_QMGR;
			else
				return bad(cmd, a, "must be GROUP or QMGR", errmsg);
		} else {
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"%s %s: unknown attribute %s, or it needs a value (column "
					"%u)",
					mqsc_verb_name(v), mqsc_obj_name(cmd->obj), k, a->column);
		}
	}
	bool qmgr = r->objtype == FSM_AUTHOBJ_QMGR;
	const struct mqsc_attr *named = entauth ? objname : profile;
	if (named != NULL && qmgr)
		return bad(cmd, named, "is not given with OBJTYPE(QMGR) (the group itself)",
			   errmsg);
	if (named != NULL) {
		const char *why = entauth ? NULL : authmatch_why(named->value);
		if (entauth && (strlen(named->value) > FSM_NAME_MAX ||
				!qsg_name_ok(named->value, FSM_NAME_MAX, false)))
			why = "is not an object name";
		if (why != NULL)
			return bad(cmd, named, why, errmsg);
		mqsc_copy_str(r->profile, sizeof r->profile, named->value);
	} else if (qmgr) {
		mqsc_copy_str(r->profile, sizeof r->profile, "**");
	}
	if (v == MQSC_DISPLAY && !entauth)
		return QSG_OK; /* every filter optional */
	const char *what = mqsc_obj_name(cmd->obj);
	if (r->objtype == 0)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"%s %s needs OBJTYPE(QUEUE | CHANNEL | QMGR)", mqsc_verb_name(v),
				what);
	if (r->profile[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "%s %s needs %s(name) with OBJTYPE(%s)",
				mqsc_verb_name(v), what, entauth ? "OBJNAME" : "PROFILE",
				mqsc_authobj_name(r->objtype));
	if (r->enttype == 0)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"%s %s needs PRINCIPAL(user) or GROUP(g)", mqsc_verb_name(v), what);
	if (v != MQSC_SET)
		return QSG_OK;
	if (add == NULL && rmv == NULL)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"SET AUTHREC needs AUTHADD(list) or AUTHRMV(list)");
	if (add != NULL && (rc = auth_list(cmd, add, r->objtype, &r->auth, errmsg)) != QSG_OK)
		return rc;
	if (rmv != NULL && (rc = auth_list(cmd, rmv, r->objtype, &r->rmv, errmsg)) != QSG_OK)
		return rc;
	if ((r->auth & r->rmv) != 0) {
		char both[128];
		mqsc_auth_list(r->auth & r->rmv, both, sizeof both);
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				"SET AUTHREC: %s both in AUTHADD and AUTHRMV", both);
	}
	return QSG_OK;
}
