/* Catch-up of message bodies: the fetching client and the FETCH server.
 * Design: docs/catchup.md. */
#include "catchup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basefile.h"
#include "common/crc32c.h"

#include "net.h"
#include "proto/proto.h"
#include "raft-glue/glue.h"
#include "store/bodystore.h"
#include "stream.h"
#include "tlsstream.h"

#define MAX_PEERS (QSGD_MAX_MEMBERS + 64)

enum cconn_state { CC_CONNECTING = 1, CC_HELLO = 2, CC_READY = 3 };

/* One member connection to one peer. Freed when its handle is closed. */
struct cconn {
	struct stream stream;
	uv_connect_t creq;
	struct catchup *cu; /* NULL once detached */
	uint32_t peer;
	int state;
	uint32_t next_reqid;
};

struct peer {
	uint32_t id;
	const char *addr;
};

struct peer_list {
	struct peer p[MAX_PEERS];
	size_t n;
	uint32_t self;
	/* Client addresses of replicated member records (storage). */
	char addrs[MAX_PEERS][FSM_ADDR_MAX + 1];
	size_t naddrs;
};

struct catchup {
	struct qsgd *d;
	uv_timer_t timer;
	struct stream_set set;
	struct cconn *conn;
	unsigned nclosed; /* timer (1) + set (2) */
	unsigned nconns; /* connections not yet released by libuv */
	bool closing;
	/* The request in flight. */
	bool inflight;
	uint32_t reqid;
	uint64_t sent_at;
	size_t nkeys;
	uint64_t keys[CATCHUP_BATCH]; /* missing keys here (records' keys) */
	uint64_t names[CATCHUP_BATCH]; /* what peers are asked: the current
					* names (bodystore_fetch_names) */
	/* The pass over the missing set: cursor = last seqno asked. */
	uint64_t cursor;
	uint64_t pass_fills;
	/* Back-off and peer rotation. */
	uint64_t next_try; /* uv_now */
	unsigned backoff_ms;
	unsigned rotate;
	uint32_t failed_peer; /* last peer that failed (log once) */
	/* The current catch-up (from missing > 0 to missing == 0). */
	bool active;
	uint64_t t0;
	uint64_t s_missing, s_fetched, s_bytes;
	struct catchup_stats st;
	struct peer_list peers; /* scratch of open_conn */
	/* A base file to fetch (catchup_want_base, any thread: under mu). */
	uv_mutex_t mu;
	struct fsm_baseref want;
	bool want_set;
	/* The fetch of that base (loop): the part file and its size. */
	bool base_active;
	struct fsm_baseref base;
	int base_fd;
	uint64_t base_off;
	uint64_t base_t0;
};

/* ---- peers ---- */

static bool peer_known(const struct peer_list *l, uint32_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->p[i].id == id)
			return true;
	return false;
}

static void peer_add(struct peer_list *l, uint32_t id, const char *addr)
{
	if (id == 0 || id == l->self || addr == NULL || addr[0] == '\0' || l->n >= MAX_PEERS ||
	    peer_known(l, id))
		return;
	l->p[l->n].id = id;
	l->p[l->n].addr = addr;
	l->n++;
}

static int member_cb(void *arg, const struct fsm_member *m)
{
	struct peer_list *l = arg;
	if (m->client_addr[0] == '\0' || peer_known(l, m->id) || l->naddrs >= MAX_PEERS)
		return 0;
	snprintf(l->addrs[l->naddrs], sizeof l->addrs[0], "%s", m->client_addr);
	peer_add(l, m->id, l->addrs[l->naddrs]);
	l->naddrs++;
	return 0;
}

/* The leader first (when it is another member), then the static member
 * list, then members known only from their replicated records. */
