# tests/fuzz/amqp.mk: libFuzzer target for the AMQP 1.0 endpoint's input
# (owner: the AMQP module, issue 13). Configure with CC=clang --enable-fuzz;
# run e.g. tests/fuzz/fuzz_amqp -max_total_time=30 $(srcdir)/tests/fuzz/corpus/amqp
# Our sources are compiled into the target so that they carry the
# fuzzer's coverage instrumentation (proton itself does not).
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_amqp
tests_fuzz_fuzz_amqp_SOURCES = tests/fuzz/fuzz_amqp.c src/amqp/amqpconn.c src/amqp/amqpmsg.c \
	src/common/msg.c src/common/codec.c src/common/err.c
tests_fuzz_fuzz_amqp_CFLAGS = $(AM_CFLAGS) $(PROTON_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_amqp_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_amqp_LDADD = $(PROTON_LIBS) $(SSL_LIBS)
endif
