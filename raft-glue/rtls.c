/* TLS on Raft traffic: see rtls.h and docs/security.md.
 *
 * One struct link per TCP connection. Its life:
 *   CONNECTING  (outgoing) uv_tcp_connect in flight;
 *   HANDSHAKE   TLS handshake, then (incoming) the preamble;
 *   RELAY       the socketpair is made and one end given to libraft;
 *               bytes flow pipe -> engine -> TCP and TCP -> engine -> pipe;
 *   DRAINING    one side ended: the writes in flight to the other finish
 *               (at most LINGER_MS), then everything is closed;
 *   CLOSED      uv_close called on every handle; freed by the last close
 *               callback, which also answers a connect request still open.
 * The handshake timer bounds CONNECTING and HANDSHAKE together.
 *
 * Back-pressure: the bytes of our uv_writes still in flight are counted per
 * direction; a direction past HIGH stops reading its source, and its write
 * callbacks start it again below LOW. Every read is at most CHUNK bytes and
 * the engine is emptied after each one (ciphertext out to the socket,
 * plaintext out to the pipe), so the engine's buffers stay far below
 * TLS_BUF_CAP: at most HIGH + CHUNK bytes wait per direction. A
 * QSG_RC_TLS_BUFFER_FULL would therefore be a bug: the link is closed and
 * libraft reconnects. */
#include "rtls.h"

#include <raft.h>
#include <raft/uv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/tls/tls.h"

#define CHUNK (64 * 1024)
#define HIGH (256 * 1024)
#define LOW (64 * 1024)
#define LINGER_MS 1000
#define PROTOCOL 1 /* libraft 0.15's UV__TCP_HANDSHAKE_PROTOCOL */
#define PREAMBLE 24 /* protocol, id, address length: 3 x uint64 LE */
#define ADDR_MAX 256
/* Accepted connections still in their handshake or preamble at once (each
 * holds an OpenSSL connection and two buffers). A new one past the cap
 * closes the oldest: refusing the newest would let anyone who can open TCP
 * connections shut the members out with 64 idle ones renewed every
 * handshake timeout (docs/security.md). */
#define MAX_HANDSHAKING 64

enum link_state { CONNECTING, HANDSHAKE, RELAY, DRAINING, CLOSED };

struct rtls;

struct link {
	struct rtls *x;
	struct link *prev, *next;
	int state;
	bool outgoing;
	raft_id id; /* the peer's Raft id */
	char name[GLUE_TLS_NAME_SIZE]; /* outgoing: the CN the peer must have */
	char where[80]; /* the peer's address, for the log */
	struct raft_uv_connect *req; /* outgoing: until answered */
	raft_uv_connect_cb cb;
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_timer_t timer;
	uv_pipe_t pipe; /* our end of the socketpair (RELAY) */
	bool pipe_inited;
	uv_pipe_t *raft_end; /* libraft's end, until handed over (raft_malloc) */
	unsigned handles; /* close callbacks still to come */
	struct tls_conn conn;
	bool conn_inited;
	size_t to_tcp, to_pipe; /* bytes of our uv_writes in flight */
	bool tcp_reading, pipe_reading;
	bool tcp_done, pipe_done; /* no more reads from that side */
	unsigned char pre[PREAMBLE + ADDR_MAX]; /* incoming: the preamble */
	size_t pre_len;
	char tbuf[CHUNK]; /* ciphertext read from TCP */
	char pbuf[CHUNK]; /* plaintext read from the pipe or the engine */
};

struct rtls {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	struct tls_ctx server, client;
	struct glue_tls cfg; /* the file names are not used after init */
	raft_id id;
	char address[ADDR_MAX];
	uv_tcp_t listener;
	bool listener_open;
	raft_uv_accept_cb accept_cb;
	struct link *links;
	bool closing;
	raft_uv_transport_close_cb close_cb;
	struct rtls_stats stats;
	/* Names learned from rtls_learn (a member being added online, before
	 * its replicated record exists); oldest replaced first. */
	struct {
		raft_id id;
		char name[GLUE_TLS_NAME_SIZE];
	} learned[GLUE_MAX_SERVERS];
	unsigned n_learned, next_learned;
};

struct wreq {
	uv_write_t req;
	struct link *l;
	size_t n;
	bool to_tcp;
	char data[];
};

