/* Unit tests of users (docs/security.md "Authentication"): the password
 * hash (src/common/pwhash.h: make, verify, the text form and its parser),
 * the user ops of the state machine (src/fsm/fsm_user.c: encode/decode
 * round trip, the decoder's checks, apply, the command level) and the user
 * table through a snapshot (format 9; older formats still restore). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/pwhash.h"
#include "fsm/fsm.h"
#include "fsm_harness.h"

/* ---- pwhash -------------------------------------------------------------- */

static void hash_make_verify(void **state)
{
	(void)state;
	struct pwhash h, h2;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(pwhash_make("s3cret", 6, PWHASH_ITER_MIN, &h, err), QSG_OK);
	assert_int_equal(h.iterations, PWHASH_ITER_MIN);
	assert_true(pwhash_verify(&h, "s3cret", 6));
	assert_false(pwhash_verify(&h, "s3creT", 6));
	assert_false(pwhash_verify(&h, "s3cre", 5));
	assert_false(pwhash_verify(&h, "", 0));
	/* A new salt each time: the same password hashes differently. */
	assert_int_equal(pwhash_make("s3cret", 6, PWHASH_ITER_MIN, &h2, err), QSG_OK);
	assert_memory_not_equal(h.salt, h2.salt, PWHASH_SALT_LEN);
	assert_memory_not_equal(h.hash, h2.hash, PWHASH_HASH_LEN);
	/* Out of range. */
	assert_int_equal(pwhash_make("x", 1, PWHASH_ITER_MIN - 1, &h2, err), QSG_RC_INVALID);
	char big[PWHASH_PASSWORD_MAX + 2];
	memset(big, 'a', sizeof big);
	assert_int_equal(pwhash_make(big, sizeof big, PWHASH_ITER_MIN, &h2, err), QSG_RC_INVALID);
	/* Another count gives another hash (the count is part of it). */
	h2 = h;
	h2.iterations = PWHASH_ITER_MIN + 1;
	assert_false(pwhash_verify(&h2, "s3cret", 6));
}

/* The text form round trip, and a fixed record computed independently
 * (Python's hashlib.pbkdf2_hmac('sha256', b'qsg', bytes(range(16)),
 * 10000)): the scheme is standard PBKDF2-HMAC-SHA256. */
