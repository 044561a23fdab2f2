/* The STOMP gateway's connection state and frames (stompgw_int.h): frame
 * writers, ERROR and shutdown, the asynchronous operations behind
 * receipts, and SEND, SUBSCRIBE, UNSUBSCRIBE, ACK/NACK, BEGIN, COMMIT,
 * ABORT (docs/protocols.md "STOMP"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pwhash.h"
#include "gwprops.h"
#include "gwsess.h"
#include "proto/proto.h"
#include "qsgd/daemon.h"
#include "qsgd/log.h"
#include "qsgd/tlsstream.h"
#include "stompgw_int.h"

#define SC_SPARE 4 /* transaction sessions kept for the next BEGIN */
#define PREFETCH_DEFAULT 8
#define MAX_SLOTS 1024 /* sessions of all subscriptions of a connection */
#define MAX_TXS 64 /* transactions open at once on a connection */

/* ---- writing frames ---- */

void sc_out_done(struct sconn *c)
{
	c->last_out = uv_now(c->gw->d->loop);
	stream_mark(&c->stream);
}

void sc_receipt(struct sconn *c, const char *receipt)
{
	if (receipt == NULL || c->state == SC_CLOSING)
		return;
	struct qsg_wbuf *w = &c->stream.out;
	stomp_begin(w, STOMP_RECEIPT);
	stomp_headerz(w, STOMP_RECEIPT, "receipt-id", receipt);
	qsg_put_bytes(w, "\n", 1);
	qsg_put_u8(w, '\0');
	sc_out_done(c);
}

/* ERROR with a reason, then the connection ends (its sessions are closed
 * at once: their units of work are backed out). */
void sc_error(struct sconn *c, const char *receipt, const char *message, const char *detail)
{
	if (c->state == SC_CLOSING)
		return;
	struct qsg_wbuf *w = &c->stream.out;
	stomp_begin(w, STOMP_ERROR);
	stomp_headerz(w, STOMP_ERROR, "message", message);
	if (receipt != NULL)
		stomp_headerz(w, STOMP_ERROR, "receipt-id", receipt);
	stomp_headerz(w, STOMP_ERROR, "content-type", "text/plain");
	stomp_end(w, (const uint8_t *)detail, strlen(detail));
	sc_out_done(c);
	QLOG_DBG(c->gw->d->log, "QSG9103D", "STOMP %s: ERROR %s: %s", c->peer, message, detail);
	sc_shutdown(c, true);
}

void sc_error_rc(struct sconn *c, const char *receipt, const char *what, int rc, const char *text)
{
	char detail[512];
	if (text == NULL || text[0] == '\0')
		text = qsg_rc_text(rc);
	snprintf(detail, sizeof detail, "%s: %s (reason %d)", what, text, rc);
	char message[160];
	snprintf(message, sizeof message, "%s failed (reason %d)", what, rc);
	sc_error(c, receipt, message, detail);
}

/* ---- asynchronous operations ---- */

struct sop *sop_new(struct sconn *c, const struct stomp_frame *f)
{
	struct sop *o = calloc(1, sizeof *o);
	if (o == NULL)
		return NULL;
	o->c = c;
	const char *r = f != NULL ? stomp_get(f, "receipt") : NULL;
	if (r != NULL) {
		snprintf(o->receipt, sizeof o->receipt, "%s", r);
		o->has_receipt = true;
	}
	o->next = c->ops;
	if (c->ops != NULL)
		c->ops->prev = o;
	c->ops = o;
	c->busy++;
	return o;
}

static void sop_unlink(struct sop *o)
{
	struct sconn *c = o->c;
	if (o->prev != NULL)
		o->prev->next = o->next;
	else
		c->ops = o->next;
	if (o->next != NULL)
		o->next->prev = o->prev;
}

/* The input waits for nothing any more: read and parse again (never from
 * inside sc_bytes). */
void sc_resume(struct sconn *c)
{
	if (c->in_bytes || c->state == SC_CLOSING || c->out_held)
		return;
	if (c->paused) {
		c->paused = false;
		stream_pause(&c->stream, false);
	}
	stream_replay(&c->stream);
}

void sop_fail(struct sop *o, int rc, const char *text)
{
	if (o->rc == QSG_OK) {
		o->rc = rc;
		snprintf(o->text, sizeof o->text, "%s", text != NULL ? text : "");
	}
}

