/* Internal interface between the MQSC lexer and grammar (mqsc.c) and the
 * item checks (mqsc_items.c). Not for use outside src/admin. */
#ifndef QSG_MQSC_INT_H
#define QSG_MQSC_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "mqsc.h"

/* Attribute names DISPLAY knows per object: names, then the attributes of
 * the fsm_attrs.h tables that attrs selects. The first `always` names are
 * shown whatever was selected. default_all: shown all when nothing is
 * selected. */
#define MQSC_DISP_QL 0x1 /* attributes of local queues */
#define MQSC_DISP_QR 0x2 /* of remote queues */
#define MQSC_DISP_QA 0x4 /* of alias queues */
#define MQSC_DISP_CH 0x8 /* of channels */
struct mqsc_disp_table {
	const char *const *names;
	size_t always;
	bool default_all;
	unsigned attrs;
};
struct mqsc_disp_table mqsc_disp_table(enum mqsc_obj o);

/* Validate the items of a command and fill its meaning. */
int mqsc_check_items(struct mqsc_cmd *cmd, char *errmsg);
/* Check an MQ object name of at most max characters (what: "queue name",
 * "BOQNAME" ... for the message). */
int mqsc_check_name_max(const char *s, const char *what, size_t max, bool allow_generic,
			bool allow_empty, bool *generic, unsigned col, char *errmsg);
/* The items of DEFINE/ALTER/DELETE USER (mqsc_user.c). */
int mqsc_check_user_items(struct mqsc_cmd *cmd, char *errmsg);
/* The items of SET/DELETE/DISPLAY AUTHREC and DISPLAY ENTAUTH
 * (mqsc_authrec.c). */
int mqsc_check_authrec_items(struct mqsc_cmd *cmd, char *errmsg);
/* The items of SET and DISPLAY CHLAUTH (mqsc_chlauth.c). */
int mqsc_check_chlauth_items(struct mqsc_cmd *cmd, char *errmsg);
/* Copy src into dst[size], truncated. */
void mqsc_copy_str(char *dst, size_t size, const char *src);

#endif
