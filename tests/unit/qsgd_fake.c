/* The fake daemon core of the batcher, forward and lease unit tests
 * (qsgd_fake.h). */
#include "qsgd_fake.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct fake *fake_of(struct qsgd *d)
{
	return (struct fake *)d;
}

static void f_route(struct qsgd *d, struct qsgd_sub *s)
{
	qsgd_subq_push(&fake_of(d)->routed, s);
}

static void f_hold(struct qsgd *d, struct qsgd_sub *s)
{
	qsgd_subq_push(&fake_of(d)->held, s);
}

static void f_hold_retry(struct qsgd *d)
{
	fake_of(d)->hold_retries++;
}

static int f_submit(struct qsgd *d, const struct fsm_cmd *cmd, qsgd_done_cb cb, void *arg)
{
	struct fake *fk = fake_of(d);
	if (fk->submit_rc != QSG_OK)
		return fk->submit_rc;
	if (fk->submit_now_rc != QSG_OK) {
		cb(arg, fk->submit_now_rc, NULL, 0);
		return QSG_OK;
	}
	assert_true(fk->ncmds < FAKE_MAX);
	struct fake_cmd *c = &fk->cmds[fk->ncmds++];
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(cmd, &w), QSG_OK);
	c->enc = qsg_wbuf_take(&w, &c->len);
	c->cmd = *cmd;
	c->cb = cb;
	c->arg = arg;
	c->done = false;
	return QSG_OK;
}

static bool f_is_leader(struct qsgd *d)
{
	return fake_of(d)->leader;
}

static int f_append(struct qsgd *d, const void *buf, size_t len,
		    void (*cb)(void *arg, int status, const struct qsg_wbuf *results), void *arg)
{
	struct fake *fk = fake_of(d);
	if (fk->append_rc != QSG_OK)
		return fk->append_rc;
	assert_true(fk->nentries < FAKE_MAX);
	struct fake_entry *e = &fk->entries[fk->nentries++];
	e->buf = malloc(len);
	memcpy(e->buf, buf, len);
	e->len = len;
	e->cb = cb;
	e->arg = arg;
	e->done = false;
	return QSG_OK;
}

static void f_info(struct qsgd *d, struct glue_info *info)
{
	*info = fake_of(d)->info;
}

static size_t f_config(struct qsgd *d, struct glue_member *out, size_t max)
{
	struct fake *fk = fake_of(d);
	size_t n = fk->nvoters < max ? fk->nvoters : max;
	memcpy(out, fk->voters, n * sizeof *out);
	return n;
}

static void f_set_fenced(struct qsgd *d, bool fenced, bool channels)
{
	struct fake *fk = fake_of(d);
	fk->fenced = fenced;
	fk->fence_calls++;
	fk->fence_channels = channels;
}

static const struct qsgd_ops fake_ops = {
    .route = f_route,
    .hold = f_hold,
    .hold_retry = f_hold_retry,
    .submit = f_submit,
    .is_leader = f_is_leader,
    .append = f_append,
    .info = f_info,
    .config = f_config,
    .set_fenced = f_set_fenced,
};

void fake_init(struct fake *fk, unsigned n_members, uint32_t self, int port)
{
	char errmsg[QSG_ERRMSG_SIZE];
	memset(fk, 0, sizeof *fk);
	assert_int_equal(uv_loop_init(&fk->loop), 0);
	qsgd_config_defaults(&fk->cfg);
	qlog_init(&fk->log, stderr, "TEST", getenv("QSG_TEST_DEBUG") ? QLOG_DEBUG : QLOG_ERROR);
	for (unsigned i = 0; i < n_members; i++) {
		struct qsgd_member_cfg *m = &fk->cfg.members[i];
		snprintf(m->name, sizeof m->name, "QM%u", i + 1);
		m->id = i + 1;
		snprintf(m->raft, sizeof m->raft, "127.0.0.1:%d", port + 100 + (int)i + 1);
		snprintf(m->listen, sizeof m->listen, "127.0.0.1:%d", port + (int)i + 1);
	}
	fk->cfg.n_members = n_members;
	fk->cfg.id = self;
	snprintf(fk->cfg.name, sizeof fk->cfg.name, "QM%u", self);
	snprintf(fk->cfg.group, sizeof fk->cfg.group, "QSG");
	snprintf(fk->cfg.raft, sizeof fk->cfg.raft, "127.0.0.1:%d", port + 100 + (int)self);
	snprintf(fk->cfg.listen, sizeof fk->cfg.listen, "127.0.0.1:%d", port + (int)self);
	fk->d.loop = &fk->loop;
	fk->d.cfg = &fk->cfg;
	fk->d.log = &fk->log;
	fk->d.ops = &fake_ops;
	fk->d.cmdlevel = FSM_CMDLEVEL;
	assert_int_equal(fsm_init(&fk->d.fsm, errmsg), QSG_OK);
	fk->fenced = -1;
	fk->now = qsgd_wall_ms();
}

