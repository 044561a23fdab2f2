# tests/unit/authz.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: fsm. Unit tests of authority records (src/fsm/authmatch.h,
# docs/security.md "Authority records").
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_authmatch
TESTS += tests/unit/test_authmatch
tests_unit_test_authmatch_SOURCES = tests/unit/test_authmatch.c
tests_unit_test_authmatch_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_authmatch_LDADD = libqsgfsm.la libqsgcommon.la $(LZ4_LIBS) $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_authrec
TESTS += tests/unit/test_fsm_authrec
tests_unit_test_fsm_authrec_SOURCES = tests/unit/test_fsm_authrec.c tests/unit/fsm_harness.c \
	tests/unit/fsm_harness.h
tests_unit_test_fsm_authrec_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_authrec_LDADD = libqsgfsm_checked.la libqsgcommon.la $(LZ4_LIBS) $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_mqsc_authrec
TESTS += tests/unit/test_mqsc_authrec
tests_unit_test_mqsc_authrec_SOURCES = tests/unit/test_mqsc_authrec.c
tests_unit_test_mqsc_authrec_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_mqsc_authrec_LDADD = libqsgadmin.la libqsgfsm.la libqsgpw.la libqsgcommon.la \
	$(SSL_LIBS) $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_auth_authz
TESTS += tests/unit/test_auth_authz
tests_unit_test_auth_authz_SOURCES = tests/unit/test_auth_authz.c src/qsgd/auth.h src/qsgd/auth.c
tests_unit_test_auth_authz_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(INIH_CFLAGS)
tests_unit_test_auth_authz_LDADD = libqsgd.la libqsgadmin.la libqsgfsm.la libqsgpw.la \
	libqsgcommon.la $(UV_LIBS) $(INIH_LIBS) $(SSL_LIBS) $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_chlmatch
TESTS += tests/unit/test_chlmatch
tests_unit_test_chlmatch_SOURCES = tests/unit/test_chlmatch.c
tests_unit_test_chlmatch_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_chlmatch_LDADD = libqsgfsm.la libqsgcommon.la $(LZ4_LIBS) $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_fsm_chlauth
TESTS += tests/unit/test_fsm_chlauth
tests_unit_test_fsm_chlauth_SOURCES = tests/unit/test_fsm_chlauth.c tests/unit/fsm_harness.c \
	tests/unit/fsm_harness.h
tests_unit_test_fsm_chlauth_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_fsm_chlauth_LDADD = libqsgfsm_checked.la libqsgcommon.la $(LZ4_LIBS) $(CMOCKA_LIBS)
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_mqsc_chlauth
TESTS += tests/unit/test_mqsc_chlauth
tests_unit_test_mqsc_chlauth_SOURCES = tests/unit/test_mqsc_chlauth.c
tests_unit_test_mqsc_chlauth_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_mqsc_chlauth_LDADD = libqsgadmin.la libqsgfsm.la libqsgpw.la libqsgcommon.la \
	$(SSL_LIBS) $(CMOCKA_LIBS)
endif
