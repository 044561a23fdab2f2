/* Channel codecs of the state machine (fsm_chan.h): the encoded lists inside
 * channel commands and results, the transmission and dead-letter headers,
 * and the channel state names. Part of libqsgfsm; used by the state machine
 * and by the daemon's channel code. */
#include <string.h>

#include "fsm.h"

/* --- channel lists (fsm_chan.h) ------------------------------------------ */

void fsm_chiter_init(struct fsm_chiter *it, const struct fsm_chcmd *ch)
{
	qsg_rbuf_init(&it->r, ch->list.p, ch->list.len);
	it->left = ch->count;
}

void fsm_chiter_result(struct fsm_chiter *it, const struct fsm_chresult *res)
{
	qsg_rbuf_init(&it->r, res->list.p, res->list.len);
	it->left = res->count;
}

/* No item left: done, and the list must have been consumed exactly. */
static int chiter_next(struct fsm_chiter *it, int *done)
{
	if (it->r.err != QSG_OK) {
		*done = 1;
		return QSG_RC_BAD_FRAME;
	}
	if (it->left > 0) {
		*done = 0;
		return QSG_OK;
	}
	*done = 1;
	return qsg_rbuf_left(&it->r) == 0 ? QSG_OK : QSG_RC_BAD_FRAME;
}

int fsm_chiter_disp(struct fsm_chiter *it, struct fsm_chdisp *d, int *done)
{
	memset(d, 0, sizeof *d);
	int rc = chiter_next(it, done);
	if (rc != QSG_OK || *done)
		return rc;
	d->seq = qsg_get_u64(&it->r);
	d->action = qsg_get_u8(&it->r);
	d->reason = qsg_get_u32(&it->r);
	d->hold_ms = qsg_get_u32(&it->r);
	if (it->r.err != QSG_OK)
		return QSG_RC_BAD_FRAME;
	if (d->seq == 0 || d->action < FSM_DISP_DLQ || d->action > FSM_DISP_LIST_DLQ) {
		it->r.err = QSG_RC_BAD_FRAME;
		return QSG_RC_BAD_FRAME;
	}
	it->left--;
	return QSG_OK;
}

int fsm_chiter_msg(struct fsm_chiter *it, struct fsm_chmsg *m, int *done)
{
	memset(m, 0, sizeof *m);
	int rc = chiter_next(it, done);
	if (rc != QSG_OK || *done)
		return rc;
	qsg_get_str(&it->r, m->rqmname, sizeof m->rqmname);
	qsg_get_str(&it->r, m->rname, sizeof m->rname);
	fsm_msg_decode(&it->r, &m->msg);
	if (it->r.err != QSG_OK)
		return QSG_RC_BAD_FRAME;
	if (m->msg.expiry_ms < 0) {
		it->r.err = QSG_RC_BAD_FRAME;
		return QSG_RC_BAD_FRAME;
	}
	it->left--;
	return QSG_OK;
}

int fsm_chiter_batch(struct fsm_chiter *it, uint64_t *seq, struct fsm_msg *m, int *done)
{
	memset(m, 0, sizeof *m);
	*seq = 0;
	int rc = chiter_next(it, done);
	if (rc != QSG_OK || *done)
		return rc;
	*seq = qsg_get_u64(&it->r);
	fsm_msg_decode(&it->r, m);
	if (it->r.err != QSG_OK)
		return QSG_RC_BAD_FRAME;
	it->left--;
	return QSG_OK;
}

int fsm_chiter_reject(struct fsm_chiter *it, uint32_t *index, uint32_t *reason, int *done)
{
	*index = *reason = 0;
	int rc = chiter_next(it, done);
	if (rc != QSG_OK || *done)
		return rc;
	*index = qsg_get_u32(&it->r);
	*reason = qsg_get_u32(&it->r);
	if (it->r.err != QSG_OK)
		return QSG_RC_BAD_FRAME;
	it->left--;
	return QSG_OK;
}

