#!/usr/bin/python3
"""AMQP 1.0 over TLS with authentication = required (test_amqp_tls.sh),
with Debian's unmodified python3-qpid-proton.
Usage: amqp_tls.py HOST:PORT CA CERT KEY PASSWORD
Users (defined by the test): app (group apps: CONNECT, ALLMQI on APP.**;
also the CN of the client certificate CERT), nocon (no CONNECT)."""
import sys

from proton import Message, SSLDomain, symbol
from proton.utils import BlockingConnection

ADDR, CA, CERT, KEY, PW = sys.argv[1:6]
results = []


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def domain(cert=False):
    d = SSLDomain(SSLDomain.MODE_CLIENT)
    d.set_trusted_ca_db(CA)
    d.set_peer_authentication(SSLDomain.VERIFY_PEER, CA)
    if cert:
        d.set_credentials(CERT, KEY, None)
    return d


def connect(scheme="amqps", cert=True, **kw):
    return BlockingConnection("%s://%s" % (scheme, ADDR), timeout=10,
                              ssl_domain=domain(cert) if scheme == "amqps" else None, **kw)


def round_trip(c, body):
    c.create_sender("APP.Q1").send(Message(body=body, durable=True))
    r = c.create_receiver("APP.Q1", credit=1)
    m = r.receive(timeout=10)
    if m.body != body:
        fail("got %r, expected %r" % (m.body, body))
    r.accept()
    r.close()


def refused(what, **kw):
    try:
        c = connect(**kw)
        # A connection may open before a link shows the refusal.
        round_trip(c, "should not pass")
        c.close()
    except Exception as e:
        print("ok: %s refused (%s: %s)" % (what, type(e).__name__, str(e)[:120]))
        return
    fail("%s was accepted" % what)


# The group's [tls] verify = required: every client presents a
# certificate (as to the client listener). PLAIN with the right password:
# the password decides, not the certificate.
c = connect(user="app", password=PW, allowed_mechs="PLAIN")
round_trip(c, "plain")
c.close()
print("ok: PLAIN over TLS")
refused("a wrong password", user="app", password=PW + "x", allowed_mechs="PLAIN")
refused("an unknown user", user="nobody", password=PW, allowed_mechs="PLAIN")
refused("a user without CONNECT", user="nocon", password=PW, allowed_mechs="PLAIN")
# EXTERNAL: the certificate's CN (app) is the user.
c = connect(allowed_mechs="EXTERNAL")
round_trip(c, "external")
c.close()
print("ok: EXTERNAL with the client certificate")
refused("a client without a certificate", cert=False, allowed_mechs="EXTERNAL")
refused("ANONYMOUS", allowed_mechs="ANONYMOUS")
# Plaintext to the TLS listener: no AMQP at all.
refused("a client without TLS", scheme="amqp", user="app", password=PW,
        allowed_mechs="PLAIN", allow_insecure_mechs=True)
print("all cases passed")
