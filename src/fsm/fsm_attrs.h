/* Queue and channel attributes, declared once.
 *
 * Each attribute is one line of an X-macro table (in the manner of dqlite's
 * command.h). Generated from the tables:
 *   - the fields of struct fsm_qattrs (fsm.h) and struct fsm_chattrs
 *     (fsm_chan.h), in table order;
 *   - the FSM_QA_<KEYWORD> and FSM_CA_<KEYWORD> bits (below);
 *   - the attribute codec, fsm_qattrs_encode/decode and
 *     fsm_chattrs_encode/decode (cmd.c): fields in table order, so the
 *     ORDER OF THE LINES IS THE WIRE AND SNAPSHOT FORMAT (never reorder;
 *     append new fields at the end of a table, as a new format version);
 *   - defaults and merge (fsm_attrs.c);
 *   - the descriptors (struct fsm_attr) the MQSC parser and DISPLAY walk
 *     (src/admin): keyword, value check and how the value is shown.
 * Rules that relate attributes to each other or to the object (queue type
 * consistency, alias restrictions, required attributes, the range checks a
 * decoder applies to bytes from the wire) are behaviour and stay
 * hand-written where they are applied (fsm.c, cmd.c, mqsc.c).
 *
 * Adding a queue attribute: one A(...) line in FSM_QATTRS plus its
 * behaviour (what the state machine does with it).
 *
 * The queue table has two parts. FSM_QATTRS_BASE is the original layout,
 * always encoded. FSM_QATTRS_TRIG (the trigger attributes, docs/channels.md
 * "Triggering") follows it on the wire and in snapshots only when `set`
 * has one of its bits (FSM_QA_TRIG_MASK): a record without them decodes
 * with their defaults, so commands and snapshots written before they
 * existed read as they were meant, and a queue that never had a trigger
 * attribute is written byte for byte as before. A stored queue's `set`
 * gains a trigger bit when a QDEFINE or QALTER gives it (fsm_qattrs_merge),
 * and keeps it. Never append rows to FSM_QATTRS_TRIG (the records that
 * carry it would change meaning): a later group of queue attributes needs
 * a table and bits of its own, encoded in the same way.
 *
 * Pure declarations and data; anyone may include it (fsm.h and fsm_chan.h
 * do). The tables name constants of fsm.h and fsm_chan.h but are expanded
 * only where those are defined. */
#ifndef QSG_FSM_ATTRS_H
#define QSG_FSM_ATTRS_H

#include <stddef.h>
#include <stdint.h>

/* --- column meanings ------------------------------------------------------
 *
 * F(field, type, n)           a field without an attribute bit (the name,
 *                             the set mask, fixed properties)
 * A(field, type, n, KW, bit, dflt, min, max, names, ...)
 *   field   C field name
 *   type    U8, U32 (numbers), NAME (MQ object name or ""), TEXT (free
 *           text), CONN (connection list): strings are char[n + 1]
 *   n       strings: maximum length; numbers: 0
 *   KW      MQSC keyword and DISPLAY name; the bit is FSM_QA_KW / FSM_CA_KW
 *   bit     value of that bit in fsm_qattrs.set / fsm_chattrs.set (wire)
 *   dflt    numbers: value given by DEFINE when not set (strings: "")
 *   min/max numbers without names: the range MQSC accepts
 *   names   enumerations: the table of MQSC values (struct fsm_attr_enum),
 *           NULL otherwise; DISPLAY shows the name
 * Queue rows then have ql, qr, qa: the attribute's position in DISPLAY
 * QLOCAL / QREMOTE / QALIAS output, 0 when that queue type does not take
 * it (MQSC refuses it, LIKE does not copy it, an alias cannot carry it).
 * Channel rows then have chl: the channel types that take it
 * (FSM_ATTR_SDR | FSM_ATTR_RCVR); DISPLAY CHANNEL shows every attribute in
 * table order. */

/* clang-format off */
#define FSM_QATTRS(F, A) FSM_QATTRS_BASE(F, A) FSM_QATTRS_TRIG(F, A)