static void link_close(struct link *l);
static void pump(struct link *l);

static void say(struct rtls *x, bool revoked, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct rtls *x, bool revoked, const char *fmt, ...)
{
	char text[QSG_ERRMSG_SIZE + 256];
	void (*to)(void *, const char *) =
	    revoked && x->cfg.revoked != NULL ? x->cfg.revoked : x->cfg.refused;
	va_list ap;
	if (to == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	to(x->cfg.arg, text);
}

/* A refused or failed connection: counted, logged, closed. */
static void refuse(struct link *l, const char *why)
{
	if (l->state >= DRAINING)
		return;
	bool revoked = tls_conn_peer_revoked(&l->conn);
	l->x->stats.refused++;
	if (l->outgoing)
		say(l->x, revoked, "Raft TLS connection to %s (%s, Raft id %llu) refused: %s",
		    l->where, l->name, (unsigned long long)l->id, why);
	else
		say(l->x, revoked, "Raft TLS connection from %s refused: %s", l->where, why);
	link_close(l);
}

/* A connection handed to libraft ended by a TLS error (an alert, a bad
 * record): logged with the reason. With TLS 1.3 the dialling side is done
 * with its handshake before the server has checked its certificate, so a
 * server's refusal reaches it here, as an alert ("unknown ca", "certificate
 * required"); without this line only the server would say why. */
static void failed(struct link *l, const char *why)
{
	if (l->outgoing)
		say(l->x, false, "Raft TLS connection to %s (%s, Raft id %llu) failed: %s",
		    l->where, l->name, (unsigned long long)l->id, why);
	else
		say(l->x, false, "Raft TLS connection from %s (Raft id %llu) failed: %s", l->where,
		    (unsigned long long)l->id, why);
}

static bool name_of(struct rtls *x, raft_id id, char *name, size_t size)
{
	name[0] = '\0';
	if (id == 0)
		return false;
	if (x->cfg.member_name != NULL && x->cfg.member_name(x->cfg.arg, id, name, size) &&
	    name[0] != '\0')
		return true;
	for (unsigned i = 0; i < x->n_learned; i++)
		if (x->learned[i].id == id) {
			snprintf(name, size, "%s", x->learned[i].name);
			return true;
		}
	return false;
}

void rtls_learn(struct raft_uv_transport *t, uint64_t id, const char *name)
{
	struct rtls *x = t->impl;
	unsigned i;
	for (i = 0; i < x->n_learned; i++)
		if (x->learned[i].id == id)
			break;
	if (i == x->n_learned) {
		if (x->n_learned < GLUE_MAX_SERVERS) {
			x->n_learned++;
		} else {
			i = x->next_learned;
			x->next_learned = (x->next_learned + 1) % GLUE_MAX_SERVERS;
		}
	}
	x->learned[i].id = id;
	snprintf(x->learned[i].name, sizeof x->learned[i].name, "%s", name);
}

/* libraft's address parsing (uvIpParse): IPv4 host, ":port" (8080 when
 * missing). */
static int parse_addr(const char *address, struct sockaddr_in *sa)
{
	char host[ADDR_MAX];
	int port = 8080;
	snprintf(host, sizeof host, "%s", address);
	char *colon = strchr(host, ':');
	if (colon != NULL) {
		*colon = '\0';
		port = atoi(colon + 1);
	}
	return uv_ip4_addr(host, port, sa) == 0 ? 0 : -1;
}

static void peer_where(struct link *l)
{
	struct sockaddr_storage sa;
	int len = sizeof sa;
	char host[64];
	if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&sa, &len) != 0 ||
	    sa.ss_family != AF_INET)
		return;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
	uv_ip4_name(in, host, sizeof host);
	snprintf(l->where, sizeof l->where, "%s:%u", host, (unsigned)ntohs(in->sin_port));
}

/* ---- closing ---- */

static void maybe_closed(struct rtls *x)
{
	if (!x->closing || x->listener_open || x->links != NULL || x->close_cb == NULL)
		return;
	raft_uv_transport_close_cb cb = x->close_cb;
	x->close_cb = NULL;
	cb(x->t);
}

