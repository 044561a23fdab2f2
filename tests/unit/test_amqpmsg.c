/* Unit tests of src/amqp/amqpmsg.c (docs/protocols.md, "AMQP 1.0"): an AMQP
 * message encoded by proton -> struct fsm_msg (ids, header, the kept
 * sections in the properties area, the body kinds) and back; the id
 * mapping (short ids copied, long ids hashed); malformed messages refused
 * with a condition; the outcome -> action table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <proton/codec.h>
#include <proton/disposition.h>
#include <proton/message.h>

#include "amqp/amqpmsg.h"
#include "common/qsg_err.h"

static size_t encode(pn_message_t *m, char *buf, size_t cap)
{
	size_t n = cap;
	assert_int_equal(pn_message_encode(m, buf, &n), 0);
	return n;
}

static void from_wire_fields(void **state)
{
	(void)state;
	pn_message_t *m = pn_message();
	pn_message_set_durable(m, true);
	pn_message_set_priority(m, 7);
	pn_message_set_ttl(m, 5000);
	pn_msgid_t id = {.type = PN_STRING, .u.as_bytes = {5, "id-42"}};
	pn_message_set_id(m, id);
	pn_msgid_t cid = {.type = PN_ULONG, .u.as_ulong = 0x0102030405060708ull};
	pn_message_set_correlation_id(m, cid);
	pn_data_t *props = pn_message_properties(m);
	pn_data_put_map(props);
	pn_data_enter(props);
	pn_data_put_string(props, (pn_bytes_t){5, "color"});
	pn_data_put_string(props, (pn_bytes_t){3, "red"});
	pn_data_exit(props);
	pn_data_put_string(pn_message_body(m), (pn_bytes_t){5, "hello"});
	char buf[4096];
	size_t n = encode(m, buf, sizeof buf);

	struct amqp_in in;
	const char *cond = NULL;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(amqp_msg_from_wire((uint8_t *)buf, n, &in, &cond, err), QSG_OK);
	assert_int_equal(in.m.persistent, 1);
	assert_int_equal(in.m.priority, 7);
	assert_int_equal(in.m.expiry_ms, 5000);
	assert_true(in.has_msgid);
	assert_memory_equal(in.m.msgid, "id-42\0\0\0", 8);
	assert_true(in.has_correlid);
	static const uint8_t be[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	assert_memory_equal(in.m.correlid, be, 8);
	assert_int_equal(in.m.body.len, 5);
	assert_memory_equal(in.m.body.p, "hello", 5);
	assert_true(in.m.props.len > AMQP_PROPS_HDR);
	assert_memory_equal(in.m.props.p, AMQP_PROPS_MAGIC, 4);
	assert_int_equal(in.m.props.p[4], AMQP_BODY_STRING);

	/* Back: the same properties, application properties and body; the
	 * delivery count is the backout count. */
	struct fsm_msg out = in.m;
	out.backout_count = 3;
	uint8_t *w = NULL;
	size_t wl = 0;
	assert_int_equal(amqp_msg_to_wire(&out, &w, &wl), QSG_OK);
	pn_message_t *m2 = pn_message();
	assert_int_equal(pn_message_decode(m2, (const char *)w, wl), 0);
	assert_true(pn_message_is_durable(m2));
	assert_int_equal(pn_message_get_priority(m2), 7);
	assert_int_equal(pn_message_get_delivery_count(m2), 3);
	pn_msgid_t id2 = pn_message_get_id(m2);
	assert_int_equal(id2.type, PN_STRING);
	assert_int_equal(id2.u.as_bytes.size, 5);
	assert_memory_equal(id2.u.as_bytes.start, "id-42", 5);
	pn_msgid_t cid2 = pn_message_get_correlation_id(m2);
	assert_int_equal(cid2.type, PN_ULONG);
	assert_true(cid2.u.as_ulong == 0x0102030405060708ull);
	pn_data_t *p2 = pn_message_properties(m2);
	pn_data_rewind(p2);
	assert_true(pn_data_next(p2));
	assert_int_equal(pn_data_type(p2), PN_MAP);
	assert_int_equal(pn_data_get_map(p2), 2);
	pn_data_t *b2 = pn_message_body(m2);
	pn_data_rewind(b2);
	assert_true(pn_data_next(b2));
	assert_int_equal(pn_data_type(b2), PN_STRING);
	assert_int_equal(pn_data_get_string(b2).size, 5);
	free(w);
	pn_message_free(m2);
	amqp_in_close(&in);
	pn_message_free(m);
}

