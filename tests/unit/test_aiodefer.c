/* Unit tests of raft-glue/aiodefer.c: the syscall(2) interposer passes every
 * call through unchanged, and once enabled destroys kernel AIO contexts on
 * its own thread (the context is really gone afterwards), inline again after
 * a drain. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "raft-glue/aiodefer.h"

static unsigned long new_ctx(void)
{
	unsigned long ctx = 0;
	assert_int_equal(syscall(SYS_io_setup, 4, &ctx), 0);
	assert_true(ctx != 0);
	return ctx;
}

/* Every number but io_destroy reaches the kernel with its arguments. */
static void test_pass_through(void **state)
{
	(void)state;
	int fds[2];
	char buf[8] = "";
	/* the dynamic linker resolves syscall to the interposer */
	assert_ptr_equal(dlsym(RTLD_DEFAULT, "syscall"), (void *)syscall);
	assert_int_equal(syscall(SYS_getpid), getpid());
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(syscall(SYS_write, fds[1], "abc", 3), 3);
	assert_int_equal(syscall(SYS_read, fds[0], buf, sizeof buf), 3);
	assert_memory_equal(buf, "abc", 3);
	errno = 0;
	assert_int_equal(syscall(SYS_close, 1000000), -1);
	assert_int_equal(errno, EBADF);
	close(fds[0]);
	close(fds[1]);
}

static void test_inline_before_enable(void **state)
{
	(void)state;
	struct aiodefer_stats a, b;
	aiodefer_get_stats(&a);
	unsigned long ctx = new_ctx();
	assert_int_equal(syscall(SYS_io_destroy, ctx), 0);
	/* destroyed at once: a second destroy is refused by the kernel */
	errno = 0;
	assert_int_equal(syscall(SYS_io_destroy, ctx), -1);
	assert_int_equal(errno, EINVAL);
	aiodefer_get_stats(&b);
	assert_true(b.inline_calls == a.inline_calls + 2);
	assert_true(b.deferred == a.deferred);
}

static void test_deferred(void **state)
{
	(void)state;
	struct aiodefer_stats a, b;
	unsigned long ctx[8];
	aiodefer_get_stats(&a);
	aiodefer_enable();
	for (int i = 0; i < 8; i++)
		ctx[i] = new_ctx();
	for (int i = 0; i < 8; i++)
		assert_int_equal(syscall(SYS_io_destroy, ctx[i]), 0);
	aiodefer_drain();
	aiodefer_get_stats(&b);
	assert_true(b.deferred == a.deferred + 8);
	assert_true(b.done == a.done + 8);
	assert_true(b.failed == a.failed);
	/* the thread really destroyed them: the kernel no longer knows them
	 * (after the drain, calls are inline again) */
	for (int i = 0; i < 8; i++) {
		errno = 0;
		assert_int_equal(syscall(SYS_io_destroy, ctx[i]), -1);
		assert_int_equal(errno, EINVAL);
	}
	/* a bad context given to the thread is counted as failed */
	aiodefer_enable();
	assert_int_equal(syscall(SYS_io_destroy, 12345ul), 0);
	aiodefer_drain();
	aiodefer_get_stats(&b);
	assert_true(b.failed == a.failed + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pass_through),
	    cmocka_unit_test(test_inline_before_enable),
	    cmocka_unit_test(test_deferred),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
