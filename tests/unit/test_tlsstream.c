/* Unit tests of src/qsgd/tlsstream.c under src/qsgd/stream.c: two framed
 * streams on a real libuv loop over loopback TCP, one accepted (server) and
 * one connected (client), with certificates from scripts/tls-certs (found
 * through top_srcdir, as make check sets it). Checked: a frame and its echo
 * through TLS and the client's DN on the server; a client certificate of
 * another CA fails the server's stream (QSG_RC_TLS_FAILED, one QSG8001W
 * line); mode optional serves a plaintext client; a client that never
 * starts a handshake is failed by the handshake timer; the first-bytes
 * detector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/proto.h"
#include "qsgd/config.h"
#include "qsgd/log.h"
#include "qsgd/stream.h"
#include "qsgd/tlsstream.h"

static char dir[64], rogue[64];

struct side {
	struct stream st;
	int frames;
	int error;
	bool closed;
	char dn[TLS_DN_SIZE];
};

struct world {
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_timer_t guard;
	struct stream_set set;
	struct side srv, cli;
	uv_connect_t creq;
	struct tlsstream_cfg scfg, ccfg;
	bool srv_tls, cli_tls, srv_optional;
	bool cli_silent; /* connects and sends nothing */
	struct qlog log;
	char logbuf[8192];
	FILE *logf;
};

static void finish(struct world *w)
{
	if (!w->srv.closed)
		stream_close(&w->srv.st);
	if (!w->cli.closed)
		stream_close(&w->cli.st);
}

static void s_frame(struct stream *s, const uint8_t *p, size_t len)
{
	struct side *sd = s->data;
	struct world *w = s->set->data;
	sd->frames++;
	if (sd == &w->srv) {
		snprintf(sd->dn, sizeof sd->dn, "%s", tlsstream_peer_dn(s));
		qsg_put_bytes(&s->out, p, len); /* echo */
		stream_mark(s);
	} else
		finish(w);
}

static void s_error(struct stream *s, int rc, uint32_t reqid)
{
	struct side *sd = s->data;
	(void)reqid;
	if (sd->error == 0)
		sd->error = rc;
	finish(s->set->data);
}

static void s_closed(struct stream *s)
{
	struct side *sd = s->data;
	struct world *w = s->set->data;
	sd->closed = true;
	if (w->srv.closed && w->cli.closed) {
		uv_close((uv_handle_t *)&w->listener, NULL);
		uv_close((uv_handle_t *)&w->guard, NULL);
		stream_set_close(&w->set, NULL);
	}
}

static const struct stream_ops ops = {
    .on_frame = s_frame, .on_error = s_error, .on_closed = s_closed};

static void on_conn(uv_stream_t *l, int status)
{
	struct world *w = l->data;
	assert_int_equal(status, 0);
	uv_tcp_init(&w->loop, &w->srv.st.tcp);
	stream_init(&w->srv.st, &w->set, &ops, &w->srv);
	assert_int_equal(uv_accept(l, (uv_stream_t *)&w->srv.st.tcp), 0);
	if (w->srv_optional)
		w->srv.st.tls_detect = &w->scfg;
	else if (w->srv_tls)
		assert_int_equal(tlsstream_attach(&w->srv.st, &w->scfg, TLS_SERVER, NULL), QSG_OK);
	assert_int_equal(stream_start(&w->srv.st), QSG_OK);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct world *w = req->data;
	assert_int_equal(status, 0);
	if (w->cli_tls)
		assert_int_equal(tlsstream_attach(&w->cli.st, &w->ccfg, TLS_CLIENT, "QM1"), QSG_OK);
	assert_int_equal(stream_start(&w->cli.st), QSG_OK);
	if (w->cli_silent)
		return;
	struct proto_req ping;
	memset(&ping, 0, sizeof ping);
	ping.op = PROTO_PING;
	ping.reqid = 7;
	assert_int_equal(proto_req_encode(&ping, &w->cli.st.out), QSG_OK);
	stream_mark(&w->cli.st);
}

static void on_guard(uv_timer_t *t)
{
	(void)t;
	fail_msg("the test did not finish in 5 s");
}

static void load_cfg(struct tlsstream_cfg *t, struct world *w, const char *d, const char *name,
		     int mode, unsigned handshake_ms)
{
	struct qsgd_config c;
	char e[QSG_ERRMSG_SIZE];
	qsgd_config_defaults(&c);
	c.tls_enabled = 1;
	snprintf(c.tls_key, sizeof c.tls_key, "%s/%s.key", d, name);
	snprintf(c.tls_cert, sizeof c.tls_cert, "%s/%s.crt", d, name);
	snprintf(c.tls_ca, sizeof c.tls_ca, "%s/ca.crt", dir); /* the group's CA */
	c.tls_mode = mode;
	if (handshake_ms > 0)
		c.tls_handshake_ms = handshake_ms;
	if (tlsstream_cfg_init(t, &c, &w->log, e) != QSG_OK)
		fail_msg("tlsstream_cfg_init: %s", e);
}

/* Runs one exchange (the client's key and certificate from cli_dir, the CA
 * always the group's); the log lines written meanwhile are in w->logbuf. */
