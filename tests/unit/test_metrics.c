/* Unit tests of the observability modules of qsgd: the /metrics text built
 * from a real struct fsm (metrics.c), readiness, the JSON log format and its
 * escaping (log.c), the HTTP request parser and a live httpd on a libuv loop
 * (httpd.c), and the sd_notify datagrams (sdnotify.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "fsm/fsm.h"
#include "qsgd/httpd.h"
#include "qsgd/log.h"
#include "qsgd/metrics.h"
#include "qsgd/sdnotify.h"

/* ---- a real state machine ---- */

struct ctx {
	struct fsm *f;
	int64_t now;
	struct qsg_wbuf res;
	struct fsm_result r;
	uint64_t ep;
	struct qsg_wbuf text; /* rendered metrics */
};

static int exec(struct ctx *x, const struct fsm_cmd *c)
{
	struct qsg_wbuf w, e;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&e);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	fsm_entry_begin(&e, x->now);
	fsm_entry_add(&e, w.data, w.len);
	assert_int_equal(e.err, QSG_OK);
	qsg_wbuf_reset(&x->res);
	assert_int_equal(fsm_apply(x->f, e.data, e.len, &x->res, errmsg), QSG_OK);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&e);
	assert_true(x->res.len >= 4);
	uint32_t len = qsg_le32(x->res.data);
	assert_int_equal(fsm_result_decode(c->op, x->res.data + 4, len, &x->r, NULL), QSG_OK);
	return x->r.rc;
}

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	assert_int_equal(fsm_init(&x->f, NULL), QSG_OK);
	qsg_wbuf_init(&x->res);
	qsg_wbuf_init(&x->text);
	x->now = 1000000;
	for (uint32_t id = 1; id <= 2; id++) {
		struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN, .member_id = id, .seq = 5000};
		snprintf(c.name, sizeof c.name, "QM%u", id);
		snprintf(c.raft_addr, sizeof c.raft_addr, "127.0.0.1:%u", 18700 + id);
		snprintf(c.client_addr, sizeof c.client_addr, "127.0.0.1:%u", 18600 + id);
		assert_int_equal(exec(x, &c), QSG_OK);
	}
	struct fsm_cmd c = {.op = FSM_OP_ATTACH, .client_id = 1, .member_id = 1};
	assert_int_equal(exec(x, &c), QSG_OK);
	x->ep = x->r.epoch;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *x = *state;
	fsm_close(x->f);
	qsg_wbuf_close(&x->res);
	qsg_wbuf_close(&x->text);
	free(x);
	return 0;
}

static int qdefine(struct ctx *x, const char *name, uint8_t usage)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	strcpy(c.attrs.name, name);
	c.attrs.set = FSM_QA_USAGE;
	c.attrs.usage = usage;
	return exec(x, &c);
}

static int put(struct ctx *x, const char *queue, uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = 1, .epoch = x->ep, .flags = flags};
	strcpy(c.queue, queue);
	c.msg.body.p = (const uint8_t *)"body";
	c.msg.body.len = 4;
	return exec(x, &c);
}

static int get(struct ctx *x, const char *queue)
{
	struct fsm_cmd c = {.op = FSM_OP_GET, .client_id = 1, .epoch = x->ep};
	strcpy(c.queue, queue);
	return exec(x, &c);
}

static int cas(struct ctx *x, const char *name, uint8_t type, struct fsm_chimage before,
	       struct fsm_chimage after)
{
	struct fsm_cmd c = {.op = FSM_OP_CHST_CAS};
	strcpy(c.ch.name, name);
	c.ch.chltype = type;
	c.ch.before = before;
	c.ch.after = after;
	strcpy(c.ch.conname, "127.0.0.1:1414");
	strcpy(c.ch.reason, "test");
	return exec(x, &c);
}

static const char *render(struct ctx *x, const struct glue_info *gi, const struct qsgd_stats *st)
{
	struct metrics_input in = {.fsm = x->f,
				   .raft = gi,
				   .member_id = 1,
				   .fenced = false,
				   .connections = 7,
				   .stats = st};
	qsg_wbuf_reset(&x->text);
	assert_int_equal(metrics_render(&in, &x->text), QSG_OK);
	qsg_put_u8(&x->text, 0);
	return (const char *)x->text.data;
}

