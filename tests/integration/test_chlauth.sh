#!/usr/bin/env bash
# Channel authentication (docs/security.md "Channel authentication
# (CHLAUTH)"): a 3-member TLS group with [security] authentication =
# required and a break-glass admin; rules set through QM1, used through
# QM2 and QM3:
#   1. USERMAP: ALICE (PUT and GET on APP.Q) runs as APPPUT (PUT only) on
#      SYSTEM.DEF.SVRCONN: her put works, her get is 2035; DISPLAY CHLAUTH
#      MATCH(RUNCHECK) says so; REMOVE gives her GET back;
#   2. USERSRC(NOACCESS) for BOB: refused at HELLO (2035, QSG8017W);
#      WARN(YES): allowed, logged (QSG8016W);
#   3. BLOCKADDR('127.0.0.3'): a TCP connection from 127.0.0.3 is closed at
#      accept by every member, before any byte; ACTION(REMOVE) lets it in;
#      BLOCKADDR WARN(YES) of 127.0.0.1 only logs (QSG8016W);
#   4. DELETE USER: a connection of that user already open gets 2035 on its
#      next request and is closed (QSG8018W);
#   5. FAILDLAY per address: 5 wrong passwords at once from one address are
#      answered one fail delay apart (not all after one delay).
# Ports: members 27001.., Raft 27101..
. "$(dirname "$0")/lib.sh" 27000
ADMIN_PW='Brk-Gl4ss pw!'
PW='user-Pw#1 secret'
DELAY=300
HASH=$(printf '%s\n' "$ADMIN_PW" | "$QSGADM" --hash-password) || fail "qsgadm --hash-password"
export QSG_CLUSTER_SECURITY="authentication = required\nfail_delay_ms = $DELAY\nadmin_password_hash = $HASH"
export QSG_USER=qsgadmin QSG_PASSWORD="$ADMIN_PW"
line=$("$CLUSTER" up 3 tls | grep '^QSG_CONN=') || fail "cluster up 3 tls"
export QSG_CONN=${line#QSG_CONN=}
eval "$("$CLUSTER" env | grep QSG_TLS_)"
export QSG_TLS_CA QSG_TLS_CERT QSG_TLS_KEY
c1=$("$CLUSTER" conn QM1)
c2=$("$CLUSTER" conn QM2)
c3=$("$CLUSTER" conn QM3)

adm() { "$QSGADM" -c "$c1" <<<"$1" >>"$QSG_RUN_DIR/admin.out" 2>&1 || fail "as qsgadmin: $1: $(tail -3 "$QSG_RUN_DIR/admin.out")"; }
adm "DEFINE QLOCAL(APP.Q) QSGDISP(SHARED)"
for u in alice:alices appput:putters bob:bobs carol:alices; do
	adm "DEFINE USER(${u%:*}) PASSWORD('$PW') GROUPS(${u#*:})"
done
for g in alices putters bobs; do adm "SET AUTHREC OBJTYPE(QMGR) GROUP($g) AUTHADD(CONNECT)"; done
adm "SET AUTHREC PROFILE(APP.Q) OBJTYPE(QUEUE) GROUP(alices) AUTHADD(PUT,GET)"
adm "SET AUTHREC PROFILE(APP.Q) OBJTYPE(QUEUE) GROUP(putters) AUTHADD(PUT)"

as() { local u=$1; shift; QSG_USER=$u QSG_PASSWORD=$PW QSG_RECONNECT_TIMEOUT=3 "$@" 2>"$QSG_RUN_DIR/as.err"; }
is2035() { grep -q "2035\|NOT_AUTHORIZED" "$QSG_RUN_DIR/as.err" || fail "$1: not 2035: $(cat "$QSG_RUN_DIR/as.err")"; }
logs() { cat "$QSG_RUN_DIR"/QM*.log; }

# 0. Without rules ALICE puts and gets.
echo a0 | as alice "$QSGPUT" -c "$c2" APP.Q || fail "alice put: $(cat "$QSG_RUN_DIR/as.err")"
[ "$(as alice "$QSGGET" -c "$c2" APP.Q -n 1)" = a0 ] || fail "alice get: $(cat "$QSG_RUN_DIR/as.err")"

# 1. USERMAP ALICE -> APPPUT, set through QM1, used through QM3 at once.
adm "SET CHLAUTH('SYSTEM.DEF.SVRCONN') TYPE(USERMAP) CLNTUSER(alice) USERSRC(MAP) MCAUSER(appput) DESCR('alice runs as appput')"
echo a1 | as alice "$QSGPUT" -c "$c3" APP.Q || fail "mapped alice put: $(cat "$QSG_RUN_DIR/as.err")"
if as alice "$QSGGET" -c "$c3" APP.Q -n 1 >/dev/null; then fail "alice, mapped to APPPUT, got"; fi
is2035 "mapped alice get"
grep -q "APPPUT" "$QSG_RUN_DIR/as.err" || fail "the refusal does not name APPPUT: $(cat "$QSG_RUN_DIR/as.err")"
logs | grep QSG8015W | grep -q "user APPPUT" || fail "no QSG8015W naming APPPUT"
# CAROL (same groups as ALICE, no rule) still gets.
[ "$(as carol "$QSGGET" -c "$c3" APP.Q -n 1)" = a1 ] || fail "carol get: $(cat "$QSG_RUN_DIR/as.err")"
"$QSGADM" -c "$c2" <<<"DISPLAY CHLAUTH('SYSTEM.DEF.SVRCONN') MATCH(RUNCHECK) ADDRESS('127.0.0.1') CLNTUSER(alice)" >"$QSG_RUN_DIR/run.out" ||
	fail "RUNCHECK: $(cat "$QSG_RUN_DIR/run.out")"
grep -q "runs as APPPUT" "$QSG_RUN_DIR/run.out" || fail "RUNCHECK: $(cat "$QSG_RUN_DIR/run.out")"
"$QSGADM" -c "$c2" <<<"DISPLAY CHLAUTH(*)" >"$QSG_RUN_DIR/disp.out" || fail "DISPLAY CHLAUTH(*)"
grep -q "MCAUSER(APPPUT)" "$QSG_RUN_DIR/disp.out" || fail "DISPLAY CHLAUTH: $(cat "$QSG_RUN_DIR/disp.out")"
adm "SET CHLAUTH('SYSTEM.DEF.SVRCONN') TYPE(USERMAP) CLNTUSER(alice) ACTION(REMOVE)"
echo a2 | as alice "$QSGPUT" -c "$c3" APP.Q || fail "alice put after REMOVE"
[ "$(as alice "$QSGGET" -c "$c3" APP.Q -n 1)" = a2 ] || fail "alice get after REMOVE: $(cat "$QSG_RUN_DIR/as.err")"
log "USERMAP: alice runs as APPPUT (PUT only) through QM3, 2035 on GET; RUNCHECK; REMOVE"

# 2. NOACCESS for BOB; then WARN(YES).
adm "SET CHLAUTH('SYSTEM.*') TYPE(USERMAP) CLNTUSER(bob) USERSRC(NOACCESS)"
if echo b | as bob "$QSGPUT" -c "$c2" APP.Q; then fail "bob (NOACCESS) connected"; fi
is2035 "bob NOACCESS"
sleep 0.2
logs | grep QSG8017W | grep -q "BOB" || fail "no QSG8017W for bob"
adm "SET CHLAUTH('SYSTEM.*') TYPE(USERMAP) CLNTUSER(bob) USERSRC(NOACCESS) WARN(YES) ACTION(REPLACE)"
adm "SET AUTHREC PROFILE(APP.Q) OBJTYPE(QUEUE) GROUP(bobs) AUTHADD(PUT)"
echo b | as bob "$QSGPUT" -c "$c2" APP.Q || fail "bob (WARN(YES)) refused: $(cat "$QSG_RUN_DIR/as.err")"
sleep 0.2
logs | grep QSG8016W | grep -q "BOB" || fail "no QSG8016W for bob"
adm "SET CHLAUTH('SYSTEM.*') TYPE(USERMAP) ACTION(REMOVEALL)"
log "NOACCESS refuses bob (2035, QSG8017W); WARN(YES) logs QSG8016W and lets him in"

# 3. BLOCKADDR at accept, on every member.
probe() { # HOST:PORT -> "closed" (by the member, before any byte) or "open"
	python3 - "${1##*:}" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1.0)
s.bind(("127.0.0.3", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
try:
    print("closed" if s.recv(1) == b"" else "open")
except socket.timeout:
    print("open")
except ConnectionResetError:
    print("closed")
PY
}
for c in "$c1" "$c2" "$c3"; do [ "$(probe "$c")" = open ] || fail "127.0.0.3 refused before BLOCKADDR ($c)"; done
adm "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('10.9.9.1-20','127.0.0.3')"
for c in "$c1" "$c2" "$c3"; do [ "$(probe "$c")" = closed ] || fail "BLOCKADDR: 127.0.0.3 not refused by $c"; done
sleep 0.2
logs | grep QSG8017W | grep -q "127.0.0.3" || fail "no QSG8017W for 127.0.0.3"
"$QSGADM" -c "$c3" <<<"DISPLAY CHLAUTH('X.SVRCONN') MATCH(RUNCHECK) ADDRESS('10.9.9.7')" >"$QSG_RUN_DIR/run.out" || fail "RUNCHECK"
grep -q "BLOCKADDR" "$QSG_RUN_DIR/run.out" || fail "RUNCHECK of a blocked address: $(cat "$QSG_RUN_DIR/run.out")"
echo ok | "$QSGPUT" -c "$c2" APP.Q || fail "127.0.0.1 refused by a BLOCKADDR of 127.0.0.3"
adm "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('127.0.0.3') ACTION(REMOVE)"
for c in "$c1" "$c2" "$c3"; do [ "$(probe "$c")" = open ] || fail "127.0.0.3 still refused after REMOVE ($c)"; done
adm "SET CHLAUTH('*') TYPE(BLOCKADDR) ADDRLIST('127.0.0.1') WARN(YES) ACTION(REPLACE)"
echo w | "$QSGPUT" -c "$c3" APP.Q || fail "BLOCKADDR WARN(YES) refused 127.0.0.1"
sleep 0.2
logs | grep QSG8016W | grep -q "BLOCKADDR" || fail "no QSG8016W for BLOCKADDR WARN(YES)"
adm "SET CHLAUTH('*') TYPE(BLOCKADDR) ACTION(REMOVEALL)"
log "BLOCKADDR closes 127.0.0.3 at accept on every member; REMOVE lets it in; WARN(YES) only logs"

# 4. DELETE USER: CAROL's open connection is refused and closed.
(
	echo c1
	sleep 3
	echo c2
) | as carol "$QSGPUT" --window 1 -c "$c2" APP.Q >"$QSG_RUN_DIR/carol.out" 2>&1 &
cpid=$!
extra_pids+=("$cpid")
sleep 1.5
adm "DELETE USER(carol)"
if wait "$cpid"; then fail "carol's connection went on after DELETE USER"; fi
sleep 0.2
logs | grep QSG8018W | grep -q CAROL || fail "no QSG8018W for carol"
log "DELETE USER: carol's open connection refused (2035) and closed"

# 5. FAILDLAY per address: 5 wrong passwords at once.
t0=$(date +%s%3N)
pids=()
for i in 1 2 3 4 5; do
	(echo x | QSG_USER=alice QSG_PASSWORD=wrong-$i QSG_RECONNECT_TIMEOUT=10 "$QSGPUT" -c "$c3" APP.Q >/dev/null 2>&1) &
	pids+=($!)
done
for p in "${pids[@]}"; do if wait "$p"; then fail "a wrong password was accepted"; fi; done
dt=$(($(date +%s%3N) - t0))
[ "$dt" -ge $((4 * DELAY)) ] || fail "5 refusals from one address in $dt ms (< 4 x $DELAY ms): not one delay apart"
log "5 wrong passwords at once from 127.0.0.1: answered in $dt ms (delay $DELAY ms each, in turn)"
sleep 0.5
echo ok | as alice "$QSGPUT" -c "$c3" APP.Q || fail "alice after the refusals: $(cat "$QSG_RUN_DIR/as.err")"
log "PASS"
