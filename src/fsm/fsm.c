/* The replicated state machine: queues with their messages, sessions with
 * their units of work, members with their leases. See fsm.h for the contract
 * and docs/protocol.md for the formats and rules.
 *
 * Determinism: apply never looks at clocks, randomness or pointer values;
 * whenever several objects are visited and the order matters (detaching a
 * member's sessions, snapshots) they are sorted by key first. Hash tables are
 * derived data: their iteration order never reaches the state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"
#include "hmap.h"

#define NPRIO 10

enum msg_state {
	MS_VISIBLE = 1, /* committed, in the priority list (and the index) */
	MS_HELD = 2, /* put under syncpoint, in a session's uow only */
	MS_LOCKED = 3, /* got under syncpoint, in a session's uow only */
	MS_CHLOCKED = 4, /* got by a sender channel, in its locked list only */
};

struct ikey;

struct qmsg {
	struct qmsg *prev, *next; /* priority list, sorted by seqno */
	struct qmsg *iprev, *inext; /* index key list, in get order */
	struct ikey *ik; /* index entry holding it, NULL if none */
	struct qmsg *uow_next; /* session uow list */
	struct queue *q;
	uint8_t state; /* enum msg_state */
	uint8_t priority;
	uint8_t persistent;
	uint8_t msgid[FSM_ID_LEN];
	uint8_t correlid[FSM_ID_LEN];
	int64_t expiry_ms; /* absolute, 0 = never */
	int64_t put_time_ms;
	uint32_t backout_count;
	uint64_t seqno;
	int64_t hold_until; /* channel HOLD: CH_GETBATCH skips it before this */
	uint64_t chseq; /* MS_CHLOCKED: channel sequence number */
	uint8_t mark; /* CH_SETTLE scratch (0 outside an apply) */
	uint32_t props_len;
	uint32_t body_len;
	uint8_t data[]; /* props then body */
};

struct ikey {
	struct hmap_node node;
	uint8_t key[FSM_ID_LEN];
	struct qmsg *head, *tail;
};

struct queue {
	struct hmap_node node;
	struct fsm_qattrs attrs;
	struct qmsg *head[NPRIO], *tail[NPRIO];
	uint32_t curdepth; /* visible + held + locked */
	uint32_t uncommitted; /* held + locked */
	uint32_t nvisible;
	uint32_t opens;
	uint64_t puts_total;
	uint64_t gets_total;
	struct hmap index; /* ikey by msgid or correlid (INDXTYPE) */
	bool index_ok; /* false after an allocation failure: gets scan */
	uint32_t pending; /* CH_RECV_BATCH scratch (0 outside an apply) */
};

struct sopen {
	struct sopen *next;
	struct queue *q;
	uint32_t count;
};

struct session {
	struct hmap_node node;
	uint64_t client_id;
	uint64_t epoch;
	uint64_t put_seq;
	uint64_t uows_done;
	uint32_t owner;
	uint8_t attached;
	int64_t detached_at;
	struct sopen *opens;
	struct qmsg *uow_head, *uow_tail;
	uint32_t uow_count;
};

struct fsm {
	struct hmap queues;
	struct hmap sessions;
	struct fsm_member *members; /* sorted by id */
	size_t nmembers;
	size_t capmembers;
	uint64_t last_seqno; /* group-wide message counter */
	int64_t last_time;
	uint64_t entries_applied;
	fsm_notify_cb notify;
	void *notify_arg;
	/* Channels (fsm_chan.h). Few objects: sorted arrays. */
	struct fsm_qmgr_attrs qmgr;
	struct fsm_chattrs *chdefs; /* by name */
	size_t nchdefs, capchdefs;
	struct chst **chsts; /* by (name, rqmname) */
	size_t nchsts, capchsts;
	struct fsm_syncq *syncqs; /* by (name, rqmname) */
	size_t nsyncqs, capsyncqs;
	uint64_t chan_gen;
};

/* A channel status entry with the messages locked to it (linked by
 * uow_next, in chseq order; s.indoubt counts them). */
struct chst {
	struct fsm_chstatus s;
	struct qmsg *lk_head, *lk_tail;
};

/* --- helpers ------------------------------------------------------------ */

static int64_t sat_add(int64_t a, int64_t b)
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

static uint64_t id_hash(uint64_t v)
{
	uint8_t b[8];
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return qsg_hash64(b, sizeof b, QSG_HASH_SEED);
}

static void notify(struct fsm *f, struct queue *q, uint32_t n)
{
	if (f->notify != NULL && n > 0)
		f->notify(f->notify_arg, q->attrs.scope, q->attrs.name, n);
}

static bool expired(const struct qmsg *m, int64_t now)
{
	return m->expiry_ms != 0 && m->expiry_ms <= now;
}

/* a comes before b in get order: higher priority first, then FIFO. */
static bool get_before(const struct qmsg *a, const struct qmsg *b)
{
	return a->priority > b->priority || (a->priority == b->priority && a->seqno < b->seqno);
}

static void msg_view(const struct qmsg *m, struct fsm_msg *out)
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

static struct qmsg *msg_new(const struct fsm_msg *src)
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
	while (after != NULL && get_before(m, after))
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

static void index_build(struct queue *q)
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
static void make_visible(struct queue *q, struct qmsg *m, bool from_tail)
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

static void take_visible(struct queue *q, struct qmsg *m)
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

/* Remove every visible message (expired ones only if `only_expired`). */
static void purge_visible(struct queue *q, bool only_expired, int64_t now)
{
	for (int p = 0; p < NPRIO; p++) {
		struct qmsg *m = q->head[p];
		while (m != NULL) {
			struct qmsg *next = m->next;
			if (!only_expired || expired(m, now))
				remove_visible(q, m);
			m = next;
		}
	}
}

/* --- queues -------------------------------------------------------------- */

static uint64_t queue_hash(uint32_t scope, const char *name)
{
	return name_hash(name) ^ ((uint64_t)scope * 0x9e3779b97f4a7c15ull);
}

/* The object (scope, name) exactly. */
static struct queue *queue_find(const struct fsm *f, uint32_t scope, const char *name)
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
static struct queue *queue_lookup(const struct fsm *f, uint32_t member, const char *name)
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

static void queue_free(struct queue *q)
{
	purge_visible(q, false, 0);
	index_drop(q);
	free(q);
}

static int cmp_queue(const void *a, const void *b)
{
	const struct queue *x = *(struct queue *const *)a;
	const struct queue *y = *(struct queue *const *)b;
	int c = strcmp(x->attrs.name, y->attrs.name);
	if (c != 0)
		return c;
	return x->attrs.scope < y->attrs.scope ? -1 : x->attrs.scope > y->attrs.scope;
}

/* Queues in name order; *out is malloc'd (NULL with n = 0 when empty). */
static int queues_sorted(const struct fsm *f, struct queue ***out, size_t *n)
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

/* --- sessions ------------------------------------------------------------ */

static struct session *session_find(const struct fsm *f, uint64_t id)
{
	uint64_t h = id_hash(id);
	for (struct hmap_node *n = hmap_bucket(&f->sessions, h); n != NULL; n = n->next) {
		struct session *s = (struct session *)n;
		if (n->hash == h && s->client_id == id)
			return s;
	}
	return NULL;
}

static void uow_append(struct session *s, struct qmsg *m)
{
	m->uow_next = NULL;
	if (s->uow_tail != NULL)
		s->uow_tail->uow_next = m;
	else
		s->uow_head = m;
	s->uow_tail = m;
	s->uow_count++;
}

static void uow_backout(struct fsm *f, struct session *s)
{
	struct qmsg *m = s->uow_head;
	s->uow_head = s->uow_tail = NULL;
	s->uow_count = 0;
	while (m != NULL) {
		struct qmsg *next = m->uow_next;
		struct queue *q = m->q;
		m->uow_next = NULL;
		q->uncommitted--;
		if (m->state == MS_HELD) {
			q->curdepth--;
			free(m);
			m = next;
			continue;
		}
		if (m->backout_count < UINT32_MAX)
			m->backout_count++;
		struct queue *boq = NULL;
		if (q->attrs.bothresh > 0 && m->backout_count >= q->attrs.bothresh &&
		    q->attrs.boqname[0] != '\0')
			boq = queue_lookup(f, q->attrs.scope, q->attrs.boqname);
		if (boq != NULL && boq != q && boq->attrs.qtype == FSM_QT_LOCAL &&
		    boq->curdepth < boq->attrs.maxdepth) {
			/* Moved as a new arrival: end of its priority on BOQNAME. */
			q->curdepth--;
			boq->curdepth++;
			m->seqno = ++f->last_seqno;
			make_visible(boq, m, true);
			notify(f, boq, 1);
		} else {
			make_visible(q, m, false);
			notify(f, q, 1);
		}
		m = next;
	}
}

static void drop_opens(struct session *s)
{
	struct sopen *o = s->opens;
	while (o != NULL) {
		struct sopen *next = o->next;
		o->q->opens -= o->count;
		free(o);
		o = next;
	}
	s->opens = NULL;
}

static void session_detach(struct fsm *f, struct session *s, int64_t now)
{
	uow_backout(f, s);
	drop_opens(s);
	s->attached = 0;
	s->detached_at = now;
}

static void session_free(struct session *s)
{
	/* Only for teardown: messages of the uow are freed with it. */
	struct qmsg *m = s->uow_head;
	while (m != NULL) {
		struct qmsg *next = m->uow_next;
		free(m);
		m = next;
	}
	struct sopen *o = s->opens;
	while (o != NULL) {
		struct sopen *next = o->next;
		free(o);
		o = next;
	}
	free(s);
}

static int cmp_session(const void *a, const void *b)
{
	const struct session *x = *(struct session *const *)a;
	const struct session *y = *(struct session *const *)b;
	return x->client_id < y->client_id ? -1 : x->client_id > y->client_id;
}

/* Sessions in client_id order, optionally only the attached ones of
 * `owner`. */
