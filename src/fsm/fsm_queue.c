/* State machine, queues and messages: the message helpers, the msgid/correlid
 * index, the priority lists, the queue table, alias resolution and the apply
 * functions of PUT, GET and BROWSE. Internal to src/fsm (fsm_int.h). */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"

/* --- helpers ------------------------------------------------------------ */

int64_t sat_add_i64(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static uint64_t name_hash(const char *s)
{
	return qsg_hash64(s, strlen(s), QSG_HASH_SEED);
}

uint64_t id_hash(uint64_t v)
{
	uint8_t b[8];
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return qsg_hash64(b, sizeof b, QSG_HASH_SEED);
}

void queue_notify(struct fsm *f, struct queue *q, uint32_t n)
{
	if (f->notify != NULL && n > 0)
		f->notify(f->notify_arg, q->attrs.scope, q->attrs.name, n);
}

bool msg_expired(const struct qmsg *m, int64_t now)
{
	return m->expiry_ms != 0 && m->expiry_ms <= now;
}

/* a comes before b in get order: higher priority first, then FIFO. */
bool msg_get_before(const struct qmsg *a, const struct qmsg *b)
{
	return a->priority > b->priority || (a->priority == b->priority && a->seqno < b->seqno);
}

void msg_view(const struct qmsg *m, struct fsm_msg *out)
{
	memset(out, 0, sizeof *out);
	memcpy(out->msgid, m->msgid, FSM_ID_LEN);
	memcpy(out->correlid, m->correlid, FSM_ID_LEN);
	out->priority = m->priority;
	out->persistent = m->persistent;
	out->expiry_ms = m->expiry_ms;
	out->put_time_ms = m->put_time_ms;
	out->backout_count = m->backout_count;
	out->seqno = m->seqno;
	out->props.p = m->data;
	out->props.len = m->props_len;
	out->body.p = m->data + m->props_len;
	out->body.len = m->body_len;
}

struct qmsg *msg_new(const struct fsm_msg *src)
{
	size_t n = src->props.len + src->body.len;
	struct qmsg *m = calloc(1, sizeof *m + n);
	if (m == NULL)
		return NULL;
	memcpy(m->msgid, src->msgid, FSM_ID_LEN);
	memcpy(m->correlid, src->correlid, FSM_ID_LEN);
	m->priority = src->priority;
	m->persistent = src->persistent;
	m->expiry_ms = src->expiry_ms;
	m->put_time_ms = src->put_time_ms;
	m->backout_count = src->backout_count;
	m->seqno = src->seqno;
	m->props_len = (uint32_t)src->props.len;
	m->body_len = (uint32_t)src->body.len;
	if (src->props.len > 0)
		memcpy(m->data, src->props.p, src->props.len);
	if (src->body.len > 0)
		memcpy(m->data + src->props.len, src->body.p, src->body.len);
	return m;
}

/* --- index -------------------------------------------------------------- */

static bool index_active(const struct queue *q)
{
	return q->attrs.indxtype != FSM_INDX_NONE && q->index_ok;
}

static const uint8_t *index_key_of(const struct queue *q, const struct qmsg *m)
{
	return q->attrs.indxtype == FSM_INDX_MSGID ? m->msgid : m->correlid;
}

static struct ikey *index_find(const struct queue *q, const uint8_t *key)
{
	uint64_t h = qsg_hash64(key, FSM_ID_LEN, QSG_HASH_SEED);
	for (struct hmap_node *n = hmap_bucket(&q->index, h); n != NULL; n = n->next) {
		struct ikey *k = (struct ikey *)n;
		if (n->hash == h && memcmp(k->key, key, FSM_ID_LEN) == 0)
			return k;
	}
	return NULL;
}

static void index_drop(struct queue *q)
{
	struct hmap_node *n = hmap_next(&q->index, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&q->index, n);
		struct ikey *k = (struct ikey *)n;
		for (struct qmsg *m = k->head; m != NULL; m = m->inext)
			m->ik = NULL;
		free(k);
		n = next;
	}
	hmap_close(&q->index);
}

