/* Unit tests of the destination black list in the state machine
 * (fsm_chan.h, docs/channels.md "Destination black list"): a refusal lists
 * the destination in the sender's status entry; ordinary batches skip the
 * messages of listed destinations; CH_GETBATCH with FSM_CHF_ALONE takes the
 * oldest message of a due destination alone; committing it removes the
 * destination; order per destination; the dead-letter variant; a full list;
 * the list through a snapshot, a replay of the log, and the command
 * encoding; the parks (a deep backlog of a listed destination: bounded
 * gets, bounded return in exact order, snapshots in the middle, CLEAR,
 * expiry, BROWSE). */
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
#include "fsm_harness.h"

#define CH "TO.R"
#define XQ "XQ"
#define HOLD 5000

static uint64_t ep;
/* The sender instance that gets and settles (a takeover changes it). */
static uint32_t inst_member = 1;
static uint64_t inst_epoch = 1;

static struct fsm_chimage img(uint8_t exists, uint32_t owner, uint8_t st, uint64_t epoch)
{
	struct fsm_chimage i = {.exists = exists, .owner = owner, .state = st, .epoch = epoch};
	return i;
}

static int cas(struct ctx *x, struct fsm_chimage before, struct fsm_chimage after)
{
	struct fsm_cmd c = {.op = FSM_OP_CHST_CAS};
	strcpy(c.ch.name, CH);
	c.ch.chltype = FSM_CHL_SDR;
	c.ch.before = before;
	c.ch.after = after;
	strcpy(c.ch.conname, "127.0.0.1:9");
	strcpy(c.ch.reason, "test");
	return exec(x, &c);
}

static int qremote(struct ctx *x, const char *name, const char *rname)
{
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.qtype = FSM_QT_REMOTE;
	strcpy(a.rname, rname);
	strcpy(a.rqmname, "QMR");
	strcpy(a.xmitq, XQ);
	return qdefine(x, name, FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ, &a, 0);
}

/* Members 1 and 2, xmitq XQ, remote queues RA, RB, RC (to QMR's A, B, C),
 * sender CH running on member 1 with epoch 1. */
static void group(struct ctx *x)
{
	inst_member = 1;
	inst_epoch = 1;
	for (uint32_t id = 1; id <= 2; id++) {
		struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN, .member_id = id};
		snprintf(c.name, sizeof c.name, "QM%u", id);
		assert_int_equal(exec(x, &c), QSG_OK);
	}
	ep = attach(x, 1, 1);
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.qtype = FSM_QT_LOCAL;
	a.usage = FSM_USAGE_XMITQ;
	a.maxdepth = 999999999; /* deep_backlog */
	assert_int_equal(qdefine(x, XQ, FSM_QA_USAGE | FSM_QA_MAXDEPTH, &a, 0), QSG_OK);
	assert_int_equal(qremote(x, "RA", "A"), QSG_OK);
	assert_int_equal(qremote(x, "RB", "B"), QSG_OK);
	assert_int_equal(qremote(x, "RC", "C"), QSG_OK);
	struct fsm_cmd d = {.op = FSM_OP_CHDEFINE};
	strcpy(d.ch.attrs.name, CH);
	d.ch.attrs.set = FSM_CA_CHLTYPE | FSM_CA_CONNAME | FSM_CA_XMITQ;
	d.ch.attrs.chltype = FSM_CHL_SDR;
	strcpy(d.ch.attrs.conname, "127.0.0.1:9");
	strcpy(d.ch.attrs.xmitq, XQ);
	assert_int_equal(exec(x, &d), QSG_OK);
	assert_int_equal(cas(x, img(0, 0, 0, 0), img(1, 1, FSM_CHS_STARTING, 1)), QSG_OK);
	assert_int_equal(cas(x, img(1, 1, FSM_CHS_STARTING, 1), img(1, 1, FSM_CHS_RUNNING, 1)),
			 QSG_OK);
}

static void putq(struct ctx *x, const char *q, const char *body)
{
	assert_int_equal(put(x, 1, ep, 0, q, 0, 0, body, (uint8_t)body[0]), QSG_OK);
}

static struct fsm_chstatus entry(struct fsm *f)
{
	struct fsm_chstatus s;
	assert_int_equal(fsm_chstatus_get(f, CH, "", &s), QSG_OK);
	return s;
}

/* GETBATCH (alone: FSM_CHF_ALONE, one message); the sequence numbers and
 * the bodies after the XQH land in seqs/bodies; returns the count. */
/* A channel command (GETBATCH, SETTLE) of the current instance of CH. */
static struct fsm_cmd chcmd(uint8_t op)
{
	struct fsm_cmd c = {.op = op};
	strcpy(c.ch.name, CH);
	c.ch.member_id = inst_member;
	c.ch.epoch = inst_epoch;
	return c;
}

/* The next message of a GETBATCH result: its chseq, and in body the first 15
 * bytes after its transmission header. Returns 0 when the batch is done. */
static int batch_next(struct fsm_chiter *it, uint64_t *seq, char body[16])
{
	struct fsm_msg m;
	int done;
	assert_int_equal(fsm_chiter_batch(it, seq, &m, &done), QSG_OK);
	if (done)
		return 0;
	struct fsm_xqh h;
	size_t hl;
	assert_int_equal(fsm_xqh_decode(m.body.p, m.body.len, &h, &hl), QSG_OK);
	size_t n = m.body.len - hl < 15 ? m.body.len - hl : 15;
	memcpy(body, (const char *)m.body.p + hl, n);
	body[n] = '\0';
	return 1;
}

