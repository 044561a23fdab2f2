# tests/unit/catchup.mk: unit test of src/qsgd/catchup.c (catch-up of message
# bodies) against fake peers on loopback serving from real bodystores.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_catchup
TESTS += tests/unit/test_catchup
tests_unit_test_catchup_SOURCES = tests/unit/test_catchup.c tests/unit/qsgd_fake.h tests/unit/tmpdir.h \
	tests/unit/qsgd_fake.c src/qsgd/metrics.h src/qsgd/metrics.c \
	src/qsgd/catchup.h src/qsgd/catchup.c
tests_unit_test_catchup_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(INIH_CFLAGS)
tests_unit_test_catchup_LDADD = libqsgd.la libqsgstore.la libqsgfsm.la libqsgcommon.la \
	$(UV_LIBS) $(INIH_LIBS) $(CMOCKA_LIBS)
endif
