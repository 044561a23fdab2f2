#!/usr/bin/env bash
# Asynchronous consume OUTSIDE syncpoint (libqsg async.c through qsgget,
# docs/client.md "Asynchronous consume") across member kills: a consumer
# with 64 GETs read ahead is connected to a member that is killed -9 while
# it drains, then (after it moved) the leader is killed -9. The documented
# rule: nothing is lost; a message is delivered twice only when the
# connection broke after its callback ran and before the batch's commit,
# and the later delivery has a higher backout count; so at most
# read_ahead messages per broken connection come twice.
. "$(dirname "$0")/lib.sh" 22400
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.ACONS) QSGDISP(SHARED) MAXDEPTH(1000000)" >/dev/null || fail "define"
N=${ASYNC_MESSAGES:-150000}
RA=64
seq 1 "$N" | sed 's/^/c-/' >"$QSG_RUN_DIR/sent"
"$QSGPUT" T.ACONS <"$QSG_RUN_DIR/sent" || fail "put"
leader=$("$CLUSTER" leader)
victim=$(other_than "$leader" | sed -n 1p)
log "leader $leader; the consumer starts on $victim"
: >"$QSG_RUN_DIR/got.1"
timeout 300 "$QSGGET" -c "$("$CLUSTER" conn "$victim"),$QSG_CONN" T.ACONS --read-ahead $RA -w 20 \
	--backout-count >"$QSG_RUN_DIR/got.1" 2>"$QSG_RUN_DIR/get1.err" &
g1=$!
extra_pids+=($g1)
# Kill when the consumer is well under way (and far from done).
for _ in $(seq 1 100); do
	[ "$(wc -l <"$QSG_RUN_DIR/got.1")" -ge 3000 ] && break
	sleep 0.1
done
n1=$(wc -l <"$QSG_RUN_DIR/got.1")
[ "$n1" -lt "$N" ] || fail "the consumer finished before the kill"
log "kill -9 $victim (the consumer's member) after $n1 messages"
"$CLUSTER" kill "$victim"
sleep 3
"$CLUSTER" start "$victim"
n2=$(wc -l <"$QSG_RUN_DIR/got.1")
[ "$n2" -gt "$n1" ] || fail "the consumer did not go on after the kill ($n2 messages)"
[ "$n2" -lt "$N" ] || log "note: the consumer finished before the second kill"
leader=$("$CLUSTER" leader)
log "kill -9 leader $leader after $n2 messages"
"$CLUSTER" kill "$leader"
sleep 3
"$CLUSTER" start "$leader"
wait "$g1" || { tail -3 "$QSG_RUN_DIR/get1.err"; fail "consumer failed or ran 300 s"; }
log "consumer got $(wc -l <"$QSG_RUN_DIR/got.1") lines"
"$QSGGET" T.ACONS -w 3 --backout-count >"$QSG_RUN_DIR/got.2" || fail "drain"
[ ! -s "$QSG_RUN_DIR/got.2" ] || log "note: $(wc -l <"$QSG_RUN_DIR/got.2") left for the drain"
cat "$QSG_RUN_DIR/got.1" "$QSG_RUN_DIR/got.2" >"$QSG_RUN_DIR/got.bo"
cut -d' ' -f2- "$QSG_RUN_DIR/got.bo" >"$QSG_RUN_DIR/got"
lost=$(sort -u "$QSG_RUN_DIR/sent" | comm -23 - <(sort -u "$QSG_RUN_DIR/got") | wc -l)
extra=$(sort -u "$QSG_RUN_DIR/got" | comm -13 <(sort -u "$QSG_RUN_DIR/sent") - | wc -l)
dups=$(sort "$QSG_RUN_DIR/got" | uniq -d | wc -l)
log "sent=$N got=$(wc -l <"$QSG_RUN_DIR/got") duplicated=$dups lost=$lost unexpected=$extra"
[ "$lost" -eq 0 ] || fail "$lost lost messages"
[ "$extra" -eq 0 ] || fail "$extra unexpected messages"
# Two broken connections at most (one per kill): at most 2 * read-ahead
# messages came again, and every later delivery of a message has a higher
# backout count than the one before it.
[ "$dups" -le $((2 * RA)) ] || fail "$dups duplicated messages (more than 2 x $RA)"
bad=$(awk '{ if (($2 in bo) && $1 <= bo[$2]) n++; bo[$2] = $1 } END { print n + 0 }' \
	"$QSG_RUN_DIR/got.bo")
[ "$bad" -eq 0 ] || fail "$bad redeliveries without a higher backout count"
# Without a kill nothing is delivered twice: the messages before the first
# kill's batch are all first deliveries.
first_dup=$(awk '{ if ($2 in seen) { print NR; exit } seen[$2] = 1 }' "$QSG_RUN_DIR/got.bo")
[ -z "$first_dup" ] || [ "$first_dup" -gt $((n1 - RA)) ] ||
	fail "a duplicate at line $first_dup, before the first kill (line $n1)"
returned=$(awk '$1 > 0' "$QSG_RUN_DIR/got.bo" | wc -l)
log "ok ($dups delivered twice, each time with a higher backout count; $returned with a backout count > 0)"
