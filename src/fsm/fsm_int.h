/* Internal interface of the state machine, shared by the files of src/fsm
 * and by nothing else (the unit tests may include it to inspect the state):
 *  - the command codec (cmd.c) and the state machine proper;
 *  - the state's types (struct fsm, queues, messages, sessions, channel
 *    status entries) and the functions one concern's file offers the others.
 * Files: fsm.c (lifecycle, entry decode, dispatch), fsm_qtable.c (messages,
 * index, priority lists, queue table, alias and transmission queue
 * resolution: the bottom layer), fsm_desc.c (the descriptor, struct qmsg,
 * and its optional fields), fsm_body.c (the message constructor and
 * destructor, content through the body provider; membodies.c is the
 * built-in provider), fsm_queue.c (PUT/GET/BROWSE),
 * fsm_object.c (queue definitions), fsm_uow.c (sessions, units of work), fsm_member.c (members,
 * leases), fsm_chan.c (channel tables, definitions, status CAS, channel
 * queries), fsm_chmsg.c (channel message transfer), fsm_park.c (the
 * parks of a sender's black list), fsm_reap.c (garbage
 * freed after the apply, in slices), fsm_snapshot.c (fsm_snapmsg.c: its
 * message codec, fsm_snap.h), fsm_delta.c (format 12 delta snapshots) and
 * fsm_dtrack.c (their change tracking: the bottom layer),
 * fsm_query.c, fsm_check.c (invariants, checked builds only), sorted.c
 * (sorted-array search). Internal functions carry no fsm_ prefix: that
 * prefix is the public interface of fsm.h. */
#ifndef QSG_FSM_INT_H
#define QSG_FSM_INT_H

#include "fsm.h"
#include "../common/slab.h"
#include "hmap.h"

/* fsm_msg_encode/fsm_msg_decode (the message layout) are public in fsm.h. */

/* Queue attributes, all fields (QDEFINE/QALTER bodies and snapshots). */
void fsm_qattrs_encode(struct qsg_wbuf *w, const struct fsm_qattrs *a);
/* Returns QSG_OK or a reason code with errmsg for bad values. */
int fsm_qattrs_decode(struct qsg_rbuf *r, struct fsm_qattrs *a, char *errmsg);

/* MQ object name: 1..FSM_NAME_MAX of [A-Za-z0-9._/%]. */
bool fsm_name_valid(const char *s);
/* Channel name: 1..FSM_CHNAME_MAX of the same characters. */
bool fsm_chname_valid(const char *s);

/* Channel attributes, all fields (CHDEFINE/CHALTER bodies and snapshots);
 * decode checks the name, the set bits and the enums. */
void fsm_chattrs_encode(struct qsg_wbuf *w, const struct fsm_chattrs *a);
int fsm_chattrs_decode(struct qsg_rbuf *r, struct fsm_chattrs *a, char *errmsg);
/* Status image: u8 exists, u32 owner, u8 state, u64 epoch (decode sets
 * r->err for exists > 1 or state > FSM_CHS_MAX). */
void fsm_chimage_encode(struct qsg_wbuf *w, const struct fsm_chimage *i);
void fsm_chimage_decode(struct qsg_rbuf *r, struct fsm_chimage *i);

/* --- the state ---------------------------------------------------------- */

#define NPRIO 10

enum msg_state {
	MS_VISIBLE = 1, /* committed, in the priority list (and the index) */
	MS_HELD = 2, /* put under syncpoint, in a session's uow only */
	MS_LOCKED = 3, /* got under syncpoint, in a session's uow only */
	MS_CHLOCKED = 4, /* got by a sender channel, in its locked list only */
	MS_PARKED = 5, /* committed, of a listed destination: in a park's lists
			* (m->park) instead of its queue's priority lists, still
			* in its queue's expiry heap and depth (fsm_chmsg.c) */
};

struct ikey;

/* struct qmsg flag bits. */
#define QM_PERSISTENT 0x01
#define QM_CHUNKED 0x02 /* content in parts: f->chunks has its part table */
/* QM_XFER: in a uow, not under syncpoint: MS_HELD: a chunked put that
 * becomes visible by itself when its last part is applied; MS_LOCKED: a
 * chunked message got outside syncpoint, consumed by GET_DONE (cleared by
 * make_visible; meaningless in other states). */
