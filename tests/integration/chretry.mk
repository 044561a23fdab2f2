# tests/integration/chretry.mk: group-wide channel retry: SHORTRTY attempts
# counted across the members and across the owner's death, then STOPPED
# (owner: chan, docs/channels.md "Retry across the group"). Ports 20900-21050.
TESTS += tests/integration/test_chan_retry.sh
EXTRA_DIST += tests/integration/test_chan_retry.sh
