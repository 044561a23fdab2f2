/* Unit tests for src/common: codec bounds checks and reason codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/codec.h"
#include "common/hostport.h"
#include "common/qsg_err.h"

static void roundtrip(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	qsg_put_u8(&w, 0xab);
	qsg_put_u16(&w, 0xbeef);
	qsg_put_u32(&w, 0xdeadbeef);
	qsg_put_u64(&w, 0x0123456789abcdefULL);
	qsg_put_i64(&w, -5);
	qsg_put_str(&w, "QUEUE.A");
	qsg_put_blob(&w, "xyz", 3);
	assert_int_equal(w.err, QSG_OK);

	struct qsg_rbuf r;
	char name[49];
	qsg_rbuf_init(&r, w.data, w.len);
	assert_int_equal(qsg_get_u8(&r), 0xab);
	assert_int_equal(qsg_get_u16(&r), 0xbeef);
	assert_int_equal(qsg_get_u32(&r), 0xdeadbeef);
	assert_true(qsg_get_u64(&r) == 0x0123456789abcdefULL);
	assert_true(qsg_get_i64(&r) == -5);
	qsg_get_str(&r, name, sizeof name);
	assert_string_equal(name, "QUEUE.A");
	struct qsg_slice b = qsg_get_blob(&r, 10);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.p, "xyz", 3);
	assert_int_equal(r.err, QSG_OK);
	assert_int_equal(qsg_rbuf_left(&r), 0);
	qsg_wbuf_close(&w);
}

static void truncated_input_is_sticky_error(void **state)
{
	(void)state;
	const uint8_t in[] = {1, 2, 3};
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, in, sizeof in);
	assert_int_equal(qsg_get_u32(&r), 0);
	assert_int_equal(r.err, QSG_RC_BAD_FRAME);
	/* further reads stay failed and return zero */
	assert_int_equal(qsg_get_u8(&r), 0);
	assert_int_equal(qsg_rbuf_left(&r), 0);
}

static void absurd_lengths_rejected(void **state)
{
	(void)state;
	/* blob claims 4 GiB but only 2 bytes follow */
	const uint8_t blob[] = {0xff, 0xff, 0xff, 0xff, 'a', 'b'};
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, blob, sizeof blob);
	struct qsg_slice s = qsg_get_blob(&r, SIZE_MAX);
	assert_null(s.p);
	assert_int_equal(r.err, QSG_RC_BAD_FRAME);

	/* blob within buffer but above the caller's max */
	const uint8_t blob2[] = {2, 0, 0, 0, 'a', 'b'};
	qsg_rbuf_init(&r, blob2, sizeof blob2);
	s = qsg_get_blob(&r, 1);
	assert_int_equal(r.err, QSG_RC_BAD_FRAME);

	/* string longer than destination */
	const uint8_t str[] = {5, 0, 'a', 'b', 'c', 'd', 'e'};
	char small[4];
	qsg_rbuf_init(&r, str, sizeof str);
	qsg_get_str(&r, small, sizeof small);
	assert_int_equal(r.err, QSG_RC_BAD_FRAME);
	assert_string_equal(small, "");

	/* string with an embedded NUL */
	const uint8_t nul[] = {3, 0, 'a', 0, 'c'};
	char big[8];
	qsg_rbuf_init(&r, nul, sizeof nul);
	qsg_get_str(&r, big, sizeof big);
	assert_int_equal(r.err, QSG_RC_BAD_FRAME);
}

static void patch_and_take(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	qsg_put_u32(&w, 0);
	qsg_put_str(&w, "hello");
	qsg_patch_u32(&w, 0, (uint32_t)(w.len - 4));
	size_t len;
	uint8_t *p = qsg_wbuf_take(&w, &len);
	assert_non_null(p);
	assert_int_equal(qsg_le32(p), len - 4);
	assert_null(w.data);
	free(p);
}

/* Varints: round trip at every length, the sizes, the zig-zag mapping,
 * and what a decoder must refuse (truncation, overlong, over 64 bits). */
