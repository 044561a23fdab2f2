/* One AMQP 1.0 connection on proton's connection driver (amqpconn.h). */
#include "amqpconn.h"

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/logger.h>
#include <proton/object.h>
#include <proton/sasl.h>
#include <proton/sasl_plugin.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/qsg_err.h"

#define AMQP_DEFAULT_FRAME (64u * 1024)

enum op_kind { OP_AUTH = 1, OP_PUT, OP_GET, OP_OUT, OP_SETTLE, OP_CTRL };

struct alink {
	struct alink *next;
	pn_link_t *link; /* NULL once the link is final */
	char queue[FSM_NAME_MAX + 1];
	char name[128];
	bool coordinator;
	bool settled_mode; /* sender link of ours with snd-settle-mode settled */
	unsigned gets; /* gets in flight */
	unsigned puts; /* puts in flight */
	unsigned refs; /* ops that point here */
	bool open;
	bool pulling, repull; /* link_pull is running; run it again */
};

struct aop {
	struct aop *next, *prev;
	uint64_t id;
	enum op_kind kind;
	struct alink *l;
	pn_delivery_t *dlv; /* incref'd */
	bool wait; /* OP_GET: a waiting get */
	bool settled_remote; /* OP_PUT: the peer pre-settled */
	uint64_t txn; /* OP_PUT/OP_SETTLE: the transaction; OP_CTRL: discharged */
	uint64_t lock; /* OP_OUT: the message's lock */
	uint64_t outcome; /* OP_SETTLE: the peer's outcome */
	enum amqp_txn_op ctrl; /* OP_CTRL */
	bool busy; /* OP_OUT: its settle is in flight */
	struct amqp_in msg; /* OP_PUT */
};

struct amqpconn {
	pn_connection_driver_t drv;
	struct amqpconn_cfg cfg;
	char container_id[FSM_NAME_MAX + 1];
	const struct amqp_be_ops *be_ops;
	void *be;
	const struct amqpconn_io *io;
	void *ioctx;
	char peer[64];
	char user[FSM_NAME_MAX + 1];
	char remote_container[128];
	uint64_t next_id;
	struct aop *ops; /* everything in flight or unsettled */
	unsigned nops;
	struct alink *links;
	unsigned nlinks; /* open */
	uint64_t txn; /* the open transaction, 0: none */
	bool auth_pending, auth_done, closed_be, io_closed, in_pump;
	bool kill_read; /* close the read side once proton returns */
	bool tls; /* over TLS (amqpconn_set_tls) */
	char cert_cn[256]; /* the verified client certificate's CN (auth.c checks it) */
	char cert_dn[256];
	char mechs[32];
	/* Input that came after a SASL init while its check runs (a client
	 * may send its AMQP header at once): fed once the outcome is out. */
	uint8_t *stash;
	size_t nstash;
	bool stash_eof;
	pnx_sasl_implementation sasl;
};

/* --- ops --------------------------------------------------------------- */

static struct aop *op_new(struct amqpconn *c, enum op_kind kind, struct alink *l,
			  pn_delivery_t *dlv)
{
	struct aop *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	o->id = ++c->next_id;
	o->kind = kind;
	o->l = l;
	if (l)
		l->refs++;
	if (dlv) {
		o->dlv = dlv;
		pn_incref(dlv);
	}
	o->next = c->ops;
	if (c->ops)
		c->ops->prev = o;
	c->ops = o;
	c->nops++;
	return o;
}

static struct aop *op_find(struct amqpconn *c, uint64_t id, enum op_kind kind)
{
	for (struct aop *o = c->ops; o; o = o->next)
		if (o->id == id)
			return o->kind == kind ? o : NULL;
	return NULL;
}

static void link_unref(struct amqpconn *c, struct alink *l);

static void op_free(struct amqpconn *c, struct aop *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else
		c->ops = o->next;
	if (o->next)
		o->next->prev = o->prev;
	c->nops--;
	if (o->dlv) {
		if (o->kind == OP_OUT)
			pn_delivery_set_context(o->dlv, NULL);
		pn_decref(o->dlv);
	}
	amqp_in_close(&o->msg);
	if (o->l)
		link_unref(c, o->l);
	free(o);
}

