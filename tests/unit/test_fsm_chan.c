/* Unit tests for the channel part of src/fsm (fsm_chan.h): remote and
 * transmission queues, channel definitions, the status table (CAS), sender
 * batches (GETBATCH/SETTLE/RESET), receiver batches (SYNCQ), snapshots and
 * malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm.h"
#include "fsm/fsm_int.h"
#include "fsm/membodies.h"

#define MAX_LOG 1024

struct ctx {
	struct fsm *f;
	int64_t now;
	struct qsg_wbuf res; /* results of the last entry */
	struct fsm_result r; /* decoded result of the last command */
	uint8_t *log[MAX_LOG];
	size_t loglen[MAX_LOG];
	size_t nlog;
	uint32_t notified;
	uint64_t ep; /* epoch of client 1 (attached in setup) */
};

static void on_notify(void *arg, uint32_t scope, const char *queue, uint32_t n)
{
	struct ctx *x = arg;
	(void)scope;
	(void)queue;
	x->notified += n;
}

static int exec(struct ctx *x, const struct fsm_cmd *c);

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	assert_int_equal(fsm_init(&x->f, NULL), QSG_OK);
	fsm_set_notify(x->f, on_notify, x);
	qsg_wbuf_init(&x->res);
	x->now = 1000000;
	*state = x;
	/* Members 1 and 2, client 1 attached through member 1. */
	for (uint32_t id = 1; id <= 2; id++) {
		struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN, .member_id = id};
		snprintf(c.name, sizeof c.name, "QM%u", id);
		assert_int_equal(exec(x, &c), QSG_OK);
	}
	struct fsm_cmd c = {.op = FSM_OP_ATTACH, .client_id = 1, .member_id = 1};
	assert_int_equal(exec(x, &c), QSG_OK);
	x->ep = x->r.epoch;
	return 0;
}

static int add_depth(void *arg, const struct fsm_qinfo *q)
{
	*(uint64_t *)arg += q->curdepth;
	return 0;
}

/* The built-in provider holds the content of exactly the messages of the
 * state: every message that left was released (true of an fsm that never
 * restored a snapshot). */
static void assert_bodies_held(struct fsm *f)
{
	if (f->mem == NULL)
		return;
	uint64_t n = 0;
	fsm_queue_foreach(f, add_depth, &n);
	assert_int_equal(membodies_count(f->mem), n);
}

static int teardown(void **state)
{
	struct ctx *x = *state;
	assert_bodies_held(x->f);
	fsm_close(x->f);
	qsg_wbuf_close(&x->res);
	for (size_t i = 0; i < x->nlog; i++)
		free(x->log[i]);
	free(x);
	return 0;
}

/* Apply one command and decode its result into x->r; returns its rc. */
static int exec(struct ctx *x, const struct fsm_cmd *c)
{
	struct qsg_wbuf w, e;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&e);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	fsm_entry_begin(&e, x->now);
	fsm_entry_add(&e, w.data, w.len);
	assert_int_equal(e.err, QSG_OK);
	qsg_wbuf_reset(&x->res);
	assert_int_equal(fsm_apply(x->f, e.data, e.len, &x->res, errmsg), QSG_OK);
	assert_true(x->nlog < MAX_LOG);
	x->log[x->nlog] = malloc(e.len);
	assert_non_null(x->log[x->nlog]);
	memcpy(x->log[x->nlog], e.data, e.len);
	x->loglen[x->nlog++] = e.len;
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&e);
	uint32_t len = qsg_le32(x->res.data);
	assert_int_equal(len + 4, x->res.len);
	assert_int_equal(fsm_result_decode(c->op, x->res.data + 4, len, &x->r, NULL), QSG_OK);
	return x->r.rc;
}

/* --- helpers ------------------------------------------------------------- */

static int qlocal(struct ctx *x, const char *name, uint8_t usage, uint32_t maxdepth)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	strcpy(c.attrs.name, name);
	c.attrs.qtype = FSM_QT_LOCAL;
	c.attrs.usage = usage;
	c.attrs.maxdepth = maxdepth;
	c.attrs.set = FSM_QA_USAGE | (maxdepth ? FSM_QA_MAXDEPTH : 0);
	return exec(x, &c);
}

static int qremote(struct ctx *x, const char *name, const char *rname, const char *rqmname,
		   const char *xmitq)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	strcpy(c.attrs.name, name);
	c.attrs.qtype = FSM_QT_REMOTE;
	strcpy(c.attrs.rname, rname);
	strcpy(c.attrs.rqmname, rqmname);
	strcpy(c.attrs.xmitq, xmitq);
	c.attrs.set = FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ;
	return exec(x, &c);
}

static int qalter(struct ctx *x, const char *name, uint8_t qtype, uint32_t set, uint32_t maxmsgl)
{
	struct fsm_cmd c = {.op = FSM_OP_QALTER};
	strcpy(c.attrs.name, name);
	c.attrs.qtype = qtype;
	c.attrs.set = set;
	c.attrs.maxmsgl = maxmsgl;
	c.attrs.put_inhibited = 1;
	return exec(x, &c);
}

static int put(struct ctx *x, const char *queue, uint32_t flags, uint8_t prio, const char *body)
{
	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = 1, .epoch = x->ep, .flags = flags};
	strcpy(c.queue, queue);
	c.msg.priority = prio;
	c.msg.msgid[0] = (uint8_t)body[0];
	c.msg.body.p = (const uint8_t *)body;
	c.msg.body.len = strlen(body);
	return exec(x, &c);
}

static int get(struct ctx *x, const char *queue)
{
	struct fsm_cmd c = {.op = FSM_OP_GET, .client_id = 1, .epoch = x->ep};
	strcpy(c.queue, queue);
	return exec(x, &c);
}

static struct fsm_qinfo qi(struct ctx *x, const char *name)
{
	struct fsm_qinfo info;
	assert_int_equal(fsm_queue_info(x->f, 0, name, &info), QSG_OK);
	return info;
}

static int chdef(struct ctx *x, const char *name, uint8_t type, const char *xmitq, uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_CHDEFINE, .flags = flags};
	strcpy(c.ch.attrs.name, name);
	c.ch.attrs.set = FSM_CA_CHLTYPE;
	c.ch.attrs.chltype = type;
	if (type == FSM_CHL_SDR) {
		c.ch.attrs.set |= FSM_CA_CONNAME | FSM_CA_XMITQ;
		strcpy(c.ch.attrs.conname, "127.0.0.1:1414");
		strcpy(c.ch.attrs.xmitq, xmitq);
	}
	return exec(x, &c);
}

static struct fsm_chimage img(uint8_t exists, uint32_t owner, uint8_t st, uint64_t epoch)
{
	struct fsm_chimage i = {.exists = exists, .owner = owner, .state = st, .epoch = epoch};
	return i;
}

static int cas(struct ctx *x, const char *name, const char *rqm, uint8_t type,
	       struct fsm_chimage before, struct fsm_chimage after)
{
	struct fsm_cmd c = {.op = FSM_OP_CHST_CAS};
	strcpy(c.ch.name, name);
	strcpy(c.ch.rqmname, rqm);
	c.ch.chltype = type;
	c.ch.before = before;
	c.ch.after = after;
	strcpy(c.ch.conname, "127.0.0.1:1414");
	strcpy(c.ch.reason, "test");
	return exec(x, &c);
}

/* SDR channel `name` running on `member` with epoch 1 (new entry). */
static void sdr_running(struct ctx *x, const char *name, uint32_t member)
{
	assert_int_equal(
	    cas(x, name, "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, member, FSM_CHS_STARTING, 1)),
	    QSG_OK);
	assert_int_equal(cas(x, name, "", 0, img(1, member, FSM_CHS_STARTING, 1),
			     img(1, member, FSM_CHS_RUNNING, 1)),
			 QSG_OK);
}

static struct fsm_chstatus chst(struct ctx *x, const char *name, const char *rqm)
{
	struct fsm_chstatus s;
	assert_int_equal(fsm_chstatus_get(x->f, name, rqm, &s), QSG_OK);
	return s;
}

/* GETBATCH; the sequence numbers and first bodies land in seqs/bodies. */
static int getbatch(struct ctx *x, const char *name, uint32_t member, uint64_t epoch, uint32_t max,
		    uint32_t max_bytes, uint64_t *seqs, char bodies[][64])
{
	struct fsm_cmd c = {.op = FSM_OP_CH_GETBATCH};
	strcpy(c.ch.name, name);
	c.ch.member_id = member;
	c.ch.epoch = epoch;
	c.ch.max_msgs = max;
	c.ch.max_bytes = max_bytes;
	int rc = exec(x, &c);
	if (rc != QSG_OK)
		return rc;
	struct fsm_chiter it;
	fsm_chiter_result(&it, &x->r.ch);
	for (uint32_t i = 0;; i++) {
		uint64_t seq;
		struct fsm_msg m;
		int done;
		assert_int_equal(fsm_chiter_batch(&it, &seq, &m, &done), QSG_OK);
		if (done) {
			assert_int_equal(i, x->r.ch.count);
			break;
		}
		if (seqs != NULL)
			seqs[i] = seq;
		if (bodies != NULL) {
			/* The original body after the XQH. */
			struct fsm_xqh h;
			size_t hl;
			assert_int_equal(fsm_xqh_decode(m.body.p, m.body.len, &h, &hl), QSG_OK);
			size_t n = m.body.len - hl < 63 ? m.body.len - hl : 63;
			memcpy(bodies[i], m.body.p + hl, n);
			bodies[i][n] = '\0';
		}
	}
	return rc;
}

static int settle(struct ctx *x, const char *name, uint32_t member, uint64_t epoch, uint64_t upto,
		  uint32_t flags, const struct fsm_chdisp *d, uint32_t nd)
{
	struct fsm_cmd c = {.op = FSM_OP_CH_SETTLE};
	struct qsg_wbuf l;
	qsg_wbuf_init(&l);
	for (uint32_t i = 0; i < nd; i++)
		fsm_chlist_put_disp(&l, &d[i]);
	strcpy(c.ch.name, name);
	c.ch.member_id = member;
	c.ch.epoch = epoch;
	c.ch.seq = upto;
	c.ch.flags = flags;
	c.ch.count = nd;
	c.ch.list.p = l.data;
	c.ch.list.len = l.len;
	int rc = exec(x, &c);
	qsg_wbuf_close(&l);
	return rc;
}

static int recv_start_m(struct ctx *x, const char *name, const char *rqm, uint32_t member,
			uint64_t epoch, uint32_t flags, uint64_t seq)
{
	struct fsm_cmd c = {.op = FSM_OP_CH_RECV_START};
	strcpy(c.ch.name, name);
	strcpy(c.ch.rqmname, rqm);
	c.ch.member_id = member;
	c.ch.epoch = epoch;
	c.ch.flags = flags;
	c.ch.seq = seq;
	strcpy(c.ch.conname, "10.0.0.1");
	return exec(x, &c);
}

/* The old form (no FSM_CHF_TAKEOVER) from member 2. */
static int recv_start(struct ctx *x, const char *name, const char *rqm, uint64_t epoch,
		      uint32_t flags, uint64_t seq)
{
	return recv_start_m(x, name, rqm, 2, epoch, flags, seq);
}

struct rmsg {
	const char *rqmname, *rname, *body;
};

/* A batch from `member` of receiver instance `rinst` (0: the old form). */
static int recv_batch_m(struct ctx *x, const char *name, const char *rqm, uint32_t member,
			uint64_t rinst, uint64_t epoch, uint64_t first, uint64_t last,
			uint32_t count, const struct rmsg *msgs, uint32_t n)
{
	struct fsm_cmd c = {.op = FSM_OP_CH_RECV_BATCH};
	struct qsg_wbuf l;
	qsg_wbuf_init(&l);
	for (uint32_t i = 0; i < n; i++) {
		struct fsm_chmsg m;
		memset(&m, 0, sizeof m);
		strcpy(m.rqmname, msgs[i].rqmname);
		strcpy(m.rname, msgs[i].rname);
		m.msg.priority = 4;
		m.msg.persistent = 1;
		m.msg.msgid[0] = (uint8_t)i;
		m.msg.body.p = (const uint8_t *)msgs[i].body;
		m.msg.body.len = strlen(msgs[i].body);
		fsm_chlist_put_msg(&l, &m);
	}
	strcpy(c.ch.name, name);
	strcpy(c.ch.rqmname, rqm);
	strcpy(c.ch.local_qmgr, "QSG1");
	c.ch.member_id = member;
	c.ch.rinst = rinst;
	c.ch.epoch = epoch;
	c.ch.seq = first;
	c.ch.last = last;
	c.ch.luwid = 77 + first;
	c.ch.count = count;
	c.ch.list.p = l.data;
	c.ch.list.len = l.len;
	int rc = exec(x, &c);
	qsg_wbuf_close(&l);
	return rc;
}

static int recv_batch(struct ctx *x, const char *name, const char *rqm, uint64_t epoch,
		      uint64_t first, uint64_t last, uint32_t count, const struct rmsg *msgs,
		      uint32_t n)
{
	return recv_batch_m(x, name, rqm, 2, 0, epoch, first, last, count, msgs, n);
}

/* A queue with an SDR channel TO.QM2 running on member 1 and n messages
 * "m0".."m{n-1}" put through remote queue QR (priority 0). */
static void sender_setup(struct ctx *x, int n)
{
	assert_int_equal(qlocal(x, "QM2", FSM_USAGE_XMITQ, 0), QSG_OK);
	assert_int_equal(qremote(x, "QR", "APP.Q", "QM2", ""), QSG_OK);
	assert_int_equal(chdef(x, "TO.QM2", FSM_CHL_SDR, "QM2", 0), QSG_OK);
	sdr_running(x, "TO.QM2", 1);
	for (int i = 0; i < n; i++) {
		char b[16];
		snprintf(b, sizeof b, "m%d", i);
		assert_int_equal(put(x, "QR", 0, 0, b), QSG_OK);
	}
}

static uint64_t digest(struct ctx *x)
{
	return fsm_digest(x->f);
}

/* --- remote queues ------------------------------------------------------- */

static void qremote_put_goes_to_xmitq_with_xqh(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "XQ", FSM_USAGE_XMITQ, 0), QSG_OK);
	assert_int_equal(qremote(x, "QR", "RQ", "QM2", "XQ"), QSG_OK);
	x->notified = 0;
	assert_int_equal(put(x, "QR", FSM_F_PERSISTENT, 6, "hello"), QSG_OK);
	uint64_t seqno = x->r.msg.seqno;
	assert_int_equal(x->notified, 1);
	assert_int_equal(qi(x, "XQ").curdepth, 1);
	assert_int_equal(qi(x, "QR").curdepth, 0);
	assert_int_equal(get(x, "XQ"), QSG_OK);
	assert_int_equal(x->r.msg.priority, 6);
	assert_int_equal(x->r.msg.persistent, 1);
	assert_int_equal(x->r.msg.msgid[0], 'h');
	assert_int_equal(x->r.msg.seqno, seqno);
	struct fsm_xqh h;
	size_t hl;
	assert_int_equal(fsm_xqh_decode(x->r.msg.body.p, x->r.msg.body.len, &h, &hl), QSG_OK);
	assert_string_equal(h.rqmname, "QM2");
	assert_string_equal(h.rname, "RQ");
	assert_string_equal(h.srcqmgr, "");
	assert_int_equal(h.put_ms, x->now);
	assert_int_equal(x->r.msg.body.len - hl, 5);
	assert_memory_equal(x->r.msg.body.p + hl, "hello", 5);
	/* foreach reports both types. */
	struct fsm_qinfo info = qi(x, "QR");
	assert_int_equal(info.attrs.qtype, FSM_QT_REMOTE);
	assert_string_equal(info.attrs.rname, "RQ");
	assert_string_equal(info.attrs.xmitq, "XQ");
	info = qi(x, "XQ");
	assert_int_equal(info.attrs.qtype, FSM_QT_LOCAL);
	assert_int_equal(info.attrs.usage, FSM_USAGE_XMITQ);
}