/* The value of the series `series` (name with labels, exactly) or -1. */
static double value(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;
	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* Every line is a comment or `name{labels} value` with a known prefix. */
static void assert_well_formed(const char *text)
{
	const char *p = text;
	int samples = 0;
	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		assert_non_null(eol);
		if (p[0] != '#') {
			assert_memory_equal(p, "qsg_", 4);
			const char *sp = memchr(p, ' ', (size_t)(eol - p));
			assert_non_null(sp);
			char *end;
			strtod(sp + 1, &end);
			assert_ptr_equal(end, eol);
			samples++;
		} else {
			assert_true(strncmp(p, "# HELP qsg_", 11) == 0 ||
				    strncmp(p, "# TYPE qsg_", 11) == 0);
		}
		p = eol + 1;
	}
	assert_true(samples > 20);
}

static void metrics_from_fsm(void **state)
{
	struct ctx *x = *state;
	struct glue_info gi = {.role = GLUE_LEADER,
			       .term = 4,
			       .commit_index = 120,
			       .applied_index = 119,
			       .last_index = 121,
			       .leader_id = 1,
			       .snapshots = 2,
			       .snapshot_last_bytes = 4096,
			       .snapshot_last_us = 1500};
	struct qsgd_stats st;
	qsgd_stats_init(&st);

	assert_int_equal(qdefine(x, "APP.Q", FSM_USAGE_NORMAL), QSG_OK);
	assert_int_equal(qdefine(x, "QMR", FSM_USAGE_XMITQ), QSG_OK);
	const char *t = render(x, &gi, &st);
	assert_well_formed(t);
	assert_true(value(t, "qsg_queue_depth{queue=\"APP.Q\"}") == 0);
	assert_true(value(t, "qsg_queue_puts_total{queue=\"APP.Q\"}") == 0);
	assert_true(value(t, "qsg_queue_oldest_message_age_seconds{queue=\"APP.Q\"}") == 0);

	for (int i = 0; i < 5; i++)
		assert_int_equal(put(x, "APP.Q", 0), QSG_OK);
	assert_int_equal(put(x, "APP.Q", FSM_F_SYNCPOINT), QSG_OK);
	x->now += 2500;
	assert_int_equal(get(x, "APP.Q"), QSG_OK);
	assert_int_equal(get(x, "APP.Q"), QSG_OK);

	qsgd_stats_commit(&st);
	qsgd_stats_commit(&st);
	qsgd_stats_backout(&st);
	qsgd_stats_latency(&st, 300); /* <= 0.0005 */
	qsgd_stats_latency(&st, 700); /* <= 0.001 */
	qsgd_stats_latency(&st, 1500000); /* <= 2 */
	qsgd_stats_latency(&st, 3000000); /* +Inf only */

	t = render(x, &gi, &st);
	assert_well_formed(t);
	assert_true(value(t, "qsg_queue_depth{queue=\"APP.Q\"}") == 4);
	assert_true(value(t, "qsg_queue_uncommitted{queue=\"APP.Q\"}") == 1);
	assert_true(value(t, "qsg_queue_puts_total{queue=\"APP.Q\"}") == 5); /* committed */
	assert_true(value(t, "qsg_queue_gets_total{queue=\"APP.Q\"}") == 2);
	assert_true(value(t, "qsg_queue_oldest_message_age_seconds{queue=\"APP.Q\"}") == 2.5);
	assert_true(value(t, "qsg_queue_depth{queue=\"QMR\"}") == 0);
	assert_true(value(t, "qsg_commits_total") == 2);
	assert_true(value(t, "qsg_backouts_total") == 1);
	assert_true(value(t, "qsg_raft_term") == 4);
	assert_true(value(t, "qsg_raft_commit_index") == 120);
	assert_true(value(t, "qsg_raft_applied_index") == 119);
	assert_true(value(t, "qsg_raft_leader") == 1);
	assert_true(value(t, "qsg_raft_leader_id") == 1);
	assert_true(value(t, "qsg_member_up{member=\"QM1\"}") == 1);
	assert_true(value(t, "qsg_member_up{member=\"QM2\"}") == 1);
	assert_true(value(t, "qsg_member_fenced") == 0);
	assert_true(value(t, "qsg_client_connections") == 7);
	assert_true(value(t, "qsg_snapshots_total") == 2);
	assert_true(value(t, "qsg_snapshot_last_bytes") == 4096);
	assert_true(value(t, "qsg_snapshot_last_duration_seconds") == 0.0015);
	/* histogram: cumulative buckets, +Inf = count, sum */
	assert_true(value(t, "qsg_commit_latency_seconds_bucket{le=\"0.0005\"}") == 1);
	assert_true(value(t, "qsg_commit_latency_seconds_bucket{le=\"0.001\"}") == 2);
	assert_true(value(t, "qsg_commit_latency_seconds_bucket{le=\"1\"}") == 2);
	assert_true(value(t, "qsg_commit_latency_seconds_bucket{le=\"2\"}") == 3);
	assert_true(value(t, "qsg_commit_latency_seconds_bucket{le=\"+Inf\"}") == 4);
	assert_true(value(t, "qsg_commit_latency_seconds_count") == 4);
	assert_true(value(t, "qsg_commit_latency_seconds_sum") == 4.501);
	assert_non_null(strstr(t, "# TYPE qsg_commit_latency_seconds histogram\n"));
	assert_non_null(strstr(t, "# TYPE qsg_queue_puts_total counter\n"));

	/* A follower that knows no leader. */
	gi.role = GLUE_FOLLOWER;
	gi.leader_id = 0;
	t = render(x, &gi, &st);
	assert_true(value(t, "qsg_raft_leader") == 0);
	assert_true(value(t, "qsg_raft_leader_id") == 0);

	/* Leases: QM2 stops renewing; once leader time passes its expiry it
	 * is no longer up, before and after MEMBER_FAIL. */
	x->now += 6000; /* past QM2's lease (5000 ms from its join) */
	struct fsm_cmd r = {.op = FSM_OP_LEASE_RENEW, .member_id = 1, .seq = 1000};
	assert_int_equal(exec(x, &r), QSG_OK);
	t = render(x, &gi, &st);
	assert_true(value(t, "qsg_member_up{member=\"QM1\"}") == 1);
	assert_true(value(t, "qsg_member_up{member=\"QM2\"}") == 0);
}

