/* State machine, channel message transfer (fsm_chan.h): the sender's
 * CH_GETBATCH, CH_SETTLE and CH_RESET and the receiver's CH_RECV_START and
 * CH_RECV_BATCH. Internal to src/fsm (fsm_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"
#include "sorted.h"

/* --- sender: CH_GETBATCH, CH_SETTLE, CH_RESET --- */

/* The SDR entry of an instance (owner and epoch must match). */
static int sdr_instance(struct fsm *f, const struct fsm_chcmd *ch, struct chst **out)
{
	struct chst *e = chst_find(f, ch->name, "");
	*out = e;
	if (e == NULL || e->s.chltype != FSM_CHL_SDR || e->s.img.owner != ch->member_id ||
	    e->s.img.epoch != ch->epoch)
		return QSG_RC_CHANNEL_FENCED;
	return QSG_OK;
}

/* --- the destination black list (fsm_chan.h, docs/channels.md) --- */

/* The destination of an xmitq message, from its XQH. false: it has none,
 * or its content could not be read (f->body_failed: the apply fails). */
static bool msg_dest(struct fsm *f, const struct qmsg *m, struct fsm_xqh *x)
{
	struct fsm_msg v;
	size_t hl = 0;
	if (msg_read(f, m, &v) != QSG_OK)
		return false;
	return fsm_xqh_decode(v.body.p, v.body.len, x, &hl) == QSG_OK;
}

static int blk_find(const struct fsm_chstatus *s, const char *rqm, const char *rname)
{
	for (uint32_t i = 0; i < s->nblk; i++)
		if (strcmp(s->blk[i].rqmname, rqm) == 0 && strcmp(s->blk[i].rname, rname) == 0)
			return (int)i;
	return -1;
}

/* The list entry whose message out alone is chseq, or -1. */
static int blk_out(const struct fsm_chstatus *s, uint64_t chseq)
{
	for (uint32_t i = 0; i < s->nblk; i++)
		if (s->blk[i].retry_seq == chseq)
			return (int)i;
	return -1;
}

/* --- parks (struct park, fsm_park.c) --- */

/* The first message of pk in get order, or NULL. */
static struct qmsg *park_first(const struct park *pk)
{
	for (int p = NPRIO - 1; pk != NULL && p >= 0; p--)
		if (pk->l.head[p] != NULL)
			return pk->l.head[p];
	return NULL;
}

static bool park_empty(const struct park *pk)
{
	return pk == NULL || pk->l.nvisible == 0;
}

/* The park of list entry i for xmitq q, made if it has none. NULL: out of
 * memory (the apply fails), or its park holds messages of another queue
 * (the channel's XMITQ was altered): then the walk leaves the message. */
static struct park *blk_park(struct fsm *f, struct chst *e, uint32_t i, struct queue *q)
{
	if (e->pk[i] == NULL && (e->pk[i] = park_new(q)) == NULL) {
		f->alloc_failed = true;
		return NULL;
	}
	if (e->pk[i]->xq != q) {
		if (!park_empty(e->pk[i]))
			return NULL;
		e->pk[i]->xq = q; /* empty: reused for the new xmitq */
	}
	return e->pk[i];
}

/* The entry goes (its park is empty). */
static void blk_remove(struct fsm *f, struct chst *e, uint32_t i)
{
	park_free(e->pk[i]);
	memmove(&e->s.blk[i], &e->s.blk[i + 1], (e->s.nblk - i - 1) * sizeof e->s.blk[0]);
	memmove(&e->pk[i], &e->pk[i + 1], (e->s.nblk - i - 1) * sizeof e->pk[0]);
	e->s.nblk--;
	memset(&e->s.blk[e->s.nblk], 0, sizeof e->s.blk[0]);
	e->pk[e->s.nblk] = NULL;
	chan_changed(f);
}

/* The entry of x, listed now if it is not (retry_at_ms = now): -1 when the
 * list is full. An entry leaving the list is listed again. */
static int blk_add(struct chst *e, const struct fsm_xqh *x, int64_t now)
{
	int i = blk_find(&e->s, x->rqmname, x->rname);
	if (i >= 0) {
		if (e->s.blk[i].leaving) {
			e->s.blk[i].leaving = 0;
			e->s.blk[i].retry_at_ms = now;
		}
		return i;
	}
	if (e->s.nblk >= FSM_CH_BLK_MAX)
		return -1;
	struct fsm_chblk *b = &e->s.blk[e->s.nblk];
	memset(b, 0, sizeof *b);
	memcpy(b->rqmname, x->rqmname, sizeof b->rqmname);
	memcpy(b->rname, x->rname, sizeof b->rname);
	b->since_ms = now;
	b->retry_at_ms = now;
	return (int)e->s.nblk++;
}

