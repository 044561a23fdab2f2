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
leader=$("$CLUSTER" leader)
victim=QM3
[ "$leader" = QM3 ] && victim=QM2
pid=$("$CLUSTER" pid "$victim")
log "leader $leader; pausing $victim (pid $pid) for 7 s while puts flow"
"$BENCH" --queue PAUSE.Q --mode put --conns 2 --inflight 8 --size 512 --seconds 12 \
	>"$QSG_RUN_DIR/bench.out" 2>&1 &
extra_pids+=($!)
bench=$!
sleep 2
kill -STOP "$pid"
sleep 7
kill -CONT "$pid"
log "resumed $victim"
wait "$bench" || true
sleep 3
kill -0 "$pid" 2>/dev/null || fail "$victim exited after the pause: $(grep QSG0099E "$QSG_RUN_DIR/$victim.log" || true)"
! grep -q QSG0099E "$QSG_RUN_DIR/$victim.log" || fail "$victim: $(grep QSG0099E "$QSG_RUN_DIR/$victim.log")"
grep '^RESULT' "$QSG_RUN_DIR/bench.out" || true
log "PASS: $victim survived a 7 s pause (append_timeout_ms 5000)"
