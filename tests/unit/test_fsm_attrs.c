/* Unit tests of the attribute tables (src/fsm/fsm_attrs.h): the generated
 * codec writes exactly the bytes of the hand-written encoder it replaced
 * (captured from that encoder before the change: the command and snapshot
 * formats must not move), decode reads them back, and the generated
 * defaults, merge, masks and descriptors say what the old code said. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm_int.h"

/* Bytes of fsm_qattrs_encode / fsm_chattrs_encode for fill_qattrs /
 * fill_chattrs, from the hand-written encoders (commit 0385913). */
static const char old_qattrs_hex[] =
    "0800512e4e414d452e31c3a50000040302010807060501070c0b0a0909004241"
    "434b4f55542e51020101100f0e0d0d0061206465736372697074696f6e030106"
    "00522e4e414d45030052514d0600584d49542e5108005441524745542e510414"
    "131211";
static const char old_chattrs_hex[] =
    "060043482e4f4e453c5a0000031500686f7374313a313431342c5b3a3a315d3a"
    "313431350600584d49542e5124232221282726252c2b2a29302f2e2d34333231"
    "383736353c3b3a39403f3e3d0101444342414847464513006368616e6e656c20"
    "6465736372697074696f6e";

static void fill_qattrs(struct fsm_qattrs *a)
{
	memset(a, 0, sizeof *a);
	fsm_qattrs_trig_defaults(a); /* not encoded: set has no trigger bit */
	snprintf(a->name, sizeof a->name, "Q.NAME.1");
	a->set = 0xa5c3;
	a->maxdepth = 0x01020304;
	a->maxmsgl = 0x05060708;
	a->defpsist = 1;
	a->defprty = 7;
	a->bothresh = 0x090a0b0c;
	snprintf(a->boqname, sizeof a->boqname, "BACKOUT.Q");
	a->indxtype = 2;
	a->get_inhibited = 1;
	a->put_inhibited = 1;
	a->maxumsgs = 0x0d0e0f10;
	snprintf(a->descr, sizeof a->descr, "a description");
	a->qtype = 3;
	a->usage = 1;
	snprintf(a->rname, sizeof a->rname, "R.NAME");
	snprintf(a->rqmname, sizeof a->rqmname, "RQM");
	snprintf(a->xmitq, sizeof a->xmitq, "XMIT.Q");
	snprintf(a->target, sizeof a->target, "TARGET.Q");
	a->disp = 4;
	a->scope = 0x11121314;
}

static void fill_chattrs(struct fsm_chattrs *a)
{
	memset(a, 0, sizeof *a);
	snprintf(a->name, sizeof a->name, "CH.ONE");
	a->set = 0x5a3c;
	a->chltype = 3;
	snprintf(a->conname, sizeof a->conname, "host1:1414,[::1]:1415");
	snprintf(a->xmitq, sizeof a->xmitq, "XMIT.Q");
	a->batchsz = 0x21222324;
	a->batchint = 0x25262728;
	a->hbint = 0x292a2b2c;
	a->discint = 0x2d2e2f30;
	a->shortrty = 0x31323334;
	a->shorttmr = 0x35363738;
	a->longrty = 0x393a3b3c;
	a->longtmr = 0x3d3e3f40;
	a->compmsg = 1;
	a->usedlq = 1;
	a->maxmsgl = 0x41424344;
	a->pipeline = 0x45464748;
	snprintf(a->descr, sizeof a->descr, "channel description");
}

static void hex_of(const struct qsg_wbuf *w, char *out)
{
	for (size_t i = 0; i < w->len; i++)
		snprintf(out + 2 * i, 3, "%02x", w->data[i]);
	out[2 * w->len] = '\0';
}

