/* CRC32C (Castagnoli): the one checksum of qsg's own files and streams (the
 * message store's records, the snapshot stream of a fork capture). Any
 * module may use it. */
#ifndef QSG_CRC32C_H
#define QSG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC32C over p[0..len) (start with crc = 0).
 * qsg_crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t qsg_crc32c(uint32_t crc, const void *p, size_t len);

#endif
