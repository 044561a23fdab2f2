#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/qsg_err.h"
#include "fsm/fsm.h"
#include "looplag.h"

const uint32_t qsgd_lat_bounds_us[QSGD_LAT_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2000000};

void qsgd_stats_init(struct qsgd_stats *s)
{
	memset(s, 0, sizeof *s);
}

void qsgd_stats_commit(struct qsgd_stats *s)
{
	if (s != NULL)
		s->commits_total++;
}

void qsgd_stats_backout(struct qsgd_stats *s)
{
	if (s != NULL)
		s->backouts_total++;
}

void qsgd_stats_latency(struct qsgd_stats *s, uint64_t us)
{
	if (s == NULL)
		return;
	s->lat_count++;
	s->lat_sum_us += us;
	for (int i = 0; i < QSGD_LAT_BUCKETS; i++) {
		if (us <= qsgd_lat_bounds_us[i]) {
			s->lat_bucket[i]++;
			return;
		}
	}
	/* above the last bound: only in +Inf (lat_count) */
}

void metrics_label_escape(char *dst, size_t size, const char *src)
{
	size_t o = 0;
	if (size == 0)
		return;
	for (; *src != '\0'; src++) {
		const char *e = NULL;
		char one[2] = {*src, '\0'};
		if (*src == '\\')
			e = "\\\\";
		else if (*src == '"')
			e = "\\\"";
		else if (*src == '\n')
			e = "\\n";
		else
			e = one;
		size_t n = strlen(e);
		if (o + n >= size)
			break;
		memcpy(dst + o, e, n);
		o += n;
	}
	dst[o] = '\0';
}

/* ---- text output ---- */

__attribute__((format(printf, 2, 3))) static void out(struct qsg_wbuf *w, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = (int)sizeof buf - 1;
	qsg_put_bytes(w, buf, (size_t)n);
}

