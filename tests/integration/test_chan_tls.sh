#!/usr/bin/env bash
# TLS on channels (docs/channels.md "TLS on channels"): a TLS group of 3
# (scripts/cluster up 3 tls) and a remote queue manager QMR (a qsgd group
# of one) with its own certificate from the same CA and [tls] mode =
# optional (it takes plaintext channels too).
#   1. a TLS sender -> receiver pair (SSLCIPH on both ends, SSLPEER on
#      both) delivers messages exactly once; QMR logs the partner's
#      certificate;
#   2. a receiver whose SSLPEER names another certificate refuses the
#      partner: 2398 in DISPLAY CHSTATUS and QMR's log, nothing delivered;
#   3. a plaintext sender to a TLS receiver is refused (2393, AMQ9639-like),
#      and a TLS sender to a plaintext receiver too;
#   4. new member certificates, REFRESH SECURITY TYPE(SSL) CMDSCOPE(*):
#      a new connection from the member that ran channel 1 presents the new
#      certificate (QMR logs its fingerprint), while channel 1, established
#      before, keeps running (same epoch) and delivers.
#   5. CHLAUTH on QMR (SSLPEERMAP USERSRC(NOACCESS) for the group's
#      certificates on G.TO.R6) refuses that inbound channel with 2035 at
#      its start; ACTION(REMOVE) lets it deliver.
. "$(dirname "$0")/lib.sh" 18300

