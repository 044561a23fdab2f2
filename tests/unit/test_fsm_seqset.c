/* Unit tests of the seqno uniqueness check of restore (src/fsm/seqset.h,
 * fsm_restore_decode): a snapshot with two descriptors of one seqno is
 * refused as corrupt, never installed, in the current format and in an
 * older one, whether the two are on two queues or on a queue and in a unit
 * of work; and seqnos_unique itself on both of its paths (bitmap, hash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm_int.h"
#include "fsm/seqset.h"
#include "fsm_harness.h"

/* The first message of queue `name` (SHARED), by priority 0. */
static struct qmsg *first_of(struct ctx *x, const char *name)
{
	struct queue *q = queue_find(x->f, 0, name);
	assert_non_null(q);
	for (int p = NPRIO - 1; p >= 0; p--)
		if (q->head[p] != NULL)
			return q->head[p];
	fail_msg("queue %s is empty", name);
	return NULL;
}

/* Snapshot f in `version` (0: the current one) and restore it into a new
 * state: the restore's reason code, errmsg in msg. */
static int snap_restore(struct fsm *f, uint8_t version, char *msg)
{
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	if (version == 0)
		assert_int_equal(fsm_snapshot(f, &w), QSG_OK);
	else
		assert_int_equal(fsm_snapshot_format(f, &w, version), QSG_OK);
	struct fsm *g;
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	int rc = fsm_restore(g, w.data, w.len, msg);
	if (rc != QSG_OK) {
		/* Refused: g is as it was, empty. */
		struct fsm_qinfo info;
		assert_int_not_equal(fsm_queue_info(g, 0, "A", &info), QSG_OK);
	}
	fsm_close(g);
	qsg_wbuf_close(&w);
	return rc;
}

/* Two queues, a message on each; B's descriptor given A's seqno. */
static void dup_on_two_queues(void **state)
{
	struct ctx *x = *state;
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "A", 0), QSG_OK);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "B", 0), QSG_OK);
	assert_int_equal(put(x, 1, ep, 1, "A", 0, 0, "a", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 2, "B", 0, 0, "b", 2), QSG_OK);
	char msg[QSG_ERRMSG_SIZE];
	/* Sound: restores. */
	assert_int_equal(snap_restore(x->f, 0, msg), QSG_OK);
	struct qmsg *a = first_of(x, "A"), *b = first_of(x, "B");
	uint64_t keep = b->seqno;
	b->seqno = a->seqno;
	assert_int_equal(snap_restore(x->f, 0, msg), QSG_RC_BAD_FRAME);
	assert_non_null(strstr(msg, "two messages of seqno"));
	assert_int_equal(snap_restore(x->f, 5, msg), QSG_RC_BAD_FRAME);
	assert_non_null(strstr(msg, "two messages of seqno"));
	b->seqno = keep; /* teardown checks the provider against the state */
}

/* A visible message and a held one (a unit of work) of one seqno. */
static void dup_queue_and_uow(void **state)
{
	struct ctx *x = *state;
	uint64_t ep = attach(x, 1, 1);
	assert_int_equal(qsimple(x, FSM_OP_QDEFINE, "A", 0), QSG_OK);
	assert_int_equal(put(x, 1, ep, 1, "A", 0, 0, "a", 1), QSG_OK);
	assert_int_equal(put(x, 1, ep, 2, "A", FSM_F_SYNCPOINT, 0, "held", 2), QSG_OK);
	char msg[QSG_ERRMSG_SIZE];
	assert_int_equal(snap_restore(x->f, 0, msg), QSG_OK);
	struct qmsg *a = first_of(x, "A");
	struct session *s = NULL;
	struct fsm_cmd c = {.client_id = 1, .epoch = ep};
	assert_int_equal(session_check(x->f, &c, &s), QSG_OK);
	assert_non_null(s->uow_head);
	uint64_t keep = s->uow_head->seqno;
	s->uow_head->seqno = a->seqno;
	assert_int_equal(snap_restore(x->f, 0, msg), QSG_RC_BAD_FRAME);
	assert_non_null(strstr(msg, "two messages of seqno"));
	s->uow_head->seqno = keep;
}

/* seqnos_unique on its own: close seqnos (bitmap) and spread ones (hash). */
static void unique_both_paths(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct qmsg *d = calloc(N, sizeof *d);
	struct qmsg **m = calloc(N, sizeof *m);
	assert_non_null(d);
	assert_non_null(m);
	for (size_t i = 0; i < N; i++)
		m[i] = &d[i];
	uint64_t dup = 0;
	for (int spread = 0; spread < 2; spread++) {
		/* Descending, so that no path relies on order. */
		for (size_t i = 0; i < N; i++)
			d[i].seqno = spread ? (N - i) * 1000003ull + 7 : 5000 + (N - i);
		assert_int_equal(seqnos_unique(m, N, &dup), QSG_OK);
		d[N - 1].seqno = d[17].seqno;
		dup = 0;
		assert_int_equal(seqnos_unique(m, N, &dup), QSG_RC_BAD_FRAME);
		assert_int_equal(dup, d[17].seqno);
	}
	/* The extremes of the range, and tiny sets. */
	d[0].seqno = 1;
	d[1].seqno = UINT64_MAX;
	assert_int_equal(seqnos_unique(m, 2, &dup), QSG_OK);
	d[1].seqno = 1;
	assert_int_equal(seqnos_unique(m, 2, &dup), QSG_RC_BAD_FRAME);
	assert_int_equal(seqnos_unique(m, 1, &dup), QSG_OK);
	assert_int_equal(seqnos_unique(m, 0, &dup), QSG_OK);
	free(m);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(dup_on_two_queues, setup, teardown),
	    cmocka_unit_test_setup_teardown(dup_queue_and_uow, setup, teardown),
	    cmocka_unit_test(unique_both_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
