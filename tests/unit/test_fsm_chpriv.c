/* Unit tests of private channels in src/fsm (docs/channels.md "Private
 * channels"): the disposition part of the channel attributes (encoding,
 * old records, decoder checks), the command level, one name space for
 * shared and private channels, ALTER keeping the disposition, the
 * ownership rule of the status table (a private channel runs on its member
 * only), the private transmission queue (QMGR, as the putting member sees
 * it) and the private receiver. */
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

struct ctx {
	struct fsm *f;
	int64_t now;
	struct qsg_wbuf res;
	struct fsm_result r;
	uint64_t ep[3]; /* epochs of clients 1 (member 1) and 2 (member 2) */
};

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
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&e);
	uint32_t len = qsg_le32(x->res.data);
	assert_int_equal(len + 4, x->res.len);
	assert_int_equal(fsm_result_decode(c->op, x->res.data + 4, len, &x->r, NULL), QSG_OK);
	return x->r.rc;
}

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	assert_int_equal(fsm_init(&x->f, NULL), QSG_OK);
	qsg_wbuf_init(&x->res);
	x->now = 1000000;
	*state = x;
	for (uint32_t id = 1; id <= 2; id++) {
		struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN, .member_id = id};
		snprintf(c.name, sizeof c.name, "QM%u", id);
		assert_int_equal(exec(x, &c), QSG_OK);
	}
	for (uint32_t id = 1; id <= 2; id++) {
		struct fsm_cmd c = {.op = FSM_OP_ATTACH, .client_id = id, .member_id = id};
		assert_int_equal(exec(x, &c), QSG_OK);
		x->ep[id] = x->r.epoch;
	}
	return 0;
}

static int teardown(void **state)
{
	struct ctx *x = *state;
	fsm_close(x->f);
	qsg_wbuf_close(&x->res);
	free(x);
	return 0;
}

/* --- helpers ------------------------------------------------------------- */

static void sdr_attrs(struct fsm_chattrs *a, const char *name, const char *xmitq)
{
	memset(a, 0, sizeof *a);
	strcpy(a->name, name);
	a->set = FSM_CA_CHLTYPE | FSM_CA_CONNAME | FSM_CA_XMITQ;
	a->chltype = FSM_CHL_SDR;
	strcpy(a->conname, "127.0.0.1:1414");
	strcpy(a->xmitq, xmitq);
}

/* A channel definition: scope 0 = shared, else private of that member. */
static int chdef(struct ctx *x, const char *name, uint8_t type, const char *xmitq, uint32_t scope,
		 uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_CHDEFINE, .flags = flags};
	if (type == FSM_CHL_SDR) {
		sdr_attrs(&c.ch.attrs, name, xmitq);
	} else {
		strcpy(c.ch.attrs.name, name);
		c.ch.attrs.set = FSM_CA_CHLTYPE;
		c.ch.attrs.chltype = type;
	}
	if (scope != 0) {
		c.ch.attrs.set |= FSM_CA_QSGDISP;
		c.ch.attrs.disp = FSM_DISP_QMGR;
		c.ch.attrs.scope = scope;
	}
	return exec(x, &c);
}

/* A local queue: scope 0 = SHARED, else QMGR of that member. */
static int qlocal(struct ctx *x, const char *name, uint8_t usage, uint32_t scope)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	strcpy(c.queue, name);
	strcpy(c.attrs.name, name);
	c.attrs.qtype = FSM_QT_LOCAL;
	c.attrs.usage = usage;
	c.attrs.set = FSM_QA_USAGE;
	c.attrs.disp = scope != 0 ? FSM_DISP_QMGR : FSM_DISP_SHARED;
	c.attrs.scope = scope;
	return exec(x, &c);
}

static int qremote(struct ctx *x, const char *name, const char *xmitq)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE};
	strcpy(c.queue, name);
	strcpy(c.attrs.name, name);
	c.attrs.qtype = FSM_QT_REMOTE;
	strcpy(c.attrs.rname, "TARGET");
	strcpy(c.attrs.rqmname, "REMOTEQM");
	strcpy(c.attrs.xmitq, xmitq);
	c.attrs.set = FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ;
	c.attrs.disp = FSM_DISP_GROUP;
	return exec(x, &c);
}

