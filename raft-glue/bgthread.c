/* Background threads of raft-glue: see bgthread.h. */
#include "bgthread.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

uint64_t glue_bgthread_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool glue_bgthread_start(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t attr;
	sigset_t all, old;
	bool ok;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* the thread inherits this mask: it takes no signals */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ok = pthread_create(&t, &attr, fn, arg) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return ok;
}