static void link_free(struct link *l)
{
	struct rtls *x = l->x;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		x->links = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	x->stats.links--;
	struct raft_uv_connect *req = l->req;
	raft_uv_connect_cb cb = l->cb;
	if (l->conn_inited)
		tls_conn_close(&l->conn);
	free(l);
	if (req != NULL)
		cb(req, NULL, x->closing ? RAFT_CANCELED : RAFT_NOCONNECTION);
	maybe_closed(x);
}

static void handle_closed(uv_handle_t *h)
{
	struct link *l = h->data;
	if (--l->handles == 0)
		link_free(l);
}

static void raft_end_closed(uv_handle_t *h)
{
	struct link *l = h->data;
	raft_free(h);
	if (--l->handles == 0)
		link_free(l);
}

static void link_close(struct link *l)
{
	if (l->state == CLOSED)
		return;
	l->state = CLOSED;
	uv_close((uv_handle_t *)&l->tcp, handle_closed);
	uv_close((uv_handle_t *)&l->timer, handle_closed);
	if (l->pipe_inited)
		uv_close((uv_handle_t *)&l->pipe, handle_closed);
	if (l->raft_end != NULL) {
		uv_close((uv_handle_t *)l->raft_end, raft_end_closed);
		l->raft_end = NULL;
	}
}

static void linger_cb(uv_timer_t *t)
{
	link_close(t->data);
}

/* One side ended: let the writes in flight to the other finish, then close. */
static void drain(struct link *l)
{
	if (l->state >= DRAINING)
		return;
	if (l->state != RELAY) {
		link_close(l);
		return;
	}
	l->state = DRAINING;
	if (l->tcp_reading)
		uv_read_stop((uv_stream_t *)&l->tcp);
	if (l->pipe_reading)
		uv_read_stop((uv_stream_t *)&l->pipe);
	l->tcp_reading = l->pipe_reading = false;
	if (l->to_tcp == 0 && l->to_pipe == 0) {
		link_close(l);
		return;
	}
	uv_timer_start(&l->timer, linger_cb, LINGER_MS, 0);
}

/* ---- writes and reads ---- */

static void tcp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void pipe_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct link *l = h->data;
	(void)suggested;
	*buf = uv_buf_init(l->tbuf, sizeof l->tbuf);
}

static void pipe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct link *l = h->data;
	(void)suggested;
	*buf = uv_buf_init(l->pbuf, sizeof l->pbuf);
}

/* Start (or stop) reading each side as the other's writes allow. */
static void flow(struct link *l)
{
	if (l->state == HANDSHAKE || l->state == RELAY) {
		bool want = !l->tcp_done && l->to_pipe < (l->tcp_reading ? HIGH : LOW);
		if (want && !l->tcp_reading) {
			if (uv_read_start((uv_stream_t *)&l->tcp, tcp_alloc, tcp_read_cb) == 0)
				l->tcp_reading = true;
		} else if (!want && l->tcp_reading) {
			uv_read_stop((uv_stream_t *)&l->tcp);
			l->tcp_reading = false;
			l->x->stats.pauses++;
		}
	}
	if (l->state == RELAY) {
		bool want = !l->pipe_done && l->to_tcp < (l->pipe_reading ? HIGH : LOW);
		if (want && !l->pipe_reading) {
			if (uv_read_start((uv_stream_t *)&l->pipe, pipe_alloc, pipe_read_cb) == 0)
				l->pipe_reading = true;
		} else if (!want && l->pipe_reading) {
			uv_read_stop((uv_stream_t *)&l->pipe);
			l->pipe_reading = false;
			l->x->stats.pauses++;
		}
	}
}

static void write_cb(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct link *l = w->l;
	if (w->to_tcp)
		l->to_tcp -= w->n;
	else
		l->to_pipe -= w->n;
	free(w);
	if (l->state == CLOSED)
		return;
	if (status != 0) {
		/* The peer or libraft went away: nothing more can be sent. */
		link_close(l);
		return;
	}
	if (l->state == DRAINING) {
		if (l->to_tcp == 0 && l->to_pipe == 0)
			link_close(l);
		return;
	}
	flow(l);
}

