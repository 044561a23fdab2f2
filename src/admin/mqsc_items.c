/* MQSC command items: what DEFINE, ALTER, DELETE, DISPLAY and the channel
 * and lifecycle verbs accept after the object, each value checked, and the
 * meaning filled into struct mqsc_cmd. Queue and channel attributes come
 * from the tables of src/fsm/fsm_attrs.h. See mqsc.h. */
#include <stdio.h>
#include <string.h>

#include "common/hostport.h"
#include "common/qsg_err.h"
#include "mqsc_int.h"

/* Queue and channel attributes accepted by DEFINE and ALTER are the
 * descriptors of src/fsm/fsm_attrs.h (keyword, range or value names, the
 * queue types that take each); QMGR attributes (DEADQ, DESCR) are in
 * set_qmattr.
 *
 * Attribute names DISPLAY knows per object (struct mqsc_disp_table). For
 * queues and channels: the names below, then the table's attributes of the
 * object (MQSC_DISP_*); DISPLAY QUEUE knows the local and remote queue
 * attributes (not TARGET). */
static const char *const disp_qlocal[] = {"QUEUE", "TYPE", "QSGDISP", "CURDEPTH", NULL};
static const char *const disp_qremote[] = {"QUEUE", "TYPE", "QSGDISP", NULL};
static const char *const disp_queue[] = {"QUEUE", "TYPE", "QSGDISP", "CURDEPTH", NULL};
static const char *const disp_qstatus[] = {"QUEUE",  "TYPE", "CURDEPTH", "UNCOM", "OPENS",
					   "MSGAGE", "PUTS", "GETS",	 NULL};
static const char *const disp_group[] = {"QMNAME", "RAFTID",  "ROLE",	  "TERM",
					 "COMMIT", "APPLIED", "LEASE",	  "LEASEEXP",
					 "CONNS",  "CONNAME", "CMDLEVEL", NULL};
static const char *const disp_qmgr[] = {"QMNAME", "QSGNAME", "RAFTID",	 "ROLE",     "LEADER",
					"DEADQ",  "DESCR",   "CMDLEVEL", "GRPLEVEL", NULL};
static const char *const disp_channel[] = {"CHANNEL", "CHLTYPE", "QSGDISP", NULL};
static const char *const disp_chstatus[] = {
    "CHANNEL",	"CHLTYPE",  "RQMNAME", "XMITQ",	    "STATUS",	"OWNER",    "EPOCH",
    "CONNAME",	"MSGS",	    "BATCHES", "CURSEQNO",  "LSTSEQNO", "INDOUBT",  "INDOUBTMSGS",
    "LSTMSGTI", "CHSTATI",  "REASON",  "PREVOWNER", "RETRIES",	"SHORTRTS", "LONGRTS",
    "NXTRETRY", "BLKCOUNT", "BLKLIST", NULL};
static const char *const disp_chinit[] = {"QMNAME",   "STATUS",	 "GROUP",  "CHANNELS",
					  "FAILURES", "RESTART", "REASON", NULL};
static const char *const disp_qalias[] = {"QUEUE", "TYPE", "QSGDISP", "TARGTYPE", NULL};
/* Member objects; the summary object (QSGNAME, LEADER, QUORUM, VOTERS) is
 * always shown whole. */
static const char *const disp_qmstatus[] = {"QMNAME", "RAFTID",	 "ROLE", "TERM",
					    "COMMIT", "APPLIED", "LAG",	 "INSYNC",
					    "VOTER",  "LEASE",	 NULL};

/* Users (mqsc_user.c): never the credential. */
static const char *const disp_user[] = {"USER", "GROUPS", "DESCR", "ALTDATE", "ALTTIME", NULL};

struct mqsc_disp_table mqsc_disp_table(enum mqsc_obj o)
{
	switch (o) {
	case MQSC_OBJ_QLOCAL:
		return (struct mqsc_disp_table){disp_qlocal, 3, false, MQSC_DISP_QL};
	case MQSC_OBJ_QUEUE:
		return (struct mqsc_disp_table){disp_queue, 3, false, MQSC_DISP_QL | MQSC_DISP_QR};
	case MQSC_OBJ_QREMOTE:
		return (struct mqsc_disp_table){disp_qremote, 3, false, MQSC_DISP_QR};
	case MQSC_OBJ_QSTATUS:
		return (struct mqsc_disp_table){disp_qstatus, 2, true};
	case MQSC_OBJ_GROUP:
		return (struct mqsc_disp_table){disp_group, 1, true};
	case MQSC_OBJ_QMGR:
		return (struct mqsc_disp_table){disp_qmgr, 1, true};
	case MQSC_OBJ_CHANNEL:
		return (struct mqsc_disp_table){disp_channel, 3, false, MQSC_DISP_CH};
	case MQSC_OBJ_CHSTATUS:
		/* As MQ: a short default set; ALL or names for the rest. */
		return (struct mqsc_disp_table){disp_chstatus, 8, false};
	case MQSC_OBJ_CHINIT:
		return (struct mqsc_disp_table){disp_chinit, 1, true};
	case MQSC_OBJ_QALIAS:
		return (struct mqsc_disp_table){disp_qalias, 3, false, MQSC_DISP_QA};
	case MQSC_OBJ_QMSTATUS:
		return (struct mqsc_disp_table){disp_qmstatus, 1, true};
	case MQSC_OBJ_USER:
		return (struct mqsc_disp_table){disp_user, 1, true};
	case MQSC_OBJ_MEMBER:
	case MQSC_OBJ_LEADER:
	case MQSC_OBJ_SECURITY:
	case MQSC_OBJ_AUTHREC: /* mqsc_authrec.c: fixed attributes */
	case MQSC_OBJ_ENTAUTH:
	case MQSC_OBJ_CHLAUTH: /* mqsc_chlauth.c */
		break;
	}
	return (struct mqsc_disp_table){NULL, 0, true};
}