static void qremote_default_xmitq_and_errors(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qremote(x, "QR", "RQ", "QM2", ""), QSG_OK);
	assert_int_equal(put(x, "QR", 0, 0, "a"), QSG_RC_UNKNOWN_REMOTE_Q_MGR);
	assert_int_equal(qlocal(x, "QM2", FSM_USAGE_NORMAL, 0), QSG_OK);
	assert_int_equal(put(x, "QR", 0, 0, "a"), QSG_RC_XMIT_Q_USAGE_ERROR);
	struct fsm_cmd c = {.op = FSM_OP_QALTER};
	strcpy(c.attrs.name, "QM2");
	c.attrs.set = FSM_QA_USAGE | FSM_QA_MAXDEPTH | FSM_QA_MAXMSGL;
	c.attrs.usage = FSM_USAGE_XMITQ;
	c.attrs.maxdepth = 2;
	c.attrs.maxmsgl = 5;
	assert_int_equal(exec(x, &c), QSG_OK);
	/* MAXMSGL is checked on the original body (the XQH does not count). */
	assert_int_equal(put(x, "QR", 0, 0, "12345"), QSG_OK);
	assert_int_equal(put(x, "QR", 0, 0, "123456"), QSG_RC_MSG_TOO_BIG);
	assert_int_equal(put(x, "QR", 0, 0, "b"), QSG_OK);
	assert_int_equal(put(x, "QR", 0, 0, "c"), QSG_RC_Q_FULL);
	assert_int_equal(qi(x, "QM2").curdepth, 2);
	/* No input from a remote queue; OPEN works. */
	assert_int_equal(get(x, "QR"), QSG_RC_NOT_OPEN_FOR_INPUT);
	struct fsm_cmd b = {.op = FSM_OP_BROWSE};
	strcpy(b.queue, "QR");
	assert_int_equal(exec(x, &b), QSG_RC_NOT_OPEN_FOR_INPUT);
	struct fsm_cmd o = {.op = FSM_OP_OPEN, .client_id = 1, .epoch = x->ep};
	strcpy(o.queue, "QR");
	assert_int_equal(exec(x, &o), QSG_OK);
	/* Member 1 joined before QR was defined: it has a COPY of the group
	 * object, and its clients use that. */
	struct fsm_qinfo cp;
	assert_int_equal(fsm_queue_info(x->f, 1, "QR", &cp), QSG_OK);
	assert_int_equal(cp.attrs.disp, FSM_DISP_COPY);
	assert_int_equal(cp.opens, 1);
	assert_int_equal(qi(x, "QR").opens, 0);
	/* PUT(DISABLED) on the remote queue. */
	assert_int_equal(qalter(x, "QR", FSM_QT_REMOTE, FSM_QA_PUT, 0), QSG_OK);
	assert_int_equal(put(x, "QR", 0, 0, "d"), QSG_RC_PUT_INHIBITED);
}

static void qremote_syncpoint_and_dedup(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "QM2", FSM_USAGE_XMITQ, 0), QSG_OK);
	assert_int_equal(qremote(x, "QR", "RQ", "QM2", ""), QSG_OK);
	assert_int_equal(put(x, "QR", FSM_F_SYNCPOINT, 0, "s1"), QSG_OK);
	struct fsm_qinfo i = qi(x, "QM2");
	assert_int_equal(i.curdepth, 1);
	assert_int_equal(i.uncommitted, 1);
	assert_int_equal(fsm_available(x->f, 0, "QM2"), 0);
	struct fsm_cmd c = {.op = FSM_OP_COMMIT, .client_id = 1, .epoch = x->ep, .seq = 1};
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(fsm_available(x->f, 0, "QM2"), 1);
	/* Producer sequence numbers as for a local put. */
	struct fsm_cmd p = {.op = FSM_OP_PUT, .client_id = 1, .epoch = x->ep, .seq = 1};
	strcpy(p.queue, "QR");
	p.msg.body.p = (const uint8_t *)"x";
	p.msg.body.len = 1;
	assert_int_equal(exec(x, &p), QSG_OK);
	assert_int_equal(x->r.duplicate, 0);
	assert_int_equal(exec(x, &p), QSG_OK);
	assert_int_equal(x->r.duplicate, 1);
	assert_int_equal(qi(x, "QM2").curdepth, 2);
}

static void qtype_rules(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "QL", FSM_USAGE_NORMAL, 0), QSG_OK);
	assert_int_equal(qremote(x, "QR", "RQ", "QM2", ""), QSG_OK);
	/* One name space; REPLACE of another type is refused. */
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE, .flags = FSM_F_REPLACE};
	strcpy(c.attrs.name, "QL");
	c.attrs.qtype = FSM_QT_REMOTE;
	c.attrs.set = FSM_QA_RNAME | FSM_QA_RQMNAME;
	strcpy(c.attrs.rname, "A");
	strcpy(c.attrs.rqmname, "B");
	assert_int_equal(exec(x, &c), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(qlocal(x, "QR", 0, 0), QSG_RC_OBJECT_EXISTS);
	/* REPLACE of the same type works. */
	assert_int_equal(exec(x, &(struct fsm_cmd){.op = FSM_OP_QDEFINE,
						   .flags = FSM_F_REPLACE,
						   .attrs = {.name = "QR",
							     .qtype = FSM_QT_REMOTE,
							     .set = FSM_QA_RNAME | FSM_QA_RQMNAME,
							     .rname = "X",
							     .rqmname = "Y"}}),
			 QSG_OK);
	assert_string_equal(qi(x, "QR").attrs.rname, "X");
	/* QALTER cannot change the type (0 = LOCAL). */
	assert_int_equal(qalter(x, "QL", FSM_QT_REMOTE, 0, 0), QSG_RC_BAD_ATTR);
	assert_int_equal(qalter(x, "QR", 0, 0, 0), QSG_RC_BAD_ATTR);
	assert_int_equal(qalter(x, "QR", FSM_QT_REMOTE, FSM_QA_PUT, 0), QSG_OK);
	/* Remote queues need RNAME and RQMNAME; local ones have no remote
	 * attributes; remote ones no USAGE. */
	assert_int_equal(qremote(x, "QR2", "RQ", "", ""), QSG_RC_BAD_ATTR);
	assert_int_equal(qremote(x, "QR2", "", "QM", ""), QSG_RC_BAD_ATTR);
	struct fsm_cmd l = {.op = FSM_OP_QDEFINE};
	strcpy(l.attrs.name, "QL2");
	l.attrs.set = FSM_QA_RNAME;
	strcpy(l.attrs.rname, "RQ");
	assert_int_equal(exec(x, &l), QSG_RC_BAD_ATTR);
	struct fsm_cmd u = {.op = FSM_OP_QALTER};
	strcpy(u.attrs.name, "QR");
	u.attrs.qtype = FSM_QT_REMOTE;
	u.attrs.set = FSM_QA_USAGE;
	u.attrs.usage = FSM_USAGE_XMITQ;
	assert_int_equal(exec(x, &u), QSG_RC_BAD_ATTR);
}

/* --- codecs -------------------------------------------------------------- */

static void xqh_dlh_codecs(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	struct fsm_xqh h = {.rqmname = "QM2", .rname = "APP.Q", .srcqmgr = "QM1", .put_ms = -5};
	fsm_xqh_encode(&w, &h);
	size_t hlen = w.len;
	qsg_put_bytes(&w, "body", 4);
	struct fsm_xqh d;
	size_t hl = 99;
	assert_int_equal(fsm_xqh_decode(w.data, w.len, &d, &hl), QSG_OK);
	assert_int_equal(hl, hlen);
	assert_string_equal(d.rqmname, "QM2");
	assert_string_equal(d.rname, "APP.Q");
	assert_string_equal(d.srcqmgr, "QM1");
	assert_int_equal(d.put_ms, -5);
	for (size_t n = 0; n < hlen; n++)
		assert_int_not_equal(fsm_xqh_decode(w.data, n, &d, &hl), QSG_OK);
	w.data[4] = 2; /* version */
	assert_int_equal(fsm_xqh_decode(w.data, w.len, &d, &hl), QSG_RC_BAD_VERSION);
	w.data[4] = 1;
	w.data[0] = 'D'; /* magic */
	assert_int_equal(fsm_xqh_decode(w.data, w.len, &d, &hl), QSG_RC_BAD_FRAME);

	qsg_wbuf_reset(&w);
	struct fsm_dlh dl = {.reason = 2053,
			     .destq = "APP.Q",
			     .destqmgr = "QM2",
			     .put_ms = 123,
			     .channel = "TO.QM2"};
	fsm_dlh_encode(&w, &dl);
	hlen = w.len;
	struct fsm_dlh dd;
	assert_int_equal(fsm_dlh_decode(w.data, w.len, &dd, &hl), QSG_OK);
	assert_int_equal(hl, hlen);
	assert_int_equal(dd.reason, 2053);
	assert_string_equal(dd.destq, "APP.Q");
	assert_string_equal(dd.destqmgr, "QM2");
	assert_string_equal(dd.channel, "TO.QM2");
	assert_int_equal(dd.put_ms, 123);
	for (size_t n = 0; n < hlen; n++)
		assert_int_not_equal(fsm_dlh_decode(w.data, n, &dd, &hl), QSG_OK);
	/* An XQH is not a DLH. */
	qsg_wbuf_reset(&w);
	fsm_xqh_encode(&w, &h);
	assert_int_not_equal(fsm_dlh_decode(w.data, w.len, &dd, &hl), QSG_OK);
	qsg_wbuf_close(&w);
}

static void chlist_iterators(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	struct fsm_chdisp d1 = {.seq = 3, .action = FSM_DISP_DLQ, .reason = 2085, .hold_ms = 0};
	struct fsm_chdisp d2 = {.seq = 5, .action = FSM_DISP_HOLD, .reason = 0, .hold_ms = 10};
	fsm_chlist_put_disp(&w, &d1);
	fsm_chlist_put_disp(&w, &d2);
	struct fsm_chcmd ch;
	memset(&ch, 0, sizeof ch);
	ch.count = 2;
	ch.list.p = w.data;
	ch.list.len = w.len;
	struct fsm_chiter it;
	struct fsm_chdisp d;
	int done;
	fsm_chiter_init(&it, &ch);
	assert_int_equal(fsm_chiter_disp(&it, &d, &done), QSG_OK);
	assert_false(done);
	assert_int_equal(d.seq, 3);
	assert_int_equal(d.reason, 2085);
	assert_int_equal(fsm_chiter_disp(&it, &d, &done), QSG_OK);
	assert_false(done);
	assert_int_equal(d.hold_ms, 10);
	assert_int_equal(fsm_chiter_disp(&it, &d, &done), QSG_OK);
	assert_true(done);
	/* Count larger than the list, smaller (trailing bytes). */
	ch.count = 3;
	fsm_chiter_init(&it, &ch);
	int rc = QSG_OK;
	done = 0;
	while (rc == QSG_OK && !done)
		rc = fsm_chiter_disp(&it, &d, &done);
	assert_int_equal(rc, QSG_RC_BAD_FRAME);
	ch.count = 1;
	fsm_chiter_init(&it, &ch);
	assert_int_equal(fsm_chiter_disp(&it, &d, &done), QSG_OK);
	assert_int_equal(fsm_chiter_disp(&it, &d, &done), QSG_RC_BAD_FRAME);

	qsg_wbuf_reset(&w);
	struct fsm_chmsg m;
	memset(&m, 0, sizeof m);
	strcpy(m.rqmname, "QM3");
	strcpy(m.rname, "Q");
	m.msg.priority = 9;
	m.msg.body.p = (const uint8_t *)"abc";
	m.msg.body.len = 3;
	fsm_chlist_put_msg(&w, &m);
	ch.count = 1;
	ch.list.p = w.data;
	ch.list.len = w.len;
	struct fsm_chmsg o;
	fsm_chiter_init(&it, &ch);
	assert_int_equal(fsm_chiter_msg(&it, &o, &done), QSG_OK);
	assert_string_equal(o.rqmname, "QM3");
	assert_int_equal(o.msg.priority, 9);
	assert_int_equal(o.msg.body.len, 3);
	assert_int_equal(fsm_chiter_msg(&it, &o, &done), QSG_OK);
	assert_true(done);
	for (size_t n = 0; n < w.len; n++) {
		ch.list.len = n;
		fsm_chiter_init(&it, &ch);
		assert_int_equal(fsm_chiter_msg(&it, &o, &done), QSG_RC_BAD_FRAME);
	}
	qsg_wbuf_close(&w);
}