#define QM_XFER 0x04
#define QM_MARK 0x08 /* CH_SETTLE scratch (0 outside an apply) */
#define QM_GENID 0x10 /* msgid is msgid_gen(seqno, put_time_ms): not stored */
#define QM_INDEXED 0x20 /* in its queue's index (x->iprev, x->inext) */
/* QM_TOUCHED: delta tracking (fsm_delta.c), not state: a message of the
 * base (seqno <= f->dt.base_max) linked into its queue's priority list since
 * the base, so in the queue's touched map (q->dtouched). */
#define QM_TOUCHED 0x40

/* What few messages need, out of line (docs/storage.md, "The in-memory
 * descriptor"). m->x is non-NULL iff one of these is not its default:
 * msgid (stored only without QM_GENID; zero with it), correlid, expiry,
 * hold_until, backout_count not 0, or QM_INDEXED (the index links; NULL
 * otherwise). fsm_check.c checks it. */
struct qmsg_ext {
	struct qmsg *iprev, *inext; /* index key list, in get order */
	uint8_t msgid[FSM_ID_LEN];
	uint8_t correlid[FSM_ID_LEN];
	int64_t expiry_ms; /* absolute, 0 = never */
	int64_t hold_until; /* channel HOLD: CH_GETBATCH skips it before this */
	uint32_t backout_count;
	uint32_t xpos; /* visible with an expiry: its place in q->xheap
			* (XPOS_NONE: not there) */
};
#define XPOS_NONE UINT32_MAX

/* The descriptor of every message in the state: 72 bytes, a glibc chunk of
 * 80, whatever the message (the rest is in `x` when needed). The fields
 * are read through the qmsg_* accessors below where they may be in x. */
struct qmsg {
	union {
		struct qmsg *prev; /* priority list, sorted by seqno */
		uint64_t chseq; /* MS_CHLOCKED (off the priority list): channel
				 * sequence number */
	};
	struct qmsg *next;
	union {
		struct qmsg *uow_next; /* session uow list, channel locked list */
		struct park *park; /* MS_PARKED: the park it is in */
	};
	struct queue *q;
	struct qmsg_ext *x; /* NULL: every optional field at its default */
	uint64_t seqno;
	int64_t put_time_ms;
	/* The content (props then body) is not here: it lives with the body
	 * provider (f->bodies), keyed by seqno; crc = crc32c(props || body). */
	uint32_t props_len;
	uint32_t body_len;
	uint32_t crc;
	uint8_t state; /* enum msg_state */
	uint8_t priority;
	uint8_t flags; /* QM_* */
};
_Static_assert(sizeof(struct qmsg) <= 72, "struct qmsg must stay a malloc request of <= 72 "
					  "bytes (80-byte glibc chunk): docs/storage.md");

static inline int64_t qmsg_expiry(const struct qmsg *m)
{
	return m->x != NULL ? m->x->expiry_ms : 0;
}

static inline int64_t qmsg_hold_until(const struct qmsg *m)
{
	return m->x != NULL ? m->x->hold_until : 0;
}

static inline uint32_t qmsg_backout(const struct qmsg *m)
{
	return m->x != NULL ? m->x->backout_count : 0;
}

/* The part table of a chunked message (f->chunks, by seqno): only large
 * messages pay for it. crc[i] is part i's CRC32C; parts 0 .. nrecv - 1
 * are in (nrecv < nparts only for a put still receiving parts, MS_HELD). */
struct chunkinfo {
	struct hmap_node node;
	uint64_t seqno;
	uint64_t pseq; /* producer seq of the put (0 = none): put_seq is
			* advanced to it when the last part is in */
	uint32_t nparts;
	uint32_t nrecv;
	uint32_t crc[];
};

struct ikey {
	struct hmap_node node;
	uint8_t key[FSM_ID_LEN];
	struct qmsg *head, *tail;
};

/* One slot of a queue's expiry heap: the key, copied from the message, and
 * the message. */
struct xent {
	int64_t expiry;
	uint64_t seqno;
	struct qmsg *m;
};