static uint32_t getb(struct ctx *x, bool alone, uint32_t max, uint64_t *seqs, char bodies[][16])
{
	struct fsm_cmd c = chcmd(FSM_OP_CH_GETBATCH);
	c.ch.max_msgs = alone ? 1 : max;
	c.ch.flags = alone ? FSM_CHF_ALONE : 0;
	assert_int_equal(exec(x, &c), QSG_OK);
	struct fsm_chiter it;
	fsm_chiter_result(&it, &x->r.ch);
	uint32_t i = 0;
	uint64_t seq;
	char body[16];
	for (; batch_next(&it, &seq, body); i++) {
		if (seqs != NULL)
			seqs[i] = seq;
		if (bodies != NULL)
			strcpy(bodies[i], body);
	}
	assert_int_equal(i, x->r.ch.count);
	return i;
}

static int settle(struct ctx *x, uint64_t upto, uint32_t flags, const struct fsm_chdisp *d,
		  uint32_t nd)
{
	struct fsm_cmd c = chcmd(FSM_OP_CH_SETTLE);
	struct qsg_wbuf l;
	qsg_wbuf_init(&l);
	for (uint32_t i = 0; i < nd; i++)
		fsm_chlist_put_disp(&l, &d[i]);
	c.ch.seq = upto;
	c.ch.flags = flags;
	c.ch.count = nd;
	c.ch.list.p = l.data;
	c.ch.list.len = l.len;
	int rc = exec(x, &c);
	qsg_wbuf_close(&l);
	return rc;
}

/* The receiver refused message `seq` of the batch that starts at `first`
 * (reason 2085, the queue does not exist): settle as the sender does. */
static void refused(struct ctx *x, uint64_t first, uint64_t seq, uint8_t action)
{
	struct fsm_chdisp d = {.seq = seq, .action = action, .reason = 2085, .hold_ms = HOLD};
	assert_int_equal(settle(x, first - 1, FSM_CHF_BACKOUT_REST, &d, 1), QSG_OK);
}

/* A1 B1 A2 C1 A3 on the xmitq; the first batch takes them all, the
 * receiver refuses A1 (A's queue is missing): A is listed. */
static void listed_a(struct ctx *x)
{
	group(x);
	putq(x, "RA", "A1");
	putq(x, "RB", "B1");
	putq(x, "RA", "A2");
	putq(x, "RC", "C1");
	putq(x, "RA", "A3");
	uint64_t seqs[8];
	char b[8][16];
	assert_int_equal(getb(x, false, 10, seqs, b), 5);
	assert_string_equal(b[0], "A1");
	refused(x, seqs[0], seqs[0], FSM_DISP_LIST);
}

static void refusal_lists_destination(void **state)
{
	struct ctx *x = *state;
	listed_a(x);
	struct fsm_chstatus s = entry(x->f);
	assert_int_equal(s.nblk, 1);
	assert_string_equal(s.blk[0].rqmname, "QMR");
	assert_string_equal(s.blk[0].rname, "A");
	assert_int_equal(s.blk[0].reason, 2085);
	assert_int_equal(s.blk[0].refusals, 1);
	assert_int_equal(s.blk[0].since_ms, x->now);
	assert_int_equal(s.blk[0].retry_at_ms, x->now + HOLD);
	assert_int_equal(s.blk[0].retry_seq, 0);
	/* Every message is back on the xmitq, none committed. */
	assert_int_equal(s.indoubt, 0);
	assert_int_equal(qi(x, XQ).curdepth, 5);
}

/* Two messages of one destination refused in one batch: one entry. */
static void two_refusals_one_entry(void **state)
{
	struct ctx *x = *state;
	group(x);
	putq(x, "RA", "A1");
	putq(x, "RB", "B1");
	putq(x, "RA", "A2");
	uint64_t seqs[8];
	assert_int_equal(getb(x, false, 10, seqs, NULL), 3);
	struct fsm_chdisp d[2] = {
	    {.seq = seqs[0], .action = FSM_DISP_LIST, .reason = 2085, .hold_ms = HOLD},
	    {.seq = seqs[2], .action = FSM_DISP_LIST, .reason = 2085, .hold_ms = HOLD}};
	assert_int_equal(settle(x, seqs[0] - 1, FSM_CHF_BACKOUT_REST, d, 2), QSG_OK);
	struct fsm_chstatus s = entry(x->f);
	assert_int_equal(s.nblk, 1);
	assert_int_equal(s.blk[0].refusals, 2);
	char b[8][16];
	assert_int_equal(getb(x, false, 10, NULL, b), 1);
	assert_string_equal(b[0], "B1");
}

static void batches_exclude_listed(void **state)
{
	struct ctx *x = *state;
	listed_a(x);
	uint64_t seqs[8];
	char b[8][16];
	/* Only B1 and C1 go, in order; the A messages stay on the xmitq. */
	assert_int_equal(getb(x, false, 10, seqs, b), 2);
	assert_string_equal(b[0], "B1");
	assert_string_equal(b[1], "C1");
	assert_int_equal(settle(x, seqs[1], 0, NULL, 0), QSG_OK);
	assert_int_equal(qi(x, XQ).curdepth, 3);
	/* Later messages of A are skipped too, of others not. */
	putq(x, "RA", "A4");
	putq(x, "RB", "B2");
	assert_int_equal(getb(x, false, 10, seqs, b), 1);
	assert_string_equal(b[0], "B2");
	assert_int_equal(settle(x, seqs[0], 0, NULL, 0), QSG_OK);
	assert_int_equal(getb(x, false, 10, NULL, NULL), 0);
	assert_int_equal(qi(x, XQ).curdepth, 4);
}

