#!/usr/bin/env bash
# TLS on Raft traffic (docs/security.md "TLS on Raft traffic"): a group made by
# `scripts/cluster up 3 tls` (throwaway CA, [tls] on every member, Raft
# included by default).
#   1. the Raft port speaks TLS with the member's certificate (CN = its name);
#      put/get through a follower and the leader;
#   2. the leader is killed: a new one is elected over TLS and serves; the
#      old one restarts and rejoins;
#   3. the Raft port refuses a handshake without a client certificate and
#      plaintext (a libraft preamble): each connection is closed, each
#      refusal is a QSG8004W line, and the group serves on;
#   4. QM3 restarted with a certificate from the group's CA whose CN is not
#      a member name (the client's, CN=app) never joins: the others refuse
#      it both ways and it learns no leader; with its own certificate back
#      it rejoins;
#   5. `scripts/cluster join QM4` adds a member online over TLS;
#   6. QM4 started while another process holds its Raft port says why it
#      cannot start (the transport's reason, not only "I/O error").
# Ports: members 24801.., Raft 24901..
. "$(dirname "$0")/lib.sh" 24800
Q=TLSRAFT.Q
TLS=$QSG_RUN_DIR/tls
raft_port() { echo $((QSG_PORT_BASE + 100 + ${1#QM})); }
refusals() { cat "$QSG_RUN_DIR"/QM*.log | grep -c 'QSG8004W' || true; }
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
putget() { # WHAT PUT-QM GET-QM N
	seq 1 "$4" | sed "s/^/$1-/" >"$QSG_RUN_DIR/sent.$1"
	"$QSGPUT" -c "$("$CLUSTER" conn "$2")" "$Q" <"$QSG_RUN_DIR/sent.$1" || fail "$1: put via $2"
	"$QSGGET" -c "$("$CLUSTER" conn "$3")" "$Q" -n "$4" -w 10 >"$QSG_RUN_DIR/got.$1" ||
		fail "$1: get via $3"
	cmp -s "$QSG_RUN_DIR/sent.$1" "$QSG_RUN_DIR/got.$1" || fail "$1: messages differ"
	log "$1: $4 messages put via $2, got via $3"
}

out=$("$CLUSTER" up 3 tls) || fail "cluster up 3 tls"
eval "$(sed -n 's/^\(QSG_[A-Z_]*\)=\(.*\)/export \1=\2/p' <<<"$out")"
[ -n "${QSG_TLS_CA:-}" ] && [ -f "$QSG_TLS_CERT" ] || fail "up 3 tls printed no QSG_TLS_*: $out"
grep -q '^\[tls\]' "$QSG_RUN_DIR/QM1.ini" || fail "QM1.ini has no [tls]"
grep -q 'QSG8003I.*on Raft (mutual' "$QSG_RUN_DIR/QM1.log" || fail "QM1 does not say Raft is TLS"
# `scripts/cluster env` gives the same environment.
(
	unset QSG_TLS_CA QSG_TLS_CERT QSG_TLS_KEY QSG_CONN
	eval "$("$CLUSTER" env)"
	[ "$QSG_TLS_CA" = "$TLS/ca.crt" ] && [ -n "$QSG_CONN" ]
) || fail "scripts/cluster env"

# 1. The Raft port is TLS with the member's own certificate.
s_client() { # PORT [openssl options]: the handshake's output
	local port=$1
	shift
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$TLS/ca.crt" "$@" 2>&1 || true
}
o=$(s_client "$(raft_port QM2)" -cert "$TLS/QM1.crt" -key "$TLS/QM1.key")
grep -q 'Verify return code: 0' <<<"$o" || fail "Raft port of QM2: no verified TLS handshake: $o"
grep -q 'subject=.*CN *= *QM2' <<<"$o" || fail "Raft port of QM2 does not present QM2's certificate"
log "QM2's Raft port: TLS, certificate CN=QM2"

"$QSGADM" <<<"DEFINE QLOCAL($Q) QSGDISP(SHARED) MAXDEPTH(100000)" >/dev/null || fail "define"
L=$("$CLUSTER" leader)
F=$(other_than "$L" | sed -n 1p)
putget one "$F" "$L" 300

# 2. Kill the leader: a new one is elected over TLS.
"$CLUSTER" kill "$L"
NL=
for ((i = 0; i < 100; i++)); do
	NL=$("$CLUSTER" leader 2>/dev/null || true)
	[ -n "$NL" ] && [ "$NL" != "$L" ] && break
	sleep 0.2
done
[ -n "$NL" ] && [ "$NL" != "$L" ] || fail "no new leader after $L was killed"
log "leader $L killed; new leader $NL"
putget two "$(other_than "$L" | grep -vx "$NL" | head -1)" "$NL" 300
"$CLUSTER" start "$L"
wait_leader_of "$L" 30 || fail "$L did not rejoin over TLS"
putget three "$NL" "$L" 100
! grep -h 'QSG8004W' "$QSG_RUN_DIR"/QM*.log | grep 'is not QM\|not a member\|does not name' ||
	fail "members refused each other's certificates"

# 3. No client certificate; plaintext. Each is closed before libraft sees it.
P=$(raft_port QM1)
n0=$(refusals)
# (TLS 1.3: the client finishes before the server checks its certificate,
# so s_client must stay a moment to read the refusal.)
o=$(sleep 2 | timeout 10 openssl s_client -connect "127.0.0.1:$P" -CAfile "$TLS/ca.crt" 2>&1 || true)
grep -q 'alert certificate required\|alert handshake failure' <<<"$o" ||
	fail "Raft port accepted a handshake without a client certificate: $o"
for ((i = 0; i < 50; i++)); do [ "$(refusals)" -gt "$n0" ] && break; sleep 0.1; done
grep -q 'QSG8004W Raft TLS connection from .* refused: .*did not return a certificate' \
	"$QSG_RUN_DIR/QM1.log" || fail "no QSG8004W for the handshake without a certificate"
log "Raft port: a handshake without a client certificate is refused"
n0=$(refusals)
# libraft's own preamble in plaintext (protocol 1, id 2, address length 16,
# the address); the member must close the connection: cat sees EOF.
rc=0
timeout 10 bash -c '
	exec 3<>"/dev/tcp/127.0.0.1/$1"
	printf "\001\0\0\0\0\0\0\0\002\0\0\0\0\0\0\0\020\0\0\0\0\0\0\000127.0.0.1:2490\0\0" >&3
	cat <&3 >/dev/null' _ "$P" || rc=$?
[ "$rc" = 0 ] || fail "plaintext on the Raft port: the connection was not closed (status $rc)"
for ((i = 0; i < 50; i++)); do [ "$(refusals)" -gt "$n0" ] && break; sleep 0.1; done
[ "$(refusals)" -gt "$n0" ] || fail "no QSG8004W for plaintext"
log "Raft port: plaintext is closed ($(grep -h QSG8004W "$QSG_RUN_DIR/QM1.log" | tail -1 | sed 's/.*refused: //'))"
putget four "$F" "$NL" 50

# 4. QM3 with a certificate whose CN is not a member name never joins.
"$CLUSTER" stop QM3
cp "$QSG_RUN_DIR/QM3.ini" "$QSG_RUN_DIR/QM3.ini.good"
sed -i "s|$TLS/QM3\.|$TLS/app.|" "$QSG_RUN_DIR/QM3.ini"
grep -q "cert = $TLS/app.crt" "$QSG_RUN_DIR/QM3.ini" || fail "QM3.ini not rewritten"
n0=$(refusals)
"$CLUSTER" start QM3
L=$("$CLUSTER" leader)
[ "$L" != QM3 ] || fail "QM3 with a non-member certificate is the leader"
putget five "$(other_than QM3 | head -1)" "$L" 100 # the other two serve
in_log() { grep -q "$1" "$QSG_RUN_DIR"/QM[12].log; }
for ((i = 0; i < 100; i++)); do
	in_log 'QSG8004W Raft TLS connection from .* refused: certificate CN=app is not QM3' &&
		in_log 'QSG8004W Raft TLS connection to .*(QM3, Raft id 3) refused' && break
	sleep 0.1
done
in_log 'QSG8004W Raft TLS connection from .* refused: certificate CN=app is not QM3' ||
	fail "no member refused QM3's connection (CN=app)"
in_log 'QSG8004W Raft TLS connection to .*(QM3, Raft id 3) refused' ||
	fail "the leader did not refuse to talk to QM3 (CN=app)"
# A member without a leader answers DISPLAY QMGR late or not at all: either
# way it shows no leader.
! has_leader QM3 || fail "QM3 with CN=app learned a leader (it joined Raft)"
log "QM3 with certificate CN=app: refused both ways, no leader"
"$CLUSTER" stop QM3
cp "$QSG_RUN_DIR/QM3.ini.good" "$QSG_RUN_DIR/QM3.ini"
"$CLUSTER" start QM3
wait_leader_of QM3 30 || fail "QM3 with its own certificate did not rejoin"
putget six QM3 "$("$CLUSTER" leader)" 100

# 5. A member added online (ADD MEMBER names it: the leader expects CN=QM4
#    before QM4 has a replicated record) joins over TLS.
"$CLUSTER" join QM4 >/dev/null || fail "join QM4 in a TLS group"
putget seven QM4 "$("$CLUSTER" leader)" 100
! grep -h 'QSG8004W' "$QSG_RUN_DIR"/QM4.log | grep -q 'QM4\|not a member' ||
	fail "QM4 was refused: $(grep -h QSG8004W "$QSG_RUN_DIR"/QM4.log | tail -2)"

# 6. Another process holds QM4's Raft port (as an outgoing connection can,
#    the port being in the ephemeral range): QM4 says why it cannot start.
"$CLUSTER" stop QM4
P4=$(raft_port QM4)
python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
time.sleep(60)' "$P4" &
hold=$!
for ((i = 0; i < 50; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$P4") 2>/dev/null && break; sleep 0.1; done
rc=0
timeout 30 "$top_builddir/qsgd" -f "$QSG_RUN_DIR/QM4.ini" >"$QSG_RUN_DIR/QM4.busy.log" 2>&1 || rc=$?
kill "$hold"
wait "$hold" 2>/dev/null || true
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "QM4 with its Raft port taken: exit status $rc"
grep -q "QSG0023E Raft start: .*listen on 127.0.0.1:$P4: address already in use" \
	"$QSG_RUN_DIR/QM4.busy.log" ||
	fail "QM4 does not say why Raft did not start: $(grep QSG0023E "$QSG_RUN_DIR/QM4.busy.log")"
log "Raft port taken: $(grep -o 'QSG0023E.*' "$QSG_RUN_DIR/QM4.busy.log" | sed 's/(.*, address/(..., address/')"
log "ok"
