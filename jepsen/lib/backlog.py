"""The `backlog` workload (issue 10, deep queues): build a deep queue and
drain it while the nemeses run. Phases, each marked in the history by an
op {:process :backlog, :f :phase, :value "fill"|"hold"|"drain"|"heal"}:

  fill   P producers put N unique messages (ids b<process>-<n>, bodies of a
         chosen size derived from the id: checker.backlog_body) into one
         queue, JQ.DEEP; no consumer.
  hold   the queue sits deep for a while; optionally a member (the leader
         or a seeded random one) is killed -9 at the start and restarted
         half-way (recorded as a :nemesis start-hold-kill / stop-hold-kill).
  drain  C consumers get (half under syncpoint, half outside) until every
         consumer has seen 3 MQRC_NO_MSG_AVAILABLE in a row, or the drain
         limit. The nemeses run through all three phases; main.py then
         heals, and workload.drain reads JQ.DEEP empty from every member
         with no faults.

History ops record the message id as :value, never the body: a put also
records :size; a get records the :digest (checker.body_digest) and :len of
the body it read, so the checker can tell a damaged body from the id."""
import threading
import time

import checker
from workload import Client, conn_from

QUEUE = "JQ.DEEP"

DEFAULTS = {"messages": 50000, "body": 1024, "producers": 6, "consumers": 4,
            "hold": 15.0, "hold_kill": "leader", "fill_limit": 1800.0,
            "drain_limit": 1800.0}


def record_get(value):
    """(id, extra history fields) for a body read from JQ.DEEP."""
    if value is None:
        return None, {}
    return checker.body_id(value), {"digest": checker.body_digest(value), "len": len(value)}


class Slots:
    """Hands out the N put attempts of the fill phase."""

    def __init__(self, n):
        self.left = n
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


class Producer(threading.Thread):
    def __init__(self, run, process, verb, node, slots, size, stop):
        super().__init__(daemon=True)
        self.run_, self.process, self.verb, self.node = run, process, verb, node
        self.slots, self.size, self.stop = slots, size, stop
        self.n = 0

    def run(self):
        env, h = self.run_.env, self.run_.history
        client = Client(env, conn_from(env, self.node))
        try:
            while not self.stop.is_set() and self.slots.take():
                self.n += 1
                mid = "b%d-%d" % (self.process, self.n)
                body = checker.backlog_body(mid, self.size)
                inv = h.invoke(self.process, "enqueue", mid, queue=QUEUE,
                               sync=self.verb == "sput", node=self.node.name, size=self.size)
                r = client.call("%s %s %s" % (self.verb, QUEUE, body))
                if r is None:
                    h.complete(inv, "info", mid, error="client died")
                    client.close()
                    client = Client(env, conn_from(env, self.node))
                    continue
                h.complete(inv, r["type"], mid, rc=r["rc"], reason=r["reason"],
                           member=r.get("member"), stage=r.get("stage"))
                if r["type"] == "fail":
                    time.sleep(0.05)  # e.g. no quorum: do not spin
        finally:
            client.close()


class Consumer(threading.Thread):
    def __init__(self, run, process, verb, node, stop):
        super().__init__(daemon=True)
        self.run_, self.process, self.verb, self.node, self.stop = run, process, verb, node, stop
        self.empties = 0  # NO_MSG_AVAILABLE answers in a row

    def run(self):
        env, h = self.run_.env, self.run_.history
        client = Client(env, conn_from(env, self.node))
        try:
            while not self.stop.is_set():
                inv = h.invoke(self.process, "dequeue", None, queue=QUEUE,
                               sync=self.verb == "sget", node=self.node.name)
                r = client.call("%s %s 500" % (self.verb, QUEUE))
                if r is None:
                    h.complete(inv, "info", None, error="client died")
                    self.empties = 0
                    client.close()
                    client = Client(env, conn_from(env, self.node))
                    continue
                mid, extra = record_get(r.get("value"))
                h.complete(inv, r["type"], mid, rc=r["rc"], reason=r["reason"],
                           member=r.get("member"), stage=r.get("stage"), **extra)
                if r["type"] == "fail" and r["rc"] == 2033:
                    self.empties += 1
                else:
                    self.empties = 0
                    if r["type"] != "ok":
                        time.sleep(0.05)
        finally:
            client.close()


