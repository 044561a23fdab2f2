/* The body provider over the message store (see bodystore.h and
 * docs/storage.md, "The body provider"): a map seqno -> (location, length,
 * crc, claimed) in one open-addressing table of 24-byte slots, a lazily
 * sorted vector of missing seqnos, and the struct fsm_bodies callbacks. */
#include "bodystore.h"

#include "../common/nofork.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One slot: 24 bytes, no per-entry allocation. key 0 = empty (seqno 0 is
 * never assigned). seg 0 = missing (claimed, content to fetch from a peer).
 * The top bit of lenf is the claimed bit of the current restore; the low 31
 * bits are the content length (props + body, at most STORE_MAX_PAYLOAD). */
struct bent {
	uint64_t key;
	uint32_t seg;
	uint32_t off;
	uint32_t lenf;
	uint32_t crc;
};
#define BENT_CLAIMED 0x80000000u
#define BENT_LEN(e) ((e)->lenf & ~BENT_CLAIMED)

/* Map keys: part 0 (a whole message, or the first part of a chunked one)
 * is the seqno itself; part p > 0 of a chunked message is seqno | p << 48.
 * Seqnos of chunked messages stay below 2^48 (bodystore_put_part refuses
 * others), parts below 2^16. The catch-up set and FETCH carry these keys,
 * so the parts of a chunked message are fetched like whole messages. */
#define KEY_PART_SHIFT 48
#define KEY_SEQ_MASK ((1ull << KEY_PART_SHIFT) - 1)
#define KSEQ(k) ((k)&KEY_SEQ_MASK)
#define KPART(k) ((uint32_t)((k) >> KEY_PART_SHIFT))
static uint64_t mkey(uint64_t seqno, uint32_t part)
{
	return part == 0 ? seqno : (seqno | (uint64_t)part << KEY_PART_SHIFT);
}

/* Largest load before growing (n / cap, in 1/1000). Linear probing stays
 * short below 0.8; growing by 1.5 keeps the load between 0.53 and 0.8. */
#define MAP_MAX_LOAD 800
#define MAP_MIN_CAP 1024

struct bodystore_map {
	struct bent *v;
	size_t cap; /* any size >= MAP_MIN_CAP: slots are chosen by fastrange */
	/* The old table while a growth is in progress (NULL otherwise): slots
	 * below ocur have moved; see "incremental growth". */
	struct bent *ov;
	size_t ocap, ocur;
	size_t n; /* entries, held and missing */
	/* Missing seqnos: appended unsorted, removed lazily (an entry is
	 * really missing iff the map says so); sorted, deduplicated and
	 * filtered on demand by bodystore_missing. */
	uint64_t *miss;
	size_t nmiss, capmiss;
	/* Sorted ascending (duplicates and keys no longer missing may remain:
	 * bodystore_missing skips them). Appends keep it sorted unless a key
	 * is smaller than the last; only then is it sorted again, once. */
	bool miss_sorted;
	uint64_t reloc_mismatch;
};

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
 * insert moves MAP_MIGRATE old slots over, from a cursor. An old slot whose
 * entry moved becomes MAP_TOMB, which probing in the old table skips (it
 * never ends a probe), so the old clusters stay intact without any
 * backward shift there. A lookup that finds its key in the old table moves
 * that entry at once, so every entry handed to a caller lives in the new
 * table, and removals and updates only ever touch the new one. The old
 * table is freed when the cursor reaches its end. Growth starts at load
 * 0.8 with a table 1.5 times larger: the next growth is at least
 * 0.4 x old capacity inserts away, and MAP_MIGRATE >= 3 finishes the move
 * well before. Keys never reach MAP_TOMB: part numbers stay below 2^16. */
#define MAP_MIGRATE 16
#define MAP_TOMB UINT64_MAX

static void map_move(struct bodystore_map *m, struct bent *o)
{
	map_place(m, o);
	o->key = MAP_TOMB;
}

static void map_migrate(struct bodystore_map *m, size_t slots)
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
static void map_settle(struct bodystore_map *m)
{
	if (m->ov != NULL) {
		map_migrate(m, m->ocap - m->ocur);
	}
}

/* The entry of key, always in the new table (an entry still in the old one
 * is moved first). */