static void qattrs_bytes(void **state)
{
	(void)state;
	struct fsm_qattrs a, b;
	struct qsg_wbuf w;
	char hex[1024], err[QSG_ERRMSG_SIZE];

	fill_qattrs(&a);
	qsg_wbuf_init(&w);
	fsm_qattrs_encode(&w, &a);
	assert_int_equal(w.err, QSG_OK);
	assert_true(w.len * 2 < sizeof hex);
	hex_of(&w, hex);
	assert_string_equal(hex, old_qattrs_hex);

	struct qsg_rbuf r;
	qsg_rbuf_init(&r, w.data, w.len);
	memset(&b, 0, sizeof b);
	assert_int_equal(fsm_qattrs_decode(&r, &b, err), QSG_OK);
	assert_int_equal(r.len - r.pos, 0);
	assert_memory_equal(&a, &b, sizeof a);
	qsg_wbuf_close(&w);
}

static void chattrs_bytes(void **state)
{
	(void)state;
	struct fsm_chattrs a, b;
	struct qsg_wbuf w;
	char hex[1024], err[QSG_ERRMSG_SIZE];

	fill_chattrs(&a);
	qsg_wbuf_init(&w);
	fsm_chattrs_encode(&w, &a);
	assert_int_equal(w.err, QSG_OK);
	assert_true(w.len * 2 < sizeof hex);
	hex_of(&w, hex);
	assert_string_equal(hex, old_chattrs_hex);

	/* Decode refuses a MAXMSGL over the cap: read back one within it. */
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, w.data, w.len);
	assert_int_equal(fsm_chattrs_decode(&r, &b, err), QSG_RC_BAD_FRAME);
	a.maxmsgl = FSM_MAX_MSGL;
	qsg_wbuf_reset(&w);
	fsm_chattrs_encode(&w, &a);
	qsg_rbuf_init(&r, w.data, w.len);
	assert_int_equal(fsm_chattrs_decode(&r, &b, err), QSG_OK);
	assert_int_equal(r.len - r.pos, 0);
	assert_memory_equal(&a, &b, sizeof a);
	qsg_wbuf_close(&w);
}

/* The trigger attributes (fsm_attrs.h, FSM_QATTRS_TRIG) follow the old
 * layout when set has one of their bits, and only then; a record without
 * them (every record written before they existed) decodes with their
 * defaults. */