/* --- definitions ----------------------------------------------------------- */

struct names {
	int n;
	char v[8][FSM_NAME_MAX * 2 + 2];
};

static int collect_chdef(void *arg, const struct fsm_chattrs *c)
{
	struct names *n = arg;
	if (n->n < 8)
		snprintf(n->v[n->n++], sizeof n->v[0], "%s", c->name);
	return 0;
}

static int collect_chst(void *arg, const struct fsm_chstatus *s)
{
	struct names *n = arg;
	if (n->n < 8)
		snprintf(n->v[n->n++], sizeof n->v[0], "%s/%s", s->name, s->rqmname);
	return 0;
}

static void qmgr_alter_and_get(void **state)
{
	struct ctx *x = *state;
	struct fsm_qmgr_attrs q;
	assert_int_equal(fsm_qmgr_get(x->f, &q), QSG_OK);
	assert_string_equal(q.deadq, "");
	struct fsm_cmd c = {.op = FSM_OP_QMGR_ALTER};
	c.ch.qm.set = FSM_QM_DEADQ | FSM_QM_DESCR;
	strcpy(c.ch.qm.deadq, "DLQ");
	strcpy(c.ch.qm.descr, "group");
	assert_int_equal(exec(x, &c), QSG_OK);
	c.ch.qm.set = FSM_QM_DESCR;
	strcpy(c.ch.qm.deadq, "OTHER");
	strcpy(c.ch.qm.descr, "g2");
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(fsm_qmgr_get(x->f, &q), QSG_OK);
	assert_string_equal(q.deadq, "DLQ");
	assert_string_equal(q.descr, "g2");
	/* "" removes the dead-letter queue. */
	c.ch.qm.set = FSM_QM_DEADQ;
	c.ch.qm.deadq[0] = '\0';
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(fsm_qmgr_get(x->f, &q), QSG_OK);
	assert_string_equal(q.deadq, "");
}

static void chdefine_defaults_and_validation(void **state)
{
	struct ctx *x = *state;
	uint64_t g0 = fsm_chan_generation(x->f);
	assert_int_equal(chdef(x, "TO.QM2", FSM_CHL_SDR, "QM2", 0), QSG_OK);
	assert_int_equal(fsm_chan_generation(x->f), g0 + 1);
	struct fsm_chattrs a;
	assert_int_equal(fsm_channel_get(x->f, "TO.QM2", &a), QSG_OK);
	assert_int_equal(a.chltype, FSM_CHL_SDR);
	assert_int_equal(a.batchsz, FSM_CH_DEFAULT_BATCHSZ);
	assert_int_equal(a.hbint, FSM_CH_DEFAULT_HBINT);
	assert_int_equal(a.discint, FSM_CH_DEFAULT_DISCINT);
	assert_int_equal(a.shortrty, FSM_CH_DEFAULT_SHORTRTY);
	assert_int_equal(a.longrty, FSM_CH_DEFAULT_LONGRTY);
	assert_int_equal(a.longtmr, FSM_CH_DEFAULT_LONGTMR);
	assert_int_equal(a.pipeline, FSM_CH_DEFAULT_PIPELINE);
	assert_int_equal(a.usedlq, 1);
	assert_int_equal(a.maxmsgl, FSM_DEFAULT_MAXMSGL);
	assert_string_equal(a.xmitq, "QM2");
	assert_int_equal(chdef(x, "TO.QM2", FSM_CHL_SDR, "QM2", 0), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(chdef(x, "TO.QM2", FSM_CHL_SDR, "QM3", FSM_F_REPLACE), QSG_OK);
	assert_int_equal(fsm_channel_get(x->f, "TO.QM2", &a), QSG_OK);
	assert_string_equal(a.xmitq, "QM3");
	assert_int_equal(chdef(x, "TO.QM2", FSM_CHL_RCVR, "", FSM_F_REPLACE), QSG_RC_OBJECT_EXISTS);
	/* SDR needs XMITQ (and CONNAME); CHLTYPE is required. */
	assert_int_equal(chdef(x, "S2", FSM_CHL_SDR, "", 0), QSG_RC_BAD_ATTR);
	struct fsm_cmd c = {.op = FSM_OP_CHDEFINE};
	strcpy(c.ch.attrs.name, "S3");
	c.ch.attrs.set = FSM_CA_XMITQ;
	strcpy(c.ch.attrs.xmitq, "X");
	assert_int_equal(exec(x, &c), QSG_RC_BAD_ATTR);
	c.ch.attrs.set = FSM_CA_CHLTYPE | FSM_CA_XMITQ;
	c.ch.attrs.chltype = FSM_CHL_SDR;
	assert_int_equal(exec(x, &c), QSG_RC_BAD_ATTR); /* no CONNAME */
	c.ch.attrs.set |= FSM_CA_CONNAME | FSM_CA_BATCHSZ;
	strcpy(c.ch.attrs.conname, "h:1");
	c.ch.attrs.batchsz = 0;
	assert_int_equal(exec(x, &c), QSG_RC_BAD_ATTR);
	c.ch.attrs.batchsz = FSM_MAX_CHBATCH + 1;
	assert_int_equal(exec(x, &c), QSG_RC_BAD_ATTR);
	c.ch.attrs.batchsz = FSM_MAX_CHBATCH;
	c.ch.attrs.set |= FSM_CA_PIPELINE;
	c.ch.attrs.pipeline = FSM_CH_MAX_PIPELINE + 1;
	assert_int_equal(exec(x, &c), QSG_RC_BAD_ATTR);
	c.ch.attrs.pipeline = 0;
	assert_int_equal(exec(x, &c), QSG_RC_BAD_ATTR);
	c.ch.attrs.pipeline = FSM_CH_MAX_PIPELINE;
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(chdef(x, "FROM.QM2", FSM_CHL_RCVR, "", 0), QSG_OK);
	/* foreach in name order. */
	struct names n = {0};
	fsm_channel_foreach(x->f, collect_chdef, &n);
	assert_int_equal(n.n, 3);
	assert_string_equal(n.v[0], "FROM.QM2");
	assert_string_equal(n.v[1], "S3");
	assert_string_equal(n.v[2], "TO.QM2");
}

static void chalter_and_chdelete(void **state)
{
	struct ctx *x = *state;
	struct fsm_cmd c = {.op = FSM_OP_CHALTER};
	strcpy(c.ch.attrs.name, "TO.QM2");
	c.ch.attrs.set = FSM_CA_BATCHSZ;
	c.ch.attrs.batchsz = 10;
	assert_int_equal(exec(x, &c), QSG_RC_CHANNEL_NOT_FOUND);
	sender_setup(x, 2);
	uint64_t g = fsm_chan_generation(x->f);
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(fsm_chan_generation(x->f), g + 1);
	struct fsm_chattrs a;
	assert_int_equal(fsm_channel_get(x->f, "TO.QM2", &a), QSG_OK);
	assert_int_equal(a.batchsz, 10);
	assert_string_equal(a.xmitq, "QM2"); /* unchanged */
	c.ch.attrs.set = FSM_CA_CHLTYPE;
	c.ch.attrs.chltype = FSM_CHL_RCVR;
	assert_int_equal(exec(x, &c), QSG_RC_BAD_ATTR);
	c.ch.attrs.set = FSM_CA_XMITQ;
	c.ch.attrs.xmitq[0] = '\0';
	assert_int_equal(exec(x, &c), QSG_RC_BAD_ATTR); /* SDR needs XMITQ */

	struct fsm_cmd d = {.op = FSM_OP_CHDELETE};
	strcpy(d.ch.name, "NOPE");
	assert_int_equal(exec(x, &d), QSG_RC_CHANNEL_NOT_FOUND);
	strcpy(d.ch.name, "TO.QM2");
	assert_int_equal(exec(x, &d), QSG_RC_CHANNEL_ACTIVE); /* RUNNING */
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 1, 0, NULL, NULL), QSG_OK);
	assert_int_equal(
	    cas(x, "TO.QM2", "", 0, img(1, 1, FSM_CHS_RUNNING, 1), img(1, 1, FSM_CHS_STOPPED, 1)),
	    QSG_OK);
	assert_int_equal(exec(x, &d), QSG_RC_CHANNEL_INDOUBT);
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 1, 0, NULL, 0), QSG_OK);
	assert_int_equal(exec(x, &d), QSG_OK);
	struct fsm_chstatus s;
	assert_int_equal(fsm_chstatus_get(x->f, "TO.QM2", "", &s), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(fsm_channel_get(x->f, "TO.QM2", &a), QSG_RC_CHANNEL_NOT_FOUND);
}

/* --- status table (CAS) -------------------------------------------------- */

static void cas_create_and_failure_image(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "QM2", FSM_USAGE_XMITQ, 0), QSG_OK);
	/* No definition yet. */
	assert_int_equal(
	    cas(x, "TO.QM2", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)),
	    QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(x->r.ch.current.exists, 0);
	assert_int_equal(chdef(x, "TO.QM2", FSM_CHL_SDR, "QM2", 0), QSG_OK);
	/* Creation needs the type. */
	assert_int_equal(cas(x, "TO.QM2", "", 0, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)),
			 QSG_RC_INVALID);
	uint64_t g = fsm_chan_generation(x->f);
	x->now += 5;
	assert_int_equal(
	    cas(x, "TO.QM2", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)),
	    QSG_OK);
	assert_int_equal(fsm_chan_generation(x->f), g + 1);
	assert_int_equal(x->r.ch.current.exists, 1);
	assert_int_equal(x->r.ch.current.state, FSM_CHS_STARTING);
	struct fsm_chstatus s = chst(x, "TO.QM2", "");
	assert_string_equal(s.xmitq, "QM2");
	assert_string_equal(s.reason, "test");
	assert_string_equal(s.conname, "127.0.0.1:1414");
	assert_int_equal(s.last_change_ms, x->now);
	assert_int_equal(s.chltype, FSM_CHL_SDR);
	/* A stale before-image: CAS_FAILED, nothing changes, the result
	 * carries the current image. */
	uint64_t dg = digest(x);
	assert_int_equal(cas(x, "TO.QM2", "", 0, img(0, 0, 0, 0), img(1, 2, FSM_CHS_STARTING, 1)),
			 QSG_RC_CAS_FAILED);
	assert_int_equal(x->r.ch.current.exists, 1);
	assert_int_equal(x->r.ch.current.owner, 1);
	assert_int_equal(x->r.ch.current.state, FSM_CHS_STARTING);
	assert_int_equal(x->r.ch.current.epoch, 1);
	assert_int_equal(
	    cas(x, "TO.QM2", "", 0, img(1, 2, FSM_CHS_STARTING, 1), img(1, 2, FSM_CHS_RUNNING, 1)),
	    QSG_RC_CAS_FAILED);
	assert_int_equal(x->r.ch.current.owner, 1);
	assert_int_equal(digest(x), dg);
	/* State 0 is not a state of an existing entry. */
	assert_int_equal(
	    cas(x, "TO.QM2", "", 0, img(1, 1, FSM_CHS_STARTING, 1), img(1, 1, FSM_CHS_INACTIVE, 1)),
	    QSG_RC_INVALID);
	assert_int_equal(digest(x), dg);
	/* Delete. */
	assert_int_equal(cas(x, "TO.QM2", "", 0, img(1, 1, FSM_CHS_STARTING, 1), img(0, 0, 0, 0)),
			 QSG_OK);
	assert_int_equal(x->r.ch.current.exists, 0);
	assert_int_equal(fsm_chstatus_get(x->f, "TO.QM2", "", &s), QSG_RC_CHANNEL_NOT_FOUND);
}

