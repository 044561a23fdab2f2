/* largeuow CONN QUEUE FILE: unit-of-work checks of large messages through
 * libqsg, for test_large.sh. The queue holds exactly the message FILE.
 *   1. put a 5 MiB message under syncpoint, back out: it never shows;
 *   2. get under syncpoint: FILE's content; back out;
 *   3. browse: FILE's content (the message is back, whole);
 *   4. get with no wait under syncpoint, commit nothing: the 5 MiB put is
 *      gone (NO_MSG_AVAILABLE after the one message is locked). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libqsg/qsg.h"

static int fail(const char *what, qsg_conn *c, int rc)
{
	fprintf(stderr, "largeuow: %s: %s (%s)\n", what, qsg_reason_name(rc),
		c != NULL ? qsg_last_error(c) : "");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: largeuow CONN QUEUE FILE\n");
		return 2;
	}
	FILE *f = fopen(argv[3], "rb");
	if (f == NULL)
		return 2;
	fseek(f, 0, SEEK_END);
	size_t flen = (size_t)ftell(f);
	rewind(f);
	char *want = malloc(flen);
	if (want == NULL || fread(want, 1, flen, f) != flen)
		return 2;
	fclose(f);
	qsg_conn *c;
	char err[QSG_ERRMSG_SIZE];
	int rc = qsg_connect(argv[1], "largeuow", &c, err);
	if (rc != QSG_OK) {
		fprintf(stderr, "largeuow: connect: %s\n", err);
		return 1;
	}
	size_t xlen = 5u * 1024 * 1024 + 7;
	char *x = malloc(xlen);
	memset(x, 'x', xlen);
	if ((rc = qsg_put(c, argv[2], NULL, x, xlen, QSG_PMO_SYNCPOINT)) != QSG_OK)
		return fail("syncpoint put", c, rc);
	if ((rc = qsg_backout(c)) != QSG_OK)
		return fail("backout of the put", c, rc);
	void *body;
	size_t len;
	struct qsg_md md = QSG_MD_DEFAULT;
	if ((rc = qsg_get(c, argv[2], &md, QSG_GMO_SYNCPOINT, 5000, &body, &len)) != QSG_OK)
		return fail("syncpoint get", c, rc);
	if (len != flen || memcmp(body, want, flen) != 0) {
		fprintf(stderr, "largeuow: syncpoint get: %zu bytes, content differs\n", len);
		return 1;
	}
	qsg_free(body);
	if ((rc = qsg_backout(c)) != QSG_OK)
		return fail("backout of the get", c, rc);
	struct qsg_browse_cursor cur = {0, 0};
	if ((rc = qsg_browse(c, argv[2], &cur, &md, 0, &body, &len)) != QSG_OK)
		return fail("browse", c, rc);
	if (len != flen || memcmp(body, want, flen) != 0 || md.backout_count != 1) {
		fprintf(stderr, "largeuow: browse: %zu bytes, backout count %u\n", len,
			md.backout_count);
		return 1;
	}
	qsg_free(body);
	rc = qsg_browse(c, argv[2], &cur, &md, 0, &body, &len);
	if (rc != QSG_RC_NO_MSG_AVAILABLE)
		return fail("browse after the last message (the backed-out put shows?)", c, rc);
	qsg_disconnect(c);
	free(x);
	free(want);
	printf("largeuow: ok\n");
	return 0;
}
