/* Background threads of raft-glue: see bgthread.h. */
#include "bgthread.h"

#include <pthread.h>
#include <signal.h>

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
