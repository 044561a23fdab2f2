/* MQSC command parser. See mqsc.h. */
#include "mqsc.h"

#include <string.h>

#include "common/qsg_err.h"

/* ------------------------------------------------------------------------
 * Lexer
 * ------------------------------------------------------------------------ */

enum tok_kind { TOK_END, TOK_WORD, TOK_QUOTED, TOK_LPAREN, TOK_RPAREN };

struct token {
	enum tok_kind kind;
	unsigned column; /* 1-based */
	size_t len;
	char text[MQSC_VALUE_MAX + 1];
};

struct parser {
	const char *p;
	size_t len;
	size_t pos;
	struct token tok; /* current token */
	char *errmsg;
};

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',';
}

static bool is_printable(char c)
{
	return c >= 0x20 && c <= 0x7e;
}

static char to_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static const char *tok_desc(const struct token *t)
{
	switch (t->kind) {
	case TOK_END:
		return "end of command";
	case TOK_LPAREN:
		return "'('";
	case TOK_RPAREN:
		return "')'";
	case TOK_QUOTED:
		return "a quoted string";
	case TOK_WORD:
		return "a keyword";
	}
	return "?";
}

static int tok_append(struct parser *ps, char c)
{
	struct token *t = &ps->tok;
	if (t->len >= MQSC_VALUE_MAX)
		return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
				"token longer than %d characters at column %u", MQSC_VALUE_MAX,
				t->column);
	t->text[t->len++] = c;
	t->text[t->len] = '\0';
	return QSG_OK;
}

/* Read the next token into ps->tok. */
static int advance(struct parser *ps)
{
	struct token *t = &ps->tok;
	int rc;

	while (ps->pos < ps->len && is_sep(ps->p[ps->pos]))
		ps->pos++;
	t->column = (unsigned)ps->pos + 1;
	t->len = 0;
	t->text[0] = '\0';
	if (ps->pos == ps->len) {
		t->kind = TOK_END;
		return QSG_OK;
	}
	char c = ps->p[ps->pos];
	if (c == '(' || c == ')') {
		t->kind = c == '(' ? TOK_LPAREN : TOK_RPAREN;
		ps->pos++;
		return QSG_OK;
	}
	if (c == '\'') {
		t->kind = TOK_QUOTED;
		ps->pos++;
		for (;;) {
			if (ps->pos == ps->len)
				return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
						"quoted string starting at column %u is not closed",
						t->column);
			c = ps->p[ps->pos];
			if (c == '\'') {
				if (ps->pos + 1 < ps->len && ps->p[ps->pos + 1] == '\'') {
					ps->pos += 2;
					if ((rc = tok_append(ps, '\'')) != QSG_OK)
						return rc;
					continue;
				}
				ps->pos++;
				return QSG_OK;
			}
			if (!is_printable(c))
				return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
						"invalid character 0x%02x at column %zu",
						(unsigned)(unsigned char)c, ps->pos + 1);
			if ((rc = tok_append(ps, c)) != QSG_OK)
				return rc;
			ps->pos++;
		}
	}
	t->kind = TOK_WORD;
	while (ps->pos < ps->len) {
		c = ps->p[ps->pos];
		if (is_sep(c) || c == '(' || c == ')' || c == '\'')
			break;
		if (!is_printable(c))
			return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
					"invalid character 0x%02x at column %zu",
					(unsigned)(unsigned char)c, ps->pos + 1);
		if ((rc = tok_append(ps, to_upper(c))) != QSG_OK)
			return rc;
		ps->pos++;
	}
	return QSG_OK;
}

/* ------------------------------------------------------------------------
 * Keyword tables
 * ------------------------------------------------------------------------ */

struct word_map {
	const char *word;
	int value;
};

static const struct word_map verbs[] = {
    {"DEFINE", MQSC_DEFINE}, {"DEF", MQSC_DEFINE}, {"ALTER", MQSC_ALTER}, {"ALT", MQSC_ALTER},
    {"DELETE", MQSC_DELETE}, {"DEL", MQSC_DELETE}, {"CLEAR", MQSC_CLEAR}, {"DISPLAY", MQSC_DISPLAY},
    {"DIS", MQSC_DISPLAY},   {"PING", MQSC_PING},
};

