/* See nofork.h. */
#include "nofork.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bgfree.h"

static size_t round_pages(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (len + pg - 1) & ~(pg - 1);
}

void *qsg_nofork_alloc(size_t len)
{
	if (len == 0 || len > SIZE_MAX / 2)
		return NULL;
	size_t n = round_pages(len);
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Best effort: without it the child gets a copy it does not read. */
	(void)madvise(p, n, MADV_DONTFORK);
	return p;
}

void qsg_nofork_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	qsg_unmap_large(p, round_pages(len));
}
