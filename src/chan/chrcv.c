/* A receiving channel instance (MCA) for one inbound connection on the
 * group port. See docs/channels.md.
 *
 *   CHP_START -> CH_RECV_START (fences older sender epochs, reads the
 *   shared SYNCQ: the last committed sequence number) -> reply;
 *   CHP_MSG ... CHP_MSG(LAST) -> one CH_RECV_BATCH command: the batch's puts
 *   and its SYNCQ record commit together -> CHP_CONFIRM.
 *
 * A member that cannot serve the channel refuses the START at once with the
 * reason (channel initiator stopped, fenced, no leader known), so that the
 * partner moves to its next CONNAME entry instead of waiting.
 *
 * Batches are submitted one after another, in order; a batch whose outcome
 * is unknown is submitted again (the state machine recognises it as a
 * duplicate if it was committed). A batch refused in part (destination black
 * list) is answered with the refused messages; the messages that follow it
 * are ignored until the sender sends the batch again from its first
 * sequence number.
 *
 * One instance of an inbound channel at a time (docs/channels.md): the
 * START is a takeover (FSM_CHF_TAKEOVER): it makes a new receiver instance
 * (rinst) that fences any other, here or on another member; every batch
 * carries rinst and the state machine refuses one from a fenced instance.
 * The channel initiator ends a local instance as soon as the replica shows
 * its channel taken (chrcv_check_fenced). */
#include "chrcv.h"

#include <stdlib.h>
#include <string.h>

#include "chcore.h"
#include "qsgd/authchl.h"
#include "raft-glue/glue.h"
#include "tls/tls.h"

#define RCV_MAX_QUEUED (FSM_CH_MAX_PIPELINE + 2)
#define RCV_MAX_BATCH_BYTES (256u * 1024 * 1024)
#define RCV_MAX_ATTEMPTS 30

enum rphase { R_WAIT_START = 1, R_STARTING, R_RUN, R_DEAD };

struct rbatch {
	struct rbatch *next;
	uint64_t first, last, luwid;
	uint32_t count;
	struct qsg_wbuf list;
	unsigned attempts;
};

struct chrcv {
	struct chhost *h;
	struct chrcv *next;
	struct stream *st;
	bool closed; /* the connection is gone */
	unsigned refs;
	int phase;
	char name[FSM_CHNAME_MAX + 1];
	char rqmname[FSM_NAME_MAX + 1];
	uint64_t epoch;
	uint64_t rinst; /* receiver instance (from CH_RECV_START), 0 = not yet */
	uint32_t maxmsgl;
	uint32_t batchsz;
	char peer[FSM_ADDR_MAX + 1];
	struct chcore_rcvseq seq; /* sequence checks (chcore) */
	struct rbatch *cur;
	struct rbatch *qhead, *qtail;
	unsigned nq;
	bool submitting;
	struct qsg_wbuf scratch;
};

struct chrcv *chrcv_next(const struct chrcv *r)
{
	return r->next;
}

static void rbatch_free(struct rbatch *b)
{
	if (b == NULL)
		return;
	qsg_wbuf_close(&b->list);
	free(b);
}

static void drop_batches(struct chrcv *r)
{
	rbatch_free(r->cur);
	r->cur = NULL;
	bool first = true;
	while (r->qhead != NULL) {
		struct rbatch *b = r->qhead;
		r->qhead = b->next;
		/* The batch being submitted is freed by its completion. */
		if (!(first && r->submitting))
			rbatch_free(b);
		first = false;
	}
	r->qtail = NULL;
	r->nq = 0;
}

static void release(struct chrcv *r)
{
	if (--r->refs > 0)
		return;
	struct chhost *h = r->h;
	qsg_wbuf_close(&r->scratch);
	free(r);
	chhost_unref(h);
}

static void send_end(struct chrcv *r, int rc, const char *text)
{
	if (r->closed)
		return;
	chp_end_encode(&r->st->out, rc, text);
	stream_mark(r->st);
}