/* A fence: some messages of one list kept in get order (a priority list,
 * or an index key's list) are anchors, and the list's fence is a sorted
 * array of them, so an insertion in the middle of a deep list (a backout,
 * a late commit) finds its place by a binary search then a walk from the
 * anchor before it (docs/storage.md, "Backout into a deep queue"). Derived
 * data, not state: a message is an anchor iff fence_anchor(m), a function
 * of its seqno alone (about one message in FENCE_EVERY), so every member
 * has the same anchors; an allocation failure leaves an anchor out, which
 * only makes a walk longer. Entries are {key, message}, key =
 * fence_key(m): the order of msg_get_before. The live entries are
 * e[off .. off + n) (a deque: removals at the front, the common case,
 * move nothing). */
#define FENCE_SHIFT 6
#define FENCE_EVERY (1u << FENCE_SHIFT)
#define FENCE_SEQ_LIMIT ((uint64_t)1 << 60) /* anchors only below it */

struct fent {
	uint64_t key;
	struct qmsg *m;
};

struct fence {
	struct hmap_node node; /* an index key's fence: in q->chf, by k */
	const struct ikey *k;
	struct fent *e;
	uint32_t off, n, cap;
};

static inline bool fence_anchor(const struct qmsg *m)
{
	return m->seqno < FENCE_SEQ_LIMIT &&
	       (m->seqno * 0x9e3779b97f4a7c15ull) >> (64 - FENCE_SHIFT) == 0;
}

static inline uint64_t fence_key(const struct qmsg *m)
{
	return ((uint64_t)(NPRIO - 1 - m->priority) << 60) | m->seqno;
}

struct queue {
	struct hmap_node node;
	struct fsm_qattrs attrs;
	struct qmsg *head[NPRIO], *tail[NPRIO];
	/* The fences of the priority lists (NULL: no anchor in the list) and
	 * of the index keys' lists that have one (struct fence by ikey
	 * address; a key of one message has none). Derived. */
	struct fence *pf[NPRIO];
	struct hmap chf;
	uint32_t curdepth; /* visible + held + locked */
	uint32_t uncommitted; /* held + locked */
	uint32_t nvisible;
	/* The visible messages with an expiry, a 4-ary min-heap by (expiry,
	 * seqno) (fsm_xheap.c): EXPIRE takes what is due from its top, never
	 * walks the queue. Derived: restore and make_visible rebuild it. */
	struct xent *xheap;
	uint32_t nexpiring; /* its size */
	uint32_t xcap;
	uint32_t opens;
	uint64_t puts_total;
	uint64_t gets_total;
	struct hmap index; /* ikey by msgid or correlid (INDXTYPE) */
	bool index_ok; /* false after an allocation failure: gets scan */
	bool park; /* the lists of a park (struct park), not a queue */
	uint32_t pending; /* CH_RECV_BATCH scratch (0 outside an apply) */
	/* Not state: delta tracking (fsm_delta.c), the messages of the base
	 * linked into this queue's priority lists since the base (struct
	 * dtnode by seqno; QM_TOUCHED). */
	struct hmap dtouched;
};

struct sopen {
	struct sopen *next;
	struct queue *q;
	uint32_t count;
};

struct session {
	struct hmap_node node;
	uint64_t client_id;
	uint64_t epoch;
	uint64_t put_seq;
	uint64_t uows_done;
	uint32_t owner;
	uint8_t attached;
	int64_t detached_at;
	struct sopen *opens;
	struct qmsg *uow_head, *uow_tail;
	uint32_t uow_count;
};

/* A touched message in q->dtouched (fsm_dtrack.c), by seqno. */
struct dtnode {
	struct hmap_node node; /* first */
	struct qmsg *m;
};

/* A queue whose base messages all left at once (CLEAR, DELETE). */
struct dtcleared {
	char name[FSM_NAME_MAX + 1];
	uint32_t scope;
};

/* Delta tracking since a base (fsm_delta.c, docs/storage.md "A base and
 * deltas"): member-local, not state, never read by an apply. */
struct dtrack {
	bool on; /* a base was taken and nothing was lost since */
	uint64_t base_max; /* last_seqno at the base */
	uint64_t base_count; /* committed (visible) messages at the base */
	uint64_t ntouched; /* QM_TOUCHED messages, over every q->dtouched */
	/* Seqnos of base messages that left a priority list (not touched
	 * ones: those are in dtouched), in the order they left. */
	uint64_t *removed;
	size_t nremoved, capremoved;
	struct dtcleared *cleared;
	size_t ncleared, capcleared;
};

