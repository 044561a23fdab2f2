/* State machine, the message descriptor (struct qmsg, fsm_int.h): the
 * compact form every queued message has, and the optional extension
 * (struct qmsg_ext) only messages with a non-default rare field carry
 * (docs/storage.md, "The in-memory descriptor"). The canonical form:
 *  - QM_GENID iff the msgid equals msgid_gen(seqno, put_time_ms); the msgid
 *    is then computed, not stored (x->msgid stays zero);
 *  - x is non-NULL iff a field in it is not at its default.
 * It is a function of the logical fields only, so every member builds the
 * same form from the same commands or snapshot (and the snapshot, which
 * carries the logical fields, does not see it). Internal to src/fsm. */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"

static const uint8_t zero_id[FSM_ID_LEN];

void msgid_gen(uint8_t *id, uint64_t seqno, int64_t put_ms)
{
	memset(id, 0, FSM_ID_LEN);
	id[0] = 'Q';
	id[1] = 'S';
	id[2] = 'G';
	id[3] = 1;
	for (unsigned i = 0; i < 8; i++) {
		id[4 + i] = (uint8_t)(seqno >> (8 * i));
		id[12 + i] = (uint8_t)((uint64_t)put_ms >> (8 * i));
	}
}

const uint8_t *qmsg_msgid(const struct qmsg *m, uint8_t *buf)
{
	if (m->flags & QM_GENID) {
		msgid_gen(buf, m->seqno, m->put_time_ms);
		return buf;
	}
	return m->x != NULL ? m->x->msgid : zero_id;
}

const uint8_t *qmsg_correlid(const struct qmsg *m)
{
	return m->x != NULL ? m->x->correlid : zero_id;
}

const uint8_t *qmsg_key(const struct qmsg *m, uint8_t indxtype, uint8_t *buf)
{
	return indxtype == FSM_INDX_MSGID ? qmsg_msgid(m, buf) : qmsg_correlid(m);
}

void msg_view(const struct qmsg *m, struct fsm_msg *out)
{
	memset(out, 0, sizeof *out);
	uint8_t id[FSM_ID_LEN];
	memcpy(out->msgid, qmsg_msgid(m, id), FSM_ID_LEN);
	memcpy(out->correlid, qmsg_correlid(m), FSM_ID_LEN);
	out->priority = m->priority;
	out->persistent = (m->flags & QM_PERSISTENT) ? 1 : 0;
	out->expiry_ms = qmsg_expiry(m);
	out->put_time_ms = m->put_time_ms;
	out->backout_count = qmsg_backout(m);
	out->seqno = m->seqno;
	out->props.len = m->props_len;
	out->body.len = m->body_len;
}

static bool ext_default(const struct qmsg *m)
{
	const struct qmsg_ext *x = m->x;
	return !(m->flags & QM_INDEXED) && x->expiry_ms == 0 && x->hold_until == 0 &&
	       x->backout_count == 0 && memcmp(x->msgid, zero_id, FSM_ID_LEN) == 0 &&
	       memcmp(x->correlid, zero_id, FSM_ID_LEN) == 0;
}

struct qmsg_ext *qmsg_ext(struct fsm *f, struct qmsg *m)
{
	if (m->x != NULL)
		return m->x;
	if (f->exts == NULL && qsg_slab_init(&f->exts, sizeof(struct qmsg_ext)) != QSG_OK)
		return NULL;
	m->x = qsg_slab_alloc(f->exts); /* zeroed */
	return m->x;
}

void qmsg_ext_trim(struct qmsg *m)
{
	if (m->x != NULL && ext_default(m)) {
		qsg_slab_free(m->x);
		m->x = NULL;
	}
}

struct qmsg *msg_new(struct fsm *f, const struct fsm_msg *src, uint32_t crc)
{
	if (f->descs == NULL && qsg_slab_init(&f->descs, sizeof(struct qmsg)) != QSG_OK)
		return NULL;
	struct qmsg *m = qsg_slab_alloc(f->descs);
	if (m == NULL)
		return NULL;
	m->priority = src->priority;
	m->flags = src->persistent ? QM_PERSISTENT : 0;
	m->put_time_ms = src->put_time_ms;
	m->seqno = src->seqno;
	m->props_len = (uint32_t)src->props.len;
	m->body_len = (uint32_t)src->body.len;
	m->crc = crc;
	uint8_t gen[FSM_ID_LEN];
	msgid_gen(gen, src->seqno, src->put_time_ms);
	const uint8_t *msgid = src->msgid;
	if (memcmp(msgid, gen, FSM_ID_LEN) == 0) {
		m->flags |= QM_GENID;
		msgid = zero_id;
	}
	if (memcmp(msgid, zero_id, FSM_ID_LEN) != 0 ||
	    memcmp(src->correlid, zero_id, FSM_ID_LEN) != 0 || src->expiry_ms != 0 ||
	    src->backout_count != 0) {
		struct qmsg_ext *x = qmsg_ext(f, m);
		if (x == NULL) {
			qsg_slab_free(m);
			return NULL;
		}
		memcpy(x->msgid, msgid, FSM_ID_LEN);
		memcpy(x->correlid, src->correlid, FSM_ID_LEN);
		x->expiry_ms = src->expiry_ms;
		x->backout_count = src->backout_count;
	}
	return m;
}

void msg_destroy(struct qmsg *m)
{
	if (m == NULL)
		return;
	qsg_slab_free(m->x);
	qsg_slab_free(m);
}

static int ext_failed(struct fsm *f)
{
	f->alloc_failed = true;
	return QSG_RC_STORAGE_NOT_AVAILABLE;
}

int qmsg_set_backout(struct fsm *f, struct qmsg *m, uint32_t n)
{
	if (n == qmsg_backout(m))
		return QSG_OK;
	struct qmsg_ext *x = qmsg_ext(f, m);
	if (x == NULL)
		return ext_failed(f);
	x->backout_count = n;
	qmsg_ext_trim(m);
	delta_touched(f, m);
	return QSG_OK;
}

int qmsg_set_hold(struct fsm *f, struct qmsg *m, int64_t until)
{
	if (until == qmsg_hold_until(m))
		return QSG_OK;
	struct qmsg_ext *x = qmsg_ext(f, m);
	if (x == NULL)
		return ext_failed(f);
	x->hold_until = until;
	qmsg_ext_trim(m);
	delta_touched(f, m);
	return QSG_OK;
}

int qmsg_keep_msgid(struct fsm *f, struct qmsg *m)
{
	if (!(m->flags & QM_GENID))
		return QSG_OK;
	struct qmsg_ext *x = qmsg_ext(f, m);
	if (x == NULL)
		return ext_failed(f);
	msgid_gen(x->msgid, m->seqno, m->put_time_ms);
	m->flags &= (uint8_t)~QM_GENID;
	delta_touched(f, m);
	return QSG_OK;
}