static void retry_alone_oldest(void **state)
{
	struct ctx *x = *state;
	listed_a(x);
	uint64_t seqs[8];
	char b[8][16];
	/* Not due before the hold interval. */
	x->now += HOLD - 1;
	assert_int_equal(getb(x, true, 1, NULL, NULL), 0);
	x->now += 1;
	assert_int_equal(getb(x, true, 1, seqs, b), 1);
	assert_string_equal(b[0], "A1"); /* the oldest of A */
	assert_int_equal(entry(x->f).blk[0].retry_seq, seqs[0]);
	/* One out at a time; ordinary batches still skip A. */
	assert_int_equal(getb(x, true, 1, NULL, NULL), 0);
	assert_int_equal(getb(x, false, 10, NULL, b), 2);
	assert_string_equal(b[0], "B1");
	assert_string_equal(b[1], "C1");
	/* Refused again: A stays listed, retried a hold interval later. */
	uint64_t a1 = seqs[0];
	struct fsm_chdisp d = {.seq = a1, .action = FSM_DISP_LIST, .reason = 2053, .hold_ms = HOLD};
	assert_int_equal(settle(x, a1 - 1, FSM_CHF_BACKOUT_REST, &d, 1), QSG_OK);
	struct fsm_chstatus s = entry(x->f);
	assert_int_equal(s.nblk, 1);
	assert_int_equal(s.blk[0].retry_seq, 0);
	assert_int_equal(s.blk[0].reason, 2053);
	assert_int_equal(s.blk[0].refusals, 2);
	assert_int_equal(s.blk[0].retry_at_ms, x->now + HOLD);
	assert_int_equal(getb(x, true, 1, NULL, NULL), 0);
	/* Sent alone but backed out (connection lost): again at once, the
	 * same message. */
	x->now += HOLD;
	assert_int_equal(getb(x, true, 1, seqs, b), 1);
	assert_string_equal(b[0], "A1");
	assert_int_equal(settle(x, seqs[0] - 1, FSM_CHF_BACKOUT_REST, NULL, 0), QSG_OK);
	assert_int_equal(entry(x->f).blk[0].retry_seq, 0);
	assert_int_equal(getb(x, true, 1, seqs, b), 1);
	assert_string_equal(b[0], "A1");
}

static void accepted_leaves_list_in_order(void **state)
{
	struct ctx *x = *state;
	listed_a(x);
	uint64_t seqs[8];
	char b[8][16];
	x->now += HOLD;
	assert_int_equal(getb(x, true, 1, seqs, b), 1);
	assert_string_equal(b[0], "A1");
	/* A message of A put meanwhile does not overtake. */
	putq(x, "RA", "A4");
	assert_int_equal(settle(x, seqs[0], 0, NULL, 0), QSG_OK);
	assert_int_equal(entry(x->f).nblk, 0);
	/* A flows in ordinary batches again, in order, with the rest. */
	assert_int_equal(getb(x, false, 10, seqs, b), 5);
	assert_string_equal(b[0], "B1");
	assert_string_equal(b[1], "A2");
	assert_string_equal(b[2], "C1");
	assert_string_equal(b[3], "A3");
	assert_string_equal(b[4], "A4");
	assert_int_equal(settle(x, seqs[4], 0, NULL, 0), QSG_OK);
	assert_int_equal(qi(x, XQ).curdepth, 0);
	assert_int_equal(entry(x->f).msgs, 6);
}

static void listed_gone_leaves_list(void **state)
{
	struct ctx *x = *state;
	listed_a(x);
	uint64_t seqs[8];
	assert_int_equal(getb(x, false, 10, seqs, NULL), 2);
	assert_int_equal(settle(x, seqs[1], 0, NULL, 0), QSG_OK);
	/* The A messages are removed from the xmitq (CLEAR by an operator):
	 * the due retry finds none and A leaves the list. */
	struct fsm_cmd c = {.op = FSM_OP_QCLEAR};
	strcpy(c.queue, XQ);
	assert_int_equal(exec(x, &c), QSG_OK);
	x->now += HOLD;
	assert_int_equal(getb(x, true, 1, NULL, NULL), 0);
	assert_int_equal(entry(x->f).nblk, 0);
}

static void list_dlq_drains_alone(void **state)
{
	struct ctx *x = *state;
	group(x);
	struct fsm_qattrs a;
	memset(&a, 0, sizeof a);
	a.qtype = FSM_QT_LOCAL;
	assert_int_equal(qdefine(x, "DLQ", 0, &a, 0), QSG_OK);
	struct fsm_cmd q = {.op = FSM_OP_QMGR_ALTER};
	q.ch.qm.set = FSM_QM_DEADQ;
	strcpy(q.ch.qm.deadq, "DLQ");
	assert_int_equal(exec(x, &q), QSG_OK);
	putq(x, "RA", "A1");
	putq(x, "RB", "B1");
	putq(x, "RA", "A2");
	uint64_t seqs[8];
	char b[8][16];
	assert_int_equal(getb(x, false, 10, seqs, b), 3);
	refused(x, seqs[0], seqs[0], FSM_DISP_LIST_DLQ);
	assert_int_equal(qi(x, "DLQ").curdepth, 1);
	struct fsm_chstatus s = entry(x->f);
	assert_int_equal(s.nblk, 1);
	assert_int_equal(s.blk[0].retry_at_ms, x->now); /* next one at once */
	/* A2 goes alone, not in the ordinary batch. */
	assert_int_equal(getb(x, false, 10, seqs, b), 1);
	assert_string_equal(b[0], "B1");
	assert_int_equal(settle(x, seqs[0], 0, NULL, 0), QSG_OK);
	assert_int_equal(getb(x, true, 1, seqs, b), 1);
	assert_string_equal(b[0], "A2");
	refused(x, seqs[0], seqs[0], FSM_DISP_LIST_DLQ);
	assert_int_equal(qi(x, "DLQ").curdepth, 2);
	assert_int_equal(qi(x, XQ).curdepth, 0);
	/* Nothing left of A: the next due retry removes it. */
	assert_int_equal(getb(x, true, 1, NULL, NULL), 0);
	assert_int_equal(entry(x->f).nblk, 0);
}

