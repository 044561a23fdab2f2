/* State machine, snapshots: the canonical snapshot (same state => same
 * bytes), restore into a fresh state that replaces the old one only when
 * the whole snapshot decodes, and the digest. Internal to src/fsm; the
 * entry points are in fsm.h. */
#include <stdlib.h>
#include <string.h>

#include "fsm_snap.h"

#include "seqset.h"
#include "sorted.h"

/* --- snapshot ------------------------------------------------------------ */

#define UOW_HELD_PUT 1
#define UOW_LOCKED_GET 2
#define UOW_XFER_GET 3 /* format 4: a chunked message got outside syncpoint */
#define UOW_XFER_PUT 4 /* format 4: a chunked put outside syncpoint */

/* Format 8: after an SDR entry's locked messages, per list entry: u8
 * leaving, u32 count of its parked messages, and if any: queue name, u32
 * scope, the messages in get order. */
static void snap_parks(const struct fsm *f, struct snapw *sw, const struct chst *e)
{
	struct qsg_wbuf *out = sw->out;
	for (uint32_t j = 0; j < e->s.nblk; j++) {
		const struct park *pk = e->pk[j];
		uint32_t n = pk != NULL ? pk->l.nvisible : 0;
		qsg_put_u8(out, e->s.blk[j].leaving);
		qsg_put_u32(out, n);
		if (n == 0)
			continue;
		qsg_put_str(out, pk->xq->attrs.name);
		qsg_put_u32(out, pk->xq->attrs.scope);
		for (int p = NPRIO - 1; p >= 0; p--)
			for (const struct qmsg *m = pk->l.head[p]; m != NULL; m = m->next)
				snap_msg(f, sw, m);
	}
}

/* Formats before 8 have no parks: a queue's parked messages are written
 * among its visible ones, in get order (a k-way merge per priority over
 * its list and its parks: few). Returns the count; false from *ok: out of
 * memory. */
static uint32_t snap_queue_old(const struct fsm *f, struct snapw *sw, const struct queue *q,
			       bool write, bool *ok)
{
	uint32_t total = q->nvisible;
	size_t np = 0;
	for (size_t c = 0; c < f->nchsts; c++)
		for (uint32_t j = 0; j < FSM_CH_BLK_MAX; j++) {
			const struct park *pk = f->chsts[c]->pk[j];
			if (pk != NULL && pk->xq == q && pk->l.nvisible > 0) {
				total += pk->l.nvisible;
				np++;
			}
		}
	if (!write)
		return total;
	const struct qmsg **cur = malloc((np + 1) * sizeof *cur);
	if (cur == NULL) {
		*ok = false;
		return total;
	}
	for (int p = NPRIO - 1; p >= 0; p--) {
		size_t k = 0;
		cur[k++] = q->head[p];
		for (size_t c = 0; c < f->nchsts; c++)
			for (uint32_t j = 0; j < FSM_CH_BLK_MAX; j++) {
				const struct park *pk = f->chsts[c]->pk[j];
				if (pk != NULL && pk->xq == q && pk->l.nvisible > 0)
					cur[k++] = pk->l.head[p];
			}
		for (;;) {
			size_t best = k;
			for (size_t i = 0; i < k; i++)
				if (cur[i] != NULL &&
				    (best == k || cur[i]->seqno < cur[best]->seqno))
					best = i;
			if (best == k)
				break;
			snap_msg(f, sw, cur[best]);
			cur[best] = cur[best]->next;
		}
	}
	free(cur);
	return total;
}

