/* Channel protocol version 1: encoding and validating decoding of the frames
 * declared in chproto.h (layouts there). Every decoder checks the header,
 * every length, every enum and name, and rejects trailing bytes. */
#include "chproto.h"

#include <limits.h>
#include <lz4.h>
#include <string.h>

#define CHP_MIN_COMPRESS 64 /* smaller bodies are sent as they are */
/* LZ4 cannot expand a block by more than 255:1; anything that announces
 * more is malformed (checked before the scratch buffer grows). */
#define CHP_LZ4_MAX_RATIO 256u
#define CHP_MAX_BLOB (PROTO_MAX_FRAME - PROTO_HDR_SIZE)

/* ---- names and values ---- */

static const char *op_name(uint8_t op)
{
	switch (op & (uint8_t)~PROTO_RESP) {
	case CHP_START:
		return "CHP_START";
	case CHP_MSG:
		return "CHP_MSG";
	case CHP_CONFIRM:
		return "CHP_CONFIRM";
	case CHP_HB:
		return "CHP_HB";
	case CHP_END:
		return "CHP_END";
	default:
		return "CHP_?";
	}
}

/* Which op bytes exist: responses only for START and HB. */
static bool op_known(uint8_t raw)
{
	switch (raw) {
	case CHP_START:
	case CHP_START | PROTO_RESP:
	case CHP_MSG:
	case CHP_CONFIRM:
	case CHP_HB:
	case CHP_HB | PROTO_RESP:
	case CHP_END:
		return true;
	default:
		return false;
	}
}

/* Negotiated/proposed parameters shared by START and its response. */
static int check_params(uint32_t batchsz, uint32_t maxmsgl, uint8_t compmsg, uint32_t pipeline,
			const char *what, char *errmsg)
{
	if (batchsz < 1 || batchsz > FSM_MAX_CHBATCH)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%s: BATCHSZ %u out of range", what,
				batchsz);
	if (maxmsgl > FSM_MAX_MSGL)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%s: MAXMSGL %u over the cap", what,
				maxmsgl);
	if (compmsg > FSM_COMP_LZ4)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%s: COMPMSG %u unknown", what, compmsg);
	if (pipeline < 1 || pipeline > FSM_CH_MAX_PIPELINE)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%s: pipeline %u out of range", what,
				pipeline);
	return QSG_OK;
}

/* ---- encoding ---- */

/* Patch the length. A frame over PROTO_MAX_FRAME or one whose field did not
 * fit its length prefix is dropped and w->err set to
 * QSG_RC_DATA_LENGTH_ERROR (a failed allocation leaves
 * QSG_RC_STORAGE_NOT_AVAILABLE). */
static void end_frame(struct qsg_wbuf *w, size_t off)
{
	if (w->err == QSG_OK && proto_frame_patch(w, off) != QSG_OK)
		w->err = QSG_RC_DATA_LENGTH_ERROR;
	if (w->err != QSG_OK && w->len > off)
		w->len = off;
}

/* Reason texts are capped so that they always decode. */
static void put_text(struct qsg_wbuf *w, const char *text)
{
	size_t n = text ? strnlen(text, QSG_ERRMSG_SIZE - 1) : 0;
	qsg_put_strn(w, text, n);
}

void chp_start_encode(struct qsg_wbuf *w, uint32_t reqid, const struct chp_start *s)
{
	size_t off = proto_frame_begin(w, CHP_START, reqid);
	qsg_put_u8(w, s->chver);
	qsg_put_str(w, s->channel);
	qsg_put_str(w, s->sender_qmgr);
	qsg_put_str(w, s->receiver_qmgr);
	qsg_put_u64(w, s->epoch);
	qsg_put_u64(w, s->lstseq);
	qsg_put_u64(w, s->indoubt_first);
	qsg_put_u64(w, s->indoubt_last);
	qsg_put_u64(w, s->reset_seq);
	qsg_put_u32(w, s->batchsz);
	qsg_put_u32(w, s->maxmsgl);
	qsg_put_u32(w, s->hbint);
	qsg_put_u8(w, s->compmsg);
	qsg_put_u32(w, s->pipeline);
	end_frame(w, off);
}

