# tests/integration/admin.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: MQSC administration. qsgadm against a live 3-member group (port base 18800).
TESTS += tests/integration/test_admin.sh
EXTRA_DIST += tests/integration/test_admin.sh