void sop_part_done(struct sop *o)
{
	if (o->left > 0 && --o->left > 0)
		return;
	struct sconn *c = o->c;
	sop_unlink(o);
	c->busy--;
	if (o->rc != QSG_OK)
		sc_error_rc(c, o->has_receipt ? o->receipt : NULL, o->what[0] ? o->what : "request",
			    o->rc, o->text);
	else if (o->has_receipt)
		sc_receipt(c, o->receipt);
	free(o);
	sc_resume(c);
}

/* ---- sessions ---- */

void sc_sess_lost(void *arg, int rc, const char *text)
{
	struct sconn *c = arg;
	sc_error_rc(c, NULL, "session", rc, text);
}

struct gwsess *sc_sess(struct sconn *c)
{
	if (c->nspare > 0)
		return c->spare[--c->nspare];
	struct gwsess_peer p = {.peer = c->peer,
				.app = "stomp",
				.same_client = c->main,
				.user = c->login[0] != '\0' ? c->login : NULL,
				.password = c->passcode,
				.cert_cn = tlsstream_peer_cn(&c->stream),
				.tls = c->stream.tls != NULL};
	return gwsess_open(c->gw->d->server, c->gw->d->loop, &p, sc_sess_lost, c, NULL, NULL);
}

void sc_sess_done(struct sconn *c, struct gwsess *g)
{
	if (g == NULL)
		return;
	if (c->nspare < SC_SPARE && gwsess_ready(g) && gwsess_inflight(g) == 0)
		c->spare[c->nspare++] = g;
	else
		gwsess_close(g);
}

/* ---- the connection ---- */

void sc_maybe_free(struct sconn *c)
{
	if (c->nclosed < 2)
		return;
	struct stompgw *gw = c->gw;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		gw->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	gw->nlive--;
	stompgw_maybe_free(gw);
}

static void hb_closed(uv_handle_t *h)
{
	struct sconn *c = h->data;
	c->nclosed++;
	sc_maybe_free(c);
}

void sc_shutdown(struct sconn *c, bool after_write)
{
	if (c->state == SC_CLOSING)
		return;
	c->state = SC_CLOSING;
	sub_close_all(c);
	tx_close_all(c);
	gwsess_close(c->main);
	c->main = NULL;
	for (unsigned i = 0; i < c->nspare; i++)
		gwsess_close(c->spare[i]);
	c->nspare = 0;
	while (c->ops != NULL) {
		struct sop *o = c->ops;
		sop_unlink(o);
		if (o->tx != NULL) { /* a COMMIT or ABORT in flight */
			gwsess_close(o->tx->gs);
			free(o->tx);
		}
		free(o);
	}
	pwhash_wipe(c->passcode, sizeof c->passcode);
	uv_close((uv_handle_t *)&c->hb, hb_closed);
	if (after_write)
		stream_close_after_write(&c->stream);
	else
		stream_close(&c->stream);
}

void stompgw_maybe_free(struct stompgw *gw)
{
	if (gw->closing && gw->nclosed == 3 && gw->nlive == 0)
		free(gw);
}

/* ---- the connection's timer: heart-beats, and output back-pressure ---- */

bool sc_out_full(const struct sconn *c)
{
	return c->stream.out.len + c->stream.writing.len > SC_OUT_MAX;
}

static void slot_get(struct sslot *s);
static void sub_pump(struct ssub *sub);

static void hb_tick(uv_timer_t *h)
{
	struct sconn *c = h->data;
	uint64_t now = uv_now(c->gw->d->loop);
	if (c->state == SC_CLOSING)
		return;
	if (c->out_held && c->stream.out.len + c->stream.writing.len <= SC_OUT_MAX / 2) {
		/* The client read what was waiting: deliver and read again. */
		c->out_held = false;
		sc_timer_arm(c);
		for (struct ssub *s = c->subs; s != NULL; s = s->next)
			sub_pump(s);
		sc_resume(c);
		if (c->state == SC_CLOSING)
			return;
	}
	if (c->hb_out > 0 && now - c->last_out >= c->hb_out) {
		qsg_put_u8(&c->stream.out, '\n');
		sc_out_done(c);
	}
	/* A connection that reads nothing for twice the interval is gone
	 * (not while we hold its input back ourselves). */
	if (c->hb_in > 0 && !c->paused && c->busy == 0 && now - c->last_in > 2ull * c->hb_in) {
		QLOG_INFO_(c->gw->d->log, "QSG9102I",
			   "STOMP %s: no heart-beat for %u ms: connection closed", c->peer,
			   2 * c->hb_in);
		sc_shutdown(c, false);
	}
}

