#include "server.h"

#include <stdlib.h>
#include <string.h>

#include "common/pwhash.h"

#include "admin/mqsc.h"
#include "adminsrv.h"
#include "auth.h"
#include "catchup.h"
#include "chan/chproto.h"
#include "chan/chinit.h"
#include "chan/chrcv.h"
#include "lifecycle.h"
#include "looplag.h"
#include "metrics.h"
#include "net.h"
#include "proto/proto.h"
#include "raft-glue/glue.h"
#include "stream.h"
#include "tlsstream.h"
#include "notify.h"
#include "waiters.h"

#define LISTEN_BACKLOG 511

#define CONN_XSEQ 8 /* struct conn xseq */

enum conn_kind { CONN_NEW = 0, CONN_CLIENT = 1, CONN_MEMBER = 2, CONN_CHANNEL = 3 };
enum sess_state { SESS_NONE = 0, SESS_ATTACHING = 1, SESS_ATTACHED = 2 };

struct conn {
	struct stream stream;
	struct server *srv;
	struct conn *next; /* open connections */
	struct conn *prev;
	unsigned refs; /* 1 while the socket is open + 1 per request in flight */
	bool closed; /* socket gone: replies are dropped */
	int kind; /* enum conn_kind */
	int sess; /* enum sess_state */
	uint64_t client_id;
	uint64_t epoch;
	uint32_t member_id; /* member connections: the peer's id */
	unsigned inflight;
	struct sreq *parked; /* GETs waiting for messages */
	struct chrcv *chan; /* CONN_CHANNEL: the receiving channel instance */
	bool authing; /* the HELLO's credentials are being checked (auth.h) */
	struct auth_id id; /* who is connected (client connections) */
	struct auth_cache acache; /* its authorities (auth_authority_cached) */
	/* The chunked messages GETX/BROWSEX gave this connection last (their
	 * seqnos): GET_PART reads parts of those only, unless the identity
	 * bypasses the authority records (docs/security.md). */
	uint64_t xseq[CONN_XSEQ];
	unsigned xseq_next;
};

/* One request in flight. */
struct sreq {
	struct conn *c;
	uint32_t reqid;
	uint8_t op; /* enum proto_op */
	/* GET with wait */
	struct waiter w;
	struct sreq *pnext; /* conn->parked list */
	struct sreq *pprev;
	bool parked;
	int32_t wait_ms;
	uint64_t deadline; /* uv_now */
	uint64_t gen; /* d->notify_gen when last submitted */
	char queue[FSM_NAME_MAX + 1];
	uint8_t *cmd; /* encoded GET, for resubmission */
	size_t cmd_len;
	/* ADMIN */
	char *admin_text;
};

struct server {
	struct qsgd *d;
	uv_tcp_t listener;
	bool listening;
	struct stream_set set;
	struct conn *conns;
	size_t nconns; /* open */
	size_t nlive; /* not yet freed */
	unsigned nclosed; /* of listener + set (3 handles) */
	bool closing;
	bool fenced;
	struct admin_env admin;
	struct auth auth;
};

static void server_maybe_free(struct server *s)
{
	if (s->closing && s->nclosed == 3 && s->nlive == 0) {
		waiters_close(s->d->waiters);
		s->d->waiters = NULL;
		free(s);
	}
}

/* ---- connections and replies ---- */

static void conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	struct server *s = c->srv;
	free(c);
	s->nlive--;
	server_maybe_free(s);
}

static void reply(struct conn *c, const struct proto_resp *resp)
{
	if (c->closed || c->stream.closing || c->stream.draining)
		return;
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
	       op == PROTO_FETCH || (op >= PROTO_PUT_CHUNK && op <= PROTO_GET_DONE);
}

static void reply_rc(struct conn *c, uint8_t op, uint32_t reqid, int rc, const char *text)
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

static void get_expired(struct waiter *w);
static void get_woken(struct waiter *w);

