# tests/cluster/chan.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: chproto. Deterministic raft_fixture tests of the shared channel
# status table (CAS races, xmitq lock, fencing, in-doubt resolution), driving
# the real channel cores (libqsgchan) on the shared harness (tests/lib).
if HAVE_CMOCKA
check_PROGRAMS += tests/cluster/test_chan_cluster
TESTS += tests/cluster/test_chan_cluster
tests_cluster_test_chan_cluster_SOURCES = tests/cluster/test_chan_cluster.c
tests_cluster_test_chan_cluster_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_cluster_test_chan_cluster_LDADD = libqsgtestfix.la libqsgchan.la libqsgfsm.la libqsgglue.la libqsgcommon.la \
	$(RAFT_LIBS) $(UV_LIBS) $(CMOCKA_LIBS)
endif
