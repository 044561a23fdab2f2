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
# Password hashes (src/common/pwhash.h, OpenSSL's PBKDF2): qsgd, qsgadm and
# the tests; not in libqsg (a client only sends its password).
noinst_LTLIBRARIES += libqsgpw.la
libqsgpw_la_SOURCES = src/common/pwhash.h src/common/pwhash.c
libqsgpw_la_CFLAGS = $(AM_CFLAGS) $(SSL_CFLAGS)
libqsgpw_la_LIBADD = $(SSL_LIBS)
