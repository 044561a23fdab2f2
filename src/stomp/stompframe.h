/* STOMP 1.2 frames (https://stomp.github.io/stomp-specification-1.2.html):
 * a pure parser and writer, no I/O (the gateway, src/gw/stomp.c, feeds it
 * bytes). Frame: COMMAND EOL, header lines "name:value" EOL, EOL, body,
 * NUL; EOL is LF or CR LF. Headers are escaped (\r \n \c \\; any other
 * escape is an error) except in CONNECT and CONNECTED frames. The body is
 * content-length bytes when that header is given (the first one counts, as
 * for every repeated header), else up to the first NUL. EOLs between frames
 * are heart-beats.
 *
 * Every length is checked: at most STOMP_MAX_HEADERS headers in at most
 * STOMP_MAX_HEAD bytes (command line included), a body of at most the
 * caller's max_body bytes, a valid content-length. */
#ifndef QSG_STOMPFRAME_H
#define QSG_STOMPFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/qsg_err.h"

#define STOMP_MAX_HEADERS 64
#define STOMP_MAX_HEAD 16384 /* command and header lines */

enum stomp_cmd {
	STOMP_NONE = 0, /* heart-beat EOLs only */
	STOMP_CONNECT,
	STOMP_STOMP,
	STOMP_SEND,
	STOMP_SUBSCRIBE,
	STOMP_UNSUBSCRIBE,
	STOMP_ACK,
	STOMP_NACK,
	STOMP_BEGIN,
	STOMP_COMMIT,
	STOMP_ABORT,
	STOMP_DISCONNECT,
	STOMP_CONNECTED,
	STOMP_MESSAGE,
	STOMP_RECEIPT,
	STOMP_ERROR,
};

struct stomp_header {
	const char *name; /* NUL-terminated, unescaped */
	const char *value;
	size_t value_len; /* no NUL inside (refused) */
};

struct stomp_frame {
	int cmd; /* enum stomp_cmd */
	unsigned nheaders;
	struct stomp_header h[STOMP_MAX_HEADERS];
	const uint8_t *body;
	size_t body_len;
};

/* Parse one frame at p (avail bytes; p is modified in place: headers are
 * unescaped and NUL-terminated there, so pointers in f point into p).
 * Returns QSG_OK with *used = the bytes consumed (the frame, or the
 * heart-beat EOLs before it when f->cmd = STOMP_NONE), QSG_OK with *used = 0
 * when more bytes are needed, or QSG_RC_BAD_FRAME / QSG_RC_FRAME_TOO_LARGE
 * with the reason in errmsg (the connection cannot go on). */
int stomp_parse(uint8_t *p, size_t avail, size_t max_body, struct stomp_frame *f, size_t *used,
		char *errmsg);

/* The first header of that name, or NULL. */
const char *stomp_get(const struct stomp_frame *f, const char *name);
const char *stomp_cmd_name(int cmd);

/* Writing: begin appends the command line; header appends one escaped
 * header (not escaped for CONNECTED); end appends content-length (always),
 * the blank line, the body and NUL. */
void stomp_begin(struct qsg_wbuf *w, int cmd);
void stomp_header(struct qsg_wbuf *w, int cmd, const char *name, const char *value,
		  size_t value_len);
void stomp_headerz(struct qsg_wbuf *w, int cmd, const char *name, const char *value);
void stomp_end(struct qsg_wbuf *w, const uint8_t *body, size_t body_len);

#endif