static struct bent *map_find(struct bodystore_map *m, uint64_t key)
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
static int map_grow_start(struct bodystore_map *m, size_t ncap)
{
	/* NOFORK: a snapshot's child never reads the map (nofork.h). */
	struct bent *nv =
	    ncap <= SIZE_MAX / sizeof *nv ? qsg_nofork_alloc(ncap * sizeof *nv) : NULL;

	if (nv == NULL) {
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	map_settle(m); /* cannot happen at MAP_MIGRATE >= 3; kept for safety */
	m->ov = m->v;
	m->ocap = m->cap;
	m->ocur = 0;
	m->v = nv;
	m->cap = ncap;
	return QSG_OK;
}

/* Insert a new key (not present). NULL when out of memory. */
static struct bent *map_insert(struct bodystore_map *m, const struct bent *e)
{
	map_migrate(m, MAP_MIGRATE);
	if ((m->n + 1) * 1000 > m->cap * MAP_MAX_LOAD &&
	    map_grow_start(m, m->cap + m->cap / 2) != QSG_OK) {
		return NULL;
	}
	m->n++;
	return map_place(m, e);
}

/* Shrinking after a drain: below load 0.1 the table moves (the same
 * incremental way) to one of 4 x n slots, so the memory of a backlog's
 * high-water mark (360 MB of slots at 10M) goes back to the system. The
 * next growth is then at least 0.22 x old capacity inserts away while the
 * move needs old capacity / MAP_MIGRATE operations: it always ends first. */
#define MAP_SHRINK_LOAD 100 /* per mille */
static void map_maybe_shrink(struct bodystore_map *m)
{
	if (m->ov != NULL || m->cap <= 4 * MAP_MIN_CAP || m->n * 1000 >= m->cap * MAP_SHRINK_LOAD) {
		return;
	}
	size_t ncap = m->n * 4 < MAP_MIN_CAP ? MAP_MIN_CAP : m->n * 4;
	(void)map_grow_start(m, ncap); /* out of memory: keep the large table */
}

/* Remove the entry at slot p (backward-shift deletion: no tombstones).
 * Entries of the same cluster after p may move back into p. */
static void map_remove(struct bodystore_map *m, struct bent *p)
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

static int miss_add(struct bodystore *b, uint64_t key)
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
static void miss_gone(struct bodystore *b)
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
static void miss_sort(struct bodystore *b)
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
		const struct bent *e = map_find(m, m->miss[i]);
		if (e == NULL || e->seg != 0 || (w > 0 && m->miss[w - 1] == m->miss[i])) {
			continue;
		}
		m->miss[w++] = m->miss[i];
	}
	m->nmiss = w;
	m->miss_sorted = true;
}

/* ---- aliases (renames) ----
 *
 * A message moved to a backout queue gets a new seqno with the same bytes
 * (bodystore_rename). Its records keep their key, the old seqno, on disk
 * (records are keyed and verified by it, compaction relocates them by it,
 * the scan at open finds them under it), so the map keeps the entry under
 * the old key and an alias new -> old names it. Aliases are few (moves to
 * a backout queue): a vector sorted by the new seqno (new seqnos only grow,
 * so a rename appends), removed lazily (phys = 0) and compacted when half
 * dead. Each alias has its STORE_REC_RENAME record (key = new seqno, part
 * STORE_RENAME_PART, payload = u64 old key): live while the alias is,
 * relocated by compaction like any record, read back at open. */
struct balias {
	uint64_t seq; /* the name the state uses */
	uint64_t phys; /* the key of the records (0: removed) */
	uint32_t seg, off; /* the rename record */
	bool claimed; /* claimed through the alias since the last restore */
};

struct bodystore_aliases {
	struct balias *v;
	size_t n, cap, live;
};