static void binary_body_and_defaults(void **state)
{
	(void)state;
	pn_message_t *m = pn_message();
	pn_message_set_inferred(m, true);
	pn_data_put_binary(pn_message_body(m), (pn_bytes_t){4, "\x00\x01\x02\x03"});
	char buf[512];
	size_t n = encode(m, buf, sizeof buf);
	struct amqp_in in;
	const char *cond;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(amqp_msg_from_wire((uint8_t *)buf, n, &in, &cond, err), QSG_OK);
	assert_int_equal(in.m.persistent, 0);
	assert_int_equal(in.m.priority, 4);
	assert_false(in.has_msgid);
	assert_int_equal(in.m.props.p[4], AMQP_BODY_DATA);
	assert_int_equal(in.m.body.len, 4);
	assert_memory_equal(in.m.body.p, "\x00\x01\x02\x03", 4);
	amqp_in_close(&in);
	pn_message_free(m);
}

static void binary_value_body(void **state)
{
	(void)state;
	pn_message_t *m = pn_message();
	pn_data_put_binary(pn_message_body(m), (pn_bytes_t){3, "abc"}); /* amqp-value */
	char buf[512];
	size_t n = encode(m, buf, sizeof buf);
	struct amqp_in in;
	const char *cond;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(amqp_msg_from_wire((uint8_t *)buf, n, &in, &cond, err), QSG_OK);
	assert_int_equal(in.m.props.p[4], AMQP_BODY_BINARY);
	assert_int_equal(in.m.body.len, 3);
	assert_memory_equal(in.m.body.p, "abc", 3);
	uint8_t *w;
	size_t wl;
	assert_int_equal(amqp_msg_to_wire(&in.m, &w, &wl), QSG_OK);
	pn_message_t *m2 = pn_message();
	assert_int_equal(pn_message_decode(m2, (const char *)w, wl), 0);
	pn_data_t *b2 = pn_message_body(m2);
	pn_data_rewind(b2);
	assert_true(pn_data_next(b2));
	assert_int_equal(pn_data_type(b2), PN_BINARY);
	assert_false(pn_message_is_inferred(m2)); /* an amqp-value, as sent */
	free(w);
	pn_message_free(m2);
	amqp_in_close(&in);
	pn_message_free(m);
}

static void list_body_raw(void **state)
{
	(void)state;
	pn_message_t *m = pn_message();
	pn_data_t *b = pn_message_body(m);
	pn_data_put_list(b);
	pn_data_enter(b);
	pn_data_put_int(b, 1);
	pn_data_put_int(b, 2);
	pn_data_exit(b);
	char buf[512];
	size_t n = encode(m, buf, sizeof buf);
	struct amqp_in in;
	const char *cond;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(amqp_msg_from_wire((uint8_t *)buf, n, &in, &cond, err), QSG_OK);
	assert_int_equal(in.m.props.p[4], AMQP_BODY_RAW);
	uint8_t *w;
	size_t wl;
	assert_int_equal(amqp_msg_to_wire(&in.m, &w, &wl), QSG_OK);
	pn_message_t *m2 = pn_message();
	assert_int_equal(pn_message_decode(m2, (const char *)w, wl), 0);
	pn_data_t *b2 = pn_message_body(m2);
	pn_data_rewind(b2);
	assert_true(pn_data_next(b2));
	assert_int_equal(pn_data_type(b2), PN_LIST);
	assert_int_equal(pn_data_get_list(b2), 2);
	free(w);
	pn_message_free(m2);
	amqp_in_close(&in);
	pn_message_free(m);
}

