#!/usr/bin/env bash
# bench/deep.sh: a deep queue, filled and drained, on a fresh 3-member group
# (issue 10, "Think in backlogs"). It is the measuring stick for the message
# store: run it before and after a change and compare the tables.
#
# Fills QSG.DEEP with DEPTH persistent messages of SIZE bytes in steps of
# STEP (qsgbench --mode put, 8 connections x 8 in flight), then drains it in
# the same steps (qsgbench --mode get). After every step it prints one line:
#
#   phase depth rate/s p99_ms p999_ms errors rss_MB(QM1/QM2/QM3) disk_MB stall_ms fences failed leader worst_stall
#
# worst_stall: the member with the longest iteration and where its time went
# (qsg_loop_window_worst_phase_seconds: apply, snapshot, store, client; other
# is libraft, network I/O and timers).
# stall_ms: per member, the longest event loop iteration during the step
# (qsg_loop_iteration_window_max_seconds from each member's /metrics, read
# just before the step, which starts a new window, and just after it; the
# goal is at most about 20 ms). The members serve HTTP on QSG_PORT_BASE+90+i.
# fences: QSG4002W lines in the member logs so far (a member fenced itself);
# failed: QSG4003W lines (the leader declared a member failed); leader: the
# member that leads after the step (a change mid-run is a failure of the goal).
# With RESTART=1 it also kills every member (kill -9) at full depth, starts
# them again and prints how long the group took to serve a PUT.
# With WIPE=1 it then stops one follower (by PID), wipes its data directory,
# starts it again while STEP more messages are put, and prints how long the
# member took to install the snapshot and fetch every body it lacks
# (its /metrics: bodies fetched and none missing; docs/catchup.md), and its
# RSS and disk after. The depth column is the depth the group reports.
#
# Environment: DEPTH (default 1000000), STEP (default 100000), SIZE (1024),
# RESTART (0), QSG_BIN_DIR (default build/), QSG_RUN_DIR (run/deep),
# QSG_PORT_BASE (16700), QSG_LOG_LEVEL (warn), QSG_SNAPSHOT_DELTA (on|off,
# passed by scripts/cluster as [raft] snapshot_delta: delta snapshots
# against member-local base files, docs/storage.md "A base and deltas";
# unset: the default, off). The group is stopped on exit,
# by PID. Results are recorded in docs/performance.md with the command.
# Nothing else may scrape the members' /metrics during a run: each scrape
# starts a new stall window.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export QSG_BIN_DIR=${QSG_BIN_DIR:-$src/build}
export QSG_RUN_DIR=${QSG_RUN_DIR:-$src/run/deep}
export QSG_PORT_BASE=${QSG_PORT_BASE:-16700}
export QSG_LOG_LEVEL=${QSG_LOG_LEVEL:-warn}
depth=${DEPTH:-1000000}
step=${STEP:-100000}
size=${SIZE:-1024}
restart=${RESTART:-0}
wipe=${WIPE:-0}
cluster=$src/scripts/cluster
adm=$QSG_BIN_DIR/qsgadm

for b in qsgd qsgadm qsgbench; do
	[ -x "$QSG_BIN_DIR/$b" ] || {
		echo "deep.sh: $QSG_BIN_DIR/$b not found (scripts/build, or set QSG_BIN_DIR)" >&2
		exit 1
	}
done
((step > 0 && depth >= step)) || { echo "deep.sh: need DEPTH >= STEP > 0" >&2; exit 1; }

if [ -f "$QSG_RUN_DIR/members" ]; then
	"$cluster" down >/dev/null 2>&1 || true
fi
rm -rf "$QSG_RUN_DIR"

teardown() {
	local qm p
	[ -f "$QSG_RUN_DIR/members" ] || return 0
	for qm in $(cat "$QSG_RUN_DIR/members"); do
		p=$(cat "$QSG_RUN_DIR/$qm.pid" 2>/dev/null || true)
		[ -n "$p" ] || continue
		kill -CONT "$p" 2>/dev/null || true
		kill -TERM "$p" 2>/dev/null || true
	done
	"$cluster" down >/dev/null 2>&1 || true
}
trap teardown EXIT
trap 'exit 130' INT TERM

# scripts/cluster writes QMn.ini on the first `up` only: start once to write
# them, stop, add the [http] section (for stall_ms), start again.
http_base=$((QSG_PORT_BASE + 90))
"$cluster" up 3 >/dev/null || { echo "deep.sh: the group did not start" >&2; exit 1; }
"$cluster" down >/dev/null
for i in 1 2 3; do
	printf '[http]\naddress = 127.0.0.1:%d\n' $((http_base + i)) >>"$QSG_RUN_DIR/QM$i.ini"
