/* The replicated state machine: queues with their messages, sessions with
 * their units of work, members with their leases. See fsm.h for the contract
 * and docs/protocol.md for the formats and rules.
 *
 * Determinism: apply never looks at clocks, randomness or pointer values;
 * whenever several objects are visited and the order matters (detaching a
 * member's sessions, snapshots) they are sorted by key first. Hash tables are
 * derived data: their iteration order never reaches the state. */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"
#include "hmap.h"

#define NPRIO 10

enum msg_state {
	MS_VISIBLE = 1, /* committed, in the priority list (and the index) */
	MS_HELD = 2, /* put under syncpoint, in a session's uow only */
	MS_LOCKED = 3, /* got under syncpoint, in a session's uow only */
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
		f->notify(f->notify_arg, q->attrs.name, n);
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

static struct queue *queue_find(const struct fsm *f, const char *name)
{
	uint64_t h = name_hash(name);
	for (struct hmap_node *n = hmap_bucket(&f->queues, h); n != NULL; n = n->next) {
		struct queue *q = (struct queue *)n;
		if (n->hash == h && strcmp(q->attrs.name, name) == 0)
			return q;
	}
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
	return strcmp(x->attrs.name, y->attrs.name);
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
			boq = queue_find(f, q->attrs.boqname);
		if (boq != NULL && boq != q && boq->curdepth < boq->attrs.maxdepth) {
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
}

static void set_attrs(struct queue *q, const struct fsm_qattrs *a)
{
	uint8_t old = q->attrs.indxtype;
	q->attrs = *a;
	if (q->attrs.indxtype != old || !q->index_ok)
		index_build(q);
}

static int op_qdefine(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_qattrs a;
	if (!fsm_name_valid(c->attrs.name))
		return QSG_RC_BAD_ATTR;
	attrs_defaults(&a);
	memcpy(a.name, c->attrs.name, sizeof a.name);
	attrs_merge(&a, &c->attrs);
	if (a.boqname[0] != '\0' && !fsm_name_valid(a.boqname))
		return QSG_RC_BAD_ATTR;
	struct queue *q = queue_find(f, a.name);
	if (q != NULL) {
		if (!(c->flags & FSM_F_REPLACE))
			return QSG_RC_OBJECT_EXISTS;
		set_attrs(q, &a);
		return QSG_OK;
	}
	q = calloc(1, sizeof *q);
	if (q == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	q->attrs = a;
	q->index_ok = true;
	hmap_init(&q->index);
	if (hmap_insert(&f->queues, &q->node, name_hash(a.name)) != QSG_OK) {
		free(q);
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	return QSG_OK;
}

static int op_qalter(struct fsm *f, const struct fsm_cmd *c)
{
	struct queue *q = queue_find(f, c->attrs.name);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	struct fsm_qattrs a = q->attrs;
	attrs_merge(&a, &c->attrs);
	if (a.boqname[0] != '\0' && !fsm_name_valid(a.boqname))
		return QSG_RC_BAD_ATTR;
	set_attrs(q, &a);
	return QSG_OK;
}

static int op_qdelete(struct fsm *f, const struct fsm_cmd *c)
{
	struct queue *q = queue_find(f, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (q->opens > 0 || q->uncommitted > 0)
		return QSG_RC_OBJECT_IN_USE;
	if (q->curdepth > 0 && !(c->flags & FSM_F_PURGE))
		return QSG_RC_Q_NOT_EMPTY;
	hmap_remove(&f->queues, &q->node);
	queue_free(q);
	return QSG_OK;
}

static int op_qclear(struct fsm *f, const struct fsm_cmd *c)
{
	struct queue *q = queue_find(f, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (q->uncommitted > 0)
		return QSG_RC_OBJECT_IN_USE;
	purge_visible(q, false, 0);
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
	struct queue *q = queue_find(f, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
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

static int op_close(struct fsm *f, const struct fsm_cmd *c)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	struct queue *q = queue_find(f, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	struct sopen **pp = &s->opens;
	while (*pp != NULL && (*pp)->q != q)
		pp = &(*pp)->next;
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
	struct queue *q = queue_find(f, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (q->attrs.put_inhibited)
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
		v.persistent = q->attrs.defpsist;
	else
		v.persistent = (c->flags & FSM_F_PERSISTENT) ? 1 : 0;
	if (c->flags & FSM_F_GEN_MSGID)
		gen_msgid(v.msgid, v.seqno, now);
	struct qmsg *m = msg_new(&v);
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

static int op_get(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	struct session *s;
	int rc = session_check(f, c, &s);
	if (rc != QSG_OK)
		return rc;
	struct queue *q = queue_find(f, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (q->attrs.get_inhibited)
		return QSG_RC_GET_INHIBITED;
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
	struct queue *q = queue_find(f, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (q->attrs.get_inhibited)
		return QSG_RC_GET_INHIBITED;
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
	return QSG_OK;
}

static int op_lease_renew(struct fsm *f, const struct fsm_cmd *c, int64_t now)
{
	struct fsm_member *m = member_find(f, c->member_id);
	if (m == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
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
	case FSM_OP_EXPIRE:
		return op_expire(f, c, now);
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
	}
	if (qsg_rbuf_left(&r) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%zu trailing bytes after %u commands",
				qsg_rbuf_left(&r), count);
	if (apply) {
		f->entries_applied++;
		f->last_time = now;
	}
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
				put_msg(out, m);
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
					qsg_put_u32(out, o->count);
				}
		qsg_put_u32(out, s->uow_count);
		for (struct qmsg *m = s->uow_head; m != NULL; m = m->uow_next) {
			qsg_put_u8(out, m->state == MS_HELD ? UOW_HELD_PUT : UOW_LOCKED_GET);
			qsg_put_str(out, m->q->attrs.name);
			put_msg(out, m);
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
	}
	free(qs);
	free(ss);
	return out->err;
}

/* Restore helpers: decode into the fresh state `g`. */
static int restore_queues(struct fsm *g, struct qsg_rbuf *r, char *errmsg)
{
	uint32_t nq = qsg_get_u32(r);
	char prev[FSM_NAME_MAX + 1] = "";
	for (uint32_t i = 0; i < nq && r->err == QSG_OK; i++) {
		struct fsm_qattrs a;
		int rc = fsm_qattrs_decode(r, &a, errmsg);
		if (rc != QSG_OK)
			return QSG_RC_BAD_FRAME;
		if (!fsm_name_valid(a.name) || (i > 0 && strcmp(prev, a.name) >= 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %u: bad or unordered name", i);
		if (a.boqname[0] != '\0' && !fsm_name_valid(a.boqname))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot queue %s: bad BOQNAME",
					a.name);
		memcpy(prev, a.name, sizeof prev);
		struct queue *q = calloc(1, sizeof *q);
		if (q == NULL)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		q->attrs = a;
		q->index_ok = true;
		hmap_init(&q->index);
		if (hmap_insert(&g->queues, &q->node, name_hash(a.name)) != QSG_OK) {
			free(q);
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		}
		q->puts_total = qsg_get_u64(r);
		q->gets_total = qsg_get_u64(r);
		uint32_t nm = qsg_get_u32(r);
		struct qmsg *last = NULL;
		for (uint32_t j = 0; j < nm && r->err == QSG_OK; j++) {
			struct fsm_msg v;
			fsm_msg_decode(r, &v);
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
		char pq[FSM_NAME_MAX + 1] = "";
		for (uint32_t j = 0; j < nopens && r->err == QSG_OK; j++) {
			char name[FSM_NAME_MAX + 1];
			qsg_get_str(r, name, sizeof name);
			uint32_t count = qsg_get_u32(r);
			if (r->err != QSG_OK)
				break;
			struct queue *q = queue_find(g, name);
			if (q == NULL || count == 0 || (j > 0 && strcmp(pq, name) >= 0) ||
			    q->opens > UINT32_MAX - count)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot session %u: bad open of %s", i, name);
			memcpy(pq, name, sizeof pq);
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
			fsm_msg_decode(r, &v);
			if (r->err != QSG_OK)
				break;
			struct queue *q = queue_find(g, name);
			if (q == NULL || (kind != UOW_HELD_PUT && kind != UOW_LOCKED_GET) ||
			    v.seqno == 0 || v.seqno > g->last_seqno)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot session %u: bad uow entry", i);
			struct qmsg *m = msg_new(&v);
			if (m == NULL)
				return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
						"out of memory");
			m->q = q;
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
		if (r->err != QSG_OK)
			break;
		if (m.id == 0 || (g->nmembers > 0 && g->members[g->nmembers - 1].id >= m.id) ||
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
		   (rc = restore_members(&g, &r, msg)) == QSG_OK && qsg_rbuf_left(&r) != 0) {
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

int fsm_queue_info(struct fsm *f, const char *name, struct fsm_qinfo *out)
{
	const struct queue *q = queue_find(f, name);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	qinfo(q, out);
	return QSG_OK;
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

uint32_t fsm_available(struct fsm *f, const char *queue)
{
	const struct queue *q = queue_find(f, queue);
	return q == NULL ? 0 : q->nvisible;
}
