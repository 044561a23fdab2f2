#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const level_lower[] = {"error", "warn", "info", "debug"};

void qlog_init(struct qlog *l, FILE *out, const char *name, int level)
{
	l->out = out;
	l->level = level;
	l->format = QLOG_TEXT;
	snprintf(l->name, sizeof l->name, "%s", name != NULL && name[0] != '\0' ? name : "-");
}

void qlog_set_format(struct qlog *l, int format)
{
	l->format = format == QLOG_JSON ? QLOG_JSON : QLOG_TEXT;
}

int qlog_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_lower[i]) == 0)
			return i;
	return -1;
}

int qlog_parse_format(const char *s)
{
	if (strcmp(s, "text") == 0)
		return QLOG_TEXT;
	if (strcmp(s, "json") == 0)
		return QLOG_JSON;
	return -1;
}

const char *qlog_level_name(int level)
{
	return level >= 0 && level <= QLOG_DEBUG ? level_names[level] : "?";
}

/* Length of a valid UTF-8 sequence at p (n bytes available), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t qlog_json_escape(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)src;
	size_t n = strlen(src);
	size_t o = 0;
	char esc[8];

	if (size == 0)
		return 0;
	for (size_t i = 0; i < n;) {
		size_t elen = 0;
		size_t used = 1;
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			elen = 2;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[0] = '\\';
			esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			elen = 2;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		} else if (c < 0x80) {
			esc[0] = (char)c;
			elen = 1;
		} else {
			used = utf8_len(p + i, n - i);
			if (used == 0) {
				used = 1;
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				elen = 6;
			} else {
				memcpy(esc, p + i, used);
				elen = used;
			}
		}
		if (o + elen >= size)
			break; /* never cut an escape or a character in two */
		memcpy(dst + o, esc, elen);
		o += elen;
		i += used;
	}
	dst[o] = '\0';
	return o;
}

static void vwrite(const struct qlog *l, int level, const char *code, const char *const *kv,
		   size_t n_kv, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40];
	char text[1024];
	char line[16384];
	size_t o;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof stamp - strlen(stamp), ".%03ldZ",
		 ts.tv_nsec / 1000000L);
	vsnprintf(text, sizeof text, fmt, ap);
	if (l->format != QLOG_JSON) {
		o = (size_t)snprintf(line, sizeof line, "%s %s %s %s %s", stamp, level_names[level],
				     l->name, code, text);
		for (size_t i = 0; i + 1 < n_kv && o < sizeof line; i += 2)
			o +=
			    (size_t)snprintf(line + o, sizeof line - o, " %s=%s", kv[i], kv[i + 1]);
		/* One fprintf per line so that lines are not interleaved. */
		fprintf(l->out, "%s\n", line);
		fflush(l->out);
		return;
	}
	/* JSON: every string escaped; fields are left out (the line stays valid JSON)
	 * when they do not fit 16 KiB. */
	char name[sizeof l->name * 6 + 1];
	char id[64];
	char msg[sizeof text * 6];
	qlog_json_escape(name, sizeof name, l->name);
	qlog_json_escape(id, sizeof id, code);
	qlog_json_escape(msg, sizeof msg, text);
	o = (size_t)snprintf(line, sizeof line,
			     "{\"time\":\"%s\",\"level\":\"%s\",\"member\":\"%s\",\"id\":\"%s\","
			     "\"msg\":\"%s\"",
			     stamp, level_lower[level], name, id, msg);
	if (o >= sizeof line)
		o = sizeof line - 1;
	if (n_kv >= 2) {
		const char *sep = ",\"fields\":{";
		size_t opened = 0;
		for (size_t i = 0; i + 1 < n_kv; i += 2) {
			char k[256], v[1024], item[1400];
			qlog_json_escape(k, sizeof k, kv[i] != NULL ? kv[i] : "");
			qlog_json_escape(v, sizeof v, kv[i + 1] != NULL ? kv[i + 1] : "");
			int r = snprintf(item, sizeof item, "%s\"%s\":\"%s\"", sep, k, v);
			/* keep room for "}}" and the terminator */
			if (r < 0 || o + (size_t)r + 3 >= sizeof line)
				break;
			memcpy(line + o, item, (size_t)r);
			o += (size_t)r;
			sep = ",";
			opened = 1;
		}
		if (opened)
			line[o++] = '}';
	}
	line[o++] = '}';
	line[o] = '\0';
	fprintf(l->out, "%s\n", line);
	fflush(l->out);
}

void qlog_write(const struct qlog *l, int level, const char *code, const char *fmt, ...)
{
	va_list ap;
	if (!qlog_enabled(l, level) || level < 0)
		return;
	va_start(ap, fmt);
	vwrite(l, level, code, NULL, 0, fmt, ap);
	va_end(ap);
}

void qlog_writekv(const struct qlog *l, int level, const char *code, const char *const *kv,
		  size_t n_kv, const char *fmt, ...)
{
	va_list ap;
	if (!qlog_enabled(l, level) || level < 0)
		return;
	va_start(ap, fmt);
	vwrite(l, level, code, kv, n_kv, fmt, ap);
	va_end(ap);
}