struct fsm {
	/* Not state: delta tracking (fsm_delta.c). */
	struct dtrack dt;
	/* Every struct qmsg of this state (src/common/slab.h); created by the
	 * first msg_new, closed by state_free. */
	struct qsg_slab *descs;
	/* Every struct qmsg_ext, likewise: a CLEAR of 1M messages that carry a
	 * correlid frees 1M of them, which as malloc chunks left glibc sorting
	 * its bins inside the loop's next small callocs (What is left 6(g)). */
	struct qsg_slab *exts;
	/* After fsm_restore_install: the messages whose claims the provider
	 * has not had yet (fsm_restore_claims), in snapshot order. */
	struct qmsg **claim_m;
	size_t claim_n, claim_pos;
	bool claiming;
	struct hmap queues;
	struct hmap sessions;
	struct fsm_member *members; /* sorted by id */
	size_t nmembers;
	size_t capmembers;
	uint64_t last_seqno; /* group-wide message counter */
	int64_t last_time;
	uint64_t entries_applied;
	fsm_notify_cb notify;
	void *notify_arg;
	/* Channels (fsm_chan.h). Few objects: sorted arrays. */
	struct fsm_qmgr_attrs qmgr;
	struct fsm_chattrs *chdefs; /* by name */
	size_t nchdefs, capchdefs;
	struct chst **chsts; /* by (name, rqmname) */
	size_t nchsts, capchsts;
	struct hmap chunks; /* struct chunkinfo by seqno */
	struct fsm_syncq *syncqs; /* by (name, rqmname) */
	size_t nsyncqs, capsyncqs;
	uint64_t chan_gen;
	/* Users (fsm_user.c), sorted by name. */
	struct fsm_user *users;
	size_t nusers, capusers;
	/* Authority records (fsm_authrec.c), sorted by key; auth_gen is not
	 * state (not in snapshots): it changes with every record change and
	 * every restore. */
	struct fsm_authrec *authrecs;
	size_t nauthrecs, capauthrecs;
	uint64_t auth_gen;
	/* Channel authentication rules (fsm_chlauth.c), sorted by key. */
	struct fsm_chlauth *chlauths;
	size_t nchlauths, capchlauths;
	/* Sessions with a backout pending (detached, uow not empty: see
	 * fsm_backout_pending), by client_id. Derived from the sessions
	 * (fsm_restore rebuilds it); orders the backout. */
	uint64_t *pend;
	size_t npend, cappend;
	/* Invariant checks (fsm_check.c, QSG_CHECKED builds only; not state):
	 * applies since the last check and the applies between two checks. */
	uint64_t check_skip, check_every;
	/* Not state either: the body provider (fsm_set_bodies, else the
	 * built-in in-memory one, `mem`), the scratch buffer content is read
	 * into (reused), and whether a provider call failed during the current
	 * apply (fsm_apply then returns QSG_RC_IO). fsm_restore keeps them. */
	struct fsm_bodies bodies;
	struct membodies *mem;
	struct qsg_wbuf scratch;
	bool body_failed;
	/* An allocation that a command cannot undo failed (qmsg_set_*): the
	 * apply fails with QSG_RC_STORAGE_NOT_AVAILABLE, as when a command
	 * returns it (the replica is no longer trusted). */
	bool alloc_failed;
	/* The last EXPIRE_BOUNDED stopped at its budget with messages still
	 * due (derived, not in snapshots: a hint for the leader). */
	bool expire_more;
	const char *body_fail_what; /* "put" or "read" */
	uint64_t body_fail_seqno;
	/* Not state: garbage (fsm_reap.c). Messages that left the state in
	 * one O(1) step (CLEAR, DELETE PURGE), linked by `next`, and the
	 * msgid/correlid indexes they were in; fsm_reap frees them (content
	 * released) in slices outside apply, state_free without release. */
	struct qmsg *reap_head, *reap_tail;
	uint64_t reap_msgs;
	struct reap_index *reap_idx;
	/* Not state: the list steps make_visible and the index insertion
	 * took (walks between neighbours), for tests that check a backout
	 * into a deep queue is not O(depth). */
	uint64_t walk_steps;
	/* Not state: what the CH_GETBATCH walks of senders with a black list
	 * did (descriptors examined, XQH read), for tests that check a deep
	 * backlog of a listed destination does not make a get O(depth). */
	uint64_t blk_steps, blk_reads;
	/* Not state: messages a selective GET/BROWSE looked at (find_first in
	 * fsm_queue.c), for tests that check a get by an indexed id on a deep
	 * queue uses the index, not a scan. */
	uint64_t match_steps;
};

