/* Authority profiles (authmatch.h). */
#include "authmatch.h"

#include <string.h>

/* The characters of MQ object names. */
static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '/' || c == '%';
}

bool authmatch_generic(const char *p)
{
	return strpbrk(p, "?*") != NULL;
}

const char *authmatch_why(const char *p)
{
	size_t n = strlen(p);
	if (n == 0)
		return "is empty";
	if (n > AUTH_PROFILE_MAX)
		return "is longer than 48 characters";
	unsigned dstar = 0;
	const char *q = p; /* start of the current qualifier */
	for (size_t i = 0; i <= n; i++) {
		char c = p[i];
		if (c == '.' || c == '\0') {
			size_t len = (size_t)(p + i - q);
			if (len == 0)
				return "has an empty qualifier (two dots, or a dot at an end)";
			const char *ds = strstr(q, "**");
			if (ds != NULL && ds < p + i) {
				if (len != 2)
					return "has ** inside a qualifier (it stands alone: A.**, "
					       "**.B, A.**.B)";
				dstar++;
			}
			q = p + i + 1;
			continue;
		}
		if (c != '?' && c != '*' && !name_char(c))
			return "has a character that is not in MQ object names (A-Z a-z "
			       "0-9 . _ / %) nor a wildcard (? * **)";
	}
	/* "***" has a "**" in a qualifier of length 3: refused above. */
	return dstar <= 1 ? NULL : "has ** more than once";
}

bool authmatch_valid(const char *p)
{
	return authmatch_why(p) == NULL;
}

/* One qualifier: pattern [p, pe) (with ? and *) against [s, se). */
static bool qual_match(const char *p, const char *pe, const char *s, const char *se)
{
	while (p < pe) {
		if (*p == '*') {
			p++;
			if (p == pe)
				return true;
			for (const char *t = s; t <= se; t++)
				if (qual_match(p, pe, t, se))
					return true;
			return false;
		}
		if (s == se)
			return false;
		if (*p != '?' && *p != *s)
			return false;
		p++;
		s++;
	}
	return s == se;
}

static const char *qual_end(const char *s)
{
	const char *e = strchr(s, '.');
	return e != NULL ? e : s + strlen(s);
}

/* Qualifier lists: p and s each point at the start of a qualifier, or at
 * the end of their string. */
static bool list_match(const char *p, const char *s)
{
	if (*p == '\0')
		return *s == '\0';
	const char *pe = qual_end(p);
	const char *pn = *pe == '.' ? pe + 1 : pe;
	if (pe - p == 2 && p[0] == '*' && p[1] == '*') {
		/* zero or more whole qualifiers of s */
		const char *t = s;
		for (;;) {
			if (list_match(pn, t))
				return true;
			if (*t == '\0')
				return false;
			const char *te = qual_end(t);
			t = *te == '.' ? te + 1 : te;
		}
	}
	if (*s == '\0')
		return false;
	const char *se = qual_end(s);
	if (!qual_match(p, pe, s, se))
		return false;
	const char *sn = *se == '.' ? se + 1 : se;
	/* "A." with nothing after the dot is no name; "A.**" matched "A"
	 * through the branch above when *pe == '.' and pn is "**". */
	if (*pe == '.' && *se != '.') {
		/* the profile goes on, the name ended: only a trailing "**" */
		return strcmp(pn, "**") == 0;
	}
	if (*pe != '.' && *se == '.')
		return false;
	return list_match(pn, sn);
}

bool authmatch(const char *profile, const char *name)
{
	if (!authmatch_generic(profile))
		return strcmp(profile, name) == 0;
	return list_match(profile, name);
}

/* Rank of the element at p: 3 literal, 2 '?', 1 '*', 0 "**"; *len is the
 * number of characters it takes. */
static int rank(const char *p, size_t *len)
{
	*len = 1;
	if (p[0] == '*' && p[1] == '*') {
		*len = 2;
		return 0;
	}
	if (p[0] == '*')
		return 1;
	if (p[0] == '?')
		return 2;
	return 3;
}

int authmatch_cmp(const char *a, const char *b)
{
	bool ga = authmatch_generic(a), gb = authmatch_generic(b);
	if (ga != gb)
		return ga ? 1 : -1;
	const char *x = a, *y = b;
	while (*x != '\0' && *y != '\0') {
		size_t lx, ly;
		int rx = rank(x, &lx), ry = rank(y, &ly);
		if (rx != ry)
			return rx > ry ? -1 : 1;
		x += lx;
		y += ly;
	}
	size_t na = strlen(a), nb = strlen(b);
	if (na != nb)
		return na > nb ? -1 : 1;
	return strcmp(a, b);
}
