# tests/integration/chinitfail.mk: a channel initiator that fails on its own
# while its queue manager keeps running (issue 11 item 5, seed 001 scenario
# 3; owner: chan, docs/channels.md "Channel initiator failure"). Ports
# 21700-21850.
TESTS += tests/integration/test_chinit_fail.sh
EXTRA_DIST += tests/integration/test_chinit_fail.sh