static void cas_epoch_rule(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(chdef(x, "C", FSM_CHL_SDR, "XQ", 0), QSG_OK);
	/* Creation into STARTING needs epoch 1; into STOPPED epoch 0. */
	assert_int_equal(
	    cas(x, "C", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 2)),
	    QSG_RC_INVALID);
	assert_int_equal(
	    cas(x, "C", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STOPPED, 1)),
	    QSG_RC_INVALID);
	assert_int_equal(
	    cas(x, "C", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 0, FSM_CHS_STOPPED, 0)), QSG_OK);
	/* STOPPED -> STARTING: +1. */
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 0, FSM_CHS_STOPPED, 0), img(1, 1, FSM_CHS_STARTING, 0)),
	    QSG_RC_INVALID);
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 0, FSM_CHS_STOPPED, 0), img(1, 1, FSM_CHS_STARTING, 1)),
	    QSG_OK);
	/* STARTING -> RUNNING keeps it. */
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 1, FSM_CHS_STARTING, 1), img(1, 1, FSM_CHS_RUNNING, 2)),
	    QSG_RC_INVALID);
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 1, FSM_CHS_STARTING, 1), img(1, 1, FSM_CHS_RUNNING, 1)),
	    QSG_OK);
	/* RUNNING -> RETRYING -> STARTING on member 2 (new instance). */
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 1, FSM_CHS_RUNNING, 1), img(1, 1, FSM_CHS_RETRYING, 1)),
	    QSG_OK);
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 1, FSM_CHS_RETRYING, 1), img(1, 2, FSM_CHS_STARTING, 2)),
	    QSG_OK);
	struct fsm_chstatus s = chst(x, "C", "");
	assert_int_equal(s.prev_owner, 1);
	assert_int_equal(s.img.owner, 2);
	assert_int_equal(s.img.epoch, 2);
	/* STARTING -> STARTING on another owner is a new instance (a member
	 * recovering a channel its failed owner left STARTING): epoch + 1. */
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 2, FSM_CHS_STARTING, 2), img(1, 1, FSM_CHS_STARTING, 2)),
	    QSG_RC_INVALID);
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 2, FSM_CHS_STARTING, 2), img(1, 1, FSM_CHS_STARTING, 3)),
	    QSG_OK);
	/* An unchanged STARTING image keeps its epoch; a restart moves it. */
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 1, FSM_CHS_STARTING, 3), img(1, 1, FSM_CHS_STARTING, 3)),
	    QSG_OK);
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 1, FSM_CHS_STARTING, 3), img(1, 1, FSM_CHS_STARTING, 5)),
	    QSG_RC_INVALID);
	/* RUNNING clears a pending reset. */
	struct fsm_cmd r = {.op = FSM_OP_CH_RESET};
	strcpy(r.ch.name, "C");
	r.ch.seq = 10;
	assert_int_equal(exec(x, &r), QSG_OK);
	assert_int_equal(chst(x, "C", "").reset_seq, 10);
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 1, FSM_CHS_STARTING, 3), img(1, 1, FSM_CHS_RUNNING, 3)),
	    QSG_OK);
	assert_int_equal(chst(x, "C", "").reset_seq, 0);
	assert_int_equal(chst(x, "C", "").lstseq, 9);
}

static void cas_member_rules(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(chdef(x, "C", FSM_CHL_SDR, "XQ", 0), QSG_OK);
	/* Unknown owner, failed owner. */
	assert_int_equal(
	    cas(x, "C", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 9, FSM_CHS_STARTING, 1)),
	    QSG_RC_INVALID);
	assert_int_equal(
	    cas(x, "C", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 0, FSM_CHS_RUNNING, 0)),
	    QSG_RC_INVALID);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(x->f, 2, &m), QSG_OK);
	struct fsm_cmd fail = {
	    .op = FSM_OP_MEMBER_FAIL, .member_id = 2, .seq = (uint64_t)m.lease_expiry_ms};
	assert_int_equal(exec(x, &fail), QSG_OK);
	assert_int_equal(
	    cas(x, "C", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 2, FSM_CHS_STARTING, 1)),
	    QSG_RC_INVALID);
	/* A stopped entry needs no live owner. */
	assert_int_equal(
	    cas(x, "C", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 2, FSM_CHS_STOPPED, 0)), QSG_OK);
	/* RECOVERING by a live member. */
	assert_int_equal(
	    cas(x, "C", "", 0, img(1, 2, FSM_CHS_STOPPED, 0), img(1, 1, FSM_CHS_RECOVERING, 0)),
	    QSG_OK);
	assert_int_equal(chst(x, "C", "").prev_owner, 2);
	/* SDR keys have no rqmname; a RCVR entry can be made by CAS. */
	assert_int_equal(
	    cas(x, "C", "QM9", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STOPPED, 0)),
	    QSG_RC_INVALID);
	assert_int_equal(
	    cas(x, "C", "QM9", FSM_CHL_RCVR, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STOPPED, 0)),
	    QSG_OK);
	/* The type of an existing entry cannot change. */
	assert_int_equal(cas(x, "C", "QM9", FSM_CHL_SDR, img(1, 1, FSM_CHS_STOPPED, 0),
			     img(1, 1, FSM_CHS_STOPPED, 0)),
			 QSG_RC_INVALID);
	struct names n = {0};
	fsm_chstatus_foreach(x->f, collect_chst, &n);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "C/");
	assert_string_equal(n.v[1], "C/QM9");
}

static void cas_xmitq_lock(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(chdef(x, "A", FSM_CHL_SDR, "XQ", 0), QSG_OK);
	assert_int_equal(chdef(x, "B", FSM_CHL_SDR, "XQ", 0), QSG_OK);
	assert_int_equal(chdef(x, "C", FSM_CHL_SDR, "XQ2", 0), QSG_OK);
	sdr_running(x, "A", 1);
	assert_int_equal(
	    cas(x, "B", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 2, FSM_CHS_STARTING, 1)),
	    QSG_RC_XMITQ_IN_USE);
	assert_int_equal(fsm_chstatus_get(x->f, "B", "", &(struct fsm_chstatus){0}),
			 QSG_RC_CHANNEL_NOT_FOUND);
	sdr_running(x, "C", 2); /* another xmitq */
	assert_int_equal(
	    cas(x, "B", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 2, FSM_CHS_STOPPED, 0)), QSG_OK);
	assert_int_equal(
	    cas(x, "B", "", 0, img(1, 2, FSM_CHS_STOPPED, 0), img(1, 2, FSM_CHS_STARTING, 1)),
	    QSG_RC_XMITQ_IN_USE);
	assert_int_equal(
	    cas(x, "A", "", 0, img(1, 1, FSM_CHS_RUNNING, 1), img(1, 1, FSM_CHS_STOPPED, 1)),
	    QSG_OK);
	assert_int_equal(
	    cas(x, "B", "", 0, img(1, 2, FSM_CHS_STOPPED, 0), img(1, 2, FSM_CHS_STARTING, 1)),
	    QSG_OK);
}

/* --- sender batches ------------------------------------------------------ */

static void getbatch_rules(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 0);
	assert_int_equal(put(x, "QR", 0, 1, "low1"), QSG_OK);
	assert_int_equal(put(x, "QR", 0, 7, "high"), QSG_OK);
	assert_int_equal(put(x, "QR", 0, 1, "low2"), QSG_OK);
	/* Fenced by owner and epoch. */
	assert_int_equal(getbatch(x, "TO.QM2", 2, 1, 10, 0, NULL, NULL), QSG_RC_CHANNEL_FENCED);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 2, 10, 0, NULL, NULL), QSG_RC_CHANNEL_FENCED);
	assert_int_equal(getbatch(x, "NOPE", 1, 1, 10, 0, NULL, NULL), QSG_RC_CHANNEL_FENCED);
	/* Priority then FIFO; max_bytes stops before exceeding (XQH counts)
	 * but always takes one. */
	uint64_t seqs[8];
	char bodies[8][64];
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 1, seqs, bodies), QSG_OK);
	assert_int_equal(x->r.ch.count, 1);
	assert_string_equal(bodies[0], "high");
	assert_int_equal(seqs[0], 1);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 1, 0, seqs, bodies), QSG_OK);
	assert_int_equal(x->r.ch.count, 1);
	assert_string_equal(bodies[0], "low1");
	assert_int_equal(seqs[0], 2);
	struct fsm_qinfo i = qi(x, "QM2");
	assert_int_equal(i.curdepth, 3);
	assert_int_equal(i.uncommitted, 2);
	assert_int_equal(fsm_available(x->f, 0, "QM2"), 1);
	struct fsm_chstatus s = chst(x, "TO.QM2", "");
	assert_int_equal(s.indoubt, 2);
	assert_int_equal(s.curseq, 2);
	/* Locked messages are invisible to normal gets. */
	assert_int_equal(get(x, "QM2"), QSG_OK);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, seqs, bodies), QSG_OK);
	assert_int_equal(x->r.ch.count, 0);
	/* Not RUNNING. */
	assert_int_equal(
	    cas(x, "TO.QM2", "", 0, img(1, 1, FSM_CHS_RUNNING, 1), img(1, 1, FSM_CHS_RETRYING, 1)),
	    QSG_OK);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, NULL, NULL), QSG_RC_CHANNEL_STOPPED);
}

static void settle_pipelined_backout_rest(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 6);
	uint64_t seqs[8];
	char bodies[8][64];
	for (int b = 0; b < 3; b++) {
		assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 2, 0, seqs, bodies), QSG_OK);
		assert_int_equal(x->r.ch.count, 2);
		assert_int_equal(seqs[0], (uint64_t)(2 * b + 1));
		assert_int_equal(seqs[1], (uint64_t)(2 * b + 2));
	}
	assert_int_equal(chst(x, "TO.QM2", "").indoubt, 6);
	/* The receiver has up to 4: commit it, back out 5 and 6. */
	x->notified = 0;
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 4, FSM_CHF_BACKOUT_REST, NULL, 0), QSG_OK);
	assert_int_equal(x->r.ch.committed, 4);
	assert_int_equal(x->r.ch.backed_out, 2);
	assert_int_equal(x->r.ch.disposed, 0);
	assert_int_equal(x->notified, 2);
	struct fsm_chstatus s = chst(x, "TO.QM2", "");
	assert_int_equal(s.msgs, 4);
	assert_int_equal(s.batches, 1);
	assert_int_equal(s.lstseq, 4);
	assert_int_equal(s.curseq, 4);
	assert_int_equal(s.indoubt, 0);
	assert_int_equal(s.last_msg_ms, x->now);
	struct fsm_qinfo i = qi(x, "QM2");
	assert_int_equal(i.curdepth, 2);
	assert_int_equal(i.uncommitted, 0);
	/* Re-get: same order, sequence numbers continue from 4, no backout
	 * count. */
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, seqs, bodies), QSG_OK);
	assert_int_equal(x->r.ch.count, 2);
	assert_string_equal(bodies[0], "m4");
	assert_string_equal(bodies[1], "m5");
	assert_int_equal(seqs[0], 5);
	assert_int_equal(seqs[1], 6);
	struct fsm_chiter it;
	uint64_t seq;
	struct fsm_msg m;
	int done;
	fsm_chiter_result(&it, &x->r.ch);
	assert_int_equal(fsm_chiter_batch(&it, &seq, &m, &done), QSG_OK);
	assert_int_equal(m.backout_count, 0);
	/* Settle without backout keeps the rest locked. */
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 5, 0, NULL, 0), QSG_OK);
	assert_int_equal(x->r.ch.committed, 1);
	assert_int_equal(chst(x, "TO.QM2", "").indoubt, 1);
	assert_int_equal(qi(x, "QM2").curdepth, 1);
}

static void settle_idempotent_and_seq_mismatch(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 2);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, NULL, NULL), QSG_OK);
	uint64_t d = digest(x);
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 3, 0, NULL, 0), QSG_RC_SEQ_MISMATCH);
	assert_int_equal(digest(x), d);
	assert_int_equal(settle(x, "TO.QM2", 2, 1, 2, 0, NULL, 0), QSG_RC_CHANNEL_FENCED);
	assert_int_equal(settle(x, "TO.QM2", 1, 0, 2, 0, NULL, 0), QSG_RC_CHANNEL_FENCED);
	assert_int_equal(digest(x), d);
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 2, 0, NULL, 0), QSG_OK);
	assert_int_equal(x->r.ch.committed, 2);
	/* A retry is a no-op success. */
	d = digest(x);
	uint64_t g = fsm_chan_generation(x->f);
	x->now += 10;
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 2, 0, NULL, 0), QSG_OK);
	assert_int_equal(x->r.ch.committed, 0);
	assert_int_equal(fsm_chan_generation(x->f), g);
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 1, FSM_CHF_BACKOUT_REST, NULL, 0), QSG_OK);
	assert_int_equal(fsm_chan_generation(x->f), g);
	assert_int_equal(chst(x, "TO.QM2", "").curseq, 2);
	(void)d;
}

static void settle_dlq_disposition(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 3);
	assert_int_equal(qlocal(x, "DLQ", FSM_USAGE_NORMAL, 0), QSG_OK);
	struct fsm_cmd q = {.op = FSM_OP_QMGR_ALTER};
	q.ch.qm.set = FSM_QM_DEADQ;
	strcpy(q.ch.qm.deadq, "DLQ");
	assert_int_equal(exec(x, &q), QSG_OK);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, NULL, NULL), QSG_OK);
	/* seq 2 to the DLQ, 1 and 3 committed. */
	struct fsm_chdisp d = {.seq = 2, .action = FSM_DISP_DLQ, .reason = 2085};
	x->now += 7;
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 3, 0, &d, 1), QSG_OK);
	assert_int_equal(x->r.ch.committed, 2);
	assert_int_equal(x->r.ch.disposed, 1);
	assert_int_equal(qi(x, "QM2").curdepth, 0);
	assert_int_equal(qi(x, "DLQ").curdepth, 1);
	assert_int_equal(get(x, "DLQ"), QSG_OK);
	assert_int_equal(x->r.msg.msgid[0], 'm');
	struct fsm_dlh h;
	size_t hl;
	assert_int_equal(fsm_dlh_decode(x->r.msg.body.p, x->r.msg.body.len, &h, &hl), QSG_OK);
	assert_int_equal(h.reason, 2085);
	assert_string_equal(h.destq, "APP.Q");
	assert_string_equal(h.destqmgr, "QM2");
	assert_string_equal(h.channel, "TO.QM2");
	assert_int_equal(h.put_ms, x->now);
	assert_int_equal(x->r.msg.body.len - hl, 2);
	assert_memory_equal(x->r.msg.body.p + hl, "m1", 2);
	struct fsm_chstatus s = chst(x, "TO.QM2", "");
	assert_int_equal(s.msgs, 2);
	assert_int_equal(s.lstseq, 3);
	/* Full dead-letter queue: HOLD instead. */
	struct fsm_cmd a = {.op = FSM_OP_QALTER};
	strcpy(a.attrs.name, "DLQ");
	a.attrs.set = FSM_QA_MAXDEPTH;
	a.attrs.maxdepth = 0;
	assert_int_equal(exec(x, &a), QSG_OK);
	assert_int_equal(put(x, "QR", 0, 0, "m9"), QSG_OK);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, NULL, NULL), QSG_OK);
	d.seq = 4;
	d.hold_ms = 100;
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 4, 0, &d, 1), QSG_OK);
	assert_int_equal(x->r.ch.disposed, 1);
	assert_int_equal(x->r.ch.committed, 0);
	assert_int_equal(qi(x, "DLQ").curdepth, 0);
	assert_int_equal(qi(x, "QM2").curdepth, 1);
	assert_int_equal(fsm_available(x->f, 0, "QM2"), 1);
}