static void peers_list(struct catchup *cu, struct peer_list *l)
{
	struct qsgd *d = cu->d;
	struct glue_info info;
	const struct qsgd_member_cfg *m;

	l->n = 0;
	l->naddrs = 0;
	l->self = d->cfg->id;
	d->ops->info(d, &info);
	if (info.role != GLUE_LEADER && info.leader_id != 0 && info.leader_id <= UINT32_MAX) {
		uint32_t lid = (uint32_t)info.leader_id;
		m = qsgd_config_member(d->cfg, lid);
		if (m != NULL)
			peer_add(l, lid, m->listen);
		else if (d->fsm != NULL) {
			struct fsm_member rec;
			if (fsm_member_get(d->fsm, lid, &rec) == QSG_OK && l->naddrs < MAX_PEERS) {
				snprintf(l->addrs[l->naddrs], sizeof l->addrs[0], "%s",
					 rec.client_addr);
				peer_add(l, lid, l->addrs[l->naddrs]);
				l->naddrs++;
			}
		}
	}
	for (unsigned i = 0; i < d->cfg->n_members; i++)
		peer_add(l, d->cfg->members[i].id, d->cfg->members[i].listen);
	if (d->fsm != NULL)
		fsm_member_foreach(d->fsm, member_cb, l);
}

/* ---- connection ---- */

static void maybe_free(struct catchup *cu)
{
	if (cu->closing && cu->nclosed == 3 && cu->nconns == 0) {
		uv_mutex_destroy(&cu->mu);
		free(cu);
	}
}

static void drop_conn(struct catchup *cu, const char *why)
{
	struct cconn *c = cu->conn;
	cu->inflight = false;
	if (c == NULL)
		return;
	cu->conn = NULL;
	c->cu = NULL;
	QLOG_DBG(cu->d->log, "QSG4105D", "catch-up connection to member %u closed: %s", c->peer,
		 why);
	stream_close(&c->stream);
}

/* The peer failed us: close, back off, ask the next one. */
static void peer_failed(struct catchup *cu, const char *why)
{
	uint32_t peer = cu->conn != NULL ? cu->conn->peer : cu->st.peer;
	if (peer != cu->failed_peer)
		QLOG_WARNING(cu->d->log, "QSG4103W",
			     "catch-up from member %u failed: %s; trying another member", peer,
			     why);
	cu->failed_peer = peer;
	cu->st.failures++;
	drop_conn(cu, why);
	cu->backoff_ms = cu->backoff_ms == 0
			     ? CATCHUP_BACKOFF_MIN_MS
			     : (cu->backoff_ms * 2 > CATCHUP_BACKOFF_MAX_MS ? CATCHUP_BACKOFF_MAX_MS
									    : cu->backoff_ms * 2);
	cu->next_try = uv_now(cu->d->loop) + cu->backoff_ms;
	cu->rotate++;
	cu->st.peer = 0;
}

static void cc_closed(struct stream *s)
{
	struct cconn *c = s->data;
	struct catchup *cu = c->stream.set->data;
	cu->nconns--;
	free(c);
	maybe_free(cu);
}

static void cc_error(struct stream *s, int rc, uint32_t reqid)
{
	struct cconn *c = s->data;
	(void)reqid;
	if (c->cu != NULL)
		peer_failed(c->cu, qsg_rc_name(rc));
	else
		stream_close(s);
}

static void step(struct catchup *cu);
static void base_answer(struct catchup *cu, const struct proto_resp *resp);

/* Fill the answers of one FETCH response. Returns NULL or what is wrong. */
static const char *take_answers(struct catchup *cu, const struct proto_resp *resp, char *errmsg)
{
	struct bodystore *b = cu->d->bodies;
	struct proto_fetch_item it;
	size_t cur = 0;
	uint32_t i = 0;
	int rc;

	if (resp->u.fetch.count == 0 || resp->u.fetch.count > cu->nkeys)
		return "answer count out of range";
	while ((rc = proto_fetch_next(resp, &cur, &it)) == 1) {
		if (i >= cu->nkeys || it.seqno != cu->names[i])
			return "answer for a seqno not asked for";
		i++;
		if (!it.found || b == NULL)
			continue;
		uint64_t before = b->nmissing;
		rc = bodystore_fill(b, cu->keys[i - 1], it.content.p, (uint32_t)it.content.len,
				    it.crc, errmsg);
		if (rc != QSG_OK)
			return errmsg;
		if (b->nmissing < before) {
			cu->pass_fills++;
			cu->st.fetched++;
			cu->st.bytes += it.content.len;
			cu->s_fetched++;
			cu->s_bytes += it.content.len;
		}
	}
	if (rc != 0 || i != resp->u.fetch.count)
		return "malformed answers";
	cu->cursor = cu->keys[i - 1];
	return NULL;
}

