/* The body provider's renames (bodystore_rename, a move to a backout
 * queue): aliases new seqno -> the key of the records, persisted by
 * STORE_REC_RENAME records (docs/storage.md, "Moves to a backout queue:
 * rename"). bodystore.c calls the bsalias_* hooks (bsint.h) from its
 * callbacks, its scan at open, its restore and its relocation.
 *
 * A message moved to a backout queue gets a new seqno with the same bytes.
 * Its records keep their key, the old seqno, on disk (records are keyed
 * and verified by it, compaction relocates them by it, the scan at open
 * finds them under it), so the map keeps the entry under the old key and an
 * alias new -> old names it. Aliases are few (moves to a backout queue): a
 * vector sorted by the new seqno (new seqnos only grow, so a rename
 * appends), removed lazily (phys = 0) and compacted when half dead; its
 * memory follows the live aliases (halved with them, freed with the last
 * one). Each alias has its STORE_REC_RENAME record (key = new seqno, part
 * STORE_RENAME_PART, payload = u64 old key): live while the alias is,
 * relocated by compaction like any record, read back at open. */
#include "bsint.h"

#include <stdlib.h>
#include <string.h>

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

#define ALIAS_MIN_CAP 16

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

uint64_t bsalias_resolve(const struct bodystore *b, uint64_t k)
{
	const struct balias *a = alias_find(b, KSEQ(k));
	return a != NULL ? mkey(a->phys, KPART(k)) : k;
}

void bsalias_free(struct bodystore *b)
{
	if (b->al != NULL) {
		free(b->al->v);
		free(b->al);
		b->al = NULL;
	}
}

/* The removed slots go, and the vector's memory follows the live ones (at
 * most twice as many slots, or ALIAS_MIN_CAP): a storm of moves to a
 * backout queue does not keep its high-water mark once drained. */
static void alias_compact(struct bodystore_aliases *al)
{
	size_t w = 0;
	for (size_t i = 0; i < al->n; i++) {
		if (al->v[i].phys != 0) {
			al->v[w++] = al->v[i];
		}
	}
	al->n = w;
	size_t want = w * 2 < ALIAS_MIN_CAP ? ALIAS_MIN_CAP : w * 2;
	if (want < al->cap) {
		struct balias *nv = realloc(al->v, want * sizeof *nv);
		if (nv != NULL) { /* else: the larger vector stays, still right */
			al->v = nv;
			al->cap = want;
		}
	}
}

/* After removals: no live alias, nothing kept; half dead, compacted
 * (pointers into the vector are stale after). */
static void alias_tidy(struct bodystore *b)
{
	struct bodystore_aliases *al = b->al;
	if (al == NULL) {
		return;
	}
	if (al->live == 0) {
		bsalias_free(b);
	} else if (al->live * 2 < al->n) {
		alias_compact(al);
	}
}

/* Mark a removed: its rename record dies with the current index. */
static void alias_kill(struct bodystore *b, struct balias *a)
{
	struct store_loc loc = {a->seg, a->off, STORE_RENAME_LEN};
	store_release(&b->st, &loc, a->seq, STORE_RENAME_PART, b->index);
	a->phys = 0;
	b->al->live--;
}

/* Remove a (the vector may be compacted or freed: pointers into it are
 * stale). */