static int send_bytes(struct link *l, bool to_tcp, const void *p, size_t n)
{
	struct wreq *w = malloc(sizeof *w + n);
	if (w == NULL)
		return -1;
	memcpy(w->data, p, n);
	w->l = l;
	w->n = n;
	w->to_tcp = to_tcp;
	uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
	uv_stream_t *s = to_tcp ? (uv_stream_t *)&l->tcp : (uv_stream_t *)&l->pipe;
	if (uv_write(&w->req, s, &b, 1, write_cb) != 0) {
		free(w);
		return -1;
	}
	if (to_tcp)
		l->to_tcp += n;
	else
		l->to_pipe += n;
	return 0;
}

/* Everything the engine has for the peer goes out. */
static int flush_tcp(struct link *l)
{
	const void *p;
	size_t n;
	tls_conn_pending(&l->conn, &p, &n);
	if (n == 0)
		return 0;
	if (send_bytes(l, true, p, n) != 0)
		return -1;
	tls_conn_consume(&l->conn, n);
	return 0;
}

/* ---- the relay ---- */

/* The socketpair: our end read by the relay, the other for libraft. */
static int make_pair(struct link *l)
{
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
		return -1;
	l->raft_end = raft_malloc(sizeof *l->raft_end);
	if (l->raft_end == NULL) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	uv_pipe_init(l->x->loop, &l->pipe, 0);
	l->pipe.data = l;
	l->pipe_inited = true;
	l->handles++;
	uv_pipe_init(l->x->loop, l->raft_end, 0);
	l->raft_end->data = l;
	l->handles++;
	if (uv_pipe_open(&l->pipe, fds[0]) != 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (uv_pipe_open(l->raft_end, fds[1]) != 0) {
		close(fds[1]);
		return -1;
	}
	return 0;
}

/* The peer is who it must be: hand libraft its end. */
static void start_relay(struct link *l, const char *address)
{
	struct rtls *x = l->x;
	if (make_pair(l) != 0) {
		refuse(l, "cannot make the relay's socketpair");
		return;
	}
	uv_timer_stop(&l->timer);
	l->state = RELAY;
	uv_stream_t *s = (uv_stream_t *)l->raft_end;
	l->raft_end = NULL;
	l->handles--; /* libraft closes and frees it */
	s->data = NULL;
	if (l->outgoing) {
		struct raft_uv_connect *req = l->req;
		l->req = NULL;
		x->stats.connected++;
		l->cb(req, s, 0);
	} else {
		x->stats.accepted++;
		x->accept_cb(x->t, l->id, address, s);
	}
	if (l->state == RELAY)
		flow(l);
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* Incoming: read the preamble out of the engine; once whole, check it
 * against the certificate and start the relay. */
static void read_preamble(struct link *l)
{
	size_t need = PREAMBLE;
	for (;;) {
		if (l->pre_len >= PREAMBLE) {
			if (get64(l->pre) != PROTOCOL) {
				refuse(l, "not a libraft preamble (protocol)");
				return;
			}
			uint64_t alen = get64(l->pre + 16);
			if (alen == 0 || alen > ADDR_MAX || alen % 8 != 0) {
				refuse(l, "bad address length in the preamble");
				return;
			}
			need = PREAMBLE + (size_t)alen;
		}
		if (l->pre_len >= need)
			break;
		size_t got = 0;
		if (tls_conn_read(&l->conn, l->pre + l->pre_len, need - l->pre_len, &got) !=
			QSG_OK ||
		    got == 0)
			return;
		l->pre_len += got;
	}
	char address[ADDR_MAX + 1];
	memcpy(address, l->pre + PREAMBLE, need - PREAMBLE);
	address[need - PREAMBLE] = '\0';
	if (strlen(address) == need - PREAMBLE) {
		refuse(l, "address in the preamble not terminated");
		return;
	}
	l->id = get64(l->pre + 8);
	char name[GLUE_TLS_NAME_SIZE];
	char why[GLUE_TLS_NAME_SIZE * 2 + TLS_CN_SIZE + 64];
	if (!name_of(l->x, l->id, name, sizeof name)) {
		snprintf(why, sizeof why, "Raft id %llu is not a member (certificate CN=%s)",
			 (unsigned long long)l->id, tls_conn_peer_cn(&l->conn));
		refuse(l, why);
		return;
	}
	if (!tls_conn_peer_verified(&l->conn) || strcmp(tls_conn_peer_cn(&l->conn), name) != 0) {
		snprintf(why, sizeof why, "certificate CN=%s is not %s, the member of Raft id %llu",
			 tls_conn_peer_cn(&l->conn), name, (unsigned long long)l->id);
		refuse(l, why);
		return;
	}
	start_relay(l, address);
}

/* Plaintext out of the engine into the pipe. */
static void to_pipe(struct link *l)
{
	for (;;) {
		size_t got = 0;
		if (tls_conn_read(&l->conn, l->pbuf, sizeof l->pbuf, &got) != QSG_OK || got == 0)
			return;
		if (send_bytes(l, false, l->pbuf, got) != 0) {
			link_close(l);
			return;
		}
	}
}

/* After every feed: replies, the handshake's end, plaintext, the close. */
static void pump(struct link *l)
{
	if (flush_tcp(l) != 0) {
		link_close(l);
		return;
	}
	if (tls_conn_failed(&l->conn)) {
		if (l->state == HANDSHAKE)
			refuse(l, tls_conn_reason(&l->conn));
		else
			failed(l, tls_conn_reason(&l->conn));
		drain(l); /* the alert goes out first */
		return;
	}
	if (l->state == HANDSHAKE && tls_conn_handshake_done(&l->conn)) {
		if (l->outgoing) {
			/* The engine checked the CN (expect_peer); again here. */
			if (!tls_conn_peer_verified(&l->conn) ||
			    strcmp(tls_conn_peer_cn(&l->conn), l->name) != 0) {
				refuse(l, "the certificate does not name the member");
				return;
			}
			start_relay(l, NULL);
		} else {
			read_preamble(l);
		}
	}
	if (l->state == RELAY)
		to_pipe(l);
	if (l->state == RELAY && tls_conn_peer_closed(&l->conn)) {
		l->tcp_done = true;
		drain(l);
	}
}

static void tcp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct link *l = s->data;
	if (l->state >= DRAINING)
		return;
	if (nread < 0) {
		l->tcp_done = true;
		tls_conn_eof(&l->conn);
		if (l->state == HANDSHAKE)
			refuse(l, tls_conn_failed(&l->conn) ? tls_conn_reason(&l->conn)
							    : "closed during the handshake");
		else
			drain(l);
		return;
	}
	if (nread == 0)
		return;
	int rc = tls_conn_feed(&l->conn, buf->base, (size_t)nread);
	if (rc == QSG_RC_TLS_BUFFER_FULL) {
		refuse(l, "TLS buffer full (relay bug)");
		return;
	}
	pump(l);
	if (l->state == HANDSHAKE || l->state == RELAY)
		flow(l);
}

static void pipe_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct link *l = s->data;
	if (l->state != RELAY)
		return;
	if (nread < 0) {
		/* libraft closed its end: our close_notify, then close. */
		l->pipe_done = true;
		tls_conn_shutdown(&l->conn);
		if (flush_tcp(l) != 0) {
			link_close(l);
			return;
		}
		drain(l);
		return;
	}
	if (nread == 0)
		return;
	if (tls_conn_write(&l->conn, buf->base, (size_t)nread) != QSG_OK || flush_tcp(l) != 0) {
		link_close(l);
		return;
	}
	flow(l);
}