/* The channel initiator: the local state (one series per state) only when
 * the input names it; the member table's view for every member. */
static void metrics_chinit(void **state)
{
	struct ctx *x = *state;
	struct glue_info gi = {.role = GLUE_FOLLOWER, .leader_id = 2};
	struct qsgd_stats st;
	qsgd_stats_init(&st);
	const char *t = render(x, &gi, &st);
	assert_true(value(t, "qsg_member_chinit{member=\"QM1\"}") == 0);
	assert_true(value(t, "qsg_chinit_failures_total") == -1); /* not given */
	struct fsm_cmd c = {.op = FSM_OP_CHINIT_STATE};
	c.ch.member_id = 2;
	c.ch.chinit = 1;
	assert_int_equal(exec(x, &c), QSG_OK);

	struct metrics_input in = {.fsm = x->f,
				   .raft = &gi,
				   .member_id = 1,
				   .stats = &st,
				   .chinit_status = "FAILED",
				   .chinit_failures = 3};
	qsg_wbuf_reset(&x->text);
	assert_int_equal(metrics_render(&in, &x->text), QSG_OK);
	qsg_put_u8(&x->text, 0);
	t = (const char *)x->text.data;
	assert_well_formed(t);
	assert_true(value(t, "qsg_member_chinit{member=\"QM1\"}") == 0);
	assert_true(value(t, "qsg_member_chinit{member=\"QM2\"}") == 1);
	assert_true(value(t, "qsg_chinit_status{state=\"failed\"}") == 1);
	assert_true(value(t, "qsg_chinit_status{state=\"running\"}") == 0);
	assert_true(value(t, "qsg_chinit_status{state=\"stopped\"}") == 0);
	assert_true(value(t, "qsg_chinit_status{state=\"fenced\"}") == 0);
	assert_true(value(t, "qsg_chinit_failures_total") == 3);
}

