/* State machine, expiry: the EXPIRE commands, which take what is due from
 * the top of each queue's expiry heap (fsm_xheap.c; docs/storage.md,
 * "Expiry"). EXPIRE used to walk every message of every queue that held one
 * with an expiry, every expire_interval_ms on every member: O(depth). Now it
 * is O(due x log n), and EXPIRE_BOUNDED removes at most FSM_EXPIRE_BUDGET
 * messages per command (the leader sends the next one at once while some
 * are still due), so a million messages expiring at the same moment do not
 * hold an apply either. The order EXPIRE_BOUNDED removes messages in is a
 * function of the state alone (queues by name then scope; in a queue, by
 * expiry then seqno), so every member removes the same ones. Internal to
 * src/fsm. */
#include <stdlib.h>

#include "fsm_int.h"

/* Detached sessions older than the command's ttl (cmd.seq ms) go; one with
 * a backout pending stays until it is done. O(sessions). */
static void expire_sessions(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	int64_t ttl = c->seq > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)c->seq;
	struct hmap_node *n = hmap_next(&f->sessions, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&f->sessions, n);
		struct session *s = (struct session *)n;
		if (!s->attached && s->uow_count == 0 && sat_add_i64(s->detached_at, ttl) <= now) {
			hmap_remove(&f->sessions, n);
			session_free(s);
		}
		n = next;
	}
}

static bool due(const struct queue *q, int64_t now)
{
	return q->nexpiring > 0 && q->xheap[0].expiry <= now;
}

/* Remove q's due messages, at most *budget of them, into the garbage: the
 * reaper frees them and releases their content in slices outside apply, as
 * for CLEAR. Freed here, 4096 of them took 150-300 ms of one apply on a
 * member whose heap a CLEAR of 1M had fragmented (test_deep_clear). */
static void expire_queue(struct fsm *f, struct queue *q, int64_t now, uint64_t *budget)
{
	while (*budget > 0 && due(q, now)) {
		reap_msg(f, q, q->xheap[0].m);
		(*budget)--;
	}
}

/* EXPIRE (logs written before EXPIRE_BOUNDED existed, and tests): every
 * due message, in whatever queue order (the result does not depend on it). */
int op_expire(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	expire_sessions(f, c, now);
	uint64_t all = UINT64_MAX;
	for (struct hmap_node *n = hmap_next(&f->queues, NULL); n != NULL;
	     n = hmap_next(&f->queues, n))
		expire_queue(f, (struct queue *)n, now, &all);
	return QSG_OK;
}

int op_expire_bounded(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	f->expire_more = false;
	expire_sessions(f, c, now);
	size_t ndue = 0;
	for (struct hmap_node *n = hmap_next(&f->queues, NULL); n != NULL;
	     n = hmap_next(&f->queues, n))
		ndue += due((struct queue *)n, now);
	if (ndue == 0)
		return QSG_OK;
	/* The budget may end inside the queues: take the due ones in an order
	 * every member shares (the hash map's is not: a restored state may
	 * differ). Only the due queues are sorted: this runs ~1000 times back
	 * to back while a million messages expire. */
	struct queue **v = malloc(ndue * sizeof *v);
	if (v == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	size_t nq = 0;
	for (struct hmap_node *n = hmap_next(&f->queues, NULL); n != NULL;
	     n = hmap_next(&f->queues, n))
		if (due((struct queue *)n, now))
			v[nq++] = (struct queue *)n;
	qsort(v, nq, sizeof *v, cmp_queue);
	uint64_t budget = FSM_EXPIRE_BUDGET;
	for (size_t i = 0; i < nq; i++) {
		expire_queue(f, v[i], now, &budget);
		if (budget == 0 && due(v[i], now))
			f->expire_more = true;
	}
	free(v);
	return QSG_OK;
}

bool fsm_expire_more(const struct fsm *f)
{
	return f->expire_more;
}
