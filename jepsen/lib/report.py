"""Plots (gnuplot) and the text summary of a run."""
import os
import subprocess
from collections import defaultdict

CLIENT_F = ("enqueue", "dequeue", "transfer-put", "transfer-get")


def nemesis_spans(ops, end_s):
    spans, open_ = [], {}
    for op in ops:
        if op.get("process") != "nemesis" or op.get("f") in ("member-exit",):
            continue
        f = str(op.get("f"))
        t = op["time"] / 1e9
        if f.startswith("start-") and op.get("type") == "info" and op.get("phase") == "done":
            open_[f[6:]] = t
        elif f.startswith("stop-") and op.get("type") == "info" and op.get("phase") == "done":
            s = open_.pop(f[5:], None)
            if s is not None:
                spans.append((s, t, f[5:]))
    for name, s in open_.items():
        spans.append((s, end_s, name))
    return spans


def plots(rundir, ops):
    invokes = {}
    lat = defaultdict(list)  # (f, type) -> [(t, ms)]
    rate = defaultdict(lambda: defaultdict(int))  # second -> key -> n
    end = 0.0
    for op in ops:
        if op.get("f") not in CLIENT_F:
            continue
        p = op.get("process")
        if op["type"] == "invoke":
            invokes[p] = op
            continue
        inv = invokes.pop(p, None)
        if inv is None:
            continue
        t = inv["time"] / 1e9
        ms = (op["time"] - inv["time"]) / 1e6
        key = "%s %s" % (op["f"], op["type"])
        lat[key].append((t, max(ms, 0.01)))
        rate[int(op["time"] / 1e9)][key] += 1
        end = max(end, op["time"] / 1e9)
    keys = sorted(lat)
    for k in keys:
        with open(os.path.join(rundir, "lat-%s.dat" % k.replace(" ", "-")), "w") as f:
            for t, ms in lat[k]:
                f.write("%.3f %.3f\n" % (t, ms))
    with open(os.path.join(rundir, "rate.dat"), "w") as f:
        f.write("t " + " ".join(k.replace(" ", "-") for k in keys) + "\n")
        for sec in range(0, int(end) + 1):
            f.write("%d %s\n" % (sec, " ".join(str(rate[sec].get(k, 0)) for k in keys)))
    spans = nemesis_spans(ops, end)
    shade = "\n".join(
        "set object %d rect from %.3f, graph 0 to %.3f, graph 1 fc rgb '#ffcccc' "
        "fs solid 0.5 noborder behind" % (i + 1, s, e, ) for i, (s, e, _) in enumerate(spans))
    colour = {"ok": "#1f9e3a", "fail": "#d62728", "info": "#ff9f1c"}
    common = ("set terminal png size 1200,500\nset xlabel 'time (s)'\nset key outside right\n"
              + shade + "\n")
    if keys:
        def style(k):
            f, t = k.split()
            put = "enqueue" in f or "put" in f
            col = {"ok": "#1f9e3a" if put else "#1f77b4", "fail": "#d62728",
                   "info": "#ff9f1c"}.get(t, "#000000")
            pt, ps = {"ok": (7, 0.4), "fail": (2, 1.0), "info": (9 if put else 11, 1.4)}.get(
                t, (7, 0.4))
            return "pt %d ps %.1f lc rgb '%s'" % (pt, ps, col)
        lp = ", ".join("'lat-%s.dat' using 1:2 with points %s title '%s'"
                       % (k.replace(" ", "-"), style(k), k) for k in keys)
        rp = ", ".join("'rate.dat' using 1:%d with lines lw 2 title '%s'" % (i + 2, k)
                       for i, k in enumerate(keys))
        script = (common + "set output 'latency.png'\nset logscale y\nset ylabel 'latency (ms)'\n"
                  "set title 'latency (nemesis periods shaded)'\nplot " + lp + "\n"
                  "unset logscale y\nset output 'rate.png'\nset ylabel 'ops/s'\n"
                  "set title 'throughput (nemesis periods shaded)'\nplot " + rp + "\n")
        with open(os.path.join(rundir, "plots.gp"), "w") as f:
            f.write(script)
        subprocess.run(["gnuplot", "plots.gp"], cwd=rundir, stdout=subprocess.DEVNULL,
                       stderr=open(os.path.join(rundir, "gnuplot.log"), "w"))
    return spans
