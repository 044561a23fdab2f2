/* Unit tests of src/qsgd/catchup.c: a member whose bodystore has missing
 * bodies fetches them from fake peers listening on loopback (real libuv loop,
 * real sockets, the framing of src/qsgd/stream.c and src/proto; the peers
 * answer with the real catchup_serve over real bodystores). Checked: the
 * HELLO as a member, every body filled with its content, replies cut at
 * PROTO_FETCH_CONTENT and the rest asked again, a pass without progress
 * moves on to another member, a peer sending a corrupt body is dropped (and
 * nothing corrupt is stored), catchup_serve's limits, and the parts of a
 * renamed message (a move to a backout queue) asked under its current
 * name. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "proto/proto.h"
#include "qsgd/basefile.h"
#include "qsgd/catchup.h"
#include "qsgd/stream.h"
#include "qsgd_fake.h"
#include "store/bodystore.h"

/* ---- bodystores ---- */

#define TEST_TMP_NAME "catchup"
#include "tmpdir.h"

struct bs {
	char dir[64];
	struct bodystore b;
};

static void bs_open(struct bs *s)
{
	struct store_config c;
	char err[QSG_ERRMSG_SIZE];
	mkdir_tmp(s->dir, sizeof s->dir);
	store_config_default(&c);
	c.dir = s->dir;
	c.segment_size = 8u << 20;
	assert_int_equal(bodystore_init(&s->b, &c, err), QSG_OK);
}

static void bs_close(struct bs *s)
{
	bodystore_close(&s->b);
	rm_tmp(s->dir);
}

/* Message k: props of k % 5 bytes, then the body; every 10th is 300 KiB so
 * that replies are cut by the content limit. */
#define PL(k) ((uint32_t)((k) % 5))
static uint32_t msg_len(uint64_t k)
{
	return k % 10 == 0 ? 300u * 1024 : 100 + (uint32_t)(k % 700);
}
static void msg_content(uint64_t k, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(k * 131 + i * 7);
}

static uint8_t buf[400 * 1024];

static uint32_t msg_crc(uint64_t k)
{
	uint32_t n = msg_len(k);
	msg_content(k, buf, n);
	return qsg_crc32c(0, buf, n);
}

static void hold(struct bs *s, uint64_t k)
{
	uint32_t n = msg_len(k), crc = msg_crc(k);
	assert_int_equal(bodystore_put(&s->b, k, buf, PL(k), buf + PL(k), n - PL(k), crc), QSG_OK);
}

static void claim(struct bs *s, uint64_t k)
{
	bodystore_claim(&s->b, k, PL(k), msg_len(k) - PL(k), msg_crc(k));
}

static void check_held(struct bs *s, uint64_t k)
{
	struct qsg_wbuf w;
	uint32_t n = msg_len(k), crc = msg_crc(k);
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_read(&s->b, k, PL(k), n - PL(k), crc, &w), QSG_OK);
	assert_int_equal(w.len, n);
	assert_memory_equal(w.data, buf, n);
	qsg_wbuf_close(&w);
}

/* ---- a fake peer: HELLO, then FETCH answered by catchup_serve ---- */

struct pconn {
	struct stream st;
	struct fpeer *fp;
};

struct fpeer {
	uv_tcp_t listener;
	struct stream_set set;
	int port;
	struct qsgd d; /* catchup_serve reads d.bodies and d.log */
	struct bs store;
	struct pconn *conns[16]; /* open connections */
	unsigned hellos;
	uint32_t hello_member;
	uint8_t hello_kind;
	unsigned fetches;
	uint32_t max_count; /* largest FETCH count asked */
	unsigned short_replies; /* replies that answered fewer than asked */
	bool corrupt; /* flip the last byte of every reply */
	struct qsgd_config cfg; /* dir: its bodystore's (base files) */
	unsigned base_fetches, base_refused;
};

