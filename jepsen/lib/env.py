"""The hosts of a run: one network namespace per member and one for the
remote queue manager, joined by a bridge in a hub namespace, and the qsgd
processes inside them. Everything made is recorded in a state file so that
`cleanup.py` (called by jepsen/run's trap) can remove it even when the
harness dies."""
import json
import os
import signal
import subprocess
import threading
import time

SUBNET = "10.77.0"
HUB_IP = SUBNET + ".1"
RAFT_PORT = 7000
LISTEN_PORT = 1414
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def sh(*args, check=True, timeout=30, **kw):
    """Run a command, return CompletedProcess (text)."""
    return subprocess.run(list(args), check=check, timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


class State:
    """What the run created (namespaces, pids, mounts), persisted as JSON."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.d = {"namespaces": [], "pids": {}, "mounts": [], "links": []}
        self.save()

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.d, f)
        os.replace(tmp, self.path)

    def add(self, kind, item):
        with self.lock:
            self.d[kind].append(item)
            self.save()

    def add_pid(self, pid, what):
        with self.lock:
            self.d["pids"][str(pid)] = what
            self.save()

    def del_pid(self, pid):
        with self.lock:
            self.d["pids"].pop(str(pid), None)
            self.save()

    def remove(self, kind, item):
        with self.lock:
            if item in self.d[kind]:
                self.d[kind].remove(item)
            self.save()


class Node:
    def __init__(self, env, idx, name, ip, ns, group, members, datadir):
        self.env = env
        self.idx = idx
        self.name = name
        self.ip = ip
        self.ns = ns
        self.group = group
        self.members = members  # list of (name, id, ip)
        self.datadir = datadir
        self.ini = datadir + ".ini"
        self.log = datadir + ".log"
        self.proc = None
        self.strace = None
        self.strace_log = None
        self.paused = False
        self.expect_exit = None  # reason string when we stop/kill it
        self.faketime = None
        self.exits = []  # (time_ns, code, expected)
        self.lock = threading.Lock()

    @property
    def conn(self):
        return "%s:%d" % (self.ip, LISTEN_PORT)

    def write_config(self):
        with open(self.ini, "w") as f:
            f.write("[qmgr]\nname = %s\ngroup = %s\ndir = %s\nlog_level = info\n"
                    % (self.name, self.group, self.datadir))
            f.write("[raft]\nid = %d\naddress = %s:%d\n" % (self.idx, self.ip, RAFT_PORT))
            f.write("[listener]\naddress = %s:%d\n" % (self.ip, LISTEN_PORT))
            for (name, mid, ip) in self.members:
                f.write("[member %s]\nid = %d\nraft = %s:%d\nlisten = %s:%d\n"
                        % (name, mid, ip, RAFT_PORT, ip, LISTEN_PORT))
            # The harness's group is a test group: authentication off (the
            # insecure demo mode, logged at start as QSG8012W).
            f.write("[security]\nauthentication = none\n")
            if self.env.tls:
                d = self.env.tls_dir
                # Channels between the group and QMR stay plaintext: the
                # listener takes both (mode optional); clients and Raft
                # are TLS.
                f.write("[tls]\nkey = %s/%s.key\ncert = %s/%s.crt\nca = %s/ca.crt\n"
                        "mode = %s\n" % (d, self.name, d, self.name, d,
                                          "optional" if self.env.channels else "required"))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, faketime=None, wait=True):
        with self.lock:
            if self.alive():
                return
            env = dict(os.environ)
            self.faketime = faketime
            if faketime:
                env["LD_PRELOAD"] = FAKETIME_LIB
                env["FAKETIME"] = faketime
            logf = open(self.log, "a")
            logf.write("=== harness: start %s faketime=%s t=%.3f\n"
                       % (self.name, faketime, self.env.history.now() / 1e9))
            logf.flush()
            # `ip netns exec` execs qsgd: the pid is qsgd's.
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, self.env.bin_path("qsgd"), "-f", self.ini],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                start_new_session=True)
            logf.close()
            self.expect_exit = None
            self.paused = False
            self.env.state.add_pid(self.proc.pid, "qsgd " + self.name)
            proc = self.proc
            threading.Thread(target=self._reap, args=(proc,), daemon=True).start()
        if wait:
            self.wait_started(proc)

    def _reap(self, proc):
        code = proc.wait()
        self.env.state.del_pid(proc.pid)
        expected = self.expect_exit
        self.exits.append((self.env.history.now(), code, expected))
        self.env.history.add(type="info", process="nemesis", f="member-exit",
                             value={"node": self.name, "code": code,
                                    "expected": expected or False})

    def wait_started(self, proc, timeout=30):
        end = time.time() + timeout
        size0 = 0
        while time.time() < end:
            if proc.poll() is not None:
                return False
            try:
                with open(self.log, "rb") as f:
                    data = f.read()
                # the last start marker onwards
                k = data.rfind(b"=== harness: start")
                if b"QSG0001I" in data[k if k >= 0 else size0:]:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def signal(self, sig):
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self, reason="kill"):
        p = self.proc
        if p is None or p.poll() is not None:
            return False
        self.expect_exit = reason
        self.detach_strace()
        self.signal(signal.SIGKILL)
        self.signal(signal.SIGCONT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.paused = False
        return True

    def stop(self, reason="stop"):
        p = self.proc
        if p is None or p.poll() is not None:
            return False
        self.expect_exit = reason
        self.detach_strace()
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            p.wait(timeout=10)
        self.paused = False
        return True

    def attach_strace(self, when, calls):
        p = self.proc
        if p is None or p.poll() is not None:
            return None
        out = open(self.datadir + ".strace.err", "a")
        # trace=SET is needed: strace only tampers with traced calls; the
        # trace (with "(INJECTED)" marks) goes to self.strace_log
        self.strace_log = "%s.strace.%d.log" % (self.datadir, self.env.history.now())
        self.strace = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", self.strace_log, "-e", "trace=" + calls,
             "-e", "inject=%s:error=EIO:when=%d+" % (calls, when), "-p", str(p.pid)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        out.close()
        self.env.state.add_pid(self.strace.pid, "strace " + self.name)
        return self.strace.pid

    def detach_strace(self):
        s = self.strace
        self.strace = None
        if s is None:
            return
        if s.poll() is None:
            os.kill(s.pid, signal.SIGINT)  # strace detaches on SIGINT
            try:
                s.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(s.pid, signal.SIGKILL)
                s.wait()
        self.env.state.del_pid(s.pid)

    def nft(self, script):
        return sh("ip", "netns", "exec", self.ns, "nft", "-f", "-", input=script, check=False)


class Env:
    def __init__(self, args, rundir, history, state):
        self.args = args
        self.rundir = rundir
        self.history = history
        self.state = state
        self.bin = args.bin
        self.tls = bool(getattr(args, "tls", False))
        self.channels = getattr(args, "workload", "queue") in ("transfer", "all")
        self.tls_dir = os.path.join(rundir, "tls")
        tag = "qj%d" % (os.getpid() % 100000)
        self.tag = tag
        self.hub = tag + "h"
        self.nodes = []
        n = args.nodes
        members = [("QM%d" % i, i, "%s.%d" % (SUBNET, 10 + i)) for i in range(1, n + 1)]
        for (name, mid, ip) in members:
            self.nodes.append(Node(self, mid, name, ip, "%sn%d" % (tag, mid), "QSGJ", members,
                                   os.path.join(rundir, name)))
        rip = SUBNET + ".100"
        self.remote = Node(self, 1, "QMR", rip, tag + "r", "QMR", [("QMR", 1, rip)],
                           os.path.join(rundir, "QMR"))
        self.all = self.nodes + [self.remote]

    def bin_path(self, prog):
        real = os.path.join(self.bin, ".libs", prog)
        if prog != "qsgd" and os.path.exists(real):
            return real
        return os.path.join(self.bin, prog)

    def tool_env(self):
        e = dict(os.environ)
        libs = os.path.join(self.bin, ".libs")
        e["LD_LIBRARY_PATH"] = libs + (":" + e["LD_LIBRARY_PATH"] if e.get("LD_LIBRARY_PATH") else "")
        e.pop("LD_PRELOAD", None)
        e.pop("FAKETIME", None)
        if self.tls:
            e["QSG_TLS_CA"] = os.path.join(self.tls_dir, "ca.crt")
            e["QSG_TLS_CERT"] = os.path.join(self.tls_dir, "client.crt")
            e["QSG_TLS_KEY"] = os.path.join(self.tls_dir, "client.key")
        return e

    # ---- network ----
    def create_network(self, tmpfs_mb=0):
        if self.tls:
            certs = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__)))), "scripts", "tls-certs")
            sh(certs, self.tls_dir, *[n.name for n in self.all], "client")
        sh("ip", "netns", "add", self.hub)
        self.state.add("namespaces", self.hub)
        hx = ["ip", "-n", self.hub]
        sh(*hx, "link", "set", "lo", "up")
        sh(*hx, "link", "add", "br0", "type", "bridge")
        sh(*hx, "addr", "add", HUB_IP + "/24", "dev", "br0")
        sh(*hx, "link", "set", "br0", "up")
        for k, node in enumerate(self.all):
            sh("ip", "netns", "add", node.ns)
            self.state.add("namespaces", node.ns)
            a = "%sa%d" % (self.tag, k)
            b = "%sb%d" % (self.tag, k)
            sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
            # the pair lives in the root namespace for a moment: record it
            self.state.add("links", a)
            sh("ip", "link", "set", a, "netns", self.hub)
            sh("ip", "link", "set", b, "netns", node.ns)
            self.state.remove("links", a)
            sh(*hx, "link", "set", a, "master", "br0")
            sh(*hx, "link", "set", a, "up")
            nx = ["ip", "-n", node.ns]
            sh(*nx, "link", "set", b, "name", "eth0")
            sh(*nx, "addr", "add", node.ip + "/24", "dev", "eth0")
            sh(*nx, "link", "set", "eth0", "up")
            sh(*nx, "link", "set", "lo", "up")
            os.makedirs(node.datadir, exist_ok=True)
            if tmpfs_mb and node is not self.remote:
                sh("mount", "-t", "tmpfs", "-o", "size=%dm" % tmpfs_mb, "tmpfs", node.datadir)
                self.state.add("mounts", node.datadir)
            node.write_config()

    def hub_exec(self, argv, **kw):
        return ["ip", "netns", "exec", self.hub] + argv

    def admin(self, node_or_conn, command, timeout=8):
        """One MQSC command through qsgadm --json from the hub. Returns the
        parsed reply dict or None."""
        conn = node_or_conn if isinstance(node_or_conn, str) else node_or_conn.conn
        env = self.tool_env()
        env["QSG_RECONNECT_TIMEOUT"] = "2"
        try:
            r = subprocess.run(self.hub_exec([self.bin_path("qsgadm"), "-c", conn, "--json"]),
                               input=command + "\n", text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return None
        for line in r.stdout.splitlines():
            try:
                return json.loads(line)
            except ValueError:
                continue
        return None

    def leader_views(self):
        """{node name: leader name or ''} from each live, unpaused member."""
        views = {}
        for node in self.nodes:
            if not node.alive() or node.paused:
                continue
            r = self.admin(node, "DISPLAY QMGR", timeout=5)
            if r and r.get("rc") == 0 and r.get("objects"):
                views[node.name] = str(r["objects"][0].get("LEADER", "")).strip()
        return views

    def leader(self):
        views = self.leader_views()
        counts = {}
        for v in views.values():
            if v:
                counts[v] = counts.get(v, 0) + 1
        if not counts:
            return None
        best = max(counts, key=counts.get)
        return self.node(best)

    def node(self, name):
        for n in self.all:
            if n.name == name or ("QM" + name) == n.name:
                return n
        return None

    def wait_stable_leader(self, timeout=60):
        """Every live member names the same leader, 3 polls in a row."""
        end = time.time() + timeout
        streak, last = 0, None
        while time.time() < end:
            views = self.leader_views()
            vals = set(views.values())
            live = [n for n in self.nodes if n.alive()]
            if len(vals) == 1 and "" not in vals and len(views) == len(live):
                v = vals.pop()
                streak = streak + 1 if v == last else 1
                last = v
                if streak >= 3:
                    return v
            else:
                streak, last = 0, None
            time.sleep(0.5)
        return None

    def wait_joined(self, timeout=30):
        """Every member answers PING (its lease is active)."""
        end = time.time() + timeout
        while time.time() < end:
            ok = 0
            for node in self.nodes:
                r = self.admin(node, "PING QMGR", timeout=5)
                if r and r.get("rc") == 0:
                    ok += 1
            if ok == len(self.nodes):
                return True
            time.sleep(0.5)
        return False

    def teardown(self):
        for node in self.all:
            try:
                node.detach_strace()
            except Exception:
                pass
            node.stop("teardown")
        for m in list(self.state.d["mounts"]):
            sh("umount", "-l", m, check=False)
            self.state.remove("mounts", m)
        for ns in list(self.state.d["namespaces"]):
            sh("ip", "netns", "del", ns, check=False)
            self.state.remove("namespaces", ns)
