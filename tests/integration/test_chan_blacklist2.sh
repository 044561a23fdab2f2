#!/usr/bin/env bash
# Destination black list under load, across a takeover (issue 11, item 1;
# docs/channels.md "Destination black list"). A shared sender G.TO.R
# (USEDLQ(NO)) carries messages for three queues of the remote queue
# manager: IN exists, MISS1 and MISS2 do not.
#  1. Under load the good messages keep flowing while the two bad
#     destinations are listed in DISPLAY CHSTATUS (BLKCOUNT 2, BLKLIST) and
#     their messages stay on the transmission queue.
#  2. kill -9 of the channel's owner: a peer takes the channel over and the
#     list is still there (it is in the shared status table); good messages
#     put after the takeover arrive, the bad ones stay.
#  3. MISS1 and MISS2 are defined at the remote: everything arrives, exactly
#     once and in order per destination; the list empties.
. "$(dirname "$0")/lib.sh" 24600

line=$("$CLUSTER" up 3 remote | grep '^QSG_REMOTE_CONN=') || fail "cluster up"
G=$("$CLUSTER" conn)
R=${line#QSG_REMOTE_CONN=}
"$QSGADM" -c "$G" >/dev/null <<EOF || fail "group definitions"
DEFINE QLOCAL(QMR) USAGE(XMITQ)
DEFINE QREMOTE(TO.IN) RNAME(IN) RQMNAME(QMR) XMITQ(QMR)
DEFINE QREMOTE(TO.MISS1) RNAME(MISS1) RQMNAME(QMR) XMITQ(QMR)
DEFINE QREMOTE(TO.MISS2) RNAME(MISS2) RQMNAME(QMR) XMITQ(QMR)
DEFINE CHANNEL(G.TO.R) CHLTYPE(SDR) CONNAME('$R') XMITQ(QMR) BATCHSZ(20) HBINT(1) SHORTTMR(1) USEDLQ(NO)
EOF
"$QSGADM" -c "$R" >/dev/null <<EOF || fail "remote definitions"
DEFINE CHANNEL(G.TO.R) CHLTYPE(RCVR)
DEFINE QLOCAL(IN)
EOF

depth() { # CONN QUEUE
	"$QSGADM" -c "$1" --json <<<"DISPLAY QSTATUS($2)" 2>/dev/null |
		sed -n 's/.*"CURDEPTH": *"\([0-9]*\)".*/\1/p'
}
wait_depth() { # CONN QUEUE N SECONDS
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(depth "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
blklist() { # CONN -> the BLKLIST value, whole
	"$QSGADM" -c "$1" --json <<<"DISPLAY CHSTATUS(G.TO.R) BLKLIST" 2>/dev/null |
		python3 -c 'import json,sys
for line in sys.stdin:
    for o in json.loads(line).get("objects",[]):
        print(o.get("BLKLIST","").strip()); sys.exit(0)'
}
wait_blk() { # CONN COUNT SECONDS
	local i n
	for ((i = 0; i < $3 * 10; i++)); do
		read -r n < <(chst "$1" G.TO.R BLKCOUNT)
		[ "$n" = "$2" ] && return 0
		sleep 0.1
	done
	fail "BLKCOUNT is $n, want $2 (BLKLIST: $(blklist "$1"))"
}
wait_running() { # CONN SECONDS [NOT-OWNER] -> prints the owner
	local st owner i
	for ((i = 0; i < $2 * 10; i++)); do
		read -r st owner < <(chst "$1" G.TO.R STATUS OWNER)
		[ "$st" = RUNNING ] && [ "$owner" != "${3:-}" ] && echo "$owner" && return 0
		sleep 0.1
	done
	fail "G.TO.R is $st on $owner, expected RUNNING within $2 s"
}
# ROUND PREFIX: 20 good messages, 2 for MISS1, 2 for MISS2, interleaved.
fill() {
	local i
	for ((i = 1; i <= 10; i++)); do
		printf '%s-good-%03d-%02d\n' "$2" "$1" "$i" "$2" "$1" "$((i + 10))" |
			tee -a "$QSG_RUN_DIR/sent.good" | "$QSGPUT" -c "$G" TO.IN || fail "put good"
		if ((i % 5 == 0)); then
			printf '%s-bad1-%03d-%02d\n' "$2" "$1" "$i" |
				tee -a "$QSG_RUN_DIR/sent.bad1" | "$QSGPUT" -c "$G" TO.MISS1 ||
				fail "put bad1"
			printf '%s-bad2-%03d-%02d\n' "$2" "$1" "$i" |
				tee -a "$QSG_RUN_DIR/sent.bad2" | "$QSGPUT" -c "$G" TO.MISS2 ||
				fail "put bad2"
		fi
	done
}
: >"$QSG_RUN_DIR/sent.good"
: >"$QSG_RUN_DIR/sent.bad1"
: >"$QSG_RUN_DIR/sent.bad2"

start_channel "$G" G.TO.R
owner=$(wait_running "$G" 30)
log "G.TO.R RUNNING on $owner"

# 1. Under load: good messages flow, both bad destinations are listed.
for r in $(seq 1 15); do fill "$r" a; done
ngood=$(wc -l <"$QSG_RUN_DIR/sent.good")
wait_depth "$R" IN "$ngood" 30 || fail "IN depth $(depth "$R" IN), want $ngood"
wait_blk "$G" 2 10
l=$(blklist "$G")
case " $l " in *" QMR/MISS1:2085 "*) ;; *) fail "BLKLIST '$l' lacks QMR/MISS1:2085" ;; esac
case " $l " in *" QMR/MISS2:2085 "*) ;; *) fail "BLKLIST '$l' lacks QMR/MISS2:2085" ;; esac
nbad=$(($(wc -l <"$QSG_RUN_DIR/sent.bad1") + $(wc -l <"$QSG_RUN_DIR/sent.bad2")))
wait_depth "$G" QMR "$nbad" 10 || fail "xmitq depth $(depth "$G" QMR), want the $nbad bad ones"
read -r st < <(chst "$G" G.TO.R STATUS)
[ "$st" = RUNNING ] || fail "channel $st while destinations are listed"
log "$ngood good messages delivered; listed: $l; $nbad messages on the xmitq"
# More load while listed (and across several retries alone): still flowing.
for r in $(seq 16 25); do fill "$r" b; done
sleep 6
ngood=$(wc -l <"$QSG_RUN_DIR/sent.good")
wait_depth "$R" IN "$ngood" 30 || fail "IN depth $(depth "$R" IN), want $ngood (while listed)"
[ "$(depth "$R" MISS1)" = "" ] || fail "MISS1 exists already?"

