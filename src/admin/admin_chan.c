/* MQSC administration: channel commands. DEFINE/ALTER/DELETE CHANNEL; START
 * and STOP CHANNEL (compare-and-swap on the shared status table, retried once
 * from the image the group returned); RESET and RESOLVE CHANNEL; START/STOP
 * CHINIT. See admin.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* ------------------------------------------------------------------------
 * Channel status helpers
 * ------------------------------------------------------------------------ */

bool admin_chs_active(uint8_t state)
{
	return state == FSM_CHS_STARTING || state == FSM_CHS_RUNNING || state == FSM_CHS_RETRYING ||
	       state == FSM_CHS_RECOVERING;
}

const char *admin_chltype_name(uint8_t t)
{
	return t == FSM_CHL_SDR ? "SDR" : t == FSM_CHL_RCVR ? "RCVR" : "";
}

/* Queue manager name of member id (its id in decimal when unknown; "" for
 * 0). */
void admin_member_name(const struct admin_env *env, uint32_t id, char *buf, size_t size)
{
	struct fsm_member m;
	if (id == 0)
		buf[0] = '\0';
	else if (fsm_member_get(env->fsm, id, &m) == QSG_OK && m.name[0] != '\0')
		snprintf(buf, size, "%s", m.name);
	else
		snprintf(buf, size, "%" PRIu32, id);
}

static void active_text(char *text, size_t size, const struct admin_env *env, const char *name,
			const struct fsm_chimage *img, const char *tail)
{
	char owner[FSM_NAME_MAX + 16];
	admin_member_name(env, img->owner, owner, sizeof owner);
	snprintf(text, size, "QSG0021E: Channel %s is %s on %s (epoch %" PRIu64 ")%s", name,
		 tail[0] == '.' ? "already active" : "active", owner, img->epoch, tail);
}

/* Fill op->cmd for START (after = new instance) or STOP from the image
 * `cur`. Returns QSG_OK, or a reason code with the reply text in text. */
