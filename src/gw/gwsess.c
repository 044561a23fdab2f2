#include "gwsess.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

#include "common/pwhash.h"
#include "proto/proto.h"
#include "qsgd/server.h"

#define RETRY_FIRST_MS 50
#define RETRY_EVERY_MS 100

struct gwreq {
	struct gwreq *next;
	uint32_t reqid;
	uint8_t op;
	bool retry_ok;
	bool own_seq; /* PUT with the caller's sequence number: a gap is its error */
	gwsess_cb cb;
	void *arg;
	uint8_t *frame; /* encoded, sent again as is */
	size_t len;
	uint64_t deadline; /* uv_now: no retry after */
	uint64_t due; /* retry list: when to send again */
};

struct gwrep {
	struct gwrep *next;
	size_t len;
	uint8_t p[];
};

struct gwsess {
	struct server *srv;
	uv_loop_t *loop;
	struct conn *vc; /* NULL once closed or lost */
	uint64_t client_id;
	uint64_t put_seq; /* last sequence number given */
	uint64_t uows_done;
	bool hello_done;
	bool lost; /* the member ended it */
	bool lost_told;
	bool closed;
	bool pumping;
	int lost_rc;
	char lost_text[256];
	struct gwreq *sent; /* answers awaited */
	struct gwreq *held; /* before the HELLO's answer (FIFO) */
	struct gwreq *retry; /* to send again */
	struct gwrep *reps, *reps_tail; /* replies not handled yet */
	unsigned ninflight;
	uint32_t next_reqid;
	uv_idle_t idle;
	uv_timer_t timer;
	int nclosed;
	gwsess_lost_cb lost_cb;
	void *arg;
	gwsess_cb ready;
	void *ready_arg;
	/* For the HELLO (sent again after a leader change). */
	char peer[80];
	char app[32];
	char user[PROTO_MAX_USER + 1];
	char password[PROTO_MAX_PASSWORD + 1];
	char cn[FSM_NAME_MAX + 1];
	char dn[256];
	bool tls;
};

static void idle_cb(uv_idle_t *h);

static void kick(struct gwsess *g)
{
	if (!g->closed)
		uv_idle_start(&g->idle, idle_cb);
}

static void on_reply(void *arg, const uint8_t *p, size_t len)
{
	struct gwsess *g = arg;
	struct gwrep *r = malloc(sizeof *r + len);
	if (r == NULL) {
		/* Cannot keep the answer: the session cannot go on. */
		g->lost = true;
		g->lost_rc = QSG_RC_STORAGE_NOT_AVAILABLE;
		snprintf(g->lost_text, sizeof g->lost_text, "out of memory");
		kick(g);
		return;
	}
	r->next = NULL;
	r->len = len;
	memcpy(r->p, p, len);
	if (g->reps_tail != NULL)
		g->reps_tail->next = r;
	else
		g->reps = r;
	g->reps_tail = r;
	kick(g);
}

static void on_vclose(void *arg)
{
	struct gwsess *g = arg;
	g->lost = true;
	if (g->lost_rc == 0) {
		g->lost_rc = QSG_RC_CONNECTION_BROKEN;
		snprintf(g->lost_text, sizeof g->lost_text,
			 "the member ended the session (fenced, stopping or refused)");
	}
	kick(g);
}

static const struct server_vconn_ops vops = {.on_reply = on_reply, .on_close = on_vclose};

static bool transient(int rc)
{
	return rc == QSG_RC_OUTCOME_UNKNOWN || rc == QSG_RC_NO_LEADER || rc == QSG_RC_NOT_LEADER ||
	       rc == QSG_RC_SEQUENCE_GAP || rc == QSG_RC_BUSY;
}

static void req_free(struct gwreq *r)
{
	if (r->op == PROTO_HELLO && r->frame != NULL)
		pwhash_wipe(r->frame, r->len);
	free(r->frame);
	free(r);
}

static void send_req(struct gwsess *g, struct gwreq *r)
{
	r->next = g->sent;
	g->sent = r;
	if (g->vc != NULL && !g->lost)
		server_vconn_request(g->vc, r->frame, r->len);
}

