/* Group lifecycle on one member (issue 5, docs/lifecycle.md): the two
 * admin_env callbacks `raft_config` and `lifecycle` on top of the glue and
 * the replicated member records.
 *
 *   STOP QMGR [FORCE]   controlled stop of this member. Refused (unless
 *                       FORCE) when this member is a voter and the other
 *                       voters in sync are fewer than a majority of the
 *                       voters. A leader first transfers its leadership to
 *                       the most up-to-date follower, then stops through
 *                       d->request_stop.
 *   TRANSFER LEADER     leader only; waits until the leadership moved.
 *   ADD MEMBER          leader only: glue_add (spare, catch-up, voter).
 *   REMOVE MEMBER       leader only: glue_remove; refused (unless FORCE)
 *                       when the remaining voters in sync would be fewer
 *                       than their majority.
 *
 * A follower answers ADD/REMOVE/TRANSFER with QSG_RC_NOT_LEADER and a text
 * naming the leader and its client address: run the command there (qsgadm
 * against the leader; `scripts/cluster leader` prints it).
 *
 * "In sync" for a voter other than this member: its replicated member record
 * is ACTIVE, its lease has not expired as of the last applied entry, and the
 * applied index it reported in its last renewal is within
 * LIFECYCLE_SYNC_LAG entries of this member's commit index.
 *
 * All calls on the loop thread. */
#ifndef QSGD_LIFECYCLE_H
#define QSGD_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin/admin.h"
#include "daemon.h"

#define LIFECYCLE_SYNC_LAG 5000

int lifecycle_init(struct lifecycle **out, struct qsgd *d, char *errmsg);
/* Operations in flight are answered QSG_RC_Q_MGR_STOPPING; the memory is
 * released once the timer handle is closed. Call before glue_close. */
void lifecycle_close(struct lifecycle *lc);

/* admin_env.raft_config: the Raft configuration as this member knows it. */
size_t lifecycle_raft_config(struct lifecycle *lc, struct admin_raft_server *out, size_t max);
/* admin_env.lifecycle: done is called exactly once (possibly before this
 * returns) unless a reason code is returned. */
int lifecycle_exec(struct lifecycle *lc, const struct admin_lifecycle *req,
		   void (*done)(void *cbarg, int rc, const char *text), void *cbarg);

/* Is `id` a member of the group: in the static member list or in the Raft
 * configuration (a member added online)? For the HELLO of a forwarding
 * connection (server.c). */
bool lifecycle_is_member(const struct qsgd *d, uint32_t id);

/* Would stopping this member leave fewer than a majority of voters in sync?
 * QSG_OK when it may stop; QSG_RC_INVALID with errmsg explaining why not
 * (also the "quorum-critical" health check). */
int lifecycle_stop_check(struct lifecycle *lc, char *errmsg);

#endif
