#!/usr/bin/env bash
# What a group must do for applications across members (issue 11, item 8):
# (1) a unit of work that spans two queues commits and backs out as a whole,
#     and is backed out as a whole when its connection drops or its member is
#     killed; (2) a get parked on one member is woken by a put made through
#     another member.
. "$(dirname "$0")/lib.sh" 24000
UOW2Q=$top_builddir/tests/integration/uow2q
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.A) QSGDISP(SHARED)
DEFINE QLOCAL(T.B) QSGDISP(SHARED)
DEFINE QLOCAL(T.PARK) QSGDISP(SHARED)" >/dev/null || fail "define"

qstatus() { # QUEUE ATTR [QM]
	local c=${3:+-c $("$CLUSTER" conn "$3")}
	# shellcheck disable=SC2086
	"$QSGADM" $c --json <<<"DISPLAY QSTATUS($1)" |
		python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['objects'][0]['$2'])"
}
# Both queues' depths and uncommitted counts, as "A-depth B-depth A-uncom B-uncom".
state() { echo "$(qstatus T.A CURDEPTH) $(qstatus T.B CURDEPTH) $(qstatus T.A UNCOM) $(qstatus T.B UNCOM)"; }
wait_state() { # expected seconds
	local i s
	for ((i = 0; i < $2 * 10; i++)); do
		s=$(state 2>/dev/null) || s=
		[ "$s" = "$1" ] && return 0
		sleep 0.1
	done
	fail "state (A B uncomA uncomB) is '$s', expected '$1' within $2 s"
}
wait_uncom() { # QUEUE EXPECTED [QM]: a member's replica may lag by an entry
	local i n
	for ((i = 0; i < 50; i++)); do
		n=$(qstatus "$1" UNCOM "${3:-}" 2>/dev/null) || n=
		[ "$n" = "$2" ] && return 0
		sleep 0.1
	done
	fail "$1 UNCOM is $n, expected $2 within 5 s"
}
hold() { # QM N -> a uow2q holding N moves on QM
	start_holder "$QSG_RUN_DIR/hold.out" "$UOW2Q" "$("$CLUSTER" conn "$1")" T.A T.B "$2" hold
}

seq 1 20 | sed 's/^/m-/' >"$QSG_RUN_DIR/sent"
"$QSGPUT" T.A <"$QSG_RUN_DIR/sent" || fail "put"
wait_state "20 0 0 0" 5

log "1a: back out a unit of work over two queues"
"$UOW2Q" "$("$CLUSTER" conn QM2)" T.A T.B 5 backout >/dev/null || fail "uow2q backout"
wait_state "20 0 0 0" 5

log "1b: commit it"
"$UOW2Q" "$("$CLUSTER" conn QM2)" T.A T.B 5 commit >/dev/null || fail "uow2q commit"
wait_state "15 5 0 0" 5

log "1c: its connection drops with the unit of work open"
hold QM3 4
# UNCOM counts the held puts on T.B (and the locked gets on T.A).
wait_uncom T.B 4
kill -KILL "$holder"
wait_state "15 5 0 0" 10

log "1d: its member is killed with the unit of work open"
leader=$("$CLUSTER" leader)
target=$(other_than "$leader" | sed -n 1p)
hold "$target" 4
wait_uncom T.B 4 "$leader"
"$CLUSTER" kill "$target"
kill -KILL "$holder" 2>/dev/null || true
# Read through the leader: the killed member's replica is gone.
for ((i = 0; i < 150; i++)); do
	s="$(qstatus T.A CURDEPTH "$leader") $(qstatus T.B CURDEPTH "$leader") $(qstatus T.A UNCOM "$leader") $(qstatus T.B UNCOM "$leader")"
	[ "$s" = "15 5 0 0" ] && break
	sleep 0.1
done
[ "$s" = "15 5 0 0" ] || fail "after the member's death: '$s', expected '15 5 0 0'"
"$CLUSTER" start "$target"

# Every message is on exactly one of the two queues, exactly once.
"$QSGGET" -c "$("$CLUSTER" conn "$leader")" T.A --syncpoint -n 100 -w 2 >"$QSG_RUN_DIR/got" || fail "get A"
"$QSGGET" -c "$("$CLUSTER" conn "$leader")" T.B --syncpoint -n 100 -w 2 >>"$QSG_RUN_DIR/got" || fail "get B"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"
[ "$(sed -n 1,5p "$QSG_RUN_DIR/got" | tr '\n' ' ')" = "m-6 m-7 m-8 m-9 m-10 " ] ||
	fail "T.A should start at m-6: $(sed -n 1,5p "$QSG_RUN_DIR/got" | tr '\n' ' ')"

log "2: a get parked on one member is woken by a put through another"
for pair in "QM1 QM2" "QM2 QM3" "QM3 QM1"; do
	set -- $pair
	"$QSGGET" -c "$("$CLUSTER" conn "$1")" T.PARK -n 1 -w 30 >"$QSG_RUN_DIR/park.out" 2>&1 &
	getter=$!
	extra_pids+=($getter)
	sleep 1
	kill -0 "$getter" 2>/dev/null || fail "the get on $1 did not wait: $(cat "$QSG_RUN_DIR/park.out")"
	t0=$(date +%s%N)
	echo "wake-$1" | "$QSGPUT" -c "$("$CLUSTER" conn "$2")" T.PARK || fail "put on $2"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$getter" 2>/dev/null || break
		sleep 0.1
	done
	# Not woken, the get would sit out its 30 s and return nothing.
	kill -0 "$getter" 2>/dev/null && fail "the get parked on $1 was not woken by a put on $2 within 10 s"
	wait "$getter" || fail "the get on $1 failed: $(cat "$QSG_RUN_DIR/park.out")"
	[ "$(cat "$QSG_RUN_DIR/park.out")" = "wake-$1" ] || fail "parked get on $1 got '$(cat "$QSG_RUN_DIR/park.out")'"
	log "get parked on $1 woken by a put on $2 after $((($(date +%s%N) - t0) / 1000000)) ms"
done
log "ok"
