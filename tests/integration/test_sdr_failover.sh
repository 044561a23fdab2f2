#!/usr/bin/env bash
# A remote queue manager sends into the group through a sender whose CONNAME
# lists every member, QM1 first (issue 11, seed 000 claim 13: any surviving
# member takes the inbound channel). The sender keeps the defaults a new user
# would have (HBINT 300 s, SHORTTMR 60 s, LONGTMR 1200 s), so nothing here
# passes by waiting out a retry interval. One channel per case (its own xmitq
# at the remote and target queue in the group), each starting with the
# remote's CONNAME preference at QM1:
#   A. QM1 paused (SIGSTOP) before the channel starts: the kernel accepts the
#      connection, nobody answers; the START reply timeout moves on;
#   B. QM1 killed (kill -9): the connection is refused; moves on at once;
#   C. QM1 fenced: the START reaches QM1 while it is paused past its lease,
#      QM1 resumes fenced and refuses it (QSG_RC_MEMBER_FENCED); the sender
#      moves on at once instead of retrying QM1;
#   D. the member holding the running inbound channel paused while messages
#      flow: the sender's probe notices a partner that answers nothing, the
#      first retry is immediate and begins past that member.
# In each case all N messages arrive within BOUND seconds, exactly once.
# Not covered here: a partitioned member (needs packet filtering; its
# refusal "no leader" is covered by tests/unit/test_chcore, and the jepsen
# nemesis partition-inbound-owner partitions the member running the inbound
# channel of a remote qsgd: docs/reliability.md).
. "$(dirname "$0")/lib.sh" 20100
N=${SDRFAIL_MESSAGES:-3000}
BOUND=${SDRFAIL_BOUND_S:-30}

since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}'; }
conns_of() { # QM... -> their connection list
	local q
	for q in "$@"; do "$CLUSTER" conn "$q"; done | paste -sd,
}