static void index_add(struct queue *q, struct qmsg *m)
{
	if (!index_active(q))
		return;
	const uint8_t *key = index_key_of(q, m);
	struct ikey *k = index_find(q, key);
	if (k == NULL) {
		k = calloc(1, sizeof *k);
		if (k == NULL ||
		    hmap_insert(&q->index, &k->node, qsg_hash64(key, FSM_ID_LEN, QSG_HASH_SEED)) !=
			QSG_OK) {
			/* The index is derived data; gets fall back to the scan,
			 * which selects the same messages. */
			free(k);
			index_drop(q);
			q->index_ok = false;
			return;
		}
		memcpy(k->key, key, FSM_ID_LEN);
	}
	struct qmsg *after = k->tail;
	while (after != NULL && msg_get_before(m, after))
		after = after->iprev;
	m->iprev = after;
	m->inext = after ? after->inext : k->head;
	if (m->inext != NULL)
		m->inext->iprev = m;
	else
		k->tail = m;
	if (after != NULL)
		after->inext = m;
	else
		k->head = m;
	m->ik = k;
}

static void index_del(struct queue *q, struct qmsg *m)
{
	struct ikey *k = m->ik;
	if (k == NULL)
		return;
	if (m->iprev != NULL)
		m->iprev->inext = m->inext;
	else
		k->head = m->inext;
	if (m->inext != NULL)
		m->inext->iprev = m->iprev;
	else
		k->tail = m->iprev;
	m->iprev = m->inext = NULL;
	m->ik = NULL;
	if (k->head == NULL) {
		hmap_remove(&q->index, &k->node);
		free(k);
	}
}

void index_build(struct queue *q)
{
	index_drop(q);
	q->index_ok = true;
	for (int p = NPRIO - 1; p >= 0; p--)
		for (struct qmsg *m = q->head[p]; m != NULL && index_active(q); m = m->next)
			index_add(q, m);
}

/* --- priority lists ------------------------------------------------------ */

/* Insert a committed message by seqno. from_tail: a new commit (usually the
 * highest seqno); otherwise a backout (usually near the head). */
void make_visible(struct queue *q, struct qmsg *m, bool from_tail)
{
	unsigned p = m->priority;
	struct qmsg *after;
	if (from_tail) {
		after = q->tail[p];
		while (after != NULL && after->seqno > m->seqno)
			after = after->prev;
	} else {
		after = NULL;
		for (struct qmsg *x = q->head[p]; x != NULL && x->seqno < m->seqno; x = x->next)
			after = x;
	}
	m->prev = after;
	m->next = after ? after->next : q->head[p];
	if (m->next != NULL)
		m->next->prev = m;
	else
		q->tail[p] = m;
	if (after != NULL)
		after->next = m;
	else
		q->head[p] = m;
	m->state = MS_VISIBLE;
	m->q = q;
	q->nvisible++;
	index_add(q, m);
}

void take_visible(struct queue *q, struct qmsg *m)
{
	unsigned p = m->priority;
	index_del(q, m);
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		q->head[p] = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	else
		q->tail[p] = m->prev;
	m->prev = m->next = NULL;
	q->nvisible--;
}

static void remove_visible(struct queue *q, struct qmsg *m)
{
	take_visible(q, m);
	q->curdepth--;
	free(m);
}

/* Remove every visible message (msg_expired ones only if `only_expired`). */
void purge_visible(struct queue *q, bool only_expired, int64_t now)
{
	for (int p = 0; p < NPRIO; p++) {
		struct qmsg *m = q->head[p];
		while (m != NULL) {
			struct qmsg *next = m->next;
			if (!only_expired || msg_expired(m, now))
				remove_visible(q, m);
			m = next;
		}
	}
}

/* --- queues -------------------------------------------------------------- */

uint64_t queue_hash(uint32_t scope, const char *name)
{
	return name_hash(name) ^ ((uint64_t)scope * 0x9e3779b97f4a7c15ull);
}

/* The object (scope, name) exactly. */
struct queue *queue_find(const struct fsm *f, uint32_t scope, const char *name)
{
	uint64_t h = queue_hash(scope, name);
	for (struct hmap_node *n = hmap_bucket(&f->queues, h); n != NULL; n = n->next) {
		struct queue *q = (struct queue *)n;
		if (n->hash == h && q->attrs.scope == scope && strcmp(q->attrs.name, name) == 0)
			return q;
	}
	return NULL;
}

/* `name` as member `member` sees it (enum fsm_qdisp): its own QMGR object
 * or COPY, else a SHARED queue or a GROUP remote queue or alias. A GROUP
 * local queue is reached only through a COPY. */
