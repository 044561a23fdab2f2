/* MQSC administration: channel commands. DEFINE/ALTER/DELETE CHANNEL; START
 * and STOP CHANNEL (compare-and-swap on the shared status table, built by
 * admin_chst_build; admin_submit.c retries a lost race once from the image
 * the group returned); RESET and RESOLVE CHANNEL; START/STOP CHINIT. See
 * admin.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"
#include "chan/chssl.h"

/* Copy the attributes whose bit is set in src->set over dst. */
static void merge_chattrs(struct fsm_chattrs *dst, const struct fsm_chattrs *src)
{
	fsm_chattrs_merge(dst, src, src->set);
	dst->set |= src->set;
}

/* A private channel (docs/channels.md "Private channels") is changed
 * through its own member; DELETE also through any member once its member
 * is no longer in the group (REMOVE MEMBER). QSGDISP, when given, must be
 * the channel's own: ALTER and DELETE cannot change a disposition (nor can
 * MQ's). false (and replied) when the command cannot go on. */
static bool check_disposition(struct admin_op *op, const struct mqsc_cmd *mc,
			      const struct fsm_chattrs *cur)
{
	bool priv = FSM_CH_PRIVATE(cur);
	uint8_t disp = priv ? FSM_DISP_QMGR : FSM_DISP_GROUP;
	char owner[FSM_NAME_MAX + 16];
	struct fsm_member m;
	if (mc->qsgdisp != 0 && mc->qsgdisp != disp) {
		admin_op_refuse(op, QSG_RC_CHANNEL_NOT_FOUND,
				"%s has QSGDISP(%s): a disposition cannot be changed", op->object,
				priv ? "QMGR" : "GROUP");
		return false;
	}
	if (!priv || cur->scope == op->env.member_id)
		return true;
	if (mc->verb == MQSC_DELETE && fsm_member_get(op->env.fsm, cur->scope, &m) != QSG_OK)
		return true; /* its member was removed from the group */
	admin_member_name(&op->env, cur->scope, owner, sizeof owner);
	admin_op_refuse(op, QSG_RC_CHANNEL_NOT_FOUND,
			"%s is a private channel (QSGDISP(QMGR)) of %s: change it through that "
			"member",
			op->object, owner);
	return false;
}

/* SSLCIPH given: a CipherSpec qsg has (stored by its canonical name) or
 * blank (a plaintext channel). false (and replied) otherwise. */
static bool check_sslciph(struct admin_op *op, struct fsm_chattrs *a)
{
	if (!(a->set & FSM_CA_SSLCIPH))
		return true;
	if (!chssl_on(a->sslciph)) {
		a->sslciph[0] = '\0';
		return true;
	}
	const struct chssl_spec *spec = chssl_find(a->sslciph);
	if (spec == NULL) {
		admin_op_refuse(op, QSG_RC_BAD_ATTR,
				"SSLCIPH(%s) is not a CipherSpec qsg has (OpenSSL 3, TLS 1.2 and "
				"1.3): %s",
				a->sslciph, chssl_names());
		return false;
	}
	snprintf(a->sslciph, sizeof a->sslciph, "%s", spec->name);
	return true;
}

void admin_exec_channel_change(struct admin_op *op, const struct mqsc_cmd *mc)
{
	struct fsm_chcmd *ch = &op->cmd.ch;
	struct fsm_chattrs cur;
	bool have = fsm_channel_get(op->env.fsm, mc->name, &cur) == QSG_OK;

	op->cmd.flags = mc->flags;
	snprintf(ch->name, sizeof ch->name, "%.*s", FSM_CHNAME_MAX, mc->name);
	if (mc->verb != MQSC_DEFINE && have && !check_disposition(op, mc, &cur))
		return;
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
			like.set = FSM_CA_ALL | (like.set & FSM_CA_SSL_MASK);
			merge_chattrs(&ch->attrs, &like);
		}
		merge_chattrs(&ch->attrs, &mc->chattrs);
		if (mc->qsgdisp == FSM_DISP_QMGR) {
			/* A private channel of this member (level 3). */
			ch->attrs.set |= FSM_CA_QSGDISP;
			ch->attrs.disp = FSM_DISP_QMGR;
			ch->attrs.scope = op->env.member_id;
		}
		break;
	case MQSC_ALTER:
		op->cmd.op = FSM_OP_CHALTER;
		merge_chattrs(&ch->attrs, &mc->chattrs);
		if (have && FSM_CH_PRIVATE(&cur)) {
			/* The disposition the state machine checks. */
			ch->attrs.set |= FSM_CA_QSGDISP;
			ch->attrs.disp = FSM_DISP_QMGR;
			ch->attrs.scope = cur.scope;
		}
		if ((ch->attrs.set & FSM_CA_CHLTYPE) && have) {
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
	if (!check_sslciph(op, &ch->attrs))
		return;
	snprintf(ch->attrs.name, sizeof ch->attrs.name, "%.*s", FSM_CHNAME_MAX, mc->name);
	admin_submit_op(op);
}

/* The channel definition for START/STOP/RESET/RESOLVE: must exist and be a
 * sender (copied to *def when def is not NULL). Returns false (and replies)
 * otherwise. */
