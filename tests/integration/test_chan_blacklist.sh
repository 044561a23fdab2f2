#!/usr/bin/env bash
# Destination black list (seed 002, second abstract): batches in which some
# messages cannot be put at the receiver (here: their queue does not exist).
#   USEDLQ(YES): the refused messages go to the group's dead-letter queue with
#                a dead-letter header naming the reason and the destination;
#                everything else is delivered exactly once.
#   USEDLQ(NO):  the refused messages stay on the transmission queue, their
#                destination on the channel's black list, and are retried
#                alone; once the queue exists they arrive.
# The channel keeps running throughout. test_chan_blacklist2.sh: several bad
# destinations under load, DISPLAY CHSTATUS, takeover.
. "$(dirname "$0")/lib.sh" 17950

line=$("$CLUSTER" up 3 remote | grep '^QSG_REMOTE_CONN=') || fail "cluster up"
G=$("$CLUSTER" conn)
R=${line#QSG_REMOTE_CONN=}
"$QSGADM" -c "$G" >/dev/null <<EOF || fail "group definitions"
DEFINE QLOCAL(QMR) USAGE(XMITQ)
DEFINE QREMOTE(TO.R) RNAME(IN) RQMNAME(QMR) XMITQ(QMR)
DEFINE QREMOTE(TO.MISSING) RNAME(MISSING) RQMNAME(QMR) XMITQ(QMR)
DEFINE CHANNEL(G.TO.R) CHLTYPE(SDR) CONNAME('$R') XMITQ(QMR) BATCHSZ(20) HBINT(1) SHORTTMR(1)
DEFINE QLOCAL(DLQ)
ALTER QMGR DEADQ(DLQ)
EOF
"$QSGADM" -c "$R" >/dev/null <<EOF || fail "remote definitions"
DEFINE CHANNEL(G.TO.R) CHLTYPE(RCVR)
DEFINE QLOCAL(IN)
EOF

depth() { # CONN QUEUE
	"$QSGADM" -c "$1" --json <<<"DISPLAY QSTATUS($2)" |
		sed -n 's/.*"CURDEPTH": *"\([0-9]*\)".*/\1/p'
}
status() {
	"$QSGADM" -c "$G" --json <<<"DISPLAY CHSTATUS(G.TO.R)" |
		sed -n 's/.*"STATUS": *"\([A-Z]*\)".*/\1/p'
}
# Interleave good and bad messages on the xmitq: 7 good, 1 bad, ...
fill() { # PREFIX ROUNDS
	local i j
	for ((i = 1; i <= $2; i++)); do
		for ((j = 1; j <= 7; j++)); do echo "$1-good-$i-$j"; done |
			tee -a "$QSG_RUN_DIR/sent.good" | "$QSGPUT" -c "$G" TO.R || fail "put good"
		echo "$1-bad-$i" | tee -a "$QSG_RUN_DIR/sent.$1.bad" |
			"$QSGPUT" -c "$G" TO.MISSING || fail "put bad"
	done
}
wait_depth() { # CONN QUEUE N seconds
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(depth "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# Phase 1: USEDLQ(YES).
fill dlq 25
"$QSGADM" -c "$G" <<<"START CHANNEL(G.TO.R)" >/dev/null || fail "start"
nbad=$(wc -l <"$QSG_RUN_DIR/sent.dlq.bad")
wait_depth "$G" DLQ "$nbad" 30 || fail "DLQ depth $(depth "$G" DLQ), want $nbad"
wait_depth "$R" IN "$(wc -l <"$QSG_RUN_DIR/sent.good")" 30 || fail "IN depth $(depth "$R" IN)"
[ "$(status)" = RUNNING ] || fail "channel not running after refusals: $(status)"
"$QSGGET" -c "$G" DLQ --headers >"$QSG_RUN_DIR/dlq" || fail "get DLQ"
grep -c "reason=2085(QSG_RC_UNKNOWN_OBJECT) destq=MISSING destqmgr=QMR channel=G.TO.R" \
	"$QSG_RUN_DIR/dlq" | grep -qx "$nbad" || {
	cat "$QSG_RUN_DIR/dlq"
	fail "dead-letter headers"
}
sed 's/.* | //' "$QSG_RUN_DIR/dlq" >"$QSG_RUN_DIR/dlq.bodies"
log "dead-letter queue:"
check_exactly_once "$QSG_RUN_DIR/sent.dlq.bad" "$QSG_RUN_DIR/dlq.bodies"

# Phase 2: USEDLQ(NO): held on the xmitq and retried alone.
"$QSGADM" -c "$G" >/dev/null <<EOF || fail "alter"
ALTER CHANNEL(G.TO.R) CHLTYPE(SDR) USEDLQ(NO)
STOP CHANNEL(G.TO.R)
EOF
for ((i = 0; i < 100; i++)); do [ "$(status)" = STOPPED ] && break; sleep 0.1; done
"$QSGADM" -c "$G" <<<"START CHANNEL(G.TO.R)" >/dev/null || fail "restart"
fill hold 10
nhold=$(wc -l <"$QSG_RUN_DIR/sent.hold.bad")
wait_depth "$R" IN "$(wc -l <"$QSG_RUN_DIR/sent.good")" 30 || fail "IN depth $(depth "$R" IN)"
sleep 1
[ "$(depth "$G" QMR)" = "$nhold" ] || fail "xmitq should hold the $nhold refused messages, has $(depth "$G" QMR)"
[ "$(depth "$G" DLQ)" = 0 ] || fail "USEDLQ(NO) must not use the DLQ"
[ "$(status)" = RUNNING ] || fail "channel not running while messages are held: $(status)"
log "$nhold messages held on the xmitq; defining the missing queue at the remote"
"$QSGADM" -c "$R" <<<"DEFINE QLOCAL(MISSING)" >/dev/null || fail "define MISSING"
wait_depth "$R" MISSING "$nhold" 30 || fail "held messages not delivered: $(depth "$R" MISSING)"
wait_depth "$G" QMR 0 10 || fail "xmitq not empty"
"$QSGGET" -c "$R" MISSING >"$QSG_RUN_DIR/got.hold" || fail "get MISSING"
log "held then retried:"
check_exactly_once "$QSG_RUN_DIR/sent.hold.bad" "$QSG_RUN_DIR/got.hold"
"$QSGGET" -c "$R" IN >"$QSG_RUN_DIR/got.good" || fail "get IN"
log "good messages:"
check_exactly_once "$QSG_RUN_DIR/sent.good" "$QSG_RUN_DIR/got.good"

# BATCHINT: five messages 100 ms apart travel as one batch.
"$QSGADM" -c "$G" <<<"STOP CHANNEL(G.TO.R)" >/dev/null || fail "stop"
for ((i = 0; i < 100; i++)); do [ "$(status)" = STOPPED ] && break; sleep 0.1; done
"$QSGADM" -c "$G" <<<"ALTER CHANNEL(G.TO.R) CHLTYPE(SDR) BATCHINT(2000) BATCHSZ(100)" >/dev/null ||
	fail "alter batchint"
"$QSGADM" -c "$G" <<<"START CHANNEL(G.TO.R)" >/dev/null || fail "restart"
for ((i = 0; i < 100; i++)); do [ "$(status)" = RUNNING ] && break; sleep 0.1; done
for i in 1 2 3 4 5; do echo "bi-$i" | "$QSGPUT" -c "$G" TO.R || fail "put"; sleep 0.1; done
wait_depth "$R" IN 5 10 || fail "BATCHINT batch not delivered"
b=$("$QSGADM" -c "$R" --json <<<"DISPLAY CHSTATUS(G.TO.R) ALL" |
	sed -n 's/.*"BATCHES": *"\([0-9]*\)".*/\1/p')
[ "$b" = 1 ] || fail "BATCHINT: 5 messages came in $b batches, want 1"
log "BATCHINT: 5 messages 100 ms apart arrived as 1 batch"
log "ok"
