#include "forward.h"

#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "proto/proto.h"
#include "raft-glue/glue.h"
#include "stream.h"
#include "tlsstream.h"

#define FWD_TICK_MS 50
#define FWD_BUCKETS 1024

enum fconn_state { FC_CONNECTING = 1, FC_HELLO = 2, FC_READY = 3 };

/* One connection to one leader. Freed when its handle is closed. */
struct fconn {
	struct stream stream;
	uv_connect_t creq;
	struct forward *f; /* NULL once detached from the forward module */
	uint64_t leader_id;
	int state;
	uint32_t next_reqid;
	size_t inflight;
	struct qsgd_sub *buckets[FWD_BUCKETS];
};

struct forward {
	struct qsgd *d;
	uv_timer_t timer;
	struct stream_set set;
	struct fconn *conn;
	unsigned nclosed;
	unsigned nconns; /* connections not yet released by libuv */
	bool closing;
	uint64_t failed_leader; /* leader of the last failed attempt (for logging) */
};

static void maybe_free(struct forward *f)
{
	if (f->closing && f->nclosed == 3 && f->nconns == 0)
		free(f);
}

static void fail_all(struct fconn *c, int status)
{
	for (size_t i = 0; i < FWD_BUCKETS; i++) {
		struct qsgd_sub *s;
		while ((s = c->buckets[i]) != NULL) {
			c->buckets[i] = s->hnext;
			s->hnext = NULL;
			c->inflight--;
			qsgd_sub_complete(s, status, NULL, 0);
		}
	}
}

/* Detach the current connection (its in-flight commands: OUTCOME_UNKNOWN). */
static void drop_conn(struct forward *f, const char *why)
{
	struct fconn *c = f->conn;
	if (c == NULL)
		return;
	f->conn = NULL;
	c->f = NULL;
	if (c->state == FC_READY)
		QLOG_INFO_(f->d->log, "QSG3002I", "forwarding connection to leader %llu closed: %s",
			   (unsigned long long)c->leader_id, why);
	fail_all(c, QSG_RC_OUTCOME_UNKNOWN);
	stream_close(&c->stream);
}

static void fc_closed(struct stream *s)
{
	struct fconn *c = s->data;
	struct forward *f = c->stream.set->data;
	f->nconns--;
	free(c);
	maybe_free(f);
}

static void fc_error(struct stream *s, int rc, uint32_t reqid)
{
	struct fconn *c = s->data;
	(void)reqid;
	if (c->f != NULL)
		drop_conn(c->f, qsg_rc_name(rc));
	else
		stream_close(s);
}

static struct qsgd_sub *take_sub(struct fconn *c, uint32_t reqid)
{
	struct qsgd_sub **pp = &c->buckets[reqid % FWD_BUCKETS];
	while (*pp != NULL) {
		if ((*pp)->reqid == reqid) {
			struct qsgd_sub *s = *pp;
			*pp = s->hnext;
			s->hnext = NULL;
			c->inflight--;
			return s;
		}
		pp = &(*pp)->hnext;
	}
	return NULL;
}

