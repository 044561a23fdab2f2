# tests/integration/sdrfail.mk: a remote sender whose CONNAME lists every
# member, with the first member paused, killed or fenced, and the member
# holding the inbound channel paused (owner: chan, docs/channels.md
# "CONNAME lists and failover"). Ports 20100-20250.
TESTS += tests/integration/test_sdr_failover.sh
EXTRA_DIST += tests/integration/test_sdr_failover.sh
