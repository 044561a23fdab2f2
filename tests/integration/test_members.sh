#!/usr/bin/env bash
# Membership changes under load (issue 5, docs/lifecycle.md): a group of 3
# with two producers and a syncpoint consumer running; QM4 joins (join mode,
# ADD MEMBER on the leader), shows in DISPLAY GROUP and serves clients; then
# the leader leaves (REMOVE MEMBER on itself, stopped); the group goes on,
# the removed member is forgotten once its lease lapses (its private channel
# with it), and every acknowledged message is got exactly once.
. "$(dirname "$0")/lib.sh" 19200

# LEASE and ROLE of QM in DISPLAY GROUP as seen by the member at CONN.
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
wait_attr() { # CONN QM ATTR VALUE SECONDS
	local i
	for ((i = 0; i < $5 * 5; i++)); do
		[ "$(group_attr "$1" "$2" "$3" || true)" = "$4" ] && return 0
		sleep 0.2
	done
	return 1
}

cluster_up 3
# Frequent snapshots, so that the leader's log is compacted and QM4 has to
# catch up from a snapshot: restart each member with a small threshold.
for qm in QM1 QM2 QM3; do
	printf '[raft]\nsnapshot_threshold = 64\nsnapshot_trailing = 16\n' >>"$QSG_RUN_DIR/$qm.ini"
	"$CLUSTER" stop "$qm"
	"$CLUSTER" start "$qm" >/dev/null || fail "restart $qm"
done
for ((i = 0; i < 100; i++)); do "$CLUSTER" leader >/dev/null 2>&1 && break; sleep 0.2; done
"$QSGADM" <<<"DEFINE QLOCAL(T.MEM) QSGDISP(SHARED) MAXDEPTH(1000000)" >/dev/null || fail "define"
# A GROUP definition made before QM4 exists: QM4 must get its COPY.
"$QSGADM" <<<"DEFINE QREMOTE(T.MEM.R) RNAME(X) RQMNAME(QMX) QSGDISP(GROUP)" >/dev/null ||
	fail "define group object"
N=${MEMBERS_MESSAGES:-5000}
for p in 1 2; do seq 1 "$N" | sed "s/^/p$p-/" >"$QSG_RUN_DIR/sent.$p"; done
# Paced (about 1,000 lines/s each): the asynchronous qsgput would otherwise
# put all of them before the join starts.
pace() { awk '{ print; fflush() } NR % 100 == 0 { system("sleep 0.1") }' "$1"; }
pace "$QSG_RUN_DIR/sent.1" | "$QSGPUT" -c "$QSG_CONN" T.MEM >"$QSG_RUN_DIR/put1.out" 2>&1 &
p1=$!
extra_pids+=($p1)
pace "$QSG_RUN_DIR/sent.2" | "$QSGPUT" -c "$("$CLUSTER" conn QM2),$QSG_CONN" T.MEM \
	>"$QSG_RUN_DIR/put2.out" 2>&1 &
p2=$!
extra_pids+=($p2)
"$QSGGET" -c "$QSG_CONN" T.MEM --syncpoint -w 15 >"$QSG_RUN_DIR/got.1" 2>"$QSG_RUN_DIR/get1.err" &
g1=$!
extra_pids+=($g1)
sleep 1

kill -0 "$p1" 2>/dev/null && kill -0 "$p2" 2>/dev/null || fail "producers ended before the join: raise MEMBERS_MESSAGES"
log "join QM4 under load"
"$CLUSTER" join QM4 >"$QSG_RUN_DIR/join.out" 2>&1 || { cat "$QSG_RUN_DIR/join.out"; fail "join QM4"; }
grep -q "QSG0032I" "$QSG_RUN_DIR/join.out" || { cat "$QSG_RUN_DIR/join.out"; fail "no QSG0032I from ADD MEMBER"; }
c4=$("$CLUSTER" conn QM4)
wait_attr "$QSG_CONN" QM4 LEASE ACTIVE 10 || fail "QM4 not ACTIVE in DISPLAY GROUP"
grep -q QSG0012I "$QSG_RUN_DIR/QM4.log" || fail "QM4 did not restore a snapshot"
log "QM4 is in DISPLAY GROUP (role $(group_attr "$c4" QM4 ROLE)) and caught up from a snapshot"
# GROUP definitions reach a member that joins later: QM4 has its COPY.
out=$(timeout 10 "$QSGADM" -c "$c4" <<<"DISPLAY QREMOTE(T.MEM.R) QSGDISP(COPY)" 2>&1) ||
	{ echo "$out"; fail "QM4 has no COPY of the group object T.MEM.R"; }
# QM4 serves clients: puts and a DISPLAY through it alone.
seq 1 300 | sed "s/^/q4-/" >"$QSG_RUN_DIR/sent.q4"
"$QSGPUT" -c "$c4" T.MEM <"$QSG_RUN_DIR/sent.q4" >"$QSG_RUN_DIR/putq4.out" 2>&1 ||
	{ cat "$QSG_RUN_DIR/putq4.out"; fail "puts through QM4"; }
