# tests/layout/local.mk: build fragment owned by the module it names (included by Makefile.am).
# Owner: the source layout (issue 9). test_layout.sh checks the house rules on
# the built tree: no dependency cycle between files (scripts/modgraph), no
# source file over 1,250 lines, libraft called from raft-glue only, no
# src/fsm header in the wire protocols or the client library.
TESTS += tests/layout/test_layout.sh
EXTRA_DIST += tests/layout/test_layout.sh
