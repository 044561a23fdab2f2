/* Unit tests of the TLS engine (src/tls): a client and a server engine pumped
 * into each other in memory. Handshake, identity and data both ways (1 MiB in
 * pieces, byte-at-a-time feeding); refusals (no client certificate, another
 * CA, the wrong peer name) that leave both sides failed with a reason;
 * garbage; the buffer caps; close_notify and truncation; reload of the
 * certificates. The certificates come from scripts/tls-certs (found through
 * top_srcdir, as make check sets it) in temporary directories removed at the
 * end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tls/tls.h"
#include "tls/tls_int.h"

#define TEST_TMP_NAME "tls"
#include "tmpdir.h"

static char dir_a[256]; /* CA "a": ca, server, client, QM1 */
static char dir_b[256]; /* CA "b": ca, client (the wrong CA) */

static void run(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fail_msg("'%s' exited %d", cmd, rc);
}

static int setup(void **state)
{
	const char *top = getenv("top_srcdir");
	char cmd[1024];

	(void)state;
	if (top == NULL)
		top = "..";
	mkdir_tmp(dir_a, sizeof dir_a);
	mkdir_tmp(dir_b, sizeof dir_b);
	snprintf(cmd, sizeof cmd, "'%s/scripts/tls-certs' '%s' server client QM1 >/dev/null", top,
		 dir_a);
	run(cmd);
	snprintf(cmd, sizeof cmd, "'%s/scripts/tls-certs' '%s' client server >/dev/null", top,
		 dir_b);
	run(cmd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_tmp(dir_a);
	rm_tmp(dir_b);
	return 0;
}

/* ---- helpers ---- */

static void path(char *out, size_t n, const char *dir, const char *name, const char *ext)
{
	snprintf(out, n, "%s/%s.%s", dir, name, ext);
}

/* A context in role with verify mode v, certificate name (NULL: none) from
 * certdir, trusting cadir's CA. */
static int mk_ctx(struct tls_ctx *ctx, enum tls_role role, enum tls_verify v, const char *certdir,
		  const char *name, const char *cadir, char *err)
{
	char key[300], crt[300], ca[300];
	struct tls_config cfg = {.role = role, .verify = v};

	if (name != NULL) {
		path(key, sizeof key, certdir, name, "key");
		path(crt, sizeof crt, certdir, name, "crt");
		cfg.key_file = key;
		cfg.cert_file = crt;
	}
	if (cadir != NULL) {
		path(ca, sizeof ca, cadir, "ca", "crt");
		cfg.ca_file = ca;
	}
	return tls_ctx_init(ctx, &cfg, err);
}

static void ctx_ok(struct tls_ctx *ctx, enum tls_role role, enum tls_verify v, const char *certdir,
		   const char *name, const char *cadir)
{
	char err[QSG_ERRMSG_SIZE] = "";
	int rc = mk_ctx(ctx, role, v, certdir, name, cadir, err);
	if (rc != QSG_OK)
		fail_msg("tls_ctx_init: %s (%s)", qsg_rc_name(rc), err);
}

static void conn_ok(struct tls_conn *c, struct tls_ctx *ctx, const char *expect)
{
	char err[QSG_ERRMSG_SIZE] = "";
	int rc = tls_conn_init(c, ctx, expect, err);
	if (rc != QSG_OK)
		fail_msg("tls_conn_init: %s (%s)", qsg_rc_name(rc), err);
}

/* Moves a's ciphertext into b, at most chunk bytes per feed; stops when b
 * is full. Bytes after b failed are dropped (the network would carry them
 * to a closed end). Returns the bytes moved. */
static size_t move(struct tls_conn *a, struct tls_conn *b, size_t chunk)
{
	const void *p;
	size_t n, moved = 0;

	tls_conn_pending(a, &p, &n);
	while (n > 0) {
		size_t k = n < chunk ? n : chunk;
		int rc = tls_conn_feed(b, p, k);
		if (rc == QSG_RC_TLS_BUFFER_FULL)
			break;
		tls_conn_consume(a, k);
		moved += k;
		tls_conn_pending(a, &p, &n);
		if (rc != QSG_OK) {
			tls_conn_consume(a, n);
			break;
		}
	}
	return moved;
}

static void pump(struct tls_conn *a, struct tls_conn *b, size_t chunk)
{
	while (move(a, b, chunk) + move(b, a, chunk) > 0) {
	}
}

/* The fingerprint openssl's command line prints for a certificate file. */
static void cli_fingerprint(const char *crt, char out[TLS_FP_SIZE])
{
	char cmd[512], line[256];
	FILE *f;
	char *eq;

	snprintf(cmd, sizeof cmd, "openssl x509 -noout -fingerprint -sha256 -in '%s'", crt);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	pclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	eq = strchr(line, '=');
	assert_non_null(eq);
	snprintf(out, TLS_FP_SIZE, "%s", eq + 1);
}

struct pair {
	struct tls_ctx sctx, cctx;
	struct tls_conn s, c;
};

/* Mutual TLS with CA a: server "server", client "client". */
static void pair_open(struct pair *p, const char *expect_by_client, const char *expect_by_server)
{
	ctx_ok(&p->sctx, TLS_SERVER, TLS_VERIFY_REQUIRED, dir_a, "server", dir_a);
	ctx_ok(&p->cctx, TLS_CLIENT, TLS_VERIFY_REQUIRED, dir_a, "client", dir_a);
	conn_ok(&p->s, &p->sctx, expect_by_server);
	conn_ok(&p->c, &p->cctx, expect_by_client);
}

static void pair_close(struct pair *p)
{
	tls_conn_close(&p->s);
	tls_conn_close(&p->c);
	tls_ctx_close(&p->sctx);
	tls_ctx_close(&p->cctx);
}

static void read_all(struct tls_conn *c, char *buf, size_t cap, size_t *len)
{
	size_t got;

	*len = 0;
	do {
		assert_int_equal(tls_conn_read(c, buf + *len, cap - *len, &got), QSG_OK);
		*len += got;
	} while (got > 0 && *len < cap);
}

/* Both ends failed; the reasons name what went wrong. */
static void both_failed(struct pair *p, int srv_rc, int cli_rc)
{
	assert_true(tls_conn_failed(&p->s));
	assert_true(tls_conn_failed(&p->c));
	assert_int_equal(tls_conn_rc(&p->s), srv_rc);
	assert_int_equal(tls_conn_rc(&p->c), cli_rc);
	assert_true(strlen(tls_conn_reason(&p->s)) > 10);
	assert_true(strlen(tls_conn_reason(&p->c)) > 10);
}

/* ---- tests ---- */

static void test_handshake_data(void **state)
{
	struct pair p;
	char buf[64], fp[TLS_FP_SIZE], crt[300];
	size_t n;

	(void)state;
	pair_open(&p, NULL, NULL);
	assert_false(tls_conn_handshake_done(&p.c));
	/* Written before the handshake: held, then sent. */
	assert_int_equal(tls_conn_write(&p.c, "early", 5), QSG_OK);
	pump(&p.c, &p.s, 65536);
	assert_true(tls_conn_handshake_done(&p.c));
	assert_true(tls_conn_handshake_done(&p.s));
	assert_string_equal(tls_conn_version(&p.c), "TLSv1.3");
	assert_true(strlen(tls_conn_cipher(&p.s)) > 0);
	assert_string_equal(tls_conn_peer_cn(&p.c), "server");
	assert_string_equal(tls_conn_peer_cn(&p.s), "client");
	assert_string_equal(tls_conn_peer_dn(&p.s), "CN=client,O=qsg test");
	assert_true(tls_conn_peer_verified(&p.s));
	assert_true(tls_conn_peer_verified(&p.c));
	path(crt, sizeof crt, dir_a, "server", "crt");
	cli_fingerprint(crt, fp);
	assert_string_equal(tls_conn_peer_fingerprint(&p.c), fp);
	path(crt, sizeof crt, dir_a, "client", "crt");
	cli_fingerprint(crt, fp);
	assert_string_equal(tls_conn_peer_fingerprint(&p.s), fp);
	read_all(&p.s, buf, sizeof buf, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "early", 5);
	assert_int_equal(tls_conn_write(&p.s, "world", 5), QSG_OK);
	assert_int_equal(tls_conn_write(&p.c, "hello", 5), QSG_OK);
	pump(&p.c, &p.s, 65536);
	read_all(&p.s, buf, sizeof buf, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	read_all(&p.c, buf, sizeof buf, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "world", 5);
	assert_false(tls_conn_failed(&p.s) || tls_conn_failed(&p.c));
	pair_close(&p);
}

/* total bytes from a to b written in pieces of piece, moved chunk bytes per
 * feed, read back in reads of up to 7777 bytes; both directions at once. */
static void stream_both(size_t total, size_t piece, size_t chunk)
{
	struct pair p;
	unsigned char *src = malloc(total), *got_s = malloc(total), *got_c = malloc(total);
	size_t sent_c = 0, sent_s = 0, recv_s = 0, recv_c = 0, got;
	int rounds = 0;

	assert_non_null(src);
	assert_non_null(got_s);
	assert_non_null(got_c);
	for (size_t i = 0; i < total; i++)
		src[i] = (unsigned char)(i * 131 + (i >> 9));
	pair_open(&p, "server", "client");
	while (recv_s < total || recv_c < total) {
		size_t k;
		int rc;

		assert_true(++rounds < 1000000);
		k = total - sent_c < piece ? total - sent_c : piece;
		if (k > 0) {
			rc = tls_conn_write(&p.c, src + sent_c, k);
			assert_true(rc == QSG_OK || rc == QSG_RC_TLS_BUFFER_FULL);
			sent_c += rc == QSG_OK ? k : 0;
		}
		k = total - sent_s < piece ? total - sent_s : piece;
		if (k > 0) {
			rc = tls_conn_write(&p.s, src + sent_s, k);
			assert_true(rc == QSG_OK || rc == QSG_RC_TLS_BUFFER_FULL);
			sent_s += rc == QSG_OK ? k : 0;
		}
		move(&p.c, &p.s, chunk);
		move(&p.s, &p.c, chunk);
		do {
			size_t cap = total - recv_s < 7777 ? total - recv_s : 7777;
			assert_int_equal(tls_conn_read(&p.s, got_s + recv_s, cap, &got), QSG_OK);
			recv_s += got;
		} while (got > 0);
		do {
			size_t cap = total - recv_c < 7777 ? total - recv_c : 7777;
			assert_int_equal(tls_conn_read(&p.c, got_c + recv_c, cap, &got), QSG_OK);
			recv_c += got;
		} while (got > 0);
	}
	assert_memory_equal(got_s, src, total);
	assert_memory_equal(got_c, src, total);
	assert_false(tls_conn_failed(&p.s) || tls_conn_failed(&p.c));
	pair_close(&p);
	free(src);
	free(got_s);
	free(got_c);
}

static void test_one_mib_pieces(void **state)
{
	(void)state;
	stream_both(1024 * 1024, 10000, 4096);
	stream_both(1024 * 1024, 300000, 65536);
}

static void test_byte_at_a_time(void **state)
{
	(void)state;
	/* The handshake and 20 KB (records across many feeds), one byte per
	 * feed. */
	stream_both(20000, 3000, 1);
}

static void test_no_client_cert_refused(void **state)
{
	struct pair p;

	(void)state;
	ctx_ok(&p.sctx, TLS_SERVER, TLS_VERIFY_REQUIRED, dir_a, "server", dir_a);
	ctx_ok(&p.cctx, TLS_CLIENT, TLS_VERIFY_REQUIRED, NULL, NULL, dir_a);
	conn_ok(&p.s, &p.sctx, NULL);
	conn_ok(&p.c, &p.cctx, NULL);
	assert_int_equal(tls_conn_write(&p.c, "secret", 6), QSG_OK);
	pump(&p.c, &p.s, 65536);
	both_failed(&p, QSG_RC_TLS_FAILED, QSG_RC_TLS_FAILED);
	assert_non_null(strstr(tls_conn_reason(&p.s), "certificate"));
	assert_non_null(strstr(tls_conn_reason(&p.c), "certificate"));
	assert_string_equal(tls_conn_peer_cn(&p.s), "");
	pair_close(&p);

	/* Optional: the same client is let in, without an identity. */
	ctx_ok(&p.sctx, TLS_SERVER, TLS_VERIFY_OPTIONAL, dir_a, "server", dir_a);
	ctx_ok(&p.cctx, TLS_CLIENT, TLS_VERIFY_REQUIRED, NULL, NULL, dir_a);
	conn_ok(&p.s, &p.sctx, NULL);
	conn_ok(&p.c, &p.cctx, NULL);
	pump(&p.c, &p.s, 65536);
	assert_true(tls_conn_handshake_done(&p.s));
	assert_false(tls_conn_failed(&p.c));
	assert_false(tls_conn_peer_verified(&p.s));
	assert_string_equal(tls_conn_peer_dn(&p.s), "");
	/* ... but not where a peer name is required. */
	tls_conn_close(&p.s);
	tls_conn_close(&p.c);
	conn_ok(&p.s, &p.sctx, "client");
	conn_ok(&p.c, &p.cctx, NULL);
	pump(&p.c, &p.s, 65536);
	both_failed(&p, QSG_RC_TLS_FAILED, QSG_RC_TLS_FAILED);
	pair_close(&p);
}

static void test_other_ca_refused(void **state)
{
	struct pair p;

	(void)state;
	/* A client whose certificate comes from CA b. */
	ctx_ok(&p.sctx, TLS_SERVER, TLS_VERIFY_REQUIRED, dir_a, "server", dir_a);
	ctx_ok(&p.cctx, TLS_CLIENT, TLS_VERIFY_REQUIRED, dir_b, "client", dir_a);
	conn_ok(&p.s, &p.sctx, NULL);
	conn_ok(&p.c, &p.cctx, NULL);
	pump(&p.c, &p.s, 65536);
	both_failed(&p, QSG_RC_TLS_FAILED, QSG_RC_TLS_FAILED);
	assert_non_null(strstr(tls_conn_reason(&p.s), "certificate verify failed"));
	assert_non_null(strstr(tls_conn_reason(&p.c), "unknown ca"));
	pair_close(&p);

	/* A server whose certificate comes from CA b. */
	ctx_ok(&p.sctx, TLS_SERVER, TLS_VERIFY_REQUIRED, dir_b, "server", dir_a);
	ctx_ok(&p.cctx, TLS_CLIENT, TLS_VERIFY_REQUIRED, dir_a, "client", dir_a);
	conn_ok(&p.s, &p.sctx, NULL);
	conn_ok(&p.c, &p.cctx, NULL);
	pump(&p.c, &p.s, 65536);
	both_failed(&p, QSG_RC_TLS_FAILED, QSG_RC_TLS_FAILED);
	assert_non_null(strstr(tls_conn_reason(&p.c), "certificate verify failed"));
	assert_false(tls_conn_handshake_done(&p.c));
	pair_close(&p);
}

static void test_expect_peer(void **state)
{
	struct pair p;
	char err[QSG_ERRMSG_SIZE];
	struct tls_conn c;

	(void)state;
	/* The client wants QM1 and reaches "server". */
	pair_open(&p, "QM1", NULL);
	pump(&p.c, &p.s, 65536);
	both_failed(&p, QSG_RC_TLS_FAILED, QSG_RC_SSL_PEER_NAME_MISMATCH);
	assert_non_null(strstr(tls_conn_reason(&p.c), "CN=server"));
	assert_non_null(strstr(tls_conn_reason(&p.c), "QM1"));
	pair_close(&p);

	/* The server wants QM1 and gets "client". */
	pair_open(&p, NULL, "QM1");
	pump(&p.c, &p.s, 65536);
	both_failed(&p, QSG_RC_SSL_PEER_NAME_MISMATCH, QSG_RC_TLS_FAILED);
	pair_close(&p);

	/* Names that match: the CN, whole attributes of the DN. */
	pair_open(&p, "CN=server,O=qsg test", "O=qsg test");
	pump(&p.c, &p.s, 65536);
	assert_false(tls_conn_failed(&p.c) || tls_conn_failed(&p.s));
	assert_true(tls_conn_handshake_done(&p.s));
	pair_close(&p);

	/* A part of an attribute is not a match. */
	pair_open(&p, "CN=serv", NULL);
	pump(&p.c, &p.s, 65536);
	assert_int_equal(tls_conn_rc(&p.c), QSG_RC_SSL_PEER_NAME_MISMATCH);
	pair_close(&p);

	/* No verification, no peer name. */
	ctx_ok(&p.cctx, TLS_CLIENT, TLS_VERIFY_NONE, NULL, NULL, NULL);
	assert_int_equal(tls_conn_init(&c, &p.cctx, "QM1", err), QSG_RC_CONFIG);
	tls_ctx_close(&p.cctx);

	/* The matcher itself. */
	assert_true(tls_peer_match("QM1", "CN=QM1,O=x", "QM1"));
	assert_false(tls_peer_match("QM1", "CN=QM10,O=x", "QM10"));
	assert_false(tls_peer_match("QM1", "", ""));
	assert_true(tls_peer_match("O=x", "CN=QM1,O=x", "QM1"));
	assert_true(tls_peer_match("CN=QM1", "CN=QM1,O=x", "QM1"));
	assert_false(tls_peer_match("CN=QM", "CN=QM1,O=x", "QM1"));
	assert_false(tls_peer_match("O=x", "CN=QM1,O=xy", "QM1"));
	/* An escaped comma inside a value is not a boundary. */
	assert_false(tls_peer_match("O=acme", "CN=a\\,O=acme,O=evil", "a,O=acme"));
	assert_true(tls_peer_match("O=acme", "CN=a\\\\,O=acme", "a\\"));
}

static void test_garbage(void **state)
{
	struct tls_ctx sctx;
	struct tls_conn s;
	struct pair p;
	unsigned char junk[4096];
	unsigned seed = 7;
	const void *cp;
	size_t n, got;
	char buf[16];

	(void)state;
	ctx_ok(&sctx, TLS_SERVER, TLS_VERIFY_REQUIRED, dir_a, "server", dir_a);
	/* Text where a ClientHello belongs. */
	conn_ok(&s, &sctx, NULL);
	assert_int_equal(tls_conn_feed(&s, "GET / HTTP/1.1\r\n\r\n", 18), QSG_RC_TLS_FAILED);
	assert_true(tls_conn_failed(&s));
	assert_true(strlen(tls_conn_reason(&s)) > 10);
	assert_int_equal(tls_conn_feed(&s, "x", 1), QSG_RC_TLS_FAILED);
	assert_int_equal(tls_conn_read(&s, buf, sizeof buf, &got), QSG_RC_TLS_FAILED);
	assert_int_equal(tls_conn_write(&s, "x", 1), QSG_RC_TLS_FAILED);
	tls_conn_close(&s);
	/* Random bytes, after a plausible record header too. */
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < sizeof junk; i++)
			junk[i] = (unsigned char)rand_r(&seed);
		if (round % 2) {
			memcpy(junk, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
		}
		conn_ok(&s, &sctx, NULL);
		for (size_t off = 0; off < sizeof junk && !tls_conn_failed(&s); off += 97)
			tls_conn_feed(&s, junk + off,
				      sizeof junk - off < 97 ? sizeof junk - off : 97);
		assert_true(tls_conn_failed(&s));
		assert_int_equal(tls_conn_rc(&s), QSG_RC_TLS_FAILED);
		tls_conn_close(&s);
	}
	tls_ctx_close(&sctx);

	/* A record changed in flight after the handshake. */
	pair_open(&p, NULL, NULL);
	pump(&p.c, &p.s, 65536);
	assert_int_equal(tls_conn_write(&p.c, "payload", 7), QSG_OK);
	tls_conn_pending(&p.c, &cp, &n);
	assert_true(n > 10);
	memcpy(junk, cp, n);
	junk[n - 3] ^= 0x40;
	assert_int_equal(tls_conn_feed(&p.s, junk, n), QSG_RC_TLS_FAILED);
	assert_non_null(strstr(tls_conn_reason(&p.s), "TLS read"));
	/* The server's alert fails the client too. */
	tls_conn_consume(&p.c, n);
	pump(&p.c, &p.s, 65536);
	assert_true(tls_conn_failed(&p.c));
	pair_close(&p);
}

static void test_buffer_limits(void **state)
{
	struct pair p;
	static unsigned char big[TLS_BUF_CAP + 1];
	unsigned char piece[65536];
	size_t wrote = 0, fed = 0, got, drained = 0;
	const void *cp;
	size_t n;
	int rc;

	(void)state;
	memset(piece, 'z', sizeof piece);
	pair_open(&p, NULL, NULL);
	/* Held plaintext before the handshake: exactly the cap, not a byte more. */
	assert_int_equal(tls_conn_write(&p.c, big, TLS_BUF_CAP + 1), QSG_RC_TLS_BUFFER_FULL);
	assert_int_equal(tls_conn_write(&p.c, big, TLS_BUF_CAP - 1), QSG_OK);
	assert_int_equal(tls_conn_write(&p.c, big, 2), QSG_RC_TLS_BUFFER_FULL);
	assert_int_equal(tls_conn_write(&p.c, big, 1), QSG_OK);
	assert_false(tls_conn_failed(&p.c));
	pump(&p.c, &p.s, 65536);
	assert_true(tls_conn_handshake_done(&p.s));
	/* The server never reads: its plaintext buffer, then its ciphertext
	 * buffer fill up, and feeding is refused without failing. */
	for (;;) {
		rc = tls_conn_write(&p.c, piece, sizeof piece);
		if (rc == QSG_OK) {
			wrote += sizeof piece;
		} else {
			assert_int_equal(rc, QSG_RC_TLS_BUFFER_FULL);
		}
		size_t m = move(&p.c, &p.s, 65536);
		fed += m;
		if (rc != QSG_OK && m == 0)
			break;
		assert_true(wrote < 16 * (size_t)TLS_BUF_CAP);
	}
	assert_false(tls_conn_failed(&p.s));
	assert_false(tls_conn_failed(&p.c));
	tls_conn_pending(&p.c, &cp, &n);
	assert_true(n > 0);
	assert_int_equal(tls_conn_feed(&p.s, cp, n), QSG_RC_TLS_BUFFER_FULL);
	assert_true(fed > TLS_BUF_CAP / 2);
	assert_true(fed <= TLS_BUF_CAP);
	/* One feed larger than the cap is never taken. */
	assert_int_equal(tls_conn_feed(&p.s, big, TLS_BUF_CAP + 1), QSG_RC_TLS_BUFFER_FULL);
	/* Reading makes room; everything arrives. */
	for (int i = 0; i < 100000 && drained < TLS_BUF_CAP + wrote; i++) {
		static unsigned char sink[100000];
		move(&p.c, &p.s, 65536);
		assert_int_equal(tls_conn_read(&p.s, sink, sizeof sink, &got), QSG_OK);
		drained += got;
	}
	assert_int_equal(drained, TLS_BUF_CAP + wrote);
	assert_false(tls_conn_failed(&p.s));
	pair_close(&p);
}

static void test_close_notify(void **state)
{
	struct pair p;
	char buf[16];
	size_t got;

	(void)state;
	pair_open(&p, NULL, NULL);
	pump(&p.c, &p.s, 65536);
	assert_int_equal(tls_conn_write(&p.c, "bye", 3), QSG_OK);
	assert_int_equal(tls_conn_shutdown(&p.c), QSG_OK);
	assert_int_equal(tls_conn_write(&p.c, "more", 4), QSG_RC_INVALID);
	pump(&p.c, &p.s, 65536);
	assert_true(tls_conn_peer_closed(&p.s));
	assert_false(tls_conn_failed(&p.s));
	/* Data before the close_notify is still read; then nothing. */
	assert_int_equal(tls_conn_read(&p.s, buf, sizeof buf, &got), QSG_OK);
	assert_int_equal(got, 3);
	assert_int_equal(tls_conn_read(&p.s, buf, sizeof buf, &got), QSG_OK);
	assert_int_equal(got, 0);
	assert_int_equal(tls_conn_eof(&p.s), QSG_OK);
	/* The server answers with its own. */
	assert_int_equal(tls_conn_shutdown(&p.s), QSG_OK);
	pump(&p.c, &p.s, 65536);
	assert_true(tls_conn_peer_closed(&p.c));
	assert_int_equal(tls_conn_eof(&p.c), QSG_OK);
	pair_close(&p);

	/* The transport ends without close_notify: truncation. */
	pair_open(&p, NULL, NULL);
	pump(&p.c, &p.s, 65536);
	assert_int_equal(tls_conn_eof(&p.s), QSG_RC_TLS_FAILED);
	assert_non_null(strstr(tls_conn_reason(&p.s), "close_notify"));
	pair_close(&p);
}

static void test_reload(void **state)
{
	struct pair p;
	struct tls_conn old_s, c2;
	char fp1[TLS_FP_SIZE], fp2[TLS_FP_SIZE], crt[300], moved[320], cmd[1024], err[256];
	const char *top = getenv("top_srcdir");
	char buf[8];
	size_t n;

	(void)state;
	if (top == NULL)
		top = "..";
	pair_open(&p, NULL, NULL);
	path(crt, sizeof crt, dir_a, "QM1", "crt");
	tls_ctx_close(&p.sctx);
	tls_conn_close(&p.s);
	ctx_ok(&p.sctx, TLS_SERVER, TLS_VERIFY_REQUIRED, dir_a, "QM1", dir_a);
	conn_ok(&p.s, &p.sctx, NULL);
	cli_fingerprint(crt, fp1);
	/* A server connection made before the reload keeps its certificate. */
	conn_ok(&old_s, &p.sctx, NULL);
	assert_int_equal(p.sctx.generation, 1);

	snprintf(cmd, sizeof cmd, "'%s/scripts/tls-certs' -f '%s' QM1 >/dev/null", top, dir_a);
	run(cmd);
	cli_fingerprint(crt, fp2);
	assert_string_not_equal(fp1, fp2);
	assert_int_equal(tls_ctx_reload(&p.sctx, err), QSG_OK);
	assert_int_equal(p.sctx.generation, 2);

	pump(&p.c, &old_s, 65536);
	assert_true(tls_conn_handshake_done(&p.c));
	assert_string_equal(tls_conn_peer_fingerprint(&p.c), fp1);
	assert_int_equal(tls_conn_write(&old_s, "old", 3), QSG_OK);
	pump(&p.c, &old_s, 65536);
	read_all(&p.c, buf, sizeof buf, &n);
	assert_int_equal(n, 3);

	conn_ok(&c2, &p.cctx, NULL);
	tls_conn_close(&p.s);
	conn_ok(&p.s, &p.sctx, NULL);
	pump(&c2, &p.s, 65536);
	assert_true(tls_conn_handshake_done(&c2));
	assert_string_equal(tls_conn_peer_fingerprint(&c2), fp2);
	tls_conn_close(&c2);
	tls_conn_close(&p.s);

	/* A reload that cannot read the certificate keeps the current one. */
	snprintf(moved, sizeof moved, "%s.away", crt);
	assert_int_equal(rename(crt, moved), 0);
	assert_int_equal(tls_ctx_reload(&p.sctx, err), QSG_RC_SSL_INITIALIZATION_ERROR);
	assert_non_null(strstr(err, "QM1.crt"));
	assert_int_equal(p.sctx.generation, 2);
	assert_int_equal(rename(moved, crt), 0);
	conn_ok(&c2, &p.cctx, NULL);
	conn_ok(&p.s, &p.sctx, NULL);
	pump(&c2, &p.s, 65536);
	assert_true(tls_conn_handshake_done(&c2));
	assert_string_equal(tls_conn_peer_fingerprint(&c2), fp2);
	tls_conn_close(&c2);
	tls_conn_close(&old_s);
	pair_close(&p);
}

static void test_ctx_errors(void **state)
{
	struct tls_ctx ctx;
	char err[QSG_ERRMSG_SIZE], key[300], crt[300], ca[300];
	struct tls_config cfg = {.role = TLS_SERVER};

	(void)state;
	/* A server needs a certificate; verification needs a CA. */
	assert_int_equal(mk_ctx(&ctx, TLS_SERVER, TLS_VERIFY_NONE, NULL, NULL, NULL, err),
			 QSG_RC_CONFIG);
	assert_int_equal(mk_ctx(&ctx, TLS_CLIENT, TLS_VERIFY_REQUIRED, NULL, NULL, NULL, err),
			 QSG_RC_CONFIG);
	/* Missing files, a key that is not the certificate's, bad ciphers. */
	assert_int_equal(mk_ctx(&ctx, TLS_SERVER, TLS_VERIFY_REQUIRED, dir_a, "nosuch", dir_a, err),
			 QSG_RC_SSL_INITIALIZATION_ERROR);
	assert_non_null(strstr(err, "nosuch.crt"));
	path(key, sizeof key, dir_a, "client", "key");
	path(crt, sizeof crt, dir_a, "server", "crt");
	path(ca, sizeof ca, dir_a, "ca", "crt");
	cfg.key_file = key;
	cfg.cert_file = crt;
	cfg.ca_file = ca;
	assert_int_equal(tls_ctx_init(&ctx, &cfg, err), QSG_RC_SSL_INITIALIZATION_ERROR);
	assert_non_null(strstr(err, "mismatch"));
	path(key, sizeof key, dir_a, "server", "key");
	cfg.ciphersuites = "TLS_NO_SUCH_SUITE";
	assert_int_equal(tls_ctx_init(&ctx, &cfg, err), QSG_RC_SSL_INITIALIZATION_ERROR);
	cfg.ciphersuites = NULL;
	cfg.min_version = 11;
	assert_int_equal(tls_ctx_init(&ctx, &cfg, err), QSG_RC_CONFIG);
	/* The CA file is not a certificate. */
	cfg.min_version = 13;
	cfg.ca_file = key;
	assert_int_equal(tls_ctx_init(&ctx, &cfg, err), QSG_RC_SSL_INITIALIZATION_ERROR);
	cfg.ca_file = ca;
	assert_int_equal(tls_ctx_init(&ctx, &cfg, err), QSG_OK);
	tls_ctx_close(&ctx);
}

/* TLS 1.2 still works (minimum), with a chosen cipher list. */
static void test_tls12(void **state)
{
	struct pair p;
	char key[300], crt[300], ca[300], err[QSG_ERRMSG_SIZE];
	struct tls_config cfg = {
	    .role = TLS_CLIENT, .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256", .max_version = 12};

	(void)state;
	path(key, sizeof key, dir_a, "client", "key");
	path(crt, sizeof crt, dir_a, "client", "crt");
	path(ca, sizeof ca, dir_a, "ca", "crt");
	cfg.key_file = key;
	cfg.cert_file = crt;
	cfg.ca_file = ca;
	/* A client that stops at TLS 1.2: the server (up to 1.3) agrees. */
	assert_int_equal(tls_ctx_init(&p.cctx, &cfg, err), QSG_OK);
	ctx_ok(&p.sctx, TLS_SERVER, TLS_VERIFY_REQUIRED, dir_a, "server", dir_a);
	conn_ok(&p.s, &p.sctx, "client");
	conn_ok(&p.c, &p.cctx, "server");
	assert_int_equal(tls_conn_write(&p.c, "v12", 3), QSG_OK);
	pump(&p.c, &p.s, 65536);
	assert_string_equal(tls_conn_version(&p.s), "TLSv1.2");
	assert_string_equal(tls_conn_cipher(&p.s), "ECDHE-ECDSA-AES128-GCM-SHA256");
	assert_true(tls_conn_peer_verified(&p.s));
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_data),   cmocka_unit_test(test_one_mib_pieces),
	    cmocka_unit_test(test_byte_at_a_time),   cmocka_unit_test(test_no_client_cert_refused),
	    cmocka_unit_test(test_other_ca_refused), cmocka_unit_test(test_expect_peer),
	    cmocka_unit_test(test_garbage),	     cmocka_unit_test(test_buffer_limits),
	    cmocka_unit_test(test_close_notify),     cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_ctx_errors),	     cmocka_unit_test(test_tls12),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
