/* Command, entry and result encoding of the state machine (command format
 * version 2, see docs/protocol.md). Decoders check every length and value. */
#include <string.h>

#include "fsm_int.h"

bool fsm_name_valid(const char *s)
{
	return qsg_name_ok(s, FSM_NAME_MAX, false);
}

bool fsm_chname_valid(const char *s)
{
	return strlen(s) <= FSM_CHNAME_MAX && fsm_name_valid(s);
}

static bool name_or_empty(const char *s)
{
	return s[0] == '\0' || fsm_name_valid(s);
}

/* The attribute codec: the fields of FSM_QATTRS / FSM_CHATTRS (fsm_attrs.h)
 * in table order. */
#define ENC_U8(f) qsg_put_u8(w, a->f);
#define ENC_U32(f) qsg_put_u32(w, a->f);
#define ENC_NAME(f) qsg_put_str(w, a->f);
#define ENC_TEXT(f) qsg_put_str(w, a->f);
#define ENC_CONN(f) qsg_put_str(w, a->f);
#define ENC(field, type, ...) ENC_##type(field)
#define DEC_U8(f) a->f = qsg_get_u8(r);
#define DEC_U32(f) a->f = qsg_get_u32(r);
#define DEC_NAME(f) qsg_get_str(r, a->f, sizeof a->f);
#define DEC_TEXT(f) qsg_get_str(r, a->f, sizeof a->f);
#define DEC_CONN(f) qsg_get_str(r, a->f, sizeof a->f);
#define DEC(field, type, ...) DEC_##type(field)

/* The trigger attributes follow only when `set` has one of their bits
 * (fsm_attrs.h): older records decode with their defaults. */
void fsm_qattrs_encode(struct qsg_wbuf *w, const struct fsm_qattrs *a)
{
	FSM_QATTRS_BASE(ENC, ENC)
	if (a->set & FSM_QA_TRIG_MASK) {
		FSM_QATTRS_TRIG(ENC, ENC)
	}
}

int fsm_qattrs_decode(struct qsg_rbuf *r, struct fsm_qattrs *a, char *errmsg)
{
	FSM_QATTRS_BASE(DEC, DEC)
	if (a->set & FSM_QA_TRIG_MASK) {
		FSM_QATTRS_TRIG(DEC, DEC)
	} else {
		fsm_qattrs_trig_defaults(a);
	}
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
	if (a->qtype > FSM_QT_ALIAS || a->usage > FSM_USAGE_XMITQ)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "queue type %u usage %u out of range",
				a->qtype, a->usage);
	if (!name_or_empty(a->rname) || !name_or_empty(a->rqmname) || !name_or_empty(a->xmitq))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad RNAME, RQMNAME or XMITQ");
	if (!name_or_empty(a->target))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad TARGET");
	if (a->disp > FSM_DISP_COPY)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "QSGDISP %u out of range", a->disp);
	if (a->trigger > 1 || a->trigtype > FSM_TRIG_DEPTH)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "TRIGGER %u or TRIGTYPE %u out of range",
				a->trigger, a->trigtype);
	if (!name_or_empty(a->initq))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad INITQ");
	/* TRIGDPTH only when given (a command that sets TRIGGER alone carries
	 * whatever its struct held): 1..999999999, as MQSC takes it. */
	if ((a->set & FSM_QA_TRIGDPTH) && (a->trigdpth < 1 || a->trigdpth > 999999999))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "TRIGDPTH %u out of range", a->trigdpth);
	return QSG_OK;
}

/* The disposition part follows only when `set` has FSM_CA_QSGDISP
 * (fsm_chan.h): older records decode as shared channels. The TLS part
 * (SSLCIPH, SSLPEER) follows it only when `set` has one of their bits:
 * older records decode as plaintext channels. */
void fsm_chattrs_encode(struct qsg_wbuf *w, const struct fsm_chattrs *a)
{
	FSM_CHATTRS_BASE(ENC, ENC)
	if (a->set & FSM_CA_QSGDISP) {
		FSM_CHATTRS_DISP(ENC, ENC)
	}
	if (a->set & FSM_CA_SSL_MASK) {
		FSM_CHATTRS_SSL(ENC, ENC)
	}
}

