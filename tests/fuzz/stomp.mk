# tests/fuzz/stomp.mk: build fragment owned by the module it names (included by Makefile.am).
# libFuzzer target for the STOMP 1.2 parser (./configure CC=clang --enable-fuzz).
# The parser is compiled into the target so that it carries the fuzzer's
# coverage instrumentation.
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_stomp
tests_fuzz_fuzz_stomp_SOURCES = tests/fuzz/fuzz_stomp.c src/stomp/stompframe.c \
	src/common/codec.c src/common/err.c
tests_fuzz_fuzz_stomp_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_stomp_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
endif
