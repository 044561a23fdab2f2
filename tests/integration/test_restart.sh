#!/usr/bin/env bash
# Durability: acknowledged messages survive kill -9 of every member at once
# (restart from snapshot + log), and a member restarted with a lower snapshot
# threshold catches up.
. "$(dirname "$0")/lib.sh" 17800
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.RESTART) QSGDISP(SHARED) MAXDEPTH(1000000)" || fail "define"
seq 1 4000 | sed 's/^/r-/' >"$QSG_RUN_DIR/sent"
"$QSGPUT" T.RESTART <"$QSG_RUN_DIR/sent" || fail "put"
log "kill -9 every member"
for qm in QM1 QM2 QM3; do "$CLUSTER" kill "$qm"; done
"$CLUSTER" up 3 >/dev/null || fail "restart"
depth=$("$QSGADM" --json <<<"DISPLAY QSTATUS(T.RESTART)" |
	python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["objects"][0]["CURDEPTH"])')
[ "$depth" = 4000 ] || fail "CURDEPTH $depth after restart, expected 4000"
"$QSGGET" T.RESTART --syncpoint -n 5000 -w 3 >"$QSG_RUN_DIR/got" || fail "get"
cmp "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got" || fail "order or content changed across restart"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"
log "ok"
