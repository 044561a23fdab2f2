/* Unit tests of SET and DISPLAY CHLAUTH (docs/security.md "Channel
 * authentication (CHLAUTH)"): the parser (types, actions, defaults, names
 * folded, patterns refused with the reason, attributes that mean nothing
 * for the rule refused), and the executor against a real struct fsm with a
 * synchronous submit (SET with each ACTION, DISPLAY MATCH(GENERIC/EXACT),
 * MATCH(RUNCHECK)), and SET CHLAUTH refused without CHG on QMGR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/admin.h"
#include "admin/mqsc.h"
#include "common/codec.h"
#include "fsm/fsm.h"
#include "proto/proto.h"

static int parse(const char *text, struct mqsc_cmd *cmd, char *errmsg)
{
	errmsg[0] = '\0';
	return mqsc_parse(text, strlen(text), cmd, errmsg);
}

static void parse_chlauth(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(parse("SET CHLAUTH('SYSTEM.*') TYPE(usermap) CLNTUSER(alice) "
			       "MCAUSER(appput) DESCR('x')",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_CHLAUTH);
	assert_string_equal(c.chlauth.profile, "SYSTEM.*");
	assert_int_equal(c.chlauth.type, FSM_CHL_USERMAP);
	assert_int_equal(c.chlauth.action, FSM_CHL_ADD);
	assert_int_equal(c.chlauth.usersrc, FSM_CHL_MAP); /* the default */
	assert_string_equal(c.chlauth.clntuser, "ALICE");
	assert_string_equal(c.chlauth.mcauser, "APPPUT");
	assert_string_equal(c.chlauth.address, "*");
	assert_int_equal(parse("SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('10.0.0.1-20', "
			       "'192.168.*') WARN(YES)",
			       &c, err),
			 QSG_OK);
	assert_string_equal(c.chlauth.addrlist, "10.0.0.1-20,192.168.*");
	assert_int_equal(c.chlauth.warn, 1);
	assert_int_equal(parse("SET CHLAUTH('A.B') TYPE(SSLPEERMAP) SSLPEER('CN=app*, O=acme') "
			       "ADDRESS('10.*') USERSRC(CHANNEL)",
			       &c, err),
			 QSG_OK);
	assert_string_equal(c.chlauth.sslpeer, "CN=app*, O=acme");
	assert_int_equal(c.chlauth.usersrc, FSM_CHL_CHANNEL);
	assert_int_equal(parse("SET CHLAUTH('A.B') TYPE(ADDRESSMAP) ACTION(REMOVEALL)", &c, err),
			 QSG_OK);
	assert_int_equal(c.chlauth.action, FSM_CHL_REMOVEALL);
	assert_int_equal(parse("DISPLAY CHLAUTH('APP.SVRCONN') MATCH(RUNCHECK) ADDRESS('1.2.3.4') "
			       "CLNTUSER(bob)",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.chl_match, MQSC_CHL_RUNCHECK);
	assert_string_equal(c.chlauth.clntuser, "BOB");
	assert_int_equal(parse("DISPLAY CHLAUTH(*) TYPE(BLOCKADDR)", &c, err), QSG_OK);
	assert_int_equal(c.chl_match, MQSC_CHL_GENERIC);
	const char *bad[] = {
	    "SET CHLAUTH('*') ADDRLIST('1.2.3.4')", /* no TYPE */
	    "SET CHLAUTH('APP') TYPE(BLOCKADDR) ADDRLIST('1.2.3.4')", /* not '*' */
	    "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('1.2.3.400')",
	    "SET CHLAUTH('*') TYPE(BLOCKADDR)", /* no ADDRLIST */
	    "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('1.2.3.4') MCAUSER(x)",
	    "SET CHLAUTH('*') TYPE(ADDRESSMAP) USERSRC(NOACCESS)", /* no ADDRESS */
	    "SET CHLAUTH('*') TYPE(ADDRESSMAP) ADDRESS('*')", /* MAP without MCAUSER */
	    "SET CHLAUTH('*') TYPE(ADDRESSMAP) ADDRESS('*') USERSRC(CHANNEL) MCAUSER(x)",
	    "SET CHLAUTH('*') TYPE(ADDRESSMAP) ADDRESS('*') MCAUSER(x) WARN(YES)",
	    "SET CHLAUTH('*') TYPE(USERMAP) USERSRC(NOACCESS)", /* no CLNTUSER */
	    "SET CHLAUTH('*') TYPE(USERMAP) CLNTUSER('a b') USERSRC(NOACCESS)",
	    "SET CHLAUTH('*') TYPE(SSLPEERMAP) SSLPEER('CN') USERSRC(NOACCESS)",
	    "SET CHLAUTH('*') TYPE(ADDRESSMAP) ADDRESS('*') SSLPEER('CN=x') USERSRC(NOACCESS)",
	    "SET CHLAUTH('*') TYPE(USERMAP) CLNTUSER(a) ACTION(REMOVE) USERSRC(NOACCESS)",
	    "SET CHLAUTH('*') TYPE(USERMAP) CLNTUSER(a) ACTION(REMOVEALL)",
	    "SET CHLAUTH('*') TYPE(NONSENSE)",
	    "SET CHLAUTH('A B') TYPE(ADDRESSMAP) ADDRESS('*') USERSRC(NOACCESS)",
	    "DISPLAY CHLAUTH('APP.*') MATCH(RUNCHECK) ADDRESS('1.2.3.4')", /* a profile */
	    "DISPLAY CHLAUTH('APP') MATCH(RUNCHECK)", /* no ADDRESS */
	    "DISPLAY CHLAUTH('APP') ADDRESS('1.2.3.4')", /* without RUNCHECK */
	    "DISPLAY CHLAUTH('APP') MCAUSER(x)",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (parse(bad[i], &c, err) == QSG_OK)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
	}
	parse("SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('10.0.0.1-')", &c, err);
	assert_non_null(strstr(err, "not an address pattern"));
}

