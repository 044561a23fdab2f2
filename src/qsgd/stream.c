#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "common/qsg_err.h"
#include "proto/proto.h"
#include "tlsstream.h"

#define READ_CHUNK (64 * 1024)

static void flush_one(struct stream *s);

static void idle_cb(uv_idle_t *h)
{
	(void)h; /* only keeps the loop from blocking in poll */
}

static void check_cb(uv_check_t *h)
{
	struct stream_set *set = h->data;
	struct stream *s;
	while ((s = set->dirty) != NULL) {
		set->dirty = s->dirty_next;
		s->dirty = false;
		s->dirty_next = NULL;
		flush_one(s);
	}
	uv_idle_stop(&set->idle);
}

void stream_set_init(struct stream_set *set, uv_loop_t *loop)
{
	memset(set, 0, sizeof *set);
	set->loop = loop;
	uv_check_init(loop, &set->check);
	uv_idle_init(loop, &set->idle);
	set->check.data = set;
	set->idle.data = set;
	uv_check_start(&set->check, check_cb);
}

static void set_closed_cb(uv_handle_t *h)
{
	struct stream_set *set = h->data;
	if (++set->nclosed == 2 && set->on_closed != NULL)
		set->on_closed(set);
}

void stream_set_close(struct stream_set *set, void (*on_closed)(struct stream_set *set))
{
	set->on_closed = on_closed;
	set->dirty = NULL;
	uv_close((uv_handle_t *)&set->check, set_closed_cb);
	uv_close((uv_handle_t *)&set->idle, set_closed_cb);
}

void stream_init(struct stream *s, struct stream_set *set, const struct stream_ops *ops, void *data)
{
	s->set = set;
	s->ops = ops;
	s->data = data;
	s->tcp.data = s;
	s->in = NULL;
	s->in_len = 0;
	s->in_cap = 0;
	qsg_wbuf_init(&s->out);
	qsg_wbuf_init(&s->writing);
	s->write_inflight = false;
	s->reading = false;
	s->closing = false;
	s->draining = false;
	s->dirty = false;
	s->dirty_next = NULL;
	s->tls = NULL;
	s->tls_detect = NULL;
}

/* Room for at least READ_CHUNK more bytes of input (or the rest of the
 * frame whose header is there). */
static bool reserve_in(struct stream *s)
{
	size_t want = READ_CHUNK;
	/* If a frame header is there, make room for the whole frame at once. */
	if (s->in_len >= 4 && s->ops->on_bytes == NULL) {
		size_t flen = (size_t)qsg_le32(s->in) + 4;
		if (flen <= PROTO_MAX_FRAME + 4 && flen > s->in_len && flen - s->in_len > want)
			want = flen - s->in_len;
	}
	if (s->in_cap - s->in_len < want) {
		size_t cap = s->in_len + want;
		uint8_t *p = realloc(s->in, cap);
		if (p == NULL)
			return false;
		s->in = p;
		s->in_cap = cap;
	}
	return true;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct stream *s = h->data;
	(void)suggested;
	if (s->tls != NULL) {
		tlsstream_read_buf(s, &buf->base, &buf->len);
		return;
	}
	if (!reserve_in(s)) {
		buf->base = NULL;
		buf->len = 0;
		return;
	}
	buf->base = (char *)s->in + s->in_len;
	buf->len = s->in_cap - s->in_len;
}

/* Ciphertext in, its plaintext appended to s->in. */
static int tls_in(struct stream *s, const void *cipher, size_t n)
{
	bool flush = false;
	int rc = tlsstream_input(s, cipher, n, &flush);
	if (rc != QSG_OK)
		return rc;
	if (flush)
		stream_mark(s);
	for (;;) {
		if (!reserve_in(s))
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		size_t got = 0;
		tlsstream_read(s, s->in + s->in_len, s->in_cap - s->in_len, &got);
		if (got == 0)
			return QSG_OK;
		s->in_len += got;
	}
}

static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct stream *s = h->data;
	(void)buf;
	if (s->closing || s->draining)
		return;
	if (nread == UV_ENOBUFS) {
		s->ops->on_error(s, QSG_RC_STORAGE_NOT_AVAILABLE, 0);
		return;
	}
	if (nread < 0) {
		s->ops->on_error(s, nread == UV_EOF ? QSG_RC_CONNECTION_BROKEN : QSG_RC_IO, 0);
		return;
	}
	if (s->tls != NULL) {
		int rc = tls_in(s, buf->base, (size_t)nread);
		if (rc != QSG_OK) {
			s->ops->on_error(s, rc, 0);
			return;
		}
	} else
		s->in_len += (size_t)nread;
	if (s->tls_detect != NULL) {
		bool need = false;
		if (tlsstream_looks_tls(s->in, s->in_len, &need)) {
			struct tlsstream_cfg *t = s->tls_detect;
			size_t n = s->in_len;
			s->tls_detect = NULL;
			s->in_len = 0;
			int rc = tlsstream_attach(s, t, TLS_SERVER, NULL);
			if (rc == QSG_OK)
				rc = tls_in(s, s->in, n);
			if (rc != QSG_OK) {
				s->ops->on_error(s, QSG_RC_TLS_FAILED, 0);
				return;
			}
		} else if (need)
			return; /* fewer than 3 bytes yet */
		else
			s->tls_detect = NULL; /* plaintext */
	}
	if (s->ops->on_bytes != NULL) {
		stream_replay(s);
		return;
	}
	size_t off = 0;
	while (!s->closing && !s->draining && off < s->in_len) {
		size_t flen = 0;
		int rc = proto_frame_check(s->in + off, s->in_len - off, &flen);
		if (rc != QSG_OK) {
			uint32_t reqid = 0;
			if (s->in_len - off >= PROTO_HDR_SIZE)
				reqid = qsg_le32(s->in + off + 8);
			s->ops->on_error(s, rc, reqid);
			return;
		}
		if (flen == 0)
			break;
		s->ops->on_frame(s, s->in + off, flen);
		off += flen;
	}
	if (s->closing)
		return;
	if (off > 0) {
		memmove(s->in, s->in + off, s->in_len - off);
		s->in_len -= off;
	}
	/* Give back memory after a large frame. */
	if (s->in_len == 0 && s->in_cap > 4 * READ_CHUNK) {
		free(s->in);
		s->in = NULL;
		s->in_cap = 0;
	}
}

