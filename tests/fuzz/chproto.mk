# tests/fuzz/chproto.mk: build fragment owned by the module it names (included by Makefile.am).
# libFuzzer target for the channel protocol decoders (./configure CC=clang --enable-fuzz).
# The decoders are compiled into the target (not taken from libqsgchan.la)
# so that they carry the fuzzer's coverage instrumentation.
# Run: tests/fuzz/fuzz_chproto -max_total_time=60 $(srcdir)/tests/fuzz/corpus/chproto
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_chproto
tests_fuzz_fuzz_chproto_SOURCES = tests/fuzz/fuzz_chproto.c src/chan/chproto.c \
	src/proto/proto.c src/common/msg.c src/common/codec.c src/common/err.c src/common/crc32c.c
tests_fuzz_fuzz_chproto_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_chproto_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_chproto_LDADD = $(LZ4_LIBS)
endif
