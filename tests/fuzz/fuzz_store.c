/* libFuzzer target for the message store's parsers: arbitrary bytes as a
 * segment image (after a valid segment header, so the record scanner runs)
 * and as an encoded descriptor. Neither may crash or trip a sanitizer; every
 * record the scanner reports lies inside the image and verifies; the valid
 * data never ends past the image; a descriptor that decodes re-encodes to the
 * same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

struct bounds {
	const uint8_t *img;
	size_t len;
};

static void on_rec(void *arg, uint8_t type, uint64_t key, uint32_t part, uint32_t off, uint32_t len)
{
	const struct bounds *b = arg;
	uint8_t t;
	uint64_t k;
	uint32_t p, l;

	if ((size_t)off + STORE_REC_HDR_SIZE + len > b->len ||
	    store_rec_check(b->img + off, b->len - off, &t, &k, &p, &l) != QSG_OK || t != type ||
	    k != key || p != part || l != len) {
		abort();
	}
}

static void on_fault(void *arg, uint32_t off, uint32_t len, int reason)
{
	const struct bounds *b = arg;

	if ((size_t)off + len > b->len || reason < STORE_FAULT_TORN_TAIL ||
	    reason > STORE_FAULT_MISMATCH) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *img = malloc(STORE_SEG_HDR_SIZE + size);
	struct bounds b = {img, STORE_SEG_HDR_SIZE + size};
	struct store_scan_cb cb = {on_rec, on_fault, &b};
	struct store_desc d;

	if (img == NULL) {
		return 0;
	}
	store_seg_header(img, 1);
	memcpy(img + STORE_SEG_HDR_SIZE, data, size);
	if (store_scan_image(img, b.len, &cb) > b.len) {
		abort();
	}
	free(img);
	if (store_desc_decode(data, size, &d, NULL) == QSG_OK) {
		struct qsg_wbuf w;
		qsg_wbuf_init(&w);
		store_desc_encode(&w, &d);
		if (w.len != size || memcmp(w.data, data, size) != 0) {
			abort();
		}
		qsg_wbuf_close(&w);
	}
	return 0;
}
