/* State machine, delta snapshots (docs/storage.md "A base and deltas"):
 * the tracking of how the queues' committed contents changed since a base,
 * the delta parts of a format 12 snapshot, and their restore against the
 * base's full snapshot. Internal to src/fsm; the entry points are in fsm.h.
 *
 * A queue's committed content is a set: its priority lists are sorted by
 * (priority, seqno), so the set of (queue, descriptor) of every message in
 * a queue's priority lists at S follows from that at the base B and:
 *  - removed: the seqnos of base messages (seqno <= base_max) that left a
 *    priority list since B (get, expiry, a move to a park, a channel lock);
 *  - cleared: the queues whose lists left at once (CLEAR, DELETE): every
 *    base message of that name goes, by reference, in O(1);
 *  - touched: base messages linked into a priority list since B (a backout,
 *    a commit of a put held at B, a field changed), kept per queue by seqno
 *    (q->dtouched), written in full;
 *  - added: messages with seqno > base_max, at the tails of the lists.
 * Park lists, units of work and channels' locked messages are small state,
 * written in full by every snapshot. The tracking is member-local and
 * never read by an apply: members agree on the state, not on their bases. */
#include <stdlib.h>
#include <string.h>

#include "fsm_snap.h"

/* --- writing ------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_cleared(const void *a, const void *b)
{
	const struct dtcleared *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c != 0 ? c : x->scope < y->scope ? -1 : x->scope > y->scope;
}

/* Format 12, after the header (u8 12, u64 last_seqno, i64 last_time): u64
 * base index, u64 base size, u32 base crc, u64 base_max, u32 ncleared x
 * (str name, u32 scope) in key order, u32 nremoved x uvar (seqno minus the
 * previous one, the first from 0; strictly increasing). */
int delta_write_head(struct fsm *f, struct qsg_wbuf *out, const struct fsm_baseref *ref)
{
	const struct dtrack *d = &f->dt;
	qsg_put_u64(out, ref->index);
	qsg_put_u64(out, ref->size);
	qsg_put_u32(out, ref->crc);
	qsg_put_u64(out, d->base_max);
	struct dtcleared *c = NULL;
	uint64_t *s = NULL;
	if ((d->ncleared > 0 && (c = malloc(d->ncleared * sizeof *c)) == NULL) ||
	    (d->nremoved > 0 && (s = malloc(d->nremoved * sizeof *s)) == NULL)) {
		free(c);
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	if (c != NULL) {
		memcpy(c, d->cleared, d->ncleared * sizeof *c);
		qsort(c, d->ncleared, sizeof *c, cmp_cleared);
	}
	qsg_put_u32(out, (uint32_t)d->ncleared);
	for (size_t i = 0; i < d->ncleared; i++) {
		qsg_put_str(out, c[i].name);
		qsg_put_u32(out, c[i].scope);
	}
	size_t n = 0;
	if (s != NULL) {
		memcpy(s, d->removed, d->nremoved * sizeof *s);
		qsort(s, d->nremoved, sizeof *s, cmp_u64);
		for (size_t i = 0; i < d->nremoved; i++)
			if (n == 0 || s[i] != s[n - 1])
				s[n++] = s[i];
	}
	qsg_put_u32(out, (uint32_t)n);
	uint64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		qsg_put_uvar(out, s[i] - prev);
		prev = s[i];
	}
	free(c);
	free(s);
	return out->err;
}

static int cmp_touched(const void *a, const void *b)
{
	const struct qmsg *x = *(struct qmsg *const *)a, *y = *(struct qmsg *const *)b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return x->seqno < y->seqno ? -1 : x->seqno > y->seqno;
}

/* A queue's messages in a format 12 snapshot: u32 count, then its touched
 * and added messages in get order (per priority, highest first: the
 * touched ones, whose seqnos are <= base_max, then the added ones). */
int delta_write_queue(struct fsm *f, struct snapw *sw, const struct queue *q)
{
	size_t nt = q->dtouched.count;
	struct qmsg **t = NULL;
	if (nt > 0) {
		if ((t = malloc(nt * sizeof *t)) == NULL)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		size_t i = 0;
		for (struct hmap_node *n = hmap_next(&q->dtouched, NULL); n != NULL;
		     n = hmap_next(&q->dtouched, n))
			t[i++] = ((struct dtnode *)n)->m;
		qsort(t, nt, sizeof *t, cmp_touched);
	}
	const struct qmsg *first[NPRIO];
	uint64_t count = nt;
	for (int p = 0; p < NPRIO; p++) {
		const struct qmsg *m = q->tail[p], *a = NULL;
		while (m != NULL && m->seqno > f->dt.base_max) {
			a = m;
			m = m->prev;
			count++;
		}
		first[p] = a;
	}
	qsg_put_u32(sw->out, (uint32_t)count);
	size_t ti = 0;
	for (int p = NPRIO - 1; p >= 0; p--) {
		for (; ti < nt && t[ti]->priority == p; ti++)
			snap_msg(f, sw, t[ti]);
		for (const struct qmsg *m = first[p]; m != NULL; m = m->next)
			snap_msg(f, sw, m);
	}
	free(t);
	return sw->out->err;
}

