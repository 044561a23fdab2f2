#!/usr/bin/env bash
# Command levels (docs/lifecycle.md, "Command levels"): every member records
# the level of its build in the member table; the group's level is the
# lowest. A member restarted as if it ran an older build (QSG_TEST_CMDLEVEL=1)
# lowers it: a command that needs more (TRIGGER on a queue) is then refused
# with QSG_RC_FUNCTION_NOT_SUPPORTED (2298) through every member, the leader
# included, and nothing of it reaches the log; the same member restarted at
# its real level raises the group's level again and the command works.
. "$(dirname "$0")/lib.sh" 24400

qmgr() { # CONN FIELD
	"$QSGADM" -c "$1" --json <<<"DISPLAY QMGR" |
		python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['objects'][0]['$2'])"
}
member_level() { # QM
	"$QSGADM" --json <<<"DISPLAY GROUP" | python3 -c "
import json,sys
for o in json.loads(sys.stdin.readline())['objects']:
    if o.get('QMNAME') == '$1': print(o['CMDLEVEL'])"
}
wait_grplevel() { # LEVEL SECONDS: on every member
	local i q n ok
	for ((i = 0; i < $2 * 10; i++)); do
		ok=1
		for q in QM1 QM2 QM3; do
			n=$(qmgr "$("$CLUSTER" conn "$q")" GRPLEVEL 2>/dev/null) || n=
			[ "$n" = "$1" ] || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	fail "GRPLEVEL is not $1 on every member within $2 s (last: $n)"
}

LVL=5 # this build's FSM_CMDLEVEL
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.LVL)" >/dev/null || fail "define"
wait_grplevel $LVL 10
[ "$(qmgr "$QSG_CONN" CMDLEVEL)" = $LVL ] || fail "CMDLEVEL $(qmgr "$QSG_CONN" CMDLEVEL), want $LVL"
log "group at command level $LVL; restart QM3 as a level-1 build"
"$CLUSTER" stop QM3
QSG_TEST_CMDLEVEL=1 "$CLUSTER" start QM3 >/dev/null
wait_grplevel 1 20
[ "$(member_level QM3)" = 1 ] || fail "QM3 CMDLEVEL $(member_level QM3), want 1"
[ "$(member_level QM1)" = $LVL ] || fail "QM1 CMDLEVEL $(member_level QM1), want $LVL"
grep -q 'QSG4018W' "$QSG_RUN_DIR/QM3.log" || fail "QM3 did not log its test level"

leader=$("$CLUSTER" leader)
for q in QM1 QM2 QM3; do
	out=$("$QSGADM" -c "$("$CLUSTER" conn "$q")" <<<"ALTER QLOCAL(T.LVL) TRIGGER" 2>&1) &&
		fail "ALTER ... TRIGGER through $q succeeded at group level 1: $out"
	grep -q "FUNCTION_NOT_SUPPORTED\|2298" <<<"$out" || fail "ALTER through $q: $out"
done
# A private channel (level 3) is refused too.
out=$("$QSGADM" <<<"DEFINE CHANNEL(T.PRIV) CHLTYPE(RCVR) QSGDISP(QMGR)" 2>&1) &&
	fail "DEFINE CHANNEL QSGDISP(QMGR) succeeded at group level 1: $out"
grep -q "FUNCTION_NOT_SUPPORTED\|2298" <<<"$out" || fail "DEFINE CHANNEL QSGDISP(QMGR): $out"
"$QSGADM" --json <<<"DISPLAY QLOCAL(T.LVL) TRIGGER" | grep -q '"TRIGGER": *"NO"' ||
	fail "TRIGGER changed: $("$QSGADM" <<<"DISPLAY QLOCAL(T.LVL) TRIGGER")"
# Level-1 commands go on as before.
echo one | "$QSGPUT" T.LVL || fail "put at level 1"
"$QSGADM" <<<"ALTER QLOCAL(T.LVL) MAXDEPTH(77)" >/dev/null || fail "ALTER MAXDEPTH at level 1"
log "TRIGGER refused through every member (leader $leader); level-1 commands work"

log "restart QM3 at its real level"
"$CLUSTER" stop QM3
"$CLUSTER" start QM3 >/dev/null
wait_grplevel $LVL 20
"$QSGADM" <<<"ALTER QLOCAL(T.LVL) TRIGGER" >/dev/null || fail "ALTER TRIGGER at level $LVL"
"$QSGADM" <<<"DEFINE CHANNEL(T.PRIV) CHLTYPE(RCVR) QSGDISP(QMGR)" >/dev/null ||
	fail "DEFINE CHANNEL QSGDISP(QMGR) at level $LVL"
"$QSGADM" --json <<<"DISPLAY QLOCAL(T.LVL) TRIGGER" | grep -q '"TRIGGER": *"YES"' ||
	fail "TRIGGER not set: $("$QSGADM" <<<"DISPLAY QLOCAL(T.LVL) TRIGGER")"
! grep -l 'QSG0010E' "$QSG_RUN_DIR"/QM*.log || fail "an entry was rejected (QSG0010E)"
log "ok"
