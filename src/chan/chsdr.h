/* A sending channel instance (MCA) for one (channel, epoch) owned by this
 * member: connects to the partner, resolves the in-doubt batch, sends
 * batches and settles them (chsdr.c; decisions in chcore.h). Created and
 * driven by the channel initiator (chinit.c) only; it links itself into
 * chhost's list while alive. Loop thread only. */
#ifndef QSG_CHSDR_H
#define QSG_CHSDR_H

#include <stdbool.h>
#include <stdint.h>

#include "chhost.h"

struct chsdr;

/* Start an instance for the entry's (name, epoch); NULL if it cannot run
 * (no SDR definition, out of memory). */
struct chsdr *chsdr_start(struct chhost *h, const struct fsm_chstatus *st);
/* End now: fenced/stopped elsewhere/initiator stopped (no more commands). */
void chsdr_abort(struct chsdr *s, const char *why);
/* The status entry changed: the instance checks whether it still owns it. */
void chsdr_entry_changed(struct chsdr *s, const struct fsm_chstatus *st, bool exists);
void chsdr_notify_queue(struct chsdr *s, const char *queue);
const char *chsdr_name(const struct chsdr *s);
uint64_t chsdr_epoch(const struct chsdr *s);
/* The next in chhost's list. */
struct chsdr *chsdr_next(const struct chsdr *s);

#endif