void chp_start_resp_encode(struct qsg_wbuf *w, uint32_t reqid, const struct chp_start_resp *r)
{
	size_t off = proto_frame_begin(w, CHP_START | PROTO_RESP, reqid);
	qsg_put_u32(w, (uint32_t)r->rc);
	put_text(w, r->text);
	if (r->rc == QSG_OK) {
		qsg_put_str(w, r->receiver_qmgr);
		qsg_put_u32(w, r->member_id);
		qsg_put_u64(w, r->lstseq);
		qsg_put_u64(w, r->luwid);
		qsg_put_u32(w, r->batchsz);
		qsg_put_u32(w, r->maxmsgl);
		qsg_put_u32(w, r->hbint);
		qsg_put_u8(w, r->compmsg);
		qsg_put_u32(w, r->pipeline);
	}
	end_frame(w, off);
}

/* The body blob, LZ4-compressed in place when that is worth it; returns
 * true when it compressed (the caller then sets CHP_M_LZ4). */
static bool put_body_lz4(struct qsg_wbuf *w, const struct qsg_slice *body)
{
	if (body->len < CHP_MIN_COMPRESS || body->len > (size_t)LZ4_MAX_INPUT_SIZE ||
	    body->len > UINT32_MAX)
		return false;
	int bound = LZ4_compressBound((int)body->len);
	if (bound <= 0 || qsg_wbuf_reserve(w, 8 + (size_t)bound) != QSG_OK)
		return false;
	/* Compress only what fits in less than the plain body (minus the 4-byte
	 * original length): a larger result is of no use. */
	size_t room = body->len - 4 - 1;
	int n = LZ4_compress_default((const char *)body->p, (char *)w->data + w->len + 8,
				     (int)body->len,
				     (int)(room < (size_t)bound ? room : (size_t)bound));
	if (n <= 0 || (size_t)n + 4 >= body->len)
		return false;
	qsg_put_u32(w, (uint32_t)n + 4);
	qsg_put_u32(w, (uint32_t)body->len);
	w->len += (size_t)n; /* the block is already in place */
	return true;
}

void chp_msg_encode(struct qsg_wbuf *w, const struct chp_msg *m, int compress)
{
	size_t off = proto_frame_begin(w, CHP_MSG, 0);
	uint8_t mflags = m->mflags & CHP_M_LAST;
	qsg_put_u64(w, m->seq);
	size_t flags_off = w->len;
	qsg_put_u8(w, mflags);
	if (mflags & CHP_M_LAST)
		qsg_put_u64(w, m->luwid);
	qsg_put_str(w, m->rqmname);
	qsg_put_str(w, m->rname);
	qsg_put_bytes(w, m->msg.msgid, FSM_ID_LEN);
	qsg_put_bytes(w, m->msg.correlid, FSM_ID_LEN);
	qsg_put_u8(w, m->msg.priority);
	qsg_put_u8(w, m->msg.persistent);
	qsg_put_i64(w, m->msg.expiry_ms);
	qsg_put_blob(w, m->msg.props.p, m->msg.props.len);
	if (w->err == QSG_OK && compress && put_body_lz4(w, &m->msg.body))
		w->data[flags_off] = mflags | CHP_M_LZ4;
	else
		qsg_put_blob(w, m->msg.body.p, m->msg.body.len);
	end_frame(w, off);
}

