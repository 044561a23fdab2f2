# tests/unit/rheap.mk: libraft's frees off the loop (raft-glue/rheap.c, the
# raft_heap whose free() a background thread makes), built alone.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_rheap
TESTS += tests/unit/test_rheap
tests_unit_test_rheap_SOURCES = tests/unit/test_rheap.c \
	raft-glue/rheap.h raft-glue/rheap.c raft-glue/bgthread.h raft-glue/bgthread.c
tests_unit_test_rheap_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_rheap_LDADD = $(CMOCKA_LIBS) $(RAFT_LIBS) -lpthread
endif
