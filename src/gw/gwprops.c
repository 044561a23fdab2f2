#include "gwprops.h"

#include <string.h>

void gwprops_begin(struct qsg_wbuf *w)
{
	qsg_put_u8(w, GWPROPS_VERSION);
}

void gwprops_add(struct qsg_wbuf *w, const char *name, size_t name_len, const void *value,
		 size_t value_len)
{
	qsg_put_u16(w, (uint16_t)name_len);
	qsg_put_bytes(w, name, name_len);
	qsg_put_u32(w, (uint32_t)value_len);
	qsg_put_bytes(w, value, value_len);
}

int gwprops_next(const uint8_t *p, size_t len, size_t *pos, struct qsg_slice *name,
		 struct qsg_slice *value)
{
	size_t i = *pos;
	if (i == 0) {
		if (len == 0)
			return 0;
		if (p[0] != GWPROPS_VERSION)
			return -1;
		i = 1;
	}
	if (i == len)
		return 0;
	if (len - i < 2)
		return -1;
	size_t n = (size_t)p[i] | (size_t)p[i + 1] << 8;
	i += 2;
	if (n == 0 || n > GWPROPS_NAME_MAX || len - i < n || memchr(p + i, '\0', n) != NULL)
		return -1;
	name->p = p + i;
	name->len = n;
	i += n;
	if (len - i < 4)
		return -1;
	size_t v =
	    (size_t)p[i] | (size_t)p[i + 1] << 8 | (size_t)p[i + 2] << 16 | (size_t)p[i + 3] << 24;
	i += 4;
	if (len - i < v)
		return -1;
	value->p = p + i;
	value->len = v;
	*pos = i + v;
	return 1;
}
