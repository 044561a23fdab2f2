/* A pool of fixed-size items carved from aligned blocks (a slab
 * allocator), for objects the state machine keeps by the million (message
 * descriptors, docs/storage.md "The in-memory descriptor").
 *
 * Why not malloc: glibc adds 8 bytes to every chunk (an 80-byte chunk for a
 * 72-byte descriptor), takes 20-50 ns per call on the apply path and keeps
 * the memory of a drained queue (the heap top is pinned by later
 * allocations). Here an item costs its size, an alloc or free is a few
 * instructions, and a block whose items are all freed goes back to the
 * system at once (one empty block is kept as a spare), so the memory of a
 * drained backlog is returned.
 *
 * Blocks are QSG_SLAB_BLOCK bytes, mapped with mmap and aligned to their
 * size, so qsg_slab_free finds an item's block (and pool) from its address
 * alone. 2 MiB is the huge-page size of x86-64 (and of arm64 with 4 KiB
 * pages): a pool made with QSG_SLAB_HUGE (the default of qsg_slab_init)
 * asks for one huge page per block, so a snapshot's fork() copies one page
 * table entry per block instead of 512 (docs/storage.md, "What fork()
 * copies"). A pool made with QSG_SLAB_NOFORK is left out of fork()
 * children altogether (MADV_DONTFORK): for what a snapshot child never
 * reads (the body cache). Allocation takes from the block that got free slots last (holes
 * are refilled before a new block is mapped). Items are zeroed by alloc.
 * Not thread-safe: one pool per owner, used from one thread. */
#ifndef QSG_SLAB_H
#define QSG_SLAB_H

#include <stddef.h>

#define QSG_SLAB_BLOCK ((size_t)2 << 20) /* 2 MiB */
#define QSG_SLAB_MAX_ITEM 4096

struct qsg_slab;

struct qsg_slab_stats {
	size_t items; /* allocated now */
	size_t blocks; /* mapped now, the spare included */
	size_t bytes; /* blocks * QSG_SLAB_BLOCK */
};

/* Flags of qsg_slab_init_flags. */
enum {
	/* Blocks advised as huge pages (MADV_HUGEPAGE) and faulted in whole
	 * when mapped. */
	QSG_SLAB_HUGE = 1,
	/* Blocks not inherited by fork() (MADV_DONTFORK) and faulted in as
	 * they are used. A child must never touch such a pool. */
	QSG_SLAB_NOFORK = 2,
};

/* item_size: 8 .. QSG_SLAB_MAX_ITEM, rounded up to a multiple of 8.
 * Returns QSG_OK, QSG_RC_INVALID or QSG_RC_STORAGE_NOT_AVAILABLE. */
int qsg_slab_init(struct qsg_slab **out, size_t item_size); /* QSG_SLAB_HUGE */
/* The same with flags: 0, QSG_SLAB_HUGE or QSG_SLAB_NOFORK (not both:
 * QSG_RC_INVALID). */
int qsg_slab_init_flags(struct qsg_slab **out, size_t item_size, unsigned flags);
/* Unmaps every block: items still allocated die with it. NULL is a no-op. */
void qsg_slab_close(struct qsg_slab *s);
/* A zeroed item, or NULL when no block can be mapped. */
void *qsg_slab_alloc(struct qsg_slab *s);
/* An item of any pool (found from its address); NULL is a no-op. */
void qsg_slab_free(void *item);
void qsg_slab_stats(const struct qsg_slab *s, struct qsg_slab_stats *out);

#endif
