/* Internals of src/tls shared by its files: OpenSSL error text (tls_ctx.c)
 * and the peer identity helpers (tls_peer.c). Callers: src/tls only. */
#ifndef QSG_TLS_TLS_INT_H
#define QSG_TLS_TLS_INT_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

/* Writes "what: reason; reason..." from OpenSSL's error queue (cleared)
 * into errmsg (may be NULL) and returns rc. */
int tls_ossl_err(char *errmsg, int rc, const char *what);

/* Subject DN (RFC 2253) and CN of x. cn is "" when x has no CN, more than
 * one, or one that is not clean text (an embedded NUL). */
void tls_peer_names(X509 *x, char dn[TLS_DN_SIZE], char cn[TLS_CN_SIZE]);

/* Fills conn's peer_dn, peer_cn and peer_fp from the peer certificate ("" when
 * there is none). */
void tls_peer_capture(struct tls_conn *conn);

/* Loads cfg->crl_file (when set) into c's certificate store, after the CA
 * (tls_crl.c): every CRL in it must be signed by a CA of the store and be
 * current; then sets the store's CRL check flags. *count: CRLs loaded. */
int tls_crl_load(SSL_CTX *c, const struct tls_config *cfg, unsigned *count, char *errmsg);

/* tls_peer_match (tls.h) is in tls_peer.c too. */

#endif
