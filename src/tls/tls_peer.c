/* The peer's identity: subject DN and CN of a certificate, its SHA-256
 * fingerprint, and the expect_peer match (tls_conn_init). */
#include "tls_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

static void name_dn(X509_NAME *nm, char dn[TLS_DN_SIZE])
{
	BIO *b = BIO_new(BIO_s_mem());
	int k;

	dn[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253) >= 0) {
		k = BIO_read(b, dn, TLS_DN_SIZE - 1);
		dn[k > 0 ? k : 0] = '\0';
		if (BIO_ctrl_pending(b) > 0)
			dn[0] = '\0'; /* too long to compare safely: no DN */
	}
	BIO_free(b);
}

static void name_cn(X509_NAME *nm, char cn[TLS_CN_SIZE])
{
	int i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int n;

	cn[0] = '\0';
	if (i < 0 || X509_NAME_get_index_by_NID(nm, NID_commonName, i) >= 0)
		return; /* none, or ambiguous */
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i)));
	if (n > 0 && n < TLS_CN_SIZE && memchr(utf8, '\0', (size_t)n) == NULL) {
		memcpy(cn, utf8, (size_t)n);
		cn[n] = '\0';
	}
	OPENSSL_free(utf8);
}

void tls_peer_names(X509 *x, char dn[TLS_DN_SIZE], char cn[TLS_CN_SIZE])
{
	X509_NAME *nm = x != NULL ? X509_get_subject_name(x) : NULL;

	dn[0] = '\0';
	cn[0] = '\0';
	if (nm == NULL)
		return;
	name_dn(nm, dn);
	name_cn(nm, cn);
}

void tls_peer_capture(struct tls_conn *conn)
{
	X509 *x = SSL_get0_peer_certificate(conn->ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	conn->peer_fp[0] = '\0';
	tls_peer_names(x, conn->peer_dn, conn->peer_cn);
	if (x == NULL || X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
		return;
	for (unsigned int i = 0; i < n; i++)
		snprintf(conn->peer_fp + 3 * i, TLS_FP_SIZE - 3 * i, "%02X%s", md[i],
			 i + 1 < n ? ":" : "");
}

/* dn[i] is a ',' that separates attributes (not escaped by a '\'). */
static bool is_sep(const char *dn, size_t i)
{
	size_t bs = 0;

	if (dn[i] != ',')
		return false;
	while (bs < i && dn[i - 1 - bs] == '\\')
		bs++;
	return bs % 2 == 0;
}

bool tls_peer_match(const char *expect, const char *dn, const char *cn)
{
	size_t el, dl;

	if (expect == NULL || expect[0] == '\0')
		return true;
	if (strchr(expect, '=') == NULL)
		return cn[0] != '\0' && strcmp(expect, cn) == 0;
	el = strlen(expect);
	dl = strlen(dn);
	for (size_t i = 0; i + el <= dl; i++) {
		if (memcmp(dn + i, expect, el) != 0)
			continue;
		if (i > 0 && !is_sep(dn, i - 1))
			continue;
		if (i + el < dl && !is_sep(dn, i + el))
			continue;
		return true;
	}
	return false;
}
