/* AMQP 1.0 message <-> struct fsm_msg, outcomes -> actions (amqpmsg.h). */
#include "amqpmsg.h"

#include <openssl/sha.h>
#include <proton/codec.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/qsg_err.h"

void amqp_id_map(const uint8_t *p, size_t n, uint8_t out[FSM_ID_LEN])
{
	memset(out, 0, FSM_ID_LEN);
	if (n <= FSM_ID_LEN) {
		if (n)
			memcpy(out, p, n);
		return;
	}
	uint8_t h[SHA256_DIGEST_LENGTH];
	SHA256(p, n, h);
	memcpy(out, h, FSM_ID_LEN);
}

/* The section code of the described value d points at (entered), or 0. */
static uint64_t section_code(pn_data_t *d)
{
	if (!pn_data_next(d))
		return 0;
	if (pn_data_type(d) == PN_ULONG)
		return pn_data_get_ulong(d);
	if (pn_data_type(d) != PN_SYMBOL)
		return 0;
	static const char *names[] = {
	    "amqp:header:list",
	    "amqp:delivery-annotations:map",
	    "amqp:message-annotations:map",
	    "amqp:properties:list",
	    "amqp:application-properties:map",
	    "amqp:data:binary",
	    "amqp:amqp-sequence:list",
	    "amqp:amqp-value:*",
	    "amqp:footer:map",
	};
	pn_bytes_t s = pn_data_get_symbol(d);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (s.size == strlen(names[i]) && memcmp(s.start, names[i], s.size) == 0)
			return AMQP_SEC_HEADER + i;
	return 0;
}

/* An id (message-id, correlation-id) at the current node of d. */
static bool get_id(pn_data_t *d, uint8_t out[FSM_ID_LEN])
{
	uint8_t be[8];
	pn_bytes_t b;
	switch (pn_data_type(d)) {
	case PN_ULONG: {
		uint64_t v = pn_data_get_ulong(d);
		for (int i = 0; i < 8; i++)
			be[i] = (uint8_t)(v >> (56 - 8 * i));
		amqp_id_map(be, 8, out);
		return true;
	}
	case PN_UUID: {
		pn_uuid_t u = pn_data_get_uuid(d);
		amqp_id_map((const uint8_t *)u.bytes, 16, out);
		return true;
	}
	case PN_BINARY:
		b = pn_data_get_binary(d);
		amqp_id_map((const uint8_t *)b.start, b.size, out);
		return true;
	case PN_STRING:
		b = pn_data_get_string(d);
		amqp_id_map((const uint8_t *)b.start, b.size, out);
		return true;
	default:
		return false;
	}
}

static void parse_header(pn_data_t *d, struct fsm_msg *m)
{
	if (pn_data_type(d) != PN_LIST)
		return;
	size_t n = pn_data_get_list(d);
	pn_data_enter(d);
	for (size_t i = 0; i < n && pn_data_next(d); i++) {
		pn_type_t t = pn_data_type(d);
		if (i == 0 && t == PN_BOOL)
			m->persistent = pn_data_get_bool(d) ? 1 : 0;
		else if (i == 1 && t == PN_UBYTE)
			m->priority = pn_data_get_ubyte(d) > 9 ? 9 : pn_data_get_ubyte(d);
		else if (i == 2 && t == PN_UINT)
			m->expiry_ms = pn_data_get_uint(d);
	}
	pn_data_exit(d);
}

static void parse_properties(pn_data_t *d, struct amqp_in *in)
{
	if (pn_data_type(d) != PN_LIST)
		return;
	size_t n = pn_data_get_list(d);
	pn_data_enter(d);
	for (size_t i = 0; i < n && pn_data_next(d); i++) {
		if (i == 0)
			in->has_msgid = get_id(d, in->m.msgid);
		else if (i == 5)
			in->has_correlid = get_id(d, in->m.correlid);
	}
	pn_data_exit(d);
}

struct span {
	size_t off, len;
};