static const struct word_map objs[] = {
    {"QLOCAL", MQSC_OBJ_QLOCAL}, {"QL", MQSC_OBJ_QLOCAL},	{"QUEUE", MQSC_OBJ_QUEUE},
    {"Q", MQSC_OBJ_QUEUE},	 {"QSTATUS", MQSC_OBJ_QSTATUS}, {"QS", MQSC_OBJ_QSTATUS},
    {"GROUP", MQSC_OBJ_GROUP},	 {"QMGR", MQSC_OBJ_QMGR},
};

static int map_find(const struct word_map *m, size_t n, const char *w)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].word, w) == 0)
			return m[i].value;
	return 0;
}

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
	}
	return "?";
}

/* Queue attributes accepted by DEFINE and ALTER. */
enum qa_kind { QA_NUM, QA_ENUM, QA_NAME, QA_TEXT };

static const char *const yes_no[] = {"NO", "YES", NULL};
static const char *const indx_types[] = {"NONE", "MSGID", "CORRELID", NULL};
static const char *const en_dis[] = {"ENABLED", "DISABLED", NULL};

struct qa_spec {
	const char *name;
	uint32_t bit;
	enum qa_kind kind;
	uint32_t min, max; /* QA_NUM */
	const char *const *values; /* QA_ENUM: value = index */
};

static const struct qa_spec qa_specs[] = {
    {"MAXDEPTH", FSM_QA_MAXDEPTH, QA_NUM, 0, 999999999, NULL},
    {"MAXMSGL", FSM_QA_MAXMSGL, QA_NUM, 0, FSM_MAX_MSGL, NULL},
    {"DEFPSIST", FSM_QA_DEFPSIST, QA_ENUM, 0, 0, yes_no},
    {"DEFPRTY", FSM_QA_DEFPRTY, QA_NUM, 0, 9, NULL},
    {"BOTHRESH", FSM_QA_BOTHRESH, QA_NUM, 0, 999999999, NULL},
    {"BOQNAME", FSM_QA_BOQNAME, QA_NAME, 0, 0, NULL},
    {"INDXTYPE", FSM_QA_INDXTYPE, QA_ENUM, 0, 0, indx_types},
    {"GET", FSM_QA_GET, QA_ENUM, 0, 0, en_dis},
    {"PUT", FSM_QA_PUT, QA_ENUM, 0, 0, en_dis},
    {"MAXUMSGS", FSM_QA_MAXUMSGS, QA_NUM, 1, 999999999, NULL},
    {"DESCR", FSM_QA_DESCR, QA_TEXT, 0, 0, NULL},
};
#define N_QA (sizeof qa_specs / sizeof qa_specs[0])

/* Attribute names DISPLAY knows per object; the first `always` are shown
 * whatever was selected. default_all: shown all when nothing is selected. */
static const char *const disp_qlocal[] = {
    "QUEUE",   "TYPE",	   "QSGDISP", "MAXDEPTH", "MAXMSGL",  "DEFPSIST", "DEFPRTY",  "BOTHRESH",
    "BOQNAME", "INDXTYPE", "GET",     "PUT",	  "MAXUMSGS", "DESCR",	  "CURDEPTH", NULL};
static const char *const disp_qstatus[] = {"QUEUE",  "TYPE", "CURDEPTH", "UNCOM", "OPENS",
					   "MSGAGE", "PUTS", "GETS",	 NULL};
static const char *const disp_group[] = {"QMNAME", "RAFTID",  "ROLE",  "TERM",
					 "COMMIT", "APPLIED", "LEASE", "LEASEEXP",
					 "CONNS",  "CONNAME", NULL};
static const char *const disp_qmgr[] = {"QMNAME", "QSGNAME", "RAFTID", "ROLE", "LEADER", NULL};

struct disp_table {
	const char *const *names;
	size_t always;
	bool default_all;
};

static struct disp_table disp_table(enum mqsc_obj o)
{
	switch (o) {
	case MQSC_OBJ_QLOCAL:
	case MQSC_OBJ_QUEUE:
		return (struct disp_table){disp_qlocal, 3, false};
	case MQSC_OBJ_QSTATUS:
		return (struct disp_table){disp_qstatus, 2, true};
	case MQSC_OBJ_GROUP:
		return (struct disp_table){disp_group, 1, true};
	case MQSC_OBJ_QMGR:
		return (struct disp_table){disp_qmgr, 1, true};
	}
	return (struct disp_table){NULL, 0, true};
}

