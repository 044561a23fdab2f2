# src/tls build fragment (included by the top-level Makefile.am).
# Owner: the TLS module (issue 12). Produces libqsgtls.la: the TLS engine over
# memory BIOs (OpenSSL 3). No sockets, no libuv, no libraft.
noinst_LTLIBRARIES += libqsgtls.la
libqsgtls_la_SOURCES = src/tls/tls.h src/tls/tls_int.h \
	src/tls/tls_ctx.c src/tls/tls_conn.c src/tls/tls_peer.c src/tls/tls_crl.c
libqsgtls_la_CFLAGS = $(AM_CFLAGS) $(SSL_CFLAGS)
libqsgtls_la_LIBADD = libqsgcommon.la $(SSL_LIBS)