static void snap_chan(const struct fsm *f, struct snapw *sw)
{
	struct qsg_wbuf *out = sw->out;
	qsg_put_u32(out, f->qmgr.set);
	qsg_put_str(out, f->qmgr.deadq);
	qsg_put_str(out, f->qmgr.descr);
	qsg_put_u64(out, f->chan_gen);
	qsg_put_u32(out, (uint32_t)f->nchdefs);
	for (size_t i = 0; i < f->nchdefs; i++)
		fsm_chattrs_encode(out, &f->chdefs[i]);
	qsg_put_u32(out, (uint32_t)f->nchsts);
	for (size_t i = 0; i < f->nchsts; i++) {
		const struct chst *e = f->chsts[i];
		const struct fsm_chstatus *s = &e->s;
		qsg_put_str(out, s->name);
		qsg_put_str(out, s->rqmname);
		qsg_put_u8(out, s->chltype);
		qsg_put_str(out, s->xmitq);
		fsm_chimage_encode(out, &s->img);
		qsg_put_str(out, s->conname);
		qsg_put_str(out, s->reason);
		qsg_put_u32(out, s->prev_owner);
		qsg_put_i64(out, s->last_change_ms);
		qsg_put_u64(out, s->msgs);
		qsg_put_u64(out, s->batches);
		qsg_put_u64(out, s->curseq);
		qsg_put_u64(out, s->lstseq);
		qsg_put_i64(out, s->last_msg_ms);
		qsg_put_u64(out, s->reset_seq);
		qsg_put_str(out, s->partner); /* format 5 */
		if (sw->version >= 6) {
			qsg_put_u32(out, s->retries); /* format 6 */
			qsg_put_i64(out, s->retry_at_ms);
			qsg_put_i64(out, s->soon_ms);
		}
		if (sw->version >= 7) { /* format 7: the destination black list */
			qsg_put_u32(out, s->nblk);
			for (uint32_t j = 0; j < s->nblk; j++) {
				const struct fsm_chblk *b = &s->blk[j];
				qsg_put_str(out, b->rqmname);
				qsg_put_str(out, b->rname);
				qsg_put_u32(out, b->reason);
				qsg_put_u32(out, b->refusals);
				qsg_put_i64(out, b->since_ms);
				qsg_put_i64(out, b->retry_at_ms);
				qsg_put_u64(out, b->retry_seq);
			}
		}
		qsg_put_u32(out, s->indoubt);
		for (const struct qmsg *m = e->lk_head; m != NULL; m = m->uow_next) {
			qsg_put_u64(out, m->chseq);
			qsg_put_str(out, m->q->attrs.name);
			qsg_put_u32(out, m->q->attrs.scope);
			snap_msg(f, sw, m);
		}
		if (sw->version >= 8)
			snap_parks(f, sw, e);
	}
	qsg_put_u32(out, (uint32_t)f->nsyncqs);
	for (size_t i = 0; i < f->nsyncqs; i++) {
		const struct fsm_syncq *q = &f->syncqs[i];
		qsg_put_str(out, q->name);
		qsg_put_str(out, q->rqmname);
		qsg_put_u64(out, q->epoch);
		qsg_put_u64(out, q->lstseq);
		qsg_put_u64(out, q->luwid);
		qsg_put_i64(out, q->last_ms);
		qsg_put_u64(out, q->rinst); /* format 5 */
	}
}

/* A full snapshot in `version`, or (ref not NULL) a format 12 delta
 * against the tracked base: the same but for the delta head and the
 * queues' messages (fsm_delta.c). */
static int snapshot_write(struct fsm *f, struct qsg_wbuf *out, uint8_t version,
			  const struct fsm_baseref *ref)
{
	struct snapw w = {.out = out, .version = version};
	struct snapw *sw = &w;
	struct queue **qs;
	struct session **ss;
	size_t nq, ns;
	int rc = queues_sorted(f, &qs, &nq);
	if (rc != QSG_OK)
		return rc;
	rc = sessions_sorted(f, false, 0, &ss, &ns);
	if (rc != QSG_OK) {
		free(qs);
		return rc;
	}
	qsg_put_u8(out, version);
	qsg_put_u64(out, f->last_seqno);
	qsg_put_i64(out, f->last_time);
	if (ref != NULL && (rc = delta_write_head(f, out, ref)) != QSG_OK)
		out->err = rc;
	qsg_put_u32(out, (uint32_t)nq);
	for (size_t i = 0; i < nq; i++) {
		struct queue *q = qs[i];
		fsm_qattrs_encode(out, &q->attrs);
		qsg_put_u64(out, q->puts_total);
		qsg_put_u64(out, q->gets_total);
		if (ref != NULL) {
			if ((rc = delta_write_queue(f, sw, q)) != QSG_OK)
				out->err = rc;
			continue;
		}
		if (version < 8 && f->nchsts > 0) {
			bool ok = true;
			qsg_put_u32(out, snap_queue_old(f, sw, q, false, &ok));
			snap_queue_old(f, sw, q, true, &ok);
			if (!ok)
				out->err = QSG_RC_STORAGE_NOT_AVAILABLE;
			continue;
		}
		qsg_put_u32(out, q->nvisible);
		for (int p = NPRIO - 1; p >= 0; p--)
			for (struct qmsg *m = q->head[p]; m != NULL; m = m->next)
				snap_msg(f, sw, m);
	}
	qsg_put_u32(out, (uint32_t)ns);
	for (size_t i = 0; i < ns; i++) {
		struct session *s = ss[i];
		qsg_put_u64(out, s->client_id);
		qsg_put_u64(out, s->epoch);
		qsg_put_u32(out, s->owner);
		qsg_put_u64(out, s->put_seq);
		qsg_put_u64(out, s->uows_done);
		qsg_put_u8(out, s->attached);
		qsg_put_i64(out, s->detached_at);
		/* Opens in queue name order: walk the sorted queue list. */
		uint32_t nopens = 0;
		for (struct sopen *o = s->opens; o != NULL; o = o->next)
			nopens++;
		qsg_put_u32(out, nopens);
		for (size_t j = 0; j < nq && nopens > 0; j++)
			for (struct sopen *o = s->opens; o != NULL; o = o->next)
				if (o->q == qs[j]) {
					qsg_put_str(out, qs[j]->attrs.name);
					qsg_put_u32(out, qs[j]->attrs.scope);
					qsg_put_u32(out, o->count);
				}
		qsg_put_u32(out, s->uow_count);
		for (struct qmsg *m = s->uow_head; m != NULL; m = m->uow_next) {
			qsg_put_u8(out,
				   m->state == MS_HELD
				       ? ((m->flags & QM_XFER) ? UOW_XFER_PUT : UOW_HELD_PUT)
				       : ((m->flags & QM_XFER) ? UOW_XFER_GET : UOW_LOCKED_GET));
			qsg_put_str(out, m->q->attrs.name);
			qsg_put_u32(out, m->q->attrs.scope);
			snap_msg(f, sw, m);
		}
	}
	qsg_put_u32(out, (uint32_t)f->nmembers);
	for (size_t i = 0; i < f->nmembers; i++) {
		const struct fsm_member *m = &f->members[i];
		qsg_put_u32(out, m->id);
		qsg_put_str(out, m->name);
		qsg_put_str(out, m->raft_addr);
		qsg_put_str(out, m->client_addr);
		qsg_put_u8(out, m->state);
		qsg_put_i64(out, m->lease_expiry_ms);
		qsg_put_i64(out, m->last_renew_ms);
		qsg_put_u8(out, m->stats.role);
		qsg_put_u64(out, m->stats.term);
		qsg_put_u64(out, m->stats.commit_index);
		qsg_put_u64(out, m->stats.applied_index);
		qsg_put_u64(out, m->stats.last_index);
		qsg_put_u8(out, m->chinit);
		if (sw->version >= 7)
			qsg_put_u16(out, m->cmdlevel); /* format 7 */
	}
	snap_chan(f, sw);
	if (version >= 9)
		users_snap(f, out); /* format 9: the user table */
	else if (f->nusers > 0)
		out->err = QSG_RC_BAD_VERSION; /* older formats cannot hold users */
	if (version >= 10)
		authrecs_snap(f, out); /* format 10: the authority records */
	else if (f->nauthrecs > 0)
		out->err = QSG_RC_BAD_VERSION; /* nor authority records */
	if (version >= 11)
		chlauths_snap(f, out); /* format 11: the channel authentication rules */
	else if (f->nchlauths > 0)
		out->err = QSG_RC_BAD_VERSION;
	free(qs);
	free(ss);
	return out->err;
}