static void varints(void **state)
{
	(void)state;
	static const uint64_t u[] = {
	    0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, (uint64_t)1 << 56, UINT64_MAX};
	static const size_t sz[] = {1, 1, 1, 2, 2, 2, 3, 5, 9, 10};
	static const int64_t s[] = {0, -1, 1, -64, 64, INT64_MIN, INT64_MAX};
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
		size_t before = w.len;
		qsg_put_uvar(&w, u[i]);
		assert_int_equal(w.len - before, sz[i]);
	}
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		qsg_put_svar(&w, s[i]);
	assert_int_equal(w.err, QSG_OK);
	assert_int_equal(qsg_zigzag(-1), 1);
	assert_int_equal(qsg_zigzag(1), 2);
	assert_int_equal(qsg_zigzag(INT64_MIN), UINT64_MAX);
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, w.data, w.len);
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
		assert_true(qsg_get_uvar(&r) == u[i]);
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		assert_true(qsg_get_svar(&r) == s[i]);
	assert_int_equal(r.err, QSG_OK);
	assert_int_equal(qsg_rbuf_left(&r), 0);
	qsg_get_uvar(&r); /* nothing left */
	assert_int_equal(r.err, QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);

	static const uint8_t cut[] = {0x80, 0x80};
	static const uint8_t overlong[] = {0x81, 0x00};
	static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					 0x80, 0x80, 0x80, 0x81, 0x00};
	static const uint8_t ok[] = {0x81, 0x01};
	const struct {
		const uint8_t *p;
		size_t n;
		int rc;
	} bad[] = {{cut, sizeof cut, QSG_RC_BAD_FRAME},
		   {overlong, sizeof overlong, QSG_RC_BAD_FRAME},
		   {big, sizeof big, QSG_RC_BAD_FRAME},
		   {eleven, sizeof eleven, QSG_RC_BAD_FRAME},
		   {ok, sizeof ok, QSG_OK}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		qsg_rbuf_init(&r, bad[i].p, bad[i].n);
		uint64_t v = qsg_get_uvar(&r);
		assert_int_equal(r.err, bad[i].rc);
		assert_true(bad[i].rc != QSG_OK || v == 129);
	}
}

static void reason_codes(void **state)
{
	(void)state;
	assert_string_equal(qsg_rc_name(QSG_RC_Q_FULL), "QSG_RC_Q_FULL");
	assert_int_equal(QSG_RC_Q_FULL, 2053); /* MQRC_Q_FULL */
	assert_true(qsg_rc_valid(QSG_RC_OUTCOME_UNKNOWN));
	assert_false(qsg_rc_valid(12345));
	/* TLS codes: MQ's numbers where MQ has one, then qsg's own. */
	assert_int_equal(QSG_RC_SSL_INITIALIZATION_ERROR, 2393);
	assert_int_equal(QSG_RC_SSL_PEER_NAME_MISMATCH, 2398);
	assert_true(qsg_rc_valid(QSG_RC_SSL_INITIALIZATION_ERROR));
	assert_true(qsg_rc_valid(QSG_RC_SSL_PEER_NAME_MISMATCH));
	assert_true(qsg_rc_valid(QSG_RC_TLS_FAILED));
	assert_true(qsg_rc_valid(QSG_RC_TLS_BUFFER_FULL));
	assert_string_equal(qsg_rc_name(QSG_RC_TLS_FAILED), "QSG_RC_TLS_FAILED");
	assert_string_equal(qsg_rc_name(12345), "QSG_RC_UNKNOWN");
	char msg[QSG_ERRMSG_SIZE];
	assert_int_equal(qsg_errf(msg, QSG_RC_INVALID, "bad %d", 7), QSG_RC_INVALID);
	assert_string_equal(msg, "bad 7");
}

static void hostport(void **state)
{
	(void)state;
	char host[64];
	int port = 0;
	assert_int_equal(qsg_hostport_split("127.0.0.1:6001", 14, host, sizeof host, &port),
			 QSG_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 6001);
	assert_int_equal(qsg_hostport_split("[::1]:7,x", 7, host, sizeof host, &port), QSG_OK);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 7);
	const char *bad[] = {"", "host", ":1", "h:", "h:0", "h:65536", "h:12a", "h:123456", "[]:1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(
		    qsg_hostport_split(bad[i], strlen(bad[i]), host, sizeof host, &port),
		    QSG_RC_INVALID);
	char tiny[4];
	assert_int_equal(qsg_hostport_split("abcd:1", 6, tiny, sizeof tiny, &port), QSG_RC_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(roundtrip),
	    cmocka_unit_test(truncated_input_is_sticky_error),
	    cmocka_unit_test(absurd_lengths_rejected),
	    cmocka_unit_test(patch_and_take),
	    cmocka_unit_test(varints),
	    cmocka_unit_test(reason_codes),
	    cmocka_unit_test(hostport),
	};
	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
