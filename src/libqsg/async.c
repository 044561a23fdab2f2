/* libqsg: asynchronous put and asynchronous consume (qsg.h, docs/client.md
 * "Asynchronous put and consume").
 *
 * Puts: a FIFO of the puts not yet reported to the application. A put is
 * sent at once with the next producer seq; at most `window` are
 * unresolved. Replies resolve entries (in any order); callbacks are run in
 * put order. A reply that asks for a new session (qsgi_retryable, BUSY)
 * or a broken connection leads to a reconnect, after which qsga_attached
 * reconciles with HELLO's put_seq: an entry with seq <= put_seq was
 * applied, the others are renumbered from put_seq + 1 and sent again, in
 * order. Syncpoint entries of a lost unit of work are BACKED_OUT.
 *
 * Consume: batches. A batch sends up to `read_ahead` GETs at once, always
 * with syncpoint on the wire (the first one waits, the others do not); the
 * batch ends when all are answered and their messages delivered. Without
 * QSG_GMO_SYNCPOINT the library then sends COMMIT (pipelined before the
 * next batch's GETs): a broken connection backs out every message not yet
 * committed, delivered or not. With QSG_GMO_SYNCPOINT the callback gets
 * QSG_CB_BATCH_END and the application commits or backs out; no GET is
 * sent meanwhile, so a commit never includes an undelivered message.
 *
 * Everything runs on the caller's thread under the connection's
 * (recursive) mutex; callbacks are never nested. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

#define DEFAULT_WINDOW 128
#define MAX_WINDOW 1000 /* below the member's 1,024 requests per connection */
#define DEFAULT_READ_AHEAD 64
#define MAX_READ_AHEAD 512
#define WIRE_WAIT_MAX_MS 2000 /* longest server-side wait of one GET */
#define PUSH_BYTES 65536 /* queued puts are written at the latest at this size */
#define PUSH_US 1000 /* ... or when the oldest of them has waited this long */
#define POOL_MAX 1024 /* free aput records kept for reuse */
#define POOL_BODY 4096 /* ... with bodies up to this size */

struct aput {
	struct proto_req req; /* body points into data */
	struct qsg_md md;
	void *ctx;
	uint64_t seq; /* 0: not sent yet */
	uint64_t pos; /* place in the FIFO since the start (reply matching) */
	uint32_t reqid; /* on the current connection; 0: not sent on it */
	bool sync, done;
	int rc;
	size_t cap; /* bytes of data */
	struct aput *next_free;
	uint8_t data[]; /* the body */
};

struct amsg {
	struct qsg_md md;
	void *body;
	size_t len, cap; /* the slot owns body (cap bytes), reused */
};

struct consumer {
	bool active, stopping, sync;
	char queue[FSM_NAME_MAX + 1];
	unsigned read_ahead;
	int wait_ms;
	uint64_t max_msgs, total; /* total: messages delivered */
	qsg_msg_cb cb;
	void *arg;
	uint32_t *gets; /* reqids of GETs in flight */
	unsigned ngets;
	bool batch_open;
	unsigned batch_msgs; /* messages received in the open batch */
	unsigned wire_wait; /* wait of the batch's waiting GET */
	bool await_uow_end; /* syncpoint: BATCH_END given, waiting for commit/backout */
	bool pending_end; /* syncpoint: a BATCH_END (rc in end_rc) to deliver */
	int end_rc;
	int error; /* a GET refused for good: the consumer stops */
	struct amsg *buf; /* received, not yet delivered (FIFO) */
	size_t bhead, blen, bcap;
	void *spare; /* the body buffer of the message last delivered */
	size_t spare_cap;
	uint32_t commit_reqid; /* non-syncpoint: COMMIT in flight */
	int64_t idle_since;
};

struct qsga {
	unsigned window;
	qsg_put_cb put_cb;
	void *put_arg;
	struct aput **q; /* ring of puts not yet reported */
	size_t qhead, qlen, qcap;
	uint64_t popped, pushed; /* puts taken from / added to the ring, ever */
	uint64_t hint; /* pos of the put whose reply is expected next */
	struct aput *pool; /* free records */
	unsigned npool;
	unsigned unresolved;
	unsigned unsent; /* puts queued (qsgi_queue) and not yet written */
	int64_t first_unsent; /* us: when the oldest unwritten put was queued */
	bool streaming; /* a put waited for room since the last write */
	bool resync; /* a reply asked for a new session */
	bool uow_failed; /* a syncpoint put of the open uow failed */
	int64_t last_progress;
	bool in_cb;
	struct qsg_stat st;
	int flush_rc; /* first failure since the last qsg_stat */
	struct consumer con;
};

