/* libqsg: the connection to one member (client_int.h): reason code
 * classes, socket I/O, request/response exchange, HELLO with reconnect
 * over the member list, retry pacing. Used by the API (client.c) and by
 * large messages (large.c). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"
#include "common/hostport.h"

#define DIAL_MS 2000 /* longest TCP connect attempt to one member */

/* ---- reason code classes ---- */

/* Replies after which libqsg moves to a fresh connection / member. */
bool qsgi_retryable(int rc)
{
	switch (rc) {
	case QSG_RC_OUTCOME_UNKNOWN:
	case QSG_RC_NO_LEADER:
	case QSG_RC_NOT_LEADER:
	case QSG_RC_MEMBER_FENCED:
	case QSG_RC_Q_MGR_STOPPING:
	case QSG_RC_SEQUENCE_GAP:
	case QSG_RC_SESSION_FENCED:
		return true;
	default:
		return false;
	}
}

/* Replies that say the request was certainly not applied. */
bool qsgi_not_applied(int rc)
{
	switch (rc) {
	case QSG_RC_NO_LEADER:
	case QSG_RC_NOT_LEADER:
	case QSG_RC_MEMBER_FENCED:
	case QSG_RC_SEQUENCE_GAP:
	case QSG_RC_SESSION_FENCED:
		return true;
	default:
		return false;
	}
}

/* ---- socket I/O ---- */

void qsgi_drop_conn(qsg_conn *c)
{
	qsgi_tls_drop(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->inoff = c->inlen = 0;
	c->consumed = 0;
	c->in_short = false;
	qsg_wbuf_reset(&c->out); /* requests never written: re-sent by their owner */
	c->member_id = 0;
	c->qmgr[0] = '\0';
	if (c->uow_open) {
		/* The member backs the unit of work out when it sees the close. */
		c->uow_open = false;
		c->uow_lost = true;
	}
}

static int dial(const struct addr *a, int64_t deadline, char *errmsg)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int g = getaddrinfo(a->host, a->port, &hints, &res);
	if (g != 0) {
		qsg_errf(errmsg, QSG_RC_Q_MGR_NOT_AVAILABLE, "%s:%s: %s", a->host, a->port,
			 gai_strerror(g));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (r != 0 && errno == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int t = qsgi_left_ms(deadline);
			r = poll(&pfd, 1, t < 0 || t > DIAL_MS ? DIAL_MS : t);
			int soerr = 0;
			socklen_t sl = sizeof soerr;
			if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
			    soerr == 0)
				r = 0;
			else {
				errno = r == 0 ? ETIMEDOUT : soerr ? soerr : errno;
				r = -1;
			}
		}
		if (r != 0) {
			qsg_errf(errmsg, QSG_RC_Q_MGR_NOT_AVAILABLE, "connect to %s:%s: %s",
				 a->host, a->port, strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	}
	return fd;
}

static int send_all(qsg_conn *c, const uint8_t *p, size_t n, int64_t deadline)
{
	if (c->tlsc != NULL)
		return qsgi_tls_send(c, p, n, deadline);
	return qsgi_fd_send_all(c->fd, p, n, deadline, c->err);
}
/* Wait until the socket is readable or the deadline passes: QSG_OK (or
 * EINTR: the caller reads again), QSG_RC_NO_MSG_AVAILABLE with *timed_out
 * set when the caller accepts a timeout, else CONNECTION_BROKEN. */
static int wait_readable(qsg_conn *c, int64_t deadline, bool *timed_out)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	int r = poll(&pfd, 1, qsgi_left_ms(deadline));
	if (r == 0 && timed_out != NULL) {
		*timed_out = true;
		return QSG_RC_NO_MSG_AVAILABLE;
	}
	if (r == 0)
		return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN,
				"no reply from the member in time");
	if (r < 0 && errno != EINTR)
		return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN, "poll: %s", strerror(errno));
	return QSG_OK;
}

#define IN_MIN 262144 /* receive buffer: replies are read in large reads */

/* Receive one frame and decode it into resp (slices point into c->in, valid
 * until the next receive). Frames already buffered cost no system call; a
 * read takes whatever the socket has, up to the buffer's free space. With
 * deadline 0, a socket with nothing to read returns at once (*timed_out)
 * without poll(); with `next` too, after a read that did not fill the
 * buffer (the socket was drained a moment ago), it returns without reading.
 * Waiting after such a read polls before it reads. */