static bool in_list(const char *const *list, const char *w)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strcmp(list[i], w) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------------
 * Value checks
 * ------------------------------------------------------------------------ */

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '/' || c == '_' || c == '%';
}

/* Check an MQ object name. what: "queue name", "BOQNAME" ... */
static int check_name(const char *s, const char *what, bool allow_generic, bool allow_empty,
		      bool *generic, unsigned col, char *errmsg)
{
	size_t n = strlen(s);
	if (generic != NULL)
		*generic = false;
	if (n == 0) {
		if (allow_empty)
			return QSG_OK;
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "%s is empty at column %u", what, col);
	}
	if (n > FSM_NAME_MAX)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				"%s longer than %d characters at column %u", what, FSM_NAME_MAX,
				col);
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
	for (unsigned i = 0; values[i] != NULL; i++) {
		if (i > 0)
			strncat(allowed, "|", sizeof allowed - strlen(allowed) - 1);
		strncat(allowed, values[i], sizeof allowed - strlen(allowed) - 1);
	}
	return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "%s(%.40s): value must be %s (column %u)",
			a->keyword, a->value, allowed, a->column);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Set one queue attribute in cmd->qattrs. Returns 1 when `a` is not a queue
 * attribute, QSG_OK or an error otherwise. */
static int set_qattr(struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	const struct qa_spec *sp = NULL;
	struct fsm_qattrs *q = &cmd->qattrs;
	uint32_t num = 0;
	unsigned idx = 0;
	int rc = QSG_OK;

	for (size_t i = 0; i < N_QA; i++)
		if (strcmp(qa_specs[i].name, a->keyword) == 0)
			sp = &qa_specs[i];
	if (sp == NULL)
		return 1;
	if (!a->has_value)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "%s needs a value: %s(...) (column %u)",
				a->keyword, a->keyword, a->column);
	switch (sp->kind) {
	case QA_NUM:
		rc = parse_num(a, sp->min, sp->max, &num, errmsg);
		break;
	case QA_ENUM:
		rc = parse_enum(a, sp->values, &idx, errmsg);
		break;
	case QA_NAME:
		rc = check_name(a->value, sp->name, false, true, NULL, a->column, errmsg);
		break;
	case QA_TEXT:
		if (strlen(a->value) > FSM_DESCR_MAX)
			rc = qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				      "%s longer than %d characters (column %u)", a->keyword,
				      FSM_DESCR_MAX, a->column);
		break;
	}
	if (rc != QSG_OK)
		return rc;
	switch (sp->bit) {
	case FSM_QA_MAXDEPTH:
		q->maxdepth = num;
		break;
	case FSM_QA_MAXMSGL:
		q->maxmsgl = num;
		break;
	case FSM_QA_DEFPSIST:
		q->defpsist = (uint8_t)idx;
		break;
	case FSM_QA_DEFPRTY:
		q->defprty = (uint8_t)num;
		break;
	case FSM_QA_BOTHRESH:
		q->bothresh = num;
		break;
	case FSM_QA_BOQNAME:
		copy_str(q->boqname, sizeof q->boqname, a->value);
		break;
	case FSM_QA_INDXTYPE:
		q->indxtype = (uint8_t)idx;
		break;
	case FSM_QA_GET:
		q->get_inhibited = (uint8_t)idx;
		break;
	case FSM_QA_PUT:
		q->put_inhibited = (uint8_t)idx;
		break;
	case FSM_QA_MAXUMSGS:
		q->maxumsgs = num;
		break;
	case FSM_QA_DESCR:
		copy_str(q->descr, sizeof q->descr, a->value);
		break;
	}
	q->set |= sp->bit;
	return QSG_OK;
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

