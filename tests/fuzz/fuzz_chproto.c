/* libFuzzer target: the channel protocol decoders must reject any input
 * with a reason code, never crash, read out of bounds or allocate beyond
 * the MAXMSGL they are given. Every decoder sees every input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "chan/chproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAXMSGL (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[QSG_ERRMSG_SIZE];
	size_t flen = 0;
	uint32_t reqid;
	(void)proto_frame_check(data, size, &flen);
	(void)chp_frame_op(data, size, &reqid);

	struct chp_start s;
	(void)chp_start_decode(data, size, &s, msg);
	struct chp_start_resp r;
	(void)chp_start_resp_decode(data, size, &r, msg);

	struct qsg_wbuf scratch;
	qsg_wbuf_init(&scratch);
	struct chp_msg m;
	if (chp_msg_decode(data, size, &m, &scratch, FUZZ_MAXMSGL, msg) == QSG_OK) {
		if (m.msg.body.len > FUZZ_MAXMSGL || m.msg.priority > 9 || m.msg.persistent > 1)
			abort();
		/* Re-encode: the result must decode to the same message. */
		struct qsg_wbuf w;
		struct chp_msg m2;
		struct qsg_wbuf scratch2;
		qsg_wbuf_init(&w);
		qsg_wbuf_init(&scratch2);
		chp_msg_encode(&w, &m, (m.mflags & CHP_M_LZ4) != 0);
		if (w.err == QSG_OK &&
		    (chp_msg_decode(w.data, w.len, &m2, &scratch2, FUZZ_MAXMSGL, msg) != QSG_OK ||
		     m2.seq != m.seq || m2.msg.body.len != m.msg.body.len))
			abort();
		qsg_wbuf_close(&scratch2);
		qsg_wbuf_close(&w);
	}
	qsg_wbuf_close(&scratch);

	struct chp_confirm c;
	if (chp_confirm_decode(data, size, &c, msg) == QSG_OK) {
		size_t cur = 0;
		struct chp_reject rj;
		uint32_t n = 0;
		int rc;
		while ((rc = chp_reject_next(&c, &cur, &rj)) == 1)
			n++;
		if (rc != 0 || n != c.nreject)
			abort();
	}
	struct chp_end e;
	(void)chp_end_decode(data, size, &e, msg);
	return 0;
}
