/* Triggering of shared sender channels: the decision and its reading of a
 * replica (see chtrig.h). */
#include "chtrig.h"

#include <string.h>

bool chtrig_armed(uint8_t trigger, uint8_t trigtype)
{
	return trigger != 0 && trigtype != FSM_TRIG_NONE;
}

uint32_t chtrig_threshold(uint8_t trigtype, uint32_t trigdpth)
{
	if (trigtype == FSM_TRIG_DEPTH)
		return trigdpth > 0 ? trigdpth : 1;
	return 1;
}

void chtrig_decide(const struct chtrig_in *in, struct chtrig_out *out)
{
	memset(out, 0, sizeof *out);
	if (!chtrig_armed(in->trigger, in->trigtype)) {
		out->why = CHTRIG_W_NOT_ARMED;
		return;
	}
	if (in->depth < chtrig_threshold(in->trigtype, in->trigdpth)) {
		out->why = CHTRIG_W_SHALLOW;
		return;
	}
	if (in->img.exists && in->img.state == FSM_CHS_STOPPED) {
		out->why = CHTRIG_W_STOPPED;
		return;
	}
	/* Inactive: no entry, or waiting for messages after DISCINT (RETRYING
	 * without a retry time). Anything else active has an instance or a
	 * retry of its own. */
	if (in->img.exists && !(in->img.state == FSM_CHS_RETRYING && in->retry_at_ms == 0)) {
		out->why = CHTRIG_W_ACTIVE;
		return;
	}
	if (in->owner == 0) {
		out->why = CHTRIG_W_NO_OWNER;
		return;
	}
	out->act = CHTRIG_START;
	out->why = CHTRIG_W_START;
	if (in->img.exists)
		out->before = in->img;
	out->after.exists = 1;
	out->after.owner = in->owner;
	out->after.state = FSM_CHS_STARTING;
	out->after.epoch = out->before.epoch + 1;
	out->trigger_off = in->trigtype == FSM_TRIG_DEPTH;
}

bool chtrig_off_due(uint8_t trigger, uint8_t trigtype, uint32_t trigdpth, uint32_t evaluated)
{
	return chtrig_armed(trigger, trigtype) && trigtype == FSM_TRIG_DEPTH &&
	       chtrig_threshold(trigtype, trigdpth) == chtrig_threshold(trigtype, evaluated);
}

/* ---- reading a replica ---- */

bool chtrig_view_off_due(struct fsm *f, const char *xmitq, uint32_t evaluated)
{
	return chtrig_view_off_due_in(f, 0, xmitq, evaluated);
}

bool chtrig_view_off_due_in(struct fsm *f, uint32_t scope, const char *xmitq, uint32_t evaluated)
{
	struct fsm_qinfo q;
	return fsm_queue_info(f, scope, xmitq, &q) == QSG_OK &&
	       chtrig_off_due(q.attrs.trigger, q.attrs.trigtype, q.attrs.trigdpth, evaluated);
}

bool chtrig_xmitq_triggered(struct fsm *f, const char *xmitq)
{
	struct fsm_qinfo q;
	return xmitq[0] != '\0' && fsm_queue_info(f, 0, xmitq, &q) == QSG_OK &&
	       chtrig_armed(q.attrs.trigger, q.attrs.trigtype);
}

/* TRIGDATA without leading and trailing blanks: empty (blank TRIGDATA), or
 * a channel name. */
static const char *trigdata_trim(const char *trigdata, size_t *n)
{
	while (*trigdata == ' ')
		trigdata++;
	*n = strlen(trigdata);
	while (*n > 0 && trigdata[*n - 1] == ' ')
		(*n)--;
	return trigdata;
}

static bool trigdata_names(const char *p, size_t n, const char *channel)
{
	return n == strlen(channel) && strncmp(p, channel, n) == 0;
}

struct count_ctx {
	const char *xmitq, *channel;
	uint32_t scope;
	unsigned n;
	bool found; /* channel is one of them */
};

/* The scope of a sender's xmitq: its member for a private channel
 * (docs/channels.md "Private channels"), 0 (the SHARED queue) otherwise. */
static uint32_t xmitq_scope(const struct fsm_chattrs *c)
{
	return FSM_CH_PRIVATE(c) ? c->scope : 0;
}

static int count_sender(void *arg, const struct fsm_chattrs *c)
{
	struct count_ctx *x = arg;
	if (c->chltype != FSM_CHL_SDR || strcmp(c->xmitq, x->xmitq) != 0 ||
	    xmitq_scope(c) != x->scope)
		return 0;
	if (strcmp(c->name, x->channel) == 0)
		x->found = true;
	return ++x->n > 1;
}

