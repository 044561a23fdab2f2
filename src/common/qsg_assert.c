/* Failure path of QSG_ASSERT (qsg_assert.h). */
#include "qsg_assert.h"

#include <stdio.h>
#include <stdlib.h>

void qsg_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
	fflush(stderr);
	abort();
}
