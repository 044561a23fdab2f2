# src/gw build fragment (included by the top-level Makefile.am).
# Owner: gateways. Protocol gateways served through virtual connections of
# the client listener (src/qsgd/server.h): gateway sessions (gwsess.c), the
# message property format of gateways (gwprops.c) and the STOMP 1.2
# gateway (stompgw.c, stompops.c; the parser is src/stomp). Compiled into
# qsgd (src/qsgd/local.mk lists GW_SOURCES).
GW_SOURCES = \
	src/gw/gwsess.h src/gw/gwsess.c \
	src/gw/gwprops.h src/gw/gwprops.c \
	src/gw/stompgw.h src/gw/stompgw_int.h src/gw/stompgw.c src/gw/stompops.c
