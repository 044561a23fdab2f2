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
#include "admin/admin.h"
#include "admin/mqsc.h"

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

/* The trigger attributes of a local queue (docs/channels.md
 * "Triggering"): TRIGGER and NOTRIGGER are bare keywords. */
static void parse_trigger(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];

	assert_int_equal(parse("DEFINE QLOCAL(XQ) USAGE(XMITQ) TRIGGER TRIGTYPE(DEPTH) "
			       "TRIGDPTH(5) TRIGDATA('TO.R') INITQ(SYSTEM.CHANNEL.INITQ)",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.qattrs.set, FSM_QA_USAGE | FSM_QA_TRIGGER | FSM_QA_TRIGTYPE |
					   FSM_QA_TRIGDPTH | FSM_QA_TRIGDATA | FSM_QA_INITQ);
	assert_int_equal(c.qattrs.trigger, 1);
	assert_int_equal(c.qattrs.trigtype, FSM_TRIG_DEPTH);
	assert_int_equal(c.qattrs.trigdpth, 5);
	assert_string_equal(c.qattrs.trigdata, "TO.R");
	assert_string_equal(c.qattrs.initq, "SYSTEM.CHANNEL.INITQ");

	assert_int_equal(parse("alter ql(xq) notrigger", &c, err), QSG_OK);
	assert_int_equal(c.qattrs.set, FSM_QA_TRIGGER);
	assert_int_equal(c.qattrs.trigger, 0);
	/* As DISPLAY shows it. */
	assert_int_equal(parse("ALTER QLOCAL(XQ) TRIGGER(YES) TRIGTYPE(EVERY)", &c, err), QSG_OK);
	assert_int_equal(c.qattrs.trigger, 1);
	assert_int_equal(c.qattrs.trigtype, FSM_TRIG_EVERY);
	assert_int_equal(
	    parse("ALTER QLOCAL(XQ) TRIGGER(NO) TRIGTYPE(NONE) TRIGDPTH(999999999)", &c, err),
	    QSG_OK);
	assert_int_equal(c.qattrs.trigger, 0);
	assert_int_equal(c.qattrs.trigtype, FSM_TRIG_NONE);
	assert_int_equal(
	    parse("DISPLAY QLOCAL(XQ) TRIGGER TRIGTYPE TRIGDPTH TRIGDATA INITQ", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "TRIGDPTH"));
	assert_false(mqsc_display_wants(&c, "MAXDEPTH"));

	static const struct {
		const char *text;
		int rc;
		const char *msg;
	} bad[] = {
	    {"ALTER QLOCAL(XQ) TRIGGER NOTRIGGER", QSG_RC_MQSC_SYNTAX, "mutually exclusive"},
	    {"ALTER QLOCAL(XQ) NOTRIGGER TRIGGER(YES)", QSG_RC_MQSC_SYNTAX, "mutually exclusive"},
	    {"ALTER QLOCAL(XQ) NOTRIGGER(YES)", QSG_RC_MQSC_SYNTAX, "takes no value"},
	    {"ALTER QLOCAL(XQ) TRIGGER(MAYBE)", QSG_RC_BAD_ATTR, "NO|YES"},
	    {"ALTER QLOCAL(XQ) TRIGTYPE(SOMETIMES)", QSG_RC_BAD_ATTR, "NONE|FIRST|EVERY|DEPTH"},
	    {"ALTER QLOCAL(XQ) TRIGDPTH(0)", QSG_RC_BAD_ATTR, "1..999999999"},
	    {"ALTER QLOCAL(XQ) TRIGDPTH", QSG_RC_MQSC_SYNTAX, "needs a value"},
	    {"ALTER QLOCAL(XQ) INITQ('BAD NAME')", QSG_RC_BAD_ATTR, "INITQ"},
	    {"DEFINE QREMOTE(R) RNAME(A) RQMNAME(B) TRIGGER", QSG_RC_BAD_ATTR, "TRIGGER"},
	    {"DEFINE QREMOTE(R) RNAME(A) RQMNAME(B) NOTRIGGER", QSG_RC_BAD_ATTR, "NOTRIGGER"},
	    {"DEFINE QALIAS(A) TARGET(Q) TRIGTYPE(FIRST)", QSG_RC_BAD_ATTR, "TRIGTYPE"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) TRIGGER", QSG_RC_BAD_ATTR, "TRIGGER"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse(bad[i].text, &c, err), bad[i].rc);
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("%s: '%s' lacks '%s'", bad[i].text, err, bad[i].msg);
	}
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
	    {"DEFINE CHSTATUS(A)", QSG_RC_MQSC_SYNTAX, "column 8"},
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
	    {"DEFINE QLOCAL(A) QSGDISP(ALL)", QSG_RC_BAD_ATTR, "SHARED, GROUP, QMGR or COPY"},
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

static void parse_channel_cmds(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];

	/* QREMOTE and USAGE. */
	assert_int_equal(parse("def qr(rq) rname(app.in) rqmname(qm2) xmitq(qm2.x) descr('to qm2') "
			       "qsgdisp(group) replace",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_QREMOTE);
	assert_int_equal(c.qattrs.qtype, FSM_QT_REMOTE);
	assert_string_equal(c.qattrs.rname, "APP.IN");
	assert_string_equal(c.qattrs.rqmname, "QM2");
	assert_string_equal(c.qattrs.xmitq, "QM2.X");
	assert_string_equal(c.qattrs.descr, "to qm2");
	assert_int_equal(c.qattrs.set, FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ | FSM_QA_DESCR);
	assert_int_equal(c.flags, FSM_F_REPLACE);
	assert_int_equal(parse("DEFINE QLOCAL(QM2) USAGE(XMITQ)", &c, err), QSG_OK);
	assert_int_equal(c.qattrs.qtype, FSM_QT_LOCAL);
	assert_int_equal(c.qattrs.usage, FSM_USAGE_XMITQ);
	assert_int_equal(c.qattrs.set, FSM_QA_USAGE);
	assert_int_equal(parse("ALTER QREMOTE(RQ) XMITQ('')", &c, err), QSG_OK);
	assert_int_equal(c.qattrs.set, FSM_QA_XMITQ);
	assert_int_equal(parse("DELETE QREMOTE(RQ) QSGDISP(GROUP)", &c, err), QSG_OK);
	assert_int_equal(parse("DISPLAY QREMOTE(R*) RNAME", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "RNAME"));
	assert_false(mqsc_display_wants(&c, "XMITQ"));
	assert_int_equal(
	    parse("DISPLAY QUEUE(*) TYPE(QREMOTE) QSGDISP(GROUP) RQMNAME USAGE", &c, err), QSG_OK);
	assert_int_equal(c.type_filter, FSM_QT_REMOTE);
	assert_int_equal(c.disp_mask, 1u << FSM_DISP_GROUP);
	assert_int_equal(parse("DISPLAY QUEUE(*) QSGDISP(SHARED)", &c, err), QSG_OK);
	assert_int_equal(c.disp_mask, 1u << FSM_DISP_SHARED);

	/* Channels. */
	assert_int_equal(parse("DEFINE CHANNEL(QM1.TO.QM2) CHLTYPE(SDR) "
			       "CONNAME('127.0.0.1:1414,host2(1415)') XMITQ(QM2) BATCHSZ(9999) "
			       "BATCHINT(10) HBINT(0) DISCINT(60) SHORTRTY(3) SHORTTMR(5) "
			       "LONGRTY(7) LONGTMR(30) COMPMSG(LZ4) USEDLQ(NO) MAXMSGL(1000) "
			       "DESCR('to qm2') PIPELINE(64) QSGDISP(GROUP) REPLACE",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_CHANNEL);
	assert_string_equal(c.name, "QM1.TO.QM2");
	assert_string_equal(c.chattrs.name, "QM1.TO.QM2");
	assert_int_equal(c.chattrs.chltype, FSM_CHL_SDR);
	assert_string_equal(c.chattrs.conname, "127.0.0.1:1414,host2:1415");
	assert_string_equal(c.chattrs.xmitq, "QM2");
	assert_int_equal(c.chattrs.batchsz, 9999);
	assert_int_equal(c.chattrs.batchint, 10);
	assert_int_equal(c.chattrs.hbint, 0);
	assert_int_equal(c.chattrs.discint, 60);
	assert_int_equal(c.chattrs.shortrty, 3);
	assert_int_equal(c.chattrs.shorttmr, 5);
	assert_int_equal(c.chattrs.longrty, 7);
	assert_int_equal(c.chattrs.longtmr, 30);
	assert_int_equal(c.chattrs.compmsg, FSM_COMP_LZ4);
	assert_int_equal(c.chattrs.usedlq, 0);
	assert_int_equal(c.chattrs.maxmsgl, 1000);
	assert_string_equal(c.chattrs.descr, "to qm2");
	assert_int_equal(c.chattrs.pipeline, 64);
	assert_int_equal(c.chattrs.set, FSM_CA_ALL);
	assert_int_equal(c.flags, FSM_F_REPLACE);
	assert_int_equal(parse("def chl(r1) chltype(rcvr)", &c, err), QSG_OK);
	assert_int_equal(c.chattrs.chltype, FSM_CHL_RCVR);
	assert_int_equal(c.chattrs.set, FSM_CA_CHLTYPE);
	assert_int_equal(parse("DEFINE CHANNEL(S2) LIKE(S1) CONNAME('[::1]:5000')", &c, err),
			 QSG_OK);
	assert_string_equal(c.like, "S1");
	assert_string_equal(c.chattrs.conname, "[::1]:5000");
	assert_int_equal(parse("DEFINE CHANNEL(S3) CHLTYPE(SDR) CONNAME('::1(5000)')", &c, err),
			 QSG_OK);
	assert_string_equal(c.chattrs.conname, "[::1]:5000");
	assert_int_equal(parse("ALTER CHANNEL(S1) BATCHSZ(1)", &c, err), QSG_OK);
	assert_int_equal(c.chattrs.set, FSM_CA_BATCHSZ);
	assert_int_equal(parse("DELETE CHANNEL(S1)", &c, err), QSG_OK);
	assert_int_equal(parse("DIS CHL(*) CHLTYPE(SDR) ALL", &c, err), QSG_OK);
	assert_int_equal(c.chltype, FSM_CHL_SDR);
	assert_true(c.all && c.generic);
	assert_int_equal(parse("DISPLAY CHANNEL(S1) BATCHSZ", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "CHLTYPE"));
	assert_true(mqsc_display_wants(&c, "BATCHSZ"));
	assert_false(mqsc_display_wants(&c, "CONNAME"));
	assert_int_equal(parse("DISPLAY CHSTATUS(S*)", &c, err), QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_CHSTATUS);
	assert_true(mqsc_display_wants(&c, "STATUS"));
	assert_true(mqsc_display_wants(&c, "OWNER"));
	assert_false(mqsc_display_wants(&c, "MSGS"));
	assert_int_equal(parse("DIS CHS(S1) ALL", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "PREVOWNER"));
	assert_int_equal(parse("DIS CHS(S1) MSGS INDOUBT", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "MSGS"));
	assert_false(mqsc_display_wants(&c, "REASON"));

	assert_int_equal(parse("START CHANNEL(S1)", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_START);
	assert_int_equal(c.chldisp, MQSC_CHLDISP_SHARED);
	assert_int_equal(parse("sta chl(s1) chldisp(fixshared)", &c, err), QSG_OK);
	assert_int_equal(c.chldisp, MQSC_CHLDISP_FIXSHARED);
	assert_int_equal(parse("STOP CHANNEL(S1)", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_STOP);
	assert_int_equal(parse("RESET CHANNEL(S1)", &c, err), QSG_OK);
	assert_int_equal(c.seqnum, 1);
	assert_int_equal(parse("RESET CHANNEL(S1) SEQNUM(999999999)", &c, err), QSG_OK);
	assert_int_equal(c.seqnum, 999999999);
	assert_int_equal(parse("RESOLVE CHANNEL(S1) ACTION(COMMIT)", &c, err), QSG_OK);
	assert_int_equal(c.action, MQSC_ACTION_COMMIT);
	assert_int_equal(parse("resolve channel(s1) action(backout)", &c, err), QSG_OK);
	assert_int_equal(c.action, MQSC_ACTION_BACKOUT);
	assert_int_equal(parse("START CHINIT", &c, err), QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_CHINIT);
	assert_int_equal(parse("STOP CHINIT", &c, err), QSG_OK);
	assert_int_equal(parse("DISPLAY CHINIT", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "CHANNELS"));

	assert_int_equal(parse("ALTER QMGR DEADQ(SYSTEM.DEAD) DESCR('the group')", &c, err),
			 QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_QMGR);
	assert_string_equal(c.qmattrs.deadq, "SYSTEM.DEAD");
	assert_string_equal(c.qmattrs.descr, "the group");
	assert_int_equal(c.qmattrs.set, FSM_QM_DEADQ | FSM_QM_DESCR);
	assert_int_equal(parse("ALTER QMGR DEADQ('')", &c, err), QSG_OK);
	assert_int_equal(c.qmattrs.set, FSM_QM_DEADQ);
	assert_int_equal(parse("DISPLAY QMGR DEADQ", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "DEADQ"));
}

static void parse_channel_bad(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
	    {"DEFINE QREMOTE(R) MAXDEPTH(5)", QSG_RC_BAD_ATTR, "unknown attribute MAXDEPTH"},
	    {"DEFINE QLOCAL(L) RNAME(X)", QSG_RC_BAD_ATTR, "unknown attribute RNAME"},
	    {"DEFINE QLOCAL(L) USAGE(DEAD)", QSG_RC_BAD_ATTR, "NORMAL|XMITQ"},
	    {"DEFINE QREMOTE(R) USAGE(XMITQ)", QSG_RC_BAD_ATTR, "unknown attribute USAGE"},
	    {"DEFINE QREMOTE(R) RNAME('a b')", QSG_RC_BAD_ATTR, "not allowed"},
	    {"DEFINE QREMOTE(R) QSGDISP(SHARED)", QSG_RC_BAD_ATTR, "local queues only"},
	    {"DEFINE QREMOTE(R) QSGDISP(LIVE)", QSG_RC_BAD_ATTR, "GROUP, QMGR or COPY"},
	    {"DELETE QREMOTE(R) PURGE", QSG_RC_BAD_ATTR, "unknown attribute PURGE"},
	    {"CLEAR QREMOTE(R)", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"DISPLAY QREMOTE(R) TYPE(QLOCAL)", QSG_RC_BAD_ATTR, "TYPE(QLOCAL)"},
	    {"DISPLAY QLOCAL(R) TYPE(QREMOTE)", QSG_RC_BAD_ATTR, "TYPE(QREMOTE)"},
	    {"DISPLAY QUEUE(*) QSGDISP(XYZ)", QSG_RC_BAD_ATTR, "SHARED"},
	    {"DISPLAY QREMOTE(R) MAXDEPTH", QSG_RC_BAD_ATTR, "unknown attribute MAXDEPTH"},
	    {"DEFINE CHANNEL(C)", QSG_RC_MQSC_SYNTAX, "CHLTYPE"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SVR)", QSG_RC_BAD_ATTR, "SDR|RCVR"},
	    {"DEFINE CHANNEL(C) CHLTYPE('')", QSG_RC_BAD_ATTR, "SDR|RCVR"},
	    {"DEFINE CHANNEL(ABCDEFGHIJKLMNOPQRSTU) CHLTYPE(SDR)", QSG_RC_BAD_ATTR, "20"},
	    {"DEFINE CHANNEL(C*) CHLTYPE(SDR)", QSG_RC_MQSC_SYNTAX, "generic"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) BATCHSZ(0)", QSG_RC_BAD_ATTR, "1..9999"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) BATCHSZ(10000)", QSG_RC_BAD_ATTR, "1..9999"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) PIPELINE(65)", QSG_RC_BAD_ATTR, "1..64"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) PIPELINE(0)", QSG_RC_BAD_ATTR, "PIPELINE"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) COMPMSG(ZLIB)", QSG_RC_BAD_ATTR, "NONE|LZ4"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) USEDLQ(MAYBE)", QSG_RC_BAD_ATTR, "NO|YES"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) HBINT(1000000)", QSG_RC_BAD_ATTR, "HBINT"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) CONNAME('nohost')", QSG_RC_BAD_ATTR, "CONNAME"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) CONNAME('h:1,')", QSG_RC_BAD_ATTR, "ends with"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) CONNAME('h:99999')", QSG_RC_BAD_ATTR, "CONNAME"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) CONNAME('h()')", QSG_RC_BAD_ATTR, "CONNAME"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) CONNAME('h:1,,h:2')", QSG_RC_BAD_ATTR, "CONNAME"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) XMITQ('a b')", QSG_RC_BAD_ATTR, "not allowed"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) MAXDEPTH(5)", QSG_RC_BAD_ATTR, "unknown attribute"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) QSGDISP(SHARED)", QSG_RC_BAD_ATTR, "shared channels"},
	    {"DEFINE CHANNEL(C) LIKE(ABCDEFGHIJKLMNOPQRSTU)", QSG_RC_BAD_ATTR, "20"},
	    {"DEFINE CHANNEL(C) CHLTYPE(SDR) CHLDISP(SHARED)", QSG_RC_BAD_ATTR, "unknown"},
	    {"DISPLAY CHANNEL(C) CHLTYPE(SVR)", QSG_RC_BAD_ATTR, "SDR|RCVR|ALL"},
	    {"DISPLAY CHANNEL(C) STATUS", QSG_RC_BAD_ATTR, "unknown attribute STATUS"},
	    {"DISPLAY CHSTATUS(C) BATCHSZ", QSG_RC_BAD_ATTR, "unknown attribute BATCHSZ"},
	    {"DISPLAY CHSTATUS", QSG_RC_MQSC_SYNTAX, "needs an object name"},
	    {"START CHANNEL(C*)", QSG_RC_MQSC_SYNTAX, "generic"},
	    {"START CHANNEL", QSG_RC_MQSC_SYNTAX, "needs an object name"},
	    {"START CHANNEL(C) CHLDISP(PRIVATE)", QSG_RC_BAD_ATTR, "SHARED|FIXSHARED"},
	    {"START CHANNEL(C) CHLDISP", QSG_RC_MQSC_SYNTAX, "needs a value"},
	    {"STOP CHANNEL(C) CHLDISP(SHARED)", QSG_RC_BAD_ATTR, "unknown attribute CHLDISP"},
	    {"START QLOCAL(A)", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"START CHINIT(X)", QSG_RC_MQSC_SYNTAX, "takes no name"},
	    {"START CHINIT NOW", QSG_RC_BAD_ATTR, "unknown attribute NOW"},
	    {"STOP CHINIT FORCE", QSG_RC_BAD_ATTR, "unknown attribute"},
	    {"RESET CHANNEL(C) SEQNUM(0)", QSG_RC_BAD_ATTR, "1..999999999"},
	    {"RESET CHANNEL(C) SEQNUM(x)", QSG_RC_BAD_ATTR, "SEQNUM"},
	    {"RESET CHINIT", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"RESOLVE CHANNEL(C)", QSG_RC_MQSC_SYNTAX, "ACTION"},
	    {"RESOLVE CHANNEL(C) ACTION(MAYBE)", QSG_RC_BAD_ATTR, "COMMIT|BACKOUT"},
	    {"RESOLVE CHANNEL(C) SEQNUM(3) ACTION(COMMIT)", QSG_RC_BAD_ATTR, "unknown"},
	    {"ALTER QMGR DEADQ('a b')", QSG_RC_BAD_ATTR, "not allowed"},
	    {"ALTER QMGR MAXDEPTH(3)", QSG_RC_BAD_ATTR, "unknown attribute"},
	    {"ALTER QMGR(X)", QSG_RC_MQSC_SYNTAX, "takes no name"},
	    {"DEFINE QMGR", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"DISPLAY QMGR DEADQ(X)", QSG_RC_MQSC_SYNTAX, "no value"},
	    {"LAUNCH CHANNEL(C)", QSG_RC_MQSC_SYNTAX, "RESOLVE"},
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
	static const char alpha[] = "()' ,\t*AQLDISPEFNXGROUPMAXDEPTH09\xff"
				    "CHRTV:";
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
	static const char *const words[] = {"DEFINE",
					    "DISPLAY",
					    "QLOCAL(A)",
					    "QL(*)",
					    "MAXDEPTH(5)",
					    "ALL",
					    "(",
					    ")",
					    "'q'",
					    "QSTATUS(Q*)",
					    "PURGE",
					    "LIKE(B)",
					    "GROUP",
					    "QMGR",
					    "CURDEPTH",
					    "DESCR('x''y')",
					    "START",
					    "STOP",
					    "RESET",
					    "RESOLVE",
					    "CHANNEL(C)",
					    "CHL(*)",
					    "CHSTATUS(C*)",
					    "CHINIT",
					    "QREMOTE(R)",
					    "CHLTYPE(SDR)",
					    "CONNAME('h:1,h(2)')",
					    "ACTION(COMMIT)",
					    "SEQNUM(2)",
					    "CHLDISP(FIXSHARED)",
					    "RNAME(X)",
					    "USAGE(XMITQ)",
					    "DEADQ(D)",
					    "QSGDISP(GROUP)"};
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

