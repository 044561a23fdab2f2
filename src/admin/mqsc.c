/* MQSC command parser: lexer, command structure (verb, object, name,
 * items, WHERE) and the DISPLAY helpers. Items are validated by
 * mqsc_items.c. See mqsc.h. */
#include "mqsc.h"

#include <stdio.h>
#include <string.h>

#include "common/qsg_err.h"
#include "mqsc_int.h"

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
    {"DEFINE", MQSC_DEFINE},   {"DEF", MQSC_DEFINE},	  {"ALTER", MQSC_ALTER},
    {"ALT", MQSC_ALTER},       {"DELETE", MQSC_DELETE},	  {"DEL", MQSC_DELETE},
    {"CLEAR", MQSC_CLEAR},     {"DISPLAY", MQSC_DISPLAY}, {"DIS", MQSC_DISPLAY},
    {"PING", MQSC_PING},       {"START", MQSC_START},	  {"STA", MQSC_START},
    {"STOP", MQSC_STOP},       {"RESET", MQSC_RESET},	  {"RESOLVE", MQSC_RESOLVE},
    {"ADD", MQSC_ADD},	       {"REMOVE", MQSC_REMOVE},	  {"TRANSFER", MQSC_TRANSFER},
    {"REFRESH", MQSC_REFRESH}, {"REF", MQSC_REFRESH},	  {"SET", MQSC_SET},
};

static const struct word_map objs[] = {
    {"QLOCAL", MQSC_OBJ_QLOCAL},     {"QL", MQSC_OBJ_QLOCAL},	    {"QUEUE", MQSC_OBJ_QUEUE},
    {"Q", MQSC_OBJ_QUEUE},	     {"QSTATUS", MQSC_OBJ_QSTATUS}, {"QS", MQSC_OBJ_QSTATUS},
    {"GROUP", MQSC_OBJ_GROUP},	     {"QMGR", MQSC_OBJ_QMGR},	    {"QREMOTE", MQSC_OBJ_QREMOTE},
    {"QR", MQSC_OBJ_QREMOTE},	     {"CHANNEL", MQSC_OBJ_CHANNEL}, {"CHL", MQSC_OBJ_CHANNEL},
    {"CHSTATUS", MQSC_OBJ_CHSTATUS}, {"CHS", MQSC_OBJ_CHSTATUS},    {"CHINIT", MQSC_OBJ_CHINIT},
    {"QALIAS", MQSC_OBJ_QALIAS},     {"QA", MQSC_OBJ_QALIAS},	    {"QMSTATUS", MQSC_OBJ_QMSTATUS},
    {"MEMBER", MQSC_OBJ_MEMBER},     {"LEADER", MQSC_OBJ_LEADER},   {"USER", MQSC_OBJ_USER},
    {"SECURITY", MQSC_OBJ_SECURITY}, {"AUTHREC", MQSC_OBJ_AUTHREC}, {"ENTAUTH", MQSC_OBJ_ENTAUTH},
    {"CHLAUTH", MQSC_OBJ_CHLAUTH},
};

static int map_find(const struct word_map *m, size_t n, const char *w)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].word, w) == 0)
			return m[i].value;
	return 0;
}

/* ------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------ */

static bool verb_takes(enum mqsc_verb v, enum mqsc_obj o)
{
	switch (v) {
	case MQSC_DEFINE:
	case MQSC_DELETE:
		return o == MQSC_OBJ_QLOCAL || o == MQSC_OBJ_QREMOTE || o == MQSC_OBJ_CHANNEL ||
		       o == MQSC_OBJ_QALIAS || o == MQSC_OBJ_USER ||
		       (v == MQSC_DELETE && o == MQSC_OBJ_AUTHREC);
	case MQSC_SET:
		return o == MQSC_OBJ_AUTHREC || o == MQSC_OBJ_CHLAUTH;
	case MQSC_ALTER:
		return o == MQSC_OBJ_QLOCAL || o == MQSC_OBJ_QREMOTE || o == MQSC_OBJ_CHANNEL ||
		       o == MQSC_OBJ_QMGR || o == MQSC_OBJ_QALIAS || o == MQSC_OBJ_USER;
	case MQSC_CLEAR:
		return o == MQSC_OBJ_QLOCAL;
	case MQSC_DISPLAY:
		return o != MQSC_OBJ_MEMBER && o != MQSC_OBJ_LEADER && o != MQSC_OBJ_SECURITY;
	case MQSC_PING:
		return o == MQSC_OBJ_QMGR;
	case MQSC_START:
		return o == MQSC_OBJ_CHANNEL || o == MQSC_OBJ_CHINIT;
	case MQSC_STOP:
		return o == MQSC_OBJ_CHANNEL || o == MQSC_OBJ_CHINIT || o == MQSC_OBJ_QMGR;
	case MQSC_ADD:
	case MQSC_REMOVE:
		return o == MQSC_OBJ_MEMBER;
	case MQSC_TRANSFER:
		return o == MQSC_OBJ_LEADER;
	case MQSC_REFRESH:
		return o == MQSC_OBJ_SECURITY;
	case MQSC_RESET:
	case MQSC_RESOLVE:
		return o == MQSC_OBJ_CHANNEL;
	}
	return false;
}

