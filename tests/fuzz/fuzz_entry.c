/* libFuzzer target: arbitrary bytes as a log entry (applied to a state with a
 * queue and an attached session) and as a snapshot. Neither may crash, leak
 * or trip a sanitizer; a rejected entry or snapshot must leave the state
 * unchanged. Seeds: tests/fuzz/corpus/entry/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsm/fsm.h"

static void apply_one(struct fsm *f, const struct fsm_cmd *c)
{
	struct qsg_wbuf cmd, e;
	qsg_wbuf_init(&cmd);
	qsg_wbuf_init(&e);
	if (fsm_cmd_encode(c, &cmd) == QSG_OK) {
		fsm_entry_begin(&e, 1000);
		fsm_entry_add(&e, cmd.data, cmd.len);
		if (fsm_apply(f, e.data, e.len, NULL, NULL) != QSG_OK)
			abort();
	}
	qsg_wbuf_close(&cmd);
	qsg_wbuf_close(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsm *f;
	char errmsg[QSG_ERRMSG_SIZE];
	if (fsm_init(&f, errmsg) != QSG_OK)
		return 0;
	struct fsm_cmd c;
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_QDEFINE;
	strcpy(c.attrs.name, "Q");
	c.attrs.set = FSM_QA_INDXTYPE;
	c.attrs.indxtype = FSM_INDX_MSGID;
	apply_one(f, &c);
	memset(&c, 0, sizeof c);
	c.op = FSM_OP_ATTACH;
	c.client_id = 1;
	c.member_id = 1;
	apply_one(f, &c);

	uint64_t before = fsm_digest(f);
	struct qsg_wbuf res;
	qsg_wbuf_init(&res);
	int rc = fsm_apply(f, data, size, &res, errmsg);
	if (rc != QSG_OK && fsm_digest(f) != before)
		abort(); /* a rejected entry changed the state */
	if (rc == QSG_OK) {
		/* The state must survive a snapshot round trip unchanged. */
		struct qsg_wbuf s;
		qsg_wbuf_init(&s);
		if (fsm_snapshot(f, &s) == QSG_OK) {
			uint64_t d = fsm_digest(f);
			if (fsm_restore(f, s.data, s.len, errmsg) != QSG_OK || fsm_digest(f) != d)
				abort();
		}
		qsg_wbuf_close(&s);
	}
	qsg_wbuf_close(&res);

	before = fsm_digest(f);
	if (fsm_restore(f, data, size, errmsg) != QSG_OK && fsm_digest(f) != before)
		abort();
	fsm_close(f);
	return 0;
}
