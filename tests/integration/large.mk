# tests/integration/large.mk: large messages end to end (owner: large
# messages, docs/storage.md "Large messages").
TESTS += tests/integration/test_large.sh
EXTRA_DIST += tests/integration/test_large.sh
check_PROGRAMS += tests/integration/largeuow
tests_integration_largeuow_SOURCES = tests/integration/largeuow.c
tests_integration_largeuow_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/common
tests_integration_largeuow_LDADD = libqsg.la