static int check_qsgdisp(const struct mqsc_attr *a, bool display, char *errmsg)
{
	int rc = want_value(a, errmsg);
	if (rc != QSG_OK)
		return rc;
	if (strcmp(a->value, "SHARED") == 0)
		return QSG_OK;
	if (display && (strcmp(a->value, "ALL") == 0 || strcmp(a->value, "LIVE") == 0))
		return QSG_OK;
	if (strcmp(a->value, "QMGR") == 0 || strcmp(a->value, "COPY") == 0 ||
	    strcmp(a->value, "GROUP") == 0)
		return qsg_errf(errmsg, QSG_RC_BAD_ATTR,
				"QSGDISP(%s) is not supported: shared queues only for now, "
				"use QSGDISP(SHARED) (column %u)",
				a->value, a->column);
	return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "QSGDISP(%.40s): value must be SHARED (column %u)",
			a->value, a->column);
}

static int unknown_attr(const struct mqsc_cmd *cmd, const struct mqsc_attr *a, char *errmsg)
{
	return qsg_errf(errmsg, QSG_RC_BAD_ATTR, "%s %s: unknown attribute %s (column %u)",
			mqsc_verb_name(cmd->verb), mqsc_obj_name(cmd->obj), a->keyword, a->column);
}

/* Validate the items of a command and fill its meaning. */
static int check_items(struct mqsc_cmd *cmd, char *errmsg)
{
	bool replace = false, noreplace = false, purge = false, nopurge = false;
	int rc;

	cmd->qattrs.name[0] = '\0';
	copy_str(cmd->qattrs.name, sizeof cmd->qattrs.name, cmd->name);
	for (size_t i = 0; i < cmd->nattrs; i++) {
		const struct mqsc_attr *a = &cmd->attrs[i];
		const char *k = a->keyword;

		if (cmd->verb == MQSC_DISPLAY) {
			struct disp_table t = disp_table(cmd->obj);
			if (strcmp(k, "ALL") == 0) {
				if ((rc = want_no_value(a, errmsg)) != QSG_OK)
					return rc;
				cmd->all = true;
			} else if (strcmp(k, "TYPE") == 0 && a->has_value) {
				bool ok = cmd->obj == MQSC_OBJ_QSTATUS
					      ? strcmp(a->value, "QUEUE") == 0
					      : (cmd->obj == MQSC_OBJ_QLOCAL ||
						 cmd->obj == MQSC_OBJ_QUEUE) &&
						    (strcmp(a->value, "QLOCAL") == 0 ||
						     strcmp(a->value, "ALL") == 0);
				if (!ok)
					return qsg_errf(
					    errmsg, QSG_RC_BAD_ATTR,
					    "DISPLAY %s: TYPE(%.40s) is not supported (column %u)",
					    mqsc_obj_name(cmd->obj), a->value, a->column);
			} else if (strcmp(k, "QSGDISP") == 0 && a->has_value &&
				   (cmd->obj == MQSC_OBJ_QLOCAL || cmd->obj == MQSC_OBJ_QUEUE)) {
				if ((rc = check_qsgdisp(a, true, errmsg)) != QSG_OK)
					return rc;
			} else if (in_list(t.names, k)) {
				if ((rc = want_no_value(a, errmsg)) != QSG_OK)
					return rc;
				cmd->selected = true;
			} else {
				return unknown_attr(cmd, a, errmsg);
			}
			continue;
		}
		if (cmd->verb == MQSC_DEFINE || cmd->verb == MQSC_ALTER) {
			rc = set_qattr(cmd, a, errmsg);
			if (rc != 1) {
				if (rc != QSG_OK)
					return rc;
				continue;
			}
		}
		if (strcmp(k, "QSGDISP") == 0 && cmd->obj == MQSC_OBJ_QLOCAL) {
			if ((rc = check_qsgdisp(a, false, errmsg)) != QSG_OK)
				return rc;
		} else if (cmd->verb == MQSC_DEFINE && strcmp(k, "LIKE") == 0) {
			if ((rc = want_value(a, errmsg)) != QSG_OK)
				return rc;
			rc = check_name(a->value, "LIKE", false, false, NULL, a->column, errmsg);
			if (rc != QSG_OK)
				return rc;
			copy_str(cmd->like, sizeof cmd->like, a->value);
		} else if (cmd->verb == MQSC_DEFINE && strcmp(k, "REPLACE") == 0) {
			if ((rc = want_no_value(a, errmsg)) != QSG_OK)
				return rc;
			replace = true;
		} else if (cmd->verb == MQSC_DEFINE && strcmp(k, "NOREPLACE") == 0) {
			if ((rc = want_no_value(a, errmsg)) != QSG_OK)
				return rc;
			noreplace = true;
		} else if (cmd->verb == MQSC_DELETE && strcmp(k, "PURGE") == 0) {
			if ((rc = want_no_value(a, errmsg)) != QSG_OK)
				return rc;
			purge = true;
		} else if (cmd->verb == MQSC_DELETE && strcmp(k, "NOPURGE") == 0) {
			if ((rc = want_no_value(a, errmsg)) != QSG_OK)
				return rc;
			nopurge = true;
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
	if (replace)
		cmd->flags |= FSM_F_REPLACE;
	if (purge)
		cmd->flags |= FSM_F_PURGE;
	return QSG_OK;
}

/* ------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------ */

static bool verb_takes(enum mqsc_verb v, enum mqsc_obj o)
{
	switch (v) {
	case MQSC_DEFINE:
	case MQSC_ALTER:
	case MQSC_DELETE:
	case MQSC_CLEAR:
		return o == MQSC_OBJ_QLOCAL;
	case MQSC_DISPLAY:
		return true;
	case MQSC_PING:
		return o == MQSC_OBJ_QMGR;
	}
	return false;
}

static bool obj_has_name(enum mqsc_obj o)
{
	return o == MQSC_OBJ_QLOCAL || o == MQSC_OBJ_QUEUE || o == MQSC_OBJ_QSTATUS;
}

static int expect_rparen(struct parser *ps, const char *what)
{
	if (ps->tok.kind == TOK_RPAREN)
		return advance(ps);
	if (ps->tok.kind == TOK_END)
		return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX, "missing ')' after %s at column %u",
				what, ps->tok.column);
	return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
			"expected ')' after %s, found %s at column %u", what, tok_desc(&ps->tok),
			ps->tok.column);
}