static bool in_list(const char *const *list, const char *w)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strcmp(list[i], w) == 0)
			return true;
	return false;
}

/* Is k an attribute DISPLAY of object o knows? */
static bool disp_knows(enum mqsc_obj o, const char *k)
{
	struct mqsc_disp_table t = mqsc_disp_table(o);
	if (in_list(t.names, k))
		return true;
	if (t.attrs & MQSC_DISP_CH)
		return fsm_chattr_find(k) != NULL;
	return ((t.attrs & MQSC_DISP_QL) && fsm_qattr_find(k, FSM_QT_LOCAL) != NULL) ||
	       ((t.attrs & MQSC_DISP_QR) && fsm_qattr_find(k, FSM_QT_REMOTE) != NULL) ||
	       ((t.attrs & MQSC_DISP_QA) && fsm_qattr_find(k, FSM_QT_ALIAS) != NULL);
}

/* ------------------------------------------------------------------------
 * Value checks
 * ------------------------------------------------------------------------ */

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '/' || c == '_' || c == '%';
}

/* Check an MQ object name of at most max characters. what: "queue name",
 * "BOQNAME" ... */
int mqsc_check_name_max(const char *s, const char *what, size_t max, bool allow_generic,
			bool allow_empty, bool *generic, unsigned col, char *errmsg)
{
	size_t n = strlen(s);
	if (generic != NULL)
		*generic = false;
	if (n == 0) {
		if (allow_empty)
			return QSG_OK;
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "%s is empty at column %u", what, col);
	}
	if (n > max)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				"%s longer than %zu characters at column %u", what, max, col);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '*' && i == n - 1 && allow_generic) {
			*generic = true;
			continue;
		}
		if (!name_char(s[i]))
			return qsg_errf(errmsg, s[i] == '*' ? QSG_RC_MQSC_SYNTAX : QSG_RC_BAD_ATTR,
					"%s '%s': character '%c' not allowed%s (column %u)", what,
					s, s[i],
					s[i] == '*' ? " (generic names only in DISPLAY, "
						      "trailing '*')"
						    : "",
					col);
	}
	return QSG_OK;
}

static int check_name(const char *s, const char *what, bool allow_generic, bool allow_empty,
		      bool *generic, unsigned col, char *errmsg)
{
	return mqsc_check_name_max(s, what, FSM_NAME_MAX, allow_generic, allow_empty, generic, col,
				   errmsg);
}

static int parse_num(const struct mqsc_attr *a, uint32_t min, uint32_t max, uint32_t *out,
		     char *errmsg)
{
	const char *s = a->value;
	uint64_t v = 0;
	size_t n = strlen(s);
	bool ok = n > 0 && n <= 10;
	for (size_t i = 0; ok && i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			ok = false;
		else
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (!ok || v < min || v > max)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				"%s(%.40s): value must be a number %u..%u (column %u)", a->keyword,
				s, (unsigned)min, (unsigned)max, a->column);
	*out = (uint32_t)v;
	return QSG_OK;
}

static int enum_refuse(const struct mqsc_attr *a, const char *allowed, char *errmsg)
{
	return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "%s(%.40s): value must be %s (column %u)",
			a->keyword, a->value, allowed, a->column);
}

static void allowed_add(char *allowed, size_t size, const char *name, bool first)
{
	if (!first)
		strncat(allowed, "|", size - strlen(allowed) - 1);
	strncat(allowed, name, size - strlen(allowed) - 1);
}

static int parse_enum(const struct mqsc_attr *a, const char *const *values, unsigned *out,
		      char *errmsg)
{
	for (unsigned i = 0; values[i] != NULL; i++) {
		if (strcmp(values[i], a->value) == 0) {
			*out = i;
			return QSG_OK;
		}
	}
	char allowed[96] = "";
	for (unsigned i = 0; values[i] != NULL; i++)
		allowed_add(allowed, sizeof allowed, values[i], i == 0);
	return enum_refuse(a, allowed, errmsg);
}

