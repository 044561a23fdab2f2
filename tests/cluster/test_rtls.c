/* TLS on Raft traffic: the transport of raft-glue/rtls.c driven as libraft
 * drives it (listen, connect, the streams it hands over), on one loop over
 * loopback. Certificates from scripts/tls-certs (top_srcdir, as make check
 * sets it) in temporary directories:
 *   - connect and accept: the accepted side learns the connecting id and
 *     address from the preamble; bytes flow both ways; closing one stream
 *     ends the other;
 *   - a burst of 8 MiB into a receiver that does not read for a while:
 *     the relays pause reading (back-pressure) and every byte arrives in
 *     order;
 *   - refused, and never handed to libraft: a certificate whose CN is not
 *     the member of the preamble's id, a peer without a certificate, a
 *     certificate of another CA, plaintext; and on the connecting side, a
 *     server whose certificate does not name the member it should be;
 *   - closing the transport answers a connect still in its handshake with
 *     RAFT_CANCELED; a transport with nothing open calls back too;
 *   - 64 idle connections (the cap of those in their handshake) do not
 *     keep a member out: the oldest is closed for it. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "raft-glue/rtls.h"
#include "src/tls/tls.h"

#define BASE_PORT 47850
#define BURST (8u * 1024 * 1024)

static char dir[256], other[256];
static uv_loop_t loop;

static void run(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fail_msg("'%s' exited %d", cmd, rc);
}

/* The member list of the test group: 1 = QM1, 2 = QM2. */
static bool member_name(void *arg, uint64_t id, char *name, size_t size)
{
	(void)arg;
	if (id != 1 && id != 2)
		return false;
	snprintf(name, size, "QM%u", (unsigned)id);
	return true;
}

static char last_refusal[512];
struct side;
static void side_said(struct side *s, const char *text);
static void refused(void *arg, const char *text)
{
	snprintf(last_refusal, sizeof last_refusal, "%s", text);
	if (arg != NULL)
		side_said(arg, text);
}

/* One end as libraft sees it. */
struct side {
	struct raft_uv_transport t;
	char address[64];
	int accepted;
	raft_id accepted_id;
	char accepted_address[64];
	uv_stream_t *stream; /* the last one handed over */
	/* reads on `stream` */
	unsigned char *got;
	size_t got_len, got_cap;
	bool eof;
	bool closed;
	char said[512]; /* the last line its transport logged */
};

static void side_said(struct side *s, const char *text)
{
	snprintf(s->said, sizeof s->said, "%s", text);
}

static void accept_cb(struct raft_uv_transport *t, raft_id id, const char *address,
		      uv_stream_t *stream)
{
	struct side *s = (struct side *)t;
	s->accepted++;
	s->accepted_id = id;
	snprintf(s->accepted_address, sizeof s->accepted_address, "%s", address);
	s->stream = stream;
	stream->data = s;
}

/* Key and certificate from d, the CA from cad. */
static void side_init_ca(struct side *s, raft_id id, int port, const char *d, const char *name,
			 const char *cad)
{
	char key[512], crt[512], ca[512], e[QSG_ERRMSG_SIZE];
	memset(s, 0, sizeof *s);
	snprintf(key, sizeof key, "%s/%s.key", d, name);
	snprintf(crt, sizeof crt, "%s/%s.crt", d, name);
	snprintf(ca, sizeof ca, "%s/ca.crt", cad);
	struct glue_tls cfg = {.key_file = key,
			       .cert_file = crt,
			       .ca_file = ca,
			       .handshake_ms = 5000,
			       .member_name = member_name,
			       .refused = refused,
			       .arg = s};
	snprintf(s->address, sizeof s->address, "127.0.0.1:%d", port);
	assert_int_equal(rtls_init(&s->t, &loop, &cfg, e), QSG_OK);
	assert_int_equal(s->t.init(&s->t, id, s->address), 0);
}

static void side_init(struct side *s, raft_id id, int port, const char *d, const char *name)
{
	side_init_ca(s, id, port, d, name, d);
}

static void side_listen(struct side *s)
{
	assert_int_equal(s->t.listen(&s->t, accept_cb), 0);
}

