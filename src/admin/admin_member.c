/* MQSC administration: group lifecycle (ADD/REMOVE MEMBER, TRANSFER LEADER,
 * STOP QMGR) through env->lifecycle. See admin.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* ------------------------------------------------------------------------
 * Lifecycle: ADD/REMOVE MEMBER, TRANSFER LEADER, STOP QMGR
 * ------------------------------------------------------------------------ */

struct lc_op {
	admin_done_cb done;
	void *arg;
	int op; /* enum admin_lifecycle_op */
	char what[FSM_NAME_MAX * 2 + 32]; /* "ADD MEMBER(QM4)" */
	char name[FSM_NAME_MAX + 1];
};

struct find_name {
	const char *name;
	uint32_t id;
};

static int find_name_cb(void *arg, const struct fsm_member *m)
{
	struct find_name *f = arg;
	if (strcmp(m->name, f->name) == 0) {
		f->id = m->id;
		return 1;
	}
	return 0;
}

/* Member id of queue manager `name` in the replica; 0 when unknown. */
static uint32_t member_id_of(const struct admin_env *env, const char *name)
{
	struct find_name f = {.name = name, .id = 0};
	fsm_member_foreach(env->fsm, find_name_cb, &f);
	return f.id;
}

/* Text already carrying a message id ("QSGnnnnX: ...")? */
static bool has_msgid(const char *t)
{
	if (t == NULL || strncmp(t, "QSG", 3) != 0)
		return false;
	for (int i = 3; i < 7; i++)
		if (t[i] < '0' || t[i] > '9')
			return false;
	return (t[7] == 'I' || t[7] == 'W' || t[7] == 'E') && t[8] == ':';
}

static void lc_done(void *cbarg, int rc, const char *text)
{
	struct lc_op *op = cbarg;
	char msg[ADMIN_TEXT_SIZE];
	bool have = text != NULL && text[0] != '\0';

	if (has_msgid(text)) {
		snprintf(msg, sizeof msg, "%s", text);
	} else if (rc != QSG_OK) {
		snprintf(msg, sizeof msg, "QSG0036E: %s failed: %s (%d): %s.", op->what,
			 qsg_rc_name(rc), rc, have ? text : qsg_rc_text(rc));
	} else {
		const char *id = op->op == ADMIN_LC_ADD	       ? "QSG0032I"
				 : op->op == ADMIN_LC_REMOVE   ? "QSG0033I"
				 : op->op == ADMIN_LC_TRANSFER ? "QSG0034I"
							       : "QSG0035I";
		const char *dflt = op->op == ADMIN_LC_ADD	 ? "member added"
				   : op->op == ADMIN_LC_REMOVE	 ? "member removed"
				   : op->op == ADMIN_LC_TRANSFER ? "leadership transferred"
								 : "queue manager stopping";
		snprintf(msg, sizeof msg, "%s: %s: %s.", id, op->what, have ? text : dflt);
	}
	admin_done_cb done = op->done;
	void *arg = op->arg;
	free(op);
	admin_reply(done, arg, rc, msg, NULL);
}

void admin_exec_lifecycle(const struct admin_env *env, const struct mqsc_cmd *mc,
			  admin_done_cb done, void *arg)
{
	struct admin_lifecycle req;
	char msg[ADMIN_TEXT_SIZE];
	struct lc_op *op;
	int rc;

	memset(&req, 0, sizeof req);
	op = calloc(1, sizeof *op);
	if (op == NULL) {
		admin_reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE,
				  mqsc_verb_name(mc->verb));
		return;
	}
	op->done = done;
	op->arg = arg;
	switch (mc->verb) {
	case MQSC_ADD:
	case MQSC_REMOVE:
		snprintf(op->what, sizeof op->what, "%s MEMBER(%s)", mqsc_verb_name(mc->verb),
			 mc->name);
		break;
	case MQSC_TRANSFER:
		if (mc->to[0] != '\0')
			snprintf(op->what, sizeof op->what, "TRANSFER LEADER TO(%s)", mc->to);
		else
			snprintf(op->what, sizeof op->what, "TRANSFER LEADER");
		break;
	default:
		snprintf(op->what, sizeof op->what, "STOP QMGR%s", mc->force ? " FORCE" : "");
		break;
	}
	if (env->lifecycle == NULL) {
		rc = QSG_RC_UNEXPECTED_ERROR;
		snprintf(msg, sizeof msg,
			 "QSG0036E: %s failed: not available on this member: %s (%d).", op->what,
			 qsg_rc_name(rc), rc);
		free(op);
		admin_reply(done, arg, rc, msg, NULL);
		return;
	}
	switch (mc->verb) {
	case MQSC_ADD:
		req.op = ADMIN_LC_ADD;
		req.id = mc->raftid;
		snprintf(req.name, sizeof req.name, "%s", mc->name);
		snprintf(req.raft, sizeof req.raft, "%s", mc->raftaddr);
		snprintf(req.listen, sizeof req.listen, "%s", mc->conname);
		break;
	case MQSC_REMOVE: {
		req.op = ADMIN_LC_REMOVE;
		snprintf(req.name, sizeof req.name, "%s", mc->name);
		uint32_t id = member_id_of(env, mc->name);
		if (mc->raftid != 0 && id != 0 && id != mc->raftid) {
			rc = QSG_RC_BAD_ATTR;
			snprintf(msg, sizeof msg,
				 "QSG0002E: %s: RAFTID(%" PRIu32 ") is not %s's Raft id (%" PRIu32
				 "): %s (%d).",
				 op->what, mc->raftid, mc->name, id, qsg_rc_name(rc), rc);
			free(op);
			admin_reply(done, arg, rc, msg, NULL);
			return;
		}
		req.id = mc->raftid != 0 ? mc->raftid : id;
		req.force = mc->force ? 1 : 0;
		break;
	}
	case MQSC_TRANSFER:
		req.op = ADMIN_LC_TRANSFER;
		if (mc->to[0] != '\0') {
			req.id = member_id_of(env, mc->to);
			snprintf(req.name, sizeof req.name, "%s", mc->to);
		}
		break;
	default:
		req.op = ADMIN_LC_STOP;
		req.id = env->member_id;
		snprintf(req.name, sizeof req.name, "%s", env->qmgr_name ? env->qmgr_name : "");
		req.force = mc->force ? 1 : 0;
		break;
	}
	op->op = req.op;
	if ((req.op == ADMIN_LC_REMOVE || (req.op == ADMIN_LC_TRANSFER && mc->to[0] != '\0')) &&
	    req.id == 0) {
		rc = QSG_RC_UNKNOWN_OBJECT;
		snprintf(msg, sizeof msg, "QSG0003E: %s: %s is not a member of the group: %s (%d).",
			 op->what, req.name, qsg_rc_name(rc), rc);
		free(op);
		admin_reply(done, arg, rc, msg, NULL);
		return;
	}
	rc = env->lifecycle(env->arg, &req, lc_done, op);
	if (rc != QSG_OK) {
		snprintf(msg, sizeof msg, "QSG0036E: %s failed: %s (%d): %s.", op->what,
			 qsg_rc_name(rc), rc, qsg_rc_text(rc));
		free(op);
		admin_reply(done, arg, rc, msg, NULL);
	}
}
