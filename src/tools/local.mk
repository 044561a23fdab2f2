# src/tools build fragment (included by the top-level Makefile.am).
# Owner: client module. qsgput and qsgget (qsgadm has its own fragment).
bin_PROGRAMS += qsgput qsgget
TOOLS_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/common
qsgput_SOURCES = src/tools/qsgput.c src/tools/conn_opts.c src/tools/conn_opts.h
qsgput_CPPFLAGS = $(TOOLS_CPPFLAGS)
qsgput_LDADD = libqsg.la
qsgget_SOURCES = src/tools/qsgget.c src/tools/conn_opts.c src/tools/conn_opts.h
qsgget_CPPFLAGS = $(TOOLS_CPPFLAGS)
qsgget_LDADD = libqsg.la libqsgfsm.la libqsgcommon.la
