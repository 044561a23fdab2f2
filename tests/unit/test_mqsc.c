/* Unit tests of MQSC administration: the parser (good and bad input, random
 * garbage) and admin_exec end to end against a real struct fsm, with a fake
 * submit that applies each command synchronously as a one-command entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/codec.h"
#include "common/qsg_err.h"
#include "fsm/fsm.h"
#include "proto/proto.h"
#include "qsgd/admin.h"
#include "qsgd/mqsc.h"

/* ------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------ */

static int parse(const char *text, struct mqsc_cmd *cmd, char *errmsg)
{
	errmsg[0] = '\0';
	return mqsc_parse(text, strlen(text), cmd, errmsg);
}

static void parse_define(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];

	assert_int_equal(parse("define qlocal(qa) maxdepth(100) descr('Hello World') "
			       "defpsist(yes) get(disabled) indxtype(correlid) qsgdisp(shared)",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.verb, MQSC_DEFINE);
	assert_int_equal(c.obj, MQSC_OBJ_QLOCAL);
	assert_string_equal(c.name, "QA");
	assert_string_equal(c.qattrs.name, "QA");
	assert_int_equal(c.qattrs.maxdepth, 100);
	assert_string_equal(c.qattrs.descr, "Hello World");
	assert_int_equal(c.qattrs.defpsist, 1);
	assert_int_equal(c.qattrs.get_inhibited, 1);
	assert_int_equal(c.qattrs.indxtype, FSM_INDX_CORRELID);
	assert_int_equal(c.qattrs.set, FSM_QA_MAXDEPTH | FSM_QA_DESCR | FSM_QA_DEFPSIST |
					   FSM_QA_GET | FSM_QA_INDXTYPE);
	assert_int_equal(c.flags, 0);
	assert_string_equal(c.like, "");

	/* Quoted names keep their case; '' is a quote; commas separate. */
	assert_int_equal(
	    parse("DEF QL('q.Mixed'),DESCR('it''s'),REPLACE,LIKE(base) BOQNAME(bo)", &c, err),
	    QSG_OK);
	assert_string_equal(c.name, "q.Mixed");
	assert_string_equal(c.qattrs.descr, "it's");
	assert_int_equal(c.flags, FSM_F_REPLACE);
	assert_string_equal(c.like, "BASE");
	assert_string_equal(c.qattrs.boqname, "BO");

	/* Bounds are inclusive. */
	assert_int_equal(parse("DEFINE QLOCAL(A) MAXDEPTH(999999999) MAXMSGL(104857600) "
			       "DEFPRTY(9) MAXUMSGS(1) BOTHRESH(0) BOQNAME('')",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.qattrs.maxmsgl, 104857600);
	assert_int_equal(c.qattrs.defprty, 9);
	assert_string_equal(c.qattrs.boqname, "");

	/* Parentheses may be separated by blanks. */
	assert_int_equal(parse("  ALTER  QLOCAL ( A )  PUT ( ENABLED ) ", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_ALTER);
	assert_int_equal(c.qattrs.set, FSM_QA_PUT);
	assert_int_equal(c.qattrs.put_inhibited, 0);

	assert_int_equal(parse("delete qlocal(a) purge", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_DELETE);
	assert_int_equal(c.flags, FSM_F_PURGE);
	assert_int_equal(parse("DELETE QLOCAL(A) NOPURGE QSGDISP(SHARED)", &c, err), QSG_OK);
	assert_int_equal(c.flags, 0);
	assert_int_equal(parse("CLEAR QLOCAL(A)", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_CLEAR);
}

static void parse_display(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];

	assert_int_equal(parse("DIS QL(Q*) MAXDEPTH curdepth", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_DISPLAY);
	assert_true(c.generic);
	assert_true(mqsc_display_wants(&c, "QUEUE"));
	assert_true(mqsc_display_wants(&c, "MAXDEPTH"));
	assert_true(mqsc_display_wants(&c, "CURDEPTH"));
	assert_false(mqsc_display_wants(&c, "MAXMSGL"));
	assert_true(mqsc_name_matches(&c, "Q"));
	assert_true(mqsc_name_matches(&c, "QA.B"));
	assert_false(mqsc_name_matches(&c, "A"));

	/* MQ's default: only the names (and type, disposition). */
	assert_int_equal(parse("DISPLAY QLOCAL(QA)", &c, err), QSG_OK);
	assert_false(c.generic);
	assert_true(mqsc_display_wants(&c, "QSGDISP"));
	assert_false(mqsc_display_wants(&c, "MAXDEPTH"));
	assert_true(mqsc_name_matches(&c, "QA"));
	assert_false(mqsc_name_matches(&c, "QAB"));

	assert_int_equal(parse("DISPLAY QUEUE(*) ALL TYPE(QLOCAL)", &c, err), QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_QUEUE);
	assert_true(c.all);
	assert_true(mqsc_display_wants(&c, "DESCR"));
	assert_true(mqsc_name_matches(&c, "ANYTHING"));

	assert_int_equal(parse("DISPLAY QSTATUS(QA) TYPE(QUEUE)", &c, err), QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_QSTATUS);
	assert_true(mqsc_display_wants(&c, "MSGAGE"));
	assert_int_equal(parse("DIS QS(QA) IPPROCS", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "OPENS"));
	assert_false(mqsc_display_wants(&c, "MSGAGE"));

	assert_int_equal(parse("DISPLAY GROUP", &c, err), QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_GROUP);
	assert_int_equal(parse("DISPLAY QMGR ALL", &c, err), QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_QMGR);
	assert_int_equal(parse("ping qmgr", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_PING);
}

struct bad_case {
	const char *text;
	int rc;
	const char *in_msg; /* substring of the message */
};

static void parse_bad(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
	    {"", QSG_RC_MQSC_SYNTAX, "empty"},
	    {"   \t ", QSG_RC_MQSC_SYNTAX, "empty"},
	    {"FOO QLOCAL(A)", QSG_RC_MQSC_SYNTAX, "column 1"},
	    {"(", QSG_RC_MQSC_SYNTAX, "column 1"},
	    {"DEFINE", QSG_RC_MQSC_SYNTAX, "object type"},
	    {"DEFINE QREMOTE(A)", QSG_RC_MQSC_SYNTAX, "column 8"},
	    {"DEFINE QSTATUS(A)", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"DEFINE QLOCAL", QSG_RC_MQSC_SYNTAX, "needs an object name"},
	    {"DEFINE QLOCAL(A", QSG_RC_MQSC_SYNTAX, "missing ')'"},
	    {"DEFINE QLOCAL(A))", QSG_RC_MQSC_SYNTAX, "column 17"},
	    {"DEFINE QLOCAL()", QSG_RC_MQSC_SYNTAX, "object name"},
	    {"DEFINE QLOCAL((A))", QSG_RC_MQSC_SYNTAX, "column 15"},
	    {"DEFINE QLOCAL(A*)", QSG_RC_MQSC_SYNTAX, "generic"},
	    {"DEFINE QLOCAL(A B)", QSG_RC_MQSC_SYNTAX, "expected ')'"},
	    {"DEFINE QLOCAL(A) MAXDEPTH(", QSG_RC_MQSC_SYNTAX, "column"},
	    {"DEFINE QLOCAL(A) MAXDEPTH()", QSG_RC_MQSC_SYNTAX, "empty value"},
	    {"DEFINE QLOCAL(A) MAXDEPTH(1", QSG_RC_MQSC_SYNTAX, "missing ')'"},
	    {"DEFINE QLOCAL(A) MAXDEPTH", QSG_RC_MQSC_SYNTAX, "needs a value"},
	    {"DEFINE QLOCAL(A) (MAXDEPTH)", QSG_RC_MQSC_SYNTAX, "column 18"},
	    {"DEFINE QLOCAL(A) 'x'", QSG_RC_MQSC_SYNTAX, "quoted"},
	    {"DEFINE QLOCAL(A) DESCR('open", QSG_RC_MQSC_SYNTAX, "not closed"},
	    {"DEFINE QLOCAL(A) MAXDEPTH(1) MAXDEPTH(2)", QSG_RC_MQSC_SYNTAX, "more than once"},
	    {"DEFINE QLOCAL(A) REPLACE NOREPLACE", QSG_RC_MQSC_SYNTAX, "exclusive"},
	    {"DEFINE QLOCAL(A) REPLACE(YES)", QSG_RC_MQSC_SYNTAX, "no value"},
	    {"DELETE QLOCAL(A) PURGE NOPURGE", QSG_RC_MQSC_SYNTAX, "exclusive"},
	    {"DISPLAY GROUP(X)", QSG_RC_MQSC_SYNTAX, "takes no name"},
	    {"DISPLAY QLOCAL", QSG_RC_MQSC_SYNTAX, "needs an object name"},
	    {"PING QMGR NOW", QSG_RC_MQSC_SYNTAX, "no attributes"},
	    {"PING QLOCAL(A)", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"DEFINE QLOCAL(A) MAXDEPTH(1000000000)", QSG_RC_BAD_ATTR, "0..999999999"},
	    {"DEFINE QLOCAL(A) MAXDEPTH(-1)", QSG_RC_BAD_ATTR, "MAXDEPTH"},
	    {"DEFINE QLOCAL(A) MAXDEPTH(12abc)", QSG_RC_BAD_ATTR, "MAXDEPTH"},
	    {"DEFINE QLOCAL(A) MAXDEPTH(99999999999999999999)", QSG_RC_BAD_ATTR, "MAXDEPTH"},
	    {"DEFINE QLOCAL(A) MAXMSGL(104857601)", QSG_RC_BAD_ATTR, "MAXMSGL"},
	    {"DEFINE QLOCAL(A) DEFPRTY(10)", QSG_RC_BAD_ATTR, "0..9"},
	    {"DEFINE QLOCAL(A) MAXUMSGS(0)", QSG_RC_BAD_ATTR, "1..999999999"},
	    {"DEFINE QLOCAL(A) DEFPSIST(MAYBE)", QSG_RC_BAD_ATTR, "NO|YES"},
	    {"DEFINE QLOCAL(A) INDXTYPE(GROUPID)", QSG_RC_BAD_ATTR, "NONE|MSGID|CORRELID"},
	    {"DEFINE QLOCAL(A) GET(ON)", QSG_RC_BAD_ATTR, "ENABLED|DISABLED"},
	    {"DEFINE QLOCAL(A) COLOUR(RED)", QSG_RC_BAD_ATTR, "unknown attribute COLOUR"},
	    {"DEFINE QLOCAL(A) AVERYLONGKEYWORDTHATISUNKNOWN", QSG_RC_BAD_ATTR, "unknown"},
	    {"DEFINE QLOCAL(A) QSGDISP(QMGR)", QSG_RC_BAD_ATTR, "shared queues only"},
	    {"DEFINE QLOCAL(A) QSGDISP(COPY)", QSG_RC_BAD_ATTR, "shared queues only"},
	    {"DEFINE QLOCAL(A) QSGDISP(GROUP)", QSG_RC_BAD_ATTR, "shared queues only"},
	    {"DEFINE QLOCAL(A) QSGDISP(XYZ)", QSG_RC_BAD_ATTR, "SHARED"},
	    {"DEFINE QLOCAL(A) BOQNAME('a b')", QSG_RC_BAD_ATTR, "not allowed"},
	    {"DEFINE QLOCAL(A) LIKE('')", QSG_RC_MQSC_SYNTAX, "empty"},
	    {"DEFINE QLOCAL(A) DESCR('"
	     "12345678901234567890123456789012345678901234567890123456789012345')",
	     QSG_RC_BAD_ATTR, "64"},
	    {"DEFINE QLOCAL(A) PURGE", QSG_RC_BAD_ATTR, "unknown attribute PURGE"},
	    {"ALTER QLOCAL(A) LIKE(B)", QSG_RC_BAD_ATTR, "unknown attribute LIKE"},
	    {"DELETE QLOCAL(A) MAXDEPTH(5)", QSG_RC_BAD_ATTR, "unknown attribute"},
	    {"DEFINE QLOCAL(A.NAME.THAT.IS.LONGER.THAN.FORTY.EIGHT.CHARACTERS.X)", QSG_RC_BAD_ATTR,
	     "48"},
	    {"DEFINE QLOCAL(A-B)", QSG_RC_BAD_ATTR, "not allowed"},
	    {"DISPLAY QLOCAL(A) FOO", QSG_RC_BAD_ATTR, "unknown attribute FOO"},
	    {"DISPLAY QLOCAL(A) MAXDEPTH(5)", QSG_RC_MQSC_SYNTAX, "no value"},
	    {"DISPLAY QSTATUS(A) TYPE(HANDLE)", QSG_RC_BAD_ATTR, "TYPE(HANDLE)"},
	    {"DISPLAY QLOCAL(A) QSGDISP(QMGR)", QSG_RC_BAD_ATTR, "shared queues only"},
	    {"DISPLAY QLOCAL(A*B)", QSG_RC_MQSC_SYNTAX, "generic"},
	    {"DISPLAY QLOCAL(A) ALL(X)", QSG_RC_MQSC_SYNTAX, "no value"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mqsc_cmd c;
		char err[QSG_ERRMSG_SIZE];
		int rc = parse(cases[i].text, &c, err);
		if (rc != cases[i].rc || strstr(err, cases[i].in_msg) == NULL)
			print_error("case %zu \"%s\": rc %d, message \"%s\"\n", i, cases[i].text,
				    rc, err);
		assert_int_equal(rc, cases[i].rc);
		assert_non_null(strstr(err, cases[i].in_msg));
	}
}

static void parse_hostile(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];

	/* Embedded NUL, control characters and non-ASCII bytes. */
	static const char nul[] = "DEFINE\0QLOCAL(A)";
	err[0] = '\0';
	assert_int_equal(mqsc_parse(nul, sizeof nul - 1, &c, err), QSG_RC_MQSC_SYNTAX);
	assert_non_null(strstr(err, "0x00"));
	assert_int_equal(parse("DEFINE QLOCAL(\xff)", &c, err), QSG_RC_MQSC_SYNTAX);
	assert_non_null(strstr(err, "column 15"));
	assert_int_equal(parse("DEFINE QLOCAL(A) DESCR('tab\there')", &c, err), QSG_RC_MQSC_SYNTAX);

	/* Not NUL-terminated: only len bytes are read. */
	char exact[13];
	memcpy(exact, "DISPLAY GROUP", 13);
	assert_int_equal(mqsc_parse(exact, sizeof exact, &c, err), QSG_OK);

	/* NULL text. */
	assert_int_equal(mqsc_parse(NULL, 0, &c, err), QSG_RC_MQSC_SYNTAX);
	assert_int_equal(mqsc_parse(NULL, 5, &c, err), QSG_RC_INVALID);

	/* Huge tokens and texts. */
	size_t big = 200000;
	char *s = malloc(big + 1);
	assert_non_null(s);
	memset(s, 'A', big);
	s[big] = '\0';
	assert_int_equal(mqsc_parse(s, big, &c, err), QSG_RC_MQSC_SYNTAX);
	assert_int_equal(mqsc_parse(s, 1000, &c, err), QSG_RC_MQSC_SYNTAX);
	assert_non_null(strstr(err, "token longer"));
	memcpy(s, "DEFINE QLOCAL(A) DESCR('", 24);
	assert_int_equal(mqsc_parse(s, 2000, &c, err), QSG_RC_MQSC_SYNTAX);
	memcpy(s, "DEFINE QLOCAL(", 14);
	assert_int_equal(mqsc_parse(s, 2000, &c, err), QSG_RC_MQSC_SYNTAX);
	/* Many attributes. */
	size_t n = 0;
	n += (size_t)sprintf(s, "DISPLAY QLOCAL(A)");
	for (int i = 0; i < 40; i++)
		n += (size_t)sprintf(s + n, " X%d", i);
	assert_int_equal(mqsc_parse(s, n, &c, err), QSG_RC_MQSC_SYNTAX);
	assert_non_null(strstr(err, "more than"));
	/* Deep unbalanced parentheses. */
	memset(s, '(', 5000);
	assert_int_equal(mqsc_parse(s, 5000, &c, err), QSG_RC_MQSC_SYNTAX);
	memset(s, ')', 5000);
	assert_int_equal(mqsc_parse(s, 5000, &c, err), QSG_RC_MQSC_SYNTAX);
	free(s);

	/* Random garbage from an alphabet that reaches every branch. */
	static const char alpha[] = "()' ,\t*AQLDISPEFNXGROUPMAXDEPTH09\xff";
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char buf[64];
	for (int iter = 0; iter < 50000; iter++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t len = (size_t)(x % sizeof buf);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = alpha[x % (sizeof alpha - 1)];
		}
		err[0] = '\0';
		int rc = mqsc_parse(buf, len, &c, err);
		assert_true(rc == QSG_OK || rc == QSG_RC_MQSC_SYNTAX || rc == QSG_RC_BAD_ATTR);
		if (rc != QSG_OK)
			assert_true(err[0] != '\0');
	}
	/* Garbage that looks like commands. */
	static const char *const words[] = {
	    "DEFINE", "DISPLAY", "QLOCAL(A)", "QL(*)",	      "MAXDEPTH(5)", "ALL",
	    "(",      ")",	 "'q'",	      "QSTATUS(Q*)",  "PURGE",	     "LIKE(B)",
	    "GROUP",  "QMGR",	 "CURDEPTH",  "DESCR('x''y')"};
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 0;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned nw = (unsigned)(x % 6);
		char line[256];
		line[0] = '\0';
		for (unsigned i = 0; i < nw; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			const char *w = words[x % (sizeof words / sizeof words[0])];
			len += (size_t)snprintf(line + len, sizeof line - len, "%s ", w);
		}
		int rc = mqsc_parse(line, len, &c, err);
		assert_true(rc == QSG_OK || rc == QSG_RC_MQSC_SYNTAX || rc == QSG_RC_BAD_ATTR);
	}
}

/* ------------------------------------------------------------------------
 * admin_exec against a real state machine
 * ------------------------------------------------------------------------ */

enum submit_mode { SUBMIT_APPLY, SUBMIT_UNKNOWN, SUBMIT_REFUSE };

#define MAX_OBJS 16
#define MAX_ATTRS 32

struct reply_obj {
	size_t nattrs;
	char name[MAX_ATTRS][24];
	char value[MAX_ATTRS][80];
};

struct harness {
	struct fsm *fsm;
	struct admin_env env;
	int64_t now;
	enum submit_mode mode;
	unsigned submits;
	struct admin_raft_info ri;
	/* Last reply. */
	int calls;
	int rc;
	char text[1024];
	size_t nobjs;
	struct reply_obj objs[MAX_OBJS];
};

/* Apply one command as a one-command entry; returns the raw result bytes. */
static void apply_raw(struct harness *h, const struct fsm_cmd *cmd, struct qsg_wbuf *results)
{
	struct qsg_wbuf c, e;
	char err[QSG_ERRMSG_SIZE];

	qsg_wbuf_init(&c);
	qsg_wbuf_init(&e);
	assert_int_equal(fsm_cmd_encode(cmd, &c), QSG_OK);
	assert_int_equal(c.err, QSG_OK);
	fsm_entry_begin(&e, h->now);
	fsm_entry_add(&e, c.data, c.len);
	assert_int_equal(e.err, QSG_OK);
	assert_int_equal(fsm_apply(h->fsm, e.data, e.len, results, err), QSG_OK);
	assert_true(results->len >= 4);
	assert_int_equal(qsg_le32(results->data) + 4, results->len);
	qsg_wbuf_close(&c);
	qsg_wbuf_close(&e);
}

/* Apply a set-up command directly and return its decoded result code. */
static int apply(struct harness *h, const struct fsm_cmd *cmd, struct fsm_result *res)
{
	struct qsg_wbuf r;
	struct fsm_result tmp;
	char err[QSG_ERRMSG_SIZE];

	if (res == NULL)
		res = &tmp;
	qsg_wbuf_init(&r);
	apply_raw(h, cmd, &r);
	assert_int_equal(fsm_result_decode(cmd->op, r.data + 4, r.len - 4, res, err), QSG_OK);
	qsg_wbuf_close(&r);
	return res->rc;
}

static int fake_submit(void *arg, const struct fsm_cmd *cmd, admin_submit_cb cb, void *cbarg)
{
	struct harness *h = arg;
	struct qsg_wbuf r;

	if (h->mode == SUBMIT_REFUSE)
		return QSG_RC_NO_LEADER;
	h->submits++;
	qsg_wbuf_init(&r);
	apply_raw(h, cmd, &r);
	if (h->mode == SUBMIT_UNKNOWN)
		cb(cbarg, QSG_RC_OUTCOME_UNKNOWN, NULL, 0); /* applied, but we lost track */
	else
		cb(cbarg, QSG_OK, r.data + 4, r.len - 4);
	qsg_wbuf_close(&r);
	return QSG_OK;
}

static void fake_raft_info(void *arg, struct admin_raft_info *out)
{
	struct harness *h = arg;
	*out = h->ri;
}

static void copy_slice(char *dst, size_t size, struct qsg_slice s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;
	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

static void on_done(void *arg, int rc, const char *text, struct proto_admin_writer *objects)
{
	struct harness *h = arg;
	struct proto_resp resp;
	struct proto_attr attrs[MAX_ATTRS];
	size_t cursor = 0, nattrs;
	int more;

	h->calls++;
	h->rc = rc;
	assert_non_null(text);
	snprintf(h->text, sizeof h->text, "%s", text);
	assert_non_null(objects);
	h->nobjs = 0;
	memset(&resp, 0, sizeof resp);
	resp.op = PROTO_ADMIN;
	proto_admin_to_resp(objects, &resp);
	while ((more = proto_admin_next(&resp, &cursor, attrs, MAX_ATTRS, &nattrs)) == 1) {
		assert_true(h->nobjs < MAX_OBJS);
		assert_true(nattrs <= MAX_ATTRS);
		struct reply_obj *o = &h->objs[h->nobjs++];
		o->nattrs = nattrs;
		for (size_t i = 0; i < nattrs; i++) {
			copy_slice(o->name[i], sizeof o->name[i], attrs[i].name);
			copy_slice(o->value[i], sizeof o->value[i], attrs[i].value);
		}
	}
	assert_int_equal(more, 0);
}

static int run(struct harness *h, const char *text)
{
	h->calls = 0;
	h->rc = -1;
	h->text[0] = '\0';
	h->nobjs = 0;
	admin_exec(&h->env, text, strlen(text), on_done, h);
	assert_int_equal(h->calls, 1);
	if (getenv("TEST_MQSC_VERBOSE") != NULL)
		print_message("%s -> %d %s (%zu objects)\n", text, h->rc, h->text, h->nobjs);
	return h->rc;
}

/* Value of attribute `name` in reply object i, NULL when absent. */
static const char *val(const struct harness *h, size_t i, const char *name)
{
	if (i >= h->nobjs)
		return NULL;
	for (size_t k = 0; k < h->objs[i].nattrs; k++)
		if (strcmp(h->objs[i].name[k], name) == 0)
			return h->objs[i].value[k];
	return NULL;
}

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof *h);
	char err[QSG_ERRMSG_SIZE];

	assert_non_null(h);
	assert_int_equal(fsm_init(&h->fsm, err), QSG_OK);
	h->now = 1000000;
	h->env.arg = h;
	h->env.fsm = h->fsm;
	h->env.qmgr_name = "QM1";
	h->env.group_name = "QSG1";
	h->env.member_id = 1;
	h->env.submit = fake_submit;
	h->env.raft_info = fake_raft_info;
	h->ri.role = 3;
	h->ri.term = 5;
	h->ri.commit_index = 42;
	h->ri.applied_index = 41;
	h->ri.last_index = 42;
	h->ri.leader_id = 1;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;
	fsm_close(h->fsm);
	free(h);
	return 0;
}

static uint64_t attach(struct harness *h, uint64_t client_id)
{
	struct fsm_cmd c;
	struct fsm_result res;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_ATTACH;
	c.client_id = client_id;
	c.member_id = 1;
	assert_int_equal(apply(h, &c, &res), QSG_OK);
	return res.epoch;
}

static int put(struct harness *h, uint64_t client_id, uint64_t epoch, uint64_t seq,
	       const char *queue, uint32_t flags)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_PUT;
	c.client_id = client_id;
	c.epoch = epoch;
	c.seq = seq;
	c.flags = flags | FSM_F_GEN_MSGID;
	snprintf(c.queue, sizeof c.queue, "%s", queue);
	c.msg.body.p = (const uint8_t *)"hello";
	c.msg.body.len = 5;
	return apply(h, &c, NULL);
}