/* An enumerated attribute: the value of the name given. */
static int parse_attr_enum(const struct mqsc_attr *a, const struct fsm_attr_enum *names,
			   uint32_t *out, char *errmsg)
{
	for (size_t i = 0; names[i].name != NULL; i++) {
		if (strcmp(names[i].name, a->value) == 0) {
			*out = names[i].value;
			return QSG_OK;
		}
	}
	char allowed[96] = "";
	for (size_t i = 0; names[i].name != NULL; i++)
		allowed_add(allowed, sizeof allowed, names[i].name, i == 0);
	return enum_refuse(a, allowed, errmsg);
}

void mqsc_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int need_value(const struct mqsc_attr *a, char *errmsg)
{
	if (!a->has_value)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "%s needs a value: %s(...) (column %u)",
				a->keyword, a->keyword, a->column);
	return QSG_OK;
}

static int check_text(const struct mqsc_attr *a, size_t max, char *errmsg)
{
	if (strlen(a->value) > max)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "%s longer than %d characters (column %u)",
				a->keyword, (int)max, a->column);
	return QSG_OK;
}

static int check_conname(const struct mqsc_attr *a, char *out, size_t size, char *errmsg);

/* Check the value of `a` for attribute d and store it in obj (the struct
 * fsm_qattrs or fsm_chattrs d describes); set the attribute's bit in *set. */
static int attr_value(const struct fsm_attr *d, const struct mqsc_attr *a, void *obj, uint32_t *set,
		      char *errmsg)
{
	char buf[MQSC_VALUE_MAX + 1];
	uint32_t num = 0;
	int rc;

	if ((rc = need_value(a, errmsg)) != QSG_OK)
		return rc;
	switch (d->type) {
	case FSM_ATTR_U8:
	case FSM_ATTR_U32:
		rc = d->names != NULL ? parse_attr_enum(a, d->names, &num, errmsg)
				      : parse_num(a, d->min, d->max, &num, errmsg);
		if (rc != QSG_OK)
			return rc;
		fsm_attr_set_num(d, obj, num);
		break;
	case FSM_ATTR_NAME:
		rc = check_name(a->value, d->keyword, false, true, NULL, a->column, errmsg);
		if (rc != QSG_OK)
			return rc;
		fsm_attr_set_str(d, obj, a->value);
		break;
	case FSM_ATTR_TEXT:
		if ((rc = check_text(a, d->size - 1, errmsg)) != QSG_OK)
			return rc;
		fsm_attr_set_str(d, obj, a->value);
		break;
	case FSM_ATTR_CONN:
		if ((rc = check_conname(a, buf, d->size < sizeof buf ? d->size : sizeof buf,
					errmsg)) != QSG_OK)
			return rc;
		fsm_attr_set_str(d, obj, buf);
		break;
	}
	*set |= d->bit;
	return QSG_OK;
}

static uint8_t obj_qtype(enum mqsc_obj o)
{
	return o == MQSC_OBJ_QREMOTE  ? FSM_QT_REMOTE
	       : o == MQSC_OBJ_QALIAS ? FSM_QT_ALIAS
				      : FSM_QT_LOCAL;
}

/* A switch (fsm_attr_switch): KW sets it, NOKW clears it, both without a
 * value; KW(YES|NO) goes through attr_value. Returns 1 when `a` is not
 * such a form. */
static int set_switch(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	uint8_t qtype = obj_qtype(cmd->obj);
	bool no = strncmp(a->keyword, "NO", 2) == 0;
	const struct fsm_attr *d = fsm_qattr_find(a->keyword, qtype);
	if ((d == NULL || d->names != fsm_attr_switch) && no) {
		d = fsm_qattr_find(a->keyword + 2, qtype);
	} else {
		no = false;
	}
	if (d == NULL || d->names != fsm_attr_switch || (a->has_value && !no))
		return 1;
	if (a->has_value)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "%s takes no value (column %u)",
				a->keyword, a->column);
	if (cmd->qattrs.set & d->bit)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"%s and NO%s are mutually exclusive (column %u)", d->keyword,
				d->keyword, a->column);
	fsm_attr_set_num(d, &cmd->qattrs, no ? 0 : 1);
	cmd->qattrs.set |= d->bit;
	return QSG_OK;
}

/* Set one queue attribute in cmd->qattrs. Returns 1 when `a` is not an
 * attribute of this queue type, QSG_OK or an error otherwise. */
