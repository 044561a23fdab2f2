/* Unit tests for src/gw/gwprops.c: the gateway property format 1 (round
 * trip, empty area, other formats, every truncation and bad length). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/qsg_err.h"
#include "gw/gwprops.h"

static void roundtrip(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	gwprops_begin(&w);
	gwprops_add(&w, "content-type", 12, "text/plain", 10);
	gwprops_add(&w, "x:y", 3, "a\0b", 3);
	gwprops_add(&w, "empty", 5, "", 0);
	assert_int_equal(w.err, QSG_OK);
	size_t pos = 0;
	struct qsg_slice n, v;
	assert_int_equal(gwprops_next(w.data, w.len, &pos, &n, &v), 1);
	assert_memory_equal(n.p, "content-type", 12);
	assert_int_equal(v.len, 10);
	assert_int_equal(gwprops_next(w.data, w.len, &pos, &n, &v), 1);
	assert_int_equal(n.len, 3);
	assert_memory_equal(v.p, "a\0b", 3);
	assert_int_equal(gwprops_next(w.data, w.len, &pos, &n, &v), 1);
	assert_int_equal(v.len, 0);
	assert_int_equal(gwprops_next(w.data, w.len, &pos, &n, &v), 0);
	/* Every truncation inside an entry is refused, never read past. */
	for (size_t len = 2; len < w.len; len++) {
		int rc = 1;
		pos = 0;
		while (rc == 1)
			rc = gwprops_next(w.data, len, &pos, &n, &v);
		assert_true(rc == -1 || (rc == 0 && pos == len));
		assert_true(pos <= len);
	}
	qsg_wbuf_close(&w);
}

static void other_formats(void **state)
{
	(void)state;
	size_t pos = 0;
	struct qsg_slice n, v;
	assert_int_equal(gwprops_next(NULL, 0, &pos, &n, &v), 0); /* no properties */
	const uint8_t libqsg[] = "opaque bytes";
	pos = 0;
	assert_int_equal(gwprops_next(libqsg, sizeof libqsg, &pos, &n, &v), -1);
	const uint8_t zero_name[] = {1, 0, 0, 0, 0, 0, 0};
	pos = 0;
	assert_int_equal(gwprops_next(zero_name, sizeof zero_name, &pos, &n, &v), -1);
	const uint8_t nul_name[] = {1, 2, 0, 'a', 0, 0, 0, 0, 0};
	pos = 0;
	assert_int_equal(gwprops_next(nul_name, sizeof nul_name, &pos, &n, &v), -1);
	const uint8_t long_value[] = {1, 1, 0, 'a', 0xff, 0xff, 0xff, 0xff, 'x'};
	pos = 0;
	assert_int_equal(gwprops_next(long_value, sizeof long_value, &pos, &n, &v), -1);
	const uint8_t only_version[] = {1};
	pos = 0;
	assert_int_equal(gwprops_next(only_version, 1, &pos, &n, &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(roundtrip),
	    cmocka_unit_test(other_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
