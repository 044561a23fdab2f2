/* Channel authentication rules (src/fsm/chlmatch.c): channel profiles,
 * address patterns and ranges, SSLPEER patterns, and which rule applies
 * (BLOCKADDR first, then the most specific profile, SSLPEERMAP before
 * USERMAP before ADDRESSMAP, then the most specific filter; WARN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fsm/chlmatch.h"

static void profiles(void **state)
{
	(void)state;
	assert_null(chlmatch_profile_why("*"));
	assert_null(chlmatch_profile_why("SYSTEM.*.SVRCONN"));
	assert_non_null(chlmatch_profile_why(""));
	assert_non_null(chlmatch_profile_why("A B"));
	assert_true(chlmatch_profile("*", "SYSTEM.DEF.SVRCONN"));
	assert_true(chlmatch_profile("SYSTEM.*", "SYSTEM.DEF.SVRCONN")); /* '*' crosses dots */
	assert_true(chlmatch_profile("SYS*CONN", "SYSTEM.DEF.SVRCONN"));
	assert_false(chlmatch_profile("SYSTEM.*", "APP.SVRCONN"));
	assert_false(chlmatch_profile("APP.SVRCONN", "APP.SVRCONN2"));
	assert_false(chlmatch_profile("app.svrconn", "APP.SVRCONN")); /* case sensitive */
	/* exact beats generic; a later '*' is more specific */
	assert_true(chlmatch_profile_cmp("APP.SVRCONN", "APP.*") < 0);
	assert_true(chlmatch_profile_cmp("SYSTEM.*", "SYS*") < 0);
	assert_true(chlmatch_profile_cmp("*", "SYS*") > 0);
	assert_int_equal(chlmatch_profile_cmp("A.*", "A.*"), 0);
}

