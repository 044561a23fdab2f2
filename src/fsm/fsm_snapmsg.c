/* State machine, snapshots: the message codec (fsm_snap.h). Internal to
 * src/fsm. */
#include <stdlib.h>
#include <string.h>

#include "fsm_snap.h"

const uint8_t snap_zero_id[FSM_ID_LEN];
#define zero_id snap_zero_id

/* A message in a snapshot, format 3 to 5: its descriptor, the message
 * layout without the content: ids, priority, persistent, expiry, put time,
 * backout count, seqno, then u32 props_len, u32 body_len, u32 crc (crc32c
 * of props || body), then i64 hold_until, then (format 4) the part table:
 * u32 nparts (0 = not chunked), then u32 nrecv, u64 producer seq, nrecv x
 * u32 crc. 102 bytes for a message that is not chunked.
 *
 * Format 6 (docs/protocol.md): u8 flags (SM_*), u8 priority, svar seqno
 * minus the previous message's, svar put time minus the previous
 * message's (both 0 before the first message of the snapshot), uvar
 * props_len, uvar body_len, u32 crc, then only the fields that are not at
 * their default, in flag order (msgid 24, correlid 24, svar expiry, uvar
 * backout count, svar hold_until, part table: uvar nparts, uvar nrecv, u64
 * producer seq, nrecv x u32 crc). A common message (generated msgid,
 * nothing else set) takes 11-14 bytes instead of 102: the snapshot, the
 * encode, the pipe from the forked child, LZ4, the disk write and an
 * InstallSnapshot all shrink with it (docs/storage.md). The content lives
 * with the body provider; the crc makes the digest cover it. */
void snap_msg(const struct fsm *f, struct snapw *sw, const struct qmsg *m)
{
	struct qsg_wbuf *out = sw->out;
	const struct chunkinfo *ck = (m->flags & QM_CHUNKED) ? chunk_find(f, m->seqno) : NULL;
	if (sw->version < 6) {
		uint8_t id[FSM_ID_LEN];
		qsg_put_bytes(out, qmsg_msgid(m, id), FSM_ID_LEN);
		qsg_put_bytes(out, qmsg_correlid(m), FSM_ID_LEN);
		qsg_put_u8(out, m->priority);
		qsg_put_u8(out, (m->flags & QM_PERSISTENT) ? 1 : 0);
		qsg_put_i64(out, qmsg_expiry(m));
		qsg_put_i64(out, m->put_time_ms);
		qsg_put_u32(out, qmsg_backout(m));
		qsg_put_u64(out, m->seqno);
		qsg_put_u32(out, m->props_len);
		qsg_put_u32(out, m->body_len);
		qsg_put_u32(out, m->crc);
		qsg_put_i64(out, qmsg_hold_until(m));
		qsg_put_u32(out, ck != NULL ? ck->nparts : 0);
		if (ck != NULL) {
			qsg_put_u32(out, ck->nrecv);
			qsg_put_u64(out, ck->pseq);
			for (uint32_t i = 0; i < ck->nrecv; i++)
				qsg_put_u32(out, ck->crc[i]);
		}
		return;
	}
	if (qsg_wbuf_reserve(out, SM_MAX_FIXED) != QSG_OK)
		return;
	const struct qmsg_ext *x = m->x;
	uint8_t fl = (m->flags & QM_PERSISTENT) ? SM_PERSISTENT : 0;
	if (!(m->flags & QM_GENID))
		fl |= SM_MSGID;
	if (x != NULL) {
		if (memcmp(x->correlid, zero_id, FSM_ID_LEN) != 0)
			fl |= SM_CORRELID;
		if (x->expiry_ms != 0)
			fl |= SM_EXPIRY;
		if (x->backout_count != 0)
			fl |= SM_BACKOUT;
		if (x->hold_until != 0)
			fl |= SM_HOLD;
	}
	if (ck != NULL)
		fl |= SM_PARTS;
	uint8_t *p = out->data + out->len;
	uint8_t *p0 = p;
	*p++ = fl;
	*p++ = m->priority;
	p += qsg_uvar_encode(p, qsg_zigzag((int64_t)(m->seqno - sw->seqno)));
	p += qsg_uvar_encode(p,
			     qsg_zigzag((int64_t)((uint64_t)m->put_time_ms - (uint64_t)sw->time)));
	p += qsg_uvar_encode(p, m->props_len);
	p += qsg_uvar_encode(p, m->body_len);
	for (unsigned i = 0; i < 4; i++)
		*p++ = (uint8_t)(m->crc >> (8 * i));
	if (fl & SM_MSGID) {
		memcpy(p, x != NULL ? x->msgid : zero_id, FSM_ID_LEN);
		p += FSM_ID_LEN;
	}
	if (fl & SM_CORRELID) {
		memcpy(p, x->correlid, FSM_ID_LEN);
		p += FSM_ID_LEN;
	}
	if (fl & SM_EXPIRY)
		p += qsg_uvar_encode(p, qsg_zigzag(x->expiry_ms));
	if (fl & SM_BACKOUT)
		p += qsg_uvar_encode(p, x->backout_count);
	if (fl & SM_HOLD)
		p += qsg_uvar_encode(p, qsg_zigzag(x->hold_until));
	out->len += (size_t)(p - p0);
	sw->seqno = m->seqno;
	sw->time = m->put_time_ms;
	if (ck != NULL) {
		qsg_put_uvar(out, ck->nparts);
		qsg_put_uvar(out, ck->nrecv);
		qsg_put_u64(out, ck->pseq);
		for (uint32_t i = 0; i < ck->nrecv; i++)
			qsg_put_u32(out, ck->crc[i]);
	}
}