int fsm_chattrs_decode(struct qsg_rbuf *r, struct fsm_chattrs *a, char *errmsg)
{
	memset(a, 0, sizeof *a);
	FSM_CHATTRS_BASE(DEC, DEC)
	if (a->set & FSM_CA_QSGDISP) {
		FSM_CHATTRS_DISP(DEC, DEC)
		if (r->err == QSG_OK && (a->disp != FSM_DISP_QMGR || a->scope == 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"channel QSGDISP %u scope %u: a private channel needs "
					"QMGR and its member",
					a->disp, a->scope);
	}
	if (a->set & FSM_CA_SSL_MASK) {
		FSM_CHATTRS_SSL(DEC, DEC)
	}
	if (r->err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"channel attributes truncated or too long");
	if (!fsm_chname_valid(a->name))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad channel name");
	if ((a->set & ~(uint32_t)(FSM_CA_ALL | FSM_CA_QSGDISP | FSM_CA_SSL_MASK)) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "unknown channel attribute bits 0x%x",
				a->set);
	if (a->chltype != 0 && a->chltype != FSM_CHL_SDR && a->chltype != FSM_CHL_RCVR)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHLTYPE %u out of range", a->chltype);
	if (a->compmsg > FSM_COMP_LZ4 || a->usedlq > 1)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "COMPMSG or USEDLQ out of range");
	if (!name_or_empty(a->xmitq))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad XMITQ name");
	if (a->maxmsgl > FSM_MAX_MSGL)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "MAXMSGL %u over the cap", a->maxmsgl);
	return QSG_OK;
}

void fsm_chimage_encode(struct qsg_wbuf *w, const struct fsm_chimage *i)
{
	qsg_put_u8(w, i->exists);
	qsg_put_u32(w, i->owner);
	qsg_put_u8(w, i->state);
	qsg_put_u64(w, i->epoch);
}

