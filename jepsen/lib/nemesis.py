"""Nemeses. Each is a class with start(env, params) -> value and
stop(env, params, ctx) -> value; the runner records both in the history as
:nemesis ops. Every random choice is drawn when the schedule is made (from
the seed) and kept in its params, so a schedule replays exactly; only the
*role* targets (the leader, the channel owner) are resolved at run time."""
import os
import signal
import shutil
import time

from env import RAFT_PORT, sh

ALL = ["partition-random-halves", "partition-leader", "partition-majority-ring",
       "partition-one-way", "partition-channel-owner", "partition-inbound-owner", "packet-loss", "kill",
       "kill-leader", "kill-channel-owner", "pause", "pause-leader", "clock-skew", "clock-skew-leader", "disk-eio", "disk-eio-leader", "disk-full", "membership",
       "pause+kill", "partition+kill"]
CHANNEL_ONLY = ("partition-channel-owner", "kill-channel-owner", "partition-inbound-owner")


def draw_params(name, rng, n):
    """The random part of one fault, drawn from the schedule's Random."""
    idx = list(range(1, n + 1))
    if name == "partition-random-halves":
        p = idx[:]
        rng.shuffle(p)
        return {"perm": p}
    if name == "partition-majority-ring":
        p = idx[:]
        rng.shuffle(p)
        return {"ring": p}
    if name == "partition-one-way":
        a, b = rng.sample(idx, 2)
        return {"from": a, "to": b}
    if name == "packet-loss":
        return {"node": rng.choice(idx), "percent": 20}
    if name in ("kill", "pause", "membership"):
        return {"node": rng.choice(idx)}
    if name in ("clock-skew", "clock-skew-leader"):
        return {"node": rng.choice(idx),
                "offset": rng.choice(["+30s", "-30s", "+300s", "-300s", "+1d"])}
    if name in ("disk-eio", "disk-eio-leader"):
        # strace counts `when` per thread and per call: keep N small
        return {"node": rng.choice(idx), "when": rng.randint(1, 5),
                # fsync-only is usually idle (libraft appends with O_DIRECT AIO and
                # does not fsync them): drawn less often
                "calls": rng.choices(["disk-write", "all", "fsync"], weights=[2, 2, 1])[0]}
    if name == "disk-full":
        return {"node": rng.choice(idx)}
    if name == "pause+kill":
        a, b = rng.sample(idx, 2)
        return {"pause": a, "kill": b}
    if name == "partition+kill":
        p = idx[:]
        rng.shuffle(p)
        return {"perm": p, "kill": rng.choice(idx)}
    return {}


def _ips(env, idxs):
    return [env.nodes[i - 1].ip for i in idxs]


def _drop_from(env, node, ips, chain="qjpart"):
    """nft: node drops every packet from the given addresses (input) and
    towards them (output)."""
    if not ips:
        return
    s = ", ".join(ips)
    script = ("table inet %s {\n chain input { type filter hook input priority 0; "
              "ip saddr { %s } drop; }\n chain output { type filter hook output priority 0; "
              "ip daddr { %s } drop; }\n}\n" % (chain, s, s))
    r = node.nft(script)
    if r.returncode != 0:
        raise RuntimeError("nft on %s: %s" % (node.name, r.stderr.strip()))


def _partition(env, components):
    """components: list of lists of node indexes; nodes only talk inside
    their component. Clients (the hub, 10.77.0.1) still reach every node."""
    grid = {}
    for comp in components:
        others = [i for c in components if c is not comp for i in c]
        for i in comp:
            grid[i] = others
            _drop_from(env, env.nodes[i - 1], _ips(env, others))
    return {env.nodes[i - 1].name: [env.nodes[j - 1].name for j in o] for i, o in grid.items()}


def heal_network(env):
    for node in env.all:
        node.nft("delete table inet qjpart\n")
        node.nft("delete table inet qjloss\n")
        sh("ip", "netns", "exec", node.ns, "tc", "qdisc", "del", "dev", "eth0", "root",
           check=False)


class Nemesis:
    name = "?"

    def start(self, env, p):
        return None

    def stop(self, env, p, ctx):
        return None


class PartitionHalves(Nemesis):
    def start(self, env, p):
        perm = p["perm"]
        k = len(perm) // 2
        return _partition(env, [perm[:k], perm[k:]])

    def stop(self, env, p, ctx):
        heal_network(env)
        return "healed"