void chp_confirm_encode(struct qsg_wbuf *w, uint64_t first, uint64_t last, int rc, const char *text,
			const struct chp_reject *rejects, uint32_t n)
{
	size_t off = proto_frame_begin(w, CHP_CONFIRM, 0);
	qsg_put_u64(w, first);
	qsg_put_u64(w, last);
	qsg_put_u32(w, (uint32_t)rc);
	put_text(w, text);
	if (rejects == NULL)
		n = 0;
	qsg_put_u32(w, n);
	for (uint32_t i = 0; i < n; i++) {
		qsg_put_u64(w, rejects[i].seq);
		qsg_put_u32(w, rejects[i].reason);
	}
	end_frame(w, off);
}

void chp_hb_encode(struct qsg_wbuf *w, int response)
{
	size_t off = proto_frame_begin(w, response ? CHP_HB | PROTO_RESP : CHP_HB, 0);
	end_frame(w, off);
}

void chp_end_encode(struct qsg_wbuf *w, int rc, const char *text)
{
	size_t off = proto_frame_begin(w, CHP_END, 0);
	qsg_put_u32(w, (uint32_t)rc);
	put_text(w, text);
	end_frame(w, off);
}

/* ---- decoding ---- */

static int header(const void *p, size_t len, uint32_t *reqid, uint8_t *raw, char *errmsg)
{
	struct proto_hdr h;
	int rc = proto_frame_header(p, len, "channel frame", &h, errmsg);
	if (reqid)
		*reqid = h.reqid;
	*raw = 0;
	if (rc != QSG_OK)
		return rc;
	if (!op_known(h.op))
		return qsg_errf(errmsg, QSG_RC_UNKNOWN_OP, "unknown channel operation code 0x%x",
				h.op);
	if ((h.op & (uint8_t)~PROTO_RESP) == CHP_HB && len != PROTO_HDR_SIZE)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "heartbeat with a %zu-byte body",
				len - PROTO_HDR_SIZE);
	*raw = h.op;
	return QSG_OK;
}

int chp_frame_op(const void *p, size_t len, uint32_t *reqid)
{
	uint8_t raw;
	int rc = header(p, len, reqid, &raw, NULL);
	return rc == QSG_OK ? (int)raw : -rc;
}

/* Header of a frame that must be `want`; r is left after the header. */
static int begin_decode(struct qsg_rbuf *r, const void *p, size_t len, uint8_t want,
			uint32_t *reqid, char *errmsg)
{
	uint8_t raw;
	int rc = header(p, len, reqid, &raw, errmsg);
	if (rc != QSG_OK)
		return rc;
	if (raw != want)
		return qsg_errf(errmsg, QSG_RC_UNKNOWN_OP, "%s%s frame where %s%s was expected",
				op_name(raw), raw & PROTO_RESP ? " response" : "", op_name(want),
				want & PROTO_RESP ? " response" : "");
	qsg_rbuf_init(r, p, len);
	(void)qsg_get_raw(r, PROTO_HDR_SIZE);
	return QSG_OK;
}

static int finish(struct qsg_rbuf *r, uint8_t op, char *errmsg)
{
	return proto_body_end(r, op_name(op), errmsg);
}

/* u32 rc + str text; rc must be a code of the closed set. */
static int get_rc_text(struct qsg_rbuf *r, int *rc, char *text, uint8_t op, char *errmsg)
{
	uint32_t v = qsg_get_u32(r);
	qsg_get_str(r, text, QSG_ERRMSG_SIZE);
	*rc = 0;
	if (r->err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%s: reason code or text truncated",
				op_name(op));
	if (v > INT_MAX || !qsg_rc_valid((int)v))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%s: unknown reason code %u", op_name(op),
				v);
	*rc = (int)v;
	return QSG_OK;
}