void sc_timer_arm(struct sconn *c)
{
	unsigned tick = 0;
	if (c->hb_out > 0)
		tick = c->hb_out / 2;
	if (c->hb_in > 0 && (tick == 0 || c->hb_in / 2 < tick))
		tick = c->hb_in / 2;
	if (c->out_held && (tick == 0 || tick > 50))
		tick = 50;
	if (tick > 0)
		uv_timer_start(&c->hb, hb_tick, tick, tick);
	else
		uv_timer_stop(&c->hb);
}

/* Output over SC_OUT_MAX: hold deliveries and input until it drains. */
void sc_hold_output(struct sconn *c)
{
	if (c->out_held)
		return;
	c->out_held = true;
	sc_timer_arm(c);
}

/* ---- destinations, ids, properties ---- */

static bool dest_queue(const char *dest, char *queue)
{
	if (dest == NULL || strncmp(dest, "/queue/", 7) != 0)
		return false;
	if (!qsg_name_ok(dest + 7, FSM_NAME_MAX, false))
		return false;
	strcpy(queue, dest + 7);
	return true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A message-id or correlation-id header as MsgId/CorrelId: "ID:" and 48
 * hex digits are the 24 bytes; any other value of at most 24 bytes is
 * taken as is, padded with zero bytes. */
static bool id_parse(const char *s, uint8_t *id)
{
	size_t n = strlen(s);
	memset(id, 0, FSM_ID_LEN);
	if (n == 3 + 2 * FSM_ID_LEN && strncmp(s, "ID:", 3) == 0) {
		bool ok = true;
		for (size_t i = 0; i < FSM_ID_LEN && ok; i++) {
			int hi = hexval(s[3 + 2 * i]), lo = hexval(s[4 + 2 * i]);
			ok = hi >= 0 && lo >= 0;
			id[i] = (uint8_t)(hi << 4 | lo);
		}
		if (ok)
			return true;
		memset(id, 0, FSM_ID_LEN);
	}
	if (n > FSM_ID_LEN)
		return false;
	memcpy(id, s, n);
	return true;
}

static bool id_zero(const uint8_t *id)
{
	for (size_t i = 0; i < FSM_ID_LEN; i++)
		if (id[i] != 0)
			return false;
	return true;
}

/* The reverse: printable text (without its zero padding) as itself, else
 * "ID:" and 48 hex digits. out: at least 3 + 48 + 1 bytes. */
static void id_render(const uint8_t *id, char *out)
{
	size_t n = FSM_ID_LEN;
	while (n > 0 && id[n - 1] == 0)
		n--;
	bool text = n > 0 && !(n >= 3 && memcmp(id, "ID:", 3) == 0);
	for (size_t i = 0; i < n && text; i++)
		text = id[i] >= 0x21 && id[i] <= 0x7e;
	if (text) {
		memcpy(out, id, n);
		out[n] = '\0';
		return;
	}
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "ID:", 3);
	for (size_t i = 0; i < FSM_ID_LEN; i++) {
		out[3 + 2 * i] = hex[id[i] >> 4];
		out[4 + 2 * i] = hex[id[i] & 15];
	}
	out[3 + 2 * FSM_ID_LEN] = '\0';
}

/* Headers that are not message properties: the frame's own, and those a
 * MESSAGE gets from the message itself. */
static bool reserved(const char *name)
{
	static const char *const r[] = {
	    "destination",    "receipt",  "transaction", "content-length", "message-id",
	    "correlation-id", "priority", "persistent",	 "expiration",	   "expires",
	    "subscription",   "ack",	  "id",		 "redelivered",	   "qsg-backout-count"};
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
		if (strcmp(name, r[i]) == 0)
			return true;
	return false;
}

static bool parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	if (s == NULL || *s == '\0')
		return false;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void text_of(const struct proto_resp *resp, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)resp->text.len, (const char *)resp->text.p);
}

/* ---- SEND ---- */

static void send_done(void *arg, const struct proto_resp *resp)
{
	struct sop *o = arg;
	if (resp->rc != QSG_OK) {
		char text[256];
		text_of(resp, text, sizeof text);
		sop_fail(o, resp->rc, text);
	}
	sop_part_done(o);
}

static struct stx *tx_find(struct sconn *c, const char *name, bool unlink)
{
	for (struct stx **pp = &c->txs; *pp != NULL; pp = &(*pp)->next) {
		struct stx *t = *pp;
		if (strcmp(t->name, name) == 0) {
			if (unlink)
				*pp = t->next;
			return t;
		}
	}
	return NULL;
}