int fsm_snapshot_format(struct fsm *f, struct qsg_wbuf *out, uint8_t version)
{
	if (version < 5 || version > FSM_SNAPSHOT_VERSION)
		return QSG_RC_BAD_VERSION;
	return snapshot_write(f, out, version, NULL);
}

int fsm_snapshot_delta(struct fsm *f, const struct fsm_baseref *ref, struct qsg_wbuf *out)
{
	if (!f->dt.on)
		return QSG_RC_INVALID;
	return snapshot_write(f, out, FSM_SNAPSHOT_DELTA, ref);
}

int fsm_snapshot(struct fsm *f, struct qsg_wbuf *out)
{
	return fsm_snapshot_format(f, out, FSM_SNAPSHOT_VERSION);
}

/* Restore helpers: decode into the fresh state `g`. */
static int restore_queues(struct fsm *g, struct qsg_rbuf *r, struct rctx *x, struct basecur *bc,
			  char *errmsg)
{
	uint32_t nq = qsg_get_u32(r);
	struct queue *prevq = NULL;
	for (uint32_t i = 0; i < nq && r->err == QSG_OK; i++) {
		struct fsm_qattrs a;
		int rc = fsm_qattrs_decode(r, &a, errmsg);
		if (rc != QSG_OK)
			return QSG_RC_BAD_FRAME;
		struct queue key = {.attrs = a};
		const struct queue *pk = &key;
		if (!fsm_name_valid(a.name) || (prevq != NULL && cmp_queue(&prevq, &pk) >= 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %u: bad or unordered name", i);
		if (a.disp == FSM_DISP_DEFAULT ||
		    (a.scope == 0) != (a.disp == FSM_DISP_SHARED || a.disp == FSM_DISP_GROUP) ||
		    (a.disp == FSM_DISP_SHARED && a.qtype != FSM_QT_LOCAL))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %s: bad QSGDISP %u in scope %u", a.name,
					a.disp, a.scope);
		if (!attrs_type_ok(&a))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %s: bad BOQNAME or type attributes",
					a.name);
		struct queue *q;
		if (queue_create(g, &a, &q) != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		prevq = q;
		q->puts_total = qsg_get_u64(r);
		q->gets_total = qsg_get_u64(r);
		uint32_t nm = qsg_get_u32(r);
		if (r->err == QSG_OK && nm > 0 && a.qtype != FSM_QT_LOCAL)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot queue %s: remote or alias queue with messages",
					a.name);
		if (bc != NULL) {
			if ((rc = delta_restore_queue(g, r, x, bc, q, nm, errmsg)) != QSG_OK)
				return rc;
			continue;
		}
		struct qmsg *last = NULL;
		for (uint32_t j = 0; j < nm && r->err == QSG_OK; j++) {
			struct fsm_msg v;
			struct qmsg *m;
			if ((rc = snap_run_msg(g, r, x, last, "queue", a.name, "bad seqno",
					       "messages out of order", &v, &m, errmsg)) != QSG_OK)
				return rc;
			make_visible(g, q, m, true);
			q->curdepth++;
			last = m;
			if ((rc = rctx_add(x, m, &v, errmsg)) != QSG_OK)
				return rc;
		}
	}
	return r->err;
}

