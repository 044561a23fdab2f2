/* MQSC administration: execute a parsed command. See admin.h.
 *
 * Changes (DEFINE, ALTER, DELETE, CLEAR; START, STOP, RESET and RESOLVE
 * CHANNEL) become one fsm command each, submitted through env->submit; the
 * reply is built when the result comes back. START/STOP CHANNEL are
 * compare-and-swap commands on the shared channel status table built from
 * the replica's entry; a CAS that lost a race is retried once from the
 * image the group returned. Queries (DISPLAY, PING) read the local replica
 * and answer at once; START/STOP CHINIT call the member's channel
 * initiator. Message ids are listed in docs/admin.md.
 *
 * This file parses and dispatches; the executors are admin_queue.c,
 * admin_chan.c, admin_display.c and admin_member.c, submission and results
 * admin_submit.c, replies and names admin_util.c (see admin_int.h). */
#include "admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

static void exec_change(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg)
{
	char what[ADMIN_TEXT_SIZE];
	struct admin_op *op = admin_op_new(env, mc, done, arg);

	if (op == NULL) {
		snprintf(what, sizeof what, "%s %s", mqsc_verb_name(mc->verb),
			 mqsc_obj_name(mc->obj));
		admin_reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE, what);
		return;
	}
	switch (mc->obj) {
	case MQSC_OBJ_QLOCAL:
	case MQSC_OBJ_QREMOTE:
	case MQSC_OBJ_QALIAS:
		admin_exec_queue_change(op, mc);
		return;
	case MQSC_OBJ_QMGR:
		op->cmd.op = FSM_OP_QMGR_ALTER;
		op->cmd.ch.qm = mc->qmattrs;
		admin_submit_op(op);
		return;
	default:
		break;
	}
	switch (mc->verb) {
	case MQSC_START:
	case MQSC_STOP:
		admin_exec_start_stop(op, mc);
		return;
	case MQSC_RESET:
		admin_exec_reset(op, mc);
		return;
	case MQSC_RESOLVE:
		admin_exec_resolve(op, mc);
		return;
	default:
		admin_exec_channel_change(op, mc);
		return;
	}
}

void admin_exec(const struct admin_env *env, const char *text, size_t len, admin_done_cb done,
		void *arg)
{
	char errmsg[QSG_ERRMSG_SIZE] = "";
	char msg[ADMIN_TEXT_SIZE];
	struct mqsc_cmd *mc = malloc(sizeof *mc);
	int rc;

	if (mc == NULL) {
		admin_reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE, "MQSC command");
		return;
	}
	rc = mqsc_parse(text, len, mc, errmsg);
	if (rc != QSG_OK) {
		snprintf(msg, sizeof msg, "%s: %s.", admin_err_id(rc), errmsg);
		admin_reply(done, arg, rc, msg, NULL);
		explicit_bzero(mc, sizeof *mc); /* may hold a PASSWORD(...) */
		free(mc);
		return;
	}
	if (mc->has_cmdscope && mc->cmdscope[0] != '\0' &&
	    (env->qmgr_name == NULL || strcmp(mc->cmdscope, env->qmgr_name) != 0)) {
		rc = QSG_RC_BAD_ATTR;
		snprintf(msg, sizeof msg,
			 "QSG0002E: CMDSCOPE(%s): a member runs commands for itself only; qsgadm "
			 "sends CMDSCOPE(*) and CMDSCOPE(qmname) to each member: %s (%d).",
			 mc->cmdscope, qsg_rc_name(rc), rc);
		admin_reply(done, arg, rc, msg, NULL);
		free(mc);
		return;
	}
	if (!admin_authorized(env, mc, done, arg)) { /* admin_authrec.c */
		explicit_bzero(mc, sizeof *mc);
		free(mc);
		return;
	}
	if (mc->obj == MQSC_OBJ_CHLAUTH) {
		admin_exec_chlauth(env, mc, done, arg); /* admin_chlauth.c */
		free(mc);
		return;
	}
	if (mc->obj == MQSC_OBJ_AUTHREC || mc->obj == MQSC_OBJ_ENTAUTH) {
		admin_exec_authrec(env, mc, done, arg);
		free(mc);
		return;
	}
	if (mc->obj == MQSC_OBJ_USER) {
		admin_exec_user(env, mc, done, arg);
		explicit_bzero(mc, sizeof *mc); /* PASSWORD(...) */
		free(mc);
		return;
	}
	switch (mc->verb) {
	case MQSC_ADD:
	case MQSC_REMOVE:
	case MQSC_TRANSFER:
		admin_exec_lifecycle(env, mc, done, arg);
		break;
	case MQSC_DISPLAY:
		admin_exec_display(env, mc, done, arg);
		break;
	case MQSC_REFRESH:
		admin_exec_refresh_ssl(env, done, arg);
		break;
	case MQSC_PING:
		snprintf(msg, sizeof msg, "QSG0007I: Queue manager %s is available.",
			 env->qmgr_name ? env->qmgr_name : "");
		admin_reply(done, arg, QSG_OK, msg, NULL);
		break;
	case MQSC_START:
	case MQSC_STOP:
		if (mc->obj == MQSC_OBJ_QMGR) {
			admin_exec_lifecycle(env, mc, done, arg);
			break;
		}
		if (mc->obj == MQSC_OBJ_CHINIT) {
			admin_exec_chinit(env, mc->verb, done, arg);
			break;
		}
		exec_change(env, mc, done, arg);
		break;
	default:
		exec_change(env, mc, done, arg);
		break;
	}
	free(mc);
}