static void full_list_holds(void **state)
{
	struct ctx *x = *state;
	group(x);
	char name[16], rname[16], body[16];
	for (int i = 0; i <= FSM_CH_BLK_MAX; i++) {
		snprintf(name, sizeof name, "RQ%d", i);
		snprintf(rname, sizeof rname, "Q%d", i);
		assert_int_equal(qremote(x, name, rname), QSG_OK);
		snprintf(body, sizeof body, "M%d", i);
		putq(x, name, body);
	}
	/* One destination refused per batch: the list fills up, the ninth is
	 * held (the behaviour without a list). */
	for (int i = 0; i <= FSM_CH_BLK_MAX; i++) {
		uint64_t seqs[16];
		char b[16][16];
		assert_int_equal(getb(x, false, 16, seqs, b), FSM_CH_BLK_MAX + 1 - i);
		snprintf(body, sizeof body, "M%d", i);
		assert_string_equal(b[0], body);
		refused(x, seqs[0], seqs[0], FSM_DISP_LIST);
	}
	struct fsm_chstatus s = entry(x->f);
	assert_int_equal(s.nblk, FSM_CH_BLK_MAX);
	assert_int_equal(getb(x, false, 16, NULL, NULL), 0);
	/* The held one comes back in ordinary batches after its hold time. */
	x->now += HOLD;
	char b[16][16];
	assert_int_equal(getb(x, false, 16, NULL, b), 1);
	snprintf(body, sizeof body, "M%d", FSM_CH_BLK_MAX);
	assert_string_equal(b[0], body);
}

/* A takeover while a message is out alone: the new instance (member 2,
 * epoch 2) resolves the in-doubt message (backed out: it was not
 * received), finds the list as it was and retries the same message alone
 * at once. */
static void takeover_keeps_list(void **state)
{
	struct ctx *x = *state;
	listed_a(x);
	x->now += HOLD;
	uint64_t seqs[8];
	char b[8][16];
	assert_int_equal(getb(x, true, 1, seqs, b), 1);
	assert_string_equal(b[0], "A1");
	assert_int_equal(cas(x, img(1, 1, FSM_CHS_RUNNING, 1), img(1, 2, FSM_CHS_STARTING, 2)),
			 QSG_OK);
	inst_member = 2;
	inst_epoch = 2;
	/* The old instance is fenced. */
	struct fsm_cmd c = {.op = FSM_OP_CH_GETBATCH};
	strcpy(c.ch.name, CH);
	c.ch.member_id = 1;
	c.ch.epoch = 1;
	c.ch.max_msgs = 1;
	c.ch.flags = FSM_CHF_ALONE;
	assert_int_equal(exec(x, &c), QSG_RC_CHANNEL_FENCED);
	assert_int_equal(settle(x, seqs[0] - 1, FSM_CHF_BACKOUT_REST, NULL, 0), QSG_OK);
	assert_int_equal(cas(x, img(1, 2, FSM_CHS_STARTING, 2), img(1, 2, FSM_CHS_RUNNING, 2)),
			 QSG_OK);
	struct fsm_chstatus s = entry(x->f);
	assert_int_equal(s.nblk, 1);
	assert_string_equal(s.blk[0].rname, "A");
	assert_int_equal(s.blk[0].retry_seq, 0);
	assert_int_equal(getb(x, false, 10, NULL, b), 2); /* B1, C1 only */
	assert_string_equal(b[0], "B1");
	assert_int_equal(getb(x, true, 1, NULL, b), 1);
	assert_string_equal(b[0], "A1");
}

/* A message held back (HOLD, before its destination was listed) stays the
 * first of its destination: the retry alone waits for it. */
static void held_message_goes_first(void **state)
{
	struct ctx *x = *state;
	group(x);
	putq(x, "RA", "A0");
	putq(x, "RA", "A1");
	uint64_t seqs[8];
	char b[8][16];
	assert_int_equal(getb(x, false, 1, seqs, b), 1);
	assert_string_equal(b[0], "A0");
	struct fsm_chdisp h = {.seq = seqs[0], .action = FSM_DISP_HOLD, .hold_ms = 3 * HOLD};
	assert_int_equal(settle(x, seqs[0] - 1, FSM_CHF_BACKOUT_REST, &h, 1), QSG_OK);
	assert_int_equal(getb(x, false, 1, seqs, b), 1);
	assert_string_equal(b[0], "A1");
	refused(x, seqs[0], seqs[0], FSM_DISP_LIST);
	x->now += HOLD;
	assert_int_equal(getb(x, true, 1, NULL, NULL), 0); /* A0 still held */
	assert_int_equal(entry(x->f).nblk, 1);
	x->now += 2 * HOLD;
	assert_int_equal(getb(x, true, 1, NULL, b), 1);
	assert_string_equal(b[0], "A0");
}

/* The list and its messages out alone are state: a snapshot carries them
 * (harness: same bytes and digest after restore), a replay of the log
 * builds the same state, and a restored replica (without the hints of
 * skipped messages) decides the same from then on. */
