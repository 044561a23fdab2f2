# tests/unit/tls.mk: build fragment owned by the TLS module (included by Makefile.am).
# Unit tests of src/tls; they make their certificates with scripts/tls-certs.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_tls
TESTS += tests/unit/test_tls
tests_unit_test_tls_SOURCES = tests/unit/test_tls.c
tests_unit_test_tls_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SSL_CFLAGS)
tests_unit_test_tls_LDADD = libqsgtls.la libqsgcommon.la $(SSL_LIBS) $(CMOCKA_LIBS)
endif