int amqp_msg_from_wire(const uint8_t *p, size_t n, struct amqp_in *out, const char **errcond,
		       char *errmsg)
{
	memset(out, 0, sizeof *out);
	out->m.priority = 4;
	*errcond = "amqp:decode-error";
	if (n > FSM_MAX_MSGL + FSM_MAX_PROPS) {
		*errcond = "amqp:link:message-size-exceeded";
		snprintf(errmsg, QSG_ERRMSG_SIZE, "message of %zu bytes over the limit", n);
		return QSG_RC_MSG_TOO_BIG;
	}
	pn_data_t *d = pn_data(16);
	if (!d)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	struct span keep[3] = {{0}}; /* message annotations, properties, app properties */
	struct span body = {0, 0};
	size_t nbody = 0;
	enum amqp_body_kind kind = AMQP_BODY_DATA;
	struct span data = {0, 0}; /* the data/string payload of a one-section body */
	size_t off = 0;
	int rc = QSG_OK;
	uint64_t last = 0;
	while (off < n) {
		pn_data_clear(d);
		ssize_t used = pn_data_decode(d, (const char *)p + off, n - off);
		if (used <= 0) {
			snprintf(errmsg, QSG_ERRMSG_SIZE, "undecodable section at byte %zu", off);
			rc = QSG_RC_BAD_FRAME;
			goto out;
		}
		pn_data_rewind(d);
		if (!pn_data_next(d) || pn_data_type(d) != PN_DESCRIBED) {
			snprintf(errmsg, QSG_ERRMSG_SIZE, "section at byte %zu is not described",
				 off);
			rc = QSG_RC_BAD_FRAME;
			goto out;
		}
		pn_data_enter(d);
		uint64_t code = section_code(d);
		if (code < AMQP_SEC_HEADER || code > AMQP_SEC_FOOTER || code < last ||
		    (code == last && code < AMQP_SEC_DATA)) {
			snprintf(errmsg, QSG_ERRMSG_SIZE,
				 "unknown or misplaced section at byte %zu", off);
			rc = QSG_RC_BAD_FRAME;
			goto out;
		}
		last = code;
		pn_data_next(d); /* the value */
		switch (code) {
		case AMQP_SEC_HEADER:
			parse_header(d, &out->m);
			break;
		case AMQP_SEC_MESSAGE_ANN:
			keep[0] = (struct span){off, (size_t)used};
			break;
		case AMQP_SEC_PROPERTIES:
			keep[1] = (struct span){off, (size_t)used};
			parse_properties(d, out);
			break;
		case AMQP_SEC_APP_PROPS:
			keep[2] = (struct span){off, (size_t)used};
			break;
		case AMQP_SEC_DATA:
		case AMQP_SEC_SEQUENCE:
		case AMQP_SEC_VALUE: {
			if (nbody++ == 0)
				body.off = off;
			body.len = off + (size_t)used - body.off;
			pn_bytes_t b = {0, NULL};
			if (code == AMQP_SEC_DATA && pn_data_type(d) == PN_BINARY) {
				b = pn_data_get_binary(d);
				kind = AMQP_BODY_DATA;
			} else if (code == AMQP_SEC_VALUE && pn_data_type(d) == PN_STRING) {
				b = pn_data_get_string(d);
				kind = AMQP_BODY_STRING;
			} else if (code == AMQP_SEC_VALUE && pn_data_type(d) == PN_BINARY) {
				b = pn_data_get_binary(d);
				kind = AMQP_BODY_BINARY;
			} else {
				kind = AMQP_BODY_RAW;
			}
			if (b.start) {
				/* pn_data copies: find the payload's offset in p
				 * as the section's tail (the value is last). */
				data.off = off + (size_t)used - b.size;
				data.len = b.size;
			}
			break;
		}
		default: /* delivery annotations and the footer are not kept */
			break;
		}
		off += (size_t)used;
	}
	if (nbody > 1)
		kind = AMQP_BODY_RAW;
	if (nbody == 0) {
		kind = AMQP_BODY_DATA;
		data = (struct span){0, 0};
	}
	size_t plen = AMQP_PROPS_HDR + keep[0].len + keep[1].len + keep[2].len;
	if (plen > FSM_MAX_PROPS) {
		*errcond = "amqp:link:message-size-exceeded";
		snprintf(errmsg, QSG_ERRMSG_SIZE,
			 "annotations and properties of %zu bytes over the limit of %u", plen,
			 FSM_MAX_PROPS);
		rc = QSG_RC_MSG_TOO_BIG;
		goto out;
	}
	struct span b = kind == AMQP_BODY_RAW ? body : data;
	out->buf = malloc(plen + b.len + 1);
	if (!out->buf) {
		rc = QSG_RC_STORAGE_NOT_AVAILABLE;
		goto out;
	}
	memcpy(out->buf, AMQP_PROPS_MAGIC, 4);
	out->buf[4] = (uint8_t)kind;
	size_t w = AMQP_PROPS_HDR;
	for (int i = 0; i < 3; i++) {
		if (keep[i].len)
			memcpy(out->buf + w, p + keep[i].off, keep[i].len);
		w += keep[i].len;
	}
	if (b.len)
		memcpy(out->buf + w, p + b.off, b.len);
	out->m.props = (struct qsg_slice){out->buf, plen};
	out->m.body = (struct qsg_slice){out->buf + plen, b.len};
out:
	pn_data_free(d);
	if (rc != QSG_OK)
		amqp_in_close(out);
	return rc;
}

