#!/usr/bin/python3
"""STOMP 1.2 cases against a running group, with Debian's unmodified
python3-stomp (and a raw socket where a client library would hide what
is tested: malformed frames, heart-beats, a dropped connection).
Written for qsg in the spirit of RabbitMQ's STOMP python suite (not a
copy of it). Usage: stomp_cases.py HOST:PORT,HOST:PORT,... [case ...]
Queues Q1..Q9, BO4 must exist (test_stomp.sh defines them). Exits 1 on
the first failure, saying which case and why."""
import socket
import sys
import threading
import time

import stomp

ADDRS = [(a.rsplit(':', 1)[0], int(a.rsplit(':', 1)[1])) for a in sys.argv[1].split(',')]
TIMEOUT = 10.0


class Listener(stomp.ConnectionListener):
    """Collects every frame; waits with a timeout (TestListener waits forever)."""

    def __init__(self):
        self.cv = threading.Condition()
        self.messages = []
        self.receipts = set()
        self.errors = []
        self.heartbeats = 0
        self.disconnected = False
        self.connected_headers = {}

    def on_connected(self, frame):
        self.connected_headers = dict(frame.headers)

    def on_message(self, frame):
        with self.cv:
            self.messages.append(frame)
            self.cv.notify_all()

    def on_receipt(self, frame):
        with self.cv:
            self.receipts.add(frame.headers['receipt-id'])
            self.cv.notify_all()

    def on_error(self, frame):
        with self.cv:
            self.errors.append(frame)
            self.cv.notify_all()

    def on_heartbeat(self):
        with self.cv:
            self.heartbeats += 1
            self.cv.notify_all()

    def on_disconnected(self):
        with self.cv:
            self.disconnected = True
            self.cv.notify_all()

    def wait(self, pred, what, timeout=TIMEOUT):
        with self.cv:
            if not self.cv.wait_for(pred, timeout):
                raise AssertionError('timed out waiting for ' + what)

    def wait_messages(self, n, timeout=TIMEOUT):
        self.wait(lambda: len(self.messages) >= n, '%d messages (have %d)' % (n, len(self.messages)),
                  timeout)
        return list(self.messages)

    def wait_receipt(self, r):
        self.wait(lambda: r in self.receipts or self.errors, 'receipt ' + r)
        if self.errors:
            raise AssertionError('ERROR instead of receipt %s: %s %s' %
                                 (r, self.errors[0].headers, self.errors[0].body))


def connect(member=0, heartbeats=(0, 0), decode=True, headers=None):
    c = stomp.Connection12([ADDRS[member % len(ADDRS)]], heartbeats=heartbeats,
                           auto_content_length=True, auto_decode=decode)
    lst = Listener()
    c.set_listener('l', lst)
    c.connect(wait=True, headers=headers or {})
    return c, lst


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def drain(queue, member=0, idle=1.0):
    """Everything on the queue now (ack auto), as a list of frames."""
    c, lst = connect(member)
    c.subscribe('/queue/' + queue, id='drain', ack='auto')
    n = -1
    while n != len(lst.messages):
        n = len(lst.messages)
        time.sleep(idle)
    c.disconnect(receipt='d')
    return lst.messages


def bodies(frames):
    return [f.body for f in frames]


# ---- cases ----

def case_send_receive():
    """SEND with receipts on one member, receive on another (followers
    forward); headers become properties and come back; ids map."""
    c, lst = connect(0)
    for i in range(5):
        c.send('/queue/Q1', 'hello %d' % i, headers={'receipt': 'r%d' % i, 'x-colour': 'red:%d' % i,
                                                     'correlation-id': 'corr-%d' % i})
    for i in range(5):
        lst.wait_receipt('r%d' % i)
    c.disconnect(receipt='bye')
    d, dl = connect(1)
    d.subscribe('/queue/Q1', id='s1', ack='auto')
    msgs = dl.wait_messages(5)
    check(bodies(msgs) == ['hello %d' % i for i in range(5)], 'bodies in order: %s' % bodies(msgs))
    for i, m in enumerate(msgs):
        h = m.headers
        check(h['x-colour'] == 'red:%d' % i, 'property back: %s' % h)
        check(h['correlation-id'] == 'corr-%d' % i, 'correlation-id back: %s' % h)
        check(h['subscription'] == 's1' and h['destination'] == '/queue/Q1', 'headers: %s' % h)
        check(h['persistent'] == 'true', 'persistent by default: %s' % h)
        check('ack' not in h, 'no ack header with ack:auto: %s' % h)
    d.disconnect(receipt='bye')
    check(drain('Q1') == [], 'Q1 empty after ack:auto')


