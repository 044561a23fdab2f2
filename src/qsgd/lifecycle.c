/* Group lifecycle: see lifecycle.h and docs/lifecycle.md. */
#include "lifecycle.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft-glue/glue.h"

#define LC_POLL_MS 20
#define LC_STOP_DELAY_MS 100 /* let the reply to STOP QMGR reach the client */
#define LC_TEXT 512

typedef void (*lc_done_cb)(void *cbarg, int rc, const char *text);

enum lc_phase {
	LC_IDLE = 0,
	LC_TRANSFER = 1, /* TRANSFER LEADER: waiting for the leadership to move */
	LC_STOP_TRANSFER = 2, /* STOP QMGR on the leader: same, then stop */
	LC_STOP_DELAY = 3, /* STOP QMGR answered: stop when the timer fires */
};

/* One membership change handed to the glue. Outlives the lifecycle if the
 * glue answers after lifecycle_close (lc == NULL then). */
struct lc_change {
	struct lifecycle *lc;
	lc_done_cb done;
	void *cbarg;
	int op;
	uint32_t id;
	char name[FSM_NAME_MAX + 1];
	char raft[FSM_ADDR_MAX + 1];
};

struct lifecycle {
	struct qsgd *d;
	uv_timer_t timer;
	bool closing;
	bool stop_requested;
	/* The waiting operation (TRANSFER / STOP), one at a time. */
	int phase;
	uint64_t target; /* TRANSFER: wanted leader, 0 = anyone else */
	uint64_t deadline; /* uv_now() */
	lc_done_cb done;
	void *cbarg;
	char stop_why[96];
	struct lc_change *change; /* ADD/REMOVE in flight */
};

/* ---- helpers ---- */

static const char *name_of(struct lifecycle *lc, uint64_t id, char *buf, size_t size)
{
	struct fsm_member m;

	if (id != 0 && id <= UINT32_MAX && fsm_member_get(lc->d->fsm, (uint32_t)id, &m) == QSG_OK &&
	    m.name[0] != '\0')
		snprintf(buf, size, "%s", m.name);
	else if (id == lc->d->cfg->id)
		snprintf(buf, size, "%s", lc->d->cfg->name);
	else
		snprintf(buf, size, "member %" PRIu64, id);
	return buf;
}

static unsigned election_ms(struct lifecycle *lc)
{
	unsigned t = lc->d->cfg->election_timeout_ms;
	return t != 0 ? t : 1000;
}

/* Is voter `id` (not this member) in sync? See lifecycle.h. */
static bool in_sync(struct lifecycle *lc, uint64_t id, uint64_t commit)
{
	struct fsm_member m;

	if (id == lc->d->cfg->id)
		return true; /* this member: it is running the check */
	if (id > UINT32_MAX || fsm_member_get(lc->d->fsm, (uint32_t)id, &m) != QSG_OK)
		return false;
	if (m.state != FSM_MEMBER_ACTIVE || m.lease_expiry_ms < fsm_last_time(lc->d->fsm))
		return false;
	return m.stats.applied_index + LIFECYCLE_SYNC_LAG >= commit;
}

struct quorum {
	unsigned voters; /* voters left (without `without`) */
	unsigned sync; /* of those, in sync */
	char missing[160]; /* names of voters not in sync */
};

/* Count the voters other than `without` and how many of them are in sync. */
static bool quorum_without(struct lifecycle *lc, uint64_t without, struct quorum *q)
{
	struct glue_member cfg[GLUE_MAX_SERVERS];
	struct glue_info info;
	size_t n = glue_get_config(lc->d->glue, cfg, GLUE_MAX_SERVERS);
	bool was_voter = false;
	char nm[FSM_NAME_MAX + 16];

	glue_get_info(lc->d->glue, &info);
	memset(q, 0, sizeof *q);
	for (size_t i = 0; i < n; i++) {
		if (cfg[i].role != GLUE_VOTER)
			continue;
		if (cfg[i].id == without) {
			was_voter = true;
			continue;
		}
		q->voters++;
		if (in_sync(lc, cfg[i].id, info.commit_index)) {
			q->sync++;
		} else {
			size_t used = strlen(q->missing);
			snprintf(q->missing + used, sizeof q->missing - used, "%s%s",
				 used ? ", " : "", name_of(lc, cfg[i].id, nm, sizeof nm));
		}
	}
	return was_voter;
}

