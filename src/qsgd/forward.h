/* Forwarding (follower side): one persistent connection to the leader's
 * client listener, opened as a member (HELLO kind PROTO_KIND_MEMBER), that
 * carries this member's commands as PROTO_FORWARD frames. The leader is
 * taken from the glue (polled); when it changes, or the connection breaks,
 * every command in flight is answered QSG_RC_OUTCOME_UNKNOWN and the
 * connection is re-established to the new leader. */
#ifndef QSGD_FORWARD_H
#define QSGD_FORWARD_H

#include "daemon.h"

int forward_init(struct forward **out, struct qsgd *d, char *errmsg);
/* Fail what is in flight (OUTCOME_UNKNOWN), close; memory freed later. */
void forward_close(struct forward *f);
/* True when commands can be forwarded now. */
bool forward_ready(struct forward *f);
/* Send one command to the leader (forward_ready() must be true). */
void forward_send(struct forward *f, struct qsgd_sub *s);
/* Re-check the leader now (role change). */
void forward_check_leader(struct forward *f);

#endif