void on_send(struct sconn *c, const struct stomp_frame *f)
{
	const char *receipt = stomp_get(f, "receipt");
	const char *dest = stomp_get(f, "destination");
	const char *v;
	char queue[FSM_NAME_MAX + 1];
	if (!dest_queue(dest, queue)) {
		sc_error(c, receipt, "bad destination",
			 "SEND needs destination:/queue/NAME (NAME: 1..48 characters of A-Z a-z "
			 "0-9 . _ / %)");
		return;
	}
	struct gwsess *gs = c->main;
	uint32_t flags = FSM_F_PERSISTENT;
	const char *txn = stomp_get(f, "transaction");
	long long seq = 0;
	if ((v = stomp_get(f, "qsg-seq")) != NULL &&
	    (txn != NULL || !parse_num(v, 1, INT64_MAX, &seq))) {
		sc_error(
		    c, receipt, "bad qsg-seq",
		    "qsg-seq: a number from 1, on SENDs outside transactions (docs/protocols.md)");
		return;
	}
	if (txn != NULL) {
		struct stx *tx = tx_find(c, txn, false);
		if (tx == NULL) {
			sc_error(c, receipt, "unknown transaction",
				 "SEND names a transaction that was not begun (BEGIN)");
			return;
		}
		gs = tx->gs;
		flags |= FSM_F_SYNCPOINT;
	}
	struct fsm_msg m;
	memset(&m, 0, sizeof m);
	long long num;
	m.priority = 4;
	if ((v = stomp_get(f, "priority")) != NULL) {
		if (!parse_num(v, 0, 9, &num)) {
			sc_error(c, receipt, "bad priority", "priority must be 0..9");
			return;
		}
		m.priority = (uint8_t)num;
	}
	if ((v = stomp_get(f, "persistent")) != NULL && strcmp(v, "false") == 0)
		flags &= ~(uint32_t)FSM_F_PERSISTENT;
	if ((v = stomp_get(f, "expiration")) != NULL) {
		if (!parse_num(v, 0, INT64_MAX / 2, &num)) {
			sc_error(c, receipt, "bad expiration",
				 "expiration is the time to live in milliseconds (0: never)");
			return;
		}
		m.expiry_ms = num;
	}
	if ((v = stomp_get(f, "message-id")) != NULL) {
		if (!id_parse(v, m.msgid)) {
			sc_error(c, receipt, "bad message-id",
				 "message-id: at most 24 bytes, or ID: and 48 hex digits");
			return;
		}
	} else {
		flags |= FSM_F_GEN_MSGID;
	}
	if ((v = stomp_get(f, "correlation-id")) != NULL && !id_parse(v, m.correlid)) {
		sc_error(c, receipt, "bad correlation-id",
			 "correlation-id: at most 24 bytes, or ID: and 48 hex digits");
		return;
	}
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	gwprops_begin(&w);
	for (unsigned i = 0; i < f->nheaders; i++) {
		const struct stomp_header *h = &f->h[i];
		if (reserved(h->name) || strncmp(h->name, "qsg-", 4) == 0 ||
		    strlen(h->name) > GWPROPS_NAME_MAX)
			continue;
		bool dup = false; /* a repeated header: the first counts */
		for (unsigned k = 0; k < i && !dup; k++)
			dup = strcmp(f->h[k].name, h->name) == 0;
		if (!dup)
			gwprops_add(&w, h->name, strlen(h->name), h->value, h->value_len);
	}
	if (w.err != QSG_OK || w.len > FSM_MAX_PROPS) {
		qsg_wbuf_close(&w);
		sc_error(c, receipt, "headers too large", "the headers are over 64 KiB");
		return;
	}
	m.props.p = w.data;
	m.props.len = w.len == 1 ? 0 : w.len; /* no properties: none at all */
	m.body.p = f->body;
	m.body.len = f->body_len;
	struct sop *o = sop_new(c, f);
	if (o == NULL) {
		qsg_wbuf_close(&w);
		sc_error(c, receipt, "out of memory", "the member is out of memory");
		return;
	}
	snprintf(o->what, sizeof o->what, "SEND to %.40s", dest);
	o->left = 1;
	gwsess_put_seq(gs, queue, flags, &m, (uint64_t)seq, send_done, o);
	qsg_wbuf_close(&w);
}

/* ---- subscriptions ---- */

/* One GET at a time per subscription, into an idle slot: the messages are
 * taken, and delivered, in the queue's order. */
