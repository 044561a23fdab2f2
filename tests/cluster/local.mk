# tests/cluster build fragment (included by the top-level Makefile.am).
# Owner: raft-glue. raft-glue on libuv (loopback) and deterministic cluster
# tests of the real state machine on raft_fixture.
if HAVE_CMOCKA
check_PROGRAMS += tests/cluster/test_glue_uv
TESTS += tests/cluster/test_glue_uv
tests_cluster_test_glue_uv_SOURCES = tests/cluster/test_glue_uv.c
tests_cluster_test_glue_uv_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_cluster_test_glue_uv_LDADD = libqsgglue.la libqsgcommon.la \
	$(RAFT_LIBS) $(UV_LIBS) $(CMOCKA_LIBS)
endif

if HAVE_CMOCKA
check_PROGRAMS += tests/cluster/test_cluster
TESTS += tests/cluster/test_cluster
tests_cluster_test_cluster_SOURCES = tests/cluster/test_cluster.c
tests_cluster_test_cluster_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_cluster_test_cluster_LDADD = libqsgtestfix.la libqsgfsm.la libqsgglue.la libqsgcommon.la \
	$(RAFT_LIBS) $(UV_LIBS) $(CMOCKA_LIBS)
endif

# Fork-mode snapshot capture through the adapter's raft_fsm callbacks.
if HAVE_CMOCKA
check_PROGRAMS += tests/cluster/test_snapshot_fork
TESTS += tests/cluster/test_snapshot_fork
tests_cluster_test_snapshot_fork_SOURCES = tests/cluster/test_snapshot_fork.c
tests_cluster_test_snapshot_fork_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_cluster_test_snapshot_fork_LDADD = libqsgfsm.la libqsgglue.la libqsgcommon.la \
	$(RAFT_LIBS) $(UV_LIBS) $(CMOCKA_LIBS)
endif
