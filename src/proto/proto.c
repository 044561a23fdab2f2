/* Client protocol version 1: framing, encoding and validating decoding.
 * Byte-level layout of every body: docs/protocol.md. */
#include "proto.h"

#include <limits.h>
#include <string.h>

#include "common/crc32c.h"

/* Upper bounds of the variable-length fields. */
#define MAX_FWD_BLOB (PROTO_MAX_FRAME - PROTO_HDR_SIZE - 8)
/* FETCH answers: what a response frame holds after rc, the longest text
 * and the count. */
#define MAX_FETCH_ITEMS (PROTO_MAX_FRAME - PROTO_HDR_SIZE - 4 - 2 - PROTO_MAX_TEXT - 4)
#define FETCH_ITEM_HDR 9 /* u64 seqno, u8 found */
#define FETCH_BODY_HDR 8 /* u32 crc, u32 len */

static const char *op_name(uint8_t op)
{
	switch (op) {
	case PROTO_HELLO:
		return "HELLO";
	case PROTO_PUT:
		return "PUT";
	case PROTO_GET:
		return "GET";
	case PROTO_BROWSE:
		return "BROWSE";
	case PROTO_COMMIT:
		return "COMMIT";
	case PROTO_BACKOUT:
		return "BACKOUT";
	case PROTO_OPEN:
		return "OPEN";
	case PROTO_CLOSE:
		return "CLOSE";
	case PROTO_ADMIN:
		return "ADMIN";
	case PROTO_PING:
		return "PING";
	case PROTO_FORWARD:
		return "FORWARD";
	case PROTO_FETCH:
		return "FETCH";
	case PROTO_FETCH_BASE:
		return "FETCH_BASE";
	case PROTO_PUT_CHUNK:
		return "PUT_CHUNK";
	case PROTO_GETX:
		return "GETX";
	case PROTO_BROWSEX:
		return "BROWSEX";
	case PROTO_GET_PART:
		return "GET_PART";
	case PROTO_GET_DONE:
		return "GET_DONE";
	default:
		return NULL;
	}
}

int proto_frame_check(const void *p, size_t avail, size_t *frame_len)
{
	*frame_len = 0;
	if (avail < 4)
		return QSG_OK;
	uint32_t len = qsg_le32(p);
	if (len < PROTO_HDR_SIZE - 4)
		return QSG_RC_BAD_FRAME;
	if (len > PROTO_MAX_FRAME)
		return QSG_RC_FRAME_TOO_LARGE;
	if (avail - 4 >= len)
		*frame_len = (size_t)len + 4;
	return QSG_OK;
}

/* ---- encoding ---- */

size_t proto_frame_begin(struct qsg_wbuf *w, uint8_t op, uint32_t reqid)
{
	size_t off = w->len;
	qsg_put_u32(w, 0);
	qsg_put_u8(w, PROTO_VERSION);
	qsg_put_u8(w, op);
	qsg_put_u16(w, 0);
	qsg_put_u32(w, reqid);
	return off;
}

int proto_frame_patch(struct qsg_wbuf *w, size_t off)
{
	if (w->len - off - 4 > PROTO_MAX_FRAME)
		return QSG_RC_FRAME_TOO_LARGE;
	qsg_patch_u32(w, off, (uint32_t)(w->len - off - 4));
	return QSG_OK;
}

/* Patch the length; on any error drop the partial frame and return it. */
static int end_frame(struct qsg_wbuf *w, size_t off, int rc)
{
	if (rc == QSG_OK && w->err != QSG_OK)
		rc = w->err == QSG_RC_DATA_LENGTH_ERROR ? QSG_RC_DATA_LENGTH_ERROR
							: QSG_RC_STORAGE_NOT_AVAILABLE;
	if (rc == QSG_OK)
		rc = proto_frame_patch(w, off);
	if (rc != QSG_OK) {
		if (w->err == QSG_OK || w->err == QSG_RC_DATA_LENGTH_ERROR) {
			if (w->len > off)
				w->len = off;
			w->err = QSG_OK;
		}
		return rc;
	}
	return QSG_OK;
}

static int check_queue(const char *q)
{
	size_t n = strnlen(q, FSM_NAME_MAX + 1);
	return n >= 1 && n <= FSM_NAME_MAX ? QSG_OK : QSG_RC_INVALID;
}

static int check_msg(const struct fsm_msg *m)
{
	if (m->priority > 9)
		return QSG_RC_PRIORITY_ERROR;
	if (m->body.len > FSM_MAX_MSGL)
		return QSG_RC_MSG_TOO_BIG;
	if (m->props.len > FSM_MAX_PROPS)
		return QSG_RC_DATA_LENGTH_ERROR;
	return QSG_OK;
}

static int fetch_req_encode(const struct proto_req *req, struct qsg_wbuf *w)
{
	uint32_t n = req->u.fetch.count;
	const uint64_t *keys = req->u.fetch.seqnos;
	if (n == 0 || n > PROTO_FETCH_MAX)
		return QSG_RC_DATA_LENGTH_ERROR;
	if (keys == NULL && req->u.fetch.raw.len != (size_t)n * 8)
		return QSG_RC_DATA_LENGTH_ERROR;
	qsg_put_u32(w, n);
	uint64_t prev = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t k = keys != NULL ? keys[i] : proto_fetch_seqno(req, i);
		if (i > 0 && k <= prev)
			return QSG_RC_INVALID;
		qsg_put_u64(w, k);
		prev = k;
	}
	return QSG_OK;
}

