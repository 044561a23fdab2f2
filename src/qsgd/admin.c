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

#include "mqsc.h"

#define ADMIN_TEXT_SIZE (2 * QSG_ERRMSG_SIZE)

/* One command waiting for its fsm result. */
struct admin_op {
	struct admin_env env; /* copy: the result may come after admin_exec returned */
	admin_done_cb done;
	void *arg;
	uint8_t fsm_op;
	enum mqsc_verb verb;
	enum mqsc_obj obj;
	char name[FSM_NAME_MAX + 1];
	char object[FSM_NAME_MAX + 16]; /* "QLOCAL(QA)" */
	struct fsm_cmd cmd; /* START/STOP CHANNEL: kept for the retry */
	int retries;
};

static void reply(admin_done_cb done, void *arg, int rc, const char *text,
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
static const char *err_id(int rc)
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

static void reply_error(admin_done_cb done, void *arg, int rc, const char *what)
{
	char text[ADMIN_TEXT_SIZE];
	snprintf(text, sizeof text, "%s: %s: %s (%d).", err_id(rc), what, qsg_rc_name(rc), rc);
	reply(done, arg, rc, text, NULL);
}

static const char *done_word(enum mqsc_verb v)
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
			 mqsc_verb_name(verb), object, done_word(verb), qsg_rc_name(status),
			 status);
	else
		snprintf(text, size, "QSG0006E: %s %s not %s: %s (%d): %s.", mqsc_verb_name(verb),
			 object, done_word(verb), qsg_rc_name(status), status, qsg_rc_text(status));
}

static void failed_text(char *text, size_t size, const struct admin_op *op, int rc)
{
	snprintf(text, size, "%s: %s %s failed: %s (%d): %s.", err_id(rc), mqsc_verb_name(op->verb),
		 op->object, qsg_rc_name(rc), rc, qsg_rc_text(rc));
}

/* ------------------------------------------------------------------------
 * Channel status helpers
 * ------------------------------------------------------------------------ */

static bool chs_active(uint8_t state)
{
	return state == FSM_CHS_STARTING || state == FSM_CHS_RUNNING || state == FSM_CHS_RETRYING ||
	       state == FSM_CHS_RECOVERING;
}

static const char *chltype_name(uint8_t t)
{
	return t == FSM_CHL_SDR ? "SDR" : t == FSM_CHL_RCVR ? "RCVR" : "";
}

/* Queue manager name of member id (its id in decimal when unknown; "" for
 * 0). */
static void member_name(const struct admin_env *env, uint32_t id, char *buf, size_t size)
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
	member_name(env, img->owner, owner, sizeof owner);
	snprintf(text, size, "QSG0021E: Channel %s is %s on %s (epoch %" PRIu64 ")%s", name,
		 tail[0] == '.' ? "already active" : "active", owner, img->epoch, tail);
}

/* Fill op->cmd for START (after = new instance) or STOP from the image
 * `cur`. Returns QSG_OK, or a reason code with the reply text in text. */
