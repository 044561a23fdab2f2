#!/usr/bin/env bash
# /metrics, /healthz and /readyz on a live 3-member group: the HTTP listener
# ([http] address) of every member; queue counters and depth move with 500
# puts and 500 gets; commit latency is recorded; the loop-stall monitor
# (qsg_loop_*) reports; a bad request gets 400 and
# leaves the member serving; /readyz turns 503 on a member whose two peers are
# paused (it loses its lease and its leader) and 200 again after they resume.
# Ports: members 18601.., Raft 18701.., HTTP 18691.. (BASE+90+i: inside this
# test's block and unused by scripts/cluster, whose remote QMR takes BASE+50).
. "$(dirname "$0")/lib.sh" 18600
HTTP_BASE=$((QSG_PORT_BASE + 90))
Q=OBS.METRICS.Q

# scripts/cluster writes QMn.ini on the first `up` only: start once to write
# them, stop, add the [http] section, start again from the same data.
cluster_up 3
"$CLUSTER" down >/dev/null
for i in 1 2 3; do
	printf '[http]\naddress = 127.0.0.1:%d\n' $((HTTP_BASE + i)) >>"$QSG_RUN_DIR/QM$i.ini"
done
cluster_up 3

# http PORT PATH -> "STATUS BODY" on one line (body newlines as spaces)
http() {
	python3 - "$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
url = "http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2])
try:
    with urllib.request.urlopen(url, timeout=5) as r:
        status, body = r.status, r.read().decode()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read().decode()
except Exception as e:
    status, body = 0, repr(e)
print(status, body.replace("\n", " ").strip()[:300])
PY
}
# metric PORT SERIES -> the sample value (empty if absent); SERIES exact,
# labels included, e.g. 'qsg_queue_depth{queue="Q"}'.
metric() {
	python3 - "$1" "$2" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
for line in body.splitlines():
    if line.startswith("#"):
        continue
    name, _, value = line.rpartition(" ")
    if name == sys.argv[2]:
        v = float(value)
        print(int(v) if v == int(v) else v)
        break
PY
}
# wait_metric PORT SERIES VALUE SECONDS
wait_metric() {
	local v i
	for ((i = 0; i < $4 * 10; i++)); do
		v=$(metric "$1" "$2") || true
		[ "$v" = "$3" ] && return 0
		sleep 0.1
	done
	fail "port $1: $2 is '$v', expected $3"
}
# wait_status PORT PATH STATUS SECONDS
wait_status() {
	local out i
	for ((i = 0; i < $4 * 10; i++)); do
		out=$(http "$1" "$2")
		[ "${out%% *}" = "$3" ] && { echo "$out"; return 0; }
		sleep 0.1
	done
	fail "port $1: GET $2 -> '$out', expected $3"
}

for i in 1 2 3; do
	wait_status $((HTTP_BASE + i)) /healthz 200 10 >/dev/null
	out=$(wait_status $((HTTP_BASE + i)) /readyz 200 20)
	log "QM$i /healthz 200, /readyz: $out"
done
out=$(http $((HTTP_BASE + 1)) /nope)
[ "${out%% *}" = 404 ] || fail "GET /nope: $out"

# The exposition is well formed and has every family of the catalogue.
python3 - $((HTTP_BASE + 1)) <<'PY' || fail "exposition"
import re, sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5)
assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
body = r.read().decode()
sample = re.compile(r'^(qsg_[a-z_]+)(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? [-+0-9.eEInf]+$')
types = {}
for line in body.splitlines():
    if line.startswith("# TYPE "):
        _, _, name, t = line.split(" ")
        types[name] = t
    elif not line.startswith("# HELP "):
        assert sample.match(line), line
for name in ["qsg_queue_depth", "qsg_queue_uncommitted", "qsg_queue_oldest_message_age_seconds",
             "qsg_queue_puts_total", "qsg_queue_gets_total", "qsg_commits_total",
             "qsg_backouts_total", "qsg_channel_status", "qsg_channel_messages_total",
             "qsg_channel_batches_total", "qsg_channel_epoch", "qsg_raft_term",
             "qsg_raft_commit_index", "qsg_raft_applied_index", "qsg_raft_leader",
             "qsg_raft_leader_id", "qsg_member_up", "qsg_commit_latency_seconds",
             "qsg_snapshots_total", "qsg_snapshot_last_bytes",
             "qsg_snapshot_last_duration_seconds", "qsg_client_connections"]:
    assert name in types, "missing " + name
    if name.endswith("_total"):
        assert types[name] == "counter", name
assert types["qsg_commit_latency_seconds"] == "histogram"
# the loop-stall monitor (looplag.c): present, and it has counted iterations
for name, t in [("qsg_loop_iteration_seconds", "histogram"), ("qsg_loop_iteration_max_seconds", "gauge"),
                ("qsg_loop_iteration_window_max_seconds", "gauge"), ("qsg_loop_stalls_total", "counter"),
                ("qsg_loop_timer_lag_max_seconds", "gauge")]:
    assert types.get(name) == t, "%s: %s" % (name, types.get(name))
