/* raft-glue: one Raft server on the caller's libuv loop (libraft 0.15 uv
 * backend and TCP transport), with the state machine adapted by
 * fsm_adapter.c.
 *
 * Role changes. libraft 0.15 has no state-change callback (raft.h has no
 * raft_register_state_cb), so the glue polls raft_state() from a 10 ms
 * uv_timer and after every apply callback, and reports changes through the
 * role callback. User callbacks are never invoked from inside a glue_*()
 * call, so callers need not be re-entrant; glue_is_leader() and
 * glue_get_info() read raft's live state, never the polled copy.
 *
 * Shutdown. glue_close() does not call raft_close() directly (it may be
 * called from inside a libraft callback); a zero-delay timer does. libraft
 * fails the outstanding raft_apply requests while converting to
 * unavailable (RAFT_LEADERSHIPLOST / RAFT_SHUTDOWN: reported as
 * QSG_RC_OUTCOME_UNKNOWN), closes its raft_io, and calls back; then the uv
 * backend and the transport memory are released (raft_uv_close,
 * raft_uv_tcp_close), the timer handle is closed, and the user's close
 * callback runs. */
#include "glue.h"

#include <raft.h>
#include <raft/uv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "aiodefer.h"
#include "rheap.h"
#include "fsm_adapter.h"
#include "rtls.h"

#define GLUE_POLL_MS 10
#define GLUE_CLOSE_MAX_POLLS 5000 /* x 1 ms */

enum change_stage {
	CHANGE_NONE = 0,
	CHANGE_ADDING = 1, /* raft_add (spare) in flight */
	CHANGE_PROMOTING = 2, /* raft_assign(VOTER): catch-up, then the change */
	CHANGE_REMOVING = 3, /* raft_remove in flight */
	CHANGE_DEFERRED = 4, /* completion waiting for ctimer */
};

struct glue_req {
	struct raft_apply req; /* first: libraft's request */
	struct glue *g;
	glue_apply_cb cb;
	void *arg;
	struct glue_req *prev, *next; /* in-flight list */
};

struct glue {
	uv_loop_t *loop;
	struct raft raft;
	struct raft_io io;
	struct raft_uv_transport transport;
	/* libraft's TCP transport, whose listen/connect are wrapped to set
	 * TCP_NODELAY on every Raft connection (see nodelay_listen). */
	int (*tcp_listen)(struct raft_uv_transport *t, raft_uv_accept_cb cb);
	int (*tcp_connect)(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
			   const char *address, raft_uv_connect_cb cb);
	raft_uv_accept_cb accept_cb;
	/* libraft's disk append, wrapped to see its failures (checked_append),
	 * and the appends in flight, oldest first. */
	int (*uv_append)(struct raft_io *io, struct raft_io_append *req,
			 const struct raft_entry entries[], unsigned n, raft_io_append_cb cb);
	struct checked_append *appends, *appends_tail;
	uint64_t last_tick; /* uv_now() at the last poll tick (0: none yet) */
	struct raft_fsm fsm;
	struct glue_adapter adapter;
	struct glue_config cfg;
	char address[128];
	char *dir;

	uv_timer_t timer;
	int role; /* last reported enum glue_role */
	bool started;
	bool fatal_reported;
	/* A storage fault seen in an apply callback or by raft_apply: libraft
	 * 0.15 keeps a leader whose own append failed in the leader role
	 * without committing anything again, so the glue fail-stops itself. */
	bool io_fault;
	char io_msg[QSG_ERRMSG_SIZE];
	bool closing;
	bool raft_closed;
	bool timer_closed;
	bool ar_pending; /* the asynchronous restore's work still running */
	unsigned close_polls; /* see close_timer_cb() */

	unsigned inflight; /* submissions waiting for results */
	struct glue_req *reqs; /* in-flight list head */

	struct raft_transfer transfer;
	bool transferring;

	/* The one membership change in flight (libraft allows one at a
	 * time). Completions that cannot go through libraft (nothing to do)
	 * are deferred to ctimer, so no user callback runs inside glue_*(). */
	struct raft_change change;
	int change_stage; /* enum change_stage */
	uint64_t change_id;
	glue_change_cb change_cb;
	void *change_arg;
	int change_status; /* CHANGE_DEFERRED: what to report */
	char change_text[QSG_ERRMSG_SIZE];
	uv_timer_t ctimer;
	bool ctimer_closed;

	glue_role_cb role_cb;
	void *role_arg;
	glue_fatal_cb fatal_cb;
	void *fatal_arg;
	void (*close_cb)(void *arg);
	void *close_arg;
};

/* Log appends that fail or never finish. A failed append on any role is a
 * storage fault: the glue records it and fail-stops (exit 70; the supervisor
 * restarts the member, which catches up from its peers). And libraft 0.15's
 * uv backend, after some io_submit failures on a follower, neither reports
 * the error nor completes the append: the server stays a follower that never
 * applies another entry but still renews its lease, its replica behind for
 * good while it serves clients (found by jepsen/run's disk-eio nemesis). So
 * an append still in flight after append_timeout_ms is a storage fault too. */
#define GLUE_OF_IO(io) ((struct glue *)((char *)(io)-offsetof(struct glue, io)))

