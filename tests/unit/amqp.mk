# tests/unit/amqp.mk: the AMQP 1.0 endpoint's pure part (src/amqp/amqpmsg.c:
# message conversion, ids, outcomes). Owner: the AMQP module (issue 13).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_amqpmsg
TESTS += tests/unit/test_amqpmsg
tests_unit_test_amqpmsg_SOURCES = tests/unit/test_amqpmsg.c
tests_unit_test_amqpmsg_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(PROTON_CFLAGS)
tests_unit_test_amqpmsg_LDADD = libqsgamqp.la libqsgcommon.la $(PROTON_LIBS) $(SSL_LIBS) \
	$(UV_LIBS) $(CMOCKA_LIBS)
endif
