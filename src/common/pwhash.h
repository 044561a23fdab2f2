/* Password hashes (docs/security.md "Authentication"): PBKDF2-HMAC-SHA256
 * with OpenSSL (PKCS5_PBKDF2_HMAC), a 16-byte random salt and a 32-byte
 * hash. Slow on purpose (tens of milliseconds at the default count): qsgd
 * calls pwhash_make and pwhash_verify in libuv's thread pool, never on its
 * loop. The text form, for [security] admin_password_hash and
 * `qsgadm --hash-password`:
 *   pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>
 * Thread-safe, no global state. */
#ifndef QSG_PWHASH_H
#define QSG_PWHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PWHASH_SALT_LEN 16
#define PWHASH_HASH_LEN 32
#define PWHASH_ITER_DEFAULT 100000
#define PWHASH_ITER_MIN 10000
#define PWHASH_ITER_MAX 100000000u
#define PWHASH_TEXT_MAX 160 /* the text form, NUL included */
#define PWHASH_PASSWORD_MAX 256 /* longest password accepted anywhere */

struct pwhash {
	uint32_t iterations;
	uint8_t salt[PWHASH_SALT_LEN];
	uint8_t hash[PWHASH_HASH_LEN];
};

/* A new salt (RAND_bytes) and the hash of password (len bytes) with it.
 * QSG_OK, QSG_RC_INVALID (iterations out of range, password too long) or
 * QSG_RC_UNEXPECTED_ERROR (OpenSSL failed). */
int pwhash_make(const char *password, size_t len, uint32_t iterations, struct pwhash *out,
		char *errmsg);
/* The hash of password with h's salt and count, compared with h's in
 * constant time: true when equal. */
bool pwhash_verify(const struct pwhash *h, const char *password, size_t len);
/* Text form (out has PWHASH_TEXT_MAX bytes) and its parser (QSG_OK or
 * QSG_RC_INVALID with errmsg: every field checked). */
void pwhash_format(const struct pwhash *h, char *out);
int pwhash_parse(const char *text, struct pwhash *out, char *errmsg);
/* Wipe memory that held a password (OPENSSL_cleanse: not optimised away). */
void pwhash_wipe(void *p, size_t n);

#endif
