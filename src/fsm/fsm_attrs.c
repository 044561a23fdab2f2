/* Generated from the attribute tables of fsm_attrs.h: enumerations,
 * descriptors, defaults and merge. */
#include "fsm_attrs.h"

#include <string.h>

#include "fsm.h"

/* clang-format off */
const struct fsm_attr_enum fsm_attr_yes_no[] = {{"NO", 0}, {"YES", 1}, {NULL, 0}};
const struct fsm_attr_enum fsm_attr_enabled[] = {{"ENABLED", 0}, {"DISABLED", 1}, {NULL, 0}};
const struct fsm_attr_enum fsm_attr_indxtype[] = {
	{"NONE", FSM_INDX_NONE}, {"MSGID", FSM_INDX_MSGID}, {"CORRELID", FSM_INDX_CORRELID}, {NULL, 0}};
const struct fsm_attr_enum fsm_attr_usage[] = {
	{"NORMAL", FSM_USAGE_NORMAL}, {"XMITQ", FSM_USAGE_XMITQ}, {NULL, 0}};
const struct fsm_attr_enum fsm_attr_chltype[] = {
	{"SDR", FSM_CHL_SDR}, {"RCVR", FSM_CHL_RCVR}, {NULL, 0}};
const struct fsm_attr_enum fsm_attr_compmsg[] = {
	{"NONE", FSM_COMP_NONE}, {"LZ4", FSM_COMP_LZ4}, {NULL, 0}};
const struct fsm_attr_enum fsm_attr_switch[] = {{"NO", 0}, {"YES", 1}, {NULL, 0}};
const struct fsm_attr_enum fsm_attr_trigtype[] = {
	{"NONE", FSM_TRIG_NONE}, {"FIRST", FSM_TRIG_FIRST}, {"EVERY", FSM_TRIG_EVERY},
	{"DEPTH", FSM_TRIG_DEPTH}, {NULL, 0}};
/* clang-format on */

/* The set masks cover exactly the rows' bits. */
#define ALL_BIT(field, type, n, kw, bit, ...) | (uint32_t)(bit)
_Static_assert((0u FSM_QATTRS(FSM_ATTR_NONE, ALL_BIT)) == FSM_QA_ALL, "FSM_QA_ALL");
_Static_assert((0u FSM_CHATTRS_BASE(FSM_ATTR_NONE, ALL_BIT)) == FSM_CA_ALL, "FSM_CA_ALL");

/* --- descriptors ---------------------------------------------------------- */

#define QDESC(field, type, n, kw, bit, d, lo, hi, en, ql, qr, qa)                                  \
	{#kw,                                                                                      \
	 (bit),                                                                                    \
	 FSM_ATTR_##type,                                                                          \
	 offsetof(struct fsm_qattrs, field),                                                       \
	 sizeof(((struct fsm_qattrs *)0)->field),                                                  \
	 (d),                                                                                      \
	 (lo),                                                                                     \
	 (hi),                                                                                     \
	 (en),                                                                                     \
	 {(ql), (qr), (qa)},                                                                       \
	 0},
#define CDESC(field, type, n, kw, bit, d, lo, hi, en, chl)                                         \
	{#kw,                                                                                      \
	 (bit),                                                                                    \
	 FSM_ATTR_##type,                                                                          \
	 offsetof(struct fsm_chattrs, field),                                                      \
	 sizeof(((struct fsm_chattrs *)0)->field),                                                 \
	 (d),                                                                                      \
	 (lo),                                                                                     \
	 (hi),                                                                                     \
	 (en),                                                                                     \
	 {0, 0, 0},                                                                                \
	 (chl)},

const struct fsm_attr fsm_qattr_table[] = {FSM_QATTRS(FSM_ATTR_NONE, QDESC)};
const size_t fsm_qattr_count = sizeof fsm_qattr_table / sizeof fsm_qattr_table[0];
const struct fsm_attr fsm_chattr_table[] = {FSM_CHATTRS(FSM_ATTR_NONE, CDESC)};
const size_t fsm_chattr_count = sizeof fsm_chattr_table / sizeof fsm_chattr_table[0];

/* --- defaults and merge --------------------------------------------------- */

/* Numbers take dflt; strings stay "" (the memset). */
#define DFLT_U8(f, d) a->f = (uint8_t)(d);
#define DFLT_U32(f, d) a->f = (d);
#define DFLT_NAME(f, d)
#define DFLT_TEXT(f, d)
#define DFLT_CONN(f, d)
#define DFLT(field, type, n, kw, bit, d, ...) DFLT_##type(field, d)

void fsm_qattrs_defaults(struct fsm_qattrs *a)
{
	memset(a, 0, sizeof *a);
	a->set = FSM_QA_ALL & ~(uint32_t)FSM_QA_TRIG_MASK;
	FSM_QATTRS(FSM_ATTR_NONE, DFLT)
}

#define DFLT_STR_NAME(f) a->f[0] = '\0';
#define DFLT_STR_TEXT(f) a->f[0] = '\0';
#define DFLT_STR_CONN(f) a->f[0] = '\0';
#define DFLT_STR_U8(f)
#define DFLT_STR_U32(f)
#define DFLT_ALL(field, type, n, kw, bit, d, ...) DFLT_##type(field, d) DFLT_STR_##type(field)

