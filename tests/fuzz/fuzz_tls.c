/* libFuzzer target for the TLS engine: arbitrary bytes as the first flight a
 * server engine receives (where a ClientHello belongs), fed whole or in
 * pieces whose size the first input byte chooses. The engine may refuse the
 * bytes but must never crash, trip a sanitizer, leave a failed connection
 * without a reason, or hold more than its caps. The server's key and a
 * self-signed certificate (also its CA) are made once with the OpenSSL API in
 * a temporary directory removed at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls/tls.h"

static char dir[64] = "/tmp/qsg-fuzz-tls-XXXXXX";
static char key_path[128], crt_path[128];
static struct tls_ctx ctx;

static void cleanup(void)
{
	tls_ctx_close(&ctx);
	unlink(key_path);
	unlink(crt_path);
	rmdir(dir);
}

static void make_cert(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *nm;
	FILE *f;

	if (k == NULL || x == NULL)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1,
				   0);
	X509_set_issuer_name(x, nm);
	if (X509_sign(x, k, EVP_sha256()) == 0)
		abort();
	f = fopen(key_path, "w");
	if (f == NULL || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	fclose(f);
	f = fopen(crt_path, "w");
	if (f == NULL || PEM_write_X509(f, x) != 1)
		abort();
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tls_config cfg = {.role = TLS_SERVER, .verify = TLS_VERIFY_OPTIONAL};
	char err[QSG_ERRMSG_SIZE];

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(key_path, sizeof key_path, "%s/fuzz.key", dir);
	snprintf(crt_path, sizeof crt_path, "%s/fuzz.crt", dir);
	make_cert();
	cfg.key_file = key_path;
	cfg.cert_file = crt_path;
	cfg.ca_file = crt_path;
	if (tls_ctx_init(&ctx, &cfg, err) != QSG_OK) {
		fprintf(stderr, "fuzz_tls: %s\n", err);
		abort();
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_conn c;
	char err[QSG_ERRMSG_SIZE];
	unsigned char out[4096];
	size_t piece, got, n;
	const void *p;

	uint8_t mode;

	if (size == 0)
		return 0;
	mode = data[0];
	data++;
	size--;
	piece = (size_t)(mode % 8) * 37 + 1; /* 1, 38, 75, ... */
	if (mode & 0x80)
		piece = size > 0 ? size : 1;
	if (tls_conn_init(&c, &ctx, (mode & 0x40) ? "fuzz" : NULL, err) != QSG_OK)
		abort();
	for (size_t off = 0; off < size && !tls_conn_failed(&c); off += piece) {
		size_t k = size - off < piece ? size - off : piece;
		int rc = tls_conn_feed(&c, data + off, k);
		if (rc != QSG_OK && rc != QSG_RC_TLS_FAILED &&
		    rc != QSG_RC_SSL_PEER_NAME_MISMATCH && rc != QSG_RC_TLS_BUFFER_FULL)
			abort();
		tls_conn_pending(&c, &p, &n);
		if (n > 3 * (size_t)TLS_BUF_CAP)
			abort();
		tls_conn_consume(&c, n);
		while (tls_conn_read(&c, out, sizeof out, &got) == QSG_OK && got > 0) {
		}
	}
	if (tls_conn_failed(&c) && tls_conn_reason(&c)[0] == '\0')
		abort();
	if (tls_conn_handshake_done(&c) && !tls_conn_failed(&c))
		abort(); /* random bytes cannot finish a handshake */
	tls_conn_write(&c, "x", 1);
	tls_conn_shutdown(&c);
	tls_conn_eof(&c);
	tls_conn_close(&c);
	return 0;
}
