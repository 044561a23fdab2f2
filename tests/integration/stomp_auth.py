#!/usr/bin/python3
"""STOMP over TLS with authentication = required and authority records
(test_stomp_auth.sh), with Debian's python3-stomp.
Usage: stomp_auth.py HOST:PORT,... CA CERT KEY PASSWORD
Users (defined by the test): app (group apps: ALLMQI on APP.**), putter
(group putters: PUT on APP.Q1), nocon (no CONNECT)."""
import socket
import ssl
import sys
import threading
import time

import stomp

ADDRS = [(a.rsplit(':', 1)[0], int(a.rsplit(':', 1)[1])) for a in sys.argv[1].split(',')]
CA, CERT, KEY, PW = sys.argv[2:6]


class L(stomp.ConnectionListener):
    def __init__(self):
        self.cv = threading.Condition()
        self.frames = []
        self.errors = []
        self.receipts = set()
        self.connected = False
        self.gone = False

    def on_connected(self, f):
        with self.cv:
            self.connected = True
            self.cv.notify_all()

    def on_message(self, f):
        with self.cv:
            self.frames.append(f)
            self.cv.notify_all()

    def on_receipt(self, f):
        with self.cv:
            self.receipts.add(f.headers['receipt-id'])
            self.cv.notify_all()

    def on_error(self, f):
        with self.cv:
            self.errors.append(f)
            self.cv.notify_all()

    def on_disconnected(self):
        with self.cv:
            self.gone = True
            self.cv.notify_all()

    def wait(self, pred, what, timeout=10):
        with self.cv:
            if not self.cv.wait_for(pred, timeout):
                raise AssertionError('timed out waiting for ' + what)


def conn(member, user=None, password=None, cert=True):
    c = stomp.Connection12([ADDRS[member]], heartbeats=(0, 0))
    c.set_ssl(for_hosts=[ADDRS[member]], ca_certs=CA, key_file=KEY if cert else None,
              cert_file=CERT if cert else None, ssl_version=ssl.PROTOCOL_TLS_CLIENT)
    lst = L()
    c.set_listener('l', lst)
    c.connect(user, password, wait=False)
    lst.wait(lambda: lst.connected or lst.errors or lst.gone, 'CONNECTED or ERROR')
    return c, lst


def check(cond, what):
    if not cond:
        print('FAIL: ' + what, flush=True)
        sys.exit(1)
    print('ok   ' + what, flush=True)


def refused(lst, what):
    lst.wait(lambda: lst.errors or lst.gone, what)
    check(lst.errors and '2035' in lst.errors[0].headers.get('message', ''),
          '%s: ERROR with 2035 (%s)' % (what, lst.errors[0].headers if lst.errors else 'closed'))


# 1. A user with ALLMQI on APP.**: send through one member, receive through another.
c, lst = conn(0, 'app', PW)
check(lst.connected, 'app connects over TLS with a password')
c.send('/queue/APP.Q1', 'secret hello', headers={'receipt': 'r'})
lst.wait(lambda: 'r' in lst.receipts or lst.errors, 'receipt')
check('r' in lst.receipts, 'app SENDs to APP.Q1')
c.disconnect()
c, lst = conn(2, 'app', PW)
c.subscribe('/queue/APP.Q1', id='s', ack='client-individual')
lst.wait(lambda: lst.frames or lst.errors, 'MESSAGE')
check(lst.frames and lst.frames[0].body == 'secret hello', 'app receives it through another member')
c.ack(lst.frames[0].headers['ack'], receipt='a')
lst.wait(lambda: 'a' in lst.receipts, 'ack receipt')
c.disconnect()

# 1a. A subscription of 32 slots: 32 more sessions, whose HELLOs take the
# connection's proved identity instead of 32 more password checks.
c, lst = conn(0, 'app', PW)
for i in range(40):
    c.send('/queue/APP.Q1', 'm%d' % i)
t0 = time.time()
c.subscribe('/queue/APP.Q1', id='s', ack='client-individual', headers={'prefetch-count': '32'})
lst.wait(lambda: len(lst.frames) >= 32 or lst.errors, '32 MESSAGEs')
dt = time.time() - t0
check(len(lst.frames) == 32, '32 messages held by one subscription (%.2f s)' % dt)
c.disconnect()
c, lst = conn(0, 'app', PW)
c.subscribe('/queue/APP.Q1', id='s', ack='auto', headers={'prefetch-count': '8'})
lst.wait(lambda: len(lst.frames) >= 40 or lst.errors, 'the 40 again')
check(len(lst.frames) == 40, 'all 40 back after the disconnect, then taken')
c.disconnect()

# 2. A wrong password.
c, lst = conn(1, 'app', 'wrong ' + PW)
refused(lst, 'a wrong password')

# 3. PUT but not GET: SEND works, SUBSCRIBE gets an ERROR naming the authority.
c, lst = conn(0, 'putter', PW)
check(lst.connected, 'putter connects')
c.send('/queue/APP.Q1', 'from putter', headers={'receipt': 'p'})
lst.wait(lambda: 'p' in lst.receipts or lst.errors, 'receipt')
check('p' in lst.receipts, 'putter SENDs to APP.Q1 (PUT)')
c.subscribe('/queue/APP.Q1', id='s', ack='auto')
refused(lst, 'putter SUBSCRIBEs to APP.Q1 (no GET)')
check('GET' in lst.errors[0].body, 'the ERROR says GET is missing: %s' % lst.errors[0].body)

# 4. A user without CONNECT.
c, lst = conn(0, 'nocon', PW)
refused(lst, 'nocon (no CONNECT on QMGR)')

# 5. The client certificate names the user (CN=app), no password.
c, lst = conn(1)
check(lst.connected, 'the client certificate (CN app) authenticates')
c.subscribe('/queue/APP.Q1', id='s', ack='auto')
lst.wait(lambda: lst.frames or lst.errors, 'MESSAGE')
check(lst.frames and lst.frames[0].body == 'from putter', 'and app GETs through it')
c.disconnect()

# 6. Plaintext on a TLS-only listener: no STOMP frame comes back.
s = socket.create_connection(ADDRS[0], timeout=5)
s.sendall(b'CONNECT\naccept-version:1.2\nhost:x\nlogin:app\npasscode:x\n\n\0')
try:
    data = s.recv(100)
except OSError:
    data = b''
check(not data.startswith(b'CONNECTED'), 'plaintext is refused on a TLS-only listener (%r)' % data[:20])
print('STOMP authentication cases passed')
