/* The sending channel's clock (chclock.h). */
#include "chclock.h"

#include "chcore.h"
#include "qsgd/daemon.h"

int64_t chclock_expiry_left(struct qsgd *d, int64_t expiry_ms)
{
	int64_t now = qsgd_group_ms(d);
	return expiry_ms > now ? expiry_ms - now : 1;
}

bool chclock_blk_due(struct qsgd *d, const struct fsm_chstatus *st)
{
	return chcore_blk_due(st, qsgd_group_ms(d));
}
