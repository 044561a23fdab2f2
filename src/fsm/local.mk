# src/fsm build fragment (included by the top-level Makefile.am).
# Owner: fsm module. Produces libqsgfsm.la (pure state machine).
noinst_LTLIBRARIES += libqsgfsm.la
libqsgfsm_la_SOURCES = src/fsm/fsm.h src/fsm/fsm_int.h \
	src/fsm/fsm_attrs.h src/fsm/fsm_attrs.c \
	src/fsm/hmap.h src/fsm/hmap.c \
	src/fsm/cmd.c src/fsm/fsm.c
libqsgfsm_la_LIBADD = libqsgcommon.la
