# tests/unit/chproto.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: chproto. Unit tests of src/chan/chproto (channel wire protocol).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_chproto
TESTS += tests/unit/test_chproto
tests_unit_test_chproto_SOURCES = tests/unit/test_chproto.c
tests_unit_test_chproto_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_chproto_LDADD = libqsgchan.la libqsgcommon.la $(LZ4_LIBS) $(CMOCKA_LIBS)
endif