done
conn=$("$cluster" up 3 | sed -n 's/^QSG_CONN=//p')
[ -n "$conn" ] || { echo "deep.sh: the group did not start" >&2; exit 1; }
export QSG_CONN=$conn

group_json() { "$adm" --json <<<"DISPLAY GROUP" 2>/dev/null || true; }
leases_active() {
	group_json | python3 -c 'import json,sys
objs=[o for l in sys.stdin for o in json.loads(l).get("objects", [])]
sys.exit(0 if len(objs) == 3 and all(o.get("LEASE") == "ACTIVE" for o in objs) else 1)'
}
leader() {
	group_json | python3 -c 'import json,sys
for l in sys.stdin:
    for o in json.loads(l).get("objects", []):
        if o.get("ROLE") == "LEADER":
            print(o.get("QMNAME", "?")); sys.exit(0)
print("none")'
}
for ((i = 0; i < 150; i++)); do leases_active && break; sleep 0.1; done
"$adm" <<<"DEFINE QLOCAL(QSG.DEEP) MAXDEPTH(999999999) REPLACE" >/dev/null

rss() { # QM -> MB
	local p
	p=$(cat "$QSG_RUN_DIR/$1.pid" 2>/dev/null || true)
	[ -n "$p" ] && [ -r "/proc/$p/status" ] || { echo "-"; return; }
	awk '/^VmRSS/ {printf "%d", $2 / 1024}' "/proc/$p/status"
}
disk() { du -sm "$QSG_RUN_DIR/$1" 2>/dev/null | awk '{print $1}'; }
count() { cat "$QSG_RUN_DIR"/QM*.log 2>/dev/null | grep -c "$1" || true; }
# The queue's depth as the group reports it (a step that qsgbench ended
# early, e.g. when a member fenced and closed its connections, put fewer
# than STEP messages: the table shows the real depth, not the intended one).
curdepth() {
	local i v
	for ((i = 0; i < 50; i++)); do
		v=$("$adm" <<<"DISPLAY QLOCAL(QSG.DEEP) CURDEPTH" 2>/dev/null | sed -n 's/.*CURDEPTH(\([0-9]*\)).*/\1/p' | head -1)
		[ -n "$v" ] && { echo "$v"; return; }
		sleep 0.2
	done
	echo "?"
}
# stall -> "a/b/c": per member, the longest loop iteration in ms since the
# previous scrape (which this one ends: the next window starts now); "-" for
# a member that does not answer.
stall() {
	python3 - "$http_base" "$QSG_RUN_DIR/stall_why" <<'PY'
import sys, urllib.request
out, worst = [], (-1.0, "")
for i in (1, 2, 3):
    v, ms, ph = "-", -1.0, {}
    try:
        url = "http://127.0.0.1:%d/metrics" % (int(sys.argv[1]) + i)
        for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
            if line.startswith("qsg_loop_iteration_window_max_seconds "):
                ms = float(line.split()[1]) * 1000
                v = "%.0f" % ms
            elif line.startswith("qsg_loop_window_worst_phase_seconds{"):
                name = line.split('"')[1]
                ph[name] = float(line.split()[1]) * 1000
    except Exception:
        pass
    out.append(v)
    if ms > worst[0]:
        other = ms - sum(ph.values())
        parts = ["%s %.0f" % (k, x) for k, x in ph.items() if x >= 0.5]
        parts.append("other %.0f" % max(other, 0))
        worst = (ms, "QM%d: %s" % (i, ", ".join(parts)))
print("/".join(out))
open(sys.argv[2], "w").write(worst[1] + "\n")
PY
}

printf '%-6s %9s %9s %8s %8s %6s %-17s %-17s %-14s %6s %6s %-6s %s\n' phase depth rate/s p99_ms \
	p999_ms errors rss_MB disk_MB stall_ms fences failed leader worst_stall
row() { # phase depth RESULT-line
	local r=$3 rate p99 p999 err
	rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$r")
	p99=$(sed -n 's/.* p99_us=\([0-9]*\).*/\1/p' <<<"$r")
	p999=$(sed -n 's/.* p999_us=\([0-9]*\).*/\1/p' <<<"$r")
	err=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$r")
	local st
	st=$(stall)
	printf '%-6s %9s %9.0f %8.1f %8.1f %6s %-17s %-17s %-14s %6s %6s %-6s %s\n' "$1" "$2" "${rate:-0}" \
		"$(awk -v u="${p99:-0}" 'BEGIN{print u/1000}')" \
		"$(awk -v u="${p999:-0}" 'BEGIN{print u/1000}')" "${err:-?}" \
		"$(rss QM1)/$(rss QM2)/$(rss QM3)" "$(disk QM1)/$(disk QM2)/$(disk QM3)" "$st" \
		"$(count QSG4002W)" "$(count QSG4003W)" "$(leader)" "$(cat "$QSG_RUN_DIR/stall_why" 2>/dev/null)"
}

