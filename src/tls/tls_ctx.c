/* struct tls_ctx: the configuration and the current OpenSSL context, built
 * from the key, certificate, CA and CRL files; reload swaps in a new one. */
#include "tls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

int tls_ossl_err(char *errmsg, int rc, const char *what)
{
	char text[QSG_ERRMSG_SIZE];
	size_t used = 0;
	unsigned long e;
	const char *data;
	int flags;

	text[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char one[160];

		if (reason == NULL) {
			snprintf(one, sizeof one, "error %lx", e);
		} else if ((flags & ERR_TXT_STRING) && data != NULL && data[0] != '\0') {
			snprintf(one, sizeof one, "%s (%s)", reason, data);
		} else {
			snprintf(one, sizeof one, "%s", reason);
		}
		if (used < sizeof text - 1) {
			int k = snprintf(text + used, sizeof text - used, "%s%s", used ? "; " : "",
					 one);
			used = k < 0 ? used : used + (size_t)k;
		}
	}
	ERR_clear_error();
	return qsg_errf(errmsg, rc, "%s%s%s", what, text[0] ? ": " : "", text);
}

/* An encrypted key must fail, not prompt on the terminal. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static int config_check(const struct tls_config *cfg, char *errmsg)
{
	if (cfg->role != TLS_SERVER && cfg->role != TLS_CLIENT)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "tls: role must be server or client");
	if (cfg->verify != TLS_VERIFY_REQUIRED && cfg->verify != TLS_VERIFY_OPTIONAL &&
	    cfg->verify != TLS_VERIFY_NONE)
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"tls: verify must be required, optional or none");
	if ((cfg->key_file == NULL) != (cfg->cert_file == NULL))
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"tls: key and certificate go together (one is missing)");
	if (cfg->role == TLS_SERVER && cfg->cert_file == NULL)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "tls: a server needs a key and certificate");
	if (cfg->verify != TLS_VERIFY_NONE && cfg->ca_file == NULL)
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"tls: verify required or optional needs a CA file");
	if ((cfg->min_version != 0 && cfg->min_version != 12 && cfg->min_version != 13) ||
	    (cfg->max_version != 0 && cfg->max_version != 12 && cfg->max_version != 13))
		return qsg_errf(
		    errmsg, QSG_RC_CONFIG,
		    "tls: min_version and max_version must be 12 (TLS 1.2) or 13 (TLS 1.3)");
	if (cfg->crl_file != NULL && cfg->ca_file == NULL)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "tls: a CRL needs a CA file");
	if (cfg->crl_check != TLS_CRL_LEAF && cfg->crl_check != TLS_CRL_CHAIN)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "tls: crl_check must be leaf or chain");
	if (cfg->min_version == 13 && cfg->max_version == 12)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "tls: min_version above max_version");
	return QSG_OK;
}

static int load_files(SSL_CTX *c, const struct tls_config *cfg, unsigned *n_crls, char *errmsg)
{
	char what[QSG_ERRMSG_SIZE];

	if (cfg->cert_file != NULL) {
		if (SSL_CTX_use_certificate_chain_file(c, cfg->cert_file) != 1) {
			snprintf(what, sizeof what, "tls: certificate %s", cfg->cert_file);
			return tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, what);
		}
		if (SSL_CTX_use_PrivateKey_file(c, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
			snprintf(what, sizeof what, "tls: key %s", cfg->key_file);
			return tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, what);
		}
		if (SSL_CTX_check_private_key(c) != 1) {
			snprintf(what, sizeof what, "tls: key %s does not match certificate %s",
				 cfg->key_file, cfg->cert_file);
			return tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, what);
		}
	}
	if (cfg->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(c, cfg->ca_file, NULL) != 1) {
			snprintf(what, sizeof what, "tls: CA %s", cfg->ca_file);
			return tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, what);
		}
		if (cfg->role == TLS_SERVER) {
			/* Tell clients which CA their certificate must come from. */
			STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
			if (names == NULL) {
				snprintf(what, sizeof what, "tls: CA names in %s", cfg->ca_file);
				return tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, what);
			}
			SSL_CTX_set_client_CA_list(c, names);
		}
	}
	return tls_crl_load(c, cfg, n_crls, errmsg);
}

