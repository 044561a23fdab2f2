#include "stompframe.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/qsg_err.h"

static const char *const cmd_names[] = {
    [STOMP_NONE] = "",
    [STOMP_CONNECT] = "CONNECT",
    [STOMP_STOMP] = "STOMP",
    [STOMP_SEND] = "SEND",
    [STOMP_SUBSCRIBE] = "SUBSCRIBE",
    [STOMP_UNSUBSCRIBE] = "UNSUBSCRIBE",
    [STOMP_ACK] = "ACK",
    [STOMP_NACK] = "NACK",
    [STOMP_BEGIN] = "BEGIN",
    [STOMP_COMMIT] = "COMMIT",
    [STOMP_ABORT] = "ABORT",
    [STOMP_DISCONNECT] = "DISCONNECT",
    [STOMP_CONNECTED] = "CONNECTED",
    [STOMP_MESSAGE] = "MESSAGE",
    [STOMP_RECEIPT] = "RECEIPT",
    [STOMP_ERROR] = "ERROR",
};

#define NCMDS ((int)(sizeof cmd_names / sizeof cmd_names[0]))

const char *stomp_cmd_name(int cmd)
{
	return cmd >= 0 && cmd < NCMDS ? cmd_names[cmd] : "?";
}

static int cmd_of(const uint8_t *p, size_t n)
{
	for (int i = 1; i < NCMDS; i++)
		if (strlen(cmd_names[i]) == n && memcmp(cmd_names[i], p, n) == 0)
			return i;
	return STOMP_NONE;
}

/* Unescape [p, p + n) in place (STOMP 1.2 "Value Encoding"); returns the
 * new length or -1 for an undefined escape or a lone backslash at the end. */
static long unescape(uint8_t *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\\') {
			p[o++] = p[i];
			continue;
		}
		if (++i == n)
			return -1;
		switch (p[i]) {
		case 'r':
			p[o++] = '\r';
			break;
		case 'n':
			p[o++] = '\n';
			break;
		case 'c':
			p[o++] = ':';
			break;
		case '\\':
			p[o++] = '\\';
			break;
		default:
			return -1;
		}
	}
	return (long)o;
}

/* content-length: decimal digits only, at most max. */
static int parse_length(const uint8_t *p, size_t n, size_t max, size_t *out)
{
	size_t v = 0;
	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (size_t)(p[i] - '0');
	}
	if (v > max)
		return 1;
	*out = v;
	return 0;
}

/* One raw header line, before unescaping. */
struct rawh {
	size_t name, name_len, value, value_len;
};