static void hash_text_form(void **state)
{
	(void)state;
	struct pwhash h, p;
	char text[PWHASH_TEXT_MAX], err[QSG_ERRMSG_SIZE];
	assert_int_equal(pwhash_make("pa$$ word", 9, 12345, &h, err), QSG_OK);
	pwhash_format(&h, text);
	assert_int_equal(strncmp(text, "pbkdf2-sha256$12345$", 20), 0);
	assert_int_equal(pwhash_parse(text, &p, err), QSG_OK);
	assert_memory_equal(&h, &p, sizeof h);
	assert_true(pwhash_verify(&p, "pa$$ word", 9));
	/* A fixed record (made once with this code) keeps verifying. */
	const char *fixed = "pbkdf2-sha256$10000$AAECAwQFBgcICQoLDA0ODw==$"
			    "Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jmFVM=";
	assert_int_equal(pwhash_parse(fixed, &p, err), QSG_OK);
	assert_int_equal(p.iterations, 10000);
	assert_int_equal(p.salt[15], 15);
	/* What the hash really is: recompute with the same salt. */
	struct pwhash q = p;
	memset(q.hash, 0, sizeof q.hash);
	assert_false(pwhash_verify(&q, "qsg", 3));
	assert_true(pwhash_verify(&p, "qsg", 3));
	/* Everything malformed is refused. */
	const char *bad[] = {
	    "",
	    "pbkdf2-sha1$10000$AAECAwQFBgcICQoLDA0ODw==$"
	    "Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jmFVM=",
	    "pbkdf2-sha256$9999$AAECAwQFBgcICQoLDA0ODw==$"
	    "Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jmFVM=",
	    "pbkdf2-sha256$1x000$AAECAwQFBgcICQoLDA0ODw==$"
	    "Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jmFVM=",
	    "pbkdf2-sha256$$AAECAwQFBgcICQoLDA0ODw==$Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jmFVM=",
	    "pbkdf2-sha256$10000$AAECAwQFBgcICQoLDA0O$Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jmFVM=",
	    "pbkdf2-sha256$10000$AAECAwQFBgcICQoLDA0ODw==$"
	    "Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jmFVM==",
	    "pbkdf2-sha256$10000$AAECAwQFBgcICQoLDA0ODw==$"
	    "Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jmFVM",
	    "pbkdf2-sha256$10000$AAECAwQFBgcICQoLDA0ODw==$Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jm!"
	    "VM=",
	    "pbkdf2-sha256$10000$AAECAwQFBgcICQoLDA0ODw==$"
	    "Z06ibRFwLw1QMT72p2tpMMpm0wfQdbNdRLDcY6jmFVM=$",
	    "pbkdf2-sha256$10000$AAECAwQFBgcICQoLDA0ODw==",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(pwhash_parse(bad[i], &p, err), QSG_RC_INVALID);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(pwhash_parse(NULL, &p, err), QSG_RC_INVALID);
}

/* ---- the user ops ------------------------------------------------------- */

static struct fsm_cmd user_cmd(uint8_t op, const char *name, uint32_t set)
{
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = op;
	snprintf(c.user.name, sizeof c.user.name, "%s", name);
	c.user.set = set;
	c.user.scheme = FSM_CRED_PBKDF2_SHA256;
	c.user.iterations = FSM_USER_ITER_MIN;
	for (int i = 0; i < FSM_USER_SALT_LEN; i++)
		c.user.salt[i] = (uint8_t)(i + 1);
	for (int i = 0; i < FSM_USER_HASH_LEN; i++)
		c.user.hash[i] = (uint8_t)(0xa0 + i);
	return c;
}

static int roundtrip(const struct fsm_cmd *c, struct fsm_cmd *out)
{
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	int rc = fsm_cmd_decode(w.data, w.len, out, err);
	/* Every truncation is refused. */
	for (size_t n = 0; rc == QSG_OK && n < w.len; n++) {
		struct fsm_cmd t;
		assert_int_not_equal(fsm_cmd_decode(w.data, n, &t, err), QSG_OK);
	}
	qsg_wbuf_close(&w);
	return rc;
}

static void user_codec(void **state)
{
	(void)state;
	struct fsm_cmd c = user_cmd(FSM_OP_USER_DEFINE, "ALICE", FSM_UA_ALL), d;
	c.flags = FSM_F_REPLACE;
	c.user.ngroups = 2;
	strcpy(c.user.groups[0], "APPS");
	strcpy(c.user.groups[1], "OPS");
	strcpy(c.user.descr, "Alice's account");
	assert_int_equal(roundtrip(&c, &d), QSG_OK);
	assert_int_equal(d.op, FSM_OP_USER_DEFINE);
	assert_int_equal(d.flags, FSM_F_REPLACE);
	assert_memory_equal(&c.user, &d.user, sizeof c.user);
	/* ALTER with only the groups: the rest is not carried. */
	c = user_cmd(FSM_OP_USER_ALTER, "ALICE", FSM_UA_GROUPS);
	c.user.ngroups = 1;
	strcpy(c.user.groups[0], "OPS");
	assert_int_equal(roundtrip(&c, &d), QSG_OK);
	assert_int_equal(d.user.set, FSM_UA_GROUPS);
	assert_int_equal(d.user.iterations, 0);
	assert_string_equal(d.user.groups[0], "OPS");
	c = user_cmd(FSM_OP_USER_DELETE, "ALICE", 0);
	assert_int_equal(roundtrip(&c, &d), QSG_OK);
	assert_string_equal(d.user.name, "ALICE");
	/* Refused by the decoder. */
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	struct fsm_cmd bad[8];
	bad[0] = user_cmd(FSM_OP_USER_DEFINE, "ALICE", FSM_UA_GROUPS); /* no credential */
	bad[1] = user_cmd(FSM_OP_USER_ALTER, "ALICE", 0); /* nothing */
	bad[2] = user_cmd(FSM_OP_USER_DEFINE, "alice", FSM_UA_ALL); /* lower case */
	bad[3] = user_cmd(FSM_OP_USER_DEFINE, "AL ICE", FSM_UA_ALL);
	bad[4] = user_cmd(FSM_OP_USER_DEFINE, "ALICE", FSM_UA_ALL);
	bad[4].user.iterations = FSM_USER_ITER_MIN - 1;
	bad[5] = user_cmd(FSM_OP_USER_DEFINE, "ALICE", FSM_UA_ALL);
	bad[5].user.ngroups = 2;
	strcpy(bad[5].user.groups[0], "G");
	strcpy(bad[5].user.groups[1], "G"); /* twice */
	bad[6] = user_cmd(FSM_OP_USER_DEFINE, "ALICE", FSM_UA_ALL);
	bad[6].flags = FSM_F_PURGE;
	bad[7] = user_cmd(FSM_OP_USER_DEFINE, "ALICE", FSM_UA_ALL);
	bad[7].user.scheme = 2;
	for (size_t i = 0; i < 8; i++) {
		qsg_wbuf_init(&w);
		assert_int_equal(fsm_cmd_encode(&bad[i], &w), QSG_OK);
		assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_RC_BAD_FRAME);
		qsg_wbuf_close(&w);
	}
	/* Unknown set bits and too many groups, by hand. */
	c = user_cmd(FSM_OP_USER_ALTER, "ALICE", FSM_UA_DESCR);
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	w.data[2 + 2 + 5] |= 0x80; /* op, version, str "ALICE", u32 set */
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
	c = user_cmd(FSM_OP_USER_ALTER, "ALICE", FSM_UA_GROUPS);
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	w.data[2 + 2 + 5 + 4] = FSM_USER_GROUPS_MAX + 1;
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, err), QSG_RC_BAD_FRAME);
	qsg_wbuf_close(&w);
}

