/* Unit tests for libqsg's asynchronous put and consume (src/libqsg/async.c)
 * against an in-process fake member: a thread that answers pipelined
 * requests in order, keeps a session's put_seq/uows_done and one queue like
 * the state machine, and can hold replies, drop the connection after the
 * n-th put or get (applying it, answering nothing more) and refuse new
 * connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libqsg/qsg.h"
#include "proto/proto.h"

#define QMAX 4096

struct fmsg {
	uint32_t id;
	uint32_t backouts;
};

struct fake {
	pthread_mutex_t mu;
	pthread_t thread;
	int lfd, port;
	bool stop;
	/* script */
	bool hold; /* hold replies until no request came for 100 ms */
	unsigned drop_after_put; /* drop after applying the n-th put (1-based), 0 = no */
	unsigned drop_after_get;
	bool refuse; /* close new connections at once */
	unsigned maxdepth;
	/* state */
	uint64_t epoch, put_seq, uows_done;
	struct fmsg q[QMAX];
	unsigned depth;
	struct fmsg uow_gets[QMAX];
	unsigned nuow_gets;
	uint32_t uow_puts[QMAX];
	unsigned nuow_puts;
	/* observations */
	unsigned hellos, puts, gets, commits, max_outstanding;
	uint32_t applied[QMAX]; /* put bodies' numbers, in apply order */
	unsigned napplied;
};

static void enc(struct qsg_wbuf *w, struct proto_resp *r)
{
	if (proto_resp_encode(r, w) != QSG_OK)
		abort();
}