static int set_qattr(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	int rc = set_switch(cmd, a, errmsg);
	if (rc != 1)
		return rc;
	const struct fsm_attr *d = fsm_qattr_find(a->keyword, obj_qtype(cmd->obj));
	if (d == NULL)
		return 1;
	if (d->names == fsm_attr_switch && (cmd->qattrs.set & d->bit))
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"%s and NO%s are mutually exclusive (column %u)", d->keyword,
				d->keyword, a->column);
	return attr_value(d, a, &cmd->qattrs, &cmd->qattrs.set, errmsg);
}

static int conname_bad(const char *item, const struct mqsc_attr *a, char *errmsg)
{
	return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
			"CONNAME: '%.60s' is not host:port or host(port) (column %u)", item,
			a->column);
}

/* CONNAME('host:port,host(port),...'): every item must be host:port (IPv6 as
 * [addr]:port) or MQ's host(port); stored as a host:port list. Empty is
 * allowed (the state machine requires a CONNAME for senders). */
static int check_conname(const struct mqsc_attr *a, char *out, size_t size, char *errmsg)
{
	const char *s = a->value;
	size_t o = 0;

	out[0] = '\0';
	while (*s != '\0') {
		const char *e = strchr(s, ',');
		size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
		char item[MQSC_VALUE_MAX + 32], host[MQSC_VALUE_MAX + 1];
		int port = 0;

		memcpy(item, s, n);
		item[n] = '\0';
		char *lp = strchr(item, '(');
		if (lp != NULL && n > 0 && item[n - 1] == ')') {
			/* host(port) -> host:port, [v6]:port for IPv6 literals. */
			char port_s[16];
			size_t pn = (size_t)(item + n - 1 - (lp + 1));
			if (pn == 0 || pn >= sizeof port_s)
				return conname_bad(item, a, errmsg);
			memcpy(port_s, lp + 1, pn);
			port_s[pn] = '\0';
			*lp = '\0';
			mqsc_copy_str(host, sizeof host, item);
			if (strchr(host, ':') != NULL && host[0] != '[')
				snprintf(item, sizeof item, "[%s]:%s", host, port_s);
			else
				snprintf(item, sizeof item, "%s:%s", host, port_s);
		}
		if (qsg_hostport_split(item, strlen(item), host, sizeof host, &port) != QSG_OK)
			return conname_bad(item, a, errmsg);
		size_t in = strlen(item);
		if (o + (o > 0) + in >= size)
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"CONNAME longer than %zu characters (column %u)", size - 1,
					a->column);
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, item, in + 1);
		o += in;
		if (e == NULL)
			break;
		s = e + 1;
		if (*s == '\0')
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"CONNAME ends with ',' (column %u)", a->column);
	}
	return QSG_OK;
}

/* Set one channel attribute in cmd->chattrs; 1 when `a` is not one. */
static int set_chattr(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	const struct fsm_attr *d = fsm_chattr_find(a->keyword);
	if (d == NULL)
		return 1;
	return attr_value(d, a, &cmd->chattrs, &cmd->chattrs.set, errmsg);
}

/* Set one queue-manager attribute in cmd->qmattrs (DEADQ(q), DESCR(text));
 * 1 when `a` is not one. */
static int set_qmattr(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	struct fsm_qmgr_attrs *qm = &cmd->qmattrs;
	bool deadq = strcmp(a->keyword, "DEADQ") == 0;
	int rc;

	if (!deadq && strcmp(a->keyword, "DESCR") != 0)
		return 1;
	if ((rc = need_value(a, errmsg)) != QSG_OK)
		return rc;
	if (deadq)
		rc = check_name(a->value, "DEADQ", false, true, NULL, a->column, errmsg);
	else
		rc = check_text(a, FSM_DESCR_MAX, errmsg);
	if (rc != QSG_OK)
		return rc;
	if (deadq)
		mqsc_copy_str(qm->deadq, sizeof qm->deadq, a->value);
	else
		mqsc_copy_str(qm->descr, sizeof qm->descr, a->value);
	qm->set |= deadq ? FSM_QM_DEADQ : FSM_QM_DESCR;
	return QSG_OK;
}

/* QALIAS: TARGET(q), TARGTYPE(QUEUE) and the queue attributes an alias
 * has (DESCR, DEFPSIST, DEFPRTY, GET, PUT); 1 when `a` is not one. */
static int set_alias_attr(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	int rc;
	if (strcmp(a->keyword, "TARGET") == 0) {
		if (!a->has_value)
			return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
					"TARGET needs a value: TARGET(queue) (column %u)",
					a->column);
		rc = check_name(a->value, "TARGET", false, false, NULL, a->column, errmsg);
		if (rc != QSG_OK)
			return rc;
		mqsc_copy_str(cmd->target, sizeof cmd->target, a->value);
		mqsc_copy_str(cmd->qattrs.target, sizeof cmd->qattrs.target, a->value);
		cmd->qattrs.set |= FSM_QA_TARGET;
		return QSG_OK;
	}
	if (strcmp(a->keyword, "TARGTYPE") == 0) {
		if (!a->has_value || strcmp(a->value, "QUEUE") != 0)
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"TARGTYPE: only TARGTYPE(QUEUE) is supported (column %u)",
					a->column);
		return QSG_OK;
	}
	return set_qattr(cmd, a, errmsg);
}

