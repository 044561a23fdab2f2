/* struct tls_conn: one TLS connection over two memory BIOs (ciphertext in,
 * ciphertext out) and the pump that drives it: handshake, peer checks,
 * decryption into a bounded plaintext buffer, held writes, close_notify. */
#include "tls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

/* ---- bounded byte buffers ---- */

/* Ciphertext out: the write cap, the held plaintext flushed at handshake end
 * and record overhead. */
#define TLS_OUT_MAX (3 * (size_t)TLS_BUF_CAP)

static void buf_free(struct tls_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* At least want bytes of room after the data; false when that would take the
 * buffer past limit or memory is short. */
static bool buf_room_max(struct tls_buf *b, size_t want, size_t limit)
{
	size_t need, ncap;
	unsigned char *np;

	if (b->len == 0)
		b->off = 0;
	if (b->cap - b->off - b->len >= want)
		return true;
	need = b->len + want;
	if (need > limit)
		return false;
	if (b->off > 0 && b->cap >= need) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
		return true;
	}
	ncap = b->cap ? b->cap : 16384;
	while (ncap < need)
		ncap *= 2;
	if (ncap > limit)
		ncap = limit;
	np = malloc(ncap);
	if (np == NULL)
		return false;
	if (b->len > 0)
		memcpy(np, b->p + b->off, b->len);
	free(b->p);
	b->p = np;
	b->off = 0;
	b->cap = ncap;
	return true;
}

static bool buf_room(struct tls_buf *b, size_t want)
{
	return buf_room_max(b, want, TLS_BUF_CAP);
}

/* Drops the first n bytes; an emptied buffer that grew past 64 KiB is freed
 * (an idle connection keeps little memory after a burst). */
static void buf_drop(struct tls_buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0) {
		b->off = 0;
		if (b->cap > 65536)
			buf_free(b);
	}
}

/* ---- failure ---- */

static int fail(struct tls_conn *c, int rc, const char *fmt, const char *a)
{
	c->state = TLS_FAILED;
	c->rc = rc;
	snprintf(c->reason, sizeof c->reason, fmt, a);
	buf_free(&c->plain_in);
	buf_free(&c->plain_out);
	return rc;
}

/* An SSL call returned error e: the reason from OpenSSL's queue, the
 * certificate check and our own peer check. */
static int fail_ssl(struct tls_conn *c, int e, const char *what)
{
	char text[QSG_ERRMSG_SIZE];
	long v = SSL_get_verify_result(c->ssl);

	if (c->rc == QSG_RC_SSL_PEER_NAME_MISMATCH) { /* set by verify_cb */
		char why[QSG_ERRMSG_SIZE];
		memcpy(why, c->reason, sizeof why);
		ERR_clear_error();
		return fail(c, QSG_RC_SSL_PEER_NAME_MISMATCH, "%s", why);
	}
	if (c->revoked) { /* set by verify_cb: the reason names the certificate */
		char why[QSG_ERRMSG_SIZE];
		memcpy(why, c->reason, sizeof why);
		ERR_clear_error();
		return fail(c, QSG_RC_SSL_CERTIFICATE_REVOKED, "%s", why);
	}
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		ERR_clear_error();
		return fail(c, QSG_RC_TLS_FAILED, "%s failed: unexpected end of data", what);
	}
	tls_ossl_err(text, QSG_RC_TLS_FAILED, what);
	if (v != X509_V_OK) {
		size_t k = strlen(text);
		snprintf(text + k, sizeof text - k, " (certificate: %s)",
			 X509_verify_cert_error_string(v));
	}
	return fail(c, QSG_RC_TLS_FAILED, "%s", text);
}

/* ---- peer checks ---- */

/* A CRL lists the certificate being checked (the peer's, or with
 * crl_check = chain one of its CAs): remembered with its name and serial. */
