#!/usr/bin/env bash
# CLEAR and DELETE PURGE of a deep queue do not block the loop (issue 10,
# docs/storage.md "Leases that do not lie"): a 3-member group fills an
# indexed queue (INDXTYPE(MSGID), generated msgids) with N messages, then
# CLEAR QLOCAL. Checked:
#  * CURDEPTH 0 at once, puts and gets work right after the CLEAR;
#  * every member frees the garbage after the apply (qsg_store_messages back
#    to 0 within 60 s: the bodies were released, by the reaper);
#  * no member's loop iteration, from just before the CLEAR until the
#    garbage is gone, used more than CLEAR_MAX_LOOP_MS of CPU
#    (qsg_loop_iteration_cpu_window_max_seconds; default 200 ms, 400 ms in
#    sanitizer builds; measured up to 106 ms of CPU in one iteration charged
#    to no phase, an open item of issue 10, docs/storage.md) or took more than CLEAR_MAX_WALL_MS of wall time
#    (qsg_loop_iteration_window_max_seconds; default 700 ms, under the
#    800 ms lease). CPU time is the work's own cost; wall time adds waiting
#    for a CPU, which dominates where three members, their reapers and
#    compaction threads share 2 cores (measured on a paravirtualised 2-core
#    machine: 35-240 ms of wall time, charged to no phase, and up to 2.9 s
#    while a compiler ran beside it). Before the reaper, the CLEAR held
#    every loop for ~1 s of CPU, which this catches. QSG4008W lines (wall
#    time over loop_warn_ms) are counted and shown, not failed;
#  * no fence (QSG4002W), no failure declaration (QSG4003W);
#  * the same for DELETE QLOCAL PURGE of N/4 messages;
#  * the same for the expiry of N/4 messages (put with an expiry of
#    EXP_MS, 90 s, so that none is due before the measurement starts;
#    checked): EXPIRE runs every 5 s here, so each finds up to 90k due at
#    once; EXPIRE_BOUNDED removes at most 1024 per entry into the garbage
#    and the leader sends the next at once (docs/storage.md "Expiry"; one
#    unbounded EXPIRE of 100k-250k messages is what the CPU limit catches);
#  * a member killed while its sessions hold HOLDN (4 x 1500) messages
#    under syncpoint: the leader declares it failed (MEMBER_FAIL_BOUNDED
#    backs out 1024) and BACKOUT_PENDING follow-ups back out the rest
#    (UNCOM 0, every message got again), without QSG4008W.
# DEEP_MESSAGES overrides N (default 1000000, 200000 in sanitizer builds).
# Ports: members 19901.., HTTP 19991.., Raft 20001.. (scripts/cluster puts
# Raft at base + 100).
. "$(dirname "$0")/lib.sh" 19900
HTTP_BASE=$((QSG_PORT_BASE + 90))
Q=DEEP.CLEAR.Q
sanitized=0
grep -q '^QSG_LDFLAGS = .*-fsanitize' "$top_builddir/Makefile" && sanitized=1
if [ "$sanitized" = 1 ]; then
	N=${DEEP_MESSAGES:-200000}
	MAXMS=${CLEAR_MAX_LOOP_MS:-400}
	MAXWALL=${CLEAR_MAX_WALL_MS:-750}
else
	N=${DEEP_MESSAGES:-1000000}
	MAXMS=${CLEAR_MAX_LOOP_MS:-200}
	MAXWALL=${CLEAR_MAX_WALL_MS:-700}
fi
BENCH=$top_builddir/qsgbench

cluster_up 3
"$CLUSTER" down >/dev/null
for i in 1 2 3; do
	printf '[http]\naddress = 127.0.0.1:%d\n[lease]\nexpire_interval_ms = 5000\n' \
		$((HTTP_BASE + i)) >>"$QSG_RUN_DIR/QM$i.ini"
done
cluster_up 3

