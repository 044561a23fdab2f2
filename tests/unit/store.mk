# tests/unit/store.mk: build fragment owned by the store module (included by Makefile.am).
# Unit tests of src/store.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_store
TESTS += tests/unit/test_store
tests_unit_test_store_SOURCES = tests/unit/test_store.c tests/unit/tmpdir.h
tests_unit_test_store_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_store_LDADD = libqsgstore.la libqsgcommon.la $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test_bodystore
TESTS += tests/unit/test_bodystore
tests_unit_test_bodystore_SOURCES = tests/unit/test_bodystore.c tests/unit/tmpdir.h
tests_unit_test_bodystore_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_bodystore_LDADD = libqsgstore.la libqsgcommon.la $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test_segidx
TESTS += tests/unit/test_segidx
tests_unit_test_segidx_SOURCES = tests/unit/test_segidx.c tests/unit/tmpdir.h
tests_unit_test_segidx_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_segidx_LDADD = libqsgstore.la libqsgcommon.la $(CMOCKA_LIBS)
endif