void amqp_in_close(struct amqp_in *in)
{
	free(in->buf);
	in->buf = NULL;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Append d's encoding to buf. */
static int append_data(pn_data_t *d, uint8_t **buf, size_t *len, size_t *cap)
{
	for (;;) {
		ssize_t r = pn_data_encode(d, (char *)*buf + *len, *cap - *len);
		if (r >= 0) {
			*len += (size_t)r;
			return QSG_OK;
		}
		if (r != PN_OVERFLOW)
			return QSG_RC_UNEXPECTED_ERROR;
		size_t nc = *cap * 2 + 256;
		uint8_t *nb = realloc(*buf, nc);
		if (!nb)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		*buf = nb;
		*cap = nc;
	}
}

static int append_raw(const uint8_t *p, size_t n, uint8_t **buf, size_t *len, size_t *cap)
{
	if (*cap - *len < n) {
		size_t nc = *len + n + 256;
		uint8_t *nb = realloc(*buf, nc);
		if (!nb)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		*buf = nb;
		*cap = nc;
	}
	if (n)
		memcpy(*buf + *len, p, n);
	*len += n;
	return QSG_OK;
}

/* A properties section with m's MsgId and CorrelId (when not all zeros)
 * as binary message-id and correlation-id. */
static void put_id_properties(pn_data_t *d, const struct fsm_msg *m)
{
	pn_data_clear(d);
	pn_data_put_described(d);
	pn_data_enter(d);
	pn_data_put_ulong(d, AMQP_SEC_PROPERTIES);
	pn_data_put_list(d);
	pn_data_enter(d);
	pn_data_put_binary(d, (pn_bytes_t){FSM_ID_LEN, (const char *)m->msgid});
	if (!all_zero(m->correlid, FSM_ID_LEN)) {
		for (int i = 0; i < 4; i++)
			pn_data_put_null(d);
		pn_data_put_binary(d, (pn_bytes_t){FSM_ID_LEN, (const char *)m->correlid});
	}
	pn_data_exit(d);
	pn_data_exit(d);
}

static bool utf8_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t k = c < 0x80		? 0
			   : (c & 0xe0) == 0xc0 ? 1
			   : (c & 0xf0) == 0xe0 ? 2
			   : (c & 0xf8) == 0xf0 ? 3
						: 9;
		if (k == 9 || (k == 1 && c < 0xc2) || i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

int amqp_props_from_pairs(const struct fsm_msg *m, const struct amqp_prop *pr, size_t n,
			  uint8_t **out, size_t *outlen)
{
	size_t cap = 256, len = 0;
	uint8_t *buf = malloc(cap);
	pn_data_t *d = pn_data(16);
	int rc = QSG_RC_STORAGE_NOT_AVAILABLE;
	if (!buf || !d)
		goto fail;
	memcpy(buf, AMQP_PROPS_MAGIC, 4);
	buf[4] = AMQP_BODY_DATA;
	len = AMQP_PROPS_HDR;
	put_id_properties(d, m);
	if ((rc = append_data(d, &buf, &len, &cap)) != QSG_OK)
		goto fail;
	pn_data_clear(d);
	pn_data_put_described(d);
	pn_data_enter(d);
	pn_data_put_ulong(d, AMQP_SEC_APP_PROPS);
	pn_data_put_map(d);
	pn_data_enter(d);
	for (size_t i = 0; i < n; i++) {
		pn_data_put_string(d, (pn_bytes_t){pr[i].name.len, (const char *)pr[i].name.p});
		pn_bytes_t v = {pr[i].value.len, (const char *)pr[i].value.p};
		if (utf8_ok(pr[i].value.p, pr[i].value.len))
			pn_data_put_string(d, v);
		else
			pn_data_put_binary(d, v);
	}
	pn_data_exit(d);
	pn_data_exit(d);
	if ((rc = append_data(d, &buf, &len, &cap)) != QSG_OK)
		goto fail;
	if (len > FSM_MAX_PROPS) {
		rc = QSG_RC_MSG_TOO_BIG;
		goto fail;
	}
	pn_data_free(d);
	*out = buf;
	*outlen = len;
	return QSG_OK;
fail:
	free(buf);
	if (d)
		pn_data_free(d);
	return rc;
}

/* --- the dead-letter reason (amqp_props_dlq) --------------------------------- */

static bool dlq_key(pn_data_t *d)
{
	pn_data_rewind(d);
	if (!pn_data_next(d) || (pn_data_type(d) != PN_SYMBOL && pn_data_type(d) != PN_STRING))
		return false;
	pn_bytes_t k = pn_data_type(d) == PN_SYMBOL ? pn_data_get_symbol(d) : pn_data_get_string(d);
	static const char *keys[] = {AMQP_DLQ_REASON, AMQP_DLQ_TEXT, AMQP_DLQ_QUEUE};
	for (size_t i = 0; i < 3; i++)
		if (k.size == strlen(keys[i]) && memcmp(k.start, keys[i], k.size) == 0)
			return true;
	return false;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A message-annotations section: map32 of count entries (ours first, then
 * kept: raw encoded keys and values). */
static int put_ma(const uint8_t *ours, size_t olen, const uint8_t *kept, size_t klen,
		  uint32_t count, uint8_t **buf, size_t *len, size_t *cap)
{
	uint8_t h[12] = {0x00, 0x53, AMQP_SEC_MESSAGE_ANN, 0xd1};
	if (olen + klen > UINT32_MAX - 4)
		return QSG_RC_MSG_TOO_BIG;
	put_be32(h + 4, (uint32_t)(4 + olen + klen));
	put_be32(h + 8, count);
	int rc = append_raw(h, sizeof h, buf, len, cap);
	if (rc == QSG_OK)
		rc = append_raw(ours, olen, buf, len, cap);
	if (rc == QSG_OK)
		rc = append_raw(kept, klen, buf, len, cap);
	return rc;
}

/* Rewrite the message-annotations section s (k bytes): its entries but
 * ours, after ours. */
static int rewrite_ma(pn_data_t *d, const uint8_t *s, size_t k, const uint8_t *ours, size_t olen,
		      uint8_t **buf, size_t *len, size_t *cap)
{
	if (k < 2 || s[0] != 0x00)
		return QSG_RC_BAD_FRAME;
	pn_data_clear(d);
	ssize_t dk = pn_data_decode(d, (const char *)s + 1, k - 1); /* the descriptor */
	if (dk <= 0)
		return QSG_RC_BAD_FRAME;
	size_t m = 1 + (size_t)dk;
	const uint8_t *e;
	size_t elen;
	uint32_t count;
	if (m + 3 <= k && s[m] == 0xc1 && m + 2 + (size_t)s[m + 1] == k && s[m + 1] >= 1) {
		count = s[m + 2];
		e = s + m + 3;
		elen = (size_t)s[m + 1] - 1;
	} else if (m + 9 <= k && s[m] == 0xd1 && get_be32(s + m + 1) >= 4 &&
		   m + 5 + (size_t)get_be32(s + m + 1) == k) {
		count = get_be32(s + m + 5);
		e = s + m + 9;
		elen = (size_t)get_be32(s + m + 1) - 4;
	} else {
		return QSG_RC_BAD_FRAME;
	}
	if (count % 2 != 0 || count > elen)
		return QSG_RC_BAD_FRAME;
	uint8_t *kept = malloc(elen + 1);
	if (!kept)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	size_t off = 0, klen = 0;
	uint32_t kc = 0;
	int rc = QSG_OK;
	for (uint32_t i = 0; i < count / 2 && rc == QSG_OK; i++) {
		pn_data_clear(d);
		ssize_t kk = off < elen ? pn_data_decode(d, (const char *)e + off, elen - off) : -1;
		bool ours_key = kk > 0 && dlq_key(d);
		pn_data_clear(d);
		ssize_t vk =
		    kk > 0 && off + (size_t)kk < elen
			? pn_data_decode(d, (const char *)e + off + kk, elen - off - (size_t)kk)
			: -1;
		if (kk <= 0 || vk <= 0) {
			rc = QSG_RC_BAD_FRAME;
			break;
		}
		size_t n = (size_t)kk + (size_t)vk;
		if (!ours_key) {
			memcpy(kept + klen, e + off, n);
			klen += n;
			kc += 2;
		}
		off += n;
	}
	if (rc == QSG_OK && off != elen)
		rc = QSG_RC_BAD_FRAME;
	if (rc == QSG_OK)
		rc = put_ma(ours, olen, kept, klen, 6 + kc, buf, len, cap);
	free(kept);
	return rc;
}

int amqp_props_dlq(const uint8_t *props, size_t plen, int32_t reason, const char *text,
		   const char *queue, uint8_t **out, size_t *outlen)
{
	if (plen < AMQP_PROPS_HDR || memcmp(props, AMQP_PROPS_MAGIC, 4) != 0)
		return QSG_RC_BAD_FRAME;
	size_t cap = plen + 512, len = 0, ocap = 256, olen = 0;
	uint8_t *buf = malloc(cap), *ours = malloc(ocap);
	pn_data_t *d = pn_data(16);
	int rc = QSG_RC_STORAGE_NOT_AVAILABLE;
	if (!buf || !ours || !d)
		goto done;
	text = text ? text : "";
	queue = queue ? queue : "";
	pn_data_put_symbol(d, pn_bytes(strlen(AMQP_DLQ_REASON), AMQP_DLQ_REASON));
	pn_data_put_int(d, reason);
	pn_data_put_symbol(d, pn_bytes(strlen(AMQP_DLQ_TEXT), AMQP_DLQ_TEXT));
	if (utf8_ok((const uint8_t *)text, strlen(text)))
		pn_data_put_string(d, pn_bytes(strlen(text), text));
	else
		pn_data_put_binary(d, pn_bytes(strlen(text), text));
	pn_data_put_symbol(d, pn_bytes(strlen(AMQP_DLQ_QUEUE), AMQP_DLQ_QUEUE));
	pn_data_put_string(d, pn_bytes(strlen(queue), queue));
	if ((rc = append_data(d, &ours, &olen, &ocap)) != QSG_OK)
		goto done;
	if ((rc = append_raw(props, AMQP_PROPS_HDR, &buf, &len, &cap)) != QSG_OK)
		goto done;
	/* The kept sections are in wire order: message-annotations, when
	 * there, is the first. */
	bool added = false;
	for (size_t pos = AMQP_PROPS_HDR; pos < plen && rc == QSG_OK;) {
		pn_data_clear(d);
		ssize_t k = pn_data_decode(d, (const char *)props + pos, plen - pos);
		if (k <= 0) {
			rc = QSG_RC_BAD_FRAME;
			break;
		}
		uint64_t code = 0;
		pn_data_rewind(d);
		if (pn_data_next(d) && pn_data_type(d) == PN_DESCRIBED) {
			pn_data_enter(d);
			code = section_code(d);
			pn_data_exit(d);
		}
		if (!added && code == AMQP_SEC_MESSAGE_ANN) {
			rc = rewrite_ma(d, props + pos, (size_t)k, ours, olen, &buf, &len, &cap);
		} else {
			if (!added)
				rc = put_ma(ours, olen, NULL, 0, 6, &buf, &len, &cap);
			if (rc == QSG_OK)
				rc = append_raw(props + pos, (size_t)k, &buf, &len, &cap);
		}
		added = true;
		pos += (size_t)k;
	}
	if (rc == QSG_OK && !added)
		rc = put_ma(ours, olen, NULL, 0, 6, &buf, &len, &cap);
	if (rc == QSG_OK && len > FSM_MAX_PROPS)
		rc = QSG_RC_MSG_TOO_BIG;
done:
	if (d)
		pn_data_free(d);
	free(ours);
	if (rc != QSG_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len;
	return QSG_OK;
}

int amqp_msg_to_wire(const struct fsm_msg *m, uint8_t **out, size_t *outlen)
{
	size_t cap = 256 + m->body.len + m->props.len, len = 0;
	uint8_t *buf = malloc(cap);
	pn_data_t *d = pn_data(16);
	int rc = QSG_RC_STORAGE_NOT_AVAILABLE;
	if (!buf || !d)
		goto fail;
	/* header: durable, priority, ttl (omitted), first-acquirer,
	 * delivery-count = BackoutCount. */
	pn_data_put_described(d);
	pn_data_enter(d);
	pn_data_put_ulong(d, AMQP_SEC_HEADER);
	pn_data_put_list(d);
	pn_data_enter(d);
	pn_data_put_bool(d, m->persistent != 0);
	pn_data_put_ubyte(d, m->priority);
	pn_data_put_null(d);
	pn_data_put_bool(d, false);
	pn_data_put_uint(d, m->backout_count);
	pn_data_exit(d);
	pn_data_exit(d);
	if ((rc = append_data(d, &buf, &len, &cap)) != QSG_OK)
		goto fail;
	bool ours = m->props.len >= AMQP_PROPS_HDR &&
		    memcmp(m->props.p, AMQP_PROPS_MAGIC, 4) == 0 &&
		    m->props.p[4] <= AMQP_BODY_BINARY;
	enum amqp_body_kind kind = ours ? (enum amqp_body_kind)m->props.p[4] : AMQP_BODY_DATA;
	if (ours) {
		rc = append_raw(m->props.p + AMQP_PROPS_HDR, m->props.len - AMQP_PROPS_HDR, &buf,
				&len, &cap);
	} else {
		/* A message put by libqsg: its ids as binary message-id and
		 * correlation-id. Its properties area is not AMQP: not carried
		 * (a gateway's named properties are converted before, by
		 * amqp_props_from_pairs). */
		put_id_properties(d, m);
		rc = append_data(d, &buf, &len, &cap);
	}
	if (rc != QSG_OK)
		goto fail;
	if (kind == AMQP_BODY_RAW) {
		rc = append_raw(m->body.p, m->body.len, &buf, &len, &cap);
	} else {
		pn_data_clear(d);
		pn_data_put_described(d);
		pn_data_enter(d);
		pn_bytes_t b = {m->body.len, (const char *)m->body.p};
		if (kind == AMQP_BODY_STRING) {
			pn_data_put_ulong(d, AMQP_SEC_VALUE);
			pn_data_put_string(d, b);
		} else if (kind == AMQP_BODY_BINARY) {
			pn_data_put_ulong(d, AMQP_SEC_VALUE);
			pn_data_put_binary(d, b);
		} else {
			pn_data_put_ulong(d, AMQP_SEC_DATA);
			pn_data_put_binary(d, b);
		}
		pn_data_exit(d);
		rc = append_data(d, &buf, &len, &cap);
	}
	if (rc != QSG_OK)
		goto fail;
	pn_data_free(d);
	*out = buf;
	*outlen = len;
	return QSG_OK;
fail:
	free(buf);
	if (d)
		pn_data_free(d);
	return rc;
}

enum amqp_act amqp_outcome_action(uint64_t outcome, bool delivery_failed)
{
	switch (outcome) {
	case PN_ACCEPTED:
		return AMQP_ACT_CONSUME;
	case PN_REJECTED:
		return AMQP_ACT_DEADLETTER;
	case PN_RELEASED:
		return AMQP_ACT_RELEASE;
	case PN_MODIFIED:
		return delivery_failed ? AMQP_ACT_BACKOUT : AMQP_ACT_RELEASE;
	default:
		return AMQP_ACT_NONE;
	}
}

const char *amqp_act_name(enum amqp_act a)
{
	switch (a) {
	case AMQP_ACT_CONSUME:
		return "consume";
	case AMQP_ACT_RELEASE:
		return "release";
	case AMQP_ACT_BACKOUT:
		return "backout";
	case AMQP_ACT_DEADLETTER:
		return "deadletter";
	default:
		return "none";
	}
}

/* The transaction of a transactional-state on d's remote side, or 0;
 * *outcome: its outcome's type (0 none). */
uint64_t amqp_txn_state(pn_delivery_t *d, uint64_t *outcome, bool *failed)
{
	*outcome = 0;
	*failed = false;
	pn_disposition_t *r = pn_delivery_remote(d);
	if (pn_delivery_remote_state(d) != AMQP_STATE_TXN)
		return 0;
	pn_data_t *data = pn_disposition_data(r);
	pn_data_rewind(data);
	if (!pn_data_next(data) || pn_data_type(data) != PN_LIST)
		return UINT64_MAX;
	pn_data_enter(data);
	uint64_t id = UINT64_MAX;
	if (pn_data_next(data) && pn_data_type(data) == PN_BINARY) {
		pn_bytes_t b = pn_data_get_binary(data);
		if (b.size == 8) {
			id = 0;
			for (int i = 0; i < 8; i++)
				id = id << 8 | (uint8_t)b.start[i];
		}
	}
	if (pn_data_next(data) && pn_data_type(data) == PN_DESCRIBED) {
		pn_data_enter(data);
		if (pn_data_next(data) && pn_data_type(data) == PN_ULONG)
			*outcome = pn_data_get_ulong(data);
		if (*outcome == PN_MODIFIED && pn_data_next(data) &&
		    pn_data_type(data) == PN_LIST) {
			pn_data_enter(data);
			if (pn_data_next(data) && pn_data_type(data) == PN_BOOL)
				*failed = pn_data_get_bool(data);
			pn_data_exit(data);
		}
		pn_data_exit(data);
	}
	pn_data_exit(data);
	return id;
}

void amqp_put_txn_id(pn_data_t *d, uint64_t id)
{
	char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (char)(id >> (56 - 8 * i));
	pn_data_put_binary(d, (pn_bytes_t){8, b});
}

/* The body of a coordinator's control message: DECLARE or DISCHARGE with
 * the transaction and fail flag. 0: malformed. */
enum amqp_txn_op amqp_ctrl_parse(const uint8_t *p, size_t n, uint64_t *txn)
{
	enum amqp_txn_op op = 0;
	pn_data_t *d = pn_data(8);
	if (!d)
		return 0;
	size_t off = 0;
	while (off < n) {
		pn_data_clear(d);
		ssize_t used = pn_data_decode(d, (const char *)p + off, n - off);
		if (used <= 0)
			break;
		off += (size_t)used;
		pn_data_rewind(d);
		if (!pn_data_next(d) || pn_data_type(d) != PN_DESCRIBED)
			break;
		pn_data_enter(d);
		pn_data_next(d);
		bool value =
		    (pn_data_type(d) == PN_ULONG && pn_data_get_ulong(d) == AMQP_SEC_VALUE) ||
		    (pn_data_type(d) == PN_SYMBOL && pn_data_get_symbol(d).size == 18 &&
		     memcmp(pn_data_get_symbol(d).start, "amqp:amqp-value:*", 17) == 0);
		if (!value)
			continue;
		if (!pn_data_next(d) || pn_data_type(d) != PN_DESCRIBED)
			break;
		pn_data_enter(d);
		pn_data_next(d);
		uint64_t code = 0;
		if (pn_data_type(d) == PN_ULONG) {
			code = pn_data_get_ulong(d);
		} else if (pn_data_type(d) == PN_SYMBOL) {
			pn_bytes_t s = pn_data_get_symbol(d);
			if (s.size == 17 && memcmp(s.start, "amqp:declare:list", 17) == 0)
				code = AMQP_CTRL_DECLARE;
			else if (s.size == 19 && memcmp(s.start, "amqp:discharge:list", 19) == 0)
				code = AMQP_CTRL_DISCHARGE;
		}
		if (code == AMQP_CTRL_DECLARE) {
			op = AMQP_TXN_DECLARE;
		} else if (code == AMQP_CTRL_DISCHARGE && pn_data_next(d) &&
			   pn_data_type(d) == PN_LIST) {
			pn_data_enter(d);
			bool fail = false;
			*txn = UINT64_MAX;
			if (pn_data_next(d) && pn_data_type(d) == PN_BINARY) {
				pn_bytes_t b = pn_data_get_binary(d);
				if (b.size == 8) {
					*txn = 0;
					for (int i = 0; i < 8; i++)
						*txn = *txn << 8 | (uint8_t)b.start[i];
				}
			}
			if (pn_data_next(d) && pn_data_type(d) == PN_BOOL)
				fail = pn_data_get_bool(d);
			op = fail ? AMQP_TXN_ABORT : AMQP_TXN_COMMIT;
		}
		break;
	}
	pn_data_free(d);
	return op;
}

const char *amqp_rc_condition(int rc)
{
	switch (rc) {
	case QSG_RC_UNKNOWN_OBJECT:
	case QSG_RC_UNKNOWN_ALIAS_BASE_Q:
	case QSG_RC_UNKNOWN_REMOTE_Q_MGR:
		return "amqp:not-found";
	case QSG_RC_NOT_AUTHORIZED:
		return "amqp:unauthorized-access";
	case QSG_RC_MSG_TOO_BIG:
		return "amqp:link:message-size-exceeded";
	case QSG_RC_Q_FULL:
	case QSG_RC_SYNCPOINT_LIMIT:
	case QSG_RC_BUSY:
	case QSG_RC_STORAGE_NOT_AVAILABLE:
		return "amqp:resource-limit-exceeded";
	case QSG_RC_PUT_INHIBITED:
	case QSG_RC_GET_INHIBITED:
	case QSG_RC_NOT_OPEN_FOR_INPUT:
		return "amqp:not-allowed";
	case QSG_RC_BAD_FRAME:
		return "amqp:decode-error";
	case QSG_RC_BACKED_OUT:
		return "amqp:transaction:rollback";
	case QSG_RC_FUNCTION_NOT_SUPPORTED:
		return "amqp:not-implemented";
	default:
		return "amqp:internal-error";
	}
}
