#!/usr/bin/env bash
# The AMQP 1.0 gateway (docs/protocols.md "AMQP 1.0") with Debian's
# unmodified python3-qpid-proton against a group of 3, through a follower
# and through the leader's member (amqp_client.py): send and receive with
# ids, properties and priority, a pre-settled receiver; released /
# modified / modified(delivery-failed) / rejected and their effects
# (delivery-count = BackoutCount, the dead-letter queue, the backout queue
# at BOTHRESH); the tx_send/tx_recv flows (a transaction committed, one
# aborted, on both sides); a message between libqsg and AMQP both ways,
# one from STOMP with its headers as application-properties;
# then transactional producers while the leader is killed
# (amqp_failover.py): every committed batch exactly once, nothing of a
# batch backed out, an unknown outcome all or nothing.
PY=/usr/bin/python3 # Debian's python3-qpid-proton (scripts/deps)
"$PY" -c 'import proton' 2>/dev/null || {
	echo "python3-qpid-proton is not installed (apt-get install python3-qpid-proton): skipped"
	exit 77
}
. "$(dirname "$0")/lib.sh" 30000
here=$(cd "$(dirname "$0")" && pwd)
cluster_up 3
eval "$("$CLUSTER" env)"
[ -n "${QSG_AMQP:-}" ] || fail "scripts/cluster printed no QSG_AMQP"
log "AMQP listeners: $QSG_AMQP"
"$QSGADM" >/dev/null <<'MQSC' || fail "define queues"
DEFINE QLOCAL(APP.Q)
DEFINE QLOCAL(OUT.Q)
DEFINE QLOCAL(DLQ)
DEFINE QLOCAL(BO.Q.BOQ)
DEFINE QLOCAL(BO.Q) BOTHRESH(3) BOQNAME(BO.Q.BOQ)
DEFINE QLOCAL(TX.Q)
DEFINE QLOCAL(IO.Q)
DEFINE QLOCAL(FO) MAXDEPTH(100000)
ALTER QMGR DEADQ(DLQ)
MQSC
amqp_of() { echo "$QSG_AMQP" | cut -d, -f"${1#QM}"; }
leader=$("$CLUSTER" leader)
follower=$(other_than "$leader" | sed -n 1p)
for via in "$follower" "$leader"; do
	url="amqp://$(amqp_of "$via")"
	for c in send_receive outcomes backout_threshold transactions; do
		log "case $c through $via"
		# released leaves the delivery-count (BackoutCount) alone
		timeout 120 "$PY" "$here/amqp_client.py" "$url" $c ||
			fail "case $c through $via"
	done
done
# The dead-letter queue got nothing left over; the others are empty.
for q in APP.Q OUT.Q DLQ BO.Q BO.Q.BOQ TX.Q; do
	d=$(echo "DISPLAY QSTATUS($q) CURDEPTH" | "$QSGADM" | sed -n 's/.*CURDEPTH(\([0-9]*\)).*/\1/p')
	[ "$d" = 0 ] || fail "$q holds $d messages after the cases"
done
log "libqsg <-> AMQP"
echo "from libqsg" | "$QSGPUT" IO.Q >/dev/null
timeout 60 "$PY" "$here/amqp_client.py" "amqp://$(amqp_of "$follower")" from_libqsg ||
	fail "from libqsg"
got=$("$QSGGET" IO.Q -w 5 -n 1)
[ "$got" = "from amqp" ] || fail "qsgget got '$got', expected 'from amqp'"
log "rejected: the reason on the dead-letter message"
echo "from libqsg" | "$QSGPUT" OUT.Q >/dev/null
timeout 60 "$PY" "$here/amqp_client.py" "amqp://$(amqp_of "$follower")" dlq_reason ||
	fail "dead-letter reason"
if "$PY" -c 'import stomp' 2>/dev/null; then
	log "STOMP -> AMQP: headers as application-properties"
	STOMP_ADDR=$(echo "$QSG_STOMP" | cut -d, -f"${follower#QM}") timeout 60 "$PY" \
		"$here/amqp_client.py" "amqp://$(amqp_of "$leader")" from_stomp || fail "from STOMP"
fi

# Failover: transactional producers, starting through the leader's member.
li=$((${leader#QM} - 1))
log "leader $leader: transactional producer from $leader on"
"$PY" "$here/amqp_failover.py" produce "$QSG_AMQP" "$li" FO 8 "$QSG_RUN_DIR/fo.json" \
	>"$QSG_RUN_DIR/produce.out" 2>&1 &
prod=$!
extra_pids+=($prod)
sleep 2.5
log "kill -9 leader $leader"
"$CLUSTER" kill "$leader"
wait "$prod" || {
	cat "$QSG_RUN_DIR/produce.out"
	fail "producer failed"
}
cat "$QSG_RUN_DIR/produce.out"
newleader=$("$CLUSTER" leader || true)
[ -n "$newleader" ] || fail "no new leader after killing $leader"
log "new leader $newleader; restart $leader"
"$CLUSTER" start "$leader"
timeout 120 "$PY" "$here/amqp_failover.py" check "$(amqp_of "$follower")" FO "$QSG_RUN_DIR/fo.json" ||
	fail "exactly-once check (above)"
log "ok"
