# src/chan build fragment. Owner: chan (channel wire protocol, the I/O-free
# channel cores; the channel runtime itself is compiled into qsgd, see
# src/qsgd/local.mk).
noinst_LTLIBRARIES += libqsgchan.la
libqsgchan_la_SOURCES = src/chan/chproto.h src/chan/chproto.c \
	src/chan/chcore.h src/chan/chcore.c src/chan/chcore_view.c \
	src/chan/chtrig.h src/chan/chtrig.c
libqsgchan_la_LIBADD = libqsgcommon.la $(LZ4_LIBS)
