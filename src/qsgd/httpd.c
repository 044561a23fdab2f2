#include "httpd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/qsg_err.h"
#include "net.h"

struct hconn {
	struct httpd *h;
	struct hconn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	uv_buf_t out;
	int open_handles;
	bool closing;
	bool responded;
	size_t len;
	char buf[HTTPD_MAX_REQUEST + 1];
};

struct httpd {
	uv_loop_t *loop;
	uv_tcp_t listener;
	httpd_handler handler;
	void *arg;
	struct hconn *conns;
	size_t n_conns;
	int open_handles; /* the listener */
	bool closing;
};

static void maybe_free(struct httpd *h)
{
	if (h->closing && h->open_handles == 0 && h->conns == NULL)
		free(h);
}

static void conn_handle_closed(uv_handle_t *hd)
{
	struct hconn *c = hd->data;
	struct httpd *h = c->h;
	if (--c->open_handles > 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	h->n_conns--;
	free(c->out.base);
	free(c);
	maybe_free(h);
}

static void conn_close(struct hconn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

static void on_written(uv_write_t *wr, int status)
{
	(void)status;
	struct hconn *c = wr->data;
	conn_close(c);
}

static void respond(struct hconn *c, int status, const char *ctype, const void *body, size_t len)
{
	char head[256];
	if (c->responded || c->closing)
		return;
	c->responded = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->timer);
	int n = snprintf(head, sizeof head,
			 "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
			 status, reason_phrase(status), ctype, len);
	if (n < 0 || (size_t)n >= sizeof head) {
		conn_close(c);
		return;
	}
	char *p = malloc((size_t)n + len);
	if (p == NULL) {
		conn_close(c);
		return;
	}
	memcpy(p, head, (size_t)n);
	if (len > 0)
		memcpy(p + n, body, len);
	c->out = uv_buf_init(p, (unsigned)((size_t)n + len));
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &c->out, 1, on_written) != 0)
		conn_close(c);
}

static void respond_text(struct hconn *c, int status, const char *text)
{
	respond(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

int httpd_parse_request(const char *req, size_t len, char *path, size_t path_size)
{
	/* Request line: METHOD SP TARGET SP HTTP/1.x CRLF (LF alone accepted). */
	const char *eol = memchr(req, '\n', len);
	if (eol == NULL)
		return 400;
	size_t ll = (size_t)(eol - req);
	if (ll > 0 && req[ll - 1] == '\r')
		ll--;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)req[i];
		if (ch == 0 || (ch < 0x20 && ch != '\r' && ch != '\n' && ch != '\t') || ch == 0x7f)
			return 400;
	}
	const char *sp1 = memchr(req, ' ', ll);
	if (sp1 == NULL || sp1 == req)
		return 400;
	const char *target = sp1 + 1;
	const char *sp2 = memchr(target, ' ', ll - (size_t)(target - req));
	if (sp2 == NULL || sp2 == target)
		return 400;
	const char *version = sp2 + 1;
	size_t vl = ll - (size_t)(version - req);
	if (vl != 8 || memcmp(version, "HTTP/1.", 7) != 0 ||
	    (version[7] != '0' && version[7] != '1'))
		return 400;
	if (memchr(version, ' ', vl) != NULL)
		return 400;
	size_t tl = (size_t)(sp2 - target);
	if (target[0] != '/')
		return 400;
	const char *q = memchr(target, '?', tl);
	if (q != NULL)
		tl = (size_t)(q - target);
	if ((size_t)(sp1 - req) != 3 || memcmp(req, "GET", 3) != 0)
		return 405;
	if (tl >= path_size)
		return 414;
	memcpy(path, target, tl);
	path[tl] = '\0';
	return 200;
}

static void handle(struct hconn *c)
{
	char path[256];
	int st = httpd_parse_request(c->buf, c->len, path, sizeof path);
	if (st != 200) {
		respond_text(c, st, st == 405 ? "only GET is supported\n" : "bad request\n");
		return;
	}
	struct httpd_response r;
	r.status = 200;
	r.content_type = "text/plain; charset=utf-8";
	qsg_wbuf_init(&r.body);
	c->h->handler(c->h->arg, path, &r);
	if (r.body.err != QSG_OK)
		respond_text(c, 500, "out of memory\n");
	else
		respond(c, r.status, r.content_type, r.body.data, r.body.len);
	qsg_wbuf_close(&r.body);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct hconn *c = hd->data;
	size_t room = HTTPD_MAX_REQUEST - c->len;
	if (room == 0) {
		/* cannot happen: a full buffer is answered before reading more */
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	*buf = uv_buf_init(c->buf + c->len, (unsigned)room);
}

static bool head_complete(const struct hconn *c)
{
	for (size_t i = 0; i + 1 < c->len; i++) {
		if (c->buf[i] == '\n' &&
		    (c->buf[i + 1] == '\n' ||
		     (c->buf[i + 1] == '\r' && i + 2 < c->len && c->buf[i + 2] == '\n')))
			return true;
	}
	return false;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	struct hconn *c = s->data;
	if (c->responded || c->closing)
		return;
	if (n < 0) {
		conn_close(c); /* EOF or error before a whole request */
		return;
	}
	if (n == 0)
		return;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (head_complete(c)) {
		handle(c);
		return;
	}
	if (c->len >= HTTPD_MAX_REQUEST)
		respond_text(c, 431, "request too large\n");
}

static void on_timeout(uv_timer_t *t)
{
	struct hconn *c = t->data;
	respond_text(c, 408, "request timeout\n");
}

static void on_connection(uv_stream_t *server, int status)
{
	struct httpd *h = server->data;
	if (status < 0 || h->closing)
		return;
	struct hconn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return; /* out of memory: the connection waits in the backlog */
	c->h = h;
	uv_tcp_init(h->loop, &c->tcp);
	uv_timer_init(h->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = h->conns;
	if (h->conns != NULL)
		h->conns->prev = c;
	h->conns = c;
	h->n_conns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	if (h->n_conns > HTTPD_MAX_CONNS) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, HTTPD_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		conn_close(c);
}

static void listener_closed(uv_handle_t *hd)
{
	struct httpd *h = hd->data;
	h->open_handles--;
	maybe_free(h);
}

int httpd_init(struct httpd **out, uv_loop_t *loop, const char *addr, httpd_handler handler,
	       void *arg, char *errmsg)
{
	struct sockaddr_storage sa;
	*out = NULL;
	if (net_resolve(addr, &sa) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"http address %s: expected numeric HOST:PORT or localhost:PORT",
				addr);
	struct httpd *h = calloc(1, sizeof *h);
	if (h == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "http: out of memory");
	h->loop = loop;
	h->handler = handler;
	h->arg = arg;
	uv_tcp_init(loop, &h->listener);
	h->listener.data = h;
	h->open_handles = 1;
	int rv = uv_tcp_bind(&h->listener, (const struct sockaddr *)&sa, 0);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&h->listener, 64, on_connection);
	if (rv != 0) {
		h->closing = true;
		uv_close((uv_handle_t *)&h->listener, listener_closed);
		return qsg_errf(errmsg, QSG_RC_CONFIG, "http: cannot listen on %s: %s", addr,
				uv_strerror(rv));
	}
	*out = h;
	return QSG_OK;
}

void httpd_close(struct httpd *h)
{
	if (h == NULL || h->closing)
		return;
	h->closing = true;
	uv_close((uv_handle_t *)&h->listener, listener_closed);
	for (struct hconn *c = h->conns; c != NULL; c = c->next)
		conn_close(c);
}