static int recv_frame(qsg_conn *c, struct proto_resp *resp, int64_t deadline, bool *timed_out,
		      bool next)
{
	c->inoff += c->consumed;
	c->consumed = 0;
	if (c->inoff == c->inlen)
		c->inoff = c->inlen = 0;
	for (;;) {
		size_t flen = 0, have = c->inlen - c->inoff;
		int rc = proto_frame_check(c->in + c->inoff, have, &flen);
		if (rc != QSG_OK)
			return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN,
					"bad frame from the member: %s", qsg_rc_text(rc));
		if (flen > 0) {
			char msg[QSG_ERRMSG_SIZE];
			c->consumed = flen;
			rc = proto_resp_decode(c->in + c->inoff, flen, resp, msg);
			if (rc != QSG_OK)
				return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN,
						"bad response from the member: %s", msg);
			return QSG_OK;
		}
		/* A partial frame (or none): keep it at the front, make room. */
		if (c->inoff > 0) {
			memmove(c->in, c->in + c->inoff, have);
			c->inoff = 0;
			c->inlen = have;
		}
		size_t want = have < 4 ? IN_MIN : (size_t)qsg_le32(c->in) + 4;
		if (want < have + 4096)
			want = have + 4096;
		if (want < IN_MIN)
			want = IN_MIN;
		if (want > c->incap) {
			uint8_t *p = realloc(c->in, want);
			if (p == NULL)
				return qsg_errf(c->err, QSG_RC_STORAGE_NOT_AVAILABLE,
						"out of memory for a %zu-byte frame", want);
			c->in = p;
			c->incap = want;
		}
		if (c->in_short && deadline == 0 && next && timed_out != NULL) {
			*timed_out = true; /* (qsgi_read, which begins each pass, reads) */
			return QSG_RC_NO_MSG_AVAILABLE;
		}
		if (c->in_short && deadline != 0) {
			c->in_short = false;
			int rc = wait_readable(c, deadline, timed_out);
			if (rc != QSG_OK)
				return rc;
		}
		size_t space = c->incap - c->inlen;
		ssize_t k = c->tlsc != NULL ? qsgi_tls_recv(c, c->in + c->inlen, space)
					    : recv(c->fd, c->in + c->inlen, space, 0);
		if (k < 0 && errno == EPROTO && c->tlsc != NULL)
			return QSG_RC_CONNECTION_BROKEN; /* c->err says why */
		if (k > 0) {
			c->inlen += (size_t)k;
			c->in_short = (size_t)k < space;
			continue;
		}
		c->in_short = false;
		if (k == 0)
			return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN,
					"the member closed the connection");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN, "recv: %s",
					strerror(errno));
		if (deadline == 0 && timed_out != NULL) {
			*timed_out = true; /* only what was there */
			return QSG_RC_NO_MSG_AVAILABLE;
		}
		int wrc = wait_readable(c, deadline, timed_out);
		if (wrc != QSG_OK)
			return wrc;
	}
}

/* Encode req behind the queued requests (a failed encoding leaves the
 * queue as it was). */
int qsgi_queue(qsg_conn *c, struct proto_req *req)
{
	if (c->fd < 0)
		return QSG_RC_CONNECTION_BROKEN;
	req->reqid = ++c->reqid;
	if (req->reqid == 0)
		req->reqid = ++c->reqid;
	int rc = proto_req_encode(req, &c->out);
	if (rc == QSG_OK && c->out.err != QSG_OK)
		rc = QSG_RC_STORAGE_NOT_AVAILABLE;
	if (rc != QSG_OK)
		return qsg_errf(c->err, rc, "cannot encode the request: %s", qsg_rc_text(rc));
	return QSG_OK;
}

int qsgi_push(qsg_conn *c)
{
	if (c->fd < 0)
		return QSG_RC_CONNECTION_BROKEN;
	if (c->out.len == 0)
		return QSG_OK;
	int rc = send_all(c, c->out.data, c->out.len, qsgi_now_ms() + c->reply_ms);
	qsg_wbuf_reset(&c->out);
	if (rc != QSG_OK)
		qsgi_drop_conn(c);
	return rc;
}

