# tests/unit/proto.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: protocol/client module. Unit tests of src/proto and src/libqsg.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_proto tests/unit/test_libqsg
TESTS += tests/unit/test_proto tests/unit/test_libqsg
tests_unit_test_proto_SOURCES = tests/unit/test_proto.c
tests_unit_test_proto_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_proto_LDADD = libqsgcommon.la $(CMOCKA_LIBS)
tests_unit_test_libqsg_SOURCES = tests/unit/test_libqsg.c
tests_unit_test_libqsg_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -I$(top_srcdir)/src/common
tests_unit_test_libqsg_LDADD = libqsg.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_proto_large
TESTS += tests/unit/test_proto_large
tests_unit_test_proto_large_SOURCES = tests/unit/test_proto_large.c
tests_unit_test_proto_large_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_proto_large_LDADD = libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_libqsg_async
TESTS += tests/unit/test_libqsg_async
tests_unit_test_libqsg_async_SOURCES = tests/unit/test_libqsg_async.c
tests_unit_test_libqsg_async_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -I$(top_srcdir)/src/common
tests_unit_test_libqsg_async_LDADD = libqsg.la libqsgcommon.la $(CMOCKA_LIBS)
endif
