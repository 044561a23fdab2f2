/* Channel authentication rules: patterns and precedence (see chlmatch.h). */
#include "chlmatch.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* '*' matches any characters; icase: compared without case. */
static bool glob(const char *p, const char *s, bool icase)
{
	const char *star = NULL, *back = NULL;
	while (*s != '\0') {
		if (*p == '*') {
			star = ++p;
			back = s;
		} else if (*p != '\0' && (icase ? lower(*p) == lower(*s) : *p == *s)) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star;
			s = ++back;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static size_t first_star(const char *p)
{
	const char *s = strchr(p, '*');
	return s != NULL ? (size_t)(s - p) : strlen(p);
}

static size_t count_char(const char *p, char c)
{
	size_t n = 0;
	for (; *p != '\0'; p++)
		n += *p == c;
	return n;
}

/* --- channel profiles ----------------------------------------------------- */

const char *chlmatch_profile_why(const char *profile)
{
	size_t n = strlen(profile);
	if (n == 0 || n > FSM_NAME_MAX)
		return "must be 1 to 48 characters";
	for (const char *p = profile; *p != '\0'; p++) {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '/' || c == '_' || c == '%' || c == '*'))
			return "has a character that is not A-Z a-z 0-9 . / _ % or *";
	}
	return NULL;
}

bool chlmatch_profile(const char *profile, const char *channel)
{
	return glob(profile, channel, false);
}

int chlmatch_profile_cmp(const char *a, const char *b)
{
	bool ga = strchr(a, '*') != NULL, gb = strchr(b, '*') != NULL;
	if (ga != gb)
		return ga ? 1 : -1;
	size_t fa = first_star(a), fb = first_star(b);
	if (fa != fb)
		return fa > fb ? -1 : 1;
	size_t la = strlen(a) - count_char(a, '*'), lb = strlen(b) - count_char(b, '*');
	if (la != lb)
		return la > lb ? -1 : 1;
	return strcmp(a, b);
}

/* --- addresses ------------------------------------------------------------ */

struct v4part {
	unsigned lo, hi;
};

/* An IPv4 address or pattern: 4 parts (a trailing "*" fills the rest).
 * pattern: ranges and '*' allowed. false when s is not one. */
static bool parse_v4(const char *s, bool pattern, struct v4part out[4])
{
	unsigned n = 0;
	const char *p = s;
	for (;;) {
		if (n == 4)
			return false;
		if (pattern && *p == '*') {
			p++;
			if (*p == '\0') {
				for (; n < 4; n++)
					out[n] = (struct v4part){0, 255};
				return true;
			}
			out[n++] = (struct v4part){0, 255};
		} else {
			unsigned v[2], k = 0;
			for (;;) {
				unsigned x = 0, d = 0;
				while (*p >= '0' && *p <= '9' && d < 4) {
					x = x * 10 + (unsigned)(*p++ - '0');
					d++;
				}
				if (d == 0 || d > 3 || x > 255)
					return false;
				v[k++] = x;
				if (pattern && k == 1 && *p == '-') {
					p++;
					continue;
				}
				break;
			}
			if (k == 2 && v[0] > v[1])
				return false;
			out[n++] = (struct v4part){v[0], k == 2 ? v[1] : v[0]};
		}
		if (*p == '\0')
			return n == 4;
		if (*p++ != '.')
			return false;
	}
}

/* "::ffff:10.1.2.3" (an IPv4 peer on a dual-stack socket) is 10.1.2.3. */
static const char *v4_of(const char *addr)
{
	if (strncmp(addr, "::ffff:", 7) == 0 || strncmp(addr, "::FFFF:", 7) == 0)
		return addr + 7;
	return addr;
}

static bool other_ok(const char *p)
{
	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++) {
		char c = lower(*p);
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.' ||
		      c == '*'))
			return false;
	}
	return true;
}

const char *chlmatch_addr_why(const char *pattern)
{
	struct v4part v[4];
	size_t n = strlen(pattern);
	if (n == 0 || n > FSM_CHL_ADDR_MAX)
		return "must be 1 to 64 characters";
	if (strcmp(pattern, "*") == 0 || parse_v4(pattern, true, v))
		return NULL;
	if (strchr(pattern, ':') != NULL && other_ok(pattern))
		return NULL; /* IPv6 text with '*' */
	return "is not an address pattern (IPv4 parts n, n-m or *, for example 10.0.0.1-20 or "
	       "192.168.*; or IPv6 text with *)";
}

bool chlmatch_addr(const char *pattern, const char *addr)
{
	struct v4part p[4], a[4];
	if (strcmp(pattern, "*") == 0)
		return true;
	if (parse_v4(pattern, true, p)) {
		if (!parse_v4(v4_of(addr), false, a))
			return false;
		for (int i = 0; i < 4; i++)
			if (a[i].lo < p[i].lo || a[i].lo > p[i].hi)
				return false;
		return true;
	}
	return glob(pattern, addr, true);
}