class PartitionRole(Nemesis):
    """Isolate one node (the leader, the owner of the outbound channel G.TO.R
    or the member running the inbound channel R.TO.G) from every other
    member; clients and the remote QMR still reach it."""

    def __init__(self, role):
        self.role = role

    def start(self, env, p):
        if self.role == "leader":
            target = env.leader()
        elif self.role == "inbound-owner":
            target = env.inbound_owner()
        else:
            target = env.channel_owner()
        if target is None:
            return {"skipped": "no %s found" % self.role}
        i = target.idx
        rest = [j for j in range(1, len(env.nodes) + 1) if j != i]
        _partition(env, [[i], rest])
        return {"isolated": target.name}

    def stop(self, env, p, ctx):
        heal_network(env)
        return "healed"


class PartitionRing(Nemesis):
    """Majority ring: each node sees its neighbours on a ring (a majority
    for 3 and 5 nodes), but no two nodes see the same majority."""

    def start(self, env, p):
        ring = p["ring"]
        n = len(ring)
        view = {}
        for k, i in enumerate(ring):
            if n >= 5:
                near = {ring[(k + d) % n] for d in (-1, 0, 1)}
            else:  # 3 nodes: cut the link ring[0]-ring[2]; ring[1] bridges
                near = set(ring) - ({ring[2]} if k == 0 else {ring[0]} if k == 2 else set())
            far = [j for j in ring if j not in near]
            view[env.nodes[i - 1].name] = [env.nodes[j - 1].name for j in sorted(near)]
            _drop_from(env, env.nodes[i - 1], _ips(env, far))
        return view

    def stop(self, env, p, ctx):
        heal_network(env)
        return "healed"


class PartitionOneWay(Nemesis):
    """Packets from node A to node B are dropped (B's input); B to A flows."""

    def start(self, env, p):
        a, b = env.nodes[p["from"] - 1], env.nodes[p["to"] - 1]
        script = ("table inet qjpart {\n chain input { type filter hook input priority 0; "
                  "ip saddr %s drop; }\n}\n" % a.ip)
        r = b.nft(script)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        return {"dropped": "%s->%s" % (a.name, b.name)}

    def stop(self, env, p, ctx):
        heal_network(env)
        return "healed"


class PacketLoss(Nemesis):
    """tc netem loss in the member's namespace; where the kernel has no
    sch_netem, the same random loss with nftables (numgen random)."""

    def start(self, env, p):
        node = env.nodes[p["node"] - 1]
        pc = p["percent"]
        r = sh("ip", "netns", "exec", node.ns, "tc", "qdisc", "add", "dev", "eth0", "root",
               "netem", "loss", "%d%%" % pc, check=False)
        if r.returncode == 0:
            return {"node": node.name, "loss": pc, "via": "netem"}
        script = ("table inet qjloss {\n chain input { type filter hook input priority 0; "
                  "numgen random mod 100 < %d drop; }\n chain output { type filter hook output "
                  "priority 0; numgen random mod 100 < %d drop; }\n}\n" % (pc, pc))
        r2 = node.nft(script)
        if r2.returncode != 0:
            raise RuntimeError("packet loss: " + r.stderr + r2.stderr)
        return {"node": node.name, "loss": pc, "via": "nft numgen (no sch_netem)"}

    def stop(self, env, p, ctx):
        heal_network(env)
        return "healed"


class Kill(Nemesis):
    """kill -9 a member (random or the leader); restart it at stop."""

    def __init__(self, role=None):
        self.role = role

    def start(self, env, p):
        if self.role == "leader":
            node = env.leader()
        elif self.role == "channel-owner":
            node = env.channel_owner()
        else:
            node = env.nodes[p["node"] - 1]
        if node is None:
            return {"skipped": "no %s found" % self.role}
        node.kill("kill")
        return {"killed": node.name, "target": node.name}

    def stop(self, env, p, ctx):
        if not ctx or "target" not in ctx:
            return None
        node = env.node(ctx["target"])
        ok = node.start()
        return {"restarted": node.name}