/* A format 6 message (snap_msg). Refuses what the encoder never writes:
 * unknown flags, a field present at its default, a msgid present that is
 * the generated one; so a snapshot that decodes re-encodes to the same
 * bytes. */
static void snap_msg_decode6(struct qsg_rbuf *r, struct rctx *x, struct fsm_msg *v, uint32_t *crc,
			     int64_t *hold)
{
	memset(v, 0, sizeof *v);
	uint8_t fl = qsg_get_u8(r);
	v->priority = qsg_get_u8(r);
	v->persistent = (fl & SM_PERSISTENT) ? 1 : 0;
	v->seqno = x->seqno + (uint64_t)qsg_get_svar(r);
	v->put_time_ms = (int64_t)((uint64_t)x->time + (uint64_t)qsg_get_svar(r));
	uint64_t props_len = qsg_get_uvar(r);
	uint64_t body_len = qsg_get_uvar(r);
	*crc = qsg_get_u32(r);
	uint8_t gen[FSM_ID_LEN];
	msgid_gen(gen, v->seqno, v->put_time_ms);
	if (fl & SM_MSGID) {
		qsg_get_bytes(r, v->msgid, FSM_ID_LEN);
		if (r->err == QSG_OK && memcmp(v->msgid, gen, FSM_ID_LEN) == 0)
			r->err = QSG_RC_BAD_FRAME;
	} else {
		memcpy(v->msgid, gen, FSM_ID_LEN);
	}
	if (fl & SM_CORRELID) {
		qsg_get_bytes(r, v->correlid, FSM_ID_LEN);
		if (r->err == QSG_OK && memcmp(v->correlid, zero_id, FSM_ID_LEN) == 0)
			r->err = QSG_RC_BAD_FRAME;
	}
	if (fl & SM_EXPIRY) {
		v->expiry_ms = qsg_get_svar(r);
		if (v->expiry_ms == 0)
			r->err = QSG_RC_BAD_FRAME;
	}
	if (fl & SM_BACKOUT) {
		uint64_t b = qsg_get_uvar(r);
		if (b == 0 || b > UINT32_MAX)
			r->err = QSG_RC_BAD_FRAME;
		v->backout_count = (uint32_t)b;
	}
	*hold = 0;
	if (fl & SM_HOLD) {
		*hold = qsg_get_svar(r);
		if (*hold == 0)
			r->err = QSG_RC_BAD_FRAME;
	}
	if (r->err == QSG_OK && ((fl & ~SM_KNOWN) || v->priority > 9 || props_len > FSM_MAX_PROPS ||
				 body_len > FSM_MAX_MSGL))
		r->err = QSG_RC_BAD_FRAME;
	v->props.len = (size_t)props_len;
	v->body.len = (size_t)body_len;
	x->seqno = v->seqno;
	x->time = v->put_time_ms;
	struct rchunk *ck = &x->ck;
	ck->nparts = 0;
	if (r->err == QSG_OK && (fl & SM_PARTS)) {
		uint64_t nparts = qsg_get_uvar(r);
		uint64_t nrecv = qsg_get_uvar(r);
		ck->pseq = qsg_get_u64(r);
		if (r->err == QSG_OK &&
		    (nparts == 0 || nparts != fsm_nparts((uint32_t)v->body.len) || nrecv == 0 ||
		     nrecv > nparts))
			r->err = QSG_RC_BAD_FRAME;
		if (r->err == QSG_OK) {
			ck->nparts = (uint32_t)nparts;
			ck->nrecv = (uint32_t)nrecv;
		}
		for (uint32_t i = 0; r->err == QSG_OK && i < ck->nrecv; i++)
			ck->crc[i] = qsg_get_u32(r);
	}
}

/* One message: a format 6 message, a format 3-5 descriptor, or a format 2
 * message with its content (crc computed); then hold_until. Sets r->err on
 * bad values. */
