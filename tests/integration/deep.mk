# tests/integration/deep.mk: snapshots at depth on a live group (owner: raft-glue).
TESTS += tests/integration/test_deep_snapshot.sh
EXTRA_DIST += tests/integration/test_deep_snapshot.sh