static int build_chst(struct admin_op *op, const struct fsm_chimage *cur, char *text, size_t size)
{
	struct fsm_chcmd *ch = &op->cmd.ch;

	if (op->verb == MQSC_START) {
		if (cur->exists && chs_active(cur->state)) {
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
	if (!cur->exists || !chs_active(cur->state)) {
		snprintf(text, size, "QSG0023E: Channel %s is not active (%s).", op->name,
			 cur->exists ? fsm_chstate_name(cur->state) : "no status");
		return QSG_RC_CHANNEL_STOPPED;
	}
	ch->before = *cur;
	ch->after = *cur;
	ch->after.state = FSM_CHS_STOPPED;
	return QSG_OK;
}

static void finish(struct admin_op *op, int rc, const char *text)
{
	admin_done_cb done = op->done;
	void *arg = op->arg;
	free(op);
	reply(done, arg, rc, text, NULL);
}

static void on_submitted(void *cbarg, int status, const void *result, size_t len);

/* Submit op->cmd; on refusal reply (not applied) and free op. */
static void submit_op(struct admin_op *op)
{
	char text[ADMIN_TEXT_SIZE];
	op->fsm_op = op->cmd.op;
	int rc = op->env.submit(op->env.arg, &op->cmd, on_submitted, op);
	if (rc != QSG_OK) {
		transport_text(text, sizeof text, op->verb, op->object, rc);
		finish(op, rc, text);
	}
}

/* Result of a START/STOP CHANNEL compare-and-swap. Returns true when op was
 * resubmitted (the reply comes later). */
static bool chst_result(struct admin_op *op, const struct fsm_result *res, int *rc, char *text,
			size_t size)
{
	const struct fsm_chimage *cur = &res->ch.current;
	char owner[FSM_NAME_MAX + 16];

	*rc = res->rc;
	if (res->rc == QSG_OK) {
		if (op->verb == MQSC_START) {
			member_name(&op->env, op->cmd.ch.after.owner, owner, sizeof owner);
			snprintf(text, size,
				 "QSG0020I: Channel %s is starting on %s (epoch %" PRIu64 ").",
				 op->name, owner, op->cmd.ch.after.epoch);
		} else {
			member_name(&op->env, op->cmd.ch.after.owner, owner, sizeof owner);
			snprintf(text, size,
				 "QSG0022I: Channel %s stopped (was on %s, epoch %" PRIu64 ").",
				 op->name, owner, op->cmd.ch.after.epoch);
		}
		return false;
	}
	if (res->rc != QSG_RC_CAS_FAILED) {
		failed_text(text, size, op, res->rc);
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
	submit_op(op);
	return true;
}

static void on_submitted(void *cbarg, int status, const void *result, size_t len)
{
	struct admin_op *op = cbarg;
	char text[ADMIN_TEXT_SIZE];
	char errmsg[QSG_ERRMSG_SIZE] = "";
	int rc = status;

	if (status != QSG_OK) {
		transport_text(text, sizeof text, op->verb, op->object, status);
		finish(op, rc, text);
		return;
	}
	struct fsm_result res;
	memset(&res, 0, sizeof res);
	rc = fsm_result_decode(op->fsm_op, result, len, &res, errmsg);
	if (rc != QSG_OK) {
		snprintf(text, sizeof text,
			 "QSG0004E: %s %s: bad result from the group: %s (%d): %s.",
			 mqsc_verb_name(op->verb), op->object, qsg_rc_name(rc), rc, errmsg);
		finish(op, QSG_RC_UNEXPECTED_ERROR, text);
		return;
	}
	if (op->fsm_op == FSM_OP_CHST_CAS) {
		if (chst_result(op, &res, &rc, text, sizeof text))
			return; /* resubmitted: op belongs to the new submission */
		finish(op, rc, text);
		return;
	}
	rc = res.rc;
	if (rc != QSG_OK) {
		failed_text(text, sizeof text, op, rc);
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
			 done_word(op->verb));
	}
	finish(op, rc, text);
}

/* Copy the attributes whose bit is set in src->set over dst. */
static void merge_qattrs(struct fsm_qattrs *dst, const struct fsm_qattrs *src)
{
	uint32_t m = src->set;
	if (m & FSM_QA_MAXDEPTH)
		dst->maxdepth = src->maxdepth;
	if (m & FSM_QA_MAXMSGL)
		dst->maxmsgl = src->maxmsgl;
	if (m & FSM_QA_DEFPSIST)
		dst->defpsist = src->defpsist;
	if (m & FSM_QA_DEFPRTY)
		dst->defprty = src->defprty;
	if (m & FSM_QA_BOTHRESH)
		dst->bothresh = src->bothresh;
	if (m & FSM_QA_BOQNAME)
		memcpy(dst->boqname, src->boqname, sizeof dst->boqname);
	if (m & FSM_QA_INDXTYPE)
		dst->indxtype = src->indxtype;
	if (m & FSM_QA_GET)
		dst->get_inhibited = src->get_inhibited;
	if (m & FSM_QA_PUT)
		dst->put_inhibited = src->put_inhibited;
	if (m & FSM_QA_MAXUMSGS)
		dst->maxumsgs = src->maxumsgs;
	if (m & FSM_QA_DESCR)
		memcpy(dst->descr, src->descr, sizeof dst->descr);
	if (m & FSM_QA_USAGE)
		dst->usage = src->usage;
	if (m & FSM_QA_RNAME)
		memcpy(dst->rname, src->rname, sizeof dst->rname);
	if (m & FSM_QA_RQMNAME)
		memcpy(dst->rqmname, src->rqmname, sizeof dst->rqmname);
	if (m & FSM_QA_XMITQ)
		memcpy(dst->xmitq, src->xmitq, sizeof dst->xmitq);
	if (m & FSM_QA_TARGET)
		memcpy(dst->target, src->target, sizeof dst->target);
	dst->set |= m;
}

static void merge_chattrs(struct fsm_chattrs *dst, const struct fsm_chattrs *src)
{
	uint32_t m = src->set;
	if (m & FSM_CA_CHLTYPE)
		dst->chltype = src->chltype;
	if (m & FSM_CA_CONNAME)
		memcpy(dst->conname, src->conname, sizeof dst->conname);
	if (m & FSM_CA_XMITQ)
		memcpy(dst->xmitq, src->xmitq, sizeof dst->xmitq);
	if (m & FSM_CA_BATCHSZ)
		dst->batchsz = src->batchsz;
	if (m & FSM_CA_BATCHINT)
		dst->batchint = src->batchint;
	if (m & FSM_CA_HBINT)
		dst->hbint = src->hbint;
	if (m & FSM_CA_DISCINT)
		dst->discint = src->discint;
	if (m & FSM_CA_SHORTRTY)
		dst->shortrty = src->shortrty;
	if (m & FSM_CA_SHORTTMR)
		dst->shorttmr = src->shorttmr;
	if (m & FSM_CA_LONGRTY)
		dst->longrty = src->longrty;
	if (m & FSM_CA_LONGTMR)
		dst->longtmr = src->longtmr;
	if (m & FSM_CA_COMPMSG)
		dst->compmsg = src->compmsg;
	if (m & FSM_CA_USEDLQ)
		dst->usedlq = src->usedlq;
	if (m & FSM_CA_MAXMSGL)
		dst->maxmsgl = src->maxmsgl;
	if (m & FSM_CA_PIPELINE)
		dst->pipeline = src->pipeline;
	if (m & FSM_CA_DESCR)
		memcpy(dst->descr, src->descr, sizeof dst->descr);
	dst->set |= m;
}

static uint8_t qtype_of(const struct fsm_qattrs *a)
{
	return a->qtype == FSM_QT_REMOTE || a->qtype == FSM_QT_ALIAS ? a->qtype : FSM_QT_LOCAL;
}

static const char *qtype_name(uint8_t t)
{
	return t == FSM_QT_REMOTE ? "QREMOTE" : t == FSM_QT_ALIAS ? "QALIAS" : "QLOCAL";
}

static uint8_t obj_qtype(enum mqsc_obj o)
{
	return o == MQSC_OBJ_QREMOTE  ? FSM_QT_REMOTE
	       : o == MQSC_OBJ_QALIAS ? FSM_QT_ALIAS
				      : FSM_QT_LOCAL;
}

/* Attributes LIKE copies per queue type. */
#define LIKE_QL_MASK                                                                               \
	(FSM_QA_ALL & ~(uint32_t)(FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ | FSM_QA_TARGET))
#define LIKE_QR_MASK (FSM_QA_DESCR | FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ)
#define LIKE_QA_MASK                                                                               \
	(FSM_QA_DEFPSIST | FSM_QA_DEFPRTY | FSM_QA_GET | FSM_QA_PUT | FSM_QA_DESCR | FSM_QA_TARGET)

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
static void op_refuse(struct admin_op *op, int rc, const char *fmt, const char *a1, const char *a2)
{
	char what[ADMIN_TEXT_SIZE];
	char text[ADMIN_TEXT_SIZE + 96];
	snprintf(what, sizeof what, fmt, a1, a2);
	snprintf(text, sizeof text, "%s: %s: %s (%d).", err_id(rc), what, qsg_rc_name(rc), rc);
	finish(op, rc, text);
}

/* The object an ALTER/DELETE/CLEAR of mc means on this member, as the
 * state machine will pick it (fsm.c queue_target): with QSGDISP the object
 * of that disposition, without it the member's QMGR object or else the
 * group's (CLEAR: the queue this member sees). */
static bool target_info(struct fsm *f, uint32_t member, const struct mqsc_cmd *mc,
			struct fsm_qinfo *qi)
{
	switch (mc->qsgdisp) {
	case 0:
		if (mc->verb == MQSC_CLEAR)
			return fsm_queue_lookup(f, member, mc->name, qi) == QSG_OK;
		if (fsm_queue_info(f, member, mc->name, qi) == QSG_OK &&
		    qi->attrs.disp == FSM_DISP_QMGR)
			return true;
		return fsm_queue_info(f, 0, mc->name, qi) == QSG_OK;
	case FSM_DISP_SHARED:
	case FSM_DISP_GROUP:
		return fsm_queue_info(f, 0, mc->name, qi) == QSG_OK &&
		       qi->attrs.disp == mc->qsgdisp;
	default:
		return fsm_queue_info(f, member, mc->name, qi) == QSG_OK &&
		       qi->attrs.disp == mc->qsgdisp;
	}
}

/* DEFINE/ALTER/DELETE/CLEAR QLOCAL/QREMOTE/QALIAS. */
static void exec_queue_change(struct admin_op *op, const struct mqsc_cmd *mc)
{
	struct fsm_cmd *cmd = &op->cmd;
	uint8_t qtype = obj_qtype(mc->obj);
	struct fsm_qinfo qi;

	memcpy(cmd->queue, mc->name, sizeof cmd->queue);
	cmd->flags = mc->flags;
	/* ALTER/DELETE/CLEAR name the object's type: a queue of another type
	 * is not the object meant. */
	if (mc->verb != MQSC_DEFINE && target_info(op->env.fsm, op->env.member_id, mc, &qi) &&
	    qtype_of(&qi.attrs) != qtype) {
		op_refuse(op, QSG_RC_UNKNOWN_OBJECT, "%s not found (the queue is a %s)", op->object,
			  qtype_name(qtype_of(&qi.attrs)));
		return;
	}
	switch (mc->verb) {
	case MQSC_DEFINE:
		cmd->op = FSM_OP_QDEFINE;
		if (mc->like[0] != '\0') {
			struct fsm_qinfo like;
			if (fsm_queue_lookup(op->env.fsm, op->env.member_id, mc->like, &like) !=
				QSG_OK ||
			    qtype_of(&like.attrs) != qtype) {
				char lk[FSM_NAME_MAX + 16];
				snprintf(lk, sizeof lk, "%s(%s)", qtype_name(qtype), mc->like);
				op_refuse(op, QSG_RC_UNKNOWN_OBJECT,
					  "DEFINE %s: LIKE queue %s not found", op->object, lk);
				return;
			}
			like.attrs.set = qtype == FSM_QT_REMOTE	 ? LIKE_QR_MASK
					 : qtype == FSM_QT_ALIAS ? LIKE_QA_MASK
								 : LIKE_QL_MASK;
			merge_qattrs(&cmd->attrs, &like.attrs);
		}
		merge_qattrs(&cmd->attrs, &mc->qattrs);
		break;
	case MQSC_ALTER:
		cmd->op = FSM_OP_QALTER;
		merge_qattrs(&cmd->attrs, &mc->qattrs);
		break;
	case MQSC_DELETE:
		cmd->op = FSM_OP_QDELETE;
		break;
	default:
		cmd->op = FSM_OP_QCLEAR;
		break;
	}
	cmd->attrs.qtype = qtype;
	cmd->attrs.disp = mc->qsgdisp;
	cmd->attrs.scope = op->env.member_id;
	memcpy(cmd->attrs.name, mc->name, sizeof cmd->attrs.name);
	submit_op(op);
}

/* DEFINE/ALTER/DELETE CHANNEL. */
static void exec_channel_change(struct admin_op *op, const struct mqsc_cmd *mc)
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
				op_refuse(op, QSG_RC_CHANNEL_NOT_FOUND,
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
				op_refuse(op, QSG_RC_BAD_ATTR,
					  "CHLTYPE cannot be changed: %s is a %s channel",
					  op->object, chltype_name(cur.chltype));
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
	submit_op(op);
}

/* The channel definition for START/STOP/RESET/RESOLVE: must exist and be a
 * sender. Returns false (and replies) otherwise. */
static bool need_sender(struct admin_op *op)
{
	struct fsm_chattrs def;
	if (fsm_channel_get(op->env.fsm, op->name, &def) != QSG_OK) {
		op_refuse(op, QSG_RC_CHANNEL_NOT_FOUND, "%s not found%s", op->object, "");
		return false;
	}
	if (def.chltype != FSM_CHL_SDR) {
		char what[ADMIN_TEXT_SIZE / 2];
		const char *why =
		    op->verb == MQSC_START  ? "receiver channels start when their partner connects"
		    : op->verb == MQSC_STOP ? "receiver channels end when their partner stops"
					    : "this command applies to sender channels";
		snprintf(what, sizeof what, "%s %s", mqsc_verb_name(op->verb), op->object);
		op_refuse(op, QSG_RC_BAD_ATTR, "%s: %s", what, why);
		return false;
	}
	return true;
}

static void exec_start_stop(struct admin_op *op, const struct mqsc_cmd *mc)
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
		finish(op, rc, text);
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
				finish(op, QSG_RC_CHINIT_NOT_RUNNING, text);
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
				finish(op, QSG_RC_CHINIT_NOT_RUNNING, text);
				return;
			}
		}
		ch->after.owner = owner;
	}
	submit_op(op);
}

