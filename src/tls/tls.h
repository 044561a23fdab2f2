/* The TLS engine: OpenSSL 3 over memory BIOs. It turns ciphertext from any
 * byte stream into plaintext and back; it owns no socket, no libuv handle and
 * no thread, so every link of qsg (client connections, forwarding, channels,
 * Raft) can put it under its own stream. Design and reasons: docs/security.md.
 *
 * Callers: the link layers of qsgd, libqsg and raft-glue (later work), the
 * unit tests and the fuzz target. Nothing here is global: a struct tls_ctx
 * holds the configuration and the current OpenSSL context, a struct tls_conn
 * one connection. OpenSSL 3 initialises itself.
 *
 * Threads: a tls_ctx and the tls_conns made from it are used by one thread
 * at a time (the loop thread).
 *
 * The pump: bytes read from the network go in with tls_conn_feed(); plaintext
 * comes out with tls_conn_read(); plaintext goes in with tls_conn_write()
 * (held until the handshake completes); ciphertext to send is looked at with
 * tls_conn_pending() and dropped once sent with tls_conn_consume(). After
 * every feed, read or write, the caller sends what tls_conn_pending() shows:
 * the handshake, alerts and close_notify travel that way too.
 *
 * Limits: every buffer is capped at TLS_BUF_CAP (ciphertext received and not
 * yet decrypted, plaintext decrypted and not yet read, plaintext written
 * before the handshake completed, ciphertext not yet consumed). A call that
 * would go past a cap takes nothing and returns QSG_RC_TLS_BUFFER_FULL; the
 * connection is still good: the caller reads (or sends) first and retries.
 *
 * Errors: int codes from qsg_err.h plus errmsg (QSG_ERRMSG_SIZE, may be NULL)
 * with OpenSSL's reason text:
 *   QSG_RC_SSL_INITIALIZATION_ERROR  key, certificate, CA, CRL or options
 *                                    unusable;
 *   QSG_RC_TLS_FAILED                handshake or record layer failed (bad or
 *                                    missing certificate, protocol error,
 *                                    garbage, transport closed without
 *                                    close_notify);
 *   QSG_RC_SSL_PEER_NAME_MISMATCH    peer certificate does not name expect_peer;
 *   QSG_RC_TLS_BUFFER_FULL           a cap was reached (not a failure);
 *   QSG_RC_STORAGE_NOT_AVAILABLE     out of memory;
 *   QSG_RC_INVALID, QSG_RC_CONFIG    bad arguments.
 * A connection that failed stays failed: every later feed, read or write
 * returns the same code, tls_conn_failed() is true and tls_conn_reason() has
 * the text. Its pending ciphertext (an alert for the peer) can still be sent. */
#ifndef QSG_TLS_TLS_H
#define QSG_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/qsg_err.h"

/* Each buffer of a connection holds at most this many bytes. */
#define TLS_BUF_CAP (1024 * 1024)

/* Text sizes of the peer identity (NUL included). */
#define TLS_DN_SIZE 512
#define TLS_CN_SIZE 128
/* "AB:CD:...": 32 bytes as colon-separated upper-case hex, as
 * `openssl x509 -noout -fingerprint -sha256` prints them. */
#define TLS_FP_SIZE 96

enum tls_role {
	TLS_SERVER = 0,
	TLS_CLIENT = 1,
};

enum tls_verify {
	/* The peer must present a certificate that chains to ca_file (the
	 * default: zero-initialised configurations are secure). */
	TLS_VERIFY_REQUIRED = 0,
	/* A peer certificate, when presented, must chain to ca_file; a peer
	 * without one is accepted (a server sees no identity). */
	TLS_VERIFY_OPTIONAL = 1,
	/* No verification: encryption without authentication. For the local
	 * demo only; tls_conn_peer_verified() is then always false. */
	TLS_VERIFY_NONE = 2,
};

