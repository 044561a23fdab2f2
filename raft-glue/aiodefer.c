/* io_destroy(2) off the event loop: see aiodefer.h. */
#include "aiodefer.h"

#include "bgthread.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AIODEFER_QUEUE 64 /* contexts waiting; beyond: destroyed inline */

typedef long (*syscall_fn)(long, ...);

/* The one process-wide state of raft-glue (aiodefer.h says why). */
static struct {
	pthread_once_t once;
	syscall_fn real;
	pthread_mutex_t mu;
	pthread_cond_t work; /* the thread waits for contexts */
	pthread_cond_t idle; /* drain waits for the queue to empty */
	bool enabled;
	bool thread_started;
	unsigned long queue[AIODEFER_QUEUE];
	unsigned head, count;
	unsigned busy; /* a context is being destroyed now */
	struct aiodefer_stats st;
} ad = {.once = PTHREAD_ONCE_INIT,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER};

static void find_real(void)
{
	ad.real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
}

static long real_syscall(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	pthread_once(&ad.once, find_real);
	if (ad.real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return ad.real(n, a1, a2, a3, a4, a5, a6);
}

static void *destroyer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ad.mu);
	for (;;) {
		while (ad.count == 0)
			pthread_cond_wait(&ad.work, &ad.mu);
		unsigned long ctx = ad.queue[ad.head];
		ad.head = (ad.head + 1) % AIODEFER_QUEUE;
		ad.count--;
		ad.busy = 1;
		pthread_mutex_unlock(&ad.mu);
		uint64_t t0 = glue_bgthread_now_us();
		long r = real_syscall(SYS_io_destroy, (long)ctx, 0, 0, 0, 0, 0);
		uint64_t us = glue_bgthread_now_us() - t0;
		pthread_mutex_lock(&ad.mu);
		ad.busy = 0;
		ad.st.done++;
		if (r != 0)
			ad.st.failed++;
		if (us > ad.st.max_us)
			ad.st.max_us = us;
		if (ad.count == 0)
			pthread_cond_broadcast(&ad.idle);
	}
	return NULL;
}

void aiodefer_enable(void)
{
	pthread_mutex_lock(&ad.mu);
	if (!ad.thread_started)
		ad.thread_started = glue_bgthread_start(destroyer, NULL);
	ad.enabled = ad.thread_started;
	pthread_mutex_unlock(&ad.mu);
}

void aiodefer_drain(void)
{
	pthread_mutex_lock(&ad.mu);
	ad.enabled = false;
	while (ad.count > 0 || ad.busy)
		pthread_cond_wait(&ad.idle, &ad.mu);
	pthread_mutex_unlock(&ad.mu);
}

void aiodefer_get_stats(struct aiodefer_stats *out)
{
	pthread_mutex_lock(&ad.mu);
	*out = ad.st;
	pthread_mutex_unlock(&ad.mu);
}

/* True if ctx was queued for the thread. */
static bool defer(unsigned long ctx)
{
	bool queued = false;
	pthread_mutex_lock(&ad.mu);
	if (ad.enabled && ad.count < AIODEFER_QUEUE) {
		ad.queue[(ad.head + ad.count) % AIODEFER_QUEUE] = ctx;
		ad.count++;
		ad.st.deferred++;
		queued = true;
		pthread_cond_signal(&ad.work);
	} else {
		ad.st.inline_calls++;
	}
	pthread_mutex_unlock(&ad.mu);
	return queued;
}

/* The interposer: libraft's syscall(2) calls land here (aiodefer.h). The
 * six arguments are read as glibc's own syscall() reads them: what the
 * caller did not pass is never used by the kernel for that number. Reading
 * an argument that was not passed reads the caller's stack, which ASan
 * would report: not instrumented. */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize_address))
#endif
long syscall(long number, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (number == SYS_io_destroy && defer((unsigned long)a[0]))
		return 0;
	return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
