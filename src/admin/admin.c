/* MQSC administration: execute a parsed command. See admin.h.
 *
 * Changes (DEFINE, ALTER, DELETE, CLEAR; START, STOP, RESET and RESOLVE
 * CHANNEL) become one fsm command each, submitted through env->submit; the
 * reply is built when the result comes back. START/STOP CHANNEL are
 * compare-and-swap commands on the shared channel status table built from
 * the replica's entry; a CAS that lost a race is retried once from the
 * image the group returned. Queries (DISPLAY, PING) read the local replica
 * and answer at once; START/STOP CHINIT call the member's channel
 * initiator. Message ids are listed in docs/admin.md. */
#include "admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

void admin_reply(admin_done_cb done, void *arg, int rc, const char *text,
		 struct proto_admin_writer *aw)
{
	struct proto_admin_writer empty;
	if (aw == NULL) {
		proto_admin_init(&empty);
		aw = &empty;
	}
	done(arg, rc, text, aw);
	if (aw == &empty)
		proto_admin_close(&empty);
}

/* Message id of a failure. */
const char *admin_err_id(int rc)
{
	switch (rc) {
	case QSG_RC_MQSC_SYNTAX:
		return "QSG0001E";
	case QSG_RC_BAD_ATTR:
		return "QSG0002E";
	case QSG_RC_UNKNOWN_OBJECT:
	case QSG_RC_CHANNEL_NOT_FOUND:
		return "QSG0003E";
	case QSG_RC_CHANNEL_ACTIVE:
		return "QSG0021E";
	case QSG_RC_CHANNEL_STOPPED:
		return "QSG0023E";
	case QSG_RC_CHINIT_NOT_RUNNING:
		return "QSG0024E";
	default:
		return "QSG0004E";
	}
}

void admin_reply_error(admin_done_cb done, void *arg, int rc, const char *what)
{
	char text[ADMIN_TEXT_SIZE];
	snprintf(text, sizeof text, "%s: %s: %s (%d).", admin_err_id(rc), what, qsg_rc_name(rc),
		 rc);
	admin_reply(done, arg, rc, text, NULL);
}

const char *admin_done_word(enum mqsc_verb v)
{
	switch (v) {
	case MQSC_DEFINE:
		return "defined";
	case MQSC_ALTER:
		return "altered";
	case MQSC_DELETE:
		return "deleted";
	case MQSC_CLEAR:
		return "cleared";
	case MQSC_START:
		return "started";
	case MQSC_STOP:
		return "stopped";
	case MQSC_RESET:
		return "reset";
	case MQSC_RESOLVE:
		return "resolved";
	default:
		return "done";
	}
}

static const char *done_id(enum mqsc_verb v)
{
	switch (v) {
	case MQSC_DEFINE:
		return "QSG0008I";
	case MQSC_ALTER:
		return "QSG0009I";
	case MQSC_DELETE:
		return "QSG0010I";
	case MQSC_CLEAR:
		return "QSG0011I";
	default:
		return "QSG0004E";
	}
}

/* Text for a command the group did not answer: OUTCOME_UNKNOWN is a
 * warning (it may have been applied), anything else means not applied. */
static void transport_text(char *text, size_t size, enum mqsc_verb verb, const char *object,
			   int status)
{
	if (status == QSG_RC_OUTCOME_UNKNOWN)
		snprintf(text, size,
			 "QSG0005W: %s %s: outcome unknown, it may or may not have been %s: %s "
			 "(%d). Display the object to check.",
			 mqsc_verb_name(verb), object, admin_done_word(verb), qsg_rc_name(status),
			 status);
	else
		snprintf(text, size, "QSG0006E: %s %s not %s: %s (%d): %s.", mqsc_verb_name(verb),
			 object, admin_done_word(verb), qsg_rc_name(status), status,
			 qsg_rc_text(status));
}

void admin_failed_text(char *text, size_t size, const struct admin_op *op, int rc)
{
	snprintf(text, size, "%s: %s %s failed: %s (%d): %s.", admin_err_id(rc),
		 mqsc_verb_name(op->verb), op->object, qsg_rc_name(rc), rc, qsg_rc_text(rc));
}
void admin_finish(struct admin_op *op, int rc, const char *text)
{
	admin_done_cb done = op->done;
	void *arg = op->arg;
	free(op);
	admin_reply(done, arg, rc, text, NULL);
}

