"""Unit tests of the checkers on hand-made histories:
cd jepsen/lib && python3 -m unittest test_checker"""
import unittest

import checker
from history import History, edn


def put(h, p, q, v, outcome):
    inv = h.invoke(p, "enqueue", v, queue=q)
    h.complete(inv, outcome, v)


def get(h, p, q, v, outcome, f="dequeue"):
    inv = h.invoke(p, f, None, queue=q)
    h.complete(inv, outcome, v)


class TotalQueue(unittest.TestCase):
    def test_clean(self):
        h = History()
        put(h, 0, "Q", "p0-1", "ok")
        put(h, 0, "Q", "p0-2", "info")
        get(h, 1, "Q", "p0-1", "ok")
        get(h, 1, "Q", "p0-2", "ok", f="drain")
        r = checker.total_queue(h.ops, ["Q"])
        self.assertTrue(r["valid"])
        self.assertEqual(r["Q"]["recovered"], 1)
        self.assertEqual(r["Q"]["lost"], 0)

    def test_lost_duplicated_unexpected(self):
        h = History()
        put(h, 0, "Q", "p0-1", "ok")
        put(h, 0, "Q", "p0-2", "ok")
        get(h, 1, "Q", "p0-2", "ok")
        get(h, 1, "Q", "p0-2", "ok")
        get(h, 1, "Q", "p9-9", "ok")
        r = checker.total_queue(h.ops, ["Q"])
        self.assertFalse(r["valid"])
        self.assertEqual((r["Q"]["lost"], r["Q"]["duplicated"], r["Q"]["unexpected"]), (1, 1, 1))
        self.assertEqual(r["Q"]["lost_values"], ["p0-1"])

    def test_unknown_get_explains_only_later_loss(self):
        h = History()
        get(h, 1, "Q", None, "info")  # before the put: cannot have consumed it
        put(h, 0, "Q", "p0-1", "ok")
        r = checker.total_queue(h.ops, ["Q"])
        self.assertEqual(r["Q"]["lost_unexplained"], 1)
        get(h, 1, "Q", None, "info")  # after the put: may have consumed it
        r = checker.total_queue(h.ops, ["Q"])
        self.assertEqual(r["Q"]["lost_unexplained"], 0)
        self.assertTrue(r["valid"])

    def test_info_read_with_value_is_not_lost(self):
        h = History()
        put(h, 0, "Q", "p0-1", "ok")
        get(h, 1, "Q", "p0-1", "info")
        self.assertTrue(checker.total_queue(h.ops, ["Q"])["valid"])


class Backlog(unittest.TestCase):
    Q = "JQ.DEEP"

    def put(self, h, mid, outcome, size=100):
        inv = h.invoke(0, "enqueue", mid, queue=self.Q, size=size)
        h.complete(inv, outcome, mid)

    def get(self, h, body, outcome="ok", f="dequeue", digest=True):
        inv = h.invoke(1, f, None, queue=self.Q)
        if body is None:
            h.complete(inv, outcome, None)
            return
        extra = {"digest": checker.body_digest(body), "len": len(body)} if digest else {}
        h.complete(inv, outcome, checker.body_id(body), **extra)

    def body(self, mid, size=100):
        return checker.backlog_body(mid, size)

    def test_body(self):
        b = self.body("b1-7", 1024)
        self.assertEqual(len(b), 1024)
        self.assertEqual(checker.body_id(b), "b1-7")
        self.assertNotIn(" ", b)
        self.assertNotEqual(b[5:], self.body("b1-8", 1024)[5:])
        self.assertEqual(checker.backlog_body("b1-7", 2), "b1-7|")

    def test_clean_with_phases_and_depth(self):
        h = History()
        h.add(type="info", process="backlog", f="phase", value="fill", time=0)
        for k in range(4):
            self.put(h, "b0-%d" % k, "ok")
        self.put(h, "b0-9", "info")  # outcome unknown, never read: not lost
        h.add(type="ok", process="depthpoll", f="depth", value=4, queue=self.Q)
        h.add(type="info", process="backlog", f="phase", value="hold")
        h.add(type="info", process="backlog", f="phase", value="drain")
        for k in range(3):
            self.get(h, self.body("b0-%d" % k))
        h.add(type="info", process="backlog", f="phase", value="heal")
        self.get(h, self.body("b0-3"), f="drain")
        r = checker.backlog(h.ops, self.Q)
        self.assertTrue(r["valid"], r)
        self.assertEqual((r["intact"], r["damaged"], r["total"]["lost"]), (4, 0, 0))
        self.assertEqual(r["max_depth_polled"], 4)
        self.assertEqual(r["max_depth_acked_unread"], 4)
        self.assertEqual(r["rates"]["drain_ok"], 3)
        self.assertIn("fill_s", r["phases"])

    def test_lost_and_duplicate(self):
        h = History()
        self.put(h, "b0-1", "ok")
        self.put(h, "b0-2", "ok")
        self.get(h, self.body("b0-1"))
        self.get(h, self.body("b0-1"), f="drain")
        r = checker.backlog(h.ops, self.Q)
        self.assertFalse(r["valid"])
        self.assertEqual((r["total"]["lost"], r["total"]["duplicated"]), (1, 1))

    def test_maybe_get_follows_queue_semantics(self):
        # a syncpoint get whose commit is unknown, then the message read
        # again (the commit was in fact backed out): one :ok read, valid
        h = History()
        self.put(h, "b0-1", "ok")
        self.get(h, self.body("b0-1"), outcome="info")
        self.get(h, self.body("b0-1"), f="drain")
        self.assertTrue(checker.backlog(h.ops, self.Q)["valid"])
        # a get outside syncpoint with its reply lost explains one later loss
        h = History()
        self.put(h, "b0-1", "ok")
        self.get(h, None, outcome="info")
        r = checker.backlog(h.ops, self.Q)
        self.assertTrue(r["valid"])
        self.assertEqual((r["total"]["lost"], r["total"]["lost_unexplained"]), (1, 0))

    def test_damaged_unexpected_unchecked(self):
        h = History()
        self.put(h, "b0-1", "ok")
        bad = self.body("b0-1")[:-1] + "Z"
        self.get(h, bad)
        r = checker.backlog(h.ops, self.Q)
        self.assertFalse(r["valid"])
        self.assertEqual(r["damaged"], 1)
        h = History()
        self.put(h, "b0-1", "ok", size=100)
        self.get(h, self.body("b0-1", 50))  # truncated
        self.assertEqual(checker.backlog(h.ops, self.Q)["damaged"], 1)
        h = History()
        self.put(h, "b0-1", "ok")
        self.get(h, self.body("b0-1"))
        self.get(h, self.body("b7-7"))  # never attempted
        r = checker.backlog(h.ops, self.Q)
        self.assertFalse(r["valid"])
        self.assertEqual(r["total"]["unexpected"], 1)
        h = History()
        self.put(h, "b0-1", "ok")
        self.get(h, self.body("b0-1"), digest=False)
        r = checker.backlog(h.ops, self.Q)
        self.assertEqual(r["unchecked"], 1)
        self.assertFalse(r["valid"])