/* The first slot whose seq is not below seq. */
static size_t alias_pos(const struct bodystore_aliases *al, uint64_t seq)
{
	size_t lo = 0, hi = al->n;
	if (al->n > 0 && al->v[al->n - 1].seq < seq) {
		return al->n;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (al->v[mid].seq < seq) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static struct balias *alias_find(const struct bodystore *b, uint64_t seq)
{
	const struct bodystore_aliases *al = b->al;
	if (al == NULL || al->live == 0) {
		return NULL;
	}
	size_t i = alias_pos(al, seq);
	return i < al->n && al->v[i].seq == seq && al->v[i].phys != 0 ? &al->v[i] : NULL;
}

/* The map key content under key k is held by (k itself unless renamed). */
static uint64_t resolve(const struct bodystore *b, uint64_t k)
{
	const struct balias *a = alias_find(b, KSEQ(k));
	return a != NULL ? mkey(a->phys, KPART(k)) : k;
}

static void alias_compact(struct bodystore_aliases *al)
{
	size_t w = 0;
	for (size_t i = 0; i < al->n; i++) {
		if (al->v[i].phys != 0) {
			al->v[w++] = al->v[i];
		}
	}
	al->n = w;
}

/* Mark a removed: its rename record dies with the current index. */
static void alias_kill(struct bodystore *b, struct balias *a)
{
	struct store_loc loc = {a->seg, a->off, STORE_RENAME_LEN};
	store_release(&b->st, &loc, a->seq, STORE_RENAME_PART, b->index);
	a->phys = 0;
	b->al->live--;
}

/* Remove a (the vector may be compacted: pointers into it are stale). */
static void alias_drop(struct bodystore *b, struct balias *a)
{
	struct bodystore_aliases *al = b->al;
	alias_kill(b, a);
	if (al->live == 0) {
		al->n = 0;
	} else if (al->live * 2 < al->n) {
		alias_compact(al);
	}
}

/* Add seq -> phys with its record at loc (seq not live). */
static int alias_add(struct bodystore *b, uint64_t seq, uint64_t phys, const struct store_loc *loc)
{
	struct bodystore_aliases *al = b->al;
	if (al == NULL && (al = b->al = calloc(1, sizeof *al)) == NULL) {
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	size_t i = alias_pos(al, seq);
	if (i == al->n || al->v[i].seq != seq) {
		if (al->n == al->cap) {
			size_t ncap = al->cap ? al->cap * 2 : 16;
			struct balias *nv = realloc(al->v, ncap * sizeof *nv);
			if (nv == NULL) {
				return QSG_RC_STORAGE_NOT_AVAILABLE;
			}
			al->v = nv;
			al->cap = ncap;
		}
		memmove(&al->v[i + 1], &al->v[i], (al->n - i) * sizeof *al->v);
		al->n++;
	}
	al->v[i] = (struct balias){seq, phys, loc->seg, loc->off, false};
	al->live++;
	return QSG_OK;
}

static void aliases_free(struct bodystore *b)
{
	if (b->al != NULL) {
		free(b->al->v);
		free(b->al);
		b->al = NULL;
	}
}

/* The records a's name stands for are held here (part 0). */
static bool alias_target_held(struct bodystore *b, const struct balias *a)
{
	const struct bent *e = map_find(b->map, a->phys);
	return e != NULL && e->seg != 0;
}

/* ---- init ---- */

static bool take_record(void *arg, uint8_t type, uint64_t key, uint32_t part,
			const struct store_loc *loc, uint32_t crc)
{
	struct bodystore *b = arg;

	if (type == STORE_REC_RENAME) {
		if (part != STORE_RENAME_PART || key == 0 || key > KEY_SEQ_MASK ||
		    loc->len != STORE_RENAME_LEN) {
			return false;
		}
		/* Its target is read back after the scan (aliases_load);
		 * a second record of the same name (cannot happen: names are
		 * not reused) is left dead. */
		if (alias_find(b, key) != NULL) {
			return false;
		}
		if (alias_add(b, key, UINT64_MAX, loc) != QSG_OK) {
			b->init_err = QSG_RC_STORAGE_NOT_AVAILABLE;
			return false;
		}
		return true;
	}
	if ((type != STORE_REC_BODY && type != STORE_REC_CHUNK) ||
	    (type == STORE_REC_BODY && part != 0) || key == 0 || loc->len > STORE_MAX_PAYLOAD ||
	    (part > 0 && (key > KEY_SEQ_MASK || part >= (1u << 16)))) {
		return false; /* not ours: dead at store_recovery_end */
	}
	struct bent e = {mkey(key, part), loc->seg, loc->off, loc->len, crc};
	if (map_insert(b->map, &e) == NULL) {
		b->init_err = QSG_RC_STORAGE_NOT_AVAILABLE;
		return false;
	}
	return true;
}

/* The targets of the rename records found by the scan: read each (a few
 * bytes, few records). One that cannot be read or makes no sense is
 * dropped (its record dies): the renamed message is then not held here,
 * which a claim or read reports like any content not held. */
static void aliases_load(struct bodystore *b)
{
	struct bodystore_aliases *al = b->al;
	struct qsg_wbuf w;
	char errmsg[QSG_ERRMSG_SIZE];

	if (al == NULL) {
		return;
	}
	qsg_wbuf_init(&w);
	for (size_t i = 0; i < al->n; i++) {
		struct balias *a = &al->v[i];
		struct store_loc loc = {a->seg, a->off, STORE_RENAME_LEN};
		if (a->phys == 0) {
			continue;
		}
		qsg_wbuf_reset(&w);
		int rc = store_read(&b->st, &loc, a->seq, STORE_RENAME_PART, &w, errmsg);
		store_cache_drop(&b->st.cache, a->seq, STORE_RENAME_PART);
		uint64_t phys = 0;
		for (unsigned k = 0; rc == QSG_OK && w.len == STORE_RENAME_LEN && k < 8; k++) {
			phys |= (uint64_t)w.data[k] << (8 * k);
		}
		if (phys == 0 || phys == a->seq || phys > KEY_SEQ_MASK) {
			alias_kill(b, a);
			continue;
		}
		a->phys = phys;
	}
	qsg_wbuf_close(&w);
	alias_compact(al);
}

int bodystore_init(struct bodystore *b, const struct store_config *cfg, char *errmsg)
{
	int rc;

	memset(b, 0, sizeof *b);
	b->map = calloc(1, sizeof *b->map);
	if (b->map == NULL) {
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "bodystore: out of memory");
	}
	b->map->cap = MAP_MIN_CAP;
	b->map->v = qsg_nofork_alloc(b->map->cap * sizeof *b->map->v);
	b->map->miss_sorted = true;
	if (b->map->v == NULL) {
		free(b->map);
		b->map = NULL;
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "bodystore: out of memory");
	}
	rc = store_init(&b->st, cfg, errmsg);
	if (rc != QSG_OK) {
		qsg_nofork_free(b->map->v, b->map->cap * sizeof *b->map->v);
		free(b->map);
		b->map = NULL;
		return rc;
	}
	/* Size the table once for every record found (no rehash while the
	 * recovery index is also in memory). */
	size_t need = store_recovery_count(&b->st) * 1000 / (MAP_MAX_LOAD - 50) + 1;
	if (need > b->map->cap && map_grow_start(b->map, need) != QSG_OK) {
		bodystore_close(b);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "bodystore: out of memory");
	}
	map_settle(b->map); /* an empty table: nothing to move */
	b->init_err = QSG_OK;
	store_recovery_foreach(&b->st, take_record, b);
	if (b->init_err != QSG_OK) {
		bodystore_close(b);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "bodystore: out of memory");
	}
	store_recovery_end(&b->st);
	aliases_load(b);
	return QSG_OK;
}