static void send_buf(int fd, struct qsg_wbuf *w)
{
	size_t off = 0;
	while (off < w->len) {
		ssize_t k = send(fd, w->data + off, w->len - off, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	qsg_wbuf_reset(w);
}

static void backout(struct fake *f)
{
	/* Locked messages return to their place (ids ascending), count + 1. */
	for (unsigned i = 0; i < f->nuow_gets; i++) {
		struct fmsg m = f->uow_gets[i];
		m.backouts++;
		unsigned at = 0;
		while (at < f->depth && f->q[at].id < m.id)
			at++;
		memmove(&f->q[at + 1], &f->q[at], (f->depth - at) * sizeof f->q[0]);
		f->q[at] = m;
		f->depth++;
	}
	f->nuow_gets = 0;
	f->nuow_puts = 0;
}

static uint32_t body_num(const struct qsg_slice *b)
{
	char t[16] = "";
	snprintf(t, sizeof t, "%.*s", (int)(b->len < 15 ? b->len : 15), (const char *)b->p);
	return (uint32_t)strtoul(t + (t[0] == 'm'), NULL, 10);
}

/* Handle one request into w; false: drop the connection (nothing more is
 * answered). */
static bool handle(struct fake *f, const struct proto_req *q, struct qsg_wbuf *w)
{
	struct proto_resp r = {.op = q->op, .reqid = q->reqid};
	char body[32];
	bool drop = false;
	switch (q->op) {
	case PROTO_HELLO:
		f->hellos++;
		backout(f);
		r.u.hello.epoch = ++f->epoch;
		r.u.hello.put_seq = f->put_seq;
		r.u.hello.uows_done = f->uows_done;
		r.u.hello.member_id = 1;
		r.u.hello.qmgr = (struct qsg_slice){(const uint8_t *)"QM1", 3};
		break;
	case PROTO_PUT:
		f->puts++;
		if (q->u.put.seq <= f->put_seq) {
			r.u.put.duplicate = 1;
		} else if (q->u.put.seq > f->put_seq + 1) {
			r.rc = QSG_RC_SEQUENCE_GAP;
		} else {
			f->put_seq = q->u.put.seq;
			uint32_t n = body_num(&q->u.put.msg.body);
			if (f->depth + f->nuow_puts >= f->maxdepth) {
				r.rc = QSG_RC_Q_FULL;
			} else if (q->u.put.flags & FSM_F_SYNCPOINT) {
				f->uow_puts[f->nuow_puts++] = n;
			} else {
				f->q[f->depth++] = (struct fmsg){n, 0};
				f->applied[f->napplied++] = n;
			}
			r.u.put.msgid[0] = (uint8_t)q->u.put.seq;
			r.u.put.msgid[1] = (uint8_t)(q->u.put.seq >> 8);
			if (f->drop_after_put > 0 && --f->drop_after_put == 0)
				drop = true;
		}
		break;
	case PROTO_GET:
	case PROTO_GETX:
		f->gets++;
		if (f->depth == 0) {
			r.rc = QSG_RC_NO_MSG_AVAILABLE;
			break;
		}
		struct fmsg m = f->q[0];
		memmove(&f->q[0], &f->q[1], (f->depth - 1) * sizeof f->q[0]);
		f->depth--;
		if (q->u.get.flags & FSM_F_SYNCPOINT)
			f->uow_gets[f->nuow_gets++] = m;
		snprintf(body, sizeof body, "m%u", m.id);
		r.u.get.msg.msgid[0] = (uint8_t)m.id;
		r.u.get.msg.msgid[1] = (uint8_t)(m.id >> 8);
		r.u.get.msg.backout_count = m.backouts;
		r.u.get.msg.seqno = m.id;
		r.u.get.msg.body = (struct qsg_slice){(const uint8_t *)body, strlen(body)};
		if (f->drop_after_get > 0 && --f->drop_after_get == 0)
			drop = true;
		break;
	case PROTO_COMMIT:
		f->commits++;
		if (q->u.commit.uow == f->uows_done + 1) {
			f->uows_done++;
			for (unsigned i = 0; i < f->nuow_puts; i++) {
				f->q[f->depth++] = (struct fmsg){f->uow_puts[i], 0};
				f->applied[f->napplied++] = f->uow_puts[i];
			}
			f->nuow_puts = 0;
			f->nuow_gets = 0;
		} else if (q->u.commit.uow > f->uows_done + 1) {
			r.rc = QSG_RC_INVALID;
		}
		break;
	case PROTO_BACKOUT:
		backout(f);
		break;
	default:
		r.rc = QSG_RC_UNKNOWN_OP;
		break;
	}
	if (drop)
		return false;
	if (r.rc != QSG_OK)
		memset(&r.u, 0, sizeof r.u);
	enc(w, &r);
	return true;
}

static void serve(struct fake *f, int fd)
{
	size_t cap = 1 << 20, len = 0;
	uint8_t *buf = malloc(cap);
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	unsigned held = 0;
	if (buf == NULL)
		abort();
	for (;;) {
		size_t flen;
		if (proto_frame_check(buf, len, &flen) != QSG_OK)
			break;
		if (flen == 0) {
			pthread_mutex_lock(&f->mu);
			bool hold = f->hold, stop = f->stop;
			pthread_mutex_unlock(&f->mu);
			if (stop)
				break;
			if (!hold || held == 0) {
				send_buf(fd, &w);
				held = 0;
			}
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, hold ? 100 : 50) == 0) {
				send_buf(fd, &w); /* quiet for 100 ms: release */
				held = 0;
				continue;
			}
			ssize_t k = recv(fd, buf + len, cap - len, 0);
			if (k <= 0)
				break;
			len += (size_t)k;
			continue;
		}
		struct proto_req q;
		char msg[QSG_ERRMSG_SIZE];
		bool keep = false;
		if (proto_req_decode(buf, flen, &q, msg) == QSG_OK) {
			pthread_mutex_lock(&f->mu);
			keep = handle(f, &q, &w);
			if (f->hold && q.op == PROTO_PUT) {
				held++;
				if (held > f->max_outstanding)
					f->max_outstanding = held;
			}
			pthread_mutex_unlock(&f->mu);
		}
		if (!keep) {
			send_buf(fd, &w); /* the replies before the one lost */
			break;
		}
		memmove(buf, buf + flen, len - flen);
		len -= flen;
	}
	pthread_mutex_lock(&f->mu);
	backout(f); /* like DETACH */
	pthread_mutex_unlock(&f->mu);
	close(fd);
	qsg_wbuf_close(&w);
	free(buf);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		pthread_mutex_lock(&f->mu);
		bool stop = f->stop;
		pthread_mutex_unlock(&f->mu);
		if (stop)
			break;
		struct pollfd p = {.fd = f->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) != 1)
			continue;
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&f->mu);
		bool refuse = f->refuse;
		pthread_mutex_unlock(&f->mu);
		if (refuse)
			close(fd);
		else
			serve(f, fd);
	}
	return NULL;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof *f);
	assert_non_null(f);
	pthread_mutex_init(&f->mu, NULL);
	f->maxdepth = QMAX - 1;
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	socklen_t sl = sizeof a;
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &sl), 0);
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return 0;
}

