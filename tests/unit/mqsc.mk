# tests/unit/mqsc.mk: build fragment owned by the module it names (included by Makefile.am).
