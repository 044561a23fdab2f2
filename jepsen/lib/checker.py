"""Checkers over a history (list of op dicts)."""
import hashlib
import re
from collections import Counter, defaultdict

VALUE_RE = re.compile(r"^[pt](\d+)-(\d+)$")


def total_queue(ops, queues, put_f=("enqueue",), get_f=("dequeue", "drain")):
    """Jepsen total-queue, per queue and summed.
    lost        acknowledged (:ok) puts never read
    duplicated  values read (:ok) more than once
    unexpected  values read that no put ever attempted
    recovered   :info puts whose value was read
    A get whose outcome is unknown and whose value is known (syncpoint get,
    commit unknown) counts as a possible read: its value is not lost. A get
    outside syncpoint whose reply was lost (value unknown) may have consumed
    any one message: `lost` beyond the number of those is unexplained and a
    violation; `lost` within it is reported but cannot be proven."""
    res = {}
    tot = Counter()
    for q in queues:
        attempted, acked, info_puts = set(), set(), set()
        put_time = {}
        reads = Counter()
        maybe_reads = set()
        unknown_gets = 0
        unknown_get_times = []
        for op in ops:
            if op.get("queue") != q or op.get("process") == "nemesis":
                continue
            f, t, v = op.get("f"), op.get("type"), op.get("value")
            if f in put_f:
                if t == "invoke":
                    attempted.add(v)
                    put_time.setdefault(v, op["time"])
                elif t == "ok":
                    acked.add(v)
                elif t == "info":
                    info_puts.add(v)
            elif f in get_f:
                if t == "ok" and v is not None:
                    reads[v] += 1
                elif t == "info":
                    if v is not None:
                        maybe_reads.add(v)
                    else:
                        unknown_gets += 1
                        unknown_get_times.append(op["time"])
        read = set(reads)
        lost = sorted(acked - read - maybe_reads)
        dup = sorted(v for v, c in reads.items() if c > 1)
        unexpected = sorted((read | maybe_reads) - attempted)
        recovered = sorted(info_puts & read)
        # each unknown get may have consumed one message put before it
        # completed: match them greedily; what is left is unexplained
        pending = sorted(lost, key=lambda x: put_time.get(x, 0))
        explained = 0
        k = 0
        for tg in sorted(unknown_get_times):
            if k < len(pending) and put_time.get(pending[k], 0) < tg:
                k += 1
                explained += 1
        unexplained = len(lost) - explained
        r = {"attempted": len(attempted), "acknowledged": len(acked), "read": len(read),
             "lost": len(lost), "duplicated": len(dup), "unexpected": len(unexpected),
             "recovered": len(recovered), "info_puts": len(info_puts),
             "unknown_gets": unknown_gets, "lost_unexplained": unexplained,
             "lost_values": lost[:50], "duplicated_values": dup[:50],
             "unexpected_values": unexpected[:50]}
        r["valid"] = unexplained == 0 and not dup and not unexpected
        res[q] = r
        for k in ("attempted", "acknowledged", "read", "lost", "duplicated", "unexpected",
                  "recovered", "lost_unexplained"):
            tot[k] += r[k]
    res["total"] = dict(tot)
    res["valid"] = all(res[q]["valid"] for q in queues)
    return res


