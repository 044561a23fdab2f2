# tests/unit/tls.mk: build fragment owned by the TLS module (included by Makefile.am).
# Unit tests of src/tls; they make their certificates with scripts/tls-certs.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_tls
TESTS += tests/unit/test_tls
tests_unit_test_tls_SOURCES = tests/unit/test_tls.c
tests_unit_test_tls_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SSL_CFLAGS)
tests_unit_test_tls_LDADD = libqsgtls.la libqsgcommon.la $(SSL_LIBS) $(CMOCKA_LIBS)
endif
# Revocation ([tls] crl): CRLs made at test time by scripts/tls-certs -r/-u/-l.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_tls_crl
TESTS += tests/unit/test_tls_crl
tests_unit_test_tls_crl_SOURCES = tests/unit/test_tls_crl.c
tests_unit_test_tls_crl_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SSL_CFLAGS)
tests_unit_test_tls_crl_LDADD = libqsgtls.la libqsgcommon.la $(SSL_LIBS) $(CMOCKA_LIBS)
endif