metric() { # PORT NAME -> value (a scrape ends the loop-lag window)
	python3 - "$1" "$2" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
for line in body.splitlines():
    name, _, value = line.rpartition(" ")
    if not line.startswith("#") and name == sys.argv[2]:
        v = float(value)
        print(int(v) if v == int(v) else v)
        break
PY
}
depth() { # QUEUE
	"$QSGADM" --json <<<"DISPLAY QLOCAL($1) CURDEPTH" 2>/dev/null |
		python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["objects"][0]["CURDEPTH"])' 2>/dev/null ||
		echo none
}
count() { cat "$QSG_RUN_DIR"/QM*.log | grep -c "$1" || true; }
ms_of() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 + 0.5 }'; }

for ((k = 0; k < 100; k++)); do
	"$QSGADM" <<<"DEFINE QLOCAL($Q) MAXDEPTH(999999999) INDXTYPE(MSGID)" >/dev/null 2>&1 && break
	sleep 0.1
done
[ "$(depth $Q)" = 0 ] || fail "cannot define $Q"

fill() { # QUEUE COUNT [qsgbench options]
	local out r
	out=$("$BENCH" --queue "$1" --mode put --conns 8 --inflight 8 --size 64 --messages "$2" "${@:3}" 2>&1) ||
		fail "qsgbench put: $out"
	r=$(grep '^RESULT' <<<"$out") || fail "qsgbench put: no RESULT: $out"
	log "fill $1: $r"
	[ "$(depth "$1")" = "$2" ] || fail "CURDEPTH $(depth "$1") after the fill, expected $2"
}

wait_stored() { # COUNT: every member holds COUNT bodies
	local i p k
	for i in 1 2 3; do
		p=$((HTTP_BASE + i))
		for ((k = 0; k < 600; k++)); do
			[ "$(metric $p qsg_store_messages)" = "$1" ] && break
			sleep 0.1
		done
		[ "$(metric $p qsg_store_messages)" = "$1" ] ||
			fail "QM$i holds $(metric $p qsg_store_messages) bodies, expected $1"
	done
}

# metrics PORT -> "store_messages window_max_ms stalls_total snapshots
# snapshot_loop_ms housekeeping_ms phases" in one scrape (phases: the
# window's longest iteration by phase, apply=..,snapshot=..,store=..,client=..;
# cpu_window_max_ms last)
# (a scrape ends the loop-lag window: every scrape's window is kept).
metrics() {
	python3 - "$1" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
v = {}
for line in body.splitlines():
    name, _, value = line.rpartition(" ")
    if not line.startswith("#"):
        v[name] = float(value)
print(int(v["qsg_store_messages"]), int(v["qsg_loop_iteration_window_max_seconds"] * 1000 + 0.5),
      int(v["qsg_loop_stalls_total"]), int(v["qsg_snapshots_total"]),
      int(v["qsg_snapshot_last_loop_seconds"] * 1000 + 0.5),
      int(v["qsg_store_housekeeping_window_max_seconds"] * 1000 + 0.5),
      ",".join("%s=%d" % (ph, v['qsg_loop_window_worst_phase_seconds{phase="%s"}' % ph] * 1000 + 0.5)
               for ph in ("apply", "snapshot", "store", "client", "reap")),
      int(v["qsg_loop_iteration_cpu_window_max_seconds"] * 1000 + 0.5))
PY
}