static void exec_reset(struct admin_op *op, const struct mqsc_cmd *mc)
{
	if (!need_sender(op))
		return;
	op->cmd.op = FSM_OP_CH_RESET;
	snprintf(op->cmd.ch.name, sizeof op->cmd.ch.name, "%.*s", FSM_CHNAME_MAX, op->name);
	op->cmd.ch.seq = mc->seqnum;
	submit_op(op);
}

static void exec_resolve(struct admin_op *op, const struct mqsc_cmd *mc)
{
	struct fsm_chcmd *ch = &op->cmd.ch;
	struct fsm_chstatus st;
	char text[ADMIN_TEXT_SIZE];

	if (!need_sender(op))
		return;
	if (fsm_chstatus_get(op->env.fsm, op->name, "", &st) != QSG_OK) {
		snprintf(text, sizeof text, "QSG0019E: no status for channel %s: %s (%d).",
			 op->name, qsg_rc_name(QSG_RC_CHANNEL_NOT_FOUND), QSG_RC_CHANNEL_NOT_FOUND);
		finish(op, QSG_RC_CHANNEL_NOT_FOUND, text);
		return;
	}
	if (st.img.state == FSM_CHS_STARTING || st.img.state == FSM_CHS_RUNNING) {
		active_text(text, sizeof text, &op->env, op->name, &st.img,
			    ": stop it before RESOLVE CHANNEL.");
		finish(op, QSG_RC_CHANNEL_ACTIVE, text);
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
	submit_op(op);
}

static void exec_change(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg)
{
	char what[ADMIN_TEXT_SIZE];
	struct admin_op *op = op_new(env, mc, done, arg);

	if (op == NULL) {
		snprintf(what, sizeof what, "%s %s", mqsc_verb_name(mc->verb),
			 mqsc_obj_name(mc->obj));
		reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE, what);
		return;
	}
	switch (mc->obj) {
	case MQSC_OBJ_QLOCAL:
	case MQSC_OBJ_QREMOTE:
	case MQSC_OBJ_QALIAS:
		exec_queue_change(op, mc);
		return;
	case MQSC_OBJ_QMGR:
		op->cmd.op = FSM_OP_QMGR_ALTER;
		op->cmd.ch.qm = mc->qmattrs;
		submit_op(op);
		return;
	default:
		break;
	}
	switch (mc->verb) {
	case MQSC_START:
	case MQSC_STOP:
		exec_start_stop(op, mc);
		return;
	case MQSC_RESET:
		exec_reset(op, mc);
		return;
	case MQSC_RESOLVE:
		exec_resolve(op, mc);
		return;
	default:
		exec_channel_change(op, mc);
		return;
	}
}