static int parse_items(struct parser *ps, struct mqsc_cmd *cmd)
{
	int rc;

	while (ps->tok.kind != TOK_END) {
		struct token *t = &ps->tok;
		if (t->kind != TOK_WORD)
			return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
					"unexpected %s at column %u", tok_desc(t), t->column);
		if (cmd->nattrs == MQSC_MAX_ATTRS)
			return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
					"more than %d attributes at column %u", MQSC_MAX_ATTRS,
					t->column);
		struct mqsc_attr *a = &cmd->attrs[cmd->nattrs];
		memset(a, 0, sizeof *a);
		a->column = t->column;
		if (t->len > MQSC_KEYWORD_MAX)
			return qsg_errf(ps->errmsg, QSG_RC_BAD_ATTR,
					"%s %s: unknown attribute %.20s... (column %u)",
					mqsc_verb_name(cmd->verb), mqsc_obj_name(cmd->obj), t->text,
					t->column);
		copy_str(a->keyword, sizeof a->keyword, t->text);
		/* Synonyms, as MQ accepts them. */
		if (strcmp(a->keyword, "IPPROCS") == 0 || strcmp(a->keyword, "OPPROCS") == 0)
			copy_str(a->keyword, sizeof a->keyword, "OPENS");
		if ((rc = advance(ps)) != QSG_OK)
			return rc;
		if (ps->tok.kind == TOK_LPAREN) {
			if ((rc = advance(ps)) != QSG_OK)
				return rc;
			if (t->kind == TOK_RPAREN)
				return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
						"%s(): empty value at column %u", a->keyword,
						t->column);
			if (t->kind != TOK_WORD && t->kind != TOK_QUOTED)
				return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
						"expected a value for %s, found %s at column %u",
						a->keyword, tok_desc(t), t->column);
			memcpy(a->value, t->text, t->len + 1);
			a->has_value = true;
			if ((rc = advance(ps)) != QSG_OK)
				return rc;
			if ((rc = expect_rparen(ps, a->keyword)) != QSG_OK)
				return rc;
		}
		for (size_t i = 0; i < cmd->nattrs; i++)
			if (strcmp(cmd->attrs[i].keyword, a->keyword) == 0)
				return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
						"%s specified more than once (column %u)",
						a->keyword, a->column);
		cmd->nattrs++;
	}
	return QSG_OK;
}

