# tests/fuzz/fsm.mk: libFuzzer target for src/fsm (owner: fsm module).
# Configure with CC=clang --enable-fuzz; run e.g.
#   ./tests/fuzz/fuzz_entry -max_total_time=30 $(top_srcdir)/tests/fuzz/corpus/entry
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_entry
# The fsm and codec sources are compiled into the target so that libFuzzer's
# coverage instrumentation covers them (the libraries are not instrumented).
tests_fuzz_fuzz_entry_SOURCES = tests/fuzz/fuzz_entry.c \
	$(libqsgfsm_la_SOURCES) \
	src/common/msg.c src/common/codec.c src/common/err.c src/common/qsg_assert.c \
	src/common/crc32c.c src/common/slab.c src/common/bgfree.c
tests_fuzz_fuzz_entry_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_entry_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif
