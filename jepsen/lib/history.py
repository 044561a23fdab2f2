"""History of operations, Jepsen style: every op is an :invoke followed by
:ok, :fail or :info (unknown outcome, never guessed). Written as EDN (one map
per line, like Jepsen's history.edn) and as JSON lines."""
import json
import threading
import time


class History:
    def __init__(self):
        self.t0 = time.monotonic_ns()
        self.ops = []
        self.lock = threading.Lock()

    def now(self):
        return time.monotonic_ns() - self.t0

    def add(self, **op):
        op.setdefault("time", self.now())
        with self.lock:
            op["index"] = len(self.ops)
            self.ops.append(op)
        return op

    def invoke(self, process, f, value=None, **extra):
        return self.add(type="invoke", process=process, f=f, value=value, **extra)

    def complete(self, inv, type_, value=None, **extra):
        op = dict(type=type_, process=inv["process"], f=inv["f"], value=value)
        for k, v in inv.items():
            if k not in ("type", "time", "index", "value") and k not in op:
                op[k] = v
        op.update(extra)
        return self.add(**op)

    def write(self, edn_path, jsonl_path):
        with self.lock:
            ops = list(self.ops)
        with open(jsonl_path, "w") as f:
            for op in ops:
                f.write(json.dumps(op, sort_keys=False) + "\n")
        with open(edn_path, "w") as f:
            for op in ops:
                f.write(edn(op) + "\n")


KEYWORD_KEYS = ("type", "f")


def edn(v, key=None):
    if isinstance(v, dict):
        parts = []
        for k, x in v.items():
            parts.append(":" + str(k).replace("_", "-") + " " + edn(x, k))
        return "{" + ", ".join(parts) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(edn(x) for x in v) + "]"
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if key in KEYWORD_KEYS or (key == "process" and s == "nemesis"):
        return ":" + s
    return json.dumps(s)