line=$("$CLUSTER" up 3 remote | grep '^QSG_REMOTE_CONN=') || fail "cluster up"
G=$("$CLUSTER" conn)
R=${line#QSG_REMOTE_CONN=}
[ "${G%%,*}" = "$("$CLUSTER" conn QM1)" ] || fail "QM1 is not first in $G"
log "group $G, remote queue manager QMR at $R"
for side in "$G" "$R"; do
	"$QSGADM" -c "$side" >/dev/null <<<$'DEFINE QLOCAL(DLQ)\nALTER QMGR DEADQ(DLQ)' ||
		fail "DLQ at $side"
done

# setup CASE: sender R.CASE at the remote (CONNAME: every member, QM1 first;
# default timers), its xmitq X.CASE and remote queue TO.CASE; receiver R.CASE
# and target queue IN.CASE in the group; N messages put at the remote
# unless a second argument says "empty".
setup() {
	local c=$1
	"$QSGADM" -c "$G" >/dev/null <<EOF || fail "$c: group definitions"
DEFINE CHANNEL(R.$c) CHLTYPE(RCVR)
DEFINE QLOCAL(IN.$c) MAXDEPTH(1000000)
EOF
	"$QSGADM" -c "$R" >/dev/null <<EOF || fail "$c: remote definitions"
DEFINE QLOCAL(X.$c) USAGE(XMITQ) MAXDEPTH(1000000)
DEFINE QREMOTE(TO.$c) RNAME(IN.$c) RQMNAME(QSG1) XMITQ(X.$c)
DEFINE CHANNEL(R.$c) CHLTYPE(SDR) CONNAME('$G') XMITQ(X.$c)
EOF
	[ "${2:-}" != empty ] || return 0
	seq -f "$c-%g" 1 "$N" >"$QSG_RUN_DIR/sent.$c"
	"$QSGPUT" -c "$R" "TO.$c" <"$QSG_RUN_DIR/sent.$c" >/dev/null || fail "$c: put at the remote"
}

# deliver CASE CONNS T0: get IN.CASE through CONNS until all N arrived (fail
# once BOUND s have passed since T0), then check exactly once.
deliver() {
	local c=$1 conns=$2 t0=$3 got=0 secs
	: >"$QSG_RUN_DIR/got.$c"
	while :; do
		"$QSGGET" -c "$conns" "IN.$c" --syncpoint -w 1 >>"$QSG_RUN_DIR/got.$c" 2>/dev/null ||
			true
		got=$(wc -l <"$QSG_RUN_DIR/got.$c")
		secs=$(since "$t0")
		[ "$got" -lt "$N" ] || break
		if awk -v s="$secs" -v b="$BOUND" 'BEGIN{exit !(s > b)}'; then
			"$QSGADM" -c "$R" <<<"DISPLAY CHSTATUS(R.$c) ALL" || true
			fail "$c: $got of $N messages arrived in ${secs}s"
		fi
	done
	log "$c: all $N messages arrived ${secs}s after the fault"
	echo "$c=${secs}s" >>"$QSG_RUN_DIR/figures"
	sleep 2 # anything duplicated would arrive now
	"$QSGGET" -c "$conns" "IN.$c" --syncpoint -w 1 >>"$QSG_RUN_DIR/got.$c" 2>/dev/null || true
	check_exactly_once "$QSG_RUN_DIR/sent.$c" "$QSG_RUN_DIR/got.$c"
	"$QSGADM" -c "$R" <<<"STOP CHANNEL(R.$c)" >/dev/null || fail "$c: STOP CHANNEL"
}

# QM back in the group and serving (a member declared failed rejoins).
wait_serving() { # QM
	local c i
	c=$("$CLUSTER" conn "$1")
	for ((i = 0; i < 300; i++)); do
		if "$QSGADM" -c "$c" <<<"DISPLAY QLOCAL(DLQ)" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	fail "$1 does not serve again"
}
others=$(conns_of QM2 QM3)

# A. QM1 paused before the start.
setup A
log "A: SIGSTOP QM1, START CHANNEL(R.A) at the remote"
"$CLUSTER" pause QM1
t0=$EPOCHREALTIME
"$QSGADM" -c "$R" <<<"START CHANNEL(R.A)" >/dev/null || fail "A: START CHANNEL"
deliver A "$others" "$t0"
grep -q "QSG5042W.*R\.A.*127.0.0.1:$((QSG_PORT_BASE + 1)): no start reply" "$QSG_RUN_DIR/QMR.log" ||
	fail "A: the remote did not leave QM1 for its START reply timeout"
"$CLUSTER" resume QM1
wait_serving QM1

# B. QM1 killed.
setup B
log "B: kill -9 QM1, START CHANNEL(R.B) at the remote"
"$CLUSTER" kill QM1
t0=$EPOCHREALTIME
"$QSGADM" -c "$R" <<<"START CHANNEL(R.B)" >/dev/null || fail "B: START CHANNEL"
deliver B "$others" "$t0"
"$CLUSTER" start QM1
wait_serving QM1
sleep 2

# C. QM1 fenced: the START waits in its socket while it is paused past its
# lease; resumed, its lease timer fences it before it reads the START.
setup C
log "C: SIGSTOP QM1, START CHANNEL(R.C), resume QM1 fenced after 2.5 s"
"$CLUSTER" pause QM1
t0=$EPOCHREALTIME
"$QSGADM" -c "$R" <<<"START CHANNEL(R.C)" >/dev/null || fail "C: START CHANNEL"
sleep 2.5
"$CLUSTER" resume QM1
deliver C "$others" "$t0"
grep -q "QSG5042W.*R\.C.*127.0.0.1:$((QSG_PORT_BASE + 1)): start refused: QSG_RC_MEMBER_FENCED" \
	"$QSG_RUN_DIR/QMR.log" || fail "C: QM1 did not refuse the START as fenced"
grep -q "QSG5054I.*R\.C.*refused: member QM1 is fenced" "$QSG_RUN_DIR/QM1.log" ||
	fail "C: QM1 did not log its refusal"
wait_serving QM1
sleep 2

# D. The member holding the running inbound channel paused under load.
setup D empty
"$QSGADM" -c "$R" <<<"START CHANNEL(R.D)" >/dev/null || fail "D: START CHANNEL"
for ((i = 0; i < 100; i++)); do
	read -r st < <(chst "$R" R.D STATUS)
	[ "$st" = RUNNING ] && break
	sleep 0.1
done
[ "$st" = RUNNING ] || fail "D: R.D not running"
read -r inb < <(chst "$G" R.D OWNER)
log "D: R.D running into $inb; messages flowing, then SIGSTOP $inb"
python3 -c 'import sys,time
n=int(sys.argv[1])
t0=time.time()
for i in range(1,n+1):
    print(f"D-{i}",flush=True)
    d=t0+i/600-time.time()
    if d>0: time.sleep(d)' "$N" | tee "$QSG_RUN_DIR/sent.D" |
	"$QSGPUT" -c "$R" TO.D >"$QSG_RUN_DIR/put.D.out" 2>&1 &
pp=$!
extra_pids+=($pp)
sleep 1.5
"$CLUSTER" pause "$inb"
t0=$EPOCHREALTIME
wait "$pp" || { cat "$QSG_RUN_DIR/put.D.out"; fail "D: producer failed"; }
mapfile -t rest < <(other_than "$inb")
deliver D "$(conns_of "${rest[@]}")" "$t0"
grep -q "QSG5032W.*R\.D.*partner not responding.*attempt 1 failed.*retry in 0.2 s" "$QSG_RUN_DIR/QMR.log" ||
	fail "D: no immediate retry after the partner stopped answering"
"$CLUSTER" resume "$inb"
wait_serving "$inb"

cat "$QSG_RUN_DIR/figures"
log "ok"
