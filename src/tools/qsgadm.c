/* qsgadm: run MQSC commands against a queue-sharing group, like runmqsc.
 *
 *   qsgadm [-c CONN] [-f FILE] [--json]
 *
 * Reads commands from FILE or stdin: lines starting with '*' are comments,
 * blank lines are skipped, a trailing '-' continues the command on the next
 * line keeping its leading blanks, a trailing '+' continues it with the next
 * line's leading blanks removed. Each command is sent to the group (the
 * member is the authority on syntax) and its reply printed in MQSC style or,
 * with --json, as one JSON object per line.
 *
 * Exit status: 0 every command succeeded, 1 some command failed, 2 could
 * not connect (or bad usage / unreadable input). See docs/admin.md. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libqsg/qsg.h"

#define TEXT_SIZE 4096
#define MQSC_COLUMN 40 /* width of the left attribute column, as runmqsc */

/* Growable string. */
struct strbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_adds(struct strbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_reset(struct strbuf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

static const char *sb_str(const struct strbuf *b)
{
	return b->p != NULL ? b->p : "";
}

/* JSON string literal (quotes included). Non-ASCII bytes are escaped as
 * \u00XX so the output is always valid ASCII JSON. */
static void sb_json_str(struct strbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"':
			sb_add(b, "\\\"", 2);
			break;
		case '\\':
			sb_add(b, "\\\\", 2);
			break;
		case '\n':
			sb_add(b, "\\n", 2);
			break;
		case '\r':
			sb_add(b, "\\r", 2);
			break;
		case '\t':
			sb_add(b, "\\t", 2);
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				sb_printf(b, "\\u%04x", (unsigned)c);
			else
				sb_add(b, (const char *)&c, 1);
		}
	}
	sb_add(b, "\"", 1);
}

/* ------------------------------------------------------------------------
 * Input: MQSC lines -> commands
 * ------------------------------------------------------------------------ */

