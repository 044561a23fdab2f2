/* Unit tests of the member's authority checks (src/qsgd/auth.c,
 * docs/security.md "Authority records"): who bypasses the records
 * (authentication = none, the break-glass identity, [security]
 * admin_group), an anonymous connection checked as PRINCIPAL(ANONYMOUS)
 * without its groups, the per-connection cache following the records'
 * generation, and the QSG8015W lines limited to AUTH_DENY_LOG_MAX a second.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/codec.h"
#include "fsm/fsm.h"
#include "qsgd/auth.h"
#include "qsgd/config.h"
#include "qsgd/log.h"

struct ctx {
	uv_loop_t loop;
	struct qsgd_config cfg;
	struct fsm *f;
	struct qlog log;
	FILE *logf;
	char *logbuf;
	size_t loglen;
	struct auth a;
	int64_t now;
};

static void apply(struct ctx *x, const struct fsm_cmd *cmd)
{
	struct qsg_wbuf c, e, res;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&c);
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&res);
	assert_int_equal(fsm_cmd_encode(cmd, &c), QSG_OK);
	fsm_entry_begin(&e, ++x->now);
	fsm_entry_add(&e, c.data, c.len);
	assert_int_equal(fsm_apply(x->f, e.data, e.len, &res, err), QSG_OK);
	qsg_wbuf_close(&c);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&res);
}

static void grant(struct ctx *x, uint8_t objtype, const char *profile, uint8_t enttype,
		  const char *entity, uint32_t add, uint32_t rmv)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_AUTHREC_SET;
	snprintf(c.authrec.profile, sizeof c.authrec.profile, "%s", profile);
	c.authrec.objtype = objtype;
	c.authrec.enttype = enttype;
	snprintf(c.authrec.entity, sizeof c.authrec.entity, "%s", entity);
	c.authrec.auth = add;
	c.authrec.rmv = rmv;
	apply(x, &c);
}

static struct auth_id ident(uint8_t how, const char *user, const char *g1, const char *g2)
{
	struct auth_id id;
	memset(&id, 0, sizeof id);
	id.how = how;
	snprintf(id.user, sizeof id.user, "%s", user);
	if (g1 != NULL)
		snprintf(id.groups[id.ngroups++], sizeof id.groups[0], "%s", g1);
	if (g2 != NULL)
		snprintf(id.groups[id.ngroups++], sizeof id.groups[0], "%s", g2);
	return id;
}

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof *x);
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(uv_loop_init(&x->loop), 0);
	qsgd_config_defaults(&x->cfg);
	x->cfg.id = 1;
	snprintf(x->cfg.name, sizeof x->cfg.name, "QM1");
	x->cfg.auth_mode = QSGD_AUTH_REQUIRED;
	assert_int_equal(fsm_init(&x->f, err), QSG_OK);
	x->logf = open_memstream(&x->logbuf, &x->loglen);
	qlog_init(&x->log, x->logf, "QM1", QLOG_INFO);
	assert_int_equal(auth_init(&x->a, &x->loop, &x->cfg, x->f, &x->log, err), QSG_OK);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *x = *state;
	fclose(x->logf);
	free(x->logbuf);
	fsm_close(x->f);
	uv_loop_close(&x->loop);
	free(x);
	return 0;
}

static void who_bypasses(void **state)
{
	struct ctx *x = *state;
	grant(x, FSM_AUTHOBJ_QUEUE, "APP.**", FSM_AUTHENT_GROUP, "APPS", FSM_AUTH_PUT, 0);
	struct auth_id bob = ident(AUTH_PASSWORD, "BOB", "APPS", NULL);
	assert_int_equal(auth_authority(&x->a, &bob, FSM_AUTHOBJ_QUEUE, "APP.Q"), FSM_AUTH_PUT);
	assert_int_equal(auth_authority(&x->a, &bob, FSM_AUTHOBJ_QMGR, "QM1"), 0);
	assert_false(auth_bypass(&x->a, &bob));
	/* authentication = none, the break-glass identity, the admin group. */
	struct auth_id off = ident(AUTH_OFF, "", NULL, NULL);
	struct auth_id bg = ident(AUTH_BREAKGLASS, "QSGADMIN", NULL, NULL);
	struct auth_id adm = ident(AUTH_PASSWORD, "CAROL", "APPS", "QSGADMIN");
	assert_int_equal(auth_authority(&x->a, &off, FSM_AUTHOBJ_QMGR, "QM1"), FSM_AUTH_ALL);
	assert_int_equal(auth_authority(&x->a, &bg, FSM_AUTHOBJ_QUEUE, "X"), FSM_AUTH_ALL);
	assert_int_equal(auth_authority(&x->a, &adm, FSM_AUTHOBJ_CHANNEL, "C"), FSM_AUTH_ALL);
	/* Another admin_group: QSGADMIN is an ordinary group then. */
	snprintf(x->cfg.admin_group, sizeof x->cfg.admin_group, "OPS");
	assert_false(auth_bypass(&x->a, &adm));
	assert_int_equal(auth_authority(&x->a, &adm, FSM_AUTHOBJ_QUEUE, "APP.Q"), FSM_AUTH_PUT);
	struct auth_id ops = ident(AUTH_CERT, "DAVE", "OPS", NULL);
	assert_true(auth_bypass(&x->a, &ops));
	/* A user named like the admin group is not a member of it. */
	struct auth_id named = ident(AUTH_PASSWORD, "OPS", NULL, NULL);
	assert_false(auth_bypass(&x->a, &named));
}

