/* Unit tests of src/qsgd/forward.c: a follower forwarding commands to a fake
 * leader listening on loopback (real libuv loop, real sockets, the real
 * framing of src/qsgd/stream.c and src/proto). Checked: the HELLO as a
 * member, requests forwarded with this member's id and matched to their
 * replies by id (in any order), NOT_LEADER/NO_LEADER replies handed back to
 * the submission path (hold), and every command in flight answered
 * QSG_RC_OUTCOME_UNKNOWN when the leader changes, the connection breaks, this
 * member becomes the leader, or forwarding closes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto.h"
#include "qsgd/forward.h"
#include "qsgd/stream.h"
#include "qsgd_fake.h"

#define MAXREQ 64

/* ---- the fake leader ---- */

struct lconn {
	struct stream st;
	struct fleader *fl;
};

struct fleader {
	uv_tcp_t listener;
	struct stream_set set;
	struct lconn *conn; /* the current connection */
	int port;
	int hello_rc; /* answer to HELLO */
	unsigned hellos;
	uint32_t hello_member;
	uint8_t hello_kind;
	unsigned nreq;
	uint32_t reqid[MAXREQ];
	uint32_t member[MAXREQ];
	uint8_t cmd[MAXREQ][64];
	size_t cmdlen[MAXREQ];
	unsigned nconns_closed;
};

static void lc_frame(struct stream *st, const uint8_t *p, size_t len)
{
	struct lconn *c = st->data;
	struct fleader *fl = c->fl;
	struct proto_req req;
	char errmsg[QSG_ERRMSG_SIZE];

	assert_int_equal(proto_req_decode(p, len, &req, errmsg), QSG_OK);
	if (req.op == PROTO_HELLO) {
		struct proto_resp resp;
		memset(&resp, 0, sizeof resp);
		fl->hellos++;
		fl->hello_member = req.u.hello.member_id;
		fl->hello_kind = req.u.hello.kind;
		resp.op = PROTO_HELLO;
		resp.reqid = req.reqid;
		resp.rc = fl->hello_rc;
		assert_int_equal(proto_resp_encode(&resp, &st->out), QSG_OK);
		stream_mark(st);
		return;
	}
	assert_int_equal(req.op, PROTO_FORWARD);
	assert_true(fl->nreq < MAXREQ);
	assert_true(req.u.forward.cmd.len <= sizeof fl->cmd[0]);
	fl->reqid[fl->nreq] = req.reqid;
	fl->member[fl->nreq] = req.u.forward.member_id;
	memcpy(fl->cmd[fl->nreq], req.u.forward.cmd.p, req.u.forward.cmd.len);
	fl->cmdlen[fl->nreq] = req.u.forward.cmd.len;
	fl->nreq++;
}

static void lc_error(struct stream *st, int rc, uint32_t reqid)
{
	struct lconn *c = st->data;
	(void)rc;
	(void)reqid;
	if (c->fl->conn == c)
		c->fl->conn = NULL;
	stream_close(st);
}

static void lc_closed(struct stream *st)
{
	struct lconn *c = st->data;
	c->fl->nconns_closed++;
	free(c);
}

static const struct stream_ops lc_ops = {
    .on_frame = lc_frame,
    .on_error = lc_error,
    .on_closed = lc_closed,
};

static void on_connection(uv_stream_t *server, int status)
{
	struct fleader *fl = server->data;
	assert_int_equal(status, 0);
	struct lconn *c = calloc(1, sizeof *c);
	c->fl = fl;
	uv_tcp_init(server->loop, &c->st.tcp);
	stream_init(&c->st, &fl->set, &lc_ops, c);
	assert_int_equal(uv_accept(server, (uv_stream_t *)&c->st.tcp), 0);
	assert_int_equal(stream_start(&c->st), QSG_OK);
	if (fl->conn != NULL)
		stream_close(&fl->conn->st);
	fl->conn = c;
}