void fsm_chimage_decode(struct qsg_rbuf *r, struct fsm_chimage *i)
{
	i->exists = qsg_get_u8(r);
	i->owner = qsg_get_u32(r);
	i->state = qsg_get_u8(r);
	i->epoch = qsg_get_u64(r);
	if (r->err == QSG_OK && (i->exists > 1 || i->state > FSM_CHS_MAX))
		r->err = QSG_RC_BAD_FRAME;
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
#define F_SCOPE 0x2000 /* attrs.scope, attrs.disp (QDELETE, QCLEAR) */
#define F_ADDRS 0x0400 /* name, raft_addr, client_addr */
#define F_STATS 0x0800
#define F_CHAN 0x1000 /* the op's fsm_chcmd fields (chan_encode/chan_decode) */
#define F_CHUNK 0x4000 /* u64 msg.seqno, u32 part, u32 total (PUT_CHUNK) */
#define F_MSGSEQ 0x8000 /* u64 msg.seqno (GET_DONE) */
#define F_USER 0x10000 /* the user body (fsm_user.c) */
#define F_AUTHREC 0x20000 /* the authority record body (fsm_authrec.c) */
#define F_CHLAUTH 0x40000 /* the channel authentication rule body (fsm_chlauth.c) */

static unsigned op_fields(uint8_t op)
{
	switch (op) {
	case FSM_OP_QDEFINE:
	case FSM_OP_QALTER:
		return F_FLAGS | F_ATTRS;
	case FSM_OP_QDELETE:
	case FSM_OP_QCLEAR:
		return F_FLAGS | F_QUEUE | F_SCOPE;
	case FSM_OP_ATTACH:
		return F_CLIENT | F_MEMBER;
	case FSM_OP_DETACH:
	case FSM_OP_BACKOUT:
	case FSM_OP_BACKOUT_UNCOUNTED:
		return F_SESSION;
	case FSM_OP_OPEN:
	case FSM_OP_CLOSE:
		return F_SESSION | F_QUEUE;
	case FSM_OP_PUT:
		return F_SESSION | F_SEQ | F_QUEUE | F_FLAGS | F_PUTMSG;
	case FSM_OP_GET:
		return F_SESSION | F_QUEUE | F_FLAGS | F_MATCH;
	case FSM_OP_BROWSE:
		return F_QUEUE | F_FLAGS | F_MATCH | F_CURSOR | F_MEMBER;
	case FSM_OP_COMMIT:
		return F_SESSION | F_SEQ;
	case FSM_OP_PUT_CHUNK:
		return F_SESSION | F_SEQ | F_QUEUE | F_FLAGS | F_PUTMSG | F_CHUNK;
	case FSM_OP_GET_DONE:
		return F_SESSION | F_MSGSEQ;
	case FSM_OP_MEMBER_JOIN:
	case FSM_OP_MEMBER_JOIN_BOUNDED:
		return F_MEMBER | F_SEQ | F_ADDRS;
	case FSM_OP_LEASE_RENEW:
		return F_MEMBER | F_SEQ | F_STATS;
	case FSM_OP_MEMBER_FAIL:
	case FSM_OP_MEMBER_FAIL_BOUNDED:
		return F_MEMBER | F_SEQ;
	case FSM_OP_BACKOUT_PENDING:
		return F_SEQ;
	case FSM_OP_MEMBER_REMOVE:
	case FSM_OP_MEMBER_REMOVE_BOUNDED:
	case FSM_OP_MEMBER_REMOVE_QMGR:
		return F_MEMBER;
	case FSM_OP_MEMBER_LEVEL:
		return F_MEMBER | F_SEQ;
	case FSM_OP_EXPIRE:
	case FSM_OP_EXPIRE_BOUNDED:
		return F_SEQ;
	case FSM_OP_CHDEFINE:
	case FSM_OP_CHALTER:
		return F_FLAGS | F_CHAN;
	case FSM_OP_QMGR_ALTER:
	case FSM_OP_CHDELETE:
	case FSM_OP_CHINIT_STATE:
	case FSM_OP_CHST_CAS:
	case FSM_OP_CH_GETBATCH:
	case FSM_OP_CH_SETTLE:
	case FSM_OP_CH_RESET:
	case FSM_OP_CH_RECV_START:
	case FSM_OP_CH_RECV_BATCH:
		return F_CHAN;
	case FSM_OP_USER_DEFINE:
		return F_FLAGS | F_USER;
	case FSM_OP_USER_ALTER:
	case FSM_OP_USER_DELETE:
		return F_USER;
	case FSM_OP_AUTHREC_SET:
	case FSM_OP_AUTHREC_DELETE:
		return F_AUTHREC;
	case FSM_OP_CHLAUTH_SET:
		return F_CHLAUTH;
	default:
		return 0;
	}
}

/* The channel fields of op (after the generic ones). */
static void chan_encode(uint8_t op, const struct fsm_chcmd *ch, struct qsg_wbuf *w)
{
	switch (op) {
	case FSM_OP_QMGR_ALTER:
		qsg_put_u32(w, ch->qm.set);
		qsg_put_str(w, ch->qm.deadq);
		qsg_put_str(w, ch->qm.descr);
		break;
	case FSM_OP_CHDEFINE:
	case FSM_OP_CHALTER: {
		struct fsm_chattrs a = ch->attrs;
		if (a.name[0] == '\0')
			memcpy(a.name, ch->name, sizeof a.name);
		fsm_chattrs_encode(w, &a);
		break;
	}
	case FSM_OP_CHDELETE:
		qsg_put_str(w, ch->name);
		break;
	case FSM_OP_CHINIT_STATE:
		qsg_put_u32(w, ch->member_id);
		qsg_put_u8(w, ch->chinit);
		break;
	case FSM_OP_CHST_CAS:
		qsg_put_str(w, ch->name);
		qsg_put_str(w, ch->rqmname);
		qsg_put_u8(w, ch->chltype);
		fsm_chimage_encode(w, &ch->before);
		fsm_chimage_encode(w, &ch->after);
		qsg_put_str(w, ch->conname);
		qsg_put_str(w, ch->reason);
		if (ch->flags != 0) { /* format 3 (FSM_CMD_VERSION_CAS) */
			qsg_put_str(w, ch->partner);
			qsg_put_u32(w, ch->flags);
		} else if (ch->partner[0] != '\0') {
			/* Optional (a later addition): the partner's name. */
			qsg_put_str(w, ch->partner);
		}
		break;
	case FSM_OP_CH_GETBATCH:
		qsg_put_str(w, ch->name);
		qsg_put_u32(w, ch->member_id);
		qsg_put_u64(w, ch->epoch);
		qsg_put_u32(w, ch->max_msgs);
		qsg_put_u32(w, ch->max_bytes);
		if (ch->flags != 0) /* optional (a later addition): FSM_CHF_ALONE */
			qsg_put_u32(w, ch->flags);
		break;
	case FSM_OP_CH_SETTLE:
		qsg_put_str(w, ch->name);
		qsg_put_u32(w, ch->member_id);
		qsg_put_u64(w, ch->epoch);
		qsg_put_u64(w, ch->seq);
		qsg_put_u32(w, ch->flags);
		qsg_put_u32(w, ch->count);
		qsg_put_blob(w, ch->list.p, ch->list.len);
		break;
	case FSM_OP_CH_RESET:
		qsg_put_str(w, ch->name);
		qsg_put_u64(w, ch->seq);
		break;
	case FSM_OP_CH_RECV_START:
		qsg_put_str(w, ch->name);
		qsg_put_str(w, ch->rqmname);
		qsg_put_u32(w, ch->member_id);
		qsg_put_u64(w, ch->epoch);
		qsg_put_u32(w, ch->flags);
		qsg_put_u64(w, ch->seq);
		qsg_put_str(w, ch->conname);
		break;
	case FSM_OP_CH_RECV_BATCH:
		qsg_put_str(w, ch->name);
		qsg_put_str(w, ch->rqmname);
		qsg_put_str(w, ch->local_qmgr);
		qsg_put_u32(w, ch->member_id);
		qsg_put_u64(w, ch->epoch);
		qsg_put_u64(w, ch->seq);
		qsg_put_u64(w, ch->last);
		qsg_put_u64(w, ch->luwid);
		qsg_put_u32(w, ch->count);
		qsg_put_blob(w, ch->list.p, ch->list.len);
		/* Optional (a later addition): the receiver instance. */
		if (ch->rinst != 0)
			qsg_put_u64(w, ch->rinst);
		break;
	default:
		break;
	}
}

static void chan_read(uint8_t op, uint8_t version, struct qsg_rbuf *r, struct fsm_chcmd *ch)
{
	switch (op) {
	case FSM_OP_QMGR_ALTER:
		ch->qm.set = qsg_get_u32(r);
		qsg_get_str(r, ch->qm.deadq, sizeof ch->qm.deadq);
		qsg_get_str(r, ch->qm.descr, sizeof ch->qm.descr);
		break;
	case FSM_OP_CHDELETE:
		qsg_get_str(r, ch->name, sizeof ch->name);
		break;
	case FSM_OP_CHINIT_STATE:
		ch->member_id = qsg_get_u32(r);
		ch->chinit = qsg_get_u8(r);
		break;
	case FSM_OP_CHST_CAS:
		qsg_get_str(r, ch->name, sizeof ch->name);
		qsg_get_str(r, ch->rqmname, sizeof ch->rqmname);
		ch->chltype = qsg_get_u8(r);
		fsm_chimage_decode(r, &ch->before);
		fsm_chimage_decode(r, &ch->after);
		qsg_get_str(r, ch->conname, sizeof ch->conname);
		qsg_get_str(r, ch->reason, sizeof ch->reason);
		if (version == FSM_CMD_VERSION_CAS) {
			qsg_get_str(r, ch->partner, sizeof ch->partner);
			ch->flags = qsg_get_u32(r);
			if (r->err == QSG_OK && ch->flags == 0)
				r->err = QSG_RC_BAD_FRAME; /* written only with flags */
		} else if (r->err == QSG_OK && qsg_rbuf_left(r) > 0) {
			qsg_get_str(r, ch->partner, sizeof ch->partner);
			if (r->err == QSG_OK && ch->partner[0] == '\0')
				r->err = QSG_RC_BAD_FRAME; /* present means set */
		}
		break;
	case FSM_OP_CH_GETBATCH:
		qsg_get_str(r, ch->name, sizeof ch->name);
		ch->member_id = qsg_get_u32(r);
		ch->epoch = qsg_get_u64(r);
		ch->max_msgs = qsg_get_u32(r);
		ch->max_bytes = qsg_get_u32(r);
		if (r->err == QSG_OK && qsg_rbuf_left(r) > 0) {
			ch->flags = qsg_get_u32(r);
			if (r->err == QSG_OK && ch->flags == 0)
				r->err = QSG_RC_BAD_FRAME; /* present means set */
		}
		break;
	case FSM_OP_CH_SETTLE:
		qsg_get_str(r, ch->name, sizeof ch->name);
		ch->member_id = qsg_get_u32(r);
		ch->epoch = qsg_get_u64(r);
		ch->seq = qsg_get_u64(r);
		ch->flags = qsg_get_u32(r);
		ch->count = qsg_get_u32(r);
		ch->list = qsg_get_blob(r, UINT32_MAX);
		break;
	case FSM_OP_CH_RESET:
		qsg_get_str(r, ch->name, sizeof ch->name);
		ch->seq = qsg_get_u64(r);
		break;
	case FSM_OP_CH_RECV_START:
		qsg_get_str(r, ch->name, sizeof ch->name);
		qsg_get_str(r, ch->rqmname, sizeof ch->rqmname);
		ch->member_id = qsg_get_u32(r);
		ch->epoch = qsg_get_u64(r);
		ch->flags = qsg_get_u32(r);
		ch->seq = qsg_get_u64(r);
		qsg_get_str(r, ch->conname, sizeof ch->conname);
		break;
	case FSM_OP_CH_RECV_BATCH:
		qsg_get_str(r, ch->name, sizeof ch->name);
		qsg_get_str(r, ch->rqmname, sizeof ch->rqmname);
		qsg_get_str(r, ch->local_qmgr, sizeof ch->local_qmgr);
		ch->member_id = qsg_get_u32(r);
		ch->epoch = qsg_get_u64(r);
		ch->seq = qsg_get_u64(r);
		ch->last = qsg_get_u64(r);
		ch->luwid = qsg_get_u64(r);
		ch->count = qsg_get_u32(r);
		ch->list = qsg_get_blob(r, UINT32_MAX);
		if (r->err == QSG_OK && qsg_rbuf_left(r) > 0) {
			ch->rinst = qsg_get_u64(r);
			if (r->err == QSG_OK && ch->rinst == 0)
				r->err = QSG_RC_BAD_FRAME; /* present means set */
		}
		break;
	default:
		break;
	}
}

/* Values of a decoded channel command (the lists are walked fully). */
static int chan_check(uint8_t op, const struct fsm_chcmd *ch, char *errmsg)
{
	struct fsm_chiter it;
	int done = 0;
	switch (op) {
	case FSM_OP_QMGR_ALTER:
		if ((ch->qm.set & ~(uint32_t)FSM_QM_ALL) != 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"unknown qmgr attribute bits 0x%x", ch->qm.set);
		if (!name_or_empty(ch->qm.deadq))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad DEADQ name");
		return QSG_OK;
	case FSM_OP_CHDEFINE:
	case FSM_OP_CHALTER:
		return QSG_OK; /* fsm_chattrs_decode checked them */
	case FSM_OP_CHINIT_STATE:
		if (ch->member_id == 0 || ch->chinit > 1)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHINIT_STATE member %u state %u",
					ch->member_id, ch->chinit);
		return QSG_OK;
	default:
		break;
	}
	if (!fsm_chname_valid(ch->name))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad channel name");
	switch (op) {
	case FSM_OP_CHST_CAS:
		if (!name_or_empty(ch->rqmname) || !name_or_empty(ch->partner))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad RQMNAME");
		if (ch->chltype != 0 && ch->chltype != FSM_CHL_SDR && ch->chltype != FSM_CHL_RCVR)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CHLTYPE %u out of range",
					ch->chltype);
		if ((ch->before.exists == 0 && ch->before.state != FSM_CHS_INACTIVE) ||
		    (ch->after.exists == 0 && ch->after.state != FSM_CHS_INACTIVE))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"a missing entry's image has a state");
		if ((ch->flags & ~(uint32_t)FSM_CHF_RETRY) != 0 ||
		    ((ch->flags & FSM_CHF_RETRY) &&
		     (ch->after.exists != 1 || ch->after.state != FSM_CHS_RETRYING)))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CAS flags 0x%x", ch->flags);
		break;
	case FSM_OP_CH_GETBATCH:
		if (ch->member_id == 0 || ch->max_msgs == 0 || ch->max_msgs > FSM_MAX_CHBATCH)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "GETBATCH member %u max_msgs %u",
					ch->member_id, ch->max_msgs);
		if ((ch->flags & ~(uint32_t)FSM_CHF_ALONE) != 0 ||
		    ((ch->flags & FSM_CHF_ALONE) && ch->max_msgs != 1))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "GETBATCH flags 0x%x max_msgs %u",
					ch->flags, ch->max_msgs);
		break;
	case FSM_OP_CH_SETTLE: {
		if ((ch->flags & ~(uint32_t)(FSM_CHF_BACKOUT_REST | FSM_CHF_OPERATOR)) != 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "SETTLE flags 0x%x", ch->flags);
		if (ch->member_id == 0 && !(ch->flags & FSM_CHF_OPERATOR))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "member id 0 is reserved");
		fsm_chiter_init(&it, ch);
		struct fsm_chdisp d;
		do {
			if (fsm_chiter_disp(&it, &d, &done) != QSG_OK)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad disposition list");
		} while (!done);
		break;
	}
	case FSM_OP_CH_RESET:
		if (ch->seq == 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "RESET sequence number 0");
		break;
	case FSM_OP_CH_RECV_START:
		if (!fsm_name_valid(ch->rqmname) || ch->member_id == 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "RECV_START rqmname or member");
		if ((ch->flags & ~(uint32_t)(FSM_CHF_RESET | FSM_CHF_TAKEOVER)) != 0 ||
		    ((ch->flags & FSM_CHF_RESET) && ch->seq == 0))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "RECV_START flags 0x%x seq 0",
					ch->flags);
		break;
	case FSM_OP_CH_RECV_BATCH: {
		if (!fsm_name_valid(ch->rqmname) || !name_or_empty(ch->local_qmgr) ||
		    ch->member_id == 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"RECV_BATCH rqmname, local_qmgr or member");
		if (ch->count == 0 || ch->count > FSM_MAX_CHBATCH)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "RECV_BATCH of %u messages",
					ch->count);
		fsm_chiter_init(&it, ch);
		struct fsm_chmsg m;
		for (;;) {
			if (fsm_chiter_msg(&it, &m, &done) != QSG_OK)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad message list");
			if (done)
				break;
			if (!name_or_empty(m.rqmname) || !fsm_name_valid(m.rname))
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"bad destination in the message list");
		}
		break;
	}
	default:
		break;
	}
	return QSG_OK;
}