#define FSM_QATTRS_BASE(F, A)                                                                     \
	F(name,          NAME, FSM_NAME_MAX)                                                       \
	F(set,           U32,  0) /* FSM_QA_* mask */                                              \
	A(maxdepth,      U32,  0,             MAXDEPTH, 0x0001, FSM_DEFAULT_MAXDEPTH, 0, 999999999, NULL, 1, 0, 0)  \
	A(maxmsgl,       U32,  0,             MAXMSGL,  0x0002, FSM_DEFAULT_MAXMSGL,  0, FSM_MAX_MSGL, NULL, 2, 0, 0) \
	A(defpsist,      U8,   0,             DEFPSIST, 0x0004, 0, 0, 0, fsm_attr_yes_no,   3, 0, 3)       \
	A(defprty,       U8,   0,             DEFPRTY,  0x0200, 0, 0, 9, NULL,              4, 0, 4)       \
	A(bothresh,      U32,  0,             BOTHRESH, 0x0008, 0, 0, 999999999, NULL,      5, 0, 0)       \
	A(boqname,       NAME, FSM_NAME_MAX,  BOQNAME,  0x0010, 0, 0, 0, NULL,              6, 0, 0)       \
	A(indxtype,      U8,   0,             INDXTYPE, 0x0020, 0, 0, 0, fsm_attr_indxtype, 7, 0, 0)       \
	A(get_inhibited, U8,   0,             GET,      0x0040, 0, 0, 0, fsm_attr_enabled,  8, 0, 5)       \
	A(put_inhibited, U8,   0,             PUT,      0x0080, 0, 0, 0, fsm_attr_enabled,  9, 0, 6)       \
	A(maxumsgs,      U32,  0,             MAXUMSGS, 0x0400, FSM_DEFAULT_MAXUMSGS, 1, 999999999, NULL, 10, 0, 0) \
	A(descr,         TEXT, FSM_DESCR_MAX, DESCR,    0x0100, 0, 0, 0, NULL,              12, 4, 2)      \
	F(qtype,         U8,   0) /* enum fsm_qtype, fixed by QDEFINE; 0 in a command = LOCAL */ \
	A(usage,         U8,   0,             USAGE,    0x0800, 0, 0, 0, fsm_attr_usage,    11, 0, 0)      \
	A(rname,         NAME, FSM_NAME_MAX,  RNAME,    0x1000, 0, 0, 0, NULL,              0, 1, 0)       \
	A(rqmname,       NAME, FSM_NAME_MAX,  RQMNAME,  0x2000, 0, 0, 0, NULL,              0, 2, 0)       \
	A(xmitq,         NAME, FSM_NAME_MAX,  XMITQ,    0x4000, 0, 0, 0, NULL,              0, 3, 0)       \
	A(target,        NAME, FSM_NAME_MAX,  TARGET,   0x8000, 0, 0, 0, NULL,              0, 0, 1)       \
	F(disp,          U8,   0) /* enum fsm_qdisp */                                             \
	F(scope,         U32,  0) /* 0, or the owning member (QMGR objects, COPYs) */

/* TRIGGER is a switch: MQSC TRIGGER / NOTRIGGER (fsm_attr_switch). TRIGDATA:
 * for a transmission queue, the channel to start. INITQ: accepted and shown,
 * used by nothing (docs/channels.md "Triggering"). */
#define FSM_QATTRS_TRIG(F, A)                                                                     \
	A(trigger,       U8,   0,             TRIGGER,  0x10000,  0, 0, 0, fsm_attr_switch, 13, 0, 0)      \
	A(trigtype,      U8,   0,             TRIGTYPE, 0x20000,  FSM_TRIG_FIRST, 0, 0, fsm_attr_trigtype, 14, 0, 0) \
	A(trigdpth,      U32,  0,             TRIGDPTH, 0x40000,  1, 1, 999999999, NULL,   15, 0, 0)      \
	A(trigdata,      TEXT, FSM_DESCR_MAX, TRIGDATA, 0x80000,  0, 0, 0, NULL,            16, 0, 0)      \
	A(initq,         NAME, FSM_NAME_MAX,  INITQ,    0x100000, 0, 0, 0, NULL,            17, 0, 0)

#define FSM_CHATTRS(F, A) FSM_CHATTRS_BASE(F, A) FSM_CHATTRS_DISP(F, A) FSM_CHATTRS_SSL(F, A)

