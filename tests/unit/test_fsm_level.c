/* Unit tests of command levels (fsm.h, docs/lifecycle.md "Command levels"):
 * MEMBER_LEVEL records a member's level, a join resets it to unknown, the
 * group's level is the lowest (unknown counting as FSM_CMDLEVEL_MIN), the
 * level each command needs, the decoder's checks, and the levels through a
 * snapshot (format 7; format 6 has none). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm.h"
#include "fsm/fsm_attrs.h"
#include "fsm/fsm_chan.h"
#include "fsm_harness.h"

static int join(struct ctx *x, uint32_t id)
{
	struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN_BOUNDED, .member_id = id};
	snprintf(c.name, sizeof c.name, "QM%u", id);
	return exec(x, &c);
}

static int level(struct ctx *x, uint32_t id, uint64_t l)
{
	struct fsm_cmd c = {.op = FSM_OP_MEMBER_LEVEL, .member_id = id, .seq = l};
	return exec(x, &c);
}

static unsigned member_level(struct fsm *f, uint32_t id)
{
	struct fsm_member m;
	assert_int_equal(fsm_member_get(f, id, &m), QSG_OK);
	return m.cmdlevel;
}

static void group_level(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(fsm_group_cmdlevel(x->f), FSM_CMDLEVEL_MIN); /* no members */
	for (uint32_t id = 1; id <= 3; id++)
		assert_int_equal(join(x, id), QSG_OK);
	assert_int_equal(member_level(x->f, 1), 0); /* unknown */
	assert_int_equal(fsm_group_cmdlevel(x->f), FSM_CMDLEVEL_MIN);
	assert_int_equal(level(x, 1, FSM_CMDLEVEL), QSG_OK);
	assert_int_equal(level(x, 2, FSM_CMDLEVEL), QSG_OK);
	assert_int_equal(member_level(x->f, 1), FSM_CMDLEVEL);
	/* One member of an older build keeps the group at the lowest level. */
	assert_int_equal(fsm_group_cmdlevel(x->f), FSM_CMDLEVEL_MIN);
	assert_int_equal(level(x, 3, FSM_CMDLEVEL), QSG_OK);
	assert_int_equal(fsm_group_cmdlevel(x->f), FSM_CMDLEVEL);
	/* A later build (level 9) does not raise the group above the others. */
	assert_int_equal(level(x, 3, 9), QSG_OK);
	assert_int_equal(fsm_group_cmdlevel(x->f), FSM_CMDLEVEL);
	/* A restart (join) makes the level unknown until it reports again:
	 * the restarted binary may be older. */
	assert_int_equal(join(x, 2), QSG_OK);
	assert_int_equal(member_level(x->f, 2), 0);
	assert_int_equal(fsm_group_cmdlevel(x->f), FSM_CMDLEVEL_MIN);
	assert_int_equal(level(x, 2, FSM_CMDLEVEL), QSG_OK);
	assert_int_equal(fsm_group_cmdlevel(x->f), FSM_CMDLEVEL);
	/* Not a member, or not active: refused, nothing changes. */
	assert_int_equal(level(x, 7, FSM_CMDLEVEL), QSG_RC_INVALID);
	struct fsm_member m;
	assert_int_equal(fsm_member_get(x->f, 3, &m), QSG_OK);
	struct fsm_cmd fail = {
	    .op = FSM_OP_MEMBER_FAIL_BOUNDED, .member_id = 3, .seq = (uint64_t)m.lease_expiry_ms};
	assert_int_equal(exec(x, &fail), QSG_OK);
	assert_int_equal(level(x, 3, 1), QSG_RC_INVALID);
	assert_int_equal(member_level(x->f, 3), 9);
	/* A failed member still counts: it may come back with its log. */
	assert_int_equal(level(x, 1, 1), QSG_OK);
	assert_int_equal(fsm_group_cmdlevel(x->f), 1);
}

static int decode(uint64_t l)
{
	struct fsm_cmd c = {.op = FSM_OP_MEMBER_LEVEL, .member_id = 1, .seq = l}, d;
	struct qsg_wbuf w;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	int rc = fsm_cmd_decode(w.data, w.len, &d, errmsg);
	if (rc == QSG_OK)
		assert_int_equal(d.seq, l);
	qsg_wbuf_close(&w);
	return rc;
}

