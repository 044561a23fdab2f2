/* Command levels (fsm.h, docs/lifecycle.md "Command levels"): what level a
 * command needs, and the group's level, the lowest of its members'. A
 * command above the group's level must never reach the log: a member of an
 * older build would reject the entry that holds it, as a whole, while the
 * others apply it, and the replicas would differ. */
#include "fsm_int.h"

#include "fsm_attrs.h"
#include "fsm_chan.h"

unsigned fsm_group_cmdlevel(struct fsm *f)
{
	unsigned level = FSM_CMDLEVEL;
	if (f->nmembers == 0)
		return FSM_CMDLEVEL_MIN;
	for (size_t i = 0; i < f->nmembers; i++) {
		unsigned l = f->members[i].cmdlevel;
		if (l < FSM_CMDLEVEL_MIN)
			l = FSM_CMDLEVEL_MIN; /* unknown: a build before command levels */
		if (l < level)
			level = l;
	}
	return level;
}

/* Level 2: a settle that lists a destination. */
static unsigned settle_level(const struct fsm_cmd *c)
{
	struct fsm_chiter it;
	struct fsm_chdisp d;
	int done = 0;
	fsm_chiter_init(&it, &c->ch);
	while (fsm_chiter_disp(&it, &d, &done) == QSG_OK && !done)
		if (d.action == FSM_DISP_LIST || d.action == FSM_DISP_LIST_DLQ)
			return 2;
	return FSM_CMDLEVEL_MIN;
}

unsigned fsm_cmd_level(const struct fsm_cmd *c)
{
	switch (c->op) {
	case FSM_OP_MEMBER_LEVEL:
		return 2;
	case FSM_OP_MEMBER_REMOVE_QMGR:
		return 4; /* docs/channels.md "Private channels" */
	case FSM_OP_USER_DEFINE:
	case FSM_OP_USER_ALTER:
	case FSM_OP_USER_DELETE:
		return 3; /* users (docs/security.md "Authentication") */
	case FSM_OP_AUTHREC_SET:
	case FSM_OP_AUTHREC_DELETE:
		return 3; /* authority records (docs/security.md "Authority records") */
	case FSM_OP_BACKOUT_UNCOUNTED:
		return 5; /* released without counting (docs/protocols.md "AMQP 1.0") */
	case FSM_OP_CHLAUTH_SET:
		return 4; /* channel authentication (docs/security.md "Channel authentication
			     (CHLAUTH)") */
	case FSM_OP_QDEFINE:
	case FSM_OP_QALTER:
		return (c->attrs.set & FSM_QA_TRIG_MASK) != 0 ? 2 : FSM_CMDLEVEL_MIN;
	case FSM_OP_CHDEFINE:
	case FSM_OP_CHALTER:
		/* Level 3: a private channel (QSGDISP(QMGR)); SSLCIPH or
		 * SSLPEER (TLS on channels). */
		return (c->ch.attrs.set & (FSM_CA_QSGDISP | FSM_CA_SSL_MASK)) != 0
			   ? 3
			   : FSM_CMDLEVEL_MIN;
	case FSM_OP_CH_GETBATCH:
		return c->ch.flags != 0 ? 2 : FSM_CMDLEVEL_MIN;
	case FSM_OP_CH_SETTLE:
		return settle_level(c);
	default:
		return FSM_CMDLEVEL_MIN;
	}
}
