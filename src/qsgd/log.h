/* Daemon logging to stderr, one line per event, in one of two formats:
 *
 *   text: 2026-11-21T01:00:00.123Z INFO QM1 QSG0001I text
 *   json: {"time":"2026-11-21T01:00:00.123Z","level":"info","member":"QM1",
 *          "id":"QSG0001I","msg":"text","fields":{"k":"v"}}
 *
 * (json: one object per line; "fields" only when the caller gave some).
 * The logger is a plain struct passed to every module (no global state).
 * The message-id catalogue is in docs/observability.md. */
#ifndef QSGD_LOG_H
#define QSGD_LOG_H

#include <stddef.h>
#include <stdio.h>

enum qlog_level { QLOG_ERROR = 0, QLOG_WARN = 1, QLOG_INFO = 2, QLOG_DEBUG = 3 };
enum qlog_format { QLOG_TEXT = 0, QLOG_JSON = 1 };

struct qlog {
	FILE *out; /* stderr unless a test redirects it */
	int level; /* lines above this level are dropped */
	int format; /* enum qlog_format; QLOG_TEXT after qlog_init */
	char name[64]; /* queue manager name */
};

void qlog_init(struct qlog *l, FILE *out, const char *name, int level);
void qlog_set_format(struct qlog *l, int format);
/* Parse "error", "warn", "info", "debug"; returns -1 if unknown. */
int qlog_parse_level(const char *s);
/* Parse "text", "json"; returns -1 if unknown. */
int qlog_parse_format(const char *s);
const char *qlog_level_name(int level);
static inline int qlog_enabled(const struct qlog *l, int level)
{
	return level <= l->level;
}
/* code: message identifier such as "QSG0001I". */
void qlog_write(const struct qlog *l, int level, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with structured fields: kv holds n_kv/2 key, value string pairs
 * (JSON: the "fields" object; text: " key=value" appended to the line). */
void qlog_writekv(const struct qlog *l, int level, const char *code, const char *const *kv,
		  size_t n_kv, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* JSON string escaping (without the quotes) of src into dst (size > 0):
 * ", \ and control characters escaped, bytes >= 0x80 copied (UTF-8 passes
 * through; invalid UTF-8 bytes become \u00XX). Always NUL-terminates; a
 * truncated result never ends in the middle of an escape. Returns the
 * length written. */
size_t qlog_json_escape(char *dst, size_t size, const char *src);

#define QLOG_ERR(l, code, ...) qlog_write((l), QLOG_ERROR, (code), __VA_ARGS__)
#define QLOG_WARNING(l, code, ...) qlog_write((l), QLOG_WARN, (code), __VA_ARGS__)
#define QLOG_INFO_(l, code, ...) qlog_write((l), QLOG_INFO, (code), __VA_ARGS__)
#define QLOG_DBG(l, code, ...)                                                                     \
	do {                                                                                       \
		if (qlog_enabled((l), QLOG_DEBUG))                                                 \
			qlog_write((l), QLOG_DEBUG, (code), __VA_ARGS__);                          \
	} while (0)

#endif
