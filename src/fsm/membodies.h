/* The built-in body provider of the state machine: message content in
 * memory, a map seqno -> malloc'd props||body (with lengths and crc). It is
 * what fsm_init installs (used by the tests, the simulator and any fsm
 * without fsm_set_bodies) and the fake the storage design asks for
 * (docs/storage.md). Callers: fsm.c (lifecycle, fsm_bodies_mem_peer) only;
 * the state machine reaches it through struct fsm_bodies.
 *
 * Peers: providers linked into one ring stand in for the catch-up protocol.
 * A claim of a seqno not held copies it from a peer that holds it (same
 * lengths and crc), else marks it missing; a read of a missing (or unknown)
 * seqno asks the peers again, else fails with QSG_RC_IO. Released content
 * is kept in a bounded graveyard that peers read (MEMBODIES_GRAVE_MAX entries
 * and MEMBODIES_GRAVE_BYTES, oldest first out; only while the provider is
 * in a ring), as the real store keeps released records until the snapshot
 * that no longer names them is stable: a member installing an older
 * snapshot can still fetch content its peers have since consumed.
 *
 * Alone (the daemon until it installs its message store), a claim of
 * content it does not hold stays missing: a restart that restores a
 * snapshot cannot read the messages in it. */
#ifndef QSG_FSM_MEMBODIES_H
#define QSG_FSM_MEMBODIES_H

#include <stdint.h>

#include "fsm.h"

#define MEMBODIES_GRAVE_MAX 65536
#define MEMBODIES_GRAVE_BYTES (64u * 1024 * 1024)

struct membodies;

/* NULL when out of memory. */
struct membodies *membodies_new(void);
/* Unlinks it from its ring and frees everything. NULL is ignored. */
void membodies_free(struct membodies *mb);
/* The callbacks, with arg = mb. */
void membodies_provider(struct membodies *mb, struct fsm_bodies *out);
/* Merge a's ring and b's ring into one (nothing if they already share
 * one, or if either is NULL). */
void membodies_link(struct membodies *a, struct membodies *b);
/* Held (not missing) seqnos, for tests. */
uint64_t membodies_count(const struct membodies *mb);
/* A provider that keeps nothing (put succeeds, reads of content fail):
 * for measuring the state machine's own memory and speed
 * (tests/unit/test_fsm_desc.c, bench/fsm_bench.c). */
void membodies_null_provider(struct fsm_bodies *out);

#endif
