/* The sending channel's clock for what the leader stamped
 * (docs/architecture.md "The group's time"; docs/channels.md "Destination
 * black list"): the due times of a sender's black list (retry_at_ms) and
 * the absolute expiries of messages are the group's time (entry times plus
 * an interval), so they are compared with the group's time as this member
 * sees it (qsgd_group_ms), never with its wall clock, which may be behind
 * (a group whose time runs ahead after a skewed leader) or skewed itself. */
#ifndef QSG_CHCLOCK_H
#define QSG_CHCLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "fsm/fsm.h"

struct qsgd;

/* The time left (ms, at least 1) of a message that expires at expiry_ms
 * (group time, not 0): what its MQMD-like expiry interval on the wire says. */
int64_t chclock_expiry_left(struct qsgd *d, int64_t expiry_ms);
/* Whether a destination of st's black list is due for a message alone. */
bool chclock_blk_due(struct qsgd *d, const struct fsm_chstatus *st);

#endif