static bool obj_has_name(enum mqsc_obj o)
{
	return o == MQSC_OBJ_QLOCAL || o == MQSC_OBJ_QUEUE || o == MQSC_OBJ_QSTATUS ||
	       o == MQSC_OBJ_CHLAUTH || o == MQSC_OBJ_QREMOTE || o == MQSC_OBJ_CHANNEL ||
	       o == MQSC_OBJ_CHSTATUS || o == MQSC_OBJ_QALIAS || o == MQSC_OBJ_MEMBER ||
	       o == MQSC_OBJ_USER;
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

static const struct word_map where_ops[] = {
    {"EQ", MQSC_WHERE_EQ}, {"NE", MQSC_WHERE_NE}, {"LT", MQSC_WHERE_LT}, {"GT", MQSC_WHERE_GT},
    {"LE", MQSC_WHERE_LE}, {"GE", MQSC_WHERE_GE}, {"LK", MQSC_WHERE_LK}, {"NL", MQSC_WHERE_NL},
};

/* WHERE(attribute op value), the current token after WHERE. */
static int parse_where(struct parser *ps, struct mqsc_cmd *cmd, unsigned column)
{
	struct token *t = &ps->tok;
	struct mqsc_where *w = &cmd->where;
	int rc;

	if (w->op != MQSC_WHERE_NONE)
		return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
				"WHERE specified more than once (column %u)", column);
	if (t->kind != TOK_LPAREN)
		return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
				"WHERE needs (attribute operator value) at column %u", t->column);
	if ((rc = advance(ps)) != QSG_OK)
		return rc;
	if (t->kind != TOK_WORD)
		return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
				"WHERE: expected an attribute name, found %s at column %u",
				tok_desc(t), t->column);
	if (t->len > MQSC_KEYWORD_MAX)
		return qsg_errf(ps->errmsg, QSG_RC_BAD_ATTR,
				"WHERE: unknown attribute %.20s... (column %u)", t->text,
				t->column);
	mqsc_copy_str(w->attr, sizeof w->attr, t->text);
	if (strcmp(w->attr, "IPPROCS") == 0 || strcmp(w->attr, "OPPROCS") == 0)
		mqsc_copy_str(w->attr, sizeof w->attr, "OPENS");
	w->column = column;
	if ((rc = advance(ps)) != QSG_OK)
		return rc;
	int op = t->kind == TOK_WORD
		     ? map_find(where_ops, sizeof where_ops / sizeof where_ops[0], t->text)
		     : 0;
	if (op == 0)
		return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
				"WHERE: expected an operator EQ, NE, LT, GT, LE, GE, LK or NL at "
				"column %u",
				t->column);
	if ((rc = advance(ps)) != QSG_OK)
		return rc;
	if (t->kind != TOK_WORD && t->kind != TOK_QUOTED)
		return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
				"WHERE: expected a value, found %s at column %u", tok_desc(t),
				t->column);
	memcpy(w->value, t->text, t->len + 1);
	if ((rc = advance(ps)) != QSG_OK)
		return rc;
	if ((rc = expect_rparen(ps, "the WHERE value")) != QSG_OK)
		return rc;
	w->op = (enum mqsc_where_op)op;
	return QSG_OK;
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
		mqsc_copy_str(a->keyword, sizeof a->keyword, t->text);
		/* Synonyms, as MQ accepts them. */
		if (strcmp(a->keyword, "IPPROCS") == 0 || strcmp(a->keyword, "OPPROCS") == 0)
			mqsc_copy_str(a->keyword, sizeof a->keyword, "OPENS");
		if ((rc = advance(ps)) != QSG_OK)
			return rc;
		if (strcmp(a->keyword, "WHERE") == 0) {
			if ((rc = parse_where(ps, cmd, a->column)) != QSG_OK)
				return rc;
			continue;
		}
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
			/* A list value, as MQ writes one: GROUPS(A, B, C) is
			 * kept as "A,B,C" (mqsc_user.c splits it). */
			while ((strcmp(a->keyword, "GROUPS") == 0 ||
				strcmp(a->keyword, "AUTHADD") == 0 ||
				strcmp(a->keyword, "AUTHRMV") == 0 ||
				strcmp(a->keyword, "ADDRLIST") == 0) &&
			       (t->kind == TOK_WORD || t->kind == TOK_QUOTED)) {
				size_t n = strlen(a->value);
				if (n + 1 + t->len > MQSC_VALUE_MAX)
					return qsg_errf(ps->errmsg, QSG_RC_MQSC_SYNTAX,
							"GROUPS list too long at column %u",
							t->column);
				a->value[n] = ',';
				memcpy(a->value + n + 1, t->text, t->len + 1);
				if ((rc = advance(ps)) != QSG_OK)
					return rc;
			}
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
				"ALTER, DELETE, CLEAR, DISPLAY, PING, START, STOP, RESET, "
				"RESOLVE, ADD, REMOVE or TRANSFER)",
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
		bool chl = cmd->obj == MQSC_OBJ_CHANNEL || cmd->obj == MQSC_OBJ_CHSTATUS;
		if (cmd->obj == MQSC_OBJ_CHLAUTH) /* a profile: mqsc_chlauth.c checks it */
			rc = t->len <= FSM_NAME_MAX ? QSG_OK
						    : qsg_errf(errmsg, QSG_RC_BAD_ATTR,
							       "CHLAUTH: the channel profile is "
							       "longer than 48 characters");
		else
			rc = mqsc_check_name_max(t->text, chl ? "channel name" : "object name",
						 chl ? FSM_CHNAME_MAX : FSM_NAME_MAX,
						 cmd->verb == MQSC_DISPLAY, false, &generic,
						 t->column, errmsg);
		if (rc != QSG_OK)
			return rc;
		mqsc_copy_str(cmd->name, sizeof cmd->name, t->text);
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
	if (cmd->obj == MQSC_OBJ_USER && cmd->verb != MQSC_DISPLAY)
		return mqsc_check_user_items(cmd, errmsg); /* mqsc_user.c */
	if (cmd->obj == MQSC_OBJ_AUTHREC || cmd->obj == MQSC_OBJ_ENTAUTH)
		return mqsc_check_authrec_items(cmd, errmsg); /* mqsc_authrec.c */
	if (cmd->obj == MQSC_OBJ_CHLAUTH)
		return mqsc_check_chlauth_items(cmd, errmsg); /* mqsc_chlauth.c */
	return mqsc_check_items(cmd, errmsg);
}