static void leader_start(struct fleader *fl, uv_loop_t *loop)
{
	struct sockaddr_in sa;
	struct sockaddr_storage bound;
	int namelen = sizeof bound;

	memset(fl, 0, sizeof *fl);
	fl->hello_rc = QSG_OK;
	stream_set_init(&fl->set, loop);
	fl->set.data = fl;
	uv_tcp_init(loop, &fl->listener);
	fl->listener.data = fl;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&fl->listener, (const struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&fl->listener, 8, on_connection), 0);
	assert_int_equal(uv_tcp_getsockname(&fl->listener, (struct sockaddr *)&bound, &namelen), 0);
	fl->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void leader_stop(struct fleader *fl)
{
	if (fl->conn != NULL)
		stream_close(&fl->conn->st);
	fl->conn = NULL;
	uv_close((uv_handle_t *)&fl->listener, NULL);
	stream_set_close(&fl->set, NULL);
}

/* Answer request k with rc and (on success) a result of `len` bytes. */
static void leader_reply(struct fleader *fl, unsigned k, int rc, const char *result)
{
	struct proto_resp resp;
	memset(&resp, 0, sizeof resp);
	resp.op = PROTO_FORWARD;
	resp.reqid = fl->reqid[k];
	resp.rc = rc;
	if (result != NULL) {
		resp.u.forward.result.p = (const uint8_t *)result;
		resp.u.forward.result.len = strlen(result);
	}
	assert_non_null(fl->conn);
	assert_int_equal(proto_resp_encode(&resp, &fl->conn->st.out), QSG_OK);
	stream_mark(&fl->conn->st);
}

/* ---- the follower under test ---- */

struct env {
	struct fake fk;
	struct fleader fl;
	struct forward *f;
};

static bool run_until(struct env *e, bool (*cond)(struct env *e), unsigned max_ms)
{
	uint64_t start = uv_now(&e->fk.loop);
	while (!cond(e)) {
		if (uv_now(&e->fk.loop) - start > max_ms)
			return false;
		fake_run_ms(&e->fk, 2);
	}
	return true;
}

static bool is_ready(struct env *e)
{
	return forward_ready(e->f);
}

static unsigned want_nreq;
static bool have_requests(struct env *e)
{
	return e->fl.nreq >= want_nreq;
}

static void setup_env(struct env *e)
{
	char errmsg[QSG_ERRMSG_SIZE];
	/* member 1: the fake leader; 2: this member; 3: a leader nobody
	 * listens for */
	fake_init(&e->fk, 3, 2, 0);
	leader_start(&e->fl, &e->fk.loop);
	snprintf(e->fk.cfg.members[0].listen, sizeof e->fk.cfg.members[0].listen, "127.0.0.1:%d",
		 e->fl.port);
	snprintf(e->fk.cfg.members[2].listen, sizeof e->fk.cfg.members[2].listen, "127.0.0.1:1");
	e->fk.info.role = GLUE_FOLLOWER;
	e->fk.info.leader_id = 1;
	assert_int_equal(forward_init(&e->f, &e->fk.d, errmsg), QSG_OK);
	assert_false(forward_ready(e->f));
	forward_check_leader(e->f);
	assert_true(run_until(e, is_ready, 5000));
	assert_int_equal(e->fl.hellos, 1);
	assert_int_equal(e->fl.hello_kind, PROTO_KIND_MEMBER);
	assert_int_equal(e->fl.hello_member, 2);
	assert_true(e->fk.hold_retries >= 1); /* held commands may go now */
}

static void teardown_env(struct env *e)
{
	forward_close(e->f);
	leader_stop(&e->fl);
	fake_close(&e->fk);
}

static struct qsgd_sub *sub(uint64_t client, struct done_rec *out)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_ATTACH;
	c.client_id = client;
	c.member_id = 2;
	return fake_sub(&c, out);
}

static void send_n(struct env *e, struct done_rec *d, unsigned n)
{
	unsigned before = e->fl.nreq;
	for (unsigned i = 0; i < n; i++)
		forward_send(e->f, sub(100 + i, &d[i]));
	want_nreq = before + n;
	assert_true(run_until(e, have_requests, 5000));
}