struct checked_append {
	struct raft_io_append inner; /* what libuv's backend sees */
	struct raft_io_append *outer; /* libraft's request */
	raft_io_append_cb cb;
	struct glue *g;
	uint64_t started; /* uv_now() at submission */
	struct checked_append *prev, *next; /* g->appends, oldest first */
};

static void poll_state(struct glue *g);
static void ar_idle_cb(void *arg);
static void transfer_cb(struct raft_transfer *req);

static void checked_append_cb(struct raft_io_append *req, int status)
{
	struct checked_append *w = req->data;
	struct glue *g = w->g;
	struct raft_io_append *outer = w->outer;
	raft_io_append_cb cb = w->cb;

	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		g->appends = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		g->appends_tail = w->prev;
	raft_free(w);
	if (status != 0 && status != RAFT_CANCELED && !g->io_fault) {
		g->io_fault = true;
		snprintf(g->io_msg, sizeof g->io_msg, "raft log append failed: %s (%.160s)",
			 raft_strerror(status), g->io.errmsg[0] ? g->io.errmsg : "-");
	}
	cb(outer, status);
	poll_state(g);
}

static int checked_append(struct raft_io *io, struct raft_io_append *req,
			  const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
	struct glue *g = GLUE_OF_IO(io);
	struct checked_append *w = raft_malloc(sizeof *w);
	if (w == NULL)
		return RAFT_NOMEM;
	w->inner.data = w;
	w->outer = req;
	w->cb = cb;
	w->g = g;
	w->started = uv_now(g->loop);
	req->cb = cb;
	int rv = g->uv_append(io, &w->inner, entries, n, checked_append_cb);
	if (rv != 0) {
		raft_free(w);
		return rv;
	}
	w->next = NULL;
	w->prev = g->appends_tail;
	if (g->appends_tail != NULL)
		g->appends_tail->next = w;
	else
		g->appends = w;
	g->appends_tail = w;
	return 0;
}

/* TCP_NODELAY on Raft connections. libraft 0.15's raft_uv_tcp never sets it,
 * so small AppendEntries messages and their replies wait for Nagle and the
 * peer's delayed ACK (~40 ms stalls at low load). The glue interposes on the
 * transport's listen and connect and sets the option on every stream. */
#define GLUE_OF_TRANSPORT(t) ((struct glue *)((char *)(t)-offsetof(struct glue, transport)))

static void set_nodelay(struct uv_stream_s *stream)
{
	if (stream != NULL && stream->type == UV_TCP)
		(void)uv_tcp_nodelay((uv_tcp_t *)stream, 1);
}

static void nodelay_accept_cb(struct raft_uv_transport *t, raft_id id, const char *address,
			      struct uv_stream_s *stream)
{
	set_nodelay(stream);
	GLUE_OF_TRANSPORT(t)->accept_cb(t, id, address, stream);
}

static int nodelay_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct glue *g = GLUE_OF_TRANSPORT(t);
	g->accept_cb = cb;
	return g->tcp_listen(t, nodelay_accept_cb);
}

struct nodelay_connect {
	struct raft_uv_connect inner; /* first */
	struct raft_uv_connect *outer;
	raft_uv_connect_cb cb;
};

static void nodelay_connect_cb(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
	struct nodelay_connect *w = (struct nodelay_connect *)req;
	if (status == 0)
		set_nodelay(stream);
	w->cb(w->outer, stream, status);
	free(w);
}

static int nodelay_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
			   const char *address, raft_uv_connect_cb cb)
{
	struct nodelay_connect *w = calloc(1, sizeof *w);
	int rv;
	if (w == NULL)
		return RAFT_NOMEM;
	w->outer = req;
	w->cb = cb;
	w->inner.data = req->data;
	rv = GLUE_OF_TRANSPORT(t)->tcp_connect(t, &w->inner, id, address, nodelay_connect_cb);
	if (rv != 0)
		free(w);
	return rv;
}

static void transport_free(struct glue *g)
{
	if (g->cfg.tls != NULL)
		rtls_free(&g->transport);
	else
		raft_uv_tcp_close(&g->transport);
}

int glue_tls_reload(struct glue *g, bool *on, char *errmsg)
{
	*on = g->cfg.tls != NULL;
	return *on ? rtls_reload(&g->transport, errmsg) : QSG_OK;
}

void glue_tls_member(struct glue *g, uint64_t id, const char *name)
{
	if (g->cfg.tls != NULL)
		rtls_learn(&g->transport, id, name);
}

static int raft_rc(int rv)
{
	switch (rv) {
	case 0:
		return QSG_OK;
	case RAFT_NOMEM:
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	case RAFT_NOTLEADER:
		return QSG_RC_NOT_LEADER;
	case RAFT_LEADERSHIPLOST:
	case RAFT_SHUTDOWN:
		return QSG_RC_OUTCOME_UNKNOWN;
	case RAFT_BADID:
	case RAFT_DUPLICATEID:
	case RAFT_DUPLICATEADDRESS:
	case RAFT_BADROLE:
	case RAFT_NAMETOOLONG:
	case RAFT_INVALID:
	case RAFT_CANTBOOTSTRAP:
		return QSG_RC_CONFIG;
	case RAFT_BUSY:
	case RAFT_CANTCHANGE:
		return QSG_RC_BUSY;
	case RAFT_NOCONNECTION:
		return QSG_RC_TIMEOUT;
	case RAFT_NOTFOUND:
		return QSG_RC_INVALID;
	default:
		return QSG_RC_IO;
	}
}

