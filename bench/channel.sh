#!/usr/bin/env bash
# bench/channel.sh: throughput of one shared sender channel and the time a
# surviving member takes to deliver again after the owner is killed.
#
#   1. Throughput: MESSAGES persistent messages of SIZE bytes are put to the
#      remote queue while the channel is stopped (they wait on the shared
#      xmitq); START CHANNEL; the time until the remote queue holds all of
#      them gives msgs/s through the one channel (every batch: a get from
#      the group's log, a put+SYNCQ record in the remote's log, a settle in
#      the group's log; all fsync'ed by a majority).
#   2. Takeover: with a paced producer running, kill -9 the owner; the time
#      from the kill to the receiver showing a newer epoch with messages
#      beyond those that could have been in flight.
#
# Environment: QSG_BIN_DIR (default build/), QSG_RUN_DIR (default run/chbench),
# QSG_PORT_BASE (default 16800), MESSAGES (default 100000), SIZE (default
# 1024), BATCHSZ (default 200), PIPELINE (default 8), COMPMSG (NONE|LZ4),
# RUNS (takeover repetitions, default 3), QSG_LOG_LEVEL (default warn).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export QSG_BIN_DIR=${QSG_BIN_DIR:-$src/build}
export QSG_RUN_DIR=${QSG_RUN_DIR:-$src/run/chbench}
export QSG_PORT_BASE=${QSG_PORT_BASE:-16800}
export QSG_LOG_LEVEL=${QSG_LOG_LEVEL:-warn}
messages=${MESSAGES:-100000}
size=${SIZE:-1024}
batchsz=${BATCHSZ:-200}
pipeline=${PIPELINE:-8}
compmsg=${COMPMSG:-NONE}
runs=${RUNS:-3}
cluster=$src/scripts/cluster
adm=$QSG_BIN_DIR/qsgadm

if [ -f "$QSG_RUN_DIR/members" ]; then
	"$cluster" down >/dev/null 2>&1 || true
fi
rm -rf "$QSG_RUN_DIR"
trap '"$cluster" down >/dev/null 2>&1 || true' EXIT
line=$("$cluster" up 3 remote | grep '^QSG_REMOTE_CONN=')
G=$("$cluster" conn)
R=${line#QSG_REMOTE_CONN=}

"$adm" -c "$G" >/dev/null <<EOF
DEFINE QLOCAL(QMR) USAGE(XMITQ) MAXDEPTH(10000000)
DEFINE QREMOTE(TO.R) RNAME(IN) RQMNAME(QMR) XMITQ(QMR)
DEFINE CHANNEL(G.TO.R) CHLTYPE(SDR) CONNAME('$R') XMITQ(QMR) BATCHSZ($batchsz) PIPELINE($pipeline) COMPMSG($compmsg) HBINT(1) SHORTTMR(1)
EOF
"$adm" -c "$R" >/dev/null <<EOF
DEFINE CHANNEL(G.TO.R) CHLTYPE(RCVR) COMPMSG($compmsg)
DEFINE QLOCAL(IN) MAXDEPTH(10000000)
EOF

field() { # CONN MQSC FIELD
	"$adm" -c "$1" --json <<<"$2" | python3 -c 'import json,sys
for l in sys.stdin:
    for o in json.loads(l).get("objects",[]):
        print(str(o.get(sys.argv[1],"")).strip()); sys.exit(0)
print("")' "$3"
}

echo "== throughput: $messages x $size B persistent, BATCHSZ $batchsz, PIPELINE $pipeline, COMPMSG $compmsg"
"$QSG_BIN_DIR/qsgbench" -c "$G" --queue TO.R --mode put --messages "$messages" --size "$size" \
	--persistent --conns 4 --inflight 32 | grep RESULT
t0=$EPOCHREALTIME
"$adm" -c "$G" <<<"START CHANNEL(G.TO.R)" >/dev/null
while :; do
	d=$(field "$R" "DISPLAY QSTATUS(IN)" CURDEPTH)
	[ "${d:-0}" -ge "$messages" ] && break
	sleep 0.05
done
t1=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" -v n="$messages" \
	'BEGIN{printf "RESULT channel msgs=%d seconds=%.2f rate=%.0f msgs/s\n", n, b-a, n/(b-a)}'

echo "== takeover after kill -9 of the owner ($runs runs)"
# A paced producer through libqsg (it reconnects when its member is killed).
python3 -c 'import sys,time
size,secs=int(sys.argv[1]),float(sys.argv[2])
t0=time.time(); i=0
while time.time()-t0<secs:
    i+=1
    s=str(i); print(s+"x"*max(0,size-len(s)),flush=True)
    d=t0+i/2000.0-time.time()
    if d>0: time.sleep(d)' "$size" $((runs * 8 + 5)) | "$QSG_BIN_DIR/qsgput" -c "$G" TO.R >/dev/null 2>&1 &
prod=$!
sleep 2
for ((i = 1; i <= runs; i++)); do
	owner=$(field "$G" "DISPLAY CHSTATUS(G.TO.R)" OWNER)
	leader=$("$cluster" leader)
	epoch=$(field "$R" "DISPLAY CHSTATUS(G.TO.R) ALL" EPOCH)
	t0=$EPOCHREALTIME
	"$cluster" kill "$owner"
	l0=-1
	while :; do
		read -r e l < <("$adm" -c "$R" --json <<<"DISPLAY CHSTATUS(G.TO.R) ALL" |
			python3 -c 'import json,sys
for l in sys.stdin:
    for o in json.loads(l).get("objects",[]):
        print(o.get("EPOCH","0"), o.get("LSTSEQNO","0")); sys.exit(0)
print("0 0")')
		# The new instance's first batch: the receiver's entry shows a newer
		# epoch and its sequence number moves past where the epoch began.
		if [ "${e:-0}" -gt "$epoch" ]; then
			[ "$l0" -ge 0 ] || l0=$l
			[ "$l" -gt "$l0" ] && break
		fi
		sleep 0.02
	done
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" -v o="$owner" -v e="$e" -v r="$([ "$owner" = "$leader" ] && echo leader || echo follower)" \
		'BEGIN{printf "RESULT takeover killed=%s (%s) new_epoch=%s seconds=%.2f\n", o, r, e, b-a}'
	"$cluster" start "$owner" >/dev/null
	sleep 4
done
kill "$prod" 2>/dev/null || true
wait "$prod" 2>/dev/null || true