static void note_revoked(struct tls_conn *c, X509_STORE_CTX *x)
{
	X509 *cert = X509_STORE_CTX_get_current_cert(x);
	char dn[TLS_DN_SIZE], cn[TLS_CN_SIZE], serial[64] = "?";
	int depth = X509_STORE_CTX_get_error_depth(x);

	tls_peer_names(cert, dn, cn);
	if (cert != NULL) {
		const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
		size_t k = 0;
		for (int i = 0; sn != NULL && i < sn->length && k + 4 < sizeof serial; i++)
			k += (size_t)snprintf(serial + k, sizeof serial - k, "%s%02X", i ? ":" : "",
					      sn->data[i]);
	}
	c->revoked = true;
	snprintf(c->reason, sizeof c->reason,
		 "%s certificate \"%.120s\" (serial %.60s) is revoked (CRL)",
		 depth == 0 ? "peer" : "the CA", dn[0] ? dn : "(no name)", serial);
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	char dn[TLS_DN_SIZE], cn[TLS_CN_SIZE];

	if (!ok && c != NULL && !c->revoked &&
	    X509_STORE_CTX_get_error(x) == X509_V_ERR_CERT_REVOKED)
		note_revoked(c, x);
	if (!ok || c == NULL || c->expect_peer[0] == '\0' || X509_STORE_CTX_get_error_depth(x) != 0)
		return ok;
	tls_peer_names(X509_STORE_CTX_get_current_cert(x), dn, cn);
	if (tls_peer_match(c->expect_peer, dn, cn))
		return 1;
	c->rc = QSG_RC_SSL_PEER_NAME_MISMATCH;
	snprintf(c->reason, sizeof c->reason,
		 "peer certificate \"%.150s\" is not the expected %.60s", dn, c->expect_peer);
	X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

/* Handshake complete: identity, the peer check again (a peer without a
 * certificate never reaches verify_cb), then the held plaintext. */
static int opened(struct tls_conn *c)
{
	size_t w;

	tls_peer_capture(c);
	c->verified = c->ctx_verify != TLS_VERIFY_NONE &&
		      SSL_get0_peer_certificate(c->ssl) != NULL &&
		      SSL_get_verify_result(c->ssl) == X509_V_OK;
	if (c->expect_peer[0] != '\0' &&
	    (!c->verified || !tls_peer_match(c->expect_peer, c->peer_dn, c->peer_cn))) {
		char why[QSG_ERRMSG_SIZE];
		snprintf(why, sizeof why, "peer \"%.150s\" is not the expected %.60s",
			 c->peer_dn[0] ? c->peer_dn : "(no certificate)", c->expect_peer);
		SSL_shutdown(c->ssl); /* the peer sees the connection end */
		ERR_clear_error();
		return fail(c, QSG_RC_SSL_PEER_NAME_MISMATCH, "%s", why);
	}
	c->state = TLS_OPEN;
	if (c->plain_out.len > 0) {
		ERR_clear_error();
		if (SSL_write_ex(c->ssl, c->plain_out.p + c->plain_out.off, c->plain_out.len, &w) !=
		    1)
			return fail_ssl(c, SSL_get_error(c->ssl, 0), "TLS write");
	}
	buf_free(&c->plain_out);
	return QSG_OK;
}

/* ---- the pump ---- */

static int pump(struct tls_conn *c)
{
	if (c->state == TLS_FAILED)
		return c->rc;
	if (c->state == TLS_HANDSHAKING) {
		int r;

		ERR_clear_error();
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return QSG_OK;
			return fail_ssl(c, e, "TLS handshake");
		}
		if (opened(c) != QSG_OK)
			return c->rc;
	}
	while (c->state == TLS_OPEN) {
		struct tls_buf *b = &c->plain_in;
		size_t room, got = 0;
		int r, e;

		if (!buf_room(b, 1))
			break; /* full (or no memory): the reader drains it first */
		room = b->cap - b->off - b->len;
		ERR_clear_error();
		r = SSL_read_ex(c->ssl, b->p + b->off + b->len, room, &got);
		if (r == 1) {
			b->len += got;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			c->state = TLS_PEER_CLOSED;
			break;
		}
		return fail_ssl(c, e, "TLS read");
	}
	return QSG_OK;
}

/* ---- the interface ---- */