int proto_req_encode(const struct proto_req *req, struct qsg_wbuf *w)
{
	if (op_name(req->op) == NULL)
		return QSG_RC_UNKNOWN_OP;
	size_t off = proto_frame_begin(w, req->op, req->reqid);
	int rc = QSG_OK;
	switch (req->op) {
	case PROTO_HELLO:
		if (req->u.hello.app.len > PROTO_MAX_APP ||
		    req->u.hello.user.len > PROTO_MAX_USER ||
		    req->u.hello.password.len > PROTO_MAX_PASSWORD ||
		    (req->u.hello.user.len == 0 && req->u.hello.password.len > 0)) {
			rc = QSG_RC_DATA_LENGTH_ERROR;
			break;
		}
		qsg_put_u8(w, req->u.hello.kind);
		qsg_put_u64(w, req->u.hello.client_id);
		qsg_put_u32(w, req->u.hello.member_id);
		qsg_put_strn(w, (const char *)req->u.hello.app.p, req->u.hello.app.len);
		if (req->u.hello.user.len > 0) { /* optional: credentials */
			qsg_put_strn(w, (const char *)req->u.hello.user.p, req->u.hello.user.len);
			qsg_put_strn(w, (const char *)req->u.hello.password.p,
				     req->u.hello.password.len);
		}
		break;
	case PROTO_PUT:
	case PROTO_PUT_CHUNK: {
		const struct fsm_msg *m = &req->u.put.msg;
		if ((rc = check_queue(req->u.put.queue)) != QSG_OK || (rc = check_msg(m)) != QSG_OK)
			break;
		if (req->op == PROTO_PUT_CHUNK && m->body.len > FSM_CHUNK_MAX) {
			rc = QSG_RC_DATA_LENGTH_ERROR;
			break;
		}
		qsg_put_str(w, req->u.put.queue);
		qsg_put_u64(w, req->u.put.seq);
		qsg_put_u32(w, req->u.put.flags);
		qsg_put_bytes(w, m->msgid, FSM_ID_LEN);
		qsg_put_bytes(w, m->correlid, FSM_ID_LEN);
		qsg_put_u8(w, m->priority);
		qsg_put_i64(w, m->expiry_ms);
		qsg_put_blob(w, m->props.p, m->props.len);
		if (req->op == PROTO_PUT_CHUNK) {
			qsg_put_u64(w, req->u.put.seqno);
			qsg_put_u32(w, req->u.put.part);
			qsg_put_u32(w, req->u.put.total);
		}
		qsg_put_blob(w, m->body.p, m->body.len);
		break;
	}
	case PROTO_GET_PART:
	case PROTO_GET_DONE:
		qsg_put_u64(w, req->u.part.seqno);
		if (req->op == PROTO_GET_PART) {
			qsg_put_u32(w, req->u.part.part);
			qsg_put_u32(w, req->u.part.len);
			qsg_put_u32(w, req->u.part.crc);
		}
		break;
	case PROTO_GET:
	case PROTO_BROWSE:
	case PROTO_GETX:
	case PROTO_BROWSEX:
		if ((rc = check_queue(req->u.get.queue)) != QSG_OK)
			break;
		if (req->u.get.match.priority > 9) {
			rc = QSG_RC_PRIORITY_ERROR;
			break;
		}
		qsg_put_str(w, req->u.get.queue);
		qsg_put_u32(w, req->u.get.flags);
		qsg_put_u32(w, (uint32_t)req->u.get.wait_ms);
		qsg_put_bytes(w, req->u.get.match.msgid, FSM_ID_LEN);
		qsg_put_bytes(w, req->u.get.match.correlid, FSM_ID_LEN);
		qsg_put_u8(w, req->u.get.match.priority);
		qsg_put_u64(w, req->u.get.match.seqno);
		break;
	case PROTO_COMMIT:
		qsg_put_u64(w, req->u.commit.uow);
		break;
	case PROTO_OPEN:
	case PROTO_CLOSE:
		if ((rc = check_queue(req->u.open.queue)) != QSG_OK)
			break;
		qsg_put_str(w, req->u.open.queue);
		break;
	case PROTO_ADMIN:
		if (req->u.admin.text.len > PROTO_MAX_TEXT) {
			rc = QSG_RC_DATA_LENGTH_ERROR;
			break;
		}
		qsg_put_blob(w, req->u.admin.text.p, req->u.admin.text.len);
		break;
	case PROTO_FORWARD:
		if (req->u.forward.cmd.len > MAX_FWD_BLOB) {
			rc = QSG_RC_FRAME_TOO_LARGE;
			break;
		}
		qsg_put_u32(w, req->u.forward.member_id);
		qsg_put_blob(w, req->u.forward.cmd.p, req->u.forward.cmd.len);
		break;
	case PROTO_FETCH:
		rc = fetch_req_encode(req, w);
		break;
	case PROTO_FETCH_BASE:
		if (req->u.base.max == 0 || req->u.base.max > PROTO_BASE_CHUNK) {
			rc = QSG_RC_DATA_LENGTH_ERROR;
			break;
		}
		qsg_put_u64(w, req->u.base.index);
		qsg_put_u64(w, req->u.base.size);
		qsg_put_u32(w, req->u.base.crc);
		qsg_put_u64(w, req->u.base.offset);
		qsg_put_u32(w, req->u.base.max);
		break;
	case PROTO_BACKOUT: /* empty body, or its flags */
		if (req->u.backout.flags != 0)
			qsg_put_u32(w, req->u.backout.flags);
		break;
	default: /* PING: empty body */
		break;
	}
	return end_frame(w, off, rc);
}

