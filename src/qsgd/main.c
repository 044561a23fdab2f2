/* qsgd: one member of a queue-sharing group. Wires the modules together,
 * owns the data directory lock, the signals and the exit codes:
 *   0 clean stop, 1 configuration error, 2 data directory locked,
 *   70 fatal Raft error (fail-stop; a supervisor restarts the member). */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "hugepages.h"
#include "batcher.h"
#include "chan/chinit.h"
#include "lifecycle.h"
#include "catchup.h"
#include "config.h"
#include "daemon.h"
#include "forward.h"
#include "httpd.h"
#include "gw/stompgw.h"
#include "amqp/amqpgw.h"
#include "lease.h"
#include "log.h"
#include "looplag.h"
#include "metrics.h"
#include "msgstore.h"
#include "snapdelta.h"
#include "net.h"
#include "raft-glue/glue.h"
#include "reaper.h"
#include "sdnotify.h"
#include "server.h"
#include "tlsstream.h"

#define EXIT_CONFIG 1
#define EXIT_LOCKED 2
#define EXIT_RAFT_FATAL 70

#define READY_POLL_MS 100 /* poll lease_fenced() until the member is active */

struct member {
	struct qsgd core;
	struct qsgd_config cfg;
	struct qlog log;
	uv_loop_t loop;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	uv_signal_t sigusr2; /* fault injection (QSG_TEST_FAULTS) */
	bool fault_chinit; /* QSG_TEST_FAULTS names "chinit" */
	int lock_fd;
	bool stopping;
	/* observability */
	struct qsgd_stats stats;
	struct looplag looplag; /* loop-stall monitor (issue 10) */
	struct msgstore store; /* message bodies (issue 10) */
	struct snapdelta sd_delta; /* delta snapshots and base files */
	struct reaper reaper; /* frees what CLEAR/DELETE PURGE left (issue 10) */
	struct catchup *catchup; /* fetch of missing bodies from peers */
	struct tlsstream_cfg tls; /* [tls]; m->core.tls points here when set */
	struct httpd *httpd; /* NULL: no [http] address */
	struct stompgw *stomp; /* NULL: no [stomp] address (src/gw/stompgw.h) */
	struct amqpgw *amqp; /* NULL: no [amqp] address (src/amqp/amqpgw.h) */
	struct sdnotify sd;
	uv_timer_t ready_timer; /* until READY=1 */
	uv_timer_t watchdog_timer; /* WATCHDOG=1 every WATCHDOG_USEC/2 */
	bool timers_inited;
	bool ready_sent;
};

static const char *role_name(int role)
{
	switch (role) {
	case GLUE_FOLLOWER:
		return "follower";
	case GLUE_CANDIDATE:
		return "candidate";
	case GLUE_LEADER:
		return "leader";
	default:
		return "unavailable";
	}
}

/* ---- state machine adapter ---- */

static void on_fatal(void *arg, const char *msg);

static int sm_apply(void *data, const void *buf, size_t len, struct qsg_wbuf *results)
{
	struct member *m = data;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	uint64_t t0 = uv_hrtime();
	int rc = fsm_apply(m->core.fsm, buf, len, results, errmsg);
	looplag_charge(&m->looplag, LOOPLAG_APPLY, uv_hrtime() - t0);
	if (rc == QSG_RC_BAD_FRAME || rc == QSG_RC_BAD_VERSION) {
		/* Rejected as a whole, state unchanged, the same on every
		 * replica: not fatal. The submitter sees no results. */
		QLOG_ERR(&m->log, "QSG0010E", "log entry rejected: %s", errmsg);
		if (results != NULL)
			qsg_wbuf_reset(results);
		return 0;
	}
	if (rc == QSG_RC_IO) {
		/* The message store failed (disk, checksum, or a body this
		 * member does not hold yet): the replicas would differ.
		 * Fail-stop; the restart replays the log (docs/storage.md). */
		char why[2 * QSG_ERRMSG_SIZE + 64];
		snprintf(why, sizeof why, "message store: %s (%s)", errmsg, m->store.bs.errmsg);
		on_fatal(m, why);
	}
	if (rc == QSG_RC_STORAGE_NOT_AVAILABLE) {
		/* Out of memory inside apply: this replica may differ from the
		 * others from now on. Fail-stop; the restart replays the log. */
		on_fatal(m, "state machine out of memory while applying an entry");
	}
	if (rc != QSG_OK)
		QLOG_ERR(&m->log, "QSG0011E", "state machine apply failed: %s (%s)",
			 qsg_rc_name(rc), errmsg);
	return rc;
}

