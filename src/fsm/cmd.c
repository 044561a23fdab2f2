/* Command, entry and result encoding of the state machine (format version 1,
 * see docs/protocol.md). Decoders check every length and value. */
#include <string.h>

#include "fsm_int.h"

bool fsm_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > FSM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '/' || c == '%'))
			return false;
	}
	return true;
}

void fsm_qattrs_encode(struct qsg_wbuf *w, const struct fsm_qattrs *a)
{
	qsg_put_str(w, a->name);
	qsg_put_u32(w, a->set);
	qsg_put_u32(w, a->maxdepth);
	qsg_put_u32(w, a->maxmsgl);
	qsg_put_u8(w, a->defpsist);
	qsg_put_u8(w, a->defprty);
	qsg_put_u32(w, a->bothresh);
	qsg_put_str(w, a->boqname);
	qsg_put_u8(w, a->indxtype);
	qsg_put_u8(w, a->get_inhibited);
	qsg_put_u8(w, a->put_inhibited);
	qsg_put_u32(w, a->maxumsgs);
	qsg_put_str(w, a->descr);
}

int fsm_qattrs_decode(struct qsg_rbuf *r, struct fsm_qattrs *a, char *errmsg)
{
	qsg_get_str(r, a->name, sizeof a->name);
	a->set = qsg_get_u32(r);
	a->maxdepth = qsg_get_u32(r);
	a->maxmsgl = qsg_get_u32(r);
	a->defpsist = qsg_get_u8(r);
	a->defprty = qsg_get_u8(r);
	a->bothresh = qsg_get_u32(r);
	qsg_get_str(r, a->boqname, sizeof a->boqname);
	a->indxtype = qsg_get_u8(r);
	a->get_inhibited = qsg_get_u8(r);
	a->put_inhibited = qsg_get_u8(r);
	a->maxumsgs = qsg_get_u32(r);
	qsg_get_str(r, a->descr, sizeof a->descr);
	if (r->err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "queue attributes truncated or too long");
	if ((a->set & ~(uint32_t)FSM_QA_ALL) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "unknown attribute bits 0x%x", a->set);
	if (a->defpsist > 1 || a->get_inhibited > 1 || a->put_inhibited > 1)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "boolean attribute out of range");
	if (a->defprty > 9)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "DEFPRTY %u out of range", a->defprty);
	if (a->indxtype > FSM_INDX_CORRELID)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "INDXTYPE %u out of range", a->indxtype);
	if (a->maxmsgl > FSM_MAX_MSGL)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "MAXMSGL %u over the cap", a->maxmsgl);
	return QSG_OK;
}

/* Which fields each op carries. */
#define F_FLAGS 0x0001
#define F_SESSION 0x0002 /* client_id, epoch */
#define F_SEQ 0x0004
#define F_QUEUE 0x0008
#define F_ATTRS 0x0010
#define F_PUTMSG 0x0020 /* msgid correlid priority expiry props body */
#define F_MATCH 0x0040 /* msgid correlid */
#define F_CURSOR 0x0080 /* priority, seqno */
#define F_MEMBER 0x0100 /* member_id */
#define F_CLIENT 0x0200 /* client_id only (ATTACH) */
#define F_ADDRS 0x0400 /* name, raft_addr, client_addr */
#define F_STATS 0x0800

static unsigned op_fields(uint8_t op)
{
	switch (op) {
	case FSM_OP_QDEFINE:
	case FSM_OP_QALTER:
		return F_FLAGS | F_ATTRS;
	case FSM_OP_QDELETE:
	case FSM_OP_QCLEAR:
		return F_FLAGS | F_QUEUE;
	case FSM_OP_ATTACH:
		return F_CLIENT | F_MEMBER;
	case FSM_OP_DETACH:
	case FSM_OP_BACKOUT:
		return F_SESSION;
	case FSM_OP_OPEN:
	case FSM_OP_CLOSE:
		return F_SESSION | F_QUEUE;
	case FSM_OP_PUT:
		return F_SESSION | F_SEQ | F_QUEUE | F_FLAGS | F_PUTMSG;
	case FSM_OP_GET:
		return F_SESSION | F_QUEUE | F_FLAGS | F_MATCH;
	case FSM_OP_BROWSE:
		return F_QUEUE | F_FLAGS | F_MATCH | F_CURSOR;
	case FSM_OP_COMMIT:
		return F_SESSION | F_SEQ;
	case FSM_OP_MEMBER_JOIN:
		return F_MEMBER | F_SEQ | F_ADDRS;
	case FSM_OP_LEASE_RENEW:
		return F_MEMBER | F_SEQ | F_STATS;
	case FSM_OP_MEMBER_FAIL:
		return F_MEMBER | F_SEQ;
	case FSM_OP_EXPIRE:
		return F_SEQ;
	default:
		return 0;
	}
}

