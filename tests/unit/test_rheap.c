/* raft-glue/rheap.c: libraft's frees are made by a background thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>

#include "raft-glue/rheap.h"

/* Every raft_free after rheap_enable is queued (none inline), the thread
 * makes all of them (done == deferred after a drain), and blocks from
 * raft_malloc/raft_calloc/raft_realloc/raft_aligned_alloc are usable. */
static void frees_are_deferred(void **state)
{
	(void)state;
	enum { N = 100000 };
	struct rheap_stats s0, s1;
	rheap_enable();
	rheap_get_stats(&s0);
	for (int i = 0; i < N; i++) {
		uint8_t *p = raft_malloc(64 + (size_t)(i % 512));
		assert_non_null(p);
		memset(p, 0xab, 64);
		raft_free(p);
	}
	uint64_t *c = raft_calloc(16, sizeof *c);
	assert_non_null(c);
	for (int i = 0; i < 16; i++)
		assert_int_equal(c[i], 0);
	c = raft_realloc(c, 4096 * sizeof *c);
	assert_non_null(c);
	c[4095] = 7;
	raft_free(c);
	void *a = raft_aligned_alloc(4096, 8192);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % 4096, 0);
	raft_aligned_free(4096, a);
	raft_free(NULL); /* neither queued nor counted */
	rheap_drain();
	rheap_get_stats(&s1);
	assert_int_equal(s1.deferred - s0.deferred, N + 2);
	assert_int_equal(s1.inline_frees, s0.inline_frees);
	assert_int_equal(s1.done, s1.deferred);
	assert_true(s1.max_queued >= 1);
	/* Drained: frees are now made inline. */
	raft_free(raft_malloc(32));
	rheap_get_stats(&s0);
	assert_int_equal(s0.inline_frees, s1.inline_frees + 1);
	assert_int_equal(s0.deferred, s1.deferred);
	/* Enabled again: deferred again. */
	rheap_enable();
	raft_free(raft_malloc(32));
	rheap_drain();
	rheap_get_stats(&s1);
	assert_int_equal(s1.deferred, s0.deferred + 1);
	assert_int_equal(s1.done, s1.deferred);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(frees_are_deferred),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
