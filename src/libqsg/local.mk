# src/libqsg build fragment (included by the top-level Makefile.am).
# Owner: client module. The installed client library and its header.
lib_LTLIBRARIES += libqsg.la
include_HEADERS += src/libqsg/qsg.h
libqsg_la_SOURCES = src/libqsg/qsg.h src/libqsg/client.c src/libqsg/client_int.h src/libqsg/conn.c \
	src/libqsg/large.c src/libqsg/async.c src/libqsg/tlsio.c src/libqsg/clock.c src/libqsg/sockio.c \
	src/libqsg/cred.c
libqsg_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/common
# libqsgtls.la brings libqsgcommon.la with it (a second copy would clash in
# the shared library).
libqsg_la_LIBADD = libqsgtls.la $(SSL_LIBS)
libqsg_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0