/* ------------------------------------------------------------------------
 * DISPLAY
 * ------------------------------------------------------------------------ */

#define DISP_MAX_ATTRS 32

/* DISPLAY builds each object in `names`/`values` with every attribute, then
 * obj_end applies WHERE and writes the attributes the command wants. */
struct display_ctx {
	const struct admin_env *env;
	const struct mqsc_cmd *mc;
	struct proto_admin_writer *aw;
	uint32_t count; /* objects written */
	size_t n;
	const char *names[DISP_MAX_ATTRS];
	char values[DISP_MAX_ATTRS][MQSC_VALUE_MAX + 1];
};

static void obj_begin(struct display_ctx *d)
{
	d->n = 0;
}

static void attr_str(struct display_ctx *d, const char *name, const char *value)
{
	if (d->n == DISP_MAX_ATTRS)
		return;
	d->names[d->n] = name;
	snprintf(d->values[d->n], sizeof d->values[d->n], "%s", value);
	d->n++;
}

/* Returns true when the object passed WHERE and was written. */
static bool obj_end(struct display_ctx *d)
{
	const char *values[DISP_MAX_ATTRS];
	for (size_t i = 0; i < d->n; i++)
		values[i] = d->values[i];
	if (!mqsc_where_matches(d->mc, d->n, d->names, values))
		return false;
	proto_admin_begin(d->aw);
	for (size_t i = 0; i < d->n; i++)
		if (mqsc_display_wants(d->mc, d->names[i]))
			proto_admin_attr(d->aw, d->names[i], values[i]);
	proto_admin_end(d->aw);
	d->count++;
	return true;
}

static void attr_u64(struct display_ctx *d, const char *name, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	attr_str(d, name, buf);
}

static void attr_i64(struct display_ctx *d, const char *name, int64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%" PRId64, v);
	attr_str(d, name, buf);
}

static const char *role_name(uint8_t role)
{
	switch (role) {
	case 1:
		return "FOLLOWER";
	case 2:
		return "CANDIDATE";
	case 3:
		return "LEADER";
	default:
		return "UNAVAILABLE";
	}
}

static void display_qlocal_one(struct display_ctx *d, const struct fsm_qinfo *q)
{
	const struct fsm_qattrs *a = &q->attrs;
	static const char *const indx[] = {"NONE", "MSGID", "CORRELID"};

	obj_begin(d);
	attr_str(d, "QUEUE", a->name);
	attr_str(d, "TYPE", "QLOCAL");
	attr_str(d, "QSGDISP", fsm_disp_name(a->disp));
	attr_u64(d, "MAXDEPTH", a->maxdepth);
	attr_u64(d, "MAXMSGL", a->maxmsgl);
	attr_str(d, "DEFPSIST", a->defpsist ? "YES" : "NO");
	attr_u64(d, "DEFPRTY", a->defprty);
	attr_u64(d, "BOTHRESH", a->bothresh);
	attr_str(d, "BOQNAME", a->boqname);
	attr_str(d, "INDXTYPE", a->indxtype < 3 ? indx[a->indxtype] : "NONE");
	attr_str(d, "GET", a->get_inhibited ? "DISABLED" : "ENABLED");
	attr_str(d, "PUT", a->put_inhibited ? "DISABLED" : "ENABLED");
	attr_u64(d, "MAXUMSGS", a->maxumsgs);
	attr_str(d, "USAGE", a->usage == FSM_USAGE_XMITQ ? "XMITQ" : "NORMAL");
	attr_str(d, "DESCR", a->descr);
	attr_u64(d, "CURDEPTH", q->curdepth);
	obj_end(d);
}

static void display_qremote_one(struct display_ctx *d, const struct fsm_qinfo *q)
{
	const struct fsm_qattrs *a = &q->attrs;

	obj_begin(d);
	attr_str(d, "QUEUE", a->name);
	attr_str(d, "TYPE", "QREMOTE");
	attr_str(d, "QSGDISP", fsm_disp_name(a->disp));
	attr_str(d, "RNAME", a->rname);
	attr_str(d, "RQMNAME", a->rqmname);
	attr_str(d, "XMITQ", a->xmitq);
	attr_str(d, "DESCR", a->descr);
	obj_end(d);
}

static void display_qalias_one(struct display_ctx *d, const struct fsm_qinfo *q)
{
	const struct fsm_qattrs *a = &q->attrs;

	obj_begin(d);
	attr_str(d, "QUEUE", a->name);
	attr_str(d, "TYPE", "QALIAS");
	attr_str(d, "QSGDISP", fsm_disp_name(a->disp));
	attr_str(d, "TARGET", a->target);
	attr_str(d, "TARGTYPE", "QUEUE");
	attr_str(d, "DESCR", a->descr);
	attr_str(d, "DEFPSIST", a->defpsist ? "YES" : "NO");
	attr_u64(d, "DEFPRTY", a->defprty);
	attr_str(d, "GET", a->get_inhibited ? "DISABLED" : "ENABLED");
	attr_str(d, "PUT", a->put_inhibited ? "DISABLED" : "ENABLED");
	obj_end(d);
}

