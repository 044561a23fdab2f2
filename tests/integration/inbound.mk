# tests/integration/inbound.mk: one instance of an inbound channel at a time:
# a second START of a running inbound channel at another member takes it
# over and the old instance ends at once (owner: chan, docs/channels.md
# "One inbound instance"), and a sender's RQMNAME. Ports 20560-20710.
TESTS += tests/integration/test_inbound_once.sh
EXTRA_DIST += tests/integration/test_inbound_once.sh