/* A message put by libqsg (no AMQP sections in its properties area). */
static void libqsg_message_out(void **state)
{
	(void)state;
	struct fsm_msg m;
	memset(&m, 0, sizeof m);
	memset(m.msgid, 0xab, FSM_ID_LEN);
	memset(m.correlid, 0xcd, FSM_ID_LEN);
	m.priority = 2;
	m.persistent = 1;
	m.body = (struct qsg_slice){(const uint8_t *)"payload", 7};
	m.props = (struct qsg_slice){(const uint8_t *)"opaque", 6};
	uint8_t *w;
	size_t wl;
	assert_int_equal(amqp_msg_to_wire(&m, &w, &wl), QSG_OK);
	pn_message_t *m2 = pn_message();
	assert_int_equal(pn_message_decode(m2, (const char *)w, wl), 0);
	pn_msgid_t id = pn_message_get_id(m2);
	assert_int_equal(id.type, PN_BINARY);
	assert_int_equal(id.u.as_bytes.size, FSM_ID_LEN);
	assert_memory_equal(id.u.as_bytes.start, m.msgid, FSM_ID_LEN);
	pn_msgid_t cid = pn_message_get_correlation_id(m2);
	assert_int_equal(cid.type, PN_BINARY);
	assert_memory_equal(cid.u.as_bytes.start, m.correlid, FSM_ID_LEN);
	pn_data_t *b = pn_message_body(m2);
	pn_data_rewind(b);
	assert_true(pn_data_next(b));
	assert_int_equal(pn_data_type(b), PN_BINARY);
	assert_memory_equal(pn_data_get_binary(b).start, "payload", 7);
	free(w);
	pn_message_free(m2);
}

/* A message with the gateway's named properties (put through STOMP): they
 * go out as application-properties, with the ids. */
static void pairs_to_app_props(void **state)
{
	(void)state;
	struct fsm_msg m;
	memset(&m, 0, sizeof m);
	memcpy(m.msgid, "stomp-id", 8);
	m.body = (struct qsg_slice){(const uint8_t *)"hi", 2};
	struct amqp_prop p[2] = {
	    {{(const uint8_t *)"color", 5}, {(const uint8_t *)"red", 3}},
	    {{(const uint8_t *)"raw", 3}, {(const uint8_t *)"\xff\x00", 2}},
	};
	uint8_t *props;
	size_t plen;
	assert_int_equal(amqp_props_from_pairs(&m, p, 2, &props, &plen), QSG_OK);
	m.props = (struct qsg_slice){props, plen};
	uint8_t *w;
	size_t wl;
	assert_int_equal(amqp_msg_to_wire(&m, &w, &wl), QSG_OK);
	pn_message_t *m2 = pn_message();
	assert_int_equal(pn_message_decode(m2, (const char *)w, wl), 0);
	pn_msgid_t id = pn_message_get_id(m2);
	assert_int_equal(id.type, PN_BINARY);
	assert_memory_equal(id.u.as_bytes.start, "stomp-id", 8);
	pn_data_t *ap = pn_message_properties(m2);
	pn_data_rewind(ap);
	assert_true(pn_data_next(ap));
	assert_int_equal(pn_data_get_map(ap), 4);
	pn_data_enter(ap);
	assert_true(pn_data_next(ap));
	assert_int_equal(pn_data_type(ap), PN_STRING);
	assert_true(pn_data_next(ap));
	assert_int_equal(pn_data_type(ap), PN_STRING); /* "red" */
	assert_true(pn_data_next(ap));
	assert_true(pn_data_next(ap));
	assert_int_equal(pn_data_type(ap), PN_BINARY); /* not UTF-8 */
	pn_data_exit(ap);
	pn_data_t *b = pn_message_body(m2);
	pn_data_rewind(b);
	assert_true(pn_data_next(b));
	assert_int_equal(pn_data_type(b), PN_BINARY);
	free(w);
	free(props);
	pn_message_free(m2);
}

/* The value of annotation key in m's message-annotations (NULL: none),
 * with the number of entries. */
static pn_data_t *annotation(pn_message_t *m, const char *key, size_t *entries)
{
	pn_data_t *a = pn_message_annotations(m);
	pn_data_rewind(a);
	if (!pn_data_next(a))
		return NULL;
	*entries = pn_data_get_map(a);
	pn_data_enter(a);
	while (pn_data_next(a)) {
		pn_bytes_t k = pn_data_get_symbol(a);
		bool hit = k.size == strlen(key) && memcmp(k.start, key, k.size) == 0;
		pn_data_next(a);
		if (hit)
			return a;
	}
	return NULL;
}

/* amqp_props_dlq on AMQ1 areas of messages with no annotations and with
 * some (one of ours among them: replaced, the others kept), back through
 * amqp_msg_to_wire and proton's decoder; not AMQ1, or truncated: refused. */
