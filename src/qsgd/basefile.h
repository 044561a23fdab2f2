/* Base files of delta snapshots (docs/storage.md "A base and deltas",
 * built in session 15): the full snapshot of the state at raft index B,
 * kept by one member in DIR/base-<B>.qsb so that its later snapshots can be
 * deltas against it (snapshot format 12, docs/protocol.md). Member-local:
 * two members' bases differ. Blocking file I/O: the thread pool, or
 * startup (never the loop).
 *
 * Format (version 1, little-endian): "QSGBASE1", u32 version 1, u32 block
 * size (1 MiB), u64 index, u64 payload length, u32 nblocks; the payload
 * (a full snapshot, format 8 or later); nblocks x u32 CRC32C of each block
 * of the payload; u32 CRC32C of everything before it. The reference a delta
 * names (struct fsm_baseref) is (index, file size, that last CRC). */
#ifndef QSG_QSGD_BASEFILE_H
#define QSG_QSGD_BASEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "fsm/fsm.h"

#define BASEFILE_BLOCK (1u << 20)
#define BASEFILE_HDR 36

/* DIR/base-<index>.qsb, into path (size bytes). */
void basefile_path(char *path, size_t size, const char *dir, uint64_t index);
/* Write payload to DIR/base-<index>.qsb (a temporary name, fdatasync,
 * rename, directory fsync) and fill *ref. QSG_OK or QSG_RC_IO. */
int basefile_write(const char *dir, uint64_t index, const void *payload, size_t len,
		   struct fsm_baseref *ref, char *errmsg);
/* Check that the bytes of a whole base file are the one ref names and
 * intact (every block's CRC); *payload and *len: the snapshot inside. */
int basefile_check(const void *file, size_t flen, const struct fsm_baseref *ref,
		   const void **payload, size_t *len, char *errmsg);
/* Read and check the base file ref names: *file is malloc'd (the caller
 * frees it), *payload points into it. QSG_RC_UNKNOWN_OBJECT: no such file
 * (this member lacks that base); QSG_RC_IO or QSG_RC_BAD_FRAME otherwise. */
int basefile_read(const char *dir, const struct fsm_baseref *ref, void **file, const void **payload,
		  size_t *len, char *errmsg);
/* Delete every base file of DIR but those of keep1 and keep2 (0: none). */
void basefile_prune(const char *dir, uint64_t keep1, uint64_t keep2);

#endif
