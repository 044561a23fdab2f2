/* The state machine's invariant checks (src/fsm/fsm_check.c, QSG_ASSERT):
 * they hold after a long mixed workload (puts, gets, syncpoint, commits,
 * backouts, expiry, an indexed queue, a backout queue, a snapshot round
 * trip), and they fail, aborting with the place and the expression, when an
 * internal counter is broken on purpose (in a child process, through the
 * internal header: no production code is changed for the test). This
 * program links libqsgfsm_checked.la (tests/unit/fsm.mk). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsm/fsm_int.h"
#include "fsm_harness.h"

#define NCLIENT 3

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct client {
	uint64_t id, epoch, put_seq, uows;
};

/* Queues A (plain), B (indexed by msgid, backout threshold to C), C. */
static void define_queues(struct ctx *x)
{
	struct fsm_qattrs a = {.maxdepth = 100000};
	assert_int_equal(qdefine(x, "A", FSM_QA_MAXDEPTH, &a, 0), QSG_OK);
	struct fsm_qattrs b = {.maxdepth = 100000, .indxtype = FSM_INDX_MSGID, .bothresh = 2};
	strcpy(b.boqname, "C");
	assert_int_equal(
	    qdefine(x, "B", FSM_QA_MAXDEPTH | FSM_QA_INDXTYPE | FSM_QA_BOTHRESH | FSM_QA_BOQNAME,
		    &b, 0),
	    QSG_OK);
	assert_int_equal(qdefine(x, "C", FSM_QA_MAXDEPTH, &a, 0), QSG_OK);
}

static void random_cmd(uint64_t *s, struct client *cl, struct fsm_cmd *c)
{
	static const char *const qs[] = {"A", "B", "C"};
	struct client *k = &cl[rnd(s) % NCLIENT];
	memset(c, 0, sizeof *c);
	c->client_id = k->id;
	c->epoch = k->epoch;
	strcpy(c->queue, qs[rnd(s) % 3]);
	switch (rnd(s) % 8) {
	case 0:
	case 1:
	case 2:
		c->op = FSM_OP_PUT;
		c->seq = ++k->put_seq;
		c->flags = rnd(s) % 2 ? FSM_F_SYNCPOINT : 0;
		c->msg.priority = (uint8_t)(rnd(s) % 10);
		c->msg.msgid[0] = (uint8_t)(rnd(s) % 8);
		c->msg.expiry_ms = rnd(s) % 5 == 0 ? 50 : 0;
		c->msg.body.p = (const uint8_t *)"body";
		c->msg.body.len = 4;
		break;
	case 3:
	case 4:
		c->op = FSM_OP_GET;
		c->flags = rnd(s) % 2 ? FSM_F_SYNCPOINT : 0;
		if (rnd(s) % 3 == 0) {
			c->flags |= FSM_F_MATCH_MSGID;
			c->msg.msgid[0] = (uint8_t)(rnd(s) % 8);
		}
		break;
	case 5:
		c->op = FSM_OP_COMMIT;
		c->seq = ++k->uows;
		break;
	case 6:
		c->op = FSM_OP_BACKOUT;
		break;
	default:
		c->op = FSM_OP_EXPIRE;
		c->seq = 1000000;
		break;
	}
}

static void run_workload(struct ctx *x, unsigned entries)
{
	struct client cl[NCLIENT];
	uint64_t s = 0x9e3779b97f4a7c15ull;
	define_queues(x);
	for (unsigned i = 0; i < NCLIENT; i++) {
		cl[i] = (struct client){.id = 100 + i};
		cl[i].epoch = attach(x, cl[i].id, 1);
	}
	struct qsg_wbuf e, w;
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&w);
	for (unsigned n = 0; n < entries; n++) {
		x->now += 10;
		qsg_wbuf_reset(&e);
		fsm_entry_begin(&e, x->now);
		unsigned ncmd = 1 + (unsigned)(rnd(&s) % 8);
		for (unsigned i = 0; i < ncmd; i++) {
			struct fsm_cmd c;
			random_cmd(&s, cl, &c);
			qsg_wbuf_reset(&w);
			assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
			fsm_entry_add(&e, w.data, w.len);
		}
		assert_int_equal(e.err, QSG_OK);
		assert_int_equal(fsm_apply(x->f, e.data, e.len, NULL, NULL), QSG_OK);
		assert_true(state_check(x->f) > 0);
	}
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&w);
}

