# tests/integration/chprivate.mk: a private channel (QSGDISP(QMGR)) next to a
# shared one: both deliver; kill -9 of the private channel's member moves
# the shared channel and leaves the private one to its member, which
# resumes it on restart, every message exactly once (owner: chan,
# docs/channels.md "Private channels").
TESTS += tests/integration/test_chan_private.sh
EXTRA_DIST += tests/integration/test_chan_private.sh
