/* What a channel instance knows of its channel initiator (a leaf of the
 * channel runtime): the daemon, the set of outbound connections, whether the
 * initiator runs or is fenced, the references that keep the initiator alive,
 * the bookkeeping per sending channel, and two helpers (member names,
 * logging a status change), and the lists of instances (each instance links
 * and unlinks itself). The initiator (chinit.c) owns it; the instances
 * (chsdr.c, chrcv.c)
 * include only this header, never chinit.h, so the runtime has no include or
 * call cycle: chinit -> chsdr, chrcv -> chhost. Loop thread only. */
#ifndef QSG_CHHOST_H
#define QSG_CHHOST_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "chproto.h"
#include "chssl.h"
#include "qsgd/daemon.h"
#include "qsgd/stream.h"
#include "qsgd/tlsstream.h"

#define CH_HB_MISS 3 /* heartbeat intervals without a reply: connection dead */

struct chsdr;
struct chrcv;

/* Bookkeeping per sending channel on this member: where the next
 * connection attempt begins in the CONNAME list, and the newest
 * epoch an instance was started for here (never two instances with the same
 * epoch: a lagging replica may still show an epoch whose instance ended).
 * The retry count is not here: it is the group's, in the status entry. */
struct chretry {
	struct chretry *next;
	char name[FSM_CHNAME_MAX + 1];
	uint64_t started_epoch;
	unsigned conn_pref; /* the CONNAME entry the next attempt begins at */
};

/* A client TLS context for one CipherSpec (SSLCIPH), made from the
 * member's [tls] key, certificate and CA on first use and reloaded by
 * REFRESH SECURITY TYPE(SSL) (chhost_tls_reload). The server side of an
 * inbound channel is the client listener's context. */
struct chtlsctx {
	struct chtlsctx *next;
	const struct chssl_spec *spec;
	struct tlsstream_cfg cfg; /* only cfg.client is made */
};

struct chhost {
	struct qsgd *d;
	struct stream_set *set; /* outbound channel connections */
	bool running; /* START/STOP CHINIT (set by the initiator) */
	bool fenced; /* member fenced (set by the initiator) */
	/* Test builds: the next batch a sending instance takes is treated as
	 * undecodable (chinit_inject_fault), an internal error. */
	bool fault_armed;
	unsigned refs; /* submissions in flight + instances alive */
	struct chretry *retries;
	struct chsdr *sdrs; /* sending instances alive */
	struct chrcv *rcvs; /* receiving instances alive */
	struct chtlsctx *tls; /* client TLS contexts per CipherSpec */
	/* The initiator's callbacks: refs fell to 0; an internal error in the
	 * channel code (chhost_fail). */
	void *arg;
	void (*released)(void *arg);
	void (*failed)(void *arg, const char *why);
};

void chhost_ref(struct chhost *h);
void chhost_unref(struct chhost *h);
/* The bookkeeping of channel `name` (created on first use; NULL out of
 * memory). */
struct chretry *chhost_retry(struct chhost *h, const char *name);
void chhost_retry_free(struct chhost *h);
/* Log a status change made by this member (owner changes at INFO). */
void chhost_log_change(struct chhost *h, const char *name, const char *rqmname,
		       const struct fsm_chimage *before, const struct fsm_chimage *after,
		       const char *reason);
/* An error inside the channel code that no partner or replica state
 * explains (an undecodable batch from our own state machine, a count that
 * does not match): the whole channel initiator is declared failed, not the
 * daemon. Its queue manager goes on serving; the initiator ends every
 * instance, its channels are recovered by peers, and it restarts after a
 * delay (chinit.c). Safe to call from inside an instance: the failure is
 * handled on the next loop turn. */
void chhost_fail(struct chhost *h, const char *why);
/* The client TLS context of CipherSpec spec (made on first use). Without
 * [tls] on this member, or when its files cannot be used:
 * QSG_RC_SSL_INITIALIZATION_ERROR with the reason in errmsg. */
int chhost_tls_client(struct chhost *h, const struct chssl_spec *spec, struct tlsstream_cfg **out,
		      char *errmsg);
/* Re-read the key, certificate and CA of every context made (a context
 * that fails keeps its old files; the first failure is returned, the others
 * go on). Connections made before keep theirs. */
int chhost_tls_reload(struct chhost *h, char *errmsg);
/* Free the contexts (no instance alive). */
void chhost_tls_free(struct chhost *h);
const char *chhost_member_name(struct chhost *h, uint32_t id, char *buf, size_t len);

#endif