static void list_in_snapshot_and_replicas(void **state)
{
	struct ctx *x = *state;
	listed_a(x);
	x->now += HOLD;
	uint64_t seqs[8];
	char b[8][16];
	assert_int_equal(getb(x, true, 1, seqs, b), 1); /* A1 out alone */
	assert_int_equal(getb(x, false, 10, NULL, NULL), 2); /* B1, C1 skip-scan sets hints */
	struct fsm *g = snapshot_restored(x);
	struct fsm_chstatus s1 = entry(x->f), s2 = entry(g);
	assert_int_equal(s2.nblk, 1);
	assert_memory_equal(&s1.blk[0], &s2.blk[0], sizeof s1.blk[0]);
	assert_int_equal(s2.blk[0].retry_seq, seqs[0]);
	/* Replay of the whole log on a fresh replica. */
	struct fsm *h;
	assert_int_equal(fsm_init(&h, NULL), QSG_OK);
	for (size_t i = 0; i < x->nlog; i++) {
		struct qsg_wbuf out;
		qsg_wbuf_init(&out);
		assert_int_equal(fsm_apply(h, x->log[i], x->loglen[i], &out, NULL), QSG_OK);
		qsg_wbuf_close(&out);
	}
	assert_true(fsm_digest(h) == fsm_digest(x->f));
	struct fsm_chstatus s3 = entry(h);
	assert_memory_equal(&s1.blk[0], &s3.blk[0], sizeof s1.blk[0]);
	/* The same next commands on the original and the restored replica:
	 * same results, same digest. */
	size_t from = x->nlog;
	putq(x, "RA", "A4");
	putq(x, "RB", "B2");
	assert_int_equal(settle(x, seqs[0] + 2, 0, NULL, 0), QSG_OK); /* A1, B1, C1 */
	assert_int_equal(getb(x, false, 10, NULL, b), 4);
	assert_string_equal(b[0], "A2");
	assert_string_equal(b[3], "B2");
	for (size_t i = from; i < x->nlog; i++) {
		struct qsg_wbuf out;
		qsg_wbuf_init(&out);
		assert_int_equal(fsm_apply(g, x->log[i], x->loglen[i], &out, NULL), QSG_OK);
		if (i + 1 == x->nlog) {
			assert_int_equal(out.len, x->res.len);
			assert_memory_equal(out.data, x->res.data, out.len);
		}
		qsg_wbuf_close(&out);
	}
	assert_true(fsm_digest(g) == fsm_digest(x->f));
	assert_int_equal(entry(g).nblk, 0);
	fsm_close(g);
	fsm_close(h);
}

/* A snapshot in format 6 (no list) still restores; a bad list is refused. */
static void snapshot_formats(void **state)
{
	struct ctx *x = *state;
	listed_a(x);
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 6), QSG_OK);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, x->f);
	assert_int_equal(fsm_restore(g, w.data, w.len, NULL), QSG_OK);
	assert_int_equal(entry(g).nblk, 0);
	/* The current format with the list count made too large: refused. */
	qsg_wbuf_reset(&w);
	assert_int_equal(fsm_snapshot(x->f, &w), QSG_OK);
	assert_int_equal(w.data[0], FSM_SNAPSHOT_VERSION);
	/* Find the list: u32 count 1, str "QMR", str "A" (str = u16 length
	 * + bytes). */
	static const uint8_t pat[] = {1, 0, 0, 0, 3, 0, 'Q', 'M', 'R', 1, 0, 'A'};
	size_t cnt = 0;
	for (size_t i = 1; i + sizeof pat < w.len; i++)
		if (memcmp(w.data + i, pat, sizeof pat) == 0) {
			cnt = i;
			break;
		}
	assert_true(cnt != 0);
	assert_int_equal(w.data[cnt], 1);
	w.data[cnt] = FSM_CH_BLK_MAX + 1;
	assert_int_not_equal(fsm_restore(g, w.data, w.len, NULL), QSG_OK);
	w.data[cnt] = 1;
	assert_int_equal(fsm_restore(g, w.data, w.len, NULL), QSG_OK);
	assert_int_equal(entry(g).nblk, 1);
	fsm_close(g);
	qsg_wbuf_close(&w);
}

/* --- a deep backlog for a listed destination (parks) --- */

#define DEEP 200000

/* The park of the first list entry (fsm_int.h): its message count. */
static uint32_t parked(struct fsm *f)
{
	const struct chst *e = f->chsts[0];
	return e->pk[0] != NULL ? e->pk[0]->l.nvisible : 0;
}

/* Apply c at x->now to x->f and, if g is not NULL, to g too (same result
 * bytes), outside the harness's log; x->r decoded. Returns the rc. */
static int run(struct ctx *x, struct fsm *g, const struct fsm_cmd *c)
{
	struct qsg_wbuf e, w, out;
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&out);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	fsm_entry_begin(&e, x->now);
	fsm_entry_add(&e, w.data, w.len);
	qsg_wbuf_reset(&x->res);
	assert_int_equal(fsm_apply(x->f, e.data, e.len, &x->res, NULL), QSG_OK);
	if (g != NULL) {
		assert_int_equal(fsm_apply(g, e.data, e.len, &out, NULL), QSG_OK);
		assert_int_equal(out.len, x->res.len);
		assert_memory_equal(out.data, x->res.data, out.len);
	}
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&out);
	uint32_t len = qsg_le32(x->res.data);
	assert_int_equal(fsm_result_decode(c->op, x->res.data + 4, len, &x->r, NULL), QSG_OK);
	return x->r.rc;
}

/* n messages "A%06u" (from, from + 1, ...) to RA, many per entry. */
static void bulk_put(struct ctx *x, uint32_t from, uint32_t n)
{
	struct qsg_wbuf e, w;
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&w);
	for (uint32_t done = 0; done < n;) {
		qsg_wbuf_reset(&e);
		fsm_entry_begin(&e, x->now);
		for (uint32_t k = 0; k < 4096 && done < n; k++, done++) {
			char body[16];
			snprintf(body, sizeof body, "A%06u", from + done);
			struct fsm_cmd c = {.op = FSM_OP_PUT, .client_id = 1, .epoch = ep};
			strcpy(c.queue, "RA");
			c.msg.body.p = (const uint8_t *)body;
			c.msg.body.len = strlen(body);
			qsg_wbuf_reset(&w);
			assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
			fsm_entry_add(&e, w.data, w.len);
		}
		char errmsg[QSG_ERRMSG_SIZE] = "";
		int rc = fsm_apply(x->f, e.data, e.len, NULL, errmsg);
		if (rc != QSG_OK)
			printf("# %s\n", errmsg);
		assert_int_equal(rc, QSG_OK);
	}
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&w);
}

