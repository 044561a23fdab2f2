#include "tlsstream.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "log.h"
#include "net.h"
#include "stream.h"

#define CIPHER_CHUNK (64 * 1024)
/* Plaintext handed to the engine at once: its ciphertext stays well under
 * the engine's cap (TLS_BUF_CAP). */
#define PLAIN_CHUNK (256 * 1024)

struct tlsstream {
	struct tls_conn conn;
	struct tlsstream_cfg *cfg;
	uv_timer_t timer; /* handshake timeout */
	bool logged; /* the failure was logged */
	void (*done)(struct stream *s);
	char rbuf[CIPHER_CHUNK];
};

int tlsstream_cfg_init(struct tlsstream_cfg *t, const struct qsgd_config *cfg, struct qlog *log,
		       char *errmsg)
{
	char e[QSG_ERRMSG_SIZE];
	struct tls_config tc = {
	    .role = TLS_SERVER,
	    .verify = (enum tls_verify)cfg->tls_verify,
	    .key_file = cfg->tls_key,
	    .cert_file = cfg->tls_cert,
	    .ca_file = cfg->tls_ca[0] != '\0' ? cfg->tls_ca : NULL,
	    .crl_file = cfg->tls_crl[0] != '\0' ? cfg->tls_crl : NULL,
	    .crl_check = (enum tls_crl_check)cfg->tls_crl_check,
	};
	memset(t, 0, sizeof *t);
	int rc = tls_ctx_init(&t->server, &tc, e);
	if (rc != QSG_OK)
		return qsg_errf(errmsg, rc, "[tls] server context: %s", e);
	tc.role = TLS_CLIENT;
	rc = tls_ctx_init(&t->client, &tc, e);
	if (rc != QSG_OK) {
		tls_ctx_close(&t->server);
		return qsg_errf(errmsg, rc, "[tls] client context: %s", e);
	}
	t->optional = cfg->tls_mode == QSGD_TLS_MODE_OPTIONAL;
	t->verify_none = cfg->tls_verify == QSGD_TLS_VERIFY_NONE;
	t->handshake_ms = cfg->tls_handshake_ms;
	t->log = log;
	return QSG_OK;
}

void tlsstream_cfg_close(struct tlsstream_cfg *t)
{
	tls_ctx_close(&t->server);
	tls_ctx_close(&t->client);
}

bool tlsstream_looks_tls(const unsigned char *p, size_t n, bool *need)
{
	*need = false;
	if (n >= 1 && p[0] != 0x16)
		return false;
	if (n < 3) {
		*need = true;
		return false;
	}
	return p[1] == 0x03 && p[2] >= 0x01 && p[2] <= 0x04;
}

/* One line per failed connection: who, the reason code and OpenSSL's text. */
static void log_failure(struct stream *s, int rc, const char *why)
{
	struct tlsstream *ts = s->tls;
	if (ts->logged)
		return;
	ts->logged = true;
	char peer[96];
	net_peer_name(&s->tcp, peer, sizeof peer);
	if (tls_conn_peer_revoked(&ts->conn)) {
		QLOG_WARNING(ts->cfg->log, "QSG8019W", "TLS handshake with %s refused: %s (%d): %s",
			     peer, qsg_rc_name(rc), rc, why);
		return;
	}
	QLOG_WARNING(ts->cfg->log, "QSG8001W", "TLS %s with %s failed: %s (%d): %s",
		     tls_conn_handshake_done(&ts->conn) ? "connection" : "handshake", peer,
		     qsg_rc_name(rc), rc, why);
}

static void timer_cb(uv_timer_t *h)
{
	struct stream *s = h->data;
	struct tlsstream *ts = s->tls;
	if (s->closing || ts == NULL || tls_conn_handshake_done(&ts->conn))
		return;
	char why[64];
	snprintf(why, sizeof why, "no handshake within %u ms", ts->cfg->handshake_ms);
	log_failure(s, QSG_RC_TLS_FAILED, why);
	s->ops->on_error(s, QSG_RC_TLS_FAILED, 0);
}

