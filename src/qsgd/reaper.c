/* The state machine's garbage collector on the loop (reaper.h). */
#include "reaper.h"

#include <string.h>

#include "common/qsg_err.h"

static void on_wake(uv_timer_t *t)
{
	(void)t; /* only there to end the poll: the check handle reaps */
}

static void on_check(uv_check_t *h)
{
	struct reaper *r = h->data;
	if (!fsm_reap(r->fsm, 0))
		return;
	uint64_t before = fsm_reap_pending(r->fsm);
	uint64_t t0 = uv_hrtime(), t = t0;
	bool more;
	do {
		more = fsm_reap(r->fsm, REAPER_STEP);
		t = uv_hrtime();
	} while (more && t - t0 < r->slice_ns);
	looplag_charge(r->lag, LOOPLAG_REAP, t - t0);
	r->st.slices++;
	r->st.freed += before - fsm_reap_pending(r->fsm);
	if (t - t0 > r->st.slice_max_ns)
		r->st.slice_max_ns = t - t0;
	if (more && !uv_is_active((uv_handle_t *)&r->wake))
		uv_timer_start(&r->wake, on_wake, REAPER_GAP_MS, 0);
}

int reaper_init(struct reaper *r, uv_loop_t *loop, struct fsm *f, unsigned slice_us, char *errmsg)
{
	memset(r, 0, sizeof *r);
	r->loop = loop;
	r->fsm = f;
	r->slice_ns = (uint64_t)(slice_us != 0 ? slice_us : REAPER_SLICE_US) * 1000u;
	int e = uv_check_init(loop, &r->check);
	if (e == 0) {
		e = uv_timer_init(loop, &r->wake);
		if (e != 0)
			uv_close((uv_handle_t *)&r->check, NULL);
	}
	if (e != 0)
		return qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR, "garbage collector: %s",
				uv_strerror(e));
	r->check.data = r->wake.data = r;
	uv_unref((uv_handle_t *)&r->check);
	uv_unref((uv_handle_t *)&r->wake);
	uv_check_start(&r->check, on_check);
	r->open = true;
	return QSG_OK;
}

void reaper_close(struct reaper *r)
{
	if (!r->open)
		return;
	r->open = false;
	uv_close((uv_handle_t *)&r->check, NULL);
	uv_close((uv_handle_t *)&r->wake, NULL);
}

void reaper_read(const struct reaper *r, struct reaper_stats *out)
{
	*out = r->st;
}
