/* Group commit on the leader: commands collected during one loop iteration
 * become one log entry, submitted from a uv_check handle (after the poll
 * phase), with up to max_inflight entries in flight. */
#ifndef QSGD_BATCHER_H
#define QSGD_BATCHER_H

#include "daemon.h"

int batcher_init(struct batcher **out, struct qsgd *d, char *errmsg);
/* Re-route pending commands (none may be submitted any more) and close the
 * handles; in-flight entries complete through the glue (OUTCOME_UNKNOWN on
 * glue_close). Frees the batcher once its handles are closed. */
void batcher_close(struct batcher *b);
/* Queue a command for the next entry (never calls libraft synchronously). */
void batcher_add(struct batcher *b, struct qsgd_sub *s);
/* This member's Raft role changed: when it is no longer the leader, commands
 * not yet submitted are re-routed through the submission path. */
void batcher_on_role(struct batcher *b, int new_role);

#endif