static void closed_cb(struct raft_uv_transport *t)
{
	((struct side *)t)->closed = true;
}

static bool until_flag;
static void guard_cb(uv_timer_t *t)
{
	(void)t;
	until_flag = true;
}

/* Run the loop until cond(arg) holds; fails after 15 s (a liveness bound,
 * not a measurement). */
static void run_until(bool (*cond)(void *), void *arg)
{
	uv_timer_t guard;
	uv_timer_init(&loop, &guard);
	until_flag = false;
	uv_timer_start(&guard, guard_cb, 15000, 0);
	while (!cond(arg) && !until_flag)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	if (!cond(arg))
		fail_msg("condition not reached within 15 s");
}

static bool is_closed(void *arg)
{
	return ((struct side *)arg)->closed;
}

static void side_close(struct side *s)
{
	s->t.close(&s->t, closed_cb);
	run_until(is_closed, s);
	rtls_free(&s->t);
	free(s->got);
}

/* The connect request, as libraft's client. */
struct creq {
	struct raft_uv_connect req;
	bool done;
	int status;
	uv_stream_t *stream;
};

static void connect_cb(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
	struct creq *c = (struct creq *)req;
	c->done = true;
	c->status = status;
	c->stream = stream;
}

static bool creq_done(void *arg)
{
	return ((struct creq *)arg)->done;
}

static void side_connect(struct side *s, struct creq *c, raft_id id, const char *address)
{
	memset(c, 0, sizeof *c);
	assert_int_equal(s->t.connect(&s->t, &c->req, id, address, connect_cb), 0);
	run_until(creq_done, c);
}

/* Reading a handed-over stream. */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct side *s = h->data;
	(void)suggested;
	if (s->got_cap - s->got_len < 65536) {
		s->got_cap = s->got_cap * 2 + 65536;
		s->got = realloc(s->got, s->got_cap);
		assert_non_null(s->got);
	}
	*buf = uv_buf_init((char *)s->got + s->got_len, 65536);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct side *s = st->data;
	(void)buf;
	if (nread < 0)
		s->eof = true;
	else
		s->got_len += (size_t)nread;
}

static void start_reading(struct side *s, uv_stream_t *st)
{
	st->data = s;
	assert_int_equal(uv_read_start(st, alloc_cb, read_cb), 0);
}

static size_t want_len;
static bool got_enough(void *arg)
{
	return ((struct side *)arg)->got_len >= want_len;
}
static bool got_eof(void *arg)
{
	return ((struct side *)arg)->eof;
}

static void write_done(uv_write_t *w, int status)
{
	assert_int_equal(status, 0);
	free(w);
}

static void write_bytes(uv_stream_t *st, const void *p, size_t n)
{
	uv_write_t *w = malloc(sizeof *w);
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
	assert_int_equal(uv_write(w, st, &b, 1, write_done), 0);
}

static void stream_closed(uv_handle_t *h)
{
	raft_free(h); /* as libraft does */
}

/* ---- tests ---- */

static bool accepted_one(void *arg)
{
	return ((struct side *)arg)->accepted > 0;
}

/* QM1 (a) connected to a listening QM2 (b), and b has accepted it. */
static void pair_up(struct side *a, struct side *b, struct creq *c)
{
	side_init(a, 1, BASE_PORT + 1, dir, "QM1");
	side_init(b, 2, BASE_PORT + 2, dir, "QM2");
	side_listen(b);
	side_connect(a, c, 2, b->address);
	assert_int_equal(c->status, 0);
	run_until(accepted_one, b);
}

