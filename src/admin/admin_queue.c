/* MQSC administration: DEFINE/ALTER/DELETE/CLEAR of local, remote and alias
 * queues. See admin.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* Copy the attributes whose bit is set in src->set over dst. */
static void merge_qattrs(struct fsm_qattrs *dst, const struct fsm_qattrs *src)
{
	fsm_qattrs_merge(dst, src, src->set);
	dst->set |= src->set;
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
void admin_exec_queue_change(struct admin_op *op, const struct mqsc_cmd *mc)
{
	struct fsm_cmd *cmd = &op->cmd;
	uint8_t qtype = admin_obj_qtype(mc->obj);
	struct fsm_qinfo qi;

	memcpy(cmd->queue, mc->name, sizeof cmd->queue);
	cmd->flags = mc->flags;
	/* ALTER/DELETE/CLEAR name the object's type: a queue of another type
	 * is not the object meant. */
	if (mc->verb != MQSC_DEFINE && target_info(op->env.fsm, op->env.member_id, mc, &qi) &&
	    admin_qtype_of(&qi.attrs) != qtype) {
		admin_op_refuse(op, QSG_RC_UNKNOWN_OBJECT, "%s not found (the queue is a %s)",
				op->object, admin_qtype_name(admin_qtype_of(&qi.attrs)));
		return;
	}
	switch (mc->verb) {
	case MQSC_DEFINE:
		cmd->op = FSM_OP_QDEFINE;
		if (mc->like[0] != '\0') {
			struct fsm_qinfo like;
			if (fsm_queue_lookup(op->env.fsm, op->env.member_id, mc->like, &like) !=
				QSG_OK ||
			    admin_qtype_of(&like.attrs) != qtype) {
				char lk[FSM_NAME_MAX + 16];
				snprintf(lk, sizeof lk, "%s(%s)", admin_qtype_name(qtype),
					 mc->like);
				admin_op_refuse(op, QSG_RC_UNKNOWN_OBJECT,
						"DEFINE %s: LIKE queue %s not found", op->object,
						lk);
				return;
			}
			/* LIKE copies the attributes of the queue type. */
			like.attrs.set = fsm_qattr_mask(qtype);
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
	admin_submit_op(op);
}

/* DEFINE/ALTER/DELETE CHANNEL. */