void fsm_qattrs_trig_defaults(struct fsm_qattrs *a)
{
	FSM_QATTRS_TRIG(FSM_ATTR_NONE, DFLT_ALL)
}

void fsm_chattrs_defaults(struct fsm_chattrs *a)
{
	memset(a, 0, sizeof *a);
	a->set = FSM_CA_ALL;
	FSM_CHATTRS(FSM_ATTR_NONE, DFLT)
}

#define COPY_U8(f) dst->f = src->f;
#define COPY_U32(f) dst->f = src->f;
#define COPY_NAME(f) memcpy(dst->f, src->f, sizeof dst->f);
#define COPY_TEXT(f) memcpy(dst->f, src->f, sizeof dst->f);
#define COPY_CONN(f) memcpy(dst->f, src->f, sizeof dst->f);
#define QMERGE(field, type, n, kw, bit, ...)                                                       \
	if (mask & FSM_QA_##kw)                                                                    \
	COPY_##type(field)
#define CMERGE(field, type, n, kw, bit, ...)                                                       \
	if (mask & FSM_CA_##kw)                                                                    \
	COPY_##type(field)

void fsm_qattrs_merge(struct fsm_qattrs *dst, const struct fsm_qattrs *src, uint32_t mask)
{
	FSM_QATTRS(FSM_ATTR_NONE, QMERGE)
	dst->set |= mask & FSM_QA_TRIG_MASK;
}

void fsm_chattrs_merge(struct fsm_chattrs *dst, const struct fsm_chattrs *src, uint32_t mask)
{
	FSM_CHATTRS(FSM_ATTR_NONE, CMERGE)
	dst->set |= mask & FSM_CA_SSL_MASK; /* their part is encoded when set */
}

/* --- lookups and access --------------------------------------------------- */

static unsigned qtype_index(uint8_t qtype)
{
	return qtype == FSM_QT_REMOTE ? 1 : qtype == FSM_QT_ALIAS ? 2 : 0;
}

const struct fsm_attr *fsm_qattr_find(const char *keyword, uint8_t qtype)
{
	unsigned t = qtype_index(qtype);
	for (size_t i = 0; i < fsm_qattr_count; i++)
		if (fsm_qattr_table[i].pos[t] != 0 &&
		    strcmp(fsm_qattr_table[i].keyword, keyword) == 0)
			return &fsm_qattr_table[i];
	return NULL;
}

const struct fsm_attr *fsm_chattr_find(const char *keyword)
{
	for (size_t i = 0; i < fsm_chattr_count; i++)
		if (strcmp(fsm_chattr_table[i].keyword, keyword) == 0)
			return &fsm_chattr_table[i];
	return NULL;
}

const struct fsm_attr *fsm_qattr_at(uint8_t qtype, unsigned pos)
{
	unsigned t = qtype_index(qtype);
	for (size_t i = 0; pos != 0 && i < fsm_qattr_count; i++)
		if (fsm_qattr_table[i].pos[t] == pos)
			return &fsm_qattr_table[i];
	return NULL;
}

uint32_t fsm_qattr_mask(uint8_t qtype)
{
	switch (qtype_index(qtype)) {
	case 1:
		return FSM_QA_QREMOTE_MASK;
	case 2:
		return FSM_QA_QALIAS_MASK;
	default:
		return FSM_QA_QLOCAL_MASK;
	}
}

uint32_t fsm_attr_num(const struct fsm_attr *d, const void *obj)
{
	const unsigned char *p = (const unsigned char *)obj + d->offset;
	if (d->type == FSM_ATTR_U8)
		return *p;
	if (d->type == FSM_ATTR_U32) {
		uint32_t v;
		memcpy(&v, p, sizeof v);
		return v;
	}
	return 0;
}

void fsm_attr_set_num(const struct fsm_attr *d, void *obj, uint32_t v)
{
	unsigned char *p = (unsigned char *)obj + d->offset;
	if (d->type == FSM_ATTR_U8)
		*p = (uint8_t)v;
	else if (d->type == FSM_ATTR_U32)
		memcpy(p, &v, sizeof v);
}

const char *fsm_attr_str(const struct fsm_attr *d, const void *obj)
{
	if (d->type == FSM_ATTR_U8 || d->type == FSM_ATTR_U32)
		return "";
	return (const char *)obj + d->offset;
}

void fsm_attr_set_str(const struct fsm_attr *d, void *obj, const char *s)
{
	if (d->type == FSM_ATTR_U8 || d->type == FSM_ATTR_U32)
		return;
	char *p = (char *)obj + d->offset;
	size_t n = strlen(s);
	if (n >= d->size)
		n = d->size - 1;
	memcpy(p, s, n);
	p[n] = '\0';
}

const char *fsm_attr_enum_name(const struct fsm_attr_enum *names, uint32_t v)
{
	for (size_t i = 0; names[i].name != NULL; i++)
		if (names[i].value == v)
			return names[i].name;
	return names[0].name;
}
