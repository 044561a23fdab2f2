/* The AMQP 1.0 gateway of a member (amqpgw.h). */
#include "amqpgw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqplisten.h"
#include "fsm/fsm.h"
#include "fsm/fsm_chan.h"
#include "gw/gwprops.h"
#include "gw/gwsess.h"
#include "proto/proto.h"
#include "qsgd/config.h"
#include "qsgd/daemon.h"
#include "qsgd/log.h"
#include "qsgd/tlsstream.h"

struct amqpgw {
	struct qsgd *d;
	struct amqplisten *l;
	struct agconn *conns;
	bool closing; /* freed when the last connection is gone */
};

struct agslot;

/* One AMQP connection's state. */
struct agconn {
	struct agconn *next, *prev;
	struct amqpgw *gw;
	struct amqpconn *c;
	char user[256];
	char password[256];
	size_t pwlen;
	bool creds;
	struct gwsess *main; /* puts, the transaction */
	uint64_t auth_req; /* the PLAIN check in flight (0 none) */
	bool main_ready;
	uint64_t txn; /* the open transaction (0 none) */
	unsigned tx_puts_failed;
	struct agslot *slots;
	unsigned nslots;
	uint64_t next_lock;
	uint64_t next_seq;
	bool dead; /* the gateway closed: its sessions are gone */
	struct agreq *reqs; /* of the connection session, in flight */
};

/* One message a receiving link may hold: a session of its own. */
struct agslot {
	struct agslot *next, *prev;
	struct agconn *ac;
	struct gwsess *gs;
	uint64_t req; /* the get in flight, 0 none */
	char queue[FSM_NAME_MAX + 1];
	bool settled_mode, wait;
	bool getting; /* its GET is in flight */
	bool queued; /* waits for the GET of another slot of the same queue */
	uint64_t seq; /* order of the gets */
	uint64_t lock; /* a message held, 0 none */
	uint64_t settle_req;
	enum amqp_act act;
	uint64_t txn; /* consumed when this transaction commits */
	struct fsm_msg held; /* for the dead-letter queue */
	uint8_t *held_buf;
	char reason[256]; /* rejected's error, for the dead-letter message */
	uint8_t *dlq_props; /* the dead-letter message's properties (or NULL) */
	struct qsg_wbuf dlq_w; /* ... when in the gateway format */
};

static void main_lost(void *arg, int rc, const char *text)
{
	struct agconn *ac = arg;
	if (ac->auth_req) {
		uint64_t req = ac->auth_req;
		ac->auth_req = 0;
		amqpconn_auth_done(ac->c, req, rc, NULL);
		return;
	}
	amqpconn_close(ac->c, amqp_rc_condition(rc), text ? text : qsg_rc_text(rc));
}

static void main_ready(void *arg, const struct proto_resp *resp)
{
	struct agconn *ac = arg;
	ac->main_ready = resp->rc == QSG_OK;
	if (ac->auth_req) {
		uint64_t req = ac->auth_req;
		ac->auth_req = 0;
		amqpconn_auth_done(ac->c, req, resp->rc, ac->user);
	}
}

static struct gwsess *sess_open(struct agconn *ac, gwsess_lost_cb lost, void *arg, gwsess_cb ready,
				void *ready_arg)
{
	struct gwsess_peer p = {
	    .peer = amqpconn_peer(ac->c), /* host:port, as CHLAUTH reads it */
	    .app = "amqp",
	    .user = ac->creds ? ac->user : NULL,
	    .password = ac->creds ? ac->password : NULL,
	    /* EXTERNAL (no user): auth.c takes the certificate's CN */
	    .cert_cn = amqpconn_cert_cn(ac->c),
	    .cert_dn = amqpconn_cert_dn(ac->c),
	    .tls = amqpconn_tls(ac->c),
	    /* A slot session takes the identity of the connection session
	     * once its HELLO passed: no second password check. */
	    .same_client = ac->main_ready ? ac->main : NULL,
	};
	struct qsgd *d = ac->gw->d;
	return gwsess_open(d->server, d->loop, &p, lost, arg, ready, ready_arg);
}

