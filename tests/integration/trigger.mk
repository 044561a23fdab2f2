# tests/integration/trigger.mk: triggering of shared sender channels: an
# armed transmission queue starts its channel when messages arrive, after
# DISCINT too; STOPPED, NOTRIGGER and TRIGTYPE(DEPTH) (owner: chan,
# docs/channels.md "Triggering"). Ports 43000-43150 by default.
TESTS += tests/integration/test_chan_trigger.sh
EXTRA_DIST += tests/integration/test_chan_trigger.sh