static void dlq_annotations(void **state)
{
	(void)state;
	for (int with = 0; with < 2; with++) {
		pn_message_t *m = pn_message();
		if (with) {
			pn_data_t *a = pn_message_annotations(m);
			pn_data_put_map(a);
			pn_data_enter(a);
			pn_data_put_symbol(a, pn_bytes(10, "x-opt-mine"));
			pn_data_put_string(a, pn_bytes(4, "keep"));
			pn_data_put_symbol(a, pn_bytes(strlen(AMQP_DLQ_TEXT), AMQP_DLQ_TEXT));
			pn_data_put_string(a, pn_bytes(3, "old"));
			pn_data_exit(a);
		}
		pn_data_t *ap = pn_message_properties(m);
		pn_data_put_map(ap);
		pn_data_enter(ap);
		pn_data_put_string(ap, pn_bytes(1, "k"));
		pn_data_put_string(ap, pn_bytes(1, "v"));
		pn_data_exit(ap);
		pn_data_put_string(pn_message_body(m), pn_bytes(2, "hi"));
		char buf[4096];
		size_t n = encode(m, buf, sizeof buf);
		struct amqp_in in;
		const char *cond = NULL;
		char err[QSG_ERRMSG_SIZE];
		assert_int_equal(amqp_msg_from_wire((uint8_t *)buf, n, &in, &cond, err), QSG_OK);
		uint8_t *props;
		size_t plen;
		assert_int_equal(amqp_props_dlq(in.m.props.p, in.m.props.len,
						AMQP_DLQ_REASON_REJECTED, "app:bad: no", "OUT.Q",
						&props, &plen),
				 QSG_OK);
		/* A truncation is refused, unless it falls between two sections
		 * (a shorter area); none reads past it (ASan). */
		size_t bad = 0;
		for (size_t cut = AMQP_PROPS_HDR + 1; cut < in.m.props.len; cut++) {
			uint8_t *x = malloc(cut), *o = NULL;
			memcpy(x, in.m.props.p, cut);
			size_t ol;
			int rc = amqp_props_dlq(x, cut, 1, "t", "Q", &o, &ol);
			assert_true(rc == QSG_RC_BAD_FRAME || rc == QSG_OK);
			bad += rc == QSG_RC_BAD_FRAME;
			if (rc == QSG_OK)
				free(o);
			free(x);
		}
		assert_true(bad + 3 >= in.m.props.len - AMQP_PROPS_HDR - 1);
		struct fsm_msg out = in.m;
		out.props = (struct qsg_slice){props, plen};
		uint8_t *w;
		size_t wl;
		assert_int_equal(amqp_msg_to_wire(&out, &w, &wl), QSG_OK);
		pn_message_t *m2 = pn_message();
		assert_int_equal(pn_message_decode(m2, (const char *)w, wl), 0);
		size_t entries = 0;
		pn_data_t *v = annotation(m2, AMQP_DLQ_REASON, &entries);
		assert_non_null(v);
		assert_int_equal(pn_data_type(v), PN_INT);
		assert_int_equal(pn_data_get_int(v), AMQP_DLQ_REASON_REJECTED);
		assert_int_equal(entries, with ? 8 : 6);
		v = annotation(m2, AMQP_DLQ_TEXT, &entries);
		assert_non_null(v);
		assert_int_equal(pn_data_get_string(v).size, 11);
		assert_memory_equal(pn_data_get_string(v).start, "app:bad: no", 11);
		v = annotation(m2, AMQP_DLQ_QUEUE, &entries);
		assert_memory_equal(pn_data_get_string(v).start, "OUT.Q", 5);
		if (with) {
			v = annotation(m2, "x-opt-mine", &entries);
			assert_non_null(v);
			assert_memory_equal(pn_data_get_string(v).start, "keep", 4);
		}
		pn_data_t *ap2 = pn_message_properties(m2);
		pn_data_rewind(ap2);
		assert_true(pn_data_next(ap2));
		assert_int_equal(pn_data_get_map(ap2), 2);
		free(w);
		free(props);
		pn_message_free(m2);
		amqp_in_close(&in);
		pn_message_free(m);
	}
	uint8_t *o;
	size_t ol;
	assert_int_equal(amqp_props_dlq((const uint8_t *)"XYZ1abc", 7, 1, "", "", &o, &ol),
			 QSG_RC_BAD_FRAME);
	/* Only the header: an annotations section alone. */
	uint8_t hdr[AMQP_PROPS_HDR] = {'A', 'M', 'Q', '1', AMQP_BODY_DATA};
	assert_int_equal(amqp_props_dlq(hdr, sizeof hdr, 1, "t", "Q", &o, &ol), QSG_OK);
	assert_true(ol > sizeof hdr);
	free(o);
}

