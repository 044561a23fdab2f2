#!/usr/bin/python3
"""AMQP 1.0 client checks with the unmodified python3-qpid-proton (Debian):
amqp_client.py URL CASE. Each case exits 0 when it holds, non-zero with a
message when not. Used by test_amqp_driver.sh (the endpoint over an
in-memory backend) and meant for test_amqp.sh against a group."""
import os
import sys

from proton import Message, Delivery, symbol
from proton.handlers import MessagingHandler, TransactionHandler
from proton.reactor import Container, AtMostOnce
from proton import ConnectionException
from proton.utils import BlockingConnection, SendException


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def send_receive(url):
    c = BlockingConnection(url, timeout=10)
    s = c.create_sender("APP.Q")
    for i in range(20):
        s.send(Message(id="m-%d" % i, correlation_id="c-%d" % i, durable=True, priority=5,
                       properties={"n": i, "kind": "test"}, body="hello %d" % i))
    r = c.create_receiver("APP.Q", credit=5)
    for i in range(20):
        m = r.receive(timeout=10)
        if m.body != "hello %d" % i:
            fail("body %r, expected hello %d" % (m.body, i))
        if m.id != "m-%d" % i or m.correlation_id != "c-%d" % i:
            fail("ids %r %r" % (m.id, m.correlation_id))
        if m.properties.get("n") != i or m.properties.get("kind") != "test":
            fail("properties %r" % (m.properties,))
        if not m.durable or m.priority != 5:
            fail("durable %r priority %r" % (m.durable, m.priority))
        r.accept()
    r.close()
    # Binary body and a pre-settled (at most once) receiver.
    s.send(Message(body=b"\x00\x01\x02"))
    r2 = c.create_receiver("APP.Q", name="presettled", options=AtMostOnce())
    m = r2.receive(timeout=10)
    if bytes(m.body) != b"\x00\x01\x02":
        fail("binary body %r" % (m.body,))
    c.close()


def modify_failed(r):
    """modified with delivery-failed = true (BlockingReceiver.release sends
    modified without the flag)."""
    d = r.fetcher.unsettled.popleft()
    d.local.failed = True
    d.update(Delivery.MODIFIED)
    d.settle()


def expect_empty(c, queue):
    r = c.create_receiver(queue, credit=1)
    try:
        m = r.receive(timeout=1)
        fail("queue %s not empty: %r" % (queue, m.body))
    except Exception as e:
        if "Timeout" not in type(e).__name__ and "timeout" not in str(e).lower():
            raise
    r.close()


def outcomes(url):
    # released (and modified without delivery-failed) leave the count
    # alone (FSM_OP_BACKOUT_UNCOUNTED in the group); AMQP_RELEASE_COUNTS=1
    # for a group below command level 5, where it is a counted backout.
    rel = 1 if os.environ.get("AMQP_RELEASE_COUNTS") == "1" else 0
    c = BlockingConnection(url, timeout=10)
    s = c.create_sender("OUT.Q")
    s.send(Message(body="one"))
    r = c.create_receiver("OUT.Q", credit=1)
    # released: back, delivery count unchanged
    m = r.receive(timeout=10)
    if m.delivery_count != 0:
        fail("first delivery count %d" % m.delivery_count)
    r.release(delivered=False)
    m = r.receive(timeout=10)
    if m.body != "one" or m.delivery_count != rel:
        fail("after release: %r count %d" % (m.body, m.delivery_count))
    # modified without delivery-failed: as released
    r.release(delivered=True)
    m = r.receive(timeout=10)
    if m.delivery_count != 2 * rel:
        fail("after modified: count %d, expected %d" % (m.delivery_count, 2 * rel))
    # modified(delivery-failed): back with the count + 1
    modify_failed(r)
    m = r.receive(timeout=10)
    if m.delivery_count != 2 * rel + 1:
        fail("after modified(delivery-failed): count %d, expected %d"
             % (m.delivery_count, 2 * rel + 1))
    # rejected: to the dead-letter queue
    r.reject()
    r.close()
    d = c.create_receiver("DLQ", credit=1)
    m = d.receive(timeout=10)
    if m.body != "one":
        fail("DLQ holds %r" % (m.body,))
    d.accept()
    d.close()
    expect_empty(c, "OUT.Q")
    # an unknown queue: the put is rejected with amqp:not-found
    s2 = c.create_sender("NOSUCH.Q")
    try:
        s2.send(Message(body="x"))
        fail("a put to an unknown queue was accepted")
    except SendException as e:
        if e.state != Delivery.REJECTED:
            fail("unknown queue: state %r" % e.state)
    c.close()


