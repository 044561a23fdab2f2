/* qsgbench's command line (qsgbench_opts.h). */
#include "qsgbench_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qsgbench [-c HOST:PORT[,...]] [--conns N] [--inflight M] [--size BYTES]\n"
		"                [--persistent|--nonpersistent] [--syncpoint B]\n"
		"                [--mode put|get|putget] [--messages TOTAL] [--seconds S]\n"
		"                [--rate R] [--queue Q] [--warmup S] [--expiry MS]\n"
		"  -c, --conn      members (default: QSG_CONN); connections round-robin over them\n"
		"  --conns N       connections (sessions), default 1; putget: half put, half get\n"
		"  --inflight M    requests in flight per connection, default 1 (max %d)\n"
		"  --size BYTES    message body size, default 1024\n"
		"  --syncpoint B   put/get under syncpoint, COMMIT every B per connection\n"
		"  --mode          put (default); get: destructive gets, no wait, until the\n"
		"                  queue is empty; putget: getters wait %d ms per GET\n"
		"  --messages N    total operations (warmup included)\n"
		"  --seconds S     measured seconds (after warmup); default 10 if neither\n"
		"  --rate R        total msgs/s, open loop (latency from the scheduled time)\n"
		"  --queue Q       default " BENCH_DEFAULT_QUEUE " (must exist)\n"
		"  --warmup S      seconds of load not measured, default 0\n"
		"  --expiry MS     put: each message expires MS ms after its put (default never)\n"
		"  --verify        put: stamp each body and its CorrelId; get: check every\n"
		"                  body against its CorrelId and count duplicates (VERIFY line)\n"
		"  --lib           through libqsg (qsg_put_async / qsg_consume, window and\n"
		"                  read-ahead = --inflight, max 1000 / 512), put or get mode\n",
		BENCH_MAX_INFLIGHT, BENCH_GET_WAIT_MS);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '\0')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || !(v >= 0.0) || v > max)
		return -1;
	*out = v;
	return 0;
}

int bench_parse_args(int argc, char **argv, struct bench_opts *o)
{
	enum {
		OPT_CONNS = 256,
		OPT_INFLIGHT,
		OPT_SIZE,
		OPT_PERS,
		OPT_NONPERS,
		OPT_SYNC,
		OPT_MODE,
		OPT_MSGS,
		OPT_SECS,
		OPT_RATE,
		OPT_QUEUE,
		OPT_WARMUP,
		OPT_VERIFY,
		OPT_LIB,
		OPT_EXPIRY
	};
	static const struct option opts[] = {
	    {"conn", required_argument, NULL, 'c'},
	    {"conns", required_argument, NULL, OPT_CONNS},
	    {"inflight", required_argument, NULL, OPT_INFLIGHT},
	    {"size", required_argument, NULL, OPT_SIZE},
	    {"persistent", no_argument, NULL, OPT_PERS},
	    {"nonpersistent", no_argument, NULL, OPT_NONPERS},
	    {"syncpoint", required_argument, NULL, OPT_SYNC},
	    {"mode", required_argument, NULL, OPT_MODE},
	    {"messages", required_argument, NULL, OPT_MSGS},
	    {"seconds", required_argument, NULL, OPT_SECS},
	    {"rate", required_argument, NULL, OPT_RATE},
	    {"queue", required_argument, NULL, OPT_QUEUE},
	    {"warmup", required_argument, NULL, OPT_WARMUP},
	    {"verify", no_argument, NULL, OPT_VERIFY},
	    {"lib", no_argument, NULL, OPT_LIB},
	    {"expiry", required_argument, NULL, OPT_EXPIRY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->conn = getenv("QSG_CONN");
	o->conns = 1;
	o->inflight = 1;
	o->size = 1024;
	o->persistent = true;
	o->mode = MODE_PUT;
	o->queue = BENCH_DEFAULT_QUEUE;
	int opt;
	uint64_t u;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		const char *bad = NULL;
		switch (opt) {
		case 'c':
			o->conn = optarg;
			break;
		case OPT_CONNS:
			if (parse_u64(optarg, BENCH_MAX_CONNS, &u) != 0 || u == 0)
				bad = "--conns must be 1 to 4096";
			o->conns = (unsigned)u;
			break;
		case OPT_INFLIGHT:
			if (parse_u64(optarg, BENCH_MAX_INFLIGHT, &u) != 0 || u == 0)
				bad = "--inflight must be 1 to 1024";
			o->inflight = (unsigned)u;
			break;
		case OPT_SIZE:
			if (parse_u64(optarg, FSM_MAX_MSGL, &u) != 0)
				bad = "--size must be 0 to 104857600";
			o->size = (size_t)u;
			break;
		case OPT_PERS:
			o->persistent = true;
			break;
		case OPT_NONPERS:
			o->persistent = false;
			break;
		case OPT_SYNC:
			if (parse_u64(optarg, 1000000, &u) != 0)
				bad = "--syncpoint must be 0 to 1000000";
			o->syncpoint = (unsigned)u;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "put") == 0)
				o->mode = MODE_PUT;
			else if (strcmp(optarg, "get") == 0)
				o->mode = MODE_GET;
			else if (strcmp(optarg, "putget") == 0)
				o->mode = MODE_PUTGET;
			else
				bad = "--mode must be put, get or putget";
			break;
		case OPT_MSGS:
			if (parse_u64(optarg, UINT64_MAX - 1, &o->messages) != 0)
				bad = "--messages must be a non-negative integer";
			break;
		case OPT_SECS:
			if (parse_double(optarg, 86400, &o->seconds) != 0)
				bad = "--seconds must be 0 to 86400";
			break;
		case OPT_RATE:
			if (parse_double(optarg, 1e8, &o->rate) != 0)
				bad = "--rate must be 0 to 1e8";
			break;
		case OPT_QUEUE:
			if (strlen(optarg) < 1 || strlen(optarg) > FSM_NAME_MAX)
				bad = "--queue must be 1 to 48 characters";
			o->queue = optarg;
			break;
		case OPT_WARMUP:
			if (parse_double(optarg, 3600, &o->warmup) != 0)
				bad = "--warmup must be 0 to 3600";
			break;
		case OPT_VERIFY:
			o->verify = true;
			break;
		case OPT_LIB:
			o->lib = true;
			break;
		case OPT_EXPIRY:
			if (parse_u64(optarg, (uint64_t)INT32_MAX * 1000, &o->expiry_ms) != 0) {
				fprintf(stderr, "qsgbench: bad --expiry %s\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
		if (bad != NULL) {
			fprintf(stderr, "qsgbench: %s\n", bad);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (o->conn == NULL || o->conn[0] == '\0') {
		fprintf(stderr, "qsgbench: no members: use -c HOST:PORT[,...] or set QSG_CONN\n");
		return 2;
	}
	if (o->mode == MODE_PUTGET && o->conns < 2) {
		fprintf(stderr, "qsgbench: --mode putget needs --conns 2 or more\n");
		return 2;
	}
	if (o->verify && o->size < 8) {
		fprintf(stderr, "qsgbench: --verify needs --size 8 or more\n");
		return 2;
	}
	if (o->messages == 0 && o->seconds == 0)
		o->seconds = 10;
	if (o->lib && (o->mode == MODE_PUTGET || o->rate > 0 || o->verify || o->warmup > 0 ||
		       o->inflight > 1000)) {
		fprintf(stderr, "qsgbench: --lib: put or get mode, --inflight up to 1000, no "
				"--rate/--verify/--warmup\n");
		return 2;
	}
	return 0;
}
