# tests/integration/amqp.mk: the AMQP 1.0 endpoint with the unmodified
# python3-qpid-proton client (issue 13, docs/protocols.md "AMQP 1.0").
# Owner: the AMQP module. amqpfake runs the endpoint (src/amqp) over an
# in-memory backend; test_amqp_driver.sh drives it. test_amqp.sh: the
# gateway (src/amqp/amqpgw.c) on a group of 3, with a leader killed.
check_PROGRAMS += tests/integration/amqpfake
tests_integration_amqpfake_SOURCES = tests/integration/amqpfake.c
tests_integration_amqpfake_CFLAGS = $(AM_CFLAGS) $(PROTON_CFLAGS)
tests_integration_amqpfake_LDADD = libqsgamqp.la libqsgd.la libqsgtls.la libqsgcommon.la \
	$(PROTON_LIBS) $(SSL_LIBS) $(UV_LIBS) $(INIH_LIBS)
TESTS += tests/integration/test_amqp_driver.sh
EXTRA_DIST += tests/integration/test_amqp_driver.sh tests/integration/amqp_client.py
TESTS += tests/integration/test_amqp.sh
EXTRA_DIST += tests/integration/test_amqp.sh tests/integration/amqp_failover.py
TESTS += tests/integration/test_amqp_tls.sh
EXTRA_DIST += tests/integration/test_amqp_tls.sh tests/integration/amqp_tls.py
