/* The AMQP 1.0 listener on a libuv loop (amqplisten.h). */
#include "amqplisten.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hostport.h"
#include "common/qsg_err.h"
#include "qsgd/stream.h"
#include "qsgd/tlsstream.h"

/* A closed connection whose peer does not read its last bytes is closed
 * anyway after this. */
#define AMQP_DRAIN_MS 2000
/* While reading waits for output to drain: how often it is looked at. */
#define AMQP_DRAIN_POLL_MS 10

struct asock {
	struct asock *next, *prev;
	struct amqplisten *s;
	struct stream st; /* st.data = this */
	uv_timer_t timer;
	struct amqpconn *c;
	bool paused_auth, paused_write, closing;
	bool ticking; /* the timer drives amqpconn_tick */
	bool tls_told; /* amqpconn_set_tls done (or plaintext) */
	char peer[64];
};

struct amqplisten {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	struct stream_set set;
	struct amqpconn_cfg cfg;
	char container_id[FSM_NAME_MAX + 1];
	struct tlsstream_cfg *tls;
	const struct amqp_be_ops *ops;
	void *be;
	struct asock *socks;
	unsigned nsocks;
	bool stopping, set_closing;
	int port;
	int nclosed; /* the listener handle and the stream set: 2 */
	void (*log)(void *arg, const char *peer, const char *text);
	void *log_arg;
};

static void sock_close(struct asock *k);
static void arm_timer(struct asock *k);

static size_t pending_out(const struct asock *k)
{
	return k->st.out.len + k->st.writing.len;
}

static void read_state(struct asock *k)
{
	bool want = !k->closing && !k->paused_auth && !k->paused_write;
	stream_pause(&k->st, !want);
}

static void io_write(void *ctx, const uint8_t *p, size_t n)
{
	struct asock *k = ctx;
	if (k->closing)
		return;
	qsg_put_bytes(&k->st.out, p, n);
	stream_mark(&k->st);
	if (pending_out(k) > AMQP_WRITE_HIGH && !k->paused_write) {
		k->paused_write = true;
		read_state(k);
		if (k->ticking)
			arm_timer(k); /* polls the drain */
	}
}

static void io_close(void *ctx)
{
	sock_close(ctx);
}

static void io_pause(void *ctx, bool paused)
{
	struct asock *k = ctx;
	k->paused_auth = paused;
	read_state(k);
}

static void io_log(void *ctx, const char *text)
{
	struct asock *k = ctx;
	if (k->s->log)
		k->s->log(k->s->log_arg, k->peer, text);
}

static const struct amqpconn_io sock_io = {io_write, io_close, io_pause, io_log};

static void maybe_free_listener(struct amqplisten *s);

static void set_closed(struct stream_set *set)
{
	struct amqplisten *s = set->data;
	s->nclosed++;
	maybe_free_listener(s);
}

/* Once stopping and every connection is gone: the stream set's handles,
 * then the memory (after the listener's handle and the set's). */
static void maybe_free_listener(struct amqplisten *s)
{
	if (!s->stopping || s->socks)
		return;
	if (!s->set_closing) {
		s->set_closing = true;
		stream_set_close(&s->set, set_closed);
		return;
	}
	if (s->nclosed == 2)
		free(s);
}

static void sock_freed(uv_handle_t *h)
{
	struct asock *k = h->data;
	struct amqplisten *s = k->s;
	if (k->prev)
		k->prev->next = k->next;
	else
		s->socks = k->next;
	if (k->next)
		k->next->prev = k->prev;
	s->nsocks--;
	amqpconn_free(k->c);
	free(k);
	maybe_free_listener(s);
}

/* The stream's handle is closed: then the timer's. */
static void st_closed(struct stream *st)
{
	struct asock *k = st->data;
	uv_timer_stop(&k->timer);
	uv_close((uv_handle_t *)&k->timer, sock_freed);
}

static void drain_expired(uv_timer_t *t)
{
	struct asock *k = t->data;
	stream_close(&k->st);
}

