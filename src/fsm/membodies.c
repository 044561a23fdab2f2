/* The built-in, in-memory body provider (membodies.h): a hash map seqno ->
 * content, a graveyard of released content for peers, and the ring of
 * peers. Internal to src/fsm. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/crc32c.h"
#include "hmap.h"
#include "membodies.h"

struct mb_ent {
	struct hmap_node node; /* in live or in grave, never both */
	struct mb_ent *gprev, *gnext; /* graveyard FIFO */
	uint64_t seqno;
	uint32_t part; /* 0, or a part of a chunked message */
	uint64_t gen; /* restore generation of the last claim, 0 if none */
	uint32_t props_len, body_len, crc;
	bool missing; /* claimed but not held: data is NULL */
	uint8_t *data; /* props_len + body_len bytes */
};

struct membodies {
	struct hmap live;
	struct hmap grave;
	struct mb_ent *ghead, *gtail;
	size_t ngrave;
	uint64_t grave_bytes;
	struct membodies *prev, *next; /* ring of peers (itself when alone) */
	uint64_t gen; /* generation of the current restore, from 1 */
	uint64_t held; /* live, not missing */
};

static uint64_t seq_hash(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t key_hash(uint64_t seqno, uint32_t part)
{
	return seq_hash(seqno ^ ((uint64_t)part << 48));
}

static struct mb_ent *find_part(const struct hmap *map, uint64_t seqno, uint32_t part)
{
	uint64_t h = key_hash(seqno, part);
	for (struct hmap_node *n = hmap_bucket(map, h); n != NULL; n = n->next) {
		struct mb_ent *e = (struct mb_ent *)n;
		if (n->hash == h && e->seqno == seqno && e->part == part)
			return e;
	}
	return NULL;
}

static struct mb_ent *find(const struct hmap *map, uint64_t seqno)
{
	return find_part(map, seqno, 0);
}

static bool same(const struct mb_ent *e, uint32_t pl, uint32_t bl, uint32_t crc)
{
	return !e->missing && e->props_len == pl && e->body_len == bl && e->crc == crc;
}

static void ent_free(struct mb_ent *e)
{
	free(e->data);
	free(e);
}

static void grave_unlink(struct membodies *mb, struct mb_ent *e)
{
	hmap_remove(&mb->grave, &e->node);
	if (e->gprev != NULL)
		e->gprev->gnext = e->gnext;
	else
		mb->ghead = e->gnext;
	if (e->gnext != NULL)
		e->gnext->gprev = e->gprev;
	else
		mb->gtail = e->gprev;
	mb->ngrave--;
	mb->grave_bytes -= (uint64_t)e->props_len + e->body_len;
}

/* e left the live map: keep its content for peers (only in a ring), or
 * free it. */
static void bury(struct membodies *mb, struct mb_ent *e)
{
	if (e->missing || mb->next == mb) {
		ent_free(e);
		return;
	}
	struct mb_ent *old = find_part(&mb->grave, e->seqno, e->part);
	if (old != NULL) {
		grave_unlink(mb, old);
		ent_free(old);
	}
	if (hmap_insert(&mb->grave, &e->node, key_hash(e->seqno, e->part)) != QSG_OK) {
		ent_free(e);
		return;
	}
	e->gnext = NULL;
	e->gprev = mb->gtail;
	if (mb->gtail != NULL)
		mb->gtail->gnext = e;
	else
		mb->ghead = e;
	mb->gtail = e;
	mb->ngrave++;
	mb->grave_bytes += (uint64_t)e->props_len + e->body_len;
	while (mb->ngrave > MEMBODIES_GRAVE_MAX || mb->grave_bytes > MEMBODIES_GRAVE_BYTES) {
		struct mb_ent *h = mb->ghead;
		grave_unlink(mb, h);
		ent_free(h);
	}
}

static void live_remove(struct membodies *mb, struct mb_ent *e)
{
	hmap_remove(&mb->live, &e->node);
	if (!e->missing)
		mb->held--;
	bury(mb, e);
}

/* Content equal to (pl, bl, crc) for seqno from a peer (live first, then
 * any graveyard of the ring, this one's included). */
static const struct mb_ent *peer_find_part(const struct membodies *mb, uint64_t seqno,
					   uint32_t part, uint32_t pl, uint32_t bl, uint32_t crc)
{
	for (const struct membodies *p = mb->next; p != mb; p = p->next) {
		const struct mb_ent *e = find_part(&p->live, seqno, part);
		if (e != NULL && same(e, pl, bl, crc))
			return e;
	}
	const struct membodies *p = mb;
	do {
		const struct mb_ent *e = find_part(&p->grave, seqno, part);
		if (e != NULL && same(e, pl, bl, crc))
			return e;
		p = p->next;
	} while (p != mb);
	return NULL;
}

static const struct mb_ent *peer_find(const struct membodies *mb, uint64_t seqno, uint32_t pl,
				      uint32_t bl, uint32_t crc)
{
	return peer_find_part(mb, seqno, 0, pl, bl, crc);
}

/* Make e hold a copy of p[0..pl+bl) with (pl, bl, crc). */
static int fill(struct membodies *mb, struct mb_ent *e, const uint8_t *p, uint32_t pl, uint32_t bl,
		uint32_t crc)
{
	size_t n = (size_t)pl + bl;
	uint8_t *d = NULL;
	if (n > 0 && (d = malloc(n)) == NULL)
		return QSG_RC_IO;
	if (n > 0)
		memcpy(d, p, n);
	free(e->data);
	e->data = d;
	e->props_len = pl;
	e->body_len = bl;
	e->crc = crc;
	if (e->missing)
		mb->held++;
	e->missing = false;
	return QSG_OK;
}

/* The live entry of seqno, created (missing, no data) if absent. */
static struct mb_ent *live_get_part(struct membodies *mb, uint64_t seqno, uint32_t part)
{
	struct mb_ent *e = find_part(&mb->live, seqno, part);
	if (e != NULL)
		return e;
	if ((e = calloc(1, sizeof *e)) == NULL)
		return NULL;
	e->seqno = seqno;
	e->part = part;
	e->missing = true;
	if (hmap_insert(&mb->live, &e->node, key_hash(seqno, part)) != QSG_OK) {
		free(e);
		return NULL;
	}
	return e;
}

static struct mb_ent *live_get(struct membodies *mb, uint64_t seqno)
{
	return live_get_part(mb, seqno, 0);
}

static int mb_put_part(void *arg, uint64_t seqno, uint32_t part, const void *props,
		       uint32_t props_len, const void *body, uint32_t body_len, uint32_t crc)
{
	struct membodies *mb = arg;
	struct mb_ent *e = find_part(&mb->live, seqno, part);
	if (e != NULL && same(e, props_len, body_len, crc))
		return QSG_OK; /* log replay: keep one copy */
	if (e == NULL && (e = live_get_part(mb, seqno, part)) == NULL)
		return QSG_RC_IO;
	size_t n = (size_t)props_len + body_len;
	uint8_t *d = NULL;
	if (n > 0 && (d = malloc(n)) == NULL)
		return QSG_RC_IO;
	if (props_len > 0)
		memcpy(d, props, props_len);
	if (body_len > 0)
		memcpy(d + props_len, body, body_len);
	free(e->data);
	e->data = d;
	e->props_len = props_len;
	e->body_len = body_len;
	e->crc = crc;
	if (e->missing)
		mb->held++;
	e->missing = false;
	return QSG_OK;
}

static int mb_put(void *arg, uint64_t seqno, const void *props, uint32_t props_len,
		  const void *body, uint32_t body_len, uint32_t crc)
{
	return mb_put_part(arg, seqno, 0, props, props_len, body, body_len, crc);
}

/* Parts are compared by total length and crc (how the part was split
 * between props and body does not matter to a reader). */
static const struct mb_ent *peer_find_len(const struct membodies *mb, uint64_t seqno, uint32_t part,
					  uint32_t len, uint32_t crc)
{
	for (const struct membodies *p = mb->next; p != mb; p = p->next) {
		const struct mb_ent *e = find_part(&p->live, seqno, part);
		if (e != NULL && !e->missing && e->props_len + e->body_len == len && e->crc == crc)
			return e;
	}
	const struct membodies *p = mb;
	do {
		const struct mb_ent *e = find_part(&p->grave, seqno, part);
		if (e != NULL && !e->missing && e->props_len + e->body_len == len && e->crc == crc)
			return e;
		p = p->next;
	} while (p != mb);
	return NULL;
}

static int mb_read_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc,
			struct qsg_wbuf *out)
{
	struct membodies *mb = arg;
	struct mb_ent *e = find_part(&mb->live, seqno, part);
	if (e == NULL || e->missing || e->props_len + e->body_len != len || e->crc != crc) {
		const struct mb_ent *src = peer_find_len(mb, seqno, part, len, crc);
		if (src == NULL || (e == NULL && (e = live_get_part(mb, seqno, part)) == NULL) ||
		    fill(mb, e, src->data, 0, len, crc) != QSG_OK)
			return QSG_RC_IO;
	}
	if (qsg_crc32c(0, e->data, len) != crc)
		return QSG_RC_IO;
	qsg_put_bytes(out, e->data, len);
	return out->err == QSG_OK ? QSG_OK : QSG_RC_IO;
}

