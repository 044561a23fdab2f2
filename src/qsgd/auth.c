/* Who is connecting: see auth.h. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/mqsc.h"
#include "config.h"
#include "log.h"

#define DENIED_TEXT "user id or password not accepted"

bool auth_user_fold(const char *s, size_t n, char *out)
{
	if (n == 0 || n > FSM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		out[i] = c;
	}
	out[n] = '\0';
	return fsm_user_name_valid(out);
}

void auth_peer_host(const char *peer, char *out, size_t size)
{
	const char *p = peer != NULL ? peer : "";
	size_t n;
	if (p[0] == '[') { /* "[v6]:port" */
		const char *e = strchr(p, ']');
		p++;
		n = e != NULL ? (size_t)(e - p) : strlen(p);
	} else {
		const char *e = strrchr(p, ':');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
	}
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* The slot of a source address (FAILDLAY per address); create: take the
 * oldest slot when it has none. NULL when it has none and !create. */
static struct auth_fail *fail_slot(struct auth *a, const char *peer, bool create)
{
	char host[64];
	auth_peer_host(peer, host, sizeof host);
	struct auth_fail *old = &a->fail[0];
	for (unsigned i = 0; i < AUTH_FAIL_SLOTS; i++) {
		if (strcmp(a->fail[i].host, host) == 0 && a->fail[i].host[0] != '\0')
			return &a->fail[i];
		if (a->fail[i].until < old->until)
			old = &a->fail[i];
	}
	if (!create)
		return NULL;
	memset(old, 0, sizeof *old);
	snprintf(old->host, sizeof old->host, "%s", host);
	return old;
}

/* How long a check from peer waits first: until the delay of its
 * address's last refusal is over. */
static uint64_t fail_wait(struct auth *a, const char *peer)
{
	struct auth_fail *f = fail_slot(a, peer, false);
	uint64_t now = uv_now(a->loop);
	return f != NULL && f->until > now ? f->until - now : 0;
}

static const char *mode_name(int mode)
{
	return mode == QSGD_AUTH_REQUIRED   ? "required"
	       : mode == QSGD_AUTH_OPTIONAL ? "optional"
					    : "none";
}

int auth_init(struct auth *a, uv_loop_t *loop, const struct qsgd_config *cfg, struct fsm *fsm,
	      struct qlog *log, char *errmsg)
{
	memset(a, 0, sizeof *a);
	a->loop = loop;
	a->cfg = cfg;
	a->fsm = fsm;
	a->log = log;
	if (cfg->admin_password_hash[0] != '\0') {
		int rc = pwhash_parse(cfg->admin_password_hash, &a->admin_hash, errmsg);
		if (rc != QSG_OK)
			return qsg_errf(errmsg, QSG_RC_CONFIG, "[security] admin_password_hash: %s",
					errmsg);
		a->breakglass = true;
	}
	/* A fixed record no password matches (hash of nothing, zero salt). */
	a->dummy.iterations = cfg->pbkdf2_iterations;
	memset(a->dummy.hash, 0xa5, sizeof a->dummy.hash);
	if (cfg->auth_mode == QSGD_AUTH_NONE)
		QLOG_WARNING(log, "QSG8012W",
			     "[security] authentication = none: anyone who can reach this "
			     "member's ports can do anything (insecure demo mode; "
			     "docs/security.md \"Authentication\")");
	else
		QLOG_INFO_(log, "QSG8013I",
			   "authentication %s; break-glass user %s %s; fail delay %u ms",
			   mode_name(cfg->auth_mode), cfg->admin_user,
			   a->breakglass ? "enabled" : "disabled (no admin_password_hash)",
			   cfg->fail_delay_ms);
	return QSG_OK;
}

/* One check in flight: the record copied from the replica on the loop, the
 * password copied for the pool thread. */