void snap_msg_decode(struct qsg_rbuf *r, struct rctx *x, struct fsm_msg *v, uint32_t *crc,
		     int64_t *hold)
{
	uint8_t version = x->version;
	if (version >= 6) {
		snap_msg_decode6(r, x, v, crc, hold);
		return;
	}
	*crc = 0;
	if (version == 2) {
		fsm_msg_decode(r, v);
		if (r->err == QSG_OK)
			*crc = msg_crc(v);
	} else {
		memset(v, 0, sizeof *v);
		qsg_get_bytes(r, v->msgid, FSM_ID_LEN);
		qsg_get_bytes(r, v->correlid, FSM_ID_LEN);
		v->priority = qsg_get_u8(r);
		v->persistent = qsg_get_u8(r);
		v->expiry_ms = qsg_get_i64(r);
		v->put_time_ms = qsg_get_i64(r);
		v->backout_count = qsg_get_u32(r);
		v->seqno = qsg_get_u64(r);
		v->props.len = qsg_get_u32(r);
		v->body.len = qsg_get_u32(r);
		*crc = qsg_get_u32(r);
		if (r->err == QSG_OK &&
		    (v->priority > 9 || v->persistent > 1 || v->props.len > FSM_MAX_PROPS ||
		     v->body.len > FSM_MAX_MSGL))
			r->err = QSG_RC_BAD_FRAME;
	}
	*hold = qsg_get_i64(r);
	x->ck.nparts = 0;
	if (version >= 4) {
		struct rchunk *ck = &x->ck;
		ck->nparts = qsg_get_u32(r);
		if (r->err == QSG_OK && ck->nparts > 0) {
			ck->nrecv = qsg_get_u32(r);
			ck->pseq = qsg_get_u64(r);
			if (r->err == QSG_OK && (ck->nparts != fsm_nparts((uint32_t)v->body.len) ||
						 ck->nrecv == 0 || ck->nrecv > ck->nparts))
				r->err = QSG_RC_BAD_FRAME;
			for (uint32_t i = 0; r->err == QSG_OK && i < ck->nrecv; i++)
				ck->crc[i] = qsg_get_u32(r);
		}
	}
}

/* msg_new for a decoded message, with its part table. A part table still
 * receiving parts is allowed only where `partial_ok` (a held put). */
struct qmsg *snap_msg_new(struct fsm *g, const struct rctx *x, const struct fsm_msg *v,
			  uint32_t crc, int64_t hold, bool partial_ok, char *errmsg)
{
	if (x->ck.nparts > 0 && x->ck.nrecv < x->ck.nparts && !partial_ok) {
		qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot message %llu: parts missing",
			 (unsigned long long)v->seqno);
		return NULL;
	}
	struct qmsg *m = msg_new(g, v, crc);
	if (m != NULL && qmsg_set_hold(g, m, hold) != QSG_OK) {
		msg_destroy(m);
		m = NULL;
	}
	if (m == NULL) {
		qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		return NULL;
	}
	if (x->ck.nparts > 0 &&
	    (chunk_find(g, v->seqno) != NULL ||
	     chunk_attach(g, m, x->ck.nparts, x->ck.nrecv, x->ck.pseq, x->ck.crc) != QSG_OK)) {
		qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot message %llu: bad part table",
			 (unsigned long long)v->seqno);
		msg_destroy(m);
		return NULL;
	}
	return m;
}

/* The next message of a run kept in get order (a queue's messages, a
 * channel's park): decoded, its seqno checked, made, and checked to come
 * after `last`. Errors name "snapshot KIND NAME: BAD" (or ": ORDER"); a
 * message cut short returns r->err with errmsg untouched. */
int snap_run_msg(struct fsm *g, struct qsg_rbuf *r, struct rctx *x, const struct qmsg *last,
		 const char *kind, const char *name, const char *bad, const char *order,
		 struct fsm_msg *v, struct qmsg **mp, char *errmsg)
{
	uint32_t crc;
	int64_t hold;
	snap_msg_decode(r, x, v, &crc, &hold);
	if (r->err != QSG_OK)
		return r->err;
	if (v->seqno == 0 || v->seqno > g->last_seqno)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot %s %s: %s", kind, name, bad);
	struct qmsg *m = snap_msg_new(g, x, v, crc, hold, false, errmsg);
	if (m == NULL)
		return QSG_RC_BAD_FRAME;
	if (last != NULL && !msg_get_before(last, m)) {
		msg_destroy(m);
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "snapshot %s %s: %s", kind, name, order);
	}
	*mp = m;
	return QSG_OK;
}

/* Remember m (linked into the new state) for the provider calls. */
int rctx_add(struct rctx *x, struct qmsg *m, const struct fsm_msg *v, char *errmsg)
{
	if (x->n == x->cap) {
		size_t cap = x->cap == 0 ? 64 : x->cap * 2;
		struct qmsg **nm = realloc(x->m, cap * sizeof *nm);
		if (nm == NULL)
			return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		x->m = nm;
		if (x->version == 2) {
			struct rmsg *nv = realloc(x->v, cap * sizeof *nv);
			if (nv == NULL)
				return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
						"out of memory");
			x->v = nv;
		}
		x->cap = cap;
	}
	x->m[x->n] = m;
	if (x->version == 2) {
		x->v[x->n].props = v->props;
		x->v[x->n].body = v->body;
	}
	x->n++;
	return QSG_OK;
}