int chlmatch_addr_cmp(const char *a, const char *b)
{
	struct v4part pa[4], pb[4];
	bool any_a = strcmp(a, "*") == 0, any_b = strcmp(b, "*") == 0;
	if (any_a != any_b)
		return any_a ? 1 : -1;
	bool va = parse_v4(a, true, pa), vb = parse_v4(b, true, pb);
	if (va && vb) {
		for (int i = 0; i < 4; i++) {
			unsigned wa = pa[i].hi - pa[i].lo, wb = pb[i].hi - pb[i].lo;
			if (wa != wb)
				return wa < wb ? -1 : 1;
		}
	} else if (!va && !vb) {
		size_t fa = first_star(a), fb = first_star(b);
		if (fa != fb)
			return fa > fb ? -1 : 1;
	}
	return strcmp(a, b);
}

/* The next item of a comma-separated list into buf; NULL at the end. */
static const char *next_item(const char *p, char *buf, size_t size, bool *ok)
{
	if (*p == '\0')
		return NULL;
	const char *e = strchr(p, ',');
	size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
	*ok = n > 0 && n < size;
	if (*ok) {
		memcpy(buf, p, n);
		buf[n] = '\0';
	} else {
		buf[0] = '\0';
	}
	return e != NULL ? e + 1 : p + n;
}

const char *chlmatch_addrlist_why(const char *list)
{
	char item[FSM_CHL_ADDR_MAX + 2];
	size_t n = strlen(list);
	bool ok = true;
	if (n == 0 || n > FSM_CHL_ADDRLIST_MAX)
		return "must list 1 to 256 characters of address patterns";
	if (list[n - 1] == ',')
		return "has an empty address pattern";
	for (const char *p = list; (p = next_item(p, item, sizeof item, &ok)) != NULL;) {
		if (!ok)
			return "has an empty or too long address pattern";
		const char *why = chlmatch_addr_why(item);
		if (why != NULL)
			return why;
	}
	return NULL;
}

bool chlmatch_addrlist(const char *list, const char *addr, char *out, size_t size)
{
	char item[FSM_CHL_ADDR_MAX + 2];
	bool ok = true;
	for (const char *p = list; (p = next_item(p, item, sizeof item, &ok)) != NULL;)
		if (ok && chlmatch_addr(item, addr)) {
			if (out != NULL && size > 0) {
				strncpy(out, item, size - 1);
				out[size - 1] = '\0';
			}
			return true;
		}
	return false;
}

/* --- SSLPEER -------------------------------------------------------------- */

struct dnpair {
	char attr[16];
	char value[FSM_CHL_PEER_MAX + 1];
};

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	while (s[i] == ' ')
		i++;
	memmove(s, s + i, n - i + 1);
}

/* Split "A=v,B=w" (a backslash escapes the next character, as RFC 2253
 * writes a ',' inside a value) into at most max pairs; -1 when malformed. */
static int split_dn(const char *s, struct dnpair *out, int max)
{
	int n = 0;
	char buf[FSM_CHL_PEER_MAX + 1];
	size_t k = 0;
	for (const char *p = s;; p++) {
		if (*p == '\\' && p[1] != '\0') {
			if (k + 2 >= sizeof buf)
				return -1;
			buf[k++] = *p++;
			buf[k++] = *p;
			continue;
		}
		if (*p != ',' && *p != '\0') {
			if (k + 1 >= sizeof buf)
				return -1;
			buf[k++] = *p;
			continue;
		}
		buf[k] = '\0';
		k = 0;
		char *eq = strchr(buf, '=');
		if (eq == NULL || n == max)
			return -1;
		*eq = '\0';
		trim(buf);
		trim(eq + 1);
		if (buf[0] == '\0' || eq[1] == '\0' || strlen(buf) >= sizeof out[n].attr)
			return -1;
		strcpy(out[n].attr, buf);
		strcpy(out[n].value, eq + 1);
		n++;
		if (*p == '\0')
			return n;
	}
}

#define DN_PAIRS_MAX 16

const char *chlmatch_peer_why(const char *pattern)
{
	struct dnpair *v = calloc(DN_PAIRS_MAX, sizeof *v);
	size_t n = strlen(pattern);
	const char *why = NULL;
	if (n == 0 || n > FSM_CHL_PEER_MAX)
		why = "must be 1 to 256 characters";
	else if (v == NULL)
		why = "could not be checked (out of memory)";
	else if (split_dn(pattern, v, DN_PAIRS_MAX) < 0)
		why = "is not a list of ATTR=value pairs (for example CN=app*,O=acme), 16 at most";
	free(v);
	return why;
}

static bool value_match(const char *pat, const char *val)
{
	size_t n = strlen(pat);
	if (n > 0 && pat[n - 1] == '*')
		return strncasecmp(pat, val, n - 1) == 0;
	return strcasecmp(pat, val) == 0;
}

