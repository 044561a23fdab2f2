/* State machine, queue definitions (defaults and merging come from fsm_attrs.c), the
 * GROUP/COPY dispositions and the apply functions of QDEFINE, QALTER,
 * QDELETE and QCLEAR. Internal to src/fsm (fsm_int.h). */
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"

static uint8_t qtype_of(const struct fsm_qattrs *a)
{
	return a->qtype == 0 ? FSM_QT_LOCAL : a->qtype;
}

/* An alias stores zeros for the attributes it does not have. */
static void alias_clear(struct fsm_qattrs *a)
{
	a->maxdepth = 0;
	a->maxmsgl = 0;
	a->maxumsgs = 0;
}

/* The type-specific attributes are consistent: LOCAL queues have no remote
 * attributes; REMOTE queues need RNAME and RQMNAME and have no USAGE; only
 * ALIAS queues have a TARGET (required), and nothing a local or remote
 * queue has beyond DEFPSIST, DEFPRTY, GET, PUT and DESCR. */
bool attrs_type_ok(const struct fsm_qattrs *a)
{
	if (a->boqname[0] != '\0' && !fsm_name_valid(a->boqname))
		return false;
	if (a->qtype == FSM_QT_ALIAS)
		return fsm_name_valid(a->target) && a->usage == FSM_USAGE_NORMAL &&
		       a->rname[0] == '\0' && a->rqmname[0] == '\0' && a->xmitq[0] == '\0' &&
		       a->boqname[0] == '\0' && a->maxdepth == 0 && a->maxmsgl == 0 &&
		       a->maxumsgs == 0 && a->bothresh == 0 && a->indxtype == FSM_INDX_NONE;
	if (a->target[0] != '\0')
		return false;
	if (a->qtype == FSM_QT_LOCAL)
		return a->usage <= FSM_USAGE_XMITQ && a->rname[0] == '\0' &&
		       a->rqmname[0] == '\0' && a->xmitq[0] == '\0';
	if (a->qtype == FSM_QT_REMOTE)
		return a->usage == FSM_USAGE_NORMAL && fsm_name_valid(a->rname) &&
		       fsm_name_valid(a->rqmname) &&
		       (a->xmitq[0] == '\0' || fsm_name_valid(a->xmitq));
	return false;
}

/* Command attributes an alias cannot take. */
static bool alias_bits_ok(const struct fsm_qattrs *c)
{
	return c->qtype != FSM_QT_ALIAS || (c->set & ~(uint32_t)FSM_QA_QALIAS_MASK) == 0;
}

static void set_attrs(struct fsm *f, struct queue *q, const struct fsm_qattrs *a)
{
	uint8_t old = q->attrs.indxtype;
	q->attrs = *a;
	if (q->attrs.indxtype != old || !q->index_ok)
		index_build(f, q);
}

