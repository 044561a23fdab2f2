#!/usr/bin/env bash
# Shared channels end to end: a 3-member group and a remote queue manager
# (a qsgd group of one), sequence-numbered persistent messages both ways
# (group -> remote through the shared sender channel G.TO.R; remote -> group
# into the group port through R.TO.G). During the flow:
#   1. kill -9 the member that owns G.TO.R;
#   2. STOP CHINIT on the owner (its queue manager keeps running);
#   3. SIGSTOP the owner past its lease, resume it afterwards;
#   4. kill -9 the member holding the inbound R.TO.G connection;
#   5. the status table out of reach: the two other members paused, so the
#      owner has no quorum (its lease fences it and ends its instances);
#   6. cut the connection to the remote (kill -9 and restart it).
# After each the channel runs again (on a surviving member for 1-4) and at
# the end each side holds every message exactly once.
. "$(dirname "$0")/lib.sh" 17900
N=${CHANNEL_MESSAGES:-6000}
RATE=${CHANNEL_RATE:-250}

# Wait until CH (seen through CONN) is RUNNING with an epoch above $3 on an
# owner other than $4 ("" = any); prints "owner epoch seconds".
wait_running() {
	local conn=$1 ch=$2 min_epoch=$3 not_owner=$4 t0 st owner epoch i
	t0=$EPOCHREALTIME
	for ((i = 0; i < 300; i++)); do
		read -r st owner epoch < <(chst "$conn" "$ch" STATUS OWNER EPOCH)
		if [ "$st" = RUNNING ] && [ "$epoch" != - ] && [ "$epoch" -gt "$min_epoch" ] &&
			[ "$owner" != "$not_owner" ]; then
			echo "$owner $epoch $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# A paced producer: N lines "PREFIX-i" at RATE per second into qsgput.
pace() { # N RATE PREFIX
	python3 -c 'import sys,time
n,rate,prefix=int(sys.argv[1]),float(sys.argv[2]),sys.argv[3]
t0=time.time()
for i in range(1,n+1):
    print(f"{prefix}-{i}",flush=True)
    d=t0+i/rate-time.time()
    if d>0: time.sleep(d)' "$@"
}

line=$("$CLUSTER" up 3 remote | grep '^QSG_REMOTE_CONN=') || fail "cluster up"
G=$("$CLUSTER" conn)
R=${line#QSG_REMOTE_CONN=}
log "group $G, remote queue manager QMR at $R"

# LONGTMR(2): the retry count is group-wide (SHORTRTY 10 at SHORTTMR 1 lasts
# ~11 s); a remote that takes longer to restart (25 s under ASan) must not
# leave the channel waiting the default LONGTMR of 1200 s.
"$QSGADM" -c "$G" >/dev/null <<EOF || fail "group definitions"
DEFINE QLOCAL(QMR) USAGE(XMITQ) MAXDEPTH(1000000)
DEFINE QREMOTE(TO.R) RNAME(IN) RQMNAME(QMR) XMITQ(QMR)
DEFINE CHANNEL(G.TO.R) CHLTYPE(SDR) CONNAME('$R') XMITQ(QMR) HBINT(1) SHORTTMR(1) LONGTMR(2) BATCHSZ(50)
DEFINE CHANNEL(R.TO.G) CHLTYPE(RCVR)
DEFINE QLOCAL(FROM.R) MAXDEPTH(1000000)
DEFINE QLOCAL(DLQ)
ALTER QMGR DEADQ(DLQ)
EOF
"$QSGADM" -c "$R" >/dev/null <<EOF || fail "remote definitions"
DEFINE QLOCAL(QSG1) USAGE(XMITQ) MAXDEPTH(1000000)
DEFINE QREMOTE(TO.G) RNAME(FROM.R) RQMNAME(QSG1) XMITQ(QSG1)
DEFINE CHANNEL(R.TO.G) CHLTYPE(SDR) CONNAME('$G') XMITQ(QSG1) HBINT(1) SHORTTMR(1) LONGTMR(2) BATCHSZ(50)
DEFINE CHANNEL(G.TO.R) CHLTYPE(RCVR)
DEFINE QLOCAL(IN) MAXDEPTH(1000000)
DEFINE QLOCAL(DLQ)
ALTER QMGR DEADQ(DLQ)
EOF
"$QSGADM" -c "$G" <<<"START CHANNEL(G.TO.R)" >/dev/null || fail "start G.TO.R"
"$QSGADM" -c "$R" <<<"START CHANNEL(R.TO.G)" >/dev/null || fail "start R.TO.G"
read -r owner epoch secs < <(wait_running "$G" G.TO.R 0 "") || fail "G.TO.R did not start"
log "G.TO.R running on $owner (epoch $epoch)"
wait_running "$R" R.TO.G 0 "" >/dev/null || fail "R.TO.G did not start"

# Producers (libqsg reconnects and deduplicates across member failures).
pace "$N" "$RATE" g | tee "$QSG_RUN_DIR/sent.g" | "$QSGPUT" -c "$G" TO.R \
	>"$QSG_RUN_DIR/put.g.out" 2>&1 &
pg=$!
extra_pids+=($pg)
pace "$N" "$RATE" r | tee "$QSG_RUN_DIR/sent.r" | "$QSGPUT" -c "$R" TO.G \
	>"$QSG_RUN_DIR/put.r.out" 2>&1 &
pr=$!
extra_pids+=($pr)
sleep 2

# 1. kill -9 the owner.
read -r owner epoch < <(chst "$G" G.TO.R OWNER EPOCH)
log "1: kill -9 $owner (owner of G.TO.R, epoch $epoch)"
"$CLUSTER" kill "$owner"
read -r nowner nepoch secs < <(wait_running "$G" G.TO.R "$epoch" "$owner") ||
	fail "G.TO.R not recovered after killing $owner"
log "1: G.TO.R running on $nowner (epoch $nepoch) ${secs}s after the kill"
echo "takeover_kill_s=$secs" >>"$QSG_RUN_DIR/figures"
"$CLUSTER" start "$owner"
sleep 2

# 2. STOP CHINIT on the owner only.
read -r owner epoch < <(chst "$G" G.TO.R OWNER EPOCH)
oc=$("$CLUSTER" conn "$owner")
log "2: STOP CHINIT on $owner (owner of G.TO.R, epoch $epoch)"
"$QSGADM" -c "$oc" <<<"STOP CHINIT" >/dev/null || fail "STOP CHINIT on $owner"
read -r nowner nepoch secs < <(wait_running "$G" G.TO.R "$epoch" "$owner") ||
	fail "G.TO.R not recovered after STOP CHINIT on $owner"
log "2: G.TO.R running on $nowner (epoch $nepoch) ${secs}s later; $owner still serves:"
"$QSGADM" -c "$oc" <<<"PING QMGR" >/dev/null || fail "$owner stopped serving"
"$QSGADM" -c "$oc" <<<"START CHINIT" >/dev/null || fail "START CHINIT on $owner"
sleep 2

# 3. SIGSTOP the owner past its lease, then resume it.
read -r owner epoch < <(chst "$G" G.TO.R OWNER EPOCH)
log "3: SIGSTOP $owner (owner of G.TO.R, epoch $epoch)"
"$CLUSTER" pause "$owner"
others=$(other_than "$owner" | while read -r q; do "$CLUSTER" conn "$q"; done | paste -sd,)
read -r nowner nepoch secs < <(wait_running "$others" G.TO.R "$epoch" "$owner") ||
	fail "G.TO.R not recovered while $owner was paused"
log "3: G.TO.R running on $nowner (epoch $nepoch) ${secs}s after the pause; resume $owner"
sleep 1
"$CLUSTER" resume "$owner"
sleep 3

# 4. kill -9 the member holding the inbound R.TO.G connection.
read -r inb iepoch < <(chst "$G" R.TO.G OWNER EPOCH)
[ "$inb" != - ] || fail "no inbound status entry for R.TO.G"
log "4: kill -9 $inb (holds inbound R.TO.G, epoch $iepoch)"
"$CLUSTER" kill "$inb"
others=$(other_than "$inb" | while read -r q; do "$CLUSTER" conn "$q"; done | paste -sd,)
read -r ninb niepoch secs < <(wait_running "$others" R.TO.G "$iepoch" "$inb") ||
	fail "R.TO.G not re-established after killing $inb"
log "4: inbound R.TO.G now on $ninb (epoch $niepoch) ${secs}s after the kill"
"$CLUSTER" start "$inb"
sleep 2

# 5. no quorum for the owner: pause both other members for 3 s.
read -r owner epoch < <(chst "$G" G.TO.R OWNER EPOCH)
log "5: pause every member but $owner (owner of G.TO.R, epoch $epoch) for 3 s"
for q in $(other_than "$owner"); do "$CLUSTER" pause "$q"; done
sleep 3
for q in $(other_than "$owner"); do "$CLUSTER" resume "$q"; done
read -r nowner nepoch secs < <(wait_running "$G" G.TO.R "$epoch" "") ||
	fail "G.TO.R not running again after quorum came back"
log "5: G.TO.R running on $nowner (epoch $nepoch) ${secs}s after quorum came back"
sleep 2

# 6. cut the connection to the remote.
read -r owner epoch < <(chst "$G" G.TO.R OWNER EPOCH)
wait "$pr" || { cat "$QSG_RUN_DIR/put.r.out"; fail "remote producer failed"; }
log "6: kill -9 the remote queue manager QMR and restart it"
"$CLUSTER" kill QMR
sleep 1
"$CLUSTER" start QMR
read -r nowner nepoch secs < <(wait_running "$G" G.TO.R "$epoch" "") ||
	fail "G.TO.R not running again after the remote came back"
log "6: G.TO.R running on $nowner (epoch $nepoch)"

wait "$pg" || { cat "$QSG_RUN_DIR/put.g.out"; fail "group producer failed"; }
log "producers done; draining"
# Drain both sides until every message has arrived (or 60 s pass).
: >"$QSG_RUN_DIR/got.g"
: >"$QSG_RUN_DIR/got.r"
for ((i = 0; i < 60; i++)); do
	"$QSGGET" -c "$R" IN --syncpoint -w 1 >>"$QSG_RUN_DIR/got.r" || true
	"$QSGGET" -c "$G" FROM.R --syncpoint -w 1 >>"$QSG_RUN_DIR/got.g" || true
	if [ "$(wc -l <"$QSG_RUN_DIR/got.r")" -ge "$N" ] &&
		[ "$(wc -l <"$QSG_RUN_DIR/got.g")" -ge "$N" ]; then
		break
	fi
done
sleep 2 # anything duplicated would arrive now
"$QSGGET" -c "$R" IN --syncpoint -w 1 >>"$QSG_RUN_DIR/got.r" || true
"$QSGGET" -c "$G" FROM.R --syncpoint -w 1 >>"$QSG_RUN_DIR/got.g" || true
log "group -> remote (G.TO.R):"
check_exactly_once "$QSG_RUN_DIR/sent.g" "$QSG_RUN_DIR/got.r"
log "remote -> group (R.TO.G):"
check_exactly_once "$QSG_RUN_DIR/sent.r" "$QSG_RUN_DIR/got.g"
for side in "$G" "$R"; do
	d=$("$QSGADM" -c "$side" --json <<<"DISPLAY QSTATUS(DLQ)" |
		sed -n 's/.*"CURDEPTH": *"\([0-9]*\)".*/\1/p')
	[ "$d" = 0 ] || fail "dead-letter queue at $side holds $d messages"
done
read -r indoubt < <(chst "$G" G.TO.R INDOUBT)
log "G.TO.R in doubt: $indoubt"
cat "$QSG_RUN_DIR/figures"
log "ok"