static void sub_pump(struct ssub *sub)
{
	if (sub->getting)
		return;
	if (sc_out_full(sub->c)) { /* a client that does not read */
		sc_hold_output(sub->c);
		return;
	}
	for (unsigned i = 0; i < sub->n; i++) {
		if (sub->slots[i].state == SL_IDLE) {
			sub->getting = true;
			slot_get(&sub->slots[i]);
			return;
		}
	}
}

/* One MESSAGE frame. */
static void deliver(struct sslot *s, const struct fsm_msg *msg)
{
	struct ssub *sub = s->sub;
	struct sconn *c = sub->c;
	struct qsg_wbuf *w = &c->stream.out;
	char buf[80], dest[FSM_NAME_MAX + 8];
	stomp_begin(w, STOMP_MESSAGE);
	stomp_headerz(w, STOMP_MESSAGE, "subscription", sub->id);
	id_render(msg->msgid, buf);
	stomp_headerz(w, STOMP_MESSAGE, "message-id", buf);
	snprintf(dest, sizeof dest, "/queue/%s", sub->queue);
	stomp_headerz(w, STOMP_MESSAGE, "destination", dest);
	if (sub->ack != ACK_AUTO) {
		s->ack_id = ++c->next_ack;
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)s->ack_id);
		stomp_headerz(w, STOMP_MESSAGE, "ack", buf);
	}
	if (!id_zero(msg->correlid)) {
		id_render(msg->correlid, buf);
		stomp_headerz(w, STOMP_MESSAGE, "correlation-id", buf);
	}
	snprintf(buf, sizeof buf, "%u", (unsigned)msg->priority);
	stomp_headerz(w, STOMP_MESSAGE, "priority", buf);
	stomp_headerz(w, STOMP_MESSAGE, "persistent", msg->persistent ? "true" : "false");
	if (msg->expiry_ms != 0) {
		snprintf(buf, sizeof buf, "%lld", (long long)msg->expiry_ms);
		stomp_headerz(w, STOMP_MESSAGE, "expires", buf);
	}
	if (msg->backout_count > 0) {
		stomp_headerz(w, STOMP_MESSAGE, "redelivered", "true");
		snprintf(buf, sizeof buf, "%u", (unsigned)msg->backout_count);
		stomp_headerz(w, STOMP_MESSAGE, "qsg-backout-count", buf);
	}
	size_t pos = 0;
	struct qsg_slice name, value;
	char nbuf[GWPROPS_NAME_MAX + 1];
	while (gwprops_next(msg->props.p, msg->props.len, &pos, &name, &value) == 1) {
		memcpy(nbuf, name.p, name.len);
		nbuf[name.len] = '\0';
		if (reserved(nbuf) || memchr(value.p, '\0', value.len) != NULL)
			continue;
		stomp_header(w, STOMP_MESSAGE, nbuf, (const char *)value.p, value.len);
	}
	stomp_end(w, msg->body.p, msg->body.len);
	s->state = SL_HELD;
	sc_out_done(c);
}

static bool transient(int rc)
{
	return rc == QSG_RC_OUTCOME_UNKNOWN || rc == QSG_RC_NO_LEADER || rc == QSG_RC_NOT_LEADER ||
	       rc == QSG_RC_BUSY;
}

/* A slot's ACK (commit), NACK (backout) or ack:auto commit is done. */
static void slot_settled(void *arg, const struct proto_resp *resp)
{
	struct sslot *s = arg;
	struct sop *o = s->op;
	struct sconn *c = s->sub->c;
	s->op = NULL;
	s->tx = NULL;
	if (resp->rc != QSG_OK) {
		char text[256];
		text_of(resp, text, sizeof text);
		if (o != NULL) {
			sop_fail(o, resp->rc, text);
			sop_part_done(o);
		} else {
			sc_error_rc(c, NULL, "acknowledgement", resp->rc, text);
		}
		return;
	}
	s->state = SL_IDLE;
	sub_pump(s->sub); /* before sop_part_done: an ERROR there frees s */
	if (o != NULL)
		sop_part_done(o);
}

static void slot_reget(void *arg, const struct proto_resp *resp)
{
	struct sslot *s = arg;
	if (resp->rc != QSG_OK) {
		char text[256];
		text_of(resp, text, sizeof text);
		sc_error_rc(s->sub->c, NULL, "backout", resp->rc, text);
		return;
	}
	slot_get(s);
}

