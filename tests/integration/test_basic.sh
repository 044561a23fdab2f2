#!/usr/bin/env bash
# 3 members: define a shared queue, put through one member, get through
# another; FIFO order; DISPLAY QSTATUS depth; bad MQSC gets a reason code.
. "$(dirname "$0")/lib.sh" 17000
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.BASIC) QSGDISP(SHARED) MAXDEPTH(100000)" || fail "define"
seq 1 500 | sed 's/^/basic-/' >"$QSG_RUN_DIR/sent"
"$QSGPUT" -c "$("$CLUSTER" conn QM1)" T.BASIC <"$QSG_RUN_DIR/sent" || fail "put via QM1"
depth=$("$QSGADM" -c "$("$CLUSTER" conn QM3)" --json <<<"DISPLAY QSTATUS(T.BASIC)" |
	python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["objects"][0]["CURDEPTH"])')
[ "$depth" = 500 ] || fail "CURDEPTH $depth, expected 500"
"$QSGGET" -c "$("$CLUSTER" conn QM2)" T.BASIC -n 500 -w 5 >"$QSG_RUN_DIR/got" || fail "get via QM2"
cmp "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got" || fail "messages differ or are out of order"
# Syntax error: non-zero exit and a reason code.
if "$QSGADM" --json <<<"DEFINE QLOCAL(" >"$QSG_RUN_DIR/adm.out" 2>&1; then fail "syntax error accepted"; fi
grep -q 'QSG_RC_MQSC_SYNTAX\|6010' "$QSG_RUN_DIR/adm.out" || fail "no syntax reason code"
# Unknown queue: qsgput fails with the reason.
if echo x | "$QSGPUT" NO.SUCH.Q 2>"$QSG_RUN_DIR/put.err"; then fail "put to unknown queue succeeded"; fi
grep -q 'UNKNOWN_OBJECT' "$QSG_RUN_DIR/put.err" || fail "no UNKNOWN_OBJECT reason"
log "ok"
