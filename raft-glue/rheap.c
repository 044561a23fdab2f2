/* libraft's frees off the event loop: see rheap.h. */
#include "rheap.h"

#include "bgthread.h"

#include <pthread.h>
#include <raft.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

/* The process-wide state (rheap.h says why). The callers append to q; the
 * thread swaps q with its own empty vector and frees outside the lock. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t work; /* the thread waits for pointers */
	pthread_cond_t idle; /* drain waits for the queue to empty */
	bool enabled;
	bool thread_started;
	bool heap_set;
	void **q;
	size_t n, cap;
	bool busy; /* the thread is freeing a batch now */
	bool sleeping; /* the thread waits for work: a push must wake it */
	struct rheap_stats st;
	struct raft_heap heap;
} rh = {.mu = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER};

#define RHEAP_BATCH 4096 /* a queue this long is taken at once */
#define RHEAP_GATHER_MS 10

static void *freer(void *arg)
{
	void **mine = NULL;
	size_t mycap = 0;

	(void)arg;
	pthread_mutex_lock(&rh.mu);
	for (;;) {
		while (rh.n == 0) {
			rh.sleeping = true;
			pthread_cond_wait(&rh.work, &rh.mu);
		}
		rh.sleeping = false;
		if (rh.n < RHEAP_BATCH && rh.enabled) {
			/* Let a burst gather: one wake-up per RHEAP_GATHER_MS
			 * at most, not one per free (each wake-up is a futex
			 * call on the loop and, on 2 cores, a preemption). */
			struct timespec ts = {0, RHEAP_GATHER_MS * 1000000L};
			pthread_mutex_unlock(&rh.mu);
			nanosleep(&ts, NULL);
			pthread_mutex_lock(&rh.mu);
		}
		/* take the queue; leave ours (empty) in its place */
		void **batch = rh.q;
		size_t n = rh.n, bcap = rh.cap;
		rh.q = mine;
		rh.cap = mycap;
		rh.n = 0;
		rh.busy = true;
		pthread_mutex_unlock(&rh.mu);
		uint64_t t0 = glue_bgthread_now_us();
		for (size_t i = 0; i < n; i++)
			free(batch[i]);
		uint64_t us = glue_bgthread_now_us() - t0;
		pthread_mutex_lock(&rh.mu);
		/* the emptied vector goes in at the next swap */
		mine = batch;
		mycap = bcap;
		rh.busy = false;
		rh.st.done += n;
		if (us > rh.st.max_batch_us)
			rh.st.max_batch_us = us;
		if (rh.n == 0)
			pthread_cond_broadcast(&rh.idle);
	}
	return NULL;
}

/* True if ptr was queued for the thread (called with rh.mu held). */
static bool defer_locked(void *ptr)
{
	if (!rh.enabled || rh.n >= RHEAP_MAX_QUEUED)
		return false;
	if (rh.n == rh.cap) {
		size_t ncap = rh.cap ? rh.cap * 2 : 4096;
		void **nv = realloc(rh.q, ncap * sizeof *nv);
		if (nv == NULL)
			return false;
		rh.q = nv;
		rh.cap = ncap;
	}
	rh.q[rh.n++] = ptr;
	rh.st.deferred++;
	if (rh.n > rh.st.max_queued)
		rh.st.max_queued = rh.n;
	if (rh.sleeping) {
		rh.sleeping = false; /* one signal per sleep */
		pthread_cond_signal(&rh.work);
	}
	return true;
}

static void heap_free(void *data, void *ptr)
{
	bool queued;

	(void)data;
	if (ptr == NULL)
		return;
	pthread_mutex_lock(&rh.mu);
	queued = defer_locked(ptr);
	if (!queued)
		rh.st.inline_frees++;
	pthread_mutex_unlock(&rh.mu);
	if (!queued)
		free(ptr);
}

static void *heap_malloc(void *data, size_t size)
{
	(void)data;
	return malloc(size);
}

static void *heap_calloc(void *data, size_t nmemb, size_t size)
{
	(void)data;
	return calloc(nmemb, size);
}

static void *heap_realloc(void *data, void *ptr, size_t size)
{
	(void)data;
	return realloc(ptr, size);
}

static void *heap_aligned_alloc(void *data, size_t alignment, size_t size)
{
	(void)data;
	return aligned_alloc(alignment, size);
}

static void heap_aligned_free(void *data, size_t alignment, void *ptr)
{
	(void)alignment;
	heap_free(data, ptr);
}

void rheap_enable(void)
{
	pthread_mutex_lock(&rh.mu);
	if (!rh.thread_started)
		rh.thread_started = glue_bgthread_start(freer, NULL);
	rh.enabled = rh.thread_started;
	if (!rh.heap_set) {
		rh.heap = (struct raft_heap){.data = NULL,
					     .malloc = heap_malloc,
					     .free = heap_free,
					     .calloc = heap_calloc,
					     .realloc = heap_realloc,
					     .aligned_alloc = heap_aligned_alloc,
					     .aligned_free = heap_aligned_free};
		raft_heap_set(&rh.heap);
		rh.heap_set = true;
	}
	pthread_mutex_unlock(&rh.mu);
}

void rheap_drain(void)
{
	pthread_mutex_lock(&rh.mu);
	rh.enabled = false;
	while (rh.n > 0 || rh.busy)
		pthread_cond_wait(&rh.idle, &rh.mu);
	pthread_mutex_unlock(&rh.mu);
}

void rheap_get_stats(struct rheap_stats *out)
{
	pthread_mutex_lock(&rh.mu);
	*out = rh.st;
	pthread_mutex_unlock(&rh.mu);
}
