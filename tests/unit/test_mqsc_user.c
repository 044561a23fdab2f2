/* Unit tests of the USER commands (docs/admin.md "Users"): the parser
 * (PASSWORD, GROUPS lists, DESCR, REPLACE, names folded to upper case,
 * errors that never echo the password) and the executor against a real
 * struct fsm with a synchronous submit and a hash callback: DEFINE hashes
 * then submits (the password itself never reaches the log entry), ALTER
 * changes what it names, DISPLAY shows USER/GROUPS/DESCR/ALTDATE/ALTTIME
 * and never the credential, DELETE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/admin.h"
#include "admin/mqsc.h"
#include "common/codec.h"
#include "common/pwhash.h"
#include "fsm/fsm.h"
#include "proto/proto.h"

#define PW "S3cret pass"

static int parse(const char *text, struct mqsc_cmd *cmd, char *errmsg)
{
	errmsg[0] = '\0';
	return mqsc_parse(text, strlen(text), cmd, errmsg);
}

static void parse_user(void **state)
{
	(void)state;
	struct mqsc_cmd c;
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(parse("DEFINE USER('alice') PASSWORD('" PW "') GROUPS(apps, 'Ops',x.y) "
			       "DESCR('Alice') REPLACE",
			       &c, err),
			 QSG_OK);
	assert_int_equal(c.obj, MQSC_OBJ_USER);
	assert_string_equal(c.name, "ALICE");
	assert_true(c.has_password);
	assert_string_equal(c.password, PW);
	assert_true(c.has_groups);
	assert_int_equal(c.ngroups, 3);
	assert_string_equal(c.groups[0], "APPS");
	assert_string_equal(c.groups[1], "OPS");
	assert_string_equal(c.groups[2], "X.Y");
	assert_string_equal(c.descr, "Alice");
	assert_int_equal(c.flags, FSM_F_REPLACE);
	/* One group, GROUPS('') empties the list. */
	assert_int_equal(parse("ALTER USER(bob) GROUPS(g1)", &c, err), QSG_OK);
	assert_int_equal(c.ngroups, 1);
	assert_false(c.has_password);
	assert_int_equal(parse("ALTER USER(bob) GROUPS('')", &c, err), QSG_OK);
	assert_true(c.has_groups);
	assert_int_equal(c.ngroups, 0);
	assert_int_equal(parse("DELETE USER(bob)", &c, err), QSG_OK);
	assert_int_equal(parse("DISPLAY USER(*) ALL", &c, err), QSG_OK);
	assert_true(c.generic);
	assert_int_equal(parse("DIS USER(A*) WHERE(GROUPS LK APPS*)", &c, err), QSG_OK);
	/* Refused, and the password never appears in the message. */
	const char *bad[] = {
	    "DEFINE USER(a)", /* no password */
	    "DEFINE USER(a) PASSWORD('" PW "') NOREPLACE REPLACE", /* both */
	    "ALTER USER(a)", /* nothing */
	    "DEFINE USER(a) PASSWORD('" PW "') GROUPS(g,G)", /* twice */
	    "DEFINE USER(a) PASSWORD('" PW "') GROUPS(a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q)",
	    "DEFINE USER(a) PASSWORD('" PW "') GROUPS('bad group!')",
	    "DEFINE USER(a) PASSWORD('" PW "') MAXDEPTH(5)",
	    "DEFINE USER(a) PASSWORD",
	    "DELETE USER(a) PASSWORD('" PW "')",
	    "DEFINE USER('a b') PASSWORD('" PW "')",
	    "DEFINE USER(a) PASSWORD('" PW "') CMDSCOPE(*)",
	    "DEFINE USER(a) PASSWORD('" PW "') DESCR('"
	    "0123456789012345678901234567890123456789012345678901234567890123456789')",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i], &c, err);
		if (rc == QSG_OK)
			fail_msg("accepted: %s", bad[i]);
		assert_null(strstr(err, PW));
		assert_true(err[0] != '\0');
	}
}

/* ---- executor ---------------------------------------------------------- */

struct harness {
	struct fsm *fsm;
	struct admin_env env;
	int64_t now;
	int hashes; /* calls of hash_password */
	bool seen_pw_in_entry; /* the password bytes reached a log entry */
	int rc;
	char text[512];
	char objs[4096];
};

static int fake_submit(void *arg, const struct fsm_cmd *cmd, admin_submit_cb cb, void *cbarg)
{
	struct harness *h = arg;
	struct qsg_wbuf c, e, res;
	char err[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&c);
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&res);
	assert_int_equal(fsm_cmd_encode(cmd, &c), QSG_OK);
	h->now += 1000;
	fsm_entry_begin(&e, h->now);
	fsm_entry_add(&e, c.data, c.len);
	if (memmem(e.data, e.len, PW, strlen(PW)) != NULL)
		h->seen_pw_in_entry = true;
	assert_int_equal(fsm_apply(h->fsm, e.data, e.len, &res, err), QSG_OK);
	cb(cbarg, QSG_OK, res.data + 4, res.len - 4);
	qsg_wbuf_close(&c);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&res);
	return QSG_OK;
}

static int fake_hash(void *arg, const char *password, size_t len,
		     void (*done)(void *cbarg, int rc, const struct fsm_user *cred), void *cbarg)
{
	struct harness *h = arg;
	struct pwhash ph;
	struct fsm_user u;
	memset(&u, 0, sizeof u);
	h->hashes++;
	assert_int_equal(pwhash_make(password, len, PWHASH_ITER_MIN, &ph, NULL), QSG_OK);
	u.scheme = FSM_CRED_PBKDF2_SHA256;
	u.iterations = ph.iterations;
	memcpy(u.salt, ph.salt, sizeof u.salt);
	memcpy(u.hash, ph.hash, sizeof u.hash);
	done(cbarg, QSG_OK, &u); /* synchronous here; qsgd's is in the thread pool */
	return QSG_OK;
}

