/* Unit tests of TLS on channels (docs/channels.md "TLS on channels"): the
 * CipherSpec table (src/chan/chssl.c), the SSLPEER form given to the TLS
 * engine, the channel attribute codec's optional TLS part (present only
 * when SSLCIPH or SSLPEER is set, so older records decode unchanged) and
 * the command level of a CHDEFINE/CHALTER that carries them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chan/chssl.h"
#include "fsm/fsm_int.h"

static void specs(void **state)
{
	(void)state;
	static const char *const need[] = {
	    "ANY_TLS13",
	    "ANY_TLS12_OR_HIGHER",
	    "ANY",
	    "TLS_AES_256_GCM_SHA384",
	    "TLS_AES_128_GCM_SHA256",
	    "TLS_CHACHA20_POLY1305_SHA256",
	    "ECDHE_RSA_AES_256_GCM_SHA384",
	    "ECDHE_RSA_AES_128_GCM_SHA256",
	};
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
		const struct chssl_spec *s = chssl_find(need[i]);
		assert_non_null(s);
		assert_string_equal(s->name, need[i]);
		assert_true(s->min_version >= 12 && s->max_version <= 13);
		assert_true(s->min_version <= s->max_version);
		assert_non_null(strstr(chssl_names(), need[i]));
	}
	/* case and blanks do not matter; unknown and old ones are refused */
	assert_ptr_equal(chssl_find(" any_tls13 "), chssl_find("ANY_TLS13"));
	assert_null(chssl_find("TLS_RSA_WITH_AES_128_CBC_SHA256"));
	assert_null(chssl_find("NULL_SHA"));
	assert_null(chssl_find("RC4_MD5_US"));
	assert_null(chssl_find("ANY_TLS13X"));
	assert_null(chssl_find(""));
	assert_null(chssl_find("   "));
	assert_null(chssl_find(NULL));
	assert_false(chssl_on(""));
	assert_false(chssl_on("   "));
	assert_false(chssl_on(NULL));
	assert_true(chssl_on("ANY"));

	/* versions and suites */
	const struct chssl_spec *t13 = chssl_find("ANY_TLS13");
	assert_int_equal(t13->min_version, 13);
	assert_null(t13->ciphersuites);
	const struct chssl_spec *any12 = chssl_find("ANY_TLS12_OR_HIGHER");
	assert_int_equal(any12->min_version, 12);
	assert_int_equal(any12->max_version, 13);
	const struct chssl_spec *aes256 = chssl_find("TLS_AES_256_GCM_SHA384");
	assert_int_equal(aes256->min_version, 13);
	assert_string_equal(aes256->ciphersuites, "TLS_AES_256_GCM_SHA384");
	const struct chssl_spec *rsa = chssl_find("ECDHE_RSA_AES_128_GCM_SHA256");
	assert_int_equal(rsa->max_version, 12);
	assert_string_equal(rsa->ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
}