#define LOCKED(f, stmt)                                                                            \
	do {                                                                                       \
		pthread_mutex_lock(&(f)->mu);                                                      \
		stmt;                                                                              \
		pthread_mutex_unlock(&(f)->mu);                                                    \
	} while (0)

static qsg_conn *connect_fake(struct fake *f, int reconnect_ms)
{
	char list[64], err[QSG_ERRMSG_SIZE];
	qsg_conn *c;
	snprintf(list, sizeof list, "127.0.0.1:%d", f->port);
	assert_int_equal(qsg_connect(list, "test", &c, err), QSG_OK);
	assert_int_equal(qsg_set_reconnect_timeout(c, reconnect_ms), QSG_OK);
	return c;
}

/* Put outcomes as the callback saw them. */
struct outcomes {
	unsigned n;
	uintptr_t ctx[QMAX];
	int rc[QMAX];
	uint8_t msgid0[QMAX];
};

static void on_put(void *arg, void *ctx, int rc, const struct qsg_md *md)
{
	struct outcomes *o = arg;
	o->ctx[o->n] = (uintptr_t)ctx;
	o->rc[o->n] = rc;
	o->msgid0[o->n] = md->msgid[0];
	o->n++;
}

static void put_n(qsg_conn *c, unsigned from, unsigned n, int options)
{
	for (unsigned i = from; i < from + n; i++) {
		char b[16];
		struct qsg_md md = QSG_MD_DEFAULT;
		md.priority = 0;
		snprintf(b, sizeof b, "m%u", i);
		assert_int_equal(
		    qsg_put_async(c, "Q", &md, b, strlen(b), options, (void *)(uintptr_t)i),
		    QSG_OK);
	}
}

/* At most `window` puts are unanswered; callbacks come in put order. */
static void window_limit(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f, 2000);
	static struct outcomes o;
	memset(&o, 0, sizeof o);
	assert_int_equal(qsg_set_put_async(c, 4, on_put, &o), QSG_OK);
	LOCKED(f, f->hold = true);
	put_n(c, 1, 20, 0);
	assert_int_equal(qsg_flush(c), QSG_OK);
	LOCKED(f, f->hold = false);
	assert_int_equal(o.n, 20);
	for (unsigned i = 0; i < 20; i++) {
		assert_int_equal(o.ctx[i], i + 1);
		assert_int_equal(o.rc[i], QSG_OK);
		assert_int_equal(o.msgid0[i], i + 1); /* the reply's msgid (seq) */
	}
	unsigned mo;
	LOCKED(f, mo = f->max_outstanding);
	assert_int_equal(mo, 4);
	struct qsg_stat st;
	assert_int_equal(qsg_stat(c, &st), QSG_OK);
	assert_int_equal(st.puts_ok, 20);
	assert_int_equal(st.puts_in_flight, 0);
	assert_int_equal(qsg_set_put_async(c, 1001, NULL, NULL), QSG_RC_INVALID);
	qsg_disconnect(c);
}

/* The connection drops after the 10th put is applied (the ones pipelined
 * behind it are lost): the window is re-sent, every put applied once, in
 * order. */