static void test_connect_bytes_close(void **state)
{
	(void)state;
	struct side a, b;
	struct creq c;
	side_init(&a, 1, BASE_PORT + 1, dir, "QM1");
	side_init(&b, 2, BASE_PORT + 2, dir, "QM2");
	side_listen(&a);
	side_listen(&b);

	side_connect(&a, &c, 2, b.address);
	assert_int_equal(c.status, 0);
	assert_non_null(c.stream);
	run_until(accepted_one, &b);
	assert_int_equal(b.accepted, 1);
	assert_int_equal(b.accepted_id, 1);
	assert_string_equal(b.accepted_address, a.address);

	/* a -> b */
	static const char hello[] = "AppendEntries, say";
	start_reading(&b, b.stream);
	write_bytes(c.stream, hello, sizeof hello);
	want_len = sizeof hello;
	run_until(got_enough, &b);
	assert_int_equal(b.got_len, sizeof hello);
	assert_memory_equal(b.got, hello, sizeof hello);
	/* b -> a (libraft does not answer on a connection, but the relay
	 * carries both ways) */
	static const char back[] = "and back";
	start_reading(&a, c.stream);
	write_bytes(b.stream, back, sizeof back);
	want_len = sizeof back;
	run_until(got_enough, &a);
	assert_memory_equal(a.got, back, sizeof back);

	/* libraft closes the connecting stream: the accepted one ends. */
	uv_close((uv_handle_t *)c.stream, stream_closed);
	run_until(got_eof, &b);
	uv_close((uv_handle_t *)b.stream, stream_closed);

	struct rtls_stats st;
	rtls_get_stats(&a.t, &st);
	assert_int_equal(st.connected, 1);
	assert_int_equal(st.refused, 0);
	rtls_get_stats(&b.t, &st);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.refused, 0);
	side_close(&a);
	side_close(&b);
}

/* 8 MiB while the receiver does not read: both relays stop reading their
 * source (pauses), nothing is lost or reordered. */
