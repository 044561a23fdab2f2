"""Print a markdown table row per results directory:
python3 jepsen/lib/table.py RESULTS_DIR..."""
import json
import os
import sys


def row(d):
    with open(os.path.join(d, "results.json")) as f:
        r = json.load(f)
    checks = r.get("checks", {})
    tq = (checks.get("total-queue") or checks.get("backlog") or {}).get("total", {})
    kinds = sorted({p[2] for p in r.get("nemesis_periods", [])})
    checks = r.get("checks", {})
    bad = [k for k, c in checks.items() if not c.get("valid")]
    return "| %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s |" % (
        os.path.basename(d.rstrip("/")), r["seed"], r["nodes"], r.get("faults"),
        ", ".join(kinds) or "-", r.get("ops"), tq.get("acknowledged", "-"),
        tq.get("lost", "-"), tq.get("duplicated", "-"), tq.get("unexpected", "-"),
        "valid" if r.get("valid") else "INVALID: " + ", ".join(bad or [r.get("error", "?")]))


if __name__ == "__main__":
    print("| run | seed | nodes | faults (kinds) | client ops | acked puts | lost | duplicated | unexpected | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in sys.argv[1:]:
        print(row(d))