static void head(struct qsg_wbuf *w, const char *name, const char *type, const char *help)
{
	out(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void seconds(char *buf, size_t size, double v)
{
	snprintf(buf, size, "%.6f", v);
}

/* ---- queues ---- */

struct qctx {
	struct qsg_wbuf *w;
	int64_t now_ms;
	int which;
	uint32_t member_id;
};

enum { Q_DEPTH, Q_UNCOMMITTED, Q_AGE, Q_PUTS, Q_GETS, Q_NKINDS };
static const char *const q_names[Q_NKINDS] = {"qsg_queue_depth", "qsg_queue_uncommitted",
					      "qsg_queue_oldest_message_age_seconds",
					      "qsg_queue_puts_total", "qsg_queue_gets_total"};
static const char *const q_types[Q_NKINDS] = {"gauge", "gauge", "gauge", "counter", "counter"};
static const char *const q_help[Q_NKINDS] = {
    "Messages on the queue, uncommitted puts and gets included (CURDEPTH).",
    "Messages on the queue held in some unit of work (puts and gets).",
    "Age of the oldest committed message, by the leader's clock (0 when empty).",
    "Messages put to the queue and committed, since it was defined.",
    "Messages got from the queue and committed, since it was defined."};

static int q_cb(void *arg, const struct fsm_qinfo *q)
{
	struct qctx *c = arg;
	char name[FSM_NAME_MAX * 2 + 1];
	if (q->attrs.qtype != FSM_QT_LOCAL)
		return 0; /* a remote queue or an alias holds nothing */
	/* One series per name: the shared queues and this member's own
	 * queues (QMGR, COPY); a GROUP definition holds nothing, another
	 * member's queues are that member's to report. */
	if (q->attrs.scope != 0 ? q->attrs.scope != c->member_id : q->attrs.disp == FSM_DISP_GROUP)
		return 0;
	metrics_label_escape(name, sizeof name, q->attrs.name);
	switch (c->which) {
	case Q_DEPTH:
		out(c->w, "qsg_queue_depth{queue=\"%s\"} %" PRIu32 "\n", name, q->curdepth);
		break;
	case Q_UNCOMMITTED:
		out(c->w, "qsg_queue_uncommitted{queue=\"%s\"} %" PRIu32 "\n", name,
		    q->uncommitted);
		break;
	case Q_AGE: {
		char v[64];
		int64_t age = q->oldest_put_ms > 0 ? c->now_ms - q->oldest_put_ms : 0;
		seconds(v, sizeof v, age > 0 ? (double)age / 1000.0 : 0.0);
		out(c->w, "qsg_queue_oldest_message_age_seconds{queue=\"%s\"} %s\n", name, v);
		break;
	}
	case Q_PUTS:
		out(c->w, "qsg_queue_puts_total{queue=\"%s\"} %" PRIu64 "\n", name, q->puts_total);
		break;
	case Q_GETS:
		out(c->w, "qsg_queue_gets_total{queue=\"%s\"} %" PRIu64 "\n", name, q->gets_total);
		break;
	}
	return 0;
}

/* ---- channels ---- */

static const char *const ch_states[] = {"inactive", "stopped",	"starting",
					"running",  "retrying", "recovering"};

struct chctx {
	struct qsg_wbuf *w;
	int which;
};

enum { CH_STATUS, CH_CODE, CH_MSGS, CH_BATCHES, CH_EPOCH, CH_NKINDS };

static int ch_cb(void *arg, const struct fsm_chstatus *s)
{
	struct chctx *c = arg;
	char name[FSM_CHNAME_MAX * 2 + 1];
	char rqm[FSM_NAME_MAX * 2 + 1];
	char labels[256];
	const char *type = s->chltype == FSM_CHL_SDR ? "sdr" : "rcvr";
	metrics_label_escape(name, sizeof name, s->name);
	metrics_label_escape(rqm, sizeof rqm, s->rqmname);
	/* rqmname is empty for sender entries; a receiver has one entry per
	 * sending queue manager. */
	if (rqm[0] != '\0')
		snprintf(labels, sizeof labels, "channel=\"%s\",type=\"%s\",rqmname=\"%s\"", name,
			 type, rqm);
	else
		snprintf(labels, sizeof labels, "channel=\"%s\",type=\"%s\"", name, type);
	switch (c->which) {
	case CH_STATUS:
		for (int st = FSM_CHS_STOPPED; st <= FSM_CHS_MAX; st++)
			out(c->w, "qsg_channel_status{%s,state=\"%s\"} %d\n", labels, ch_states[st],
			    s->img.state == st ? 1 : 0);
		break;
	case CH_CODE:
		out(c->w, "qsg_channel_status_code{%s} %u\n", labels, (unsigned)s->img.state);
		break;
	case CH_MSGS:
		out(c->w, "qsg_channel_messages_total{%s} %" PRIu64 "\n", labels, s->msgs);
		break;
	case CH_BATCHES:
		out(c->w, "qsg_channel_batches_total{%s} %" PRIu64 "\n", labels, s->batches);
		break;
	case CH_EPOCH:
		out(c->w, "qsg_channel_epoch{%s} %" PRIu64 "\n", labels, s->img.epoch);
		break;
	}
	return 0;
}

/* ---- members ---- */

struct mctx {
	struct qsg_wbuf *w;
	int64_t now_ms;
};

static int m_cb(void *arg, const struct fsm_member *m)
{
	struct mctx *c = arg;
	char name[FSM_NAME_MAX * 2 + 1];
	metrics_label_escape(name, sizeof name, m->name);
	int up = m->state == FSM_MEMBER_ACTIVE && m->lease_expiry_ms >= c->now_ms;
	out(c->w, "qsg_member_up{member=\"%s\"} %d\n", name, up);
	return 0;
}

static int m_chinit_cb(void *arg, const struct fsm_member *m)
{
	struct mctx *c = arg;
	char name[FSM_NAME_MAX * 2 + 1];
	metrics_label_escape(name, sizeof name, m->name);
	out(c->w, "qsg_member_chinit{member=\"%s\"} %d\n", name, m->chinit ? 1 : 0);
	return 0;
}

/* The local channel initiator: one series per state, 1 for the current. */
static void chinit_render(struct qsg_wbuf *w, const char *status, uint64_t failures)
{
	static const char *const states[] = {"RUNNING", "STOPPED", "FAILED", "FENCED"};
	head(w, "qsg_chinit_status", "gauge",
	     "This member's channel initiator: one series per state, 1 for the current one.");
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
		char lower[16];
		size_t k = 0;
		for (; states[i][k] != '\0' && k + 1 < sizeof lower; k++)
			lower[k] = (char)(states[i][k] - 'A' + 'a');
		lower[k] = '\0';
		out(w, "qsg_chinit_status{state=\"%s\"} %d\n", lower,
		    strcmp(states[i], status) == 0 ? 1 : 0);
	}
	head(w, "qsg_chinit_failures_total", "counter",
	     "Failures of this member's channel initiator on its own (it restarts by itself).");
	out(w, "qsg_chinit_failures_total %" PRIu64 "\n", failures);
}

/* ---- the message store (msgstore.h) ---- */

static void store_render(struct qsg_wbuf *w, const struct metrics_store *s)
{
	char v[64];
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} rows[] = {
#define ROW(f, n, t, h) {n, t, h, offsetof(struct metrics_store, f)}
	    ROW(segments, "qsg_store_segments", "gauge", "Segment files of the message store."),
	    ROW(disk_bytes, "qsg_store_disk_bytes", "gauge",
		"Bytes of the message store's segment files."),
	    ROW(live_bytes, "qsg_store_live_bytes", "gauge",
		"Record bytes of messages still in the state."),
	    ROW(dead_bytes, "qsg_store_dead_bytes", "gauge",
		"Record bytes of consumed messages not yet reclaimed."),
	    ROW(messages, "qsg_store_messages", "gauge", "Message bodies held by this member."),
	    ROW(missing, "qsg_store_missing_messages", "gauge",
		"Message bodies this member must still fetch from a peer (catch-up)."),
	    ROW(cache_bytes, "qsg_store_cache_bytes", "gauge", "Bytes in the body cache."),
	    ROW(cache_hits, "qsg_store_cache_hits_total", "counter", "Body cache hits."),
	    ROW(cache_misses, "qsg_store_cache_misses_total", "counter",
		"Body reads that went to disk."),
	    ROW(appended_bytes, "qsg_store_appended_bytes_total", "counter",
		"Bytes appended to segments."),
	    ROW(compacted_bytes, "qsg_store_compacted_bytes_total", "counter",
		"Bytes copied by compaction."),
	    ROW(reclaimed_bytes, "qsg_store_reclaimed_bytes_total", "counter",
		"Bytes of segments deleted."),
	    ROW(faults, "qsg_store_faults", "gauge",
		"Regions of segments not served (torn or corrupt)."),
	    ROW(syncs, "qsg_store_syncs_total", "counter", "Store syncs completed for snapshots."),
	    ROW(sync_failures, "qsg_store_sync_failures_total", "counter",
		"Store syncs that failed (the snapshot was skipped)."),
	    ROW(fetched, "qsg_store_fetched_total", "counter",
		"Message bodies fetched from peers (catch-up)."),
	    ROW(fetched_bytes, "qsg_store_fetched_bytes_total", "counter",
		"Bytes of message bodies fetched from peers."),
	    ROW(index_loaded, "qsg_store_segments_indexed_at_open", "gauge",
		"Sealed segments recovered from their index file at the last open."),
	    ROW(index_scanned, "qsg_store_segments_scanned_at_open", "gauge",
		"Segments read in full at the last open (the active one, and any without a valid "
		"index)."),
	    ROW(index_written, "qsg_store_index_files_written_total", "counter",
		"Segment index files written."),
	    ROW(index_failed, "qsg_store_index_files_failed_total", "counter",
		"Segment index files that could not be written (the segment is scanned at the next "
		"open)."),
#undef ROW
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		uint64_t x;
		memcpy(&x, (const char *)s + rows[i].off, sizeof x);
		head(w, rows[i].name, rows[i].type, rows[i].help);
		out(w, "%s %" PRIu64 "\n", rows[i].name, x);
	}
	head(w, "qsg_store_housekeeping_window_max_seconds", "gauge",
	     "Longest housekeeping slice (compaction, reclaim) since the previous scrape.");
	seconds(v, sizeof v, (double)s->slice_max_us / 1e6);
	out(w, "qsg_store_housekeeping_window_max_seconds %s\n", v);
}

