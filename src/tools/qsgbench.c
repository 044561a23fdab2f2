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
#include "qsgbench_lib.h"
#include "qsgbench_opts.h"
#include "common/hostport.h"
#include "proto/proto.h"

#define BENCH_READ_CHUNK (64 * 1024)
#define BENCH_DRAIN_GRACE_MS 5000 /* after the deadline, for answers in flight */
#define BENCH_MAX_RC 64

enum conn_role { ROLE_PUT, ROLE_GET };
enum conn_state { CS_CONNECTING, CS_HELLO, CS_RUNNING, CS_DONE, CS_CLOSED };

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
	uint32_t gen; /* reqid = gen * nslots + slot index + 1 */
	struct slot *slots; /* inflight + 1 entries (room for a COMMIT) */
	unsigned *free_slots; /* stack of free slot indexes */
	unsigned nslots, nfree;
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
	enum conn_role paced_role; /* open loop: put, or get in get mode */
	unsigned npaced;
	unsigned pending_connects; /* connections not yet through HELLO */
	uint8_t *payload;
	/* --verify: puts stamp each body (u64 stamp, then a pattern derived
	 * from it) and carry the stamp in the CorrelId; gets check both and
	 * remember which stamps came back (seen, a bitmap). */
	uint64_t stamp;
	uint8_t *seen;
	size_t seen_bytes;
	uint64_t verified, corrupt, duplicates;
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
	uint64_t gets_inflight;
	bool stopping; /* no new requests */
	bool putters_done; /* every put connection has finished */
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
static void bench_arm(struct bench *b);

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
	/* HELLO and COMMIT in flight are not operations. */
	for (unsigned i = 0; i < c->nslots; i++)
		if (c->slots[i].reqid != 0 &&
		    (c->slots[i].op == PROTO_PUT || c->slots[i].op == PROTO_GET))
			c->b->unanswered++;
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

/* Reserve a slot and a reqid for a request sent at (or scheduled for) t.
 * The caller guarantees a free slot (inflight < nslots). */
static struct slot *slot_get(struct conn *c, uint8_t op, uint64_t t)
{
	unsigned i = c->free_slots[--c->nfree];
	struct slot *s = &c->slots[i];
	if ((uint64_t)(c->gen + 2) * c->nslots > UINT32_MAX)
		c->gen = 0;
	c->gen++;
	s->reqid = c->gen * c->nslots + i + 1;
	s->op = op;
	s->t_sched = t;
	c->inflight++;
	return s;
}

static void slot_put(struct conn *c, struct slot *s)
{
	s->reqid = 0;
	c->free_slots[c->nfree++] = (unsigned)(s - c->slots);
	c->inflight--;
}

/* The slot of a response's reqid, or NULL if no such request is in flight. */
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

static uint8_t stamp_byte(uint64_t stamp, size_t i)
{
	return (uint8_t)((stamp * 131u + i * 7u) >> 3);
}

static void stamp_body(struct bench *b, uint8_t *correlid)
{
	uint64_t st = ++b->stamp;
	memset(correlid, 0, FSM_ID_LEN);
	for (int i = 0; i < 8; i++)
		correlid[i] = b->payload[i] = (uint8_t)(st >> (8 * i));
	for (size_t i = 8; i < b->o.size; i++)
		b->payload[i] = stamp_byte(st, i);
}

/* A got message: its body must be the one its CorrelId names, whole, and
 * seen once. */