struct reader {
	FILE *in;
	char *line;
	size_t cap;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Read the next command into cmd. Returns 1 with a command, 0 at the end,
 * -1 on a read error. */
static int read_command(struct reader *r, struct strbuf *cmd)
{
	enum { NONE, MINUS, PLUS } cont = NONE;

	sb_reset(cmd);
	for (;;) {
		errno = 0;
		ssize_t n = getline(&r->line, &r->cap, r->in);
		if (n < 0) {
			if (ferror(r->in))
				return -1;
			return cont != NONE && cmd->len > 0 ? 1 : 0;
		}
		size_t len = (size_t)n;
		char *s = r->line;
		while (len > 0 &&
		       (s[len - 1] == '\n' || s[len - 1] == '\r' || is_blank(s[len - 1])))
			len--;
		s[len] = '\0';
		if (cont == NONE) {
			if (s[0] == '*')
				continue;
			size_t i = 0;
			while (i < len && is_blank(s[i]))
				i++;
			if (i == len)
				continue;
		}
		if (cont == PLUS) {
			while (len > 0 && is_blank(*s)) {
				s++;
				len--;
			}
		}
		if (len > 0 && (s[len - 1] == '-' || s[len - 1] == '+')) {
			cont = s[len - 1] == '-' ? MINUS : PLUS;
			sb_add(cmd, s, len - 1);
			continue;
		}
		sb_add(cmd, s, len);
		/* A command of blanks only (after continuation) is skipped. */
		size_t i = 0;
		while (i < cmd->len && is_blank(cmd->p[i]))
			i++;
		if (i == cmd->len) {
			sb_reset(cmd);
			cont = NONE;
			continue;
		}
		return 1;
	}
}

/* ------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------ */

struct objs {
	bool json;
	struct strbuf out;
	unsigned count;
};

/* MQSC style: two attributes per line, the left one in a 40-column field. */
static int obj_mqsc(struct objs *o, size_t nattrs, const char *const *names,
		    const char *const *values)
{
	struct strbuf item = {0};
	for (size_t i = 0; i < nattrs; i++) {
		sb_reset(&item);
		sb_printf(&item, "%s(%s)", names[i], values[i]);
		bool left = (i % 2) == 0;
		if (left) {
			sb_adds(&o->out, "   ");
			sb_adds(&o->out, sb_str(&item));
			if (i + 1 == nattrs || item.len >= MQSC_COLUMN) {
				sb_adds(&o->out, "\n");
				/* A long left item: the next one starts a line. */
				if (i + 1 < nattrs && item.len >= MQSC_COLUMN) {
					i++;
					sb_reset(&item);
					sb_printf(&item, "%s(%s)", names[i], values[i]);
					sb_adds(&o->out, "   ");
					sb_adds(&o->out, sb_str(&item));
					sb_adds(&o->out, "\n");
				}
			} else {
				for (size_t k = item.len; k < MQSC_COLUMN; k++)
					sb_add(&o->out, " ", 1);
			}
		} else {
			sb_adds(&o->out, sb_str(&item));
			sb_adds(&o->out, "\n");
		}
	}
	free(item.p);
	return item.oom ? -1 : 0;
}

static int obj_json(struct objs *o, size_t nattrs, const char *const *names,
		    const char *const *values)
{
	sb_adds(&o->out, o->count > 0 ? ", {" : "{");
	for (size_t i = 0; i < nattrs; i++) {
		if (i > 0)
			sb_adds(&o->out, ", ");
		sb_json_str(&o->out, names[i]);
		sb_adds(&o->out, ": ");
		sb_json_str(&o->out, values[i]);
	}
	sb_adds(&o->out, "}");
	return 0;
}

static int on_object(void *arg, size_t nattrs, const char *const *names, const char *const *values)
{
	struct objs *o = arg;
	int rc = o->json ? obj_json(o, nattrs, names, values) : obj_mqsc(o, nattrs, names, values);
	o->count++;
	return rc != 0 || o->out.oom ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: qsgadm [-c host:port[,host:port...]] [-f FILE] [--json]\n"
		   "  -c CONN   members to connect to (default: $QSG_CONN)\n"
		   "  -f FILE   read MQSC commands from FILE (default: stdin)\n"
		   "  --json    print one JSON object per command\n"
		   "exit status: 0 all commands succeeded, 1 some failed, 2 could not connect\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"conn", required_argument, NULL, 'c'},
	    {"file", required_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conn_list = NULL;
	const char *file = NULL;
	bool json = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:f:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conn_list = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	struct reader rd = {.in = stdin};
	if (file != NULL) {
		rd.in = fopen(file, "r");
		if (rd.in == NULL) {
			fprintf(stderr, "qsgadm: cannot open %s: %s\n", file, strerror(errno));
			return 2;
		}
	}

	char errmsg[QSG_ERRMSG_SIZE] = "";
	qsg_conn *conn = NULL;
	int rc = qsg_connect(conn_list, "qsgadm", &conn, errmsg);
	if (rc != QSG_OK) {
		fprintf(stderr, "qsgadm: cannot connect: %s (%d): %s\n", qsg_reason_name(rc), rc,
			errmsg[0] ? errmsg : qsg_reason_text(rc));
		if (rd.in != stdin)
			fclose(rd.in);
		return 2;
	}

	struct strbuf cmd = {0};
	struct strbuf line = {0};
	struct objs objs = {.json = json};
	char *text = malloc(TEXT_SIZE);
	unsigned nread = 0, nsyntax = 0, nfailed = 0;
	bool fatal = false;

	if (text == NULL) {
		fprintf(stderr, "qsgadm: out of memory\n");
		fatal = true;
	}
	while (!fatal) {
		int got = read_command(&rd, &cmd);
		if (got < 0) {
			fprintf(stderr, "qsgadm: read error: %s\n", strerror(errno));
			fatal = true;
			break;
		}
		if (got == 0)
			break;
		if (cmd.oom) {
			fprintf(stderr, "qsgadm: out of memory\n");
			fatal = true;
			break;
		}
		nread++;
		if (!json)
			printf("%6u : %s\n", nread, cmd.p);
		sb_reset(&objs.out);
		objs.count = 0;
		text[0] = '\0';
		rc = qsg_admin(conn, cmd.p, on_object, &objs, text, TEXT_SIZE);
		if (objs.out.oom) {
			fprintf(stderr, "qsgadm: out of memory\n");
			fatal = true;
			break;
		}
		if (rc == QSG_RC_MQSC_SYNTAX || rc == QSG_RC_BAD_ATTR)
			nsyntax++;
		else if (rc != QSG_OK)
			nfailed++;
		if (text[0] == '\0' && rc != QSG_OK)
			snprintf(text, TEXT_SIZE, "%s (%d): %s", qsg_reason_name(rc), rc,
				 qsg_reason_text(rc));
		if (json) {
			sb_reset(&line);
			sb_adds(&line, "{\"command\": ");
			sb_json_str(&line, cmd.p);
			sb_printf(&line, ", \"rc\": %d, \"reason\": ", rc);
			sb_json_str(&line, qsg_reason_name(rc));
			sb_adds(&line, ", \"text\": ");
			sb_json_str(&line, text);
			sb_adds(&line, ", \"objects\": [");
			sb_adds(&line, sb_str(&objs.out));
			sb_adds(&line, "]}\n");
			if (line.oom) {
				fprintf(stderr, "qsgadm: out of memory\n");
				fatal = true;
				break;
			}
			fputs(line.p, stdout);
		} else {
			if (text[0] != '\0')
				printf("%s\n", text);
			fputs(sb_str(&objs.out), stdout);
			printf("\n");
		}
		fflush(stdout);
	}
	if (!json)
		printf("%u MQSC commands read. %u commands have a syntax error. %u commands "
		       "cannot be processed.\n",
		       nread, nsyntax, nfailed);

	free(text);
	free(cmd.p);
	free(line.p);
	free(objs.out.p);
	free(rd.line);
	if (rd.in != stdin)
		fclose(rd.in);
	qsg_disconnect(conn);
	if (fatal)
		return 1;
	return nsyntax + nfailed > 0 ? 1 : 0;
}