struct queue *queue_lookup(const struct fsm *f, uint32_t member, const char *name)
{
	struct queue *q = member != 0 ? queue_find(f, member, name) : NULL;
	if (q != NULL)
		return q;
	q = queue_find(f, 0, name);
	if (q == NULL)
		return NULL;
	if (q->attrs.disp == FSM_DISP_SHARED ||
	    (q->attrs.disp == FSM_DISP_GROUP && q->attrs.qtype != FSM_QT_LOCAL))
		return q;
	return NULL;
}

void queue_free(struct queue *q)
{
	purge_visible(q, false, 0);
	index_drop(q);
	free(q);
}

int cmp_queue(const void *a, const void *b)
{
	const struct queue *x = *(struct queue *const *)a;
	const struct queue *y = *(struct queue *const *)b;
	int c = strcmp(x->attrs.name, y->attrs.name);
	if (c != 0)
		return c;
	return x->attrs.scope < y->attrs.scope ? -1 : x->attrs.scope > y->attrs.scope;
}

/* Queues in name order; *out is malloc'd (NULL with n = 0 when empty). */
int queues_sorted(const struct fsm *f, struct queue ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (f->queues.count == 0)
		return QSG_OK;
	struct queue **v = malloc(f->queues.count * sizeof *v);
	if (v == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	size_t i = 0;
	for (struct hmap_node *x = hmap_next(&f->queues, NULL); x != NULL;
	     x = hmap_next(&f->queues, x))
		v[i++] = (struct queue *)x;
	qsort(v, i, sizeof *v, cmp_queue);
	*out = v;
	*n = i;
	return QSG_OK;
}

/* --- alias resolution ---------------------------------------------------- */

/* The queue `name` stands for: itself, or an alias's target (one level).
 * *alias is the alias (NULL if name is not one). A missing target or a
 * target that is itself an alias -> QSG_RC_UNKNOWN_ALIAS_BASE_Q. */
int queue_resolve(const struct fsm *f, uint32_t member, const char *name, struct queue **out,
		  struct queue **alias)
{
	struct queue *q = queue_lookup(f, member, name);
	*out = NULL;
	if (alias != NULL)
		*alias = NULL;
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (q->attrs.qtype != FSM_QT_ALIAS) {
		*out = q;
		return QSG_OK;
	}
	if (alias != NULL)
		*alias = q;
	struct queue *t = queue_lookup(f, member, q->attrs.target);
	if (t == NULL || t->attrs.qtype == FSM_QT_ALIAS)
		return QSG_RC_UNKNOWN_ALIAS_BASE_Q;
	*out = t;
	return QSG_OK;
}

/* --- apply: messages ----------------------------------------------------- */

/* Generated MsgId: "QSG" 0x01, seqno (u64 LE), entry time (i64 LE), 4 zero
 * bytes. Unique within the group because seqno is. */
static void gen_msgid(uint8_t *id, uint64_t seqno, int64_t now)
{
	memset(id, 0, FSM_ID_LEN);
	id[0] = 'Q';
	id[1] = 'S';
	id[2] = 'G';
	id[3] = 1;
	for (unsigned i = 0; i < 8; i++) {
		id[4 + i] = (uint8_t)(seqno >> (8 * i));
		id[12 + i] = (uint8_t)((uint64_t)now >> (8 * i));
	}
}

/* A transmission queue: a SHARED local queue with USAGE(XMITQ). Channels
 * are shared channels and take messages from shared queues only: a member's
 * own queue with USAGE(XMITQ) would hold messages no channel sends. */
bool xmitq_ok(const struct queue *x)
{
	return x->attrs.qtype == FSM_QT_LOCAL && x->attrs.usage == FSM_USAGE_XMITQ &&
	       x->attrs.disp == FSM_DISP_SHARED;
}

/* The transmission queue of remote queue rq: XMITQ, or the queue named
 * RQMNAME (xmitq_ok), as `member` sees the name. */
int resolve_xmitq(const struct fsm *f, uint32_t member, const struct queue *rq, struct queue **out)
{
	const char *name = rq->attrs.xmitq[0] != '\0' ? rq->attrs.xmitq : rq->attrs.rqmname;
	struct queue *x = queue_lookup(f, member, name);
	if (x == NULL)
		return QSG_RC_UNKNOWN_REMOTE_Q_MGR;
	if (!xmitq_ok(x))
		return QSG_RC_XMIT_Q_USAGE_ERROR;
	*out = x;
	return QSG_OK;
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
	struct fsm_msg v = c->msg;
	v.seqno = f->last_seqno + 1;
	v.put_time_ms = now;
	v.expiry_ms = c->msg.expiry_ms == 0 ? 0 : sat_add_i64(now, c->msg.expiry_ms);
	v.backout_count = 0;
	if (c->flags & FSM_F_PERSIST_DEFAULT)
		v.persistent = first->attrs.defpsist;
	else
		v.persistent = (c->flags & FSM_F_PERSISTENT) ? 1 : 0;
	if (c->flags & FSM_F_GEN_MSGID)
		gen_msgid(v.msgid, v.seqno, now);
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
	struct qmsg *m = xb.err == QSG_OK ? msg_new(&v) : NULL;
	qsg_wbuf_close(&xb);
	if (m == NULL) {
		s->put_seq = old_seq;
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	f->last_seqno = v.seqno;
	m->q = q;
	q->curdepth++;
	if (sync) {
		m->state = MS_HELD;
		q->uncommitted++;
		uow_append(s, m);
	} else {
		make_visible(q, m, true);
		q->puts_total++;
		queue_notify(f, q, 1);
	}
	if (out != NULL) {
		qsg_put_u8(out, 0);
		qsg_put_bytes(out, m->msgid, FSM_ID_LEN);
		qsg_put_u64(out, m->seqno);
	}
	return QSG_OK;
}

static bool msg_match(const struct qmsg *m, const struct fsm_cmd *c)
{
	if ((c->flags & FSM_F_MATCH_MSGID) && memcmp(m->msgid, c->msg.msgid, FSM_ID_LEN) != 0)
		return false;
	if ((c->flags & FSM_F_MATCH_CORRELID) &&
	    memcmp(m->correlid, c->msg.correlid, FSM_ID_LEN) != 0)
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
static struct qmsg *find_first(struct queue *q, const struct fsm_cmd *c, int64_t now, bool reap)
{
	const uint8_t *key = index_key_for(q, c);
	if (key != NULL) {
		struct ikey *k = index_find(q, key);
		struct qmsg *m = k ? k->head : NULL;
		while (m != NULL) {
			/* Removing m may free k: take the next one first. */
			struct qmsg *next = m->inext;
			if (msg_match(m, c)) {
				if (!msg_expired(m, now))
					return m;
				if (reap)
					remove_visible(q, m);
			}
			m = next;
		}
		return NULL;
	}
	for (int p = NPRIO - 1; p >= 0; p--) {
		struct qmsg *m = q->head[p];
		while (m != NULL) {
			struct qmsg *next = m->next;
			if (msg_match(m, c)) {
				if (!msg_expired(m, now))
					return m;
				if (reap)
					remove_visible(q, m);
			}
			m = next;
		}
	}
	return NULL;
}

void qmsg_put(struct qsg_wbuf *out, const struct qmsg *m)
{
	if (out == NULL)
		return;
	struct fsm_msg v;
	msg_view(m, &v);
	fsm_msg_encode(out, &v);
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
	struct qmsg *m = find_first(q, c, now, true);
	if (m == NULL)
		return QSG_RC_NO_MSG_AVAILABLE;
	qmsg_put(out, m);
	take_visible(q, m);
	if (sync) {
		m->state = MS_LOCKED;
		q->uncommitted++;
		uow_append(s, m);
	} else {
		q->curdepth--;
		q->gets_total++;
		free(m);
	}
	return QSG_OK;
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
	if (key != NULL) {
		struct ikey *k = index_find(q, key);
		for (struct qmsg *m = k ? k->head : NULL; m != NULL; m = m->inext) {
			if ((from_start || msg_get_before(&cur, m)) && msg_match(m, c) &&
			    !msg_expired(m, now)) {
				qmsg_put(out, m);
				return QSG_OK;
			}
		}
		return QSG_RC_NO_MSG_AVAILABLE;
	}
	int top = from_start ? NPRIO - 1 : cur.priority;
	for (int p = top; p >= 0; p--) {
		for (struct qmsg *m = q->head[p]; m != NULL; m = m->next) {
			if ((from_start || msg_get_before(&cur, m)) && msg_match(m, c) &&
			    !msg_expired(m, now)) {
				qmsg_put(out, m);
				return QSG_OK;
			}
		}
	}
	return QSG_RC_NO_MSG_AVAILABLE;
}
