/* The body provider's map (bodystore.c, bsrename.c; bsint.h): seqno ->
 * (location, length, crc, claimed) in one open-addressing table of 24-byte
 * slots that grows and shrinks incrementally, and the lazily sorted vector
 * of missing seqnos (the catch-up set). */
#include "bsint.h"

#include "../common/nofork.h"

#include <stdlib.h>

/* ---- the hash table ---- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static size_t home_in(size_t cap, uint64_t key)
{
	return (size_t)(((unsigned __int128)mix(key) * cap) >> 64);
}

static size_t home(const struct bodystore_map *m, uint64_t key)
{
	return home_in(m->cap, key);
}

static size_t next_slot(const struct bodystore_map *m, size_t i)
{
	return i + 1 == m->cap ? 0 : i + 1;
}

/* Place e (key not present) into v without growing. */
static struct bent *map_place(struct bodystore_map *m, const struct bent *e)
{
	size_t i;

	for (i = home(m, e->key); m->v[i].key != 0; i = next_slot(m, i))
		;
	m->v[i] = *e;
	return &m->v[i];
}

/* ---- incremental growth ----
 *
 * Growing rehashes every entry; at 3M messages that is a 100 MB table and
 * 300-400 ms on the loop, on every member at the same moment (they hold the
 * same messages), which fenced all three in bench/deep.sh. So the table
 * grows incrementally, as Redis's dict does: the new table is allocated
 * (a fresh mapping: no copy), the old one stays readable, and every
 * insert moves BSMAP_MIGRATE old slots over, from a cursor. An old slot whose
 * entry moved becomes MAP_TOMB, which probing in the old table skips (it
 * never ends a probe), so the old clusters stay intact without any
 * backward shift there. A lookup that finds its key in the old table moves
 * that entry at once, so every entry handed to a caller lives in the new
 * table, and removals and updates only ever touch the new one. The old
 * table is freed when the cursor reaches its end. Growth starts at load
 * 0.8 with a table 1.5 times larger: the next growth is at least
 * 0.4 x old capacity inserts away, and BSMAP_MIGRATE >= 3 finishes the move
 * well before. Keys never reach MAP_TOMB: part numbers stay below 2^16. */
#define MAP_TOMB UINT64_MAX

static void map_move(struct bodystore_map *m, struct bent *o)
{
	map_place(m, o);
	o->key = MAP_TOMB;
}

void bsmap_migrate(struct bodystore_map *m, size_t slots)
{
	while (m->ov != NULL && slots-- > 0) {
		struct bent *o = &m->ov[m->ocur];
		if (o->key != 0 && o->key != MAP_TOMB) {
			map_move(m, o);
		}
		if (++m->ocur == m->ocap) {
			/* Hundreds of MB at depth: a munmap of 30 ms on the loop. */
			qsg_nofork_free(m->ov, m->ocap * sizeof *m->ov);
			m->ov = NULL;
			m->ocap = 0;
			m->ocur = 0;
		}
	}
}

/* Finish any growth in progress (before a walk of the whole table). */
void bsmap_settle(struct bodystore_map *m)
{
	if (m->ov != NULL) {
		bsmap_migrate(m, m->ocap - m->ocur);
	}
}

/* The entry of key, always in the new table (an entry still in the old one
 * is moved first). */
struct bent *bsmap_find(struct bodystore_map *m, uint64_t key)
{
	size_t i;

	if (key == 0) {
		return NULL;
	}
	for (i = home(m, key);; i = next_slot(m, i)) {
		if (m->v[i].key == key) {
			return &m->v[i];
		}
		if (m->v[i].key == 0) {
			break;
		}
	}
	if (m->ov == NULL) {
		return NULL;
	}
	for (i = home_in(m->ocap, key);; i = i + 1 == m->ocap ? 0 : i + 1) {
		struct bent *o = &m->ov[i];
		if (o->key == key) {
			struct bent e = *o;
			o->key = MAP_TOMB;
			return map_place(m, &e);
		}
		if (o->key == 0) {
			return NULL;
		}
	}
}