static int glue_role_of(int state)
{
	switch (state) {
	case RAFT_FOLLOWER:
		return GLUE_FOLLOWER;
	case RAFT_CANDIDATE:
		return GLUE_CANDIDATE;
	case RAFT_LEADER:
		return GLUE_LEADER;
	default:
		return GLUE_UNAVAILABLE;
	}
}

/* Report role changes and, once, a fatal stop. Called from the timer and
 * from libraft callbacks only. */
static void poll_state(struct glue *g)
{
	int role;
	int old;

	if (!g->started || g->closing) {
		return;
	}
	role = glue_role_of(raft_state(&g->raft));
	if (role != g->role) {
		old = g->role;
		g->role = role;
		if (g->role_cb != NULL) {
			g->role_cb(g->role_arg, old, role);
		}
	}
	if (g->closing || g->fatal_reported) {
		return;
	}
	if (role == GLUE_LEADER && glue_ar_busy(&g->adapter) && !g->transferring) {
		/* Elected while a restore is in progress, or with applies
		 * deferred by the budget (arestore.c): its own entries would
		 * get no results; another voter leads. */
		memset(&g->transfer, 0, sizeof g->transfer);
		g->transfer.data = g;
		if (raft_transfer(&g->raft, &g->transfer, 0, transfer_cb) == 0)
			g->transferring = true;
	}
	if (g->adapter.failed) {
		g->fatal_reported = true;
		if (g->fatal_cb != NULL) {
			g->fatal_cb(g->fatal_arg, g->adapter.errmsg);
		}
	} else if (g->io_fault) {
		g->fatal_reported = true;
		if (g->fatal_cb != NULL) {
			g->fatal_cb(g->fatal_arg, g->io_msg);
		}
	} else if (role == GLUE_UNAVAILABLE) {
		g->fatal_reported = true;
		if (g->fatal_cb != NULL) {
			char msg[QSG_ERRMSG_SIZE];
			const char *why = raft_errmsg(&g->raft);

			snprintf(msg, sizeof msg, "raft server %llu stopped (I/O failure): %s",
				 (unsigned long long)g->cfg.id, why != NULL && *why ? why : "-");
			g->fatal_cb(g->fatal_arg, msg);
		}
	}
}

/* A gap between two ticks of the poll timer longer than this means the
 * process did not run (SIGSTOP, a VM pause, or its own loop blocked): the
 * appends in flight were not waiting for the disk meanwhile. */
#define GLUE_TICK_GAP_MS 500

static void timer_cb(uv_timer_t *t)
{
	struct glue *g = t->data;
	uint64_t now = uv_now(g->loop);
	if (g->last_tick != 0 && now - g->last_tick > GLUE_POLL_MS + GLUE_TICK_GAP_MS) {
		/* Do not count the time this process was stopped against the
		 * storage (jepsen's pause nemesis: a pause of more than
		 * append_timeout_ms used to make the member fail-stop after
		 * SIGCONT). A stalled disk still times out: the timer keeps
		 * ticking while the append waits. */
		uint64_t gap = now - g->last_tick - GLUE_POLL_MS;
		for (struct checked_append *w = g->appends; w != NULL; w = w->next) {
			w->started = w->started + gap > now ? now : w->started + gap;
		}
	}
	g->last_tick = now;
	if (g->appends != NULL && !g->io_fault && !g->closing &&
	    uv_now(g->loop) - g->appends->started > g->cfg.append_timeout_ms) {
		g->io_fault = true;
		snprintf(g->io_msg, sizeof g->io_msg,
			 "raft log append in flight for %llu ms (limit %u ms): storage stalled",
			 (unsigned long long)(uv_now(g->loop) - g->appends->started),
			 g->cfg.append_timeout_ms);
	}
	poll_state(g);
}