static void qsga_on_reply(qsg_conn *c, const struct proto_resp *resp);
static void qsga_attached(qsg_conn *c);
static int qsga_quiesce(qsg_conn *c);
static int qsga_sync_allowed(qsg_conn *c);
static int qsga_commit_check(qsg_conn *c, bool *backout);
static void qsga_uow_end(qsg_conn *c);
static void qsga_free(qsg_conn *c);

/* How client.c and conn.c reach this layer (client_int.h). */
static const struct qsgi_async_ops async_ops = {
    .on_reply = qsga_on_reply,
    .attached = qsga_attached,
    .quiesce = qsga_quiesce,
    .sync_allowed = qsga_sync_allowed,
    .commit_check = qsga_commit_check,
    .uow_end = qsga_uow_end,
    .free = qsga_free,
};

static struct qsga *as_get(qsg_conn *c)
{
	if (c->as == NULL) {
		c->as = calloc(1, sizeof *c->as);
		c->aops = c->as != NULL ? &async_ops : NULL;
		if (c->as != NULL)
			c->as->window = DEFAULT_WINDOW;
	}
	return c->as;
}

static struct aput *q_at(struct qsga *a, size_t i)
{
	return a->q[(a->qhead + i) % a->qcap];
}

static int q_push(struct qsga *a, struct aput *p)
{
	if (a->qlen == a->qcap) {
		size_t cap = a->qcap ? a->qcap * 2 : 256;
		struct aput **n = malloc(cap * sizeof *n);
		if (n == NULL)
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		for (size_t i = 0; i < a->qlen; i++)
			n[i] = q_at(a, i);
		free(a->q);
		a->q = n;
		a->qcap = cap;
		a->qhead = 0;
	}
	p->pos = a->pushed++;
	a->q[(a->qhead + a->qlen) % a->qcap] = p;
	a->qlen++;
	return QSG_OK;
}

/* A put record with room for len bytes of body: from the pool if one is
 * big enough, else new. */
static struct aput *aput_new(struct qsga *a, size_t len)
{
	if (a->pool != NULL && a->pool->cap >= len) {
		struct aput *p = a->pool;
		a->pool = p->next_free;
		a->npool--;
		size_t cap = p->cap;
		memset(p, 0, offsetof(struct aput, data));
		p->cap = cap;
		return p;
	}
	size_t cap = len < 256 ? 256 : len;
	if (len > POOL_BODY)
		cap = len;
	struct aput *p = malloc(offsetof(struct aput, data) + cap);
	if (p == NULL)
		return NULL;
	memset(p, 0, offsetof(struct aput, data));
	p->cap = cap;
	return p;
}

static void aput_free(struct qsga *a, struct aput *p)
{
	if (a->npool >= POOL_MAX || p->cap > POOL_BODY) {
		free(p);
		return;
	}
	p->next_free = a->pool;
	a->pool = p;
	a->npool++;
}

static bool con_busy(const struct consumer *k)
{
	return k->active || k->commit_reqid != 0 || k->blen > 0 || k->pending_end;
}

static unsigned in_flight(const struct qsga *a)
{
	return a->unresolved + a->con.ngets + (a->con.commit_reqid != 0);
}

/* ---- resolving puts ---- */

static void resolve(qsg_conn *c, struct aput *p, int rc)
{
	struct qsga *a = c->as;
	p->done = true;
	p->rc = rc;
	a->unresolved--;
	if (rc == QSG_OK) {
		a->st.puts_ok++;
		if (p->sync)
			c->uow_open = true;
		return;
	}
	if (rc == QSG_RC_OUTCOME_UNKNOWN)
		a->st.puts_unknown++;
	else
		a->st.puts_failed++;
	if (a->st.first_rc == QSG_OK) {
		a->st.first_rc = rc;
		a->st.first_ctx = p->ctx;
	}
	if (a->flush_rc == QSG_OK)
		a->flush_rc = rc;
	if (p->sync)
		a->uow_failed = true;
}

/* Forget the undelivered messages (their slots keep their buffers). */
static void con_buf_clear(struct consumer *k)
{
	k->bhead = k->blen = 0;
}

