/* Sorted arrays (sorted.h). */
#include "sorted.h"

#include <stdlib.h>

#include "../common/qsg_err.h"

size_t sorted_find(const void *base, size_t n, size_t size, const void *key, sorted_cmp_fn cmp,
		   bool *found)
{
	const char *b = base;
	size_t lo = 0, hi = n;
	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp(key, b + mid * size);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Grow a sorted array to hold one more element. */
int sorted_grow(void **v, size_t *cap, size_t n, size_t elsize)
{
	if (n < *cap)
		return QSG_OK;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *nv = realloc(*v, ncap * elsize);
	if (nv == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	*v = nv;
	*cap = ncap;
	return QSG_OK;
}
