# tests/lib build fragment (included by the top-level Makefile.am).
# Owner: tests. The shared raft_fixture harness of the cluster tests and the
# simulator (fixture.h, prng.h): a noinst convenience library.
noinst_LTLIBRARIES += libqsgtestfix.la
libqsgtestfix_la_SOURCES = tests/lib/fixture.h tests/lib/fixture.c tests/lib/prng.h