class DepthPoller(threading.Thread):
    """Every second, CURDEPTH of JQ.DEEP from any member: {:f :depth}."""

    def __init__(self, run, stop):
        super().__init__(daemon=True)
        self.run_, self.stop = run, stop

    def run(self):
        env, h = self.run_.env, self.run_.history
        group = ",".join(n.conn for n in env.nodes)
        while not self.stop.is_set():
            inv = h.invoke("depthpoll", "depth", None, queue=QUEUE)
            r = env.admin(group, "DISPLAY QSTATUS(%s) CURDEPTH" % QUEUE, timeout=5)
            try:
                d = int(r["objects"][0]["CURDEPTH"])
                h.complete(inv, "ok", d, member=r.get("qmgr"))
            except (TypeError, KeyError, IndexError, ValueError):
                h.complete(inv, "fail", None)
            self.stop.wait(1.0)


def phase(run, name, **extra):
    run.history.add(type="info", process="backlog", f="phase", value=name, **extra)


def drive(run, cfg, rng):
    """Runs fill, hold and the faulted drain while main.py's nemesis thread
    runs; returns the phase summary for results.json. The caller then stops
    the nemeses, heals and drains with no faults."""
    env, b, h = run.env, cfg["backlog"], run.history
    nodes = env.nodes
    stop_poll = threading.Event()
    poller = DepthPoller(run, stop_poll)
    poller.start()
    out = {}
    # fill
    phase(run, "fill", messages=b["messages"], body=b["body"])
    t0 = time.time()
    slots = Slots(b["messages"])
    stop_fill = threading.Event()
    prods = [Producer(run, k, "put" if k % 2 == 0 else "sput", nodes[k % len(nodes)], slots,
                      b["body"], stop_fill) for k in range(b["producers"])]
    for p in prods:
        p.start()
    while any(p.is_alive() for p in prods):
        if time.time() - t0 > b["fill_limit"]:
            run.notes.append("backlog: fill limit (%.0f s) reached with %d puts not attempted"
                             % (b["fill_limit"], slots.left))
            stop_fill.set()
        time.sleep(0.2)
    for p in prods:
        p.join()
    out["fill_s"] = round(time.time() - t0, 1)
    # hold
    phase(run, "hold")
    t0 = time.time()
    victim = None
    if b["hold_kill"] != "none":
        victim = env.leader() if b["hold_kill"] == "leader" else None
        if victim is None:
            victim = nodes[rng.randrange(len(nodes))]
        h.add(type="info", process="nemesis", f="start-hold-kill", value={"target": victim.name},
              phase="invoke")
        killed = victim.kill("kill")
        h.add(type="info", process="nemesis", f="start-hold-kill",
              value={"killed": victim.name if killed else None, "target": victim.name},
              phase="done")
    while time.time() - t0 < b["hold"] / 2:
        time.sleep(0.1)
    if victim is not None:
        h.add(type="info", process="nemesis", f="stop-hold-kill", value=None, phase="invoke")
        t1 = time.time()
        victim.start()  # waits for QSG0001I: recovery of the deep state
        out["hold_restart_s"] = round(time.time() - t1, 2)
        h.add(type="info", process="nemesis", f="stop-hold-kill",
              value={"restarted": victim.name, "restart_s": out["hold_restart_s"]},
              phase="done")
    while time.time() - t0 < b["hold"]:
        time.sleep(0.1)
    # drain while the nemeses run
    phase(run, "drain")
    t0 = time.time()
    stop_drain = threading.Event()
    cons = [Consumer(run, 100 + k, "sget" if k % 2 == 0 else "get",
                     nodes[(k + 1) % len(nodes)], stop_drain) for k in range(b["consumers"])]
    for c in cons:
        c.start()
    while True:
        if all(c.empties >= 3 for c in cons):
            break
        if time.time() - t0 > b["drain_limit"]:
            run.notes.append("backlog: drain limit (%.0f s) reached; the final drain reads "
                             "the rest" % b["drain_limit"])
            break
        time.sleep(0.2)
    stop_drain.set()
    for c in cons:
        c.join(timeout=60)
    out["drain_s"] = round(time.time() - t0, 1)
    phase(run, "heal")
    stop_poll.set()
    poller.join(timeout=15)
    return out