static void link_unref(struct amqpconn *c, struct alink *l)
{
	l->refs--;
	if (l->refs || l->link)
		return;
	for (struct alink **pp = &c->links; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	free(l);
}

/* --- output ------------------------------------------------------------- */

static void pump(struct amqpconn *c);
static void unstash(struct amqpconn *c);

static void flush(struct amqpconn *c)
{
	for (;;) {
		pn_bytes_t b = pn_connection_driver_write_buffer(&c->drv);
		if (!b.size)
			break;
		if (!c->io_closed)
			c->io->write(c->ioctx, (const uint8_t *)b.start, b.size);
		pn_connection_driver_write_done(&c->drv, b.size);
	}
	if (!c->io_closed && pn_connection_driver_finished(&c->drv)) {
		c->io_closed = true;
		c->io->close(c->ioctx);
	}
}

static void set_cond(pn_condition_t *cond, const char *name, const char *text)
{
	pn_condition_set_name(cond, name);
	pn_condition_set_description(cond, text && *text ? text : NULL);
}

static void link_refuse(pn_link_t *link, const char *cond, const char *text)
{
	set_cond(pn_link_condition(link), cond, text);
	pn_link_close(link);
}

/* --- SASL ---------------------------------------------------------------- */

static struct amqpconn *sasl_conn(pn_transport_t *t)
{
	return pnx_sasl_get_context(t);
}

static void sasl_free(pn_transport_t *t)
{
	(void)t;
}

/* The identity of the TLS client certificate (we run TLS ourselves, so
 * proton's own external username is never set). */
static const char *external_id(const struct amqpconn *c)
{
	return c->tls && c->cert_cn[0] ? c->cert_cn : NULL;
}

static bool plain_ok(const struct amqpconn *c)
{
	return c->tls || !c->cfg.plain_needs_tls;
}

static const char *sasl_mechs(pn_transport_t *t)
{
	struct amqpconn *c = sasl_conn(t);
	snprintf(c->mechs, sizeof c->mechs, "%s%s%s", external_id(c) ? "EXTERNAL " : "",
		 plain_ok(c) ? "PLAIN " : "", c->cfg.anonymous ? "ANONYMOUS " : "");
	size_t n = strlen(c->mechs);
	if (n == 0) /* none fits: PLAIN is listed, and refused (sasl_process_init) */
		snprintf(c->mechs, sizeof c->mechs, "PLAIN");
	else
		c->mechs[n - 1] = '\0';
	return c->mechs;
}

static bool sasl_init_server(pn_transport_t *t)
{
	pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
	return true;
}

static bool sasl_init_client(pn_transport_t *t)
{
	(void)t;
	return false;
}

static void sasl_prepare(pn_transport_t *t)
{
	(void)t;
}

static void sasl_fail(pn_transport_t *t)
{
	pnx_sasl_set_failed(t);
	pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}

static void auth_start(struct amqpconn *c, const char *mech, const char *user, const char *pw,
		       size_t pwlen)
{
	struct aop *o = op_new(c, OP_AUTH, NULL, NULL);
	if (!o) {
		sasl_fail(c->drv.transport);
		return;
	}
	c->auth_pending = true;
	if (c->io->pause)
		c->io->pause(c->ioctx, true);
	c->be_ops->auth(c->be, c, o->id, mech, user, pw, pwlen);
}

static void sasl_process_init(pn_transport_t *t, const char *mech, const pn_bytes_t *recv)
{
	struct amqpconn *c = sasl_conn(t);
	if (c->auth_pending || c->auth_done || !mech) {
		/* A second init (proton 0.37 leaks the first one's mechanism
		 * name: end the connection so it happens once), or none. */
		sasl_fail(t);
		if (c->auth_pending || c->auth_done)
			c->kill_read = true; /* not from inside proton's processing */
		return;
	}
	if (strcmp(mech, "ANONYMOUS") == 0 && c->cfg.anonymous) {
		c->auth_done = true;
		pnx_sasl_set_succeeded(t, "anonymous", NULL);
		pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
		return;
	}
	if (strcmp(mech, "EXTERNAL") == 0 && external_id(c)) {
		auth_start(c, "EXTERNAL", external_id(c), NULL, 0);
		return;
	}
	if (strcmp(mech, "PLAIN") != 0 || !plain_ok(c) || !recv || !recv->start) {
		sasl_fail(t);
		return;
	}
	/* authzid NUL authcid NUL passwd (RFC 4616); authzid is ignored. */
	const char *p = recv->start, *end = p + recv->size;
	const char *z1 = memchr(p, 0, recv->size);
	const char *z2 = z1 ? memchr(z1 + 1, 0, (size_t)(end - z1 - 1)) : NULL;
	size_t ulen = z2 ? (size_t)(z2 - z1 - 1) : 0;
	if (!z2 || ulen == 0 || ulen > 255) {
		sasl_fail(t);
		return;
	}
	char user[256];
	memcpy(user, z1 + 1, ulen);
	user[ulen] = 0;
	auth_start(c, "PLAIN", user, z2 + 1, (size_t)(end - z2 - 1));
}

static void sasl_process_response(pn_transport_t *t, const pn_bytes_t *recv)
{
	(void)recv;
	sasl_fail(t);
}

static bool sasl_process_mechanisms(pn_transport_t *t, const char *mechs)
{
	(void)t;
	(void)mechs;
	return false;
}

static void sasl_process_bytes(pn_transport_t *t, const pn_bytes_t *recv)
{
	(void)t;
	(void)recv;
}

static bool sasl_can_encrypt(pn_transport_t *t)
{
	(void)t;
	return false;
}

static ssize_t sasl_max_encrypt(pn_transport_t *t)
{
	(void)t;
	return 0;
}

static ssize_t sasl_code(pn_transport_t *t, pn_bytes_t in, pn_bytes_t *out)
{
	(void)t;
	*out = in;
	return (ssize_t)in.size;
}

void amqpconn_auth_done(struct amqpconn *c, uint64_t req, int rc, const char *user)
{
	struct aop *o = op_find(c, req, OP_AUTH);
	if (!o)
		return;
	op_free(c, o);
	c->auth_pending = false;
	c->auth_done = rc == QSG_OK;
	pn_transport_t *t = c->drv.transport;
	if (rc == QSG_OK) {
		snprintf(c->user, sizeof c->user, "%s", user ? user : "");
		pnx_sasl_set_succeeded(t, c->user, NULL);
		pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
	} else {
		sasl_fail(t);
	}
	pump(c);
	unstash(c);
	if (c->io->pause && !c->auth_pending)
		c->io->pause(c->ioctx, false);
}

/* --- links ---------------------------------------------------------------- */

static struct alink *alink_of(pn_link_t *link)
{
	return pn_link_get_context(link);
}

static void link_open(struct amqpconn *c, pn_link_t *link)
{
	if (c->nlinks >= AMQP_MAX_LINKS) {
		link_refuse(link, "amqp:resource-limit-exceeded",
			    "too many links on the connection");
		return;
	}
	struct alink *l = calloc(1, sizeof *l);
	if (!l) {
		link_refuse(link, "amqp:resource-limit-exceeded", "out of memory");
		return;
	}
	l->link = link;
	snprintf(l->name, sizeof l->name, "%s", pn_link_name(link));
	pn_link_set_context(link, l);
	l->next = c->links;
	c->links = l;
	pn_terminus_t *rsrc = pn_link_remote_source(link), *rtgt = pn_link_remote_target(link);
	pn_terminus_copy(pn_link_source(link), rsrc);
	pn_terminus_copy(pn_link_target(link), rtgt);
	if (pn_link_is_receiver(link)) {
		/* The client sends: to a queue, or to the coordinator. */
		if (pn_terminus_get_type(rtgt) == PN_COORDINATOR) {
			l->coordinator = true;
		} else {
			const char *a = pn_terminus_get_address(rtgt);
			if (!a || !qsg_name_ok(a, FSM_NAME_MAX, false)) {
				link_refuse(link, "amqp:invalid-field",
					    "the target address must be a queue name");
				return;
			}
			snprintf(l->queue, sizeof l->queue, "%s", a);
		}
		pn_link_set_rcv_settle_mode(link, PN_RCV_FIRST);
		pn_link_set_snd_settle_mode(link, pn_link_remote_snd_settle_mode(link));
		pn_link_set_max_message_size(link, c->cfg.max_message);
		pn_link_open(link);
		l->open = true;
		c->nlinks++;
		pn_link_flow(link, (int)c->cfg.credit);
		return;
	}
	/* The client receives from a queue. */
	const char *a = pn_terminus_get_address(rsrc);
	if (pn_terminus_is_dynamic(rsrc) || !a || !qsg_name_ok(a, FSM_NAME_MAX, false)) {
		link_refuse(link, "amqp:invalid-field", "the source address must be a queue name");
		return;
	}
	snprintf(l->queue, sizeof l->queue, "%s", a);
	l->settled_mode = pn_link_remote_snd_settle_mode(link) == PN_SND_SETTLED;
	pn_link_set_snd_settle_mode(link, l->settled_mode ? PN_SND_SETTLED : PN_SND_UNSETTLED);
	pn_link_set_rcv_settle_mode(link, PN_RCV_FIRST);
	pn_link_open(link);
	l->open = true;
	c->nlinks++;
}

/* Issue gets while the link has credit not yet covered by gets. A
 * backend may answer during get: link_pull is not re-entered but runs its
 * loop again. */
static void link_pull_once(struct amqpconn *c, struct alink *l);

static void link_pull(struct amqpconn *c, struct alink *l)
{
	if (l->pulling) {
		l->repull = true;
		return;
	}
	l->pulling = true;
	l->refs++;
	do {
		l->repull = false;
		link_pull_once(c, l);
	} while (l->repull && l->link && l->open);
	l->pulling = false;
	link_unref(c, l);
}

static void link_pull_once(struct amqpconn *c, struct alink *l)
{
	if (!l->open || !l->link || pn_link_is_receiver(l->link))
		return;
	bool drain = pn_link_get_drain(l->link);
	if (drain) {
		/* Drain: replace the waiting gets by gets that do not wait. */
		for (struct aop *o = c->ops, *n; o; o = n) {
			n = o->next;
			if (o->kind == OP_GET && o->l == l && o->wait) {
				c->be_ops->get_cancel(c->be, c, o->id);
				l->gets--;
				op_free(c, o);
			}
		}
	}
	int credit = pn_link_credit(l->link);
	while (credit > (int)l->gets && c->nops < AMQP_MAX_INFLIGHT) {
		struct aop *o = op_new(c, OP_GET, l, NULL);
		if (!o)
			break;
		o->wait = !drain;
		l->gets++;
		c->be_ops->get(c->be, c, o->id, l->queue, l->settled_mode, o->wait);
		if (!l->link || !l->open)
			return;
		credit = pn_link_credit(l->link);
	}
	if (drain && l->gets == 0)
		pn_link_drained(l->link);
}

/* Cancel the link's gets; release its unsettled messages. */
static void link_gone(struct amqpconn *c, struct alink *l)
{
	if (l->open)
		c->nlinks--;
	l->open = false;
	for (struct aop *o = c->ops, *n; o; o = n) {
		n = o->next;
		if (o->l != l)
			continue;
		if (o->kind == OP_GET) {
			c->be_ops->get_cancel(c->be, c, o->id);
			l->gets--;
			op_free(c, o);
		} else if (o->kind == OP_OUT && !o->busy) {
			o->busy = true;
			struct aop *s = op_new(c, OP_SETTLE, l, o->dlv);
			if (!s)
				continue;
			s->lock = o->lock;
			op_free(c, o);
			c->be_ops->settle(c->be, c, s->id, s->lock, AMQP_ACT_RELEASE, 0, "");
		}
	}
}

/* --- incoming transfers ---------------------------------------------------- */

static void dlv_refuse(pn_delivery_t *dlv, const char *cond, const char *text)
{
	set_cond(pn_disposition_condition(pn_delivery_local(dlv)), cond, text);
	pn_delivery_update(dlv, PN_REJECTED);
	pn_delivery_settle(dlv);
}

static void incoming(struct amqpconn *c, struct alink *l, pn_delivery_t *dlv)
{
	pn_link_t *link = l->link;
	if (pn_delivery_aborted(dlv)) {
		pn_link_recv(link, NULL, pn_delivery_pending(dlv));
		pn_delivery_settle(dlv);
		pn_link_flow(link, 1);
		return;
	}
	if (pn_delivery_partial(dlv)) {
		if (pn_delivery_pending(dlv) > c->cfg.max_message) {
			pn_link_recv(link, NULL, pn_delivery_pending(dlv));
			link_refuse(link, "amqp:link:message-size-exceeded",
				    "message over the link's max-message-size");
		}
		return;
	}
	size_t n = pn_delivery_pending(dlv);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf) {
		pn_connection_driver_errorf(&c->drv, "amqp:resource-limit-exceeded",
					    "out of memory");
		return;
	}
	ssize_t got = pn_link_recv(link, (char *)buf, n);
	pn_link_advance(link);
	if (got < 0)
		got = 0;
	if ((size_t)got > c->cfg.max_message) {
		free(buf);
		dlv_refuse(dlv, "amqp:link:message-size-exceeded", "message too large");
		pn_link_flow(link, 1);
		return;
	}
	if (l->coordinator) {
		uint64_t txn = 0;
		enum amqp_txn_op op = amqp_ctrl_parse(buf, (size_t)got, &txn);
		free(buf);
		const char *err = NULL;
		if (!op)
			err = "not a declare or discharge";
		else if (op == AMQP_TXN_DECLARE && c->txn)
			err = "one transaction at a time on a connection";
		else if (op != AMQP_TXN_DECLARE && (txn != c->txn || !c->txn))
			err = "unknown transaction";
		if (err) {
			dlv_refuse(dlv,
				   op == AMQP_TXN_DECLARE ? "amqp:not-implemented"
				   : op			  ? "amqp:transaction:unknown-id"
							  : "amqp:decode-error",
				   err);
			pn_link_flow(link, 1);
			return;
		}
		struct aop *o = op_new(c, OP_CTRL, l, dlv);
		if (!o) {
			dlv_refuse(dlv, "amqp:resource-limit-exceeded", "out of memory");
			return;
		}
		o->ctrl = op;
		o->txn = txn;
		c->be_ops->txn(c->be, c, o->id, op, txn);
		return;
	}
	struct amqp_in in;
	const char *cond = NULL;
	char err[QSG_ERRMSG_SIZE];
	int rc = amqp_msg_from_wire(buf, (size_t)got, &in, &cond, err);
	free(buf);
	if (rc != QSG_OK) {
		dlv_refuse(dlv, cond, err);
		pn_link_flow(link, 1);
		return;
	}
	uint64_t outcome;
	bool failed;
	uint64_t txn = amqp_txn_state(dlv, &outcome, &failed);
	if (txn && txn != c->txn) {
		amqp_in_close(&in);
		dlv_refuse(dlv, "amqp:transaction:unknown-id", "unknown transaction");
		pn_link_flow(link, 1);
		return;
	}
	struct aop *o = op_new(c, OP_PUT, l, dlv);
	if (!o) {
		amqp_in_close(&in);
		dlv_refuse(dlv, "amqp:resource-limit-exceeded", "out of memory");
		return;
	}
	o->msg = in;
	o->txn = txn;
	l->puts++;
	c->be_ops->put(c->be, c, o->id, l->queue, l->name, txn, &o->msg);
}