static void verify_got(struct bench *b, const struct fsm_msg *m)
{
	uint64_t st = 0;
	for (int i = 0; i < 8; i++)
		st |= (uint64_t)m->correlid[i] << (8 * i);
	bool ok = m->body.len == b->o.size && st != 0;
	for (size_t i = 0; ok && i < 8; i++)
		ok = m->body.p[i] == m->correlid[i];
	for (size_t i = 8; ok && i < m->body.len; i++)
		ok = m->body.p[i] == stamp_byte(st, i);
	if (!ok) {
		b->corrupt++;
		return;
	}
	size_t byte = st / 8;
	if (byte >= b->seen_bytes) {
		size_t n = b->seen_bytes ? b->seen_bytes : 4096;
		while (n <= byte)
			n *= 2;
		uint8_t *p = realloc(b->seen, n);
		if (p == NULL) {
			b->corrupt++; /* cannot tell: count it against the run */
			return;
		}
		memset(p + b->seen_bytes, 0, n - b->seen_bytes);
		b->seen = p;
		b->seen_bytes = n;
	}
	uint8_t bit = (uint8_t)(1u << (st % 8));
	if (b->seen[byte] & bit)
		b->duplicates++;
	b->seen[byte] |= bit;
	b->verified++;
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
		req.u.put.flags = FSM_F_GEN_MSGID | sp | (b->o.persistent ? FSM_F_PERSISTENT : 0);
		if (b->o.verify)
			stamp_body(b, req.u.put.msg.correlid);
		req.u.put.msg.body.p = b->payload;
		req.u.put.msg.body.len = b->o.size;
		req.u.put.msg.expiry_ms = (int64_t)b->o.expiry_ms;
		if (b->put_budget != UINT64_MAX)
			b->put_budget--;
	} else {
		struct slot *s = slot_get(c, PROTO_GET, t_sched);
		b->gets_inflight++;
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
	uint64_t i = c->issued * b->npaced + c->role_idx;
	return b->t_start + i * b->pace_ns;
}

static bool conn_may_issue(const struct conn *c)
{
	const struct bench *b = c->b;
	if (b->stopping || c->state != CS_RUNNING || c->committing || c->empty)
		return false;
	if (c->role == ROLE_PUT && b->put_budget == 0)
		return false;
	if (c->role == ROLE_GET && b->gets_inflight >= b->get_budget)
		return false; /* never ask for more messages than the limit */
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
	if (c->state != CS_RUNNING || b->pending_connects > 0)
		return; /* the run starts when every session is attached */
	bool open_loop = b->pace_ns > 0 && c->role == b->paced_role;
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
	}
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
	slot_put(c, s);
	if (op == PROTO_GET)
		b->gets_inflight--;
	if (op == PROTO_HELLO) {
		on_hello(c, r);
		return;
	}
	if (op == PROTO_COMMIT) {
		c->committing = false;
		if (r->rc == QSG_OK)
			b->commits++;
		else
			count_error(b, r->rc); /* the uow's ops did not happen */
		c->uow++;
		c->uow_ops = 0;
		return;
	}
	/* PUT or GET. A failed op leaves nothing in the uow. */
	if (r->rc != QSG_OK && b->o.syncpoint > 0 && c->uow_ops > 0)
		c->uow_ops--;
	if (r->rc == QSG_OK) {
		if (op == PROTO_PUT) {
			record(b, &b->put, t_sched, t_done, b->o.size);
		} else {
			if (b->get_budget != UINT64_MAX && b->get_budget > 0)
				b->get_budget--;
			record(b, &b->get, t_sched, t_done, r->u.get.msg.body.len);
			if (b->o.verify)
				verify_got(b, &r->u.get.msg);
		}
	} else if (op == PROTO_GET && r->rc == QSG_RC_NO_MSG_AVAILABLE) {
		b->empty_answers++;
		/* Get mode, or putget after the last put: the queue is drained
		 * and every getter stops. */
		if (b->o.mode == MODE_GET || b->putters_done)
			for (unsigned i = 0; i < b->nconns; i++)
				if (b->conns[i].role == ROLE_GET)
					b->conns[i].empty = true;
	} else {
		count_error(b, r->rc);
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
	return c->role == ROLE_PUT ? b->put_budget == 0 : b->get_budget == 0;
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
	/* putget: once the putters are through, a getter that finds the queue
	 * empty (after its wait) ends the run. */
	b->putters_done = putters_done;
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
		if (c->role != b->paced_role || !conn_may_issue(c))
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
		if (b->conns[i].role == b->paced_role)
			conn_pump(&b->conns[i]);
	bench_check_done(b);
	if (!b->stopping)
		pace_arm(b);
}

