#!/usr/bin/env bash
# A private channel next to a shared one (issue 11 items 7 and 8;
# docs/channels.md "Private channels"). A 3-member group sends to a remote
# queue manager (a qsgd group of one) through two senders:
#   G.S  a shared channel on the SHARED xmitq XS, started on member P
#        (CHLDISP(FIXSHARED));
#   G.P  a private channel of member P (QSGDISP(QMGR)) on P's own QMGR
#        xmitq XP, started through another member (START is routed to P).
# The remote queue TO.P (a GROUP object) resolves its xmitq as the putting
# member sees it: puts through P land on P's XP, a put through another
# member is refused. Both channels deliver. Then, with batches in flight
# (the remote paused) and messages on both xmitqs, kill -9 P:
#   - the shared channel moves to another member and keeps delivering;
#   - nobody takes over or recovers the private channel: its status entry
#     keeps P as owner, no other member starts an instance of it, and
#     nothing more of TO.P arrives while P is down;
#   - P restarted: its channel initiator resumes G.P (in-doubt batch
#     resolved from the remote's SYNCQ) and every message of both channels
#     arrives exactly once.
. "$(dirname "$0")/lib.sh" 25600
N1=${CHPRIV_MESSAGES:-500}
N2=${CHPRIV_MESSAGES2:-2000}
BOUND=${CHPRIV_BOUND_S:-60}

conn_of() { "$CLUSTER" conn "$1"; }