static void metrics_channels(void **state)
{
	struct ctx *x = *state;
	struct glue_info gi = {.role = GLUE_FOLLOWER, .leader_id = 2};
	struct qsgd_stats st;
	struct fsm_chimage none = {0}, starting = {1, 1, FSM_CHS_STARTING, 1},
			   running = {1, 1, FSM_CHS_RUNNING, 1};
	qsgd_stats_init(&st);
	assert_int_equal(qdefine(x, "QMR", FSM_USAGE_XMITQ), QSG_OK);
	struct fsm_cmd d = {.op = FSM_OP_CHDEFINE};
	strcpy(d.ch.attrs.name, "TO.QMR");
	d.ch.attrs.set = FSM_CA_CHLTYPE | FSM_CA_CONNAME | FSM_CA_XMITQ;
	d.ch.attrs.chltype = FSM_CHL_SDR;
	strcpy(d.ch.attrs.conname, "127.0.0.1:18650");
	strcpy(d.ch.attrs.xmitq, "QMR");
	assert_int_equal(exec(x, &d), QSG_OK);
	assert_int_equal(cas(x, "TO.QMR", FSM_CHL_SDR, none, starting), QSG_OK);
	const char *t = render(x, &gi, &st);
	assert_true(
	    value(t, "qsg_channel_status{channel=\"TO.QMR\",type=\"sdr\",state=\"starting\"}") ==
	    1);
	assert_true(
	    value(t, "qsg_channel_status{channel=\"TO.QMR\",type=\"sdr\",state=\"running\"}") == 0);
	assert_true(value(t, "qsg_channel_status_code{channel=\"TO.QMR\",type=\"sdr\"}") == 2);
	assert_int_equal(cas(x, "TO.QMR", 0, starting, running), QSG_OK);
	t = render(x, &gi, &st);
	assert_well_formed(t);
	assert_true(
	    value(t, "qsg_channel_status{channel=\"TO.QMR\",type=\"sdr\",state=\"running\"}") == 1);
	assert_true(
	    value(t, "qsg_channel_status{channel=\"TO.QMR\",type=\"sdr\",state=\"stopped\"}") == 0);
	assert_true(value(t, "qsg_channel_status_code{channel=\"TO.QMR\",type=\"sdr\"}") == 3);
	assert_true(value(t, "qsg_channel_epoch{channel=\"TO.QMR\",type=\"sdr\"}") == 1);
	assert_true(value(t, "qsg_channel_messages_total{channel=\"TO.QMR\",type=\"sdr\"}") == 0);
	assert_true(value(t, "qsg_channel_batches_total{channel=\"TO.QMR\",type=\"sdr\"}") == 0);
}

static void readiness(void **state)
{
	(void)state;
	char why[128];
	struct glue_info gi = {.leader_id = 2, .commit_index = 500, .applied_index = 400};
	assert_true(metrics_ready(&gi, false, why, sizeof why));
	assert_string_equal(why, "ready");
	gi.applied_index = 399;
	assert_false(metrics_ready(&gi, false, why, sizeof why));
	assert_non_null(strstr(why, "behind"));
	gi.applied_index = 500;
	assert_false(metrics_ready(&gi, true, why, sizeof why));
	assert_non_null(strstr(why, "fenced"));
	gi.leader_id = 0;
	assert_false(metrics_ready(&gi, false, why, sizeof why));
	assert_non_null(strstr(why, "leader"));
}

static void label_escaping(void **state)
{
	(void)state;
	char b[32];
	metrics_label_escape(b, sizeof b, "A\"B\\C\nD");
	assert_string_equal(b, "A\\\"B\\\\C\\nD");
	metrics_label_escape(b, 4, "ab\"c"); /* never half an escape */
	assert_string_equal(b, "ab");
}

/* ---- logs ---- */

static void json_escaping(void **state)
{
	(void)state;
	char b[128];
	qlog_json_escape(b, sizeof b, "plain");
	assert_string_equal(b, "plain");
	qlog_json_escape(b, sizeof b, "q\"b\\n\nr\rt\tc\001d\x7f");
	assert_string_equal(b, "q\\\"b\\\\n\\nr\\rt\\tc\\u0001d\\u007f");
	qlog_json_escape(b, sizeof b, "caf\xc3\xa9 \xe2\x82\xac"); /* valid UTF-8 kept */
	assert_string_equal(b, "caf\xc3\xa9 \xe2\x82\xac");
	qlog_json_escape(b, sizeof b, "bad\xff\xc3("); /* invalid bytes escaped */
	assert_string_equal(b, "bad\\u00ff\\u00c3(");
	qlog_json_escape(b, sizeof b, "\xc0\xaf"); /* overlong */
	assert_string_equal(b, "\\u00c0\\u00af");
	qlog_json_escape(b, 6, "ab\"cd"); /* truncation never cuts an escape */
	assert_string_equal(b, "ab\\\"c");
	qlog_json_escape(b, 5, "ab\"cd");
	assert_string_equal(b, "ab\\\"");
	qlog_json_escape(b, 4, "ab\"cd");
	assert_string_equal(b, "ab");
	qlog_json_escape(b, 3, "a\xe2\x82\xac"); /* nor a character */
	assert_string_equal(b, "a");
}