/* A walk of the xmitq in get order, bounded (FSM_CH_BLK_STEPS messages
 * examined, FSM_CH_BLK_READS XQH read), the same on every member: the
 * budget counts the state's messages only. */
struct bwalk {
	uint32_t steps, reads, parked;
	bool stopped; /* a budget ended it */
};

static bool walk_budget(struct fsm *f, struct bwalk *w)
{
	if (w->steps >= FSM_CH_BLK_STEPS || w->reads >= FSM_CH_BLK_READS) {
		w->stopped = true;
		return false;
	}
	w->steps++;
	f->blk_steps++;
	return true;
}

/* The list entry whose park takes m (a visible message), or -1: an
 * ordinary message (no XQH, not listed, or of a destination leaving the
 * list and before its parked ones). Reads m's XQH (f->body_failed). */
static int blk_class(struct fsm *f, const struct chst *e, const struct qmsg *m, struct bwalk *w)
{
	struct fsm_xqh x;
	w->reads++;
	f->blk_reads++;
	if (!msg_dest(f, m, &x))
		return -1;
	int i = blk_find(&e->s, x.rqmname, x.rname);
	if (i >= 0 && e->s.blk[i].leaving) {
		const struct qmsg *first = park_first(e->pk[i]);
		if (first == NULL || msg_get_before(m, first))
			return -1; /* its parked ones are later: it may go */
	}
	return i;
}

/* m, visible on q, into the park of entry i; false if it stays (blk_park). */
static bool park_move(struct fsm *f, struct chst *e, uint32_t i, struct queue *q, struct qmsg *m,
		      struct bwalk *w)
{
	struct park *pk = blk_park(f, e, i, q);
	if (pk == NULL)
		return false;
	take_visible(f, q, m);
	park_insert(f, pk, m, true); /* met in get order: usually the last */
	w->parked++;
	return true;
}

/* Parked messages of destinations that left the list back to their xmitq,
 * oldest first, at most FSM_CH_BLK_DRAIN; an entry goes with its last.
 * Returns whether some are left. */
static bool blk_drain(struct fsm *f, struct chst *e)
{
	uint32_t budget = FSM_CH_BLK_DRAIN, i = 0;
	while (i < e->s.nblk) {
		if (!e->s.blk[i].leaving) {
			i++;
			continue;
		}
		struct park *pk = e->pk[i];
		struct qmsg *m;
		while (budget > 0 && (m = park_first(pk)) != NULL) {
			struct queue *xq = pk->xq;
			park_take(f, m);
			make_visible(f, xq, m, false);
			budget--;
		}
		if (!park_empty(pk)) {
			chan_changed(f);
			return true;
		}
		blk_remove(f, e, i);
	}
	return false;
}

/* Whether m may be got now at all (not expired, not held back). */
static bool gettable(const struct qmsg *m, int64_t now)
{
	return !msg_expired(m, now) && qmsg_hold_until(m) <= now;
}

/* Lock m (visible on q, or parked) to the channel with the next sequence
 * number and write it to out. */
static int lock_msg(struct fsm *f, struct chst *e, struct queue *q, struct qmsg *m,
		    struct qsg_wbuf *out)
{
	if (m->state == MS_PARKED)
		park_take(f, m);
	else
		take_visible(f, q, m);
	m->state = MS_CHLOCKED;
	m->chseq = ++e->s.curseq;
	q->uncommitted++;
	lk_append(e, m);
	if (out != NULL) {
		qsg_put_u64(out, m->chseq);
		return qmsg_put(f, out, m); /* fatal on error (f->body_failed) */
	}
	return QSG_OK;
}

/* Discovery for a retry alone: the walk from the head of q in get order up
 * to `limit` (NULL: the whole queue) moves the messages of every listed
 * destination it meets, held back ones included, to their parks. true:
 * it got there; false: a budget ended it first (or a read failed). */
static bool prewalk(struct fsm *f, struct chst *e, struct queue *q, const struct qmsg *limit,
		    int64_t now, struct bwalk *w)
{
	for (int p = NPRIO - 1; p >= 0; p--) {
		struct qmsg *m = q->head[p];
		while (m != NULL) {
			struct qmsg *next = m->next;
			if (limit != NULL && !msg_get_before(m, limit))
				return true;
			if (!walk_budget(f, w))
				return false;
			if (!msg_expired(m, now)) {
				int i = blk_class(f, e, m, w);
				if (f->body_failed)
					return false;
				if (i >= 0)
					park_move(f, e, (uint32_t)i, q, m, w);
			}
			m = next;
		}
	}
	return true;
}

/* The first unexpired message of pk in get order (expired ones wait for
 * EXPIRE), or NULL; counted in w's steps, false from *ok if the budget
 * ended the search. */