static int set_obj_attr(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	switch (cmd->obj) {
	case MQSC_OBJ_QLOCAL:
	case MQSC_OBJ_QREMOTE:
		return set_qattr(cmd, a, errmsg);
	case MQSC_OBJ_CHANNEL:
		return set_chattr(cmd, a, errmsg);
	case MQSC_OBJ_QMGR:
		return set_qmattr(cmd, a, errmsg);
	case MQSC_OBJ_QALIAS:
		return set_alias_attr(cmd, a, errmsg);
	default:
		return 1;
	}
}

static int want_no_value(const struct mqsc_attr *a, char *errmsg)
{
	if (a->has_value)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "%s takes no value (column %u)",
				a->keyword, a->column);
	return QSG_OK;
}

static int want_value(const struct mqsc_attr *a, char *errmsg)
{
	if (!a->has_value)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "%s needs a value: %s(...) (column %u)",
				a->keyword, a->keyword, a->column);
	return QSG_OK;
}

/* QSGDISP, with MQ's meanings (enum fsm_qdisp): SHARED (a shared queue:
 * local queues only), GROUP (a group definition; every member gets a COPY),
 * COPY (a member's copy of a GROUP object), QMGR (a member's private
 * object). Channels: GROUP (a shared channel) or QMGR (a private channel,
 * docs/channels.md "Private channels"). DISPLAY also takes
 * ALL and LIVE (QMGR, COPY and SHARED: MQ's default). */
static int check_qsgdisp(struct mqsc_cmd *cmd, const struct mqsc_attr *a, bool display,
			 char *errmsg)
{
	static const char *const names[] = {"SHARED", "GROUP", "QMGR", "COPY"};
	static const uint8_t values[] = {FSM_DISP_SHARED, FSM_DISP_GROUP, FSM_DISP_QMGR,
					 FSM_DISP_COPY};
	const char *v = a->value;
	int rc = want_value(a, errmsg);
	if (rc != QSG_OK)
		return rc;
	uint8_t disp = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(v, names[i]) == 0)
			disp = values[i];
	if (display) {
		if (strcmp(v, "ALL") == 0)
			cmd->disp_mask = MQSC_DISP_ALL;
		else if (strcmp(v, "LIVE") == 0)
			cmd->disp_mask = MQSC_DISP_LIVE;
		else if (disp != 0)
			cmd->disp_mask = (uint8_t)(1u << disp);
		else
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"QSGDISP(%.40s): value must be SHARED, GROUP, QMGR, COPY, "
					"ALL or LIVE (column %u)",
					v, a->column);
		return QSG_OK;
	}
	if (disp == 0)
		return qsg_errf(
		    errmsg, QSG_RC_BAD_ATTR,
		    "QSGDISP(%.40s): value must be SHARED, GROUP, QMGR or COPY (column %u)", v,
		    a->column);
	if (cmd->obj == MQSC_OBJ_CHANNEL && disp != FSM_DISP_GROUP && disp != FSM_DISP_QMGR)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				"QSGDISP(%s) is not supported for CHANNEL: channels are shared "
				"channels, QSGDISP(GROUP) (held once for the group, recovered by "
				"any member), or private channels, QSGDISP(QMGR) (this member's "
				"own) (column %u)",
				v, a->column);
	if (cmd->verb == MQSC_CLEAR && disp == FSM_DISP_GROUP)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				"CLEAR QLOCAL takes QSGDISP SHARED, QMGR or COPY: a GROUP "
				"definition holds no messages, its copies do (column %u)",
				a->column);
	if (cmd->obj != MQSC_OBJ_QLOCAL && disp == FSM_DISP_SHARED)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				"QSGDISP(SHARED) is for local queues only: %s takes GROUP, QMGR "
				"or COPY (column %u)",
				mqsc_obj_name(cmd->obj), a->column);
	cmd->qsgdisp = disp;
	return QSG_OK;
}

static int unknown_attr(const struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "%s %s: unknown attribute %s (column %u)",
			mqsc_verb_name(cmd->verb), mqsc_obj_name(cmd->obj), a->keyword, a->column);
}