static bool all_called(const struct done_rec *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (d[i].calls != 1)
			return false;
	return true;
}

static struct done_rec *g_d;
static unsigned g_n;
static bool replies_in(struct env *e)
{
	(void)e;
	return all_called(g_d, g_n);
}

static void wait_done(struct env *e, struct done_rec *d, unsigned n)
{
	g_d = d;
	g_n = n;
	assert_true(run_until(e, replies_in, 5000));
}

/* Requests carry this member's id and the command; replies are matched by
 * id, whatever their order. */
static void forward_and_match(void **state)
{
	(void)state;
	struct env e;
	struct done_rec d[3];
	memset(d, 0, sizeof d);
	setup_env(&e);
	send_n(&e, d, 3);
	for (unsigned k = 0; k < 3; k++) {
		struct fsm_cmd c;
		char errmsg[QSG_ERRMSG_SIZE];
		assert_int_equal(e.fl.member[k], 2);
		assert_int_equal(fsm_cmd_decode(e.fl.cmd[k], e.fl.cmdlen[k], &c, errmsg), QSG_OK);
		assert_int_equal(c.op, FSM_OP_ATTACH);
		assert_int_equal(c.client_id, 100 + k);
	}
	assert_true(e.fl.reqid[0] != e.fl.reqid[1] && e.fl.reqid[1] != e.fl.reqid[2]);
	leader_reply(&e.fl, 2, QSG_OK, "third");
	leader_reply(&e.fl, 0, QSG_OK, "first");
	leader_reply(&e.fl, 1, QSG_OK, "second");
	wait_done(&e, d, 3);
	const char *want[3] = {"first", "second", "third"};
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(d[k].status, QSG_OK);
		assert_int_equal(d[k].len, strlen(want[k]));
		assert_memory_equal(d[k].result, want[k], d[k].len);
	}
	teardown_env(&e);
}

/* NOT_LEADER / NO_LEADER: definitely not applied, back to the submission
 * path (held); another code is the command's answer. */
static void refusals(void **state)
{
	(void)state;
	struct env e;
	struct done_rec d[3];
	memset(d, 0, sizeof d);
	setup_env(&e);
	send_n(&e, d, 3);
	leader_reply(&e.fl, 0, QSG_RC_NOT_LEADER, NULL);
	leader_reply(&e.fl, 1, QSG_RC_NO_LEADER, NULL);
	leader_reply(&e.fl, 2, QSG_RC_Q_FULL, NULL);
	wait_done(&e, &d[2], 1);
	assert_int_equal(d[2].status, QSG_RC_Q_FULL);
	assert_int_equal(e.fk.held.n, 2);
	assert_int_equal(d[0].calls + d[1].calls, 0);
	assert_ptr_equal(e.fk.held.head->arg, &d[0]);
	assert_true(forward_ready(e.f));
	teardown_env(&e);
}

/* The leader changes: what is in flight is OUTCOME_UNKNOWN; a late reply
 * from the old leader is not delivered. */
static void leader_change(void **state)
{
	(void)state;
	struct env e;
	struct done_rec d[2];
	memset(d, 0, sizeof d);
	setup_env(&e);
	send_n(&e, d, 2);
	e.fk.info.leader_id = 3; /* nobody listens there */
	forward_check_leader(e.f);
	assert_int_equal(d[0].calls, 1);
	assert_int_equal(d[0].status, QSG_RC_OUTCOME_UNKNOWN);
	assert_int_equal(d[1].status, QSG_RC_OUTCOME_UNKNOWN);
	assert_false(forward_ready(e.f));
	fake_run_ms(&e.fk, 20);
	assert_false(forward_ready(e.f));
	/* back to leader 1: a new connection and HELLO */
	e.fk.info.leader_id = 1;
	assert_true(run_until(&e, is_ready, 5000));
	assert_int_equal(e.fl.hellos, 2);
	assert_int_equal(d[0].calls + d[1].calls, 2);
	teardown_env(&e);
}

