#!/usr/bin/env bash
# qsgadm against a live 3-member group: WHERE filters, QALIAS, QSGDISP
# (QMGR, GROUP and its copies, SHARED), DISPLAY QMSTATUS and `qsgadm status`, CMDSCOPE(*) and
# CMDSCOPE(QMn) (also with a member killed: the others answer, the down one
# is reported, exit 1), and every health check: all pass on a healthy group;
# the right ones fail with a member down and with two members paused.
# (ADD/REMOVE MEMBER, TRANSFER LEADER and STOP QMGR are exercised by the
# membership tests.)
. "$(dirname "$0")/lib.sh" 18800
cluster_up 3
out=$QSG_RUN_DIR/out
c1=$("$CLUSTER" conn QM1)
c2=$("$CLUSTER" conn QM2)
c3=$("$CLUSTER" conn QM3)

# wait_until SECONDS CMD...: retry CMD until it succeeds.
wait_until() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 5; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	return 1
}
# json_get FILE PYEXPR: evaluate PYEXPR with `r` the list of JSON lines.
json_get() {
	python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print(eval(sys.argv[2]))' "$1" "$2"
}
expect() { # WHAT GOT WANTED
	[ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

wait_until 20 "$QSGADM" check quorum || fail "group never had a quorum"
wait_until 20 bash -c "\"$QSGADM\" status | grep -q 'quorum 3/3'" || fail "never 3/3 in sync"

log "WHERE filters"
"$QSGADM" -c "$c1" >"$out" <<'MQSC' || fail "defines: $(cat "$out")"
DEFINE QLOCAL(ADM.SMALL) MAXDEPTH(10)
DEFINE QLOCAL(ADM.BIG) MAXDEPTH(5000) DESCR('big queue')
DEFINE QLOCAL(OTHER.Q) MAXDEPTH(7000)
DEFINE QREMOTE(ADM.REM) RNAME(X) RQMNAME(QMZ)
MQSC
# The leader has applied them; read through the leader for a fresh replica.
lead=$("$CLUSTER" leader)
cl=$("$CLUSTER" conn "$lead")
"$QSGADM" -c "$cl" --json >"$out" <<'MQSC' || fail "WHERE displays failed: $(cat "$out")"
DISPLAY QLOCAL(*) WHERE(MAXDEPTH GT 100)
DISPLAY QLOCAL(ADM.*) WHERE(MAXDEPTH GE 5000) ALL
DISPLAY QUEUE(*) WHERE(QUEUE LK ADM.*)
DISPLAY QUEUE(*) WHERE(QUEUE NL ADM.*)
DISPLAY QUEUE(*) WHERE(TYPE EQ QREMOTE) RQMNAME
DISPLAY QLOCAL(*) WHERE(DESCR EQ 'big queue')
DISPLAY QLOCAL(*) WHERE(MAXDEPTH LT 5) 
DISPLAY GROUP WHERE(QMNAME NE QM2)
DISPLAY QMSTATUS TYPE(RAFT) WHERE(ROLE EQ LEADER)
MQSC
expect "GT" "$(json_get "$out" '[o["QUEUE"] for o in r[0]["objects"]]')" "['ADM.BIG', 'OTHER.Q']"
expect "GT shows MAXDEPTH" "$(json_get "$out" 'r[0]["objects"][0]["MAXDEPTH"]')" "5000"
expect "GE generic" "$(json_get "$out" '[o["QUEUE"] for o in r[1]["objects"]]')" "['ADM.BIG']"
expect "LK" "$(json_get "$out" '[o["QUEUE"] for o in r[2]["objects"]]')" "['ADM.BIG', 'ADM.REM', 'ADM.SMALL']"
expect "NL" "$(json_get "$out" '[o["QUEUE"] for o in r[3]["objects"]]')" "['OTHER.Q']"
expect "TYPE EQ" "$(json_get "$out" '[(o["QUEUE"], o["RQMNAME"]) for o in r[4]["objects"]]')" "[('ADM.REM', 'QMZ')]"
expect "quoted" "$(json_get "$out" '[o["QUEUE"] for o in r[5]["objects"]]')" "['ADM.BIG']"
expect "none" "$(json_get "$out" 'len(r[6]["objects"])')" "0"
expect "GROUP NE" "$(json_get "$out" 'sorted(o["QMNAME"] for o in r[7]["objects"])')" "['QM1', 'QM3']"
expect "QMSTATUS leader" "$(json_get "$out" '[o.get("QMNAME") for o in r[8]["objects"]]')" "['$lead', None]"
if "$QSGADM" <<<"DISPLAY QLOCAL(*) WHERE(COLOUR EQ RED)" >"$out"; then fail "bad WHERE accepted"; fi
grep -q 'QSG0002E.*not an attribute' "$out" || fail "bad WHERE message: $(cat "$out")"

log "QALIAS, QSGDISP, lifecycle syntax"
"$QSGADM" --json <<<"DEFINE QALIAS(ADM.AL) TARGET(ADM.BIG)" >"$out" || fail "QALIAS define: $(cat "$out")"
"$QSGADM" --json <<<"DISPLAY QALIAS(ADM.AL) TARGET" >"$out" || fail "QALIAS display"
expect "QALIAS target" "$(json_get "$out" 'r[0]["objects"][0]["TARGET"]')" "ADM.BIG"
echo "via-alias" | "$QSGPUT" ADM.AL || fail "put through the alias"
[ "$("$QSGGET" ADM.AL -w 1)" = via-alias ] || fail "get through the alias"
"$QSGADM" --json <<<"DELETE QALIAS(ADM.AL)" >"$out" || fail "QALIAS delete"

log "QSGDISP: QMGR (private to a member), GROUP with a COPY on every member, SHARED"
# ADM.P is QM1's own queue: usable through QM1 only.
"$QSGADM" -c "$c1" --json <<<"DEFINE QLOCAL(ADM.P) QSGDISP(QMGR)" >"$out" ||
	fail "QSGDISP(QMGR) define: $(cat "$out")"
echo "private-1" | "$QSGPUT" -c "$c1" ADM.P || fail "put to QM1's private queue"
if echo "x" | "$QSGPUT" -c "$c2" ADM.P 2>"$out"; then fail "QM2 reached QM1's private queue"; fi
grep -q "2085\|UNKNOWN_OBJECT" "$out" || fail "put via QM2 to a QMGR queue of QM1: $(cat "$out")"
wait_until 10 bash -c "\"$QSGADM\" -c '$c1' <<<'DISPLAY QLOCAL(ADM.P) QSGDISP(QMGR)' | grep -q 'QSGDISP(QMGR)'" ||
	fail "QM1 does not show its QMGR queue"
"$QSGADM" -c "$c2" --json <<<"DISPLAY QLOCAL(ADM.*) QSGDISP(QMGR)" >"$out" || fail "display QMGR via QM2"
expect "QM2 sees no QMGR queues" "$(json_get "$out" 'len(r[0]["objects"])')" "0"
# A shared queue of the same name is refused while the private one exists.
if "$QSGADM" -c "$c2" <<<"DEFINE QLOCAL(ADM.P) QSGDISP(SHARED)" >"$out"; then
	fail "SHARED beside a QMGR queue accepted"
fi
# ADM.G is a GROUP local queue: each member's COPY holds its own messages.
"$QSGADM" -c "$c1" --json <<<"DEFINE QLOCAL(ADM.G) QSGDISP(GROUP) MAXDEPTH(77)" >"$out" ||
	fail "QSGDISP(GROUP) define: $(cat "$out")"
echo "g-from-1" | "$QSGPUT" -c "$c1" ADM.G || fail "put to ADM.G via QM1"
echo "g-from-2" | "$QSGPUT" -c "$c2" ADM.G || fail "put to ADM.G via QM2"
[ "$("$QSGGET" -c "$c2" ADM.G -w 1)" = g-from-2 ] || fail "QM2 did not get its own copy's message"
[ "$("$QSGGET" -c "$c2" ADM.G -w 0 2>/dev/null || true)" = "" ] || fail "QM2 saw a second message"
wait_until 10 bash -c "\"$QSGADM\" -c '$c3' <<<'DISPLAY QLOCAL(ADM.G)' | grep -q 'QSGDISP(COPY)'" ||
	fail "QM3 has no COPY of ADM.G"
"$QSGADM" --json <<<"DISPLAY QLOCAL(ADM.G) MAXDEPTH CURDEPTH CMDSCOPE(*)" >"$out" || fail "CMDSCOPE(*) copies"
expect "copies" "$(json_get "$out" 'sorted((x["member"], o["QSGDISP"], o["MAXDEPTH"], o["CURDEPTH"]) for x in r for o in x.get("objects", []))')" \
	"[('QM1', 'COPY', '77', '1'), ('QM2', 'COPY', '77', '0'), ('QM3', 'COPY', '77', '0')]"
# ALTER of one COPY stays on that member; ALTER of the group object
# refreshes every copy.
"$QSGADM" -c "$c3" <<<"ALTER QLOCAL(ADM.G) QSGDISP(COPY) MAXDEPTH(5)" >"$out" || fail "ALTER COPY: $(cat "$out")"
"$QSGADM" -c "$c3" --json <<<"DISPLAY QLOCAL(ADM.G) MAXDEPTH" >"$out" || fail "display QM3 copy"
expect "QM3 copy altered" "$(json_get "$out" 'r[0]["objects"][0]["MAXDEPTH"]')" "5"
"$QSGADM" -c "$c1" <<<"ALTER QLOCAL(ADM.G) QSGDISP(GROUP) MAXDEPTH(88)" >"$out" || fail "ALTER GROUP: $(cat "$out")"
wait_until 10 bash -c "\"$QSGADM\" -c '$c3' <<<'DISPLAY QLOCAL(ADM.G) MAXDEPTH' | grep -q 'MAXDEPTH(88)'" ||
	fail "QM3 copy not refreshed by ALTER of the group object"
"$QSGADM" --json <<<"DISPLAY QUEUE(ADM.G) QSGDISP(GROUP)" >"$out" || fail "display GROUP"
expect "group object" "$(json_get "$out" '[o["QSGDISP"] for o in r[0]["objects"]]')" "['GROUP']"
# DELETE of the group object: refused while QM1's copy holds a message,
# then with PURGE every copy goes.
if "$QSGADM" -c "$c2" <<<"DELETE QLOCAL(ADM.G) QSGDISP(GROUP)" >"$out"; then fail "DELETE GROUP with messages"; fi
"$QSGADM" -c "$c2" <<<"DELETE QLOCAL(ADM.G) QSGDISP(GROUP) PURGE" >"$out" || fail "DELETE GROUP PURGE: $(cat "$out")"
wait_until 10 bash -c "! \"$QSGADM\" -c '$c1' <<<'DISPLAY QLOCAL(ADM.G)' >/dev/null" || fail "QM1 copy not deleted"
"$QSGADM" -c "$c1" <<<"DELETE QLOCAL(ADM.P) PURGE" >"$out" || fail "DELETE QMGR queue: $(cat "$out")"
if "$QSGADM" --json <<<"DEFINE CHANNEL(ADM.C) CHLTYPE(RCVR) QSGDISP(COPY)" >"$out"; then fail "COPY channel accepted"; fi
grep -q 'shared channels' "$out" || fail "QSGDISP channel text: $(cat "$out")"
if "$QSGADM" --json <<<"ADD MEMBER(QM4) RAFTID(4)" >"$out"; then fail "incomplete ADD MEMBER accepted"; fi
expect "ADD rc" "$(json_get "$out" 'r[0]["reason"]')" "QSG_RC_MQSC_SYNTAX"

log "status"
"$QSGADM" status >"$out" || fail "status: $(cat "$out")"
cat "$out"
head -1 "$out" | grep -q '^QMNAME  *RAFTID  *ROLE  *TERM  *COMMIT  *APPLIED  *LAG  *INSYNC  *VOTER  *LEASE$' ||
	fail "status header"
[ "$(grep -c '^QM[123] .* YES  *YES  *ACTIVE$' "$out")" = 3 ] || fail "status: 3 members in sync expected"
grep -q "^group QSG1: leader QM[123], quorum 3/3 in sync (majority 2): ok$" "$out" || fail "status summary"
"$QSGADM" status --json >"$out" || fail "status --json"
expect "status json members" "$(json_get "$out" 'sorted(m["QMNAME"] for m in r[0]["members"])')" "['QM1', 'QM2', 'QM3']"
expect "status json quorum" "$(json_get "$out" 'r[0]["group"]["QUORUM"]')" "3/3"
expect "status json leader" "$(json_get "$out" 'r[0]["group"]["LEADER"] in ("QM1","QM2","QM3")')" "True"

log "CMDSCOPE"
"$QSGADM" -c "$c1" >"$out" <<<"DISPLAY QMGR QMNAME CMDSCOPE(*)" || fail "CMDSCOPE(*): $(cat "$out")"
for qm in QM1 QM2 QM3; do
	grep -q "^$qm: QSG0015I" "$out" || fail "CMDSCOPE(*): no $qm line: $(cat "$out")"
	grep -q "QMNAME($qm)" "$out" || fail "CMDSCOPE(*): $qm did not answer itself"
done
"$QSGADM" -c "$c1" --json <<<"DISPLAY QMGR QMNAME CMDSCOPE(*)" >"$out" || fail "CMDSCOPE(*) json"
expect "scope json" "$(json_get "$out" '[(x["member"], x["objects"][0]["QMNAME"]) for x in r]')" \
	"[('QM1', 'QM1'), ('QM2', 'QM2'), ('QM3', 'QM3')]"
"$QSGADM" -c "$c1" --json <<<"DISPLAY QMGR QMNAME CMDSCOPE(qm3)" >"$out" || fail "CMDSCOPE(QM3)"
expect "scope one" "$(json_get "$out" '[(x["member"], x["objects"][0]["QMNAME"]) for x in r]')" "[('QM3', 'QM3')]"
"$QSGADM" -c "$c2" --json <<<"DISPLAY QMGR QMNAME CMDSCOPE(' ')" >"$out" || fail "CMDSCOPE(' ')"
expect "scope blank" "$(json_get "$out" '[("member" in x, x["objects"][0]["QMNAME"]) for x in r]')" "[(False, 'QM2')]"
if "$QSGADM" --json <<<"DISPLAY QMGR CMDSCOPE(QM9)" >"$out"; then fail "CMDSCOPE(QM9) succeeded"; fi
expect "scope unknown" "$(json_get "$out" 'r[0]["reason"]')" "QSG_RC_Q_MGR_NOT_AVAILABLE"
# A change with CMDSCOPE(*) is applied by each member in turn (the group
# is one), so only the first DEFINE succeeds; REPLACE makes it idempotent.
"$QSGADM" --json <<<"DEFINE QLOCAL(ADM.SCOPED) REPLACE CMDSCOPE(*)" >"$out" || fail "DEFINE CMDSCOPE(*)"
expect "scoped define" "$(json_get "$out" '[x["rc"] for x in r]')" "[0, 0, 0]"

log "health checks on a healthy group"
for chk in ping running quorum quorum-critical listeners channels; do
	"$QSGADM" check $chk -c "$c1" >"$out" || fail "check $chk failed on a healthy group: $(cat "$out")"
	grep -q "^ok: $chk: " "$out" || fail "check $chk output: $(cat "$out")"
done
"$QSGADM" check listeners >"$out" || fail "listeners (all): $(cat "$out")"
[ "$(grep -c '^ok: listeners: ' "$out")" = 3 ] || fail "listeners: 3 lines expected"
if "$QSGADM" check channels NO.SUCH.CHL >"$out"; then fail "channels NO.SUCH.CHL passed"; fi
grep -q '^failed: channels: ' "$out" || fail "channels output"
if "$QSGADM" check nonsense >/dev/null 2>&1; then fail "unknown check passed"; fi
set +e
"$QSGADM" check nonsense >/dev/null 2>&1
rc=$?
set -e
expect "unknown check exit" "$rc" 2

log "a member killed"
"$CLUSTER" kill QM3
wait_until 15 bash -c "\"$QSGADM\" -c $c1 status | grep -q '^QM3 .* NO  *YES  *FAILED$'" ||
	fail "QM3 never shown FAILED: $("$QSGADM" -c "$c1" status)"
set +e
"$QSGADM" -c "$c1" <<<"DISPLAY QMGR QMNAME CMDSCOPE(*)" >"$out"
rc=$?
set -e
cat "$out"
expect "CMDSCOPE(*) with a member down: exit" "$rc" 1
grep -q '^QM1: QSG0015I' "$out" || fail "QM1 did not answer"
grep -q '^QM2: QSG0015I' "$out" || fail "QM2 did not answer"
grep -q '^QM3: QSG_RC_Q_MGR_NOT_AVAILABLE (2059)' "$out" || fail "QM3 not reported down"
if "$QSGADM" -c "$c1" --json <<<"DISPLAY QMGR QMNAME CMDSCOPE(*)" >"$out"; then fail "json exit 0"; fi
expect "scope json down" "$(json_get "$out" '[(x["member"], x["rc"]) for x in r]')" \
	"[('QM1', 0), ('QM2', 0), ('QM3', 2059)]"
for chk in ping running quorum listeners; do
	"$QSGADM" check $chk -c "$c1" >"$out" || fail "check $chk on QM1 with QM3 down: $(cat "$out")"
done
if "$QSGADM" check quorum-critical -c "$c1" >"$out"; then fail "quorum-critical passed with QM3 down"; fi
grep -q '^failed: quorum-critical: stopping QM1 would lose quorum' "$out" || fail "qc text: $(cat "$out")"
for chk in ping running listeners; do
	if "$QSGADM" check $chk -c "$c3" -t 2 >"$out"; then fail "check $chk passed on the killed QM3"; fi
	grep -q "^failed: $chk: " "$out" || fail "check $chk output: $(cat "$out")"
done
if "$QSGADM" check listeners -t 2 >"$out"; then fail "listeners passed with QM3 down"; fi
[ "$(grep -c '^ok: listeners: ' "$out")" = 2 ] || fail "listeners: 2 ok lines expected"
"$QSGADM" -c "$c1" status >"$out" || fail "status with QM3 down"
grep -q "quorum 2/3 in sync (majority 2): ok" "$out" || fail "status 2/3: $(cat "$out")"

log "restart QM3; pause two members"
"$CLUSTER" start QM3
wait_until 30 bash -c "\"$QSGADM\" -c $c3 status | grep -q 'quorum 3/3'" || fail "QM3 did not come back in sync"
"$QSGADM" check quorum-critical -c "$c3" >"$out" || fail "quorum-critical with 3/3: $(cat "$out")"
extra_pids+=("$("$CLUSTER" pid QM1)" "$("$CLUSTER" pid QM2)") # SIGKILLed on failure
"$CLUSTER" pause QM1
"$CLUSTER" pause QM2
sleep 2
for chk in quorum quorum-critical; do
	if "$QSGADM" check $chk -c "$c3" -t 3 >"$out"; then fail "check $chk passed with two members paused"; fi
	grep -q "^failed: $chk: " "$out" || fail "check $chk output: $(cat "$out")"
	cat "$out"
done
"$CLUSTER" resume QM1
"$CLUSTER" resume QM2
extra_pids=()
wait_until 30 "$QSGADM" check quorum -c "$c3" || fail "no quorum after resume"
for chk in ping running quorum listeners; do
	wait_until 20 "$QSGADM" check $chk -c "$c3" || fail "check $chk after resume"
done

if command -v script >/dev/null 2>&1; then
	log "interactive (pseudo-terminal)"
	printf 'DISPLAY QMGR +\n QMNAME\nEND\n' | HOME=$QSG_RUN_DIR script -qec "$QSGADM -c $c2" /dev/null >"$out" 2>&1 ||
		fail "interactive: $(cat "$out")"
	grep -q 'qsgadm> ' "$out" || fail "interactive: no prompt: $(cat "$out")"
	grep -q 'QMNAME(QM2)' "$out" || fail "interactive: no reply: $(cat "$out")"
	grep -q 'QMNAME' "$QSG_RUN_DIR/.qsgadm_history" 2>/dev/null || log "note: no history file written"
fi
log "ok"