/* The connection's session, opened at first use (ANONYMOUS). */
static struct gwsess *main_sess(struct agconn *ac)
{
	if (!ac->main && !ac->dead)
		ac->main = sess_open(ac, main_lost, ac, main_ready, ac);
	return ac->main;
}

static void be_auth(void *be, struct amqpconn *c, uint64_t req, const char *mech, const char *user,
		    const char *pw, size_t pwlen)
{
	struct agconn *ac = be;
	(void)c;
	bool external = strcmp(mech, "EXTERNAL") == 0;
	if (ac->main ||
	    (!external && (strcmp(mech, "PLAIN") != 0 || !pw || pwlen >= sizeof ac->password))) {
		amqpconn_auth_done(ac->c, req, QSG_RC_NOT_AUTHORIZED, NULL);
		return;
	}
	/* The connection session's HELLO is the check: PLAIN with the user
	 * and password; EXTERNAL without a user, so that auth.c names the
	 * user by the verified certificate's CN (as for a libqsg client). */
	snprintf(ac->user, sizeof ac->user, "%s", user);
	if (!external) {
		memcpy(ac->password, pw, pwlen);
		ac->password[pwlen] = 0;
		ac->pwlen = pwlen;
		ac->creds = true;
	}
	ac->auth_req = req;
	if (!main_sess(ac)) {
		ac->auth_req = 0;
		amqpconn_auth_done(ac->c, req, QSG_RC_STORAGE_NOT_AVAILABLE, NULL);
	}
}

/* --- puts and the transaction ------------------------------------------ */

/* A request of the connection session in flight (a put, a discharge):
 * freed by its answer, or with the sessions (gwsess_close answers
 * nothing). */
struct agreq {
	struct agreq *next, *prev;
	struct agconn *ac;
	uint64_t req, txn;
	bool in_txn; /* a transactional put */
	bool commit; /* a discharge asked to commit */
	bool failed_puts; /* ... after a refused transactional put */
};

static struct agreq *req_new(struct agconn *ac, uint64_t req)
{
	struct agreq *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->ac = ac;
	r->req = req;
	r->next = ac->reqs;
	if (ac->reqs)
		ac->reqs->prev = r;
	ac->reqs = r;
	return r;
}

static void req_free(struct agreq *r)
{
	struct agconn *ac = r->ac;
	if (r->prev)
		r->prev->next = r->next;
	else
		ac->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r);
}

static void put_done(void *arg, const struct proto_resp *resp)
{
	struct agreq *p = arg;
	struct agconn *ac = p->ac;
	uint64_t req = p->req;
	char text[256];
	snprintf(text, sizeof text, "%.*s", (int)resp->text.len, (const char *)resp->text.p);
	if (resp->rc != QSG_OK && p->in_txn)
		ac->tx_puts_failed++;
	req_free(p);
	amqpconn_put_done(ac->c, req, resp->rc, text[0] ? text : NULL);
}

static void be_put(void *be, struct amqpconn *c, uint64_t req, const char *queue, const char *link,
		   uint64_t txn, const struct amqp_in *msg)
{
	struct agconn *ac = be;
	(void)link;
	struct gwsess *g = main_sess(ac);
	struct agreq *p = g ? req_new(ac, req) : NULL;
	if (!p) {
		amqpconn_put_done(c, req, QSG_RC_STORAGE_NOT_AVAILABLE, NULL);
		return;
	}
	p->in_txn = txn != 0;
	uint32_t flags = msg->m.persistent ? FSM_F_PERSISTENT : 0;
	if (!msg->has_msgid)
		flags |= FSM_F_GEN_MSGID;
	if (txn)
		flags |= FSM_F_SYNCPOINT;
	gwsess_put(g, queue, flags, &msg->m, put_done, p);
}

/* --- slots: gets and outcomes --------------------------------------------- */

static void next_get(struct agconn *ac, const char *queue);

