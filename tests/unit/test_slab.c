/* Unit tests of the item pool (src/common/slab.c): sizes, zeroing, reuse of
 * freed slots, blocks returned when empty (one spare kept), a FIFO drain of
 * a million items returning every block, and free by address across pools. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/qsg_err.h"
#include "common/slab.h"

static void bad_sizes(void **state)
{
	(void)state;
	struct qsg_slab *s;
	assert_int_equal(qsg_slab_init(&s, 0), QSG_RC_INVALID);
	assert_null(s);
	assert_int_equal(qsg_slab_init(&s, QSG_SLAB_MAX_ITEM + 1), QSG_RC_INVALID);
	assert_int_equal(qsg_slab_init(&s, QSG_SLAB_MAX_ITEM), QSG_OK);
	qsg_slab_close(s);
	qsg_slab_close(NULL);
	qsg_slab_free(NULL);
}

/* Items are zeroed, distinct, aligned to 8, inside one block until it is
 * full, and a freed slot is handed out again before a new one. */
static void alloc_free_reuse(void **state)
{
	(void)state;
	struct qsg_slab *s;
	assert_int_equal(qsg_slab_init(&s, 70), QSG_OK); /* rounded to 72 */
	uint8_t *a = qsg_slab_alloc(s), *b = qsg_slab_alloc(s);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal((uintptr_t)a % 8, 0);
	assert_int_equal(b - a, 72);
	for (int i = 0; i < 72; i++)
		assert_int_equal(a[i], 0);
	memset(a, 0xab, 72);
	qsg_slab_free(a);
	uint8_t *c = qsg_slab_alloc(s);
	assert_ptr_equal(c, a);
	for (int i = 0; i < 72; i++)
		assert_int_equal(c[i], 0);
	struct qsg_slab_stats st;
	qsg_slab_stats(s, &st);
	assert_int_equal(st.items, 2);
	assert_int_equal(st.blocks, 1);
	assert_int_equal(st.bytes, QSG_SLAB_BLOCK);
	qsg_slab_free(b);
	qsg_slab_free(c);
	qsg_slab_stats(s, &st);
	assert_int_equal(st.items, 0);
	assert_int_equal(st.blocks, 1); /* the spare */
	qsg_slab_close(s);
}

/* A million 72-byte items (about 69 blocks), freed in FIFO order as a
 * queue drains: blocks go back as they empty, only the spare is left, and
 * the memory held was within a block of items x 72. Then refilled: the
 * holes of a block freed at random are used before new blocks. */
static void fifo_drain_returns_blocks(void **state)
{
	(void)state;
	enum { N = 1000000 };
	struct qsg_slab *s;
	assert_int_equal(qsg_slab_init(&s, 72), QSG_OK);
	void **v = malloc(N * sizeof *v);
	assert_non_null(v);
	for (size_t i = 0; i < N; i++) {
		v[i] = qsg_slab_alloc(s);
		assert_non_null(v[i]);
		memcpy(v[i], &i, sizeof i);
	}
	struct qsg_slab_stats st;
	qsg_slab_stats(s, &st);
	assert_int_equal(st.items, N);
	size_t per_block = (QSG_SLAB_BLOCK - 64) / 72;
	assert_int_equal(st.blocks, (N + per_block - 1) / per_block);
	assert_true(st.bytes < (size_t)N * 72 + QSG_SLAB_BLOCK);
	size_t peak = st.blocks;
	for (size_t i = 0; i < N; i++) {
		size_t got;
		memcpy(&got, v[i], sizeof got);
		assert_int_equal(got, i); /* nothing overwrote it */
		qsg_slab_free(v[i]);
		if (i == N / 2) {
			qsg_slab_stats(s, &st);
			assert_true(st.blocks <= peak / 2 + 2);
		}
	}
	qsg_slab_stats(s, &st);
	assert_int_equal(st.items, 0);
	assert_int_equal(st.blocks, 1);

	/* Refill three blocks, free every other item of the first: the next
	 * allocations take those holes, no block is mapped. */
	for (size_t i = 0; i < 3 * per_block; i++)
		assert_non_null(v[i] = qsg_slab_alloc(s));
	qsg_slab_stats(s, &st);
	assert_int_equal(st.blocks, 3);
	for (size_t i = 0; i < per_block; i += 2)
		qsg_slab_free(v[i]);
	for (size_t i = 0; i < per_block; i += 2) {
		void *p = qsg_slab_alloc(s);
		assert_true((uintptr_t)p / QSG_SLAB_BLOCK == (uintptr_t)v[1] / QSG_SLAB_BLOCK);
	}
	qsg_slab_stats(s, &st);
	assert_int_equal(st.blocks, 3);
	free(v);
	qsg_slab_close(s); /* items still allocated die with the pool */
}

/* qsg_slab_free finds the pool from the address: two pools, interleaved. */
static void two_pools(void **state)
{
	(void)state;
	struct qsg_slab *a, *b;
	assert_int_equal(qsg_slab_init(&a, 16), QSG_OK);
	assert_int_equal(qsg_slab_init(&b, 128), QSG_OK);
	void *x = qsg_slab_alloc(a), *y = qsg_slab_alloc(b);
	qsg_slab_free(x);
	struct qsg_slab_stats sa, sb;
	qsg_slab_stats(a, &sa);
	qsg_slab_stats(b, &sb);
	assert_int_equal(sa.items, 0);
	assert_int_equal(sb.items, 1);
	qsg_slab_free(y);
	qsg_slab_stats(b, &sb);
	assert_int_equal(sb.items, 0);
	qsg_slab_close(a);
	qsg_slab_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bad_sizes),
	    cmocka_unit_test(alloc_free_reuse),
	    cmocka_unit_test(fifo_drain_returns_blocks),
	    cmocka_unit_test(two_pools),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
