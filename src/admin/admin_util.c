/* MQSC administration: replies, message texts and object names shared by
 * the executors (admin.c and admin_*.c). A leaf of src/admin: it calls no
 * other admin file. See admin_int.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* ------------------------------------------------------------------------
 * Replies and message texts
 * ------------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------ */

uint8_t admin_qtype_of(const struct fsm_qattrs *a)
{
	return a->qtype == FSM_QT_REMOTE || a->qtype == FSM_QT_ALIAS ? a->qtype : FSM_QT_LOCAL;
}

const char *admin_qtype_name(uint8_t t)
{
	return t == FSM_QT_REMOTE ? "QREMOTE" : t == FSM_QT_ALIAS ? "QALIAS" : "QLOCAL";
}

uint8_t admin_obj_qtype(enum mqsc_obj o)
{
	return o == MQSC_OBJ_QREMOTE  ? FSM_QT_REMOTE
	       : o == MQSC_OBJ_QALIAS ? FSM_QT_ALIAS
				      : FSM_QT_LOCAL;
}

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

void admin_active_text(char *text, size_t size, const struct admin_env *env, const char *name,
		       const struct fsm_chimage *img, const char *tail)
{
	char owner[FSM_NAME_MAX + 16];
	admin_member_name(env, img->owner, owner, sizeof owner);
	snprintf(text, size, "QSG0021E: Channel %s is %s on %s (epoch %" PRIu64 ")%s", name,
		 tail[0] == '.' ? "already active" : "active", owner, img->epoch, tail);
}

void admin_display_done(struct proto_admin_writer *aw, const char *what, int rc, const char *text,
			admin_done_cb done, void *arg)
{
	char etext[ADMIN_TEXT_SIZE];
	if (aw->buf.err != QSG_OK) {
		rc = QSG_RC_STORAGE_NOT_AVAILABLE;
		snprintf(etext, sizeof etext, "QSG0004E: DISPLAY %s: %s (%d).", what,
			 qsg_rc_name(rc), rc);
		text = etext;
		proto_admin_close(aw);
		proto_admin_init(aw);
	}
	done(arg, rc, text, aw);
	proto_admin_close(aw);
}