static void con_buf_push(qsg_conn *c, const struct fsm_msg *m)
{
	struct consumer *k = &c->as->con;
	if (k->blen == k->bcap) {
		size_t cap = k->bcap ? k->bcap * 2 : 64;
		struct amsg *n = calloc(cap, sizeof *n);
		if (n == NULL)
			abort(); /* small, bounded by read_ahead */
		for (size_t i = 0; i < k->bcap; i++) /* every slot: they own buffers */
			n[i] = k->buf[(k->bhead + i) % k->bcap];
		free(k->buf);
		k->buf = n;
		k->bcap = cap;
		k->bhead = 0;
	}
	struct amsg *x = &k->buf[(k->bhead + k->blen) % k->bcap];
	qsg_md_init(&x->md);
	memcpy(x->md.msgid, m->msgid, FSM_ID_LEN);
	memcpy(x->md.correlid, m->correlid, FSM_ID_LEN);
	x->md.priority = m->priority;
	x->md.persistence = m->persistent;
	x->md.expiry_ms = m->expiry_ms;
	x->md.put_time_ms = m->put_time_ms;
	x->md.backout_count = m->backout_count;
	x->md.seqno = m->seqno;
	x->len = m->body.len;
	if (x->body == NULL || x->cap < m->body.len + 1) {
		free(x->body);
		x->cap = m->body.len + 1 < 256 ? 256 : m->body.len + 1;
		x->body = malloc(x->cap);
		if (x->body == NULL)
			abort();
	}
	memcpy(x->body, m->body.p, m->body.len);
	k->blen++;
}

/* A reply to an asynchronous request (from qsgi_read here, or from a
 * synchronous call's read in conn.c). resp is valid during the call. */
static void qsga_on_reply(qsg_conn *c, const struct proto_resp *resp)
{
	struct qsga *a = c->as;
	struct consumer *k = &a->con;
	a->last_progress = qsgi_now_ms();
	if (resp->op == PROTO_PUT) {
		/* Replies come in request order: try the expected one first. */
		size_t h = a->hint - a->popped;
		for (size_t j = 0; j <= a->qlen; j++) {
			size_t i = j == 0 ? h : j - 1;
			if (i >= a->qlen || (j > 0 && i == h))
				continue;
			struct aput *p = q_at(a, i);
			if (p->done || p->reqid != resp->reqid)
				continue;
			a->hint = p->pos + 1;
			if (qsgi_retryable(resp->rc) || resp->rc == QSG_RC_BUSY) {
				a->resync = true; /* HELLO's put_seq will tell */
				return;
			}
			if (resp->rc == QSG_OK)
				memcpy(p->md.msgid, resp->u.put.msgid, FSM_ID_LEN);
			resolve(c, p, resp->rc);
			return;
		}
		return;
	}
	if (resp->op == PROTO_GET) {
		for (unsigned i = 0; i < k->ngets; i++) {
			if (k->gets[i] != resp->reqid)
				continue;
			k->gets[i] = k->gets[--k->ngets];
			if (resp->rc == QSG_OK) {
				con_buf_push(c, &resp->u.get.msg);
				k->batch_msgs++;
				if (k->sync)
					c->uow_open = true;
			} else if (resp->rc == QSG_RC_NO_MSG_AVAILABLE) {
				/* the end of the queue for this batch */
			} else if (qsgi_retryable(resp->rc) || resp->rc == QSG_RC_BUSY) {
				a->resync = true;
			} else if (k->error == QSG_OK) {
				k->error = resp->rc;
				qsgi_set_reply_error(c, resp);
			}
			return;
		}
		return;
	}
	if (resp->op == PROTO_COMMIT && k->commit_reqid != 0 && resp->reqid == k->commit_reqid) {
		k->commit_reqid = 0;
		if (resp->rc != QSG_OK)
			a->resync = true; /* its messages come back: at least once */
	}
}

/* ---- the connection ---- */

/* Queue a put with the next producer seq (written by push_puts). */
static int send_put(qsg_conn *c, struct aput *p)
{
	p->seq = ++c->last_seq;
	p->req.u.put.seq = p->seq;
	int rc = qsgi_queue(c, &p->req);
	p->reqid = p->req.reqid;
	if (rc == QSG_OK && c->as->unsent++ == 0)
		c->as->first_unsent = qsgi_now_us();
	return rc;
}

