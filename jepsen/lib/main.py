"""jepsen/run's engine: see jepsen/README.md."""
import argparse
import json
import os
import random
import signal
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import backlog  # noqa: E402
import checker  # noqa: E402
import nemesis  # noqa: E402
import report  # noqa: E402
import workload  # noqa: E402
from env import Env, State, sh  # noqa: E402
from history import History  # noqa: E402

QUICK = [("kill", 1), ("partition-leader", 2), ("pause", 3), ("disk-eio", 4),
         ("clock-skew", 5)]
# --quick's sixth scenario: a short backlog (about 35 s; jepsen/README.md)
QUICK_BACKLOG = {"k": 6, "nemesis": ["kill", "partition-leader", "pause"], "messages": 10000,
                 "hold": 8.0}


class Run:
    def __init__(self, cfg, rundir, state_path):
        self.cfg = cfg
        self.rundir = rundir
        self.history = History()
        self.state = State(state_path)
        self.stop_workload = threading.Event()
        self.env = None
        self.notes = []
        self.wl_start = 0
        self.drain_complete = True


def log(msg):
    sys.stderr.write("[jepsen %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def depths(env, node):
    r = env.admin(node, "DISPLAY QSTATUS(*) CURDEPTH", timeout=6)
    if not r or r.get("rc") != 0:
        return None
    return {o.get("QUEUE"): o.get("CURDEPTH") for o in r.get("objects", [])}


def divergence(env, timeout=30):
    """Poll every member's DISPLAY QSTATUS(*) CURDEPTH until all agree."""
    end = time.time() + timeout
    views = {}
    while time.time() < end:
        views = {n.name: depths(env, n) for n in env.nodes}
        vals = [json.dumps(v, sort_keys=True) for v in views.values()]
        if None not in views.values() and len(set(vals)) == 1:
            return {"valid": True, "depths": views}
        time.sleep(1)
    return {"valid": False, "depths": views}


def nemesis_loop(run, sched, deadline):
    env, h = run.env, run.history

    def rel():
        return (h.now() - run.wl_start) / 1e9
    for entry in sched:
        name, params = entry["nemesis"], entry["params"]
        nem = nemesis.make(name)
        while rel() < entry["at"]:
            if run.stop_workload.is_set():
                return
            time.sleep(0.05)
        h.add(type="info", process="nemesis", f="start-" + name, value=params, phase="invoke")
        try:
            ctx = nem.start(env, params)
        except Exception as e:  # noqa: BLE001
            ctx = {"error": str(e)}
            run.notes.append("nemesis %s start: %s" % (name, e))
        h.add(type="info", process="nemesis", f="start-" + name,
              value={k: v for k, v in (ctx or {}).items()} if isinstance(ctx, dict) else ctx,
              phase="done")
        end = entry["at"] + entry["duration"]
        while rel() < end and not run.stop_workload.is_set():
            time.sleep(0.05)
        h.add(type="info", process="nemesis", f="stop-" + name, value=None, phase="invoke")
        try:
            res = nem.stop(env, params, ctx)
        except Exception as e:  # noqa: BLE001
            res = {"error": str(e)}
            run.notes.append("nemesis %s stop: %s" % (name, e))
        h.add(type="info", process="nemesis", f="stop-" + name, value=res, phase="done")


def heal(run):
    env, h = run.env, run.history
    h.add(type="info", process="nemesis", f="heal", value=None, phase="invoke")
    nemesis.heal_network(env)
    restarted = []
    for node in env.all:
        node.detach_strace()
        node.signal(signal.SIGCONT)
        node.paused = False
        try:
            os.unlink(os.path.join(node.datadir, "ballast"))
        except OSError:
            pass
    for node in env.all:
        if node is env.remote and not run.cfg["transfer_on"]:
            continue
        if not node.alive() or node.faketime:
            if node.alive():
                node.stop("clock-skew-end")
            node.expect_exit = None
            node.start()
            restarted.append(node.name)
    h.add(type="info", process="nemesis", f="heal", value={"restarted": restarted},
          phase="done")


def run_one(cfg, rundir, state_path):
    """Returns (valid, results dict)."""
    os.makedirs(rundir, exist_ok=True)
    run = Run(cfg, rundir, state_path)
    results = {"seed": cfg["seed"], "nodes": cfg["nodes"], "nemesis": cfg["nemesis"],
               "workload": cfg["workload"], "time_limit": cfg["time_limit"]}
    valid = False
    env = None
    interrupted = False
    try:
        ns = argparse.Namespace(bin=cfg["bin"], nodes=cfg["nodes"], tls=cfg.get("tls", False),
                                workload=cfg["workload"])
        env = Env(ns, rundir, run.history, run.state)
        run.env = env
        env.qsgjep = cfg["qsgjep"]
        env.channel_owner = lambda: workload.channel_owner(env)
        env.inbound_owner = lambda: workload.channel_owner(env, "R.TO.G")
        sched = cfg["schedule"]
        with open(os.path.join(rundir, "schedule.json"), "w") as f:
            json.dump({k: cfg[k] for k in ("seed", "nodes", "nemesis", "workload",
                                           "time_limit", "rate", "schedule", "backlog",
                                           "tls")},
                      f, indent=1)
        with open(os.path.join(rundir, "seed"), "w") as f:
            f.write("%d\n" % cfg["seed"])
        uses_disk_full = any("disk-full" in e["nemesis"] for e in sched)
        tmpfs = 96
        if cfg["workload"] == "backlog":  # room for the deep queue's log and snapshots
            tmpfs += cfg["backlog"]["messages"] * (cfg["backlog"]["body"] + 200) * 6 >> 20
        env.create_network(tmpfs_mb=tmpfs if uses_disk_full else 0)
        want_transfer = cfg["workload"] in ("transfer", "all")
        cfg["transfer_on"] = False
        for node in env.nodes:
            node.start(wait=False)
        if want_transfer:
            env.remote.start(wait=False)
        for node in env.nodes:
            if not node.wait_started(node.proc):
                raise RuntimeError("%s did not start (see %s)" % (node.name, node.log))
        leader = env.wait_stable_leader(60)
        if not leader:
            raise RuntimeError("no stable leader after start")
        if not env.wait_joined(30):
            raise RuntimeError("members did not all join")
        log("group up, leader %s" % leader)
        queues = []
        workers = []
        if cfg["workload"] in ("queue", "all"):
            queues = list(workload.QUEUES)
            workload.setup_queues(env, queues)
            workers += workload.queue_workers(run, cfg["rate"])
        is_backlog = cfg["workload"] == "backlog"
        if is_backlog:
            queues = [backlog.QUEUE]
            workload.setup_queues(env, queues)
            results["backlog_params"] = cfg["backlog"]
        transfer_queues = []
        if want_transfer:
            ok, why = workload.channels_supported(env)
            if ok:
                err = workload.setup_transfer(env)
                if err:
                    ok, why = False, "transfer setup failed: " + err
            if ok:
                cfg["transfer_on"] = True
                transfer_queues = ["TO.R", "IN", "TO.G", "IN.G"]
                workers += workload.transfer_workers(run, cfg["rate"], 100)
                workers.append(workload.ChannelPoller(run))
            else:
                results["transfer"] = {"skipped": why}
                run.notes.append("transfer workload skipped: " + why)
                log("transfer workload skipped: " + why)
                env.remote.stop("teardown")
        if not workers and not is_backlog:
            raise RuntimeError("no workload to run")
        run.wl_start = run.history.now()
        results["workload_start_s"] = round(run.wl_start / 1e9, 3)
        for w in workers:
            w.start()
        nt = threading.Thread(target=nemesis_loop, args=(run, sched, cfg["time_limit"]),
                              daemon=True)
        nt.start()
        if is_backlog:
            # fill, hold, drain under the nemeses; the schedule is only a horizon
            results["backlog_phases"] = backlog.drive(run, cfg, random.Random(cfg["seed"] + 7))
            log("backlog phases done %s; healing" % results["backlog_phases"])
        else:
            time.sleep(cfg["time_limit"])
            log("time limit reached; stopping workload")
        run.stop_workload.set()
        nt.join(timeout=60)
        for w in workers:
            w.join(timeout=60)
        heal(run)
        leader = env.wait_stable_leader(90)
        results["leader_after_heal"] = leader
        if not leader:
            run.notes.append("no stable leader after healing")
        env.wait_joined(30)
        results["divergence_before_drain"] = divergence(env)
        if transfer_queues:
            idle, last = workload.wait_channels_idle(env)
            results["channels_idle"] = idle
            if not idle:
                run.notes.append("transmission queues not empty after 90 s: %s" % (last,))
        drained = workload.drain(run, queues + (["IN", "IN.G"] if transfer_queues else []),
                                 1000, where={"IN": [env.remote]},
                                 deadline_s=max(180, cfg["backlog"]["messages"] / 100)
                                 if is_backlog else 180,
                                 record={backlog.QUEUE: backlog.record_get})
        results["drained"] = drained
        results["drain_complete"] = run.drain_complete
        if not run.drain_complete:
            run.notes.append("drain incomplete: `lost` counts are upper bounds (messages may "
                             "still be on the queues)")
        results["divergence_after_drain"] = divergence(env)
        ops = run.history.ops
        checks = {}
        if is_backlog:
            checks["backlog"] = checker.backlog(ops, backlog.QUEUE)
        elif queues:
            checks["total-queue"] = checker.total_queue(ops, queues)
            checks["producer-order"] = checker.producer_order(ops, "JQ.F")
        if transfer_queues:
            tq = [dict(op, queue="G->R") if op.get("queue") in ("TO.R", "IN") else
                  dict(op, queue="R->G") if op.get("queue") in ("TO.G", "IN.G") else op
                  for op in ops]
            checks["transfer-exactly-once"] = checker.total_queue(
                tq, ["G->R", "R->G"], put_f=("transfer-put",),
                get_f=("transfer-get", "drain"))
            checks["single-channel-instance"] = checker.channel_instances(ops)
        checks["divergence"] = {"valid": results["divergence_before_drain"]["valid"]
                                and results["divergence_after_drain"]["valid"]}
        checks["member-exits"] = checker.member_exits(ops)
        if not run.drain_complete:
            # messages may still be on the queues: `lost` is not established
            for name in ("total-queue", "transfer-exactly-once", "backlog"):
                c = checks.get(name)
                if c:
                    c["lost_is_upper_bound"] = True
                    c["valid"] = (c["total"]["duplicated"] == 0 and c["total"]["unexpected"] == 0
                                  and not c.get("damaged") and not c.get("unchecked"))
        if any(e["nemesis"].startswith("disk-eio") for e in sched):
            checks["disk-eio-fail-stop"] = checker.disk_fail_stop(ops)
        results["checks"] = checks
        valid = all(c["valid"] for c in checks.values()) and bool(leader)
    except BaseException as e:  # noqa: BLE001 (KeyboardInterrupt = SIGINT/SIGTERM)
        results["error"] = "%s: %s" % (type(e).__name__, e)
        results["traceback"] = traceback.format_exc()
        log("run error: %s" % results["error"])
        if not isinstance(e, Exception):
            interrupted = True
    finally:
        run.stop_workload.set()
        if env is not None:
            try:
                env.teardown()
            except Exception as e:  # noqa: BLE001
                log("teardown: %s" % e)
        try:
            run.history.write(os.path.join(rundir, "history.edn"),
                              os.path.join(rundir, "history.jsonl"))
            spans = report.plots(rundir, run.history.ops)
            results["nemesis_periods"] = [[round(s, 2), round(e, 2), n] for s, e, n in spans]
        except Exception as e:  # noqa: BLE001
            results["report_error"] = str(e)
    results["notes"] = run.notes
    results["ops"] = sum(1 for op in run.history.ops
                         if op.get("type") != "invoke" and op.get("process") != "nemesis"
                         and op.get("f") not in ("chstatus", "depth", "phase"))
    results["faults"] = sum(1 for op in run.history.ops
                            if str(op.get("f", "")).startswith("start-")
                            and op.get("phase") == "done")
    results["valid"] = valid
    with open(os.path.join(rundir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    with open(os.path.join(rundir, "summary.txt"), "w") as f:
        f.write(summary(results))
    if interrupted:
        raise KeyboardInterrupt()
    return valid, results


def summary(r):
    lines = ["seed %s nodes %s nemesis %s workload %s time-limit %ss" % (
        r["seed"], r["nodes"], ",".join(r["nemesis"]), r["workload"], r["time_limit"])]
    if "error" in r:
        lines.append("ERROR: " + r["error"])
    lines.append("faults %s, client ops %s" % (r.get("faults"), r.get("ops")))
    for name, c in r.get("checks", {}).items():
        extra = ""
        if "total" in c:
            t = c["total"]
            extra = ("attempted %(attempted)d acknowledged %(acknowledged)d read %(read)d "
                     "lost %(lost)d (unexplained %(lost_unexplained)d) duplicated %(duplicated)d "
                     "unexpected %(unexpected)d recovered %(recovered)d" % t)
            if c.get("lost_is_upper_bound"):
                extra += " [drain incomplete: lost is an upper bound, not checked]"
        if name == "backlog":
            extra += ("\n  %-24s body intact %d damaged %d unchecked %d; max depth polled %s, "
                      "acked-unread %s\n  %-24s phases %s rates %s" % (
                          "", c["intact"], c["damaged"], c["unchecked"], c["max_depth_polled"],
                          c["max_depth_acked_unread"], "", c["phases"], c["rates"]))
        elif "violations" in c:
            extra = "violations %d" % c["violations"]
        elif "not_fail_stopped" in c:
            extra = "injected faults %d (idle %d) not fail-stopped %d" % (
                c["faults"], c["not_injected"], c["not_fail_stopped"])
        elif "unexpected_exits" in c:
            extra = "unexpected exits %d" % c["unexpected_exits"]
        lines.append("  %-24s %s %s" % (name, "valid" if c["valid"] else "INVALID", extra))
    if "transfer" in r:
        lines.append("  transfer: %s" % r["transfer"])
    for n in r.get("notes", []):
        lines.append("  note: " + n)
    lines.append("VALID" if r["valid"] else "INVALID")
    return "\n".join(lines) + "\n"


def print_member_warnings(rundir, last=8):
    """The last warnings and errors (QSGnnnnW/E) of each member's log."""
    for name in sorted(os.listdir(rundir)) if os.path.isdir(rundir) else []:
        if not name.endswith(".log") or not name.startswith("QM"):
            continue
        try:
            with open(os.path.join(rundir, name), errors="replace") as f:
                lines = [x.rstrip() for x in f if " WARN " in x or " ERROR " in x
                         or x.startswith("=== harness")]
        except OSError:
            continue
        for x in lines[-last:]:
            print("    %s: %s" % (name[:-4], x[:200]), flush=True)


def make_cfg(a, seed, nemeses, time_limit, schedule_=None, backlog_=None):
    rng = random.Random(seed)
    # backlog: quiet 1-3 s, faults 3-6 s (fill, hold and drain last seconds each)
    periods = {"quiet": (1, 3), "fault": (3, 6)} if a.workload == "backlog" else {}
    sched = schedule_ if schedule_ is not None else nemesis.schedule(
        rng, nemeses, time_limit, a.nodes, **periods)
    return {"seed": seed, "nodes": a.nodes, "nemesis": nemeses, "workload": a.workload,
            "time_limit": time_limit, "rate": a.rate, "schedule": sched, "bin": a.bin,
            "qsgjep": a.qsgjep, "tls": bool(getattr(a, "tls", False)),
            "backlog": backlog_ or {k: getattr(a, "backlog_" + k) for k in backlog.DEFAULTS}}


def main():
    ap = argparse.ArgumentParser(prog="jepsen/run")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--qsgjep", required=True)
    ap.add_argument("--state-file", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="fault period (default 60); backlog: the schedule's horizon "
                    "(default 7200), the faults end when the drain phase does")
    ap.add_argument("--nemesis", default="kill,partition-leader,pause")
    ap.add_argument("--workload", default="queue", choices=["queue", "transfer", "all", "backlog"])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--nodes", type=int, default=3, choices=[3, 5])
    ap.add_argument("--rate", type=float, default=150, help="client ops/s in total")
    ap.add_argument("--replay", default=None)
    ap.add_argument("--tls", action="store_true",
                    help="a TLS group: throwaway CA and certificates, [tls] on every member "
                    "(Raft in mutual TLS), the clients in TLS")
    for k, v in backlog.DEFAULTS.items():
        ap.add_argument("--backlog-" + k.replace("_", "-"), type=type(v), default=v,
                        choices=["leader", "random", "none"] if k == "hold_kill" else None)
    a = ap.parse_args()
    if a.time_limit is None:
        a.time_limit = 7200 if a.workload == "backlog" else 60
    stamp = time.strftime("%Y%m%dT%H%M%S")
    os.makedirs(a.results, exist_ok=True)

    def stop(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, stop)

    if a.quick:
        base = a.seed if a.seed is not None else 1
        allok = True
        scen = [] if a.workload == "backlog" else list(QUICK)
        for name, k in scen + [("backlog", QUICK_BACKLOG["k"])]:
            seed = base * 100 + k
            if name == "backlog":
                qa = argparse.Namespace(**vars(a))
                qa.workload = "backlog"
                qa.backlog_messages = QUICK_BACKLOG["messages"]
                qa.backlog_hold = QUICK_BACKLOG["hold"]
                cfg = make_cfg(qa, seed, QUICK_BACKLOG["nemesis"], 25)
            else:
                cfg = make_cfg(a, seed, [name], 25)
            for e in cfg["schedule"]:  # quick: only the effective disk-eio classes
                if e["nemesis"].startswith("disk-eio") and e["params"]["calls"] == "fsync":
                    e["params"]["calls"] = "disk-write"
            rundir = os.path.join(a.results, "%s-%d-%s" % (stamp, seed, name))
            t = time.time()
            ok, r = run_one(cfg, rundir, a.state_file)
            tq = r.get("checks", {}).get("total-queue" if name != "backlog" else "backlog",
                                         {}).get("total", {})
            print("%-18s %s  faults %s ops %s lost %s dup %s unexpected %s  %.0fs  %s" % (
                name, "PASS" if ok else "FAIL", r.get("faults"), r.get("ops"),
                tq.get("lost"), tq.get("duplicated"), tq.get("unexpected"), time.time() - t,
                rundir), flush=True)
            if not ok:  # say why here: CI keeps only this output
                bad = [k for k, c in r.get("checks", {}).items() if not c.get("valid")]
                print("    invalid checks: %s; leader after heal: %s; notes: %s%s" % (
                    ", ".join(bad) or "none", r.get("leader_after_heal"),
                    "; ".join(r.get("notes", [])) or "none",
                    "; error: " + r["error"] if r.get("error") else ""), flush=True)
                for k in bad:
                    print("    %s: %s" % (k, json.dumps(r["checks"][k], sort_keys=True)[:600]),
                          flush=True)
                print_member_warnings(rundir)
            allok = allok and ok
        print("PASS" if allok else "FAIL")
        return 0 if allok else 1
    if a.replay:
        with open(os.path.join(a.replay, "schedule.json")) as f:
            s = json.load(f)
        a.nodes, a.workload, a.rate = s["nodes"], s["workload"], s.get("rate", a.rate)
        a.tls = a.tls or s.get("tls", False)
        cfg = make_cfg(a, s["seed"], s["nemesis"], s["time_limit"], s["schedule"],
                       s.get("backlog"))
    else:
        seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1, 1 << 31)
        names = ([x for x in nemesis.ALL if x not in nemesis.CHANNEL_ONLY]
                 if a.nemesis == "all" else [x for x in a.nemesis.split(",") if x])
        for n in names:
            if n not in nemesis.ALL:
                print("unknown nemesis %s (known: %s)" % (n, ", ".join(nemesis.ALL)),
                      file=sys.stderr)
                return 2
        cfg = make_cfg(a, seed, names, a.time_limit)
    rundir = os.path.join(a.results, "%s-%d" % (stamp, cfg["seed"]))
    ok, r = run_one(cfg, rundir, a.state_file)
    sys.stdout.write(summary(r))
    print("results: %s" % rundir)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