int fsm_cmd_encode(const struct fsm_cmd *c, struct qsg_wbuf *w)
{
	unsigned f = op_fields(c->op);
	if (f == 0)
		return QSG_RC_UNKNOWN_OP;
	qsg_put_u8(w, c->op);
	qsg_put_u8(w, FSM_CMD_VERSION);
	if (f & F_CLIENT)
		qsg_put_u64(w, c->client_id);
	if (f & F_SESSION) {
		qsg_put_u64(w, c->client_id);
		qsg_put_u64(w, c->epoch);
	}
	if (f & F_MEMBER)
		qsg_put_u32(w, c->member_id);
	if (f & F_SEQ)
		qsg_put_u64(w, c->seq);
	if (f & F_FLAGS)
		qsg_put_u32(w, c->flags);
	if (f & F_QUEUE)
		qsg_put_str(w, c->queue);
	if (f & F_ATTRS) {
		struct fsm_qattrs a = c->attrs;
		if (a.name[0] == '\0')
			memcpy(a.name, c->queue, sizeof a.name);
		fsm_qattrs_encode(w, &a);
	}
	if (f & (F_PUTMSG | F_MATCH)) {
		qsg_put_bytes(w, c->msg.msgid, FSM_ID_LEN);
		qsg_put_bytes(w, c->msg.correlid, FSM_ID_LEN);
	}
	if (f & F_PUTMSG) {
		qsg_put_u8(w, c->msg.priority);
		qsg_put_i64(w, c->msg.expiry_ms);
		qsg_put_blob(w, c->msg.props.p, c->msg.props.len);
		qsg_put_blob(w, c->msg.body.p, c->msg.body.len);
	}
	if (f & F_CURSOR) {
		qsg_put_u8(w, c->msg.priority);
		qsg_put_u64(w, c->msg.seqno);
	}
	if (f & F_ADDRS) {
		qsg_put_str(w, c->name);
		qsg_put_str(w, c->raft_addr);
		qsg_put_str(w, c->client_addr);
	}
	if (f & F_STATS) {
		qsg_put_u8(w, c->stats.role);
		qsg_put_u64(w, c->stats.term);
		qsg_put_u64(w, c->stats.commit_index);
		qsg_put_u64(w, c->stats.applied_index);
		qsg_put_u64(w, c->stats.last_index);
	}
	return w->err;
}

int fsm_cmd_decode(const void *p, size_t len, struct fsm_cmd *c, char *errmsg)
{
	struct qsg_rbuf r;
	memset(c, 0, sizeof *c);
	qsg_rbuf_init(&r, p, len);
	c->op = qsg_get_u8(&r);
	uint8_t version = qsg_get_u8(&r);
	if (r.err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "command shorter than its header");
	unsigned f = op_fields(c->op);
	if (f == 0)
		return qsg_errf(errmsg, QSG_RC_UNKNOWN_OP, "unknown command op %u", c->op);
	if (version != FSM_CMD_VERSION)
		return qsg_errf(errmsg, QSG_RC_BAD_VERSION, "command format version %u", version);
	if (f & F_CLIENT)
		c->client_id = qsg_get_u64(&r);
	if (f & F_SESSION) {
		c->client_id = qsg_get_u64(&r);
		c->epoch = qsg_get_u64(&r);
	}
	if (f & F_MEMBER)
		c->member_id = qsg_get_u32(&r);
	if (f & F_SEQ)
		c->seq = qsg_get_u64(&r);
	if (f & F_FLAGS)
		c->flags = qsg_get_u32(&r);
	if (f & F_QUEUE)
		qsg_get_str(&r, c->queue, sizeof c->queue);
	if (f & F_ATTRS) {
		int rc = fsm_qattrs_decode(&r, &c->attrs, errmsg);
		if (rc != QSG_OK)
			return rc;
		memcpy(c->queue, c->attrs.name, sizeof c->queue);
	}
	if (f & (F_PUTMSG | F_MATCH)) {
		qsg_get_bytes(&r, c->msg.msgid, FSM_ID_LEN);
		qsg_get_bytes(&r, c->msg.correlid, FSM_ID_LEN);
	}
	if (f & F_PUTMSG) {
		c->msg.priority = qsg_get_u8(&r);
		c->msg.expiry_ms = qsg_get_i64(&r);
		c->msg.props = qsg_get_blob(&r, FSM_MAX_PROPS);
		c->msg.body = qsg_get_blob(&r, FSM_MAX_MSGL);
		c->msg.persistent = (c->flags & FSM_F_PERSISTENT) ? 1 : 0;
	}
	if (f & F_CURSOR) {
		c->msg.priority = qsg_get_u8(&r);
		c->msg.seqno = qsg_get_u64(&r);
	}
	if (f & F_ADDRS) {
		qsg_get_str(&r, c->name, sizeof c->name);
		qsg_get_str(&r, c->raft_addr, sizeof c->raft_addr);
		qsg_get_str(&r, c->client_addr, sizeof c->client_addr);
	}
	if (f & F_STATS) {
		c->stats.role = qsg_get_u8(&r);
		c->stats.term = qsg_get_u64(&r);
		c->stats.commit_index = qsg_get_u64(&r);
		c->stats.applied_index = qsg_get_u64(&r);
		c->stats.last_index = qsg_get_u64(&r);
	}
	if (r.err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"command op %u truncated or a field is too long", c->op);
	if (qsg_rbuf_left(&r) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%zu trailing bytes after command op %u",
				qsg_rbuf_left(&r), c->op);
	if ((c->flags & ~(uint32_t)FSM_F_ALL) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "unknown flag bits 0x%x", c->flags);
	if ((f & (F_PUTMSG | F_CURSOR)) && c->msg.priority > 9)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "priority %u out of range",
				c->msg.priority);
	if ((f & (F_CLIENT | F_SESSION)) && c->client_id == 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "client_id 0 is reserved");
	if ((f & F_MEMBER) && c->op != FSM_OP_ATTACH && c->member_id == 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "member id 0 is reserved");
	if ((c->op == FSM_OP_MEMBER_JOIN || c->op == FSM_OP_LEASE_RENEW) &&
	    c->seq > FSM_MAX_LEASE_MS)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "lease of %llu ms is too long",
				(unsigned long long)c->seq);
	if ((f & F_STATS) && c->stats.role > 3)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "raft role %u out of range",
				c->stats.role);
	return QSG_OK;
}

