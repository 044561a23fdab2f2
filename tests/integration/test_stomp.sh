#!/usr/bin/env bash
# The STOMP 1.2 gateway (docs/protocols.md) with Debian's unmodified
# python3-stomp against a group of 3: the cases of stomp_cases.py (receipts
# after commit, ack modes auto/client/client-individual, NACK and the
# backout queue, transactions with SEND and ACK, a dropped connection's
# messages back, ERROR frames, heart-beats, UNSUBSCRIBE), then producers
# while the leader is killed (stomp_failover.py): every committed
# transaction and acknowledged SEND exactly once, nothing aborted, an
# unknown outcome all or nothing.
PY=/usr/bin/python3 # Debian's python3-stomp (scripts/deps)
"$PY" -c 'import stomp' 2>/dev/null || {
	echo "python3-stomp is not installed (apt-get install python3-stomp): skipped"
	exit 77
}
. "$(dirname "$0")/lib.sh" 28000
here=$(cd "$(dirname "$0")" && pwd)
cluster_up 3
eval "$("$CLUSTER" env)"
[ -n "${QSG_STOMP:-}" ] || fail "scripts/cluster printed no QSG_STOMP"
log "STOMP listeners: $QSG_STOMP"
"$QSGADM" >/dev/null <<'MQSC' || fail "define queues"
DEFINE QLOCAL(Q1)
DEFINE QLOCAL(Q2)
DEFINE QLOCAL(Q3)
DEFINE QLOCAL(BO4)
DEFINE QLOCAL(Q4) BOTHRESH(2) BOQNAME(BO4)
DEFINE QLOCAL(Q5)
DEFINE QLOCAL(Q6)
DEFINE QLOCAL(Q7)
DEFINE QLOCAL(Q8)
DEFINE QLOCAL(Q9)
DEFINE QLOCAL(FO) MAXDEPTH(100000)
MQSC
timeout 300 "$PY" "$here/stomp_cases.py" "$QSG_STOMP" || fail "STOMP cases (above)"

# Failover: producers through a follower and through the leader's member.
leader=$("$CLUSTER" leader)
follower=$(other_than "$leader" | sed -n 1p)
li=$((${leader#QM} - 1))
fi=$((${follower#QM} - 1))
log "leader $leader, producers through $follower and $leader"
"$PY" "$here/stomp_failover.py" produce "$QSG_STOMP" "$fi" "$li" 8 "$QSG_RUN_DIR/fo.json" \
	>"$QSG_RUN_DIR/produce.out" 2>&1 &
prod=$!
extra_pids+=($prod)
sleep 2.5
log "kill -9 leader $leader"
"$CLUSTER" kill "$leader"
wait "$prod" || { cat "$QSG_RUN_DIR/produce.out"; fail "producers failed"; }
cat "$QSG_RUN_DIR/produce.out"
newleader=$("$CLUSTER" leader || true)
[ -n "$newleader" ] || fail "no new leader after killing $leader"
log "new leader $newleader; restart $leader"
"$CLUSTER" start "$leader"
timeout 120 "$PY" "$here/stomp_failover.py" check "$(echo "$QSG_STOMP" | cut -d, -f$((fi + 1)))" \
	"$QSG_RUN_DIR/fo.json" || fail "exactly-once check (above)"
log "ok"
