/* One AMQP 1.0 connection (docs/protocols.md, "AMQP 1.0"): Qpid Proton's
 * pn_connection_driver fed with the bytes of a socket, its SASL layer with
 * our mechanisms (PLAIN and EXTERNAL checked by the backend, ANONYMOUS
 * only when the configuration allows it), and the events mapped onto the
 * group through a backend (struct amqp_be_ops):
 *
 *   sender link to NAME     -> put to queue NAME (disposition after commit)
 *   receiver link from NAME -> gets as the link's credit allows; settled
 *                              links consume at the get, unsettled ones
 *                              lock the message until the outcome
 *                              (amqp_outcome_action)
 *   coordinator link        -> declare / discharge of a transaction (one
 *                              at a time per connection)
 *
 * No sockets and no libuv here: amqpconn_input takes the bytes read,
 * io->write gets the bytes to send (copy them), amqpconn_tick drives the
 * idle timeout and heart-beats. src/amqp/amqplisten.c puts it on a libuv
 * TCP stream; the fuzz target feeds it directly. A malformed input closes
 * only this connection: proton sends the close with an error condition and
 * io->close is called once the output is flushed. One thread. */
#ifndef QSG_AMQP_AMQPCONN_H
#define QSG_AMQP_AMQPCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqpmsg.h"
#include "common/msg.h"

struct amqpconn;

#define AMQP_MAX_LINKS 64 /* open links per connection */
#define AMQP_MAX_INFLIGHT 1024 /* backend requests in flight per connection */
#define AMQP_CHANNEL_MAX 15 /* sessions per connection: channels 0..15 */

struct amqpconn_cfg {
	bool anonymous; /* offer ANONYMOUS ([security] authentication = none) */
	bool require_auth; /* a client must authenticate (SASL) */
	/* PLAIN only over TLS ([security] authentication = required: a
	 * password never crosses the network in clear): not offered, and
	 * refused, on a plaintext connection. */
	bool plain_needs_tls;
	uint32_t max_frame; /* bytes; 0: 64 KiB */
	uint32_t idle_ms; /* our idle timeout (peers heart-beat at half); 0: none */
	uint32_t credit; /* credit given to each sender link of a client */
	uint64_t max_message; /* bytes of an incoming message */
	const char *container_id; /* our container-id: the member's name */
};

/* What the endpoint needs of the group (the gateway). Each call with a
 * req is answered exactly once with the matching amqpconn_*_done(c, req,
 * ...) — during the call or later — except get after get_cancel, and
 * nothing at all after closed(c). */
struct amqp_be_ops {
	/* mech: "PLAIN" (user, password) or "EXTERNAL" (user: the TLS peer's
	 * CN, amqpconn_set_tls; password NULL). -> amqpconn_auth_done */
	void (*auth)(void *be, struct amqpconn *c, uint64_t req, const char *mech, const char *user,
		     const char *password, size_t pwlen);
	/* Put msg (valid until the answer) to queue under txn (0: none): the
	 * answer comes after the Raft commit. link: the producer's link name
	 * (with the message-id, what a re-send is recognised by). ->
	 * amqpconn_put_done */
	void (*put)(void *be, struct amqpconn *c, uint64_t req, const char *queue, const char *link,
		    uint64_t txn, const struct amqp_in *msg);
	/* A message from queue: settled = consume it now; else lock it to the
	 * connection until settle. wait: wait for one (until get_cancel) or
	 * answer QSG_RC_NO_MSG_AVAILABLE. -> amqpconn_get_done */
	void (*get)(void *be, struct amqpconn *c, uint64_t req, const char *queue, bool settled,
		    bool wait);
	void (*get_cancel)(void *be, struct amqpconn *c, uint64_t req);
	/* The outcome of a locked message (lock from get_done), under txn (0:
	 * none; then it takes effect when the transaction commits). reason:
	 * rejected's error description ("" none). -> amqpconn_settle_done */
	void (*settle)(void *be, struct amqpconn *c, uint64_t req, uint64_t lock, enum amqp_act act,
		       uint64_t txn, const char *reason);
	/* -> amqpconn_txn_done (DECLARE: the new transaction's id, not 0) */
	void (*txn)(void *be, struct amqpconn *c, uint64_t req, enum amqp_txn_op op, uint64_t txn);
	/* The connection is gone: back out what it holds (locked messages,
	 * the open transaction). No answer is expected after this. */
	void (*closed)(void *be, struct amqpconn *c);
	/* (may be NULL) A connection starts: the value returned (NULL:
	 * refuse it) is the `be` of every later call for it. */
	void *(*open)(void *be, struct amqpconn *c);
};

struct amqpconn_io {
	void (*write)(void *ctx, const uint8_t *p, size_t n); /* copy p */
	void (*close)(void *ctx); /* the transport is done: close the socket */
	void (*pause)(void *ctx, bool paused); /* stop/resume reading (may be NULL) */
	/* proton's own log lines for this connection (errors by default;
	 * PN_LOG selects more); NULL: discarded. */
	void (*log)(void *ctx, const char *text);
};

int amqpconn_new(struct amqpconn **out, const struct amqpconn_cfg *cfg,
		 const struct amqp_be_ops *be_ops, void *be, const struct amqpconn_io *io,
		 void *ioctx, const char *peer, char *errmsg);
/* Calls be->closed (once) and frees everything. */
void amqpconn_free(struct amqpconn *c);

/* The connection runs over TLS (before its first input); cert_cn: the
 * verified client certificate's CN ("" none): then EXTERNAL is offered,
 * with that identity; cert_dn: its subject DN (for CHLAUTH SSLPEERMAP). */
void amqpconn_set_tls(struct amqpconn *c, const char *cert_cn, const char *cert_dn);
bool amqpconn_tls(const struct amqpconn *c);
/* The verified client certificate's CN and DN ("" none or plaintext). */
const char *amqpconn_cert_cn(const struct amqpconn *c);
const char *amqpconn_cert_dn(const struct amqpconn *c);

/* Bytes read from the peer; eof: the peer closed its side. */
void amqpconn_input(struct amqpconn *c, const uint8_t *p, size_t n);
void amqpconn_eof(struct amqpconn *c);
/* Idle timeout and heart-beats: returns the next deadline (ms, the same
 * clock as now), 0 for none. */
int64_t amqpconn_tick(struct amqpconn *c, int64_t now_ms);
/* The connection is finished (both directions closed). */
bool amqpconn_finished(struct amqpconn *c);
/* Close with an error condition (e.g. the member stops). */
void amqpconn_close(struct amqpconn *c, const char *cond, const char *text);
const char *amqpconn_peer(const struct amqpconn *c);
/* The authenticated user ("" for anonymous). */
const char *amqpconn_user(const struct amqpconn *c);
/* The client's container-id ("" until its open arrives). */
const char *amqpconn_container(const struct amqpconn *c);

/* Answers of the backend. text: an error description for the peer. */
void amqpconn_auth_done(struct amqpconn *c, uint64_t req, int rc, const char *user);
void amqpconn_put_done(struct amqpconn *c, uint64_t req, int rc, const char *text);
/* m valid during the call; lock: what settle takes (unsettled gets). */
void amqpconn_get_done(struct amqpconn *c, uint64_t req, int rc, const struct fsm_msg *m,
		       uint64_t lock);
void amqpconn_settle_done(struct amqpconn *c, uint64_t req, int rc);
void amqpconn_txn_done(struct amqpconn *c, uint64_t req, int rc, uint64_t txn, const char *text);

#endif
