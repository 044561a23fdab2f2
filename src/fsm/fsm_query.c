/* State machine, queries on the local replica: queue and member views,
 * availability for waiters and alias resolution (fsm.h). Callers: the
 * daemon (admin, waiters, metrics) and the tests. */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"

/* --- queries ------------------------------------------------------------- */

static void qinfo(const struct queue *q, struct fsm_qinfo *out)
{
	memset(out, 0, sizeof *out);
	out->attrs = q->attrs;
	out->curdepth = q->curdepth;
	out->uncommitted = q->uncommitted;
	out->opens = q->opens;
	out->puts_total = q->puts_total;
	out->gets_total = q->gets_total;
	for (int p = 0; p < NPRIO; p++) {
		const struct qmsg *m = q->head[p];
		if (m != NULL && (out->oldest_put_ms == 0 || m->put_time_ms < out->oldest_put_ms))
			out->oldest_put_ms = m->put_time_ms;
	}
}

int fsm_queue_info(struct fsm *f, uint32_t scope, const char *name, struct fsm_qinfo *out)
{
	const struct queue *q = queue_find(f, scope, name);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	qinfo(q, out);
	return QSG_OK;
}

int fsm_queue_lookup(struct fsm *f, uint32_t member, const char *name, struct fsm_qinfo *out)
{
	const struct queue *q = queue_lookup(f, member, name);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	qinfo(q, out);
	return QSG_OK;
}

const char *fsm_disp_name(uint8_t disp)
{
	static const char *const names[] = {"", "SHARED", "GROUP", "QMGR", "COPY"};
	return disp <= FSM_DISP_COPY ? names[disp] : "";
}

void fsm_queue_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_qinfo *q), void *arg)
{
	struct queue **v;
	size_t n;
	if (queues_sorted(f, &v, &n) != QSG_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		struct fsm_qinfo info;
		qinfo(v[i], &info);
		if (cb(arg, &info) != 0)
			break;
	}
	free(v);
}

static void member_view(const struct fsm *f, const struct fsm_member *m, struct fsm_member *out)
{
	*out = *m;
	out->sessions = 0;
	for (struct hmap_node *n = hmap_next(&f->sessions, NULL); n != NULL;
	     n = hmap_next(&f->sessions, n)) {
		const struct session *s = (const struct session *)n;
		if (s->attached && s->owner == m->id)
			out->sessions++;
	}
}

void fsm_member_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_member *m), void *arg)
{
	for (size_t i = 0; i < f->nmembers; i++) {
		struct fsm_member m;
		member_view(f, &f->members[i], &m);
		if (cb(arg, &m) != 0)
			break;
	}
}

int fsm_member_get(struct fsm *f, uint32_t id, struct fsm_member *out)
{
	const struct fsm_member *m = member_find(f, id);
	if (m == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	member_view(f, m, out);
	return QSG_OK;
}

uint64_t fsm_entries_applied(struct fsm *f)
{
	return f->entries_applied;
}

int64_t fsm_last_time(struct fsm *f)
{
	return f->last_time;
}

uint32_t fsm_available(struct fsm *f, uint32_t member, const char *queue)
{
	struct queue *q;
	if (queue_resolve(f, member, queue, &q, NULL) != QSG_OK)
		return 0;
	return q->nvisible;
}

int fsm_queue_resolve(struct fsm *f, uint32_t member, const char *name, char *target_out)
{
	struct queue *q, *alias;
	int rc = queue_resolve(f, member, name, &q, &alias);
	if (rc == QSG_OK)
		memcpy(target_out, q->attrs.name, FSM_NAME_MAX + 1);
	else if (rc == QSG_RC_UNKNOWN_ALIAS_BASE_Q)
		memcpy(target_out, alias->attrs.target, FSM_NAME_MAX + 1);
	else
		target_out[0] = '\0';
	return rc;
}
