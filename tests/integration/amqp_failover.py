#!/usr/bin/python3
"""Transactional AMQP producers while the leader is killed
(test_amqp.sh), with the unmodified python3-qpid-proton client.

amqp_failover.py produce URLS FIRST QUEUE SECONDS OUT.json
    Batches of 5 messages, each batch one transaction (declare, 5
    transactional transfers, discharge), for SECONDS seconds, each batch
    through the next member of URLS starting at index FIRST (a connection
    per batch, no reconnect). Each batch's outcome: committed (discharge
    accepted), failed (declare or discharge refused: backed out), none
    (the connection failed before the discharge was sent: backed out) or
    unknown (failed after it). Written to OUT.json.
amqp_failover.py check URL QUEUE OUT.json
    Drains QUEUE through URL and checks: every message of a committed
    batch exactly once, nothing of a failed or none batch, an unknown batch
    all or nothing, nothing else and no duplicates."""
import json
import sys
import time

from proton import Message
from proton.handlers import MessagingHandler, TransactionHandler
from proton.reactor import Container
from proton.utils import BlockingConnection

BATCH = 5


class TxBatch(MessagingHandler, TransactionHandler):
    def __init__(self, url, queue, b):
        super(TxBatch, self).__init__()
        self.url, self.queue, self.b = url, queue, b
        self.result = None
        self.discharge_sent = False

    def on_start(self, event):
        self.container = event.container
        self.conn = event.container.connect(self.url, reconnect=False, heartbeat=2)
        self.sender = event.container.create_sender(self.conn, self.queue)
        event.container.declare_transaction(self.conn, handler=self)
        self.timer = event.container.schedule(10, self)

    def on_timer_task(self, event):
        self.finish("unknown" if self.discharge_sent else "none")

    def finish(self, result):
        if self.result is None:
            self.result = result
        try:
            self.timer.cancel()
        except Exception:
            pass
        self.conn.close()
        self.container.stop()

    def on_transaction_declared(self, event):
        t = event.transaction
        for i in range(BATCH):
            t.send(self.sender, Message(id="b%d-%d" % (self.b, i), body="b%d-%d" % (self.b, i),
                                        durable=True))
        t.commit()
        self.discharge_sent = True

    def on_transaction_committed(self, event):
        self.finish("committed")

    def on_transaction_commit_failed(self, event):
        self.finish("failed")

    def on_transaction_declare_failed(self, event):
        self.finish("failed")

    def on_transport_error(self, event):
        self.finish("unknown" if self.discharge_sent else "none")

    def on_connection_error(self, event):
        self.finish("unknown" if self.discharge_sent else "none")

    def on_disconnected(self, event):
        self.finish("unknown" if self.discharge_sent else "none")


def produce(urls, first, queue, seconds, out):
    urls = urls.split(",")
    res = {}
    end = time.time() + seconds
    b, k = 0, first
    while time.time() < end:
        url = "amqp://" + urls[k % len(urls)]
        h = TxBatch(url, queue, b)
        try:
            Container(h).run()
        except Exception as e:
            h.result = h.result or ("unknown" if h.discharge_sent else "none")
            print("batch %d: %s" % (b, e))
        res[b] = h.result or "none"
        if res[b] != "committed":
            k += 1  # next member
            time.sleep(0.2)
        b += 1
    counts = {}
    for r in res.values():
        counts[r] = counts.get(r, 0) + 1
    print("batches: %s" % counts)
    with open(out, "w") as f:
        json.dump(res, f)
    if counts.get("committed", 0) < 5:
        print("FAIL: fewer than 5 committed batches")
        sys.exit(1)


def check(url, queue, path):
    res = {int(k): v for k, v in json.load(open(path)).items()}
    c = BlockingConnection("amqp://" + url, timeout=30)
    r = c.create_receiver(queue, credit=50)
    got = {}
    while True:
        try:
            m = r.receive(timeout=3)
        except Exception:
            break
        got[m.body] = got.get(m.body, 0) + 1
        r.accept()
    c.close()
    bad = []
    for body, n in got.items():
        if n != 1:
            bad.append("%s %d times" % (body, n))
    for b, outcome in res.items():
        have = [i for i in range(BATCH) if ("b%d-%d" % (b, i)) in got]
        if outcome == "committed" and len(have) != BATCH:
            bad.append("committed batch %d: %d of %d" % (b, len(have), BATCH))
        elif outcome in ("failed", "none") and have:
            bad.append("%s batch %d: %d messages arrived" % (outcome, b, len(have)))
        elif outcome == "unknown" and len(have) not in (0, BATCH):
            bad.append("unknown batch %d: %d of %d (not all or nothing)" % (b, len(have), BATCH))
    known = {"b%d-%d" % (b, i) for b in res for i in range(BATCH)}
    for body in got:
        if body not in known:
            bad.append("unexpected message %s" % body)
    print("%d messages, %d batches" % (len(got), len(res)))
    if bad:
        print("FAIL: " + "; ".join(bad[:20]))
        sys.exit(1)
    print("OK exactly once")


if __name__ == "__main__":
    if sys.argv[1] == "produce":
        produce(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), sys.argv[6])
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
