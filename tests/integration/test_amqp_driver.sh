#!/usr/bin/env bash
# The AMQP 1.0 endpoint (src/amqp: listener, proton's connection driver,
# SASL, links, credit, outcomes, coordinator) driven by the unmodified
# python3-qpid-proton client (tests/integration/amqp_client.py), over
# amqpfake's in-memory backend: send and receive with ids, properties and
# priority; released / modified(delivery-failed) / rejected and their
# effects; the backout threshold; a transaction committed and one aborted,
# on both sides; SASL PLAIN with a wrong password and ANONYMOUS refused.
# The group behind the endpoint is tested by test_amqp.sh.
. "$(dirname "$0")/lib.sh" 30400
PY=/usr/bin/python3
CLIENT=$top_srcdir/tests/integration/amqp_client.py
$PY -c 'import proton' || fail "python3-qpid-proton missing: apt-get install python3-qpid-proton"
start_fake() { # PORT [--auth]
	"$top_builddir/tests/integration/amqpfake" "$@" >"$QSG_RUN_DIR/fake-$1.log" 2>&1 &
	extra_pids+=($!)
	for _ in $(seq 50); do
		grep -q '^ready' "$QSG_RUN_DIR/fake-$1.log" && return 0
		sleep 0.1
	done
	fail "amqpfake on $1 did not start"
}
P=$((QSG_PORT_BASE + 10))
start_fake $P
for c in send_receive outcomes backout_threshold transactions; do
	log "case $c"
	timeout 60 $PY "$CLIENT" "amqp://127.0.0.1:$P" $c || fail "case $c"
done
P2=$((QSG_PORT_BASE + 11))
start_fake $P2 --auth
log "case auth"
timeout 60 $PY "$CLIENT" "amqp://app:secret@127.0.0.1:$P2" auth || fail "case auth"
P3=$((QSG_PORT_BASE + 12))
start_fake $P3 --auth-tls
log "case plain_needs_tls"
timeout 60 $PY "$CLIENT" "amqp://app:secret@127.0.0.1:$P3" plain_needs_tls ||
	fail "case plain_needs_tls"
# Garbage closes only that connection: the endpoint still serves.
printf 'AMQP\0\1\0\0\xff\xff\xff\xff\xff\xff' | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$P" || true
printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$P" || true
timeout 60 $PY "$CLIENT" "amqp://127.0.0.1:$P" send_receive || fail "after garbage"
# Stop both by PID (SIGTERM: every connection closed and freed, so that
# LeakSanitizer checks what is left in a sanitizer build).
for p in "${extra_pids[@]}"; do
	kill -TERM "$p"
	wait "$p" || fail "amqpfake $p exited with $?"
done
extra_pids=()
grep -q stopped "$QSG_RUN_DIR/fake-$P.log" || fail "amqpfake did not stop cleanly"
if grep -l 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$QSG_RUN_DIR"/fake-*.log; then
	cat "$QSG_RUN_DIR"/fake-*.log
	fail "sanitizer errors"
fi
log "PASS"