static void slot_got(void *arg, const struct proto_resp *resp)
{
	struct sslot *s = arg;
	struct ssub *sub = s->sub;
	if (resp->rc == QSG_RC_NO_MSG_AVAILABLE) {
		slot_get(s);
		return;
	}
	if (transient(resp->rc)) {
		/* The GET may have locked a message: back it out, then again. */
		s->state = SL_SETTLING;
		gwsess_backout(s->gs, slot_reget, s);
		return;
	}
	if (resp->rc != QSG_OK) {
		char text[256], what[80];
		text_of(resp, text, sizeof text);
		snprintf(what, sizeof what, "SUBSCRIBE to /queue/%s", sub->queue);
		sc_error_rc(sub->c, NULL, what, resp->rc, text);
		return;
	}
	deliver(s, &resp->u.get.msg);
	sub->getting = false;
	if (sub->ack == ACK_AUTO) {
		s->state = SL_SETTLING;
		s->op = NULL;
		gwsess_commit(s->gs, slot_settled, s);
	}
	sub_pump(sub);
}

static void slot_get(struct sslot *s)
{
	s->state = SL_GETTING;
	gwsess_get(s->gs, s->sub->queue, FSM_F_SYNCPOINT, -1, slot_got, s);
}

static void sub_free(struct ssub *sub)
{
	for (unsigned i = 0; i < sub->n; i++)
		gwsess_close(sub->slots[i].gs);
	free(sub->slots);
	free(sub);
}

void on_subscribe(struct sconn *c, const struct stomp_frame *f)
{
	const char *receipt = stomp_get(f, "receipt");
	const char *id = stomp_get(f, "id");
	const char *ack = stomp_get(f, "ack");
	const char *pf = stomp_get(f, "prefetch-count");
	char queue[FSM_NAME_MAX + 1];
	long long n = PREFETCH_DEFAULT;
	int mode = ACK_AUTO;
	if (id == NULL || id[0] == '\0' || strlen(id) > STOMP_ID_MAX) {
		sc_error(c, receipt, "bad subscription id", "SUBSCRIBE needs an id (1..255 bytes)");
		return;
	}
	if (!dest_queue(stomp_get(f, "destination"), queue)) {
		sc_error(c, receipt, "bad destination",
			 "SUBSCRIBE needs destination:/queue/NAME (NAME: 1..48 characters of A-Z "
			 "a-z 0-9 . _ / %)");
		return;
	}
	if (ack == NULL || strcmp(ack, "auto") == 0)
		mode = ACK_AUTO;
	else if (strcmp(ack, "client") == 0)
		mode = ACK_CLIENT;
	else if (strcmp(ack, "client-individual") == 0)
		mode = ACK_INDIV;
	else {
		sc_error(c, receipt, "bad ack mode",
			 "ack must be auto, client or client-individual");
		return;
	}
	if (pf != NULL && !parse_num(pf, 1, c->gw->max_prefetch, &n)) {
		char d[120];
		snprintf(d, sizeof d, "prefetch-count must be 1..%u ([stomp] max_prefetch)",
			 c->gw->max_prefetch);
		sc_error(c, receipt, "bad prefetch-count", d);
		return;
	}
	unsigned held = 0;
	for (struct ssub *s = c->subs; s != NULL; s = s->next)
		held += s->n;
	if (held + (unsigned)n > MAX_SLOTS) {
		sc_error(
		    c, receipt, "too many subscriptions",
		    "the prefetch-counts of a connection's subscriptions add up to 1024 at most");
		return;
	}
	for (struct ssub *s = c->subs; s != NULL; s = s->next) {
		if (strcmp(s->id, id) == 0) {
			sc_error(c, receipt, "duplicate subscription id",
				 "a subscription with this id exists on this connection");
			return;
		}
	}
	struct ssub *sub = calloc(1, sizeof *sub);
	if (sub != NULL)
		sub->slots = calloc((size_t)n, sizeof *sub->slots);
	if (sub == NULL || sub->slots == NULL) {
		free(sub);
		sc_error(c, receipt, "out of memory", "the member is out of memory");
		return;
	}
	sub->c = c;
	snprintf(sub->id, sizeof sub->id, "%s", id);
	strcpy(sub->queue, queue);
	sub->ack = mode;
	sub->n = (unsigned)n;
	sub->next = c->subs;
	c->subs = sub;
	for (unsigned i = 0; i < sub->n; i++) {
		sub->slots[i].sub = sub;
		sub->slots[i].gs = sc_sess(c);
		if (sub->slots[i].gs == NULL) {
			sc_error(c, receipt, "server unavailable",
				 "the member is stopping or out of memory");
			return;
		}
	}
	sub_pump(sub);
	sc_receipt(c, receipt);
}

