/* Authority profiles (src/fsm/authmatch.c): generic names as MQ's OAM has
 * them, and the most specific of several matching profiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fsm/authmatch.h"

static void valid_profiles(void **state)
{
	(void)state;
	const char *ok[] = {"APP.Q",	"APP.*",  "APP.**",
			    "**",	"*",	  "A?C",
			    "**.REPLY", "A.**.Z", "SYSTEM.ADMIN.*.EVENT",
			    "a_b/c%d"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_true(authmatch_valid(ok[i]));
	const char *bad[] = {"",
			     "A..B",
			     ".A",
			     "A.",
			     "A**",
			     "**.**",
			     "A.***",
			     "A B",
			     "A-B",
			     "A.**B",
			     "123456789012345678901234567890123456789012345678X"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(authmatch_valid(bad[i]));
}

static void exact_and_single(void **state)
{
	(void)state;
	assert_true(authmatch("APP.Q", "APP.Q"));
	assert_false(authmatch("APP.Q", "APP.Q1"));
	assert_false(authmatch("APP.Q", "app.q")); /* case sensitive */
	assert_true(authmatch("APP.?", "APP.Q"));
	assert_false(authmatch("APP.?", "APP.QQ"));
	assert_false(authmatch("A?B", "A.B")); /* ? is not a dot */
	assert_true(authmatch("APP.*", "APP.Q"));
	assert_false(authmatch("APP.*", "APP.Q.R")); /* * stays in its qualifier */
	assert_false(authmatch("APP.*", "APP"));
	assert_true(authmatch("APP.*Q", "APP.MYQ"));
	assert_true(authmatch("APP.*Q", "APP.Q"));
	assert_false(authmatch("APP.*Q", "APP.QX"));
	assert_true(authmatch("A*B*C", "AxxBByyC"));
	assert_true(authmatch("*", "ANYTHING"));
	assert_false(authmatch("*", "TWO.QUALIFIERS"));
}

static void double_star(void **state)
{
	(void)state;
	assert_true(authmatch("**", "A"));
	assert_true(authmatch("**", "A.B.C"));
	assert_true(authmatch("APP.**", "APP"));
	assert_true(authmatch("APP.**", "APP.Q"));
	assert_true(authmatch("APP.**", "APP.Q.R.S"));
	assert_false(authmatch("APP.**", "APPX.Q"));
	assert_false(authmatch("APP.**", "APPX"));
	assert_true(authmatch("**.REPLY", "REPLY"));
	assert_true(authmatch("**.REPLY", "APP.X.REPLY"));
	assert_false(authmatch("**.REPLY", "APP.X.REPLY2"));
	assert_true(authmatch("A.**.Z", "A.Z"));
	assert_true(authmatch("A.**.Z", "A.B.C.Z"));
	assert_false(authmatch("A.**.Z", "A.B.C"));
	assert_false(authmatch("A.**.Z", "B.Z"));
	assert_true(authmatch("A.**.*Z", "A.B.XZ"));
}

/* The most specific profile: exact beats generic; at the first difference
 * from the left a literal beats ?, ? beats *, * beats **. */
static void most_specific(void **state)
{
	(void)state;
	assert_true(authmatch_cmp("APP.Q", "APP.*") < 0);
	assert_true(authmatch_cmp("APP.*", "APP.Q") > 0);
	assert_true(authmatch_cmp("APP.Q", "**") < 0);
	assert_true(authmatch_cmp("APP.*", "APP.**") < 0);
	assert_true(authmatch_cmp("APP.**", "**") < 0);
	assert_true(authmatch_cmp("APP.A*", "APP.*") < 0);
	assert_true(authmatch_cmp("APP.?", "APP.*") < 0);
	assert_true(authmatch_cmp("APP.Q?", "APP.Q*") < 0);
	assert_true(authmatch_cmp("APP.Q*", "APP.*Q") < 0); /* the later wildcard */
	assert_true(authmatch_cmp("APP.*.REPLY", "APP.**") < 0);
	assert_int_equal(authmatch_cmp("APP.*", "APP.*"), 0);
	/* never 0 for two different profiles: the choice is deterministic */
	assert_true(authmatch_cmp("A*", "B*") != 0);
	assert_true(authmatch_cmp("A*", "B*") == -authmatch_cmp("B*", "A*") ||
		    (authmatch_cmp("A*", "B*") < 0) != (authmatch_cmp("B*", "A*") < 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_profiles),
	    cmocka_unit_test(exact_and_single),
	    cmocka_unit_test(double_star),
	    cmocka_unit_test(most_specific),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
