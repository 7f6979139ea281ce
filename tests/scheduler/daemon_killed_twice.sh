#!/usr/bin/env bash
# The daemon is killed with -9 twice while a scheduled job trains. Each new
# daemon adopts the running attempt instead of starting another: the job
# finishes as attempt 1, every step appears once in its metrics, and its
# events say what happened.
set -uo pipefail
bin=$1; work=$2
rm -rf "$work" && mkdir -p "$work"
port=$(( 40000 + RANDOM % 20000 ))
export MERIDIAN_SCHEDULER=127.0.0.1:$port
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
daemon=""
start_daemon() {
  "$bin/meridian-scheduler" --listen "$MERIDIAN_SCHEDULER" --state "$work/state" --slots-per-dc 2 >>"$work/daemon.log" 2>&1 &
  daemon=$!
  for _ in $(seq 100); do "$bin/meridianctl" pools >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "FAIL: the daemon did not come up"; cat "$work/daemon.log"; exit 1
}
trap 'kill -9 $daemon 2>/dev/null; pkill -9 -f "meridian-train --scheduler $MERIDIAN_SCHEDULER"; true' EXIT
fail() { echo "FAIL: $*"; "$bin/meridianctl" get job-000001; tail -30 "$work/daemon.log"; exit 1; }
field() { "$bin/meridianctl" --json get job-000001 | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
metrics=$work/state/jobs/job-000001/metrics.jsonl
wait_for_step() {
  local step=0
  for _ in $(seq 6000); do
    step=$(tail -n 1 "$metrics" 2>/dev/null | grep -o '"step":[0-9]*' | cut -d: -f2)
    [[ ${step:-0} -ge $1 ]] && return 0
    sleep 0.01
  done
  fail "no step $1 (last: ${step:-none})"
}
start_daemon
cat >"$work/job.yaml" <<YAML
name: outlives-its-daemon
model: {preset: d4, n_layer: 2, n_embd: 64, n_head: 2, vocab_size: 256, max_seq_len: 32}
training: {batch: 2, seq: 32, steps: 3000, data: "$work/data/train_*.bin", threads: 1}
layout: {dp: 2, pp: 1, dp_sync: sync}
YAML
"$bin/meridianctl" submit "$work/job.yaml" >/dev/null || fail "submit"
for at in 300 1500; do
  wait_for_step $at
  kill -9 "$daemon"
  wait "$daemon" 2>/dev/null
  echo "killed the daemon at step $at or later"
  sleep 1  # ranks train on without it
  start_daemon
  [[ $(field 'j["state"]') == RUNNING ]] || fail "not RUNNING after the daemon restarted"
done
for _ in $(seq 1200); do
  state=$(field 'j["state"]')
  [[ $state == SUCCEEDED || $state == FAILED || $state == CANCELLED ]] && break
  sleep 0.1
done
"$bin/meridianctl" get job-000001
[[ $state == SUCCEEDED ]] || fail "the job ended $state"
[[ $(field 'j.get("launches", 0)') == 1 ]] || fail "launched more than once"
# Rank 0's reports reach each new daemon: the last one is the last step.
[[ $(field 'j["last_progress"]["step"]') == 3000 ]] || fail "the new daemon did not get the final progress"
"$bin/meridianctl" --json watch job-000001 >"$work/events.jsonl"
[[ $(grep -c "adopted attempt 1" "$work/events.jsonl") == 2 ]] || fail "expected two adoptions in the events"
python3 - "$metrics" <<'PY' || fail "the metrics are not one line per step per attempt"
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l and '"step"' in l]
seen = collections.Counter((r.get("attempt"), r["step"]) for r in rows)
twice = [k for k, n in seen.items() if n > 1]
attempts = {r.get("attempt") for r in rows}
steps = sorted(s for _, s in seen)
assert not twice, "trained twice: %s" % twice[:5]
assert attempts == {1}, "attempts %s" % attempts
assert steps == list(range(steps[0], 3001)), "steps missing"
print("ok: steps %d..%d, each once, all in attempt 1" % (steps[0], steps[-1]))
PY
echo "ok: the job outlived two daemons killed with -9"
