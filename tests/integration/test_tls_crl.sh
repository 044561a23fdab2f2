#!/usr/bin/env bash
# Certificate revocation on a TLS group (docs/security.md "Revocation"):
# `scripts/cluster up 3 tls`, then [tls] crl = RUN/tls/crl.pem (written by
# scripts/tls-certs -l/-r/-u) on every member.
#   1. both clients (app, app2) put; app2 revoked + REFRESH SECURITY
#      TYPE(SSL) CMDSCOPE(*): app2's new connections are refused (the client
#      hears "certificate revoked", the member logs QSG8019W naming CN=app2),
#      app still puts;
#   2. a CRL file that does not parse at REFRESH: the refresh fails
#      (QSG8005W, the reason), the old CRL stays (app2 still refused);
#   3. a follower F revoked (the others, leader L and O, refreshed): its
#      established links stay (a put through it works); L stopped: the new
#      Raft links between O and F are refused by O both ways (QSG8019W
#      naming F), no leader; L started again (reading the CRL): L and O
#      elect, L refuses F's Raft links, F learns no leader; F taken off the
#      CRL + REFRESH on L and O: F rejoins and a put through it works;
#   4. a member whose crl file is missing or not a CRL refuses to start
#      (QSG8000E with the reason) (run last: it stops F);
#   5. an outbound TLS channel to a remote queue manager QMR whose
#      certificate is revoked: the sender refuses QMR at the handshake
#      (CHSTATUS RETRYING, SSL_CERTIFICATE_REVOKED (2401); QSG8019W).
# Ports: members 29001.., Raft 29101.., QMR 29050 (Raft 29150)
. "$(dirname "$0")/lib.sh" 29000
Q=CRL.Q
TLS=$QSG_RUN_DIR/tls
CERTS=$top_srcdir/scripts/tls-certs

has_leader() { # QM: it answers DISPLAY QMGR with a known leader
	timeout 5 "$QSGADM" -c "$("$CLUSTER" conn "$1")" --json <<<"DISPLAY QMGR" 2>/dev/null |
		grep -q '"LEADER": *"[^0"]'
}
wait_leader_of() { # QM SECONDS
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		has_leader "$1" && return 0
		sleep 0.2
	done
	return 1
}
refresh_all() { # expected QSG0044I lines (sent to the leader: F makes no member link)
	local out
	out=$("$QSGADM" -c "$("$CLUSTER" conn "$L")" <<<"REFRESH SECURITY TYPE(SSL) CMDSCOPE(*)" 2>&1) ||
		fail "REFRESH: $out"
	[ "$(grep -c QSG0044I <<<"$out")" = "$1" ] || fail "REFRESH not done on $1 members: $out"
}
put_as() { # NAME QM WHAT: one message put by client certificate NAME via QM
	echo "$3" | QSG_TLS_CERT=$TLS/$1.crt QSG_TLS_KEY=$TLS/$1.key QSG_RECONNECT_TIMEOUT=1 \
		"$QSGPUT" -c "$("$CLUSTER" conn "$2")" "$Q" 2>"$QSG_RUN_DIR/put.err"
}
count() { cat "$QSG_RUN_DIR"/QM*.log | grep -c "$1" || true; }
wait_log() { # PATTERN FILES...: up to 10 s
	local p=$1 i
	shift
	for ((i = 0; i < 100; i++)); do
		grep -q "$p" "$@" && return 0
		sleep 0.1
	done
	return 1
}

out=$("$CLUSTER" up 3 tls) || fail "cluster up 3 tls"
eval "$(sed -n 's/^\(QSG_[A-Z_]*\)=\(.*\)/export \1=\2/p' <<<"$out")"
"$CLUSTER" down >/dev/null
"$CERTS" "$TLS" app2 >/dev/null || fail "tls-certs app2"
"$CERTS" -l "$TLS" >/dev/null || fail "tls-certs -l"
for i in 1 2 3; do
	sed -i "/^\[tls\]\$/a crl = $TLS/crl.pem" "$QSG_RUN_DIR/QM$i.ini"
	grep -q "^crl = $TLS/crl.pem" "$QSG_RUN_DIR/QM$i.ini" || fail "QM$i.ini has no crl"