static void addresses(void **state)
{
	(void)state;
	const char *ok[] = {"*",	"10.0.0.1", "10.0.0.1-20", "192.168.*",
			    "10.*.*.1", "::1",	    "fe80::*",	   "0-9.1.2.3"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_null(chlmatch_addr_why(ok[i]));
	const char *bad[] = {"",	 "10.0.0",  "10.0.0.256", "10.0.0.20-1", "10.0.0.1.5",
			     "host.com", "10..0.1", "10.0.0.1-",  "1*.0.0.1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_non_null(chlmatch_addr_why(bad[i]));
	assert_true(chlmatch_addr("*", "127.0.0.1"));
	assert_true(chlmatch_addr("127.0.0.1", "127.0.0.1"));
	assert_false(chlmatch_addr("127.0.0.1", "127.0.0.2"));
	assert_true(chlmatch_addr("10.0.0.1-20", "10.0.0.1"));
	assert_true(chlmatch_addr("10.0.0.1-20", "10.0.0.20"));
	assert_false(chlmatch_addr("10.0.0.1-20", "10.0.0.21"));
	assert_false(chlmatch_addr("10.0.0.1-20", "10.0.0.0"));
	assert_true(chlmatch_addr("192.168.*", "192.168.7.9"));
	assert_false(chlmatch_addr("192.168.*", "192.169.7.9"));
	assert_true(chlmatch_addr("10.*.*.1", "10.200.3.1"));
	assert_false(chlmatch_addr("10.*.*.1", "10.200.3.2"));
	assert_true(chlmatch_addr("127.0.0.1", "::ffff:127.0.0.1")); /* dual stack */
	assert_true(chlmatch_addr("fe80::*", "FE80::1"));
	assert_false(chlmatch_addr("10.*", "::1"));
	/* narrower first */
	assert_true(chlmatch_addr_cmp("10.0.0.5", "10.0.0.1-20") < 0);
	assert_true(chlmatch_addr_cmp("10.0.0.1-20", "10.0.0.*") < 0);
	assert_true(chlmatch_addr_cmp("10.0.0.*", "10.*") < 0);
	assert_true(chlmatch_addr_cmp("*", "10.*") > 0);
	/* lists */
	char pat[80];
	assert_null(chlmatch_addrlist_why("10.0.0.1,192.168.*"));
	assert_non_null(chlmatch_addrlist_why("10.0.0.1,"));
	assert_non_null(chlmatch_addrlist_why("10.0.0.1,,10.0.0.2"));
	assert_non_null(chlmatch_addrlist_why("10.0.0.1,nope"));
	assert_true(chlmatch_addrlist("10.0.0.1,192.168.*", "192.168.1.1", pat, sizeof pat));
	assert_string_equal(pat, "192.168.*");
	assert_false(chlmatch_addrlist("10.0.0.1,192.168.*", "10.0.0.2", pat, sizeof pat));
}

static void peers(void **state)
{
	(void)state;
	const char *dn = "CN=app1,OU=pay,O=acme,C=GB";
	assert_null(chlmatch_peer_why("CN=app*, O=acme"));
	assert_non_null(chlmatch_peer_why("CN"));
	assert_non_null(chlmatch_peer_why("CN=a,,O=b"));
	assert_true(chlmatch_peer("CN=app1", dn));
	assert_true(chlmatch_peer("cn=APP1", dn)); /* without case */
	assert_true(chlmatch_peer("CN=app*, O=acme", dn));
	assert_false(chlmatch_peer("CN=app2", dn));
	assert_false(chlmatch_peer("CN=app1,O=other", dn));
	assert_false(chlmatch_peer("CN=app1", ""));
	assert_true(chlmatch_peer("O=a\\,b", "CN=x,O=a\\,b"));
	assert_true(chlmatch_peer_cmp("CN=app1,O=acme", "CN=app1") < 0);
	assert_true(chlmatch_peer_cmp("CN=app1", "CN=app*") < 0);
}

static struct fsm_chlauth rule(const char *profile, unsigned type, const char *address,
			       const char *key, unsigned usersrc, const char *mcauser)
{
	struct fsm_chlauth r;
	memset(&r, 0, sizeof r);
	snprintf(r.profile, sizeof r.profile, "%s", profile);
	r.type = (uint8_t)type;
	r.usersrc = (uint8_t)usersrc;
	snprintf(r.mcauser, sizeof r.mcauser, "%s", mcauser);
	if (type == FSM_CHL_BLOCKADDR) {
		snprintf(r.addrlist, sizeof r.addrlist, "%s", address);
		return r;
	}
	snprintf(r.address, sizeof r.address, "%s", address);
	if (type == FSM_CHL_SSLPEERMAP)
		snprintf(r.sslpeer, sizeof r.sslpeer, "%s", key);
	if (type == FSM_CHL_USERMAP)
		snprintf(r.clntuser, sizeof r.clntuser, "%s", key);
	return r;
}

static void blockaddr_first(void **state)
{
	(void)state;
	struct fsm_chlauth r[] = {
	    rule("*", FSM_CHL_BLOCKADDR, "10.0.0.1-20,127.0.0.1", NULL, 0, ""),
	    rule("APP.SVRCONN", FSM_CHL_ADDRESSMAP, "*", NULL, FSM_CHL_MAP, "APPUSER"),
	};
	struct chl_in in = {"APP.SVRCONN", "10.0.0.7", "", "ALICE"};
	struct chl_result res;
	chlmatch_decide(r, 2, &in, false, &res);
	assert_int_equal(res.verdict, CHL_BLOCKADDR);
	assert_ptr_equal(res.rule, &r[0]);
	assert_string_equal(res.blocked_by, "10.0.0.1-20");
	/* at accept: the channel is not known yet */
	in.channel = NULL;
	chlmatch_decide(r, 2, &in, true, &res);
	assert_int_equal(res.verdict, CHL_BLOCKADDR);
	in.channel = "APP.SVRCONN";
	in.address = "10.0.0.21";
	chlmatch_decide(r, 2, &in, false, &res);
	assert_int_equal(res.verdict, CHL_ALLOW);
	assert_ptr_equal(res.rule, &r[1]);
	assert_string_equal(res.mcauser, "APPUSER");
	chlmatch_decide(r, 2, &in, true, &res); /* maps are not looked at */
	assert_null(res.rule);
	assert_string_equal(res.mcauser, "");
}

static void warn_only_logs(void **state)
{
	(void)state;
	struct fsm_chlauth r[] = {
	    rule("*", FSM_CHL_BLOCKADDR, "127.0.0.1", NULL, 0, ""),
	    rule("*", FSM_CHL_ADDRESSMAP, "127.*", NULL, FSM_CHL_NOACCESS, ""),
	};
	r[0].warn = 1;
	r[1].warn = 1;
	struct chl_in in = {"SYSTEM.DEF.SVRCONN", "127.0.0.1", "", ""};
	struct chl_result res;
	chlmatch_decide(r, 2, &in, false, &res);
	assert_int_equal(res.verdict, CHL_ALLOW);
	assert_int_equal(res.nwarned, 2);
	assert_ptr_equal(res.warned[0], &r[0]);
	assert_ptr_equal(res.warned[1], &r[1]);
	assert_string_equal(res.mcauser, "");
	r[1].warn = 0;
	chlmatch_decide(r, 2, &in, false, &res);
	assert_int_equal(res.verdict, CHL_NOACCESS);
	assert_ptr_equal(res.rule, &r[1]);
	assert_int_equal(res.nwarned, 1);
}

static void precedence(void **state)
{
	(void)state;
	struct fsm_chlauth r[] = {
	    rule("*", FSM_CHL_ADDRESSMAP, "*", NULL, FSM_CHL_NOACCESS, ""),
	    rule("APP.*", FSM_CHL_ADDRESSMAP, "127.0.0.*", NULL, FSM_CHL_MAP, "BYADDR"),
	    rule("APP.*", FSM_CHL_ADDRESSMAP, "127.0.0.1", NULL, FSM_CHL_MAP, "BYADDR1"),
	    rule("APP.*", FSM_CHL_USERMAP, "*", "ALICE", FSM_CHL_MAP, "BYUSER"),
	    rule("APP.*", FSM_CHL_SSLPEERMAP, "*", "CN=app*", FSM_CHL_MAP, "BYPEER"),
	    rule("APP.*", FSM_CHL_SSLPEERMAP, "*", "CN=app1,O=acme", FSM_CHL_CHANNEL, ""),
	    rule("APP.SVRCONN", FSM_CHL_ADDRESSMAP, "10.*", NULL, FSM_CHL_MAP, "EXACT"),
	};
	size_t n = sizeof r / sizeof r[0];
	struct chl_result res;
	/* the most specific profile first: APP.SVRCONN from 10.x */
	struct chl_in in = {"APP.SVRCONN", "10.1.1.1", "CN=app1,O=acme", "ALICE"};
	chlmatch_decide(r, n, &in, false, &res);
	assert_string_equal(res.mcauser, "EXACT");
	/* not from 10.x: APP.* rules; SSLPEERMAP first, the most specific DN */
	in.address = "127.0.0.1";
	chlmatch_decide(r, n, &in, false, &res);
	assert_ptr_equal(res.rule, &r[5]);
	assert_int_equal(res.verdict, CHL_ALLOW);
	assert_string_equal(res.mcauser, ""); /* USERSRC(CHANNEL): its own identity */
	in.sslpeer = "CN=app2,O=acme";
	chlmatch_decide(r, n, &in, false, &res);
	assert_string_equal(res.mcauser, "BYPEER");
	/* no certificate: USERMAP before ADDRESSMAP */
	in.sslpeer = "";
	chlmatch_decide(r, n, &in, false, &res);
	assert_string_equal(res.mcauser, "BYUSER");
	in.clntuser = "alice"; /* user names without case */
	chlmatch_decide(r, n, &in, false, &res);
	assert_string_equal(res.mcauser, "BYUSER");
	/* then ADDRESSMAP, the narrowest address */
	in.clntuser = "BOB";
	chlmatch_decide(r, n, &in, false, &res);
	assert_string_equal(res.mcauser, "BYADDR1");
	in.address = "127.0.0.9";
	chlmatch_decide(r, n, &in, false, &res);
	assert_string_equal(res.mcauser, "BYADDR");
	/* another channel: only the "*" rule, NOACCESS */
	in.channel = "OTHER.SVRCONN";
	chlmatch_decide(r, n, &in, false, &res);
	assert_int_equal(res.verdict, CHL_NOACCESS);
	assert_ptr_equal(res.rule, &r[0]);
	/* no rule at all: allowed as itself */
	chlmatch_decide(r, 0, &in, false, &res);
	assert_int_equal(res.verdict, CHL_ALLOW);
	assert_null(res.rule);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(profiles),	      cmocka_unit_test(addresses),
	    cmocka_unit_test(peers),	      cmocka_unit_test(blockaddr_first),
	    cmocka_unit_test(warn_only_logs), cmocka_unit_test(precedence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