def backlog_body(mid, size):
    """The body put for message id `mid`: "ID|" then hex of sha256(ID)
    repeated, `size` characters in all (never shorter than "ID|")."""
    head = mid + "|"
    n = size - len(head)
    if n <= 0:
        return head
    pad = hashlib.sha256(mid.encode()).hexdigest()
    return head + (pad * (n // len(pad) + 1))[:n]


def body_id(body):
    """The id a body claims to carry (its text before "|")."""
    return body.split("|", 1)[0][:64]


def body_digest(body):
    # the client escapes bytes as \u00XX: each char is one byte
    return hashlib.sha1(body.encode("latin-1", "replace")).hexdigest()[:16]


def backlog(ops, queue):
    """The backlog workload (jepsen/lib/backlog.py): total_queue on the deep
    queue (every acknowledged put read once, nothing read twice, nothing
    read that was never put; outcome-unknown gets handled as total_queue
    does), plus: every body read is the body put under that id (:digest
    and :len of the read against backlog_body(id, size of the put)); a read
    with no digest is `unchecked` and also a violation. Reports the deepest
    CURDEPTH polled, the deepest acknowledged-and-unread count in the
    history, and the phase lengths and rates."""
    tq = total_queue(ops, [queue])
    q = tq[queue]
    sizes = {}
    for op in ops:
        if (op.get("queue") == queue and op.get("f") == "enqueue"
                and op.get("type") == "invoke"):
            sizes[op.get("value")] = op.get("size")
    intact, unchecked, damaged = 0, 0, []
    depth, max_hist, max_poll = 0, 0, None
    marks = {}
    for op in ops:
        f, t, v = op.get("f"), op.get("type"), op.get("value")
        if op.get("process") == "backlog" and f == "phase":
            marks.setdefault(v, op["time"])
            continue
        if op.get("queue") != queue:
            continue
        if f == "depth" and t == "ok" and isinstance(v, int):
            max_poll = v if max_poll is None else max(max_poll, v)
        elif f == "enqueue" and t == "ok":
            depth += 1
            max_hist = max(max_hist, depth)
        elif f in ("dequeue", "drain") and t in ("ok", "info") and v is not None:
            if t == "ok":
                depth -= 1
            if v not in sizes:
                continue  # counted as unexpected
            if "digest" not in op:
                unchecked += 1
                continue
            want = backlog_body(v, sizes[v] or 0)
            if op["digest"] == body_digest(want) and op.get("len") == len(want):
                intact += 1
            else:
                damaged.append({"id": v, "index": op.get("index"), "len": op.get("len"),
                                "want_len": len(want)})

    def count(f, t0, t1, types=("ok",)):
        return sum(1 for op in ops if op.get("queue") == queue and op.get("f") == f
                   and op.get("type") in types and op.get("value") is not None
                   and t0 <= op["time"] < t1)
    end = max((op["time"] for op in ops), default=0)
    phases, rates = {}, {}
    names = ["fill", "hold", "drain", "heal"]
    for k, name in enumerate(names[:-1]):
        if name in marks:
            t1 = marks.get(names[k + 1], end)
            phases[name + "_s"] = round((t1 - marks[name]) / 1e9, 2)
    for name, nxt, f in (("fill", "hold", "enqueue"), ("drain", "heal", "dequeue")):
        if name in marks:
            t0, t1 = marks[name], marks.get(nxt, end)
            n = count(f, t0, t1)
            rates[name + "_ok"] = n
            rates[name + "_ok_per_s"] = round(n / max((t1 - t0) / 1e9, 1e-3), 1)
    drains = [op["time"] for op in ops if op.get("queue") == queue and op.get("f") == "drain"
              and op.get("type") == "ok"]
    if len(drains) > 1:
        rates["final_drain_read"] = len(drains)
        rates["final_drain_per_s"] = round(len(drains) / max((drains[-1] - drains[0]) / 1e9,
                                                             1e-3), 1)
    elif drains:
        rates["final_drain_read"] = 1
    r = {"total": tq["total"], queue: q, "intact": intact, "damaged": len(damaged),
         "damaged_examples": damaged[:20], "unchecked": unchecked,
         "max_depth_polled": max_poll, "max_depth_acked_unread": max_hist,
         "phases": phases, "rates": rates}
    r["valid"] = q["valid"] and not damaged and not unchecked
    return r


def producer_order(ops, queue, get_f=("dequeue", "drain")):
    """Single consumer, puts outside syncpoint: each producer's values must be
    read in the order they were put (FIFO per queue)."""
    last = {}
    violations = []
    n = 0
    for op in ops:
        if op.get("queue") != queue or op.get("f") not in get_f or op.get("type") != "ok":
            continue
        m = VALUE_RE.match(str(op.get("value")))
        if not m:
            continue
        n += 1
        p, k = int(m.group(1)), int(m.group(2))
        if p in last and k < last[p]:
            violations.append({"producer": p, "read": k, "after": last[p],
                               "index": op.get("index")})
        last[p] = max(k, last.get(p, 0))
    return {"queue": queue, "reads": n, "violations": len(violations),
            "examples": violations[:20], "valid": not violations}


def ep(x):
    try:
        return int(x)
    except (TypeError, ValueError):
        return -1


def channel_instances(ops, poll_s=1.0):
    """Single active channel instance, outbound and inbound (seed 000 claim
    13). From the :chstatus polls of every member: a sender's status entry is
    keyed by its channel, a receiver's by channel and partner queue manager
    (RQMNAME); an instance is (owner, epoch), and for a receiver the epoch is
    the partner sender's, so a takeover of an inbound channel by another
    member is a new instance even at the same epoch. An instance is active
    from the first to the last poll that saw it RUNNING. Two distinct
    instances of one entry whose active intervals overlap by more than 2
    polling periods, or an older epoch seen RUNNING after a newer one, are
    violations. Polls are 1 s apart: shorter overlaps are not visible
    (documented limitation)."""
    spans = defaultdict(dict)
    seen_order = defaultdict(list)
    for op in ops:
        if op.get("f") != "chstatus" or op.get("type") != "ok":
            continue
        t = op["time"] / 1e9
        for o in op.get("value") or []:
            if str(o.get("status", "")).upper() != "RUNNING":
                continue
            ch = o.get("channel")
            if o.get("type") == "RCVR":
                ch = "%s<-%s" % (ch, o.get("rqm") or "")
            elif o.get("type") not in (None, "SDR"):
                continue
            inst = (o.get("owner"), o.get("epoch"))
            s = spans[ch].setdefault(inst, [t, t])
            s[1] = max(s[1], t)
            seen_order[(ch, op.get("node"))].append((t, inst))
    violations = []
    for ch, insts in spans.items():
        items = sorted(insts.items(), key=lambda kv: kv[1][0])
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                (a, sa), (b, sb) = items[i], items[j]
                overlap = min(sa[1], sb[1]) - max(sa[0], sb[0])
                if overlap > 2 * poll_s:
                    violations.append({"channel": ch, "a": a, "b": b, "overlap_s": overlap})
    # each member's replicated view must never go back to an older epoch
    for (ch, node), seq in seen_order.items():
        newest = -1
        for t, inst in sorted(seq):
            e = ep(inst[1])
            if e < newest:
                violations.append({"channel": ch, "member_view": node, "stale": list(inst),
                                   "newest_epoch": newest, "time": t})
            newest = max(newest, e)
    return {"channels": {ch: [list(k) for k in v] for ch, v in spans.items()},
            "violations": len(violations), "examples": violations[:20],
            "valid": not violations}


def member_exits(ops):
    """Every qsgd exit must be one the nemesis caused: a kill/stop by the
    harness, or exit 70 (fail-stop) under a disk fault."""
    bad = []
    for op in ops:
        if op.get("f") != "member-exit":
            continue
        v = op["value"]
        exp, code = v.get("expected"), v.get("code")
        if exp in ("kill", "teardown") or (exp and code == 0):
            continue
        if exp in ("disk-eio", "disk-full") and code == 70:
            continue
        if exp in ("clock-skew", "clock-skew-end", "membership", "stop") and code in (0, -9):
            continue
        bad.append(v)
    return {"unexpected_exits": len(bad), "examples": bad[:20], "valid": not bad}


def disk_fail_stop(ops):
    """Every disk-eio fault where strace injected at least one EIO must
    have made the member fail-stop (exit 70) before the fault period ended.
    A fault during which no targeted call was made (strace's trace has no
    "(INJECTED)" line) proves nothing and is only counted."""
    bad, n, idle = [], 0, 0
    for op in ops:
        if op.get("f") in ("stop-disk-eio", "stop-disk-eio-leader") and op.get("phase") == "done" and op.get("value"):
            v = op["value"]
            if not isinstance(v, dict) or "fail-stopped" not in v:
                continue
            if not v.get("injected") and not v.get("fail-stopped"):
                idle += 1
                continue
            n += 1
            if not v.get("fail-stopped") or v.get("exit") != 70:
                bad.append(v)
    return {"faults": n, "not_injected": idle, "not_fail_stopped": len(bad), "examples": bad,
            "valid": not bad}
