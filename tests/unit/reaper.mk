# tests/unit/reaper.mk: the state machine's garbage collector on a real
# libuv loop (src/qsgd/reaper.c, in libqsgd.la) with a real fsm; uses
# QSGD_TEST_LIBS and QSGD_TEST_CFLAGS of tests/unit/qsgd.mk.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_reaper
TESTS += tests/unit/test_reaper
tests_unit_test_reaper_SOURCES = tests/unit/test_reaper.c
tests_unit_test_reaper_CFLAGS = $(QSGD_TEST_CFLAGS)
tests_unit_test_reaper_LDADD = $(QSGD_TEST_LIBS)
endif
