# tests/fuzz/tls.mk: libFuzzer target for src/tls (owner: the TLS module).
# Configure with CC=clang --enable-fuzz; run e.g.
#   ./tests/fuzz/fuzz_tls -max_total_time=30
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz_tls
# The engine is compiled into the target so that it carries the fuzzer's
# coverage instrumentation (OpenSSL itself does not).
tests_fuzz_fuzz_tls_SOURCES = tests/fuzz/fuzz_tls.c \
	src/tls/tls_ctx.c src/tls/tls_conn.c src/tls/tls_peer.c src/tls/tls_crl.c src/common/err.c
tests_fuzz_fuzz_tls_CFLAGS = $(AM_CFLAGS) $(SSL_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_tls_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_tls_LDADD = $(SSL_LIBS)
endif