static bool need_sender(struct admin_op *op, struct fsm_chattrs *out)
{
	struct fsm_chattrs tmp;
	struct fsm_chattrs *def_p = out != NULL ? out : &tmp;
	if (fsm_channel_get(op->env.fsm, op->name, def_p) != QSG_OK) {
		admin_op_refuse(op, QSG_RC_CHANNEL_NOT_FOUND, "%s not found%s", op->object, "");
		return false;
	}
	if (def_p->chltype != FSM_CHL_SDR) {
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

/* START of a private channel (docs/channels.md "Private channels"): it
 * runs on its member, wherever START is issued (the status entry names
 * that member as its owner, and its channel initiator starts it). Refused
 * when that member cannot run it now, when CHLDISP(FIXSHARED) asks for
 * another member, and when its XMITQ is not a QMGR local queue with
 * USAGE(XMITQ) of that member. false with *rc and text set then. */
static bool private_start_ok(struct admin_op *op, const struct mqsc_cmd *mc,
			     const struct fsm_chattrs *def, char *text, size_t size, int *rc)
{
	char owner[FSM_NAME_MAX + 16];
	struct fsm_member m;
	struct fsm_qinfo q;
	admin_member_name(&op->env, def->scope, owner, sizeof owner);
	if (mc->chldisp == MQSC_CHLDISP_FIXSHARED && def->scope != op->env.member_id) {
		*rc = QSG_RC_BAD_ATTR;
		snprintf(text, size,
			 "QSG0024E: START %s CHLDISP(FIXSHARED): it is a private channel of %s "
			 "and runs only there: %s (%d).",
			 op->object, owner, qsg_rc_name(*rc), *rc);
		return false;
	}
	if (fsm_member_get(op->env.fsm, def->scope, &m) != QSG_OK || m.state != FSM_MEMBER_ACTIVE ||
	    m.chinit == 0) {
		*rc = QSG_RC_CHINIT_NOT_RUNNING;
		snprintf(text, size,
			 "QSG0024E: START %s: it is a private channel of %s, whose channel "
			 "initiator is not running; no other member runs it: %s (%d).",
			 op->object, owner, qsg_rc_name(*rc), *rc);
		return false;
	}
	if (fsm_queue_info(op->env.fsm, def->scope, def->xmitq, &q) != QSG_OK ||
	    q.attrs.disp != FSM_DISP_QMGR || q.attrs.qtype != FSM_QT_LOCAL ||
	    q.attrs.usage != FSM_USAGE_XMITQ) {
		*rc = QSG_RC_XMIT_Q_USAGE_ERROR;
		snprintf(text, size,
			 "QSG0024E: START %s: the XMITQ of a private channel must be a "
			 "QSGDISP(QMGR) local queue with USAGE(XMITQ) of %s; %s is not: %s (%d).",
			 op->object, owner, def->xmitq, qsg_rc_name(*rc), *rc);
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
	struct fsm_chattrs def;
	uint32_t owner = 0;
	int rc;

	if (!need_sender(op, &def))
		return;
	memset(&cur, 0, sizeof cur);
	if (fsm_chstatus_get(op->env.fsm, op->name, "", &st) == QSG_OK)
		cur = st.img;
	op->cmd.op = FSM_OP_CHST_CAS;
	snprintf(ch->name, sizeof ch->name, "%.*s", FSM_CHNAME_MAX, op->name);
	ch->chltype = FSM_CHL_SDR;
	snprintf(ch->reason, sizeof ch->reason, "%s CHANNEL by %s", mqsc_verb_name(op->verb),
		 op->env.qmgr_name ? op->env.qmgr_name : "?");
	if ((rc = admin_chst_build(op, &cur, text, sizeof text)) != QSG_OK) {
		admin_finish(op, rc, text);
		return;
	}
	if (op->verb == MQSC_START && FSM_CH_PRIVATE(&def)) {
		if (!private_start_ok(op, mc, &def, text, sizeof text, &rc)) {
			admin_finish(op, rc, text);
			return;
		}
		ch->after.owner = def.scope;
	} else if (op->verb == MQSC_START) {
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
	if (!need_sender(op, NULL))
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

	if (!need_sender(op, NULL))
		return;
	if (fsm_chstatus_get(op->env.fsm, op->name, "", &st) != QSG_OK) {
		snprintf(text, sizeof text, "QSG0019E: no status for channel %s: %s (%d).",
			 op->name, qsg_rc_name(QSG_RC_CHANNEL_NOT_FOUND), QSG_RC_CHANNEL_NOT_FOUND);
		admin_finish(op, QSG_RC_CHANNEL_NOT_FOUND, text);
		return;
	}
	if (st.img.state == FSM_CHS_STARTING || st.img.state == FSM_CHS_RUNNING) {
		admin_active_text(text, sizeof text, &op->env, op->name, &st.img,
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

void admin_exec_refresh_ssl(const struct admin_env *env, admin_done_cb done, void *arg)
{
	char text[ADMIN_TEXT_SIZE / 2] = "";
	char msg[ADMIN_TEXT_SIZE];
	const char *qm = env->qmgr_name ? env->qmgr_name : "";
	int rc;

	if (env->refresh_tls == NULL)
		rc = qsg_errf(text, QSG_RC_FUNCTION_NOT_SUPPORTED,
			      "this member cannot reload TLS contexts");
	else
		rc = env->refresh_tls(env->arg, text, sizeof text);
	if (rc == QSG_OK)
		snprintf(msg, sizeof msg, "QSG0044I: REFRESH SECURITY TYPE(SSL) on %s: %s.", qm,
			 text);
	else
		snprintf(msg, sizeof msg,
			 "QSG0045E: REFRESH SECURITY TYPE(SSL) on %s failed: %s (%d): %s.", qm,
			 qsg_rc_name(rc), rc, text[0] != '\0' ? text : qsg_rc_text(rc));
	admin_reply(done, arg, rc, msg, NULL);
}