static void cc_frame(struct stream *st, const uint8_t *p, size_t len)
{
	struct cconn *c = st->data;
	struct catchup *cu = c->cu;
	struct proto_resp resp;
	char errmsg[QSG_ERRMSG_SIZE] = "";

	if (cu == NULL)
		return;
	int rc = proto_resp_decode(p, len, &resp, errmsg);
	if (rc != QSG_OK) {
		peer_failed(cu, errmsg);
		return;
	}
	if (resp.op == PROTO_HELLO && c->state == CC_HELLO) {
		if (resp.rc != QSG_OK) {
			peer_failed(cu, "HELLO refused");
			return;
		}
		c->state = CC_READY;
		step(cu);
		return;
	}
	if (resp.op == PROTO_FETCH_BASE && cu->inflight && resp.reqid == cu->reqid) {
		cu->inflight = false;
		base_answer(cu, &resp);
		return;
	}
	if (resp.op != PROTO_FETCH || !cu->inflight || resp.reqid != cu->reqid) {
		peer_failed(cu, "unexpected response");
		return;
	}
	if (resp.rc != QSG_OK) {
		snprintf(errmsg, sizeof errmsg, "FETCH refused: %s", qsg_rc_name(resp.rc));
		peer_failed(cu, errmsg);
		return;
	}
	cu->inflight = false;
	cu->st.requests++;
	const char *why = take_answers(cu, &resp, errmsg);
	if (why != NULL) {
		peer_failed(cu, why);
		return;
	}
	cu->failed_peer = 0;
	step(cu);
}

static const struct stream_ops cc_ops = {
    .on_frame = cc_frame,
    .on_error = cc_error,
    .on_closed = cc_closed,
};

static void connect_cb(uv_connect_t *req, int status)
{
	struct cconn *c = req->data;
	struct catchup *cu = c->cu;
	if (cu == NULL)
		return; /* dropped meanwhile; the handle is being closed */
	if (status != 0) {
		peer_failed(cu, uv_strerror(status));
		return;
	}
	if (cu->d->tls != NULL) {
		/* The peer member's listener: TLS with our own certificate; its
		 * certificate must name it (CN = member name) when it is in our
		 * member list. */
		const struct qsgd_member_cfg *pm =
		    c->peer <= UINT32_MAX ? qsgd_config_member(cu->d->cfg, (uint32_t)c->peer)
					  : NULL;
		if (tlsstream_attach(&c->stream, cu->d->tls, TLS_CLIENT,
				     pm != NULL ? pm->name : NULL) != QSG_OK) {
			peer_failed(cu, "TLS setup failed");
			return;
		}
	}
	if (stream_start(&c->stream) != QSG_OK) {
		peer_failed(cu, "read failed");
		return;
	}
	struct qsgd *d = cu->d;
	struct proto_req hello;
	memset(&hello, 0, sizeof hello);
	hello.op = PROTO_HELLO;
	hello.reqid = c->next_reqid++;
	hello.u.hello.kind = PROTO_KIND_MEMBER;
	hello.u.hello.member_id = d->cfg->id;
	hello.u.hello.app.p = (const uint8_t *)d->cfg->name;
	hello.u.hello.app.len = strlen(d->cfg->name);
	proto_req_encode(&hello, &c->stream.out);
	stream_mark(&c->stream);
	c->state = CC_HELLO;
}