/* The channel the queue's trigger names: TRIGDATA, or, blank, the only
 * sender on it. */
static bool names_channel(struct fsm *f, const struct fsm_qattrs *a, const char *channel,
			  const char *xmitq)
{
	size_t tn;
	const char *td = trigdata_trim(a->trigdata, &tn);
	if (tn > 0)
		return trigdata_names(td, tn, channel);
	struct count_ctx n = {.xmitq = xmitq, .channel = channel, .scope = a->scope};
	fsm_channel_foreach(f, count_sender, &n);
	return n.n == 1 && n.found;
}

bool chtrig_view_starts(struct fsm *f, const char *channel, const char *xmitq)
{
	struct fsm_qinfo q;
	struct fsm_chattrs def;
	uint32_t scope = fsm_channel_get(f, channel, &def) == QSG_OK ? xmitq_scope(&def) : 0;
	return xmitq[0] != '\0' && fsm_queue_info(f, scope, xmitq, &q) == QSG_OK &&
	       chtrig_armed(q.attrs.trigger, q.attrs.trigtype) &&
	       names_channel(f, &q.attrs, channel, xmitq);
}

/* A private channel starts on its member only: that member, if it is
 * active with its channel initiator running; else 0 (nobody). */
static uint32_t private_owner(const struct chcore_cand *c, size_t n, uint32_t scope)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].id == scope)
			return c[i].active && c[i].chinit ? scope : 0;
	return 0;
}

struct eval_ctx {
	struct fsm *f;
	struct chcore_cand **members;
	size_t *cap;
	size_t nmembers;
	bool have_members; /* read on the first start found */
	bool (*skip)(void *arg, const char *channel);
	void (*cb)(void *arg, const struct chtrig_start *s);
	void *arg;
};

static int eval_channel(void *arg, const struct fsm_chattrs *c)
{
	struct eval_ctx *x = arg;
	struct fsm_qinfo q;
	struct fsm_chstatus st;
	struct chtrig_in in;
	struct chtrig_out out;

	if (c->chltype != FSM_CHL_SDR || c->xmitq[0] == '\0')
		return 0;
	uint32_t scope = xmitq_scope(c);
	if (fsm_queue_info(x->f, scope, c->xmitq, &q) != QSG_OK ||
	    !chtrig_armed(q.attrs.trigger, q.attrs.trigtype))
		return 0;
	if (x->skip != NULL && x->skip(x->arg, c->name))
		return 0;
	memset(&in, 0, sizeof in);
	in.trigger = q.attrs.trigger;
	in.trigtype = q.attrs.trigtype;
	in.trigdpth = q.attrs.trigdpth;
	in.depth = fsm_available(x->f, scope, c->xmitq);
	if (fsm_chstatus_get(x->f, c->name, "", &st) == QSG_OK) {
		in.img = st.img;
		in.retry_at_ms = st.img.state == FSM_CHS_RETRYING ? st.retry_at_ms : 0;
	}
	/* Everything but the owner first: the member table is read only when
	 * a start is due. */
	in.owner = UINT32_MAX;
	chtrig_decide(&in, &out);
	if (out.act != CHTRIG_START)
		return 0;
	if (!x->have_members) {
		x->nmembers = chcore_view_table(x->f, x->members, x->cap);
		x->have_members = true;
	}
	in.owner = scope != 0 ? private_owner(*x->members, x->nmembers, scope)
			      : chcore_pick_owner(*x->members, x->nmembers, 0);
	chtrig_decide(&in, &out);
	if (out.act != CHTRIG_START)
		return 0;
	if (!names_channel(x->f, &q.attrs, c->name, c->xmitq))
		return 0;
	struct chtrig_start s;
	memset(&s, 0, sizeof s);
	memcpy(s.channel, c->name, sizeof s.channel);
	memcpy(s.xmitq, c->xmitq, sizeof s.xmitq);
	s.trigtype = in.trigtype;
	s.trigdpth = in.trigdpth;
	s.depth = in.depth;
	s.before = out.before;
	s.after = out.after;
	s.trigger_off = out.trigger_off;
	s.scope = scope;
	for (size_t i = 0; i < x->nmembers; i++)
		if ((*x->members)[i].id == out.after.owner)
			(*x->members)[i].load++;
	x->cb(x->arg, &s);
	return 0;
}

void chtrig_view_eval(struct fsm *f, struct chcore_cand **members, size_t *cap,
		      bool (*skip)(void *arg, const char *channel),
		      void (*cb)(void *arg, const struct chtrig_start *s), void *arg)
{
	struct eval_ctx x = {
	    .f = f, .members = members, .cap = cap, .skip = skip, .cb = cb, .arg = arg};
	fsm_channel_foreach(f, eval_channel, &x);
}
