# tests/unit/mqsc.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: MQSC administration. Parser and executor tests (admin_exec against a
# real struct fsm with an in-process synchronous submit).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_mqsc
TESTS += tests/unit/test_mqsc
tests_unit_test_mqsc_SOURCES = tests/unit/test_mqsc.c
tests_unit_test_mqsc_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_mqsc_LDADD = libqsgadmin.la libqsgfsm.la libqsgcommon.la $(CMOCKA_LIBS)
endif