def backout_threshold(url):
    c = BlockingConnection(url, timeout=10)
    c.create_sender("BO.Q").send(Message(body="poison"))
    r = c.create_receiver("BO.Q", credit=1)
    for i in range(3):
        r.receive(timeout=10)
        modify_failed(r)
    r.close()
    b = c.create_receiver("BO.Q.BOQ", credit=1)
    m = b.receive(timeout=10)
    if m.body != "poison" or m.delivery_count != 3:
        fail("backout queue: %r count %d" % (m.body, m.delivery_count))
    b.accept()
    c.close()


class TxSend(MessagingHandler, TransactionHandler):
    """Sends batches in transactions: the first committed, the second
    aborted (the tx_send example's flow)."""

    def __init__(self, url, queue, batch):
        super(TxSend, self).__init__()
        self.url, self.queue, self.batch = url, queue, batch
        self.round = 0
        self.error = None

    def on_start(self, event):
        self.conn = event.container.connect(self.url)
        self.sender = event.container.create_sender(self.conn, self.queue)
        event.container.declare_transaction(self.conn, handler=self)
        self.container = event.container

    def on_transaction_declared(self, event):
        t = event.transaction
        for i in range(self.batch):
            t.send(self.sender, Message(body="tx%d-%d" % (self.round, i)))
        if self.round == 0:
            t.commit()
        else:
            t.abort()

    def on_transaction_committed(self, event):
        self.round += 1
        self.container.declare_transaction(self.conn, handler=self)

    def on_transaction_aborted(self, event):
        self.conn.close()

    def on_transaction_declare_failed(self, event):
        self.error = "declare failed"
        self.conn.close()

    def on_transaction_commit_failed(self, event):
        self.error = "commit failed"
        self.conn.close()


class TxRecv(MessagingHandler, TransactionHandler):
    """Receives and accepts in a transaction; commit or abort (tx_recv)."""

    def __init__(self, url, queue, want, commit):
        super(TxRecv, self).__init__(prefetch=0, auto_accept=False)
        self.url, self.queue, self.want, self.commit = url, queue, want, commit
        self.got = []
        self.done = False
        self.error = None

    def on_start(self, event):
        self.container = event.container
        self.conn = event.container.connect(self.url)
        self.receiver = event.container.create_receiver(self.conn, self.queue)
        event.container.declare_transaction(self.conn, handler=self)

    def on_transaction_declared(self, event):
        self.transaction = event.transaction
        self.receiver.flow(self.want)

    def on_message(self, event):
        self.got.append(event.message.body)
        self.transaction.accept(event.delivery)
        if len(self.got) == self.want:
            if self.commit:
                self.transaction.commit()
            else:
                self.transaction.abort()

    def on_transaction_committed(self, event):
        self.conn.close()

    def on_transaction_aborted(self, event):
        self.conn.close()

    def on_transaction_commit_failed(self, event):
        self.error = "commit failed"
        self.conn.close()


def transactions(url):
    ts = TxSend(url, "TX.Q", 5)
    Container(ts).run()
    if ts.error:
        fail(ts.error)
    c = BlockingConnection(url, timeout=10)
    r = c.create_receiver("TX.Q", credit=10)
    got = []
    for i in range(5):
        got.append(r.receive(timeout=10).body)
        r.accept()
    if got != ["tx0-%d" % i for i in range(5)]:
        fail("committed batch: %r" % got)
    r.close()
    expect_empty(c, "TX.Q")  # the aborted batch never arrives
    s = c.create_sender("TX.Q")
    for i in range(3):
        s.send(Message(body="r%d" % i))
    c.close()
    # Received and accepted in a transaction that aborts: still there.
    tr = TxRecv(url, "TX.Q", 3, False)
    Container(tr).run()
    if tr.got != ["r0", "r1", "r2"] or tr.error:
        fail("aborted receive got %r %s" % (tr.got, tr.error))
    # ... and one that commits: gone.
    tr = TxRecv(url, "TX.Q", 3, True)
    Container(tr).run()
    if sorted(tr.got) != ["r0", "r1", "r2"] or tr.error:
        fail("committed receive got %r %s" % (tr.got, tr.error))
    c = BlockingConnection(url, timeout=10)
    expect_empty(c, "TX.Q")
    c.close()


def auth(url):
    # url carries the right user and password; a wrong one is refused.
    c = BlockingConnection(url, timeout=10, allowed_mechs="PLAIN",
                           allow_insecure_mechs=True)
    c.create_sender("AUTH.Q").send(Message(body="in"))
    c.close()
    bad = url.replace("secret", "wrong")
    try:
        c = BlockingConnection(bad, timeout=10, allowed_mechs="PLAIN",
                               allow_insecure_mechs=True)
        c.create_sender("AUTH.Q").send(Message(body="x"))
        fail("a wrong password was accepted")
    except ConnectionException:
        pass
    anon = url.split("@", 1)[1]
    try:
        c = BlockingConnection("amqp://" + anon, timeout=10, allowed_mechs="ANONYMOUS")
        c.create_sender("AUTH.Q").send(Message(body="x"))
        fail("an anonymous connection was accepted")
    except ConnectionException:
        pass


