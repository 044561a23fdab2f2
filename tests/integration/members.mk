# tests/integration/members.mk (included by the top-level Makefile.am).
# Owner: members (issue 5). Membership changes and a rolling restart under
# load, against a live group on loopback (ports 19200.. and 19220..).
TESTS += tests/integration/test_members.sh tests/integration/test_rolling.sh
EXTRA_DIST += tests/integration/test_members.sh tests/integration/test_rolling.sh
