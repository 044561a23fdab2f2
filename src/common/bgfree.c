/* See bgfree.h. */
#include "bgfree.h"

#include <pthread.h>
#include <stdlib.h>

static void *free_main(void *p)
{
	free(p);
	return NULL;
}

void qsg_free_large(void *p, size_t len)
{
	pthread_t t;
	pthread_attr_t a;

	if (p == NULL || len < QSG_BGFREE_MIN || pthread_attr_init(&a) != 0) {
		free(p);
		return;
	}
	int rc = pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (rc == 0)
		rc = pthread_create(&t, &a, free_main, p);
	pthread_attr_destroy(&a);
	if (rc != 0)
		free(p);
}
