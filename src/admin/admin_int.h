/* Internal interface of the MQSC administration module (src/admin): the
 * command in flight, the reply texts and the executors of each concern.
 * Layers, each calling only those below it:
 *   admin.c          parses and dispatches;
 *   admin_queue.c, admin_chan.c, admin_display.c, admin_member.c execute;
 *   admin_submit.c   submits a change and replies from its result;
 *   admin_util.c     replies, message texts and names (a leaf).
 * Not for use outside src/admin. */
#ifndef QSG_ADMIN_INT_H
#define QSG_ADMIN_INT_H

#include <stdbool.h>

#include "admin.h"
#include "mqsc.h"

#define ADMIN_TEXT_SIZE (2 * QSG_ERRMSG_SIZE)

/* One command waiting for its fsm result. */
struct admin_op {
	struct admin_env env; /* copy: the result may come after admin_exec returned */
	admin_done_cb done;
	void *arg;
	uint8_t fsm_op;
	enum mqsc_verb verb;
	enum mqsc_obj obj;
	char name[FSM_NAME_MAX + 1];
	char object[FSM_NAME_MAX + 16]; /* "QLOCAL(QA)" */
	struct fsm_cmd cmd; /* START/STOP CHANNEL: kept for the retry */
	int retries;
};

/* --- admin_util.c: replies, message texts and names ------------------------ */
/* Call done with text and aw (an empty object list when aw is NULL). */
void admin_reply(admin_done_cb done, void *arg, int rc, const char *text,
		 struct proto_admin_writer *aw);
/* Message id of a failure ("QSG0002E" ...). */
const char *admin_err_id(int rc);
void admin_reply_error(admin_done_cb done, void *arg, int rc, const char *what);
/* The end of a DISPLAY of `what`: done with rc, text and the objects in aw,
 * or, when aw ran out of memory, with no objects and QSG0004E; aw is
 * closed. */
void admin_display_done(struct proto_admin_writer *aw, const char *what, int rc, const char *text,
			admin_done_cb done, void *arg);
/* "defined", "altered" ... */
const char *admin_done_word(enum mqsc_verb v);
void admin_failed_text(char *text, size_t size, const struct admin_op *op, int rc);
/* Reply with text and free op. */
void admin_finish(struct admin_op *op, int rc, const char *text);
/* Refuse before submitting: reply (what = fmt with a1, a2) and free op. */
void admin_op_refuse(struct admin_op *op, int rc, const char *fmt, const char *a1, const char *a2);
/* Queue type of stored attributes (0 means LOCAL) and of an MQSC object. */
uint8_t admin_qtype_of(const struct fsm_qattrs *a);
uint8_t admin_obj_qtype(enum mqsc_obj o);
/* "QLOCAL", "QREMOTE" or "QALIAS". */
const char *admin_qtype_name(uint8_t t);
bool admin_chs_active(uint8_t state);
/* "SDR", "RCVR" or "". */
const char *admin_chltype_name(uint8_t t);
/* Queue manager name of member id (its id in decimal when unknown; "" for
 * 0). */
void admin_member_name(const struct admin_env *env, uint32_t id, char *buf, size_t size);
/* "QSG0021E: Channel NAME is [already] active on OWNER (epoch N)" + tail
 * (tail "." means already active). */
void admin_active_text(char *text, size_t size, const struct admin_env *env, const char *name,
		       const struct fsm_chimage *img, const char *tail);

/* --- admin_submit.c: submission and results -------------------------------- */
/* A new operation for mc (env copied, object text "OBJ(name)" or "QMGR");
 * NULL when out of memory. */
struct admin_op *admin_op_new(const struct admin_env *env, const struct mqsc_cmd *mc,
			      admin_done_cb done, void *arg);
/* Submit op->cmd; the reply follows the result. On refusal reply (not
 * applied) and free op. */
void admin_submit_op(struct admin_op *op);
/* Fill op->cmd for START (after = new instance) or STOP CHANNEL from the
 * status image cur. Returns QSG_OK, or a reason code with the reply text in
 * text. */
int admin_chst_build(struct admin_op *op, const struct fsm_chimage *cur, char *text, size_t size);
/* Result of a START/STOP CHANNEL compare-and-swap: true when op was
 * resubmitted (the reply comes later). */
bool admin_chst_result(struct admin_op *op, const struct fsm_result *res, int *rc, char *text,
		       size_t size);

/* --- admin_queue.c --------------------------------------------------------- */
/* DEFINE/ALTER/DELETE/CLEAR QLOCAL/QREMOTE/QALIAS. */
void admin_exec_queue_change(struct admin_op *op, const struct mqsc_cmd *mc);

/* --- admin_chan.c ---------------------------------------------------------- */
void admin_exec_channel_change(struct admin_op *op, const struct mqsc_cmd *mc);
void admin_exec_start_stop(struct admin_op *op, const struct mqsc_cmd *mc);
void admin_exec_reset(struct admin_op *op, const struct mqsc_cmd *mc);
void admin_exec_resolve(struct admin_op *op, const struct mqsc_cmd *mc);
/* START/STOP CHINIT: this member's channel initiator, synchronously. */
void admin_exec_chinit(const struct admin_env *env, enum mqsc_verb verb, admin_done_cb done,
		       void *arg);

/* REFRESH SECURITY TYPE(SSL): this member's TLS contexts, synchronously
 * (CMDSCOPE(*) through qsgadm for every member). */
void admin_exec_refresh_ssl(const struct admin_env *env, admin_done_cb done, void *arg);

/* --- admin_display.c ------------------------------------------------------- */
void admin_exec_display(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg);

/* --- admin_user.c ---------------------------------------------------------- */
/* DEFINE/ALTER/DELETE/DISPLAY USER (mc's name is folded to upper case). */
void admin_exec_user(const struct admin_env *env, struct mqsc_cmd *mc, admin_done_cb done,
		     void *arg);

/* --- admin_authrec.c ------------------------------------------------------- */
/* SET/DELETE/DISPLAY AUTHREC, DISPLAY ENTAUTH. */
void admin_exec_authrec(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg);
/* The command's authority check (env->authz): true when it may run;
 * otherwise the refusal (2035) is answered and false returned. DISPLAY of
 * a generic name passes here and is filtered by admin_may_see. */
bool admin_authorized(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
		      void *arg);
/* DISPLAY mc: may the identity see object `name` (DSP; DEFPRTY alone of
 * one queue: PUT or INQ)? */
bool admin_may_see(const struct admin_env *env, const struct mqsc_cmd *mc, uint8_t objtype,
		   const char *name);

/* --- admin_chlauth.c ------------------------------------------------------- */
/* SET CHLAUTH, DISPLAY CHLAUTH (MATCH(RUNCHECK) through chlmatch_decide). */
void admin_exec_chlauth(const struct admin_env *env, const struct mqsc_cmd *mc, admin_done_cb done,
			void *arg);

/* --- admin_member.c -------------------------------------------------------- */
/* ADD/REMOVE MEMBER, TRANSFER LEADER, STOP QMGR. */
void admin_exec_lifecycle(const struct admin_env *env, const struct mqsc_cmd *mc,
			  admin_done_cb done, void *arg);

#endif