void bodystore_close(struct bodystore *b)
{
	if (b->map != NULL) {
		store_close(&b->st);
		qsg_nofork_free(b->map->v, b->map->cap * sizeof *b->map->v);
		qsg_nofork_free(b->map->ov, b->map->ocap * sizeof *b->map->ov);
		free(b->map->miss);
		free(b->map);
		b->map = NULL;
	}
	aliases_free(b);
}

void bodystore_set_index(struct bodystore *b, uint64_t index)
{
	b->index = index;
}

/* ---- callbacks ---- */

static void release_entry(struct bodystore *b, struct bent *e)
{
	if (e->seg != 0) {
		struct store_loc loc = {e->seg, e->off, BENT_LEN(e)};
		store_release(&b->st, &loc, KSEQ(e->key), KPART(e->key), b->index);
	}
}

/* Write content (len bytes, crc verified by the caller) under map key k:
 * a STORE_REC_BODY record for a whole message, STORE_REC_CHUNK for a part
 * of a chunked one (chunk says which, for part 0). */
static int write_content(struct bodystore *b, uint64_t k, bool chunk, const void *p, uint32_t len,
			 uint32_t crc, struct store_loc *loc, char *errmsg)
{
	struct iovec v = {(void *)p, len};
	return store_appendv(&b->st, chunk || KPART(k) > 0 ? STORE_REC_CHUNK : STORE_REC_BODY,
			     KSEQ(k), KPART(k), &v, len > 0 ? 1 : 0, crc, true, loc, errmsg);
}

static int put_key(struct bodystore *b, uint64_t seqno, bool chunk, const void *props,
		   uint32_t props_len, const void *body, uint32_t body_len, uint32_t crc);

int bodystore_put(void *arg, uint64_t seqno, const void *props, uint32_t props_len,
		  const void *body, uint32_t body_len, uint32_t crc)
{
	return put_key(arg, seqno, false, props, props_len, body, body_len, crc);
}

int bodystore_put_part(void *arg, uint64_t seqno, uint32_t part, const void *props,
		       uint32_t props_len, const void *body, uint32_t body_len, uint32_t crc)
{
	struct bodystore *b = arg;
	if (seqno > KEY_SEQ_MASK || part >= (1u << 16)) {
		return qsg_errf(b->errmsg, QSG_RC_IO,
				"bodystore: message %llu part %u: out of the key space",
				(unsigned long long)seqno, part);
	}
	return put_key(b, mkey(seqno, part), true, props, props_len, body, body_len, crc);
}

/* seqno here is the map key (mkey). */
static int put_key(struct bodystore *b, uint64_t seqno, bool chunk, const void *props,
		   uint32_t props_len, const void *body, uint32_t body_len, uint32_t crc)
{
	struct bodystore_map *m = b->map;
	uint64_t len = (uint64_t)props_len + body_len;
	struct store_loc loc;
	int rc;

	if (seqno == 0 || len > STORE_MAX_PAYLOAD) {
		return qsg_errf(b->errmsg, QSG_RC_IO, "bodystore: message %llu: bad content",
				(unsigned long long)seqno);
	}
	struct balias *a = alias_find(b, KSEQ(seqno));
	if (a != NULL) {
		const struct bent *t = map_find(m, mkey(a->phys, KPART(seqno)));
		if (t != NULL && t->seg != 0 && BENT_LEN(t) == len && t->crc == crc) {
			b->put_dups++; /* the renamed content is this one */
			return QSG_OK;
		}
		alias_drop(b, a); /* another content: the put wins */
	}
	struct bent *e = map_find(m, seqno);
	if (e != NULL && e->seg != 0 && BENT_LEN(e) == len && e->crc == crc) {
		b->put_dups++; /* log replay after a restart: keep the copy */
		return QSG_OK;
	}
	/* props || body straight into the store, under the crc the state
	 * machine computed from these very bytes at apply (the store checks it
	 * again in QSG_CHECKED builds): one copy, one checksum per message. */
	struct iovec v[2];
	int nv = 0;
	if (props_len > 0) {
		v[nv++] = (struct iovec){(void *)props, props_len};
	}
	if (body_len > 0) {
		v[nv++] = (struct iovec){(void *)body, body_len};
	}
	rc = store_appendv(&b->st, chunk || KPART(seqno) > 0 ? STORE_REC_CHUNK : STORE_REC_BODY,
			   KSEQ(seqno), KPART(seqno), v, nv, crc, true, &loc, b->errmsg);
	if (rc != QSG_OK) {
		return QSG_RC_IO; /* the provider's one failure code (fsm.h) */
	}
	b->puts++;
	if (e != NULL) {
		/* A different content under the same seqno replaces the old one
		 * (its record dies); a missing one is now held. */
		if (e->seg != 0) {
			release_entry(b, e);
			b->put_replaced++;
		} else {
			miss_gone(b);
		}
		e->seg = loc.seg;
		e->off = loc.off;
		e->lenf = (e->lenf & BENT_CLAIMED) | (uint32_t)len;
		e->crc = crc;
		return QSG_OK;
	}
	struct bent ne = {seqno, loc.seg, loc.off, (uint32_t)len, crc};
	if (map_insert(m, &ne) == NULL) {
		struct store_loc l = loc;
		store_release(&b->st, &l, KSEQ(seqno), KPART(seqno), b->index);
		return qsg_errf(b->errmsg, QSG_RC_IO, "bodystore: out of memory");
	}
	return QSG_OK;
}

