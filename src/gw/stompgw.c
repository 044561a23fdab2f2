/* The STOMP 1.2 gateway (stompgw.h; docs/protocols.md says what each frame
 * maps to and what is guaranteed).
 *
 * One STOMP connection uses several gateway sessions (gwsess.h), because a
 * qsg session has one unit of work and STOMP settles messages one by one:
 *  - main: SENDs outside a transaction (PUT outside syncpoint, with its
 *    sequence number: sent again after a leader change, never twice);
 *  - one per transaction (BEGIN .. COMMIT/ABORT): its SENDs are syncpoint
 *    PUTs, COMMIT commits them, ABORT backs them out; kept for the next
 *    BEGIN;
 *  - one per message a subscription may hold (its prefetch-count: slots):
 *    a slot GETs in syncpoint (waiting), the MESSAGE goes out, ACK commits
 *    the slot's unit of work, NACK backs it out (BackoutCount + 1, so
 *    BOTHRESH/BOQNAME apply); ack:auto commits once the MESSAGE is written.
 * A connection that ends closes its sessions: each is detached and its unit
 * of work backed out, so unacknowledged messages go back to their queue and
 * open transactions vanish.
 *
 * Ordering: SEND, ACK and NACK frames are pipelined (up to SC_WINDOW in
 * flight); any other frame waits until everything before it is done, so a
 * receipt, a COMMIT or a DISCONNECT follows the frames before it. */
#include "stompgw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gwsess.h"
#include "proto/proto.h"
#include "qsgd/config.h"
#include "qsgd/daemon.h"
#include "qsgd/log.h"
#include "qsgd/net.h"
#include "qsgd/stream.h"
#include "qsgd/tlsstream.h"
#include "stomp/stompframe.h"
#include "stompgw_int.h"

#define SC_WINDOW 64 /* SEND/ACK/NACK frames in flight per connection */
#define HB_SERVER_MS 1000 /* heart-beat: what we offer (send) and want (receive) */

/* heart-beat "cx,cy" against ours (HB_SERVER_MS both ways). */
static int heartbeat(struct sconn *c, const char *hb)
{
	unsigned long cx = 0, cy = 0;
	if (hb != NULL) {
		char *end;
		cx = strtoul(hb, &end, 10);
		if (*end != ',')
			return -1;
		cy = strtoul(end + 1, &end, 10);
		if (*end != '\0' || cx > 86400000ul || cy > 86400000ul)
			return -1;
	}
	c->hb_out = cy == 0 ? 0 : (unsigned)(cy > HB_SERVER_MS ? cy : HB_SERVER_MS);
	c->hb_in = cx == 0 ? 0 : (unsigned)(cx > HB_SERVER_MS ? cx : HB_SERVER_MS);
	sc_timer_arm(c);
	return 0;
}

static void connected(void *arg, const struct proto_resp *resp)
{
	struct sconn *c = arg;
	if (c->state != SC_CONNECTING)
		return;
	if (resp->rc != QSG_OK) {
		char text[300];
		snprintf(text, sizeof text, "%.*s", (int)resp->text.len,
			 (const char *)resp->text.p);
		sc_error_rc(c, NULL, "CONNECT", resp->rc, text);
		return;
	}
	const struct qsgd_config *cfg = c->gw->d->cfg;
	char hb[48], session[80];
	snprintf(hb, sizeof hb, "%u,%u", c->hb_out, c->hb_in);
	snprintf(session, sizeof session, "%s-%llu", cfg->name, (unsigned long long)c->serial);
	struct qsg_wbuf *w = &c->stream.out;
	stomp_begin(w, STOMP_CONNECTED);
	stomp_headerz(w, STOMP_CONNECTED, "version", "1.2");
	stomp_headerz(w, STOMP_CONNECTED, "heart-beat", hb);
	stomp_headerz(w, STOMP_CONNECTED, "server", "qsg");
	stomp_headerz(w, STOMP_CONNECTED, "session", session);
	stomp_headerz(w, STOMP_CONNECTED, "qsg-qmgr", cfg->name);
	stomp_headerz(w, STOMP_CONNECTED, "qsg-group", cfg->group);
	if (c->has_client_id) {
		char seq[32];
		snprintf(seq, sizeof seq, "%llu", (unsigned long long)gwsess_put_seq_last(c->main));
		stomp_headerz(w, STOMP_CONNECTED, "qsg-put-seq", seq);
	}
	qsg_put_bytes(w, "\n", 1);
	qsg_put_u8(w, '\0');
	sc_out_done(c);
	c->state = SC_OPEN;
	c->last_in = uv_now(c->gw->d->loop);
	sc_resume(c);
}

