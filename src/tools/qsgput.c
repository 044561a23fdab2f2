/* qsgput [-c CONN] [-p PRIORITY] [--nonpersistent] [--window N] [-f FILE] QUEUE
 * Puts each line of stdin (without its newline) as one message,
 * asynchronously (qsg_put_async: up to N puts in flight, default 256); with
 * -f FILE ("-" = stdin) the whole file as one message (up to 100 MiB: a
 * large message goes in parts, docs/storage.md). Exit 0 only when every put
 * was acknowledged. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_opts.h"
#include "common/msg.h"

/* The whole of f, at most FSM_MAX_MSGL bytes (more: error). */
static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	char *p = malloc(cap);
	while (p != NULL) {
		size_t k = fread(p + n, 1, cap - n, f);
		n += k;
		if (k == 0 || n > FSM_MAX_MSGL)
			break;
		if (n == cap) {
			char *q = realloc(p, cap * 2);
			if (q == NULL) {
				free(p);
				return NULL;
			}
			p = q;
			cap *= 2;
		}
	}
	if (p != NULL && (ferror(f) || n > FSM_MAX_MSGL)) {
		free(p);
		return NULL;
	}
	*len = n;
	return p;
}

/* Lines of stdin, read with read(2) so that we know when the next line
 * would block: libqsg holds back puts made in quick succession (qsg.h,
 * qsg_put_async), so before waiting for more input (`tail -f | qsgput`)
 * the held puts are written (qsg_fd). */
struct lines {
	char *buf;
	size_t cap, start, end;
	int eof;
};

/* The next line (without its newline; the last one may lack it) in
 * line and len, valid until the next call; 0 at the end of input, -1 on a
 * read error (errno). */
static int next_line(struct lines *r, qsg_conn *c, char **line, size_t *len)
{
	for (;;) {
		char *nl =
		    r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
		if (nl != NULL || (r->eof && r->end > r->start)) {
			*line = r->buf + r->start;
			*len = nl != NULL ? (size_t)(nl - *line) : r->end - r->start;
			r->start += *len + (nl != NULL);
			return 1;
		}
		if (r->eof)
			return 0;
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (r->end == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 65536;
			char *b = realloc(r->buf, cap);
			if (b == NULL)
				return -1;
			r->buf = b;
			r->cap = cap;
		}
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		if (poll(&pfd, 1, 0) == 0)
			(void)qsg_fd(c); /* about to wait for input: write what is held */
		ssize_t k = read(STDIN_FILENO, r->buf + r->end, r->cap - r->end);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			r->eof = 1;
		r->end += (size_t)k;
	}
}

/* Asynchronous put outcomes: the first failure is reported, the rest
 * counted. */
struct outcome {
	int first_rc;
	unsigned long long line;
	unsigned long long failed;
};

static void on_put(void *arg, void *ctx, int rc, const struct qsg_md *md)
{
	struct outcome *o = arg;
	(void)md;
	if (rc == QSG_OK)
		return;
	o->failed++;
	if (o->first_rc == QSG_OK) {
		o->first_rc = rc;
		o->line = (unsigned long long)(uintptr_t)ctx;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: qsgput [-c HOST:PORT[,...]] [-p PRIORITY] [--nonpersistent] "
			"[--window N] [-f FILE] QUEUE\n"
			"  (without -c the member list comes from QSG_CONN)\n"
			"  -f, --file FILE  put the whole file (- = stdin) as one message\n"
			"  --window N       puts in flight (1..1000, default 256; 1 = one at a "
			"time)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"conn", required_argument, NULL, 'c'},
	    {"priority", required_argument, NULL, 'p'},
	    {"nonpersistent", no_argument, NULL, 'N'},
	    {"file", required_argument, NULL, 'f'},
	    {"window", required_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conn = NULL, *file = NULL;
	int priority = QSG_PRI_AS_Q_DEF, persistence = QSG_PERSISTENT, o;
	long window = 256;
	while ((o = getopt_long(argc, argv, "c:p:f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			conn = optarg;
			break;
		case 'p': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 0 || v > 9) {
				fprintf(stderr, "qsgput: priority must be 0 to 9\n");
				return 2;
			}
			priority = (int)v;
			break;
		}
		case 'N':
			persistence = QSG_NOT_PERSISTENT;
			break;
		case 'f':
			file = optarg;
			break;
		case 'W': {
			char *end;
			window = strtol(optarg, &end, 10);
			if (*end != '\0' || window < 1 || window > 1000) {
				fprintf(stderr, "qsgput: window must be 1 to 1000\n");
				return 2;
			}
			break;
		}
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage();
		return 2;
	}
	const char *queue = argv[optind];
	char *whole = NULL;
	size_t wlen = 0;
	if (file != NULL) {
		FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
		if (f == NULL || (whole = read_all(f, &wlen)) == NULL) {
			fprintf(stderr, "qsgput: cannot read %s (or longer than %u bytes)\n", file,
				FSM_MAX_MSGL);
			return 1;
		}
		if (f != stdin)
			fclose(f);
	}
	qsg_conn *c = tool_connect("qsgput", conn);
	if (c == NULL) {
		free(whole);
		return 1;
	}
	if (file != NULL) {
		struct qsg_md md = QSG_MD_DEFAULT;
		md.priority = priority;
		md.persistence = persistence;
		int rc = qsg_put(c, queue, &md, whole, wlen, QSG_PMO_NEW_MSG_ID);
		int status = rc == QSG_OK ? 0 : tool_fail("qsgput", c, rc);
		free(whole);
		qsg_disconnect(c);
		return status;
	}
	struct lines in = {0};
	char *line;
	size_t n;
	int status = 0, more = 0;
	struct outcome out = {QSG_OK, 0, 0};
	unsigned long long lineno = 0;
	int rc = qsg_set_put_async(c, (unsigned)window, on_put, &out);
	while (rc == QSG_OK && (more = next_line(&in, c, &line, &n)) > 0) {
		struct qsg_md md = QSG_MD_DEFAULT;
		md.priority = priority;
		md.persistence = persistence;
		rc = qsg_put_async(c, queue, &md, line, n, QSG_PMO_NEW_MSG_ID,
				   (void *)(uintptr_t)++lineno);
		if (rc == QSG_OK && out.first_rc != QSG_OK)
			break; /* stop at the first failure */
	}
	if (rc == QSG_OK)
		rc = qsg_flush(c);
	if (out.first_rc != QSG_OK) {
		fprintf(stderr, "qsgput: line %llu: %s: %s (%llu put(s) failed)\n", out.line,
			qsg_reason_name(out.first_rc), qsg_reason_text(out.first_rc), out.failed);
		status = 1;
	} else if (rc != QSG_OK) {
		status = tool_fail("qsgput", c, rc);
	}
	if (status == 0 && more < 0) {
		perror("qsgput: stdin");
		status = 1;
	}
	free(in.buf);
	qsg_disconnect(c);
	return status;
}