class Pause(Nemesis):
    """SIGSTOP a random member (or the leader); SIGCONT at stop."""

    def __init__(self, role=None):
        self.role = role

    def start(self, env, p):
        node = env.leader() if self.role == "leader" else env.nodes[p["node"] - 1]
        if node is None:
            return {"skipped": "no leader found"}
        node.signal(signal.SIGSTOP)
        node.paused = True
        return {"paused": node.name, "target": node.name}

    def stop(self, env, p, ctx):
        if not ctx or "target" not in ctx:
            return None
        node = env.node(ctx["target"])
        node.signal(signal.SIGCONT)
        node.paused = False
        return {"resumed": node.name}


class ClockSkew(Nemesis):
    """Restart a member under libfaketime with a clock offset (the
    `faketime -f OFFSET` environment: LD_PRELOAD + FAKETIME); restart it with
    the real clock at stop."""

    def __init__(self, role=None):
        self.role = role

    def start(self, env, p):
        node = env.leader() if self.role == "leader" else env.nodes[p["node"] - 1]
        if node is None:
            return {"skipped": "no leader found"}
        node.stop("clock-skew")
        node.start(faketime=p["offset"])
        return {"node": node.name, "offset": p["offset"], "target": node.name}

    def stop(self, env, p, ctx):
        if "target" not in ctx:
            return {"skipped": True}
        node = env.node(ctx["target"])
        node.stop("clock-skew-end")
        node.start()
        return {"node": node.name, "offset": "0"}


# "disk-write": the calls that only write files (libraft's kernel AIO, libuv's
# positional writes). "all" adds write(2) and the syncs: write(2) also hits
# eventfds, sockets and the member's stderr (its fail-stop log line is then
# lost), so "all" is a broader I/O fault than a disk fault.
DISK_CALLS = {"fsync": "fsync,fdatasync",
              "disk-write": "io_submit,pwrite64,pwritev,pwritev2",
              "all": "fsync,fdatasync,write,pwrite64,pwritev,pwritev2,io_submit"}


class DiskEIO(Nemesis):
    def __init__(self, role=None):
        self.role = role

    """strace -f -e inject=...:error=EIO:when=N+ on a member's qsgd: from the
    N-th write/fsync-class system call on, each fails with EIO. The member
    must fail-stop (exit 70); at stop it is restarted from its data dir."""

    def start(self, env, p):
        node = env.leader() if self.role == "leader" else env.nodes[p["node"] - 1]
        if node is None:
            return {"skipped": "no leader found"}
        calls = DISK_CALLS[p.get("calls", "all")]
        pid = node.attach_strace(p["when"], calls)
        if pid is None:
            return {"skipped": "%s not running" % node.name}
        node.expect_exit = "disk-eio"
        return {"node": node.name, "when": p["when"], "calls": calls, "strace": pid,
                "target": node.name}

    def stop(self, env, p, ctx):
        if not ctx or "target" not in ctx:
            return None
        node = env.node(ctx["target"])
        # give a slow fail-stop a moment
        for _ in range(20):
            if not node.alive():
                break
            time.sleep(0.1)
        died = not node.alive()
        code = node.proc.returncode if died else None
        node.detach_strace()
        injected, calls = 0, {}
        try:
            with open(node.strace_log, errors="replace") as f:
                for line in f:
                    if "(INJECTED)" in line:
                        injected += 1
                        c = line.split("(", 1)[0].split()[-1]
                        calls[c] = calls.get(c, 0) + 1
        except OSError:
            pass
        if died:
            node.start()
        else:
            node.expect_exit = None
        return {"node": node.name, "fail-stopped": died, "exit": code, "injected": injected,
                "injected_calls": calls}


class DiskFull(Nemesis):
    """The member's data dir is a small tmpfs (mounted by the harness when
    this nemesis is on): fill it with a ballast file, then delete it (and
    restart the member if it stopped)."""

    def start(self, env, p):
        node = env.nodes[p["node"] - 1]
        path = os.path.join(node.datadir, "ballast")
        n = 0
        node.expect_exit = "disk-full"
        try:
            with open(path, "wb") as f:
                chunk = b"\0" * (1 << 20)
                while True:
                    f.write(chunk)
                    n += 1
                    f.flush()
        except OSError:
            pass
        return {"node": node.name, "ballast_mb": n, "target": node.name}

    def stop(self, env, p, ctx):
        node = env.node(ctx["target"])
        try:
            os.unlink(os.path.join(node.datadir, "ballast"))
        except OSError:
            pass
        died = not node.alive()
        code = node.proc.returncode if died and node.proc else None
        if died:
            node.start()
        else:
            node.expect_exit = None
        return {"node": node.name, "stopped": died, "exit": code}