static int not_leader(struct lifecycle *lc, lc_done_cb done, void *cbarg, const char *what)
{
	struct glue_info info;
	char text[LC_TEXT], nm[FSM_NAME_MAX + 16];
	struct fsm_member m;

	glue_get_info(lc->d->glue, &info);
	if (info.leader_id == 0) {
		snprintf(text, sizeof text,
			 "%s must run on the leader and the group has no leader now", what);
	} else {
		const char *addr = "";
		if (info.leader_id <= UINT32_MAX &&
		    fsm_member_get(lc->d->fsm, (uint32_t)info.leader_id, &m) == QSG_OK)
			addr = m.client_addr;
		snprintf(text, sizeof text,
			 "%s must run on the leader: %s is not the leader, %s%s%s%s is; run it "
			 "there",
			 what, lc->d->cfg->name, name_of(lc, info.leader_id, nm, sizeof nm),
			 addr[0] ? " (" : "", addr, addr[0] ? ")" : "");
	}
	done(cbarg, QSG_RC_NOT_LEADER, text);
	return QSG_OK;
}

/* ---- the waiting operations ---- */

static void finish_wait(struct lifecycle *lc, int rc, const char *text)
{
	lc_done_cb done = lc->done;
	void *cbarg = lc->cbarg;

	lc->phase = LC_IDLE;
	lc->done = NULL;
	lc->cbarg = NULL;
	if (done != NULL)
		done(cbarg, rc, text);
}

static void stop_now(struct lifecycle *lc)
{
	struct qsgd *d = lc->d;

	lc->phase = LC_IDLE;
	if (d->request_stop != NULL)
		d->request_stop(d, lc->stop_why);
}

static void timer_cb(uv_timer_t *t);

static void arm(struct lifecycle *lc, uint64_t ms)
{
	uv_timer_stop(&lc->timer);
	uv_timer_start(&lc->timer, timer_cb, ms, 0);
}

static void timer_cb(uv_timer_t *t)
{
	struct lifecycle *lc = t->data;
	struct glue_info info;
	char text[LC_TEXT], nm[FSM_NAME_MAX + 16];
	bool moved;

	if (lc->closing)
		return;
	if (lc->phase == LC_STOP_DELAY) {
		stop_now(lc);
		return;
	}
	if (lc->phase != LC_TRANSFER && lc->phase != LC_STOP_TRANSFER)
		return;
	glue_get_info(lc->d->glue, &info);
	moved = info.role != GLUE_LEADER && info.leader_id != 0 &&
		info.leader_id != lc->d->cfg->id &&
		(lc->target == 0 || info.leader_id == lc->target);
	if (!moved && uv_now(lc->d->loop) < lc->deadline) {
		arm(lc, LC_POLL_MS);
		return;
	}
	if (lc->phase == LC_TRANSFER) {
		if (moved) {
			snprintf(text, sizeof text, "%s is the leader now",
				 name_of(lc, info.leader_id, nm, sizeof nm));
			finish_wait(lc, QSG_OK, text);
		} else {
			snprintf(text, sizeof text,
				 "the leadership did not move within %u ms (leader now: %s)",
				 2 * election_ms(lc),
				 info.leader_id ? name_of(lc, info.leader_id, nm, sizeof nm)
						: "none");
			finish_wait(lc, QSG_RC_TIMEOUT, text);
		}
		return;
	}
	/* LC_STOP_TRANSFER */
	if (moved)
		snprintf(text, sizeof text, "leadership moved to %s; %s stopping",
			 name_of(lc, info.leader_id, nm, sizeof nm), lc->d->cfg->name);
	else
		snprintf(text, sizeof text,
			 "leadership transfer did not complete within %u ms; %s stopping anyway "
			 "(the others elect a leader)",
			 2 * election_ms(lc), lc->d->cfg->name);
	finish_wait(lc, QSG_OK, text);
	lc->phase = LC_STOP_DELAY;
	arm(lc, LC_STOP_DELAY_MS);
}