/* A new OpenSSL context from cfg (files read now). */
static int build(const struct tls_config *cfg, SSL_CTX **out, unsigned *n_crls, char *errmsg)
{
	SSL_CTX *c;
	int rc;

	ERR_clear_error();
	c = SSL_CTX_new(cfg->role == TLS_SERVER ? TLS_server_method() : TLS_client_method());
	if (c == NULL)
		return tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, "tls: SSL_CTX_new");
	SSL_CTX_set_default_passwd_cb(c, no_password);
	if (SSL_CTX_set_min_proto_version(c, cfg->min_version == 13 ? TLS1_3_VERSION
								    : TLS1_2_VERSION) != 1) {
		rc = tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, "tls: min version");
		goto fail;
	}
	if (SSL_CTX_set_max_proto_version(c, cfg->max_version == 12 ? TLS1_2_VERSION
								    : TLS1_3_VERSION) != 1) {
		rc = tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, "tls: max version");
		goto fail;
	}
	/* Full handshakes only: no session resumption (a resumed session would
	 * skip the checks against a reloaded CA), no renegotiation, no
	 * compression. */
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
				   SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(c, 0);
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	if (cfg->ciphers != NULL && SSL_CTX_set_cipher_list(c, cfg->ciphers) != 1) {
		rc = tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, "tls: ciphers");
		goto fail;
	}
	if (cfg->ciphersuites != NULL && SSL_CTX_set_ciphersuites(c, cfg->ciphersuites) != 1) {
		rc = tls_ossl_err(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, "tls: ciphersuites");
		goto fail;
	}
	rc = load_files(c, cfg, n_crls, errmsg);
	if (rc != QSG_OK)
		goto fail;
	*out = c;
	return QSG_OK;
fail:
	SSL_CTX_free(c);
	return rc;
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

static void free_strings(struct tls_config *cfg)
{
	free((char *)cfg->key_file);
	free((char *)cfg->cert_file);
	free((char *)cfg->ca_file);
	free((char *)cfg->ciphers);
	free((char *)cfg->ciphersuites);
	free((char *)cfg->crl_file);
	memset(cfg, 0, sizeof *cfg);
}

int tls_ctx_init(struct tls_ctx *ctx, const struct tls_config *cfg, char *errmsg)
{
	bool oom = false;
	int rc;

	if (ctx == NULL || cfg == NULL)
		return qsg_errf(errmsg, QSG_RC_INVALID, "tls: no context or configuration");
	memset(ctx, 0, sizeof *ctx);
	rc = config_check(cfg, errmsg);
	if (rc != QSG_OK)
		return rc;
	ctx->cfg = *cfg;
	ctx->cfg.key_file = dup_opt(cfg->key_file, &oom);
	ctx->cfg.cert_file = dup_opt(cfg->cert_file, &oom);
	ctx->cfg.ca_file = dup_opt(cfg->ca_file, &oom);
	ctx->cfg.ciphers = dup_opt(cfg->ciphers, &oom);
	ctx->cfg.ciphersuites = dup_opt(cfg->ciphersuites, &oom);
	ctx->cfg.crl_file = dup_opt(cfg->crl_file, &oom);
	if (oom) {
		free_strings(&ctx->cfg);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "tls: out of memory");
	}
	rc = build(&ctx->cfg, &ctx->ssl_ctx, &ctx->n_crls, errmsg);
	if (rc != QSG_OK) {
		free_strings(&ctx->cfg);
		return rc;
	}
	ctx->generation = 1;
	return QSG_OK;
}

void tls_ctx_close(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx); /* connections keep their own reference */
	free_strings(&ctx->cfg);
	ctx->ssl_ctx = NULL;
}

int tls_ctx_reload(struct tls_ctx *ctx, char *errmsg)
{
	SSL_CTX *fresh = NULL;
	unsigned n = 0;
	int rc;

	if (ctx == NULL || ctx->ssl_ctx == NULL)
		return qsg_errf(errmsg, QSG_RC_INVALID, "tls: reload of a closed context");
	rc = build(&ctx->cfg, &fresh, &n, errmsg);
	if (rc != QSG_OK)
		return rc; /* the old context stays */
	SSL_CTX_free(ctx->ssl_ctx);
	ctx->ssl_ctx = fresh;
	ctx->n_crls = n;
	ctx->generation++;
	return QSG_OK;
}