int glue_init(struct glue **out, uv_loop_t *loop, const struct glue_config *cfg,
	      const struct glue_sm *sm, char *errmsg)
{
	struct glue *g;
	int rv;

	*out = NULL;
	if (loop == NULL || cfg == NULL || sm == NULL || sm->apply == NULL ||
	    sm->snapshot == NULL || sm->restore == NULL) {
		return qsg_errf(errmsg, QSG_RC_INVALID, "glue_init: missing argument");
	}
	if (cfg->id == 0) {
		return qsg_errf(errmsg, QSG_RC_CONFIG, "raft id must be > 0");
	}
	if (cfg->address == NULL || cfg->address[0] == '\0' || strlen(cfg->address) >= 128) {
		return qsg_errf(errmsg, QSG_RC_CONFIG, "bad raft address");
	}
	if (cfg->dir == NULL || cfg->dir[0] == '\0') {
		return qsg_errf(errmsg, QSG_RC_CONFIG, "no raft data directory");
	}
	if ((cfg->n_servers == 0 && !cfg->join) || cfg->n_servers > GLUE_MAX_SERVERS) {
		return qsg_errf(errmsg, QSG_RC_CONFIG, "need 1..%d servers, got %u",
				GLUE_MAX_SERVERS, cfg->n_servers);
	}

	g = calloc(1, sizeof *g);
	if (g == NULL) {
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	}
	/* libraft's segment writers: their io_destroy off the loop. */
	aiodefer_enable();
	/* libraft's frees (the log prefix a snapshot drops) off the loop. */
	rheap_enable();
	g->loop = loop;
	g->cfg = *cfg;
	snprintf(g->address, sizeof g->address, "%s", cfg->address);
	g->cfg.address = g->address;
	g->dir = strdup(cfg->dir);
	if (g->dir == NULL) {
		free(g);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	}
	g->cfg.dir = g->dir;
	if (g->cfg.election_timeout_ms == 0) {
		g->cfg.election_timeout_ms = 1000;
	}
	if (g->cfg.heartbeat_ms == 0) {
		g->cfg.heartbeat_ms = 100;
	}
	if (g->cfg.append_timeout_ms == 0) {
		g->cfg.append_timeout_ms = 5000;
	}
	if (g->cfg.snapshot_threshold == 0) {
		g->cfg.snapshot_threshold = 8192;
	}
	if (g->cfg.snapshot_trailing == 0) {
		g->cfg.snapshot_trailing = 2048;
	}
	if (g->cfg.heartbeat_ms >= g->cfg.election_timeout_ms) {
		rv = qsg_errf(errmsg, QSG_RC_CONFIG,
			      "heartbeat (%u ms) must be shorter than the election timeout (%u ms)",
			      g->cfg.heartbeat_ms, g->cfg.election_timeout_ms);
		goto err_dir;
	}

	if (cfg->tls != NULL) {
		/* TLS (rtls.c): it sets TCP_NODELAY itself. */
		rv = rtls_init(&g->transport, loop, cfg->tls, errmsg);
		if (rv != QSG_OK)
			goto err_dir;
	} else {
		rv = raft_uv_tcp_init(&g->transport, loop);
		if (rv != 0) {
			rv = qsg_errf(errmsg, raft_rc(rv), "raft transport: %s", raft_strerror(rv));
			goto err_dir;
		}
		g->tcp_listen = g->transport.listen;
		g->tcp_connect = g->transport.connect;
		g->transport.listen = nodelay_listen;
		g->transport.connect = nodelay_connect;
	}
	rv = raft_uv_init(&g->io, loop, g->dir, &g->transport);
	if (rv != 0) {
		rv = qsg_errf(errmsg, raft_rc(rv), "raft storage in %s: %s", g->dir,
			      g->io.errmsg[0] ? g->io.errmsg : raft_strerror(rv));
		goto err_transport;
	}
	g->uv_append = g->io.append;
	g->io.append = checked_append;
	/* raft_fsm version 3 (fork-mode snapshots) needs io->version >= 2
	 * (raft_init checks it). libraft 0.15's uv backend implements
	 * async_work (src/uv_work.c) but still says version 1; upstream
	 * fixed the number alone in 269e541 "uv: set io version to 2"
	 * (v0.17.1). */
	if (g->cfg.snapshot_mode == GLUE_SNAPSHOT_FORK && g->io.version < 2 &&
	    g->io.async_work != NULL) {
		g->io.version = 2;
	}
	rv = raft_uv_set_snapshot_compression(&g->io, g->cfg.snapshot_compress);
	if (rv != 0) {
		rv = qsg_errf(errmsg, QSG_RC_CONFIG, "snapshot compression: %s", raft_strerror(rv));
		goto err_io;
	}

	glue_adapter_setup(&g->fsm, &g->adapter, sm, &g->inflight, g->cfg.snapshot_mode);
	g->adapter.raft = &g->raft;
	rv = raft_init(&g->raft, &g->io, &g->fsm, g->cfg.id, g->address);
	if (rv != 0) {
		rv = qsg_errf(errmsg, raft_rc(rv), "raft init (%s): %s", g->dir,
			      raft_errmsg(&g->raft));
		goto err_adapter;
	}
	g->raft.data = g;
	raft_set_election_timeout(&g->raft, g->cfg.election_timeout_ms);
	raft_set_heartbeat_timeout(&g->raft, g->cfg.heartbeat_ms);
	/* Not staggered per member (tried in session 7): a follower with a
	 * snapshot that the leader does not have yet, restarted, is sent
	 * entries from index 1, and libraft 0.15's follower append then fails
	 * ("No log entries found at index 1") or crashes; jepsen's backlog
	 * workload found it. Same threshold everywhere: members snapshot at
	 * the same index (docs/storage.md, "Leases that do not lie"). */
	raft_set_snapshot_threshold(&g->raft, g->cfg.snapshot_threshold);
	raft_set_snapshot_trailing(&g->raft, g->cfg.snapshot_trailing);
	raft_set_pre_vote(&g->raft, true);

	rv = uv_timer_init(loop, &g->timer);
	if (rv != 0) {
		/* Cannot happen in libuv 1.44 (uv_timer_init always returns 0);
		 * raft is initialised, so it must be closed asynchronously. */
		abort();
	}
	g->timer.data = g;
	uv_timer_init(loop, &g->ctimer);
	g->ctimer.data = g;
	glue_ar_init(&g->adapter, loop);
	g->adapter.ar.on_idle = ar_idle_cb;
	g->adapter.ar.on_idle_arg = g;
	g->transfer.data = g;
	g->role = GLUE_UNAVAILABLE;
	*out = g;
	return QSG_OK;

err_adapter:
	glue_adapter_teardown(&g->adapter);
err_io:
	raft_uv_close(&g->io);
err_transport:
	transport_free(g);
err_dir:
	free(g->dir);
	free(g);
	return rv;
}

