/* The AMQP 1.0 listener on a libuv loop (amqplisten.h). */
#include "amqplisten.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hostport.h"
#include "common/qsg_err.h"

struct asock {
	struct asock *next, *prev;
	struct amqplisten *s;
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct amqpconn *c;
	size_t queued; /* bytes in uv_write requests */
	bool paused_auth, paused_write, reading, closing;
	int handles; /* open handles */
};

struct amqplisten {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	struct amqpconn_cfg cfg;
	char container_id[FSM_NAME_MAX + 1];
	const struct amqp_be_ops *ops;
	void *be;
	struct asock *socks;
	unsigned nsocks;
	bool stopping, listening;
	int port;
	void (*log)(void *arg, const char *peer, const char *text);
	void *log_arg;
};

struct awrite {
	uv_write_t req;
	struct asock *k;
	size_t n;
	uint8_t data[];
};

static void sock_close(struct asock *k);
static void read_start(struct asock *k);

static void read_state(struct asock *k)
{
	bool want = !k->closing && !k->paused_auth && !k->paused_write;
	if (want && !k->reading) {
		read_start(k);
	} else if (!want && k->reading) {
		uv_read_stop((uv_stream_t *)&k->tcp);
		k->reading = false;
	}
}

static void write_cb(uv_write_t *req, int status)
{
	struct awrite *w = (struct awrite *)req;
	struct asock *k = w->k;
	k->queued -= w->n;
	free(w);
	if (status < 0 && !k->closing) {
		sock_close(k);
		return;
	}
	if (k->paused_write && k->queued < AMQP_WRITE_HIGH / 2) {
		k->paused_write = false;
		read_state(k);
	}
}

static void io_write(void *ctx, const uint8_t *p, size_t n)
{
	struct asock *k = ctx;
	if (k->closing)
		return;
	struct awrite *w = malloc(sizeof *w + n);
	if (!w) {
		sock_close(k);
		return;
	}
	memcpy(w->data, p, n);
	w->k = k;
	w->n = n;
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&k->tcp, &b, 1, write_cb) != 0) {
		free(w);
		sock_close(k);
		return;
	}
	k->queued += n;
	if (k->queued > AMQP_WRITE_HIGH && !k->paused_write) {
		k->paused_write = true;
		read_state(k);
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
		k->s->log(k->s->log_arg, amqpconn_peer(k->c), text);
}

static const struct amqpconn_io sock_io = {io_write, io_close, io_pause, io_log};

static void handle_closed(uv_handle_t *h)
{
	struct asock *k = h->data;
	if (--k->handles)
		return;
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
	if (s->stopping && !s->listening && !s->socks)
		free(s);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	(void)status;
	struct asock *k = req->data;
	free(req);
	uv_close((uv_handle_t *)&k->tcp, handle_closed);
	uv_close((uv_handle_t *)&k->timer, handle_closed);
}

/* Flush what is queued, then close the handles. */
static void sock_close(struct asock *k)
{
	if (k->closing)
		return;
	k->closing = true;
	read_state(k);
	uv_timer_stop(&k->timer);
	uv_shutdown_t *req = malloc(sizeof *req);
	if (req) {
		req->data = k;
		if (uv_shutdown(req, (uv_stream_t *)&k->tcp, shutdown_cb) == 0)
			return;
		free(req);
	}
	uv_close((uv_handle_t *)&k->tcp, handle_closed);
	uv_close((uv_handle_t *)&k->timer, handle_closed);
}

static void arm_timer(struct asock *k);

static void timer_cb(uv_timer_t *t)
{
	struct asock *k = t->data;
	if (!k->closing)
		arm_timer(k);
}

