#!/usr/bin/env bash
# AMQP 1.0 over TLS (docs/protocols.md "AMQP 1.0", "TLS and SASL"): a TLS
# group of 3 with [security] authentication = required; Debian's unmodified
# python3-qpid-proton over amqps (amqp_tls.py): SASL PLAIN with the right
# password works, a wrong password, an unknown user and a user without
# CONNECT are refused; EXTERNAL with the client certificate (its CN names
# the user) works, EXTERNAL without a certificate and ANONYMOUS are
# refused; a client without TLS is refused. Then CHLAUTH SSLPEERMAP
# USERSRC(NOACCESS) on the certificate refuses EXTERNAL (as it refuses a
# libqsg client), and its removal lets it in again.
PY=/usr/bin/python3 # Debian's python3-qpid-proton
"$PY" -c 'import proton' 2>/dev/null || {
	echo "python3-qpid-proton is not installed (apt-get install python3-qpid-proton): skipped"
	exit 77
}
. "$(dirname "$0")/lib.sh" 30200
here=$(cd "$(dirname "$0")" && pwd)
ADMIN_PW='Brk-Gl4ss pw!'
PW='user-Pw#1 secret'
HASH=$(printf '%s\n' "$ADMIN_PW" | "$QSGADM" --hash-password) || fail "qsgadm --hash-password"
export QSG_CLUSTER_SECURITY="authentication = required\nfail_delay_ms = 100\nadmin_password_hash = $HASH"
export QSG_USER=qsgadmin QSG_PASSWORD="$ADMIN_PW"
out=$("$CLUSTER" up 3 tls) || fail "cluster up 3 tls"
line=$(grep '^QSG_CONN=' <<<"$out") || fail "no QSG_CONN"
export QSG_CONN=${line#QSG_CONN=}
eval "$("$CLUSTER" env)"
line=$(grep '^QSG_AMQP=' <<<"$out") || fail "scripts/cluster printed no QSG_AMQP"
QSG_AMQP=${line#QSG_AMQP=}
[ -n "$QSG_AMQP" ] || fail "no AMQP listener in a TLS group"
grep -q 'QSG9200I.*(TLS)' "$QSG_RUN_DIR"/QM1.log || fail "QM1 does not say its AMQP listener is TLS"
c1=$("$CLUSTER" conn QM1)
adm() { "$QSGADM" -c "$c1" <<<"$1" >>"$QSG_RUN_DIR/admin.out" 2>&1 || fail "as qsgadmin: $1"; }
adm "DEFINE QLOCAL(APP.Q1) QSGDISP(SHARED)"
for u in app:apps nocon:nobody; do
	adm "DEFINE USER(${u%:*}) PASSWORD('$PW') GROUPS(${u#*:})"
done
adm "SET AUTHREC OBJTYPE(QMGR) GROUP(apps) AUTHADD(CONNECT)"
adm "SET AUTHREC PROFILE(APP.**) OBJTYPE(QUEUE) GROUP(apps) AUTHADD(ALLMQI)"
leader=$("$CLUSTER" leader)
follower=$(other_than "$leader" | sed -n 1p)
amqp_of() { echo "$QSG_AMQP" | cut -d, -f"${1#QM}"; }
for via in "$follower" "$leader"; do
	log "TLS and SASL cases through $via"
	timeout 120 "$PY" "$here/amqp_tls.py" "$(amqp_of "$via")" "$QSG_TLS_CA" "$QSG_TLS_CERT" \
		"$QSG_TLS_KEY" "$PW" || fail "AMQP TLS cases through $via (above)"
done
grep -qi 'QSG8010W.*app' "$QSG_RUN_DIR"/QM*.log || fail "no QSG8010W for the wrong password"
log "CHLAUTH SSLPEERMAP on the certificate refuses EXTERNAL"
adm "SET CHLAUTH('SYSTEM.DEF.SVRCONN') TYPE(SSLPEERMAP) SSLPEER('CN=app') USERSRC(NOACCESS)"
cat >"$QSG_RUN_DIR/ext.py" <<PYEOF
import sys
from proton import Message, SSLDomain
from proton.utils import BlockingConnection
d = SSLDomain(SSLDomain.MODE_CLIENT)
d.set_trusted_ca_db("$QSG_TLS_CA")
d.set_peer_authentication(SSLDomain.VERIFY_PEER, "$QSG_TLS_CA")
d.set_credentials("$QSG_TLS_CERT", "$QSG_TLS_KEY", None)
try:
    c = BlockingConnection("amqps://" + sys.argv[1], timeout=10, ssl_domain=d,
                           allowed_mechs="EXTERNAL")
    c.create_sender("APP.Q1").send(Message(body="chlauth"))
    c.close()
except Exception as e:
    print("refused: %s" % e)
    sys.exit(3)
print("accepted")
PYEOF
rc=0
timeout 60 "$PY" "$QSG_RUN_DIR/ext.py" "$(amqp_of "$follower")" || rc=$?
[ "$rc" = 3 ] || fail "EXTERNAL under SSLPEERMAP NOACCESS: exit $rc, expected a refusal (3)"
adm "SET CHLAUTH('SYSTEM.DEF.SVRCONN') TYPE(SSLPEERMAP) SSLPEER('CN=app') ACTION(REMOVE)"
timeout 60 "$PY" "$QSG_RUN_DIR/ext.py" "$(amqp_of "$follower")" ||
	fail "EXTERNAL after the SSLPEERMAP rule was removed"
log "ok"
