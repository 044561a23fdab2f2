# tests/unit/chcore.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: chan. Unit tests of the channel cores (src/chan/chcore.h): owner
# choice, recovery decisions, the sender's settle and retry decisions, the
# receiver's START and sequence decisions.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_chcore
TESTS += tests/unit/test_chcore
tests_unit_test_chcore_SOURCES = tests/unit/test_chcore.c
tests_unit_test_chcore_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_chcore_LDADD = libqsgchan.la libqsgfsm.la libqsgcommon.la $(LZ4_LIBS) \
	$(CMOCKA_LIBS)
endif