/* Write everything queued (puts, GETs, COMMIT) with one send. */
static int push_puts(qsg_conn *c)
{
	struct qsga *a = c->as;
	a->unsent = 0;
	a->streaming = false;
	return qsgi_push(c); /* failure: dropped, the next pump reconnects */
}

/* After every successful HELLO: reconcile the puts with put_seq, forget
 * the consumer's GETs of the old session. */
static void qsga_attached(qsg_conn *c)
{
	struct qsga *a = c->as;
	struct consumer *k = &a->con;
	uint64_t applied = c->last_seq;
	a->resync = false;
	a->last_progress = qsgi_now_ms();
	for (size_t i = 0; i < a->qlen; i++) {
		struct aput *p = q_at(a, i);
		p->reqid = 0;
		if (p->done)
			continue;
		if (p->sync) {
			/* Its unit of work is gone with the old session. */
			resolve(c, p, QSG_RC_BACKED_OUT);
			continue;
		}
		if (p->seq != 0 && p->seq <= applied) {
			memset(p->md.msgid, 0, QSG_ID_LEN); /* the reply is lost */
			resolve(c, p, QSG_OK);
		}
	}
	a->unsent = 0;
	a->hint = a->popped;
	for (size_t i = 0; i < a->qlen && c->fd >= 0; i++) {
		struct aput *p = q_at(a, i);
		if (!p->done && send_put(c, p) != QSG_OK)
			qsgi_drop_conn(c); /* the next pump reconnects */
	}
	if (c->fd >= 0)
		(void)push_puts(c);
	k->ngets = 0;
	k->commit_reqid = 0;
	con_buf_clear(k);
	if (k->batch_open) {
		k->batch_open = false;
		if (k->sync && k->batch_msgs > 0) {
			/* Messages already delivered were backed out: say so. */
			k->await_uow_end = true;
			k->pending_end = true;
			k->end_rc = QSG_RC_BACKED_OUT;
		}
	}
}

/* Send the next batch's GETs when the consumer wants them. */
static void con_issue(qsg_conn *c)
{
	struct consumer *k = &c->as->con;
	if (!k->active || k->stopping || k->batch_open || k->await_uow_end || k->pending_end ||
	    k->error != QSG_OK || c->fd < 0)
		return;
	uint64_t n = k->read_ahead;
	if (k->max_msgs > 0 && k->max_msgs - k->total < n)
		n = k->max_msgs - k->total;
	if (n == 0)
		return;
	int64_t now = qsgi_now_ms();
	int64_t wait = WIRE_WAIT_MAX_MS;
	if (k->wait_ms >= 0) {
		wait = k->wait_ms - (now - k->idle_since);
		if (wait < 0)
			wait = 0;
		if (wait > WIRE_WAIT_MAX_MS)
			wait = WIRE_WAIT_MAX_MS;
	}
	if (in_flight(c->as) == 0)
		c->as->last_progress = now;
	k->batch_open = true;
	k->batch_msgs = 0;
	k->wire_wait = (unsigned)wait;
	for (uint64_t i = 0; i < n; i++) {
		struct proto_req req = {.op = PROTO_GET};
		strcpy(req.u.get.queue, k->queue);
		req.u.get.flags = FSM_F_SYNCPOINT;
		req.u.get.wait_ms = i == 0 ? (int32_t)wait : 0;
		if (qsgi_queue(c, &req) != QSG_OK) {
			qsgi_drop_conn(c); /* the next pump reconnects */
			return;
		}
		k->gets[k->ngets++] = req.reqid;
	}
	(void)push_puts(c); /* with the COMMIT before them */
}

/* Move every entry left to the application when no member can be reached:
 * puts that may have been applied are OUTCOME_UNKNOWN. */
static void fail_all(qsg_conn *c, int rc)
{
	struct qsga *a = c->as;
	struct consumer *k = &a->con;
	for (size_t i = 0; i < a->qlen; i++) {
		struct aput *p = q_at(a, i);
		if (!p->done)
			resolve(c, p,
				p->sync	      ? QSG_RC_BACKED_OUT
				: p->seq != 0 ? QSG_RC_OUTCOME_UNKNOWN
					      : rc);
	}
	k->ngets = 0;
	k->commit_reqid = 0;
	con_buf_clear(k);
	k->batch_open = false;
	if (k->active && k->error == QSG_OK)
		k->error = rc;
}

