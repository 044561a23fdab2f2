#!/usr/bin/env bash
# Garbage, truncated frames, absurd lengths and unknown ops on the client
# port: each gets a reason code or a closed connection; the member keeps
# serving everyone else with nothing lost.
. "$(dirname "$0")/lib.sh" 17600
cluster_up 3
"$QSGADM" <<<"DEFINE QLOCAL(T.BAD) QSGDISP(SHARED)" || fail "define"
addr=$("$CLUSTER" conn QM1)
seq 1 100 | sed 's/^/bad-/' >"$QSG_RUN_DIR/sent"
"$QSGPUT" -c "$addr" T.BAD <"$QSG_RUN_DIR/sent" || fail "put before garbage"
python3 - "${addr%:*}" "${addr#*:}" <<'PY' || fail "bad-input client"
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
def conv(payload, expect_reply=True):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(payload)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            data += b
            if len(data) >= 4 and len(data) >= 4 + struct.unpack("<I", data[:4])[0]: break
    except socket.timeout:
        pass
    s.close()
    return data
def hdr(op, body=b"", version=1, reqid=7, length=None):
    n = 8 + len(body) if length is None else length
    return struct.pack("<IBBHI", n, version, op, 0, reqid) + body
cases = {
  "absurd length": struct.pack("<I", 0xFFFFFFF0) + b"xxxx",
  "short length": struct.pack("<I", 3) + b"abc",
  "bad version": hdr(1, b"", version=9),
  "unknown op": hdr(99),
  "truncated hello": hdr(1, b"\x01\x02"),
  "put before hello": hdr(2, b"\x00"),
  "random garbage": bytes(range(256)) * 4,
}
for name, payload in cases.items():
    r = conv(payload)
    if len(r) >= 17:
        rc = struct.unpack("<I", r[12:16])[0]
        print(f"{name}: reply rc={rc}")
        assert rc != 0, name
    else:
        print(f"{name}: connection closed ({len(r)} bytes)")
# Half a frame then close.
s = socket.create_connection((host, port)); s.sendall(hdr(1, b"\x01" * 20)[:10]); s.close()
PY
running=$("$CLUSTER" status | grep -c '^QM[0-9] pid=[0-9]* running' || true)
[ "$running" = 3 ] || fail "only $running of 3 members running after bad input"
seq 101 200 | sed 's/^/bad-/' >>"$QSG_RUN_DIR/sent"
seq 101 200 | sed 's/^/bad-/' | "$QSGPUT" -c "$addr" T.BAD || fail "put after garbage"
"$QSGGET" -c "$addr" T.BAD -n 1000 -w 2 >"$QSG_RUN_DIR/got" || fail "get after garbage"
check_exactly_once "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got"
log "ok"
