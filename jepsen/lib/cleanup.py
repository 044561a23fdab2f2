"""Remove whatever a run recorded in its state file: processes (by pid),
tmpfs mounts, veth links left in the root namespace and namespaces.
Called by jepsen/run's trap; safe to call twice."""
import json
import os
import signal
import subprocess
import sys
import time


def main(path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        return 0
    pids = [int(p) for p in d.get("pids", {})]
    for p in pids:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(p, sig)
            except (ProcessLookupError, PermissionError):
                pass
    time.sleep(0.2 if pids else 0)
    for m in d.get("mounts", []):
        subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
    for link in d.get("links", []):
        subprocess.run(["ip", "link", "del", link], stderr=subprocess.DEVNULL)
    for ns in d.get("namespaces", []):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    if pids or d.get("namespaces"):
        print("cleanup: removed %d namespaces, %d processes, %d mounts"
              % (len(d.get("namespaces", [])), len(pids), len(d.get("mounts", []))),
              file=sys.stderr)
    os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