static char *capture(struct qlog *l, void (*emit)(struct qlog *l))
{
	FILE *f = tmpfile();
	assert_non_null(f);
	l->out = f;
	emit(l);
	long n = ftell(f);
	assert_true(n > 0);
	char *s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	rewind(f);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

static void emit_plain(struct qlog *l)
{
	QLOG_INFO_(l, "QSG0001I", "started \"x\" %d", 5);
	QLOG_DBG(l, "QSG1002D", "dropped at info level");
}

static void emit_kv(struct qlog *l)
{
	const char *kv[] = {"queue", "A\"B", "n", "3"};
	qlog_writekv(l, QLOG_WARN, "QSG2002W", kv, 4, "line\none");
}

static void json_lines(void **state)
{
	(void)state;
	struct qlog l;
	qlog_init(&l, stderr, "QM\"1", QLOG_INFO);
	assert_int_equal(l.format, QLOG_TEXT);
	assert_int_equal(qlog_parse_format("json"), QLOG_JSON);
	assert_int_equal(qlog_parse_format("text"), QLOG_TEXT);
	assert_int_equal(qlog_parse_format("xml"), -1);
	qlog_set_format(&l, QLOG_JSON);

	char *s = capture(&l, emit_plain);
	/* {"time":"YYYY-MM-DDTHH:MM:SS.mmmZ","level":"info",... */
	assert_memory_equal(s, "{\"time\":\"", 9);
	assert_int_equal(s[9 + 23], 'Z');
	assert_int_equal(s[9 + 10], 'T');
	assert_non_null(strstr(s,
			       "\",\"level\":\"info\",\"member\":\"QM\\\"1\",\"id\":\"QSG0001I\","
			       "\"msg\":\"started \\\"x\\\" 5\"}\n"));
	assert_null(strstr(s, "fields"));
	assert_null(strstr(s, "QSG1002D"));
	assert_int_equal(strchr(s, '\n')[1], '\0'); /* exactly one line */
	free(s);

	s = capture(&l, emit_kv);
	assert_non_null(strstr(s, "\"level\":\"warn\""));
	assert_non_null(
	    strstr(s, "\"msg\":\"line\\none\",\"fields\":{\"queue\":\"A\\\"B\",\"n\":\"3\"}}\n"));
	assert_int_equal(strchr(s, '\n')[1], '\0');
	free(s);

	qlog_set_format(&l, QLOG_TEXT);
	s = capture(&l, emit_kv);
	assert_non_null(strstr(s, "Z WARN QM\"1 QSG2002W line\none queue=A\"B n=3\n"));
	free(s);
}

/* ---- HTTP ---- */

static void http_parse(void **state)
{
	(void)state;
	char path[32];
#define REQ(s) s, sizeof s - 1
	assert_int_equal(
	    httpd_parse_request(REQ("GET /metrics HTTP/1.1\r\n\r\n"), path, sizeof path), 200);
	assert_string_equal(path, "/metrics");
	assert_int_equal(
	    httpd_parse_request(REQ("GET /readyz?x=1 HTTP/1.0\n\n"), path, sizeof path), 200);
	assert_string_equal(path, "/readyz");
	assert_int_equal(
	    httpd_parse_request(REQ("POST /metrics HTTP/1.1\r\n\r\n"), path, sizeof path), 405);
	assert_int_equal(
	    httpd_parse_request(REQ("GET metrics HTTP/1.1\r\n\r\n"), path, sizeof path), 400);
	assert_int_equal(httpd_parse_request(REQ("GET /metrics\r\n\r\n"), path, sizeof path), 400);
	assert_int_equal(
	    httpd_parse_request(REQ("GET /metrics HTTP/2.0\r\n\r\n"), path, sizeof path), 400);
	assert_int_equal(
	    httpd_parse_request(REQ("GET  /metrics HTTP/1.1\r\n\r\n"), path, sizeof path), 400);
	assert_int_equal(httpd_parse_request(REQ("GET /a\0b HTTP/1.1\r\n\r\n"), path, sizeof path),
			 400);
	assert_int_equal(httpd_parse_request(REQ("\r\n\r\n"), path, sizeof path), 400);
	assert_int_equal(httpd_parse_request(
			     REQ("GET /0123456789012345678901234567890123456789 HTTP/1.1\r\n\r\n"),
			     path, sizeof path),
			 414);
#undef REQ
}

struct hclient {
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t wr;
	const char *req;
	size_t req_len;
	char resp[8192];
	size_t len;
	int done;
};

struct htest {
	uv_loop_t loop;
	struct httpd *h;
	int calls;
};

static void handler(void *arg, const char *path, struct httpd_response *r)
{
	struct htest *t = arg;
	t->calls++;
	if (strcmp(path, "/hello") == 0) {
		qsg_put_bytes(&r->body, "hi\n", 3);
		return;
	}
	r->status = 404;
	qsg_put_bytes(&r->body, "no\n", 3);
}

static void c_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	(void)s;
	struct hclient *c = h->data;
	*b = uv_buf_init(c->resp + c->len, (unsigned)(sizeof c->resp - 1 - c->len));
}

