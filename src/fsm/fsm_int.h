/* Internal interface between the command codec (cmd.c) and the state machine
 * (fsm.c). Not for use outside src/fsm. */
#ifndef QSG_FSM_INT_H
#define QSG_FSM_INT_H

#include "fsm.h"

/* A whole message as it appears in GET/BROWSE results and snapshots:
 * msgid[24] correlid[24] u8 priority u8 persistent i64 expiry_ms
 * i64 put_time_ms u32 backout_count u64 seqno blob props blob body. */
void fsm_msg_encode(struct qsg_wbuf *w, const struct fsm_msg *m);
/* Decodes and checks priority <= 9, persistent <= 1 and the size caps;
 * slices point into the reader's buffer. Errors are left in r->err. */
void fsm_msg_decode(struct qsg_rbuf *r, struct fsm_msg *m);

/* Queue attributes, all fields (QDEFINE/QALTER bodies and snapshots). */
void fsm_qattrs_encode(struct qsg_wbuf *w, const struct fsm_qattrs *a);
/* Returns QSG_OK or a reason code with errmsg for bad values. */
int fsm_qattrs_decode(struct qsg_rbuf *r, struct fsm_qattrs *a, char *errmsg);

/* MQ object name: 1..FSM_NAME_MAX of [A-Za-z0-9._/%]. */
bool fsm_name_valid(const char *s);

#endif
