/* qsgbench: load generator for a queue-sharing group.
 *
 * Speaks the client protocol directly (src/proto) on N connections spread
 * round-robin over the members, keeping up to M requests in flight on each.
 * Every connection is its own session: HELLO with a random client_id, then
 * producer sequence numbers 1, 2, 3 ... in send order. One libuv loop; all
 * state hangs off one struct bench (no globals).
 *
 * Closed loop (--rate 0): every connection refills its window as responses
 * arrive. Open loop (--rate R): message i of the run is scheduled at
 * t0 + i / R and given to put connection i mod P; its latency is measured
 * from that scheduled time, so a stall shows up as latency instead of being
 * hidden (no coordinated omission). Pacing uses a timerfd (ns resolution)
 * polled by libuv.
 *
 * Always bounded by --messages and/or --seconds; exits by itself. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <uv.h>

#include "bench_hist.h"
#include "proto/proto.h"

#define BENCH_DEFAULT_QUEUE "QSG.BENCH"
#define BENCH_READ_CHUNK (64 * 1024)
#define BENCH_GET_WAIT_MS 500 /* putget: getters wait this long per GET */
#define BENCH_DRAIN_GRACE_MS 5000 /* after the deadline, for answers in flight */
#define BENCH_MAX_CONNS 4096
#define BENCH_MAX_INFLIGHT 1024 /* the server's per-connection limit */
#define BENCH_MAX_RC 64

enum bench_mode { MODE_PUT, MODE_GET, MODE_PUTGET };
enum conn_role { ROLE_PUT, ROLE_GET };
enum conn_state { CS_CONNECTING, CS_HELLO, CS_RUNNING, CS_DONE, CS_CLOSED };

struct bench_opts {
	const char *conn; /* comma-separated host:port list */
	unsigned conns;
	unsigned inflight;
	size_t size;
	bool persistent;
	unsigned syncpoint; /* ops per uow; 0 = none */
	enum bench_mode mode;
	uint64_t messages; /* 0 = unbounded (then seconds bounds the run) */
	double seconds; /* 0 = unbounded (then messages bounds the run) */
	double rate; /* total msgs/s; 0 = as fast as possible */
	const char *queue;
	double warmup; /* seconds not measured */
};

struct rc_count {
	int rc;
	uint64_t n;
};

/* Results of one kind of operation (put or get). */
struct op_stats {
	uint64_t ok;
	uint64_t bytes;
	struct bench_hist hist; /* ns */
};

struct slot {
	uint32_t reqid; /* 0 = free */
	uint8_t op;
	uint64_t t_sched; /* ns, uv_hrtime clock: scheduled (open loop) or send time */
};

struct bench;

struct conn {
	struct bench *b;
	unsigned idx;
	enum conn_role role;
	unsigned role_idx; /* index among the connections of its role */
	enum conn_state state;
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	struct sockaddr_storage addr;
	char addr_text[128];
	uint64_t client_id;
	uint64_t seq; /* last producer sequence used */
	uint64_t uow; /* number of the open uow (uows_done + 1) */
	unsigned uow_ops; /* ops sent in the open uow */
	bool committing; /* a COMMIT is in flight */
	bool empty; /* get mode: the queue was found empty */
	uint64_t issued; /* ops started by this connection (open loop index) */
	unsigned inflight; /* requests in flight (puts/gets and COMMIT) */
	uint32_t next_reqid;
	struct slot *slots; /* inflight + 1 entries (room for a COMMIT) */
	unsigned nslots;
	uint8_t *rbuf;
	size_t rlen, rcap;
	struct qsg_wbuf out; /* frames encoded during one pump */
};

struct write_req {
	uv_write_t req;
	uint8_t *data;
};