int tls_conn_init(struct tls_conn *conn, struct tls_ctx *ctx, const char *expect_peer, char *errmsg)
{
	BIO *rb, *wb;
	int mode;

	if (conn == NULL)
		return qsg_errf(errmsg, QSG_RC_INVALID, "tls: no connection");
	memset(conn, 0, sizeof *conn);
	if (ctx == NULL || ctx->ssl_ctx == NULL)
		return qsg_errf(errmsg, QSG_RC_INVALID, "tls: no context");
	if (expect_peer != NULL && expect_peer[0] != '\0') {
		if (ctx->cfg.verify == TLS_VERIFY_NONE)
			return qsg_errf(errmsg, QSG_RC_CONFIG,
					"tls: a required peer (%.60s) needs verification; verify "
					"is none",
					expect_peer);
		if (strlen(expect_peer) >= sizeof conn->expect_peer)
			return qsg_errf(errmsg, QSG_RC_INVALID, "tls: required peer too long");
		strcpy(conn->expect_peer, expect_peer);
	}
	ERR_clear_error();
	conn->ssl = SSL_new(ctx->ssl_ctx);
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	if (conn->ssl == NULL || rb == NULL || wb == NULL) {
		BIO_free(rb);
		BIO_free(wb);
		SSL_free(conn->ssl);
		conn->ssl = NULL;
		return tls_ossl_err(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "tls: SSL_new");
	}
	BIO_set_mem_eof_return(rb, -1); /* empty means "more to come", not EOF */
	BIO_set_mem_eof_return(wb, -1);
	SSL_set_bio(conn->ssl, rb, wb);
	SSL_set_app_data(conn->ssl, conn);
	conn->ctx = ctx;
	conn->ctx_verify = ctx->cfg.verify;
	conn->generation = ctx->generation;
	switch (ctx->cfg.verify) {
	case TLS_VERIFY_NONE:
		mode = SSL_VERIFY_NONE;
		break;
	case TLS_VERIFY_OPTIONAL:
		mode = SSL_VERIFY_PEER;
		break;
	default:
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		break;
	}
	if (conn->expect_peer[0] != '\0')
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_set_verify(conn->ssl, mode, mode == SSL_VERIFY_NONE ? NULL : verify_cb);
	if (ctx->cfg.role == TLS_CLIENT)
		SSL_set_connect_state(conn->ssl);
	else
		SSL_set_accept_state(conn->ssl);
	conn->state = TLS_HANDSHAKING;
	if (ctx->cfg.role == TLS_CLIENT && pump(conn) != QSG_OK) {
		int rc = qsg_errf(errmsg, conn->rc, "%s", conn->reason);
		tls_conn_close(conn);
		return rc;
	}
	return QSG_OK;
}

void tls_conn_close(struct tls_conn *conn)
{
	if (conn == NULL)
		return;
	SSL_free(conn->ssl); /* frees both BIOs, drops the context reference */
	conn->ssl = NULL;
	buf_free(&conn->plain_in);
	buf_free(&conn->plain_out);
	buf_free(&conn->cipher_out);
}

int tls_conn_feed(struct tls_conn *conn, const void *cipher, size_t n)
{
	BIO *rb;

	if (conn == NULL || conn->ssl == NULL || (cipher == NULL && n > 0))
		return QSG_RC_INVALID;
	if (conn->state == TLS_FAILED)
		return conn->rc;
	if (conn->state == TLS_PEER_CLOSED)
		return QSG_OK; /* nothing may follow close_notify: dropped */
	if (n > 0) {
		rb = SSL_get_rbio(conn->ssl);
		if (n > TLS_BUF_CAP || BIO_ctrl_pending(rb) + n > TLS_BUF_CAP)
			return QSG_RC_TLS_BUFFER_FULL;
		if (BIO_write(rb, cipher, (int)n) != (int)n)
			return fail(conn, QSG_RC_STORAGE_NOT_AVAILABLE, "%s",
				    "TLS: no memory for received data");
	}
	return pump(conn);
}

int tls_conn_read(struct tls_conn *conn, void *buf, size_t cap, size_t *got)
{
	struct tls_buf *b;
	size_t k;
	int rc;

	if (got != NULL)
		*got = 0;
	if (conn == NULL || conn->ssl == NULL || got == NULL || (buf == NULL && cap > 0))
		return QSG_RC_INVALID;
	if (conn->state == TLS_FAILED)
		return conn->rc;
	b = &conn->plain_in;
	if (b->len == 0) {
		rc = pump(conn);
		if (rc != QSG_OK)
			return rc;
	}
	k = b->len < cap ? b->len : cap;
	if (k > 0) {
		memcpy(buf, b->p + b->off, k);
		buf_drop(b, k);
		*got = k;
		pump(conn); /* room freed: decrypt what waited; a failure shows next time */
	}
	return QSG_OK;
}

int tls_conn_write(struct tls_conn *conn, const void *plain, size_t n)
{
	size_t queued, w;

	if (conn == NULL || conn->ssl == NULL || (plain == NULL && n > 0))
		return QSG_RC_INVALID;
	if (conn->state == TLS_FAILED)
		return conn->rc;
	if (conn->shut_sent)
		return QSG_RC_INVALID;
	if (n == 0)
		return QSG_OK;
	if (conn->state == TLS_HANDSHAKING) {
		if (!buf_room(&conn->plain_out, n))
			return QSG_RC_TLS_BUFFER_FULL;
		memcpy(conn->plain_out.p + conn->plain_out.off + conn->plain_out.len, plain, n);
		conn->plain_out.len += n;
		return QSG_OK;
	}
	queued = conn->cipher_out.len + BIO_ctrl_pending(SSL_get_wbio(conn->ssl));
	if (n > TLS_BUF_CAP || queued + n > TLS_BUF_CAP)
		return QSG_RC_TLS_BUFFER_FULL;
	ERR_clear_error();
	if (SSL_write_ex(conn->ssl, plain, n, &w) != 1)
		return fail_ssl(conn, SSL_get_error(conn->ssl, 0), "TLS write");
	return QSG_OK;
}