static int restore_sessions(struct fsm *g, struct qsg_rbuf *r, struct rctx *x, char *errmsg)
{
	uint32_t ns = qsg_get_u32(r);
	uint64_t prev = 0;
	for (uint32_t i = 0; i < ns && r->err == QSG_OK; i++) {
		uint64_t id = qsg_get_u64(r);
		if (r->err != QSG_OK)
			break;
		if (id <= prev)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot session %u: bad id", i);
		prev = id;
		struct session *s = calloc(1, sizeof *s);
		if (s == NULL)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		s->client_id = id;
		if (hmap_insert(&g->sessions, &s->node, id_hash(id)) != QSG_OK) {
			free(s);
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		}
		s->epoch = qsg_get_u64(r);
		s->owner = qsg_get_u32(r);
		s->put_seq = qsg_get_u64(r);
		s->uows_done = qsg_get_u64(r);
		s->attached = qsg_get_u8(r);
		s->detached_at = qsg_get_i64(r);
		uint32_t nopens = qsg_get_u32(r);
		if (r->err == QSG_OK && (s->attached > 1 || (!s->attached && nopens > 0)))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot session %u: bad state",
					i);
		struct queue *pq = NULL;
		for (uint32_t j = 0; j < nopens && r->err == QSG_OK; j++) {
			char name[FSM_NAME_MAX + 1];
			qsg_get_str(r, name, sizeof name);
			uint32_t scope = qsg_get_u32(r);
			uint32_t count = qsg_get_u32(r);
			if (r->err != QSG_OK)
				break;
			struct queue *q = queue_find(g, scope, name);
			const struct queue *qk = q;
			if (q == NULL || q->attrs.qtype == FSM_QT_ALIAS || count == 0 ||
			    (pq != NULL && cmp_queue(&pq, &qk) >= 0) ||
			    q->opens > UINT32_MAX - count)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot session %u: bad open of %s", i, name);
			pq = q;
			struct sopen *o = calloc(1, sizeof *o);
			if (o == NULL)
				return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
						"out of memory");
			o->q = q;
			o->count = count;
			o->next = s->opens;
			s->opens = o;
			q->opens += count;
		}
		/* A detached session may hold a uow: a failed member's, whose
		 * backout is pending (MEMBER_FAIL_BOUNDED). */
		uint32_t nuow = qsg_get_u32(r);
		for (uint32_t j = 0; j < nuow && r->err == QSG_OK; j++) {
			char name[FSM_NAME_MAX + 1];
			struct fsm_msg v;
			uint32_t crc;
			int64_t hold;
			uint8_t kind = qsg_get_u8(r);
			qsg_get_str(r, name, sizeof name);
			uint32_t scope = qsg_get_u32(r);
			snap_msg_decode(r, x, &v, &crc, &hold);
			if (r->err != QSG_OK)
				break;
			struct queue *q = queue_find(g, scope, name);
			bool xfer = kind == UOW_XFER_GET || kind == UOW_XFER_PUT;
			bool held = kind == UOW_HELD_PUT || kind == UOW_XFER_PUT;
			if (q == NULL || q->attrs.qtype != FSM_QT_LOCAL || kind < UOW_HELD_PUT ||
			    kind > (x->version >= 4 ? UOW_XFER_PUT : UOW_LOCKED_GET) ||
			    (xfer && x->ck.nparts == 0) || v.seqno == 0 || v.seqno > g->last_seqno)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot session %u: bad uow entry", i);
			struct qmsg *m = snap_msg_new(g, x, &v, crc, hold, held, errmsg);
			if (m == NULL)
				return QSG_RC_BAD_FRAME;
			m->q = q;
			m->state = held ? MS_HELD : MS_LOCKED;
			if (xfer)
				m->flags |= QM_XFER;
			uow_append(s, m);
			q->curdepth++;
			q->uncommitted++;
			int rc = rctx_add(x, m, &v, errmsg);
			if (rc != QSG_OK)
				return rc;
		}
	}
	return r->err;
}

static int restore_members(struct fsm *g, struct qsg_rbuf *r, uint8_t version, char *errmsg)
{
	uint32_t n = qsg_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == QSG_OK; i++) {
		struct fsm_member m;
		memset(&m, 0, sizeof m);
		m.id = qsg_get_u32(r);
		qsg_get_str(r, m.name, sizeof m.name);
		qsg_get_str(r, m.raft_addr, sizeof m.raft_addr);
		qsg_get_str(r, m.client_addr, sizeof m.client_addr);
		m.state = qsg_get_u8(r);
		m.lease_expiry_ms = qsg_get_i64(r);
		m.last_renew_ms = qsg_get_i64(r);
		m.stats.role = qsg_get_u8(r);
		m.stats.term = qsg_get_u64(r);
		m.stats.commit_index = qsg_get_u64(r);
		m.stats.applied_index = qsg_get_u64(r);
		m.stats.last_index = qsg_get_u64(r);
		m.chinit = qsg_get_u8(r);
		if (version >= 7)
			m.cmdlevel = qsg_get_u16(r); /* format 7 */
		if (r->err != QSG_OK)
			break;
		if (m.chinit > 1 || m.id == 0 ||
		    (g->nmembers > 0 && g->members[g->nmembers - 1].id >= m.id) ||
		    (m.state != FSM_MEMBER_ACTIVE && m.state != FSM_MEMBER_FAILED) ||
		    m.stats.role > 3)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot member %u: bad values",
					i);
		struct fsm_member *slot = member_add(g, m.id);
		if (slot == NULL)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		*slot = m;
	}
	return r->err;
}

