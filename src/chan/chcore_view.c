/* Channel cores: their inputs read from a replica of the state machine (see
 * chcore.h). Reads only. */
#include "chcore.h"

#include <stdlib.h>

struct view_ctx {
	struct fsm *f;
	struct chcore_cand *c;
	size_t n, cap;
};

struct load_ctx {
	uint32_t member;
	uint32_t n;
};

static int count_load(void *arg, const struct fsm_chstatus *s)
{
	struct load_ctx *l = arg;
	if (s->chltype == FSM_CHL_SDR && s->img.owner == l->member && chcore_active(s->img.state))
		l->n++;
	return 0;
}

static int add_member(void *arg, const struct fsm_member *m)
{
	struct view_ctx *v = arg;
	if (v->n++ >= v->cap)
		return 0;
	struct chcore_cand *c = &v->c[v->n - 1];
	c->id = m->id;
	c->active = m->state == FSM_MEMBER_ACTIVE;
	c->chinit = m->chinit != 0;
	c->leader = m->stats.role == 3;
	c->load = 0;
	if (c->active && c->chinit) {
		struct load_ctx l = {.member = m->id};
		fsm_chstatus_foreach(v->f, count_load, &l);
		c->load = l.n;
	}
	return 0;
}

size_t chcore_view_members(struct fsm *f, struct chcore_cand *c, size_t cap)
{
	struct view_ctx v = {.f = f, .c = c, .cap = cap};
	fsm_member_foreach(f, add_member, &v);
	return v.n;
}

size_t chcore_view_table(struct fsm *f, struct chcore_cand **c, size_t *cap)
{
	size_t n = chcore_view_members(f, *c, *cap);
	if (n <= *cap)
		return n;
	struct chcore_cand *bigger = realloc(*c, n * sizeof *bigger);
	if (bigger == NULL)
		return *cap; /* out of memory: the first *cap members */
	*c = bigger;
	*cap = n;
	return chcore_view_members(f, *c, *cap);
}

uint32_t chcore_view_pick_owner(struct fsm *f, uint32_t exclude)
{
	struct chcore_cand *c = NULL;
	size_t cap = 0;
	size_t n = chcore_view_table(f, &c, &cap);
	uint32_t id = chcore_pick_owner(c, n, exclude);
	free(c);
	return id;
}

uint32_t chcore_view_retry_target(struct fsm *f, uint32_t self)
{
	struct chcore_cand *c = NULL;
	size_t cap = 0;
	size_t n = chcore_view_table(f, &c, &cap);
	uint32_t id = chcore_retry_target(c, n, self);
	free(c);
	return id;
}

bool chcore_view_member_failed(struct fsm *f, uint32_t id)
{
	struct fsm_member m;
	return id != 0 && (fsm_member_get(f, id, &m) != QSG_OK || m.state == FSM_MEMBER_FAILED);
}
