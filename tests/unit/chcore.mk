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
# The sending channel's clock (src/chan/chclock.h): black-list due times and
# message expiries in the group's time, on a real struct qsgd (qsgd_fake).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_chclock
TESTS += tests/unit/test_chclock
tests_unit_test_chclock_SOURCES = tests/unit/test_chclock.c tests/unit/qsgd_fake.h \
	tests/unit/qsgd_fake.c src/qsgd/metrics.h src/qsgd/metrics.c \
	src/chan/chclock.h src/chan/chclock.c
tests_unit_test_chclock_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(INIH_CFLAGS)
tests_unit_test_chclock_LDADD = libqsgd.la libqsgchan.la libqsgfsm.la libqsgcommon.la \
	$(LZ4_LIBS) $(UV_LIBS) $(INIH_LIBS) $(CMOCKA_LIBS)
endif
