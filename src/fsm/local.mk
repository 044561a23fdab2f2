# src/fsm build fragment (included by the top-level Makefile.am).
# Owner: fsm module. Produces libqsgfsm.la (pure state machine).
noinst_LTLIBRARIES += libqsgfsm.la
libqsgfsm_la_SOURCES = src/fsm/fsm.h
libqsgfsm_la_LIBADD = libqsgcommon.la
