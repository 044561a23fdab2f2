# tests/integration/stomp.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: gateways. The STOMP 1.2 gateway with Debian's python3-stomp.
TESTS += tests/integration/test_stomp.sh tests/integration/test_stomp_auth.sh
EXTRA_DIST += tests/integration/test_stomp.sh tests/integration/stomp_cases.py \
	tests/integration/test_stomp_auth.sh tests/integration/stomp_auth.py \
	tests/integration/stomp_failover.py