static void pc_frame(struct stream *st, const uint8_t *p, size_t len)
{
	struct pconn *c = st->data;
	struct fpeer *fp = c->fp;
	struct proto_req req;
	char errmsg[QSG_ERRMSG_SIZE];

	assert_int_equal(proto_req_decode(p, len, &req, errmsg), QSG_OK);
	if (req.op == PROTO_HELLO) {
		struct proto_resp resp;
		memset(&resp, 0, sizeof resp);
		fp->hellos++;
		fp->hello_member = req.u.hello.member_id;
		fp->hello_kind = req.u.hello.kind;
		resp.op = PROTO_HELLO;
		resp.reqid = req.reqid;
		assert_int_equal(proto_resp_encode(&resp, &st->out), QSG_OK);
		stream_mark(st);
		return;
	}
	if (req.op == PROTO_FETCH_BASE) {
		size_t off = st->out.len;
		catchup_serve_base(&fp->d, &req, &st->out);
		struct proto_resp resp;
		assert_int_equal(
		    proto_resp_decode(st->out.data + off, st->out.len - off, &resp, errmsg),
		    QSG_OK);
		if (resp.rc == QSG_OK)
			fp->base_fetches++;
		else
			fp->base_refused++;
		stream_mark(st);
		return;
	}
	assert_int_equal(req.op, PROTO_FETCH);
	fp->fetches++;
	if (req.u.fetch.count > fp->max_count)
		fp->max_count = req.u.fetch.count;
	size_t off = st->out.len;
	catchup_serve(&fp->d, &req, &st->out);
	struct proto_resp resp;
	assert_int_equal(proto_resp_decode(st->out.data + off, st->out.len - off, &resp, errmsg),
			 QSG_OK);
	assert_int_equal(resp.rc, QSG_OK);
	if (resp.u.fetch.count < req.u.fetch.count)
		fp->short_replies++;
	if (fp->corrupt)
		st->out.data[st->out.len - 1] ^= 0x5a;
	stream_mark(st);
}

static void pc_error(struct stream *st, int rc, uint32_t reqid)
{
	(void)rc;
	(void)reqid;
	stream_close(st);
}

static void pc_closed(struct stream *st)
{
	struct pconn *c = st->data;
	for (size_t i = 0; i < 16; i++)
		if (c->fp->conns[i] == c)
			c->fp->conns[i] = NULL;
	free(c);
}

static const struct stream_ops pc_ops = {
    .on_frame = pc_frame,
    .on_error = pc_error,
    .on_closed = pc_closed,
};

static void on_connection(uv_stream_t *server, int status)
{
	struct fpeer *fp = server->data;
	assert_int_equal(status, 0);
	struct pconn *c = calloc(1, sizeof *c);
	c->fp = fp;
	uv_tcp_init(server->loop, &c->st.tcp);
	stream_init(&c->st, &fp->set, &pc_ops, c);
	assert_int_equal(uv_accept(server, (uv_stream_t *)&c->st.tcp), 0);
	assert_int_equal(stream_start(&c->st), QSG_OK);
	for (size_t i = 0; i < 16; i++)
		if (fp->conns[i] == NULL) {
			fp->conns[i] = c;
			return;
		}
	fail_msg("more than 16 connections to a fake peer");
}

static void peer_start(struct fpeer *fp, struct fake *fk)
{
	struct sockaddr_in sa;
	struct sockaddr_storage bound;
	int namelen = sizeof bound;

	memset(fp, 0, sizeof *fp);
	bs_open(&fp->store);
	snprintf(fp->cfg.dir, sizeof fp->cfg.dir, "%s", fp->store.dir);
	fp->d.cfg = &fp->cfg;
	fp->d.log = &fk->log;
	fp->d.bodies = &fp->store.b;
	stream_set_init(&fp->set, &fk->loop);
	fp->set.data = fp;
	uv_tcp_init(&fk->loop, &fp->listener);
	fp->listener.data = fp;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&fp->listener, (const struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&fp->listener, 8, on_connection), 0);
	assert_int_equal(uv_tcp_getsockname(&fp->listener, (struct sockaddr *)&bound, &namelen), 0);
	fp->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void peer_stop(struct fpeer *fp)
{
	for (size_t i = 0; i < 16; i++)
		if (fp->conns[i] != NULL && !fp->conns[i]->st.closing)
			stream_close(&fp->conns[i]->st);
	uv_close((uv_handle_t *)&fp->listener, NULL);
	stream_set_close(&fp->set, NULL);
}

