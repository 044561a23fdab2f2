/* Password hashes: see pwhash.h. */
#include "pwhash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qsg_err.h"

#define PREFIX "pbkdf2-sha256$"

static int derive(const char *password, size_t len, const struct pwhash *h, uint8_t *out)
{
	return PKCS5_PBKDF2_HMAC(password, (int)len, h->salt, PWHASH_SALT_LEN, (int)h->iterations,
				 EVP_sha256(), PWHASH_HASH_LEN, out) == 1
		   ? QSG_OK
		   : QSG_RC_UNEXPECTED_ERROR;
}

int pwhash_make(const char *password, size_t len, uint32_t iterations, struct pwhash *out,
		char *errmsg)
{
	memset(out, 0, sizeof *out);
	if (iterations < PWHASH_ITER_MIN || iterations > PWHASH_ITER_MAX)
		return qsg_errf(errmsg, QSG_RC_INVALID, "iteration count %u out of range %u..%u",
				iterations, PWHASH_ITER_MIN, PWHASH_ITER_MAX);
	if (len > PWHASH_PASSWORD_MAX)
		return qsg_errf(errmsg, QSG_RC_INVALID, "password longer than %d bytes",
				PWHASH_PASSWORD_MAX);
	out->iterations = iterations;
	if (RAND_bytes(out->salt, PWHASH_SALT_LEN) != 1)
		return qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR, "RAND_bytes failed");
	if (derive(password, len, out, out->hash) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR, "PKCS5_PBKDF2_HMAC failed");
	return QSG_OK;
}

bool pwhash_verify(const struct pwhash *h, const char *password, size_t len)
{
	uint8_t got[PWHASH_HASH_LEN];
	if (h->iterations < PWHASH_ITER_MIN || h->iterations > PWHASH_ITER_MAX ||
	    len > PWHASH_PASSWORD_MAX || derive(password, len, h, got) != QSG_OK)
		return false;
	bool ok = CRYPTO_memcmp(got, h->hash, PWHASH_HASH_LEN) == 0;
	OPENSSL_cleanse(got, sizeof got);
	return ok;
}

void pwhash_format(const struct pwhash *h, char *out)
{
	unsigned char s[32], d[64];
	EVP_EncodeBlock(s, h->salt, PWHASH_SALT_LEN);
	EVP_EncodeBlock(d, h->hash, PWHASH_HASH_LEN);
	snprintf(out, PWHASH_TEXT_MAX, PREFIX "%u$%s$%s", h->iterations, (const char *)s,
		 (const char *)d);
}

/* Standard base64 of exactly n bytes (with its padding). */
static bool b64_exact(const char *p, size_t plen, uint8_t *out, size_t n)
{
	unsigned char buf[64];
	size_t want = 4 * ((n + 2) / 3);
	if (plen != want || plen > sizeof buf)
		return false;
	for (size_t i = 0; i < plen; i++) {
		char c = p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || (c == '=' && i >= plen - 2)))
			return false;
	}
	int got = EVP_DecodeBlock(buf, (const unsigned char *)p, (int)plen);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (got != (int)(3 * (plen / 4)))
		return false;
	size_t pad = (p[plen - 1] == '=') + (p[plen - 2] == '=');
	if ((size_t)got - pad != n)
		return false;
	memcpy(out, buf, n);
	return true;
}

int pwhash_parse(const char *text, struct pwhash *out, char *errmsg)
{
	memset(out, 0, sizeof *out);
	if (text == NULL || strncmp(text, PREFIX, strlen(PREFIX)) != 0)
		return qsg_errf(errmsg, QSG_RC_INVALID,
				"a password hash starts with " PREFIX " (qsgadm --hash-password)");
	const char *p = text + strlen(PREFIX);
	const char *d1 = strchr(p, '$');
	const char *d2 = d1 != NULL ? strchr(d1 + 1, '$') : NULL;
	if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '$') != NULL)
		return qsg_errf(errmsg, QSG_RC_INVALID,
				"a password hash is " PREFIX "<iterations>$<salt>$<hash>");
	unsigned long it = 0;
	size_t nd = (size_t)(d1 - p);
	if (nd == 0 || nd > 9)
		return qsg_errf(errmsg, QSG_RC_INVALID, "bad iteration count");
	for (size_t i = 0; i < nd; i++) {
		if (p[i] < '0' || p[i] > '9')
			return qsg_errf(errmsg, QSG_RC_INVALID, "bad iteration count");
		it = it * 10 + (unsigned long)(p[i] - '0');
	}
	if (it < PWHASH_ITER_MIN || it > PWHASH_ITER_MAX)
		return qsg_errf(errmsg, QSG_RC_INVALID, "iteration count %lu out of range %u..%u",
				it, PWHASH_ITER_MIN, PWHASH_ITER_MAX);
	out->iterations = (uint32_t)it;
	if (!b64_exact(d1 + 1, (size_t)(d2 - d1 - 1), out->salt, PWHASH_SALT_LEN))
		return qsg_errf(errmsg, QSG_RC_INVALID, "the salt is not %d bytes of base64",
				PWHASH_SALT_LEN);
	if (!b64_exact(d2 + 1, strlen(d2 + 1), out->hash, PWHASH_HASH_LEN))
		return qsg_errf(errmsg, QSG_RC_INVALID, "the hash is not %d bytes of base64",
				PWHASH_HASH_LEN);
	return QSG_OK;
}

void pwhash_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}
