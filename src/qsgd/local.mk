# src/qsgd build fragment (included by the top-level Makefile.am).
# Owner: daemon. The member daemon `qsgd` (MQSC administration: src/admin;
# the channel runtime src/chan/ch{init,host,sdr*,rcv}.c is compiled in here).
bin_PROGRAMS += qsgd

# libqsgd: the daemon modules that unit tests link without the rest
# (tests/unit/qsgd.mk). They reach submit.c, raft-glue and the listeners only
# through struct qsgd_ops (daemon.h); commit latency goes to metrics.c, which
# qsgd (and each test) links itself.
noinst_LTLIBRARIES += libqsgd.la
libqsgd_la_SOURCES = \
	src/qsgd/log.h src/qsgd/log.c \
	src/qsgd/config.h src/qsgd/config.c \
	src/qsgd/net.h src/qsgd/net.c \
	src/qsgd/stream.h src/qsgd/stream.c \
	src/qsgd/tlsstream.h src/qsgd/tlsstream.c \
	src/qsgd/submission.h src/qsgd/submission.c \
	src/qsgd/gtime.h src/qsgd/gtime.c \
	src/qsgd/batcher.h src/qsgd/batcher.c \
	src/qsgd/forward.h src/qsgd/forward.c \
	src/qsgd/lease.h src/qsgd/lease.c \
	src/qsgd/waiters.h src/qsgd/waiters.c \
	src/qsgd/looplag.h src/qsgd/looplag.c \
	src/qsgd/reaper.h src/qsgd/reaper.c \
	src/qsgd/basefile.h src/qsgd/basefile.c
libqsgd_la_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
libqsgd_la_LIBADD = libqsgtls.la libqsgpw.la $(SSL_LIBS)

qsgd_SOURCES = \
	src/qsgd/daemon.h src/qsgd/submit.c src/qsgd/wiring.c \
	src/qsgd/server.h src/qsgd/server_int.h src/qsgd/server.c \
	src/qsgd/server_conn.c src/qsgd/server_req.c src/qsgd/auth.h src/qsgd/auth.c \
	src/qsgd/authchl.h src/qsgd/authchl.c \
	src/qsgd/catchup.h src/qsgd/catchup.c \
	src/qsgd/adminsrv.h src/qsgd/adminsrv.c \
	src/qsgd/notify.h src/qsgd/notify.c \
	src/chan/chinit.h src/chan/chinit.c src/chan/chhost.h src/chan/chhost.c \
	src/chan/chsdr.h src/chan/chsdr.c src/chan/chsdr_int.h src/chan/chsdr_conn.c \
	src/chan/chsdr_settle.c src/chan/chsdr_batch.c src/chan/chsdr_life.c \
	src/chan/chclock.h src/chan/chclock.c \
	src/chan/chrcv.h src/chan/chrcv.c \
	src/qsgd/lifecycle.h src/qsgd/lifecycle.c \
	src/qsgd/metrics.h src/qsgd/metrics.c \
	src/qsgd/msgstore.h src/qsgd/msgstore.c \
	src/qsgd/snapdelta.h src/qsgd/snapdelta.c \
	src/qsgd/httpd.h src/qsgd/httpd.c \
	src/qsgd/sdnotify.h src/qsgd/sdnotify.c \
	src/qsgd/hugepages.h src/qsgd/hugepages.c \
	$(GW_SOURCES) \
	$(AMQPGW_SOURCES) \
	src/qsgd/main.c
qsgd_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
qsgd_LDADD = libqsgamqp.la libqsgd.la libqsgadmin.la libqsgglue.la libqsgchan.la libqsgfsm.la libqsgstore.la \
	libqsgtls.la libqsgpw.la libqsgcommon.la $(SSL_LIBS) $(RAFT_LIBS) $(UV_LIBS) $(LZ4_LIBS) $(INIH_LIBS) \
	$(PROTON_LIBS)