/* DISPLAY items: ALL, filters with a value, attribute names without. */
static int check_display_item(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	const char *k = a->keyword;
	enum mqsc_obj o = cmd->obj;
	bool queue = o == MQSC_OBJ_QLOCAL || o == MQSC_OBJ_QUEUE || o == MQSC_OBJ_QREMOTE ||
		     o == MQSC_OBJ_QALIAS;
	int rc;

	if (strcmp(k, "ALL") == 0) {
		if ((rc = want_no_value(a, errmsg)) != QSG_OK)
			return rc;
		cmd->all = true;
		return QSG_OK;
	}
	if (strcmp(k, "TYPE") == 0 && a->has_value && o == MQSC_OBJ_QMSTATUS) {
		if (strcmp(a->value, "RAFT") != 0)
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"DISPLAY QMSTATUS: TYPE(%.40s) is not supported, use "
					"TYPE(RAFT) (column %u)",
					a->value, a->column);
		return QSG_OK;
	}
	if (strcmp(k, "TYPE") == 0 && a->has_value && (queue || o == MQSC_OBJ_QSTATUS)) {
		const char *v = a->value;
		bool ok = false;
		if (o == MQSC_OBJ_QSTATUS) {
			ok = strcmp(v, "QUEUE") == 0;
		} else if (strcmp(v, "QALIAS") == 0 &&
			   (o == MQSC_OBJ_QUEUE || o == MQSC_OBJ_QALIAS)) {
			ok = true;
			cmd->alias_filter = true;
		} else if (o == MQSC_OBJ_QALIAS) {
			ok = strcmp(v, "ALL") == 0;
		} else if (strcmp(v, "ALL") == 0) {
			ok = true;
		} else if (strcmp(v, "QLOCAL") == 0 && o != MQSC_OBJ_QREMOTE) {
			ok = true;
			cmd->type_filter = FSM_QT_LOCAL;
		} else if (strcmp(v, "QREMOTE") == 0 && o != MQSC_OBJ_QLOCAL) {
			ok = true;
			cmd->type_filter = FSM_QT_REMOTE;
		}
		if (!ok)
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"DISPLAY %s: TYPE(%.40s) is not supported (column %u)",
					mqsc_obj_name(o), v, a->column);
		return QSG_OK;
	}
	if (strcmp(k, "QSGDISP") == 0 && a->has_value && (queue || o == MQSC_OBJ_CHANNEL))
		return check_qsgdisp(cmd, a, true, errmsg);
	if (strcmp(k, "CHLTYPE") == 0 && a->has_value &&
	    (o == MQSC_OBJ_CHANNEL || o == MQSC_OBJ_CHSTATUS)) {
		if (strcmp(a->value, "SDR") == 0)
			cmd->chltype = FSM_CHL_SDR;
		else if (strcmp(a->value, "RCVR") == 0)
			cmd->chltype = FSM_CHL_RCVR;
		else if (strcmp(a->value, "ALL") != 0)
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"CHLTYPE(%.40s): value must be SDR|RCVR|ALL (column %u)",
					a->value, a->column);
		return QSG_OK;
	}
	if (disp_knows(o, k)) {
		if ((rc = want_no_value(a, errmsg)) != QSG_OK)
			return rc;
		cmd->selected = true;
		return QSG_OK;
	}
	return unknown_attr(cmd, a, errmsg);
}

static int flag_item(const struct mqsc_attr *a, bool *flag, char *errmsg)
{
	int rc = want_no_value(a, errmsg);
	if (rc == QSG_OK)
		*flag = true;
	return rc;
}

/* CMDSCOPE(' ' | qmname | *): blanks are removed; '' or ' ' means "the
 * member that serves the command". */
static int check_cmdscope(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	char v[MQSC_VALUE_MAX + 1];
	size_t n = 0;
	int rc = want_value(a, errmsg);
	if (rc != QSG_OK)
		return rc;
	for (const char *p = a->value; *p != '\0'; p++)
		if (*p != ' ')
			v[n++] = *p;
	v[n] = '\0';
	if (strcmp(v, "*") != 0 && n > 0) {
		rc = check_name(v, "CMDSCOPE", false, true, NULL, a->column, errmsg);
		if (rc != QSG_OK)
			return rc;
	}
	cmd->has_cmdscope = true;
	mqsc_copy_str(cmd->cmdscope, sizeof cmd->cmdscope, v);
	return QSG_OK;
}

/* A numeric host:port of at most FSM_ADDR_MAX characters. */
static int check_addr(const struct mqsc_attr *a, char *out, size_t size, char *errmsg)
{
	char host[FSM_ADDR_MAX + 1];
	int port = 0;
	size_t n = strlen(a->value);
	if (!a->has_value)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"%s needs a value: %s('host:port') (column %u)", a->keyword,
				a->keyword, a->column);
	if (n > FSM_ADDR_MAX || n >= size ||
	    qsg_hostport_split(a->value, n, host, sizeof host, &port) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				"%s('%.60s'): must be host:port (column %u)", a->keyword, a->value,
				a->column);
	mqsc_copy_str(out, size, a->value);
	return QSG_OK;
}

