# src/proto build fragment (included by the top-level Makefile.am).
# Owner: protocol module. Compiled into libqsgcommon.la.
libqsgcommon_la_SOURCES += src/proto/proto.h src/proto/proto.c
