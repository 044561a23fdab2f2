/* A sending channel instance (chsdr_int.h): the connection. One attempt
 * goes through the CONNAME entries in turn (chcore_attempt): an entry that
 * refuses or does not answer the connection or the START in time, or whose
 * member cannot serve (fenced, no leader), is left for the next at once;
 * only when every entry failed is the attempt a communications failure
 * (chsdr_fail: one retry). On connect the instance sends START with its
 * sequence numbers, and the receiver's reply decides what is in doubt
 * (chcore_sdr_start): bind at once, resolve by a settle first, or stop
 * (out of step). Then the frames from the partner: confirmations,
 * heartbeats, END. */
#include <stdlib.h>
#include <string.h>

#include "chsdr_int.h"
#include "qsgd/net.h"

static void st_closed(struct stream *st)
{
	struct sconn *c = (struct sconn *)st;
	struct chsdr *s = c->s;
	if (s->conn_cur == c)
		s->conn_cur = NULL;
	free(c);
	chsdr_release(s);
}

static void on_start_resp(struct chsdr *s, const uint8_t *p, size_t len)
{
	struct chp_start_resp r;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	char why[2 * QSG_ERRMSG_SIZE];
	if (chp_start_resp_decode(p, len, &r, errmsg) != QSG_OK) {
		snprintf(why, sizeof why, "bad start response: %s", errmsg);
		chsdr_addr_failed(s, CHADDR_REFUSED, QSG_RC_BAD_FRAME, why);
		return;
	}
	if (r.rc != QSG_OK) {
		snprintf(why, sizeof why, "start refused: %s %s", qsg_rc_name(r.rc), r.text);
		chsdr_addr_failed(s, CHADDR_REFUSED, r.rc, why);
		return;
	}
	s->batchsz = r.batchsz < s->def.batchsz && r.batchsz > 0 ? r.batchsz : s->def.batchsz;
	s->pipeline = r.pipeline > 0 && r.pipeline < s->def.pipeline ? r.pipeline : s->def.pipeline;
	if (s->pipeline > FSM_CH_MAX_PIPELINE)
		s->pipeline = FSM_CH_MAX_PIPELINE;
	s->hbint_s = r.hbint;
	s->comp = r.compmsg == FSM_COMP_LZ4 && s->def.compmsg == FSM_COMP_LZ4;
	s->maxmsgl = r.maxmsgl;

	struct fsm_chstatus st;
	if (!chsdr_entry(s, &st)) {
		chsdr_abort(s, "superseded during start");
		return;
	}
	/* RQMNAME: the partner must be the queue manager the channel ran
	 * with before (its sequence numbers and in-doubt batch are that
	 * one's); refused otherwise, and the next CONNAME entry is tried. */
	if (chcore_sdr_partner(s->name, st.partner, r.receiver_qmgr, st.reset_seq, errmsg) !=
	    QSG_OK) {
		QLOG_ERR(s->h->d->log, "QSG5043E", "%s", errmsg);
		/* END reaches the partner before the connection closes. */
		chsdr_send_end(s, QSG_RC_Q_MGR_NAME_ERROR, errmsg);
		if (s->st_open) {
			s->st_open = false;
			stream_close_after_write(s->st);
		}
		snprintf(why, sizeof why, "partner refused: %s", errmsg);
		chsdr_addr_failed(s, CHADDR_REFUSED, QSG_RC_Q_MGR_NAME_ERROR, why);
		return;
	}
	snprintf(s->partner, sizeof s->partner, "%s", r.receiver_qmgr);
	if (s->st->tls != NULL)
		QLOG_INFO_(s->h->d->log, "QSG5061I",
			   "channel %s: TLS %s %s, partner certificate '%s' SHA-256 %s", s->name,
			   tlsstream_version(s->st), tlsstream_cipher(s->st),
			   tlsstream_peer_dn(s->st), tlsstream_peer_fingerprint(s->st));
	uint64_t L = r.lstseq;
	chcore_pipe_begin(&s->pipe, st.lstseq);
	enum chcore_start_act act = chcore_sdr_start(st.lstseq, st.curseq, L);
	if (act == CHSTART_BIND) {
		chsdr_bind(s);
		return;
	}
	if (act == CHSTART_OUT_OF_STEP) {
		snprintf(why, sizeof why,
			 "message sequence numbers out of step: this end %llu (in doubt to %llu), "
			 "receiver %llu; use RESET CHANNEL",
			 (unsigned long long)st.lstseq, (unsigned long long)st.curseq,
			 (unsigned long long)L);
		QLOG_ERR(s->h->d->log, "QSG5036E", "channel %s: %s", s->name, why);
		chsdr_send_end(s, QSG_RC_SEQ_MISMATCH, why);
		struct fsm_chimage after = st.img;
		after.state = FSM_CHS_STOPPED;
		chsdr_close_conn(s);
		s->phase = P_WAIT_RETRY;
		chsdr_cas(s, &st.img, &after, "sequence number mismatch", chsdr_retry_moved);
		return;
	}
	/* In doubt: the receiver committed up to L; commit our gets to there
	 * and put the rest back. */
	QLOG_INFO_(s->h->d->log, "QSG5037I",
		   "channel %s: in-doubt batch resolved from the partner: commit to %llu, back "
		   "out %llu..%llu",
		   s->name, (unsigned long long)L, (unsigned long long)L + 1,
		   (unsigned long long)st.curseq);
	s->phase = P_RESOLVE;
	struct ssub *x = chsdr_ssub_new(s);
	if (x == NULL) {
		chsdr_fail(s, "out of memory");
		return;
	}
	chcore_pipe_resolve(&s->pipe, L, &x->settle);
	struct fsm_cmd cmd;
	chsdr_base_cmd(s, &cmd, FSM_OP_CH_SETTLE);
	cmd.ch.seq = x->settle.upto;
	cmd.ch.flags = x->settle.flags;
	s->settle_inflight = true;
	if (chsdr_submit(s, &cmd, chsdr_settle_done, x) != QSG_OK) {
		s->settle_inflight = false;
		chsdr_fail(s, "cannot resolve the in-doubt batch");
	}
}