/* Reconnect when needed, send what is due, and process the replies that
 * arrive within timeout_ms (-1: until one arrives). Never runs callbacks.
 * Returns QSG_OK, or the failure to reach any member (then everything in
 * flight has been resolved). */
static int pump(qsg_conn *c, int timeout_ms)
{
	struct qsga *a = c->as;
	if (a->resync || c->fd < 0) {
		if (a->unresolved == 0 && !a->con.active && c->fd >= 0) {
			a->resync = false;
		} else {
			qsgi_drop_conn(c);
			int rc = qsgi_attach(c, qsgi_now_ms() + c->reconnect_ms, false);
			if (rc != QSG_OK) {
				fail_all(c, rc);
				return rc;
			}
			if (c->fd < 0) /* dropped again while re-sending */
				return QSG_OK;
		}
	}
	con_issue(c);
	if (c->out.len > 0 && push_puts(c) != QSG_OK)
		return QSG_OK; /* dropped: the next pump reconnects */
	if (in_flight(a) == 0 && timeout_ms < 0)
		return QSG_OK;
	/* A member that answers nothing in time is left (as in conn.c). */
	int t = timeout_ms;
	bool watch = in_flight(a) > 0;
	if (watch) {
		int64_t due =
		    a->last_progress + c->reply_ms + (a->con.ngets > 0 ? a->con.wire_wait : 0);
		int left = qsgi_left_ms(due);
		if (t < 0 || left < t)
			t = left;
	}
	struct proto_resp resp;
	int rc = qsgi_read(c, &resp, t);
	while (rc == QSG_OK) {
		qsga_on_reply(c, &resp);
		if (a->resync)
			return QSG_OK;
		rc = qsgi_read_next(c, &resp);
	}
	if (rc == QSG_RC_NO_MSG_AVAILABLE) {
		if (watch && in_flight(a) > 0 &&
		    qsgi_now_ms() >= a->last_progress + c->reply_ms +
					 (a->con.ngets > 0 ? a->con.wire_wait : 0)) {
			qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN,
				 "no reply from the member in time");
			qsgi_drop_conn(c);
		}
		return QSG_OK;
	}
	return QSG_OK; /* broken: dropped, the next pump reconnects */
}

/* ---- callbacks ---- */

static void con_batch_end(qsg_conn *c)
{
	struct qsga *a = c->as;
	struct consumer *k = &a->con;
	if (!k->batch_open || k->ngets > 0 || k->blen > 0)
		return;
	k->batch_open = false;
	int64_t now = qsgi_now_ms();
	if (k->batch_msgs > 0) {
		k->idle_since = now;
		if (k->sync) {
			k->await_uow_end = true;
			k->pending_end = true;
			k->end_rc = QSG_OK;
		} else if (c->fd >= 0) {
			struct proto_req req = {.op = PROTO_COMMIT};
			req.u.commit.uow = ++c->uows_done; /* HELLO corrects it after a loss */
			if (qsgi_queue(c, &req) == QSG_OK)
				k->commit_reqid = req.reqid; /* written with the next GETs */
			else
				qsgi_drop_conn(c);
		}
	} else if (k->wait_ms >= 0 && now - k->idle_since >= k->wait_ms) {
		k->idle_since = now;
		if (k->cb != NULL)
			k->cb(k->arg, c, QSG_CB_NO_MSG, QSG_RC_NO_MSG_AVAILABLE, NULL, NULL, 0);
	}
}