static void mb_claim_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc)
{
	struct membodies *mb = arg;
	struct mb_ent *e = live_get_part(mb, seqno, part);
	if (e == NULL)
		return;
	e->gen = mb->gen;
	if (!e->missing && e->props_len + e->body_len == len && e->crc == crc)
		return;
	const struct mb_ent *src = peer_find_len(mb, seqno, part, len, crc);
	if (src != NULL && fill(mb, e, src->data, 0, len, crc) == QSG_OK)
		return;
	if (!e->missing)
		mb->held--;
	free(e->data);
	e->data = NULL;
	e->missing = true;
	e->props_len = 0;
	e->body_len = len;
	e->crc = crc;
}

static int mb_read(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len, uint32_t crc,
		   struct qsg_wbuf *out)
{
	struct membodies *mb = arg;
	struct mb_ent *e = find(&mb->live, seqno);
	if (e == NULL || !same(e, props_len, body_len, crc)) {
		const struct mb_ent *src = peer_find(mb, seqno, props_len, body_len, crc);
		if (src == NULL || (e == NULL && (e = live_get(mb, seqno)) == NULL) ||
		    fill(mb, e, src->data, props_len, body_len, crc) != QSG_OK)
			return QSG_RC_IO;
	}
	size_t n = (size_t)props_len + body_len;
	if (qsg_crc32c(0, e->data, n) != crc)
		return QSG_RC_IO;
	qsg_put_bytes(out, e->data, n);
	return out->err == QSG_OK ? QSG_OK : QSG_RC_IO;
}