static void c_closed(uv_handle_t *h)
{
	struct hclient *c = h->data;
	c->done = 1;
}

static void c_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	(void)b;
	struct hclient *c = s->data;
	if (n > 0) {
		c->len += (size_t)n;
		c->resp[c->len] = '\0';
		return;
	}
	if (n < 0)
		uv_close((uv_handle_t *)&c->tcp, c_closed);
}

static void c_written(uv_write_t *w, int st)
{
	(void)w;
	(void)st;
}

static void c_connected(uv_connect_t *r, int st)
{
	struct hclient *c = r->data;
	assert_int_equal(st, 0);
	uv_buf_t b = uv_buf_init((char *)c->req, (unsigned)c->req_len);
	if (c->req_len > 0)
		assert_int_equal(uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, c_written), 0);
	assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, c_alloc, c_read), 0);
}

#define HTTP_TEST_PORT 18699 /* in this task's range 18600..18899 */

/* Send req (len bytes) to the server and return the whole response. */
static void roundtrip(struct htest *t, struct hclient *c, const char *req, size_t len)
{
	struct sockaddr_in sa;
	memset(c, 0, sizeof *c);
	c->req = req;
	c->req_len = len;
	uv_ip4_addr("127.0.0.1", HTTP_TEST_PORT, &sa);
	uv_tcp_init(&t->loop, &c->tcp);
	c->tcp.data = c->conn.data = c;
	assert_int_equal(uv_tcp_connect(&c->conn, &c->tcp, (struct sockaddr *)&sa, c_connected), 0);
	while (!c->done)
		uv_run(&t->loop, UV_RUN_ONCE);
}

static void http_live(void **state)
{
	(void)state;
	struct htest t = {0};
	struct hclient c;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(uv_loop_init(&t.loop), 0);
	assert_int_equal(httpd_init(&t.h, &t.loop, "127.0.0.1:18699", handler, &t, errmsg), QSG_OK);
	/* A second listener on the same port fails cleanly. */
	struct httpd *h2 = NULL;
	assert_int_equal(httpd_init(&h2, &t.loop, "127.0.0.1:18699", handler, &t, errmsg),
			 QSG_RC_CONFIG);
	assert_null(h2);
	assert_int_equal(httpd_init(&h2, &t.loop, "no.such.host:1", handler, &t, errmsg),
			 QSG_RC_CONFIG);

	const char ok[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	roundtrip(&t, &c, ok, sizeof ok - 1);
	assert_memory_equal(c.resp, "HTTP/1.0 200 OK\r\n", 17);
	assert_non_null(strstr(c.resp, "Content-Length: 3\r\n"));
	assert_non_null(strstr(c.resp, "\r\n\r\nhi\n"));
	assert_int_equal(t.calls, 1);

	const char nf[] = "GET /nope HTTP/1.0\n\n";
	roundtrip(&t, &c, nf, sizeof nf - 1);
	assert_memory_equal(c.resp, "HTTP/1.0 404 ", 13);

	const char bad[] = "BLAH\r\n\r\n";
	roundtrip(&t, &c, bad, sizeof bad - 1);
	assert_memory_equal(c.resp, "HTTP/1.0 400 ", 13);

	const char post[] = "POST /hello HTTP/1.1\r\n\r\n";
	roundtrip(&t, &c, post, sizeof post - 1);
	assert_memory_equal(c.resp, "HTTP/1.0 405 ", 13);
	assert_int_equal(t.calls, 2); /* bad requests never reach the handler */

	/* A request that never ends its head: 431 once the buffer is full. */
	char *big = malloc(3 * HTTPD_MAX_REQUEST);
	assert_non_null(big);
	memcpy(big, "GET /hello HTTP/1.1\r\n", 21);
	memset(big + 21, 'a', 3 * HTTPD_MAX_REQUEST - 21);
	roundtrip(&t, &c, big, 3 * HTTPD_MAX_REQUEST);
	assert_memory_equal(c.resp, "HTTP/1.0 431 ", 13);
	free(big);

	/* The server still works. */
	roundtrip(&t, &c, ok, sizeof ok - 1);
	assert_memory_equal(c.resp, "HTTP/1.0 200 OK\r\n", 17);

	httpd_close(t.h);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&t.loop), 0);
}

