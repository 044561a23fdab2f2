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
#include <stdint.h>

/* The scratch buffer is kept for reuse up to this capacity. */
#define SCRATCH_KEEP (1u << 20)

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
	struct qmsg *m = msg_new(f, v, crc);
	if (m == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	if (f->bodies.put(f->bodies.arg, m->seqno, v->props.p, m->props_len, v->body.p, m->body_len,
			  crc) != QSG_OK) {
		msg_destroy(m);
		return body_fail(f, "put", v->seqno);
	}
	*out = m;
	return QSG_OK;
}

/* --- large messages: part tables ---------------------------------------- */

/* The part tables' hash (splitmix64 finaliser; this file's own, so that it
 * does not depend on fsm_qtable.c, which depends on it). */
static uint64_t seq_hash(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

struct chunkinfo *chunk_find(const struct fsm *f, uint64_t seqno)
{
	uint64_t h = seq_hash(seqno);
	for (struct hmap_node *n = hmap_bucket(&f->chunks, h); n != NULL; n = n->next) {
		struct chunkinfo *ck = (struct chunkinfo *)n;
		if (n->hash == h && ck->seqno == seqno)
			return ck;
	}
	return NULL;
}

int chunk_attach(struct fsm *f, struct qmsg *m, uint32_t nparts, uint32_t nrecv, uint64_t pseq,
		 const uint32_t *crc)
{
	struct chunkinfo *ck = calloc(1, sizeof *ck + (size_t)nparts * sizeof ck->crc[0]);
	if (ck == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	ck->seqno = m->seqno;
	ck->pseq = pseq;
	ck->nparts = nparts;
	ck->nrecv = nrecv;
	if (nrecv > 0)
		memcpy(ck->crc, crc, (size_t)nrecv * sizeof ck->crc[0]);
	if (hmap_insert(&f->chunks, &ck->node, seq_hash(m->seqno)) != QSG_OK) {
		free(ck);
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	m->flags |= QM_CHUNKED;
	return QSG_OK;
}

void chunks_free(struct fsm *f)
{
	struct hmap_node *n = hmap_next(&f->chunks, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&f->chunks, n);
		free(n);
		n = next;
	}
	hmap_close(&f->chunks);
	hmap_init(&f->chunks);
}

static void chunk_drop(struct fsm *f, uint64_t seqno)
{
	struct chunkinfo *ck = chunk_find(f, seqno);
	if (ck != NULL) {
		hmap_remove(&f->chunks, &ck->node);
		free(ck);
	}
}

bool msg_complete(const struct fsm *f, const struct qmsg *m)
{
	if (!(m->flags & QM_CHUNKED))
		return true;
	const struct chunkinfo *ck = chunk_find(f, m->seqno);
	return ck != NULL && ck->nrecv == ck->nparts;
}

/* Append part i of m (verified by the provider) to out. */
static int part_read(struct fsm *f, const struct qmsg *m, const struct chunkinfo *ck, uint32_t i,
		     struct qsg_wbuf *out)
{
	uint32_t len = fsm_part_len(m->props_len, m->body_len, i);
	size_t at = out->len;
	if (f->bodies.read_part(f->bodies.arg, m->seqno, i, len, ck->crc[i], out) != QSG_OK ||
	    out->err != QSG_OK || out->len - at != len)
		return QSG_RC_IO;
	return QSG_OK;
}

int fsm_read_part(struct fsm *f, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc,
		  struct qsg_wbuf *out)
{
	if (seqno == 0 || part >= FSM_MAX_PARTS || len > FSM_CHUNK_MAX + FSM_MAX_PROPS)
		return QSG_RC_INVALID;
	size_t at = out->len;
	if (f->bodies.read_part(f->bodies.arg, seqno, part, len, crc, out) != QSG_OK ||
	    out->err != QSG_OK || out->len - at != len) {
		out->len = at;
		return QSG_RC_NO_MSG_AVAILABLE;
	}
	return QSG_OK;
}

int qmsg_put_first(struct fsm *f, struct qsg_wbuf *out, const struct qmsg *m)
{
	if (out == NULL)
		return QSG_OK;
	const struct chunkinfo *ck = chunk_find(f, m->seqno);
	if (ck == NULL || ck->nrecv != ck->nparts)
		return body_fail(f, "read", m->seqno);
	struct fsm_msg v;
	msg_view(m, &v);
	qsg_wbuf_reset(&f->scratch);
	if (part_read(f, m, ck, 0, &f->scratch) != QSG_OK)
		return body_fail(f, "read", m->seqno);
	v.props.p = f->scratch.data;
	v.body.p = f->scratch.data + m->props_len;
	v.body.len = f->scratch.len - m->props_len;
	fsm_msg_encode(out, &v);
	qsg_put_u32(out, m->body_len);
	qsg_put_u32(out, ck->nparts);
	for (uint32_t i = 0; i < ck->nparts; i++)
		qsg_put_u32(out, ck->crc[i]);
	return QSG_OK;
}

/* --- messages ------------------------------------------------------------- */

void msg_free(struct fsm *f, struct qmsg *m)
{
	if (m == NULL)
		return;
	f->bodies.release(f->bodies.arg, m->seqno);
	if (m->flags & QM_CHUNKED)
		chunk_drop(f, m->seqno);
	msg_destroy(m);
}

int msg_read(struct fsm *f, const struct qmsg *m, struct fsm_msg *v)
{
	msg_view(m, v);
	if (f->scratch.cap > SCRATCH_KEEP) { /* do not keep a large body's buffer */
		qsg_wbuf_close(&f->scratch);
		qsg_wbuf_init(&f->scratch);
	}
	qsg_wbuf_reset(&f->scratch);
	int rc = QSG_OK;
	if (m->flags & QM_CHUNKED) {
		/* The whole content, part after part (a requester without
		 * FSM_F_CHUNKS, a channel, a DLQ copy). */
		const struct chunkinfo *ck = chunk_find(f, m->seqno);
		if (ck == NULL || ck->nrecv != ck->nparts)
			rc = QSG_RC_IO;
		for (uint32_t i = 0; rc == QSG_OK && i < ck->nparts; i++)
			rc = part_read(f, m, ck, i, &f->scratch);
	} else {
		rc = f->bodies.read(f->bodies.arg, m->seqno, m->props_len, m->body_len, m->crc,
				    &f->scratch);
	}
	if (rc != QSG_OK || f->scratch.err != QSG_OK ||
	    f->scratch.len != (size_t)m->props_len + m->body_len)
		return body_fail(f, "read", m->seqno);
	if (f->scratch.len > 0) {
		v->props.p = f->scratch.data;
		v->body.p = f->scratch.data + m->props_len;
	}
	return QSG_OK;
}

/* msg_renumber of a chunked message: every part moves. */
static int chunked_renumber(struct fsm *f, struct qmsg *m, uint64_t seqno)
{
	struct chunkinfo *ck = chunk_find(f, m->seqno);
	if (ck == NULL || ck->nrecv != ck->nparts)
		return body_fail(f, "read", m->seqno);
	for (uint32_t i = 0; i < ck->nparts; i++) {
		qsg_wbuf_reset(&f->scratch);
		if (part_read(f, m, ck, i, &f->scratch) != QSG_OK)
			return body_fail(f, "read", m->seqno);
		if (f->bodies.put_part(f->bodies.arg, seqno, i, NULL, 0, f->scratch.data,
				       (uint32_t)f->scratch.len, ck->crc[i]) != QSG_OK)
			return body_fail(f, "put", seqno);
	}
	f->bodies.release(f->bodies.arg, m->seqno);
	hmap_remove(&f->chunks, &ck->node);
	ck->seqno = seqno;
	m->seqno = seqno;
	if (hmap_insert(&f->chunks, &ck->node, seq_hash(seqno)) != QSG_OK) {
		free(ck); /* cannot happen: the map had room for it */
		return body_fail(f, "put", seqno);
	}
	return QSG_OK;
}

static int plain_renumber(struct fsm *f, struct qmsg *m, uint64_t seqno)
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

/* The provider renames the content (fsm_bodies.rename): O(1), nothing
 * read or written here. */
static int renamed_renumber(struct fsm *f, struct qmsg *m, uint64_t seqno)
{
	struct chunkinfo *ck = (m->flags & QM_CHUNKED) ? chunk_find(f, m->seqno) : NULL;
	if ((m->flags & QM_CHUNKED) && (ck == NULL || ck->nrecv != ck->nparts))
		return body_fail(f, "read", m->seqno);
	if (f->bodies.rename(f->bodies.arg, m->seqno, seqno) != QSG_OK)
		return body_fail(f, "read", m->seqno);
	m->seqno = seqno;
	if (ck != NULL) {
		hmap_remove(&f->chunks, &ck->node);
		ck->seqno = seqno;
		if (hmap_insert(&f->chunks, &ck->node, seq_hash(seqno)) != QSG_OK) {
			free(ck); /* cannot happen: the map had room for it */
			return body_fail(f, "put", seqno);
		}
	}
	return QSG_OK;
}

int msg_renumber(struct fsm *f, struct qmsg *m, uint64_t seqno)
{
	/* A generated msgid is a function of the seqno: it is stored first
	 * (the message keeps its msgid), and dropped again on failure. */
	bool gen = (m->flags & QM_GENID) != 0;
	int rc = qmsg_keep_msgid(f, m);
	if (rc != QSG_OK)
		return rc;
	if (f->bodies.rename != NULL)
		rc = renamed_renumber(f, m, seqno);
	else if (m->flags & QM_CHUNKED)
		rc = chunked_renumber(f, m, seqno);
	else
		rc = plain_renumber(f, m, seqno);
	if (rc != QSG_OK && gen) {
		memset(m->x->msgid, 0, FSM_ID_LEN);
		m->flags |= QM_GENID;
		qmsg_ext_trim(m);
	}
	return rc;
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