static void resend_no_duplicates(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f, 5000);
	static struct outcomes o;
	memset(&o, 0, sizeof o);
	assert_int_equal(qsg_set_put_async(c, 16, on_put, &o), QSG_OK);
	LOCKED(f, f->drop_after_put = 10);
	put_n(c, 1, 50, 0);
	assert_int_equal(qsg_flush(c), QSG_OK);
	assert_int_equal(o.n, 50);
	for (unsigned i = 0; i < 50; i++) {
		assert_int_equal(o.ctx[i], i + 1);
		assert_int_equal(o.rc[i], QSG_OK);
	}
	assert_int_equal(o.msgid0[9], 0); /* applied, reply lost: no msgid */
	pthread_mutex_lock(&f->mu);
	unsigned napplied = f->napplied, hellos = f->hellos;
	uint32_t applied[64];
	memcpy(applied, f->applied, sizeof applied);
	uint64_t put_seq = f->put_seq;
	pthread_mutex_unlock(&f->mu);
	assert_int_equal(hellos, 2);
	assert_int_equal(napplied, 50);
	assert_int_equal(put_seq, 50);
	for (unsigned i = 0; i < 50; i++)
		assert_int_equal(applied[i], i + 1);
	qsg_disconnect(c);
}

/* Dropped, and no member to reconnect to: the puts sent are outcome
 * unknown, the answered ones OK, in order. */
static void outcome_unknown(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f, 300);
	static struct outcomes o;
	memset(&o, 0, sizeof o);
	assert_int_equal(qsg_set_put_async(c, 8, on_put, &o), QSG_OK);
	LOCKED(f, f->drop_after_put = 3; f->refuse = true);
	put_n(c, 1, 8, 0);
	assert_int_equal(qsg_flush(c), QSG_RC_OUTCOME_UNKNOWN);
	assert_int_equal(o.n, 8);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(o.ctx[i], i + 1);
		/* Sent: unknown. A put made after libqsg saw the connection
		 * die (a race with the fake) was never sent: not available. */
		if (i < 3)
			assert_int_equal(o.rc[i], i < 2 ? QSG_OK : QSG_RC_OUTCOME_UNKNOWN);
		else
			assert_true(o.rc[i] == QSG_RC_OUTCOME_UNKNOWN ||
				    o.rc[i] == QSG_RC_Q_MGR_NOT_AVAILABLE);
	}
	struct qsg_stat st;
	assert_int_equal(qsg_stat(c, &st), QSG_OK);
	assert_int_equal(st.puts_ok, 2);
	assert_int_equal(st.puts_unknown + st.puts_failed, 6);
	assert_true(st.puts_unknown >= 1);
	assert_int_equal(st.first_rc, QSG_RC_OUTCOME_UNKNOWN);
	assert_int_equal((uintptr_t)st.first_ctx, 3);
	qsg_disconnect(c);
}

/* Syncpoint puts may be asynchronous: commit waits for them; one failure
 * backs the whole unit out. */
static void syncpoint_commit(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f, 2000);
	static struct outcomes o;
	memset(&o, 0, sizeof o);
	assert_int_equal(qsg_set_put_async(c, 8, on_put, &o), QSG_OK);
	put_n(c, 1, 5, QSG_PMO_SYNCPOINT);
	assert_int_equal(qsg_commit(c), QSG_OK);
	assert_int_equal(o.n, 5);
	unsigned depth;
	LOCKED(f, depth = f->depth);
	assert_int_equal(depth, 5);
	LOCKED(f, f->maxdepth = 7);
	put_n(c, 6, 5, QSG_PMO_SYNCPOINT); /* the 8th is Q_FULL */
	assert_int_equal(qsg_commit(c), QSG_RC_BACKED_OUT);
	LOCKED(f, depth = f->depth);
	assert_int_equal(depth, 5);
	assert_int_equal(o.rc[7], QSG_RC_Q_FULL);
	/* Lost with the connection: BACKED_OUT, and the commit too. */
	LOCKED(f, f->maxdepth = QMAX - 1; f->drop_after_put = 2);
	put_n(c, 11, 3, QSG_PMO_SYNCPOINT);
	assert_int_equal(qsg_commit(c), QSG_RC_BACKED_OUT);
	LOCKED(f, depth = f->depth);
	assert_int_equal(depth, 5);
	put_n(c, 14, 2, QSG_PMO_SYNCPOINT);
	assert_int_equal(qsg_commit(c), QSG_OK);
	LOCKED(f, depth = f->depth);
	assert_int_equal(depth, 7);
	qsg_disconnect(c);
}