static void decode_checks(void **state)
{
	(void)state;
	assert_int_equal(decode(FSM_CMDLEVEL), QSG_OK);
	assert_int_equal(decode(UINT16_MAX), QSG_OK);
	assert_int_equal(decode(0), QSG_RC_BAD_FRAME);
	assert_int_equal(decode(UINT16_MAX + 1ull), QSG_RC_BAD_FRAME);
}

static void cmd_levels(void **state)
{
	(void)state;
	struct fsm_cmd c = {.op = FSM_OP_PUT};
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	c.op = FSM_OP_MEMBER_JOIN_BOUNDED;
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	c.op = FSM_OP_MEMBER_LEVEL;
	assert_int_equal(fsm_cmd_level(&c), 2);
	/* Level 5: a backout without counting; BACKOUT itself needs none. */
	c.op = FSM_OP_BACKOUT_UNCOUNTED;
	assert_int_equal(fsm_cmd_level(&c), 5);
	c.op = FSM_OP_BACKOUT;
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	/* Queue attributes: the trigger attributes need level 2. */
	c.op = FSM_OP_QALTER;
	c.attrs.set = FSM_QA_MAXDEPTH;
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	c.attrs.set |= FSM_QA_TRIG_MASK & (0u - FSM_QA_TRIG_MASK); /* its lowest bit */
	assert_int_equal(fsm_cmd_level(&c), 2);
	c.op = FSM_OP_QDEFINE;
	assert_int_equal(fsm_cmd_level(&c), 2);
	/* CH_GETBATCH alone needs level 2. */
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CH_GETBATCH;
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	c.ch.flags = FSM_CHF_ALONE;
	assert_int_equal(fsm_cmd_level(&c), 2);
	/* CH_SETTLE: only a listing disposition needs level 2. */
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	struct fsm_chdisp d1 = {.seq = 5, .action = FSM_DISP_HOLD, .reason = 2085, .hold_ms = 5000};
	struct fsm_chdisp d2 = {.seq = 6, .action = FSM_DISP_DLQ, .reason = 2085};
	fsm_chlist_put_disp(&w, &d1);
	fsm_chlist_put_disp(&w, &d2);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_CH_SETTLE;
	c.ch.count = 2;
	c.ch.list = (struct qsg_slice){.p = w.data, .len = w.len};
	assert_int_equal(fsm_cmd_level(&c), FSM_CMDLEVEL_MIN);
	struct fsm_chdisp d3 = {.seq = 7, .action = FSM_DISP_LIST, .reason = 2085};
	fsm_chlist_put_disp(&w, &d3);
	c.ch.count = 3;
	c.ch.list = (struct qsg_slice){.p = w.data, .len = w.len};
	assert_int_equal(fsm_cmd_level(&c), 2);
	qsg_wbuf_close(&w);
}

static void snapshot_levels(void **state)
{
	struct ctx *x = *state;
	for (uint32_t id = 1; id <= 3; id++)
		assert_int_equal(join(x, id), QSG_OK);
	assert_int_equal(level(x, 1, FSM_CMDLEVEL), QSG_OK);
	assert_int_equal(level(x, 3, 5), QSG_OK);
	struct fsm *g = snapshot_restored(x); /* same bytes, same digest */
	assert_int_equal(member_level(g, 1), FSM_CMDLEVEL);
	assert_int_equal(member_level(g, 2), 0);
	assert_int_equal(member_level(g, 3), 5);
	fsm_close(g);
	/* The digest sees a level: replicas that differ in one differ. */
	uint64_t before = fsm_digest(x->f);
	assert_int_equal(level(x, 2, FSM_CMDLEVEL), QSG_OK);
	assert_true(fsm_digest(x->f) != before);
	/* Format 6 has no levels: restored as unknown. */
	struct qsg_wbuf w;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 6), QSG_OK);
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, x->f);
	assert_int_equal(fsm_restore(g, w.data, w.len, errmsg), QSG_OK);
	assert_int_equal(member_level(g, 1), 0);
	assert_int_equal(fsm_group_cmdlevel(g), FSM_CMDLEVEL_MIN);
	fsm_close(g);
	qsg_wbuf_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(group_level, setup, teardown),
	    cmocka_unit_test(decode_checks),
	    cmocka_unit_test(cmd_levels),
	    cmocka_unit_test_setup_teardown(snapshot_levels, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