line=$("$CLUSTER" up 3 tls | grep '^QSG_CONN=') || fail "cluster up 3 tls"
G=${line#QSG_CONN=}
run=$QSG_RUN_DIR
export QSG_TLS_CA=$run/tls/ca.crt QSG_TLS_CERT=$run/tls/app.crt QSG_TLS_KEY=$run/tls/app.key
"$top_srcdir/scripts/tls-certs" "$run/tls" QMR >/dev/null || fail "certificate for QMR"
R=127.0.0.1:$((QSG_PORT_BASE + 50))
cat >"$run/QMR.ini" <<EOF2
[qmgr]
name = QMR
group = QMR
dir = $run/QMR
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
key = $run/tls/QMR.key
cert = $run/tls/QMR.crt
ca = $run/tls/ca.crt
mode = optional
[security]
authentication = none
EOF2
"$CLUSTER" remote | grep -q '^QSG_REMOTE_CONN=' || fail "remote queue manager QMR"
log "TLS group $G, remote queue manager QMR at $R"
# SSLCIPH and SSLPEER need command level 3: wait until every member's
# report is applied (DISPLAY QMGR GRPLEVEL) on both sides.
for c in "$G" "$R"; do
	for ((i = 0; i < 100; i++)); do
		[ "$(mqsc_fields "$c" "DISPLAY QMGR GRPLEVEL" GRPLEVEL)" -ge 3 ] 2>/dev/null && break
		sleep 0.1
	done
	[ "$(mqsc_fields "$c" "DISPLAY QMGR GRPLEVEL" GRPLEVEL)" -ge 3 ] 2>/dev/null || fail "$c: group level below 3"
done

fp_of() { # CERT -> SHA-256 fingerprint as the engine prints it
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'
}
# The newest QSG5061I line of QMR's log for channel $1 (inbound).
rcv_tls_line() { grep "QSG5061I inbound channel $1:" "$run/QMR.log" | tail -1; }
depth() { mqsc_fields "$1" "DISPLAY QLOCAL($2) CURDEPTH" CURDEPTH; }
# Wait until DISPLAY CHSTATUS of $2 through $1 shows STATUS $3 and a REASON
# that contains $4; prints "status reason".
wait_status() {
	local conn=$1 ch=$2 want=$3 text=$4 st reason i
	for ((i = 0; i < 300; i++)); do
		IFS='|' read -r st reason < <(mqsc_fields "$conn" "DISPLAY CHSTATUS($ch) ALL" \
			STATUS REASON | sed 's/ /|/')
		if [ "$st" = "$want" ] && [[ "$reason" == *"$text"* ]]; then
			echo "$st $reason"
			return 0
		fi
		sleep 0.1
	done
	log "$ch: last status $st, reason $reason"
	return 1
}

"$QSGADM" -c "$G" >"$run/defs.g" 2>&1 <<EOF2 || fail "group definitions: $(grep -v 'I:' "$run/defs.g")"
DEFINE QLOCAL(XQ1) USAGE(XMITQ)
DEFINE QLOCAL(XQ2) USAGE(XMITQ)
DEFINE QLOCAL(XQ3) USAGE(XMITQ)
DEFINE QLOCAL(XQ4) USAGE(XMITQ)
DEFINE QLOCAL(XQ5) USAGE(XMITQ)
DEFINE QREMOTE(TO.R1) RNAME(IN1) RQMNAME(QMR) XMITQ(XQ1)
DEFINE QREMOTE(TO.R2) RNAME(IN2) RQMNAME(QMR) XMITQ(XQ2)
DEFINE QREMOTE(TO.R3) RNAME(IN3) RQMNAME(QMR) XMITQ(XQ3)
DEFINE QREMOTE(TO.R4) RNAME(IN4) RQMNAME(QMR) XMITQ(XQ4)
DEFINE QREMOTE(TO.R5) RNAME(IN5) RQMNAME(QMR) XMITQ(XQ5)
DEFINE CHANNEL(G.TO.R1) CHLTYPE(SDR) CONNAME('$R') XMITQ(XQ1) HBINT(1) SHORTTMR(1) LONGTMR(2) SSLCIPH(ANY_TLS13) SSLPEER('CN=QMR, O=qsg test')
DEFINE CHANNEL(G.TO.R2) CHLTYPE(SDR) CONNAME('$R') XMITQ(XQ2) SHORTTMR(1) LONGTMR(2) SSLCIPH(ANY_TLS13)
DEFINE CHANNEL(G.TO.R3) CHLTYPE(SDR) CONNAME('$R') XMITQ(XQ3) SHORTTMR(1) LONGTMR(2)
DEFINE CHANNEL(G.TO.R4) CHLTYPE(SDR) CONNAME('$R') XMITQ(XQ4) SHORTTMR(1) LONGTMR(2) SSLCIPH(TLS_AES_128_GCM_SHA256)
DEFINE CHANNEL(G.TO.R5) CHLTYPE(SDR) CONNAME('$R') XMITQ(XQ5) HBINT(1) SSLCIPH(ANY_TLS13)
EOF2
"$QSGADM" -c "$R" >"$run/defs.r" 2>&1 <<EOF2 || fail "remote definitions: $(grep -v 'I:' "$run/defs.r")"
DEFINE QLOCAL(IN1)
DEFINE QLOCAL(IN2)
DEFINE QLOCAL(IN3)
DEFINE QLOCAL(IN4)
DEFINE QLOCAL(IN5)
DEFINE CHANNEL(G.TO.R1) CHLTYPE(RCVR) SSLCIPH(ANY_TLS12_OR_HIGHER) SSLPEER('O=qsg test')
DEFINE CHANNEL(G.TO.R2) CHLTYPE(RCVR) SSLCIPH(ANY_TLS13) SSLPEER('CN=NOTME')
DEFINE CHANNEL(G.TO.R3) CHLTYPE(RCVR) SSLCIPH(ANY_TLS13)
DEFINE CHANNEL(G.TO.R4) CHLTYPE(RCVR)
DEFINE CHANNEL(G.TO.R5) CHLTYPE(RCVR) SSLCIPH(ANY)
EOF2
# An unknown CipherSpec is refused at DEFINE, with the names qsg has.
out=$("$QSGADM" -c "$G" <<<"DEFINE CHANNEL(BAD) CHLTYPE(RCVR) SSLCIPH(RC4_SHA_US)" 2>&1) &&
	fail "SSLCIPH(RC4_SHA_US) accepted: $out"
grep -q "not a CipherSpec" <<<"$out" || fail "no reason for a bad SSLCIPH: $out"
[ "$(mqsc_fields "$G" "DISPLAY CHANNEL(G.TO.R1) ALL" SSLCIPH)" = ANY_TLS13 ] ||
	fail "DISPLAY CHANNEL does not show SSLCIPH"

# 1. TLS both ways of one connection: exactly once.
start_channel "$G" G.TO.R1
wait_status "$G" G.TO.R1 RUNNING "" >/dev/null || fail "G.TO.R1 did not run"
seq -f 'one-%g' 1 300 >"$run/sent1"
"$QSGPUT" -c "$G" TO.R1 <"$run/sent1" >/dev/null || fail "put TO.R1"
"$QSGGET" -c "$R" IN1 -n 300 -w 30 >"$run/got1" || fail "get IN1 ($(wc -l <"$run/got1") of 300)"
"$QSGGET" -c "$R" IN1 -w 2 >>"$run/got1" 2>/dev/null || true
check_exactly_once "$run/sent1" "$run/got1"
read -r owner1 epoch1 < <(chst "$G" G.TO.R1 OWNER EPOCH)
tl=$(rcv_tls_line G.TO.R1)
[ -n "$tl" ] || fail "QMR logged no TLS partner for G.TO.R1"
log "1: G.TO.R1 on $owner1 (epoch $epoch1): $tl"
[[ "$tl" == *"TLSv1.3"* && "$tl" == *"CN=$owner1,O=qsg test"* ]] || fail "1: unexpected: $tl"
old_fp=$(fp_of "$run/tls/$owner1.crt")
[[ "$tl" == *"$old_fp"* ]] || fail "1: QMR saw another certificate than $owner1's ($old_fp)"

# 2. SSLPEER of the receiver names another certificate: refused, 2398.
"$QSGPUT" -c "$G" TO.R2 <<<"two" >/dev/null || fail "put TO.R2"
start_channel "$G" G.TO.R2
r=$(wait_status "$G" G.TO.R2 RETRYING SSL_PEER_NAME_MISMATCH) ||
	fail "2: G.TO.R2 not refused with SSL_PEER_NAME_MISMATCH"
log "2: $r"
grep -q "inbound channel G.TO.R2 .* refused: AMQ9636-like.*SSLPEER('CN=NOTME')" "$run/QMR.log" ||
	fail "2: QMR did not log the SSLPEER refusal"
sleep 2
[ "$(depth "$R" IN2)" = 0 ] || fail "2: a message was delivered to IN2"
[ "$(depth "$G" XQ2)" = 1 ] || fail "2: the message left XQ2"
"$QSGADM" -c "$G" <<<"STOP CHANNEL(G.TO.R2)" >/dev/null || true
# The sender checks the receiver too, inside the handshake (nothing sent).
"$QSGADM" -c "$G" <<<"ALTER CHANNEL(G.TO.R2) SSLPEER('CN=NOTQMR')" >/dev/null ||
	fail "ALTER G.TO.R2"
"$QSGADM" -c "$R" <<<"ALTER CHANNEL(G.TO.R2) SSLPEER(' ')" >/dev/null || fail "ALTER G.TO.R2 (QMR)"
wait_status "$G" G.TO.R2 STOPPED "" >/dev/null || fail "2: G.TO.R2 did not stop"
start_channel "$G" G.TO.R2
r=$(wait_status "$G" G.TO.R2 RETRYING "SSL_PEER_NAME_MISMATCH (2398) in TLS") ||
	fail "2: the sender did not refuse the receiver's certificate"
log "2: sender side: $r"
sleep 1
[ "$(depth "$R" IN2)" = 0 ] || fail "2: a message was delivered to IN2"
"$QSGADM" -c "$G" <<<"STOP CHANNEL(G.TO.R2)" >/dev/null || true

# 3. A plaintext sender to a TLS receiver, a TLS sender to a plaintext one.
"$QSGPUT" -c "$G" TO.R3 <<<"three" >/dev/null || fail "put TO.R3"
start_channel "$G" G.TO.R3
r=$(wait_status "$G" G.TO.R3 RETRYING SSL_INITIALIZATION_ERROR) ||
	fail "3: plaintext G.TO.R3 not refused by its TLS receiver"
log "3: plaintext sender: $r"
grep -q "G.TO.R3 .* refused: AMQ9639-like.*did not specify a CipherSpec" "$run/QMR.log" ||
	fail "3: QMR did not say why it refused G.TO.R3"
"$QSGPUT" -c "$G" TO.R4 <<<"four" >/dev/null || fail "put TO.R4"
start_channel "$G" G.TO.R4
r=$(wait_status "$G" G.TO.R4 RETRYING SSL_INITIALIZATION_ERROR) ||
	fail "3: TLS G.TO.R4 not refused by its plaintext receiver"
log "3: TLS sender, plaintext receiver: $r"
sleep 1
[ "$(depth "$R" IN3)" = 0 ] && [ "$(depth "$R" IN4)" = 0 ] || fail "3: a message was delivered"
"$QSGADM" -c "$G" <<<"STOP CHANNEL(G.TO.R3)" >/dev/null || true
"$QSGADM" -c "$G" <<<"STOP CHANNEL(G.TO.R4)" >/dev/null || true

# 4. New member certificates (same CA), REFRESH SECURITY on every member.
"$top_srcdir/scripts/tls-certs" -f "$run/tls" QM1 QM2 QM3 >/dev/null || fail "new certificates"
new_fp=$(fp_of "$run/tls/$owner1.crt")
[ "$new_fp" != "$old_fp" ] || fail "4: tls-certs -f made the same certificate"
out=$("$QSGADM" -c "$G" <<<"REFRESH SECURITY TYPE(SSL) CMDSCOPE(*)" 2>&1) ||
	fail "4: REFRESH SECURITY: $out"
[ "$(grep -c QSG0044I <<<"$out")" = 3 ] || fail "4: not refreshed on 3 members: $out"
log "4: $(grep QSG0044I <<<"$out" | head -1)"
# A new channel connection from the member whose contexts were made before:
# G.TO.R5 has G.TO.R1's CipherSpec, so it uses the context QM1 made for
# G.TO.R1 before the new files (only the refresh can change its
# certificate).
oc=$("$CLUSTER" conn "$owner1")
"$QSGADM" -c "$oc" <<<"START CHANNEL(G.TO.R5) CHLDISP(FIXSHARED)" >/dev/null ||
	fail "4: START G.TO.R5 on $owner1"
wait_status "$G" G.TO.R5 RUNNING "" >/dev/null || fail "4: G.TO.R5 did not run"
tl=$(rcv_tls_line G.TO.R5)
log "4: G.TO.R5: $tl"
[[ "$tl" == *"CN=$owner1,O=qsg test"* ]] || fail "4: G.TO.R5 not from $owner1: $tl"
[[ "$tl" == *"$new_fp"* ]] || fail "4: $owner1 still presents its old certificate: $tl"
# The connection made before the refresh goes on.
read -r st1 o1 e1 < <(chst "$G" G.TO.R1 STATUS OWNER EPOCH)
[ "$st1 $o1 $e1" = "RUNNING $owner1 $epoch1" ] ||
	fail "4: G.TO.R1 is $st1 on $o1 epoch $e1, was RUNNING on $owner1 epoch $epoch1"
seq -f 'after-%g' 1 100 >"$run/sent1b"
"$QSGPUT" -c "$G" TO.R1 <"$run/sent1b" >/dev/null || fail "put TO.R1 after the refresh"
"$QSGGET" -c "$R" IN1 -n 100 -w 30 >"$run/got1b" || fail "get IN1 after the refresh"
check_exactly_once "$run/sent1b" "$run/got1b"
[ "$(rcv_tls_line G.TO.R1)" = "$(grep "QSG5061I inbound channel G.TO.R1:" "$run/QMR.log" | head -1)" ] ||
	fail "4: G.TO.R1 reconnected"
# A refresh that cannot read its files keeps the old contexts and says why.
mv "$run/tls/$owner1.key" "$run/tls/$owner1.key.away"
out=$("$QSGADM" -c "$oc" <<<"REFRESH SECURITY TYPE(SSL)" 2>&1) && fail "4: refresh without a key: $out"
mv "$run/tls/$owner1.key.away" "$run/tls/$owner1.key"
grep -q "QSG0045E" <<<"$out" || fail "4: no reason for the failed refresh: $out"
log "4: $(grep QSG0045E <<<"$out")"
"$QSGADM" -c "$oc" <<<"PING QMGR" >/dev/null || fail "4: $owner1 stopped serving"

# 5. CHLAUTH on an inbound channel (docs/security.md "Channel authentication
# (CHLAUTH)"): QMR refuses G.TO.R6 from a certificate of O=qsg test
# (SSLPEERMAP NOACCESS) with 2035 at the channel's start; REMOVE lets it run.
"$QSGADM" -c "$G" >/dev/null <<EOF2 || fail "5: G.TO.R6"
DEFINE QLOCAL(XQ6) USAGE(XMITQ)
DEFINE QREMOTE(TO.R6) RNAME(IN6) RQMNAME(QMR) XMITQ(XQ6)
DEFINE CHANNEL(G.TO.R6) CHLTYPE(SDR) CONNAME('$R') XMITQ(XQ6) HBINT(1) SHORTTMR(1) LONGTMR(2) SSLCIPH(ANY_TLS13)
EOF2
"$QSGADM" -c "$R" >/dev/null <<EOF2 || fail "5: QMR definitions"
DEFINE QLOCAL(IN6)
DEFINE CHANNEL(G.TO.R6) CHLTYPE(RCVR) SSLCIPH(ANY_TLS13)
SET CHLAUTH('G.TO.R6') TYPE(SSLPEERMAP) SSLPEER('O=qsg test') USERSRC(NOACCESS)
EOF2
"$QSGPUT" -c "$G" TO.R6 <<<"six" >/dev/null || fail "put TO.R6"
start_channel "$G" G.TO.R6
r=$(wait_status "$G" G.TO.R6 RETRYING NOT_AUTHORIZED) || fail "5: G.TO.R6 not refused by CHLAUTH"
log "5: $r"
grep -q "QSG8017W channel G.TO.R6 from .* refused by CHLAUTH('G.TO.R6') TYPE(SSLPEERMAP)" "$run/QMR.log" ||
	fail "5: QMR did not log the CHLAUTH refusal"
[ "$(depth "$R" IN6)" = 0 ] || fail "5: a message was delivered to IN6"
"$QSGADM" -c "$R" <<<"SET CHLAUTH('G.TO.R6') TYPE(SSLPEERMAP) SSLPEER('O=qsg test') ACTION(REMOVE)" >/dev/null ||
	fail "5: REMOVE"
"$QSGGET" -c "$R" IN6 -n 1 -w 30 >"$run/got6" || fail "5: G.TO.R6 did not deliver after REMOVE"
[ "$(cat "$run/got6")" = six ] || fail "5: got '$(cat "$run/got6")'"
log "5: CHLAUTH SSLPEERMAP NOACCESS refused inbound G.TO.R6 (2035); REMOVE let it run"
log "PASS"
