/* libqsg: large messages (docs/client.md, "Large messages"). A body over
 * FSM_CHUNK_MAX bytes is put as a sequence of PUT_CHUNK requests in the
 * connection's unit of work (an implicit one outside syncpoint: the
 * message becomes visible when its last part is applied), and a chunked
 * message is got as a GETX reply carrying part 0 and the part table, then
 * one GET_PART per other part, served by the member from its store, then
 * GET_DONE for a destructive get outside syncpoint (the message stays
 * locked to the session until then; a lost connection backs it out). */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "common/crc32c.h"

#define PART_RETRY_MS 5 /* GET_PART of a part the member has not applied yet */

/* One PUT_CHUNK exchange. QSG_OK with resp filled, or a transport error
 * (*lost) / a retryable reply (*lost) / the member's refusal. */
static int put_part(qsg_conn *c, struct proto_req *req, struct proto_resp *resp, bool *lost)
{
	bool sent;
	*lost = false;
	int rc = qsgi_exchange(c, req, resp, c->reply_ms, &sent);
	if (rc != QSG_OK) {
		*lost = true;
		return rc;
	}
	qsgi_set_reply_error(c, resp);
	if (qsgi_retryable(resp->rc)) {
		*lost = true;
		qsgi_drop_conn(c);
	}
	return resp->rc;
}

int qsgl_put(qsg_conn *c, struct proto_req *req, const void *body, size_t len, bool sync,
	     struct qsg_md *md)
{
	const uint8_t *b = body;
	uint32_t total = (uint32_t)len, nparts = fsm_nparts(total);
	int64_t deadline = 0;
	int backoff = BACKOFF_MIN_MS;
	req->op = PROTO_PUT_CHUNK;
	req->u.put.total = total;
	for (;;) {
		uint64_t seq = ++c->last_seq;
		struct proto_resp resp;
		bool lost = false;
		int rc = QSG_OK;
		uint64_t seqno = 0;
		for (uint32_t i = 0; i < nparts && rc == QSG_OK; i++) {
			req->u.put.seq = seq;
			req->u.put.seqno = seqno;
			req->u.put.part = i;
			req->u.put.msg.body.p = b + (size_t)i * FSM_CHUNK_MAX;
			req->u.put.msg.body.len = fsm_part_len(0, total, i);
			rc = put_part(c, req, &resp, &lost);
			if (rc == QSG_OK && i == 0) {
				if (resp.u.put.duplicate) { /* complete before a reconnect */
					memset(md->msgid, 0, QSG_ID_LEN);
					return QSG_OK;
				}
				seqno = resp.u.put.seqno;
				memcpy(md->msgid, resp.u.put.msgid, QSG_ID_LEN);
			}
		}
		if (rc == QSG_OK) {
			if (sync)
				c->uow_open = true;
			return QSG_OK;
		}
		if (!lost) {
			return rc; /* refused (part 0: the seq is consumed) */
		}
		if (sync)
			return qsgi_syncpoint_lost(c);
		/* The new session backs an incomplete message out; put_seq
		 * says whether it completed. */
		if (!qsgi_retry_wait(c, &deadline, &backoff))
			return QSG_RC_OUTCOME_UNKNOWN;
		rc = qsgi_attach(c, deadline, false);
		if (rc != QSG_OK)
			return QSG_RC_OUTCOME_UNKNOWN;
		if (c->last_seq >= seq) {
			memset(md->msgid, 0, QSG_ID_LEN);
			return QSG_OK;
		}
	}
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int qsgl_parts(qsg_conn *c, const struct proto_resp *resp, bool destructive, bool sync, void **body,
	       size_t *len)
{
	uint32_t total = resp->u.get.body_len, nparts = resp->u.get.nparts;
	uint64_t seqno = resp->u.get.msg.seqno;
	uint32_t crc[FSM_MAX_PARTS];
	uint8_t *out = malloc(total > 0 ? total : 1);
	if (out == NULL)
		return qsg_errf(c->err, QSG_RC_STORAGE_NOT_AVAILABLE,
				"out of memory for a %u-byte message", total);
	/* The reply points into the receive buffer: copy before the next
	 * request. */
	for (uint32_t i = 0; i < nparts; i++)
		crc[i] = le32(resp->u.get.part_crc.p + 4 * (size_t)i);
	memcpy(out, resp->u.get.msg.body.p, resp->u.get.msg.body.len);
	size_t at = resp->u.get.msg.body.len;
	int rc = QSG_OK;
	for (uint32_t i = 1; i < nparts && rc == QSG_OK; i++) {
		struct proto_req req = {.op = PROTO_GET_PART};
		struct proto_resp pr;
		req.u.part.seqno = seqno;
		req.u.part.part = i;
		req.u.part.len = fsm_part_len(0, total, i);
		req.u.part.crc = crc[i];
		int64_t until = qsgi_now_ms() + c->reconnect_ms;
		for (;;) {
			bool sent;
			rc = qsgi_exchange(c, &req, &pr, c->reply_ms, &sent);
			if (rc != QSG_OK)
				break;
			rc = pr.rc;
			/* Not applied on this member yet: ask again. */
			if (rc != QSG_RC_NO_MSG_AVAILABLE || qsgi_now_ms() >= until)
				break;
			qsgi_sleep_ms(PART_RETRY_MS);
		}
		if (rc == QSG_OK && (pr.u.part.data.len != req.u.part.len ||
				     qsg_crc32c(0, pr.u.part.data.p, pr.u.part.data.len) != crc[i]))
			rc = qsg_errf(c->err, QSG_RC_CONNECTION_BROKEN,
				      "part %u of message %llu does not match its crc", i,
				      (unsigned long long)seqno);
		if (rc == QSG_OK) {
			memcpy(out + at, pr.u.part.data.p, pr.u.part.data.len);
			at += pr.u.part.data.len;
		} else if (rc == QSG_RC_NO_MSG_AVAILABLE) {
			qsg_errf(c->err, rc, "part %u of message %llu is not held by the member", i,
				 (unsigned long long)seqno);
		}
	}
	if (rc == QSG_OK && destructive && !sync) {
		struct proto_req req = {.op = PROTO_GET_DONE};
		struct proto_resp pr;
		bool sent;
		req.u.part.seqno = seqno;
		rc = qsgi_exchange(c, &req, &pr, c->reply_ms, &sent);
		if (rc != QSG_OK || qsgi_retryable(pr.rc))
			rc = qsg_errf(c->err, QSG_RC_OUTCOME_UNKNOWN,
				      "the connection was lost while the get of a large message "
				      "completed: it may have been consumed");
		else
			rc = pr.rc;
	}
	if (rc != QSG_OK) {
		free(out);
		if (rc != QSG_RC_OUTCOME_UNKNOWN && destructive) {
			/* The message stays locked to this session: drop the
			 * connection so that the member backs it out. */
			if (sync)
				return qsgi_syncpoint_lost(c);
			qsgi_drop_conn(c);
		}
		return rc;
	}
	*body = out;
	*len = total;
	return QSG_OK;
}