static void run(struct world *w, const char *cli_dir, unsigned handshake_ms)
{
	memset(w->logbuf, 0, sizeof w->logbuf);
	w->logf = fmemopen(w->logbuf, sizeof w->logbuf - 1, "w");
	assert_non_null(w->logf);
	setvbuf(w->logf, NULL, _IONBF, 0);
	qlog_init(&w->log, w->logf, "T", QLOG_INFO);
	load_cfg(&w->scfg, w, dir, "QM1",
		 w->srv_optional ? QSGD_TLS_MODE_OPTIONAL : QSGD_TLS_MODE_REQUIRED, handshake_ms);
	load_cfg(&w->ccfg, w, cli_dir, "app", QSGD_TLS_MODE_REQUIRED, 0);
	assert_int_equal(uv_loop_init(&w->loop), 0);
	stream_set_init(&w->set, &w->loop);
	w->set.data = w;
	uv_tcp_init(&w->loop, &w->listener);
	w->listener.data = w;
	struct sockaddr_in sa;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&w->listener, (const struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&w->listener, 4, on_conn), 0);
	int len = sizeof sa;
	uv_tcp_getsockname(&w->listener, (struct sockaddr *)&sa, &len);
	uv_timer_init(&w->loop, &w->guard);
	uv_timer_start(&w->guard, on_guard, 5000, 0);
	uv_tcp_init(&w->loop, &w->cli.st.tcp);
	stream_init(&w->cli.st, &w->set, &ops, &w->cli);
	w->creq.data = w;
	assert_int_equal(
	    uv_tcp_connect(&w->creq, &w->cli.st.tcp, (const struct sockaddr *)&sa, on_connect), 0);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&w->loop), 0);
	tlsstream_cfg_close(&w->scfg);
	tlsstream_cfg_close(&w->ccfg);
	fclose(w->logf);
}

static void echo_over_tls(void **state)
{
	(void)state;
	struct world *w = calloc(1, sizeof *w);
	w->srv_tls = w->cli_tls = true;
	run(w, dir, 0);
	assert_int_equal(w->srv.frames, 1);
	assert_int_equal(w->cli.frames, 1);
	assert_int_equal(w->srv.error, 0);
	assert_non_null(strstr(w->srv.dn, "CN=app"));
	assert_null(strstr(w->logbuf, "QSG8001W"));
	free(w);
}

static void other_ca_refused(void **state)
{
	(void)state;
	struct world *w = calloc(1, sizeof *w);
	w->srv_tls = w->cli_tls = true;
	run(w, rogue, 0);
	assert_int_equal(w->srv.frames, 0);
	assert_int_equal(w->cli.frames, 0);
	assert_int_equal(w->srv.error, QSG_RC_TLS_FAILED);
	assert_non_null(strstr(w->logbuf, "QSG8001W"));
	assert_non_null(strstr(w->logbuf, "QSG_RC_TLS_FAILED"));
	free(w);
}

static void optional_takes_plaintext(void **state)
{
	(void)state;
	struct world *w = calloc(1, sizeof *w);
	w->srv_optional = true;
	run(w, dir, 0);
	assert_int_equal(w->srv.frames, 1);
	assert_int_equal(w->cli.frames, 1);
	assert_string_equal(w->srv.dn, "");
	free(w);
}

static void optional_takes_tls(void **state)
{
	(void)state;
	struct world *w = calloc(1, sizeof *w);
	w->srv_optional = true;
	w->cli_tls = true;
	run(w, dir, 0);
	assert_int_equal(w->srv.frames, 1);
	assert_int_equal(w->cli.frames, 1);
	assert_non_null(strstr(w->srv.dn, "CN=app"));
	free(w);
}

static void handshake_timeout(void **state)
{
	(void)state;
	struct world *w = calloc(1, sizeof *w);
	w->srv_tls = true;
	w->cli_silent = true;
	run(w, dir, 200);
	assert_int_equal(w->srv.error, QSG_RC_TLS_FAILED);
	assert_non_null(strstr(w->logbuf, "no handshake within 200 ms"));
	free(w);
}

static void detector(void **state)
{
	(void)state;
	bool need;
	const unsigned char hello[] = {0x16, 0x03, 0x01, 0x02, 0x00};
	const unsigned char frame[] = {0x16, 0x00, 0x00, 0x00}; /* a 22-byte frame */
	assert_true(tlsstream_looks_tls(hello, sizeof hello, &need));
	assert_false(need);
	assert_false(tlsstream_looks_tls(hello, 2, &need));
	assert_true(need);
	assert_false(tlsstream_looks_tls(frame, sizeof frame, &need));
	assert_false(need);
	assert_false(tlsstream_looks_tls((const unsigned char *)"\x05", 1, &need));
	assert_false(need);
}

static int setup(void **state)
{
	(void)state;
	const char *top = getenv("top_srcdir");
	char cmd[512];
	if (top == NULL)
		top = ".";
	snprintf(dir, sizeof dir, "/tmp/qsg-tlsstream-XXXXXX");
	snprintf(rogue, sizeof rogue, "/tmp/qsg-tlsstream-XXXXXX");
	if (mkdtemp(dir) == NULL || mkdtemp(rogue) == NULL)
		return -1;
	snprintf(cmd, sizeof cmd, "'%s/scripts/tls-certs' -f '%s' QM1 app >/dev/null", top, dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof cmd, "'%s/scripts/tls-certs' -f '%s' app >/dev/null", top, rogue);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, rogue);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(detector),		  cmocka_unit_test(echo_over_tls),
	    cmocka_unit_test(other_ca_refused),	  cmocka_unit_test(optional_takes_plaintext),
	    cmocka_unit_test(optional_takes_tls), cmocka_unit_test(handshake_timeout),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