static void qattrs_trig_bytes(void **state)
{
	(void)state;
	struct fsm_qattrs a, b;
	struct qsg_wbuf w;
	struct qsg_rbuf r;
	char hex[1024], err[QSG_ERRMSG_SIZE];

	fill_qattrs(&a);
	a.set |= FSM_QA_TRIGGER;
	a.trigger = 1;
	a.trigtype = FSM_TRIG_DEPTH;
	a.trigdpth = 0x15161718;
	snprintf(a.trigdata, sizeof a.trigdata, "CH.ONE");
	snprintf(a.initq, sizeof a.initq, "SYSTEM.CHANNEL.INITQ");
	qsg_wbuf_init(&w);
	fsm_qattrs_encode(&w, &a);
	assert_int_equal(w.err, QSG_OK);
	hex_of(&w, hex);
	/* The old bytes with the new set (0x1000a5c3 little-endian at byte
	 * 10), then the five fields. */
	char want[1024];
	snprintf(want, sizeof want, "%.20s%s%s%s", old_qattrs_hex, "c3a50100", old_qattrs_hex + 28,
		 "010318171615"
		 "0600"
		 "43482e4f4e45"
		 "1400"
		 "53595354454d2e4348414e4e454c2e494e495451");
	assert_string_equal(hex, want);
	qsg_rbuf_init(&r, w.data, w.len);
	memset(&b, 0, sizeof b);
	assert_int_equal(fsm_qattrs_decode(&r, &b, err), QSG_OK);
	assert_int_equal(r.len - r.pos, 0);
	assert_memory_equal(&a, &b, sizeof a);

	/* Without a trigger bit: the old bytes, decoded with the defaults
	 * whatever the fields held. */
	a.set &= ~(uint32_t)FSM_QA_TRIGGER;
	qsg_wbuf_reset(&w);
	fsm_qattrs_encode(&w, &a);
	hex_of(&w, hex);
	assert_string_equal(hex, old_qattrs_hex);
	qsg_rbuf_init(&r, w.data, w.len);
	assert_int_equal(fsm_qattrs_decode(&r, &b, err), QSG_OK);
	assert_int_equal(b.trigger, 0);
	assert_int_equal(b.trigtype, FSM_TRIG_FIRST);
	assert_int_equal(b.trigdpth, 1);
	assert_string_equal(b.trigdata, "");
	assert_string_equal(b.initq, "");

	/* Decode checks the values. */
	struct {
		uint8_t trigger, trigtype;
		const char *initq;
	} bad[] = {{2, FSM_TRIG_FIRST, ""}, {1, FSM_TRIG_DEPTH + 1, ""}, {1, 1, "BAD NAME"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fill_qattrs(&a);
		a.set |= FSM_QA_TRIGTYPE;
		a.trigger = bad[i].trigger;
		a.trigtype = bad[i].trigtype;
		snprintf(a.initq, sizeof a.initq, "%s", bad[i].initq);
		qsg_wbuf_reset(&w);
		fsm_qattrs_encode(&w, &a);
		qsg_rbuf_init(&r, w.data, w.len);
		assert_int_equal(fsm_qattrs_decode(&r, &b, err), QSG_RC_BAD_FRAME);
	}
	/* TRIGDPTH, when given, is 1..999999999 (MQSC's range); when not
	 * given its bytes are whatever the sender's struct held. */
	const struct {
		uint32_t set, trigdpth;
		int rc;
	} dpth[] = {{FSM_QA_TRIGDPTH, 0, QSG_RC_BAD_FRAME},
		    {FSM_QA_TRIGDPTH, 1000000000, QSG_RC_BAD_FRAME},
		    {FSM_QA_TRIGDPTH, UINT32_MAX, QSG_RC_BAD_FRAME},
		    {FSM_QA_TRIGDPTH, 1, QSG_OK},
		    {FSM_QA_TRIGDPTH, 999999999, QSG_OK},
		    {FSM_QA_TRIGGER, 0, QSG_OK}};
	for (size_t i = 0; i < sizeof dpth / sizeof dpth[0]; i++) {
		fill_qattrs(&a);
		a.set = (a.set & ~(uint32_t)FSM_QA_TRIG_MASK) | dpth[i].set;
		a.trigger = 1;
		a.trigtype = FSM_TRIG_DEPTH;
		a.trigdpth = dpth[i].trigdpth;
		qsg_wbuf_reset(&w);
		fsm_qattrs_encode(&w, &a);
		qsg_rbuf_init(&r, w.data, w.len);
		assert_int_equal(fsm_qattrs_decode(&r, &b, err), dpth[i].rc);
	}
	/* Truncated trigger fields. */
	fill_qattrs(&a);
	a.set |= FSM_QA_INITQ;
	qsg_wbuf_reset(&w);
	fsm_qattrs_encode(&w, &a);
	qsg_rbuf_init(&r, w.data, w.len - 1);
	assert_int_equal(fsm_qattrs_decode(&r, &b, err), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
}

/* The defaults the state machine used to set by hand. */
static void defaults(void **state)
{
	(void)state;
	struct fsm_qattrs q, qe;
	struct fsm_chattrs c, ce;

	fsm_qattrs_defaults(&q);
	memset(&qe, 0, sizeof qe);
	qe.set = FSM_QA_ALL & ~(uint32_t)FSM_QA_TRIG_MASK; /* see fsm_attrs.h */
	qe.trigtype = FSM_TRIG_FIRST;
	qe.trigdpth = 1;
	qe.maxdepth = FSM_DEFAULT_MAXDEPTH;
	qe.maxmsgl = FSM_DEFAULT_MAXMSGL;
	qe.maxumsgs = FSM_DEFAULT_MAXUMSGS;
	assert_memory_equal(&q, &qe, sizeof q);

	fsm_chattrs_defaults(&c);
	memset(&ce, 0, sizeof ce);
	ce.set = FSM_CA_ALL;
	ce.batchsz = FSM_CH_DEFAULT_BATCHSZ;
	ce.hbint = FSM_CH_DEFAULT_HBINT;
	ce.discint = FSM_CH_DEFAULT_DISCINT;
	ce.shortrty = FSM_CH_DEFAULT_SHORTRTY;
	ce.shorttmr = FSM_CH_DEFAULT_SHORTTMR;
	ce.longrty = FSM_CH_DEFAULT_LONGRTY;
	ce.longtmr = FSM_CH_DEFAULT_LONGTMR;
	ce.usedlq = 1;
	ce.maxmsgl = FSM_DEFAULT_MAXMSGL;
	ce.pipeline = FSM_CH_DEFAULT_PIPELINE;
	assert_memory_equal(&c, &ce, sizeof c);
}

/* Merge copies exactly the attributes in the mask, never name, qtype, disp
 * or scope; set gains only the trigger bits of the mask. */
static void merge(void **state)
{
	(void)state;
	struct fsm_qattrs src, dst, zero;
	fill_qattrs(&src);
	memset(&zero, 0, sizeof zero);

	dst = zero;
	fsm_qattrs_merge(&dst, &src, FSM_QA_ALL);
	struct fsm_qattrs want = src;
	memset(want.name, 0, sizeof want.name);
	want.set = FSM_QA_TRIG_MASK;
	want.qtype = 0;
	want.disp = 0;
	want.scope = 0;
	assert_memory_equal(&dst, &want, sizeof dst);

	dst = zero;
	fsm_qattrs_merge(&dst, &src, FSM_QA_MAXUMSGS | FSM_QA_DESCR);
	want = zero;
	want.maxumsgs = src.maxumsgs;
	memcpy(want.descr, src.descr, sizeof want.descr);
	assert_memory_equal(&dst, &want, sizeof dst);

	dst = zero;
	fsm_qattrs_merge(&dst, &src, FSM_QA_TRIGDPTH);
	want = zero;
	want.set = FSM_QA_TRIGDPTH;
	want.trigdpth = src.trigdpth;
	assert_memory_equal(&dst, &want, sizeof dst);

	struct fsm_chattrs cs, cd, cz, cw;
	fill_chattrs(&cs);
	memset(&cz, 0, sizeof cz);
	cd = cz;
	fsm_chattrs_merge(&cd, &cs, FSM_CA_ALL);
	cw = cs;
	memset(cw.name, 0, sizeof cw.name);
	cw.set = 0;
	assert_memory_equal(&cd, &cw, sizeof cd);
	cd = cz;
	fsm_chattrs_merge(&cd, &cs, FSM_CA_PIPELINE | FSM_CA_CONNAME);
	cw = cz;
	cw.pipeline = cs.pipeline;
	memcpy(cw.conname, cs.conname, sizeof cw.conname);
	assert_memory_equal(&cd, &cw, sizeof cd);
}

/* The per-type masks are the LIKE masks of admin.c and the alias mask of
 * fsm.c before the table. */
static void masks(void **state)
{
	(void)state;
	assert_int_equal(
	    FSM_QA_QLOCAL_MASK,
	    FSM_QA_ALL & ~(uint32_t)(FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ | FSM_QA_TARGET));
	assert_int_equal(FSM_QA_QREMOTE_MASK,
			 FSM_QA_DESCR | FSM_QA_RNAME | FSM_QA_RQMNAME | FSM_QA_XMITQ);
	assert_int_equal(FSM_QA_QALIAS_MASK, FSM_QA_DEFPSIST | FSM_QA_DEFPRTY | FSM_QA_GET |
						 FSM_QA_PUT | FSM_QA_DESCR | FSM_QA_TARGET);
	assert_int_equal(fsm_qattr_mask(0), FSM_QA_QLOCAL_MASK);
	assert_int_equal(fsm_qattr_mask(FSM_QT_REMOTE), FSM_QA_QREMOTE_MASK);
	assert_int_equal(fsm_qattr_mask(FSM_QT_ALIAS), FSM_QA_QALIAS_MASK);
}

/* Descriptors: keyword lookup per type, DISPLAY order, field access. */
static void descriptors(void **state)
{
	(void)state;
	struct fsm_qattrs q;
	fill_qattrs(&q);

	const struct fsm_attr *d = fsm_qattr_find("MAXUMSGS", FSM_QT_LOCAL);
	assert_non_null(d);
	assert_int_equal(d->bit, FSM_QA_MAXUMSGS);
	assert_int_equal(fsm_attr_num(d, &q), q.maxumsgs);
	assert_null(fsm_qattr_find("MAXUMSGS", FSM_QT_ALIAS));
	assert_null(fsm_qattr_find("RNAME", FSM_QT_LOCAL));
	assert_non_null(fsm_qattr_find("RNAME", FSM_QT_REMOTE));
	assert_null(fsm_qattr_find("NOSUCH", FSM_QT_LOCAL));

	d = fsm_qattr_find("GET", FSM_QT_ALIAS);
	assert_string_equal(fsm_attr_enum_name(d->names, fsm_attr_num(d, &q)), "DISABLED");
	fsm_attr_set_num(d, &q, 0);
	assert_int_equal(q.get_inhibited, 0);
	d = fsm_qattr_find("BOQNAME", 0);
	fsm_attr_set_str(d, &q, "NEW.BOQ");
	assert_string_equal(q.boqname, "NEW.BOQ");
	assert_string_equal(fsm_attr_str(d, &q), "NEW.BOQ");

	static const char *const ql[] = {"MAXDEPTH", "MAXMSGL",	 "DEFPSIST", "DEFPRTY",	 "BOTHRESH",
					 "BOQNAME",  "INDXTYPE", "GET",	     "PUT",	 "MAXUMSGS",
					 "USAGE",    "DESCR",	 "TRIGGER",  "TRIGTYPE", "TRIGDPTH",
					 "TRIGDATA", "INITQ"};
	static const char *const qr[] = {"RNAME", "RQMNAME", "XMITQ", "DESCR"};
	static const char *const qa[] = {"TARGET", "DESCR", "DEFPSIST", "DEFPRTY", "GET", "PUT"};
	struct {
		uint8_t t;
		const char *const *n;
		unsigned count;
	} order[] = {{FSM_QT_LOCAL, ql, 17}, {FSM_QT_REMOTE, qr, 4}, {FSM_QT_ALIAS, qa, 6}};
	for (size_t k = 0; k < 3; k++) {
		for (unsigned p = 1; p <= order[k].count; p++)
			assert_string_equal(fsm_qattr_at(order[k].t, p)->keyword,
					    order[k].n[p - 1]);
		assert_null(fsm_qattr_at(order[k].t, order[k].count + 1));
	}

	const struct fsm_attr *c = fsm_chattr_find("CHLTYPE");
	assert_non_null(c);
	assert_string_equal(fsm_attr_enum_name(c->names, FSM_CHL_RCVR), "RCVR");
	assert_int_equal(fsm_chattr_count, 18); /* 16 + SSLCIPH, SSLPEER */
	assert_int_equal(fsm_qattr_count, 21);
	/* The trigger attributes: local queues only; TRIGGER is a switch. */
	d = fsm_qattr_find("TRIGGER", FSM_QT_LOCAL);
	assert_non_null(d);
	assert_ptr_equal(d->names, fsm_attr_switch);
	assert_int_equal(d->bit & FSM_QA_TRIG_MASK, d->bit);
	assert_null(fsm_qattr_find("TRIGGER", FSM_QT_REMOTE));
	assert_null(fsm_qattr_find("TRIGTYPE", FSM_QT_ALIAS));
	d = fsm_qattr_find("TRIGTYPE", FSM_QT_LOCAL);
	assert_string_equal(fsm_attr_enum_name(d->names, FSM_TRIG_DEPTH), "DEPTH");
	assert_int_equal(d->dflt, FSM_TRIG_FIRST);
	d = fsm_qattr_find("TRIGDPTH", FSM_QT_LOCAL);
	assert_int_equal(d->min, 1);
	assert_int_equal(d->dflt, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(qattrs_bytes),  cmocka_unit_test(qattrs_trig_bytes),
	    cmocka_unit_test(chattrs_bytes), cmocka_unit_test(defaults),
	    cmocka_unit_test(merge),	     cmocka_unit_test(masks),
	    cmocka_unit_test(descriptors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
