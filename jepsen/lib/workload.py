"""Workloads. Each logical process is one long-lived qsgjep client (one
libqsg connection) driven by one thread: it writes a command, records the
:invoke, reads the JSON outcome and records :ok/:fail/:info."""
import json
import subprocess
import threading
import time

QUEUES = {
    # queue: (put verb, get verb); FIFO queue has a single consumer
    "JQ.A": ("put", "sget"),   # puts outside syncpoint, gets under syncpoint
    "JQ.B": ("sput", "get"),   # puts under syncpoint, gets outside syncpoint
    "JQ.F": ("put", "sget"),   # per-producer FIFO: one consumer
}


class Client:
    def __init__(self, env, conn, timeout_ms=10000):
        self.env = env
        self.argv = env.hub_exec([env.qsgjep, conn, str(timeout_ms)])
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                  env=env.tool_env(), start_new_session=True)
        env.state.add_pid(self.p.pid, "qsgjep")

    def call(self, line):
        """Returns the outcome dict, or None when the client died."""
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
            out = self.p.stdout.readline()
        except (BrokenPipeError, OSError, ValueError):
            return None
        if not out:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.env.state.del_pid(self.p.pid)


def conn_from(env, node):
    """Connection list starting at node (libqsg moves to the others)."""
    i = env.nodes.index(node)
    order = env.nodes[i:] + env.nodes[:i]
    return ",".join(n.conn for n in order)


class Worker(threading.Thread):
    def __init__(self, run, process, role, queue, verb, node, interval, f=None):
        super().__init__(daemon=True)
        self.run_ = run
        self.process = process
        self.role = role
        self.queue = queue
        self.verb = verb
        self.node = node
        self.interval = interval
        self.f = f or ("enqueue" if role == "producer" else "dequeue")
        self.n = 0

    def run(self):
        env, h = self.run_.env, self.run_.history
        client = Client(env, conn_from(env, self.node))
        try:
            while not self.run_.stop_workload.is_set():
                t0 = time.monotonic()
                if self.role == "producer":
                    self.n += 1
                    value = "p%d-%d" % (self.process, self.n)
                    cmd = "%s %s %s" % (self.verb, self.queue, value)
                else:
                    value = None
                    cmd = "%s %s 200" % (self.verb, self.queue)
                inv = h.invoke(self.process, self.f, value, queue=self.queue,
                               sync=self.verb.startswith("s"), node=self.node.name)
                r = client.call(cmd)
                if r is None:
                    h.complete(inv, "info", value, error="client died")
                    client.close()
                    client = Client(env, conn_from(env, self.node))
                    continue
                v = r.get("value") if self.role == "consumer" else value
                h.complete(inv, r["type"], v, rc=r["rc"], reason=r["reason"],
                           member=r.get("member"), stage=r.get("stage"))
                dt = time.monotonic() - t0
                if dt < self.interval:
                    time.sleep(self.interval - dt)
        finally:
            client.close()


def setup_queues(env, queues):
    for q in queues:
        for _ in range(10):
            r = env.admin(",".join(n.conn for n in env.nodes),
                          "DEFINE QLOCAL(%s) MAXDEPTH(999999)" % q)
            if r and r.get("rc") in (0, 2100):
                break
            time.sleep(1)
        else:
            raise RuntimeError("cannot define %s: %s" % (q, r))


def queue_workers(run, rate):
    """Producers and consumers spread over the members."""
    env = run.env
    nodes = env.nodes
    plan = []
    pid = 0
    for k in range(3):
        plan.append(("producer", "JQ.A", "put", nodes[k % len(nodes)]))
    for k in range(2):
        plan.append(("consumer", "JQ.A", "sget", nodes[(k + 1) % len(nodes)]))
    for k in range(2):
        plan.append(("producer", "JQ.B", "sput", nodes[(k + 2) % len(nodes)]))
    plan.append(("consumer", "JQ.B", "get", nodes[0]))
    for k in range(2):
        plan.append(("producer", "JQ.F", "put", nodes[(k + 1) % len(nodes)]))
    plan.append(("consumer", "JQ.F", "sget", nodes[2 % len(nodes)]))
    interval = len(plan) / float(rate)
    workers = []
    for role, q, verb, node in plan:
        workers.append(Worker(run, pid, role, q, verb, node, interval))
        pid += 1
    return workers


