#!/usr/bin/env bash
# A member stopped (SIGSTOP) for longer than [raft] append_timeout_ms while
# puts flow is not a storage fault: after SIGCONT it must go on, not
# fail-stop. Before the fix the glue's append watchdog counted the time the
# process was stopped against the disk and the member exited 70
# ("raft log append in flight for 5479 ms ... storage stalled"; found by
# jepsen's backlog workload with the pause nemesis). A stalled disk is still
# detected (the watchdog timer keeps ticking while the append waits; the
# jepsen disk nemeses cover it).
# Ports: members 16201.., Raft 16301..
. "$(dirname "$0")/lib.sh" 16200
BENCH=$top_builddir/qsgbench
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(PAUSE.Q) MAXDEPTH(999999999)" >/dev/null
# Each member in turn, the leader first (its appends are nearly always in
# flight under load), is stopped for 6 s while puts flow.
n=0
for victim in $("$CLUSTER" leader) QM1 QM2 QM3; do
	pid=$("$CLUSTER" pid "$victim")
	[ -n "$pid" ] || fail "$victim not running"
	log "pausing $victim (pid $pid) for 6 s while puts flow"
	"$BENCH" --queue PAUSE.Q --mode put --conns 2 --inflight 8 --size 512 --seconds 10 \
		>"$QSG_RUN_DIR/bench.out" 2>&1 &
	extra_pids+=($!)
	bench=$!
	sleep 1.5
	kill -STOP "$pid"
	sleep 6
	kill -CONT "$pid"
	wait "$bench" || true
	sleep 3
	kill -0 "$pid" 2>/dev/null ||
		fail "$victim exited after the pause: $(grep 'QSG0099E\|QSG4006E' "$QSG_RUN_DIR/$victim.log" || true)"
	! grep -q 'QSG0099E\|QSG4006E' "$QSG_RUN_DIR/$victim.log" ||
		fail "$victim: $(grep 'QSG0099E\|QSG4006E' "$QSG_RUN_DIR/$victim.log")"
	n=$((n + 1))
done
log "PASS: $n pauses of 6 s (append_timeout_ms 5000), no member stopped itself"