/* --- restore ------------------------------------------------------------- */

void basecur_close(struct basecur *bc)
{
	free(bc->removed);
	free(bc->cleared);
	memset(bc, 0, sizeof *bc);
}

int basecur_open(struct basecur *bc, const void *base, size_t blen, char *errmsg)
{
	memset(bc, 0, sizeof *bc);
	qsg_rbuf_init(&bc->r, base, blen);
	bc->x.version = qsg_get_u8(&bc->r);
	bc->last_seqno = qsg_get_u64(&bc->r);
	(void)qsg_get_i64(&bc->r);
	bc->nq = qsg_get_u32(&bc->r);
	if (bc->r.err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "base of %zu bytes has no header", blen);
	if (bc->x.version < 8 || bc->x.version > FSM_SNAPSHOT_VERSION)
		return qsg_errf(errmsg, QSG_RC_BAD_VERSION, "base in snapshot format %u",
				bc->x.version);
	return QSG_OK;
}

int delta_read_head(struct qsg_rbuf *r, struct basecur *bc, uint64_t last_seqno, char *errmsg)
{
	bc->ref.index = qsg_get_u64(r);
	bc->ref.size = qsg_get_u64(r);
	bc->ref.crc = qsg_get_u32(r);
	bc->base_max = qsg_get_u64(r);
	uint32_t nc = qsg_get_u32(r);
	if (r->err != QSG_OK)
		return r->err;
	if (bc->base_max != bc->last_seqno || bc->base_max > last_seqno)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"delta snapshot: base_max %llu, the base's last seqno %llu",
				(unsigned long long)bc->base_max,
				(unsigned long long)bc->last_seqno);
	if (nc > qsg_rbuf_left(r) / 5)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "delta snapshot: %u cleared queues", nc);
	if (nc > 0 && (bc->cleared = calloc(nc, sizeof *bc->cleared)) == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	for (uint32_t i = 0; i < nc && r->err == QSG_OK; i++) {
		struct dtcleared *c = &bc->cleared[i];
		qsg_get_str(r, c->name, sizeof c->name);
		c->scope = qsg_get_u32(r);
		if (r->err == QSG_OK && i > 0 && cmp_cleared(&bc->cleared[i - 1], c) >= 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"delta snapshot: cleared queues out of order");
	}
	bc->ncleared = nc;
	uint32_t nr = qsg_get_u32(r);
	if (r->err != QSG_OK)
		return r->err;
	if (nr > qsg_rbuf_left(r))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "delta snapshot: %u removed seqnos", nr);
	if (nr > 0 && (bc->removed = malloc(nr * sizeof *bc->removed)) == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	uint64_t prev = 0;
	for (uint32_t i = 0; i < nr && r->err == QSG_OK; i++) {
		uint64_t dlt = qsg_get_uvar(r);
		if (r->err == QSG_OK && (dlt == 0 || dlt > bc->base_max - prev))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"delta snapshot: removed seqnos not increasing or "
					"above the base");
		prev += dlt;
		bc->removed[i] = prev;
	}
	bc->nremoved = nr;
	return r->err;
}

static bool is_removed(const struct basecur *bc, uint64_t seqno)
{
	size_t lo = 0, hi = bc->nremoved;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bc->removed[mid] < seqno)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < bc->nremoved && bc->removed[lo] == seqno;
}

static bool is_cleared(const struct basecur *bc, const struct fsm_qattrs *a)
{
	struct dtcleared key;
	if (bc->ncleared == 0)
		return false; /* bsearch of a NULL array is undefined */
	memcpy(key.name, a->name, sizeof key.name);
	key.scope = a->scope;
	return bsearch(&key, bc->cleared, bc->ncleared, sizeof key, cmp_cleared) != NULL;
}

/* The base's next message that stays (not removed), its queue's left
 * count decremented; false at the end of the queue's messages. */