void chrcv_abort(struct chrcv *r, int rc, const char *why)
{
	if (r->closed || r->phase == R_DEAD)
		return;
	QLOG_INFO_(r->h->d->log, "QSG5050I", "inbound channel %s from %s (%s) ended: %s",
		   r->name[0] ? r->name : "?", r->rqmname[0] ? r->rqmname : "?", r->peer, why);
	send_end(r, rc, why);
	r->phase = R_DEAD;
	stream_close_after_write(r->st);
}

/* ---- start ---- */

static void start_reply(struct chrcv *r, int rc, const char *text, uint64_t lstseq, uint64_t luwid,
			const struct chp_start *s)
{
	struct chp_start_resp resp;
	memset(&resp, 0, sizeof resp);
	resp.rc = rc;
	snprintf(resp.text, sizeof resp.text, "%s", text != NULL ? text : "");
	if (rc == QSG_OK) {
		struct fsm_chattrs def;
		snprintf(resp.receiver_qmgr, sizeof resp.receiver_qmgr, "%s", r->h->d->cfg->group);
		resp.member_id = r->h->d->cfg->id;
		resp.lstseq = lstseq;
		resp.luwid = luwid;
		resp.batchsz = s->batchsz;
		resp.maxmsgl = s->maxmsgl;
		resp.hbint = s->hbint;
		resp.pipeline =
		    s->pipeline > FSM_CH_MAX_PIPELINE ? FSM_CH_MAX_PIPELINE : s->pipeline;
		if (fsm_channel_get(r->h->d->fsm, r->name, &def) == QSG_OK) {
			if (def.maxmsgl < resp.maxmsgl)
				resp.maxmsgl = def.maxmsgl;
			resp.compmsg = s->compmsg == FSM_COMP_LZ4 && def.compmsg == FSM_COMP_LZ4
					   ? FSM_COMP_LZ4
					   : FSM_COMP_NONE;
		}
		r->maxmsgl = resp.maxmsgl;
		r->batchsz = resp.batchsz;
	}
	chp_start_resp_encode(&r->st->out, 1, &resp);
	stream_mark(r->st);
}

struct rstart {
	struct chrcv *r;
	struct chp_start s;
};

static void recv_start_done(void *arg, int status, const void *result, size_t len)
{
	struct rstart *x = arg;
	struct chrcv *r = x->r;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	int rc = status;
	if (status == QSG_OK) {
		rc = fsm_result_decode(FSM_OP_CH_RECV_START, result, len, &res, errmsg);
		if (rc == QSG_OK)
			rc = res.rc;
	}
	if (!r->closed && r->phase == R_STARTING) {
		if (rc == QSG_OK) {
			r->phase = R_RUN;
			r->rinst = res.ch.rinst;
			chcore_rcv_started(&r->seq, res.ch.lstseq);
			start_reply(r, QSG_OK, NULL, res.ch.lstseq, res.ch.luwid, &x->s);
			QLOG_INFO_(r->h->d->log, "QSG5051I",
				   "inbound channel %s from %s (%s) running, epoch %llu, instance "
				   "%llu, last sequence number %llu",
				   r->name, r->rqmname, r->peer, (unsigned long long)r->epoch,
				   (unsigned long long)r->rinst, (unsigned long long)res.ch.lstseq);
			if (r->st->tls != NULL)
				QLOG_INFO_(r->h->d->log, "QSG5061I",
					   "inbound channel %s: TLS %s %s, partner certificate "
					   "'%s' SHA-256 %s",
					   r->name, tlsstream_version(r->st),
					   tlsstream_cipher(r->st), tlsstream_peer_dn(r->st),
					   tlsstream_peer_fingerprint(r->st));
		} else {
			start_reply(r, rc, errmsg[0] ? errmsg : qsg_rc_text(rc), 0, 0, &x->s);
			r->phase = R_DEAD;
			stream_close_after_write(r->st);
		}
	}
	free(x);
	release(r);
}