static void slot_free(struct agslot *s)
{
	struct agconn *ac = s->ac;
	if (s->getting) {
		s->getting = false;
		s->queued = false;
		s->req = 0;
		if (s->gs)
			gwsess_close(s->gs);
		s->gs = NULL;
		next_get(ac, s->queue);
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		ac->slots = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ac->nslots--;
	if (s->gs)
		gwsess_close(s->gs);
	free(s->held_buf);
	free(s->dlq_props);
	qsg_wbuf_close(&s->dlq_w);
	free(s);
}

static void slot_lost(void *arg, int rc, const char *text)
{
	struct agslot *s = arg;
	(void)text;
	struct agconn *ac = s->ac;
	uint64_t req = s->req, sreq = s->settle_req;
	struct amqpconn *c = ac->c;
	slot_free(s);
	if (req)
		amqpconn_get_done(c, req, rc, NULL, 0);
	if (sreq)
		amqpconn_settle_done(c, sreq, rc);
}

static void slot_get(struct agslot *s);

#define AMQPGW_MAX_PAIRS 64

/* A message with named properties in the gateway format (put through
 * STOMP) goes out with them as application-properties; any other as it
 * is (amqp_msg_to_wire). */
static void deliver(struct amqpconn *c, uint64_t req, const struct fsm_msg *m, uint64_t lock)
{
	struct amqp_prop pairs[AMQPGW_MAX_PAIRS];
	size_t n = 0, pos = 0;
	struct qsg_slice name, value;
	int r = 0;
	if (m->props.len > 0 && m->props.p[0] == GWPROPS_VERSION) {
		while (n < AMQPGW_MAX_PAIRS &&
		       (r = gwprops_next(m->props.p, m->props.len, &pos, &name, &value)) == 1)
			pairs[n++] = (struct amqp_prop){name, value};
	}
	uint8_t *props = NULL;
	size_t plen = 0;
	if (n > 0 && r >= 0 && amqp_props_from_pairs(m, pairs, n, &props, &plen) == QSG_OK) {
		struct fsm_msg m2 = *m;
		m2.props = (struct qsg_slice){props, plen};
		amqpconn_get_done(c, req, QSG_OK, &m2, lock);
		free(props);
		return;
	}
	amqpconn_get_done(c, req, QSG_OK, m, lock);
}

static void get_done(void *arg, const struct proto_resp *resp)
{
	struct agslot *s = arg;
	struct amqpconn *c = s->ac->c;
	uint64_t req = s->req;
	if (!req)
		return;
	if (resp->rc == QSG_RC_NO_MSG_AVAILABLE && s->wait) {
		slot_get(s); /* waited AMQPGW_WAIT_MS: again */
		return;
	}
	s->req = 0;
	s->getting = false;
	next_get(s->ac, s->queue);
	if (resp->rc != QSG_OK) {
		slot_free(s);
		amqpconn_get_done(c, req, resp->rc, NULL, 0);
		return;
	}
	const struct fsm_msg *m = &resp->u.get.msg;
	if (s->settled_mode) {
		/* At most once: consumed as it goes out. */
		deliver(c, req, m, 0);
		gwsess_commit(s->gs, NULL, NULL);
		slot_free(s);
		return;
	}
	s->held_buf = malloc(m->props.len + m->body.len + 1);
	if (s->held_buf) {
		s->held = *m;
		memcpy(s->held_buf, m->props.p, m->props.len);
		memcpy(s->held_buf + m->props.len, m->body.p, m->body.len);
		s->held.props = (struct qsg_slice){s->held_buf, m->props.len};
		s->held.body = (struct qsg_slice){s->held_buf + m->props.len, m->body.len};
	}
	s->lock = ++s->ac->next_lock;
	deliver(c, req, m, s->lock);
}

/* One GET at a time per queue and connection, so that messages go out in
 * the queue's order (as STOMP's subscriptions). */
static void slot_get(struct agslot *s)
{
	if (!s->getting) {
		for (struct agslot *o = s->ac->slots; o; o = o->next)
			if (o != s && o->getting && strcmp(o->queue, s->queue) == 0) {
				s->queued = true;
				return;
			}
	}
	s->queued = false;
	s->getting = true;
	gwsess_get(s->gs, s->queue, FSM_F_SYNCPOINT, s->wait ? AMQPGW_WAIT_MS : 0, get_done, s);
}

static void next_get(struct agconn *ac, const char *queue)
{
	struct agslot *first = NULL;
	for (struct agslot *o = ac->slots; o; o = o->next)
		if (o->queued && strcmp(o->queue, queue) == 0 && (!first || o->seq < first->seq))
			first = o;
	if (first)
		slot_get(first);
}

static void be_get(void *be, struct amqpconn *c, uint64_t req, const char *queue, bool settled,
		   bool wait)
{
	struct agconn *ac = be;
	struct agslot *s = NULL;
	if (ac->nslots < AMQPGW_MAX_SLOTS && !ac->dead)
		s = calloc(1, sizeof *s);
	if (!s) {
		amqpconn_get_done(c, req, QSG_RC_BUSY, NULL, 0);
		return;
	}
	s->ac = ac;
	qsg_wbuf_init(&s->dlq_w);
	s->req = req;
	s->settled_mode = settled;
	s->wait = wait;
	s->seq = ++ac->next_seq;
	snprintf(s->queue, sizeof s->queue, "%s", queue);
	s->next = ac->slots;
	if (ac->slots)
		ac->slots->prev = s;
	ac->slots = s;
	ac->nslots++;
	s->gs = sess_open(ac, slot_lost, s, NULL, NULL);
	if (!s->gs) {
		slot_free(s);
		amqpconn_get_done(c, req, QSG_RC_STORAGE_NOT_AVAILABLE, NULL, 0);
		return;
	}
	slot_get(s);
}

static void be_get_cancel(void *be, struct amqpconn *c, uint64_t req)
{
	struct agconn *ac = be;
	(void)c;
	for (struct agslot *s = ac->slots; s; s = s->next)
		if (s->req == req) {
			slot_free(s); /* detached: a message it locked goes back */
			return;
		}
}

static void settle_done(void *arg, const struct proto_resp *resp)
{
	struct agslot *s = arg;
	struct amqpconn *c = s->ac->c;
	uint64_t sreq = s->settle_req;
	s->settle_req = 0;
	slot_free(s);
	if (sreq)
		amqpconn_settle_done(c, sreq, resp->rc);
}

static void dlq_put_done(void *arg, const struct proto_resp *resp)
{
	struct agslot *s = arg;
	if (resp->rc != QSG_OK) {
		/* No dead-letter queue, or it refused: the message goes back. */
		gwsess_backout(s->gs, settle_done, s);
		return;
	}
	gwsess_commit(s->gs, settle_done, s);
}

/* The dead-letter reason on the message (docs/protocols.md "Dead-letter
 * reason"), in its own properties format: a message put through AMQP gets
 * message-annotations (amqp_props_dlq); one with gateway properties
 * (STOMP) or none gets the named properties qsg-dlq-reason, qsg-dlq-text,
 * qsg-dlq-queue (replacing earlier ones); a libqsg application's own
 * properties area is left as it is. On any failure the message goes as
 * it was. */
static void dlq_reason(struct agslot *s, struct fsm_msg *m)
{
	const struct qsg_slice p = s->held.props;
	char code[16];
	snprintf(code, sizeof code, "%d", AMQP_DLQ_REASON_REJECTED);
	if (p.len >= AMQP_PROPS_HDR && memcmp(p.p, AMQP_PROPS_MAGIC, 4) == 0) {
		size_t n = 0;
		if (amqp_props_dlq(p.p, p.len, AMQP_DLQ_REASON_REJECTED, s->reason, s->queue,
				   &s->dlq_props, &n) == QSG_OK)
			m->props = (struct qsg_slice){s->dlq_props, n};
		return;
	}
	if (p.len > 0 && p.p[0] != GWPROPS_VERSION)
		return; /* opaque (libqsg) */
	static const char *names[] = {"qsg-dlq-reason", "qsg-dlq-text", "qsg-dlq-queue"};
	const char *values[] = {code, s->reason, s->queue};
	struct qsg_wbuf *w = &s->dlq_w; /* initialised with the slot */
	gwprops_begin(w);
	for (size_t i = 0; i < 3; i++)
		gwprops_add(w, names[i], strlen(names[i]), values[i], strlen(values[i]));
	size_t pos = 0;
	struct qsg_slice name, value;
	int r = 0;
	while (p.len > 0 && (r = gwprops_next(p.p, p.len, &pos, &name, &value)) == 1) {
		bool ours = false;
		for (size_t i = 0; i < 3; i++)
			ours |=
			    name.len == strlen(names[i]) && memcmp(name.p, names[i], name.len) == 0;
		if (!ours)
			gwprops_add(w, (const char *)name.p, name.len, value.p, value.len);
	}
	if (r >= 0 && w->err == QSG_OK && w->len <= FSM_MAX_PROPS)
		m->props = (struct qsg_slice){w->data, w->len};
}

static void slot_settle(struct agslot *s, enum amqp_act act)
{
	if (act == AMQP_ACT_CONSUME) {
		gwsess_commit(s->gs, settle_done, s);
	} else if (act == AMQP_ACT_DEADLETTER) {
		struct fsm_qmgr_attrs qm;
		memset(&qm, 0, sizeof qm);
		fsm_qmgr_get(s->ac->gw->d->fsm, &qm);
		if (qm.deadq[0] == '\0' || !s->held_buf) {
			gwsess_backout(s->gs, settle_done, s);
			return;
		}
		struct fsm_msg m = s->held;
		dlq_reason(s, &m);
		gwsess_put(s->gs, qm.deadq,
			   FSM_F_SYNCPOINT | (s->held.persistent ? FSM_F_PERSISTENT : 0), &m,
			   dlq_put_done, s);
	} else if (act == AMQP_ACT_RELEASE) {
		/* released, modified without delivery-failed: back, its
		 * BackoutCount unchanged (FSM_OP_BACKOUT_UNCOUNTED). */
		gwsess_release(s->gs, settle_done, s);
	} else {
		/* modified(delivery-failed): BackoutCount + 1, BOTHRESH/BOQNAME */
		gwsess_backout(s->gs, settle_done, s);
	}
}

static void be_settle(void *be, struct amqpconn *c, uint64_t req, uint64_t lock, enum amqp_act act,
		      uint64_t txn, const char *reason)
{
	struct agconn *ac = be;
	struct agslot *s = ac->slots;
	while (s && s->lock != lock)
		s = s->next;
	if (!s || s->settle_req) {
		amqpconn_settle_done(c, req, QSG_RC_NO_MSG_AVAILABLE);
		return;
	}
	s->settle_req = req;
	snprintf(s->reason, sizeof s->reason, "%s", reason && *reason ? reason : "rejected");
	if (txn && act == AMQP_ACT_CONSUME) {
		s->txn = txn; /* at discharge */
		s->act = act;
		return;
	}
	slot_settle(s, act);
}

/* --- transactions ------------------------------------------------------------ */

/* The slots settled in the transaction: consumed (commit) or back. */
static void tx_slots(struct agconn *ac, uint64_t txn, bool commit)
{
	for (struct agslot *s = ac->slots, *n; s; s = n) {
		n = s->next;
		if (s->txn != txn)
			continue;
		s->txn = 0;
		slot_settle(s, commit ? AMQP_ACT_CONSUME : AMQP_ACT_BACKOUT);
	}
}

static void tx_done(void *arg, const struct proto_resp *resp)
{
	struct agreq *t = arg;
	struct agconn *ac = t->ac;
	uint64_t req = t->req, txn = t->txn;
	int rc = resp->rc;
	if (rc == QSG_OK && t->commit && t->failed_puts)
		rc = QSG_RC_BACKED_OUT;
	tx_slots(ac, txn, t->commit && rc == QSG_OK);
	req_free(t);
	ac->txn = 0;
	ac->tx_puts_failed = 0;
	char text[256];
	snprintf(text, sizeof text, "%.*s", (int)resp->text.len, (const char *)resp->text.p);
	amqpconn_txn_done(ac->c, req, rc, txn, text[0] ? text : NULL);
}

static void be_txn(void *be, struct amqpconn *c, uint64_t req, enum amqp_txn_op op, uint64_t txn)
{
	struct agconn *ac = be;
	struct gwsess *g = main_sess(ac);
	if (op == AMQP_TXN_DECLARE) {
		/* The connection session's unit of work. */
		ac->txn = ++ac->next_lock;
		ac->tx_puts_failed = 0;
		amqpconn_txn_done(c, req, g ? QSG_OK : QSG_RC_STORAGE_NOT_AVAILABLE, ac->txn, NULL);
		return;
	}
	struct agreq *t = g ? req_new(ac, req) : NULL;
	if (!t) {
		amqpconn_txn_done(c, req, QSG_RC_STORAGE_NOT_AVAILABLE, txn, NULL);
		return;
	}
	t->txn = txn;
	t->commit = op == AMQP_TXN_COMMIT;
	t->failed_puts = ac->tx_puts_failed != 0;
	if (t->commit && !t->failed_puts)
		gwsess_commit(g, tx_done, t);
	else
		gwsess_backout(g, tx_done, t);
}

/* --- connections ----------------------------------------------------------------- */

/* Close the connection's sessions (detached: its transaction is backed
 * out, the messages its slots hold go back). */
static void drop_sessions(struct agconn *ac)
{
	while (ac->slots)
		slot_free(ac->slots);
	if (ac->main)
		gwsess_close(ac->main);
	ac->main = NULL;
	while (ac->reqs)
		req_free(ac->reqs);
	memset(ac->password, 0, sizeof ac->password);
}

static void be_closed(void *be, struct amqpconn *c)
{
	struct agconn *ac = be;
	(void)c;
	drop_sessions(ac);
	struct amqpgw *gw = ac->gw;
	if (ac->prev)
		ac->prev->next = ac->next;
	else
		gw->conns = ac->next;
	if (ac->next)
		ac->next->prev = ac->prev;
	free(ac);
	if (gw->closing && !gw->conns)
		free(gw);
}

static void *be_open(void *be, struct amqpconn *c)
{
	struct amqpgw *gw = be;
	struct agconn *ac = calloc(1, sizeof *ac);
	if (!ac)
		return NULL;
	ac->gw = gw;
	ac->c = c;
	ac->next = gw->conns;
	if (gw->conns)
		gw->conns->prev = ac;
	gw->conns = ac;
	return ac;
}

static const struct amqp_be_ops gw_ops = {
    .auth = be_auth,
    .put = be_put,
    .get = be_get,
    .get_cancel = be_get_cancel,
    .settle = be_settle,
    .txn = be_txn,
    .closed = be_closed,
    .open = be_open,
};

static void gw_log(void *arg, const char *peer, const char *text)
{
	struct amqpgw *gw = arg;
	QLOG_WARNING(gw->d->log, "QSG9201W", "AMQP connection %s: %s", peer, text);
}

int amqpgw_init(struct amqpgw **out, struct qsgd *d, char *errmsg)
{
	struct amqpgw *gw = calloc(1, sizeof *gw);
	if (!gw)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	gw->d = d;
	struct amqpconn_cfg cfg = {
	    .anonymous = d->cfg->auth_mode == QSGD_AUTH_NONE,
	    .require_auth = d->cfg->auth_mode != QSGD_AUTH_NONE,
	    /* as a HELLO (auth.c): credentials only over TLS when required */
	    .plain_needs_tls = d->cfg->auth_mode == QSGD_AUTH_REQUIRED,
	    .idle_ms = d->cfg->amqp_idle_ms,
	    .credit = 64,
	    .max_message = FSM_MAX_MSGL,
	    .container_id = d->cfg->name,
	};
	/* TLS as the client listener: the member's [tls] (tlsstream.h). */
	int rc = amqplisten_start(&gw->l, d->loop, d->cfg->amqp, &cfg, d->tls, &gw_ops, gw, errmsg);
	if (rc != QSG_OK) {
		free(gw);
		return rc;
	}
	amqplisten_set_log(gw->l, gw_log, gw);
	QLOG_INFO_(d->log, "QSG9200I", "AMQP 1.0 listener on %s%s", d->cfg->amqp,
		   d->tls != NULL ? (d->tls->optional ? " (TLS or plaintext)" : " (TLS)") : "");
	*out = gw;
	return QSG_OK;
}

void amqpgw_close(struct amqpgw *gw)
{
	if (!gw)
		return;
	/* The sessions go now, before the client listener closes; the AMQP
	 * connections close after (their closed() frees them, the last one
	 * the gateway). */
	gw->closing = true;
	for (struct agconn *ac = gw->conns; ac; ac = ac->next) {
		ac->dead = true;
		ac->auth_req = 0;
		drop_sessions(ac);
	}
	amqplisten_stop(gw->l);
	if (!gw->conns)
		free(gw);
}
