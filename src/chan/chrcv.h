/* A receiving channel instance (MCA) for one inbound connection on the group
 * port (chrcv.c; decisions in chcore.h). Created by the channel initiator
 * (chinit_accept); the client listener feeds it frames and tells it when
 * the connection is gone. It links itself into chhost's list while
 * alive. Loop thread only. */
#ifndef QSG_CHRCV_H
#define QSG_CHRCV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chhost.h"

struct chrcv;

/* A new inbound connection (its first frame not yet read). */
struct chrcv *chrcv_new(struct chhost *h, struct stream *st);
void chrcv_frame(struct chrcv *r, const uint8_t *p, size_t len);
/* The connection is gone (no more writes to the stream). */
void chrcv_closed(struct chrcv *r);
void chrcv_abort(struct chrcv *r, int rc, const char *why);
/* A local instance of the entry (name, rqmname, epoch) whose receiver
 * instance is rinst (the SYNCQ record's) or newer (the replica has not
 * applied its START yet), or whose START is on the way. */
bool chrcv_matches(const struct chrcv *r, const char *name, const char *rqmname, uint64_t epoch,
		   uint64_t rinst);
/* End the instance at once if the replica shows another instance of its
 * channel (one inbound instance at a time; chcore_rcv_fenced). */
void chrcv_check_fenced(struct chrcv *r);
/* The next in chhost's list. */
struct chrcv *chrcv_next(const struct chrcv *r);

#endif
