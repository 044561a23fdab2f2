/* The AMQP 1.0 gateway of a member (docs/protocols.md, "AMQP 1.0"): the
 * listener of src/amqp (amqplisten.h) on [amqp] address, with a backend
 * made of gateway sessions (src/gw/gwsess.h), so that an AMQP client gets
 * what a libqsg connection gets (credentials checked by auth.c, a session
 * with its epoch, forwarding to the leader, a lost connection backed out):
 *
 * - the connection's session: PLAIN credentials (its HELLO is the check),
 *   puts outside syncpoint, and the transaction (its unit of work: puts in
 *   syncpoint, COMMIT / BACKOUT at discharge);
 * - one session per message a receiving link may hold (its credit, at most
 *   AMQPGW_MAX_SLOTS per connection): a GET in syncpoint that waits; the
 *   outcome is that session's COMMIT (accepted), BACKOUT (modified, and
 *   released: the group has no backout without counting yet), or a PUT to
 *   the dead-letter queue in the same unit of work and COMMIT (rejected);
 *   cancelling a waiting GET closes its session (a message it may have
 *   locked goes back).
 *
 * Compiled into qsgd. Loop thread only. */
#ifndef QSG_AMQP_AMQPGW_H
#define QSG_AMQP_AMQPGW_H

struct qsgd;
struct amqpgw;

#define AMQPGW_MAX_SLOTS 256
#define AMQPGW_WAIT_MS 5000 /* a waiting GET is sent again after this */

/* Listen on d->cfg->amqp. */
int amqpgw_init(struct amqpgw **out, struct qsgd *d, char *errmsg);
/* Close every connection (their sessions are detached) and the listener. */
void amqpgw_close(struct amqpgw *g);

#endif
