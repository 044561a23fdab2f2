# tests/unit/chtrig.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: chan. Unit tests of channel triggering (src/chan/chtrig.h,
# docs/channels.md "Triggering"): the decision, and its evaluation on a real
# state machine built by tests/unit/fsm_harness.c.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_chtrig
TESTS += tests/unit/test_chtrig
tests_unit_test_chtrig_SOURCES = tests/unit/test_chtrig.c tests/unit/fsm_harness.c \
	tests/unit/fsm_harness.h
tests_unit_test_chtrig_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_chtrig_LDADD = libqsgchan.la libqsgfsm_checked.la libqsgcommon.la $(LZ4_LIBS) \
	$(CMOCKA_LIBS)
endif
