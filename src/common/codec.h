/* Bounds-checked little-endian encoding and decoding.
 *
 * Writers append to a growable buffer; readers walk a borrowed buffer. Both
 * keep a sticky error: after the first failure every further call is a no-op
 * (reads return 0 / empty), so a decoder reads all fields and checks `err`
 * once. Readers never read past `len`, whatever the input says.
 *
 * Wire types: u8, u16, u32, u64, i64 (two's complement), fixed bytes,
 * str  = u16 length + bytes (no NUL on the wire, NUL bytes rejected),
 * blob = u32 length + bytes,
 * uvar = unsigned LEB128 (7 bits per byte, low first, at most 10 bytes, the
 *        shortest form only), svar = a zig-zag i64 as a uvar. */
#ifndef QSG_CODEC_H
#define QSG_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qsg_slice {
	const uint8_t *p;
	size_t len;
};

struct qsg_wbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* QSG_OK or QSG_RC_STORAGE_NOT_AVAILABLE */
};

void qsg_wbuf_init(struct qsg_wbuf *w);
void qsg_wbuf_close(struct qsg_wbuf *w);
void qsg_wbuf_reset(struct qsg_wbuf *w); /* len = 0, err = 0, keeps memory */
int qsg_wbuf_reserve(struct qsg_wbuf *w, size_t extra);
/* Hand the buffer to the caller (free() it); w is re-initialised. */
uint8_t *qsg_wbuf_take(struct qsg_wbuf *w, size_t *len);

void qsg_put_u8(struct qsg_wbuf *w, uint8_t v);
void qsg_put_u16(struct qsg_wbuf *w, uint16_t v);
void qsg_put_u32(struct qsg_wbuf *w, uint32_t v);
void qsg_put_u64(struct qsg_wbuf *w, uint64_t v);
void qsg_put_i64(struct qsg_wbuf *w, int64_t v);
void qsg_put_bytes(struct qsg_wbuf *w, const void *p, size_t n);
void qsg_put_str(struct qsg_wbuf *w, const char *s); /* NULL = "" */
void qsg_put_strn(struct qsg_wbuf *w, const char *s, size_t n);
void qsg_put_blob(struct qsg_wbuf *w, const void *p, size_t n);
void qsg_put_uvar(struct qsg_wbuf *w, uint64_t v);
void qsg_put_svar(struct qsg_wbuf *w, int64_t v);
/* Encode a uvar at p (at least QSG_UVAR_MAX bytes); returns its length. */
#define QSG_UVAR_MAX 10
size_t qsg_uvar_encode(uint8_t *p, uint64_t v);
static inline uint64_t qsg_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t qsg_unzigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}
/* Overwrite a u32 already written at byte offset `off` (for length prefixes). */
void qsg_patch_u32(struct qsg_wbuf *w, size_t off, uint32_t v);

struct qsg_rbuf {
	const uint8_t *p;
	size_t len;
	size_t pos;
	int err; /* QSG_OK or QSG_RC_BAD_FRAME */
};

void qsg_rbuf_init(struct qsg_rbuf *r, const void *p, size_t len);
size_t qsg_rbuf_left(const struct qsg_rbuf *r);

uint8_t qsg_get_u8(struct qsg_rbuf *r);
uint16_t qsg_get_u16(struct qsg_rbuf *r);
uint32_t qsg_get_u32(struct qsg_rbuf *r);
uint64_t qsg_get_u64(struct qsg_rbuf *r);
int64_t qsg_get_i64(struct qsg_rbuf *r);
/* A uvar: fails on more than 10 bytes, more than 64 bits or an overlong
 * form (a last byte of 0 after the first). */
uint64_t qsg_get_uvar(struct qsg_rbuf *r);
int64_t qsg_get_svar(struct qsg_rbuf *r);
void qsg_get_bytes(struct qsg_rbuf *r, void *dst, size_t n);
/* A str into a fixed buffer: fails (err set) if it does not fit with its NUL
 * or contains a NUL byte. */
void qsg_get_str(struct qsg_rbuf *r, char *dst, size_t dstsize);
/* A blob as a slice into the reader's buffer; fails if longer than max. */
struct qsg_slice qsg_get_blob(struct qsg_rbuf *r, size_t max);
/* n raw bytes as a slice. */
struct qsg_slice qsg_get_raw(struct qsg_rbuf *r, size_t n);

/* Plain little-endian helpers for fixed headers. */
static inline uint32_t qsg_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* FNV-1a, 64 bits: hash tables and state digests. */
uint64_t qsg_hash64(const void *p, size_t n, uint64_t seed);
#define QSG_HASH_SEED 0xcbf29ce484222325ULL

#endif
