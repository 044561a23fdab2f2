/* MQ CipherSpecs for OpenSSL 3 (chssl.h). The table holds the names that
 * map to a TLS 1.3 or TLS 1.2 suite OpenSSL 3 has; the ANY_* names leave the
 * choice to OpenSSL within their protocol versions. The ECDHE_RSA_* specs
 * need an RSA certificate, the ECDHE_ECDSA_* ones an EC certificate (as in
 * MQ). */
#include "chssl.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* clang-format off */
static const struct chssl_spec specs[] = {
	{"ANY",                            12, 13, NULL, NULL},
	{"ANY_TLS12_OR_HIGHER",            12, 13, NULL, NULL},
	{"ANY_TLS12",                      12, 12, NULL, NULL},
	{"ANY_TLS13",                      13, 13, NULL, NULL},
	{"ANY_TLS13_OR_HIGHER",            13, 13, NULL, NULL},
	{"TLS_AES_256_GCM_SHA384",         13, 13, NULL, "TLS_AES_256_GCM_SHA384"},
	{"TLS_AES_128_GCM_SHA256",         13, 13, NULL, "TLS_AES_128_GCM_SHA256"},
	{"TLS_CHACHA20_POLY1305_SHA256",   13, 13, NULL, "TLS_CHACHA20_POLY1305_SHA256"},
	{"ECDHE_RSA_AES_256_GCM_SHA384",   12, 12, "ECDHE-RSA-AES256-GCM-SHA384", NULL},
	{"ECDHE_RSA_AES_128_GCM_SHA256",   12, 12, "ECDHE-RSA-AES128-GCM-SHA256", NULL},
	{"ECDHE_ECDSA_AES_256_GCM_SHA384", 12, 12, "ECDHE-ECDSA-AES256-GCM-SHA384", NULL},
	{"ECDHE_ECDSA_AES_128_GCM_SHA256", 12, 12, "ECDHE-ECDSA-AES128-GCM-SHA256", NULL},
	{"ECDHE_RSA_CHACHA20_POLY1305_SHA256",   12, 12, "ECDHE-RSA-CHACHA20-POLY1305", NULL},
	{"ECDHE_ECDSA_CHACHA20_POLY1305_SHA256", 12, 12, "ECDHE-ECDSA-CHACHA20-POLY1305", NULL},
};
/* clang-format on */

#define NSPECS (sizeof specs / sizeof specs[0])

/* name without the blanks around it, in out (size bytes); false if it
 * does not fit. */
static bool trimmed(const char *name, char *out, size_t size)
{
	while (*name == ' ')
		name++;
	size_t n = strlen(name);
	while (n > 0 && name[n - 1] == ' ')
		n--;
	if (n >= size)
		return false;
	memcpy(out, name, n);
	out[n] = '\0';
	return true;
}

const struct chssl_spec *chssl_find(const char *name)
{
	char t[64];
	if (name == NULL || !trimmed(name, t, sizeof t) || t[0] == '\0')
		return NULL;
	for (size_t i = 0; i < NSPECS; i++)
		if (strcasecmp(specs[i].name, t) == 0)
			return &specs[i];
	return NULL;
}

bool chssl_on(const char *sslciph)
{
	if (sslciph == NULL)
		return false;
	for (; *sslciph != '\0'; sslciph++)
		if (*sslciph != ' ')
			return true;
	return false;
}

bool chssl_negotiated_ok(const struct chssl_spec *spec, const char *version, const char *cipher)
{
	int v;
	if (spec == NULL || version == NULL || cipher == NULL)
		return false;
	if (strcmp(version, "TLSv1.3") == 0)
		v = 13;
	else if (strcmp(version, "TLSv1.2") == 0)
		v = 12;
	else
		return false;
	if (v < spec->min_version || v > spec->max_version)
		return false;
	const char *want = v == 13 ? spec->ciphersuites : spec->ciphers;
	return want == NULL || strcmp(want, cipher) == 0;
}

const char *chssl_names(void)
{
	static char buf[1024];
	if (buf[0] == '\0') {
		size_t off = 0;
		for (size_t i = 0; i < NSPECS && off < sizeof buf; i++)
			off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s",
						i > 0 ? ", " : "", specs[i].name);
	}
	return buf;
}

void chssl_peer_norm(const char *sslpeer, char *out, size_t size)
{
	size_t o = 0;
	if (size == 0)
		return;
	const char *p = sslpeer != NULL ? sslpeer : "";
	while (*p == ' ')
		p++;
	for (; *p != '\0' && o + 1 < size; p++) {
		if (*p == ' ') {
			/* drop blanks before ',' or '=' and at the end */
			const char *q = p;
			while (*q == ' ')
				q++;
			if (*q == ',' || *q == '=' || *q == '\0') {
				p = q - 1;
				continue;
			}
			out[o++] = *p;
			continue;
		}
		out[o++] = *p;
		if ((*p == ',' || *p == '=') && (o < 2 || out[o - 2] != '\\'))
			while (p[1] == ' ')
				p++; /* blanks after ',' or '=' */
	}
	out[o] = '\0';
}