static int sm_snapshot(void *data, struct qsg_wbuf *out)
{
	struct member *m = data;
	/* In FORK mode: the child (pure: snapdelta_snapshot does no I/O). */
	return snapdelta_snapshot(&m->sd_delta, m->core.fsm, out);
}

static int sm_restore(void *data, const void *buf, size_t len)
{
	struct member *m = data;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	/* At startup (libraft's raft_start): a delta restores with the base
	 * file it names, which this member wrote. */
	struct fsm_image *img = NULL, *old = NULL;
	struct fsm_baseref want;
	int rc = snapdelta_decode(m->cfg.dir, buf, len, &img, &want, errmsg);
	if (rc == QSG_OK && (rc = fsm_restore_install(m->core.fsm, img, &old, errmsg)) == QSG_OK) {
		fsm_image_free(old);
		fsm_restore_claims(m->core.fsm, SIZE_MAX);
	}
	if (rc != QSG_OK)
		QLOG_ERR(&m->log, "QSG0012E", "snapshot restore failed: %s", errmsg);
	else if (len > 0 && ((const uint8_t *)buf)[0] == FSM_SNAPSHOT_DELTA)
		QLOG_INFO_(&m->log, "QSG0012I",
			   "state restored from a delta snapshot of %zu bytes and its base file",
			   len);
	else
		QLOG_INFO_(&m->log, "QSG0012I", "state restored from a snapshot of %zu bytes", len);
	if (rc == QSG_OK && m->catchup != NULL)
		catchup_kick(m->catchup); /* bodies the snapshot named and this member lacks */
	return rc;
}

/* Restore off the loop (raft-glue/arestore.c): decode in the pool, then
 * the swap and the store's claims in slices on the loop. */
static void *sm_restore_decode(void *data, const void *buf, size_t len, int *rc, char *errmsg)
{
	struct member *m = data;
	struct fsm_image *img = NULL;
	/* Pool thread: the live state is not touched; a delta's base file is
	 * read here. */
	struct fsm_baseref want;
	*rc = snapdelta_decode(m->cfg.dir, buf, len, &img, &want, errmsg);
	if (*rc == QSG_RC_UNKNOWN_OBJECT && m->catchup != NULL) {
		/* A delta whose base this member lacks: fetched from a peer
		 * (catchup.c); the glue asks again (QSG_RC_BUSY). */
		catchup_want_base(m->catchup, &want);
		*rc = QSG_RC_BUSY;
	}
	return img;
}

static int sm_restore_install(void *data, void *image, void **old, char *errmsg)
{
	struct member *m = data;
	struct fsm_image *o = NULL;
	int rc = fsm_restore_install(m->core.fsm, image, &o, errmsg);
	*old = o;
	if (rc != QSG_OK)
		QLOG_ERR(&m->log, "QSG0012E", "snapshot restore failed: %s", errmsg);
	return rc;
}

#define SM_RESTORE_CLAIMS 4096 /* claims per step: well under a millisecond */

static bool sm_restore_step(void *data)
{
	struct member *m = data;
	if (!fsm_restore_claims(m->core.fsm, SM_RESTORE_CLAIMS))
		return false;
	QLOG_INFO_(&m->log, "QSG0012I", "state restored from a snapshot (off the loop)");
	if (m->catchup != NULL)
		catchup_kick(m->catchup); /* bodies the snapshot named and this member lacks */
	return true;
}

static void sm_restore_discard(void *data, void *image)
{
	(void)data; /* any thread */
	fsm_image_free(image);
}

static void sm_applying(void *data, uint64_t index)
{
	struct member *m = data;
	msgstore_applying(&m->store, index);
}

static void *sm_snap_prepare(void *data, uint64_t index)
{
	struct member *m = data;
	struct glue_info gi;
	/* Called on the loop right after the capture (the fork): charge it. */
	glue_get_info(m->core.glue, &gi);
	looplag_charge(&m->looplag, LOOPLAG_SNAPSHOT, gi.snapshot_last_loop_us * 1000u);
	snapdelta_prepare(&m->sd_delta, m->core.fsm, index);
	return msgstore_snap_prepare(&m->store, index);
}