int proto_resp_encode(const struct proto_resp *resp, struct qsg_wbuf *w)
{
	if (op_name(resp->op) == NULL)
		return QSG_RC_UNKNOWN_OP;
	if (resp->rc < 0)
		return QSG_RC_INVALID;
	size_t off = proto_frame_begin(w, (uint8_t)(resp->op | PROTO_RESP), resp->reqid);
	int rc = QSG_OK;
	qsg_put_u32(w, (uint32_t)resp->rc);
	/* Reason text on failure; optional informational text on success
	 * (e.g. the MQSC message of an ADMIN command). */
	size_t ntext = resp->text.len > PROTO_MAX_TEXT ? PROTO_MAX_TEXT : resp->text.len;
	qsg_put_strn(w, (const char *)resp->text.p, ntext);
	if (resp->rc != QSG_OK)
		return end_frame(w, off, rc);
	switch (resp->op) {
	case PROTO_HELLO: {
		size_t nq = resp->u.hello.qmgr.len, ng = resp->u.hello.group.len;
		if (nq > FSM_NAME_MAX || ng > FSM_NAME_MAX) {
			rc = QSG_RC_DATA_LENGTH_ERROR;
			break;
		}
		qsg_put_u64(w, resp->u.hello.epoch);
		qsg_put_u64(w, resp->u.hello.put_seq);
		qsg_put_u64(w, resp->u.hello.uows_done);
		qsg_put_u32(w, resp->u.hello.member_id);
		qsg_put_strn(w, (const char *)resp->u.hello.qmgr.p, nq);
		qsg_put_strn(w, (const char *)resp->u.hello.group.p, ng);
		break;
	}
	case PROTO_PUT:
	case PROTO_PUT_CHUNK:
		qsg_put_u8(w, resp->u.put.duplicate ? 1 : 0);
		qsg_put_bytes(w, resp->u.put.msgid, FSM_ID_LEN);
		if (resp->op == PROTO_PUT_CHUNK)
			qsg_put_u64(w, resp->u.put.seqno);
		break;
	case PROTO_GET:
	case PROTO_BROWSE:
	case PROTO_GETX:
	case PROTO_BROWSEX:
		if ((rc = check_msg(&resp->u.get.msg)) != QSG_OK)
			break;
		fsm_msg_encode(w, &resp->u.get.msg);
		if (resp->op == PROTO_GETX || resp->op == PROTO_BROWSEX) {
			uint32_t n = resp->u.get.nparts;
			if (n == 1 || n > FSM_MAX_PARTS ||
			    resp->u.get.part_crc.len != (size_t)n * 4) {
				rc = QSG_RC_INVALID;
				break;
			}
			qsg_put_u32(w, n);
			if (n > 0) {
				qsg_put_u32(w, resp->u.get.body_len);
				qsg_put_bytes(w, resp->u.get.part_crc.p, resp->u.get.part_crc.len);
			}
		}
		break;
	case PROTO_GET_PART:
		if (resp->u.part.data.len > PROTO_PART_MAX) {
			rc = QSG_RC_DATA_LENGTH_ERROR;
			break;
		}
		qsg_put_blob(w, resp->u.part.data.p, resp->u.part.data.len);
		break;
	case PROTO_ADMIN:
		qsg_put_u32(w, resp->u.admin.nobjects);
		qsg_put_bytes(w, resp->u.admin.objects.p, resp->u.admin.objects.len);
		break;
	case PROTO_FORWARD:
		if (resp->u.forward.result.len > MAX_FWD_BLOB) {
			rc = QSG_RC_FRAME_TOO_LARGE;
			break;
		}
		qsg_put_blob(w, resp->u.forward.result.p, resp->u.forward.result.len);
		break;
	case PROTO_FETCH_BASE:
		if (resp->u.base.data.len > PROTO_BASE_CHUNK) {
			rc = QSG_RC_DATA_LENGTH_ERROR;
			break;
		}
		qsg_put_u64(w, resp->u.base.offset);
		qsg_put_u32(w, resp->u.base.crc);
		qsg_put_blob(w, resp->u.base.data.p, resp->u.base.data.len);
		break;
	case PROTO_FETCH:
		if (resp->u.fetch.count > PROTO_FETCH_MAX ||
		    resp->u.fetch.items.len > MAX_FETCH_ITEMS) {
			rc = QSG_RC_DATA_LENGTH_ERROR;
			break;
		}
		qsg_put_u32(w, resp->u.fetch.count);
		qsg_put_bytes(w, resp->u.fetch.items.p, resp->u.fetch.items.len);
		break;
	default: /* COMMIT, BACKOUT, OPEN, CLOSE, PING: empty body */
		break;
	}
	return end_frame(w, off, rc);
}

/* ---- decoding ---- */