/* The messages of one listed destination, off their transmission queue's
 * priority lists (docs/channels.md "Destination black list"): `l` is used
 * for its priority lists and fences only (make_visible/take_visible on it:
 * get order, O(log n + FENCE_EVERY) insertion; l.nvisible and l.curdepth
 * count them), the messages stay messages of `xq` (m->q, its depth and
 * expiry heap). */
struct park {
	struct queue l;
	struct queue *xq;
};

/* A channel status entry with the messages locked to it (linked by
 * uow_next, in chseq order; s.indoubt counts them) and the parks of its
 * black list (pk[i] for s.blk[i], NULL: none). */
struct chst {
	struct fsm_chstatus s;
	struct qmsg *lk_head, *lk_tail;
	struct park *pk[FSM_CH_BLK_MAX];
};

/* --- functions shared between the files ---------------------------------- */

/* fsm.c */
void state_init(struct fsm *f);
void state_free(struct fsm *f);

/* fsm_qtable.c */
int64_t sat_add_i64(int64_t a, int64_t b);
uint64_t id_hash(uint64_t v);
void queue_notify(struct fsm *f, struct queue *q, uint32_t n);
bool msg_expired(const struct qmsg *m, int64_t now);
bool msg_get_before(const struct qmsg *a, const struct qmsg *b);
/* Whether q has a usable msgid/correlid index (INDXTYPE set, no
 * allocation failure); the index entry of key (NULL if none). */
bool index_active(const struct queue *q);
struct ikey *index_find(const struct queue *q, const uint8_t *key);
void index_build(struct fsm *f, struct queue *q);
/* Link a committed message into its priority list (and the index) in get
 * order. from_tail: where its place probably is (a new commit: near the
 * tail; a backout: near the head); any place costs O(log n + FENCE_EVERY)
 * with the fences. */
void make_visible(struct fsm *f, struct queue *q, struct qmsg *m, bool from_tail);
/* The fences of q dropped (its lists leave the state at once: CLEAR,
 * DELETE, teardown). */
void fences_drop(struct queue *q);
void take_visible(struct fsm *f, struct queue *q, struct qmsg *m);
/* Take a visible message off its queue (curdepth included) and free it
 * (msg_free: released). */
void remove_visible(struct fsm *f, struct queue *q, struct qmsg *m);
uint64_t queue_hash(uint32_t scope, const char *name);
struct queue *queue_find(const struct fsm *f, uint32_t scope, const char *name);
struct queue *queue_lookup(const struct fsm *f, uint32_t member, const char *name);
/* Teardown (state_free): frees the queue and its messages without
 * releasing their content (the state is replaced, not consumed). */
void queue_free(struct queue *q);
int cmp_queue(const void *a, const void *b);
int queues_sorted(const struct fsm *f, struct queue ***out, size_t *n);
int queue_resolve(const struct fsm *f, uint32_t member, const char *name, struct queue **out,
		  struct queue **alias);
bool xmitq_ok(const struct queue *x);
int resolve_xmitq(const struct fsm *f, uint32_t member, const struct queue *rq, struct queue **out);

/* fsm_desc.c: the descriptor (struct qmsg) and its optional fields. */
/* The generated MsgId of seqno put at put_ms: "QSG" 0x01, seqno (u64 LE),
 * put_ms (i64 LE), 4 zero bytes. */
void msgid_gen(uint8_t *id, uint64_t seqno, int64_t put_ms);
/* m's msgid: a pointer to it, in buf (FSM_ID_LEN bytes) when generated. */
const uint8_t *qmsg_msgid(const struct qmsg *m, uint8_t *buf);
const uint8_t *qmsg_correlid(const struct qmsg *m);
/* The key of m in an index of type indxtype (qmsg_msgid's buf rule). */
const uint8_t *qmsg_key(const struct qmsg *m, uint8_t indxtype, uint8_t *buf);
/* m's fields, props/body with their lengths only (NULL pointers). */
void msg_view(const struct qmsg *m, struct fsm_msg *out);
/* A descriptor with src's fields (its props/body only give the lengths;
 * crc is the caller's), with an extension only if a field needs one.
 * Nothing is put to the provider. NULL: out of memory. */