/* ---- executor ---------------------------------------------------------- */
struct harness {
	struct fsm *fsm;
	struct admin_env env;
	int64_t now;
	int rc;
	char text[512];
	char objs[8192];
	/* the identity of admin_authz */
	const char *user;
	char groups[2][FSM_NAME_MAX + 1];
	unsigned ngroups;
	unsigned denials;
};

static int fake_submit(void *arg, const struct fsm_cmd *cmd, admin_submit_cb cb, void *cbarg)
{
	struct harness *h = arg;
	struct qsg_wbuf c, e, res;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&c);
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&res);
	assert_int_equal(fsm_cmd_encode(cmd, &c), QSG_OK);
	h->now += 1000;
	fsm_entry_begin(&e, h->now);
	fsm_entry_add(&e, c.data, c.len);
	assert_int_equal(fsm_apply(h->fsm, e.data, e.len, &res, err), QSG_OK);
	cb(cbarg, QSG_OK, res.data + 4, res.len - 4);
	qsg_wbuf_close(&c);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&res);
	return QSG_OK;
}

static void on_done(void *arg, int rc, const char *text, struct proto_admin_writer *objects)
{
	struct harness *h = arg;
	struct proto_resp resp;
	h->rc = rc;
	snprintf(h->text, sizeof h->text, "%s", text);
	h->objs[0] = '\0';
	memset(&resp, 0, sizeof resp);
	proto_admin_to_resp(objects, &resp);
	size_t cur = 0, n;
	struct proto_attr at[16];
	while (proto_admin_next(&resp, &cur, at, 16, &n) == 1) {
		for (size_t i = 0; i < n && i < 16; i++) {
			size_t l = strlen(h->objs);
			snprintf(h->objs + l, sizeof h->objs - l, "%.*s(%.*s) ",
				 (int)at[i].name.len, (const char *)at[i].name.p,
				 (int)at[i].value.len, (const char *)at[i].value.p);
		}
		strncat(h->objs, "| ", sizeof h->objs - strlen(h->objs) - 1);
	}
}

static int run(struct harness *h, const char *cmd)
{
	h->rc = -1;
	admin_exec(&h->env, cmd, strlen(cmd), on_done, h);
	return h->rc;
}

