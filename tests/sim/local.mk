# tests/sim build fragment (included by the top-level Makefile.am).
# Owner: sim. Deterministic simulator: the real state machine on raft_fixture
# with the real channel cores (libqsgchan) driving a simulated sending MCA and
# receiver, on the shared harness of tests/lib (docs/simulation.md).
# Needs only libraft (no cmocka). `make check` runs a short run.
check_PROGRAMS += tests/sim/qsgsim
TESTS += tests/sim/run_short.sh
EXTRA_DIST += tests/sim/run_short.sh
tests_sim_qsgsim_SOURCES = tests/sim/sim.c
tests_sim_qsgsim_LDADD = libqsgtestfix.la libqsgchan.la libqsgfsm.la libqsgglue.la libqsgcommon.la \
	$(RAFT_LIBS) $(UV_LIBS)