static void settle_hold_disposition(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 2);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, NULL, NULL), QSG_OK);
	/* No dead-letter queue: DLQ becomes HOLD. */
	struct fsm_chdisp d[2] = {{.seq = 1, .action = FSM_DISP_HOLD, .hold_ms = 1000},
				  {.seq = 2, .action = FSM_DISP_DLQ, .hold_ms = 500}};
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 2, 0, d, 2), QSG_OK);
	assert_int_equal(x->r.ch.disposed, 2);
	assert_int_equal(x->r.ch.committed, 0);
	assert_int_equal(qi(x, "QM2").curdepth, 2);
	assert_int_equal(qi(x, "QM2").uncommitted, 0);
	assert_int_equal(chst(x, "TO.QM2", "").lstseq, 2);
	char bodies[8][64];
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, NULL, bodies), QSG_OK);
	assert_int_equal(x->r.ch.count, 0);
	x->now += 500;
	uint64_t seqs[8];
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, seqs, bodies), QSG_OK);
	assert_int_equal(x->r.ch.count, 1);
	assert_string_equal(bodies[0], "m1");
	assert_int_equal(seqs[0], 3);
	struct fsm_chiter it;
	uint64_t seq;
	struct fsm_msg m;
	int done;
	fsm_chiter_result(&it, &x->r.ch);
	assert_int_equal(fsm_chiter_batch(&it, &seq, &m, &done), QSG_OK);
	assert_int_equal(m.backout_count, 1);
	/* A normal GET may take a held message. */
	assert_int_equal(get(x, "QM2"), QSG_OK);
	assert_int_equal(x->r.msg.backout_count, 1);
	assert_int_equal(x->r.msg.msgid[0], 'm');
}

static void settle_bad_disposition_changes_nothing(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 2);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 1, 0, NULL, NULL), QSG_OK);
	uint64_t d0 = digest(x);
	struct fsm_chdisp d[2] = {{.seq = 1, .action = FSM_DISP_HOLD},
				  {.seq = 2, .action = FSM_DISP_HOLD}};
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 1, 0, d, 2), QSG_RC_INVALID); /* 2 not locked */
	assert_int_equal(digest(x), d0);
	d[1].seq = 1; /* twice */
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 1, 0, d, 2), QSG_RC_INVALID);
	assert_int_equal(digest(x), d0);
	assert_int_equal(chst(x, "TO.QM2", "").indoubt, 1);
}

static void settle_operator_resolve(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 3);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 3, 0, NULL, NULL), QSG_OK);
	assert_int_equal(settle(x, "TO.QM2", 0, 0, 3, FSM_CHF_OPERATOR, NULL, 0),
			 QSG_RC_CHANNEL_ACTIVE);
	assert_int_equal(
	    cas(x, "TO.QM2", "", 0, img(1, 1, FSM_CHS_RUNNING, 1), img(1, 1, FSM_CHS_STOPPED, 1)),
	    QSG_OK);
	/* RESOLVE CHANNEL ACTION(BACKOUT): any owner/epoch. */
	assert_int_equal(
	    settle(x, "TO.QM2", 0, 0, 0, FSM_CHF_OPERATOR | FSM_CHF_BACKOUT_REST, NULL, 0), QSG_OK);
	assert_int_equal(x->r.ch.backed_out, 3);
	struct fsm_chstatus s = chst(x, "TO.QM2", "");
	assert_int_equal(s.indoubt, 0);
	assert_int_equal(s.curseq, 0);
	assert_int_equal(fsm_available(x->f, 0, "QM2"), 3);
	assert_int_equal(settle(x, "NOPE", 0, 0, 0, FSM_CHF_OPERATOR, NULL, 0),
			 QSG_RC_CHANNEL_NOT_FOUND);
}

static void member_fail_leaves_locked_messages(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 2);
	struct fsm_cmd ci = {.op = FSM_OP_CHINIT_STATE};
	ci.ch.member_id = 1;
	ci.ch.chinit = 1;
	assert_int_equal(exec(x, &ci), QSG_OK);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, NULL, NULL), QSG_OK);
	uint64_t g = fsm_chan_generation(x->f);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	assert_int_equal(m.chinit, 1);
	struct fsm_cmd fail = {
	    .op = FSM_OP_MEMBER_FAIL, .member_id = 1, .seq = (uint64_t)m.lease_expiry_ms};
	assert_int_equal(exec(x, &fail), QSG_OK);
	assert_true(fsm_chan_generation(x->f) > g);
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_OK);
	assert_int_equal(m.chinit, 0);
	/* The batch stays locked to the channel; the entry is not changed. */
	struct fsm_chstatus s = chst(x, "TO.QM2", "");
	assert_int_equal(s.indoubt, 2);
	assert_int_equal(s.img.owner, 1);
	assert_int_equal(s.img.state, FSM_CHS_RUNNING);
	assert_int_equal(qi(x, "QM2").uncommitted, 2);
	struct fsm_cmd join = {.op = FSM_OP_MEMBER_JOIN, .member_id = 1};
	assert_int_equal(exec(x, &join), QSG_OK);
	assert_int_equal(qi(x, "QM2").uncommitted, 2);
	/* Member 2 takes over with a new instance and resolves. */
	assert_int_equal(cas(x, "TO.QM2", "", 0, img(1, 1, FSM_CHS_RUNNING, 1),
			     img(1, 2, FSM_CHS_RECOVERING, 1)),
			 QSG_OK);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, NULL, NULL), QSG_RC_CHANNEL_FENCED);
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 2, 0, NULL, 0), QSG_RC_CHANNEL_FENCED);
	assert_int_equal(cas(x, "TO.QM2", "", 0, img(1, 2, FSM_CHS_RECOVERING, 1),
			     img(1, 2, FSM_CHS_STARTING, 2)),
			 QSG_OK);
	assert_int_equal(settle(x, "TO.QM2", 2, 2, 1, FSM_CHF_BACKOUT_REST, NULL, 0), QSG_OK);
	assert_int_equal(x->r.ch.committed, 1);
	assert_int_equal(x->r.ch.backed_out, 1);
	/* CHINIT_STATE of an unknown member. */
	ci.ch.member_id = 42;
	assert_int_equal(exec(x, &ci), QSG_RC_INVALID);
}

static void ch_reset_rules(void **state)
{
	struct ctx *x = *state;
	struct fsm_cmd r = {.op = FSM_OP_CH_RESET};
	strcpy(r.ch.name, "TO.QM2");
	r.ch.seq = 5;
	assert_int_equal(exec(x, &r), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(chdef(x, "TO.QM2", FSM_CHL_SDR, "QM2", 0), QSG_OK);
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	strcpy(r.ch.name, "IN");
	assert_int_equal(exec(x, &r), QSG_RC_CHANNEL_NOT_FOUND);
	strcpy(r.ch.name, "TO.QM2");
	assert_int_equal(exec(x, &r), QSG_OK);
	struct fsm_chstatus s = chst(x, "TO.QM2", "");
	assert_int_equal(s.img.state, FSM_CHS_STOPPED);
	assert_int_equal(s.img.owner, 0);
	assert_int_equal(s.img.epoch, 0);
	assert_int_equal(s.lstseq, 4);
	assert_int_equal(s.curseq, 4);
	assert_int_equal(s.reset_seq, 5);
	/* In doubt: refused. */
	assert_int_equal(qlocal(x, "QM2", FSM_USAGE_XMITQ, 0), QSG_OK);
	assert_int_equal(qremote(x, "QR", "APP.Q", "QM2", ""), QSG_OK);
	assert_int_equal(put(x, "QR", 0, 0, "a"), QSG_OK);
	assert_int_equal(
	    cas(x, "TO.QM2", "", 0, img(1, 0, FSM_CHS_STOPPED, 0), img(1, 1, FSM_CHS_STARTING, 1)),
	    QSG_OK);
	assert_int_equal(
	    cas(x, "TO.QM2", "", 0, img(1, 1, FSM_CHS_STARTING, 1), img(1, 1, FSM_CHS_RUNNING, 1)),
	    QSG_OK);
	uint64_t seqs[2];
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 10, 0, seqs, NULL), QSG_OK);
	assert_int_equal(seqs[0], 5);
	r.ch.seq = 1;
	assert_int_equal(exec(x, &r), QSG_RC_CHANNEL_INDOUBT);
}

/* --- receiver ------------------------------------------------------------ */

static void recv_start_rules(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(recv_start(x, "IN", "QM2", 1, 0, 0), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(chdef(x, "TO.X", FSM_CHL_SDR, "XQ", 0), QSG_OK);
	assert_int_equal(recv_start(x, "TO.X", "QM2", 1, 0, 0), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	uint64_t g = fsm_chan_generation(x->f);
	assert_int_equal(recv_start(x, "IN", "QM2", 3, 0, 0), QSG_OK);
	assert_true(fsm_chan_generation(x->f) > g);
	assert_int_equal(x->r.ch.epoch, 3);
	assert_int_equal(x->r.ch.lstseq, 0);
	struct fsm_syncq q;
	assert_int_equal(fsm_syncq_get(x->f, "IN", "QM2", &q), QSG_OK);
	assert_int_equal(q.epoch, 3);
	struct fsm_chstatus s = chst(x, "IN", "QM2");
	assert_int_equal(s.chltype, FSM_CHL_RCVR);
	assert_int_equal(s.img.state, FSM_CHS_RUNNING);
	assert_int_equal(s.img.owner, 2);
	assert_int_equal(s.img.epoch, 3);
	assert_string_equal(s.reason, "inbound");
	assert_string_equal(s.conname, "10.0.0.1");
	/* The old form of START (no FSM_CHF_TAKEOVER, as old log entries have
	 * it): older sender epoch fenced; same or newer accepted without a
	 * receiver instance number; RESET sets lstseq. The takeover form,
	 * which qsgd sends, is tested in inbound_takeover_fences_old_instance. */
	uint64_t d = digest(x);
	assert_int_equal(recv_start(x, "IN", "QM2", 2, 0, 0), QSG_RC_CHANNEL_FENCED);
	assert_int_equal(digest(x), d);
	assert_int_equal(recv_start(x, "IN", "QM2", 4, FSM_CHF_RESET, 11), QSG_OK);
	assert_int_equal(x->r.ch.lstseq, 10);
	assert_int_equal(x->r.ch.epoch, 4);
	assert_int_equal(chst(x, "IN", "QM2").lstseq, 10);
	assert_int_equal(x->r.ch.rinst, 0);
	assert_int_equal(fsm_syncq_get(x->f, "IN", "QM2", &q), QSG_OK);
	assert_int_equal(q.rinst, 0);
}

static void recv_batch_dup_gap_fence(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "APP.Q", FSM_USAGE_NORMAL, 0), QSG_OK);
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	struct rmsg m[2] = {{"", "APP.Q", "r1"}, {"QSG1", "APP.Q", "r2"}};
	assert_int_equal(recv_batch(x, "IN", "QM2", 1, 1, 2, 2, m, 2), QSG_RC_SEQ_MISMATCH);
	assert_int_equal(recv_start(x, "IN", "QM2", 2, 0, 0), QSG_OK);
	assert_int_equal(recv_batch(x, "IN", "QM2", 1, 1, 2, 2, m, 2), QSG_RC_CHANNEL_FENCED);
	assert_int_equal(recv_batch(x, "IN", "QM2", 2, 2, 3, 2, m, 2), QSG_RC_SEQ_MISMATCH);
	assert_int_equal(recv_batch(x, "IN", "QM2", 2, 1, 3, 2, m, 2), QSG_RC_SEQ_MISMATCH);
	x->notified = 0;
	assert_int_equal(recv_batch(x, "IN", "QM2", 2, 1, 2, 2, m, 2), QSG_OK);
	assert_int_equal(x->r.ch.duplicate, 0);
	assert_int_equal(x->notified, 2);
	assert_int_equal(qi(x, "APP.Q").curdepth, 2);
	struct fsm_syncq q;
	assert_int_equal(fsm_syncq_get(x->f, "IN", "QM2", &q), QSG_OK);
	assert_int_equal(q.lstseq, 2);
	assert_int_equal(q.luwid, 78);
	struct fsm_chstatus s = chst(x, "IN", "QM2");
	assert_int_equal(s.msgs, 2);
	assert_int_equal(s.batches, 1);
	assert_int_equal(s.lstseq, 2);
	/* Duplicate: OK, nothing changes. */
	uint64_t d = digest(x);
	assert_int_equal(recv_batch(x, "IN", "QM2", 2, 1, 2, 2, m, 2), QSG_OK);
	assert_int_equal(x->r.ch.duplicate, 1);
	assert_int_equal(digest(x), d);
	/* Gap. */
	assert_int_equal(recv_batch(x, "IN", "QM2", 2, 4, 5, 2, m, 2), QSG_RC_SEQ_MISMATCH);
	assert_int_equal(digest(x), d);
	assert_int_equal(get(x, "APP.Q"), QSG_OK);
	assert_int_equal(x->r.msg.persistent, 1);
	assert_int_equal(x->r.msg.priority, 4);
	assert_int_equal(x->r.msg.put_time_ms, x->now);
	assert_int_equal(x->r.msg.body.len, 2);
	assert_memory_equal(x->r.msg.body.p, "r1", 2);
}

