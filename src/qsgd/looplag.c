#include "looplag.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/qsg_err.h"

static const uint32_t bounds_ms[LOOPLAG_BUCKETS] = LOOPLAG_BOUNDS_MS;
static const char *const phase_names[LOOPLAG_NPHASES] = LOOPLAG_PHASE_NAMES;

#define NS_PER_MS 1000000ull

static uint64_t ms_of(uint64_t ns)
{
	return (ns + NS_PER_MS / 2) / NS_PER_MS;
}

void looplag_flush(struct looplag *l, uint64_t now_ns)
{
	if (l->held == 0 || now_ns - l->last_warn_ns < LOOPLAG_WARN_INTERVAL_NS)
		return;
	QLOG_WARNING(l->log, "QSG4008W",
		     "event loop blocked over loop_warn_ms %u ms in %" PRIu64
		     " more iteration(s) since the last warning, the worst for %" PRIu64 " ms",
		     l->warn_ms, l->held, ms_of(l->held_worst_ns));
	l->st.warnings++;
	l->last_warn_ns = now_ns;
	l->held = 0;
	l->held_worst_ns = 0;
}

void looplag_charge(struct looplag *l, enum looplag_phase phase, uint64_t ns)
{
	if (l != NULL && l->open && (unsigned)phase < LOOPLAG_NPHASES)
		l->cur_ns[phase] += ns;
}

/* "apply 31 ms, store 2 ms, other 12 ms": the phases of one iteration. */
static void breakdown(char *buf, size_t size, const uint64_t *ph, uint64_t work_ns)
{
	uint64_t charged = 0;
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < LOOPLAG_NPHASES; i++) {
		charged += ph[i];
		if (ms_of(ph[i]) == 0 || n >= size)
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s %" PRIu64 " ms, ", phase_names[i],
				      ms_of(ph[i]));
	}
	if (n < size)
		snprintf(buf + n, size - n, "other %" PRIu64 " ms",
			 ms_of(work_ns > charged ? work_ns - charged : 0));
}

void looplag_account(struct looplag *l, uint64_t work_ns, uint64_t now_ns)
{
	struct looplag_stats *s = &l->st;
	uint64_t ph[LOOPLAG_NPHASES];
	char why[160];
	memcpy(ph, l->cur_ns, sizeof ph);
	memset(l->cur_ns, 0, sizeof l->cur_ns);
	for (int i = 0; i < LOOPLAG_NPHASES; i++)
		s->phase_ns[i] += ph[i];
	s->iterations++;
	s->sum_ns += work_ns;
	for (int i = 0; i < LOOPLAG_BUCKETS; i++) {
		if (work_ns <= bounds_ms[i] * NS_PER_MS) {
			s->bucket[i]++;
			break;
		}
	}
	if (work_ns > LOOPLAG_STALL_MS * NS_PER_MS)
		s->over_stall++;
	if (work_ns > s->max_ns)
		s->max_ns = work_ns;
	if (work_ns > s->window_max_ns) {
		s->window_max_ns = work_ns;
		memcpy(s->window_worst_phase_ns, ph, sizeof ph);
	}
	uint64_t cpu = l->cur_cpu_ns;
	l->cur_cpu_ns = 0;
	if (cpu > s->cpu_max_ns)
		s->cpu_max_ns = cpu;
	if (cpu > s->cpu_window_max_ns)
		s->cpu_window_max_ns = cpu;
	if (l->warn_ms == 0 || work_ns <= l->warn_ms * NS_PER_MS)
		return;
	if (l->last_warn_ns != 0 && now_ns - l->last_warn_ns < LOOPLAG_WARN_INTERVAL_NS) {
		l->held++;
		if (work_ns > l->held_worst_ns)
			l->held_worst_ns = work_ns;
		return;
	}
	breakdown(why, sizeof why, ph, work_ns);
	if (cpu > 0) {
		size_t n = strlen(why);
		snprintf(why + n, sizeof why - n, "; on CPU %" PRIu64 " ms", ms_of(cpu));
	}
	if (l->held > 0)
		QLOG_WARNING(l->log, "QSG4008W",
			     "event loop blocked for %" PRIu64 " ms in one iteration (loop_warn_ms "
			     "%u: %s); %" PRIu64
			     " more since the last warning, the worst for %" PRIu64 " ms",
			     ms_of(work_ns), l->warn_ms, why, l->held, ms_of(l->held_worst_ns));
	else
		QLOG_WARNING(l->log, "QSG4008W",
			     "event loop blocked for %" PRIu64 " ms in one iteration (loop_warn_ms "
			     "%u: %s)",
			     ms_of(work_ns), l->warn_ms, why);
	s->warnings++;
	l->last_warn_ns = now_ns;
	l->held = 0;
	l->held_worst_ns = 0;
}