/* Start an incremental growth to ncap slots. */
int bsmap_grow_start(struct bodystore_map *m, size_t ncap)
{
	/* NOFORK: a snapshot's child never reads the map (nofork.h). */
	struct bent *nv =
	    ncap <= SIZE_MAX / sizeof *nv ? qsg_nofork_alloc(ncap * sizeof *nv) : NULL;

	if (nv == NULL) {
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	bsmap_settle(m); /* cannot happen at BSMAP_MIGRATE >= 3; kept for safety */
	m->ov = m->v;
	m->ocap = m->cap;
	m->ocur = 0;
	m->v = nv;
	m->cap = ncap;
	return QSG_OK;
}

/* Insert a new key (not present). NULL when out of memory. */
struct bent *bsmap_insert(struct bodystore_map *m, const struct bent *e)
{
	bsmap_migrate(m, BSMAP_MIGRATE);
	if ((m->n + 1) * 1000 > m->cap * BSMAP_MAX_LOAD &&
	    bsmap_grow_start(m, m->cap + m->cap / 2) != QSG_OK) {
		return NULL;
	}
	m->n++;
	return map_place(m, e);
}

/* Shrinking after a drain: below load 0.1 the table moves (the same
 * incremental way) to one of 4 x n slots, so the memory of a backlog's
 * high-water mark (360 MB of slots at 10M) goes back to the system. The
 * next growth is then at least 0.22 x old capacity inserts away while the
 * move needs old capacity / BSMAP_MIGRATE operations: it always ends first. */
#define MAP_SHRINK_LOAD 100 /* per mille */
void bsmap_maybe_shrink(struct bodystore_map *m)
{
	if (m->ov != NULL || m->cap <= 4 * BSMAP_MIN_CAP ||
	    m->n * 1000 >= m->cap * MAP_SHRINK_LOAD) {
		return;
	}
	size_t ncap = m->n * 4 < BSMAP_MIN_CAP ? BSMAP_MIN_CAP : m->n * 4;
	(void)bsmap_grow_start(m, ncap); /* out of memory: keep the large table */
}

/* Remove the entry at slot p (backward-shift deletion: no tombstones).
 * Entries of the same cluster after p may move back into p. */
void bsmap_remove(struct bodystore_map *m, struct bent *p)
{
	size_t i = (size_t)(p - m->v), j = i;

	for (;;) {
		j = next_slot(m, j);
		if (m->v[j].key == 0) {
			break;
		}
		size_t k = home(m, m->v[j].key);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			m->v[i] = m->v[j];
			i = j;
		}
	}
	m->v[i] = (struct bent){0};
	m->n--;
}

/* ---- missing set ---- */

int bsmiss_add(struct bodystore *b, uint64_t key)
{
	struct bodystore_map *m = b->map;

	if (m->nmiss == m->capmiss) {
		size_t ncap = m->capmiss ? m->capmiss * 2 : 256;
		uint64_t *nv = realloc(m->miss, ncap * sizeof *nv);
		if (nv == NULL) {
			return QSG_RC_STORAGE_NOT_AVAILABLE;
		}
		m->miss = nv;
		m->capmiss = ncap;
	}
	if (m->nmiss > 0 && m->miss[m->nmiss - 1] > key) {
		m->miss_sorted = false;
	}
	m->miss[m->nmiss++] = key;
	b->nmissing++;
	return QSG_OK;
}

/* An entry stops being missing (filled, put, released): the vector keeps
 * the key (bodystore_missing skips it) until nothing is missing. Nothing
 * here may cost more than O(1): a catch-up fills a million entries, and
 * re-sorting the vector after each batch (as before) took 300 ms per
 * 1 MiB batch at 3M claims, with the member fencing itself all along. */
void bsmiss_gone(struct bodystore *b)
{
	struct bodystore_map *m = b->map;

	if (b->nmissing > 0) {
		b->nmissing--;
	}
	if (b->nmissing == 0) {
		/* Nothing missing any more: drop the stale keys now. */
		m->nmiss = 0;
		m->miss_sorted = true;
		if (m->capmiss > 4096) {
			free(m->miss);
			m->miss = NULL;
			m->capmiss = 0;
		}
	}
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sort the vector (after an out-of-order append: a restore's claims come
 * queue by queue) and drop duplicates and keys no longer missing. */
void bsmiss_sort(struct bodystore *b)
{
	struct bodystore_map *m = b->map;
	size_t i, w = 0;

	if (m->miss_sorted) {
		return;
	}
	if (m->nmiss > 1) {
		qsort(m->miss, m->nmiss, sizeof *m->miss, u64_cmp);
	}
	for (i = 0; i < m->nmiss; i++) {
		const struct bent *e = bsmap_find(m, m->miss[i]);
		if (e == NULL || e->seg != 0 || (w > 0 && m->miss[w - 1] == m->miss[i])) {
			continue;
		}
		m->miss[w++] = m->miss[i];
	}
	m->nmiss = w;
	m->miss_sorted = true;
}

/* ---- release ---- */

void bsmap_release_entry(struct bodystore *b, struct bent *e)
{
	if (e->seg != 0) {
		struct store_loc loc = {e->seg, e->off, BENT_LEN(e)};
		store_release(&b->st, &loc, KSEQ(e->key), KPART(e->key), b->index);
	}
}

void bsmap_release_all(struct bodystore *b, uint64_t seqno)
{
	/* Every part (parts 0 .. n-1 are put in order; a whole message has
	 * only part 0). */
	for (uint32_t part = 0; part < (1u << 16); part++) {
		if (part > 0 && seqno > KEY_SEQ_MASK) {
			break;
		}
		struct bent *e = bsmap_find(b->map, mkey(seqno, part));
		if (e == NULL) {
			break;
		}
		b->releases++;
		if (e->seg != 0) {
			bsmap_release_entry(b, e);
		} else {
			bsmiss_gone(b);
		}
		bsmap_remove(b->map, e);
	}
}
