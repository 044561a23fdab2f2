/* Sorted arrays, the state machine's tables of few objects (members,
 * channel definitions, channel status entries, SYNCQ records) and sorted
 * scratch lists: one binary search and the growth step. Internal to src/fsm.
 */
#ifndef QSG_FSM_SORTED_H
#define QSG_FSM_SORTED_H

#include <stdbool.h>
#include <stddef.h>

/* cmp(key, elem) < 0, 0 or > 0 as key sorts before, equal to or after the
 * element at elem (a pointer into the array). */
typedef int (*sorted_cmp_fn)(const void *key, const void *elem);

/* Binary search of base[0..n) (elements of `size` bytes, sorted by cmp,
 * keys unique): returns the position of the element equal to key with
 * *found = true, or else the position where key would be inserted (the
 * first element after it) with *found = false. */
size_t sorted_find(const void *base, size_t n, size_t size, const void *key, sorted_cmp_fn cmp,
		   bool *found);

/* Make room for one more element: *v grows (doubling, 8 at first) when
 * n == *cap. QSG_OK or QSG_RC_STORAGE_NOT_AVAILABLE (*v unchanged). */
int sorted_grow(void **v, size_t *cap, size_t n, size_t elsize);

#endif