static void recv_batch_reject_list_changes_nothing(void **state)
{
	struct ctx *x = *state;
	struct fsm_qattrs small = {.maxmsgl = 3};
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE, .attrs = small};
	strcpy(c.attrs.name, "APP.Q");
	c.attrs.set = FSM_QA_MAXMSGL;
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(qlocal(x, "INH", FSM_USAGE_NORMAL, 0), QSG_OK);
	assert_int_equal(qalter(x, "INH", 0, FSM_QA_PUT, 0), QSG_OK);
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	assert_int_equal(recv_start(x, "IN", "QM2", 1, 0, 0), QSG_OK);
	uint64_t d = digest(x);
	uint64_t g = fsm_chan_generation(x->f);
	struct rmsg m[5] = {{"", "APP.Q", "ok"},
			    {"", "NOPE", "x"},
			    {"", "APP.Q", "toolong"},
			    {"", "INH", "x"},
			    {"QM7", "Q", "x"}};
	assert_int_equal(recv_batch(x, "IN", "QM2", 1, 1, 5, 5, m, 5), QSG_RC_BATCH_REJECTED);
	assert_int_equal(x->r.ch.count, 4);
	uint32_t want[4][2] = {{1, QSG_RC_UNKNOWN_OBJECT},
			       {2, QSG_RC_MSG_TOO_BIG},
			       {3, QSG_RC_PUT_INHIBITED},
			       {4, QSG_RC_UNKNOWN_REMOTE_Q_MGR}};
	struct fsm_chiter it;
	fsm_chiter_result(&it, &x->r.ch);
	for (int i = 0;; i++) {
		uint32_t idx, reason;
		int done;
		assert_int_equal(fsm_chiter_reject(&it, &idx, &reason, &done), QSG_OK);
		if (done) {
			assert_int_equal(i, 4);
			break;
		}
		assert_int_equal(idx, want[i][0]);
		assert_int_equal(reason, want[i][1]);
	}
	assert_int_equal(digest(x), d);
	assert_int_equal(fsm_chan_generation(x->f), g);
	assert_int_equal(qi(x, "APP.Q").curdepth, 0);
}

static void recv_batch_maxdepth_across_batch(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "APP.Q", FSM_USAGE_NORMAL, 3), QSG_OK);
	assert_int_equal(put(x, "APP.Q", 0, 0, "p"), QSG_OK);
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	assert_int_equal(recv_start(x, "IN", "QM2", 1, 0, 0), QSG_OK);
	struct rmsg m[3] = {{"", "APP.Q", "a"}, {"", "APP.Q", "b"}, {"", "APP.Q", "c"}};
	uint64_t d = digest(x);
	assert_int_equal(recv_batch(x, "IN", "QM2", 1, 1, 3, 3, m, 3), QSG_RC_BATCH_REJECTED);
	assert_int_equal(x->r.ch.count, 1);
	struct fsm_chiter it;
	uint32_t idx, reason;
	int done;
	fsm_chiter_result(&it, &x->r.ch);
	assert_int_equal(fsm_chiter_reject(&it, &idx, &reason, &done), QSG_OK);
	assert_int_equal(idx, 2);
	assert_int_equal(reason, QSG_RC_Q_FULL);
	assert_int_equal(digest(x), d);
	/* Two fit. */
	assert_int_equal(recv_batch(x, "IN", "QM2", 1, 1, 2, 2, m, 2), QSG_OK);
	assert_int_equal(qi(x, "APP.Q").curdepth, 3);
	/* The same queue is usable again (no leftover pending counts). */
	assert_int_equal(get(x, "APP.Q"), QSG_OK);
	assert_int_equal(recv_batch(x, "IN", "QM2", 1, 3, 3, 1, m, 1), QSG_OK);
}

static void recv_batch_multihop_and_remote(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "QM3", FSM_USAGE_XMITQ, 0), QSG_OK);
	assert_int_equal(qlocal(x, "XQ4", FSM_USAGE_XMITQ, 0), QSG_OK);
	assert_int_equal(qremote(x, "ALIAS", "FAR.Q", "QM4", "XQ4"), QSG_OK);
	assert_int_equal(qlocal(x, "LOCAL.Q", FSM_USAGE_NORMAL, 0), QSG_OK);
	assert_int_equal(qlocal(x, "QM5", FSM_USAGE_NORMAL, 0), QSG_OK);
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	assert_int_equal(recv_start(x, "IN", "QM2", 1, 0, 0), QSG_OK);
	/* QM5 exists but is not a transmission queue. */
	struct rmsg bad = {"QM5", "Q", "x"};
	assert_int_equal(recv_batch(x, "IN", "QM2", 1, 1, 1, 1, &bad, 1), QSG_RC_BATCH_REJECTED);
	struct fsm_chiter it;
	uint32_t idx, reason;
	int done;
	fsm_chiter_result(&it, &x->r.ch);
	assert_int_equal(fsm_chiter_reject(&it, &idx, &reason, &done), QSG_OK);
	assert_int_equal(reason, QSG_RC_XMIT_Q_USAGE_ERROR);
	struct rmsg m[3] = {
	    {"QM3", "THERE.Q", "hop"}, {"", "ALIAS", "via"}, {"QSG1", "LOCAL.Q", "here"}};
	assert_int_equal(recv_batch(x, "IN", "QM2", 1, 1, 3, 3, m, 3), QSG_OK);
	struct fsm_xqh h;
	size_t hl;
	assert_int_equal(get(x, "QM3"), QSG_OK);
	assert_int_equal(fsm_xqh_decode(x->r.msg.body.p, x->r.msg.body.len, &h, &hl), QSG_OK);
	assert_string_equal(h.rqmname, "QM3");
	assert_string_equal(h.rname, "THERE.Q");
	assert_memory_equal(x->r.msg.body.p + hl, "hop", 3);
	assert_int_equal(get(x, "XQ4"), QSG_OK);
	assert_int_equal(fsm_xqh_decode(x->r.msg.body.p, x->r.msg.body.len, &h, &hl), QSG_OK);
	assert_string_equal(h.rqmname, "QM4");
	assert_string_equal(h.rname, "FAR.Q");
	assert_memory_equal(x->r.msg.body.p + hl, "via", 3);
	assert_int_equal(get(x, "LOCAL.Q"), QSG_OK);
	assert_int_equal(x->r.msg.body.len, 4);
}

static void recv_batch_expiry_relative(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "APP.Q", FSM_USAGE_NORMAL, 0), QSG_OK);
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	assert_int_equal(recv_start(x, "IN", "QM2", 1, 0, 0), QSG_OK);
	struct qsg_wbuf l;
	qsg_wbuf_init(&l);
	struct fsm_chmsg m;
	memset(&m, 0, sizeof m);
	strcpy(m.rname, "APP.Q");
	m.msg.expiry_ms = 50;
	m.msg.body.p = (const uint8_t *)"e";
	m.msg.body.len = 1;
	fsm_chlist_put_msg(&l, &m);
	struct fsm_cmd c = {.op = FSM_OP_CH_RECV_BATCH};
	strcpy(c.ch.name, "IN");
	strcpy(c.ch.rqmname, "QM2");
	c.ch.member_id = 2;
	c.ch.epoch = 1;
	c.ch.seq = c.ch.last = 1;
	c.ch.count = 1;
	c.ch.list.p = l.data;
	c.ch.list.len = l.len;
	assert_int_equal(exec(x, &c), QSG_OK);
	qsg_wbuf_close(&l);
	struct fsm_cmd b = {.op = FSM_OP_BROWSE};
	strcpy(b.queue, "APP.Q");
	assert_int_equal(exec(x, &b), QSG_OK);
	assert_int_equal(x->r.msg.expiry_ms, x->now + 50);
	x->now += 50;
	assert_int_equal(exec(x, &b), QSG_RC_NO_MSG_AVAILABLE);
}

/* --- snapshots ------------------------------------------------------------- */

static void snapshot_restore_digest_with_channels(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 5);
	assert_int_equal(qlocal(x, "DLQ", FSM_USAGE_NORMAL, 0), QSG_OK);
	struct fsm_cmd q = {.op = FSM_OP_QMGR_ALTER};
	q.ch.qm.set = FSM_QM_DEADQ;
	strcpy(q.ch.qm.deadq, "DLQ");
	assert_int_equal(exec(x, &q), QSG_OK);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 2, 0, NULL, NULL), QSG_OK);
	struct fsm_chdisp d = {.seq = 1, .action = FSM_DISP_HOLD, .hold_ms = 1000};
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 0, 0, &d, 1), QSG_OK);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 2, 0, NULL, NULL), QSG_OK); /* 3, 4 locked */
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	assert_int_equal(recv_start(x, "IN", "QM2", 1, 0, 0), QSG_OK);
	assert_int_equal(qlocal(x, "APP.Q", FSM_USAGE_NORMAL, 0), QSG_OK);
	struct rmsg m = {"", "APP.Q", "in"};
	assert_int_equal(recv_batch(x, "IN", "QM2", 1, 1, 1, 1, &m, 1), QSG_OK);
	struct fsm_cmd ci = {.op = FSM_OP_CHINIT_STATE};
	ci.ch.member_id = 2;
	ci.ch.chinit = 1;
	assert_int_equal(exec(x, &ci), QSG_OK);
	assert_int_equal(put(x, "QR", FSM_F_SYNCPOINT, 0, "uow"), QSG_OK);

	struct qsg_wbuf s1, s2;
	qsg_wbuf_init(&s1);
	qsg_wbuf_init(&s2);
	assert_int_equal(fsm_snapshot(x->f, &s1), QSG_OK);
	assert_int_equal(s1.data[0], FSM_SNAPSHOT_VERSION);
	struct fsm *g;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, x->f); /* g fetches content as a catching-up member */
	assert_int_equal(fsm_restore(g, s1.data, s1.len, errmsg), QSG_OK);
	assert_int_equal(fsm_snapshot(g, &s2), QSG_OK);
	assert_int_equal(s1.len, s2.len);
	assert_memory_equal(s1.data, s2.data, s1.len);
	assert_int_equal(fsm_digest(g), digest(x));
	assert_int_equal(fsm_chan_generation(g), fsm_chan_generation(x->f));
	struct fsm_chstatus st;
	assert_int_equal(fsm_chstatus_get(g, "TO.QM2", "", &st), QSG_OK);
	assert_int_equal(st.indoubt, 3); /* 2 (after the HOLD of 1), 3, 4 */
	struct fsm_member mb;
	assert_int_equal(fsm_member_get(g, 2, &mb), QSG_OK);
	assert_int_equal(mb.chinit, 1);
	struct fsm_qinfo qa, qb;
	assert_int_equal(fsm_queue_info(g, 0, "QM2", &qa), QSG_OK);
	qb = qi(x, "QM2");
	assert_int_equal(qa.curdepth, qb.curdepth);
	assert_int_equal(qa.uncommitted, qb.uncommitted);

	/* Replaying the log gives the same state. */
	struct fsm *h;
	assert_int_equal(fsm_init(&h, NULL), QSG_OK);
	for (size_t i = 0; i < x->nlog; i++)
		assert_int_equal(fsm_apply(h, x->log[i], x->loglen[i], NULL, NULL), QSG_OK);
	assert_int_equal(fsm_digest(h), digest(x));

	/* The restored state behaves the same: settle 3..4, the held message
	 * stays out of batches until its time. */
	struct fsm *orig = x->f;
	x->f = g;
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 4, 0, NULL, 0), QSG_OK);
	assert_int_equal(x->r.ch.committed, 3);
	uint64_t seqs[4];
	char bodies[4][64];
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 4, 0, seqs, bodies), QSG_OK);
	assert_int_equal(x->r.ch.count, 1);
	assert_string_equal(bodies[0], "m4");
	uint64_t dg = fsm_digest(g);
	x->f = orig;
	assert_int_equal(settle(x, "TO.QM2", 1, 1, 4, 0, NULL, 0), QSG_OK);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 4, 0, seqs, bodies), QSG_OK);
	assert_int_equal(digest(x), dg);

	/* Every truncation of the snapshot is refused and changes nothing. */
	uint64_t before = fsm_digest(h);
	for (size_t n = 0; n < s1.len; n += 7)
		assert_int_not_equal(fsm_restore(h, s1.data, n, NULL), QSG_OK);
	assert_int_equal(fsm_digest(h), before);
	s1.data[0] = 1;
	assert_int_equal(fsm_restore(h, s1.data, s1.len, NULL), QSG_RC_BAD_VERSION);
	fsm_close(g);
	fsm_close(h);
	qsg_wbuf_close(&s1);
	qsg_wbuf_close(&s2);
}

/* --- malformed input ------------------------------------------------------ */

static void fill_cmd(struct fsm_cmd *c, uint8_t op, struct qsg_wbuf *list)
{
	memset(c, 0, sizeof *c);
	c->op = op;
	strcpy(c->ch.name, "CH.A");
	strcpy(c->ch.rqmname, "QM2");
	strcpy(c->ch.local_qmgr, "QSG1");
	strcpy(c->ch.attrs.name, "CH.A");
	c->ch.attrs.set = FSM_CA_CHLTYPE;
	c->ch.attrs.chltype = FSM_CHL_RCVR;
	c->ch.qm.set = FSM_QM_DEADQ;
	strcpy(c->ch.qm.deadq, "DLQ");
	c->ch.member_id = 1;
	c->ch.epoch = 2;
	c->ch.max_msgs = 10;
	c->ch.seq = 1;
	c->ch.last = 1;
	c->ch.before = img(0, 0, 0, 0);
	c->ch.after = img(1, 1, FSM_CHS_STARTING, 1);
	if (op == FSM_OP_CH_SETTLE) {
		struct fsm_chdisp d = {.seq = 1, .action = FSM_DISP_HOLD};
		fsm_chlist_put_disp(list, &d);
		c->ch.count = 1;
	}
	if (op == FSM_OP_CH_RECV_BATCH) {
		struct fsm_chmsg m;
		memset(&m, 0, sizeof m);
		strcpy(m.rname, "Q");
		fsm_chlist_put_msg(list, &m);
		c->ch.count = 1;
	}
	c->ch.list.p = list->data;
	c->ch.list.len = list->len;
}

