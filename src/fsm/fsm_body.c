/* State machine, message content: the one constructor (msg_create: crc,
 * descriptor, provider put) and destructor (msg_free: provider release) of
 * messages, and the content reads for results (msg_read, into the fsm's
 * scratch buffer). The content itself lives with the body provider
 * (struct fsm_bodies in fsm.h; membodies.c by default); the state keeps a
 * descriptor. A provider failure sets f->body_failed: fsm_apply then
 * returns QSG_RC_IO (fatal for the member). Internal to src/fsm. */
#include <stdlib.h>
#include <string.h>

#include "../common/crc32c.h"
#include "fsm_int.h"

/* The scratch buffer is kept for reuse up to this capacity. */
#define SCRATCH_KEEP (1u << 20)

void msg_view(const struct qmsg *m, struct fsm_msg *out)
{
	memset(out, 0, sizeof *out);
	memcpy(out->msgid, m->msgid, FSM_ID_LEN);
	memcpy(out->correlid, m->correlid, FSM_ID_LEN);
	out->priority = m->priority;
	out->persistent = m->persistent;
	out->expiry_ms = m->expiry_ms;
	out->put_time_ms = m->put_time_ms;
	out->backout_count = m->backout_count;
	out->seqno = m->seqno;
	out->props.len = m->props_len;
	out->body.len = m->body_len;
}

struct qmsg *msg_new(const struct fsm_msg *src, uint32_t crc)
{
	struct qmsg *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	memcpy(m->msgid, src->msgid, FSM_ID_LEN);
	memcpy(m->correlid, src->correlid, FSM_ID_LEN);
	m->priority = src->priority;
	m->persistent = src->persistent;
	m->expiry_ms = src->expiry_ms;
	m->put_time_ms = src->put_time_ms;
	m->backout_count = src->backout_count;
	m->seqno = src->seqno;
	m->props_len = (uint32_t)src->props.len;
	m->body_len = (uint32_t)src->body.len;
	m->crc = crc;
	return m;
}

uint32_t msg_crc(const struct fsm_msg *v)
{
	uint32_t crc = qsg_crc32c(0, v->props.p, v->props.len);
	return qsg_crc32c(crc, v->body.p, v->body.len);
}

int body_fail(struct fsm *f, const char *what, uint64_t seqno)
{
	f->body_failed = true;
	f->body_fail_what = what;
	f->body_fail_seqno = seqno;
	return QSG_RC_IO;
}

int msg_create(struct fsm *f, const struct fsm_msg *v, struct qmsg **out)
{
	*out = NULL;
	uint32_t crc = msg_crc(v);
	struct qmsg *m = msg_new(v, crc);
	if (m == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	if (f->bodies.put(f->bodies.arg, m->seqno, v->props.p, m->props_len, v->body.p, m->body_len,
			  crc) != QSG_OK) {
		free(m);
		return body_fail(f, "put", v->seqno);
	}
	*out = m;
	return QSG_OK;
}

void msg_free(struct fsm *f, struct qmsg *m)
{
	if (m == NULL)
		return;
	f->bodies.release(f->bodies.arg, m->seqno);
	free(m);
}

int msg_read(struct fsm *f, const struct qmsg *m, struct fsm_msg *v)
{
	msg_view(m, v);
	if (f->scratch.cap > SCRATCH_KEEP) { /* do not keep a large body's buffer */
		qsg_wbuf_close(&f->scratch);
		qsg_wbuf_init(&f->scratch);
	}
	qsg_wbuf_reset(&f->scratch);
	int rc =
	    f->bodies.read(f->bodies.arg, m->seqno, m->props_len, m->body_len, m->crc, &f->scratch);
	if (rc != QSG_OK || f->scratch.err != QSG_OK ||
	    f->scratch.len != (size_t)m->props_len + m->body_len)
		return body_fail(f, "read", m->seqno);
	if (f->scratch.len > 0) {
		v->props.p = f->scratch.data;
		v->body.p = f->scratch.data + m->props_len;
	}
	return QSG_OK;
}

int msg_renumber(struct fsm *f, struct qmsg *m, uint64_t seqno)
{
	struct fsm_msg v;
	int rc = msg_read(f, m, &v);
	if (rc != QSG_OK)
		return rc;
	if (f->bodies.put(f->bodies.arg, seqno, v.props.p, m->props_len, v.body.p, m->body_len,
			  m->crc) != QSG_OK)
		return body_fail(f, "put", seqno);
	f->bodies.release(f->bodies.arg, m->seqno);
	m->seqno = seqno;
	return QSG_OK;
}

int qmsg_put(struct fsm *f, struct qsg_wbuf *out, const struct qmsg *m)
{
	if (out == NULL)
		return QSG_OK;
	struct fsm_msg v;
	int rc = msg_read(f, m, &v);
	if (rc != QSG_OK)
		return rc;
	fsm_msg_encode(out, &v);
	return QSG_OK;
}
