/* Test harness shared by the state-machine unit tests (test_fsm.c,
 * test_fsm_alias.c): a struct fsm per test with a log of notifications, and
 * helpers that build one-command entries, apply them and decode results. */
#ifndef QSG_TEST_FSM_HARNESS_H
#define QSG_TEST_FSM_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "fsm/fsm.h"

#define MAX_LOG 512

struct ctx {
	struct fsm *f;
	int64_t now;
	struct qsg_wbuf res; /* results of the last entry */
	struct fsm_result r; /* decoded result of the last command */
	uint8_t *log[MAX_LOG]; /* every entry applied, for replays */
	size_t loglen[MAX_LOG];
	size_t nlog;
	uint32_t notified; /* sum of notify counts */
	char last_queue[FSM_NAME_MAX + 1];
	uint32_t last_scope;
};

void on_notify(void *arg, uint32_t scope, const char *queue, uint32_t n);
int setup(void **state);
int teardown(void **state);
void build(struct ctx *x, const struct fsm_cmd *c, struct qsg_wbuf *e);
void apply_entry(struct ctx *x, struct qsg_wbuf *e);
int exec(struct ctx *x, const struct fsm_cmd *c);
int qdefine(struct ctx *x, const char *name, uint32_t set, const struct fsm_qattrs *a,
	    uint32_t flags);
int qsimple(struct ctx *x, uint8_t op, const char *name, uint32_t flags);
uint64_t attach(struct ctx *x, uint64_t client, uint32_t member);
int sess(struct ctx *x, uint8_t op, uint64_t client, uint64_t epoch, uint64_t seq,
	 const char *queue);
int put(struct ctx *x, uint64_t client, uint64_t epoch, uint64_t seq, const char *queue,
	uint32_t flags, uint8_t prio, const char *body, uint8_t idbyte);
int get(struct ctx *x, uint64_t client, uint64_t epoch, const char *queue, uint32_t flags,
	uint8_t idbyte);
void assert_body(struct ctx *x, const char *body);
struct fsm_qinfo qi(struct ctx *x, const char *name);
/* Snapshot x's state, restore it into a new fsm (returned, the caller
 * closes it) and check that it snapshots to the same bytes and digest. */
struct fsm *snapshot_restored(struct ctx *x);
/* With the built-in provider: it holds exactly the messages of f's state
 * (every message that left was released). teardown checks it. */
void assert_bodies_held(struct fsm *f);

#endif