def plain_needs_tls(url):
    # The endpoint with plain_needs_tls (authentication = required) on a
    # plaintext connection: PLAIN is refused even with the right password.
    try:
        c = BlockingConnection(url, timeout=10, allowed_mechs="PLAIN",
                               allow_insecure_mechs=True)
        c.create_sender("AUTH.Q").send(Message(body="x"))
        fail("PLAIN on a plaintext connection was accepted")
    except ConnectionException:
        pass


def reject_with(r, name, text):
    """rejected with an error condition (BlockingReceiver.reject sends
    none)."""
    from proton import Condition
    d = r.fetcher.unsettled.popleft()
    d.local.condition = Condition(name, text)
    d.update(Delivery.REJECTED)
    d.settle()


def dlq_reason(url):
    """The dead-letter reason (docs/protocols.md): a message put through
    AMQP gets x-opt-qsg-dlq-* message-annotations (its own annotations
    kept); one put by libqsg (qsgput, before this case: OUT.Q holds
    "from libqsg") gets qsg-dlq-* application-properties."""
    c = BlockingConnection(url, timeout=10)
    r = c.create_receiver("OUT.Q", credit=1)
    m = r.receive(timeout=10)
    if m.body is None or bytes(m.body).rstrip(b"\n") != b"from libqsg":
        fail("OUT.Q first holds %r, expected the qsgput message" % (m.body,))
    reject_with(r, "app:bad", "cannot parse")
    c.create_sender("OUT.Q").send(Message(body="amqp one", annotations={symbol("x-opt-mine"): "keep"}))
    m = r.receive(timeout=10)
    if m.body != "amqp one":
        fail("OUT.Q then holds %r" % (m.body,))
    reject_with(r, "app:bad", "no good")
    r.close()
    d = c.create_receiver("DLQ", credit=2)
    got = {}
    for _ in range(2):  # by priority: AMQP's default 4 before qsgput's
        m = d.receive(timeout=10)
        got["amqp" if m.body == "amqp one" else "libqsg"] = m
        d.accept()
    if set(got) != {"amqp", "libqsg"}:
        fail("DLQ holds %r" % ([m.body for m in got.values()],))
    p = got["libqsg"].properties or {}
    if (p.get("qsg-dlq-reason") != "65536" or p.get("qsg-dlq-queue") != "OUT.Q"
            or p.get("qsg-dlq-text") != "app:bad: cannot parse"):
        fail("libqsg message on the DLQ: properties %r" % (p,))
    a = got["amqp"].annotations or {}
    if (a.get("x-opt-qsg-dlq-reason") != 65536 or a.get("x-opt-qsg-dlq-text") != "app:bad: no good"
            or a.get("x-opt-qsg-dlq-queue") != "OUT.Q" or a.get("x-opt-mine") != "keep"):
        fail("AMQP message on the DLQ: annotations %r" % (a,))
    c.close()


def from_libqsg(url):
    """A message put by qsgput (libqsg): its body as one data section, its
    MsgId as a 24-byte binary message-id."""
    c = BlockingConnection(url, timeout=10)
    r = c.create_receiver("IO.Q", credit=1)
    m = r.receive(timeout=10)
    if bytes(m.body) != b"from libqsg":
        fail("body %r" % (m.body,))
    if not isinstance(m.id, bytes) or len(m.id) != 24:
        fail("message-id %r" % (m.id,))
    r.accept()
    # ... and one sent here, for qsgget
    c.create_sender("IO.Q").send(Message(body=b"from amqp"))
    c.close()


def from_stomp(url):
    """A message sent through STOMP (python3-stomp, to STOMP_ADDR): its
    headers arrive as application-properties."""
    import stomp
    host, port = os.environ["STOMP_ADDR"].split(":")
    s = stomp.Connection12([(host, int(port))])
    s.connect(wait=True)
    s.send("/queue/IO.Q", "via stomp", headers={"color": "red", "n": "7", "receipt": "r1"})
    s.disconnect()
    c = BlockingConnection(url, timeout=10)
    r = c.create_receiver("IO.Q", credit=1)
    m = r.receive(timeout=10)
    if bytes(m.body) != b"via stomp":
        fail("body %r" % (m.body,))
    p = m.properties or {}
    if p.get("color") != "red" or p.get("n") != "7":
        fail("application-properties %r" % (p,))
    r.accept()
    c.close()


CASES = {"from_libqsg": from_libqsg, "from_stomp": from_stomp, "send_receive": send_receive, "outcomes": outcomes,
         "backout_threshold": backout_threshold, "transactions": transactions,
         "auth": auth, "plain_needs_tls": plain_needs_tls,
         "dlq_reason": dlq_reason}

if __name__ == "__main__":
    CASES[sys.argv[2]](sys.argv[1])
    print("OK " + sys.argv[2])