static void test_workload_keeps_invariants(void **state)
{
	struct ctx *x = *state;
	run_workload(x, 3000);
	struct fsm_qinfo a = qi(x, "A"), b = qi(x, "B");
	assert_true(a.puts_total + b.puts_total > 0);
	assert_true(a.gets_total + b.gets_total > 0);
	struct fsm *g = snapshot_restored(x);
	assert_true(state_check(g) > 0);
	fsm_close(g);
}

/* Run state_check in a child after breaking the state with `how`; the child
 * must abort and say which expression failed. */
static void expect_abort(struct ctx *x, void (*how)(struct fsm *f), const char *expr)
{
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 2);
		how(x->f);
		(void)state_check(x->f);
		_exit(0); /* not reached when the check works */
	}
	close(fd[1]);
	char buf[1024];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof buf - 1 && (k = read(fd[0], buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	close(fd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	assert_non_null(strstr(buf, "fsm_check.c:"));
	assert_non_null(strstr(buf, "assertion failed: "));
	assert_non_null(strstr(buf, expr));
}

static void break_curdepth(struct fsm *f)
{
	queue_find(f, 0, "A")->curdepth++;
}

static void break_nvisible(struct fsm *f)
{
	queue_find(f, 0, "A")->nvisible--;
}

static void break_uow_count(struct fsm *f)
{
	for (const struct hmap_node *h = hmap_next(&f->sessions, NULL); h != NULL;
	     h = hmap_next(&f->sessions, h))
		((struct session *)h)->uow_count++;
}

static void break_order(struct fsm *f)
{
	struct queue *q = queue_find(f, 0, "A");
	q->head[4]->seqno = q->tail[4]->seqno + 1;
}

static void break_members(struct fsm *f)
{
	f->members[1].id = f->members[0].id;
}

/* The descriptor's canonical form (fsm_desc.c): A's first message has an
 * extension (the harness's msgid and correlid). */
static void break_ext_default(struct fsm *f)
{
	struct qmsg_ext *x = queue_find(f, 0, "A")->head[4]->x;
	memset(x->msgid, 0, FSM_ID_LEN);
	memset(x->correlid, 0, FSM_ID_LEN);
}

static void break_genid_stored(struct fsm *f)
{
	struct qmsg *m = queue_find(f, 0, "A")->head[4];
	msgid_gen(m->x->msgid, m->seqno, m->put_time_ms);
}

/* Two messages of one seqno: the held put given A's first seqno. */
static void break_dup_seqno(struct fsm *f)
{
	for (const struct hmap_node *h = hmap_next(&f->sessions, NULL); h != NULL;
	     h = hmap_next(&f->sessions, h))
		if (((struct session *)h)->uow_head != NULL)
			((struct session *)h)->uow_head->seqno =
			    queue_find(f, 0, "A")->head[4]->seqno;
}

static void test_check_detects_broken_state(void **state)
{
	struct ctx *x = *state;
	define_queues(x);
	struct fsm_cmd j = {.op = FSM_OP_MEMBER_JOIN, .member_id = 1};
	strcpy(j.name, "QM1");
	assert_int_equal(exec(x, &j), QSG_OK);
	j.member_id = 2;
	strcpy(j.name, "QM2");
	assert_int_equal(exec(x, &j), QSG_OK);
	uint64_t ep = attach(x, 7, 1);
	assert_int_equal(put(x, 7, ep, 1, "A", 0, 4, "one", 1), QSG_OK);
	assert_int_equal(put(x, 7, ep, 2, "A", 0, 4, "two", 2), QSG_OK);
	assert_int_equal(put(x, 7, ep, 3, "A", FSM_F_SYNCPOINT, 4, "held", 3), QSG_OK);
	assert_true(state_check(x->f) > 0); /* sound before */
	expect_abort(x, break_curdepth, "q->curdepth == nvis + q->uncommitted");
	expect_abort(x, break_nvisible, "q->nvisible == nvis");
	expect_abort(x, break_uow_count, "s->uow_count == n");
	expect_abort(x, break_order, "prev->seqno < m->seqno");
	expect_abort(x, break_members, "f->members[i - 1].id < f->members[i].id");
	assert_non_null(queue_find(x->f, 0, "A")->head[4]->x);
	expect_abort(x, break_ext_default, "x->backout_count != 0");
	expect_abort(x, break_genid_stored, "memcmp(x->msgid, gen, FSM_ID_LEN) != 0");
	expect_abort(x, break_dup_seqno, "seqnos_unique(v.m, v.n, &dup) != QSG_RC_BAD_FRAME");
	assert_true(state_check(x->f) > 0); /* the parent's state is untouched */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_workload_keeps_invariants, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_detects_broken_state, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