/* ---- the event loop (looplag.h) ---- */

static void loop_render(struct qsg_wbuf *w, const struct looplag_stats *ls)
{
	static const uint32_t bounds_ms[LOOPLAG_BUCKETS] = LOOPLAG_BOUNDS_MS;
	char v[64];
	uint64_t cum = 0;
	head(w, "qsg_loop_iteration_seconds", "histogram",
	     "Time one iteration of the event loop spent running callbacks (not waiting).");
	for (int i = 0; i < LOOPLAG_BUCKETS; i++) {
		cum += ls->bucket[i];
		out(w, "qsg_loop_iteration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
		    (double)bounds_ms[i] / 1000.0, cum);
	}
	out(w, "qsg_loop_iteration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", ls->iterations);
	seconds(v, sizeof v, (double)ls->sum_ns / 1e9);
	out(w, "qsg_loop_iteration_seconds_sum %s\n", v);
	out(w, "qsg_loop_iteration_seconds_count %" PRIu64 "\n", ls->iterations);
	head(w, "qsg_loop_iteration_max_seconds", "gauge",
	     "Longest event loop iteration since the member started.");
	seconds(v, sizeof v, (double)ls->max_ns / 1e9);
	out(w, "qsg_loop_iteration_max_seconds %s\n", v);
	head(w, "qsg_loop_iteration_window_max_seconds", "gauge",
	     "Longest event loop iteration since the previous scrape of /metrics.");
	seconds(v, sizeof v, (double)ls->window_max_ns / 1e9);
	out(w, "qsg_loop_iteration_window_max_seconds %s\n", v);
	head(w, "qsg_loop_iteration_cpu_max_seconds", "gauge",
	     "Most CPU time one event loop iteration used since the member started.");
	seconds(v, sizeof v, (double)ls->cpu_max_ns / 1e9);
	out(w, "qsg_loop_iteration_cpu_max_seconds %s\n", v);
	head(w, "qsg_loop_iteration_cpu_window_max_seconds", "gauge",
	     "Most CPU time one event loop iteration used since the previous scrape of /metrics.");
	seconds(v, sizeof v, (double)ls->cpu_window_max_ns / 1e9);
	out(w, "qsg_loop_iteration_cpu_window_max_seconds %s\n", v);
	{
		static const char *const names[LOOPLAG_NPHASES] = LOOPLAG_PHASE_NAMES;
		head(w, "qsg_loop_phase_seconds_total", "counter",
		     "Event loop time charged to a kind of work (the rest is libraft, network "
		     "I/O and timers).");
		for (int i = 0; i < LOOPLAG_NPHASES; i++) {
			seconds(v, sizeof v, (double)ls->phase_ns[i] / 1e9);
			out(w, "qsg_loop_phase_seconds_total{phase=\"%s\"} %s\n", names[i], v);
		}
		head(w, "qsg_loop_window_worst_phase_seconds", "gauge",
		     "The longest iteration since the previous scrape: its time per kind of work.");
		for (int i = 0; i < LOOPLAG_NPHASES; i++) {
			seconds(v, sizeof v, (double)ls->window_worst_phase_ns[i] / 1e9);
			out(w, "qsg_loop_window_worst_phase_seconds{phase=\"%s\"} %s\n", names[i],
			    v);
		}
	}
	head(w, "qsg_loop_stalls_total", "counter",
	     "Event loop iterations that took more than 20 ms (the budget of one iteration).");
	out(w, "qsg_loop_stalls_total %" PRIu64 "\n", ls->over_stall);
	head(w, "qsg_loop_timer_lag_max_seconds", "gauge",
	     "Latest a 100 ms periodic timer has fired since the member started.");
	seconds(v, sizeof v, (double)ls->timer_lag_max_ms / 1e3);
	out(w, "qsg_loop_timer_lag_max_seconds %s\n", v);
}

