/* MQSC command parser: one command text -> struct mqsc_cmd.
 *
 * Pure: no I/O, no allocation, no global state. The parser tokenizes
 * (keywords are case-insensitive, unquoted names and values are upper-cased as
 * MQ does, '...' keeps case with '' as an embedded quote, blanks or commas
 * separate items), checks the command's structure and validates every
 * attribute for the verb and object type, so the executor only maps the result
 * to state-machine commands or queries.
 *
 * Errors: QSG_RC_MQSC_SYNTAX (structure: what and at which column),
 * QSG_RC_BAD_ATTR (unknown attribute for the command, value out of range).
 * Any input, including embedded NUL bytes and unbalanced parentheses, yields
 * a reason code and a message. Queue and channel attributes are those of
 * src/fsm/fsm_attrs.h. Callers: admin*.c and tests/unit/test_mqsc
 * (mqsc.c: lexer and grammar; mqsc_items.c: item checks; mqsc_names.c:
 * verb and object names). */
#ifndef QSG_MQSC_H
#define QSG_MQSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsm/fsm.h"

#define MQSC_MAX_ATTRS 32 /* items after the object */
#define MQSC_KEYWORD_MAX 16 /* longest keyword we know */
#define MQSC_VALUE_MAX 264 /* longest token (FSM_CONNAME_MAX) */
#define MQSC_MAX_TEXT 65535 /* longest command text */
/* DISPLAY QSGDISP masks (bits 1 << enum fsm_qdisp). */
#define MQSC_DISP_LIVE                                                                             \
	((uint8_t)((1u << FSM_DISP_QMGR) | (1u << FSM_DISP_COPY) | (1u << FSM_DISP_SHARED)))
#define MQSC_DISP_ALL ((uint8_t)(MQSC_DISP_LIVE | (1u << FSM_DISP_GROUP)))

enum mqsc_verb {
	MQSC_DEFINE = 1,
	MQSC_ALTER,
	MQSC_DELETE,
	MQSC_CLEAR,
	MQSC_DISPLAY,
	MQSC_PING,
	MQSC_START, /* START CHANNEL / CHINIT */
	MQSC_STOP, /* STOP CHANNEL / CHINIT */
	MQSC_RESET, /* RESET CHANNEL */
	MQSC_RESOLVE, /* RESOLVE CHANNEL */
	MQSC_ADD, /* ADD MEMBER (qsg's own verb) */
	MQSC_REMOVE, /* REMOVE MEMBER (qsg's own verb) */
	MQSC_TRANSFER, /* TRANSFER LEADER (qsg's own verb) */
	MQSC_REFRESH, /* REFRESH SECURITY TYPE(SSL) */
	MQSC_SET, /* SET AUTHREC, SET CHLAUTH */
};

enum mqsc_obj {
	MQSC_OBJ_QLOCAL = 1, /* QLOCAL / QL */
	MQSC_OBJ_QUEUE, /* QUEUE / Q (DISPLAY only: every queue type) */
	MQSC_OBJ_QSTATUS, /* QSTATUS / QS (DISPLAY only) */
	MQSC_OBJ_GROUP, /* DISPLAY GROUP */
	MQSC_OBJ_QMGR, /* DISPLAY QMGR, PING QMGR, ALTER QMGR */
	MQSC_OBJ_QREMOTE, /* QREMOTE / QR */
	MQSC_OBJ_CHANNEL, /* CHANNEL / CHL */
	MQSC_OBJ_CHSTATUS, /* CHSTATUS / CHS (DISPLAY only) */
	MQSC_OBJ_CHINIT, /* START/STOP/DISPLAY CHINIT */
	MQSC_OBJ_QALIAS, /* QALIAS / QA: resolved by the state machine */
	MQSC_OBJ_QMSTATUS, /* DISPLAY QMSTATUS TYPE(RAFT) */
	MQSC_OBJ_MEMBER, /* ADD/REMOVE MEMBER(name) */
	MQSC_OBJ_LEADER, /* TRANSFER LEADER */
	MQSC_OBJ_USER, /* DEFINE/ALTER/DELETE/DISPLAY USER (qsg's own object) */
	MQSC_OBJ_SECURITY, /* REFRESH SECURITY TYPE(SSL) */
	MQSC_OBJ_AUTHREC, /* SET/DELETE/DISPLAY AUTHREC (mqsc_authrec.c) */
	MQSC_OBJ_ENTAUTH, /* DISPLAY ENTAUTH (mqsc_authrec.c) */
	MQSC_OBJ_CHLAUTH, /* SET/DISPLAY CHLAUTH (mqsc_chlauth.c) */
};