/* Called once every session is attached: start the clock and the load. */
static void bench_arm(struct bench *b)
{
	if (b->t_end != 0) {
		uv_timer_start(&b->deadline_timer, on_deadline, (b->t_end - b->t_start) / 1000000u,
			       0);
	}
	if (b->pace_ns > 0 && b->npaced > 0) {
		b->pacing = true;
		uv_poll_start(&b->pace_poll, UV_READABLE, on_pace);
		pace_arm(b);
	}
	for (unsigned i = 0; i < b->nconns; i++)
		conn_pump(&b->conns[i]);
	bench_check_done(b);
}

/* ---- setup ----------------------------------------------------------------- */

/* Resolve "host:port" (or "[v6]:port") into addr. */
static int resolve(const char *hp, struct sockaddr_storage *addr, char *errmsg)
{
	char h[256], port[8];
	int portnum;
	if (qsg_hostport_split(hp, strlen(hp), h, sizeof h, &portnum) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_INVALID, "%s: expected host:port or [host]:port",
				hp);
	snprintf(port, sizeof port, "%d", portnum);
	struct addrinfo hints, *res;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int gai = getaddrinfo(h, port, &hints, &res);
	if (gai != 0)
		return qsg_errf(errmsg, QSG_RC_INVALID, "%s: %s", hp, gai_strerror(gai));
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return QSG_OK;
}

/* Split the connection list; conn i goes to member i mod n. */
static int conns_init(struct bench *b, char *errmsg)
{
	char *list = strdup(b->o.conn);
	if (list == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	char *members[BENCH_MAX_CONNS];
	unsigned nmembers = 0;
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (nmembers == BENCH_MAX_CONNS)
			break;
		members[nmembers++] = t;
	}
	int rc = QSG_OK;
	if (nmembers == 0)
		rc = qsg_errf(errmsg, QSG_RC_INVALID, "empty connection list");
	b->conns = calloc(b->o.conns, sizeof *b->conns);
	if (rc == QSG_OK && b->conns == NULL)
		rc = qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	for (unsigned i = 0; rc == QSG_OK && i < b->o.conns; i++) {
		struct conn *c = &b->conns[i];
		c->b = b;
		c->idx = i;
		c->state = CS_CLOSED; /* until its handle is initialised */
		snprintf(c->addr_text, sizeof c->addr_text, "%s", members[i % nmembers]);
		rc = resolve(c->addr_text, &c->addr, errmsg);
		if (rc != QSG_OK)
			break;
		if (b->o.mode == MODE_PUT || (b->o.mode == MODE_PUTGET && i % 2 == 0)) {
			c->role = ROLE_PUT;
			c->role_idx = b->nputters++;
		} else {
			c->role = ROLE_GET;
			c->role_idx = b->ngetters++;
		}
		c->nslots = b->o.inflight + 1;
		c->slots = calloc(c->nslots, sizeof *c->slots);
		c->free_slots = calloc(c->nslots, sizeof *c->free_slots);
		if (c->slots == NULL || c->free_slots == NULL) {
			rc = qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
			break;
		}
		for (unsigned k = 0; k < c->nslots; k++)
			c->free_slots[k] = c->nslots - 1 - k;
		c->nfree = c->nslots;
		qsg_wbuf_init(&c->out);
		while (c->client_id == 0) {
			if (getrandom(&c->client_id, sizeof c->client_id, 0) !=
			    (ssize_t)sizeof c->client_id) {
				rc = qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR, "getrandom: %s",
					      strerror(errno));
				break;
			}
		}
	}
	b->nconns = b->conns != NULL ? b->o.conns : 0;
	free(list);
	return rc;
}