static struct sreq *req_new(struct conn *c, uint8_t op, uint32_t reqid)
{
	struct sreq *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->c = c;
	r->op = op;
	r->reqid = reqid;
	r->w.data = r;
	r->w.wake = get_woken;
	r->w.expire = get_expired;
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

static void unpark(struct sreq *r)
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

/* The request is finished (replied or dropped). */
static void req_done(struct sreq *r)
{
	unpark(r);
	r->c->inflight--;
	waiters_release(&r->w, req_freed);
}

static void conn_closed(struct stream *st)
{
	struct conn *c = st->data;
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

static void conn_error(struct stream *st, int rc, uint32_t reqid)
{
	struct conn *c = st->data;
	if (rc == QSG_RC_FRAME_TOO_LARGE || rc == QSG_RC_BAD_FRAME) {
		/* Framing is lost: answer once and close. */
		reply_rc(c, PROTO_PING, reqid, rc, NULL);
		stream_close_after_write(st);
		return;
	}
	if (rc == QSG_RC_TLS_FAILED) {
		stream_close_after_write(st); /* the alert, if the engine has one */
		return;
	}
	stream_close(st);
}

/* ---- command completion ---- */

static uint8_t fsm_op_of(uint8_t op)
{
	switch (op) {
	case PROTO_HELLO:
		return FSM_OP_ATTACH;
	case PROTO_PUT:
		return FSM_OP_PUT;
	case PROTO_GET:
		return FSM_OP_GET;
	case PROTO_BROWSE:
		return FSM_OP_BROWSE;
	case PROTO_COMMIT:
		return FSM_OP_COMMIT;
	case PROTO_BACKOUT:
		return FSM_OP_BACKOUT;
	case PROTO_OPEN:
		return FSM_OP_OPEN;
	case PROTO_CLOSE:
		return FSM_OP_CLOSE;
	case PROTO_PUT_CHUNK:
		return FSM_OP_PUT_CHUNK;
	case PROTO_GETX:
		return FSM_OP_GET;
	case PROTO_BROWSEX:
		return FSM_OP_BROWSE;
	case PROTO_GET_DONE:
		return FSM_OP_GET_DONE;
	default:
		return 0;
	}
}

static void get_resubmit(struct sreq *r);

static void get_expired(struct waiter *w)
{
	struct sreq *r = w->data;
	unpark(r);
	reply_rc(r->c, r->op, r->reqid, QSG_RC_NO_MSG_AVAILABLE, NULL);
	req_done(r);
}

static void get_woken(struct waiter *w)
{
	struct sreq *r = w->data;
	unpark(r);
	get_resubmit(r);
}

/* NO_MSG_AVAILABLE for a GET that may wait: park it or answer. */
static void get_wait(struct sreq *r)
{
	struct conn *c = r->c;
	struct qsgd *d = c->srv->d;
	uint64_t now = uv_now(d->loop);
	int64_t left = -1;

	if (r->wait_ms > 0) {
		if (now >= r->deadline) {
			reply_rc(c, r->op, r->reqid, QSG_RC_NO_MSG_AVAILABLE, NULL);
			req_done(r);
			return;
		}
		left = (int64_t)(r->deadline - now);
	}
	/* A notification since the GET was submitted may have been missed
	 * (follower: the local replica can apply a put before the leader's
	 * answer to our GET arrives): retry at once if messages are there. */
	if (d->notify_gen != r->gen && fsm_available(d->fsm, d->cfg->id, r->queue) > 0) {
		get_resubmit(r);
		return;
	}
	/* Park under the queue that holds the messages (an alias's target):
	 * the fsm notifies with that name. */
	char wq[FSM_NAME_MAX + 1];
	if (fsm_queue_resolve(d->fsm, d->cfg->id, r->queue, wq) != QSG_OK)
		snprintf(wq, sizeof wq, "%s", r->queue);
	if (waiters_park(d->waiters, &r->w, wq, left) != QSG_OK) {
		reply_rc(c, r->op, r->reqid, QSG_RC_STORAGE_NOT_AVAILABLE, NULL);
		req_done(r);
		return;
	}
	r->parked = true;
	r->pprev = NULL;
	r->pnext = c->parked;
	if (c->parked != NULL)
		c->parked->pprev = r;
	c->parked = r;
}

static void cmd_done(void *arg, int status, const void *result, size_t len)
{
	struct sreq *r = arg;
	struct conn *c = r->c;
	struct qsgd *d = c->srv->d;
	struct proto_resp resp;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";

	if (c->closed) {
		/* Nobody to answer. An ATTACH that succeeded must be undone. */
		if (r->op == PROTO_HELLO && status == QSG_OK &&
		    fsm_result_decode(FSM_OP_ATTACH, result, len, &res, errmsg) == QSG_OK &&
		    res.rc == QSG_OK) {
			struct fsm_cmd cmd;
			memset(&cmd, 0, sizeof cmd);
			cmd.op = FSM_OP_DETACH;
			cmd.client_id = c->client_id;
			cmd.epoch = res.epoch;
			qsgd_submit(d, &cmd, NULL, NULL);
		}
		req_done(r);
		return;
	}
	if (status != QSG_OK) {
		if (r->op == PROTO_HELLO)
			c->sess = SESS_NONE;
		reply_rc(c, r->op, r->reqid, status, NULL);
		req_done(r);
		return;
	}
	int rc = fsm_result_decode(fsm_op_of(r->op), result, len, &res, errmsg);
	if (rc != QSG_OK) {
		QLOG_ERR(d->log, "QSG1010E", "undecodable result for %u: %s", r->op, errmsg);
		if (r->op == PROTO_HELLO)
			c->sess = SESS_NONE;
		reply_rc(c, r->op, r->reqid, QSG_RC_UNEXPECTED_ERROR, errmsg);
		req_done(r);
		return;
	}
	if (res.rc == QSG_RC_NO_MSG_AVAILABLE && (r->op == PROTO_GET || r->op == PROTO_GETX) &&
	    r->wait_ms != 0) {
		get_wait(r);
		return;
	}
	memset(&resp, 0, sizeof resp);
	resp.op = r->op;
	resp.reqid = r->reqid;
	resp.rc = res.rc;
	if (res.rc != QSG_OK) {
		if (r->op == PROTO_HELLO)
			c->sess = SESS_NONE;
		reply_rc(c, r->op, r->reqid, res.rc, NULL);
		if (res.rc == QSG_RC_SESSION_FENCED)
			stream_close_after_write(&c->stream);
		req_done(r);
		return;
	}
	if (r->op == PROTO_COMMIT)
		qsgd_stats_commit(d->stats);
	else if (r->op == PROTO_BACKOUT)
		qsgd_stats_backout(d->stats);
	switch (r->op) {
	case PROTO_HELLO:
		c->sess = SESS_ATTACHED;
		c->epoch = res.epoch;
		resp.u.hello.epoch = res.epoch;
		resp.u.hello.put_seq = res.put_seq;
		resp.u.hello.uows_done = res.uows_done;
		resp.u.hello.member_id = d->cfg->id;
		resp.u.hello.qmgr.p = (const uint8_t *)d->cfg->name;
		resp.u.hello.qmgr.len = strlen(d->cfg->name);
		resp.u.hello.group.p = (const uint8_t *)d->cfg->group;
		resp.u.hello.group.len = strlen(d->cfg->group);
		QLOG_DBG(d->log, "QSG1002D", "client %016llx attached, epoch %llu",
			 (unsigned long long)c->client_id, (unsigned long long)res.epoch);
		break;
	case PROTO_PUT:
	case PROTO_PUT_CHUNK:
		resp.u.put.duplicate = res.duplicate;
		memcpy(resp.u.put.msgid, res.msg.msgid, FSM_ID_LEN);
		resp.u.put.seqno = res.msg.seqno;
		break;
	case PROTO_GET:
	case PROTO_BROWSE:
	case PROTO_GETX:
	case PROTO_BROWSEX:
		if (res.nparts > 1)
			c->xseq[c->xseq_next++ % CONN_XSEQ] = res.msg.seqno;
		resp.u.get.msg = res.msg;
		resp.u.get.nparts = res.nparts;
		resp.u.get.body_len = res.body_len;
		resp.u.get.part_crc = res.part_crc;
		break;
	default:
		break;
	}
	reply(c, &resp);
	req_done(r);
}

static void get_resubmit(struct sreq *r)
{
	struct qsgd *d = r->c->srv->d;
	r->gen = d->notify_gen;
	int rc = qsgd_submit_raw(d, r->cmd, r->cmd_len, false, cmd_done, r);
	if (rc != QSG_OK) {
		reply_rc(r->c, r->op, r->reqid, rc, NULL);
		req_done(r);
	}
}

static void fwd_done(void *arg, int status, const void *result, size_t len)
{
	struct sreq *r = arg;
	struct proto_resp resp;
	memset(&resp, 0, sizeof resp);
	resp.op = PROTO_FORWARD;
	resp.reqid = r->reqid;
	resp.rc = status;
	if (status == QSG_OK) {
		resp.u.forward.result.p = result;
		resp.u.forward.result.len = len;
		reply(r->c, &resp);
	} else {
		reply_rc(r->c, PROTO_FORWARD, r->reqid, status, NULL);
	}
	req_done(r);
}

static void admin_done(void *arg, int rc, const char *text, struct proto_admin_writer *objects)
{
	struct sreq *r = arg;
	struct proto_resp resp;
	if (rc != QSG_OK) {
		reply_rc(r->c, PROTO_ADMIN, r->reqid, rc, text);
	} else {
		memset(&resp, 0, sizeof resp);
		resp.op = PROTO_ADMIN;
		resp.reqid = r->reqid;
		if (text != NULL) {
			resp.text.p = (const uint8_t *)text;
			resp.text.len = strlen(text);
		}
		if (objects != NULL)
			proto_admin_to_resp(objects, &resp);
		reply(r->c, &resp);
	}
	req_done(r);
}

/* ---- request dispatch ---- */

static void submit_cmd(struct conn *c, const struct proto_req *req, struct fsm_cmd *cmd)
{
	struct qsgd *d = c->srv->d;
	struct sreq *r = req_new(c, req->op, req->reqid);
	if (r == NULL) {
		reply_rc(c, req->op, req->reqid, QSG_RC_STORAGE_NOT_AVAILABLE, NULL);
		return;
	}
	int rc;
	if ((req->op == PROTO_GET || req->op == PROTO_GETX) && req->u.get.wait_ms != 0) {
		/* Keep the encoded command for resubmission after a wake-up. */
		struct qsg_wbuf w;
		qsg_wbuf_init(&w);
		rc = fsm_cmd_encode(cmd, &w);
		if (rc == QSG_OK)
			rc = w.err;
		if (rc != QSG_OK) {
			qsg_wbuf_close(&w);
			reply_rc(c, req->op, req->reqid, rc, NULL);
			req_done(r);
			return;
		}
		r->cmd = qsg_wbuf_take(&w, &r->cmd_len);
		r->wait_ms = req->u.get.wait_ms;
		if (r->wait_ms > 0)
			r->deadline = uv_now(d->loop) + (uint64_t)r->wait_ms;
		strcpy(r->queue, cmd->queue);
		get_resubmit(r);
		return;
	}
	rc = qsgd_submit(d, cmd, cmd_done, r);
	if (rc != QSG_OK) {
		if (req->op == PROTO_HELLO)
			c->sess = SESS_NONE;
		reply_rc(c, req->op, req->reqid, rc, NULL);
		req_done(r);
	}
}

/* The peer's address, for the log. */
static void conn_peer(struct conn *c, char *buf, size_t size)
{
	struct sockaddr_storage sa;
	int len = sizeof sa;
	char host[64];
	snprintf(buf, size, "?");
	if (uv_tcp_getpeername(&c->stream.tcp, (struct sockaddr *)&sa, &len) != 0)
		return;
	if (sa.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
		uv_ip4_name(in, host, sizeof host);
		snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(in->sin_port));
	} else if (sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
		uv_ip6_name(in6, host, sizeof host);
		snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
	}
}

/* [security] authentication = required: a member link (forwarding,
 * catch-up) only from a peer whose verified certificate's CN is the name
 * of the member it says it is. */
static bool member_peer_ok(struct conn *c, uint32_t id)
{
	struct qsgd *d = c->srv->d;
	if (d->cfg->auth_mode != QSGD_AUTH_REQUIRED)
		return true;
	const char *cn = tlsstream_peer_cn(&c->stream);
	const struct qsgd_member_cfg *mc = qsgd_config_member(d->cfg, id);
	struct fsm_member m;
	if (cn[0] == '\0')
		return false;
	if (mc != NULL)
		return strcmp(mc->name, cn) == 0;
	return fsm_member_get(d->fsm, id, &m) == QSG_OK && strcmp(m.name, cn) == 0;
}

/* HELLO's credentials checked: attach the session, or refuse and close. */
struct hello_pending {
	struct conn *c;
	uint32_t reqid;
};

static void hello_attach(struct conn *c, uint32_t reqid);

static void hello_authed(void *arg, int rc, const struct auth_id *id, const char *text)
{
	struct hello_pending *p = arg;
	struct conn *c = p->c;
	uint32_t reqid = p->reqid;
	free(p);
	c->authing = false;
	if (c->closed) {
		conn_unref(c);
		return;
	}
	if (rc != QSG_OK) {
		c->sess = SESS_NONE;
		reply_rc(c, PROTO_HELLO, reqid, rc, text);
		stream_close_after_write(&c->stream);
		conn_unref(c);
		return;
	}
	c->id = *id;
	/* CONNECT on QMGR (docs/security.md "Authority records"). */
	const char *qm = c->srv->d->cfg->name;
	if (!(auth_authority_cached(&c->srv->auth, &c->acache, &c->id, FSM_AUTHOBJ_QMGR, qm) &
	      FSM_AUTH_CONNECT)) {
		char peer[80], text[256];
		conn_peer(c, peer, sizeof peer);
		auth_denied(&c->srv->auth, &c->id, peer, FSM_AUTH_CONNECT, FSM_AUTHOBJ_QMGR, qm,
			    "HELLO");
		snprintf(text, sizeof text,
			 "user %s is not authorized to connect: it needs CONNECT on OBJTYPE(QMGR) "
			 "(%s)",
			 auth_principal(&c->id), qm);
		c->sess = SESS_NONE;
		reply_rc(c, PROTO_HELLO, reqid, QSG_RC_NOT_AUTHORIZED, text);
		stream_close_after_write(&c->stream);
		conn_unref(c);
		return;
	}
	hello_attach(c, reqid);
	conn_unref(c);
}

static void on_hello(struct conn *c, const struct proto_req *req)
{
	struct server *s = c->srv;
	struct qsgd *d = s->d;
	if (c->kind != CONN_NEW || c->authing) {
		reply_rc(c, req->op, req->reqid, QSG_RC_OPTIONS_ERROR,
			 "HELLO was already sent on this connection");
		return;
	}
	if (req->u.hello.kind == PROTO_KIND_MEMBER) {
		if (!lifecycle_is_member(d, req->u.hello.member_id)) {
			reply_rc(c, req->op, req->reqid, QSG_RC_INVALID,
				 "HELLO from a member that is not in the group");
			return;
		}
		if (!member_peer_ok(c, req->u.hello.member_id)) {
			char peer[80];
			conn_peer(c, peer, sizeof peer);
			QLOG_WARNING(d->log, "QSG8014W",
				     "member link from %s (member id %u) refused: no verified "
				     "certificate naming that member (CN '%s')",
				     peer, req->u.hello.member_id, tlsstream_peer_cn(&c->stream));
			reply_rc(c, req->op, req->reqid, QSG_RC_NOT_AUTHORIZED,
				 "member links need a verified certificate naming the member");
			stream_close_after_write(&c->stream);
			return;
		}
		c->kind = CONN_MEMBER;
		c->member_id = req->u.hello.member_id;
		struct proto_resp resp;
		memset(&resp, 0, sizeof resp);
		resp.op = PROTO_HELLO;
		resp.reqid = req->reqid;
		resp.u.hello.member_id = d->cfg->id;
		resp.u.hello.qmgr.p = (const uint8_t *)d->cfg->name;
		resp.u.hello.qmgr.len = strlen(d->cfg->name);
		resp.u.hello.group.p = (const uint8_t *)d->cfg->group;
		resp.u.hello.group.len = strlen(d->cfg->group);
		reply(c, &resp);
		QLOG_DBG(d->log, "QSG1004D", "member %u connected for forwarding", c->member_id);
		return;
	}
	if (req->u.hello.kind != PROTO_KIND_CLIENT || req->u.hello.client_id == 0) {
		reply_rc(c, req->op, req->reqid, QSG_RC_INVALID,
			 "HELLO: unknown peer kind or client_id 0");
		return;
	}
	if (s->fenced) {
		reply_rc(c, req->op, req->reqid, QSG_RC_MEMBER_FENCED, NULL);
		return;
	}
	struct hello_pending *p = malloc(sizeof *p);
	if (p == NULL) {
		reply_rc(c, req->op, req->reqid, QSG_RC_STORAGE_NOT_AVAILABLE, NULL);
		return;
	}
	p->c = c;
	p->reqid = req->reqid;
	c->client_id = req->u.hello.client_id;
	c->sess = SESS_ATTACHING; /* other requests: "HELLO is still in progress" */
	c->authing = true;
	c->refs++; /* until hello_authed */
	char peer[80];
	conn_peer(c, peer, sizeof peer);
	struct auth_hello h = {
	    .user = req->u.hello.user,
	    .password = req->u.hello.password,
	    .cert_cn = tlsstream_peer_cn(&c->stream),
	    .tls = c->stream.tls != NULL,
	    .peer = peer,
	};
	auth_hello(&s->auth, &h, hello_authed, p);
}

static void hello_attach(struct conn *c, uint32_t reqid)
{
	struct qsgd *d = c->srv->d;
	if (c->srv->fenced) {
		c->sess = SESS_NONE;
		reply_rc(c, PROTO_HELLO, reqid, QSG_RC_MEMBER_FENCED, NULL);
		return;
	}
	struct proto_req req = {.op = PROTO_HELLO, .reqid = reqid};
	c->kind = CONN_CLIENT;
	c->sess = SESS_ATTACHING;
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_ATTACH;
	cmd.client_id = c->client_id;
	cmd.member_id = d->cfg->id;
	submit_cmd(c, &req, &cmd);
}

static void on_forward(struct conn *c, const struct proto_req *req)
{
	struct qsgd *d = c->srv->d;
	struct fsm_cmd cmd;
	char errmsg[QSG_ERRMSG_SIZE];
	/* One malformed command would make the whole entry undecodable. */
	int rc = fsm_cmd_decode(req->u.forward.cmd.p, req->u.forward.cmd.len, &cmd, errmsg);
	if (rc == QSG_OK && (rc = qsgd_level_check(d, &cmd)) != QSG_OK)
		snprintf(errmsg, sizeof errmsg,
			 "command op %u needs command level %u; the group's is %u", cmd.op,
			 fsm_cmd_level(&cmd), fsm_group_cmdlevel(d->fsm));
	if (rc != QSG_OK) {
		reply_rc(c, req->op, req->reqid, rc, errmsg);
		return;
	}
	struct sreq *r = req_new(c, req->op, req->reqid);
	if (r == NULL) {
		reply_rc(c, req->op, req->reqid, QSG_RC_STORAGE_NOT_AVAILABLE, NULL);
		return;
	}
	rc = qsgd_submit_raw(d, req->u.forward.cmd.p, req->u.forward.cmd.len, true, fwd_done, r);
	if (rc != QSG_OK) {
		reply_rc(c, req->op, req->reqid, rc, NULL);
		req_done(r);
	}
}

/* The admin module's view of a connection's identity (admin_authz). */
static uint32_t admin_authority(void *arg, uint8_t objtype, const char *name)
{
	struct conn *c = arg;
	return auth_authority_cached(&c->srv->auth, &c->acache, &c->id, objtype, name);
}

static void admin_denied(void *arg, uint32_t need, uint8_t objtype, const char *name,
			 const char *command)
{
	struct conn *c = arg;
	char peer[80];
	conn_peer(c, peer, sizeof peer);
	auth_denied(&c->srv->auth, &c->id, peer, need, objtype, name, command);
}

/* A client request's authority (docs/security.md "Authority records"): PUT,
 * GET or BROWSE on the queue as the application named it (an alias or a
 * remote queue is checked by that name, as MQ does at MQOPEN); OPEN, which
 * has no intent in this protocol, any of them or INQ. Other requests need
 * nothing beyond CONNECT (GET_PART and GET_DONE continue a GETX or BROWSEX
 * that was checked). true when allowed; otherwise answered with 2035. */
static bool req_authorized(struct conn *c, const struct proto_req *req, const char *queue)
{
	uint32_t need;
	bool any = false;
	const char *what;
	switch (req->op) {
	case PROTO_PUT:
	case PROTO_PUT_CHUNK:
		need = FSM_AUTH_PUT;
		what = "PUT";
		break;
	case PROTO_GET:
	case PROTO_GETX:
		need = FSM_AUTH_GET;
		what = "GET";
		break;
	case PROTO_BROWSE:
	case PROTO_BROWSEX:
		need = FSM_AUTH_BROWSE;
		what = "BROWSE";
		break;
	case PROTO_OPEN:
		need = FSM_AUTH_PUT | FSM_AUTH_GET | FSM_AUTH_BROWSE | FSM_AUTH_INQ;
		any = true;
		what = "OPEN";
		break;
	default:
		return true;
	}
	uint32_t have =
	    auth_authority_cached(&c->srv->auth, &c->acache, &c->id, FSM_AUTHOBJ_QUEUE, queue);
	if (any ? (have & need) != 0 : (have & need) == need)
		return true;
	char peer[80], text[300], list[160];
	conn_peer(c, peer, sizeof peer);
	auth_denied(&c->srv->auth, &c->id, peer, need, FSM_AUTHOBJ_QUEUE, queue, what);
	mqsc_auth_list(need, list, sizeof list);
	snprintf(text, sizeof text, "user %s is not authorized to %s: it needs %s%s on QUEUE(%s)",
		 auth_principal(&c->id), what, any ? "one of " : "", list, queue);
	reply_rc(c, req->op, req->reqid, QSG_RC_NOT_AUTHORIZED, text);
	return false;
}

static void on_admin(struct conn *c, const struct proto_req *req)
{
	struct sreq *r = req_new(c, req->op, req->reqid);
	if (r == NULL || (r->admin_text = malloc(req->u.admin.text.len + 1)) == NULL) {
		reply_rc(c, req->op, req->reqid, QSG_RC_STORAGE_NOT_AVAILABLE, NULL);
		if (r != NULL)
			req_done(r);
		return;
	}
	memcpy(r->admin_text, req->u.admin.text.p, req->u.admin.text.len);
	r->admin_text[req->u.admin.text.len] = '\0';
	/* The command runs as the connection's identity (admin_authz): the
	 * env is copied, the identity is used only during admin_exec. */
	struct admin_env env = c->srv->admin;
	struct admin_authz az = {.arg = c,
				 .authority = admin_authority,
				 .denied = admin_denied,
				 .user = auth_principal(&c->id)};
	env.authz = auth_bypass(&c->srv->auth, &c->id) ? NULL : &az;
	admin_exec(&env, r->admin_text, req->u.admin.text.len, admin_done, r);
}

static void conn_frame_1(struct stream *st, const uint8_t *p, size_t len);

/* One frame from a client, a member or a channel partner; its time is
 * charged to the loop-stall monitor's "client" phase. */

/* GET_PART: answered at once from this member's store. NO_MSG_AVAILABLE
 * when the part is not held here (yet: this member may not have applied
 * the put's entries; the client asks again). */
static void on_get_part(struct conn *c, const struct proto_req *req)
{
	struct qsg_wbuf buf;
	struct proto_resp resp;
	/* Only parts of a message a GETX/BROWSEX gave this connection (its
	 * GET or BROWSE authority was checked there). */
	bool given = auth_bypass(&c->srv->auth, &c->id);
	for (unsigned i = 0; i < CONN_XSEQ && !given; i++)
		given = c->xseq[i] != 0 && c->xseq[i] == req->u.part.seqno;
	if (!given) {
		char peer[80], name[32];
		conn_peer(c, peer, sizeof peer);
		snprintf(name, sizeof name, "message %llu", (unsigned long long)req->u.part.seqno);
		auth_denied(&c->srv->auth, &c->id, peer, FSM_AUTH_GET | FSM_AUTH_BROWSE,
			    FSM_AUTHOBJ_QUEUE, name, "GET_PART");
		reply_rc(c, req->op, req->reqid, QSG_RC_NOT_AUTHORIZED,
			 "GET_PART: the message was not given to this connection by GETX or "
			 "BROWSEX");
		return;
	}
	qsg_wbuf_init(&buf);
	int rc = fsm_read_part(c->srv->d->fsm, req->u.part.seqno, req->u.part.part, req->u.part.len,
			       req->u.part.crc, &buf);
	if (rc != QSG_OK) {
		reply_rc(c, req->op, req->reqid, rc, NULL);
	} else {
		memset(&resp, 0, sizeof resp);
		resp.op = req->op;
		resp.reqid = req->reqid;
		resp.u.part.data.p = buf.data;
		resp.u.part.data.len = buf.len;
		reply(c, &resp);
	}
	qsg_wbuf_close(&buf);
}

static void conn_frame(struct stream *st, const uint8_t *p, size_t len)
{
	struct conn *c = st->data;
	struct looplag *lag = c->srv->d->looplag;
	uint64_t t0 = uv_hrtime();
	conn_frame_1(st, p, len);
	looplag_charge(lag, LOOPLAG_CLIENT, uv_hrtime() - t0);
}

static void conn_frame_1(struct stream *st, const uint8_t *p, size_t len)
{
	struct conn *c = st->data;
	struct proto_req req;
	struct fsm_cmd cmd;
	char errmsg[QSG_ERRMSG_SIZE] = "";

	if (c->kind == CONN_CHANNEL) {
		chrcv_frame(c->chan, p, len);
		return;
	}
	if (c->kind == CONN_NEW && chp_is_start(p, len)) {
		/* An inbound channel on the group port. */
		struct chinit *ci = c->srv->d->chinit;
		c->chan = ci != NULL ? chinit_accept(ci, &c->stream) : NULL;
		if (c->chan == NULL) {
			stream_close(&c->stream);
			return;
		}
		c->kind = CONN_CHANNEL;
		chrcv_frame(c->chan, p, len);
		return;
	}

	int rc = proto_req_decode(p, len, &req, errmsg);
	if (rc != QSG_OK) {
		reply_rc(c, req.op, req.reqid, rc, errmsg);
		if (req.op == PROTO_FETCH) /* a member peer that misspeaks: drop it */
			stream_close_after_write(&c->stream);
		return;
	}
	unsigned limit = c->kind == CONN_MEMBER ? SERVER_MAX_INFLIGHT_MEMBER : SERVER_MAX_INFLIGHT;
	if (c->inflight >= limit) {
		reply_rc(c, req.op, req.reqid, QSG_RC_BUSY, NULL);
		return;
	}
	if (req.op == PROTO_HELLO) {
		on_hello(c, &req);
		return;
	}
	if (req.op == PROTO_FORWARD) {
		if (c->kind != CONN_MEMBER)
			reply_rc(c, req.op, req.reqid, QSG_RC_NOT_ATTACHED,
				 "FORWARD is only accepted from members");
		else
			on_forward(c, &req);
		return;
	}
	if (req.op == PROTO_FETCH) { /* catch-up: answered at once, from the local store */
		if (c->kind != CONN_MEMBER)
			reply_rc(c, req.op, req.reqid, QSG_RC_NOT_ATTACHED,
				 "FETCH is only accepted from members");
		else if (!c->closed && !c->stream.closing && !c->stream.draining) {
			catchup_serve(c->srv->d, &req, &c->stream.out);
			stream_mark(&c->stream);
		}
		return;
	}
	if (c->kind != CONN_CLIENT || c->sess != SESS_ATTACHED) {
		reply_rc(c, req.op, req.reqid, QSG_RC_NOT_ATTACHED,
			 c->sess == SESS_ATTACHING ? "HELLO is still in progress" : NULL);
		return;
	}
	memset(&cmd, 0, sizeof cmd);
	cmd.client_id = c->client_id;
	cmd.epoch = c->epoch;
	switch (req.op) {
	case PROTO_PING:
		reply_rc(c, req.op, req.reqid, QSG_OK, NULL);
		return;
	case PROTO_ADMIN:
		on_admin(c, &req);
		return;
	case PROTO_PUT:
		/* Bounded log entries: a message too large for one entry is put
		 * in parts (PUT_CHUNK; libqsg does it over FSM_CHUNK_MAX). */
		if (req.u.put.msg.body.len + req.u.put.msg.props.len + 1024 >
		    c->srv->d->cfg->max_entry_bytes) {
			reply_rc(
			    c, req.op, req.reqid, QSG_RC_MSG_TOO_BIG,
			    "message over [batch] max_entry_bytes: put it in parts (PUT_CHUNK)");
			return;
		}
		cmd.op = FSM_OP_PUT;
		cmd.seq = req.u.put.seq;
		cmd.flags = req.u.put.flags;
		strcpy(cmd.queue, req.u.put.queue);
		cmd.msg = req.u.put.msg;
		break;
	case PROTO_PUT_CHUNK:
		cmd.op = FSM_OP_PUT_CHUNK;
		cmd.seq = req.u.put.seq;
		cmd.flags = req.u.put.flags & ~(uint32_t)FSM_F_CHUNKS;
		strcpy(cmd.queue, req.u.put.queue);
		cmd.msg = req.u.put.msg;
		cmd.msg.seqno = req.u.put.seqno;
		cmd.part = req.u.put.part;
		cmd.total = req.u.put.total;
		break;
	case PROTO_GET_PART:
		on_get_part(c, &req);
		return;
	case PROTO_GET_DONE:
		cmd.op = FSM_OP_GET_DONE;
		cmd.msg.seqno = req.u.part.seqno;
		break;
	case PROTO_GET:
	case PROTO_BROWSE:
	case PROTO_GETX:
	case PROTO_BROWSEX:
		cmd.op = req.op == PROTO_GET || req.op == PROTO_GETX ? FSM_OP_GET : FSM_OP_BROWSE;
		cmd.member_id = c->srv->d->cfg->id; /* BROWSE: whose view of the name */
		/* Only GETX/BROWSEX take a chunked message part by part. */
		cmd.flags = req.u.get.flags & ~(uint32_t)FSM_F_CHUNKS;
		if (req.op == PROTO_GETX || req.op == PROTO_BROWSEX)
			cmd.flags |= FSM_F_CHUNKS;
		strcpy(cmd.queue, req.u.get.queue);
		cmd.msg = req.u.get.match;
		if ((req.op == PROTO_GET || req.op == PROTO_GETX) && req.u.get.wait_ms < -1) {
			reply_rc(c, req.op, req.reqid, QSG_RC_OPTIONS_ERROR,
				 "wait must be -1 (forever), 0 or a number of milliseconds");
			return;
		}
		break;
	case PROTO_COMMIT:
		cmd.op = FSM_OP_COMMIT;
		cmd.seq = req.u.commit.uow;
		break;
	case PROTO_BACKOUT:
		cmd.op = FSM_OP_BACKOUT;
		break;
	case PROTO_OPEN:
	case PROTO_CLOSE:
		cmd.op = req.op == PROTO_OPEN ? FSM_OP_OPEN : FSM_OP_CLOSE;
		strcpy(cmd.queue, req.u.open.queue);
		break;
	default:
		reply_rc(c, req.op, req.reqid, QSG_RC_UNKNOWN_OP, NULL);
		return;
	}
	if (!req_authorized(c, &req, cmd.queue))
		return;
	submit_cmd(c, &req, &cmd);
}

static const struct stream_ops conn_ops = {
    .on_frame = conn_frame,
    .on_error = conn_error,
    .on_closed = conn_closed,
};

/* ---- listener ---- */

static void on_connection(uv_stream_t *l, int status)
{
	struct server *s = l->data;
	if (status != 0 || s->closing)
		return;
	struct conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return;
	c->srv = s;
	uv_tcp_init(s->d->loop, &c->stream.tcp);
	stream_init(&c->stream, &s->set, &conn_ops, c);
	c->refs = 1;
	s->nlive++;
	s->nconns++;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	if (uv_accept(l, (uv_stream_t *)&c->stream.tcp) != 0) {
		stream_close(&c->stream);
		return;
	}
	/* [tls]: TLS only, or TLS and plaintext told apart by the first bytes. */
	if (s->d->tls != NULL && s->d->tls->optional)
		c->stream.tls_detect = s->d->tls;
	else if (s->d->tls != NULL &&
		 tlsstream_attach(&c->stream, s->d->tls, TLS_SERVER, NULL) != QSG_OK) {
		stream_close(&c->stream);
		return;
	}
	if (stream_start(&c->stream) != QSG_OK)
		stream_close(&c->stream);
}

int server_init(struct server **out, struct qsgd *d, char *errmsg)
{
	struct server *s = calloc(1, sizeof *s);
	if (s == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	int rc = auth_init(&s->auth, d->loop, d->cfg, d->fsm, d->log, errmsg);
	if (rc != QSG_OK) {
		free(s);
		return rc;
	}
	if (waiters_init(&d->waiters, d->loop) != QSG_OK) {
		free(s);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	}
	s->d = d;
	stream_set_init(&s->set, d->loop);
	s->set.data = s;
	uv_tcp_init(d->loop, &s->listener);
	s->listener.data = s;
	adminsrv_env_init(&s->admin, d);
	notify_install(d);
	*out = s;
	return QSG_OK;
}

int server_listen(struct server *s, char *errmsg)
{
	struct sockaddr_storage sa;
	const char *addr = s->d->cfg->listen;
	if (net_resolve(addr, &sa) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"listener address %s: host must be a numeric IP address", addr);
	int rv = uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
	if (rv != 0)
		return qsg_errf(errmsg, QSG_RC_IO, "cannot listen on %s: %s", addr,
				uv_strerror(rv));
	s->listening = true;
	return QSG_OK;
}

static void listener_closed(uv_handle_t *h)
{
	struct server *s = h->data;
	s->nclosed++;
	server_maybe_free(s);
}

static void set_closed(struct stream_set *set)
{
	struct server *s = set->data;
	s->nclosed += 2;
	server_maybe_free(s);
}

void server_close(struct server *s)
{
	s->closing = true;
	notify_remove(s->d);
	for (struct conn *c = s->conns; c != NULL; c = c->next)
		stream_close(&c->stream);
	uv_close((uv_handle_t *)&s->listener, listener_closed);
	stream_set_close(&s->set, set_closed);
}

void server_set_fenced(struct server *s, bool fenced)
{
	if (s->fenced == fenced)
		return;
	s->fenced = fenced;
	if (!fenced)
		return;
	for (struct conn *c = s->conns; c != NULL; c = c->next)
		if (c->kind != CONN_MEMBER)
			stream_close(&c->stream);
}

size_t server_connections(const struct server *s)
{
	return s->nconns;
}