done
cluster_up 3
grep -q "QSG8003I.*revocation: 1 CRL(s) from $TLS/crl.pem" "$QSG_RUN_DIR/QM1.log" ||
	fail "QM1 does not say it checks the CRL: $(grep QSG8003I "$QSG_RUN_DIR/QM1.log")"
"$QSGADM" <<<"DEFINE QLOCAL($Q) QSGDISP(SHARED) MAXDEPTH(100000)" >/dev/null || fail "define"
L=$("$CLUSTER" leader)
F=$(other_than "$L" | sed -n 1p)
log "leader $L, follower $F"

# 1. A client certificate revoked.
put_as app "$L" one || fail "1: app: $(cat "$QSG_RUN_DIR/put.err")"
put_as app2 "$L" two || fail "1: app2 before revocation: $(cat "$QSG_RUN_DIR/put.err")"
"$CERTS" -r "$TLS" app2 >/dev/null || fail "revoke app2"
refresh_all 3
n0=$(count QSG8019W)
put_as app2 "$L" three && fail "1: revoked app2 put a message"
grep -q "certificate revoked" "$QSG_RUN_DIR/put.err" ||
	fail "1: app2's error does not say revoked: $(cat "$QSG_RUN_DIR/put.err")"
wait_log 'QSG8019W TLS handshake with .* refused: QSG_RC_SSL_CERTIFICATE_REVOKED (2401): peer certificate "CN=app2,O=qsg test" (serial .*) is revoked (CRL)' \
	"$QSG_RUN_DIR/$L.log" || fail "1: no QSG8019W naming app2 in $L's log"
log "1: app2 refused: $(head -c 160 "$QSG_RUN_DIR/put.err")"
put_as app "$L" four || fail "1: app after app2's revocation: $(cat "$QSG_RUN_DIR/put.err")"
[ "$(count QSG8019W)" -gt "$n0" ] || fail "1: QSG8019W not counted"

# 2. A CRL that does not parse: REFRESH fails, the old CRL stays.
cp "$TLS/crl.pem" "$TLS/crl.pem.good"
head -c 300 "$TLS/crl.pem.good" >"$TLS/crl.pem"
out=$("$QSGADM" -c "$("$CLUSTER" conn "$L")" <<<"REFRESH SECURITY TYPE(SSL)" 2>&1) &&
	fail "2: refresh with a truncated CRL succeeded: $out"
grep -q "CRL 1 of $TLS/crl.pem unreadable" <<<"$out" || fail "2: no reason: $out"
grep -q "QSG8005W.*CRL 1 of $TLS/crl.pem unreadable" "$QSG_RUN_DIR/$L.log" ||
	fail "2: no QSG8005W in $L's log"
put_as app2 "$L" five && fail "2: app2 accepted after a failed refresh"
put_as app "$L" six || fail "2: app refused after a failed refresh: $(cat "$QSG_RUN_DIR/put.err")"
cp "$TLS/crl.pem.good" "$TLS/crl.pem"
log "2: truncated CRL at REFRESH: refused, old CRL kept"

# 3. A member's certificate revoked.
"$CERTS" -r "$TLS" "$F" >/dev/null || fail "revoke $F"
out=$("$QSGADM" -c "$("$CLUSTER" conn "$L")" <<<"REFRESH SECURITY TYPE(SSL)" 2>&1) ||
	fail "3: refresh on $L: $out"
O=$(other_than "$L" | grep -vx "$F")
out=$("$QSGADM" -c "$("$CLUSTER" conn "$O")" <<<"REFRESH SECURITY TYPE(SSL)" 2>&1) ||
	fail "3: refresh on $O: $out"
# Established links stay (as MQ): a put through F works.
put_as app "$F" seven || fail "3: put via $F over its established links"
# O restarts (it reads the CRL at start): libraft keeps the Raft links of
# an earlier election open, so O and F may still hold a link made before
# the revocation (CI once saw F win an election over one). After the
# restart O holds none with F.
"$CLUSTER" stop "$O"
"$CLUSTER" start "$O" >/dev/null 2>&1 || true
wait_leader_of "$O" 30 || fail "3: $O did not rejoin $L after its restart"
# The leader L stops: followers do not talk to each other in Raft, so O and
# F must make new Raft links to elect a leader; O refuses them both ways
# (QSG8019W naming F) and no leader is elected.
"$CLUSTER" stop "$L"
wait_log "QSG8019W Raft TLS connection from .* refused: peer certificate \"CN=$F,O=qsg test\" (serial .*) is revoked (CRL)" \
	"$QSG_RUN_DIR/$O.log" || fail "3: $O did not refuse a Raft link from $F"