static void reaper_render(struct qsg_wbuf *w, const struct metrics_reaper *r)
{
	char v[32];
	head(w, "qsg_reaper_pending_messages", "gauge",
	     "Messages a CLEAR, a purge or expiry took out of the state whose descriptors and "
	     "bodies are still to be freed.");
	out(w, "qsg_reaper_pending_messages %" PRIu64 "\n", r->pending);
	head(w, "qsg_reaper_freed_messages_total", "counter",
	     "Messages the garbage collector freed, in slices on the loop.");
	out(w, "qsg_reaper_freed_messages_total %" PRIu64 "\n", r->freed);
	head(w, "qsg_reaper_slices_total", "counter",
	     "Garbage collector slices that freed something.");
	out(w, "qsg_reaper_slices_total %" PRIu64 "\n", r->slices);
	head(w, "qsg_reaper_slice_max_seconds", "gauge",
	     "The longest garbage collector slice since the member started.");
	seconds(v, sizeof v, (double)r->slice_max_ns / 1e9);
	out(w, "qsg_reaper_slice_max_seconds %s\n", v);
}

int metrics_render(const struct metrics_input *in, struct qsg_wbuf *w)
{
	const struct glue_info *gi = in->raft;
	const struct qsgd_stats *st = in->stats;
	int64_t now_ms = fsm_last_time(in->fsm);
	char v[64];

	for (int k = 0; k < Q_NKINDS; k++) {
		struct qctx c = {.w = w, .now_ms = now_ms, .which = k, .member_id = in->member_id};
		head(w, q_names[k], q_types[k], q_help[k]);
		fsm_queue_foreach(in->fsm, q_cb, &c);
	}

	head(w, "qsg_commits_total", "counter",
	     "Units of work committed by clients of this member (COMMIT answered OK).");
	out(w, "qsg_commits_total %" PRIu64 "\n", st->commits_total);
	head(w, "qsg_backouts_total", "counter",
	     "Units of work backed out by clients of this member (BACKOUT answered OK).");
	out(w, "qsg_backouts_total %" PRIu64 "\n", st->backouts_total);

	static const struct {
		const char *name, *type, *help;
	} ch[CH_NKINDS] = {
	    {"qsg_channel_status", "gauge",
	     "Shared channel status: one series per state, 1 for the current one."},
	    {"qsg_channel_status_code", "gauge",
	     "Shared channel status as a number: 1 stopped, 2 starting, 3 running, 4 retrying, "
	     "5 recovering."},
	    {"qsg_channel_messages_total", "counter", "Messages committed through the channel."},
	    {"qsg_channel_batches_total", "counter", "Batches committed through the channel."},
	    {"qsg_channel_epoch", "gauge", "Ownership epoch of the channel's current instance."},
	};
	for (int k = 0; k < CH_NKINDS; k++) {
		struct chctx c = {.w = w, .which = k};
		head(w, ch[k].name, ch[k].type, ch[k].help);
		fsm_chstatus_foreach(in->fsm, ch_cb, &c);
	}

	head(w, "qsg_raft_term", "gauge", "Current Raft term.");
	out(w, "qsg_raft_term %" PRIu64 "\n", gi->term);
	head(w, "qsg_raft_commit_index", "gauge", "Highest log index known committed.");
	out(w, "qsg_raft_commit_index %" PRIu64 "\n", gi->commit_index);
	head(w, "qsg_raft_applied_index", "gauge",
	     "Highest log index applied to the local replica.");
	out(w, "qsg_raft_applied_index %" PRIu64 "\n", gi->applied_index);
	head(w, "qsg_raft_last_index", "gauge", "Highest log index in the local log.");
	out(w, "qsg_raft_last_index %" PRIu64 "\n", gi->last_index);
	head(w, "qsg_raft_leader", "gauge", "1 if this member is the Raft leader.");
	out(w, "qsg_raft_leader %d\n", gi->role == GLUE_LEADER ? 1 : 0);
	head(w, "qsg_raft_leader_id", "gauge",
	     "Raft id of the leader this member knows (0: none).");
	out(w, "qsg_raft_leader_id %" PRIu64 "\n", gi->leader_id);
	head(w, "qsg_raft_id", "gauge", "Raft id of this member.");
	out(w, "qsg_raft_id %" PRIu32 "\n", in->member_id);

	head(w, "qsg_member_up", "gauge",
	     "1 if the member is active in the replicated state and its lease has not expired.");
	struct mctx mc = {.w = w, .now_ms = now_ms};
	fsm_member_foreach(in->fsm, m_cb, &mc);
	head(w, "qsg_member_chinit", "gauge",
	     "1 if the member's channel initiator runs, as the replicated member table says.");
	fsm_member_foreach(in->fsm, m_chinit_cb, &mc);
	if (in->chinit_status != NULL)
		chinit_render(w, in->chinit_status, in->chinit_failures);
	head(w, "qsg_member_fenced", "gauge",
	     "1 if this member has fenced itself (no lease renewal acknowledged).");
	out(w, "qsg_member_fenced %d\n", in->fenced ? 1 : 0);

	head(w, "qsg_commit_latency_seconds", "histogram",
	     "Submission to application of the commands this member submitted.");
	uint64_t cum = 0;
	for (int i = 0; i < QSGD_LAT_BUCKETS; i++) {
		cum += st->lat_bucket[i];
		seconds(v, sizeof v, (double)qsgd_lat_bounds_us[i] / 1e6);
		/* trim trailing zeros: le="0.0005", le="2" */
		size_t n = strlen(v);
		while (n > 1 && v[n - 1] == '0')
			v[--n] = '\0';
		if (n > 1 && v[n - 1] == '.')
			v[--n] = '\0';
		out(w, "qsg_commit_latency_seconds_bucket{le=\"%s\"} %" PRIu64 "\n", v, cum);
	}
	out(w, "qsg_commit_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", st->lat_count);
	seconds(v, sizeof v, (double)st->lat_sum_us / 1e6);
	out(w, "qsg_commit_latency_seconds_sum %s\n", v);
	out(w, "qsg_commit_latency_seconds_count %" PRIu64 "\n", st->lat_count);

	head(w, "qsg_snapshots_total", "counter",
	     "Raft snapshots taken by this member since it started.");
	out(w, "qsg_snapshots_total %" PRIu64 "\n", gi->snapshots);
	head(w, "qsg_snapshot_last_bytes", "gauge",
	     "Size of the encoded state in the last snapshot.");
	out(w, "qsg_snapshot_last_bytes %" PRIu64 "\n", gi->snapshot_last_bytes);
	head(w, "qsg_snapshot_last_duration_seconds", "gauge",
	     "Time taken to encode the last snapshot.");
	seconds(v, sizeof v, (double)gi->snapshot_last_us / 1e6);
	out(w, "qsg_snapshot_last_duration_seconds %s\n", v);
	/* Snapshot capture: loop time and failures (docs/storage.md). */
	head(w, "qsg_snapshot_last_loop_seconds", "gauge",
	     "Time the event loop spent capturing the last snapshot (fork, or the "
	     "whole encode in inline mode).");
	seconds(v, sizeof v, (double)gi->snapshot_last_loop_us / 1e6);
	out(w, "qsg_snapshot_last_loop_seconds %s\n", v);
	head(w, "qsg_snapshot_failures_total", "counter",
	     "Snapshot captures that failed (fork mode); libraft retries later.");
	out(w, "qsg_snapshot_failures_total %" PRIu64 "\n", gi->snapshot_failures);
	/* Delta snapshots ([raft] snapshot_delta, docs/storage.md). */
	head(w, "qsg_snapshot_rebases_total", "counter",
	     "Snapshots written in full as this member's new base file.");
	out(w, "qsg_snapshot_rebases_total %" PRIu64 "\n", in->snapshot_rebases);
	head(w, "qsg_snapshot_deltas_total", "counter",
	     "Snapshots written as a delta against this member's base file.");
	out(w, "qsg_snapshot_deltas_total %" PRIu64 "\n", in->snapshot_deltas);
	head(w, "qsg_snapshot_base_index", "gauge",
	     "Raft index of this member's current base file (0: none).");
	out(w, "qsg_snapshot_base_index %" PRIu64 "\n", in->snapshot_base_index);
	head(w, "qsg_raft_aio_destroy_deferred_total", "counter",
	     "Kernel AIO contexts of closed Raft log segments destroyed in the background "
	     "instead of on the event loop.");
	out(w, "qsg_raft_aio_destroy_deferred_total %" PRIu64 "\n", gi->aio_destroy_deferred);
	head(w, "qsg_raft_aio_destroy_max_seconds", "gauge",
	     "Longest such io_destroy(2), paid by the background thread.");
	seconds(v, sizeof v, (double)gi->aio_destroy_max_us / 1e6);
	out(w, "qsg_raft_aio_destroy_max_seconds %s\n", v);
	head(w, "qsg_raft_apply_deferrals_total", "counter",
	     "Times this member, as a follower, used its apply budget in one loop iteration and "
	     "queued the rest of the committed entries.");
	out(w, "qsg_raft_apply_deferrals_total %" PRIu64 "\n", gi->apply_deferrals);
	head(w, "qsg_raft_apply_queue_max", "gauge",
	     "The most committed entries that waited in the apply queue (deferrals and restores).");
	out(w, "qsg_raft_apply_queue_max %" PRIu64 "\n", gi->restore_queued_max);
	head(w, "qsg_raft_frees_deferred_total", "counter",
	     "Blocks libraft freed that raft-glue's background thread released instead of the "
	     "loop.");
	out(w, "qsg_raft_frees_deferred_total %" PRIu64 "\n", gi->raft_frees_deferred);
	head(w, "qsg_raft_frees_max_batch_seconds", "gauge",
	     "The longest batch of libraft's frees the background thread made (loop time saved).");
	seconds(v, sizeof v, (double)gi->raft_frees_max_batch_us / 1e6);
	out(w, "qsg_raft_frees_max_batch_seconds %s\n", v);

	head(w, "qsg_client_connections", "gauge",
	     "Open connections on the client listener (applications, members, channels).");
	out(w, "qsg_client_connections %zu\n", in->connections);
	if (in->loop != NULL)
		loop_render(w, in->loop);
	if (in->store != NULL)
		store_render(w, in->store);
	if (in->reaper != NULL)
		reaper_render(w, in->reaper);
	return w->err != QSG_OK ? QSG_RC_STORAGE_NOT_AVAILABLE : QSG_OK;
}

bool metrics_ready(const struct glue_info *gi, bool fenced, char *reason, size_t size)
{
	if (gi->leader_id == 0) {
		snprintf(reason, size, "no known leader");
		return false;
	}
	if (fenced) {
		snprintf(reason, size, "member fenced: no lease renewal acknowledged");
		return false;
	}
	if (gi->applied_index + METRICS_READY_LAG < gi->commit_index) {
		snprintf(reason, size, "applied index %" PRIu64 " behind commit index %" PRIu64,
			 gi->applied_index, gi->commit_index);
		return false;
	}
	snprintf(reason, size, "ready");
	return true;
}
