#!/usr/bin/env bash
# Rolling restart under load (issue 5, docs/lifecycle.md "Rolling restart"):
# a producer and a syncpoint consumer (libqsg, which reconnects) run in
# loops while every member in turn -- followers first, the leader last -- is
# stopped with STOP QMGR through qsgadm (retried while the member refuses
# because the previous one is not yet back in sync), restarted, and waited
# for. No tool invocation may fail, and every message is got exactly once.
. "$(dirname "$0")/lib.sh" 19220

group_attr() { # CONN QM ATTR
	timeout 10 "$QSGADM" -c "$1" --json <<<"DISPLAY GROUP" 2>/dev/null | python3 -c '
import json, sys
qm, attr = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    d = json.loads(line)
    for o in d.get("objects", []):
        if o.get("QMNAME") == qm:
            print(o.get(attr, "")); sys.exit(0)
sys.exit(1)' "$2" "$3"
}

cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.ROLL) QSGDISP(SHARED) MAXDEPTH(1000000)" >/dev/null || fail "define"
STOPF=$QSG_RUN_DIR/stop-load
CHUNK=${ROLLING_CHUNK:-200}

# Producer: chunks of CHUNK messages, one qsgput each, until told to stop.
(
	i=0
	while [ ! -f "$STOPF" ]; do
		i=$((i + 1))
		seq 1 "$CHUNK" | sed "s/^/c$i-/" >"$QSG_RUN_DIR/chunk"
		if "$QSGPUT" -c "$QSG_CONN" T.ROLL <"$QSG_RUN_DIR/chunk" >>"$QSG_RUN_DIR/put.out" 2>&1; then
			cat "$QSG_RUN_DIR/chunk" >>"$QSG_RUN_DIR/sent"
		else
			echo "qsgput failed in chunk $i" >>"$QSG_RUN_DIR/failures"
			cat "$QSG_RUN_DIR/chunk" >>"$QSG_RUN_DIR/sent" # may be partly in
		fi
	done
) &
pp=$!
extra_pids+=($pp)
# Consumer: syncpoint gets until the producer stopped and the queue is dry.
(
	while :; do
		if ! "$QSGGET" -c "$QSG_CONN" T.ROLL --syncpoint -w 2 >>"$QSG_RUN_DIR/got" 2>>"$QSG_RUN_DIR/get.err"; then
			echo "qsgget failed" >>"$QSG_RUN_DIR/failures"
		fi
		[ -f "$STOPF.done" ] && break
	done
) &
gp=$!
extra_pids+=($gp)
sleep 1

leader=$("$CLUSTER" leader)
order="$(other_than "$leader") $leader"
log "rolling restart, order: $(echo $order)"
for qm in $order; do
	conn=$("$CLUSTER" conn "$qm")
	pid=$("$CLUSTER" pid "$qm")
	ok=""
	for ((i = 0; i < 150; i++)); do
		out=$(timeout 30 "$QSGADM" -c "$conn" <<<"STOP QMGR" 2>&1 || true)
		if grep -q "QSG0035I" <<<"$out"; then ok=1; break; fi
		grep -q "QSG_RC_INVALID" <<<"$out" || log "STOP QMGR on $qm: $(grep QSG0 <<<"$out" | sed -n 1p)"
		sleep 0.2
	done
	[ -n "$ok" ] || fail "STOP QMGR on $qm refused for 30 s: $out"
	log "$qm: $(grep QSG0035I <<<"$out")"
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null || fail "$qm (pid $pid) did not stop"
	if [ -z "${refusal_checked:-}" ]; then
		# With one member down, stopping another would cost the quorum.
		next=$(other_than "$qm" | sed -n 1p)
		out=$(timeout 30 "$QSGADM" -c "$("$CLUSTER" conn "$next")" <<<"STOP QMGR" 2>&1 || true)
		grep -q "QSG0036E.*QSG_RC_INVALID.*quorum" <<<"$out" ||
			fail "STOP QMGR on $next was not refused while $qm is down: $out"
		log "$next refused to stop while $qm is down"
		refusal_checked=1
	fi
	"$CLUSTER" start "$qm" >/dev/null || fail "start $qm"
	# A deadline, not a count: under ASan on a loaded machine a restart
	# (store open, log load, snapshot install, catch-up) takes seconds.
	t0=$SECONDS lease=
	while ((SECONDS - t0 < 60)); do
		lease=$(group_attr "$conn" "$qm" LEASE || true)
		[ "$lease" = ACTIVE ] && break
		sleep 0.2
	done
	if [ "$lease" != ACTIVE ]; then
		timeout 10 "$QSGADM" -c "$conn" <<<"DISPLAY GROUP" 2>&1 | sed 's/^/  /'
		fail "$qm did not rejoin in $((SECONDS - t0)) s (LEASE '$lease')"
	fi
	log "$qm restarted and active"
done
# The last one back in sync too: its own STOP check passes for the others.
sleep 1
touch "$STOPF"
wait "$pp" || true
touch "$STOPF.done"
wait "$gp" || true
"$QSGGET" -c "$QSG_CONN" T.ROLL --syncpoint -w 3 >>"$QSG_RUN_DIR/got" || fail "final drain"
if [ -s "$QSG_RUN_DIR/failures" ]; then
	cat "$QSG_RUN_DIR/failures"
	tail -20 "$QSG_RUN_DIR/put.out" "$QSG_RUN_DIR/get.err"
	fail "failed operations during the rolling restart"
fi
log "chunks put: $(($(wc -l <"$QSG_RUN_DIR/sent") / CHUNK))"
[ "$(wc -l <"$QSG_RUN_DIR/sent")" -ge $((CHUNK * 5)) ] || fail "too little load"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"
log "ok"