static void mb_release(void *arg, uint64_t seqno)
{
	/* Every part: parts 0 .. n-1 are put in order. */
	struct membodies *mb = arg;
	struct mb_ent *e;
	for (uint32_t part = 0; (e = find_part(&mb->live, seqno, part)) != NULL; part++)
		live_remove(mb, e);
}

/* Every part of seqno moves to new_seqno (an entry there is replaced), a
 * missing one too (a read then asks the peers under the new seqno);
 * applied again (seqno gone, new_seqno there) a no-op. */
static int mb_rename(void *arg, uint64_t seqno, uint64_t new_seqno)
{
	struct membodies *mb = arg;
	struct mb_ent *e = find(&mb->live, seqno);
	if (e == NULL)
		return find(&mb->live, new_seqno) != NULL ? QSG_OK : QSG_RC_IO;
	for (uint32_t part = 0; (e = find_part(&mb->live, seqno, part)) != NULL; part++) {
		struct mb_ent *old = find_part(&mb->live, new_seqno, part);
		if (old != NULL)
			live_remove(mb, old);
		hmap_remove(&mb->live, &e->node);
		e->seqno = new_seqno;
		if (hmap_insert(&mb->live, &e->node, key_hash(new_seqno, part)) != QSG_OK) {
			/* Cannot happen: the map had room for it. */
			if (!e->missing)
				mb->held--;
			ent_free(e);
			return QSG_RC_IO;
		}
	}
	return QSG_OK;
}

static void mb_claim(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len, uint32_t crc)
{
	struct membodies *mb = arg;
	struct mb_ent *e = live_get(mb, seqno);
	if (e == NULL)
		return; /* out of memory: a later read asks the peers */
	e->gen = mb->gen;
	if (same(e, props_len, body_len, crc))
		return;
	const struct mb_ent *src = peer_find(mb, seqno, props_len, body_len, crc);
	if (src != NULL && fill(mb, e, src->data, props_len, body_len, crc) == QSG_OK)
		return;
	/* Not held anywhere: missing until a read finds it or it is
	 * released. */
	if (!e->missing)
		mb->held--;
	free(e->data);
	e->data = NULL;
	e->missing = true;
	e->props_len = props_len;
	e->body_len = body_len;
	e->crc = crc;
}

