/* Unit tests of group-wide channel retry in the state machine (fsm_chan.h,
 * docs/channels.md "Retry across the group"): CHST_CAS with FSM_CHF_RETRY
 * counts a failed attempt in the shared status entry, whoever owns it, sets
 * the retry time from the leader's time in the entry, and makes the channel
 * STOPPED once SHORTRTY + LONGRTY retries are used up; the counts survive a
 * snapshot and a replay of the log; the command's format 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm.h"
#include "fsm_harness.h"

#define CH "TO.R"

static struct fsm_chimage img(uint32_t owner, uint8_t st, uint64_t epoch)
{
	struct fsm_chimage i = {.exists = 1, .owner = owner, .state = st, .epoch = epoch};
	return i;
}

static int cas_f(struct ctx *x, struct fsm_chimage before, struct fsm_chimage after, uint32_t flags)
{
	struct fsm_cmd c = {.op = FSM_OP_CHST_CAS};
	strcpy(c.ch.name, CH);
	c.ch.chltype = FSM_CHL_SDR;
	c.ch.before = before;
	c.ch.after = after;
	c.ch.flags = flags;
	strcpy(c.ch.conname, "127.0.0.1:9");
	strcpy(c.ch.reason, "connection refused");
	return exec(x, &c);
}

static struct fsm_chstatus entry(struct ctx *x)
{
	struct fsm_chstatus s;
	assert_int_equal(fsm_chstatus_get(x->f, CH, "", &s), QSG_OK);
	return s;
}

/* Members 1..3 and sender CH (SHORTRTY 2 x 5 s, LONGRTY 1 x 30 s), STARTING
 * on member 1 with epoch 1. */
static void group(struct ctx *x, uint32_t shortrty, uint32_t longrty)
{
	for (uint32_t id = 1; id <= 3; id++) {
		struct fsm_cmd c = {.op = FSM_OP_MEMBER_JOIN, .member_id = id};
		snprintf(c.name, sizeof c.name, "QM%u", id);
		assert_int_equal(exec(x, &c), QSG_OK);
	}
	struct fsm_cmd d = {.op = FSM_OP_CHDEFINE};
	strcpy(d.ch.attrs.name, CH);
	d.ch.attrs.set = FSM_CA_CHLTYPE | FSM_CA_CONNAME | FSM_CA_XMITQ | FSM_CA_SHORTRTY |
			 FSM_CA_SHORTTMR | FSM_CA_LONGRTY | FSM_CA_LONGTMR;
	d.ch.attrs.chltype = FSM_CHL_SDR;
	strcpy(d.ch.attrs.conname, "127.0.0.1:9");
	strcpy(d.ch.attrs.xmitq, "R");
	d.ch.attrs.shortrty = shortrty;
	d.ch.attrs.shorttmr = 5;
	d.ch.attrs.longrty = longrty;
	d.ch.attrs.longtmr = 30;
	assert_int_equal(exec(x, &d), QSG_OK);
	struct fsm_chimage none = {0};
	assert_int_equal(cas_f(x, none, img(1, FSM_CHS_STARTING, 1), 0), QSG_OK);
}

/* The instance of `epoch` on `owner` fails: one attempt counted. */
static int failed(struct ctx *x, uint32_t owner, uint8_t state, uint64_t epoch)
{
	return cas_f(x, img(owner, state, epoch), img(owner, FSM_CHS_RETRYING, epoch),
		     FSM_CHF_RETRY);
}

/* Its retry: STARTING on `to`, epoch + 1 (a plain CAS). */
static void retry_on(struct ctx *x, uint32_t from, uint32_t to, uint64_t epoch)
{
	assert_int_equal(
	    cas_f(x, img(from, FSM_CHS_RETRYING, epoch), img(to, FSM_CHS_STARTING, epoch + 1), 0),
	    QSG_OK);
}

