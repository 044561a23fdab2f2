# tests/unit/fsm.mk: unit tests of src/fsm (owner: fsm module).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm
TESTS += tests/unit/test_fsm
tests_unit_test_fsm_SOURCES = tests/unit/test_fsm.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_LDADD = libqsgfsm.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_chan
TESTS += tests/unit/test_fsm_chan
tests_unit_test_fsm_chan_SOURCES = tests/unit/test_fsm_chan.c
tests_unit_test_fsm_chan_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_chan_LDADD = libqsgfsm.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_alias
TESTS += tests/unit/test_fsm_alias
tests_unit_test_fsm_alias_SOURCES = tests/unit/test_fsm_alias.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_alias_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_alias_LDADD = libqsgfsm.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_disp
TESTS += tests/unit/test_fsm_disp
tests_unit_test_fsm_disp_SOURCES = tests/unit/test_fsm_disp.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_disp_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_disp_LDADD = libqsgfsm.la libqsgcommon.la $(CMOCKA_LIBS)
endif