/* One GETBATCH (run) of at most max; the A messages must be "A%06u" with
 * *next, *next + 1, ... (advanced); B messages are counted in *nb. The
 * walk's descriptors and reads in this one apply stay under the budgets
 * whatever the depth. Returns the count; *last its last chseq. */
static uint32_t getb_deep(struct ctx *x, struct fsm *g, bool alone, uint32_t max, uint32_t *next,
			  uint32_t *nb, uint64_t *last)
{
	uint64_t s0 = x->f->blk_steps, r0 = x->f->blk_reads;
	struct fsm_cmd c = chcmd(FSM_OP_CH_GETBATCH);
	c.ch.max_msgs = max;
	c.ch.flags = alone ? FSM_CHF_ALONE : 0;
	assert_int_equal(run(x, g, &c), QSG_OK);
	assert_true(x->f->blk_steps - s0 <= FSM_CH_BLK_STEPS);
	assert_true(x->f->blk_reads - r0 <= FSM_CH_BLK_READS);
	struct fsm_chiter it;
	fsm_chiter_result(&it, &x->r.ch);
	uint32_t i = 0;
	uint64_t seq;
	char body[16], want[16];
	for (; batch_next(&it, &seq, body); i++) {
		if (body[0] == 'B') {
			(*nb)++;
		} else {
			snprintf(want, sizeof want, "A%06u", *next);
			assert_string_equal(body, want);
			(*next)++;
		}
		*last = seq;
	}
	return i;
}

static void settle_deep(struct ctx *x, struct fsm *g, uint64_t upto)
{
	struct fsm_cmd c = chcmd(FSM_OP_CH_SETTLE);
	c.ch.seq = upto;
	assert_int_equal(run(x, g, &c), QSG_OK);
}

/* DEEP messages of a listed destination ahead of good ones: every get is
 * bounded (descriptors examined, XQH read) and the good ones go after a
 * bounded number of gets that move the others to the destination's park;
 * the retry alone is the oldest; when the destination leaves the list its
 * messages come back in bounded steps and go in exact order; a snapshot in
 * the middle of those steps restores to the same state and results. */
static void deep_backlog(void **state)
{
	struct ctx *x = *state;
	group(x);
	putq(x, "RA", "A000000");
	bulk_put(x, 1, DEEP);
	putq(x, "RB", "B1");
	putq(x, "RB", "B2");
	uint64_t seqs[8];
	char b[8][16];
	assert_int_equal(getb(x, false, 1, seqs, b), 1);
	assert_string_equal(b[0], "A000000");
	refused(x, seqs[0], seqs[0], FSM_DISP_LIST); /* A listed, A000000 parked */
	assert_int_equal(parked(x->f), 1);
	assert_int_equal(qi(x, XQ).curdepth, DEEP + 3);
	/* Ordinary gets until B1 and B2 come: each bounded. */
	uint32_t gets = 0, nb = 0, next = 1;
	uint32_t notified = x->notified;
	uint64_t last = 0;
	while (nb < 2) {
		uint32_t n = getb_deep(x, NULL, false, 10, &next, &nb, &last);
		gets++;
		assert_true(gets <= DEEP / (FSM_CH_BLK_READS - 10) + 2);
		if (n > 0)
			settle_deep(x, NULL, last);
	}
	assert_int_equal(next, 1); /* no A message went */
	assert_true(gets >= DEEP / FSM_CH_BLK_READS); /* the budget was what bound it */
	assert_true(x->notified > notified); /* "ask again" while there was more */
	assert_int_equal(parked(x->f), DEEP + 1);
	assert_int_equal(qi(x, XQ).curdepth, DEEP + 1);
	assert_int_equal(entry(x->f).msgs, 2);
	/* Nothing else to get; the retry alone is the oldest. */
	assert_int_equal(getb_deep(x, NULL, false, 10, &next, &nb, &last), 0);
	x->now += HOLD;
	uint32_t a0 = 0;
	assert_int_equal(getb_deep(x, NULL, true, 1, &a0, &nb, &last), 1);
	assert_int_equal(a0, 1);
	assert_int_equal(parked(x->f), DEEP);
	/* Accepted: A leaves the list as its messages go back, oldest first,
	 * at most FSM_CH_BLK_DRAIN per get; they go in exact order. */
	settle_deep(x, NULL, last);
	assert_int_equal(entry(x->f).nblk, 1);
	assert_int_equal(entry(x->f).blk[0].leaving, 1);
	assert_int_equal(entry(x->f).blk[0].retry_at_ms, INT64_MAX);
	struct fsm *g = NULL;
	gets = 0;
	while (next <= DEEP) {
		uint32_t before = parked(x->f);
		uint32_t n = getb_deep(x, g, false, 500, &next, &nb, &last);
		assert_true(before - parked(x->f) <= FSM_CH_BLK_DRAIN);
		assert_true(n > 0);
		settle_deep(x, g, last);
		if (++gets == 20) {
			/* A member that restores a snapshot now: the same state,
			 * then the same results and state on every command. */
			assert_true(parked(x->f) > 0);
			g = snapshot_restored(x);
			assert_int_equal(parked(g), parked(x->f));
		}
	}
	assert_non_null(g);
	assert_int_equal(entry(x->f).nblk, 0);
	assert_int_equal(qi(x, XQ).curdepth, 0);
	assert_true(fsm_digest(g) == fsm_digest(x->f));
	assert_true(state_check(x->f) > 0 || state_check(x->f) == 0); /* aborts if unsound */
	state_check(g);
	fsm_close(g);
}

/* The snapshot in the middle of discovery (some parked, most not yet) and
 * in an older format (the parked ones among the visible ones). */
