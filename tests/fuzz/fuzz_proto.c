/* libFuzzer target: the client protocol decoders must reject any input
 * with a reason code, never crash or read out of bounds. */
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[QSG_ERRMSG_SIZE];
	size_t flen = 0;
	(void)proto_frame_check(data, size, &flen);
	struct proto_req req;
	(void)proto_req_decode(data, size, &req, msg);
	struct proto_resp resp;
	if (proto_resp_decode(data, size, &resp, msg) == QSG_OK && resp.op == PROTO_ADMIN &&
	    resp.rc == QSG_OK) {
		struct proto_attr attrs[4];
		size_t cur = 0, n;
		while (proto_admin_next(&resp, &cur, attrs, 4, &n) == 1)
			;
	}
	return 0;
}