int fsm_cmd_encode(const struct fsm_cmd *c, struct qsg_wbuf *w)
{
	unsigned f = op_fields(c->op);
	if (f == 0)
		return QSG_RC_UNKNOWN_OP;
	qsg_put_u8(w, c->op);
	qsg_put_u8(w, c->op == FSM_OP_CHST_CAS && c->ch.flags != 0 ? FSM_CMD_VERSION_CAS
								   : FSM_CMD_VERSION);
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
	if (f & F_SCOPE) {
		qsg_put_u32(w, c->attrs.scope);
		qsg_put_u8(w, c->attrs.disp);
	}
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
	if (f & (F_CHUNK | F_MSGSEQ))
		qsg_put_u64(w, c->msg.seqno);
	if (f & F_CHUNK) {
		qsg_put_u32(w, c->part);
		qsg_put_u32(w, c->total);
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
	if (f & F_CHAN)
		chan_encode(c->op, &c->ch, w);
	if (f & F_USER)
		user_encode(c->op, &c->user, w);
	if (f & F_AUTHREC)
		authrec_encode(c->op, &c->authrec, w);
	if (f & F_CHLAUTH)
		chlauth_encode(&c->chlauth, w);
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
	if (version != FSM_CMD_VERSION &&
	    !(version == FSM_CMD_VERSION_CAS && c->op == FSM_OP_CHST_CAS))
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
	if (f & F_SCOPE) {
		c->attrs.scope = qsg_get_u32(&r);
		c->attrs.disp = qsg_get_u8(&r);
		if (r.err == QSG_OK && c->attrs.disp > FSM_DISP_COPY)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "QSGDISP %u out of range",
					c->attrs.disp);
	}
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
	if (f & (F_CHUNK | F_MSGSEQ))
		c->msg.seqno = qsg_get_u64(&r);
	if (f & F_CHUNK) {
		c->part = qsg_get_u32(&r);
		c->total = qsg_get_u32(&r);
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
	if (f & F_CHAN) {
		if (c->op == FSM_OP_CHDEFINE || c->op == FSM_OP_CHALTER) {
			int rc = fsm_chattrs_decode(&r, &c->ch.attrs, errmsg);
			if (rc != QSG_OK)
				return rc;
			memcpy(c->ch.name, c->ch.attrs.name, sizeof c->ch.name);
		} else {
			chan_read(c->op, version, &r, &c->ch);
		}
	}
	if (f & F_USER) {
		int rc = user_decode(c->op, &r, &c->user, errmsg);
		if (rc != QSG_OK)
			return rc;
		if ((c->flags & ~(uint32_t)FSM_F_REPLACE) != 0)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "USER_DEFINE flags 0x%x",
					c->flags);
	}
	if (f & F_AUTHREC) {
		int rc = authrec_decode(c->op, &r, &c->authrec, errmsg);
		if (rc != QSG_OK)
			return rc;
	}
	if (f & F_CHLAUTH) {
		int rc = chlauth_decode(&r, &c->chlauth, errmsg);
		if (rc != QSG_OK)
			return rc;
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
	if ((f & F_MEMBER) && c->op != FSM_OP_ATTACH && c->op != FSM_OP_BROWSE && c->member_id == 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "member id 0 is reserved");
	if ((c->op == FSM_OP_MEMBER_JOIN || c->op == FSM_OP_MEMBER_JOIN_BOUNDED ||
	     c->op == FSM_OP_LEASE_RENEW) &&
	    c->seq > FSM_MAX_LEASE_MS)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "lease of %llu ms is too long",
				(unsigned long long)c->seq);
	if ((f & F_CHUNK) &&
	    (c->total > FSM_MAX_MSGL || c->part >= fsm_nparts(c->total) ||
	     c->msg.body.len != fsm_part_len(0, c->total, c->part) ||
	     (c->part == 0) != (c->msg.seqno == 0) || (c->part > 0 && c->msg.props.len > 0)))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"PUT_CHUNK: part %u of %zu bytes does not fit a body of %u bytes",
				c->part, c->msg.body.len, c->total);
	if (c->op == FSM_OP_MEMBER_LEVEL && (c->seq < FSM_CMDLEVEL_MIN || c->seq > UINT16_MAX))
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "command level %llu out of range",
				(unsigned long long)c->seq);
	if ((f & F_MSGSEQ) && c->msg.seqno == 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "GET_DONE of seqno 0");
	if ((f & F_STATS) && c->stats.role > 3)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "raft role %u out of range",
				c->stats.role);
	if (f & F_CHAN)
		return chan_check(c->op, &c->ch, errmsg);
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

