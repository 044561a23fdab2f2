/* libqsg: time (client_int.h): the monotonic clock, deadlines for poll()
 * and sleeps. Its own file so that conn.c, tlsio.c and async.c share it
 * without depending on each other. */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "client_int.h"

int64_t qsgi_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t qsgi_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Milliseconds left until deadline (-1 = none: infinite), for poll(). */
int qsgi_left_ms(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t l = deadline - qsgi_now_ms();
	if (l <= 0)
		return 0;
	return l > INT32_MAX ? INT32_MAX : (int)l;
}

void qsgi_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
