/* See bgfree.h. */
#include "bgfree.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

/* What the thread releases: p with free() when len is 0, else munmap. */
struct bgjob {
	void *p;
	size_t len;
};

static void release(void *p, size_t unmap_len)
{
	if (unmap_len == 0)
		free(p);
	else
		(void)munmap(p, unmap_len);
}

static void *bg_main(void *arg)
{
	struct bgjob *j = arg;
	release(j->p, j->len);
	free(j);
	return NULL;
}

/* unmap_len 0: free(p); otherwise munmap(p, unmap_len). */
static void bg_release(void *p, size_t len, size_t unmap_len)
{
	pthread_t t;
	pthread_attr_t a;
	struct bgjob *j;

	if (p == NULL)
		return;
	if (len < QSG_BGFREE_MIN || (j = malloc(sizeof *j)) == NULL) {
		release(p, unmap_len);
		return;
	}
	j->p = p;
	j->len = unmap_len;
	int rc = pthread_attr_init(&a);
	if (rc == 0) {
		rc = pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (rc == 0)
			rc = pthread_create(&t, &a, bg_main, j);
		pthread_attr_destroy(&a);
	}
	if (rc != 0) {
		free(j);
		release(p, unmap_len);
	}
}

void qsg_free_large(void *p, size_t len)
{
	bg_release(p, len, 0);
}

void qsg_unmap_large(void *p, size_t len)
{
	bg_release(p, len, len);
}