static int build_chst(struct admin_op *op, const struct fsm_chimage *cur, char *text, size_t size)
{
	struct fsm_chcmd *ch = &op->cmd.ch;

	if (op->verb == MQSC_START) {
		if (cur->exists && admin_chs_active(cur->state)) {
			active_text(text, size, &op->env, op->name, cur, ".");
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
	*rc = build_chst(op, cur, text, size);
	if (*rc != QSG_OK)
		return false;
	if (op->verb == MQSC_START)
		op->cmd.ch.after.owner = owner_id;
	admin_submit_op(op);
	return true;
}

/* Copy the attributes whose bit is set in src->set over dst. */
static void merge_chattrs(struct fsm_chattrs *dst, const struct fsm_chattrs *src)
{
	fsm_chattrs_merge(dst, src, src->set);
	dst->set |= src->set;
}
void admin_exec_channel_change(struct admin_op *op, const struct mqsc_cmd *mc)
{
	struct fsm_chcmd *ch = &op->cmd.ch;
	struct fsm_chattrs cur;

	op->cmd.flags = mc->flags;
	snprintf(ch->name, sizeof ch->name, "%.*s", FSM_CHNAME_MAX, mc->name);
	switch (mc->verb) {
	case MQSC_DEFINE:
		op->cmd.op = FSM_OP_CHDEFINE;
		if (mc->like[0] != '\0') {
			struct fsm_chattrs like;
			if (fsm_channel_get(op->env.fsm, mc->like, &like) != QSG_OK) {
				admin_op_refuse(op, QSG_RC_CHANNEL_NOT_FOUND,
						"DEFINE %s: LIKE channel CHANNEL(%s) not found",
						op->object, mc->like);
				return;
			}
			like.set = FSM_CA_ALL;
			merge_chattrs(&ch->attrs, &like);
		}
		merge_chattrs(&ch->attrs, &mc->chattrs);
		break;
	case MQSC_ALTER:
		op->cmd.op = FSM_OP_CHALTER;
		merge_chattrs(&ch->attrs, &mc->chattrs);
		if ((ch->attrs.set & FSM_CA_CHLTYPE) &&
		    fsm_channel_get(op->env.fsm, mc->name, &cur) == QSG_OK) {
			if (cur.chltype != ch->attrs.chltype) {
				admin_op_refuse(op, QSG_RC_BAD_ATTR,
						"CHLTYPE cannot be changed: %s is a %s channel",
						op->object, admin_chltype_name(cur.chltype));
				return;
			}
			/* Same type: nothing to change. */
			ch->attrs.set &= ~(uint32_t)FSM_CA_CHLTYPE;
		}
		break;
	default:
		op->cmd.op = FSM_OP_CHDELETE;
		break;
	}
	snprintf(ch->attrs.name, sizeof ch->attrs.name, "%.*s", FSM_CHNAME_MAX, mc->name);
	admin_submit_op(op);
}

/* The channel definition for START/STOP/RESET/RESOLVE: must exist and be a
 * sender. Returns false (and replies) otherwise. */
static bool need_sender(struct admin_op *op)
{
	struct fsm_chattrs def;
	if (fsm_channel_get(op->env.fsm, op->name, &def) != QSG_OK) {
		admin_op_refuse(op, QSG_RC_CHANNEL_NOT_FOUND, "%s not found%s", op->object, "");
		return false;
	}
	if (def.chltype != FSM_CHL_SDR) {
		char what[ADMIN_TEXT_SIZE / 2];
		const char *why =
		    op->verb == MQSC_START  ? "receiver channels start when their partner connects"
		    : op->verb == MQSC_STOP ? "receiver channels end when their partner stops"
					    : "this command applies to sender channels";
		snprintf(what, sizeof what, "%s %s", mqsc_verb_name(op->verb), op->object);
		admin_op_refuse(op, QSG_RC_BAD_ATTR, "%s: %s", what, why);
		return false;
	}
	return true;
}

void admin_exec_start_stop(struct admin_op *op, const struct mqsc_cmd *mc)
{
	struct fsm_chcmd *ch = &op->cmd.ch;
	struct fsm_chstatus st;
	struct fsm_chimage cur;
	char text[ADMIN_TEXT_SIZE];
	uint32_t owner = 0;
	int rc;

	if (!need_sender(op))
		return;
	memset(&cur, 0, sizeof cur);
	if (fsm_chstatus_get(op->env.fsm, op->name, "", &st) == QSG_OK)
		cur = st.img;
	op->cmd.op = FSM_OP_CHST_CAS;
	snprintf(ch->name, sizeof ch->name, "%.*s", FSM_CHNAME_MAX, op->name);
	ch->chltype = FSM_CHL_SDR;
	snprintf(ch->reason, sizeof ch->reason, "%s CHANNEL by %s", mqsc_verb_name(op->verb),
		 op->env.qmgr_name ? op->env.qmgr_name : "?");
	if ((rc = build_chst(op, &cur, text, sizeof text)) != QSG_OK) {
		admin_finish(op, rc, text);
		return;
	}
	if (op->verb == MQSC_START) {
		if (mc->chldisp == MQSC_CHLDISP_FIXSHARED) {
			if (op->env.chinit_running == NULL ||
			    op->env.chinit_running(op->env.arg) != 1) {
				snprintf(text, sizeof text,
					 "QSG0024E: START %s CHLDISP(FIXSHARED): the channel "
					 "initiator of %s is not running: %s (%d).",
					 op->object, op->env.qmgr_name ? op->env.qmgr_name : "?",
					 qsg_rc_name(QSG_RC_CHINIT_NOT_RUNNING),
					 QSG_RC_CHINIT_NOT_RUNNING);
				admin_finish(op, QSG_RC_CHINIT_NOT_RUNNING, text);
				return;
			}
			owner = op->env.member_id;
		} else {
			if (op->env.pick_owner != NULL)
				owner = op->env.pick_owner(op->env.arg, 0);
			if (owner == 0) {
				snprintf(text, sizeof text,
					 "QSG0024E: START %s: no channel initiator is running in "
					 "the group: %s (%d).",
					 op->object, qsg_rc_name(QSG_RC_CHINIT_NOT_RUNNING),
					 QSG_RC_CHINIT_NOT_RUNNING);
				admin_finish(op, QSG_RC_CHINIT_NOT_RUNNING, text);
				return;
			}
		}
		ch->after.owner = owner;
	}
	admin_submit_op(op);
}

void admin_exec_reset(struct admin_op *op, const struct mqsc_cmd *mc)
{
	if (!need_sender(op))
		return;
	op->cmd.op = FSM_OP_CH_RESET;
	snprintf(op->cmd.ch.name, sizeof op->cmd.ch.name, "%.*s", FSM_CHNAME_MAX, op->name);
	op->cmd.ch.seq = mc->seqnum;
	admin_submit_op(op);
}

void admin_exec_resolve(struct admin_op *op, const struct mqsc_cmd *mc)
{
	struct fsm_chcmd *ch = &op->cmd.ch;
	struct fsm_chstatus st;
	char text[ADMIN_TEXT_SIZE];

	if (!need_sender(op))
		return;
	if (fsm_chstatus_get(op->env.fsm, op->name, "", &st) != QSG_OK) {
		snprintf(text, sizeof text, "QSG0019E: no status for channel %s: %s (%d).",
			 op->name, qsg_rc_name(QSG_RC_CHANNEL_NOT_FOUND), QSG_RC_CHANNEL_NOT_FOUND);
		admin_finish(op, QSG_RC_CHANNEL_NOT_FOUND, text);
		return;
	}
	if (st.img.state == FSM_CHS_STARTING || st.img.state == FSM_CHS_RUNNING) {
		active_text(text, sizeof text, &op->env, op->name, &st.img,
			    ": stop it before RESOLVE CHANNEL.");
		admin_finish(op, QSG_RC_CHANNEL_ACTIVE, text);
		return;
	}
	op->cmd.op = FSM_OP_CH_SETTLE;
	snprintf(ch->name, sizeof ch->name, "%.*s", FSM_CHNAME_MAX, op->name);
	ch->member_id = op->env.member_id;
	ch->epoch = st.img.epoch;
	ch->flags = FSM_CHF_OPERATOR;
	if (mc->action == MQSC_ACTION_COMMIT) {
		ch->seq = st.curseq;
	} else {
		ch->seq = st.lstseq;
		ch->flags |= FSM_CHF_BACKOUT_REST;
	}
	admin_submit_op(op);
}
void admin_exec_chinit(const struct admin_env *env, enum mqsc_verb verb, admin_done_cb done,
		       void *arg)
{
	char errmsg[QSG_ERRMSG_SIZE] = "";
	char msg[ADMIN_TEXT_SIZE];
	const char *qm = env->qmgr_name ? env->qmgr_name : "";
	int (*fn)(void *, char *) = verb == MQSC_START ? env->chinit_start : env->chinit_stop;
	int rc;

	if (fn == NULL)
		rc = qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR,
			      "this member has no channel initiator");
	else
		rc = fn(env->arg, errmsg);
	if (rc == QSG_OK)
		snprintf(msg, sizeof msg, "%s: Channel initiator %s on %s.",
			 verb == MQSC_START ? "QSG0027I" : "QSG0028I", admin_done_word(verb), qm);
	else
		snprintf(msg, sizeof msg, "QSG0029E: %s CHINIT on %s failed: %s (%d): %s.",
			 mqsc_verb_name(verb), qm, qsg_rc_name(rc), rc,
			 errmsg[0] != '\0' ? errmsg : qsg_rc_text(rc));
	admin_reply(done, arg, rc, msg, NULL);
}