static void user_level(void **state)
{
	(void)state;
	struct fsm_cmd c = user_cmd(FSM_OP_USER_DEFINE, "ALICE", FSM_UA_ALL);
	assert_int_equal(fsm_cmd_level(&c), 3);
	c.op = FSM_OP_USER_ALTER;
	assert_int_equal(fsm_cmd_level(&c), 3);
	c.op = FSM_OP_USER_DELETE;
	assert_int_equal(fsm_cmd_level(&c), 3);
	assert_true(FSM_CMDLEVEL >= 3);
}

static int cb(void *arg, const struct fsm_user *uu)
{
	char *s = *(char **)arg;
	strcat(s, uu->name);
	strcat(s, ",");
	return 0;
}

static void user_apply(void **state)
{
	struct ctx *x = *state;
	struct fsm_user u;
	struct fsm_cmd c = user_cmd(FSM_OP_USER_DEFINE, "BOB", FSM_UA_CRED | FSM_UA_GROUPS);
	c.user.ngroups = 1;
	strcpy(c.user.groups[0], "APPS");
	x->now = 1000;
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(fsm_user_get(x->f, "BOB", &u), QSG_OK);
	assert_int_equal(u.ngroups, 1);
	assert_string_equal(u.groups[0], "APPS");
	assert_int_equal(u.iterations, FSM_USER_ITER_MIN);
	assert_memory_equal(u.hash, c.user.hash, FSM_USER_HASH_LEN);
	assert_int_equal(u.set, 0);
	assert_int_equal(u.alt_ms, x->now);
	assert_int_equal(fsm_user_get(x->f, "BO", &u), QSG_RC_UNKNOWN_OBJECT);
	/* DEFINE again: exists, unless REPLACE (which sets every field). */
	assert_int_equal(exec(x, &c), QSG_RC_OBJECT_EXISTS);
	struct fsm_cmd r = user_cmd(FSM_OP_USER_DEFINE, "BOB", FSM_UA_CRED);
	r.flags = FSM_F_REPLACE;
	r.user.hash[0] = 1;
	assert_int_equal(exec(x, &r), QSG_OK);
	assert_int_equal(fsm_user_get(x->f, "BOB", &u), QSG_OK);
	assert_int_equal(u.ngroups, 0);
	assert_int_equal(u.hash[0], 1);
	/* ALTER changes what it names only. */
	struct fsm_cmd a = user_cmd(FSM_OP_USER_ALTER, "BOB", FSM_UA_DESCR);
	strcpy(a.user.descr, "bob");
	a.user.hash[0] = 2; /* not in set: ignored */
	x->now = 2000;
	assert_int_equal(exec(x, &a), QSG_OK);
	assert_int_equal(fsm_user_get(x->f, "BOB", &u), QSG_OK);
	assert_string_equal(u.descr, "bob");
	assert_int_equal(u.hash[0], 1);
	assert_int_equal(u.alt_ms, 2000);
	a = user_cmd(FSM_OP_USER_ALTER, "NOBODY", FSM_UA_DESCR);
	assert_int_equal(exec(x, &a), QSG_RC_UNKNOWN_OBJECT);
	/* Sorted by name whatever the order of definition. */
	const char *names[] = {"ZED", "AL", "MIKE"};
	for (int i = 0; i < 3; i++) {
		c = user_cmd(FSM_OP_USER_DEFINE, names[i], FSM_UA_CRED);
		assert_int_equal(exec(x, &c), QSG_OK);
	}
	char seen[64] = "";
	char *sc = seen;
	fsm_user_foreach(x->f, cb, &sc);
	assert_string_equal(seen, "AL,BOB,MIKE,ZED,");
	/* DELETE. */
	c = user_cmd(FSM_OP_USER_DELETE, "MIKE", 0);
	assert_int_equal(exec(x, &c), QSG_OK);
	assert_int_equal(exec(x, &c), QSG_RC_UNKNOWN_OBJECT);
	seen[0] = '\0';
	fsm_user_foreach(x->f, cb, &sc);
	assert_string_equal(seen, "AL,BOB,ZED,");
}

