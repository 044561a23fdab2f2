# tests/unit/attrs.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: fsm module (attribute tables, src/fsm/fsm_attrs.h). The generated
# attribute codec against the bytes of the hand-written one it replaced.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_attrs
TESTS += tests/unit/test_fsm_attrs
tests_unit_test_fsm_attrs_SOURCES = tests/unit/test_fsm_attrs.c
tests_unit_test_fsm_attrs_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_attrs_LDADD = libqsgfsm.la libqsgcommon.la $(CMOCKA_LIBS)
endif
