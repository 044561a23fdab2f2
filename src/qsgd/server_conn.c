/* The client listener's connections: real ones (a socket, struct stream)
 * and virtual ones (an in-process client such as the STOMP gateway, whose
 * transport is a pair of callbacks, server.h server_vconn_open); replies,
 * and the life of a request. See server_int.h. */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/pwhash.h"

#include "chan/chrcv.h"
#include "net.h"
#include "tlsstream.h"

/* A virtual connection's reply: encoded as for a socket and handed to its
 * owner (a buffer of its own per reply: the owner may send the next
 * request from on_reply). */
static void reply_virtual(struct conn *c, const struct proto_resp *resp)
{
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	int rc = proto_resp_encode(resp, &w);
	if (rc != QSG_OK || w.err != QSG_OK) {
		struct proto_resp e;
		memset(&e, 0, sizeof e);
		e.op = resp->op;
		e.reqid = resp->reqid;
		e.rc = rc != QSG_OK ? rc : w.err;
		e.text.p = (const uint8_t *)qsg_rc_text(e.rc);
		e.text.len = strlen((const char *)e.text.p);
		w.len = 0;
		w.err = QSG_OK;
		proto_resp_encode(&e, &w);
	}
	if (w.err == QSG_OK && w.len > 0)
		c->vops->on_reply(c->varg, w.data, w.len);
	qsg_wbuf_close(&w);
}

void server_maybe_free(struct server *s)
{
	if (s->closing && s->nclosed == 3 && s->nlive == 0) {
		waiters_close(s->d->waiters);
		s->d->waiters = NULL;
		free(s);
	}
}

void conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	struct server *s = c->srv;
	free(c);
	s->nlive--;
	server_maybe_free(s);
}

void reply(struct conn *c, const struct proto_resp *resp)
{
	if (c->closed || c->stream.closing || c->stream.draining || c->vshut)
		return;
	if (c->vops != NULL) {
		reply_virtual(c, resp);
		return;
	}
	int rc = proto_resp_encode(resp, &c->stream.out);
	if (rc != QSG_OK) {
		/* Could not encode (e.g. too large): answer with the reason. */
		struct proto_resp e;
		memset(&e, 0, sizeof e);
		e.op = resp->op;
		e.reqid = resp->reqid;
		e.rc = rc;
		e.text.p = (const uint8_t *)qsg_rc_text(rc);
		e.text.len = strlen((const char *)e.text.p);
		proto_resp_encode(&e, &c->stream.out);
	}
	stream_mark(&c->stream);
}

static bool known_op(uint8_t op)
{
	return (op >= PROTO_HELLO && op <= PROTO_PING) || op == PROTO_FORWARD ||
	       op == PROTO_FETCH || op == PROTO_FETCH_BASE ||
	       (op >= PROTO_PUT_CHUNK && op <= PROTO_GET_DONE);
}

void reply_rc(struct conn *c, uint8_t op, uint32_t reqid, int rc, const char *text)
{
	struct proto_resp resp;
	memset(&resp, 0, sizeof resp);
	/* A request whose op could not be read is answered as PING. */
	resp.op = known_op(op) ? op : PROTO_PING;
	resp.reqid = reqid;
	resp.rc = rc;
	if (rc != QSG_OK) {
		if (text == NULL || text[0] == '\0')
			text = qsg_rc_text(rc);
		resp.text.p = (const uint8_t *)text;
		resp.text.len = strlen(text);
	}
	reply(c, &resp);
}

struct sreq *req_new(struct conn *c, uint8_t op, uint32_t reqid)
{
	struct sreq *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->c = c;
	r->op = op;
	r->reqid = reqid;
	r->w.data = r; /* wake and expire: set by server.c for a GET that waits */
	c->refs++;
	c->inflight++;
	return r;
}

static void req_freed(struct waiter *w)
{
	struct sreq *r = w->data;
	struct conn *c = r->c;
	free(r->cmd);
	if (r->admin_text != NULL) /* may hold a PASSWORD(...) */
		pwhash_wipe(r->admin_text, strlen(r->admin_text));
	free(r->admin_text);
	free(r);
	conn_unref(c);
}

void unpark(struct sreq *r)
{
	if (!r->parked)
		return;
	struct conn *c = r->c;
	waiters_cancel(&r->w);
	if (r->pprev != NULL)
		r->pprev->pnext = r->pnext;
	else
		c->parked = r->pnext;
	if (r->pnext != NULL)
		r->pnext->pprev = r->pprev;
	r->pnext = r->pprev = NULL;
	r->parked = false;
}

void req_done(struct sreq *r)
{
	unpark(r);
	r->c->inflight--;
	waiters_release(&r->w, req_freed);
}

void conn_gone(struct conn *c)
{
	struct server *s = c->srv;
	struct qsgd *d = s->d;

	c->closed = true;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	while (c->parked != NULL)
		req_done(c->parked);
	if (c->kind == CONN_CHANNEL && c->chan != NULL) {
		chrcv_closed(c->chan);
		c->chan = NULL;
	}
	if (c->kind == CONN_CLIENT && c->sess == SESS_ATTACHED) {
		struct fsm_cmd cmd;
		memset(&cmd, 0, sizeof cmd);
		cmd.op = FSM_OP_DETACH;
		cmd.client_id = c->client_id;
		cmd.epoch = c->epoch;
		qsgd_submit(d, &cmd, NULL, NULL);
	}
	QLOG_DBG(d->log, "QSG1003D", "connection closed (client_id %016llx)",
		 (unsigned long long)c->client_id);
	conn_unref(c);
}

void conn_peer(struct conn *c, char *buf, size_t size)
{
	if (c->vops != NULL)
		snprintf(buf, size, "%s", c->vpeer);
	else
		net_peer_name(&c->stream.tcp, buf, size);
}
const char *conn_cert_cn(struct conn *c)
{
	return c->vops != NULL ? c->vcn : tlsstream_peer_cn(&c->stream);
}

bool conn_tls(const struct conn *c)
{
	return c->vops != NULL ? c->vtls : c->stream.tls != NULL;
}

/* A virtual connection ended by the member: its owner is told once and
 * calls server_vconn_close (perhaps later). */
static void vconn_shut(struct conn *c)
{
	if (c->vshut || c->closed)
		return;
	c->vshut = true;
	c->vops->on_close(c->varg);
}

void conn_close(struct conn *c)
{
	if (c->vops != NULL)
		vconn_shut(c);
	else
		stream_close(&c->stream);
}

void conn_close_after_write(struct conn *c)
{
	if (c->vops != NULL)
		vconn_shut(c); /* its replies were handed over already */
	else
		stream_close_after_write(&c->stream);
}

void conn_close_all(struct server *s, bool members)
{
	struct conn *c = s->conns;
	while (c != NULL) {
		struct conn *next = c->next;
		if (!members && c->kind == CONN_MEMBER) {
			c = next;
			continue;
		}
		if (c->vops != NULL && !c->vshut && !c->closed) {
			/* The owner may close other connections from on_close:
			 * start again from the head (vshut stops repeats). */
			vconn_shut(c);
			next = s->conns;
		} else if (c->vops == NULL) {
			stream_close(&c->stream);
		}
		c = next;
	}
}

void conn_link(struct server *s, struct conn *c)
{
	c->srv = s;
	c->refs = 1;
	s->nlive++;
	s->nconns++;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
}
