# tests/unit/obs.mk: unit tests of the qsgd observability modules (owner: obs):
# /metrics from a real struct fsm, readiness, JSON logs, the HTTP listener,
# sd_notify.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_metrics
TESTS += tests/unit/test_metrics
tests_unit_test_metrics_SOURCES = tests/unit/test_metrics.c \
	src/qsgd/metrics.h src/qsgd/metrics.c src/qsgd/log.h src/qsgd/log.c \
	src/qsgd/httpd.h src/qsgd/httpd.c src/qsgd/sdnotify.h src/qsgd/sdnotify.c \
	src/qsgd/net.h src/qsgd/net.c
tests_unit_test_metrics_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_metrics_LDADD = libqsgfsm.la libqsgcommon.la $(UV_LIBS) $(CMOCKA_LIBS)
endif