assert re.search(r'^qsg_loop_iteration_seconds_count [1-9][0-9]*$', body, re.M), "no loop iterations"
assert 'qsg_loop_iteration_seconds_bucket{le="0.02"} ' in body
for m in ("QM1", "QM2", "QM3"):
    assert 'qsg_member_up{member="%s"} 1' % m in body, m
leaders = 0
PY
leaders=0
for i in 1 2 3; do
	leaders=$((leaders + $(metric $((HTTP_BASE + i)) qsg_raft_leader)))
done
[ "$leaders" = 1 ] || fail "qsg_raft_leader sums to $leaders over the members, expected 1"

"$QSGADM" <<<"DEFINE QLOCAL($Q) QSGDISP(SHARED) MAXDEPTH(100000)" >/dev/null || fail "define"
for i in 1 2 3; do
	wait_metric $((HTTP_BASE + i)) "qsg_queue_depth{queue=\"$Q\"}" 0 5
	wait_metric $((HTTP_BASE + i)) "qsg_queue_puts_total{queue=\"$Q\"}" 0 5
done
lat0=$(metric $((HTTP_BASE + 1)) qsg_commit_latency_seconds_count)

seq 1 500 | sed 's/^/obs-/' >"$QSG_RUN_DIR/sent"
"$QSGPUT" -c "$("$CLUSTER" conn QM1)" "$Q" <"$QSG_RUN_DIR/sent" || fail "put"
for i in 1 2 3; do
	wait_metric $((HTTP_BASE + i)) "qsg_queue_puts_total{queue=\"$Q\"}" 500 10
	wait_metric $((HTTP_BASE + i)) "qsg_queue_depth{queue=\"$Q\"}" 500 10
	wait_metric $((HTTP_BASE + i)) "qsg_queue_uncommitted{queue=\"$Q\"}" 0 5
done
lat1=$(metric $((HTTP_BASE + 1)) qsg_commit_latency_seconds_count)
[ "$lat1" -ge $((lat0 + 500)) ] ||
	fail "QM1 commit latency count $lat0 -> $lat1 after 500 puts through QM1"
log "500 puts: puts_total and depth 500 on every member; QM1 latency count $lat0 -> $lat1"
sleep 1.2
age=$(metric $((HTTP_BASE + 2)) "qsg_queue_oldest_message_age_seconds{queue=\"$Q\"}")
python3 -c "import sys; sys.exit(0 if float('$age') >= 1.0 else 1)" ||
	fail "oldest message age $age s, expected >= 1"

"$QSGGET" -c "$("$CLUSTER" conn QM2)" "$Q" -n 500 -w 5 >"$QSG_RUN_DIR/got" || fail "get"
cmp "$QSG_RUN_DIR/sent" "$QSG_RUN_DIR/got" || fail "messages differ"
for i in 1 2 3; do
	wait_metric $((HTTP_BASE + i)) "qsg_queue_gets_total{queue=\"$Q\"}" 500 10
	wait_metric $((HTTP_BASE + i)) "qsg_queue_depth{queue=\"$Q\"}" 0 10
	wait_metric $((HTTP_BASE + i)) "qsg_queue_oldest_message_age_seconds{queue=\"$Q\"}" 0 5
done
log "500 gets: gets_total 500, depth 0 on every member"

# Bad requests: 400/405/431, and the member goes on serving.
python3 - $((HTTP_BASE + 3)) <<'PY' || fail "bad requests"
import socket, sys
port = int(sys.argv[1])
def ask(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    while True:
        try:
            b = s.recv(4096)
        except OSError:
            break
        if not b:
            break
        out += b
    s.close()
    return out.split(b" ", 2)[1] if out.startswith(b"HTTP/1.0 ") else out
assert ask(b"GARBAGE\r\n\r\n") == b"400", "garbage"
assert ask(b"POST /metrics HTTP/1.1\r\n\r\n") == b"405", "post"
assert ask(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 10000 + b"\r\n\r\n") == b"431", "big"
assert ask(b"\x00\xff\xfe\r\n\r\n") == b"400", "binary"
PY
wait_status $((HTTP_BASE + 3)) /healthz 200 2 >/dev/null
echo "DISPLAY QMGR" | "$QSGADM" -c "$("$CLUSTER" conn QM3)" >/dev/null || fail "QM3 after bad HTTP requests"
log "bad requests answered 400/405/431; QM3 still serves"

# /readyz 503 on a member whose peers are paused, 200 after they resume.
target=QM3
n=${target#QM}
for qm in $(other_than $target); do "$CLUSTER" pause "$qm" >/dev/null; done
out=$(wait_status $((HTTP_BASE + n)) /readyz 503 15)
log "$target with both peers paused: /readyz $out"
wait_status $((HTTP_BASE + n)) /healthz 200 2 >/dev/null
wait_metric $((HTTP_BASE + n)) qsg_member_fenced 1 5
for qm in $(other_than $target); do "$CLUSTER" resume "$qm" >/dev/null; done
out=$(wait_status $((HTTP_BASE + n)) /readyz 200 30)
log "$target after resume: /readyz $out"
wait_metric $((HTTP_BASE + n)) qsg_member_fenced 0 10
log "ok"
