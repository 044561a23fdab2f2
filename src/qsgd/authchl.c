/* Channel authentication at run time: see authchl.h. */
#include "authchl.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fsm/chlmatch.h"
#include "log.h"

/* At most AUTH_DENY_LOG_MAX lines a second (lim NULL: all). */
static bool may_log(struct qlog *log, struct auth_loglimit *lim, uint64_t now)
{
	if (lim == NULL)
		return true;
	if (now - lim->window_ms >= 1000) {
		if (lim->dropped > 0)
			QLOG_WARNING(log, "QSG8017W",
				     "%u more channel authentication refusals in the last second "
				     "were not logged",
				     lim->dropped);
		lim->window_ms = now;
		lim->logged = lim->dropped = 0;
	}
	if (lim->logged >= AUTH_DENY_LOG_MAX) {
		lim->dropped++;
		return false;
	}
	lim->logged++;
	return true;
}

static void rule_text(const struct fsm_chlauth *r, char *buf, size_t size)
{
	const char *key = r->type == FSM_CHL_BLOCKADDR	  ? r->addrlist
			  : r->type == FSM_CHL_SSLPEERMAP ? r->sslpeer
			  : r->type == FSM_CHL_USERMAP	  ? r->clntuser
							  : r->address;
	snprintf(buf, size, "CHLAUTH('%s') TYPE(%s) %s('%s')", r->profile,
		 chlmatch_type_name(r->type),
		 r->type == FSM_CHL_BLOCKADDR	 ? "ADDRLIST"
		 : r->type == FSM_CHL_SSLPEERMAP ? "SSLPEER"
		 : r->type == FSM_CHL_USERMAP	 ? "CLNTUSER"
						 : "ADDRESS",
		 key);
}

int authchl_check(struct fsm *fsm, struct qlog *log, struct auth_loglimit *lim, uint64_t now_ms,
		  const char *channel, const char *peer, const char *dn, const char *clntuser,
		  char *mcauser, char *errmsg)
{
	char host[64], rule[FSM_CHL_PEER_MAX + 96];
	size_t n;
	const struct fsm_chlauth *rules = fsm_chlauth_rules(fsm, &n);
	struct chl_result res;
	mcauser[0] = '\0';
	if (n == 0)
		return QSG_OK;
	auth_peer_host(peer, host, sizeof host);
	struct chl_in in = {channel, host, dn != NULL ? dn : "", clntuser != NULL ? clntuser : ""};
	chlmatch_decide(rules, n, &in, channel == NULL, &res);
	const char *ch = channel != NULL ? channel : "(not yet known)";
	for (unsigned i = 0; i < res.nwarned; i++) {
		if (!may_log(log, lim, now_ms))
			break;
		rule_text(res.warned[i], rule, sizeof rule);
		QLOG_WARNING(log, "QSG8016W",
			     "channel %s from %s (user '%s'): %s would refuse it; WARN(YES): "
			     "allowed",
			     ch, peer, in.clntuser, rule);
	}
	if (res.verdict == CHL_ALLOW) {
		snprintf(mcauser, FSM_NAME_MAX + 1, "%s", res.mcauser);
		return QSG_OK;
	}
	rule_text(res.rule, rule, sizeof rule);
	if (may_log(log, lim, now_ms))
		QLOG_WARNING(log, "QSG8017W", "channel %s from %s (user '%s') refused by %s%s", ch,
			     peer, in.clntuser, rule,
			     res.verdict == CHL_NOACCESS ? " USERSRC(NOACCESS)" : "");
	if (res.verdict == CHL_BLOCKADDR)
		return qsg_errf(errmsg, QSG_RC_NOT_AUTHORIZED,
				"address %s is blocked by channel authentication (BLOCKADDR %s)",
				host, res.blocked_by);
	return qsg_errf(errmsg, QSG_RC_NOT_AUTHORIZED,
			"channel %s from %s: access refused by channel authentication (%s "
			"USERSRC(NOACCESS))",
			ch, host, chlmatch_type_name(res.rule->type));
}

bool authchl_accept(struct auth *a, const char *peer)
{
	char mcauser[FSM_NAME_MAX + 1], errmsg[QSG_ERRMSG_SIZE];
	return authchl_check(a->fsm, a->log, &a->chl_log, uv_now(a->loop), NULL, peer, "", "",
			     mcauser, errmsg) == QSG_OK;
}

int authchl_hello(struct auth *a, const struct auth_hello *h, const char *dn, char *mcauser,
		  char *errmsg)
{
	char user[FSM_NAME_MAX + 1] = "";
	const char *channel = AUTHCHL_CLIENT_CHANNEL;
	if (h->user.len > 0) {
		if (!auth_user_fold((const char *)h->user.p, h->user.len, user))
			user[0] = '\0'; /* refused by the credential check */
	} else if (h->cert_cn != NULL && h->cert_cn[0] != '\0') {
		if (!auth_user_fold(h->cert_cn, strlen(h->cert_cn), user))
			user[0] = '\0';
	}
	/* The break-glass identity meets BLOCKADDR only: no map can lock the
	 * operator out (its password is still checked). */
	if (a->breakglass && strcmp(user, a->cfg->admin_user) == 0)
		channel = NULL;
	return authchl_check(a->fsm, a->log, &a->chl_log, uv_now(a->loop), channel, h->peer, dn,
			     user, mcauser, errmsg);
}

/* id's user's groups as the user table has them now (none when the user
 * is not in it). */
static void load_groups(struct auth *a, struct auth_id *id)
{
	struct fsm_user u;
	id->ngroups = 0;
	memset(id->groups, 0, sizeof id->groups);
	if (fsm_user_get(a->fsm, id->user, &u) == QSG_OK) {
		id->ngroups = u.ngroups;
		memcpy(id->groups, u.groups, sizeof id->groups);
	}
}

void authchl_apply(struct auth *a, struct auth_id *id, const char *mcauser)
{
	if (mcauser == NULL || mcauser[0] == '\0' || id->how == AUTH_BREAKGLASS)
		return;
	QLOG_INFO_(a->log, "QSG8011I", "user '%s' runs as %s (CHLAUTH USERSRC(MAP))", id->user,
		   mcauser);
	snprintf(id->user, sizeof id->user, "%s", mcauser);
	if (id->how != AUTH_OFF)
		id->how = AUTH_MAPPED;
	load_groups(a, id);
	id->gen = fsm_authrec_generation(a->fsm);
}

bool authchl_refresh(struct auth *a, struct auth_id *id, char *text, size_t size)
{
	uint64_t gen = fsm_authrec_generation(a->fsm);
	struct fsm_user u;
	if (id->gen == gen)
		return true;
	id->gen = gen;
	if (id->authuser[0] != '\0' && fsm_user_get(a->fsm, id->authuser, &u) != QSG_OK) {
		QLOG_WARNING(a->log, "QSG8018W",
			     "user %s was deleted: its connection is closed (DELETE USER)",
			     id->authuser);
		snprintf(text, size, "user %s was deleted: the connection is closed", id->authuser);
		return false;
	}
	if (id->how == AUTH_PASSWORD || id->how == AUTH_CERT || id->how == AUTH_MAPPED)
		load_groups(a, id);
	return true;
}
