/* amqpfake PORT [--auth]: the AMQP 1.0 endpoint (src/amqp: listener,
 * connection driver, SASL, links, outcomes, coordinator) over an in-memory
 * backend that stands in for the group, so that test_amqp_driver.sh can
 * drive it with the unmodified python3-qpid-proton client. The backend
 * keeps the semantics amqpconn.h asks of the gateway: gets wait, locked
 * messages, outcomes (release: back unchanged; backout: BackoutCount + 1,
 * and at 3 to queue <NAME>.BOQ as BOTHRESH(3) BOQNAME would; rejected: to
 * queue DLQ), transactions holding puts and consumes until commit. With
 * --auth: SASL PLAIN as user APP password "secret" (the name folded to
 * upper case), no ANONYMOUS. Prints "ready PORT" when listening. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "amqp/amqplisten.h"
#include "common/qsg_err.h"

struct fmsg {
	struct fmsg *next;
	char queue[FSM_NAME_MAX + 1];
	struct fsm_msg m;
	uint8_t *buf;
	uint64_t lock;
	struct amqpconn *owner; /* locked to */
	uint64_t txn; /* staged put (in txn) or staged consume */
};

struct waiter {
	struct waiter *next;
	struct amqpconn *c;
	uint64_t req;
	char queue[FSM_NAME_MAX + 1];
	bool settled;
};

struct fake {
	struct fmsg *msgs; /* committed, visible (FIFO by append at the tail) */
	struct fmsg *locked; /* locked to a connection */
	struct fmsg *staged; /* puts in a transaction */
	struct waiter *waiters;
	uint64_t next_lock, next_txn;
};

static struct fmsg *fmsg_copy(const char *queue, const struct fsm_msg *m)
{
	struct fmsg *f = calloc(1, sizeof *f);
	f->buf = malloc(m->props.len + m->body.len + 1);
	memcpy(f->buf, m->props.p, m->props.len);
	memcpy(f->buf + m->props.len, m->body.p, m->body.len);
	f->m = *m;
	f->m.props = (struct qsg_slice){f->buf, m->props.len};
	f->m.body = (struct qsg_slice){f->buf + m->props.len, m->body.len};
	snprintf(f->queue, sizeof f->queue, "%s", queue);
	return f;
}

static void fmsg_free(struct fmsg *f)
{
	free(f->buf);
	free(f);
}

static void deliver(struct fake *fk, struct fmsg *f);

static void append(struct fake *fk, struct fmsg *f, bool head)
{
	f->owner = NULL;
	f->txn = 0;
	if (head) {
		f->next = fk->msgs;
		fk->msgs = f;
	} else {
		f->next = NULL;
		struct fmsg **pp = &fk->msgs;
		while (*pp)
			pp = &(*pp)->next;
		*pp = f;
	}
	deliver(fk, f);
}

static void unlink_msg(struct fmsg **list, struct fmsg *f)
{
	for (struct fmsg **pp = list; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			return;
		}
}

/* Hand f to the first waiter for its queue. */
static void deliver(struct fake *fk, struct fmsg *f)
{
	for (struct waiter **pp = &fk->waiters; *pp; pp = &(*pp)->next) {
		struct waiter *w = *pp;
		if (strcmp(w->queue, f->queue) != 0)
			continue;
		*pp = w->next;
		unlink_msg(&fk->msgs, f);
		if (w->settled) {
			amqpconn_get_done(w->c, w->req, QSG_OK, &f->m, 0);
			fmsg_free(f);
		} else {
			f->lock = ++fk->next_lock;
			f->owner = w->c;
			f->next = fk->locked;
			fk->locked = f;
			amqpconn_get_done(w->c, w->req, QSG_OK, &f->m, f->lock);
		}
		free(w);
		return;
	}
}

/* Authentication answers after 30 ms, as the member's (PBKDF2 in the
 * thread pool): the client's pipelined AMQP header waits meanwhile. */
struct pauth {
	uv_timer_t t;
	struct amqpconn *c;
	uint64_t req;
	bool ok, gone;
	struct pauth *next;
};
static struct pauth *pauths;

static void pauth_closed(uv_handle_t *h)
{
	free(h->data);
}

