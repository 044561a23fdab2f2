#!/usr/bin/env bash
# Triggering (issue 11 item 6, docs/channels.md "Triggering"): a 3-member
# group and a remote queue manager. The transmission queue QMR has TRIGGER
# TRIGTYPE(FIRST) and its sender G.TO.R has never been started:
#   1. a put starts the channel (on a member chosen by the owner rule) and
#      the message arrives;
#   2. DISCINT ends it (RETRYING, waiting for messages); a new put restarts
#      it through the trigger, and that message arrives too;
#   3. a STOPPED channel is not started by a put; START CHANNEL delivers;
#   4. QMR.D with NOTRIGGER: puts never start its sender G.TO.RD;
#   5. ALTER QLOCAL(QMR.D) TRIGGER TRIGTYPE(DEPTH) TRIGDPTH(5): the channel
#      starts at the fifth message, not before, and TRIGGER is turned off.
# The attributes are defined, altered and displayed through qsgadm.
# Ports 25800-25950 unless QSG_PORT_BASE says otherwise.
. "$(dirname "$0")/lib.sh" 25800

# Fields of DISPLAY QLOCAL(Q) ALL: qattr CONN Q FIELD...
qattr() {
	local conn=$1 q=$2
	shift 2
	mqsc_fields "$conn" "DISPLAY QLOCAL($q) ALL" "$@"
}