int fsm_entry_read_begin(struct fsm_entry_reader *er, const void *entry, size_t len, char *errmsg)
{
	qsg_rbuf_init(&er->r, entry, len);
	uint8_t version = qsg_get_u8(&er->r);
	uint8_t type = qsg_get_u8(&er->r);
	uint16_t reserved = qsg_get_u16(&er->r);
	er->time_ms = qsg_get_i64(&er->r);
	er->count = qsg_get_u32(&er->r);
	er->next = 0;
	if (er->r.err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "entry of %zu bytes has no header", len);
	if (version != FSM_ENTRY_VERSION)
		return qsg_errf(errmsg, QSG_RC_BAD_VERSION, "entry format version %u", version);
	if (type != FSM_ENTRY_TYPE_BATCH || reserved != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "entry type %u reserved %u", type,
				reserved);
	if (er->count == 0 || er->count > FSM_MAX_BATCH)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "entry has %u commands", er->count);
	return QSG_OK;
}

int fsm_entry_read_next(struct fsm_entry_reader *er, struct qsg_slice *cmd, char *errmsg)
{
	if (er->next >= er->count)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "entry has only %u commands", er->count);
	uint32_t n = qsg_get_u32(&er->r);
	*cmd = qsg_get_raw(&er->r, n);
	er->next++;
	if (er->r.err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "entry truncated in command %u of %u",
				er->next, er->count);
	return QSG_OK;
}