/* One request/response exchange on the current connection. Returns QSG_OK
 * with resp filled (its rc is the member's answer), or a transport error
 * after which the connection is closed. */
static int call(qsg_conn *c, struct proto_req *req, struct proto_resp *resp, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : qsgi_now_ms() + timeout_ms;
	int rc = qsgi_queue(c, req);
	if (rc != QSG_OK)
		return rc;
	rc = send_all(c, c->out.data, c->out.len, deadline); /* the queued ones first */
	qsg_wbuf_reset(&c->out);
	while (rc == QSG_OK) {
		rc = recv_frame(c, resp, deadline, NULL, false);
		if (rc == QSG_OK && resp->reqid == req->reqid && resp->op == req->op)
			return QSG_OK;
		/* A reply of an asynchronous request (async.c), or a stale
		 * reply of an earlier, abandoned request (skipped). */
		if (rc == QSG_OK && c->as != NULL)
			qsgi_a_on_reply(c, resp);
	}
	qsgi_drop_conn(c);
	return rc;
}

int qsgi_read(qsg_conn *c, struct proto_resp *resp, int timeout_ms)
{
	if (c->fd < 0)
		return QSG_RC_CONNECTION_BROKEN;
	int64_t deadline = timeout_ms < 0 ? -1 : timeout_ms == 0 ? 0 : qsgi_now_ms() + timeout_ms;
	bool timed_out = false;
	int rc = recv_frame(c, resp, deadline, &timed_out, false);
	if (rc == QSG_OK || timed_out)
		return rc;
	qsgi_drop_conn(c);
	return rc;
}

int qsgi_read_next(qsg_conn *c, struct proto_resp *resp)
{
	if (c->fd < 0)
		return QSG_RC_CONNECTION_BROKEN;
	bool timed_out = false;
	int rc = recv_frame(c, resp, 0, &timed_out, true);
	if (rc == QSG_OK || timed_out)
		return rc;
	qsgi_drop_conn(c);
	return rc;
}

int qsgi_send(qsg_conn *c, struct proto_req *req)
{
	int rc = qsgi_queue(c, req);
	return rc != QSG_OK ? rc : qsgi_push(c);
}

void qsgi_set_reply_error(qsg_conn *c, const struct proto_resp *resp)
{
	if (resp->rc == QSG_OK)
		c->err[0] = '\0';
	else if (resp->text.len > 0)
		snprintf(c->err, sizeof c->err, "%s: %.*s", qsg_rc_name(resp->rc),
			 (int)resp->text.len, (const char *)resp->text.p);
	else
		snprintf(c->err, sizeof c->err, "%s: %s", qsg_rc_name(resp->rc),
			 qsg_rc_text(resp->rc));
}

/* ---- attach: connect to some member and HELLO ---- */

static int hello(qsg_conn *c, int64_t deadline)
{
	struct proto_req req = {.op = PROTO_HELLO};
	struct proto_resp resp;
	req.u.hello.kind = PROTO_KIND_CLIENT;
	req.u.hello.client_id = c->client_id;
	req.u.hello.app.p = (const uint8_t *)c->app;
	req.u.hello.app.len = strlen(c->app);
	if (c->user[0] != '\0') { /* sent again on every reconnect */
		req.u.hello.user.p = (const uint8_t *)c->user;
		req.u.hello.user.len = strlen(c->user);
		req.u.hello.password.p = (const uint8_t *)c->password;
		req.u.hello.password.len = strlen(c->password);
	}
	int t = qsgi_left_ms(deadline);
	int rc = call(c, &req, &resp, t < 0 || t > c->reply_ms ? c->reply_ms : t);
	if (rc != QSG_OK)
		return rc;
	if (resp.rc != QSG_OK) {
		qsgi_set_reply_error(c, &resp);
		qsgi_drop_conn(c);
		return resp.rc;
	}
	c->epoch = resp.u.hello.epoch;
	c->last_seq = resp.u.hello.put_seq;
	c->uows_done = resp.u.hello.uows_done;
	c->member_id = resp.u.hello.member_id;
	snprintf(c->qmgr, sizeof c->qmgr, "%.*s", (int)resp.u.hello.qmgr.len,
		 (const char *)resp.u.hello.qmgr.p);
	/* The member dropped the session's handles at HELLO: reopen. */
	for (size_t i = 0; i < c->nopened && c->fd >= 0; i++) {
		struct proto_req o = {.op = PROTO_OPEN};
		memcpy(o.u.open.queue, c->opened[i], sizeof o.u.open.queue);
		(void)call(c, &o, &resp, c->reply_ms);
	}
	return c->fd >= 0 ? QSG_OK : QSG_RC_CONNECTION_BROKEN;
}