void fsm_entry_begin(struct qsg_wbuf *w, int64_t time_ms)
{
	qsg_put_u8(w, FSM_ENTRY_VERSION);
	qsg_put_u8(w, FSM_ENTRY_TYPE_BATCH);
	qsg_put_u16(w, 0);
	qsg_put_i64(w, time_ms);
	qsg_put_u32(w, 0);
}

uint32_t fsm_entry_count(const struct qsg_wbuf *w)
{
	if (w->err != QSG_OK || w->len < FSM_ENTRY_HEADER_SIZE)
		return 0;
	return qsg_le32(w->data + 12);
}

void fsm_entry_add(struct qsg_wbuf *w, const void *cmd, size_t len)
{
	uint32_t n = fsm_entry_count(w);
	if (len > UINT32_MAX) {
		if (w->err == QSG_OK)
			w->err = QSG_RC_DATA_LENGTH_ERROR;
		return;
	}
	qsg_put_u32(w, (uint32_t)len);
	qsg_put_bytes(w, cmd, len);
	qsg_patch_u32(w, 12, n + 1);
}

int fsm_result_decode(uint8_t op, const void *p, size_t len, struct fsm_result *res, char *errmsg)
{
	struct qsg_rbuf r;
	memset(res, 0, sizeof *res);
	qsg_rbuf_init(&r, p, len);
	uint32_t rc = qsg_get_u32(&r);
	if (r.err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "result shorter than its reason code");
	if (rc > (uint32_t)INT32_MAX || !qsg_rc_valid((int)rc))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "result has unknown reason code %u", rc);
	res->rc = (int)rc;
	if (rc == QSG_OK) {
		switch (op) {
		case FSM_OP_ATTACH:
			res->epoch = qsg_get_u64(&r);
			res->put_seq = qsg_get_u64(&r);
			res->uows_done = qsg_get_u64(&r);
			break;
		case FSM_OP_PUT:
			res->duplicate = qsg_get_u8(&r);
			qsg_get_bytes(&r, res->msg.msgid, FSM_ID_LEN);
			res->msg.seqno = qsg_get_u64(&r);
			if (r.err == QSG_OK && res->duplicate > 1)
				r.err = QSG_RC_BAD_FRAME;
			break;
		case FSM_OP_GET:
		case FSM_OP_BROWSE:
			fsm_msg_decode(&r, &res->msg);
			break;
		default:
			if (op_fields(op) == 0)
				return qsg_errf(errmsg, QSG_RC_UNKNOWN_OP, "unknown command op %u",
						op);
			break;
		}
	}
	if (r.err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "result of op %u truncated or invalid",
				op);
	if (qsg_rbuf_left(&r) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"%zu trailing bytes after result of op %u", qsg_rbuf_left(&r), op);
	return QSG_OK;
}
