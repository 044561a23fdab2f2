# src/chan build fragment. Owner: chproto (channel wire protocol).
noinst_LTLIBRARIES += libqsgchan.la
libqsgchan_la_SOURCES = src/chan/chproto.h src/chan/chproto.c
libqsgchan_la_LIBADD = libqsgcommon.la $(LZ4_LIBS)