int fsm_entry_read_end(struct fsm_entry_reader *er, char *errmsg)
{
	if (qsg_rbuf_left(&er->r) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "%zu trailing bytes after %u commands",
				qsg_rbuf_left(&er->r), er->count);
	return QSG_OK;
}

static bool batch_list_ok(const struct fsm_chresult *res)
{
	struct fsm_chiter it;
	uint64_t seq, prev = 0;
	struct fsm_msg m;
	int done = 0;
	fsm_chiter_result(&it, res);
	for (;;) {
		if (fsm_chiter_batch(&it, &seq, &m, &done) != QSG_OK)
			return false;
		if (done)
			return true;
		if (seq <= prev)
			return false;
		prev = seq;
	}
}

static bool reject_list_ok(const struct fsm_chresult *res)
{
	struct fsm_chiter it;
	uint32_t index, reason;
	int done = 0;
	if (res->count == 0 || res->count > FSM_MAX_CHBATCH)
		return false;
	fsm_chiter_result(&it, res);
	for (;;) {
		if (fsm_chiter_reject(&it, &index, &reason, &done) != QSG_OK)
			return false;
		if (done)
			return true;
		if (index >= FSM_MAX_CHBATCH || reason == 0 || reason > (uint32_t)INT32_MAX ||
		    !qsg_rc_valid((int)reason))
			return false;
	}
}

