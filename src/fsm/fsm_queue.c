/* State machine, queues and messages: the apply functions of PUT, GET and
 * BROWSE (the queue table and message lists they work on are in
 * fsm_qtable.c). Internal to src/fsm (fsm_int.h). */
#include <stdlib.h>
#include <string.h>

#include "../common/crc32c.h"
#include "fsm_int.h"

/* --- apply: messages ----------------------------------------------------- */

/* The new message of a PUT or of a chunked put's first part: c->msg with
 * the next seqno, the put time, the absolute expiry, the persistence
 * (defq's DEFPSIST when asked) and a generated msgid when asked. */
static struct fsm_msg put_stamp(const struct fsm *f, const struct fsm_cmd *c, int64_t now,
				const struct queue *defq)
{
	struct fsm_msg v = c->msg;
	v.seqno = f->last_seqno + 1;
	v.put_time_ms = now;
	v.expiry_ms = c->msg.expiry_ms == 0 ? 0 : sat_add_i64(now, c->msg.expiry_ms);
	v.backout_count = 0;
	if (c->flags & FSM_F_PERSIST_DEFAULT)
		v.persistent = defq->attrs.defpsist;
	else
		v.persistent = (c->flags & FSM_F_PERSISTENT) ? 1 : 0;
	if (c->flags & FSM_F_GEN_MSGID)
		msgid_gen(v.msgid, v.seqno, now);
	return v;
}

int op_put(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	if (c->seq != 0) {
		if (c->seq <= s->put_seq) {
			if (out != NULL) {
				uint8_t zero[FSM_ID_LEN] = {0};
				qsg_put_u8(out, 1);
				qsg_put_bytes(out, zero, FSM_ID_LEN);
				qsg_put_u64(out, 0);
			}
			return QSG_OK;
		}
		if (c->seq != s->put_seq + 1)
			return QSG_RC_SEQUENCE_GAP;
	}
	uint64_t old_seq = s->put_seq;
	if (c->seq != 0)
		s->put_seq = c->seq; /* consumed even if refused below */
	bool sync = (c->flags & FSM_F_SYNCPOINT) != 0;
	/* An alias resolves to its target (rq); the alias is the first queue
	 * in the resolution path (its PUT inhibit first, its DEFPSIST). */
	struct queue *rq, *alias;
	if ((rc = queue_resolve(f, s->owner, c->queue, &rq, &alias)) != QSG_OK)
		return rc;
	if (alias != NULL && alias->attrs.put_inhibited)
		return QSG_RC_PUT_INHIBITED;
	const struct queue *first = alias != NULL ? alias : rq;
	/* A remote queue's messages go to its transmission queue. */
	struct queue *q = rq;
	if (rq->attrs.qtype == FSM_QT_REMOTE && (rc = resolve_xmitq(f, s->owner, rq, &q)) != QSG_OK)
		return rc;
	if (rq->attrs.put_inhibited || q->attrs.put_inhibited)
		return QSG_RC_PUT_INHIBITED;
	if (c->msg.body.len > q->attrs.maxmsgl)
		return QSG_RC_MSG_TOO_BIG;
	if (q->curdepth >= q->attrs.maxdepth)
		return QSG_RC_Q_FULL;
	if (c->msg.priority > 9)
		return QSG_RC_PRIORITY_ERROR;
	if (c->msg.expiry_ms < 0)
		return QSG_RC_EXPIRY_ERROR;
	if (sync && s->uow_count >= q->attrs.maxumsgs)
		return QSG_RC_SYNCPOINT_LIMIT;
	struct fsm_msg v = put_stamp(f, c, now, first);
	struct qsg_wbuf xb;
	qsg_wbuf_init(&xb);
	if (q != rq) {
		struct fsm_xqh h;
		memset(&h, 0, sizeof h);
		memcpy(h.rqmname, rq->attrs.rqmname, sizeof h.rqmname);
		memcpy(h.rname, rq->attrs.rname, sizeof h.rname);
		h.put_ms = now;
		fsm_xqh_encode(&xb, &h);
		qsg_put_bytes(&xb, c->msg.body.p, c->msg.body.len);
		v.body.p = xb.data;
		v.body.len = xb.len;
	}
	struct qmsg *m = NULL;
	rc = xb.err == QSG_OK ? msg_create(f, &v, &m) : QSG_RC_STORAGE_NOT_AVAILABLE;
	qsg_wbuf_close(&xb);
	if (rc != QSG_OK) {
		s->put_seq = old_seq;
		return rc;
	}
	f->last_seqno = v.seqno;
	m->q = q;
	q->curdepth++;
	if (sync) {
		m->state = MS_HELD;
		q->uncommitted++;
		uow_append(s, m);
	} else {
		make_visible(f, q, m, true);
		q->puts_total++;
		queue_notify(f, q, 1);
	}
	if (out != NULL) {
		uint8_t id[FSM_ID_LEN];
		qsg_put_u8(out, 0);
		qsg_put_bytes(out, qmsg_msgid(m, id), FSM_ID_LEN);
		qsg_put_u64(out, m->seqno);
	}
	return QSG_OK;
}