static int base_next(struct basecur *bc, bool keep_all, bool *got, char *errmsg)
{
	*got = false;
	while (bc->left > 0) {
		bc->left--;
		snap_msg_decode(&bc->r, &bc->x, &bc->v, &bc->crc, &bc->hold);
		if (bc->r.err != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "base: message cut short or bad");
		if (bc->v.seqno == 0 || bc->v.seqno > bc->base_max)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "base: bad seqno");
		if (keep_all || !is_removed(bc, bc->v.seqno)) {
			*got = true;
			return QSG_OK;
		}
	}
	return QSG_OK;
}

/* Move the base cursor to queue `a` (queues in both are in cmp_queue
 * order): skip the base's queues before it; true in *match if the base
 * has it (its header read, bc->left its message count). */
static int base_seek(struct basecur *bc, const struct fsm_qattrs *a, bool *match, char *errmsg)
{
	*match = false;
	for (;;) {
		if (!bc->have_q) {
			if (bc->qi == bc->nq)
				return QSG_OK;
			if (fsm_qattrs_decode(&bc->r, &bc->a, errmsg) != QSG_OK)
				return QSG_RC_BAD_FRAME;
			(void)qsg_get_u64(&bc->r);
			(void)qsg_get_u64(&bc->r);
			bc->left = qsg_get_u32(&bc->r);
			if (bc->r.err != QSG_OK)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "base: queue cut short");
			bc->qi++;
			bc->have_q = true;
		}
		int c = strcmp(bc->a.name, a->name);
		if (c == 0)
			c = bc->a.scope < a->scope ? -1 : bc->a.scope > a->scope;
		if (c > 0)
			return QSG_OK;
		if (c == 0) {
			*match = true;
			return QSG_OK;
		}
		bool got;
		do { /* a queue of the base that is gone: skip its messages */
			int rc = base_next(bc, true, &got, errmsg);
			if (rc != QSG_OK)
				return rc;
		} while (got);
		bc->have_q = false;
	}
}

static bool before(const struct fsm_msg *a, const struct fsm_msg *b)
{
	return a->priority != b->priority ? a->priority > b->priority : a->seqno < b->seqno;
}

int delta_restore_queue(struct fsm *g, struct qsg_rbuf *r, struct rctx *x, struct basecur *bc,
			struct queue *q, uint32_t nm, char *errmsg)
{
	bool match;
	int rc = base_seek(bc, &q->attrs, &match, errmsg);
	if (rc != QSG_OK)
		return rc;
	bool cleared = match && is_cleared(bc, &q->attrs);
	bool hb = false, hd = false;
	struct fsm_msg dv;
	uint32_t dcrc = 0;
	int64_t dhold = 0;
	struct qmsg *last = NULL;
	for (;;) {
		if (match && !hb && (rc = base_next(bc, cleared, &hb, errmsg)) != QSG_OK)
			return rc;
		if (cleared && hb) {
			hb = false; /* every base message of the queue left */
			continue;
		}
		if (!hd && nm > 0) {
			nm--;
			snap_msg_decode(r, x, &dv, &dcrc, &dhold);
			if (r->err != QSG_OK)
				return r->err;
			if (dv.seqno == 0 || dv.seqno > g->last_seqno)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot queue %s: bad seqno", q->attrs.name);
			hd = true;
		}
		if (!hb && !hd)
			break;
		bool take_base = hb && (!hd || before(&bc->v, &dv));
		struct fsm_msg *v = take_base ? &bc->v : &dv;
		struct qmsg *m = take_base
				     ? snap_msg_new(g, &bc->x, v, bc->crc, bc->hold, false, errmsg)
				     : snap_msg_new(g, x, v, dcrc, dhold, false, errmsg);
		if (m == NULL)
			return QSG_RC_BAD_FRAME;
		if (take_base)
			hb = false;
		else
			hd = false;
		if (last != NULL && !msg_get_before(last, m)) {
			msg_destroy(m);
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %s: messages out of order or twice",
					q->attrs.name);
		}
		make_visible(g, q, m, true);
		q->curdepth++;
		last = m;
		if ((rc = rctx_add(x, m, v, errmsg)) != QSG_OK)
			return rc;
	}
	if (match)
		bc->have_q = false;
	return QSG_OK;
}

int fsm_snapshot_baseref(const void *p, size_t len, struct fsm_baseref *ref)
{
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, p, len);
	uint8_t version = qsg_get_u8(&r);
	(void)qsg_get_u64(&r);
	(void)qsg_get_i64(&r);
	ref->index = qsg_get_u64(&r);
	ref->size = qsg_get_u64(&r);
	ref->crc = qsg_get_u32(&r);
	if (r.err != QSG_OK || version != FSM_SNAPSHOT_DELTA)
		return QSG_RC_BAD_FRAME;
	return QSG_OK;
}