/* Encode and queue one request; cb gets its answer. */
static struct gwreq *submit(struct gwsess *g, struct proto_req *q, bool retry_ok, gwsess_cb cb,
			    void *arg)
{
	struct gwreq *r = calloc(1, sizeof *r);
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	q->reqid = ++g->next_reqid;
	if (r == NULL || proto_req_encode(q, &w) != QSG_OK || w.err != QSG_OK) {
		/* Answered at once (from the loop): the caller sees an error. */
		qsg_wbuf_close(&w);
		free(r);
		g->lost = true;
		g->lost_rc = QSG_RC_STORAGE_NOT_AVAILABLE;
		snprintf(g->lost_text, sizeof g->lost_text, "cannot encode a request");
		kick(g);
		return NULL;
	}
	r->frame = qsg_wbuf_take(&w, &r->len);
	r->reqid = q->reqid;
	r->op = q->op;
	r->retry_ok = retry_ok;
	r->cb = cb;
	r->arg = arg;
	r->deadline = uv_now(g->loop) + GWSESS_RETRY_MS;
	g->ninflight++;
	if (!g->hello_done && q->op != PROTO_HELLO) {
		/* After the HELLO, in order. */
		struct gwreq **pp = &g->held;
		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = r;
		return r;
	}
	send_req(g, r);
	return r;
}

static void send_hello(struct gwsess *g)
{
	struct proto_req q;
	memset(&q, 0, sizeof q);
	q.op = PROTO_HELLO;
	q.u.hello.kind = PROTO_KIND_CLIENT;
	q.u.hello.client_id = g->client_id;
	q.u.hello.app.p = (const uint8_t *)g->app;
	q.u.hello.app.len = strlen(g->app);
	if (g->user[0] != '\0') {
		q.u.hello.user.p = (const uint8_t *)g->user;
		q.u.hello.user.len = strlen(g->user);
		q.u.hello.password.p = (const uint8_t *)g->password;
		q.u.hello.password.len = strlen(g->password);
	}
	submit(g, &q, true, NULL, NULL);
}

static struct gwreq *take_sent(struct gwsess *g, uint32_t reqid)
{
	for (struct gwreq **pp = &g->sent; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->reqid == reqid) {
			struct gwreq *r = *pp;
			*pp = r->next;
			r->next = NULL;
			return r;
		}
	}
	return NULL;
}

static void timer_cb(uv_timer_t *h);

static void to_retry(struct gwsess *g, struct gwreq *r, uint64_t now)
{
	r->due = now + (r->due == 0 ? RETRY_FIRST_MS : RETRY_EVERY_MS);
	r->next = g->retry;
	g->retry = r;
	if (!uv_is_active((uv_handle_t *)&g->timer))
		uv_timer_start(&g->timer, timer_cb, RETRY_FIRST_MS, RETRY_FIRST_MS);
}

static void timer_cb(uv_timer_t *h)
{
	struct gwsess *g = h->data;
	uint64_t now = uv_now(g->loop);
	struct gwreq *due = NULL, **pp = &g->retry;
	while (*pp != NULL) {
		struct gwreq *r = *pp;
		if (r->due <= now) {
			*pp = r->next;
			r->next = due;
			due = r;
		} else {
			pp = &r->next;
		}
	}
	if (g->retry == NULL)
		uv_timer_stop(&g->timer);
	while (due != NULL && !g->closed && !g->lost) {
		struct gwreq *r = due;
		due = r->next;
		send_req(g, r);
	}
	while (due != NULL) { /* closed or lost meanwhile */
		struct gwreq *r = due;
		due = r->next;
		req_free(r);
	}
}

static void hello_answer(struct gwsess *g, const struct proto_resp *resp)
{
	if (resp->rc != QSG_OK) {
		g->lost = true;
		g->lost_rc = resp->rc;
		snprintf(g->lost_text, sizeof g->lost_text, "%.*s", (int)resp->text.len,
			 (const char *)resp->text.p);
		return;
	}
	g->hello_done = true;
	/* A HELLO sent again after a leader change reports what is applied. */
	if (resp->u.hello.put_seq > g->put_seq)
		g->put_seq = resp->u.hello.put_seq;
	if (resp->u.hello.uows_done > g->uows_done)
		g->uows_done = resp->u.hello.uows_done;
	while (g->held != NULL && !g->lost) {
		struct gwreq *r = g->held;
		g->held = r->next;
		send_req(g, r);
	}
}