static void admin_define_display(void **state)
{
	struct harness *h = *state;

	assert_int_equal(run(h, "DEFINE QLOCAL(QA) MAXDEPTH(100) DESCR('first queue')"), QSG_OK);
	assert_string_equal(h->text, "QSG0008I: QLOCAL(QA) defined.");
	assert_int_equal(h->nobjs, 0);
	assert_int_equal(h->submits, 1);

	/* MQ's default display: names only. */
	assert_int_equal(run(h, "DISPLAY QLOCAL(QA)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(h->objs[0].nattrs, 3);
	assert_string_equal(val(h, 0, "QUEUE"), "QA");
	assert_string_equal(val(h, 0, "TYPE"), "QLOCAL");
	assert_string_equal(val(h, 0, "QSGDISP"), "SHARED");

	assert_int_equal(run(h, "dis ql(qa) all"), QSG_OK);
	assert_non_null(strstr(h->text, "QSG0012I"));
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(h->objs[0].nattrs, 15);
	assert_string_equal(val(h, 0, "MAXDEPTH"), "100");
	assert_string_equal(val(h, 0, "MAXMSGL"), "4194304");
	assert_string_equal(val(h, 0, "DEFPSIST"), "NO");
	assert_string_equal(val(h, 0, "DEFPRTY"), "0");
	assert_string_equal(val(h, 0, "BOTHRESH"), "0");
	assert_string_equal(val(h, 0, "BOQNAME"), "");
	assert_string_equal(val(h, 0, "INDXTYPE"), "NONE");
	assert_string_equal(val(h, 0, "GET"), "ENABLED");
	assert_string_equal(val(h, 0, "PUT"), "ENABLED");
	assert_string_equal(val(h, 0, "MAXUMSGS"), "10000");
	assert_string_equal(val(h, 0, "DESCR"), "first queue");
	assert_string_equal(val(h, 0, "CURDEPTH"), "0");

	/* Selected attributes only (plus the names). */
	assert_int_equal(run(h, "DISPLAY QUEUE(QA) MAXDEPTH CURDEPTH"), QSG_OK);
	assert_int_equal(h->objs[0].nattrs, 5);
	assert_null(val(h, 0, "MAXMSGL"));

	/* Queries do not go through the log. */
	assert_int_equal(h->submits, 1);

	/* Unknown queue; generic without a match. */
	assert_int_equal(run(h, "DISPLAY QLOCAL(NOPE)"), QSG_RC_UNKNOWN_OBJECT);
	assert_non_null(strstr(h->text, "QSG0003E"));
	assert_int_equal(h->nobjs, 0);
	assert_int_equal(run(h, "DISPLAY QSTATUS(NOPE)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DISPLAY QLOCAL(Z*)"), QSG_OK);
	assert_int_equal(h->nobjs, 0);
	assert_non_null(strstr(h->text, "QSG0013I"));
}

static void admin_define_replace_like_alter(void **state)
{
	struct harness *h = *state;

	assert_int_equal(run(h, "DEFINE QLOCAL(QA) MAXDEPTH(100) DESCR('first')"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QLOCAL(QA) MAXDEPTH(200)"), QSG_RC_OBJECT_EXISTS);
	assert_non_null(strstr(h->text, "QSG0004E"));
	assert_non_null(strstr(h->text, "QSG_RC_OBJECT_EXISTS"));
	assert_int_equal(run(h, "DEFINE QLOCAL(QA) MAXDEPTH(200) NOREPLACE"), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(run(h, "DEFINE QLOCAL(QA) MAXDEPTH(200) REPLACE"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QLOCAL(QA) MAXDEPTH DESCR"), QSG_OK);
	assert_string_equal(val(h, 0, "MAXDEPTH"), "200");

	/* LIKE copies every attribute; explicit ones win. */
	assert_int_equal(run(h, "ALTER QLOCAL(QA) DESCR('model') DEFPSIST(YES) PUT(DISABLED) "
				"BOTHRESH(3) BOQNAME(QA.BO) INDXTYPE(MSGID)"),
			 QSG_OK);
	assert_string_equal(h->text, "QSG0009I: QLOCAL(QA) altered.");
	assert_int_equal(run(h, "DEFINE QLOCAL(QB) LIKE(QA) MAXMSGL(1000)"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QLOCAL(QB) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "QUEUE"), "QB");
	assert_string_equal(val(h, 0, "MAXDEPTH"), "200");
	assert_string_equal(val(h, 0, "MAXMSGL"), "1000");
	assert_string_equal(val(h, 0, "DESCR"), "model");
	assert_string_equal(val(h, 0, "DEFPSIST"), "YES");
	assert_string_equal(val(h, 0, "PUT"), "DISABLED");
	assert_string_equal(val(h, 0, "BOTHRESH"), "3");
	assert_string_equal(val(h, 0, "BOQNAME"), "QA.BO");
	assert_string_equal(val(h, 0, "INDXTYPE"), "MSGID");
	/* ALTER changed only what it named. */
	assert_int_equal(run(h, "DISPLAY QLOCAL(QA) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "MAXDEPTH"), "200");
	assert_string_equal(val(h, 0, "MAXMSGL"), "4194304");

	unsigned before = h->submits;
	assert_int_equal(run(h, "DEFINE QLOCAL(QC) LIKE(NOPE)"), QSG_RC_UNKNOWN_OBJECT);
	assert_non_null(strstr(h->text, "QSG0003E"));
	assert_non_null(strstr(h->text, "LIKE"));
	assert_int_equal(h->submits, before); /* refused before submitting */

	assert_int_equal(run(h, "ALTER QLOCAL(NOPE) MAXDEPTH(1)"), QSG_RC_UNKNOWN_OBJECT);
	assert_non_null(strstr(h->text, "QSG0003E"));

	/* Generic display, in name order. */
	assert_int_equal(run(h, "DISPLAY QLOCAL(Q*)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_string_equal(val(h, 0, "QUEUE"), "QA");
	assert_string_equal(val(h, 1, "QUEUE"), "QB");
	assert_int_equal(run(h, "DISPLAY QLOCAL(*)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_int_equal(run(h, "DISPLAY QLOCAL(QB*)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
}

static void admin_delete_clear_status(void **state)
{
	struct harness *h = *state;

	assert_int_equal(run(h, "DEFINE QLOCAL(QA)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QLOCAL(QB)"), QSG_OK);
	uint64_t epoch = attach(h, 77);
	assert_int_equal(put(h, 77, epoch, 1, "QA", 0), QSG_OK);
	assert_int_equal(put(h, 77, epoch, 2, "QA", FSM_F_SYNCPOINT), QSG_OK);
	assert_int_equal(put(h, 77, epoch, 3, "QB", 0), QSG_OK);

	/* Let leader time pass: MSGAGE counts from the last applied entry. */
	h->now += 7500;
	assert_int_equal(run(h, "ALTER QLOCAL(QB) DESCR('tick')"), QSG_OK);

	assert_int_equal(run(h, "DISPLAY QSTATUS(QA) TYPE(QUEUE)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "QUEUE"), "QA");
	assert_string_equal(val(h, 0, "TYPE"), "QUEUE");
	assert_string_equal(val(h, 0, "CURDEPTH"), "2");
	assert_string_equal(val(h, 0, "UNCOM"), "1");
	assert_string_equal(val(h, 0, "OPENS"), "0");
	assert_string_equal(val(h, 0, "MSGAGE"), "7");
	assert_string_equal(val(h, 0, "PUTS"), "1"); /* counted when committed */
	assert_string_equal(val(h, 0, "GETS"), "0");
	assert_int_equal(run(h, "DISPLAY QLOCAL(QA) CURDEPTH"), QSG_OK);
	assert_string_equal(val(h, 0, "CURDEPTH"), "2");

	/* Delete of a non-empty queue fails; PURGE deletes it. */
	assert_int_equal(run(h, "DELETE QLOCAL(QB)"), QSG_RC_Q_NOT_EMPTY);
	assert_non_null(strstr(h->text, "QSG0004E"));
	assert_non_null(strstr(h->text, "QSG_RC_Q_NOT_EMPTY (2055)"));
	assert_int_equal(run(h, "DELETE QLOCAL(QB) NOPURGE"), QSG_RC_Q_NOT_EMPTY);
	assert_int_equal(run(h, "DISPLAY QSTATUS(QB)"), QSG_OK);
	assert_string_equal(val(h, 0, "CURDEPTH"), "1");
	assert_int_equal(run(h, "DELETE QLOCAL(QB) PURGE"), QSG_OK);
	assert_string_equal(h->text, "QSG0010I: QLOCAL(QB) deleted.");
	assert_int_equal(run(h, "DISPLAY QLOCAL(QB)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DELETE QLOCAL(QB)"), QSG_RC_UNKNOWN_OBJECT);

	/* CLEAR is refused while a unit of work holds messages (as MQ does) and
	 * removes the committed messages otherwise. */
	assert_int_equal(run(h, "CLEAR QLOCAL(QA)"), QSG_RC_OBJECT_IN_USE);
	assert_non_null(strstr(h->text, "QSG0004E"));
	assert_int_equal(run(h, "DEFINE QLOCAL(QC)"), QSG_OK);
	assert_int_equal(put(h, 77, epoch, 4, "QC", 0), QSG_OK);
	assert_int_equal(put(h, 77, epoch, 5, "QC", 0), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QSTATUS(QC) CURDEPTH"), QSG_OK);
	assert_string_equal(val(h, 0, "CURDEPTH"), "2");
	assert_int_equal(run(h, "CLEAR QLOCAL(QC)"), QSG_OK);
	assert_string_equal(h->text, "QSG0011I: QLOCAL(QC) cleared.");
	assert_int_equal(run(h, "DISPLAY QSTATUS(QC)"), QSG_OK);
	assert_string_equal(val(h, 0, "CURDEPTH"), "0");
	assert_string_equal(val(h, 0, "MSGAGE"), "");
	assert_int_equal(run(h, "CLEAR QLOCAL(NOPE)"), QSG_RC_UNKNOWN_OBJECT);
}

static void admin_outcome_unknown_and_refused(void **state)
{
	struct harness *h = *state;

	h->mode = SUBMIT_UNKNOWN;
	assert_int_equal(run(h, "DEFINE QLOCAL(QU)"), QSG_RC_OUTCOME_UNKNOWN);
	assert_non_null(strstr(h->text, "QSG0005W"));
	assert_non_null(strstr(h->text, "outcome unknown"));
	assert_non_null(strstr(h->text, "QSG_RC_OUTCOME_UNKNOWN"));
	assert_null(strstr(h->text, "fail"));
	/* It was in fact applied: DISPLAY finds it. */
	h->mode = SUBMIT_APPLY;
	assert_int_equal(run(h, "DISPLAY QLOCAL(QU)"), QSG_OK);

	h->mode = SUBMIT_REFUSE;
	assert_int_equal(run(h, "DELETE QLOCAL(QU)"), QSG_RC_NO_LEADER);
	assert_non_null(strstr(h->text, "QSG0006E"));
	assert_non_null(strstr(h->text, "not deleted"));
	h->mode = SUBMIT_APPLY;
	assert_int_equal(run(h, "DISPLAY QLOCAL(QU)"), QSG_OK);
}

static void admin_syntax_errors(void **state)
{
	struct harness *h = *state;

	assert_int_equal(run(h, "DEFINE QLOCAL(QA"), QSG_RC_MQSC_SYNTAX);
	assert_non_null(strstr(h->text, "QSG0001E"));
	assert_non_null(strstr(h->text, "missing ')'"));
	assert_int_equal(h->nobjs, 0);
	assert_int_equal(run(h, "DEFINE QLOCAL(QA) QSGDISP(QMGR)"), QSG_RC_BAD_ATTR);
	assert_non_null(strstr(h->text, "QSG0002E"));
	assert_non_null(strstr(h->text, "shared queues only"));
	assert_int_equal(run(h, ""), QSG_RC_MQSC_SYNTAX);
	assert_int_equal(h->submits, 0);
}

static void admin_group_qmgr_ping(void **state)
{
	struct harness *h = *state;
	struct fsm_cmd c;

	/* Not joined yet: DISPLAY GROUP still shows this member's live view. */
	assert_int_equal(run(h, "DISPLAY GROUP"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "QMNAME"), "QM1");
	assert_string_equal(val(h, 0, "ROLE"), "LEADER");
	assert_string_equal(val(h, 0, "LEASE"), "NONE");

	for (uint32_t id = 1; id <= 3; id++) {
		memset(&c, 0, sizeof c);
		c.op = FSM_OP_MEMBER_JOIN;
		c.member_id = id;
		snprintf(c.name, sizeof c.name, "QM%u", (unsigned)id);
		snprintf(c.raft_addr, sizeof c.raft_addr, "127.0.0.1:%u", 9000 + (unsigned)id);
		snprintf(c.client_addr, sizeof c.client_addr, "127.0.0.1:%u", 1414 + (unsigned)id);
		assert_int_equal(apply(h, &c, NULL), QSG_OK);
	}
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_LEASE_RENEW;
	c.member_id = 2;
	c.stats.role = 1;
	c.stats.term = 4;
	c.stats.commit_index = 30;
	c.stats.applied_index = 29;
	c.stats.last_index = 31;
	assert_int_equal(apply(h, &c, NULL), QSG_OK);
	uint64_t epoch = attach(h, 5); /* a session owned by member 1 */
	(void)epoch;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_FAIL;
	c.member_id = 3;
	struct fsm_member m3;
	assert_int_equal(fsm_member_get(h->fsm, 3, &m3), QSG_OK);
	c.seq = (uint64_t)m3.lease_expiry_ms;
	h->now = m3.lease_expiry_ms + 1;
	assert_int_equal(apply(h, &c, NULL), QSG_OK);

	assert_int_equal(run(h, "DISPLAY GROUP"), QSG_OK);
	assert_non_null(strstr(h->text, "QSG0014I"));
	assert_int_equal(h->nobjs, 3);
	for (size_t i = 0; i < 3; i++) {
		const char *name = val(h, i, "QMNAME");
		assert_non_null(name);
		if (strcmp(name, "QM1") == 0) {
			/* Own line: live Raft view. */
			assert_string_equal(val(h, i, "RAFTID"), "1");
			assert_string_equal(val(h, i, "ROLE"), "LEADER");
			assert_string_equal(val(h, i, "TERM"), "5");
			assert_string_equal(val(h, i, "COMMIT"), "42");
			assert_string_equal(val(h, i, "APPLIED"), "41");
			assert_string_equal(val(h, i, "CONNS"), "1");
			assert_string_equal(val(h, i, "CONNAME"), "127.0.0.1:1415");
		} else if (strcmp(name, "QM2") == 0) {
			/* Others: as of their last renewal. */
			assert_string_equal(val(h, i, "ROLE"), "FOLLOWER");
			assert_string_equal(val(h, i, "TERM"), "4");
			assert_string_equal(val(h, i, "COMMIT"), "30");
			assert_string_equal(val(h, i, "APPLIED"), "29");
			assert_string_equal(val(h, i, "CONNS"), "0");
		} else {
			assert_string_equal(name, "QM3");
			assert_string_equal(val(h, i, "ROLE"), "UNAVAILABLE");
			assert_string_equal(val(h, i, "LEASE"), "FAILED");
			assert_string_equal(val(h, i, "LEASEEXP"), "-1");
		}
	}

	assert_int_equal(run(h, "DISPLAY QMGR"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "QMNAME"), "QM1");
	assert_string_equal(val(h, 0, "QSGNAME"), "QSG1");
	assert_string_equal(val(h, 0, "RAFTID"), "1");
	assert_string_equal(val(h, 0, "ROLE"), "LEADER");
	assert_string_equal(val(h, 0, "LEADER"), "QM1");
	h->ri.role = 1;
	h->ri.leader_id = 2;
	assert_int_equal(run(h, "DISPLAY QMGR"), QSG_OK);
	assert_string_equal(val(h, 0, "ROLE"), "FOLLOWER");
	assert_string_equal(val(h, 0, "LEADER"), "QM2");

	assert_int_equal(run(h, "PING QMGR"), QSG_OK);
	assert_string_equal(h->text, "QSG0007I: Queue manager QM1 is available.");
	assert_int_equal(h->submits, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_define),
	    cmocka_unit_test(parse_display),
	    cmocka_unit_test(parse_bad),
	    cmocka_unit_test(parse_hostile),
	    cmocka_unit_test_setup_teardown(admin_define_display, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_define_replace_like_alter, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_delete_clear_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_outcome_unknown_and_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_syntax_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_group_qmgr_ping, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