/* ---- the member under test: id 1; member 2 leads, member 3 follows ---- */

struct env {
	struct fake fk;
	struct fpeer p2, p3;
	struct bs me;
	struct catchup *cu;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof *e);
	char errmsg[QSG_ERRMSG_SIZE];
	assert_non_null(e);
	fake_init(&e->fk, 3, 1, 0);
	peer_start(&e->p2, &e->fk);
	peer_start(&e->p3, &e->fk);
	snprintf(e->fk.cfg.members[1].listen, sizeof e->fk.cfg.members[1].listen, "127.0.0.1:%d",
		 e->p2.port);
	snprintf(e->fk.cfg.members[2].listen, sizeof e->fk.cfg.members[2].listen, "127.0.0.1:%d",
		 e->p3.port);
	e->fk.info.role = GLUE_FOLLOWER;
	e->fk.info.leader_id = 2;
	bs_open(&e->me);
	snprintf(e->fk.cfg.dir, sizeof e->fk.cfg.dir, "%s", e->me.dir);
	e->fk.d.bodies = &e->me.b;
	assert_int_equal(catchup_init(&e->cu, &e->fk.d, errmsg), QSG_OK);
	return e;
}

static void env_free(struct env *e)
{
	catchup_close(e->cu);
	peer_stop(&e->p2);
	peer_stop(&e->p3);
	fake_close(&e->fk);
	bs_close(&e->p2.store);
	bs_close(&e->p3.store);
	bs_close(&e->me);
	free(e);
}

static bool run_until_missing(struct env *e, uint64_t missing, unsigned max_ms)
{
	uint64_t start = uv_now(&e->fk.loop);
	while (e->me.b.nmissing != missing) {
		if (uv_now(&e->fk.loop) - start > max_ms)
			return false;
		fake_run_ms(&e->fk, 5);
	}
	return true;
}

#define N 300

static void fetch_from_leader_then_another_member(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct catchup_stats st;
	uint64_t bytes = 0;

	/* The leader holds 1..N; only member 3 holds N + 1. */
	for (uint64_t k = 1; k <= N; k++) {
		hold(&e->p2.store, k);
		bytes += msg_len(k);
	}
	hold(&e->p3.store, N + 1);
	for (uint64_t k = 1; k <= N + 1; k++)
		claim(&e->me, k);
	bodystore_restored(&e->me.b, N + 1);
	assert_int_equal(e->me.b.nmissing, N + 1);

	catchup_kick(e->cu);
	assert_true(run_until_missing(e, 1, 10000));
	assert_int_equal(e->p2.hellos, 1);
	assert_int_equal(e->p2.hello_kind, PROTO_KIND_MEMBER);
	assert_int_equal(e->p2.hello_member, 1);
	assert_true(e->p2.max_count <= CATCHUP_BATCH);
	assert_true(e->p2.short_replies >= 1); /* 30 x 300 KiB: cut at 1 MiB */
	catchup_stats(e->cu, &st);
	assert_true(st.active);
	assert_int_equal(st.missing, 1);
	assert_int_equal(st.fetched, N);
	assert_int_equal(st.bytes, bytes);
	for (uint64_t k = 1; k <= N; k++)
		check_held(&e->me, k);

	/* The leader does not hold N + 1: after that pass (no progress) the
	 * next member is asked, after the back-off. */
	assert_true(run_until_missing(e, 0, 5000));
	assert_true(e->p3.fetches >= 1);
	check_held(&e->me, N + 1);
	fake_run_ms(&e->fk, 2 * CATCHUP_TICK_MS);
	catchup_stats(e->cu, &st);
	assert_false(st.active);
	assert_int_equal(st.missing, 0);
	assert_int_equal(st.fetched, N + 1);
	assert_true(st.failures >= 1);
	env_free(e);
}