struct bench {
	struct bench_opts o;
	uv_loop_t *loop;
	struct conn *conns;
	unsigned nconns;
	unsigned nputters, ngetters;
	unsigned pending_connects; /* connections not yet through HELLO */
	uint8_t *payload;
	uv_timer_t deadline_timer;
	uv_timer_t grace_timer;
	uv_poll_t pace_poll; /* open loop only */
	int pace_fd;
	bool pacing;
	uint64_t t_start; /* ns: all sessions attached */
	uint64_t t_measure; /* ns: end of warmup */
	uint64_t t_last; /* ns: last measured completion */
	uint64_t t_end; /* ns: deadline (0 = none) */
	uint64_t pace_ns; /* open loop: ns between two messages */
	uint64_t put_budget; /* puts left to start (UINT64_MAX = unbounded) */
	uint64_t get_budget; /* gets that may still succeed */
	bool stopping; /* no new requests */
	bool failed; /* a connection error: report, stop, exit 1 */
	uint64_t unanswered;
	uint64_t empty_answers; /* get: NO_MSG_AVAILABLE (end of the queue) */
	uint64_t commits;
	struct op_stats put, get;
	struct rc_count errors[BENCH_MAX_RC];
	unsigned nerrors;
	uint64_t errors_total;
};

static void conn_pump(struct conn *c);
static void bench_check_done(struct bench *b);

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

static void count_error(struct bench *b, int rc)
{
	b->errors_total++;
	for (unsigned i = 0; i < b->nerrors; i++) {
		if (b->errors[i].rc == rc) {
			b->errors[i].n++;
			return;
		}
	}
	if (b->nerrors < BENCH_MAX_RC) {
		b->errors[b->nerrors].rc = rc;
		b->errors[b->nerrors].n = 1;
		b->nerrors++;
	}
}

/* ---- connection lifecycle ------------------------------------------------ */

static void on_close(uv_handle_t *h)
{
	struct conn *c = h->data;
	c->state = CS_CLOSED;
}