status=0
bench() { # qsgbench-args... -> prints the RESULT line
	local out
	stall >/dev/null # the step's stall window starts here
	# Runs in a command substitution: a failure is reported in the line
	# (failed=1), which the caller turns into the exit status.
	local rc=0
	out=$("$QSG_BIN_DIR/qsgbench" --queue QSG.DEEP "$@" 2>&1) || rc=1
	{ grep '^RESULT' <<<"$out" || echo "RESULT none errors=?"; } | sed "s/\$/ failed=$rc/"
}

d=0
while ((d < depth)); do
	r=$(bench --mode put --conns 8 --inflight 8 --size "$size" --persistent --messages "$step")
	[[ $r == *failed=1* ]] && status=1
	d=$((d + step))
	v=$(curdepth)
	[ "$v" = "?" ] || d=$v
	row fill "$d" "$r"
done

if [ "$restart" = 1 ]; then
	for qm in QM1 QM2 QM3; do "$cluster" kill "$qm" >/dev/null; done
	t0=$(date +%s.%N)
	for qm in QM1 QM2 QM3; do "$cluster" start "$qm" >/dev/null & done
	wait
	until echo x | "$QSG_BIN_DIR/qsgput" QSG.DEEP >/dev/null 2>&1; do sleep 0.2; done
	t1=$(date +%s.%N)
	idx=$(python3 - "$http_base" <<'PY'
import sys, urllib.request
out = []
for i in (1, 2, 3):
    v = {}
    try:
        url = "http://127.0.0.1:%d/metrics" % (int(sys.argv[1]) + i)
        for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
            if line.startswith("qsg_store_segments_"):
                v[line.split()[0]] = line.split()[1]
    except Exception:
        pass
    out.append("%s/%s" % (v.get("qsg_store_segments_indexed_at_open", "-"), v.get("qsg_store_segments_scanned_at_open", "-")))
print(" ".join(out))
PY
)
	echo "restart: kill -9 of every member at depth $depth, serving again after $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s; longest loop iteration since start $(stall) ms; segments indexed/scanned at open $idx"
	d=$((d + 1))
fi

if [ "$wipe" = 1 ]; then
	l=$(leader)
	v=
	for qm in QM3 QM2 QM1; do [ "$qm" != "$l" ] && v=$qm && break; done
	"$cluster" stop "$v" >/dev/null
	rm -rf "${QSG_RUN_DIR:?}/$v"
	t0=$(date +%s.%N)
	"$cluster" start "$v" >/dev/null
	# qsgbench spreads its connections over every address it is given: give
	# it the two members that serve.
	live=$(for qm in QM1 QM2 QM3; do [ "$qm" = "$v" ] || "$cluster" conn "$qm"; done | paste -sd, -)
	r=$(QSG_CONN=$live bench --mode put --conns 8 --inflight 8 --size "$size" --persistent --messages "$step")
	[[ $r == *failed=1* ]] && status=1
	d=$((d + step))
	x=$(curdepth)
	[ "$x" = "?" ] || d=$x
	row fill "$d" "$r"
	# Caught up: the member has fetched bodies and misses none (its
	# /metrics; the QSG4102I line is logged at info level only).
	vport=$((http_base + ${v#QM}))
	for ((i = 0; i < 12000; i++)); do
		python3 - "$vport" <<'PY' && break
import sys, urllib.request
m = {}
try:
    for line in urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode().splitlines():
        if line.startswith("qsg_store_"):
            k, v = line.split()[:2]
            m[k] = float(v)
except Exception:
    sys.exit(1)
sys.exit(0 if m.get("qsg_store_fetched_total", 0) > 0 and m.get("qsg_store_missing_messages", 1) == 0 else 1)
PY
		sleep 0.1
	done
	t1=$(date +%s.%N)
	echo "wipe: $v wiped at depth $((d - step)), caught up (nothing missing) after $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s while $step more were put; rss $(rss "$v") MB, disk $(disk "$v") MB"
fi

while ((d > 0)); do
	n=$((d < step ? d : step))
	r=$(bench --mode get --conns 8 --inflight 8 --messages "$n")
	[[ $r == *failed=1* ]] && status=1
	d=$((d - n))
	row drain "$d" "$r"
done
exit $status