void on_unsubscribe(struct sconn *c, const struct stomp_frame *f)
{
	const char *receipt = stomp_get(f, "receipt");
	const char *id = stomp_get(f, "id");
	for (struct ssub **pp = &c->subs; id != NULL && *pp != NULL; pp = &(*pp)->next) {
		struct ssub *sub = *pp;
		if (strcmp(sub->id, id) == 0) {
			/* Its sessions are detached: what it holds goes back. */
			*pp = sub->next;
			sub_free(sub);
			sc_receipt(c, receipt);
			return;
		}
	}
	sc_error(c, receipt, "unknown subscription", "UNSUBSCRIBE names no subscription");
}

void sub_close_all(struct sconn *c)
{
	while (c->subs != NULL) {
		struct ssub *sub = c->subs;
		c->subs = sub->next;
		sub_free(sub);
	}
}

/* ---- ACK and NACK ---- */

void on_ack(struct sconn *c, const struct stomp_frame *f, bool nack)
{
	const char *receipt = stomp_get(f, "receipt");
	const char *txn = stomp_get(f, "transaction");
	long long id;
	if (!parse_num(stomp_get(f, "id"), 1, INT64_MAX, &id)) {
		sc_error(c, receipt, "bad ack id",
			 "ACK and NACK need the MESSAGE's ack header as id");
		return;
	}
	struct stx *tx = NULL;
	if (txn != NULL && (tx = tx_find(c, txn, false)) == NULL) {
		sc_error(c, receipt, "unknown transaction",
			 "ACK or NACK names a transaction that was not begun (BEGIN)");
		return;
	}
	struct sslot *hit = NULL;
	for (struct ssub *sub = c->subs; sub != NULL && hit == NULL; sub = sub->next)
		for (unsigned i = 0; i < sub->n && hit == NULL; i++)
			if (sub->slots[i].state == SL_HELD && sub->slots[i].tx == NULL &&
			    sub->slots[i].ack_id == (uint64_t)id)
				hit = &sub->slots[i];
	if (hit == NULL) {
		/* Unknown, settled already, or covered by a cumulative ACK. */
		sc_receipt(c, receipt);
		return;
	}
	struct ssub *sub = hit->sub;
	/* ack:client is cumulative: every message of the subscription
	 * delivered up to this one. */
	unsigned n = 0;
	for (unsigned i = 0; i < sub->n; i++) {
		struct sslot *s = &sub->slots[i];
		if (s->state == SL_HELD && s->tx == NULL &&
		    (s == hit || (sub->ack == ACK_CLIENT && s->ack_id < hit->ack_id)))
			n++;
	}
	struct sop *o = NULL;
	if (tx == NULL) {
		o = sop_new(c, f);
		if (o == NULL) {
			sc_error(c, receipt, "out of memory", "the member is out of memory");
			return;
		}
		snprintf(o->what, sizeof o->what, "%s", nack ? "NACK" : "ACK");
		o->left = n;
	}
	for (unsigned i = 0; i < sub->n; i++) {
		struct sslot *s = &sub->slots[i];
		if (!(s->state == SL_HELD && s->tx == NULL &&
		      (s == hit || (sub->ack == ACK_CLIENT && s->ack_id < hit->ack_id))))
			continue;
		if (tx != NULL) { /* done when the transaction commits */
			s->tx = tx;
			s->tx_nack = nack;
			continue;
		}
		s->state = SL_SETTLING;
		s->op = o;
		if (nack)
			gwsess_backout(s->gs, slot_settled, s);
		else
			gwsess_commit(s->gs, slot_settled, s);
	}
	if (tx != NULL)
		sc_receipt(c, receipt);
}

/* ---- transactions ---- */

void on_begin(struct sconn *c, const struct stomp_frame *f)
{
	const char *receipt = stomp_get(f, "receipt");
	const char *txn = stomp_get(f, "transaction");
	if (txn == NULL || txn[0] == '\0' || strlen(txn) > STOMP_ID_MAX) {
		sc_error(c, receipt, "bad transaction", "BEGIN needs a transaction (1..255 bytes)");
		return;
	}
	if (tx_find(c, txn, false) != NULL) {
		sc_error(c, receipt, "transaction exists", "this transaction was begun already");
		return;
	}
	unsigned ntx = 0;
	for (struct stx *t = c->txs; t != NULL; t = t->next)
		ntx++;
	if (ntx >= MAX_TXS) {
		sc_error(c, receipt, "too many transactions",
			 "at most 64 transactions are open at once on a connection");
		return;
	}
	struct stx *tx = calloc(1, sizeof *tx);
	if (tx == NULL || (tx->gs = sc_sess(c)) == NULL) {
		free(tx);
		sc_error(c, receipt, "server unavailable",
			 "the member is stopping or out of memory");
		return;
	}
	snprintf(tx->name, sizeof tx->name, "%s", txn);
	tx->next = c->txs;
	c->txs = tx;
	sc_receipt(c, receipt);
}

