# src/store build fragment (included by the top-level Makefile.am).
# Owner: store module. Produces libqsgstore.la (message store: segments,
# body cache, descriptor codec). No libraft, no libuv.
noinst_LTLIBRARIES += libqsgstore.la
libqsgstore_la_SOURCES = src/store/store.h src/store/store_int.h src/store/store.c src/store/sync.c \
	src/store/segment.c src/store/segidx.c \
	src/store/cache.c src/store/desc.c \
	src/store/bodystore.h src/store/bodystore.c src/store/bsint.h src/store/bsmap.c \
	src/store/bsrename.c
libqsgstore_la_LIBADD = libqsgcommon.la