void amqpconn_put_done(struct amqpconn *c, uint64_t req, int rc, const char *text)
{
	struct aop *o = op_find(c, req, OP_PUT);
	if (!o)
		return;
	struct alink *l = o->l;
	l->puts--;
	if (rc == QSG_OK) {
		if (o->txn) {
			pn_data_t *d = pn_disposition_data(pn_delivery_local(o->dlv));
			pn_data_clear(d);
			pn_data_put_list(d);
			pn_data_enter(d);
			amqp_put_txn_id(d, o->txn);
			pn_data_put_described(d);
			pn_data_enter(d);
			pn_data_put_ulong(d, PN_ACCEPTED);
			pn_data_put_list(d);
			pn_data_exit(d);
			pn_data_exit(d);
			pn_delivery_update(o->dlv, AMQP_STATE_TXN);
		} else {
			pn_delivery_update(o->dlv, PN_ACCEPTED);
		}
		pn_delivery_settle(o->dlv);
	} else {
		dlv_refuse(o->dlv, amqp_rc_condition(rc), text ? text : qsg_rc_text(rc));
	}
	if (l->link && l->open)
		pn_link_flow(l->link, 1);
	op_free(c, o);
	pump(c);
}

void amqpconn_txn_done(struct amqpconn *c, uint64_t req, int rc, uint64_t txn, const char *text)
{
	struct aop *o = op_find(c, req, OP_CTRL);
	if (!o)
		return;
	if (o->ctrl == AMQP_TXN_DECLARE && rc == QSG_OK && txn) {
		c->txn = txn;
		pn_data_t *d = pn_disposition_data(pn_delivery_local(o->dlv));
		pn_data_clear(d);
		pn_data_put_list(d);
		pn_data_enter(d);
		amqp_put_txn_id(d, txn);
		pn_data_exit(d);
		pn_delivery_update(o->dlv, AMQP_STATE_DECLARED);
		pn_delivery_settle(o->dlv);
	} else if (o->ctrl != AMQP_TXN_DECLARE) {
		c->txn = 0; /* discharged, whatever the outcome */
		if (rc == QSG_OK) {
			pn_delivery_update(o->dlv, PN_ACCEPTED);
			pn_delivery_settle(o->dlv);
		} else {
			dlv_refuse(o->dlv, "amqp:transaction:rollback",
				   text ? text : qsg_rc_text(rc));
		}
	} else {
		dlv_refuse(o->dlv, amqp_rc_condition(rc), text ? text : qsg_rc_text(rc));
	}
	if (o->l->link && o->l->open)
		pn_link_flow(o->l->link, 1);
	op_free(c, o);
	pump(c);
}

