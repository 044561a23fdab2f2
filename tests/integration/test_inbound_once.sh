#!/usr/bin/env bash
# One instance of an inbound channel at a time (issue 11 item 2, seed 000
# claim 13; docs/channels.md "One inbound instance"). A sender (played by a
# small protocol client, so that the old connection can be kept open and
# still push a batch) starts channel R.ONE at QM1 and commits a batch there,
# then starts the same channel, same sender epoch, at QM2 while QM1's
# instance is RUNNING and QM1 is healthy (not fenced):
#   - QM2 takes the channel over and answers with QM1's last committed
#     sequence number;
#   - QM1 ends its instance at once (END on the old connection) and a batch
#     sent on the old connection after the takeover is never committed;
#   - DISPLAY CHSTATUS shows exactly one entry, RUNNING, owned by QM2;
#   - every message sent through the current instance arrives exactly once.
# Then RQMNAME (issue 11 item 4) with a real sender at the remote queue
# manager QMR: DISPLAY CHSTATUS of the sender shows the partner QSG1; pointed
# at another queue manager (a protocol server that answers QMOTHER), the
# START is refused by the sender (QSG5043E, END 2058 to the partner).
. "$(dirname "$0")/lib.sh" 20560
BATCH=${INBOUND_BATCH:-50}
FAKE_PORT=$((QSG_PORT_BASE + 110))