int stomp_parse(uint8_t *p, size_t avail, size_t max_body, struct stomp_frame *f, size_t *used,
		char *errmsg)
{
	struct rawh raw[STOMP_MAX_HEADERS];
	size_t pos = 0;

	memset(f, 0, sizeof *f);
	*used = 0;
	/* Heart-beats: EOLs before a command. */
	while (pos < avail && (p[pos] == '\n' || p[pos] == '\r')) {
		if (p[pos] == '\r') {
			if (pos + 1 == avail)
				break; /* the LF may follow */
			if (p[pos + 1] != '\n')
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CR without LF");
			pos++;
		}
		pos++;
	}
	if (pos > 0) {
		*used = pos;
		f->cmd = STOMP_NONE;
		return QSG_OK;
	}
	/* Command and header lines up to the blank line. */
	size_t line = 0, cmd_len = 0, head_end = 0;
	unsigned nh = 0;
	int cmd = STOMP_NONE;
	for (size_t i = 0;; i++) {
		if (i >= avail || i > STOMP_MAX_HEAD) {
			if (i > STOMP_MAX_HEAD)
				return qsg_errf(errmsg, QSG_RC_FRAME_TOO_LARGE,
						"command and headers over %d bytes",
						STOMP_MAX_HEAD);
			return QSG_OK; /* more bytes needed */
		}
		if (p[i] == '\0')
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "NUL byte in the headers");
		if (p[i] != '\n')
			continue;
		size_t end = i; /* the line is [line, end) */
		if (end > line && p[end - 1] == '\r')
			end--;
		for (size_t k = line; k < end; k++)
			if (p[k] == '\r')
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "CR inside a line");
		if (cmd == STOMP_NONE) {
			cmd_len = end - line;
			cmd = cmd_of(p + line, cmd_len);
			if (cmd == STOMP_NONE)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "unknown command '%.*s'",
						(int)(cmd_len > 20 ? 20 : cmd_len),
						(const char *)p);
		} else if (end == line) {
			head_end = i + 1;
			break;
		} else {
			if (nh == STOMP_MAX_HEADERS)
				return qsg_errf(errmsg, QSG_RC_FRAME_TOO_LARGE,
						"more than %d headers", STOMP_MAX_HEADERS);
			const uint8_t *colon = memchr(p + line, ':', end - line);
			if (colon == NULL)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"header line without ':'");
			if (colon == p + line)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "empty header name");
			raw[nh].name = line;
			raw[nh].name_len = (size_t)(colon - p) - line;
			raw[nh].value = (size_t)(colon - p) + 1;
			raw[nh].value_len = end - raw[nh].value;
			nh++;
		}
		line = i + 1;
	}
	/* The body. */
	size_t body_len = 0, frame_end;
	bool have_cl = false;
	for (unsigned k = 0; k < nh; k++) {
		if (raw[k].name_len == 14 && memcmp(p + raw[k].name, "content-length", 14) == 0) {
			int r =
			    parse_length(p + raw[k].value, raw[k].value_len, max_body, &body_len);
			if (r < 0)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "bad content-length");
			if (r > 0)
				return qsg_errf(errmsg, QSG_RC_FRAME_TOO_LARGE,
						"content-length over %zu", max_body);
			have_cl = true;
			break;
		}
	}
	if (have_cl) {
		if (avail - head_end < body_len + 1)
			return QSG_OK;
		if (p[head_end + body_len] != '\0')
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"no NUL after content-length bytes of body");
		frame_end = head_end + body_len + 1;
	} else {
		size_t look = avail - head_end;
		if (look > max_body + 1)
			look = max_body + 1;
		const uint8_t *nul = memchr(p + head_end, '\0', look);
		if (nul == NULL) {
			if (avail - head_end > max_body)
				return qsg_errf(errmsg, QSG_RC_FRAME_TOO_LARGE,
						"body over %zu bytes", max_body);
			return QSG_OK;
		}
		body_len = (size_t)(nul - (p + head_end));
		frame_end = head_end + body_len + 1;
	}
	/* Complete: unescape and terminate the headers in place. */
	bool escaped = cmd != STOMP_CONNECT && cmd != STOMP_CONNECTED;
	for (unsigned k = 0; k < nh; k++) {
		long n = (long)raw[k].name_len, v = (long)raw[k].value_len;
		if (escaped) {
			n = unescape(p + raw[k].name, raw[k].name_len);
			v = unescape(p + raw[k].value, raw[k].value_len);
			if (n < 0 || v < 0)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
						"undefined escape sequence in a header");
			if (n == 0)
				return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "empty header name");
		}
		/* Both shrink or stay: the name ends before its ':', the value
		 * before its EOL, so there is room for the NULs. */
		p[raw[k].name + (size_t)n] = '\0';
		p[raw[k].value + (size_t)v] = '\0';
		f->h[k].name = (const char *)p + raw[k].name;
		f->h[k].value = (const char *)p + raw[k].value;
		f->h[k].value_len = (size_t)v;
		if (memchr(f->h[k].name, '\0', (size_t)n) != NULL ||
		    memchr(f->h[k].value, '\0', (size_t)v) != NULL)
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "NUL in a header");
	}
	f->cmd = cmd;
	f->nheaders = nh;
	f->body = p + head_end;
	f->body_len = body_len;
	*used = frame_end;
	return QSG_OK;
}

const char *stomp_get(const struct stomp_frame *f, const char *name)
{
	for (unsigned i = 0; i < f->nheaders; i++)
		if (strcmp(f->h[i].name, name) == 0)
			return f->h[i].value;
	return NULL;
}

void stomp_begin(struct qsg_wbuf *w, int cmd)
{
	const char *n = stomp_cmd_name(cmd);
	qsg_put_bytes(w, n, strlen(n));
	qsg_put_u8(w, '\n');
}

static void put_escaped(struct qsg_wbuf *w, const char *s, size_t n, bool escape)
{
	if (!escape) {
		qsg_put_bytes(w, s, n);
		return;
	}
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = NULL;
		switch (s[i]) {
		case '\r':
			e = "\\r";
			break;
		case '\n':
			e = "\\n";
			break;
		case ':':
			e = "\\c";
			break;
		case '\\':
			e = "\\\\";
			break;
		default:
			continue;
		}
		qsg_put_bytes(w, s + start, i - start);
		qsg_put_bytes(w, e, 2);
		start = i + 1;
	}
	qsg_put_bytes(w, s + start, n - start);
}

void stomp_header(struct qsg_wbuf *w, int cmd, const char *name, const char *value,
		  size_t value_len)
{
	bool esc = cmd != STOMP_CONNECTED && cmd != STOMP_CONNECT;
	put_escaped(w, name, strlen(name), esc);
	qsg_put_u8(w, ':');
	put_escaped(w, value, value_len, esc);
	qsg_put_u8(w, '\n');
}

void stomp_headerz(struct qsg_wbuf *w, int cmd, const char *name, const char *value)
{
	stomp_header(w, cmd, name, value, strlen(value));
}

void stomp_end(struct qsg_wbuf *w, const uint8_t *body, size_t body_len)
{
	char n[32];
	int k = snprintf(n, sizeof n, "content-length:%zu\n\n", body_len);
	qsg_put_bytes(w, n, (size_t)k);
	qsg_put_bytes(w, body, body_len);
	qsg_put_u8(w, '\0');
}
