/* qsgget [-c CONN] QUEUE [-w SECONDS] [-n COUNT] [--syncpoint] [--browse] [--raw]
 * Prints one message body per line (--raw: the bodies as they are, no
 * newline: `qsgget -n 1 --raw Q > file` saves one message, large ones
 * included). Stops after COUNT messages or when none
 * arrives within the wait. With --syncpoint each message is committed
 * before it is printed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_opts.h"
#include "fsm/fsm.h"

static void usage(void)
{
	fprintf(stderr, "usage: qsgget [-c HOST:PORT[,...]] QUEUE [-w SECONDS] [-n COUNT] "
			"[--syncpoint] [--browse] [--headers] [--raw]\n"
			"  --raw      write the bodies as they are (no newline after each)\n"
			"  --headers  show a dead-letter (DLH) or transmission (XQH) header\n"
			"             as text before the body\n");
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
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conn = NULL;
	double wait_s = 0;
	long count = 0;
	int sync = 0, browse = 0, headers = 0, raw = 0, o;
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
		case 'B':
			browse = 1;
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
	struct qsg_browse_cursor cur = {0, 0};
	int status = 0;
	for (long got = 0; count == 0 || got < count;) {
		void *body;
		size_t len;
		struct qsg_md md = QSG_MD_DEFAULT;
		int rc = browse ? qsg_browse(c, queue, &cur, &md, 0, &body, &len)
				: qsg_get(c, queue, &md, sync ? QSG_GMO_SYNCPOINT : 0, wait_ms,
					  &body, &len);
		if (rc == QSG_RC_NO_MSG_AVAILABLE)
			break;
		if (rc == QSG_RC_BACKED_OUT && sync)
			continue; /* the uow was lost: the message will be redelivered */
		if (rc != QSG_OK) {
			status = tool_fail("qsgget", c, rc);
			break;
		}
		if (sync) {
			rc = qsg_commit(c);
			if (rc == QSG_RC_BACKED_OUT) {
				qsg_free(body);
				continue;
			}
			if (rc != QSG_OK) {
				qsg_free(body);
				status = tool_fail("qsgget", c, rc);
				break;
			}
		}
		const char *out = body;
		size_t outlen = len;
		if (headers) {
			size_t hl = 0;
			struct fsm_dlh dlh;
			struct fsm_xqh xqh;
			if (fsm_dlh_decode(body, len, &dlh, &hl) == QSG_OK) {
				printf("DLH reason=%u(%s) destq=%s destqmgr=%s channel=%s | ",
				       dlh.reason, qsg_rc_name((int)dlh.reason), dlh.destq,
				       dlh.destqmgr, dlh.channel);
				out += hl;
				outlen -= hl;
			} else if (fsm_xqh_decode(body, len, &xqh, &hl) == QSG_OK) {
				printf("XQH rname=%s rqmname=%s | ", xqh.rname, xqh.rqmname);
				out += hl;
				outlen -= hl;
			}
		}
		if ((outlen > 0 && fwrite(out, 1, outlen, stdout) != outlen) ||
		    (!raw && putchar('\n') == EOF)) {
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