/* WHERE(attribute op value) on DISPLAY: MQ's operators. */
enum mqsc_where_op {
	MQSC_WHERE_NONE = 0,
	MQSC_WHERE_EQ,
	MQSC_WHERE_NE,
	MQSC_WHERE_LT,
	MQSC_WHERE_GT,
	MQSC_WHERE_LE,
	MQSC_WHERE_GE,
	MQSC_WHERE_LK, /* like: value with a trailing '*' is a prefix */
	MQSC_WHERE_NL, /* not like */
};

struct mqsc_where {
	enum mqsc_where_op op; /* NONE: no filter */
	char attr[MQSC_KEYWORD_MAX + 1]; /* a displayable attribute of the object */
	char value[MQSC_VALUE_MAX + 1];
	unsigned column;
};

enum mqsc_chldisp { MQSC_CHLDISP_SHARED = 0, MQSC_CHLDISP_FIXSHARED = 1 };
enum mqsc_action { MQSC_ACTION_NONE = 0, MQSC_ACTION_COMMIT = 1, MQSC_ACTION_BACKOUT = 2 };

/* One item after the object: KEYWORD or KEYWORD(value). */
struct mqsc_attr {
	char keyword[MQSC_KEYWORD_MAX + 1]; /* canonical upper-case name */
	char value[MQSC_VALUE_MAX + 1];
	bool has_value;
	unsigned column; /* 1-based column of the keyword */
};

struct mqsc_cmd {
	enum mqsc_verb verb;
	enum mqsc_obj obj;
	char name[FSM_NAME_MAX + 1]; /* object name; empty for GROUP/QMGR/CHINIT;
				      * channels: at most FSM_CHNAME_MAX */
	bool generic; /* DISPLAY: name ends with '*' (prefix match) */
	size_t nattrs;
	struct mqsc_attr attrs[MQSC_MAX_ATTRS];

