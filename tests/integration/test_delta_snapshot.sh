#!/usr/bin/env bash
# Delta snapshots ([raft] snapshot_delta = on, docs/storage.md "A base and
# deltas"): a 3-member group with snapshot_threshold 32 is filled with
# 30000 messages and half of them are got, so every member takes snapshots
# both as a new base (base-<index>.qsb in its data directory) and as deltas
# against it (/metrics qsg_snapshot_rebases_total, _deltas_total). Checked:
# at most two base files per member (the current one and the one before);
# then kill -9 of every member: each restarts from its local snapshot (a
# delta restores with its base file, QSG0012I says which) and every message
# is back, exactly once and in order.
# Ports: members 31301.., Raft 31401.., HTTP 31391..
. "$(dirname "$0")/lib.sh" 31300
HTTP_BASE=$((QSG_PORT_BASE + 90))
Q=DELTA.Q
N=30000
cluster_up 3
"$CLUSTER" down >/dev/null
for i in 1 2 3; do
	printf '[raft]\nsnapshot_threshold = 32\nsnapshot_trailing = 16\nsnapshot_delta = on\n[http]\naddress = 127.0.0.1:%d\n' \
		$((HTTP_BASE + i)) >>"$QSG_RUN_DIR/QM$i.ini"
done
cluster_up 3

metric() { # PORT NAME -> value
	python3 - "$1" "$2" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
for line in body.splitlines():
    name, _, value = line.rpartition(" ")
    if not line.startswith("#") and name == sys.argv[2]:
        v = float(value)
        print(int(v) if v == int(v) else v)
        break
PY
}
depth() {
	"$QSGADM" --json <<<"DISPLAY QSTATUS($Q)" |
		python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["objects"][0]["CURDEPTH"])'
}

"$QSGADM" <<<"DEFINE QLOCAL($Q) QSGDISP(SHARED) MAXDEPTH(1000000)" >/dev/null || fail "define"
seq 1 "$N" | sed 's/^/d-/' >"$QSG_RUN_DIR/sent"
# The fill makes the snapshots rebases (the depth grows by more than a
# quarter between two), the gets in steps of N/30 make them deltas.
"$QSGPUT" "$Q" <"$QSG_RUN_DIR/sent" || fail "put"
for ((k = 0; k < 15; k++)); do
	"$QSGGET" "$Q" --syncpoint -n $((N / 30)) -w 3 >>"$QSG_RUN_DIR/got1" || fail "get $k"
done
[ "$(wc -l <"$QSG_RUN_DIR/got1")" = $((N / 2)) ] || fail "got $(wc -l <"$QSG_RUN_DIR/got1"), expected $((N / 2))"
cmp "$QSG_RUN_DIR/got1" <(head -n $((N / 2)) "$QSG_RUN_DIR/sent") || fail "first half out of order"
# Every member applies the gets before the check (the last snapshot lags).
sleep 2
for i in 1 2 3; do
	p=$((HTTP_BASE + i))
	rb=$(metric $p qsg_snapshot_rebases_total)
	de=$(metric $p qsg_snapshot_deltas_total)
	bi=$(metric $p qsg_snapshot_base_index)
	nb=$(find "$QSG_RUN_DIR/QM$i" -maxdepth 1 -name 'base-*.qsb' | wc -l)
	log "QM$i: snapshots $(metric $p qsg_snapshots_total), rebases $rb, deltas $de, base $bi, $nb base files, last $(metric $p qsg_snapshot_last_bytes) bytes"
	[ -n "$rb" ] && ((rb >= 1)) || fail "QM$i: no rebase"
	[ -n "$de" ] && ((de >= 2)) || fail "QM$i: ${de:-no} delta snapshots"
	((nb >= 1 && nb <= 2)) || fail "QM$i: $nb base files (1 or 2 expected)"
	[ -f "$QSG_RUN_DIR/QM$i/$(printf 'base-%020d.qsb' "$bi")" ] || fail "QM$i: no file for base $bi"
done
[ "$(depth)" = $((N / 2)) ] || fail "CURDEPTH $(depth), expected $((N / 2))"

log "kill -9 every member"
for qm in QM1 QM2 QM3; do "$CLUSTER" kill "$qm"; done
"$CLUSTER" up 3 >/dev/null || fail "restart"
deltas=$(cat "$QSG_RUN_DIR"/QM*.log | grep -c "QSG0012I.*delta snapshot" || true)
log "$deltas members restored from a delta and its base"
((deltas >= 1)) || fail "no member restarted from a delta snapshot"
d=$(depth)
[ "$d" = $((N / 2)) ] || fail "CURDEPTH $d after restart, expected $((N / 2))"
"$QSGGET" "$Q" --syncpoint -n "$N" -w 3 >"$QSG_RUN_DIR/got2" || fail "get"
cat "$QSG_RUN_DIR/got1" "$QSG_RUN_DIR/got2" >"$QSG_RUN_DIR/got"
cmp "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got" || fail "order or content changed across restart"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"
log "ok"
