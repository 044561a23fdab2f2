# src/chan build fragment. Owner: chan (channel wire protocol, the I/O-free
# channel cores; the channel runtime itself is compiled into qsgd, see
# src/qsgd/local.mk).
noinst_LTLIBRARIES += libqsgchan.la
libqsgchan_la_SOURCES = src/chan/chproto.h src/chan/chproto.c \
	src/chan/chcore.h src/chan/chcore.c src/chan/chcore_view.c \
	src/chan/chtrig.h src/chan/chtrig.c
# src/chan/chssl.c (CipherSpecs, I/O-free) is compiled into libqsgadmin.la:
# the admin checks SSLCIPH at DEFINE and the channel runtime, in qsgd, which
# links libqsgadmin.la, uses it too.
libqsgchan_la_LIBADD = libqsgcommon.la $(LZ4_LIBS)