static void user_snapshot(void **state)
{
	struct ctx *x = *state;
	struct fsm_cmd c = user_cmd(FSM_OP_USER_DEFINE, "CAROL", FSM_UA_ALL);
	c.user.ngroups = 3;
	strcpy(c.user.groups[0], "A");
	strcpy(c.user.groups[1], "B.C");
	strcpy(c.user.groups[2], "D");
	strcpy(c.user.descr, "carol");
	x->now = 5000;
	uint64_t d0 = fsm_digest(x->f);
	assert_int_equal(exec(x, &c), QSG_OK);
	uint64_t d1 = fsm_digest(x->f);
	assert_true(d0 != d1); /* the digest covers the users */
	c = user_cmd(FSM_OP_USER_DEFINE, "DAVE", FSM_UA_CRED);
	assert_int_equal(exec(x, &c), QSG_OK);
	struct fsm *r = snapshot_restored(x); /* same bytes, same digest */
	struct fsm_user u;
	assert_int_equal(fsm_user_get(r, "CAROL", &u), QSG_OK);
	assert_int_equal(u.ngroups, 3);
	assert_string_equal(u.groups[1], "B.C");
	assert_string_equal(u.descr, "carol");
	assert_int_equal(u.alt_ms, 5000);
	assert_memory_equal(u.hash, c.user.hash, FSM_USER_HASH_LEN);
	assert_int_equal(fsm_user_get(r, "DAVE", &u), QSG_OK);
	assert_int_equal(fsm_digest(r), fsm_digest(x->f));
	/* A changed hash changes the digest. */
	struct fsm_cmd a = user_cmd(FSM_OP_USER_ALTER, "DAVE", FSM_UA_CRED);
	a.user.hash[5] ^= 1;
	uint64_t before = fsm_digest(x->f);
	assert_int_equal(exec(x, &a), QSG_OK);
	assert_true(fsm_digest(x->f) != before);
	/* Format 8 cannot hold users: refused, not silently dropped. */
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 8), QSG_RC_BAD_VERSION);
	qsg_wbuf_close(&w);
	/* The snapshot is format 9; a corrupt user table is refused. */
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot(x->f, &w), QSG_OK);
	assert_int_equal(w.data[0], FSM_SNAPSHOT_VERSION); /* 9 or later */
	char err[QSG_ERRMSG_SIZE];
	struct fsm *g;
	assert_int_equal(fsm_init(&g, err), QSG_OK);
	for (size_t n = w.len - 1; n + 200 > w.len; n--)
		assert_int_not_equal(fsm_restore(g, w.data, n, err), QSG_OK);
	fsm_close(g);
	qsg_wbuf_close(&w);
	fsm_close(r);
}

/* Format 8 (no users) still restores, with an empty user table. */
static void old_format_restores(void **state)
{
	struct ctx *x = *state;
	struct qsg_wbuf w;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(qdefine(x, "Q1", 0, NULL, 0), QSG_OK);
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_snapshot_format(x->f, &w, 8), QSG_OK);
	assert_int_equal(w.data[0], 8);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, err), QSG_OK);
	assert_int_equal(fsm_restore(g, w.data, w.len, err), QSG_OK);
	struct fsm_user u;
	assert_int_equal(fsm_user_get(g, "ANY", &u), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(fsm_digest(g), fsm_digest(x->f));
	fsm_close(g);
	qsg_wbuf_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hash_make_verify),
	    cmocka_unit_test(hash_text_form),
	    cmocka_unit_test(user_codec),
	    cmocka_unit_test(user_level),
	    cmocka_unit_test_setup_teardown(user_apply, setup, teardown),
	    cmocka_unit_test_setup_teardown(user_snapshot, setup, teardown),
	    cmocka_unit_test_setup_teardown(old_format_restores, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
