# tests/fuzz/proto.mk: build fragment owned by the module it names (included by Makefile.am).
# libFuzzer target for the client protocol decoders (./configure CC=clang --enable-fuzz).
# The decoders are compiled into the target (not taken from libqsgcommon.la)
# so that they carry the fuzzer's coverage instrumentation.
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_proto
tests_fuzz_fuzz_proto_SOURCES = tests/fuzz/fuzz_proto.c src/proto/proto.c \
	src/common/msg.c src/common/codec.c src/common/err.c src/common/crc32c.c
tests_fuzz_fuzz_proto_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_proto_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
endif