/* Verified read of a held entry into out (nothing appended on failure). */
static int read_entry(struct bodystore *b, const struct bent *e, struct qsg_wbuf *out, char *errmsg)
{
	struct store_loc loc = {e->seg, e->off, BENT_LEN(e)};
	size_t at = out->len;
	int rc = store_read(&b->st, &loc, KSEQ(e->key), KPART(e->key), out, errmsg);

	if (rc != QSG_OK) {
		out->len = at;
		return rc == QSG_RC_STORAGE_NOT_AVAILABLE ? rc : QSG_RC_IO;
	}
	if (out->len - at != loc.len || qsg_crc32c(0, out->data + at, loc.len) != e->crc) {
		/* A cached copy that went bad in memory, or a record whose crc
		 * disagrees with the map: never served. */
		out->len = at;
		store_cache_drop(&b->st.cache, KSEQ(e->key), KPART(e->key));
		return qsg_errf(errmsg, QSG_RC_IO, "bodystore: message %llu: content crc mismatch",
				(unsigned long long)e->key);
	}
	return QSG_OK;
}

static int read_key(struct bodystore *b, uint64_t k, uint64_t len, uint32_t crc,
		    struct qsg_wbuf *out)
{
	const struct bent *e = map_find(b->map, resolve(b, k));
	int rc;

	b->reads++;
	if (e == NULL || e->seg == 0) {
		b->read_misses++;
		return qsg_errf(b->errmsg, QSG_RC_IO,
				"message %llu part %u body not held on this member (catching up)",
				(unsigned long long)KSEQ(k), KPART(k));
	}
	if (BENT_LEN(e) != len || e->crc != crc) {
		return qsg_errf(b->errmsg, QSG_RC_IO,
				"bodystore: message %llu: held content differs from its descriptor",
				(unsigned long long)KSEQ(k));
	}
	rc = read_entry(b, e, out, b->errmsg);
	return rc == QSG_OK ? QSG_OK : QSG_RC_IO;
}

int bodystore_read(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len, uint32_t crc,
		   struct qsg_wbuf *out)
{
	return read_key(arg, seqno, (uint64_t)props_len + body_len, crc, out);
}

int bodystore_read_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc,
			struct qsg_wbuf *out)
{
	struct bodystore *b = arg;
	if (seqno > KEY_SEQ_MASK || part >= (1u << 16)) {
		return qsg_errf(b->errmsg, QSG_RC_IO, "bodystore: message %llu part %u not held",
				(unsigned long long)seqno, part);
	}
	return read_key(b, mkey(seqno, part), len, crc, out);
}

void bodystore_release(void *arg, uint64_t seqno)
{
	/* Every part (parts 0 .. n-1 are put in order; a whole message has
	 * only part 0). */
	struct bodystore *b = arg;
	/* Releases move the table along too: a drain has no inserts. */
	map_migrate(b->map, MAP_MIGRATE);
	struct balias *a = alias_find(b, seqno);
	if (a != NULL) {
		seqno = a->phys; /* the records' key */
		alias_drop(b, a);
	}
	for (uint32_t part = 0; part < (1u << 16); part++) {
		if (part > 0 && seqno > KEY_SEQ_MASK) {
			break;
		}
		struct bent *e = map_find(b->map, mkey(seqno, part));
		if (e == NULL) {
			break;
		}
		b->releases++;
		if (e->seg != 0) {
			release_entry(b, e);
		} else {
			miss_gone(b);
		}
		map_remove(b->map, e);
	}
	map_maybe_shrink(b->map);
}

/* A renamed seqno that is missing here (a member catching up): nothing
 * to keep on disk, so the missing entries (every part, all missing) take
 * the new name, under which the catch-up fetches them. */