static void timeout_cb(uv_timer_t *t)
{
	struct link *l = t->data;
	char why[64];
	snprintf(why, sizeof why, "no TLS handshake and preamble within %u ms",
		 l->x->cfg.handshake_ms);
	if (l->state == CONNECTING)
		link_close(l); /* unreachable peer: libraft retries, not worth a line */
	else
		refuse(l, why);
}

/* ---- links ---- */

static struct link *link_new(struct rtls *x, bool outgoing)
{
	struct link *l = calloc(1, sizeof *l);
	if (l == NULL)
		return NULL;
	l->x = x;
	l->outgoing = outgoing;
	snprintf(l->where, sizeof l->where, "?");
	uv_tcp_init(x->loop, &l->tcp);
	uv_timer_init(x->loop, &l->timer);
	l->tcp.data = l->timer.data = l;
	l->handles = 2;
	l->next = x->links;
	if (x->links != NULL)
		x->links->prev = l;
	x->links = l;
	x->stats.links++;
	uv_timer_start(&l->timer, timeout_cb, x->cfg.handshake_ms, 0);
	return l;
}

static void listen_cb(uv_stream_t *server, int status)
{
	struct rtls *x = server->data;
	char e[QSG_ERRMSG_SIZE];
	if (status != 0 || x->closing)
		return;
	unsigned n = 0;
	struct link *oldest = NULL; /* links are listed newest first */
	for (struct link *o = x->links; o != NULL; o = o->next)
		if (!o->outgoing && o->state == HANDSHAKE) {
			n++;
			oldest = o;
		}
	if (n >= MAX_HANDSHAKING && oldest != NULL)
		refuse(oldest, "too many connections in their handshake: the oldest is closed");
	struct link *l = link_new(x, false);
	if (l == NULL)
		return;
	l->state = HANDSHAKE;
	if (uv_accept(server, (uv_stream_t *)&l->tcp) != 0) {
		link_close(l);
		return;
	}
	(void)uv_tcp_nodelay(&l->tcp, 1);
	peer_where(l);
	/* No expect_peer: any certificate from the CA gets through the
	 * handshake; the preamble's id then decides (read_preamble). */
	if (tls_conn_init(&l->conn, &x->server, NULL, e) != QSG_OK) {
		refuse(l, e);
		return;
	}
	l->conn_inited = true;
	flow(l);
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct link *l = req->data;
	if (l->state != CONNECTING)
		return; /* closed meanwhile */
	if (status != 0) {
		link_close(l); /* peer down: libraft retries */
		return;
	}
	l->state = HANDSHAKE;
	(void)uv_tcp_nodelay(&l->tcp, 1);
	if (flush_tcp(l) != 0) { /* the ClientHello */
		link_close(l);
		return;
	}
	flow(l);
}

