# bench/store.mk: build fragment owned by the store module (included by Makefile.am).
# bench/store_bench: append/read/compaction throughput of src/store (not installed).
noinst_PROGRAMS += bench/store_bench
bench_store_bench_SOURCES = bench/store_bench.c
bench_store_bench_LDADD = libqsgstore.la libqsgcommon.la
# bench/bodystore_bench: put/read/release rates and map bytes per message of the body provider.
noinst_PROGRAMS += bench/bodystore_bench
bench_bodystore_bench_SOURCES = bench/bodystore_bench.c
bench_bodystore_bench_LDADD = libqsgstore.la libqsgcommon.la
# bench/fsm_bench: the state machine at depth (memory per message, snapshot
# encode and restore times, formats 5 and 6), with a provider that keeps nothing.
noinst_PROGRAMS += bench/fsm_bench
bench_fsm_bench_SOURCES = bench/fsm_bench.c
bench_fsm_bench_LDADD = libqsgfsm.la libqsgcommon.la