static void arm_timer(struct asock *k)
{
	int64_t now = (int64_t)uv_now(k->s->loop);
	int64_t next = amqpconn_tick(k->c, now);
	if (k->closing)
		return;
	if (next > 0)
		uv_timer_start(&k->timer, timer_cb, (uint64_t)(next > now ? next - now : 1), 0);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)hint;
	(void)h;
	static __thread char rbuf[64 * 1024];
	*buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct asock *k = st->data;
	if (n > 0) {
		amqpconn_input(k->c, (const uint8_t *)buf->base, (size_t)n);
	} else if (n < 0) {
		if (k->reading) {
			uv_read_stop(st);
			k->reading = false;
		}
		amqpconn_eof(k->c);
		if (!k->closing && amqpconn_finished(k->c))
			sock_close(k);
		else if (!k->closing)
			sock_close(k);
	}
}

static void read_start(struct asock *k)
{
	if (uv_read_start((uv_stream_t *)&k->tcp, alloc_cb, read_cb) == 0)
		k->reading = true;
}

static void free_data(uv_handle_t *h)
{
	free(h->data);
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
	uv_tcp_init(s->loop, &k->tcp);
	k->tcp.data = k;
	k->handles = 1;
	if (uv_accept(server, (uv_stream_t *)&k->tcp) != 0 || s->nsocks >= AMQP_MAX_CONNS) {
		uv_close((uv_handle_t *)&k->tcp, free_data);
		return;
	}
	uv_tcp_nodelay(&k->tcp, 1);
	uv_timer_init(s->loop, &k->timer);
	k->timer.data = k;
	k->handles = 2;
	char peer[64] = "?";
	struct sockaddr_storage sa;
	int len = sizeof sa;
	if (uv_tcp_getpeername(&k->tcp, (struct sockaddr *)&sa, &len) == 0) {
		char host[48] = "";
		int port = 0;
		if (sa.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&sa, host, sizeof host);
			port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
		} else {
			uv_ip4_name((struct sockaddr_in *)&sa, host, sizeof host);
			port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
		}
		snprintf(peer, sizeof peer, "%s:%d", host, port);
	}
	k->next = s->socks;
	if (s->socks)
		s->socks->prev = k;
	s->socks = k;
	s->nsocks++;
	char err[QSG_ERRMSG_SIZE];
	if (amqpconn_new(&k->c, &s->cfg, s->ops, s->be, &sock_io, k, peer, err) != QSG_OK) {
		k->closing = true;
		uv_close((uv_handle_t *)&k->tcp, handle_closed);
		uv_close((uv_handle_t *)&k->timer, handle_closed);
		return;
	}
	read_state(k);
	arm_timer(k);
}

int amqplisten_start(struct amqplisten **out, uv_loop_t *loop, const char *addr,
		     const struct amqpconn_cfg *cfg, const struct amqp_be_ops *ops, void *be,
		     char *errmsg)
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
	s->ops = ops;
	s->be = be;
	uv_tcp_init(loop, &s->tcp);
	s->tcp.data = s;
	int r = uv_tcp_bind(&s->tcp, (struct sockaddr *)&sa, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->tcp, 128, accept_cb);
	if (r != 0) {
		uv_close((uv_handle_t *)&s->tcp, free_data);
		return qsg_errf(errmsg, QSG_RC_CONFIG, "[amqp] address %s: %s", addr,
				uv_strerror(r));
	}
	struct sockaddr_storage bound;
	int blen = sizeof bound;
	uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &blen);
	s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						    : ((struct sockaddr_in *)&bound)->sin_port);
	s->listening = true;
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
	s->listening = false;
	if (!s->socks)
		free(s);
}

void amqplisten_stop(struct amqplisten *s)
{
	if (!s || s->stopping)
		return;
	s->stopping = true;
	for (struct asock *k = s->socks; k; k = k->next)
		amqpconn_close(k->c, "amqp:connection:forced", "the member is stopping");
	for (struct asock *k = s->socks, *n; k; k = n) {
		n = k->next;
		sock_close(k);
	}
	uv_close((uv_handle_t *)&s->tcp, listener_closed);
}