out=$(timeout 10 "$QSGADM" -c "$c4" <<<"DISPLAY QSTATUS(T.MEM)" 2>&1) || { echo "$out"; fail "DISPLAY through QM4"; }
grep -q "CURDEPTH" <<<"$out" || { echo "$out"; fail "DISPLAY through QM4: no CURDEPTH"; }
# Adding it again is refused or a no-op, never a second member.
timeout 20 "$QSGADM" -c "$("$CLUSTER" conn "$("$CLUSTER" leader)")" \
	<<<"ADD MEMBER(QM4) RAFTID(4) RAFTADDR('127.0.0.1:$((QSG_PORT_BASE + 104))')" >"$QSG_RUN_DIR/add2.out" 2>&1 || true
[ "$(timeout 10 "$QSGADM" -c "$c4" --json <<<"DISPLAY GROUP" | grep -o '"QMNAME"' | wc -l)" -eq 4 ] ||
	fail "DISPLAY GROUP does not list 4 members"

leader=$("$CLUSTER" leader)
# A private channel of the member that leaves (docs/channels.md "Private
# channels"): its QMGR objects leave with it once it is forgotten
# (MEMBER_REMOVE_QMGR, command level 4: wait for the group's level).
cl=$("$CLUSTER" conn "$leader")
for ((i = 0; i < 100; i++)); do
	lvl=$(timeout 10 "$QSGADM" -c "$cl" --json <<<"DISPLAY QMGR" 2>/dev/null |
		python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['objects'][0]['GRPLEVEL'])" ||
		true)
	[ "${lvl:-0}" -ge 4 ] 2>/dev/null && break
	sleep 0.2
done
[ "${lvl:-0}" -ge 4 ] 2>/dev/null || fail "GRPLEVEL $lvl, want 4 or more before the leader leaves"
"$QSGADM" -c "$cl" <<EOF >"$QSG_RUN_DIR/priv.out" 2>&1 || { cat "$QSG_RUN_DIR/priv.out"; fail "private channel"; }
DEFINE QLOCAL(PRIV.XQ) USAGE(XMITQ) QSGDISP(QMGR)
DEFINE CHANNEL(PRIV.LEAVES) CHLTYPE(SDR) CONNAME('127.0.0.1:1') XMITQ(PRIV.XQ) QSGDISP(QMGR)
EOF
# Through QM4 (its replica may apply the definition a moment later).
seen=""
for ((i = 0; i < 50; i++)); do
	out=$(timeout 10 "$QSGADM" -c "$("$CLUSTER" conn QM4)" <<<"DISPLAY CHANNEL(PRIV.LEAVES)" 2>&1 || true)
	grep -q "QSGDISP(QMGR)" <<<"$out" && { seen=1; break; }
	sleep 0.2
done
[ -n "$seen" ] || { echo "$out"; fail "the private channel is not in DISPLAY CHANNEL through QM4"; }
log "the leader $leader leaves (producers running: $(kill -0 "$p1" 2>/dev/null && echo yes || echo no))"
"$CLUSTER" leave "$leader" >"$QSG_RUN_DIR/leave.out" 2>&1 || { cat "$QSG_RUN_DIR/leave.out"; fail "leave $leader"; }
grep -q "QSG0033I" "$QSG_RUN_DIR/leave.out" || { cat "$QSG_RUN_DIR/leave.out"; fail "no QSG0033I"; }
rest=$("$CLUSTER" conn)
newleader=""
for ((i = 0; i < 50; i++)); do
	newleader=$("$CLUSTER" leader || true)
	[ -n "$newleader" ] && [ "$newleader" != "$leader" ] && break
	sleep 0.2
done
[ -n "$newleader" ] && [ "$newleader" != "$leader" ] || fail "no new leader after $leader left"
log "new leader $newleader; survivors $rest"
# The removed member is declared FAILED when its lease lapses, then
# forgotten: DISPLAY GROUP lists the 3 that remain.
gone=""
for ((i = 0; i < 100; i++)); do
	n=$(timeout 10 "$QSGADM" -c "$rest" --json <<<"DISPLAY GROUP" 2>/dev/null | grep -o '"QMNAME"' | wc -l || true)
	if [ "$n" = 3 ] && ! group_attr "$rest" "$leader" LEASE >/dev/null 2>&1; then gone=1; break; fi
	sleep 0.2
