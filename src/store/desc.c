/* Descriptor codec of the message store (struct store_desc, see store.h):
 * the fixed, versioned encoding of the replicated part of a message's
 * descriptor. The member-local location is never encoded. */
#include "store.h"

#include <string.h>

#define DESC_MAX_PROPS (64u * 1024)
#define DESC_MAX_BODY (100u * 1024 * 1024)

uint32_t store_desc_parts(uint32_t body_len)
{
	if (body_len == 0) {
		return 1;
	}
	return (uint32_t)(((uint64_t)body_len + STORE_CHUNK_MAX - 1) / STORE_CHUNK_MAX);
}

void store_desc_encode(struct qsg_wbuf *w, const struct store_desc *d)
{
	qsg_put_u8(w, STORE_DESC_VERSION);
	qsg_put_u8(w, d->priority);
	qsg_put_u16(w, d->flags);
	qsg_put_u64(w, d->seqno);
	qsg_put_bytes(w, d->msgid, STORE_ID_LEN);
	qsg_put_bytes(w, d->correlid, STORE_ID_LEN);
	qsg_put_i64(w, d->expiry_ms);
	qsg_put_i64(w, d->put_time_ms);
	qsg_put_u32(w, d->backout_count);
	qsg_put_u32(w, d->props_len);
	qsg_put_u32(w, d->body_len);
	qsg_put_u32(w, d->nparts);
	qsg_put_u32(w, d->crc);
	qsg_put_u32(w, 0);
}

int store_desc_decode(const void *p, size_t len, struct store_desc *d, char *errmsg)
{
	struct qsg_rbuf r;
	uint32_t reserved;

	memset(d, 0, sizeof *d);
	if (len < 1) {
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "descriptor: empty");
	}
	if (((const uint8_t *)p)[0] != STORE_DESC_VERSION) {
		return qsg_errf(errmsg, QSG_RC_BAD_VERSION, "descriptor: version %u",
				((const uint8_t *)p)[0]);
	}
	if (len != STORE_DESC_SIZE) {
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "descriptor: %zu bytes, want %d", len,
				STORE_DESC_SIZE);
	}
	qsg_rbuf_init(&r, p, len);
	(void)qsg_get_u8(&r);
	d->priority = qsg_get_u8(&r);
	d->flags = qsg_get_u16(&r);
	d->seqno = qsg_get_u64(&r);
	qsg_get_bytes(&r, d->msgid, STORE_ID_LEN);
	qsg_get_bytes(&r, d->correlid, STORE_ID_LEN);
	d->expiry_ms = qsg_get_i64(&r);
	d->put_time_ms = qsg_get_i64(&r);
	d->backout_count = qsg_get_u32(&r);
	d->props_len = qsg_get_u32(&r);
	d->body_len = qsg_get_u32(&r);
	d->nparts = qsg_get_u32(&r);
	d->crc = qsg_get_u32(&r);
	reserved = qsg_get_u32(&r);
	if (r.err != QSG_OK || qsg_rbuf_left(&r) != 0) {
		memset(d, 0, sizeof *d);
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "descriptor: truncated");
	}
	const char *why = NULL;
	if (d->priority > 9) {
		why = "priority";
	} else if (d->flags & ~STORE_DF_ALL) {
		why = "flags";
	} else if (reserved != 0) {
		why = "reserved";
	} else if (d->seqno == 0) {
		why = "seqno 0";
	} else if (d->expiry_ms < 0) {
		why = "expiry";
	} else if (d->props_len > DESC_MAX_PROPS || d->body_len > DESC_MAX_BODY) {
		why = "length";
	} else if ((d->flags & STORE_DF_CHUNKED) ? d->nparts != store_desc_parts(d->body_len)
						 : d->nparts != 1) {
		why = "nparts";
	}
	if (why != NULL) {
		memset(d, 0, sizeof *d);
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "descriptor: bad %s", why);
	}
	return QSG_OK;
}