/* ---- connection ---- */

static void on_frame(struct stream *st, const uint8_t *p, size_t len)
{
	struct chsdr *s = st->data;
	uint32_t reqid;
	if (s->phase == P_DEAD || !s->st_open)
		return;
	s->last_recv = now_ms(s);
	s->hb_outstanding = false;
	int op = chp_frame_op(p, len, &reqid);
	switch (op) {
	case CHP_START | PROTO_RESP:
		if (s->phase != P_HANDSHAKE) {
			chsdr_fail(s, "unexpected start response");
			return;
		}
		on_start_resp(s, p, len);
		return;
	case CHP_CONFIRM:
		if (s->phase != P_RUN) {
			chsdr_fail(s, "confirmation before the channel runs");
			return;
		}
		chsdr_on_confirm(s, p, len);
		return;
	case CHP_HB:
		chp_hb_encode(&s->st->out, 1);
		stream_mark(s->st);
		return;
	case CHP_HB | PROTO_RESP:
		return;
	case CHP_END: {
		struct chp_end e;
		char errmsg[QSG_ERRMSG_SIZE], why[2 * QSG_ERRMSG_SIZE];
		if (chp_end_decode(p, len, &e, errmsg) != QSG_OK)
			snprintf(why, sizeof why, "partner ended the channel");
		else
			snprintf(why, sizeof why, "partner ended the channel: %s %s",
				 qsg_rc_name(e.rc), e.text);
		if (s->phase == P_HANDSHAKE)
			chsdr_addr_failed(s, CHADDR_LOST, 0, why);
		else
			chsdr_fail(s, why);
		return;
	}
	default:
		if (s->phase == P_HANDSHAKE)
			chsdr_addr_failed(s, CHADDR_LOST, 0,
					  "unexpected frame before the start reply");
		else
			chsdr_fail(s, "unexpected frame from the partner");
		return;
	}
}

