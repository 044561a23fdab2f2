#!/usr/bin/python3
"""bench/stomp.py: throughput through the STOMP gateway (docs/protocols.md)
with Debian's python3-stomp, in the shape of qsgbench's figures (issue 13
item 6): persistent messages of SIZE bytes,

  put-1    one connection, one SEND with receipt at a time (1 in flight);
  put-64   CONNS connections, each keeping WINDOW SENDs with receipts in
           flight (CONNS x WINDOW = 64 by default: 8 x 8);
  drain    CONNS consumers (ack:client-individual, prefetch-count 64, one
           ACK per message) drain what the puts left.

It only measures; the group must be up with the queue defined, e.g.

  scripts/cluster up 3          # prints QSG_STOMP=...
  qsgadm -c 127.0.0.1:16401 <<<"DEFINE QLOCAL(BENCH.STOMP) MAXDEPTH(1000000)"
  bench/stomp.py $QSG_STOMP     # or QSG_STOMP in the environment

Environment: MESSAGES (per phase, default 20000), SIZE (default 1024),
CONNS (default 8), WINDOW (default 8), QUEUE (default BENCH.STOMP).
python3-stomp costs CPU of its own (a thread per connection, Python
parsing): on a small machine the client, not the member, may be the limit;
compare with qsgbench on the same machine (docs/performance.md). Not run
by the tests (no benchmarks in CI)."""
import os
import sys
import threading
import time

import stomp

MESSAGES = int(os.environ.get('MESSAGES', '20000'))
SIZE = int(os.environ.get('SIZE', '1024'))
CONNS = int(os.environ.get('CONNS', '8'))
WINDOW = int(os.environ.get('WINDOW', '8'))
QUEUE = '/queue/' + os.environ.get('QUEUE', 'BENCH.STOMP')
addrs = [(a.rsplit(':', 1)[0], int(a.rsplit(':', 1)[1]))
         for a in (sys.argv[1] if len(sys.argv) > 1 else os.environ['QSG_STOMP']).split(',')]
BODY = b'x' * SIZE


class Counter(stomp.ConnectionListener):
    def __init__(self, conn=None):
        self.cv = threading.Condition()
        self.receipts = 0
        self.messages = 0
        self.conn = conn
        self.errors = []

    def on_receipt(self, frame):
        with self.cv:
            self.receipts += 1
            self.cv.notify_all()

    def on_message(self, frame):
        self.conn.ack(frame.headers['ack'])
        with self.cv:
            self.messages += 1
            self.cv.notify_all()

    def on_error(self, frame):
        with self.cv:
            self.errors.append(frame.headers.get('message'))
            self.cv.notify_all()


def connect(i, conn_listener=False):
    c = stomp.Connection12([addrs[i % len(addrs)]], heartbeats=(0, 0), auto_decode=False)
    lst = Counter(c if conn_listener else None)
    c.set_listener('c', lst)
    c.connect(wait=True)
    return c, lst


def producer(i, n, window, lat):
    c, lst = connect(i)
    sent = 0
    while sent < n:
        with lst.cv:
            lst.cv.wait_for(lambda: sent - lst.receipts < window or lst.errors)
            if lst.errors:
                raise SystemExit('ERROR: %s' % lst.errors[0])
        t0 = time.time()
        c.send(QUEUE, BODY, headers={'receipt': str(sent), 'persistent': 'true'})
        sent += 1
        if window == 1:
            with lst.cv:
                lst.cv.wait_for(lambda: lst.receipts == sent)
            lat.append(time.time() - t0)
    with lst.cv:
        lst.cv.wait_for(lambda: lst.receipts == n)
    c.disconnect()


def phase(name, conns, window):
    per = MESSAGES // conns
    lat = []
    th = [threading.Thread(target=producer, args=(i, per, window, lat)) for i in range(conns)]
    t0 = time.time()
    for t in th:
        t.start()
    for t in th:
        t.join()
    dt = time.time() - t0
    extra = ''
    if lat:
        lat.sort()
        extra = ' p50 %.2f ms p99 %.2f ms' % (lat[len(lat) // 2] * 1e3, lat[len(lat) * 99 // 100] * 1e3)
    print('%-7s %6d msgs %5.1f s %8.0f msgs/s%s' % (name, per * conns, dt, per * conns / dt, extra),
          flush=True)
    return per * conns


def drain(total):
    cs = [connect(i, True) for i in range(CONNS)]
    t0 = time.time()
    for k, (c, lst) in enumerate(cs):
        c.subscribe(QUEUE, id='b%d' % k, ack='client-individual', headers={'prefetch-count': '64'})
    last, idle = -1, 0
    while True:
        got = sum(lst.messages for _, lst in cs)
        if got >= total:
            break
        idle = idle + 1 if got == last else 0
        if idle > 50:
            break
        last = got
        time.sleep(0.1)
    dt = time.time() - t0
    got = sum(lst.messages for _, lst in cs)
    for c, _ in cs:
        c.disconnect()
    print('%-7s %6d msgs %5.1f s %8.0f msgs/s' % ('drain', got, dt, got / dt), flush=True)


def main():
    print('STOMP through %s, %d-byte persistent messages, queue %s' % (
        ','.join('%s:%d' % a for a in addrs), SIZE, QUEUE))
    n = phase('put-1', 1, 1)
    n += phase('put-%d' % (CONNS * WINDOW), CONNS, WINDOW)
    drain(n)


if __name__ == '__main__':
    main()
