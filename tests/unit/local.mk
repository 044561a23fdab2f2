# tests/unit build fragment (included by the top-level Makefile.am).
# Owner: lead. Unit tests of src/common.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_codec
TESTS += tests/unit/test_codec
tests_unit_test_codec_SOURCES = tests/unit/test_codec.c
tests_unit_test_codec_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_codec_LDADD = libqsgcommon.la $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test_slab
TESTS += tests/unit/test_slab
tests_unit_test_slab_SOURCES = tests/unit/test_slab.c
tests_unit_test_slab_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_slab_LDADD = libqsgcommon.la $(CMOCKA_LIBS)
endif