int tlsstream_attach(struct stream *s, struct tlsstream_cfg *t, enum tls_role role,
		     const char *expect_peer)
{
	char e[QSG_ERRMSG_SIZE];
	struct tlsstream *ts = calloc(1, sizeof *ts);
	if (ts == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	if (t->verify_none)
		expect_peer = NULL;
	int rc =
	    tls_conn_init(&ts->conn, role == TLS_SERVER ? &t->server : &t->client, expect_peer, e);
	if (rc != QSG_OK) {
		QLOG_WARNING(t->log, "QSG8002W", "TLS connection setup failed: %s", e);
		free(ts);
		return rc;
	}
	ts->cfg = t;
	uv_timer_init(s->set->loop, &ts->timer);
	ts->timer.data = s;
	uv_timer_start(&ts->timer, timer_cb, t->handshake_ms, 0);
	s->tls = ts;
	/* A client's ClientHello goes out with the stream's first flush: the
	 * caller writes its HELLO and marks the stream (stream_mark), so this
	 * module does not depend on stream.c's scheduling. */
	return QSG_OK;
}

void tlsstream_read_buf(struct stream *s, char **base, size_t *len)
{
	*base = s->tls->rbuf;
	*len = sizeof s->tls->rbuf;
}

int tlsstream_input(struct stream *s, const void *cipher, size_t n, bool *flush)
{
	struct tlsstream *ts = s->tls;
	bool was_open = tls_conn_handshake_done(&ts->conn);
	*flush = false;
	int rc = tls_conn_feed(&ts->conn, cipher, n);
	if (tls_conn_failed(&ts->conn)) {
		log_failure(s, tls_conn_rc(&ts->conn), tls_conn_reason(&ts->conn));
		return QSG_RC_TLS_FAILED;
	}
	if (rc != QSG_OK) { /* buffer full: the plaintext is read after every feed */
		log_failure(s, rc, "receive buffer full");
		return QSG_RC_TLS_FAILED;
	}
	if (!was_open && tls_conn_handshake_done(&ts->conn))
		uv_timer_stop(&ts->timer);
	const void *p;
	size_t pn;
	tls_conn_pending(&ts->conn, &p, &pn);
	/* handshake replies; frames held for the handshake */
	*flush = pn > 0 || (!was_open && tls_conn_handshake_done(&ts->conn));
	return QSG_OK;
}

void tlsstream_read(struct stream *s, void *buf, size_t cap, size_t *got)
{
	*got = 0;
	if (tls_conn_read(&s->tls->conn, buf, cap, got) != QSG_OK)
		*got = 0;
}

static void move_pending(struct stream *s)
{
	const void *p;
	size_t n;
	tls_conn_pending(&s->tls->conn, &p, &n);
	if (n > 0) {
		qsg_put_bytes(&s->writing, p, n);
		tls_conn_consume(&s->tls->conn, n);
	}
}

int tlsstream_output(struct stream *s)
{
	struct tlsstream *ts = s->tls;
	if (tls_conn_failed(&ts->conn)) {
		qsg_wbuf_reset(&s->out); /* only the alert goes out */
		move_pending(s);
		return s->writing.err;
	}
	if (tls_conn_handshake_done(&ts->conn)) {
		size_t off = 0;
		while (off < s->out.len) {
			size_t n = s->out.len - off < PLAIN_CHUNK ? s->out.len - off : PLAIN_CHUNK;
			int rc = tls_conn_write(&ts->conn, s->out.data + off, n);
			if (rc != QSG_OK) {
				log_failure(s, rc,
					    tls_conn_failed(&ts->conn) ? tls_conn_reason(&ts->conn)
								       : "send buffer full");
				return QSG_RC_TLS_FAILED;
			}
			off += n;
			move_pending(s);
		}
		qsg_wbuf_reset(&s->out);
		if (s->draining && !ts->conn.shut_sent)
			(void)tls_conn_shutdown(&ts->conn);
	}
	move_pending(s);
	return s->writing.err;
}

bool tlsstream_open(const struct stream *s)
{
	return s->tls != NULL && tls_conn_handshake_done(&s->tls->conn) &&
	       !tls_conn_failed(&s->tls->conn);
}

static void timer_closed(uv_handle_t *h)
{
	struct stream *s = h->data;
	struct tlsstream *ts = s->tls;
	void (*done)(struct stream *) = ts->done;
	tls_conn_close(&ts->conn);
	free(ts);
	s->tls = NULL;
	done(s);
}

void tlsstream_free(struct stream *s, void (*done)(struct stream *s))
{
	s->tls->done = done;
	uv_close((uv_handle_t *)&s->tls->timer, timer_closed);
}

const char *tlsstream_peer_dn(const struct stream *s)
{
	return s->tls != NULL ? tls_conn_peer_dn(&s->tls->conn) : "";
}

const char *tlsstream_peer_cn(const struct stream *s)
{
	if (s->tls == NULL || !tls_conn_handshake_done(&s->tls->conn) ||
	    !tls_conn_peer_verified(&s->tls->conn))
		return "";
	return tls_conn_peer_cn(&s->tls->conn);
}

const char *tlsstream_version(const struct stream *s)
{
	return s->tls != NULL ? tls_conn_version(&s->tls->conn) : "";
}

const char *tlsstream_cipher(const struct stream *s)
{
	return s->tls != NULL ? tls_conn_cipher(&s->tls->conn) : "";
}

const char *tlsstream_peer_fingerprint(const struct stream *s)
{
	return s->tls != NULL ? tls_conn_peer_fingerprint(&s->tls->conn) : "";
}

bool tlsstream_peer_verified(const struct stream *s)
{
	return s->tls != NULL && tls_conn_handshake_done(&s->tls->conn) &&
	       tls_conn_peer_verified(&s->tls->conn);
}

int tlsstream_failure(const struct stream *s, char *buf, size_t size)
{
	if (size > 0)
		buf[0] = '\0';
	if (s->tls == NULL || !tls_conn_failed(&s->tls->conn))
		return QSG_OK;
	snprintf(buf, size, "%s", tls_conn_reason(&s->tls->conn));
	return tls_conn_rc(&s->tls->conn);
}