static struct qmsg *park_oldest(struct fsm *f, const struct park *pk, int64_t now, struct bwalk *w,
				bool *ok)
{
	*ok = true;
	for (int p = NPRIO - 1; pk != NULL && p >= 0; p--)
		for (struct qmsg *m = pk->l.head[p]; m != NULL; m = m->next) {
			if (!walk_budget(f, w)) {
				*ok = false;
				return NULL;
			}
			if (!msg_expired(m, now))
				return m;
		}
	return NULL;
}

/* CH_GETBATCH with FSM_CHF_ALONE: the oldest message of the first listed
 * destination that is due (retry_at_ms <= now) and has no message out
 * alone: the first unexpired one of its park once the walk has moved every
 * message of a listed destination before it to its park. A due destination
 * with no message left (cleared, expired and taken by EXPIRE) leaves the
 * list. Returns the
 * count (0 or 1); a budget may end it with 0 (the sender asks again). */
static uint32_t get_alone(struct fsm *f, struct chst *e, struct queue *q, int64_t now,
			  struct qsg_wbuf *out, int *rc)
{
	struct bwalk w = {0};
	uint32_t i = 0;
	while (i < e->s.nblk) {
		struct fsm_chblk *b = &e->s.blk[i];
		if (b->leaving || b->retry_seq != 0 || b->retry_at_ms > now ||
		    (e->pk[i] != NULL && e->pk[i]->xq != q && !park_empty(e->pk[i]))) {
			i++;
			continue;
		}
		bool ok;
		struct qmsg *m = park_oldest(f, e->pk[i], now, &w, &ok);
		if (ok)
			ok = prewalk(f, e, q, m, now, &w);
		if (ok)
			m = park_oldest(f, e->pk[i], now, &w, &ok);
		if (f->body_failed)
			return 0;
		if (!ok)
			break;
		if (m == NULL && !park_empty(e->pk[i])) {
			i++; /* only expired ones: EXPIRE takes them first */
			continue;
		}
		if (m == NULL) {
			blk_remove(f, e, i);
			continue;
		}
		if (!gettable(m, now)) {
			i++; /* held back: it goes first, later */
			continue;
		}
		*rc = lock_msg(f, e, q, m, out);
		b->retry_seq = m->chseq;
		chan_changed(f);
		return 1;
	}
	if (w.parked > 0) {
		chan_changed(f);
		if (w.stopped)
			queue_notify(f, q, 1); /* more to discover: ask again */
	}
	return 0;
}

int op_ch_getbatch(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	const struct fsm_chcmd *ch = &c->ch;
	struct chst *e;
	int rc = sdr_instance(f, ch, &e);
	if (rc != QSG_OK)
		return rc;
	if (e->s.img.state != FSM_CHS_RUNNING)
		return QSG_RC_CHANNEL_STOPPED;
	/* A private channel's xmitq is its member's QMGR queue exactly
	 * (docs/channels.md "Private channels"). */
	uint32_t scope = chdef_scope(chdef_find(f, ch->name));
	struct queue *q =
	    scope != 0 ? queue_find(f, scope, e->s.xmitq) : queue_lookup(f, 0, e->s.xmitq);
	if (q == NULL || q->attrs.qtype != FSM_QT_LOCAL)
		return QSG_RC_UNKNOWN_OBJECT;
	size_t off = 0;
	if (out != NULL) {
		off = out->len;
		qsg_put_u32(out, 0);
	}
	uint32_t n = 0;
	uint64_t bytes = 0;
	struct bwalk w = {0};
	bool more = false;
	if (ch->flags & FSM_CHF_ALONE) {
		n = get_alone(f, e, q, now, out, &rc);
		if (rc != QSG_OK)
			return rc;
		goto done;
	}
	if (e->s.nblk > 0)
		more = blk_drain(f, e);
	/* In get order. With a black list the walk is bounded (struct bwalk)
	 * and moves the messages of listed destinations it meets to their
	 * parks: they go alone (above), in their order. */
	for (int p = NPRIO - 1; p >= 0 && n < ch->max_msgs; p--) {
		struct qmsg *m = q->head[p];
		while (m != NULL && n < ch->max_msgs) {
			struct qmsg *next = m->next;
			if (e->s.nblk > 0 && !walk_budget(f, &w))
				goto done;
			if (!gettable(m, now)) {
				m = next;
				continue;
			}
			if (e->s.nblk > 0) {
				int i = blk_class(f, e, m, &w);
				if (f->body_failed)
					return QSG_RC_IO; /* fatal (the apply fails) */
				if (i >= 0) {
					park_move(f, e, (uint32_t)i, q, m, &w);
					m = next;
					continue;
				}
			}
			uint64_t size = (uint64_t)m->body_len + m->props_len;
			if (n > 0 && ch->max_bytes != 0 && bytes + size > ch->max_bytes)
				goto done;
			bytes += size;
			if ((rc = lock_msg(f, e, q, m, out)) != QSG_OK)
				return rc;
			n++;
			m = next;
		}
	}
done:
	if (out != NULL)
		qsg_patch_u32(out, off, n);
	if (w.parked > 0)
		chan_changed(f);
	if (more || (w.stopped && w.parked > 0))
		queue_notify(f, q, 1); /* more to do: the sender asks again */
	if (n > 0)
		chan_changed(f);
	return QSG_OK;
}