# 2. Takeover: kill -9 the owner; the list survives.
owner=$(wait_running "$G" 10)
log "kill -9 $owner (the owner)"
rlines=$(wc -l <"$QSG_RUN_DIR/QMR.log")
"$CLUSTER" kill "$owner"
S=$(for q in $(other_than "$owner"); do "$CLUSTER" conn "$q"; done | paste -sd,)
G=$S
owner2=$(wait_running "$S" 60 "$owner")
l2=$(blklist "$S")
read -r n < <(chst "$S" G.TO.R BLKCOUNT)
[ "$n" = 2 ] || fail "after the takeover BLKCOUNT is $n ($l2), want 2"
log "taken over by $owner2; list kept: $l2"
for r in $(seq 26 30); do fill "$r" c; done
ngood=$(wc -l <"$QSG_RUN_DIR/sent.good")
wait_depth "$R" IN "$ngood" 60 || fail "IN depth $(depth "$R" IN), want $ngood (after takeover)"
nbad=$(($(wc -l <"$QSG_RUN_DIR/sent.bad1") + $(wc -l <"$QSG_RUN_DIR/sent.bad2")))
wait_depth "$S" QMR "$nbad" 10 || fail "xmitq depth $(depth "$S" QMR), want $nbad"
wait_blk "$S" 2 1
# The new instance knew the list from its first batch: the receiver refused
# only batches of one message (retries alone) after the takeover. A lost
# list would have sent the bad messages in ordinary batches again.
multi=$(tail -n +"$((rlines + 1))" "$QSG_RUN_DIR/QMR.log" |
	sed -n 's/.*batch \([0-9]*\)\.\.\([0-9]*\) refused.*/\1 \2/p' |
	awk '$1 != $2' | wc -l)
[ "$multi" -eq 0 ] || fail "$multi batches of several messages refused after the takeover"
"$CLUSTER" start "$owner" >/dev/null
G=$("$CLUSTER" conn)

# 3. The missing queues appear: everything arrives, the list empties.
log "defining MISS1 and MISS2 at the remote"
"$QSGADM" -c "$R" >/dev/null <<EOF || fail "define MISS1, MISS2"
DEFINE QLOCAL(MISS1)
DEFINE QLOCAL(MISS2)
EOF
wait_depth "$R" MISS1 "$(wc -l <"$QSG_RUN_DIR/sent.bad1")" 60 ||
	fail "MISS1 depth $(depth "$R" MISS1), want $(wc -l <"$QSG_RUN_DIR/sent.bad1")"
wait_depth "$R" MISS2 "$(wc -l <"$QSG_RUN_DIR/sent.bad2")" 60 ||
	fail "MISS2 depth $(depth "$R" MISS2), want $(wc -l <"$QSG_RUN_DIR/sent.bad2")"
wait_depth "$G" QMR 0 10 || fail "xmitq not empty: $(depth "$G" QMR)"
wait_blk "$G" 0 10
for q in IN MISS1 MISS2; do
	"$QSGGET" -c "$R" "$q" >"$QSG_RUN_DIR/got.$q" || fail "get $q"
done
for p in good:IN bad1:MISS1 bad2:MISS2; do
	log "${p#*:}:"
	check_exactly_once "$QSG_RUN_DIR/sent.${p%%:*}" "$QSG_RUN_DIR/got.${p#*:}"
	diff -q "$QSG_RUN_DIR/sent.${p%%:*}" "$QSG_RUN_DIR/got.${p#*:}" >/dev/null ||
		fail "${p#*:}: not in the order sent"
done
log "exactly once and in order per destination; list empty"
log "ok"
