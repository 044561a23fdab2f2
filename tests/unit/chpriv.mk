# tests/unit/chpriv.mk: unit tests of private channels in src/fsm
# (docs/channels.md "Private channels"; owner: chan): the disposition part
# of the channel attributes, the command level, one name space, the
# ownership rule, the private transmission queue and receiver.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_chpriv
TESTS += tests/unit/test_fsm_chpriv
tests_unit_test_fsm_chpriv_SOURCES = tests/unit/test_fsm_chpriv.c
tests_unit_test_fsm_chpriv_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_chpriv_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
# Triggering of a private channel (src/chan/chtrig.h) on a real state machine.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_chtrig_priv
TESTS += tests/unit/test_chtrig_priv
tests_unit_test_chtrig_priv_SOURCES = tests/unit/test_chtrig_priv.c tests/unit/fsm_harness.c \
	tests/unit/fsm_harness.h
tests_unit_test_chtrig_priv_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_chtrig_priv_LDADD = libqsgchan.la libqsgfsm_checked.la libqsgcommon.la $(LZ4_LIBS) \
	$(CMOCKA_LIBS)
endif