/* The black list of a status entry (format 7): at most FSM_CH_BLK_MAX
 * entries, senders only, named, no destination twice, no message out twice,
 * times not negative. */
static int restore_blk(struct qsg_rbuf *r, struct fsm_chstatus *s)
{
	uint32_t n = qsg_get_u32(r);
	if (r->err != QSG_OK || n > FSM_CH_BLK_MAX || (n > 0 && s->chltype != FSM_CHL_SDR))
		return QSG_RC_BAD_FRAME;
	for (uint32_t j = 0; j < n; j++) {
		struct fsm_chblk *b = &s->blk[j];
		qsg_get_str(r, b->rqmname, sizeof b->rqmname);
		qsg_get_str(r, b->rname, sizeof b->rname);
		b->reason = qsg_get_u32(r);
		b->refusals = qsg_get_u32(r);
		b->since_ms = qsg_get_i64(r);
		b->retry_at_ms = qsg_get_i64(r);
		b->retry_seq = qsg_get_u64(r);
		if (r->err != QSG_OK || b->rname[0] == '\0' || b->since_ms < 0 ||
		    b->retry_at_ms < 0 ||
		    (b->retry_seq != 0 && (b->retry_seq <= s->lstseq || b->retry_seq > s->curseq)))
			return QSG_RC_BAD_FRAME;
		for (uint32_t k = 0; k < j; k++)
			if ((strcmp(s->blk[k].rqmname, b->rqmname) == 0 &&
			     strcmp(s->blk[k].rname, b->rname) == 0) ||
			    (b->retry_seq != 0 && s->blk[k].retry_seq == b->retry_seq))
				return QSG_RC_BAD_FRAME;
	}
	s->nblk = n;
	return QSG_OK;
}

/* Format 8: the parks of a status entry (snap_parks): a leaving entry has
 * no message out alone; the messages of a park are of one local queue, in
 * get order. */