bool chlmatch_peer(const char *pattern, const char *dn)
{
	struct dnpair *p = calloc(2 * DN_PAIRS_MAX, sizeof *p), *d = p + DN_PAIRS_MAX;
	bool ok = false;
	int np, nd;
	if (p == NULL || dn == NULL || dn[0] == '\0' ||
	    (np = split_dn(pattern, p, DN_PAIRS_MAX)) < 0 ||
	    (nd = split_dn(dn, d, DN_PAIRS_MAX)) < 0)
		goto out;
	for (int i = 0; i < np; i++) {
		bool found = false;
		for (int j = 0; j < nd && !found; j++)
			found = strcasecmp(p[i].attr, d[j].attr) == 0 &&
				value_match(p[i].value, d[j].value);
		if (!found)
			goto out;
	}
	ok = true;
out:
	free(p);
	return ok;
}

int chlmatch_peer_cmp(const char *a, const char *b)
{
	size_t pa = count_char(a, '='), pb = count_char(b, '=');
	if (pa != pb)
		return pa > pb ? -1 : 1;
	size_t sa = count_char(a, '*'), sb = count_char(b, '*');
	if (sa != sb)
		return sa < sb ? -1 : 1;
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return la > lb ? -1 : 1;
	return strcmp(a, b);
}

/* --- precedence ----------------------------------------------------------- */

static int type_rank(unsigned type)
{
	return type == FSM_CHL_SSLPEERMAP ? 0 : type == FSM_CHL_USERMAP ? 1 : 2;
}

/* < 0 when map a applies rather than map b. */
static int map_cmp(const struct fsm_chlauth *a, const struct fsm_chlauth *b)
{
	int c = chlmatch_profile_cmp(a->profile, b->profile);
	if (c != 0)
		return c;
	if (a->type != b->type)
		return type_rank(a->type) - type_rank(b->type);
	if (a->type == FSM_CHL_SSLPEERMAP && (c = chlmatch_peer_cmp(a->sslpeer, b->sslpeer)) != 0)
		return c;
	return chlmatch_addr_cmp(a->address, b->address);
}

static bool map_matches(const struct fsm_chlauth *r, const struct chl_in *in)
{
	if (!chlmatch_profile(r->profile, in->channel) || !chlmatch_addr(r->address, in->address))
		return false;
	switch (r->type) {
	case FSM_CHL_ADDRESSMAP:
		return true;
	case FSM_CHL_SSLPEERMAP:
		return in->sslpeer != NULL && in->sslpeer[0] != '\0' &&
		       chlmatch_peer(r->sslpeer, in->sslpeer);
	case FSM_CHL_USERMAP:
		return in->clntuser != NULL && in->clntuser[0] != '\0' &&
		       strcasecmp(r->clntuser, in->clntuser) == 0;
	default:
		return false;
	}
}

static void warned(struct chl_result *out, const struct fsm_chlauth *r)
{
	if (out->nwarned < CHL_WARN_MAX)
		out->warned[out->nwarned++] = r;
}

void chlmatch_decide(const struct fsm_chlauth *rules, size_t n, const struct chl_in *in,
		     bool only_blockaddr, struct chl_result *out)
{
	memset(out, 0, sizeof *out);
	out->mcauser = "";
	const char *addr = in->address != NULL ? in->address : "";
	for (size_t i = 0; i < n; i++) {
		const struct fsm_chlauth *r = &rules[i];
		char pat[FSM_CHL_ADDR_MAX + 1];
		if (r->type != FSM_CHL_BLOCKADDR ||
		    !chlmatch_addrlist(r->addrlist, addr, pat, sizeof pat))
			continue;
		if (r->warn) {
			warned(out, r);
			continue;
		}
		out->verdict = CHL_BLOCKADDR;
		out->rule = r;
		memcpy(out->blocked_by, pat, sizeof out->blocked_by);
		return;
	}
	if (only_blockaddr || in->channel == NULL)
		return;
	struct chl_in x = *in;
	x.address = addr;
	const struct fsm_chlauth *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct fsm_chlauth *r = &rules[i];
		if (r->type != FSM_CHL_BLOCKADDR && map_matches(r, &x) &&
		    (best == NULL || map_cmp(r, best) < 0))
			best = r;
	}
	if (best == NULL)
		return;
	out->rule = best;
	if (best->usersrc == FSM_CHL_MAP) {
		out->mcauser = best->mcauser;
	} else if (best->usersrc == FSM_CHL_NOACCESS) {
		if (best->warn)
			warned(out, best);
		else
			out->verdict = CHL_NOACCESS;
	}
}

const char *chlmatch_type_name(unsigned type)
{
	static const char *const names[] = {"?", "BLOCKADDR", "ADDRESSMAP", "SSLPEERMAP",
					    "USERMAP"};
	return type < 5 ? names[type] : "?";
}

const char *chlmatch_usersrc_name(unsigned usersrc)
{
	static const char *const names[] = {"?", "MAP", "NOACCESS", "CHANNEL"};
	return usersrc < 4 ? names[usersrc] : "?";
}