static int put(struct ctx *x, uint32_t client, const char *queue, const char *body)
{
	struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = client, .epoch = x->ep[client]};
	strcpy(c.queue, queue);
	c.msg.body.p = (const uint8_t *)body;
	c.msg.body.len = strlen(body);
	return exec(x, &c);
}

static struct fsm_chimage img(uint8_t exists, uint32_t owner, uint8_t st, uint64_t epoch)
{
	struct fsm_chimage i = {.exists = exists, .owner = owner, .state = st, .epoch = epoch};
	return i;
}

static int cas(struct ctx *x, const char *name, struct fsm_chimage before, struct fsm_chimage after)
{
	struct fsm_cmd c = {.op = FSM_OP_CHST_CAS};
	strcpy(c.ch.name, name);
	c.ch.chltype = FSM_CHL_SDR;
	c.ch.before = before;
	c.ch.after = after;
	strcpy(c.ch.reason, "test");
	return exec(x, &c);
}

static int getbatch(struct ctx *x, const char *name, uint32_t member, uint64_t epoch)
{
	struct fsm_cmd c = {.op = FSM_OP_CH_GETBATCH};
	strcpy(c.ch.name, name);
	c.ch.member_id = member;
	c.ch.epoch = epoch;
	c.ch.max_msgs = 10;
	return exec(x, &c);
}

static void fail_member(struct ctx *x, uint32_t id)
{
	struct fsm_member m;
	assert_int_equal(fsm_member_get(x->f, id, &m), QSG_OK);
	struct fsm_cmd c = {
	    .op = FSM_OP_MEMBER_FAIL, .member_id = id, .seq = (uint64_t)m.lease_expiry_ms};
	assert_int_equal(exec(x, &c), QSG_OK);
}

/* --- encoding -------------------------------------------------------------- */

static void encode(const struct fsm_chattrs *a, struct qsg_wbuf *w)
{
	qsg_wbuf_reset(w);
	fsm_chattrs_encode(w, a);
	assert_int_equal(w->err, QSG_OK);
}

static int decode(const struct qsg_wbuf *w, size_t len, struct fsm_chattrs *out)
{
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, w->data, len);
	int rc = fsm_chattrs_decode(&r, out, NULL);
	if (rc == QSG_OK && qsg_rbuf_left(&r) != 0)
		return QSG_RC_BAD_FRAME;
	return rc;
}

static void disposition_encoding(void **state)
{
	(void)state;
	struct qsg_wbuf w, base;
	struct fsm_chattrs a, d;
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&base);

	/* A shared channel: exactly the old layout (the disposition fields
	 * are not written, whatever they hold), and it decodes as shared. */
	sdr_attrs(&a, "SHARED.CH", "XQ");
	encode(&a, &base);
	a.disp = FSM_DISP_QMGR;
	a.scope = 7;
	encode(&a, &w);
	assert_int_equal(w.len, base.len);
	assert_memory_equal(w.data, base.data, base.len);
	assert_int_equal(decode(&w, w.len, &d), QSG_OK);
	assert_false(FSM_CH_PRIVATE(&d));
	assert_int_equal(d.disp, 0);
	assert_int_equal(d.scope, 0);

	/* A private channel: the old layout plus u8 disp and u32 scope. */
	a.set |= FSM_CA_QSGDISP;
	a.scope = 2;
	encode(&a, &w);
	assert_int_equal(w.len, base.len + 5);
	assert_int_equal(decode(&w, w.len, &d), QSG_OK);
	assert_true(FSM_CH_PRIVATE(&d));
	assert_int_equal(d.scope, 2);
	assert_int_equal(d.set, a.set);
	assert_string_equal(d.xmitq, "XQ");
	/* Every truncation of the part is refused. */
	for (size_t n = base.len; n < w.len; n++)
		assert_int_equal(decode(&w, n, &d), QSG_RC_BAD_FRAME);

	/* The part must say QMGR with a member. */
	a.disp = FSM_DISP_GROUP;
	encode(&a, &w);
	assert_int_equal(decode(&w, w.len, &d), QSG_RC_BAD_FRAME);
	a.disp = FSM_DISP_QMGR;
	a.scope = 0;
	encode(&a, &w);
	assert_int_equal(decode(&w, w.len, &d), QSG_RC_BAD_FRAME);
	/* Bits beyond the known parts (disposition, SSL) are still unknown. */
	a.scope = 1;
	a.set |= 0x80000;
	encode(&a, &w);
	assert_int_equal(decode(&w, w.len, &d), QSG_RC_BAD_FRAME);

	qsg_wbuf_close(&w);
	qsg_wbuf_close(&base);
}