# One removal of a deep queue: reset the loop-lag windows, run the command,
# check the depth at once, poll every member until it freed the garbage
# (its bodies are released), keeping the longest loop iteration of every
# window and the count of iterations over 20 ms.
removal() { # LABEL MQSC LEFT_BODIES [QUEUE DEPTH: still that deep after the baseline]
	local i p t0 dt warn0 k done_ m w st sn sl hk ph cpu
	local -a worst stalls0 left base bstalls snaps0 hkmax why wcpu
	sleep 2 # let the snapshots of the fill finish
	# Baseline: the same group idle at this depth for 3 s.
	for i in 1 2 3; do
		read -r m w st sn sl hk ph cpu <<<"$(metrics $((HTTP_BASE + i)))"
		base[i]=0
		bstalls[i]=$st
	done
	for ((k = 0; k < 30; k++)); do
		for i in 1 2 3; do
			read -r m w st sn sl hk ph cpu <<<"$(metrics $((HTTP_BASE + i)))"
			((w > base[i])) && base[i]=$w
		done
		sleep 0.1
	done
	for i in 1 2 3; do
		read -r m w st sn sl hk ph cpu <<<"$(metrics $((HTTP_BASE + i)))"
		((w > base[i])) && base[i]=$w
		bstalls[i]=$((st - bstalls[i]))
		worst[i]=0
		why[i]=
		wcpu[i]=0
		hkmax[i]=0
		stalls0[i]=$st
		snaps0[i]=$sn
	done
	if [ -n "${4:-}" ]; then
		[ "$(depth "$4")" = "$5" ] || fail "$1: $4 no longer $5 deep before the measurement"
	fi
	warn0=$(count QSG4008W)
	t0=$(date +%s.%N)
	"$QSGADM" <<<"$2" >"$QSG_RUN_DIR/removal.out" 2>&1 || fail "$2: $(cat "$QSG_RUN_DIR/removal.out")"
	dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
	for ((k = 0; k < 600; k++)); do
		done_=1
		for i in 1 2 3; do
			read -r m w st sn sl hk ph cpu <<<"$(metrics $((HTTP_BASE + i)))"
			((w > worst[i])) && worst[i]=$w && why[i]=$ph
			((cpu > wcpu[i])) && wcpu[i]=$cpu
			((hk > hkmax[i])) && hkmax[i]=$hk
			left[i]=$m
			[ "$m" = "$3" ] || done_=0
		done
		[ "$done_" = 1 ] && break
		sleep 0.1
	done
	log "$1: command $dt s; garbage freed on every member after" \
		"$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	for i in 1 2 3; do
		read -r m w st sn sl hk ph cpu <<<"$(metrics $((HTTP_BASE + i)))"
		((w > worst[i])) && worst[i]=$w && why[i]=$ph
		((cpu > wcpu[i])) && wcpu[i]=$cpu
		((hk > hkmax[i])) && hkmax[i]=$hk
		log "$1: QM$i longest loop iteration ${worst[i]} ms (${why[i]:-}), most CPU in one ${wcpu[i]} ms," \
			"$((st - stalls0[i])) iteration(s) over 20 ms" \
			"(idle baseline at depth, 3 s: ${base[i]} ms, ${bstalls[i]} over 20 ms);" \
			"$((sn - snaps0[i])) snapshot(s) meanwhile, the last held the loop $sl ms;" \
			"longest store housekeeping slice ${hkmax[i]} ms"
		[ "${left[i]}" = "$3" ] || fail "$1: QM$i still holds ${left[i]} bodies after 60 s"
		((wcpu[i] <= MAXMS)) || fail "$1: QM$i loop iteration used ${wcpu[i]} ms of CPU (limit $MAXMS ms)"
		((worst[i] <= MAXWALL)) || fail "$1: QM$i loop iteration of ${worst[i]} ms (limit $MAXWALL ms)"
	done
	log "$1: $(($(count QSG4008W) - warn0)) QSG4008W line(s) meanwhile"
}

fill $Q "$N"
wait_stored "$N"
removal "CLEAR of $N" "CLEAR QLOCAL($Q)" 0
[ "$(depth $Q)" = 0 ] || fail "CURDEPTH $(depth $Q) after CLEAR"
# The queue works at once (its new index too).
echo after-clear | "$QSGPUT" "$Q" >/dev/null || fail "put after CLEAR"
[ "$("$QSGGET" "$Q" -n 1 -w 5 2>/dev/null)" = after-clear ] || fail "get after CLEAR"

D=DEEP.CLEAR.DEL
"$QSGADM" <<<"DEFINE QLOCAL($D) MAXDEPTH(999999999)" >/dev/null
fill $D $((N / 4))
wait_stored $((N / 4))
removal "DELETE PURGE of $((N / 4))" "DELETE QLOCAL($D) PURGE" 0
"$QSGADM" <<<"DEFINE QLOCAL($D)" >/dev/null || fail "redefine $D"
echo after-delete | "$QSGPUT" "$D" >/dev/null || fail "put after DELETE"
[ "$("$QSGGET" "$D" -n 1 -w 5 2>/dev/null)" = after-delete ] || fail "get after DELETE"