#define FSM_CHATTRS_BASE(F, A)                                                                    \
	F(name,     NAME, FSM_CHNAME_MAX)                                                          \
	F(set,      U32,  0) /* FSM_CA_* mask */                                                   \
	A(chltype,  U8,   0,               CHLTYPE,  0x0001, 0, 0, 0, fsm_attr_chltype, FSM_ATTR_SDR | FSM_ATTR_RCVR)           \
	A(conname,  CONN, FSM_CONNAME_MAX, CONNAME,  0x0002, 0, 0, 0, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)                       \
	A(xmitq,    NAME, FSM_NAME_MAX,    XMITQ,    0x0004, 0, 0, 0, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)                       \
	A(batchsz,  U32,  0,               BATCHSZ,  0x0008, FSM_CH_DEFAULT_BATCHSZ,  1, FSM_MAX_CHBATCH, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR) \
	A(batchint, U32,  0,               BATCHINT, 0x0010, 0,                       0, 999999999, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)    \
	A(hbint,    U32,  0,               HBINT,    0x0020, FSM_CH_DEFAULT_HBINT,    0, 999999, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)       \
	A(discint,  U32,  0,               DISCINT,  0x0040, FSM_CH_DEFAULT_DISCINT,  0, 999999, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)       \
	A(shortrty, U32,  0,               SHORTRTY, 0x0080, FSM_CH_DEFAULT_SHORTRTY, 0, 999999999, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)    \
	A(shorttmr, U32,  0,               SHORTTMR, 0x0100, FSM_CH_DEFAULT_SHORTTMR, 0, 999999999, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)    \
	A(longrty,  U32,  0,               LONGRTY,  0x0200, FSM_CH_DEFAULT_LONGRTY,  0, 999999999, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)    \
	A(longtmr,  U32,  0,               LONGTMR,  0x0400, FSM_CH_DEFAULT_LONGTMR,  0, 999999999, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)    \
	A(compmsg,  U8,   0,               COMPMSG,  0x0800, 0, 0, 0, fsm_attr_compmsg, FSM_ATTR_SDR | FSM_ATTR_RCVR)          \
	A(usedlq,   U8,   0,               USEDLQ,   0x1000, 1, 0, 0, fsm_attr_yes_no, FSM_ATTR_SDR | FSM_ATTR_RCVR)           \
	A(maxmsgl,  U32,  0,               MAXMSGL,  0x4000, FSM_DEFAULT_MAXMSGL, 0, FSM_MAX_MSGL, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR) \
	A(pipeline, U32,  0,               PIPELINE, 0x8000, FSM_CH_DEFAULT_PIPELINE, 1, FSM_CH_MAX_PIPELINE, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR) \
	A(descr,    TEXT, FSM_DESCR_MAX,   DESCR,    0x2000, 0, 0, 0, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)

/* The disposition of a channel (docs/channels.md "Private channels"):
 * follows FSM_CHATTRS_BASE on the wire and in snapshots only when `set` has
 * FSM_CA_QSGDISP (fsm_chan.h), the way the trigger attributes follow the
 * queue table: a record without it is a shared channel (GROUP, scope 0), so
 * commands and snapshots written before private channels decode as they
 * were, and a shared channel is written byte for byte as before. Never
 * append rows here (the records that carry it would change meaning). */
#define FSM_CHATTRS_DISP(F, A)                                                                    \
	F(disp,     U8,   0) /* FSM_DISP_GROUP (shared) or FSM_DISP_QMGR (private) */             \
	F(scope,    U32,  0) /* QMGR: the owning member; GROUP: 0 */

/* TLS on the channel (docs/channels.md "TLS on channels"): SSLCIPH, the
 * CipherSpec (blank: plaintext; the names chtls.c maps), and SSLPEER, the
 * subject the partner's certificate must have (the TLS engine's
 * expect_peer rules). They follow the disposition part on the wire and in
 * snapshots only when `set` has one of their bits (FSM_CA_SSL_MASK), so
 * records written before them decode as they were and a channel without
 * them is written byte for byte as before. Command level 3. Never append
 * rows here. */
#define FSM_CHATTRS_SSL(F, A)                                                                     \
	A(sslciph,  TEXT, FSM_SSLCIPH_MAX, SSLCIPH,  0x20000, 0, 0, 0, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR) \
	A(sslpeer,  TEXT, FSM_SSLPEER_MAX, SSLPEER,  0x40000, 0, 0, 0, NULL, FSM_ATTR_SDR | FSM_ATTR_RCVR)
