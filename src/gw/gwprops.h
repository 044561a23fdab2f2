/* Gateway message properties: how the headers of a STOMP frame (and the
 * application-properties of an AMQP message, next) are kept in a message's
 * properties area (struct fsm_msg props), and read back on delivery.
 * Format 1: u8 version (1), then entries to the end, each u16 name length
 * (1..GWPROPS_NAME_MAX), name, u32 value length (<= the rest), value.
 * Bytes are opaque (no NUL inside names: refused). A props area that is not
 * format 1 (a libqsg application's own bytes) is delivered without
 * properties. Pure; no allocation but the caller's buffer. */
#ifndef QSG_GWPROPS_H
#define QSG_GWPROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"

#define GWPROPS_VERSION 1
#define GWPROPS_NAME_MAX 1024

/* Start (the version byte) and add one property. */
void gwprops_begin(struct qsg_wbuf *w);
void gwprops_add(struct qsg_wbuf *w, const char *name, size_t name_len, const void *value,
		 size_t value_len);

/* Walk a props area: *pos starts at 0. Returns 1 with one property, 0 at
 * the end, -1 when the area is not format 1 or is malformed (stop). */
int gwprops_next(const uint8_t *p, size_t len, size_t *pos, struct qsg_slice *name,
		 struct qsg_slice *value);

#endif