/* Items of ADD/REMOVE MEMBER, TRANSFER LEADER and STOP QMGR. */
static int check_lifecycle_item(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	const char *k = a->keyword;
	enum mqsc_verb v = cmd->verb;
	uint32_t num;
	int rc;

	if ((v == MQSC_ADD || v == MQSC_REMOVE) && strcmp(k, "RAFTID") == 0) {
		if ((rc = want_value(a, errmsg)) != QSG_OK)
			return rc;
		if ((rc = parse_num(a, 1, UINT32_MAX, &num, errmsg)) != QSG_OK)
			return rc;
		cmd->raftid = num;
		return QSG_OK;
	}
	if (v == MQSC_ADD && strcmp(k, "RAFTADDR") == 0)
		return check_addr(a, cmd->raftaddr, sizeof cmd->raftaddr, errmsg);
	if (v == MQSC_ADD && strcmp(k, "CONNAME") == 0)
		return check_addr(a, cmd->conname, sizeof cmd->conname, errmsg);
	if (v == MQSC_TRANSFER && strcmp(k, "TO") == 0) {
		if ((rc = want_value(a, errmsg)) != QSG_OK)
			return rc;
		rc = check_name(a->value, "TO", false, false, NULL, a->column, errmsg);
		if (rc != QSG_OK)
			return rc;
		mqsc_copy_str(cmd->to, sizeof cmd->to, a->value);
		return QSG_OK;
	}
	if ((v == MQSC_STOP || v == MQSC_REMOVE) && strcmp(k, "FORCE") == 0)
		return flag_item(a, &cmd->force, errmsg);
	return unknown_attr(cmd, a, errmsg);
}

