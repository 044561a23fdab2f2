/* qsgbench's command line (qsgbench_opts.c): the options of a run, their
 * defaults and checks, and the usage text. */
#ifndef QSG_TOOLS_QSGBENCH_OPTS_H
#define QSG_TOOLS_QSGBENCH_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_DEFAULT_QUEUE "QSG.BENCH"
#define BENCH_GET_WAIT_MS 500 /* putget: getters wait this long per GET */
#define BENCH_MAX_CONNS 4096
#define BENCH_MAX_INFLIGHT 1024 /* the server's per-connection limit */

enum bench_mode { MODE_PUT, MODE_GET, MODE_PUTGET };

struct bench_opts {
	const char *conn; /* comma-separated host:port list */
	unsigned conns;
	unsigned inflight;
	size_t size;
	bool persistent;
	unsigned syncpoint; /* ops per uow; 0 = none */
	enum bench_mode mode;
	uint64_t messages; /* 0 = unbounded (then seconds bounds the run) */
	double seconds; /* 0 = unbounded (then messages bounds the run) */
	double rate; /* total msgs/s; 0 = as fast as possible */
	const char *queue;
	double warmup; /* seconds not measured */
	bool verify; /* stamp bodies at put, check them at get */
	uint64_t expiry_ms; /* put: time to live, 0 = never */
	bool lib; /* through libqsg (qsgbench_lib.c) */
};

/* Parse argv into o (defaults first; QSG_CONN for the members). Returns 0 to
 * run, 1 after --help (usage printed), 2 on a usage error (reported). */
int bench_parse_args(int argc, char **argv, struct bench_opts *o);

#endif