def drain(run, queues, first_process, where=None, deadline_s=180, record=None):
    """After healing: read every queue empty from every member (syncpoint
    gets, each recorded as a :drain op). where: {queue: [nodes]} for queues
    that do not live on the group (the remote's IN). record: {queue:
    f(body) -> (value, extra fields)} for queues whose history holds ids
    rather than bodies (backlog). A member that answers
    3 errors in a row is given up (the run is then failing anyway: no
    stable group); the whole drain stops after deadline_s."""
    env, h = run.env, run.history
    proc = first_process
    total = 0
    end = time.time() + deadline_s
    for q in queues:
        for node in (where or {}).get(q, env.nodes):
            if time.time() > end:
                run.notes.append("drain deadline (%d s) reached before %s on %s"
                                 % (deadline_s, q, node.name))
                run.drain_complete = False
                return total
            client = Client(env, node.conn, timeout_ms=5000)
            empties = 0
            errors = 0
            while empties < 2 and errors < 3 and time.time() < end:
                inv = h.invoke(proc, "drain", None, queue=q, sync=True, node=node.name)
                r = client.call("sget %s 500" % q)
                if r is None:
                    h.complete(inv, "info", None, error="client died")
                    break
                value, extra = r.get("value"), {}
                if record and q in record:
                    value, extra = record[q](value)
                h.complete(inv, r["type"], value, rc=r["rc"], reason=r["reason"],
                           member=r.get("member"), stage=r.get("stage"), **extra)
                if r["type"] == "ok":
                    total += 1
                    empties = errors = 0
                elif r["rc"] == 2033:
                    empties += 1
                    errors = 0
                else:
                    errors += 1
                    time.sleep(0.5)
            if errors >= 3 or empties < 2:
                run.drain_complete = False
            if errors >= 3:
                run.notes.append("drain of %s on %s gave up after 3 errors (last %s)"
                                 % (q, node.name, r and r.get("reason")))
            client.close()
            proc += 1
    return total


def wait_channels_idle(env, timeout=90):
    """Both transmission queues empty and nothing in doubt (so the drain
    sees every transferred message)."""
    end = time.time() + timeout
    group = ",".join(n.conn for n in env.nodes)
    last = None
    while time.time() < end:
        ok = True
        for conn, xq in ((group, "QMR"), (env.remote.conn, "QSGJ")):
            r = env.admin(conn, "DISPLAY QSTATUS(%s) CURDEPTH" % xq, timeout=6)
            d = r and r.get("rc") == 0 and r.get("objects") and r["objects"][0].get("CURDEPTH")
            last = (xq, d)
            if d != "0":
                ok = False
        if ok:
            return True, last
        time.sleep(1)
    return False, last


# ---- transfer workload (needs shared channels, issue 3) -----------------

# docs/channels.md: the group (QSGJ) sends to QMR through G.TO.R and receives
# R.TO.G from it; QMR is a qsgd group of one whose group name is QMR.
TRANSFER_SETUP_GROUP = [
    "DEFINE QLOCAL(QMR) USAGE(XMITQ) MAXDEPTH(999999)",
    "DEFINE QREMOTE(TO.R) RNAME(IN) RQMNAME(QMR) XMITQ(QMR)",
    "DEFINE CHANNEL(G.TO.R) CHLTYPE(SDR) CONNAME('{remote}') XMITQ(QMR) HBINT(1) SHORTTMR(1)",
    "DEFINE CHANNEL(R.TO.G) CHLTYPE(RCVR)",
    "DEFINE QLOCAL(IN.G) MAXDEPTH(999999)",
    "DEFINE QLOCAL(DLQ) MAXDEPTH(999999)",
    "ALTER QMGR DEADQ(DLQ)",
    "START CHANNEL(G.TO.R)",
]
TRANSFER_SETUP_REMOTE = [
    "DEFINE CHANNEL(G.TO.R) CHLTYPE(RCVR)",
    "DEFINE QLOCAL(IN) MAXDEPTH(999999)",
    "DEFINE QLOCAL(QSGJ) USAGE(XMITQ) MAXDEPTH(999999)",
    "DEFINE QREMOTE(TO.G) RNAME(IN.G) RQMNAME(QSGJ) XMITQ(QSGJ)",
    "DEFINE CHANNEL(R.TO.G) CHLTYPE(SDR) CONNAME('{group}') XMITQ(QSGJ) HBINT(1) SHORTTMR(1)",
    "DEFINE QLOCAL(DLQ) MAXDEPTH(999999)",
    "ALTER QMGR DEADQ(DLQ)",
    "START CHANNEL(R.TO.G)",
]