/* Validate the items of a command and fill its meaning. */
int mqsc_check_items(struct mqsc_cmd *cmd, char *errmsg)
{
	bool replace = false, noreplace = false, purge = false, nopurge = false;
	bool channel = cmd->obj == MQSC_OBJ_CHANNEL;
	enum mqsc_verb v = cmd->verb;
	int rc;

	mqsc_copy_str(cmd->qattrs.name, sizeof cmd->qattrs.name, cmd->name);
	if (cmd->obj == MQSC_OBJ_QLOCAL)
		cmd->qattrs.qtype = FSM_QT_LOCAL;
	else if (cmd->obj == MQSC_OBJ_QREMOTE)
		cmd->qattrs.qtype = FSM_QT_REMOTE;
	else if (cmd->obj == MQSC_OBJ_QALIAS)
		cmd->qattrs.qtype = FSM_QT_ALIAS;
	if (channel)
		mqsc_copy_str(cmd->chattrs.name, sizeof cmd->chattrs.name, cmd->name);
	cmd->seqnum = 1;
	for (size_t i = 0; i < cmd->nattrs; i++) {
		const struct mqsc_attr *a = &cmd->attrs[i];
		const char *k = a->keyword;
		uint32_t num;
		unsigned idx;

		if (strcmp(k, "CMDSCOPE") == 0) {
			if ((rc = check_cmdscope(cmd, a, errmsg)) != QSG_OK)
				return rc;
			continue;
		}
		if (v == MQSC_DISPLAY) {
			if ((rc = check_display_item(cmd, a, errmsg)) != QSG_OK)
				return rc;
			continue;
		}
		if (v == MQSC_REFRESH) {
			/* REFRESH SECURITY TYPE(SSL) (docs/security.md "TLS on
			 * channels"): the only type (authority and users are in
			 * the replicated state: nothing to refresh). */
			if (strcmp(k, "TYPE") != 0 || !a->has_value || strcmp(a->value, "SSL") != 0)
				return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
						"REFRESH SECURITY takes TYPE(SSL) only (column %u)",
						a->column);
			cmd->type_ssl = true;
			continue;
		}
		if (v == MQSC_ADD || v == MQSC_REMOVE || v == MQSC_TRANSFER ||
		    (v == MQSC_STOP && cmd->obj == MQSC_OBJ_QMGR)) {
			if ((rc = check_lifecycle_item(cmd, a, errmsg)) != QSG_OK)
				return rc;
			continue;
		}
		if (v == MQSC_DEFINE || v == MQSC_ALTER) {
			rc = set_obj_attr(cmd, a, errmsg);
			if (rc != 1) {
				if (rc != QSG_OK)
					return rc;
				continue;
			}
		}
		if (strcmp(k, "QSGDISP") == 0 &&
		    (cmd->obj == MQSC_OBJ_QLOCAL || cmd->obj == MQSC_OBJ_QREMOTE ||
		     cmd->obj == MQSC_OBJ_QALIAS || channel) &&
		    (v == MQSC_DEFINE || v == MQSC_ALTER || v == MQSC_DELETE || v == MQSC_CLEAR)) {
			if ((rc = check_qsgdisp(cmd, a, false, errmsg)) != QSG_OK)
				return rc;
		} else if (v == MQSC_DEFINE && strcmp(k, "LIKE") == 0) {
			if ((rc = want_value(a, errmsg)) != QSG_OK)
				return rc;
			rc = mqsc_check_name_max(a->value, "LIKE",
						 channel ? FSM_CHNAME_MAX : FSM_NAME_MAX, false,
						 false, NULL, a->column, errmsg);
			if (rc != QSG_OK)
				return rc;
			mqsc_copy_str(cmd->like, sizeof cmd->like, a->value);
		} else if (v == MQSC_DEFINE && strcmp(k, "REPLACE") == 0) {
			if ((rc = flag_item(a, &replace, errmsg)) != QSG_OK)
				return rc;
		} else if (v == MQSC_DEFINE && strcmp(k, "NOREPLACE") == 0) {
			if ((rc = flag_item(a, &noreplace, errmsg)) != QSG_OK)
				return rc;
		} else if (v == MQSC_DELETE && cmd->obj == MQSC_OBJ_QLOCAL &&
			   strcmp(k, "PURGE") == 0) {
			if ((rc = flag_item(a, &purge, errmsg)) != QSG_OK)
				return rc;
		} else if (v == MQSC_DELETE && cmd->obj == MQSC_OBJ_QLOCAL &&
			   strcmp(k, "NOPURGE") == 0) {
			if ((rc = flag_item(a, &nopurge, errmsg)) != QSG_OK)
				return rc;
		} else if (v == MQSC_START && channel && strcmp(k, "CHLDISP") == 0) {
			static const char *const disps[] = {"SHARED", "FIXSHARED", NULL};
			if ((rc = want_value(a, errmsg)) != QSG_OK)
				return rc;
			if ((rc = parse_enum(a, disps, &idx, errmsg)) != QSG_OK)
				return rc;
			cmd->chldisp = (enum mqsc_chldisp)idx;
		} else if (v == MQSC_RESET && channel && strcmp(k, "SEQNUM") == 0) {
			if ((rc = want_value(a, errmsg)) != QSG_OK)
				return rc;
			if ((rc = parse_num(a, 1, 999999999, &num, errmsg)) != QSG_OK)
				return rc;
			cmd->seqnum = num;
		} else if (v == MQSC_RESOLVE && channel && strcmp(k, "ACTION") == 0) {
			static const char *const actions[] = {"COMMIT", "BACKOUT", NULL};
			if ((rc = want_value(a, errmsg)) != QSG_OK)
				return rc;
			if ((rc = parse_enum(a, actions, &idx, errmsg)) != QSG_OK)
				return rc;
			cmd->action = idx == 0 ? MQSC_ACTION_COMMIT : MQSC_ACTION_BACKOUT;
		} else {
			return unknown_attr(cmd, a, errmsg);
		}
	}
	if (replace && noreplace)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"REPLACE and NOREPLACE are mutually exclusive");
	if (purge && nopurge)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"PURGE and NOPURGE are mutually exclusive");
	if (v == MQSC_REFRESH && !cmd->type_ssl)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "REFRESH SECURITY needs TYPE(SSL)");
	if (v == MQSC_RESOLVE && cmd->action == MQSC_ACTION_NONE)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"RESOLVE CHANNEL needs ACTION(COMMIT) or ACTION(BACKOUT)");
	if (v == MQSC_DEFINE && channel && !(cmd->chattrs.set & FSM_CA_CHLTYPE) &&
	    cmd->like[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"DEFINE CHANNEL needs CHLTYPE(SDR) or CHLTYPE(RCVR)");
	if (v == MQSC_DEFINE && cmd->obj == MQSC_OBJ_QALIAS && cmd->target[0] == '\0' &&
	    cmd->like[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "DEFINE QALIAS needs TARGET(queue)");
	if (v == MQSC_ADD &&
	    (cmd->raftid == 0 || cmd->raftaddr[0] == '\0' || cmd->conname[0] == '\0'))
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"ADD MEMBER(%s) needs RAFTID(n), RAFTADDR('host:port') and "
				"CONNAME('host:port')",
				cmd->name);
	if (cmd->where.op != MQSC_WHERE_NONE) {
		if (v != MQSC_DISPLAY)
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"%s %s: WHERE is only allowed on DISPLAY (column %u)",
					mqsc_verb_name(v), mqsc_obj_name(cmd->obj),
					cmd->where.column);
		if (!disp_knows(cmd->obj, cmd->where.attr))
			return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
					"WHERE: %s is not an attribute of %s (column %u)",
					cmd->where.attr, mqsc_obj_name(cmd->obj),
					cmd->where.column);
	}
	if (replace)
		cmd->flags |= FSM_F_REPLACE;
	if (purge)
		cmd->flags |= FSM_F_PURGE;
	return QSG_OK;
}
