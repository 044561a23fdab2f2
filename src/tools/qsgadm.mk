# src/tools/qsgadm.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: MQSC administration. qsgadm: runmqsc-like client over libqsg, with
# `qsgadm status` and `qsgadm check NAME`; line editing with libedit when
# configure found it (HAVE_LIBEDIT, EDIT_CFLAGS/EDIT_LIBS from configure.ac).
# qsg.h includes "qsg_err.h" as installed side by side, hence src/common.
bin_PROGRAMS += qsgadm
qsgadm_SOURCES = src/tools/qsgadm.h src/tools/qsgadm.c src/tools/qsgadm_check.c \
	src/tools/qsgadm_util.c src/tools/qsgadm_auth.c
qsgadm_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/common
qsgadm_CFLAGS = $(AM_CFLAGS) $(EDIT_CFLAGS)
qsgadm_LDADD = libqsg.la libqsgpw.la libqsgcommon.la $(SSL_LIBS) $(EDIT_LIBS)
