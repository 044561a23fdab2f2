#!/usr/bin/env bash
# Group-wide retry (issue 11 item 3, docs/channels.md "Retry across the
# group"): a sender to a partner that refuses every connection, with
# SHORTRTY(3) SHORTTMR(6) LONGRTY(0), is retried across the members. Its
# owner is killed (kill -9) while it waits to retry: a peer takes the
# waiting entry over, with its count and retry time, and goes on. After
# 1 + SHORTRTY attempts in all (not per member) the channel is STOPPED;
# DISPLAY CHSTATUS shows RETRIES(4) SHORTRTS(0) LONGRTS(0); the member logs
# hold exactly 4 instances and 4 recorded failures, on at least two
# members. The killed member restarts and the channel stays STOPPED with
# its count. START CHANNEL begins a new count.
# Ports 20900-21050 (the partner's port BASE+60 has no listener).
. "$(dirname "$0")/lib.sh" 20900
SHORTRTY=3
SHORTTMR=6
ATTEMPTS=$((1 + SHORTRTY))
DEAD=127.0.0.1:$((QSG_PORT_BASE + 60))

cluster_up 3
G=$QSG_CONN
"$QSGADM" -c "$G" >"$QSG_RUN_DIR/defs.out" <<-DEFS || fail "definitions: $(cat "$QSG_RUN_DIR/defs.out")"
	DEFINE QLOCAL(X.RTY) USAGE(XMITQ)
	DEFINE CHANNEL(RTY) CHLTYPE(SDR) CONNAME('$DEAD') XMITQ(X.RTY) SHORTRTY($SHORTRTY) SHORTTMR($SHORTTMR) LONGRTY(0)
DEFS
start_channel "$G" RTY "$QSG_RUN_DIR/start.out"
log "RTY to $DEAD (nothing listens): SHORTRTY($SHORTRTY) SHORTTMR($SHORTTMR) LONGRTY(0)"

# Wait for the second failure to be recorded, then kill the owner while it
# waits to retry.
victim=
for _ in $(seq 1 300); do
	read -r st owner n < <(chst "$G" RTY STATUS OWNER RETRIES)
	if [ "$st" = RETRYING ] && [ "$n" != - ] && [ "$n" -ge 2 ]; then
		victim=$owner
		break
	fi
	sleep 0.1
done
[ -n "$victim" ] || fail "no second recorded failure: $(chst "$G" RTY STATUS OWNER RETRIES REASON)"
read -r n_at_kill nxt < <(chst "$G" RTY RETRIES NXTRETRY)
log "RETRYING on $victim after $n_at_kill failed attempts (next in $nxt s): kill -9 $victim"
"$CLUSTER" kill "$victim"
S=$(for q in $(other_than "$victim"); do "$CLUSTER" conn "$q"; done | paste -sd,)

# The survivors go on with the group's count and stop the channel.
deadline=$((SECONDS + 60))
while :; do
	read -r st owner n srts lrts < <(chst "$S" RTY STATUS OWNER RETRIES SHORTRTS LONGRTS)
	[ "$st" = STOPPED ] && break
	[ $SECONDS -lt $deadline ] || fail "not STOPPED within 60 s: $st on $owner, RETRIES($n)"
	sleep 0.2
done
reason=$(chst "$S" RTY REASON)
log "STOPPED on $owner: RETRIES($n) SHORTRTS($srts) LONGRTS($lrts) REASON($reason)"
[ "$n" = "$ATTEMPTS" ] || fail "RETRIES($n), want $ATTEMPTS"
[ "$srts" = 0 ] && [ "$lrts" = 0 ] || fail "SHORTRTS($srts) LONGRTS($lrts), want 0 0"
[ "$reason" = "retries exhausted after $ATTEMPTS attempts" ] || fail "REASON($reason)"
[ "$owner" != "$victim" ] || fail "stopped by the killed member?"
if grep -q "channel RTY .*waiting to retry: moved from $victim" "$QSG_RUN_DIR"/QM*.log; then
	log "the wait moved from $victim to a survivor (retry time kept)"
else
	log "recovered after the retry time: restarted at once by a survivor"
fi

# The member logs: one instance per attempt and one recorded failure per
# attempt, in all, on at least two members (the victim and a survivor).
sleep 1
inst=0 fails=0 where=0
for f in "$QSG_RUN_DIR"/QM*.log; do
	i=$(grep -c 'channel RTY: starting instance' "$f" || true)
	k=$(grep -c 'QSG5032W.*channel RTY \|QSG5031W.*channel RTY:' "$f" || true)
	log "$(basename "$f" .log): $i instances, $k failures recorded"
	inst=$((inst + i))
	fails=$((fails + k))
	[ "$i" -eq 0 ] || where=$((where + 1))
done
[ "$inst" -eq "$ATTEMPTS" ] || fail "$inst instances, want $ATTEMPTS"
[ "$fails" -eq "$ATTEMPTS" ] || fail "$fails failures recorded, want $ATTEMPTS"
[ "$where" -ge 2 ] || fail "attempts on $where member(s), want at least 2"
grep -q 'channel RTY: starting instance' "$QSG_RUN_DIR/$victim.log" ||
	fail "no attempt on the killed member $victim"

# The killed member restarts: the channel stays STOPPED, its count kept.
"$CLUSTER" start "$victim" >/dev/null
sleep 3
read -r st n < <(chst "$("$CLUSTER" conn "$victim")" RTY STATUS RETRIES)
[ "$st" = STOPPED ] && [ "$n" = "$ATTEMPTS" ] ||
	fail "after $victim restarted: $st RETRIES($n), want STOPPED RETRIES($ATTEMPTS)"
log "$victim restarted: STOPPED, RETRIES($n)"

# START CHANNEL begins a new count.
"$QSGADM" -c "$G" >/dev/null <<<"START CHANNEL(RTY)" || fail "START CHANNEL"
read -r st n < <(chst "$G" RTY STATUS RETRIES)
[ "$n" -le 1 ] || fail "after START CHANNEL: $st RETRIES($n), want a new count"
log "START CHANNEL: $st RETRIES($n)"
"$QSGADM" -c "$G" >/dev/null <<<"STOP CHANNEL(RTY)" || fail "STOP CHANNEL"
log "PASS"