static void anonymous(void **state)
{
	struct ctx *x = *state;
	grant(x, FSM_AUTHOBJ_QMGR, "**", FSM_AUTHENT_PRINCIPAL, "ANONYMOUS", FSM_AUTH_CONNECT, 0);
	grant(x, FSM_AUTHOBJ_QUEUE, "PUBLIC.*", FSM_AUTHENT_PRINCIPAL, "ANONYMOUS", FSM_AUTH_BROWSE,
	      0);
	grant(x, FSM_AUTHOBJ_QUEUE, "**", FSM_AUTHENT_GROUP, "APPS", FSM_AUTH_GET, 0);
	struct auth_id anon = ident(AUTH_ANONYMOUS, "", NULL, NULL);
	assert_string_equal(auth_principal(&anon), "ANONYMOUS");
	assert_int_equal(auth_authority(&x->a, &anon, FSM_AUTHOBJ_QMGR, "QM1"), FSM_AUTH_CONNECT);
	assert_int_equal(auth_authority(&x->a, &anon, FSM_AUTHOBJ_QUEUE, "PUBLIC.NEWS"),
			 FSM_AUTH_BROWSE);
	assert_int_equal(auth_authority(&x->a, &anon, FSM_AUTHOBJ_QUEUE, "APP.Q"), 0);
	/* Groups never count for an anonymous connection. */
	struct auth_id anon_g = ident(AUTH_ANONYMOUS, "", "APPS", NULL);
	assert_int_equal(auth_authority(&x->a, &anon_g, FSM_AUTHOBJ_QUEUE, "APP.Q"), 0);
}

static void cache_follows_generation(void **state)
{
	struct ctx *x = *state;
	struct auth_cache cache;
	memset(&cache, 0, sizeof cache);
	struct auth_id bob = ident(AUTH_PASSWORD, "BOB", "APPS", NULL);
	assert_int_equal(auth_authority_cached(&x->a, &cache, &bob, FSM_AUTHOBJ_QUEUE, "Q1"), 0);
	grant(x, FSM_AUTHOBJ_QUEUE, "Q1", FSM_AUTHENT_GROUP, "APPS", FSM_AUTH_GET, 0);
	assert_int_equal(auth_authority_cached(&x->a, &cache, &bob, FSM_AUTHOBJ_QUEUE, "Q1"),
			 FSM_AUTH_GET);
	/* More names than slots: answers stay right. */
	for (int i = 0; i < 3 * AUTH_CACHE_SLOTS; i++) {
		char q[16];
		snprintf(q, sizeof q, "Q%d", i % (AUTH_CACHE_SLOTS + 2));
		uint32_t want = strcmp(q, "Q1") == 0 ? FSM_AUTH_GET : 0;
		assert_int_equal(auth_authority_cached(&x->a, &cache, &bob, FSM_AUTHOBJ_QUEUE, q),
				 want);
	}
	grant(x, FSM_AUTHOBJ_QUEUE, "Q1", FSM_AUTHENT_GROUP, "APPS", 0, FSM_AUTH_GET);
	assert_int_equal(auth_authority_cached(&x->a, &cache, &bob, FSM_AUTHOBJ_QUEUE, "Q1"), 0);
	/* Object types are cached apart. */
	grant(x, FSM_AUTHOBJ_CHANNEL, "Q1", FSM_AUTHENT_GROUP, "APPS", FSM_AUTH_CTRL, 0);
	assert_int_equal(auth_authority_cached(&x->a, &cache, &bob, FSM_AUTHOBJ_CHANNEL, "Q1"),
			 FSM_AUTH_CTRL);
	assert_int_equal(auth_authority_cached(&x->a, &cache, &bob, FSM_AUTHOBJ_QUEUE, "Q1"), 0);
}

static unsigned count_lines(struct ctx *x, const char *what)
{
	fflush(x->logf);
	unsigned n = 0;
	for (const char *p = x->logbuf; p != NULL && (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

static void denials_rate_limited(void **state)
{
	struct ctx *x = *state;
	struct auth_id bob = ident(AUTH_PASSWORD, "BOB", NULL, NULL);
	uv_update_time(&x->loop);
	for (int i = 0; i < 50; i++)
		auth_denied(&x->a, &bob, "127.0.0.1:1", FSM_AUTH_GET, FSM_AUTHOBJ_QUEUE, "Q1",
			    "GET");
	assert_int_equal(count_lines(x, "GET by user BOB from 127.0.0.1:1 refused: no GET "
					"authority on QUEUE(Q1)"),
			 AUTH_DENY_LOG_MAX);
	/* A second later: the count of those not logged, then lines again. */
	x->a.deny_window_ms -= 1000;
	auth_denied(&x->a, &bob, "127.0.0.1:1", FSM_AUTH_PUT, FSM_AUTHOBJ_QUEUE, "Q2", "PUT");
	assert_int_equal(count_lines(x, "40 more authority refusals"), 1);
	assert_int_equal(count_lines(x, "no PUT authority on QUEUE(Q2)"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(who_bypasses, setup, teardown),
	    cmocka_unit_test_setup_teardown(anonymous, setup, teardown),
	    cmocka_unit_test_setup_teardown(cache_follows_generation, setup, teardown),
	    cmocka_unit_test_setup_teardown(denials_rate_limited, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
