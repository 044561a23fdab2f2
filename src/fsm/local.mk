# src/fsm build fragment (included by the top-level Makefile.am).
# Owner: fsm module. Produces libqsgfsm.la (pure state machine).
noinst_LTLIBRARIES += libqsgfsm.la
libqsgfsm_la_SOURCES = src/fsm/fsm.h src/fsm/fsm_chan.h src/fsm/fsm_int.h \
	src/fsm/fsm_attrs.h src/fsm/fsm_attrs.c \
	src/fsm/hmap.h src/fsm/hmap.c src/fsm/sorted.h src/fsm/sorted.c src/fsm/chcodec.c \
	src/fsm/cmd.c src/fsm/fsm.c src/fsm/fsm_qtable.c src/fsm/fsm_queue.c src/fsm/fsm_object.c \
	src/fsm/fsm_uow.c src/fsm/fsm_member.c src/fsm/fsm_level.c src/fsm/fsm_chan.c src/fsm/fsm_chmsg.c \
	src/fsm/fsm_park.c src/fsm/fsm_user.c src/fsm/fsm_authrec.c src/fsm/fsm_chlauth.c src/fsm/chlmatch.h src/fsm/chlmatch.c src/fsm/authmatch.h src/fsm/authmatch.c \
	src/fsm/fsm_snapshot.c src/fsm/fsm_snap.h src/fsm/fsm_snapmsg.c src/fsm/fsm_delta.c src/fsm/fsm_dtrack.c src/fsm/fsm_query.c src/fsm/fsm_check.c src/fsm/fsm_reap.c \
	src/fsm/fsm_body.c src/fsm/fsm_desc.c src/fsm/fsm_expire.c src/fsm/fsm_xheap.c src/fsm/membodies.h src/fsm/membodies.c
libqsgfsm_la_LIBADD = libqsgcommon.la
libqsgfsm_la_SOURCES += src/fsm/seqset.h src/fsm/seqset.c