/* A str as a slice into the frame (at most max bytes, no NUL bytes). */
static struct qsg_slice get_str_slice(struct qsg_rbuf *r, size_t max)
{
	struct qsg_slice s = {NULL, 0};
	size_t n = qsg_get_u16(r);
	if (r->err != QSG_OK)
		return s;
	if (n > max) {
		r->err = QSG_RC_BAD_FRAME;
		return s;
	}
	s = qsg_get_raw(r, n);
	if (n > 0 && s.p != NULL && memchr(s.p, '\0', n) != NULL) {
		r->err = QSG_RC_BAD_FRAME;
		s.p = NULL;
		s.len = 0;
	}
	return s;
}

/* Queue name: 1..FSM_NAME_MAX characters. */
static int get_queue(struct qsg_rbuf *r, char *dst, char *errmsg)
{
	qsg_get_str(r, dst, FSM_NAME_MAX + 1);
	if (r->err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"queue name truncated, longer than %d characters or has a NUL",
				FSM_NAME_MAX);
	if (dst[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "empty queue name");
	return QSG_OK;
}

int proto_frame_header(const void *p, size_t len, const char *what, struct proto_hdr *h,
		       char *errmsg)
{
	memset(h, 0, sizeof *h);
	if (p == NULL || len < PROTO_HDR_SIZE)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"%s of %zu bytes is shorter than the %d-byte header", what, len,
				PROTO_HDR_SIZE);
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, p, len);
	h->len = qsg_get_u32(&r);
	h->version = qsg_get_u8(&r);
	h->op = qsg_get_u8(&r);
	(void)qsg_get_u16(&r); /* flags: reserved, ignored */
	h->reqid = qsg_get_u32(&r);
	if ((size_t)h->len != len - 4)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"length field %u does not match the frame size %zu", h->len, len);
	if (h->len > PROTO_MAX_FRAME)
		return qsg_errf(errmsg, QSG_RC_FRAME_TOO_LARGE, "frame length %u over the limit %u",
				h->len, (unsigned)PROTO_MAX_FRAME);
	if (h->version != PROTO_VERSION)
		return qsg_errf(errmsg, QSG_RC_BAD_VERSION,
				"protocol version %u not supported (this side speaks %d)",
				h->version, PROTO_VERSION);
	return QSG_OK;
}

int proto_body_end(const struct qsg_rbuf *r, const char *opname, char *errmsg)
{
	if (r->err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"%s body truncated or a length field out of range", opname);
	if (qsg_rbuf_left(r) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%zu trailing bytes after the %s body",
				qsg_rbuf_left(r), opname);
	return QSG_OK;
}

/* Header: sets *op (without PROTO_RESP) and *reqid when readable; r is left
 * after the header. */
static int decode_header(struct qsg_rbuf *r, size_t len, bool resp, uint8_t *op, uint32_t *reqid,
			 char *errmsg)
{
	struct proto_hdr h;
	int rc = proto_frame_header(r->p, len, "frame", &h, errmsg);
	*reqid = h.reqid;
	*op = (uint8_t)(h.op & ~PROTO_RESP);
	if (rc != QSG_OK)
		return rc;
	(void)qsg_get_raw(r, PROTO_HDR_SIZE);
	if (op_name(*op) == NULL)
		return qsg_errf(errmsg, QSG_RC_UNKNOWN_OP, "unknown operation code %u", h.op);
	if (((h.op & PROTO_RESP) != 0) != resp)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%s frame where a %s was expected",
				resp ? "request" : "response", resp ? "response" : "request");
	return QSG_OK;
}

static int finish(struct qsg_rbuf *r, uint8_t op, char *errmsg)
{
	return proto_body_end(r, op_name(op), errmsg);
}

static int fetch_req_decode(struct qsg_rbuf *r, struct proto_req *req, char *errmsg)
{
	uint32_t n = qsg_get_u32(r);
	if (r->err != QSG_OK)
		return finish(r, req->op, errmsg);
	if (n == 0 || n > PROTO_FETCH_MAX)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "FETCH: %u seqnos (1 to %d allowed)", n,
				PROTO_FETCH_MAX);
	if (qsg_rbuf_left(r) < (size_t)n * 8)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"FETCH: %u seqnos need %zu bytes, the frame has %zu", n,
				(size_t)n * 8, qsg_rbuf_left(r));
	req->u.fetch.count = n;
	req->u.fetch.raw = qsg_get_raw(r, (size_t)n * 8);
	int rc = finish(r, req->op, errmsg);
	if (rc != QSG_OK)
		return rc;
	for (uint32_t i = 1; i < n; i++)
		if (proto_fetch_seqno(req, i) <= proto_fetch_seqno(req, i - 1))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"FETCH: seqno %u is not above the one before it", i + 1);
	return QSG_OK;
}