static void fc_frame(struct stream *st, const uint8_t *p, size_t len)
{
	struct fconn *c = st->data;
	struct forward *f = c->f;
	struct proto_resp resp;
	char errmsg[QSG_ERRMSG_SIZE];

	if (f == NULL)
		return;
	int rc = proto_resp_decode(p, len, &resp, errmsg);
	if (rc != QSG_OK) {
		QLOG_WARNING(f->d->log, "QSG3003W", "bad frame from leader %llu: %s",
			     (unsigned long long)c->leader_id, errmsg);
		drop_conn(f, "bad frame");
		return;
	}
	if (resp.op == PROTO_HELLO && c->state == FC_HELLO) {
		if (resp.rc != QSG_OK) {
			QLOG_WARNING(f->d->log, "QSG3004W", "leader %llu refused HELLO: %s",
				     (unsigned long long)c->leader_id, qsg_rc_name(resp.rc));
			drop_conn(f, "hello refused");
			return;
		}
		c->state = FC_READY;
		f->failed_leader = 0;
		QLOG_INFO_(f->d->log, "QSG3001I", "forwarding to leader %llu",
			   (unsigned long long)c->leader_id);
		f->d->ops->hold_retry(f->d);
		return;
	}
	if (resp.op != PROTO_FORWARD) {
		drop_conn(f, "unexpected response");
		return;
	}
	struct qsgd_sub *s = take_sub(c, resp.reqid);
	if (s == NULL) {
		drop_conn(f, "response to an unknown request");
		return;
	}
	if (resp.rc == QSG_OK)
		qsgd_sub_complete(s, QSG_OK, resp.u.forward.result.p, resp.u.forward.result.len);
	else if (resp.rc == QSG_RC_NOT_LEADER || resp.rc == QSG_RC_NO_LEADER)
		f->d->ops->hold(f->d, s); /* definitely not applied: route again later */
	else
		qsgd_sub_complete(s, resp.rc, NULL, 0);
}

static const struct stream_ops fc_ops = {
    .on_frame = fc_frame,
    .on_error = fc_error,
    .on_closed = fc_closed,
};

static void connect_cb(uv_connect_t *req, int status)
{
	struct fconn *c = req->data;
	struct forward *f = c->f;
	if (f == NULL)
		return; /* dropped meanwhile; the handle is being closed */
	if (status != 0) {
		if (f->failed_leader != c->leader_id)
			QLOG_WARNING(f->d->log, "QSG3005W", "cannot connect to leader %llu: %s",
				     (unsigned long long)c->leader_id, uv_strerror(status));
		f->failed_leader = c->leader_id;
		drop_conn(f, "connect failed");
		return;
	}
	if (f->d->tls != NULL) {
		/* The peer member's listener: TLS with our own certificate; its
		 * certificate must name it (CN = member name) when it is in our
		 * member list. */
		const struct qsgd_member_cfg *pm =
		    c->leader_id <= UINT32_MAX
			? qsgd_config_member(f->d->cfg, (uint32_t)c->leader_id)
			: NULL;
		if (tlsstream_attach(&c->stream, f->d->tls, TLS_CLIENT,
				     pm != NULL ? pm->name : NULL) != QSG_OK) {
			drop_conn(f, "TLS setup failed");
			return;
		}
	}
	if (stream_start(&c->stream) != QSG_OK) {
		drop_conn(f, "read failed");
		return;
	}
	struct proto_req hello;
	memset(&hello, 0, sizeof hello);
	hello.op = PROTO_HELLO;
	hello.reqid = c->next_reqid++;
	hello.u.hello.kind = PROTO_KIND_MEMBER;
	hello.u.hello.member_id = f->d->cfg->id;
	hello.u.hello.app.p = (const uint8_t *)f->d->cfg->name;
	hello.u.hello.app.len = strlen(f->d->cfg->name);
	proto_req_encode(&hello, &c->stream.out);
	stream_mark(&c->stream);
	c->state = FC_HELLO;
}

/* The leader's client address: from the static member list, or -- for a
 * member that joined after this one was configured (ADD MEMBER) -- from its
 * replicated member record (MEMBER_JOIN carries the client address). */
static const char *leader_listen(struct forward *f, uint64_t leader_id, struct fsm_member *rec)
{
	const struct qsgd_member_cfg *m;

	if (leader_id == 0 || leader_id > UINT32_MAX)
		return NULL;
	m = qsgd_config_member(f->d->cfg, (uint32_t)leader_id);
	if (m != NULL)
		return m->listen;
	if (f->d->fsm != NULL && fsm_member_get(f->d->fsm, (uint32_t)leader_id, rec) == QSG_OK &&
	    rec->client_addr[0] != '\0')
		return rec->client_addr;
	return NULL;
}