/* Index of seq in the sorted seqs[0..n), or n. */
static int seq_cmp(const void *key, const void *elem)
{
	uint64_t k = *(const uint64_t *)key, e = *(const uint64_t *)elem;
	return k < e ? -1 : k > e;
}

static size_t seq_index(const uint64_t *seqs, size_t n, uint64_t seq)
{
	bool found;
	size_t i = sorted_find(seqs, n, sizeof *seqs, &seq, seq_cmp, &found);
	return found ? i : n;
}

/* Release a channel-locked message from its queue's uncommitted count. */
static void lk_release(struct qmsg *m)
{
	m->q->uncommitted--;
	m->uow_next = NULL;
	m->flags &= (uint8_t)~QM_MARK;
}

/* DLQ disposition: the message goes to the dead-letter queue with a DLH
 * instead of its XQH: a new message (content read on every member, put
 * under a new seqno), the old one released. false: not possible (the
 * caller holds it instead), or the provider failed (f->body_failed). */
static bool dispose_dlq(struct fsm *f, const struct chst *e, struct qmsg *m,
			const struct fsm_chdisp *d, int64_t now)
{
	struct queue *dq =
	    f->qmgr.deadq[0] != '\0' ? queue_lookup(f, e->s.img.owner, f->qmgr.deadq) : NULL;
	if (dq == NULL || dq->attrs.qtype != FSM_QT_LOCAL || dq->attrs.put_inhibited ||
	    dq->curdepth >= dq->attrs.maxdepth)
		return false;
	struct fsm_msg v;
	if (msg_read(f, m, &v) != QSG_OK)
		return false;
	struct fsm_xqh x;
	size_t hl = 0;
	struct fsm_dlh h;
	memset(&h, 0, sizeof h);
	if (fsm_xqh_decode(v.body.p, v.body.len, &x, &hl) == QSG_OK) {
		memcpy(h.destq, x.rname, sizeof h.destq);
		memcpy(h.destqmgr, x.rqmname, sizeof h.destqmgr);
	} else {
		hl = 0;
	}
	h.reason = d->reason;
	h.put_ms = now;
	memcpy(h.channel, e->s.name, sizeof h.channel);
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	fsm_dlh_encode(&w, &h);
	qsg_put_bytes(&w, v.body.p + hl, v.body.len - hl);
	struct qmsg *nm = NULL;
	if (w.err == QSG_OK && w.len <= dq->attrs.maxmsgl) {
		v.body.p = w.data;
		v.body.len = w.len;
		v.seqno = f->last_seqno + 1;
		msg_create(f, &v, &nm);
	}
	qsg_wbuf_close(&w);
	if (nm == NULL)
		return false;
	f->last_seqno = nm->seqno;
	struct queue *q = m->q;
	lk_release(m);
	q->curdepth--;
	q->gets_total++;
	msg_free(f, m);
	nm->q = dq;
	dq->curdepth++;
	dq->puts_total++;
	make_visible(f, dq, nm, true);
	queue_notify(f, dq, 1);
	return true;
}

