/* MQSC administration: authority records (docs/security.md "Authority
 * records", docs/admin.md). SET AUTHREC submits AUTHREC_SET (AUTHADD and
 * AUTHRMV applied to the record, made when missing), DELETE AUTHREC
 * AUTHREC_DELETE; QSGDISP(QMGR) makes the record this member's (scope =
 * its id). DISPLAY AUTHREC and DISPLAY ENTAUTH read the replica. And the
 * authority every admin command needs (admin_authorized), checked before
 * anything is submitted, with DISPLAY of generic names filtered object by
 * object (admin_may_see). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* --- the authority a command needs ---------------------------------------- */

static uint8_t obj_authobj(enum mqsc_obj o)
{
	switch (o) {
	case MQSC_OBJ_QLOCAL:
	case MQSC_OBJ_QUEUE:
	case MQSC_OBJ_QSTATUS:
	case MQSC_OBJ_QREMOTE:
	case MQSC_OBJ_QALIAS:
		return FSM_AUTHOBJ_QUEUE;
	case MQSC_OBJ_CHANNEL:
	case MQSC_OBJ_CHSTATUS:
		return FSM_AUTHOBJ_CHANNEL;
	default:
		return FSM_AUTHOBJ_QMGR;
	}
}

/* The authority and the object (*objtype, *name) the command needs; 0 when
 * it needs none beyond CONNECT (PING). */
static uint32_t needed(const struct admin_env *env, const struct mqsc_cmd *mc, uint8_t *objtype,
		       const char **name)
{
	*objtype = obj_authobj(mc->obj);
	*name = *objtype == FSM_AUTHOBJ_QMGR ? (env->qmgr_name != NULL ? env->qmgr_name : "")
					     : mc->name;
	if (*objtype != FSM_AUTHOBJ_QMGR) {
		switch (mc->verb) {
		case MQSC_DISPLAY:
			return FSM_AUTH_DSP;
		case MQSC_DEFINE:
			return FSM_AUTH_CRT;
		case MQSC_ALTER:
			return FSM_AUTH_CHG;
		case MQSC_DELETE:
			return FSM_AUTH_DLT;
		case MQSC_CLEAR:
			return FSM_AUTH_CLR;
		default: /* START/STOP/RESET/RESOLVE CHANNEL */
			return FSM_AUTH_CTRL;
		}
	}
	/* Commands on the group itself and the member. */
	switch (mc->verb) {
	case MQSC_PING:
		return 0;
	case MQSC_DISPLAY:
		return FSM_AUTH_DSP;
	case MQSC_START:
	case MQSC_STOP:
		return mc->obj == MQSC_OBJ_CHINIT ? FSM_AUTH_CTRL : FSM_AUTH_CHG;
	default:
		return FSM_AUTH_CHG;
	}
}

static void refuse(const struct admin_env *env, const struct mqsc_cmd *mc, uint32_t need,
		   uint8_t objtype, const char *name, admin_done_cb done, void *arg)
{
	char text[ADMIN_TEXT_SIZE], command[64];
	int rc = QSG_RC_NOT_AUTHORIZED;
	snprintf(command, sizeof command, "%s %s", mqsc_verb_name(mc->verb),
		 mqsc_obj_name(mc->obj));
	if (objtype == FSM_AUTHOBJ_QMGR)
		snprintf(text, sizeof text,
			 "QSG0050E: %s: user %s is not authorized: it needs %s on OBJTYPE(QMGR) "
			 "(%s): %s (%d).",
			 command, env->authz->user, mqsc_auth_name(need), name, qsg_rc_name(rc),
			 rc);
	else
		snprintf(text, sizeof text,
			 "QSG0050E: %s: user %s is not authorized: it needs %s on %s(%s): %s (%d).",
			 command, env->authz->user, mqsc_auth_name(need),
			 mqsc_authobj_name(objtype), name, qsg_rc_name(rc), rc);
	if (env->authz->denied != NULL)
		env->authz->denied(env->authz->arg, need, objtype, name, command);
	admin_reply(done, arg, rc, text, NULL);
}