static void open_conn(struct forward *f, uint64_t leader_id)
{
	struct fsm_member rec;
	const char *listen = leader_listen(f, leader_id, &rec);
	struct sockaddr_storage sa;
	if (listen == NULL) {
		if (f->failed_leader != leader_id)
			QLOG_WARNING(f->d->log, "QSG3006W",
				     "leader %llu is neither in the member list nor in the "
				     "replicated member records (yet)",
				     (unsigned long long)leader_id);
		f->failed_leader = leader_id;
		return;
	}
	if (net_resolve(listen, &sa) != QSG_OK) {
		if (f->failed_leader != leader_id)
			QLOG_WARNING(f->d->log, "QSG3005W", "cannot resolve %s", listen);
		f->failed_leader = leader_id;
		return;
	}
	struct fconn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return;
	c->f = f;
	c->leader_id = leader_id;
	c->next_reqid = 1;
	uv_tcp_init(f->d->loop, &c->stream.tcp);
	stream_init(&c->stream, &f->set, &fc_ops, c);
	f->nconns++;
	f->conn = c;
	c->state = FC_CONNECTING;
	c->creq.data = c;
	int rv = uv_tcp_connect(&c->creq, &c->stream.tcp, (const struct sockaddr *)&sa, connect_cb);
	if (rv != 0) {
		f->failed_leader = leader_id;
		drop_conn(f, uv_strerror(rv));
	}
}

void forward_check_leader(struct forward *f)
{
	struct glue_info info;
	if (f->closing)
		return;
	f->d->ops->info(f->d, &info);
	if (info.role == GLUE_LEADER) {
		drop_conn(f, "this member is the leader");
		return;
	}
	if (info.leader_id == 0 || info.leader_id == f->d->cfg->id)
		return; /* keep what we have until a new leader is known */
	if (f->conn != NULL && f->conn->leader_id != info.leader_id)
		drop_conn(f, "leader changed");
	if (f->conn == NULL)
		open_conn(f, info.leader_id);
}

static void tick(uv_timer_t *t)
{
	forward_check_leader(t->data);
}

int forward_init(struct forward **out, struct qsgd *d, char *errmsg)
{
	struct forward *f = calloc(1, sizeof *f);
	if (f == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	f->d = d;
	stream_set_init(&f->set, d->loop);
	f->set.data = f;
	uv_timer_init(d->loop, &f->timer);
	f->timer.data = f;
	uv_timer_start(&f->timer, tick, FWD_TICK_MS, FWD_TICK_MS);
	*out = f;
	return QSG_OK;
}

static void timer_closed(uv_handle_t *h)
{
	struct forward *f = h->data;
	f->nclosed++;
	maybe_free(f);
}

static void set_closed(struct stream_set *set)
{
	struct forward *f = set->data;
	f->nclosed += 2;
	maybe_free(f);
}

void forward_close(struct forward *f)
{
	drop_conn(f, "stopping");
	f->closing = true;
	uv_close((uv_handle_t *)&f->timer, timer_closed);
	stream_set_close(&f->set, set_closed);
}

bool forward_ready(struct forward *f)
{
	return !f->closing && f->conn != NULL && f->conn->state == FC_READY;
}

void forward_send(struct forward *f, struct qsgd_sub *s)
{
	struct fconn *c = f->conn;
	struct proto_req req;
	memset(&req, 0, sizeof req);
	req.op = PROTO_FORWARD;
	do {
		req.reqid = c->next_reqid++;
	} while (req.reqid == 0);
	req.u.forward.member_id = f->d->cfg->id;
	req.u.forward.cmd.p = s->cmd;
	req.u.forward.cmd.len = s->len;
	int rc = proto_req_encode(&req, &c->stream.out);
	if (rc != QSG_OK) {
		qsgd_sub_complete(s, rc, NULL, 0);
		return;
	}
	s->reqid = req.reqid;
	s->hnext = c->buckets[s->reqid % FWD_BUCKETS];
	c->buckets[s->reqid % FWD_BUCKETS] = s;
	c->inflight++;
	stream_mark(&c->stream);
}
