/* Segment and record formats of the message store (see store.h) and the
 * scanner that walks a segment image: pure functions of the bytes, no I/O.
 *
 * A record is trusted only when its header checksum matches (then its length
 * is trusted) and its payload checksum matches. The scanner distinguishes:
 *   - a torn tail: the data ends inside a record, or the last record's
 *     payload does not match, or no valid record follows a bad header. The
 *     valid data ends before it; the caller cuts the file there;
 *   - corruption in the middle: a bad record followed by a valid one. With a
 *     good header (trusted length) the bad record is skipped; with a bad
 *     header the scanner resynchronises on the next offset that holds a
 *     valid record header whose record fits in the image. */
#include "store.h"

#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)qsg_le32(p) | (uint64_t)qsg_le32(p + 4) << 32;
}

void store_rec_header_crc(uint8_t hdr[STORE_REC_HDR_SIZE], uint8_t type, uint64_t key,
			  uint32_t part, uint32_t len, uint32_t crc)
{
	hdr[0] = STORE_FORMAT_VERSION;
	hdr[1] = type;
	put16(hdr + 2, 0);
	put32(hdr + 4, len);
	put64(hdr + 8, key);
	put32(hdr + 16, part);
	put32(hdr + 20, crc);
	put32(hdr + 24, 0);
	put32(hdr + 28, qsg_crc32c(0, hdr, 28));
}

void store_rec_header(uint8_t hdr[STORE_REC_HDR_SIZE], uint8_t type, uint64_t key, uint32_t part,
		      const void *p, uint32_t len)
{
	store_rec_header_crc(hdr, type, key, part, len, qsg_crc32c(0, p, len));
}

void store_seg_header(uint8_t hdr[STORE_SEG_HDR_SIZE], uint32_t id)
{
	memset(hdr, 0, STORE_SEG_HDR_SIZE);
	put32(hdr, STORE_SEG_MAGIC);
	put16(hdr + 4, STORE_FORMAT_VERSION);
	put16(hdr + 6, STORE_SEG_HDR_SIZE);
	put32(hdr + 8, id);
	put32(hdr + 28, qsg_crc32c(0, hdr, 28));
}

int store_seg_header_check(const uint8_t *p, size_t len, uint32_t *id)
{
	if (len < STORE_SEG_HDR_SIZE || qsg_le32(p) != STORE_SEG_MAGIC ||
	    qsg_le32(p + 28) != qsg_crc32c(0, p, 28)) {
		return STORE_FAULT_SEG_HEADER;
	}
	if (get16(p + 4) != STORE_FORMAT_VERSION || get16(p + 6) != STORE_SEG_HDR_SIZE ||
	    qsg_le32(p + 12) != 0) {
		return STORE_FAULT_BAD_VERSION;
	}
	*id = qsg_le32(p + 8);
	return QSG_OK;
}

/* Header only: QSG_OK (fields set) or a fault reason. */
static int hdr_check(const uint8_t *h, uint8_t *type, uint64_t *key, uint32_t *part, uint32_t *plen)
{
	if (qsg_le32(h + 28) != qsg_crc32c(0, h, 28)) {
		return STORE_FAULT_HDR_CRC;
	}
	if (h[0] != STORE_FORMAT_VERSION || !STORE_REC_TYPE_OK(h[1]) || get16(h + 2) != 0 ||
	    qsg_le32(h + 24) != 0 || qsg_le32(h + 4) > STORE_MAX_PAYLOAD) {
		return STORE_FAULT_BAD_VERSION;
	}
	*type = h[1];
	*plen = qsg_le32(h + 4);
	*key = get64(h + 8);
	*part = qsg_le32(h + 16);
	return QSG_OK;
}

