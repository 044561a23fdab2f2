# tests/integration/catchup.mk: catch-up of message bodies after a wiped
# member installs a snapshot (owner: catch-up, src/qsgd/catchup.c).
TESTS += tests/integration/test_catchup.sh tests/integration/test_delta_catchup.sh
EXTRA_DIST += tests/integration/test_catchup.sh tests/integration/test_delta_catchup.sh