done
[ -n "$gone" ] || fail "$leader still in DISPLAY GROUP 20 s after it left"
grep -q "QSG4007I" "$QSG_RUN_DIR"/QM*.log || fail "no QSG4007I (member forgotten) logged"
# Its private channel went with it; the name is free for the group again.
out=$(timeout 10 "$QSGADM" -c "$rest" <<<"DISPLAY CHANNEL(PRIV.LEAVES)" 2>&1 || true)
grep -q "QSGDISP(QMGR)" <<<"$out" && { echo "$out"; fail "the removed member's private channel is still defined"; }
"$QSGADM" -c "$rest" <<<"DEFINE CHANNEL(PRIV.LEAVES) CHLTYPE(RCVR)" >/dev/null 2>&1 ||
	fail "the private channel's name is not free after its member was forgotten"
# The group goes on: more puts through the survivors.
seq 1 300 | sed "s/^/r-/" >"$QSG_RUN_DIR/sent.r"
"$QSGPUT" -c "$rest" T.MEM <"$QSG_RUN_DIR/sent.r" >"$QSG_RUN_DIR/putr.out" 2>&1 ||
	{ cat "$QSG_RUN_DIR/putr.out"; fail "puts after the leader left"; }

wait "$p1" || { cat "$QSG_RUN_DIR/put1.out"; fail "producer 1 had unacknowledged puts"; }
wait "$p2" || { cat "$QSG_RUN_DIR/put2.out"; fail "producer 2 had unacknowledged puts"; }
wait "$g1" || { cat "$QSG_RUN_DIR/get1.err"; fail "consumer failed"; }
for qm in $(cat "$QSG_RUN_DIR/members"); do
	"$QSGGET" -c "$("$CLUSTER" conn "$qm"),$rest" T.MEM --syncpoint -w 3 >>"$QSG_RUN_DIR/got.2" ||
		fail "drain via $qm"
done
cat "$QSG_RUN_DIR"/sent.[12] "$QSG_RUN_DIR/sent.q4" "$QSG_RUN_DIR/sent.r" >"$QSG_RUN_DIR/sent"
cat "$QSG_RUN_DIR/got.1" "$QSG_RUN_DIR/got.2" >"$QSG_RUN_DIR/got"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"

# TRANSFER LEADER through qsgadm. Then, with three voters: STOP QMGR on one
# follower is allowed (two of three stay), on the second it is refused (one
# of three is no majority) until FORCE is given.
# other_than always succeeds: a bare `for ... [ ] && echo` loop ends with
# status 1 when the last member is the one excluded, and under errexit and
# pipefail that ended this test when the new leader was the last member.
leader=$("$CLUSTER" leader) || fail "no leader before TRANSFER LEADER"
target=$(other_than "$leader" | sed -n 1p)
log "TRANSFER LEADER TO($target) through $leader"
"$QSGADM" -c "$("$CLUSTER" conn "$leader")" <<<"TRANSFER LEADER TO($target)" >"$QSG_RUN_DIR/tr.out" 2>&1 ||
	{ cat "$QSG_RUN_DIR/tr.out"; fail "TRANSFER LEADER"; }
for ((i = 0; i < 50; i++)); do [ "$("$CLUSTER" leader || true)" = "$target" ] && break; sleep 0.2; done
[ "$("$CLUSTER" leader || true)" = "$target" ] || fail "leadership did not move to $target"
others=$(other_than "$target")
first=$(echo "$others" | sed -n 1p)
second=$(echo "$others" | sed -n 2p)
log "STOP QMGR on $first (allowed), then on $second (refused: quorum), then FORCE"
"$QSGADM" -c "$("$CLUSTER" conn "$first")" <<<"STOP QMGR" >"$QSG_RUN_DIR/st1.out" 2>&1 ||
	{ cat "$QSG_RUN_DIR/st1.out"; fail "STOP QMGR on $first"; }
for ((i = 0; i < 100; i++)); do
	p=$("$CLUSTER" pid "$first" || true)
	[ -z "$p" ] || ! kill -0 "$p" 2>/dev/null && break
	sleep 0.1
done
sleep 1
if "$QSGADM" -c "$("$CLUSTER" conn "$second")" <<<"STOP QMGR" >"$QSG_RUN_DIR/st2.out" 2>&1; then
	cat "$QSG_RUN_DIR/st2.out"
	fail "STOP QMGR on $second accepted although it would lose the quorum"
fi
grep -q "quorum" "$QSG_RUN_DIR/st2.out" || { cat "$QSG_RUN_DIR/st2.out"; fail "refusal text"; }
"$QSGADM" -c "$("$CLUSTER" conn "$second")" <<<"STOP QMGR FORCE" >"$QSG_RUN_DIR/st3.out" 2>&1 ||
	{ cat "$QSG_RUN_DIR/st3.out"; fail "STOP QMGR FORCE"; }
p=$("$CLUSTER" pid "$second" || true)
for ((i = 0; i < 100; i++)); do [ -n "$p" ] && kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
! { [ -n "$p" ] && kill -0 "$p" 2>/dev/null; } || fail "$second did not stop with FORCE"
log "ok"
