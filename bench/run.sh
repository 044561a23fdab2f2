#!/usr/bin/env bash
# bench/run.sh: the standard qsgbench set against a fresh 3-member group.
#
# Starts a group with scripts/cluster in its own run directory and ports,
# defines QSG.BENCH, runs each measurement (each bounded to SECS seconds),
# prints the RESULT lines (plus the Raft entries the leader committed during
# each run, to show group commit) and stops the group on exit, by PID.
#
# Environment: QSG_BIN_DIR (qsgd, qsgadm, qsgbench; default build/ in the
# source tree), QSG_RUN_DIR (default run/bench), QSG_PORT_BASE (default 16600),
# SECS (default 10), QSG_LOG_LEVEL (default warn).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export QSG_BIN_DIR=${QSG_BIN_DIR:-$src/build}
export QSG_RUN_DIR=${QSG_RUN_DIR:-$src/run/bench}
export QSG_PORT_BASE=${QSG_PORT_BASE:-16600}
export QSG_LOG_LEVEL=${QSG_LOG_LEVEL:-warn}
secs=${SECS:-10}
cluster=$src/scripts/cluster

for b in qsgd qsgadm qsgbench; do
	[ -x "$QSG_BIN_DIR/$b" ] || { echo "run.sh: $QSG_BIN_DIR/$b not found (scripts/build, or set QSG_BIN_DIR)" >&2; exit 1; }
done

# A fresh group every time: old data would skew the figures.
if [ -f "$QSG_RUN_DIR/members" ]; then
	"$cluster" down >/dev/null 2>&1 || true
	rm -rf "$QSG_RUN_DIR"
fi

teardown() {
	local qm p
	[ -f "$QSG_RUN_DIR/members" ] || return 0
	for qm in $(cat "$QSG_RUN_DIR/members"); do
		p=$(cat "$QSG_RUN_DIR/$qm.pid" 2>/dev/null || true)
		[ -n "$p" ] || continue
		kill -CONT "$p" 2>/dev/null || true
		kill -TERM "$p" 2>/dev/null || true
	done
	"$cluster" down >/dev/null 2>&1 || true
}
trap teardown EXIT
trap 'exit 130' INT TERM

conn=$("$cluster" up 3 | sed -n 's/^QSG_CONN=//p')
[ -n "$conn" ] || { echo "run.sh: the group did not start" >&2; exit 1; }
export QSG_CONN=$conn
echo "group: $conn (run dir $QSG_RUN_DIR, binaries $QSG_BIN_DIR)"

"$QSG_BIN_DIR/qsgadm" <<<"DEFINE QLOCAL(QSG.BENCH) MAXDEPTH(10000000) REPLACE" >/dev/null

# A member answers QSG_RC_MEMBER_FENCED until its first lease renewal is
# acknowledged: wait until every member's lease is active.
for ((i = 0; i < 150; i++)); do
	"$QSG_BIN_DIR/qsgadm" --json <<<"DISPLAY GROUP" 2>/dev/null | python3 -c 'import json,sys
objs=[o for l in sys.stdin for o in json.loads(l).get("objects", [])]
sys.exit(0 if len(objs) == 3 and all(o.get("LEASE") == "ACTIVE" for o in objs) else 1)' && break
	sleep 0.1
done

# The leader's commit index (Raft entries committed so far).
commit_index() {
	"$QSG_BIN_DIR/qsgadm" --json <<<"DISPLAY GROUP" 2>/dev/null | python3 -c 'import json,sys
for line in sys.stdin:
    for o in json.loads(line).get("objects", []):
        if o.get("ROLE") == "LEADER":
            print(o.get("COMMIT", 0)); sys.exit(0)
print(0)'
}

status=0
run() { # NAME qsgbench-args...
	local name=$1 before after out result ops
	shift
	before=$(commit_index)
	if ! out=$("$QSG_BIN_DIR/qsgbench" "$@" 2>&1); then
		status=1
	fi
	after=$(commit_index)
	echo "== $name: qsgbench $*"
	echo "$out" | grep -v '^RESULT' || true
	result=$(echo "$out" | grep '^RESULT' || echo "RESULT none")
	ops=$(echo "$result" | sed -n 's/.* ops=\([0-9]*\).*/\1/p')
	echo "raft entries committed: $((after - before)) for ${ops:-0} operations"
	echo "$result"
}

run put-1k-1 --conns 1 --inflight 1 --size 1024 --persistent --seconds "$secs"
run put-1k-8 --conns 8 --inflight 1 --size 1024 --persistent --seconds "$secs"
run put-1k-64 --conns 8 --inflight 8 --size 1024 --persistent --seconds "$secs"
run get-1k-64 --mode get --conns 8 --inflight 8 --seconds "$secs"
run get-1k-1 --mode get --conns 1 --inflight 1 --seconds "$secs"
run rate-1000 --conns 4 --inflight 16 --size 1024 --persistent --rate 1000 --seconds "$secs"
run syncpoint-10 --conns 8 --inflight 8 --size 1024 --persistent --syncpoint 10 --seconds "$secs"
run put-128-64 --conns 8 --inflight 8 --size 128 --persistent --seconds "$secs"
run putget-1k --mode putget --conns 8 --inflight 8 --size 1024 --persistent --seconds "$secs"
exit $status