/* ---- STOP QMGR ---- */

int lifecycle_stop_check(struct lifecycle *lc, char *errmsg)
{
	struct quorum q;
	unsigned need;

	if (!quorum_without(lc, lc->d->cfg->id, &q))
		return QSG_OK; /* not a voter: never part of the quorum */
	need = (q.voters + 1) / 2 + 1; /* majority of all voters, this one included */
	if (q.sync >= need)
		return QSG_OK;
	return qsg_errf(errmsg, QSG_RC_INVALID,
			"%s is a voter and without it only %u of the %u voters would be in sync "
			"(quorum %u; not in sync: %s): stopping it would stop the group; use STOP "
			"QMGR FORCE to stop it anyway",
			lc->d->cfg->name, q.sync, q.voters + 1, need,
			q.missing[0] ? q.missing : "-");
}

static int do_stop(struct lifecycle *lc, const struct admin_lifecycle *req, lc_done_cb done,
		   void *cbarg)
{
	struct qsgd *d = lc->d;
	char text[LC_TEXT];
	int rc;

	if (lc->stop_requested) {
		done(cbarg, QSG_RC_Q_MGR_STOPPING, "a stop is already in progress");
		return QSG_OK;
	}
	if (d->request_stop == NULL) {
		done(cbarg, QSG_RC_UNEXPECTED_ERROR, "this qsgd has no stop hook");
		return QSG_OK;
	}
	if (lc->phase != LC_IDLE) {
		done(cbarg, QSG_RC_BUSY, "a leadership transfer is in progress");
		return QSG_OK;
	}
	if (!req->force && (rc = lifecycle_stop_check(lc, text)) != QSG_OK) {
		done(cbarg, rc, text);
		return QSG_OK;
	}
	lc->stop_requested = true;
	snprintf(lc->stop_why, sizeof lc->stop_why, "STOP QMGR%s", req->force ? " FORCE" : "");
	if (glue_is_leader(d->glue)) {
		struct quorum q;
		quorum_without(lc, d->cfg->id, &q);
		if (q.voters > 0 && glue_transfer(d->glue, 0, text) == QSG_OK) {
			lc->phase = LC_STOP_TRANSFER;
			lc->target = 0;
			lc->deadline = uv_now(d->loop) + 2 * election_ms(lc);
			lc->done = done;
			lc->cbarg = cbarg;
			arm(lc, LC_POLL_MS);
			return QSG_OK;
		}
		/* No voter to hand over to (a group of one) or the transfer
		 * was refused: stop; the others (if any) elect a leader. */
	}
	snprintf(text, sizeof text, "%s stopping%s", d->cfg->name,
		 req->force ? " (FORCE: quorum not checked)" : "");
	lc->phase = LC_STOP_DELAY;
	arm(lc, LC_STOP_DELAY_MS);
	done(cbarg, QSG_OK, text);
	return QSG_OK;
}

/* ---- TRANSFER LEADER ---- */

static int do_transfer(struct lifecycle *lc, const struct admin_lifecycle *req, lc_done_cb done,
		       void *cbarg)
{
	struct qsgd *d = lc->d;
	char text[LC_TEXT], nm[FSM_NAME_MAX + 16];
	int rc;

	if (!glue_is_leader(d->glue))
		return not_leader(lc, done, cbarg, "TRANSFER LEADER");
	if (req->id != 0 && req->id == d->cfg->id) {
		snprintf(text, sizeof text, "%s is already the leader", d->cfg->name);
		done(cbarg, QSG_OK, text);
		return QSG_OK;
	}
	if (lc->phase != LC_IDLE || lc->stop_requested) {
		done(cbarg, QSG_RC_BUSY, "a leadership transfer or a stop is in progress");
		return QSG_OK;
	}
	rc = glue_transfer(d->glue, req->id, text);
	if (rc != QSG_OK) {
		char msg[LC_TEXT];
		if (rc == QSG_RC_INVALID && req->id != 0)
			snprintf(msg, sizeof msg, "%s is not a voter of the group",
				 name_of(lc, req->id, nm, sizeof nm));
		else
			snprintf(msg, sizeof msg, "%s", text);
		done(cbarg, rc, msg);
		return QSG_OK;
	}
	lc->phase = LC_TRANSFER;
	lc->target = req->id;
	lc->deadline = uv_now(d->loop) + 2 * election_ms(lc);
	lc->done = done;
	lc->cbarg = cbarg;
	arm(lc, LC_POLL_MS);
	return QSG_OK;
}

