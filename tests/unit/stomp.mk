# tests/unit/stomp.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: gateways. Unit tests of the STOMP 1.2 parser (src/stomp) and the
# gateway property format (src/gw/gwprops.c).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_stompframe
TESTS += tests/unit/test_stompframe
tests_unit_test_stompframe_SOURCES = tests/unit/test_stompframe.c
tests_unit_test_stompframe_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_stompframe_LDADD = libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_gwprops
TESTS += tests/unit/test_gwprops
tests_unit_test_gwprops_SOURCES = tests/unit/test_gwprops.c src/gw/gwprops.c
tests_unit_test_gwprops_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_gwprops_LDADD = libqsgcommon.la $(CMOCKA_LIBS)
endif
