/* qsgput [-c CONN] [-p PRIORITY] [--nonpersistent] QUEUE
 * Puts each line of stdin (without its newline) as one message. Exit 0 only
 * when every put was acknowledged. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_opts.h"

static void usage(void)
{
	fprintf(stderr, "usage: qsgput [-c HOST:PORT[,...]] [-p PRIORITY] [--nonpersistent] QUEUE\n"
			"  (without -c the member list comes from QSG_CONN)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"conn", required_argument, NULL, 'c'},
	    {"priority", required_argument, NULL, 'p'},
	    {"nonpersistent", no_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conn = NULL;
	int priority = QSG_PRI_AS_Q_DEF, persistence = QSG_PERSISTENT, o;
	while ((o = getopt_long(argc, argv, "c:p:h", opts, NULL)) != -1) {
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
	qsg_conn *c = tool_connect("qsgput", conn);
	if (c == NULL)
		return 1;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = 0;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		struct qsg_md md = QSG_MD_DEFAULT;
		md.priority = priority;
		md.persistence = persistence;
		int rc = qsg_put(c, queue, &md, line, (size_t)n, QSG_PMO_NEW_MSG_ID);
		if (rc != QSG_OK) {
			status = tool_fail("qsgput", c, rc);
			break;
		}
	}
	if (status == 0 && ferror(stdin)) {
		perror("qsgput: stdin");
		status = 1;
	}
	free(line);
	qsg_disconnect(c);
	return status;
}