static void open_conn(struct catchup *cu)
{
	struct peer_list *l = &cu->peers;
	struct sockaddr_storage sa;

	peers_list(cu, l);
	if (l->n == 0) {
		cu->next_try = uv_now(cu->d->loop) + CATCHUP_BACKOFF_MAX_MS;
		return;
	}
	const struct peer *p = &l->p[cu->rotate % l->n];
	cu->st.peer = p->id;
	if (net_resolve(p->addr, &sa) != QSG_OK) {
		peer_failed(cu, "cannot resolve its client address");
		return;
	}
	struct cconn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return;
	c->cu = cu;
	c->peer = p->id;
	c->next_reqid = 1;
	uv_tcp_init(cu->d->loop, &c->stream.tcp);
	stream_init(&c->stream, &cu->set, &cc_ops, c);
	cu->nconns++;
	cu->conn = c;
	c->state = CC_CONNECTING;
	c->creq.data = c;
	int rv = uv_tcp_connect(&c->creq, &c->stream.tcp, (const struct sockaddr *)&sa, connect_cb);
	if (rv != 0)
		peer_failed(cu, uv_strerror(rv));
}

/* ---- the fetch loop ---- */

static void send_fetch(struct catchup *cu)
{
	struct cconn *c = cu->conn;
	struct proto_req req;
	memset(&req, 0, sizeof req);
	req.op = PROTO_FETCH;
	do {
		req.reqid = c->next_reqid++;
	} while (req.reqid == 0);
	req.u.fetch.count = (uint32_t)cu->nkeys;
	req.u.fetch.seqnos = cu->names;
	int rc = proto_req_encode(&req, &c->stream.out);
	if (rc != QSG_OK) {
		peer_failed(cu, qsg_rc_name(rc));
		return;
	}
	cu->reqid = req.reqid;
	cu->inflight = true;
	cu->sent_at = uv_now(cu->d->loop);
	stream_mark(&c->stream);
}

/* The end of a pass over the missing set. */
static void end_pass(struct catchup *cu)
{
	bool progress = cu->pass_fills > 0;
	cu->cursor = 0;
	cu->pass_fills = 0;
	if (progress) {
		cu->backoff_ms = 0;
		return; /* the next tick starts the next pass with the same peer */
	}
	peer_failed(cu, "it holds none of the missing bodies");
}

static void session(struct catchup *cu, uint64_t missing)
{
	struct qsgd *d = cu->d;
	uint64_t now = uv_now(d->loop);
	if (!cu->active && missing > 0) {
		cu->active = true;
		cu->t0 = now;
		cu->s_missing = missing;
		cu->s_fetched = cu->s_bytes = 0;
		QLOG_INFO_(d->log, "QSG4101I",
			   "catch-up started: %llu message bodies missing, fetching them from "
			   "other members",
			   (unsigned long long)missing);
	} else if (cu->active && missing == 0) {
		cu->active = false;
		QLOG_INFO_(d->log, "QSG4102I",
			   "catch-up complete: missing=0, %llu of %llu message bodies fetched "
			   "(%llu bytes) in %.1f s",
			   (unsigned long long)cu->s_fetched, (unsigned long long)cu->s_missing,
			   (unsigned long long)cu->s_bytes, (double)(now - cu->t0) / 1000.0);
		drop_conn(cu, "caught up");
		cu->cursor = 0;
		cu->pass_fills = 0;
		cu->backoff_ms = 0;
		cu->next_try = 0;
		cu->failed_peer = 0;
		cu->st.peer = 0;
	}
}

/* ---- base files ---- */

static void base_stop(struct catchup *cu)
{
	if (cu->base_fd >= 0)
		close(cu->base_fd);
	cu->base_fd = -1;
	cu->base_active = false;
}

