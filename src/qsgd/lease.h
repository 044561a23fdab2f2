/* Member leases (docs/architecture.md, "Members, leases and failure
 * detection"): join the group, renew every renew_ms, fence this member when
 * no renewal has been acknowledged for lease_ms - renew_ms (measured from the
 * send time of the last acknowledged renewal), and, on the leader, declare
 * members whose lease expired failed and run the periodic EXPIRE. */
#ifndef QSGD_LEASE_H
#define QSGD_LEASE_H

#include "daemon.h"

int lease_init(struct lease **out, struct qsgd *d, char *errmsg);
void lease_start(struct lease *l);
/* Stop the timers; memory freed once they are closed and nothing is in flight. */
void lease_close(struct lease *l);
void lease_on_role(struct lease *l, int old_role, int new_role);
bool lease_fenced(const struct lease *l);

#endif