static int conns_start(struct bench *b, char *errmsg)
{
	for (unsigned i = 0; i < b->nconns; i++) {
		struct conn *c = &b->conns[i];
		int rv = uv_tcp_init(b->loop, &c->tcp);
		if (rv != 0)
			return qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR, "uv_tcp_init: %s",
					uv_strerror(rv));
		c->tcp.data = c;
		c->state = CS_CONNECTING;
		c->connect_req.data = c;
		b->pending_connects++;
		rv = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&c->addr,
				    on_connect);
		if (rv != 0) {
			conn_close(c);
			return qsg_errf(errmsg, QSG_RC_CONNECTION_BROKEN, "connect %s: %s",
					c->addr_text, uv_strerror(rv));
		}
	}
	return QSG_OK;
}

static void conns_free(struct bench *b)
{
	for (unsigned i = 0; i < b->nconns; i++) {
		struct conn *c = &b->conns[i];
		free(c->slots);
		free(c->free_slots);
		free(c->rbuf);
		qsg_wbuf_close(&c->out);
	}
	free(b->conns);
}

/* ---- report ---------------------------------------------------------------- */

static const char *mode_name(enum bench_mode m)
{
	return m == MODE_PUT ? "put" : m == MODE_GET ? "get" : "putget";
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void print_stats(const char *name, const struct op_stats *st, double secs)
{
	const struct bench_hist *h = &st->hist;
	printf("%s: %" PRIu64 " ok in %.3f s: %.1f msgs/s, %.2f MiB/s\n", name, st->ok, secs,
	       secs > 0 ? (double)st->ok / secs : 0.0,
	       secs > 0 ? (double)st->bytes / secs / (1024.0 * 1024.0) : 0.0);
	if (h->count == 0)
		return;
	printf("%s latency us: min %.1f mean %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
	       name, us(h->min), bench_hist_mean(h) / 1000.0, us(bench_hist_percentile(h, 50)),
	       us(bench_hist_percentile(h, 90)), us(bench_hist_percentile(h, 99)),
	       us(bench_hist_percentile(h, 99.9)), us(h->max));
}

static void report(const struct bench *b)
{
	double secs = b->t_last > b->t_measure ? (double)(b->t_last - b->t_measure) / 1e9 : 0.0;
	const struct bench_opts *o = &b->o;
	printf("qsgbench: mode=%s conns=%u (put %u, get %u) inflight=%u size=%zu persistent=%d "
	       "syncpoint=%u rate=%.0f queue=%s\n",
	       mode_name(o->mode), b->nconns, b->nputters, b->ngetters, o->inflight, o->size,
	       o->persistent, o->syncpoint, o->rate, o->queue);
	if (o->mode != MODE_GET)
		print_stats("put", &b->put, secs);
	if (o->mode != MODE_PUT)
		print_stats("get", &b->get, secs);
	if (o->syncpoint > 0)
		printf("commits: %" PRIu64 "\n", b->commits);
	if (b->unanswered > 0)
		printf("unanswered at close: %" PRIu64 "\n", b->unanswered);
	if (o->verify && o->mode != MODE_PUT)
		printf("VERIFY ok=%" PRIu64 " corrupt=%" PRIu64 " duplicate=%" PRIu64 "\n",
		       b->verified, b->corrupt, b->duplicates);
	printf("errors: %" PRIu64, b->errors_total);
	for (unsigned i = 0; i < b->nerrors; i++)
		printf(" %s=%" PRIu64, qsg_rc_name(b->errors[i].rc), b->errors[i].n);
	printf("\n");
	const struct op_stats *st = o->mode == MODE_GET ? &b->get : &b->put;
	const struct bench_hist *h = &st->hist;
	printf("RESULT mode=%s conns=%u inflight=%u size=%zu persistent=%d syncpoint=%u "
	       "ops=%" PRIu64 " secs=%.3f rate=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f "
	       "p999_us=%.0f errors=%" PRIu64 "\n",
	       mode_name(o->mode), b->nconns, o->inflight, o->size, o->persistent, o->syncpoint,
	       st->ok, secs, secs > 0 ? (double)st->ok / secs : 0.0,
	       us(bench_hist_percentile(h, 50)), us(bench_hist_percentile(h, 90)),
	       us(bench_hist_percentile(h, 99)), us(bench_hist_percentile(h, 99.9)),
	       b->errors_total);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct bench b;
	memset(&b, 0, sizeof b);
	b.pace_fd = -1;
	int rc = bench_parse_args(argc, argv, &b.o);
	if (rc != 0)
		return rc == 1 ? 0 : 2;
	if (b.o.lib) {
		struct bench_lib_opts lo = {
		    b.o.conn,	    b.o.conns,	   b.o.inflight,	 b.o.size,
		    b.o.persistent, b.o.syncpoint, b.o.mode == MODE_GET, b.o.messages,
		    b.o.seconds,    b.o.queue,	   b.o.expiry_ms};
		return bench_lib_run(&lo);
	}
	char errmsg[QSG_ERRMSG_SIZE];
	int status = 0;
	uv_loop_t loop;
	bench_hist_init(&b.put.hist);
	bench_hist_init(&b.get.hist);
	b.put_budget = b.o.messages ? b.o.messages : UINT64_MAX;
	b.get_budget = b.o.messages ? b.o.messages : UINT64_MAX;
	if (b.o.rate > 0) {
		b.pace_ns = (uint64_t)(1e9 / b.o.rate);
		if (b.pace_ns == 0)
			b.pace_ns = 1;
	}
	b.payload = malloc(b.o.size ? b.o.size : 1);
	if (b.payload == NULL) {
		fprintf(stderr, "qsgbench: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < b.o.size; i++)
		b.payload[i] = (uint8_t)('a' + i % 26);
	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "qsgbench: uv_loop_init failed\n");
		free(b.payload);
		return 1;
	}
	b.loop = &loop;
	uv_timer_init(&loop, &b.deadline_timer);
	uv_timer_init(&loop, &b.grace_timer);
	b.deadline_timer.data = &b;
	b.grace_timer.data = &b;
	bool have_poll = false;
	rc = conns_init(&b, errmsg);
	b.paced_role = b.o.mode == MODE_GET ? ROLE_GET : ROLE_PUT;
	b.npaced = b.paced_role == ROLE_PUT ? b.nputters : b.ngetters;
	if (rc == QSG_OK && b.pace_ns > 0) {
		b.pace_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (b.pace_fd < 0) {
			rc = qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR, "timerfd_create: %s",
				      strerror(errno));
		} else if (uv_poll_init(&loop, &b.pace_poll, b.pace_fd) != 0) {
			rc = qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR, "uv_poll_init failed");
		} else {
			b.pace_poll.data = &b;
			have_poll = true;
		}
	}
	if (rc == QSG_OK)
		rc = conns_start(&b, errmsg);
	if (rc != QSG_OK) {
		fprintf(stderr, "qsgbench: %s: %s\n", qsg_rc_name(rc), errmsg);
		bench_stop_all(&b);
		status = 1;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (status == 0) {
		if (b.pending_connects > 0 || b.t_start == 0) {
			status = 1; /* could not connect or attach (reported) */
		} else {
			report(&b);
			if (b.failed || (b.put.ok + b.get.ok == 0 && b.errors_total > 0))
				status = 1;
			if (b.o.verify && (b.corrupt > 0 || b.duplicates > 0))
				status = 1;
		}
	}
	uv_close((uv_handle_t *)&b.deadline_timer, NULL);
	uv_close((uv_handle_t *)&b.grace_timer, NULL);
	if (have_poll)
		uv_close((uv_handle_t *)&b.pace_poll, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		fprintf(stderr, "qsgbench: handles left open at exit\n");
	if (b.pace_fd >= 0)
		close(b.pace_fd);
	conns_free(&b);
	free(b.payload);
	free(b.seen);
	return status;
}
