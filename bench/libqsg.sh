#!/usr/bin/env bash
# bench/libqsg.sh (libqsg section of docs/performance.md): qsgbench raw vs
# --lib on one connection at 1, 8, 64 in flight, puts and gets, REPS times
# each (raw and lib alternate, the order swapped every repetition), then
# 8 connections x 8 in flight, then qsgput/qsgget of 1M lines. Prints every
# RESULT line and a table of medians. One fresh group of 3 on ports
# 21600.. (run directory QSG_RUN_DIR, default /tmp/qsg-libbench).
# Run alone: flock /tmp/qsg-heavy.lock env SECS=5 REPS=3 bench/libqsg.sh
# (ONLY=tools: just the qsgput/qsgget part.)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
export QSG_BIN_DIR=$src/build QSG_RUN_DIR=${QSG_RUN_DIR:-/tmp/qsg-libbench} QSG_PORT_BASE=21600 QSG_LOG_LEVEL=warn
B=$QSG_BIN_DIR; export LD_LIBRARY_PATH=$B/.libs
rm -rf "$QSG_RUN_DIR"
trap '"$src/scripts/cluster" down >/dev/null 2>&1 || true' EXIT
export QSG_CONN=$("$src/scripts/cluster" up 3 | sed -n 's/^QSG_CONN=//p')
"$B/qsgadm" <<<"DEFINE QLOCAL(QSG.BENCH) MAXDEPTH(10000000) REPLACE" >/dev/null
"$B/qsgadm" <<<"DEFINE QLOCAL(T.TOOLS) MAXDEPTH(10000000) REPLACE" >/dev/null
sleep 3
S=${SECS:-5}
REPS=${REPS:-3}
R=$QSG_RUN_DIR/results
: >"$R"
row() { # MODE(put|get) INFLIGHT raw|lib
	local extra=
	[ "$3" = lib ] && extra=--lib
	"$B/qsgbench" --mode "$1" --conns 1 --inflight "$2" --seconds "$S" $extra |
		grep RESULT | sed "s/^/$3 /" | tee -a "$R" || true
}
clear_q() { "$B/qsgadm" <<<"CLEAR QLOCAL(QSG.BENCH)" >/dev/null || true; }
[ "${ONLY:-}" = tools ] && REPS=0
for rep in $(seq 1 "$REPS"); do
	order="raw lib"; [ $((rep % 2)) -eq 0 ] && order="lib raw"
	for n in 1 8 64; do
		for m in $order; do row put "$n" "$m"; done
		clear_q
	done
	for n in 1 8 64; do
		# Enough messages that the get run does not empty the queue.
		fill=$((n == 1 ? 4000 * S : n == 8 ? 15000 * S : 40000 * S))
		for m in $order; do
			clear_q
			"$B/qsgbench" --conns 1 --inflight 64 --messages "$fill" >/dev/null || true
			row get "$n" "$m"
		done
	done
done
clear_q
for m in raw lib; do
	[ "${ONLY:-}" = tools ] && break
	extra=; [ $m = lib ] && extra=--lib
	"$B/qsgbench" --conns 8 --inflight 8 --seconds "$S" $extra | grep RESULT | sed "s/^/$m /" || true
done
echo "medians of $REPS (msgs/s, p50 us):"
for mode in put get; do
	for n in 1 8 64; do
		for m in raw lib; do
			grep "^$m .*mode=$mode conns=1 inflight=$n " "$R" |
				sed 's/.* rate=\([0-9.]*\) p50_us=\([0-9]*\).*/\1 \2/' | sort -n |
				awk -v k="$mode $n $m" '{ r[NR] = $1; p[NR] = $2 } END {
					if (NR) printf "%s rate %.0f p50 %s (p50 of that run; %s runs)\n", k, r[int((NR + 1) / 2)], p[int((NR + 1) / 2)], NR }' || true
		done
	done
done
clear_q
seq 1 1000000 >"$QSG_RUN_DIR/in"
/usr/bin/time -f "qsgput 1M: %e s" "$B/qsgput" T.TOOLS <"$QSG_RUN_DIR/in"
/usr/bin/time -f "qsgget 1M: %e s" "$B/qsgget" T.TOOLS >"$QSG_RUN_DIR/out"
wc -l <"$QSG_RUN_DIR/out"
cmp "$QSG_RUN_DIR/in" "$QSG_RUN_DIR/out" && echo "same lines, same order"