/* --- one inbound instance, RQMNAME (docs/channels.md) --------------------- */

static void inbound_takeover_fences_old_instance(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "APP.Q", FSM_USAGE_NORMAL, 0), QSG_OK);
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	struct rmsg m[1] = {{"", "APP.Q", "a"}};
	/* Member 1 takes the channel (sender epoch 5): instance 1. */
	assert_int_equal(recv_start_m(x, "IN", "QM2", 1, 5, FSM_CHF_TAKEOVER, 0), QSG_OK);
	assert_int_equal(x->r.ch.rinst, 1);
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 1, 1, 5, 1, 1, 1, m, 1), QSG_OK);
	struct fsm_chstatus s = chst(x, "IN", "QM2");
	assert_int_equal(s.img.owner, 1);
	assert_int_equal(s.img.state, FSM_CHS_RUNNING);
	/* The same sender instance (same epoch) reaches member 2 while member
	 * 1's instance is RUNNING: member 2 takes over (instance 2). */
	assert_int_equal(recv_start_m(x, "IN", "QM2", 2, 5, FSM_CHF_TAKEOVER, 0), QSG_OK);
	assert_int_equal(x->r.ch.rinst, 2);
	assert_int_equal(x->r.ch.lstseq, 1);
	s = chst(x, "IN", "QM2");
	assert_int_equal(s.img.owner, 2);
	assert_int_equal(s.img.state, FSM_CHS_RUNNING);
	assert_int_equal(s.img.epoch, 5);
	assert_int_equal(s.prev_owner, 1);
	assert_string_equal(s.reason, "inbound, taken over from member 1");
	struct fsm_syncq q;
	assert_int_equal(fsm_syncq_get(x->f, "IN", "QM2", &q), QSG_OK);
	assert_int_equal(q.rinst, 2);
	/* The old instance cannot put: its next batch, a repeat of its last
	 * one, its instance number from the new owner, and the new number
	 * from the old owner are all fenced and change nothing. */
	uint64_t d = digest(x);
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 1, 1, 5, 2, 2, 1, m, 1),
			 QSG_RC_CHANNEL_FENCED);
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 1, 1, 5, 1, 1, 1, m, 1),
			 QSG_RC_CHANNEL_FENCED);
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 2, 1, 5, 2, 2, 1, m, 1),
			 QSG_RC_CHANNEL_FENCED);
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 1, 2, 5, 2, 2, 1, m, 1),
			 QSG_RC_CHANNEL_FENCED);
	assert_int_equal(digest(x), d);
	assert_int_equal(qi(x, "APP.Q").curdepth, 1);
	/* The new instance puts. */
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 2, 2, 5, 2, 2, 1, m, 1), QSG_OK);
	assert_int_equal(qi(x, "APP.Q").curdepth, 2);
	/* An older sender epoch cannot take it back. */
	d = digest(x);
	assert_int_equal(recv_start_m(x, "IN", "QM2", 1, 4, FSM_CHF_TAKEOVER, 0),
			 QSG_RC_CHANNEL_FENCED);
	assert_int_equal(digest(x), d);
	/* A newer instance on the same member fences the one before it. */
	assert_int_equal(recv_start_m(x, "IN", "QM2", 2, 6, FSM_CHF_TAKEOVER, 0), QSG_OK);
	assert_int_equal(x->r.ch.rinst, 3);
	assert_string_equal(chst(x, "IN", "QM2").reason, "inbound");
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 2, 2, 6, 3, 3, 1, m, 1),
			 QSG_RC_CHANNEL_FENCED);
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 2, 3, 6, 3, 3, 1, m, 1), QSG_OK);
	/* An older sender epoch is fenced whatever the instance number. */
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 2, 3, 5, 4, 4, 1, m, 1),
			 QSG_RC_CHANNEL_FENCED);
	/* Entry removed (peer recovery, or the instance ended): fenced. The
	 * SYNCQ keeps the instance number; the next START goes on from it. */
	s = chst(x, "IN", "QM2");
	assert_int_equal(cas(x, "IN", "QM2", 0, s.img, img(0, 0, 0, 0)), QSG_OK);
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 2, 3, 6, 4, 4, 1, m, 1),
			 QSG_RC_CHANNEL_FENCED);
	assert_int_equal(recv_start_m(x, "IN", "QM2", 1, 6, FSM_CHF_TAKEOVER, 0), QSG_OK);
	assert_int_equal(x->r.ch.rinst, 4);
	assert_int_equal(x->r.ch.lstseq, 3);
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 1, 4, 6, 4, 4, 1, m, 1), QSG_OK);
	assert_int_equal(qi(x, "APP.Q").curdepth, 4);
	/* Batches of the old form (log entries written before this rule)
	 * keep the old rule: the sender epoch only. */
	assert_int_equal(recv_batch_m(x, "IN", "QM2", 2, 0, 6, 5, 5, 1, m, 1), QSG_OK);
	assert_int_equal(qi(x, "APP.Q").curdepth, 5);
	/* Replaying the log gives the same state. */
	struct fsm *h;
	assert_int_equal(fsm_init(&h, NULL), QSG_OK);
	for (size_t i = 0; i < x->nlog; i++)
		assert_int_equal(fsm_apply(h, x->log[i], x->loglen[i], NULL, NULL), QSG_OK);
	assert_int_equal(fsm_digest(h), digest(x));
	fsm_close(h);
}

static int cas_partner(struct ctx *x, const char *name, const char *rqm, struct fsm_chimage before,
		       struct fsm_chimage after, const char *partner)
{
	struct fsm_cmd c = {.op = FSM_OP_CHST_CAS};
	strcpy(c.ch.name, name);
	strcpy(c.ch.rqmname, rqm);
	c.ch.before = before;
	c.ch.after = after;
	strcpy(c.ch.reason, "test");
	strcpy(c.ch.partner, partner);
	return exec(x, &c);
}

static void sdr_partner_recorded(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "QM2", FSM_USAGE_XMITQ, 0), QSG_OK);
	assert_int_equal(chdef(x, "TO.QM2", FSM_CHL_SDR, "QM2", 0), QSG_OK);
	assert_int_equal(
	    cas(x, "TO.QM2", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)),
	    QSG_OK);
	assert_string_equal(chst(x, "TO.QM2", "").partner, "");
	/* The bind after the partner's START reply records its name. */
	assert_int_equal(cas_partner(x, "TO.QM2", "", img(1, 1, FSM_CHS_STARTING, 1),
				     img(1, 1, FSM_CHS_RUNNING, 1), "QMB"),
			 QSG_OK);
	assert_string_equal(chst(x, "TO.QM2", "").partner, "QMB");
	/* Changes without a name keep it, across instances too. */
	assert_int_equal(
	    cas(x, "TO.QM2", "", 0, img(1, 1, FSM_CHS_RUNNING, 1), img(1, 1, FSM_CHS_RETRYING, 1)),
	    QSG_OK);
	assert_int_equal(
	    cas(x, "TO.QM2", "", 0, img(1, 1, FSM_CHS_RETRYING, 1), img(1, 2, FSM_CHS_STARTING, 2)),
	    QSG_OK);
	assert_string_equal(chst(x, "TO.QM2", "").partner, "QMB");
	/* A failed CAS records nothing. */
	uint64_t d = digest(x);
	assert_int_equal(cas_partner(x, "TO.QM2", "", img(1, 1, FSM_CHS_STARTING, 2),
				     img(1, 1, FSM_CHS_RUNNING, 2), "QMC"),
			 QSG_RC_CAS_FAILED);
	assert_int_equal(digest(x), d);
	/* Not on inbound entries (their key is the partner). */
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	assert_int_equal(recv_start_m(x, "IN", "QM2", 2, 1, FSM_CHF_TAKEOVER, 0), QSG_OK);
	struct fsm_chstatus s = chst(x, "IN", "QM2");
	d = digest(x);
	assert_int_equal(cas_partner(x, "IN", "QM2", s.img, s.img, "QMC"), QSG_RC_INVALID);
	assert_int_equal(digest(x), d);
	/* Snapshots keep it. */
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot(x->f, &w), QSG_OK);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	assert_int_equal(fsm_restore(g, w.data, w.len, NULL), QSG_OK);
	assert_int_equal(fsm_chstatus_get(g, "TO.QM2", "", &s), QSG_OK);
	assert_string_equal(s.partner, "QMB");
	struct fsm_syncq q;
	assert_int_equal(fsm_syncq_get(g, "IN", "QM2", &q), QSG_OK);
	assert_int_equal(q.rinst, 1);
	assert_int_equal(fsm_digest(g), digest(x));
	fsm_close(g);
	qsg_wbuf_close(&w);
	/* RESET CHANNEL forgets it: the next partner is accepted. */
	struct fsm_cmd r = {.op = FSM_OP_CH_RESET};
	strcpy(r.ch.name, "TO.QM2");
	r.ch.seq = 1;
	assert_int_equal(exec(x, &r), QSG_OK);
	assert_string_equal(chst(x, "TO.QM2", "").partner, "");
}

/* Format 4 snapshots (before the partner and the receiver instance) and
 * format 5 ones (before the retry fields) restore: cut the newer fields out
 * of a current snapshot. */
static void snapshot_format4_restores(void **state)
{
	struct ctx *x = *state;
	struct qsg_wbuf w, w2;
	struct fsm *g;
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&w2);
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	/* One SDR entry and no SYNCQ: the snapshot ends with its str partner
	 * (""), u32 retries, i64 retry_at_ms, i64 soon_ms (format 6, all 0),
	 * u32 nblk (format 7, 0), u32 indoubt (0), nothing more for an empty
	 * black list (format 8), u32 SYNCQ count (0). */
	assert_int_equal(chdef(x, "TO.QM2", FSM_CHL_SDR, "QM2", 0), QSG_OK);
	assert_int_equal(
	    cas(x, "TO.QM2", "", FSM_CHL_SDR, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)),
	    QSG_OK);
	assert_int_equal(fsm_snapshot(x->f, &w), QSG_OK);
	assert_int_equal(w.data[0], FSM_SNAPSHOT_VERSION);
	/* Format 6 as the encoder writes it (format 7 also gives each member
	 * its command level), then formats 5 and 4 cut from it. */
	struct qsg_wbuf w6;
	qsg_wbuf_init(&w6);
	assert_int_equal(fsm_snapshot_format(x->f, &w6, 6), QSG_OK);
	uint8_t *old = malloc(w6.len);
	assert_non_null(old);
	for (int v = 6; v >= 4; v--) {
		/* the retry fields (+ partner) */
		size_t cut = v == 6 ? 0 : v == 5 ? 20 : 22;
		memcpy(old, w6.data, w6.len - 8 - cut);
		memcpy(old + w6.len - 8 - cut, w6.data + w6.len - 8, 8);
		old[0] = (uint8_t)v;
		assert_int_equal(fsm_restore(g, old, w6.len - cut, NULL), QSG_OK);
		qsg_wbuf_reset(&w2);
		assert_int_equal(fsm_snapshot(g, &w2), QSG_OK);
		assert_int_equal(w2.len, w.len);
		assert_memory_equal(w2.data, w.data, w.len);
		/* The same bytes as a newer format are refused (too short). */
		old[0] = (uint8_t)(v + 1);
		assert_int_not_equal(fsm_restore(g, old, w6.len - cut, NULL), QSG_OK);
	}
	free(old);
	qsg_wbuf_close(&w6);
	/* One SYNCQ record and no status entry: the snapshot ends with its
	 * u64 rinst. */
	struct fsm_chstatus s = chst(x, "TO.QM2", "");
	assert_int_equal(cas(x, "TO.QM2", "", 0, s.img, img(0, 0, 0, 0)), QSG_OK);
	assert_int_equal(chdef(x, "IN", FSM_CHL_RCVR, "", 0), QSG_OK);
	assert_int_equal(recv_start(x, "IN", "QM2", 3, 0, 0), QSG_OK);
	s = chst(x, "IN", "QM2");
	assert_int_equal(cas(x, "IN", "QM2", 0, s.img, img(0, 0, 0, 0)), QSG_OK);
	qsg_wbuf_reset(&w);
	qsg_wbuf_reset(&w2);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 5), QSG_OK);
	w.data[0] = 4;
	assert_int_equal(fsm_restore(g, w.data, w.len - 8, NULL), QSG_OK);
	struct fsm_syncq q;
	assert_int_equal(fsm_syncq_get(g, "IN", "QM2", &q), QSG_OK);
	assert_int_equal(q.epoch, 3);
	assert_int_equal(q.rinst, 0);
	w.data[0] = 5; /* compared in format 5 (format 7 adds member levels) */
	assert_int_equal(fsm_snapshot_format(g, &w2, 5), QSG_OK);
	assert_int_equal(w2.len, w.len);
	assert_memory_equal(w2.data, w.data, w.len);
	fsm_close(g);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&w2);
}

