#!/usr/bin/env bash
# Asynchronous put and consume (libqsg async.c through qsgput/qsgget) across
# failures: a producer with 256 puts in flight while the leader is killed
# -9 must have every put acknowledged and applied exactly once; a syncpoint
# consumer with read-ahead connected to a member that is killed -9 loses
# nothing and duplicates nothing (a batch is printed after its commit); a
# consumer outside syncpoint drains the rest (at least once; no failure
# there, so exactly once too).
. "$(dirname "$0")/lib.sh" 21400
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.ASYNC) QSGDISP(SHARED) MAXDEPTH(1000000)" >/dev/null || fail "define"
N=${ASYNC_MESSAGES:-60000}
seq 1 "$N" | sed 's/^/a-/' >"$QSG_RUN_DIR/sent"
leader=$("$CLUSTER" leader)
log "leader is $leader"
"$QSGPUT" --window 256 T.ASYNC <"$QSG_RUN_DIR/sent" >"$QSG_RUN_DIR/put.out" 2>&1 &
p1=$!
extra_pids+=($p1)
victim=$(other_than "$leader" | sed -n 1p)
"$QSGGET" -c "$("$CLUSTER" conn "$victim"),$QSG_CONN" T.ASYNC --syncpoint --read-ahead 64 -w 20 \
	>"$QSG_RUN_DIR/got.1" 2>"$QSG_RUN_DIR/get1.err" &
g1=$!
extra_pids+=($g1)
sleep 1
log "kill -9 leader $leader (producer in flight)"
"$CLUSTER" kill "$leader"
sleep 2
log "kill -9 $victim (the consumer's member)"
"$CLUSTER" kill "$victim"
"$CLUSTER" start "$leader"
wait "$p1" || { cat "$QSG_RUN_DIR/put.out"; fail "producer had unacknowledged puts"; }
log "producer done: every put acknowledged"
wait "$g1" || { cat "$QSG_RUN_DIR/get1.err"; fail "syncpoint consumer failed"; }
"$CLUSTER" start "$victim"
log "syncpoint consumer got $(wc -l <"$QSG_RUN_DIR/got.1")"
"$QSGGET" T.ASYNC -w 5 >"$QSG_RUN_DIR/got.2" || fail "drain"
cat "$QSG_RUN_DIR/got.1" "$QSG_RUN_DIR/got.2" >"$QSG_RUN_DIR/got"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"
# Order per connection: one producer, so what the group holds came in put
# order; the first consumer's part (committed batches) is ascending.
sort -t- -k2 -n -c "$QSG_RUN_DIR/got.1" || fail "syncpoint consumer out of order"
log "ok"
