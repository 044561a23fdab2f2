# raft-glue build fragment (included by the top-level Makefile.am).
# Owner: raft-glue. Produces libqsgglue.la (the only code that calls libraft).
noinst_LTLIBRARIES += libqsgglue.la
libqsgglue_la_SOURCES = raft-glue/glue.h raft-glue/glue.c \
	raft-glue/fsm_adapter.h raft-glue/fsm_adapter.c \
	raft-glue/snapfork.h raft-glue/snapfork.c \
	raft-glue/aiodefer.h raft-glue/aiodefer.c \
	raft-glue/rheap.h raft-glue/rheap.c \
	raft-glue/bgthread.h raft-glue/bgthread.c \
	raft-glue/arestore.c \
	raft-glue/rtls.h raft-glue/rtls.c
libqsgglue_la_LIBADD = libqsgtls.la libqsgcommon.la $(RAFT_LIBS) $(UV_LIBS)