int store_rec_check(const uint8_t *p, size_t len, uint8_t *type, uint64_t *key, uint32_t *part,
		    uint32_t *plen)
{
	int r;

	if (len < STORE_REC_HDR_SIZE) {
		return STORE_FAULT_TORN_TAIL;
	}
	r = hdr_check(p, type, key, part, plen);
	if (r != QSG_OK) {
		return r;
	}
	if (*plen > len - STORE_REC_HDR_SIZE) {
		return STORE_FAULT_TORN_TAIL;
	}
	if (qsg_le32(p + 20) != qsg_crc32c(0, p + STORE_REC_HDR_SIZE, *plen)) {
		return STORE_FAULT_PAYLOAD_CRC;
	}
	return QSG_OK;
}

/* First offset > from holding a valid record header whose record fits in
 * the image, or len if there is none. */
static size_t resync(const uint8_t *buf, size_t len, size_t from)
{
	uint8_t type;
	uint64_t key;
	uint32_t part, plen;
	size_t q;

	for (q = from + 1; q + STORE_REC_HDR_SIZE <= len; q++) {
		/* Cheap filter before the checksum. */
		if (buf[q] != STORE_FORMAT_VERSION || !STORE_REC_TYPE_OK(buf[q + 1])) {
			continue;
		}
		if (hdr_check(buf + q, &type, &key, &part, &plen) == QSG_OK &&
		    plen <= len - q - STORE_REC_HDR_SIZE) {
			return q;
		}
	}
	return len;
}

size_t store_scan_image(const uint8_t *buf, size_t len, const struct store_scan_cb *cb)
{
	size_t pos = STORE_SEG_HDR_SIZE, end = STORE_SEG_HDR_SIZE;
	uint8_t type;
	uint64_t key;
	uint32_t part, plen;
	int r;

	if (len < STORE_SEG_HDR_SIZE) {
		return 0;
	}
	if (len > UINT32_MAX) {
		len = UINT32_MAX; /* offsets are u32: nothing past 4 GiB is served */
	}
	while (pos < len) {
		if (len - pos < STORE_REC_HDR_SIZE) {
			break; /* torn inside a header */
		}
		r = hdr_check(buf + pos, &type, &key, &part, &plen);
		if (r == QSG_OK) {
			size_t rl = STORE_REC_HDR_SIZE + (size_t)plen;
			if (rl > len - pos) {
				break; /* torn inside the payload */
			}
			if (qsg_le32(buf + pos + 20) ==
			    qsg_crc32c(0, buf + pos + STORE_REC_HDR_SIZE, plen)) {
				if (cb && cb->rec) {
					cb->rec(cb->arg, type, key, part, (uint32_t)pos, plen);
				}
			} else if (pos + rl == len) {
				break; /* last record with a bad payload: torn */
			} else if (cb && cb->fault) {
				cb->fault(cb->arg, (uint32_t)pos, (uint32_t)rl,
					  STORE_FAULT_PAYLOAD_CRC);
			}
			pos += rl;
			end = pos;
			continue;
		}
		size_t next = resync(buf, len, pos);
		if (next >= len) {
			break; /* nothing valid after: torn tail */
		}
		if (cb && cb->fault) {
			cb->fault(cb->arg, (uint32_t)pos, (uint32_t)(next - pos), r);
		}
		pos = next;
		end = pos;
	}
	if (end < len && cb && cb->fault) {
		cb->fault(cb->arg, (uint32_t)end, (uint32_t)(len - end), STORE_FAULT_TORN_TAIL);
	}
	return end;
}

const char *store_fault_name(int reason)
{
	switch (reason) {
	case STORE_FAULT_TORN_TAIL:
		return "torn tail";
	case STORE_FAULT_HDR_CRC:
		return "record header checksum mismatch";
	case STORE_FAULT_PAYLOAD_CRC:
		return "payload checksum mismatch";
	case STORE_FAULT_BAD_VERSION:
		return "unknown version or type";
	case STORE_FAULT_SEG_HEADER:
		return "bad segment header";
	case STORE_FAULT_MISMATCH:
		return "record does not match its locator";
	default:
		return "unknown fault";
	}
}
