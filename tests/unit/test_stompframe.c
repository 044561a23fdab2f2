/* Unit tests for src/stomp/stompframe.c: the STOMP 1.2 parser and writer
 * (escaping, EOLs, content-length, heart-beats, limits, hostile input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stomp/stompframe.h"

#define MAXB 1024

/* Parse a C string literal with explicit length (NULs inside). */
static int parse(const char *s, size_t n, struct stomp_frame *f, size_t *used, uint8_t *buf)
{
	char msg[QSG_ERRMSG_SIZE];
	memcpy(buf, s, n);
	return stomp_parse(buf, n, MAXB, f, used, msg);
}

#define P(lit, f, used, buf) parse(lit, sizeof(lit) - 1, f, used, buf)

static void send_frame(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	struct stomp_frame f;
	size_t used;
	static const char in[] = "SEND\ndestination:/queue/Q1\nx\\cy:a\\\\b\\nc\\r\n"
				 "content-length:5\n\nhe\0lo\0";
	assert_int_equal(P(in, &f, &used, buf), QSG_OK);
	assert_int_equal(used, sizeof in - 1);
	assert_int_equal(f.cmd, STOMP_SEND);
	assert_int_equal(f.nheaders, 3);
	assert_string_equal(stomp_get(&f, "destination"), "/queue/Q1");
	assert_string_equal(stomp_get(&f, "x:y"), "a\\b\nc\r");
	assert_int_equal(f.body_len, 5);
	assert_memory_equal(f.body, "he\0lo", 5);
	assert_null(stomp_get(&f, "nope"));
}

static void crlf_and_repeated(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	struct stomp_frame f;
	size_t used;
	static const char in[] = "SUBSCRIBE\r\nid:1\r\nid:2\r\ndestination:/queue/A\r\n\r\nbody\0";
	assert_int_equal(P(in, &f, &used, buf), QSG_OK);
	assert_int_equal(f.cmd, STOMP_SUBSCRIBE);
	assert_string_equal(stomp_get(&f, "id"), "1"); /* the first counts */
	assert_int_equal(f.body_len, 4);
	assert_int_equal(used, sizeof in - 1);
}

static void connect_not_escaped(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	struct stomp_frame f;
	size_t used;
	static const char in[] = "CONNECT\nlogin:a\\b\npasscode:p:q\n\n\0";
	assert_int_equal(P(in, &f, &used, buf), QSG_OK);
	assert_string_equal(stomp_get(&f, "login"), "a\\b");
	assert_string_equal(stomp_get(&f, "passcode"), "p:q");
}

static void heartbeats_and_partial(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	struct stomp_frame f;
	size_t used;
	static const char in[] = "\n\r\n\nBEGIN\ntransaction:t\n\n\0";
	assert_int_equal(P(in, &f, &used, buf), QSG_OK);
	assert_int_equal(f.cmd, STOMP_NONE);
	assert_int_equal(used, 4);
	/* Every proper prefix of the frame needs more bytes. */
	for (size_t n = 1; n < sizeof in - 1 - 4; n++) {
		char msg[QSG_ERRMSG_SIZE];
		memcpy(buf, in + 4, n);
		assert_int_equal(stomp_parse(buf, n, MAXB, &f, &used, msg), QSG_OK);
		assert_int_equal(used, 0);
	}
	/* A lone CR waits for its LF. */
	assert_int_equal(P("\r", &f, &used, buf), QSG_OK);
	assert_int_equal(used, 0);
}

