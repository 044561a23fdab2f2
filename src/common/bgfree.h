/* Freeing a large block without blocking the caller's thread. free() of a
 * block of hundreds of MB is a munmap that returns every page to the
 * kernel: 23-31 ms measured on the loop of a member at depth (perf trace,
 * docs/storage.md, "Leases that do not lie") for a 700 MB snapshot buffer
 * and for the 180 MB old table of the body map after a growth. */
#ifndef QSG_COMMON_BGFREE_H
#define QSG_COMMON_BGFREE_H

#include <stddef.h>

/* Blocks of at least this many bytes are freed on a thread of their own. */
#define QSG_BGFREE_MIN (16u << 20)

/* free(p) (p from malloc/calloc/realloc; NULL is fine). When len >=
 * QSG_BGFREE_MIN it runs on a new detached thread (one per call: large
 * blocks are rare, a few per snapshot at most), so the caller returns at
 * once; if no thread can be created it frees inline. Holds no state. */
void qsg_free_large(void *p, size_t len);
/* munmap(p, len) the same way (p from mmap; NULL is fine). */
void qsg_unmap_large(void *p, size_t len);

#endif
