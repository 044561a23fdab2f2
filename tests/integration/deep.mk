# tests/integration/deep.mk: deep queues on a live group (owner: raft-glue and the message store).
TESTS += tests/integration/test_deep_snapshot.sh tests/integration/test_deep_store.sh \
	tests/integration/test_deep_clear.sh tests/integration/test_delta_snapshot.sh
EXTRA_DIST += tests/integration/test_deep_snapshot.sh tests/integration/test_deep_store.sh \
	tests/integration/test_deep_clear.sh tests/integration/test_delta_snapshot.sh