/* A new queue object with attributes a (scope and disp set). */
int queue_create(struct fsm *f, const struct fsm_qattrs *a, struct queue **out)
{
	struct queue *q = calloc(1, sizeof *q);
	if (q == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	q->attrs = *a;
	q->index_ok = true;
	hmap_init(&q->index);
	if (hmap_insert(&f->queues, &q->node, queue_hash(a->scope, a->name)) != QSG_OK) {
		free(q);
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	}
	if (out != NULL)
		*out = q;
	return QSG_OK;
}

void queue_destroy(struct fsm *f, struct queue *q)
{
	hmap_remove(&f->queues, &q->node);
	reap_queue(f, q); /* the messages leave at once, released by fsm_reap */
	queue_free(q);
}

/* The COPY of group object g for member m: g's attributes in m's scope. */
static void copy_attrs(struct fsm_qattrs *dst, const struct fsm_qattrs *g, uint32_t m)
{
	*dst = *g;
	dst->disp = FSM_DISP_COPY;
	dst->scope = m;
}

/* Give member m a COPY of group object g, or refresh the one it has (as MQ
 * does when the group object changes). A QMGR object of the same name keeps
 * the member from having a copy. A refresh keeps the copy's messages. */
static int copy_refresh(struct fsm *f, const struct queue *g, uint32_t m)
{
	struct fsm_qattrs a;
	copy_attrs(&a, &g->attrs, m);
	struct queue *q = queue_find(f, m, g->attrs.name);
	if (q == NULL)
		return queue_create(f, &a, NULL);
	if (q->attrs.disp != FSM_DISP_COPY || q->attrs.qtype != a.qtype)
		return QSG_OK;
	set_attrs(f, q, &a);
	return QSG_OK;
}

static int copies_refresh(struct fsm *f, const struct queue *g)
{
	for (size_t i = 0; i < f->nmembers; i++) {
		if (f->members[i].id == 0)
			continue;
		int rc = copy_refresh(f, g, f->members[i].id);
		if (rc != QSG_OK)
			return rc;
	}
	return QSG_OK;
}

/* Member m joined (or restarted): a copy of every group object it lacks
 * (one it has keeps its own alterations until the group object changes). */
int copies_for_member(struct fsm *f, uint32_t m)
{
	struct queue **v;
	size_t n;
	int rc = queues_sorted(f, &v, &n);
	for (size_t i = 0; rc == QSG_OK && i < n; i++)
		if (v[i]->attrs.scope == 0 && v[i]->attrs.disp == FSM_DISP_GROUP &&
		    queue_find(f, m, v[i]->attrs.name) == NULL)
			rc = copy_refresh(f, v[i], m);
	free(v);
	return rc;
}

/* Is there an object named `name` in some member's scope? */
static bool any_member_object(const struct fsm *f, const char *name)
{
	for (struct hmap_node *x = hmap_next(&f->queues, NULL); x != NULL;
	     x = hmap_next(&f->queues, x)) {
		const struct queue *q = (const struct queue *)x;
		if (q->attrs.scope != 0 && strcmp(q->attrs.name, name) == 0)
			return true;
	}
	return false;
}

/* The object an ALTER or DELETE without QSGDISP means on member `scope`:
 * its QMGR object if it has one, else the group's (SHARED or GROUP); a
 * COPY is changed only when QSGDISP(COPY) names it. With a disposition:
 * the object of that disposition. */
static struct queue *queue_target(const struct fsm *f, uint8_t disp, uint32_t scope,
				  const char *name)
{
	struct queue *q;
	switch (disp) {
	case FSM_DISP_DEFAULT:
		q = scope != 0 ? queue_find(f, scope, name) : NULL;
		if (q != NULL && q->attrs.disp == FSM_DISP_QMGR)
			return q;
		return queue_find(f, 0, name);
	case FSM_DISP_SHARED:
	case FSM_DISP_GROUP:
		q = queue_find(f, 0, name);
		break;
	default:
		q = scope != 0 ? queue_find(f, scope, name) : NULL;
		break;
	}
	return q != NULL && q->attrs.disp == disp ? q : NULL;
}

int op_qdefine(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_qattrs a;
	if (!fsm_name_valid(c->attrs.name))
		return QSG_RC_BAD_ATTR;
	if (!alias_bits_ok(&c->attrs))
		return QSG_RC_BAD_ATTR;
	fsm_qattrs_defaults(&a);
	memcpy(a.name, c->attrs.name, sizeof a.name);
	a.qtype = qtype_of(&c->attrs);
	if (a.qtype == FSM_QT_ALIAS)
		alias_clear(&a);
	a.disp = c->attrs.disp;
	if (a.disp == FSM_DISP_DEFAULT)
		a.disp = a.qtype == FSM_QT_LOCAL ? FSM_DISP_SHARED : FSM_DISP_GROUP;
	bool member = a.disp == FSM_DISP_QMGR || a.disp == FSM_DISP_COPY;
	a.scope = member ? c->attrs.scope : 0;
	if (member && a.scope == 0)
		return QSG_RC_BAD_ATTR;
	if (a.disp == FSM_DISP_SHARED && a.qtype != FSM_QT_LOCAL)
		return QSG_RC_BAD_ATTR;
	struct queue *g = queue_find(f, 0, a.name);
	if (a.disp == FSM_DISP_COPY) {
		/* LIKE the group object, then the command's attributes. */
		if (g == NULL || g->attrs.disp != FSM_DISP_GROUP)
			return QSG_RC_UNKNOWN_OBJECT;
		if (g->attrs.qtype != a.qtype)
			return QSG_RC_BAD_ATTR;
		copy_attrs(&a, &g->attrs, a.scope);
	}
	fsm_qattrs_merge(&a, &c->attrs, c->attrs.set);
	if (!attrs_type_ok(&a))
		return QSG_RC_BAD_ATTR;
	/* A member's object may not hide a shared queue, nor a shared queue
	 * a member's object. */
	if (member && g != NULL && g->attrs.disp == FSM_DISP_SHARED)
		return QSG_RC_OBJECT_EXISTS;
	if (a.disp == FSM_DISP_SHARED && any_member_object(f, a.name))
		return QSG_RC_OBJECT_EXISTS;
	struct queue *q = queue_find(f, a.scope, a.name);
	int rc;
	if (q != NULL) {
		if (!(c->flags & FSM_F_REPLACE) || q->attrs.qtype != a.qtype ||
		    q->attrs.disp != a.disp)
			return QSG_RC_OBJECT_EXISTS;
		set_attrs(f, q, &a);
	} else if ((rc = queue_create(f, &a, &q)) != QSG_OK) {
		return rc;
	}
	return a.disp == FSM_DISP_GROUP ? copies_refresh(f, q) : QSG_OK;
}

int op_qalter(struct fsm *f, const struct fsm_cmd *c)
{
	struct queue *q = queue_target(f, c->attrs.disp, c->attrs.scope, c->attrs.name);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (qtype_of(&c->attrs) != q->attrs.qtype || !alias_bits_ok(&c->attrs))
		return QSG_RC_BAD_ATTR;
	struct fsm_qattrs a = q->attrs;
	fsm_qattrs_merge(&a, &c->attrs, c->attrs.set);
	if (!attrs_type_ok(&a))
		return QSG_RC_BAD_ATTR;
	set_attrs(f, q, &a);
	return q->attrs.disp == FSM_DISP_GROUP ? copies_refresh(f, q) : QSG_OK;
}

static int deletable(const struct queue *q, uint32_t flags)
{
	if (q->opens > 0 || q->uncommitted > 0)
		return QSG_RC_OBJECT_IN_USE;
	if (q->curdepth > 0 && !(flags & FSM_F_PURGE))
		return QSG_RC_Q_NOT_EMPTY;
	return QSG_OK;
}

int op_qdelete(struct fsm *f, const struct fsm_cmd *c)
{
	struct queue *q = queue_target(f, c->attrs.disp, c->attrs.scope, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	int rc = deletable(q, c->flags);
	if (rc != QSG_OK || q->attrs.disp != FSM_DISP_GROUP) {
		if (rc == QSG_OK)
			queue_destroy(f, q);
		return rc;
	}
	/* A group object goes with all its copies, or not at all. */
	struct queue **v;
	size_t n;
	if ((rc = queues_sorted(f, &v, &n)) != QSG_OK)
		return rc;
	for (size_t i = 0; rc == QSG_OK && i < n; i++)
		if (v[i]->attrs.disp == FSM_DISP_COPY &&
		    strcmp(v[i]->attrs.name, q->attrs.name) == 0)
			rc = deletable(v[i], c->flags);
	for (size_t i = 0; rc == QSG_OK && i < n; i++)
		if (v[i]->attrs.disp == FSM_DISP_COPY &&
		    strcmp(v[i]->attrs.name, q->attrs.name) == 0)
			queue_destroy(f, v[i]);
	free(v);
	if (rc == QSG_OK)
		queue_destroy(f, q);
	return rc;
}

int op_qclear(struct fsm *f, const struct fsm_cmd *c)
{
	/* Without QSGDISP: the queue whose messages this member sees. */
	struct queue *q = c->attrs.disp == FSM_DISP_DEFAULT
			      ? queue_lookup(f, c->attrs.scope, c->queue)
			      : queue_target(f, c->attrs.disp, c->attrs.scope, c->queue);
	if (q == NULL)
		return QSG_RC_UNKNOWN_OBJECT;
	if (q->uncommitted > 0)
		return QSG_RC_OBJECT_IN_USE;
	reap_queue(f, q); /* O(1): fsm_reap frees them after the apply */
	return QSG_OK;
}
