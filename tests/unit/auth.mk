# tests/unit/auth.mk: users and authentication (docs/security.md
# "Authentication"): the password hash and the user ops of the state machine.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_user
TESTS += tests/unit/test_fsm_user
tests_unit_test_fsm_user_SOURCES = tests/unit/test_fsm_user.c tests/unit/fsm_harness.c \
	tests/unit/fsm_harness.h
tests_unit_test_fsm_user_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_user_LDADD = libqsgfsm_checked.la libqsgpw.la libqsgcommon.la $(SSL_LIBS) \
	$(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_mqsc_user
TESTS += tests/unit/test_mqsc_user
tests_unit_test_mqsc_user_SOURCES = tests/unit/test_mqsc_user.c
tests_unit_test_mqsc_user_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_mqsc_user_LDADD = libqsgadmin.la libqsgfsm.la libqsgpw.la libqsgcommon.la \
	$(SSL_LIBS) $(CMOCKA_LIBS)
endif
