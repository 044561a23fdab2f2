# tests/unit/fsm.mk: unit tests of src/fsm (owner: fsm module).
# The state-machine tests link libqsgfsm_checked.la: the fsm sources compiled
# with -DQSG_CHECKED, so QSG_ASSERT and the invariant checks after every
# apply run in these tests whatever configure was given (qsg_assert.h).
if HAVE_CMOCKA
check_LTLIBRARIES = libqsgfsm_checked.la
libqsgfsm_checked_la_SOURCES = $(libqsgfsm_la_SOURCES)
libqsgfsm_checked_la_CPPFLAGS = $(AM_CPPFLAGS) -DQSG_CHECKED
libqsgfsm_checked_la_LIBADD = libqsgcommon.la
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm
TESTS += tests/unit/test_fsm
tests_unit_test_fsm_SOURCES = tests/unit/test_fsm.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_chan
TESTS += tests/unit/test_fsm_chan
tests_unit_test_fsm_chan_SOURCES = tests/unit/test_fsm_chan.c
tests_unit_test_fsm_chan_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_chan_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_blacklist
TESTS += tests/unit/test_fsm_blacklist
tests_unit_test_fsm_blacklist_SOURCES = tests/unit/test_fsm_blacklist.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_blacklist_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_blacklist_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_chretry
TESTS += tests/unit/test_fsm_chretry
tests_unit_test_fsm_chretry_SOURCES = tests/unit/test_fsm_chretry.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_chretry_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_chretry_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_alias
TESTS += tests/unit/test_fsm_alias
tests_unit_test_fsm_alias_SOURCES = tests/unit/test_fsm_alias.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_alias_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_alias_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_disp
TESTS += tests/unit/test_fsm_disp
tests_unit_test_fsm_disp_SOURCES = tests/unit/test_fsm_disp.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_disp_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_disp_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_check
TESTS += tests/unit/test_fsm_check
tests_unit_test_fsm_check_SOURCES = tests/unit/test_fsm_check.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_check_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_check_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_bodies
TESTS += tests/unit/test_fsm_bodies
tests_unit_test_fsm_bodies_SOURCES = tests/unit/test_fsm_bodies.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_bodies_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_bodies_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_reap
TESTS += tests/unit/test_fsm_reap
tests_unit_test_fsm_reap_SOURCES = tests/unit/test_fsm_reap.c
tests_unit_test_fsm_reap_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_reap_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test_fsm_expire
TESTS += tests/unit/test_fsm_expire
tests_unit_test_fsm_expire_SOURCES = tests/unit/test_fsm_expire.c
tests_unit_test_fsm_expire_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_expire_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test_fsm_large
TESTS += tests/unit/test_fsm_large
tests_unit_test_fsm_large_SOURCES = tests/unit/test_fsm_large.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_large_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_large_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_desc
TESTS += tests/unit/test_fsm_desc
tests_unit_test_fsm_desc_SOURCES = tests/unit/test_fsm_desc.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_desc_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_desc_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_level
TESTS += tests/unit/test_fsm_level
tests_unit_test_fsm_level_SOURCES = tests/unit/test_fsm_level.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_level_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_level_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_index
TESTS += tests/unit/test_fsm_index
tests_unit_test_fsm_index_SOURCES = tests/unit/test_fsm_index.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_index_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_index_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
# Restore refuses a snapshot with two messages of one seqno (src/fsm/seqset.h).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_seqset
TESTS += tests/unit/test_fsm_seqset
tests_unit_test_fsm_seqset_SOURCES = tests/unit/test_fsm_seqset.c tests/unit/fsm_harness.c tests/unit/fsm_harness.h
tests_unit_test_fsm_seqset_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_seqset_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_delta
TESTS += tests/unit/test_fsm_delta
tests_unit_test_fsm_delta_SOURCES = tests/unit/test_fsm_delta.c
tests_unit_test_fsm_delta_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_delta_LDADD = libqsgfsm_checked.la libqsgcommon.la $(CMOCKA_LIBS)
endif
