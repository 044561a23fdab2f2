# tests/integration/tlsraft.mk: TLS on Raft traffic (owner: raft-glue/rtls.c,
# docs/security.md "TLS on Raft traffic"): the transport driven as libraft
# drives it on one loop (tests/cluster/test_rtls), and a TLS group of real
# processes (scripts/cluster up 3 tls).
if HAVE_CMOCKA
check_PROGRAMS += tests/cluster/test_rtls
TESTS += tests/cluster/test_rtls
tests_cluster_test_rtls_SOURCES = tests/cluster/test_rtls.c
tests_cluster_test_rtls_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_cluster_test_rtls_LDADD = libqsgglue.la libqsgtls.la libqsgcommon.la \
	$(SSL_LIBS) $(RAFT_LIBS) $(UV_LIBS) $(CMOCKA_LIBS)
endif
TESTS += tests/integration/test_tls_raft.sh
EXTRA_DIST += tests/integration/test_tls_raft.sh
# Revocation ([tls] crl) on a TLS group: clients, member links, Raft.
TESTS += tests/integration/test_tls_crl.sh
EXTRA_DIST += tests/integration/test_tls_crl.sh