static unsigned fake_puts_after(struct fake *f, int ms)
{
	usleep((useconds_t)ms * 1000);
	unsigned n;
	LOCKED(f, n = f->puts);
	return n;
}

/* Coalescing (docs/client.md): a put with nothing on the wire is written
 * before qsg_put_async returns; puts held back while the caller streams
 * are written by qsg_fd (an event loop polls after asking for it) and by
 * qsg_flush. */
static void coalesce_never_stuck(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f, 2000);
	static struct outcomes o;
	memset(&o, 0, sizeof o);
	assert_int_equal(qsg_set_put_async(c, 4, on_put, &o), QSG_OK);
	put_n(c, 1, 1, 0);
	assert_int_equal(fake_puts_after(f, 200), 1); /* no libqsg call meanwhile */
	assert_int_equal(qsg_flush(c), QSG_OK);
	/* 2..5 fill the window (written when full); 6 waits for room, then
	 * is held back: the caller is streaming. */
	LOCKED(f, f->hold = true);
	put_n(c, 2, 5, 0);
	assert_int_equal(fake_puts_after(f, 300), 5);
	assert_true(qsg_fd(c) >= 0);
	assert_int_equal(fake_puts_after(f, 200), 6);
	LOCKED(f, f->hold = false);
	assert_int_equal(qsg_flush(c), QSG_OK);
	assert_int_equal(o.n, 6);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(o.rc[i], QSG_OK);
	qsg_disconnect(c);
}

/* Deliveries as the consumer callback saw them. */
struct seen {
	unsigned n, ends, nomsg, errors;
	uint32_t id[QMAX];
	uint32_t backouts[QMAX];
	bool commit_at_end;
	int commit_rc;
};

static void on_msg(void *arg, qsg_conn *c, int event, int rc, const struct qsg_md *md,
		   const void *body, size_t len)
{
	struct seen *s = arg;
	char t[16];
	switch (event) {
	case QSG_CB_MSG:
		snprintf(t, sizeof t, "%.*s", (int)len, (const char *)body);
		s->id[s->n] = (uint32_t)strtoul(t + 1, NULL, 10);
		s->backouts[s->n] = md->backout_count;
		s->n++;
		break;
	case QSG_CB_BATCH_END:
		s->ends++;
		if (s->commit_at_end)
			s->commit_rc = rc == QSG_OK ? qsg_commit(c) : qsg_backout(c);
		break;
	case QSG_CB_NO_MSG:
		s->nomsg++;
		qsg_consume_stop(c);
		break;
	case QSG_CB_ERROR:
		s->errors++;
		break;
	}
}

static void fill(struct fake *f, unsigned n)
{
	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; i < n; i++)
		f->q[f->depth++] = (struct fmsg){i + 1, 0};
	pthread_mutex_unlock(&f->mu);
}