int proto_req_decode(const void *p, size_t len, struct proto_req *req, char *errmsg)
{
	struct qsg_rbuf r;
	memset(req, 0, sizeof *req);
	qsg_rbuf_init(&r, p, len);
	int rc = decode_header(&r, len, false, &req->op, &req->reqid, errmsg);
	if (rc != QSG_OK)
		return rc;
	switch (req->op) {
	case PROTO_HELLO:
		req->u.hello.kind = qsg_get_u8(&r);
		req->u.hello.client_id = qsg_get_u64(&r);
		req->u.hello.member_id = qsg_get_u32(&r);
		req->u.hello.app = get_str_slice(&r, PROTO_MAX_APP);
		if (r.err == QSG_OK && qsg_rbuf_left(&r) > 0) { /* optional: credentials */
			size_t left = qsg_rbuf_left(&r);
			req->u.hello.user = get_str_slice(&r, PROTO_MAX_USER);
			req->u.hello.password = get_str_slice(&r, PROTO_MAX_PASSWORD);
			if (r.err != QSG_OK || req->u.hello.user.len == 0 || qsg_rbuf_left(&r) != 0)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"HELLO: %zu trailing bytes after the application "
						"name are not credentials (str user 1..%d, str "
						"password 0..%d)",
						left, PROTO_MAX_USER, PROTO_MAX_PASSWORD);
		}
		if ((rc = finish(&r, req->op, errmsg)) != QSG_OK)
			return rc;
		if (req->u.hello.kind != PROTO_KIND_CLIENT &&
		    req->u.hello.kind != PROTO_KIND_MEMBER)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "HELLO: unknown peer kind %u",
					req->u.hello.kind);
		if (req->u.hello.kind == PROTO_KIND_CLIENT && req->u.hello.client_id == 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "HELLO: client_id must not be 0");
		return QSG_OK;
	case PROTO_PUT:
	case PROTO_PUT_CHUNK: {
		struct fsm_msg *m = &req->u.put.msg;
		if ((rc = get_queue(&r, req->u.put.queue, errmsg)) != QSG_OK)
			return rc;
		req->u.put.seq = qsg_get_u64(&r);
		req->u.put.flags = qsg_get_u32(&r);
		qsg_get_bytes(&r, m->msgid, FSM_ID_LEN);
		qsg_get_bytes(&r, m->correlid, FSM_ID_LEN);
		m->priority = qsg_get_u8(&r);
		m->expiry_ms = qsg_get_i64(&r);
		m->props = qsg_get_blob(&r, FSM_MAX_PROPS);
		if (req->op == PROTO_PUT_CHUNK) {
			req->u.put.seqno = qsg_get_u64(&r);
			req->u.put.part = qsg_get_u32(&r);
			req->u.put.total = qsg_get_u32(&r);
			m->body = qsg_get_blob(&r, FSM_CHUNK_MAX);
		} else {
			m->body = qsg_get_blob(&r, FSM_MAX_MSGL);
		}
		if ((rc = finish(&r, req->op, errmsg)) != QSG_OK)
			return rc;
		if (req->op == PROTO_PUT_CHUNK &&
		    (req->u.put.total > FSM_MAX_MSGL ||
		     req->u.put.part >= fsm_nparts(req->u.put.total) ||
		     m->body.len != fsm_part_len(0, req->u.put.total, req->u.put.part) ||
		     (req->u.put.part == 0) != (req->u.put.seqno == 0) ||
		     (req->u.put.part > 0 && m->props.len > 0)))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"PUT_CHUNK: part %u of %zu bytes does not fit a body of %u "
					"bytes",
					req->u.put.part, m->body.len, req->u.put.total);
		if (m->priority > 9)
			return qsg_errf(errmsg, QSG_RC_PRIORITY_ERROR,
					"PUT: priority %u is not 0 to 9", m->priority);
		if (m->expiry_ms < 0)
			return qsg_errf(errmsg, QSG_RC_EXPIRY_ERROR, "PUT: negative expiry");
		return QSG_OK;
	}
	case PROTO_GET_PART:
	case PROTO_GET_DONE:
		req->u.part.seqno = qsg_get_u64(&r);
		if (req->op == PROTO_GET_PART) {
			req->u.part.part = qsg_get_u32(&r);
			req->u.part.len = qsg_get_u32(&r);
			req->u.part.crc = qsg_get_u32(&r);
		}
		if ((rc = finish(&r, req->op, errmsg)) != QSG_OK)
			return rc;
		if (req->u.part.seqno == 0 || req->u.part.part >= FSM_MAX_PARTS ||
		    req->u.part.len > PROTO_PART_MAX)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"%s: seqno, part or length out of range", op_name(req->op));
		return QSG_OK;
	case PROTO_GET:
	case PROTO_BROWSE:
	case PROTO_GETX:
	case PROTO_BROWSEX:
		if ((rc = get_queue(&r, req->u.get.queue, errmsg)) != QSG_OK)
			return rc;
		req->u.get.flags = qsg_get_u32(&r);
		req->u.get.wait_ms = (int32_t)qsg_get_u32(&r);
		qsg_get_bytes(&r, req->u.get.match.msgid, FSM_ID_LEN);
		qsg_get_bytes(&r, req->u.get.match.correlid, FSM_ID_LEN);
		req->u.get.match.priority = qsg_get_u8(&r);
		req->u.get.match.seqno = qsg_get_u64(&r);
		if ((rc = finish(&r, req->op, errmsg)) != QSG_OK)
			return rc;
		if (req->u.get.wait_ms < -1)
			return qsg_errf(errmsg, QSG_RC_INVALID, "%s: wait %d ms is not valid",
					op_name(req->op), (int)req->u.get.wait_ms);
		if (req->u.get.match.priority > 9)
			return qsg_errf(errmsg, QSG_RC_PRIORITY_ERROR,
					"%s: cursor priority %u is not 0 to 9", op_name(req->op),
					req->u.get.match.priority);
		return QSG_OK;
	case PROTO_COMMIT:
		req->u.commit.uow = qsg_get_u64(&r);
		return finish(&r, req->op, errmsg);
	case PROTO_OPEN:
	case PROTO_CLOSE:
		if ((rc = get_queue(&r, req->u.open.queue, errmsg)) != QSG_OK)
			return rc;
		return finish(&r, req->op, errmsg);
	case PROTO_ADMIN:
		req->u.admin.text = qsg_get_blob(&r, PROTO_MAX_TEXT);
		if ((rc = finish(&r, req->op, errmsg)) != QSG_OK)
			return rc;
		if (req->u.admin.text.len > 0 &&
		    memchr(req->u.admin.text.p, '\0', req->u.admin.text.len) != NULL)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "ADMIN: command has a NUL byte");
		return QSG_OK;
	case PROTO_FORWARD:
		req->u.forward.member_id = qsg_get_u32(&r);
		req->u.forward.cmd = qsg_get_blob(&r, MAX_FWD_BLOB);
		return finish(&r, req->op, errmsg);
	case PROTO_FETCH:
		return fetch_req_decode(&r, req, errmsg);
	case PROTO_FETCH_BASE:
		req->u.base.index = qsg_get_u64(&r);
		req->u.base.size = qsg_get_u64(&r);
		req->u.base.crc = qsg_get_u32(&r);
		req->u.base.offset = qsg_get_u64(&r);
		req->u.base.max = qsg_get_u32(&r);
		if ((rc = finish(&r, req->op, errmsg)) != QSG_OK)
			return rc;
		if (req->u.base.max == 0 || req->u.base.max > PROTO_BASE_CHUNK ||
		    req->u.base.offset >= req->u.base.size)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"FETCH_BASE: offset or length out of range");
		return QSG_OK;
	case PROTO_BACKOUT:
		if (qsg_rbuf_left(&r) >= 4) { /* optional: flags (fewer bytes: trailing) */
			req->u.backout.flags = qsg_get_u32(&r);
			if (r.err == QSG_OK &&
			    (req->u.backout.flags & ~PROTO_BACKOUT_UNCOUNTED) != 0)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"BACKOUT: unknown flags 0x%x",
						req->u.backout.flags);
		}
		return finish(&r, req->op, errmsg);
	default: /* PING */
		return finish(&r, req->op, errmsg);
	}
}

