/* TLS under a framed stream (stream.h): the adapter between libuv's bytes
 * and the TLS engine (src/tls/tls.h). stream.c calls it when a stream has
 * TLS; nothing else does. Ciphertext read from the socket goes into the
 * engine, the plaintext comes back into the stream's frame buffer; frames
 * the owner appends to `out` are written through the engine once the
 * handshake is done, and the ciphertext the engine has for the peer goes
 * out in the stream's normal uv_write. A handshake not done within the
 * configured time fails the stream. Design: docs/security.md. */
#ifndef QSGD_TLSSTREAM_H
#define QSGD_TLSSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "tls/tls.h"

struct qlog;
struct stream;
struct qsgd_config;

/* A member's TLS configuration ([tls] of qsgd.ini) in engine form: one
 * context for accepted connections, one for connections it makes to other
 * members (same key, certificate and CA). */
struct tlsstream_cfg {
	struct tls_ctx server;
	struct tls_ctx client;
	bool optional; /* [tls] mode = optional: plaintext accepted too */
	bool verify_none; /* no peer names can be checked */
	unsigned handshake_ms;
	struct qlog *log;
};

/* From cfg's [tls] (cfg->tls_enabled must be set). On failure nothing is
 * left to close; errmsg names the file OpenSSL refused. */
int tlsstream_cfg_init(struct tlsstream_cfg *t, const struct qsgd_config *cfg, struct qlog *log,
		       char *errmsg);
void tlsstream_cfg_close(struct tlsstream_cfg *t);

/* Put TLS under s (before any byte of it was read or written, except the
 * ones given later to tlsstream_input). role TLS_SERVER for accepted
 * connections, TLS_CLIENT for ones we opened; expect_peer: see
 * tls_conn_init (ignored with verify none). Starts the handshake timer.
 * A client's ClientHello goes out at the stream's next flush: the caller
 * marks it (stream_mark) after writing its first frame. */
int tlsstream_attach(struct stream *s, struct tlsstream_cfg *t, enum tls_role role,
		     const char *expect_peer);

/* Does the start of a byte stream look like a TLS ClientHello record
 * (0x16 0x03 0x01..0x04)? n >= 3 needed for an answer; *need set when
 * more bytes are needed. */
bool tlsstream_looks_tls(const unsigned char *p, size_t n, bool *need);

/* The buffer libuv reads ciphertext into. */
void tlsstream_read_buf(struct stream *s, char **base, size_t *len);
/* Ciphertext from the socket. QSG_OK or QSG_RC_TLS_FAILED (logged once).
 * *flush: the engine has bytes for the peer (handshake replies) or the
 * handshake just completed (frames held for it can go): the caller marks
 * the stream for a flush. */
int tlsstream_input(struct stream *s, const void *cipher, size_t n, bool *flush);
/* Decrypted plaintext: up to cap bytes, *got of them (0: none now). */
void tlsstream_read(struct stream *s, void *buf, size_t cap, size_t *got);
/* Move the stream's `out` (once the handshake is done) through the engine
 * and everything the engine has for the peer into the stream's `writing`.
 * With `draining` and nothing left to send, queue our close_notify. */
int tlsstream_output(struct stream *s);
/* Handshake done and not failed. */
bool tlsstream_open(const struct stream *s);
/* Release the adapter; done(s) once its timer handle is closed. */
void tlsstream_free(struct stream *s, void (*done)(struct stream *s));

/* The peer's certificate subject DN ("" none or no TLS). */
const char *tlsstream_peer_dn(const struct stream *s);
/* The CN of the peer's certificate when it chained to the CA ("" when not
 * verified, none or no TLS): the identity authentication trusts. */
const char *tlsstream_peer_cn(const struct stream *s);

/* For channels (docs/channels.md "TLS on channels"): the protocol version
 * and cipher negotiated, the peer's SHA-256 fingerprint ("" none or no
 * TLS), whether its certificate chained to the CA; and why the engine
 * failed: its code (QSG_OK when it did not), the reason into buf. */
const char *tlsstream_version(const struct stream *s);
const char *tlsstream_cipher(const struct stream *s);
const char *tlsstream_peer_fingerprint(const struct stream *s);
bool tlsstream_peer_verified(const struct stream *s);
int tlsstream_failure(const struct stream *s, char *buf, size_t size);

#endif
