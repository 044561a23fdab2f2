/* Unit tests of the item pool (src/common/slab.c): sizes, zeroing, reuse of
 * freed slots, blocks returned when empty (one spare kept), a FIFO drain of
 * a million items returning every block, free by address across pools; and
 * what a snapshot's fork() gets (docs/storage.md, "What fork() copies"):
 * QSG_SLAB_NOFORK pools and qsg_nofork_alloc blocks are not mapped in a
 * child, and a QSG_SLAB_HUGE block split into small pages by a write while
 * a child shared it is one huge page again once full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/nofork.h"
#include "common/qsg_err.h"
#include "common/slab.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

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

/* Whether the page at p is mapped (mincore says ENOMEM when not). */
static bool mapped(const void *p)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	unsigned char v;
	return mincore((void *)((uintptr_t)p & ~(pg - 1)), 1, &v) == 0;
}

/* Runs in a child: exit 0 iff each of v[0..n) is mapped as want[i] says. */
static void child_checks(void *const *v, const bool *want, size_t n)
{
	int status;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (size_t i = 0; i < n; i++)
			if (mapped(v[i]) != want[i])
				_exit(10 + (int)i);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A NOFORK pool's blocks and a qsg_nofork_alloc block are mapped here and
 * absent in a child; a default (HUGE) pool's block is in both. */
static void nofork_not_in_child(void **state)
{
	(void)state;
	struct qsg_slab *h, *n;
	assert_int_equal(qsg_slab_init_flags(&n, 64, QSG_SLAB_HUGE | QSG_SLAB_NOFORK),
			 QSG_RC_INVALID);
	assert_int_equal(qsg_slab_init_flags(&n, 64, 4), QSG_RC_INVALID);
	assert_int_equal(qsg_slab_init(&h, 64), QSG_OK);
	assert_int_equal(qsg_slab_init_flags(&n, 64, QSG_SLAB_NOFORK), QSG_OK);
	uint8_t *a = qsg_slab_alloc(h), *b = qsg_slab_alloc(n);
	uint8_t *c = qsg_nofork_alloc(3 * 4096 + 1);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	for (size_t i = 0; i < 3 * 4096 + 1; i++)
		assert_int_equal(c[i], 0);
	memset(c, 7, 3 * 4096 + 1);
	b[0] = 1;
	void *v[] = {a, b, c, c + 3 * 4096};
	bool here[] = {true, true, true, true}, child[] = {true, false, false, false};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(mapped(v[i]), here[i]);
	child_checks(v, child, 4);
	qsg_nofork_free(c, 3 * 4096 + 1);
	assert_false(mapped(c));
	qsg_nofork_free(NULL, 0);
	qsg_slab_free(a);
	qsg_slab_free(b);
	qsg_slab_close(h);
	qsg_slab_close(n);
}

/* AnonHugePages (kB) of the mapping that holds p. */
static long huge_kb_at(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	long kb = -1;
	bool in = false;
	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Whether this kernel can make a 2 MiB huge page on request now (THP not
 * "never", MADV_COLLAPSE known, a huge page free). */
static bool can_collapse(void)
{
	size_t len = 2 * QSG_SLAB_BLOCK;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	uint8_t *a = (uint8_t *)(((uintptr_t)p + QSG_SLAB_BLOCK - 1) & ~(QSG_SLAB_BLOCK - 1));
	memset(a, 1, QSG_SLAB_BLOCK);
	bool ok = madvise(a, QSG_SLAB_BLOCK, MADV_COLLAPSE) == 0 && huge_kb_at(a) >= 2048;
	munmap(p, len);
	return ok;
}

/* A block of a HUGE pool is split into small pages when written while a
 * forked child shares it (copy on write of one 4 KiB page); when it fills
 * up it is collapsed into one huge page again, so the next fork copies one
 * entry for it instead of 512. Fails without the collapse in
 * qsg_slab_alloc. */
static void full_block_is_huge_again(void **state)
{
	(void)state;
	if (!can_collapse()) {
		skip(); /* no THP here: nothing to check */
	}
	struct qsg_slab *s;
	assert_int_equal(qsg_slab_init(&s, 64), QSG_OK);
	size_t per_block = (QSG_SLAB_BLOCK - 64) / 64;
	void **v = malloc(per_block * sizeof *v);
	assert_non_null(v);
	for (size_t i = 0; i < per_block / 2; i++)
		assert_non_null(v[i] = qsg_slab_alloc(s));
	long before = huge_kb_at(v[0]);
	/* A child shares the block; a write here splits it. */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(fds[1]);
		(void)!read(fds[0], &c, 1);
		_exit(0);
	}
	close(fds[0]);
	memset(v[0], 0x5a, 64);
	long split = huge_kb_at(v[0]);
	for (size_t i = per_block / 2; i < per_block; i++) {
		assert_non_null(v[i] = qsg_slab_alloc(s));
		assert_true((uintptr_t)v[i] / QSG_SLAB_BLOCK == (uintptr_t)v[0] / QSG_SLAB_BLOCK);
	}
	/* The collapse runs on a thread of its own: wait for it (up to
	 * 10 s; it takes about 0.25 ms). */
	long after = huge_kb_at(v[0]);
	for (int i = 0; i < 1000 && after < split + 2048; i++) {
		usleep(10000);
		after = huge_kb_at(v[0]);
	}
	close(fds[1]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	print_message("AnonHugePages of the block's mapping: %ld kB fresh, %ld kB split, %ld kB "
		      "full\n",
		      before, split, after);
	assert_true(split <= before - 2048 || before < 2048); /* it was split */
	assert_true(after >= split + 2048); /* and is one huge page again */
	for (size_t i = 0; i < per_block; i++)
		qsg_slab_free(v[i]);
	free(v);
	qsg_slab_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bad_sizes),
	    cmocka_unit_test(alloc_free_reuse),
	    cmocka_unit_test(fifo_drain_returns_blocks),
	    cmocka_unit_test(two_pools),
	    cmocka_unit_test(nofork_not_in_child),
	    cmocka_unit_test(full_block_is_huge_again),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
