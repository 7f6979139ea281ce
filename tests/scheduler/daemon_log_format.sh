#!/usr/bin/env bash
# --log-format json: every line the daemon and its agent write on stderr is
# one JSON object with time, level, component, program and msg, through
# start-up, an agent registering and leaving, a job submitted, a SIGHUP and
# shutdown. $MERIDIAN_LOG_LEVEL is the default a flag overrides, and text
# lines carry the time, the level and the component.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; for f in "$work"/*.err; do echo "== $f"; cat "$f"; done; exit 1; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT

# The flag wins over the environment's text and its level that would hide
# every info line. Its stdout apart from its log: it must stay empty.
MERIDIAN_LOG_FORMAT=text MERIDIAN_LOG_LEVEL=error "$bin/meridian-scheduler" --listen 127.0.0.1:0 --dry-run \
  --state "$work/state" --log-format json --log-level debug >"$work/daemon.out" 2>"$work/daemon.err" &
daemon=$!; pids+=("$daemon")
daemon_wait_listening "$daemon" "$work/daemon.err" || fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
"$bin/meridian-scheduler" agent --scheduler "$MERIDIAN_SCHEDULER" --name log-node --data-center dc-west --slots 1 --interval 0.2 \
  --log-format json >"$work/agent.out" 2>"$work/agent.err" &
agent=$!; pids+=("$agent")
for _ in $(seq 50); do "$bin/meridianctl" nodes 2>/dev/null | grep -q log-node && break; sleep 0.1; done
cat >"$work/job.yaml" <<YAML
name: logged
model: {preset: d4, vocab_size: 256}
training: {batch: 1, seq: 16, steps: 1, data: none}
layout: {dp: 1, pp: 1}
YAML
"$bin/meridianctl" submit "$work/job.yaml" >/dev/null || fail "submit"
kill -HUP "$daemon"
for _ in $(seq 50); do grep -q "SIGHUP" "$work/daemon.err" && break; sleep 0.1; done
kill "$agent"; wait "$agent"
for _ in $(seq 50); do grep -q "deregistered by its agent" "$work/daemon.err" && break; sleep 0.1; done
kill "$daemon"; wait "$daemon"

python3 - "$work" <<'PY' || fail "not one JSON object per line"
import json, re, sys
work = sys.argv[1]
time_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
def records(name):
    lines = open(f"{work}/{name}", encoding="utf-8").read().splitlines()
    assert lines, f"{name}: empty"
    out = []
    for n, line in enumerate(lines, 1):
        r = json.loads(line)
        assert isinstance(r, dict), f"{name}:{n}: not an object: {line}"
        for key in ("time", "level", "component", "program", "msg"):
            assert isinstance(r.get(key), str), f"{name}:{n}: no string '{key}': {line}"
        assert time_re.match(r["time"]), f"{name}:{n}: time {r['time']}"
        assert r["level"] in ("trace", "debug", "info", "warn", "error", "critical"), f"{name}:{n}: {line}"
        assert r["program"] == "meridian-scheduler", line
        out.append(r)
    return out
daemon, agent = records("daemon.err"), records("agent.err")
def has(recs, component, phrase):
    assert any(r["component"] == component and phrase in r["msg"] for r in recs), \
        f"no {component} record with '{phrase}' in {[(r['component'], r['msg']) for r in recs]}"
has(daemon, "daemon", "listening on")
has(daemon, "core", "node log-node registered in dc-west")
has(daemon, "auth", "SIGHUP")
has(daemon, "core", "deregistered by its agent")
has(daemon, "daemon", "shutting down")
has(agent, "agent", "registered in dc-west")
has(agent, "agent", "deregistered")
print(f"ok: {len(daemon)} daemon and {len(agent)} agent lines, each a JSON object")
PY
[[ -s $work/daemon.out ]] && fail "the daemon wrote on stdout: $(cat "$work/daemon.out")"

# The environment's level and format where no flag is given: warnings only
# (--insecure beyond loopback is one), as text. Its log hides the line
# that names its port, so the kernel tells it; it answers before it is
# stopped, past the point where an info line would have been written.
MERIDIAN_LOG_FORMAT=text MERIDIAN_LOG_LEVEL=warn "$bin/meridian-scheduler" --listen 0.0.0.0:0 --dry-run \
  --state "$work/state2" --insecure >/dev/null 2>"$work/quiet.err" &
quiet=$!; pids+=("$quiet")
for _ in $(seq 600); do
  quiet_port=$(daemon_bound_port "$quiet")
  [[ -n $quiet_port ]] && "$bin/meridianctl" --scheduler "127.0.0.1:$quiet_port" pools >/dev/null 2>&1 && break
  sleep 0.1
done
kill "$quiet"; wait "$quiet"
grep -q "listening" "$work/quiet.err" && fail "an info line at --log-level warn"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z WARN  daemon: WARNING: --insecure' \
  "$work/quiet.err" || fail "no text warning line"

# A bad value is a usage error, wherever it came from.
"$bin/meridian-scheduler" --log-format xml >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "--log-format xml"
MERIDIAN_LOG_LEVEL=loud "$bin/meridian-scheduler" --dry-run >/dev/null 2>"$work/bad.err"
[[ $? -eq 2 ]] && grep -q 'MERIDIAN_LOG_LEVEL' "$work/bad.err" || fail "MERIDIAN_LOG_LEVEL=loud: $(cat "$work/bad.err")"
echo "ok: json lines from the daemon and the agent, env defaults, flags win"
