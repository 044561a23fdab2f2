#!/usr/bin/env bash
# A deep queue on the message store (issue 10, items 1, 6 and 7): a 3-member
# group with a small body cache (16 MiB) and small segments (16 MiB) is
# filled with 1M persistent 1 KiB messages (qsgbench --verify: each body is
# stamped and its stamp carried in the CorrelId), snapshotting every 1024
# entries while puts flow. Checked:
#  * no member fenced itself (QSG4002W) or was declared failed (QSG4003W),
#    the leader never changed, every put acknowledged, CURDEPTH = N;
#  * every member holds N bodies in its store (qsg_store_messages), its
#    snapshots carry descriptors only (qsg_snapshot_last_bytes < 200 bytes
#    per message, a tenth of the bodies) and its RSS is bounded (not
#    sanitizer builds: at most 160 MB + 512 bytes per message, where bodies
#    in memory took 1.4 GB at 1M);
#  * kill -9 of every member at depth, then a restart of all three at once:
#    CURDEPTH = N again (restart time logged), no member fences itself, and
#    none is declared failed once all three serve (one that came up more
#    than a lease after the other two may be, before: peer recovery);
#  * the drain returns every message exactly once with its own body
#    (VERIFY ok=N corrupt=0 duplicate=0), CURDEPTH 0;
#  * space is reclaimed: after two more snapshots every member's store is
#    back under 3 segments.
# DEEP_MESSAGES overrides N (default 1000000, 60000 in sanitizer builds:
# ASan makes every fork and copy-on-write fault several times dearer and
# 200k fenced members there; this run is for memory errors).
# Ports: members 16001.., Raft 16101.., HTTP 16091..
. "$(dirname "$0")/lib.sh" 16000
HTTP_BASE=$((QSG_PORT_BASE + 90))
Q=DEEP.STORE.Q
sanitized=0
grep -q '^QSG_LDFLAGS = .*-fsanitize' "$top_builddir/Makefile" && sanitized=1
if [ "$sanitized" = 1 ]; then N=${DEEP_MESSAGES:-60000}; else N=${DEEP_MESSAGES:-1000000}; fi
BENCH=$top_builddir/qsgbench

cluster_up 3
"$CLUSTER" down >/dev/null
for i in 1 2 3; do
	printf '[raft]\nsnapshot_threshold = 1024\nsnapshot_trailing = 512\n[store]\ncache_mb = 16\nsegment_mb = 16\n[http]\naddress = 127.0.0.1:%d\n' \
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
group_json() { "$QSGADM" --json <<<"DISPLAY GROUP" 2>/dev/null || true; }
leader() {
	group_json | python3 -c 'import json,sys
for l in sys.stdin:
    for o in json.loads(l).get("objects", []):
        if o.get("ROLE") == "LEADER":
            print(o.get("QMNAME", "?")); sys.exit(0)
print("none")'
}
depth() {
	"$QSGADM" --json <<<"DISPLAY QLOCAL($Q) CURDEPTH" 2>/dev/null |
		python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["objects"][0]["CURDEPTH"])' 2>/dev/null ||
		echo none
}
count() { cat "$QSG_RUN_DIR"/QM*.log | grep -c "$1" || true; }
rss_mb() { # QM -> VmRSS in MB
	awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$("$CLUSTER" pid "$1")/status"
}

for ((i = 0; i < 100; i++)); do
	l0=$(leader)
	[ "$l0" != none ] && break
	sleep 0.1
done
[ "$l0" != none ] || fail "no leader"
"$QSGADM" <<<"DEFINE QLOCAL($Q) MAXDEPTH(999999999)" >/dev/null
log "leader $l0; filling $N x 1 KiB (sanitized=$sanitized)"
(
	while :; do
		leader >>"$QSG_RUN_DIR/leaders"
		sleep 0.5
	done
) &
extra_pids+=($!)
watcher=$!

t0=$(date +%s)
out=$("$BENCH" --queue "$Q" --mode put --conns 8 --inflight 8 --size 1024 --persistent \
	--verify --messages "$N" 2>&1) || fail "qsgbench put: $out"
r=$(grep '^RESULT' <<<"$out") || fail "qsgbench put: no RESULT: $out"
log "fill: $r ($(($(date +%s) - t0)) s)"
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
put=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<<"$r")
err=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$r")
leaders=$(sort -u "$QSG_RUN_DIR/leaders" | grep -v '^none$' | tr '\n' ' ')
log "fences $(count QSG4002W), failed $(count QSG4003W), leaders seen: $leaders"
[ "$(count QSG4002W)" = 0 ] || fail "QSG4002W during the fill (a member fenced itself)"
[ "$(count QSG4003W)" = 0 ] || fail "QSG4003W during the fill (a member was declared failed)"
# The leader of the fill is the first one polled during it: an election
# that ends just after the group starts (before the first put) is not a
# change during the fill.
lf=$(grep -v '^none$' "$QSG_RUN_DIR/leaders" | sed -n 1p)
[ "$leaders" = "$lf " ] || fail "leader changed during the fill: $leaders (first $lf, before the fill $l0)"
[ "$err" = 0 ] || fail "put errors: $r"
[ "$put" = "$N" ] || fail "acknowledged $put puts, expected $N"
d=$(depth)
[ "$d" = "$N" ] || fail "CURDEPTH $d after the fill, expected $N"

