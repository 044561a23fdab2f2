#!/usr/bin/env bash
# Large messages (docs/storage.md, "Large messages"): bodies of 20 MiB and
# 100 MiB (MAXMSGL 100 MiB) are put with qsgput -f through one member, in
# 1 MiB parts (PUT_CHUNK, no Raft entry over ~1 MiB of body), and got with
# qsgget --raw through another member (GETX + GET_PART from that member's
# store); the sha256 of what is got must equal what was put.
#
#   1. 3 members; LARGE.Q with MAXMSGL(104857600).
#   2. Put A (20 MiB) through QM1; kill -9 a follower V; put B (100 MiB)
#      through a live member while V is down; restart V.
#   3. Get A through V (destructive, outside syncpoint: parts pulled from V's
#      store, which replayed its log), B through V under syncpoint
#      (committed), then a 3 MiB message C is put, got under syncpoint and
#      backed out (its parts stay), and got again: same sha256.
#   4. Catch-up of parts: a follower W is stopped and its data directory
#      wiped; D (8 MiB) and E (20 MiB) and 300 small messages are put; W
#      restarts, installs a snapshot (snapshot_threshold 64: part tables,
#      no content), fetches the parts it lacks from a peer (FETCH by the
#      store keys seqno | part << 48) and logs QSG4102I; D and E are then
#      got through W (GET_PART served from W's store): same sha256.
#   5. Depth 0 at the end.
# Ports: members 19851.., Raft 19951.. (scripts/cluster: Raft = base + 100).
. "$(dirname "$0")/lib.sh" 19850
Q=LARGE.Q
# Low snapshot threshold (phase 4): QMn.ini is written by the first `up`.
cluster_up 3
"$CLUSTER" down >/dev/null
HTTP_BASE=$((QSG_PORT_BASE + 90))
for i in 1 2 3; do
	printf '[raft]\nsnapshot_threshold = 64\nsnapshot_trailing = 32\n[http]\naddress = 127.0.0.1:%d\n' \
		$((HTTP_BASE + i)) >>"$QSG_RUN_DIR/QM$i.ini"