int glue_start(struct glue *g, char *errmsg)
{
	struct raft_configuration conf;
	unsigned i;
	int rv;

	if (g->started || g->closing) {
		return qsg_errf(errmsg, QSG_RC_INVALID, "glue already started or closing");
	}
	if (g->cfg.join) {
		/* No bootstrap: the leader of the group sends the
		 * configuration once it has added this server. */
		goto start;
	}
	raft_configuration_init(&conf);
	for (i = 0; i < g->cfg.n_servers; i++) {
		const struct glue_server *s = &g->cfg.servers[i];

		rv = raft_configuration_add(&conf, s->id, s->address, RAFT_VOTER);
		if (rv != 0) {
			raft_configuration_close(&conf);
			return qsg_errf(errmsg, raft_rc(rv), "server %llu (%s): %s",
					(unsigned long long)s->id, s->address, raft_strerror(rv));
		}
	}
	rv = raft_bootstrap(&g->raft, &conf);
	raft_configuration_close(&conf);
	/* RAFT_CANTBOOTSTRAP: the directory already holds Raft state. */
	if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
		return qsg_errf(errmsg, raft_rc(rv), "raft bootstrap (%s): %s", g->dir,
				raft_errmsg(&g->raft));
	}
start:
	rv = raft_start(&g->raft);
	if (rv != 0) {
		const char *why = raft_errmsg(&g->raft);
		if (why == NULL || why[0] == '\0')
			why = g->io.errmsg[0] ? g->io.errmsg : raft_strerror(rv);
		/* libraft 0.15 does not pass on the transport's message (why
		 * listen failed, from rtls.c; raft_uv_tcp leaves it empty). */
		return qsg_errf(errmsg, raft_rc(rv), "raft start (%s, address %s): %s%s%.200s",
				g->dir, g->address, why, g->transport.errmsg[0] ? ": " : "",
				g->transport.errmsg);
	}
	g->started = true;
	/* From now on a snapshot from the leader is restored off the loop
	 * (arestore.c); raft_start restored the local one synchronously. */
	g->adapter.ar.enabled =
	    g->cfg.snapshot_mode == GLUE_SNAPSHOT_FORK && g->adapter.sm.restore_decode != NULL &&
	    g->adapter.sm.restore_install != NULL && g->adapter.sm.restore_step != NULL &&
	    g->adapter.sm.restore_discard != NULL;
	g->adapter.apply_budget_ns = (uint64_t)g->cfg.apply_budget_ms * 1000000u;
	g->role = glue_role_of(raft_state(&g->raft));
	uv_timer_start(&g->timer, timer_cb, GLUE_POLL_MS, GLUE_POLL_MS);
	return QSG_OK;
}

void glue_set_role_cb(struct glue *g, glue_role_cb cb, void *arg)
{
	g->role_cb = cb;
	g->role_arg = arg;
}

void glue_set_fatal_cb(struct glue *g, glue_fatal_cb cb, void *arg)
{
	g->fatal_cb = cb;
	g->fatal_arg = arg;
}

static void req_unlink(struct glue *g, struct glue_req *r)
{
	if (r->prev != NULL) {
		r->prev->next = r->next;
	} else {
		g->reqs = r->next;
	}
	if (r->next != NULL) {
		r->next->prev = r->prev;
	}
	r->prev = r->next = NULL;
	g->inflight--;
}

static bool storage_fault(int status)
{
	return status == RAFT_IOERR || status == RAFT_NOSPACE || status == RAFT_CORRUPT;
}

static void note_io_fault(struct glue *g, int status, const char *where)
{
	if (g->io_fault)
		return;
	g->io_fault = true;
	snprintf(g->io_msg, sizeof g->io_msg, "raft server %llu: %s failed: %s (%d)",
		 (unsigned long long)g->cfg.id, where, raft_strerror(status), status);
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct glue_req *r = (struct glue_req *)req;
	struct glue *g = r->g;
	const struct qsg_wbuf *results = result;
	int rc;

	req_unlink(g, r);
	if (storage_fault(status))
		note_io_fault(g, status, "log append");
	if (status == 0 && results != NULL && results->err == QSG_OK) {
		rc = QSG_OK;
	} else {
		/* Once raft_apply() has accepted the entry every failure --
		 * leadership lost, shutdown, an I/O error on the leader's
		 * append, or results that could not be built -- leaves the
		 * entry possibly committed: never report it as failed. */
		rc = QSG_RC_OUTCOME_UNKNOWN;
		results = NULL;
	}
	r->cb(r->arg, rc, results);
	free(r);
	poll_state(g);
}

