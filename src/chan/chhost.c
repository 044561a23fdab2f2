/* The leaf shared by the channel initiator and its instances (chhost.h). */
#include "chhost.h"

#include <stdlib.h>
#include <string.h>

void chhost_ref(struct chhost *h)
{
	h->refs++;
}

void chhost_unref(struct chhost *h)
{
	if (--h->refs == 0 && h->released != NULL)
		h->released(h->arg);
}

void chhost_fail(struct chhost *h, const char *why)
{
	if (h->failed != NULL)
		h->failed(h->arg, why);
}

struct chretry *chhost_retry(struct chhost *h, const char *name)
{
	for (struct chretry *r = h->retries; r != NULL; r = r->next)
		if (strcmp(r->name, name) == 0)
			return r;
	struct chretry *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	snprintf(r->name, sizeof r->name, "%s", name);
	r->next = h->retries;
	h->retries = r;
	return r;
}

void chhost_retry_free(struct chhost *h)
{
	struct chretry *r = h->retries;
	while (r != NULL) {
		struct chretry *n = r->next;
		free(r);
		r = n;
	}
	h->retries = NULL;
}

const char *chhost_member_name(struct chhost *h, uint32_t id, char *buf, size_t len)
{
	struct fsm_member m;
	if (id != 0 && fsm_member_get(h->d->fsm, id, &m) == QSG_OK)
		snprintf(buf, len, "%s", m.name);
	else
		snprintf(buf, len, "member %u", id);
	return buf;
}

void chhost_log_change(struct chhost *h, const char *name, const char *rqmname,
		       const struct fsm_chimage *before, const struct fsm_chimage *after,
		       const char *reason)
{
	char a[FSM_NAME_MAX + 16], b[FSM_NAME_MAX + 16];
	const char *key = rqmname[0] != '\0' ? rqmname : "";
	if (!after->exists) {
		QLOG_INFO_(h->d->log, "QSG5003I",
			   "channel %s%s%s status removed (was %s on %s): %s", name,
			   key[0] ? " from " : "", key, fsm_chstate_name(before->state),
			   chhost_member_name(h, before->owner, a, sizeof a), reason);
	} else if (!before->exists || before->owner != after->owner) {
		QLOG_INFO_(h->d->log, "QSG5001I",
			   "channel %s owner %s -> %s, %s -> %s, epoch %llu: %s", name,
			   before->exists ? chhost_member_name(h, before->owner, a, sizeof a)
					  : "(none)",
			   chhost_member_name(h, after->owner, b, sizeof b),
			   fsm_chstate_name(before->state), fsm_chstate_name(after->state),
			   (unsigned long long)after->epoch, reason);
	} else {
		QLOG_INFO_(h->d->log, "QSG5002I", "channel %s on %s: %s -> %s, epoch %llu: %s",
			   name, chhost_member_name(h, after->owner, a, sizeof a),
			   fsm_chstate_name(before->state), fsm_chstate_name(after->state),
			   (unsigned long long)after->epoch, reason);
	}
}
