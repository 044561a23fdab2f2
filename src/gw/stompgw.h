/* The STOMP 1.2 gateway (docs/protocols.md): a listener on [stomp] address
 * whose connections are served through gateway sessions (gwsess.h), so a
 * STOMP client has the guarantees of a libqsg connection. Frames are parsed
 * by src/stomp/stompframe.c. TLS as the client listener ([tls]). */
#ifndef QSG_STOMPGW_H
#define QSG_STOMPGW_H

struct qsgd;
struct stompgw;

/* Listen on d->cfg->stomp. */
int stompgw_init(struct stompgw **out, struct qsgd *d, char *errmsg);
/* Close the listener and every connection (their sessions are detached);
 * memory is freed once libuv lets go of the handles. NULL is allowed. */
void stompgw_close(struct stompgw *gw);

#endif