static void sm_snap_done(void *data, void *job, uint64_t index, bool ok)
{
	struct member *m = data;
	msgstore_snap_done(&m->store, job, index, ok);
	bool rebase = m->sd_delta.rebase;
	snapdelta_done(&m->sd_delta, m->core.fsm, ok);
	if (rebase && (!ok || m->sd_delta.rc != QSG_OK))
		QLOG_WARNING(&m->log, "QSG0038W", "snapshot at index %llu: no new base: %s",
			     (unsigned long long)index,
			     m->sd_delta.errmsg[0] ? m->sd_delta.errmsg : "the snapshot failed");
}

static int sm_snap_payload(void *data, const void *buf, size_t len)
{
	struct member *m = data;
	return snapdelta_payload(&m->sd_delta, buf, len);
}

/* ---- glue callbacks ---- */

static void on_role(void *arg, int old_role, int new_role)
{
	struct member *m = arg;
	struct qsgd *d = &m->core;
	if (m->stopping)
		return;
	QLOG_INFO_(&m->log, "QSG0003I", "Raft role %s -> %s", role_name(old_role),
		   role_name(new_role));
	lease_on_role(d->lease, old_role, new_role);
	batcher_on_role(d->batcher, new_role);
	forward_check_leader(d->forward);
	if (new_role == GLUE_LEADER)
		qsgd_hold_retry(d);
}

static void on_fatal(void *arg, const char *msg)
{
	struct member *m = arg;
	QLOG_ERR(&m->log, "QSG0099E", "fatal Raft error, stopping at once: %s", msg);
	fflush(stderr);
	_exit(EXIT_RAFT_FATAL);
}

/* TLS on Raft (docs/security.md): the member name a Raft id's certificate
 * must carry. The static member list first, then the replicated member
 * records (members added online). */
static bool raft_member_name(void *arg, uint64_t id, char *name, size_t size)
{
	struct member *m = arg;
	if (id == 0 || id > UINT32_MAX)
		return false;
	const struct qsgd_member_cfg *mc = qsgd_config_member(&m->cfg, (uint32_t)id);
	if (mc != NULL) {
		snprintf(name, size, "%s", mc->name);
		return true;
	}
	struct fsm_member fm;
	if (m->core.fsm != NULL && fsm_member_get(m->core.fsm, (uint32_t)id, &fm) == QSG_OK) {
		snprintf(name, size, "%s", fm.name);
		return true;
	}
	return false;
}

static void raft_tls_refused(void *arg, const char *text)
{
	struct member *m = arg;
	QLOG_WARNING(&m->log, "QSG8004W", "%s", text);
}

static void raft_tls_revoked(void *arg, const char *text)
{
	struct member *m = arg;
	QLOG_WARNING(&m->log, "QSG8019W", "%s", text);
}

/* ---- shutdown ---- */

static void glue_closed(void *arg)
{
	struct member *m = arg;
	qsgd_core_close(&m->core);
	looplag_close(&m->looplag);
	reaper_close(&m->reaper);
	msgstore_stop(&m->store);
	if (m->timers_inited) {
		uv_close((uv_handle_t *)&m->ready_timer, NULL);
		uv_close((uv_handle_t *)&m->watchdog_timer, NULL);
	}
	uv_close((uv_handle_t *)&m->sigterm, NULL);
	uv_close((uv_handle_t *)&m->sigint, NULL);
	uv_close((uv_handle_t *)&m->sigusr2, NULL);
}

static void stop(struct member *m, const char *why)
{
	struct qsgd *d = &m->core;
	if (m->stopping)
		return;
	m->stopping = true;
	d->stopping = true;
	QLOG_INFO_(&m->log, "QSG0002I", "qsgd %s stopping (%s)", m->cfg.name, why);
	char note[160];
	snprintf(note, sizeof note, "STOPPING=1\nSTATUS=stopping (%s)", why);
	sdnotify_send(&m->sd, note);
	uv_signal_stop(&m->sigterm);
	uv_signal_stop(&m->sigint);
	uv_signal_stop(&m->sigusr2);
	if (m->timers_inited) {
		uv_timer_stop(&m->ready_timer);
		/* the watchdog keeps running until the loop ends: a stop that
		 * hangs is then caught by systemd */
	}
	httpd_close(m->httpd);
	m->httpd = NULL;
	stompgw_close(m->stomp); /* before the server: its sessions are detached */
	m->stomp = NULL;
	amqpgw_close(m->amqp); /* likewise */
	m->amqp = NULL;
	lifecycle_close(d->lifecycle);
	lease_close(d->lease);
	chinit_close(d->chinit);
	server_close(d->server);
	forward_close(d->forward);
	if (m->catchup != NULL)
		catchup_close(m->catchup);
	m->catchup = NULL;
	batcher_close(d->batcher);
	glue_close(d->glue, glue_closed, m);
}