int mqsc_parse(const char *text, size_t len, struct mqsc_cmd *cmd, char *errmsg)
{
	struct parser ps = {.p = text, .len = len, .errmsg = errmsg};
	struct token *t = &ps.tok;
	int rc;

	memset(cmd, 0, sizeof *cmd);
	if (text == NULL && len > 0)
		return qsg_errf(errmsg, QSG_RC_INVALID, "no command text");
	if (len > MQSC_MAX_TEXT)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "command longer than %d characters",
				MQSC_MAX_TEXT);
	if ((rc = advance(&ps)) != QSG_OK)
		return rc;
	if (t->kind == TOK_END)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX, "empty command");
	if (t->kind != TOK_WORD)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"expected a command verb, found %s at column %u", tok_desc(t),
				t->column);
	cmd->verb = (enum mqsc_verb)map_find(verbs, sizeof verbs / sizeof verbs[0], t->text);
	if (cmd->verb == 0)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"unknown command verb '%.40s' at column %u (expected DEFINE, "
				"ALTER, DELETE, CLEAR, DISPLAY or PING)",
				t->text, t->column);
	if ((rc = advance(&ps)) != QSG_OK)
		return rc;
	if (t->kind != TOK_WORD)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"%s: expected an object type, found %s at column %u",
				mqsc_verb_name(cmd->verb), tok_desc(t), t->column);
	cmd->obj = (enum mqsc_obj)map_find(objs, sizeof objs / sizeof objs[0], t->text);
	if (cmd->obj == 0 || !verb_takes(cmd->verb, cmd->obj))
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"%s: object type '%.40s' not supported at column %u",
				mqsc_verb_name(cmd->verb), t->text, t->column);
	unsigned obj_col = t->column;
	if ((rc = advance(&ps)) != QSG_OK)
		return rc;
	if (t->kind == TOK_LPAREN) {
		if (!obj_has_name(cmd->obj))
			return qsg_errf(
			    errmsg, QSG_RC_MQSC_SYNTAX, "%s %s takes no name at column %u",
			    mqsc_verb_name(cmd->verb), mqsc_obj_name(cmd->obj), t->column);
		if ((rc = advance(&ps)) != QSG_OK)
			return rc;
		if (t->kind != TOK_WORD && t->kind != TOK_QUOTED)
			return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
					"expected an object name, found %s at column %u",
					tok_desc(t), t->column);
		bool generic = false;
		rc = check_name(t->text, "object name", cmd->verb == MQSC_DISPLAY, false, &generic,
				t->column, errmsg);
		if (rc != QSG_OK)
			return rc;
		copy_str(cmd->name, sizeof cmd->name, t->text);
		cmd->generic = generic;
		if ((rc = advance(&ps)) != QSG_OK)
			return rc;
		if ((rc = expect_rparen(&ps, "the object name")) != QSG_OK)
			return rc;
	} else if (obj_has_name(cmd->obj)) {
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"%s %s needs an object name: %s(name) (column %u)",
				mqsc_verb_name(cmd->verb), mqsc_obj_name(cmd->obj),
				mqsc_obj_name(cmd->obj), obj_col);
	}
	if ((rc = parse_items(&ps, cmd)) != QSG_OK)
		return rc;
	if (cmd->verb == MQSC_PING && cmd->nattrs > 0)
		return qsg_errf(errmsg, QSG_RC_MQSC_SYNTAX,
				"PING QMGR takes no attributes (column %u)", cmd->attrs[0].column);
	return check_items(cmd, errmsg);
}

bool mqsc_display_wants(const struct mqsc_cmd *cmd, const char *name)
{
	struct disp_table t = disp_table(cmd->obj);
	for (size_t i = 0; i < t.always && t.names[i] != NULL; i++)
		if (strcmp(t.names[i], name) == 0)
			return true;
	if (cmd->all)
		return true;
	if (!cmd->selected)
		return t.default_all;
	for (size_t i = 0; i < cmd->nattrs; i++)
		if (!cmd->attrs[i].has_value && strcmp(cmd->attrs[i].keyword, name) == 0)
			return true;
	return false;
}

bool mqsc_name_matches(const struct mqsc_cmd *cmd, const char *name)
{
	if (!cmd->generic)
		return strcmp(cmd->name, name) == 0;
	size_t n = strlen(cmd->name) - 1; /* without the '*' */
	return strncmp(cmd->name, name, n) == 0;
}
