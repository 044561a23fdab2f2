/* The admin adapter: gives the MQSC module (admin.h) its environment in the
 * daemon (submission path, Raft information, the channel initiator, owner
 * choice, membership changes). Called by the client listener (server.c),
 * which runs the admin requests; loop thread only. */
#ifndef QSGD_ADMINSRV_H
#define QSGD_ADMINSRV_H

#include "admin/admin.h"
#include "daemon.h"

/* Fill `env` for daemon `d` (env->arg = d). */
void adminsrv_env_init(struct admin_env *env, struct qsgd *d);

#endif
