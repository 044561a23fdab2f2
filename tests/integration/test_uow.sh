#!/usr/bin/env bash
# Units of work: (1) the uow of a connection that drops is backed out;
# (2) the uow of a member that is killed (a follower, then the leader) is backed
# out by the survivors once its lease lapses, and its messages are got again.
. "$(dirname "$0")/lib.sh" 17400
UOWHOLD=$top_builddir/tests/integration/uowhold
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.UOW) QSGDISP(SHARED)" || fail "define"

qstatus() { # attr
	"$QSGADM" --json <<<"DISPLAY QSTATUS(T.UOW)" |
		python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['objects'][0]['$1'])"
}
hold() { # QM count -> starts a holder, waits until it holds
	start_holder "$QSG_RUN_DIR/hold.out" "$UOWHOLD" "$("$CLUSTER" conn "$1")" T.UOW "$2"
}
wait_uncom() { # expected seconds
	for ((i = 0; i < $2 * 10; i++)); do
		[ "$(qstatus UNCOM 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "UNCOM is $(qstatus UNCOM), expected $1 within $2 s"
}

seq 1 10 | sed 's/^/uow-/' >"$QSG_RUN_DIR/sent"
"$QSGPUT" T.UOW <"$QSG_RUN_DIR/sent" || fail "put"

log "1: connection drop backs out"
hold QM2 5
wait_uncom 5 5
kill -KILL "$holder"
wait_uncom 0 10
[ "$(qstatus CURDEPTH)" = 10 ] || fail "CURDEPTH $(qstatus CURDEPTH) after backout"

for role in follower leader; do
	leader=$("$CLUSTER" leader)
	if [ $role = leader ]; then target=$leader; else target=$(other_than "$leader" | sed -n 1p); fi
	log "2: kill -9 the $role $target while it holds a uow"
	hold "$target" 5
	wait_uncom 5 5 # DISPLAY reads a member's replica, which may lag by an entry
	t0=$(date +%s%N)
	"$CLUSTER" kill "$target"
	wait_uncom 0 15
	log "uow of $target backed out after $((($(date +%s%N) - t0) / 1000000)) ms"
	kill -KILL "$holder" 2>/dev/null || true
	"$CLUSTER" start "$target"
done

"$QSGGET" T.UOW --syncpoint -n 100 -w 3 >"$QSG_RUN_DIR/got" || fail "get"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"
log "ok"
