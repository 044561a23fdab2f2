#!/usr/bin/env bash
# bench/tls.sh (docs/performance.md "TLS cost"): the cost of TLS on every
# link (issue 12 item 6). Two fresh 3-member groups one after the other, the
# same except for `scripts/cluster up 3 tls` (clients, forwarding and Raft in
# TLS), REPS times each, alternating which goes first. Each measures through
# libqsg (qsgbench --lib: the raw mode speaks plaintext TCP only): put 1 KiB
# persistent with 1 in flight, 8 connections x 8 in flight, then the drain
# of what that put (get 8 x 8). Prints every RESULT line and the medians.
# Run alone: flock /tmp/qsg-heavy.lock env SECS=10 REPS=3 bench/tls.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
export QSG_BIN_DIR=${QSG_BIN_DIR:-$src/build} QSG_PORT_BASE=${QSG_PORT_BASE:-21800} QSG_LOG_LEVEL=warn
B=$QSG_BIN_DIR
export LD_LIBRARY_PATH=$B/.libs
S=${SECS:-10}
REPS=${REPS:-3}
base=${QSG_RUN_DIR:-/tmp/qsg-tlsbench}
R=$base.results
: >"$R"
cluster=$src/scripts/cluster
trap 'QSG_RUN_DIR=$base/run "$cluster" down >/dev/null 2>&1 || true' EXIT

one() { # plain|tls
	local kind=$1 arg=
	[ "$kind" = tls ] && arg=tls
	export QSG_RUN_DIR=$base/run
	"$cluster" down >/dev/null 2>&1 || true
	rm -rf "$QSG_RUN_DIR"
	unset QSG_TLS_CA QSG_TLS_CERT QSG_TLS_KEY
	"$cluster" up 3 $arg >/dev/null
	eval "$("$cluster" env)"
	export QSG_CONN
	"$B/qsgadm" <<<"DEFINE QLOCAL(QSG.BENCH) MAXDEPTH(10000000) REPLACE" >/dev/null
	sleep 3
	"$B/qsgbench" --lib --conns 1 --inflight 1 --size 1024 --persistent --seconds "$S" |
		grep RESULT | sed "s/^/$kind put-1 /" | tee -a "$R" || true
	"$B/qsgbench" --lib --conns 8 --inflight 8 --size 1024 --persistent --seconds "$S" |
		grep RESULT | sed "s/^/$kind put-64 /" | tee -a "$R" || true
	"$B/qsgbench" --lib --mode get --conns 8 --inflight 8 --seconds "$S" |
		grep RESULT | sed "s/^/$kind get-64 /" | tee -a "$R" || true
	"$cluster" down >/dev/null 2>&1 || true
}

for rep in $(seq 1 "$REPS"); do
	if [ $((rep % 2)) -eq 1 ]; then one plain; one tls; else one tls; one plain; fi
done
echo "medians of $REPS (msgs/s):"
for run in put-1 put-64 get-64; do
	for kind in plain tls; do
		grep "^$kind $run " "$R" | sed 's/.* rate=\([0-9.]*\).*/\1/' | sort -n |
			awk -v k="$kind $run" '{ r[NR] = $1 } END { if (NR) printf "%s %.0f (%d runs)\n", k, r[int((NR + 1) / 2)], NR }'
	done
done
