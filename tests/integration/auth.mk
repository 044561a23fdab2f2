# tests/integration/auth.mk: authentication on a TLS group (docs/security.md
# "Authentication"; owner: src/qsgd/auth.c, src/fsm/fsm_user.c).
TESTS += tests/integration/test_auth.sh
EXTRA_DIST += tests/integration/test_auth.sh