void fake_close(struct fake *fk)
{
	struct qsgd_sub *s;
	while ((s = qsgd_subq_pop(&fk->routed)) != NULL)
		qsgd_sub_complete(s, QSG_RC_OUTCOME_UNKNOWN, NULL, 0);
	while ((s = qsgd_subq_pop(&fk->held)) != NULL)
		qsgd_sub_complete(s, QSG_RC_OUTCOME_UNKNOWN, NULL, 0);
	for (size_t i = 0; i < fk->nentries; i++) {
		if (!fk->entries[i].done)
			fake_fail_entry(fk, i, QSG_RC_OUTCOME_UNKNOWN);
		free(fk->entries[i].buf);
	}
	for (size_t i = 0; i < fk->ncmds; i++) {
		if (!fk->cmds[i].done)
			fake_cmd_fail(fk, i, QSG_RC_OUTCOME_UNKNOWN);
		free(fk->cmds[i].enc);
	}
	uv_run(&fk->loop, UV_RUN_DEFAULT);
	fsm_close(fk->d.fsm);
	assert_int_equal(uv_loop_close(&fk->loop), 0);
}

void fake_commit(struct fake *fk, size_t i)
{
	struct fake_entry *e = &fk->entries[i];
	struct qsg_wbuf res;
	char errmsg[QSG_ERRMSG_SIZE];
	assert_false(e->done);
	qsg_wbuf_init(&res);
	assert_int_equal(fsm_apply(fk->d.fsm, e->buf, e->len, &res, errmsg), QSG_OK);
	e->done = true;
	e->cb(e->arg, QSG_OK, &res);
	qsg_wbuf_close(&res);
}

void fake_fail_entry(struct fake *fk, size_t i, int status)
{
	struct fake_entry *e = &fk->entries[i];
	assert_false(e->done);
	e->done = true;
	e->cb(e->arg, status, NULL);
}

uint32_t fake_entry_count(const struct fake *fk, size_t i)
{
	struct fsm_entry_reader er;
	assert_int_equal(fsm_entry_read_begin(&er, fk->entries[i].buf, fk->entries[i].len, NULL),
			 QSG_OK);
	return er.count;
}

uint8_t fake_entry_op(const struct fake *fk, size_t i, uint32_t k)
{
	struct fsm_entry_reader er;
	struct qsg_slice c = {0};
	assert_int_equal(fsm_entry_read_begin(&er, fk->entries[i].buf, fk->entries[i].len, NULL),
			 QSG_OK);
	assert_true(k < er.count);
	for (uint32_t j = 0; j <= k; j++)
		assert_int_equal(fsm_entry_read_next(&er, &c, NULL), QSG_OK);
	return c.p[0];
}

static int apply_one(struct fake *fk, const void *cmd, size_t len, struct qsg_wbuf *res)
{
	struct qsg_wbuf e;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&e);
	int64_t last = fsm_last_time(fk->d.fsm);
	fsm_entry_begin(&e, fk->now > last ? fk->now : last);
	fsm_entry_add(&e, cmd, len);
	int rc = fsm_apply(fk->d.fsm, e.data, e.len, res, errmsg);
	qsg_wbuf_close(&e);
	return rc;
}

void fake_cmd_apply(struct fake *fk, size_t i)
{
	struct fake_cmd *c = &fk->cmds[i];
	struct qsg_wbuf res;
	assert_false(c->done);
	qsg_wbuf_init(&res);
	assert_int_equal(apply_one(fk, c->enc, c->len, &res), QSG_OK);
	c->done = true;
	/* results: u32 len + bytes per command */
	assert_true(res.len >= 4);
	c->cb(c->arg, QSG_OK, res.data + 4, res.len - 4);
	qsg_wbuf_close(&res);
}

void fake_cmd_fail(struct fake *fk, size_t i, int status)
{
	struct fake_cmd *c = &fk->cmds[i];
	assert_false(c->done);
	c->done = true;
	c->cb(c->arg, status, NULL, 0);
}

int fake_apply(struct fake *fk, const struct fsm_cmd *cmd)
{
	struct qsg_wbuf w, res;
	struct fsm_result r;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	qsg_wbuf_init(&res);
	assert_int_equal(fsm_cmd_encode(cmd, &w), QSG_OK);
	assert_int_equal(apply_one(fk, w.data, w.len, &res), QSG_OK);
	assert_int_equal(fsm_result_decode(cmd->op, res.data + 4, res.len - 4, &r, errmsg), QSG_OK);
	qsg_wbuf_close(&w);
	qsg_wbuf_close(&res);
	return r.rc;
}

void done_record(void *arg, int status, const void *result, size_t len)
{
	struct done_rec *d = arg;
	d->calls++;
	d->status = status;
	d->len = len < sizeof d->result ? len : sizeof d->result;
	if (result != NULL)
		memcpy(d->result, result, d->len);
}

struct qsgd_sub *fake_sub(const struct fsm_cmd *cmd, struct done_rec *out)
{
	struct qsg_wbuf w;
	struct qsgd_sub *s = calloc(1, sizeof *s);
	assert_non_null(s);
	qsg_wbuf_init(&w);
	assert_int_equal(fsm_cmd_encode(cmd, &w), QSG_OK);
	s->cmd = qsg_wbuf_take(&w, &s->len);
	s->cb = done_record;
	s->arg = out;
	return s;
}

void fake_spin(struct fake *fk)
{
	uv_run(&fk->loop, UV_RUN_NOWAIT);
}

static void stop_cb(uv_timer_t *t)
{
	uv_stop(t->loop);
}

void fake_run_ms(struct fake *fk, uint64_t ms)
{
	uv_timer_t t;
	uv_timer_init(&fk->loop, &t);
	uv_timer_start(&t, stop_cb, ms, 0);
	uv_run(&fk->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&fk->loop, UV_RUN_NOWAIT);
}
