#!/usr/bin/env bash
# bench/libqsg.sh (libqsg section of docs/performance.md): qsgbench raw vs --lib
# on one connection at 1, 8, 64 in flight, then qsgput/qsgget of 1M lines.
# Run alone: flock /tmp/qsg-heavy.lock env SECS=5 bench/libqsg.sh
# raw vs --lib qsgbench, then qsgput/qsgget of 1M lines; one fresh group.
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
for n in 1 8 64; do
  for m in raw lib; do
    extra=; [ $m = lib ] && extra=--lib
    "$B/qsgbench" --conns 1 --inflight $n --seconds $S $extra | grep RESULT | sed "s/^/$m /" || true
  done
done
for m in raw lib; do
  extra=; [ $m = lib ] && extra=--lib
  "$B/qsgbench" --conns 1 --inflight 64 --messages 100000 >/dev/null || true # fill
  "$B/qsgbench" --mode get --conns 1 --inflight 64 $extra | grep RESULT | sed "s/^/$m /" || true
done
for m in raw lib; do
  extra=; [ $m = lib ] && extra=--lib
  "$B/qsgbench" --conns 8 --inflight 8 --seconds $S $extra | grep RESULT | sed "s/^/$m /" || true
done
"$B/qsgadm" <<<"CLEAR QLOCAL(QSG.BENCH)" >/dev/null || true
seq 1 1000000 > "$QSG_RUN_DIR/in"
/usr/bin/time -f "qsgput 1M: %e s" "$B/qsgput" T.TOOLS < "$QSG_RUN_DIR/in"
/usr/bin/time -f "qsgget 1M: %e s" "$B/qsgget" T.TOOLS > "$QSG_RUN_DIR/out"
wc -l < "$QSG_RUN_DIR/out"
cmp "$QSG_RUN_DIR/in" "$QSG_RUN_DIR/out" && echo "same lines, same order"