/* WHERE(attr op value): parsing and matching. */
static void parse_where(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];
	const char *names[] = {"QUEUE", "MAXDEPTH", "DESCR", "LEASEEXP"};
	const char *values[] = {"APP.IN", "100", "abc", "-5"};

	assert_int_equal(parse("DIS QL(*) WHERE(MAXDEPTH GT 50)", &c, err), QSG_OK);
	assert_int_equal(c.where.op, MQSC_WHERE_GT);
	assert_string_equal(c.where.attr, "MAXDEPTH");
	assert_string_equal(c.where.value, "50");
	assert_int_equal(c.nattrs, 0);
	/* As MQ: the filtered attribute is shown. */
	assert_true(mqsc_display_wants(&c, "MAXDEPTH"));
	assert_false(mqsc_display_wants(&c, "MAXMSGL"));
	assert_true(mqsc_where_matches(&c, 4, names, values));
	/* Numeric, not string, comparison: 100 > 50 but "100" < "50". */
	assert_int_equal(parse("DIS QL(*) WHERE(MAXDEPTH LT 50)", &c, err), QSG_OK);
	assert_false(mqsc_where_matches(&c, 4, names, values));
	assert_int_equal(parse("DIS QL(*) where ( maxdepth ge 100 ) ALL", &c, err), QSG_OK);
	assert_true(c.all);
	assert_true(mqsc_where_matches(&c, 4, names, values));
	assert_int_equal(parse("DIS QL(*) WHERE(MAXDEPTH LE 99)", &c, err), QSG_OK);
	assert_false(mqsc_where_matches(&c, 4, names, values));
	assert_int_equal(parse("DIS QL(*) WHERE(MAXDEPTH EQ 100)", &c, err), QSG_OK);
	assert_true(mqsc_where_matches(&c, 4, names, values));
	assert_int_equal(parse("DIS QL(*) WHERE(MAXDEPTH NE 100)", &c, err), QSG_OK);
	assert_false(mqsc_where_matches(&c, 4, names, values));
	/* Strings: quoted keeps case; LK/NL with a trailing '*'. */
	assert_int_equal(parse("DIS QL(*) WHERE(DESCR EQ 'abc')", &c, err), QSG_OK);
	assert_true(mqsc_where_matches(&c, 4, names, values));
	assert_int_equal(parse("DIS QL(*) WHERE(DESCR EQ abc)", &c, err), QSG_OK);
	assert_false(mqsc_where_matches(&c, 4, names, values)); /* upper-cased ABC */
	assert_int_equal(parse("DIS QL(*) WHERE(QUEUE LK APP.*)", &c, err), QSG_OK);
	assert_true(mqsc_where_matches(&c, 4, names, values));
	assert_int_equal(parse("DIS QL(*) WHERE(QUEUE NL APP.*)", &c, err), QSG_OK);
	assert_false(mqsc_where_matches(&c, 4, names, values));
	assert_int_equal(parse("DIS QL(*) WHERE(QUEUE LK APP)", &c, err), QSG_OK);
	assert_false(mqsc_where_matches(&c, 4, names, values)); /* no '*': whole value */
	assert_int_equal(parse("DIS QL(*) WHERE(QUEUE GT APP.A)", &c, err), QSG_OK);
	assert_true(mqsc_where_matches(&c, 4, names, values)); /* "APP.IN" > "APP.A" */
	/* Negative numbers compare numerically. */
	assert_int_equal(parse("DIS GROUP WHERE(LEASEEXP LT 0)", &c, err), QSG_OK);
	assert_true(mqsc_where_matches(&c, 4, names, values));
	assert_int_equal(parse("DIS GROUP WHERE(LEASEEXP GT -10)", &c, err), QSG_OK);
	assert_true(mqsc_where_matches(&c, 4, names, values));
	/* An object without the attribute does not match. */
	assert_int_equal(parse("DIS QUEUE(*) WHERE(RNAME EQ X)", &c, err), QSG_OK);
	assert_false(mqsc_where_matches(&c, 4, names, values));
	/* Other objects. */
	assert_int_equal(parse("DIS CHSTATUS(*) WHERE(STATUS NE RUNNING)", &c, err), QSG_OK);
	assert_int_equal(parse("DIS QMSTATUS TYPE(RAFT) WHERE(INSYNC EQ NO)", &c, err), QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_QMSTATUS);
	assert_int_equal(parse("DIS QS(*) WHERE(IPPROCS GT 0)", &c, err), QSG_OK);
	assert_string_equal(c.where.attr, "OPENS");
	/* No WHERE: everything matches. */
	assert_int_equal(parse("DIS QL(*)", &c, err), QSG_OK);
	assert_true(mqsc_where_matches(&c, 0, names, values));

	static const struct bad_case bad[] = {
	    {"DIS QL(*) WHERE", QSG_RC_MQSC_SYNTAX, "WHERE needs"},
	    {"DIS QL(*) WHERE(MAXDEPTH)", QSG_RC_MQSC_SYNTAX, "operator"},
	    {"DIS QL(*) WHERE(MAXDEPTH XX 5)", QSG_RC_MQSC_SYNTAX, "operator"},
	    {"DIS QL(*) WHERE(MAXDEPTH GT)", QSG_RC_MQSC_SYNTAX, "expected a value"},
	    {"DIS QL(*) WHERE(MAXDEPTH GT 5", QSG_RC_MQSC_SYNTAX, "missing ')'"},
	    {"DIS QL(*) WHERE(MAXDEPTH GT 5 6)", QSG_RC_MQSC_SYNTAX, "expected ')'"},
	    {"DIS QL(*) WHERE('X' GT 5)", QSG_RC_MQSC_SYNTAX, "attribute name"},
	    {"DIS QL(*) WHERE(COLOUR EQ RED)", QSG_RC_BAD_ATTR, "not an attribute of QLOCAL"},
	    {"DIS QL(*) WHERE(RNAME EQ RED)", QSG_RC_BAD_ATTR, "not an attribute"},
	    {"DIS QL(*) WHERE(MAXDEPTH GT 1) WHERE(MAXDEPTH LT 9)", QSG_RC_MQSC_SYNTAX,
	     "more than once"},
	    {"DEFINE QLOCAL(A) WHERE(MAXDEPTH GT 1)", QSG_RC_BAD_ATTR, "only allowed on DISPLAY"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i].text, &c, err);
		if (rc != bad[i].rc || strstr(err, bad[i].in_msg) == NULL)
			print_error("case \"%s\": rc %d, message \"%s\"\n", bad[i].text, rc, err);
		assert_int_equal(rc, bad[i].rc);
		assert_non_null(strstr(err, bad[i].in_msg));
	}
}