static void tx_free(struct sconn *c, struct stx *tx, bool reuse)
{
	for (struct ssub *sub = c->subs; sub != NULL; sub = sub->next)
		for (unsigned i = 0; i < sub->n; i++)
			if (sub->slots[i].tx == tx)
				sub->slots[i].tx = NULL;
	if (reuse)
		sc_sess_done(c, tx->gs);
	else
		gwsess_close(tx->gs);
	free(tx);
}

/* The transaction's SENDs are committed: now its ACKs and NACKs. */
static void tx_committed(void *arg, const struct proto_resp *resp)
{
	struct sop *o = arg;
	struct sconn *c = o->c;
	struct stx *tx = o->tx;
	o->tx = NULL;
	if (resp->rc != QSG_OK) {
		char text[256];
		text_of(resp, text, sizeof text);
		tx_free(c, tx, false);
		sop_fail(o, resp->rc, text);
		sop_part_done(o);
		return;
	}
	unsigned n = 0;
	for (struct ssub *sub = c->subs; sub != NULL; sub = sub->next)
		for (unsigned i = 0; i < sub->n; i++)
			if (sub->slots[i].tx == tx)
				n++;
	if (n == 0) {
		tx_free(c, tx, true);
		sop_part_done(o);
		return;
	}
	o->left = n;
	for (struct ssub *sub = c->subs; sub != NULL; sub = sub->next) {
		for (unsigned i = 0; i < sub->n; i++) {
			struct sslot *s = &sub->slots[i];
			if (s->tx != tx)
				continue;
			s->tx = NULL;
			s->state = SL_SETTLING;
			s->op = o;
			if (s->tx_nack)
				gwsess_backout(s->gs, slot_settled, s);
			else
				gwsess_commit(s->gs, slot_settled, s);
		}
	}
	tx_free(c, tx, true);
}

static void tx_aborted(void *arg, const struct proto_resp *resp)
{
	struct sop *o = arg;
	struct stx *tx = o->tx;
	o->tx = NULL;
	if (resp->rc != QSG_OK) {
		char text[256];
		text_of(resp, text, sizeof text);
		sop_fail(o, resp->rc, text);
	}
	tx_free(o->c, tx, resp->rc == QSG_OK);
	sop_part_done(o);
}

static void tx_end(struct sconn *c, const struct stomp_frame *f, bool commit)
{
	const char *receipt = stomp_get(f, "receipt");
	const char *txn = stomp_get(f, "transaction");
	struct stx *tx = txn != NULL ? tx_find(c, txn, true) : NULL;
	if (tx == NULL) {
		sc_error(c, receipt, "unknown transaction",
			 commit ? "COMMIT names no transaction begun on this connection"
				: "ABORT names no transaction begun on this connection");
		return;
	}
	struct sop *o = sop_new(c, f);
	if (o == NULL) {
		tx_free(c, tx, false);
		sc_error(c, receipt, "out of memory", "the member is out of memory");
		return;
	}
	snprintf(o->what, sizeof o->what, "%s of transaction %.32s", commit ? "COMMIT" : "ABORT",
		 txn);
	o->tx = tx;
	o->left = 1;
	if (commit) {
		gwsess_commit(tx->gs, tx_committed, o);
	} else {
		/* Its ACKs are forgotten: the messages stay unacknowledged. */
		for (struct ssub *sub = c->subs; sub != NULL; sub = sub->next)
			for (unsigned i = 0; i < sub->n; i++)
				if (sub->slots[i].tx == tx)
					sub->slots[i].tx = NULL;
		gwsess_backout(tx->gs, tx_aborted, o);
	}
}

void on_commit(struct sconn *c, const struct stomp_frame *f)
{
	tx_end(c, f, true);
}

void on_abort(struct sconn *c, const struct stomp_frame *f)
{
	tx_end(c, f, false);
}

void tx_close_all(struct sconn *c)
{
	while (c->txs != NULL) {
		struct stx *tx = c->txs;
		c->txs = tx->next;
		gwsess_close(tx->gs);
		free(tx);
	}
}