static void negotiated(void **state)
{
	(void)state;
	const struct chssl_spec *t13 = chssl_find("ANY_TLS13");
	const struct chssl_spec *any = chssl_find("ANY");
	const struct chssl_spec *aes256 = chssl_find("TLS_AES_256_GCM_SHA384");
	const struct chssl_spec *rsa = chssl_find("ECDHE_RSA_AES_256_GCM_SHA384");
	assert_true(chssl_negotiated_ok(t13, "TLSv1.3", "TLS_AES_128_GCM_SHA256"));
	assert_false(chssl_negotiated_ok(t13, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"));
	assert_true(chssl_negotiated_ok(any, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"));
	assert_false(chssl_negotiated_ok(any, "TLSv1.1", "ECDHE-RSA-AES128-SHA"));
	assert_false(chssl_negotiated_ok(any, "", ""));
	assert_true(chssl_negotiated_ok(aes256, "TLSv1.3", "TLS_AES_256_GCM_SHA384"));
	assert_false(chssl_negotiated_ok(aes256, "TLSv1.3", "TLS_AES_128_GCM_SHA256"));
	assert_true(chssl_negotiated_ok(rsa, "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384"));
	assert_false(chssl_negotiated_ok(rsa, "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"));
	assert_false(chssl_negotiated_ok(rsa, "TLSv1.3", "TLS_AES_256_GCM_SHA384"));
	assert_false(chssl_negotiated_ok(NULL, "TLSv1.3", "TLS_AES_256_GCM_SHA384"));
}

static void peer_norm(void **state)
{
	(void)state;
	char out[FSM_SSLPEER_MAX + 1];
	chssl_peer_norm("CN=QM1, O=qsg test", out, sizeof out);
	assert_string_equal(out, "CN=QM1,O=qsg test");
	chssl_peer_norm("  CN = QMR ,  O = qsg test  ", out, sizeof out);
	assert_string_equal(out, "CN=QMR,O=qsg test");
	chssl_peer_norm("QM1", out, sizeof out);
	assert_string_equal(out, "QM1");
	chssl_peer_norm("", out, sizeof out);
	assert_string_equal(out, "");
	chssl_peer_norm(NULL, out, sizeof out);
	assert_string_equal(out, "");
	char small[6];
	chssl_peer_norm("CN=QM1,O=x", small, sizeof small);
	assert_string_equal(small, "CN=QM");
}

static void fill(struct fsm_chattrs *a)
{
	fsm_chattrs_defaults(a);
	snprintf(a->name, sizeof a->name, "TO.QMR");
	a->chltype = FSM_CHL_SDR;
	snprintf(a->conname, sizeof a->conname, "127.0.0.1:1414");
	snprintf(a->xmitq, sizeof a->xmitq, "QMR");
}

static void roundtrip(const struct fsm_chattrs *a, struct fsm_chattrs *b, size_t *len)
{
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	fsm_chattrs_encode(&w, a);
	assert_int_equal(w.err, QSG_OK);
	*len = w.len;
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, w.data, w.len);
	assert_int_equal(fsm_chattrs_decode(&r, b, err), QSG_OK);
	assert_int_equal(r.len - r.pos, 0);
	/* every shorter record is refused (decoders check every length) */
	for (size_t n = 0; n < w.len; n++) {
		qsg_rbuf_init(&r, w.data, n);
		struct fsm_chattrs c;
		assert_int_equal(fsm_chattrs_decode(&r, &c, err), QSG_RC_BAD_FRAME);
	}
	qsg_wbuf_close(&w);
}

static void codec(void **state)
{
	(void)state;
	struct fsm_chattrs a, b;
	size_t plain_len, tls_len, both_len;

	/* without them: the TLS part is not written, the bytes are the old ones */
	fill(&a);
	roundtrip(&a, &b, &plain_len);
	assert_memory_equal(&a, &b, sizeof a);
	assert_string_equal(b.sslciph, "");
	assert_int_equal(b.set & FSM_CA_SSL_MASK, 0);

	/* SSLCIPH and SSLPEER round trip after the base part */
	a.set |= FSM_CA_SSLCIPH | FSM_CA_SSLPEER;
	snprintf(a.sslciph, sizeof a.sslciph, "ANY_TLS13");
	snprintf(a.sslpeer, sizeof a.sslpeer, "CN=QMR,O=qsg test");
	roundtrip(&a, &b, &tls_len);
	assert_memory_equal(&a, &b, sizeof a);
	assert_int_equal(tls_len,
			 plain_len + 2 + strlen("ANY_TLS13") + 2 + strlen("CN=QMR,O=qsg test"));

	/* with the disposition part: it comes first */
	a.set |= FSM_CA_QSGDISP;
	a.disp = FSM_DISP_QMGR;
	a.scope = 2;
	roundtrip(&a, &b, &both_len);
	assert_memory_equal(&a, &b, sizeof a);
	assert_int_equal(both_len, tls_len + 1 + 4);

	/* merge: a DEFINE with SSLCIPH only keeps it set (and so encoded) */
	struct fsm_chattrs d, cmd;
	fill(&d);
	memset(&cmd, 0, sizeof cmd);
	cmd.set = FSM_CA_SSLCIPH;
	snprintf(cmd.sslciph, sizeof cmd.sslciph, "ANY");
	fsm_chattrs_merge(&d, &cmd, cmd.set);
	assert_true(d.set & FSM_CA_SSLCIPH);
	assert_string_equal(d.sslciph, "ANY");
	roundtrip(&d, &b, &tls_len);
	assert_string_equal(b.sslciph, "ANY");

	/* an unknown bit beyond them is refused */
	a.set |= 0x80000;
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	fsm_chattrs_encode(&w, &a);
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, w.data, w.len);
	assert_int_equal(fsm_chattrs_decode(&r, &b, err), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
}

static void level(void **state)
{
	(void)state;
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CHDEFINE;
	fill(&c.ch.attrs);
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	c.ch.attrs.set |= FSM_CA_SSLCIPH;
	assert_int_equal(fsm_cmd_level(&c), 3);
	c.op = FSM_OP_CHALTER;
	c.ch.attrs.set = FSM_CA_SSLPEER;
	assert_int_equal(fsm_cmd_level(&c), 3);
	c.ch.attrs.set = FSM_CA_DESCR;
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	assert_true(FSM_CMDLEVEL >= 3);

	/* and the command round trips through the command codec */
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	c.op = FSM_OP_CHDEFINE;
	fill(&c.ch.attrs);
	c.ch.attrs.set |= FSM_CA_SSLCIPH | FSM_CA_SSLPEER;
	snprintf(c.ch.attrs.sslciph, sizeof c.ch.attrs.sslciph, "TLS_AES_128_GCM_SHA256");
	snprintf(c.ch.attrs.sslpeer, sizeof c.ch.attrs.sslpeer, "CN=QM1");
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	struct fsm_cmd d;
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_OK);
	assert_string_equal(d.ch.attrs.sslciph, "TLS_AES_128_GCM_SHA256");
	assert_string_equal(d.ch.attrs.sslpeer, "CN=QM1");
	assert_int_equal(fsm_cmd_level(&d), 3);
	qsg_wbuf_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(specs), cmocka_unit_test(negotiated), cmocka_unit_test(peer_norm),
	    cmocka_unit_test(codec), cmocka_unit_test(level),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
