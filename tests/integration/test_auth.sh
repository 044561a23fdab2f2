#!/usr/bin/env bash
# Authentication (docs/security.md "Authentication"): a 3-member TLS group
# (scripts/cluster up 3 tls) with [security] authentication = required and
# a break-glass admin (admin_password_hash from qsgadm --hash-password).
#   1. refused with QSG_RC_NOT_AUTHORIZED (2035) after the fail delay: no
#      credentials, a wrong password, an unknown user (same text as a wrong
#      password); each refusal is a QSG8010W line naming the user and peer;
#   2. DEFINE USER through the break-glass admin on one member; the new user
#      connects through another member at once (the record is replicated)
#      and puts/gets; DISPLAY USER shows its groups, never the credential;
#   3. ALTER USER PASSWORD: the old password is refused, the new accepted;
#   4. a member link (HELLO kind 2) is refused with the client's certificate
#      or another member's, accepted with the member's own;
#   5. the passwords appear in no member log, no DISPLAY output and nowhere
#      in the members' data directories (Raft log, snapshots, store).
# Ports: members 25201.., Raft 25301..
. "$(dirname "$0")/lib.sh" 25200
Q=AUTH.Q
DELAY=700
ADMIN_PW='Brk-Gl4ss pw!'
PW1='alice-Pw#1 first'
PW2='alice-Pw#2 second'
HASH=$(printf '%s\n' "$ADMIN_PW" | "$QSGADM" --hash-password) || fail "qsgadm --hash-password"
case $HASH in pbkdf2-sha256\$100000\$*) ;; *) fail "hash text form: $HASH" ;; esac
export QSG_CLUSTER_SECURITY="authentication = required\nfail_delay_ms = $DELAY\nadmin_password_hash = $HASH"
# The break-glass identity for scripts/cluster's own qsgadm calls and ours.
export QSG_USER=qsgadmin QSG_PASSWORD="$ADMIN_PW"
line=$("$CLUSTER" up 3 tls | grep '^QSG_CONN=') || fail "cluster up 3 tls"
export QSG_CONN=${line#QSG_CONN=}
eval "$("$CLUSTER" env | grep QSG_TLS_)"
export QSG_TLS_CA QSG_TLS_CERT QSG_TLS_KEY
grep -q QSG8013I "$QSG_RUN_DIR/QM1.log" || fail "QM1 does not log its authentication mode"
! grep -q QSG8012W "$QSG_RUN_DIR/QM1.log" || fail "QM1 says authentication is off"
c1=$("$CLUSTER" conn QM1)
c3=$("$CLUSTER" conn QM3)
"$QSGADM" -c "$c1" <<<"DEFINE QLOCAL($Q) QSGDISP(SHARED)" >/dev/null || fail "define queue as qsgadmin"
# What the group APPS may do (docs/security.md "Authority records").
for c in "SET AUTHREC OBJTYPE(QMGR) GROUP(apps) AUTHADD(CONNECT,DSP)" \
	"SET AUTHREC PROFILE($Q) OBJTYPE(QUEUE) GROUP(apps) AUTHADD(PUT,GET)"; do
	"$QSGADM" -c "$c1" <<<"$c" >/dev/null || fail "$c"
done

now_ms() { date +%s%3N; }
refusals() { cat "$QSG_RUN_DIR"/QM*.log | grep -c QSG8010W || true; }
# refused WHAT USER PASSWORD: a put as USER/PASSWORD (USER "" = none) fails
# with 2035 after the delay, and one more QSG8010W line names the user.
refused() {
	local what=$1 user=$2 pw=$3 t0 t1 n0 n1
	n0=$(refusals)
	t0=$(now_ms)
	if echo x | QSG_USER=$user QSG_PASSWORD=$pw QSG_RECONNECT_TIMEOUT=3 \
		"$QSGPUT" -c "$c3" "$Q" 2>"$QSG_RUN_DIR/refused.err"; then
		fail "$what: accepted"
	fi
	t1=$(now_ms)
	grep -q "2035\|NOT_AUTHORIZED" "$QSG_RUN_DIR/refused.err" ||
		fail "$what: not 2035: $(cat "$QSG_RUN_DIR/refused.err")"
	[ $((t1 - t0)) -ge $DELAY ] || fail "$what: refused after $((t1 - t0)) ms, before the delay"
	sleep 0.2
	n1=$(refusals)
	[ "$n1" -gt "$n0" ] || fail "$what: no QSG8010W line"
	if [ -n "$user" ]; then
		cat "$QSG_RUN_DIR"/QM*.log | grep QSG8010W | grep -qi "user $user from 127.0.0.1" ||
			fail "$what: the QSG8010W line does not name $user and the peer"
	fi
	log "$what: refused in $((t1 - t0)) ms ($(head -c 160 "$QSG_RUN_DIR/refused.err"))"
}
refused "no credentials" "" ""
refused "wrong break-glass password" qsgadmin "not the password"
cp "$QSG_RUN_DIR/refused.err" "$QSG_RUN_DIR/wrongpw.err"
refused "unknown user" nobody "whatever"
# The same text for an unknown user and a wrong password.
sed 's/.*NOT_AUTHORIZED//' "$QSG_RUN_DIR/wrongpw.err" >"$QSG_RUN_DIR/a"
sed 's/.*NOT_AUTHORIZED//' "$QSG_RUN_DIR/refused.err" >"$QSG_RUN_DIR/b"
cmp -s "$QSG_RUN_DIR/a" "$QSG_RUN_DIR/b" || fail "unknown user and wrong password differ"

# 2. DEFINE USER on QM1 (quoted: case kept in the command, the name folds
# to upper case); alice connects through QM3 at once.
out=$("$QSGADM" -c "$c1" <<<"DEFINE USER('alice') PASSWORD('$PW1') GROUPS(apps, ops) DESCR('test user')") ||
	fail "DEFINE USER: $out"
echo "$out" >"$QSG_RUN_DIR/define.out"
grep -q "USER(ALICE) defined" <<<"$out" || fail "DEFINE USER reply: $out"
echo "hello-alice" | QSG_USER=alice QSG_PASSWORD=$PW1 "$QSGPUT" -c "$c3" "$Q" ||
	fail "alice cannot put through QM3 right after DEFINE USER on QM1"
got=$(QSG_USER=ALICE QSG_PASSWORD=$PW1 "$QSGGET" -c "$("$CLUSTER" conn QM2)" "$Q" -n 1 -w 5) ||
	fail "alice cannot get through QM2"
[ "$got" = "hello-alice" ] || fail "alice got '$got'"
grep -q "user ALICE from 127.0.0.1:[0-9]* authenticated by password" "$QSG_RUN_DIR/QM3.log" ||
	fail "no QSG8011I line for alice on QM3"
log "alice defined on QM1, authenticated on QM3 and QM2 at once"
# The password file: refused unless 0600, accepted with it.
printf '%s\n' "$PW1" >"$QSG_RUN_DIR/pw"
chmod 644 "$QSG_RUN_DIR/pw"
if echo x | env -u QSG_PASSWORD QSG_USER=alice QSG_PASSWORD_FILE="$QSG_RUN_DIR/pw" \
	"$QSGPUT" -c "$c3" "$Q" 2>"$QSG_RUN_DIR/pwfile.err"; then
	fail "a password file of mode 0644 was used"
fi
grep -q "mode 0600" "$QSG_RUN_DIR/pwfile.err" || fail "pwfile refusal: $(cat "$QSG_RUN_DIR/pwfile.err")"
chmod 600 "$QSG_RUN_DIR/pw"
echo x | env -u QSG_PASSWORD QSG_USER=alice QSG_PASSWORD_FILE="$QSG_RUN_DIR/pw" \
	"$QSGPUT" -c "$c3" "$Q" || fail "password file of mode 0600 refused"
"$QSGADM" -u alice --password-file "$QSG_RUN_DIR/pw" -c "$c3" <<<"DISPLAY USER(*) ALL" \
	>"$QSG_RUN_DIR/display.out" || fail "DISPLAY USER as alice"
grep -q "GROUPS(APPS,OPS)" "$QSG_RUN_DIR/display.out" || fail "DISPLAY USER: $(cat "$QSG_RUN_DIR/display.out")"
grep -q "ALTDATE(" "$QSG_RUN_DIR/display.out" || fail "DISPLAY USER ALL has no ALTDATE"
rm -f "$QSG_RUN_DIR/pw"

# 3. ALTER USER PASSWORD through QM2: the old password stops working (on
# each member once it applied the change), the new one works.
out=$("$QSGADM" -c "$("$CLUSTER" conn QM2)" <<<"ALTER USER(alice) PASSWORD('$PW2')") ||
	fail "ALTER USER: $out"
echo "$out" >>"$QSG_RUN_DIR/define.out"
refused "alice's old password" alice "$PW1"
echo "new" | QSG_USER=alice QSG_PASSWORD=$PW2 "$QSGPUT" -c "$c1" "$Q" || fail "new password refused"
log "ALTER USER PASSWORD: old refused, new accepted"
# A user deleted cannot connect.
"$QSGADM" -c "$c1" <<<"DEFINE USER(bob) PASSWORD('bob-pw-123')" >/dev/null || fail "DEFINE USER(bob)"
"$QSGADM" -c "$c1" <<<"DELETE USER(bob)" >/dev/null || fail "DELETE USER(bob)"
refused "deleted user" bob "bob-pw-123"

# Member links (HELLO kind 2): only from a certificate naming that member.
member_hello() { # CERTNAME MEMBER_ID: prints the reason code of QM3's answer
	python3 - "$QSG_RUN_DIR/tls" "$1" "$2" "${c3%:*}" "${c3#*:}" <<'PY'
import socket, ssl, struct, sys
d, name, mid, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(cafile=d + "/ca.crt")
ctx.check_hostname = False
ctx.load_cert_chain(d + "/" + name + ".crt", d + "/" + name + ".key")
with socket.create_connection((host, port), timeout=10) as raw:
    with ctx.wrap_socket(raw) as s:
        body = struct.pack("<BQIH", 2, 0, mid, 0)  # kind member, client_id, member_id, app ""
        s.sendall(struct.pack("<IBBHI", 8 + len(body), 1, 1, 0, 7) + body)
        buf = b""
        while len(buf) < 16:
            got = s.recv(4096)
            if not got:
                break
            buf += got
        print(struct.unpack_from("<I", buf, 12)[0] if len(buf) >= 16 else "closed")
PY
}
rc=$(member_hello app 1) || fail "member HELLO script"
[ "$rc" = 2035 ] || fail "a member HELLO with the app certificate was answered $rc, not 2035"
grep -q QSG8014W "$QSG_RUN_DIR/QM3.log" || fail "no QSG8014W line for the forged member link"
rc=$(member_hello QM1 2) || fail "member HELLO script"
[ "$rc" = 2035 ] || fail "QM1's certificate claiming member 2 was answered $rc, not 2035"
rc=$(member_hello QM1 1) || fail "member HELLO script"
[ "$rc" = 0 ] || fail "QM1's own member HELLO was answered $rc"
log "member links: refused with a client's or another member's certificate, accepted with the member's"

# 4. No password anywhere: logs, DISPLAY and qsgadm output, data directories.
for pw in "$ADMIN_PW" "$PW1" "$PW2" "bob-pw-123"; do
	if grep -rlaF -- "$pw" "$QSG_RUN_DIR"/QM*.log "$QSG_RUN_DIR"/QM1 "$QSG_RUN_DIR"/QM2 \
		"$QSG_RUN_DIR"/QM3 "$QSG_RUN_DIR"/*.out; then
		fail "a password is stored or logged in the files above"
	fi
done
grep -q "PASSWORD(\*\*\*\*\*\*\*\*)" "$QSG_RUN_DIR/define.out" ||
	fail "qsgadm does not echo PASSWORD(********): $(cat "$QSG_RUN_DIR/define.out")"
log "no password in logs, replies or data directories"
log PASS
