# tests/integration build fragment (included by the top-level Makefile.am).
# Owner: lead. Integration tests with real processes on loopback.
TESTS += \
	tests/integration/test_basic.sh \
	tests/integration/test_failover.sh \
	tests/integration/test_uow.sh \
	tests/integration/test_badinput.sh
EXTRA_DIST += tests/integration/lib.sh tests/integration/test_basic.sh tests/integration/test_failover.sh tests/integration/test_uow.sh tests/integration/test_badinput.sh
check_PROGRAMS += tests/integration/uowhold
tests_integration_uowhold_SOURCES = tests/integration/uowhold.c tests/integration/uowtool.h
tests_integration_uowhold_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/common
tests_integration_uowhold_LDADD = libqsg.la
TESTS += tests/integration/test_restart.sh
EXTRA_DIST += tests/integration/test_restart.sh
TESTS += tests/integration/test_channels.sh tests/integration/test_chan_blacklist.sh \
	tests/integration/test_chan_blacklist2.sh
EXTRA_DIST += tests/integration/test_channels.sh tests/integration/test_chan_blacklist.sh \
	tests/integration/test_chan_blacklist2.sh
TESTS += tests/integration/test_pause.sh
EXTRA_DIST += tests/integration/test_pause.sh
TESTS += tests/integration/test_async_failover.sh tests/integration/test_async_consume.sh
EXTRA_DIST += tests/integration/test_async_failover.sh tests/integration/test_async_consume.sh