# Wait until CH is RUNNING with an epoch above MIN; prints "owner epoch".
wait_running() { # CONN CH MIN
	local st owner epoch i
	for ((i = 0; i < 200; i++)); do
		read -r st owner epoch < <(chst "$1" "$2" STATUS OWNER EPOCH)
		if [ "$st" = RUNNING ] && [ "$epoch" != - ] && [ "$epoch" -gt "$3" ]; then
			echo "$owner $epoch"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# The status of CH stays $3 ("-": no entry, never started) for $4 seconds.
stays() { # CONN CH STATUS SECONDS
	local st end=$((SECONDS + $4))
	while [ $SECONDS -lt $end ]; do
		st=$(chst "$1" "$2" STATUS || true) # no entry: qsgadm fails, chst prints -
		[ "$st" = "$3" ] || fail "$2: STATUS($st), want it to stay $3"
		sleep 0.3
	done
}

# Get exactly the lines expected from queue Q at the remote.
expect_at_remote() { # Q LINE...
	local q=$1 got
	shift
	got=$("$QSGGET" -c "$R" "$q" -w 15 -n $# | paste -sd' ')
	[ "$got" = "$*" ] || fail "at QMR $q: got '$got', want '$*'"
}

line=$("$CLUSTER" up 3 remote | grep '^QSG_REMOTE_CONN=') || fail "cluster up"
G=$("$CLUSTER" conn)
R=${line#QSG_REMOTE_CONN=}
log "group $G, remote queue manager QMR at $R"

"$QSGADM" -c "$G" >"$QSG_RUN_DIR/defs.out" <<EOF || fail "group definitions: $(cat "$QSG_RUN_DIR/defs.out")"
DEFINE QLOCAL(QMR) USAGE(XMITQ) TRIGGER TRIGTYPE(FIRST) TRIGDATA(G.TO.R) INITQ(SYSTEM.CHANNEL.INITQ)
DEFINE QREMOTE(TO.R) RNAME(IN) RQMNAME(QMR) XMITQ(QMR)
DEFINE CHANNEL(G.TO.R) CHLTYPE(SDR) CONNAME('$R') XMITQ(QMR) DISCINT(3) SHORTTMR(1)
DEFINE QLOCAL(QMR.D) USAGE(XMITQ) NOTRIGGER
DEFINE QREMOTE(TO.RD) RNAME(IN.D) RQMNAME(QMR) XMITQ(QMR.D)
DEFINE CHANNEL(G.TO.RD) CHLTYPE(SDR) CONNAME('$R') XMITQ(QMR.D) SHORTTMR(1)
EOF
"$QSGADM" -c "$R" >/dev/null <<EOF || fail "remote definitions"
DEFINE CHANNEL(G.TO.R) CHLTYPE(RCVR)
DEFINE CHANNEL(G.TO.RD) CHLTYPE(RCVR)
DEFINE QLOCAL(IN)
DEFINE QLOCAL(IN.D)
EOF
read -r trig type dpth data initq < <(qattr "$G" QMR TRIGGER TRIGTYPE TRIGDPTH TRIGDATA INITQ)
[ "$trig $type $dpth $data $initq" = "YES FIRST 1 G.TO.R SYSTEM.CHANNEL.INITQ" ] ||
	fail "DISPLAY QLOCAL(QMR): TRIGGER($trig) TRIGTYPE($type) TRIGDPTH($dpth) TRIGDATA($data) INITQ($initq)"
"$QSGADM" -c "$G" <<<"DISPLAY QLOCAL(QMR) TRIGGER TRIGTYPE TRIGDPTH TRIGDATA INITQ" |
	sed 's/^/    /'

# 1. An inactive channel, a put: it starts and the message arrives.
stays "$G" G.TO.R - 2
echo m1 | "$QSGPUT" -c "$G" TO.R
read -r owner epoch < <(wait_running "$G" G.TO.R 0) || fail "G.TO.R not started by its trigger"
leader=$("$QSGADM" -c "$G" --json <<<"DISPLAY QMGR" | python3 -c 'import json,sys
for line in sys.stdin:
    for o in json.loads(line).get("objects",[]): print(o.get("LEADER","")); sys.exit(0)')
log "1. a put started G.TO.R on $owner (epoch $epoch; the leader is $leader)"
expect_at_remote IN m1
grep -q "QSG5070I.*channel G.TO.R: started by the trigger of its transmission queue QMR" \
	"$QSG_RUN_DIR"/QM*.log || fail "no QSG5070I for G.TO.R"

# 2. DISCINT(3) ends it; a put restarts it through the trigger.
for ((i = 0; i < 150; i++)); do
	[ "$(chst "$G" G.TO.R STATUS)" = RETRYING ] && break
	sleep 0.1
done
read -r st nxt reason < <(chst "$G" G.TO.R STATUS NXTRETRY REASON)
[ "$st" = RETRYING ] && [ "$nxt" = - ] || fail "after DISCINT: STATUS($st) NXTRETRY($nxt)"
log "2. ended by DISCINT: RETRYING, no retry time ($reason)"
stays "$G" G.TO.R RETRYING 2
echo m2 | "$QSGPUT" -c "$G" TO.R
read -r owner2 epoch2 < <(wait_running "$G" G.TO.R "$epoch") || fail "G.TO.R not restarted"
log "   a put restarted it on $owner2 (epoch $epoch2)"
expect_at_remote IN m2
n=$(cat "$QSG_RUN_DIR"/QM*.log | grep -c "QSG5070I.*channel G.TO.R: started by the trigger" || true)
[ "$n" -eq 2 ] || fail "$n QSG5070I for G.TO.R, want 2"
! grep -q "channel G.TO.R.*messages arrived: restart" "$QSG_RUN_DIR"/QM*.log ||
	fail "the DISCINT instance restarted a triggered channel itself"

# 3. STOPPED: a put does not start it.
"$QSGADM" -c "$G" <<<"STOP CHANNEL(G.TO.R)" >/dev/null || fail "STOP CHANNEL"
for ((i = 0; i < 100; i++)); do
	[ "$(chst "$G" G.TO.R STATUS)" = STOPPED ] && break
	sleep 0.1
done
echo m3 | "$QSGPUT" -c "$G" TO.R
stays "$G" G.TO.R STOPPED 3
[ "$(qattr "$G" QMR CURDEPTH)" = 1 ] || fail "QMR CURDEPTH($(qattr "$G" QMR CURDEPTH)), want 1"
log "3. STOPPED stays STOPPED with a message on QMR"
"$QSGADM" -c "$G" <<<"START CHANNEL(G.TO.R)" >/dev/null || fail "START CHANNEL"
expect_at_remote IN m3

# 4. NOTRIGGER: puts never start G.TO.RD.
for i in 1 2 3; do echo "d$i"; done | "$QSGPUT" -c "$G" TO.RD
stays "$G" G.TO.RD - 3
[ "$(qattr "$G" QMR.D CURDEPTH)" = 3 ] || fail "QMR.D CURDEPTH, want 3"
log "4. NOTRIGGER: 3 messages on QMR.D, G.TO.RD never started"

# 5. TRIGTYPE(DEPTH) TRIGDPTH(5): only at the fifth message.
"$QSGADM" -c "$G" <<<"ALTER QLOCAL(QMR.D) TRIGGER TRIGTYPE(DEPTH) TRIGDPTH(5)" >/dev/null ||
	fail "ALTER QLOCAL(QMR.D)"
read -r trig type dpth < <(qattr "$G" QMR.D TRIGGER TRIGTYPE TRIGDPTH)
[ "$trig $type $dpth" = "YES DEPTH 5" ] || fail "QMR.D: TRIGGER($trig) TRIGTYPE($type) TRIGDPTH($dpth)"
stays "$G" G.TO.RD - 2
echo d4 | "$QSGPUT" -c "$G" TO.RD
stays "$G" G.TO.RD - 2
log "5. DEPTH(5): 4 messages, still inactive"
echo d5 | "$QSGPUT" -c "$G" TO.RD
read -r owner epoch < <(wait_running "$G" G.TO.RD 0) || fail "G.TO.RD not started at depth 5"
log "   the fifth message started G.TO.RD on $owner (epoch $epoch)"
expect_at_remote IN.D d1 d2 d3 d4 d5
for ((i = 0; i < 50; i++)); do
	[ "$(qattr "$G" QMR.D TRIGGER)" = NO ] && break
	sleep 0.1
done
read -r trig type dpth < <(qattr "$G" QMR.D TRIGGER TRIGTYPE TRIGDPTH)
[ "$trig $type $dpth" = "NO DEPTH 5" ] ||
	fail "after the DEPTH trigger: TRIGGER($trig) TRIGTYPE($type) TRIGDPTH($dpth), want NO DEPTH 5"
grep -q "QSG5071I.*queue QMR.D: TRIGGER turned off" "$QSG_RUN_DIR"/QM*.log ||
	fail "no QSG5071I for QMR.D"
log "   TRIGGER turned off after the DEPTH trigger"
"$QSGADM" -c "$G" >/dev/null <<EOF || fail "STOP CHANNEL"
STOP CHANNEL(G.TO.R)
STOP CHANNEL(G.TO.RD)
EOF
log "PASS"