static void corrupt_peer_is_dropped(void **state)
{
	(void)state;
	struct env *e = env_new();
	struct catchup_stats st;

	/* Both hold everything; the leader corrupts what it sends. */
	for (uint64_t k = 1; k <= 50; k++) {
		hold(&e->p2.store, k);
		hold(&e->p3.store, k);
		claim(&e->me, k);
	}
	bodystore_restored(&e->me.b, 50);
	e->p2.corrupt = true;
	catchup_kick(e->cu);
	assert_true(run_until_missing(e, 0, 10000));
	assert_true(e->p2.fetches >= 1);
	assert_true(e->p3.fetches >= 1);
	catchup_stats(e->cu, &st);
	assert_true(st.failures >= 1);
	for (uint64_t k = 1; k <= 50; k++)
		check_held(&e->me, k);
	env_free(e);
}

static void leader_asks_the_others(void **state)
{
	(void)state;
	struct env *e = env_new();
	/* This member leads: it must not ask itself; member 2 is first. */
	e->fk.info.role = GLUE_LEADER;
	e->fk.info.leader_id = 1;
	for (uint64_t k = 1; k <= 20; k++) {
		hold(&e->p2.store, k);
		claim(&e->me, k);
	}
	bodystore_restored(&e->me.b, 20);
	assert_true(run_until_missing(e, 0, 5000));
	assert_int_equal(e->p2.hellos, 1);
	env_free(e);
}

/* catchup_serve directly: the content limit, not held, no store. */
static void serve_limits(void **state)
{
	(void)state;
	struct fake fk;
	struct bs s;
	struct qsgd d;
	struct qsg_wbuf out;
	struct proto_req req;
	struct proto_resp resp;
	struct proto_fetch_item it;
	char errmsg[QSG_ERRMSG_SIZE];
	uint64_t keys[] = {10, 20, 30, 31, 40};

	fake_init(&fk, 1, 1, 0);
	bs_open(&s);
	for (size_t i = 0; i < 5; i++)
		if (keys[i] != 31)
			hold(&s, keys[i]);
	memset(&d, 0, sizeof d);
	d.log = &fk.log;
	d.bodies = &s.b;
	memset(&req, 0, sizeof req);
	req.op = PROTO_FETCH;
	req.reqid = 9;
	req.u.fetch.count = 5;
	qsg_wbuf_init(&out);
	assert_int_equal(
	    proto_req_encode(&(struct proto_req){.op = PROTO_FETCH,
						 .reqid = 9,
						 .u.fetch = {.count = 5, .seqnos = keys}},
			     &out),
	    QSG_OK);
	assert_int_equal(proto_req_decode(out.data, out.len, &req, errmsg), QSG_OK);

	/* 3 x 300 KiB fit in 1 MiB, then 31 is not held (found 0, no
	 * content), then the fourth 300 KiB body would pass the limit. */
	struct qsg_wbuf r;
	qsg_wbuf_init(&r);
	catchup_serve(&d, &req, &r);
	assert_int_equal(proto_resp_decode(r.data, r.len, &resp, errmsg), QSG_OK);
	assert_int_equal(resp.reqid, 9);
	assert_int_equal(resp.rc, QSG_OK);
	assert_int_equal(resp.u.fetch.count, 4);
	size_t cur = 0;
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(proto_fetch_next(&resp, &cur, &it), 1);
		assert_true(it.seqno == keys[i]);
		assert_int_equal(it.found, keys[i] != 31);
		if (it.found) {
			assert_int_equal(it.crc, msg_crc(keys[i]));
			assert_int_equal(it.content.len, msg_len(keys[i]));
			assert_memory_equal(it.content.p, buf, it.content.len);
		}
	}
	assert_int_equal(proto_fetch_next(&resp, &cur, &it), 0);

	/* No store: every seqno answered, none found. */
	qsg_wbuf_reset(&r);
	d.bodies = NULL;
	catchup_serve(&d, &req, &r);
	assert_int_equal(proto_resp_decode(r.data, r.len, &resp, errmsg), QSG_OK);
	assert_int_equal(resp.u.fetch.count, 5);
	cur = 0;
	while (proto_fetch_next(&resp, &cur, &it) == 1)
		assert_int_equal(it.found, 0);
	qsg_wbuf_close(&r);
	qsg_wbuf_close(&out);
	bs_close(&s);
	fake_close(&fk);
}