struct auth_work {
	uv_work_t work;
	uv_timer_t timer;
	uv_timer_t wait; /* FAILDLAY of the address: before the check */
	struct auth *a;
	auth_done_cb done;
	void *arg;
	struct pwhash rec;
	char password[PWHASH_PASSWORD_MAX + 1];
	size_t plen;
	bool known; /* the user exists (else rec is the dummy) */
	bool ok;
	bool rechecked; /* checked again after the delay */
	struct auth_id id;
	char peer[64];
	const char *why; /* for the log only */
};

static void timer_closed(uv_handle_t *h)
{
	struct auth_work *w = h->data;
	w->a->inflight--;
	free(w);
}

static bool find_user(struct auth *a, struct auth_work *w);
static void work_run(uv_work_t *req);
static void work_after(uv_work_t *req, int status);

/* Whether a refused password should be checked once more after the delay:
 * the user's record changed meanwhile (a user defined or altered a moment
 * ago through another member reaches this replica a few ms after the
 * leader applied it, maybe during the delay). Only once per HELLO. */
static bool record_changed(struct auth_work *w)
{
	struct auth_work probe;
	if (w->rechecked || w->plen == 0 || w->why == NULL ||
	    (strcmp(w->why, "no such user") != 0 && strcmp(w->why, "wrong password") != 0))
		return false;
	memset(&probe, 0, sizeof probe);
	memcpy(probe.id.user, w->id.user, sizeof probe.id.user);
	bool known = find_user(w->a, &probe);
	return known != w->known || (known && memcmp(&probe.rec, &w->rec, sizeof probe.rec) != 0);
}

static void answer_refusal(struct auth_work *w);

/* The timer of a refusal whose record changed is closed: check again. */
static void timer_closed_recheck(uv_handle_t *h)
{
	struct auth_work *w = h->data;
	w->rechecked = true;
	w->known = find_user(w->a, w);
	if (!w->known)
		w->rec = w->a->dummy;
	if (uv_queue_work(w->a->loop, &w->work, work_run, work_after) != 0) {
		answer_refusal(w);
		w->a->inflight--;
		free(w);
	}
}

/* The delay is over: check again if the record changed, else answer. */
static void refuse_now(uv_timer_t *t)
{
	struct auth_work *w = t->data;
	if (record_changed(w)) {
		uv_close((uv_handle_t *)&w->timer, timer_closed_recheck);
		return;
	}
	answer_refusal(w);
	uv_close((uv_handle_t *)&w->timer, timer_closed);
}

/* Log and answer a refusal (the caller closes the timer, or it is closed). */
static void answer_refusal(struct auth_work *w)
{
	pwhash_wipe(w->password, sizeof w->password);
	QLOG_WARNING(w->a->log, "QSG8010W", "authentication of user %s from %s refused: %s",
		     w->id.user[0] != '\0' ? w->id.user : "(none)", w->peer, w->why);
	const char *text =
	    strstr(w->why, "no credentials") != NULL
		? "authentication required: give a user id and password "
		  "(QSG_USER, QSG_PASSWORD) or a client certificate that names a user"
		: DENIED_TEXT;
	w->done(w->arg, QSG_RC_NOT_AUTHORIZED, NULL, text);
}

/* The refusal is answered fail_delay_ms after the end of the delay of the
 * address's previous refusal (or now): one refusal per delay and address. */
static void refuse(struct auth_work *w, const char *why)
{
	struct auth_fail *f = fail_slot(w->a, w->peer, true);
	uint64_t now = uv_now(w->a->loop);
	f->until = (f->until > now ? f->until : now) + w->a->cfg->fail_delay_ms;
	w->why = why;
	w->timer.data = w;
	uv_timer_init(w->a->loop, &w->timer);
	uv_timer_start(&w->timer, refuse_now, f->until - now, 0);
}

