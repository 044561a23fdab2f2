/* libqsg: TLS on the connection to a member (docs/client.md, "TLS").
 * The engine (src/tls/tls.h) turns the bytes conn.c sends and receives into
 * TLS records; this file owns the client context made from the environment
 * (QSG_TLS_CA, QSG_TLS_CERT, QSG_TLS_KEY, QSG_TLS_VERIFY, QSG_TLS_PEER) and
 * the blocking handshake, sends and receives on the non-blocking socket. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_int.h"
#include "tls/tls.h"

#define PLAIN_CHUNK (256 * 1024)
#define CIPHER_CHUNK (64 * 1024)

static const char *env(const char *name)
{
	const char *e = getenv(name);
	return e != NULL && *e != '\0' ? e : NULL;
}

int qsgi_tls_setup(qsg_conn *c, char *errmsg)
{
	const char *ca = env("QSG_TLS_CA"), *cert = env("QSG_TLS_CERT"), *key = env("QSG_TLS_KEY");
	const char *verify = env("QSG_TLS_VERIFY"), *peer = env("QSG_TLS_PEER");
	if (ca == NULL && cert == NULL && key == NULL)
		return QSG_OK; /* plaintext */
	struct tls_config tc = {.role = TLS_CLIENT,
				.verify = TLS_VERIFY_REQUIRED,
				.key_file = key,
				.cert_file = cert,
				.ca_file = ca};
	if (verify != NULL && strcmp(verify, "none") == 0)
		tc.verify = TLS_VERIFY_NONE;
	else if (verify != NULL && strcmp(verify, "required") != 0)
		return qsg_errf(errmsg, QSG_RC_INVALID,
				"QSG_TLS_VERIFY: '%s' is not required or none", verify);
	if ((cert == NULL) != (key == NULL))
		return qsg_errf(errmsg, QSG_RC_INVALID, "QSG_TLS_CERT and QSG_TLS_KEY go together");
	if (ca == NULL && tc.verify != TLS_VERIFY_NONE)
		return qsg_errf(errmsg, QSG_RC_INVALID,
				"QSG_TLS_CA is needed to check the member's certificate");
	c->tls = calloc(1, sizeof *c->tls);
	if (c->tls == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	char e[QSG_ERRMSG_SIZE];
	int rc = tls_ctx_init(c->tls, &tc, e);
	if (rc != QSG_OK) {
		free(c->tls);
		c->tls = NULL;
		return qsg_errf(errmsg, rc, "TLS: %s", e);
	}
	snprintf(c->tls_peer, sizeof c->tls_peer, "%s",
		 peer != NULL && tc.verify != TLS_VERIFY_NONE ? peer : "");
	return QSG_OK;
}

void qsgi_tls_free(qsg_conn *c)
{
	qsgi_tls_drop(c);
	if (c->tls != NULL) {
		tls_ctx_close(c->tls);
		free(c->tls);
		c->tls = NULL;
	}
}

void qsgi_tls_drop(qsg_conn *c)
{
	if (c->tlsc != NULL) {
		tls_conn_close(c->tlsc);
		free(c->tlsc);
		c->tlsc = NULL;
	}
}

/* Send all pending ciphertext (blocking until deadline). */
static int flush_cipher(qsg_conn *c, int64_t deadline)
{
	for (;;) {
		const void *p;
		size_t n;
		tls_conn_pending(c->tlsc, &p, &n);
		if (n == 0)
			return QSG_OK;
		int rc = qsgi_fd_send_all(c->fd, p, n, deadline, c->err);
		if (rc != QSG_OK)
			return rc;
		tls_conn_consume(c->tlsc, n);
	}
}

static int failed(qsg_conn *c)
{
	return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN, "TLS with the member failed: %s",
			tls_conn_reason(c->tlsc));
}

int qsgi_tls_handshake(qsg_conn *c, int64_t deadline)
{
	char e[QSG_ERRMSG_SIZE];
	c->tlsc = calloc(1, sizeof *c->tlsc);
	if (c->tlsc == NULL)
		return qsg_errf(c->err, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	int rc = tls_conn_init(c->tlsc, c->tls, c->tls_peer[0] ? c->tls_peer : NULL, e);
	if (rc != QSG_OK) {
		free(c->tlsc);
		c->tlsc = NULL;
		return qsg_errf(c->err, rc, "TLS: %s", e);
	}
	char buf[CIPHER_CHUNK];
	while (!tls_conn_handshake_done(c->tlsc)) {
		if ((rc = flush_cipher(c, deadline)) != QSG_OK)
			return rc;
		if (tls_conn_failed(c->tlsc))
			return failed(c);
		ssize_t k = recv(c->fd, buf, sizeof buf, 0);
		if (k > 0) {
			(void)tls_conn_feed(c->tlsc, buf, (size_t)k);
			if (tls_conn_failed(c->tlsc)) {
				(void)flush_cipher(c, deadline); /* our alert */
				return failed(c);
			}
			continue;
		}
		if (k == 0)
			return qsg_errf(
			    c->err, QSG_RC_CONNECTION_BROKEN,
			    "the member closed the connection during the TLS handshake "
			    "(does its listener speak TLS? is our certificate accepted?)");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN, "recv: %s",
					strerror(errno));
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int r = poll(&pfd, 1, qsgi_left_ms(deadline));
		if (r == 0)
			return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN,
					"no TLS handshake with the member in time");
		if (r < 0 && errno != EINTR)
			return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN, "poll: %s",
					strerror(errno));
	}
	return flush_cipher(c, deadline);
}

int qsgi_tls_send(qsg_conn *c, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		size_t k = n < PLAIN_CHUNK ? n : PLAIN_CHUNK;
		if (tls_conn_write(c->tlsc, p, k) != QSG_OK)
			return failed(c);
		int rc = flush_cipher(c, deadline);
		if (rc != QSG_OK)
			return rc;
		p += k;
		n -= k;
	}
	return QSG_OK;
}

/* Like recv() on a non-blocking socket: plaintext already decrypted first,
 * then whatever the socket has; fills as much of buf as it can, so a short
 * result means nothing is left in the engine or the socket. -1 with errno
 * EAGAIN: nothing now; 0: the member closed; -1 with errno EPROTO: TLS
 * failed (c->err says why). */
ssize_t qsgi_tls_recv(qsg_conn *c, uint8_t *buf, size_t space)
{
	size_t total = 0;
	char cbuf[CIPHER_CHUNK];
	while (total < space) {
		size_t got = 0;
		if (tls_conn_read(c->tlsc, buf + total, space - total, &got) != QSG_OK) {
			failed(c);
			errno = EPROTO;
			return -1;
		}
		if (got > 0) {
			total += got;
			continue;
		}
		if (tls_conn_peer_closed(c->tlsc))
			break;
		ssize_t k = recv(c->fd, cbuf, sizeof cbuf, 0);
		if (k > 0) {
			(void)tls_conn_feed(c->tlsc, cbuf, (size_t)k);
			if (tls_conn_failed(c->tlsc)) {
				failed(c);
				errno = EPROTO;
				return -1;
			}
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (total > 0)
			break;
		return k;
	}
	return (ssize_t)total;
}