/* The command level: 3 for a CHDEFINE/CHALTER of a private channel only. */
static void command_level(void **state)
{
	(void)state;
	struct fsm_cmd c;
	assert_true(FSM_CMDLEVEL >= 3);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CHDEFINE;
	sdr_attrs(&c.ch.attrs, "C", "XQ");
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	c.ch.attrs.set |= FSM_CA_QSGDISP;
	c.ch.attrs.disp = FSM_DISP_QMGR;
	c.ch.attrs.scope = 1;
	assert_int_equal(fsm_cmd_level(&c), 3);
	c.op = FSM_OP_CHALTER;
	assert_int_equal(fsm_cmd_level(&c), 3);
	c.ch.attrs.set &= ~(uint32_t)FSM_CA_QSGDISP;
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	/* Through the command codec as well. */
	struct qsg_wbuf w;
	struct fsm_cmd d;
	qsg_wbuf_init(&w);
	c.op = FSM_OP_CHDEFINE;
	c.ch.attrs.set |= FSM_CA_QSGDISP;
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(fsm_cmd_level(&d), 3);
	assert_true(FSM_CH_PRIVATE(&d.ch.attrs));
	assert_int_equal(d.ch.attrs.scope, 1);
	qsg_wbuf_close(&w);
}

/* --- definitions ------------------------------------------------------------- */

static void one_name_space(void **state)
{
	struct ctx *x = *state;
	struct fsm_chattrs a;
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "XQ", 1, 0), QSG_OK);
	assert_int_equal(fsm_channel_get(x->f, "PRIV", &a), QSG_OK);
	assert_true(FSM_CH_PRIVATE(&a));
	assert_int_equal(a.scope, 1);
	/* The name exists: as shared, as another member's, even with REPLACE. */
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "XQ", 0, 0), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "XQ", 0, FSM_F_REPLACE),
			 QSG_RC_OBJECT_EXISTS);
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "XQ", 2, FSM_F_REPLACE),
			 QSG_RC_OBJECT_EXISTS);
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "XQ2", 1, FSM_F_REPLACE), QSG_OK);
	assert_int_equal(fsm_channel_get(x->f, "PRIV", &a), QSG_OK);
	assert_true(FSM_CH_PRIVATE(&a));
	assert_string_equal(a.xmitq, "XQ2");
	/* A shared channel's name cannot be taken by a private one. */
	assert_int_equal(chdef(x, "SHR", FSM_CHL_SDR, "XQ", 0, 0), QSG_OK);
	assert_int_equal(chdef(x, "SHR", FSM_CHL_SDR, "XQ", 1, FSM_F_REPLACE),
			 QSG_RC_OBJECT_EXISTS);
	assert_int_equal(fsm_channel_get(x->f, "SHR", &a), QSG_OK);
	assert_false(FSM_CH_PRIVATE(&a));
	assert_int_equal(a.set & FSM_CA_QSGDISP, 0);
	/* Only a member of the group owns a private channel. */
	assert_int_equal(chdef(x, "NOBODY", FSM_CHL_SDR, "XQ", 9, 0), QSG_RC_BAD_ATTR);
	assert_int_equal(fsm_channel_get(x->f, "NOBODY", &a), QSG_RC_CHANNEL_NOT_FOUND);
}

