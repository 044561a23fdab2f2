/* The replicated state machine: lifecycle (init/close), entry decoding and
 * the dispatcher that hands each command to its apply function. See fsm.h for
 * the contract and docs/protocol.md for the formats and rules. The state and
 * its internal types are in fsm_int.h; the queue table, index and priority
 * lists in fsm_qtable.c; the apply functions live with their concern
 * (fsm_queue.c, fsm_object.c, fsm_uow.c, fsm_member.c, fsm_chan.c,
 * fsm_chmsg.c), snapshots in fsm_snapshot.c and queries in fsm_query.c.
 *
 * Determinism: apply never looks at clocks, randomness or pointer values;
 * whenever several objects are visited and the order matters (detaching a
 * member's sessions, snapshots) they are sorted by key first. Hash tables are
 * derived data: their iteration order never reaches the state. */
#include <stdlib.h>
#include <string.h>

#include "../common/qsg_assert.h"
#include "fsm_int.h"
#include "membodies.h"

/* --- lifecycle ----------------------------------------------------------- */

/* Clears everything, the provider fields included (fsm_init and
 * fsm_restore set them). */
void state_init(struct fsm *f)
{
	memset(f, 0, sizeof *f);
	hmap_init(&f->queues);
	hmap_init(&f->sessions);
	hmap_init(&f->chunks);
}

void state_free(struct fsm *f)
{
	free(f->claim_m);
	f->claim_m = NULL;
	f->claim_n = f->claim_pos = 0;
	f->claiming = false;
	reap_free_all(f); /* the garbage: not released either */
	delta_free(f);
	/* Sessions first: their uows point at queues. */
	struct hmap_node *n = hmap_next(&f->sessions, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&f->sessions, n);
		session_free((struct session *)n);
		n = next;
	}
	hmap_close(&f->sessions);
	n = hmap_next(&f->queues, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&f->queues, n);
		queue_free((struct queue *)n);
		n = next;
	}
	hmap_close(&f->queues);
	chunks_free(f);
	free(f->members);
	f->members = NULL;
	free(f->pend);
	f->pend = NULL;
	f->npend = f->cappend = 0;
	f->nmembers = f->capmembers = 0;
	for (size_t i = 0; i < f->nchsts; i++) {
		struct qmsg *m = f->chsts[i]->lk_head;
		while (m != NULL) {
			struct qmsg *next = m->uow_next;
			msg_destroy(m); /* not released: the state is replaced */
			m = next;
		}
		park_free_all(f->chsts[i]);
		free(f->chsts[i]);
	}
	free(f->chsts);
	free(f->users);
	f->users = NULL;
	f->nusers = f->capusers = 0;
	free(f->authrecs);
	f->authrecs = NULL;
	f->nauthrecs = f->capauthrecs = 0;
	free(f->chlauths);
	f->chlauths = NULL;
	f->nchlauths = f->capchlauths = 0;
	free(f->chdefs);
	free(f->syncqs);
	f->chsts = NULL;
	f->chdefs = NULL;
	f->syncqs = NULL;
	f->nchsts = f->capchsts = f->nchdefs = f->capchdefs = f->nsyncqs = f->capsyncqs = 0;
#ifdef QSG_CHECKED
	struct qsg_slab_stats st;
	qsg_slab_stats(f->descs, &st);
	QSG_ASSERT(st.items == 0); /* every descriptor was destroyed above */
	qsg_slab_stats(f->exts, &st);
	QSG_ASSERT(st.items == 0);
#endif
	qsg_slab_close(f->descs);
	f->descs = NULL;
	qsg_slab_close(f->exts);
	f->exts = NULL;
}

