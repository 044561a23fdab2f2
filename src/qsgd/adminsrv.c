/* The admin adapter (adminsrv.h). */
#include "adminsrv.h"

#include <stdlib.h>
#include <string.h>

#include "chan/chcore.h"
#include "chan/chinit.h"
#include "common/pwhash.h"
#include "lifecycle.h"
#include "raft-glue/glue.h"
#include "log.h"
#include "tlsstream.h"

static int admin_submit(void *arg, const struct fsm_cmd *cmd, admin_submit_cb cb, void *cbarg)
{
	struct qsgd *d = arg;
	return qsgd_submit(d, cmd, cb, cbarg);
}

static void admin_raft_info(void *arg, struct admin_raft_info *out)
{
	struct qsgd *d = arg;
	struct glue_info info;
	glue_get_info(d->glue, &info);
	memset(out, 0, sizeof *out);
	out->role = info.role;
	out->term = info.term;
	out->commit_index = info.commit_index;
	out->applied_index = info.applied_index;
	out->last_index = info.last_index;
	out->leader_id = info.leader_id;
}

static int admin_chinit_start(void *arg, char *errmsg)
{
	struct qsgd *d = arg;
	return chinit_start(d->chinit, errmsg);
}

static int admin_chinit_stop(void *arg, char *errmsg)
{
	struct qsgd *d = arg;
	return chinit_stop(d->chinit, errmsg);
}

static void admin_chinit_info(void *arg, struct admin_chinit_info *out)
{
	struct qsgd *d = arg;
	struct chinit_info ci;
	chinit_info(d->chinit, &ci);
	memset(out, 0, sizeof *out);
	out->status = chcore_chinit_status_name(ci.status);
	out->failures = ci.failures;
	out->restart_in_ms = ci.restart_in_ms;
	snprintf(out->reason, sizeof out->reason, "%s", ci.reason);
}

static int admin_chinit_running(void *arg)
{
	struct qsgd *d = arg;
	return chinit_running(d->chinit) ? 1 : 0;
}

static size_t admin_raft_config(void *arg, struct admin_raft_server *out, size_t max)
{
	struct qsgd *d = arg;
	return lifecycle_raft_config(d->lifecycle, out, max);
}

static int admin_lifecycle(void *arg, const struct admin_lifecycle *req,
			   void (*done)(void *cbarg, int rc, const char *text), void *cbarg)
{
	struct qsgd *d = arg;
	return lifecycle_exec(d->lifecycle, req, done, cbarg);
}

static uint32_t admin_pick_owner(void *arg, uint32_t exclude)
{
	struct qsgd *d = arg;
	return chcore_view_pick_owner(d->fsm, exclude);
}

/* DEFINE/ALTER USER PASSWORD: salt and PBKDF2 in libuv's thread pool (tens
 * of milliseconds at the default count: never on the loop). */
struct hash_work {
	uv_work_t work;
	char password[PWHASH_PASSWORD_MAX + 1];
	size_t len;
	uint32_t iterations;
	int rc;
	struct pwhash h;
	void (*done)(void *cbarg, int rc, const struct fsm_user *cred);
	void *cbarg;
};

static void hash_run(uv_work_t *req)
{
	struct hash_work *w = req->data;
	w->rc = pwhash_make(w->password, w->len, w->iterations, &w->h, NULL);
	pwhash_wipe(w->password, sizeof w->password);
}

static void hash_after(uv_work_t *req, int status)
{
	struct hash_work *w = req->data;
	struct fsm_user cred;
	memset(&cred, 0, sizeof cred);
	int rc = status != 0 ? QSG_RC_UNEXPECTED_ERROR : w->rc;
	cred.scheme = FSM_CRED_PBKDF2_SHA256;
	cred.iterations = w->h.iterations;
	memcpy(cred.salt, w->h.salt, sizeof cred.salt);
	memcpy(cred.hash, w->h.hash, sizeof cred.hash);
	pwhash_wipe(w->password, sizeof w->password);
	w->done(w->cbarg, rc, &cred);
	free(w);
}

