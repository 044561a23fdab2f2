#!/usr/bin/env bash
# A stopped channel stays stopped through the death of its owner (issue 11,
# item 8; docs/channels.md "Recovery": STOPPED is never recovered). A shared
# sender G.TO.R runs to a remote queue manager; STOP CHANNEL; kill -9 the
# member that owned it (and the leader too, if that was another member). The
# survivors must leave it STOPPED: no instance starts anywhere, messages put
# meanwhile stay on the transmission queue. START CHANNEL then delivers all
# of them, exactly once.
. "$(dirname "$0")/lib.sh" 24200

wait_status() { # CONN CH STATUS SECONDS -> prints the owner
	local st owner i
	for ((i = 0; i < $4 * 10; i++)); do
		read -r st owner < <(chst "$1" "$2" STATUS OWNER)
		[ "$st" = "$3" ] && echo "$owner" && return 0
		sleep 0.1
	done
	fail "$2 is $st on $owner, expected $3 within $4 s"
}

line=$("$CLUSTER" up 3 remote | grep '^QSG_REMOTE_CONN=') || fail "cluster up"
G=$("$CLUSTER" conn)
R=${line#QSG_REMOTE_CONN=}
"$QSGADM" -c "$G" >/dev/null <<EOF || fail "group definitions"
DEFINE QLOCAL(QMR) USAGE(XMITQ)
DEFINE QREMOTE(TO.R) RNAME(IN) RQMNAME(QMR) XMITQ(QMR)
DEFINE CHANNEL(G.TO.R) CHLTYPE(SDR) CONNAME('$R') XMITQ(QMR) HBINT(1) SHORTTMR(1) LONGTMR(2)
EOF
"$QSGADM" -c "$R" >/dev/null <<EOF || fail "remote definitions"
DEFINE CHANNEL(G.TO.R) CHLTYPE(RCVR)
DEFINE QLOCAL(IN)
EOF
start_channel "$G" G.TO.R
owner=$(wait_status "$G" G.TO.R RUNNING 30)
seq 1 100 | sed 's/^/a-/' >"$QSG_RUN_DIR/sent"
"$QSGPUT" -c "$G" TO.R <"$QSG_RUN_DIR/sent" || fail "put a"
log "G.TO.R RUNNING on $owner; STOP CHANNEL"
"$QSGADM" -c "$G" >/dev/null <<<"STOP CHANNEL(G.TO.R)" || fail "STOP CHANNEL"
wait_status "$G" G.TO.R STOPPED 20 >/dev/null

# Messages put while it is stopped stay on the transmission queue.
seq 1 100 | sed 's/^/b-/' | tee -a "$QSG_RUN_DIR/sent" | "$QSGPUT" -c "$G" TO.R || fail "put b"

victims=$owner
leader=$("$CLUSTER" leader)
[ "$leader" = "$owner" ] || victims="$owner $leader"
for v in $victims; do
	log "kill -9 $v"
	"$CLUSTER" kill "$v"
	S=$(for q in $(other_than "$v"); do "$CLUSTER" conn "$q"; done | paste -sd,)
	# Past the lease (1 s) and any recovery the two survivors would make.
	sleep 5
	read -r st owner2 < <(chst "$S" G.TO.R STATUS OWNER)
	[ "$st" = STOPPED ] || fail "after the death of $v G.TO.R is $st on $owner2, want STOPPED"
	"$CLUSTER" start "$v" >/dev/null
	sleep 3
done
n=$(cat "$QSG_RUN_DIR"/QM[123].log | grep -c 'QSG5040I.*channel G.TO.R: starting instance' || true)
[ "$n" -eq 1 ] || fail "$n instances of G.TO.R started in all, want 1 (the one before STOP)"
log "still STOPPED after the death of $victims; 1 instance in all"

log "START CHANNEL delivers everything"
"$QSGADM" -c "$G" >/dev/null <<<"START CHANNEL(G.TO.R)" || fail "START CHANNEL again"
wait_status "$G" G.TO.R RUNNING 30 >/dev/null
"$QSGGET" -c "$R" IN -n 200 -w 10 >"$QSG_RUN_DIR/got" || fail "get at the remote"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"
log "ok"