static void on_error(struct stream *st, int rc, uint32_t reqid)
{
	struct chsdr *s = st->data;
	(void)reqid;
	(void)rc;
	/* A TLS failure says why (SSLPEER not matched: 2398, AMQ9636). */
	char reason[QSG_ERRMSG_SIZE], why[QSG_ERRMSG_SIZE + 96];
	int trc = tlsstream_failure(st, reason, sizeof reason);
	if (trc != QSG_OK && (s->phase == P_CONNECT || s->phase == P_HANDSHAKE) && s->st_open) {
		snprintf(why, sizeof why, "%s (%d) in TLS, SSLCIPH(%s): %s", qsg_rc_name(trc), trc,
			 s->def.sslciph, reason);
		chsdr_addr_failed(s, CHADDR_REFUSED, trc, why);
		return;
	}
	if (s->phase == P_HANDSHAKE && s->st_open)
		chsdr_addr_failed(s, CHADDR_LOST, 0, "connection lost before the start reply");
	else if (s->phase != P_DEAD && s->st_open)
		chsdr_fail(s, trc != QSG_OK ? "TLS connection failed" : "connection lost");
}

/* SSLCIPH set: TLS under the connection, with the client context of its
 * CipherSpec and SSLPEER as the name the receiver's certificate must
 * have (checked inside the handshake: nothing is sent to another peer).
 * QSG_OK with nothing done for a plaintext channel. */
static int attach_tls(struct chsdr *s, struct stream *st, char *errmsg)
{
	if (!chssl_on(s->def.sslciph))
		return QSG_OK;
	const struct chssl_spec *spec = chssl_find(s->def.sslciph);
	if (spec == NULL)
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				"SSLCIPH(%s) is not a CipherSpec qsg has", s->def.sslciph);
	struct tlsstream_cfg *t;
	int rc = chhost_tls_client(s->h, spec, &t, errmsg);
	if (rc != QSG_OK)
		return rc;
	char peer[FSM_SSLPEER_MAX + 1];
	chssl_peer_norm(s->def.sslpeer, peer, sizeof peer);
	rc = tlsstream_attach(st, t, TLS_CLIENT, peer[0] != '\0' ? peer : NULL);
	if (rc != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				"SSLCIPH(%s): TLS connection setup failed (%s)", spec->name,
				qsg_rc_name(rc));
	return QSG_OK;
}

static const struct stream_ops sdr_ops = {
    .on_frame = on_frame,
    .on_error = on_error,
    .on_closed = st_closed,
};

static void connect_cb(uv_connect_t *req, int status)
{
	struct sconn *c = req->data;
	struct chsdr *s = c->s;
	if (s->phase != P_CONNECT || !s->st_open || s->conn_cur != c)
		return;
	if (status != 0) {
		QLOG_DBG(s->h->d->log, "QSG5038D", "channel %s: connect to %s: %s", s->name,
			 s->conn[s->att.idx], uv_strerror(status));
		char why[128];
		snprintf(why, sizeof why, "connect: %s", uv_strerror(status));
		chsdr_addr_failed(s, CHADDR_CONNECT_FAILED, 0, why);
		return;
	}
	if (stream_start(s->st) != QSG_OK) {
		chsdr_addr_failed(s, CHADDR_LOST, 0, "cannot read from the connection");
		return;
	}
	struct fsm_chstatus st;
	if (!chsdr_entry(s, &st)) {
		chsdr_abort(s, "superseded during connect");
		return;
	}
	struct chp_start m;
	memset(&m, 0, sizeof m);
	m.chver = CHP_VERSION;
	snprintf(m.channel, sizeof m.channel, "%s", s->name);
	snprintf(m.sender_qmgr, sizeof m.sender_qmgr, "%s", s->h->d->cfg->group);
	m.epoch = s->epoch;
	m.lstseq = st.lstseq;
	if (st.curseq > st.lstseq) {
		m.indoubt_first = st.lstseq + 1;
		m.indoubt_last = st.curseq;
	}
	m.reset_seq = st.reset_seq;
	m.batchsz = s->def.batchsz;
	m.maxmsgl = s->def.maxmsgl;
	m.hbint = s->def.hbint;
	m.compmsg = s->def.compmsg;
	m.pipeline = s->def.pipeline;
	chp_start_encode(&s->st->out, 1, &m);
	stream_mark(s->st);
	s->phase = P_HANDSHAKE;
	s->phase_start = now_ms(s);
}