def case_binary_and_ids():
    """content-length bodies with NUL bytes; message-id given by the
    producer; priority order."""
    c, lst = connect(0)
    body = bytes(range(256)) * 4
    c.send('/queue/Q2', body, headers={'receipt': 'b', 'message-id': 'my-id-1', 'priority': '2'})
    c.send('/queue/Q2', b'urgent', headers={'receipt': 'u', 'priority': '9'})
    lst.wait_receipt('b')
    lst.wait_receipt('u')
    c.disconnect()
    d, dl = connect(2, decode=False)
    d.subscribe('/queue/Q2', id='s', ack='client-individual')
    msgs = dl.wait_messages(2)
    check(msgs[0].body == b'urgent', 'priority 9 first')
    check(msgs[1].body == body, 'binary body intact (%d bytes)' % len(msgs[1].body))
    check(msgs[1].headers['message-id'] == 'my-id-1', 'message-id: %s' % msgs[1].headers)
    check(msgs[0].headers['message-id'].startswith('ID:'), 'a generated MsgId: %s' % msgs[0].headers)
    check(msgs[1].headers['priority'] == '2', 'priority header')
    for m in msgs:
        d.ack(m.headers['ack'], receipt='a' + m.headers['ack'])
        dl.wait_receipt('a' + m.headers['ack'])
    d.disconnect()
    check(drain('Q2') == [], 'Q2 empty after ACKs')


def put(queue, n, prefix='m', member=0):
    c, lst = connect(member)
    for i in range(n):
        c.send('/queue/' + queue, '%s%d' % (prefix, i), headers={'receipt': 'p%d' % i})
    for i in range(n):
        lst.wait_receipt('p%d' % i)
    c.disconnect()


def case_client_individual():
    """Unacked messages of a connection that ends come back (redelivered);
    acked ones do not."""
    put('Q3', 3)
    c, lst = connect(1)
    c.subscribe('/queue/Q3', id='s', ack='client-individual', headers={'prefetch-count': '10'})
    msgs = lst.wait_messages(3)
    byb = {m.body: m for m in msgs}
    c.ack(byb['m1'].headers['ack'], receipt='a')
    lst.wait_receipt('a')
    c.disconnect(receipt='bye')
    back = drain('Q3')
    check(sorted(bodies(back)) == ['m0', 'm2'], 'unacked come back: %s' % bodies(back))
    for m in back:
        check(m.headers.get('redelivered') == 'true' and m.headers.get('qsg-backout-count') == '1',
              'redelivered with backout count 1: %s' % m.headers)


def case_client_cumulative():
    """ack:client acknowledges every message delivered up to the one named."""
    put('Q3', 4)
    c, lst = connect(0)
    c.subscribe('/queue/Q3', id='s', ack='client', headers={'prefetch-count': '3'})
    msgs = lst.wait_messages(3)
    last = max(msgs, key=lambda m: int(m.headers['ack']))
    c.ack(last.headers['ack'], receipt='a')
    lst.wait_receipt('a')
    more = lst.wait_messages(4)  # the window moved: the 4th comes
    c.disconnect(receipt='bye')
    rest = drain('Q3')
    check(bodies(rest) == [more[3].body], 'after a cumulative ACK of 3, only the 4th (unacked) '
          'is back: %s' % bodies(rest))


def case_nack_backout_queue():
    """NACK backs out with BackoutCount+1; at BOTHRESH(2) the message moves
    to BOQNAME (BO4)."""
    put('Q4', 1, 'n')
    c, lst = connect(0)
    c.subscribe('/queue/Q4', id='s', ack='client-individual', headers={'prefetch-count': '1'})
    m = lst.wait_messages(1)[0]
    check('redelivered' not in m.headers, 'first delivery is not redelivered')
    c.nack(m.headers['ack'], receipt='n1')
    lst.wait_receipt('n1')
    m2 = lst.wait_messages(2)[1]
    check(m2.body == 'n0' and m2.headers.get('qsg-backout-count') == '1',
          'redelivered after NACK: %s' % m2.headers)
    c.nack(m2.headers['ack'], receipt='n2')
    lst.wait_receipt('n2')
    time.sleep(0.5)
    check(len(lst.messages) == 2, 'no third delivery: moved to the backout queue')
    c.disconnect()
    bo = drain('BO4')
    check(bodies(bo) == ['n0'], 'in BO4: %s' % bodies(bo))