wait_log "QSG8019W Raft TLS connection to .*($F, Raft id [0-9]*) refused: peer certificate \"CN=$F,O=qsg test\"" \
	"$QSG_RUN_DIR/$O.log" || fail "3: $O did not refuse its Raft link to $F"
grep -q "QSG8004W Raft TLS connection .*alert certificate revoked" "$QSG_RUN_DIR/$F.log" ||
	fail "3: $F does not say the others refuse its certificate"
! has_leader "$O" || fail "3: $O has a leader with only revoked $F to vote"
log "3: $L stopped: $O refuses $F's Raft links both ways, no leader"
# L starts again reading the CRL (F still on it): L and O elect; F's
# Raft links are refused by both and it learns no leader.
"$CLUSTER" start "$L" >/dev/null 2>&1 || true
wait_leader_of "$O" 30 || fail "3: $L and $O elected no leader"
wait_log "QSG8019W Raft TLS connection .* refused: peer certificate \"CN=$F,O=qsg test\"" \
	"$QSG_RUN_DIR/$L.log" || fail "3: restarted $L did not refuse a Raft link with $F"
sleep 2
! has_leader "$F" || fail "3: revoked $F learned a leader"
log "3: $L restarted: $L and $O serve, $F is refused by both"
# Off the CRL again (REFRESH on L and O): F rejoins.
"$CERTS" -u "$TLS" "$F" >/dev/null || fail "unrevoke $F"
for qm in "$L" "$O"; do
	"$QSGADM" -c "$("$CLUSTER" conn "$qm")" <<<"REFRESH SECURITY TYPE(SSL)" >/dev/null ||
		fail "3: refresh on $qm"
done
wait_leader_of "$F" 30 || fail "3: $F did not rejoin after the CRL was replaced"
put_as app "$F" eight || fail "3: put via $F after rejoining: $(cat "$QSG_RUN_DIR/put.err")"
log "3: $F off the CRL: rejoined"

# The messages put: one two four six seven eight.
"$QSGGET" -c "$("$CLUSTER" conn "$F")" "$Q" -n 10 -w 2 >"$QSG_RUN_DIR/got" 2>/dev/null || true
grep -qx 'three\|five' "$QSG_RUN_DIR/got" && fail "a refused message was put"
for w in one two four six seven eight; do grep -qx "$w" "$QSG_RUN_DIR/got" || fail "message $w lost"; done

# 5. An outbound channel: its CipherSpec context checks the partner's
#    certificate against the CRL. QMR (a group of one, its own [tls]
#    without a CRL, mode = optional for scripts/cluster's plaintext admin
#    calls) receives; with QMR's certificate revoked and the group
#    refreshed, the sender is refused at the handshake (2401, QSG8019W).
"$CERTS" "$TLS" QMR >/dev/null || fail "certificate for QMR"
R=127.0.0.1:$((QSG_PORT_BASE + 50))
cat >"$QSG_RUN_DIR/QMR.ini" <<EOF2
[qmgr]
name = QMR
group = QMR
dir = $QSG_RUN_DIR/QMR
log_level = info
[raft]
id = 1
address = 127.0.0.1:$((QSG_PORT_BASE + 150))
[listener]
address = $R
[member QMR]
id = 1
raft = 127.0.0.1:$((QSG_PORT_BASE + 150))
listen = $R
[tls]
key = $TLS/QMR.key
cert = $TLS/QMR.crt
ca = $TLS/ca.crt
mode = optional
[security]
authentication = none
EOF2
"$CLUSTER" remote | grep -q '^QSG_REMOTE_CONN=' || fail "remote queue manager QMR"
for c in "$QSG_CONN" "$R"; do
	for ((i = 0; i < 100; i++)); do
		[ "$(mqsc_fields "$c" "DISPLAY QMGR GRPLEVEL" GRPLEVEL)" -ge 3 ] 2>/dev/null && break
		sleep 0.1
	done