def channels_supported(env):
    """(True, '') when qsgd answers DISPLAY CHSTATUS; else (False, why)."""
    r = env.admin(",".join(n.conn for n in env.nodes), "DISPLAY CHSTATUS(*)")
    if r is None:
        return False, "no answer to DISPLAY CHSTATUS(*)"
    if r.get("rc") != 0:
        return False, "needs channels: DISPLAY CHSTATUS(*) answered %s (%s)" % (
            r.get("reason"), r.get("text"))
    return True, ""


def setup_transfer(env):
    group = ",".join(n.conn for n in env.nodes)
    for c in TRANSFER_SETUP_REMOTE:
        r = env.admin(env.remote, c.format(group=group))
        if not r or r.get("rc") not in (0, 2100):
            return "remote: %s -> %s" % (c, r)
    for c in TRANSFER_SETUP_GROUP:
        r = env.admin(group, c.format(remote=env.remote.conn))
        if not r or r.get("rc") not in (0, 2100):
            return "group: %s -> %s" % (c, r)
    return None


class RemoteWorker(Worker):
    """A worker whose client talks to the remote queue manager."""

    def run(self):
        env, h = self.run_.env, self.run_.history
        client = Client(env, env.remote.conn)
        try:
            while not self.run_.stop_workload.is_set():
                t0 = time.monotonic()
                if self.role == "producer":
                    self.n += 1
                    value = "t%d-%d" % (self.process, self.n)
                    cmd = "%s %s %s" % (self.verb, self.queue, value)
                else:
                    value = None
                    cmd = "%s %s 200" % (self.verb, self.queue)
                inv = h.invoke(self.process, self.f, value, queue=self.queue,
                               sync=self.verb.startswith("s"), node="QMR")
                r = client.call(cmd)
                if r is None:
                    h.complete(inv, "info", value, error="client died")
                    client.close()
                    client = Client(env, env.remote.conn)
                    continue
                v = r.get("value") if self.role == "consumer" else value
                h.complete(inv, r["type"], v, rc=r["rc"], reason=r["reason"],
                           member=r.get("member"), stage=r.get("stage"))
                dt = time.monotonic() - t0
                if dt < self.interval:
                    time.sleep(self.interval - dt)
        finally:
            client.close()


def transfer_workers(run, rate, first_process):
    """group -> remote: producers on the group put to TO.R, a consumer on the
    remote reads IN; remote -> group: a producer on the remote puts to TO.G,
    consumers on the group read IN.G."""
    env = run.env
    interval = 4 / float(rate)
    p = first_process
    ws = [Worker(run, p, "producer", "TO.R", "put", env.nodes[0], interval, f="transfer-put"),
          RemoteWorker(run, p + 1, "consumer", "IN", "sget", env.remote, interval,
                       f="transfer-get"),
          RemoteWorker(run, p + 2, "producer", "TO.G", "put", env.remote, interval,
                       f="transfer-put"),
          Worker(run, p + 3, "consumer", "IN.G", "sget", env.nodes[1 % len(env.nodes)],
                 interval, f="transfer-get")]
    return ws


class ChannelPoller(threading.Thread):
    """Every second, DISPLAY CHSTATUS(*) on every member: record the
    (member, epoch) owner of each channel as a :chstatus op."""

    def __init__(self, run):
        super().__init__(daemon=True)
        self.run_ = run

    def run(self):
        env, h = self.run_.env, self.run_.history
        while not self.run_.stop_workload.is_set():
            for node in env.nodes + [env.remote]:
                if not node.alive() or node.paused:
                    continue
                inv = h.invoke("chpoll", "chstatus", None, node=node.name)
                r = env.admin(node, "DISPLAY CHSTATUS(*) ALL", timeout=3)
                if r is None or r.get("rc") != 0:
                    h.complete(inv, "fail", None, rc=(r or {}).get("rc"))
                    continue
                objs = [{"channel": o.get("CHANNEL"), "type": o.get("CHLTYPE"),
                         "rqm": o.get("RQMNAME"), "status": o.get("STATUS"),
                         "owner": o.get("OWNER"), "epoch": o.get("EPOCH"),
                         "msgs": o.get("MSGS")}
                        for o in r.get("objects", [])]
                h.complete(inv, "ok", objs)
            time.sleep(1)


def channel_owner(env, channel="G.TO.R"):
    r = env.admin(",".join(n.conn for n in env.nodes), "DISPLAY CHSTATUS(%s)" % channel)
    if r and r.get("rc") == 0:
        for o in r.get("objects", []):
            if o.get("OWNER"):
                return env.node(o["OWNER"])
    return None