# Every member applies the same log: N bodies in each store (a follower may
# still be applying the last entries: wait a little).
for i in 1 2 3; do
	p=$((HTTP_BASE + i))
	for ((k = 0; k < 100; k++)); do
		[ "$(metric $p qsg_store_messages)" = "$N" ] && break
		sleep 0.1
	done
	msgs=$(metric $p qsg_store_messages)
	snap=$(metric $p qsg_snapshot_last_bytes)
	rss=$(rss_mb QM$i)
	log "QM$i: store $msgs bodies, $(metric $p qsg_store_disk_bytes) bytes in" \
		"$(metric $p qsg_store_segments) segments, cache $(metric $p qsg_store_cache_bytes);" \
		"snapshots $(metric $p qsg_snapshots_total), last $snap bytes," \
		"loop $(metric $p qsg_snapshot_last_loop_seconds) s; RSS $rss MB"
	[ "$msgs" = "$N" ] || fail "QM$i holds $msgs bodies, expected $N"
	[ -n "$snap" ] && ((snap < N * 200)) || fail "QM$i: snapshot of $snap bytes for $N messages: bodies in it?"
	if [ "$sanitized" = 0 ]; then
		lim=$((160 + N * 512 / 1000000))
		((rss <= lim)) || fail "QM$i: RSS $rss MB at depth $N (limit $lim MB)"
	fi
done

log "kill -9 every member at depth $N"
for qm in QM1 QM2 QM3; do "$CLUSTER" kill "$qm"; done
t0=$(date +%s.%N)
# All three at once, as a supervisor would start them.
for qm in QM1 QM2 QM3; do "$CLUSTER" start "$qm" >/dev/null & done
wait || true
for qm in QM1 QM2 QM3; do "$CLUSTER" pid "$qm" >/dev/null || fail "restart $qm"; done
for ((k = 0; k < 600; k++)); do
	d=$(depth)
	[ "$d" = "$N" ] && break
	sleep 0.1
done
log "restart: CURDEPTH $d after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
[ "$d" = "$N" ] || fail "CURDEPTH $d after the restart, expected $N"
# Serving: every member renewed its lease after the restart (/readyz 200).
ready() {
	python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen("http://127.0.0.1:%s/readyz" % sys.argv[1], timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print(0)
PY
}
for i in 1 2 3; do
	for ((k = 0; k < 300; k++)); do
		[ "$(ready $((HTTP_BASE + i)))" = 200 ] && break
		sleep 0.1
	done
	[ "$(ready $((HTTP_BASE + i)))" = 200 ] || fail "QM$i not ready 30 s after the restart"
done
log "restart: every member ready after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
# A member that comes up more than a lease after the other two formed a
# quorum is declared failed (peer recovery, as MQ does): right, not a
# stall. From here on, with all three serving, nobody may be.
failed_at_restart=$(count QSG4003W)
[ "$failed_at_restart" = 0 ] || log "restart: $failed_at_restart member(s) declared failed before they were up"

out=$("$BENCH" --queue "$Q" --mode get --conns 8 --inflight 8 --verify --messages "$N" 2>&1) ||
	fail "qsgbench get: $out"
r=$(grep '^RESULT' <<<"$out") || fail "qsgbench get: no RESULT: $out"
v=$(grep '^VERIFY' <<<"$out") || fail "qsgbench get: no VERIFY: $out"
log "drain: $r"
log "drain: $v"
[ "$v" = "VERIFY ok=$N corrupt=0 duplicate=0" ] || fail "drain: $v"
d=$(depth)
[ "$d" = 0 ] || fail "CURDEPTH $d after the drain"
[ "$(count QSG4002W)" = 0 ] || fail "a member fenced itself after the restart"
[ "$(count QSG4003W)" = "$failed_at_restart" ] || fail "a member was declared failed during the drain"

# Reclaim: segments are deleted once two snapshots passed the releases.
# Small traffic on another queue drives the snapshots.
"$QSGADM" <<<"DEFINE QLOCAL(DEEP.TICK) MAXDEPTH(999999999)" >/dev/null
for ((k = 0; k < 30; k++)); do
	"$BENCH" --queue DEEP.TICK --mode put --conns 1 --inflight 8 --size 16 --messages 1500 >/dev/null 2>&1 || true
	"$BENCH" --queue DEEP.TICK --mode get --conns 1 --inflight 8 --messages 1500 >/dev/null 2>&1 || true
	ok=1
	for i in 1 2 3; do
		s=$(metric $((HTTP_BASE + i)) qsg_store_segments)
		((s <= 3)) || ok=0
	done
	[ "$ok" = 1 ] && break
done
for i in 1 2 3; do
	p=$((HTTP_BASE + i))
	log "QM$i after the drain: $(metric $p qsg_store_segments) segments," \
		"$(metric $p qsg_store_disk_bytes) bytes, reclaimed $(metric $p qsg_store_reclaimed_bytes_total)," \
		"compacted $(metric $p qsg_store_compacted_bytes_total), messages $(metric $p qsg_store_messages)"
	s=$(metric $p qsg_store_segments)
	((s <= 3)) || fail "QM$i still has $s segments after the drain"
done
log "PASS: $N messages through the store, kill -9 at depth, verified drain, space reclaimed"