/* Run the callbacks that are due, in order, unless inside one already. */
static void deliver(qsg_conn *c)
{
	struct qsga *a = c->as;
	if (a == NULL || a->in_cb)
		return;
	a->in_cb = true;
	struct consumer *k = &a->con;
	for (;;) {
		if (a->qlen > 0 && q_at(a, 0)->done) {
			struct aput *p = q_at(a, 0);
			a->qhead = (a->qhead + 1) % a->qcap;
			a->qlen--;
			a->popped++;
			if (a->put_cb != NULL)
				a->put_cb(a->put_arg, p->ctx, p->rc, &p->md);
			aput_free(a, p);
			continue;
		}
		if (k->blen > 0) {
			/* The slot's buffer goes to the callback; the spare
			 * (the previous message's) takes its place. */
			struct amsg *x = &k->buf[k->bhead];
			struct amsg m = *x;
			x->body = k->spare;
			x->cap = k->spare_cap;
			k->bhead = (k->bhead + 1) % k->bcap;
			k->blen--;
			k->total++;
			a->st.msgs_delivered++;
			if (k->cb != NULL)
				k->cb(k->arg, c, QSG_CB_MSG, QSG_OK, &m.md, m.body, m.len);
			k->spare = m.body;
			k->spare_cap = m.cap;
			continue;
		}
		con_batch_end(c);
		if (k->pending_end) {
			k->pending_end = false;
			if (k->cb != NULL)
				k->cb(k->arg, c, QSG_CB_BATCH_END, k->end_rc, NULL, NULL, 0);
			continue;
		}
		if (k->active && k->error != QSG_OK && !k->batch_open) {
			k->active = false;
			if (k->cb != NULL)
				k->cb(k->arg, c, QSG_CB_ERROR, k->error, NULL, NULL, 0);
			continue;
		}
		if (k->active && !k->batch_open && !k->await_uow_end &&
		    (k->stopping || (k->max_msgs > 0 && k->total >= k->max_msgs)))
			k->active = false; /* ended; a COMMIT may still be in flight */
		break;
	}
	a->in_cb = false;
}

/* ---- API ---- */

static void lock(qsg_conn *c)
{
	pthread_mutex_lock(&c->mu);
}