/* ---- ADD / REMOVE MEMBER ---- */

static void change_cb(void *arg, int status, const char *text)
{
	struct lc_change *ch = arg;
	struct lifecycle *lc = ch->lc;
	char msg[LC_TEXT];

	if (lc != NULL)
		lc->change = NULL;
	if (ch->done == NULL) {
		free(ch);
		return;
	}
	if (status == QSG_OK && lc != NULL) {
		struct glue_member cfg[GLUE_MAX_SERVERS];
		size_t n = glue_get_config(lc->d->glue, cfg, GLUE_MAX_SERVERS);
		unsigned v = 0;
		for (size_t i = 0; i < n; i++)
			v += cfg[i].role == GLUE_VOTER;
		if (ch->op == ADMIN_LC_ADD)
			snprintf(msg, sizeof msg,
				 "%s (Raft id %" PRIu32 ", %s) is a voter; the group has %u "
				 "voters, quorum %u",
				 ch->name, ch->id, ch->raft, v, v / 2 + 1);
		else
			snprintf(msg, sizeof msg,
				 "%s (Raft id %" PRIu32 ") removed from the configuration; the "
				 "group has %u voters, quorum %u; stop %s now (it is fenced when "
				 "its lease lapses)",
				 ch->name, ch->id, v, v / 2 + 1, ch->name);
	} else {
		snprintf(msg, sizeof msg, "%s", text != NULL ? text : "");
	}
	ch->done(ch->cbarg, status, msg);
	free(ch);
}

struct name_find {
	const char *name;
	uint32_t id;
};

static int name_find_cb(void *arg, const struct fsm_member *m)
{
	struct name_find *f = arg;
	if (strcmp(m->name, f->name) == 0) {
		f->id = m->id;
		return 1;
	}
	return 0;
}

