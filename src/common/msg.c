/* The shared message layout and the object-name check (msg.h). Compiled
 * into libqsgcommon so that the client library uses the very same codec as
 * the state machine. */
#include "msg.h"

#include <string.h>

void fsm_msg_encode(struct qsg_wbuf *w, const struct fsm_msg *m)
{
	qsg_put_bytes(w, m->msgid, FSM_ID_LEN);
	qsg_put_bytes(w, m->correlid, FSM_ID_LEN);
	qsg_put_u8(w, m->priority);
	qsg_put_u8(w, m->persistent);
	qsg_put_i64(w, m->expiry_ms);
	qsg_put_i64(w, m->put_time_ms);
	qsg_put_u32(w, m->backout_count);
	qsg_put_u64(w, m->seqno);
	qsg_put_blob(w, m->props.p, m->props.len);
	qsg_put_blob(w, m->body.p, m->body.len);
}

void fsm_msg_decode(struct qsg_rbuf *r, struct fsm_msg *m)
{
	qsg_get_bytes(r, m->msgid, FSM_ID_LEN);
	qsg_get_bytes(r, m->correlid, FSM_ID_LEN);
	m->priority = qsg_get_u8(r);
	m->persistent = qsg_get_u8(r);
	m->expiry_ms = qsg_get_i64(r);
	m->put_time_ms = qsg_get_i64(r);
	m->backout_count = qsg_get_u32(r);
	m->seqno = qsg_get_u64(r);
	m->props = qsg_get_blob(r, FSM_MAX_PROPS);
	m->body = qsg_get_blob(r, FSM_MAX_MSGL);
	if (r->err == QSG_OK && (m->priority > 9 || m->persistent > 1))
		r->err = QSG_RC_BAD_FRAME;
}

bool qsg_name_ok(const char *s, size_t max, bool empty_ok)
{
	size_t n = strlen(s);
	if (n == 0)
		return empty_ok;
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '/' || c == '%'))
			return false;
	}
	return true;
}

uint32_t fsm_nparts(uint32_t body_len)
{
	return body_len == 0 ? 1
			     : (uint32_t)(((uint64_t)body_len + FSM_CHUNK_MAX - 1) / FSM_CHUNK_MAX);
}

uint32_t fsm_part_len(uint32_t props_len, uint32_t body_len, uint32_t part)
{
	uint64_t at = (uint64_t)part * FSM_CHUNK_MAX;
	uint32_t n = at >= body_len ? 0
				    : (body_len - at > FSM_CHUNK_MAX ? FSM_CHUNK_MAX
								     : (uint32_t)(body_len - at));
	return part == 0 ? props_len + n : n;
}
