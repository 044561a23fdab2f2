/* Unit tests of certificate revocation in the TLS engine ([tls] crl,
 * src/tls/tls_crl.c): a client and a server engine pumped into each other in
 * memory, with a CA, certificates and CRLs made at test time by
 * scripts/tls-certs (-r revokes, -u takes off the list, -l writes the CRL).
 * A revoked client is refused by the server (QSG_RC_SSL_CERTIFICATE_REVOKED,
 * the reason names it, the client hears "certificate revoked"), another
 * client is not; a revoked server is refused by a client; reload picks up a
 * new CRL and keeps the old one when the new file is bad; crl_check = chain;
 * the load errors (missing file, no CRL in it, another CA's CRL, no CA). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tls/tls.h"

#define TEST_TMP_NAME "tlscrl"
#include "tmpdir.h"

static char dir_a[256]; /* CA "a": server, client, other; crl.pem */
static char dir_b[256]; /* CA "b": its own CRL (the wrong CA) */
static char top[256];

static void run(const char *fmt, const char *dir, const char *names)
{
	char cmd[2048];
	int rc;

	snprintf(cmd, sizeof cmd, "'%s/scripts/tls-certs' %s '%s' %s >/dev/null", top, fmt, dir,
		 names);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("'%s' exited %d", cmd, rc);
}

static int setup(void **state)
{
	const char *t = getenv("top_srcdir");

	(void)state;
	snprintf(top, sizeof top, "%s", t != NULL ? t : "..");
	mkdir_tmp(dir_a, sizeof dir_a);
	mkdir_tmp(dir_b, sizeof dir_b);
	run("", dir_a, "server client other");
	run("", dir_b, "client");
	run("-l", dir_b, "");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_tmp(dir_a);
	rm_tmp(dir_b);
	return 0;
}