line=$("$CLUSTER" up 3 remote | grep '^QSG_REMOTE_CONN=') || fail "cluster up"
G=$("$CLUSTER" conn)
R=${line#QSG_REMOTE_CONN=}
log "group $G, remote queue manager QMR at $R"
C1=$("$CLUSTER" conn QM1)
C2=$("$CLUSTER" conn QM2)
"$QSGADM" -c "$G" >/dev/null <<EOF || fail "definitions"
DEFINE CHANNEL(R.ONE) CHLTYPE(RCVR)
DEFINE QLOCAL(IN.ONE) MAXDEPTH(100000)
EOF

# The protocol client (docs/protocol.md, src/chan/chproto.h). Writes the
# bodies it had confirmed to sent.ok, those sent on the old connection after
# the takeover to sent.stale, and prints what it saw.
cat >"$QSG_RUN_DIR/client.py" <<'EOF'
import socket, struct, sys, time
a_addr, b_addr, batch, run = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
START, MSG, CONFIRM, HB, END, RESP = 40, 41, 42, 43, 44, 0x80

def s16(x):
    x = x.encode()
    return struct.pack("<H", len(x)) + x

def frame(op, body, reqid=0):
    return struct.pack("<IBBHI", 8 + len(body), 1, op, 0, reqid) + body

def connect(addr):
    h, p = addr.rsplit(":", 1)
    s = socket.create_connection((h, int(p)), timeout=10)
    s.settimeout(10)
    return s

def read_frame(s):
    hdr = b""
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            return None, None
        hdr += c
    n = struct.unpack("<I", hdr)[0]
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            return None, None
        body += c
    return body[1], body[8:]

def start(s, epoch):
    body = (struct.pack("<B", 1) + s16("R.ONE") + s16("QMFAKE") + s16("") +
            struct.pack("<QQQQQIIIBI", epoch, 0, 0, 0, 0, batch, 4194304, 300, 0, 1))
    s.sendall(frame(START, body, 1))
    op, b = read_frame(s)
    assert op == START | RESP, op
    rc = struct.unpack_from("<I", b)[0]
    tl = struct.unpack_from("<H", b, 4)[0]
    text = b[6:6 + tl].decode()
    if rc != 0:
        raise SystemExit("START refused: %d %s" % (rc, text))
    o = 6 + tl
    ql = struct.unpack_from("<H", b, o)[0]
    member, lstseq = struct.unpack_from("<IQ", b, o + 2 + ql)
    return member, lstseq

def send_batch(s, first, tag):
    bodies = []
    for i in range(batch):
        seq = first + i
        last = i == batch - 1
        body = ("%s-%d" % (tag, seq)).encode()
        bodies.append(body.decode())
        m = struct.pack("<QB", seq, 1 if last else 0)
        if last:
            m += struct.pack("<Q", 1000 + seq)
        m += s16("QSG1") + s16("IN.ONE")
        mid = struct.pack("<QQ", 0x1B0, seq) + tag.encode()[:8].ljust(8, b"\0")
        m += mid + bytes(24) + struct.pack("<BBq", 0, 1, 0)
        m += struct.pack("<I", 0) + struct.pack("<I", len(body)) + body
        s.sendall(frame(MSG, m))
    return bodies

def confirm(s):
    while True:
        try:
            op, b = read_frame(s)
        except (ConnectionResetError, socket.timeout) as e:
            return None, "connection ended: %s" % e
        if op is None:
            return None, "connection closed"
        if op == HB:
            s.sendall(frame(HB | RESP, b""))
            continue
        if op == END:
            rc = struct.unpack_from("<I", b)[0]
            return None, "END %d" % rc
        assert op == CONFIRM, op
        first, last, rc = struct.unpack_from("<QQI", b)
        return (first, last, rc), ""

ok, stale = [], []
a = connect(a_addr)
ma, l = start(a, 7)
assert l == 0, l
ok += send_batch(a, 1, "A")
c, why = confirm(a)
assert c == (1, batch, 0), (c, why)
print("QM1 (member %d) committed 1..%d" % (ma, batch))

# The same sender instance (epoch 7) reaches QM2 while QM1's instance runs.
t0 = time.time()
b = connect(b_addr)
mb, l = start(b, 7)
assert mb != ma and l == batch, (mb, l)
print("QM2 (member %d) took over at %d in %.3fs" % (mb, l, time.time() - t0))

# The old connection pushes one more batch: never committed; QM1 ends it.
try:
    stale += send_batch(a, batch + 1, "STALE")
except (BrokenPipeError, ConnectionResetError):
    pass
c, why = confirm(a)
if c is not None:
    assert c[2] != 0, ("stale batch committed", c)
    print("QM1 refused the stale batch: rc %d" % c[2])
    c, why = confirm(a)
    assert c is None, c
ended = time.time() - t0
print("QM1 ended the old instance (%s) %.3fs after the takeover" % (why, ended))
assert ended < 3.0, "the old instance was not ended at once"
a.close()

# The current instance goes on from QM1's last committed number.
for k in range(2):
    first = batch + 1 + k * batch
    ok += send_batch(b, first, "B")
    c, why = confirm(b)
    assert c == (first, first + batch - 1, 0), (c, why)
print("QM2 committed %d..%d" % (batch + 1, 3 * batch))
open(run + "/sent.ok", "w").write("\n".join(ok) + "\n")
open(run + "/sent.stale", "w").write("\n".join(stale) + "\n")
# Keep the connection open while the shell checks the status table.
open(run + "/client.ready", "w").write("ready\n")
deadline = time.time() + 60
import os
while time.time() < deadline and not os.path.exists(run + "/client.done"):
    time.sleep(0.1)
b.sendall(frame(END, struct.pack("<I", 0) + s16("done")))
b.close()
EOF
python3 "$QSG_RUN_DIR/client.py" "$C1" "$C2" "$BATCH" "$QSG_RUN_DIR" \
	>"$QSG_RUN_DIR/client.out" 2>&1 &
client=$!
extra_pids+=("$client")
for ((i = 0; i < 300; i++)); do
	[ ! -f "$QSG_RUN_DIR/client.ready" ] || break
	kill -0 "$client" 2>/dev/null || break
	sleep 0.1
done
cat "$QSG_RUN_DIR/client.out"
[ -f "$QSG_RUN_DIR/client.ready" ] || fail "protocol client: $(tail -1 "$QSG_RUN_DIR/client.out")"

# Exactly one instance in the status table: RUNNING on QM2.
"$QSGADM" -c "$C1" --json <<<"DISPLAY CHSTATUS(R.ONE) ALL" >"$QSG_RUN_DIR/chst.json"
read -r n st owner rqm reason < <(python3 -c 'import json,sys
objs=[o for l in open(sys.argv[1]) for o in json.loads(l).get("objects",[])]
o=objs[0] if objs else {}
print(len(objs), *(str(o.get(f,"")).strip().replace(" ","_") or "-" for f in ("STATUS","OWNER","RQMNAME","REASON")))' \
	"$QSG_RUN_DIR/chst.json")
log "DISPLAY CHSTATUS(R.ONE): $n entries; $st owner $owner rqmname $rqm reason $reason"
[ "$n" = 1 ] || fail "$n status entries for R.ONE"
[ "$st" = RUNNING ] && [ "$owner" = QM2 ] && [ "$rqm" = QMFAKE ] ||
	fail "R.ONE: $st on $owner from $rqm"
# QM1 ended it on seeing the entry taken (QSG5050I), or on its stale batch
# being refused if that came first (QSG5055I).
grep -Eq "QSG5050I.*R\.ONE.*taken over by an instance on QM2|QSG5055I.*R\.ONE" \
	"$QSG_RUN_DIR/QM1.log" || fail "QM1 did not log the end of its instance"
grep -E "QSG505[05]I.*R\.ONE" "$QSG_RUN_DIR/QM1.log" | tail -2
touch "$QSG_RUN_DIR/client.done"
wait "$client" || fail "protocol client: $(tail -1 "$QSG_RUN_DIR/client.out")"

# Exactly once: what the current instances committed, nothing stale.
sleep 1
"$QSGGET" -c "$G" IN.ONE --syncpoint -w 1 >"$QSG_RUN_DIR/got" 2>/dev/null || true
check_exactly_once "$QSG_RUN_DIR/sent.ok" "$QSG_RUN_DIR/got"

# RQMNAME of a sender: recorded from the partner's START reply.
"$QSGADM" -c "$G" >/dev/null <<EOF || fail "R.TWO group definitions"
DEFINE CHANNEL(R.TWO) CHLTYPE(RCVR)
DEFINE QLOCAL(IN.TWO)
EOF
"$QSGADM" -c "$R" >/dev/null <<EOF || fail "R.TWO remote definitions"
DEFINE QLOCAL(X.TWO) USAGE(XMITQ)
DEFINE QREMOTE(TO.TWO) RNAME(IN.TWO) RQMNAME(QSG1) XMITQ(X.TWO)
DEFINE CHANNEL(R.TWO) CHLTYPE(SDR) CONNAME('$G') XMITQ(X.TWO)
START CHANNEL(R.TWO)
EOF
seq -f "two-%g" 1 10 >"$QSG_RUN_DIR/sent.two"
"$QSGPUT" -c "$R" TO.TWO <"$QSG_RUN_DIR/sent.two" >/dev/null || fail "put TO.TWO"
"$QSGGET" -c "$G" IN.TWO --syncpoint -w 10 -n 10 >"$QSG_RUN_DIR/got.two" 2>/dev/null || true
check_exactly_once "$QSG_RUN_DIR/sent.two" "$QSG_RUN_DIR/got.two"
read -r st rqm < <(chst "$R" R.TWO STATUS RQMNAME)
log "sender R.TWO at QMR: $st, RQMNAME($rqm)"
[ "$st" = RUNNING ] && [ "$rqm" = QSG1 ] || fail "R.TWO: $st RQMNAME($rqm), expected RUNNING QSG1"

# Pointed at another queue manager: refused by the sender.
"$QSGADM" -c "$R" <<<"STOP CHANNEL(R.TWO)" >/dev/null || fail "STOP CHANNEL(R.TWO)"
for ((i = 0; i < 100; i++)); do
	read -r st < <(chst "$R" R.TWO STATUS)
	[ "$st" != STOPPED ] || break
	sleep 0.1
done
[ "$st" = STOPPED ] || fail "R.TWO does not stop: $st"
cat >"$QSG_RUN_DIR/other.py" <<'PYEOF'
import socket, struct, sys
port, out = int(sys.argv[1]), sys.argv[2]
def s16(x):
    x = x.encode()
    return struct.pack("<H", len(x)) + x
def read_frame(c):
    buf = b""
    while len(buf) < 4:
        d = c.recv(4 - len(buf))
        if not d:
            return None, b""
        buf += d
    n = struct.unpack("<I", buf)[0]
    body = b""
    while len(body) < n:
        d = c.recv(n - len(body))
        if not d:
            return None, b""
        body += d
    return body[1], body[8:]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
srv.settimeout(30)
open(out, "w").write("listening\n")
c, _ = srv.accept()
c.settimeout(10)
op, b = read_frame(c)
assert op == 40, op
o = 1
names = []
for _ in range(3):
    n = struct.unpack_from("<H", b, o)[0]
    names.append(b[o + 2:o + 2 + n].decode())
    o += 2 + n
epoch, lstseq = struct.unpack_from("<QQ", b, o)
# Accept, as queue manager QMOTHER, in step with the sender.
resp = (struct.pack("<I", 0) + s16("") + s16("QMOTHER") +
        struct.pack("<IQQIIIBI", 9, lstseq, 0, 50, 4194304, 300, 0, 1))
c.sendall(struct.pack("<IBBHI", 8 + len(resp), 1, 40 | 0x80, 0, 1) + resp)
op, b = read_frame(c)
rc = struct.unpack_from("<I", b)[0] if op == 44 else -1
open(out, "a").write("start %s from %s epoch %d; then op %s rc %d\n" %
                     (names[0], names[1], epoch, op, rc))
PYEOF
python3 "$QSG_RUN_DIR/other.py" "$FAKE_PORT" "$QSG_RUN_DIR/other.out" &
other=$!
extra_pids+=("$other")
for ((i = 0; i < 50; i++)); do [ ! -s "$QSG_RUN_DIR/other.out" ] || break; sleep 0.1; done
"$QSGADM" -c "$R" >/dev/null <<EOF || fail "R.TWO to QMOTHER"
ALTER CHANNEL(R.TWO) CONNAME('127.0.0.1:$FAKE_PORT')
START CHANNEL(R.TWO)
EOF
wait "$other" || fail "the other queue manager: $(cat "$QSG_RUN_DIR/other.out")"
cat "$QSG_RUN_DIR/other.out"
grep -q "then op 44 rc 2058" "$QSG_RUN_DIR/other.out" || fail "no END 2058 to the other queue manager"
for ((i = 0; i < 50; i++)); do
	! grep -q "QSG5043E.*R\.TWO.*QMOTHER.*QSG1" "$QSG_RUN_DIR/QMR.log" || break
	sleep 0.1
done
grep "QSG5043E" "$QSG_RUN_DIR/QMR.log" | tail -1
grep -q "QSG5043E.*R\.TWO.*QMOTHER.*QSG1" "$QSG_RUN_DIR/QMR.log" || fail "QMR did not log QSG5043E"
read -r st rqm < <(chst "$R" R.TWO STATUS RQMNAME)
log "sender R.TWO at QMR after the refusal: $st, RQMNAME($rqm)"
[ "$st" != RUNNING ] && [ "$rqm" = QSG1 ] || fail "R.TWO: $st RQMNAME($rqm) after the refusal"
log "PASS"
