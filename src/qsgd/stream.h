/* A framed protocol connection over libuv TCP, used for client connections
 * (server.c) and for the forwarding connection to the leader (forward.c).
 *
 * Input: bytes accumulate in a per-stream buffer and every complete frame
 * (proto_frame_check) is handed to on_frame. Output: frames are appended to
 * `out` and written once per loop iteration by the owning stream_set (a
 * uv_check handle), one uv_write per stream; `out` and the buffer being
 * written are swapped (double buffering), so the bytes of a write stay alive
 * until its callback.
 *
 * TLS (tlsstream.h): a stream with `tls` set runs its bytes through the TLS
 * engine; one with `tls_detect` set (an accepted connection on a listener
 * whose [tls] mode is optional) becomes a TLS stream when its first bytes
 * are a TLS record, else stays plaintext. */
#ifndef QSGD_STREAM_H
#define QSGD_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/codec.h"

struct stream;
struct stream_set;
struct tlsstream;
struct tlsstream_cfg;

struct stream_ops {
	/* One complete frame (header included); p valid during the call. */
	void (*on_frame)(struct stream *s, const uint8_t *p, size_t len);
	/* The peer closed, a read/write failed, or the framing is broken (rc is
	 * QSG_RC_FRAME_TOO_LARGE/BAD_FRAME; the frame header's reqid, if any, is
	 * in reqid). The stream is not closed by itself: the owner decides. */
	void (*on_error)(struct stream *s, int rc, uint32_t reqid);
	/* After stream_close, when libuv released the handle: free memory here. */
	void (*on_closed)(struct stream *s);
	/* Optional: a stream of another protocol (the STOMP gateway). When
	 * set, on_frame is not used: the whole input (plaintext, mutable) is
	 * handed over and the return value is how many bytes were consumed;
	 * the rest is kept for the next call (stream_replay, or more input). */
	size_t (*on_bytes)(struct stream *s, uint8_t *p, size_t len);
};

struct stream {
	uv_tcp_t tcp;
	struct stream_set *set;
	const struct stream_ops *ops;
	void *data; /* owner's object */
	uint8_t *in;
	size_t in_len;
	size_t in_cap;
	struct qsg_wbuf out; /* frames not yet written */
	struct qsg_wbuf writing; /* the write in flight */
	uv_write_t wreq;
	bool write_inflight;
	bool reading;
	bool closing;
	bool draining; /* close once the pending output is written */
	bool dirty;
	struct stream *dirty_next;
	struct tlsstream *tls; /* NULL: plaintext */
	struct tlsstream_cfg *tls_detect; /* TLS or plaintext: told by the first bytes */
};

/* A set of streams flushed together from one uv_check handle. */
struct stream_set {
	uv_loop_t *loop;
	uv_check_t check;
	uv_idle_t idle; /* active while streams are dirty */
	struct stream *dirty;
	unsigned nclosed;
	void (*on_closed)(struct stream_set *set);
	void *data;
};

void stream_set_init(struct stream_set *set, uv_loop_t *loop);
/* Close the set's handles (its streams must be closed separately). */
void stream_set_close(struct stream_set *set, void (*on_closed)(struct stream_set *set));

/* Initialise a stream whose tcp handle is already uv_tcp_init'ed. */
void stream_init(struct stream *s, struct stream_set *set, const struct stream_ops *ops,
		 void *data);
int stream_start(struct stream *s);
/* Mark the stream for writing in this iteration (after appending to out). */
void stream_mark(struct stream *s);
/* on_bytes streams: stop or start reading from the socket (back-pressure),
 * and hand the input kept so far to on_bytes again. */
void stream_pause(struct stream *s, bool pause);
void stream_replay(struct stream *s);
/* Close the socket (pending output is dropped); on_closed follows. */
void stream_close(struct stream *s);
/* Stop reading, write what is pending, then close (reply-then-close). */
void stream_close_after_write(struct stream *s);

#endif