void stream_replay(struct stream *s)
{
	if (s->closing || s->draining || s->in_len == 0)
		return;
	size_t off = s->ops->on_bytes(s, s->in, s->in_len);
	if (s->closing || off == 0)
		return;
	memmove(s->in, s->in + off, s->in_len - off);
	s->in_len -= off;
	if (s->in_len == 0 && s->in_cap > 4 * READ_CHUNK) {
		free(s->in);
		s->in = NULL;
		s->in_cap = 0;
	}
}

void stream_pause(struct stream *s, bool pause)
{
	if (s->closing || s->draining || pause != s->reading)
		return;
	if (pause) {
		uv_read_stop((uv_stream_t *)&s->tcp);
		s->reading = false;
	} else if (uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb) == 0) {
		s->reading = true;
	}
}

int stream_start(struct stream *s)
{
	uv_tcp_nodelay(&s->tcp, 1);
	int rv = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
	if (rv != 0)
		return QSG_RC_IO;
	s->reading = true;
	return QSG_OK;
}

static void write_cb(uv_write_t *req, int status)
{
	struct stream *s = req->data;
	s->write_inflight = false;
	qsg_wbuf_reset(&s->writing);
	if (s->closing)
		return;
	if (status != 0) {
		s->ops->on_error(s, QSG_RC_IO, 0);
		return;
	}
	if (s->out.len > 0 || s->draining)
		stream_mark(s);
}

static void flush_one(struct stream *s)
{
	if (s->closing || s->write_inflight)
		return;
	if (s->tls != NULL) {
		if (s->out.err == QSG_OK && tlsstream_output(s) != QSG_OK) {
			s->ops->on_error(s, QSG_RC_TLS_FAILED, 0);
			return;
		}
		if (s->writing.len == 0) {
			if (s->draining && (s->out.len == 0 || !tlsstream_open(s)))
				stream_close(s);
			else if (s->out.err != QSG_OK)
				s->ops->on_error(s, s->out.err, 0);
			return;
		}
		goto write;
	}
	if (s->out.len == 0) {
		if (s->draining)
			stream_close(s);
		return;
	}
	if (s->out.err != QSG_OK) {
		s->ops->on_error(s, s->out.err, 0);
		return;
	}
	/* Swap: out becomes the in-flight buffer, the old one is reused. */
	struct qsg_wbuf tmp = s->writing;
	s->writing = s->out;
	s->out = tmp;
	qsg_wbuf_reset(&s->out);
write:;
	uv_buf_t b = uv_buf_init((char *)s->writing.data, (unsigned)s->writing.len);
	s->wreq.data = s;
	int rv = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, write_cb);
	if (rv != 0) {
		qsg_wbuf_reset(&s->writing);
		s->ops->on_error(s, QSG_RC_IO, 0);
		return;
	}
	s->write_inflight = true;
}

void stream_mark(struct stream *s)
{
	if (s->closing || s->dirty)
		return;
	s->dirty = true;
	s->dirty_next = s->set->dirty;
	s->set->dirty = s;
	uv_idle_start(&s->set->idle, idle_cb);
}

static void closed_cb(uv_handle_t *h);

static void tls_freed(struct stream *s)
{
	closed_cb((uv_handle_t *)&s->tcp);
}

static void closed_cb(uv_handle_t *h)
{
	struct stream *s = h->data;
	if (s->tls != NULL) {
		tlsstream_free(s, tls_freed);
		return;
	}
	free(s->in);
	s->in = NULL;
	qsg_wbuf_close(&s->out);
	qsg_wbuf_close(&s->writing);
	s->ops->on_closed(s);
}

void stream_close(struct stream *s)
{
	if (s->closing)
		return;
	s->closing = true;
	/* Unlink from the dirty list. */
	if (s->dirty) {
		struct stream **pp = &s->set->dirty;
		while (*pp != NULL && *pp != s)
			pp = &(*pp)->dirty_next;
		if (*pp == s)
			*pp = s->dirty_next;
		s->dirty = false;
	}
	uv_close((uv_handle_t *)&s->tcp, closed_cb);
}

void stream_close_after_write(struct stream *s)
{
	if (s->closing || s->draining)
		return;
	s->draining = true;
	if (s->reading) {
		uv_read_stop((uv_stream_t *)&s->tcp);
		s->reading = false;
	}
	stream_mark(s);
}