/* Flush what is queued (TLS: then close_notify), then close; a peer that
 * does not read gets AMQP_DRAIN_MS. */
static void sock_close(struct asock *k)
{
	if (k->closing)
		return;
	k->closing = true;
	uv_timer_stop(&k->timer);
	uv_timer_start(&k->timer, drain_expired, AMQP_DRAIN_MS, 0);
	stream_close_after_write(&k->st);
}

static void timer_cb(uv_timer_t *t)
{
	struct asock *k = t->data;
	if (k->closing)
		return;
	if (k->paused_write && pending_out(k) < AMQP_WRITE_HIGH / 2) {
		k->paused_write = false;
		read_state(k);
	}
	arm_timer(k);
}

static void arm_timer(struct asock *k)
{
	k->ticking = true;
	int64_t now = (int64_t)uv_now(k->s->loop);
	int64_t next = amqpconn_tick(k->c, now);
	if (k->closing)
		return;
	int64_t delay = next > 0 ? (next > now ? next - now : 1) : -1;
	if (k->paused_write && (delay < 0 || delay > AMQP_DRAIN_POLL_MS))
		delay = AMQP_DRAIN_POLL_MS;
	if (delay >= 0)
		uv_timer_start(&k->timer, timer_cb, (uint64_t)delay, 0);
	else
		uv_timer_stop(&k->timer);
}

/* Plaintext (after TLS, once its handshake is done): all of it is taken. */
static size_t st_bytes(struct stream *st, uint8_t *p, size_t n)
{
	struct asock *k = st->data;
	if (k->closing)
		return n;
	if (!k->tls_told) {
		k->tls_told = true;
		if (k->st.tls != NULL)
			amqpconn_set_tls(k->c, tlsstream_peer_cn(&k->st),
					 tlsstream_peer_dn(&k->st));
	}
	if (!k->ticking)
		arm_timer(k);
	if (k->closing)
		return n;
	amqpconn_input(k->c, p, n);
	return n;
}

static void st_frame(struct stream *st, const uint8_t *p, size_t n)
{
	(void)st;
	(void)p;
	(void)n; /* not called: on_bytes is set */
}

static void st_error(struct stream *st, int rc, uint32_t reqid)
{
	struct asock *k = st->data;
	(void)reqid;
	if (k->closing) {
		stream_close(st);
		return;
	}
	if (rc == QSG_RC_CONNECTION_BROKEN) {
		/* The peer closed its side: proton's close goes out first. */
		amqpconn_eof(k->c);
		sock_close(k);
		return;
	}
	if (rc == QSG_RC_TLS_FAILED && k->s->log)
		k->s->log(k->s->log_arg, k->peer, "TLS failed (handshake or record layer)");
	k->closing = true;
	stream_close(st);
}

static const struct stream_ops st_ops = {
    .on_frame = st_frame,
    .on_error = st_error,
    .on_closed = st_closed,
    .on_bytes = st_bytes,
};

static void peer_name(struct asock *k)
{
	snprintf(k->peer, sizeof k->peer, "?");
	struct sockaddr_storage sa;
	int len = sizeof sa;
	if (uv_tcp_getpeername(&k->st.tcp, (struct sockaddr *)&sa, &len) != 0)
		return;
	char host[48] = "";
	int port = 0;
	if (sa.ss_family == AF_INET6) {
		uv_ip6_name((struct sockaddr_in6 *)&sa, host, sizeof host);
		port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
	} else {
		uv_ip4_name((struct sockaddr_in *)&sa, host, sizeof host);
		port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
	}
	snprintf(k->peer, sizeof k->peer, "%s:%d", host, port);
}