/* --- large messages ------------------------------------------------------ */

/* The result of a part: m's msgid and seqno (zeros without m). */
static void put_result(struct qsg_wbuf *out, uint8_t dup, const struct qmsg *m)
{
	if (out == NULL)
		return;
	uint8_t id[FSM_ID_LEN] = {0};
	qsg_put_u8(out, dup);
	qsg_put_bytes(out, m != NULL ? qmsg_msgid(m, id) : id, FSM_ID_LEN);
	qsg_put_u64(out, m != NULL ? m->seqno : 0);
}

/* The put of m is complete (its last part applied): outside syncpoint it
 * leaves the uow and becomes visible now (its implicit unit of work). */
static void chunk_complete(struct fsm *f, struct session *s, struct qmsg *m, struct chunkinfo *ck)
{
	if (ck->pseq > s->put_seq)
		s->put_seq = ck->pseq;
	if (!(m->flags & QM_XFER))
		return;
	struct queue *q = m->q;
	uow_remove(s, m);
	m->flags &= (uint8_t)~QM_XFER;
	q->uncommitted--;
	make_visible(f, q, m, true);
	q->puts_total++;
	queue_notify(f, q, 1);
}

/* The first part: checked as a PUT, seqno assigned, held in the uow. */
static int put_first_part(struct fsm *f, struct session *s, const struct fsm_cmd *c, int64_t now,
			  struct qsg_wbuf *out)
{
	if (c->seq != 0) {
		/* The producer seq is taken when the last part is in: a
		 * client that reconnects learns from put_seq whether its
		 * message is complete (an incomplete one was backed out). */
		if (c->seq <= s->put_seq) {
			put_result(out, 1, NULL);
			return QSG_OK;
		}
		if (c->seq != s->put_seq + 1)
			return QSG_RC_SEQUENCE_GAP;
	}
	/* Refused: the seq is consumed, as a refused PUT's. */
	uint64_t old_seq = s->put_seq;
	if (c->seq != 0)
		s->put_seq = c->seq;
	bool sync = (c->flags & FSM_F_SYNCPOINT) != 0;
	struct queue *q, *alias;
	int rc = queue_resolve(f, s->owner, c->queue, &q, &alias);
	if (rc != QSG_OK)
		return rc;
	if (alias != NULL && alias->attrs.put_inhibited)
		return QSG_RC_PUT_INHIBITED;
	if (q->attrs.put_inhibited)
		return QSG_RC_PUT_INHIBITED;
	if (q->attrs.qtype != FSM_QT_LOCAL)
		return QSG_RC_OPTIONS_ERROR; /* not to remote queues (docs/storage.md) */
	if (c->total > q->attrs.maxmsgl)
		return QSG_RC_MSG_TOO_BIG;
	if (q->curdepth >= q->attrs.maxdepth)
		return QSG_RC_Q_FULL;
	if (c->msg.priority > 9)
		return QSG_RC_PRIORITY_ERROR;
	if (c->msg.expiry_ms < 0)
		return QSG_RC_EXPIRY_ERROR;
	if (sync && s->uow_count >= q->attrs.maxumsgs)
		return QSG_RC_SYNCPOINT_LIMIT;
	struct fsm_msg v = put_stamp(f, c, now, alias != NULL ? alias : q);
	uint32_t pcrc = msg_crc(&v); /* props || this part's body bytes */
	v.body.len = c->total;
	struct qmsg *m = msg_new(f, &v, pcrc);
	if (m == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	uint32_t nparts = fsm_nparts(c->total);
	if (chunk_attach(f, m, nparts, 1, c->seq, &pcrc) != QSG_OK) {
		msg_destroy(m);
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	if (f->bodies.put_part(f->bodies.arg, m->seqno, 0, c->msg.props.p,
			       (uint32_t)c->msg.props.len, c->msg.body.p, (uint32_t)c->msg.body.len,
			       pcrc) != QSG_OK) {
		msg_free(f, m); /* chunk table dropped, release harmless */
		return body_fail(f, "put", v.seqno);
	}
	s->put_seq = old_seq; /* taken when the last part is in */
	f->last_seqno = v.seqno;
	m->q = q;
	m->state = MS_HELD;
	if (!sync)
		m->flags |= QM_XFER;
	q->curdepth++;
	q->uncommitted++;
	uow_append(s, m);
	put_result(out, 0, m);
	if (nparts == 1)
		chunk_complete(f, s, m, chunk_find(f, m->seqno));
	return QSG_OK;
}

int op_put_chunk(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	if (c->part == 0)
		return put_first_part(f, s, c, now, out);
	/* A later part: the message is held in this session's uow (at its
	 * tail, unless the session put others since). */
	struct qmsg *m = s->uow_tail;
	if (m == NULL || m->seqno != c->msg.seqno)
		for (m = s->uow_head; m != NULL && m->seqno != c->msg.seqno; m = m->uow_next)
			;
	struct chunkinfo *ck =
	    m != NULL && (m->flags & QM_CHUNKED) ? chunk_find(f, m->seqno) : NULL;
	if (m == NULL) /* backed out (BACKOUT, a new session), or visible */
		return QSG_RC_BACKED_OUT;
	if (m->state != MS_HELD || ck == NULL)
		return QSG_RC_INVALID;
	if (c->total != m->body_len)
		return QSG_RC_INVALID;
	if (c->part < ck->nrecv) {
		put_result(out, 1, m); /* a retried part */
		return QSG_OK;
	}
	if (c->part > ck->nrecv)
		return QSG_RC_SEQUENCE_GAP;
	uint32_t pcrc = qsg_crc32c(0, c->msg.body.p, c->msg.body.len);
	if (f->bodies.put_part(f->bodies.arg, m->seqno, c->part, NULL, 0, c->msg.body.p,
			       (uint32_t)c->msg.body.len, pcrc) != QSG_OK)
		return body_fail(f, "put", m->seqno);
	ck->crc[ck->nrecv++] = pcrc;
	m->crc = qsg_crc32c(m->crc, c->msg.body.p, c->msg.body.len);
	put_result(out, 0, m);
	if (ck->nrecv == ck->nparts)
		chunk_complete(f, s, m, ck);
	return QSG_OK;
}

int op_get_done(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	struct qmsg *m = s->uow_head;
	while (m != NULL &&
	       !(m->seqno == c->msg.seqno && m->state == MS_LOCKED && (m->flags & QM_XFER)))
		m = m->uow_next;
	if (m == NULL)
		return QSG_RC_NO_MSG_AVAILABLE;
	struct queue *q = m->q;
	uow_remove(s, m);
	q->uncommitted--;
	q->curdepth--;
	q->gets_total++;
	msg_free(f, m);
	return QSG_OK;
}

/* A chunked message of several parts that a FSM_F_CHUNKS requester takes
 * part by part. */
static bool streamed(const struct fsm *f, const struct qmsg *m, const struct fsm_cmd *c)
{
	if (!(m->flags & QM_CHUNKED) || !(c->flags & FSM_F_CHUNKS))
		return false;
	const struct chunkinfo *ck = chunk_find(f, m->seqno);
	return ck != NULL && ck->nparts > 1;
}

static bool msg_match(const struct qmsg *m, const struct fsm_cmd *c)
{
	uint8_t id[FSM_ID_LEN];
	if ((c->flags & FSM_F_MATCH_MSGID) &&
	    memcmp(qmsg_msgid(m, id), c->msg.msgid, FSM_ID_LEN) != 0)
		return false;
	if ((c->flags & FSM_F_MATCH_CORRELID) &&
	    memcmp(qmsg_correlid(m), c->msg.correlid, FSM_ID_LEN) != 0)
		return false;
	return true;
}

/* The index can serve the selection: returns the key to look up or NULL. */
static const uint8_t *index_key_for(const struct queue *q, const struct fsm_cmd *c)
{
	if (!index_active(q))
		return NULL;
	if (q->attrs.indxtype == FSM_INDX_MSGID && (c->flags & FSM_F_MATCH_MSGID))
		return c->msg.msgid;
	if (q->attrs.indxtype == FSM_INDX_CORRELID && (c->flags & FSM_F_MATCH_CORRELID))
		return c->msg.correlid;
	return NULL;
}

/* First visible message matching c in get order. With `reap`, msg_expired
 * matching messages met before it are removed; the index and the scan visit
 * the matching messages in the same order, so they remove the same ones. */
static struct qmsg *find_first(struct fsm *f, struct queue *q, const struct fsm_cmd *c, int64_t now,
			       bool reap)
{
	const uint8_t *key = index_key_for(q, c);
	if (key != NULL) {
		struct ikey *k = index_find(q, key);
		struct qmsg *m = k ? k->head : NULL;
		while (m != NULL) {
			/* Removing m may free k: take the next one first. */
			struct qmsg *next = m->x->inext;
			f->match_steps++;
			if (msg_match(m, c)) {
				if (!msg_expired(m, now))
					return m;
				if (reap)
					remove_visible(f, q, m);
			}
			m = next;
		}
		return NULL;
	}
	for (int p = NPRIO - 1; p >= 0; p--) {
		struct qmsg *m = q->head[p];
		while (m != NULL) {
			struct qmsg *next = m->next;
			f->match_steps++;
			if (msg_match(m, c)) {
				if (!msg_expired(m, now))
					return m;
				if (reap)
					remove_visible(f, q, m);
			}
			m = next;
		}
	}
	return NULL;
}

/* The queue a GET or BROWSE of `name` reads: an alias resolves to its
 * target; GET(DISABLED) of the alias, then of the target; remote queues
 * cannot be read. */
static int resolve_input(const struct fsm *f, uint32_t member, const char *name, struct queue **out)
{
	struct queue *q, *alias;
	int rc = queue_resolve(f, member, name, &q, &alias);
	if (rc != QSG_OK)
		return rc;
	if (alias != NULL && alias->attrs.get_inhibited)
		return QSG_RC_GET_INHIBITED;
	if (q->attrs.qtype == FSM_QT_REMOTE)
		return QSG_RC_NOT_OPEN_FOR_INPUT;
	if (q->attrs.get_inhibited)
		return QSG_RC_GET_INHIBITED;
	*out = q;
	return QSG_OK;
}

int op_get(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	struct queue *q;
	if ((rc = resolve_input(f, s->owner, c->queue, &q)) != QSG_OK)
		return rc;
	bool sync = (c->flags & FSM_F_SYNCPOINT) != 0;
	if (sync && s->uow_count >= q->attrs.maxumsgs)
		return QSG_RC_SYNCPOINT_LIMIT;
	struct qmsg *m = find_first(f, q, c, now, true);
	if (m == NULL)
		return QSG_RC_NO_MSG_AVAILABLE;
	bool stream = streamed(f, m, c);
	if ((rc = stream ? qmsg_put_first(f, out, m) : qmsg_put(f, out, m)) != QSG_OK)
		return rc;
	take_visible(f, q, m);
	if (sync || stream) {
		/* A chunked message got outside syncpoint stays locked to the
		 * session until GET_DONE (or a backout) while the requester
		 * pulls its parts. */
		m->state = MS_LOCKED;
		if (sync)
			m->flags &= (uint8_t)~QM_XFER;
		else
			m->flags |= QM_XFER;
		q->uncommitted++;
		uow_append(s, m);
	} else {
		q->curdepth--;
		q->gets_total++;
		msg_free(f, m);
	}
	return QSG_OK;
}

/* The first message after cur (from_start: any) matching c in the parks
 * of q: the messages of listed destinations of a sender's black list,
 * off q's priority lists but still q's (docs/channels.md). NULL: none. */
static struct qmsg *browse_parks(const struct fsm *f, const struct queue *q, const struct qmsg *cur,
				 bool from_start, const struct fsm_cmd *c, int64_t now)
{
	struct qmsg *best = NULL;
	for (size_t i = 0; i < f->nchsts; i++)
		for (uint32_t j = 0; j < FSM_CH_BLK_MAX; j++) {
			const struct park *pk = f->chsts[i]->pk[j];
			if (pk == NULL || pk->xq != q)
				continue;
			for (int p = NPRIO - 1; p >= 0; p--)
				for (struct qmsg *m = pk->l.head[p]; m != NULL; m = m->next) {
					if (best != NULL && !msg_get_before(m, best))
						break;
					if ((from_start || msg_get_before(cur, m)) &&
					    msg_match(m, c) && !msg_expired(m, now)) {
						best = m;
						break;
					}
				}
		}
	return best;
}

int op_browse(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	struct queue *q;
	int rc = resolve_input(f, c->member_id, c->queue, &q);
	if (rc != QSG_OK)
		return rc;
	struct qmsg cur = {.priority = c->msg.priority, .seqno = c->msg.seqno};
	bool from_start = c->msg.seqno == 0;
	const uint8_t *key = index_key_for(q, c);
	struct qmsg *found = NULL;
	if (key != NULL) {
		struct ikey *k = index_find(q, key);
		for (struct qmsg *m = k ? k->head : NULL; m != NULL && found == NULL;
		     m = m->x->inext)
			if ((from_start || msg_get_before(&cur, m)) && msg_match(m, c) &&
			    !msg_expired(m, now))
				found = m;
	} else {
		int top = from_start ? NPRIO - 1 : cur.priority;
		for (int p = top; p >= 0 && found == NULL; p--)
			for (struct qmsg *m = q->head[p]; m != NULL && found == NULL; m = m->next)
				if ((from_start || msg_get_before(&cur, m)) && msg_match(m, c) &&
				    !msg_expired(m, now))
					found = m;
	}
	struct qmsg *pm = f->nchsts > 0 ? browse_parks(f, q, &cur, from_start, c, now) : NULL;
	if (pm != NULL && (found == NULL || msg_get_before(pm, found)))
		found = pm;
	if (found == NULL)
		return QSG_RC_NO_MSG_AVAILABLE;
	return streamed(f, found, c) ? qmsg_put_first(f, out, found) : qmsg_put(f, out, found);
}
