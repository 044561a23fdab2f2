/* MQSC administration: submission of a change to the group and the reply
 * built from its result. A START/STOP CHANNEL compare-and-swap that lost a
 * race is rebuilt from the image the group returned and resubmitted once
 * (admin_chst_build, admin_chst_result). Called by admin.c and the
 * executors; calls admin_util.c only. See admin_int.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

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

/* Fill op->cmd for START (after = new instance) or STOP from the image
 * `cur`. Returns QSG_OK, or a reason code with the reply text in text. */
int admin_chst_build(struct admin_op *op, const struct fsm_chimage *cur, char *text, size_t size)
{
	struct fsm_chcmd *ch = &op->cmd.ch;

	if (op->verb == MQSC_START) {
		if (cur->exists && admin_chs_active(cur->state)) {
			admin_active_text(text, size, &op->env, op->name, cur, ".");
			return QSG_RC_CHANNEL_ACTIVE;
		}
		ch->before = *cur;
		if (!cur->exists)
			memset(&ch->before, 0, sizeof ch->before);
		ch->after.exists = 1;
		ch->after.state = FSM_CHS_STARTING;
		ch->after.epoch = ch->before.epoch + 1;
		/* after.owner chosen by the caller */
		return QSG_OK;
	}
	if (!cur->exists || !admin_chs_active(cur->state)) {
		snprintf(text, size, "QSG0023E: Channel %s is not active (%s).", op->name,
			 cur->exists ? fsm_chstate_name(cur->state) : "no status");
		return QSG_RC_CHANNEL_STOPPED;
	}
	ch->before = *cur;
	ch->after = *cur;
	ch->after.state = FSM_CHS_STOPPED;
	return QSG_OK;
}

bool admin_chst_result(struct admin_op *op, const struct fsm_result *res, int *rc, char *text,
		       size_t size)
{
	const struct fsm_chimage *cur = &res->ch.current;
	char owner[FSM_NAME_MAX + 16];

	*rc = res->rc;
	if (res->rc == QSG_OK) {
		if (op->verb == MQSC_START) {
			admin_member_name(&op->env, op->cmd.ch.after.owner, owner, sizeof owner);
			snprintf(text, size,
				 "QSG0020I: Channel %s is starting on %s (epoch %" PRIu64 ").",
				 op->name, owner, op->cmd.ch.after.epoch);
		} else {
			admin_member_name(&op->env, op->cmd.ch.after.owner, owner, sizeof owner);
			snprintf(text, size,
				 "QSG0022I: Channel %s stopped (was on %s, epoch %" PRIu64 ").",
				 op->name, owner, op->cmd.ch.after.epoch);
		}
		return false;
	}
	if (res->rc != QSG_RC_CAS_FAILED) {
		admin_failed_text(text, size, op, res->rc);
		return false;
	}
	if (op->retries > 0) {
		snprintf(text, size,
			 "QSG0031E: %s %s failed: the channel status changed concurrently twice; "
			 "display CHSTATUS(%s) and retry: %s (%d).",
			 mqsc_verb_name(op->verb), op->object, op->name, qsg_rc_name(res->rc),
			 res->rc);
		return false;
	}
	/* Lost a race: decide again from the image the group returned. */
	op->retries++;
	uint32_t owner_id = op->cmd.ch.after.owner;
	*rc = admin_chst_build(op, cur, text, size);
	if (*rc != QSG_OK)
		return false;
	if (op->verb == MQSC_START)
		op->cmd.ch.after.owner = owner_id;
	admin_submit_op(op);
	return true;
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

/* Result of a submitted change: reply, or resubmit a START/STOP CHANNEL
 * compare-and-swap that lost a race. */
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

struct admin_op *admin_op_new(const struct admin_env *env, const struct mqsc_cmd *mc,
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
