/* MQSC administration: channel authentication rules (docs/security.md
 * "Channel authentication (CHLAUTH)", docs/admin.md). SET CHLAUTH submits
 * CHLAUTH_SET with its ACTION; DISPLAY CHLAUTH reads the replica: the
 * rules of a profile (MATCH(EXACT)), of the profiles a generic name
 * matches (MATCH(GENERIC), the default), or which rule a connection would
 * meet (MATCH(RUNCHECK), through chlmatch_decide, as the daemon decides).
 * The authority needed (CHG on QMGR for SET, DSP for DISPLAY) is checked
 * before (admin_authorized). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"
#include "fsm/chlmatch.h"

static void change(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
		   void *arg)
{
	struct admin_op *op = admin_op_new(env, mc, done, arg);
	if (op == NULL) {
		admin_reply_error(done, arg, QSG_RC_STORAGE_NOT_AVAILABLE, "CHLAUTH");
		return;
	}
	op->env.authz = NULL; /* checked; not kept past this call */
	snprintf(op->object, sizeof op->object, "CHLAUTH(%s)", mc->chlauth.profile);
	op->cmd.op = FSM_OP_CHLAUTH_SET;
	op->cmd.chlauth = mc->chlauth;
	admin_submit_op(op);
}

struct disp {
	const struct mqsc_cmd *mc;
	struct proto_admin_writer *aw;
	unsigned count;
};

static void emit(struct disp *d, const struct fsm_chlauth *r, const char *extra_name,
		 const char *extra)
{
	const char *names[12], *values[12];
	size_t n = 0;
#define ATTR(k, v) (names[n] = (k), values[n++] = (v))
	ATTR("CHLAUTH", r->profile);
	ATTR("TYPE", chlmatch_type_name(r->type));
	if (r->type == FSM_CHL_BLOCKADDR) {
		ATTR("ADDRLIST", r->addrlist);
	} else {
		if (r->type == FSM_CHL_SSLPEERMAP)
			ATTR("SSLPEER", r->sslpeer);
		if (r->type == FSM_CHL_USERMAP)
			ATTR("CLNTUSER", r->clntuser);
		ATTR("ADDRESS", r->address);
		ATTR("USERSRC", chlmatch_usersrc_name(r->usersrc));
		if (r->usersrc == FSM_CHL_MAP)
			ATTR("MCAUSER", r->mcauser);
	}
	ATTR("WARN", r->warn ? "YES" : "NO");
	ATTR("DESCR", r->descr);
	if (extra_name != NULL)
		ATTR(extra_name, extra);
#undef ATTR
	if (!mqsc_where_matches(d->mc, n, names, values))
		return;
	proto_admin_begin(d->aw);
	for (size_t i = 0; i < n; i++)
		proto_admin_attr(d->aw, names[i], values[i]);
	proto_admin_end(d->aw);
	d->count++;
}

static int list_cb(void *arg, const struct fsm_chlauth *r)
{
	struct disp *d = arg;
	const struct mqsc_cmd *mc = d->mc;
	bool match = mc->chl_match == MQSC_CHL_EXACT ? strcmp(r->profile, mc->name) == 0
						     : chlmatch_profile(mc->name, r->profile);
	if (match && (mc->chlauth.type == 0 || mc->chlauth.type == r->type))
		emit(d, r, NULL, NULL);
	return 0;
}

/* MATCH(RUNCHECK): the rule a connection on channel mc->name from
 * ADDRESS (SSLPEER, CLNTUSER) meets, and what it means. */
static void runcheck(const struct admin_env *env, struct disp *d, char *text, size_t size)
{
	const struct fsm_chlauth *k = &d->mc->chlauth;
	size_t n;
	const struct fsm_chlauth *rules = fsm_chlauth_rules(env->fsm, &n);
	struct chl_in in = {d->mc->name, k->address, k->sslpeer, k->clntuser};
	struct chl_result res;
	char why[FSM_NAME_MAX + 80];
	chlmatch_decide(rules, n, &in, false, &res);
	for (unsigned i = 0; i < res.nwarned; i++)
		emit(d, res.warned[i], "RESULT", "WARN: would refuse; logged (QSG8016W) only");
	switch (res.verdict) {
	case CHL_BLOCKADDR:
		snprintf(why, sizeof why, "BLOCKED: address matches %s", res.blocked_by);
		emit(d, res.rule, "RESULT", why);
		snprintf(text, size,
			 "QSG0056I: CHLAUTH(%s) from %s: refused by BLOCKADDR (%s) before any "
			 "protocol.",
			 d->mc->name, k->address, res.blocked_by);
		return;
	case CHL_NOACCESS:
		emit(d, res.rule, "RESULT", "NOACCESS: refused");
		snprintf(text, size,
			 "QSG0056I: CHLAUTH(%s) from %s: refused by %s USERSRC(NOACCESS).",
			 d->mc->name, k->address, chlmatch_type_name(res.rule->type));
		return;
	default:
		break;
	}
	if (res.rule == NULL) {
		snprintf(text, size,
			 "QSG0056I: CHLAUTH(%s) from %s: no rule matches; the connection runs as "
			 "its own identity.",
			 d->mc->name, k->address);
		return;
	}
	if (res.mcauser[0] != '\0')
		snprintf(why, sizeof why, "MAP: runs as %s", res.mcauser);
	else
		snprintf(why, sizeof why, "%s: runs as its own identity",
			 chlmatch_usersrc_name(res.rule->usersrc));
	emit(d, res.rule, "RESULT", why);
	snprintf(text, size, "QSG0056I: CHLAUTH(%s) from %s: %s (%s rule).", d->mc->name,
		 k->address, why, chlmatch_type_name(res.rule->type));
}

static void display(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
		    void *arg)
{
	struct proto_admin_writer aw;
	char text[ADMIN_TEXT_SIZE];
	int rc = QSG_OK;
	proto_admin_init(&aw);
	struct disp d = {.mc = mc, .aw = &aw};
	if (mc->chl_match == MQSC_CHL_RUNCHECK) {
		runcheck(env, &d, text, sizeof text);
	} else {
		fsm_chlauth_foreach(env->fsm, list_cb, &d);
		if (d.count == 0)
			snprintf(text, sizeof text,
				 "QSG0055I: No channel authentication records match.");
		else
			snprintf(text, sizeof text,
				 "QSG0054I: Display channel authentication records (%u).", d.count);
	}
	admin_display_done(&aw, "CHLAUTH", rc, text, done, arg);
}

void admin_exec_chlauth(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg)
{
	if (mc->verb == MQSC_DISPLAY)
		display(env, mc, done, arg);
	else
		change(env, mc, done, arg);
}