/* clang-format on */

/* Longest SSLCIPH (MQ: 32) and SSLPEER (MQ: 1024; qsg: the engine's peer
 * name holds 511). */
#define FSM_SSLCIPH_MAX 32
#define FSM_SSLPEER_MAX 255

/* Channel types in the chl column (the parser accepts every channel
 * attribute for both types today; CHLTYPE-specific requirements are in
 * fsm.c chattrs_ok). */
#define FSM_ATTR_SDR 0x1
#define FSM_ATTR_RCVR 0x2

/* --- generators ------------------------------------------------------------
 * FSM_ATTR_FIELD: a struct member. FSM_ATTR_NONE: nothing (for the F or A
 * rows a generator skips). */
#define FSM_ATTR_NONE(...)
#define FSM_ATTR_CTYPE_U8(f, n) uint8_t f;
#define FSM_ATTR_CTYPE_U32(f, n) uint32_t f;
#define FSM_ATTR_CTYPE_NAME(f, n) char f[(n) + 1];
#define FSM_ATTR_CTYPE_TEXT(f, n) char f[(n) + 1];
#define FSM_ATTR_CTYPE_CONN(f, n) char f[(n) + 1];
#define FSM_ATTR_FIELD(field, type, n, ...) FSM_ATTR_CTYPE_##type(field, n)

#define FSM_ATTR_QA_BIT(field, type, n, kw, bit, ...) FSM_QA_##kw = (bit),
#define FSM_ATTR_CA_BIT(field, type, n, kw, bit, ...) FSM_CA_##kw = (bit),
/* Bits of the attributes a queue type takes (LIKE copies exactly these; an
 * alias may carry only FSM_QA_QALIAS_MASK). */
#define FSM_ATTR_QL_BIT(field, type, n, kw, bit, d, lo, hi, names, ql, qr, qa)                     \
	| ((ql) != 0 ? (uint32_t)(bit) : 0u)
#define FSM_ATTR_QR_BIT(field, type, n, kw, bit, d, lo, hi, names, ql, qr, qa)                     \
	| ((qr) != 0 ? (uint32_t)(bit) : 0u)
#define FSM_ATTR_QA_ONLY_BIT(field, type, n, kw, bit, d, lo, hi, names, ql, qr, qa)                \
	| ((qa) != 0 ? (uint32_t)(bit) : 0u)
#define FSM_QA_QLOCAL_MASK (0u FSM_QATTRS(FSM_ATTR_NONE, FSM_ATTR_QL_BIT))
#define FSM_QA_QREMOTE_MASK (0u FSM_QATTRS(FSM_ATTR_NONE, FSM_ATTR_QR_BIT))
#define FSM_QA_QALIAS_MASK (0u FSM_QATTRS(FSM_ATTR_NONE, FSM_ATTR_QA_ONLY_BIT))
/* Bits of the trigger attributes (encoded only when one is in `set`). */
#define FSM_ATTR_ANY_BIT(field, type, n, kw, bit, ...) | (uint32_t)(bit)
#define FSM_QA_TRIG_MASK (0u FSM_QATTRS_TRIG(FSM_ATTR_NONE, FSM_ATTR_ANY_BIT))
/* Bits of the channel TLS attributes (their part is encoded only when one is
 * in `set`). */
#define FSM_CA_SSL_MASK (0u FSM_CHATTRS_SSL(FSM_ATTR_NONE, FSM_ATTR_ANY_BIT))

/* --- descriptors ---------------------------------------------------------- */

/* One value of an enumerated attribute; tables end with name == NULL. */
struct fsm_attr_enum {
	const char *name;
	uint8_t value;
};
extern const struct fsm_attr_enum fsm_attr_yes_no[]; /* NO=0 YES=1 */
extern const struct fsm_attr_enum fsm_attr_enabled[]; /* ENABLED=0 DISABLED=1 */
extern const struct fsm_attr_enum fsm_attr_indxtype[]; /* enum fsm_indxtype */
extern const struct fsm_attr_enum fsm_attr_usage[]; /* enum fsm_usage */
extern const struct fsm_attr_enum fsm_attr_chltype[]; /* enum fsm_chltype */
extern const struct fsm_attr_enum fsm_attr_compmsg[]; /* enum fsm_compmsg */
/* A switch (NO=0 YES=1): MQSC sets it with the bare keyword (TRIGGER) and
 * clears it with NO and the keyword (NOTRIGGER); KW(YES|NO) is accepted
 * too, and DISPLAY shows KW(YES|NO). */