static int do_add(struct lifecycle *lc, const struct admin_lifecycle *req, lc_done_cb done,
		  void *cbarg)
{
	struct qsgd *d = lc->d;
	struct glue_member cfg[GLUE_MAX_SERVERS];
	char text[LC_TEXT];
	struct fsm_member m;
	size_t n, i;
	int rc;

	if (!glue_is_leader(d->glue))
		return not_leader(lc, done, cbarg, "ADD MEMBER");
	if (req->id == 0 || req->raft[0] == '\0' || req->name[0] == '\0') {
		done(cbarg, QSG_RC_BAD_ATTR, "ADD MEMBER needs a name, RAFTID(n > 0) and RAFTADDR");
		return QSG_OK;
	}
	if (lc->change != NULL) {
		done(cbarg, QSG_RC_BUSY, "another membership change is in progress");
		return QSG_OK;
	}
	/* The name and the id must not belong to another member. */
	struct name_find f = {.name = req->name, .id = 0};
	fsm_member_foreach(d->fsm, name_find_cb, &f);
	if (f.id != 0 && f.id != req->id) {
		snprintf(text, sizeof text, "%s is already the name of member id %" PRIu32,
			 req->name, f.id);
		done(cbarg, QSG_RC_OBJECT_EXISTS, text);
		return QSG_OK;
	}
	if (fsm_member_get(d->fsm, req->id, &m) == QSG_OK && strcmp(m.name, req->name) != 0) {
		snprintf(text, sizeof text, "Raft id %" PRIu32 " belongs to %s", req->id, m.name);
		done(cbarg, QSG_RC_OBJECT_EXISTS, text);
		return QSG_OK;
	}
	n = glue_get_config(d->glue, cfg, GLUE_MAX_SERVERS);
	for (i = 0; i < n; i++) {
		if (cfg[i].id == req->id && strcmp(cfg[i].address, req->raft) != 0) {
			snprintf(text, sizeof text,
				 "Raft id %" PRIu32 " is in the configuration with address %s, "
				 "not %s",
				 req->id, cfg[i].address, req->raft);
			done(cbarg, QSG_RC_CONFIG, text);
			return QSG_OK;
		}
		if (cfg[i].id != req->id && strcmp(cfg[i].address, req->raft) == 0) {
			snprintf(text, sizeof text, "Raft address %s is used by Raft id %" PRIu64,
				 req->raft, cfg[i].id);
			done(cbarg, QSG_RC_CONFIG, text);
			return QSG_OK;
		}
	}
	if (n >= GLUE_MAX_SERVERS) {
		bool present = false;
		for (i = 0; i < n; i++)
			present = present || cfg[i].id == req->id;
		if (!present) {
			snprintf(text, sizeof text, "the group already has %d servers",
				 GLUE_MAX_SERVERS);
			done(cbarg, QSG_RC_CONFIG, text);
			return QSG_OK;
		}
	}
	struct lc_change *ch = calloc(1, sizeof *ch);
	if (ch == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	ch->lc = lc;
	ch->done = done;
	ch->cbarg = cbarg;
	ch->op = ADMIN_LC_ADD;
	ch->id = req->id;
	snprintf(ch->name, sizeof ch->name, "%s", req->name);
	snprintf(ch->raft, sizeof ch->raft, "%s", req->raft);
	glue_tls_member(d->glue, req->id, req->name); /* TLS on Raft: its CN */
	rc = glue_add(d->glue, req->id, req->raft, change_cb, ch);
	if (rc != QSG_OK) {
		free(ch);
		if (rc == QSG_RC_NOT_LEADER)
			return not_leader(lc, done, cbarg, "ADD MEMBER");
		snprintf(text, sizeof text, "the Raft configuration change was refused: %s",
			 qsg_rc_text(rc));
		done(cbarg, rc, text);
		return QSG_OK;
	}
	lc->change = ch;
	QLOG_INFO_(d->log, "QSG4020I", "adding member %s (Raft id %" PRIu32 ", %s)", req->name,
		   req->id, req->raft);
	return QSG_OK;
}

static int do_remove(struct lifecycle *lc, const struct admin_lifecycle *req, lc_done_cb done,
		     void *cbarg)
{
	struct qsgd *d = lc->d;
	char text[LC_TEXT], nm[FSM_NAME_MAX + 16];
	struct quorum q;
	int rc;

	if (!glue_is_leader(d->glue))
		return not_leader(lc, done, cbarg, "REMOVE MEMBER");
	if (req->id == 0) {
		done(cbarg, QSG_RC_UNKNOWN_OBJECT, "no such member");
		return QSG_OK;
	}
	if (lc->change != NULL) {
		done(cbarg, QSG_RC_BUSY, "another membership change is in progress");
		return QSG_OK;
	}
	bool voter = quorum_without(lc, req->id, &q);
	if (voter && q.voters == 0) {
		done(cbarg, QSG_RC_INVALID, "cannot remove the last voter of the group");
		return QSG_OK;
	}
	if (voter && !req->force && q.sync < q.voters / 2 + 1) {
		snprintf(text, sizeof text,
			 "without %s only %u of the remaining %u voters would be in sync (quorum "
			 "%u; not in sync: %s): bring them back first, or use FORCE",
			 name_of(lc, req->id, nm, sizeof nm), q.sync, q.voters, q.voters / 2 + 1,
			 q.missing[0] ? q.missing : "-");
		done(cbarg, QSG_RC_INVALID, text);
		return QSG_OK;
	}
	struct lc_change *ch = calloc(1, sizeof *ch);
	if (ch == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	ch->lc = lc;
	ch->done = done;
	ch->cbarg = cbarg;
	ch->op = ADMIN_LC_REMOVE;
	ch->id = req->id;
	snprintf(ch->name, sizeof ch->name, "%s",
		 req->name[0] ? req->name : name_of(lc, req->id, nm, sizeof nm));
	rc = glue_remove(d->glue, req->id, change_cb, ch);
	if (rc != QSG_OK) {
		free(ch);
		if (rc == QSG_RC_NOT_LEADER)
			return not_leader(lc, done, cbarg, "REMOVE MEMBER");
		if (rc == QSG_RC_INVALID)
			snprintf(text, sizeof text,
				 "%s (Raft id %" PRIu32 ") is not in the Raft configuration",
				 name_of(lc, req->id, nm, sizeof nm), req->id);
		else
			snprintf(text, sizeof text, "the Raft configuration change was refused: %s",
				 qsg_rc_text(rc));
		done(cbarg, rc, text);
		return QSG_OK;
	}
	lc->change = ch;
	QLOG_INFO_(d->log, "QSG4021I", "removing member %s (Raft id %" PRIu32 ")", ch->name,
		   req->id);
	return QSG_OK;
}

bool lifecycle_is_member(const struct qsgd *d, uint32_t id)
{
	struct glue_member cfg[GLUE_MAX_SERVERS];
	size_t n, i;

	if (qsgd_config_member(d->cfg, id) != NULL)
		return true;
	if (d->glue == NULL)
		return false;
	n = glue_get_config(d->glue, cfg, GLUE_MAX_SERVERS);
	for (i = 0; i < n; i++)
		if (cfg[i].id == id)
			return true;
	return false;
}

/* ---- the admin_env callbacks ---- */

size_t lifecycle_raft_config(struct lifecycle *lc, struct admin_raft_server *out, size_t max)
{
	struct glue_member cfg[GLUE_MAX_SERVERS];
	size_t n = glue_get_config(lc->d->glue, cfg, GLUE_MAX_SERVERS);
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		out[i].id = cfg[i].id;
		snprintf(out[i].address, sizeof out[i].address, "%s", cfg[i].address);
		out[i].voter = cfg[i].role == GLUE_VOTER;
	}
	return i;
}

int lifecycle_exec(struct lifecycle *lc, const struct admin_lifecycle *req, lc_done_cb done,
		   void *cbarg)
{
	if (lc == NULL || req == NULL || done == NULL)
		return QSG_RC_INVALID;
	if (lc->closing || lc->d->stopping)
		return QSG_RC_Q_MGR_STOPPING;
	switch (req->op) {
	case ADMIN_LC_ADD:
		return do_add(lc, req, done, cbarg);
	case ADMIN_LC_REMOVE:
		return do_remove(lc, req, done, cbarg);
	case ADMIN_LC_TRANSFER:
		return do_transfer(lc, req, done, cbarg);
	case ADMIN_LC_STOP:
		return do_stop(lc, req, done, cbarg);
	default:
		return QSG_RC_INVALID;
	}
}

/* ---- init / close ---- */

int lifecycle_init(struct lifecycle **out, struct qsgd *d, char *errmsg)
{
	struct lifecycle *lc = calloc(1, sizeof *lc);

	if (lc == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "out of memory");
	lc->d = d;
	uv_timer_init(d->loop, &lc->timer);
	lc->timer.data = lc;
	*out = lc;
	return QSG_OK;
}

static void closed_cb(uv_handle_t *h)
{
	free(h->data);
}

void lifecycle_close(struct lifecycle *lc)
{
	if (lc == NULL || lc->closing)
		return;
	lc->closing = true;
	if (lc->phase == LC_TRANSFER || lc->phase == LC_STOP_TRANSFER)
		finish_wait(lc, QSG_RC_Q_MGR_STOPPING, "the member is stopping");
	lc->phase = LC_IDLE;
	if (lc->change != NULL) {
		struct lc_change *ch = lc->change;
		lc_done_cb done = ch->done;
		void *cbarg = ch->cbarg;

		/* The glue answers later (freeing ch); the requester now. */
		ch->lc = NULL;
		ch->done = NULL;
		lc->change = NULL;
		done(cbarg, QSG_RC_OUTCOME_UNKNOWN,
		     "the member is stopping with the configuration change in flight: check "
		     "the configuration on the new leader");
	}
	uv_close((uv_handle_t *)&lc->timer, closed_cb);
}