void tls_conn_pending(struct tls_conn *conn, const void **p, size_t *n)
{
	struct tls_buf *b = &conn->cipher_out;
	BIO *wb = conn->ssl != NULL ? SSL_get_wbio(conn->ssl) : NULL;
	size_t more = wb != NULL ? BIO_ctrl_pending(wb) : 0;

	/* Move what OpenSSL wrote into our buffer (BIO_read only advances the
	 * memory BIO's read pointer). Output is bounded by the write checks,
	 * so this buffer may pass TLS_BUF_CAP by one record's overhead and the
	 * held plaintext flushed at handshake end. */
	if (more > 0 && (b->cap - b->off - b->len >= more || buf_room_max(b, more, TLS_OUT_MAX))) {
		int k = BIO_read(wb, b->p + b->off + b->len, (int)more);
		if (k > 0)
			b->len += (size_t)k;
	}
	*p = b->len > 0 ? b->p + b->off : NULL;
	*n = b->len;
}

void tls_conn_consume(struct tls_conn *conn, size_t n)
{
	struct tls_buf *b = &conn->cipher_out;

	buf_drop(b, n < b->len ? n : b->len);
}

int tls_conn_shutdown(struct tls_conn *conn)
{
	int r, e;

	if (conn == NULL || conn->ssl == NULL)
		return QSG_RC_INVALID;
	if (conn->state == TLS_FAILED)
		return conn->rc;
	if (conn->shut_sent)
		return QSG_OK;
	conn->shut_sent = true;
	buf_free(&conn->plain_out);
	if (conn->state == TLS_HANDSHAKING)
		return QSG_OK; /* nothing to close yet: the caller drops the transport */
	ERR_clear_error();
	r = SSL_shutdown(conn->ssl);
	if (r >= 0)
		return QSG_OK;
	e = SSL_get_error(conn->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return QSG_OK;
	return fail_ssl(conn, e, "TLS shutdown");
}

int tls_conn_eof(struct tls_conn *conn)
{
	if (conn == NULL || conn->ssl == NULL)
		return QSG_RC_INVALID;
	if (conn->state == TLS_FAILED)
		return conn->rc;
	if (conn->state == TLS_PEER_CLOSED || conn->shut_sent)
		return QSG_OK;
	return fail(conn, QSG_RC_TLS_FAILED, "%s",
		    conn->state == TLS_HANDSHAKING
			? "TLS handshake failed: the peer closed the connection"
			: "TLS: the peer closed the connection without close_notify (truncated)");
}

enum tls_state tls_conn_state(const struct tls_conn *conn)
{
	return conn->state;
}

bool tls_conn_handshake_done(const struct tls_conn *conn)
{
	return conn->state == TLS_OPEN || conn->state == TLS_PEER_CLOSED;
}

bool tls_conn_peer_closed(const struct tls_conn *conn)
{
	return conn->state == TLS_PEER_CLOSED;
}

bool tls_conn_failed(const struct tls_conn *conn)
{
	return conn->state == TLS_FAILED;
}

int tls_conn_rc(const struct tls_conn *conn)
{
	return conn->state == TLS_FAILED ? conn->rc : QSG_OK;
}

const char *tls_conn_reason(const struct tls_conn *conn)
{
	return conn->state == TLS_FAILED ? conn->reason : "";
}

const char *tls_conn_peer_dn(const struct tls_conn *conn)
{
	return conn->peer_dn;
}

const char *tls_conn_peer_cn(const struct tls_conn *conn)
{
	return conn->peer_cn;
}

const char *tls_conn_peer_fingerprint(const struct tls_conn *conn)
{
	return conn->peer_fp;
}

bool tls_conn_peer_verified(const struct tls_conn *conn)
{
	return conn->verified;
}

bool tls_conn_peer_revoked(const struct tls_conn *conn)
{
	return conn->state == TLS_FAILED && conn->revoked;
}

const char *tls_conn_version(const struct tls_conn *conn)
{
	return tls_conn_handshake_done(conn) ? SSL_get_version(conn->ssl) : "";
}

const char *tls_conn_cipher(const struct tls_conn *conn)
{
	const char *s = tls_conn_handshake_done(conn) ? SSL_get_cipher_name(conn->ssl) : NULL;

	return s != NULL ? s : "";
}