static int chalter(struct ctx *x, const char *name, uint32_t scope, uint32_t batchsz)
{
	struct fsm_cmd c = {.op = FSM_OP_CHALTER};
	strcpy(c.ch.attrs.name, name);
	c.ch.attrs.set = FSM_CA_BATCHSZ;
	c.ch.attrs.batchsz = batchsz;
	if (scope != 0) {
		c.ch.attrs.set |= FSM_CA_QSGDISP;
		c.ch.attrs.disp = FSM_DISP_QMGR;
		c.ch.attrs.scope = scope;
	}
	return exec(x, &c);
}

/* ALTER names the disposition the channel has; it cannot change it. */
static void alter_keeps_disposition(void **state)
{
	struct ctx *x = *state;
	struct fsm_chattrs a;
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "XQ", 1, 0), QSG_OK);
	assert_int_equal(chdef(x, "SHR", FSM_CHL_SDR, "XQ", 0, 0), QSG_OK);
	assert_int_equal(chalter(x, "PRIV", 0, 7), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(chalter(x, "PRIV", 2, 7), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(chalter(x, "SHR", 1, 7), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(chalter(x, "PRIV", 1, 7), QSG_OK);
	assert_int_equal(chalter(x, "SHR", 0, 8), QSG_OK);
	assert_int_equal(fsm_channel_get(x->f, "PRIV", &a), QSG_OK);
	assert_int_equal(a.batchsz, 7);
	assert_true(FSM_CH_PRIVATE(&a));
	assert_int_equal(a.scope, 1);
	assert_int_equal(fsm_channel_get(x->f, "SHR", &a), QSG_OK);
	assert_int_equal(a.batchsz, 8);
	assert_false(FSM_CH_PRIVATE(&a));
}

/* A snapshot keeps the disposition; a snapshot without private channels
 * is the same bytes as before them (shared channels only). */
static void snapshot_round_trip(void **state)
{
	struct ctx *x = *state;
	struct qsg_wbuf s1, s2;
	char errmsg[QSG_ERRMSG_SIZE];
	struct fsm *g;
	struct fsm_chattrs a;
	qsg_wbuf_init(&s1);
	qsg_wbuf_init(&s2);
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "XQ", 2, 0), QSG_OK);
	assert_int_equal(chdef(x, "PRCV", FSM_CHL_RCVR, "", 1, 0), QSG_OK);
	assert_int_equal(chdef(x, "SHR", FSM_CHL_SDR, "XQ", 0, 0), QSG_OK);
	assert_int_equal(fsm_snapshot(x->f, &s1), QSG_OK);
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	assert_int_equal(fsm_restore(g, s1.data, s1.len, errmsg), QSG_OK);
	assert_int_equal(fsm_snapshot(g, &s2), QSG_OK);
	assert_int_equal(s1.len, s2.len);
	assert_memory_equal(s1.data, s2.data, s1.len);
	assert_int_equal(fsm_channel_get(g, "PRIV", &a), QSG_OK);
	assert_true(FSM_CH_PRIVATE(&a));
	assert_int_equal(a.scope, 2);
	assert_int_equal(fsm_channel_get(g, "PRCV", &a), QSG_OK);
	assert_true(FSM_CH_PRIVATE(&a));
	assert_int_equal(a.scope, 1);
	assert_int_equal(fsm_channel_get(g, "SHR", &a), QSG_OK);
	assert_false(FSM_CH_PRIVATE(&a));
	fsm_close(g);
	qsg_wbuf_close(&s1);
	qsg_wbuf_close(&s2);
}

/* --- the status table: a private channel runs on its member only ------------ */

