/* qsgget [-c CONN] QUEUE [-w SECONDS] [-n COUNT] [--syncpoint] [--browse] [--raw]
 * Prints one message body per line (--raw: the bodies as they are, no
 * newline: `qsgget -n 1 --raw Q > file` saves one message, large ones
 * included; --backout-count: each line starts with the message's backout
 * count and a space). Stops after COUNT messages or when none
 * arrives within the wait. Gets use the asynchronous consumer (qsg_consume,
 * --read-ahead GETs in flight, default 64): without --syncpoint a message
 * is printed before libqsg commits its batch (at least once: a lost
 * connection may print a message again); with --syncpoint each batch is
 * committed before it is printed. */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_opts.h"
#include "fsm/fsm.h"

struct out {
	int raw, headers, sync, backouts;
	int status; /* exit status so far */
	int rc; /* the consumer's error */
	/* --syncpoint: the batch's output, printed after its commit */
	FILE *hold;
	char *held;
	size_t hlen;
};

/* Format one message into f. */
static int emit(FILE *f, const struct out *o, const struct qsg_md *md, const void *body, size_t len)
{
	const char *out = body;
	size_t outlen = len;
	if (o->backouts)
		fprintf(f, "%u ", md->backout_count);
	if (o->headers) {
		size_t hl = 0;
		struct fsm_dlh dlh;
		struct fsm_xqh xqh;
		if (fsm_dlh_decode(body, len, &dlh, &hl) == QSG_OK) {
			fprintf(f, "DLH reason=%u(%s) destq=%s destqmgr=%s channel=%s | ",
				dlh.reason, qsg_rc_name((int)dlh.reason), dlh.destq, dlh.destqmgr,
				dlh.channel);
			out += hl;
			outlen -= hl;
		} else if (fsm_xqh_decode(body, len, &xqh, &hl) == QSG_OK) {
			fprintf(f, "XQH rname=%s rqmname=%s | ", xqh.rname, xqh.rqmname);
			out += hl;
			outlen -= hl;
		}
	}
	if ((outlen > 0 && fwrite(out, 1, outlen, f) != outlen) ||
	    (!o->raw && putc('\n', f) == EOF))
		return -1;
	return 0;
}

static void fail_stop(qsg_conn *c, struct out *o, const char *what)
{
	if (o->status == 0)
		perror(what);
	o->status = 1;
	qsg_consume_stop(c);
}

/* --syncpoint: commit the batch, then print it (a BACKED_OUT batch is not
 * printed: its messages will be redelivered). */
static void end_batch(qsg_conn *c, struct out *o, int rc)
{
	if (fflush(o->hold) != 0) {
		fail_stop(c, o, "qsgget: memory");
		return;
	}
	if (rc == QSG_OK)
		rc = qsg_commit(c);
	else
		(void)qsg_backout(c);
	if (rc == QSG_OK) {
		if (o->hlen > 0 && fwrite(o->held, 1, o->hlen, stdout) != o->hlen)
			fail_stop(c, o, "qsgget: stdout");
	} else if (rc != QSG_RC_BACKED_OUT && o->status == 0) {
		o->status = tool_fail("qsgget", c, rc);
		qsg_consume_stop(c);
	}
	rewind(o->hold);
	fflush(o->hold);
}