static void grant(struct auth_work *w)
{
	static const char *const how[] = {"anonymous",	 "password",	"certificate",
					  "break-glass", "not checked", "mapped"};
	w->id.gen = fsm_authrec_generation(w->a->fsm);
	if (w->id.how == AUTH_PASSWORD || w->id.how == AUTH_CERT)
		memcpy(w->id.authuser, w->id.user, sizeof w->id.authuser);
	if (w->id.how != AUTH_ANONYMOUS && w->id.how != AUTH_OFF)
		QLOG_INFO_(w->a->log, "QSG8011I", "user %s from %s authenticated by %s", w->id.user,
			   w->peer, how[w->id.how]);
	w->done(w->arg, QSG_OK, &w->id, NULL);
	w->a->inflight--;
	free(w);
}

/* The password stays in w until the final answer (refuse_now may check it
 * again); it is wiped then. */
static void work_run(uv_work_t *req)
{
	struct auth_work *w = req->data;
	w->ok = pwhash_verify(&w->rec, w->password, w->plen) && w->known;
}

static void work_after(uv_work_t *req, int status)
{
	struct auth_work *w = req->data;
	if (status != 0 || !w->ok) {
		refuse(w, !w->known ? "no such user" : "wrong password");
		return;
	}
	pwhash_wipe(w->password, sizeof w->password);
	grant(w);
}

/* The record of a user: the break-glass identity first, then the replica. */
static bool find_user(struct auth *a, struct auth_work *w)
{
	if (a->breakglass && strcmp(w->id.user, a->cfg->admin_user) == 0) {
		w->rec = a->admin_hash;
		w->id.how = AUTH_BREAKGLASS;
		return true;
	}
	struct fsm_user u;
	if (fsm_user_get(a->fsm, w->id.user, &u) != QSG_OK)
		return false;
	w->rec.iterations = u.iterations;
	memcpy(w->rec.salt, u.salt, sizeof w->rec.salt);
	memcpy(w->rec.hash, u.hash, sizeof w->rec.hash);
	w->id.how = AUTH_PASSWORD;
	w->id.ngroups = u.ngroups;
	memcpy(w->id.groups, u.groups, sizeof w->id.groups);
	return true;
}

static void queue_check(struct auth_work *w)
{
	if (uv_queue_work(w->a->loop, &w->work, work_run, work_after) != 0) {
		pwhash_wipe(w->password, sizeof w->password);
		refuse(w, "could not queue the check");
	}
}

static void wait_closed(uv_handle_t *h)
{
	queue_check(h->data);
}

static void wait_over(uv_timer_t *t)
{
	uv_close((uv_handle_t *)t, wait_closed);
}

void auth_hello(struct auth *a, const struct auth_hello *h, auth_done_cb done, void *arg)
{
	struct auth_work *w = calloc(1, sizeof *w);
	if (w == NULL) {
		done(arg, QSG_RC_STORAGE_NOT_AVAILABLE, NULL, "out of memory");
		return;
	}
	a->inflight++;
	w->a = a;
	w->done = done;
	w->arg = arg;
	w->work.data = w;
	snprintf(w->peer, sizeof w->peer, "%s", h->peer != NULL ? h->peer : "?");
	int mode = a->cfg->auth_mode;
	if (mode == QSGD_AUTH_NONE) {
		w->id.how = AUTH_OFF;
		grant(w);
		return;
	}
	if (h->user.len == 0) {
		/* A verified certificate whose CN names a user of the group. */
		struct fsm_user u;
		char cn[FSM_NAME_MAX + 1];
		if (h->cert_cn != NULL && h->cert_cn[0] != '\0' &&
		    auth_user_fold(h->cert_cn, strlen(h->cert_cn), cn) &&
		    fsm_user_get(a->fsm, cn, &u) == QSG_OK) {
			w->id.how = AUTH_CERT;
			memcpy(w->id.user, u.name, sizeof w->id.user);
			w->id.ngroups = u.ngroups;
			memcpy(w->id.groups, u.groups, sizeof w->id.groups);
			grant(w);
			return;
		}
		if (mode == QSGD_AUTH_OPTIONAL) {
			w->id.how = AUTH_ANONYMOUS;
			grant(w);
			return;
		}
		refuse(w, "no credentials and no client certificate naming a user");
		return;
	}
	if (!auth_user_fold((const char *)h->user.p, h->user.len, w->id.user)) {
		w->id.user[0] = '\0';
		refuse(w, "not a valid user name (not logged)");
		return;
	}
	if (mode == QSGD_AUTH_REQUIRED && !h->tls) {
		refuse(w, "credentials on a plaintext connection (a TLS connection is required)");
		return;
	}
	w->known = find_user(a, w);
	if (!w->known)
		w->rec = a->dummy; /* the same work: an unknown user is not faster */
	w->plen = h->password.len <= PWHASH_PASSWORD_MAX ? h->password.len : 0;
	if (w->plen > 0)
		memcpy(w->password, h->password.p, w->plen);
	uint64_t wait = fail_wait(a, w->peer);
	if (wait > 0) { /* the address's last refusal is recent: its delay first */
		w->wait.data = w;
		uv_timer_init(a->loop, &w->wait);
		uv_timer_start(&w->wait, wait_over, wait, 0);
		return;
	}
	queue_check(w);
}