static int sessions_sorted(const struct fsm *f, bool only_owner, uint32_t owner,
			   struct session ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (f->sessions.count == 0)
		return QSG_OK;
	struct session **v = malloc(f->sessions.count * sizeof *v);
	if (v == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	size_t i = 0;
	for (struct hmap_node *x = hmap_next(&f->sessions, NULL); x != NULL;
	     x = hmap_next(&f->sessions, x)) {
		struct session *s = (struct session *)x;
		if (!only_owner || (s->attached && s->owner == owner))
			v[i++] = s;
	}
	qsort(v, i, sizeof *v, cmp_session);
	*out = v;
	*n = i;
	return QSG_OK;
}

static int detach_owned(struct fsm *f, uint32_t owner, int64_t now)
{
	struct session **v;
	size_t n;
	int rc = sessions_sorted(f, true, owner, &v, &n);
	if (rc != QSG_OK)
		return rc;
	for (size_t i = 0; i < n; i++)
		session_detach(f, v[i], now);
	free(v);
	return QSG_OK;
}

/* --- members ------------------------------------------------------------- */

static struct fsm_member *member_find(const struct fsm *f, uint32_t id)
{
	size_t lo = 0, hi = f->nmembers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->members[mid].id == id)
			return &f->members[mid];
		if (f->members[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct fsm_member *member_add(struct fsm *f, uint32_t id)
{
	if (f->nmembers == f->capmembers) {
		size_t cap = f->capmembers ? f->capmembers * 2 : 8;
		struct fsm_member *v = realloc(f->members, cap * sizeof *v);
		if (v == NULL)
			return NULL;
		f->members = v;
		f->capmembers = cap;
	}
	size_t i = 0;
	while (i < f->nmembers && f->members[i].id < id)
		i++;
	memmove(&f->members[i + 1], &f->members[i], (f->nmembers - i) * sizeof *f->members);
	f->nmembers++;
	memset(&f->members[i], 0, sizeof f->members[i]);
	f->members[i].id = id;
	return &f->members[i];
}

/* --- lifecycle ----------------------------------------------------------- */

static void state_init(struct fsm *f)
{
	memset(f, 0, sizeof *f);
	hmap_init(&f->queues);
	hmap_init(&f->sessions);
}

static void state_free(struct fsm *f)
{
	/* Sessions first: their uows point at queues. */
	struct hmap_node *n = hmap_next(&f->sessions, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&f->sessions, n);
		session_free((struct session *)n);
		n = next;
	}
	hmap_close(&f->sessions);
	n = hmap_next(&f->queues, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&f->queues, n);
		queue_free((struct queue *)n);
		n = next;
	}
	hmap_close(&f->queues);
	free(f->members);
	f->members = NULL;
	f->nmembers = f->capmembers = 0;
	for (size_t i = 0; i < f->nchsts; i++) {
		struct qmsg *m = f->chsts[i]->lk_head;
		while (m != NULL) {
			struct qmsg *next = m->uow_next;
			free(m);
			m = next;
		}
		free(f->chsts[i]);
	}
	free(f->chsts);
	free(f->chdefs);
	free(f->syncqs);
	f->chsts = NULL;
	f->chdefs = NULL;
	f->syncqs = NULL;
	f->nchsts = f->capchsts = f->nchdefs = f->capchdefs = f->nsyncqs = f->capsyncqs = 0;
}

int fsm_init(struct fsm **out, char *errmsg)
{
	struct fsm *f = malloc(sizeof *f);
	*out = NULL;
	if (f == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	state_init(f);
	*out = f;
	return QSG_OK;
}

void fsm_close(struct fsm *f)
{
	if (f == NULL)
		return;
	state_free(f);
	free(f);
}

void fsm_set_notify(struct fsm *f, fsm_notify_cb cb, void *arg)
{
	f->notify = cb;
	f->notify_arg = arg;
}

/* --- apply: objects ------------------------------------------------------ */

static void attrs_defaults(struct fsm_qattrs *a)
{
	memset(a, 0, sizeof *a);
	a->set = FSM_QA_ALL;
	a->maxdepth = FSM_DEFAULT_MAXDEPTH;
	a->maxmsgl = FSM_DEFAULT_MAXMSGL;
	a->maxumsgs = FSM_DEFAULT_MAXUMSGS;
}

/* Copy the attributes whose bit is set in src->set. */
static void attrs_merge(struct fsm_qattrs *dst, const struct fsm_qattrs *src)
{
	uint32_t s = src->set;
	if (s & FSM_QA_MAXDEPTH)
		dst->maxdepth = src->maxdepth;
	if (s & FSM_QA_MAXMSGL)
		dst->maxmsgl = src->maxmsgl;
	if (s & FSM_QA_DEFPSIST)
		dst->defpsist = src->defpsist;
	if (s & FSM_QA_BOTHRESH)
		dst->bothresh = src->bothresh;
	if (s & FSM_QA_BOQNAME)
		memcpy(dst->boqname, src->boqname, sizeof dst->boqname);
	if (s & FSM_QA_INDXTYPE)
		dst->indxtype = src->indxtype;
	if (s & FSM_QA_GET)
		dst->get_inhibited = src->get_inhibited;
	if (s & FSM_QA_PUT)
		dst->put_inhibited = src->put_inhibited;
	if (s & FSM_QA_DESCR)
		memcpy(dst->descr, src->descr, sizeof dst->descr);
	if (s & FSM_QA_DEFPRTY)
		dst->defprty = src->defprty;
	if (s & FSM_QA_MAXUMSGS)
		dst->maxumsgs = src->maxumsgs;
	if (s & FSM_QA_USAGE)
		dst->usage = src->usage;
	if (s & FSM_QA_RNAME)
		memcpy(dst->rname, src->rname, sizeof dst->rname);
	if (s & FSM_QA_RQMNAME)
		memcpy(dst->rqmname, src->rqmname, sizeof dst->rqmname);
	if (s & FSM_QA_XMITQ)
		memcpy(dst->xmitq, src->xmitq, sizeof dst->xmitq);
	if (s & FSM_QA_TARGET)
		memcpy(dst->target, src->target, sizeof dst->target);
}

static uint8_t qtype_of(const struct fsm_qattrs *a)
{
	return a->qtype == 0 ? FSM_QT_LOCAL : a->qtype;
}

/* The attributes an alias queue has (a QDEFINE/QALTER of an alias with any
 * other bit is refused). */
#define ALIAS_QA_MASK                                                                              \
	(FSM_QA_DEFPSIST | FSM_QA_DEFPRTY | FSM_QA_GET | FSM_QA_PUT | FSM_QA_DESCR | FSM_QA_TARGET)

/* An alias stores zeros for the attributes it does not have. */
static void alias_clear(struct fsm_qattrs *a)
{
	a->maxdepth = 0;
	a->maxmsgl = 0;
	a->maxumsgs = 0;
}

/* The type-specific attributes are consistent: LOCAL queues have no remote
 * attributes; REMOTE queues need RNAME and RQMNAME and have no USAGE; only
 * ALIAS queues have a TARGET (required), and nothing a local or remote
 * queue has beyond DEFPSIST, DEFPRTY, GET, PUT and DESCR. */
static bool attrs_type_ok(const struct fsm_qattrs *a)
{
	if (a->boqname[0] != '\0' && !fsm_name_valid(a->boqname))
		return false;
	if (a->qtype == FSM_QT_ALIAS)
		return fsm_name_valid(a->target) && a->usage == FSM_USAGE_NORMAL &&
		       a->rname[0] == '\0' && a->rqmname[0] == '\0' && a->xmitq[0] == '\0' &&
		       a->boqname[0] == '\0' && a->maxdepth == 0 && a->maxmsgl == 0 &&
		       a->maxumsgs == 0 && a->bothresh == 0 && a->indxtype == FSM_INDX_NONE;
	if (a->target[0] != '\0')
		return false;
	if (a->qtype == FSM_QT_LOCAL)
		return a->usage <= FSM_USAGE_XMITQ && a->rname[0] == '\0' &&
		       a->rqmname[0] == '\0' && a->xmitq[0] == '\0';
	if (a->qtype == FSM_QT_REMOTE)
		return a->usage == FSM_USAGE_NORMAL && fsm_name_valid(a->rname) &&
		       fsm_name_valid(a->rqmname) &&
		       (a->xmitq[0] == '\0' || fsm_name_valid(a->xmitq));
	return false;
}

/* Command attributes an alias cannot take. */
static bool alias_bits_ok(const struct fsm_qattrs *c)
{
	return c->qtype != FSM_QT_ALIAS || (c->set & ~(uint32_t)ALIAS_QA_MASK) == 0;
}

static void set_attrs(struct queue *q, const struct fsm_qattrs *a)
{
	uint8_t old = q->attrs.indxtype;
	q->attrs = *a;
	if (q->attrs.indxtype != old || !q->index_ok)
		index_build(q);
}

/* A new queue object with attributes a (scope and disp set). */
static int queue_create(struct fsm *f, const struct fsm_qattrs *a, struct queue **out)
{
	struct queue *q = calloc(1, sizeof *q);
	if (q == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	q->attrs = *a;
	q->index_ok = true;
	hmap_init(&q->index);
	if (hmap_insert(&f->queues, &q->node, queue_hash(a->scope, a->name)) != QSG_OK) {
		free(q);
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	if (out != NULL)
		*out = q;
	return QSG_OK;
}

static void queue_destroy(struct fsm *f, struct queue *q)
{
	hmap_remove(&f->queues, &q->node);
	queue_free(q);
}

/* The COPY of group object g for member m: g's attributes in m's scope. */
static void copy_attrs(struct fsm_qattrs *dst, const struct fsm_qattrs *g, uint32_t m)
{
	*dst = *g;
	dst->disp = FSM_DISP_COPY;
	dst->scope = m;
}

/* Give member m a COPY of group object g, or refresh the one it has (as MQ
 * does when the group object changes). A QMGR object of the same name keeps
 * the member from having a copy. A refresh keeps the copy's messages. */
static int copy_refresh(struct fsm *f, const struct queue *g, uint32_t m)
{
	struct fsm_qattrs a;
	copy_attrs(&a, &g->attrs, m);
	struct queue *q = queue_find(f, m, g->attrs.name);
	if (q == NULL)
		return queue_create(f, &a, NULL);
	if (q->attrs.disp != FSM_DISP_COPY || q->attrs.qtype != a.qtype)
		return QSG_OK;
	set_attrs(q, &a);
	return QSG_OK;
}

static int copies_refresh(struct fsm *f, const struct queue *g)
{
	for (size_t i = 0; i < f->nmembers; i++) {
		if (f->members[i].id == 0)
			continue;
		int rc = copy_refresh(f, g, f->members[i].id);
		if (rc != QSG_OK)
			return rc;
	}
	return QSG_OK;
}

/* Member m joined (or restarted): a copy of every group object it lacks
 * (one it has keeps its own alterations until the group object changes). */
static int copies_for_member(struct fsm *f, uint32_t m)
{
	struct queue **v;
	size_t n;
	int rc = queues_sorted(f, &v, &n);
	for (size_t i = 0; rc == QSG_OK && i < n; i++)
		if (v[i]->attrs.scope == 0 && v[i]->attrs.disp == FSM_DISP_GROUP &&
		    queue_find(f, m, v[i]->attrs.name) == NULL)
			rc = copy_refresh(f, v[i], m);
	free(v);
	return rc;
}

/* Is there an object named `name` in some member's scope? */
static bool any_member_object(const struct fsm *f, const char *name)
{
	for (struct hmap_node *x = hmap_next(&f->queues, NULL); x != NULL;
	     x = hmap_next(&f->queues, x)) {
		const struct queue *q = (const struct queue *)x;
		if (q->attrs.scope != 0 && strcmp(q->attrs.name, name) == 0)
			return true;
	}
	return false;
}

/* The object an ALTER or DELETE without QSGDISP means on member `scope`:
 * its QMGR object if it has one, else the group's (SHARED or GROUP); a
 * COPY is changed only when QSGDISP(COPY) names it. With a disposition:
 * the object of that disposition. */
static struct queue *queue_target(const struct fsm *f, uint8_t disp, uint32_t scope,
				  const char *name)
{
	struct queue *q;
	switch (disp) {
	case FSM_DISP_DEFAULT:
		q = scope != 0 ? queue_find(f, scope, name) : NULL;
		if (q != NULL && q->attrs.disp == FSM_DISP_QMGR)
			return q;
		return queue_find(f, 0, name);
	case FSM_DISP_SHARED:
	case FSM_DISP_GROUP:
		q = queue_find(f, 0, name);
		break;
	default:
		q = scope != 0 ? queue_find(f, scope, name) : NULL;
		break;
	}
	return q != NULL && q->attrs.disp == disp ? q : NULL;
}

static int op_qdefine(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_qattrs a;
	if (!fsm_name_valid(c->attrs.name))
		return QSG_RC_BAD_ATTR;
	if (!alias_bits_ok(&c->attrs))
		return QSG_RC_BAD_ATTR;
	attrs_defaults(&a);
	memcpy(a.name, c->attrs.name, sizeof a.name);
	a.qtype = qtype_of(&c->attrs);
	if (a.qtype == FSM_QT_ALIAS)
		alias_clear(&a);
	a.disp = c->attrs.disp;
	if (a.disp == FSM_DISP_DEFAULT)
		a.disp = a.qtype == FSM_QT_LOCAL ? FSM_DISP_SHARED : FSM_DISP_GROUP;
	bool member = a.disp == FSM_DISP_QMGR || a.disp == FSM_DISP_COPY;
	a.scope = member ? c->attrs.scope : 0;
	if (member && a.scope == 0)
		return QSG_RC_BAD_ATTR;
	if (a.disp == FSM_DISP_SHARED && a.qtype != FSM_QT_LOCAL)
		return QSG_RC_BAD_ATTR;
	struct queue *g = queue_find(f, 0, a.name);
	if (a.disp == FSM_DISP_COPY) {
		/* LIKE the group object, then the command's attributes. */
		if (g == NULL || g->attrs.disp != FSM_DISP_GROUP)
			return QSG_RC_UNKNOWN_OBJECT;
		if (g->attrs.qtype != a.qtype)
			return QSG_RC_BAD_ATTR;
		copy_attrs(&a, &g->attrs, a.scope);
	}
	attrs_merge(&a, &c->attrs);
	if (!attrs_type_ok(&a))
		return QSG_RC_BAD_ATTR;
	/* A member's object may not hide a shared queue, nor a shared queue
	 * a member's object. */
	if (member && g != NULL && g->attrs.disp == FSM_DISP_SHARED)
		return QSG_RC_OBJECT_EXISTS;
	if (a.disp == FSM_DISP_SHARED && any_member_object(f, a.name))
		return QSG_RC_OBJECT_EXISTS;
	struct queue *q = queue_find(f, a.scope, a.name);
	int rc;
	if (q != NULL) {
		if (!(c->flags & FSM_F_REPLACE) || q->attrs.qtype != a.qtype ||
		    q->attrs.disp != a.disp)
			return QSG_RC_OBJECT_EXISTS;
		set_attrs(q, &a);
	} else if ((rc = queue_create(f, &a, &q)) != QSG_OK) {
		return rc;
	}
	return a.disp == FSM_DISP_GROUP ? copies_refresh(f, q) : QSG_OK;
}

static int op_qalter(struct fsm *f, const struct fsm_cmd *c)
{
	struct queue *q = queue_target(f, c->attrs.disp, c->attrs.scope, c->attrs.name);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (qtype_of(&c->attrs) != q->attrs.qtype || !alias_bits_ok(&c->attrs))
		return QSG_RC_BAD_ATTR;
	struct fsm_qattrs a = q->attrs;
	attrs_merge(&a, &c->attrs);
	if (!attrs_type_ok(&a))
		return QSG_RC_BAD_ATTR;
	set_attrs(q, &a);
	return q->attrs.disp == FSM_DISP_GROUP ? copies_refresh(f, q) : QSG_OK;
}

static int deletable(const struct queue *q, uint32_t flags)
{
	if (q->opens > 0 || q->uncommitted > 0)
		return QSG_RC_OBJECT_IN_USE;
	if (q->curdepth > 0 && !(flags & FSM_F_PURGE))
		return QSG_RC_Q_NOT_EMPTY;
	return QSG_OK;
}

static int op_qdelete(struct fsm *f, const struct fsm_cmd *c)
{
	struct queue *q = queue_target(f, c->attrs.disp, c->attrs.scope, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	int rc = deletable(q, c->flags);
	if (rc != QSG_OK || q->attrs.disp != FSM_DISP_GROUP) {
		if (rc == QSG_OK)
			queue_destroy(f, q);
		return rc;
	}
	/* A group object goes with all its copies, or not at all. */
	struct queue **v;
	size_t n;
	if ((rc = queues_sorted(f, &v, &n)) != QSG_OK)
		return rc;
	for (size_t i = 0; rc == QSG_OK && i < n; i++)
		if (v[i]->attrs.disp == FSM_DISP_COPY &&
		    strcmp(v[i]->attrs.name, q->attrs.name) == 0)
			rc = deletable(v[i], c->flags);
	for (size_t i = 0; rc == QSG_OK && i < n; i++)
		if (v[i]->attrs.disp == FSM_DISP_COPY &&
		    strcmp(v[i]->attrs.name, q->attrs.name) == 0)
			queue_destroy(f, v[i]);
	free(v);
	if (rc == QSG_OK)
		queue_destroy(f, q);
	return rc;
}

static int op_qclear(struct fsm *f, const struct fsm_cmd *c)
{
	/* Without QSGDISP: the queue whose messages this member sees. */
	struct queue *q = c->attrs.disp == FSM_DISP_DEFAULT
			      ? queue_lookup(f, c->attrs.scope, c->queue)
			      : queue_target(f, c->attrs.disp, c->attrs.scope, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (q->uncommitted > 0)
		return QSG_RC_OBJECT_IN_USE;
	purge_visible(q, false, 0);
	return QSG_OK;
}

/* --- alias resolution ---------------------------------------------------- */

/* The queue `name` stands for: itself, or an alias's target (one level).
 * *alias is the alias (NULL if name is not one). A missing target or a
 * target that is itself an alias -> QSG_RC_UNKNOWN_ALIAS_BASE_Q. */
static int queue_resolve(const struct fsm *f, uint32_t member, const char *name, struct queue **out,
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

/* --- apply: sessions ----------------------------------------------------- */

static int session_check(struct fsm *f, const struct fsm_cmd *c, struct session **out)
{
	struct session *s = session_find(f, c->client_id);
	*out = s;
	if (s == NULL)
		return QSG_RC_NOT_ATTACHED;
	if (!s->attached || s->epoch != c->epoch)
		return QSG_RC_SESSION_FENCED;
	return QSG_OK;
}

static int op_attach(struct fsm *f, const struct fsm_cmd *c, struct qsg_wbuf *out)
{
	if (c->client_id == 0)
		return QSG_RC_INVALID;
	struct session *s = session_find(f, c->client_id);
	if (s == NULL) {
		s = calloc(1, sizeof *s);
		if (s == NULL)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		s->client_id = c->client_id;
		if (hmap_insert(&f->sessions, &s->node, id_hash(s->client_id)) != QSG_OK) {
			free(s);
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		}
	} else {
		uow_backout(f, s);
		drop_opens(s);
	}
	s->epoch++;
	s->owner = c->member_id;
	s->attached = 1;
	s->detached_at = 0;
	if (out != NULL) {
		qsg_put_u64(out, s->epoch);
		qsg_put_u64(out, s->put_seq);
		qsg_put_u64(out, s->uows_done);
	}
	return QSG_OK;
}

static int op_detach(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	session_detach(f, s, now);
	return QSG_OK;
}

static int op_open(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	struct queue *q;
	if ((rc = queue_resolve(f, s->owner, c->queue, &q, NULL)) != QSG_OK)
		return rc;
	struct sopen *o = s->opens;
	while (o != NULL && o->q != q)
		o = o->next;
	if (o == NULL) {
		o = calloc(1, sizeof *o);
		if (o == NULL)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		o->q = q;
		o->next = s->opens;
		s->opens = o;
	}
	o->count++;
	q->opens++;
	return QSG_OK;
}

static struct sopen **open_find(struct session *s, const struct queue *q)
{
	struct sopen **pp = &s->opens;
	while (*pp != NULL && (*pp)->q != q)
		pp = &(*pp)->next;
	return pp;
}

static int op_close(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	struct queue *q;
	if ((rc = queue_resolve(f, s->owner, c->queue, &q, NULL)) != QSG_OK)
		return rc;
	struct sopen **pp = open_find(s, q);
	/* The name may resolve elsewhere than at OPEN time (a COPY or QMGR
	 * object of that name was made or deleted since): close the session's
	 * open of that name in its own scope, else in the group's. */
	for (uint32_t k = 0; *pp == NULL && k < 2; k++) {
		struct queue *alt = queue_find(f, k == 0 ? s->owner : 0, q->attrs.name);
		if (alt != NULL && alt != q) {
			q = alt;
			pp = open_find(s, q);
		}
	}
	if (*pp == NULL)
		return QSG_RC_INVALID;
	struct sopen *o = *pp;
	o->count--;
	q->opens--;
	if (o->count == 0) {
		*pp = o->next;
		free(o);
	}
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
static bool xmitq_ok(const struct queue *x)
{
	return x->attrs.qtype == FSM_QT_LOCAL && x->attrs.usage == FSM_USAGE_XMITQ &&
	       x->attrs.disp == FSM_DISP_SHARED;
}

/* The transmission queue of remote queue rq: XMITQ, or the queue named
 * RQMNAME (xmitq_ok), as `member` sees the name. */
static int resolve_xmitq(const struct fsm *f, uint32_t member, const struct queue *rq,
			 struct queue **out)
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

static int op_put(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
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
	v.expiry_ms = c->msg.expiry_ms == 0 ? 0 : sat_add(now, c->msg.expiry_ms);
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
		notify(f, q, 1);
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

/* First visible message matching c in get order. With `reap`, expired
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
				if (!expired(m, now))
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
				if (!expired(m, now))
					return m;
				if (reap)
					remove_visible(q, m);
			}
			m = next;
		}
	}
	return NULL;
}

static void put_msg(struct qsg_wbuf *out, const struct qmsg *m)
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

static int op_get(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
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
	put_msg(out, m);
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

static int op_browse(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
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
			if ((from_start || get_before(&cur, m)) && msg_match(m, c) &&
			    !expired(m, now)) {
				put_msg(out, m);
				return QSG_OK;
			}
		}
		return QSG_RC_NO_MSG_AVAILABLE;
	}
	int top = from_start ? NPRIO - 1 : cur.priority;
	for (int p = top; p >= 0; p--) {
		for (struct qmsg *m = q->head[p]; m != NULL; m = m->next) {
			if ((from_start || get_before(&cur, m)) && msg_match(m, c) &&
			    !expired(m, now)) {
				put_msg(out, m);
				return QSG_OK;
			}
		}
	}
	return QSG_RC_NO_MSG_AVAILABLE;
}

static int op_commit(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	if (c->seq <= s->uows_done)
		return QSG_OK;
	if (c->seq != s->uows_done + 1)
		return QSG_RC_INVALID;
	struct qmsg *m = s->uow_head;
	s->uow_head = s->uow_tail = NULL;
	s->uow_count = 0;
	while (m != NULL) {
		struct qmsg *next = m->uow_next;
		struct queue *q = m->q;
		m->uow_next = NULL;
		q->uncommitted--;
		if (m->state == MS_HELD) {
			make_visible(q, m, true);
			q->puts_total++;
			notify(f, q, 1);
		} else {
			q->curdepth--;
			q->gets_total++;
			free(m);
		}
		m = next;
	}
	s->uows_done++;
	return QSG_OK;
}

static int op_backout(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	uow_backout(f, s);
	return QSG_OK;
}

/* --- apply: members ------------------------------------------------------ */

static int64_t lease_of(const struct fsm_cmd *c)
{
	return c->seq == 0 ? FSM_DEFAULT_LEASE_MS : (int64_t)c->seq;
}

static int op_member_join(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL && (m = member_add(f, c->member_id)) == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	int rc = detach_owned(f, c->member_id, now);
	if (rc != QSG_OK)
		return rc;
	memcpy(m->name, c->name, sizeof m->name);
	memcpy(m->raft_addr, c->raft_addr, sizeof m->raft_addr);
	memcpy(m->client_addr, c->client_addr, sizeof m->client_addr);
	m->state = FSM_MEMBER_ACTIVE;
	m->lease_expiry_ms = sat_add(now, lease_of(c));
	m->last_renew_ms = now;
	m->chinit = 0;
	f->chan_gen++; /* channel recovery watches member states */
	return c->member_id != 0 ? copies_for_member(f, c->member_id) : QSG_OK;
}

static int op_lease_renew(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (m->state != FSM_MEMBER_ACTIVE)
		f->chan_gen++; /* a failed member renewing: a member state change */
	m->state = FSM_MEMBER_ACTIVE;
	m->lease_expiry_ms = sat_add(now, lease_of(c));
	m->last_renew_ms = now;
	m->stats = c->stats;
	return QSG_OK;
}

static int op_member_fail(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL || m->state != FSM_MEMBER_ACTIVE || (uint64_t)m->lease_expiry_ms != c->seq)
		return QSG_RC_INVALID;
	int rc = detach_owned(f, c->member_id, now);
	if (rc != QSG_OK)
		return rc;
	m->state = FSM_MEMBER_FAILED;
	m->chinit = 0;
	f->chan_gen++;
	return QSG_OK;
}

static int op_member_remove(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (m->state != FSM_MEMBER_FAILED)
		return QSG_RC_INVALID; /* it came back: not to be forgotten */
	int rc = detach_owned(f, c->member_id, now);
	if (rc != QSG_OK)
		return rc;
	/* Its QMGR objects and COPYs go with it, messages included (in MQ
	 * they live on that queue manager's own page sets). Its sessions are
	 * detached, and no other member's session can reach them. */
	struct queue **v;
	size_t n;
	if ((rc = queues_sorted(f, &v, &n)) != QSG_OK)
		return rc;
	for (size_t k = 0; k < n; k++)
		if (v[k]->attrs.scope == c->member_id && v[k]->opens == 0 && v[k]->uncommitted == 0)
			queue_destroy(f, v[k]);
	free(v);
	size_t i = (size_t)(m - f->members);
	memmove(&f->members[i], &f->members[i + 1], (f->nmembers - i - 1) * sizeof *f->members);
	f->nmembers--;
	f->chan_gen++;
	return QSG_OK;
}

static int op_expire(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	int64_t ttl = c->seq > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)c->seq;
	struct hmap_node *n = hmap_next(&f->sessions, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&f->sessions, n);
		struct session *s = (struct session *)n;
		if (!s->attached && sat_add(s->detached_at, ttl) <= now) {
			hmap_remove(&f->sessions, n);
			session_free(s);
		}
		n = next;
	}
	for (n = hmap_next(&f->queues, NULL); n != NULL; n = hmap_next(&f->queues, n))
		purge_visible((struct queue *)n, true, now);
	return QSG_OK;
}

/* --- apply: channels (fsm_chan.h) ---------------------------------------- */

static void chan_changed(struct fsm *f)
{
	f->chan_gen++;
}

static bool state_active(uint8_t st)
{
	return st == FSM_CHS_STARTING || st == FSM_CHS_RUNNING || st == FSM_CHS_RETRYING ||
	       st == FSM_CHS_RECOVERING;
}

/* Grow a sorted array to hold one more element. */
static int grow(void **v, size_t *cap, size_t n, size_t elsize)
{
	if (n < *cap)
		return QSG_OK;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *nv = realloc(*v, ncap * elsize);
	if (nv == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	*v = nv;
	*cap = ncap;
	return QSG_OK;
}

static int key_cmp(const char *n1, const char *r1, const char *n2, const char *r2)
{
	int c = strcmp(n1, n2);
	return c != 0 ? c : strcmp(r1, r2);
}

/* Definitions. */
static size_t chdef_pos(const struct fsm *f, const char *name, bool *found)
{
	size_t lo = 0, hi = f->nchdefs;
	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->chdefs[mid].name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct fsm_chattrs *chdef_find(const struct fsm *f, const char *name)
{
	bool found;
	size_t i = chdef_pos(f, name, &found);
	return found ? &f->chdefs[i] : NULL;
}

/* Status entries. */
static size_t chst_pos(const struct fsm *f, const char *name, const char *rqm, bool *found)
{
	size_t lo = 0, hi = f->nchsts;
	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(f->chsts[mid]->s.name, f->chsts[mid]->s.rqmname, name, rqm);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct chst *chst_find(const struct fsm *f, const char *name, const char *rqm)
{
	bool found;
	size_t i = chst_pos(f, name, rqm, &found);
	return found ? f->chsts[i] : NULL;
}

/* A new, empty entry for a key that is not in the table (NULL: no memory). */
static struct chst *chst_insert(struct fsm *f, const char *name, const char *rqm, uint8_t type)
{
	bool found;
	size_t i = chst_pos(f, name, rqm, &found);
	if (grow((void **)&f->chsts, &f->capchsts, f->nchsts, sizeof *f->chsts) != QSG_OK)
		return NULL;
	struct chst *e = calloc(1, sizeof *e);
	if (e == NULL)
		return NULL;
	snprintf(e->s.name, sizeof e->s.name, "%s", name);
	snprintf(e->s.rqmname, sizeof e->s.rqmname, "%s", rqm);
	e->s.chltype = type;
	e->s.img.exists = 1;
	memmove(&f->chsts[i + 1], &f->chsts[i], (f->nchsts - i) * sizeof *f->chsts);
	f->chsts[i] = e;
	f->nchsts++;
	return e;
}

/* Remove and free an entry without locked messages. */
static void chst_remove(struct fsm *f, struct chst *e)
{
	bool found;
	size_t i = chst_pos(f, e->s.name, e->s.rqmname, &found);
	if (!found)
		return;
	memmove(&f->chsts[i], &f->chsts[i + 1], (f->nchsts - i - 1) * sizeof *f->chsts);
	f->nchsts--;
	free(e);
}

static void chst_image(const struct chst *e, struct fsm_chimage *out)
{
	memset(out, 0, sizeof *out);
	if (e != NULL)
		*out = e->s.img;
}

static void lk_append(struct chst *e, struct qmsg *m)
{
	m->uow_next = NULL;
	if (e->lk_tail != NULL)
		e->lk_tail->uow_next = m;
	else
		e->lk_head = m;
	e->lk_tail = m;
	e->s.indoubt++;
}

/* SYNCQ records. */
static size_t syncq_pos(const struct fsm *f, const char *name, const char *rqm, bool *found)
{
	size_t lo = 0, hi = f->nsyncqs;
	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(f->syncqs[mid].name, f->syncqs[mid].rqmname, name, rqm);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct fsm_syncq *syncq_find(const struct fsm *f, const char *name, const char *rqm)
{
	bool found;
	size_t i = syncq_pos(f, name, rqm, &found);
	return found ? &f->syncqs[i] : NULL;
}

/* --- QMGR_ALTER, CHDEFINE, CHALTER, CHDELETE, CHINIT_STATE --- */

static int op_qmgr_alter(struct fsm *f, const struct fsm_cmd *c)
{
	const struct fsm_qmgr_attrs *a = &c->ch.qm;
	if ((a->set & FSM_QM_DEADQ) && a->deadq[0] != '\0' && !fsm_name_valid(a->deadq))
		return QSG_RC_BAD_ATTR;
	if (a->set & FSM_QM_DEADQ)
		memcpy(f->qmgr.deadq, a->deadq, sizeof f->qmgr.deadq);
	if (a->set & FSM_QM_DESCR)
		memcpy(f->qmgr.descr, a->descr, sizeof f->qmgr.descr);
	f->qmgr.set = FSM_QM_ALL;
	return QSG_OK;
}

static void chattrs_defaults(struct fsm_chattrs *a)
{
	memset(a, 0, sizeof *a);
	a->set = FSM_CA_ALL;
	a->batchsz = FSM_CH_DEFAULT_BATCHSZ;
	a->hbint = FSM_CH_DEFAULT_HBINT;
	a->discint = FSM_CH_DEFAULT_DISCINT;
	a->shortrty = FSM_CH_DEFAULT_SHORTRTY;
	a->shorttmr = FSM_CH_DEFAULT_SHORTTMR;
	a->longrty = FSM_CH_DEFAULT_LONGRTY;
	a->longtmr = FSM_CH_DEFAULT_LONGTMR;
	a->usedlq = 1;
	a->maxmsgl = FSM_DEFAULT_MAXMSGL;
	a->pipeline = FSM_CH_DEFAULT_PIPELINE;
}

static void chattrs_merge(struct fsm_chattrs *d, const struct fsm_chattrs *a)
{
	uint32_t s = a->set;
	if (s & FSM_CA_CHLTYPE)
		d->chltype = a->chltype;
	if (s & FSM_CA_CONNAME)
		memcpy(d->conname, a->conname, sizeof d->conname);
	if (s & FSM_CA_XMITQ)
		memcpy(d->xmitq, a->xmitq, sizeof d->xmitq);
	if (s & FSM_CA_BATCHSZ)
		d->batchsz = a->batchsz;
	if (s & FSM_CA_BATCHINT)
		d->batchint = a->batchint;
	if (s & FSM_CA_HBINT)
		d->hbint = a->hbint;
	if (s & FSM_CA_DISCINT)
		d->discint = a->discint;
	if (s & FSM_CA_SHORTRTY)
		d->shortrty = a->shortrty;
	if (s & FSM_CA_SHORTTMR)
		d->shorttmr = a->shorttmr;
	if (s & FSM_CA_LONGRTY)
		d->longrty = a->longrty;
	if (s & FSM_CA_LONGTMR)
		d->longtmr = a->longtmr;
	if (s & FSM_CA_COMPMSG)
		d->compmsg = a->compmsg;
	if (s & FSM_CA_USEDLQ)
		d->usedlq = a->usedlq;
	if (s & FSM_CA_DESCR)
		memcpy(d->descr, a->descr, sizeof d->descr);
	if (s & FSM_CA_MAXMSGL)
		d->maxmsgl = a->maxmsgl;
	if (s & FSM_CA_PIPELINE)
		d->pipeline = a->pipeline;
}

static bool chattrs_ok(const struct fsm_chattrs *a)
{
	if (!fsm_chname_valid(a->name))
		return false;
	if (a->chltype != FSM_CHL_SDR && a->chltype != FSM_CHL_RCVR)
		return false;
	if (a->chltype == FSM_CHL_SDR && (a->conname[0] == '\0' || a->xmitq[0] == '\0'))
		return false;
	if (a->xmitq[0] != '\0' && !fsm_name_valid(a->xmitq))
		return false;
	if (a->batchsz < 1 || a->batchsz > FSM_MAX_CHBATCH || a->pipeline < 1 ||
	    a->pipeline > FSM_CH_MAX_PIPELINE || a->compmsg > FSM_COMP_LZ4 || a->usedlq > 1 ||
	    a->maxmsgl > FSM_MAX_MSGL)
		return false;
	return true;
}

static int op_chdefine(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_chattrs a;
	chattrs_defaults(&a);
	memcpy(a.name, c->ch.attrs.name, sizeof a.name);
	if (!(c->ch.attrs.set & FSM_CA_CHLTYPE))
		return QSG_RC_BAD_ATTR;
	chattrs_merge(&a, &c->ch.attrs);
	if (!chattrs_ok(&a))
		return QSG_RC_BAD_ATTR;
	bool found;
	size_t i = chdef_pos(f, a.name, &found);
	if (found) {
		if (!(c->flags & FSM_F_REPLACE) || f->chdefs[i].chltype != a.chltype)
			return QSG_RC_OBJECT_EXISTS;
		f->chdefs[i] = a;
		chan_changed(f);
		return QSG_OK;
	}
	if (grow((void **)&f->chdefs, &f->capchdefs, f->nchdefs, sizeof *f->chdefs) != QSG_OK)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	memmove(&f->chdefs[i + 1], &f->chdefs[i], (f->nchdefs - i) * sizeof *f->chdefs);
	f->chdefs[i] = a;
	f->nchdefs++;
	chan_changed(f);
	return QSG_OK;
}

static int op_chalter(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_chattrs *d = chdef_find(f, c->ch.attrs.name);
	if (d == NULL)
		return QSG_RC_CHANNEL_NOT_FOUND;
	if ((c->ch.attrs.set & FSM_CA_CHLTYPE) && c->ch.attrs.chltype != d->chltype)
		return QSG_RC_BAD_ATTR;
	struct fsm_chattrs a = *d;
	chattrs_merge(&a, &c->ch.attrs);
	if (!chattrs_ok(&a))
		return QSG_RC_BAD_ATTR;
	*d = a;
	chan_changed(f);
	return QSG_OK;
}

static int op_chdelete(struct fsm *f, const struct fsm_cmd *c)
{
	bool found;
	size_t i = chdef_pos(f, c->ch.name, &found);
	if (!found)
		return QSG_RC_CHANNEL_NOT_FOUND;
	const struct chst *sdr = chst_find(f, c->ch.name, "");
	if (sdr != NULL && sdr->s.chltype == FSM_CHL_SDR && state_active(sdr->s.img.state))
		return QSG_RC_CHANNEL_ACTIVE;
	for (size_t j = 0; j < f->nchsts; j++)
		if (strcmp(f->chsts[j]->s.name, c->ch.name) == 0 && f->chsts[j]->s.indoubt > 0)
			return QSG_RC_CHANNEL_INDOUBT;
	memmove(&f->chdefs[i], &f->chdefs[i + 1], (f->nchdefs - i - 1) * sizeof *f->chdefs);
	f->nchdefs--;
	size_t k = 0;
	for (size_t j = 0; j < f->nchsts; j++) {
		if (strcmp(f->chsts[j]->s.name, c->ch.name) == 0)
			free(f->chsts[j]);
		else
			f->chsts[k++] = f->chsts[j];
	}
	f->nchsts = k;
	chan_changed(f);
	return QSG_OK;
}

static int op_chinit_state(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_member *m = member_find(f, c->ch.member_id);
	if (m == NULL)
		return QSG_RC_INVALID;
	m->chinit = c->ch.chinit;
	chan_changed(f);
	return QSG_OK;
}

/* --- CHST_CAS --- */

static int chst_cas(struct fsm *f, const struct fsm_chcmd *ch, int64_t now)
{
	struct chst *e = chst_find(f, ch->name, ch->rqmname);
	struct fsm_chimage cur;
	chst_image(e, &cur);
	const struct fsm_chimage *b = &ch->before, *a = &ch->after;
	if (b->exists != cur.exists ||
	    (cur.exists &&
	     (b->owner != cur.owner || b->state != cur.state || b->epoch != cur.epoch)))
		return QSG_RC_CAS_FAILED;
	if (!a->exists) {
		if (e == NULL)
			return QSG_OK;
		if (e->s.indoubt > 0)
			return QSG_RC_CHANNEL_INDOUBT;
		chst_remove(f, e);
		chan_changed(f);
		return QSG_OK;
	}
	uint8_t type = e != NULL ? e->s.chltype : ch->chltype;
	if (type == 0 || (ch->chltype != 0 && ch->chltype != type))
		return QSG_RC_INVALID;
	if (type == FSM_CHL_SDR && ch->rqmname[0] != '\0')
		return QSG_RC_INVALID;
	const struct fsm_chattrs *def = NULL;
	if (type == FSM_CHL_SDR) {
		def = chdef_find(f, ch->name);
		if (def == NULL || def->chltype != FSM_CHL_SDR)
			return QSG_RC_CHANNEL_NOT_FOUND;
	}
	if (a->state < FSM_CHS_STOPPED || a->state > FSM_CHS_MAX)
		return QSG_RC_INVALID;
	if (state_active(a->state)) {
		const struct fsm_member *m = member_find(f, a->owner);
		if (m == NULL || m->state == FSM_MEMBER_FAILED)
			return QSG_RC_INVALID;
	}
	/* A new instance: STARTING from anything else, or STARTING on another
	 * owner or as a restart (epoch moves) of a STARTING entry. Only an
	 * unchanged STARTING image keeps its epoch. */
	bool into_starting =
	    a->state == FSM_CHS_STARTING && (!cur.exists || cur.state != FSM_CHS_STARTING ||
					     cur.owner != a->owner || a->epoch != cur.epoch);
	if (into_starting ? (cur.epoch == UINT64_MAX || a->epoch != cur.epoch + 1)
			  : a->epoch != cur.epoch)
		return QSG_RC_INVALID;
	if (def != NULL && state_active(a->state)) {
		for (size_t i = 0; i < f->nchsts; i++) {
			const struct chst *o = f->chsts[i];
			if (o != e && o->s.chltype == FSM_CHL_SDR && state_active(o->s.img.state) &&
			    strcmp(o->s.xmitq, def->xmitq) == 0)
				return QSG_RC_XMITQ_IN_USE;
		}
	}
	if (e == NULL && (e = chst_insert(f, ch->name, ch->rqmname, type)) == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	if (def != NULL)
		memcpy(e->s.xmitq, def->xmitq, sizeof e->s.xmitq);
	if (cur.exists && a->owner != cur.owner)
		e->s.prev_owner = cur.owner;
	bool into_running =
	    a->state == FSM_CHS_RUNNING && (!cur.exists || cur.state != FSM_CHS_RUNNING);
	e->s.img = *a;
	memcpy(e->s.conname, ch->conname, sizeof e->s.conname);
	memcpy(e->s.reason, ch->reason, sizeof e->s.reason);
	e->s.last_change_ms = now;
	if (into_running)
		e->s.reset_seq = 0;
	chan_changed(f);
	return QSG_OK;
}

static int op_chst_cas(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	int rc = chst_cas(f, &c->ch, now);
	if (out != NULL) {
		struct fsm_chimage cur;
		chst_image(chst_find(f, c->ch.name, c->ch.rqmname), &cur);
		fsm_chimage_encode(out, &cur);
	}
	return rc;
}

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

static int op_ch_getbatch(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	const struct fsm_chcmd *ch = &c->ch;
	struct chst *e;
	int rc = sdr_instance(f, ch, &e);
	if (rc != QSG_OK)
		return rc;
	if (e->s.img.state != FSM_CHS_RUNNING)
		return QSG_RC_CHANNEL_STOPPED;
	struct queue *q = queue_lookup(f, 0, e->s.xmitq);
	if (q == NULL || q->attrs.qtype != FSM_QT_LOCAL)
		return QSG_RC_UNKNOWN_OBJECT;
	size_t off = 0;
	if (out != NULL) {
		off = out->len;
		qsg_put_u32(out, 0);
	}
	uint32_t n = 0;
	uint64_t bytes = 0;
	for (int p = NPRIO - 1; p >= 0 && n < ch->max_msgs; p--) {
		struct qmsg *m = q->head[p];
		while (m != NULL && n < ch->max_msgs) {
			struct qmsg *next = m->next;
			if (expired(m, now) || m->hold_until > now) {
				m = next;
				continue;
			}
			uint64_t size = (uint64_t)m->body_len + m->props_len;
			if (n > 0 && ch->max_bytes != 0 && bytes + size > ch->max_bytes)
				goto done;
			bytes += size;
			take_visible(q, m);
			m->state = MS_CHLOCKED;
			m->chseq = ++e->s.curseq;
			q->uncommitted++;
			lk_append(e, m);
			if (out != NULL) {
				qsg_put_u64(out, m->chseq);
				put_msg(out, m);
			}
			n++;
			m = next;
		}
	}
done:
	if (out != NULL)
		qsg_patch_u32(out, off, n);
	if (n > 0)
		chan_changed(f);
	return QSG_OK;
}

/* Index of seq in the sorted seqs[0..n), or n. */
static size_t seq_index(const uint64_t *seqs, size_t n, uint64_t seq)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (seqs[mid] == seq)
			return mid;
		if (seqs[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

/* Release a channel-locked message from its queue's uncommitted count. */
static void lk_release(struct qmsg *m)
{
	m->q->uncommitted--;
	m->uow_next = NULL;
	m->mark = 0;
}

/* DLQ disposition: the message goes to the dead-letter queue with a DLH
 * instead of its XQH. false: not possible (the caller holds it instead). */
static bool dispose_dlq(struct fsm *f, const struct chst *e, struct qmsg *m,
			const struct fsm_chdisp *d, int64_t now)
{
	struct queue *dq =
	    f->qmgr.deadq[0] != '\0' ? queue_lookup(f, e->s.img.owner, f->qmgr.deadq) : NULL;
	if (dq == NULL || dq->attrs.qtype != FSM_QT_LOCAL || dq->attrs.put_inhibited ||
	    dq->curdepth >= dq->attrs.maxdepth)
		return false;
	struct fsm_msg v;
	msg_view(m, &v);
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
		nm = msg_new(&v);
	}
	qsg_wbuf_close(&w);
	if (nm == NULL)
		return false;
	f->last_seqno = nm->seqno;
	struct queue *q = m->q;
	lk_release(m);
	q->curdepth--;
	q->gets_total++;
	free(m);
	nm->q = dq;
	dq->curdepth++;
	dq->puts_total++;
	make_visible(dq, nm, true);
	notify(f, dq, 1);
	return true;
}

static int op_ch_settle(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
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
		if (k == nl || v[k]->mark) {
			rc = QSG_RC_INVALID;
			break;
		}
		v[k]->mark = 1;
	}
	for (i = 0; i < nl; i++)
		v[i]->mark = 0;
	if (rc != QSG_OK) {
		free(v);
		free(seqs);
		return rc;
	}
	uint32_t committed = 0, backed = 0, disposed = 0;
	fsm_chiter_init(&it, ch);
	while (fsm_chiter_disp(&it, &d, &done) == QSG_OK && !done) {
		size_t k = seq_index(seqs, nl, d.seq);
		if (k == nl || v[k] == NULL)
			continue; /* unreachable: checked above */
		struct qmsg *m = v[k];
		v[k] = NULL;
		disposed++;
		if (d.action == FSM_DISP_DLQ && dispose_dlq(f, e, m, &d, now))
			continue;
		/* HOLD: back on the xmitq, not got again by a channel before
		 * now + hold_ms. */
		struct queue *q = m->q;
		lk_release(m);
		m->hold_until = sat_add(now, (int64_t)d.hold_ms);
		if (m->backout_count < UINT32_MAX)
			m->backout_count++;
		make_visible(q, m, false);
		notify(f, q, 1);
	}
	/* (b) commit up to upto, (c) back out the rest if asked. */
	for (i = 0; i < nl; i++) {
		struct qmsg *m = v[i];
		if (m == NULL)
			continue;
		struct queue *q = m->q;
		if (m->chseq <= upto) {
			lk_release(m);
			q->curdepth--;
			q->gets_total++;
			free(m);
			v[i] = NULL;
			committed++;
		} else if (ch->flags & FSM_CHF_BACKOUT_REST) {
			lk_release(m);
			make_visible(q, m, false);
			notify(f, q, 1);
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
	bool changed = committed + backed + disposed > 0;
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

static int op_ch_reset(struct fsm *f, const struct fsm_cmd *c, int64_t now)
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
	chan_changed(f);
	return QSG_OK;
}

/* --- receiver: CH_RECV_START, CH_RECV_BATCH --- */

static int op_ch_recv_start(struct fsm *f, const struct fsm_cmd *c, int64_t now,
			    struct qsg_wbuf *out)
{
	const struct fsm_chcmd *ch = &c->ch;
	const struct fsm_chattrs *def = chdef_find(f, ch->name);
	if (def == NULL || def->chltype != FSM_CHL_RCVR)
		return QSG_RC_CHANNEL_NOT_FOUND;
	bool found;
	size_t si = syncq_pos(f, ch->name, ch->rqmname, &found);
	if (found && ch->epoch < f->syncqs[si].epoch)
		return QSG_RC_CHANNEL_FENCED;
	/* Allocate everything first: nothing changes on failure. */
	if (!found &&
	    grow((void **)&f->syncqs, &f->capsyncqs, f->nsyncqs, sizeof *f->syncqs) != QSG_OK)
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
	if (had && e->s.img.owner != ch->member_id)
		e->s.prev_owner = e->s.img.owner;
	e->s.img.exists = 1;
	e->s.img.owner = ch->member_id;
	e->s.img.state = FSM_CHS_RUNNING;
	e->s.img.epoch = ch->epoch;
	memcpy(e->s.conname, ch->conname, sizeof e->s.conname);
	snprintf(e->s.reason, sizeof e->s.reason, "inbound");
	e->s.last_change_ms = now;
	e->s.lstseq = e->s.curseq = sq->lstseq;
	chan_changed(f);
	if (out != NULL) {
		qsg_put_u64(out, sq->epoch);
		qsg_put_u64(out, sq->lstseq);
		qsg_put_u64(out, sq->luwid);
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

static int op_ch_recv_batch(struct fsm *f, const struct fsm_cmd *c, int64_t now,
			    struct qsg_wbuf *out)
{
	const struct fsm_chcmd *ch = &c->ch;
	struct fsm_syncq *sq = syncq_find(f, ch->name, ch->rqmname);
	if (sq == NULL)
		return QSG_RC_SEQ_MISMATCH;
	if (ch->epoch < sq->epoch)
		return QSG_RC_CHANNEL_FENCED;
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
			v.expiry_ms = m.msg.expiry_ms == 0 ? 0 : sat_add(now, m.msg.expiry_ms);
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
			nm[n] = w.err == QSG_OK ? msg_new(&v) : NULL;
			qsg_wbuf_close(&w);
			if (nm[n] == NULL) {
				rc = QSG_RC_STORAGE_NOT_AVAILABLE;
				break;
			}
			nm[n]->q = dq;
			n++;
		}
		if (rc == QSG_OK && n != ch->count)
			rc = QSG_RC_INVALID; /* unreachable: decode walked the list */
	}
	if (rc != QSG_OK) {
		for (uint32_t i = 0; i < ch->count && nm != NULL; i++)
			free(nm[i]);
	} else {
		f->last_seqno = seqno;
		for (uint32_t i = 0; i < n; i++) {
			struct queue *dq = nm[i]->q;
			dq->curdepth++;
			dq->puts_total++;
			make_visible(dq, nm[i], true);
			notify(f, dq, 1);
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

static int apply_cmd(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	switch (c->op) {
	case FSM_OP_QDEFINE:
		return op_qdefine(f, c);
	case FSM_OP_QALTER:
		return op_qalter(f, c);
	case FSM_OP_QDELETE:
		return op_qdelete(f, c);
	case FSM_OP_QCLEAR:
		return op_qclear(f, c);
	case FSM_OP_ATTACH:
		return op_attach(f, c, out);
	case FSM_OP_DETACH:
		return op_detach(f, c, now);
	case FSM_OP_OPEN:
		return op_open(f, c);
	case FSM_OP_CLOSE:
		return op_close(f, c);
	case FSM_OP_PUT:
		return op_put(f, c, now, out);
	case FSM_OP_GET:
		return op_get(f, c, now, out);
	case FSM_OP_BROWSE:
		return op_browse(f, c, now, out);
	case FSM_OP_COMMIT:
		return op_commit(f, c);
	case FSM_OP_BACKOUT:
		return op_backout(f, c);
	case FSM_OP_MEMBER_JOIN:
		return op_member_join(f, c, now);
	case FSM_OP_LEASE_RENEW:
		return op_lease_renew(f, c, now);
	case FSM_OP_MEMBER_FAIL:
		return op_member_fail(f, c, now);
	case FSM_OP_MEMBER_REMOVE:
		return op_member_remove(f, c, now);
	case FSM_OP_EXPIRE:
		return op_expire(f, c, now);
	case FSM_OP_QMGR_ALTER:
		return op_qmgr_alter(f, c);
	case FSM_OP_CHDEFINE:
		return op_chdefine(f, c);
	case FSM_OP_CHALTER:
		return op_chalter(f, c);
	case FSM_OP_CHDELETE:
		return op_chdelete(f, c);
	case FSM_OP_CHINIT_STATE:
		return op_chinit_state(f, c);
	case FSM_OP_CHST_CAS:
		return op_chst_cas(f, c, now, out);
	case FSM_OP_CH_GETBATCH:
		return op_ch_getbatch(f, c, now, out);
	case FSM_OP_CH_SETTLE:
		return op_ch_settle(f, c, now, out);
	case FSM_OP_CH_RESET:
		return op_ch_reset(f, c, now);
	case FSM_OP_CH_RECV_START:
		return op_ch_recv_start(f, c, now, out);
	case FSM_OP_CH_RECV_BATCH:
		return op_ch_recv_batch(f, c, now, out);
	default:
		return QSG_RC_UNKNOWN_OP; /* unreachable: decode checked it */
	}
}

/* Walk the header and every command; with apply == false only decode. */
static int walk_entry(struct fsm *f, const void *entry, size_t len, struct qsg_wbuf *results,
		      bool apply, char *errmsg)
{
	struct qsg_rbuf r;
	struct fsm_cmd c;
	bool oom = false;
	qsg_rbuf_init(&r, entry, len);
	uint8_t version = qsg_get_u8(&r);
	uint8_t type = qsg_get_u8(&r);
	uint16_t reserved = qsg_get_u16(&r);
	int64_t now = qsg_get_i64(&r);
	uint32_t count = qsg_get_u32(&r);
	if (r.err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "entry of %zu bytes has no header", len);
	if (version != FSM_ENTRY_VERSION)
		return qsg_errf(errmsg, QSG_RC_BAD_VERSION, "entry format version %u", version);
	if (type != FSM_ENTRY_TYPE_BATCH || reserved != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "entry type %u reserved %u", type,
				reserved);
	if (count == 0 || count > FSM_MAX_BATCH)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "entry has %u commands", count);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t n = qsg_get_u32(&r);
		struct qsg_slice cmd = qsg_get_raw(&r, n);
		if (r.err != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"entry truncated in command %u of %u", i + 1, count);
		int rc = fsm_cmd_decode(cmd.p, cmd.len, &c, errmsg);
		if (rc != QSG_OK)
			return rc == QSG_RC_BAD_VERSION ? rc : QSG_RC_BAD_FRAME;
		if (!apply)
			continue;
		size_t off = 0;
		if (results != NULL) {
			off = results->len;
			qsg_put_u32(results, 0);
			qsg_put_u32(results, 0);
		}
		rc = apply_cmd(f, &c, now, results);
		if (results != NULL) {
			qsg_patch_u32(results, off, (uint32_t)(results->len - off - 4));
			qsg_patch_u32(results, off + 4, (uint32_t)rc);
		}
		if (rc == QSG_RC_STORAGE_NOT_AVAILABLE)
			oom = true;
	}
	if (qsg_rbuf_left(&r) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%zu trailing bytes after %u commands",
				qsg_rbuf_left(&r), count);
	if (apply) {
		f->entries_applied++;
		f->last_time = now;
	}
	/* A command that ran out of memory may have been half applied: this
	 * replica can no longer be trusted to equal the others. */
	if (oom)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
				"out of memory while applying a command");
	return QSG_OK;
}

int fsm_apply(struct fsm *f, const void *entry, size_t len, struct qsg_wbuf *results, char *errmsg)
{
	int rc = walk_entry(f, entry, len, NULL, false, errmsg);
	if (rc != QSG_OK)
		return rc;
	rc = walk_entry(f, entry, len, results, true, errmsg);
	if (rc != QSG_OK)
		return rc;
	if (results != NULL && results->err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
				"entry applied but its results could not be stored");
	return QSG_OK;
}

/* --- snapshot ------------------------------------------------------------ */

#define UOW_HELD_PUT 1
#define UOW_LOCKED_GET 2

/* A message in a snapshot: the message layout, then i64 hold_until. */
static void snap_msg(struct qsg_wbuf *out, const struct qmsg *m)
{
	put_msg(out, m);
	qsg_put_i64(out, m->hold_until);
}

static void snap_chan(const struct fsm *f, struct qsg_wbuf *out)
{
	qsg_put_u32(out, f->qmgr.set);
	qsg_put_str(out, f->qmgr.deadq);
	qsg_put_str(out, f->qmgr.descr);
	qsg_put_u64(out, f->chan_gen);
	qsg_put_u32(out, (uint32_t)f->nchdefs);
	for (size_t i = 0; i < f->nchdefs; i++)
		fsm_chattrs_encode(out, &f->chdefs[i]);
	qsg_put_u32(out, (uint32_t)f->nchsts);
	for (size_t i = 0; i < f->nchsts; i++) {
		const struct chst *e = f->chsts[i];
		const struct fsm_chstatus *s = &e->s;
		qsg_put_str(out, s->name);
		qsg_put_str(out, s->rqmname);
		qsg_put_u8(out, s->chltype);
		qsg_put_str(out, s->xmitq);
		fsm_chimage_encode(out, &s->img);
		qsg_put_str(out, s->conname);
		qsg_put_str(out, s->reason);
		qsg_put_u32(out, s->prev_owner);
		qsg_put_i64(out, s->last_change_ms);
		qsg_put_u64(out, s->msgs);
		qsg_put_u64(out, s->batches);
		qsg_put_u64(out, s->curseq);
		qsg_put_u64(out, s->lstseq);
		qsg_put_i64(out, s->last_msg_ms);
		qsg_put_u64(out, s->reset_seq);
		qsg_put_u32(out, s->indoubt);
		for (const struct qmsg *m = e->lk_head; m != NULL; m = m->uow_next) {
			qsg_put_u64(out, m->chseq);
			qsg_put_str(out, m->q->attrs.name);
			qsg_put_u32(out, m->q->attrs.scope);
			snap_msg(out, m);
		}
	}
	qsg_put_u32(out, (uint32_t)f->nsyncqs);
	for (size_t i = 0; i < f->nsyncqs; i++) {
		const struct fsm_syncq *q = &f->syncqs[i];
		qsg_put_str(out, q->name);
		qsg_put_str(out, q->rqmname);
		qsg_put_u64(out, q->epoch);
		qsg_put_u64(out, q->lstseq);
		qsg_put_u64(out, q->luwid);
		qsg_put_i64(out, q->last_ms);
	}
}

int fsm_snapshot(struct fsm *f, struct qsg_wbuf *out)
{
	struct queue **qs;
	struct session **ss;
	size_t nq, ns;
	int rc = queues_sorted(f, &qs, &nq);
	if (rc != QSG_OK)
		return rc;
	rc = sessions_sorted(f, false, 0, &ss, &ns);
	if (rc != QSG_OK) {
		free(qs);
		return rc;
	}
	qsg_put_u8(out, FSM_SNAPSHOT_VERSION);
	qsg_put_u64(out, f->last_seqno);
	qsg_put_i64(out, f->last_time);
	qsg_put_u32(out, (uint32_t)nq);
	for (size_t i = 0; i < nq; i++) {
		struct queue *q = qs[i];
		fsm_qattrs_encode(out, &q->attrs);
		qsg_put_u64(out, q->puts_total);
		qsg_put_u64(out, q->gets_total);
		qsg_put_u32(out, q->nvisible);
		for (int p = NPRIO - 1; p >= 0; p--)
			for (struct qmsg *m = q->head[p]; m != NULL; m = m->next)
				snap_msg(out, m);
	}
	qsg_put_u32(out, (uint32_t)ns);
	for (size_t i = 0; i < ns; i++) {
		struct session *s = ss[i];
		qsg_put_u64(out, s->client_id);
		qsg_put_u64(out, s->epoch);
		qsg_put_u32(out, s->owner);
		qsg_put_u64(out, s->put_seq);
		qsg_put_u64(out, s->uows_done);
		qsg_put_u8(out, s->attached);
		qsg_put_i64(out, s->detached_at);
		/* Opens in queue name order: walk the sorted queue list. */
		uint32_t nopens = 0;
		for (struct sopen *o = s->opens; o != NULL; o = o->next)
			nopens++;
		qsg_put_u32(out, nopens);
		for (size_t j = 0; j < nq && nopens > 0; j++)
			for (struct sopen *o = s->opens; o != NULL; o = o->next)
				if (o->q == qs[j]) {
					qsg_put_str(out, qs[j]->attrs.name);
					qsg_put_u32(out, qs[j]->attrs.scope);
					qsg_put_u32(out, o->count);
				}
		qsg_put_u32(out, s->uow_count);
		for (struct qmsg *m = s->uow_head; m != NULL; m = m->uow_next) {
			qsg_put_u8(out, m->state == MS_HELD ? UOW_HELD_PUT : UOW_LOCKED_GET);
			qsg_put_str(out, m->q->attrs.name);
			qsg_put_u32(out, m->q->attrs.scope);
			snap_msg(out, m);
		}
	}
	qsg_put_u32(out, (uint32_t)f->nmembers);
	for (size_t i = 0; i < f->nmembers; i++) {
		const struct fsm_member *m = &f->members[i];
		qsg_put_u32(out, m->id);
		qsg_put_str(out, m->name);
		qsg_put_str(out, m->raft_addr);
		qsg_put_str(out, m->client_addr);
		qsg_put_u8(out, m->state);
		qsg_put_i64(out, m->lease_expiry_ms);
		qsg_put_i64(out, m->last_renew_ms);
		qsg_put_u8(out, m->stats.role);
		qsg_put_u64(out, m->stats.term);
		qsg_put_u64(out, m->stats.commit_index);
		qsg_put_u64(out, m->stats.applied_index);
		qsg_put_u64(out, m->stats.last_index);
		qsg_put_u8(out, m->chinit);
	}
	snap_chan(f, out);
	free(qs);
	free(ss);
	return out->err;
}

/* Restore helpers: decode into the fresh state `g`. */
static int restore_queues(struct fsm *g, struct qsg_rbuf *r, char *errmsg)
{
	uint32_t nq = qsg_get_u32(r);
	struct queue *prevq = NULL;
	for (uint32_t i = 0; i < nq && r->err == QSG_OK; i++) {
		struct fsm_qattrs a;
		int rc = fsm_qattrs_decode(r, &a, errmsg);
		if (rc != QSG_OK)
			return QSG_RC_BAD_FRAME;
		struct queue key = {.attrs = a};
		const struct queue *pk = &key;
		if (!fsm_name_valid(a.name) || (prevq != NULL && cmp_queue(&prevq, &pk) >= 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %u: bad or unordered name", i);
		if (a.disp == FSM_DISP_DEFAULT ||
		    (a.scope == 0) != (a.disp == FSM_DISP_SHARED || a.disp == FSM_DISP_GROUP) ||
		    (a.disp == FSM_DISP_SHARED && a.qtype != FSM_QT_LOCAL))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %s: bad QSGDISP %u in scope %u", a.name,
					a.disp, a.scope);
		if (!attrs_type_ok(&a))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %s: bad BOQNAME or type attributes",
					a.name);
		struct queue *q;
		if (queue_create(g, &a, &q) != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		prevq = q;
		q->puts_total = qsg_get_u64(r);
		q->gets_total = qsg_get_u64(r);
		uint32_t nm = qsg_get_u32(r);
		if (r->err == QSG_OK && nm > 0 && a.qtype != FSM_QT_LOCAL)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %s: remote or alias queue with messages",
					a.name);
		struct qmsg *last = NULL;
		for (uint32_t j = 0; j < nm && r->err == QSG_OK; j++) {
			struct fsm_msg v;
			fsm_msg_decode(r, &v);
			int64_t hold = qsg_get_i64(r);
			if (r->err != QSG_OK)
				break;
			if (v.seqno == 0 || v.seqno > g->last_seqno)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot queue %s: bad seqno", a.name);
			struct qmsg *m = msg_new(&v);
			if (m == NULL)
				return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
						"out of memory");
			if (last != NULL && !get_before(last, m)) {
				free(m);
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot queue %s: messages out of order", a.name);
			}
			m->hold_until = hold;
			make_visible(q, m, true);
			q->curdepth++;
			last = m;
		}
	}
	return r->err;
}

static int restore_sessions(struct fsm *g, struct qsg_rbuf *r, char *errmsg)
{
	uint32_t ns = qsg_get_u32(r);
	uint64_t prev = 0;
	for (uint32_t i = 0; i < ns && r->err == QSG_OK; i++) {
		uint64_t id = qsg_get_u64(r);
		if (r->err != QSG_OK)
			break;
		if (id <= prev)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot session %u: bad id", i);
		prev = id;
		struct session *s = calloc(1, sizeof *s);
		if (s == NULL)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		s->client_id = id;
		if (hmap_insert(&g->sessions, &s->node, id_hash(id)) != QSG_OK) {
			free(s);
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		}
		s->epoch = qsg_get_u64(r);
		s->owner = qsg_get_u32(r);
		s->put_seq = qsg_get_u64(r);
		s->uows_done = qsg_get_u64(r);
		s->attached = qsg_get_u8(r);
		s->detached_at = qsg_get_i64(r);
		uint32_t nopens = qsg_get_u32(r);
		if (r->err == QSG_OK && (s->attached > 1 || (!s->attached && nopens > 0)))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot session %u: bad state",
					i);
		struct queue *pq = NULL;
		for (uint32_t j = 0; j < nopens && r->err == QSG_OK; j++) {
			char name[FSM_NAME_MAX + 1];
			qsg_get_str(r, name, sizeof name);
			uint32_t scope = qsg_get_u32(r);
			uint32_t count = qsg_get_u32(r);
			if (r->err != QSG_OK)
				break;
			struct queue *q = queue_find(g, scope, name);
			const struct queue *qk = q;
			if (q == NULL || q->attrs.qtype == FSM_QT_ALIAS || count == 0 ||
			    (pq != NULL && cmp_queue(&pq, &qk) >= 0) ||
			    q->opens > UINT32_MAX - count)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot session %u: bad open of %s", i, name);
			pq = q;
			struct sopen *o = calloc(1, sizeof *o);
			if (o == NULL)
				return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
						"out of memory");
			o->q = q;
			o->count = count;
			o->next = s->opens;
			s->opens = o;
			q->opens += count;
		}
		uint32_t nuow = qsg_get_u32(r);
		if (r->err == QSG_OK && !s->attached && nuow > 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot session %u: detached with a uow", i);
		for (uint32_t j = 0; j < nuow && r->err == QSG_OK; j++) {
			char name[FSM_NAME_MAX + 1];
			struct fsm_msg v;
			uint8_t kind = qsg_get_u8(r);
			qsg_get_str(r, name, sizeof name);
			uint32_t scope = qsg_get_u32(r);
			fsm_msg_decode(r, &v);
			int64_t hold = qsg_get_i64(r);
			if (r->err != QSG_OK)
				break;
			struct queue *q = queue_find(g, scope, name);
			if (q == NULL || q->attrs.qtype != FSM_QT_LOCAL ||
			    (kind != UOW_HELD_PUT && kind != UOW_LOCKED_GET) || v.seqno == 0 ||
			    v.seqno > g->last_seqno)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot session %u: bad uow entry", i);
			struct qmsg *m = msg_new(&v);
			if (m == NULL)
				return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
						"out of memory");
			m->q = q;
			m->hold_until = hold;
			m->state = kind == UOW_HELD_PUT ? MS_HELD : MS_LOCKED;
			uow_append(s, m);
			q->curdepth++;
			q->uncommitted++;
		}
	}
	return r->err;
}

static int restore_members(struct fsm *g, struct qsg_rbuf *r, char *errmsg)
{
	uint32_t n = qsg_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == QSG_OK; i++) {
		struct fsm_member m;
		memset(&m, 0, sizeof m);
		m.id = qsg_get_u32(r);
		qsg_get_str(r, m.name, sizeof m.name);
		qsg_get_str(r, m.raft_addr, sizeof m.raft_addr);
		qsg_get_str(r, m.client_addr, sizeof m.client_addr);
		m.state = qsg_get_u8(r);
		m.lease_expiry_ms = qsg_get_i64(r);
		m.last_renew_ms = qsg_get_i64(r);
		m.stats.role = qsg_get_u8(r);
		m.stats.term = qsg_get_u64(r);
		m.stats.commit_index = qsg_get_u64(r);
		m.stats.applied_index = qsg_get_u64(r);
		m.stats.last_index = qsg_get_u64(r);
		m.chinit = qsg_get_u8(r);
		if (r->err != QSG_OK)
			break;
		if (m.chinit > 1 || m.id == 0 ||
		    (g->nmembers > 0 && g->members[g->nmembers - 1].id >= m.id) ||
		    (m.state != FSM_MEMBER_ACTIVE && m.state != FSM_MEMBER_FAILED) ||
		    m.stats.role > 3)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot member %u: bad values",
					i);
		struct fsm_member *slot = member_add(g, m.id);
		if (slot == NULL)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		*slot = m;
	}
	return r->err;
}

static int restore_chsts(struct fsm *g, struct qsg_rbuf *r, char *errmsg)
{
	uint32_t n = qsg_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == QSG_OK; i++) {
		struct fsm_chstatus s;
		memset(&s, 0, sizeof s);
		qsg_get_str(r, s.name, sizeof s.name);
		qsg_get_str(r, s.rqmname, sizeof s.rqmname);
		s.chltype = qsg_get_u8(r);
		qsg_get_str(r, s.xmitq, sizeof s.xmitq);
		fsm_chimage_decode(r, &s.img);
		qsg_get_str(r, s.conname, sizeof s.conname);
		qsg_get_str(r, s.reason, sizeof s.reason);
		s.prev_owner = qsg_get_u32(r);
		s.last_change_ms = qsg_get_i64(r);
		s.msgs = qsg_get_u64(r);
		s.batches = qsg_get_u64(r);
		s.curseq = qsg_get_u64(r);
		s.lstseq = qsg_get_u64(r);
		s.last_msg_ms = qsg_get_i64(r);
		s.reset_seq = qsg_get_u64(r);
		uint32_t nl = qsg_get_u32(r);
		if (r->err != QSG_OK)
			break;
		bool sdr = s.chltype == FSM_CHL_SDR;
		if (!fsm_chname_valid(s.name) ||
		    (g->nchsts > 0 &&
		     key_cmp(g->chsts[g->nchsts - 1]->s.name, g->chsts[g->nchsts - 1]->s.rqmname,
			     s.name, s.rqmname) >= 0) ||
		    (!sdr && s.chltype != FSM_CHL_RCVR) || (sdr && s.rqmname[0] != '\0') ||
		    (s.rqmname[0] != '\0' && !fsm_name_valid(s.rqmname)) ||
		    (s.xmitq[0] != '\0' && !fsm_name_valid(s.xmitq)) || s.img.exists != 1 ||
		    s.img.state < FSM_CHS_STOPPED || (!sdr && nl > 0) || s.lstseq > s.curseq)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot channel status %u: bad values", i);
		struct chst *e = chst_insert(g, s.name, s.rqmname, s.chltype);
		if (e == NULL)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		e->s = s;
		e->s.indoubt = 0;
		uint64_t prev = 0;
		for (uint32_t j = 0; j < nl && r->err == QSG_OK; j++) {
			char name[FSM_NAME_MAX + 1];
			struct fsm_msg v;
			uint64_t chseq = qsg_get_u64(r);
			qsg_get_str(r, name, sizeof name);
			uint32_t scope = qsg_get_u32(r);
			fsm_msg_decode(r, &v);
			int64_t hold = qsg_get_i64(r);
			if (r->err != QSG_OK)
				break;
			struct queue *q = queue_find(g, scope, name);
			if (q == NULL || q->attrs.qtype != FSM_QT_LOCAL || chseq <= prev ||
			    chseq > s.curseq || v.seqno == 0 || v.seqno > g->last_seqno)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot channel %s: bad locked message", s.name);
			prev = chseq;
			struct qmsg *m = msg_new(&v);
			if (m == NULL)
				return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
						"out of memory");
			m->q = q;
			m->state = MS_CHLOCKED;
			m->chseq = chseq;
			m->hold_until = hold;
			lk_append(e, m);
			q->curdepth++;
			q->uncommitted++;
		}
	}
	return r->err;
}

static int restore_chan(struct fsm *g, struct qsg_rbuf *r, char *errmsg)
{
	g->qmgr.set = qsg_get_u32(r);
	qsg_get_str(r, g->qmgr.deadq, sizeof g->qmgr.deadq);
	qsg_get_str(r, g->qmgr.descr, sizeof g->qmgr.descr);
	g->chan_gen = qsg_get_u64(r);
	if (r->err == QSG_OK && ((g->qmgr.set & ~(uint32_t)FSM_QM_ALL) != 0 ||
				 (g->qmgr.deadq[0] != '\0' && !fsm_name_valid(g->qmgr.deadq))))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot qmgr attributes: bad values");
	uint32_t n = qsg_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == QSG_OK; i++) {
		struct fsm_chattrs a;
		if (fsm_chattrs_decode(r, &a, errmsg) != QSG_OK)
			return QSG_RC_BAD_FRAME;
		if (!chattrs_ok(&a) ||
		    (g->nchdefs > 0 && strcmp(g->chdefs[g->nchdefs - 1].name, a.name) >= 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot channel %u: bad values",
					i);
		if (grow((void **)&g->chdefs, &g->capchdefs, g->nchdefs, sizeof *g->chdefs) !=
		    QSG_OK)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		g->chdefs[g->nchdefs++] = a;
	}
	int rc = r->err == QSG_OK ? restore_chsts(g, r, errmsg) : r->err;
	if (rc != QSG_OK)
		return rc;
	n = qsg_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == QSG_OK; i++) {
		struct fsm_syncq q;
		memset(&q, 0, sizeof q);
		qsg_get_str(r, q.name, sizeof q.name);
		qsg_get_str(r, q.rqmname, sizeof q.rqmname);
		q.epoch = qsg_get_u64(r);
		q.lstseq = qsg_get_u64(r);
		q.luwid = qsg_get_u64(r);
		q.last_ms = qsg_get_i64(r);
		if (r->err != QSG_OK)
			break;
		if (!fsm_chname_valid(q.name) || !fsm_name_valid(q.rqmname) ||
		    (g->nsyncqs > 0 &&
		     key_cmp(g->syncqs[g->nsyncqs - 1].name, g->syncqs[g->nsyncqs - 1].rqmname,
			     q.name, q.rqmname) >= 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot SYNCQ %u: bad values",
					i);
		if (grow((void **)&g->syncqs, &g->capsyncqs, g->nsyncqs, sizeof *g->syncqs) !=
		    QSG_OK)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		g->syncqs[g->nsyncqs++] = q;
	}
	return r->err;
}

int fsm_restore(struct fsm *f, const void *p, size_t len, char *errmsg)
{
	struct fsm g;
	struct qsg_rbuf r;
	char msg[QSG_ERRMSG_SIZE] = "";
	state_init(&g);
	qsg_rbuf_init(&r, p, len);
	uint8_t version = qsg_get_u8(&r);
	g.last_seqno = qsg_get_u64(&r);
	g.last_time = qsg_get_i64(&r);
	int rc;
	if (r.err != QSG_OK) {
		rc = qsg_errf(msg, QSG_RC_BAD_FRAME, "snapshot of %zu bytes has no header", len);
	} else if (version != FSM_SNAPSHOT_VERSION) {
		rc = qsg_errf(msg, QSG_RC_BAD_VERSION, "snapshot format version %u", version);
	} else if ((rc = restore_queues(&g, &r, msg)) == QSG_OK &&
		   (rc = restore_sessions(&g, &r, msg)) == QSG_OK &&
		   (rc = restore_members(&g, &r, msg)) == QSG_OK &&
		   (rc = restore_chan(&g, &r, msg)) == QSG_OK && qsg_rbuf_left(&r) != 0) {
		rc = qsg_errf(msg, QSG_RC_BAD_FRAME, "%zu trailing bytes after the snapshot",
			      qsg_rbuf_left(&r));
	}
	if (rc != QSG_OK) {
		if (msg[0] == '\0')
			qsg_errf(msg, rc, "snapshot truncated or a field is out of range");
		if (errmsg != NULL)
			memcpy(errmsg, msg, QSG_ERRMSG_SIZE);
		state_free(&g);
		return rc;
	}
	state_free(f);
	g.notify = f->notify;
	g.notify_arg = f->notify_arg;
	g.entries_applied = 0;
	*f = g;
	return QSG_OK;
}

uint64_t fsm_digest(struct fsm *f)
{
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	uint64_t h = 0;
	if (fsm_snapshot(f, &w) == QSG_OK)
		h = qsg_hash64(w.data, w.len, QSG_HASH_SEED);
	qsg_wbuf_close(&w);
	return h;
}

/* --- queries ------------------------------------------------------------- */

static void qinfo(const struct queue *q, struct fsm_qinfo *out)
{
	memset(out, 0, sizeof *out);
	out->attrs = q->attrs;
	out->curdepth = q->curdepth;
	out->uncommitted = q->uncommitted;
	out->opens = q->opens;
	out->puts_total = q->puts_total;
	out->gets_total = q->gets_total;
	for (int p = 0; p < NPRIO; p++) {
		const struct qmsg *m = q->head[p];
		if (m != NULL && (out->oldest_put_ms == 0 || m->put_time_ms < out->oldest_put_ms))
			out->oldest_put_ms = m->put_time_ms;
	}
}

int fsm_queue_info(struct fsm *f, uint32_t scope, const char *name, struct fsm_qinfo *out)
{
	const struct queue *q = queue_find(f, scope, name);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	qinfo(q, out);
	return QSG_OK;
}

int fsm_queue_lookup(struct fsm *f, uint32_t member, const char *name, struct fsm_qinfo *out)
{
	const struct queue *q = queue_lookup(f, member, name);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	qinfo(q, out);
	return QSG_OK;
}

const char *fsm_disp_name(uint8_t disp)
{
	static const char *const names[] = {"", "SHARED", "GROUP", "QMGR", "COPY"};
	return disp <= FSM_DISP_COPY ? names[disp] : "";
}

void fsm_queue_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_qinfo *q), void *arg)
{
	struct queue **v;
	size_t n;
	if (queues_sorted(f, &v, &n) != QSG_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		struct fsm_qinfo info;
		qinfo(v[i], &info);
		if (cb(arg, &info) != 0)
			break;
	}
	free(v);
}

static void member_view(const struct fsm *f, const struct fsm_member *m, struct fsm_member *out)
{
	*out = *m;
	out->sessions = 0;
	for (struct hmap_node *n = hmap_next(&f->sessions, NULL); n != NULL;
	     n = hmap_next(&f->sessions, n)) {
		const struct session *s = (const struct session *)n;
		if (s->attached && s->owner == m->id)
			out->sessions++;
	}
}

void fsm_member_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_member *m), void *arg)
{
	for (size_t i = 0; i < f->nmembers; i++) {
		struct fsm_member m;
		member_view(f, &f->members[i], &m);
		if (cb(arg, &m) != 0)
			break;
	}
}

int fsm_member_get(struct fsm *f, uint32_t id, struct fsm_member *out)
{
	const struct fsm_member *m = member_find(f, id);
	if (m == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	member_view(f, m, out);
	return QSG_OK;
}

uint64_t fsm_entries_applied(struct fsm *f)
{
	return f->entries_applied;
}

int64_t fsm_last_time(struct fsm *f)
{
	return f->last_time;
}

uint32_t fsm_available(struct fsm *f, uint32_t member, const char *queue)
{
	struct queue *q;
	if (queue_resolve(f, member, queue, &q, NULL) != QSG_OK)
		return 0;
	return q->nvisible;
}

int fsm_queue_resolve(struct fsm *f, uint32_t member, const char *name, char *target_out)
{
	struct queue *q, *alias;
	int rc = queue_resolve(f, member, name, &q, &alias);
	if (rc == QSG_OK)
		memcpy(target_out, q->attrs.name, FSM_NAME_MAX + 1);
	else if (rc == QSG_RC_UNKNOWN_ALIAS_BASE_Q)
		memcpy(target_out, alias->attrs.target, FSM_NAME_MAX + 1);
	else
		target_out[0] = '\0';
	return rc;
}

/* --- channel queries ----------------------------------------------------- */

int fsm_qmgr_get(struct fsm *f, struct fsm_qmgr_attrs *out)
{
	*out = f->qmgr;
	out->set = FSM_QM_ALL;
	return QSG_OK;
}

int fsm_channel_get(struct fsm *f, const char *name, struct fsm_chattrs *out)
{
	const struct fsm_chattrs *a = chdef_find(f, name);
	if (a == NULL)
		return QSG_RC_CHANNEL_NOT_FOUND;
	*out = *a;
	return QSG_OK;
}

void fsm_channel_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_chattrs *c),
			 void *arg)
{
	for (size_t i = 0; i < f->nchdefs; i++)
		if (cb(arg, &f->chdefs[i]) != 0)
			break;
}

int fsm_chstatus_get(struct fsm *f, const char *name, const char *rqmname, struct fsm_chstatus *out)
{
	const struct chst *e = chst_find(f, name, rqmname != NULL ? rqmname : "");
	if (e == NULL)
		return QSG_RC_CHANNEL_NOT_FOUND;
	*out = e->s;
	return QSG_OK;
}

void fsm_chstatus_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_chstatus *s),
			  void *arg)
{
	for (size_t i = 0; i < f->nchsts; i++)
		if (cb(arg, &f->chsts[i]->s) != 0)
			break;
}

int fsm_syncq_get(struct fsm *f, const char *name, const char *rqmname, struct fsm_syncq *out)
{
	const struct fsm_syncq *q = syncq_find(f, name, rqmname != NULL ? rqmname : "");
	if (q == NULL)
		return QSG_RC_CHANNEL_NOT_FOUND;
	*out = *q;
	return QSG_OK;
}

void fsm_syncq_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_syncq *s), void *arg)
{
	for (size_t i = 0; i < f->nsyncqs; i++)
		if (cb(arg, &f->syncqs[i]) != 0)
			break;
}

uint64_t fsm_chan_generation(struct fsm *f)
{
	return f->chan_gen;
}