static void attempts_counted_across_members(void **state)
{
	struct ctx *x = *state;
	group(x, 2, 1);
	/* attempt 1 on QM1: retry 1 after SHORTTMR, time from the entry */
	assert_int_equal(failed(x, 1, FSM_CHS_STARTING, 1), QSG_OK);
	assert_int_equal(x->r.ch.current.state, FSM_CHS_RETRYING);
	assert_int_equal(x->r.ch.retries, 1);
	assert_int_equal(x->r.ch.time_ms, x->now);
	assert_int_equal(x->r.ch.retry_at_ms, x->now + 5000);
	struct fsm_chstatus s = entry(x);
	assert_int_equal(s.retries, 1);
	assert_int_equal(s.retry_at_ms, x->now + 5000);
	/* a second failure of the same instance is refused by the image */
	assert_int_equal(failed(x, 1, FSM_CHS_STARTING, 1), QSG_RC_CAS_FAILED);
	assert_int_equal(entry(x).retries, 1);
	/* retry 1 runs on QM2: the count stays, the wait is over */
	x->now += 5000;
	retry_on(x, 1, 2, 1);
	s = entry(x);
	assert_int_equal(s.retries, 1);
	assert_int_equal(s.retry_at_ms, 0);
	/* attempt 2 fails on QM2: counted on top of QM1's */
	assert_int_equal(failed(x, 2, FSM_CHS_STARTING, 2), QSG_OK);
	assert_int_equal(x->r.ch.retries, 2);
	assert_int_equal(x->r.ch.retry_at_ms, x->now + 5000);
	/* the group restarts from a snapshot, or replays its log: same counts */
	struct fsm *g = snapshot_restored(x);
	struct fsm_chstatus r;
	assert_int_equal(fsm_chstatus_get(g, CH, "", &r), QSG_OK);
	assert_int_equal(r.retries, 2);
	assert_int_equal(r.retry_at_ms, x->now + 5000);
	fsm_close(g);
	/* attempt 3 (back on QM1): SHORTRTY used up, LONGTMR */
	x->now += 5000;
	retry_on(x, 2, 1, 2);
	assert_int_equal(failed(x, 1, FSM_CHS_STARTING, 3), QSG_OK);
	assert_int_equal(x->r.ch.retries, 3);
	assert_int_equal(x->r.ch.retry_at_ms, x->now + 30000);
	/* attempt 4 on QM3: SHORTRTY + LONGRTY used up: STOPPED */
	x->now += 30000;
	retry_on(x, 1, 3, 3);
	assert_int_equal(failed(x, 3, FSM_CHS_STARTING, 4), QSG_OK);
	assert_int_equal(x->r.ch.current.state, FSM_CHS_STOPPED);
	assert_int_equal(x->r.ch.retries, 4);
	assert_int_equal(x->r.ch.retry_at_ms, 0);
	s = entry(x);
	assert_int_equal(s.img.state, FSM_CHS_STOPPED);
	assert_int_equal(s.img.owner, 3);
	assert_int_equal(s.img.epoch, 4);
	assert_int_equal(s.retries, 4);
	assert_string_equal(s.reason, "retries exhausted after 4 attempts");
	/* STOPPED is not failed again */
	assert_int_equal(failed(x, 3, FSM_CHS_STOPPED, 4), QSG_RC_INVALID);
	/* replay of the log from the start gives the same state */
	struct fsm *h;
	assert_int_equal(fsm_init(&h, NULL), QSG_OK);
	for (size_t i = 0; i < x->nlog; i++)
		assert_int_equal(fsm_apply(h, x->log[i], x->loglen[i], NULL, NULL), QSG_OK);
	assert_true(fsm_digest(h) == fsm_digest(x->f));
	fsm_close(h);
	/* START CHANNEL (STOPPED -> STARTING) begins a new count */
	assert_int_equal(cas_f(x, img(3, FSM_CHS_STOPPED, 4), img(2, FSM_CHS_STARTING, 5), 0),
			 QSG_OK);
	assert_int_equal(entry(x).retries, 0);
}

