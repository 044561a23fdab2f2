/* Unit tests of authority records (docs/security.md "Authority records"):
 * the ops of src/fsm/fsm_authrec.c (encode/decode round trip, the
 * decoder's checks, apply, the command level), the evaluation
 * (fsm_authority: most specific profile per entity, member scope before
 * group scope, union over groups, NONE on a more specific profile), the
 * generation counter and the records through a snapshot (format 10; older
 * formats still restore, without records). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm.h"
#include "fsm_harness.h"

static struct fsm_cmd rec_cmd(uint8_t op, const char *profile, uint8_t objtype, uint8_t enttype,
			      const char *entity, uint32_t scope, uint32_t add, uint32_t rmv)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = op;
	snprintf(c.authrec.profile, sizeof c.authrec.profile, "%s", profile);
	c.authrec.objtype = objtype;
	c.authrec.enttype = enttype;
	snprintf(c.authrec.entity, sizeof c.authrec.entity, "%s", entity);
	c.authrec.scope = scope;
	c.authrec.auth = add;
	c.authrec.rmv = rmv;
	return c;
}

static int grant(struct ctx *x, const char *profile, uint8_t enttype, const char *entity,
		 uint32_t scope, uint32_t add, uint32_t rmv)
{
	struct fsm_cmd c = rec_cmd(FSM_OP_AUTHREC_SET, profile, FSM_AUTHOBJ_QUEUE, enttype, entity,
				   scope, add, rmv);
	return exec(x, &c);
}

static uint32_t auth_of(struct ctx *x, uint32_t member, const char *user, const char *g1,
			const char *g2, const char *q)
{
	char groups[2][FSM_NAME_MAX + 1] = {"", ""};
	unsigned n = 0;
	if (g1 != NULL)
		snprintf(groups[n++], sizeof groups[0], "%s", g1);
	if (g2 != NULL)
		snprintf(groups[n++], sizeof groups[0], "%s", g2);
	return fsm_authority(x->f, member, user, (const char(*)[FSM_NAME_MAX + 1]) groups, n,
			     FSM_AUTHOBJ_QUEUE, q);
}

static void codec_round_trip(void **state)
{
	(void)state;
	struct fsm_cmd c = rec_cmd(FSM_OP_AUTHREC_SET, "APP.**", FSM_AUTHOBJ_QUEUE,
				   FSM_AUTHENT_GROUP, "APPS", 2, FSM_AUTH_PUT, FSM_AUTH_GET);
	struct qsg_wbuf w;
	struct fsm_cmd d;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_OK);
	assert_memory_equal(&c.authrec, &d.authrec, sizeof c.authrec);
	assert_int_equal(fsm_cmd_level(&d), 3);
	/* Every truncation is refused, so is a trailing byte. */
	for (size_t n = 0; n < w.len; n++)
		assert_int_not_equal(fsm_cmd_decode(w.data, n, &d, err), QSG_OK);
	qsg_put_u8(&w, 0);
	assert_int_not_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_OK);
	qsg_wbuf_close(&w);
	/* DELETE carries the key only. */
	c = rec_cmd(FSM_OP_AUTHREC_DELETE, "**", FSM_AUTHOBJ_QMGR, FSM_AUTHENT_PRINCIPAL, "ALICE",
		    0, 0, 0);
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_OK);
	assert_string_equal(d.authrec.entity, "ALICE");
	assert_int_equal(d.authrec.objtype, FSM_AUTHOBJ_QMGR);
	assert_int_equal(fsm_cmd_level(&d), 3);
	qsg_wbuf_close(&w);
	/* What the decoder refuses. */
	struct fsm_cmd bad[] = {
	    /* a profile that matches nothing useful: refused, not stored */
	    rec_cmd(FSM_OP_AUTHREC_SET, "APP..X", FSM_AUTHOBJ_QUEUE, FSM_AUTHENT_GROUP, "G", 0,
		    FSM_AUTH_PUT, 0),
	    rec_cmd(FSM_OP_AUTHREC_SET, "A.**.**", FSM_AUTHOBJ_QUEUE, FSM_AUTHENT_GROUP, "G", 0,
		    FSM_AUTH_PUT, 0),
	    /* QMGR records have the profile "**" */
	    rec_cmd(FSM_OP_AUTHREC_SET, "QM1", FSM_AUTHOBJ_QMGR, FSM_AUTHENT_GROUP, "G", 0,
		    FSM_AUTH_CONNECT, 0),
	    /* lower case entity, bad types */
	    rec_cmd(FSM_OP_AUTHREC_SET, "Q", FSM_AUTHOBJ_QUEUE, FSM_AUTHENT_GROUP, "g", 0,
		    FSM_AUTH_PUT, 0),
	    rec_cmd(FSM_OP_AUTHREC_SET, "Q", 9, FSM_AUTHENT_GROUP, "G", 0, FSM_AUTH_PUT, 0),
	    rec_cmd(FSM_OP_AUTHREC_SET, "Q", FSM_AUTHOBJ_QUEUE, 3, "G", 0, FSM_AUTH_PUT, 0),
	    /* PUT means nothing on a channel; add and remove overlap */
	    rec_cmd(FSM_OP_AUTHREC_SET, "C", FSM_AUTHOBJ_CHANNEL, FSM_AUTHENT_GROUP, "G", 0,
		    FSM_AUTH_PUT, 0),
	    rec_cmd(FSM_OP_AUTHREC_SET, "Q", FSM_AUTHOBJ_QUEUE, FSM_AUTHENT_GROUP, "G", 0,
		    FSM_AUTH_PUT, FSM_AUTH_PUT),
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		qsg_wbuf_init(&w);
		assert_int_equal(fsm_cmd_encode(&bad[i], &w), QSG_OK);
		assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_RC_BAD_FRAME);
		qsg_wbuf_close(&w);
	}
}