/* --- authority (docs/security.md "Authority records") --------------------- */

bool auth_bypass(const struct auth *a, const struct auth_id *id)
{
	if (id->how == AUTH_OFF || id->how == AUTH_BREAKGLASS)
		return true;
	for (unsigned i = 0; i < id->ngroups && i < FSM_USER_GROUPS_MAX; i++)
		if (strcmp(id->groups[i], a->cfg->admin_group) == 0)
			return true;
	return false;
}

const char *auth_principal(const struct auth_id *id)
{
	return id->how == AUTH_ANONYMOUS || id->user[0] == '\0' ? "ANONYMOUS" : id->user;
}

uint32_t auth_authority(struct auth *a, const struct auth_id *id, uint8_t objtype, const char *name)
{
	if (auth_bypass(a, id))
		return FSM_AUTH_ALL;
	unsigned ng = id->how == AUTH_ANONYMOUS ? 0 : id->ngroups;
	return fsm_authority(a->fsm, a->cfg->id, auth_principal(id),
			     (const char(*)[FSM_NAME_MAX + 1]) id->groups, ng, objtype, name);
}

uint32_t auth_authority_cached(struct auth *a, struct auth_cache *c, const struct auth_id *id,
			       uint8_t objtype, const char *name)
{
	uint64_t gen = fsm_authrec_generation(a->fsm);
	if (c->gen != gen) {
		memset(c, 0, sizeof *c);
		c->gen = gen;
	}
	for (unsigned i = 0; i < AUTH_CACHE_SLOTS; i++)
		if (c->slot[i].objtype == objtype && strcmp(c->slot[i].name, name) == 0)
			return c->slot[i].mask;
	uint32_t mask = auth_authority(a, id, objtype, name);
	unsigned i = c->next++ % AUTH_CACHE_SLOTS;
	c->slot[i].objtype = objtype;
	c->slot[i].mask = mask;
	snprintf(c->slot[i].name, sizeof c->slot[i].name, "%s", name);
	return mask;
}

void auth_denied(struct auth *a, const struct auth_id *id, const char *peer, uint32_t need,
		 uint8_t objtype, const char *name, const char *what)
{
	uint64_t now = uv_now(a->loop);
	if (now - a->deny_window_ms >= 1000) {
		if (a->deny_dropped > 0)
			QLOG_WARNING(
			    a->log, "QSG8015W",
			    "%u more authority refusals in the last second were not logged",
			    a->deny_dropped);
		a->deny_window_ms = now;
		a->deny_logged = a->deny_dropped = 0;
	}
	if (a->deny_logged >= AUTH_DENY_LOG_MAX) {
		a->deny_dropped++;
		return;
	}
	a->deny_logged++;
	char list[160];
	mqsc_auth_list(need, list, sizeof list);
	QLOG_WARNING(a->log, "QSG8015W", "%s by user %s from %s refused: no %s authority on %s(%s)",
		     what, auth_principal(id), peer != NULL ? peer : "?", list,
		     mqsc_authobj_name(objtype), name);
}