/* ---- the raft_uv_transport interface ---- */

static int x_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct rtls *x = t->impl;
	x->id = id;
	snprintf(x->address, sizeof x->address, "%s", address);
	uv_tcp_init(x->loop, &x->listener);
	x->listener.data = x;
	x->listener_open = true;
	return 0;
}

static int x_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct rtls *x = t->impl;
	struct sockaddr_in sa;
	int rv;
	x->accept_cb = cb;
	if (parse_addr(x->address, &sa) != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "bad Raft address %.128s", x->address);
		return RAFT_INVALID;
	}
	if ((rv = uv_tcp_bind(&x->listener, (const struct sockaddr *)&sa, 0)) != 0 ||
	    (rv = uv_listen((uv_stream_t *)&x->listener, 128, listen_cb)) != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "listen on %.128s: %s", x->address,
			 uv_strerror(rv));
		return RAFT_IOERR;
	}
	return 0;
}

static int x_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
		     const char *address, raft_uv_connect_cb cb)
{
	struct rtls *x = t->impl;
	struct sockaddr_in sa;
	char e[QSG_ERRMSG_SIZE];
	char name[GLUE_TLS_NAME_SIZE];
	if (x->closing)
		return RAFT_CANCELED;
	if (!name_of(x, id, name, sizeof name)) {
		snprintf(t->errmsg, sizeof t->errmsg, "Raft id %llu has no member name",
			 (unsigned long long)id);
		return RAFT_NOCONNECTION;
	}
	if (parse_addr(address, &sa) != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "bad Raft address %.128s", address);
		return RAFT_NOCONNECTION;
	}
	struct link *l = link_new(x, true);
	if (l == NULL)
		return RAFT_NOMEM;
	l->id = id;
	snprintf(l->name, sizeof l->name, "%s", name);
	snprintf(l->where, sizeof l->where, "%s", address);
	unsigned char pre[PREAMBLE + ADDR_MAX];
	size_t alen = (strlen(x->address) + 1 + 7) / 8 * 8;
	if (alen > ADDR_MAX || tls_conn_init(&l->conn, &x->client, name, e) != QSG_OK) {
		link_close(l); /* l->req not set: no callback */
		snprintf(t->errmsg, sizeof t->errmsg, "TLS for Raft id %llu: %.160s",
			 (unsigned long long)id, alen > ADDR_MAX ? "address too long" : e);
		return RAFT_NOCONNECTION;
	}
	l->conn_inited = true;
	memset(pre, 0, sizeof pre);
	put64(pre, PROTOCOL);
	put64(pre + 8, x->id);
	put64(pre + 16, alen);
	memcpy(pre + PREAMBLE, x->address, strlen(x->address));
	/* Held by the engine until the handshake completes. */
	l->creq.data = l;
	if (tls_conn_write(&l->conn, pre, PREAMBLE + alen) != QSG_OK ||
	    uv_tcp_connect(&l->creq, &l->tcp, (const struct sockaddr *)&sa, connect_cb) != 0) {
		link_close(l);
		snprintf(t->errmsg, sizeof t->errmsg, "connect to %.128s failed", address);
		return RAFT_NOCONNECTION;
	}
	l->req = req;
	l->cb = cb;
	req->cb = cb;
	return 0;
}

