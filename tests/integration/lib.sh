# Shared setup for integration tests: a private run directory and port range,
# a cluster that is always torn down (by PID, via scripts/cluster down), and
# a check that no member reported a sanitizer error.
set -euo pipefail
: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
test_name=$(basename "$0" .sh)
export QSG_BIN_DIR=$top_builddir
export QSG_RUN_DIR=$top_builddir/tests/integration/run-$test_name
export QSG_PORT_BASE=${QSG_PORT_BASE:-$1}
CLUSTER=$top_srcdir/scripts/cluster
QSGPUT=$top_builddir/qsgput
QSGGET=$top_builddir/qsgget
QSGADM=$top_builddir/qsgadm
rm -rf "$QSG_RUN_DIR"
mkdir -p "$QSG_RUN_DIR"
extra_pids=()

log() { echo "[$test_name $(date +%T)] $*"; }
fail_msg=
fail() {
	fail_msg="$*"
	log "FAIL: $*"
	exit 1
}
# A command that ends the script through errexit says which one it was.
on_err() { # STATUS LINE
	fail_msg="line $2: ${BASH_COMMAND%%$'\n'*} (exit status $1)"
	log "FAIL: $fail_msg"
}
trap 'on_err $? $LINENO' ERR

kill_tree() { # PID
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
	kill -KILL "$1" 2>/dev/null || true
}

teardown() {
	local rc=$?
	# Background jobs are often subshells running a tool: kill the whole
	# tree (children first), or an orphaned client would go on consuming
	# from the next test's group on the same ports.
	for p in "${extra_pids[@]}"; do kill_tree "$p"; done
	"$CLUSTER" down >/dev/null 2>&1 || true
	# Safety net: any member of this run still alive (one that left the
	# member list, or whose pid file was lost) is killed by its PID.
	for p in $(pgrep -f -- "-f $QSG_RUN_DIR/" 2>/dev/null || true); do kill_tree "$p"; done
	if grep -l 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' \
		"$QSG_RUN_DIR"/*.log 2>/dev/null; then
		fail_msg="sanitizer errors in member logs"
		log "sanitizer errors in member logs:"
		grep -h -A30 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' \
			"$QSG_RUN_DIR"/*.log | sed -n 1,120p
		rc=1
	fi
	if [ $rc -ne 0 ]; then
		for f in "$QSG_RUN_DIR"/QM*.log; do
			[ -f "$f" ] || continue
			echo "--- tail of $f"
			tail -25 "$f"
		done
		# Last, so that a tail of this log (CI) shows why it failed.
		log "FAILED: ${fail_msg:-exit status $rc}"
	else
		rm -rf "$QSG_RUN_DIR"
	fi
	exit $rc
}
trap teardown EXIT

cluster_up() { # N
	local line
	line=$("$CLUSTER" up "$1" | grep '^QSG_CONN=') || fail "cluster up $1"
	export QSG_CONN=${line#QSG_CONN=}
	log "group of $1 up: $QSG_CONN"
}

# Exactly-once check: every line of $1 (sent) appears exactly once in $2 (got)
# and nothing else does.
check_exactly_once() {
	local sent=$1 got=$2 dups lost extra
	dups=$(sort "$got" | uniq -d | wc -l)
	lost=$(sort -u "$sent" | comm -23 - <(sort -u "$got") | wc -l)
	extra=$(sort -u "$got" | comm -13 <(sort -u "$sent") - | wc -l)
	log "sent=$(wc -l <"$sent") got=$(wc -l <"$got") duplicated=$dups lost=$lost unexpected=$extra"
	[ "$dups" -eq 0 ] || fail "$dups duplicated messages"
	[ "$lost" -eq 0 ] || fail "$lost lost messages"
	[ "$extra" -eq 0 ] || fail "$extra unexpected messages"
}

other_than() { # QM -> the other members, one per line
	local qm
	for qm in $(cat "$QSG_RUN_DIR/members"); do [ "$qm" != "$1" ] && echo "$qm"; done
	return 0
}

# Fields of the first object a DISPLAY command shows ("-" for a field that
# is missing or blank, all "-" when nothing is shown):
# mqsc_fields CONN COMMAND FIELD...
mqsc_fields() {
	local conn=$1 cmd=$2
	shift 2
	"$QSGADM" -c "$conn" --json <<<"$cmd" 2>/dev/null |
		python3 -c 'import json,sys
fields=sys.argv[1:]
for line in sys.stdin:
    d=json.loads(line)
    for o in d.get("objects",[]):
        print(" ".join(str(o.get(f,"")).strip() or "-" for f in fields)); sys.exit(0)
print(" ".join("-" for f in fields))' "$@"
}

# Fields of the first DISPLAY CHSTATUS object: chst CONN CHANNEL FIELD...
chst() {
	local conn=$1 ch=$2
	shift 2
	mqsc_fields "$conn" "DISPLAY CHSTATUS($ch) ALL" "$@"
}

# START CHANNEL needs a channel initiator published by some member: right
# after the group came up, try again for up to 5 s. The last attempt's
# output goes to OUT (default /dev/null).
start_channel() { # CONN CH [OUT]
	local out=${3:-/dev/null} i
	for ((i = 0; i < 50; i++)); do
		"$QSGADM" -c "$1" >"$out" 2>&1 <<<"START CHANNEL($2)" && return 0
		sleep 0.1
	done
	fail "START CHANNEL($2)$([ "$out" = /dev/null ] || echo ": $(cat "$out")")"
}

# Start a holder of a unit of work (uowhold, uow2q ... hold) in the
# background and wait up to 10 s until it prints HELD; its PID is left in
# $holder (and in extra_pids, for teardown), its output in OUT.
start_holder() { # OUT COMMAND...
	local out=$1 i
	shift
	"$@" >"$out" 2>&1 &
	holder=$!
	extra_pids+=($holder)
	for ((i = 0; i < 100; i++)); do
		grep -q '^HELD' "$out" && return 0
		kill -0 "$holder" 2>/dev/null || break
		sleep 0.1
	done
	cat "$out"
	fail "$(basename "$1") did not hold its unit of work"
}
