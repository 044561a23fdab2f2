#!/usr/bin/python3
"""amqp_record.py LISTEN_PORT TARGET_PORT OUTDIR: a TCP relay that writes
each connection's client-to-server bytes to OUTDIR/conn-N, prefixed with
one mode byte (0x01: ANONYMOUS allowed, the backend accepts): seeds for
tests/fuzz/fuzz_amqp. Run amqpfake on TARGET_PORT and amqp_client.py
against LISTEN_PORT; stop it with a signal."""
import os
import socket
import sys
import threading

lp, tp, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
n = [0]


def pipe(src, dst, f):
    while True:
        b = src.recv(65536)
        if not b:
            break
        if f:
            f.write(b)
            f.flush()
        dst.sendall(b)
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", lp))
s.listen(16)
while True:
    c, _ = s.accept()
    t = socket.create_connection(("127.0.0.1", tp))
    n[0] += 1
    f = open(os.path.join(out, "conn-%d" % n[0]), "wb")
    f.write(b"\x01")
    threading.Thread(target=pipe, args=(c, t, f), daemon=True).start()
    threading.Thread(target=pipe, args=(t, c, None), daemon=True).start()
