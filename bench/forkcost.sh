#!/usr/bin/env bash
# bench/forkcost.sh: what a fork-mode snapshot costs a member's loop at
# depth (issue 10, "Snapshots never stall"; docs/storage.md, "What fork()
# copies"). Fills QSG.FORK on a fresh 3-member group with DEPTH persistent
# messages of SIZE bytes (qsgbench --mode put, 8 connections x 8 in flight),
# sampling every member's /metrics every 0.3 s, then prints:
#
#   fill: the qsgbench RESULT line
#   QMi loop_ms: the loop's share of each snapshot taken during the fill
#                (qsg_snapshot_last_loop_seconds: the fork() call), then
#                min/median/max
#   QMi rss_MB copied_MB huge_MB ptes maps: at full depth, from
#                /proc/PID/smaps: resident memory, what a fork copies
#                (mappings without MADV_DONTFORK), of it in huge pages, the
#                page-table entries a fork copies (4 KiB pages + 2 MiB
#                pages), and the number of mappings
#
# Environment: DEPTH (default 1000000), SIZE (1024), THRESHOLD (raft
# snapshot_threshold, default 8192), QSG_BIN_DIR (default build/),
# QSG_RUN_DIR (run/forkcost), QSG_PORT_BASE (16800). The group is stopped on
# exit, by PID. Results go to docs/performance.md with the command. Run it
# alone: the loop's share is wall time, and other work on the two cores
# preempts the fork.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export QSG_BIN_DIR=${QSG_BIN_DIR:-$src/build}
export QSG_RUN_DIR=${QSG_RUN_DIR:-$src/run/forkcost}
export QSG_PORT_BASE=${QSG_PORT_BASE:-16800}
export QSG_LOG_LEVEL=${QSG_LOG_LEVEL:-warn}
depth=${DEPTH:-1000000}
size=${SIZE:-1024}
threshold=${THRESHOLD:-8192}
cluster=$src/scripts/cluster
adm=$QSG_BIN_DIR/qsgadm

for b in qsgd qsgadm qsgbench; do
	[ -x "$QSG_BIN_DIR/$b" ] || {
		echo "forkcost.sh: $QSG_BIN_DIR/$b not found (scripts/build, or set QSG_BIN_DIR)" >&2
		exit 1
	}
done
if [ -f "$QSG_RUN_DIR/members" ]; then
	"$cluster" down >/dev/null 2>&1 || true
fi
rm -rf "$QSG_RUN_DIR"

sampler=
teardown() {
	[ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
	[ -f "$QSG_RUN_DIR/members" ] || return 0
	"$cluster" down >/dev/null 2>&1 || true
}
trap teardown EXIT
trap 'exit 130' INT TERM

http_base=$((QSG_PORT_BASE + 90))
"$cluster" up 3 >/dev/null || { echo "forkcost.sh: the group did not start" >&2; exit 1; }
"$cluster" down >/dev/null
for i in 1 2 3; do
	printf '[raft]\nsnapshot_threshold = %d\n[http]\naddress = 127.0.0.1:%d\n' \
		"$threshold" $((http_base + i)) >>"$QSG_RUN_DIR/QM$i.ini"
done
conn=$("$cluster" up 3 | sed -n 's/^QSG_CONN=//p')
[ -n "$conn" ] || { echo "forkcost.sh: the group did not start" >&2; exit 1; }
export QSG_CONN=$conn
for ((i = 0; i < 150; i++)); do
	"$adm" <<<"DEFINE QLOCAL(QSG.FORK) MAXDEPTH(999999999) REPLACE" >/dev/null 2>&1 && break
	sleep 0.1
done

# One line per member and sample: i snapshots_total last_loop_seconds.
python3 - "$http_base" >"$QSG_RUN_DIR/samples" <<'PY' &
import sys, time, urllib.request
base = int(sys.argv[1])
while True:
    for i in (1, 2, 3):
        n = l = None
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % (base + i), timeout=2).read().decode()
            for line in body.splitlines():
                if line.startswith("qsg_snapshots_total "):
                    n = line.split()[1]
                elif line.startswith("qsg_snapshot_last_loop_seconds "):
                    l = line.split()[1]
        except Exception:
            pass
        if n is not None and l is not None:
            print(i, n, l, flush=True)
    time.sleep(0.3)
PY
sampler=$!

out=$("$QSG_BIN_DIR/qsgbench" --queue QSG.FORK --mode put --conns 8 --inflight 8 --size "$size" \
	--persistent --messages "$depth" 2>&1) || { echo "forkcost.sh: qsgbench: $out" >&2; exit 1; }
echo "fill: $(grep '^RESULT' <<<"$out")"
sleep 2
kill "$sampler" 2>/dev/null || true
sampler=

for i in 1 2 3; do
	python3 - "$i" "$QSG_RUN_DIR/samples" <<'PY'
import sys
qm, seen, loops = sys.argv[1], set(), []
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 3 and f[0] == qm and f[1] != "0" and f[1] not in seen:
        seen.add(f[1])
        loops.append(float(f[2]) * 1000)
s = sorted(loops)
mid = s[len(s) // 2] if s else 0
print("QM%s loop_ms: %s | min %.1f median %.1f max %.1f" % (
    qm, " ".join("%.1f" % v for v in loops), s[0] if s else 0, mid, s[-1] if s else 0))
PY
done
for i in 1 2 3; do
	p=$(cat "$QSG_RUN_DIR/QM$i.pid")
	python3 - "$i" "$p" <<'PY'
import re, sys
qm, pid = sys.argv[1], sys.argv[2]
rows, cur = [], None
for line in open("/proc/%s/smaps" % pid):
    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
        cur = {"rss": 0, "ahp": 0, "dc": False}
        rows.append(cur)
    elif line.startswith("Rss:"):
        cur["rss"] = int(line.split()[1])
    elif line.startswith("AnonHugePages:"):
        cur["ahp"] = int(line.split()[1])
    elif line.startswith("VmFlags:"):
        cur["dc"] = " dc" in line
rss = sum(r["rss"] for r in rows)
cp = [r for r in rows if not r["dc"]]
copied = sum(r["rss"] for r in cp)
huge = sum(r["ahp"] for r in cp)
ptes = (copied - huge) // 4 + huge // 2048
print("QM%s rss_MB %d copied_MB %d huge_MB %d ptes %d maps %d" % (
    qm, rss >> 10, copied >> 10, huge >> 10, ptes, len(rows)))
PY
done