/* A CONNECT's client-id with its login as the main session's client id:
 * the first 8 bytes of SHA-256("stomp" NUL login NUL client-id) (a hash
 * that another login cannot aim at: it would fence that producer and have
 * its SENDs taken for duplicates); 0 when it cannot be computed. */
static uint64_t client_id_of(const char *login, const char *cid)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t h = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, "stomp", 6) == 1 &&
	    EVP_DigestUpdate(ctx, login, strlen(login) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, cid, strlen(cid)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= 8)
		memcpy(&h, md, 8);
	EVP_MD_CTX_free(ctx);
	return h;
}

static void on_connect(struct sconn *c, const struct stomp_frame *f)
{
	const char *v = stomp_get(f, "accept-version");
	bool ok = false;
	if (v != NULL) {
		char tmp[128];
		snprintf(tmp, sizeof tmp, "%s", v);
		for (char *save, *t = strtok_r(tmp, ",", &save); t != NULL;
		     t = strtok_r(NULL, ",", &save))
			ok = ok || strcmp(t, "1.2") == 0;
	}
	if (!ok) {
		/* The spec's way: ERROR with the versions we speak. */
		struct qsg_wbuf *w = &c->stream.out;
		const char *d = "this server speaks STOMP 1.2 only (accept-version:1.2)";
		stomp_begin(w, STOMP_ERROR);
		stomp_headerz(w, STOMP_ERROR, "version", "1.2");
		stomp_headerz(w, STOMP_ERROR, "message", "unsupported protocol version");
		stomp_headerz(w, STOMP_ERROR, "content-type", "text/plain");
		stomp_end(w, (const uint8_t *)d, strlen(d));
		sc_out_done(c);
		sc_shutdown(c, true);
		return;
	}
	if (heartbeat(c, stomp_get(f, "heart-beat")) != 0) {
		sc_error(c, NULL, "bad heart-beat header", "heart-beat must be two numbers: cx,cy");
		return;
	}
	const char *login = stomp_get(f, "login");
	const char *pass = stomp_get(f, "passcode");
	if (login != NULL && (login[0] == '\0' || strlen(login) > PROTO_MAX_USER)) {
		sc_error(c, NULL, "login failed", "login must be 1..64 characters");
		return;
	}
	if (pass != NULL && strlen(pass) > PROTO_MAX_PASSWORD) {
		sc_error(c, NULL, "login failed", "passcode over 256 characters");
		return;
	}
	const char *cid = stomp_get(f, "client-id");
	if (cid != NULL && (cid[0] == '\0' || strlen(cid) > STOMP_ID_MAX)) {
		sc_error(c, NULL, "bad client-id", "client-id must be 1..255 bytes");
		return;
	}
	c->has_client_id = cid != NULL;
	uint64_t client_id = cid != NULL ? client_id_of(login != NULL ? login : "", cid) : 0;
	if (cid != NULL && client_id == 0) {
		sc_error(c, NULL, "server unavailable",
			 "cannot derive a client id (out of memory)");
		return;
	}
	snprintf(c->login, sizeof c->login, "%s", login != NULL ? login : "");
	snprintf(c->passcode, sizeof c->passcode, "%s", pass != NULL ? pass : "");
	struct gwsess_peer p = {.peer = c->peer,
				.app = "stomp",
				.user = login,
				.password = c->passcode,
				.cert_cn = tlsstream_peer_cn(&c->stream),
				.tls = c->stream.tls != NULL,
				.client_id = client_id};
	c->state = SC_CONNECTING;
	c->main = gwsess_open(c->gw->d->server, c->gw->d->loop, &p, sc_sess_lost, c, connected, c);
	if (c->main == NULL)
		sc_error(c, NULL, "server unavailable", "the member is stopping or out of memory");
}

