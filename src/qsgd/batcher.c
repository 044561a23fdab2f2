#include "batcher.h"

#include <stdlib.h>
#include <string.h>

#include "raft-glue/glue.h"

#define STATS_INTERVAL_MS 1000

struct batch_entry {
	struct batcher *b;
	struct qsgd_subq subs; /* commands of this entry, in entry order */
};

struct batcher {
	struct qsgd *d;
	uv_check_t check;
	uv_idle_t idle; /* active while there is work: keeps poll from blocking */
	struct qsgd_subq pending;
	unsigned inflight;
	unsigned nclosed;
	bool closing;
	struct qsg_wbuf buf;
	/* statistics for the debug log */
	uint64_t stat_entries;
	uint64_t stat_cmds;
	uint64_t stat_since;
};

static void batcher_flush(struct batcher *b);

static void idle_cb(uv_idle_t *h)
{
	(void)h; /* only there to make the loop poll with a zero timeout */
}

static void check_cb(uv_check_t *h)
{
	batcher_flush(h->data);
}

static void maybe_free(struct batcher *b)
{
	if (b->closing && b->nclosed == 2 && b->inflight == 0) {
		qsg_wbuf_close(&b->buf);
		free(b);
	}
}

static void kick(struct batcher *b)
{
	if (b->closing)
		return;
	if (b->pending.n > 0 && b->pending.n > 0 && b->inflight < b->d->cfg->max_inflight)
		uv_idle_start(&b->idle, idle_cb);
	else
		uv_idle_stop(&b->idle);
}

