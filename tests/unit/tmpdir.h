/* Scratch directories for the unit tests that write files (store, segment
 * index, bodystore, catch-up). Define TEST_TMP_NAME (a string) before
 * including, after <cmocka.h>: directories are /tmp/qsg-test-NAME-XXXXXX. */
#ifndef QSG_TESTS_UNIT_TMPDIR_H
#define QSG_TESTS_UNIT_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void mkdir_tmp(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/qsg-test-" TEST_TMP_NAME "-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

/* Removes every file in dir, then dir itself (which must then be gone). */
static void rm_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') {
			continue;
		}
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	assert_int_equal(rmdir(dir), 0);
}

#endif