struct qmsg *msg_new(struct fsm *f, const struct fsm_msg *src, uint32_t crc);
/* Free the descriptor and its extension (content not released). */
void msg_destroy(struct qmsg *m);
/* m's extension, allocated (zeroed) if it has none; NULL: out of memory. */
struct qmsg_ext *qmsg_ext(struct fsm *f, struct qmsg *m);
/* Free m's extension if every field in it is at its default. */
void qmsg_ext_trim(struct qmsg *m);
/* Set an optional field; QSG_OK, or QSG_RC_STORAGE_NOT_AVAILABLE with
 * f->alloc_failed set (the field unchanged; the apply fails). */
int qmsg_set_backout(struct fsm *f, struct qmsg *m, uint32_t n);
int qmsg_set_hold(struct fsm *f, struct qmsg *m, int64_t until);
/* Store a generated msgid before seqno changes (msg_renumber): QSG_OK or
 * QSG_RC_STORAGE_NOT_AVAILABLE (f->alloc_failed). */
int qmsg_keep_msgid(struct fsm *f, struct qmsg *m);

/* fsm_body.c: the one constructor and destructor of messages with content
 * and the content reads (the provider is f->bodies, membodies.h by
 * default). */
uint32_t msg_crc(const struct fsm_msg *v);
/* Provider failure (what: "put" or "read" of seqno): sets f->body_failed,
 * returns QSG_RC_IO. */
int body_fail(struct fsm *f, const char *what, uint64_t seqno);
/* A new message from content v (seqno set): crc computed, content put to
 * the provider. QSG_OK, QSG_RC_STORAGE_NOT_AVAILABLE or QSG_RC_IO. */
int msg_create(struct fsm *f, const struct fsm_msg *v, struct qmsg **out);
/* The message leaves the state: content released, descriptor freed. */
void msg_free(struct fsm *f, struct qmsg *m);
/* m's fields with its content read into f->scratch (v's slices point into
 * it until the next read). QSG_OK or QSG_RC_IO (body_fail). */
int msg_read(struct fsm *f, const struct qmsg *m, struct fsm_msg *v);
/* Give m a new seqno (moved to a backout queue as a new arrival): the
 * provider renames its content (fsm_bodies.rename, O(1)), or, without
 * rename, it is read, put under the new seqno and released under the old
 * one. */
int msg_renumber(struct fsm *f, struct qmsg *m, uint64_t seqno);

/* Large messages (fsm_body.c). */
struct chunkinfo *chunk_find(const struct fsm *f, uint64_t seqno);
/* A part table for m (seqno set) with nparts parts, nrecv crcs from crc
 * (may be NULL when nrecv is 0); QM_CHUNKED set. QSG_OK or
 * QSG_RC_STORAGE_NOT_AVAILABLE. */
int chunk_attach(struct fsm *f, struct qmsg *m, uint32_t nparts, uint32_t nrecv, uint64_t pseq,
		 const uint32_t *crc);
/* Teardown (state_free): every part table freed. */
void chunks_free(struct fsm *f);
/* Append m in the message layout with part 0's body bytes only, then the
 * part table (u32 body_len, u32 nparts, nparts x u32 crc): the result of a
 * GET/BROWSE with FSM_F_CHUNKS of a chunked message. Nothing when out is
 * NULL. */
int qmsg_put_first(struct fsm *f, struct qsg_wbuf *out, const struct qmsg *m);
/* The whole message received (not chunked, or every part in). */
bool msg_complete(const struct fsm *f, const struct qmsg *m);

/* fsm_queue.c */
int op_put_chunk(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out);
int op_get_done(struct fsm *f, const struct fsm_cmd *c);
int op_put(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out);
/* Append m in the message layout (content read from the provider) to out;
 * nothing (and no read) when out is NULL. QSG_OK or QSG_RC_IO. */
int qmsg_put(struct fsm *f, struct qsg_wbuf *out, const struct qmsg *m);
int op_get(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out);
int op_browse(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out);

