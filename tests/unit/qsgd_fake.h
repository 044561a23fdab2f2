/* Test double for the daemon core shared by the unit tests of batcher,
 * forward and lease (tests/unit/test_{batcher,forward,lease}.c): a real
 * struct qsgd (real libuv loop, configuration, log and state machine) whose
 * struct qsgd_ops are fakes that record what the module under test asked
 * for: routed and held submissions, appended log entries, submitted
 * commands, fencing. The test decides when (and how) they complete. */
#ifndef QSG_TEST_QSGD_FAKE_H
#define QSG_TEST_QSGD_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qsgd/daemon.h"
#include "raft-glue/glue.h"

#define FAKE_MAX 256

/* One entry handed to ops->append. */
struct fake_entry {
	uint8_t *buf;
	size_t len;
	void (*cb)(void *arg, int status, const struct qsg_wbuf *results);
	void *arg;
	bool done;
};

/* One command handed to ops->submit. */
struct fake_cmd {
	struct fsm_cmd cmd; /* decoded copy (slices invalid) */
	uint8_t *enc;
	size_t len;
	qsgd_done_cb cb;
	void *arg;
	bool done;
};

struct fake {
	struct qsgd d; /* first: ops recover the fake from d */
	uv_loop_t loop;
	struct qsgd_config cfg;
	struct qlog log;
	/* what the fakes answer */
	bool leader; /* is_leader */
	int append_rc; /* QSG_OK: record the entry */
	int submit_rc; /* QSG_OK: record the command */
	int submit_now_rc; /* not QSG_OK: complete the command with it before
			    * submit returns QSG_OK (as forward_send does when
			    * it cannot encode) */
	struct glue_info info;
	struct glue_member voters[GLUE_MAX_SERVERS];
	size_t nvoters;
	/* what the module asked for */
	struct qsgd_subq routed;
	struct qsgd_subq held;
	unsigned hold_retries;
	struct fake_entry entries[FAKE_MAX];
	size_t nentries;
	struct fake_cmd cmds[FAKE_MAX];
	size_t ncmds;
	int fenced; /* -1: never told; else the last value */
	unsigned fence_calls;
	bool fence_channels; /* channels flag of the last call */
	int64_t now; /* entry time used by fake_apply */
};

/* A fake of cfg->n_members members (ids 1..n, listen 127.0.0.1:port+id);
 * this member is `self`. */
void fake_init(struct fake *fk, unsigned n_members, uint32_t self, int port);
/* Complete whatever is still recorded (OUTCOME_UNKNOWN), close the loop. */
void fake_close(struct fake *fk);

/* Apply entry i to the real state machine and report the results to its
 * submitter (status QSG_OK); or report `status` without applying. */
void fake_commit(struct fake *fk, size_t i);
void fake_fail_entry(struct fake *fk, size_t i, int status);
/* Number of commands in entry i; the op of its k-th command. */
uint32_t fake_entry_count(const struct fake *fk, size_t i);
uint8_t fake_entry_op(const struct fake *fk, size_t i, uint32_t k);

/* Answer command i: apply it to the real state machine in an entry of its
 * own and pass the result (status QSG_OK), or pass `status` only. */
void fake_cmd_apply(struct fake *fk, size_t i);
void fake_cmd_fail(struct fake *fk, size_t i, int status);
/* Apply cmd to the state machine directly (as if another member did). */
int fake_apply(struct fake *fk, const struct fsm_cmd *cmd);

/* A submission of an encoded command (PUT to `queue` with `seq`; or of
 * membership op `op`) completing into `out`. */
struct done_rec {
	int calls;
	int status;
	uint8_t result[256];
	size_t len;
};
void done_record(void *arg, int status, const void *result, size_t len);
struct qsgd_sub *fake_sub(const struct fsm_cmd *cmd, struct done_rec *out);

/* Run the loop once without blocking / for about ms milliseconds. */
void fake_spin(struct fake *fk);
void fake_run_ms(struct fake *fk, uint64_t ms);

#endif