/* TLS on the channel (docs/channels.md "TLS on channels"): both ends must
 * agree, as in MQ. def: the receiver's definition (NULL: none, a
 * plaintext channel). The stream is TLS when the partner's first bytes were
 * a TLS record (the client listener's detection) or the listener requires
 * TLS. A refusal is QSG_RC_SSL_INITIALIZATION_ERROR (2393, what MQ gives a
 * CipherSpec mismatch) or QSG_RC_SSL_PEER_NAME_MISMATCH (2398). */
static int check_tls(struct chrcv *r, const char *channel, const struct fsm_chattrs *def,
		     char *errmsg)
{
	bool tls = r->st->tls != NULL;
	const char *ciph = def != NULL ? def->sslciph : "";
	if (!chssl_on(ciph)) {
		if (!tls)
			return QSG_OK;
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				"AMQ9639-like: channel %s has no SSLCIPH here, but the partner "
				"connected with TLS (%s %s): give both ends the same SSLCIPH",
				channel, tlsstream_version(r->st), tlsstream_cipher(r->st));
	}
	if (!tls)
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				"AMQ9639-like: channel %s has SSLCIPH(%s) here, but the partner "
				"did not specify a CipherSpec (plaintext)",
				channel, ciph);
	const struct chssl_spec *spec = chssl_find(ciph);
	if (spec == NULL)
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				"SSLCIPH(%s) of channel %s is not a CipherSpec qsg has", ciph,
				channel);
	if (!chssl_negotiated_ok(spec, tlsstream_version(r->st), tlsstream_cipher(r->st)))
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				"AMQ9631-like: the CipherSpecs do not match: channel %s has "
				"SSLCIPH(%s), the partner negotiated %s %s",
				channel, spec->name, tlsstream_version(r->st),
				tlsstream_cipher(r->st));
	if (!tlsstream_peer_verified(r->st))
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				"AMQ9637-like: channel %s has SSLCIPH(%s): the partner presented "
				"no certificate that chains to [tls] ca",
				channel, spec->name);
	char peer[FSM_SSLPEER_MAX + 1];
	chssl_peer_norm(def->sslpeer, peer, sizeof peer);
	if (peer[0] != '\0' &&
	    !tls_peer_match(peer, tlsstream_peer_dn(r->st), tlsstream_peer_cn(r->st)))
		return qsg_errf(errmsg, QSG_RC_SSL_PEER_NAME_MISMATCH,
				"AMQ9636-like: the partner's certificate '%s' (SHA-256 %s) does "
				"not match SSLPEER('%s') of channel %s",
				tlsstream_peer_dn(r->st), tlsstream_peer_fingerprint(r->st),
				def->sslpeer, channel);
	return QSG_OK;
}