static void deep_snapshot_formats(void **state)
{
	struct ctx *x = *state;
	group(x);
	putq(x, "RA", "A000000");
	bulk_put(x, 1, 5000);
	putq(x, "RB", "B1");
	uint64_t seqs[8];
	assert_int_equal(getb(x, false, 1, seqs, NULL), 1);
	refused(x, seqs[0], seqs[0], FSM_DISP_LIST);
	uint32_t next = 1, nb = 0;
	uint64_t last = 0;
	assert_int_equal(getb_deep(x, NULL, false, 10, &next, &nb, &last), 0);
	assert_true(parked(x->f) > 1 && parked(x->f) < 5001);
	struct fsm *g = snapshot_restored(x);
	assert_int_equal(parked(g), parked(x->f));
	/* Format 7: restores with the parked messages back among the
	 * others; the list still excludes them, the same ones go. */
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 7), QSG_OK);
	struct fsm *h;
	assert_int_equal(fsm_init(&h, NULL), QSG_OK);
	fsm_bodies_mem_peer(h, x->f);
	assert_int_equal(fsm_restore(h, w.data, w.len, NULL), QSG_OK);
	struct fsm_qinfo i1, i2;
	assert_int_equal(fsm_queue_info(h, 0, XQ, &i2), QSG_OK);
	assert_int_equal(fsm_queue_info(x->f, 0, XQ, &i1), QSG_OK);
	assert_int_equal(i1.curdepth, i2.curdepth);
	assert_true(h->chsts[0]->pk[0] == NULL);
	state_check(h);
	fsm_close(h);
	qsg_wbuf_close(&w);
	/* The same gets on x and g until B1 goes. */
	while (nb < 1)
		getb_deep(x, g, false, 10, &next, &nb, &last);
	assert_int_equal(next, 1);
	assert_true(fsm_digest(g) == fsm_digest(x->f));
	state_check(g);
	fsm_close(g);
}

/* The snapshot of a state with parks, cut short anywhere, is refused; with
 * any byte changed it is refused or restores into a sound state (the
 * checks of a checked build; the sanitizers watch the decoder). */
static void snapshot_damaged(struct ctx *x)
{
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot(x->f, &w), QSG_OK);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, x->f);
	for (size_t len = 1; len < w.len; len++)
		assert_int_not_equal(fsm_restore(g, w.data, len, NULL), QSG_OK);
	for (size_t i = 1; i < w.len; i++) {
		uint8_t keep = w.data[i];
		w.data[i] ^= (uint8_t)(1u << (i % 8));
		if (fsm_restore(g, w.data, w.len, NULL) == QSG_OK)
			state_check(g);
		w.data[i] = keep;
	}
	assert_int_equal(fsm_restore(g, w.data, w.len, NULL), QSG_OK);
	assert_true(fsm_digest(g) == fsm_digest(x->f));
	fsm_close(g);
	qsg_wbuf_close(&w);
}

/* CLEAR of the xmitq while messages sit in a park: they leave with the
 * others (garbage, released by the reaper), the depth is 0, the due retry
 * finds none and A leaves the list. */
static void parked_clear(void **state)
{
	struct ctx *x = *state;
	listed_a(x);
	uint64_t seqs[8];
	assert_int_equal(getb(x, false, 10, seqs, NULL), 2); /* B1, C1; A2, A3 parked */
	assert_int_equal(settle(x, seqs[1], 0, NULL, 0), QSG_OK);
	assert_int_equal(parked(x->f), 3);
	assert_int_equal(qi(x, XQ).curdepth, 3);
	/* BROWSE of the xmitq sees them, in get order, with a message put
	 * since (not parked yet) at its place among them. */
	putq(x, "RB", "B2");
	const char *want[] = {"A1", "A2", "A3", "B2"};
	struct fsm_cmd br = {.op = FSM_OP_BROWSE};
	strcpy(br.queue, XQ);
	for (int k = 0; k < 4; k++) {
		assert_int_equal(exec(x, &br), QSG_OK);
		struct fsm_xqh h;
		size_t hl;
		assert_int_equal(fsm_xqh_decode(x->r.msg.body.p, x->r.msg.body.len, &h, &hl),
				 QSG_OK);
		assert_int_equal(x->r.msg.body.len - hl, 2);
		assert_memory_equal(x->r.msg.body.p + hl, want[k], 2);
		br.msg.priority = x->r.msg.priority;
		br.msg.seqno = x->r.msg.seqno;
	}
	assert_int_equal(exec(x, &br), QSG_RC_NO_MSG_AVAILABLE);
	snapshot_damaged(x);
	uint64_t garbage = fsm_reap_pending(x->f);
	struct fsm_cmd c = {.op = FSM_OP_QCLEAR};
	strcpy(c.queue, XQ);
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(qi(x, XQ).curdepth, 0);
	assert_int_equal(fsm_reap_pending(x->f), garbage + 4);
	assert_null(x->f->chsts[0]->pk[0]);
	state_check(x->f);
	struct fsm *g = snapshot_restored(x);
	fsm_close(g);
	while (fsm_reap(x->f, 2))
		;
	/* A is still listed: a new message of it is parked by the next get. */
	putq(x, "RA", "A4");
	assert_int_equal(getb(x, false, 10, NULL, NULL), 0);
	assert_int_equal(parked(x->f), 1);
	x->now += HOLD;
	char b[8][16];
	assert_int_equal(getb(x, true, 1, seqs, b), 1);
	assert_string_equal(b[0], "A4");
	assert_int_equal(settle(x, seqs[0], 0, NULL, 0), QSG_OK);
	assert_int_equal(entry(x->f).nblk, 0);
	/* With nothing parked, CLEAR then the due retry: A leaves. */
}

/* A parked message expires: EXPIRE takes it from the queue's expiry heap
 * out of its park; the depth counts it until then. */