static void pauth_fire(uv_timer_t *t)
{
	struct pauth *a = t->data;
	for (struct pauth **pp = &pauths; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	if (!a->gone)
		amqpconn_auth_done(a->c, a->req, a->ok ? QSG_OK : QSG_RC_NOT_AUTHORIZED,
				   a->ok ? "APP" : NULL);
	uv_close((uv_handle_t *)&a->t, pauth_closed);
}

static void be_auth(void *be, struct amqpconn *c, uint64_t req, const char *mech, const char *user,
		    const char *pw, size_t pwlen)
{
	(void)be;
	struct pauth *a = calloc(1, sizeof *a);
	a->ok = strcmp(mech, "PLAIN") == 0 && strcasecmp(user, "app") == 0 && pw && pwlen == 6 &&
		memcmp(pw, "secret", 6) == 0;
	a->c = c;
	a->req = req;
	a->next = pauths;
	pauths = a;
	uv_timer_init(uv_default_loop(), &a->t);
	a->t.data = a;
	uv_timer_start(&a->t, pauth_fire, 30, 0);
}

static void be_put(void *be, struct amqpconn *c, uint64_t req, const char *queue, const char *link,
		   uint64_t txn, const struct amqp_in *msg)
{
	(void)link;
	struct fake *fk = be;
	if (strncmp(queue, "NOSUCH", 6) == 0) {
		amqpconn_put_done(c, req, QSG_RC_UNKNOWN_OBJECT, "no queue NOSUCH");
		return;
	}
	struct fmsg *f = fmsg_copy(queue, &msg->m);
	if (txn) {
		f->txn = txn;
		f->owner = c;
		f->next = fk->staged;
		fk->staged = f;
	} else {
		append(fk, f, false);
	}
	amqpconn_put_done(c, req, QSG_OK, NULL);
}

static void be_get(void *be, struct amqpconn *c, uint64_t req, const char *queue, bool settled,
		   bool wait)
{
	struct fake *fk = be;
	struct waiter *w = calloc(1, sizeof *w);
	w->c = c;
	w->req = req;
	w->settled = settled;
	snprintf(w->queue, sizeof w->queue, "%s", queue);
	struct waiter **pp = &fk->waiters;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
	for (struct fmsg *f = fk->msgs; f; f = f->next)
		if (strcmp(f->queue, queue) == 0) {
			deliver(fk, f);
			return;
		}
	if (!wait) {
		*pp = NULL;
		free(w);
		amqpconn_get_done(c, req, QSG_RC_NO_MSG_AVAILABLE, NULL, 0);
	}
}

static void be_get_cancel(void *be, struct amqpconn *c, uint64_t req)
{
	struct fake *fk = be;
	for (struct waiter **pp = &fk->waiters; *pp; pp = &(*pp)->next)
		if ((*pp)->c == c && (*pp)->req == req) {
			struct waiter *w = *pp;
			*pp = w->next;
			free(w);
			return;
		}
}

static void requeue(struct fake *fk, struct fmsg *f, bool count)
{
	unlink_msg(&fk->locked, f);
	if (count && ++f->m.backout_count >= 3 && !strstr(f->queue, ".BOQ"))
		strncat(f->queue, ".BOQ", sizeof f->queue - strlen(f->queue) - 1);
	append(fk, f, true);
}

static void be_settle(void *be, struct amqpconn *c, uint64_t req, uint64_t lock, enum amqp_act act,
		      uint64_t txn, const char *reason)
{
	(void)reason;
	struct fake *fk = be;
	struct fmsg *f = fk->locked;
	while (f && f->lock != lock)
		f = f->next;
	if (!f) {
		amqpconn_settle_done(c, req, QSG_RC_NO_MSG_AVAILABLE);
		return;
	}
	if (txn && act == AMQP_ACT_CONSUME) {
		f->txn = txn; /* consumed at commit */
	} else if (act == AMQP_ACT_CONSUME) {
		unlink_msg(&fk->locked, f);
		fmsg_free(f);
	} else if (act == AMQP_ACT_DEADLETTER) {
		unlink_msg(&fk->locked, f);
		snprintf(f->queue, sizeof f->queue, "DLQ");
		append(fk, f, false);
	} else {
		requeue(fk, f, act == AMQP_ACT_BACKOUT);
	}
	amqpconn_settle_done(c, req, QSG_OK);
}

static void txn_end(struct fake *fk, struct amqpconn *c, uint64_t txn, bool commit)
{
	/* Staged puts: to their queues in order, or dropped. */
	struct fmsg *rev = NULL;
	for (struct fmsg **pp = &fk->staged; *pp;) {
		struct fmsg *f = *pp;
		if (f->owner == c && (txn == 0 || f->txn == txn)) {
			*pp = f->next;
			f->next = rev;
			rev = f;
		} else {
			pp = &f->next;
		}
	}
	while (rev) {
		struct fmsg *f = rev;
		rev = f->next;
		if (commit)
			append(fk, f, false);
		else
			fmsg_free(f);
	}
	/* Staged consumes: done, or back with BackoutCount + 1. */
	for (struct fmsg *f = fk->locked, *n; f; f = n) {
		n = f->next;
		if (f->owner != c || !f->txn || (txn && f->txn != txn))
			continue;
		if (commit) {
			unlink_msg(&fk->locked, f);
			fmsg_free(f);
		} else {
			requeue(fk, f, true);
		}
	}
}

static void be_txn(void *be, struct amqpconn *c, uint64_t req, enum amqp_txn_op op, uint64_t txn)
{
	struct fake *fk = be;
	if (op == AMQP_TXN_DECLARE) {
		amqpconn_txn_done(c, req, QSG_OK, ++fk->next_txn, NULL);
		return;
	}
	txn_end(fk, c, txn, op == AMQP_TXN_COMMIT);
	amqpconn_txn_done(c, req, QSG_OK, txn, NULL);
}

static void be_closed(void *be, struct amqpconn *c)
{
	struct fake *fk = be;
	for (struct pauth *a = pauths; a; a = a->next)
		if (a->c == c)
			a->gone = true;
	for (struct waiter **pp = &fk->waiters; *pp;) {
		if ((*pp)->c == c) {
			struct waiter *w = *pp;
			*pp = w->next;
			free(w);
		} else {
			pp = &(*pp)->next;
		}
	}
	/* The connection's transaction is backed out; what it had locked goes
	 * back with BackoutCount + 1 (an MQ backout). */
	struct fmsg *f;
	for (struct fmsg **pp = &fk->staged; *pp;) {
		if ((*pp)->owner == c) {
			f = *pp;
			*pp = f->next;
			fmsg_free(f);
		} else {
			pp = &(*pp)->next;
		}
	}
	for (struct fmsg *g = fk->locked, *n; g; g = n) {
		n = g->next;
		if (g->owner == c)
			requeue(fk, g, true);
	}
}

static const struct amqp_be_ops fake_ops = {be_auth,   be_put, be_get,	 be_get_cancel,
					    be_settle, be_txn, be_closed};

static void fake_log(void *arg, const char *peer, const char *text)
{
	(void)arg;
	fprintf(stderr, "amqpfake: %s: %s\n", peer, text);
}

static void on_term(uv_signal_t *sig, int signum)
{
	(void)signum;
	amqplisten_stop(sig->data);
	uv_close((uv_handle_t *)sig, NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: amqpfake PORT [--auth | --auth-tls]\n");
		return 2;
	}
	/* --auth-tls: as authentication = required (PLAIN only over TLS,
	 * which this listener has not: every PLAIN is refused). */
	bool auth_tls = argc > 2 && strcmp(argv[2], "--auth-tls") == 0;
	bool auth = auth_tls || (argc > 2 && strcmp(argv[2], "--auth") == 0);
	uv_loop_t *loop = uv_default_loop();
	struct fake fk = {0};
	struct amqpconn_cfg cfg = {
	    .anonymous = !auth,
	    .require_auth = auth,
	    .plain_needs_tls = auth_tls,
	    .idle_ms = 10000,
	    .credit = 16,
	    .max_message = 1024 * 1024,
	    .container_id = "QM1",
	};
	char addr[64], err[QSG_ERRMSG_SIZE];
	snprintf(addr, sizeof addr, "127.0.0.1:%s", argv[1]);
	struct amqplisten *l;
	if (amqplisten_start(&l, loop, addr, &cfg, NULL, &fake_ops, &fk, err) != QSG_OK) {
		fprintf(stderr, "amqpfake: %s\n", err);
		return 1;
	}
	amqplisten_set_log(l, fake_log, NULL);
	printf("ready %d\n", amqplisten_port(l));
	fflush(stdout);
	/* SIGTERM: stop, close every connection, free everything, so that
	 * LeakSanitizer sees what is left. */
	uv_signal_t sig;
	uv_signal_init(loop, &sig);
	sig.data = l;
	uv_signal_start_oneshot(&sig, on_term, SIGTERM);
	uv_run(loop, UV_RUN_DEFAULT);
	while (fk.msgs) {
		struct fmsg *f = fk.msgs;
		fk.msgs = f->next;
		fmsg_free(f);
	}
	uv_loop_close(loop);
	printf("stopped\n");
	return 0;
}