static void no_retries_stops_at_first_failure(void **state)
{
	struct ctx *x = *state;
	group(x, 0, 0);
	assert_int_equal(failed(x, 1, FSM_CHS_STARTING, 1), QSG_OK);
	assert_int_equal(x->r.ch.current.state, FSM_CHS_STOPPED);
	assert_int_equal(entry(x).retries, 1);
}

static void running_resets_and_retries_soon(void **state)
{
	struct ctx *x = *state;
	group(x, 3, 0);
	assert_int_equal(failed(x, 1, FSM_CHS_STARTING, 1), QSG_OK);
	x->now += 5000;
	retry_on(x, 1, 2, 1);
	/* connected: the count starts again */
	assert_int_equal(cas_f(x, img(2, FSM_CHS_STARTING, 2), img(2, FSM_CHS_RUNNING, 2), 0),
			 QSG_OK);
	assert_int_equal(entry(x).retries, 0);
	/* a RUNNING instance fails: its first retry at once */
	assert_int_equal(failed(x, 2, FSM_CHS_RUNNING, 2), QSG_OK);
	assert_int_equal(x->r.ch.retries, 1);
	assert_int_equal(x->r.ch.retry_at_ms, x->now + FSM_CH_RETRY_SOON_MS);
	assert_int_equal(entry(x).soon_ms, x->now);
	/* running again and failing within SHORTTMR: the ordinary interval */
	x->now += 1000;
	retry_on(x, 2, 3, 2);
	assert_int_equal(cas_f(x, img(3, FSM_CHS_STARTING, 3), img(3, FSM_CHS_RUNNING, 3), 0),
			 QSG_OK);
	assert_int_equal(failed(x, 3, FSM_CHS_RUNNING, 3), QSG_OK);
	assert_int_equal(x->r.ch.retry_at_ms, x->now + 5000);
	/* ... and after SHORTTMR at once again */
	x->now += 5000;
	retry_on(x, 3, 1, 3);
	assert_int_equal(cas_f(x, img(1, FSM_CHS_STARTING, 4), img(1, FSM_CHS_RUNNING, 4), 0),
			 QSG_OK);
	assert_int_equal(failed(x, 1, FSM_CHS_RUNNING, 4), QSG_OK);
	assert_int_equal(x->r.ch.retry_at_ms, x->now + FSM_CH_RETRY_SOON_MS);
}

static void retry_flag_rules(void **state)
{
	struct ctx *x = *state;
	group(x, 3, 0);
	/* the flag must keep owner and epoch */
	assert_int_equal(
	    cas_f(x, img(1, FSM_CHS_STARTING, 1), img(2, FSM_CHS_RETRYING, 1), FSM_CHF_RETRY),
	    QSG_RC_INVALID);
	assert_int_equal(entry(x).retries, 0);
	/* DISCINT: RUNNING -> RETRYING without the flag counts nothing and sets
	 * no retry time (the instance waits for messages) */
	assert_int_equal(cas_f(x, img(1, FSM_CHS_STARTING, 1), img(1, FSM_CHS_RUNNING, 1), 0),
			 QSG_OK);
	assert_int_equal(cas_f(x, img(1, FSM_CHS_RUNNING, 1), img(1, FSM_CHS_RETRYING, 1), 0),
			 QSG_OK);
	struct fsm_chstatus s = entry(x);
	assert_int_equal(s.retries, 0);
	assert_int_equal(s.retry_at_ms, 0);
	/* a failure while RETRYING (the restarted instance failed again) */
	assert_int_equal(failed(x, 1, FSM_CHS_RETRYING, 1), QSG_OK);
	int64_t at = x->now + 5000;
	assert_int_equal(entry(x).retry_at_ms, at);
	/* the wait moves with the entry (owner failed): same retry time */
	x->now += 1000;
	assert_int_equal(cas_f(x, img(1, FSM_CHS_RETRYING, 1), img(2, FSM_CHS_RETRYING, 1), 0),
			 QSG_OK);
	s = entry(x);
	assert_int_equal(s.retry_at_ms, at);
	assert_int_equal(s.retries, 1);
	/* STOP CHANNEL while waiting: no retry time, the count is kept */
	assert_int_equal(cas_f(x, img(2, FSM_CHS_RETRYING, 1), img(2, FSM_CHS_STOPPED, 1), 0),
			 QSG_OK);
	s = entry(x);
	assert_int_equal(s.retry_at_ms, 0);
	assert_int_equal(s.retries, 1);
	struct fsm *g = snapshot_restored(x);
	fsm_close(g);
	/* inbound entries have no retries */
	struct fsm_cmd c = {.op = FSM_OP_CHST_CAS};
	strcpy(c.ch.name, "IN");
	strcpy(c.ch.rqmname, "QMR");
	c.ch.chltype = FSM_CHL_RCVR;
	c.ch.after = img(1, FSM_CHS_STARTING, 1);
	assert_int_equal(exec(x, &c), QSG_OK);
	c.ch.before = c.ch.after;
	c.ch.after.state = FSM_CHS_RETRYING;
	c.ch.flags = FSM_CHF_RETRY;
	assert_int_equal(exec(x, &c), QSG_RC_INVALID);
}