int op_ch_settle(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	const struct fsm_chcmd *ch = &c->ch;
	struct chst *e;
	if (ch->flags & FSM_CHF_OPERATOR) {
		e = chst_find(f, ch->name, "");
		if (e == NULL || e->s.chltype != FSM_CHL_SDR)
			return QSG_RC_CHANNEL_NOT_FOUND;
		if (e->s.img.state == FSM_CHS_STARTING || e->s.img.state == FSM_CHS_RUNNING)
			return QSG_RC_CHANNEL_ACTIVE;
	} else {
		int rc = sdr_instance(f, ch, &e);
		if (rc != QSG_OK)
			return rc;
	}
	uint64_t upto = ch->seq;
	if (upto > e->s.curseq)
		return QSG_RC_SEQ_MISMATCH;
	/* The locked messages, in chseq order. */
	size_t nl = e->s.indoubt, i = 0;
	struct qmsg **v = NULL;
	uint64_t *seqs = NULL;
	if (nl > 0) {
		v = malloc(nl * sizeof *v);
		seqs = malloc(nl * sizeof *seqs);
		if (v == NULL || seqs == NULL) {
			free(v);
			free(seqs);
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		}
	}
	for (struct qmsg *m = e->lk_head; m != NULL && i < nl; m = m->uow_next) {
		v[i] = m;
		seqs[i++] = m->chseq;
	}
	/* (a) Check every disposition before changing anything. */
	struct fsm_chiter it;
	struct fsm_chdisp d;
	int done = 0, rc = QSG_OK;
	fsm_chiter_init(&it, ch);
	for (;;) {
		if (fsm_chiter_disp(&it, &d, &done) != QSG_OK) {
			rc = QSG_RC_INVALID; /* unreachable: decode walked it */
			break;
		}
		if (done)
			break;
		size_t k = seq_index(seqs, nl, d.seq);
		if (k == nl || (v[k]->flags & QM_MARK)) {
			rc = QSG_RC_INVALID;
			break;
		}
		v[k]->flags |= QM_MARK;
	}
	for (i = 0; i < nl; i++)
		v[i]->flags &= (uint8_t)~QM_MARK;
	if (rc != QSG_OK) {
		free(v);
		free(seqs);
		return rc;
	}
	uint32_t committed = 0, backed = 0, disposed = 0;
	bool blk_changed = false;
	fsm_chiter_init(&it, ch);
	while (fsm_chiter_disp(&it, &d, &done) == QSG_OK && !done) {
		size_t k = seq_index(seqs, nl, d.seq);
		if (k == nl || v[k] == NULL)
			continue; /* unreachable: checked above */
		struct qmsg *m = v[k];
		v[k] = NULL;
		disposed++;
		int bi = blk_out(&e->s, m->chseq);
		if (bi >= 0)
			e->s.blk[bi].retry_seq = 0; /* refused alone: still listed */
		bool list = d.action == FSM_DISP_LIST || d.action == FSM_DISP_LIST_DLQ;
		bool dlq = d.action == FSM_DISP_DLQ || d.action == FSM_DISP_LIST_DLQ;
		if (list && bi < 0) {
			struct fsm_xqh x;
			if (msg_dest(f, m, &x))
				bi = blk_add(e, &x, now);
		}
		if (list && bi >= 0) {
			struct fsm_chblk *b = &e->s.blk[bi];
			b->reason = d.reason;
			if (b->refusals < UINT32_MAX)
				b->refusals++;
			blk_changed = true;
		}
		if (dlq && dispose_dlq(f, e, m, &d, now))
			continue; /* a listed destination: its next message may go at once */
		struct queue *q = m->q;
		lk_release(m);
		uint32_t bc = qmsg_backout(m);
		if (bc < UINT32_MAX)
			qmsg_set_backout(f, m, bc + 1);
		struct park *pk = list && bi >= 0 ? blk_park(f, e, (uint32_t)bi, q) : NULL;
		if (list && bi >= 0) {
			/* Listed: into its destination's park at its place
			 * (usually the first); it goes alone from now +
			 * hold_ms. */
			e->s.blk[bi].retry_at_ms = sat_add_i64(now, (int64_t)d.hold_ms);
			if (pk != NULL)
				park_insert(f, pk, m, false);
			else
				make_visible(f, q, m, false);
		} else {
			/* HOLD (or a full list): back on the xmitq, not got
			 * again by a channel before now + hold_ms. An extension
			 * if it has none: out of memory fails the apply
			 * (f->alloc_failed), the message is held all the same. */
			qmsg_set_hold(f, m, sat_add_i64(now, (int64_t)d.hold_ms));
			make_visible(f, q, m, false);
		}
		queue_notify(f, q, 1);
	}
	/* (b) commit up to upto, (c) back out the rest if asked. */
	for (i = 0; i < nl; i++) {
		struct qmsg *m = v[i];
		if (m == NULL)
			continue;
		struct queue *q = m->q;
		int bi = e->s.nblk > 0 ? blk_out(&e->s, m->chseq) : -1;
		if (m->chseq <= upto) {
			if (bi >= 0) {
				/* The destination accepted its message sent
				 * alone: it leaves the list, at once if it has
				 * nothing parked, else as its parked messages go
				 * back to the xmitq (blk_drain, by the gets). */
				struct fsm_chblk *b = &e->s.blk[bi];
				if (park_empty(e->pk[bi])) {
					blk_remove(f, e, (uint32_t)bi);
				} else {
					b->leaving = 1;
					b->retry_seq = 0;
					b->retry_at_ms = INT64_MAX;
					queue_notify(f, e->pk[bi]->xq, 1);
				}
				blk_changed = true;
			}
			lk_release(m);
			q->curdepth--;
			q->gets_total++;
			msg_free(f, m);
			v[i] = NULL;
			committed++;
		} else if (ch->flags & FSM_CHF_BACKOUT_REST) {
			struct park *pk = NULL;
			if (bi >= 0) {
				e->s.blk[bi].retry_seq = 0; /* not sent: again at once */
				blk_changed = true;
				pk = blk_park(f, e, (uint32_t)bi, q);
			}
			lk_release(m);
			if (pk != NULL)
				park_insert(f, pk, m, false); /* the first of its park */
			else
				make_visible(f, q, m, false);
			queue_notify(f, q, 1);
			v[i] = NULL;
			backed++;
		}
	}
	/* Rebuild the locked list from what is left. */
	e->lk_head = e->lk_tail = NULL;
	e->s.indoubt = 0;
	for (i = 0; i < nl; i++)
		if (v[i] != NULL)
			lk_append(e, v[i]);
	free(v);
	free(seqs);
	bool changed = committed + backed + disposed > 0 || blk_changed;
	if (committed > 0) {
		e->s.msgs += committed;
		e->s.batches++;
	}
	if (committed > 0 || upto > e->s.lstseq) {
		if (upto > e->s.lstseq)
			e->s.lstseq = upto;
		e->s.last_msg_ms = now;
		changed = true;
	}
	if (ch->flags & FSM_CHF_BACKOUT_REST) {
		uint64_t cs = upto > e->s.lstseq ? upto : e->s.lstseq;
		if (cs != e->s.curseq) {
			e->s.curseq = cs;
			changed = true;
		}
	}
	if (changed)
		chan_changed(f);
	if (out != NULL) {
		qsg_put_u32(out, committed);
		qsg_put_u32(out, backed);
		qsg_put_u32(out, disposed);
	}
	return QSG_OK;
}