/* Once per iteration, just before the loop polls. */
static void on_prepare(uv_prepare_t *h)
{
	struct looplag *l = h->data;
	uint64_t now = uv_hrtime();
	uint64_t idle = uv_metrics_idle_time(l->loop);
	struct timespec ts;
	uint64_t cpu = 0;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		cpu = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	l->cur_cpu_ns = l->last_cpu_ns != 0 && cpu > l->last_cpu_ns ? cpu - l->last_cpu_ns : 0;
	l->last_cpu_ns = cpu;
	if (l->primed) {
		uint64_t wall = now - l->last_ns;
		uint64_t waited = idle - l->last_idle_ns;
		looplag_account(l, wall > waited ? wall - waited : 0, now);
	}
	l->primed = true;
	l->last_ns = now;
	l->last_idle_ns = idle;
}

static void on_tick(uv_timer_t *t)
{
	struct looplag *l = t->data;
	uint64_t now_ms = uv_now(l->loop); /* the loop time the timers ran at */
	if (now_ms > l->tick_due_ms && now_ms - l->tick_due_ms > l->st.timer_lag_max_ms)
		l->st.timer_lag_max_ms = now_ms - l->tick_due_ms;
	/* libuv re-arms a repeating timer at loop time + repeat */
	l->tick_due_ms = now_ms + LOOPLAG_TICK_MS;
	looplag_flush(l, uv_hrtime());
}

int looplag_init(struct looplag *l, uv_loop_t *loop, const struct qlog *log, unsigned warn_ms,
		 char *errmsg)
{
	int r;
	memset(l, 0, sizeof *l);
	l->loop = loop;
	l->log = log;
	l->warn_ms = warn_ms;
	if ((r = uv_loop_configure(loop, UV_METRICS_IDLE_TIME)) != 0)
		return qsg_errf(errmsg, QSG_RC_UNEXPECTED_ERROR,
				"loop monitor: idle-time metrics: %s", uv_strerror(r));
	uv_prepare_init(loop, &l->prepare);
	uv_timer_init(loop, &l->tick);
	l->prepare.data = l;
	l->tick.data = l;
	l->open = true;
	uv_prepare_start(&l->prepare, on_prepare);
	uv_unref((uv_handle_t *)&l->prepare);
	l->tick_due_ms = uv_now(loop) + LOOPLAG_TICK_MS;
	uv_timer_start(&l->tick, on_tick, LOOPLAG_TICK_MS, LOOPLAG_TICK_MS);
	uv_unref((uv_handle_t *)&l->tick);
	return QSG_OK;
}

void looplag_close(struct looplag *l)
{
	if (!l->open)
		return;
	l->open = false;
	uv_close((uv_handle_t *)&l->prepare, NULL);
	uv_close((uv_handle_t *)&l->tick, NULL);
}

void looplag_read(struct looplag *l, struct looplag_stats *out, bool reset_window)
{
	*out = l->st;
	if (reset_window) {
		l->st.window_max_ns = 0;
		l->st.cpu_window_max_ns = 0;
		memset(l->st.window_worst_phase_ns, 0, sizeof l->st.window_worst_phase_ns);
	}
}
