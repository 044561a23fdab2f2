# tests/fuzz/store.mk: libFuzzer target for src/store (owner: store module).
# Configure with CC=clang --enable-fuzz; run e.g.
#   ./tests/fuzz/fuzz_store -max_total_time=30
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_store
# The store's pure parts are compiled into the target so that they carry the
# fuzzer's coverage instrumentation.
tests_fuzz_fuzz_store_SOURCES = tests/fuzz/fuzz_store.c \
	src/store/segment.c src/store/desc.c src/common/crc32c.c \
	src/common/codec.c src/common/err.c
tests_fuzz_fuzz_store_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_store_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
endif
