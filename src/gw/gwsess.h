/* A gateway session: one client session of this member, spoken over a
 * virtual connection (server.h server_vconn_open) by a protocol gateway
 * (STOMP now, AMQP next). It is what a libqsg connection is, without the
 * socket: HELLO with the client's credentials (auth.c; refused -> the
 * session is lost), a session with its epoch, one unit of work, PUT
 * sequence numbers, GET with wait, COMMIT by uow number.
 *
 * What it adds, as libqsg does after a leader change: a PUT (with its
 * sequence number), a COMMIT (with its uow number), a BACKOUT and the HELLO
 * are sent again, after 50 ms and then every 100 ms for up to
 * GWSESS_RETRY_MS, while the answer is OUTCOME_UNKNOWN, NO_LEADER,
 * NOT_LEADER, SEQUENCE_GAP or BUSY; the state machine makes them
 * idempotent (a PUT applied twice is answered "duplicate", a COMMIT of a
 * uow already done is OK). A GET is never sent again (its caller decides).
 *
 * Every callback runs from the loop (a uv_idle), never from inside a call
 * to this module, so a caller's state is never changed under it. Requests
 * made before the HELLO's answer wait for it. Loop thread only. */
#ifndef QSG_GWSESS_H
#define QSG_GWSESS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/msg.h"

struct server;
struct gwsess;
struct proto_resp;
typedef struct uv_loop_s uv_loop_t;

#define GWSESS_RETRY_MS 30000

struct gwsess_peer {
	const char *peer; /* the client's address "10.0.0.1:4711" (log, CHLAUTH) */
	const char *app; /* the HELLO's application name, e.g. "stomp"; NULL "gateway" */
	const char *user; /* NULL or "": no credentials */
	const char *password;
	const char *cert_cn;
	const char *cert_dn; /* the certificate's subject DN (CHLAUTH SSLPEERMAP) */
	bool tls;
	/* 0: a random client id (a new session); else this one, so that a
	 * client that comes back is the same producer: its PUT sequence
	 * numbers go on (an ATTACH of a client id fences the session that
	 * had it). */
	uint64_t client_id;
	/* Another session of the same client, whose HELLO was accepted, or
	 * NULL: this one takes its identity without checking the password
	 * again (server.h same_client). */
	const struct gwsess *same_client;
};

/* The answer to one request: resp->rc, resp->text; resp->u for the op
 * (hello, put, get). resp is valid during the call only. */
typedef void (*gwsess_cb)(void *arg, const struct proto_resp *resp);
/* The member ended the session (refused HELLO, fenced, stopping): rc and
 * text say why. No request callback follows; call gwsess_close. */
typedef void (*gwsess_lost_cb)(void *arg, int rc, const char *text);

/* Open and send the HELLO; ready (may be NULL) gets its answer. NULL when
 * out of memory or the server is closing. */
struct gwsess *gwsess_open(struct server *srv, uv_loop_t *loop, const struct gwsess_peer *peer,
			   gwsess_lost_cb lost, void *arg, gwsess_cb ready, void *ready_arg);
/* Close: the session is detached (its unit of work backed out); no
 * callback of any kind after this. */
void gwsess_close(struct gwsess *g);

/* flags: FSM_F_*; syncpoint puts and gets go into the unit of work. */
void gwsess_put(struct gwsess *g, const char *queue, uint32_t flags, const struct fsm_msg *msg,
		gwsess_cb cb, void *arg);
/* PUT with the caller's sequence number (0: the next one, as gwsess_put):
 * one at or below the last applied is answered OK with duplicate = 1; one
 * beyond the next is answered SEQUENCE_GAP (not sent again). */
void gwsess_put_seq(struct gwsess *g, const char *queue, uint32_t flags, const struct fsm_msg *msg,
		    uint64_t seq, gwsess_cb cb, void *arg);
/* The last sequence number given or reported by the HELLO (put_seq). */
uint64_t gwsess_put_seq_last(const struct gwsess *g);
void gwsess_get(struct gwsess *g, const char *queue, uint32_t flags, int32_t wait_ms, gwsess_cb cb,
		void *arg);
void gwsess_commit(struct gwsess *g, gwsess_cb cb, void *arg);
void gwsess_backout(struct gwsess *g, gwsess_cb cb, void *arg);
/* A backout that leaves BackoutCount alone (so no move to BOQNAME), once
 * the group is at command level 5; a counted one before. */
void gwsess_release(struct gwsess *g, gwsess_cb cb, void *arg);
/* Requests not answered yet. */
unsigned gwsess_inflight(const struct gwsess *g);
bool gwsess_ready(const struct gwsess *g);

#endif