/* "DISPLAY QUEUE(q) DEFPRTY": libqsg learning a queue's DEFPRTY for a put
 * (MQ resolves it in the queue manager under PUT authority). */
static bool defprty_only(const struct mqsc_cmd *mc)
{
	return mc->verb == MQSC_DISPLAY && mc->obj == MQSC_OBJ_QUEUE && !mc->generic &&
	       mc->selected && mc->nattrs == 1 && strcmp(mc->attrs[0].keyword, "DEFPRTY") == 0;
}

bool admin_authorized(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
		      void *arg)
{
	const struct admin_authz *az = env->authz;
	if (az == NULL)
		return true;
	uint8_t objtype;
	const char *name;
	uint32_t need = needed(env, mc, &objtype, &name);
	if (need == 0)
		return true;
	/* DISPLAY of a generic name: each object is filtered (admin_may_see). */
	if (mc->verb == MQSC_DISPLAY && objtype != FSM_AUTHOBJ_QMGR && mc->generic)
		return true;
	if (mc->verb == MQSC_DISPLAY && objtype != FSM_AUTHOBJ_QMGR) {
		if (admin_may_see(env, mc, objtype, name))
			return true;
		if (defprty_only(mc))
			need = FSM_AUTH_PUT; /* what the application is doing */
	} else if ((az->authority(az->arg, objtype, name) & need) == need) {
		return true;
	}
	refuse(env, mc, need, objtype, name, done, arg);
	return false;
}

bool admin_may_see(const struct admin_env *env, const struct mqsc_cmd *mc, uint8_t objtype,
		   const char *name)
{
	const struct admin_authz *az = env->authz;
	if (az == NULL)
		return true;
	uint32_t have = az->authority(az->arg, objtype, name);
	if (have & FSM_AUTH_DSP)
		return true;
	/* That one attribute of one queue needs PUT or INQ, not DSP. */
	return defprty_only(mc) && (have & (FSM_AUTH_PUT | FSM_AUTH_INQ)) != 0;
}

/* --- SET / DELETE AUTHREC -------------------------------------------------- */

static void change(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
		   void *arg)
{
	struct admin_op *op = calloc(1, sizeof *op);
	if (op == NULL) {
		admin_reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE, "AUTHREC");
		return;
	}
	op->env = *env;
	op->env.authz = NULL; /* checked; not kept past this call */
	op->done = done;
	op->arg = arg;
	op->verb = mc->verb;
	op->obj = mc->obj;
	memcpy(op->name, mc->authrec.profile, sizeof op->name);
	snprintf(op->object, sizeof op->object, "AUTHREC(%s)", mc->authrec.profile);
	op->cmd.op = mc->verb == MQSC_SET ? FSM_OP_AUTHREC_SET : FSM_OP_AUTHREC_DELETE;
	op->cmd.authrec = mc->authrec;
	op->cmd.authrec.scope = mc->qsgdisp == FSM_DISP_QMGR ? env->member_id : 0;
	if (op->cmd.op == FSM_OP_AUTHREC_DELETE)
		op->cmd.authrec.auth = op->cmd.authrec.rmv = 0;
	admin_submit_op(op);
}

/* --- DISPLAY AUTHREC / ENTAUTH --------------------------------------------- */

struct disp {
	const struct admin_env *env;
	const struct mqsc_cmd *mc;
	struct proto_admin_writer *aw;
	unsigned count;
};

static void emit(struct disp *d, size_t n, const char *const *names, const char *const *values)
{
	if (!mqsc_where_matches(d->mc, n, names, values))
		return;
	proto_admin_begin(d->aw);
	for (size_t i = 0; i < n; i++)
		proto_admin_attr(d->aw, names[i], values[i]);
	proto_admin_end(d->aw);
	d->count++;
}

