# src/qsgd build fragment (included by the top-level Makefile.am).
# Owner: daemon. The member daemon `qsgd` (admin.c/mqsc.c: MQSC module; the
# channel runtime src/chan/ch{init,host,sdr,rcv}.c is compiled in here).
bin_PROGRAMS += qsgd
qsgd_SOURCES = \
	src/qsgd/log.h src/qsgd/log.c \
	src/qsgd/config.h src/qsgd/config.c \
	src/qsgd/net.h src/qsgd/net.c \
	src/qsgd/daemon.h src/qsgd/submit.c \
	src/qsgd/stream.h src/qsgd/stream.c \
	src/qsgd/batcher.h src/qsgd/batcher.c \
	src/qsgd/forward.h src/qsgd/forward.c \
	src/qsgd/lease.h src/qsgd/lease.c \
	src/qsgd/waiters.h src/qsgd/waiters.c \
	src/qsgd/server.h src/qsgd/server.c \
	src/qsgd/adminsrv.h src/qsgd/adminsrv.c \
	src/qsgd/notify.h src/qsgd/notify.c \
	src/qsgd/admin.h src/qsgd/admin.c \
	src/chan/chinit.h src/chan/chinit.c src/chan/chhost.h src/chan/chhost.c \
	src/chan/chsdr.h src/chan/chsdr.c src/chan/chrcv.h src/chan/chrcv.c \
	src/qsgd/lifecycle.h src/qsgd/lifecycle.c \
	src/qsgd/mqsc.h src/qsgd/mqsc.c \
	src/qsgd/metrics.h src/qsgd/metrics.c \
	src/qsgd/httpd.h src/qsgd/httpd.c \
	src/qsgd/sdnotify.h src/qsgd/sdnotify.c \
	src/qsgd/main.c
qsgd_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
qsgd_LDADD = libqsgglue.la libqsgchan.la libqsgfsm.la libqsgcommon.la \
	$(RAFT_LIBS) $(UV_LIBS) $(LZ4_LIBS) $(INIH_LIBS)