static int restore_parks(struct fsm *g, struct qsg_rbuf *r, struct rctx *x, struct chst *e,
			 char *errmsg)
{
	for (uint32_t j = 0; j < e->s.nblk && r->err == QSG_OK; j++) {
		struct fsm_chblk *b = &e->s.blk[j];
		b->leaving = qsg_get_u8(r);
		uint32_t n = qsg_get_u32(r);
		if (r->err != QSG_OK || b->leaving > 1 || (b->leaving && b->retry_seq != 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot channel %s: bad black list entry", e->s.name);
		if (n == 0)
			continue;
		char name[FSM_NAME_MAX + 1];
		qsg_get_str(r, name, sizeof name);
		uint32_t scope = qsg_get_u32(r);
		struct queue *q = r->err == QSG_OK ? queue_find(g, scope, name) : NULL;
		if (q == NULL || q->attrs.qtype != FSM_QT_LOCAL)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot channel %s: parked messages of no local queue",
					e->s.name);
		if ((e->pk[j] = park_new(q)) == NULL)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		struct qmsg *last = NULL;
		for (uint32_t k = 0; k < n && r->err == QSG_OK; k++) {
			struct fsm_msg v;
			struct qmsg *m;
			int rc =
			    snap_run_msg(g, r, x, last, "channel", e->s.name, "bad parked message",
					 "parked messages out of order", &v, &m, errmsg);
			if (rc != QSG_OK)
				return rc;
			park_insert(g, e->pk[j], m, true);
			q->curdepth++;
			last = m;
			if ((rc = rctx_add(x, m, &v, errmsg)) != QSG_OK)
				return rc;
		}
	}
	return r->err;
}

static int restore_chsts(struct fsm *g, struct qsg_rbuf *r, struct rctx *x, char *errmsg)
{
	uint32_t n = qsg_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == QSG_OK; i++) {
		struct fsm_chstatus s;
		memset(&s, 0, sizeof s);
		qsg_get_str(r, s.name, sizeof s.name);
		qsg_get_str(r, s.rqmname, sizeof s.rqmname);
		s.chltype = qsg_get_u8(r);
		qsg_get_str(r, s.xmitq, sizeof s.xmitq);
		fsm_chimage_decode(r, &s.img);
		qsg_get_str(r, s.conname, sizeof s.conname);
		qsg_get_str(r, s.reason, sizeof s.reason);
		s.prev_owner = qsg_get_u32(r);
		s.last_change_ms = qsg_get_i64(r);
		s.msgs = qsg_get_u64(r);
		s.batches = qsg_get_u64(r);
		s.curseq = qsg_get_u64(r);
		s.lstseq = qsg_get_u64(r);
		s.last_msg_ms = qsg_get_i64(r);
		s.reset_seq = qsg_get_u64(r);
		if (x->version >= 5)
			qsg_get_str(r, s.partner, sizeof s.partner);
		if (x->version >= 6) {
			s.retries = qsg_get_u32(r);
			s.retry_at_ms = qsg_get_i64(r);
			s.soon_ms = qsg_get_i64(r);
		}
		if (x->version >= 7 && restore_blk(r, &s) != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot channel status %u: bad black list", i);
		uint32_t nl = qsg_get_u32(r);
		if (r->err != QSG_OK)
			break;
		bool sdr = s.chltype == FSM_CHL_SDR;
		if (!fsm_chname_valid(s.name) ||
		    (g->nchsts > 0 &&
		     chkey_cmp(g->chsts[g->nchsts - 1]->s.name, g->chsts[g->nchsts - 1]->s.rqmname,
			       s.name, s.rqmname) >= 0) ||
		    (!sdr && s.chltype != FSM_CHL_RCVR) || (sdr && s.rqmname[0] != '\0') ||
		    (s.rqmname[0] != '\0' && !fsm_name_valid(s.rqmname)) ||
		    (s.xmitq[0] != '\0' && !fsm_name_valid(s.xmitq)) || s.img.exists != 1 ||
		    s.img.state < FSM_CHS_STOPPED || (!sdr && nl > 0) || s.lstseq > s.curseq ||
		    (s.partner[0] != '\0' && (!sdr || !fsm_name_valid(s.partner))) ||
		    (!sdr && (s.retries != 0 || s.retry_at_ms != 0 || s.soon_ms != 0)) ||
		    s.retry_at_ms < 0 || s.soon_ms < 0 ||
		    (s.retry_at_ms != 0 && s.img.state != FSM_CHS_RETRYING))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"snapshot channel status %u: bad values", i);
		struct chst *e = chst_insert(g, s.name, s.rqmname, s.chltype);
		if (e == NULL)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		e->s = s;
		e->s.indoubt = 0;
		uint64_t prev = 0;
		for (uint32_t j = 0; j < nl && r->err == QSG_OK; j++) {
			char name[FSM_NAME_MAX + 1];
			struct fsm_msg v;
			uint32_t crc;
			int64_t hold;
			uint64_t chseq = qsg_get_u64(r);
			qsg_get_str(r, name, sizeof name);
			uint32_t scope = qsg_get_u32(r);
			snap_msg_decode(r, x, &v, &crc, &hold);
			if (r->err != QSG_OK)
				break;
			struct queue *q = queue_find(g, scope, name);
			if (q == NULL || q->attrs.qtype != FSM_QT_LOCAL || chseq <= prev ||
			    chseq > s.curseq || v.seqno == 0 || v.seqno > g->last_seqno)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot channel %s: bad locked message", s.name);
			prev = chseq;
			struct qmsg *m = snap_msg_new(g, x, &v, crc, hold, false, errmsg);
			if (m == NULL)
				return QSG_RC_BAD_FRAME;
			m->q = q;
			m->state = MS_CHLOCKED;
			m->chseq = chseq;
			lk_append(e, m);
			q->curdepth++;
			q->uncommitted++;
			int rc = rctx_add(x, m, &v, errmsg);
			if (rc != QSG_OK)
				return rc;
		}
		if (x->version >= 8 && restore_parks(g, r, x, e, errmsg) != QSG_OK)
			return QSG_RC_BAD_FRAME;
		/* A message out alone is one of the locked messages. */
		for (uint32_t j = 0; j < e->s.nblk && r->err == QSG_OK; j++) {
			const struct qmsg *m = e->lk_head;
			while (m != NULL && m->chseq != e->s.blk[j].retry_seq)
				m = m->uow_next;
			if (e->s.blk[j].retry_seq != 0 && m == NULL)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"snapshot channel %s: black list names a message "
						"not out",
						s.name);
		}
	}
	return r->err;
}