/* Walk one admin object at *pos; fills up to max attrs. */
static int admin_object(struct qsg_rbuf *r, struct proto_attr *attrs, size_t max, size_t *nattrs)
{
	uint32_t n = qsg_get_u32(r);
	if (r->err != QSG_OK)
		return QSG_RC_BAD_FRAME;
	/* Each attribute takes at least 4 bytes: reject absurd counts early. */
	if (n > qsg_rbuf_left(r) / 4)
		return QSG_RC_BAD_FRAME;
	for (uint32_t i = 0; i < n; i++) {
		struct qsg_slice name = get_str_slice(r, PROTO_MAX_TEXT);
		struct qsg_slice value = get_str_slice(r, PROTO_MAX_TEXT);
		if (r->err != QSG_OK)
			return QSG_RC_BAD_FRAME;
		if (name.len == 0)
			return QSG_RC_BAD_FRAME;
		if (i < max) {
			attrs[i].name = name;
			attrs[i].value = value;
		}
	}
	*nattrs = n;
	return QSG_OK;
}

/* One FETCH answer at r: NULL, or what is wrong with it. */
static const char *fetch_item(struct qsg_rbuf *r, struct proto_fetch_item *it)
{
	memset(it, 0, sizeof *it);
	it->seqno = qsg_get_u64(r);
	it->found = qsg_get_u8(r);
	if (r->err != QSG_OK)
		return "truncated";
	if (it->found > 1)
		return "found flag is not 0 or 1";
	if (it->found == 0)
		return NULL;
	it->crc = qsg_get_u32(r);
	uint32_t n = qsg_get_u32(r);
	if (r->err != QSG_OK)
		return "truncated";
	if (n > PROTO_FETCH_MAX_LEN)
		return "content longer than a message can be";
	if (n > qsg_rbuf_left(r)) {
		r->err = QSG_RC_BAD_FRAME;
		return "content longer than the frame";
	}
	it->content = qsg_get_raw(r, n);
	return NULL;
}