uint32_t fsm_result_part_crc(const struct fsm_result *res, uint32_t part)
{
	if (part >= res->nparts || res->part_crc.len < (size_t)(part + 1) * 4)
		return 0;
	const uint8_t *p = res->part_crc.p + (size_t)part * 4;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
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
		case FSM_OP_PUT_CHUNK:
			res->duplicate = qsg_get_u8(&r);
			qsg_get_bytes(&r, res->msg.msgid, FSM_ID_LEN);
			res->msg.seqno = qsg_get_u64(&r);
			if (r.err == QSG_OK && res->duplicate > 1)
				r.err = QSG_RC_BAD_FRAME;
			break;
		case FSM_OP_GET:
		case FSM_OP_BROWSE:
			fsm_msg_decode(&r, &res->msg);
			if (r.err == QSG_OK && qsg_rbuf_left(&r) > 0) {
				/* A chunked message: part 0 and the part table. */
				res->body_len = qsg_get_u32(&r);
				res->nparts = qsg_get_u32(&r);
				if (r.err == QSG_OK &&
				    (res->nparts < 2 || res->nparts > FSM_MAX_PARTS ||
				     res->body_len > FSM_MAX_MSGL ||
				     res->nparts != fsm_nparts(res->body_len) ||
				     res->msg.body.len != fsm_part_len(0, res->body_len, 0)))
					r.err = QSG_RC_BAD_FRAME;
				if (r.err == QSG_OK)
					res->part_crc = qsg_get_raw(&r, (size_t)res->nparts * 4);
			}
			break;
		case FSM_OP_CHST_CAS:
			fsm_chimage_decode(&r, &res->ch.current);
			if (r.err == QSG_OK && qsg_rbuf_left(&r) > 0) { /* FSM_CHF_RETRY */
				res->ch.retries = qsg_get_u32(&r);
				res->ch.retry_at_ms = qsg_get_i64(&r);
				res->ch.time_ms = qsg_get_i64(&r);
			}
			break;
		case FSM_OP_CH_GETBATCH:
			res->ch.count = qsg_get_u32(&r);
			res->ch.list = qsg_get_raw(&r, qsg_rbuf_left(&r));
			if (r.err == QSG_OK && !batch_list_ok(&res->ch))
				r.err = QSG_RC_BAD_FRAME;
			break;
		case FSM_OP_CH_SETTLE:
			res->ch.committed = qsg_get_u32(&r);
			res->ch.backed_out = qsg_get_u32(&r);
			res->ch.disposed = qsg_get_u32(&r);
			break;
		case FSM_OP_CH_RECV_START:
			res->ch.epoch = qsg_get_u64(&r);
			res->ch.lstseq = qsg_get_u64(&r);
			res->ch.luwid = qsg_get_u64(&r);
			if (r.err == QSG_OK && qsg_rbuf_left(&r) > 0)
				res->ch.rinst = qsg_get_u64(&r); /* FSM_CHF_TAKEOVER */
			break;
		case FSM_OP_CH_RECV_BATCH:
			res->ch.duplicate = qsg_get_u8(&r);
			if (r.err == QSG_OK && res->ch.duplicate > 1)
				r.err = QSG_RC_BAD_FRAME;
			break;
		default:
			if (op_fields(op) == 0)
				return qsg_errf(errmsg, QSG_RC_UNKNOWN_OP, "unknown command op %u",
						op);
			break;
		}
	} else if (op == FSM_OP_CHST_CAS && qsg_rbuf_left(&r) > 0) {
		/* The current image comes with every CAS result, failures too
		 * (a result made outside the state machine may carry only rc). */
		fsm_chimage_decode(&r, &res->ch.current);
	} else if (op == FSM_OP_CH_RECV_BATCH && rc == QSG_RC_BATCH_REJECTED) {
		res->ch.count = qsg_get_u32(&r);
		res->ch.list = qsg_get_raw(&r, qsg_rbuf_left(&r));
		if (r.err == QSG_OK && !reject_list_ok(&res->ch))
			r.err = QSG_RC_BAD_FRAME;
	}
	if (r.err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "result of op %u truncated or invalid",
				op);
	if (qsg_rbuf_left(&r) != 0)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"%zu trailing bytes after result of op %u", qsg_rbuf_left(&r), op);
	return QSG_OK;
}
