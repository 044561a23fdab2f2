/* uowhold CONN QUEUE N: get N messages under syncpoint, print them, print
 * "HELD", then hold the unit of work open until killed. Used by test_uow.sh
 * to leave an uncommitted unit of work on a chosen member. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "libqsg/qsg.h"

int main(int argc, char **argv)
{
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_conn *c;
	int n, rc;

	if (argc != 4 || (n = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: uowhold CONN QUEUE N\n");
		return 2;
	}
	rc = qsg_connect(argv[1], "uowhold", &c, errmsg);
	if (rc != QSG_OK) {
		fprintf(stderr, "connect: %s\n", errmsg);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct qsg_md md;
		void *body = NULL;
		size_t len = 0;
		qsg_md_init(&md);
		rc = qsg_get(c, argv[2], &md, QSG_GMO_SYNCPOINT, 5000, &body, &len);
		if (rc != QSG_OK) {
			fprintf(stderr, "get: %s: %s\n", qsg_reason_name(rc), qsg_last_error(c));
			return 1;
		}
		printf("%.*s\n", (int)len, (const char *)body);
		qsg_free(body);
	}
	printf("HELD\n");
	fflush(stdout);
	for (;;)
		pause();
}