int chp_start_decode(const void *p, size_t len, struct chp_start *s, char *errmsg)
{
	struct qsg_rbuf r;
	memset(s, 0, sizeof *s);
	int rc = begin_decode(&r, p, len, CHP_START, NULL, errmsg);
	if (rc != QSG_OK)
		return rc;
	s->chver = qsg_get_u8(&r);
	if (r.err != QSG_OK)
		return finish(&r, CHP_START, errmsg);
	if (s->chver != CHP_VERSION)
		return qsg_errf(errmsg, QSG_RC_BAD_VERSION,
				"channel protocol version %u not supported (this side speaks %d)",
				s->chver, CHP_VERSION);
	qsg_get_str(&r, s->channel, sizeof s->channel);
	qsg_get_str(&r, s->sender_qmgr, sizeof s->sender_qmgr);
	qsg_get_str(&r, s->receiver_qmgr, sizeof s->receiver_qmgr);
	s->epoch = qsg_get_u64(&r);
	s->lstseq = qsg_get_u64(&r);
	s->indoubt_first = qsg_get_u64(&r);
	s->indoubt_last = qsg_get_u64(&r);
	s->reset_seq = qsg_get_u64(&r);
	s->batchsz = qsg_get_u32(&r);
	s->maxmsgl = qsg_get_u32(&r);
	s->hbint = qsg_get_u32(&r);
	s->compmsg = qsg_get_u8(&r);
	s->pipeline = qsg_get_u32(&r);
	if ((rc = finish(&r, CHP_START, errmsg)) != QSG_OK)
		return rc;
	if (!qsg_name_ok(s->channel, FSM_CHNAME_MAX, false))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_START: bad channel name '%s'",
				s->channel);
	if (!qsg_name_ok(s->sender_qmgr, FSM_NAME_MAX, false))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_START: bad sender qmgr name '%s'",
				s->sender_qmgr);
	if (!qsg_name_ok(s->receiver_qmgr, FSM_NAME_MAX, true))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_START: bad receiver qmgr name '%s'",
				s->receiver_qmgr);
	if ((s->indoubt_first == 0) != (s->indoubt_last == 0) || s->indoubt_first > s->indoubt_last)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_START: in-doubt range %llu..%llu",
				(unsigned long long)s->indoubt_first,
				(unsigned long long)s->indoubt_last);
	return check_params(s->batchsz, s->maxmsgl, s->compmsg, s->pipeline, "CHP_START", errmsg);
}

int chp_start_resp_decode(const void *p, size_t len, struct chp_start_resp *rsp, char *errmsg)
{
	struct qsg_rbuf r;
	memset(rsp, 0, sizeof *rsp);
	int rc = begin_decode(&r, p, len, CHP_START | PROTO_RESP, NULL, errmsg);
	if (rc != QSG_OK)
		return rc;
	if ((rc = get_rc_text(&r, &rsp->rc, rsp->text, CHP_START, errmsg)) != QSG_OK)
		return rc;
	if (rsp->rc != QSG_OK)
		return finish(&r, CHP_START, errmsg);
	qsg_get_str(&r, rsp->receiver_qmgr, sizeof rsp->receiver_qmgr);
	rsp->member_id = qsg_get_u32(&r);
	rsp->lstseq = qsg_get_u64(&r);
	rsp->luwid = qsg_get_u64(&r);
	rsp->batchsz = qsg_get_u32(&r);
	rsp->maxmsgl = qsg_get_u32(&r);
	rsp->hbint = qsg_get_u32(&r);
	rsp->compmsg = qsg_get_u8(&r);
	rsp->pipeline = qsg_get_u32(&r);
	if ((rc = finish(&r, CHP_START, errmsg)) != QSG_OK)
		return rc;
	if (!qsg_name_ok(rsp->receiver_qmgr, FSM_NAME_MAX, false))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"CHP_START response: bad receiver qmgr name '%s'",
				rsp->receiver_qmgr);
	return check_params(rsp->batchsz, rsp->maxmsgl, rsp->compmsg, rsp->pipeline,
			    "CHP_START response", errmsg);
}