static int rename_missing(struct bodystore *b, uint64_t seqno, uint64_t new_seqno)
{
	struct bodystore_map *m = b->map;
	uint32_t n = 0;
	for (const struct bent *e; (e = map_find(m, mkey(seqno, n))) != NULL; n++) {
		if (e->seg != 0 || n + 1 >= (1u << 16)) {
			return qsg_errf(b->errmsg, QSG_RC_IO,
					"message %llu body not held on this member (catching up)",
					(unsigned long long)seqno);
		}
	}
	for (uint32_t part = 0; part < n; part++) {
		struct bent *e = map_find(m, mkey(seqno, part));
		struct bent ne = *e;
		ne.key = mkey(new_seqno, part);
		map_remove(m, e);
		if (map_insert(m, &ne) == NULL || miss_add(b, ne.key) != QSG_OK) {
			return qsg_errf(b->errmsg, QSG_RC_IO, "bodystore: out of memory");
		}
		miss_gone(b); /* the old key: skipped by bodystore_missing */
	}
	b->renames++;
	return QSG_OK;
}

int bodystore_rename(void *arg, uint64_t seqno, uint64_t new_seqno)
{
	struct bodystore *b = arg;
	if (seqno == 0 || new_seqno == 0 || seqno == new_seqno || new_seqno > KEY_SEQ_MASK) {
		return qsg_errf(b->errmsg, QSG_RC_IO, "bodystore: rename %llu -> %llu: bad seqno",
				(unsigned long long)seqno, (unsigned long long)new_seqno);
	}
	struct balias *oa = alias_find(b, seqno);
	uint64_t phys = oa != NULL ? oa->phys : seqno;
	struct balias *na = alias_find(b, new_seqno);
	if (na != NULL && na->phys == phys) {
		/* Applied again (log replay after a restart). */
		if (oa != NULL) {
			alias_drop(b, oa);
		}
		return QSG_OK;
	}
	const struct bent *e = map_find(b->map, phys);
	if (e != NULL && e->seg == 0 && oa == NULL && na == NULL &&
	    map_find(b->map, new_seqno) == NULL) {
		return rename_missing(b, seqno, new_seqno);
	}
	if (e == NULL || e->seg == 0) {
		return qsg_errf(b->errmsg, QSG_RC_IO,
				"message %llu body not held on this member (catching up)",
				(unsigned long long)seqno);
	}
	if (na != NULL) {
		alias_drop(b, na); /* a stale name */
		oa = alias_find(b, seqno); /* alias_drop may have compacted */
	}
	/* Content held under the new name already (cannot happen: a seqno is
	 * renamed to before it is put) is replaced. */
	struct bent *old = map_find(b->map, new_seqno);
	if (old != NULL) {
		bodystore_release(b, new_seqno);
		oa = alias_find(b, seqno);
	}
	uint8_t pl[STORE_RENAME_LEN];
	for (unsigned i = 0; i < STORE_RENAME_LEN; i++) {
		pl[i] = (uint8_t)(phys >> (8 * i));
	}
	struct iovec v = {pl, sizeof pl};
	struct store_loc loc;
	if (store_appendv(&b->st, STORE_REC_RENAME, new_seqno, STORE_RENAME_PART, &v, 1,
			  qsg_crc32c(0, pl, sizeof pl), false, &loc, b->errmsg) != QSG_OK) {
		return QSG_RC_IO;
	}
	if (alias_add(b, new_seqno, phys, &loc) != QSG_OK) {
		store_release(&b->st, &loc, new_seqno, STORE_RENAME_PART, b->index);
		return qsg_errf(b->errmsg, QSG_RC_IO, "bodystore: out of memory");
	}
	oa = alias_find(b, seqno); /* alias_add may have moved it */
	if (oa != NULL) {
		alias_drop(b, oa);
	}
	b->renames++;
	return QSG_OK;
}

static void claim_key(struct bodystore *b, uint64_t seqno, uint64_t len, uint32_t crc);

void bodystore_claim(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len, uint32_t crc)
{
	claim_key(arg, seqno, (uint64_t)props_len + body_len, crc);
}

void bodystore_claim_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc)
{
	struct bodystore *b = arg;
	if (seqno > KEY_SEQ_MASK || part >= (1u << 16)) {
		b->claim_failures++; /* never held: a read fails, the member stops */
		return;
	}
	claim_key(b, mkey(seqno, part), len, crc);
}

