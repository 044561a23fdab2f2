# tests/unit/looplag.mk: the loop-stall monitor (src/qsgd/looplag.c, in
# libqsgd.la) on a real libuv loop, its [qmgr] loop_warn_ms key and its
# /metrics series (metrics.c, linked here as in tests/unit/qsgd.mk, whose
# QSGD_TEST_LIBS and QSGD_TEST_CFLAGS this fragment uses).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_looplag
TESTS += tests/unit/test_looplag
tests_unit_test_looplag_SOURCES = tests/unit/test_looplag.c \
	src/qsgd/metrics.h src/qsgd/metrics.c
tests_unit_test_looplag_CFLAGS = $(QSGD_TEST_CFLAGS)
tests_unit_test_looplag_LDADD = $(QSGD_TEST_LIBS)
endif
