/* Unit tests of channel authentication rules in the state machine
 * (src/fsm/fsm_chlauth.c, docs/security.md "Channel authentication
 * (CHLAUTH)"): the command's round trip and the decoder's checks, the
 * actions (ADD, REPLACE, REMOVE, REMOVEALL; BLOCKADDR's list edited), the
 * generation, command level 4 and the rules through a snapshot (format 11;
 * format 10 cannot hold rules). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm.h"
#include "fsm_harness.h"

static struct fsm_cmd chl(uint8_t action, const char *profile, uint8_t type, const char *address,
			  const char *key, uint8_t usersrc, const char *mcauser)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CHLAUTH_SET;
	struct fsm_chlauth *r = &c.chlauth;
	r->action = action;
	r->type = type;
	r->usersrc = usersrc;
	snprintf(r->profile, sizeof r->profile, "%s", profile);
	snprintf(r->mcauser, sizeof r->mcauser, "%s", mcauser);
	if (type == FSM_CHL_BLOCKADDR)
		snprintf(r->addrlist, sizeof r->addrlist, "%s", address);
	else
		snprintf(r->address, sizeof r->address, "%s", address);
	if (type == FSM_CHL_SSLPEERMAP)
		snprintf(r->sslpeer, sizeof r->sslpeer, "%s", key);
	if (type == FSM_CHL_USERMAP)
		snprintf(r->clntuser, sizeof r->clntuser, "%s", key);
	return c;
}

static void codec(void **state)
{
	(void)state;
	struct fsm_cmd c = chl(FSM_CHL_ADD, "APP.*", FSM_CHL_USERMAP, "10.0.0.1-20", "ALICE",
			       FSM_CHL_MAP, "APPUSER");
	snprintf(c.chlauth.descr, sizeof c.chlauth.descr, "alice runs as appuser");
	c.chlauth.warn = 0;
	struct qsg_wbuf w;
	struct fsm_cmd d;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_OK);
	assert_memory_equal(&c.chlauth, &d.chlauth, sizeof c.chlauth);
	assert_int_equal(fsm_cmd_level(&d), 4);
	for (size_t n = 0; n < w.len; n++)
		assert_int_not_equal(fsm_cmd_decode(w.data, n, &d, err), QSG_OK);
	qsg_put_u8(&w, 0);
	assert_int_not_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_OK);
	qsg_wbuf_close(&w);
	struct fsm_cmd bad[] = {
	    chl(0, "*", FSM_CHL_BLOCKADDR, "1.2.3.4", NULL, 0, ""), /* no action */
	    chl(FSM_CHL_ADD, "APP", FSM_CHL_BLOCKADDR, "1.2.3.4", NULL, 0, ""), /* not "*" */
	    chl(FSM_CHL_ADD, "*", FSM_CHL_BLOCKADDR, "1.2.3", NULL, 0, ""),
	    chl(FSM_CHL_ADD, "*", 9, "*", NULL, FSM_CHL_MAP, "U"),
	    chl(FSM_CHL_ADD, "A B", FSM_CHL_ADDRESSMAP, "*", NULL, FSM_CHL_MAP, "U"),
	    chl(FSM_CHL_ADD, "*", FSM_CHL_ADDRESSMAP, "nope", NULL, FSM_CHL_MAP, "U"),
	    chl(FSM_CHL_ADD, "*", FSM_CHL_ADDRESSMAP, "*", NULL, FSM_CHL_MAP,
		""), /* MAP: MCAUSER */
	    chl(FSM_CHL_ADD, "*", FSM_CHL_ADDRESSMAP, "*", NULL, FSM_CHL_NOACCESS, "U"),
	    chl(FSM_CHL_ADD, "*", FSM_CHL_ADDRESSMAP, "*", NULL, 7, ""),
	    chl(FSM_CHL_ADD, "*", FSM_CHL_USERMAP, "*", "", FSM_CHL_CHANNEL, ""), /* no CLNTUSER */
	    chl(FSM_CHL_ADD, "*", FSM_CHL_USERMAP, "*", "alice", FSM_CHL_CHANNEL, ""), /* folded */
	    chl(FSM_CHL_ADD, "*", FSM_CHL_SSLPEERMAP, "*", "CN", FSM_CHL_CHANNEL, ""),
	    chl(FSM_CHL_ADD, "*", FSM_CHL_USERMAP, "*", "A", FSM_CHL_MAP, "lower"),
	    chl(FSM_CHL_REMOVE, "*", FSM_CHL_USERMAP, "*", "A", FSM_CHL_MAP, "B"), /* values */
	    chl(FSM_CHL_REMOVEALL, "*", FSM_CHL_USERMAP, "*", "A", 0, ""), /* a key */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		qsg_wbuf_init(&w);
		assert_int_equal(fsm_cmd_encode(&bad[i], &w), QSG_OK);
		assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_RC_BAD_FRAME);
		qsg_wbuf_close(&w);
	}
}

static size_t count(struct ctx *x)
{
	size_t n;
	fsm_chlauth_rules(x->f, &n);
	return n;
}