static void apply_set_delete(void **state)
{
	struct ctx *x = *state;
	uint64_t g0 = fsm_authrec_generation(x->f);
	assert_int_equal(grant(x, "Q1", FSM_AUTHENT_PRINCIPAL, "ALICE", 0, FSM_AUTH_PUT, 0),
			 QSG_OK);
	uint64_t g1 = fsm_authrec_generation(x->f);
	assert_true(g1 != g0);
	/* AUTHADD adds, AUTHRMV removes, on the same record. */
	assert_int_equal(grant(x, "Q1", FSM_AUTHENT_PRINCIPAL, "ALICE", 0,
			       FSM_AUTH_GET | FSM_AUTH_BROWSE, FSM_AUTH_PUT),
			 QSG_OK);
	assert_true(fsm_authrec_generation(x->f) != g1);
	struct fsm_authrec key, r;
	memset(&key, 0, sizeof key);
	strcpy(key.profile, "Q1");
	key.objtype = FSM_AUTHOBJ_QUEUE;
	key.enttype = FSM_AUTHENT_PRINCIPAL;
	strcpy(key.entity, "ALICE");
	assert_int_equal(fsm_authrec_get(x->f, &key, &r), QSG_OK);
	assert_int_equal(r.auth, FSM_AUTH_GET | FSM_AUTH_BROWSE);
	assert_int_equal(r.rmv, 0);
	/* Removing everything keeps the record (NONE: an explicit denial). */
	assert_int_equal(grant(x, "Q1", FSM_AUTHENT_PRINCIPAL, "ALICE", 0, 0,
			       FSM_AUTH_ALL & fsm_auth_valid(FSM_AUTHOBJ_QUEUE)),
			 QSG_OK);
	assert_int_equal(fsm_authrec_get(x->f, &key, &r), QSG_OK);
	assert_int_equal(r.auth, 0);
	/* Another scope is another record. */
	key.scope = 2;
	assert_int_equal(fsm_authrec_get(x->f, &key, &r), QSG_RC_UNKNOWN_OBJECT);
	key.scope = 0;
	struct fsm_cmd del = rec_cmd(FSM_OP_AUTHREC_DELETE, "Q1", FSM_AUTHOBJ_QUEUE,
				     FSM_AUTHENT_PRINCIPAL, "ALICE", 0, 0, 0);
	uint64_t g2 = fsm_authrec_generation(x->f);
	assert_int_equal(exec(x, &del), QSG_OK);
	assert_true(fsm_authrec_generation(x->f) != g2);
	assert_int_equal(fsm_authrec_get(x->f, &key, &r), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(exec(x, &del), QSG_RC_UNKNOWN_OBJECT);
}

static void most_specific_wins(void **state)
{
	struct ctx *x = *state;
	/* The group APPS: everything on APP.**, only BROWSE on APP.LOG.*, and
	 * NONE on APP.SECRET. */
	assert_int_equal(grant(x, "APP.**", FSM_AUTHENT_GROUP, "APPS", 0,
			       FSM_AUTH_PUT | FSM_AUTH_GET | FSM_AUTH_BROWSE, 0),
			 QSG_OK);
	assert_int_equal(grant(x, "APP.LOG.*", FSM_AUTHENT_GROUP, "APPS", 0, FSM_AUTH_BROWSE, 0),
			 QSG_OK);
	assert_int_equal(grant(x, "APP.SECRET", FSM_AUTHENT_GROUP, "APPS", 0, 0, 0), QSG_OK);
	uint32_t all3 = FSM_AUTH_PUT | FSM_AUTH_GET | FSM_AUTH_BROWSE;
	assert_int_equal(auth_of(x, 1, "BOB", "APPS", NULL, "APP.Q1"), all3);
	assert_int_equal(auth_of(x, 1, "BOB", "APPS", NULL, "APP.LOG.X"), FSM_AUTH_BROWSE);
	assert_int_equal(auth_of(x, 1, "BOB", "APPS", NULL, "APP.SECRET"), 0);
	assert_int_equal(auth_of(x, 1, "BOB", "APPS", NULL, "APP.SECRETS"), all3);
	assert_int_equal(auth_of(x, 1, "BOB", "APPS", NULL, "OTHER"), 0);
	/* Without the group: nothing. */
	assert_int_equal(auth_of(x, 1, "BOB", NULL, NULL, "APP.Q1"), 0);
	/* Union over entities: the user's own record adds to the group's. */
	assert_int_equal(grant(x, "APP.SECRET", FSM_AUTHENT_PRINCIPAL, "BOB", 0, FSM_AUTH_GET, 0),
			 QSG_OK);
	assert_int_equal(auth_of(x, 1, "BOB", "APPS", NULL, "APP.SECRET"), FSM_AUTH_GET);
	assert_int_equal(auth_of(x, 1, "CAROL", "APPS", NULL, "APP.SECRET"), 0);
	/* Union over groups: another group's generic grant is not removed by
	 * APPS's NONE (the NONE is APPS's own most specific record). */
	assert_int_equal(grant(x, "**", FSM_AUTHENT_GROUP, "OPS", 0, FSM_AUTH_BROWSE, 0), QSG_OK);
	assert_int_equal(auth_of(x, 1, "CAROL", "APPS", "OPS", "APP.SECRET"), FSM_AUTH_BROWSE);
	assert_int_equal(auth_of(x, 1, "CAROL", "OPS", NULL, "ANY.THING"), FSM_AUTH_BROWSE);
	/* The order records were defined in does not matter: a record of
	 * APP.* defined last is less specific than APP.SECRET. */
	assert_int_equal(grant(x, "APP.*", FSM_AUTHENT_GROUP, "APPS", 0, FSM_AUTH_PUT, 0), QSG_OK);
	assert_int_equal(auth_of(x, 1, "CAROL", "APPS", NULL, "APP.SECRET"), 0);
	assert_int_equal(auth_of(x, 1, "CAROL", "APPS", NULL, "APP.Q1"), FSM_AUTH_PUT);
	assert_int_equal(auth_of(x, 1, "CAROL", "APPS", NULL, "APP.A.B"), all3);
}

static void member_scope_first(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(
	    grant(x, "APP.**", FSM_AUTHENT_GROUP, "APPS", 0, FSM_AUTH_PUT | FSM_AUTH_GET, 0),
	    QSG_OK);
	/* On member 2 only: the group is limited to PUT, even on a less
	 * specific profile (queue-manager level before QSG level). */
	assert_int_equal(grant(x, "**", FSM_AUTHENT_GROUP, "APPS", 2, FSM_AUTH_PUT, 0), QSG_OK);
	assert_int_equal(auth_of(x, 1, "U", "APPS", NULL, "APP.Q"), FSM_AUTH_PUT | FSM_AUTH_GET);
	assert_int_equal(auth_of(x, 2, "U", "APPS", NULL, "APP.Q"), FSM_AUTH_PUT);
	assert_int_equal(auth_of(x, 2, "U", "APPS", NULL, "OTHER"), FSM_AUTH_PUT);
	assert_int_equal(auth_of(x, 3, "U", "APPS", NULL, "OTHER"), 0);
	/* member 0 (no member) sees the group scope only */
	assert_int_equal(auth_of(x, 0, "U", "APPS", NULL, "APP.Q"), FSM_AUTH_PUT | FSM_AUTH_GET);
	/* QMGR records: profile "**", any name. */
	struct fsm_cmd c = rec_cmd(FSM_OP_AUTHREC_SET, "**", FSM_AUTHOBJ_QMGR, FSM_AUTHENT_GROUP,
				   "APPS", 0, FSM_AUTH_CONNECT, 0);
	assert_int_equal(exec(x, &c), QSG_OK);
	char g[1][FSM_NAME_MAX + 1] = {"APPS"};
	assert_int_equal(fsm_authority(x->f, 1, "U", (const char(*)[FSM_NAME_MAX + 1]) g, 1,
				       FSM_AUTHOBJ_QMGR, "QM1"),
			 FSM_AUTH_CONNECT);
	/* object types do not mix */
	assert_int_equal(fsm_authority(x->f, 1, "U", (const char(*)[FSM_NAME_MAX + 1]) g, 1,
				       FSM_AUTHOBJ_CHANNEL, "APP.Q"),
			 0);
}

static void snapshot_and_formats(void **state)
{
	struct ctx *x = *state;
	assert_int_equal(grant(x, "APP.**", FSM_AUTHENT_GROUP, "APPS", 0, FSM_AUTH_PUT, 0), QSG_OK);
	assert_int_equal(grant(x, "APP.X", FSM_AUTHENT_PRINCIPAL, "BOB", 3, FSM_AUTH_GET, 0),
			 QSG_OK);
	uint64_t gen = fsm_authrec_generation(x->f);
	struct fsm *r = snapshot_restored(x); /* same bytes, same digest */
	assert_int_equal(auth_of(x, 3, "BOB", "APPS", NULL, "APP.X"), FSM_AUTH_GET | FSM_AUTH_PUT);
	assert_int_equal(fsm_authority(r, 3, "BOB", NULL, 0, FSM_AUTHOBJ_QUEUE, "APP.X"),
			 FSM_AUTH_GET);
	fsm_close(r);
	/* A restore changes the generation (cached answers are stale). */
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot(x->f, &w), QSG_OK);
	assert_int_equal(w.data[0], FSM_SNAPSHOT_VERSION); /* 10 or later */
	assert_int_equal(fsm_restore(x->f, w.data, w.len, err), QSG_OK);
	assert_true(fsm_authrec_generation(x->f) != gen);
	/* The records are in the digest. */
	uint64_t d = fsm_digest(x->f);
	assert_int_equal(grant(x, "APP.**", FSM_AUTHENT_GROUP, "APPS", 0, FSM_AUTH_GET, 0), QSG_OK);
	assert_true(fsm_digest(x->f) != d);
	/* Truncated snapshots are refused. */
	struct fsm *g;
	assert_int_equal(fsm_init(&g, err), QSG_OK);
	for (size_t n = w.len - 1; n + 60 > w.len; n--)
		assert_int_not_equal(fsm_restore(g, w.data, n, err), QSG_OK);
	fsm_close(g);
	qsg_wbuf_close(&w);
	/* Format 9 cannot hold records: refused, not dropped. */
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 9), QSG_RC_BAD_VERSION);
	qsg_wbuf_close(&w);
}

/* Format 9 (no records) still restores, with no records. */
static void old_format_restores(void **state)
{
	struct ctx *x = *state;
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(qdefine(x, "Q1", 0, NULL, 0), QSG_OK);
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 9), QSG_OK);
	assert_int_equal(w.data[0], 9);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, err), QSG_OK);
	assert_int_equal(fsm_restore(g, w.data, w.len, err), QSG_OK);
	assert_int_equal(fsm_authority(g, 1, "BOB", NULL, 0, FSM_AUTHOBJ_QUEUE, "Q1"), 0);
	fsm_close(g);
	qsg_wbuf_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(codec_round_trip),
	    cmocka_unit_test_setup_teardown(apply_set_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(most_specific_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(member_scope_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_and_formats, setup, teardown),
	    cmocka_unit_test_setup_teardown(old_format_restores, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