static void listener_closed(uv_handle_t *h)
{
	struct rtls *x = h->data;
	x->listener_open = false;
	maybe_closed(x);
}

static void x_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct rtls *x = t->impl;
	x->closing = true;
	x->close_cb = cb;
	for (struct link *l = x->links; l != NULL; l = l->next)
		link_close(l);
	if (x->listener_open)
		uv_close((uv_handle_t *)&x->listener, listener_closed);
	/* A link or the listener calls back later. With neither (init never
	 * called, no connect made) nothing would: answer now, as libraft's
	 * TCP transport does. */
	maybe_closed(x);
}

int rtls_init(struct raft_uv_transport *t, uv_loop_t *loop, const struct glue_tls *cfg,
	      char *errmsg)
{
	char e[QSG_ERRMSG_SIZE];
	if (cfg->ca_file == NULL || cfg->ca_file[0] == '\0' || cfg->member_name == NULL)
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"TLS on Raft needs a CA and the member list");
	struct rtls *x = calloc(1, sizeof *x);
	if (x == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	struct tls_config tc = {.role = TLS_SERVER,
				.verify = TLS_VERIFY_REQUIRED,
				.key_file = cfg->key_file,
				.cert_file = cfg->cert_file,
				.ca_file = cfg->ca_file,
				.crl_file = cfg->crl_file,
				.crl_check = (enum tls_crl_check)cfg->crl_check};
	int rc = tls_ctx_init(&x->server, &tc, e);
	if (rc != QSG_OK) {
		free(x);
		return qsg_errf(errmsg, rc, "Raft TLS: %s", e);
	}
	tc.role = TLS_CLIENT;
	rc = tls_ctx_init(&x->client, &tc, e);
	if (rc != QSG_OK) {
		tls_ctx_close(&x->server);
		free(x);
		return qsg_errf(errmsg, rc, "Raft TLS: %s", e);
	}
	x->cfg = *cfg;
	x->cfg.key_file = x->cfg.cert_file = x->cfg.ca_file = x->cfg.crl_file = NULL;
	if (x->cfg.handshake_ms == 0)
		x->cfg.handshake_ms = 10000;
	x->loop = loop;
	x->t = t;
	void *data = t->data;
	memset(t, 0, sizeof *t);
	t->data = data;
	t->impl = x;
	t->init = x_init;
	t->listen = x_listen;
	t->connect = x_connect;
	t->close = x_close;
	return QSG_OK;
}

void rtls_free(struct raft_uv_transport *t)
{
	struct rtls *x = t->impl;
	if (x == NULL)
		return;
	tls_ctx_close(&x->server);
	tls_ctx_close(&x->client);
	free(x);
	t->impl = NULL;
}

int rtls_reload(struct raft_uv_transport *t, char *errmsg)
{
	struct rtls *x = t->impl;
	char e[QSG_ERRMSG_SIZE];
	if (x == NULL)
		return qsg_errf(errmsg, QSG_RC_INVALID, "Raft TLS transport not made");
	/* Both or neither would be better, but a context that fails keeps its
	 * old files (tls_ctx_reload): the server first, then the client; the
	 * first failure is returned. */
	int rc = tls_ctx_reload(&x->server, e);
	if (rc != QSG_OK)
		return qsg_errf(errmsg, rc, "Raft TLS (server side): %s", e);
	rc = tls_ctx_reload(&x->client, e);
	if (rc != QSG_OK)
		return qsg_errf(errmsg, rc, "Raft TLS (client side): %s", e);
	return QSG_OK;
}

void rtls_get_stats(struct raft_uv_transport *t, struct rtls_stats *out)
{
	struct rtls *x = t->impl;
	*out = x->stats;
}
