/* uow2q CONN QA QB N commit|backout|hold: in one unit of work, move N
 * messages: get one from QA under syncpoint and put a copy on QB under
 * syncpoint, N times, then commit or back out (or, with "hold", print
 * "HELD" and wait to be killed with the unit of work open). Used by
 * test_group_ops.sh: a unit of work that spans two queues is all or
 * nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uowtool.h"

int main(int argc, char **argv)
{
	int n, rc;

	if (argc != 6 || (n = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: uow2q CONN QA QB N commit|backout|hold\n");
		return 2;
	}
	qsg_conn *c = uowtool_connect(argv[1], "uow2q");
	for (int i = 0; i < n; i++) {
		size_t len = 0;
		void *body = uowtool_get(c, argv[2], &len);
		struct qsg_md out;
		qsg_md_init(&out);
		rc = qsg_put(c, argv[3], &out, body, len, QSG_PMO_SYNCPOINT | QSG_PMO_NEW_MSG_ID);
		qsg_free(body);
		if (rc != QSG_OK) {
			fprintf(stderr, "put: %s: %s\n", qsg_reason_name(rc), qsg_last_error(c));
			return 1;
		}
	}
	if (strcmp(argv[5], "hold") == 0) {
		printf("HELD\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	rc = strcmp(argv[5], "commit") == 0 ? qsg_commit(c) : qsg_backout(c);
	if (rc != QSG_OK) {
		fprintf(stderr, "%s: %s: %s\n", argv[5], qsg_reason_name(rc), qsg_last_error(c));
		return 1;
	}
	qsg_disconnect(c);
	printf("DONE\n");
	return 0;
}