static void accept_cb(uv_stream_t *server, int status)
{
	struct amqplisten *s = server->data;
	if (status < 0 || s->stopping)
		return;
	struct asock *k = calloc(1, sizeof *k);
	if (!k)
		return;
	k->s = s;
	uv_timer_init(s->loop, &k->timer);
	k->timer.data = k;
	uv_tcp_init(s->loop, &k->st.tcp);
	stream_init(&k->st, &s->set, &st_ops, k);
	k->next = s->socks;
	if (s->socks)
		s->socks->prev = k;
	s->socks = k;
	s->nsocks++;
	k->closing = true; /* until it runs */
	if (uv_accept(server, (uv_stream_t *)&k->st.tcp) != 0 || s->nsocks > AMQP_MAX_CONNS) {
		stream_close(&k->st);
		return;
	}
	peer_name(k);
	if (s->tls != NULL && s->tls->optional) {
		k->st.tls_detect = s->tls;
	} else if (s->tls != NULL) {
		if (tlsstream_attach(&k->st, s->tls, TLS_SERVER, NULL) != QSG_OK) {
			stream_close(&k->st);
			return;
		}
	}
	char err[QSG_ERRMSG_SIZE];
	if (amqpconn_new(&k->c, &s->cfg, s->ops, s->be, &sock_io, k, k->peer, err) != QSG_OK ||
	    stream_start(&k->st) != QSG_OK) {
		stream_close(&k->st);
		return;
	}
	k->closing = false;
	/* With TLS (or maybe TLS) the connection starts with its first
	 * plaintext bytes, once the certificate is known (the handshake has
	 * its own timeout); plaintext ones tick now (the idle timeout). */
	if (s->tls == NULL) {
		k->tls_told = true;
		arm_timer(k);
	}
}

static void free_data(uv_handle_t *h)
{
	free(h->data);
}

int amqplisten_start(struct amqplisten **out, uv_loop_t *loop, const char *addr,
		     const struct amqpconn_cfg *cfg, struct tlsstream_cfg *tls,
		     const struct amqp_be_ops *ops, void *be, char *errmsg)
{
	char host[64];
	int port;
	if (qsg_hostport_split(addr, strlen(addr), host, sizeof host, &port) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "[amqp] address %s: not host:port", addr);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	struct sockaddr_storage sa;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "[amqp] address %s: not a numeric address",
				addr);
	struct amqplisten *s = calloc(1, sizeof *s);
	if (!s)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	s->loop = loop;
	s->cfg = *cfg;
	snprintf(s->container_id, sizeof s->container_id, "%s",
		 cfg->container_id ? cfg->container_id : "qsg");
	s->cfg.container_id = s->container_id;
	s->tls = tls;
	s->ops = ops;
	s->be = be;
	uv_tcp_init(loop, &s->tcp);
	s->tcp.data = s;
	int r = uv_tcp_bind(&s->tcp, (struct sockaddr *)&sa, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->tcp, 128, accept_cb);
	if (r != 0) {
		uv_close((uv_handle_t *)&s->tcp, free_data); /* frees s */
		return qsg_errf(errmsg, QSG_RC_CONFIG, "[amqp] address %s: %s", addr,
				uv_strerror(r));
	}
	stream_set_init(&s->set, loop);
	s->set.data = s;
	struct sockaddr_storage bound;
	int blen = sizeof bound;
	uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &blen);
	s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						    : ((struct sockaddr_in *)&bound)->sin_port);
	*out = s;
	return QSG_OK;
}

void amqplisten_set_log(struct amqplisten *s,
			void (*log)(void *arg, const char *peer, const char *text), void *arg)
{
	s->log = log;
	s->log_arg = arg;
}

int amqplisten_port(const struct amqplisten *s)
{
	return s->port;
}

unsigned amqplisten_connections(const struct amqplisten *s)
{
	return s->nsocks;
}

static void listener_closed(uv_handle_t *h)
{
	struct amqplisten *s = h->data;
	s->nclosed++;
	maybe_free_listener(s);
}

void amqplisten_stop(struct amqplisten *s)
{
	if (!s || s->stopping)
		return;
	s->stopping = true;
	for (struct asock *k = s->socks; k; k = k->next)
		if (!k->closing)
			amqpconn_close(k->c, "amqp:connection:forced", "the member is stopping");
	for (struct asock *k = s->socks; k; k = k->next)
		sock_close(k);
	uv_close((uv_handle_t *)&s->tcp, listener_closed);
	maybe_free_listener(s);
}
