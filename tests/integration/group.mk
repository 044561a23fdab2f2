# tests/integration/group.mk: what the group does for applications across
# members (issue 11, item 8): a unit of work over two queues, a parked get
# woken through another member; a stopped channel through its owner's death
# (owner: lead). Ports 24000-24350. Command levels (test_cmdlevel.sh): 24400-24550.
TESTS += tests/integration/test_group_ops.sh tests/integration/test_chan_stopkill.sh \
	tests/integration/test_cmdlevel.sh
EXTRA_DIST += tests/integration/test_group_ops.sh tests/integration/test_chan_stopkill.sh \
	tests/integration/test_cmdlevel.sh
check_PROGRAMS += tests/integration/uow2q
tests_integration_uow2q_SOURCES = tests/integration/uow2q.c tests/integration/uowtool.h
tests_integration_uow2q_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/common
tests_integration_uow2q_LDADD = libqsg.la
