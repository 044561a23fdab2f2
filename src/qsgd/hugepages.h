/* Transparent huge pages for the heap (docs/storage.md, "Huge pages and
 * the snapshot fork"). A member at depth holds millions of descriptors in
 * malloc's heap; fork (the snapshot capture) copies one page table entry per
 * 4 KiB page, 50-160 ms at 1.7 GB, against 1-5 ms when the heap is in 2 MiB
 * pages. glibc (2.35+) madvises its heap with MADV_HUGEPAGE when the tunable
 * glibc.malloc.hugetlb=1 is set, and tunables are read only at process
 * start, so qsgd re-executes itself once with it. */
#ifndef QSG_QSGD_HUGEPAGES_H
#define QSG_QSGD_HUGEPAGES_H

/* What hugepages_reexec decided (for the startup log line). */
enum hugepages_state {
	HUGEPAGES_ON, /* the tunable is set: the heap asks for huge pages */
	HUGEPAGES_OFF_ENV, /* QSG_HUGEPAGES=0 */
	HUGEPAGES_OFF_THP, /* the kernel has transparent huge pages "never" */
	HUGEPAGES_OFF_EXEC, /* the re-exec failed: running without */
};

/* Call first in main, before any thread, fd or allocation that matters.
 * When huge pages are wanted (THP not "never", QSG_HUGEPAGES not "0") and
 * GLIBC_TUNABLES lacks glibc.malloc.hugetlb, appends glibc.malloc.hugetlb=1
 * to it and execs its own binary (the path /proc/self/exe names) with the same argv (same PID: pid
 * files, systemd and supervisors see one process); does not return then. Returns the state
 * otherwise. */
enum hugepages_state hugepages_reexec(char **argv);
const char *hugepages_state_name(enum hugepages_state s);

#endif
