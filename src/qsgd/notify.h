/* The state machine's notification fan-out: messages became available on a
 * queue (a committed put, a backout) -> the parked GETs (waiters.h) and the
 * channel initiator's sending instances (chinit.h). Installed and removed by
 * the client listener (server.c); runs during apply on the loop thread. */
#ifndef QSGD_NOTIFY_H
#define QSGD_NOTIFY_H

#include <stdint.h>

#include "daemon.h"

/* Route the fsm's notifications of daemon `d` to its waiters and chinit. */
void notify_install(struct qsgd *d);
void notify_remove(struct qsgd *d);
/* Messages available on `queue` (a queue this member can read). */
void notify_queue(struct qsgd *d, const char *queue, uint32_t n);

#endif