static void on_disconnect(struct sconn *c, const struct stomp_frame *f)
{
	/* Everything before it is done (sc_bytes waits for that). */
	sc_receipt(c, stomp_get(f, "receipt"));
	sc_shutdown(c, true);
}

static void sc_frame(struct sconn *c, const struct stomp_frame *f)
{
	if (f->cmd == STOMP_CONNECT || f->cmd == STOMP_STOMP) {
		if (c->state != SC_AWAIT)
			sc_error(c, stomp_get(f, "receipt"), "already connected",
				 "CONNECT was already sent on this connection");
		else
			on_connect(c, f);
		return;
	}
	if (c->state != SC_OPEN) {
		sc_error(c, stomp_get(f, "receipt"), "not connected",
			 "the first frame must be CONNECT or STOMP");
		return;
	}
	switch (f->cmd) {
	case STOMP_SEND:
		on_send(c, f);
		break;
	case STOMP_SUBSCRIBE:
		on_subscribe(c, f);
		break;
	case STOMP_UNSUBSCRIBE:
		on_unsubscribe(c, f);
		break;
	case STOMP_ACK:
	case STOMP_NACK:
		on_ack(c, f, f->cmd == STOMP_NACK);
		break;
	case STOMP_BEGIN:
		on_begin(c, f);
		break;
	case STOMP_COMMIT:
		on_commit(c, f);
		break;
	case STOMP_ABORT:
		on_abort(c, f);
		break;
	case STOMP_DISCONNECT:
		on_disconnect(c, f);
		break;
	default:
		sc_error(c, stomp_get(f, "receipt"), "unexpected frame",
			 "MESSAGE, RECEIPT, ERROR and CONNECTED are server frames");
		break;
	}
}

/* Frames that may start while others are in flight. */
static bool pipelined(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && (p[i] == '\n' || p[i] == '\r'))
		i++;
	static const char *const ok[] = {"SEND\n",  "SEND\r\n", "ACK\n",
					 "ACK\r\n", "NACK\n",	"NACK\r\n"};
	for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
		size_t l = strlen(ok[k]);
		if (n - i >= l && memcmp(p + i, ok[k], l) == 0)
			return true;
	}
	return false;
}

static size_t sc_bytes(struct stream *st, uint8_t *p, size_t len)
{
	struct sconn *c = st->data;
	char errmsg[QSG_ERRMSG_SIZE];
	size_t off = 0;
	c->last_in = uv_now(c->gw->d->loop);
	c->in_bytes = true;
	while (off < len && c->state != SC_CLOSING && c->state != SC_CONNECTING) {
		if (sc_out_full(c))
			sc_hold_output(c); /* the client does not read: neither do we */
		if (c->out_held ||
		    (c->busy > 0 && (c->busy >= SC_WINDOW || !pipelined(p + off, len - off)))) {
			if (!c->paused) {
				c->paused = true;
				stream_pause(st, true);
			}
			break;
		}
		struct stomp_frame f;
		size_t used = 0;
		int rc = stomp_parse(p + off, len - off, c->gw->max_body, &f, &used, errmsg);
		if (rc != QSG_OK) {
			sc_error(c, NULL, "malformed frame", errmsg);
			off = len;
			break;
		}
		if (used == 0)
			break;
		off += used;
		if (f.cmd != STOMP_NONE)
			sc_frame(c, &f);
	}
	c->in_bytes = false;
	return off;
}

static void sc_on_error(struct stream *st, int rc, uint32_t reqid)
{
	(void)rc;
	(void)reqid;
	sc_shutdown(st->data, false);
}

static void sc_on_closed(struct stream *st)
{
	struct sconn *c = st->data;
	c->nclosed++;
	sc_maybe_free(c);
}

static void sc_on_frame(struct stream *st, const uint8_t *p, size_t len)
{
	(void)st;
	(void)p;
	(void)len; /* not used: on_bytes */
}

static const struct stream_ops sc_ops = {
    .on_frame = sc_on_frame,
    .on_error = sc_on_error,
    .on_closed = sc_on_closed,
    .on_bytes = sc_bytes,
};