static void ownership_rule(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "XQ", FSM_USAGE_XMITQ, 1), QSG_OK);
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "XQ", 1, 0), QSG_OK);
	/* Another member never gets it, in any active state. */
	assert_int_equal(cas(x, "PRIV", img(0, 0, 0, 0), img(1, 2, FSM_CHS_STARTING, 1)),
			 QSG_RC_INVALID);
	assert_int_equal(cas(x, "PRIV", img(0, 0, 0, 0), img(1, 2, FSM_CHS_RECOVERING, 0)),
			 QSG_RC_INVALID);
	assert_int_equal(cas(x, "PRIV", img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)), QSG_OK);
	assert_int_equal(
	    cas(x, "PRIV", img(1, 1, FSM_CHS_STARTING, 1), img(1, 2, FSM_CHS_STARTING, 2)),
	    QSG_RC_INVALID);
	assert_int_equal(
	    cas(x, "PRIV", img(1, 1, FSM_CHS_STARTING, 1), img(1, 1, FSM_CHS_RUNNING, 1)), QSG_OK);
	/* Its member fails: nobody takes it over or recovers it; the entry
	 * stays as it was. Any member may stop it (not an active state). */
	fail_member(x, 1);
	assert_int_equal(
	    cas(x, "PRIV", img(1, 1, FSM_CHS_RUNNING, 1), img(1, 2, FSM_CHS_STARTING, 2)),
	    QSG_RC_INVALID);
	assert_int_equal(
	    cas(x, "PRIV", img(1, 1, FSM_CHS_RUNNING, 1), img(1, 2, FSM_CHS_RECOVERING, 1)),
	    QSG_RC_INVALID);
	struct fsm_chstatus st;
	assert_int_equal(fsm_chstatus_get(x->f, "PRIV", "", &st), QSG_OK);
	assert_int_equal(st.img.owner, 1);
	assert_int_equal(st.img.state, FSM_CHS_RUNNING);
	assert_int_equal(
	    cas(x, "PRIV", img(1, 1, FSM_CHS_RUNNING, 1), img(1, 1, FSM_CHS_STOPPED, 1)), QSG_OK);
}

/* Private channels of two members on xmitqs of the same name use two
 * queues (each member's QMGR queue): both may run at once. Two private
 * channels of one member on one xmitq may not. */
static void xmitq_in_use_by_scope(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "XQ", FSM_USAGE_XMITQ, 1), QSG_OK);
	assert_int_equal(qlocal(x, "XQ", FSM_USAGE_XMITQ, 2), QSG_OK);
	assert_int_equal(chdef(x, "P1", FSM_CHL_SDR, "XQ", 1, 0), QSG_OK);
	assert_int_equal(chdef(x, "P2", FSM_CHL_SDR, "XQ", 2, 0), QSG_OK);
	assert_int_equal(chdef(x, "P1B", FSM_CHL_SDR, "XQ", 1, 0), QSG_OK);
	assert_int_equal(cas(x, "P1", img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)), QSG_OK);
	assert_int_equal(cas(x, "P2", img(0, 0, 0, 0), img(1, 2, FSM_CHS_STARTING, 1)), QSG_OK);
	assert_int_equal(cas(x, "P1B", img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)),
			 QSG_RC_XMITQ_IN_USE);
}

/* A put through a remote queue resolves the xmitq as the putting member
 * sees it: member 1's QMGR xmitq for a put through member 1; nothing for
 * member 2. The private sender gets the message from its member's queue,
 * and a shared sender on the SHARED queue of that name does not. */