/* The LZ4 body: u32 original length + block, decompressed into scratch. */
static int decompress_body(struct qsg_slice in, struct qsg_slice *out, struct qsg_wbuf *scratch,
			   uint32_t maxmsgl, char *errmsg)
{
	if (in.len < 4 || in.len - 4 > (size_t)INT_MAX)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_MSG: LZ4 body of %zu bytes", in.len);
	uint32_t orig = qsg_le32(in.p);
	size_t clen = in.len - 4;
	if (orig == 0 || orig > maxmsgl)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"CHP_MSG: LZ4 body announces %u bytes (MAXMSGL %u)", orig, maxmsgl);
	if ((uint64_t)orig > (uint64_t)clen * CHP_LZ4_MAX_RATIO)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"CHP_MSG: %zu LZ4 bytes cannot expand to %u", clen, orig);
	if (qsg_wbuf_reserve(scratch, orig) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
				"CHP_MSG: no memory for a %u-byte body", orig);
	int n = LZ4_decompress_safe((const char *)in.p + 4, (char *)scratch->data, (int)clen,
				    (int)orig);
	if (n < 0 || (uint32_t)n != orig)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"CHP_MSG: LZ4 body does not decompress to the announced %u bytes",
				orig);
	scratch->len = orig;
	out->p = scratch->data;
	out->len = orig;
	return QSG_OK;
}

int chp_msg_decode(const void *p, size_t len, struct chp_msg *m, struct qsg_wbuf *scratch,
		   uint32_t maxmsgl, char *errmsg)
{
	struct qsg_rbuf r;
	memset(m, 0, sizeof *m);
	if (scratch)
		qsg_wbuf_reset(scratch);
	if (maxmsgl > FSM_MAX_MSGL)
		maxmsgl = FSM_MAX_MSGL;
	int rc = begin_decode(&r, p, len, CHP_MSG, NULL, errmsg);
	if (rc != QSG_OK)
		return rc;
	m->seq = qsg_get_u64(&r);
	m->mflags = qsg_get_u8(&r);
	if (r.err == QSG_OK && (m->mflags & ~(CHP_M_LAST | CHP_M_LZ4)) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_MSG: unknown flag bits 0x%x",
				m->mflags);
	if (m->mflags & CHP_M_LAST)
		m->luwid = qsg_get_u64(&r);
	qsg_get_str(&r, m->rqmname, sizeof m->rqmname);
	qsg_get_str(&r, m->rname, sizeof m->rname);
	qsg_get_bytes(&r, m->msg.msgid, FSM_ID_LEN);
	qsg_get_bytes(&r, m->msg.correlid, FSM_ID_LEN);
	m->msg.priority = qsg_get_u8(&r);
	m->msg.persistent = qsg_get_u8(&r);
	m->msg.expiry_ms = qsg_get_i64(&r);
	m->msg.props = qsg_get_blob(&r, FSM_MAX_PROPS);
	struct qsg_slice body = qsg_get_blob(&r, CHP_MAX_BLOB);
	if ((rc = finish(&r, CHP_MSG, errmsg)) != QSG_OK)
		return rc;
	if (m->seq == 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_MSG: sequence number 0");
	if (!qsg_name_ok(m->rqmname, FSM_NAME_MAX, false) ||
	    !qsg_name_ok(m->rname, FSM_NAME_MAX, false))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_MSG: bad destination '%s' at '%s'",
				m->rname, m->rqmname);
	if (m->msg.priority > 9)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_MSG: priority %u out of range",
				m->msg.priority);
	if (m->msg.persistent > 1)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_MSG: persistence %u out of range",
				m->msg.persistent);
	if (m->msg.expiry_ms < 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_MSG: negative expiry %lld",
				(long long)m->msg.expiry_ms);
	if (m->mflags & CHP_M_LZ4) {
		if (scratch == NULL)
			return qsg_errf(errmsg, QSG_RC_INVALID, "CHP_MSG: LZ4 body and no scratch");
		return decompress_body(body, &m->msg.body, scratch, maxmsgl, errmsg);
	}
	if (body.len > maxmsgl)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"CHP_MSG: body of %zu bytes over MAXMSGL %u", body.len, maxmsgl);
	m->msg.body = body;
	return QSG_OK;
}