class Order(unittest.TestCase):
    def test_reorder(self):
        h = History()
        for v in ("p0-1", "p1-1", "p0-3", "p0-2"):
            get(h, 5, "F", v, "ok")
        r = checker.producer_order(h.ops, "F")
        self.assertEqual(r["violations"], 1)
        self.assertFalse(r["valid"])


class Channels(unittest.TestCase):
    def poll(self, h, node, t, owner, epoch):
        h.add(type="ok", process="chpoll", f="chstatus", node=node, time=int(t * 1e9),
              value=[{"channel": "C", "status": "RUNNING", "owner": owner, "epoch": epoch}])

    def test_overlap(self):
        h = History()
        for t in range(10):
            self.poll(h, "QM1", t, "QM1", "1")
            self.poll(h, "QM2", t, "QM2", "2")
        self.assertFalse(checker.channel_instances(h.ops)["valid"])

    def test_handover(self):
        h = History()
        for t in range(5):
            self.poll(h, "QM1", t, "QM1", "1")
        for t in range(5, 10):
            self.poll(h, "QM1", t, "QM2", "2")
        self.assertTrue(checker.channel_instances(h.ops)["valid"])
        self.poll(h, "QM1", 11, "QM1", "1")  # a view going back
        self.assertFalse(checker.channel_instances(h.ops)["valid"])


    def rpoll(self, h, node, t, owner, epoch, rqm="QMR"):
        h.add(type="ok", process="chpoll", f="chstatus", node=node, time=int(t * 1e9),
              value=[{"channel": "R", "type": "RCVR", "rqm": rqm, "status": "RUNNING",
                      "owner": owner, "epoch": epoch}])

    def test_inbound_overlap(self):
        # Two members each running the inbound channel from QMR: a violation,
        # even at the partner's same epoch.
        h = History()
        for t in range(10):
            self.rpoll(h, "QM1", t, "QM1", "4")
            self.rpoll(h, "QM2", t, "QM2", "4")
        r = checker.channel_instances(h.ops)
        self.assertFalse(r["valid"])
        self.assertEqual(r["examples"][0]["channel"], "R<-QMR")

    def test_inbound_takeover_and_partners(self):
        # A takeover (QM1 then QM2) is fine; so are two partners' entries of
        # one receiver definition at once (different keys).
        h = History()
        for t in range(5):
            self.rpoll(h, "QM1", t, "QM1", "4")
        for t in range(5, 10):
            self.rpoll(h, "QM3", t, "QM2", "5")
        for t in range(10):
            self.rpoll(h, "QM3", t, "QM3", "1", rqm="QMS")
        self.assertTrue(checker.channel_instances(h.ops)["valid"])


class Exits(unittest.TestCase):
    def test_exits(self):
        h = History()
        h.add(type="info", process="nemesis", f="member-exit",
              value={"node": "QM1", "code": 70, "expected": "disk-eio"})
        self.assertTrue(checker.member_exits(h.ops)["valid"])
        h.add(type="info", process="nemesis", f="member-exit",
              value={"node": "QM2", "code": -11, "expected": False})
        self.assertFalse(checker.member_exits(h.ops)["valid"])


class Edn(unittest.TestCase):
    def test_edn(self):
        self.assertEqual(edn({"type": "ok", "f": "enqueue", "process": "nemesis", "value": None,
                              "x": [1, "a"]}),
                         '{:type :ok, :f :enqueue, :process :nemesis, :value nil, :x [1 "a"]}')


if __name__ == "__main__":
    unittest.main()