void fsm_chlist_put_disp(struct qsg_wbuf *w, const struct fsm_chdisp *d)
{
	qsg_put_u64(w, d->seq);
	qsg_put_u8(w, d->action);
	qsg_put_u32(w, d->reason);
	qsg_put_u32(w, d->hold_ms);
}

void fsm_chlist_put_msg(struct qsg_wbuf *w, const struct fsm_chmsg *m)
{
	qsg_put_str(w, m->rqmname);
	qsg_put_str(w, m->rname);
	fsm_msg_encode(w, &m->msg);
}

/* --- transmission and dead-letter headers -------------------------------- */

#define HDR_VERSION 1

void fsm_xqh_encode(struct qsg_wbuf *w, const struct fsm_xqh *h)
{
	qsg_put_bytes(w, "XQH ", 4);
	qsg_put_u8(w, HDR_VERSION);
	qsg_put_str(w, h->rqmname);
	qsg_put_str(w, h->rname);
	qsg_put_str(w, h->srcqmgr);
	qsg_put_i64(w, h->put_ms);
}

int fsm_xqh_decode(const void *body, size_t len, struct fsm_xqh *h, size_t *hdr_len)
{
	struct qsg_rbuf r;
	uint8_t magic[4];
	memset(h, 0, sizeof *h);
	*hdr_len = 0;
	qsg_rbuf_init(&r, body, len);
	qsg_get_bytes(&r, magic, 4);
	uint8_t version = qsg_get_u8(&r);
	qsg_get_str(&r, h->rqmname, sizeof h->rqmname);
	qsg_get_str(&r, h->rname, sizeof h->rname);
	qsg_get_str(&r, h->srcqmgr, sizeof h->srcqmgr);
	h->put_ms = qsg_get_i64(&r);
	if (r.err != QSG_OK || memcmp(magic, "XQH ", 4) != 0) {
		memset(h, 0, sizeof *h);
		return QSG_RC_BAD_FRAME;
	}
	if (version != HDR_VERSION) {
		memset(h, 0, sizeof *h);
		return QSG_RC_BAD_VERSION;
	}
	*hdr_len = r.pos;
	return QSG_OK;
}

void fsm_dlh_encode(struct qsg_wbuf *w, const struct fsm_dlh *h)
{
	qsg_put_bytes(w, "DLH ", 4);
	qsg_put_u8(w, HDR_VERSION);
	qsg_put_u32(w, h->reason);
	qsg_put_str(w, h->destq);
	qsg_put_str(w, h->destqmgr);
	qsg_put_i64(w, h->put_ms);
	qsg_put_str(w, h->channel);
}

int fsm_dlh_decode(const void *body, size_t len, struct fsm_dlh *h, size_t *hdr_len)
{
	struct qsg_rbuf r;
	uint8_t magic[4];
	memset(h, 0, sizeof *h);
	*hdr_len = 0;
	qsg_rbuf_init(&r, body, len);
	qsg_get_bytes(&r, magic, 4);
	uint8_t version = qsg_get_u8(&r);
	h->reason = qsg_get_u32(&r);
	qsg_get_str(&r, h->destq, sizeof h->destq);
	qsg_get_str(&r, h->destqmgr, sizeof h->destqmgr);
	h->put_ms = qsg_get_i64(&r);
	qsg_get_str(&r, h->channel, sizeof h->channel);
	if (r.err != QSG_OK || memcmp(magic, "DLH ", 4) != 0) {
		memset(h, 0, sizeof *h);
		return QSG_RC_BAD_FRAME;
	}
	if (version != HDR_VERSION) {
		memset(h, 0, sizeof *h);
		return QSG_RC_BAD_VERSION;
	}
	*hdr_len = r.pos;
	return QSG_OK;
}

const char *fsm_chstate_name(uint8_t st)
{
	switch (st) {
	case FSM_CHS_STOPPED:
		return "STOPPED";
	case FSM_CHS_STARTING:
		return "STARTING";
	case FSM_CHS_RUNNING:
		return "RUNNING";
	case FSM_CHS_RETRYING:
		return "RETRYING";
	case FSM_CHS_RECOVERING:
		return "RECOVERING";
	default:
		return "INACTIVE";
	}
}
