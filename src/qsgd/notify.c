/* The state machine's notification fan-out (notify.h). */
#include "notify.h"

#include "chan/chinit.h"
#include "waiters.h"

static void notify_cb(void *arg, uint32_t scope, const char *queue, uint32_t n)
{
	struct qsgd *d = arg;
	/* Another member's private queue or copy: none of our waiters can
	 * read it (a name this member sees is either its own object or a
	 * group one, never both). */
	if (scope != 0 && scope != d->cfg->id)
		return;
	notify_queue(d, queue, n);
}

void notify_queue(struct qsgd *d, const char *queue, uint32_t n)
{
	d->notify_gen++;
	if (d->waiters != NULL)
		waiters_notify(d->waiters, queue, n);
	if (d->chinit != NULL)
		chinit_notify_queue(d->chinit, queue);
}

void notify_install(struct qsgd *d)
{
	fsm_set_notify(d->fsm, notify_cb, d);
}

void notify_remove(struct qsgd *d)
{
	fsm_set_notify(d->fsm, NULL, NULL);
}