def case_transactions():
    """BEGIN/SEND/COMMIT is one unit of work (invisible before COMMIT, the
    receipt after it); ABORT leaves nothing."""
    watcher, wl = connect(2)
    watcher.subscribe('/queue/Q5', id='w', ack='auto')
    c, lst = connect(0)
    c.begin('t1')
    for i in range(3):
        c.send('/queue/Q5', 'tx%d' % i, transaction='t1', headers={'receipt': 's%d' % i})
    for i in range(3):
        lst.wait_receipt('s%d' % i)
    time.sleep(0.5)
    check(wl.messages == [], 'nothing visible before COMMIT')
    c.begin('t2')
    c.send('/queue/Q5', 'aborted', transaction='t2')
    c.abort('t2', headers={'receipt': 'ab'})
    lst.wait_receipt('ab')
    c.commit('t1', headers={'receipt': 'co'})
    lst.wait_receipt('co')
    msgs = wl.wait_messages(3)
    time.sleep(0.5)
    check(bodies(wl.messages) == ['tx0', 'tx1', 'tx2'], 'committed only: %s' % bodies(wl.messages))
    c.disconnect()
    watcher.disconnect()


def case_transactional_ack():
    """ACK inside a transaction: ABORT forgets it, COMMIT consumes."""
    put('Q6', 2, 'a')
    c, lst = connect(1)
    c.subscribe('/queue/Q6', id='s', ack='client-individual', headers={'prefetch-count': '5'})
    msgs = lst.wait_messages(2)
    c.begin('ta')
    c.ack(msgs[0].headers['ack'], transaction='ta')
    c.abort('ta', headers={'receipt': 'ab'})
    lst.wait_receipt('ab')
    c.begin('tc')
    c.ack(msgs[0].headers['ack'], transaction='tc')
    c.send('/queue/Q7', 'reply', transaction='tc')
    c.commit('tc', headers={'receipt': 'co'})
    lst.wait_receipt('co')
    c.disconnect(receipt='bye')
    check(bodies(drain('Q6')) == [msgs[1].body], 'only the unacked one is back')
    check(bodies(drain('Q7')) == ['reply'], 'the transactional SEND committed with the ACK')


def raw(member=0):
    s = socket.create_connection(ADDRS[member % len(ADDRS)], timeout=TIMEOUT)
    return s


def raw_read_until(s, pred, timeout=TIMEOUT):
    s.settimeout(timeout)
    buf = b''
    end = time.time() + timeout
    while not pred(buf):
        if time.time() > end:
            raise AssertionError('timed out: have %r' % buf[:300])
        chunk = s.recv(65536)
        if not chunk:
            return buf, True
        buf += chunk
    return buf, False


def raw_connect(s, hb='0,0'):
    s.sendall(('CONNECT\naccept-version:1.2\nhost:qsg\nheart-beat:%s\n\n\0' % hb).encode())
    buf, _ = raw_read_until(s, lambda b: b'\0' in b)
    check(buf.startswith(b'CONNECTED\n'), 'CONNECTED: %r' % buf)
    return buf


def case_dropped_connection():
    """A connection that drops (no DISCONNECT) with unacked messages and an
    open transaction: the messages go back, the transaction vanishes."""
    put('Q8', 2, 'd')
    s = raw(0)
    raw_connect(s)
    s.sendall(b'SUBSCRIBE\nid:1\ndestination:/queue/Q8\nack:client\n\n\0'
              b'BEGIN\ntransaction:x\n\n\0SEND\ndestination:/queue/Q8\ntransaction:x\nreceipt:r\n\n'
              b'uncommitted\0')
    buf, _ = raw_read_until(s, lambda b: b.count(b'MESSAGE\n') >= 2 and b'receipt-id:r' in b)
    s.close()
    time.sleep(0.5)
    back = drain('Q8', member=1)
    check(sorted(bodies(back)) == ['d0', 'd1'], 'both back, nothing uncommitted: %s' % bodies(back))