done
snapshots() { # QM -> its qsg_snapshots_total
	python3 - $((HTTP_BASE + ${1#QM})) <<'PY'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
print(next((int(float(l.split()[-1])) for l in body.splitlines() if l.startswith("qsg_snapshots_total ")), 0))
PY
}
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL($Q) QSGDISP(SHARED) MAXMSGL(104857600)" || fail "define"

D=$QSG_RUN_DIR
# B is 100 MiB; 24 MiB in sanitizer builds (ASan makes every copy and crc
# of it several times dearer: a 100 MiB get there held a member's loop for
# seconds and the test ran for over ten minutes).
BMB=100
grep -q '^QSG_LDFLAGS = .*-fsanitize' "$top_builddir/Makefile" && BMB=24
head -c $((20 * 1024 * 1024)) /dev/urandom >"$D/a"
head -c $((BMB * 1024 * 1024)) /dev/urandom >"$D/b"
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$D/c"
sum() { sha256sum "$1" | cut -d' ' -f1; }
depth() {
	"$QSGADM" --json <<<"DISPLAY QSTATUS($Q)" |
		python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["objects"][0]["CURDEPTH"])'
}

leader=$("$CLUSTER" leader)
V=$(other_than "$leader" | sed -n 1p)
P=$(other_than "$leader" | tail -1)
log "leader $leader, follower to kill $V, other $P"

t0=$(date +%s.%N)
"$QSGPUT" -c "$("$CLUSTER" conn "$P")" -f "$D/a" $Q || fail "put of 20 MiB"
log "20 MiB put in $(python3 -c "import time; print(round(time.time() - $t0, 2))") s"
log "kill -9 $V"
"$CLUSTER" kill "$V"
t0=$(date +%s.%N)
"$QSGPUT" -c "$("$CLUSTER" conn "$P")" -f "$D/b" $Q || fail "put of $BMB MiB"
log "$BMB MiB put in $(python3 -c "import time; print(round(time.time() - $t0, 2))") s"
"$CLUSTER" start "$V" >/dev/null || fail "restart $V"
[ "$(depth)" = 2 ] || fail "CURDEPTH $(depth), expected 2"

VC=$("$CLUSTER" conn "$V")
t0=$(date +%s.%N)
"$QSGGET" -c "$VC" -n 1 -w 30 --raw $Q >"$D/a.got" || fail "get of A"
log "20 MiB got through $V in $(python3 -c "import time; print(round(time.time() - $t0, 2))") s"
[ "$(sum "$D/a")" = "$(sum "$D/a.got")" ] || fail "20 MiB message: sha256 differs"
t0=$(date +%s.%N)
"$QSGGET" -c "$VC" -n 1 -w 30 --raw --syncpoint $Q >"$D/b.got" || fail "get of B"
log "$BMB MiB got through $V in $(python3 -c "import time; print(round(time.time() - $t0, 2))") s"
[ "$(sum "$D/b")" = "$(sum "$D/b.got")" ] || fail "$BMB MiB message: sha256 differs"
[ "$(depth)" = 0 ] || fail "CURDEPTH $(depth) after the gets, expected 0"

# A syncpoint put that is backed out leaves nothing; a syncpoint get backed
# out puts the message back whole.
"$QSGPUT" -c "$("$CLUSTER" conn "$leader")" -f "$D/c" $Q || fail "put of C"
"$top_builddir/tests/integration/largeuow" "$("$CLUSTER" conn "$P")" $Q "$D/c" ||
	fail "unit-of-work checks"
"$QSGGET" -c "$VC" -n 1 -w 10 --raw $Q >"$D/c.got" || fail "get of C"
[ "$(sum "$D/c")" = "$(sum "$D/c.got")" ] || fail "3 MiB message: sha256 differs"
[ "$(depth)" = 0 ] || fail "CURDEPTH $(depth) after C, expected 0"

# Phase 4: catch-up of parts by a wiped member.
leader=$("$CLUSTER" leader)
W=$(other_than "$leader" | sed -n 1p)
LC=$("$CLUSTER" conn "$leader")
log "stop $W and wipe its data; leader $leader"
"$CLUSTER" stop "$W" >/dev/null
rm -rf "${QSG_RUN_DIR:?}/$W"
wlines=$(wc -l <"$QSG_RUN_DIR/$W.log")
head -c $((8 * 1024 * 1024)) /dev/urandom >"$D/d"
head -c $((20 * 1024 * 1024 + 3)) /dev/urandom >"$D/e"
"$QSGPUT" -c "$LC" -f "$D/d" $Q || fail "put of D"
"$QSGPUT" -c "$LC" -f "$D/e" $Q || fail "put of E"
seq 1 300 | sed 's/^/small-/' | "$QSGPUT" -c "$LC" $Q || fail "put of the small ones"
# W must come back through a snapshot that holds D and E (their bodies then
# missing): wait for the leader's next snapshot after the puts (every 64
# entries; the renewals alone make them within seconds). Before, a snapshot
# from before the puts could serve, with D and E in the log after it.
s0=$(snapshots "$leader")
for ((i = 0; i < 600; i++)); do
	[ "$(snapshots "$leader")" -gt "$s0" ] && break
	sleep 0.1
done
[ "$(snapshots "$leader")" -gt "$s0" ] || fail "the leader $leader took no snapshot within 60 s"
"$CLUSTER" start "$W" >/dev/null || fail "start $W"
wnew() { tail -n +$((wlines + 1)) "$QSG_RUN_DIR/$W.log"; } # this run of W only
for ((i = 0; i < 1200; i++)); do
	grep -q QSG4102I < <(wnew) && break
	sleep 0.1
done
grep -q QSG4101I < <(wnew) || fail "$W did not install a snapshot with missing bodies (QSG4101I)"
grep -q QSG4102I < <(wnew) || fail "$W did not finish its catch-up (QSG4102I)"
log "$W: $(wnew | grep QSG4101I | tail -1)"
log "$W: $(wnew | grep QSG4102I | tail -1)"
WC=$("$CLUSTER" conn "$W")
"$QSGGET" -c "$WC" -n 1 -w 10 --raw $Q >"$D/d.got" || fail "get of D"
[ "$(sum "$D/d")" = "$(sum "$D/d.got")" ] || fail "8 MiB message via $W: sha256 differs"
"$QSGGET" -c "$WC" -n 1 -w 10 --raw $Q >"$D/e.got" || fail "get of E"
[ "$(sum "$D/e")" = "$(sum "$D/e.got")" ] || fail "20 MiB message via $W: sha256 differs"
"$QSGGET" -c "$WC" -n 300 -w 10 $Q >"$D/small.got" || fail "get of the small ones"
[ "$(wc -l <"$D/small.got")" = 300 ] || fail "small messages: $(wc -l <"$D/small.got") of 300"
[ "$(depth)" = 0 ] || fail "CURDEPTH $(depth) at the end, expected 0"
log "ok"