static void display_qstatus_one(struct display_ctx *d, const struct fsm_qinfo *q)
{
	obj_begin(d);
	attr_str(d, "QUEUE", q->attrs.name);
	attr_str(d, "TYPE", "QUEUE");
	attr_str(d, "QSGDISP", fsm_disp_name(q->attrs.disp));
	attr_u64(d, "CURDEPTH", q->curdepth);
	attr_u64(d, "UNCOM", q->uncommitted);
	attr_u64(d, "OPENS", q->opens);
	if (q->oldest_put_ms == 0) {
		attr_str(d, "MSGAGE", "");
	} else {
		int64_t age = (fsm_last_time(d->env->fsm) - q->oldest_put_ms) / 1000;
		attr_i64(d, "MSGAGE", age < 0 ? 0 : age);
	}
	attr_u64(d, "PUTS", q->puts_total);
	attr_u64(d, "GETS", q->gets_total);
	obj_end(d);
}

static int display_queue_cb(void *arg, const struct fsm_qinfo *q)
{
	struct display_ctx *d = arg;
	const struct mqsc_cmd *mc = d->mc;
	uint8_t t = qtype_of(&q->attrs);
	if (!mqsc_name_matches(mc, q->attrs.name))
		return 0;
	if (mc->obj == MQSC_OBJ_QUEUE	  ? false
	    : mc->obj == MQSC_OBJ_QSTATUS ? t != FSM_QT_LOCAL
					  : t != obj_qtype(mc->obj))
		return 0;
	/* A member shows the group's objects and its own, never another
	 * member's; QSGDISP selects among them (default LIVE). DISPLAY
	 * QSTATUS is about messages: a GROUP local queue holds none (its
	 * copies do). */
	uint8_t mask = mc->disp_mask != 0 ? mc->disp_mask : MQSC_DISP_LIVE;
	if (mc->obj == MQSC_OBJ_QSTATUS)
		mask &= (uint8_t) ~(1u << FSM_DISP_GROUP);
	if ((mc->type_filter != 0 && t != mc->type_filter) ||
	    (mc->alias_filter && t != FSM_QT_ALIAS) ||
	    (q->attrs.scope != 0 && q->attrs.scope != d->env->member_id) ||
	    !(mask & (1u << q->attrs.disp)))
		return 0;
	if (mc->obj == MQSC_OBJ_QSTATUS)
		display_qstatus_one(d, q);
	else if (t == FSM_QT_REMOTE)
		display_qremote_one(d, q);
	else if (t == FSM_QT_ALIAS)
		display_qalias_one(d, q);
	else
		display_qlocal_one(d, q);
	return 0;
}

static void display_member(struct display_ctx *d, const struct fsm_member *m, bool self)
{
	struct admin_raft_info ri;
	int64_t now = fsm_last_time(d->env->fsm);

	memset(&ri, 0, sizeof ri);
	ri.role = m->stats.role;
	ri.term = m->stats.term;
	ri.commit_index = m->stats.commit_index;
	ri.applied_index = m->stats.applied_index;
	if (m->state == FSM_MEMBER_FAILED)
		ri.role = 0;
	if (self && d->env->raft_info != NULL)
		d->env->raft_info(d->env->arg, &ri);

	obj_begin(d);
	attr_str(d, "QMNAME", m->name);
	attr_u64(d, "RAFTID", m->id);
	attr_str(d, "ROLE", role_name(ri.role));
	attr_u64(d, "TERM", ri.term);
	attr_u64(d, "COMMIT", ri.commit_index);
	attr_u64(d, "APPLIED", ri.applied_index);
	if (m->state == FSM_MEMBER_ACTIVE) {
		attr_str(d, "LEASE", "ACTIVE");
		attr_i64(d, "LEASEEXP", m->lease_expiry_ms - now);
	} else if (m->state == FSM_MEMBER_FAILED) {
		attr_str(d, "LEASE", "FAILED");
		attr_i64(d, "LEASEEXP", m->lease_expiry_ms - now);
	} else {
		attr_str(d, "LEASE", "NONE");
		attr_str(d, "LEASEEXP", "");
	}
	attr_u64(d, "CONNS", m->sessions);
	attr_str(d, "CONNAME", m->client_addr);
	obj_end(d);
}

static int display_member_cb(void *arg, const struct fsm_member *m)
{
	struct display_ctx *d = arg;
	display_member(d, m, m->id == d->env->member_id);
	return 0;
}

static void display_qmgr(struct display_ctx *d)
{
	struct admin_raft_info ri;
	struct fsm_member leader;
	char buf[FSM_NAME_MAX + 1];

	memset(&ri, 0, sizeof ri);
	if (d->env->raft_info != NULL)
		d->env->raft_info(d->env->arg, &ri);
	buf[0] = '\0';
	if (ri.leader_id != 0 && ri.leader_id <= UINT32_MAX &&
	    fsm_member_get(d->env->fsm, (uint32_t)ri.leader_id, &leader) == QSG_OK)
		snprintf(buf, sizeof buf, "%s", leader.name);
	else if (ri.leader_id == d->env->member_id && ri.leader_id != 0)
		snprintf(buf, sizeof buf, "%s", d->env->qmgr_name ? d->env->qmgr_name : "");

	obj_begin(d);
	attr_str(d, "QMNAME", d->env->qmgr_name ? d->env->qmgr_name : "");
	attr_str(d, "QSGNAME", d->env->group_name ? d->env->group_name : "");
	attr_u64(d, "RAFTID", d->env->member_id);
	attr_str(d, "ROLE", role_name(ri.role));
	attr_str(d, "LEADER", buf);
	struct fsm_qmgr_attrs qm;
	memset(&qm, 0, sizeof qm);
	(void)fsm_qmgr_get(d->env->fsm, &qm);
	attr_str(d, "DEADQ", qm.deadq);
	attr_str(d, "DESCR", qm.descr);
	obj_end(d);
}