/* ---- sd_notify ---- */

static void sd_notify_datagrams(void **state)
{
	(void)state;
	struct sdnotify n;
	char errmsg[QSG_ERRMSG_SIZE];
	char path[108];
	char buf[256];

	/* Disabled without NOTIFY_SOCKET: sends succeed, nothing happens. */
	assert_int_equal(sdnotify_init(&n, NULL, "2000000", NULL, 42, errmsg), QSG_OK);
	assert_false(sdnotify_enabled(&n));
	assert_int_equal(n.watchdog_usec, 0);
	assert_int_equal(sdnotify_send(&n, "READY=1"), QSG_OK);
	sdnotify_close(&n);
	assert_int_equal(sdnotify_init(&n, "relative/path", NULL, NULL, 42, errmsg), QSG_RC_CONFIG);
	assert_false(sdnotify_enabled(&n));

	/* A real socket. */
	snprintf(path, sizeof path, "/tmp/qsg-test-notify-%ld", (long)getpid());
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);

	assert_int_equal(sdnotify_init(&n, path, "3000000", "42", 42, errmsg), QSG_OK);
	assert_true(sdnotify_enabled(&n));
	assert_int_equal(n.watchdog_usec, 3000000);
	assert_int_equal(sdnotify_send(&n, "READY=1\nSTATUS=active"), QSG_OK);
	ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
	assert_int_equal(r, 21);
	buf[r] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=active");
	assert_int_equal(sdnotify_send(&n, "WATCHDOG=1"), QSG_OK);
	r = recv(fd, buf, sizeof buf - 1, 0);
	assert_int_equal(r, 10);
	sdnotify_close(&n);

	/* WATCHDOG_PID for another process: no watchdog for us. */
	assert_int_equal(sdnotify_init(&n, path, "3000000", "43", 42, errmsg), QSG_OK);
	assert_int_equal(n.watchdog_usec, 0);
	sdnotify_close(&n);

	/* Abstract namespace. */
	int afd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(afd >= 0);
	struct sockaddr_un aa = {.sun_family = AF_UNIX};
	char aname[64];
	int an = snprintf(aname, sizeof aname, "@qsg-test-notify-%ld", (long)getpid());
	memcpy(aa.sun_path, aname, (size_t)an);
	aa.sun_path[0] = '\0';
	assert_int_equal(bind(afd, (struct sockaddr *)&aa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + an)),
			 0);
	assert_int_equal(sdnotify_init(&n, aname, NULL, NULL, 42, errmsg), QSG_OK);
	assert_int_equal(sdnotify_send(&n, "STOPPING=1"), QSG_OK);
	r = recv(afd, buf, sizeof buf - 1, 0);
	assert_int_equal(r, 10);
	sdnotify_close(&n);
	close(afd);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(metrics_from_fsm, setup, teardown),
	    cmocka_unit_test_setup_teardown(metrics_channels, setup, teardown),
	    cmocka_unit_test_setup_teardown(metrics_chinit, setup, teardown),
	    cmocka_unit_test(readiness),
	    cmocka_unit_test(label_escaping),
	    cmocka_unit_test(json_escaping),
	    cmocka_unit_test(json_lines),
	    cmocka_unit_test(http_parse),
	    cmocka_unit_test(http_live),
	    cmocka_unit_test(sd_notify_datagrams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