static void command_format3(void **state)
{
	(void)state;
	struct qsg_wbuf w;
	struct fsm_cmd c = {.op = FSM_OP_CHST_CAS}, d;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&w);
	strcpy(c.ch.name, CH);
	c.ch.before = img(1, FSM_CHS_RUNNING, 2);
	c.ch.after = img(1, FSM_CHS_RETRYING, 2);
	strcpy(c.ch.reason, "lost");
	/* without flags: format 2, as before */
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(w.data[1], FSM_CMD_VERSION);
	size_t v2len = w.len;
	/* with FSM_CHF_RETRY: format 3, partner (empty) and flags follow */
	qsg_wbuf_reset(&w);
	c.ch.flags = FSM_CHF_RETRY;
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(w.data[1], FSM_CMD_VERSION_CAS);
	assert_int_equal(w.len, v2len + 2 + 4);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, errmsg), QSG_OK);
	assert_int_equal(d.ch.flags, FSM_CHF_RETRY);
	assert_string_equal(d.ch.partner, "");
	/* every truncation and a trailing byte are refused */
	for (size_t n = 0; n < w.len; n++)
		assert_int_not_equal(fsm_cmd_decode(w.data, n, &d, NULL), QSG_OK);
	qsg_put_u8(&w, 0);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	w.len--;
	/* flags 0 or unknown bits in format 3 are refused */
	w.data[w.len - 4] = 0;
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	w.data[w.len - 4] = FSM_CHF_RETRY | 0x01;
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	w.data[w.len - 4] = FSM_CHF_RETRY;
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	/* the flag wants an existing RETRYING after-image */
	qsg_wbuf_reset(&w);
	c.ch.after.state = FSM_CHS_STOPPED;
	assert_int_equal(fsm_cmd_encode(&c, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_FRAME);
	/* format 3 exists for CHST_CAS only */
	qsg_wbuf_reset(&w);
	struct fsm_cmd r = {.op = FSM_OP_CH_RESET};
	strcpy(r.ch.name, CH);
	r.ch.seq = 1;
	assert_int_equal(fsm_cmd_encode(&r, &w), QSG_OK);
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_OK);
	w.data[1] = FSM_CMD_VERSION_CAS;
	assert_int_equal(fsm_cmd_decode(w.data, w.len, &d, NULL), QSG_RC_BAD_VERSION);
	qsg_wbuf_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(attempts_counted_across_members, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_retries_stops_at_first_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(running_resets_and_retries_soon, setup, teardown),
	    cmocka_unit_test_setup_teardown(retry_flag_rules, setup, teardown),
	    cmocka_unit_test(command_format3),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
