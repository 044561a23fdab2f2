/* Test harness shared by the state-machine unit tests (fsm_harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm_int.h"
#include "fsm/membodies.h"
#include "fsm_harness.h"

static int add_depth(void *arg, const struct fsm_qinfo *q)
{
	*(uint64_t *)arg += q->curdepth;
	return 0;
}

/* The built-in provider holds the content of exactly the messages of the
 * state and of the garbage fsm_reap has not freed yet: every message that
 * left was released or is pending (true of an fsm that never restored a
 * snapshot). */
void assert_bodies_held(struct fsm *f)
{
	if (f->mem == NULL)
		return;
	uint64_t n = 0;
	fsm_queue_foreach(f, add_depth, &n);
	/* A chunked message holds one piece of content per part received. */
	for (struct hmap_node *h = hmap_next(&f->chunks, NULL); h != NULL;
	     h = hmap_next(&f->chunks, h))
		n += ((struct chunkinfo *)h)->nrecv - 1;
	assert_int_equal(membodies_count(f->mem), n + fsm_reap_pending(f));
}

void on_notify(void *arg, uint32_t scope, const char *queue, uint32_t n)
{
	struct ctx *x = arg;
	x->last_scope = scope;
	x->notified += n;
	strncpy(x->last_queue, queue, FSM_NAME_MAX);
}

int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	assert_int_equal(fsm_init(&x->f, NULL), QSG_OK);
	fsm_set_notify(x->f, on_notify, x);
	qsg_wbuf_init(&x->res);
	x->now = 1000000;
	*state = x;
	return 0;
}

int teardown(void **state)
{
	struct ctx *x = *state;
	assert_bodies_held(x->f);
	fsm_close(x->f);
	qsg_wbuf_close(&x->res);
	for (size_t i = 0; i < x->nlog; i++)
		free(x->log[i]);
	free(x);
	return 0;
}

/* Build a one-command entry at x->now. */
void build(struct ctx *x, const struct fsm_cmd *c, struct qsg_wbuf *e)
{
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(c, &w), QSG_OK);
	fsm_entry_begin(e, x->now);
	fsm_entry_add(e, w.data, w.len);
	assert_int_equal(e->err, QSG_OK);
	qsg_wbuf_close(&w);
}

void apply_entry(struct ctx *x, struct qsg_wbuf *e)
{
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_reset(&x->res);
	assert_int_equal(fsm_apply(x->f, e->data, e->len, &x->res, errmsg), QSG_OK);
	assert_true(x->nlog < MAX_LOG);
	x->log[x->nlog] = malloc(e->len);
	assert_non_null(x->log[x->nlog]);
	memcpy(x->log[x->nlog], e->data, e->len);
	x->loglen[x->nlog++] = e->len;
}

/* Apply one command and decode its result into x->r; returns its rc. */
int exec(struct ctx *x, const struct fsm_cmd *c)
{
	struct qsg_wbuf e;
	qsg_wbuf_init(&e);
	build(x, c, &e);
	apply_entry(x, &e);
	qsg_wbuf_close(&e);
	assert_true(x->res.len >= 4);
	uint32_t len = qsg_le32(x->res.data);
	assert_int_equal(len + 4, x->res.len);
	assert_int_equal(fsm_result_decode(c->op, x->res.data + 4, len, &x->r, NULL), QSG_OK);
	return x->r.rc;
}

int qdefine(struct ctx *x, const char *name, uint32_t set, const struct fsm_qattrs *a,
	    uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_QDEFINE, .flags = flags};
	if (a != NULL)
		c.attrs = *a;
	strcpy(c.attrs.name, name);
	c.attrs.set = set;
	return exec(x, &c);
}

int qsimple(struct ctx *x, uint8_t op, const char *name, uint32_t flags)
{
	struct fsm_cmd c = {.op = op, .flags = flags};
	strcpy(c.queue, name);
	return exec(x, &c);
}

uint64_t attach(struct ctx *x, uint64_t client, uint32_t member)
{
	struct fsm_cmd c = {.op = FSM_OP_ATTACH, .client_id = client, .member_id = member};
	assert_int_equal(exec(x, &c), QSG_OK);
	return x->r.epoch;
}

int sess(struct ctx *x, uint8_t op, uint64_t client, uint64_t epoch, uint64_t seq,
	 const char *queue)
{
	struct fsm_cmd c = {.op = op, .client_id = client, .epoch = epoch, .seq = seq};
	if (queue != NULL)
		strcpy(c.queue, queue);
	return exec(x, &c);
}

int put(struct ctx *x, uint64_t client, uint64_t epoch, uint64_t seq, const char *queue,
	uint32_t flags, uint8_t prio, const char *body, uint8_t idbyte)
{
	struct fsm_cmd c = {
	    .op = FSM_OP_PUT, .client_id = client, .epoch = epoch, .seq = seq, .flags = flags};
	strcpy(c.queue, queue);
	c.msg.priority = prio;
	c.msg.msgid[0] = idbyte;
	c.msg.correlid[0] = (uint8_t)(idbyte + 100);
	c.msg.body.p = (const uint8_t *)body;
	c.msg.body.len = strlen(body);
	return exec(x, &c);
}

int get(struct ctx *x, uint64_t client, uint64_t epoch, const char *queue, uint32_t flags,
	uint8_t idbyte)
{
	struct fsm_cmd c = {.op = FSM_OP_GET, .client_id = client, .epoch = epoch, .flags = flags};
	strcpy(c.queue, queue);
	c.msg.msgid[0] = idbyte;
	c.msg.correlid[0] = (uint8_t)(idbyte + 100);
	return exec(x, &c);
}

void assert_body(struct ctx *x, const char *body)
{
	assert_int_equal(x->r.msg.body.len, strlen(body));
	assert_memory_equal(x->r.msg.body.p, body, strlen(body));
}

struct fsm *snapshot_restored(struct ctx *x)
{
	struct qsg_wbuf s1, s2;
	struct fsm *g;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&s1);
	qsg_wbuf_init(&s2);
	assert_int_equal(fsm_snapshot(x->f, &s1), QSG_OK);
	assert_int_equal(fsm_init(&g, NULL), QSG_OK);
	fsm_bodies_mem_peer(g, x->f); /* g fetches content as a catching-up member */
	assert_int_equal(fsm_restore(g, s1.data, s1.len, errmsg), QSG_OK);
	assert_int_equal(fsm_snapshot(g, &s2), QSG_OK);
	assert_int_equal(s1.len, s2.len);
	assert_memory_equal(s1.data, s2.data, s1.len);
	assert_true(fsm_digest(g) == fsm_digest(x->f));
	qsg_wbuf_close(&s1);
	qsg_wbuf_close(&s2);
	return g;
}

struct fsm_qinfo qi(struct ctx *x, const char *name)
{
	struct fsm_qinfo info;
	assert_int_equal(fsm_queue_info(x->f, 0, name, &info), QSG_OK);
	return info;
}
