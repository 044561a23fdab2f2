/* libFuzzer target: the client protocol decoders must reject any input
 * with a reason code, never crash or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[QSG_ERRMSG_SIZE];
	size_t flen = 0;
	(void)proto_frame_check(data, size, &flen);
	struct proto_req req;
	if (proto_req_decode(data, size, &req, msg) == QSG_OK && req.op == PROTO_HELLO) {
		/* An accepted HELLO (with or without credentials) encodes back
		 * to the same bytes, but for the header's reserved flags (bytes
		 * 6-7, ignored by decoders and written 0): nothing is lost or
		 * invented. */
		struct qsg_wbuf w;
		qsg_wbuf_init(&w);
		if (proto_req_encode(&req, &w) != QSG_OK || w.len != size ||
		    size < PROTO_HDR_SIZE || memcmp(w.data, data, 6) != 0 ||
		    memcmp(w.data + 8, data + 8, size - 8) != 0)
			__builtin_trap();
		qsg_wbuf_close(&w);
	}
	if (proto_req_decode(data, size, &req, msg) == QSG_OK && req.op == PROTO_FETCH) {
		/* Every seqno of an accepted FETCH is readable, and the request
		 * encodes again (raw seqnos). */
		uint64_t sum = 0;
		for (uint32_t i = 0; i < req.u.fetch.count; i++)
			sum += proto_fetch_seqno(&req, i);
		(void)sum;
		struct qsg_wbuf w;
		qsg_wbuf_init(&w);
		if (proto_req_encode(&req, &w) != QSG_OK)
			__builtin_trap();
		qsg_wbuf_close(&w);
	}
	struct proto_resp resp;
	if (proto_resp_decode(data, size, &resp, msg) == QSG_OK && resp.rc == QSG_OK) {
		if (resp.op == PROTO_ADMIN) {
			struct proto_attr attrs[4];
			size_t cur = 0, n;
			while (proto_admin_next(&resp, &cur, attrs, 4, &n) == 1)
				;
		} else if (resp.op == PROTO_FETCH) {
			/* An accepted response walks to its end without error and
			 * re-encodes through the writer. */
			struct proto_fetch_item it;
			struct proto_fetch_writer fw;
			size_t cur = 0;
			uint32_t n = 0;
			int rc;
			proto_fetch_writer_init(&fw);
			while ((rc = proto_fetch_next(&resp, &cur, &it)) == 1) {
				n++;
				(void)proto_fetch_add(&fw, &it);
			}
			if (rc != 0 || n != resp.u.fetch.count)
				__builtin_trap();
			proto_fetch_writer_close(&fw);
		}
	}
	return 0;
}
