# tests/unit/chssl.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: chan. TLS on channels: the CipherSpec table and SSLPEER form
# (src/chan/chssl.c), the channel attribute codec's TLS part, its level.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_chssl
TESTS += tests/unit/test_chssl
tests_unit_test_chssl_SOURCES = tests/unit/test_chssl.c src/chan/chssl.c
tests_unit_test_chssl_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_chssl_LDADD = libqsgfsm.la libqsgcommon.la $(CMOCKA_LIBS)
endif