static void actions(void **state)
{
	struct ctx *x = *state;
	size_t n;
	uint64_t gen = fsm_authrec_generation(x->f);
	struct fsm_cmd c =
	    chl(FSM_CHL_ADD, "*", FSM_CHL_BLOCKADDR, "10.0.0.1,10.0.0.2", NULL, 0, "");
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_true(fsm_authrec_generation(x->f) != gen);
	c = chl(FSM_CHL_ADD, "*", FSM_CHL_BLOCKADDR, "10.0.0.2,127.0.0.1", NULL, 0, "");
	assert_int_equal(exec(x, &c), QSG_OK); /* added to the list, once each */
	const struct fsm_chlauth *r = fsm_chlauth_rules(x->f, &n);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].addrlist, "10.0.0.1,10.0.0.2,127.0.0.1");
	assert_int_equal(r[0].action, 0);
	c = chl(FSM_CHL_REMOVE, "*", FSM_CHL_BLOCKADDR, "10.0.0.2", NULL, 0, "");
	assert_int_equal(exec(x, &c), QSG_OK);
	r = fsm_chlauth_rules(x->f, &n);
	assert_string_equal(r[0].addrlist, "10.0.0.1,127.0.0.1");
	c = chl(FSM_CHL_REPLACE, "*", FSM_CHL_BLOCKADDR, "127.0.0.1", NULL, 0, "");
	assert_int_equal(exec(x, &c), QSG_OK);
	r = fsm_chlauth_rules(x->f, &n);
	assert_string_equal(r[0].addrlist, "127.0.0.1");
	c = chl(FSM_CHL_REMOVE, "*", FSM_CHL_BLOCKADDR, "127.0.0.1", NULL, 0, "");
	assert_int_equal(exec(x, &c), QSG_OK); /* the last address: the rule goes */
	assert_int_equal(count(x), 0);
	assert_int_equal(exec(x, &c), QSG_RC_UNKNOWN_OBJECT);
	/* maps */
	c = chl(FSM_CHL_ADD, "APP.*", FSM_CHL_USERMAP, "*", "ALICE", FSM_CHL_MAP, "APPUSER");
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(exec(x, &c), QSG_RC_OBJECT_EXISTS);
	c = chl(FSM_CHL_REPLACE, "APP.*", FSM_CHL_USERMAP, "*", "ALICE", FSM_CHL_MAP, "OTHER");
	assert_int_equal(exec(x, &c), QSG_OK);
	r = fsm_chlauth_rules(x->f, &n);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].mcauser, "OTHER");
	c = chl(FSM_CHL_ADD, "APP.*", FSM_CHL_USERMAP, "10.*", "ALICE", FSM_CHL_NOACCESS, "");
	assert_int_equal(exec(x, &c), QSG_OK); /* another ADDRESS: another rule */
	c = chl(FSM_CHL_ADD, "APP.*", FSM_CHL_ADDRESSMAP, "*", NULL, FSM_CHL_CHANNEL, "");
	assert_int_equal(exec(x, &c), QSG_OK);
	c = chl(FSM_CHL_ADD, "B.*", FSM_CHL_USERMAP, "*", "BOB", FSM_CHL_CHANNEL, "");
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(count(x), 4);
	c = chl(FSM_CHL_REMOVE, "APP.*", FSM_CHL_USERMAP, "10.*", "ALICE", 0, "");
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(exec(x, &c), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(count(x), 3);
	c = chl(FSM_CHL_REMOVEALL, "APP.*", FSM_CHL_USERMAP, "", "", 0, "");
	assert_int_equal(exec(x, &c), QSG_OK); /* APP.* USERMAP only */
	assert_int_equal(count(x), 2);
	/* through a snapshot, same bytes */
	struct fsm *g = snapshot_restored(x);
	fsm_chlauth_rules(g, &n);
	assert_int_equal(n, 2);
	fsm_close(g);
}

static void snapshot_formats(void **state)
{
	struct ctx *x = *state;
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	struct fsm_cmd c = chl(FSM_CHL_ADD, "*", FSM_CHL_SSLPEERMAP, "*", "CN=app*,O=acme",
			       FSM_CHL_MAP, "APPUSER");
	assert_int_equal(exec(x, &c), QSG_OK);
	uint64_t d = fsm_digest(x->f);
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot(x->f, &w), QSG_OK);
	assert_int_equal(w.data[0], 11);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, err), QSG_OK);
	for (size_t n = w.len - 1; n + 40 > w.len; n--)
		assert_int_not_equal(fsm_restore(g, w.data, n, err), QSG_OK);
	assert_int_equal(fsm_restore(g, w.data, w.len, err), QSG_OK);
	size_t n;
	const struct fsm_chlauth *r = fsm_chlauth_rules(g, &n);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].sslpeer, "CN=app*,O=acme");
	fsm_close(g);
	qsg_wbuf_close(&w);
	/* the rules are in the digest */
	c = chl(FSM_CHL_REMOVE, "*", FSM_CHL_SSLPEERMAP, "*", "CN=app*,O=acme", 0, "");
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_true(fsm_digest(x->f) != d);
	/* format 10 cannot hold rules: refused, not dropped */
	c = chl(FSM_CHL_ADD, "*", FSM_CHL_ADDRESSMAP, "*", NULL, FSM_CHL_NOACCESS, "");
	assert_int_equal(exec(x, &c), QSG_OK);
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 10), QSG_RC_BAD_VERSION);
	qsg_wbuf_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(codec),
	    cmocka_unit_test_setup_teardown(actions, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_formats, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
