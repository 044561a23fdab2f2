/* The leaf shared by the channel initiator and its instances (chhost.h). */
#include "chhost.h"

#include <stdlib.h>
#include <string.h>

#include "qsgd/config.h"

void chhost_ref(struct chhost *h)
{
	h->refs++;
}

void chhost_unref(struct chhost *h)
{
	if (--h->refs == 0 && h->released != NULL)
		h->released(h->arg);
}

void chhost_fail(struct chhost *h, const char *why)
{
	if (h->failed != NULL)
		h->failed(h->arg, why);
}

struct chretry *chhost_retry(struct chhost *h, const char *name)
{
	for (struct chretry *r = h->retries; r != NULL; r = r->next)
		if (strcmp(r->name, name) == 0)
			return r;
	struct chretry *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	snprintf(r->name, sizeof r->name, "%s", name);
	r->next = h->retries;
	h->retries = r;
	return r;
}

void chhost_retry_free(struct chhost *h)
{
	struct chretry *r = h->retries;
	while (r != NULL) {
		struct chretry *n = r->next;
		free(r);
		r = n;
	}
	h->retries = NULL;
}

const char *chhost_member_name(struct chhost *h, uint32_t id, char *buf, size_t len)
{
	struct fsm_member m;
	if (id != 0 && fsm_member_get(h->d->fsm, id, &m) == QSG_OK)
		snprintf(buf, len, "%s", m.name);
	else
		snprintf(buf, len, "member %u", id);
	return buf;
}

void chhost_log_change(struct chhost *h, const char *name, const char *rqmname,
		       const struct fsm_chimage *before, const struct fsm_chimage *after,
		       const char *reason)
{
	char a[FSM_NAME_MAX + 16], b[FSM_NAME_MAX + 16];
	const char *key = rqmname[0] != '\0' ? rqmname : "";
	if (!after->exists) {
		QLOG_INFO_(h->d->log, "QSG5003I",
			   "channel %s%s%s status removed (was %s on %s): %s", name,
			   key[0] ? " from " : "", key, fsm_chstate_name(before->state),
			   chhost_member_name(h, before->owner, a, sizeof a), reason);
	} else if (!before->exists || before->owner != after->owner) {
		QLOG_INFO_(h->d->log, "QSG5001I",
			   "channel %s owner %s -> %s, %s -> %s, epoch %llu: %s", name,
			   before->exists ? chhost_member_name(h, before->owner, a, sizeof a)
					  : "(none)",
			   chhost_member_name(h, after->owner, b, sizeof b),
			   fsm_chstate_name(before->state), fsm_chstate_name(after->state),
			   (unsigned long long)after->epoch, reason);
	} else {
		QLOG_INFO_(h->d->log, "QSG5002I", "channel %s on %s: %s -> %s, epoch %llu: %s",
			   name, chhost_member_name(h, after->owner, a, sizeof a),
			   fsm_chstate_name(before->state), fsm_chstate_name(after->state),
			   (unsigned long long)after->epoch, reason);
	}
}

int chhost_tls_client(struct chhost *h, const struct chssl_spec *spec, struct tlsstream_cfg **out,
		      char *errmsg)
{
	*out = NULL;
	for (struct chtlsctx *t = h->tls; t != NULL; t = t->next)
		if (t->spec == spec) {
			*out = &t->cfg;
			return QSG_OK;
		}
	const struct qsgd_config *cfg = h->d->cfg;
	if (h->d->tls == NULL || !cfg->tls_enabled)
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				"SSLCIPH(%s) needs a [tls] section (key, cert, ca) on member %s",
				spec->name, cfg->name);
	if (cfg->tls_ca[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				"SSLCIPH(%s): [tls] of member %s has no ca: channel partners are "
				"always verified",
				spec->name, cfg->name);
	struct chtlsctx *t = calloc(1, sizeof *t);
	if (t == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	/* Always verified (whatever [tls] verify says: that is about
	 * clients), with the CipherSpec's versions and suites. */
	struct tls_config tc = {
	    .role = TLS_CLIENT,
	    .verify = TLS_VERIFY_REQUIRED,
	    .key_file = cfg->tls_key,
	    .cert_file = cfg->tls_cert,
	    .ca_file = cfg->tls_ca,
	    .crl_file = cfg->tls_crl[0] != '\0' ? cfg->tls_crl : NULL,
	    .crl_check = (enum tls_crl_check)cfg->tls_crl_check,
	    .ciphers = spec->ciphers,
	    .ciphersuites = spec->ciphersuites,
	    .min_version = spec->min_version,
	    .max_version = spec->max_version,
	};
	char e[QSG_ERRMSG_SIZE];
	int rc = tls_ctx_init(&t->cfg.client, &tc, e);
	if (rc != QSG_OK) {
		free(t);
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, "SSLCIPH(%s): %s",
				spec->name, e);
	}
	t->spec = spec;
	t->cfg.handshake_ms = h->d->tls->handshake_ms;
	t->cfg.log = h->d->tls->log;
	t->next = h->tls;
	h->tls = t;
	*out = &t->cfg;
	return QSG_OK;
}

int chhost_tls_reload(struct chhost *h, char *errmsg)
{
	int first = QSG_OK;
	char e[QSG_ERRMSG_SIZE];
	for (struct chtlsctx *t = h->tls; t != NULL; t = t->next) {
		int rc = tls_ctx_reload(&t->cfg.client, e);
		if (rc != QSG_OK && first == QSG_OK)
			first = qsg_errf(errmsg, rc, "channels, SSLCIPH(%s): %s", t->spec->name, e);
	}
	return first;
}

void chhost_tls_free(struct chhost *h)
{
	struct chtlsctx *t = h->tls;
	while (t != NULL) {
		struct chtlsctx *n = t->next;
		tls_ctx_close(&t->cfg.client);
		free(t);
		t = n;
	}
	h->tls = NULL;
}
