#!/usr/bin/env bash
# TLS on client connections and member-to-member forwarding (docs/security.md):
# a 3-member group with [tls] (mode and verify at their defaults: required)
# and certificates from scripts/tls-certs.
#   1. put/get over TLS through a follower (forwarded to the leader over TLS
#      with the follower's own certificate) and through the leader;
#   2. refused: a client without a certificate, a client whose certificate
#      comes from another CA, a plaintext client; each refusal is one
#      QSG8001W line in a member's log and the member keeps serving.
# Ports: members 23401.., Raft 23501..
. "$(dirname "$0")/lib.sh" 23400
Q=TLS.Q
TLS=$QSG_RUN_DIR/tls
"$top_srcdir/scripts/tls-certs" "$TLS" QM1 QM2 QM3 app >/dev/null
"$top_srcdir/scripts/tls-certs" "$QSG_RUN_DIR/rogue" app >/dev/null

# scripts/cluster writes QMn.ini on the first `up` only: start once to write
# them, stop, add [tls], start again (the clients then need certificates).
cluster_up 3
"$CLUSTER" down >/dev/null
for i in 1 2 3; do
	printf '[tls]\nkey = %s/QM%d.key\ncert = %s/QM%d.crt\nca = %s/ca.crt\n' \
		"$TLS" "$i" "$TLS" "$i" "$TLS" >>"$QSG_RUN_DIR/QM$i.ini"
done
export QSG_TLS_CA=$TLS/ca.crt QSG_TLS_CERT=$TLS/app.crt QSG_TLS_KEY=$TLS/app.key
cluster_up 3
grep -q QSG8003I "$QSG_RUN_DIR/QM1.log" || fail "QM1 does not say it uses TLS"

"$QSGADM" <<<"DEFINE QLOCAL($Q) QSGDISP(SHARED) MAXDEPTH(100000)" || fail "define over TLS"
L=$("$CLUSTER" leader)
F=$(other_than "$L" | sed -n 1p)
log "leader $L, follower $F"

# 1. Through the follower (forwarding over TLS), got through the leader.
seq 1 300 | sed 's/^/tls-f-/' >"$QSG_RUN_DIR/sent1"
"$QSGPUT" -c "$("$CLUSTER" conn "$F")" "$Q" <"$QSG_RUN_DIR/sent1" || fail "put via follower $F"
"$QSGGET" -c "$("$CLUSTER" conn "$L")" "$Q" -n 300 -w 5 >"$QSG_RUN_DIR/got1" || fail "get via leader"
cmp "$QSG_RUN_DIR/sent1" "$QSG_RUN_DIR/got1" || fail "messages via follower differ"
# ... and the other way round.
seq 1 300 | sed 's/^/tls-l-/' >"$QSG_RUN_DIR/sent2"
"$QSGPUT" -c "$("$CLUSTER" conn "$L")" "$Q" <"$QSG_RUN_DIR/sent2" || fail "put via leader"
"$QSGGET" -c "$("$CLUSTER" conn "$F")" "$Q" -n 300 -w 5 >"$QSG_RUN_DIR/got2" || fail "get via follower"
cmp "$QSG_RUN_DIR/sent2" "$QSG_RUN_DIR/got2" || fail "messages via leader differ"
log "put/get over TLS through follower and leader: ok"

refused() { # WHAT [REASON]: the put with the current environment must fail (with REASON)
	local n0 n1
	n0=$(cat "$QSG_RUN_DIR"/QM*.log | grep -c QSG8001W || true)
	if echo refused | QSG_RECONNECT_TIMEOUT=1 "$QSGPUT" -c "$("$CLUSTER" conn "$L")" "$Q" \
		2>"$QSG_RUN_DIR/refused.err"; then
		fail "$1: accepted"
	fi
	sleep 0.3
	n1=$(cat "$QSG_RUN_DIR"/QM*.log | grep -c QSG8001W || true)
	[ "$n1" -gt "$n0" ] || fail "$1: no QSG8001W line in the member logs"
	[ -z "${2:-}" ] || grep -q "$2" "$QSG_RUN_DIR/refused.err" || fail "$1: reason is not '$2'"
	log "$1: refused ($(head -c 200 "$QSG_RUN_DIR/refused.err"))"
}
# 2. No client certificate (verify = required).
(unset QSG_TLS_CERT QSG_TLS_KEY && refused "client without a certificate" "alert certificate required")
# 3. A certificate from another CA.
(QSG_TLS_CERT=$QSG_RUN_DIR/rogue/app.crt QSG_TLS_KEY=$QSG_RUN_DIR/rogue/app.key \
	refused "client certificate of another CA" "alert unknown ca")
# 4. Plaintext (mode = required): refused; the client sees the member's TLS
#    alert as a broken frame or a silent member, so no reason is checked.
(unset QSG_TLS_CA QSG_TLS_CERT QSG_TLS_KEY && refused "plaintext client")

# The members still serve, and no message was put by the refused clients.
echo after | "$QSGPUT" -c "$("$CLUSTER" conn "$F")" "$Q" || fail "put after the refusals"
"$QSGGET" -c "$("$CLUSTER" conn "$L")" "$Q" -n 1 -w 5 >"$QSG_RUN_DIR/got3" || fail "get after"
[ "$(cat "$QSG_RUN_DIR/got3")" = after ] || fail "got '$(cat "$QSG_RUN_DIR/got3")', expected after"
log "ok"