static void path(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* A context of CA a with certificate name; crl (a path or NULL). */
static int mk_ctx(struct tls_ctx *ctx, enum tls_role role, const char *name, const char *crl,
		  enum tls_crl_check check, char *err)
{
	char key[600], crt[600], ca[600], n1[64], n2[64];
	struct tls_config cfg = {
	    .role = role, .verify = TLS_VERIFY_REQUIRED, .crl_file = crl, .crl_check = check};

	snprintf(n1, sizeof n1, "%s.key", name);
	snprintf(n2, sizeof n2, "%s.crt", name);
	path(key, sizeof key, dir_a, n1);
	path(crt, sizeof crt, dir_a, n2);
	path(ca, sizeof ca, dir_a, "ca.crt");
	cfg.key_file = key;
	cfg.cert_file = crt;
	cfg.ca_file = ca;
	return tls_ctx_init(ctx, &cfg, err);
}

static void ctx_ok(struct tls_ctx *ctx, enum tls_role role, const char *name, const char *crl,
		   enum tls_crl_check check)
{
	char err[QSG_ERRMSG_SIZE] = "";
	int rc = mk_ctx(ctx, role, name, crl, check, err);
	if (rc != QSG_OK)
		fail_msg("tls_ctx_init: %s (%s)", qsg_rc_name(rc), err);
}

static size_t move(struct tls_conn *a, struct tls_conn *b)
{
	const void *p;
	size_t n, moved = 0;

	tls_conn_pending(a, &p, &n);
	if (n > 0) {
		(void)tls_conn_feed(b, p, n);
		tls_conn_consume(a, n);
		moved = n;
	}
	return moved;
}

/* One handshake between a new server connection of sctx and a new client
 * connection of cctx, and a byte each way when it opened; true when it did
 * on both sides. The connections are left for the caller to look at. */
static bool shake(struct tls_ctx *sctx, struct tls_ctx *cctx, struct tls_conn *s,
		  struct tls_conn *c)
{
	char err[QSG_ERRMSG_SIZE], b;
	size_t got = 0;

	assert_int_equal(tls_conn_init(s, sctx, NULL, err), QSG_OK);
	assert_int_equal(tls_conn_init(c, cctx, NULL, err), QSG_OK);
	(void)tls_conn_write(c, "x", 1);
	(void)tls_conn_write(s, "y", 1);
	while (move(c, s) + move(s, c) > 0) {
	}
	if (tls_conn_failed(s) || tls_conn_failed(c))
		return false;
	assert_int_equal(tls_conn_read(s, &b, 1, &got), QSG_OK);
	assert_int_equal(got, 1);
	assert_int_equal(tls_conn_read(c, &b, 1, &got), QSG_OK);
	assert_int_equal(got, 1);
	return true;
}

static void close2(struct tls_conn *s, struct tls_conn *c)
{
	tls_conn_close(s);
	tls_conn_close(c);
}

static void crl_a(char *out, size_t n)
{
	path(out, n, dir_a, "crl.pem");
}

/* A client whose certificate the CRL lists is refused, with the reason;
 * another client of the same CA is not; without a CRL both pass. */
static void test_revoked_client(void **state)
{
	struct tls_ctx sctx, good, bad, plain;
	struct tls_conn s, c;
	char crl[600];

	(void)state;
	run("-u", dir_a, "client other");
	run("-r", dir_a, "client");
	crl_a(crl, sizeof crl);
	ctx_ok(&sctx, TLS_SERVER, "server", crl, TLS_CRL_LEAF);
	assert_int_equal(sctx.n_crls, 1);
	ctx_ok(&bad, TLS_CLIENT, "client", NULL, TLS_CRL_LEAF);
	ctx_ok(&good, TLS_CLIENT, "other", NULL, TLS_CRL_LEAF);

	assert_false(shake(&sctx, &bad, &s, &c));
	assert_true(tls_conn_failed(&s));
	assert_true(tls_conn_peer_revoked(&s));
	assert_int_equal(tls_conn_rc(&s), QSG_RC_SSL_CERTIFICATE_REVOKED);
	assert_non_null(strstr(tls_conn_reason(&s), "CN=client"));
	assert_non_null(strstr(tls_conn_reason(&s), "is revoked (CRL)"));
	assert_non_null(strstr(tls_conn_reason(&s), "serial "));
	/* The client hears it from the server's alert. */
	assert_true(tls_conn_failed(&c));
	assert_false(tls_conn_peer_revoked(&c));
	assert_non_null(strstr(tls_conn_reason(&c), "certificate revoked"));
	close2(&s, &c);

	assert_true(shake(&sctx, &good, &s, &c));
	assert_false(tls_conn_peer_revoked(&s));
	close2(&s, &c);

	/* The same client without a CRL on the server: accepted. */
	ctx_ok(&plain, TLS_SERVER, "server", NULL, TLS_CRL_LEAF);
	assert_int_equal(plain.n_crls, 0);
	assert_true(shake(&plain, &bad, &s, &c));
	close2(&s, &c);
	tls_ctx_close(&plain);
	tls_ctx_close(&sctx);
	tls_ctx_close(&bad);
	tls_ctx_close(&good);
}

/* A client with the CRL refuses a server whose certificate it lists. */
static void test_revoked_server(void **state)
{
	struct tls_ctx sctx, cctx;
	struct tls_conn s, c;
	char crl[600];

	(void)state;
	run("-u", dir_a, "client");
	run("-r", dir_a, "server");
	crl_a(crl, sizeof crl);
	ctx_ok(&sctx, TLS_SERVER, "server", NULL, TLS_CRL_LEAF);
	ctx_ok(&cctx, TLS_CLIENT, "client", crl, TLS_CRL_LEAF);
	assert_false(shake(&sctx, &cctx, &s, &c));
	assert_true(tls_conn_peer_revoked(&c));
	assert_int_equal(tls_conn_rc(&c), QSG_RC_SSL_CERTIFICATE_REVOKED);
	assert_non_null(strstr(tls_conn_reason(&c), "CN=server"));
	assert_false(tls_conn_peer_revoked(&s));
	close2(&s, &c);
	tls_ctx_close(&sctx);
	tls_ctx_close(&cctx);
	run("-u", dir_a, "server");
}

/* Reload reads the CRL again: a client revoked after init is refused after
 * reload (not before: the old CRL is in use until then), and accepted again
 * after it is taken off and reloaded. A bad file at reload: the reload
 * fails and the old CRL stays. */
static void test_reload(void **state)
{
	struct tls_ctx sctx, cctx;
	struct tls_conn s, c;
	char crl[600], err[QSG_ERRMSG_SIZE], cmd[2048];
	unsigned gen;

	(void)state;
	run("-u", dir_a, "client server other");
	crl_a(crl, sizeof crl);
	ctx_ok(&sctx, TLS_SERVER, "server", crl, TLS_CRL_LEAF);
	ctx_ok(&cctx, TLS_CLIENT, "client", NULL, TLS_CRL_LEAF);
	assert_true(shake(&sctx, &cctx, &s, &c));
	close2(&s, &c);

	run("-r", dir_a, "client");
	assert_true(shake(&sctx, &cctx, &s, &c)); /* not reloaded yet */
	close2(&s, &c);
	gen = sctx.generation;
	assert_int_equal(tls_ctx_reload(&sctx, err), QSG_OK);
	assert_int_equal(sctx.generation, gen + 1);
	assert_false(shake(&sctx, &cctx, &s, &c));
	assert_true(tls_conn_peer_revoked(&s));
	close2(&s, &c);

	/* A garbage CRL file: the reload fails, the old CRL still refuses. */
	snprintf(cmd, sizeof cmd, "cp '%s' '%s.good' && echo garbage >'%s'", crl, crl, crl);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(tls_ctx_reload(&sctx, err), QSG_RC_SSL_INITIALIZATION_ERROR);
	assert_non_null(strstr(err, "no CRL in it"));
	assert_int_equal(sctx.generation, gen + 1);
	assert_false(shake(&sctx, &cctx, &s, &c));
	assert_true(tls_conn_peer_revoked(&s));
	close2(&s, &c);
	/* A truncated CRL: unreadable. */
	snprintf(cmd, sizeof cmd, "head -c 200 '%s.good' >'%s'", crl, crl);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(tls_ctx_reload(&sctx, err), QSG_RC_SSL_INITIALIZATION_ERROR);
	assert_non_null(strstr(err, "unreadable"));

	run("-u", dir_a, "client");
	assert_int_equal(tls_ctx_reload(&sctx, err), QSG_OK);
	assert_true(shake(&sctx, &cctx, &s, &c));
	close2(&s, &c);
	tls_ctx_close(&sctx);
	tls_ctx_close(&cctx);
}

/* crl_check = chain: every CA of the chain needs a CRL (here the root's own
 * CRL covers it); a good client passes, a revoked one does not. */
static void test_chain(void **state)
{
	struct tls_ctx sctx, cctx;
	struct tls_conn s, c;
	char crl[600];

	(void)state;
	run("-u", dir_a, "client server other");
	crl_a(crl, sizeof crl);
	ctx_ok(&sctx, TLS_SERVER, "server", crl, TLS_CRL_CHAIN);
	ctx_ok(&cctx, TLS_CLIENT, "client", NULL, TLS_CRL_LEAF);
	assert_true(shake(&sctx, &cctx, &s, &c));
	close2(&s, &c);
	tls_ctx_close(&sctx);
	run("-r", dir_a, "client");
	ctx_ok(&sctx, TLS_SERVER, "server", crl, TLS_CRL_CHAIN);
	assert_false(shake(&sctx, &cctx, &s, &c));
	assert_true(tls_conn_peer_revoked(&s));
	close2(&s, &c);
	tls_ctx_close(&sctx);
	tls_ctx_close(&cctx);
	run("-u", dir_a, "client");
}

/* Files that must not load, each with its reason. Two CRLs in one file
 * load (one of them another CA's would not: both must be of ca). */
static void test_load_errors(void **state)
{
	struct tls_ctx ctx;
	char err[QSG_ERRMSG_SIZE], f[600], cmd[2048], crl[600];
	struct tls_config cfg = {.role = TLS_SERVER, .crl_file = "/nonexistent/crl.pem"};

	(void)state;
	run("-l", dir_a, "");
	crl_a(crl, sizeof crl);
	assert_int_equal(
	    mk_ctx(&ctx, TLS_SERVER, "server", "/nonexistent/crl.pem", TLS_CRL_LEAF, err),
	    QSG_RC_SSL_INITIALIZATION_ERROR);
	assert_non_null(strstr(err, "/nonexistent/crl.pem"));
	/* A certificate, not a CRL. */
	path(f, sizeof f, dir_a, "client.crt");
	assert_int_equal(mk_ctx(&ctx, TLS_SERVER, "server", f, TLS_CRL_LEAF, err),
			 QSG_RC_SSL_INITIALIZATION_ERROR);
	assert_non_null(strstr(err, "no CRL in it"));
	/* Another CA's CRL (scripts/tls-certs gives every CA the same name:
	 * the signature tells them apart). */
	path(f, sizeof f, dir_b, "crl.pem");
	assert_int_equal(mk_ctx(&ctx, TLS_SERVER, "server", f, TLS_CRL_LEAF, err),
			 QSG_RC_SSL_INITIALIZATION_ERROR);
	assert_non_null(strstr(err, "signature does not verify with the CA"));
	/* Two CRLs of CA a in one file: both load. */
	path(f, sizeof f, dir_a, "two.pem");
	snprintf(cmd, sizeof cmd, "cat '%s' '%s' >'%s'", crl, crl, f);
	assert_int_equal(system(cmd), 0);
	ctx_ok(&ctx, TLS_SERVER, "server", f, TLS_CRL_LEAF);
	assert_int_equal(ctx.n_crls, 2);
	tls_ctx_close(&ctx);
	/* CA a's and CA b's CRL in one file: the second is refused. */
	snprintf(cmd, sizeof cmd, "cat '%s' '%s/crl.pem' >'%s'", crl, dir_b, f);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mk_ctx(&ctx, TLS_SERVER, "server", f, TLS_CRL_LEAF, err),
			 QSG_RC_SSL_INITIALIZATION_ERROR);
	assert_non_null(strstr(err, "CRL 2 of"));
	/* A CRL needs a CA; crl_check must be leaf or chain. */
	assert_int_equal(tls_ctx_init(&ctx, &cfg, err), QSG_RC_CONFIG);
	assert_int_equal(mk_ctx(&ctx, TLS_SERVER, "server", crl, (enum tls_crl_check)7, err),
			 QSG_RC_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_revoked_client), cmocka_unit_test(test_revoked_server),
	    cmocka_unit_test(test_reload),	   cmocka_unit_test(test_chain),
	    cmocka_unit_test(test_load_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
