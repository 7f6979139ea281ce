#!/usr/bin/env bash
# A scheduled DP2 x PP2 job one of whose ranks fails mid-run restarts by
# itself from its newest checkpoint and finishes with the same final loss,
# bit for bit, as the same job left alone. MODE kill: rank 3 is killed with
# -9; MODE stall: rank 3 hangs at step 150 of the first attempt (fault
# injection) and the watchdog ends that attempt.
set -uo pipefail
bin=$1; work=$2; mode=${3:-kill}
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
trap 'daemon_stop_all' EXIT
fail() { echo "FAIL: $*"; "$bin/meridianctl" get job-000001; tail -30 "$work/daemon.log"; exit 1; }
# Environment set before the call (the fault to inject) reaches the daemon
# and its ranks.
start_daemon() {
  daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 2 ||
    fail "the daemon did not come up"
  export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
}
if [[ $mode == stall ]]; then MERIDIAN_FAULT_STALL=3:150:1 start_daemon; else start_daemon; fi
cat >"$work/job.yaml" <<YAML
name: chaos
model: {preset: d4, n_layer: 2, n_embd: 64, n_head: 2, vocab_size: 256, max_seq_len: 32}
training: {batch: 2, seq: 32, microbatches: 2, steps: 600, lr: 2.0e-3, data: "$work/data/train_*.bin", threads: 1}
layout: {dp: 2, pp: 2, dp_sync: sync}
max_restarts: 2
YAML
# A hung collective is noticed after --comm-timeout (default 300 s).
[[ $mode == stall ]] && sed -i 's/threads: 1}/threads: 1, extra_args: ["--comm-timeout", "5"]}/' "$work/job.yaml"
"$bin/meridianctl" submit "$work/job.yaml" >/dev/null || fail "submit"
if [[ $mode == kill ]]; then
# Kill mid-run: after the first checkpoint (every steps/5 = 120 steps),
# watching rank 0's metrics file, which is cheaper to poll than the daemon.
step=$(wait_for_step "$work/state/jobs/job-000001/metrics.jsonl" 150 60)
victim=$(job_rank_pid "$work/state" job-000001 3) || fail "no rank 3 to kill"
killed_at=$(date +%s.%N)
kill -9 "$victim"
echo "killed rank 3 (pid $victim) after step $step"
fi
state=$(wait_for_job_to_end job-000001)
"$bin/meridianctl" get job-000001
[[ $state == SUCCEEDED ]] || fail "the job ended $state"
[[ $(job_field job-000001 'j.get("restarts", 0)') == 1 ]] || fail "expected one restart"
"$bin/meridianctl" --json watch job-000001 >"$work/events.jsonl"
grep '"RESTARTING"' "$work/events.jsonl" | grep -q "a rank failed" || fail "no RESTARTING event saying a rank failed"
# How long training stopped: from the kill to the first step trained after it.
[[ $mode == kill ]] && python3 - "$work/events.jsonl" "$killed_at" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
restart = next(i for i, e in enumerate(events) if e["state"] == "RESTARTING")
back = next(e for e in events[restart:] if "progress" in e)
print("training again %.1f s after the kill (RESTARTING after %.1f s), at step %s" % (
    back["unix_s"] - float(sys.argv[2]), events[restart]["unix_s"] - float(sys.argv[2]), back["progress"]["step"]))
PY
# The same job, left alone (by a daemon without the fault).
daemon_stop "$DAEMON_PID"
start_daemon
"$bin/meridianctl" submit --watch "$work/job.yaml" >/dev/null || fail "the uninterrupted run failed"
last_loss() { python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if "\"loss\"" in l and "\"step\"" in l]
print(repr([r for r in rows if r["step"] == 600][-1]["loss"]))' "$work/state/jobs/$1/metrics.jsonl"; }
a=$(last_loss job-000001); b=$(last_loss job-000002)
[[ $a == "$b" ]] || fail "final loss $a after the restart, $b left alone"
echo "ok: restarted after the $mode, final loss $a equals the uninterrupted run's"
