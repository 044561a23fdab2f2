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