/* A leader whose commits are stuck (lease.c). */
static void fatal_stop(struct qsgd *d, const char *why)
{
	on_fatal((struct member *)d, why); /* core is the first field */
}

/* STOP QMGR (lifecycle.c): the same controlled stop as SIGTERM. */
static void request_stop(struct qsgd *d, const char *why)
{
	stop((struct member *)d, why); /* core is the first field of struct member */
}

static void on_signal(uv_signal_t *h, int signum)
{
	stop(h->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* SIGUSR2: fault injection for tests (docs/channels.md, "Channel initiator
 * failure"). Only with QSG_TEST_FAULTS=chinit in the daemon's environment;
 * otherwise the signal is logged and ignored (never the default action,
 * which would end the daemon). */
static void on_sigusr2(uv_signal_t *h, int signum)
{
	struct member *m = h->data;
	char errmsg[QSG_ERRMSG_SIZE];
	(void)signum;
	if (!m->fault_chinit) {
		QLOG_WARNING(&m->log, "QSG5027W",
			     "SIGUSR2 ignored: fault injection is not enabled (QSG_TEST_FAULTS)");
		return;
	}
	if (m->core.chinit != NULL && chinit_inject_fault(m->core.chinit, errmsg) != QSG_OK)
		QLOG_WARNING(&m->log, "QSG5027W", "fault injection: %s", errmsg);
}

/* ---- HTTP: /metrics, /healthz, /readyz ---- */

static void http_handler(void *arg, const char *path, struct httpd_response *r)
{
	struct member *m = arg;
	struct qsgd *d = &m->core;
	struct glue_info gi;
	char reason[128];

	if (strcmp(path, "/healthz") == 0) {
		/* answered from the loop thread: the loop runs */
		qsg_put_bytes(&r->body, "ok\n", 3);
		return;
	}
	if (m->stopping || d->glue == NULL) {
		r->status = 503;
		qsg_put_bytes(&r->body, "stopping\n", 9);
		return;
	}
	glue_get_info(d->glue, &gi);
	if (strcmp(path, "/metrics") == 0) {
		struct looplag_stats ls;
		looplag_read(&m->looplag, &ls, true); /* a scrape ends the window */
		struct msgstore_stats ss;
		msgstore_get_stats(&m->store, &ss, true);
		struct metrics_store ms = {
		    .segments = ss.b.st.segments,
		    .disk_bytes = ss.b.st.disk_bytes,
		    .live_bytes = ss.b.st.live_bytes,
		    .dead_bytes = ss.b.st.dead_bytes,
		    .messages = ss.b.messages,
		    .missing = ss.b.missing,
		    .cache_bytes = ss.b.st.cache_bytes,
		    .cache_hits = ss.b.st.cache_hits,
		    .cache_misses = ss.b.st.cache_misses,
		    .appended_bytes = ss.b.st.appended_bytes,
		    .compacted_bytes = ss.b.st.compacted_bytes,
		    .reclaimed_bytes = ss.b.st.reclaimed_bytes,
		    .faults = ss.b.st.faults,
		    .syncs = ss.syncs,
		    .sync_failures = ss.sync_failures,
		    .slice_max_us = ss.slice_max_us,
		    .index_loaded = ss.b.st.index_loaded,
		    .index_scanned = ss.b.st.index_scanned,
		    .index_written = ss.b.st.index_written,
		    .index_failed = ss.b.st.index_failed,
		};
		if (m->catchup != NULL) {
			struct catchup_stats cs;
			catchup_stats(m->catchup, &cs);
			ms.fetched = cs.fetched;
			ms.fetched_bytes = cs.bytes;
		}
		struct metrics_reaper rp = {
		    .pending = fsm_reap_pending(d->fsm),
		    .freed = m->reaper.st.freed,
		    .slices = m->reaper.st.slices,
		    .slice_max_ns = m->reaper.st.slice_max_ns,
		};
		struct chinit_info ciinfo;
		chinit_info(d->chinit, &ciinfo);
		struct metrics_input in = {
		    .chinit_status = chcore_chinit_status_name(ciinfo.status),
		    .chinit_failures = ciinfo.failures,
		    .fsm = d->fsm,
		    .raft = &gi,
		    .member_id = m->cfg.id,
		    .fenced = lease_fenced(d->lease),
		    .connections = server_connections(d->server),
		    .stats = &m->stats,
		    .loop = &ls,
		    .store = &ms,
		    .reaper = &rp,
		    .snapshot_rebases = m->sd_delta.rebases,
		    .snapshot_deltas = m->sd_delta.deltas,
		    .snapshot_base_index = m->sd_delta.have ? m->sd_delta.base.index : 0,
		};
		r->content_type = "text/plain; version=0.0.4; charset=utf-8";
		if (metrics_render(&in, &r->body) != QSG_OK)
			r->status = 500;
		return;
	}
	if (strcmp(path, "/readyz") == 0) {
		bool ok = metrics_ready(&gi, lease_fenced(d->lease), reason, sizeof reason);
		r->status = ok ? 200 : 503;
		qsg_put_bytes(&r->body, reason, strlen(reason));
		qsg_put_bytes(&r->body, "\n", 1);
		return;
	}
	r->status = 404;
	const char *nf = "not found: /metrics, /healthz, /readyz\n";
	qsg_put_bytes(&r->body, nf, strlen(nf));
}

/* ---- systemd notification ---- */

static void ready_tick(uv_timer_t *t)
{
	struct member *m = t->data;
	char note[256];
	if (m->stopping || m->ready_sent || lease_fenced(m->core.lease))
		return;
	m->ready_sent = true;
	uv_timer_stop(t);
	snprintf(note, sizeof note, "READY=1\nSTATUS=member %s of group %s active", m->cfg.name,
		 m->cfg.group);
	sdnotify_send(&m->sd, note);
	if (sdnotify_enabled(&m->sd))
		QLOG_INFO_(&m->log, "QSG6003I", "service manager notified: ready");
}

static void watchdog_tick(uv_timer_t *t)
{
	struct member *m = t->data;
	sdnotify_send(&m->sd, "WATCHDOG=1");
}

static void start_notify(struct member *m)
{
	uv_timer_init(&m->loop, &m->ready_timer);
	uv_timer_init(&m->loop, &m->watchdog_timer);
	m->ready_timer.data = m->watchdog_timer.data = m;
	m->timers_inited = true;
	if (!sdnotify_enabled(&m->sd))
		return;
	sdnotify_send(&m->sd, "STATUS=waiting for the first lease renewal");
	uv_timer_start(&m->ready_timer, ready_tick, READY_POLL_MS, READY_POLL_MS);
	if (m->sd.watchdog_usec > 0) {
		uint64_t ms = m->sd.watchdog_usec / 2000;
		if (ms == 0)
			ms = 1;
		uv_timer_start(&m->watchdog_timer, watchdog_tick, ms, ms);
	}
}

/* ---- startup ---- */

static int prepare_dir(struct member *m)
{
	const char *dir = m->cfg.dir;
	char path[QSGD_PATH_MAX + 16];
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, "qsgd: cannot create data directory %s: %s\n", dir,
			strerror(errno));
		return EXIT_CONFIG;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "qsgd: %s is not a directory\n", dir);
		return EXIT_CONFIG;
	}
	snprintf(path, sizeof path, "%s/qsgd.lock", dir);
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (m->lock_fd < 0) {
		fprintf(stderr, "qsgd: cannot open %s: %s\n", path, strerror(errno));
		return EXIT_CONFIG;
	}
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr,
			"qsgd: data directory %s is locked: another qsgd is using it (%s)\n", dir,
			strerror(errno));
		close(m->lock_fd);
		m->lock_fd = -1;
		return EXIT_LOCKED;
	}
	return 0;
}

