/* MQSC administration: the names of MQSC verbs and objects as they appear
 * in messages (mqsc_verb_name, mqsc_obj_name; see mqsc.h). A leaf: used by
 * the parser (mqsc.c), the item checks (mqsc_items.c) and the executor
 * (admin*.c). */
#include "mqsc.h"

const char *mqsc_verb_name(enum mqsc_verb v)
{
	switch (v) {
	case MQSC_DEFINE:
		return "DEFINE";
	case MQSC_ALTER:
		return "ALTER";
	case MQSC_DELETE:
		return "DELETE";
	case MQSC_CLEAR:
		return "CLEAR";
	case MQSC_DISPLAY:
		return "DISPLAY";
	case MQSC_PING:
		return "PING";
	case MQSC_START:
		return "START";
	case MQSC_STOP:
		return "STOP";
	case MQSC_RESET:
		return "RESET";
	case MQSC_RESOLVE:
		return "RESOLVE";
	case MQSC_ADD:
		return "ADD";
	case MQSC_REMOVE:
		return "REMOVE";
	case MQSC_TRANSFER:
		return "TRANSFER";
	case MQSC_REFRESH:
		return "REFRESH";
	case MQSC_SET:
		return "SET";
	}
	return "?";
}

const char *mqsc_obj_name(enum mqsc_obj o)
{
	switch (o) {
	case MQSC_OBJ_QLOCAL:
		return "QLOCAL";
	case MQSC_OBJ_QUEUE:
		return "QUEUE";
	case MQSC_OBJ_QSTATUS:
		return "QSTATUS";
	case MQSC_OBJ_GROUP:
		return "GROUP";
	case MQSC_OBJ_QMGR:
		return "QMGR";
	case MQSC_OBJ_QREMOTE:
		return "QREMOTE";
	case MQSC_OBJ_CHANNEL:
		return "CHANNEL";
	case MQSC_OBJ_CHSTATUS:
		return "CHSTATUS";
	case MQSC_OBJ_CHINIT:
		return "CHINIT";
	case MQSC_OBJ_QALIAS:
		return "QALIAS";
	case MQSC_OBJ_QMSTATUS:
		return "QMSTATUS";
	case MQSC_OBJ_MEMBER:
		return "MEMBER";
	case MQSC_OBJ_LEADER:
		return "LEADER";
	case MQSC_OBJ_SECURITY:
		return "SECURITY";
	case MQSC_OBJ_AUTHREC:
		return "AUTHREC";
	case MQSC_OBJ_ENTAUTH:
		return "ENTAUTH";
	case MQSC_OBJ_CHLAUTH:
		return "CHLAUTH";
	case MQSC_OBJ_USER:
		return "USER";
	}
	return "?";
}