static int restore_chan(struct fsm *g, struct qsg_rbuf *r, struct rctx *x, char *errmsg)
{
	g->qmgr.set = qsg_get_u32(r);
	qsg_get_str(r, g->qmgr.deadq, sizeof g->qmgr.deadq);
	qsg_get_str(r, g->qmgr.descr, sizeof g->qmgr.descr);
	g->chan_gen = qsg_get_u64(r);
	if (r->err == QSG_OK && ((g->qmgr.set & ~(uint32_t)FSM_QM_ALL) != 0 ||
				 (g->qmgr.deadq[0] != '\0' && !fsm_name_valid(g->qmgr.deadq))))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot qmgr attributes: bad values");
	uint32_t n = qsg_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == QSG_OK; i++) {
		struct fsm_chattrs a;
		if (fsm_chattrs_decode(r, &a, errmsg) != QSG_OK)
			return QSG_RC_BAD_FRAME;
		if (!chattrs_ok(&a) ||
		    (g->nchdefs > 0 && strcmp(g->chdefs[g->nchdefs - 1].name, a.name) >= 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot channel %u: bad values",
					i);
		if (sorted_grow((void **)&g->chdefs, &g->capchdefs, g->nchdefs,
				sizeof *g->chdefs) != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		g->chdefs[g->nchdefs++] = a;
	}
	int rc = r->err == QSG_OK ? restore_chsts(g, r, x, errmsg) : r->err;
	if (rc != QSG_OK)
		return rc;
	n = qsg_get_u32(r);
	for (uint32_t i = 0; i < n && r->err == QSG_OK; i++) {
		struct fsm_syncq q;
		memset(&q, 0, sizeof q);
		qsg_get_str(r, q.name, sizeof q.name);
		qsg_get_str(r, q.rqmname, sizeof q.rqmname);
		q.epoch = qsg_get_u64(r);
		q.lstseq = qsg_get_u64(r);
		q.luwid = qsg_get_u64(r);
		q.last_ms = qsg_get_i64(r);
		if (x->version >= 5)
			q.rinst = qsg_get_u64(r);
		if (r->err != QSG_OK)
			break;
		if (!fsm_chname_valid(q.name) || !fsm_name_valid(q.rqmname) ||
		    (g->nsyncqs > 0 &&
		     chkey_cmp(g->syncqs[g->nsyncqs - 1].name, g->syncqs[g->nsyncqs - 1].rqmname,
			       q.name, q.rqmname) >= 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot SYNCQ %u: bad values",
					i);
		if (sorted_grow((void **)&g->syncqs, &g->capsyncqs, g->nsyncqs,
				sizeof *g->syncqs) != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		g->syncqs[g->nsyncqs++] = q;
	}
	return r->err;
}

/* A decoded snapshot not installed yet (fsm_restore_decode), or a state
 * replaced by one (fsm_restore_install's `old`). */
struct fsm_image {
	struct fsm g;
	struct rctx x;
};

void fsm_image_free(struct fsm_image *img)
{
	if (img == NULL)
		return;
	state_free(&img->g);
	free(img->x.m);
	free(img->x.v);
	free(img);
}

static int restore_decode(const void *p, size_t len, struct basecur *bc, struct fsm_image **out,
			  char *errmsg)
{
	struct qsg_rbuf r;
	char msg[QSG_ERRMSG_SIZE] = "";
	*out = NULL;
	struct fsm_image *img = calloc(1, sizeof *img);
	if (img == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	struct fsm *g = &img->g;
	struct rctx *x = &img->x;
	state_init(g);
	qsg_rbuf_init(&r, p, len);
	x->version = qsg_get_u8(&r);
	g->last_seqno = qsg_get_u64(&r);
	g->last_time = qsg_get_i64(&r);
	int rc;
	if (r.err != QSG_OK) {
		rc = qsg_errf(msg, QSG_RC_BAD_FRAME, "snapshot of %zu bytes has no header", len);
	} else if ((x->version < 2 || x->version > FSM_SNAPSHOT_DELTA)) {
		rc = qsg_errf(msg, QSG_RC_BAD_VERSION, "snapshot format version %u", x->version);
	} else if (x->version == FSM_SNAPSHOT_DELTA && bc == NULL) {
		rc = qsg_errf(msg, QSG_RC_BAD_VERSION,
			      "a delta snapshot (format 12) restores only with its base");
	} else if (x->version != FSM_SNAPSHOT_DELTA && bc != NULL) {
		rc = qsg_errf(msg, QSG_RC_BAD_VERSION, "snapshot format version %u is not a delta",
			      x->version);
	} else if (bc != NULL && (rc = delta_read_head(&r, bc, g->last_seqno, msg)) != QSG_OK) {
		if (msg[0] == '\0')
			qsg_errf(msg, rc, "delta snapshot head cut short");
	} else if ((rc = restore_queues(g, &r, x, bc, msg)) == QSG_OK &&
		   (rc = restore_sessions(g, &r, x, msg)) == QSG_OK &&
		   (rc = restore_members(g, &r, x->version, msg)) == QSG_OK &&
		   (rc = restore_chan(g, &r, x, msg)) == QSG_OK &&
		   (x->version < 9 || (rc = users_restore(g, &r, msg)) == QSG_OK) &&
		   (x->version < 10 || (rc = authrecs_restore(g, &r, msg)) == QSG_OK) &&
		   (x->version < 11 || (rc = chlauths_restore(g, &r, msg)) == QSG_OK) &&
		   qsg_rbuf_left(&r) != 0) {
		rc = qsg_errf(msg, QSG_RC_BAD_FRAME, "%zu trailing bytes after the snapshot",
			      qsg_rbuf_left(&r));
	}
	if (rc == QSG_OK && (g->alloc_failed || pend_rebuild(g) != QSG_OK))
		rc = qsg_errf(msg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	/* Corrupt unless every message has its own seqno (seqset.h: O(n)). */
	uint64_t dup = 0;
	if (rc == QSG_OK && (rc = seqnos_unique(x->m, x->n, &dup)) != QSG_OK)
		qsg_errf(msg, rc, "snapshot: %s %llu",
			 rc == QSG_RC_BAD_FRAME ? "two messages of seqno"
						: "out of memory at seqno",
			 (unsigned long long)dup);
	if (rc != QSG_OK) {
		if (msg[0] == '\0')
			qsg_errf(msg, rc, "snapshot truncated or a field is out of range");
		if (errmsg != NULL)
			memcpy(errmsg, msg, QSG_ERRMSG_SIZE);
		fsm_image_free(img);
		return rc;
	}
	*out = img;
	return QSG_OK;
}

int fsm_restore_decode(const void *p, size_t len, struct fsm_image **out, char *errmsg)
{
	return restore_decode(p, len, NULL, out, errmsg);
}

int fsm_restore_decode_delta(const void *base, size_t blen, const void *delta, size_t dlen,
			     struct fsm_image **out, char *errmsg)
{
	struct basecur bc;
	*out = NULL;
	int rc = basecur_open(&bc, base, blen, errmsg);
	if (rc == QSG_OK)
		rc = restore_decode(delta, dlen, &bc, out, errmsg);
	basecur_close(&bc);
	return rc;
}

int fsm_restore_install(struct fsm *f, struct fsm_image *img, struct fsm_image **old, char *errmsg)
{
	struct rctx *x = &img->x;
	*old = NULL;
	/* Format 2 carries the content: the provider gets it before the state
	 * is replaced. A failure is fatal for the member (QSG_RC_IO). */
	for (size_t i = 0; x->version == 2 && i < x->n; i++) {
		const struct qmsg *m = x->m[i];
		if (f->bodies.put(f->bodies.arg, m->seqno, x->v[i].props.p, m->props_len,
				  x->v[i].body.p, m->body_len, m->crc) != QSG_OK) {
			int rc =
			    qsg_errf(errmsg, QSG_RC_IO, "body provider: put of message %llu failed",
				     (unsigned long long)m->seqno);
			fsm_image_free(img);
			return rc;
		}
	}
	free(x->v);
	x->v = NULL;
	/* The previous state leaves as an image (its memory is freed by the
	 * caller, on any thread); it releases nothing: the provider learns
	 * from the claims. Its pending claims, if any, are dropped. */
	struct fsm *g = &img->g;
	free(f->claim_m);
	f->claim_m = NULL;
	struct fsm prev = *f;
	g->notify = f->notify;
	g->notify_arg = f->notify_arg;
	g->bodies = f->bodies;
	g->mem = f->mem;
	g->scratch = f->scratch;
	g->entries_applied = 0;
	g->auth_gen = f->auth_gen + 1; /* cached authorities are stale */
	g->claim_m = x->m;
	g->claim_n = x->n;
	g->claim_pos = 0;
	g->claiming = true;
	x->m = NULL;
	x->n = x->cap = 0;
	*f = *g;
	img->g = prev;
	img->g.mem = NULL; /* kept by f */
	memset(&img->g.scratch, 0, sizeof img->g.scratch);
	*old = img;
	return QSG_OK;
}

bool fsm_restore_claims(struct fsm *f, size_t budget)
{
	if (!f->claiming)
		return true;
	size_t end = f->claim_n - f->claim_pos > budget ? f->claim_pos + budget : f->claim_n;
	for (; f->claim_pos < end; f->claim_pos++) {
		const struct qmsg *m = f->claim_m[f->claim_pos];
		const struct chunkinfo *ck =
		    (m->flags & QM_CHUNKED) ? chunk_find(f, m->seqno) : NULL;
		if (ck == NULL) {
			f->bodies.claim(f->bodies.arg, m->seqno, m->props_len, m->body_len, m->crc);
			continue;
		}
		for (uint32_t p = 0; p < ck->nrecv; p++)
			f->bodies.claim_part(f->bodies.arg, m->seqno, p,
					     fsm_part_len(m->props_len, m->body_len, p),
					     ck->crc[p]);
	}
	if (f->claim_pos < f->claim_n)
		return false;
	free(f->claim_m);
	f->claim_m = NULL;
	f->claim_n = f->claim_pos = 0;
	f->claiming = false;
	f->bodies.restored(f->bodies.arg, f->last_seqno);
	state_check(f); /* QSG_CHECKED builds only */
	return true;
}

int fsm_restore(struct fsm *f, const void *p, size_t len, char *errmsg)
{
	struct fsm_image *img, *old;
	int rc = fsm_restore_decode(p, len, &img, errmsg);
	if (rc != QSG_OK)
		return rc;
	if ((rc = fsm_restore_install(f, img, &old, errmsg)) != QSG_OK)
		return rc;
	fsm_image_free(old);
	fsm_restore_claims(f, SIZE_MAX);
	return QSG_OK;
}

uint64_t fsm_digest(struct fsm *f)
{
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	uint64_t h = 0;
	if (fsm_snapshot(f, &w) == QSG_OK)
		h = qsg_hash64(w.data, w.len, QSG_HASH_SEED);
	qsg_wbuf_close(&w);
	return h;
}