void chsdr_addr_failed(struct chsdr *s, enum chcore_addr_why why, int rc, const char *detail)
{
	if (s->phase == P_DEAD || s->phase == P_WAIT_RETRY)
		return;
	unsigned failed = s->att.idx;
	chsdr_close_conn(s);
	enum chcore_addr_act act = chcore_attempt_failed(&s->att, why, rc);
	if (act == CHADDR_NEXT) {
		QLOG_WARNING(s->h->d->log, "QSG5042W",
			     "channel %s (epoch %llu): CONNAME entry %s: %s; trying %s", s->name,
			     (unsigned long long)s->epoch, s->conn[failed], detail,
			     s->conn[s->att.idx]);
		chsdr_try_connect(s);
		return;
	}
	char msg[FSM_ADDR_MAX + QSG_ERRMSG_SIZE + 64];
	snprintf(msg, sizeof msg, "%s: %s%s", s->conn[failed], detail,
		 act == CHADDR_FAIL && s->nconn > 1 ? " (every CONNAME entry failed)" : "");
	chsdr_fail(s, msg);
}

void chsdr_try_connect(struct chsdr *s)
{
	struct sockaddr_storage sa;
	if (s->nconn == 0) {
		chsdr_fail(s, "CONNAME has no entry");
		return;
	}
	if (net_resolve(s->conn[s->att.idx], &sa) != QSG_OK) {
		chsdr_addr_failed(s, CHADDR_CONNECT_FAILED, 0, "not a numeric host:port");
		return;
	}
	struct sconn *c = calloc(1, sizeof *c);
	if (c == NULL) {
		chsdr_fail(s, "out of memory");
		return;
	}
	c->s = s;
	s->phase = P_CONNECT;
	s->phase_start = now_ms(s);
	uv_tcp_init(s->h->d->loop, &c->st.tcp);
	stream_init(&c->st, s->h->set, &sdr_ops, s);
	s->conn_cur = c;
	s->st = &c->st;
	s->st_open = true;
	s->refs++; /* released in st_closed */
	uv_tcp_nodelay(&c->st.tcp, 1);
	char errmsg[QSG_ERRMSG_SIZE];
	int trc = attach_tls(s, &c->st, errmsg);
	if (trc != QSG_OK) {
		/* No [tls], unusable files: the channel cannot start (2393). */
		QLOG_ERR(s->h->d->log, "QSG5060E", "channel %s: %s", s->name, errmsg);
		char why[QSG_ERRMSG_SIZE + 48];
		snprintf(why, sizeof why, "%s (%d): %s", qsg_rc_name(trc), trc, errmsg);
		chsdr_fail(s, why);
		return;
	}
	c->creq.data = c;
	int rv = uv_tcp_connect(&c->creq, &c->st.tcp, (const struct sockaddr *)&sa, connect_cb);
	if (rv != 0) {
		char why[128];
		snprintf(why, sizeof why, "connect: %s", uv_strerror(rv));
		chsdr_addr_failed(s, CHADDR_CONNECT_FAILED, 0, why);
	}
}
