#!/usr/bin/env bash
# Under load: kill -9 the leader, then a follower; every acknowledged put is
# got exactly once (consumers use syncpoint), and the group keeps serving.
. "$(dirname "$0")/lib.sh" 17200
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.FAIL) QSGDISP(SHARED) MAXDEPTH(1000000)" || fail "define"
N=${FAILOVER_MESSAGES:-6000}
for p in 1 2; do seq 1 "$N" | sed "s/^/p$p-/" >"$QSG_RUN_DIR/sent.$p"; done
cat "$QSG_RUN_DIR"/sent.* >"$QSG_RUN_DIR/sent"
leader=$("$CLUSTER" leader)
log "leader is $leader"
"$QSGPUT" -c "$QSG_CONN" T.FAIL <"$QSG_RUN_DIR/sent.1" >"$QSG_RUN_DIR/put1.out" 2>&1 &
p1=$!
extra_pids+=($p1)
conn2=$(other_than "$leader" | sed -n 1p)
"$QSGPUT" -c "$("$CLUSTER" conn "$conn2"),$QSG_CONN" T.FAIL <"$QSG_RUN_DIR/sent.2" \
	>"$QSG_RUN_DIR/put2.out" 2>&1 &
p2=$!
extra_pids+=($p2)
"$QSGGET" -c "$QSG_CONN" T.FAIL --syncpoint -w 15 >"$QSG_RUN_DIR/got.1" 2>"$QSG_RUN_DIR/get1.err" &
g1=$!
extra_pids+=($g1)
sleep 1
log "kill -9 leader $leader"
"$CLUSTER" kill "$leader"
sleep 3
follower=$(other_than "$leader" | tail -1)
newleader=$("$CLUSTER" leader || true)
[ -n "$newleader" ] || fail "no new leader after killing $leader"
log "new leader $newleader"
victim=$(other_than "$leader" | grep -v "^$newleader\$" | sed -n 1p)
log "restart $leader, then kill -9 follower $victim"
"$CLUSTER" start "$leader"
sleep 1
"$CLUSTER" kill "$victim"
wait "$p1" || { cat "$QSG_RUN_DIR/put1.out"; fail "producer 1 had unacknowledged puts"; }
wait "$p2" || { cat "$QSG_RUN_DIR/put2.out"; fail "producer 2 had unacknowledged puts"; }
wait "$g1" || { cat "$QSG_RUN_DIR/get1.err"; fail "consumer failed"; }
"$CLUSTER" start "$victim"
# Drain the rest through every member.
for qm in QM1 QM2 QM3; do
	"$QSGGET" -c "$("$CLUSTER" conn "$qm"),$QSG_CONN" T.FAIL --syncpoint -w 3 >>"$QSG_RUN_DIR/got.2" ||
		fail "drain via $qm"
done
cat "$QSG_RUN_DIR/got.1" "$QSG_RUN_DIR/got.2" >"$QSG_RUN_DIR/got"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"
log "ok"