class Membership(Nemesis):
    """A real Raft membership change: REMOVE MEMBER on the leader, stop the
    member; at stop, wipe its data directory, start it in join mode
    (`[raft] join = yes`) and ADD MEMBER it back, so it catches up from a
    snapshot (docs/lifecycle.md). If the leader refuses the removal (it
    would cost the quorum) the member is only stopped and started again."""

    def _leader_cmd(self, env, command, tries=10):
        for _ in range(tries):
            leader = env.leader()
            if leader is not None:
                r = env.admin(leader, command, timeout=15)
                if r is not None and r.get("rc") == 0:
                    return r
            time.sleep(0.5)
        return None

    def start(self, env, p):
        node = env.nodes[p["node"] - 1]
        r = self._leader_cmd(env, "REMOVE MEMBER(%s)" % node.name, tries=3)
        node.stop("membership")
        return {"removed": node.name, "target": node.name, "raft_removed": r is not None}

    def stop(self, env, p, ctx):
        node = env.node(ctx["target"])
        if not ctx.get("raft_removed"):
            node.start()
            return {"added": node.name, "raft_added": False}
        shutil.rmtree(node.datadir, ignore_errors=True)
        with open(node.ini) as f:
            text = f.read()
        if "join = yes" not in text:
            text = text.replace("[raft]\n", "[raft]\njoin = yes\n", 1)
            with open(node.ini, "w") as f:
                f.write(text)
        node.start()
        r = self._leader_cmd(
            env, "ADD MEMBER(%s) RAFTID(%d) RAFTADDR('%s:%d') CONNAME('%s')"
            % (node.name, node.idx, node.ip, RAFT_PORT, node.conn))
        return {"added": node.name, "raft_added": r is not None}


class Composite(Nemesis):
    def __init__(self, parts):
        self.parts = parts  # list of (nemesis, params-key-mapper)

    def start(self, env, p):
        ctx = []
        for nem, pf in self.parts:
            ctx.append(nem.start(env, pf(p)))
        return ctx

    def stop(self, env, p, ctx):
        out = []
        for (nem, pf), c in reversed(list(zip(self.parts, ctx or [None] * len(self.parts)))):
            out.append(nem.stop(env, pf(p), c))
        return out


def make(name):
    return {
        "partition-random-halves": PartitionHalves(),
        "partition-leader": PartitionRole("leader"),
        "partition-channel-owner": PartitionRole("channel-owner"),
        "partition-inbound-owner": PartitionRole("inbound-owner"),
        "partition-majority-ring": PartitionRing(),
        "partition-one-way": PartitionOneWay(),
        "packet-loss": PacketLoss(),
        "kill": Kill(),
        "kill-leader": Kill("leader"),
        "kill-channel-owner": Kill("channel-owner"),
        "pause": Pause(),
        "pause-leader": Pause("leader"),
        "clock-skew": ClockSkew(),
        "clock-skew-leader": ClockSkew("leader"),
        "disk-eio": DiskEIO(),
        "disk-eio-leader": DiskEIO("leader"),
        "disk-full": DiskFull(),
        "membership": Membership(),
        "pause+kill": Composite([(Pause(), lambda p: {"node": p["pause"]}),
                                 (Kill(), lambda p: {"node": p["kill"]})]),
        "partition+kill": Composite([(PartitionHalves(), lambda p: {"perm": p["perm"]}),
                                     (Kill(), lambda p: {"node": p["kill"]})]),
    }[name]


def schedule(rng, names, time_limit, n, quiet=(5, 10), fault=(5, 10)):
    """Alternate quiet and fault periods (5-10 s each unless told) until
    time_limit. The backlog workload asks for shorter ones (its phases
    last seconds each)."""
    out = []
    t = rng.uniform(*quiet)
    while t < time_limit - 3:
        name = rng.choice(names)
        d = min(rng.uniform(*fault), max(time_limit - t, 3))
        out.append({"at": round(t, 3), "duration": round(d, 3), "nemesis": name,
                    "params": draw_params(name, rng, n)})
        t += d + rng.uniform(*quiet)
    return out