/* Start (or resume) the fetch of the base wanted, if any. */
static void base_begin(struct catchup *cu)
{
	struct fsm_baseref ref;
	uv_mutex_lock(&cu->mu);
	bool set = cu->want_set;
	ref = cu->want;
	cu->want_set = false;
	uv_mutex_unlock(&cu->mu);
	if (!set || (cu->base_active && cu->base.index == ref.index))
		return;
	base_stop(cu);
	char path[4200];
	basefile_path(path, sizeof path - 8, cu->d->cfg->dir, ref.index);
	strcat(path, ".part");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		QLOG_WARNING(cu->d->log, "QSG4106W", "base file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	uint64_t off = (uint64_t)st.st_size;
	if (off > ref.size && ftruncate(fd, 0) == 0)
		off = 0;
	if (off == ref.size) { /* complete: the restore installs it */
		close(fd);
		return;
	}
	cu->base = ref;
	cu->base_fd = fd;
	cu->base_off = off;
	cu->base_active = true;
	cu->base_t0 = uv_now(cu->d->loop);
	QLOG_INFO_(cu->d->log, "QSG4107I",
		   "fetching base file %" PRIu64 " (%" PRIu64 " bytes, %" PRIu64
		   " already here) from other members",
		   ref.index, ref.size, off);
}

static void send_base(struct catchup *cu)
{
	struct cconn *c = cu->conn;
	struct proto_req req;
	memset(&req, 0, sizeof req);
	req.op = PROTO_FETCH_BASE;
	do {
		req.reqid = c->next_reqid++;
	} while (req.reqid == 0);
	req.u.base.index = cu->base.index;
	req.u.base.size = cu->base.size;
	req.u.base.crc = cu->base.crc;
	req.u.base.offset = cu->base_off;
	req.u.base.max = PROTO_BASE_CHUNK;
	int rc = proto_req_encode(&req, &c->stream.out);
	if (rc != QSG_OK) {
		peer_failed(cu, qsg_rc_name(rc));
		return;
	}
	cu->reqid = req.reqid;
	cu->inflight = true;
	cu->sent_at = uv_now(cu->d->loop);
	stream_mark(&c->stream);
}

static void base_answer(struct catchup *cu, const struct proto_resp *resp)
{
	char errmsg[QSG_ERRMSG_SIZE];
	if (!cu->base_active)
		return; /* superseded meanwhile */
	if (resp->rc != QSG_OK) {
		snprintf(errmsg, sizeof errmsg, "FETCH_BASE refused: %s", qsg_rc_name(resp->rc));
		peer_failed(cu, errmsg);
		return;
	}
	size_t n = resp->u.base.data.len;
	if (resp->u.base.offset != cu->base_off || n > cu->base.size - cu->base_off) {
		peer_failed(cu, "FETCH_BASE answer out of place");
		return;
	}
	/* At most 1 MiB into the page cache; the restore's decode, in the
	 * pool, makes the file durable before it uses it. */
	const uint8_t *p = resp->u.base.data.p;
	size_t done = 0;
	while (done < n) {
		ssize_t w = pwrite(cu->base_fd, p + done, n - done, (off_t)(cu->base_off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			QLOG_WARNING(cu->d->log, "QSG4106W", "base file %" PRIu64 ": write: %s",
				     cu->base.index, strerror(errno));
			base_stop(cu);
			return;
		}
		done += (size_t)w;
	}
	cu->base_off += n;
	cu->st.base_bytes += n;
	cu->st.requests++;
	cu->failed_peer = 0;
	if (cu->base_off == cu->base.size) {
		QLOG_INFO_(cu->d->log, "QSG4108I",
			   "base file %" PRIu64 " fetched: %" PRIu64 " bytes in %.1f s",
			   cu->base.index, cu->base.size,
			   (double)(uv_now(cu->d->loop) - cu->base_t0) / 1000.0);
		base_stop(cu);
	}
	step(cu);
}

/* The base fetch's share of a step; true when it used the connection. */
static bool base_step(struct catchup *cu, uint64_t now)
{
	base_begin(cu);
	if (!cu->base_active)
		return false;
	if (cu->inflight) {
		if (now - cu->sent_at > CATCHUP_REQUEST_TIMEOUT_MS)
			peer_failed(cu, "no answer in time");
		return true;
	}
	if (now < cu->next_try)
		return true;
	if (cu->conn == NULL) {
		open_conn(cu);
		return true;
	}
	if (cu->conn->state == CC_READY)
		send_base(cu);
	return true;
}

static void step(struct catchup *cu)
{
	struct bodystore *b = cu->d->bodies;
	if (cu->closing)
		return;
	if (base_step(cu, uv_now(cu->d->loop)))
		return; /* a base first: the bodies its delta names follow */
	if (b == NULL)
		return;
	uint64_t now = uv_now(cu->d->loop);
	cu->st.missing = b->nmissing;
	session(cu, b->nmissing);
	if (!cu->active)
		return;
	if (cu->inflight) {
		if (now - cu->sent_at > CATCHUP_REQUEST_TIMEOUT_MS)
			peer_failed(cu, "no answer in time");
		return;
	}
	if (now < cu->next_try)
		return;
	if (cu->conn == NULL) {
		open_conn(cu);
		return; /* the HELLO answer steps again */
	}
	if (cu->conn->state != CC_READY)
		return;
	cu->nkeys = bodystore_missing(b, cu->cursor, cu->keys, CATCHUP_BATCH);
	/* Each key is asked under its current name (a renamed message's parts
	 * missing under the records' key); a request's seqnos are strictly
	 * ascending (docs/protocol.md), so the batch ends before a name that
	 * is not: the cursor (records' keys) asks for the rest next. */
	bodystore_fetch_names(b, cu->keys, cu->names, cu->nkeys);
	for (size_t i = 1; i < cu->nkeys; i++) {
		if (cu->names[i] <= cu->names[i - 1]) {
			cu->nkeys = i;
			break;
		}
	}
	if (cu->nkeys == 0) {
		end_pass(cu);
		return;
	}
	send_fetch(cu);
}

static void tick(uv_timer_t *t)
{
	step(t->data);
}

int catchup_init(struct catchup **out, struct qsgd *d, char *errmsg)
{
	struct catchup *cu = calloc(1, sizeof *cu);
	if (cu == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	cu->d = d;
	cu->base_fd = -1;
	if (uv_mutex_init(&cu->mu) != 0) {
		free(cu);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "mutex");
	}
	stream_set_init(&cu->set, d->loop);
	cu->set.data = cu;
	uv_timer_init(d->loop, &cu->timer);
	cu->timer.data = cu;
	uv_timer_start(&cu->timer, tick, CATCHUP_TICK_MS, CATCHUP_TICK_MS);
	*out = cu;
	return QSG_OK;
}

static void timer_closed(uv_handle_t *h)
{
	struct catchup *cu = h->data;
	cu->nclosed++;
	maybe_free(cu);
}

static void set_closed(struct stream_set *set)
{
	struct catchup *cu = set->data;
	cu->nclosed += 2;
	maybe_free(cu);
}

void catchup_close(struct catchup *cu)
{
	drop_conn(cu, "stopping");
	if (cu->base_fd >= 0)
		close(cu->base_fd);
	cu->base_fd = -1;
	cu->closing = true;
	uv_close((uv_handle_t *)&cu->timer, timer_closed);
	stream_set_close(&cu->set, set_closed);
}

void catchup_want_base(struct catchup *cu, const struct fsm_baseref *ref)
{
	uv_mutex_lock(&cu->mu);
	cu->want = *ref;
	cu->want_set = true;
	uv_mutex_unlock(&cu->mu);
}

void catchup_kick(struct catchup *cu)
{
	if (cu->inflight)
		return;
	cu->next_try = 0;
	cu->backoff_ms = 0;
	cu->cursor = 0;
	cu->pass_fills = 0;
	step(cu);
}

void catchup_stats(const struct catchup *cu, struct catchup_stats *out)
{
	*out = cu->st;
	if (cu->d->bodies != NULL)
		out->missing = cu->d->bodies->nmissing;
	out->active = cu->active;
}

/* ---- server side ---- */

void catchup_serve(struct qsgd *d, const struct proto_req *req, struct qsg_wbuf *out)
{
	struct proto_fetch_writer fw;
	struct proto_resp resp;
	struct qsg_wbuf content;
	char errmsg[QSG_ERRMSG_SIZE];
	unsigned faults = 0;

	proto_fetch_writer_init(&fw);
	qsg_wbuf_init(&content);
	for (uint32_t i = 0; i < req->u.fetch.count; i++) {
		struct proto_fetch_item it;
		memset(&it, 0, sizeof it);
		it.seqno = proto_fetch_seqno(req, i);
		if (d->bodies != NULL) {
			qsg_wbuf_reset(&content);
			int rc = bodystore_get(d->bodies, it.seqno, &content, &it.crc, errmsg);
			if (rc == QSG_OK && content.err == QSG_OK) {
				it.found = 1;
				it.content.p = content.data;
				it.content.len = content.len;
			} else if (rc != QSG_RC_NO_MSG_AVAILABLE && faults++ == 0) {
				QLOG_WARNING(d->log, "QSG4104W",
					     "catch-up: cannot serve the body of seqno %llu: %s",
					     (unsigned long long)it.seqno, errmsg);
			}
		}
		if (proto_fetch_add(&fw, &it) != QSG_OK)
			break; /* full: the peer asks again for the rest */
	}
	memset(&resp, 0, sizeof resp);
	resp.op = PROTO_FETCH;
	resp.reqid = req->reqid;
	proto_fetch_to_resp(&fw, &resp);
	if (resp.u.fetch.count == 0) {
		resp.rc = QSG_RC_STORAGE_NOT_AVAILABLE;
		resp.text.p = (const uint8_t *)qsg_rc_text(resp.rc);
		resp.text.len = strlen((const char *)resp.text.p);
	}
	if (proto_resp_encode(&resp, out) != QSG_OK) {
		memset(&resp, 0, sizeof resp);
		resp.op = PROTO_FETCH;
		resp.reqid = req->reqid;
		resp.rc = QSG_RC_STORAGE_NOT_AVAILABLE;
		proto_resp_encode(&resp, out);
	}
	qsg_wbuf_close(&content);
	proto_fetch_writer_close(&fw);
}

void catchup_serve_base(struct qsgd *d, const struct proto_req *req, struct qsg_wbuf *out)
{
	struct proto_resp resp;
	char path[4096];
	uint8_t *buf = NULL;
	memset(&resp, 0, sizeof resp);
	resp.op = PROTO_FETCH_BASE;
	resp.reqid = req->reqid;
	resp.rc = QSG_RC_UNKNOWN_OBJECT;
	basefile_path(path, sizeof path, d->cfg->dir, req->u.base.index);
	/* Pread of at most 1 MiB of a file just written (the page cache). */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t trl[4];
	if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == req->u.base.size &&
	    st.st_size >= 4 && pread(fd, trl, 4, st.st_size - 4) == 4 &&
	    ((uint32_t)trl[0] | (uint32_t)trl[1] << 8 | (uint32_t)trl[2] << 16 |
	     (uint32_t)trl[3] << 24) == req->u.base.crc) {
		uint64_t n = req->u.base.size - req->u.base.offset;
		if (n > req->u.base.max)
			n = req->u.base.max;
		buf = malloc((size_t)n);
		ssize_t got =
		    buf != NULL ? pread(fd, buf, (size_t)n, (off_t)req->u.base.offset) : -1;
		if (got == (ssize_t)n) {
			resp.rc = QSG_OK;
			resp.u.base.offset = req->u.base.offset;
			resp.u.base.data.p = buf;
			resp.u.base.data.len = (size_t)n;
			resp.u.base.crc = qsg_crc32c(0, buf, (size_t)n);
		} else {
			resp.rc = QSG_RC_IO;
		}
	}
	if (fd >= 0)
		close(fd);
	if (resp.rc != QSG_OK) {
		resp.text.p = (const uint8_t *)qsg_rc_text(resp.rc);
		resp.text.len = strlen((const char *)resp.text.p);
	}
	proto_resp_encode(&resp, out);
	free(buf);
}
