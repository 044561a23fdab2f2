/* libFuzzer target: arbitrary bytes as a log entry (applied to a state with a
 * queue, four alias queues (to a local, a remote, an alias and a missing
 * queue), an attached session, a member, a transmission queue with a remote
 * queue, a running sender channel with a locked batch, a receiver channel
 * with its SYNCQ and a dead-letter queue) and as a snapshot. Neither may crash, leak
 * or trip a sanitizer; a rejected entry or snapshot must leave the state
 * unchanged. Seeds: tests/fuzz/corpus/entry/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsm/fsm.h"

static void apply_one(struct fsm *f, const struct fsm_cmd *c)
{
	struct qsg_wbuf cmd, e;
	qsg_wbuf_init(&cmd);
	qsg_wbuf_init(&e);
	if (fsm_cmd_encode(c, &cmd) == QSG_OK) {
		fsm_entry_begin(&e, 1000);
		fsm_entry_add(&e, cmd.data, cmd.len);
		if (fsm_apply(f, e.data, e.len, NULL, NULL) != QSG_OK)
			abort();
	}
	qsg_wbuf_close(&cmd);
	qsg_wbuf_close(&e);
}

/* Names used by the seeds in corpus/entry (chan-*): XQ "QM2", remote queue
 * "QR", sender "TO.QM2" (member 1, epoch 1), receiver "IN" from "QM2". */
static void setup_channels(struct fsm *f)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_MEMBER_JOIN;
	c.member_id = 1;
	strcpy(c.name, "QM1");
	apply_one(f, &c);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_QDEFINE;
	strcpy(c.attrs.name, "QM2");
	c.attrs.set = FSM_QA_USAGE;
	c.attrs.usage = FSM_USAGE_XMITQ;
	apply_one(f, &c);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_QDEFINE;
	strcpy(c.attrs.name, "QR");
	c.attrs.qtype = FSM_QT_REMOTE;
	c.attrs.set = FSM_QA_RNAME | FSM_QA_RQMNAME;
	strcpy(c.attrs.rname, "APP.Q");
	strcpy(c.attrs.rqmname, "QM2");
	apply_one(f, &c);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_QMGR_ALTER;
	c.ch.qm.set = FSM_QM_DEADQ;
	strcpy(c.ch.qm.deadq, "Q");
	apply_one(f, &c);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CHDEFINE;
	strcpy(c.ch.attrs.name, "TO.QM2");
	c.ch.attrs.set = FSM_CA_CHLTYPE | FSM_CA_CONNAME | FSM_CA_XMITQ;
	c.ch.attrs.chltype = FSM_CHL_SDR;
	strcpy(c.ch.attrs.conname, "127.0.0.1:1414");
	strcpy(c.ch.attrs.xmitq, "QM2");
	apply_one(f, &c);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CHDEFINE;
	strcpy(c.ch.attrs.name, "IN");
	c.ch.attrs.set = FSM_CA_CHLTYPE;
	c.ch.attrs.chltype = FSM_CHL_RCVR;
	apply_one(f, &c);
	for (uint8_t st = FSM_CHS_STARTING; st <= FSM_CHS_RUNNING; st++) {
		memset(&c, 0, sizeof c);
		c.op = FSM_OP_CHST_CAS;
		strcpy(c.ch.name, "TO.QM2");
		c.ch.chltype = FSM_CHL_SDR;
		if (st == FSM_CHS_RUNNING)
			c.ch.before = (struct fsm_chimage){1, 1, FSM_CHS_STARTING, 1};
		c.ch.after = (struct fsm_chimage){1, 1, st, 1};
		apply_one(f, &c);
	}
	for (int i = 0; i < 3; i++) {
		memset(&c, 0, sizeof c);
		c.op = FSM_OP_PUT;
		c.client_id = 1;
		c.epoch = 1;
		strcpy(c.queue, "QR");
		c.msg.body.p = (const uint8_t *)"msg";
		c.msg.body.len = 3;
		apply_one(f, &c);
	}
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CH_GETBATCH;
	strcpy(c.ch.name, "TO.QM2");
	c.ch.member_id = 1;
	c.ch.epoch = 1;
	c.ch.max_msgs = 2;
	apply_one(f, &c);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CH_RECV_START;
	strcpy(c.ch.name, "IN");
	strcpy(c.ch.rqmname, "QM2");
	c.ch.member_id = 1;
	c.ch.epoch = 1;
	apply_one(f, &c);
}

/* Alias queues (one letter, so that mutations of the seeds' queue name
 * "Q" reach them): "A" -> local "Q", "B" -> remote "QR", "C" -> alias "A"
 * (alias to alias: refused at use), "D" -> a missing queue. */
static void setup_aliases(struct fsm *f)
{
	static const char *const names[] = {"A", "B", "C", "D"};
	static const char *const targets[] = {"Q", "QR", "A", "NOPE"};
	for (size_t i = 0; i < 4; i++) {
		struct fsm_cmd c;
		memset(&c, 0, sizeof c);
		c.op = FSM_OP_QDEFINE;
		strcpy(c.attrs.name, names[i]);
		c.attrs.qtype = FSM_QT_ALIAS;
		c.attrs.set = FSM_QA_TARGET | FSM_QA_DEFPSIST;
		c.attrs.defpsist = 1;
		strcpy(c.attrs.target, targets[i]);
		apply_one(f, &c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsm *f;
	char errmsg[QSG_ERRMSG_SIZE];
	if (fsm_init(&f, errmsg) != QSG_OK)
		return 0;
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_QDEFINE;
	strcpy(c.attrs.name, "Q");
	c.attrs.set = FSM_QA_INDXTYPE;
	c.attrs.indxtype = FSM_INDX_MSGID;
	apply_one(f, &c);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_ATTACH;
	c.client_id = 1;
	c.member_id = 1;
	apply_one(f, &c);
	setup_channels(f);
	setup_aliases(f);

	uint64_t before = fsm_digest(f);
	struct qsg_wbuf res;
	qsg_wbuf_init(&res);
	int rc = fsm_apply(f, data, size, &res, errmsg);
	if (rc == QSG_RC_IO)
		abort(); /* the built-in body provider holds every message */
	if (rc != QSG_OK && fsm_digest(f) != before)
		abort(); /* a rejected entry changed the state */
	if (rc == QSG_OK) {
		/* The state must survive a snapshot round trip unchanged, into
		 * itself and into a fresh fsm that fetches the content from f
		 * (the snapshot holds descriptors only). */
		struct qsg_wbuf s;
		struct fsm *g = NULL;
		qsg_wbuf_init(&s);
		if (fsm_snapshot(f, &s) == QSG_OK) {
			uint64_t d = fsm_digest(f);
			if (fsm_restore(f, s.data, s.len, errmsg) != QSG_OK || fsm_digest(f) != d)
				abort();
			if (fsm_init(&g, errmsg) == QSG_OK) {
				fsm_bodies_mem_peer(g, f);
				if (fsm_restore(g, s.data, s.len, errmsg) != QSG_OK ||
				    fsm_digest(g) != d)
					abort();
				fsm_close(g);
			}
		}
		qsg_wbuf_close(&s);
	}
	qsg_wbuf_close(&res);

	before = fsm_digest(f);
	if (fsm_restore(f, data, size, errmsg) != QSG_OK && fsm_digest(f) != before)
		abort();
	fsm_close(f);
	return 0;
}
