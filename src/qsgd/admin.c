/* MQSC administration: execute a parsed command. See admin.h.
 *
 * Changes (DEFINE, ALTER, DELETE, CLEAR) become one fsm command each,
 * submitted through env->submit; the reply is built when the result comes
 * back. Queries (DISPLAY, PING) read the local replica and answer at once.
 * Message ids are listed in docs/admin.md. */
#include "admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqsc.h"

#define ADMIN_TEXT_SIZE (2 * QSG_ERRMSG_SIZE)

/* One command waiting for its fsm result. */
struct admin_op {
	admin_done_cb done;
	void *arg;
	uint8_t fsm_op;
	enum mqsc_verb verb;
	char object[FSM_NAME_MAX + 16]; /* "QLOCAL(QA)" */
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
		return "QSG0003E";
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

static void on_submitted(void *cbarg, int status, const void *result, size_t len)
{
	struct admin_op *op = cbarg;
	char text[ADMIN_TEXT_SIZE];
	char errmsg[QSG_ERRMSG_SIZE] = "";
	int rc = status;

	if (status != QSG_OK) {
		transport_text(text, sizeof text, op->verb, op->object, status);
	} else {
		struct fsm_result res;
		memset(&res, 0, sizeof res);
		rc = fsm_result_decode(op->fsm_op, result, len, &res, errmsg);
		if (rc != QSG_OK) {
			snprintf(text, sizeof text,
				 "QSG0004E: %s %s: bad result from the group: %s (%d): %s.",
				 mqsc_verb_name(op->verb), op->object, qsg_rc_name(rc), rc, errmsg);
			rc = QSG_RC_UNEXPECTED_ERROR;
		} else if (res.rc != QSG_OK) {
			rc = res.rc;
			snprintf(text, sizeof text, "%s: %s %s failed: %s (%d): %s.", err_id(rc),
				 mqsc_verb_name(op->verb), op->object, qsg_rc_name(rc), rc,
				 qsg_rc_text(rc));
		} else {
			snprintf(text, sizeof text, "%s: %s %s.", done_id(op->verb), op->object,
				 done_word(op->verb));
		}
	}
	admin_done_cb done = op->done;
	void *arg = op->arg;
	free(op);
	reply(done, arg, rc, text, NULL);
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
	dst->set |= m;
}

#ifndef FSM_QA_ALL
#define FSM_QA_ALL                                                                                 \
	(FSM_QA_MAXDEPTH | FSM_QA_MAXMSGL | FSM_QA_DEFPSIST | FSM_QA_BOTHRESH | FSM_QA_BOQNAME |   \
	 FSM_QA_INDXTYPE | FSM_QA_GET | FSM_QA_PUT | FSM_QA_DESCR | FSM_QA_DEFPRTY |               \
	 FSM_QA_MAXUMSGS)
#endif

static void exec_change(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg)
{
	struct fsm_cmd *cmd;
	struct admin_op *op;
	char object[FSM_NAME_MAX + 16];
	char what[ADMIN_TEXT_SIZE];
	int rc;

	snprintf(object, sizeof object, "QLOCAL(%s)", mc->name);
	cmd = calloc(1, sizeof *cmd);
	op = calloc(1, sizeof *op);
	if (cmd == NULL || op == NULL) {
		free(cmd);
		free(op);
		snprintf(what, sizeof what, "%s %s", mqsc_verb_name(mc->verb), object);
		reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE, what);
		return;
	}
	op->done = done;
	op->arg = arg;
	op->verb = mc->verb;
	memcpy(op->object, object, sizeof op->object);
	memcpy(cmd->queue, mc->name, sizeof cmd->queue);
	cmd->flags = mc->flags;
	switch (mc->verb) {
	case MQSC_DEFINE:
		cmd->op = FSM_OP_QDEFINE;
		if (mc->like[0] != '\0') {
			struct fsm_qinfo like;
			if (fsm_queue_info(env->fsm, mc->like, &like) != QSG_OK) {
				free(cmd);
				free(op);
				snprintf(what, sizeof what,
					 "DEFINE %s: LIKE queue QLOCAL(%s) not found", object,
					 mc->like);
				reply_error(done, arg, QSG_RC_UNKNOWN_OBJECT, what);
				return;
			}
			like.attrs.set = FSM_QA_ALL;
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
	memcpy(cmd->attrs.name, mc->name, sizeof cmd->attrs.name);
	op->fsm_op = cmd->op;
	rc = env->submit(env->arg, cmd, on_submitted, op);
	free(cmd);
	if (rc != QSG_OK) {
		/* Not submitted: definitely not applied. */
		free(op);
		transport_text(what, sizeof what, mc->verb, object, rc);
		reply(done, arg, rc, what, NULL);
	}
}

/* ------------------------------------------------------------------------
 * DISPLAY
 * ------------------------------------------------------------------------ */

struct display_ctx {
	const struct admin_env *env;
	const struct mqsc_cmd *mc;
	struct proto_admin_writer *aw;
	uint32_t count;
};

static void attr_str(struct display_ctx *d, const char *name, const char *value)
{
	if (mqsc_display_wants(d->mc, name))
		proto_admin_attr(d->aw, name, value);
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

	proto_admin_begin(d->aw);
	attr_str(d, "QUEUE", a->name);
	attr_str(d, "TYPE", "QLOCAL");
	attr_str(d, "QSGDISP", "SHARED");
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
	attr_str(d, "DESCR", a->descr);
	attr_u64(d, "CURDEPTH", q->curdepth);
	proto_admin_end(d->aw);
}

static void display_qstatus_one(struct display_ctx *d, const struct fsm_qinfo *q)
{
	proto_admin_begin(d->aw);
	attr_str(d, "QUEUE", q->attrs.name);
	attr_str(d, "TYPE", "QUEUE");
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
	proto_admin_end(d->aw);
}

static int display_queue_cb(void *arg, const struct fsm_qinfo *q)
{
	struct display_ctx *d = arg;
	if (!mqsc_name_matches(d->mc, q->attrs.name))
		return 0;
	if (d->mc->obj == MQSC_OBJ_QSTATUS)
		display_qstatus_one(d, q);
	else
		display_qlocal_one(d, q);
	d->count++;
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

	proto_admin_begin(d->aw);
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
	proto_admin_end(d->aw);
	d->count++;
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

	proto_admin_begin(d->aw);
	attr_str(d, "QMNAME", d->env->qmgr_name ? d->env->qmgr_name : "");
	attr_str(d, "QSGNAME", d->env->group_name ? d->env->group_name : "");
	attr_u64(d, "RAFTID", d->env->member_id);
	attr_str(d, "ROLE", role_name(ri.role));
	attr_str(d, "LEADER", buf);
	proto_admin_end(d->aw);
	d->count++;
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
	case MQSC_OBJ_QSTATUS:
		if (mc->generic) {
			fsm_queue_foreach(env->fsm, display_queue_cb, &d);
		} else {
			struct fsm_qinfo qi;
			if (fsm_queue_info(env->fsm, mc->name, &qi) == QSG_OK)
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
	switch (mc->verb) {
	case MQSC_DISPLAY:
		exec_display(env, mc, done, arg);
		break;
	case MQSC_PING:
		snprintf(msg, sizeof msg, "QSG0007I: Queue manager %s is available.",
			 env->qmgr_name ? env->qmgr_name : "");
		reply(done, arg, QSG_OK, msg, NULL);
		break;
	default:
		exec_change(env, mc, done, arg);
		break;
	}
	free(mc);
}