static void alias_drop(struct bodystore *b, struct balias *a)
{
	alias_kill(b, a);
	alias_tidy(b);
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
			size_t ncap = al->cap ? al->cap * 2 : ALIAS_MIN_CAP;
			struct balias *nv = realloc(al->v, ncap * sizeof *nv);
			if (nv == NULL) {
				alias_tidy(b); /* an empty vector just made goes */
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

/* The records a's name stands for are here (part 0: held, or missing,
 * to fetch under the records' key). */
static bool alias_target_here(struct bodystore *b, const struct balias *a)
{
	return bsmap_find(b->map, a->phys) != NULL;
}

/* ---- open ---- */

bool bsalias_take_record(struct bodystore *b, uint64_t key, uint32_t part,
			 const struct store_loc *loc)
{
	if (part != STORE_RENAME_PART || key == 0 || key > KEY_SEQ_MASK ||
	    loc->len != STORE_RENAME_LEN) {
		return false;
	}
	/* Its target is read back after the scan (bsalias_load); a second
	 * record of the same name (cannot happen: names are not reused, and
	 * the store keeps the newest record of a key) is left dead. */
	if (alias_find(b, key) != NULL) {
		return false;
	}
	if (alias_add(b, key, UINT64_MAX, loc) != QSG_OK) {
		b->init_err = QSG_RC_STORAGE_NOT_AVAILABLE;
		return false;
	}
	return true;
}

/* The targets of the rename records found by the scan: read each (a few
 * bytes, few records), verified as any record (header and payload
 * checksums, key, part, length). One that cannot be read or makes no sense
 * is dropped (its record dies): the renamed message is then not held here,
 * which a claim or read reports like any content not held. */
void bsalias_load(struct bodystore *b)
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
	alias_tidy(b);
}

/* ---- the callbacks' hooks ---- */

bool bsalias_put(struct bodystore *b, uint64_t k, uint64_t len, uint32_t crc)
{
	struct balias *a = alias_find(b, KSEQ(k));
	if (a == NULL) {
		return false;
	}
	const struct bent *t = bsmap_find(b->map, mkey(a->phys, KPART(k)));
	if (t != NULL && t->seg != 0 && BENT_LEN(t) == len && t->crc == crc) {
		return true; /* the renamed content is this one */
	}
	alias_drop(b, a); /* another content: the put wins */
	return false;
}

bool bsalias_claim(struct bodystore *b, uint64_t k, uint64_t len, uint32_t crc)
{
	struct balias *a = alias_find(b, KSEQ(k));
	if (a == NULL) {
		return false;
	}
	struct bent *t = bsmap_find(b->map, mkey(a->phys, KPART(k)));
	if (t != NULL && BENT_LEN(t) == len && t->crc == crc) {
		/* Held, or missing (a part still to fetch, under the records'
		 * key: every part of a message is named through its alias or
		 * none is, so the alias stays). */
		t->lenf |= BENT_CLAIMED; /* kept by restored() */
		a->claimed = true;
		return true;
	}
	/* Not what the state names: fetch it under its name. */
	alias_drop(b, a);
	return false;
}

uint64_t bsalias_release(struct bodystore *b, uint64_t seqno)
{
	struct balias *a = alias_find(b, seqno);
	if (a == NULL) {
		return seqno;
	}
	uint64_t phys = a->phys; /* the records' key */
	alias_drop(b, a);
	return phys;
}

void bsalias_restored(struct bodystore *b, uint64_t last_seqno)
{
	/* Kept if claimed, or above the snapshot (the log renames again: a
	 * no-op then), and only while their records are here (held, or
	 * missing: to fetch). */
	struct bodystore_aliases *al = b->al;
	if (al == NULL) {
		return;
	}
	for (size_t j = 0; j < al->n; j++) {
		struct balias *x = &al->v[j];
		if (x->phys == 0) {
			continue;
		}
		if ((!x->claimed && x->seq <= last_seqno) || !alias_target_here(b, x)) {
			alias_kill(b, x);
		}
		x->claimed = false;
	}
	alias_compact(al);
	alias_tidy(b);
}

bool bsalias_reloc(struct bodystore *b, uint64_t key, const struct store_loc *from,
		   const struct store_loc *to)
{
	struct balias *a = alias_find(b, key);
	if (a == NULL || a->seg != from->seg || a->off != from->off) {
		return false;
	}
	a->seg = to->seg;
	a->off = to->off;
	return true;
}

static int by_phys(const void *x, const void *y)
{
	const struct balias *a = x, *b = y;
	return a->phys < b->phys ? -1 : a->phys > b->phys;
}

void bodystore_fetch_names(const struct bodystore *b, const uint64_t *keys, uint64_t *names,
			   size_t n)
{
	const struct bodystore_aliases *al = b->al;
	struct balias *v = NULL;
	size_t nv = 0;
	if (al != NULL && al->live > 0 && (v = malloc(al->live * sizeof *v)) != NULL) {
		for (size_t i = 0; i < al->n; i++) {
			if (al->v[i].phys != 0 && nv < al->live) {
				v[nv++] = al->v[i];
			}
		}
		qsort(v, nv, sizeof *v, by_phys);
	}
	/* Without the table (no memory), every key is asked as it is. */
	for (size_t k = 0; k < n; k++) {
		names[k] = keys[k];
		struct balias key = {.phys = KSEQ(keys[k])};
		const struct balias *a = nv > 0 ? bsearch(&key, v, nv, sizeof *v, by_phys) : NULL;
		if (a != NULL) {
			names[k] = mkey(a->seq, KPART(keys[k]));
		}
	}
	free(v);
}

size_t bsalias_bytes(const struct bodystore *b)
{
	return b->al != NULL ? sizeof *b->al + b->al->cap * sizeof *b->al->v : 0;
}

uint64_t bsalias_live(const struct bodystore *b)
{
	return b->al != NULL ? b->al->live : 0;
}

/* ---- rename ---- */

/* Whether a part of the message whose records' key is phys is held here
 * (the parts are 0 .. n-1, each held or missing). */
static bool parts_held(struct bodystore *b, uint64_t phys)
{
	const struct bent *e;
	for (uint32_t n = 0; n < (1u << 16) && (e = bsmap_find(b->map, mkey(phys, n))) != NULL;
	     n++) {
		if (e->seg != 0) {
			return true;
		}
	}
	return false;
}

/* A renamed seqno that is missing here (a member catching up): nothing
 * to keep on disk, so the missing entries (every part, all missing) take
 * the new name, under which the catch-up fetches them. */
static int rename_missing(struct bodystore *b, uint64_t seqno, uint64_t new_seqno)
{
	struct bodystore_map *m = b->map;
	uint32_t n = 0;
	for (const struct bent *e; (e = bsmap_find(m, mkey(seqno, n))) != NULL; n++) {
		if (e->seg != 0 || n + 1 >= (1u << 16)) {
			return qsg_errf(b->errmsg, QSG_RC_IO,
					"message %llu body not held on this member (catching up)",
					(unsigned long long)seqno);
		}
	}
	for (uint32_t part = 0; part < n; part++) {
		struct bent *e = bsmap_find(m, mkey(seqno, part));
		struct bent ne = *e;
		ne.key = mkey(new_seqno, part);
		bsmap_remove(m, e);
		if (bsmap_insert(m, &ne) == NULL || bsmiss_add(b, ne.key) != QSG_OK) {
			return qsg_errf(b->errmsg, QSG_RC_IO, "bodystore: out of memory");
		}
		bsmiss_gone(b); /* the old key: skipped by bodystore_missing */
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
	const struct bent *e = bsmap_find(b->map, phys);
	bool held = e != NULL && parts_held(b, phys);
	if (e != NULL && !held && oa == NULL && na == NULL &&
	    bsmap_find(b->map, new_seqno) == NULL) {
		return rename_missing(b, seqno, new_seqno);
	}
	/* Some part held (part 0 may be missing, a part to fetch): an alias,
	 * the missing parts stay missing under the records' key and are
	 * fetched under the new name (bodystore_fetch_names). */
	if (!held) {
		return qsg_errf(b->errmsg, QSG_RC_IO,
				"message %llu body not held on this member (catching up)",
				(unsigned long long)seqno);
	}
	if (na != NULL) {
		alias_drop(b, na); /* a stale name */
	}
	/* Content held under the new name already (cannot happen: a seqno is
	 * renamed to before it is put) is replaced. */
	bsmap_release_all(b, new_seqno);
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
