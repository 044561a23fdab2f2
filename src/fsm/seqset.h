/* Whether the messages of a decoded snapshot have different seqnos, in
 * O(n) (the decode runs in the thread pool, after an O(n) decode: no sort).
 * Internal to src/fsm. */
#ifndef QSG_FSM_SEQSET_H
#define QSG_FSM_SEQSET_H

#include <stddef.h>
#include <stdint.h>

struct qmsg;

/* QSG_OK: the seqnos of m[0..n) (every one >= 1) are all different;
 * QSG_RC_BAD_FRAME: one repeats (*dup: which); QSG_RC_STORAGE_NOT_AVAILABLE.
 * A bitmap over [lowest, highest] when that range is at most 64 n (at
 * most 8 bytes a message: seqnos of a snapshot are close together), else
 * an open-addressing hash set of 2 n to 4 n slots. */
int seqnos_unique(struct qmsg *const *m, size_t n, uint64_t *dup);

#endif