static void test_burst(void **state)
{
	(void)state;
	struct side a, b;
	struct creq c;
	pair_up(&a, &b, &c);

	unsigned char *burst = malloc(BURST);
	assert_non_null(burst);
	for (size_t i = 0; i < BURST; i++)
		burst[i] = (unsigned char)(i * 7 + i / 65536);
	write_bytes(c.stream, burst, BURST);
	/* Let the relays fill up with nobody reading at b. */
	struct rtls_stats sa, sb;
	for (int i = 0; i < 200; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	rtls_get_stats(&a.t, &sa);
	rtls_get_stats(&b.t, &sb);
	assert_true(sb.pauses >= 1); /* b's relay: the pipe to "libraft" is full */
	assert_true(sa.pauses >= 1); /* a's relay: TCP is full */
	start_reading(&b, b.stream);
	want_len = BURST;
	run_until(got_enough, &b);
	assert_int_equal(b.got_len, BURST);
	assert_memory_equal(b.got, burst, BURST);
	free(burst);

	uv_close((uv_handle_t *)c.stream, stream_closed);
	run_until(got_eof, &b);
	uv_close((uv_handle_t *)b.stream, stream_closed);
	side_close(&a);
	side_close(&b);
}

static unsigned long refusals(struct side *s)
{
	struct rtls_stats st;
	rtls_get_stats(&s->t, &st);
	return st.refused;
}

struct wait_refused {
	struct side *s;
	unsigned long n;
};
static bool refused_more(void *arg)
{
	struct wait_refused *w = arg;
	return refusals(w->s) > w->n;
}

/* A connecting peer that b must refuse; b's libraft sees nothing. */
static void expect_refused_by(struct side *b, struct side *x, const char *why)
{
	struct creq c;
	struct wait_refused w = {b, refusals(b)};
	last_refusal[0] = '\0';
	memset(&c, 0, sizeof c);
	assert_int_equal(x->t.connect(&x->t, &c.req, 2, b->address, connect_cb), 0);
	run_until(refused_more, &w);
	assert_int_equal(b->accepted, 0);
	if (strstr(last_refusal, why) == NULL)
		fail_msg("refusal '%s' does not say '%s'", last_refusal, why);
	run_until(creq_done, &c);
	if (c.status == 0)
		uv_close((uv_handle_t *)c.stream, stream_closed);
}

static bool side_said_something(void *arg)
{
	return ((struct side *)arg)->said[0] != '\0';
}

static void test_refused(void **state)
{
	(void)state;
	struct side b, x;
	side_init(&b, 2, BASE_PORT + 2, dir, "QM2");
	side_listen(&b);

	/* A certificate from the CA whose CN is no member, claiming id 1. */
	side_init(&x, 1, BASE_PORT + 3, dir, "rogue");
	expect_refused_by(&b, &x, "certificate CN=rogue is not QM1");
	side_close(&x);
	/* QM1's certificate claiming another id (3: no member). */
	side_init(&x, 3, BASE_PORT + 3, dir, "QM1");
	expect_refused_by(&b, &x, "Raft id 3 is not a member");
	side_close(&x);
	/* A certificate with a member's name from another CA (x trusts it:
	 * x refuses b). */
	side_init(&x, 1, BASE_PORT + 3, other, "QM1");
	expect_refused_by(&b, &x, "refused: TLS handshake");
	side_close(&x);
	/* The same certificate, x trusting b's CA. The dialling side says why
	 * too: with TLS 1.3 its handshake is done before b checks its
	 * certificate, and b's alert ends the connection libraft already
	 * has. */
	side_init_ca(&x, 1, BASE_PORT + 3, other, "QM1", dir);
	struct creq cx;
	struct wait_refused wx = {&b, refusals(&b)};
	memset(&cx, 0, sizeof cx);
	assert_int_equal(x.t.connect(&x.t, &cx.req, 2, b.address, connect_cb), 0);
	run_until(refused_more, &wx);
	assert_int_equal(b.accepted, 0);
	assert_non_null(strstr(b.said, "refused: TLS handshake"));
	run_until(side_said_something, &x);
	run_until(creq_done, &cx);
	if (cx.status == 0)
		uv_close((uv_handle_t *)cx.stream, stream_closed);
	if (strstr(x.said, "Raft TLS connection to 127.0.0.1") == NULL ||
	    strstr(x.said, "(QM2, Raft id 2)") == NULL || strstr(x.said, "alert") == NULL)
		fail_msg("the dialling side said '%s'", x.said);
	side_close(&x);

	/* No certificate at all, and plaintext: openssl s_client and a raw
	 * libraft preamble, in a child process while the loop serves; the
	 * child is waited for. */
	char cmd[2048];
	unsigned long n0 = refusals(&b);
	snprintf(cmd, sizeof cmd,
		 "echo | timeout 10 openssl s_client -connect %s -CAfile %s/ca.crt "
		 ">/dev/null 2>&1; "
		 "printf '\\001\\000\\000\\000\\000\\000\\000\\000' | timeout 5 bash -c "
		 "'cat >/dev/tcp/127.0.0.1/%d'; exit 0",
		 b.address, dir, BASE_PORT + 2);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		execl("/bin/bash", "bash", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	struct wait_refused w = {&b, n0 + 1};
	run_until(refused_more, &w);
	assert_int_equal(b.accepted, 0);
	int wst = 0;
	assert_int_equal(waitpid(child, &wst, 0), child);
	assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);

	/* The connecting side: a server whose certificate is not QM2's. */
	struct side a;
	struct creq c;
	side_init(&a, 1, BASE_PORT + 1, dir, "QM1");
	side_init(&x, 2, BASE_PORT + 3, dir, "rogue");
	side_listen(&x);
	side_connect(&a, &c, 2, x.address);
	assert_int_equal(c.status, RAFT_NOCONNECTION);
	assert_true(refusals(&a) >= 1);
	assert_int_equal(x.accepted, 0);
	/* An id without a member name is not even dialled. */
	memset(&c, 0, sizeof c);
	assert_int_equal(a.t.connect(&a.t, &c.req, 7, x.address, connect_cb), RAFT_NOCONNECTION);
	side_close(&a);
	side_close(&x);
	side_close(&b);
}

static void mute_cb(uv_stream_t *server, int status)
{
	(void)server;
	(void)status; /* never accepted: the connection waits in the backlog */
}

/* A connect request still in its handshake when the transport closes is
 * answered RAFT_CANCELED, from the close callbacks (never synchronously). */
static void test_close_pending(void **state)
{
	(void)state;
	struct side a;
	struct creq c;
	uv_tcp_t mute; /* a listener that never answers a ClientHello */
	struct sockaddr_in sa;
	char mute_addr[64];
	uv_tcp_init(&loop, &mute);
	uv_ip4_addr("127.0.0.1", BASE_PORT + 4, &sa);
	assert_int_equal(uv_tcp_bind(&mute, (const struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&mute, 8, mute_cb), 0);
	snprintf(mute_addr, sizeof mute_addr, "127.0.0.1:%d", BASE_PORT + 4);

	side_init(&a, 1, BASE_PORT + 1, dir, "QM1");
	memset(&c, 0, sizeof c);
	assert_int_equal(a.t.connect(&a.t, &c.req, 2, mute_addr, connect_cb), 0);
	for (int i = 0; i < 50; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_false(c.done);
	a.t.close(&a.t, closed_cb);
	assert_false(c.done); /* not from inside close() */
	run_until(is_closed, &a);
	assert_true(c.done);
	assert_int_equal(c.status, RAFT_CANCELED);
	assert_null(c.stream);
	rtls_free(&a.t);
	uv_close((uv_handle_t *)&mute, NULL);
	uv_run(&loop, UV_RUN_NOWAIT); /* mute lives on this stack */
}

static void write_any(uv_write_t *w, int status)
{
	(void)status; /* the other end may be gone */
	free(w);
}

static bool no_links(void *arg)
{
	struct rtls_stats st;
	rtls_get_stats(&((struct side *)arg)->t, &st);
	return st.links == 0;
}

/* libraft closes its end while the relay has writes in flight to it (a
 * burst it never read), then the transports close with a connection still
 * relaying writes in flight the other way: every handle is closed once and
 * the links are freed after their close callbacks (run it under the
 * sanitizers: --enable-sanitize). */
static void test_close_in_flight(void **state)
{
	(void)state;
	struct side a, b;
	struct creq c;
	pair_up(&a, &b, &c);

	unsigned char *burst = calloc(1, BURST);
	assert_non_null(burst);
	uv_write_t *w = malloc(sizeof *w);
	uv_buf_t buf = uv_buf_init((char *)burst, BURST);
	assert_int_equal(uv_write(w, c.stream, &buf, 1, write_any), 0);
	for (int i = 0; i < 200; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	struct rtls_stats sb;
	rtls_get_stats(&b.t, &sb);
	assert_true(sb.pauses >= 1); /* b's writes to the pipe are in flight */
	uv_close((uv_handle_t *)b.stream, stream_closed);
	run_until(no_links, &b);

	/* A second connection, a burst both ways in flight, and both
	 * transports closed under it; libraft's ends are closed after. */
	b.accepted = 0;
	struct creq c2;
	side_connect(&a, &c2, 2, b.address);
	assert_int_equal(c2.status, 0);
	run_until(accepted_one, &b);
	uv_write_t *w1 = malloc(sizeof *w1), *w2 = malloc(sizeof *w2);
	assert_int_equal(uv_write(w1, c2.stream, &buf, 1, write_any), 0);
	assert_int_equal(uv_write(w2, b.stream, &buf, 1, write_any), 0);
	for (int i = 0; i < 50; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	a.t.close(&a.t, closed_cb);
	b.t.close(&b.t, closed_cb);
	run_until(is_closed, &a);
	run_until(is_closed, &b);
	uv_close((uv_handle_t *)c.stream, stream_closed);
	uv_close((uv_handle_t *)c2.stream, stream_closed);
	uv_close((uv_handle_t *)b.stream, stream_closed);
	for (int i = 0; i < 20; i++)
		uv_run(&loop, UV_RUN_NOWAIT); /* the writes' callbacks, then the closes */
	rtls_free(&a.t);
	rtls_free(&b.t);
	free(a.got);
	free(b.got);
	free(burst);
}

/* Idle TCP connections that never say a word, as anyone who can reach the
 * port can open. */
#define FLOOD 64 /* rtls.c's MAX_HANDSHAKING */
static uv_tcp_t flood[FLOOD];
static uv_connect_t flood_req[FLOOD];
static unsigned flood_connected;

static void flood_cb(uv_connect_t *req, int status)
{
	(void)req;
	if (status == 0)
		flood_connected++;
}

struct wait_links {
	struct side *s;
	unsigned n;
};
static bool links_at_least(void *arg)
{
	struct wait_links *w = arg;
	struct rtls_stats st;
	rtls_get_stats(&w->s->t, &st);
	return st.links >= w->n;
}

/* A member still connects while the cap of connections in their handshake
 * is full of idle ones: the oldest idle one is closed for it, instead of
 * the member being refused until the idle ones time out. */
static void test_handshake_flood(void **state)
{
	(void)state;
	struct side a, b;
	struct creq c;
	struct sockaddr_in sa;
	side_init(&b, 2, BASE_PORT + 2, dir, "QM2");
	side_listen(&b);
	uv_ip4_addr("127.0.0.1", BASE_PORT + 2, &sa);
	flood_connected = 0;
	for (unsigned i = 0; i < FLOOD; i++) {
		uv_tcp_init(&loop, &flood[i]);
		assert_int_equal(uv_tcp_connect(&flood_req[i], &flood[i],
						(const struct sockaddr *)&sa, flood_cb),
				 0);
	}
	struct wait_links w = {&b, FLOOD};
	run_until(links_at_least, &w);
	assert_int_equal(flood_connected, FLOOD);
	assert_int_equal(refusals(&b), 0);

	side_init(&a, 1, BASE_PORT + 1, dir, "QM1");
	side_connect(&a, &c, 2, b.address);
	assert_int_equal(c.status, 0);
	run_until(accepted_one, &b);
	assert_int_equal(b.accepted, 1);
	assert_int_equal(b.accepted_id, 1);
	assert_true(refusals(&b) >= 1); /* the oldest idle one */
	if (strstr(last_refusal, "the oldest is closed") == NULL)
		fail_msg("refusal '%s'", last_refusal);

	start_reading(&b, b.stream);
	uv_close((uv_handle_t *)c.stream, stream_closed);
	run_until(got_eof, &b);
	uv_close((uv_handle_t *)b.stream, stream_closed);
	for (unsigned i = 0; i < FLOOD; i++)
		uv_close((uv_handle_t *)&flood[i], NULL);
	side_close(&a);
	side_close(&b);
}

/* A transport closed before init (or with nothing open) still calls back. */
static void test_close_unused(void **state)
{
	(void)state;
	struct side s;
	char key[512], crt[512], ca[512], e[QSG_ERRMSG_SIZE];
	memset(&s, 0, sizeof s);
	snprintf(key, sizeof key, "%s/QM1.key", dir);
	snprintf(crt, sizeof crt, "%s/QM1.crt", dir);
	snprintf(ca, sizeof ca, "%s/ca.crt", dir);
	struct glue_tls cfg = {
	    .key_file = key, .cert_file = crt, .ca_file = ca, .member_name = member_name};
	assert_int_equal(rtls_init(&s.t, &loop, &cfg, e), QSG_OK);
	s.t.close(&s.t, closed_cb);
	run_until(is_closed, &s);
	rtls_free(&s.t);
}

static int setup(void **state)
{
	const char *top = getenv("top_srcdir");
	char cmd[1024];
	(void)state;
	if (top == NULL)
		top = "..";
	snprintf(dir, sizeof dir, "/tmp/test_rtls.XXXXXX");
	snprintf(other, sizeof other, "/tmp/test_rtls_other.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_non_null(mkdtemp(other));
	snprintf(cmd, sizeof cmd, "'%s/scripts/tls-certs' '%s' QM1 QM2 rogue >/dev/null", top, dir);
	run(cmd);
	snprintf(cmd, sizeof cmd, "'%s/scripts/tls-certs' '%s' QM1 >/dev/null", top, other);
	run(cmd);
	assert_int_equal(uv_loop_init(&loop), 0);
	return 0;
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int teardown(void **state)
{
	char cmd[1024];
	(void)state;
	uv_walk(&loop, walk_close, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, other);
	run(cmd);
	return 0;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_connect_bytes_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_burst, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_unused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