/* What a CRL (crl_file) is checked for: the peer's own certificate only
 * (X509_V_FLAG_CRL_CHECK: its issuer needs a CRL), or every certificate of
 * its chain (X509_V_FLAG_CRL_CHECK_ALL: every CA of it needs one). */
enum tls_crl_check {
	TLS_CRL_LEAF = 0,
	TLS_CRL_CHAIN = 1,
};

struct tls_config {
	enum tls_role role;
	enum tls_verify verify;
	const char *key_file; /* PEM private key; a server needs one */
	const char *cert_file; /* PEM certificate, then its chain; with key_file */
	const char *ca_file; /* PEM CA certificates; needed unless VERIFY_NONE */
	const char *ciphers; /* TLS 1.2 cipher list (NULL: OpenSSL's default) */
	const char *ciphersuites; /* TLS 1.3 suites (NULL: OpenSSL's default) */
	int min_version; /* 0 or 12: TLS 1.2; 13: TLS 1.3 only */
	int max_version; /* 0 or 13: TLS 1.3; 12: TLS 1.2 (interop tests) */
	/* PEM file of one or more CRLs (NULL: no revocation check). Needs
	 * ca_file: every CRL must be signed by a CA of it and not be past its
	 * nextUpdate, or init and reload fail. A peer whose certificate a CRL
	 * lists is refused at the handshake (tls_conn_peer_revoked). */
	const char *crl_file;
	enum tls_crl_check crl_check;
};

struct ssl_ctx_st;

struct tls_ctx {
	struct tls_config cfg; /* strings owned (copies) */
	struct ssl_ctx_st *ssl_ctx; /* the current one; conns hold a reference */
	unsigned generation; /* 1 after init, +1 per successful reload */
	unsigned n_crls; /* CRLs loaded from crl_file by the last init/reload */
};

/* Reads key, certificate, CA and CRL and builds the context. On failure nothing
 * is left to close. */
int tls_ctx_init(struct tls_ctx *ctx, const struct tls_config *cfg, char *errmsg);
void tls_ctx_close(struct tls_ctx *ctx);

/* Re-reads key, certificate, CA and CRL (same file names) into a new OpenSSL
 * context. On success new connections use it and existing ones keep the one
 * they started with; on failure the old one stays in use and the error is
 * returned. */
int tls_ctx_reload(struct tls_ctx *ctx, char *errmsg);

struct ssl_st;

enum tls_state {
	TLS_HANDSHAKING = 0,
	TLS_OPEN, /* handshake done, data flows */
	TLS_PEER_CLOSED, /* close_notify received: no more data will come */
	TLS_FAILED,
};

struct tls_buf {
	unsigned char *p;
	size_t off, len, cap; /* data is p[off .. off+len) */
};

/* One connection. It must not move in memory between init and close
 * (OpenSSL's callbacks find it by address). */
struct tls_conn {
	struct ssl_st *ssl;
	struct tls_ctx *ctx;
	enum tls_state state;
	enum tls_verify ctx_verify; /* the context's mode when this one started */
	int rc; /* QSG_OK, or why it failed */
	bool verified; /* peer certificate chained to the CA */
	bool shut_sent; /* our close_notify is queued */
	bool revoked; /* refused: a CRL lists the peer's certificate */
	char expect_peer[TLS_DN_SIZE];
	struct tls_buf plain_in; /* decrypted, not yet read */
	struct tls_buf plain_out; /* written before the handshake completed */
	struct tls_buf cipher_out; /* to send (moved out of OpenSSL's BIO) */
	char reason[QSG_ERRMSG_SIZE];
	char peer_dn[TLS_DN_SIZE];
	char peer_cn[TLS_CN_SIZE];
	char peer_fp[TLS_FP_SIZE];
	unsigned generation; /* of the context this connection started with */
};