static int check_addresses(const struct qsgd_config *cfg)
{
	struct sockaddr_storage sa;
	for (unsigned i = 0; i < cfg->n_members; i++) {
		if (net_resolve(cfg->members[i].listen, &sa) != QSG_OK) {
			fprintf(stderr,
				"qsgd: config: member %s: listen address %s: host must be a "
				"numeric IP address or localhost\n",
				cfg->members[i].name, cfg->members[i].listen);
			return EXIT_CONFIG;
		}
	}
	return 0;
}

static int run(struct member *m)
{
	struct qsgd *d = &m->core;
	const struct qsgd_config *cfg = &m->cfg;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	struct glue_config gc;
	int rc;

	qsgd_core_init(d, &m->loop, cfg, &m->log);
	d->ops = &qsgd_live_ops;
	qsgd_stats_init(&m->stats);
	d->stats = &m->stats;
	if ((rc = fsm_init(&d->fsm, errmsg)) != QSG_OK) {
		QLOG_ERR(&m->log, "QSG0020E", "state machine: %s", errmsg);
		return EXIT_CONFIG;
	}
	snapdelta_init(&m->sd_delta, m->cfg.dir, cfg->snapshot_delta);
	if ((rc = msgstore_init(&m->store, &m->loop, &m->log, cfg, errmsg)) != QSG_OK) {
		QLOG_ERR(&m->log, "QSG7004E", "message store: %s", errmsg);
		fsm_close(d->fsm);
		return EXIT_RAFT_FATAL;
	}
	struct fsm_bodies bodies;
	msgstore_bodies(&m->store, &bodies);
	fsm_set_bodies(d->fsm, &bodies);
	d->bodies = &m->store.bs;
	d->looplag = &m->looplag;
	m->store.looplag = &m->looplag;
	memset(&gc, 0, sizeof gc);
	gc.id = cfg->id;
	gc.address = cfg->raft;
	gc.dir = cfg->dir;
	gc.n_servers = cfg->n_members;
	for (unsigned i = 0; i < cfg->n_members; i++) {
		gc.servers[i].id = cfg->members[i].id;
		size_t n = strlen(cfg->members[i].raft);
		if (n >= sizeof gc.servers[i].address) {
			QLOG_ERR(&m->log, "QSG0025E", "member %s: Raft address too long",
				 cfg->members[i].name);
			fsm_close(d->fsm);
			return EXIT_CONFIG;
		}
		memcpy(gc.servers[i].address, cfg->members[i].raft, n + 1);
	}
	gc.election_timeout_ms = cfg->election_timeout_ms;
	gc.append_timeout_ms = cfg->append_timeout_ms;
	gc.apply_budget_ms = cfg->apply_budget_ms;
	gc.heartbeat_ms = cfg->heartbeat_ms;
	gc.snapshot_threshold = cfg->snapshot_threshold;
	gc.snapshot_trailing = cfg->snapshot_trailing;
	gc.snapshot_compress = true;
	gc.snapshot_mode =
	    cfg->snapshot_mode == QSGD_SNAPSHOT_INLINE ? GLUE_SNAPSHOT_INLINE : GLUE_SNAPSHOT_FORK;
	gc.join = cfg->join != 0;
	struct glue_tls gtls = {.key_file = cfg->tls_key,
				.cert_file = cfg->tls_cert,
				.ca_file = cfg->tls_ca,
				.crl_file = cfg->tls_crl[0] != '\0' ? cfg->tls_crl : NULL,
				.crl_check = cfg->tls_crl_check,
				.handshake_ms = cfg->tls_handshake_ms,
				.member_name = raft_member_name,
				.refused = raft_tls_refused,
				.revoked = raft_tls_revoked,
				.arg = m};
	if (cfg->tls_enabled && cfg->tls_raft)
		gc.tls = &gtls;
	struct glue_sm sm = {.data = m,
			     .apply = sm_apply,
			     .snapshot = sm_snapshot,
			     .restore = sm_restore,
			     .restore_decode = sm_restore_decode,
			     .restore_install = sm_restore_install,
			     .restore_step = sm_restore_step,
			     .restore_discard = sm_restore_discard,
			     .applying = sm_applying,
			     .snap_prepare = sm_snap_prepare,
			     .snap_sync = msgstore_snap_sync,
			     .snap_done = sm_snap_done,
			     .snap_payload = sm_snap_payload};

	if (cfg->tls_enabled) {
		if ((rc = tlsstream_cfg_init(&m->tls, cfg, &m->log, errmsg)) != QSG_OK) {
			QLOG_ERR(&m->log, "QSG8000E", "%s", errmsg);
			fsm_close(d->fsm);
			msgstore_close(&m->store);
			return EXIT_CONFIG;
		}
		d->tls = &m->tls;
		char crl[QSGD_PATH_MAX + 96] = "";
		if (cfg->tls_crl[0] != '\0')
			snprintf(crl, sizeof crl, "; revocation: %u CRL(s) from %s, checked for %s",
				 m->tls.server.n_crls, cfg->tls_crl,
				 cfg->tls_crl_check == QSGD_TLS_CRL_CHAIN
				     ? "the whole chain"
				     : "the peer's certificate");
		QLOG_INFO_(&m->log, "QSG8003I",
			   "TLS on the client listener (mode %s, verify %s), to other members and "
			   "%s%s",
			   cfg->tls_mode == QSGD_TLS_MODE_OPTIONAL ? "optional" : "required",
			   cfg->tls_verify == QSGD_TLS_VERIFY_NONE	 ? "none"
			   : cfg->tls_verify == QSGD_TLS_VERIFY_OPTIONAL ? "optional"
									 : "required",
			   cfg->tls_raft ? "on Raft (mutual, member names checked)"
					 : "NOT on Raft ([tls] raft = no: Raft is plaintext)",
			   crl);
	}
	if ((rc = glue_init(&d->glue, &m->loop, &gc, &sm, errmsg)) != QSG_OK) {
		QLOG_ERR(&m->log, "QSG0021E", "Raft: %s", errmsg);
		fsm_close(d->fsm);
		msgstore_close(&m->store);
		return rc == QSG_RC_CONFIG ? EXIT_CONFIG : EXIT_RAFT_FATAL;
	}
	d->request_stop = request_stop;
	d->fatal = fatal_stop;
	glue_set_role_cb(d->glue, on_role, m);
	glue_set_fatal_cb(d->glue, on_fatal, m);
	if (server_init(&d->server, d, errmsg) != QSG_OK ||
	    batcher_init(&d->batcher, d, errmsg) != QSG_OK ||
	    forward_init(&d->forward, d, errmsg) != QSG_OK ||
	    catchup_init(&m->catchup, d, errmsg) != QSG_OK ||
	    lease_init(&d->lease, d, errmsg) != QSG_OK ||
	    chinit_init(&d->chinit, d, errmsg) != QSG_OK ||
	    lifecycle_init(&d->lifecycle, d, errmsg) != QSG_OK) {
		QLOG_ERR(&m->log, "QSG0022E", "%s", errmsg);
		_exit(EXIT_RAFT_FATAL); /* out of memory at startup */
	}
	uv_signal_init(&m->loop, &m->sigterm);
	uv_signal_init(&m->loop, &m->sigint);
	m->sigterm.data = m->sigint.data = m;
	uv_signal_start(&m->sigterm, on_signal, SIGTERM);
	uv_signal_start(&m->sigint, on_signal, SIGINT);
	/* Tests: report another command level, as a member of an older build
	 * would (docs/lifecycle.md, "Command levels"). */
	const char *level = getenv("QSG_TEST_CMDLEVEL");
	if (level != NULL && atoi(level) >= FSM_CMDLEVEL_MIN && atoi(level) <= FSM_CMDLEVEL) {
		m->core.cmdlevel = (unsigned)atoi(level);
		QLOG_WARNING(&m->log, "QSG4018W",
			     "test: reporting command level %u (QSG_TEST_CMDLEVEL)",
			     m->core.cmdlevel);
	}
	const char *faults = getenv("QSG_TEST_FAULTS");
	m->fault_chinit = faults != NULL && strstr(faults, "chinit") != NULL;
	uv_signal_init(&m->loop, &m->sigusr2);
	m->sigusr2.data = m;
	uv_signal_start(&m->sigusr2, on_sigusr2, SIGUSR2);
	if (m->fault_chinit)
		QLOG_WARNING(&m->log, "QSG5028W",
			     "fault injection enabled (QSG_TEST_FAULTS): SIGUSR2 fails the channel "
			     "initiator");
	if (looplag_init(&m->looplag, &m->loop, &m->log, cfg->loop_warn_ms, errmsg) != QSG_OK)
		QLOG_WARNING(&m->log, "QSG4008W", "%s: loop stalls are not measured", errmsg);

	int exit_code = 0;
	if ((rc = glue_start(d->glue, errmsg)) != QSG_OK) {
		QLOG_ERR(&m->log, "QSG0023E", "Raft start: %s", errmsg);
		exit_code = rc == QSG_RC_CONFIG ? EXIT_CONFIG : EXIT_RAFT_FATAL;
		stop(m, "Raft start failed");
	} else if ((rc = server_listen(d->server, errmsg)) != QSG_OK) {
		QLOG_ERR(&m->log, "QSG0024E", "%s", errmsg);
		exit_code = EXIT_CONFIG;
		stop(m, "listener failed");
	} else if (cfg->http[0] != '\0' && (rc = httpd_init(&m->httpd, &m->loop, cfg->http,
							    http_handler, m, errmsg)) != QSG_OK) {
		QLOG_ERR(&m->log, "QSG6002E", "%s", errmsg);
		exit_code = EXIT_CONFIG;
		stop(m, "HTTP listener failed");
	} else if (cfg->stomp[0] != '\0' && (rc = stompgw_init(&m->stomp, d, errmsg)) != QSG_OK) {
		QLOG_ERR(&m->log, "QSG9104E", "%s", errmsg);
		exit_code = EXIT_CONFIG;
		stop(m, "STOMP listener failed");
	} else if (cfg->amqp[0] != '\0' && (rc = amqpgw_init(&m->amqp, d, errmsg)) != QSG_OK) {
		QLOG_ERR(&m->log, "QSG9204E", "%s", errmsg);
		exit_code = EXIT_CONFIG;
		stop(m, "AMQP listener failed");
	} else {
		if (m->httpd != NULL)
			QLOG_INFO_(&m->log, "QSG6001I",
				   "HTTP listener on %s: /metrics, /healthz, /readyz", cfg->http);
		QLOG_INFO_(&m->log, "QSG0001I",
			   "qsgd %s started: group %s, member id %u, %u member(s), raft %s, "
			   "listening on %s, data in %s",
			   cfg->name, cfg->group, cfg->id, cfg->n_members, cfg->raft, cfg->listen,
			   cfg->dir);
		lease_start(d->lease);
		msgstore_start(&m->store, on_fatal, m);
		if (reaper_init(&m->reaper, &m->loop, d->fsm, 0, errmsg) != QSG_OK)
			QLOG_WARNING(&m->log, "QSG0040W", "%s: cleared messages are freed at stop",
				     errmsg);
		else
			m->reaper.lag = &m->looplag;
		chinit_begin(d->chinit, cfg->chinit_autostart != 0);
		start_notify(m);
	}
	uv_run(&m->loop, UV_RUN_DEFAULT);
	fsm_close(d->fsm);
	msgstore_close(&m->store);
	if (exit_code == 0)
		QLOG_INFO_(&m->log, "QSG0004I", "qsgd %s stopped", cfg->name);
	return exit_code;
}

