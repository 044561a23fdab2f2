/* Fixed-size item pool over aligned blocks: see slab.h. */
#include "slab.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "qsg_err.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1; older kernels say EINVAL */
#endif

static void *collapse_main(void *block)
{
	(void)madvise(block, QSG_SLAB_BLOCK, MADV_COLLAPSE);
	return NULL;
}

/* Make the block one huge page again, on a thread of its own: the kernel
 * may compact memory to find a free huge page first, which must not hold
 * the caller's loop. Best effort: no thread, no collapse (khugepaged does
 * it later). The block may be unmapped or reused meanwhile: a collapse
 * never changes what memory holds, and on an unmapped range it fails. */
static void collapse_async(void *block)
{
	pthread_t t;
	pthread_attr_t a;

	if (pthread_attr_init(&a) != 0)
		return;
	if (pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED) == 0)
		(void)pthread_create(&t, &a, collapse_main, block);
	pthread_attr_destroy(&a);
}

/* At the start of every block; the items follow at `off`. */
struct slab_block {
	struct qsg_slab *owner;
	struct slab_block *all_prev, *all_next; /* every mapped block */
	struct slab_block *fprev, *fnext; /* blocks with a free slot */
	void *free; /* freed slots (the first word links them) */
	uint32_t used, bump; /* items allocated; slots ever handed out */
	bool on_free_list;
	bool fresh; /* mapped for this use: slots never handed out are zero */
	bool armed; /* QSG_SLAB_HUGE: collapse when next full */
};

struct qsg_slab {
	size_t size, off;
	unsigned flags;
	uint32_t cap; /* items per block */
	struct slab_block *all, *avail, *spare;
	size_t items, blocks;
};

int qsg_slab_init_flags(struct qsg_slab **out, size_t item_size, unsigned flags)
{
	*out = NULL;
	if (item_size == 0 || item_size > QSG_SLAB_MAX_ITEM ||
	    (flags & ~(unsigned)(QSG_SLAB_HUGE | QSG_SLAB_NOFORK)) != 0 ||
	    flags == (QSG_SLAB_HUGE | QSG_SLAB_NOFORK))
		return QSG_RC_INVALID;
	struct qsg_slab *s = calloc(1, sizeof *s);
	if (s == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	s->flags = flags;
	s->size = (item_size + 7) & ~(size_t)7;
	s->off = (sizeof(struct slab_block) + 63) & ~(size_t)63;
	s->cap = (uint32_t)((QSG_SLAB_BLOCK - s->off) / s->size);
	*out = s;
	return QSG_OK;
}

int qsg_slab_init(struct qsg_slab **out, size_t item_size)
{
	return qsg_slab_init_flags(out, item_size, QSG_SLAB_HUGE);
}

/* A block aligned to its size: map twice the size, unmap the excess. The
 * advice is best effort: a kernel without transparent huge pages, or with
 * them set to "never", maps small pages and the pool works the same. */
static struct slab_block *block_map(unsigned flags)
{
	size_t len = 2 * QSG_SLAB_BLOCK;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)p + QSG_SLAB_BLOCK - 1) & ~(uintptr_t)(QSG_SLAB_BLOCK - 1);
	size_t head = a - (uintptr_t)p;
	if (head > 0)
		munmap(p, head);
	if (len - head > QSG_SLAB_BLOCK)
		munmap((uint8_t *)a + QSG_SLAB_BLOCK, len - head - QSG_SLAB_BLOCK);
	if (flags & QSG_SLAB_NOFORK) {
		/* Pages are faulted in as items are carved (a cache fills
		 * gradually). */
		(void)madvise((void *)a, QSG_SLAB_BLOCK, MADV_DONTFORK);
		return (struct slab_block *)a;
	}
#ifdef MADV_HUGEPAGE
	if (flags & QSG_SLAB_HUGE)
		(void)madvise((void *)a, QSG_SLAB_BLOCK, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
	/* One call faults the whole block in (one huge page when granted),
	 * instead of a page fault per 4 KiB as items are carved (a restore
	 * carves millions in a row). Kernels before 5.14 say EINVAL. */
	(void)madvise((void *)a, QSG_SLAB_BLOCK, MADV_POPULATE_WRITE);
#endif
	return (struct slab_block *)a;
}

