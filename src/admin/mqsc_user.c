/* MQSC items of DEFINE, ALTER and DELETE USER (docs/admin.md "Users"):
 * PASSWORD('...'), GROUPS(g1, g2, ...), DESCR('...'), REPLACE/NOREPLACE.
 * User and group names are MQ object names, folded to upper case (quoted
 * or not), so that `-u alice` finds DEFINE USER(alice). DISPLAY USER uses
 * the generic DISPLAY items (mqsc_items.c). See mqsc.h. */
#include <stdio.h>
#include <string.h>

#include "common/qsg_err.h"
#include "mqsc_int.h"

static void fold(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

static int bad(const struct mqsc_cmd *cmd, const struct mqsc_attr *a, const char *why, char *errmsg)
{
	return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "%s USER: %s %s (column %u)",
			mqsc_verb_name(cmd->verb), a->keyword, why, a->column);
}

/* GROUPS(A,B,...): 0..FSM_USER_GROUPS_MAX names, no repeats; GROUPS('')
 * (or GROUPS(' ')) empties the list. */
static int set_groups(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	char list[MQSC_VALUE_MAX + 1];
	mqsc_copy_str(list, sizeof list, a->value);
	cmd->ngroups = 0;
	cmd->has_groups = true;
	char *save = NULL;
	for (char *g = strtok_r(list, ", ", &save); g != NULL; g = strtok_r(NULL, ", ", &save)) {
		if (cmd->ngroups == FSM_USER_GROUPS_MAX)
			return bad(cmd, a, "lists more than 16 groups", errmsg);
		fold(g);
		int rc = mqsc_check_name_max(g, "group name", FSM_NAME_MAX, false, false, NULL,
					     a->column, errmsg);
		if (rc != QSG_OK)
			return rc;
		for (unsigned i = 0; i < cmd->ngroups; i++)
			if (strcmp(cmd->groups[i], g) == 0)
				return bad(cmd, a, "lists a group twice", errmsg);
		mqsc_copy_str(cmd->groups[cmd->ngroups++], FSM_NAME_MAX + 1, g);
	}
	return QSG_OK;
}

int mqsc_check_user_items(struct mqsc_cmd *cmd, char *errmsg)
{
	bool replace = false, noreplace = false;
	enum mqsc_verb v = cmd->verb;
	fold(cmd->name);
	for (size_t i = 0; i < cmd->nattrs; i++) {
		const struct mqsc_attr *a = &cmd->attrs[i];
		const char *k = a->keyword;
		bool change = v == MQSC_DEFINE || v == MQSC_ALTER;
		if (change && strcmp(k, "PASSWORD") == 0) {
			if (!a->has_value)
				return bad(cmd, a, "needs a value: PASSWORD('...')", errmsg);
			/* Never echo the value. */
			if (strlen(a->value) > 256)
				return bad(cmd, a, "is longer than 256 characters", errmsg);
			mqsc_copy_str(cmd->password, sizeof cmd->password, a->value);
			cmd->has_password = true;
		} else if (change && strcmp(k, "GROUPS") == 0) {
			if (!a->has_value)
				return bad(cmd, a, "needs a value: GROUPS(g1, g2)", errmsg);
			int rc = set_groups(cmd, a, errmsg);
			if (rc != QSG_OK)
				return rc;
		} else if (change && strcmp(k, "DESCR") == 0) {
			if (!a->has_value)
				return bad(cmd, a, "needs a value: DESCR('...')", errmsg);
			if (strlen(a->value) > FSM_DESCR_MAX)
				return bad(cmd, a, "is longer than 64 characters", errmsg);
			mqsc_copy_str(cmd->descr, sizeof cmd->descr, a->value);
			cmd->has_descr = true;
		} else if (v == MQSC_DEFINE &&
			   (strcmp(k, "REPLACE") == 0 || strcmp(k, "NOREPLACE") == 0)) {
			if (a->has_value)
				return bad(cmd, a, "takes no value", errmsg);
			if (k[0] == 'R')
				replace = true;
			else
				noreplace = true;
		} else {
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"%s USER: unknown attribute %s (column %u)",
					mqsc_verb_name(v), k, a->column);
		}
	}
	if (replace && noreplace)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"REPLACE and NOREPLACE are mutually exclusive");
	if (v == MQSC_DEFINE && !cmd->has_password)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "DEFINE USER(%s) needs PASSWORD('...')",
				cmd->name);
	if (v == MQSC_ALTER && !cmd->has_password && !cmd->has_groups && !cmd->has_descr)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"ALTER USER(%s) needs PASSWORD, GROUPS or DESCR", cmd->name);
	if (replace)
		cmd->flags |= FSM_F_REPLACE;
	return QSG_OK;
}
