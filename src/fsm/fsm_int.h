/* Internal interface between the command codec (cmd.c) and the state machine
 * (fsm.c). Not for use outside src/fsm. */
#ifndef QSG_FSM_INT_H
#define QSG_FSM_INT_H

#include "fsm.h"

/* fsm_msg_encode/fsm_msg_decode (the message layout) are public in fsm.h. */

/* Queue attributes, all fields (QDEFINE/QALTER bodies and snapshots). */
void fsm_qattrs_encode(struct qsg_wbuf *w, const struct fsm_qattrs *a);
/* Returns QSG_OK or a reason code with errmsg for bad values. */
int fsm_qattrs_decode(struct qsg_rbuf *r, struct fsm_qattrs *a, char *errmsg);

/* MQ object name: 1..FSM_NAME_MAX of [A-Za-z0-9._/%]. */
bool fsm_name_valid(const char *s);
/* Channel name: 1..FSM_CHNAME_MAX of the same characters. */
bool fsm_chname_valid(const char *s);

/* Channel attributes, all fields (CHDEFINE/CHALTER bodies and snapshots);
 * decode checks the name, the set bits and the enums. */
void fsm_chattrs_encode(struct qsg_wbuf *w, const struct fsm_chattrs *a);
int fsm_chattrs_decode(struct qsg_rbuf *r, struct fsm_chattrs *a, char *errmsg);
/* Status image: u8 exists, u32 owner, u8 state, u64 epoch (decode sets
 * r->err for exists > 1 or state > FSM_CHS_MAX). */
void fsm_chimage_encode(struct qsg_wbuf *w, const struct fsm_chimage *i);
void fsm_chimage_decode(struct qsg_rbuf *r, struct fsm_chimage *i);

#endif
