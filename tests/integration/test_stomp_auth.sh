#!/usr/bin/env bash
# STOMP with the group's security (docs/protocols.md "Connecting"): a TLS
# group of 3 with [security] authentication = required; STOMP over TLS with
# python3-stomp: a password is checked like a libqsg HELLO (a wrong one:
# ERROR 2035), CONNECT on QMGR and the queue authority records apply (PUT
# without GET: SEND works, SUBSCRIBE gets ERROR 2035 naming GET), a client
# certificate names the user, plaintext is refused (stomp_auth.py).
PY=/usr/bin/python3 # Debian's python3-stomp
"$PY" -c 'import stomp' 2>/dev/null || {
	echo "python3-stomp is not installed (apt-get install python3-stomp): skipped"
	exit 77
}
. "$(dirname "$0")/lib.sh" 28400
here=$(cd "$(dirname "$0")" && pwd)
ADMIN_PW='Brk-Gl4ss pw!'
PW='user-Pw#1 secret'
HASH=$(printf '%s\n' "$ADMIN_PW" | "$QSGADM" --hash-password) || fail "qsgadm --hash-password"
export QSG_CLUSTER_SECURITY="authentication = required\nfail_delay_ms = 100\nadmin_password_hash = $HASH"
export QSG_USER=qsgadmin QSG_PASSWORD="$ADMIN_PW"
line=$("$CLUSTER" up 3 tls | grep '^QSG_CONN=') || fail "cluster up 3 tls"
export QSG_CONN=${line#QSG_CONN=}
eval "$("$CLUSTER" env)"
export QSG_TLS_CA QSG_TLS_CERT QSG_TLS_KEY
c1=$("$CLUSTER" conn QM1)
adm() { "$QSGADM" -c "$c1" <<<"$1" >>"$QSG_RUN_DIR/admin.out" 2>&1 || fail "as qsgadmin: $1"; }
adm "DEFINE QLOCAL(APP.Q1) QSGDISP(SHARED)"
for u in putter:putters app:apps nocon:nobody; do
	adm "DEFINE USER(${u%:*}) PASSWORD('$PW') GROUPS(${u#*:})"
done
for g in putters apps; do adm "SET AUTHREC OBJTYPE(QMGR) GROUP($g) AUTHADD(CONNECT)"; done
adm "SET AUTHREC PROFILE(APP.Q1) OBJTYPE(QUEUE) GROUP(putters) AUTHADD(PUT)"
adm "SET AUTHREC PROFILE(APP.**) OBJTYPE(QUEUE) GROUP(apps) AUTHADD(ALLMQI)"
timeout 120 "$PY" "$here/stomp_auth.py" "$QSG_STOMP" "$QSG_TLS_CA" "$QSG_TLS_CERT" \
	"$QSG_TLS_KEY" "$PW" || fail "STOMP authentication cases (above)"
grep -qi 'QSG8015W.*putter' "$QSG_RUN_DIR"/QM*.log || fail "no QSG8015W for putter's GET"
log "ok"
