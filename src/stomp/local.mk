# src/stomp build fragment (included by the top-level Makefile.am).
# Owner: gateways. The STOMP 1.2 frame parser and writer (pure; the gateway
# is src/gw). Compiled into libqsgcommon.la.
libqsgcommon_la_SOURCES += src/stomp/stompframe.h src/stomp/stompframe.c