X=DEEP.CLEAR.EXP
EXP_MS=${EXP_MS:-90000}
"$QSGADM" <<<"DEFINE QLOCAL($X) MAXDEPTH(999999999)" >/dev/null
t0=$(date +%s)
fill $X $((N / 4)) --expiry "$EXP_MS"
filled=$(($(date +%s) - t0))
((filled * 1000 < EXP_MS - 30000)) || fail "the fill took $filled s: messages may expire before the measurement"
wait_stored $((N / 4))
removal "expiry of $((N / 4))" "DISPLAY QMGR" 0 $X $((N / 4))
[ "$(depth $X)" = 0 ] || fail "CURDEPTH $(depth $X) after the expiry"

[ "$(count QSG4002W)" = 0 ] || fail "QSG4002W: a member fenced itself"
[ "$(count QSG4003W)" = 0 ] || fail "QSG4003W: a member was declared failed"

# A failed member's units of work, more than one entry's backout budget.
UOWHOLD=$top_builddir/tests/integration/uowhold
HQ=DEEP.CLEAR.HOLD
HOLDERS=4
PER=1500
HOLDN=$((HOLDERS * PER))
"$QSGADM" <<<"DEFINE QLOCAL($HQ) MAXDEPTH(999999999)" >/dev/null
fill $HQ $HOLDN
uncom() {
	"$QSGADM" --json <<<"DISPLAY QSTATUS($HQ)" 2>/dev/null |
		python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["objects"][0]["UNCOM"])' 2>/dev/null ||
		echo none
}
victim=$(other_than "$("$CLUSTER" leader)" | sed -n 1p)
hpids=()
for ((h = 0; h < HOLDERS; h++)); do
	"$UOWHOLD" "$("$CLUSTER" conn "$victim")" $HQ $PER >"$QSG_RUN_DIR/hold$h.out" 2>&1 &
	hpids+=($!)
	extra_pids+=($!)
done
for ((h = 0; h < HOLDERS; h++)); do
	for ((k = 0; k < 600; k++)); do
		grep -q '^HELD' "$QSG_RUN_DIR/hold$h.out" && break
		kill -0 "${hpids[h]}" 2>/dev/null || fail "holder $h: $(tail -3 "$QSG_RUN_DIR/hold$h.out")"
		sleep 0.1
	done
	grep -q '^HELD' "$QSG_RUN_DIR/hold$h.out" || fail "holder $h did not take its messages"
done
for ((k = 0; k < 50; k++)); do
	[ "$(uncom)" = $HOLDN ] && break
	sleep 0.1
done
[ "$(uncom)" = $HOLDN ] || fail "UNCOM $(uncom), expected $HOLDN"
warn0=$(count QSG4008W)
log "kill -9 $victim while its sessions hold $HOLDN messages"
t0=$(date +%s%N)
"$CLUSTER" kill "$victim"
for ((k = 0; k < 300; k++)); do
	[ "$(uncom)" = 0 ] && break
	sleep 0.1
done
[ "$(uncom)" = 0 ] || fail "UNCOM $(uncom) 30 s after the kill"
log "the $HOLDN messages of $victim backed out $((($(date +%s%N) - t0) / 1000000)) ms after the kill"
for ((h = 0; h < HOLDERS; h++)); do kill -KILL "${hpids[h]}" 2>/dev/null || true; done
[ "$(count QSG4003W)" -ge 1 ] || fail "$victim was not declared failed"
log "QSG4008W during the backout: $(($(count QSG4008W) - warn0))"
out=$("$BENCH" -c "$("$CLUSTER" conn "$("$CLUSTER" leader)")" --queue $HQ --mode get --conns 2 --inflight 8 --messages $HOLDN 2>&1) ||
	fail "get after the backout: $out"
[ "$(depth $HQ)" = 0 ] || fail "CURDEPTH $(depth $HQ) after getting the backed-out messages"
log "PASS: CLEAR of $N, DELETE PURGE and expiry of $((N / 4)) without a loop stall;" \
	"$HOLDN messages of a failed member backed out"