line=$("$CLUSTER" up 3 remote | grep '^QSG_REMOTE_CONN=') || fail "cluster up"
G=$("$CLUSTER" conn)
R=${line#QSG_REMOTE_CONN=}
leader=$("$CLUSTER" leader)
mapfile -t rest < <(other_than "$leader")
P=${rest[0]}
PC=$(conn_of "$P")
O=$(conn_of "$leader") # another member than P
log "group $G, remote QMR at $R; private channel's member $P, leader $leader"

# LONGTMR(2): the shared channel retries quickly while the remote is paused.
"$QSGADM" -c "$G" >/dev/null <<EOF || fail "group definitions"
DEFINE QLOCAL(XS) USAGE(XMITQ) MAXDEPTH(1000000)
DEFINE QREMOTE(TO.S) RNAME(IN.S) RQMNAME(QMR) XMITQ(XS)
DEFINE QREMOTE(TO.P) RNAME(IN.P) RQMNAME(QMR) XMITQ(XP)
DEFINE CHANNEL(G.S) CHLTYPE(SDR) CONNAME('$R') XMITQ(XS) HBINT(1) SHORTTMR(1) LONGTMR(2) BATCHSZ(50)
EOF
"$QSGADM" -c "$PC" >/dev/null <<EOF || fail "definitions through $P"
DEFINE QLOCAL(XP) USAGE(XMITQ) QSGDISP(QMGR) MAXDEPTH(1000000)
DEFINE CHANNEL(G.P) CHLTYPE(SDR) QSGDISP(QMGR) CONNAME('$R') XMITQ(XP) HBINT(1) SHORTTMR(1) LONGTMR(2) BATCHSZ(50)
EOF
"$QSGADM" -c "$R" >/dev/null <<EOF || fail "remote definitions"
DEFINE CHANNEL(G.S) CHLTYPE(RCVR)
DEFINE CHANNEL(G.P) CHLTYPE(RCVR)
DEFINE QLOCAL(IN.S) MAXDEPTH(1000000)
DEFINE QLOCAL(IN.P) MAXDEPTH(1000000)
EOF

# Definitions: one name space; the disposition is shown and kept.
read -r disp qm < <(mqsc_fields "$O" "DISPLAY CHANNEL(G.P) ALL" QSGDISP QMNAME)
[ "$disp $qm" = "QMGR $P" ] || fail "DISPLAY CHANNEL(G.P): QSGDISP $disp QMNAME $qm"
read -r disp < <(mqsc_fields "$O" "DISPLAY CHANNEL(G.S) ALL" QSGDISP)
[ "$disp" = GROUP ] || fail "DISPLAY CHANNEL(G.S): QSGDISP $disp"
if "$QSGADM" -c "$O" <<<"DEFINE CHANNEL(G.P) CHLTYPE(SDR) CONNAME('$R') XMITQ(XS) REPLACE" \
	>"$QSG_RUN_DIR/out" 2>&1; then
	fail "a shared G.P replaced the private one"
fi
if "$QSGADM" -c "$O" <<<"ALTER CHANNEL(G.P) BATCHSZ(10)" >"$QSG_RUN_DIR/out" 2>&1; then
	fail "ALTER of $P's private channel through $leader accepted"
fi
grep -q "private channel" "$QSG_RUN_DIR/out" || fail "ALTER text: $(cat "$QSG_RUN_DIR/out")"
if "$QSGADM" -c "$PC" <<<"ALTER CHANNEL(G.P) QSGDISP(GROUP) BATCHSZ(10)" >"$QSG_RUN_DIR/out" 2>&1; then
	fail "ALTER changed the disposition"
fi
# A put through another member finds no xmitq XP.
if echo x | "$QSGPUT" -c "$O" TO.P >"$QSG_RUN_DIR/out" 2>&1; then
	fail "a put to TO.P through $leader was accepted"
fi
log "definitions: G.P is QMGR of $P, G.S is GROUP; TO.P refused through $leader"

for ((i = 0; i < 50; i++)); do
	"$QSGADM" -c "$PC" <<<"START CHANNEL(G.S) CHLDISP(FIXSHARED)" >"$QSG_RUN_DIR/out" 2>&1 && break
	sleep 0.1
done
[ "$i" -lt 50 ] || fail "START G.S FIXSHARED through $P: $(cat "$QSG_RUN_DIR/out")"
start_channel "$O" G.P "$QSG_RUN_DIR/start.out"
grep -q "starting on $P" "$QSG_RUN_DIR/start.out" || fail "START G.P: $(cat "$QSG_RUN_DIR/start.out")"

# got_of Q: what arrived on IN.Q at the remote so far.
take() { # Q
	"$QSGGET" -c "$R" "IN.$1" --syncpoint -w 1 >>"$QSG_RUN_DIR/got.$1" 2>/dev/null || true
	wc -l <"$QSG_RUN_DIR/got.$1"
}
wait_all() { # Q N T0
	local got
	while :; do
		got=$(take "$1")
		[ "$got" -lt "$2" ] || break
		awk -v a="$3" -v b="$EPOCHREALTIME" -v m="$BOUND" 'BEGIN{exit !(b-a > m)}' &&
			fail "$1: $got of $2 messages arrived in ${BOUND}s"
	done
	log "$1: $got messages arrived"
}
: >"$QSG_RUN_DIR/got.S"
: >"$QSG_RUN_DIR/got.P"

# 1. Both deliver.
seq -f "s1-%g" 1 "$N1" >"$QSG_RUN_DIR/sent.S"
seq -f "p1-%g" 1 "$N1" >"$QSG_RUN_DIR/sent.P"
"$QSGPUT" -c "$G" TO.S <"$QSG_RUN_DIR/sent.S" >/dev/null || fail "put TO.S"
"$QSGPUT" -c "$PC" TO.P <"$QSG_RUN_DIR/sent.P" >/dev/null || fail "put TO.P through $P"
t0=$EPOCHREALTIME
wait_all S "$N1" "$t0"
wait_all P "$N1" "$t0"
read -r st owner pepoch < <(chst "$G" G.P STATUS OWNER EPOCH)
[ "$st $owner" = "RUNNING $P" ] || fail "G.P: $st on $owner"
read -r st owner sepoch < <(chst "$G" G.S STATUS OWNER EPOCH)
[ "$st $owner" = "RUNNING $P" ] || fail "G.S: $st on $owner"
log "1: both channels deliver from $P (G.P epoch $pepoch, G.S epoch $sepoch)"

# 2. Batches in flight and messages on both xmitqs: the remote paused, N2
# more messages each, then kill -9 P.
"$CLUSTER" pause QMR
seq -f "s2-%g" 1 "$N2" >"$QSG_RUN_DIR/sent2.S"
seq -f "p2-%g" 1 "$N2" >"$QSG_RUN_DIR/sent2.P"
"$QSGPUT" -c "$G" TO.S <"$QSG_RUN_DIR/sent2.S" >/dev/null || fail "put TO.S (2)"
"$QSGPUT" -c "$PC" TO.P <"$QSG_RUN_DIR/sent2.P" >/dev/null || fail "put TO.P through $P (2)"
cat "$QSG_RUN_DIR/sent2.S" >>"$QSG_RUN_DIR/sent.S"
cat "$QSG_RUN_DIR/sent2.P" >>"$QSG_RUN_DIR/sent.P"
sleep 0.5
log "2: kill -9 $P with the remote paused"
"$CLUSTER" kill "$P"
sleep 1
"$CLUSTER" resume QMR
t0=$EPOCHREALTIME

# The shared channel moves and delivers everything.
wait_all S $((N1 + N2)) "$t0"
read -r st owner < <(chst "$O" G.S STATUS OWNER)
[ "$owner" != "$P" ] && [ "$owner" != - ] || fail "G.S not moved: $st on $owner"
log "2: G.S moved to $owner and delivered all $((N1 + N2))"

# The private channel is not taken over: its entry keeps P, no other
# member starts it, nothing more of it arrives (the batches the remote had
# in its socket when it resumed may commit: they were sent before the kill).
read -r st owner epoch < <(chst "$O" G.P STATUS OWNER EPOCH)
[ "$owner" = "$P" ] && [ "$epoch" = "$pepoch" ] ||
	fail "G.P taken over while $P was down: $st on $owner epoch $epoch"
for q in $(other_than "$P"); do
	! grep -q "QSG5040I.*channel G\.P:" "$QSG_RUN_DIR/$q.log" || fail "$q started G.P"
done
before=$(take P)
[ "$before" -lt $((N1 + N2)) ] || fail "all of TO.P arrived while $P was down"
sleep 6
after=$(take P)
[ "$after" -eq "$before" ] || fail "TO.P messages arrived while $P was down ($before -> $after)"
read -r st owner epoch < <(chst "$O" G.P STATUS OWNER EPOCH)
[ "$owner" = "$P" ] && [ "$epoch" = "$pepoch" ] ||
	fail "G.P taken over while $P was down: $st on $owner epoch $epoch"
read -r indoubt < <(chst "$O" G.P INDOUBT)
[ "$indoubt" = YES ] || fail "G.P has no batch in doubt (INDOUBT $indoubt): the kill came too late"
log "2: G.P left to $P ($st, epoch $epoch, a batch in doubt); $after of $((N1 + N2)) arrived"

# 3. P restarted: its channel initiator resumes G.P; everything exactly once.
"$CLUSTER" start "$P" >/dev/null
t0=$EPOCHREALTIME
wait_all P $((N1 + N2)) "$t0"
read -r st owner epoch < <(chst "$G" G.P STATUS OWNER EPOCH)
[ "$owner" = "$P" ] && [ "$epoch" -gt "$pepoch" ] || fail "G.P after restart: $st on $owner epoch $epoch"
log "3: G.P resumed on $P (epoch $epoch)"
sleep 2 # anything duplicated would arrive now
take S >/dev/null
take P >/dev/null
check_exactly_once "$QSG_RUN_DIR/sent.S" "$QSG_RUN_DIR/got.S"
check_exactly_once "$QSG_RUN_DIR/sent.P" "$QSG_RUN_DIR/got.P"

# 4. STOP through any member; DELETE through its own member only.
"$QSGADM" -c "$O" <<<"STOP CHANNEL(G.P)" >"$QSG_RUN_DIR/out" 2>&1 ||
	fail "STOP G.P through $leader: $(cat "$QSG_RUN_DIR/out")"
for ((i = 0; i < 100; i++)); do
	read -r st < <(chst "$O" G.P STATUS)
	[ "$st" = STOPPED ] && break
	sleep 0.1
done
[ "$st" = STOPPED ] || fail "G.P not stopped: $st"
if "$QSGADM" -c "$O" <<<"DELETE CHANNEL(G.P)" >"$QSG_RUN_DIR/out" 2>&1; then
	fail "DELETE of $P's private channel through $leader accepted"
fi
"$QSGADM" -c "$PC" <<<"DELETE CHANNEL(G.P)" >"$QSG_RUN_DIR/out" 2>&1 ||
	fail "DELETE G.P through $P: $(cat "$QSG_RUN_DIR/out")"
log "4: G.P stopped through $leader, deleted through $P"
log "ok"