static void on_start(struct chrcv *r, const uint8_t *p, size_t len)
{
	struct rstart *x = calloc(1, sizeof *x);
	char errmsg[QSG_ERRMSG_SIZE] = "";
	if (x == NULL) {
		chrcv_abort(r, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		return;
	}
	int rc = chp_start_decode(p, len, &x->s, errmsg);
	bool decoded = rc == QSG_OK;
	const struct qsgd_config *cfg = r->h->d->cfg;
	if (rc == QSG_OK)
		rc = chcore_rcv_accept(x->s.receiver_qmgr, cfg->group, cfg->name, r->h->running,
				       r->h->fenced, errmsg);
	if (rc == QSG_OK) {
		struct fsm_chattrs def;
		bool have = fsm_channel_get(r->h->d->fsm, x->s.channel, &def) == QSG_OK;
		rc = check_tls(r, x->s.channel, have ? &def : NULL, errmsg);
		/* CHLAUTH: the rules of the channel's name (docs/security.md
		 * "Channel authentication (CHLAUTH)"); MCAUSER is not used. */
		char mcauser[FSM_NAME_MAX + 1];
		if (rc == QSG_OK)
			rc = authchl_check(r->h->d->fsm, r->h->d->log, NULL, 0, x->s.channel,
					   r->peer, tlsstream_peer_dn(r->st), "", mcauser, errmsg);
		/* A private receiver (docs/channels.md "Private channels") is
		 * served by its member only: refused here, the partner goes on
		 * to its next CONNAME entry. */
		if (rc == QSG_OK && have && FSM_CH_PRIVATE(&def) && def.scope != cfg->id)
			rc = qsg_errf(errmsg, QSG_RC_CHANNEL_NOT_FOUND,
				      "channel %s is a private channel of another member (id %u), "
				      "not of %s",
				      x->s.channel, (unsigned)def.scope, cfg->name);
	}
	if (rc == QSG_OK) {
		struct glue_info gi;
		memset(&gi, 0, sizeof gi);
		r->h->d->ops->info(r->h->d, &gi);
		rc = chcore_rcv_serve(cfg->name, gi.role == GLUE_LEADER || gi.leader_id != 0,
				      errmsg);
	}
	if (rc != QSG_OK) {
		QLOG_INFO_(r->h->d->log, "QSG5054I", "inbound channel %s from %s (%s) refused: %s",
			   decoded ? x->s.channel : "?", decoded ? x->s.sender_qmgr : "?", r->peer,
			   errmsg);
		struct chp_start dummy;
		memset(&dummy, 0, sizeof dummy);
		start_reply(r, rc, errmsg, 0, 0, &dummy);
		r->phase = R_DEAD;
		stream_close_after_write(r->st);
		free(x);
		return;
	}
	snprintf(r->name, sizeof r->name, "%s", x->s.channel);
	snprintf(r->rqmname, sizeof r->rqmname, "%s", x->s.sender_qmgr);
	r->epoch = x->s.epoch;
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_CH_RECV_START;
	snprintf(cmd.ch.name, sizeof cmd.ch.name, "%s", r->name);
	snprintf(cmd.ch.rqmname, sizeof cmd.ch.rqmname, "%s", r->rqmname);
	cmd.ch.member_id = cfg->id;
	cmd.ch.epoch = r->epoch;
	/* A takeover: this instance fences any other of the channel. */
	cmd.ch.flags = FSM_CHF_TAKEOVER;
	if (x->s.reset_seq != 0) {
		cmd.ch.flags |= FSM_CHF_RESET;
		cmd.ch.seq = x->s.reset_seq;
	}
	snprintf(cmd.ch.conname, sizeof cmd.ch.conname, "%s", r->peer);
	x->r = r;
	r->refs++;
	r->phase = R_STARTING;
	if (qsgd_submit(r->h->d, &cmd, recv_start_done, x) != QSG_OK) {
		r->refs--;
		free(x);
		chrcv_abort(r, QSG_RC_Q_MGR_STOPPING, "cannot submit");
	}
}

/* ---- batches ---- */

static void submit_next(struct chrcv *r);

static void confirm(struct chrcv *r, const struct rbatch *b, int rc, const char *text,
		    const struct chp_reject *rej, uint32_t n)
{
	if (r->closed)
		return;
	chp_confirm_encode(&r->st->out, b->first, b->last, rc, text, rej, n);
	stream_mark(r->st);
}

struct rsub {
	struct chrcv *r;
	struct rbatch *b;
};

static void batch_done(void *arg, int status, const void *result, size_t len)
{
	struct rsub *x = arg;
	struct chrcv *r = x->r;
	struct rbatch *b = x->b;
	struct fsm_result res;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	free(x);
	r->submitting = false;
	if (r->closed || r->phase != R_RUN || r->qhead != b) {
		if (r->qhead != b)
			rbatch_free(b); /* dropped from the queue meanwhile */
		release(r);
		return;
	}
	int rc = status;
	if (status == QSG_OK) {
		rc = fsm_result_decode(FSM_OP_CH_RECV_BATCH, result, len, &res, errmsg);
		if (rc == QSG_OK)
			rc = res.rc;
	} else if (++b->attempts < RCV_MAX_ATTEMPTS) {
		/* Not applied or unknown: the same batch again is safe (a
		 * committed one comes back as a duplicate). */
		submit_next(r);
		release(r);
		return;
	}
	r->qhead = b->next;
	if (r->qhead == NULL)
		r->qtail = NULL;
	r->nq--;
	if (rc == QSG_OK) {
		confirm(r, b, QSG_OK, NULL, NULL, 0);
		rbatch_free(b);
		submit_next(r);
	} else if (rc == QSG_RC_BATCH_REJECTED) {
		struct chp_reject rej[256];
		uint32_t n = 0;
		struct fsm_chiter it;
		fsm_chiter_result(&it, &res.ch);
		for (;;) {
			uint32_t index, reason;
			int done = 0;
			if (fsm_chiter_reject(&it, &index, &reason, &done) != QSG_OK || done)
				break;
			if (n < sizeof rej / sizeof rej[0] && index < b->count) {
				rej[n].seq = b->first + index;
				rej[n].reason = reason;
				n++;
			}
		}
		QLOG_WARNING(r->h->d->log, "QSG5052W",
			     "inbound channel %s: batch %llu..%llu refused for %u message(s)",
			     r->name, (unsigned long long)b->first, (unsigned long long)b->last, n);
		confirm(r, b, QSG_RC_BATCH_REJECTED, "destinations refused", rej, n);
		/* Everything after it is sent again from b->first. */
		chcore_rcv_refused(&r->seq, b->first);
		rbatch_free(b);
		drop_batches(r);
	} else {
		if (rc == QSG_RC_CHANNEL_FENCED)
			QLOG_INFO_(r->h->d->log, "QSG5055I",
				   "inbound channel %s from %s (%s): batch %llu..%llu refused, "
				   "another instance has the channel; ending this one",
				   r->name, r->rqmname, r->peer, (unsigned long long)b->first,
				   (unsigned long long)b->last);
		confirm(r, b, rc, errmsg[0] ? errmsg : qsg_rc_text(rc), NULL, 0);
		rbatch_free(b);
		r->phase = R_DEAD;
		stream_close_after_write(r->st);
	}
	release(r);
}

static void submit_next(struct chrcv *r)
{
	if (r->submitting || r->qhead == NULL || r->closed || r->phase != R_RUN)
		return;
	struct rbatch *b = r->qhead;
	struct rsub *x = calloc(1, sizeof *x);
	if (x == NULL) {
		chrcv_abort(r, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		return;
	}
	x->r = r;
	x->b = b;
	struct fsm_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.op = FSM_OP_CH_RECV_BATCH;
	snprintf(cmd.ch.name, sizeof cmd.ch.name, "%s", r->name);
	snprintf(cmd.ch.rqmname, sizeof cmd.ch.rqmname, "%s", r->rqmname);
	snprintf(cmd.ch.local_qmgr, sizeof cmd.ch.local_qmgr, "%s", r->h->d->cfg->group);
	cmd.ch.member_id = r->h->d->cfg->id;
	cmd.ch.epoch = r->epoch;
	cmd.ch.rinst = r->rinst;
	cmd.ch.seq = b->first;
	cmd.ch.last = b->last;
	cmd.ch.luwid = b->luwid;
	cmd.ch.count = b->count;
	cmd.ch.list.p = b->list.data;
	cmd.ch.list.len = b->list.len;
	r->refs++;
	r->submitting = true;
	if (qsgd_submit(r->h->d, &cmd, batch_done, x) != QSG_OK) {
		r->submitting = false;
		r->refs--;
		free(x);
		chrcv_abort(r, QSG_RC_Q_MGR_STOPPING, "cannot submit");
	}
}

static void on_msg(struct chrcv *r, const uint8_t *p, size_t len)
{
	struct chp_msg m;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	char why[QSG_ERRMSG_SIZE + 32];
	if (chp_msg_decode(p, len, &m, &r->scratch, r->maxmsgl, errmsg) != QSG_OK) {
		snprintf(why, sizeof why, "bad message: %s", errmsg);
		chrcv_abort(r, QSG_RC_BAD_FRAME, why);
		return;
	}
	uint64_t expect = r->seq.expect;
	enum chcore_seq_act act = chcore_rcv_msg(&r->seq, m.seq);
	if (act == CHSEQ_IGNORE)
		return; /* part of a batch sent before the refusal */
	if (act == CHSEQ_MISMATCH) {
		snprintf(why, sizeof why, "message sequence number %llu, expected %llu",
			 (unsigned long long)m.seq, (unsigned long long)expect);
		chrcv_abort(r, QSG_RC_SEQ_MISMATCH, why);
		return;
	}
	if (r->cur == NULL) {
		r->cur = calloc(1, sizeof *r->cur);
		if (r->cur == NULL) {
			chrcv_abort(r, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
			return;
		}
		qsg_wbuf_init(&r->cur->list);
		r->cur->first = m.seq;
	}
	struct rbatch *b = r->cur;
	struct fsm_chmsg cm;
	memset(&cm, 0, sizeof cm);
	memcpy(cm.rqmname, m.rqmname, sizeof cm.rqmname);
	memcpy(cm.rname, m.rname, sizeof cm.rname);
	cm.msg = m.msg;
	fsm_chlist_put_msg(&b->list, &cm);
	b->count++;
	b->last = m.seq;
	if (b->count > FSM_MAX_CHBATCH || b->list.len > RCV_MAX_BATCH_BYTES) {
		chrcv_abort(r, QSG_RC_DATA_LENGTH_ERROR, "batch too large");
		return;
	}
	if (!(m.mflags & CHP_M_LAST))
		return;
	b->luwid = m.luwid;
	r->cur = NULL;
	if (r->nq >= RCV_MAX_QUEUED) {
		rbatch_free(b);
		chrcv_abort(r, QSG_RC_BUSY, "too many batches in flight");
		return;
	}
	if (r->qtail != NULL)
		r->qtail->next = b;
	else
		r->qhead = b;
	r->qtail = b;
	r->nq++;
	submit_next(r);
}

void chrcv_frame(struct chrcv *r, const uint8_t *p, size_t len)
{
	uint32_t reqid;
	if (r->closed || r->phase == R_DEAD)
		return;
	int op = chp_frame_op(p, len, &reqid);
	switch (r->phase) {
	case R_WAIT_START:
		if (op != CHP_START) {
			chrcv_abort(r, QSG_RC_BAD_FRAME, "the first frame must be a channel start");
			return;
		}
		on_start(r, p, len);
		return;
	case R_STARTING:
		chrcv_abort(r, QSG_RC_BAD_FRAME, "frame before the start was answered");
		return;
	default:
		break;
	}
	switch (op) {
	case CHP_MSG:
		on_msg(r, p, len);
		return;
	case CHP_HB:
		chp_hb_encode(&r->st->out, 1);
		stream_mark(r->st);
		return;
	case CHP_HB | PROTO_RESP:
		return;
	case CHP_END:
		r->phase = R_DEAD;
		stream_close_after_write(r->st);
		return;
	default:
		chrcv_abort(r, QSG_RC_UNKNOWN_OP, "unexpected frame on a receiving channel");
		return;
	}
}

/* ---- lifecycle ---- */

struct chrcv *chrcv_new(struct chhost *h, struct stream *st)
{
	struct chrcv *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->h = h;
	r->st = st;
	r->phase = R_WAIT_START;
	r->refs = 1;
	qsg_wbuf_init(&r->scratch);
	struct sockaddr_storage sa;
	int n = sizeof sa;
	char host[64] = "?";
	int port = 0;
	if (uv_tcp_getpeername(&st->tcp, (struct sockaddr *)&sa, &n) == 0) {
		if (sa.ss_family == AF_INET) {
			uv_ip4_name((const struct sockaddr_in *)&sa, host, sizeof host);
			port = ntohs(((const struct sockaddr_in *)&sa)->sin_port);
		} else if (sa.ss_family == AF_INET6) {
			uv_ip6_name((const struct sockaddr_in6 *)&sa, host, sizeof host);
			port = ntohs(((const struct sockaddr_in6 *)&sa)->sin6_port);
		}
	}
	snprintf(r->peer, sizeof r->peer, "%s:%d", host, port);
	chhost_ref(h);
	r->next = h->rcvs;
	h->rcvs = r;
	return r;
}

static void entry_removed(void *arg, int status, const void *result, size_t len)
{
	(void)status;
	(void)result;
	(void)len;
	release(arg);
}

void chrcv_closed(struct chrcv *r)
{
	struct chhost *h = r->h;
	r->closed = true;
	for (struct chrcv **pp = &h->rcvs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	bool was_running = r->name[0] != '\0' && r->epoch != 0;
	r->phase = R_DEAD;
	drop_batches(r);
	/* Remove our inbound status entry if it still names this connection
	 * (and no newer instance here took it). */
	struct fsm_chstatus st;
	struct fsm_syncq sq;
	if (was_running && !h->fenced &&
	    fsm_chstatus_get(h->d->fsm, r->name, r->rqmname, &st) == QSG_OK && st.img.exists &&
	    st.img.owner == h->d->cfg->id && st.img.epoch == r->epoch &&
	    (r->rinst == 0 || (fsm_syncq_get(h->d->fsm, r->name, r->rqmname, &sq) == QSG_OK &&
			       sq.rinst == r->rinst))) {
		struct fsm_cmd cmd;
		memset(&cmd, 0, sizeof cmd);
		cmd.op = FSM_OP_CHST_CAS;
		snprintf(cmd.ch.name, sizeof cmd.ch.name, "%s", r->name);
		snprintf(cmd.ch.rqmname, sizeof cmd.ch.rqmname, "%s", r->rqmname);
		cmd.ch.chltype = FSM_CHL_RCVR;
		cmd.ch.before = st.img;
		snprintf(cmd.ch.reason, sizeof cmd.ch.reason, "inbound channel ended");
		r->refs++;
		if (qsgd_submit(h->d, &cmd, entry_removed, r) != QSG_OK)
			r->refs--;
	}
	QLOG_DBG(h->d->log, "QSG5053D", "inbound channel %s from %s closed", r->name, r->peer);
	release(r);
}

bool chrcv_matches(const struct chrcv *r, const char *name, const char *rqmname, uint64_t epoch,
		   uint64_t rinst)
{
	if (strcmp(r->name, name) != 0 || strcmp(r->rqmname, rqmname) != 0 || r->epoch != epoch)
		return false;
	/* A START on the way has no instance number yet, and a replica that
	 * has not applied our START yet shows an older one: it is here. */
	return r->phase == R_STARTING || r->rinst == 0 || r->rinst >= rinst;
}

void chrcv_check_fenced(struct chrcv *r)
{
	if (r->closed || r->phase != R_RUN || r->rinst == 0)
		return;
	struct chhost *h = r->h;
	struct fsm_chstatus st;
	struct fsm_syncq sq;
	memset(&st, 0, sizeof st);
	memset(&sq, 0, sizeof sq);
	bool have_st = fsm_chstatus_get(h->d->fsm, r->name, r->rqmname, &st) == QSG_OK;
	bool have_sq = fsm_syncq_get(h->d->fsm, r->name, r->rqmname, &sq) == QSG_OK;
	char why[FSM_NAME_MAX + 96], nm[FSM_NAME_MAX + 16];
	switch (chcore_rcv_fenced(h->d->cfg->id, r->rinst, have_sq ? &sq : NULL,
				  have_st ? &st : NULL)) {
	case CHFENCE_NONE:
		return;
	case CHFENCE_TAKEN:
		snprintf(why, sizeof why, "taken over by an instance on %s",
			 chhost_member_name(h, st.img.owner, nm, sizeof nm));
		break;
	case CHFENCE_NEWER_HERE:
		snprintf(why, sizeof why, "taken over by a newer instance on this member");
		break;
	case CHFENCE_REMOVED:
	default:
		snprintf(why, sizeof why, "its status entry was removed");
		break;
	}
	chrcv_abort(r, QSG_RC_CHANNEL_FENCED, why);
}