static void on_done(void *arg, int rc, const char *text, struct proto_admin_writer *objects)
{
	struct harness *h = arg;
	struct proto_resp resp;
	h->rc = rc;
	snprintf(h->text, sizeof h->text, "%s", text);
	h->objs[0] = '\0';
	memset(&resp, 0, sizeof resp);
	proto_admin_to_resp(objects, &resp);
	size_t cur = 0, n;
	struct proto_attr at[16];
	while (proto_admin_next(&resp, &cur, at, 16, &n) == 1) {
		for (size_t i = 0; i < n && i < 16; i++) {
			size_t l = strlen(h->objs);
			snprintf(h->objs + l, sizeof h->objs - l, "%.*s(%.*s) ",
				 (int)at[i].name.len, (const char *)at[i].name.p,
				 (int)at[i].value.len, (const char *)at[i].value.p);
		}
		strncat(h->objs, "| ", sizeof h->objs - strlen(h->objs) - 1);
	}
}

static int run(struct harness *h, const char *cmd)
{
	h->rc = -1;
	admin_exec(&h->env, cmd, strlen(cmd), on_done, h);
	return h->rc;
}

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof *h);
	char err[QSG_ERRMSG_SIZE];
	assert_int_equal(fsm_init(&h->fsm, err), QSG_OK);
	h->env.arg = h;
	h->env.fsm = h->fsm;
	h->env.qmgr_name = "QM1";
	h->env.group_name = "QSG1";
	h->env.member_id = 1;
	h->env.submit = fake_submit;
	h->env.hash_password = fake_hash;
	h->now = 1767225600000; /* 2026-01-01 00:00:00 UTC */
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;
	fsm_close(h->fsm);
	free(h);
	return 0;
}

static void exec_user(void **state)
{
	struct harness *h = *state;
	assert_int_equal(run(h, "DEFINE USER('alice') PASSWORD('" PW "') GROUPS(apps,ops) "
				"DESCR('Alice')"),
			 QSG_OK);
	assert_string_equal(h->text, "QSG0008I: USER(ALICE) defined.");
	assert_int_equal(h->hashes, 1);
	assert_false(h->seen_pw_in_entry);
	struct fsm_user u;
	assert_int_equal(fsm_user_get(h->fsm, "ALICE", &u), QSG_OK);
	struct pwhash ph = {.iterations = u.iterations};
	memcpy(ph.salt, u.salt, sizeof ph.salt);
	memcpy(ph.hash, u.hash, sizeof ph.hash);
	assert_true(pwhash_verify(&ph, PW, strlen(PW)));
	assert_int_equal(u.ngroups, 2);
	/* Again: exists (hashed, then refused by the state machine). */
	assert_int_equal(run(h, "DEFINE USER(alice) PASSWORD('x1234567')"), QSG_RC_OBJECT_EXISTS);
	assert_int_equal(h->hashes, 2);
	/* DISPLAY: never the credential. */
	assert_int_equal(run(h, "DISPLAY USER(ALICE) ALL"), QSG_OK);
	assert_string_equal(h->objs, "USER(ALICE) GROUPS(APPS,OPS) DESCR(Alice) "
				     "ALTDATE(2026-01-01) ALTTIME(00.00.01) | ");
	assert_int_equal(run(h, "DISPLAY USER(al*)"), QSG_OK); /* USER always, default all */
	assert_non_null(strstr(h->objs, "GROUPS(APPS,OPS)"));
	assert_null(strstr(h->objs, "PASSWORD"));
	assert_int_equal(run(h, "DISPLAY USER(nobody)"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DISPLAY USER(Z*)"), QSG_OK);
	assert_string_equal(h->objs, "");
	/* ALTER the groups only: the credential stays. */
	assert_int_equal(run(h, "ALTER USER(alice) GROUPS(ops)"), QSG_OK);
	assert_int_equal(h->hashes, 2);
	struct fsm_user u2;
	assert_int_equal(fsm_user_get(h->fsm, "ALICE", &u2), QSG_OK);
	assert_memory_equal(u.hash, u2.hash, sizeof u.hash);
	assert_int_equal(u2.ngroups, 1);
	assert_string_equal(u2.descr, "Alice");
	/* ALTER PASSWORD: a new salt and hash. */
	assert_int_equal(run(h, "ALTER USER(alice) PASSWORD('other pw')"), QSG_OK);
	assert_int_equal(h->hashes, 3);
	assert_int_equal(fsm_user_get(h->fsm, "ALICE", &u2), QSG_OK);
	assert_memory_not_equal(u.salt, u2.salt, sizeof u.salt);
	assert_int_equal(run(h, "ALTER USER(nobody) DESCR('x')"), QSG_RC_UNKNOWN_OBJECT);
	assert_int_equal(run(h, "DELETE USER(alice)"), QSG_OK);
	assert_int_equal(fsm_user_get(h->fsm, "ALICE", &u2), QSG_RC_UNKNOWN_OBJECT);
	/* Without a hash callback, a password cannot be set here. */
	h->env.hash_password = NULL;
	assert_int_equal(run(h, "DEFINE USER(carol) PASSWORD('abcdefgh')"),
			 QSG_RC_FUNCTION_NOT_SUPPORTED);
	assert_null(strstr(h->text, "abcdefgh"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_user),
	    cmocka_unit_test_setup_teardown(exec_user, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
