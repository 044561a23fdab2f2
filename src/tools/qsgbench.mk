# src/tools/qsgbench.mk: owned by the qsgbench engineer.
# qsgbench: load generator speaking the client protocol directly (src/proto),
# not through libqsg, so it can pipeline many requests per connection.
bin_PROGRAMS += qsgbench
qsgbench_SOURCES = src/tools/qsgbench.c src/tools/bench_hist.c src/tools/bench_hist.h \
	src/tools/qsgbench_lib.c src/tools/qsgbench_lib.h src/tools/qsgbench_opts.c \
	src/tools/qsgbench_opts.h
qsgbench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/common
qsgbench_LDADD = libqsg.la libqsgcommon.la $(UV_LIBS) -lm -lpthread
EXTRA_DIST += bench/run.sh

if HAVE_CMOCKA
check_PROGRAMS += src/tools/bench_hist_test
TESTS += src/tools/bench_hist_test
src_tools_bench_hist_test_SOURCES = src/tools/bench_hist_test.c src/tools/bench_hist.c \
	src/tools/bench_hist.h
src_tools_bench_hist_test_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/common
src_tools_bench_hist_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
src_tools_bench_hist_test_LDADD = $(CMOCKA_LIBS) -lm
endif
