/* The submission path (daemon.h): leader -> batcher, follower -> forward,
 * else hold. */
#include "daemon.h"

#include <stdlib.h>
#include <string.h>

#include "batcher.h"
#include "forward.h"
#include "raft-glue/glue.h"

#define HOLD_TICK_MS 50

static void hold_tick(uv_timer_t *t)
{
	struct qsgd *d = t->data;
	qsgd_hold_retry(d);
}

void qsgd_core_init(struct qsgd *d, uv_loop_t *loop, const struct qsgd_config *cfg,
		    struct qlog *log)
{
	memset(d, 0, sizeof *d);
	d->loop = loop;
	d->cfg = cfg;
	d->log = log;
	d->cmdlevel = FSM_CMDLEVEL;
	gtime_init(&d->gtime);
	uv_timer_init(loop, &d->hold_timer);
	d->hold_timer.data = d;
}

void qsgd_core_close(struct qsgd *d)
{
	struct qsgd_sub *s;
	while ((s = qsgd_subq_pop(&d->held)) != NULL)
		qsgd_sub_complete(s, QSG_RC_Q_MGR_STOPPING, NULL, 0);
	uv_close((uv_handle_t *)&d->hold_timer, NULL);
}

void qsgd_hold(struct qsgd *d, struct qsgd_sub *s)
{
	if (d->stopping) {
		qsgd_sub_complete(s, QSG_RC_Q_MGR_STOPPING, NULL, 0);
		return;
	}
	if (s->hold_deadline == 0)
		s->hold_deadline = uv_now(d->loop) + d->cfg->leader_wait_ms;
	qsgd_subq_push(&d->held, s);
	if (!uv_is_active((uv_handle_t *)&d->hold_timer))
		uv_timer_start(&d->hold_timer, hold_tick, HOLD_TICK_MS, HOLD_TICK_MS);
}

void qsgd_hold_retry(struct qsgd *d)
{
	/* Take the whole list first: route() may hold some of them again. */
	struct qsgd_subq q = d->held;
	uint64_t now = uv_now(d->loop);
	struct qsgd_sub *s;

	memset(&d->held, 0, sizeof d->held);
	while ((s = qsgd_subq_pop(&q)) != NULL) {
		if (now >= s->hold_deadline)
			qsgd_sub_complete(s, QSG_RC_NO_LEADER, NULL, 0);
		else
			qsgd_route(d, s);
	}
	if (d->held.n == 0)
		uv_timer_stop(&d->hold_timer);
}

void qsgd_route(struct qsgd *d, struct qsgd_sub *s)
{
	if (d->stopping) {
		qsgd_sub_complete(s, QSG_RC_Q_MGR_STOPPING, NULL, 0);
		return;
	}
	if (glue_is_leader(d->glue)) {
		batcher_add(d->batcher, s);
		return;
	}
	if (s->leader_only) {
		qsgd_sub_complete(s, QSG_RC_NOT_LEADER, NULL, 0);
		return;
	}
	if (forward_ready(d->forward)) {
		forward_send(d->forward, s);
		return;
	}
	qsgd_hold(d, s);
}

int qsgd_submit_raw(struct qsgd *d, const void *cmd, size_t len, bool leader_only, qsgd_done_cb cb,
		    void *arg)
{
	if (d->stopping)
		return QSG_RC_Q_MGR_STOPPING;
	struct qsgd_sub *s = calloc(1, sizeof *s);
	uint8_t *copy = malloc(len > 0 ? len : 1);
	if (s == NULL || copy == NULL) {
		free(s);
		free(copy);
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	memcpy(copy, cmd, len);
	s->cmd = copy;
	s->len = len;
	s->cb = cb;
	s->arg = arg;
	s->leader_only = leader_only;
	if (!leader_only && d->stats != NULL) {
		s->stats = d->stats;
		s->submit_ns = uv_hrtime();
	}
	qsgd_route(d, s);
	return QSG_OK;
}

int qsgd_level_check(struct qsgd *d, const struct fsm_cmd *cmd)
{
	if (cmd->op == FSM_OP_MEMBER_LEVEL || d->fsm == NULL)
		return QSG_OK;
	unsigned need = fsm_cmd_level(cmd);
	if (need > FSM_CMDLEVEL_MIN && need > fsm_group_cmdlevel(d->fsm))
		return QSG_RC_FUNCTION_NOT_SUPPORTED;
	return QSG_OK;
}

int qsgd_submit(struct qsgd *d, const struct fsm_cmd *cmd, qsgd_done_cb cb, void *arg)
{
	if (d->stopping)
		return QSG_RC_Q_MGR_STOPPING;
	int lrc = qsgd_level_check(d, cmd);
	if (lrc != QSG_OK)
		return lrc;
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	int rc = fsm_cmd_encode(cmd, &w);
	if (rc == QSG_OK && w.err != QSG_OK)
		rc = w.err;
	if (rc != QSG_OK) {
		qsg_wbuf_close(&w);
		return rc;
	}
	struct qsgd_sub *s = calloc(1, sizeof *s);
	if (s == NULL) {
		qsg_wbuf_close(&w);
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	s->cmd = qsg_wbuf_take(&w, &s->len);
	s->cb = cb;
	s->arg = arg;
	if (d->stats != NULL) {
		s->stats = d->stats;
		s->submit_ns = uv_hrtime();
	}
	qsgd_route(d, s);
	return QSG_OK;
}