static int admin_hash_password(void *arg, const char *password, size_t len,
			       void (*done)(void *cbarg, int rc, const struct fsm_user *cred),
			       void *cbarg)
{
	struct qsgd *d = arg;
	if (len > PWHASH_PASSWORD_MAX)
		return QSG_RC_INVALID;
	struct hash_work *w = calloc(1, sizeof *w);
	if (w == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	memcpy(w->password, password, len);
	w->len = len;
	w->iterations = d->cfg->pbkdf2_iterations;
	w->done = done;
	w->cbarg = cbarg;
	w->work.data = w;
	if (uv_queue_work(d->loop, &w->work, hash_run, hash_after) != 0) {
		pwhash_wipe(w->password, sizeof w->password);
		free(w);
		return QSG_RC_UNEXPECTED_ERROR;
	}
	return QSG_OK;
}

/* REFRESH SECURITY TYPE(SSL) (docs/security.md "TLS on channels"): every
 * TLS context of this member re-reads its files; one that fails keeps its
 * old ones (tls_ctx_reload) and the others are still reloaded. A few small
 * files per context, read on the loop, as at startup. */
static int admin_refresh_tls(void *arg, char *text, size_t size)
{
	struct qsgd *d = arg;
	char e[QSG_ERRMSG_SIZE], fail[QSG_ERRMSG_SIZE + 64] = "";
	int first = QSG_OK, rc;
	unsigned nch = 0;
	bool raft = false;
	if (d->tls == NULL)
		return qsg_errf(text, QSG_RC_SSL_INITIALIZATION_ERROR,
				"this member has no [tls] section: nothing to refresh");
	rc = tls_ctx_reload(&d->tls->server, e);
	if (rc == QSG_OK)
		rc = tls_ctx_reload(&d->tls->client, e);
	if (rc != QSG_OK) {
		first = rc;
		snprintf(fail, sizeof fail, "client listener and member links: %s", e);
	}
	if (d->chinit != NULL) {
		rc = chinit_tls_reload(d->chinit, &nch, e);
		if (rc != QSG_OK && first == QSG_OK) {
			first = rc;
			snprintf(fail, sizeof fail, "%s", e);
		}
	}
	if (d->glue != NULL) {
		rc = glue_tls_reload(d->glue, &raft, e);
		if (rc != QSG_OK && first == QSG_OK) {
			first = rc;
			snprintf(fail, sizeof fail, "%s", e);
		}
	}
	if (first != QSG_OK) {
		snprintf(text, size, "%s (the contexts that failed keep their old files)", fail);
		QLOG_WARNING(d->log, "QSG8005W", "REFRESH SECURITY TYPE(SSL) failed: %s", text);
		return first;
	}
	snprintf(text, size,
		 "client listener, member links, %u channel CipherSpec context(s)%s reloaded; "
		 "new connections use the new files",
		 nch, raft ? " and Raft" : "");
	QLOG_INFO_(d->log, "QSG8006I", "REFRESH SECURITY TYPE(SSL): %s", text);
	return QSG_OK;
}

void adminsrv_env_init(struct admin_env *env, struct qsgd *d)
{
	env->arg = d;
	env->fsm = d->fsm;
	env->qmgr_name = d->cfg->name;
	env->group_name = d->cfg->group;
	env->member_id = d->cfg->id;
	env->submit = admin_submit;
	env->raft_info = admin_raft_info;
	env->chinit_start = admin_chinit_start;
	env->chinit_stop = admin_chinit_stop;
	env->chinit_running = admin_chinit_running;
	env->chinit_info = admin_chinit_info;
	env->pick_owner = admin_pick_owner;
	env->raft_config = admin_raft_config;
	env->lifecycle = admin_lifecycle;
	env->hash_password = admin_hash_password;
	env->refresh_tls = admin_refresh_tls;
}