#define REJECT_SIZE 12 /* u64 seq + u32 reason */

static int reject_at(const struct chp_confirm *c, size_t cursor, struct chp_reject *out)
{
	if (c->rejects.len - cursor < REJECT_SIZE || c->rejects.p == NULL)
		return -QSG_RC_BAD_FRAME;
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, c->rejects.p + cursor, REJECT_SIZE);
	out->seq = qsg_get_u64(&r);
	out->reason = qsg_get_u32(&r);
	if (out->seq < c->first || out->seq > c->last || out->reason == 0 ||
	    out->reason > INT_MAX || !qsg_rc_valid((int)out->reason))
		return -QSG_RC_BAD_FRAME;
	return 1;
}

int chp_confirm_decode(const void *p, size_t len, struct chp_confirm *c, char *errmsg)
{
	struct qsg_rbuf r;
	memset(c, 0, sizeof *c);
	int rc = begin_decode(&r, p, len, CHP_CONFIRM, NULL, errmsg);
	if (rc != QSG_OK)
		return rc;
	c->first = qsg_get_u64(&r);
	c->last = qsg_get_u64(&r);
	if ((rc = get_rc_text(&r, &c->rc, c->text, CHP_CONFIRM, errmsg)) != QSG_OK)
		return rc;
	c->nreject = qsg_get_u32(&r);
	if (r.err == QSG_OK && c->nreject > FSM_MAX_CHBATCH)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_CONFIRM: %u rejects", c->nreject);
	c->rejects = qsg_get_raw(&r, (size_t)c->nreject * REJECT_SIZE);
	if ((rc = finish(&r, CHP_CONFIRM, errmsg)) != QSG_OK)
		return rc;
	bool batch = c->rc == QSG_OK || c->rc == QSG_RC_BATCH_REJECTED;
	if (c->first > c->last || (batch && c->first == 0))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_CONFIRM: batch %llu..%llu",
				(unsigned long long)c->first, (unsigned long long)c->last);
	if ((c->rc == QSG_RC_BATCH_REJECTED) != (c->nreject > 0))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_CONFIRM: %u rejects with rc %d",
				c->nreject, c->rc);
	if ((uint64_t)c->nreject - 1 > c->last - c->first && c->nreject > 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_CONFIRM: %u rejects in %llu..%llu",
				c->nreject, (unsigned long long)c->first,
				(unsigned long long)c->last);
	/* Every entry in range, with a real reason, in increasing order. */
	uint64_t prev = 0;
	for (size_t cur = 0; cur < c->rejects.len; cur += REJECT_SIZE) {
		struct chp_reject rj;
		if (reject_at(c, cur, &rj) != 1 || (cur > 0 && rj.seq <= prev))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHP_CONFIRM: reject %zu invalid",
					cur / REJECT_SIZE);
		prev = rj.seq;
	}
	return QSG_OK;
}

int chp_reject_next(const struct chp_confirm *c, size_t *cursor, struct chp_reject *r)
{
	if (*cursor == c->rejects.len)
		return 0;
	if (*cursor > c->rejects.len)
		return -QSG_RC_BAD_FRAME;
	int rc = reject_at(c, *cursor, r);
	if (rc == 1)
		*cursor += REJECT_SIZE;
	return rc;
}

int chp_end_decode(const void *p, size_t len, struct chp_end *e, char *errmsg)
{
	struct qsg_rbuf r;
	memset(e, 0, sizeof *e);
	int rc = begin_decode(&r, p, len, CHP_END, NULL, errmsg);
	if (rc != QSG_OK)
		return rc;
	if ((rc = get_rc_text(&r, &e->rc, e->text, CHP_END, errmsg)) != QSG_OK)
		return rc;
	return finish(&r, CHP_END, errmsg);
}

bool chp_is_start(const uint8_t *p, size_t len)
{
	return len > 5 && p[5] == CHP_START; /* u32 len, u8 version, u8 op */
}
