/* Seqno uniqueness of a decoded snapshot (seqset.h). */
#include "seqset.h"

#include <stdlib.h>

#include "fsm_int.h"

static int by_bitmap(struct qmsg *const *m, size_t n, uint64_t lo, uint64_t range, uint64_t *dup)
{
	uint64_t *bits = calloc((size_t)(range / 64 + 1), sizeof *bits);
	if (bits == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	int rc = QSG_OK;
	for (size_t i = 0; i < n; i++) {
		uint64_t k = m[i]->seqno - lo, bit = (uint64_t)1 << (k % 64);
		if (bits[k / 64] & bit) {
			*dup = m[i]->seqno;
			rc = QSG_RC_BAD_FRAME;
			break;
		}
		bits[k / 64] |= bit;
	}
	free(bits);
	return rc;
}

static int by_hash(struct qmsg *const *m, size_t n, uint64_t *dup)
{
	size_t cap = 16;
	unsigned shift = 60;
	while (cap < 2 * n) {
		cap *= 2;
		shift--;
	}
	uint64_t *slot = calloc(cap, sizeof *slot); /* 0: empty (no seqno is 0) */
	if (slot == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	int rc = QSG_OK;
	for (size_t i = 0; i < n && rc == QSG_OK; i++) {
		uint64_t s = m[i]->seqno;
		size_t h = (size_t)((s * 0x9e3779b97f4a7c15ull) >> shift);
		for (;;) {
			if (slot[h] == 0) {
				slot[h] = s;
				break;
			}
			if (slot[h] == s) {
				*dup = s;
				rc = QSG_RC_BAD_FRAME;
				break;
			}
			h = (h + 1) & (cap - 1);
		}
	}
	free(slot);
	return rc;
}

int seqnos_unique(struct qmsg *const *m, size_t n, uint64_t *dup)
{
	if (n < 2)
		return QSG_OK;
	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < n; i++) {
		if (m[i]->seqno < lo)
			lo = m[i]->seqno;
		if (m[i]->seqno > hi)
			hi = m[i]->seqno;
	}
	uint64_t range = hi - lo;
	if (range / 64 <= n)
		return by_bitmap(m, n, lo, range, dup);
	return by_hash(m, n, dup);
}
