#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void qlog_init(struct qlog *l, FILE *out, const char *name, int level)
{
	l->out = out;
	l->level = level;
	snprintf(l->name, sizeof l->name, "%s", name != NULL && name[0] != '\0' ? name : "-");
}

int qlog_parse_level(const char *s)
{
	static const char *const lower[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (strcmp(s, lower[i]) == 0)
			return i;
	return -1;
}

const char *qlog_level_name(int level)
{
	return level >= 0 && level <= QLOG_DEBUG ? level_names[level] : "?";
}

void qlog_write(const struct qlog *l, int level, const char *code, const char *fmt, ...)
{
	if (!qlog_enabled(l, level))
		return;
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char text[1024];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* One fprintf per line so that lines are not interleaved. */
	fprintf(l->out, "%s.%03ldZ %s %s %s %s\n", stamp, ts.tv_nsec / 1000000L, level_names[level],
		l->name, code, text);
	fflush(l->out);
}
