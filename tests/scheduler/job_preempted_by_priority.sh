#!/usr/bin/env bash
# Priorities and preemption on the real daemon: a low-priority job holds
# every GPU (dp 2 over the two data centers' one slot each); a job of
# higher priority is submitted mid-run and preempts it. The low job is
# stopped, goes back to the queue (no restart counted), the high one runs
# and SUCCEEDS, then the low one runs again, resumes from its newest
# checkpoint (not step 0) and SUCCEEDS.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
trap 'daemon_stop_all' EXIT
fail() {
  echo "FAIL: $*"
  for j in job-000001 job-000002; do "$bin/meridianctl" get $j; tail -15 "$work/state/jobs/$j/output.log"; done
  tail -20 "$work/daemon.log"; exit 1
}
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 1 ||
  fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
job() {  # job NAME DP STEPS PRIORITY
  cat <<YAML
name: $1
model: {preset: d4, n_layer: 2, n_embd: 64, n_head: 2, vocab_size: 256, max_seq_len: 32}
training: {batch: 2, seq: 32, steps: $3, lr: 2.0e-3, data: "$work/data/train_*.bin", threads: 1,
           extra_args: ["--checkpoint-every", "50"]}
layout: {dp: $2, pp: 1, dp_sync: sync}
priority: $4
YAML
}
job low 2 800 0 >"$work/low.yaml"
job high 1 40 5 >"$work/high.yaml"
"$bin/meridianctl" submit "$work/low.yaml" >/dev/null || fail "submit low"
wait_for_step "$work/state/jobs/job-000001/metrics.jsonl" 120 120 >/dev/null || fail "the low job did not reach step 120"
"$bin/meridianctl" submit "$work/high.yaml" >/dev/null || fail "submit high"
[[ $(wait_for_job_to_end job-000002) == SUCCEEDED ]] || fail "the high-priority job did not succeed"
[[ $(wait_for_job_to_end job-000001) == SUCCEEDED ]] || fail "the preempted job did not succeed"
for j in job-000001 job-000002; do "$bin/meridianctl" --json watch $j >"$work/$j-events.jsonl"; done
python3 "$(dirname "$0")/preemption_checks.py" "$work" job-000001 job-000002 || fail "preemption"
[[ $(job_field job-000001 'j.get("restarts", 0)') == 0 ]] || fail "a preemption was counted as a restart"
echo "ok: the high-priority job preempted the low one, which requeued, resumed and finished"