static void bad_input(void **state)
{
	(void)state;
	static uint8_t buf[65536];
	struct stomp_frame f;
	size_t used;
	assert_int_equal(P("FOO\n\n\0", &f, &used, buf), QSG_RC_BAD_FRAME);
	assert_int_equal(P("SEND\nnocolon\n\n\0", &f, &used, buf), QSG_RC_BAD_FRAME);
	assert_int_equal(P("SEND\n:v\n\n\0", &f, &used, buf), QSG_RC_BAD_FRAME);
	assert_int_equal(P("SEND\na:\\t\n\n\0", &f, &used, buf), QSG_RC_BAD_FRAME);
	assert_int_equal(P("SEND\na:b\\\n\n\0", &f, &used, buf), QSG_RC_BAD_FRAME);
	assert_int_equal(P("SEND\ncontent-length:x\n\n\0", &f, &used, buf), QSG_RC_BAD_FRAME);
	assert_int_equal(P("SEND\ncontent-length:-1\n\n\0", &f, &used, buf), QSG_RC_BAD_FRAME);
	assert_int_equal(P("SEND\ncontent-length:2\n\nabc\0", &f, &used, buf), QSG_RC_BAD_FRAME);
	assert_int_equal(P("SEND\ncontent-length:2000\n\n", &f, &used, buf),
			 QSG_RC_FRAME_TOO_LARGE);
	assert_int_equal(P("SEND\ncontent-length:99999999999\n\n", &f, &used, buf),
			 QSG_RC_BAD_FRAME);
	assert_int_equal(P("SEND\na\rb:c\n\n\0", &f, &used, buf), QSG_RC_BAD_FRAME);
	assert_int_equal(P("\rX", &f, &used, buf), QSG_RC_BAD_FRAME);
	/* A body without NUL past max_body. */
	char big[MAXB + 64];
	int k = snprintf(big, sizeof big, "SEND\n\n");
	memset(big + k, 'x', sizeof big - (size_t)k);
	assert_int_equal(parse(big, sizeof big, &f, &used, buf), QSG_RC_FRAME_TOO_LARGE);
	/* Too many headers. */
	char *many = malloc(8192);
	size_t n = (size_t)snprintf(many, 8192, "SEND\n");
	for (int i = 0; i <= STOMP_MAX_HEADERS; i++)
		n += (size_t)snprintf(many + n, 8192 - n, "h%d:v\n", i);
	n += (size_t)snprintf(many + n, 8192 - n, "\n");
	many[n++] = '\0';
	assert_int_equal(parse(many, n, &f, &used, buf), QSG_RC_FRAME_TOO_LARGE);
	free(many);
	/* Headers over STOMP_MAX_HEAD without the blank line. */
	char *head = malloc(STOMP_MAX_HEAD + 100);
	n = (size_t)snprintf(head, 100, "SEND\nh:");
	memset(head + n, 'v', STOMP_MAX_HEAD + 100 - n);
	assert_int_equal(parse(head, STOMP_MAX_HEAD + 100, &f, &used, buf), QSG_RC_FRAME_TOO_LARGE);
	free(head);
}

static void write_and_read(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	struct stomp_frame f;
	size_t used;
	char msg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	stomp_begin(&w, STOMP_MESSAGE);
	stomp_headerz(&w, STOMP_MESSAGE, "a:b", "x\ny\\z\r");
	stomp_headerz(&w, STOMP_MESSAGE, "destination", "/queue/Q");
	stomp_end(&w, (const uint8_t *)"\0\1\2", 3);
	assert_int_equal(w.err, QSG_OK);
	assert_int_equal(stomp_parse(w.data, w.len, MAXB, &f, &used, msg), QSG_OK);
	assert_int_equal(used, w.len);
	assert_int_equal(f.cmd, STOMP_MESSAGE);
	assert_string_equal(stomp_get(&f, "a:b"), "x\ny\\z\r");
	assert_string_equal(stomp_get(&f, "content-length"), "3");
	assert_int_equal(f.body_len, 3);
	assert_memory_equal(f.body, "\0\1\2", 3);
	qsg_wbuf_close(&w);
	assert_string_equal(stomp_cmd_name(STOMP_RECEIPT), "RECEIPT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(send_frame),	   cmocka_unit_test(crlf_and_repeated),
	    cmocka_unit_test(connect_not_escaped), cmocka_unit_test(heartbeats_and_partial),
	    cmocka_unit_test(bad_input),	   cmocka_unit_test(write_and_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