int batcher_init(struct batcher **out, struct qsgd *d, char *errmsg)
{
	struct batcher *b = calloc(1, sizeof *b);
	if (b == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	b->d = d;
	qsg_wbuf_init(&b->buf);
	uv_check_init(d->loop, &b->check);
	uv_idle_init(d->loop, &b->idle);
	b->check.data = b;
	b->idle.data = b;
	uv_check_start(&b->check, check_cb);
	b->stat_since = uv_now(d->loop);
	*out = b;
	return QSG_OK;
}

static void stats(struct batcher *b, unsigned ncmds)
{
	b->stat_entries++;
	b->stat_cmds += ncmds;
	uint64_t now = uv_now(b->d->loop);
	if (now - b->stat_since >= STATS_INTERVAL_MS) {
		QLOG_DBG(
		    b->d->log, "QSG2001D",
		    "group commit: %llu entries, %llu commands in %llu ms (%.1f commands/entry)",
		    (unsigned long long)b->stat_entries, (unsigned long long)b->stat_cmds,
		    (unsigned long long)(now - b->stat_since),
		    (double)b->stat_cmds / (double)b->stat_entries);
		b->stat_entries = 0;
		b->stat_cmds = 0;
		b->stat_since = now;
	}
}

static void entry_applied(void *arg, int status, const struct qsg_wbuf *results)
{
	struct batch_entry *e = arg;
	struct batcher *b = e->b;
	struct qsgd_sub *s;
	struct qsg_rbuf r;

	b->inflight--;
	if (status == QSG_OK && results != NULL) {
		qsg_rbuf_init(&r, results->data, results->len);
		while ((s = qsgd_subq_pop(&e->subs)) != NULL) {
			uint32_t len = qsg_get_u32(&r);
			struct qsg_slice res = qsg_get_raw(&r, len);
			if (r.err != QSG_OK) {
				/* The state machine rejected the entry as a whole. */
				qsgd_sub_complete(s, QSG_RC_UNEXPECTED_ERROR, NULL, 0);
				continue;
			}
			qsgd_sub_complete(s, QSG_OK, res.p, res.len);
		}
	} else {
		if (status == QSG_OK)
			status = QSG_RC_UNEXPECTED_ERROR;
		while ((s = qsgd_subq_pop(&e->subs)) != NULL)
			qsgd_sub_complete(s, status, NULL, 0);
	}
	free(e);
	kick(b);
	maybe_free(b);
}

/* MEMBER_LEVEL travels alone in its entry: a member of a build older than
 * command levels rejects that entry as a whole (QSG0010E), and must lose
 * nothing else with it; what it misses is only the level, a field it does
 * not have (docs/lifecycle.md, "Command levels"). The first byte of an
 * encoded command is its op. */
static bool alone(const struct qsgd_sub *s)
{
	return s->len > 0 && s->cmd[0] == FSM_OP_MEMBER_LEVEL;
}

static void batcher_flush(struct batcher *b)
{
	struct qsgd *d = b->d;

	while (!b->closing && b->pending.n > 0 && b->inflight < d->cfg->max_inflight) {
		if (!d->ops->is_leader(d)) {
			batcher_on_role(b, GLUE_FOLLOWER);
			break;
		}
		struct batch_entry *e = calloc(1, sizeof *e);
		if (e == NULL)
			break;
		e->b = b;
		qsg_wbuf_reset(&b->buf);
		fsm_entry_begin(&b->buf, qsgd_group_ms(d));
		while (b->pending.n > 0 && e->subs.n < FSM_MAX_BATCH) {
			struct qsgd_sub *s = b->pending.head;
			if (e->subs.n > 0 &&
			    (b->buf.len + 4 + s->len > d->cfg->max_entry_bytes || alone(s)))
				break;
			s = qsgd_subq_pop(&b->pending);
			fsm_entry_add(&b->buf, s->cmd, s->len);
			qsgd_subq_push(&e->subs, s);
			if (alone(s))
				break;
		}
		unsigned n = (unsigned)e->subs.n;
		int rc = b->buf.err;
		if (rc == QSG_OK)
			rc = d->ops->append(d, b->buf.data, b->buf.len, entry_applied, e);
		if (rc == QSG_OK) {
			b->inflight++;
			stats(b, n);
			continue;
		}
		/* Not submitted: NOT_LEADER means "not applied", so re-route. */
		struct qsgd_sub *s;
		while ((s = qsgd_subq_pop(&e->subs)) != NULL) {
			if (rc == QSG_RC_NOT_LEADER)
				d->ops->hold(d, s);
			else
				qsgd_sub_complete(s, rc, NULL, 0);
		}
		free(e);
		if (rc != QSG_RC_NOT_LEADER)
			QLOG_WARNING(d->log, "QSG2002W",
				     "cannot submit an entry of %u commands: %s", n,
				     qsg_rc_name(rc));
	}
	kick(b);
}

void batcher_add(struct batcher *b, struct qsgd_sub *s)
{
	/* Membership commands (lease renewals, joins, failure declarations)
	 * jump the queue: a backlog of client work must never delay a renewal
	 * past the lease and make a healthy member fence itself. The first
	 * byte of an encoded command is its op. */
	uint8_t op = s->len > 0 ? s->cmd[0] : 0;
	if (op == FSM_OP_LEASE_RENEW || op == FSM_OP_MEMBER_JOIN ||
	    op == FSM_OP_MEMBER_JOIN_BOUNDED || op == FSM_OP_MEMBER_FAIL ||
	    op == FSM_OP_MEMBER_FAIL_BOUNDED || op == FSM_OP_MEMBER_LEVEL) {
		qsgd_subq_push_front(&b->pending, s);
		kick(b);
		return;
	}
	qsgd_subq_push(&b->pending, s);
	kick(b);
}

void batcher_on_role(struct batcher *b, int new_role)
{
	if (new_role == GLUE_LEADER)
		return;
	struct qsgd_subq q = b->pending;
	struct qsgd_sub *s;
	memset(&b->pending, 0, sizeof b->pending);
	while ((s = qsgd_subq_pop(&q)) != NULL)
		b->d->ops->route(b->d, s);
	kick(b);
}

static void closed_cb(uv_handle_t *h)
{
	struct batcher *b = h->data;
	b->nclosed++;
	maybe_free(b);
}

void batcher_close(struct batcher *b)
{
	struct qsgd_sub *s;
	b->closing = true;
	while ((s = qsgd_subq_pop(&b->pending)) != NULL)
		qsgd_sub_complete(s, QSG_RC_Q_MGR_STOPPING, NULL, 0);
	uv_close((uv_handle_t *)&b->check, closed_cb);
	uv_close((uv_handle_t *)&b->idle, closed_cb);
}
