/* TLS on Raft traffic: a raft_uv_transport (raft/uv.h) whose connections are
 * mutual TLS over TCP, relayed to libraft through a socketpair.
 *
 * libraft reads and writes plaintext on the uv_stream_t its transport hands
 * it. This transport makes (or accepts) the TCP connection, runs the TLS
 * handshake with the engine of src/tls (memory BIOs), checks the peer's
 * identity, and then hands libraft one end of a socketpair (a uv_pipe_t)
 * while it relays between the other end and the TLS-wrapped TCP stream, on
 * the loop, with back-pressure both ways. Closing either side closes the
 * other. The wire format above TLS is libraft's raft_uv_tcp: the connecting
 * side first sends the preamble (protocol 1, its Raft id, the length of its
 * address, the address), then libraft's messages.
 *
 * Identity: the connecting side expects the certificate CN of the server it
 * calls to be the member name of that server's Raft id; the accepting side
 * requires a client certificate from the CA, reads the preamble, and keeps
 * the connection only when the CN is the member name of the preamble's id.
 * Anything else is closed before libraft sees a byte.
 *
 * Design and reasons: docs/security.md, "TLS on Raft traffic". */
#ifndef QSG_GLUE_RTLS_H
#define QSG_GLUE_RTLS_H

#include <stddef.h>
#include <uv.h>

#include "glue.h"

struct raft_uv_transport;

/* Make t a TLS transport on loop (like raft_uv_tcp_init): reads the key,
 * certificate and CA of cfg (QSG_RC_SSL_INITIALIZATION_ERROR or QSG_RC_CONFIG
 * with errmsg) and copies the callbacks. t->data is kept. */
int rtls_init(struct raft_uv_transport *t, uv_loop_t *loop, const struct glue_tls *cfg,
	      char *errmsg);
/* Release the memory (like raft_uv_tcp_close): after t->close() called back,
 * or when t->init() was never called. */
void rtls_free(struct raft_uv_transport *t);

/* The member name of Raft id `id` is `name` when the member_name callback
 * does not know it (a member being added online: its replicated record comes
 * later). */
void rtls_learn(struct raft_uv_transport *t, uint64_t id, const char *name);

/* REFRESH SECURITY TYPE(SSL): re-read the key, certificate and CA (same
 * files) into new server and client contexts (tls_ctx_reload: a context
 * that fails keeps its old files; the first failure is returned). Open
 * connections keep theirs; new ones use the new files. */
int rtls_reload(struct raft_uv_transport *t, char *errmsg);

/* Counters, for tests and diagnostics. */
struct rtls_stats {
	unsigned long accepted; /* connections handed to libraft by listen */
	unsigned long connected; /* ... by connect */
	unsigned long refused; /* handshakes or preambles that failed */
	unsigned long pauses; /* a side stopped reading: the other was full */
	unsigned links; /* connections open now */
};
void rtls_get_stats(struct raft_uv_transport *t, struct rtls_stats *out);

#endif
