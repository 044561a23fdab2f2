/* uowhold CONN QUEUE N: get N messages under syncpoint, print them, print
 * "HELD", then hold the unit of work open until killed. Used by test_uow.sh
 * to leave an uncommitted unit of work on a chosen member. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "uowtool.h"

int main(int argc, char **argv)
{
	int n;
	if (argc != 4 || (n = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: uowhold CONN QUEUE N\n");
		return 2;
	}
	qsg_conn *c = uowtool_connect(argv[1], "uowhold");
	for (int i = 0; i < n; i++) {
		size_t len = 0;
		void *body = uowtool_get(c, argv[2], &len);
		printf("%.*s\n", (int)len, (const char *)body);
		qsg_free(body);
	}
	printf("HELD\n");
	fflush(stdout);
	for (;;)
		pause();
}