/* fsm_object.c */
bool attrs_type_ok(const struct fsm_qattrs *a);
int queue_create(struct fsm *f, const struct fsm_qattrs *a, struct queue **out);
void queue_destroy(struct fsm *f, struct queue *q);
int copies_for_member(struct fsm *f, uint32_t m);
int op_qdefine(struct fsm *f, const struct fsm_cmd *c);
int op_qalter(struct fsm *f, const struct fsm_cmd *c);
int op_qdelete(struct fsm *f, const struct fsm_cmd *c);
int op_qclear(struct fsm *f, const struct fsm_cmd *c);

/* fsm_uow.c */
void uow_append(struct session *s, struct qmsg *m);
/* Take m out of s's uow list (m must be in it). */
void uow_remove(struct session *s, struct qmsg *m);
/* Teardown (state_free, expired detached sessions, whose uow is empty):
 * frees without releasing content. */
void session_free(struct session *s);
int sessions_sorted(const struct fsm *f, bool only_owner, uint32_t owner, struct session ***out,
		    size_t *n);
/* Detach the attached sessions of owner (client_id order): opens dropped,
 * units of work backed out while *budget lasts (UINT64_MAX: all), the
 * sessions left with a uow go to f->pend. */
int detach_owned(struct fsm *f, uint32_t owner, int64_t now, uint64_t *budget);
/* f->pend from the sessions (fsm_restore). */
int pend_rebuild(struct fsm *f);
int op_backout_pending(struct fsm *f, const struct fsm_cmd *c);
int session_check(struct fsm *f, const struct fsm_cmd *c, struct session **out);
int op_attach(struct fsm *f, const struct fsm_cmd *c, struct qsg_wbuf *out);
int op_detach(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_open(struct fsm *f, const struct fsm_cmd *c);
int op_close(struct fsm *f, const struct fsm_cmd *c);
int op_commit(struct fsm *f, const struct fsm_cmd *c);
int op_backout(struct fsm *f, const struct fsm_cmd *c);

/* fsm_member.c */
struct fsm_member *member_find(const struct fsm *f, uint32_t id);
struct fsm_member *member_add(struct fsm *f, uint32_t id);
int op_member_join(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_lease_renew(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_member_fail(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_member_fail_bounded(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_member_remove(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_member_join_bounded(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_member_remove_bounded(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_member_remove_qmgr(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_member_level(struct fsm *f, const struct fsm_cmd *c);

/* fsm_chan.c */
void chan_changed(struct fsm *f);
int chkey_cmp(const char *n1, const char *r1, const char *n2, const char *r2);
struct fsm_chattrs *chdef_find(const struct fsm *f, const char *name);
uint32_t chdef_scope(const struct fsm_chattrs *d);
struct chst *chst_find(const struct fsm *f, const char *name, const char *rqm);
struct chst *chst_insert(struct fsm *f, const char *name, const char *rqm, uint8_t type);
void lk_append(struct chst *e, struct qmsg *m);
size_t syncq_pos(const struct fsm *f, const char *name, const char *rqm, bool *found);
struct fsm_syncq *syncq_find(const struct fsm *f, const char *name, const char *rqm);
int op_qmgr_alter(struct fsm *f, const struct fsm_cmd *c);
bool chattrs_ok(const struct fsm_chattrs *a);
int op_chdefine(struct fsm *f, const struct fsm_cmd *c);
int op_chalter(struct fsm *f, const struct fsm_cmd *c);
int op_chdelete(struct fsm *f, const struct fsm_cmd *c);
int op_chinit_state(struct fsm *f, const struct fsm_cmd *c);
int op_chst_cas(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out);

/* fsm_chmsg.c */
int op_ch_getbatch(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out);
int op_ch_settle(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out);
int op_ch_reset(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_ch_recv_start(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out);
int op_ch_recv_batch(struct fsm *f, const struct fsm_cmd *c, int64_t now, struct qsg_wbuf *out);

/* fsm_park.c: parks (struct park). A new park for queue xq (NULL: out of
 * memory); a park freed with its messages, not released (empty, or the
 * state's teardown), and all of a status entry's. m (off every list) into
 * park pk in get order (from_tail as make_visible); m (MS_PARKED) out of
 * its park, off every list (m->q its queue, whose curdepth is unchanged).
 * reap_queue (fsm_reap.c) takes the parks of a queue with it. */
struct park *park_new(struct queue *xq);
void park_free(struct park *pk);
void park_free_all(struct chst *e);
void park_insert(struct fsm *f, struct park *pk, struct qmsg *m, bool from_tail);
void park_take(struct fsm *f, struct qmsg *m);

/* fsm_user.c: the user ops, their command bodies (cmd.c calls the codec
 * for the USER ops) and the user table in snapshots (format 9). */
void user_encode(uint8_t op, const struct fsm_user *u, struct qsg_wbuf *w);
int user_decode(uint8_t op, struct qsg_rbuf *r, struct fsm_user *u, char *errmsg);
int op_user_define(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_user_alter(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_user_delete(struct fsm *f, const struct fsm_cmd *c);
void users_snap(const struct fsm *f, struct qsg_wbuf *out);
int users_restore(struct fsm *g, struct qsg_rbuf *r, char *errmsg);

/* fsm_authrec.c: the authority record ops, their command bodies and the
 * records in snapshots (format 10). */
void authrec_encode(uint8_t op, const struct fsm_authrec *a, struct qsg_wbuf *w);
int authrec_decode(uint8_t op, struct qsg_rbuf *r, struct fsm_authrec *a, char *errmsg);
int op_authrec_set(struct fsm *f, const struct fsm_cmd *c);
int op_authrec_delete(struct fsm *f, const struct fsm_cmd *c);
void authrecs_snap(const struct fsm *f, struct qsg_wbuf *out);
int authrecs_restore(struct fsm *g, struct qsg_rbuf *r, char *errmsg);

/* fsm_chlauth.c: CHLAUTH_SET, its command body and the rules in snapshots
 * (format 11). */
void chlauth_encode(const struct fsm_chlauth *a, struct qsg_wbuf *w);
int chlauth_decode(struct qsg_rbuf *r, struct fsm_chlauth *a, char *errmsg);
int op_chlauth_set(struct fsm *f, const struct fsm_cmd *c);
void chlauths_snap(const struct fsm *f, struct qsg_wbuf *out);
int chlauths_restore(struct fsm *g, struct qsg_rbuf *r, char *errmsg);

/* fsm_xheap.c */
/* q's expiry heap: m (visible, with an expiry) joins it; QSG_OK, or
 * QSG_RC_STORAGE_NOT_AVAILABLE with m left out (x->xpos XPOS_NONE); m
 * leaves it; the heap is freed (the queue's messages left with it). */
int xheap_add(struct queue *q, struct qmsg *m);
void xheap_del(struct queue *q, struct qmsg *m);
void xheap_drop(struct queue *q);

/* fsm_expire.c */
int op_expire(struct fsm *f, const struct fsm_cmd *c, int64_t now);
int op_expire_bounded(struct fsm *f, const struct fsm_cmd *c, int64_t now);

/* fsm_reap.c */
/* Every visible message of q leaves the state at once, in O(NPRIO): its
 * priority lists and its index go to the garbage (nvisible and curdepth
 * drop by the visible count). fsm_reap frees and releases them later. */
void reap_queue(struct fsm *f, struct queue *q);
/* One visible message of q out of the state (curdepth too) into the
 * garbage: O(log n) for its expiry heap, its content freed later. */
void reap_msg(struct fsm *f, struct queue *q, struct qmsg *m);
/* Teardown (state_free): frees the garbage without releasing content. */
void reap_free_all(struct fsm *f);

/* fsm_dtrack.c: delta tracking hooks (no-ops without a base, and for park
 * lists). m was linked into q's priority list (make_visible); m is leaving
 * it (take_visible); a field of m changed (qmsg_set_*); every visible
 * message of q leaves at once (reap_queue); teardown of q. */
void delta_linked(struct fsm *f, struct queue *q, struct qmsg *m);
void delta_unlinked(struct fsm *f, struct queue *q, struct qmsg *m);
void delta_touched(struct fsm *f, struct qmsg *m);
void delta_cleared(struct fsm *f, struct queue *q);
void delta_queue_free(struct queue *q);
/* Teardown of f's tracking (state_free). */
void delta_free(struct fsm *f);

/* fsm_check.c */
/* Check the state's invariants with QSG_ASSERT (abort on failure) and
 * return the number of objects walked; a no-op returning 0 unless compiled
 * with QSG_CHECKED. fsm_apply and fsm_restore call it (amortised: after a
 * check that walked W objects the next comes W / 64 applies later). */
size_t state_check(const struct fsm *f);
void state_check_amortised(struct fsm *f);

#endif