static void on_msg(void *arg, qsg_conn *c, int event, int rc, const struct qsg_md *md,
		   const void *body, size_t len)
{
	struct out *o = arg;
	switch (event) {
	case QSG_CB_MSG:
		if (o->status == 0 && emit(o->sync ? o->hold : stdout, o, md, body, len) != 0)
			fail_stop(c, o, "qsgget: stdout");
		break;
	case QSG_CB_BATCH_END:
		end_batch(c, o, rc);
		break;
	case QSG_CB_NO_MSG:
		qsg_consume_stop(c);
		break;
	case QSG_CB_ERROR:
		o->rc = rc;
		break;
	default:
		break;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: qsgget [-c HOST:PORT[,...]] QUEUE [-w SECONDS] [-n COUNT] "
			"[--syncpoint] [--browse] [--headers] [--raw] [--read-ahead N]\n"
			"             [--backout-count]\n"
			"  --raw      write the bodies as they are (no newline after each)\n"
			"  --headers  show a dead-letter (DLH) or transmission (XQH) header\n"
			"             as text before the body\n"
			"  --read-ahead N  gets in flight (1..512, default 64; 1 = one at a "
			"time)\n"
			"  --backout-count  start each line with the message's backout count "
			"and a space\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"conn", required_argument, NULL, 'c'},
	    {"wait", required_argument, NULL, 'w'},
	    {"count", required_argument, NULL, 'n'},
	    {"syncpoint", no_argument, NULL, 'S'},
	    {"browse", no_argument, NULL, 'B'},
	    {"headers", no_argument, NULL, 'H'},
	    {"raw", no_argument, NULL, 'R'},
	    {"read-ahead", required_argument, NULL, 'A'},
	    {"backout-count", no_argument, NULL, 'O'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conn = NULL;
	double wait_s = 0;
	long count = 0, read_ahead = 64;
	int sync = 0, browse = 0, headers = 0, raw = 0, backouts = 0, o;
	char *end;
	while ((o = getopt_long(argc, argv, "c:w:n:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			conn = optarg;
			break;
		case 'w':
			wait_s = strtod(optarg, &end);
			if (*end != '\0' || wait_s < 0 || wait_s > 2000000) {
				fprintf(stderr, "qsgget: bad wait '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end != '\0' || count < 0) {
				fprintf(stderr, "qsgget: bad count '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S':
			sync = 1;
			break;
		case 'H':
			headers = 1;
			break;
		case 'R':
			raw = 1;
			break;
		case 'A':
			read_ahead = strtol(optarg, &end, 10);
			if (*end != '\0' || read_ahead < 1 || read_ahead > 512) {
				fprintf(stderr, "qsgget: read-ahead must be 1 to 512\n");
				return 2;
			}
			break;
		case 'B':
			browse = 1;
			break;
		case 'O':
			backouts = 1;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind + 1 != argc || (sync && browse)) {
		usage();
		return 2;
	}
	const char *queue = argv[optind];
	qsg_conn *c = tool_connect("qsgget", conn);
	if (c == NULL)
		return 1;
	int wait_ms = (int)(wait_s * 1000);
	int status = 0;
	if (!browse) {
		struct out o = {.raw = raw, .headers = headers, .sync = sync, .backouts = backouts};
		if (sync && (o.hold = open_memstream(&o.held, &o.hlen)) == NULL) {
			perror("qsgget");
			qsg_disconnect(c);
			return 1;
		}
		struct qsg_consume_opts co = {
		    .options = sync ? QSG_GMO_SYNCPOINT : 0,
		    .read_ahead = (unsigned)read_ahead,
		    .wait_ms = wait_ms,
		    .max_msgs = (uint64_t)count,
		};
		if (count > 0 && (long)co.read_ahead > count)
			co.read_ahead = (unsigned)count;
		int rc = qsg_consume(c, queue, &co, on_msg, &o);
		if (rc == QSG_OK)
			rc = qsg_dispatch(c, -1);
		if (rc == QSG_OK)
			rc = o.rc;
		status = o.status;
		if (rc != QSG_OK && status == 0)
			status = tool_fail("qsgget", c, rc);
		if (o.hold != NULL)
			fclose(o.hold);
		free(o.held);
	}
	struct qsg_browse_cursor cur = {0, 0};
	for (long got = 0; browse && (count == 0 || got < count);) {
		void *body;
		size_t len;
		struct qsg_md md = QSG_MD_DEFAULT;
		int rc = qsg_browse(c, queue, &cur, &md, 0, &body, &len);
		if (rc == QSG_RC_NO_MSG_AVAILABLE)
			break;
		if (rc != QSG_OK) {
			status = tool_fail("qsgget", c, rc);
			break;
		}
		struct out o = {.raw = raw, .headers = headers, .backouts = backouts};
		if (emit(stdout, &o, &md, body, len) != 0) {
			qsg_free(body);
			perror("qsgget: stdout");
			status = 1;
			break;
		}
		qsg_free(body);
		got++;
	}
	if (fflush(stdout) != 0)
		status = 1;
	qsg_disconnect(c);
	return status;
}
