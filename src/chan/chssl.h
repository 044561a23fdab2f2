/* TLS on channels, the I/O-free part (docs/channels.md "TLS on channels"):
 * MQ's CipherSpec names (SSLCIPH) and what each means to OpenSSL 3, the
 * check of what a handshake negotiated against a CipherSpec, and the form
 * of SSLPEER given to the TLS engine. No OpenSSL, no I/O: the channel
 * runtime (chhost.c, chsdr_conn.c, chrcv.c) and the admin (DEFINE/ALTER
 * refuse a name not here) use it; tests/unit/test_chssl.c tests it. */
#ifndef QSG_CHSSL_H
#define QSG_CHSSL_H

#include <stdbool.h>
#include <stddef.h>

/* One CipherSpec. ciphers: the TLS 1.2 cipher list; ciphersuites: the TLS
 * 1.3 suites (NULL: OpenSSL's default); min_version, max_version: 12 or 13
 * (the engine's struct tls_config). */
struct chssl_spec {
	const char *name; /* MQ's name, upper case */
	int min_version, max_version;
	const char *ciphers;
	const char *ciphersuites;
};

/* The CipherSpec named (case-insensitive, blanks around it ignored); NULL
 * when qsg does not have it. */
const struct chssl_spec *chssl_find(const char *name);

/* Whether SSLCIPH asks for TLS (it is not blank). */
bool chssl_on(const char *sslciph);

/* Whether a handshake that negotiated `version` ("TLSv1.3", as
 * tls_conn_version gives it) and `cipher` (OpenSSL's name, as
 * tls_conn_cipher gives it) satisfies spec. */
bool chssl_negotiated_ok(const struct chssl_spec *spec, const char *version, const char *cipher);

/* The names qsg has, comma separated (for error texts). */
const char *chssl_names(void);

/* SSLPEER as the engine's expect_peer: blanks next to the ',' between
 * attributes and around the '=' of each are removed ("CN=QM1, O=acme" ->
 * "CN=QM1,O=acme"); blanks inside values stay. out has size bytes. */
void chssl_peer_norm(const char *sslpeer, char *out, size_t size);

#endif