/* Parts of chunked messages: part p of the message whose records' key is
 * k, content a function of (k, p). */
#define PART_LEN 1000u
static uint32_t part_of(uint64_t k, uint32_t p, uint8_t *out)
{
	msg_content(k * 16 + p, out, PART_LEN);
	return qsg_crc32c(0, out, PART_LEN);
}

/* Part p of message k put into s under seqno `as`. */
static void hold_part(struct bs *s, uint64_t as, uint64_t k, uint32_t p)
{
	uint8_t b[PART_LEN];
	uint32_t crc = part_of(k, p, b);
	assert_int_equal(bodystore_put_part(&s->b, as, p, NULL, 0, b, PART_LEN, crc), QSG_OK);
}

static void claim_part(struct bs *s, uint64_t as, uint64_t k, uint32_t p)
{
	uint8_t b[PART_LEN];
	bodystore_claim_part(&s->b, as, p, PART_LEN, part_of(k, p, b));
}

static void check_part(struct bs *s, uint64_t as, uint64_t k, uint32_t p)
{
	uint8_t b[PART_LEN];
	uint32_t crc = part_of(k, p, b);
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(bodystore_read_part(&s->b, as, p, PART_LEN, crc, &w), QSG_OK);
	assert_int_equal(w.len, PART_LEN);
	assert_memory_equal(w.data, b, PART_LEN);
	qsg_wbuf_close(&w);
}

/* Chunked messages moved to a backout queue while a part was still missing
 * here (docs/storage.md "Moves to a backout queue: rename"): parts 0 and 1
 * held, part 2 missing under the records' key, an alias new -> old. The
 * peers hold them under other keys than ours: the leader got message 7
 * after its move, under its new name 70 only (nothing under 7); member 3
 * held message 8 before its move (records under 8, alias 80). The
 * catch-up asks for each missing part under the current name (70, 80), a
 * peer resolves it, and our part fills under the records' key; message 9
 * (not moved) is asked under its own key after them, in a request of its
 * own (a request's seqnos ascend). Before, parts 7/2 and 8/2 were asked as
 * 7 | 2 << 48 and 8 | 2 << 48, which the leader did not hold: never
 * filled. */
static void renamed_parts_fetched_by_current_name(void **state)
{
	(void)state;
	struct env *e = env_new();
	for (uint32_t p = 0; p < 3; p++) {
		hold_part(&e->p2.store, 70, 7, p);
		hold_part(&e->p3.store, 8, 8, p);
		hold_part(&e->p2.store, 9, 9, p);
	}
	assert_int_equal(bodystore_rename(&e->p3.store.b, 8, 80), QSG_OK);
	for (uint64_t k = 7; k <= 9; k++) {
		hold_part(&e->me, k, k, 0);
		hold_part(&e->me, k, k, 1);
		claim_part(&e->me, k, k, 2); /* to fetch */
	}
	assert_int_equal(bodystore_rename(&e->me.b, 7, 70), QSG_OK);
	assert_int_equal(bodystore_rename(&e->me.b, 8, 80), QSG_OK);
	/* A snapshot names them 70, 80 and 9. */
	for (uint32_t p = 0; p < 3; p++) {
		claim_part(&e->me, 70, 7, p);
		claim_part(&e->me, 80, 8, p);
		claim_part(&e->me, 9, 9, p);
	}
	bodystore_restored(&e->me.b, 80);
	assert_int_equal(e->me.b.nmissing, 3);
	uint64_t keys[4], names[4];
	assert_int_equal(bodystore_missing(&e->me.b, 0, keys, 4), 3);
	bodystore_fetch_names(&e->me.b, keys, names, 3);
	assert_int_equal(names[0], 70 | (uint64_t)2 << 48);
	assert_int_equal(names[1], 80 | (uint64_t)2 << 48);
	assert_int_equal(names[2], 9 | (uint64_t)2 << 48);

	catchup_kick(e->cu);
	assert_true(run_until_missing(e, 0, 10000));
	for (uint32_t p = 0; p < 3; p++) {
		check_part(&e->me, 70, 7, p);
		check_part(&e->me, 80, 8, p);
		check_part(&e->me, 9, 9, p);
	}
	assert_true(e->p3.fetches >= 1); /* 80 was only there */
	env_free(e);
}

