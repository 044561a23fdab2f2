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