static void on_submitted(void *cbarg, int status, const void *result, size_t len);

/* Submit op->cmd; on refusal reply (not applied) and free op. */
void admin_submit_op(struct admin_op *op)
{
	char text[ADMIN_TEXT_SIZE];
	op->fsm_op = op->cmd.op;
	int rc = op->env.submit(op->env.arg, &op->cmd, on_submitted, op);
	if (rc != QSG_OK) {
		transport_text(text, sizeof text, op->verb, op->object, rc);
		admin_finish(op, rc, text);
	}
}

/* Result of a START/STOP CHANNEL compare-and-swap. Returns true when op was
 * resubmitted (the reply comes later). */
static void on_submitted(void *cbarg, int status, const void *result, size_t len)
{
	struct admin_op *op = cbarg;
	char text[ADMIN_TEXT_SIZE];
	char errmsg[QSG_ERRMSG_SIZE] = "";
	int rc = status;

	if (status != QSG_OK) {
		transport_text(text, sizeof text, op->verb, op->object, status);
		admin_finish(op, rc, text);
		return;
	}
	struct fsm_result res;
	memset(&res, 0, sizeof res);
	rc = fsm_result_decode(op->fsm_op, result, len, &res, errmsg);
	if (rc != QSG_OK) {
		snprintf(text, sizeof text,
			 "QSG0004E: %s %s: bad result from the group: %s (%d): %s.",
			 mqsc_verb_name(op->verb), op->object, qsg_rc_name(rc), rc, errmsg);
		admin_finish(op, QSG_RC_UNEXPECTED_ERROR, text);
		return;
	}
	if (op->fsm_op == FSM_OP_CHST_CAS) {
		if (admin_chst_result(op, &res, &rc, text, sizeof text))
			return; /* resubmitted: op belongs to the new submission */
		admin_finish(op, rc, text);
		return;
	}
	rc = res.rc;
	if (rc != QSG_OK) {
		admin_failed_text(text, sizeof text, op, rc);
	} else if (op->fsm_op == FSM_OP_CH_RESET) {
		snprintf(text, sizeof text,
			 "QSG0025I: Channel %s reset: the next message is sent with sequence "
			 "number %" PRIu64 ".",
			 op->name, op->cmd.ch.seq);
	} else if (op->fsm_op == FSM_OP_CH_SETTLE) {
		snprintf(text, sizeof text,
			 "QSG0026I: Channel %s resolved: %" PRIu32 " messages committed, %" PRIu32
			 " backed out.",
			 op->name, res.ch.committed, res.ch.backed_out);
	} else {
		snprintf(text, sizeof text, "%s: %s %s.", done_id(op->verb), op->object,
			 admin_done_word(op->verb));
	}
	admin_finish(op, rc, text);
}

static struct admin_op *op_new(const struct admin_env *env, const struct mqsc_cmd *mc,
			       admin_done_cb done, void *arg)
{
	struct admin_op *op = calloc(1, sizeof *op);
	if (op == NULL)
		return NULL;
	op->env = *env;
	op->done = done;
	op->arg = arg;
	op->verb = mc->verb;
	op->obj = mc->obj;
	memcpy(op->name, mc->name, sizeof op->name);
	if (mc->obj == MQSC_OBJ_QMGR)
		snprintf(op->object, sizeof op->object, "QMGR");
	else
		snprintf(op->object, sizeof op->object, "%s(%s)", mqsc_obj_name(mc->obj), mc->name);
	return op;
}

/* Refuse before submitting: reply and free op. */
void admin_op_refuse(struct admin_op *op, int rc, const char *fmt, const char *a1, const char *a2)
{
	char what[ADMIN_TEXT_SIZE];
	char text[ADMIN_TEXT_SIZE + 96];
	snprintf(what, sizeof what, fmt, a1, a2);
	snprintf(text, sizeof text, "%s: %s: %s (%d).", admin_err_id(rc), what, qsg_rc_name(rc),
		 rc);
	admin_finish(op, rc, text);
}

static void exec_change(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg)
{
	char what[ADMIN_TEXT_SIZE];
	struct admin_op *op = op_new(env, mc, done, arg);

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
	switch (mc->verb) {
	case MQSC_ADD:
	case MQSC_REMOVE:
	case MQSC_TRANSFER:
		admin_exec_lifecycle(env, mc, done, arg);
		break;
	case MQSC_DISPLAY:
		admin_exec_display(env, mc, done, arg);
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