static int display_channel_cb(void *arg, const struct fsm_chattrs *c)
{
	struct display_ctx *d = arg;

	if (!mqsc_name_matches(d->mc, c->name) ||
	    (d->mc->chltype != 0 && c->chltype != d->mc->chltype) ||
	    (d->mc->disp_mask != 0 && !(d->mc->disp_mask & (1u << FSM_DISP_GROUP))))
		return 0;
	obj_begin(d);
	attr_str(d, "CHANNEL", c->name);
	attr_str(d, "CHLTYPE", chltype_name(c->chltype));
	attr_str(d, "QSGDISP", "GROUP");
	attr_str(d, "CONNAME", c->conname);
	attr_str(d, "XMITQ", c->xmitq);
	attr_u64(d, "BATCHSZ", c->batchsz);
	attr_u64(d, "BATCHINT", c->batchint);
	attr_u64(d, "HBINT", c->hbint);
	attr_u64(d, "DISCINT", c->discint);
	attr_u64(d, "SHORTRTY", c->shortrty);
	attr_u64(d, "SHORTTMR", c->shorttmr);
	attr_u64(d, "LONGRTY", c->longrty);
	attr_u64(d, "LONGTMR", c->longtmr);
	attr_str(d, "COMPMSG", c->compmsg == FSM_COMP_LZ4 ? "LZ4" : "NONE");
	attr_str(d, "USEDLQ", c->usedlq ? "YES" : "NO");
	attr_u64(d, "MAXMSGL", c->maxmsgl);
	attr_u64(d, "PIPELINE", c->pipeline);
	attr_str(d, "DESCR", c->descr);
	obj_end(d);
	return 0;
}

/* Seconds from `then` to the replica's last applied entry time; "" when
 * then is 0 (never). */
static void attr_age(struct display_ctx *d, const char *name, int64_t then)
{
	if (then == 0) {
		attr_str(d, name, "");
		return;
	}
	int64_t age = (fsm_last_time(d->env->fsm) - then) / 1000;
	attr_i64(d, name, age < 0 ? 0 : age);
}

static int display_chstatus_cb(void *arg, const struct fsm_chstatus *s)
{
	struct display_ctx *d = arg;
	char owner[FSM_NAME_MAX + 16];

	if (!mqsc_name_matches(d->mc, s->name) ||
	    (d->mc->chltype != 0 && s->chltype != d->mc->chltype))
		return 0;
	obj_begin(d);
	attr_str(d, "CHANNEL", s->name);
	attr_str(d, "CHLTYPE", chltype_name(s->chltype));
	attr_str(d, "RQMNAME", s->rqmname);
	attr_str(d, "XMITQ", s->xmitq);
	attr_str(d, "STATUS", fsm_chstate_name(s->img.state));
	member_name(d->env, s->img.owner, owner, sizeof owner);
	attr_str(d, "OWNER", owner);
	attr_u64(d, "EPOCH", s->img.epoch);
	attr_str(d, "CONNAME", s->conname);
	attr_u64(d, "MSGS", s->msgs);
	attr_u64(d, "BATCHES", s->batches);
	attr_u64(d, "CURSEQNO", s->curseq);
	attr_u64(d, "LSTSEQNO", s->lstseq);
	attr_str(d, "INDOUBT", s->indoubt > 0 ? "YES" : "NO");
	attr_u64(d, "INDOUBTMSGS", s->indoubt);
	attr_age(d, "LSTMSGTI", s->last_msg_ms);
	attr_age(d, "CHSTATI", s->last_change_ms);
	attr_str(d, "REASON", s->reason);
	member_name(d->env, s->prev_owner, owner, sizeof owner);
	attr_str(d, "PREVOWNER", owner);
	obj_end(d);
	return 0;
}

/* Counts the active sender channels this member owns. */
static int count_owned_cb(void *arg, const struct fsm_chstatus *s)
{
	struct display_ctx *d = arg;
	if (s->chltype == FSM_CHL_SDR && s->img.exists && chs_active(s->img.state) &&
	    s->img.owner == d->env->member_id)
		d->count++;
	return 0;
}

static void display_chinit(struct display_ctx *d)
{
	bool running = d->env->chinit_running != NULL && d->env->chinit_running(d->env->arg) == 1;

	d->count = 0;
	fsm_chstatus_foreach(d->env->fsm, count_owned_cb, d);
	uint32_t owned = d->count;
	d->count = 0;
	obj_begin(d);
	attr_str(d, "QMNAME", d->env->qmgr_name ? d->env->qmgr_name : "");
	attr_str(d, "STATUS", running ? "RUNNING" : "STOPPED");
	attr_u64(d, "CHANNELS", owned);
	obj_end(d);
}

/* ------------------------------------------------------------------------
 * DISPLAY QMSTATUS TYPE(RAFT)
 * ------------------------------------------------------------------------ */

#define QMS_MAX_SERVERS 64
#define QMS_INSYNC_LAG 100 /* entries */

struct qms_ctx {
	struct display_ctx *d;
	struct admin_raft_info self;
	bool have_config;
	size_t nservers;
	struct admin_raft_server servers[QMS_MAX_SERVERS];
	bool seen[QMS_MAX_SERVERS]; /* server listed as a member */
	uint64_t leader_commit;
	unsigned voters, insync;
};

static int qms_commit_cb(void *arg, const struct fsm_member *m)
{
	struct qms_ctx *q = arg;
	if (m->stats.commit_index > q->leader_commit)
		q->leader_commit = m->stats.commit_index;
	return 0;
}

/* Is `id` a voter: from the Raft configuration when the daemon gives it
 * (not in it: no), else every member is taken as a voter (the bootstrap
 * configuration). */
static bool qms_voter(struct qms_ctx *q, uint64_t id)
{
	if (!q->have_config)
		return true;
	for (size_t i = 0; i < q->nservers; i++)
		if (q->servers[i].id == id) {
			q->seen[i] = true;
			return q->servers[i].voter != 0;
		}
	return false;
}

