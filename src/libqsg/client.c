/* libqsg: blocking client of the qsg protocol (src/proto) with reconnect,
 * idempotent producer and unit-of-work tracking. Rules: docs/client.md. */
#include "qsg.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/hostport.h"
#include "proto/proto.h"
#include "client_int.h"

#define DEFAULT_RECONNECT_MS 30000
/* Longest wait for a reply (plus a get's own wait). A member that does not
 * answer in time (paused, hung) is left for another: the request is then
 * retried (idempotent puts and commits) or reported as outcome unknown.
 * Above the members' 3 s wait for a leader, so an election is not mistaken
 * for a hung member. QSG_REPLY_TIMEOUT (seconds) overrides it. */
#define DEFAULT_REPLY_MS 6000

/* ---- connection list ---- */

static int parse_list(qsg_conn *c, const char *list, char *errmsg)
{
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	c->addrs = calloc(n, sizeof *c->addrs);
	if (c->addrs == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct addr *a = &c->addrs[c->naddrs];
		int port;
		if (qsg_hostport_split(p, len, a->host, sizeof a->host, &port) != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_INVALID,
					"connection list entry '%.*s' is not host:port", (int)len,
					p);
		snprintf(a->port, sizeof a->port, "%d", port);
		c->naddrs++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (c->naddrs == 0)
		return qsg_errf(errmsg, QSG_RC_INVALID, "empty connection list");
	return QSG_OK;
}

/* ---- public API ---- */

static void lock(qsg_conn *c)
{
	pthread_mutex_lock(&c->mu);
}

static int unlock_rc(qsg_conn *c, int rc)
{
	if (rc == QSG_OK)
		c->err[0] = '\0';
	else if (c->err[0] == '\0')
		snprintf(c->err, sizeof c->err, "%s: %s", qsg_rc_name(rc), qsg_rc_text(rc));
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void qsg_md_init(struct qsg_md *md)
{
	memset(md, 0, sizeof *md);
	md->priority = QSG_PRI_AS_Q_DEF;
	md->persistence = QSG_PERSISTENCE_AS_Q_DEF;
}

/* Seconds from the environment variable `name`, in ms, or `dflt`. */
static int env_timeout_ms(const char *name, int dflt)
{
	const char *e = getenv(name);
	if (e == NULL || *e == '\0')
		return dflt;
	char *end;
	double s = strtod(e, &end);
	if (*end != '\0' || s < 0 || s > 86400)
		return dflt;
	return (int)(s * 1000);
}

int qsg_connect(const char *conn_list, const char *app_name, qsg_conn **out, char *errmsg)
{
	return qsg_connect_as(conn_list, app_name, NULL, NULL, out, errmsg);
}

int qsg_connect_as(const char *conn_list, const char *app_name, const char *user,
		   const char *password, qsg_conn **out, char *errmsg)
{
	*out = NULL;
	if (conn_list == NULL)
		conn_list = getenv("QSG_CONN");
	if (conn_list == NULL || *conn_list == '\0')
		return qsg_errf(errmsg, QSG_RC_INVALID,
				"no connection list: give host:port[,...] or set QSG_CONN");
	qsg_conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	c->fd = -1;
	c->reconnect_ms = env_timeout_ms("QSG_RECONNECT_TIMEOUT", DEFAULT_RECONNECT_MS);
	c->reply_ms = env_timeout_ms("QSG_REPLY_TIMEOUT", DEFAULT_REPLY_MS);
	if (c->reply_ms < 100)
		c->reply_ms = 100;
	qsg_wbuf_init(&c->out);
	snprintf(c->app, sizeof c->app, "%s", app_name ? app_name : "");
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	int mrc = pthread_mutex_init(&c->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	if (mrc != 0) {
		free(c);
		return qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR, "pthread_mutex_init failed");
	}
	int rc = parse_list(c, conn_list, errmsg);
	if (rc == QSG_OK)
		rc = qsgi_tls_setup(c, errmsg);
	if (rc == QSG_OK)
		rc = qsgi_cred_setup(c, user, password, errmsg);
	if (rc != QSG_OK)
		goto fail;
	while (c->client_id == 0) {
		if (getrandom(&c->client_id, sizeof c->client_id, 0) != sizeof c->client_id) {
			rc = qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR, "getrandom: %s",
				      strerror(errno));
			goto fail;
		}
	}
	rc = qsgi_attach(c, qsgi_now_ms() + c->reconnect_ms, true);
	if (rc != QSG_OK) {
		qsg_errf(errmsg, rc, "%s", c->err[0] ? c->err : qsg_rc_text(rc));
		goto fail;
	}
	*out = c;
	return QSG_OK;
fail:
	qsg_disconnect(c);
	return rc;
}

void qsg_disconnect(qsg_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		(void)qsgi_push(c); /* requests queued and not yet written */
	qsgi_a_free(c);
	qsgi_tls_drop(c);
	if (c->fd >= 0)
		close(c->fd);
	qsgi_tls_free(c);
	qsgi_cred_wipe(c);
	pthread_mutex_destroy(&c->mu);
	qsg_wbuf_close(&c->out);
	free(c->in);
	free(c->addrs);
	free(c->opened);
	free(c->prty);
	free(c);
}

int qsg_set_reconnect_timeout(qsg_conn *c, int timeout_ms)
{
	if (timeout_ms < 0)
		return QSG_RC_INVALID;
	lock(c);
	c->reconnect_ms = timeout_ms;
	return unlock_rc(c, QSG_OK);
}

static int check_queue(qsg_conn *c, const char *queue)
{
	size_t n = queue ? strnlen(queue, FSM_NAME_MAX + 1) : 0;
	if (n == 0 || n > FSM_NAME_MAX)
		return qsg_errf(c->err, QSG_RC_INVALID, "queue name must be 1 to %d characters",
				FSM_NAME_MAX);
	return QSG_OK;
}

/* Requests that change nothing (open, close, browse): retried freely. */
static int idempotent(qsg_conn *c, struct proto_req *req, struct proto_resp *resp, int timeout_ms)
{
	int64_t deadline = 0;
	int backoff = BACKOFF_MIN_MS;
	for (;;) {
		bool sent;
		int rc = qsgi_exchange(c, req, resp, timeout_ms, &sent);
		if (rc == QSG_OK && !qsgi_retryable(resp->rc)) {
			qsgi_set_reply_error(c, resp);
			return resp->rc;
		}
		if (rc == QSG_OK) {
			qsgi_set_reply_error(c, resp);
			qsgi_drop_conn(c);
			rc = resp->rc;
		} else if (!sent) {
			return rc;
		}
		if (!qsgi_retry_wait(c, &deadline, &backoff))
			return rc;
	}
}

int qsg_open(qsg_conn *c, const char *queue)
{
	lock(c);
	int rc = check_queue(c, queue);
	if (rc != QSG_OK)
		return unlock_rc(c, rc);
	struct proto_req req = {.op = PROTO_OPEN};
	struct proto_resp resp;
	strcpy(req.u.open.queue, queue);
	rc = idempotent(c, &req, &resp, c->reply_ms);
	if (rc == QSG_OK) {
		void *p = realloc(c->opened, (c->nopened + 1) * sizeof *c->opened);
		if (p == NULL)
			return unlock_rc(c, QSG_RC_STORAGE_NOT_AVAILABLE);
		c->opened = p;
		strcpy(c->opened[c->nopened++], queue);
	}
	return unlock_rc(c, rc);
}

int qsg_close(qsg_conn *c, const char *queue)
{
	lock(c);
	int rc = check_queue(c, queue);
	if (rc != QSG_OK)
		return unlock_rc(c, rc);
	for (size_t i = 0; i < c->nopened; i++)
		if (strcmp(c->opened[i], queue) == 0) {
			memmove(c->opened[i], c->opened[i + 1],
				(c->nopened - i - 1) * sizeof *c->opened);
			c->nopened--;
			break;
		}
	struct proto_req req = {.op = PROTO_CLOSE};
	struct proto_resp resp;
	strcpy(req.u.open.queue, queue);
	return unlock_rc(c, idempotent(c, &req, &resp, c->reply_ms));
}

/* A syncpoint op or commit after the connection broke with a uow open. */
bool qsgi_take_uow_lost(qsg_conn *c)
{
	if (!c->uow_lost)
		return false;
	c->uow_lost = false;
	c->uow_open = false;
	qsg_errf(c->err, QSG_RC_BACKED_OUT,
		 "the connection was lost with a unit of work open: it was backed out");
	return true;
}

static int queue_defprty(qsg_conn *c, const char *queue, uint8_t *priority);

/* Check a put and fill req (everything but the producer seq). */
int qsgi_fill_put(qsg_conn *c, struct proto_req *req, const char *queue, const struct qsg_md *md,
		  const void *body, size_t len, int options)
{
	int rc = check_queue(c, queue);
	if (rc != QSG_OK)
		return rc;
	if ((options & ~(QSG_PMO_SYNCPOINT | QSG_PMO_NEW_MSG_ID)) != 0)
		return qsg_errf(c->err, QSG_RC_OPTIONS_ERROR, "unknown put option");
	if (md->priority != QSG_PRI_AS_Q_DEF && (md->priority < 0 || md->priority > 9))
		return qsg_errf(c->err, QSG_RC_PRIORITY_ERROR, "priority %d is not 0 to 9",
				md->priority);
	if (md->expiry_ms < 0)
		return qsg_errf(c->err, QSG_RC_EXPIRY_ERROR, "negative expiry");
	if (len > FSM_MAX_MSGL)
		return qsg_errf(c->err, QSG_RC_MSG_TOO_BIG,
				"message of %zu bytes is over the limit", len);
	if (len > 0 && body == NULL)
		return QSG_RC_INVALID;
	bool sync = (options & QSG_PMO_SYNCPOINT) != 0;
	if (sync && (rc = qsgi_a_sync_allowed(c)) != QSG_OK)
		return rc;
	memset(req, 0, sizeof *req);
	req->op = PROTO_PUT;
	strcpy(req->u.put.queue, queue);
	uint32_t flags = 0;
	if (sync)
		flags |= FSM_F_SYNCPOINT;
	if (options & QSG_PMO_NEW_MSG_ID)
		flags |= FSM_F_GEN_MSGID;
	if (md->persistence == QSG_PERSISTENT)
		flags |= FSM_F_PERSISTENT;
	else if (md->persistence == QSG_PERSISTENCE_AS_Q_DEF)
		flags |= FSM_F_PERSIST_DEFAULT;
	if (md->priority == QSG_PRI_AS_Q_DEF) {
		rc = queue_defprty(c, queue, &req->u.put.msg.priority);
		if (rc != QSG_OK)
			return rc;
	} else {
		req->u.put.msg.priority = (uint8_t)md->priority;
	}
	req->u.put.flags = flags;
	memcpy(req->u.put.msg.msgid, md->msgid, FSM_ID_LEN);
	memcpy(req->u.put.msg.correlid, md->correlid, FSM_ID_LEN);
	req->u.put.msg.expiry_ms = md->expiry_ms;
	req->u.put.msg.body.p = body;
	req->u.put.msg.body.len = len;
	return QSG_OK;
}

int qsg_put(qsg_conn *c, const char *queue, struct qsg_md *md, const void *body, size_t len,
	    int options)
{
	struct qsg_md dflt;
	if (md == NULL) {
		qsg_md_init(&dflt);
		md = &dflt;
	}
	lock(c);
	struct proto_req req;
	struct proto_resp resp;
	bool sync = (options & QSG_PMO_SYNCPOINT) != 0;
	int rc = qsgi_fill_put(c, &req, queue, md, body, len, options);
	if (rc != QSG_OK)
		return unlock_rc(c, rc);
	/* Asynchronous puts before this one are answered first (order, seq). */
	if ((rc = qsgi_a_quiesce(c)) != QSG_OK)
		return unlock_rc(c, rc);
	if (sync && qsgi_take_uow_lost(c))
		return unlock_rc(c, QSG_RC_BACKED_OUT);

	if (len > FSM_CHUNK_MAX) /* a large message: in parts (large.c) */
		return unlock_rc(c, qsgl_put(c, &req, body, len, sync, md));
	uint64_t seq = ++c->last_seq;
	bool maybe_applied = false;
	int64_t deadline = 0;
	int backoff = BACKOFF_MIN_MS;
	for (;;) {
		bool sent;
		req.u.put.seq = seq;
		rc = qsgi_exchange(c, &req, &resp, c->reply_ms, &sent);
		if (rc == QSG_OK && !qsgi_retryable(resp.rc)) {
			qsgi_set_reply_error(c, &resp);
			if (resp.rc == QSG_OK) {
				memcpy(md->msgid, resp.u.put.msgid, FSM_ID_LEN);
				if (sync)
					c->uow_open = true;
			}
			return unlock_rc(c, resp.rc);
		}
		if (rc == QSG_OK) {
			qsgi_set_reply_error(c, &resp);
			maybe_applied |= !qsgi_not_applied(resp.rc);
			rc = resp.rc;
		} else {
			maybe_applied |= sent;
		}
		if (sync && (sent || c->uow_open))
			return unlock_rc(c, qsgi_syncpoint_lost(c));
		if (!sent && !maybe_applied) {
			c->last_seq = seq - 1;
			return unlock_rc(c, rc);
		}
		/* Outcome unknown or refused for a transient reason: reconnect
		 * and learn from HELLO whether the put was applied. */
		if (!qsgi_retry_wait(c, &deadline, &backoff))
			return unlock_rc(c, maybe_applied ? QSG_RC_OUTCOME_UNKNOWN : rc);
		rc = qsgi_attach(c, deadline, false);
		if (rc != QSG_OK)
			return unlock_rc(c, maybe_applied ? QSG_RC_OUTCOME_UNKNOWN : rc);
		if (c->last_seq >= seq) {
			/* Applied before the connection broke; the reply with the
			 * msgid is lost. */
			memset(md->msgid, 0, FSM_ID_LEN);
			return unlock_rc(c, QSG_OK);
		}
		seq = ++c->last_seq;
		maybe_applied = false;
	}
}

static int copy_msg(qsg_conn *c, const struct fsm_msg *m, struct qsg_md *md, void **body,
		    size_t *len)
{
	void *p = NULL;
	if (m->body.len > 0) {
		p = malloc(m->body.len);
		if (p == NULL)
			return qsg_errf(c->err, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
		memcpy(p, m->body.p, m->body.len);
	}
	*body = p;
	*len = m->body.len;
	if (md != NULL) {
		memcpy(md->msgid, m->msgid, FSM_ID_LEN);
		memcpy(md->correlid, m->correlid, FSM_ID_LEN);
		md->priority = m->priority;
		md->persistence = m->persistent;
		md->expiry_ms = m->expiry_ms;
		md->put_time_ms = m->put_time_ms;
		md->backout_count = m->backout_count;
		md->seqno = m->seqno;
	}
	return QSG_OK;
}

/* A GET/BROWSE(X) reply: the whole message, or part 0 of a chunked one
 * whose other parts large.c pulls. */
static int get_reply(qsg_conn *c, const struct proto_resp *resp, struct qsg_md *md,
		     bool destructive, bool sync, void **body, size_t *len)
{
	if (resp->u.get.nparts == 0)
		return copy_msg(c, &resp->u.get.msg, md, body, len);
	struct fsm_msg m = resp->u.get.msg;
	m.body.len = 0;
	int rc = copy_msg(c, &m, md, body, len);
	return rc == QSG_OK ? qsgl_parts(c, resp, destructive, sync, body, len) : rc;
}

static int fill_get(qsg_conn *c, struct proto_req *req, const char *queue, struct qsg_md *md,
		    int options)
{
	int rc = check_queue(c, queue);
	if (rc != QSG_OK)
		return rc;
	if ((options & ~(QSG_GMO_SYNCPOINT | QSG_GMO_MATCH_MSGID | QSG_GMO_MATCH_CORRELID)) != 0)
		return qsg_errf(c->err, QSG_RC_OPTIONS_ERROR, "unknown get option");
	if ((options & (QSG_GMO_MATCH_MSGID | QSG_GMO_MATCH_CORRELID)) && md == NULL)
		return qsg_errf(c->err, QSG_RC_INVALID, "match options need a descriptor");
	strcpy(req->u.get.queue, queue);
	if (options & QSG_GMO_SYNCPOINT)
		req->u.get.flags |= FSM_F_SYNCPOINT;
	if (options & QSG_GMO_MATCH_MSGID) {
		req->u.get.flags |= FSM_F_MATCH_MSGID;
		memcpy(req->u.get.match.msgid, md->msgid, FSM_ID_LEN);
	}
	if (options & QSG_GMO_MATCH_CORRELID) {
		req->u.get.flags |= FSM_F_MATCH_CORRELID;
		memcpy(req->u.get.match.correlid, md->correlid, FSM_ID_LEN);
	}
	return QSG_OK;
}

int qsg_get(qsg_conn *c, const char *queue, struct qsg_md *md, int options, int wait_ms,
	    void **body, size_t *len)
{
	*body = NULL;
	*len = 0;
	lock(c);
	struct proto_req req = {.op = PROTO_GETX};
	struct proto_resp resp;
	int rc = fill_get(c, &req, queue, md, options);
	if (rc != QSG_OK)
		return unlock_rc(c, rc);
	if (wait_ms < QSG_WAIT_FOREVER)
		return unlock_rc(c, qsg_errf(c->err, QSG_RC_INVALID, "bad wait %d", wait_ms));
	bool sync = (options & QSG_GMO_SYNCPOINT) != 0;
	if (sync && (rc = qsgi_a_sync_allowed(c)) != QSG_OK)
		return unlock_rc(c, rc);
	if (sync && qsgi_take_uow_lost(c))
		return unlock_rc(c, QSG_RC_BACKED_OUT);
	req.u.get.wait_ms = wait_ms;
	int timeout = wait_ms < 0
			  ? -1
			  : (wait_ms > INT32_MAX - c->reply_ms ? INT32_MAX : wait_ms + c->reply_ms);
	int64_t deadline = 0;
	int backoff = BACKOFF_MIN_MS;
	for (;;) {
		bool sent;
		rc = qsgi_exchange(c, &req, &resp, timeout, &sent);
		if (rc == QSG_OK && !qsgi_retryable(resp.rc)) {
			qsgi_set_reply_error(c, &resp);
			if (resp.rc != QSG_OK)
				return unlock_rc(c, resp.rc);
			rc = get_reply(c, &resp, md, true, sync, body, len);
			/* A large message whose transfer broke outside syncpoint
			 * went back to the queue (large.c dropped the session):
			 * get again. */
			if (rc != QSG_OK && !sync && rc != QSG_RC_OUTCOME_UNKNOWN && c->fd < 0 &&
			    qsgi_retry_wait(c, &deadline, &backoff))
				continue;
			if (rc == QSG_OK && sync)
				c->uow_open = true;
			return unlock_rc(c, rc);
		}
		if (rc == QSG_OK && resp.rc == QSG_RC_UNKNOWN_OP && req.op == PROTO_GETX) {
			req.op = PROTO_GET; /* a member without large messages */
			continue;
		}
		bool unknown = sent;
		if (rc == QSG_OK) {
			qsgi_set_reply_error(c, &resp);
			unknown = !qsgi_not_applied(resp.rc);
			rc = resp.rc;
		}
		if (sync && (sent || c->uow_open))
			return unlock_rc(c, qsgi_syncpoint_lost(c));
		if (!sent)
			return unlock_rc(c, rc);
		qsgi_drop_conn(c);
		if (unknown) {
			(void)qsgi_attach(c, qsgi_now_ms() + c->reconnect_ms, false);
			return unlock_rc(c,
					 qsg_errf(c->err, QSG_RC_OUTCOME_UNKNOWN,
						  "the connection was lost during a get outside "
						  "syncpoint: a message may have been consumed"));
		}
		if (!qsgi_retry_wait(c, &deadline, &backoff))
			return unlock_rc(c, rc);
	}
}

int qsg_browse(qsg_conn *c, const char *queue, struct qsg_browse_cursor *cursor, struct qsg_md *md,
	       int options, void **body, size_t *len)
{
	*body = NULL;
	*len = 0;
	lock(c);
	struct proto_req req = {.op = PROTO_BROWSEX};
	struct proto_resp resp;
	int rc = fill_get(c, &req, queue, md, options);
	if (rc != QSG_OK)
		return unlock_rc(c, rc);
	if (options & QSG_GMO_SYNCPOINT)
		return unlock_rc(
		    c, qsg_errf(c->err, QSG_RC_OPTIONS_ERROR, "browse cannot be under syncpoint"));
	if (cursor->priority > 9)
		return unlock_rc(c, QSG_RC_INVALID);
	req.u.get.match.priority = cursor->priority;
	req.u.get.match.seqno = cursor->seqno;
	rc = idempotent(c, &req, &resp, c->reply_ms);
	if (rc == QSG_RC_UNKNOWN_OP) { /* a member without large messages */
		req.op = PROTO_BROWSE;
		rc = idempotent(c, &req, &resp, c->reply_ms);
	}
	if (rc == QSG_OK) {
		rc = get_reply(c, &resp, md, false, false, body, len);
		if (rc == QSG_OK) {
			cursor->priority = resp.u.get.msg.priority;
			cursor->seqno = resp.u.get.msg.seqno;
		}
	}
	return unlock_rc(c, rc);
}

static int backout_locked(qsg_conn *c);

int qsg_commit(qsg_conn *c)
{
	lock(c);
	/* Asynchronous puts of the unit of work are answered first; when one
	 * of them failed, the whole unit is backed out. */
	bool bo = false;
	int rc = qsgi_a_commit_check(c, &bo);
	if (rc != QSG_OK)
		return unlock_rc(c, rc);
	if (bo) {
		char e[QSG_ERRMSG_SIZE];
		snprintf(e, sizeof e, "%s", c->err);
		(void)backout_locked(c);
		qsgi_a_uow_end(c);
		return unlock_rc(c, qsg_errf(c->err, QSG_RC_BACKED_OUT, "%s", e));
	}
	qsgi_a_uow_end(c);
	if (qsgi_take_uow_lost(c))
		return unlock_rc(c, QSG_RC_BACKED_OUT);
	if (!c->uow_open)
		return unlock_rc(c, QSG_OK); /* nothing to commit */
	struct proto_req req = {.op = PROTO_COMMIT};
	struct proto_resp resp;
	uint64_t uow = c->uows_done + 1;
	req.u.commit.uow = uow;
	bool sent;
	rc = qsgi_exchange(c, &req, &resp, c->reply_ms, &sent);
	if (rc == QSG_OK && !qsgi_retryable(resp.rc)) {
		qsgi_set_reply_error(c, &resp);
		c->uow_open = false;
		if (resp.rc == QSG_OK)
			c->uows_done = uow;
		return unlock_rc(c, resp.rc);
	}
	/* Outcome unknown: the new session's uows_done tells. */
	qsgi_drop_conn(c);
	rc = qsgi_attach(c, qsgi_now_ms() + c->reconnect_ms, false);
	c->uow_open = false;
	c->uow_lost = false;
	if (rc != QSG_OK)
		return unlock_rc(c, qsg_errf(c->err, QSG_RC_OUTCOME_UNKNOWN,
					     "commit outcome unknown: no member reachable"));
	if (c->uows_done >= uow)
		return unlock_rc(c, QSG_OK);
	return unlock_rc(c, qsg_errf(c->err, QSG_RC_BACKED_OUT,
				     "the connection was lost before the commit: the unit of "
				     "work was backed out"));
}

int qsg_backout(qsg_conn *c)
{
	lock(c);
	int rc = qsgi_a_sync_allowed(c);
	if (rc == QSG_OK)
		rc = qsgi_a_quiesce(c);
	if (rc != QSG_OK)
		return unlock_rc(c, rc);
	qsgi_a_uow_end(c);
	return unlock_rc(c, backout_locked(c));
}

static int backout_locked(qsg_conn *c)
{
	if (c->uow_lost || !c->uow_open) {
		c->uow_lost = false;
		c->uow_open = false;
		return QSG_OK;
	}
	struct proto_req req = {.op = PROTO_BACKOUT};
	struct proto_resp resp;
	bool sent;
	int rc = qsgi_exchange(c, &req, &resp, c->reply_ms, &sent);
	if (rc == QSG_OK && !qsgi_retryable(resp.rc)) {
		qsgi_set_reply_error(c, &resp);
		c->uow_open = false;
		return resp.rc;
	}
	/* Either way the uow is gone: a new session backs it out. */
	qsgi_drop_conn(c);
	(void)qsgi_attach(c, qsgi_now_ms() + c->reconnect_ms, false);
	c->uow_open = false;
	c->uow_lost = false;
	return QSG_OK;
}

static int admin_objects(qsg_conn *c, const struct proto_resp *resp, qsg_admin_obj_cb cb, void *arg)
{
	size_t cur = 0, n;
	struct proto_attr *attrs = NULL;
	size_t cap = 0;
	char **strs = NULL;
	int rc = QSG_OK;
	for (;;) {
		/* First pass learns the count, second fills. */
		size_t save = cur;
		int r = proto_admin_next(resp, &cur, attrs, cap, &n);
		if (r <= 0) {
			if (r < 0)
				rc = qsg_errf(c->err, -r, "malformed admin reply");
			break;
		}
		if (n > cap) {
			struct proto_attr *a = realloc(attrs, n * sizeof *a);
			if (a == NULL) {
				rc = QSG_RC_STORAGE_NOT_AVAILABLE;
				break;
			}
			attrs = a;
			cap = n;
			cur = save;
			(void)proto_admin_next(resp, &cur, attrs, cap, &n);
		}
		size_t total = 0;
		for (size_t i = 0; i < n; i++)
			total += attrs[i].name.len + attrs[i].value.len + 2;
		char **s = realloc(strs, (2 * n + 1) * sizeof *s);
		if (s == NULL) {
			rc = QSG_RC_STORAGE_NOT_AVAILABLE;
			break;
		}
		strs = s;
		char *pool = malloc(total + 1);
		if (pool == NULL) {
			rc = QSG_RC_STORAGE_NOT_AVAILABLE;
			break;
		}
		char *p = pool;
		for (size_t i = 0; i < n; i++) {
			strs[i] = p;
			memcpy(p, attrs[i].name.p, attrs[i].name.len);
			p += attrs[i].name.len;
			*p++ = '\0';
			strs[n + i] = p;
			memcpy(p, attrs[i].value.p, attrs[i].value.len);
			p += attrs[i].value.len;
			*p++ = '\0';
		}
		int stop = cb(arg, n, (const char *const *)strs, (const char *const *)(strs + n));
		free(pool);
		if (stop)
			break;
	}
	free(attrs);
	free(strs);
	return rc;
}

/* qsg_admin with the mutex held. */
static int admin_locked(qsg_conn *c, const char *command, qsg_admin_obj_cb cb, void *arg,
			char *text, size_t textlen)
{
	size_t n = command ? strlen(command) : 0;
	if (n == 0 || n > PROTO_MAX_TEXT)
		return qsg_errf(c->err, QSG_RC_INVALID, "MQSC command must be 1 to %d bytes",
				PROTO_MAX_TEXT);
	struct proto_req req = {.op = PROTO_ADMIN};
	struct proto_resp resp;
	req.u.admin.text.p = (const uint8_t *)command;
	req.u.admin.text.len = n;
	bool sent;
	int rc = qsgi_exchange(c, &req, &resp, c->reply_ms, &sent);
	if (rc != QSG_OK) {
		if (!sent)
			return rc;
		(void)qsgi_attach(c, qsgi_now_ms() + c->reconnect_ms, false);
		return qsg_errf(c->err, QSG_RC_OUTCOME_UNKNOWN,
				"the connection was lost during the command: it may or may not "
				"have been executed");
	}
	qsgi_set_reply_error(c, &resp);
	if (text != NULL && textlen > 0)
		snprintf(text, textlen, "%.*s", (int)resp.text.len, (const char *)resp.text.p);
	rc = resp.rc;
	if (rc == QSG_OK && cb != NULL) {
		rc = admin_objects(c, &resp, cb, arg);
	} else if (qsgi_retryable(rc)) {
		/* Move to a healthier member for the next call. */
		qsgi_drop_conn(c);
		(void)qsgi_attach(c, qsgi_now_ms() + c->reconnect_ms, false);
		qsgi_set_reply_error(c, &resp);
	}
	return rc;
}

int qsg_admin(qsg_conn *c, const char *command, qsg_admin_obj_cb cb, void *arg, char *text,
	      size_t textlen)
{
	if (text != NULL && textlen > 0)
		text[0] = '\0';
	lock(c);
	return unlock_rc(c, admin_locked(c, command, cb, arg, text, textlen));
}

static int defprty_cb(void *arg, size_t nattrs, const char *const *names, const char *const *values)
{
	int *pri = arg;
	for (size_t i = 0; i < nattrs; i++)
		if (strcmp(names[i], "DEFPRTY") == 0 && values[i][0] >= '0' &&
		    values[i][0] <= '9' && values[i][1] == '\0')
			*pri = values[i][0] - '0';
	return 0;
}

/* QSG_PRI_AS_Q_DEF: the protocol carries an explicit priority, so libqsg
 * learns the queue's DEFPRTY once per connection (DISPLAY QUEUE) and caches
 * it. An ALTER of DEFPRTY is seen by new connections. */
static int queue_defprty(qsg_conn *c, const char *queue, uint8_t *priority)
{
	for (size_t i = 0; i < c->nprty; i++)
		if (strcmp(c->prty[i].queue, queue) == 0) {
			*priority = c->prty[i].priority;
			return QSG_OK;
		}
	char cmd[FSM_NAME_MAX + 32];
	int pri = -1;
	snprintf(cmd, sizeof cmd, "DISPLAY QUEUE(%s) DEFPRTY", queue);
	int rc = admin_locked(c, cmd, defprty_cb, &pri, NULL, 0);
	if (rc == QSG_RC_OUTCOME_UNKNOWN)
		rc = QSG_RC_CONNECTION_BROKEN; /* a DISPLAY changes nothing */
	if (rc != QSG_OK)
		return rc;
	if (pri < 0)
		pri = 0; /* a remote queue: priority 0 unless the message says */
	struct defprty *p = realloc(c->prty, (c->nprty + 1) * sizeof *p);
	if (p == NULL)
		return qsg_errf(c->err, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	c->prty = p;
	snprintf(p[c->nprty].queue, sizeof p[c->nprty].queue, "%s", queue);
	p[c->nprty++].priority = (uint8_t)pri;
	*priority = (uint8_t)pri;
	return QSG_OK;
}

void qsg_free(void *p)
{
	free(p);
}

const char *qsg_reason_name(int rc)
{
	return qsg_rc_name(rc);
}

const char *qsg_reason_text(int rc)
{
	return qsg_rc_text(rc);
}

const char *qsg_last_error(qsg_conn *c)
{
	return c->err;
}

const char *qsg_qmgr_name(qsg_conn *c)
{
	return c->fd >= 0 ? c->qmgr : NULL;
}

uint32_t qsg_member_id(qsg_conn *c)
{
	return c->fd >= 0 ? c->member_id : 0;
}