static int authrec_cb(void *arg, const struct fsm_authrec *r)
{
	struct disp *d = arg;
	const struct fsm_authrec *k = &d->mc->authrec;
	/* This member sees the group's records and its own. */
	if ((r->scope != 0 && r->scope != d->env->member_id) ||
	    (k->profile[0] != '\0' && strcmp(k->profile, r->profile) != 0) ||
	    (k->objtype != 0 && k->objtype != r->objtype) ||
	    (k->enttype != 0 && (k->enttype != r->enttype || strcmp(k->entity, r->entity) != 0)) ||
	    (d->mc->qsgdisp != 0 && (d->mc->qsgdisp == FSM_DISP_QMGR) != (r->scope != 0)))
		return 0;
	char list[160];
	mqsc_auth_list(r->auth, list, sizeof list);
	const char *names[] = {"PROFILE", "OBJTYPE", "ENTITY", "ENTTYPE", "AUTHLIST", "QSGDISP"};
	const char *values[] = {r->profile, mqsc_authobj_name(r->objtype),
				r->entity,  mqsc_authent_name(r->enttype),
				list,	    r->scope != 0 ? "QMGR" : "GROUP"};
	emit(d, 6, names, values);
	return 0;
}

/* DISPLAY ENTAUTH: a principal's effective authority is its own records'
 * and its groups' (from the user table of the replica); a group's is its
 * own. */
static void entauth(struct disp *d)
{
	const struct fsm_authrec *k = &d->mc->authrec;
	struct fsm_user u;
	uint32_t mask;
	const char *name = k->objtype == FSM_AUTHOBJ_QMGR
			       ? (d->env->qmgr_name != NULL ? d->env->qmgr_name : "")
			       : k->profile;
	if (k->enttype == FSM_AUTHENT_GROUP) {
		char g[1][FSM_NAME_MAX + 1];
		memcpy(g[0], k->entity, sizeof g[0]);
		mask = fsm_authority(d->env->fsm, d->env->member_id, NULL,
				     (const char(*)[FSM_NAME_MAX + 1]) g, 1, k->objtype, name);
	} else {
		unsigned ng = 0;
		if (fsm_user_get(d->env->fsm, k->entity, &u) == QSG_OK)
			ng = u.ngroups;
		mask =
		    fsm_authority(d->env->fsm, d->env->member_id, k->entity,
				  (const char(*)[FSM_NAME_MAX + 1]) u.groups, ng, k->objtype, name);
	}
	char list[160];
	mqsc_auth_list(mask, list, sizeof list);
	const char *names[] = {"OBJNAME", "OBJTYPE", "ENTITY", "ENTTYPE", "AUTHLIST"};
	const char *values[] = {k->objtype == FSM_AUTHOBJ_QMGR ? name : k->profile,
				mqsc_authobj_name(k->objtype), k->entity,
				mqsc_authent_name(k->enttype), list};
	emit(d, 5, names, values);
}

static void display(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
		    void *arg)
{
	struct proto_admin_writer aw;
	char text[ADMIN_TEXT_SIZE];
	int rc = QSG_OK;
	proto_admin_init(&aw);
	struct disp d = {.env = env, .mc = mc, .aw = &aw};
	if (mc->obj == MQSC_OBJ_ENTAUTH) {
		entauth(&d);
		snprintf(text, sizeof text, "QSG0052I: Display entity authority details.");
	} else {
		fsm_authrec_foreach(env->fsm, authrec_cb, &d);
		if (d.count == 0)
			snprintf(text, sizeof text, "QSG0053I: No authority records match.");
		else
			snprintf(text, sizeof text, "QSG0051I: Display authority records (%u).",
				 d.count);
	}
	admin_display_done(&aw, mqsc_obj_name(mc->obj), rc, text, done, arg);
}

void admin_exec_authrec(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg)
{
	if (mc->verb == MQSC_DISPLAY)
		display(env, mc, done, arg);
	else
		change(env, mc, done, arg);
}