static void sc_peer(struct sconn *c)
{
	struct sockaddr_storage sa;
	int len = sizeof sa;
	char host[64] = "?";
	unsigned port = 0;
	if (uv_tcp_getpeername(&c->stream.tcp, (struct sockaddr *)&sa, &len) == 0) {
		if (sa.ss_family == AF_INET) {
			const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
			uv_ip4_name(in, host, sizeof host);
			port = ntohs(in->sin_port);
		} else if (sa.ss_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
			uv_ip6_name(in6, host, sizeof host);
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(c->peer, sizeof c->peer, "%s:%u", host, port);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct stompgw *gw = l->data;
	if (status != 0 || gw->closing)
		return;
	struct sconn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return;
	c->gw = gw;
	c->serial = ++gw->serial;
	gw->nlive++;
	c->next = gw->conns;
	if (gw->conns != NULL)
		gw->conns->prev = c;
	gw->conns = c;
	uv_timer_init(gw->d->loop, &c->hb);
	c->hb.data = c;
	uv_tcp_init(gw->d->loop, &c->stream.tcp);
	stream_init(&c->stream, &gw->set, &sc_ops, c);
	c->last_in = c->last_out = uv_now(gw->d->loop);
	if (uv_accept(l, (uv_stream_t *)&c->stream.tcp) != 0) {
		sc_shutdown(c, false);
		return;
	}
	sc_peer(c);
	/* A client that vanishes without heart-beats (a partition, a host
	 * that died) still ends: TCP keep-alive after 30 s idle. */
	uv_tcp_keepalive(&c->stream.tcp, 1, 30);
	struct tlsstream_cfg *tls = gw->d->tls;
	if (tls != NULL && tls->optional)
		c->stream.tls_detect = tls;
	else if (tls != NULL && tlsstream_attach(&c->stream, tls, TLS_SERVER, NULL) != QSG_OK) {
		sc_shutdown(c, false);
		return;
	}
	if (stream_start(&c->stream) != QSG_OK)
		sc_shutdown(c, false);
}

/* ---- the listener ---- */

static void listener_closed(uv_handle_t *h)
{
	struct stompgw *gw = h->data;
	gw->nclosed++;
	stompgw_maybe_free(gw);
}

static void set_closed(struct stream_set *set)
{
	struct stompgw *gw = set->data;
	gw->nclosed += 2;
	stompgw_maybe_free(gw);
}

int stompgw_init(struct stompgw **out, struct qsgd *d, char *errmsg)
{
	struct sockaddr_storage sa;
	const char *addr = d->cfg->stomp;
	if (net_resolve(addr, &sa) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"[stomp] address %s: host must be a numeric IP address", addr);
	struct stompgw *gw = calloc(1, sizeof *gw);
	if (gw == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	gw->d = d;
	/* A body goes into one PUT: what [batch] max_entry_bytes leaves after
	 * the properties and the command (docs/protocols.md). */
	size_t room = d->cfg->max_entry_bytes;
	gw->max_body = room > FSM_MAX_PROPS + 4096 ? room - FSM_MAX_PROPS - 4096 : 1024;
	if (gw->max_body > FSM_MAX_MSGL)
		gw->max_body = FSM_MAX_MSGL;
	gw->max_prefetch = d->cfg->stomp_max_prefetch;
	stream_set_init(&gw->set, d->loop);
	gw->set.data = gw;
	uv_tcp_init(d->loop, &gw->listener);
	gw->listener.data = gw;
	int rv = uv_tcp_bind(&gw->listener, (const struct sockaddr *)&sa, 0);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&gw->listener, 128, on_connection);
	if (rv != 0) {
		qsg_errf(errmsg, QSG_RC_IO, "cannot listen on %s (STOMP): %s", addr,
			 uv_strerror(rv));
		stompgw_close(gw);
		return QSG_RC_IO;
	}
	QLOG_INFO_(d->log, "QSG9101I", "STOMP 1.2 listener on %s%s", addr,
		   d->tls != NULL ? (d->tls->optional ? " (TLS or plaintext)" : " (TLS)") : "");
	*out = gw;
	return QSG_OK;
}

void stompgw_close(struct stompgw *gw)
{
	if (gw == NULL || gw->closing)
		return;
	gw->closing = true;
	for (struct sconn *c = gw->conns; c != NULL; c = c->next)
		sc_shutdown(c, false);
	uv_close((uv_handle_t *)&gw->listener, listener_closed);
	stream_set_close(&gw->set, set_closed);
}
