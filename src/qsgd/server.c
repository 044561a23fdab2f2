#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/pwhash.h"

#include "admin/mqsc.h"
#include "adminsrv.h"
#include "authchl.h"
#include "catchup.h"
#include "chan/chproto.h"
#include "chan/chinit.h"
#include "chan/chrcv.h"
#include "lifecycle.h"
#include "looplag.h"
#include "metrics.h"
#include "net.h"
#include "raft-glue/glue.h"
#include "tlsstream.h"
#include "notify.h"

static void conn_closed(struct stream *st)
{
	conn_gone(st->data);
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
			conn_close_after_write(c);
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
		r->w.wake = get_woken;
		r->w.expire = get_expired;
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

/* [security] authentication = required: a member link (forwarding,
 * catch-up) only from a peer whose verified certificate's CN is the name
 * of the member it says it is. */
static bool member_peer_ok(struct conn *c, uint32_t id)
{
	struct qsgd *d = c->srv->d;
	if (d->cfg->auth_mode != QSGD_AUTH_REQUIRED)
		return true;
	const char *cn = conn_cert_cn(c);
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
	char mcauser[FSM_NAME_MAX + 1]; /* CHLAUTH USERSRC(MAP) (authchl.h) */
};

static void hello_attach(struct conn *c, uint32_t reqid);

static void hello_authed(void *arg, int rc, const struct auth_id *id, const char *text)
{
	struct hello_pending *p = arg;
	struct conn *c = p->c;
	uint32_t reqid = p->reqid;
	char mcauser[FSM_NAME_MAX + 1];
	memcpy(mcauser, p->mcauser, sizeof mcauser);
	free(p);
	c->authing = false;
	if (c->closed) {
		conn_unref(c);
		return;
	}
	if (rc != QSG_OK) {
		c->sess = SESS_NONE;
		reply_rc(c, PROTO_HELLO, reqid, rc, text);
		conn_close_after_write(c);
		conn_unref(c);
		return;
	}
	c->id = *id;
	authchl_apply(&c->srv->auth, &c->id, mcauser);
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
		conn_close_after_write(c);
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
		if (c->vops != NULL) {
			reply_rc(c, req->op, req->reqid, QSG_RC_INVALID,
				 "HELLO: a gateway session is a client");
			return;
		}
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
	char peer[80], errmsg[QSG_ERRMSG_SIZE];
	conn_peer(c, peer, sizeof peer);
	struct auth_hello h = {
	    .user = req->u.hello.user,
	    .password = req->u.hello.password,
	    .cert_cn = conn_cert_cn(c),
	    .tls = conn_tls(c),
	    .peer = peer,
	};
	struct hello_pending *p = malloc(sizeof *p);
	if (p == NULL) {
		reply_rc(c, req->op, req->reqid, QSG_RC_STORAGE_NOT_AVAILABLE, NULL);
		return;
	}
	/* CHLAUTH before the credentials (docs/security.md). */
	const char *dn = c->vops != NULL ? c->vdn : tlsstream_peer_dn(&c->stream);
	if (authchl_hello(&s->auth, &h, dn, p->mcauser, errmsg) != QSG_OK) {
		free(p);
		reply_rc(c, req->op, req->reqid, QSG_RC_NOT_AUTHORIZED, errmsg);
		conn_close_after_write(c);
		return;
	}
	p->c = c;
	p->reqid = req->reqid;
	c->client_id = req->u.hello.client_id;
	c->sess = SESS_ATTACHING; /* other requests: "HELLO is still in progress" */
	c->authing = true;
	c->refs++; /* until hello_authed */
	if (c->vpreauth) { /* proved by the same client's first session */
		struct auth_id id = c->id; /* hello_authed copies it to c->id */
		hello_authed(p, QSG_OK, &id, NULL);
		return;
	}
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

static void conn_frame_1(struct stream *st, const uint8_t *p, size_t len);

/* One frame from a client, a member or a channel partner; its time is
 * charged to the loop-stall monitor's "client" phase. */

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
	if (c->kind == CONN_NEW && c->vops == NULL && chp_is_start(p, len)) {
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
		if (req.op == PROTO_FETCH || req.op == PROTO_FETCH_BASE) /* a member peer that
									  * misspeaks: drop it */
			conn_close_after_write(c);
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
	if (req.op == PROTO_FETCH_BASE) { /* a chunk of a base file, answered at once */
		if (c->kind != CONN_MEMBER)
			reply_rc(c, req.op, req.reqid, QSG_RC_NOT_ATTACHED,
				 "FETCH_BASE is only accepted from members");
		else if (!c->closed && !c->stream.closing && !c->stream.draining) {
			catchup_serve_base(c->srv->d, &req, &c->stream.out);
			stream_mark(&c->stream);
		}
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
	if (!authchl_refresh(&c->srv->auth, &c->id, errmsg, sizeof errmsg)) { /* DELETE USER */
		reply_rc(c, req.op, req.reqid, QSG_RC_NOT_AUTHORIZED, errmsg);
		conn_close_after_write(c);
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
		/* Uncounted once every member applies it (level 5); before, a
		 * counted backout (docs/protocols.md "AMQP 1.0"). */
		cmd.op = (req.u.backout.flags & PROTO_BACKOUT_UNCOUNTED) != 0 &&
				 fsm_group_cmdlevel(c->srv->d->fsm) >= 5
			     ? FSM_OP_BACKOUT_UNCOUNTED
			     : FSM_OP_BACKOUT;
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
	conn_link(s, c);
	uv_tcp_init(s->d->loop, &c->stream.tcp);
	stream_init(&c->stream, &s->set, &conn_ops, c);
	char peer[80];
	if (uv_accept(l, (uv_stream_t *)&c->stream.tcp) != 0 ||
	    (conn_peer(c, peer, sizeof peer), !authchl_accept(&s->auth, peer))) { /* BLOCKADDR */
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
	conn_close_all(s, true);
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
	conn_close_all(s, false);
}

size_t server_connections(const struct server *s)
{
	return s->nconns;
}

/* ---- virtual connections (server.h) ---- */

struct conn *server_vconn_open(struct server *s, const struct server_vconn_ops *ops, void *arg,
			       const struct server_vconn_peer *peer)
{
	if (s->closing)
		return NULL;
	struct conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	conn_link(s, c);
	c->stream.data = c; /* conn_frame's way to the connection */
	c->vops = ops;
	c->varg = arg;
	c->vtls = peer->tls;
	snprintf(c->vpeer, sizeof c->vpeer, "%s", peer->peer);
	snprintf(c->vcn, sizeof c->vcn, "%s", peer->cert_cn != NULL ? peer->cert_cn : "");
	snprintf(c->vdn, sizeof c->vdn, "%s", peer->cert_dn != NULL ? peer->cert_dn : "");
	const struct conn *o = peer->same_client;
	if (o != NULL && o->vops != NULL && !o->closed && o->kind == CONN_CLIENT &&
	    o->sess == SESS_ATTACHED) {
		c->id = o->id;
		c->vpreauth = true;
	}
	return c;
}

void server_vconn_request(struct conn *c, const uint8_t *p, size_t len)
{
	if (c->closed || c->vshut)
		return;
	conn_frame(&c->stream, p, len);
}

void server_vconn_close(struct conn *c)
{
	if (c->closed)
		return;
	c->vshut = true; /* no on_close any more */
	conn_gone(c);
}
