/* The STOMP gateway's internals, shared by stompgw.c (the listener,
 * accepting, parsing and dispatching, CONNECT, heart-beats) and stompops.c
 * (a connection's state, frame writers, ERROR and shutdown, and the frames
 * SEND, SUBSCRIBE, UNSUBSCRIBE, ACK/NACK, BEGIN/COMMIT/ABORT). Calls go
 * one way: stompgw.c -> stompops.c. */
#ifndef QSG_STOMPGW_INT_H
#define QSG_STOMPGW_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "fsm/fsm.h"
#include "qsgd/stream.h"
#include "stomp/stompframe.h"

struct gwsess;
struct qsgd;

#define STOMP_ID_MAX 255 /* subscription ids, receipts, transaction names */
#define SC_OUT_MAX (8u << 20) /* output a client has not read: then hold */

enum { SC_AWAIT = 0, SC_CONNECTING = 1, SC_OPEN = 2, SC_CLOSING = 3 };
enum { ACK_AUTO = 0, ACK_CLIENT = 1, ACK_INDIV = 2 };
enum { SL_IDLE = 0, SL_GETTING = 1, SL_HELD = 2, SL_SETTLING = 3 };

struct stompgw {
	struct qsgd *d;
	uv_tcp_t listener;
	struct stream_set set;
	struct sconn *conns;
	size_t nlive;
	unsigned nclosed; /* listener + set (3 handles) */
	bool closing;
	size_t max_body;
	unsigned max_prefetch;
	uint64_t serial;
};

/* An asynchronous operation of a frame (SEND, ACK, COMMIT ...): the
 * connection's input waits for it (c->busy) and its receipt follows it. */
struct sop {
	struct sop *next, *prev; /* c->ops */
	struct sconn *c;
	char receipt[STOMP_ID_MAX + 1];
	bool has_receipt;
	unsigned left; /* parts not done */
	int rc; /* the first failure */
	char text[256];
	char what[64]; /* for the ERROR: "SEND to /queue/Q" */
	struct stx *tx; /* COMMIT / ABORT */
};

struct ssub;
/* One message a subscription may hold: a session of its own. */
struct sslot {
	struct ssub *sub;
	struct gwsess *gs;
	int state; /* SL_* */
	uint64_t ack_id; /* SL_HELD: the MESSAGE's ack id */
	struct stx *tx; /* ACKed or NACKed in this transaction (not yet done) */
	bool tx_nack;
	struct sop *op; /* SL_SETTLING: the ACK/NACK/COMMIT that settles it */
};

struct ssub {
	struct ssub *next;
	struct sconn *c;
	char id[STOMP_ID_MAX + 1];
	char queue[FSM_NAME_MAX + 1];
	int ack; /* ACK_* */
	unsigned n;
	struct sslot *slots;
	bool getting; /* a slot's GET is in flight (one at a time) */
};

struct stx {
	struct stx *next;
	char name[STOMP_ID_MAX + 1];
	struct gwsess *gs;
	int rc; /* a transactional SEND failed: COMMIT fails */
	char text[256];
};

struct sconn {
	struct stream stream;
	struct stompgw *gw;
	struct sconn *next, *prev;
	uint64_t serial;
	int state; /* SC_* */
	char peer[80];
	char login[65];
	char passcode[257];
	struct gwsess *main;
	struct gwsess *spare[4];
	unsigned nspare;
	struct ssub *subs;
	struct stx *txs;
	struct sop *ops;
	unsigned busy; /* sops in flight */
	bool paused; /* reading stopped until busy drops */
	bool in_bytes; /* inside sc_bytes */
	bool has_client_id; /* CONNECT gave client-id: qsg-seq deduplicates */
	bool out_held; /* output over SC_OUT_MAX: no deliveries, no input */
	uint64_t next_ack;
	uv_timer_t hb;
	unsigned hb_out, hb_in; /* ms, 0 = none */
	uint64_t last_in, last_out;
	unsigned nclosed; /* stream + hb timer */
};

/* stompops.c: the connection's state, writers and errors */
void sc_out_done(struct sconn *c);
void sc_resume(struct sconn *c);
void sc_maybe_free(struct sconn *c);
void sc_sess_lost(void *arg, int rc, const char *text);
void sc_timer_arm(struct sconn *c);
bool sc_out_full(const struct sconn *c);
void sc_hold_output(struct sconn *c);
void sc_receipt(struct sconn *c, const char *receipt);
void sc_error(struct sconn *c, const char *receipt, const char *message, const char *detail);
void sc_error_rc(struct sconn *c, const char *receipt, const char *what, int rc, const char *text);
void sc_shutdown(struct sconn *c, bool after_write);
struct sop *sop_new(struct sconn *c, const struct stomp_frame *f);
void sop_fail(struct sop *o, int rc, const char *text);
void sop_part_done(struct sop *o);
struct gwsess *sc_sess(struct sconn *c);
void sc_sess_done(struct sconn *c, struct gwsess *g);
void stompgw_maybe_free(struct stompgw *gw);

/* stompops.c: the frames */
void on_send(struct sconn *c, const struct stomp_frame *f);
void on_subscribe(struct sconn *c, const struct stomp_frame *f);
void on_unsubscribe(struct sconn *c, const struct stomp_frame *f);
void on_ack(struct sconn *c, const struct stomp_frame *f, bool nack);
void on_begin(struct sconn *c, const struct stomp_frame *f);
void on_commit(struct sconn *c, const struct stomp_frame *f);
void on_abort(struct sconn *c, const struct stomp_frame *f);
void sub_close_all(struct sconn *c);
void tx_close_all(struct sconn *c);

#endif
