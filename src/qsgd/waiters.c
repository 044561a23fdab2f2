#include "waiters.h"

#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/qsg_err.h"

#define WQ_BUCKETS 256

struct wqueue {
	struct wqueue *next; /* hash chain */
	char name[FSM_NAME_MAX + 1];
	struct waiter *head;
	struct waiter *tail;
};

struct waiters {
	uv_loop_t *loop;
	struct wqueue *buckets[WQ_BUCKETS];
	size_t count;
};

int waiters_init(struct waiters **out, uv_loop_t *loop)
{
	struct waiters *ws = calloc(1, sizeof *ws);
	if (ws == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	ws->loop = loop;
	*out = ws;
	return QSG_OK;
}

void waiters_close(struct waiters *ws)
{
	if (ws == NULL)
		return;
	for (size_t i = 0; i < WQ_BUCKETS; i++) {
		struct wqueue *q = ws->buckets[i];
		while (q != NULL) {
			struct wqueue *next = q->next;
			free(q);
			q = next;
		}
	}
	free(ws);
}

static struct wqueue **find(struct waiters *ws, const char *name)
{
	uint64_t h = qsg_hash64(name, strlen(name), QSG_HASH_SEED);
	struct wqueue **pp = &ws->buckets[h % WQ_BUCKETS];
	while (*pp != NULL && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void timer_cb(uv_timer_t *t)
{
	struct waiter *w = t->data;
	waiters_cancel(w);
	w->expire(w);
}

int waiters_park(struct waiters *ws, struct waiter *w, const char *queue, int64_t timeout_ms)
{
	if (strlen(queue) > FSM_NAME_MAX)
		return QSG_RC_INVALID;
	struct wqueue **pp = find(ws, queue);
	struct wqueue *q = *pp;
	if (q == NULL) {
		q = calloc(1, sizeof *q);
		if (q == NULL)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		strcpy(q->name, queue);
		*pp = q;
	}
	w->ws = ws;
	w->q = q;
	w->next = NULL;
	w->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
	ws->count++;
	if (timeout_ms >= 0) {
		if (!w->timer_init) {
			uv_timer_init(ws->loop, &w->timer);
			w->timer_init = true;
		}
		w->timer.data = w;
		uv_timer_start(&w->timer, timer_cb, (uint64_t)timeout_ms, 0);
	}
	return QSG_OK;
}

void waiters_cancel(struct waiter *w)
{
	struct wqueue *q = w->q;
	if (w->timer_init)
		uv_timer_stop(&w->timer);
	if (q == NULL)
		return;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		q->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->next = w->prev = NULL;
	w->q = NULL;
	w->ws->count--;
	if (q->head == NULL) {
		struct wqueue **pp = find(w->ws, q->name);
		if (*pp == q) {
			*pp = q->next;
			free(q);
		}
	}
}

void waiters_notify(struct waiters *ws, const char *queue, uint32_t n)
{
	struct wqueue *q = *find(ws, queue);
	if (q == NULL)
		return;
	/* Detach the ones to wake first: waking may park others on this queue. */
	struct waiter *wake = NULL, **tail = &wake;
	while (n > 0 && q != NULL && q->head != NULL) {
		struct waiter *w = q->head;
		bool last = w->next == NULL;
		waiters_cancel(w);
		*tail = w;
		tail = &w->next;
		n--;
		if (last)
			q = NULL; /* freed by cancel */
	}
	while (wake != NULL) {
		struct waiter *w = wake;
		wake = w->next;
		w->next = NULL;
		w->wake(w);
	}
}

static void release_closed(uv_handle_t *h)
{
	struct waiter *w = h->data;
	w->release_done(w);
}

void waiters_release(struct waiter *w, void (*done)(struct waiter *w))
{
	waiters_cancel(w);
	if (!w->timer_init) {
		done(w);
		return;
	}
	w->timer_init = false;
	w->release_done = done;
	w->timer.data = w;
	uv_close((uv_handle_t *)&w->timer, release_closed);
}

size_t waiters_count(const struct waiters *ws)
{
	return ws->count;
}