static void qms_member(struct qms_ctx *q, const struct fsm_member *m, bool self)
{
	struct display_ctx *d = q->d;
	int64_t now = fsm_last_time(d->env->fsm);
	uint8_t role = m->state == FSM_MEMBER_FAILED ? 0 : m->stats.role;
	uint64_t term = m->stats.term, commit = m->stats.commit_index;
	uint64_t applied = m->stats.applied_index;

	if (self) {
		role = q->self.role;
		term = q->self.term;
		commit = q->self.commit_index;
		applied = q->self.applied_index;
	}
	uint64_t lag = q->leader_commit > applied ? q->leader_commit - applied : 0;
	bool active = m->state == FSM_MEMBER_ACTIVE && m->lease_expiry_ms >= now;
	bool insync = active && lag <= QMS_INSYNC_LAG;
	bool voter = qms_voter(q, m->id);

	if (voter) {
		q->voters++;
		if (insync)
			q->insync++;
	}
	obj_begin(d);
	attr_str(d, "QMNAME", m->name);
	attr_u64(d, "RAFTID", m->id);
	attr_str(d, "ROLE", role_name(role));
	attr_u64(d, "TERM", term);
	attr_u64(d, "COMMIT", commit);
	attr_u64(d, "APPLIED", applied);
	attr_u64(d, "LAG", lag);
	attr_str(d, "INSYNC", insync ? "YES" : "NO");
	attr_str(d, "VOTER", voter ? "YES" : "NO");
	attr_str(d, "LEASE",
		 m->state == FSM_MEMBER_ACTIVE	 ? (active ? "ACTIVE" : "EXPIRED")
		 : m->state == FSM_MEMBER_FAILED ? "FAILED"
						 : "NONE");
	obj_end(d);
}

static int qms_member_cb(void *arg, const struct fsm_member *m)
{
	struct qms_ctx *q = arg;
	qms_member(q, m, m->id == q->d->env->member_id);
	return 0;
}

static void display_qmstatus(struct display_ctx *d)
{
	const struct admin_env *env = d->env;
	struct qms_ctx *q = calloc(1, sizeof *q);
	struct fsm_member m;
	char buf[32];

	if (q == NULL) {
		d->aw->buf.err = QSG_RC_STORAGE_NOT_AVAILABLE;
		return;
	}
	q->d = d;
	if (env->raft_info != NULL)
		env->raft_info(env->arg, &q->self);
	if (env->raft_config != NULL) {
		size_t n = env->raft_config(env->arg, q->servers, QMS_MAX_SERVERS);
		q->have_config = true;
		q->nservers = n < QMS_MAX_SERVERS ? n : QMS_MAX_SERVERS;
	}
	/* The leader's commit index: live when the serving member leads, else
	 * as the leader reported it in its last renewal; without a known
	 * leader the highest commit index any member reported. */
	q->leader_commit = q->self.commit_index;
	if (q->self.leader_id == env->member_id) {
		/* live */
	} else if (q->self.leader_id != 0 && q->self.leader_id <= UINT32_MAX &&
		   fsm_member_get(env->fsm, (uint32_t)q->self.leader_id, &m) == QSG_OK) {
		q->leader_commit = m.stats.commit_index;
	} else {
		fsm_member_foreach(env->fsm, qms_commit_cb, q);
	}

	bool self_known = fsm_member_get(env->fsm, env->member_id, &m) == QSG_OK;
	fsm_member_foreach(env->fsm, qms_member_cb, q);
	if (!self_known) {
		memset(&m, 0, sizeof m);
		m.id = env->member_id;
		snprintf(m.name, sizeof m.name, "%s", env->qmgr_name ? env->qmgr_name : "");
		qms_member(q, &m, true);
	}
	/* Servers of the Raft configuration that never joined the group. */
	for (size_t i = 0; i < q->nservers; i++) {
		if (q->seen[i] || q->servers[i].id == env->member_id)
			continue;
		memset(&m, 0, sizeof m);
		m.id = (uint32_t)q->servers[i].id;
		qms_member(q, &m, false);
	}

	/* Summary: not subject to WHERE or attribute selection. */
	char leader[FSM_NAME_MAX + 16] = "";
	if (q->self.leader_id != 0 && q->self.leader_id <= UINT32_MAX)
		member_name(env, (uint32_t)q->self.leader_id, leader, sizeof leader);
	if (q->self.leader_id == env->member_id && env->qmgr_name != NULL)
		snprintf(leader, sizeof leader, "%s", env->qmgr_name);
	proto_admin_begin(d->aw);
	proto_admin_attr(d->aw, "QSGNAME", env->group_name ? env->group_name : "");
	proto_admin_attr(d->aw, "LEADER", leader);
	snprintf(buf, sizeof buf, "%u/%u", q->insync, q->voters);
	proto_admin_attr(d->aw, "QUORUM", buf);
	snprintf(buf, sizeof buf, "%u", q->voters / 2 + 1);
	proto_admin_attr(d->aw, "MAJORITY", buf);
	snprintf(buf, sizeof buf, "%s",
		 q->voters > 0 && q->insync >= q->voters / 2 + 1 ? "YES" : "NO");
	proto_admin_attr(d->aw, "HAVEQUORUM", buf);
	proto_admin_end(d->aw);
	free(q);
}

