# tests/unit/qsgd.mk: unit tests of the daemon modules in libqsgd.la
# (src/qsgd/local.mk): batcher, forward, lease, waiters, config. They drive
# the real code on a real libuv loop, with fakes for the submission path,
# raft-glue and the listeners behind struct qsgd_ops (daemon.h).
QSGD_TEST_LIBS = libqsgd.la libqsgfsm.la libqsgcommon.la \
	$(UV_LIBS) $(INIH_LIBS) $(CMOCKA_LIBS)
QSGD_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(INIH_CFLAGS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_config tests/unit/test_waiters tests/unit/test_batcher \
	tests/unit/test_forward tests/unit/test_lease tests/unit/test_gtime
TESTS += tests/unit/test_config tests/unit/test_waiters tests/unit/test_batcher \
	tests/unit/test_forward tests/unit/test_lease tests/unit/test_gtime
tests_unit_test_gtime_SOURCES = tests/unit/test_gtime.c src/qsgd/metrics.h src/qsgd/metrics.c
tests_unit_test_gtime_CFLAGS = $(QSGD_TEST_CFLAGS)
tests_unit_test_gtime_LDADD = $(QSGD_TEST_LIBS)
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(QSGD_TEST_CFLAGS)
tests_unit_test_config_LDADD = $(QSGD_TEST_LIBS)
tests_unit_test_waiters_SOURCES = tests/unit/test_waiters.c
tests_unit_test_waiters_CFLAGS = $(QSGD_TEST_CFLAGS)
tests_unit_test_waiters_LDADD = $(QSGD_TEST_LIBS)
tests_unit_test_batcher_SOURCES = tests/unit/test_batcher.c tests/unit/qsgd_fake.h \
	tests/unit/qsgd_fake.c src/qsgd/metrics.h src/qsgd/metrics.c
tests_unit_test_batcher_CFLAGS = $(QSGD_TEST_CFLAGS)
tests_unit_test_batcher_LDADD = $(QSGD_TEST_LIBS)
tests_unit_test_forward_SOURCES = tests/unit/test_forward.c tests/unit/qsgd_fake.h \
	tests/unit/qsgd_fake.c src/qsgd/metrics.h src/qsgd/metrics.c
tests_unit_test_forward_CFLAGS = $(QSGD_TEST_CFLAGS)
tests_unit_test_forward_LDADD = $(QSGD_TEST_LIBS)
tests_unit_test_lease_SOURCES = tests/unit/test_lease.c tests/unit/qsgd_fake.h \
	tests/unit/qsgd_fake.c src/qsgd/metrics.h src/qsgd/metrics.c
tests_unit_test_lease_CFLAGS = $(QSGD_TEST_CFLAGS)
tests_unit_test_lease_LDADD = $(QSGD_TEST_LIBS)
endif

# TLS under the framed stream (src/qsgd/tlsstream.c): real loop, loopback TCP.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_tlsstream
TESTS += tests/unit/test_tlsstream
tests_unit_test_tlsstream_SOURCES = tests/unit/test_tlsstream.c
tests_unit_test_tlsstream_CFLAGS = $(QSGD_TEST_CFLAGS)
tests_unit_test_tlsstream_LDADD = $(QSGD_TEST_LIBS)
endif