/* --- outgoing deliveries --------------------------------------------------- */

void amqpconn_get_done(struct amqpconn *c, uint64_t req, int rc, const struct fsm_msg *m,
		       uint64_t lock)
{
	struct aop *o = op_find(c, req, OP_GET);
	if (!o)
		return;
	struct alink *l = o->l;
	l->gets--;
	op_free(c, o);
	if (rc != QSG_OK) {
		if (rc != QSG_RC_NO_MSG_AVAILABLE && l->link && l->open)
			link_refuse(l->link, amqp_rc_condition(rc), qsg_rc_text(rc));
		else if (l->link && l->open && pn_link_get_drain(l->link) && l->gets == 0)
			pn_link_drained(l->link);
		pump(c);
		return;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	int erc = amqp_msg_to_wire(m, &buf, &len);
	if (!l->link || !l->open || erc != QSG_OK) {
		/* Gone meanwhile: give the message back. */
		free(buf);
		if (!l->settled_mode) {
			struct aop *s = op_new(c, OP_SETTLE, l, NULL);
			if (s)
				c->be_ops->settle(c->be, c, s->id, lock, AMQP_ACT_RELEASE, 0, "");
		}
		pump(c);
		return;
	}
	char tag[16];
	int tl = snprintf(tag, sizeof tag, "%llx", (unsigned long long)req);
	pn_delivery_t *dlv = pn_delivery(l->link, pn_dtag(tag, (size_t)tl));
	pn_link_send(l->link, (const char *)buf, len);
	pn_link_advance(l->link);
	free(buf);
	if (l->settled_mode) {
		pn_delivery_settle(dlv);
	} else {
		struct aop *out = op_new(c, OP_OUT, l, dlv);
		if (!out) {
			struct aop *s = op_new(c, OP_SETTLE, l, NULL);
			if (s)
				c->be_ops->settle(c->be, c, s->id, lock, AMQP_ACT_RELEASE, 0, "");
		} else {
			out->lock = lock;
			pn_delivery_set_context(dlv, out);
		}
	}
	link_pull(c, l);
	pump(c);
}

static void outgoing_update(struct amqpconn *c, pn_delivery_t *dlv)
{
	struct aop *o = pn_delivery_get_context(dlv);
	if (!o || o->busy)
		return;
	uint64_t outcome = pn_delivery_remote_state(dlv);
	bool failed = pn_disposition_is_failed(pn_delivery_remote(dlv));
	uint64_t txn = 0;
	if (outcome == AMQP_STATE_TXN) {
		txn = amqp_txn_state(dlv, &outcome, &failed);
		if (txn != c->txn || !txn) {
			pn_connection_driver_errorf(&c->drv, "amqp:transaction:unknown-id",
						    "unknown transaction");
			return;
		}
	}
	enum amqp_act act = amqp_outcome_action(outcome, failed);
	if (act == AMQP_ACT_NONE) {
		if (!pn_delivery_settled(dlv))
			return; /* received, or nothing yet */
		act = AMQP_ACT_RELEASE; /* settled without an outcome */
	}
	char reason[256];
	reason[0] = 0;
	if (act == AMQP_ACT_DEADLETTER) {
		/* rejected's error: "condition: description" (either may be
		 * missing), for the dead-letter message. */
		pn_condition_t *cond = pn_disposition_condition(pn_delivery_remote(dlv));
		const char *nm = pn_condition_get_name(cond),
			   *d = pn_condition_get_description(cond);
		snprintf(reason, sizeof reason, "%s%s%s", nm ? nm : "", nm && d ? ": " : "",
			 d ? d : "");
	}
	struct aop *s = op_new(c, OP_SETTLE, o->l, dlv);
	if (!s) {
		pn_connection_driver_errorf(&c->drv, "amqp:resource-limit-exceeded",
					    "out of memory");
		return;
	}
	s->lock = o->lock;
	s->txn = txn;
	s->outcome = outcome ? outcome : PN_RELEASED;
	o->busy = true;
	op_free(c, o);
	c->be_ops->settle(c->be, c, s->id, s->lock, act, txn, reason);
}

void amqpconn_settle_done(struct amqpconn *c, uint64_t req, int rc)
{
	struct aop *o = op_find(c, req, OP_SETTLE);
	if (!o)
		return;
	if (o->dlv) {
		if (rc != QSG_OK)
			set_cond(pn_disposition_condition(pn_delivery_local(o->dlv)),
				 amqp_rc_condition(rc), qsg_rc_text(rc));
		if (o->outcome)
			pn_delivery_update(o->dlv, o->outcome);
		pn_delivery_settle(o->dlv);
	}
	op_free(c, o);
	pump(c);
}

/* --- events ------------------------------------------------------------------ */

static void on_event(struct amqpconn *c, pn_event_t *e)
{
	pn_link_t *link;
	pn_session_t *ssn;
	switch (pn_event_type(e)) {
	case PN_CONNECTION_REMOTE_OPEN: {
		pn_connection_t *conn = pn_event_connection(e);
		const char *rc = pn_connection_remote_container(conn);
		snprintf(c->remote_container, sizeof c->remote_container, "%s", rc ? rc : "");
		pn_connection_set_container(conn, c->container_id);
		pn_connection_open(conn);
		break;
	}
	case PN_CONNECTION_REMOTE_CLOSE:
		pn_connection_close(pn_event_connection(e));
		break;
	case PN_SESSION_REMOTE_OPEN:
		ssn = pn_event_session(e);
		pn_session_set_incoming_capacity(ssn, (size_t)c->cfg.max_frame * 64);
		pn_session_open(ssn);
		break;
	case PN_SESSION_REMOTE_CLOSE:
		pn_session_close(pn_event_session(e));
		break;
	case PN_LINK_REMOTE_OPEN:
		link_open(c, pn_event_link(e));
		break;
	case PN_LINK_REMOTE_CLOSE:
	case PN_LINK_REMOTE_DETACH:
		link = pn_event_link(e);
		if (alink_of(link))
			link_gone(c, alink_of(link));
		if (pn_event_type(e) == PN_LINK_REMOTE_CLOSE)
			pn_link_close(link);
		else
			pn_link_detach(link);
		break;
	case PN_LINK_FINAL:
		link = pn_event_link(e);
		if (alink_of(link)) {
			struct alink *l = alink_of(link);
			link_gone(c, l);
			pn_link_set_context(link, NULL);
			l->link = NULL;
			l->refs++;
			link_unref(c, l);
		}
		break;
	case PN_LINK_FLOW:
		link = pn_event_link(e);
		if (alink_of(link))
			link_pull(c, alink_of(link));
		break;
	case PN_DELIVERY: {
		pn_delivery_t *dlv = pn_event_delivery(e);
		link = pn_delivery_link(dlv);
		struct alink *l = alink_of(link);
		if (!l || !l->open)
			break;
		if (pn_link_is_receiver(link)) {
			if (pn_delivery_readable(dlv) && !pn_delivery_get_context(dlv))
				incoming(c, l, dlv);
		} else if (pn_delivery_updated(dlv)) {
			outgoing_update(c, dlv);
		}
		break;
	}
	default:
		break;
	}
}

static void pump(struct amqpconn *c)
{
	if (c->in_pump)
		return;
	c->in_pump = true;
	for (;;) {
		pn_event_t *e;
		while ((e = pn_connection_driver_next_event(&c->drv)))
			on_event(c, e);
		flush(c);
		if (!pn_connection_driver_has_event(&c->drv))
			break;
	}
	c->in_pump = false;
}

/* --- life ------------------------------------------------------------------- */

static void log_sink(intptr_t ctx, pn_log_subsystem_t sub, pn_log_level_t level, const char *msg)
{
	(void)sub;
	(void)level;
	struct amqpconn *c = (struct amqpconn *)ctx;
	if (c->io->log)
		c->io->log(c->ioctx, msg);
}

int amqpconn_new(struct amqpconn **out, const struct amqpconn_cfg *cfg,
		 const struct amqp_be_ops *be_ops, void *be, const struct amqpconn_io *io,
		 void *ioctx, const char *peer, char *errmsg)
{
	struct amqpconn *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(errmsg, QSG_ERRMSG_SIZE, "out of memory");
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	c->cfg = *cfg;
	if (!c->cfg.max_frame)
		c->cfg.max_frame = AMQP_DEFAULT_FRAME;
	if (!c->cfg.credit)
		c->cfg.credit = 64;
	if (!c->cfg.max_message)
		c->cfg.max_message = FSM_MAX_MSGL;
	snprintf(c->container_id, sizeof c->container_id, "%s",
		 cfg->container_id ? cfg->container_id : "qsg");
	c->cfg.container_id = c->container_id;
	c->be_ops = be_ops;
	c->be = be;
	if (be_ops->open && !(c->be = be_ops->open(be, c))) {
		free(c);
		snprintf(errmsg, QSG_ERRMSG_SIZE, "out of memory");
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	c->io = io;
	c->ioctx = ioctx;
	snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "");
	if (pn_connection_driver_init(&c->drv, NULL, NULL) != 0) {
		free(c);
		snprintf(errmsg, QSG_ERRMSG_SIZE, "proton: cannot create a connection");
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	pn_transport_t *t = c->drv.transport;
	pn_logger_set_log_sink(pn_transport_logger(t), log_sink, (intptr_t)c);
	pn_transport_set_server(t);
	pn_transport_set_max_frame(t, c->cfg.max_frame);
	pn_transport_set_channel_max(t, AMQP_CHANNEL_MAX);
	if (c->cfg.idle_ms)
		pn_transport_set_idle_timeout(t, c->cfg.idle_ms);
	pn_transport_require_auth(t, c->cfg.require_auth);
	pn_sasl_t *sasl = pn_sasl(t);
	pn_sasl_set_allow_insecure_mechs(sasl, true);
	c->sasl = (pnx_sasl_implementation){
	    .free = sasl_free,
	    .list_mechanisms = sasl_mechs,
	    .init_server = sasl_init_server,
	    .init_client = sasl_init_client,
	    .prepare_write = sasl_prepare,
	    .process_init = sasl_process_init,
	    .process_response = sasl_process_response,
	    .process_mechanisms = sasl_process_mechanisms,
	    .process_challenge = sasl_process_bytes,
	    .process_outcome = sasl_process_bytes,
	    .can_encrypt = sasl_can_encrypt,
	    .max_encrypt_size = sasl_max_encrypt,
	    .encode = sasl_code,
	    .decode = sasl_code,
	};
	pnx_sasl_set_implementation(t, &c->sasl, c);
	if (pn_connection_driver_bind(&c->drv) != 0) {
		pn_connection_driver_destroy(&c->drv);
		free(c);
		snprintf(errmsg, QSG_ERRMSG_SIZE, "proton: cannot bind the transport");
		return QSG_RC_UNEXPECTED_ERROR;
	}
	*out = c;
	return QSG_OK;
}

#define AMQP_STASH_MAX (64u * 1024)

static void feed(struct amqpconn *c, const uint8_t *p, size_t n);

void amqpconn_input(struct amqpconn *c, const uint8_t *p, size_t n)
{
	if (c->auth_pending || c->nstash) {
		if (c->nstash + n > AMQP_STASH_MAX) {
			pn_connection_driver_errorf(&c->drv, "amqp:connection:framing-error",
						    "too much input before the SASL outcome");
			pn_connection_driver_read_close(&c->drv);
			pump(c);
			return;
		}
		uint8_t *ns = realloc(c->stash, c->nstash + n);
		if (!ns) {
			pn_connection_driver_errorf(&c->drv, "amqp:resource-limit-exceeded",
						    "out of memory");
			pn_connection_driver_read_close(&c->drv);
			pump(c);
			return;
		}
		memcpy(ns + c->nstash, p, n);
		c->stash = ns;
		c->nstash += n;
		return;
	}
	feed(c, p, n);
}

/* The stash, once the SASL check is done. */
static void unstash(struct amqpconn *c)
{
	while (c->nstash && !c->auth_pending) {
		uint8_t *s = c->stash;
		size_t n = c->nstash;
		c->stash = NULL;
		c->nstash = 0;
		feed(c, s, n);
		free(s);
	}
	if (!c->auth_pending && c->stash_eof) {
		c->stash_eof = false;
		amqpconn_eof(c);
	}
}

static void feed(struct amqpconn *c, const uint8_t *p, size_t n)
{
	while (n) {
		pn_rwbytes_t b = pn_connection_driver_read_buffer(&c->drv);
		if (!b.size)
			break; /* read side closed */
		size_t k = n < b.size ? n : b.size;
		memcpy(b.start, p, k);
		/* SASL callbacks (and a backend answering in them) run inside
		 * read_done: no pump until it returns. */
		bool was = c->in_pump;
		c->in_pump = true;
		pn_connection_driver_read_done(&c->drv, k);
		c->in_pump = was;
		if (c->kill_read) {
			c->kill_read = false;
			pn_connection_driver_read_close(&c->drv);
			break;
		}
		p += k;
		n -= k;
		pump(c);
		if (c->auth_pending && n) {
			amqpconn_input(c, p, n);
			return;
		}
	}
	pump(c);
}

void amqpconn_eof(struct amqpconn *c)
{
	if (c->auth_pending || c->nstash) {
		c->stash_eof = true;
		return;
	}
	pn_connection_driver_read_close(&c->drv);
	pump(c);
}

int64_t amqpconn_tick(struct amqpconn *c, int64_t now_ms)
{
	bool was = c->in_pump;
	c->in_pump = true;
	int64_t next = pn_transport_tick(c->drv.transport, now_ms);
	c->in_pump = was;
	pump(c);
	return next;
}

bool amqpconn_finished(struct amqpconn *c)
{
	return pn_connection_driver_finished(&c->drv);
}

void amqpconn_close(struct amqpconn *c, const char *cond, const char *text)
{
	pn_connection_driver_errorf(&c->drv, cond, "%s", text);
	pump(c);
}

void amqpconn_set_tls(struct amqpconn *c, const char *cert_cn, const char *cert_dn)
{
	c->tls = true;
	snprintf(c->cert_cn, sizeof c->cert_cn, "%s", cert_cn ? cert_cn : "");
	snprintf(c->cert_dn, sizeof c->cert_dn, "%s", cert_dn ? cert_dn : "");
}

bool amqpconn_tls(const struct amqpconn *c)
{
	return c->tls;
}

const char *amqpconn_cert_cn(const struct amqpconn *c)
{
	return c->tls ? c->cert_cn : "";
}

const char *amqpconn_cert_dn(const struct amqpconn *c)
{
	return c->tls ? c->cert_dn : "";
}

const char *amqpconn_peer(const struct amqpconn *c)
{
	return c->peer;
}

const char *amqpconn_user(const struct amqpconn *c)
{
	return c->user;
}

const char *amqpconn_container(const struct amqpconn *c)
{
	return c->remote_container;
}

void amqpconn_free(struct amqpconn *c)
{
	if (!c)
		return;
	if (!c->closed_be) {
		c->closed_be = true;
		c->be_ops->closed(c->be, c);
	}
	while (c->ops)
		op_free(c, c->ops);
	pn_connection_driver_destroy(&c->drv);
	free(c->stash);
	while (c->links) {
		struct alink *l = c->links;
		c->links = l->next;
		free(l);
	}
	free(c);
}