static void avail_push(struct qsg_slab *s, struct slab_block *b)
{
	b->fprev = NULL;
	b->fnext = s->avail;
	if (s->avail != NULL)
		s->avail->fprev = b;
	s->avail = b;
	b->on_free_list = true;
}

static void avail_remove(struct qsg_slab *s, struct slab_block *b)
{
	if (b->fprev != NULL)
		b->fprev->fnext = b->fnext;
	else
		s->avail = b->fnext;
	if (b->fnext != NULL)
		b->fnext->fprev = b->fprev;
	b->fprev = b->fnext = NULL;
	b->on_free_list = false;
}

static void all_remove(struct qsg_slab *s, struct slab_block *b)
{
	if (b->all_prev != NULL)
		b->all_prev->all_next = b->all_next;
	else
		s->all = b->all_next;
	if (b->all_next != NULL)
		b->all_next->all_prev = b->all_prev;
}

static struct slab_block *block_new(struct qsg_slab *s)
{
	struct slab_block *b = s->spare;
	bool fresh = b == NULL;
	if (b != NULL) {
		s->spare = NULL;
	} else {
		b = block_map(s->flags);
		if (b == NULL)
			return NULL;
		s->blocks++;
	}
	memset(b, 0, sizeof *b);
	b->fresh = fresh;
	b->armed = true;
	b->owner = s;
	b->all_next = s->all;
	if (s->all != NULL)
		s->all->all_prev = b;
	s->all = b;
	avail_push(s, b);
	return b;
}

void *qsg_slab_alloc(struct qsg_slab *s)
{
	struct slab_block *b = s->avail;
	if (b == NULL && (b = block_new(s)) == NULL)
		return NULL;
	uint8_t *p;
	bool zero = false;
	if (b->free != NULL) {
		p = b->free;
		memcpy(&b->free, p, sizeof b->free);
	} else {
		p = (uint8_t *)b + s->off + (size_t)b->bump * s->size;
		b->bump++;
		zero = b->fresh; /* mmap gave zeroes, nobody wrote there yet */
	}
	if (++b->used == s->cap) {
		avail_remove(s, b);
		if ((s->flags & QSG_SLAB_HUGE) && b->armed) {
			/* Full: rarely written again until its items are freed
			 * (the middle of a deep queue). A snapshot's fork and a
			 * write while the child ran split its huge page into
			 * 512 small ones, which every later fork copies; make
			 * it one huge page again (about 0.25 ms, off the loop;
			 * a no-op if it still is one). Once per fill: re-armed
			 * when half empty, so a block that oscillates at full
			 * does not ask per item. */
			collapse_async(b);
			b->armed = false;
		}
	}
	s->items++;
	if (!zero)
		memset(p, 0, s->size);
	return p;
}

void qsg_slab_free(void *item)
{
	if (item == NULL)
		return;
	struct slab_block *b =
	    (struct slab_block *)((uintptr_t)item & ~(uintptr_t)(QSG_SLAB_BLOCK - 1));
	struct qsg_slab *s = b->owner;
	memcpy(item, &b->free, sizeof b->free);
	b->free = item;
	b->used--;
	s->items--;
	if (b->used < s->cap / 2)
		b->armed = true;
	if (b->used == 0) {
		/* Empty: back to the system, or kept as the one spare. */
		if (b->on_free_list)
			avail_remove(s, b);
		all_remove(s, b);
		if (s->spare == NULL) {
			s->spare = b;
		} else {
			munmap(b, QSG_SLAB_BLOCK);
			s->blocks--;
		}
	} else if (!b->on_free_list) {
		avail_push(s, b);
	}
}

void qsg_slab_close(struct qsg_slab *s)
{
	if (s == NULL)
		return;
	while (s->all != NULL) {
		struct slab_block *b = s->all;
		s->all = b->all_next;
		munmap(b, QSG_SLAB_BLOCK);
	}
	if (s->spare != NULL)
		munmap(s->spare, QSG_SLAB_BLOCK);
	free(s);
}

void qsg_slab_stats(const struct qsg_slab *s, struct qsg_slab_stats *out)
{
	out->items = s != NULL ? s->items : 0;
	out->blocks = s != NULL ? s->blocks : 0;
	out->bytes = out->blocks * QSG_SLAB_BLOCK;
}
