# src/amqp build fragment (included by the top-level Makefile.am).
# Owner: the AMQP 1.0 endpoint (issue 13, docs/protocols.md "AMQP 1.0").
# libqsgamqp: messages and outcomes (amqpmsg.c, pure), one connection on
# Qpid Proton's connection driver with our SASL mechanisms (amqpconn.c, no
# I/O) and the libuv listener (amqplisten.c, on the daemon's byte streams
# of libqsgd: src/qsgd/stream.c and tlsstream.c, TLS as the client
# listener; a program linking it links libqsgd.la). The backend (the
# group's gateway) is given by the caller.
noinst_LTLIBRARIES += libqsgamqp.la
libqsgamqp_la_SOURCES = src/amqp/amqpmsg.h src/amqp/amqpmsg.c \
	src/amqp/amqpconn.h src/amqp/amqpconn.c \
	src/amqp/amqplisten.h src/amqp/amqplisten.c
libqsgamqp_la_CFLAGS = $(AM_CFLAGS) $(PROTON_CFLAGS) $(SSL_CFLAGS)
libqsgamqp_la_LIBADD = libqsgcommon.la $(PROTON_LIBS) $(SSL_LIBS) $(UV_LIBS)
# The gateway backend (amqpgw.c: gateway sessions of src/gw) needs the
# daemon: compiled into qsgd (src/qsgd/local.mk lists AMQPGW_SOURCES).
AMQPGW_SOURCES = src/amqp/amqpgw.h src/amqp/amqpgw.c