int op_ch_reset(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	const struct fsm_chattrs *def = chdef_find(f, c->ch.name);
	if (def == NULL || def->chltype != FSM_CHL_SDR)
		return QSG_RC_CHANNEL_NOT_FOUND;
	struct chst *e = chst_find(f, c->ch.name, "");
	if (e != NULL && e->s.indoubt > 0)
		return QSG_RC_CHANNEL_INDOUBT;
	if (e == NULL) {
		if ((e = chst_insert(f, c->ch.name, "", FSM_CHL_SDR)) == NULL)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		e->s.img.state = FSM_CHS_STOPPED;
		memcpy(e->s.xmitq, def->xmitq, sizeof e->s.xmitq);
		snprintf(e->s.reason, sizeof e->s.reason, "reset");
		e->s.last_change_ms = now;
	}
	e->s.lstseq = e->s.curseq = c->ch.seq - 1;
	e->s.reset_seq = c->ch.seq;
	e->s.partner[0] = '\0'; /* the operator accepts whichever partner comes next */
	chan_changed(f);
	return QSG_OK;
}

/* --- receiver: CH_RECV_START, CH_RECV_BATCH --- */

int op_ch_recv_start(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	const struct fsm_chcmd *ch = &c->ch;
	const struct fsm_chattrs *def = chdef_find(f, ch->name);
	if (def == NULL || def->chltype != FSM_CHL_RCVR)
		return QSG_RC_CHANNEL_NOT_FOUND;
	/* A private receiver is served by its member only. */
	if (FSM_CH_PRIVATE(def) && ch->member_id != def->scope)
		return QSG_RC_CHANNEL_NOT_FOUND;
	bool found;
	bool takeover = (ch->flags & FSM_CHF_TAKEOVER) != 0;
	size_t si = syncq_pos(f, ch->name, ch->rqmname, &found);
	if (found && ch->epoch < f->syncqs[si].epoch)
		return QSG_RC_CHANNEL_FENCED;
	if (takeover && found && f->syncqs[si].rinst == UINT64_MAX)
		return QSG_RC_INVALID;
	/* Allocate everything first: nothing changes on failure. */
	if (!found && sorted_grow((void **)&f->syncqs, &f->capsyncqs, f->nsyncqs,
				  sizeof *f->syncqs) != QSG_OK)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	struct chst *e = chst_find(f, ch->name, ch->rqmname);
	if (e != NULL && e->s.chltype != FSM_CHL_RCVR)
		return QSG_RC_INVALID; /* unreachable: RCVR keys have an rqmname */
	bool had = e != NULL;
	if (e == NULL && (e = chst_insert(f, ch->name, ch->rqmname, FSM_CHL_RCVR)) == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	if (!found) {
		memmove(&f->syncqs[si + 1], &f->syncqs[si], (f->nsyncqs - si) * sizeof *f->syncqs);
		memset(&f->syncqs[si], 0, sizeof f->syncqs[si]);
		memcpy(f->syncqs[si].name, ch->name, sizeof f->syncqs[si].name);
		memcpy(f->syncqs[si].rqmname, ch->rqmname, sizeof f->syncqs[si].rqmname);
		f->nsyncqs++;
	}
	struct fsm_syncq *sq = &f->syncqs[si];
	sq->epoch = ch->epoch;
	if (ch->flags & FSM_CHF_RESET)
		sq->lstseq = ch->seq - 1;
	/* One instance at a time: a new instance fences the one before it
	 * (its batches carry an older rinst), wherever it runs. */
	bool taken =
	    takeover && had && e->s.img.owner != ch->member_id && e->s.img.state == FSM_CHS_RUNNING;
	uint32_t from = e->s.img.owner;
	if (takeover)
		sq->rinst++;
	if (had && e->s.img.owner != ch->member_id)
		e->s.prev_owner = e->s.img.owner;
	e->s.img.exists = 1;
	e->s.img.owner = ch->member_id;
	e->s.img.state = FSM_CHS_RUNNING;
	e->s.img.epoch = ch->epoch;
	memcpy(e->s.conname, ch->conname, sizeof e->s.conname);
	if (taken)
		snprintf(e->s.reason, sizeof e->s.reason, "inbound, taken over from member %u",
			 (unsigned)from);
	else
		snprintf(e->s.reason, sizeof e->s.reason, "inbound");
	e->s.last_change_ms = now;
	e->s.lstseq = e->s.curseq = sq->lstseq;
	chan_changed(f);
	if (out != NULL) {
		qsg_put_u64(out, sq->epoch);
		qsg_put_u64(out, sq->lstseq);
		qsg_put_u64(out, sq->luwid);
		if (takeover)
			qsg_put_u64(out, sq->rinst);
	}
	return QSG_OK;
}

/* Where a received message goes: *dq, and whether it needs an XQH (*wrap,
 * with its destination in x). Returns a reason code for the reject list. */
static int recv_route(const struct fsm *f, const struct fsm_chcmd *ch, const struct fsm_chmsg *m,
		      struct queue **dq, bool *wrap, struct fsm_xqh *x)
{
	memset(x, 0, sizeof *x);
	*wrap = false;
	*dq = NULL;
	if (m->rqmname[0] == '\0' || strcmp(m->rqmname, ch->local_qmgr) == 0) {
		struct queue *q, *alias;
		int arc = queue_resolve(f, ch->member_id, m->rname, &q, &alias);
		if (arc != QSG_OK)
			return arc;
		if (alias != NULL && alias->attrs.put_inhibited)
			return QSG_RC_PUT_INHIBITED;
		if (q->attrs.qtype == FSM_QT_REMOTE) {
			int rc = resolve_xmitq(f, ch->member_id, q, dq);
			if (rc != QSG_OK)
				return rc;
			if (q->attrs.put_inhibited)
				return QSG_RC_PUT_INHIBITED;
			*wrap = true;
			memcpy(x->rqmname, q->attrs.rqmname, sizeof x->rqmname);
			memcpy(x->rname, q->attrs.rname, sizeof x->rname);
			return QSG_OK;
		}
		*dq = q;
		return QSG_OK;
	}
	struct queue *q = queue_lookup(f, ch->member_id, m->rqmname);
	if (q == NULL)
		return QSG_RC_UNKNOWN_REMOTE_Q_MGR;
	if (!xmitq_ok(q))
		return QSG_RC_XMIT_Q_USAGE_ERROR;
	*dq = q;
	*wrap = true;
	memcpy(x->rqmname, m->rqmname, sizeof x->rqmname);
	memcpy(x->rname, m->rname, sizeof x->rname);
	return QSG_OK;
}

static int recv_validate(struct fsm *f, const struct fsm_chcmd *ch, struct queue **dqs,
			 struct qsg_wbuf *rej, uint32_t *nrej)
{
	struct fsm_chiter it;
	struct fsm_chmsg m;
	int done = 0;
	uint32_t idx = 0;
	*nrej = 0;
	fsm_chiter_init(&it, ch);
	while (fsm_chiter_msg(&it, &m, &done) == QSG_OK && !done && idx < ch->count) {
		struct queue *dq;
		bool wrap;
		struct fsm_xqh x;
		int rc = recv_route(f, ch, &m, &dq, &wrap, &x);
		if (rc == QSG_OK && dq->attrs.put_inhibited)
			rc = QSG_RC_PUT_INHIBITED;
		if (rc == QSG_OK && (uint64_t)dq->curdepth + dq->pending >= dq->attrs.maxdepth)
			rc = QSG_RC_Q_FULL;
		if (rc == QSG_OK && m.msg.body.len > dq->attrs.maxmsgl)
			rc = QSG_RC_MSG_TOO_BIG;
		if (rc == QSG_OK) {
			dq->pending++;
			dqs[idx] = dq;
		} else {
			qsg_put_u32(rej, idx);
			qsg_put_u32(rej, (uint32_t)rc);
			(*nrej)++;
		}
		idx++;
	}
	for (uint32_t i = 0; i < idx; i++)
		if (dqs[i] != NULL)
			dqs[i]->pending = 0;
	return rej->err;
}

int op_ch_recv_batch(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	const struct fsm_chcmd *ch = &c->ch;
	struct fsm_syncq *sq = syncq_find(f, ch->name, ch->rqmname);
	if (sq == NULL)
		return QSG_RC_SEQ_MISMATCH;
	if (ch->epoch < sq->epoch)
		return QSG_RC_CHANNEL_FENCED;
	if (ch->rinst != 0) {
		/* Only the current instance puts, even a duplicate: an older
		 * one, or one whose entry was taken or removed, is fenced. */
		const struct chst *e = chst_find(f, ch->name, ch->rqmname);
		if (ch->rinst != sq->rinst || e == NULL || e->s.img.owner != ch->member_id ||
		    e->s.img.state != FSM_CHS_RUNNING)
			return QSG_RC_CHANNEL_FENCED;
	}
	if (ch->last <= sq->lstseq) {
		if (out != NULL)
			qsg_put_u8(out, 1);
		return QSG_OK;
	}
	if (ch->seq != sq->lstseq + 1 || ch->seq > ch->last || ch->last - ch->seq >= UINT32_MAX ||
	    ch->count != ch->last - ch->seq + 1)
		return QSG_RC_SEQ_MISMATCH;
	struct queue **dqs = calloc(ch->count, sizeof *dqs);
	struct qmsg **nm = calloc(ch->count, sizeof *nm);
	struct qsg_wbuf rej;
	qsg_wbuf_init(&rej);
	uint32_t nrej = 0;
	int rc = QSG_OK;
	if (dqs == NULL || nm == NULL)
		rc = QSG_RC_STORAGE_NOT_AVAILABLE;
	if (rc == QSG_OK)
		rc = recv_validate(f, ch, dqs, &rej, &nrej);
	if (rc == QSG_OK && nrej > 0) {
		if (out != NULL) {
			qsg_put_u32(out, nrej);
			qsg_put_bytes(out, rej.data, rej.len);
		}
		rc = QSG_RC_BATCH_REJECTED;
	}
	/* Build every message before linking any: nothing changes on failure. */
	struct fsm_chiter it;
	struct fsm_chmsg m;
	int done = 0;
	uint32_t n = 0;
	uint64_t seqno = f->last_seqno;
	if (rc == QSG_OK) {
		fsm_chiter_init(&it, ch);
		while (fsm_chiter_msg(&it, &m, &done) == QSG_OK && !done && n < ch->count) {
			struct queue *dq;
			bool wrap;
			struct fsm_xqh x;
			recv_route(f, ch, &m, &dq, &wrap, &x);
			struct fsm_msg v = m.msg;
			v.seqno = ++seqno;
			v.put_time_ms = now;
			v.expiry_ms = m.msg.expiry_ms == 0 ? 0 : sat_add_i64(now, m.msg.expiry_ms);
			v.backout_count = 0;
			struct qsg_wbuf w;
			qsg_wbuf_init(&w);
			if (wrap) {
				x.put_ms = now;
				fsm_xqh_encode(&w, &x);
				qsg_put_bytes(&w, m.msg.body.p, m.msg.body.len);
				v.body.p = w.data;
				v.body.len = w.len;
			}
			rc = w.err == QSG_OK ? msg_create(f, &v, &nm[n])
					     : QSG_RC_STORAGE_NOT_AVAILABLE;
			qsg_wbuf_close(&w);
			if (rc != QSG_OK)
				break;
			nm[n]->q = dq;
			n++;
		}
		if (rc == QSG_OK && n != ch->count)
			rc = QSG_RC_INVALID; /* unreachable: decode walked the list */
	}
	if (rc != QSG_OK) {
		for (uint32_t i = 0; i < ch->count && nm != NULL; i++)
			msg_free(f, nm[i]); /* built, never linked: released */
	} else {
		f->last_seqno = seqno;
		for (uint32_t i = 0; i < n; i++) {
			struct queue *dq = nm[i]->q;
			dq->curdepth++;
			dq->puts_total++;
			make_visible(f, dq, nm[i], true);
			queue_notify(f, dq, 1);
		}
		sq->lstseq = ch->last;
		sq->luwid = ch->luwid;
		sq->last_ms = now;
		if (ch->epoch > sq->epoch)
			sq->epoch = ch->epoch;
		struct chst *e = chst_find(f, ch->name, ch->rqmname);
		if (e != NULL) {
			e->s.msgs += ch->count;
			e->s.batches++;
			e->s.lstseq = e->s.curseq = ch->last;
			e->s.last_msg_ms = now;
		}
		chan_changed(f);
		if (out != NULL)
			qsg_put_u8(out, 0);
	}
	free(dqs);
	free(nm);
	qsg_wbuf_close(&rej);
	return rc;
}