static int unlock_rc(qsg_conn *c, int rc)
{
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int qsg_set_put_async(qsg_conn *c, unsigned window, qsg_put_cb cb, void *arg)
{
	if (window > MAX_WINDOW)
		return QSG_RC_INVALID;
	lock(c);
	struct qsga *a = as_get(c);
	if (a == NULL)
		return unlock_rc(c, QSG_RC_STORAGE_NOT_AVAILABLE);
	a->window = window == 0 ? DEFAULT_WINDOW : window;
	a->put_cb = cb;
	a->put_arg = arg;
	return unlock_rc(c, QSG_OK);
}

int qsg_put_async(qsg_conn *c, const char *queue, const struct qsg_md *md, const void *body,
		  size_t len, int options, void *ctx)
{
	struct qsg_md dflt;
	if (md == NULL) {
		qsg_md_init(&dflt);
		md = &dflt;
	}
	lock(c);
	struct qsga *a = as_get(c);
	if (a == NULL)
		return unlock_rc(c, QSG_RC_STORAGE_NOT_AVAILABLE);
	struct proto_req req;
	int rc = qsgi_fill_put(c, &req, queue, md, body, len, options);
	if (rc != QSG_OK)
		return unlock_rc(c, rc);
	bool sync = (options & QSG_PMO_SYNCPOINT) != 0;
	if (sync && c->uow_lost) {
		/* The unit of work broke: it stays failed until the application
		 * commits (BACKED_OUT) or backs out, so no partial unit commits. */
		c->uow_lost = false;
		c->uow_open = false;
		a->uow_failed = true;
	}
	bool large = len > FSM_CHUNK_MAX;
	struct aput *p = aput_new(a, large ? 0 : len);
	if (p == NULL)
		return unlock_rc(c, QSG_RC_STORAGE_NOT_AVAILABLE);
	p->md = *md;
	p->ctx = ctx;
	p->sync = sync;
	if (large) {
		/* A large message goes in parts, synchronously, in its turn. */
		a->unresolved++;
		rc = qsg_put(c, queue, &p->md, body, len, options);
		if (q_push(a, p) != QSG_OK) {
			a->unresolved--;
			aput_free(a, p);
			return unlock_rc(c, QSG_RC_STORAGE_NOT_AVAILABLE);
		}
		resolve(c, p, rc);
		deliver(c);
		return unlock_rc(c, QSG_OK);
	}
	if (len > 0)
		memcpy(p->data, body, len);
	p->req = req;
	p->req.u.put.msg.body.p = p->data;
	/* Room in the window: answers are processed (callbacks run below). */
	while (a->unresolved >= a->window) {
		rc = pump(c, -1); /* writes the queued puts first */
		a->streaming = true;
		if (rc != QSG_OK)
			break;
	}
	if (q_push(a, p) != QSG_OK) {
		aput_free(a, p);
		return unlock_rc(c, QSG_RC_STORAGE_NOT_AVAILABLE);
	}
	if (in_flight(a) == 0)
		a->last_progress = qsgi_now_ms();
	a->unresolved++;
	if (c->fd >= 0 && !a->resync) {
		if (send_put(c, p) != QSG_OK)
			qsgi_drop_conn(c); /* re-sent after the reconnect */
		/* Coalesce (docs/client.md): a put waits to be written with
		 * the next ones until the window is full, PUSH_BYTES are
		 * queued or the oldest waited PUSH_US, unless nothing is on
		 * the wire (no reply would bring the caller back) and the
		 * caller is not streaming (it waited for room since the last
		 * write, so it makes puts as fast as replies free the window). */
		bool full = a->unresolved >= a->window;
		bool idle = a->unresolved == a->unsent && !a->streaming;
		if (c->fd >= 0 && (idle || full || c->out.len >= PUSH_BYTES ||
				   qsgi_now_us() - a->first_unsent >= PUSH_US)) {
			(void)push_puts(c);
			/* The replies already there (a full window waits for
			 * them in the next call anyway). */
			if (!idle && !full && !a->in_cb)
				(void)pump(c, 0);
		}
	} else {
		(void)pump(c, 0);
	}
	deliver(c);
	return unlock_rc(c, QSG_OK);
}

/* Wait until no asynchronous put is in flight. */
static int qsga_quiesce(qsg_conn *c)
{
	struct qsga *a = c->as;
	if (a == NULL)
		return QSG_OK;
	int rc = QSG_OK;
	while (a->unresolved > 0 && rc == QSG_OK)
		rc = pump(c, -1);
	deliver(c); /* their callbacks, unless inside one */
	return rc;
}

int qsg_flush(qsg_conn *c)
{
	lock(c);
	struct qsga *a = c->as;
	if (a == NULL)
		return unlock_rc(c, QSG_OK);
	int rc = qsga_quiesce(c);
	deliver(c);
	return unlock_rc(c, a->flush_rc != QSG_OK ? a->flush_rc : rc);
}

int qsg_stat(qsg_conn *c, struct qsg_stat *st)
{
	lock(c);
	struct qsga *a = c->as;
	memset(st, 0, sizeof *st);
	if (a == NULL)
		return unlock_rc(c, QSG_OK);
	if (in_flight(a) > 0 || a->resync || a->con.active)
		(void)pump(c, 0);
	deliver(c);
	*st = a->st;
	st->puts_in_flight = a->unresolved;
	memset(&a->st, 0, sizeof a->st);
	a->flush_rc = QSG_OK;
	return unlock_rc(c, QSG_OK);
}

static int qsga_sync_allowed(qsg_conn *c)
{
	struct qsga *a = c->as;
	if (a != NULL && a->con.active && !a->con.sync)
		return qsg_errf(c->err, QSG_RC_OPTIONS_ERROR,
				"a consumer outside syncpoint uses this connection's unit of work: "
				"use another connection for syncpoint work");
	return QSG_OK;
}

/* Before a commit: puts answered, the consumer's batch complete. */
static int qsga_commit_check(qsg_conn *c, bool *backout)
{
	struct qsga *a = c->as;
	*backout = false;
	if (a == NULL)
		return QSG_OK;
	int rc = qsga_sync_allowed(c);
	if (rc == QSG_OK)
		rc = qsga_quiesce(c);
	struct consumer *k = &a->con;
	while (rc == QSG_OK && k->sync && k->ngets > 0)
		rc = pump(c, -1);
	if (rc != QSG_OK)
		return rc;
	if (k->sync && k->blen > 0)
		return qsg_errf(c->err, QSG_RC_INVALID,
				"the consumer has read-ahead messages not yet delivered: commit at "
				"QSG_CB_BATCH_END (or when the callback has had them)");
	if (a->uow_failed) {
		*backout = true;
		qsg_errf(c->err, QSG_RC_BACKED_OUT,
			 "an asynchronous syncpoint put of the unit of work failed: it was backed "
			 "out");
	}
	return QSG_OK;
}

/* A commit or backout ends the unit of work (and a syncpoint consumer's
 * batch: messages read ahead but not delivered are backed out with it). */
static void qsga_uow_end(qsg_conn *c)
{
	struct qsga *a = c->as;
	if (a == NULL)
		return;
	a->uow_failed = false;
	struct consumer *k = &a->con;
	if (!k->sync)
		return;
	while (k->ngets > 0 && pump(c, -1) == QSG_OK)
		;
	con_buf_clear(k);
	k->batch_open = false;
	k->await_uow_end = false;
	k->pending_end = false;
}

int qsg_consume(qsg_conn *c, const char *queue, const struct qsg_consume_opts *o, qsg_msg_cb cb,
		void *arg)
{
	size_t n = queue ? strnlen(queue, FSM_NAME_MAX + 1) : 0;
	if (n == 0 || n > FSM_NAME_MAX || cb == NULL)
		return QSG_RC_INVALID;
	struct qsg_consume_opts dflt = {0};
	if (o == NULL)
		o = &dflt;
	if ((o->options & ~QSG_GMO_SYNCPOINT) != 0)
		return QSG_RC_OPTIONS_ERROR;
	if (o->read_ahead > MAX_READ_AHEAD || o->wait_ms < QSG_WAIT_FOREVER)
		return QSG_RC_INVALID;
	lock(c);
	struct qsga *a = as_get(c);
	if (a == NULL)
		return unlock_rc(c, QSG_RC_STORAGE_NOT_AVAILABLE);
	struct consumer *k = &a->con;
	if (con_busy(k))
		return unlock_rc(c, qsg_errf(c->err, QSG_RC_OBJECT_IN_USE,
					     "the connection has a consumer already"));
	bool sync = (o->options & QSG_GMO_SYNCPOINT) != 0;
	if (!sync && (c->uow_open || c->uow_lost))
		return unlock_rc(c, qsg_errf(c->err, QSG_RC_OPTIONS_ERROR,
					     "commit or back out the unit of work first"));
	unsigned ra = o->read_ahead == 0 ? DEFAULT_READ_AHEAD : o->read_ahead;
	uint32_t *gets = realloc(k->gets, ra * sizeof *gets);
	if (gets == NULL)
		return unlock_rc(c, QSG_RC_STORAGE_NOT_AVAILABLE);
	k->gets = gets;
	strcpy(k->queue, queue);
	k->sync = sync;
	k->read_ahead = ra;
	k->wait_ms = o->wait_ms;
	k->max_msgs = o->max_msgs;
	k->total = 0;
	k->cb = cb;
	k->arg = arg;
	k->error = QSG_OK;
	k->stopping = false;
	k->await_uow_end = false;
	k->idle_since = qsgi_now_ms();
	k->active = true;
	return unlock_rc(c, QSG_OK);
}

int qsg_consume_stop(qsg_conn *c)
{
	lock(c);
	if (c->as != NULL)
		c->as->con.stopping = true;
	return unlock_rc(c, QSG_OK);
}

int qsg_dispatch(qsg_conn *c, int timeout_ms)
{
	lock(c);
	struct qsga *a = as_get(c);
	if (a == NULL)
		return unlock_rc(c, QSG_RC_STORAGE_NOT_AVAILABLE);
	int64_t deadline = timeout_ms < 0 ? -1 : qsgi_now_ms() + timeout_ms;
	int rc = QSG_OK;
	for (;;) {
		deliver(c);
		bool work = a->qlen > 0 || con_busy(&a->con);
		if (!work || a->in_cb)
			break;
		int left = qsgi_left_ms(deadline);
		/* Idle (syncpoint consumer waiting for the commit): sleep. */
		if (in_flight(a) == 0 && !a->resync && c->fd >= 0 &&
		    (a->con.await_uow_end || !a->con.active)) {
			if (a->qlen == 0 && a->con.blen == 0 && !a->con.pending_end)
				break;
		}
		rc = pump(c, left);
		deliver(c);
		if (rc != QSG_OK || left == 0)
			break;
	}
	return unlock_rc(c, rc);
}

int qsg_fd(qsg_conn *c)
{
	lock(c);
	if (c->as != NULL && c->fd >= 0 && c->out.len > 0)
		(void)push_puts(c); /* what it holds back: the replies wake the poller */
	int fd = c->fd;
	return unlock_rc(c, fd);
}

static void qsga_free(qsg_conn *c)
{
	struct qsga *a = c->as;
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->qlen; i++)
		free(q_at(a, i));
	while (a->pool != NULL) {
		struct aput *p = a->pool;
		a->pool = p->next_free;
		free(p);
	}
	free(a->q);
	for (size_t i = 0; i < a->con.bcap; i++)
		free(a->con.buf[i].body);
	free(a->con.spare);
	free(a->con.buf);
	free(a->con.gets);
	free(a);
	c->as = NULL;
	c->aops = NULL;
}
