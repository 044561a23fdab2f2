/* qsgd_live_ops (daemon.h): the daemon's real submission path, raft-glue
 * and listeners behind the table that batcher, forward and lease call.
 * Only main.c refers to it. */
#include "daemon.h"

#include "chan/chinit.h"
#include "raft-glue/glue.h"
#include "server.h"

static bool live_is_leader(struct qsgd *d)
{
	return glue_is_leader(d->glue);
}

static int live_append(struct qsgd *d, const void *buf, size_t len,
		       void (*cb)(void *arg, int status, const struct qsg_wbuf *results), void *arg)
{
	return glue_submit(d->glue, buf, len, cb, arg);
}

static void live_info(struct qsgd *d, struct glue_info *info)
{
	glue_get_info(d->glue, info);
}

static size_t live_config(struct qsgd *d, struct glue_member *out, size_t max)
{
	return glue_get_config(d->glue, out, max);
}

static void live_set_fenced(struct qsgd *d, bool fenced, bool channels)
{
	server_set_fenced(d->server, fenced);
	if (channels)
		chinit_set_fenced(d->chinit, fenced);
}

const struct qsgd_ops qsgd_live_ops = {
    .route = qsgd_route,
    .hold = qsgd_hold,
    .hold_retry = qsgd_hold_retry,
    .submit = qsgd_submit,
    .is_leader = live_is_leader,
    .append = live_append,
    .info = live_info,
    .config = live_config,
    .set_fenced = live_set_fenced,
};
