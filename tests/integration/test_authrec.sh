#!/usr/bin/env bash
# Authority records (docs/security.md "Authority records"): a 3-member TLS
# group (scripts/cluster up 3 tls) with [security] authentication = required
# and a break-glass admin, which grants (SET AUTHREC) through QM1:
#   1. a user without CONNECT on QMGR is refused at HELLO (2035);
#   2. a user with PUT but not GET puts, and gets 2035 on GET, with a
#      QSG8015W line naming the user, the authority and the queue;
#   3. a user with BROWSE only browses, and gets 2035 on GET;
#   4. a grant through QM1 applies at once through QM3 (the record is
#      replicated; the connection's cache follows the generation);
#   5. a generic profile APP.** grants, a more specific APP.SECRET NONE
#      denies (put and get 2035), other APP queues still allowed;
#   5a. a large message (put in parts) is got by a user with GET;
#   5b. a QSGDISP(QMGR) record set through QM1 holds on QM1 only;
#   6. DISPLAY QLOCAL(*) shows only the queues the user has DSP on;
#   8. a member of [security] admin_group (set to qsgops) needs no record;
#   7. an admin command without CHG on QMGR (DEFINE USER, SET AUTHREC) is
#      refused with 2035; DISPLAY AUTHREC and ENTAUTH show the records.
# Ports: members 25401.., Raft 25501..
. "$(dirname "$0")/lib.sh" 25400
ADMIN_PW='Brk-Gl4ss pw!'
PW='user-Pw#1 secret'
HASH=$(printf '%s\n' "$ADMIN_PW" | "$QSGADM" --hash-password) || fail "qsgadm --hash-password"
export QSG_CLUSTER_SECURITY="authentication = required\nfail_delay_ms = 100\nadmin_password_hash = $HASH\nadmin_group = qsgops"
export QSG_USER=qsgadmin QSG_PASSWORD="$ADMIN_PW"
line=$("$CLUSTER" up 3 tls | grep '^QSG_CONN=') || fail "cluster up 3 tls"
export QSG_CONN=${line#QSG_CONN=}
eval "$("$CLUSTER" env | grep QSG_TLS_)"
export QSG_TLS_CA QSG_TLS_CERT QSG_TLS_KEY
c1=$("$CLUSTER" conn QM1)
c3=$("$CLUSTER" conn QM3)

adm() { "$QSGADM" -c "$c1" <<<"$1" >>"$QSG_RUN_DIR/admin.out" 2>&1 || fail "as qsgadmin: $1"; }
for q in APP.Q1 APP.Q2 APP.SECRET OTHER.Q; do adm "DEFINE QLOCAL($q) QSGDISP(SHARED)"; done
for u in putter:putters browser:browsers app:apps nocon:nobody op:qsgops; do
	adm "DEFINE USER(${u%:*}) PASSWORD('$PW') GROUPS(${u#*:})"
done
for g in putters browsers apps; do adm "SET AUTHREC OBJTYPE(QMGR) GROUP($g) AUTHADD(CONNECT)"; done
adm "SET AUTHREC PROFILE(APP.Q1) OBJTYPE(QUEUE) GROUP(putters) AUTHADD(PUT)"
adm "SET AUTHREC PROFILE(APP.Q1) OBJTYPE(QUEUE) GROUP(browsers) AUTHADD(BROWSE)"
adm "SET AUTHREC PROFILE(APP.**) OBJTYPE(QUEUE) GROUP(apps) AUTHADD(ALLMQI,DSP)"
adm "SET AUTHREC PROFILE(APP.SECRET) OBJTYPE(QUEUE) GROUP(apps) AUTHADD(NONE)"
# The admin fills the queues.
for q in APP.Q1 APP.SECRET; do echo "m-$q" | "$QSGPUT" -c "$c1" "$q" || fail "admin put $q"; done

putq() { echo x | "$QSGPUT" -c "$c3" "$1"; }
admq() { printf '%s\n' "$1" | "$QSGADM" -c "$c3"; }
# as USER CMD...: run CMD with USER's credentials (stderr in as.err).
as() { local u=$1; shift; QSG_USER=$u QSG_PASSWORD=$PW QSG_RECONNECT_TIMEOUT=3 "$@" 2>"$QSG_RUN_DIR/as.err"; }
denied() { # WHAT USER AUTH QUEUE CMD...: CMD fails with 2035, logged
	local what=$1 u=$2 auth=$3 q=$4
	shift 4
	if as "$u" "$@" </dev/null >"$QSG_RUN_DIR/as.out"; then fail "$what: allowed"; fi
	grep -q "2035\|NOT_AUTHORIZED" "$QSG_RUN_DIR/as.err" "$QSG_RUN_DIR/as.out" ||
		fail "$what: not 2035: $(cat "$QSG_RUN_DIR/as.err" "$QSG_RUN_DIR/as.out")"
	if [ -n "$auth" ]; then
		grep -q "needs $auth on [A-Z]*($q)\|needs $auth on OBJTYPE($q)" "$QSG_RUN_DIR/as.err" "$QSG_RUN_DIR/as.out" ||
			fail "$what: the text does not say $auth on $q"
		sleep 0.2
		cat "$QSG_RUN_DIR"/QM*.log | grep QSG8015W | grep -i "user $u " | grep "no $auth authority" | grep -q "$q" ||
			fail "$what: no QSG8015W line naming $u, $auth and $q"
	fi
	log "$what: refused ($(head -c 200 "$QSG_RUN_DIR/as.err" "$QSG_RUN_DIR/as.out" | tr '\n' ' '))"
}

# 1. CONNECT.
if echo x | as nocon "$QSGPUT" -c "$c3" APP.Q1; then fail "a user without CONNECT connected"; fi
grep -q "2035\|NOT_AUTHORIZED" "$QSG_RUN_DIR/as.err" || fail "no CONNECT: $(cat "$QSG_RUN_DIR/as.err")"
grep -q CONNECT "$QSG_RUN_DIR/as.err" || fail "no CONNECT: the text does not say CONNECT"
log "a user without CONNECT on QMGR is refused at HELLO"

# 2. PUT but not GET.
echo "from-putter" | as putter "$QSGPUT" -c "$c3" APP.Q1 || fail "putter cannot put: $(cat "$QSG_RUN_DIR/as.err")"
denied "putter GET" putter GET APP.Q1 "$QSGGET" -c "$c3" APP.Q1 -n 1
denied "putter PUT on another queue" putter PUT APP.Q2 putq APP.Q2

# 3. BROWSE but not GET.
got=$(as browser "$QSGGET" -c "$c3" APP.Q1 --browse -n 1) || fail "browser cannot browse: $(cat "$QSG_RUN_DIR/as.err")"
[ "$got" = "m-APP.Q1" ] || fail "browser browsed '$got'"
denied "browser GET" browser GET APP.Q1 "$QSGGET" -c "$c3" APP.Q1 -n 1
log "PUT-only and BROWSE-only users: allowed what they have, 2035 on GET"

# 4. A grant through QM1 applies at once through QM3 (on a connection made
# before it: the cache follows the records' generation), and a removal too.
adm "SET AUTHREC PROFILE(APP.Q1) OBJTYPE(QUEUE) GROUP(putters) AUTHADD(GET)"
t0=$(date +%s%3N)
ok=
for _ in $(seq 1 20); do
	if got=$(as putter "$QSGGET" -c "$c3" APP.Q1 -n 1); then ok=1; break; fi
	sleep 0.05
done
[ -n "$ok" ] || fail "the GET granted through QM1 does not apply through QM3"
log "GET granted through QM1, used through QM3 $(($(date +%s%3N) - t0)) ms later (got '$got')"
adm "SET AUTHREC PROFILE(APP.Q1) OBJTYPE(QUEUE) GROUP(putters) AUTHRMV(GET)"
sleep 0.3
denied "putter GET after AUTHRMV" putter GET APP.Q1 "$QSGGET" -c "$c3" APP.Q1 -n 1

# 5. APP.** grants, APP.SECRET NONE denies.
echo "from-app" | as app "$QSGPUT" -c "$c3" APP.Q2 || fail "app cannot put to APP.Q2 (APP.**)"
got=$(as app "$QSGGET" -c "$c3" APP.Q2 -n 1) || fail "app cannot get from APP.Q2"
[ "$got" = "from-app" ] || fail "app got '$got'"
denied "app GET APP.SECRET" app GET APP.SECRET "$QSGGET" -c "$c3" APP.SECRET -n 1
denied "app PUT APP.SECRET" app PUT APP.SECRET putq APP.SECRET
denied "app PUT OTHER.Q" app PUT OTHER.Q putq OTHER.Q
log "APP.** grants, APP.SECRET NONE denies, OTHER.Q not granted"

# 5a. A large message (put in parts) got through QM3 by a user with GET.
adm "DEFINE QLOCAL(APP.BIG) QSGDISP(SHARED) MAXMSGL(8388608)"
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$QSG_RUN_DIR/big"
"$QSGPUT" -c "$c1" -f "$QSG_RUN_DIR/big" APP.BIG || fail "admin put of 3 MiB"
as app "$QSGGET" -c "$c3" APP.BIG -n 1 -w 10 --raw --read-ahead 1 >"$QSG_RUN_DIR/big.got" ||
	fail "app cannot get a large message: $(cat "$QSG_RUN_DIR/as.err")"
cmp -s "$QSG_RUN_DIR/big" "$QSG_RUN_DIR/big.got" || fail "the large message differs"
as app "$QSGPUT" -c "$c3" -f "$QSG_RUN_DIR/big" APP.BIG || fail "app cannot put 3 MiB (PUT_CHUNK)"
"$QSGGET" -c "$c1" APP.BIG -n 1 -w 10 --raw >"$QSG_RUN_DIR/big.got2" || fail "admin get of app's large message"
cmp -s "$QSG_RUN_DIR/big" "$QSG_RUN_DIR/big.got2" || fail "app's large message differs"
if as putter "$QSGPUT" -c "$c3" -f "$QSG_RUN_DIR/big" APP.BIG; then fail "putter put 3 MiB to APP.BIG"; fi
grep -q "2035\|NOT_AUTHORIZED" "$QSG_RUN_DIR/as.err" || fail "putter's large put: $(cat "$QSG_RUN_DIR/as.err")"
log "a 3 MiB message (put in parts) put and got by app through QM3; putter refused"
# libqsg's synchronous get and browse (GETX/BROWSEX, then GET_PART of the
# other parts: allowed for the messages GETX/BROWSEX gave the connection).
"$QSGPUT" -c "$c1" -f "$QSG_RUN_DIR/big" APP.BIG || fail "admin put of 3 MiB"
as app "$top_builddir/tests/integration/largeuow" "$c3" APP.BIG "$QSG_RUN_DIR/big" ||
	fail "largeuow as app: $(cat "$QSG_RUN_DIR/as.err")"
log "GETX, BROWSEX and GET_PART of a large message as app through QM3"

# 5b. A member-scope record (QSGDISP(QMGR), set through QM1) holds on QM1
# only: there APPS may only browse APP queues; QM3 still follows the
# group's records.
adm "SET AUTHREC PROFILE(APP.**) OBJTYPE(QUEUE) GROUP(apps) AUTHADD(BROWSE) QSGDISP(QMGR)"
echo "scoped" | as app "$QSGPUT" -c "$c3" APP.Q2 || fail "app cannot put through QM3 after a QM1-only record"
denied "app GET through QM1 (QM1-only record)" app GET APP.Q2 "$QSGGET" -c "$c1" APP.Q2 -n 1
got=$(as app "$QSGGET" -c "$c3" APP.Q2 -n 1) || fail "app cannot get through QM3: $(cat "$QSG_RUN_DIR/as.err")"
[ "$got" = "scoped" ] || fail "app got '$got' through QM3"
adm "DELETE AUTHREC PROFILE(APP.**) OBJTYPE(QUEUE) GROUP(apps) QSGDISP(QMGR)"
log "a QSGDISP(QMGR) record set through QM1 holds on QM1 only"

# 6. DISPLAY QLOCAL(*) shows only what app has DSP on.
as app "$QSGADM" -c "$c3" <<<"DISPLAY QLOCAL(*)" >"$QSG_RUN_DIR/disp.out" || fail "DISPLAY QLOCAL(*) as app: $(cat "$QSG_RUN_DIR/as.err")"
grep -q "APP.Q1" "$QSG_RUN_DIR/disp.out" || fail "app does not see APP.Q1: $(cat "$QSG_RUN_DIR/disp.out")"
! grep -q "APP.SECRET\|OTHER.Q" "$QSG_RUN_DIR/disp.out" || fail "app sees queues without DSP: $(cat "$QSG_RUN_DIR/disp.out")"
"$QSGADM" -c "$c3" <<<"DISPLAY QLOCAL(*)" >"$QSG_RUN_DIR/disp-admin.out" || fail "DISPLAY QLOCAL(*) as qsgadmin"
grep -q "APP.SECRET" "$QSG_RUN_DIR/disp-admin.out" || fail "the admin does not see APP.SECRET"
log "DISPLAY QLOCAL(*) as app: only the queues with DSP"

# 7. Admin commands need CHG on QMGR.
denied "app DEFINE USER" app CHG QMGR admq "DEFINE USER(eve) PASSWORD('eve-pw-1234')"
denied "app SET AUTHREC" app CHG QMGR admq "SET AUTHREC PROFILE(**) OBJTYPE(QUEUE) GROUP(apps) AUTHADD(ALL)"
denied "app DEFINE QLOCAL" app CRT APP.NEW admq "DEFINE QLOCAL(APP.NEW)"
"$QSGADM" -c "$c3" <<<"DISPLAY AUTHREC GROUP(apps)" >"$QSG_RUN_DIR/authrec.out" || fail "DISPLAY AUTHREC"
grep -A2 "PROFILE(APP.SECRET)" "$QSG_RUN_DIR/authrec.out" | grep -q "AUTHLIST(NONE)" || fail "DISPLAY AUTHREC: $(cat "$QSG_RUN_DIR/authrec.out")"
"$QSGADM" -c "$c3" <<<"DISPLAY ENTAUTH OBJNAME(APP.Q1) OBJTYPE(QUEUE) PRINCIPAL(app)" >"$QSG_RUN_DIR/entauth.out" || fail "DISPLAY ENTAUTH"
grep -q "AUTHLIST(BROWSE,GET,INQ,PUT,SET,DSP)" "$QSG_RUN_DIR/entauth.out" || fail "DISPLAY ENTAUTH: $(cat "$QSG_RUN_DIR/entauth.out")"
log "admin commands without CHG on QMGR refused; DISPLAY AUTHREC and ENTAUTH"

# 8. A member of [security] admin_group (QSGOPS here) needs no record.
as op admq "DEFINE QLOCAL(OPS.Q)" >"$QSG_RUN_DIR/op.out" || fail "admin_group member cannot DEFINE: $(cat "$QSG_RUN_DIR/op.out")"
echo "op" | as op "$QSGPUT" -c "$c3" APP.SECRET || fail "admin_group member cannot put to APP.SECRET"
log "a member of admin_group QSGOPS may do anything"
log "PASS"