bool mqsc_display_wants(const struct mqsc_cmd *cmd, const char *name)
{
	struct mqsc_disp_table t = mqsc_disp_table(cmd->obj);
	for (size_t i = 0; i < t.always && t.names[i] != NULL; i++)
		if (strcmp(t.names[i], name) == 0)
			return true;
	if (cmd->all)
		return true;
	/* As MQ, the attribute a WHERE filters on is shown. */
	if (cmd->where.op != MQSC_WHERE_NONE && strcmp(cmd->where.attr, name) == 0)
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

/* An optional '-' and 1..18 digits. */
static bool as_number(const char *s, int64_t *out)
{
	bool neg = *s == '-';
	int64_t v = 0;
	size_t n = 0;
	if (neg)
		s++;
	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 18)
			return false;
		v = v * 10 + (s[n] - '0');
	}
	if (n == 0)
		return false;
	*out = neg ? -v : v;
	return true;
}

static bool like(const char *pattern, const char *s)
{
	size_t n = strlen(pattern);
	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, s, n - 1) == 0;
	return strcmp(pattern, s) == 0;
}

bool mqsc_where_matches(const struct mqsc_cmd *cmd, size_t n, const char *const *names,
			const char *const *values)
{
	const struct mqsc_where *w = &cmd->where;
	const char *v = NULL;
	if (w->op == MQSC_WHERE_NONE)
		return true;
	for (size_t i = 0; i < n && v == NULL; i++)
		if (strcmp(names[i], w->attr) == 0)
			v = values[i];
	if (v == NULL)
		return false;
	if (w->op == MQSC_WHERE_LK)
		return like(w->value, v);
	if (w->op == MQSC_WHERE_NL)
		return !like(w->value, v);
	int64_t a, b;
	int c;
	if (as_number(v, &a) && as_number(w->value, &b))
		c = a < b ? -1 : a > b ? 1 : 0;
	else
		c = strcmp(v, w->value);
	switch (w->op) {
	case MQSC_WHERE_EQ:
		return c == 0;
	case MQSC_WHERE_NE:
		return c != 0;
	case MQSC_WHERE_LT:
		return c < 0;
	case MQSC_WHERE_GT:
		return c > 0;
	case MQSC_WHERE_LE:
		return c <= 0;
	case MQSC_WHERE_GE:
		return c >= 0;
	default:
		return false;
	}
}