/* A base file (delta snapshots, docs/catchup.md "Base files"): the leader
 * lacks it (2085), member 3 has it; the fetch resumes a part file cut in
 * the middle of a chunk and ends with the file's exact bytes, in 1 MiB
 * chunks; nothing is fetched again once complete. */
static void base_file_fetched_in_chunks(void **state)
{
	(void)state;
	struct env *e = env_new();
	char errmsg[QSG_ERRMSG_SIZE];
	size_t plen = (5u << 19) + 12345; /* 2.5 MiB and some */
	uint8_t *payload = malloc(plen);
	assert_non_null(payload);
	for (size_t i = 0; i < plen; i++)
		payload[i] = (uint8_t)(i * 131 + (i >> 13));
	struct fsm_baseref ref;
	assert_int_equal(basefile_write(e->p3.store.dir, 193, payload, plen, &ref, errmsg), QSG_OK);
	char src[512], part[600];
	basefile_path(src, sizeof src, e->p3.store.dir, 193);
	basefile_path(part, sizeof part - 8, e->me.dir, 193);
	strcat(part, ".part");
	FILE *in = fopen(src, "rb");
	assert_non_null(in);
	uint8_t *file = malloc((size_t)ref.size);
	assert_non_null(file);
	assert_int_equal(fread(file, 1, (size_t)ref.size, in), ref.size);
	fclose(in);
	size_t had = (1u << 20) + 100; /* an interrupted fetch */
	FILE *out = fopen(part, "wb");
	assert_non_null(out);
	assert_int_equal(fwrite(file, 1, had, out), had);
	fclose(out);

	catchup_want_base(e->cu, &ref);
	uint64_t start = uv_now(&e->fk.loop);
	struct stat st;
	while (stat(part, &st) != 0 || (uint64_t)st.st_size != ref.size) {
		assert_true(uv_now(&e->fk.loop) - start < 15000);
		fake_run_ms(&e->fk, 5);
	}
	fake_run_ms(&e->fk, 3 * CATCHUP_TICK_MS);
	assert_true(e->p2.base_refused >= 1); /* the leader lacks it */
	/* ceil((size - had) / 1 MiB) chunks from member 3 */
	assert_int_equal(e->p3.base_fetches, (ref.size - had + (1u << 20) - 1) >> 20);
	in = fopen(part, "rb");
	assert_non_null(in);
	uint8_t *got = malloc((size_t)ref.size);
	assert_non_null(got);
	assert_int_equal(fread(got, 1, (size_t)ref.size, in), ref.size);
	fclose(in);
	assert_memory_equal(got, file, (size_t)ref.size);
	const void *p;
	size_t n;
	assert_int_equal(basefile_check(got, (size_t)ref.size, &ref, &p, &n, errmsg), QSG_OK);
	assert_int_equal(n, plen);
	assert_memory_equal(p, payload, plen);
	/* A byte changed anywhere fails the check. */
	got[ref.size / 2] ^= 1;
	assert_int_not_equal(basefile_check(got, (size_t)ref.size, &ref, &p, &n, errmsg), QSG_OK);
	free(got);
	free(file);
	free(payload);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fetch_from_leader_then_another_member),
	    cmocka_unit_test(corrupt_peer_is_dropped),
	    cmocka_unit_test(leader_asks_the_others),
	    cmocka_unit_test(serve_limits),
	    cmocka_unit_test(renamed_parts_fetched_by_current_name),
	    cmocka_unit_test(base_file_fetched_in_chunks),
	};
	return cmocka_run_group_tests_name("catchup", tests, NULL, NULL);
}