static void id_map(void **state)
{
	(void)state;
	uint8_t a[FSM_ID_LEN], b[FSM_ID_LEN];
	amqp_id_map((const uint8_t *)"abc", 3, a);
	assert_memory_equal(a, "abc\0\0\0\0\0", 8);
	const char *l1 = "ID:host-1234-5678-1:1:1:1:1000", *l2 = "ID:host-1234-5678-1:1:1:1:1001";
	amqp_id_map((const uint8_t *)l1, strlen(l1), a);
	amqp_id_map((const uint8_t *)l2, strlen(l2), b);
	assert_memory_not_equal(a, b, FSM_ID_LEN); /* not just the prefix */
	amqp_id_map((const uint8_t *)l1, strlen(l1), b);
	assert_memory_equal(a, b, FSM_ID_LEN);
}

static void malformed(void **state)
{
	(void)state;
	struct amqp_in in;
	const char *cond = NULL;
	char err[QSG_ERRMSG_SIZE];
	/* Not a described section. */
	static const uint8_t junk[] = {0xa1, 0x03, 'a', 'b', 'c'};
	assert_int_equal(amqp_msg_from_wire(junk, sizeof junk, &in, &cond, err), QSG_RC_BAD_FRAME);
	assert_string_equal(cond, "amqp:decode-error");
	/* A section whose length runs past the end. */
	static const uint8_t trunc[] = {0x00, 0x53, 0x75, 0xa0, 0x10, 'x'};
	assert_int_equal(amqp_msg_from_wire(trunc, sizeof trunc, &in, &cond, err),
			 QSG_RC_BAD_FRAME);
	/* An unknown section code. */
	static const uint8_t unk[] = {0x00, 0x53, 0x99, 0x40};
	assert_int_equal(amqp_msg_from_wire(unk, sizeof unk, &in, &cond, err), QSG_RC_BAD_FRAME);
	/* Properties after the body. */
	static const uint8_t order[] = {0x00, 0x53, 0x75, 0xa0, 0x01, 'x', 0x00, 0x53, 0x73, 0x45};
	assert_int_equal(amqp_msg_from_wire(order, sizeof order, &in, &cond, err),
			 QSG_RC_BAD_FRAME);
	/* Application properties over the properties area's limit. */
	size_t big = FSM_MAX_PROPS + 16;
	uint8_t *p = malloc(big + 16);
	p[0] = 0x00, p[1] = 0x53, p[2] = 0x74, p[3] = 0xb0; /* binary, u32 length */
	uint32_t len = (uint32_t)big;
	p[4] = (uint8_t)(len >> 24), p[5] = (uint8_t)(len >> 16), p[6] = (uint8_t)(len >> 8),
	p[7] = (uint8_t)len;
	memset(p + 8, 'z', big);
	assert_int_equal(amqp_msg_from_wire(p, big + 8, &in, &cond, err), QSG_RC_MSG_TOO_BIG);
	assert_string_equal(cond, "amqp:link:message-size-exceeded");
	free(p);
}

static void outcomes(void **state)
{
	(void)state;
	assert_int_equal(amqp_outcome_action(PN_ACCEPTED, false), AMQP_ACT_CONSUME);
	assert_int_equal(amqp_outcome_action(PN_RELEASED, false), AMQP_ACT_RELEASE);
	assert_int_equal(amqp_outcome_action(PN_MODIFIED, false), AMQP_ACT_RELEASE);
	assert_int_equal(amqp_outcome_action(PN_MODIFIED, true), AMQP_ACT_BACKOUT);
	assert_int_equal(amqp_outcome_action(PN_REJECTED, false), AMQP_ACT_DEADLETTER);
	assert_int_equal(amqp_outcome_action(PN_RECEIVED, false), AMQP_ACT_NONE);
	assert_int_equal(amqp_outcome_action(0, false), AMQP_ACT_NONE);
	assert_string_equal(amqp_act_name(AMQP_ACT_BACKOUT), "backout");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(from_wire_fields),
	    cmocka_unit_test(binary_body_and_defaults),
	    cmocka_unit_test(list_body_raw),
	    cmocka_unit_test(libqsg_message_out),
	    cmocka_unit_test(id_map),
	    cmocka_unit_test(malformed),
	    cmocka_unit_test(outcomes),
	    cmocka_unit_test(binary_value_body),
	    cmocka_unit_test(pairs_to_app_props),
	    cmocka_unit_test(dlq_annotations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
