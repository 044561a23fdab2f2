#include "codec.h"

#include <stdlib.h>
#include <string.h>

#include "qsg_err.h"

void qsg_wbuf_init(struct qsg_wbuf *w)
{
	w->data = NULL;
	w->len = 0;
	w->cap = 0;
	w->err = QSG_OK;
}

void qsg_wbuf_close(struct qsg_wbuf *w)
{
	free(w->data);
	qsg_wbuf_init(w);
}

void qsg_wbuf_reset(struct qsg_wbuf *w)
{
	w->len = 0;
	w->err = QSG_OK;
}

int qsg_wbuf_reserve(struct qsg_wbuf *w, size_t extra)
{
	if (w->err != QSG_OK)
		return w->err;
	if (extra > SIZE_MAX / 2 - w->len) {
		w->err = QSG_RC_STORAGE_NOT_AVAILABLE;
		return w->err;
	}
	size_t need = w->len + extra;
	if (need <= w->cap)
		return QSG_OK;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(w->data, cap);
	if (p == NULL) {
		w->err = QSG_RC_STORAGE_NOT_AVAILABLE;
		return w->err;
	}
	w->data = p;
	w->cap = cap;
	return QSG_OK;
}

uint8_t *qsg_wbuf_take(struct qsg_wbuf *w, size_t *len)
{
	uint8_t *p = w->data;
	if (len != NULL)
		*len = w->len;
	qsg_wbuf_init(w);
	return p;
}

void qsg_put_bytes(struct qsg_wbuf *w, const void *p, size_t n)
{
	if (n == 0 || qsg_wbuf_reserve(w, n) != QSG_OK)
		return;
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

static void put_le(struct qsg_wbuf *w, uint64_t v, unsigned n)
{
	uint8_t b[8];
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	qsg_put_bytes(w, b, n);
}

void qsg_put_u8(struct qsg_wbuf *w, uint8_t v)
{
	put_le(w, v, 1);
}

void qsg_put_u16(struct qsg_wbuf *w, uint16_t v)
{
	put_le(w, v, 2);
}

void qsg_put_u32(struct qsg_wbuf *w, uint32_t v)
{
	put_le(w, v, 4);
}

void qsg_put_u64(struct qsg_wbuf *w, uint64_t v)
{
	put_le(w, v, 8);
}

void qsg_put_i64(struct qsg_wbuf *w, int64_t v)
{
	put_le(w, (uint64_t)v, 8);
}

size_t qsg_uvar_encode(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

void qsg_put_uvar(struct qsg_wbuf *w, uint64_t v)
{
	if (qsg_wbuf_reserve(w, QSG_UVAR_MAX) != QSG_OK)
		return;
	w->len += qsg_uvar_encode(w->data + w->len, v);
}

void qsg_put_svar(struct qsg_wbuf *w, int64_t v)
{
	qsg_put_uvar(w, qsg_zigzag(v));
}

void qsg_put_strn(struct qsg_wbuf *w, const char *s, size_t n)
{
	if (n > UINT16_MAX) {
		if (w->err == QSG_OK)
			w->err = QSG_RC_DATA_LENGTH_ERROR;
		return;
	}
	qsg_put_u16(w, (uint16_t)n);
	qsg_put_bytes(w, s, n);
}

void qsg_put_str(struct qsg_wbuf *w, const char *s)
{
	qsg_put_strn(w, s ? s : "", s ? strlen(s) : 0);
}

void qsg_put_blob(struct qsg_wbuf *w, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		if (w->err == QSG_OK)
			w->err = QSG_RC_DATA_LENGTH_ERROR;
		return;
	}
	qsg_put_u32(w, (uint32_t)n);
	qsg_put_bytes(w, p, n);
}

void qsg_patch_u32(struct qsg_wbuf *w, size_t off, uint32_t v)
{
	if (w->err != QSG_OK || off > w->len || w->len - off < 4)
		return;
	for (unsigned i = 0; i < 4; i++)
		w->data[off + i] = (uint8_t)(v >> (8 * i));
}

void qsg_rbuf_init(struct qsg_rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->pos = 0;
	r->err = QSG_OK;
}

size_t qsg_rbuf_left(const struct qsg_rbuf *r)
{
	return r->err ? 0 : r->len - r->pos;
}

static const uint8_t *take(struct qsg_rbuf *r, size_t n)
{
	if (r->err != QSG_OK)
		return NULL;
	if (n > r->len - r->pos) {
		r->err = QSG_RC_BAD_FRAME;
		return NULL;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += n;
	return p;
}

static uint64_t get_le(struct qsg_rbuf *r, unsigned n)
{
	const uint8_t *p = take(r, n);
	uint64_t v = 0;
	if (p == NULL)
		return 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint64_t qsg_get_uvar(struct qsg_rbuf *r)
{
	uint64_t v = 0;
	for (unsigned i = 0; r->err == QSG_OK; i++) {
		if (r->pos >= r->len || i == QSG_UVAR_MAX) {
			r->err = QSG_RC_BAD_FRAME;
			break;
		}
		uint8_t b = r->p[r->pos++];
		if ((i == QSG_UVAR_MAX - 1 && b > 1) || (i > 0 && b == 0)) {
			r->err = QSG_RC_BAD_FRAME; /* over 64 bits, or overlong */
			break;
		}
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return v;
	}
	return 0;
}

int64_t qsg_get_svar(struct qsg_rbuf *r)
{
	return qsg_unzigzag(qsg_get_uvar(r));
}

uint8_t qsg_get_u8(struct qsg_rbuf *r)
{
	return (uint8_t)get_le(r, 1);
}

uint16_t qsg_get_u16(struct qsg_rbuf *r)
{
	return (uint16_t)get_le(r, 2);
}

uint32_t qsg_get_u32(struct qsg_rbuf *r)
{
	return (uint32_t)get_le(r, 4);
}

uint64_t qsg_get_u64(struct qsg_rbuf *r)
{
	return get_le(r, 8);
}

int64_t qsg_get_i64(struct qsg_rbuf *r)
{
	return (int64_t)get_le(r, 8);
}

void qsg_get_bytes(struct qsg_rbuf *r, void *dst, size_t n)
{
	const uint8_t *p = take(r, n);
	if (p != NULL && n > 0)
		memcpy(dst, p, n);
	else if (n > 0)
		memset(dst, 0, n);
}

void qsg_get_str(struct qsg_rbuf *r, char *dst, size_t dstsize)
{
	size_t n = qsg_get_u16(r);
	if (dstsize > 0)
		dst[0] = '\0';
	if (r->err != QSG_OK)
		return;
	if (n >= dstsize) {
		r->err = QSG_RC_BAD_FRAME;
		return;
	}
	const uint8_t *p = take(r, n);
	if (p == NULL)
		return;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		r->err = QSG_RC_BAD_FRAME;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

struct qsg_slice qsg_get_blob(struct qsg_rbuf *r, size_t max)
{
	struct qsg_slice s = {NULL, 0};
	size_t n = qsg_get_u32(r);
	if (r->err != QSG_OK)
		return s;
	if (n > max) {
		r->err = QSG_RC_BAD_FRAME;
		return s;
	}
	return qsg_get_raw(r, n);
}

struct qsg_slice qsg_get_raw(struct qsg_rbuf *r, size_t n)
{
	struct qsg_slice s = {NULL, 0};
	const uint8_t *p = take(r, n);
	if (p != NULL) {
		s.p = p;
		s.len = n;
	}
	return s;
}

uint64_t qsg_hash64(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = seed;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