static uint32_t authority(void *arg, uint8_t objtype, const char *name)
{
	struct harness *h = arg;
	return fsm_authority(h->fsm, h->env.member_id, h->user,
			     (const char(*)[FSM_NAME_MAX + 1]) h->groups, h->ngroups, objtype,
			     name);
}

static void denied(void *arg, uint32_t need, uint8_t objtype, const char *name, const char *command)
{
	(void)need;
	(void)objtype;
	(void)name;
	(void)command;
	struct harness *h = arg;
	h->denials++;
}

/* Run cmd as h->user (the admin identity otherwise). */
static int run_as(struct harness *h, const char *cmd)
{
	struct admin_authz az = {
	    .arg = h, .authority = authority, .denied = denied, .user = h->user};
	struct admin_env saved = h->env;
	h->env.authz = &az;
	int rc = run(h, cmd);
	h->env = saved;
	return rc;
}

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof *h);
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&h->fsm, err), QSG_OK);
	h->env.arg = h;
	h->env.fsm = h->fsm;
	h->env.qmgr_name = "QM1";
	h->env.group_name = "QSG1";
	h->env.member_id = 1;
	h->env.submit = fake_submit;
	h->now = 1767225600000;
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

static void exec_chlauth(void **state)
{
	struct harness *h = *state;
	assert_int_equal(run(h, "SET CHLAUTH('SYSTEM.DEF.SVRCONN') TYPE(USERMAP) CLNTUSER(alice) "
				"MCAUSER(appput)"),
			 QSG_OK);
	assert_int_equal(run(h, "SET CHLAUTH('SYSTEM.DEF.SVRCONN') TYPE(USERMAP) CLNTUSER(alice) "
				"MCAUSER(other)"),
			 QSG_RC_OBJECT_EXISTS); /* ADD of a map that exists */
	assert_int_equal(run(h, "SET CHLAUTH('SYSTEM.*') TYPE(ADDRESSMAP) ADDRESS('10.*') "
				"USERSRC(NOACCESS)"),
			 QSG_OK);
	assert_int_equal(run(h, "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('9.9.9.9')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHLAUTH(*)"), QSG_OK);
	assert_non_null(strstr(h->text, "(3)"));
	assert_non_null(strstr(h->objs, "CHLAUTH(SYSTEM.DEF.SVRCONN) TYPE(USERMAP) CLNTUSER(ALICE) "
					"ADDRESS(*) USERSRC(MAP) MCAUSER(APPPUT) WARN(NO)"));
	assert_non_null(strstr(h->objs, "CHLAUTH(*) TYPE(BLOCKADDR) ADDRLIST(9.9.9.9)"));
	/* GENERIC: the profiles the name matches; EXACT: that profile. */
	assert_int_equal(run(h, "DISPLAY CHLAUTH('SYSTEM.*')"), QSG_OK);
	assert_non_null(strstr(h->objs, "SYSTEM.DEF.SVRCONN"));
	assert_null(strstr(h->objs, "BLOCKADDR"));
	assert_int_equal(run(h, "DISPLAY CHLAUTH('SYSTEM.*') MATCH(EXACT)"), QSG_OK);
	assert_null(strstr(h->objs, "USERMAP"));
	assert_non_null(strstr(h->objs, "ADDRESSMAP"));
	assert_int_equal(run(h, "DISPLAY CHLAUTH(*) TYPE(BLOCKADDR)"), QSG_OK);
	assert_null(strstr(h->objs, "MAP"));
	/* RUNCHECK */
	assert_int_equal(run(h, "DISPLAY CHLAUTH('SYSTEM.DEF.SVRCONN') MATCH(RUNCHECK) "
				"ADDRESS('127.0.0.1') CLNTUSER(alice)"),
			 QSG_OK);
	assert_non_null(strstr(h->text, "QSG0056I"));
	assert_non_null(strstr(h->text, "runs as APPPUT"));
	assert_non_null(strstr(h->objs, "RESULT(MAP: runs as APPPUT)"));
	assert_int_equal(run(h, "DISPLAY CHLAUTH('SYSTEM.DEF.SVRCONN') MATCH(RUNCHECK) "
				"ADDRESS('10.1.1.1') CLNTUSER(bob)"),
			 QSG_OK);
	assert_non_null(strstr(h->text, "NOACCESS"));
	assert_int_equal(run(h, "DISPLAY CHLAUTH('SYSTEM.DEF.SVRCONN') MATCH(RUNCHECK) "
				"ADDRESS('9.9.9.9')"),
			 QSG_OK);
	assert_non_null(strstr(h->text, "BLOCKADDR"));
	assert_int_equal(run(h, "DISPLAY CHLAUTH('APP.SVRCONN') MATCH(RUNCHECK) "
				"ADDRESS('1.1.1.1')"),
			 QSG_OK);
	assert_non_null(strstr(h->text, "no rule matches"));
	/* BLOCKADDR: ADD merges, REMOVE takes off (the last: the rule goes). */
	assert_int_equal(run(h, "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('8.8.8.8')"), QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHLAUTH(*) TYPE(BLOCKADDR)"), QSG_OK);
	assert_non_null(strstr(h->objs, "ADDRLIST(9.9.9.9,8.8.8.8)"));
	assert_int_equal(run(h, "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('9.9.9.9','8.8.8.8') "
				"ACTION(REMOVE)"),
			 QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHLAUTH(*) TYPE(BLOCKADDR)"), QSG_OK);
	assert_non_null(strstr(h->text, "QSG0055I"));
	/* REPLACE, REMOVE, REMOVEALL of maps */
	assert_int_equal(run(h, "SET CHLAUTH('SYSTEM.DEF.SVRCONN') TYPE(USERMAP) CLNTUSER(alice) "
				"MCAUSER(other) ACTION(REPLACE)"),
			 QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHLAUTH('SYSTEM.DEF.SVRCONN') MATCH(EXACT)"), QSG_OK);
	assert_non_null(strstr(h->objs, "MCAUSER(OTHER)"));
	assert_int_equal(run(h, "SET CHLAUTH('SYSTEM.DEF.SVRCONN') TYPE(USERMAP) CLNTUSER(alice) "
				"ACTION(REMOVE)"),
			 QSG_OK);
	assert_int_not_equal(run(h, "SET CHLAUTH('SYSTEM.DEF.SVRCONN') TYPE(USERMAP) "
				    "CLNTUSER(alice) ACTION(REMOVE)"),
			     QSG_OK);
	assert_int_equal(run(h, "SET CHLAUTH('SYSTEM.*') TYPE(ADDRESSMAP) ACTION(REMOVEALL)"),
			 QSG_OK);
	assert_int_equal(run(h, "DISPLAY CHLAUTH(*)"), QSG_OK);
	assert_non_null(strstr(h->text, "QSG0055I"));
}

static void exec_authorized(void **state)
{
	struct harness *h = *state;
	h->user = "BOB";
	assert_int_equal(run_as(h, "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('1.2.3.4')"),
			 QSG_RC_NOT_AUTHORIZED);
	assert_non_null(strstr(h->text, "CHG on OBJTYPE(QMGR)"));
	assert_int_equal(run_as(h, "DISPLAY CHLAUTH(*)"), QSG_RC_NOT_AUTHORIZED);
	assert_non_null(strstr(h->text, "DSP on OBJTYPE(QMGR)"));
	assert_int_equal(run(h, "SET AUTHREC OBJTYPE(QMGR) PRINCIPAL(bob) AUTHADD(CHG,DSP)"),
			 QSG_OK);
	assert_int_equal(run_as(h, "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('1.2.3.4')"), QSG_OK);
	assert_int_equal(run_as(h, "DISPLAY CHLAUTH(*)"), QSG_OK);
	assert_non_null(strstr(h->objs, "1.2.3.4"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_chlauth),
	    cmocka_unit_test_setup_teardown(exec_chlauth, setup, teardown),
	    cmocka_unit_test_setup_teardown(exec_authorized, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
