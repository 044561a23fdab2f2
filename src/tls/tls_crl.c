/* Certificate revocation lists ([tls] crl, docs/security.md "Revocation"):
 * loading a PEM file of CRLs into a context's certificate store, with the
 * checks that make a bad file fail at load time rather than refuse every
 * peer later (a CRL of an unknown CA, a bad signature, an expired CRL). */
#include "tls_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

static void asn1_time_text(const ASN1_TIME *t, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int k = 0;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (ASN1_TIME_print(b, t) == 1)
		k = BIO_read(b, out, (int)size - 1);
	out[k > 0 ? k : 0] = '\0';
	BIO_free(b);
}

/* "what: OpenSSL's last reason" (the queue cleared). Not tls_ossl_err of
 * tls_ctx.c: that file calls this one, and files do not call each other
 * both ways (tests/layout). */
static int crl_err(char *errmsg, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	int rc = qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, "%s%s%s", what,
			  reason != NULL ? ": " : "", reason != NULL ? reason : "");
	ERR_clear_error();
	return rc;
}

static void issuer_dn(const X509_NAME *nm, char dn[TLS_DN_SIZE])
{
	BIO *b = BIO_new(BIO_s_mem());
	int k = 0;

	if (b != NULL && X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253) >= 0)
		k = BIO_read(b, dn, TLS_DN_SIZE - 1);
	dn[k > 0 ? k : 0] = '\0';
	BIO_free(b);
}

/* The CRL's issuer is a CA of the store and signed it; it is current. */
static int check_one(X509_STORE *st, X509_CRL *crl, const struct tls_config *cfg, unsigned i,
		     char *errmsg)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
	const X509_NAME *issuer = X509_CRL_get_issuer(crl);
	const ASN1_TIME *last = X509_CRL_get0_lastUpdate(crl);
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
	char dn[TLS_DN_SIZE], when[64];
	bool named = false;

	for (int k = 0; k < sk_X509_OBJECT_num(objs); k++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, k));
		if (ca == NULL || X509_NAME_cmp(X509_get_subject_name(ca), issuer) != 0)
			continue;
		named = true;
		if (X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1) {
			ERR_clear_error();
			if (last != NULL && X509_cmp_current_time(last) > 0) {
				asn1_time_text(last, when, sizeof when);
				return qsg_errf(
				    errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
				    "tls: CRL %u of %s is not valid yet (lastUpdate %s)", i,
				    cfg->crl_file, when);
			}
			if (next != NULL && X509_cmp_current_time(next) < 0) {
				asn1_time_text(next, when, sizeof when);
				return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
						"tls: CRL %u of %s expired at %s (its nextUpdate): "
						"every peer would be refused; issue a new CRL",
						i, cfg->crl_file, when);
			}
			return QSG_OK;
		}
	}
	ERR_clear_error();
	issuer_dn(issuer, dn);
	return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
			named ? "tls: CRL %u of %s: its signature does not verify with the CA "
				"\"%.200s\" of %s"
			      : "tls: CRL %u of %s: its issuer \"%.200s\" is not a CA of %s",
			i, cfg->crl_file, dn, cfg->ca_file);
}

int tls_crl_load(SSL_CTX *c, const struct tls_config *cfg, unsigned *count, char *errmsg)
{
	X509_STORE *st = SSL_CTX_get_cert_store(c);
	char what[QSG_ERRMSG_SIZE];
	unsigned n = 0;
	int rc = QSG_OK;
	BIO *b;

	*count = 0;
	if (cfg->crl_file == NULL)
		return QSG_OK;
	errno = 0;
	b = BIO_new_file(cfg->crl_file, "r");
	if (b == NULL) {
		int e = errno;
		ERR_clear_error();
		return qsg_errf(errmsg, QSG_RC_SSL_INITIALIZATION_ERROR, "tls: CRL %s: %s",
				cfg->crl_file, e != 0 ? strerror(e) : "cannot open");
	}
	for (;;) {
		X509_CRL *crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
		if (crl == NULL) {
			unsigned long e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				if (n == 0)
					rc = qsg_errf(
					    errmsg, QSG_RC_SSL_INITIALIZATION_ERROR,
					    "tls: CRL %s has no CRL in it (PEM \"-----BEGIN "
					    "X509 CRL-----\" expected)",
					    cfg->crl_file);
				break;
			}
			snprintf(what, sizeof what, "tls: CRL %u of %s unreadable", n + 1,
				 cfg->crl_file);
			rc = crl_err(errmsg, what);
			break;
		}
		rc = check_one(st, crl, cfg, n + 1, errmsg);
		if (rc == QSG_OK && X509_STORE_add_crl(st, crl) != 1) {
			snprintf(what, sizeof what, "tls: CRL %u of %s", n + 1, cfg->crl_file);
			rc = crl_err(errmsg, what);
		}
		X509_CRL_free(crl); /* the store keeps its own reference */
		if (rc != QSG_OK)
			break;
		n++;
	}
	BIO_free(b);
	if (rc != QSG_OK)
		return rc;
	X509_STORE_set_flags(st,
			     X509_V_FLAG_CRL_CHECK |
				 (cfg->crl_check == TLS_CRL_CHAIN ? X509_V_FLAG_CRL_CHECK_ALL : 0));
	*count = n;
	return QSG_OK;
}