int main(int argc, char **argv)
{
	static struct member m; /* too big for the stack; not shared */
	char errmsg[QSG_ERRMSG_SIZE] = "";
	enum hugepages_state huge = hugepages_reexec(argv);

	int rc = qsgd_config_load(&m.cfg, argc, argv, errmsg);
	if (rc == QSG_RC_INVALID && strcmp(errmsg, "help") == 0) {
		qsgd_usage(stdout);
		return 0;
	}
	if (rc != QSG_OK) {
		fprintf(stderr, "qsgd: config: %s\n", errmsg);
		qsgd_usage(stderr);
		return EXIT_CONFIG;
	}
	if ((rc = check_addresses(&m.cfg)) != 0)
		return rc;
	qlog_init(&m.log, stderr, m.cfg.name, m.cfg.log_level);
	qlog_set_format(&m.log, m.cfg.log_format);
	if (sdnotify_init(&m.sd, getenv("NOTIFY_SOCKET"), getenv("WATCHDOG_USEC"),
			  getenv("WATCHDOG_PID"), (long)getpid(), errmsg) != QSG_OK)
		QLOG_WARNING(&m.log, "QSG6004W", "systemd notification disabled: %s", errmsg);
	signal(SIGPIPE, SIG_IGN);
	QLOG_INFO_(&m.log, "QSG6005I", "heap huge pages %s", hugepages_state_name(huge));
	/* No glibc fastbins: a burst of small frees with no large malloc in
	 * between (the reaper freeing a cleared queue's 1M index entries)
	 * would pile up in them and the next large malloc would consolidate
	 * them all in one call, 200-400 ms on the loop (docs/storage.md,
	 * "Leases that do not lie"). The tcache still serves the hot path. */
	mallopt(M_MXFAST, 0);
	if ((rc = prepare_dir(&m)) != 0)
		return rc;
	if (uv_loop_init(&m.loop) != 0) {
		fprintf(stderr, "qsgd: cannot create the event loop\n");
		return EXIT_RAFT_FATAL;
	}
	int code = run(&m);
	if (m.core.tls != NULL)
		tlsstream_cfg_close(&m.tls);
	if (uv_loop_close(&m.loop) != 0)
		QLOG_WARNING(&m.log, "QSG0005W", "event loop closed with handles still open");
	close(m.lock_fd);
	sdnotify_close(&m.sd);
	return code;
}
