/* Daemon logging to stderr, one line per event:
 *   2026-11-21T01:00:00.123Z INFO QM1 QSG1001I text
 * The logger is a plain struct passed to every module (no global state). */
#ifndef QSGD_LOG_H
#define QSGD_LOG_H

#include <stdio.h>

enum qlog_level { QLOG_ERROR = 0, QLOG_WARN = 1, QLOG_INFO = 2, QLOG_DEBUG = 3 };

struct qlog {
	FILE *out; /* stderr unless a test redirects it */
	int level; /* lines above this level are dropped */
	char name[64]; /* queue manager name */
};

void qlog_init(struct qlog *l, FILE *out, const char *name, int level);
/* Parse "error", "warn", "info", "debug"; returns -1 if unknown. */
int qlog_parse_level(const char *s);
const char *qlog_level_name(int level);
static inline int qlog_enabled(const struct qlog *l, int level)
{
	return level <= l->level;
}
/* code: message identifier such as "QSG0001I". */
void qlog_write(const struct qlog *l, int level, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define QLOG_ERR(l, code, ...) qlog_write((l), QLOG_ERROR, (code), __VA_ARGS__)
#define QLOG_WARNING(l, code, ...) qlog_write((l), QLOG_WARN, (code), __VA_ARGS__)
#define QLOG_INFO_(l, code, ...) qlog_write((l), QLOG_INFO, (code), __VA_ARGS__)
#define QLOG_DBG(l, code, ...)                                                                     \
	do {                                                                                       \
		if (qlog_enabled((l), QLOG_DEBUG))                                                 \
			qlog_write((l), QLOG_DEBUG, (code), __VA_ARGS__);                          \
	} while (0)

#endif