/* The connection breaks: OUTCOME_UNKNOWN, and forwarding reconnects. */
static void connection_lost(void **state)
{
	(void)state;
	struct env e;
	struct done_rec d[2];
	memset(d, 0, sizeof d);
	setup_env(&e);
	send_n(&e, d, 2);
	stream_close(&e.fl.conn->st);
	e.fl.conn = NULL;
	wait_done(&e, d, 2);
	assert_int_equal(d[0].status, QSG_RC_OUTCOME_UNKNOWN);
	assert_int_equal(d[1].status, QSG_RC_OUTCOME_UNKNOWN);
	assert_true(run_until(&e, is_ready, 5000));
	assert_int_equal(e.fl.hellos, 2);
	teardown_env(&e);
}

/* This member became the leader: the connection is dropped. */
static void became_leader(void **state)
{
	(void)state;
	struct env e;
	struct done_rec d[1];
	memset(d, 0, sizeof d);
	setup_env(&e);
	send_n(&e, d, 1);
	e.fk.info.role = GLUE_LEADER;
	e.fk.info.leader_id = 2;
	forward_check_leader(e.f);
	assert_int_equal(d[0].status, QSG_RC_OUTCOME_UNKNOWN);
	assert_false(forward_ready(e.f));
	teardown_env(&e);
}

/* A reply to a request never made breaks the connection. */
static void unknown_reply(void **state)
{
	(void)state;
	struct env e;
	struct done_rec d[1];
	memset(d, 0, sizeof d);
	setup_env(&e);
	send_n(&e, d, 1);
	e.fl.reqid[1] = e.fl.reqid[0] + 1000;
	leader_reply(&e.fl, 1, QSG_OK, "bogus");
	wait_done(&e, d, 1);
	assert_int_equal(d[0].status, QSG_RC_OUTCOME_UNKNOWN);
	teardown_env(&e);
}

/* A leader that refuses the HELLO is not forwarded to. */
static void hello_refused(void **state)
{
	(void)state;
	struct env e;
	char errmsg[QSG_ERRMSG_SIZE];
	fake_init(&e.fk, 3, 2, 0);
	leader_start(&e.fl, &e.fk.loop);
	e.fl.hello_rc = QSG_RC_INVALID;
	snprintf(e.fk.cfg.members[0].listen, sizeof e.fk.cfg.members[0].listen, "127.0.0.1:%d",
		 e.fl.port);
	e.fk.info.role = GLUE_FOLLOWER;
	e.fk.info.leader_id = 1;
	e.fk.log.level = -1; /* QSG3004W expected */
	assert_int_equal(forward_init(&e.f, &e.fk.d, errmsg), QSG_OK);
	fake_run_ms(&e.fk, 150);
	assert_true(e.fl.hellos >= 1);
	assert_false(forward_ready(e.f));
	assert_int_equal(e.fk.hold_retries, 0);
	teardown_env(&e);
}

/* Closing forwarding answers what is in flight OUTCOME_UNKNOWN. */
static void close_in_flight(void **state)
{
	(void)state;
	struct env e;
	struct done_rec d[2];
	memset(d, 0, sizeof d);
	setup_env(&e);
	send_n(&e, d, 2);
	forward_close(e.f);
	assert_int_equal(d[0].status, QSG_RC_OUTCOME_UNKNOWN);
	assert_int_equal(d[1].status, QSG_RC_OUTCOME_UNKNOWN);
	leader_stop(&e.fl);
	fake_close(&e.fk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(forward_and_match), cmocka_unit_test(refusals),
	    cmocka_unit_test(leader_change),	 cmocka_unit_test(connection_lost),
	    cmocka_unit_test(became_leader),	 cmocka_unit_test(unknown_reply),
	    cmocka_unit_test(hello_refused),	 cmocka_unit_test(close_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
