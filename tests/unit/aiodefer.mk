# tests/unit/aiodefer.mk: io_destroy(2) off the loop (raft-glue/aiodefer.c,
# the syscall(2) interposer for libraft's segment writers), built alone.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_aiodefer
TESTS += tests/unit/test_aiodefer
tests_unit_test_aiodefer_SOURCES = tests/unit/test_aiodefer.c \
	raft-glue/aiodefer.h raft-glue/aiodefer.c raft-glue/bgthread.h raft-glue/bgthread.c
tests_unit_test_aiodefer_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_aiodefer_LDADD = $(CMOCKA_LIBS) -lpthread
endif
