# Shared by the daemon and the client library.
noinst_LTLIBRARIES += libqsgcommon.la
libqsgcommon_la_SOURCES = \
	src/common/qsg_err.h src/common/err.c \
	src/common/codec.h src/common/codec.c \
	src/common/hostport.h src/common/hostport.c
include_HEADERS += src/common/qsg_err.h
libqsgcommon_la_SOURCES += src/common/msg.h src/common/msg.c \
	src/common/qsg_assert.h src/common/qsg_assert.c
libqsgcommon_la_SOURCES += src/common/crc32c.h src/common/crc32c.c
libqsgcommon_la_SOURCES += src/common/bgfree.h src/common/bgfree.c \
	src/common/nofork.h src/common/nofork.c
libqsgcommon_la_SOURCES += src/common/slab.h src/common/slab.c