static void private_xmitq_put_and_get(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(qlocal(x, "PXQ", FSM_USAGE_XMITQ, 1), QSG_OK);
	assert_int_equal(qremote(x, "RQ", "PXQ"), QSG_OK);
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "PXQ", 1, 0), QSG_OK);
	assert_int_equal(put(x, 1, "RQ", "one"), QSG_OK);
	assert_int_not_equal(put(x, 2, "RQ", "two"), QSG_OK);
	assert_int_equal(fsm_available(x->f, 1, "PXQ"), 1);
	assert_int_equal(fsm_available(x->f, 2, "PXQ"), 0);
	/* A member's own queue that is not USAGE(XMITQ) is still refused. */
	assert_int_equal(qlocal(x, "NXQ", FSM_USAGE_NORMAL, 1), QSG_OK);
	assert_int_equal(qremote(x, "RQ2", "NXQ"), QSG_OK);
	assert_int_equal(put(x, 1, "RQ2", "three"), QSG_RC_XMIT_Q_USAGE_ERROR);
	/* The private sender takes it from member 1's queue. */
	assert_int_equal(cas(x, "PRIV", img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)), QSG_OK);
	assert_int_equal(
	    cas(x, "PRIV", img(1, 1, FSM_CHS_STARTING, 1), img(1, 1, FSM_CHS_RUNNING, 1)), QSG_OK);
	assert_int_equal(getbatch(x, "PRIV", 1, 1), QSG_OK);
	assert_int_equal(x->r.ch.count, 1);
	assert_int_equal(fsm_available(x->f, 1, "PXQ"), 0);
	/* A shared sender whose xmitq has that name reads the SHARED queue
	 * (none here), never member 1's. */
	assert_int_equal(put(x, 1, "RQ", "four"), QSG_OK);
	assert_int_equal(chdef(x, "SHR", FSM_CHL_SDR, "PXQ", 0, 0), QSG_OK);
	assert_int_equal(cas(x, "SHR", img(0, 0, 0, 0), img(1, 2, FSM_CHS_STARTING, 1)), QSG_OK);
	assert_int_equal(
	    cas(x, "SHR", img(1, 2, FSM_CHS_STARTING, 1), img(1, 2, FSM_CHS_RUNNING, 1)), QSG_OK);
	assert_int_equal(getbatch(x, "SHR", 2, 1), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(fsm_available(x->f, 1, "PXQ"), 1);
}

static int recv_start(struct ctx *x, const char *name, uint32_t member)
{
	struct fsm_cmd c = {.op = FSM_OP_CH_RECV_START};
	strcpy(c.ch.name, name);
	strcpy(c.ch.rqmname, "REMOTEQM");
	c.ch.member_id = member;
	c.ch.epoch = 1;
	c.ch.flags = FSM_CHF_TAKEOVER;
	strcpy(c.ch.conname, "10.0.0.1");
	return exec(x, &c);
}

/* A private receiver is started on its member only. */
static void private_receiver(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(chdef(x, "PRCV", FSM_CHL_RCVR, "", 1, 0), QSG_OK);
	assert_int_equal(recv_start(x, "PRCV", 2), QSG_RC_CHANNEL_NOT_FOUND);
	struct fsm_syncq sq;
	assert_int_equal(fsm_syncq_get(x->f, "PRCV", "REMOTEQM", &sq), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(recv_start(x, "PRCV", 1), QSG_OK);
	struct fsm_chstatus st;
	assert_int_equal(fsm_chstatus_get(x->f, "PRCV", "REMOTEQM", &st), QSG_OK);
	assert_int_equal(st.img.owner, 1);
}

static int remove_member(struct ctx *x, uint8_t op, uint32_t id)
{
	struct fsm_cmd c = {.op = op, .member_id = id};
	return exec(x, &c);
}

/* Member 1 with a private sender RUNNING with a batch in doubt on its
 * private xmitq, a private receiver started, and a shared sender; then
 * member 1 fails. */
static void private_world(struct ctx *x)
{
	assert_int_equal(qlocal(x, "PXQ", FSM_USAGE_XMITQ, 1), QSG_OK);
	assert_int_equal(qlocal(x, "SXQ", FSM_USAGE_XMITQ, 0), QSG_OK);
	assert_int_equal(qremote(x, "RQ", "PXQ"), QSG_OK);
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "PXQ", 1, 0), QSG_OK);
	assert_int_equal(chdef(x, "PRCV", FSM_CHL_RCVR, "", 1, 0), QSG_OK);
	assert_int_equal(chdef(x, "SHR", FSM_CHL_SDR, "SXQ", 0, 0), QSG_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(put(x, 1, "RQ", "m"), QSG_OK);
	assert_int_equal(cas(x, "PRIV", img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)), QSG_OK);
	assert_int_equal(
	    cas(x, "PRIV", img(1, 1, FSM_CHS_STARTING, 1), img(1, 1, FSM_CHS_RUNNING, 1)), QSG_OK);
	assert_int_equal(getbatch(x, "PRIV", 1, 1), QSG_OK);
	assert_int_equal(x->r.ch.count, 3);
	assert_int_equal(recv_start(x, "PRCV", 1), QSG_OK);
	fail_member(x, 1);
}