def case_errors():
    """ERROR frames with a message header and a reason, then the
    connection is closed."""
    # An unknown queue: the reason code of MQ (2085).
    c, lst = connect(0)
    c.send('/queue/NOSUCH', 'x', headers={'receipt': 'e1'})
    lst.wait(lambda: lst.errors, 'ERROR')
    e = lst.errors[0]
    check('2085' in e.headers['message'] and e.headers.get('receipt-id') == 'e1',
          'ERROR for an unknown queue: %s %s' % (e.headers, e.body))
    lst.wait(lambda: lst.disconnected, 'the connection closed after ERROR')
    # Not a queue destination.
    c, lst = connect(1)
    c.send('/topic/x', 'x')
    lst.wait(lambda: lst.errors, 'ERROR')
    check(lst.errors[0].headers['message'] == 'bad destination', 'bad destination')
    # A malformed frame (an undefined escape), then a frame before CONNECT.
    for bad in (b'SEND\ndestination:/queue/Q1\nx:\\t\n\n\0', b'FOO\n\n\0'):
        s = raw(2)
        raw_connect(s)
        s.sendall(bad)
        buf, closed = raw_read_until(s, lambda b: False, timeout=5)
        check(buf.startswith(b'ERROR\n') and b'message:' in buf and closed,
              'ERROR then close for %r: %r' % (bad, buf))
    s = raw(0)
    s.sendall(b'SEND\ndestination:/queue/Q1\n\nx\0')
    buf, closed = raw_read_until(s, lambda b: False, timeout=5)
    check(buf.startswith(b'ERROR\n') and closed, 'ERROR before CONNECT: %r' % buf)
    # A version we do not speak.
    s = raw(0)
    s.sendall(b'CONNECT\naccept-version:1.0,1.1\nhost:x\n\n\0')
    buf, closed = raw_read_until(s, lambda b: False, timeout=5)
    check(buf.startswith(b'ERROR\n') and b'version:1.2' in buf, 'version refused: %r' % buf)


def case_heartbeats():
    """The server beats as agreed, and drops a client that stops beating
    (its unacked message goes back)."""
    s = raw(0)
    buf = raw_connect(s, '0,500')
    check(b'heart-beat:1000,0' in buf, 'negotiated 1000 ms out (max of 500 and ours): %r' % buf)
    t0 = time.time()
    got, _ = raw_read_until(s, lambda b: b.count(b'\n') >= 2, timeout=5)
    check(time.time() - t0 < 3, 'two heart-beats within 3 s')
    s.close()
    put('Q9', 1, 'h')
    s = raw(1)
    buf = raw_connect(s, '500,0')
    check(b'heart-beat:0,1000' in buf, 'we expect one every 1000 ms: %r' % buf)
    s.sendall(b'SUBSCRIBE\nid:1\ndestination:/queue/Q9\nack:client-individual\n\n\0')
    t0 = time.time()
    buf, closed = raw_read_until(s, lambda b: False, timeout=8)
    check(closed and b'MESSAGE\n' in buf, 'closed after silence: %r' % buf[:200])
    check(time.time() - t0 < 5, 'closed within 2 intervals or so')
    back = drain('Q9')
    check(bodies(back) == ['h0'], 'its unacked message is back: %s' % bodies(back))
    # python3-stomp's own heart-beating keeps a connection alive.
    c, lst = connect(2, heartbeats=(1000, 1000))
    lst.wait(lambda: lst.heartbeats >= 2, 'heart-beats from the server', timeout=6)
    check(not lst.disconnected, 'still connected')
    c.disconnect(receipt='x')


def case_unsubscribe():
    """UNSUBSCRIBE gives back what the subscription holds."""
    put('Q1', 2, 'u')
    c, lst = connect(0)
    c.subscribe('/queue/Q1', id='s', ack='client-individual', headers={'prefetch-count': '2'})
    lst.wait_messages(2)
    c.unsubscribe('s', headers={'receipt': 'un'})
    lst.wait_receipt('un')
    c.subscribe('/queue/Q1', id='s2', ack='auto')
    msgs = lst.wait_messages(4)
    check(sorted(bodies(msgs[2:])) == ['u0', 'u1'], 'redelivered to the new subscription')
    c.disconnect(receipt='bye')