/* One reply: match, retry or answer. */
static void handle(struct gwsess *g, const uint8_t *p, size_t len)
{
	struct proto_resp resp;
	char errmsg[QSG_ERRMSG_SIZE];
	if (proto_resp_decode(p, len, &resp, errmsg) != QSG_OK)
		return; /* our own member's encoder: cannot happen */
	struct gwreq *r = take_sent(g, resp.reqid);
	if (r == NULL)
		return;
	uint64_t now = uv_now(g->loop);
	if (transient(resp.rc) && r->retry_ok && now < r->deadline &&
	    !(r->own_seq && resp.rc == QSG_RC_SEQUENCE_GAP)) {
		to_retry(g, r, now);
		return;
	}
	g->ninflight--;
	if (r->op == PROTO_HELLO)
		hello_answer(g, &resp);
	if (resp.rc == QSG_OK && r->op == PROTO_COMMIT)
		g->uows_done++;
	gwsess_cb cb = r->cb;
	void *arg = r->arg;
	if (r->op == PROTO_HELLO) {
		cb = g->ready;
		arg = g->ready_arg;
		g->ready = NULL;
	}
	req_free(r);
	if (cb != NULL)
		cb(arg, &resp);
}

static void idle_cb(uv_idle_t *h)
{
	struct gwsess *g = h->data;
	uv_idle_stop(&g->idle);
	if (g->pumping)
		return;
	g->pumping = true;
	while (g->reps != NULL && !g->closed) {
		struct gwrep *rep = g->reps;
		g->reps = rep->next;
		if (g->reps == NULL)
			g->reps_tail = NULL;
		handle(g, rep->p, rep->len);
		free(rep);
	}
	g->pumping = false;
	if (g->lost && !g->lost_told && !g->closed) {
		g->lost_told = true;
		if (g->ready != NULL) { /* the HELLO's caller hears it first */
			struct proto_resp resp;
			memset(&resp, 0, sizeof resp);
			resp.op = PROTO_HELLO;
			resp.rc = g->lost_rc;
			resp.text.p = (const uint8_t *)g->lost_text;
			resp.text.len = strlen(g->lost_text);
			gwsess_cb cb = g->ready;
			g->ready = NULL;
			cb(g->ready_arg, &resp);
			if (g->closed)
				return;
		}
		if (g->lost_cb != NULL)
			g->lost_cb(g->arg, g->lost_rc, g->lost_text);
	}
}

struct gwsess *gwsess_open(struct server *srv, uv_loop_t *loop, const struct gwsess_peer *peer,
			   gwsess_lost_cb lost, void *arg, gwsess_cb ready, void *ready_arg)
{
	struct gwsess *g = calloc(1, sizeof *g);
	if (g == NULL)
		return NULL;
	g->srv = srv;
	g->loop = loop;
	g->lost_cb = lost;
	g->arg = arg;
	g->ready = ready;
	g->ready_arg = ready_arg;
	snprintf(g->peer, sizeof g->peer, "%s", peer->peer != NULL ? peer->peer : "?");
	snprintf(g->app, sizeof g->app, "%s", peer->app != NULL ? peer->app : "gateway");
	if (peer->user != NULL && strlen(peer->user) <= PROTO_MAX_USER &&
	    (peer->password == NULL || strlen(peer->password) <= PROTO_MAX_PASSWORD)) {
		snprintf(g->user, sizeof g->user, "%s", peer->user);
		snprintf(g->password, sizeof g->password, "%s",
			 peer->password != NULL ? peer->password : "");
	} else if (peer->user != NULL) {
		snprintf(g->user, sizeof g->user, "?"); /* too long: refused by auth.c */
	}
	snprintf(g->cn, sizeof g->cn, "%s", peer->cert_cn != NULL ? peer->cert_cn : "");
	snprintf(g->dn, sizeof g->dn, "%s", peer->cert_dn != NULL ? peer->cert_dn : "");
	g->tls = peer->tls;
	g->client_id = peer->client_id;
	while (g->client_id == 0)
		if (getrandom(&g->client_id, sizeof g->client_id, 0) != sizeof g->client_id)
			g->client_id = uv_hrtime() ^ (uint64_t)(uintptr_t)g;
	const struct gwsess *o = peer->same_client;
	struct server_vconn_peer vp = {
	    .peer = g->peer,
	    .cert_cn = g->cn,
	    .cert_dn = g->dn,
	    .tls = g->tls,
	    .same_client = o != NULL && o->vc != NULL && gwsess_ready(o) ? o->vc : NULL};
	g->vc = server_vconn_open(srv, &vops, g, &vp);
	if (g->vc == NULL) {
		pwhash_wipe(g->password, sizeof g->password);
		free(g);
		return NULL;
	}
	uv_idle_init(loop, &g->idle);
	uv_timer_init(loop, &g->timer);
	g->idle.data = g;
	g->timer.data = g;
	send_hello(g);
	return g;
}