/* ADD/REMOVE MEMBER, TRANSFER LEADER, STOP QMGR, QALIAS, QSGDISP, CMDSCOPE,
 * DISPLAY QMSTATUS. */
static void parse_lifecycle_alias_scope(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];

	assert_int_equal(parse("ADD MEMBER(qm4) RAFTID(4) RAFTADDR('127.0.0.1:9004') "
			       "CONNAME('[::1]:1418')",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.verb, MQSC_ADD);
	assert_int_equal(c.obj, MQSC_OBJ_MEMBER);
	assert_string_equal(c.name, "QM4");
	assert_int_equal(c.raftid, 4);
	assert_string_equal(c.raftaddr, "127.0.0.1:9004");
	assert_string_equal(c.conname, "[::1]:1418");
	assert_int_equal(parse("REMOVE MEMBER(QM3)", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_REMOVE);
	assert_string_equal(c.name, "QM3");
	assert_int_equal(c.raftid, 0);
	assert_int_equal(parse("REMOVE MEMBER(QM3) RAFTID(3)", &c, err), QSG_OK);
	assert_int_equal(c.raftid, 3);
	assert_false(c.force);
	assert_int_equal(parse("REMOVE MEMBER(QM3) FORCE", &c, err), QSG_OK);
	assert_true(c.force);
	assert_int_equal(parse("TRANSFER LEADER", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_TRANSFER);
	assert_int_equal(c.obj, MQSC_OBJ_LEADER);
	assert_string_equal(c.to, "");
	assert_int_equal(parse("transfer leader to(qm2)", &c, err), QSG_OK);
	assert_string_equal(c.to, "QM2");
	assert_int_equal(parse("STOP QMGR", &c, err), QSG_OK);
	assert_int_equal(c.verb, MQSC_STOP);
	assert_int_equal(c.obj, MQSC_OBJ_QMGR);
	assert_false(c.force);
	assert_int_equal(parse("STOP QMGR FORCE", &c, err), QSG_OK);
	assert_true(c.force);

	assert_int_equal(parse("DEFINE QALIAS(AL) TARGET(APP.IN) DESCR('alias') GET(DISABLED) "
			       "TARGTYPE(QUEUE) QSGDISP(GROUP) REPLACE",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_QALIAS);
	assert_string_equal(c.target, "APP.IN");
	assert_string_equal(c.qattrs.descr, "alias");
	assert_int_equal(c.qattrs.get_inhibited, 1);
	assert_int_equal(c.flags, FSM_F_REPLACE);
	assert_int_equal(parse("DEF QA(AL2) LIKE(AL)", &c, err), QSG_OK);
	assert_int_equal(parse("ALTER QALIAS(AL) TARGET(OTHER)", &c, err), QSG_OK);
	assert_int_equal(parse("DELETE QALIAS(AL)", &c, err), QSG_OK);
	assert_int_equal(parse("DISPLAY QALIAS(A*) TARGET", &c, err), QSG_OK);
	assert_true(c.generic);
	assert_true(mqsc_display_wants(&c, "TARGET"));
	assert_int_equal(parse("DISPLAY QUEUE(*) TYPE(QALIAS)", &c, err), QSG_OK);
	assert_true(c.alias_filter);

	/* QSGDISP in DISPLAY: a mask of dispositions; not given = 0 (LIVE). */
	assert_int_equal(parse("DISPLAY QLOCAL(*) QSGDISP(QMGR)", &c, err), QSG_OK);
	assert_int_equal(c.disp_mask, 1u << FSM_DISP_QMGR);
	assert_int_equal(parse("DISPLAY CHANNEL(*) QSGDISP(COPY)", &c, err), QSG_OK);
	assert_int_equal(c.disp_mask, 1u << FSM_DISP_COPY);
	assert_int_equal(parse("DISPLAY QUEUE(*) QSGDISP(LIVE)", &c, err), QSG_OK);
	assert_int_equal(c.disp_mask, MQSC_DISP_LIVE);
	assert_int_equal(parse("DISPLAY QUEUE(*) QSGDISP(ALL)", &c, err), QSG_OK);
	assert_int_equal(c.disp_mask, MQSC_DISP_ALL);
	assert_int_equal(parse("DISPLAY QUEUE(*)", &c, err), QSG_OK);
	assert_int_equal(c.disp_mask, 0);
	/* In changes: the disposition, or 0 when not given. */
	assert_int_equal(parse("DEFINE QLOCAL(P) QSGDISP(QMGR)", &c, err), QSG_OK);
	assert_int_equal(c.qsgdisp, FSM_DISP_QMGR);
	assert_int_equal(parse("ALTER QREMOTE(P) QSGDISP(COPY) DESCR('x')", &c, err), QSG_OK);
	assert_int_equal(c.qsgdisp, FSM_DISP_COPY);
	assert_int_equal(parse("DEFINE QLOCAL(P) QSGDISP(GROUP)", &c, err), QSG_OK);
	assert_int_equal(c.qsgdisp, FSM_DISP_GROUP);
	assert_int_equal(parse("DELETE QLOCAL(P)", &c, err), QSG_OK);
	assert_int_equal(c.qsgdisp, 0);

	assert_int_equal(parse("DISPLAY QLOCAL(*) CMDSCOPE(*)", &c, err), QSG_OK);
	assert_true(c.has_cmdscope);
	assert_string_equal(c.cmdscope, "*");
	assert_int_equal(parse("DEFINE QLOCAL(A) CMDSCOPE(' ')", &c, err), QSG_OK);
	assert_true(c.has_cmdscope);
	assert_string_equal(c.cmdscope, "");
	assert_int_equal(parse("PING QMGR", &c, err), QSG_OK);
	assert_false(c.has_cmdscope);
	assert_int_equal(parse("DISPLAY QMGR CMDSCOPE(qm2)", &c, err), QSG_OK);
	assert_string_equal(c.cmdscope, "QM2");

	assert_int_equal(parse("DISPLAY QMSTATUS TYPE(RAFT) LAG INSYNC", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "QMNAME"));
	assert_true(mqsc_display_wants(&c, "LAG"));
	assert_false(mqsc_display_wants(&c, "TERM"));
	assert_int_equal(parse("DISPLAY QMSTATUS", &c, err), QSG_OK);
	assert_true(mqsc_display_wants(&c, "VOTER"));

	static const struct bad_case bad[] = {
	    {"ADD MEMBER(QM4)", QSG_RC_MQSC_SYNTAX, "needs RAFTID"},
	    {"ADD MEMBER(QM4) RAFTID(4) RAFTADDR('h:1')", QSG_RC_MQSC_SYNTAX, "CONNAME"},
	    {"ADD MEMBER(QM4) RAFTID(0) RAFTADDR('h:1') CONNAME('h:2')", QSG_RC_BAD_ATTR, "RAFTID"},
	    {"ADD MEMBER(QM4) RAFTID(4) RAFTADDR('nohost') CONNAME('h:2')", QSG_RC_BAD_ATTR,
	     "must be host:port"},
	    {"ADD MEMBER(QM4) RAFTID(4) RAFTADDR('h:99999') CONNAME('h:2')", QSG_RC_BAD_ATTR,
	     "RAFTADDR"},
	    {"ADD MEMBER(QM4) RAFTID(4) RAFTADDR('h:1') CONNAME('h:2') FORCE", QSG_RC_BAD_ATTR,
	     "unknown attribute FORCE"},
	    {"ADD MEMBER", QSG_RC_MQSC_SYNTAX, "needs an object name"},
	    {"ADD QLOCAL(A)", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"REMOVE MEMBER(QM3) TO(QM2)", QSG_RC_BAD_ATTR, "unknown attribute TO"},
	    {"TRANSFER LEADER TO", QSG_RC_MQSC_SYNTAX, "needs a value"},
	    {"TRANSFER LEADER(QM1)", QSG_RC_MQSC_SYNTAX, "takes no name"},
	    {"TRANSFER MEMBER(QM1)", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"STOP QMGR FORCE(YES)", QSG_RC_MQSC_SYNTAX, "no value"},
	    {"STOP QMGR NOW", QSG_RC_BAD_ATTR, "unknown attribute NOW"},
	    {"START QMGR", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"DISPLAY MEMBER(QM1)", QSG_RC_MQSC_SYNTAX, "not supported"},
	    {"DEFINE QALIAS(AL)", QSG_RC_MQSC_SYNTAX, "needs TARGET"},
	    {"DEFINE QALIAS(AL) TARGET(X) TARGTYPE(TOPIC)", QSG_RC_BAD_ATTR, "TARGTYPE(QUEUE)"},
	    {"DEFINE QALIAS(AL) TARGET(X) MAXDEPTH(5)", QSG_RC_BAD_ATTR, "unknown attribute"},
	    {"DEFINE QALIAS(AL) TARGET(X) QSGDISP(SHARED)", QSG_RC_BAD_ATTR, "local queues only"},
	    {"DEFINE QALIAS(AL) TARGET('a b')", QSG_RC_BAD_ATTR, "not allowed"},
	    {"DELETE QLOCAL(A) QSGDISP(ANY)", QSG_RC_BAD_ATTR, "SHARED, GROUP, QMGR or COPY"},
	    {"CLEAR QLOCAL(A) QSGDISP(GROUP)", QSG_RC_BAD_ATTR, "holds no messages"},
	    {"DEFINE QLOCAL(A) CMDSCOPE", QSG_RC_MQSC_SYNTAX, "needs a value"},
	    {"DEFINE QLOCAL(A) CMDSCOPE(A-B)", QSG_RC_BAD_ATTR, "not allowed"},
	    {"DISPLAY QMSTATUS TYPE(LOG)", QSG_RC_BAD_ATTR, "TYPE(RAFT)"},
	    {"DISPLAY QMSTATUS(QM1)", QSG_RC_MQSC_SYNTAX, "takes no name"},
	    {"DISPLAY QLOCAL(*) TYPE(QALIAS)", QSG_RC_BAD_ATTR, "not supported"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i].text, &c, err);
		if (rc != bad[i].rc || strstr(err, bad[i].in_msg) == NULL)
			print_error("case \"%s\": rc %d, message \"%s\"\n", bad[i].text, rc, err);
		assert_int_equal(rc, bad[i].rc);
		assert_non_null(strstr(err, bad[i].in_msg));
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
	/* Channel initiator fakes. */
	int chinit_running;
	int chinit_rc; /* what chinit_start/stop return */
	unsigned chinit_starts, chinit_stops;
	uint32_t pick; /* pick_owner's answer */
	unsigned picks;
	/* Commands applied just before the next CHST_CAS submissions (racing
	 * members): race[race_next++] while race_next < nrace. */
	struct fsm_cmd race[2];
	int nrace, race_next;
	/* Raft configuration and lifecycle fakes. */
	struct admin_raft_server servers[8];
	size_t nservers;
	struct admin_lifecycle lc; /* last request */
	unsigned lcs;
	int lc_rc; /* lifecycle's return */
	int lc_done_rc; /* rc given to done */
	const char *lc_text;
	bool lc_defer; /* keep done for later */
	void (*lc_done)(void *, int, const char *);
	void *lc_cbarg;
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
	if (h->race_next < h->nrace && cmd->op == FSM_OP_CHST_CAS) {
		struct fsm_result rres;
		assert_int_equal(apply(h, &h->race[h->race_next++], &rres), QSG_OK);
	}
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

static int fake_chinit_start(void *arg, char *errmsg)
{
	struct harness *h = arg;
	h->chinit_starts++;
	if (h->chinit_rc != QSG_OK)
		return qsg_errf(errmsg, h->chinit_rc, "listener port in use");
	h->chinit_running = 1;
	return QSG_OK;
}

static int fake_chinit_stop(void *arg, char *errmsg)
{
	struct harness *h = arg;
	h->chinit_stops++;
	if (h->chinit_rc != QSG_OK)
		return qsg_errf(errmsg, h->chinit_rc, "cannot stop now");
	h->chinit_running = 0;
	return QSG_OK;
}

static int fake_chinit_running(void *arg)
{
	struct harness *h = arg;
	return h->chinit_running;
}

static uint32_t fake_pick_owner(void *arg, uint32_t exclude)
{
	struct harness *h = arg;
	assert_int_equal(exclude, 0);
	h->picks++;
	return h->pick;
}

static size_t fake_raft_config(void *arg, struct admin_raft_server *out, size_t max)
{
	struct harness *h = arg;
	for (size_t i = 0; i < h->nservers && i < max; i++)
		out[i] = h->servers[i];
	return h->nservers;
}

static int fake_lifecycle(void *arg, const struct admin_lifecycle *req,
			  void (*done)(void *cbarg, int rc, const char *text), void *cbarg)
{
	struct harness *h = arg;
	h->lc = *req;
	h->lcs++;
	if (h->lc_rc != QSG_OK)
		return h->lc_rc;
	if (h->lc_defer) {
		h->lc_done = done;
		h->lc_cbarg = cbarg;
		return QSG_OK;
	}
	done(cbarg, h->lc_done_rc, h->lc_text);
	return QSG_OK;
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
	h->env.chinit_start = fake_chinit_start;
	h->env.chinit_stop = fake_chinit_stop;
	h->env.chinit_running = fake_chinit_running;
	h->env.pick_owner = fake_pick_owner;
	h->env.raft_config = fake_raft_config;
	h->env.lifecycle = fake_lifecycle;
	h->ri.role = 3;
	h->ri.term = 5;
	h->ri.commit_index = 42;
	h->ri.applied_index = 41;
	h->ri.last_index = 42;
	h->ri.leader_id = 1;
	*state = h;
	return 0;
}

/* This member (1) joins: it gets a COPY of every GROUP object. */
static void join_self(struct harness *h)
{
	struct fsm_cmd c;
	struct fsm_result res;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_JOIN;
	c.member_id = 1;
	snprintf(c.name, sizeof c.name, "QM1");
	assert_int_equal(apply(h, &c, &res), QSG_OK);
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
	assert_int_equal(h->objs[0].nattrs, 21);
	assert_string_equal(val(h, 0, "USAGE"), "NORMAL");
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

/* The trigger attributes through admin_exec and the state machine: define,
 * display, alter, LIKE, WHERE. */
static void admin_trigger_attrs(void **state)
{
	struct harness *h = *state;

	assert_int_equal(run(h, "DEFINE QLOCAL(XQ) USAGE(XMITQ)"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QLOCAL(XQ) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "TRIGGER"), "NO");
	assert_string_equal(val(h, 0, "TRIGTYPE"), "FIRST");
	assert_string_equal(val(h, 0, "TRIGDPTH"), "1");
	assert_string_equal(val(h, 0, "TRIGDATA"), "");
	assert_string_equal(val(h, 0, "INITQ"), "");
	/* In MQ's order: after DESCR, before CURDEPTH. */
	size_t n = h->objs[0].nattrs;
	assert_string_equal(h->objs[0].name[n - 6], "TRIGGER");
	assert_string_equal(h->objs[0].name[n - 2], "INITQ");
	assert_string_equal(h->objs[0].name[n - 1], "CURDEPTH");

	assert_int_equal(run(h, "ALTER QLOCAL(XQ) TRIGGER TRIGTYPE(DEPTH) TRIGDPTH(5) "
				"TRIGDATA('TO.R') INITQ(SYSTEM.CHANNEL.INITQ)"),
			 QSG_OK);
	assert_int_equal(run(h, "DISPLAY QLOCAL(XQ) TRIGGER TRIGTYPE TRIGDPTH TRIGDATA INITQ"),
			 QSG_OK);
	assert_int_equal(h->objs[0].nattrs, 8);
	assert_string_equal(val(h, 0, "TRIGGER"), "YES");
	assert_string_equal(val(h, 0, "TRIGTYPE"), "DEPTH");
	assert_string_equal(val(h, 0, "TRIGDPTH"), "5");
	assert_string_equal(val(h, 0, "TRIGDATA"), "TO.R");
	assert_string_equal(val(h, 0, "INITQ"), "SYSTEM.CHANNEL.INITQ");
	assert_null(val(h, 0, "MAXDEPTH"));

	/* An ALTER of another attribute keeps them; NOTRIGGER changes only
	 * TRIGGER. */
	assert_int_equal(run(h, "ALTER QLOCAL(XQ) MAXDEPTH(77)"), QSG_OK);
	assert_int_equal(run(h, "ALTER QLOCAL(XQ) NOTRIGGER"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QLOCAL(XQ) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "TRIGGER"), "NO");
	assert_string_equal(val(h, 0, "TRIGTYPE"), "DEPTH");
	assert_string_equal(val(h, 0, "TRIGDPTH"), "5");
	assert_string_equal(val(h, 0, "MAXDEPTH"), "77");

	/* LIKE copies them; WHERE filters on them. */
	assert_int_equal(run(h, "ALTER QLOCAL(XQ) TRIGGER"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QLOCAL(XQ2) LIKE(XQ) TRIGDPTH(9)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QLOCAL(PLAIN)"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QLOCAL(*) WHERE(TRIGGER EQ YES)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_string_equal(val(h, 0, "QUEUE"), "XQ");
	assert_string_equal(val(h, 1, "QUEUE"), "XQ2");
	assert_string_equal(val(h, 1, "TRIGGER"), "YES");
	assert_int_equal(run(h, "DISPLAY QLOCAL(XQ2) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "TRIGTYPE"), "DEPTH");
	assert_string_equal(val(h, 0, "TRIGDPTH"), "9");
	assert_string_equal(val(h, 0, "TRIGDATA"), "TO.R");
	/* Remote queues have none. */
	assert_int_equal(run(h, "DEFINE QREMOTE(RQ) RNAME(A) RQMNAME(B) TRIGGER"), QSG_RC_BAD_ATTR);
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
	assert_int_equal(run(h, "DEFINE QLOCAL(QA) QSGDISP(LIVE)"), QSG_RC_BAD_ATTR);
	assert_non_null(strstr(h->text, "QSG0002E"));
	assert_non_null(strstr(h->text, "SHARED, GROUP, QMGR or COPY"));
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

/* ------------------------------------------------------------------------
 * Channels
 * ------------------------------------------------------------------------ */

static void join(struct harness *h, uint32_t id, const char *name)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_JOIN;
	c.member_id = id;
	snprintf(c.name, sizeof c.name, "%s", name);
	snprintf(c.raft_addr, sizeof c.raft_addr, "127.0.0.1:%u", 9000 + (unsigned)id);
	snprintf(c.client_addr, sizeof c.client_addr, "127.0.0.1:%u", 1414 + (unsigned)id);
	assert_int_equal(apply(h, &c, NULL), QSG_OK);
}

static struct fsm_chimage img(uint8_t exists, uint32_t owner, uint8_t state, uint64_t epoch)
{
	struct fsm_chimage i = {.exists = exists, .owner = owner, .state = state, .epoch = epoch};
	return i;
}

static void cas_cmd(struct fsm_cmd *c, const char *name, struct fsm_chimage before,
		    struct fsm_chimage after)
{
	memset(c, 0, sizeof *c);
	c->op = FSM_OP_CHST_CAS;
	snprintf(c->ch.name, sizeof c->ch.name, "%s", name);
	c->ch.chltype = FSM_CHL_SDR;
	c->ch.before = before;
	c->ch.after = after;
	snprintf(c->ch.reason, sizeof c->ch.reason, "test");
}

static int cas(struct harness *h, const char *name, struct fsm_chimage before,
	       struct fsm_chimage after)
{
	struct fsm_cmd c;
	cas_cmd(&c, name, before, after);
	return apply(h, &c, NULL);
}

struct capture {
	int calls;
	int status;
	int rc;
	uint32_t count;
};

static void capture_getbatch(void *cbarg, int status, const void *result, size_t len)
{
	struct capture *cap = cbarg;
	struct fsm_result res;
	char err[QSG_ERRMSG_SIZE];

	cap->calls++;
	cap->status = status;
	assert_int_equal(status, QSG_OK);
	memset(&res, 0, sizeof res);
	assert_int_equal(fsm_result_decode(FSM_OP_CH_GETBATCH, result, len, &res, err), QSG_OK);
	cap->rc = res.rc;
	cap->count = res.ch.count;
}

/* Lock up to max messages of the channel's xmitq through the fake submit. */
static uint32_t getbatch(struct harness *h, const char *name, uint32_t member, uint64_t epoch,
			 uint32_t max)
{
	struct fsm_cmd c;
	struct capture cap = {0};
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CH_GETBATCH;
	snprintf(c.ch.name, sizeof c.ch.name, "%s", name);
	c.ch.member_id = member;
	c.ch.epoch = epoch;
	c.ch.max_msgs = max;
	assert_int_equal(h->env.submit(h->env.arg, &c, capture_getbatch, &cap), QSG_OK);
	assert_int_equal(cap.calls, 1);
	assert_int_equal(cap.rc, QSG_OK);
	return cap.count;
}

static void admin_remote_queues(void **state)
{
	struct harness *h = *state;
	join_self(h);

	assert_int_equal(run(h, "DEFINE QLOCAL(QM2) USAGE(XMITQ)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QREMOTE(RQ) RNAME(APP.IN) RQMNAME(QM2) DESCR('to qm2')"),
			 QSG_OK);
	assert_string_equal(h->text, "QSG0008I: QREMOTE(RQ) defined.");

	assert_int_equal(run(h, "DISPLAY QREMOTE(RQ)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(h->objs[0].nattrs, 3);
	assert_string_equal(val(h, 0, "QUEUE"), "RQ");
	assert_string_equal(val(h, 0, "TYPE"), "QREMOTE");
	/* By default (LIVE) a member shows its COPY of a group object. */
	assert_string_equal(val(h, 0, "QSGDISP"), "COPY");
	assert_int_equal(run(h, "DISPLAY QREMOTE(RQ) QSGDISP(GROUP)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "QSGDISP"), "GROUP");
	assert_int_equal(run(h, "DISPLAY QREMOTE(RQ) QSGDISP(ALL)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_int_equal(run(h, "DISPLAY QREMOTE(RQ) ALL"), QSG_OK);
	assert_int_equal(h->objs[0].nattrs, 7);
	assert_string_equal(val(h, 0, "RNAME"), "APP.IN");
	assert_string_equal(val(h, 0, "RQMNAME"), "QM2");
	assert_string_equal(val(h, 0, "XMITQ"), "");
	assert_string_equal(val(h, 0, "DESCR"), "to qm2");

	/* DISPLAY QUEUE lists every type; filters by TYPE and QSGDISP. */
	assert_int_equal(run(h, "DISPLAY QUEUE(*)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_string_equal(val(h, 0, "QUEUE"), "QM2");
	assert_string_equal(val(h, 0, "TYPE"), "QLOCAL");
	assert_string_equal(val(h, 0, "QSGDISP"), "SHARED");
	assert_string_equal(val(h, 1, "QUEUE"), "RQ");
	assert_string_equal(val(h, 1, "TYPE"), "QREMOTE");
	assert_string_equal(val(h, 1, "QSGDISP"), "COPY");
	assert_int_equal(run(h, "DISPLAY QUEUE(*) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "USAGE"), "XMITQ");
	assert_null(val(h, 0, "RNAME"));
	assert_string_equal(val(h, 1, "RNAME"), "APP.IN");
	assert_null(val(h, 1, "MAXDEPTH"));
	assert_int_equal(run(h, "DISPLAY QUEUE(*) TYPE(QREMOTE)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "QUEUE"), "RQ");
	assert_int_equal(run(h, "DISPLAY QUEUE(*) QSGDISP(SHARED)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "QUEUE"), "QM2");
	assert_int_equal(run(h, "DISPLAY QUEUE(*) TYPE(QLOCAL) QSGDISP(GROUP)"), QSG_OK);
	assert_int_equal(h->nobjs, 0);
	assert_int_equal(run(h, "DISPLAY QLOCAL(*)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(run(h, "DISPLAY QREMOTE(*)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(run(h, "DISPLAY QLOCAL(RQ)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DISPLAY QREMOTE(QM2)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DISPLAY QSTATUS(*)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(run(h, "DISPLAY QLOCAL(QM2) USAGE"), QSG_OK);
	assert_string_equal(val(h, 0, "USAGE"), "XMITQ");

	/* Group objects only. */
	unsigned before = h->submits;
	assert_int_equal(run(h, "DEFINE QREMOTE(RQ9) RQMNAME(QM3) QSGDISP(SHARED)"),
			 QSG_RC_BAD_ATTR);
	assert_non_null(strstr(h->text, "QSG0002E"));
	assert_non_null(strstr(h->text, "local queues only"));
	assert_int_equal(h->submits, before);

	/* ALTER changes only what it names. */
	assert_int_equal(run(h, "ALTER QREMOTE(RQ) XMITQ(QM2)"), QSG_OK);
	assert_string_equal(h->text, "QSG0009I: QREMOTE(RQ) altered.");
	assert_int_equal(run(h, "DISPLAY QREMOTE(RQ) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "XMITQ"), "QM2");
	assert_string_equal(val(h, 0, "RNAME"), "APP.IN");

	/* The object type is part of the name. */
	before = h->submits;
	assert_int_equal(run(h, "ALTER QLOCAL(RQ) MAXDEPTH(5)"), QSG_RC_UNKNOWN_OBJECT);
	assert_non_null(strstr(h->text, "QSG0003E"));
	assert_non_null(strstr(h->text, "is a QREMOTE"));
	assert_int_equal(run(h, "DELETE QLOCAL(RQ)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DELETE QREMOTE(QM2)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "CLEAR QLOCAL(RQ)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(h->submits, before);
	assert_int_equal(run(h, "DEFINE QLOCAL(RQ) REPLACE"), QSG_RC_OBJECT_EXISTS);

	/* LIKE takes a queue of the same type. */
	assert_int_equal(run(h, "DEFINE QREMOTE(RQ2) LIKE(RQ) RNAME(APP.OUT)"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QREMOTE(RQ2) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "RNAME"), "APP.OUT");
	assert_string_equal(val(h, 0, "RQMNAME"), "QM2");
	assert_string_equal(val(h, 0, "XMITQ"), "QM2");
	assert_string_equal(val(h, 0, "DESCR"), "to qm2");
	assert_int_equal(run(h, "DEFINE QREMOTE(RQ3) LIKE(QM2)"), QSG_RC_UNKNOWN_OBJECT);
	assert_non_null(strstr(h->text, "LIKE"));
	assert_int_equal(run(h, "DEFINE QLOCAL(Q4) LIKE(RQ)"), QSG_RC_UNKNOWN_OBJECT);

	/* A put to the remote queue lands on the transmission queue. */
	uint64_t epoch = attach(h, 9);
	assert_int_equal(put(h, 9, epoch, 1, "RQ", 0), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QSTATUS(QM2) CURDEPTH"), QSG_OK);
	assert_string_equal(val(h, 0, "CURDEPTH"), "1");

	assert_int_equal(run(h, "DELETE QREMOTE(RQ2)"), QSG_OK);
	assert_string_equal(h->text, "QSG0010I: QREMOTE(RQ2) deleted.");
	assert_int_equal(run(h, "DISPLAY QREMOTE(RQ2)"), QSG_RC_UNKNOWN_OBJECT);
}

static void admin_channel_define_display(void **state)
{
	struct harness *h = *state;

	assert_int_equal(run(h, "DEFINE QLOCAL(XQ) USAGE(XMITQ)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE CHANNEL(TO.QM2) CHLTYPE(SDR) CONNAME('127.0.0.1:1414') "
				"XMITQ(XQ) DESCR('out')"),
			 QSG_OK);
	assert_string_equal(h->text, "QSG0008I: CHANNEL(TO.QM2) defined.");
	assert_int_equal(run(h, "DEFINE CHANNEL(FROM.QM2) CHLTYPE(RCVR)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE CHANNEL(TO.QM2) CHLTYPE(SDR) CONNAME('h:1') XMITQ(XQ)"),
			 QSG_RC_OBJECT_EXISTS);
	assert_non_null(strstr(h->text, "QSG0004E"));

	assert_int_equal(run(h, "DISPLAY CHANNEL(*)"), QSG_OK);
	assert_string_equal(h->text, "QSG0016I: Display channel details.");
	assert_int_equal(h->nobjs, 2);
	assert_string_equal(val(h, 0, "CHANNEL"), "FROM.QM2");
	assert_string_equal(val(h, 0, "CHLTYPE"), "RCVR");
	assert_string_equal(val(h, 1, "CHANNEL"), "TO.QM2");
	assert_string_equal(val(h, 1, "CHLTYPE"), "SDR");
	assert_string_equal(val(h, 1, "QSGDISP"), "GROUP");
	assert_int_equal(h->objs[1].nattrs, 3);

	assert_int_equal(run(h, "DISPLAY CHANNEL(TO.QM2) ALL"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(h->objs[0].nattrs, 20);
	assert_string_equal(val(h, 0, "CONNAME"), "127.0.0.1:1414");
	assert_string_equal(val(h, 0, "SSLCIPH"), "");
	assert_string_equal(val(h, 0, "SSLPEER"), "");
	assert_string_equal(val(h, 0, "XMITQ"), "XQ");
	assert_string_equal(val(h, 0, "BATCHSZ"), "50");
	assert_string_equal(val(h, 0, "HBINT"), "300");
	assert_string_equal(val(h, 0, "DISCINT"), "6000");
	assert_string_equal(val(h, 0, "SHORTRTY"), "10");
	assert_string_equal(val(h, 0, "SHORTTMR"), "60");
	assert_string_equal(val(h, 0, "LONGRTY"), "999999999");
	assert_string_equal(val(h, 0, "LONGTMR"), "1200");
	assert_string_equal(val(h, 0, "PIPELINE"), "4");
	assert_string_equal(val(h, 0, "COMPMSG"), "NONE");
	assert_string_equal(val(h, 0, "USEDLQ"), "YES");
	assert_string_equal(val(h, 0, "MAXMSGL"), "4194304");
	assert_string_equal(val(h, 0, "DESCR"), "out");

	assert_int_equal(run(h, "DISPLAY CHANNEL(*) CHLTYPE(RCVR)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "CHANNEL"), "FROM.QM2");
	assert_int_equal(run(h, "DISPLAY CHANNEL(TO*) BATCHSZ"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(h->objs[0].nattrs, 4);
	assert_int_equal(run(h, "DISPLAY CHANNEL(NOPE)"), QSG_RC_CHANNEL_NOT_FOUND);
	assert_non_null(strstr(h->text, "QSG0003E"));
	assert_int_equal(run(h, "DISPLAY CHANNEL(X*)"), QSG_OK);
	assert_int_equal(h->nobjs, 0);
	assert_non_null(strstr(h->text, "QSG0017I"));

	assert_int_equal(run(h, "ALTER CHANNEL(TO.QM2) BATCHSZ(10) COMPMSG(LZ4)"), QSG_OK);
	assert_string_equal(h->text, "QSG0009I: CHANNEL(TO.QM2) altered.");
	assert_int_equal(run(h, "DISPLAY CHANNEL(TO.QM2) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "BATCHSZ"), "10");
	assert_string_equal(val(h, 0, "COMPMSG"), "LZ4");
	assert_string_equal(val(h, 0, "CONNAME"), "127.0.0.1:1414");
	unsigned before = h->submits;
	assert_int_equal(run(h, "ALTER CHANNEL(TO.QM2) CHLTYPE(RCVR)"), QSG_RC_BAD_ATTR);
	assert_non_null(strstr(h->text, "cannot be changed"));
	assert_int_equal(h->submits, before);
	assert_int_equal(run(h, "ALTER CHANNEL(TO.QM2) CHLTYPE(SDR) DESCR('x')"), QSG_OK);
	assert_int_equal(run(h, "ALTER CHANNEL(NOPE) BATCHSZ(3)"), QSG_RC_CHANNEL_NOT_FOUND);
	assert_non_null(strstr(h->text, "QSG0003E"));

	/* TLS on channels: a CipherSpec qsg has (stored by its name), SSLPEER
	 * as given; an unknown CipherSpec is refused before it is submitted. */
	assert_int_equal(run(h, "ALTER CHANNEL(TO.QM2) SSLCIPH(any_tls13) "
				"SSLPEER('CN=QM2, O=qsg test')"),
			 QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHANNEL(TO.QM2) SSLCIPH SSLPEER"), QSG_OK);
	assert_string_equal(val(h, 0, "SSLCIPH"), "ANY_TLS13");
	assert_string_equal(val(h, 0, "SSLPEER"), "CN=QM2, O=qsg test");
	before = h->submits;
	assert_int_equal(run(h, "ALTER CHANNEL(TO.QM2) SSLCIPH(RC4_MD5_US)"), QSG_RC_BAD_ATTR);
	assert_non_null(strstr(h->text, "not a CipherSpec"));
	assert_int_equal(h->submits, before);
	/* REFRESH SECURITY: TYPE(SSL) only; this harness cannot reload. */
	assert_int_equal(run(h, "REFRESH SECURITY"), QSG_RC_MQSC_SYNTAX);
	assert_non_null(strstr(h->text, "TYPE(SSL)"));
	assert_int_equal(run(h, "REFRESH SECURITY TYPE(AUTHSERV)"), QSG_RC_MQSC_SYNTAX);
	assert_int_equal(run(h, "REFRESH SECURITY TYPE(SSL)"), QSG_RC_FUNCTION_NOT_SUPPORTED);
	assert_non_null(strstr(h->text, "QSG0045E"));
	assert_int_equal(run(h, "ALTER CHANNEL(TO.QM2) SSLCIPH(' ') SSLPEER(' ')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHANNEL(TO.QM2) SSLCIPH"), QSG_OK);
	assert_string_equal(val(h, 0, "SSLCIPH"), "");

	assert_int_equal(run(h, "DEFINE CHANNEL(TO.QM3) LIKE(TO.QM2) CONNAME('h3(1416)')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHANNEL(TO.QM3) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "CHLTYPE"), "SDR");
	assert_string_equal(val(h, 0, "BATCHSZ"), "10");
	assert_string_equal(val(h, 0, "CONNAME"), "h3:1416");
	assert_string_equal(val(h, 0, "XMITQ"), "XQ");
	assert_string_equal(val(h, 0, "DESCR"), "x");
	before = h->submits;
	assert_int_equal(run(h, "DEFINE CHANNEL(X) LIKE(NOPE)"), QSG_RC_CHANNEL_NOT_FOUND);
	assert_non_null(strstr(h->text, "LIKE"));
	assert_int_equal(h->submits, before);
	/* The state machine checks what the parser cannot: SDR needs CONNAME
	 * and XMITQ. */
	assert_true(run(h, "DEFINE CHANNEL(BAD) CHLTYPE(SDR)") != QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHANNEL(BAD)"), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(run(h, "DEFINE CHANNEL(C) CHLTYPE(SDR) QSGDISP(COPY)"), QSG_RC_BAD_ATTR);
	assert_non_null(strstr(h->text, "shared channels"));

	assert_int_equal(run(h, "DELETE CHANNEL(TO.QM3)"), QSG_OK);
	assert_string_equal(h->text, "QSG0010I: CHANNEL(TO.QM3) deleted.");
	assert_int_equal(run(h, "DELETE CHANNEL(TO.QM3)"), QSG_RC_CHANNEL_NOT_FOUND);
	assert_non_null(strstr(h->text, "QSG0003E"));
}

/* Members QM1 (this one) and QM2, an xmitq and channels S1 (SDR), R1
 * (RCVR). */
static void channel_setup(struct harness *h)
{
	join(h, 1, "QM1");
	join(h, 2, "QM2");
	assert_int_equal(run(h, "DEFINE QLOCAL(XQ) USAGE(XMITQ)"), QSG_OK);
	assert_int_equal(
	    run(h, "DEFINE CHANNEL(S1) CHLTYPE(SDR) CONNAME('127.0.0.1:1500') XMITQ(XQ)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE CHANNEL(R1) CHLTYPE(RCVR)"), QSG_OK);
}

static void admin_start_stop_channel(void **state)
{
	struct harness *h = *state;
	channel_setup(h);

	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1)"), QSG_RC_CHANNEL_NOT_FOUND);
	assert_non_null(strstr(h->text, "QSG0019E"));
	assert_non_null(strstr(h->text, "no status for channel S1"));
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S*)"), QSG_OK);
	assert_int_equal(h->nobjs, 0);
	assert_non_null(strstr(h->text, "QSG0017I"));

	/* No channel initiator anywhere. */
	unsigned before = h->submits;
	assert_int_equal(run(h, "START CHANNEL(S1) CHLDISP(FIXSHARED)"), QSG_RC_CHINIT_NOT_RUNNING);
	assert_non_null(strstr(h->text, "QSG0024E"));
	assert_int_equal(h->picks, 0);
	h->pick = 0;
	assert_int_equal(run(h, "START CHANNEL(S1)"), QSG_RC_CHINIT_NOT_RUNNING);
	assert_non_null(strstr(h->text, "no channel initiator is running in the group"));
	assert_int_equal(h->picks, 1);
	assert_int_equal(h->submits, before);

	h->chinit_running = 1;
	assert_int_equal(run(h, "START CHANNEL(S1) CHLDISP(FIXSHARED)"), QSG_OK);
	assert_string_equal(h->text, "QSG0020I: Channel S1 is starting on QM1 (epoch 1).");
	assert_int_equal(h->picks, 1);
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1)"), QSG_OK);
	assert_string_equal(h->text, "QSG0018I: Display channel status details.");
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(h->objs[0].nattrs, 8);
	assert_string_equal(val(h, 0, "CHANNEL"), "S1");
	assert_string_equal(val(h, 0, "CHLTYPE"), "SDR");
	assert_string_equal(val(h, 0, "RQMNAME"), "");
	assert_string_equal(val(h, 0, "XMITQ"), "XQ");
	assert_string_equal(val(h, 0, "STATUS"), "STARTING");
	assert_string_equal(val(h, 0, "OWNER"), "QM1");
	assert_string_equal(val(h, 0, "EPOCH"), "1");
	assert_non_null(val(h, 0, "CONNAME"));
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1) ALL"), QSG_OK);
	assert_int_equal(h->objs[0].nattrs, 24); /* with BLKCOUNT, BLKLIST */
	assert_string_equal(val(h, 0, "REASON"), "START CHANNEL by QM1");
	/* group-wide retry: none used yet, SHORTRTY/LONGRTY left */
	assert_string_equal(val(h, 0, "RETRIES"), "0");
	assert_string_equal(val(h, 0, "SHORTRTS"), "10");
	assert_string_equal(val(h, 0, "LONGRTS"), "999999999");
	assert_string_equal(val(h, 0, "NXTRETRY"), "");
	assert_string_equal(val(h, 0, "MSGS"), "0");
	assert_string_equal(val(h, 0, "BATCHES"), "0");
	assert_string_equal(val(h, 0, "CURSEQNO"), "0");
	assert_string_equal(val(h, 0, "LSTSEQNO"), "0");
	assert_string_equal(val(h, 0, "INDOUBT"), "NO");
	assert_string_equal(val(h, 0, "INDOUBTMSGS"), "0");
	assert_string_equal(val(h, 0, "LSTMSGTI"), "");
	assert_string_equal(val(h, 0, "CHSTATI"), "0");
	assert_string_equal(val(h, 0, "PREVOWNER"), "");

	/* Twice: refused with the owner and epoch. */
	before = h->submits;
	assert_int_equal(run(h, "START CHANNEL(S1)"), QSG_RC_CHANNEL_ACTIVE);
	assert_string_equal(h->text, "QSG0021E: Channel S1 is already active on QM1 (epoch 1).");
	assert_int_equal(h->submits, before);
	assert_int_equal(run(h, "START CHANNEL(R1)"), QSG_RC_BAD_ATTR);
	assert_non_null(strstr(h->text, "receiver channels start when their partner connects"));
	assert_int_equal(run(h, "STOP CHANNEL(R1)"), QSG_RC_BAD_ATTR);
	assert_int_equal(run(h, "START CHANNEL(NOPE)"), QSG_RC_CHANNEL_NOT_FOUND);
	assert_non_null(strstr(h->text, "QSG0003E"));
	assert_int_equal(h->submits, before);
	/* An active channel is not deleted. */
	assert_int_equal(run(h, "DELETE CHANNEL(S1)"), QSG_RC_CHANNEL_ACTIVE);
	assert_non_null(strstr(h->text, "QSG0021E"));

	h->now += 5000;
	assert_int_equal(run(h, "STOP CHANNEL(S1)"), QSG_OK);
	assert_string_equal(h->text, "QSG0022I: Channel S1 stopped (was on QM1, epoch 1).");
	assert_int_equal(run(h, "STOP CHANNEL(S1)"), QSG_RC_CHANNEL_STOPPED);
	assert_non_null(strstr(h->text, "QSG0023E"));
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1) STATUS EPOCH REASON"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "STOPPED");
	assert_string_equal(val(h, 0, "EPOCH"), "1");
	assert_string_equal(val(h, 0, "REASON"), "STOP CHANNEL by QM1");

	/* START again: a new instance (epoch + 1) where pick_owner says. */
	h->pick = 2;
	h->now += 3000;
	assert_int_equal(run(h, "START CHANNEL(S1) CHLDISP(SHARED)"), QSG_OK);
	assert_string_equal(h->text, "QSG0020I: Channel S1 is starting on QM2 (epoch 2).");
	assert_int_equal(h->picks, 2);
	h->now += 4000;
	assert_int_equal(run(h, "ALTER QLOCAL(XQ) DESCR('tick')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S*) ALL"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "OWNER"), "QM2");
	assert_string_equal(val(h, 0, "EPOCH"), "2");
	assert_string_equal(val(h, 0, "PREVOWNER"), "QM1");
	assert_string_equal(val(h, 0, "CHSTATI"), "4");
	assert_int_equal(run(h, "DISPLAY CHSTATUS(*) CHLTYPE(RCVR)"), QSG_OK);
	assert_int_equal(h->nobjs, 0);
	assert_int_equal(run(h, "DISPLAY CHINIT"), QSG_OK);
	assert_string_equal(val(h, 0, "CHANNELS"), "0"); /* S1 runs on QM2 */
	assert_int_equal(run(h, "START CHANNEL(S1)"), QSG_RC_CHANNEL_ACTIVE);
	assert_string_equal(h->text, "QSG0021E: Channel S1 is already active on QM2 (epoch 2).");
}

static void admin_start_stop_race(void **state)
{
	struct harness *h = *state;
	channel_setup(h);
	h->chinit_running = 1;

	/* Another member starts S1 between our read and our CAS: the retry
	 * sees it active. */
	cas_cmd(&h->race[0], "S1", img(0, 0, 0, 0), img(1, 2, FSM_CHS_STARTING, 1));
	h->nrace = 1;
	h->race_next = 0;
	unsigned before = h->submits;
	assert_int_equal(run(h, "START CHANNEL(S1) CHLDISP(FIXSHARED)"), QSG_RC_CHANNEL_ACTIVE);
	assert_string_equal(h->text, "QSG0021E: Channel S1 is already active on QM2 (epoch 1).");
	assert_int_equal(h->submits - before, 1);

	/* The instance moves to RUNNING while we stop it: retried from the
	 * image the group returned, and succeeds. */
	cas_cmd(&h->race[0], "S1", img(1, 2, FSM_CHS_STARTING, 1), img(1, 2, FSM_CHS_RUNNING, 1));
	h->nrace = 1;
	h->race_next = 0;
	before = h->submits;
	assert_int_equal(run(h, "STOP CHANNEL(S1)"), QSG_OK);
	assert_string_equal(h->text, "QSG0022I: Channel S1 stopped (was on QM2, epoch 1).");
	assert_int_equal(h->submits - before, 2);

	/* A START that loses to another START of a new instance. */
	cas_cmd(&h->race[0], "S1", img(1, 2, FSM_CHS_STOPPED, 1), img(1, 2, FSM_CHS_STARTING, 2));
	h->nrace = 1;
	h->race_next = 0;
	assert_int_equal(run(h, "START CHANNEL(S1) CHLDISP(FIXSHARED)"), QSG_RC_CHANNEL_ACTIVE);
	assert_non_null(strstr(h->text, "on QM2 (epoch 2)"));

	/* Losing twice is reported, not retried forever. */
	assert_int_equal(
	    cas(h, "S1", img(1, 2, FSM_CHS_STARTING, 2), img(1, 2, FSM_CHS_RUNNING, 2)), QSG_OK);
	cas_cmd(&h->race[0], "S1", img(1, 2, FSM_CHS_RUNNING, 2), img(1, 2, FSM_CHS_RETRYING, 2));
	cas_cmd(&h->race[1], "S1", img(1, 2, FSM_CHS_RETRYING, 2), img(1, 2, FSM_CHS_RUNNING, 2));
	h->nrace = 2;
	h->race_next = 0;
	before = h->submits;
	assert_int_equal(run(h, "STOP CHANNEL(S1)"), QSG_RC_CAS_FAILED);
	assert_non_null(strstr(h->text, "QSG0031E"));
	assert_non_null(strstr(h->text, "concurrently"));
	assert_int_equal(h->submits - before, 2);
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1)"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "RUNNING");
	h->nrace = 0;
	h->race_next = 0;
}

static void admin_reset_resolve(void **state)
{
	struct harness *h = *state;
	channel_setup(h);
	h->chinit_running = 1;
	assert_int_equal(
	    run(h, "DEFINE CHANNEL(S2) CHLTYPE(SDR) CONNAME('127.0.0.1:1501') XMITQ(XQ2)"), QSG_OK);

	uint64_t epoch = attach(h, 21);
	for (uint64_t i = 1; i <= 5; i++)
		assert_int_equal(put(h, 21, epoch, i, "XQ", 0), QSG_OK);

	assert_int_equal(run(h, "START CHANNEL(S1) CHLDISP(FIXSHARED)"), QSG_OK);
	assert_int_equal(
	    cas(h, "S1", img(1, 1, FSM_CHS_STARTING, 1), img(1, 1, FSM_CHS_RUNNING, 1)), QSG_OK);
	assert_int_equal(getbatch(h, "S1", 1, 1, 3), 3);
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "RUNNING");
	assert_string_equal(val(h, 0, "INDOUBT"), "YES");
	assert_string_equal(val(h, 0, "INDOUBTMSGS"), "3");
	assert_string_equal(val(h, 0, "CURSEQNO"), "3");
	assert_string_equal(val(h, 0, "LSTSEQNO"), "0");
	assert_int_equal(run(h, "DISPLAY CHINIT"), QSG_OK);
	assert_string_equal(val(h, 0, "CHANNELS"), "1");

	/* A running channel is not resolved; in-doubt messages block RESET. */
	unsigned before = h->submits;
	assert_int_equal(run(h, "RESOLVE CHANNEL(S1) ACTION(COMMIT)"), QSG_RC_CHANNEL_ACTIVE);
	assert_non_null(strstr(h->text, "QSG0021E"));
	assert_non_null(strstr(h->text, "RESOLVE"));
	assert_int_equal(h->submits, before);
	assert_int_equal(run(h, "STOP CHANNEL(S1)"), QSG_OK);
	assert_int_equal(run(h, "RESET CHANNEL(S1)"), QSG_RC_CHANNEL_INDOUBT);
	assert_non_null(strstr(h->text, "QSG0004E"));
	assert_non_null(strstr(h->text, "QSG_RC_CHANNEL_INDOUBT"));

	/* BACKOUT: the three return to the xmitq. */
	assert_int_equal(run(h, "RESOLVE CHANNEL(S1) ACTION(BACKOUT)"), QSG_OK);
	assert_string_equal(h->text,
			    "QSG0026I: Channel S1 resolved: 0 messages committed, 3 backed out.");
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "INDOUBT"), "NO");
	assert_string_equal(val(h, 0, "INDOUBTMSGS"), "0");
	assert_string_equal(val(h, 0, "MSGS"), "0");
	assert_string_equal(val(h, 0, "LSTSEQNO"), "0");
	assert_int_equal(run(h, "DISPLAY QSTATUS(XQ)"), QSG_OK);
	assert_string_equal(val(h, 0, "CURDEPTH"), "5");
	assert_string_equal(val(h, 0, "UNCOM"), "0");

	/* A new instance sends two; COMMIT settles them. */
	assert_int_equal(run(h, "START CHANNEL(S1) CHLDISP(FIXSHARED)"), QSG_OK);
	assert_string_equal(h->text, "QSG0020I: Channel S1 is starting on QM1 (epoch 2).");
	assert_int_equal(
	    cas(h, "S1", img(1, 1, FSM_CHS_STARTING, 2), img(1, 1, FSM_CHS_RUNNING, 2)), QSG_OK);
	assert_int_equal(getbatch(h, "S1", 1, 2, 2), 2);
	h->now += 2000;
	assert_int_equal(run(h, "STOP CHANNEL(S1)"), QSG_OK);
	assert_int_equal(run(h, "RESOLVE CHANNEL(S1) ACTION(COMMIT)"), QSG_OK);
	assert_string_equal(h->text,
			    "QSG0026I: Channel S1 resolved: 2 messages committed, 0 backed out.");
	h->now += 3000;
	assert_int_equal(run(h, "ALTER QLOCAL(XQ) DESCR('tick')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "MSGS"), "2");
	assert_string_equal(val(h, 0, "BATCHES"), "1");
	assert_string_equal(val(h, 0, "CURSEQNO"), "2");
	assert_string_equal(val(h, 0, "LSTSEQNO"), "2");
	assert_string_equal(val(h, 0, "INDOUBT"), "NO");
	assert_string_equal(val(h, 0, "LSTMSGTI"), "3");
	assert_int_equal(run(h, "DISPLAY QSTATUS(XQ)"), QSG_OK);
	assert_string_equal(val(h, 0, "CURDEPTH"), "3");
	/* Nothing in doubt: RESOLVE is an idempotent no-op. */
	assert_int_equal(run(h, "RESOLVE CHANNEL(S1) ACTION(BACKOUT)"), QSG_OK);
	assert_non_null(strstr(h->text, "0 messages committed, 0 backed out"));

	assert_int_equal(run(h, "RESET CHANNEL(S1) SEQNUM(10)"), QSG_OK);
	assert_string_equal(h->text, "QSG0025I: Channel S1 reset: the next message is sent with "
				     "sequence number 10.");
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "LSTSEQNO"), "9");
	assert_string_equal(val(h, 0, "CURSEQNO"), "9");

	/* Receivers are not reset or resolved here; a channel without status
	 * has nothing to resolve; RESET creates the status entry. */
	assert_int_equal(run(h, "RESET CHANNEL(R1)"), QSG_RC_BAD_ATTR);
	assert_int_equal(run(h, "RESOLVE CHANNEL(R1) ACTION(COMMIT)"), QSG_RC_BAD_ATTR);
	assert_int_equal(run(h, "RESOLVE CHANNEL(S2) ACTION(COMMIT)"), QSG_RC_CHANNEL_NOT_FOUND);
	assert_non_null(strstr(h->text, "QSG0019E: no status for channel S2"));
	assert_int_equal(run(h, "RESET CHANNEL(S2)"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S2)"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "STOPPED");
	assert_int_equal(run(h, "RESET CHANNEL(NOPE)"), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(run(h, "DISPLAY CHSTATUS(*)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_string_equal(val(h, 0, "CHANNEL"), "S1");
	assert_string_equal(val(h, 1, "CHANNEL"), "S2");
}

static struct admin_chinit_info fake_ci;

static void fake_chinit_info(void *arg, struct admin_chinit_info *out)
{
	(void)arg;
	*out = fake_ci;
}

/* DISPLAY CHINIT tells the truth: the member's own view (a failure of its
 * own with the time to its restart and the reason, fencing) and the
 * replicated member table's view (GROUP), which peer recovery goes by. */
static void admin_chinit_failed(void **state)
{
	struct harness *h = *state;
	struct fsm_cmd c;
	struct fsm_result res;
	join_self(h);
	h->env.chinit_info = fake_chinit_info;
	memset(&fake_ci, 0, sizeof fake_ci);
	fake_ci.status = "RUNNING";
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CHINIT_STATE;
	c.ch.member_id = 1;
	c.ch.chinit = 1;
	assert_int_equal(apply(h, &c, &res), QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHINIT"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "RUNNING");
	assert_string_equal(val(h, 0, "GROUP"), "RUNNING");
	assert_string_equal(val(h, 0, "FAILURES"), "0");
	assert_null(val(h, 0, "RESTART"));
	assert_null(val(h, 0, "REASON"));

	/* Failed on its own; its queue manager published CHINIT_STATE(0). */
	fake_ci.status = "FAILED";
	fake_ci.failures = 1;
	fake_ci.restart_in_ms = 4200;
	snprintf(fake_ci.reason, sizeof fake_ci.reason, "undecodable batch");
	c.ch.chinit = 0;
	assert_int_equal(apply(h, &c, &res), QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHINIT"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "FAILED");
	assert_string_equal(val(h, 0, "GROUP"), "STOPPED");
	assert_string_equal(val(h, 0, "FAILURES"), "1");
	assert_string_equal(val(h, 0, "RESTART"), "5");
	assert_string_equal(val(h, 0, "REASON"), "undecodable batch");

	/* Fenced: no restart time; the last failure is still shown. */
	fake_ci.status = "FENCED";
	fake_ci.restart_in_ms = 0;
	assert_int_equal(run(h, "DISPLAY CHINIT"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "FENCED");
	assert_null(val(h, 0, "RESTART"));
	assert_string_equal(val(h, 0, "REASON"), "undecodable batch");
}

static void admin_chinit_qmgr(void **state)
{
	struct harness *h = *state;

	assert_int_equal(run(h, "DISPLAY CHINIT"), QSG_OK);
	assert_string_equal(h->text, "QSG0030I: Display channel initiator details.");
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "QMNAME"), "QM1");
	assert_string_equal(val(h, 0, "STATUS"), "STOPPED");
	assert_string_equal(val(h, 0, "CHANNELS"), "0");

	assert_int_equal(run(h, "START CHINIT"), QSG_OK);
	assert_string_equal(h->text, "QSG0027I: Channel initiator started on QM1.");
	assert_int_equal(h->chinit_starts, 1);
	assert_int_equal(run(h, "DISPLAY CHINIT STATUS"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "RUNNING");
	assert_int_equal(h->objs[0].nattrs, 2);

	h->chinit_rc = QSG_RC_IO;
	assert_int_equal(run(h, "STOP CHINIT"), QSG_RC_IO);
	assert_non_null(strstr(h->text, "QSG0029E"));
	assert_non_null(strstr(h->text, "cannot stop now"));
	assert_int_equal(h->chinit_running, 1);
	h->chinit_rc = QSG_OK;
	assert_int_equal(run(h, "STOP CHINIT"), QSG_OK);
	assert_string_equal(h->text, "QSG0028I: Channel initiator stopped on QM1.");
	assert_int_equal(h->chinit_stops, 2);
	assert_int_equal(run(h, "DISPLAY CHINIT"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "STOPPED");
	h->env.chinit_start = NULL;
	assert_int_equal(run(h, "START CHINIT"), QSG_RC_UNEXPECTED_ERROR);
	assert_non_null(strstr(h->text, "QSG0029E"));
	assert_int_equal(h->submits, 0);

	assert_int_equal(run(h, "DISPLAY QMGR"), QSG_OK);
	assert_string_equal(val(h, 0, "DEADQ"), "");
	assert_int_equal(run(h, "ALTER QMGR DEADQ(DLQ) DESCR('group qm')"), QSG_OK);
	assert_string_equal(h->text, "QSG0009I: QMGR altered.");
	assert_int_equal(run(h, "DISPLAY QMGR"), QSG_OK);
	assert_string_equal(val(h, 0, "DEADQ"), "DLQ");
	assert_string_equal(val(h, 0, "DESCR"), "group qm");
	assert_int_equal(run(h, "DISPLAY QMGR DEADQ"), QSG_OK);
	assert_int_equal(h->objs[0].nattrs, 2);
	assert_int_equal(run(h, "ALTER QMGR DESCR('only this')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QMGR ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "DEADQ"), "DLQ");
	assert_string_equal(val(h, 0, "DESCR"), "only this");
	assert_int_equal(run(h, "ALTER QMGR DEADQ('')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QMGR DEADQ"), QSG_OK);
	assert_string_equal(val(h, 0, "DEADQ"), "");
}

static void admin_channel_outcome_unknown(void **state)
{
	struct harness *h = *state;
	channel_setup(h);
	h->chinit_running = 1;

	h->mode = SUBMIT_UNKNOWN;
	assert_int_equal(run(h, "START CHANNEL(S1) CHLDISP(FIXSHARED)"), QSG_RC_OUTCOME_UNKNOWN);
	assert_non_null(strstr(h->text, "QSG0005W"));
	assert_non_null(strstr(h->text, "may or may not have been started"));
	assert_null(strstr(h->text, "fail"));
	h->mode = SUBMIT_APPLY;
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1)"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "STARTING");

	h->mode = SUBMIT_REFUSE;
	assert_int_equal(run(h, "STOP CHANNEL(S1)"), QSG_RC_NO_LEADER);
	assert_non_null(strstr(h->text, "QSG0006E"));
	assert_non_null(strstr(h->text, "not stopped"));
	assert_int_equal(run(h, "ALTER QMGR DEADQ(DLQ)"), QSG_RC_NO_LEADER);
	assert_non_null(strstr(h->text, "QSG0006E"));
	h->mode = SUBMIT_APPLY;
	assert_int_equal(run(h, "DISPLAY CHSTATUS(S1)"), QSG_OK);
	assert_string_equal(val(h, 0, "STATUS"), "STARTING");
}

/* Three members joined; member 2 renewed with `applied2`. */
static void join_three(struct harness *h, uint64_t applied2)
{
	struct fsm_cmd c;
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
	c.stats.term = 5;
	c.stats.commit_index = applied2;
	c.stats.applied_index = applied2;
	assert_int_equal(apply(h, &c, NULL), QSG_OK);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_LEASE_RENEW;
	c.member_id = 3;
	c.stats.role = 1;
	c.stats.term = 5;
	c.stats.commit_index = 40;
	c.stats.applied_index = 40;
	assert_int_equal(apply(h, &c, NULL), QSG_OK);
}

/* Index of the reply object whose QMNAME is name (or the summary for
 * NULL); asserts it exists. */
static size_t obj_of(const struct harness *h, const char *name)
{
	for (size_t i = 0; i < h->nobjs; i++) {
		const char *n = val(h, i, "QMNAME");
		if ((name == NULL && val(h, i, "QUORUM") != NULL) ||
		    (name != NULL && n != NULL && strcmp(n, name) == 0))
			return i;
	}
	fail_msg("no object %s", name ? name : "(summary)");
	return 0;
}

static void admin_qmstatus(void **state)
{
	struct harness *h = *state;
	join_three(h, 30); /* QM2 applied 30: 12 behind the leader's commit (42) */
	h->servers[0] =
	    (struct admin_raft_server){.id = 1, .address = "127.0.0.1:9001", .voter = 1};
	h->servers[1] =
	    (struct admin_raft_server){.id = 2, .address = "127.0.0.1:9002", .voter = 1};
	h->servers[2] =
	    (struct admin_raft_server){.id = 3, .address = "127.0.0.1:9003", .voter = 0};
	h->servers[3] =
	    (struct admin_raft_server){.id = 4, .address = "127.0.0.1:9004", .voter = 1};
	h->nservers = 4;

	assert_int_equal(run(h, "DISPLAY QMSTATUS TYPE(RAFT)"), QSG_OK);
	assert_non_null(strstr(h->text, "QSG0037I"));
	assert_int_equal(h->nobjs, 5); /* QM1..QM3, server 4 (not joined), summary */
	size_t i = obj_of(h, "QM1");
	assert_string_equal(val(h, i, "ROLE"), "LEADER");
	assert_string_equal(val(h, i, "COMMIT"), "42");
	assert_string_equal(val(h, i, "APPLIED"), "41");
	assert_string_equal(val(h, i, "LAG"), "1");
	assert_string_equal(val(h, i, "INSYNC"), "YES");
	assert_string_equal(val(h, i, "VOTER"), "YES");
	assert_string_equal(val(h, i, "LEASE"), "ACTIVE");
	i = obj_of(h, "QM2");
	assert_string_equal(val(h, i, "ROLE"), "FOLLOWER");
	assert_string_equal(val(h, i, "TERM"), "5");
	assert_string_equal(val(h, i, "APPLIED"), "30");
	assert_string_equal(val(h, i, "LAG"), "12");
	assert_string_equal(val(h, i, "INSYNC"), "YES");
	i = obj_of(h, "QM3");
	assert_string_equal(val(h, i, "LAG"), "2");
	assert_string_equal(val(h, i, "INSYNC"), "YES");
	assert_string_equal(val(h, i, "VOTER"), "NO");
	i = obj_of(h, "");
	assert_string_equal(val(h, i, "RAFTID"), "4");
	assert_string_equal(val(h, i, "INSYNC"), "NO");
	assert_string_equal(val(h, i, "VOTER"), "YES");
	assert_string_equal(val(h, i, "LEASE"), "NONE");
	i = obj_of(h, NULL);
	assert_string_equal(val(h, i, "QSGNAME"), "QSG1");
	assert_string_equal(val(h, i, "LEADER"), "QM1");
	/* Voters QM1, QM2 (in sync) and server 4 (not joined); QM3 is not one. */
	assert_string_equal(val(h, i, "QUORUM"), "2/3");
	assert_string_equal(val(h, i, "MAJORITY"), "2");
	assert_string_equal(val(h, i, "HAVEQUORUM"), "YES");
	/* Attribute selection applies to members, never to the summary. */
	assert_int_equal(run(h, "DISPLAY QMSTATUS TYPE(RAFT) LAG"), QSG_OK);
	assert_int_equal(h->objs[obj_of(h, "QM1")].nattrs, 2);
	assert_int_equal(h->objs[obj_of(h, NULL)].nattrs, 5);
}

static void admin_qmstatus_lag(void **state)
{
	struct harness *h = *state;
	/* Leader QM1 live commit 500; QM2 applied 350 (lag 150, out of sync);
	 * QM3 applied 40 too. No raft_config: every member is a voter. */
	h->env.raft_config = NULL;
	h->ri.commit_index = 500;
	h->ri.applied_index = 500;
	join_three(h, 400);
	assert_int_equal(run(h, "DISPLAY QMSTATUS TYPE(RAFT) ALL"), QSG_OK);
	assert_int_equal(h->nobjs, 4);
	size_t i = obj_of(h, "QM2");
	assert_string_equal(val(h, i, "LAG"), "100");
	assert_string_equal(val(h, i, "INSYNC"), "YES"); /* LAG <= 100 */
	assert_string_equal(val(h, i, "VOTER"), "YES");
	i = obj_of(h, "QM3");
	assert_string_equal(val(h, i, "LAG"), "460");
	assert_string_equal(val(h, i, "INSYNC"), "NO");
	i = obj_of(h, NULL);
	assert_string_equal(val(h, i, "QUORUM"), "2/3");
	assert_string_equal(val(h, i, "HAVEQUORUM"), "YES");
	/* WHERE filters member objects; the summary always comes. */
	assert_int_equal(run(h, "DISPLAY QMSTATUS WHERE(INSYNC EQ NO)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_string_equal(val(h, 0, "QMNAME"), "QM3");
	assert_string_equal(val(h, 1, "QUORUM"), "2/3");
	/* A failed member: not in sync, UNAVAILABLE; quorum 1/3 is lost. */
	struct fsm_cmd c;
	struct fsm_member m2;
	assert_int_equal(fsm_member_get(h->fsm, 2, &m2), QSG_OK);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_FAIL;
	c.member_id = 2;
	c.seq = (uint64_t)m2.lease_expiry_ms;
	h->now = m2.lease_expiry_ms + 1;
	assert_int_equal(apply(h, &c, NULL), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QMSTATUS"), QSG_OK);
	i = obj_of(h, "QM2");
	assert_string_equal(val(h, i, "ROLE"), "UNAVAILABLE");
	assert_string_equal(val(h, i, "LEASE"), "FAILED");
	assert_string_equal(val(h, i, "INSYNC"), "NO");
	i = obj_of(h, NULL);
	assert_string_equal(val(h, i, "HAVEQUORUM"), "NO");
}

static void admin_where_display(void **state)
{
	struct harness *h = *state;
	join_self(h);
	assert_int_equal(run(h, "DEFINE QLOCAL(APP.A) MAXDEPTH(10)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QLOCAL(APP.B) MAXDEPTH(200) DESCR('big one')"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QLOCAL(OTHER) MAXDEPTH(300)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QREMOTE(R1) RNAME(X) RQMNAME(QM9)"), QSG_OK);

	assert_int_equal(run(h, "DISPLAY QLOCAL(*) WHERE(MAXDEPTH GT 100)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_string_equal(val(h, 0, "QUEUE"), "APP.B");
	assert_string_equal(val(h, 0, "MAXDEPTH"), "200"); /* shown, as MQ */
	assert_null(val(h, 0, "MAXMSGL"));
	assert_string_equal(val(h, 1, "QUEUE"), "OTHER");
	assert_int_equal(run(h, "DISPLAY QLOCAL(APP.*) WHERE(MAXDEPTH GT 100)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(run(h, "DISPLAY QUEUE(*) WHERE(QUEUE NL APP.*)"), QSG_OK);
	assert_int_equal(h->nobjs, 2); /* OTHER, R1 */
	assert_int_equal(run(h, "DISPLAY QUEUE(*) WHERE(TYPE EQ QREMOTE) RQMNAME"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "RQMNAME"), "QM9");
	assert_int_equal(run(h, "DISPLAY QLOCAL(*) WHERE(DESCR EQ 'big one')"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(run(h, "DISPLAY QSTATUS(*) WHERE(CURDEPTH GE 0)"), QSG_OK);
	assert_int_equal(h->nobjs, 3);
	/* Generic without a match after WHERE: success, no objects. */
	assert_int_equal(run(h, "DISPLAY QLOCAL(*) WHERE(MAXDEPTH GT 1000)"), QSG_OK);
	assert_int_equal(h->nobjs, 0);
	assert_non_null(strstr(h->text, "QSG0013I"));
	/* A specific name filtered out: not found, as for any other name. */
	assert_int_equal(run(h, "DISPLAY QLOCAL(APP.A) WHERE(MAXDEPTH GT 1000)"),
			 QSG_RC_UNKNOWN_OBJECT);
	/* QSGDISP: no QMGR objects here; LIVE = the 3 shared queues and the
	 * COPY of R1. */
	assert_int_equal(run(h, "DISPLAY QUEUE(*) QSGDISP(QMGR)"), QSG_OK);
	assert_int_equal(h->nobjs, 0);
	assert_int_equal(run(h, "DISPLAY QUEUE(*) QSGDISP(LIVE)"), QSG_OK);
	assert_int_equal(h->nobjs, 4);
	assert_int_equal(run(h, "DISPLAY QUEUE(*) QSGDISP(ALL)"), QSG_OK);
	assert_int_equal(h->nobjs, 5);
	/* DISPLAY GROUP with WHERE. */
	join_three(h, 40);
	assert_int_equal(run(h, "DISPLAY GROUP WHERE(QMNAME NE QM2)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_non_null(strstr(h->text, "members: 2"));
}

static void admin_lifecycle(void **state)
{
	struct harness *h = *state;
	join_three(h, 40);
	unsigned submits = h->submits;

	h->lc_text = "";
	assert_int_equal(run(h, "ADD MEMBER(QM4) RAFTID(4) RAFTADDR('127.0.0.1:9004') "
				"CONNAME('127.0.0.1:1418')"),
			 QSG_OK);
	assert_int_equal(h->lc.op, ADMIN_LC_ADD);
	assert_int_equal(h->lc.id, 4);
	assert_string_equal(h->lc.name, "QM4");
	assert_string_equal(h->lc.raft, "127.0.0.1:9004");
	assert_string_equal(h->lc.listen, "127.0.0.1:1418");
	assert_string_equal(h->text, "QSG0032I: ADD MEMBER(QM4): member added.");

	h->lc_text = "removed from the Raft configuration";
	assert_int_equal(run(h, "REMOVE MEMBER(QM3)"), QSG_OK);
	assert_int_equal(h->lc.op, ADMIN_LC_REMOVE);
	assert_int_equal(h->lc.id, 3); /* name -> id from the members */
	assert_int_equal(h->lc.force, 0);
	assert_string_equal(h->text,
			    "QSG0033I: REMOVE MEMBER(QM3): removed from the Raft configuration.");
	assert_int_equal(run(h, "REMOVE MEMBER(QM3) FORCE"), QSG_OK);
	assert_int_equal(h->lc.force, 1);
	/* Not a member (never joined): RAFTID names it. */
	assert_int_equal(run(h, "REMOVE MEMBER(QM9) RAFTID(9)"), QSG_OK);
	assert_int_equal(h->lc.id, 9);
	unsigned lcs = h->lcs;
	assert_int_equal(run(h, "REMOVE MEMBER(QM9)"), QSG_RC_UNKNOWN_OBJECT);
	assert_non_null(strstr(h->text, "not a member"));
	assert_int_equal(run(h, "REMOVE MEMBER(QM2) RAFTID(3)"), QSG_RC_BAD_ATTR);
	assert_int_equal(h->lcs, lcs); /* neither reached the daemon */

	h->lc_text = NULL;
	assert_int_equal(run(h, "TRANSFER LEADER TO(QM2)"), QSG_OK);
	assert_int_equal(h->lc.op, ADMIN_LC_TRANSFER);
	assert_int_equal(h->lc.id, 2);
	assert_non_null(strstr(h->text, "QSG0034I"));
	assert_int_equal(run(h, "TRANSFER LEADER"), QSG_OK);
	assert_int_equal(h->lc.id, 0);
	assert_int_equal(run(h, "TRANSFER LEADER TO(QM7)"), QSG_RC_UNKNOWN_OBJECT);

	/* STOP QMGR: this member; refusal text from the daemon passes through. */
	h->lc_done_rc = QSG_RC_BAD_ATTR;
	h->lc_text = "QSG0099E: stopping QM1 would cost the group its quorum; use FORCE.";
	assert_int_equal(run(h, "STOP QMGR"), QSG_RC_BAD_ATTR);
	assert_int_equal(h->lc.op, ADMIN_LC_STOP);
	assert_int_equal(h->lc.id, 1);
	assert_int_equal(h->lc.force, 0);
	assert_string_equal(h->text, h->lc_text);
	h->lc_text = "quorum would be lost";
	assert_int_equal(run(h, "STOP QMGR"), QSG_RC_BAD_ATTR);
	assert_non_null(strstr(h->text, "QSG0036E: STOP QMGR failed"));
	assert_non_null(strstr(h->text, "quorum would be lost"));
	h->lc_done_rc = QSG_OK;
	h->lc_text = NULL;
	assert_int_equal(run(h, "STOP QMGR FORCE"), QSG_OK);
	assert_int_equal(h->lc.force, 1);
	assert_non_null(strstr(h->text, "QSG0035I: STOP QMGR FORCE"));

	/* lifecycle refuses at once: done is not called by it. */
	h->lc_rc = QSG_RC_NO_LEADER;
	assert_int_equal(run(h, "TRANSFER LEADER"), QSG_RC_NO_LEADER);
	assert_non_null(strstr(h->text, "QSG0036E"));
	h->lc_rc = QSG_OK;

	/* Completion after admin_exec returned. */
	h->lc_defer = true;
	h->calls = 0;
	admin_exec(&h->env, "TRANSFER LEADER", 15, on_done, h);
	assert_int_equal(h->calls, 0);
	assert_non_null(h->lc_done);
	h->lc_done(h->lc_cbarg, QSG_OK, "leader is now QM3");
	assert_int_equal(h->calls, 1);
	assert_string_equal(h->text, "QSG0034I: TRANSFER LEADER: leader is now QM3.");
	h->lc_defer = false;

	/* No lifecycle in this daemon. */
	h->env.lifecycle = NULL;
	assert_int_equal(run(h, "STOP QMGR"), QSG_RC_UNEXPECTED_ERROR);
	assert_non_null(strstr(h->text, "not available"));
	assert_int_equal(h->submits, submits); /* nothing went through the log */
}

static void admin_qalias_cmdscope(void **state)
{
	struct harness *h = *state;
	join_self(h);

	/* DEFINE: the target need not exist. */
	assert_int_equal(run(h, "DEFINE QALIAS(AL) TARGET(APP.Q) DESCR('my alias') DEFPSIST(YES) "
				"DEFPRTY(6) PUT(DISABLED)"),
			 QSG_OK);
	assert_string_equal(h->text, "QSG0008I: QALIAS(AL) defined.");
	assert_int_equal(h->submits, 1);
	struct fsm_qinfo qi;
	assert_int_equal(fsm_queue_info(h->fsm, 0, "AL", &qi), QSG_OK);
	assert_int_equal(qi.attrs.qtype, FSM_QT_ALIAS);
	assert_string_equal(qi.attrs.target, "APP.Q");
	assert_int_equal(qi.attrs.put_inhibited, 1);

	/* DISPLAY QALIAS: QUEUE, TYPE, QSGDISP by default; ALL gives the rest. */
	assert_int_equal(run(h, "DISPLAY QALIAS(AL)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(h->objs[0].nattrs, 3);
	assert_string_equal(val(h, 0, "QUEUE"), "AL");
	assert_string_equal(val(h, 0, "TYPE"), "QALIAS");
	assert_string_equal(val(h, 0, "QSGDISP"), "COPY");
	assert_int_equal(run(h, "DISPLAY QALIAS(AL) ALL"), QSG_OK);
	assert_int_equal(h->objs[0].nattrs, 10);
	assert_string_equal(val(h, 0, "TARGET"), "APP.Q");
	assert_string_equal(val(h, 0, "TARGTYPE"), "QUEUE");
	assert_string_equal(val(h, 0, "DESCR"), "my alias");
	assert_string_equal(val(h, 0, "DEFPSIST"), "YES");
	assert_string_equal(val(h, 0, "DEFPRTY"), "6");
	assert_string_equal(val(h, 0, "GET"), "ENABLED");
	assert_string_equal(val(h, 0, "PUT"), "DISABLED");
	assert_null(val(h, 0, "MAXDEPTH"));
	assert_int_equal(run(h, "DISPLAY QA(A*) TARGET"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(h->objs[0].nattrs, 4);
	assert_string_equal(val(h, 0, "TARGET"), "APP.Q");

	/* One name space with the other queue types. */
	assert_int_equal(run(h, "DEFINE QLOCAL(APP.Q)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QLOCAL(AL)"), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(run(h, "DEFINE QALIAS(APP.Q) TARGET(AL)"), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(run(h, "DEFINE QALIAS(AL) TARGET(APP.Q)"), QSG_RC_OBJECT_EXISTS);
	/* Commands naming the wrong type do not find it. */
	assert_int_equal(run(h, "ALTER QLOCAL(AL) DESCR('x')"), QSG_RC_UNKNOWN_OBJECT);
	assert_non_null(strstr(h->text, "QALIAS"));
	assert_int_equal(run(h, "DELETE QLOCAL(AL)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "CLEAR QLOCAL(AL)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "ALTER QALIAS(APP.Q) TARGET(X)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DISPLAY QLOCAL(AL)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DISPLAY QALIAS(APP.Q)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DISPLAY QSTATUS(AL)"), QSG_RC_UNKNOWN_OBJECT);

	/* DISPLAY QUEUE(*) lists every type; TYPE(QALIAS) and QSGDISP filter. */
	assert_int_equal(run(h, "DEFINE QLOCAL(QM2) USAGE(XMITQ)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QREMOTE(RQ) RNAME(X) RQMNAME(QM2)"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QUEUE(*)"), QSG_OK);
	assert_int_equal(h->nobjs, 4);
	assert_string_equal(val(h, 0, "QUEUE"), "AL");
	assert_string_equal(val(h, 0, "TYPE"), "QALIAS");
	assert_int_equal(run(h, "DISPLAY QUEUE(*) TYPE(QALIAS) ALL"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_string_equal(val(h, 0, "QUEUE"), "AL");
	assert_string_equal(val(h, 0, "TARGET"), "APP.Q");
	assert_string_equal(val(h, 0, "QSGDISP"), "COPY");
	assert_int_equal(run(h, "DISPLAY QUEUE(*) QSGDISP(GROUP)"), QSG_OK);
	assert_int_equal(h->nobjs, 2); /* AL and RQ */
	assert_int_equal(run(h, "DISPLAY QUEUE(*) QSGDISP(SHARED)"), QSG_OK);
	assert_int_equal(h->nobjs, 2); /* APP.Q and QM2 */
	assert_int_equal(run(h, "DISPLAY QUEUE(*) TYPE(QLOCAL)"), QSG_OK);
	assert_int_equal(h->nobjs, 2);
	assert_int_equal(run(h, "DISPLAY QALIAS(*)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(run(h, "DISPLAY QSTATUS(*)"), QSG_OK);
	assert_int_equal(h->nobjs, 2); /* local queues only */
	assert_int_equal(run(h, "DISPLAY QALIAS(*) WHERE(TARGET EQ APP.Q)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(run(h, "DISPLAY QALIAS(*) WHERE(TARGET EQ NONE)"), QSG_OK);
	assert_int_equal(h->nobjs, 0);

	/* ALTER: only the given attributes change. */
	assert_int_equal(run(h, "ALTER QALIAS(AL) TARGET(RQ) PUT(ENABLED)"), QSG_OK);
	assert_string_equal(h->text, "QSG0009I: QALIAS(AL) altered.");
	assert_int_equal(run(h, "DISPLAY QALIAS(AL) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "TARGET"), "RQ");
	assert_string_equal(val(h, 0, "PUT"), "ENABLED");
	assert_string_equal(val(h, 0, "DESCR"), "my alias");
	assert_string_equal(val(h, 0, "DEFPRTY"), "6");
	assert_int_equal(run(h, "ALTER QALIAS(NOPE) DESCR('x')"), QSG_RC_UNKNOWN_OBJECT);

	/* LIKE copies the alias attributes, TARGET included. */
	assert_int_equal(run(h, "DEFINE QALIAS(AL2) LIKE(AL) DESCR('second')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QALIAS(AL2) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "TARGET"), "RQ");
	assert_string_equal(val(h, 0, "DEFPSIST"), "YES");
	assert_string_equal(val(h, 0, "DESCR"), "second");
	assert_int_equal(run(h, "DEFINE QALIAS(AL3) LIKE(APP.Q)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DEFINE QLOCAL(L3) LIKE(AL)"), QSG_RC_UNKNOWN_OBJECT);
	/* REPLACE. */
	assert_int_equal(run(h, "DEFINE QALIAS(AL2) TARGET(APP.Q) REPLACE"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QALIAS(AL2) ALL"), QSG_OK);
	assert_string_equal(val(h, 0, "TARGET"), "APP.Q");
	assert_string_equal(val(h, 0, "DEFPSIST"), "NO");
	assert_string_equal(val(h, 0, "DESCR"), "");

	/* Messages put through the alias are on the target; DELETE QALIAS
	 * leaves the target and its messages. */
	uint64_t ep = attach(h, 7);
	assert_int_equal(put(h, 7, ep, 1, "AL2", 0), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QLOCAL(APP.Q) CURDEPTH"), QSG_OK);
	assert_string_equal(val(h, 0, "CURDEPTH"), "1");
	assert_int_equal(run(h, "DELETE QALIAS(AL2)"), QSG_OK);
	assert_string_equal(h->text, "QSG0010I: QALIAS(AL2) deleted.");
	assert_int_equal(run(h, "DISPLAY QLOCAL(APP.Q) CURDEPTH"), QSG_OK);
	assert_string_equal(val(h, 0, "CURDEPTH"), "1");
	assert_int_equal(run(h, "DELETE QALIAS(AL2)"), QSG_RC_UNKNOWN_OBJECT);

	/* Syntax is still checked first. */
	unsigned submits = h->submits;
	assert_int_equal(run(h, "DEFINE QALIAS(AX)"), QSG_RC_MQSC_SYNTAX);
	assert_int_equal(run(h, "DEFINE QALIAS(AX) TARGET(X) MAXDEPTH(5)"), QSG_RC_BAD_ATTR);
	assert_int_equal(h->submits, submits);

	/* CMDSCOPE: ' ' and the member's own name run here; others are
	 * qsgadm's job. */
	assert_int_equal(run(h, "DEFINE QLOCAL(QS) CMDSCOPE(' ')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY QLOCAL(QS) CMDSCOPE(QM1)"), QSG_OK);
	assert_int_equal(h->nobjs, 1);
	assert_int_equal(run(h, "DISPLAY QLOCAL(QS) CMDSCOPE(*)"), QSG_RC_BAD_ATTR);
	assert_non_null(strstr(h->text, "qsgadm"));
	assert_int_equal(run(h, "DELETE QLOCAL(QS) CMDSCOPE(QM2)"), QSG_RC_BAD_ATTR);
	assert_int_equal(run(h, "DISPLAY QLOCAL(QS)"), QSG_OK); /* not deleted */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_define),
	    cmocka_unit_test(parse_trigger),
	    cmocka_unit_test(parse_display),
	    cmocka_unit_test(parse_bad),
	    cmocka_unit_test(parse_channel_cmds),
	    cmocka_unit_test(parse_channel_bad),
	    cmocka_unit_test(parse_hostile),
	    cmocka_unit_test(parse_where),
	    cmocka_unit_test(parse_lifecycle_alias_scope),
	    cmocka_unit_test_setup_teardown(admin_define_display, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_trigger_attrs, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_define_replace_like_alter, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_delete_clear_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_outcome_unknown_and_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_syntax_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_group_qmgr_ping, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_remote_queues, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_channel_define_display, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_start_stop_channel, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_start_stop_race, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_reset_resolve, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_chinit_qmgr, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_chinit_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_channel_outcome_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_qmstatus, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_qmstatus_lag, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_where_display, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin_qalias_cmdscope, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
