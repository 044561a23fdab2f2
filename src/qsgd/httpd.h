/* A tiny HTTP/1.0 server on the daemon's libuv loop, for /metrics, /healthz
 * and /readyz. GET only; the request (line and headers) must fit
 * HTTPD_MAX_REQUEST bytes and arrive within HTTPD_TIMEOUT_MS; one response,
 * then the connection is closed. Bad requests get 400 (405 for another
 * method, 431 when too large) and never disturb the daemon; at most
 * HTTPD_MAX_CONNS connections are served at once (others are closed at
 * once). */
#ifndef QSGD_HTTPD_H
#define QSGD_HTTPD_H

#include <stddef.h>
#include <uv.h>

#include "common/codec.h"

#define HTTPD_MAX_REQUEST 4096
#define HTTPD_TIMEOUT_MS 5000
#define HTTPD_MAX_CONNS 32

struct httpd_response {
	int status; /* 200 unless the handler changes it */
	const char *content_type; /* "text/plain; charset=utf-8" unless changed */
	struct qsg_wbuf body; /* initialised empty; the handler appends */
};

/* Called for every well-formed GET with the path (query string removed). */
typedef void (*httpd_handler)(void *arg, const char *path, struct httpd_response *resp);

struct httpd;

/* Bind addr (numeric HOST:PORT or localhost:PORT) and listen. Returns QSG_OK,
 * QSG_RC_CONFIG (bad address, cannot bind) or QSG_RC_STORAGE_NOT_AVAILABLE;
 * errmsg says why. */
int httpd_init(struct httpd **out, uv_loop_t *loop, const char *addr, httpd_handler handler,
	       void *arg, char *errmsg);
/* Stop listening and close every connection; memory is freed once every
 * handle is closed (the loop must run on). */
void httpd_close(struct httpd *h);

/* Parse one request head (for tests): on success returns 200 and copies the
 * path (without the query string) into path; otherwise the status to
 * answer (400, 405, 414). */
int httpd_parse_request(const char *req, size_t len, char *path, size_t path_size);

#endif