/* A connection in ctx's role with ctx's current OpenSSL context.
 * expect_peer (NULL or "": any peer the verify mode accepts) names the peer
 * that must be on the other end: without '=' it must equal the certificate's
 * subject CN; with '=' (for example "O=acme,CN=QM1") it must appear in the
 * subject DN (RFC 2253 form, "CN=QM1,O=acme" read most specific first) as
 * whole attributes: it starts and ends at a ',' or at the ends of the DN.
 * expect_peer needs verification (TLS_VERIFY_NONE refuses it) and makes a
 * peer certificate required. A client sends its first flight at once:
 * call tls_conn_pending() after init. */
int tls_conn_init(struct tls_conn *conn, struct tls_ctx *ctx, const char *expect_peer,
		  char *errmsg);
void tls_conn_close(struct tls_conn *conn);

/* Ciphertext from the network; all n bytes are taken or none
 * (QSG_RC_TLS_BUFFER_FULL). Drives the handshake and decrypts what it can. */
int tls_conn_feed(struct tls_conn *conn, const void *cipher, size_t n);

/* Plaintext out: up to cap bytes into buf, *got of them (0: nothing now; see
 * tls_conn_peer_closed). Returns the failure code of a failed connection. */
int tls_conn_read(struct tls_conn *conn, void *buf, size_t cap, size_t *got);

/* Plaintext in: all n bytes are taken or none (QSG_RC_TLS_BUFFER_FULL).
 * Before the handshake completes they are held; refused after
 * tls_conn_shutdown (QSG_RC_INVALID). */
int tls_conn_write(struct tls_conn *conn, const void *plain, size_t n);

/* Ciphertext waiting to be sent: *p, *n (n == 0: nothing). Valid until the
 * next call on conn. */
void tls_conn_pending(struct tls_conn *conn, const void **p, size_t *n);
/* The first n pending bytes were sent. */
void tls_conn_consume(struct tls_conn *conn, size_t n);

/* Queues our close_notify (once). Plaintext held for the handshake is
 * dropped. */
int tls_conn_shutdown(struct tls_conn *conn);

/* The transport ended (EOF). Without the peer's close_notify first, that is
 * a truncation: the connection fails. */
int tls_conn_eof(struct tls_conn *conn);

enum tls_state tls_conn_state(const struct tls_conn *conn);
bool tls_conn_handshake_done(const struct tls_conn *conn);
bool tls_conn_peer_closed(const struct tls_conn *conn);
bool tls_conn_failed(const struct tls_conn *conn);
/* QSG_OK or the failure code; the reason text ("" while not failed). */
int tls_conn_rc(const struct tls_conn *conn);
const char *tls_conn_reason(const struct tls_conn *conn);

/* The peer's identity once the handshake is done ("" when it presented no
 * certificate): subject DN (RFC 2253), subject CN, SHA-256 fingerprint of
 * its certificate. verified: the certificate chained to the CA. */
const char *tls_conn_peer_dn(const struct tls_conn *conn);
const char *tls_conn_peer_cn(const struct tls_conn *conn);
const char *tls_conn_peer_fingerprint(const struct tls_conn *conn);
bool tls_conn_peer_verified(const struct tls_conn *conn);
/* The handshake failed because a CRL of the context lists the peer's
 * certificate (or, with TLS_CRL_CHAIN, one of its CAs); tls_conn_reason()
 * then names the certificate ("... \"CN=x,O=y\" (serial 1A:2B) is revoked
 * (CRL)"). */
bool tls_conn_peer_revoked(const struct tls_conn *conn);
/* Whether a peer certificate with subject DN dn and CN cn (as the peer_dn
 * and peer_cn functions give them) is the one expect names, by the rules of
 * tls_conn_init's expect_peer. For links that learn whom to expect only
 * after the handshake (an inbound channel's SSLPEER). */
bool tls_peer_match(const char *expect, const char *dn, const char *cn);

/* The protocol version ("TLSv1.3") and cipher negotiated ("" before). */
const char *tls_conn_version(const struct tls_conn *conn);
const char *tls_conn_cipher(const struct tls_conn *conn);

#endif
