/* GET-with-wait: requests parked per queue until the local replica reports
 * (fsm notify callback) that messages became available, or their deadline
 * passes. The owner embeds a struct waiter in its request and supplies the
 * wake and expire actions. */
#ifndef QSGD_WAITERS_H
#define QSGD_WAITERS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "fsm/fsm.h"

struct waiters;
struct wqueue;

struct waiter {
	struct waiter *next;
	struct waiter *prev;
	struct wqueue *q; /* non-NULL while parked */
	struct waiters *ws;
	uv_timer_t timer; /* initialised on first park; owner closes it */
	bool timer_init;
	void (*wake)(struct waiter *w); /* messages may be available: resubmit */
	void (*expire)(struct waiter *w); /* deadline reached: answer NO_MSG */
	void (*release_done)(struct waiter *w);
	void *data;
};

int waiters_init(struct waiters **out, uv_loop_t *loop);
/* All waiters must have been cancelled. */
void waiters_close(struct waiters *ws);
/* Park w on queue; timeout_ms < 0 waits forever. */
int waiters_park(struct waiters *ws, struct waiter *w, const char *queue, int64_t timeout_ms);
/* Unpark (no callback); safe when not parked. */
void waiters_cancel(struct waiter *w);
/* Wake up to n waiters of queue, oldest first. */
void waiters_notify(struct waiters *ws, const char *queue, uint32_t n);
/* Release w's timer (if any); done runs once libuv has let go of it. */
void waiters_release(struct waiter *w, void (*done)(struct waiter *w));
size_t waiters_count(const struct waiters *ws);

#endif
