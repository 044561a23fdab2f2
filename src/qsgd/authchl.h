/* Channel authentication at run time (docs/security.md "Channel
 * authentication (CHLAUTH)"): the replica's CHLAUTH rules
 * (fsm_chlauth_rules) applied by chlmatch_decide to a connection at accept
 * (BLOCKADDR only, before any protocol), at a client's HELLO (channel
 * SYSTEM.DEF.SVRCONN: clients do not name one) and at an inbound channel's
 * start (its channel name); the MCAUSER of a USERSRC(MAP) rule made the
 * connection's identity; and the identity of a connection kept up to date
 * with the user table (ALTER USER, DELETE USER). Refusals are
 * QSG_RC_NOT_AUTHORIZED (2035) with the reason, and a log line (QSG8017W;
 * WARN(YES) rules QSG8016W; a deleted user's connection QSG8018W), at most
 * AUTH_DENY_LOG_MAX lines a second for a struct auth's connections. Loop
 * thread only. */
#ifndef QSGD_AUTHCHL_H
#define QSGD_AUTHCHL_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"

struct qlog;

/* The channel a client connection is on (it names none). */
#define AUTHCHL_CLIENT_CHANNEL "SYSTEM.DEF.SVRCONN"

/* The decision for a connection from peer ("host:port") on channel
 * (NULL: at accept, BLOCKADDR only), with certificate subject dn ("" none)
 * asserting user clntuser ("" none): QSG_OK with mcauser (FSM_NAME_MAX + 1
 * bytes; "" when it runs as itself), or QSG_RC_NOT_AUTHORIZED with the
 * reason in errmsg. Logged; lim NULL: not limited. */
int authchl_check(struct fsm *fsm, struct qlog *log, struct auth_loglimit *lim, uint64_t now_ms,
		  const char *channel, const char *peer, const char *dn, const char *clntuser,
		  char *mcauser, char *errmsg);

/* At accept: false when a BLOCKADDR rule refuses the address (logged; the
 * caller closes the socket without a word). */
bool authchl_accept(struct auth *a, const char *peer);
/* At a client's HELLO (before its credentials are checked): the user it
 * asserts is the HELLO's user id, else its certificate's CN. */
int authchl_hello(struct auth *a, const struct auth_hello *h, const char *dn, char *mcauser,
		  char *errmsg);
/* After the credentials are accepted: id runs as mcauser ("" nothing to
 * do; the break-glass identity is never mapped), with mcauser's groups
 * when it is a user of the group. */
void authchl_apply(struct auth *a, struct auth_id *id, const char *mcauser);
/* Before each request of an attached connection: false (text says why)
 * when the user that authenticated it was deleted; otherwise the groups
 * of its user as they are now. */
bool authchl_refresh(struct auth *a, struct auth_id *id, char *text, size_t size);

#endif