static void conn_close(struct conn *c)
{
	if (c->state == CS_CLOSED || uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	if (c->inflight > 0)
		c->b->unanswered += c->inflight;
	c->inflight = 0;
	c->state = CS_DONE;
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void bench_stop_all(struct bench *b)
{
	b->stopping = true;
	uv_timer_stop(&b->deadline_timer);
	uv_timer_stop(&b->grace_timer);
	if (b->pacing) {
		uv_poll_stop(&b->pace_poll);
		b->pacing = false;
	}
	for (unsigned i = 0; i < b->nconns; i++)
		conn_close(&b->conns[i]);
}

/* A broken connection ends the run: report it, then stop everything. */
static void conn_fail(struct conn *c, int rc, const char *what)
{
	struct bench *b = c->b;
	fprintf(stderr, "qsgbench: connection %u (%s): %s: %s\n", c->idx, c->addr_text,
		qsg_rc_name(rc), what);
	b->failed = true;
	bench_stop_all(b);
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = req->handle->data;
	free(w->data);
	free(w);
	if (status < 0 && status != UV_ECANCELED && c->state != CS_CLOSED && c->state != CS_DONE)
		conn_fail(c, QSG_RC_CONNECTION_BROKEN, uv_strerror(status));
}

/* Send the frames encoded since the last flush as one write. */
static void conn_flush(struct conn *c)
{
	if (c->out.err != QSG_OK) {
		conn_fail(c, QSG_RC_STORAGE_NOT_AVAILABLE, "encoding a request");
		return;
	}
	if (c->out.len == 0)
		return;
	struct write_req *w = malloc(sizeof *w);
	if (w == NULL) {
		conn_fail(c, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		return;
	}
	size_t len;
	w->data = qsg_wbuf_take(&c->out, &len);
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
	int rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
	if (rv != 0) {
		free(w->data);
		free(w);
		conn_fail(c, QSG_RC_CONNECTION_BROKEN, uv_strerror(rv));
	}
}

/* Reserve a slot and a reqid for a request sent at (or scheduled for) t. */
static struct slot *slot_get(struct conn *c, uint8_t op, uint64_t t)
{
	for (unsigned i = 0; i < c->nslots; i++) {
		struct slot *s = &c->slots[i];
		if (s->reqid != 0)
			continue;
		/* reqid = i + 1 (mod nslots), never 0: lookup is one division. */
		c->next_reqid += c->nslots;
		if (c->next_reqid == 0 || c->next_reqid > UINT32_MAX - c->nslots - 1)
			c->next_reqid = c->nslots;
		s->reqid = c->next_reqid - c->nslots + i + 1;
		s->op = op;
		s->t_sched = t;
		c->inflight++;
		return s;
	}
	return NULL;
}

static struct slot *slot_find(struct conn *c, uint32_t reqid)
{
	if (reqid == 0)
		return NULL;
	struct slot *s = &c->slots[(reqid - 1) % c->nslots];
	return s->reqid == reqid ? s : NULL;
}

static void encode(struct conn *c, const struct proto_req *req)
{
	int rc = proto_req_encode(req, &c->out);
	if (rc != QSG_OK && c->out.err == QSG_OK)
		c->out.err = rc;
}

static void send_hello(struct conn *c)
{
	struct proto_req req;
	memset(&req, 0, sizeof req);
	struct slot *s = slot_get(c, PROTO_HELLO, now_ns());
	req.op = PROTO_HELLO;
	req.reqid = s->reqid;
	req.u.hello.kind = PROTO_KIND_CLIENT;
	req.u.hello.client_id = c->client_id;
	static const char app[] = "qsgbench";
	req.u.hello.app.p = (const uint8_t *)app;
	req.u.hello.app.len = sizeof app - 1;
	encode(c, &req);
	c->state = CS_HELLO;
	conn_flush(c);
}

static void send_commit(struct conn *c)
{
	struct proto_req req;
	memset(&req, 0, sizeof req);
	struct slot *s = slot_get(c, PROTO_COMMIT, now_ns());
	req.op = PROTO_COMMIT;
	req.reqid = s->reqid;
	req.u.commit.uow = c->uow;
	encode(c, &req);
	c->committing = true;
}

static void send_op(struct conn *c, uint64_t t_sched)
{
	struct bench *b = c->b;
	struct proto_req req;
	memset(&req, 0, sizeof req);
	uint32_t sp = b->o.syncpoint > 0 ? FSM_F_SYNCPOINT : 0;
	if (c->role == ROLE_PUT) {
		struct slot *s = slot_get(c, PROTO_PUT, t_sched);
		req.op = PROTO_PUT;
		req.reqid = s->reqid;
		snprintf(req.u.put.queue, sizeof req.u.put.queue, "%s", b->o.queue);
		req.u.put.seq = ++c->seq;
		req.u.put.flags =
		    FSM_F_GEN_MSGID | sp | (b->o.persistent ? FSM_F_PERSISTENT : 0);
		req.u.put.msg.body.p = b->payload;
		req.u.put.msg.body.len = b->o.size;
		if (b->put_budget != UINT64_MAX)
			b->put_budget--;
	} else {
		struct slot *s = slot_get(c, PROTO_GET, t_sched);
		req.op = PROTO_GET;
		req.reqid = s->reqid;
		snprintf(req.u.get.queue, sizeof req.u.get.queue, "%s", b->o.queue);
		req.u.get.flags = sp;
		req.u.get.wait_ms = b->o.mode == MODE_PUTGET ? BENCH_GET_WAIT_MS : 0;
	}
	c->issued++;
	if (sp)
		c->uow_ops++;
	encode(c, &req);
}

/* Open loop: scheduled time of this connection's next op. */
static uint64_t conn_next_sched(const struct conn *c)
{
	const struct bench *b = c->b;
	uint64_t i = c->issued * b->nputters + c->role_idx;
	return b->t_start + i * b->pace_ns;
}

static bool conn_may_issue(const struct conn *c)
{
	const struct bench *b = c->b;
	if (b->stopping || c->state != CS_RUNNING || c->committing || c->empty)
		return false;
	if (c->role == ROLE_PUT && b->put_budget == 0)
		return false;
	if (c->role == ROLE_GET && b->get_budget == 0)
		return false;
	/* Under syncpoint: a full uow waits for its answers, then commits. */
	if (b->o.syncpoint > 0 && c->uow_ops >= b->o.syncpoint)
		return false;
	return c->inflight < b->o.inflight;
}

/* Issue what the window (and, open loop, the schedule) allows; commit a
 * full uow; flush in one write. */
static void conn_pump(struct conn *c)
{
	struct bench *b = c->b;
	if (c->state != CS_RUNNING)
		return;
	bool open_loop = b->pace_ns > 0 && c->role == ROLE_PUT;
	uint64_t now = open_loop ? now_ns() : 0;
	while (conn_may_issue(c)) {
		if (open_loop) {
			uint64_t t = conn_next_sched(c);
			if (t > now || (b->t_end != 0 && t >= b->t_end))
				break;
			send_op(c, t);
		} else {
			send_op(c, now_ns());
		}
	}
	/* Commit when the uow is full, or at the end with work in it, once every
	 * op of the uow has been answered. */
	bool finishing = b->stopping || c->empty ||
			 (c->role == ROLE_PUT ? b->put_budget == 0 : b->get_budget == 0);
	if (b->o.syncpoint > 0 && !c->committing && c->inflight == 0 && c->uow_ops > 0 &&
	    (c->uow_ops >= b->o.syncpoint || finishing))
		send_commit(c);
	conn_flush(c);
}

/* ---- responses ------------------------------------------------------------ */

static void record(struct bench *b, struct op_stats *st, uint64_t t_sched, uint64_t t_done,
		   size_t bytes)
{
	if (t_sched < b->t_measure)
		return; /* warmup */
	st->ok++;
	st->bytes += bytes;
	bench_hist_record(&st->hist, t_done > t_sched ? t_done - t_sched : 0);
	b->t_last = t_done;
}

static void on_hello(struct conn *c, const struct proto_resp *r)
{
	struct bench *b = c->b;
	if (r->rc != QSG_OK) {
		fprintf(stderr, "qsgbench: connection %u (%s): HELLO: %s: %.*s\n", c->idx,
			c->addr_text, qsg_rc_name(r->rc), (int)r->text.len,
			(const char *)r->text.p);
		b->failed = true;
		bench_stop_all(b);
		return;
	}
	c->seq = r->u.hello.put_seq; /* 0 for a new client_id */
	c->uow = r->u.hello.uows_done + 1;
	c->state = CS_RUNNING;
	if (--b->pending_connects > 0)
		return;
	/* Everyone attached: the run starts now. */
	b->t_start = now_ns();
	b->t_measure = b->t_start + (uint64_t)(b->o.warmup * 1e9);
	b->t_last = b->t_measure;
	if (b->o.seconds > 0) {
		double total = b->o.warmup + b->o.seconds;
		b->t_end = b->t_start + (uint64_t)(total * 1e9);
		uv_timer_start(&b->deadline_timer, NULL, 0, 0); /* replaced below */
	}
	extern void bench_arm(struct bench * b);
	bench_arm(b);
}

static void on_response(struct conn *c, const struct proto_resp *r)
{
	struct bench *b = c->b;
	struct slot *s = slot_find(c, r->reqid);
	if (s == NULL || s->op != r->op) {
		conn_fail(c, QSG_RC_BAD_FRAME, "response to no request in flight");
		return;
	}
	uint64_t t_sched = s->t_sched, t_done = now_ns();
	uint8_t op = s->op;
	s->reqid = 0;
	c->inflight--;
	switch (op) {
	case PROTO_HELLO:
		on_hello(c, r);
		return;
	case PROTO_COMMIT:
		c->committing = false;
		if (r->rc == QSG_OK) {
			b->commits++;
		} else {
			/* The uow's ops did not happen. */
			count_error(b, r->rc);
		}
		c->uow++;
		c->uow_ops = 0;
		break;
	case PROTO_PUT:
		if (r->rc == QSG_OK)
			record(b, &b->put, t_sched, t_done, b->o.size);
		else
			count_error(b, r->rc);
		break;
	case PROTO_GET:
		if (r->rc == QSG_OK) {
			if (b->get_budget != UINT64_MAX && b->get_budget > 0)
				b->get_budget--;
			record(b, &b->get, t_sched, t_done, r->u.get.msg.body.len);
		} else if (r->rc == QSG_RC_NO_MSG_AVAILABLE) {
			if (b->o.mode == MODE_GET) {
				b->empty_answers++;
				/* The queue is drained: every getter stops. */
				for (unsigned i = 0; i < b->nconns; i++)
					b->conns[i].empty = true;
			}
		} else {
			count_error(b, r->rc);
		}
		if (c->uow_ops > 0 && r->rc != QSG_OK && b->o.syncpoint > 0)
			c->uow_ops--; /* nothing of it in the uow */
		break;
	default:
		conn_fail(c, QSG_RC_BAD_FRAME, "unexpected response op");
		return;
	}
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;
	(void)hint;
	if (c->rcap - c->rlen < BENCH_READ_CHUNK) {
		size_t ncap = c->rcap ? c->rcap * 2 : 2 * BENCH_READ_CHUNK;
		while (ncap - c->rlen < BENCH_READ_CHUNK)
			ncap *= 2;
		uint8_t *p = realloc(c->rbuf, ncap);
		if (p == NULL) {
			*buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
			return;
		}
		c->rbuf = p;
		c->rcap = ncap;
	}
	*buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = stream->data;
	struct bench *b = c->b;
	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (c->state == CS_DONE || c->state == CS_CLOSED)
			return;
		conn_fail(c, QSG_RC_CONNECTION_BROKEN,
			  nread == UV_EOF ? "closed by the member" : uv_strerror((int)nread));
		return;
	}
	c->rlen += (size_t)nread;
	size_t off = 0;
	while (c->state != CS_DONE && c->state != CS_CLOSED) {
		size_t flen;
		int rc = proto_frame_check(c->rbuf + off, c->rlen - off, &flen);
		if (rc != QSG_OK) {
			conn_fail(c, rc, "bad frame length from the member");
			return;
		}
		if (flen == 0)
			break;
		struct proto_resp r;
		char errmsg[QSG_ERRMSG_SIZE];
		rc = proto_resp_decode(c->rbuf + off, flen, &r, errmsg);
		if (rc != QSG_OK) {
			conn_fail(c, rc, errmsg);
			return;
		}
		on_response(c, &r);
		off += flen;
	}
	if (c->state == CS_DONE || c->state == CS_CLOSED)
		return;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	/* Refill every connection of this role: get mode may have gone empty,
	 * putget getters and putters are independent. */
	conn_pump(c);
	bench_check_done(b);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	if (status < 0) {
		if (c->state == CS_DONE || c->state == CS_CLOSED)
			return;
		fprintf(stderr, "qsgbench: connect %s: %s\n", c->addr_text, uv_strerror(status));
		c->b->failed = true;
		bench_stop_all(c->b);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	int rv = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rv != 0) {
		conn_fail(c, QSG_RC_CONNECTION_BROKEN, uv_strerror(rv));
		return;
	}
	send_hello(c);
}

/* ---- run control ----------------------------------------------------------- */

static bool conn_idle_for_good(const struct conn *c)
{
	const struct bench *b = c->b;
	if (c->state != CS_RUNNING)
		return true;
	if (c->inflight > 0 || c->committing)
		return false;
	if (b->o.syncpoint > 0 && c->uow_ops > 0)
		return false;
	if (b->stopping || c->empty)
		return true;
	if (c->role == ROLE_PUT)
		return b->put_budget == 0;
	return b->get_budget == 0 || (b->o.mode == MODE_PUTGET && b->nputters > 0 && false);
}

static void bench_check_done(struct bench *b)
{
	if (b->pending_connects > 0)
		return;
	bool putters_done = true, all_done = true;
	for (unsigned i = 0; i < b->nconns; i++) {
		const struct conn *c = &b->conns[i];
		bool idle = conn_idle_for_good(c);
		if (c->role == ROLE_PUT && !idle)
			putters_done = false;
		if (!idle)
			all_done = false;
	}
	/* putget: when every put is done and answered, getters only need the
	 * messages those puts left; their budget is the number put. */
	if (b->o.mode == MODE_PUTGET && putters_done && b->put_budget == 0 &&
	    b->get_budget == UINT64_MAX)
		b->get_budget = 0;
	if (all_done)
		bench_stop_all(b);
}

static void on_grace(uv_timer_t *t)
{
	struct bench *b = t->data;
	fprintf(stderr, "qsgbench: answers still missing %d ms after the deadline; closing\n",
		BENCH_DRAIN_GRACE_MS);
	bench_stop_all(b);
}

static void on_deadline(uv_timer_t *t)
{
	struct bench *b = t->data;
	b->stopping = true;
	if (b->pacing) {
		uv_poll_stop(&b->pace_poll);
		b->pacing = false;
	}
	/* Let in-flight requests (and open uows) finish, then stop. */
	for (unsigned i = 0; i < b->nconns; i++)
		conn_pump(&b->conns[i]);
	uv_timer_start(&b->grace_timer, on_grace,
		       BENCH_DRAIN_GRACE_MS + (b->o.mode == MODE_PUTGET ? BENCH_GET_WAIT_MS : 0),
		       0);
	bench_check_done(b);
}

static void pace_arm(struct bench *b)
{
	uint64_t next = UINT64_MAX;
	for (unsigned i = 0; i < b->nconns; i++) {
		const struct conn *c = &b->conns[i];
		if (c->role != ROLE_PUT || !conn_may_issue(c))
			continue;
		uint64_t t = conn_next_sched(c);
		if (t < next)
			next = t;
	}
	if (next == UINT64_MAX)
		next = now_ns() + 1000000; /* windows full: look again in 1 ms */
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = (time_t)(next / 1000000000u);
	its.it_value.tv_nsec = (long)(next % 1000000000u);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(b->pace_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		fprintf(stderr, "qsgbench: timerfd_settime: %s\n", strerror(errno));
}

static void on_pace(uv_poll_t *p, int status, int events)
{
	struct bench *b = p->data;
	(void)events;
	if (status < 0 || b->stopping)
		return;
	uint64_t expirations;
	if (read(b->pace_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
		fprintf(stderr, "qsgbench: timerfd read: %s\n", strerror(errno));
	for (unsigned i = 0; i < b->nconns; i++)
		if (b->conns[i].role == ROLE_PUT)
			conn_pump(&b->conns[i]);
	bench_check_done(b);
	if (!b->stopping)
		pace_arm(b);
}

/* Called once every session is attached: start the clock and the load. */
void bench_arm(struct bench *b)
{
	if (b->t_end != 0) {
		uv_timer_stop(&b->deadline_timer);
		uv_timer_start(&b->deadline_timer, on_deadline, (b->t_end - b->t_start) / 1000000u,
			       0);
	}
	if (b->pace_ns > 0 && b->nputters > 0) {
		b->pacing = true;
		uv_poll_start(&b->pace_poll, UV_READABLE, on_pace);
		pace_arm(b);
	}
	for (unsigned i = 0; i < b->nconns; i++)
		conn_pump(&b->conns[i]);
	bench_check_done(b);
}