/* seqno here is the map key (mkey). */
static void claim_key(struct bodystore *b, uint64_t seqno, uint64_t len, uint32_t crc)
{
	struct bodystore_map *m = b->map;
	struct balias *a = alias_find(b, KSEQ(seqno));
	if (a != NULL) {
		struct bent *t = map_find(m, mkey(a->phys, KPART(seqno)));
		if (t != NULL && t->seg != 0 && BENT_LEN(t) == len && t->crc == crc) {
			t->lenf |= BENT_CLAIMED; /* kept by restored() */
			a->claimed = true;
			return;
		}
		/* Not what the state names: fetch it under its name. */
		alias_drop(b, a);
	}
	struct bent *e = map_find(m, seqno);

	if (seqno == 0 || len > STORE_MAX_PAYLOAD) {
		return;
	}
	if (e != NULL) {
		if (e->seg != 0 && (BENT_LEN(e) != len || e->crc != crc)) {
			/* What we hold is not this message's content: drop it,
			 * fetch the right one. */
			release_entry(b, e);
			e->seg = 0;
			e->off = 0;
			if (miss_add(b, seqno) != QSG_OK) {
				b->nmissing++; /* counted, not listed: reads fail */
				b->claim_failures++;
			}
		}
		e->lenf = BENT_CLAIMED | (uint32_t)len;
		e->crc = crc;
		return;
	}
	struct bent ne = {seqno, 0, 0, BENT_CLAIMED | (uint32_t)len, crc};
	if (map_insert(m, &ne) == NULL || miss_add(b, seqno) != QSG_OK) {
		/* Out of memory: the read of this message will fail (QSG_RC_IO,
		 * not held), which fail-stops the member. */
		struct bent *p = map_find(m, seqno);
		if (p != NULL) {
			map_remove(m, p);
		}
		b->claim_failures++;
	}
}

void bodystore_restored(void *arg, uint64_t last_seqno)
{
	struct bodystore *b = arg;
	struct bodystore_map *m = b->map;
	size_t start, c, i;

	b->gen++;
	map_settle(m); /* a restore walks everything anyway */
	/* Walk from just after an empty slot: backward shifts then only move
	 * entries not visited yet (a cluster never crosses an empty slot), so
	 * the slot just emptied is looked at again. */
	for (start = 0; m->v[start].key != 0; start++)
		;
	for (c = 0; c < m->cap;) {
		i = start + 1 + c;
		if (i >= m->cap) {
			i -= m->cap;
		}
		struct bent *e = &m->v[i];
		if (e->key == 0) {
			c++;
			continue;
		}
		if (e->lenf & BENT_CLAIMED) {
			e->lenf &= ~BENT_CLAIMED;
			c++;
			continue;
		}
		if (e->seg == 0) {
			/* Missing but no longer in the state: nothing to fetch. */
			miss_gone(b);
		} else if (KSEQ(e->key) <= last_seqno) {
			/* Held, not in the new state: gone. */
			release_entry(b, e);
			b->restore_releases++;
		} else {
			c++; /* above the snapshot: the log puts it again */
			continue;
		}
		map_remove(m, e);
	}
	/* Aliases: kept if claimed, or above the snapshot (the log renames
	 * again: a no-op then), and only while their records are held. */
	struct bodystore_aliases *al = b->al;
	for (size_t j = 0; al != NULL && j < al->n; j++) {
		struct balias *x = &al->v[j];
		if (x->phys == 0) {
			continue;
		}
		if ((!x->claimed && x->seq <= last_seqno) || !alias_target_held(b, x)) {
			alias_kill(b, x);
		}
		x->claimed = false;
	}
	if (al != NULL) {
		alias_compact(al);
	}
}

/* ---- snapshots ---- */

int bodystore_sync_prepare(struct bodystore *b, struct store_sync_job *job, char *errmsg)
{
	return store_sync_prepare(&b->st, job, errmsg);
}

int bodystore_flush(struct bodystore *b, char *errmsg)
{
	return store_flush(&b->st, errmsg);
}

int bodystore_sync_run(struct store_sync_job *job)
{
	return store_sync_run(job);
}

int bodystore_sync_done(struct bodystore *b, struct store_sync_job *job, char *errmsg)
{
	return store_sync_done(&b->st, job, errmsg);
}

void bodystore_set_stable(struct bodystore *b, uint64_t index)
{
	store_set_stable(&b->st, index);
}

/* ---- housekeeping ---- */

static void on_reloc(void *arg, uint64_t key, uint32_t part, const struct store_loc *from,
		     const struct store_loc *to)
{
	struct bodystore *b = arg;
	if (part == STORE_RENAME_PART) {
		struct balias *a = alias_find(b, key);
		if (a != NULL && a->seg == from->seg && a->off == from->off) {
			a->seg = to->seg;
			a->off = to->off;
			return;
		}
		struct store_loc l = *to;
		store_release(&b->st, &l, key, part, 0);
		b->map->reloc_mismatch++;
		return;
	}
	struct bent *e = part < (1u << 16) && (part == 0 || key <= KEY_SEQ_MASK)
			     ? map_find(b->map, mkey(key, part))
			     : NULL;

	if (e == NULL || e->seg != from->seg || e->off != from->off || BENT_LEN(e) != from->len) {
		/* Not the record the map names (cannot happen: every live
		 * record is an entry). Keep the accounting right: the copy is
		 * dead too. */
		struct store_loc l = *to;
		store_release(&b->st, &l, key, part, 0);
		b->map->reloc_mismatch++;
		return;
	}
	e->seg = to->seg;
	e->off = to->off;
}

