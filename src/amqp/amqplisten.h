/* The AMQP 1.0 listener (docs/protocols.md, "AMQP 1.0"): accepts TCP
 * connections on a libuv loop and runs one amqpconn (amqpconn.h) on each,
 * over the daemon's byte streams (src/qsgd/stream.h with on_bytes, as the
 * STOMP gateway): with a TLS configuration (the member's [tls], as the
 * client listener: tlsstream.h) every connection is TLS, or TLS or
 * plaintext told by its first bytes ([tls] mode = optional); the verified
 * client certificate's CN is given to the connection
 * (amqpconn_set_tls: SASL EXTERNAL). Plaintext reads go to
 * amqpconn_input, its output is appended to the stream (reading pauses
 * while more than AMQP_WRITE_HIGH bytes wait), a timer drives
 * amqpconn_tick (idle timeout, heart-beats). The backend (the group's
 * gateway, or a test's) is given by the caller. Loop thread only. */
#ifndef QSG_AMQP_AMQPLISTEN_H
#define QSG_AMQP_AMQPLISTEN_H

#include <uv.h>

#include "amqpconn.h"

#define AMQP_WRITE_HIGH (4u * 1024 * 1024)
#define AMQP_MAX_CONNS 4096

struct amqplisten;
struct tlsstream_cfg;

/* addr: "host:port" (a literal address). cfg is copied (container_id
 * too). tls: NULL (plaintext) or the member's TLS configuration (kept:
 * it must outlive the listener). */
int amqplisten_start(struct amqplisten **out, uv_loop_t *loop, const char *addr,
		     const struct amqpconn_cfg *cfg, struct tlsstream_cfg *tls,
		     const struct amqp_be_ops *ops, void *be, char *errmsg);
/* Where proton's log lines go (errors of a connection, with its peer);
 * default: discarded. */
void amqplisten_set_log(struct amqplisten *s,
			void (*log)(void *arg, const char *peer, const char *text), void *arg);
/* The port bound (after start). */
int amqplisten_port(const struct amqplisten *s);
unsigned amqplisten_connections(const struct amqplisten *s);
/* Stop accepting and close every connection; memory is freed once the
 * handles are closed (the loop must run). */
void amqplisten_stop(struct amqplisten *s);

#endif