int proto_resp_decode(const void *p, size_t len, struct proto_resp *resp, char *errmsg)
{
	struct qsg_rbuf r;
	memset(resp, 0, sizeof *resp);
	qsg_rbuf_init(&r, p, len);
	int rc = decode_header(&r, len, true, &resp->op, &resp->reqid, errmsg);
	if (rc != QSG_OK)
		return rc;
	uint32_t code = qsg_get_u32(&r);
	resp->text = get_str_slice(&r, PROTO_MAX_TEXT);
	if (r.err != QSG_OK)
		return finish(&r, resp->op, errmsg);
	if (code > INT32_MAX)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%s: reason code %u out of range",
				op_name(resp->op), code);
	resp->rc = (int)code;
	if (resp->rc != QSG_OK)
		return finish(&r, resp->op, errmsg);
	switch (resp->op) {
	case PROTO_HELLO:
		resp->u.hello.epoch = qsg_get_u64(&r);
		resp->u.hello.put_seq = qsg_get_u64(&r);
		resp->u.hello.uows_done = qsg_get_u64(&r);
		resp->u.hello.member_id = qsg_get_u32(&r);
		resp->u.hello.qmgr = get_str_slice(&r, FSM_NAME_MAX);
		resp->u.hello.group = get_str_slice(&r, FSM_NAME_MAX);
		return finish(&r, resp->op, errmsg);
	case PROTO_PUT:
	case PROTO_PUT_CHUNK:
		resp->u.put.duplicate = qsg_get_u8(&r);
		qsg_get_bytes(&r, resp->u.put.msgid, FSM_ID_LEN);
		if (resp->op == PROTO_PUT_CHUNK)
			resp->u.put.seqno = qsg_get_u64(&r);
		if ((rc = finish(&r, resp->op, errmsg)) != QSG_OK)
			return rc;
		if (resp->u.put.duplicate > 1)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "PUT: duplicate flag %u",
					resp->u.put.duplicate);
		return QSG_OK;
	case PROTO_FETCH_BASE:
		resp->u.base.offset = qsg_get_u64(&r);
		resp->u.base.crc = qsg_get_u32(&r);
		resp->u.base.data = qsg_get_blob(&r, PROTO_BASE_CHUNK);
		if (r.err == QSG_OK &&
		    (resp->u.base.data.len == 0 ||
		     qsg_crc32c(0, resp->u.base.data.p, resp->u.base.data.len) != resp->u.base.crc))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"FETCH_BASE: empty answer or checksum mismatch");
		return finish(&r, resp->op, errmsg);
	case PROTO_GET_PART:
		resp->u.part.data = qsg_get_blob(&r, PROTO_PART_MAX);
		return finish(&r, resp->op, errmsg);
	case PROTO_GET:
	case PROTO_BROWSE:
	case PROTO_GETX:
	case PROTO_BROWSEX:
		fsm_msg_decode(&r, &resp->u.get.msg);
		if (resp->op == PROTO_GETX || resp->op == PROTO_BROWSEX) {
			struct proto_resp *g = resp;
			g->u.get.nparts = qsg_get_u32(&r);
			if (r.err == QSG_OK && g->u.get.nparts > 0) {
				g->u.get.body_len = qsg_get_u32(&r);
				if (r.err == QSG_OK &&
				    (g->u.get.nparts > FSM_MAX_PARTS ||
				     g->u.get.body_len > FSM_MAX_MSGL ||
				     g->u.get.nparts != fsm_nparts(g->u.get.body_len) ||
				     g->u.get.nparts < 2 ||
				     g->u.get.msg.body.len !=
					 fsm_part_len(0, g->u.get.body_len, 0)))
					return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
							"%s: bad part table", op_name(resp->op));
				g->u.get.part_crc = qsg_get_raw(&r, (size_t)g->u.get.nparts * 4);
			}
		}
		if ((rc = finish(&r, resp->op, errmsg)) != QSG_OK)
			return rc;
		if (resp->u.get.msg.priority > 9 || resp->u.get.msg.persistent > 1)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"%s: priority %u or persistence %u out of range",
					op_name(resp->op), resp->u.get.msg.priority,
					resp->u.get.msg.persistent);
		return QSG_OK;
	case PROTO_ADMIN: {
		resp->u.admin.nobjects = qsg_get_u32(&r);
		if (r.err != QSG_OK)
			return finish(&r, resp->op, errmsg);
		size_t start = r.pos;
		for (uint32_t i = 0; i < resp->u.admin.nobjects; i++) {
			size_t n;
			if (admin_object(&r, NULL, 0, &n) != QSG_OK)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"ADMIN: object %u of %u is malformed", i + 1,
						resp->u.admin.nobjects);
		}
		if ((rc = finish(&r, resp->op, errmsg)) != QSG_OK)
			return rc;
		resp->u.admin.objects.p = (const uint8_t *)p + start;
		resp->u.admin.objects.len = len - start;
		return QSG_OK;
	}
	case PROTO_FORWARD:
		resp->u.forward.result = qsg_get_blob(&r, MAX_FWD_BLOB);
		return finish(&r, resp->op, errmsg);
	case PROTO_FETCH: {
		resp->u.fetch.count = qsg_get_u32(&r);
		if (r.err != QSG_OK)
			return finish(&r, resp->op, errmsg);
		if (resp->u.fetch.count > PROTO_FETCH_MAX)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"FETCH: %u answers (at most %d allowed)",
					resp->u.fetch.count, PROTO_FETCH_MAX);
		size_t start = r.pos;
		uint64_t prev = 0;
		for (uint32_t i = 0; i < resp->u.fetch.count; i++) {
			struct proto_fetch_item it;
			const char *why = fetch_item(&r, &it);
			if (why == NULL && i > 0 && it.seqno <= prev)
				why = "seqno not above the one before it";
			if (why != NULL)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"FETCH: answer %u of %u: %s", i + 1,
						resp->u.fetch.count, why);
			prev = it.seqno;
		}
		if ((rc = finish(&r, resp->op, errmsg)) != QSG_OK)
			return rc;
		resp->u.fetch.items.p = (const uint8_t *)p + start;
		resp->u.fetch.items.len = len - start;
		return QSG_OK;
	}
	default: /* COMMIT, BACKOUT, OPEN, CLOSE, PING */
		return finish(&r, resp->op, errmsg);
	}
}

/* ---- admin reply objects ---- */

#define NO_OBJECT SIZE_MAX

void proto_admin_init(struct proto_admin_writer *aw)
{
	qsg_wbuf_init(&aw->buf);
	aw->nobjects = 0;
	aw->obj_off = NO_OBJECT;
	aw->nattrs = 0;
}

