/* The body provider over the message store (see bodystore.h and
 * docs/storage.md, "The body provider"): the struct fsm_bodies callbacks,
 * open, restore, housekeeping and catch-up, over a map seqno -> (location,
 * length, crc, claimed) with its missing set (bsmap.c) and the renames'
 * aliases (bsrename.c); all three share bsint.h. */
#include "bsint.h"

#include "../common/nofork.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- init ---- */

static bool take_record(void *arg, uint8_t type, uint64_t key, uint32_t part,
			const struct store_loc *loc, uint32_t crc)
{
	struct bodystore *b = arg;

	if (type == STORE_REC_RENAME) {
		return bsalias_take_record(b, key, part, loc);
	}
	if ((type != STORE_REC_BODY && type != STORE_REC_CHUNK) ||
	    (type == STORE_REC_BODY && part != 0) || key == 0 || loc->len > STORE_MAX_PAYLOAD ||
	    (part > 0 && (key > KEY_SEQ_MASK || part >= (1u << 16)))) {
		return false; /* not ours: dead at store_recovery_end */
	}
	struct bent e = {mkey(key, part), loc->seg, loc->off, loc->len, crc};
	if (bsmap_insert(b->map, &e) == NULL) {
		b->init_err = QSG_RC_STORAGE_NOT_AVAILABLE;
		return false;
	}
	return true;
}

int bodystore_init(struct bodystore *b, const struct store_config *cfg, char *errmsg)
{
	int rc;

	memset(b, 0, sizeof *b);
	b->map = calloc(1, sizeof *b->map);
	if (b->map == NULL) {
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "bodystore: out of memory");
	}
	b->map->cap = BSMAP_MIN_CAP;
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
	size_t need = store_recovery_count(&b->st) * 1000 / (BSMAP_MAX_LOAD - 50) + 1;
	if (need > b->map->cap && bsmap_grow_start(b->map, need) != QSG_OK) {
		bodystore_close(b);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "bodystore: out of memory");
	}
	bsmap_settle(b->map); /* an empty table: nothing to move */
	b->init_err = QSG_OK;
	store_recovery_foreach(&b->st, take_record, b);
	if (b->init_err != QSG_OK) {
		bodystore_close(b);
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "bodystore: out of memory");
	}
	store_recovery_end(&b->st);
	bsalias_load(b);
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
	bsalias_free(b);
}

void bodystore_set_index(struct bodystore *b, uint64_t index)
{
	b->index = index;
}

/* ---- callbacks ---- */

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
	if (bsalias_put(b, seqno, len, crc)) {
		b->put_dups++; /* the renamed content is this one */
		return QSG_OK;
	}
	struct bent *e = bsmap_find(m, seqno);
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
			bsmap_release_entry(b, e);
			b->put_replaced++;
		} else {
			bsmiss_gone(b);
		}
		e->seg = loc.seg;
		e->off = loc.off;
		e->lenf = (e->lenf & BENT_CLAIMED) | (uint32_t)len;
		e->crc = crc;
		return QSG_OK;
	}
	struct bent ne = {seqno, loc.seg, loc.off, (uint32_t)len, crc};
	if (bsmap_insert(m, &ne) == NULL) {
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
	const struct bent *e = bsmap_find(b->map, bsalias_resolve(b, k));
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
	bsmap_migrate(b->map, BSMAP_MIGRATE);
	bsmap_release_all(b, bsalias_release(b, seqno)); /* the records' key */
	bsmap_maybe_shrink(b->map);
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
	if (bsalias_claim(b, seqno, len, crc)) {
		return; /* claimed through a rename */
	}
	struct bent *e = bsmap_find(m, seqno);

	if (seqno == 0 || len > STORE_MAX_PAYLOAD) {
		return;
	}
	if (e != NULL) {
		if (e->seg != 0 && (BENT_LEN(e) != len || e->crc != crc)) {
			/* What we hold is not this message's content: drop it,
			 * fetch the right one. */
			bsmap_release_entry(b, e);
			e->seg = 0;
			e->off = 0;
			if (bsmiss_add(b, seqno) != QSG_OK) {
				b->nmissing++; /* counted, not listed: reads fail */
				b->claim_failures++;
			}
		}
		e->lenf = BENT_CLAIMED | (uint32_t)len;
		e->crc = crc;
		return;
	}
	struct bent ne = {seqno, 0, 0, BENT_CLAIMED | (uint32_t)len, crc};
	if (bsmap_insert(m, &ne) == NULL || bsmiss_add(b, seqno) != QSG_OK) {
		/* Out of memory: the read of this message will fail (QSG_RC_IO,
		 * not held), which fail-stops the member. */
		struct bent *p = bsmap_find(m, seqno);
		if (p != NULL) {
			bsmap_remove(m, p);
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
	bsmap_settle(m); /* a restore walks everything anyway */
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
			bsmiss_gone(b);
		} else if (KSEQ(e->key) <= last_seqno) {
			/* Held, not in the new state: gone. */
			bsmap_release_entry(b, e);
			b->restore_releases++;
		} else {
			c++; /* above the snapshot: the log puts it again */
			continue;
		}
		bsmap_remove(m, e);
	}
	bsalias_restored(b, last_seqno);
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
		if (bsalias_reloc(b, key, from, to)) {
			return;
		}
		struct store_loc l = *to;
		store_release(&b->st, &l, key, part, 0);
		b->map->reloc_mismatch++;
		return;
	}
	struct bent *e = part < (1u << 16) && (part == 0 || key <= KEY_SEQ_MASK)
			     ? bsmap_find(b->map, mkey(key, part))
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

	bsmiss_sort(b);
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
		const struct bent *e = bsmap_find(m, k);
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
	struct bent *e = bsmap_find(b->map, seqno);
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
	bsmiss_gone(b);
	b->fills++;
	return QSG_OK;
}

int bodystore_get(struct bodystore *b, uint64_t seqno, struct qsg_wbuf *out, uint32_t *crc,
		  char *errmsg)
{
	const struct bent *e = bsmap_find(b->map, bsalias_resolve(b, seqno));
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
	       bsalias_bytes(b);
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
	out->aliases = bsalias_live(b);
	out->map_bytes = bodystore_map_bytes(b);
	out->map_slots = b->map->cap;
}