done
"$QSGADM" >"$QSG_RUN_DIR/defs.g" 2>&1 <<EOF2 || fail "5: group definitions: $(cat "$QSG_RUN_DIR/defs.g")"
DEFINE QLOCAL(XQ1) USAGE(XMITQ)
DEFINE QREMOTE(TO.R1) RNAME(IN1) RQMNAME(QMR) XMITQ(XQ1)
DEFINE CHANNEL(G.TO.R1) CHLTYPE(SDR) CONNAME('$R') XMITQ(XQ1) SHORTTMR(1) LONGTMR(2) SSLCIPH(ANY_TLS13)
EOF2
"$QSGADM" -c "$R" >"$QSG_RUN_DIR/defs.r" 2>&1 <<EOF2 || fail "5: QMR definitions: $(cat "$QSG_RUN_DIR/defs.r")"
DEFINE QLOCAL(IN1)
DEFINE CHANNEL(G.TO.R1) CHLTYPE(RCVR) SSLCIPH(ANY_TLS13)
EOF2
chstatus() { mqsc_fields "$QSG_CONN" "DISPLAY CHSTATUS(G.TO.R1) ALL" STATUS REASON; }
wait_chstatus() { # STATUS TEXT
	local i
	for ((i = 0; i < 300; i++)); do
		[[ "$(chstatus)" == "$1"*"$2"* ]] && return 0
		sleep 0.1
	done
	log "5: G.TO.R1: $(chstatus)"
	return 1
}
start_channel "$QSG_CONN" G.TO.R1
wait_chstatus RUNNING "" || fail "5: G.TO.R1 did not run before the revocation"
echo ch-one | "$QSGPUT" TO.R1 >/dev/null || fail "5: put TO.R1"
"$QSGGET" -c "$R" IN1 -n 1 -w 30 >/dev/null || fail "5: nothing delivered before the revocation"
"$QSGADM" <<<"STOP CHANNEL(G.TO.R1)" >/dev/null || true
wait_chstatus STOPPED "" || fail "5: G.TO.R1 did not stop"
"$CERTS" -r "$TLS" QMR >/dev/null || fail "revoke QMR"
refresh_all 3
echo ch-two | "$QSGPUT" TO.R1 >/dev/null || fail "5: put TO.R1 (2)"
start_channel "$QSG_CONN" G.TO.R1
wait_chstatus RETRYING "SSL_CERTIFICATE_REVOKED (2401) in TLS" ||
	fail "5: the sender did not refuse QMR's revoked certificate"
wait_log "QSG8019W TLS handshake with 127.0.0.1:$((QSG_PORT_BASE + 50)) refused: .*\"CN=QMR,O=qsg test\" (serial .*) is revoked" \
	"$QSG_RUN_DIR"/QM[123].log || fail "5: no QSG8019W for the channel partner"
[ "$(mqsc_fields "$R" "DISPLAY QLOCAL(IN1) CURDEPTH" CURDEPTH)" = 0 ] ||
	fail "5: a message reached QMR after the revocation"
log "5: G.TO.R1: $(chstatus | head -c 160)"
"$QSGADM" <<<"STOP CHANNEL(G.TO.R1)" >/dev/null || true

# 4. A member with a missing or unparsable CRL does not start.
"$CLUSTER" stop "$F"
for bad in /nonexistent/crl.pem "$TLS/ca.crt"; do
	sed "s|^crl = .*|crl = $bad|" "$QSG_RUN_DIR/$F.ini" >"$QSG_RUN_DIR/$F.bad.ini"
	rc=0
	timeout 30 "$top_builddir/qsgd" -f "$QSG_RUN_DIR/$F.bad.ini" >"$QSG_RUN_DIR/bad.log" 2>&1 || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "4: $F started with crl = $bad (status $rc)"
	grep -q "QSG8000E.*CRL" "$QSG_RUN_DIR/bad.log" ||
		fail "4: no QSG8000E naming the CRL: $(tail -3 "$QSG_RUN_DIR/bad.log")"
	log "4: crl = $bad: $(grep -o 'QSG8000E.*' "$QSG_RUN_DIR/bad.log" | head -c 200)"
done
log "ok"