static void mb_restored(void *arg, uint64_t last_seqno)
{
	struct membodies *mb = arg;
	struct hmap_node *n = hmap_next(&mb->live, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&mb->live, n);
		struct mb_ent *e = (struct mb_ent *)n;
		if (e->seqno <= last_seqno && e->gen != mb->gen)
			live_remove(mb, e);
		n = next;
	}
	mb->gen++;
}

struct membodies *membodies_new(void)
{
	struct membodies *mb = calloc(1, sizeof *mb);
	if (mb == NULL)
		return NULL;
	hmap_init(&mb->live);
	hmap_init(&mb->grave);
	mb->prev = mb->next = mb;
	mb->gen = 1;
	return mb;
}

void membodies_free(struct membodies *mb)
{
	if (mb == NULL)
		return;
	mb->prev->next = mb->next;
	mb->next->prev = mb->prev;
	struct hmap_node *n = hmap_next(&mb->live, NULL);
	while (n != NULL) {
		struct hmap_node *next = hmap_next(&mb->live, n);
		ent_free((struct mb_ent *)n);
		n = next;
	}
	hmap_close(&mb->live);
	struct mb_ent *e = mb->ghead;
	while (e != NULL) {
		struct mb_ent *next = e->gnext;
		ent_free(e);
		e = next;
	}
	hmap_close(&mb->grave);
	free(mb);
}

void membodies_provider(struct membodies *mb, struct fsm_bodies *out)
{
	out->arg = mb;
	out->put = mb_put;
	out->read = mb_read;
	out->release = mb_release;
	out->claim = mb_claim;
	out->restored = mb_restored;
	out->put_part = mb_put_part;
	out->read_part = mb_read_part;
	out->claim_part = mb_claim_part;
	out->rename = mb_rename;
}

void membodies_link(struct membodies *a, struct membodies *b)
{
	if (a == NULL || b == NULL)
		return;
	const struct membodies *p = a;
	do {
		if (p == b)
			return; /* already one ring */
		p = p->next;
	} while (p != a);
	struct membodies *an = a->next, *bp = b->prev;
	a->next = b;
	b->prev = a;
	bp->next = an;
	an->prev = bp;
}

uint64_t membodies_count(const struct membodies *mb)
{
	return mb != NULL ? mb->held : 0;
}

/* The provider that keeps nothing (membodies_null_provider). */
static int nb_put(void *arg, uint64_t seqno, const void *props, uint32_t props_len,
		  const void *body, uint32_t body_len, uint32_t crc)
{
	(void)arg, (void)seqno, (void)props, (void)props_len, (void)body, (void)body_len, (void)crc;
	return QSG_OK;
}

static int nb_read(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len, uint32_t crc,
		   struct qsg_wbuf *out)
{
	(void)arg, (void)seqno, (void)props_len, (void)body_len, (void)crc, (void)out;
	return props_len == 0 && body_len == 0 ? QSG_OK : QSG_RC_IO;
}

static void nb_release(void *arg, uint64_t seqno)
{
	(void)arg, (void)seqno;
}

static void nb_claim(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len, uint32_t crc)
{
	(void)arg, (void)seqno, (void)props_len, (void)body_len, (void)crc;
}

static void nb_restored(void *arg, uint64_t last_seqno)
{
	(void)arg, (void)last_seqno;
}

static int nb_put_part(void *arg, uint64_t seqno, uint32_t part, const void *props,
		       uint32_t props_len, const void *body, uint32_t body_len, uint32_t crc)
{
	(void)arg, (void)seqno, (void)part, (void)props, (void)props_len, (void)body,
	    (void)body_len, (void)crc;
	return QSG_RC_IO;
}

static int nb_read_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc,
			struct qsg_wbuf *out)
{
	(void)arg, (void)seqno, (void)part, (void)len, (void)crc, (void)out;
	return QSG_RC_IO;
}

static void nb_claim_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc)
{
	(void)arg, (void)seqno, (void)part, (void)len, (void)crc;
}

static int nb_rename(void *arg, uint64_t seqno, uint64_t new_seqno)
{
	(void)arg, (void)seqno, (void)new_seqno;
	return QSG_OK;
}

static const struct fsm_bodies null_bodies = {
    .put = nb_put,
    .read = nb_read,
    .release = nb_release,
    .claim = nb_claim,
    .restored = nb_restored,
    .put_part = nb_put_part,
    .read_part = nb_read_part,
    .claim_part = nb_claim_part,
    .rename = nb_rename,
};

void membodies_null_provider(struct fsm_bodies *out)
{
	*out = null_bodies;
}