/* (Re)connect to the next member that answers HELLO, until deadline. With
 * `initial`, give up after one round in which no member was reachable. */
int qsgi_attach(qsg_conn *c, int64_t deadline, bool initial)
{
	int backoff = BACKOFF_MIN_MS;
	char tls_err[QSG_ERRMSG_SIZE] = ""; /* a member's TLS refusal says more than a timeout */
	qsgi_drop_conn(c);
	for (;;) {
		bool reached = false;
		for (size_t i = 0; i < c->naddrs; i++) {
			const struct addr *a = &c->addrs[c->next];
			c->next = (c->next + 1) % c->naddrs;
			c->fd = dial(a, deadline, c->err);
			if (c->fd < 0)
				continue;
			reached = true;
			int rc = QSG_OK;
			if (c->tls != NULL && (rc = qsgi_tls_handshake(c, deadline)) != QSG_OK) {
				if (strstr(c->err, "TLS with the member failed") != NULL)
					snprintf(tls_err, sizeof tls_err, "%s", c->err);
				qsgi_drop_conn(c);
				continue;
			}
			rc = hello(c, deadline);
			if (rc == QSG_OK) {
				c->err[0] = '\0';
				if (c->as != NULL)
					qsgi_a_attached(c);
				return QSG_OK;
			}
			if (c->tls != NULL && strstr(c->err, "TLS with the member failed") != NULL)
				snprintf(tls_err, sizeof tls_err, "%s", c->err);
			if (rc != QSG_RC_CONNECTION_BROKEN && !qsgi_retryable(rc) &&
			    rc != QSG_RC_BUSY)
				return rc; /* deterministic refusal of HELLO */
		}
		if (initial && !reached)
			return QSG_RC_Q_MGR_NOT_AVAILABLE;
		int l = qsgi_left_ms(deadline);
		if (l == 0) {
			char e[QSG_ERRMSG_SIZE];
			snprintf(e, sizeof e, "%s", tls_err[0] != '\0' ? tls_err : c->err);
			return qsg_errf(c->err, QSG_RC_Q_MGR_NOT_AVAILABLE,
					"no member of the group answered (last: %s)", e);
		}
		qsgi_sleep_ms(l > 0 && l < backoff ? l : backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}

/* Exchange with connect-on-demand. *sent tells whether the request may have
 * reached a member. */
int qsgi_exchange(qsg_conn *c, struct proto_req *req, struct proto_resp *resp, int timeout_ms,
		  bool *sent)
{
	*sent = false;
	if (c->fd < 0) {
		int rc = qsgi_attach(c, qsgi_now_ms() + c->reconnect_ms, false);
		if (rc != QSG_OK)
			return rc;
	}
	*sent = true;
	return call(c, req, resp, timeout_ms);
}

/* Between retries: the op's deadline starts at its first failure. */
bool qsgi_retry_wait(qsg_conn *c, int64_t *deadline, int *backoff)
{
	if (*deadline == 0)
		*deadline = qsgi_now_ms() + c->reconnect_ms;
	if (qsgi_left_ms(*deadline) == 0)
		return false;
	qsgi_sleep_ms(*backoff);
	*backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2;
	return true;
}

/* A syncpoint put/get that failed with an unknown outcome: its uow is gone.
 * Reconnect (best effort) and report BACKED_OUT. */
int qsgi_syncpoint_lost(qsg_conn *c)
{
	c->uow_open = true; /* make drop_conn record the loss */
	qsgi_drop_conn(c);
	(void)qsgi_attach(c, qsgi_now_ms() + c->reconnect_ms, false);
	c->uow_lost = false;
	c->uow_open = false;
	return qsg_errf(c->err, QSG_RC_BACKED_OUT,
			"the connection was lost during a syncpoint operation: the unit of work "
			"was backed out");
}