extern const struct fsm_attr_enum fsm_attr_switch[];
extern const struct fsm_attr_enum fsm_attr_trigtype[]; /* enum fsm_trigtype */

/* TRIGTYPE values (MQ's MQTT_* numbers). */
enum fsm_trigtype {
	FSM_TRIG_NONE = 0,
	FSM_TRIG_FIRST = 1,
	FSM_TRIG_EVERY = 2,
	FSM_TRIG_DEPTH = 3,
};

enum fsm_attr_type {
	FSM_ATTR_U8 = 1,
	FSM_ATTR_U32,
	FSM_ATTR_NAME,
	FSM_ATTR_TEXT,
	FSM_ATTR_CONN,
};

/* One A(...) row, for code that walks attributes by keyword. */
struct fsm_attr {
	const char *keyword;
	uint32_t bit;
	enum fsm_attr_type type;
	size_t offset; /* of the field in struct fsm_qattrs / fsm_chattrs */
	size_t size; /* of the field (strings: n + 1) */
	uint32_t dflt, min, max;
	const struct fsm_attr_enum *names;
	uint8_t pos[3]; /* queues: DISPLAY position in QLOCAL, QREMOTE, QALIAS */
	uint8_t chl; /* channels: FSM_ATTR_SDR | FSM_ATTR_RCVR */
};

/* The rows, in table order. */
extern const struct fsm_attr fsm_qattr_table[];
extern const size_t fsm_qattr_count;
extern const struct fsm_attr fsm_chattr_table[];
extern const size_t fsm_chattr_count;

struct fsm_qattrs;
struct fsm_chattrs;

/* Defaults of QDEFINE/CHDEFINE: zeros, set = all bits (queues: all but
 * the trigger bits, see above), then each row's dflt. */
void fsm_qattrs_defaults(struct fsm_qattrs *a);
/* Only the trigger attributes take their defaults (set is not changed):
 * what a record without them means. */
void fsm_qattrs_trig_defaults(struct fsm_qattrs *a);
void fsm_chattrs_defaults(struct fsm_chattrs *a);
/* Copy the attributes whose bit is in mask from src to dst. dst->set is
 * not changed, except that queues gain the trigger bits of mask (a stored
 * queue then carries its trigger attributes in snapshots). */
void fsm_qattrs_merge(struct fsm_qattrs *dst, const struct fsm_qattrs *src, uint32_t mask);
void fsm_chattrs_merge(struct fsm_chattrs *dst, const struct fsm_chattrs *src, uint32_t mask);

/* The attribute a queue of type qtype (enum fsm_qtype, 0 = LOCAL) takes
 * under keyword, NULL if none. */
const struct fsm_attr *fsm_qattr_find(const char *keyword, uint8_t qtype);
/* The channel attribute named keyword, NULL if none. */
const struct fsm_attr *fsm_chattr_find(const char *keyword);
/* The attribute at DISPLAY position pos (1, 2, ...) of queue type qtype;
 * NULL after the last. */
const struct fsm_attr *fsm_qattr_at(uint8_t qtype, unsigned pos);
/* Bits of the attributes a queue of type qtype takes (the masks above). */
uint32_t fsm_qattr_mask(uint8_t qtype);

/* Field access through a descriptor; obj is a struct fsm_qattrs or
 * fsm_chattrs as the descriptor's table says. */
uint32_t fsm_attr_num(const struct fsm_attr *d, const void *obj);
void fsm_attr_set_num(const struct fsm_attr *d, void *obj, uint32_t v);
const char *fsm_attr_str(const struct fsm_attr *d, const void *obj);
/* Copy s (truncated to the field) into a string attribute. */
void fsm_attr_set_str(const struct fsm_attr *d, void *obj, const char *s);
/* The name of value v in an enumeration; the first name when v is not one
 * of its values. */
const char *fsm_attr_enum_name(const struct fsm_attr_enum *names, uint32_t v);

#endif