int bodystore_housekeep(struct bodystore *b, size_t budget, bool *more, char *errmsg)
{
	struct store_compact_result res;
	int rc;

	*more = false;
	rc = store_compact_step(&b->st, budget, on_reloc, b, &res, errmsg);
	if (rc != QSG_OK) {
		return rc;
	}
	if (!res.idle) {
		b->compact_moves += res.moved;
		*more = true;
	}
	if (b->st.reclaim_hint && !b->defer_reclaim) {
		/* One deletion per slice: an unlink is the slowest thing here. */
		uint32_t deleted = 0;
		rc = store_reclaim_max(&b->st, 1, &deleted, errmsg);
		if (rc != QSG_OK) {
			return rc;
		}
		b->segs_reclaimed += deleted;
		if (b->st.reclaim_hint && deleted > 0) {
			*more = true;
		}
	}
	return QSG_OK;
}

bool bodystore_reclaim_pending(const struct bodystore *b)
{
	return b->st.reclaim_hint;
}

int bodystore_reclaim_prepare(struct bodystore *b, uint32_t max, struct store_reclaim_job *job,
			      char *errmsg)
{
	return store_reclaim_prepare(&b->st, max, job, errmsg);
}

int bodystore_reclaim_run(struct store_reclaim_job *job)
{
	return store_reclaim_run(job);
}

int bodystore_reclaim_done(struct bodystore *b, struct store_reclaim_job *job, char *errmsg)
{
	b->segs_reclaimed += job->n;
	return store_reclaim_done(job, errmsg);
}

/* ---- catch-up ---- */

size_t bodystore_missing(struct bodystore *b, uint64_t after, uint64_t *keys, size_t max)
{
	struct bodystore_map *m = b->map;
	size_t lo = 0, hi, n = 0;

	miss_sort(b);
	hi = m->nmiss;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->miss[mid] <= after) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	/* Keys filled or released since they were listed are skipped: each
	 * once per pass, as the caller's cursor moves past them. */
	for (; lo < m->nmiss && n < max; lo++) {
		uint64_t k = m->miss[lo];
		const struct bent *e = map_find(m, k);
		if (e == NULL || e->seg != 0 || (n > 0 && keys[n - 1] == k)) {
			continue;
		}
		keys[n++] = k;
	}
	return n;
}

int bodystore_fill(struct bodystore *b, uint64_t seqno, const void *content, uint32_t len,
		   uint32_t crc, char *errmsg)
{
	struct bent *e = map_find(b->map, seqno);
	struct store_loc loc;
	int rc;

	if (e == NULL || e->seg != 0) {
		return QSG_OK; /* released meanwhile, or already filled */
	}
	if (len != BENT_LEN(e) || crc != e->crc || (len > 0 && content == NULL) ||
	    qsg_crc32c(0, content, len) != crc) {
		return qsg_errf(errmsg, QSG_RC_IO,
				"bodystore: message %llu: fetched content does not match its "
				"descriptor",
				(unsigned long long)seqno);
	}
	rc = write_content(b, seqno, false, content, len, crc, &loc, errmsg);
	if (rc != QSG_OK) {
		return rc;
	}
	e->seg = loc.seg;
	e->off = loc.off;
	miss_gone(b);
	b->fills++;
	return QSG_OK;
}

int bodystore_get(struct bodystore *b, uint64_t seqno, struct qsg_wbuf *out, uint32_t *crc,
		  char *errmsg)
{
	const struct bent *e = map_find(b->map, resolve(b, seqno));
	int rc;

	if (e == NULL || e->seg == 0) {
		return qsg_errf(errmsg, QSG_RC_NO_MSG_AVAILABLE,
				"bodystore: message %llu not held here", (unsigned long long)seqno);
	}
	rc = read_entry(b, e, out, errmsg);
	if (rc == QSG_OK) {
		*crc = e->crc;
	}
	return rc;
}

/* ---- statistics ---- */

size_t bodystore_map_bytes(const struct bodystore *b)
{
	const struct bodystore_map *m = b->map;

	return sizeof *m + (m->cap + m->ocap) * sizeof *m->v + m->capmiss * sizeof *m->miss +
	       (b->al != NULL ? b->al->cap * sizeof *b->al->v : 0);
}

void bodystore_get_stats(const struct bodystore *b, struct bodystore_stats *out)
{
	memset(out, 0, sizeof *out);
	store_get_stats(&b->st, &out->st);
	out->messages = b->map->n >= b->nmissing ? b->map->n - b->nmissing : 0;
	out->missing = b->nmissing;
	out->puts = b->puts;
	out->put_dups = b->put_dups;
	out->put_replaced = b->put_replaced;
	out->reads = b->reads;
	out->read_misses = b->read_misses;
	out->releases = b->releases;
	out->fills = b->fills;
	out->restore_releases = b->restore_releases;
	out->compact_moves = b->compact_moves;
	out->segs_reclaimed = b->segs_reclaimed;
	out->reloc_mismatch = b->map->reloc_mismatch;
	out->renames = b->renames;
	out->aliases = b->al != NULL ? b->al->live : 0;
	out->map_bytes = bodystore_map_bytes(b);
	out->map_slots = b->map->cap;
}