static void exec_display(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			 void *arg)
{
	struct proto_admin_writer aw;
	struct display_ctx d = {.env = env, .mc = mc, .aw = &aw};
	char text[ADMIN_TEXT_SIZE];
	int rc = QSG_OK;

	proto_admin_init(&aw);
	switch (mc->obj) {
	case MQSC_OBJ_QLOCAL:
	case MQSC_OBJ_QUEUE:
	case MQSC_OBJ_QREMOTE:
	case MQSC_OBJ_QALIAS:
	case MQSC_OBJ_QSTATUS:
		if (mc->generic) {
			fsm_queue_foreach(env->fsm, display_queue_cb, &d);
		} else {
			/* The member's own object of that name and the group's. */
			struct fsm_qinfo qi;
			if (env->member_id != 0 &&
			    fsm_queue_info(env->fsm, env->member_id, mc->name, &qi) == QSG_OK)
				display_queue_cb(&d, &qi);
			if (fsm_queue_info(env->fsm, 0, mc->name, &qi) == QSG_OK)
				display_queue_cb(&d, &qi);
		}
		if (d.count == 0 && !mc->generic) {
			rc = QSG_RC_UNKNOWN_OBJECT;
			snprintf(text, sizeof text, "QSG0003E: %s(%s) not found: %s (%d).",
				 mqsc_obj_name(mc->obj), mc->name, qsg_rc_name(rc), rc);
		} else if (d.count == 0) {
			snprintf(text, sizeof text, "QSG0013I: No queues match %s(%s).",
				 mqsc_obj_name(mc->obj), mc->name);
		} else {
			snprintf(text, sizeof text, "QSG0012I: Display %s details.",
				 mc->obj == MQSC_OBJ_QSTATUS ? "queue status" : "queue");
		}
		break;
	case MQSC_OBJ_GROUP: {
		struct fsm_member self;
		bool self_known = fsm_member_get(env->fsm, env->member_id, &self) == QSG_OK;
		fsm_member_foreach(env->fsm, display_member_cb, &d);
		if (!self_known) {
			/* Not joined yet: still show our own live view. */
			memset(&self, 0, sizeof self);
			self.id = env->member_id;
			snprintf(self.name, sizeof self.name, "%s",
				 env->qmgr_name ? env->qmgr_name : "");
			display_member(&d, &self, true);
		}
		snprintf(text, sizeof text, "QSG0014I: Display group details (members: %u).",
			 (unsigned)d.count);
		break;
	}
	case MQSC_OBJ_QMGR:
		display_qmgr(&d);
		snprintf(text, sizeof text, "QSG0015I: Display queue manager details.");
		break;
	case MQSC_OBJ_CHANNEL:
		if (mc->generic) {
			fsm_channel_foreach(env->fsm, display_channel_cb, &d);
		} else {
			struct fsm_chattrs ca;
			if (fsm_channel_get(env->fsm, mc->name, &ca) == QSG_OK)
				display_channel_cb(&d, &ca);
		}
		if (d.count == 0 && !mc->generic) {
			rc = QSG_RC_CHANNEL_NOT_FOUND;
			snprintf(text, sizeof text, "QSG0003E: CHANNEL(%s) not found: %s (%d).",
				 mc->name, qsg_rc_name(rc), rc);
		} else if (d.count == 0) {
			snprintf(text, sizeof text, "QSG0017I: No channels match CHANNEL(%s).",
				 mc->name);
		} else {
			snprintf(text, sizeof text, "QSG0016I: Display channel details.");
		}
		break;
	case MQSC_OBJ_CHSTATUS:
		fsm_chstatus_foreach(env->fsm, display_chstatus_cb, &d);
		if (d.count == 0 && !mc->generic) {
			rc = QSG_RC_CHANNEL_NOT_FOUND;
			snprintf(text, sizeof text, "QSG0019E: no status for channel %s: %s (%d).",
				 mc->name, qsg_rc_name(rc), rc);
		} else if (d.count == 0) {
			snprintf(text, sizeof text,
				 "QSG0017I: No channel status matches CHSTATUS(%s).", mc->name);
		} else {
			snprintf(text, sizeof text, "QSG0018I: Display channel status details.");
		}
		break;
	case MQSC_OBJ_CHINIT:
		display_chinit(&d);
		snprintf(text, sizeof text, "QSG0030I: Display channel initiator details.");
		break;
	case MQSC_OBJ_QMSTATUS:
		display_qmstatus(&d);
		snprintf(text, sizeof text,
			 "QSG0037I: Display queue manager status details (members: %u).",
			 (unsigned)d.count);
		break;
	case MQSC_OBJ_MEMBER:
	case MQSC_OBJ_LEADER:
		rc = QSG_RC_MQSC_SYNTAX;
		snprintf(text, sizeof text, "QSG0001E: DISPLAY %s is not supported: %s (%d).",
			 mqsc_obj_name(mc->obj), qsg_rc_name(rc), rc);
		break;
	}
	if (aw.buf.err != QSG_OK) {
		rc = QSG_RC_STORAGE_NOT_AVAILABLE;
		snprintf(text, sizeof text, "QSG0004E: DISPLAY %s: %s (%d).",
			 mqsc_obj_name(mc->obj), qsg_rc_name(rc), rc);
		proto_admin_close(&aw);
		proto_admin_init(&aw);
	}
	done(arg, rc, text, &aw);
	proto_admin_close(&aw);
}

/* START/STOP CHINIT: this member's channel initiator, synchronously. */
static void exec_chinit(const struct admin_env *env, enum mqsc_verb verb, admin_done_cb done,
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
			 verb == MQSC_START ? "QSG0027I" : "QSG0028I", done_word(verb), qm);
	else
		snprintf(msg, sizeof msg, "QSG0029E: %s CHINIT on %s failed: %s (%d): %s.",
			 mqsc_verb_name(verb), qm, qsg_rc_name(rc), rc,
			 errmsg[0] != '\0' ? errmsg : qsg_rc_text(rc));
	reply(done, arg, rc, msg, NULL);
}

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
	reply(done, arg, rc, msg, NULL);
}

static void exec_lifecycle(const struct admin_env *env, const struct mqsc_cmd *mc,
			   admin_done_cb done, void *arg)
{
	struct admin_lifecycle req;
	char msg[ADMIN_TEXT_SIZE];
	struct lc_op *op;
	int rc;

	memset(&req, 0, sizeof req);
	op = calloc(1, sizeof *op);
	if (op == NULL) {
		reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE, mqsc_verb_name(mc->verb));
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
		reply(done, arg, rc, msg, NULL);
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
			reply(done, arg, rc, msg, NULL);
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
		reply(done, arg, rc, msg, NULL);
		return;
	}
	rc = env->lifecycle(env->arg, &req, lc_done, op);
	if (rc != QSG_OK) {
		snprintf(msg, sizeof msg, "QSG0036E: %s failed: %s (%d): %s.", op->what,
			 qsg_rc_name(rc), rc, qsg_rc_text(rc));
		free(op);
		reply(done, arg, rc, msg, NULL);
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
		reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE, "MQSC command");
		return;
	}
	rc = mqsc_parse(text, len, mc, errmsg);
	if (rc != QSG_OK) {
		snprintf(msg, sizeof msg, "%s: %s.", err_id(rc), errmsg);
		reply(done, arg, rc, msg, NULL);
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
		reply(done, arg, rc, msg, NULL);
		free(mc);
		return;
	}
	switch (mc->verb) {
	case MQSC_ADD:
	case MQSC_REMOVE:
	case MQSC_TRANSFER:
		exec_lifecycle(env, mc, done, arg);
		break;
	case MQSC_DISPLAY:
		exec_display(env, mc, done, arg);
		break;
	case MQSC_PING:
		snprintf(msg, sizeof msg, "QSG0007I: Queue manager %s is available.",
			 env->qmgr_name ? env->qmgr_name : "");
		reply(done, arg, QSG_OK, msg, NULL);
		break;
	case MQSC_START:
	case MQSC_STOP:
		if (mc->obj == MQSC_OBJ_QMGR) {
			exec_lifecycle(env, mc, done, arg);
			break;
		}
		if (mc->obj == MQSC_OBJ_CHINIT) {
			exec_chinit(env, mc->verb, done, arg);
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