	/* Validated meaning, filled by mqsc_parse. */
	struct fsm_qattrs qattrs; /* DEFINE/ALTER QLOCAL/QREMOTE: name + values,
				   * set = given, qtype = the object's type */
	struct fsm_chattrs chattrs; /* DEFINE/ALTER CHANNEL: set = given */
	struct fsm_qmgr_attrs qmattrs; /* ALTER QMGR: set = given */
	uint32_t flags; /* FSM_F_REPLACE (DEFINE), FSM_F_PURGE (DELETE) */
	char like[FSM_NAME_MAX + 1]; /* DEFINE ... LIKE(q or channel); "" if none */
	bool all; /* DISPLAY ... ALL */
	bool selected; /* DISPLAY: attribute names were listed */
	/* DISPLAY filters (0 = no filter). */
	uint8_t type_filter; /* QUEUE/QLOCAL/QREMOTE TYPE(...): enum fsm_qtype */
	/* DISPLAY QSGDISP(...): the dispositions shown, bits 1 << enum
	 * fsm_qdisp; 0 when not given (queues: LIVE = QMGR, COPY and SHARED;
	 * channels: all). */
	uint8_t disp_mask;
	uint8_t chltype; /* CHANNEL/CHSTATUS CHLTYPE(SDR|RCVR): enum fsm_chltype */
	/* Channel commands. */
	enum mqsc_chldisp chldisp; /* START CHANNEL CHLDISP, default SHARED */
	uint64_t seqnum; /* RESET CHANNEL SEQNUM, default 1 */
	enum mqsc_action action; /* RESOLVE CHANNEL ACTION (required) */
	bool type_ssl; /* REFRESH SECURITY TYPE(SSL) (required) */
	/* DISPLAY WHERE(...) filter. */
	struct mqsc_where where;
	/* DEFINE/ALTER/DELETE/CLEAR QSGDISP(...): enum fsm_qdisp, 0 = not
	 * given (DEFINE: SHARED for QLOCAL, GROUP otherwise; ALTER/DELETE:
	 * the member's QMGR object, else the group's; CLEAR: the queue whose
	 * messages this member sees). */
	uint8_t qsgdisp;
	/* DISPLAY QUEUE TYPE(QALIAS). */
	bool alias_filter;
	/* QALIAS TARGET(q) (TARGTYPE(QUEUE) only). */
	char target[FSM_NAME_MAX + 1];
	/* CMDSCOPE(value) as given (blanks removed); has_cmdscope when given.
	 * qsgadm implements CMDSCOPE(*) and CMDSCOPE(QMn) client side and
	 * sends the command without it; a member accepts only ' ' or its own
	 * name. */
	bool has_cmdscope;
	char cmdscope[FSM_NAME_MAX + 1];
	/* Lifecycle: ADD MEMBER(name) RAFTID RAFTADDR CONNAME, REMOVE
	 * MEMBER(name) [RAFTID], TRANSFER LEADER [TO(name)], STOP QMGR [FORCE]. */
	uint32_t raftid; /* 0: not given */
	char raftaddr[FSM_ADDR_MAX + 1];
	char conname[FSM_ADDR_MAX + 1];
	char to[FSM_NAME_MAX + 1]; /* TRANSFER LEADER TO(name); "" = any */
	bool force; /* STOP QMGR FORCE */
	/* DEFINE/ALTER USER (mqsc_user.c): PASSWORD('...') (the caller wipes
	 * the command once used: it holds the password, here and in attrs),
	 * GROUPS(g1,g2,...) (upper case), DESCR. */
	bool has_password;
	char password[MQSC_VALUE_MAX + 1];
	bool has_groups;
	uint8_t ngroups;
	char groups[FSM_USER_GROUPS_MAX][FSM_NAME_MAX + 1];
	bool has_descr;
	char descr[FSM_DESCR_MAX + 1];
	/* SET/DELETE/DISPLAY AUTHREC, DISPLAY ENTAUTH (mqsc_authrec.c):
	 * PROFILE (ENTAUTH: OBJNAME) in authrec.profile ("**" for QMGR; ""
	 * on DISPLAY AUTHREC without PROFILE), OBJTYPE, PRINCIPAL or GROUP
	 * (upper case; DISPLAY: 0/"" = any), AUTHADD in authrec.auth,
	 * AUTHRMV in authrec.rmv; QSGDISP in qsgdisp (0 = GROUP). scope is
	 * left 0: the executor sets the member for QSGDISP(QMGR). */
	struct fsm_authrec authrec;
	/* SET/DISPLAY CHLAUTH (mqsc_chlauth.c): the rule (profile = the
	 * object name; SET: action ADD when not given, address "*" when not
	 * given for SSLPEERMAP and USERMAP, usersrc MAP when not given);
	 * DISPLAY: type 0 = any, chl_match (MATCH, GENERIC when not given),
	 * and for MATCH(RUNCHECK) the connection to try in address, sslpeer
	 * and clntuser. */
	struct fsm_chlauth chlauth;
	uint8_t chl_match; /* enum mqsc_chl_match */
};

enum mqsc_chl_match { MQSC_CHL_RUNCHECK = 1, MQSC_CHL_EXACT = 2, MQSC_CHL_GENERIC = 3 };

/* "PUT,GET,..." for an authority mask ("NONE" for 0) into buf[size]. */
void mqsc_auth_list(uint32_t mask, char *buf, size_t size);
/* "QUEUE", "CHANNEL", "QMGR"; "PRINCIPAL", "GROUP"; an authority's name. */
const char *mqsc_authobj_name(uint8_t objtype);
const char *mqsc_authent_name(uint8_t enttype);
const char *mqsc_auth_name(uint32_t bit);

/* Parse one command of `len` bytes (need not be NUL-terminated). */
int mqsc_parse(const char *text, size_t len, struct mqsc_cmd *cmd, char *errmsg);

/* DISPLAY: should attribute `name` (canonical, e.g. "CURDEPTH") be shown? */
bool mqsc_display_wants(const struct mqsc_cmd *cmd, const char *name);

/* Generic name match: prefix before '*' when cmd->generic, exact otherwise. */
bool mqsc_name_matches(const struct mqsc_cmd *cmd, const char *name);

/* WHERE filter of cmd on one object given as n name/value pairs: true when
 * there is no filter or the object matches. An object without the
 * attribute does not match. Numbers (optional '-' and digits, both sides)
 * compare numerically, anything else as strings; LK/NL match a prefix when
 * the value ends with '*', the whole value otherwise. */
bool mqsc_where_matches(const struct mqsc_cmd *cmd, size_t n, const char *const *names,
			const char *const *values);

/* "DEFINE", "QLOCAL" ... for messages. */
const char *mqsc_verb_name(enum mqsc_verb v);
const char *mqsc_obj_name(enum mqsc_obj o);

#endif
