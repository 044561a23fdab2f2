/* MQSC administration: users (docs/admin.md "Users", docs/security.md
 * "Authentication"). DEFINE and ALTER USER with PASSWORD first have the
 * member hash the password off the loop (env->hash_password: a new salt,
 * PBKDF2), then submit USER_DEFINE / USER_ALTER with the credential only;
 * the password never reaches the log, a reply or DISPLAY. DELETE submits
 * USER_DELETE; DISPLAY reads the replica: USER, GROUPS, DESCR, ALTDATE,
 * ALTTIME, never the credential. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_int.h"

static struct admin_op *user_op(const struct admin_env *env, const struct mqsc_cmd *mc,
				admin_done_cb done, void *arg)
{
	struct admin_op *op = admin_op_new(env, mc, done, arg); /* object USER(name) */
	if (op == NULL)
		return NULL;
	struct fsm_user *u = &op->cmd.user;
	memcpy(u->name, mc->name, sizeof u->name);
	if (mc->has_groups) {
		u->set |= FSM_UA_GROUPS;
		u->ngroups = mc->ngroups;
		memcpy(u->groups, mc->groups, sizeof u->groups);
	}
	if (mc->has_descr) {
		u->set |= FSM_UA_DESCR;
		memcpy(u->descr, mc->descr, sizeof u->descr);
	}
	op->cmd.flags = mc->flags & FSM_F_REPLACE;
	op->cmd.op = mc->verb == MQSC_DEFINE  ? FSM_OP_USER_DEFINE
		     : mc->verb == MQSC_ALTER ? FSM_OP_USER_ALTER
					      : FSM_OP_USER_DELETE;
	if (op->cmd.op != FSM_OP_USER_DEFINE)
		op->cmd.flags = 0;
	return op;
}

static void hashed(void *cbarg, int rc, const struct fsm_user *cred)
{
	struct admin_op *op = cbarg;
	if (rc != QSG_OK) {
		admin_op_refuse(op, rc, "%s %s: the password could not be hashed",
				mqsc_verb_name(op->verb), op->object);
		return;
	}
	struct fsm_user *u = &op->cmd.user;
	u->set |= FSM_UA_CRED;
	u->scheme = FSM_CRED_PBKDF2_SHA256;
	u->iterations = cred->iterations;
	memcpy(u->salt, cred->salt, sizeof u->salt);
	memcpy(u->hash, cred->hash, sizeof u->hash);
	admin_submit_op(op);
}

static void fmt_time(int64_t ms, char *date, char *tod)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	date[0] = tod[0] = '\0';
	if (ms <= 0 || gmtime_r(&t, &tm) == NULL)
		return;
	strftime(date, 11, "%Y-%m-%d", &tm);
	strftime(tod, 9, "%H.%M.%S", &tm);
}

struct disp {
	const struct mqsc_cmd *mc;
	struct proto_admin_writer *aw;
	unsigned count;
};

static int display_cb(void *arg, const struct fsm_user *u)
{
	struct disp *d = arg;
	if (!mqsc_name_matches(d->mc, u->name))
		return 0;
	char groups[FSM_USER_GROUPS_MAX * (FSM_NAME_MAX + 1) + 1] = "";
	for (unsigned i = 0; i < u->ngroups; i++) {
		if (i > 0)
			strcat(groups, ",");
		strcat(groups, u->groups[i]);
	}
	char date[16], tod[16];
	fmt_time(u->alt_ms, date, tod);
	const char *names[] = {"USER", "GROUPS", "DESCR", "ALTDATE", "ALTTIME"};
	const char *values[] = {u->name, groups, u->descr, date, tod};
	if (!mqsc_where_matches(d->mc, 5, names, values))
		return 0;
	proto_admin_begin(d->aw);
	for (int i = 0; i < 5; i++)
		if (mqsc_display_wants(d->mc, names[i]))
			proto_admin_attr(d->aw, names[i], values[i]);
	proto_admin_end(d->aw);
	d->count++;
	return 0;
}

static void display(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
		    void *arg)
{
	struct proto_admin_writer aw;
	char text[ADMIN_TEXT_SIZE];
	int rc = QSG_OK;
	proto_admin_init(&aw);
	struct disp d = {.mc = mc, .aw = &aw};
	fsm_user_foreach(env->fsm, display_cb, &d);
	if (d.count == 0 && !mc->generic) {
		rc = QSG_RC_UNKNOWN_OBJECT;
		snprintf(text, sizeof text, "QSG0003E: USER(%s) not found: %s (%d).", mc->name,
			 qsg_rc_name(rc), rc);
	} else if (d.count == 0) {
		snprintf(text, sizeof text, "QSG0042I: No users match USER(%s).", mc->name);
	} else {
		snprintf(text, sizeof text, "QSG0043I: Display user details.");
	}
	admin_display_done(&aw, "USER", rc, text, done, arg);
}

void admin_exec_user(const struct admin_env *env, struct mqsc_cmd *mc, admin_done_cb done,
		     void *arg)
{
	for (char *p = mc->name; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (mc->verb == MQSC_DISPLAY) {
		display(env, mc, done, arg);
		return;
	}
	struct admin_op *op = user_op(env, mc, done, arg);
	if (op == NULL) {
		admin_reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE, "USER");
		return;
	}
	if (!mc->has_password) {
		admin_submit_op(op);
		return;
	}
	if (env->hash_password == NULL) {
		admin_op_refuse(op, QSG_RC_FUNCTION_NOT_SUPPORTED,
				"%s %s: this member cannot hash passwords",
				mqsc_verb_name(op->verb), op->object);
		return;
	}
	int rc = env->hash_password(env->arg, mc->password, strlen(mc->password), hashed, op);
	if (rc != QSG_OK)
		admin_op_refuse(op, rc, "%s %s: the password could not be hashed",
				mqsc_verb_name(op->verb), op->object);
}