/* REMOVE MEMBER: the forgotten member's QMGR objects leave with it, its
 * private channels included (definitions, status entries, the in-doubt
 * batch on its private xmitq); shared channels stay, and the name is free
 * again. */
static void remove_member_takes_private_channels(void **state)
{
	struct ctx *x = *state;
	private_world(x);
	assert_int_equal(remove_member(x, FSM_OP_MEMBER_REMOVE_QMGR, 1), QSG_OK);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_RC_UNKNOWN_OBJECT);
	struct fsm_chattrs a;
	assert_int_equal(fsm_channel_get(x->f, "PRIV", &a), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(fsm_channel_get(x->f, "PRCV", &a), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(fsm_channel_get(x->f, "SHR", &a), QSG_OK);
	struct fsm_chstatus st;
	assert_int_equal(fsm_chstatus_get(x->f, "PRIV", "", &st), QSG_RC_CHANNEL_NOT_FOUND);
	assert_int_equal(fsm_chstatus_get(x->f, "PRCV", "REMOTEQM", &st), QSG_RC_CHANNEL_NOT_FOUND);
	assert_null(queue_find(x->f, 1, "PXQ"));
	assert_non_null(queue_find(x->f, 0, "SXQ"));
	/* Nothing of it is left to reap but its messages. */
	assert_int_equal(fsm_reap_pending(x->f), 0);
	/* The name is the group's again. */
	assert_int_equal(chdef(x, "PRIV", FSM_CHL_SDR, "SXQ", 0, 0), QSG_OK);
	/* A snapshot of what is left restores. */
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot(x->f, &w), QSG_OK);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	assert_int_equal(fsm_restore(g, w.data, w.len, NULL), QSG_OK);
	assert_int_equal(fsm_channel_get(g, "PRCV", &a), QSG_RC_CHANNEL_NOT_FOUND);
	fsm_close(g);
	qsg_wbuf_close(&w);
	/* Its command level: 4, so no older build is handed it. */
	struct fsm_cmd c = {.op = FSM_OP_MEMBER_REMOVE_QMGR, .member_id = 1};
	assert_int_equal(fsm_cmd_level(&c), 4);
}

/* MEMBER_REMOVE_BOUNDED, in logs written before level 4, keeps its
 * meaning: the private channels stay (an operator deletes them), and so
 * does the xmitq that holds their in-doubt batch. */
static void remove_member_bounded_keeps_channels(void **state)
{
	struct ctx *x = *state;
	private_world(x);
	assert_int_equal(remove_member(x, FSM_OP_MEMBER_REMOVE_BOUNDED, 1), QSG_OK);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(x->f, 1, &m), QSG_RC_UNKNOWN_OBJECT);
	struct fsm_chattrs a;
	assert_int_equal(fsm_channel_get(x->f, "PRIV", &a), QSG_OK);
	assert_int_equal(fsm_channel_get(x->f, "PRCV", &a), QSG_OK);
	assert_non_null(queue_find(x->f, 1, "PXQ"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(disposition_encoding),
	    cmocka_unit_test(command_level),
	    cmocka_unit_test_setup_teardown(one_name_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(alter_keeps_disposition, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(ownership_rule, setup, teardown),
	    cmocka_unit_test_setup_teardown(xmitq_in_use_by_scope, setup, teardown),
	    cmocka_unit_test_setup_teardown(private_xmitq_put_and_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(private_receiver, setup, teardown),
	    cmocka_unit_test_setup_teardown(remove_member_takes_private_channels, setup, teardown),
	    cmocka_unit_test_setup_teardown(remove_member_bounded_keeps_channels, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
