#!/usr/bin/env bash
# The daemon is killed with -9 twice while a scheduled job trains. Each new
# daemon adopts the running attempt instead of starting another: the job
# finishes as attempt 1, every step appears once in its metrics, and its
# events say what happened.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
trap 'daemon_stop_all -KILL; kill_job_processes "$work/state"' EXIT
fail() { echo "FAIL: $*"; "$bin/meridianctl" get job-000001; tail -30 "$work/daemon.log"; exit 1; }
# The first daemon picks a port; each new one takes the same, which the
# job's ranks keep dialing.
listen=127.0.0.1:0
start_daemon() {
  daemon_start "$work/daemon.log" --listen "$listen" --state "$work/state" --slots-per-dc 2 ||
    fail "the daemon did not come up"
  listen=127.0.0.1:$DAEMON_PORT
  export MERIDIAN_SCHEDULER=$listen
}
metrics=$work/state/jobs/job-000001/metrics.jsonl
start_daemon
cat >"$work/job.yaml" <<YAML
name: outlives-its-daemon
model: {preset: d4, n_layer: 2, n_embd: 64, n_head: 2, vocab_size: 256, max_seq_len: 32}
training: {batch: 2, seq: 32, steps: 3000, data: "$work/data/train_*.bin", threads: 1}
layout: {dp: 2, pp: 1, dp_sync: sync}
YAML
"$bin/meridianctl" submit "$work/job.yaml" >/dev/null || fail "submit"
for at in 300 1500; do
  step=$(wait_for_step "$metrics" $at 120) || fail "no step $at (last: $step)"
  daemon_stop "$DAEMON_PID" -KILL
  echo "killed the daemon at step $at or later"
  sleep 1  # ranks train on without it
  start_daemon
  [[ $(job_field job-000001 'j["state"]') == RUNNING ]] || fail "not RUNNING after the daemon restarted"
done
state=$(wait_for_job_to_end job-000001)
"$bin/meridianctl" get job-000001
[[ $state == SUCCEEDED ]] || fail "the job ended $state"
[[ $(job_field job-000001 'j.get("launches", 0)') == 1 ]] || fail "launched more than once"
# Rank 0's reports reach each new daemon: the last one is the last step.
[[ $(job_field job-000001 'j["last_progress"]["step"]') == 3000 ]] || fail "the new daemon did not get the final progress"
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