/* Messages come to the callback in queue order; batches are committed. */
static void consume_order(void **state)
{
	struct fake *f = *state;
	fill(f, 100);
	qsg_conn *c = connect_fake(f, 2000);
	static struct seen s;
	memset(&s, 0, sizeof s);
	struct qsg_consume_opts co = {.read_ahead = 16, .wait_ms = 0};
	assert_int_equal(qsg_consume(c, "Q", &co, on_msg, &s), QSG_OK);
	assert_int_equal(qsg_consume(c, "Q", &co, on_msg, &s), QSG_RC_OBJECT_IN_USE);
	assert_int_equal(qsg_put(c, "Q", NULL, "x", 1, QSG_PMO_SYNCPOINT), QSG_RC_OPTIONS_ERROR);
	assert_int_equal(qsg_dispatch(c, -1), QSG_OK);
	assert_int_equal(s.n, 100);
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(s.id[i], i + 1);
		assert_int_equal(s.backouts[i], 0);
	}
	assert_int_equal(s.nomsg, 1);
	unsigned depth, commits, uow;
	LOCKED(f, depth = f->depth; commits = f->commits; uow = f->nuow_gets);
	assert_int_equal(depth, 0);
	assert_int_equal(uow, 0);
	assert_int_equal(commits, 7); /* 6 full batches of 16, then 4 */
	qsg_disconnect(c);
}

/* The connection drops after the 5th GET is applied: the message read
 * ahead and not delivered comes back (backout count 1), nothing is lost,
 * and a message is seen twice only if the callback had it before the
 * batch's commit (then with a higher backout count). */
static void readahead_returned(void **state)
{
	struct fake *f = *state;
	fill(f, 40);
	qsg_conn *c = connect_fake(f, 5000);
	static struct seen s;
	memset(&s, 0, sizeof s);
	LOCKED(f, f->drop_after_get = 5);
	struct qsg_consume_opts co = {.read_ahead = 16, .wait_ms = 0};
	assert_int_equal(qsg_consume(c, "Q", &co, on_msg, &s), QSG_OK);
	assert_int_equal(qsg_dispatch(c, -1), QSG_OK);
	unsigned count[41] = {0};
	for (unsigned i = 0; i < s.n; i++) {
		assert_true(s.id[i] >= 1 && s.id[i] <= 40);
		if (count[s.id[i]]++ > 0)
			assert_true(s.backouts[i] > 0);
	}
	for (unsigned i = 1; i <= 40; i++)
		assert_true(count[i] >= 1);
	/* The 5th was applied and never delivered before the drop. */
	assert_int_equal(count[5], 1);
	for (unsigned i = 0; i < s.n; i++)
		if (s.id[i] == 5)
			assert_int_equal(s.backouts[i], 1);
	unsigned depth, hellos;
	LOCKED(f, depth = f->depth; hellos = f->hellos);
	assert_int_equal(depth, 0);
	assert_int_equal(hellos, 2);
	qsg_disconnect(c);
}

/* Syncpoint consumer: BATCH_END after each batch, no GET until the commit,
 * max_msgs respected. */
static void consume_syncpoint(void **state)
{
	struct fake *f = *state;
	fill(f, 30);
	qsg_conn *c = connect_fake(f, 2000);
	static struct seen s;
	memset(&s, 0, sizeof s);
	s.commit_at_end = true;
	struct qsg_consume_opts co = {
	    .options = QSG_GMO_SYNCPOINT, .read_ahead = 8, .wait_ms = 0, .max_msgs = 20};
	assert_int_equal(qsg_consume(c, "Q", &co, on_msg, &s), QSG_OK);
	assert_int_equal(qsg_dispatch(c, -1), QSG_OK);
	assert_int_equal(s.n, 20);
	assert_int_equal(s.ends, 3); /* 8 + 8 + 4 */
	assert_int_equal(s.commit_rc, QSG_OK);
	unsigned depth, gets;
	LOCKED(f, depth = f->depth; gets = f->gets);
	assert_int_equal(depth, 10);
	assert_int_equal(gets, 20); /* never more than the batch */
	qsg_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(window_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(resend_no_duplicates, setup, teardown),
	    cmocka_unit_test_setup_teardown(outcome_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(syncpoint_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(coalesce_never_stuck, setup, teardown),
	    cmocka_unit_test_setup_teardown(consume_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(readahead_returned, setup, teardown),
	    cmocka_unit_test_setup_teardown(consume_syncpoint, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
