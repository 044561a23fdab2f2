/* Memory that fork() does not copy into a child (MADV_DONTFORK).
 *
 * A snapshot is encoded by a forked child (raft-glue/snapfork.c), and the
 * loop pays for the fork: the kernel copies one page table entry per
 * resident 4 KiB page of the daemon, about 10-25 ms per 700 MB measured at
 * 1M queued messages (docs/storage.md, "What fork() copies"). The child
 * reads only the state machine, so the large regions it never reads (the
 * body store's key map, libraft's log buffers) are mapped here and left
 * out of the child. A child must never touch such memory: it is not mapped
 * there.
 *
 * Not for small objects: each block is its own mapping (a few
 * microseconds per call, rounded up to whole pages). */
#ifndef QSG_COMMON_NOFORK_H
#define QSG_COMMON_NOFORK_H

#include <stddef.h>

/* len zeroed bytes (len > 0), page aligned; NULL when out of memory. */
void *qsg_nofork_alloc(size_t len);
/* Unmap a block of qsg_nofork_alloc with the same len (NULL is a no-op).
 * Blocks of QSG_BGFREE_MIN bytes or more are unmapped on a thread of their
 * own (src/common/bgfree.h): a munmap of hundreds of MB takes tens of ms. */
void qsg_nofork_free(void *p, size_t len);

#endif