int glue_submit(struct glue *g, const void *buf, size_t len, glue_apply_cb cb, void *arg)
{
	struct glue_req *r;
	struct raft_buffer b;
	int rv;

	if (cb == NULL || buf == NULL || len == 0) {
		return QSG_RC_INVALID;
	}
	if (g->closing) {
		return QSG_RC_Q_MGR_STOPPING;
	}
	if (!g->started || raft_state(&g->raft) != RAFT_LEADER || glue_ar_busy(&g->adapter)) {
		/* A leader still restoring a snapshot cannot build results:
		 * it hands leadership over (poll_state). */
		return QSG_RC_NOT_LEADER;
	}
	r = calloc(1, sizeof *r);
	if (r == NULL) {
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	/* libraft takes ownership of the entry buffer and releases it with
	 * raft_free() (log.c), so it must come from raft_malloc(). */
	if (glue_entry_wrap(buf, len, &b) != 0) {
		free(r);
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	r->g = g;
	r->cb = cb;
	r->arg = arg;
	rv = raft_apply(&g->raft, &r->req, &b, 1, apply_cb);
	if (rv != 0) {
		/* libraft 0.15 leaves the buffer with the caller on every
		 * error from raft_apply (RAFT_NOTLEADER, RAFT_NOMEM, and an
		 * I/O error from the append: established under ASan with
		 * raft_fixture_io_fault in tests/cluster/test_cluster.c, where
		 * not freeing leaked one buffer per fault and freeing never
		 * double-freed). */
		raft_free(b.base);
		free(r);
		if (storage_fault(rv))
			note_io_fault(g, rv, "raft_apply"); /* reported by the timer */
		return raft_rc(rv);
	}
	r->next = g->reqs;
	if (g->reqs != NULL) {
		g->reqs->prev = r;
	}
	g->reqs = r;
	g->inflight++;
	return QSG_OK;
}

bool glue_is_leader(struct glue *g)
{
	return g->started && !g->closing && raft_state(&g->raft) == RAFT_LEADER;
}

void glue_get_info(struct glue *g, struct glue_info *info)
{
	raft_id id = 0;
	const char *address = NULL;

	memset(info, 0, sizeof *info);
	info->role = (uint8_t)(g->closing ? GLUE_UNAVAILABLE : glue_role_of(raft_state(&g->raft)));
	info->term = g->raft.current_term;
	info->commit_index = g->raft.commit_index;
	info->applied_index = glue_ar_applied(&g->adapter, raft_last_applied(&g->raft));
	info->restores_async = g->adapter.ar.restores;
	info->restore_last_us = g->adapter.ar.last_us;
	info->restoring = glue_ar_busy(&g->adapter);
	info->restore_queued_max = g->adapter.ar.queued_max;
	info->apply_deferrals = g->adapter.deferrals;
	info->last_index = raft_last_index(&g->raft);
	if (g->started && !g->closing) {
		raft_leader(&g->raft, &id, &address);
	}
	info->leader_id = id;
	if (id != 0 && address != NULL) {
		snprintf(info->leader_address, sizeof info->leader_address, "%s", address);
	}
	info->snapshots = g->adapter.snapshots;
	info->snapshot_last_bytes = g->adapter.snapshot_last_bytes;
	info->snapshot_last_us = g->adapter.snapshot_last_us;
	info->snapshot_last_loop_us = g->adapter.snapshot_last_loop_us;
	info->snapshot_failures = g->adapter.snapshot_failures;
	{
		struct aiodefer_stats as;
		aiodefer_get_stats(&as);
		info->aio_destroy_deferred = as.deferred;
		info->aio_destroy_max_us = as.max_us;
	}
	{
		struct rheap_stats hs;
		rheap_get_stats(&hs);
		info->raft_frees_deferred = hs.deferred;
		info->raft_frees_max_queued = hs.max_queued;
		info->raft_frees_max_batch_us = hs.max_batch_us;
	}
}

size_t glue_get_config(struct glue *g, struct glue_member *out, size_t max)
{
	const struct raft_configuration *conf = &g->raft.configuration;
	size_t i, n = 0;

	for (i = 0; i < conf->n && n < max; i++) {
		const struct raft_server *s = &conf->servers[i];

		out[n].id = s->id;
		snprintf(out[n].address, sizeof out[n].address, "%s",
			 s->address != NULL ? s->address : "");
		switch (s->role) {
		case RAFT_VOTER:
			out[n].role = GLUE_VOTER;
			break;
		case RAFT_SPARE:
			out[n].role = GLUE_SPARE;
			break;
		default:
			out[n].role = GLUE_STANDBY;
			break;
		}
		n++;
	}
	return n;
}

/* ---- membership changes ---- */

static void change_finish(struct glue *g, int status, const char *text)
{
	glue_change_cb cb = g->change_cb;
	void *arg = g->change_arg;

	g->change_stage = CHANGE_NONE;
	g->change_cb = NULL;
	g->change_arg = NULL;
	if (cb != NULL) {
		cb(arg, status, text != NULL ? text : "");
	}
}

static void ctimer_cb(uv_timer_t *t)
{
	struct glue *g = t->data;
	char text[QSG_ERRMSG_SIZE];

	if (g->change_stage != CHANGE_DEFERRED) {
		return;
	}
	snprintf(text, sizeof text, "%s", g->change_text);
	change_finish(g, g->change_status, text);
}

/* Complete the change from the loop, not from inside the glue_*() call. */
static void change_defer(struct glue *g, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void change_defer(struct glue *g, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->change_text, sizeof g->change_text, fmt, ap);
	va_end(ap);
	g->change_status = status;
	g->change_stage = CHANGE_DEFERRED;
	uv_timer_start(&g->ctimer, ctimer_cb, 0, 0);
}

static const struct raft_server *config_find(struct glue *g, uint64_t id)
{
	const struct raft_configuration *conf = &g->raft.configuration;
	unsigned i;

	for (i = 0; i < conf->n; i++) {
		if (conf->servers[i].id == id) {
			return &conf->servers[i];
		}
	}
	return NULL;
}

static int change_status(struct glue *g, int status, char *text, size_t size, const char *what)
{
	int rc = raft_rc(status);

	if (status == RAFT_NOCONNECTION) {
		snprintf(text, size,
			 "%s server %llu: it did not catch up with the log in time (is it "
			 "running, started in join mode, and reachable at its Raft address?)",
			 what, (unsigned long long)g->change_id);
	} else if (rc == QSG_RC_OUTCOME_UNKNOWN) {
		snprintf(text, size,
			 "%s server %llu: leadership lost or server stopping; the change may or "
			 "may not have taken effect: check the configuration",
			 what, (unsigned long long)g->change_id);
	} else {
		snprintf(text, size, "%s server %llu: %s", what, (unsigned long long)g->change_id,
			 raft_strerror(status));
	}
	return rc;
}

static void promote_cb(struct raft_change *req, int status)
{
	struct glue *g = req->data;
	char text[QSG_ERRMSG_SIZE];
	int rc;

	if (status != 0) {
		rc = change_status(g, status, text, sizeof text, "promoting");
		change_finish(g, rc, text);
		return;
	}
	snprintf(text, sizeof text, "server %llu is a voter", (unsigned long long)g->change_id);
	change_finish(g, QSG_OK, text);
	poll_state(g);
}

static int start_promote(struct glue *g, char *text, size_t size)
{
	int rv;

	memset(&g->change, 0, sizeof g->change);
	g->change.data = g;
	rv = raft_assign(&g->raft, &g->change, g->change_id, RAFT_VOTER, promote_cb);
	if (rv != 0) {
		snprintf(text, size, "promoting server %llu to voter: %s",
			 (unsigned long long)g->change_id, raft_errmsg(&g->raft));
		return raft_rc(rv);
	}
	g->change_stage = CHANGE_PROMOTING;
	return QSG_OK;
}

static void add_cb(struct raft_change *req, int status)
{
	struct glue *g = req->data;
	char text[QSG_ERRMSG_SIZE];
	int rc;

	if (status != 0) {
		rc = change_status(g, status, text, sizeof text, "adding");
		change_finish(g, rc, text);
		return;
	}
	/* A spare now: promote it (libraft catches it up first). */
	if (g->closing) {
		snprintf(text, sizeof text,
			 "server %llu added as a spare; stopping before its promotion",
			 (unsigned long long)g->change_id);
		change_finish(g, QSG_RC_Q_MGR_STOPPING, text);
		return;
	}
	rc = start_promote(g, text, sizeof text);
	if (rc != QSG_OK) {
		change_finish(g, rc, text);
	}
}

int glue_add(struct glue *g, uint64_t id, const char *address, glue_change_cb cb, void *arg)
{
	const struct raft_server *s;
	char text[QSG_ERRMSG_SIZE];
	int rv;

	if (cb == NULL || id == 0 || address == NULL || address[0] == '\0' ||
	    strlen(address) >= sizeof(((struct glue_member *)0)->address)) {
		return QSG_RC_INVALID;
	}
	if (g->closing || !g->started) {
		return QSG_RC_Q_MGR_STOPPING;
	}
	if (raft_state(&g->raft) != RAFT_LEADER) {
		return QSG_RC_NOT_LEADER;
	}
	if (g->change_stage != CHANGE_NONE) {
		return QSG_RC_BUSY;
	}
	g->change_id = id;
	g->change_cb = cb;
	g->change_arg = arg;
	s = config_find(g, id);
	if (s != NULL) {
		if (s->address == NULL || strcmp(s->address, address) != 0) {
			g->change_cb = NULL;
			return QSG_RC_CONFIG;
		}
		if (s->role == RAFT_VOTER) {
			change_defer(g, QSG_OK, "server %llu is already a voter",
				     (unsigned long long)id);
			return QSG_OK;
		}
		/* Added earlier (a spare or a standby): promote it. */
		rv = start_promote(g, text, sizeof text);
		if (rv != QSG_OK) {
			g->change_cb = NULL;
		}
		return rv;
	}
	memset(&g->change, 0, sizeof g->change);
	g->change.data = g;
	rv = raft_add(&g->raft, &g->change, id, address, add_cb);
	if (rv != 0) {
		g->change_cb = NULL;
		return raft_rc(rv);
	}
	g->change_stage = CHANGE_ADDING;
	return QSG_OK;
}

static void remove_cb(struct raft_change *req, int status)
{
	struct glue *g = req->data;
	char text[QSG_ERRMSG_SIZE];
	int rc;

	if (status != 0) {
		rc = change_status(g, status, text, sizeof text, "removing");
		change_finish(g, rc, text);
		return;
	}
	snprintf(text, sizeof text, "server %llu removed", (unsigned long long)g->change_id);
	change_finish(g, QSG_OK, text);
	poll_state(g);
}

int glue_remove(struct glue *g, uint64_t id, glue_change_cb cb, void *arg)
{
	int rv;

	if (cb == NULL || id == 0) {
		return QSG_RC_INVALID;
	}
	if (g->closing || !g->started) {
		return QSG_RC_Q_MGR_STOPPING;
	}
	if (raft_state(&g->raft) != RAFT_LEADER) {
		return QSG_RC_NOT_LEADER;
	}
	if (g->change_stage != CHANGE_NONE) {
		return QSG_RC_BUSY;
	}
	if (config_find(g, id) == NULL) {
		return QSG_RC_INVALID;
	}
	g->change_id = id;
	g->change_cb = cb;
	g->change_arg = arg;
	memset(&g->change, 0, sizeof g->change);
	g->change.data = g;
	rv = raft_remove(&g->raft, &g->change, id, remove_cb);
	if (rv != 0) {
		g->change_cb = NULL;
		return raft_rc(rv);
	}
	g->change_stage = CHANGE_REMOVING;
	return QSG_OK;
}

static void transfer_cb(struct raft_transfer *req)
{
	struct glue *g = req->data;

	g->transferring = false;
}

int glue_transfer(struct glue *g, uint64_t to, char *errmsg)
{
	int rv;

	if (g->closing || !g->started) {
		return qsg_errf(errmsg, QSG_RC_Q_MGR_STOPPING, "raft server not running");
	}
	if (raft_state(&g->raft) != RAFT_LEADER) {
		return qsg_errf(errmsg, QSG_RC_NOT_LEADER, "not the leader");
	}
	if (g->transferring) {
		return qsg_errf(errmsg, QSG_RC_BUSY, "a leadership transfer is in progress");
	}
	memset(&g->transfer, 0, sizeof g->transfer);
	g->transfer.data = g;
	rv = raft_transfer(&g->raft, &g->transfer, to, transfer_cb);
	if (rv != 0) {
		return qsg_errf(errmsg, rv == RAFT_BADID ? QSG_RC_INVALID : raft_rc(rv),
				"leadership transfer to %llu: %s", (unsigned long long)to,
				raft_errmsg(&g->raft));
	}
	g->transferring = true;
	return QSG_OK;
}

static void close_finish(struct glue *g)
{
	void (*cb)(void *arg) = g->close_cb;
	void *arg = g->close_arg;

	if (!g->raft_closed || !g->timer_closed || !g->ctimer_closed || g->ar_pending) {
		return;
	}
	/* A change libraft did not complete, or a deferred completion. */
	if (g->change_stage == CHANGE_DEFERRED) {
		char text[QSG_ERRMSG_SIZE];

		snprintf(text, sizeof text, "%s", g->change_text);
		change_finish(g, g->change_status, text);
	} else if (g->change_stage != CHANGE_NONE) {
		change_finish(g, QSG_RC_OUTCOME_UNKNOWN,
			      "server stopped while the configuration change was in flight");
	}
	/* Anything libraft did not complete (it should have failed every
	 * outstanding request while shutting down) is completed here. */
	while (g->reqs != NULL) {
		struct glue_req *r = g->reqs;

		req_unlink(g, r);
		r->cb(r->arg, QSG_RC_OUTCOME_UNKNOWN, NULL);
		free(r);
	}
	glue_adapter_teardown(&g->adapter);
	free(g->dir);
	free(g);
	if (cb != NULL) {
		cb(arg);
	}
}

static void ar_idle_cb(void *arg)
{
	struct glue *g = arg;

	g->ar_pending = false;
	close_finish(g);
}

static void timer_close_cb(uv_handle_t *h)
{
	struct glue *g = h->data;

	g->timer_closed = true;
	close_finish(g);
}

static void ctimer_close_cb(uv_handle_t *h)
{
	struct glue *g = h->data;

	g->ctimer_closed = true;
	close_finish(g);
}

static void glue_raft_closed(struct raft *raft)
{
	struct glue *g = raft->data;

	/* raft_close() closed the raft_io; release the backend memory. */
	raft_uv_close(&g->io);
	transport_free(g);
	g->raft_closed = true;
	/* The restore's pool work holds the adapter: wait for it. */
	g->ar_pending = glue_ar_close(&g->adapter);
	uv_close((uv_handle_t *)&g->timer, timer_close_cb);
	uv_close((uv_handle_t *)&g->ctimer, ctimer_close_cb);
}

static void close_timer_cb(uv_timer_t *t)
{
	struct glue *g = t->data;

	uv_timer_stop(&g->timer);
	/* libraft 0.15 crashes (NULL dereference under raft_close) when it
	 * is closed while log appends are still being written. New
	 * submissions are refused once closing, so wait -- boundedly -- for
	 * the writes in flight to finish. */
	if (g->started && raft_state(&g->raft) != RAFT_UNAVAILABLE &&
	    g->raft.last_stored < raft_last_index(&g->raft) &&
	    g->close_polls < GLUE_CLOSE_MAX_POLLS) {
		g->close_polls++;
		uv_timer_start(&g->timer, close_timer_cb, 1, 0);
		return;
	}
	raft_close(&g->raft, glue_raft_closed);
}

void glue_close(struct glue *g, void (*cb)(void *arg), void *arg)
{
	if (g->closing) {
		return;
	}
	g->closing = true;
	g->close_cb = cb;
	g->close_arg = arg;
	/* A snapshot child still encoding is killed: raft_close waits for
	 * the pool work, which then fails at once. */
	glue_adapter_abort(&g->adapter);
	uv_timer_stop(&g->timer);
	uv_timer_stop(&g->ctimer);
	uv_timer_start(&g->timer, close_timer_cb, 0, 0);
}