def case_dedup():
    """CONNECT client-id and SEND qsg-seq: a SEND sent again on a new
    connection (another member) with the same number is not put twice;
    CONNECTED says the last number applied; a gap is an ERROR (6009)."""
    c, lst = connect(0, headers={'client-id': 'producer-7'})
    check(lst.connected_headers.get('qsg-put-seq') == '0', 'a new producer starts at 0: %s' %
          lst.connected_headers)
    for i in (1, 2):
        c.send('/queue/Q1', 'seq%d' % i, headers={'qsg-seq': str(i), 'receipt': 'q%d' % i})
        lst.wait_receipt('q%d' % i)
    c.disconnect()
    c, lst = connect(1, headers={'client-id': 'producer-7'})
    check(lst.connected_headers.get('qsg-put-seq') == '2', 'it comes back at 2: %s' %
          lst.connected_headers)
    c.send('/queue/Q1', 'seq2', headers={'qsg-seq': '2', 'receipt': 'again'})
    lst.wait_receipt('again')
    c.send('/queue/Q1', 'seq3', headers={'qsg-seq': '3', 'receipt': 'q3'})
    lst.wait_receipt('q3')
    c.send('/queue/Q1', 'seq9', headers={'qsg-seq': '9', 'receipt': 'gap'})
    lst.wait(lambda: lst.errors, 'ERROR for a gap')
    check('6009' in lst.errors[0].headers['message'], 'a gap: %s' % lst.errors[0].headers)
    got = bodies(drain('Q1', member=2))
    check(got == ['seq1', 'seq2', 'seq3'], 'each once: %s' % got)


def case_slow_consumer():
    """A client that does not read its MESSAGE frames (ack:auto) does not
    drain the queue into the member's memory: output over 8 MiB holds the
    deliveries, another consumer gets the rest, nothing is lost."""
    big = 'x' * (512 * 1024)
    c, lst = connect(0)
    for i in range(60):  # 30 MiB, 4 in flight
        c.send('/queue/Q2', '%03d' % i + big, headers={'receipt': 'b%d' % i})
        if i >= 3:
            lst.wait_receipt('b%d' % (i - 3))
    for i in range(57, 60):
        lst.wait_receipt('b%d' % i)
    c.disconnect()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(TIMEOUT)
    s.connect(ADDRS[1])
    raw_connect(s)
    s.sendall(b'SUBSCRIBE\nid:1\ndestination:/queue/Q2\nack:auto\nprefetch-count:16\n\n\0')
    time.sleep(3)  # not reading
    d, dl = connect(2)
    d.subscribe('/queue/Q2', id='s2', ack='auto')
    time.sleep(3)
    other = [m.body[:3] for m in dl.messages]
    d.disconnect()
    check(len(other) >= 20, 'another consumer got the rest (%d of 60)' % len(other))
    buf, _ = raw_read_until(s, lambda b: b.count(b'MESSAGE\n') >= 60 - len(other), timeout=30)
    s.close()
    first = [buf[k + 2:k + 5].decode() for k in range(len(buf)) if buf.startswith(b'\n\n', k)
             and buf[k + 2:k + 5].isdigit()]
    check(sorted(first + other) == ['%03d' % i for i in range(60)],
          'each once between the two: %d + %d' % (len(first), len(other)))


CASES = [case_send_receive, case_binary_and_ids, case_client_individual, case_client_cumulative,
         case_nack_backout_queue, case_transactions, case_transactional_ack,
         case_dropped_connection, case_errors, case_heartbeats, case_unsubscribe, case_dedup,
         case_slow_consumer]


def main():
    want = sys.argv[2:]
    ran = 0
    for case in CASES:
        name = case.__name__[5:]
        if want and name not in want:
            continue
        t0 = time.time()
        try:
            case()
        except Exception as e:  # noqa: BLE001 - report any failure with its case
            print('FAIL %s: %s: %s' % (name, type(e).__name__, e), flush=True)
            sys.exit(1)
        print('ok   %s (%.1f s)' % (name, time.time() - t0), flush=True)
        ran += 1
    print('%d STOMP cases passed' % ran)


if __name__ == '__main__':
    main()