void proto_admin_close(struct proto_admin_writer *aw)
{
	qsg_wbuf_close(&aw->buf);
	proto_admin_init(aw);
}

void proto_admin_end(struct proto_admin_writer *aw)
{
	if (aw->obj_off == NO_OBJECT)
		return;
	qsg_patch_u32(&aw->buf, aw->obj_off, aw->nattrs);
	aw->obj_off = NO_OBJECT;
	aw->nattrs = 0;
	aw->nobjects++;
}

void proto_admin_begin(struct proto_admin_writer *aw)
{
	proto_admin_end(aw);
	aw->obj_off = aw->buf.len;
	aw->nattrs = 0;
	qsg_put_u32(&aw->buf, 0);
}

void proto_admin_attr(struct proto_admin_writer *aw, const char *name, const char *value)
{
	if (aw->obj_off == NO_OBJECT)
		proto_admin_begin(aw);
	qsg_put_str(&aw->buf, name);
	qsg_put_str(&aw->buf, value);
	aw->nattrs++;
}

void proto_admin_to_resp(struct proto_admin_writer *aw, struct proto_resp *resp)
{
	proto_admin_end(aw);
	resp->u.admin.nobjects = aw->nobjects;
	resp->u.admin.objects.p = aw->buf.data;
	resp->u.admin.objects.len = aw->buf.len;
	/* A writer that failed (out of memory, over-long string) yields no
	 * objects rather than a corrupt reply. */
	if (aw->buf.err != QSG_OK) {
		resp->u.admin.nobjects = 0;
		resp->u.admin.objects.len = 0;
	}
}

int proto_admin_next(const struct proto_resp *resp, size_t *cursor, struct proto_attr *attrs,
		     size_t max, size_t *nattrs)
{
	const struct qsg_slice *o = &resp->u.admin.objects;
	*nattrs = 0;
	if (*cursor >= o->len)
		return 0;
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, o->p, o->len);
	r.pos = *cursor;
	size_t n = 0;
	if (admin_object(&r, attrs, max, &n) != QSG_OK)
		return -QSG_RC_BAD_FRAME;
	*nattrs = n;
	*cursor = r.pos;
	return 1;
}

/* ---- FETCH ---- */

uint64_t proto_fetch_seqno(const struct proto_req *req, uint32_t i)
{
	const uint8_t *p = req->u.fetch.raw.p + (size_t)i * 8;
	return (uint64_t)qsg_le32(p) | (uint64_t)qsg_le32(p + 4) << 32;
}

void proto_fetch_writer_init(struct proto_fetch_writer *fw)
{
	qsg_wbuf_init(&fw->buf);
	fw->count = 0;
	fw->content = 0;
	fw->last = 0;
}

void proto_fetch_writer_close(struct proto_fetch_writer *fw)
{
	qsg_wbuf_close(&fw->buf);
	proto_fetch_writer_init(fw);
}

int proto_fetch_add(struct proto_fetch_writer *fw, const struct proto_fetch_item *it)
{
	if (it->found > 1 || (fw->count > 0 && it->seqno <= fw->last))
		return QSG_RC_INVALID;
	size_t n = it->found ? it->content.len : 0;
	if (n > PROTO_FETCH_MAX_LEN)
		return QSG_RC_INVALID;
	if (fw->count >= PROTO_FETCH_MAX)
		return QSG_RC_DATA_LENGTH_ERROR;
	if (n > 0 && fw->count > 0 && fw->content + n > PROTO_FETCH_CONTENT)
		return QSG_RC_DATA_LENGTH_ERROR;
	size_t need = FETCH_ITEM_HDR + (it->found ? FETCH_BODY_HDR + n : 0);
	if (fw->buf.len + need > MAX_FETCH_ITEMS)
		return QSG_RC_DATA_LENGTH_ERROR;
	if (fw->buf.err != QSG_OK || qsg_wbuf_reserve(&fw->buf, need) != QSG_OK)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	qsg_put_u64(&fw->buf, it->seqno);
	qsg_put_u8(&fw->buf, it->found);
	if (it->found) {
		qsg_put_u32(&fw->buf, it->crc);
		qsg_put_u32(&fw->buf, (uint32_t)n);
		qsg_put_bytes(&fw->buf, it->content.p, n);
	}
	if (fw->buf.err != QSG_OK)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	fw->count++;
	fw->content += n;
	fw->last = it->seqno;
	return QSG_OK;
}

void proto_fetch_to_resp(struct proto_fetch_writer *fw, struct proto_resp *resp)
{
	resp->u.fetch.count = fw->count;
	resp->u.fetch.items.p = fw->buf.data;
	resp->u.fetch.items.len = fw->buf.len;
	if (fw->buf.err != QSG_OK) {
		resp->u.fetch.count = 0;
		resp->u.fetch.items.len = 0;
	}
}

int proto_fetch_next(const struct proto_resp *resp, size_t *cursor, struct proto_fetch_item *it)
{
	const struct qsg_slice *o = &resp->u.fetch.items;
	memset(it, 0, sizeof *it);
	if (*cursor >= o->len)
		return 0;
	struct qsg_rbuf r;
	qsg_rbuf_init(&r, o->p, o->len);
	r.pos = *cursor;
	if (fetch_item(&r, it) != NULL)
		return -QSG_RC_BAD_FRAME;
	*cursor = r.pos;
	return 1;
}