int fsm_init(struct fsm **out, char *errmsg)
{
	struct fsm *f = malloc(sizeof *f);
	*out = NULL;
	if (f == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	state_init(f);
	qsg_wbuf_init(&f->scratch);
	if ((f->mem = membodies_new()) == NULL) {
		free(f);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	}
	membodies_provider(f->mem, &f->bodies);
	*out = f;
	return QSG_OK;
}

void fsm_close(struct fsm *f)
{
	if (f == NULL)
		return;
	state_free(f); /* releases nothing: the content stays with the provider */
	membodies_free(f->mem);
	qsg_wbuf_close(&f->scratch);
	free(f);
}

void fsm_set_bodies(struct fsm *f, const struct fsm_bodies *b)
{
	membodies_free(f->mem);
	f->mem = NULL;
	f->bodies = *b;
}

void fsm_bodies_mem_peer(struct fsm *f, struct fsm *peer)
{
	membodies_link(f->mem, peer->mem);
}

void fsm_set_notify(struct fsm *f, fsm_notify_cb cb, void *arg)
{
	f->notify = cb;
	f->notify_arg = arg;
}

static int apply_cmd(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out)
{
	switch (c->op) {
	case FSM_OP_QDEFINE:
		return op_qdefine(f, c);
	case FSM_OP_QALTER:
		return op_qalter(f, c);
	case FSM_OP_QDELETE:
		return op_qdelete(f, c);
	case FSM_OP_QCLEAR:
		return op_qclear(f, c);
	case FSM_OP_ATTACH:
		return op_attach(f, c, out);
	case FSM_OP_DETACH:
		return op_detach(f, c, now);
	case FSM_OP_OPEN:
		return op_open(f, c);
	case FSM_OP_CLOSE:
		return op_close(f, c);
	case FSM_OP_PUT:
		return op_put(f, c, now, out);
	case FSM_OP_GET:
		return op_get(f, c, now, out);
	case FSM_OP_BROWSE:
		return op_browse(f, c, now, out);
	case FSM_OP_COMMIT:
		return op_commit(f, c);
	case FSM_OP_PUT_CHUNK:
		return op_put_chunk(f, c, now, out);
	case FSM_OP_GET_DONE:
		return op_get_done(f, c);
	case FSM_OP_BACKOUT:
	case FSM_OP_BACKOUT_UNCOUNTED:
		return op_backout(f, c);
	case FSM_OP_MEMBER_JOIN:
		return op_member_join(f, c, now);
	case FSM_OP_LEASE_RENEW:
		return op_lease_renew(f, c, now);
	case FSM_OP_MEMBER_FAIL:
		return op_member_fail(f, c, now);
	case FSM_OP_MEMBER_REMOVE:
		return op_member_remove(f, c, now);
	case FSM_OP_MEMBER_FAIL_BOUNDED:
		return op_member_fail_bounded(f, c, now);
	case FSM_OP_BACKOUT_PENDING:
		return op_backout_pending(f, c);
	case FSM_OP_EXPIRE:
		return op_expire(f, c, now);
	case FSM_OP_EXPIRE_BOUNDED:
		return op_expire_bounded(f, c, now);
	case FSM_OP_MEMBER_JOIN_BOUNDED:
		return op_member_join_bounded(f, c, now);
	case FSM_OP_MEMBER_REMOVE_BOUNDED:
		return op_member_remove_bounded(f, c, now);
	case FSM_OP_MEMBER_REMOVE_QMGR:
		return op_member_remove_qmgr(f, c, now);
	case FSM_OP_MEMBER_LEVEL:
		return op_member_level(f, c);
	case FSM_OP_QMGR_ALTER:
		return op_qmgr_alter(f, c);
	case FSM_OP_CHDEFINE:
		return op_chdefine(f, c);
	case FSM_OP_CHALTER:
		return op_chalter(f, c);
	case FSM_OP_CHDELETE:
		return op_chdelete(f, c);
	case FSM_OP_CHINIT_STATE:
		return op_chinit_state(f, c);
	case FSM_OP_CHST_CAS:
		return op_chst_cas(f, c, now, out);
	case FSM_OP_CH_GETBATCH:
		return op_ch_getbatch(f, c, now, out);
	case FSM_OP_CH_SETTLE:
		return op_ch_settle(f, c, now, out);
	case FSM_OP_CH_RESET:
		return op_ch_reset(f, c, now);
	case FSM_OP_CH_RECV_START:
		return op_ch_recv_start(f, c, now, out);
	case FSM_OP_CH_RECV_BATCH:
		return op_ch_recv_batch(f, c, now, out);
	case FSM_OP_USER_DEFINE:
		return op_user_define(f, c, now);
	case FSM_OP_USER_ALTER:
		return op_user_alter(f, c, now);
	case FSM_OP_USER_DELETE:
		return op_user_delete(f, c);
	case FSM_OP_AUTHREC_SET:
		return op_authrec_set(f, c);
	case FSM_OP_AUTHREC_DELETE:
		return op_authrec_delete(f, c);
	case FSM_OP_CHLAUTH_SET:
		return op_chlauth_set(f, c);
	default:
		return QSG_RC_UNKNOWN_OP; /* unreachable: decode checked it */
	}
}

/* Walk the header and every command; with apply == false only decode. */
static int walk_entry(struct fsm *f, const void *entry, size_t len, struct qsg_wbuf *results,
		      bool apply, char *errmsg)
{
	struct fsm_entry_reader er;
	struct fsm_cmd c;
	bool oom = false;
	int rc = fsm_entry_read_begin(&er, entry, len, errmsg);
	if (rc != QSG_OK)
		return rc;
	int64_t now = er.time_ms;
	for (uint32_t i = 0; i < er.count; i++) {
		struct qsg_slice cmd;
		rc = fsm_entry_read_next(&er, &cmd, errmsg);
		if (rc != QSG_OK)
			return rc;
		rc = fsm_cmd_decode(cmd.p, cmd.len, &c, errmsg);
		if (rc != QSG_OK)
			return rc == QSG_RC_BAD_VERSION ? rc : QSG_RC_BAD_FRAME;
		if (!apply)
			continue;
		size_t off = 0;
		if (results != NULL) {
			off = results->len;
			qsg_put_u32(results, 0);
			qsg_put_u32(results, 0);
		}
		rc = apply_cmd(f, &c, now, results);
		if (results != NULL) {
			qsg_patch_u32(results, off, (uint32_t)(results->len - off - 4));
			qsg_patch_u32(results, off + 4, (uint32_t)rc);
		}
		if (f->body_failed)
			return qsg_errf(errmsg, QSG_RC_IO,
					"body provider: %s of message %llu failed in command %u "
					"(content unreadable or not held by this member)",
					f->body_fail_what, (unsigned long long)f->body_fail_seqno,
					i);
		if (rc == QSG_RC_STORAGE_NOT_AVAILABLE || f->alloc_failed)
			oom = true;
	}
	rc = fsm_entry_read_end(&er, errmsg);
	if (rc != QSG_OK)
		return rc;
	if (apply) {
		f->entries_applied++;
		f->last_time = now;
	}
	/* A command that ran out of memory may have been half applied: this
	 * replica can no longer be trusted to equal the others. */
	if (oom)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
				"out of memory while applying a command");
	return QSG_OK;
}

int fsm_apply(struct fsm *f, const void *entry, size_t len, struct qsg_wbuf *results, char *errmsg)
{
	int rc = walk_entry(f, entry, len, NULL, false, errmsg);
	if (rc != QSG_OK)
		return rc;
	f->body_failed = false;
	f->alloc_failed = false;
	rc = walk_entry(f, entry, len, results, true, errmsg);
	if (rc != QSG_OK)
		return rc;
	state_check_amortised(f); /* QSG_CHECKED builds only */
	if (results != NULL && results->err != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
				"entry applied but its results could not be stored");
	return QSG_OK;
}
