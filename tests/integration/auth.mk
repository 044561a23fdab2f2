# tests/integration/auth.mk: authentication on a TLS group (docs/security.md
# "Authentication"; owner: src/qsgd/auth.c, src/fsm/fsm_user.c).
TESTS += tests/integration/test_auth.sh
EXTRA_DIST += tests/integration/test_auth.sh
# Authority records (docs/security.md "Authority records"; owner:
# src/fsm/fsm_authrec.c, src/qsgd/auth.c, src/admin/admin_authrec.c).
TESTS += tests/integration/test_authrec.sh
EXTRA_DIST += tests/integration/test_authrec.sh
# Channel authentication (docs/security.md "Channel authentication
# (CHLAUTH)"; owner: src/fsm/fsm_chlauth.c, src/fsm/chlmatch.c,
# src/qsgd/authchl.c, src/admin/admin_chlauth.c).
TESTS += tests/integration/test_chlauth.sh
EXTRA_DIST += tests/integration/test_chlauth.sh