static void handle_closed(uv_handle_t *h)
{
	struct gwsess *g = h->data;
	if (++g->nclosed == 2)
		free(g);
}

static void free_list(struct gwreq *r)
{
	while (r != NULL) {
		struct gwreq *n = r->next;
		req_free(r);
		r = n;
	}
}

void gwsess_close(struct gwsess *g)
{
	if (g == NULL || g->closed)
		return;
	g->closed = true;
	if (g->vc != NULL)
		server_vconn_close(g->vc);
	g->vc = NULL;
	free_list(g->sent);
	free_list(g->held);
	free_list(g->retry);
	g->sent = g->held = g->retry = NULL;
	while (g->reps != NULL) {
		struct gwrep *n = g->reps->next;
		free(g->reps);
		g->reps = n;
	}
	pwhash_wipe(g->password, sizeof g->password);
	uv_close((uv_handle_t *)&g->idle, handle_closed);
	uv_close((uv_handle_t *)&g->timer, handle_closed);
}

void gwsess_put(struct gwsess *g, const char *queue, uint32_t flags, const struct fsm_msg *msg,
		gwsess_cb cb, void *arg)
{
	struct proto_req q;
	memset(&q, 0, sizeof q);
	q.op = PROTO_PUT;
	snprintf(q.u.put.queue, sizeof q.u.put.queue, "%s", queue);
	q.u.put.seq = ++g->put_seq;
	q.u.put.flags = flags;
	q.u.put.msg = *msg;
	submit(g, &q, true, cb, arg);
}

void gwsess_put_seq(struct gwsess *g, const char *queue, uint32_t flags, const struct fsm_msg *msg,
		    uint64_t seq, gwsess_cb cb, void *arg)
{
	if (seq == 0) {
		gwsess_put(g, queue, flags, msg, cb, arg);
		return;
	}
	struct proto_req q;
	memset(&q, 0, sizeof q);
	q.op = PROTO_PUT;
	snprintf(q.u.put.queue, sizeof q.u.put.queue, "%s", queue);
	q.u.put.seq = seq;
	if (seq > g->put_seq)
		g->put_seq = seq;
	q.u.put.flags = flags;
	q.u.put.msg = *msg;
	struct gwreq *r = submit(g, &q, true, cb, arg);
	if (r != NULL)
		r->own_seq = true;
}

uint64_t gwsess_put_seq_last(const struct gwsess *g)
{
	return g->put_seq;
}

void gwsess_get(struct gwsess *g, const char *queue, uint32_t flags, int32_t wait_ms, gwsess_cb cb,
		void *arg)
{
	struct proto_req q;
	memset(&q, 0, sizeof q);
	q.op = PROTO_GET;
	snprintf(q.u.get.queue, sizeof q.u.get.queue, "%s", queue);
	q.u.get.flags = flags;
	q.u.get.wait_ms = wait_ms;
	submit(g, &q, false, cb, arg);
}

void gwsess_commit(struct gwsess *g, gwsess_cb cb, void *arg)
{
	struct proto_req q;
	memset(&q, 0, sizeof q);
	q.op = PROTO_COMMIT;
	q.u.commit.uow = g->uows_done + 1;
	submit(g, &q, true, cb, arg);
}

void gwsess_backout(struct gwsess *g, gwsess_cb cb, void *arg)
{
	struct proto_req q;
	memset(&q, 0, sizeof q);
	q.op = PROTO_BACKOUT;
	submit(g, &q, true, cb, arg);
}

void gwsess_release(struct gwsess *g, gwsess_cb cb, void *arg)
{
	struct proto_req q;
	memset(&q, 0, sizeof q);
	q.op = PROTO_BACKOUT;
	q.u.backout.flags = PROTO_BACKOUT_UNCOUNTED;
	submit(g, &q, true, cb, arg);
}

unsigned gwsess_inflight(const struct gwsess *g)
{
	return g->ninflight;
}

bool gwsess_ready(const struct gwsess *g)
{
	return g->hello_done && !g->lost;
}
