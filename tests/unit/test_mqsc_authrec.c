/* Unit tests of the AUTHREC and ENTAUTH commands (docs/security.md
 * "Authority records"): the parser (lists, ALL/NONE, names folded, bad
 * profiles refused with the reason, authorities that mean nothing on the
 * object type refused), the executor against a real struct fsm with a
 * synchronous submit (SET/DELETE/DISPLAY AUTHREC, DISPLAY ENTAUTH,
 * QSGDISP(QMGR) = this member only), and the admin authority checks with
 * an identity (admin_authz): 2035 without CHG on QMGR, DISPLAY QLOCAL(*)
 * filtered by DSP. */
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

static void parse_authrec(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(parse("SET AUTHREC PROFILE(app.**) OBJTYPE(queue) GROUP(apps) "
			       "AUTHADD(put, get browse) AUTHRMV(dsp)",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.verb, MQSC_SET);
	assert_int_equal(c.obj, MQSC_OBJ_AUTHREC);
	assert_string_equal(c.authrec.profile, "APP.**");
	assert_int_equal(c.authrec.objtype, FSM_AUTHOBJ_QUEUE);
	assert_int_equal(c.authrec.enttype, FSM_AUTHENT_GROUP);
	assert_string_equal(c.authrec.entity, "APPS");
	assert_int_equal(c.authrec.auth, FSM_AUTH_PUT | FSM_AUTH_GET | FSM_AUTH_BROWSE);
	assert_int_equal(c.authrec.rmv, FSM_AUTH_DSP);
	/* Quoted names keep their case in the profile, not in the entity. */
	assert_int_equal(
	    parse("SET AUTHREC PROFILE('App.*') OBJTYPE(QUEUE) PRINCIPAL('bob') AUTHADD(ALL)", &c,
		  err),
	    QSG_OK);
	assert_string_equal(c.authrec.profile, "App.*");
	assert_string_equal(c.authrec.entity, "BOB");
	assert_int_equal(c.authrec.auth, fsm_auth_valid(FSM_AUTHOBJ_QUEUE));
	/* QMGR: no profile, "**" stored. */
	assert_int_equal(
	    parse("SET AUTHREC OBJTYPE(QMGR) GROUP(apps) AUTHADD(CONNECT,DSP) QSGDISP(QMGR)", &c,
		  err),
	    QSG_OK);
	assert_string_equal(c.authrec.profile, "**");
	assert_int_equal(c.qsgdisp, FSM_DISP_QMGR);
	assert_int_equal(parse("SET AUTHREC PROFILE(APP.SECRET) OBJTYPE(QUEUE) GROUP(apps) "
			       "AUTHADD(NONE)",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.authrec.auth, 0);
	assert_int_equal(parse("DELETE AUTHREC PROFILE(A.*) OBJTYPE(CHANNEL) GROUP(g)", &c, err),
			 QSG_OK);
	assert_int_equal(parse("DISPLAY AUTHREC", &c, err), QSG_OK);
	assert_int_equal(
	    parse("DISPLAY ENTAUTH OBJNAME(Q1) OBJTYPE(QUEUE) PRINCIPAL(bob)", &c, err), QSG_OK);
	assert_string_equal(c.authrec.profile, "Q1");
	/* Refused, each with a reason. */
	const char *bad[] = {
	    "SET AUTHREC PROFILE(APP..X) OBJTYPE(QUEUE) GROUP(G) AUTHADD(PUT)",
	    "SET AUTHREC PROFILE(A.**.**) OBJTYPE(QUEUE) GROUP(G) AUTHADD(PUT)",
	    "SET AUTHREC PROFILE(A.B**) OBJTYPE(QUEUE) GROUP(G) AUTHADD(PUT)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(QMGR) GROUP(G) AUTHADD(CONNECT)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(QUEUE) GROUP(G) AUTHADD(CONNECT)",
	    "SET AUTHREC PROFILE(C) OBJTYPE(CHANNEL) GROUP(G) AUTHADD(PUT)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(QUEUE) GROUP(G) AUTHADD(PUT) AUTHRMV(PUT)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(QUEUE) GROUP(G) AUTHADD(NONE,PUT)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(QUEUE) GROUP(G) AUTHADD(FLY)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(QUEUE) GROUP(G)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(QUEUE) AUTHADD(PUT)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(QUEUE) GROUP(G) PRINCIPAL(U) AUTHADD(PUT)",
	    "SET AUTHREC PROFILE(Q) GROUP(G) AUTHADD(PUT)",
	    "SET AUTHREC OBJTYPE(QUEUE) GROUP(G) AUTHADD(PUT)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(TOPIC) GROUP(G) AUTHADD(PUT)",
	    "SET AUTHREC PROFILE(Q) OBJTYPE(QUEUE) GROUP(G) AUTHADD(PUT) QSGDISP(SHARED)",
	    "DELETE AUTHREC PROFILE(Q) OBJTYPE(QUEUE) GROUP(G) AUTHADD(PUT)",
	    "DISPLAY ENTAUTH OBJTYPE(QUEUE) PRINCIPAL(U)",
	    "DISPLAY ENTAUTH OBJNAME(A.*) OBJTYPE(QUEUE) PRINCIPAL(U)",
	    "SET AUTHREC(X) PROFILE(Q) OBJTYPE(QUEUE) GROUP(G) AUTHADD(PUT)",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i], &c, err);
		if (rc == QSG_OK)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
	}
	/* The reason of a bad profile is in the text. */
	parse("SET AUTHREC PROFILE(APP..X) OBJTYPE(QUEUE) GROUP(G) AUTHADD(PUT)", &c, err);
	assert_non_null(strstr(err, "empty qualifier"));
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

static void exec_authrec(void **state)
{
	struct harness *h = *state;
	assert_int_equal(run(h, "SET AUTHREC PROFILE(APP.**) OBJTYPE(QUEUE) GROUP(apps) "
				"AUTHADD(PUT,GET,BROWSE)"),
			 QSG_OK);
	assert_int_equal(run(h, "SET AUTHREC PROFILE(APP.SECRET) OBJTYPE(QUEUE) GROUP(apps) "
				"AUTHADD(NONE)"),
			 QSG_OK);
	assert_int_equal(run(h, "SET AUTHREC PROFILE(APP.**) OBJTYPE(QUEUE) GROUP(apps) "
				"AUTHRMV(GET)"),
			 QSG_OK);
	assert_int_equal(run(h, "SET AUTHREC OBJTYPE(QMGR) PRINCIPAL(bob) AUTHADD(CONNECT) "
				"QSGDISP(QMGR)"),
			 QSG_OK);
	assert_int_equal(run(h, "DISPLAY AUTHREC"), QSG_OK);
	assert_non_null(strstr(h->objs, "PROFILE(APP.**) OBJTYPE(QUEUE) ENTITY(APPS) "
					"ENTTYPE(GROUP) AUTHLIST(BROWSE,PUT) QSGDISP(GROUP)"));
	assert_non_null(strstr(h->objs, "PROFILE(APP.SECRET) OBJTYPE(QUEUE) ENTITY(APPS) "
					"ENTTYPE(GROUP) AUTHLIST(NONE) QSGDISP(GROUP)"));
	assert_non_null(strstr(h->objs, "PROFILE(**) OBJTYPE(QMGR) ENTITY(BOB) "
					"ENTTYPE(PRINCIPAL) AUTHLIST(CONNECT) QSGDISP(QMGR)"));
	/* Filters. */
	assert_int_equal(run(h, "DISPLAY AUTHREC PROFILE(APP.SECRET)"), QSG_OK);
	assert_null(strstr(h->objs, "APP.**"));
	assert_non_null(strstr(h->objs, "APP.SECRET"));
	assert_int_equal(run(h, "DISPLAY AUTHREC PRINCIPAL(bob)"), QSG_OK);
	assert_null(strstr(h->objs, "APPS"));
	assert_non_null(strstr(h->objs, "BOB"));
	/* Another member does not see QM1's own record. */
	h->env.member_id = 2;
	assert_int_equal(run(h, "DISPLAY AUTHREC PRINCIPAL(bob)"), QSG_OK);
	assert_null(strstr(h->objs, "BOB"));
	h->env.member_id = 1;
	/* Effective authority of a group and of a principal (with groups
	 * from the user table: none here, so BOB alone). */
	assert_int_equal(run(h, "DISPLAY ENTAUTH OBJNAME(APP.Q1) OBJTYPE(QUEUE) GROUP(apps)"),
			 QSG_OK);
	assert_non_null(strstr(h->objs, "AUTHLIST(BROWSE,PUT)"));
	assert_int_equal(run(h, "DISPLAY ENTAUTH OBJNAME(APP.SECRET) OBJTYPE(QUEUE) GROUP(apps)"),
			 QSG_OK);
	assert_non_null(strstr(h->objs, "AUTHLIST(NONE)"));
	assert_int_equal(run(h, "DISPLAY ENTAUTH OBJTYPE(QMGR) PRINCIPAL(bob)"), QSG_OK);
	assert_non_null(strstr(h->objs, "AUTHLIST(CONNECT)"));
	/* Delete: gone; a second delete is an error. */
	assert_int_equal(run(h, "DELETE AUTHREC PROFILE(APP.SECRET) OBJTYPE(QUEUE) GROUP(apps)"),
			 QSG_OK);
	assert_int_equal(run(h, "DISPLAY AUTHREC PROFILE(APP.SECRET)"), QSG_OK);
	assert_null(strstr(h->objs, "APP.SECRET"));
	assert_int_not_equal(
	    run(h, "DELETE AUTHREC PROFILE(APP.SECRET) OBJTYPE(QUEUE) GROUP(apps)"), QSG_OK);
}

static void exec_authorized(void **state)
{
	struct harness *h = *state;
	assert_int_equal(run(h, "DEFINE QLOCAL(APP.Q1)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QLOCAL(APP.Q2)"), QSG_OK);
	assert_int_equal(run(h, "DEFINE QLOCAL(OTHER)"), QSG_OK);
	h->user = "BOB";
	snprintf(h->groups[0], sizeof h->groups[0], "APPS");
	h->ngroups = 1;
	/* Nothing granted: no DSP on QMGR, no CRT on the queue. */
	assert_int_equal(run_as(h, "DISPLAY QMGR"), QSG_RC_NOT_AUTHORIZED);
	assert_non_null(strstr(h->text, "BOB"));
	assert_non_null(strstr(h->text, "DSP"));
	assert_int_equal(h->denials, 1);
	assert_int_equal(run_as(h, "DEFINE QLOCAL(APP.Q3)"), QSG_RC_NOT_AUTHORIZED);
	assert_non_null(strstr(h->text, "CRT on QUEUE(APP.Q3)"));
	/* A command on the group needs CHG on QMGR. */
	assert_int_equal(run_as(h, "SET AUTHREC PROFILE(**) OBJTYPE(QUEUE) PRINCIPAL(bob) "
				   "AUTHADD(ALL)"),
			 QSG_RC_NOT_AUTHORIZED);
	assert_non_null(strstr(h->text, "CHG on OBJTYPE(QMGR)"));
	assert_int_equal(run_as(h, "DEFINE USER(eve) PASSWORD('x')"), QSG_RC_NOT_AUTHORIZED);
	/* DISPLAY QLOCAL(*) shows only what the user has DSP on. */
	assert_int_equal(run(h, "SET AUTHREC PROFILE(APP.*) OBJTYPE(QUEUE) GROUP(apps) "
				"AUTHADD(DSP,CRT)"),
			 QSG_OK);
	assert_int_equal(run(h, "SET AUTHREC PROFILE(APP.Q2) OBJTYPE(QUEUE) GROUP(apps) "
				"AUTHADD(NONE)"),
			 QSG_OK);
	assert_int_equal(run_as(h, "DISPLAY QLOCAL(*)"), QSG_OK);
	assert_non_null(strstr(h->objs, "APP.Q1"));
	assert_null(strstr(h->objs, "APP.Q2"));
	assert_null(strstr(h->objs, "OTHER"));
	/* As the admin (no authz) everything shows. */
	assert_int_equal(run(h, "DISPLAY QLOCAL(*)"), QSG_OK);
	assert_non_null(strstr(h->objs, "APP.Q2"));
	/* A named DISPLAY without DSP is refused, not "not found". */
	assert_int_equal(run_as(h, "DISPLAY QLOCAL(OTHER)"), QSG_RC_NOT_AUTHORIZED);
	assert_int_equal(run_as(h, "DEFINE QLOCAL(APP.Q3)"), QSG_OK);
	assert_int_equal(run_as(h, "DELETE QLOCAL(APP.Q3)"), QSG_RC_NOT_AUTHORIZED);
	/* CHG on QMGR lets the group's commands through. */
	assert_int_equal(run(h, "SET AUTHREC OBJTYPE(QMGR) GROUP(apps) AUTHADD(CHG)"), QSG_OK);
	assert_int_equal(run_as(h, "SET AUTHREC PROFILE(APP.Q3) OBJTYPE(QUEUE) GROUP(apps) "
				   "AUTHADD(DLT)"),
			 QSG_OK);
	assert_int_equal(run_as(h, "DELETE QLOCAL(APP.Q3)"), QSG_OK);
	/* libqsg's DEFPRTY lookup for a put needs PUT (or INQ), not DSP; any
	 * other DISPLAY of the queue needs DSP. */
	assert_int_equal(run(h, "SET AUTHREC PROFILE(OTHER) OBJTYPE(QUEUE) GROUP(apps) "
				"AUTHADD(PUT)"),
			 QSG_OK);
	assert_int_equal(run_as(h, "DISPLAY QUEUE(OTHER) DEFPRTY"), QSG_OK);
	assert_non_null(strstr(h->objs, "DEFPRTY(0)"));
	assert_int_equal(run_as(h, "DISPLAY QUEUE(OTHER)"), QSG_RC_NOT_AUTHORIZED);
	assert_int_equal(run_as(h, "DISPLAY QUEUE(OTHER) DEFPRTY MAXDEPTH"), QSG_RC_NOT_AUTHORIZED);
	/* PING needs nothing beyond CONNECT. */
	assert_int_equal(run_as(h, "PING QMGR"), QSG_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_authrec),
	    cmocka_unit_test_setup_teardown(exec_authrec, setup, teardown),
	    cmocka_unit_test_setup_teardown(exec_authorized, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
