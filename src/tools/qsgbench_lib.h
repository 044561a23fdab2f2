/* qsgbench --lib: the same load through libqsg's asynchronous calls
 * (qsg_put_async with a window of --inflight, qsg_consume with a read-ahead
 * of --inflight), one thread and connection per --conns, to show what an
 * application gets and the library's overhead over the raw protocol. */
#ifndef QSG_TOOLS_QSGBENCH_LIB_H
#define QSG_TOOLS_QSGBENCH_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_lib_opts {
	const char *conn;
	unsigned conns;
	unsigned inflight;
	size_t size;
	bool persistent;
	unsigned syncpoint; /* ops per uow; 0 = none */
	bool get; /* get mode (else put) */
	uint64_t messages; /* 0 = unbounded */
	double seconds; /* 0 = unbounded */
	const char *queue;
	uint64_t expiry_ms; /* put: time to live, 0 = never */
};

/* Run and print the report (the RESULT line as the raw mode, lib=1).
 * Returns the exit status. */
int bench_lib_run(const struct bench_lib_opts *o);

#endif