static void parked_expiry(void **state)
{
	struct ctx *x = *state;
	group(x);
	putq(x, "RA", "A1");
	struct fsm_cmd p = {.op = FSM_OP_PUT, .client_id = 1, .epoch = ep};
	strcpy(p.queue, "RA");
	p.msg.body.p = (const uint8_t *)"A2";
	p.msg.body.len = 2;
	p.msg.expiry_ms = 1000;
	assert_int_equal(exec(x, &p), QSG_OK);
	putq(x, "RA", "A3");
	putq(x, "RB", "B1");
	uint64_t seqs[8];
	char b[8][16];
	assert_int_equal(getb(x, false, 1, seqs, b), 1);
	refused(x, seqs[0], seqs[0], FSM_DISP_LIST);
	assert_int_equal(getb(x, false, 10, seqs, b), 1);
	assert_string_equal(b[0], "B1");
	assert_int_equal(settle(x, seqs[0], 0, NULL, 0), QSG_OK);
	assert_int_equal(parked(x->f), 3);
	assert_int_equal(qi(x, XQ).curdepth, 3);
	state_check(x->f);
	x->now += 2000;
	struct fsm_cmd e = {.op = FSM_OP_EXPIRE_BOUNDED, .seq = UINT32_MAX};
	assert_int_equal(exec(x, &e), QSG_OK);
	assert_int_equal(parked(x->f), 2);
	assert_int_equal(qi(x, XQ).curdepth, 2);
	state_check(x->f);
	struct fsm *g = snapshot_restored(x);
	fsm_close(g);
	/* A1 alone, accepted: A3 comes back and goes. */
	x->now += HOLD;
	assert_int_equal(getb(x, true, 1, seqs, b), 1);
	assert_string_equal(b[0], "A1");
	assert_int_equal(settle(x, seqs[0], 0, NULL, 0), QSG_OK);
	assert_int_equal(entry(x->f).blk[0].leaving, 1);
	assert_int_equal(getb(x, false, 10, seqs, b), 1);
	assert_string_equal(b[0], "A3");
	assert_int_equal(entry(x->f).nblk, 0);
	assert_int_equal(settle(x, seqs[0], 0, NULL, 0), QSG_OK);
	assert_int_equal(qi(x, XQ).curdepth, 0);
}

/* A park with only expired messages: the due retry leaves the entry until
 * EXPIRE has taken them (the park is never freed with messages in it),
 * then A leaves the list. */
static void parked_all_expired(void **state)
{
	struct ctx *x = *state;
	group(x);
	struct fsm_cmd p = {.op = FSM_OP_PUT, .client_id = 1, .epoch = ep};
	strcpy(p.queue, "RA");
	p.msg.body.p = (const uint8_t *)"A1";
	p.msg.body.len = 2;
	p.msg.expiry_ms = 1000;
	assert_int_equal(exec(x, &p), QSG_OK);
	putq(x, "RB", "B1");
	uint64_t seqs[8];
	char b[8][16];
	assert_int_equal(getb(x, false, 1, seqs, b), 1);
	refused(x, seqs[0], seqs[0], FSM_DISP_LIST);
	assert_int_equal(parked(x->f), 1);
	x->now += HOLD;
	assert_int_equal(getb(x, true, 1, NULL, NULL), 0);
	assert_int_equal(entry(x->f).nblk, 1);
	assert_int_equal(parked(x->f), 1);
	struct fsm_cmd e = {.op = FSM_OP_EXPIRE_BOUNDED, .seq = UINT32_MAX};
	assert_int_equal(exec(x, &e), QSG_OK);
	assert_int_equal(parked(x->f), 0);
	assert_int_equal(qi(x, XQ).curdepth, 1);
	assert_int_equal(getb(x, true, 1, NULL, NULL), 0);
	assert_int_equal(entry(x->f).nblk, 0);
	assert_int_equal(getb(x, false, 10, seqs, b), 1);
	assert_string_equal(b[0], "B1");
	assert_int_equal(settle(x, seqs[0], 0, NULL, 0), QSG_OK);
}

static void getbatch_alone_encoding(void **state)
{
	(void)state;
	struct fsm_cmd c = {.op = FSM_OP_CH_GETBATCH}, d;
	strcpy(c.ch.name, CH);
	c.ch.member_id = 1;
	c.ch.epoch = 3;
	c.ch.max_msgs = 1;
	c.ch.flags = FSM_CHF_ALONE;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.ch.flags, FSM_CHF_ALONE);
	assert_int_equal(d.ch.max_msgs, 1);
	/* Without flags: the old encoding, 4 bytes shorter. */
	size_t len = w.len;
	c.ch.flags = 0;
	c.ch.max_msgs = 50;
	qsg_wbuf_reset(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(w.len, len - 4);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	assert_int_equal(d.ch.flags, 0);
	/* Alone with more than one message, unknown flags: refused. */
	c.ch.flags = FSM_CHF_ALONE;
	qsg_wbuf_reset(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	c.ch.flags = 0x40;
	c.ch.max_msgs = 1;
	qsg_wbuf_reset(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(refusal_lists_destination, setup, teardown),
	    cmocka_unit_test_setup_teardown(two_refusals_one_entry, setup, teardown),
	    cmocka_unit_test_setup_teardown(batches_exclude_listed, setup, teardown),
	    cmocka_unit_test_setup_teardown(retry_alone_oldest, setup, teardown),
	    cmocka_unit_test_setup_teardown(accepted_leaves_list_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(listed_gone_leaves_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(list_dlq_drains_alone, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_list_holds, setup, teardown),
	    cmocka_unit_test_setup_teardown(takeover_keeps_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(held_message_goes_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(list_in_snapshot_and_replicas, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_formats, setup, teardown),
	    cmocka_unit_test_setup_teardown(deep_backlog, setup, teardown),
	    cmocka_unit_test_setup_teardown(deep_snapshot_formats, setup, teardown),
	    cmocka_unit_test_setup_teardown(parked_clear, setup, teardown),
	    cmocka_unit_test_setup_teardown(parked_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(parked_all_expired, setup, teardown),
	    cmocka_unit_test(getbatch_alone_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
