/* The channel initiator of a member (docs/channels.md).
 *
 * It runs the member's sending channel instances (chsdr.c) and its receiving
 * ones (chrcv.c, for inbound connections on the group port), and it keeps the
 * shared channel status table true to what runs: every change goes through
 * the log as a compare-and-swap (FSM_OP_CHST_CAS).
 *
 * Reconciliation runs whenever the channel part of the state machine changed
 * (fsm_chan_generation) and once a second:
 *   - an SDR entry owned by this member in STARTING with an epoch we run no
 *     instance for: start an instance for that epoch;
 *   - an entry owned by this member that is active but has no instance here
 *     (we restarted, or our channel initiator stopped): recover it;
 *   - entries owned by a FAILED member: peer recovery, racing the other
 *     members by compare-and-swap (exactly one wins each entry): running
 *     sender channels are restarted on a member chosen by load, STOPPED ones
 *     stay stopped, inbound entries are deleted;
 *   - a local instance whose entry no longer names it (owner or epoch
 *     changed: fenced, or STOPPED): end it.
 * The queue-manager part does recovery even while the channel initiator is
 * stopped or failed (seed 001, scenario 3). The initiator fails on its own
 * on an internal error of the channel code (chhost_fail) or an injected
 * fault: it ends its instances, publishes CHINIT_STATE(0) so that peers
 * recover its channels, and restarts after a delay (chcore_chinit_restart_
 * delay). The decisions are the channel cores'
 * (chcore.h). Called by the daemon (main.c, lease.c, the listener and the
 * admin adapter). All on the loop thread. */
#ifndef QSG_CHINIT_H
#define QSG_CHINIT_H

#include <stdbool.h>
#include <stdint.h>

#include "chcore.h"
#include "qsgd/daemon.h"

struct chinit;
struct chrcv;
struct stream;

int chinit_init(struct chinit **out, struct qsgd *d, char *errmsg);
/* Begin reconciling (after the listener is up). autostart: start the
 * channel initiator too. */
void chinit_begin(struct chinit *ci, bool autostart);
/* End every instance and close the handles; freed when all is released. */
void chinit_close(struct chinit *ci);

/* START/STOP CHINIT. Stop ends every instance at once (their channels are
 * recovered elsewhere by this member's queue-manager part). Start also
 * restarts a failed initiator at once; stop cancels its restart. */
int chinit_start(struct chinit *ci, char *errmsg);
int chinit_stop(struct chinit *ci, char *errmsg);
/* Running: started, not failed, member not fenced. */
bool chinit_running(const struct chinit *ci);

/* What DISPLAY CHINIT and the metrics show. */
struct chinit_info {
	enum chcore_chinit_st status;
	uint64_t failures; /* failures of its own since the daemon started */
	uint64_t restart_in_ms; /* FAILED: time left before it restarts */
	char reason[128]; /* the last failure ("" = none) */
};
void chinit_info(const struct chinit *ci, struct chinit_info *out);

/* Fault injection (test builds; the daemon calls it on SIGUSR2 when
 * QSG_TEST_FAULTS names "chinit"): the initiator fails on its own through
 * the path an internal error takes (chhost_fail). With a sending instance
 * running, the next batch it takes is treated as undecodable; without one
 * it fails at once. QSG_RC_CHINIT_NOT_RUNNING when it does not run. */
int chinit_inject_fault(struct chinit *ci, char *errmsg);

/* Member fencing (lease): a fenced member ends every instance at once and
 * changes nothing until it is active again. */
void chinit_set_fenced(struct chinit *ci, bool fenced);

/* Messages became available on `queue` (fsm notify). */
void chinit_notify_queue(struct chinit *ci, const char *queue);

/* Inbound: the server hands over a connection whose first frame is a
 * channel START (chp_is_start). The receiving instance (chrcv.h) then takes
 * the frames, starting with that one. NULL: out of memory (close it). */
struct chrcv *chinit_accept(struct chinit *ci, struct stream *st);

/* REFRESH SECURITY TYPE(SSL): re-read the channels' client TLS contexts
 * (chhost_tls_reload); *n: how many there are. */
int chinit_tls_reload(struct chinit *ci, unsigned *n, char *errmsg);

#endif