static void command_codec_optional_fields(void **state)
{
	(void)state;
	struct qsg_wbuf list, w;
	struct fsm_cmd c, d;
	/* CHST_CAS: the partner, when set. */
	qsg_wbuf_init(&list);
	qsg_wbuf_init(&w);
	fill_cmd(&c, FSM_OP_CHST_CAS, &list);
	strcpy(c.ch.rqmname, "");
	strcpy(c.ch.partner, "QMB");
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_string_equal(d.ch.partner, "QMB");
	/* Without it: the old encoding; present but empty is refused. */
	qsg_wbuf_reset(&w);
	c.ch.partner[0] = '\0';
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	size_t base = w.len;
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_string_equal(d.ch.partner, "");
	qsg_put_u16(&w, 0);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	w.len = base;
	qsg_put_str(&w, "bad name!");
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	/* RECV_BATCH: the receiver instance, when set. */
	qsg_wbuf_reset(&list);
	qsg_wbuf_reset(&w);
	fill_cmd(&c, FSM_OP_CH_RECV_BATCH, &list);
	c.ch.rinst = 7;
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.ch.rinst, 7);
	qsg_wbuf_reset(&w);
	c.ch.rinst = 0;
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.ch.rinst, 0);
	qsg_put_u64(&w, 0);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	/* RECV_START: FSM_CHF_TAKEOVER is a known flag, 0x10 is not. */
	qsg_wbuf_reset(&w);
	fill_cmd(&c, FSM_OP_CH_RECV_START, &list);
	c.ch.flags = FSM_CHF_TAKEOVER;
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.ch.flags, FSM_CHF_TAKEOVER);
	qsg_wbuf_reset(&w);
	c.ch.flags = 0x10;
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&list);
	qsg_wbuf_close(&w);
}

static const uint8_t chan_ops[] = {FSM_OP_QMGR_ALTER,	 FSM_OP_CHDEFINE,     FSM_OP_CHALTER,
				   FSM_OP_CHDELETE,	 FSM_OP_CHINIT_STATE, FSM_OP_CHST_CAS,
				   FSM_OP_CH_GETBATCH,	 FSM_OP_CH_SETTLE,    FSM_OP_CH_RESET,
				   FSM_OP_CH_RECV_START, FSM_OP_CH_RECV_BATCH};

static void command_codec_channel_ops(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof chan_ops; i++) {
		struct qsg_wbuf list, w;
		qsg_wbuf_init(&list);
		qsg_wbuf_init(&w);
		struct fsm_cmd c, d;
		fill_cmd(&c, chan_ops[i], &list);
		assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
		assert_int_equal(w.data[1], 2);
		assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
		assert_int_equal(d.op, c.op);
		switch (c.op) {
		case FSM_OP_QMGR_ALTER:
			assert_string_equal(d.ch.qm.deadq, "DLQ");
			break;
		case FSM_OP_CHDEFINE:
			assert_int_equal(d.ch.attrs.chltype, FSM_CHL_RCVR);
			assert_string_equal(d.ch.name, "CH.A");
			break;
		case FSM_OP_CHST_CAS:
			assert_int_equal(d.ch.after.state, FSM_CHS_STARTING);
			assert_int_equal(d.ch.after.epoch, 1);
			break;
		case FSM_OP_CH_GETBATCH:
			assert_int_equal(d.ch.max_msgs, 10);
			assert_int_equal(d.ch.epoch, 2);
			break;
		case FSM_OP_CH_RECV_BATCH:
			assert_int_equal(d.ch.count, 1);
			assert_string_equal(d.ch.local_qmgr, "QSG1");
			break;
		case FSM_OP_CHINIT_STATE:
			assert_int_equal(d.ch.member_id, 1);
			break;
		default:
			assert_string_equal(d.ch.name, "CH.A");
			break;
		}
		/* Every truncation and a trailing byte are refused. */
		for (size_t n = 0; n < w.len; n++)
			assert_int_not_equal(fsm_cmd_decode(w.data, n, &d, NULL), QSG_OK);
		qsg_put_u8(&w, 0);
		assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
		/* Every single-byte corruption decodes or is refused, never
		 * crashes; version 1 is refused. */
		w.len--;
		for (size_t n = 0; n < w.len; n++) {
			uint8_t save = w.data[n];
			w.data[n] = (uint8_t)(save ^ 0xff);
			(void)fsm_cmd_decode(w.data, w.len, &d, NULL);
			w.data[n] = save;
		}
		w.data[1] = 1;
		assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_VERSION);
		qsg_wbuf_close(&w);
		qsg_wbuf_close(&list);
	}
}

static int encode_decode(const struct fsm_cmd *c)
{
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	struct fsm_cmd d;
	int rc = fsm_cmd_decode(w.data, w.len, &d, NULL);
	qsg_wbuf_close(&w);
	return rc;
}

static void command_decode_channel_values(void **state)
{
	(void)state;
	struct qsg_wbuf list;
	struct fsm_cmd c;
	qsg_wbuf_init(&list);
	fill_cmd(&c, FSM_OP_CHDELETE, &list);
	strcpy(c.ch.name, "A.NAME.LONGER.THAN.20");
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	strcpy(c.ch.name, "bad name");
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	fill_cmd(&c, FSM_OP_CHST_CAS, &list);
	c.ch.after.state = 6;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	c.ch.after.state = 1;
	c.ch.chltype = 2;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	c.ch.chltype = 0;
	c.ch.before.exists = 2;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	fill_cmd(&c, FSM_OP_CH_GETBATCH, &list);
	c.ch.max_msgs = 0;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	fill_cmd(&c, FSM_OP_CHDEFINE, &list);
	c.ch.attrs.compmsg = 2;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	fill_cmd(&c, FSM_OP_CHDEFINE, &list);
	c.ch.attrs.set = 0x10000;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	fill_cmd(&c, FSM_OP_CH_RESET, &list);
	c.ch.seq = 0;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	fill_cmd(&c, FSM_OP_CHINIT_STATE, &list);
	c.ch.chinit = 2;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	fill_cmd(&c, FSM_OP_QMGR_ALTER, &list);
	strcpy(c.ch.qm.deadq, "BAD Q");
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	fill_cmd(&c, FSM_OP_CH_RECV_START, &list);
	c.ch.rqmname[0] = '\0';
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	/* Lists: count must match the list exactly. */
	qsg_wbuf_reset(&list);
	fill_cmd(&c, FSM_OP_CH_SETTLE, &list);
	c.ch.count = 2;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	c.ch.count = 0;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	c.ch.count = 1;
	assert_int_equal(encode_decode(&c), QSG_OK);
	c.ch.flags = 0x80;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	qsg_wbuf_reset(&list);
	struct fsm_chdisp bad = {.seq = 1, .action = 5};
	fsm_chlist_put_disp(&list, &bad);
	c.ch.flags = 0;
	c.ch.list.p = list.data;
	c.ch.list.len = list.len;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	qsg_wbuf_reset(&list);
	fill_cmd(&c, FSM_OP_CH_RECV_BATCH, &list);
	c.ch.count = 2;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	qsg_wbuf_reset(&list);
	struct fsm_chmsg m;
	memset(&m, 0, sizeof m);
	strcpy(m.rname, "Q");
	m.msg.expiry_ms = -1;
	fsm_chlist_put_msg(&list, &m);
	fill_cmd(&c, FSM_OP_CH_RECV_BATCH, &list);
	c.ch.list.p = list.data;
	c.ch.list.len = list.len;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	qsg_wbuf_reset(&list);
	m.msg.expiry_ms = 0;
	m.rname[0] = '\0';
	fsm_chlist_put_msg(&list, &m);
	c.ch.list.p = list.data;
	c.ch.list.len = list.len;
	assert_int_equal(encode_decode(&c), QSG_RC_BAD_FRAME);
	/* Queue attributes: type and usage ranges. */
	struct fsm_cmd q = {.op = FSM_OP_QDEFINE};
	strcpy(q.attrs.name, "Q");
	q.attrs.qtype = 4;
	assert_int_equal(encode_decode(&q), QSG_RC_BAD_FRAME);
	q.attrs.qtype = 1;
	q.attrs.usage = 2;
	assert_int_equal(encode_decode(&q), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&list);
}

static void garbage_entries_never_crash(void **state)
{
	struct ctx *x = *state;
	sender_setup(x, 3);
	assert_int_equal(getbatch(x, "TO.QM2", 1, 1, 2, 0, NULL, NULL), QSG_OK);
	uint64_t d = digest(x);
	uint32_t seed = 12345;
	uint8_t buf[256];
	for (int round = 0; round < 3000; round++) {
		size_t n = 16 + (size_t)(seed % 200);
		/* A valid header and command length, a channel op, then noise. */
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		buf[0] = 1;
		buf[1] = 1;
		buf[2] = buf[3] = 0;
		buf[12] = 1;
		buf[13] = buf[14] = buf[15] = 0;
		uint32_t cl = (uint32_t)(n - 20);
		buf[16] = (uint8_t)cl;
		buf[17] = (uint8_t)(cl >> 8);
		buf[18] = buf[19] = 0;
		buf[20] = chan_ops[round % sizeof chan_ops];
		buf[21] = FSM_CMD_VERSION;
		int rc = fsm_apply(x->f, buf, n, NULL, NULL);
		if (rc != QSG_OK) {
			assert_int_equal(digest(x), d);
		} else {
			d = digest(x);
		}
	}
	/* Result decoding of channel results. */
	struct fsm_result r;
	uint8_t b[64] = {0};
	b[0] = (uint8_t)(QSG_RC_CAS_FAILED & 0xff);
	b[1] = (uint8_t)(QSG_RC_CAS_FAILED >> 8);
	b[4] = 1;
	b[5] = 7;
	b[10] = 9; /* epoch low byte */
	b[9] = FSM_CHS_RUNNING;
	assert_int_equal(fsm_result_decode(FSM_OP_CHST_CAS, b, 18, &r, NULL), QSG_OK);
	assert_int_equal(r.rc, QSG_RC_CAS_FAILED);
	assert_int_equal(r.ch.current.exists, 1);
	assert_int_equal(r.ch.current.owner, 7);
	assert_int_equal(r.ch.current.state, FSM_CHS_RUNNING);
	assert_int_equal(r.ch.current.epoch, 9);
	for (size_t n = 5; n < 18; n++)
		assert_int_equal(fsm_result_decode(FSM_OP_CHST_CAS, b, n, &r, NULL),
				 QSG_RC_BAD_FRAME);
	b[9] = 6;
	assert_int_equal(fsm_result_decode(FSM_OP_CHST_CAS, b, 18, &r, NULL), QSG_RC_BAD_FRAME);
	/* BATCH_REJECTED: u32 n, n x {index, reason}. */
	memset(b, 0, sizeof b);
	b[0] = (uint8_t)(QSG_RC_BATCH_REJECTED & 0xff);
	b[1] = (uint8_t)(QSG_RC_BATCH_REJECTED >> 8);
	b[4] = 1;
	b[8] = 3;
	b[12] = (uint8_t)(QSG_RC_Q_FULL & 0xff);
	b[13] = (uint8_t)(QSG_RC_Q_FULL >> 8);
	assert_int_equal(fsm_result_decode(FSM_OP_CH_RECV_BATCH, b, 16, &r, NULL), QSG_OK);
	assert_int_equal(r.ch.count, 1);
	assert_int_equal(fsm_result_decode(FSM_OP_CH_RECV_BATCH, b, 15, &r, NULL),
			 QSG_RC_BAD_FRAME);
	b[4] = 2;
	assert_int_equal(fsm_result_decode(FSM_OP_CH_RECV_BATCH, b, 16, &r, NULL),
			 QSG_RC_BAD_FRAME);
	/* GETBATCH with a truncated message list. */
	memset(b, 0, sizeof b);
	b[4] = 1;
	assert_int_equal(fsm_result_decode(FSM_OP_CH_GETBATCH, b, 8, &r, NULL), QSG_RC_BAD_FRAME);
	b[4] = 0;
	assert_int_equal(fsm_result_decode(FSM_OP_CH_GETBATCH, b, 8, &r, NULL), QSG_OK);
	assert_int_equal(fsm_result_decode(FSM_OP_CH_SETTLE, b, 16, &r, NULL), QSG_OK);
	assert_int_equal(fsm_result_decode(FSM_OP_CH_SETTLE, b, 15, &r, NULL), QSG_RC_BAD_FRAME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(qremote_put_goes_to_xmitq_with_xqh, setup, teardown),
	    cmocka_unit_test_setup_teardown(qremote_default_xmitq_and_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(qremote_syncpoint_and_dedup, setup, teardown),
	    cmocka_unit_test_setup_teardown(qtype_rules, setup, teardown),
	    cmocka_unit_test(xqh_dlh_codecs),
	    cmocka_unit_test(chlist_iterators),
	    cmocka_unit_test_setup_teardown(qmgr_alter_and_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(chdefine_defaults_and_validation, setup, teardown),
	    cmocka_unit_test_setup_teardown(chalter_and_chdelete, setup, teardown),
	    cmocka_unit_test_setup_teardown(cas_create_and_failure_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(cas_epoch_rule, setup, teardown),
	    cmocka_unit_test_setup_teardown(cas_member_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(cas_xmitq_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(getbatch_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(settle_pipelined_backout_rest, setup, teardown),
	    cmocka_unit_test_setup_teardown(settle_idempotent_and_seq_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(settle_dlq_disposition, setup, teardown),
	    cmocka_unit_test_setup_teardown(settle_hold_disposition, setup, teardown),
	    cmocka_unit_test_setup_teardown(settle_bad_disposition_changes_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(settle_operator_resolve, setup, teardown),
	    cmocka_unit_test_setup_teardown(member_fail_leaves_locked_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(ch_reset_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(recv_start_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(recv_batch_dup_gap_fence, setup, teardown),
	    cmocka_unit_test_setup_teardown(recv_batch_reject_list_changes_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(recv_batch_maxdepth_across_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(recv_batch_multihop_and_remote, setup, teardown),
	    cmocka_unit_test_setup_teardown(recv_batch_expiry_relative, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_restore_digest_with_channels, setup, teardown),
	    cmocka_unit_test_setup_teardown(inbound_takeover_fences_old_instance, setup, teardown),
	    cmocka_unit_test_setup_teardown(sdr_partner_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_format4_restores, setup, teardown),
	    cmocka_unit_test(command_codec_optional_fields),
	    cmocka_unit_test(command_codec_channel_ops),
	    cmocka_unit_test(command_decode_channel_values),
	    cmocka_unit_test_setup_teardown(garbage_entries_never_crash, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
