/* See hugepages.h. */
#include "hugepages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUNABLE "glibc.malloc.hugetlb"
#define GUARD "QSG_HUGEPAGES_EXEC" /* set across the exec: never loop */

static int thp_never(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f == NULL)
		return 1; /* no THP in this kernel */
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, "[never]") != NULL;
}

enum hugepages_state hugepages_reexec(char **argv)
{
	const char *env = getenv("QSG_HUGEPAGES");
	if (env != NULL && strcmp(env, "0") == 0)
		return HUGEPAGES_OFF_ENV;
	const char *cur = getenv("GLIBC_TUNABLES");
	if (cur != NULL && strstr(cur, TUNABLE) != NULL) {
		unsetenv(GUARD);
		return HUGEPAGES_ON;
	}
	if (thp_never())
		return HUGEPAGES_OFF_THP;
	if (getenv(GUARD) != NULL) { /* exec'ed once and still no tunable */
		unsetenv(GUARD);
		return HUGEPAGES_OFF_EXEC;
	}
	char val[1024];
	int n = snprintf(val, sizeof val, "%s%s" TUNABLE "=1", cur != NULL ? cur : "",
			 cur != NULL && *cur != '\0' ? ":" : "");
	if (n < 0 || (size_t)n >= sizeof val || setenv("GLIBC_TUNABLES", val, 1) != 0 ||
	    setenv(GUARD, "1", 1) != 0)
		return HUGEPAGES_OFF_EXEC;
	/* The binary's own path, not /proc/self/exe: the process name (comm,
	 * what ps, top and pgrep show) is the basename of the path exec'd. */
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len > 0) {
		self[len] = '\0';
		execv(self, argv);
	}
	/* exec failed: carry on without, as we were */
	if (cur != NULL)
		setenv("GLIBC_TUNABLES", cur, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	unsetenv(GUARD);
	return HUGEPAGES_OFF_EXEC;
}

const char *hugepages_state_name(enum hugepages_state s)
{
	switch (s) {
	case HUGEPAGES_ON:
		return "on (glibc.malloc.hugetlb=1)";
	case HUGEPAGES_OFF_ENV:
		return "off (QSG_HUGEPAGES=0)";
	case HUGEPAGES_OFF_THP:
		return "off (transparent huge pages disabled in the kernel)";
	case HUGEPAGES_OFF_EXEC:
		return "off (re-exec with the glibc tunable failed)";
	}
	return "?";
}
